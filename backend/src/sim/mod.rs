//! `overcast sim`: many independent simulated OpenStack clouds behind one port.
//!
//! Each site lives under its own path prefix (`/site-001/identity/v3`,
//! `/site-001/compute/v2.1`, …) the way DevStack puts services under one host, so that
//! thousands of sites share one listener. The console reaches them only over HTTP.

mod cinder;
mod clouds_yaml;
mod faults;
mod glance;
mod identity;
mod keystone;
mod neutron;
mod nova;
mod placement;
mod site;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use rand::Rng;
use serde_json::json;
use tokio::net::TcpListener;
use tower::ServiceExt;

pub use clouds_yaml::{clouds_yaml, CloudEntry};
pub use faults::Fault;
pub use site::{profile_named, Profile, SimSite, PROFILES};

use crate::config::LogFormat;

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Number of independent sites (1–10000).
    #[arg(long, default_value_t = 12)]
    pub sites: usize,
    /// Address of the one listener shared by every site and the `/_sim` control API.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Write a clouds.yaml with one cloud per site to this path.
    #[arg(long)]
    pub clouds_yaml: Option<PathBuf>,
    /// Latency added to every request of every site, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency: u64,
    /// Random extra latency of up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub jitter: u64,
    /// OpenStack release profile of every site, or `mixed` to cycle through all of them.
    #[arg(long, default_value = "mixed")]
    pub profile: String,
    /// Seed of the random choices (jitter, error injection), for reproducible runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Password of each site's `admin` user.
    #[arg(long, default_value = "secret")]
    pub password: String,
    /// Time a new server spends in BUILD, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub build_delay_ms: u64,
    /// Compute hosts per site.
    #[arg(long, default_value_t = 4)]
    pub hosts: usize,
    /// A fault at start, `SITE=MODE` (repeatable): `site-003=down`, `site-004=latency:500:100`,
    /// `site-005=errors:0.5:503`, `site-006=blackhole`, `site-007=flapping:10000`.
    #[arg(long = "fault", value_name = "SITE=MODE")]
    pub faults: Vec<String>,
    /// Directory for image data (a temporary directory, removed at exit, when unset).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

impl SimArgs {
    /// Settings for an in-process simulator (demo and tests).
    pub fn in_process(sites: usize) -> Self {
        SimArgs {
            sites,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clouds_yaml: None,
            latency: 0,
            jitter: 0,
            profile: "mixed".into(),
            seed: 1,
            password: "secret".into(),
            build_delay_ms: 2000,
            hosts: 4,
            faults: Vec::new(),
            data_dir: None,
            log_format: LogFormat::Human,
        }
    }
}

/// What every handler of the simulator shares.
pub struct SimContext {
    base_url: String,
    sites: HashMap<String, Arc<SimSite>>,
    /// Site names in order, for listings.
    order: Vec<String>,
    latency: Duration,
    jitter: Duration,
    started: Instant,
    rng: std::sync::Mutex<rand::rngs::StdRng>,
    data_dir: PathBuf,
    /// Whether `data_dir` is ours to remove when the simulator stops.
    temporary_data_dir: bool,
}

impl SimContext {
    /// The public URL of one service of one site, e.g. `http://127.0.0.1:9000/site-001/compute/v2.1`.
    pub fn service_url(&self, site: &str, path: &str) -> String {
        format!("{}/{site}/{path}", self.base_url)
    }

    /// Where a site's image data lives.
    pub fn image_dir(&self, site: &str) -> PathBuf {
        self.data_dir.join(site).join("images")
    }

    fn random_below(&self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .gen_range(0..=bound)
    }

    fn random_unit(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .gen()
    }
}

