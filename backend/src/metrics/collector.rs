//! The collector: every site read once per interval, the reads spread over the interval
//! (never a burst), each round's samples and gaps written in one transaction.
//!
//! A site that is unreachable, or whose read fails, gets a gap with the reason, never a
//! zero; a failing site is backed off on its own and holds no other back.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use overcast_api_types::l1::{Image, Project, Quotas, Server, Volume};
use overcast_api_types::SiteAnswerStatus;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::values::Values;
use crate::federation::{FanOut, HealthMonitor, Kind, SessionPool};
use crate::instruments::{Instruments, ReadOutcome};
use crate::openstack::OpenStackError;
use crate::resources::{ResourceError, SiteOps};
use crate::sites::SiteRegistry;
use crate::store::{GapRow, SampleRow, Store};

/// How often and how long figures are kept.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub interval: Duration,
    pub raw_retention: Duration,
    pub minute_retention: Duration,
    pub hour_retention: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            interval: Duration::from_secs(60),
            raw_retention: Duration::from_secs(48 * 3600),
            minute_retention: Duration::from_secs(14 * 86_400),
            hour_retention: Duration::from_secs(400 * 86_400),
        }
    }
}

/// Sites read at once, fleet-wide.
const READ_CONCURRENCY: usize = 64;
/// Longest one site's read may take.
const READ_DEADLINE: Duration = Duration::from_secs(15);
/// A failing site is asked again after at most this many intervals.
const MAX_BACKOFF_INTERVALS: u32 = 8;
/// Results waiting to be written; reads wait for room (no unbounded queue).
const RESULT_QUEUE: usize = 1024;
/// Most projects whose quotas are read at one site each round: three calls each.
pub const MAX_QUOTA_PROJECTS: usize = 50;
/// Projects of one site whose quotas are read at once.
const QUOTA_CONCURRENCY: usize = 4;

/// What the last attempt at a site gave.
#[derive(Debug, Clone, Default)]
pub struct Latest {
    /// The newest figures and when they were read (unix seconds).
    pub values: Option<(i64, Values)>,
    /// The last attempt's gap, if it failed: when and why.
    pub gap: Option<(i64, String)>,
    /// The project quotas read with the newest figures.
    pub quotas: Option<QuotaReading>,
}

/// The collector's last attempt at each site, borrowed: see [`Metrics::latest_view`].
pub struct LatestView<'a>(std::sync::MutexGuard<'a, HashMap<String, Latest>>);

impl LatestView<'_> {
    pub fn get(&self, site: &str) -> Option<&Latest> {
        self.0.get(site)
    }
}

/// What the projects of a site may use and use, as one round read them.
#[derive(Debug, Clone, Default)]
pub struct QuotaReading {
    pub projects: Vec<Quotas>,
    /// The id of the project the console works in there, if the token says.
    pub own_project: Option<String>,
    /// Why some or all projects have no figures.
    pub problem: Option<String>,
}

impl QuotaReading {
    /// The quotas of the console's own project there: what bounds what it may boot.
    pub fn own(&self) -> Option<&Quotas> {
        let own = self.own_project.as_deref()?;
        self.projects.iter().find(|q| q.project_id == own)
    }
}

/// One site's reading.
#[derive(Debug)]
pub struct SiteReading {
    pub values: Values,
    pub quotas: QuotaReading,
}

impl Latest {
    /// Why a site has no current figures, given whether they are `fresh`; none if it has.
    pub fn gap_reason(&self, fresh: bool) -> Option<String> {
        match (&self.gap, fresh) {
            (Some((_, reason)), _) => Some(reason.clone()),
            (None, false) if self.values.is_some() => {
                Some("no figures for two collection intervals".into())
            }
            (None, false) => Some("not collected yet".into()),
            (None, true) => None,
        }
    }

    /// The figures if the last attempt did not fail and `fresh` takes their time; none
    /// otherwise: a gap, never zeros.
    pub fn current(&self, fresh: impl Fn(i64) -> bool) -> Option<&Values> {
        match (&self.values, &self.gap) {
            (Some((at, values)), None) if fresh(*at) => Some(values),
            _ => None,
        }
    }
}

struct Schedule {
    next: i64,
    failures: u32,
    in_flight: bool,
}

struct Reading {
    site: String,
    at: i64,
    outcome: Result<SiteReading, String>,
}

