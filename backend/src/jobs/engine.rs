use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use overcast_api_types::jobs::{
    Job, JobPreview, JobState, NewJob, PreviewSite, Progress, Rollout, Targets, Task, TaskCounts,
    TaskEvent, TaskState, Transfer,
};
use overcast_api_types::{FieldError, SiteState};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;

use super::boot::{Rescheduler, Shortfall, MAX_MOVES};
use super::kinds::{Failure, JobSpec};
use super::policy::{self, DEFAULT_MAX_PARALLEL, MAX_ATTEMPTS};
use super::writer::Writer;
use crate::audit::{Audit, Record};
use crate::federation::{FanOut, HealthMonitor, Selection, SessionPool};
use crate::images::{ImageCopier, ImageRef, Sent, Spool};
use crate::instruments::Instruments;
use crate::resources::SiteOps;
use crate::secrets::Sealer;
use crate::sites::{rfc3339, SiteError, SiteRegistry};
use crate::store::{JobRow, Store, StoreError, TaskRow, TransferProgress};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid job")]
    Invalid(Vec<FieldError>),
    #[error("job {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: impl Into<String>) -> JobError {
    JobError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Tasks running at once over all jobs.
    pub max_in_flight: usize,
    /// Tasks running at once at one site, over all jobs.
    pub per_site: usize,
    /// Deadline of one attempt at one site.
    pub attempt_timeout: Duration,
    /// Longest pause between attempts at a site that keeps failing.
    pub retry_cap: Duration,
    pub default_ttl: Duration,
    /// Where image copies keep the data they move, and how much of it at most.
    pub spool_dir: std::path::PathBuf,
    pub spool_limit: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_in_flight: 256,
            per_site: 2,
            attempt_timeout: Duration::from_secs(60),
            retry_cap: Duration::from_secs(30),
            default_ttl: Duration::from_secs(24 * 3600),
            spool_dir: std::env::temp_dir().join("overcast-spool"),
            spool_limit: DEFAULT_SPOOL_LIMIT,
        }
    }
}

/// 20 GiB: a few large images in flight to slow sites, or many small ones kept for late
/// targets.
pub const DEFAULT_SPOOL_LIMIT: u64 = 20 * 1024 * 1024 * 1024;

/// What the engine tells its listeners (the API's Server-Sent Events).
#[derive(Debug, Clone)]
pub enum EngineEvent {
    Task(TaskEvent),
    /// A job's state changed (tasks left out).
    Job(Job),
}

/// Time to ask the sites for what a deleting job expects to find.
const PLAN_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const CANCELLED_BY: &str = "cancelled by ";

pub struct JobEngine {
    store: Store,
    audit: Audit,
    registry: SiteRegistry,
    sessions: SessionPool,
    health: Arc<HealthMonitor>,
    fan_out: FanOut,
    sealer: Sealer,
    writer: Writer,
    images: ImageCopier,
    spool: Arc<Spool>,
    config: EngineConfig,
    instruments: Arc<Instruments>,
    active: Arc<Mutex<Active>>,
    wake: Notify,
    events: broadcast::Sender<EngineEvent>,
    /// Set once at start, by the placement.
    rescheduler: std::sync::OnceLock<Arc<dyn Rescheduler>>,
}