pub fn site_name(n: usize) -> String {
    format!("site-{n:03}")
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    // OpenStack APIs print seconds precision with a Z suffix.
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A running simulator.
pub struct Simulator {
    pub addr: SocketAddr,
    context: Arc<SimContext>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    pub async fn start(args: &SimArgs) -> anyhow::Result<Simulator> {
        if args.sites == 0 || args.sites > 10_000 {
            anyhow::bail!("--sites must be between 1 and 10000");
        }
        let fixed_profile = match args.profile.as_str() {
            "mixed" => None,
            name => Some(profile_named(name).with_context(|| {
                let names: Vec<&str> = PROFILES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown profile {name:?}; known: mixed, {}",
                    names.join(", ")
                )
            })?),
        };
        let mut initial_faults = HashMap::new();
        for text in &args.faults {
            let (site, mode) = text
                .split_once('=')
                .with_context(|| format!("--fault {text:?}: expected SITE=MODE"))?;
            let fault =
                Fault::parse_flag(mode).map_err(|e| anyhow::anyhow!("--fault {text:?}: {e}"))?;
            initial_faults.insert(site.to_owned(), fault);
        }

        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let build_delay = Duration::from_millis(args.build_delay_ms);
        let mut sites = HashMap::with_capacity(args.sites);
        let mut order = Vec::with_capacity(args.sites);
        for n in 1..=args.sites {
            let name = site_name(n);
            let profile = fixed_profile.unwrap_or(PROFILES[(n - 1) % PROFILES.len()].1);
            let site = SimSite::new(
                name.clone(),
                n,
                profile,
                &args.password,
                build_delay,
                args.hosts,
            );
            if let Some(fault) = initial_faults.remove(&name) {
                site.set_fault(fault);
            }
            order.push(name.clone());
            sites.insert(name, Arc::new(site));
        }
        if let Some(unknown) = initial_faults.keys().next() {
            anyhow::bail!("--fault names unknown site {unknown:?}");
        }
        let (data_dir, temporary_data_dir) = match &args.data_dir {
            Some(dir) => (dir.clone(), false),
            None => (
                std::env::temp_dir()
                    .join(format!("overcast-sim-{}", uuid::Uuid::new_v4().simple())),
                true,
            ),
        };
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let context = Arc::new(SimContext {
            base_url: format!("http://{addr}"),
            sites,
            order,
            latency: Duration::from_millis(args.latency),
            jitter: Duration::from_millis(args.jitter),
            started: Instant::now(),
            rng: std::sync::Mutex::new(rand::SeedableRng::seed_from_u64(args.seed)),
            data_dir,
            temporary_data_dir,
        });
        if let Some(path) = &args.clouds_yaml {
            let text = clouds_yaml(&context.cloud_entries(&args.password));
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let task = tokio::spawn(serve(listener, context.clone()));
        Ok(Simulator {
            addr,
            context,
            task,
        })
    }

    pub fn cloud_entries(&self, password: &str) -> Vec<CloudEntry> {
        self.context.cloud_entries(password)
    }

    pub fn site(&self, name: &str) -> Option<Arc<SimSite>> {
        self.context.sites.get(name).cloned()
    }

    /// Forgets every token of a site, so clients must sign in again.
    pub fn revoke_tokens(&self, name: &str) -> bool {
        self.site(name).map(|s| s.data().tokens.clear()).is_some()
    }

    /// Disables every compute service of a site, as its operator does before maintenance
    /// (`openstack compute service set --disable`): Nova then finds no valid host for a
    /// new server, while Placement still lists the hosts' inventories.
    pub fn disable_compute(&self, name: &str, reason: &str) -> bool {
        self.site(name)
            .map(|site| {
                for host in &mut site.data().hypervisors {
                    host.disabled = Some(reason.to_owned());
                }
            })
            .is_some()
    }

    pub fn set_fault(&self, name: &str, fault: Fault) -> bool {
        self.site(name).map(|s| s.set_fault(fault)).is_some()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
        if self.context.temporary_data_dir {
            let _ = std::fs::remove_dir_all(&self.context.data_dir);
        }
    }
}

impl SimContext {
    fn cloud_entries(&self, password: &str) -> Vec<CloudEntry> {
        self.order
            .iter()
            .map(|name| CloudEntry {
                name: name.clone(),
                auth_url: self.service_url(name, "identity/v3"),
                region: self
                    .sites
                    .get(name)
                    .map(|s| s.region.clone())
                    .unwrap_or_default(),
                username: site::ADMIN_USER.into(),
                password: password.to_owned(),
                project_name: site::ADMIN_PROJECT.into(),
            })
            .collect()
    }
}

/// Refusing a site's connection needs control below the router: when the service
/// returns an error, hyper drops the connection without answering, which is what a
/// client sees from a host that is down.
async fn serve(listener: TcpListener, context: Arc<SimContext>) {
    let router = routes(context.clone());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        let context = context.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    let context = context.clone();
                    async move {
                        let path_owned = request.uri().path().to_owned();
                        let path = path_owned.as_str();
                        let service = path
                            .trim_start_matches('/')
                            .split('/')
                            .nth(1)
                            .unwrap_or_default();
                        let down = site_of(path)
                            .and_then(|name| context.sites.get(name))
                            .is_some_and(|site| {
                                site.fault().is_down(context.started.elapsed())
                                    || site.service_down(service)
                            });
                        if down {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionRefused,
                                "site is down",
                            ));
                        }
                        let response = router.oneshot(request.map(axum::body::Body::new)).await;
                        // An answer made while the site went down never reaches its client.
                        let gone = site_of(path_owned.as_str())
                            .and_then(|name| context.sites.get(name))
                            .is_some_and(|site| site.fault().is_down(context.started.elapsed()));
                        if gone {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "site went down",
                            ));
                        }
                        response.map_err(|never| match never {})
                    }
                },
            );
            let io = hyper_util::rt::TokioIo::new(stream);
            let _closed =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(io, service)
                    .await;
        });
    }
}

