//! Level L2.1 reads: ask every selected site at once, each within one deadline, and say
//! how each answered. One failing site never fails the whole answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use overcast_api_types::l1::SETTLING_SERVER_STATUSES;
use overcast_api_types::{InventorySummary, SiteAnswer, SiteAnswerStatus};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::health::HealthMonitor;
use super::selection::Selection;
use super::sessions::SessionPool;
use crate::instruments::Instruments;
use crate::openstack::OpenStackError;
use crate::resources::{ResourceError, SiteOps};
use crate::sites::{now_rfc3339, rfc3339, SiteError, SiteRegistry};

use super::inventory::{Inventory, Kind, Snapshot};

/// Sites asked at once by one console, over all requests.
const MAX_IN_FLIGHT: usize = 1024;

#[derive(Clone)]
pub struct FanOut {
    registry: SiteRegistry,
    inventory: Arc<Inventory>,
    sessions: SessionPool,
    health: Arc<HealthMonitor>,
    permits: Arc<Semaphore>,
    instruments: Arc<Instruments>,
}

/// One site's part of an aggregated answer.
pub struct SiteResult {
    pub answer: SiteAnswer,
    pub items: Vec<Value>,
}

/// One site's part of a read that shares the inventory's snapshot instead of copying its
/// items: what placement reads on every plan, for every site.
pub struct SharedResult {
    pub status: SiteAnswerStatus,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
    /// What the answer is made of (the site's fresh answer, or its last-known items):
    /// none when the site did not answer and nothing is known of it.
    pub snapshot: Option<Arc<Snapshot>>,
}

