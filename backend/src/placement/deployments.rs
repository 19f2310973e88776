//! Deployments: "N servers of this image and flavor, placed by this policy", kept true.
//!
//! A reconciler compares, every few seconds, what each deployment asks with what its sites
//! show. Its servers carry the Nova metadata `overcast_deployment = <id>` and are named
//! `<name>-<n>`. A site that stays unreachable beyond the grace period has its servers
//! replaced elsewhere, through the same placed boot as `POST /api/v1/servers`. When such
//! a site returns with its servers running, nothing serving is deleted unless the
//! deployment's surplus rule says so (docs/decisions.md, decision 19): a partition is not
//! a failure of the servers behind it, and deleting what serves is the one mistake that
//! cannot be taken back.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use overcast_api_types::deployments::{
    DeployedServer, Deployment, DeploymentEvent, DeploymentPatch, DeploymentSite, NewDeployment,
    SurplusRule,
};
use overcast_api_types::jobs::{JobState, Rollout};
use overcast_api_types::l1::Server;
use overcast_api_types::placement::PlanRequest;
use overcast_api_types::SiteAnswerStatus;
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{plan::Policy, Launch, LaunchError, Placer};
use crate::federation::{FanOut, Kind, Selector, SessionPool};
use crate::jobs::JobEngine;
use crate::metrics::{unix_now, unix_rfc3339};
use crate::resources::SiteOps;
use crate::sites::SiteRegistry;
use crate::store::{DeploymentRow, Store, StoreError};

