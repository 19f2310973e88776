//! Building and running the console: the library owns start-up so that tests bind port 0
//! and drive the very same application.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::audit::{Audit, Record};
use crate::auth::{self, Access, Bootstrap, TokenService};
use crate::config::Settings;
use crate::federation::{FanOut, HealthConfig, HealthMonitor, Inventory, SessionPool};
use crate::jobs::{EngineConfig, JobEngine};
use crate::openstack;
use crate::secrets::{Key, Sealer};
use crate::sites::SiteRegistry;
use crate::store::Store;

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// Set when this start created the admin with a generated password.
    pub generated_admin_password: Option<String>,
    /// Whether this start created the user `admin` (the configured password applies
    /// then only; later starts keep the password in force).
    pub created_admin: bool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        create_private_dir(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
        let store = Store::connect(&settings.database_url)
            .await
            .context("cannot open the database")?;

        let secret_key = match &settings.secret_key {
            Some(text) => Key::from_configured(text),
            None => Key::load_or_create(&settings.data_dir, "secret.key")?,
        };
        let jwt_key = match &settings.jwt_secret {
            Some(text) => Key::from_configured(text),
            None => Key::load_or_create(&settings.data_dir, "jwt.key")?,
        };

        check_secret_key(
            &store,
            &Sealer::new(&secret_key),
            settings.secret_key.is_some(),
        )
        .await?;

        let bootstrap = auth::bootstrap_admin(&store, settings.admin_password.as_deref()).await?;
        let created_admin = bootstrap != Bootstrap::AlreadyDone;
        let generated_admin_password = match bootstrap {
            Bootstrap::CreatedWithGeneratedPassword(password) => {
                tracing::warn!("created user admin with a generated password; it is shown once on standard output");
                Some(password)
            }
            Bootstrap::CreatedWithConfiguredPassword => {
                tracing::info!("created user admin with the configured password");
                None
            }
            Bootstrap::AlreadyDone => None,
        };

        let http = openstack::http_client().context("cannot set up the HTTP client")?;
        let sites = SiteRegistry::new(store.clone(), Sealer::new(&secret_key));
        let sessions = SessionPool::new(http, sites.clone());
        let instruments = Arc::new(crate::instruments::Instruments::default());
        let health = HealthMonitor::new(
            sites.clone(),
            sessions.clone(),
            HealthConfig::default(),
            instruments.clone(),
        );
        let inventory = Inventory::load(store.clone())
            .await
            .context("cannot load the inventory cache")?;
        let fan_out = FanOut::new(
            sites.clone(),
            sessions.clone(),
            health.clone(),
            inventory,
            instruments.clone(),
        );
        let audit = Audit::new(store.clone());
        let access = Access::new(
            store.clone(),
            TokenService::new(&jwt_key, settings.token_ttl),
        )
        .await
        .context("cannot load revoked sessions")?;
        let jobs = JobEngine::new(
            store.clone(),
            audit.clone(),
            sites.clone(),
            sessions.clone(),
            health.clone(),
            fan_out.clone(),
            Sealer::new(&secret_key),
            EngineConfig {
                spool_dir: settings.data_dir.join("spool"),
                ..EngineConfig::default()
            },
            instruments.clone(),
        );
        let resumed = jobs
            .resume()
            .await
            .context("cannot resume unfinished jobs")?;
        if resumed > 0 {
            tracing::info!(jobs = resumed, "resumed unfinished jobs");
        }
        let replication = crate::jobs::Replication::new(
            store.clone(),
            fan_out.clone(),
            health.clone(),
            jobs.clone(),
        );
        let metrics = crate::metrics::Metrics::new(
            store.clone(),
            sites.clone(),
            sessions.clone(),
            health.clone(),
            fan_out.clone(),
            instruments.clone(),
            settings.metrics.clone(),
        );
        let placer = crate::placement::Placer::new(
            sites.clone(),
            fan_out.clone(),
            health.clone(),
            metrics.clone(),
        );
        jobs.set_rescheduler(placer.clone());
        let deployments = crate::placement::Deployments::new(
            store.clone(),
            sites.clone(),
            fan_out.clone(),
            sessions.clone(),
            placer.clone(),
            jobs.clone(),
        );
        let state = AppState {
            placer,
            deployments,
            metrics,
            instruments,
            replication,
            fan_out,
            jobs,
            access: Arc::new(access),
            audit,
            store,
            sites,
            sessions,
            health,
            trusted_proxies: settings.trusted_proxies.clone().into(),
            stopping: tokio_util::sync::CancellationToken::new(),
        };
        if !settings.web_dir.join("index.html").exists() {
            tracing::warn!(web_dir = %settings.web_dir.display(), "dashboard not built; the API works, the web UI will not (run `make build`)");
        }
        let router = api::router(state.clone(), &settings.web_dir, settings.request_timeout);
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        Ok(Application {
            listener,
            router,
            state,
            generated_admin_password,
            created_admin,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish and ends
    /// the event streams.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!(%addr, "console listening");
        let prober = tokio::spawn(self.state.health.clone().run());
        let health_writer = tokio::spawn(self.state.sites.clone().write_health_forever());
        let refresher = tokio::spawn(self.state.fan_out.clone().run_refresher());
        let scheduler = tokio::spawn(self.state.jobs.clone().run());
        let replication = tokio::spawn(self.state.replication.clone().run());
        let collector = tokio::spawn(self.state.metrics.clone().run());
        let holds = tokio::spawn(
            self.state
                .placer
                .clone()
                .follow_jobs(self.state.jobs.subscribe()),
        );
        let deployments = tokio::spawn(self.state.deployments.clone().run());
        let site_audit = tokio::spawn(audit_site_changes(
            self.state.health.clone(),
            self.state.audit.clone(),
        ));
        // `tap_io` gives the wrapped listener axum's connect info (the peer's address).
        let listener = axum::serve::ListenerExt::tap_io(
            api::connection::ConsoleListener(self.listener),
            |_| {},
        );
        let served = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let stopping = self.state.stopping.clone();
            async move {
                shutdown.await;
                stopping.cancel();
            }
        })
        .await;
        prober.abort();
        refresher.abort();
        scheduler.abort();
        replication.abort();
        collector.abort();
        holds.abort();
        deployments.abort();
        site_audit.abort();
        health_writer.abort();
        // What the last second's health checks found is not lost with the process.
        if let Err(error) = self.state.sites.flush_health().await {
            tracing::warn!(%error, "cannot record site health at shutdown");
        }
        served.context("server error")?;
        tracing::info!("console stopped");
        Ok(())
    }
}

