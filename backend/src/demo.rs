//! `overcast demo`: the console plus an in-process simulator whose sites are registered,
//! so a newcomer sees a working fleet with one command.

use std::collections::BTreeMap;

use clap::Args;
use overcast_api_types::{NewSite, SiteCredentials};

use crate::app::{shutdown_signal, Application};
use crate::config::{ServeArgs, Settings};
use crate::sim::{SimArgs, Simulator};
use crate::sites::SiteError;
use crate::telemetry;

const DEMO_ADMIN_PASSWORD: &str = "overcast-demo";
const REGIONS: [&str; 3] = ["eu", "us", "asia"];

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Number of simulated sites.
    #[arg(long, default_value_t = 12)]
    pub sites: usize,
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut serve = args.serve.clone();
    serve.admin_password = serve
        .admin_password
        .or_else(|| Some(DEMO_ADMIN_PASSWORD.into()));
    let settings = Settings::load(&serve)?;
    telemetry::init(settings.log_format, &settings.log_filter);

    let sim_args = SimArgs::in_process(args.sites);
    let simulator = Simulator::start(&sim_args).await?;
    let application = Application::build(settings.clone()).await?;
    register_sites(&application, &simulator, &sim_args.password).await?;

    let addr = application.local_addr()?;
    println!();
    println!("  Overcast demo is running: http://{addr}/");
    println!(
        "  Log in as admin / {}",
        settings
            .admin_password
            .as_deref()
            .unwrap_or(DEMO_ADMIN_PASSWORD)
    );
    println!(
        "  {} simulated sites on http://{} (fault control: POST /_sim/sites/{{site}}/fault)",
        args.sites, simulator.addr
    );
    println!("  Stop with Ctrl-C.");
    println!();
    application.run_until(shutdown_signal()).await?;
    drop(simulator);
    Ok(())
}

/// Registers every simulated site, replacing registrations left by an earlier demo run
/// (the simulator's port changes between runs).
async fn register_sites(
    application: &Application,
    simulator: &Simulator,
    password: &str,
) -> anyhow::Result<()> {
    let registry = &application.state().sites;
    for (n, cloud) in simulator.cloud_entries(password).into_iter().enumerate() {
        let labels = BTreeMap::from([
            ("region".to_owned(), REGIONS[n % REGIONS.len()].to_owned()),
            (
                "tier".to_owned(),
                if n % 4 == 3 {
                    "test".to_owned()
                } else {
                    "edge".to_owned()
                },
            ),
            (
                "operator".to_owned(),
                if n % 2 == 0 {
                    "acme".to_owned()
                } else {
                    "globex".to_owned()
                },
            ),
        ]);
        let new = NewSite {
            name: cloud.name.clone(),
            auth_url: cloud.auth_url,
            region: Some(cloud.region),
            interface: Some("public".into()),
            labels,
            credentials: SiteCredentials::Password {
                username: cloud.username,
                password: cloud.password,
                project_name: cloud.project_name,
                user_domain_name: "Default".into(),
                project_domain_name: "Default".into(),
            },
            insecure: false,
            ca_bundle: None,
        };
        match registry.register(new.clone()).await {
            Err(SiteError::AlreadyExists(_)) => {
                registry.remove(&cloud.name).await?;
                registry.register(new).await?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}
