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
            if let Some(password) = &application.generated_admin_password {
                // On standard output alone, never in the log, and only on the start that
                // made it: the database keeps its hash, nothing keeps the password.
                println!("Log in as admin with the password {password} (shown once; change it after logging in)");
            }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every subcommand and every option of every subcommand, with its path
    /// (`overcast ctl sites add --auth-url`), that `--help` shows without a text.
    fn missing_help(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if command
            .get_about()
            .is_none_or(|about| about.to_string().trim().is_empty())
        {
            missing.push(path.to_owned());
        }
        for arg in command.get_arguments() {
            // clap's own `--help` and `--version` carry clap's text.
            if matches!(arg.get_id().as_str(), "help" | "version") || arg.is_hide_set() {
                continue;
            }
            if arg
                .get_help()
                .is_none_or(|help| help.to_string().trim().is_empty())
            {
                missing.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            missing_help(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_subcommand_and_option_has_help_text() {
        let command = Cli::command();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        missing_help(&command, "overcast", &mut missing);
        assert_eq!(missing, Vec::<String>::new(), "without help text");
        // The walk reached the deepest commands, so an empty list means something.
        let ctl = command.find_subcommand("ctl");
        let sites = ctl.and_then(|c| c.find_subcommand("sites"));
        let add = sites.and_then(|c| c.find_subcommand("add"));
        assert!(add.is_some_and(|add| add.get_arguments().count() > 10));
    }
}