/// Unfinished jobs and their tasks, by kind and state (`as_str` of the state).
#[derive(Debug, Default)]
pub struct ActiveCounts {
    pub jobs: BTreeMap<(String, &'static str), u64>,
    pub tasks: BTreeMap<(String, &'static str), u64>,
}

#[derive(Default)]
struct Active {
    jobs: HashMap<String, ActiveJob>,
    busy_sites: HashMap<String, usize>,
    in_flight: usize,
}

struct ActiveJob {
    row: JobRow,
    spec: Arc<JobSpec>,
    rollout: Rollout,
    tasks: BTreeMap<String, TaskRow>,
    cancel_requested: bool,
    /// Finished, and waiting for its last changes to be committed before it leaves memory.
    finishing: bool,
}

impl ActiveJob {
    fn counts(&self) -> TaskCounts {
        let mut counts = TaskCounts::default();
        for task in self.tasks.values() {
            counts.add(task_state(task));
        }
        counts
    }

    fn started(&self) -> bool {
        self.tasks
            .values()
            .any(|t| t.attempts > 0 || t.started_at.is_some())
    }
}

/// A job that passed every check, with the sites it runs at.
struct Checked {
    spec: JobSpec,
    sites: Vec<String>,
    canary: BTreeSet<String>,
    ttl: Duration,
}

/// One attempt to start, decided under the lock and run outside it.
struct Start {
    job_id: String,
    site: String,
    spec: Arc<JobSpec>,
    plan: Option<Value>,
}

fn parse_ts(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn task_state(row: &TaskRow) -> TaskState {
    TaskState::parse(&row.state).unwrap_or(TaskState::Failed)
}

/// The sites whose task has not started (pending, or waiting for its site).
fn unstarted_sites(job: &ActiveJob) -> Vec<String> {
    job.tasks
        .values()
        .filter(|t| {
            matches!(
                task_state(t),
                TaskState::Pending | TaskState::WaitingForSite
            )
        })
        .map(|t| t.site.clone())
        .collect()
}

fn task_view(row: &TaskRow) -> Task {
    Task {
        site: row.site.clone(),
        state: task_state(row),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        error: row.error.clone(),
        progress: progress_of(row),
        canary: row.canary != 0,
        result: row
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        next_attempt_at: row.next_attempt_at.clone(),
        started_at: row.started_at.clone(),
        finished_at: row.finished_at.clone(),
    }
}

fn progress_of(row: &TaskRow) -> Progress {
    let percent = u8::try_from(row.progress.clamp(0, 100)).unwrap_or(0);
    let Some(transfer) = row.transfer else {
        return Progress::Percent(percent);
    };
    let bytes_per_s = transfer.bytes_per_s(std::time::Instant::now());
    let eta_s = transfer
        .total
        .filter(|_| bytes_per_s > 0)
        .map(|total| total.saturating_sub(transfer.done) / bytes_per_s);
    Progress::Transfer(Transfer {
        percent,
        bytes_done: transfer.done,
        bytes_total: transfer.total,
        bytes_per_s,
        eta_s,
    })
}

fn job_view<'a>(row: &JobRow, tasks: impl Iterator<Item = &'a TaskRow>, with_tasks: bool) -> Job {
    let mut counts = TaskCounts::default();
    let mut views = Vec::new();
    for task in tasks {
        counts.add(task_state(task));
        if with_tasks {
            views.push(task_view(task));
        }
    }
    Job {
        id: row.id.clone(),
        kind: row.kind.clone(),
        state: JobState::parse(&row.state).unwrap_or(JobState::Failed),
        params: serde_json::from_str(&row.params).unwrap_or(Value::Null),
        targets: serde_json::from_str(&row.targets).unwrap_or_default(),
        rollout: serde_json::from_str(&row.rollout).unwrap_or_default(),
        created_by: row.created_by.clone(),
        created_at: row.created_at.clone(),
        updated_at: row.updated_at.clone(),
        expires_at: row.expires_at.clone(),
        finished_at: row.finished_at.clone(),
        stopped_reason: row.stopped_reason.clone(),
        counts,
        tasks: views,
    }
}

/// Which sites a job's `targets` name.
fn selection(targets: &Targets) -> Result<Selection, JobError> {
    Selection::from_targets(targets).map_err(|(field, message)| {
        let field = if field.is_empty() {
            "targets".to_owned()
        } else {
            format!("targets.{field}")
        };
        invalid(&field, message)
    })
}

impl JobEngine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        audit: Audit,
        registry: SiteRegistry,
        sessions: SessionPool,
        health: Arc<HealthMonitor>,
        fan_out: FanOut,
        sealer: Sealer,
        config: EngineConfig,
        instruments: Arc<Instruments>,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(4096);
        let spool = Arc::new(Spool::new(config.spool_dir.clone(), config.spool_limit));
        Arc::new(JobEngine {
            images: ImageCopier::new(sessions.clone(), spool.clone()),
            spool,
            writer: Writer::start(store.clone()),
            store,
            audit,
            registry,
            sessions,
            health,
            fan_out,
            sealer,
            config,
            instruments,
            active: Arc::default(),
            wake: Notify::new(),
            events,
            rescheduler: std::sync::OnceLock::new(),
        })
    }

    /// Who finds room elsewhere for the servers of a placed boot that a site had none for.
    pub fn set_rescheduler(&self, rescheduler: Arc<dyn Rescheduler>) {
        let _ = self.rescheduler.set(rescheduler);
    }

    fn active(&self) -> MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// The unfinished jobs whose every site `visible` lets through, and their tasks, by
    /// kind and state. From memory alone: a scrape never reads the jobs table, which
    /// keeps every job ever run.
    pub fn active_counts(&self, visible: impl Fn(&str) -> bool) -> ActiveCounts {
        let active = self.active();
        let mut counts = ActiveCounts::default();
        for job in active.jobs.values().filter(|j| !j.finishing) {
            if !job.tasks.keys().all(|site| visible(site)) {
                continue;
            }
            let state = JobState::parse(&job.row.state).unwrap_or(JobState::Failed);
            *counts
                .jobs
                .entry((job.row.kind.clone(), state.as_str()))
                .or_default() += 1;
            for task in job.tasks.values() {
                *counts
                    .tasks
                    .entry((job.row.kind.clone(), task_state(task).as_str()))
                    .or_default() += 1;
            }
        }
        counts
    }

    fn spec_of(&self, row: &JobRow) -> Result<JobSpec, String> {
        let opened = self
            .sealer
            .open(&row.sealed_params)
            .map_err(|e| format!("cannot open the job's parameters: {e}"))?;
        let params: Value = serde_json::from_slice(&opened).map_err(|e| e.to_string())?;
        JobSpec::parse(&row.kind, &params).map_err(|errors| format!("{errors:?}"))
    }

    /// A stored job with its tasks, ready to run. A job whose parameters cannot be
    /// opened or parsed any more is a conflict.
    async fn load(&self, row: JobRow) -> Result<ActiveJob, JobError> {
        let tasks = self.store.tasks_of(&row.id).await?;
        let spec = self.spec_of(&row).map_err(JobError::Conflict)?;
        Ok(ActiveJob {
            rollout: serde_json::from_str(&row.rollout).unwrap_or_default(),
            spec: Arc::new(spec),
            tasks: tasks.into_iter().map(|t| (t.site.clone(), t)).collect(),
            cancel_requested: row
                .stopped_reason
                .as_deref()
                .is_some_and(|r| r.starts_with(CANCELLED_BY)),
            finishing: false,
            row,
        })
    }