/// The metadata key that marks a server as a deployment's.
pub const MARK: &str = "overcast_deployment";
pub const DEFAULT_GRACE_S: u64 = 300;
/// Most servers one deployment keeps.
pub const MAX_COUNT: u32 = 1000;
/// Most deployments one console keeps.
const MAX_DEPLOYMENTS: usize = 1000;
const RECONCILE_EVERY: Duration = Duration::from_secs(2);
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Events shown with a deployment.
const EVENTS_SHOWN: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no deployment {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> DeploymentError {
    DeploymentError::Invalid {
        field,
        message: message.into(),
    }
}

/// What the last round saw of a deployment, in memory only.
#[derive(Debug, Default, Clone)]
struct Seen {
    sites: Vec<DeploymentSite>,
    serving: u32,
    pending: u32,
    unknown: u32,
    surplus: u32,
    /// Since when each site in use has not answered (unix seconds).
    unreachable_since: HashMap<String, i64>,
    /// The boot under way, if any: no second one starts meanwhile.
    boot_job: Option<String>,
    /// The last message recorded, so a round that changes nothing adds no event.
    last_event: Option<String>,
}

pub struct Deployments {
    store: Store,
    registry: SiteRegistry,
    fan_out: FanOut,
    sessions: SessionPool,
    placer: Arc<Placer>,
    jobs: Arc<JobEngine>,
    seen: Mutex<HashMap<String, Seen>>,
    wake: Notify,
}

/// Site → the names of the servers booted there.
type Placed = BTreeMap<String, Vec<String>>;

fn parse_spec(row: &DeploymentRow) -> Result<NewDeployment, StoreError> {
    serde_json::from_str(&row.spec)
        .map_err(|e| StoreError::Corrupt(format!("deployment {}: {e}", row.id)))
}

fn parse_placed(row: &DeploymentRow) -> Placed {
    serde_json::from_str(&row.placed).unwrap_or_default()
}

fn now_rfc3339() -> String {
    unix_rfc3339(unix_now())
}

impl Deployments {
    pub fn new(
        store: Store,
        registry: SiteRegistry,
        fan_out: FanOut,
        sessions: SessionPool,
        placer: Arc<Placer>,
        jobs: Arc<JobEngine>,
    ) -> Arc<Self> {
        Arc::new(Deployments {
            store,
            registry,
            fan_out,
            sessions,
            placer,
            jobs,
            seen: Mutex::default(),
            wake: Notify::new(),
        })
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks a request before anything is stored.
    fn check(spec: &NewDeployment) -> Result<(), DeploymentError> {
        let name_ok = !spec.name.is_empty()
            && spec.name.len() <= 48
            && spec
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !spec.name.starts_with('-');
        if !name_ok {
            return Err(invalid(
                "name",
                "1 to 48 lowercase letters, digits and dashes, not starting with a dash",
            ));
        }
        if spec.flavor.trim().is_empty() {
            return Err(invalid("flavor", "must name a flavor"));
        }
        if spec.image.is_some() == spec.image_name.is_some() {
            return Err(invalid(
                "image",
                "give either `image` ({\"site\", \"image_id\"}) or `image_name`",
            ));
        }
        if spec.count > MAX_COUNT {
            return Err(invalid("count", format!("must be 0 to {MAX_COUNT}")));
        }
        if Policy::parse(&spec.placement.policy).is_none() {
            return Err(invalid(
                "placement.policy",
                "must be spread, pack, power_of_two, lowest_latency or image_locality",
            ));
        }
        if let Some(selector) = &spec.placement.constraints.selector {
            Selector::parse(selector).map_err(|m| invalid("placement.constraints.selector", m))?;
        }
        if spec.grace_s == Some(0) {
            return Err(invalid("grace_s", "must be at least 1 second"));
        }
        Ok(())
    }

    /// Stores a deployment; the reconciler boots its servers. `scope`: the sites its
    /// creator may use (none: every site).
    pub async fn create(
        &self,
        spec: NewDeployment,
        scope: Option<Vec<String>>,
        created_by: &str,
    ) -> Result<Deployment, DeploymentError> {
        Self::check(&spec)?;
        if self.store.deployments().await?.len() >= MAX_DEPLOYMENTS {
            return Err(invalid(
                "name",
                format!("this console keeps at most {MAX_DEPLOYMENTS} deployments"),
            ));
        }
        let now = now_rfc3339();
        let row = DeploymentRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: spec.name.clone(),
            spec: json!(spec).to_string(),
            scope: scope.map(|s| json!(s).to_string()),
            state: "active".into(),
            placed: "{}".into(),
            scale_down: 0,
            created_by: created_by.into(),
            created_at: now.clone(),
            updated_at: now,
        };
        self.store.insert_deployment(&row).await?;
        self.event(&row.id, format!("created: {} servers wanted", spec.count))
            .await?;
        self.wake.notify_one();
        self.view(&row).await
    }

    /// The deployments, each as last seen; `visible` says which a caller may see.
    pub async fn list(
        &self,
        visible: impl Fn(Option<&[String]>) -> bool,
    ) -> Result<Vec<Deployment>, DeploymentError> {
        let mut items = Vec::new();
        for row in self.store.deployments().await? {
            if visible(scope_of(&row).as_deref()) {
                items.push(self.view(&row).await?);
            }
        }
        Ok(items)
    }

    /// One deployment and the scope it was made in.
    pub async fn get(
        &self,
        id: &str,
    ) -> Result<(Deployment, Option<Vec<String>>), DeploymentError> {
        let row = self.row(id).await?;
        Ok((self.view(&row).await?, scope_of(&row)))
    }

    async fn row(&self, id: &str) -> Result<DeploymentRow, DeploymentError> {
        self.store
            .deployment(id)
            .await?
            .ok_or_else(|| DeploymentError::NotFound(id.to_owned()))
    }

    /// A scale, a surplus rule, a grace period.
    pub async fn patch(
        &self,
        id: &str,
        patch: DeploymentPatch,
    ) -> Result<Deployment, DeploymentError> {
        let mut row = self.row(id).await?;
        let mut spec = parse_spec(&row)?;
        if row.state != "active" {
            return Err(invalid("state", "the deployment is being deleted"));
        }
        let mut changes = Vec::new();
        if let Some(count) = patch.count {
            if count < spec.count {
                row.scale_down = 1;
            }
            changes.push(format!("count {} → {count}", spec.count));
            spec.count = count;
        }
        if let Some(rule) = patch.surplus {
            spec.surplus = rule;
            changes.push(format!("surplus rule {}", rule_name(rule)));
        }
        if let Some(grace) = patch.grace_s {
            spec.grace_s = Some(grace);
            changes.push(format!("grace {grace} s"));
        }
        Self::check(&spec)?;
        row.spec = json!(spec).to_string();
        row.updated_at = now_rfc3339();
        self.store.update_deployment(&row).await?;
        if !changes.is_empty() {
            self.event(id, format!("changed: {}", changes.join(", ")))
                .await?;
        }
        self.wake.notify_one();
        self.view(&row).await
    }

    /// Marks it for deletion: the reconciler deletes its servers (waiting for sites that do
    /// not answer), then the record.
    pub async fn delete(&self, id: &str) -> Result<Deployment, DeploymentError> {
        let mut row = self.row(id).await?;
        if row.state != "deleting" {
            row.state = "deleting".into();
            row.updated_at = now_rfc3339();
            self.store.update_deployment(&row).await?;
            self.event(id, "deleting: its servers go first".to_owned())
                .await?;
        }
        self.wake.notify_one();
        self.view(&row).await
    }

    async fn view(&self, row: &DeploymentRow) -> Result<Deployment, DeploymentError> {
        let spec = parse_spec(row)?;
        let seen = self.seen().get(&row.id).cloned().unwrap_or_default();
        let events = self
            .store
            .deployment_events(&row.id, EVENTS_SHOWN)
            .await?
            .into_iter()
            .map(|e| DeploymentEvent {
                at: e.at,
                message: e.message,
            })
            .collect();
        Ok(Deployment {
            id: row.id.clone(),
            spec,
            state: row.state.clone(),
            serving: seen.serving,
            pending: seen.pending,
            unknown: seen.unknown,
            surplus: seen.surplus,
            sites: seen.sites,
            events,
            created_by: row.created_by.clone(),
            created_at: row.created_at.clone(),
            updated_at: row.updated_at.clone(),
        })
    }

    async fn event(&self, id: &str, message: String) -> Result<(), StoreError> {
        tracing::info!(deployment = %id, %message, "deployment");
        self.store
            .add_deployment_event(id, &now_rfc3339(), &message)
            .await
    }

    /// Records an event unless it repeats the last one (a round that changed nothing).
    async fn event_once(&self, id: &str, message: String) {
        {
            let mut seen = self.seen();
            let entry = seen.entry(id.to_owned()).or_default();
            if entry.last_event.as_deref() == Some(message.as_str()) {
                return;
            }
            entry.last_event = Some(message.clone());
        }
        if let Err(error) = self.event(id, message).await {
            tracing::warn!(deployment = %id, %error, "cannot record a deployment event");
        }
    }

    /// Reconciles every deployment, every few seconds or when one changes, until dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.store.deployments().await {
                Ok(rows) => {
                    let ids: BTreeSet<String> = rows.iter().map(|r| r.id.clone()).collect();
                    self.seen().retain(|id, _| ids.contains(id));
                    for row in rows {
                        let id = row.id.clone();
                        if let Err(error) = self.reconcile(row).await {
                            tracing::warn!(deployment = %id, %error, "reconcile failed");
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the deployments"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(RECONCILE_EVERY) => {}
            }
        }
    }

    async fn reconcile(&self, mut row: DeploymentRow) -> Result<(), DeploymentError> {
        let spec = parse_spec(&row)?;
        let mut placed = parse_placed(&row);
        let now = unix_now();
        let grace = i64::try_from(spec.grace_s.unwrap_or(DEFAULT_GRACE_S)).unwrap_or(i64::MAX);

        // A boot under way counts its servers as coming.
        let boot_job = self.seen().get(&row.id).and_then(|s| s.boot_job.clone());
        let booting = match &boot_job {
            Some(job) => match self.jobs.get(job).await {
                Ok(job) => !JobState::parse(job.state.as_str()).is_some_and(|s| s.is_finished()),
                Err(_) => false,
            },
            None => false,
        };

        let read = self
            .fan_out
            .read(
                Kind::Servers,
                placed.keys().cloned().collect(),
                READ_TIMEOUT,
                Some(RECONCILE_EVERY),
            )
            .await;
        let mut sites = Vec::new();
        let (mut serving, mut pending, mut unknown) = (0u32, 0u32, 0u32);
        // (created, site, server) of every ACTIVE server at an answering site.
        let mut active: Vec<(String, String, Server)> = Vec::new();
        let mut broken: Vec<(String, Server)> = Vec::new();
        let mut lost_sites = Vec::new();
        let mut returned = Vec::new();
        let mut unreachable_since = self
            .seen()
            .get(&row.id)
            .map(|s| s.unreachable_since.clone())
            .unwrap_or_default();
        for (site, names) in placed.iter_mut() {
            let answer = read.get(site);
            let answered = answer.is_some_and(|r| r.answer.status == SiteAnswerStatus::Ok);
            if !answered {
                let since = *unreachable_since.entry(site.clone()).or_insert(now);
                let lost = now - since >= grace;
                if lost {
                    lost_sites.push(site.clone());
                } else {
                    unknown += names.len() as u32;
                }
                sites.push(DeploymentSite {
                    site: site.clone(),
                    servers: names
                        .iter()
                        .map(|name| DeployedServer {
                            name: name.clone(),
                            status: "UNKNOWN".into(),
                        })
                        .collect(),
                    unreachable_since: Some(unix_rfc3339(since)),
                });
                continue;
            }
            if let Some(since) = unreachable_since.remove(site) {
                if now - since >= grace {
                    returned.push(site.clone());
                }
            }
            let ours: Vec<Server> = answer
                .into_iter()
                .flat_map(|r| r.items.iter())
                .filter_map(|item| serde_json::from_value::<Server>(item.clone()).ok())
                .filter(|s| s.metadata.get(MARK) == Some(&row.id))
                .collect();
            let mut shown = Vec::new();
            names.retain(|name| {
                let Some(server) = ours.iter().find(|s| &s.name == name) else {
                    // Not there yet while its boot runs; gone otherwise (deleted behind
                    // the console's back, or its boot failed): replaced.
                    if booting {
                        pending += 1;
                        shown.push(DeployedServer {
                            name: name.clone(),
                            status: "BOOTING".into(),
                        });
                    }
                    return booting;
                };
                shown.push(DeployedServer {
                    name: name.clone(),
                    status: server.status.clone(),
                });
                match server.status.as_str() {
                    "ACTIVE" => {
                        serving += 1;
                        let created = server.created.clone().unwrap_or_default();
                        active.push((created, site.clone(), server.clone()));
                        true
                    }
                    "ERROR" => {
                        broken.push((site.clone(), server.clone()));
                        false
                    }
                    _ => {
                        pending += 1;
                        true
                    }
                }
            });
            sites.push(DeploymentSite {
                site: site.clone(),
                servers: shown,
                unreachable_since: None,
            });
        }
        placed.retain(|_, names| !names.is_empty());

        for site in &returned {
            self.event_once(&row.id, format!("{site} answers again"))
                .await;
        }
        for (site, server) in broken {
            match self.delete_server(&site, &server).await {
                Ok(()) => {
                    self.event_once(
                        &row.id,
                        format!(
                            "{} at {site} went to ERROR ({}): deleted, to be replaced",
                            server.name,
                            server.fault.as_deref().unwrap_or("no reason given")
                        ),
                    )
                    .await
                }
                // Kept in the placed list, so it is tried again next round.
                Err(why) => {
                    tracing::warn!(deployment = %row.id, %site, server = %server.name, %why, "cannot delete a server in ERROR");
                    placed
                        .entry(site.clone())
                        .or_default()
                        .push(server.name.clone());
                }
            }
        }

        let deleting = row.state == "deleting";
        let wanted = if deleting { 0 } else { spec.count };
        let counted = serving + pending + unknown;
        let mut surplus = serving.saturating_sub(wanted);

        if deleting {
            for (_, site, server) in &active {
                if self.delete_server(site, server).await.is_ok() {
                    if let Some(names) = placed.get_mut(site) {
                        names.retain(|n| n != &server.name);
                    }
                }
            }
            placed.retain(|_, names| !names.is_empty());
            if placed.is_empty() {
                self.store.delete_deployment(&row.id).await?;
                self.seen().remove(&row.id);
                return Ok(());
            }
        } else if counted < wanted && !booting {
            let missing = wanted - counted;
            let why = match lost_sites.as_slice() {
                [] => String::new(),
                lost => format!(
                    " (replacing the servers of {}, unreachable for over {grace} s)",
                    lost.join(", ")
                ),
            };
            match self.boot(&row, &spec, &placed, missing).await {
                Ok((job_id, shares)) => {
                    let listed: Vec<String> = shares
                        .iter()
                        .map(|(site, names)| format!("{site} ({})", names.join(", ")))
                        .collect();
                    for (site, names) in shares {
                        placed.entry(site).or_default().extend(names);
                    }
                    self.seen().entry(row.id.clone()).or_default().boot_job = Some(job_id.clone());
                    self.event_once(
                        &row.id,
                        format!(
                            "booting {missing}{why}: {}; job {job_id}",
                            listed.join(", ")
                        ),
                    )
                    .await;
                }
                Err(why) => {
                    self.event_once(&row.id, format!("cannot boot {missing} more: {why}"))
                        .await
                }
            }
        } else if surplus > 0 {
            let trim = row.scale_down == 1 || spec.surplus == SurplusRule::RemoveNewest;
            // Only once every server counted serves: a count is never reached by deleting
            // a server that serves in favour of one that may not come up.
            if trim && pending == 0 && unknown == 0 {
                active.sort_by(|a, b| b.0.cmp(&a.0));
                for (_, site, server) in active.iter().take(surplus as usize) {
                    if self.delete_server(site, server).await.is_ok() {
                        if let Some(names) = placed.get_mut(site) {
                            names.retain(|n| n != &server.name);
                        }
                        surplus -= 1;
                        let cause = if row.scale_down == 1 {
                            "scaled down"
                        } else {
                            "surplus, rule remove_newest"
                        };
                        self.event_once(
                            &row.id,
                            format!("deleted {} at {site} ({cause})", server.name),
                        )
                        .await;
                    }
                }
                placed.retain(|_, names| !names.is_empty());
            } else if !trim {
                self.event_once(
                    &row.id,
                    format!(
                        "{surplus} serving beyond the count of {wanted}: kept (surplus rule keep)"
                    ),
                )
                .await;
            }
        }
        let scaled_down = row.scale_down == 1 && surplus == 0;
        let placed_now = json!(placed).to_string();
        if placed_now != row.placed || scaled_down {
            row.placed = placed_now;
            row.updated_at = now_rfc3339();
            self.store
                .update_deployment_placed(&row, scaled_down)
                .await?;
        }
        let mut seen = self.seen();
        let entry = seen.entry(row.id.clone()).or_default();
        entry.sites = sites;
        entry.serving = serving;
        entry.pending = pending;
        entry.unknown = unknown;
        entry.surplus = surplus;
        entry.unreachable_since = unreachable_since;
        if !booting && boot_job == entry.boot_job {
            entry.boot_job = None;
        }
        Ok(())
    }

    /// Launches a placed boot of `count` more servers over the sites the deployment may
    /// use. Returns the job's id and the names booted at each site.
    async fn boot(
        &self,
        row: &DeploymentRow,
        spec: &NewDeployment,
        placed: &Placed,
        count: u32,
    ) -> Result<(String, Placed), String> {
        let scope = scope_of(row);
        let sites: crate::sites::SiteLabels = self
            .registry
            .index()
            .await
            .map_err(|e| format!("cannot read the sites: {e}"))?
            .iter()
            .filter(|(name, _)| scope.as_ref().is_none_or(|allowed| allowed.contains(name)))
            .map(|(name, s)| (name.clone(), s.labels.clone()))
            .collect();
        let used: BTreeSet<&str> = placed.values().flatten().map(String::as_str).collect();
        let name_shares = |plan: &overcast_api_types::placement::Plan| {
            let mut free = (1u32..)
                .map(|n| format!("{}-{n}", spec.name))
                .filter(|name| !used.contains(name.as_str()));
            plan.allocations
                .iter()
                .map(|a| {
                    (
                        a.site.clone(),
                        free.by_ref().take(a.count as usize).collect(),
                    )
                })
                .collect::<Placed>()
        };
        let mut params = json!({"name": spec.name, "flavor": spec.flavor, "count": 1,
                                "metadata": {MARK: row.id}});
        if let Some(image) = &spec.image {
            params["image"] = json!(image);
        }
        if let Some(name) = &spec.image_name {
            params["image_name"] = json!(name);
        }
        if let Some(networks) = &spec.networks {
            params["networks"] = json!(networks);
        }
        // A plan sees only its own servers: the sites where the deployment's servers
        // already reach the per-site maximum (one, with different_sites) are left out.
        let mut constraints = spec.placement.constraints.clone();
        let per_site_max = match constraints.affinity {
            Some(overcast_api_types::placement::Affinity::DifferentSites) => Some(1),
            _ => constraints.max_per_site,
        };
        if let Some(max) = per_site_max {
            constraints.exclude.extend(
                placed
                    .iter()
                    .filter(|(_, names)| names.len() as u32 >= max)
                    .map(|(site, _)| site.clone()),
            );
        }
        let launch = Launch {
            request: PlanRequest {
                flavor: spec.flavor.clone(),
                count,
                image: spec.image.clone(),
                policy: spec.placement.policy.clone(),
                constraints,
            },
            sites: &sites,
            scope: scope.clone(),
            params,
            rollout: Rollout::default(),
            ttl_s: None,
            created_by: &row.created_by,
        };
        let (plan, job) = self
            .placer
            .launch(&self.jobs, launch, Some(&name_shares))
            .await
            .map_err(|e| match e {
                LaunchError::Unmet(_) | LaunchError::Invalid(_) => e.to_string(),
                LaunchError::Job(e) => e.to_string(),
            })?;
        Ok((job.id, name_shares(&plan)))
    }

    async fn delete_server(&self, site: &str, server: &Server) -> Result<(), String> {
        let session = self
            .sessions
            .session(site)
            .await
            .map_err(|e| e.to_string())?;
        let ops = SiteOps::new(site.to_owned(), session, Instant::now() + CALL_TIMEOUT);
        let deleted = ops
            .delete_server(&server.id)
            .await
            .map_err(|e| e.to_string());
        self.fan_out.refresh_soon(site, Kind::Servers);
        deleted
    }
}

fn scope_of(row: &DeploymentRow) -> Option<Vec<String>> {
    row.scope
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
}

fn rule_name(rule: SurplusRule) -> &'static str {
    match rule {
        SurplusRule::Keep => "keep",
        SurplusRule::RemoveNewest => "remove_newest",
    }
}