fn site_of(path: &str) -> Option<&str> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty() && *s != "_sim")
}

fn routes(context: Arc<SimContext>) -> Router {
    let per_site = Router::new()
        .nest("/{site}/identity", keystone::router())
        .nest("/{site}/compute", nova::router())
        .nest("/{site}/image", glance::router())
        .nest("/{site}/network", neutron::router())
        .nest("/{site}/volume", cinder::router())
        .nest("/{site}/placement", placement::router())
        .layer(middleware::from_fn_with_state(context.clone(), site_faults));
    Router::new()
        .route("/_sim/sites", get(list_sites))
        .route("/_sim/sites/{site}/fault", post(set_fault).get(get_fault))
        .route("/_sim/sites/{site}/revoke-tokens", post(revoke_tokens))
        .route(
            "/_sim/sites/{site}/services/{service}",
            post(set_service_fault),
        )
        .merge(per_site)
        .fallback(|| async {
            keystone::error(StatusCode::NOT_FOUND, "The resource could not be found.")
        })
        .with_state(context)
}

/// Finds the site a request is for and applies its latency, blackhole and error faults.
async fn site_faults(
    State(context): State<Arc<SimContext>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(site) = site_of(request.uri().path())
        .and_then(|name| context.sites.get(name))
        .cloned()
    else {
        return keystone::error(StatusCode::NOT_FOUND, "The resource could not be found.");
    };
    let mut delay = context.latency
        + Duration::from_millis(context.random_below(context.jitter.as_millis() as u64));
    match site.fault() {
        Fault::Blackhole => std::future::pending::<()>().await,
        Fault::Latency { ms, jitter_ms } => {
            delay += Duration::from_millis(ms + context.random_below(jitter_ms))
        }
        Fault::Errors { rate, status } if context.random_unit() < rate => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return keystone::error(status, "Injected fault.");
        }
        _ => {}
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    request.extensions_mut().insert(site.clone());
    // The link's state applies to bodies in flight too: a site that goes dark or slow
    // mid-transfer breaks or slows the transfer, as a real network would.
    let started = context.started;
    let inbound = site.clone();
    let request = request.map(|body| over_link(body, inbound, started));
    let response = next.run(request).await;
    response.map(|body| over_link(body, site, started))
}

/// Bodies up to this size pass whole, as one write, unless the link is slow: wrapping
/// them would only lose their `Content-Length`.
const WHOLE_BODY: u64 = 64 * 1024;

/// How long a blackholed body waits between looks at whether its link is back.
const BLACKHOLE_POLL: Duration = Duration::from_millis(50);

/// Re-emits a body as the site's link carries it at each moment: unchanged when up,
/// broken off when the site goes down, stalled while it is blackholed, and in pieces
/// paced to the rate of a bandwidth limit.
fn over_link(body: axum::body::Body, site: Arc<SimSite>, started: Instant) -> axum::body::Body {
    use axum::body::HttpBody as _;
    use futures::StreamExt;
    let small = body.size_hint().exact().is_some_and(|n| n <= WHOLE_BODY);
    if small && !matches!(site.fault(), Fault::Bandwidth { .. }) {
        return body;
    }
    let carrier = site.clone();
    let stream = body.into_data_stream().flat_map(move |piece| {
        let bytes_per_s = match site.fault() {
            Fault::Bandwidth { bytes_per_s } => Some(bytes_per_s),
            _ => None,
        };
        let pieces: Vec<Result<bytes::Bytes, axum::Error>> = match (piece, bytes_per_s) {
            (Ok(bytes), Some(rate)) => {
                let chunk = usize::try_from((rate / 10).max(1)).unwrap_or(1024);
                (0..bytes.len())
                    .step_by(chunk)
                    .map(|at| Ok(bytes.slice(at..bytes.len().min(at + chunk))))
                    .collect()
            }
            (piece, _) => vec![piece],
        };
        futures::stream::iter(pieces)
    });
    let carried = stream.then(move |piece| {
        let site = carrier.clone();
        async move {
            loop {
                match site.fault() {
                    Fault::Blackhole => tokio::time::sleep(BLACKHOLE_POLL).await,
                    fault if fault.is_down(started.elapsed()) => {
                        return Err(axum::Error::new(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "the site went down mid-transfer",
                        )))
                    }
                    Fault::Bandwidth { bytes_per_s } => {
                        // Each piece waits as long as its bytes take at this rate.
                        let bytes = piece.as_ref().map_or(0, |b| b.len() as u64);
                        tokio::time::sleep(Duration::from_micros(
                            bytes * 1_000_000 / bytes_per_s.max(1),
                        ))
                        .await;
                        return piece;
                    }
                    _ => return piece,
                }
            }
        }
    });
    axum::body::Body::from_stream(carried)
}