    /// Takes up the unfinished jobs of the database, e.g. after a crash. A task that was
    /// running when the console stopped runs again: the kinds check before they act.
    pub async fn resume(&self) -> Result<usize, JobError> {
        let rows = self.store.unfinished_jobs().await?;
        let count = rows.len();
        for row in rows {
            let stopped = row.stopped_reason.is_some();
            let id = row.id.clone();
            let mut job = match self.load(row).await {
                Ok(job) => job,
                Err(JobError::Conflict(error)) => {
                    tracing::error!(job = %id, %error, "cannot resume a job");
                    continue;
                }
                Err(other) => return Err(other),
            };
            let interrupted: Vec<String> = job
                .tasks
                .values()
                .filter(|t| task_state(t) == TaskState::Running)
                .map(|t| t.site.clone())
                .collect();
            for site in interrupted {
                self.update_task(&mut job, &site, |task| {
                    if stopped {
                        task.state = TaskState::Cancelled.as_str().into();
                        task.error = Some(
                            "interrupted by a console restart after the job was stopped".into(),
                        );
                        task.finished_at = Some(rfc3339(OffsetDateTime::now_utc()));
                    } else {
                        task.state = TaskState::Pending.as_str().into();
                        task.error = Some(
                            "interrupted by a console restart; runs again, checking the site first"
                                .into(),
                        );
                    }
                });
            }
            tracing::info!(job = %job.row.id, kind = %job.row.kind, "resuming job");
            self.active().jobs.insert(job.row.id.clone(), job);
        }
        self.wake.notify_one();
        Ok(count)
    }

    /// Checks a job exactly as `create` does (same errors, same fields) and resolves its
    /// sites, without storing anything or asking a site.
    async fn check(&self, new: &NewJob) -> Result<Checked, JobError> {
        let spec = JobSpec::parse(&new.kind, &new.params).map_err(JobError::Invalid)?;
        let selection = selection(&new.targets)?;
        let rollout = &new.rollout;
        if rollout.max_parallel == Some(0) {
            return Err(invalid("rollout.max_parallel", "must be at least 1"));
        }
        if rollout.max_failure_percent.is_some_and(|p| p > 100) {
            return Err(invalid("rollout.max_failure_percent", "must be 0 to 100"));
        }
        let ttl = match new.ttl_s {
            None => self.config.default_ttl,
            Some(s) if s == 0 || Duration::from_secs(s) > MAX_TTL => {
                return Err(invalid(
                    "ttl_s",
                    format!("must be 1 to {} seconds", MAX_TTL.as_secs()),
                ))
            }
            Some(s) => Duration::from_secs(s),
        };
        let sites = self
            .fan_out
            .resolve(&selection)
            .await
            .map_err(|e| match e {
                SiteError::NotFound(names) => {
                    invalid("targets.sites", format!("no registered site named {names}"))
                }
                other => other.into(),
            })?;
        if sites.is_empty() {
            return Err(invalid("targets", "the targets match no registered site"));
        }
        let canary: BTreeSet<String> = if !rollout.canary.is_empty() {
            let outside: Vec<&String> = rollout
                .canary
                .iter()
                .filter(|c| !sites.contains(c))
                .collect();
            if !outside.is_empty() {
                return Err(invalid(
                    "rollout.canary",
                    format!("canary sites must be among the targets: {outside:?} are not"),
                ));
            }
            rollout.canary.iter().cloned().collect()
        } else {
            let n = rollout.canary_count.unwrap_or(0) as usize;
            sites.iter().take(n).cloned().collect()
        };
        Ok(Checked {
            spec,
            sites,
            canary,
            ttl,
        })
    }

