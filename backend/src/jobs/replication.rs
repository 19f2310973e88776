//! Replication policies kept: every few seconds each policy's target sites are compared
//! with what the inventory knows of their images, and the sites that lack the content get
//! an `image.copy` job, so a site that joins, comes back or loses its copy gets the image
//! without anyone asking.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use overcast_api_types::images::{ImagePolicy, NewImagePolicy, PolicyImage};
use overcast_api_types::jobs::{Job, NewJob, Targets};
use overcast_api_types::FieldError;
use serde_json::json;
use time::OffsetDateTime;

use super::{JobEngine, JobError};
use crate::federation::{FanOut, HealthMonitor, Kind, Selection};
use crate::images::copy::is_sha512;
use crate::images::policy::{drift, held_in, source, Held};
use crate::sites::rfc3339;
use crate::store::{PolicyRow, Store};

const RECONCILE_EVERY: Duration = Duration::from_secs(10);

pub struct Replication {
    store: Store,
    fan_out: FanOut,
    health: Arc<HealthMonitor>,
    jobs: Arc<JobEngine>,
    /// The copy job running for a policy: one at a time each, so a slow site is not
    /// handed a second copy of the same image. As many entries as policies.
    running: Mutex<HashMap<String, String>>,
}

fn invalid(field: &str, message: impl Into<String>) -> JobError {
    JobError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

impl Replication {
    pub fn new(
        store: Store,
        fan_out: FanOut,
        health: Arc<HealthMonitor>,
        jobs: Arc<JobEngine>,
    ) -> Arc<Self> {
        Arc::new(Replication {
            store,
            fan_out,
            health,
            jobs,
            running: Mutex::new(HashMap::new()),
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub async fn create(&self, new: NewImagePolicy, by: &str) -> Result<ImagePolicy, JobError> {
        Selection::from_targets(&new.targets).map_err(|(field, message)| {
            let field = if field.is_empty() {
                "targets".to_owned()
            } else {
                format!("targets.{field}")
            };
            invalid(&field, message)
        })?;
        let sha512 = match &new.image {
            PolicyImage::Content { sha512 } => {
                if !is_sha512(sha512) {
                    return Err(invalid("image.sha512", "must be 128 hexadecimal digits"));
                }
                sha512.to_ascii_lowercase()
            }
            PolicyImage::Site(image) => self
                .jobs
                .content_of(image)
                .await
                .map_err(|message| invalid("image", message))?,
        };
        let row = PolicyRow {
            id: uuid::Uuid::new_v4().to_string(),
            image: serde_json::to_string(&new.image).unwrap_or_default(),
            sha512,
            targets: serde_json::to_string(&new.targets).unwrap_or_default(),
            created_by: by.to_owned(),
            created_at: rfc3339(OffsetDateTime::now_utc()),
        };
        self.store.insert_policy(&row).await?;
        tracing::info!(policy = %row.id, by, "replication policy created");
        let policy = self.reconcile(&row).await;
        Ok(policy)
    }

    pub async fn list(&self) -> Result<Vec<ImagePolicy>, JobError> {
        let rows = self.store.policies().await?;
        let mut shown = Vec::with_capacity(rows.len());
        for row in &rows {
            shown.push(self.view(row).await);
        }
        Ok(shown)
    }

    pub async fn get(&self, id: &str) -> Result<ImagePolicy, JobError> {
        let row = self
            .store
            .policy(id)
            .await?
            .ok_or_else(|| JobError::NotFound(id.into()))?;
        Ok(self.view(&row).await)
    }

    /// Forgets the policy. The copies it made stay on their sites unless `delete_copies`:
    /// then a job of kind `image.delete_copies` removes them from every site of the
    /// policy (the images Overcast did not make stay), and is returned.
    pub async fn delete(
        &self,
        id: &str,
        delete_copies: bool,
        by: &str,
    ) -> Result<Option<Job>, JobError> {
        let row = self
            .store
            .policy(id)
            .await?
            .ok_or_else(|| JobError::NotFound(id.into()))?;
        let sites = match delete_copies {
            true => self.holdings(&row).await.0,
            false => Vec::new(),
        };
        if !self.store.delete_policy(id).await? {
            return Err(JobError::NotFound(id.into()));
        }
        self.running().remove(id);
        tracing::info!(policy = %id, by, delete_copies, "replication policy deleted");
        if sites.is_empty() {
            return Ok(None);
        }
        let new = NewJob {
            kind: "image.delete_copies".into(),
            targets: Targets {
                sites: Some(sites),
                ..Default::default()
            },
            params: json!({"sha512": row.sha512}),
            rollout: Default::default(),
            ttl_s: None,
        };
        Ok(Some(self.jobs.create(new, by).await?))
    }

    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        loop {
            tick.tick().await;
            match self.store.policies().await {
                Ok(rows) => {
                    for row in &rows {
                        self.reconcile(row).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the replication policies"),
            }
        }
    }

    /// The policy's sites and what each holds, from the inventory (no site is asked).
    async fn holdings(&self, row: &PolicyRow) -> (Vec<String>, BTreeMap<String, Option<Held>>) {
        let targets: Targets = serde_json::from_str(&row.targets).unwrap_or_default();
        let sites = match Selection::from_targets(&targets) {
            Ok(selection) => self.fan_out.resolve(&selection).await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        // Candidates for a source are every site that holds the content, not only targets.
        let every = self
            .fan_out
            .resolve(&Selection::All)
            .await
            .unwrap_or_default();
        let holdings = every
            .iter()
            .filter_map(|site| {
                self.fan_out
                    .cached(site, Kind::Images)
                    .map(|snapshot| (site.clone(), held_in(&snapshot.items, &row.sha512)))
            })
            .collect();
        (sites, holdings)
    }

    async fn view(&self, row: &PolicyRow) -> ImagePolicy {
        self.forget_finished_copy(&row.id).await;
        let (sites, holdings) = self.holdings(row).await;
        self.shown(row, drift(&sites, &holdings))
    }

    /// Whether the policy's copy job still runs; a finished one is forgotten, so the
    /// policy is not shown copying until the next reconciliation.
    async fn forget_finished_copy(&self, policy: &str) -> bool {
        let Some(job_id) = self.running().get(policy).cloned() else {
            return false;
        };
        let finished = self
            .jobs
            .get(&job_id)
            .await
            .map_or(true, |job| job.state.is_finished());
        if finished {
            self.running().remove(policy);
        }
        !finished
    }

    fn shown(
        &self,
        row: &PolicyRow,
        drift: Vec<overcast_api_types::images::PolicyDrift>,
    ) -> ImagePolicy {
        ImagePolicy {
            id: row.id.clone(),
            image: serde_json::from_str(&row.image).unwrap_or(PolicyImage::Content {
                sha512: row.sha512.clone(),
            }),
            sha512: row.sha512.clone(),
            targets: serde_json::from_str(&row.targets).unwrap_or_default(),
            created_by: row.created_by.clone(),
            created_at: row.created_at.clone(),
            missing: drift.iter().filter(|d| d.state != "holds").count(),
            drift,
            job_id: self.running().get(&row.id).cloned(),
        }
    }

    /// Starts a copy to the reachable sites that lack the content, unless one runs.
    async fn reconcile(&self, row: &PolicyRow) -> ImagePolicy {
        if self.forget_finished_copy(&row.id).await {
            return self.view(row).await;
        }
        let (sites, holdings) = self.holdings(row).await;
        let drift = drift(&sites, &holdings);
        for unknown in drift.iter().filter(|d| d.state == "unknown") {
            self.fan_out.refresh_soon(&unknown.site, Kind::Images);
        }
        let missing: Vec<String> = drift
            .iter()
            .filter(|d| d.state == "missing" && !self.health.is_unreachable(&d.site))
            .map(|d| d.site.clone())
            .collect();
        let preferred = match serde_json::from_str(&row.image) {
            Ok(PolicyImage::Site(image)) => Some(image),
            _ => None,
        };
        let from = source(preferred.as_ref(), &holdings);
        if let (false, Some(from)) = (missing.is_empty(), from) {
            let new = NewJob {
                kind: "image.copy".into(),
                targets: Targets {
                    sites: Some(missing),
                    ..Default::default()
                },
                params: json!({"source": from}),
                rollout: Default::default(),
                ttl_s: None,
            };
            match self.jobs.create(new, &format!("policy {}", row.id)).await {
                Ok(job) => {
                    tracing::info!(policy = %row.id, job = %job.id, "replication copy started");
                    self.running().insert(row.id.clone(), job.id);
                }
                Err(error) => {
                    tracing::warn!(policy = %row.id, ?error, "cannot start a replication copy")
                }
            }
        }
        self.shown(row, drift)
    }
}
