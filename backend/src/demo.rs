//! `overcast demo`: the console plus an in-process simulator whose sites are registered,
//! so a newcomer sees a working fleet with one command.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Args;
use std::time::Duration;

use overcast_api_types::l1::{NetworkAttachment, NetworkMode, NewImage, NewServer, ServerNetworks};
use overcast_api_types::{NewSite, SiteCredentials};

use crate::api::AppState;
use crate::app::{shutdown_signal, Application};
use crate::config::{ServeArgs, Settings};
use crate::federation::Kind;
use crate::resources::SiteOps;
use crate::sim::{SimArgs, Simulator};
use crate::sites::SiteError;
use crate::telemetry;

const DEMO_ADMIN_PASSWORD: &str = "overcast-demo";
const REGIONS: [&str; 3] = ["eu", "us", "asia"];
/// The size of each demo site's image.
const DEMO_IMAGE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Number of simulated sites.
    #[arg(long, default_value_t = 12)]
    pub sites: usize,
    /// Address of the simulator (its sites and its `/_sim` fault control); port 0 takes a
    /// free port. The banner prints the address either way.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub sim_listen: std::net::SocketAddr,
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

    let mut sim_args = SimArgs::in_process(args.sites);
    sim_args.listen = args.sim_listen;
    let simulator = Simulator::start(&sim_args)
        .await
        .with_context(|| format!("cannot start the simulator on {}", args.sim_listen))?;
    let application = Application::build(settings.clone()).await?;
    register_sites(&application, &simulator, &sim_args.password).await?;
    let addr = application.local_addr()?;
    let password = if application.created_admin {
        format!(
            "Log in as admin / {}",
            settings
                .admin_password
                .as_deref()
                .unwrap_or(DEMO_ADMIN_PASSWORD)
        )
    } else {
        format!(
            "Log in as admin with the password set when {} was first used \
             (OVERCAST_ADMIN_PASSWORD applies on a first start only)",
            settings.data_dir.display()
        )
    };
    let banner = banner(addr, &password, args.sites, simulator.addr);
    let state = application.state().clone();
    let sites = args.sites;
    tokio::spawn(async move {
        // The banner comes after the start-up lines (sites seen for the first time), so
        // that it is the last thing on the screen; seeding that hangs does not hold it.
        let _ = tokio::time::timeout(Duration::from_secs(15), seed_sites(state, sites)).await;
        println!("{banner}");
    });
    application.run_until(shutdown_signal()).await?;
    drop(simulator);
    Ok(())
}

/// What the demo prints once it is ready. The e2e tests read the console's URL after
/// "running: " and the simulator's after "simulated sites on ": keep both phrases.
fn banner(console: SocketAddr, password: &str, sites: usize, simulator: SocketAddr) -> String {
    let sim = format!("http://{simulator}");
    let example = crate::sim::site_name(sites.clamp(1, 3));
    format!(
        "\n  Overcast demo is running: http://{console}/\n  {password}\n\n  \
         {sites} simulated sites on {sim} (fault control: POST /_sim/sites/{{site}}/fault)\n  \
         Take a site down and bring it back:\n    \
         curl -X POST {sim}/_sim/sites/{example}/fault -d '{{\"mode\": \"down\"}}'\n    \
         curl -X POST {sim}/_sim/sites/{example}/fault -d '{{\"mode\": \"up\"}}'\n  \
         Every site's fault: curl {sim}/_sim/sites   (a fixed port: --sim-listen 127.0.0.1:9000)\n\n  \
         Stop with Ctrl-C.\n"
    )
}