    /// A dry run: what `create` would do with this job, checked the same way, with
    /// nothing stored and no site asked.
    pub async fn preview(&self, new: &NewJob) -> Result<JobPreview, JobError> {
        let checked = self.check(new).await?;
        let sites: Vec<PreviewSite> = checked
            .sites
            .iter()
            .map(|site| PreviewSite {
                site: site.clone(),
                state: self.health.state(site).unwrap_or(SiteState::Unknown),
                canary: checked.canary.contains(site),
            })
            .collect();
        Ok(JobPreview {
            kind: new.kind.clone(),
            unreachable: sites
                .iter()
                .filter(|s| self.health.is_unreachable(&s.site))
                .map(|s| s.site.clone())
                .collect(),
            sites,
            max_parallel: new.rollout.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL),
        })
    }

    pub async fn create(&self, new: NewJob, created_by: &str) -> Result<Job, JobError> {
        let Checked {
            spec,
            sites,
            canary,
            ttl,
        } = self.check(&new).await?;
        let rollout = &new.rollout;
        let plans = match spec.plan_source() {
            None => HashMap::new(),
            Some(kind) => self
                .fan_out
                .read(kind, sites.clone(), PLAN_TIMEOUT, None)
                .await
                .into_iter()
                .filter(|(_, r)| r.answer.as_of.is_some())
                .filter_map(|(site, r)| spec.plan(&r.items).map(|plan| (site, plan.to_string())))
                .collect(),
        };

        let now = OffsetDateTime::now_utc();
        let id = uuid::Uuid::new_v4().to_string();
        let params = if new.params.is_null() {
            serde_json::json!({})
        } else {
            new.params.clone()
        };
        let row = JobRow {
            id: id.clone(),
            kind: new.kind.clone(),
            params: JobSpec::redact(&params).to_string(),
            sealed_params: self.sealer.seal(params.to_string().as_bytes()),
            targets: serde_json::to_string(&new.targets).unwrap_or_default(),
            rollout: serde_json::to_string(rollout).unwrap_or_default(),
            state: JobState::Pending.as_str().into(),
            created_by: created_by.into(),
            created_at: rfc3339(now),
            updated_at: rfc3339(now),
            expires_at: rfc3339(now + ttl),
            finished_at: None,
            stopped_reason: None,
        };
        let tasks: Vec<TaskRow> = sites
            .iter()
            .map(|site| TaskRow {
                job_id: id.clone(),
                site: site.clone(),
                state: TaskState::Pending.as_str().into(),
                canary: i64::from(canary.contains(site)),
                attempts: 0,
                error: None,
                result: None,
                progress: 0,
                plan: plans.get(site).cloned(),
                next_attempt_at: None,
                started_at: None,
                finished_at: None,
                transfer: None,
            })
            .collect();
        self.store.insert_job(&row, &tasks).await?;
        tracing::info!(job = %id, kind = %row.kind, sites = tasks.len(), by = created_by, "job created");
        self.audit
            .record(Record {
                actor: created_by.into(),
                action: format!("job.create {}", row.kind),
                target: Some(id.clone()),
                sites: sites.clone(),
                outcome: "accepted".into(),
                status: None,
                detail: Some(row.params.clone()),
            })
            .await;
        let job = ActiveJob {
            row,
            spec: Arc::new(spec),
            rollout: rollout.clone(),
            tasks: tasks.into_iter().map(|t| (t.site.clone(), t)).collect(),
            cancel_requested: false,
            finishing: false,
        };
        let view = job_view(&job.row, job.tasks.values(), true);
        let _ = self.events.send(EngineEvent::Job(Job {
            tasks: Vec::new(),
            ..view.clone()
        }));
        self.active().jobs.insert(id, job);
        self.wake.notify_one();
        Ok(view)
    }

    pub async fn get(&self, id: &str) -> Result<Job, JobError> {
        if let Some(job) = self.active().jobs.get(id) {
            return Ok(job_view(&job.row, job.tasks.values(), true));
        }
        let row = self
            .store
            .get_job(id)
            .await?
            .ok_or_else(|| JobError::NotFound(id.into()))?;
        let tasks = self.store.tasks_of(id).await?;
        Ok(job_view(&row, tasks.iter(), true))
    }

    /// The newest jobs first, with their counts but not their tasks.
    pub async fn list(&self, limit: usize, state: Option<JobState>) -> Result<Vec<Job>, JobError> {
        let rows = self
            .store
            .list_jobs(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut counts: HashMap<String, TaskCounts> = HashMap::new();
        for (job_id, task_state, n) in self.store.task_counts(&ids).await? {
            let entry = counts.entry(job_id).or_default();
            let state = TaskState::parse(&task_state).unwrap_or(TaskState::Failed);
            for _ in 0..n {
                entry.add(state);
            }
        }
        let active = self.active();
        let jobs = rows
            .into_iter()
            .map(|row| match active.jobs.get(&row.id) {
                Some(job) => job_view(&job.row, job.tasks.values(), false),
                None => {
                    let mut view = job_view(&row, std::iter::empty(), false);
                    view.counts = counts.remove(&row.id).unwrap_or_default();
                    view
                }
            })
            .filter(|job| state.is_none_or(|s| job.state == s))
            .collect();
        Ok(jobs)
    }

    /// Stops a job: tasks not yet started are cancelled; running ones finish their attempt.
    pub async fn cancel(&self, id: &str, by: &str) -> Result<Job, JobError> {
        let found = {
            let mut active = self.active();
            match active.jobs.get_mut(id).filter(|j| !j.finishing) {
                Some(job) => {
                    let reason = format!("{CANCELLED_BY}{by}");
                    job.cancel_requested = true;
                    self.cancel_waiting(job, &reason);
                    job.row.stopped_reason = Some(reason);
                    self.refresh_job(job, true);
                    true
                }
                None => false,
            }
        };
        if !found {
            return match self.store.get_job(id).await? {
                Some(_) => Err(JobError::Conflict(format!("job {id} is already finished"))),
                None => Err(JobError::NotFound(id.into())),
            };
        }
        tracing::info!(job = %id, by, "job cancelled");
        self.get(id).await
    }

    /// Runs the failed and cancelled tasks of a job again, with a fresh time to live.
    pub async fn retry(&self, id: &str) -> Result<Job, JobError> {
        let registered: BTreeSet<String> = self
            .registry
            .list()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect();
        let loaded = if self.active().jobs.contains_key(id) {
            None
        } else {
            let row = self
                .store
                .get_job(id)
                .await?
                .ok_or_else(|| JobError::NotFound(id.into()))?;
            Some(self.load(row).await?)
        };
        {
            let mut active = self.active();
            if let Some(job) = loaded {
                active.jobs.entry(id.to_owned()).or_insert(job);
            }
            let Some(job) = active.jobs.get_mut(id) else {
                return Err(JobError::NotFound(id.into()));
            };
            let again: Vec<String> = job
                .tasks
                .values()
                .filter(|t| matches!(task_state(t), TaskState::Failed | TaskState::Cancelled))
                .filter(|t| registered.contains(&t.site))
                .map(|t| t.site.clone())
                .collect();
            if again.is_empty() {
                if job.counts().finished() == job.counts().total {
                    job.finishing = true;
                    self.finish_later(id.to_owned());
                }
                return Err(JobError::Conflict(
                    "the job has no failed or cancelled task at a registered site to retry".into(),
                ));
            }
            for site in &again {
                self.update_task(job, site, |task| {
                    task.state = TaskState::Pending.as_str().into();
                    task.attempts = 0;
                    task.error = None;
                    task.result = None;
                    task.progress = 0;
                    task.next_attempt_at = None;
                    // A retried task's duration is that of its new run.
                    task.started_at = None;
                    task.finished_at = None;
                });
            }
            let now = OffsetDateTime::now_utc();
            let ttl = match (parse_ts(&job.row.created_at), parse_ts(&job.row.expires_at)) {
                (Some(created), Some(expires)) => expires - created,
                _ => {
                    time::Duration::try_from(self.config.default_ttl).unwrap_or(time::Duration::DAY)
                }
            };
            job.row.expires_at = rfc3339(now + ttl);
            job.row.finished_at = None;
            job.row.stopped_reason = None;
            job.cancel_requested = false;
            job.finishing = false;
            self.refresh_job(job, true);
            tracing::info!(job = %id, tasks = again.len(), "job retried");
        }
        self.wake.notify_one();
        self.get(id).await
    }
}