/// The data dir holds the database and, unless configured otherwise, the keys.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

const SECRET_KEY_CHECK: &str = "secret_key_check";

/// Refuses to start with a credentials key other than the one the database was sealed
/// with: every site call would fail later, far from the cause.
async fn check_secret_key(store: &Store, sealer: &Sealer, configured: bool) -> anyhow::Result<()> {
    let source = if configured {
        "OVERCAST_SECRET_KEY"
    } else {
        "the key file secret.key in the data dir"
    };
    let wrong_key = || {
        anyhow::anyhow!(
            "the credentials key ({source}) is not the one this database was sealed with; \
             start with the original key (site credentials cannot be opened without it)"
        )
    };
    match store.meta(SECRET_KEY_CHECK).await? {
        Some(check) if sealer.opens_key_check(&check) => Ok(()),
        Some(_) => Err(wrong_key()),
        None => {
            // A database from before the check: its sites' credentials tell.
            if let Some(sealed) = store.any_site_credentials().await? {
                if sealer.open(&sealed).is_err() {
                    return Err(wrong_key());
                }
            }
            let in_force = store
                .meta_set_once(SECRET_KEY_CHECK, &sealer.key_check())
                .await?;
            if sealer.opens_key_check(&in_force) {
                Ok(())
            } else {
                Err(wrong_key())
            }
        }
    }
}

/// Every change of a site's state goes to the audit log, once per change.
async fn audit_site_changes(health: Arc<HealthMonitor>, audit: Audit) {
    let mut events = health.subscribe();
    loop {
        match events.recv().await {
            // First contact with a new site is discovery, not a change worth a record
            // (an import of 10,000 sites would write 10,000 of them).
            Ok(event) if event.from == overcast_api_types::SiteState::Unknown => {}
            Ok(event) => {
                let outcome = serde_json::to_value(event.to)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                audit
                    .record(Record {
                        actor: "system".into(),
                        action: "site.state".into(),
                        target: Some(event.site.clone()),
                        sites: vec![event.site],
                        outcome,
                        status: None,
                        detail: event.reason,
                    })
                    .await;
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "site state changes came faster than the audit log");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
