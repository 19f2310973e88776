//! Site health: a background prober per site with hysteresis, a circuit breaker for the
//! rest of the engine, and an event on every state change.
//!
//! A cheap liveness check (Keystone's unauthenticated version document) runs often; a
//! full probe (sign in, read the catalog and Nova's microversions) runs on first contact,
//! after a recovery and every `full_probe_every`. Thresholds and their reasons are in
//! docs/decisions.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use overcast_api_types::SiteState;
use rand::Rng;
use tokio::sync::{broadcast, Semaphore};
use tokio::time::Instant;

use super::sessions::SessionPool;
use crate::instruments::{Instruments, ProbeOutcome};
use crate::openstack::OpenStackError;
use crate::sites::{now_rfc3339, SiteHealthRecord, SiteRegistry};

#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Time between liveness checks of a healthy site (jittered ±20 %).
    pub interval: Duration,
    /// Time between checks of a site that failed or is unreachable.
    pub suspect_interval: Duration,
    /// Deadline of one check.
    pub probe_timeout: Duration,
    /// Consecutive failures that make a site unreachable.
    pub failures_to_unreachable: u32,
    /// Consecutive successes that bring an unreachable site back.
    pub successes_to_recover: u32,
    /// A round trip slower than this marks the site degraded.
    pub degraded_latency: Duration,
    pub full_probe_every: Duration,
    /// How often a site impaired as configured (credentials refused, no endpoint in its
    /// region) is signed in to again.
    pub impaired_probe_every: Duration,
    /// Time between checks of each catalog service's version document.
    pub service_check_every: Duration,
    /// Checks in flight at once, over all sites.
    pub max_concurrent: usize,
    /// Latency and last-seen are written at most this often per site (state changes at once).
    pub persist_every: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: Duration::from_secs(3),
            suspect_interval: Duration::from_millis(500),
            probe_timeout: Duration::from_secs(2),
            failures_to_unreachable: 2,
            successes_to_recover: 2,
            degraded_latency: Duration::from_millis(1500),
            full_probe_every: Duration::from_secs(600),
            impaired_probe_every: Duration::from_secs(30),
            service_check_every: Duration::from_secs(15),
            max_concurrent: 256,
            persist_every: Duration::from_secs(30),
        }
    }
}

pub use overcast_api_types::SiteEvent;

#[derive(Debug, Clone)]
struct Tracker {
    state: SiteState,
    consecutive_failures: u32,
    consecutive_successes: u32,
    next_check: Instant,
    last_full_probe: Option<Instant>,
    /// Why the last full probe found the site unusable as configured, kept until the
    /// next full probe.
    probe_problem: Option<String>,
    next_service_check: Instant,
    last_persisted: Option<Instant>,
    last_error: Option<String>,
    /// How long the last check that got an answer took.
    last_latency: Option<Duration>,
    in_flight: bool,
}

impl Tracker {
    fn new(state: SiteState, now: Instant) -> Self {
        Tracker {
            state,
            consecutive_failures: 0,
            consecutive_successes: 0,
            next_check: now,
            last_full_probe: None,
            probe_problem: None,
            next_service_check: now,
            last_persisted: None,
            last_error: None,
            last_latency: None,
            in_flight: false,
        }
    }
}