impl JobEngine {
    /// Changes one task, then saves it and tells the listeners.
    fn update_task(&self, job: &mut ActiveJob, site: &str, change: impl FnOnce(&mut TaskRow)) {
        let Some(task) = job.tasks.get_mut(site) else {
            return;
        };
        change(task);
        let row = task.clone();
        self.writer.task(row.clone());
        let counts = job.counts();
        let _ = self.events.send(EngineEvent::Task(TaskEvent {
            job_id: job.row.id.clone(),
            job_state: JobState::parse(&job.row.state).unwrap_or(JobState::Running),
            counts,
            task: task_view(&row),
        }));
    }

    /// Cancels every task that has not started, with a reason.
    fn cancel_waiting(&self, job: &mut ActiveJob, reason: &str) {
        let waiting = unstarted_sites(job);
        let now = rfc3339(OffsetDateTime::now_utc());
        for site in waiting {
            self.update_task(job, &site, |task| {
                task.state = TaskState::Cancelled.as_str().into();
                task.error = Some(reason.to_owned());
                task.next_attempt_at = None;
                task.finished_at = Some(now.clone());
            });
        }
    }

    /// Derives the job's state from its tasks; saves and announces a change (or always,
    /// with `force`). A finished job leaves memory once its changes are committed.
    fn refresh_job(&self, job: &mut ActiveJob, force: bool) {
        let state = policy::job_state(&job.counts(), job.cancel_requested, job.started());
        let changed = state.as_str() != job.row.state;
        if !changed && !force {
            return;
        }
        let now = rfc3339(OffsetDateTime::now_utc());
        job.row.state = state.as_str().into();
        job.row.updated_at = now.clone();
        if state.is_finished() {
            job.row.finished_at = Some(now);
        }
        self.writer.job(job.row.clone());
        let _ = self.events.send(EngineEvent::Job(job_view(
            &job.row,
            job.tasks.values(),
            false,
        )));
        if state.is_finished() && !job.finishing {
            job.finishing = true;
            tracing::info!(job = %job.row.id, state = state.as_str(), "job finished");
            self.instruments.job_finished(&job.row.kind, state.as_str());
            let counts = job.counts();
            self.audit.record_later(Record {
                actor: job.row.created_by.clone(),
                action: format!("job.finish {}", job.row.kind),
                target: Some(job.row.id.clone()),
                sites: job
                    .tasks
                    .values()
                    .filter(|t| task_state(t) != TaskState::Succeeded)
                    .map(|t| t.site.clone())
                    .collect(),
                outcome: state.as_str().into(),
                status: None,
                detail: Some(format!(
                    "{} of {} sites succeeded, {} failed, {} cancelled; sites listed are those that did not succeed",
                    counts.succeeded, counts.total, counts.failed, counts.cancelled
                )),
            });
            self.finish_later(job.row.id.clone());
        }
    }

    fn finish_later(&self, id: String) {
        let writer = self.writer.clone();
        let active = self.active.clone();
        tokio::spawn(async move {
            writer.flush().await;
            let mut active = active.lock().unwrap_or_else(PoisonError::into_inner);
            if active.jobs.get(&id).is_some_and(|j| j.finishing) {
                active.jobs.remove(&id);
            }
        });
    }
}