async fn list_sites(State(context): State<Arc<SimContext>>) -> Json<serde_json::Value> {
    let sites: Vec<serde_json::Value> = context
        .order
        .iter()
        .filter_map(|name| context.sites.get(name))
        .map(|s| {
            json!({"name": s.name, "release": s.profile.release, "fault": s.fault(),
                   "auth_url": context.service_url(&s.name, "identity/v3"),
                   "services": {"cinder": s.profile.has_cinder, "neutron": s.profile.has_neutron},
                   "nova_max_microversion": format!("{}.{}", s.profile.nova_max.0, s.profile.nova_max.1)})
        })
        .collect();
    Json(json!({"sites": sites}))
}

async fn get_fault(State(context): State<Arc<SimContext>>, Path(name): Path<String>) -> Response {
    match context.sites.get(&name) {
        Some(site) => Json(site.fault()).into_response(),
        None => sim_error(StatusCode::NOT_FOUND, &format!("no simulated site {name}")),
    }
}

async fn set_fault(
    State(context): State<Arc<SimContext>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(site) = context.sites.get(&name) else {
        return sim_error(StatusCode::NOT_FOUND, &format!("no simulated site {name}"));
    };
    let fault: Fault = match serde_json::from_slice(&body) {
        Ok(fault) => fault,
        Err(e) => return sim_error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
    };
    if let Err(message) = fault.validate() {
        return sim_error(StatusCode::BAD_REQUEST, &message);
    }
    tracing::info!(site = %name, ?fault, "fault set");
    site.set_fault(fault.clone());
    Json(json!({"site": name, "fault": fault})).into_response()
}

/// `{"mode": "down"}` closes one service of a site (`compute`, `image`, `network`,
/// `volume`, `placement`, `identity`), `{"mode": "up"}` opens it again.
async fn set_service_fault(
    State(context): State<Arc<SimContext>>,
    Path((name, service)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(site) = context.sites.get(&name) else {
        return sim_error(StatusCode::NOT_FOUND, &format!("no simulated site {name}"));
    };
    let down = match serde_json::from_slice::<Fault>(&body) {
        Ok(Fault::Down) => true,
        Ok(Fault::Up) => false,
        Ok(_) => {
            return sim_error(
                StatusCode::BAD_REQUEST,
                "a service takes the modes up and down",
            )
        }
        Err(e) => return sim_error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
    };
    site.set_service_down(&service, down);
    Json(json!({"site": name, "service": service, "down": down})).into_response()
}

/// Forgets every token of a site, as a Keystone key rotation or restart with a lost
/// token store would: clients must sign in again.
async fn revoke_tokens(
    State(context): State<Arc<SimContext>>,
    Path(name): Path<String>,
) -> Response {
    let Some(site) = context.sites.get(&name) else {
        return sim_error(StatusCode::NOT_FOUND, &format!("no simulated site {name}"));
    };
    let revoked = {
        let mut data = site.data();
        let count = data.tokens.len();
        data.tokens.clear();
        count
    };
    Json(json!({"site": name, "revoked": revoked})).into_response()
}

fn sim_error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        _ => "invalid_input",
    };
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

pub async fn run_standalone(args: SimArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let simulator = Simulator::start(&args).await?;
    tracing::info!(addr = %simulator.addr, sites = args.sites, elapsed_ms = started.elapsed().as_millis() as u64, "simulator listening");
    println!(
        "overcast sim: {} sites on http://{}",
        args.sites, simulator.addr
    );
    if let Some(path) = &args.clouds_yaml {
        println!("clouds.yaml written to {}", path.display());
    }
    crate::app::shutdown_signal().await;
    Ok(())
}