/// The outcome of one check, fed to the state machine.
#[derive(Debug, Clone)]
enum Outcome {
    Answered {
        latency: Duration,
    },
    /// The site answered but cannot be used as configured (e.g. refused credentials).
    Impaired {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// The pure state machine: what a check's outcome does to a tracker. Returns the new
/// state when it changed.
fn apply(tracker: &mut Tracker, outcome: &Outcome, config: &HealthConfig) -> Option<SiteState> {
    let before = tracker.state;
    match outcome {
        Outcome::Answered { latency } => {
            tracker.consecutive_failures = 0;
            tracker.consecutive_successes += 1;
            tracker.last_error = None;
            let healthy = if *latency > config.degraded_latency {
                SiteState::Degraded
            } else {
                SiteState::Online
            };
            tracker.state = match before {
                SiteState::Unreachable
                    if tracker.consecutive_successes < config.successes_to_recover =>
                {
                    SiteState::Unreachable
                }
                _ => healthy,
            };
        }
        Outcome::Impaired { reason } => {
            tracker.consecutive_failures = 0;
            tracker.consecutive_successes += 1;
            tracker.last_error = Some(reason.clone());
            tracker.state = SiteState::Degraded;
        }
        Outcome::Failed { reason } => {
            tracker.consecutive_successes = 0;
            tracker.consecutive_failures += 1;
            tracker.last_error = Some(reason.clone());
            if tracker.consecutive_failures >= config.failures_to_unreachable {
                tracker.state = SiteState::Unreachable;
            }
        }
    }
    (tracker.state != before).then_some(tracker.state)
}

pub struct HealthMonitor {
    registry: SiteRegistry,
    sessions: SessionPool,
    config: HealthConfig,
    trackers: Mutex<HashMap<String, Tracker>>,
    events: broadcast::Sender<SiteEvent>,
    permits: Arc<Semaphore>,
    instruments: Arc<Instruments>,
}

impl HealthMonitor {
    pub fn new(
        registry: SiteRegistry,
        sessions: SessionPool,
        config: HealthConfig,
        instruments: Arc<Instruments>,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(HealthMonitor {
            registry,
            sessions,
            instruments,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            config,
            trackers: Mutex::new(HashMap::new()),
            events,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SiteEvent> {
        self.events.subscribe()
    }

    /// The circuit breaker: a site known to be unreachable is not waited for.
    pub fn is_unreachable(&self, site: &str) -> bool {
        self.trackers()
            .get(site)
            .is_some_and(|t| t.state == SiteState::Unreachable)
    }

    pub fn state(&self, site: &str) -> Option<SiteState> {
        self.trackers().get(site).map(|t| t.state)
    }

    fn trackers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tracker>> {
        self.trackers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs until the task is dropped: keeps the tracked set equal to the registry, and
    /// starts each site's check when it is due.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut resync_at = Instant::now();
        let mut changes = self.registry.watch();
        loop {
            if Instant::now() >= resync_at {
                self.resync().await;
                resync_at = Instant::now() + Duration::from_secs(30);
            }
            tokio::select! {
                _ = tick.tick() => {}
                Ok(()) = changes.changed() => resync_at = Instant::now(),
            }
            for site in self.due_sites() {
                let monitor = self.clone();
                tokio::spawn(async move { monitor.check(site).await });
            }
        }
    }

    async fn resync(&self) {
        let sites = match self.registry.index().await {
            Ok(sites) => sites,
            Err(error) => {
                tracing::warn!(%error, "cannot list sites for health checks");
                return;
            }
        };
        let now = Instant::now();
        // Built before the lock, which every circuit-breaker look-up needs, is taken.
        let names: std::collections::HashSet<&str> = sites.keys().map(String::as_str).collect();
        self.instruments.retain_sites(&names);
        let mut trackers = self.trackers();
        trackers.retain(|name, _| {
            let registered = names.contains(name.as_str());
            if !registered {
                self.sessions.forget(name);
            }
            registered
        });
        for (name, site) in sites.iter() {
            trackers.entry(name.clone()).or_insert_with(|| {
                // Spread first checks over one interval so a big fleet does not start in a burst.
                let offset =
                    rand::thread_rng().gen_range(0..=self.config.interval.as_millis() as u64 / 3);
                let mut tracker = Tracker::new(site.state, now);
                tracker.next_check = now + Duration::from_millis(offset);
                tracker
            });
        }
    }

    fn due_sites(&self) -> Vec<String> {
        let now = Instant::now();
        let mut trackers = self.trackers();
        trackers
            .iter_mut()
            .filter(|(_, t)| !t.in_flight && t.next_check <= now)
            .map(|(name, t)| {
                t.in_flight = true;
                name.clone()
            })
            .collect()
    }

    async fn check(self: Arc<Self>, site: String) {
        let Ok(_permit) = self.permits.clone().acquire_owned().await else {
            return;
        };
        let now = Instant::now();
        let (full, services_due) = {
            let trackers = self.trackers();
            let Some(t) = trackers.get(&site) else {
                return;
            };
            let probe_every = if t.probe_problem.is_some() {
                self.config.impaired_probe_every
            } else {
                self.config.full_probe_every
            };
            (
                t.last_full_probe
                    .is_none_or(|at| at.elapsed() >= probe_every),
                t.next_service_check <= now,
            )
        };
        let (outcome, capabilities, problem) = self.probe(&site, full, services_due).await;
        self.record(&site, outcome, capabilities, full.then_some(problem))
            .await;
    }

    /// One check: Keystone's liveness (or, when due, a full probe that signs in), then
    /// when due each service's version document. A site whose Keystone answers but one
    /// of whose services does not is impaired, not online.
    async fn probe(
        &self,
        site: &str,
        full: bool,
        services_due: bool,
    ) -> (
        Outcome,
        Option<std::collections::BTreeMap<String, String>>,
        Option<String>,
    ) {
        let deadline = Instant::now() + self.config.probe_timeout;
        let failed = |reason: String| (Outcome::Failed { reason }, None, None);
        let session = match self.sessions.session(site).await {
            Ok(session) => session,
            Err(error) => return failed(error.to_string()),
        };
        let result = if full {
            session
                .probe(deadline)
                .await
                .map(|probe| (probe.latency, Some(probe.capabilities), probe.problem))
        } else {
            session
                .liveness(self.config.probe_timeout)
                .await
                .map(|latency| (latency, None, None))
        };
        let (latency, capabilities, problem) = match result {
            Ok(answer) => answer,
            Err(OpenStackError::AuthFailed(reason)) => {
                let problem = format!("credentials refused: {reason}");
                return (
                    Outcome::Impaired {
                        reason: problem.clone(),
                    },
                    None,
                    Some(problem),
                );
            }
            Err(error) if error.is_unreachable() => return failed(error.to_string()),
            // It answered, but not well: up, yet impaired.
            Err(error) => {
                return (
                    Outcome::Impaired {
                        reason: error.to_string(),
                    },
                    None,
                    None,
                )
            }
        };
        if services_due {
            session.check_services(self.config.probe_timeout).await;
            let next = if session.down_services().is_empty() {
                self.config.service_check_every
            } else {
                self.config.interval
            };
            if let Some(t) = self.trackers().get_mut(site) {
                t.next_service_check = Instant::now() + next;
            }
        }
        let known_problem = problem.clone().or_else(|| {
            self.trackers()
                .get(site)
                .and_then(|t| t.probe_problem.clone())
                .filter(|_| !full)
        });
        let down = session.down_services();
        let outcome = match (known_problem, down.is_empty()) {
            (Some(reason), _) => Outcome::Impaired { reason },
            (None, false) => Outcome::Impaired {
                reason: format!(
                    "not answering: {}",
                    down.iter()
                        .map(|(service, why)| format!("{service} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            (None, true) => Outcome::Answered { latency },
        };
        (outcome, capabilities, problem)
    }

    /// How long the site's last answered health check took; none while it does not answer.
    pub fn latency(&self, site: &str) -> Option<Duration> {
        self.trackers().get(site).and_then(|t| t.last_latency)
    }

    /// Why a site is unreachable, in one phrase that starts with it.
    pub fn unreachable_reason(&self, site: &str) -> String {
        match self.reason(site) {
            Some(reason) if reason.starts_with("site unreachable") => reason,
            Some(reason) => format!("site unreachable: {reason}"),
            None => "site unreachable: its health checks fail".into(),
        }
    }

    /// Why a site is not online, as its last check found.
    pub fn reason(&self, site: &str) -> Option<String> {
        self.trackers()
            .get(site)
            .filter(|t| t.state != SiteState::Online)
            .and_then(|t| t.last_error.clone())
    }

    /// `probe_problem` is `Some` after a full probe: what it found wrong, if anything.
    async fn record(
        &self,
        site: &str,
        outcome: Outcome,
        capabilities: Option<std::collections::BTreeMap<String, String>>,
        probe_problem: Option<Option<String>>,
    ) {
        let now = Instant::now();
        self.instruments.probe(
            site,
            match outcome {
                Outcome::Answered { .. } => ProbeOutcome::Answered,
                Outcome::Impaired { .. } => ProbeOutcome::Impaired,
                Outcome::Failed { .. } => ProbeOutcome::Failed,
            },
        );
        let (change, persist, record) = {
            let mut trackers = self.trackers();
            let Some(tracker) = trackers.get_mut(site) else {
                return;
            };
            let before = tracker.state;
            let change = apply(tracker, &outcome, &self.config).map(|to| (before, to));
            tracker.in_flight = false;
            tracker.last_latency = match &outcome {
                Outcome::Answered { latency } => Some(*latency),
                _ => None,
            };
            let suspect = matches!(outcome, Outcome::Failed { .. })
                || tracker.state == SiteState::Unreachable;
            let wait = if suspect {
                self.config.suspect_interval
            } else {
                let base = self.config.interval.as_millis() as u64;
                Duration::from_millis(rand::thread_rng().gen_range(base * 4 / 5..=base * 6 / 5))
            };
            tracker.next_check = now + wait;
            if let Some(problem) = probe_problem {
                if !matches!(outcome, Outcome::Failed { .. }) {
                    tracker.last_full_probe = Some(now);
                    tracker.probe_problem = problem;
                }
            }
            // A recovered site gets a full probe next, to relearn what it offers.
            if change.is_some_and(|(from, _)| from == SiteState::Unreachable) {
                tracker.last_full_probe = None;
            }
            let persist = change.is_some()
                || capabilities.is_some()
                || tracker
                    .last_persisted
                    .is_none_or(|at| at.elapsed() >= self.config.persist_every);
            if persist {
                tracker.last_persisted = Some(now);
            }
            let answered = !matches!(outcome, Outcome::Failed { .. });
            let record = SiteHealthRecord {
                state: tracker.state,
                last_seen: answered.then(now_rfc3339),
                latency_ms: match outcome {
                    Outcome::Answered { latency } => Some(latency.as_millis() as u64),
                    _ => None,
                },
                capabilities,
            };
            (
                change.map(|c| (c, tracker.last_error.clone())),
                persist,
                record,
            )
        };
        if let Some(((from, to), reason)) = change {
            tracing::info!(
                site,
                from = from.as_str(),
                to = to.as_str(),
                reason = reason.as_deref().unwrap_or(""),
                "site state changed"
            );
            let _no_listener_is_fine = self.events.send(SiteEvent {
                site: site.to_owned(),
                from,
                to,
                at: now_rfc3339(),
                reason,
            });
        }
        if persist {
            self.registry.record_health(site, &record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(state: SiteState) -> Tracker {
        Tracker::new(state, Instant::now())
    }

    fn failed() -> Outcome {
        Outcome::Failed {
            reason: "connection refused".into(),
        }
    }

    fn answered(ms: u64) -> Outcome {
        Outcome::Answered {
            latency: Duration::from_millis(ms),
        }
    }

    #[test]
    fn one_failure_is_not_enough_to_give_up_on_a_site() {
        let config = HealthConfig::default();
        let mut t = tracker(SiteState::Online);
        assert_eq!(apply(&mut t, &failed(), &config), None);
        assert_eq!(
            apply(&mut t, &failed(), &config),
            Some(SiteState::Unreachable)
        );
        assert_eq!(
            apply(&mut t, &failed(), &config),
            None,
            "no event per further failure"
        );
    }

    #[test]
    fn recovery_needs_consecutive_successes() {
        let config = HealthConfig::default();
        let mut t = tracker(SiteState::Unreachable);
        assert_eq!(apply(&mut t, &answered(10), &config), None);
        assert_eq!(apply(&mut t, &failed(), &config), None);
        assert_eq!(apply(&mut t, &answered(10), &config), None);
        assert_eq!(
            apply(&mut t, &answered(10), &config),
            Some(SiteState::Online)
        );
    }

    #[test]
    fn slow_or_impaired_sites_are_degraded() {
        let config = HealthConfig::default();
        let mut t = tracker(SiteState::Unknown);
        assert_eq!(
            apply(&mut t, &answered(5000), &config),
            Some(SiteState::Degraded)
        );
        assert_eq!(
            apply(&mut t, &answered(20), &config),
            Some(SiteState::Online)
        );
        let impaired = Outcome::Impaired {
            reason: "credentials refused".into(),
        };
        assert_eq!(apply(&mut t, &impaired, &config), Some(SiteState::Degraded));
    }

    #[test]
    fn a_new_site_answers_online_at_once() {
        let mut t = tracker(SiteState::Unknown);
        assert_eq!(
            apply(&mut t, &answered(5), &HealthConfig::default()),
            Some(SiteState::Online)
        );
    }
}