impl FanOut {
    pub fn new(
        registry: SiteRegistry,
        sessions: SessionPool,
        health: Arc<HealthMonitor>,
        inventory: Arc<Inventory>,
        instruments: Arc<Instruments>,
    ) -> Self {
        FanOut {
            registry,
            inventory,
            sessions,
            health,
            instruments,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// Fleet totals from the inventory alone: answers at once, however many sites are dark.
    pub fn inventory_summary(&self, sites: &[String]) -> InventorySummary {
        self.inventory.summary(sites)
    }

    /// Takes items a change removed out of a site's snapshot, before it is read again.
    pub fn forget_items(&self, site: &str, kind: Kind, ids: &[String]) {
        self.inventory.remove_items(site, kind.name(), ids);
    }

    /// What the inventory holds of a site's kind, without asking the site.
    pub fn cached(&self, site: &str, kind: Kind) -> Option<Arc<super::inventory::Snapshot>> {
        self.inventory.get(site, kind.name())
    }

    /// Forgets what is cached of a site that left.
    pub fn forget(&self, site: &str) {
        self.inventory.forget_site(site);
    }

    /// The registered sites a selection names. Explicitly named sites must all exist.
    pub async fn resolve(&self, selection: &Selection) -> Result<Vec<String>, SiteError> {
        let sites = self.registry.index().await?;
        match selection {
            Selection::All => Ok(sites.keys().cloned().collect()),
            Selection::Selector(selector) => Ok(sites
                .iter()
                .filter(|(_, s)| selector.matches(&s.labels))
                .map(|(name, _)| name.clone())
                .collect()),
            Selection::Sites(names) => {
                let unknown: Vec<&str> = names
                    .iter()
                    .filter(|n| !sites.contains_key(n.as_str()))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(SiteError::NotFound(unknown.join(", ")));
                }
                let mut names = names.clone();
                names.sort();
                names.dedup();
                Ok(names)
            }
        }
    }

    /// Reads `kind` from every site within `timeout` and collects what each answered.
    /// `resource` names the inventory the answers refresh and fall back on; with
    /// `max_age`, a snapshot younger than that is used without asking the site.
    pub async fn read(
        &self,
        kind: Kind,
        sites: Vec<String>,
        timeout: Duration,
        max_age: Option<Duration>,
    ) -> BTreeMap<String, SiteResult> {
        self.read_shared(kind, sites, timeout, max_age)
            .await
            .into_iter()
            .map(|(site, shared)| {
                let result = SiteResult {
                    answer: SiteAnswer {
                        status: shared.status,
                        latency_ms: shared.latency_ms,
                        as_of: shared.snapshot.as_ref().map(|s| rfc3339(s.as_of)),
                        error: shared.error,
                    },
                    items: shared.snapshot.map(|s| s.items.clone()).unwrap_or_default(),
                };
                (site, result)
            })
            .collect()
    }

    /// As [`FanOut::read`], but each site's items are the inventory's snapshot itself,
    /// shared: no copy of any site's items, whatever the fleet.
    pub async fn read_shared(
        &self,
        kind: Kind,
        sites: Vec<String>,
        timeout: Duration,
        max_age: Option<Duration>,
    ) -> BTreeMap<String, SharedResult> {
        let deadline = Instant::now() + timeout;
        let resource = kind.name();
        // Young snapshots are answered at once, without a future per site: only the
        // sites that must be asked cost a task's worth of state.
        let mut answered = BTreeMap::new();
        let mut to_ask = Vec::new();
        for site in sites {
            let cached = self.inventory.get(&site, resource);
            match (max_age, cached) {
                (Some(max_age), Some(snapshot)) if snapshot.age() <= max_age => {
                    // Young data is used as is; for a site now known to be unreachable it
                    // is still shown, but marked stale so nobody mistakes it for live.
                    let unreachable = self.health.is_unreachable(&site);
                    let result = SharedResult {
                        status: if unreachable {
                            SiteAnswerStatus::Stale
                        } else {
                            SiteAnswerStatus::Ok
                        },
                        latency_ms: None,
                        error: unreachable
                            .then(|| "unreachable (health checks fail); not asked".to_owned()),
                        snapshot: Some(snapshot),
                    };
                    answered.insert(site, result);
                }
                (_, cached) => to_ask.push((site, cached)),
            }
        }
        let asks = to_ask.into_iter().map(|(site, cached)| async move {
            let asked = self.ask(&site, deadline, kind).await;
            let mut result = SharedResult {
                status: asked.answer.status,
                latency_ms: asked.answer.latency_ms,
                error: asked.answer.error,
                snapshot: None,
            };
            match (asked.answer.status, cached) {
                (SiteAnswerStatus::Ok, _) => {
                    result.snapshot = Some(self.inventory.put_shared(
                        &site,
                        resource,
                        asked.items,
                        time::OffsetDateTime::now_utc(),
                    ));
                }
                // The site did not answer: show what it last had, marked stale.
                (_, Some(snapshot)) => {
                    result.status = SiteAnswerStatus::Stale;
                    result.snapshot = Some(snapshot);
                }
                (_, None) => {}
            }
            (site, result)
        });
        answered.extend(join_all(asks).await);
        answered
    }

    async fn ask(&self, site: &str, deadline: Instant, kind: Kind) -> SiteResult {
        let failed = |status, error: String| SiteResult {
            answer: SiteAnswer {
                status,
                latency_ms: None,
                as_of: None,
                error: Some(error),
            },
            items: Vec::new(),
        };
        // The circuit breaker: a site known to be unreachable costs no waiting.
        if self.health.is_unreachable(site) {
            return failed(
                SiteAnswerStatus::Unreachable,
                "unreachable (health checks fail); not asked".into(),
            );
        }
        let Ok(_permit) = tokio::time::timeout_at(deadline, self.permits.acquire()).await else {
            return failed(
                SiteAnswerStatus::Timeout,
                "deadline passed while waiting for a free slot".into(),
            );
        };
        let session = match self.sessions.session(site).await {
            Ok(session) => session,
            Err(error) => return failed(SiteAnswerStatus::Error, error.to_string()),
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout_at(
            deadline,
            kind.read(SiteOps::new(site.to_owned(), session, deadline)),
        )
        .await;
        let took = started.elapsed();
        let latency_ms = Some(took.as_millis() as u64);
        let result = match outcome {
            Ok(Ok(items)) => SiteResult {
                answer: SiteAnswer {
                    status: SiteAnswerStatus::Ok,
                    latency_ms,
                    as_of: Some(now_rfc3339()),
                    error: None,
                },
                items,
            },
            Err(_) => failed(
                SiteAnswerStatus::Timeout,
                format!(
                    "no answer within {} ms",
                    deadline.saturating_duration_since(started).as_millis()
                ),
            ),
            Ok(Err(error)) => {
                let status = match &error {
                    ResourceError::Site(OpenStackError::Timeout(_)) => SiteAnswerStatus::Timeout,
                    ResourceError::Site(
                        OpenStackError::Unreachable(_) | OpenStackError::ServiceDown { .. },
                    ) => SiteAnswerStatus::Unreachable,
                    ResourceError::Site(
                        OpenStackError::AuthFailed(_) | OpenStackError::Api { status: 401, .. },
                    ) => SiteAnswerStatus::AuthFailed,
                    ResourceError::Site(OpenStackError::MissingService(_)) => {
                        SiteAnswerStatus::NotOffered
                    }
                    _ => SiteAnswerStatus::Error,
                };
                failed(status, error.to_string())
            }
        };
        self.instruments
            .site_request(site, result.answer.status, took);
        result
    }
}

/// How often the background pass refreshes each site's inventory, and how long it
/// leaves a kind alone after a failed refresh.
const REFRESH_EVERY: Duration = Duration::from_secs(300);
/// Servers are refreshed with Nova's `changes-since` in between full reads this far
/// apart, so that an incremental refresh that missed something cannot drift forever.
const FULL_REFRESH_EVERY: Duration = Duration::from_secs(1800);
/// Changes are asked for from this long before the snapshot, for clocks that disagree.
const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Sites refreshed at once by the background pass.
const REFRESH_CONCURRENCY: usize = 16;

impl FanOut {
    /// Keeps every site's inventory younger than `REFRESH_EVERY`, so cached reads
    /// (`max_age_ms`) and stale answers have recent data even for sites nobody asked.
    pub async fn run_refresher(self) {
        let mut attempted: std::collections::HashMap<(String, Kind), Instant> =
            std::collections::HashMap::new();
        let mut changes = self.registry.watch();
        let mut last_full: std::collections::HashMap<String, Instant> =
            std::collections::HashMap::new();
        loop {
            let sites = self.registry.names().await.unwrap_or_default();
            // A set, so that pruning costs one look-up per entry, not a scan of the fleet.
            let registered: std::collections::HashSet<&str> =
                sites.iter().map(String::as_str).collect();
            attempted.retain(|(site, _), _| registered.contains(site.as_str()));
            last_full.retain(|site, _| registered.contains(site.as_str()));
            let due: Vec<(String, Kind)> = sites
                .iter()
                .filter(|site| !self.health.is_unreachable(site))
                .flat_map(|site| Kind::ALL.into_iter().map(move |kind| (site.clone(), kind)))
                .filter(|(site, kind)| {
                    let fresh = self
                        .inventory
                        .get(site, kind.name())
                        .is_some_and(|s| s.age() < REFRESH_EVERY);
                    let tried = attempted
                        .get(&(site.clone(), *kind))
                        .is_some_and(|at| at.elapsed() < REFRESH_EVERY);
                    !fresh && !tried
                })
                .collect();
            for chunk in due.chunks(REFRESH_CONCURRENCY) {
                let reads = chunk.iter().map(|(site, kind)| {
                    let incremental = *kind == Kind::Servers
                        && last_full
                            .get(site)
                            .is_some_and(|at: &Instant| at.elapsed() < FULL_REFRESH_EVERY);
                    self.refresh(site, *kind, incremental)
                });
                for (site, full) in join_all(reads).await.into_iter().flatten() {
                    last_full.insert(site, full);
                }
                for key in chunk {
                    attempted.insert(key.clone(), Instant::now());
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(15)) => {}
                Ok(()) = changes.changed() => {}
            }
        }
    }
}

impl FanOut {
    /// Refreshes one kind of one site. Returns, for a full read of servers, the site and
    /// when it was done (the base for later incremental refreshes).
    /// Reads one kind of one site again in the background, after a change made through
    /// the console. Servers are followed while Nova moves them (BUILD, REBOOT, …), so the
    /// inventory does not keep a state that lasted seconds for minutes.
    pub fn refresh_soon(&self, site: &str, kind: Kind) {
        let (fan_out, site) = (self.clone(), site.to_owned());
        tokio::spawn(async move {
            for _ in 0..10 {
                fan_out.refresh(&site, kind, false).await;
                let settling = kind == Kind::Servers
                    && fan_out.inventory.get(&site, kind.name()).is_some_and(|s| {
                        s.items.iter().any(|i| {
                            SETTLING_SERVER_STATUSES
                                .contains(&i["status"].as_str().unwrap_or_default())
                        })
                    });
                if !settling {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }

    async fn refresh(
        &self,
        site: &str,
        kind: Kind,
        incremental: bool,
    ) -> Option<(String, Instant)> {
        if incremental {
            match self.refresh_servers_since(site).await {
                Ok(()) => return None,
                Err(error) => {
                    tracing::debug!(site, %error, "incremental refresh failed; reading in full");
                }
            }
        }
        let started = Instant::now();
        let results = self
            .read(kind, vec![site.to_owned()], Duration::from_secs(10), None)
            .await;
        let ok = results
            .get(site)
            .is_some_and(|r| r.answer.status == SiteAnswerStatus::Ok);
        (ok && kind == Kind::Servers).then(|| (site.to_owned(), started))
    }

    /// Applies what changed at a site since its servers snapshot: changed and new servers
    /// replace or join it, deleted ones (status `DELETED`) leave it.
    pub async fn refresh_servers_since(&self, site: &str) -> Result<(), ResourceError> {
        let resource = Kind::Servers.name();
        let Some(snapshot) = self.inventory.get(site, resource) else {
            return Err(ResourceError::NotFound(
                "no servers snapshot to start from".into(),
            ));
        };
        let session = self
            .sessions
            .session(site)
            .await
            .map_err(|e| ResourceError::NotFound(e.to_string()))?;
        let started = time::OffsetDateTime::now_utc();
        let since = rfc3339(snapshot.as_of - CLOCK_SKEW);
        let ops = SiteOps::new(
            site.to_owned(),
            session,
            Instant::now() + Duration::from_secs(10),
        );
        let changes = ops.servers_changed_since(&since).await?;
        let mut items = snapshot.items.clone();
        for server in changes {
            items.retain(|item| item["id"] != server.id.as_str());
            if server.status != "DELETED" {
                if let Ok(value) = serde_json::to_value(&server) {
                    items.push(value);
                }
            }
        }
        self.inventory.put_as_of(site, resource, items, started);
        Ok(())
    }
}
