//! The `overcast` command line: `serve`, `sim`, `demo`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ServeArgs, Settings};
use crate::sim::SimArgs;
use crate::{app, ctl, demo, sim, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "overcast",
    version,
    about = "One console for many OpenStack edge sites"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console: REST API and dashboard.
    Serve(ServeArgs),
    /// Run simulated OpenStack sites on one port.
    Sim(SimArgs),
    /// Run the console with an in-process simulator whose sites are all registered.
    Demo(demo::DemoArgs),
    /// Drive a console's REST API from a shell (reads OVERCAST_URL and OVERCAST_TOKEN).
    Ctl(ctl::CtlArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::load(&args)?;
            telemetry::init(settings.log_format, &settings.log_filter);
            let application = app::Application::build(settings).await?;
            application.run_until(app::shutdown_signal()).await?;
        }
        Command::Sim(args) => {
            telemetry::init(args.log_format, "info");
            sim::run_standalone(args).await?;
        }
        Command::Demo(args) => demo::run(args).await?,
        Command::Ctl(args) => return Ok(ctl::run(args).await),
    }
    Ok(ExitCode::SUCCESS)
}