/// Gives every demo site an image and a few servers, through the sites' own APIs as an
/// operator would, so the console has something to show. Runs in the background: the
/// console is usable at once, and a site that fails to seed is only logged.
async fn seed_sites(state: AppState, sites: usize) {
    use futures::StreamExt;
    let seeded = futures::stream::iter(1..=sites)
        .map(|n| {
            let state = state.clone();
            async move {
                let site = crate::sim::site_name(n);
                // A busy machine can make a first attempt miss its deadline; seeding
                // again finishes what is missing, it never doubles anything.
                for attempt in 1..=SEED_ATTEMPTS {
                    match seed_site(&state, &site, n).await {
                        Ok(()) => return true,
                        Err(error) if attempt < SEED_ATTEMPTS => {
                            tracing::info!(%site, %error, attempt, "demo site not seeded yet; trying again");
                        }
                        Err(error) => tracing::warn!(%site, %error, "demo site not seeded"),
                    }
                }
                false
            }
        })
        .buffer_unordered(16)
        .filter(|seeded| std::future::ready(*seeded))
        .count()
        .await;
    tracing::info!(sites = seeded, "demo sites seeded");
}

const SEED_ATTEMPTS: u32 = 3;
const SEED_IMAGE: &str = "cirros-0.6.2";

/// Makes a site hold the demo's image, with data, and its servers; what is already there
/// is kept.
async fn seed_site(state: &AppState, site: &str, n: usize) -> anyhow::Result<()> {
    let session = state.sessions.session(site).await?;
    let ops = SiteOps::new(
        site.to_owned(),
        session,
        tokio::time::Instant::now() + Duration::from_secs(60),
    );
    let existing = ops
        .images()
        .await?
        .into_iter()
        .find(|i| i.name.as_deref() == Some(SEED_IMAGE));
    let image = match existing {
        Some(image) => image,
        None => {
            ops.create_image(&NewImage {
                name: SEED_IMAGE.into(),
                disk_format: "qcow2".into(),
                container_format: "bare".into(),
                visibility: Some("public".into()),
            })
            .await?
        }
    };
    if image.status == "queued" {
        // With data, as a real Glance image has: `active`, with a size and a checksum.
        let data: Vec<u8> = (0..DEMO_IMAGE_BYTES).map(|i| (i % 251) as u8).collect();
        ops.upload_image(&image.id, reqwest::Body::from(data))
            .await?;
    }
    state.fan_out.refresh_soon(site, Kind::Images);
    // Where the site cannot allocate a network by itself, boot on its own first network.
    let networks = if ops.can_allocate_networks().await? {
        None
    } else {
        let own = ops.networks().await?.into_iter().find(|n| !n.external);
        Some(match own {
            Some(network) => ServerNetworks::Attach(vec![NetworkAttachment {
                network: Some(network.id),
                port: None,
                fixed_ip: None,
            }]),
            None => ServerNetworks::Mode(NetworkMode::None),
        })
    };
    let booted: Vec<String> = ops.servers().await?.into_iter().map(|s| s.name).collect();
    let servers = ["web-1", "web-2", "db-1"];
    for name in &servers[..1 + n % servers.len()] {
        if booted.iter().any(|b| b == name) {
            continue;
        }
        ops.create_server(&NewServer {
            name: (*name).into(),
            flavor: "m1.small".into(),
            image: SEED_IMAGE.into(),
            networks: networks.clone(),
            key_name: None,
            metadata: Default::default(),
        })
        .await?;
    }
    state.fan_out.refresh_soon(site, Kind::Servers);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_gives_both_addresses_and_a_fault_call_to_copy() {
        let console = SocketAddr::from(([127, 0, 0, 1], 8080));
        let sim = SocketAddr::from(([127, 0, 0, 1], 9000));
        let text = banner(console, "Log in as admin / overcast-demo", 12, sim);
        for expected in [
            "Overcast demo is running: http://127.0.0.1:8080/",
            "Log in as admin / overcast-demo",
            "12 simulated sites on http://127.0.0.1:9000 (fault control",
            r#"curl -X POST http://127.0.0.1:9000/_sim/sites/site-003/fault -d '{"mode": "down"}'"#,
            r#"-d '{"mode": "up"}'"#,
            "curl http://127.0.0.1:9000/_sim/sites",
            "--sim-listen",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        let one = banner(console, "", 1, sim);
        assert!(one.contains("/_sim/sites/site-001/fault"), "{one}");
    }
}