/// The scheduler: decides under the lock which tasks start, runs them outside it.
impl JobEngine {
    /// Runs until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        tokio::spawn(self.clone().follow_site_health());
        tokio::spawn(self.clone().follow_registry());
        loop {
            let (starts, next) = self.pass(OffsetDateTime::now_utc());
            for start in starts {
                tokio::spawn(self.clone().attempt(start));
            }
            let pause = next
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One scheduling pass over every active job. Returns the attempts to start and how
    /// soon the next pass is due.
    fn pass(&self, now: OffsetDateTime) -> (Vec<Start>, Option<Duration>) {
        let mut guard = self.active();
        let active = &mut *guard;
        let mut starts = Vec::new();
        let mut next: Option<Duration> = None;
        let mut ids: Vec<(String, String)> = active
            .jobs
            .values()
            .filter(|j| !j.finishing)
            .map(|j| (j.row.created_at.clone(), j.row.id.clone()))
            .collect();
        ids.sort();
        for (_, id) in ids {
            let Some(job) = active.jobs.get_mut(&id) else {
                continue;
            };
            self.expire(job, now);
            self.check_stop(job);
            let canary_pending = job
                .tasks
                .values()
                .any(|t| t.canary != 0 && task_state(t) != TaskState::Succeeded);
            let max_parallel = job.rollout.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL) as usize;
            let mut running = job.counts().running as usize;
            // Canary sites first, then the others by name.
            let mut order: Vec<(bool, String)> = job
                .tasks
                .values()
                .filter(|t| {
                    matches!(
                        task_state(t),
                        TaskState::Pending | TaskState::WaitingForSite
                    )
                })
                .map(|t| (t.canary == 0, t.site.clone()))
                .collect();
            order.sort();
            for (not_canary, site) in order {
                if not_canary && canary_pending {
                    break;
                }
                let Some(task) = job.tasks.get(&site) else {
                    continue;
                };
                if let Some(at) = task.next_attempt_at.as_deref().and_then(parse_ts) {
                    if at > now {
                        let wait = Duration::try_from(at - now).unwrap_or_default();
                        next = Some(next.map_or(wait, |n| n.min(wait)));
                        continue;
                    }
                }
                if self.health.is_unreachable(&site) {
                    if task_state(task) != TaskState::WaitingForSite {
                        self.update_task(job, &site, |task| {
                            task.state = TaskState::WaitingForSite.as_str().into();
                            task.error = Some(
                                "the site is unreachable; the task runs when it answers again"
                                    .into(),
                            );
                        });
                    }
                    continue;
                }
                if running >= max_parallel || active.in_flight >= self.config.max_in_flight {
                    break;
                }
                let busy = active.busy_sites.entry(site.clone()).or_default();
                if *busy >= self.config.per_site {
                    continue;
                }
                *busy += 1;
                active.in_flight += 1;
                running += 1;
                let started = rfc3339(now);
                self.update_task(job, &site, |task| {
                    task.state = TaskState::Running.as_str().into();
                    task.attempts += 1;
                    task.progress = task.progress.max(10);
                    task.next_attempt_at = None;
                    task.started_at.get_or_insert(started);
                });
                starts.push(Start {
                    job_id: id.clone(),
                    site: site.clone(),
                    spec: job.spec.clone(),
                    plan: job
                        .tasks
                        .get(&site)
                        .and_then(|t| t.plan.as_deref())
                        .and_then(|p| serde_json::from_str(p).ok()),
                });
            }
            self.refresh_job(job, false);
        }
        (starts, next)
    }

    /// Tasks still waiting when the job's time to live runs out fail, saying why.
    fn expire(&self, job: &mut ActiveJob, now: OffsetDateTime) {
        if parse_ts(&job.row.expires_at).is_none_or(|at| at > now) {
            return;
        }
        let waiting = unstarted_sites(job);
        for site in waiting {
            self.update_task(job, &site, |task| {
                let last = task
                    .error
                    .take()
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default();
                task.state = TaskState::Failed.as_str().into();
                task.error = Some(format!(
                    "the job expired before this site could be done{last}"
                ));
                task.next_attempt_at = None;
                task.finished_at = Some(rfc3339(now));
            });
        }
    }

    /// Stops the rollout when a canary failed or too many sites did.
    fn check_stop(&self, job: &mut ActiveJob) {
        if job.cancel_requested || job.row.stopped_reason.is_some() {
            return;
        }
        let failed_canary = job.tasks.values().find(|t| {
            t.canary != 0 && matches!(task_state(t), TaskState::Failed | TaskState::Cancelled)
        });
        let reason = match failed_canary {
            Some(task) => Some(format!(
                "stopped: canary site {} failed: {}",
                task.site,
                task.error.as_deref().unwrap_or("no reason given")
            )),
            None => policy::failures_exceeded(&job.rollout, &job.counts()),
        };
        if let Some(reason) = reason {
            tracing::warn!(job = %job.row.id, %reason, "rollout stopped");
            self.cancel_waiting(job, &reason);
            job.row.stopped_reason = Some(reason);
            self.refresh_job(job, true);
        }
    }