pub struct Metrics {
    store: Store,
    registry: SiteRegistry,
    sessions: SessionPool,
    health: Arc<HealthMonitor>,
    fan_out: FanOut,
    instruments: Arc<Instruments>,
    pub config: MetricsConfig,
    latest: Mutex<HashMap<String, Latest>>,
    schedule: Mutex<HashMap<String, Schedule>>,
    permits: Arc<Semaphore>,
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Metrics {
    pub fn new(
        store: Store,
        registry: SiteRegistry,
        sessions: SessionPool,
        health: Arc<HealthMonitor>,
        fan_out: FanOut,
        instruments: Arc<Instruments>,
        config: MetricsConfig,
    ) -> Arc<Self> {
        Arc::new(Metrics {
            store,
            registry,
            sessions,
            health,
            fan_out,
            instruments,
            config,
            latest: Mutex::new(HashMap::new()),
            schedule: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(READ_CONCURRENCY)),
        })
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn health(&self) -> &HealthMonitor {
        &self.health
    }

    pub(super) fn sessions(&self) -> &SessionPool {
        &self.sessions
    }

    fn latest_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Latest>> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn schedule_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Schedule>> {
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last attempt at each of `sites`.
    pub fn latest(&self, sites: &[String]) -> Vec<(String, Latest)> {
        let latest = self.latest_map();
        sites
            .iter()
            .map(|s| (s.clone(), latest.get(s).cloned().unwrap_or_default()))
            .collect()
    }

    /// The last attempt at every site, to look at in place: nothing is copied, whatever
    /// the fleet. The collector waits while it is held, so hold it briefly (and never
    /// across an `.await`).
    pub fn latest_view(&self) -> LatestView<'_> {
        LatestView(self.latest_map())
    }

    /// Figures are fresh while no newer reading is overdue: two intervals, plus the
    /// longest a read may take (a read is written on the collector's next tick, so a
    /// short interval alone would flap).
    pub fn is_fresh(&self, at: i64, now: i64) -> bool {
        now - at <= 2 * self.config.interval.as_secs() as i64 + READ_DEADLINE.as_secs() as i64
    }

    /// The figures of a site to count now: fresh, and not followed by a failed read.
    pub fn current<'a>(&self, latest: &'a Latest, now: i64) -> Option<&'a Values> {
        latest.current(|at| self.is_fresh(at, now))
    }

    /// Picks up where the last run stopped: each site's newest figures and gap.
    pub async fn load(&self) -> Result<(), crate::store::StoreError> {
        let samples = self.store.latest_samples().await?;
        let gaps = self.store.latest_gaps().await?;
        let mut latest = self.latest_map();
        for row in samples {
            latest.entry(row.site).or_default().values = Some((row.ts, Values::decode(&row.vals)));
        }
        for row in gaps {
            let entry = latest.entry(row.site).or_default();
            // A gap older than the newest figures is over.
            if entry.values.as_ref().is_none_or(|(at, _)| *at < row.ts) {
                entry.gap = Some((row.ts, row.reason));
            }
        }
        Ok(())
    }

    /// Runs the collection, the rollups and the pruning until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        if let Err(error) = self.load().await {
            tracing::warn!(%error, "cannot read the last collected figures");
        }
        let (done, mut results) = mpsc::channel::<Reading>(RESULT_QUEUE);
        let mut sites: Vec<String> = Vec::new();
        let mut sites_read_at: Option<Instant> = None;
        let mut changes = self.registry.watch();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_maintenance: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                Ok(()) = changes.changed() => { sites_read_at = None; }
            }
            if sites_read_at.is_none_or(|at| at.elapsed() > Duration::from_secs(30)) {
                if let Ok(names) = self.registry.names().await {
                    sites = names;
                    self.forget_departed(&sites);
                    sites_read_at = Some(Instant::now());
                }
            }
            let now = unix_now();
            for site in self.due(&sites, now) {
                self.clone().start_read(site, now, done.clone());
            }
            let mut batch = Vec::new();
            while let Ok(reading) = results.try_recv() {
                batch.push(reading);
            }
            if !batch.is_empty() {
                self.write(batch).await;
            }
            if last_maintenance.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                last_maintenance = Some(Instant::now());
                if let Err(error) = self.maintain(now).await {
                    tracing::warn!(%error, "metrics rollup or pruning failed");
                }
            }
        }
    }

    /// Sites whose turn it is. A site new to the schedule gets a place in the interval
    /// from its name, so a fleet's reads spread evenly and keep their places.
    fn due(&self, sites: &[String], now: i64) -> Vec<String> {
        let interval = self.config.interval.as_secs().max(1) as i64;
        let mut schedule = self.schedule_map();
        let mut due = Vec::new();
        for site in sites {
            let entry = schedule.entry(site.clone()).or_insert_with(|| Schedule {
                next: now + spread(site, interval),
                failures: 0,
                in_flight: false,
            });
            if !entry.in_flight && entry.next <= now {
                entry.in_flight = true;
                due.push(site.clone());
            }
        }
        due
    }

    fn forget_departed(&self, sites: &[String]) {
        let registered: std::collections::HashSet<&str> =
            sites.iter().map(String::as_str).collect();
        self.schedule_map()
            .retain(|s, _| registered.contains(s.as_str()));
        self.latest_map()
            .retain(|s, _| registered.contains(s.as_str()));
    }

    fn start_read(self: Arc<Self>, site: String, now: i64, done: mpsc::Sender<Reading>) {
        tokio::spawn(async move {
            let outcome = match self.health.is_unreachable(&site) {
                // Not asked: the health checks already wait for it to come back.
                true => {
                    self.instruments
                        .collector_read(ReadOutcome::Unreachable, None);
                    Err(self.health.unreachable_reason(&site))
                }
                false => {
                    let Ok(_permit) = self.permits.clone().acquire_owned().await else {
                        return;
                    };
                    let started = Instant::now();
                    let outcome = self.read_site(&site).await;
                    let read = match outcome {
                        Ok(_) => ReadOutcome::Ok,
                        Err(_) => ReadOutcome::Failed,
                    };
                    self.instruments
                        .collector_read(read, Some(started.elapsed()));
                    outcome
                }
            };
            let _closed = done
                .send(Reading {
                    site,
                    at: now,
                    outcome,
                })
                .await;
        });
    }

    /// One collection at one site, through its public APIs only.
    pub async fn read_site(&self, site: &str) -> Result<SiteReading, String> {
        let mut values = Values::default();
        let session = self
            .sessions
            .session(site)
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + READ_DEADLINE;
        let own_project = session.project_id(deadline).await.ok().flatten();
        let ops = SiteOps::new(site.to_owned(), session, deadline);
        match ops.capacity().await {
            Ok(c) => {
                values.set("capacity_vcpus", c.vcpus);
                values.set("used_vcpus", c.used_vcpus);
                values.set("capacity_ram_mb", c.ram_mb);
                values.set("used_ram_mb", c.used_ram_mb);
                values.set("capacity_disk_gb", c.disk_gb);
                values.set("used_disk_gb", c.used_disk_gb);
            }
            Err(ResourceError::Site(OpenStackError::MissingService(_))) => {}
            Err(error) => return Err(format!("placement: {error}")),
        }
        // Lists come through the inventory: a snapshot younger than the interval is
        // used as it is, an older one is read again (and kept for everyone).
        if let Some(servers) = self.listed::<Server>(site, Kind::Servers).await? {
            let count = |status: &str| servers.iter().filter(|s| s.status == status).count() as f64;
            let (active, shutoff, error) = (count("ACTIVE"), count("SHUTOFF"), count("ERROR"));
            let total = servers.len() as f64;
            values.set("servers_total", total);
            values.set("servers_active", active);
            values.set("servers_shutoff", shutoff);
            values.set("servers_error", error);
            values.set("servers_other", total - active - shutoff - error);
        }
        if let Some(images) = self.listed::<Image>(site, Kind::Images).await? {
            values.set("images_count", images.len() as f64);
            values.set(
                "images_bytes",
                images.iter().filter_map(|i| i.size).sum::<u64>() as f64,
            );
        }
        if let Some(volumes) = self.listed::<Volume>(site, Kind::Volumes).await? {
            values.set("volumes_count", volumes.len() as f64);
            values.set(
                "volumes_gb",
                volumes.iter().map(|v| v.size_gb).sum::<u64>() as f64,
            );
        }
        if let Some(latency) = self.health.latency(site) {
            values.set("api_latency_ms", latency.as_secs_f64() * 1000.0);
        }
        values.set("site_up", 1.0);
        let quotas = self.read_quotas(&ops, own_project).await;
        Ok(SiteReading { values, quotas })
    }

    /// The quotas of a site's projects (the console's own first), at most
    /// [`MAX_QUOTA_PROJECTS`]. A project that cannot be read is left out and said, and
    /// does not fail the site's reading: its capacity figures stand on their own.
    async fn read_quotas(&self, ops: &SiteOps, own_project: Option<String>) -> QuotaReading {
        let mut problems = Vec::new();
        let mut projects = match self.listed::<Project>(&ops.site, Kind::Projects).await {
            Ok(list) => list.unwrap_or_default(),
            Err(error) => {
                problems.push(format!("cannot list the projects: {error}"));
                Vec::new()
            }
        };
        if let Some(own) = &own_project {
            if !projects.iter().any(|p| &p.id == own) {
                // Without the right to list projects, the console still reads its own.
                match ops.project(own).await {
                    Ok(project) => projects.push(project),
                    Err(error) => problems.push(format!("cannot read its own project: {error}")),
                }
            }
        }
        projects.sort_by(|a, b| {
            let not_own = |p: &Project| Some(&p.id) != own_project.as_ref();
            (not_own(a), &a.name).cmp(&(not_own(b), &b.name))
        });
        if projects.len() > MAX_QUOTA_PROJECTS {
            problems.push(format!(
                "{} projects: the quotas of the first {MAX_QUOTA_PROJECTS} are read",
                projects.len()
            ));
            projects.truncate(MAX_QUOTA_PROJECTS);
        }
        let asked = projects.len();
        let mut read = Vec::with_capacity(asked);
        let mut failures = Vec::new();
        let mut answers = futures::stream::iter(projects)
            .map(|project| ops.quotas_of(project))
            .buffered(QUOTA_CONCURRENCY);
        while let Some(answer) = answers.next().await {
            match answer {
                Ok(quotas) => read.push(quotas),
                Err(error) => failures.push(error.to_string()),
            }
        }
        if let Some(first) = failures.first() {
            problems.push(format!(
                "the quotas of {} of {asked} projects could not be read: {first}",
                failures.len()
            ));
        }
        QuotaReading {
            projects: read,
            own_project,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
        }
    }

    /// A kind's items at a site, none if the site does not offer it.
    async fn listed<T: DeserializeOwned>(
        &self,
        site: &str,
        kind: Kind,
    ) -> Result<Option<Vec<T>>, String> {
        let mut answers = self
            .fan_out
            .read(
                kind,
                vec![site.to_owned()],
                READ_DEADLINE,
                Some(self.config.interval),
            )
            .await;
        let Some(result) = answers.remove(site) else {
            return Err(format!("{}: no answer", kind.name()));
        };
        match result.answer.status {
            SiteAnswerStatus::Ok => Ok(Some(
                result
                    .items
                    .into_iter()
                    .filter_map(|item| serde_json::from_value(item).ok())
                    .collect(),
            )),
            SiteAnswerStatus::NotOffered => Ok(None),
            _ => Err(format!(
                "{}: {}",
                kind.name(),
                result.answer.error.unwrap_or_else(|| "no answer".into())
            )),
        }
    }

    /// Writes a batch of readings in one transaction and moves each site's turn on.
    async fn write(&self, batch: Vec<Reading>) {
        let mut samples = Vec::new();
        let mut gaps = Vec::new();
        for reading in &batch {
            match &reading.outcome {
                Ok(read) => samples.push(SampleRow {
                    site: reading.site.clone(),
                    ts: reading.at,
                    vals: read.values.encode(),
                }),
                Err(reason) => gaps.push(GapRow {
                    site: reading.site.clone(),
                    ts: reading.at,
                    reason: reason.clone(),
                }),
            }
        }
        let started = Instant::now();
        let stored = self.store.insert_round(&samples, &gaps).await;
        self.instruments
            .collector_write(stored.is_ok(), started.elapsed());
        if let Err(error) = stored {
            tracing::warn!(%error, samples = samples.len(), gaps = gaps.len(), "cannot store collected figures");
        }
        let interval = self.config.interval.as_secs().max(1) as i64;
        let mut latest = self.latest_map();
        let mut schedule = self.schedule_map();
        for reading in batch {
            let entry = latest.entry(reading.site.clone()).or_default();
            let failed = reading.outcome.is_err();
            match reading.outcome {
                Ok(read) => {
                    entry.values = Some((reading.at, read.values));
                    entry.quotas = Some(read.quotas);
                    entry.gap = None;
                }
                Err(reason) => entry.gap = Some((reading.at, reason)),
            }
            if let Some(turn) = schedule.get_mut(&reading.site) {
                turn.in_flight = false;
                turn.failures = if failed { turn.failures + 1 } else { 0 };
                let waits = 1i64 << turn.failures.saturating_sub(1).min(3);
                let intervals = if failed {
                    waits.min(i64::from(MAX_BACKOFF_INTERVALS))
                } else {
                    1
                };
                turn.next = reading.at + intervals * interval;
            }
        }
    }
}

/// A site's place in the interval, from its name: stable across restarts.
fn spread(site: &str, interval: i64) -> i64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    site.hash(&mut hasher);
    (hasher.finish() % interval.max(1) as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_spreads_over_the_interval() {
        let mut per_decile = [0u32; 10];
        for n in 0..1000 {
            let place = spread(&format!("site-{n:04}"), 60);
            assert!((0..60).contains(&place));
            per_decile[(place / 6) as usize] += 1;
        }
        assert!(
            per_decile.iter().all(|n| (50..=150).contains(n)),
            "{per_decile:?}"
        );
    }
}