    async fn attempt(self: Arc<Self>, start: Start) {
        // Subscribed first, so a site that goes dark during the attempt is noticed.
        let mut health = self.health.subscribe();
        let gone_dark = async {
            loop {
                match health.recv().await {
                    Ok(event) if event.site == start.site && event.to == SiteState::Unreachable => {
                        return
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        let run = async {
            let session = self
                .sessions
                .session(&start.site)
                .await
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            // A copy moves gigabytes over slow links: it gets hours, not the minute of
            // an API call.
            let deadline = match &*start.spec {
                JobSpec::ImageCopy(_) | JobSpec::ServersBoot(_) => ImageCopier::deadline(),
                _ => Instant::now() + self.config.attempt_timeout,
            };
            let ops = SiteOps::new(start.site.clone(), session, deadline);
            let execution = async {
                match &*start.spec {
                    JobSpec::ImageCopy(copy) => {
                        let outcome = self.images.copy(&ops, copy, self.sent_to(&start)).await;
                        let _evicted = self.spool.evict().await;
                        outcome.map(|result| (result, None))
                    }
                    JobSpec::ServersBoot(boot) => {
                        let named: Option<Vec<String>> = start
                            .plan
                            .as_ref()
                            .and_then(|plan| serde_json::from_value(plan["names"].clone()).ok());
                        let outcome = super::boot::boot(
                            &ops,
                            boot,
                            named.as_deref(),
                            &self.images,
                            self.sent_to(&start),
                        )
                        .await;
                        let _evicted = self.spool.evict().await;
                        outcome.map(|booted| (booted.result, booted.short))
                    }
                    spec => spec
                        .execute(&ops, start.plan.as_ref())
                        .await
                        .map(|result| (result, None)),
                }
            };
            match tokio::time::timeout_at(deadline, execution).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Unreachable(format!(
                    "no answer within {} s",
                    self.config.attempt_timeout.as_secs()
                ))),
            }
        };
        // An attempt at a site that stopped answering is abandoned rather than waited
        // out; whatever it did or did not do, the next attempt checks first.
        let outcome = tokio::select! {
            outcome = run => outcome,
            () = gone_dark => Err(Failure::Unreachable("the site stopped answering during the attempt".into())),
        };
        let (outcome, moved) = match outcome {
            Ok((result, Some(short))) => self.place_elsewhere(&start, result, short).await,
            Ok((result, None)) => (Ok(result), Vec::new()),
            Err(failure) => (Err(failure), Vec::new()),
        };
        self.write_through(&start.site, &start.spec, &outcome);
        self.record(&start.job_id, &start.site, outcome, moved);
        self.wake.notify_one();
    }

    /// Servers of a placed boot that the site had no room for: the placement finds them
    /// other sites (each one the job has not used), where they become new tasks of the
    /// job under their own names. The task here then succeeds with what runs here and
    /// says where the rest went; it fails when no other site can take them, or when they
    /// have been moved `MAX_MOVES` times.
    async fn place_elsewhere(
        &self,
        start: &Start,
        mut result: Value,
        short: Shortfall,
    ) -> (Result<Value, Failure>, Vec<TaskRow>) {
        let moves = start
            .plan
            .as_ref()
            .and_then(|plan| plan["moves"].as_u64())
            .unwrap_or(0) as u32;
        let names = short.names.join(", ");
        let refuse = |why: String| {
            let failure = Failure::Permanent(format!(
                "{}; no other site took {names}: {why}",
                short.reason
            ));
            (Err(failure), Vec::new())
        };
        let (JobSpec::ServersBoot(spec), Some(rescheduler)) =
            (&*start.spec, self.rescheduler.get())
        else {
            return refuse("the boot was not placed by the console".into());
        };
        if moves >= MAX_MOVES {
            return refuse(format!("they were placed again {MAX_MOVES} times already"));
        }
        let tried: Vec<String> = self
            .active()
            .jobs
            .get(&start.job_id)
            .map(|job| job.tasks.keys().cloned().collect())
            .unwrap_or_default();
        let count = short.names.len() as u32;
        let sites = match rescheduler
            .elsewhere(&start.job_id, spec, count, &tried)
            .await
        {
            Ok(sites) => sites,
            Err(why) => return refuse(why),
        };
        let mut names = short.names.into_iter();
        let mut tasks = Vec::new();
        let mut went = Vec::new();
        for (site, n) in sites {
            let share: Vec<String> = names.by_ref().take(n as usize).collect();
            went.push(json!({"site": site, "servers": share}));
            tasks.push(TaskRow {
                job_id: start.job_id.clone(),
                site,
                state: TaskState::Pending.as_str().into(),
                canary: 0,
                attempts: 0,
                error: None,
                result: None,
                progress: 0,
                plan: Some(json!({"names": share, "moves": moves + 1}).to_string()),
                next_attempt_at: None,
                started_at: None,
                finished_at: None,
                transfer: None,
            });
        }
        let nothing_here = result["servers"].as_array().is_none_or(Vec::is_empty);
        if nothing_here {
            result["outcome"] = json!("moved");
        }
        result["moved"] = json!({"reason": short.reason, "to": went});
        (Ok(result), tasks)
    }

    /// The sha512 of a site's image, as its Glance computed it: what a replication policy
    /// given a site's image keeps.
    pub async fn content_of(&self, image: &ImageRef) -> Result<String, String> {
        self.images.content_of(image).await
    }

    /// What a transfer of this attempt calls with its bytes.
    fn sent_to(self: &Arc<Self>, start: &Start) -> impl Fn(Sent) + Send + Sync + 'static {
        let engine = self.clone();
        let (job_id, site) = (start.job_id.clone(), start.site.clone());
        move |sent| engine.report_sent(&job_id, &site, sent)
    }

    /// A copy's bytes as its task's progress. The bytes change in memory on every chunk;
    /// the row is written and announced only when the percentage moves, so a large image
    /// is not a database write per chunk.
    fn report_sent(&self, job_id: &str, site: &str, sent: Sent) {
        let mut guard = self.active();
        let Some(job) = guard.jobs.get_mut(job_id) else {
            return;
        };
        let Some(task) = job.tasks.get_mut(site) else {
            return;
        };
        let now = std::time::Instant::now();
        let transfer = task
            .transfer
            .unwrap_or_else(|| TransferProgress::start(sent.total, now));
        task.transfer = Some(transfer.advanced(sent.done, sent.total, now));
        // Never 100 before the target has checked what it received.
        let percent = match sent.total.filter(|t| *t > 0) {
            Some(total) => i64::try_from((sent.done.min(total) * 99) / total).unwrap_or(99),
            None => task.progress,
        };
        if task.progress < percent {
            self.update_task(job, site, |task| task.progress = percent);
        }
    }

    /// What an attempt changed at a site reaches the inventory at once: deleted items
    /// leave the snapshot now (the site may go dark before it is read again), and the
    /// kind is read again, so cached lists and fleet totals agree with the job.
    fn write_through(&self, site: &str, spec: &JobSpec, outcome: &Result<Value, Failure>) {
        let Some(kind) = spec.inventory_kind() else {
            return;
        };
        if let Ok(result) = outcome {
            let deleted: Vec<String> = match result["outcome"].as_str() {
                Some("deleted") => result["ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(result.get("id"))
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            if !deleted.is_empty() {
                self.fan_out.forget_items(site, kind, &deleted);
            }
        }
        if !matches!(outcome, Err(Failure::Unreachable(_))) {
            self.fan_out.refresh_soon(site, kind);
        }
    }

    /// What an attempt's outcome does to its task; `added` are tasks the job gains by it
    /// (servers placed again elsewhere), in the same change so the job cannot end between.
    fn record(
        &self,
        job_id: &str,
        site: &str,
        outcome: Result<Value, Failure>,
        added: Vec<TaskRow>,
    ) {
        let mut guard = self.active();
        let active = &mut *guard;
        active.in_flight = active.in_flight.saturating_sub(1);
        if let Some(busy) = active.busy_sites.get_mut(site) {
            *busy = busy.saturating_sub(1);
            if *busy == 0 {
                active.busy_sites.remove(site);
            }
        }
        let Some(job) = active.jobs.get_mut(job_id) else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        let stopped = job.cancel_requested || job.row.stopped_reason.is_some();
        let cap = self.config.retry_cap;
        self.update_task(job, site, |task| {
            task.transfer = None;
            match outcome {
                Ok(result) => {
                    task.state = TaskState::Succeeded.as_str().into();
                    task.error = None;
                    task.result = Some(result.to_string());
                    task.progress = 100;
                    task.finished_at = Some(rfc3339(now));
                }
                Err(failure) => {
                    let (state, message, retry_at) = match failure {
                        _ if stopped => {
                            (TaskState::Cancelled, "the job was stopped".to_owned(), None)
                        }
                        Failure::Unreachable(m) => (
                            TaskState::WaitingForSite,
                            m,
                            Some(policy::backoff(task.attempts, cap)),
                        ),
                        Failure::Transient(m) if task.attempts < MAX_ATTEMPTS => (
                            TaskState::Pending,
                            m,
                            Some(policy::backoff(task.attempts, cap)),
                        ),
                        Failure::Transient(m) => (
                            TaskState::Failed,
                            format!("{m} (after {} attempts)", task.attempts),
                            None,
                        ),
                        Failure::Permanent(m) => (TaskState::Failed, m, None),
                    };
                    task.state = state.as_str().into();
                    task.error = Some(message);
                    task.next_attempt_at = retry_at.map(|wait| rfc3339(now + wait));
                    if state.is_finished() {
                        task.finished_at = Some(rfc3339(now));
                    }
                }
            }
        });
        for task in added {
            let site = task.site.clone();
            if !job.tasks.contains_key(&site) {
                job.tasks.insert(site.clone(), task);
                self.update_task(job, &site, |_| {});
            }
        }
        self.check_stop(job);
        self.refresh_job(job, false);
    }

    /// A site that answers again: its waiting tasks run at once.
    async fn follow_site_health(self: Arc<Self>) {
        let mut events = self.health.subscribe();
        loop {
            match events.recv().await {
                Ok(event) if event.to != SiteState::Unreachable => {
                    let mut active = self.active();
                    for job in active.jobs.values_mut() {
                        let waiting: Vec<String> = job
                            .tasks
                            .values()
                            .filter(|t| {
                                t.site == event.site && task_state(t) == TaskState::WaitingForSite
                            })
                            .map(|t| t.site.clone())
                            .collect();
                        for site in waiting {
                            self.update_task(job, &site, |task| task.next_attempt_at = None);
                        }
                    }
                    drop(active);
                    self.wake.notify_one();
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.wake.notify_one(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// A site that leaves the console: its tasks that have not run are cancelled.
    async fn follow_registry(self: Arc<Self>) {
        let mut changes = self.registry.watch();
        loop {
            // Only unfinished jobs can lose a site; an import of 10,000 sites must not
            // make the engine list them all after every one.
            let idle = self.active().jobs.is_empty();
            let listed = if idle {
                None
            } else {
                self.registry.index().await.ok()
            };
            if let Some(registered) = listed {
                let mut active = self.active();
                for job in active.jobs.values_mut().filter(|j| !j.finishing) {
                    let gone: Vec<String> = job
                        .tasks
                        .values()
                        .filter(|t| !registered.contains_key(&t.site))
                        .filter(|t| {
                            matches!(
                                task_state(t),
                                TaskState::Pending | TaskState::WaitingForSite
                            )
                        })
                        .map(|t| t.site.clone())
                        .collect();
                    if gone.is_empty() {
                        continue;
                    }
                    let now = rfc3339(OffsetDateTime::now_utc());
                    for site in gone {
                        self.update_task(job, &site, |task| {
                            task.state = TaskState::Cancelled.as_str().into();
                            task.error =
                                Some(format!("site {} was removed from the console", task.site));
                            task.next_attempt_at = None;
                            task.finished_at = Some(now.clone());
                        });
                    }
                    self.refresh_job(job, false);
                }
            }
            if changes.changed().await.is_err() {
                return;
            }
            // Changes come in bursts (an import); look once the burst has passed.
            tokio::time::sleep(Duration::from_millis(500)).await;
            changes.mark_unchanged();
        }
    }
}
