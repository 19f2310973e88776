//! Implicit placement (L2.2): the console picks the sites for a request from what it
//! knows of each (fresh capacity from the metrics collector, flavors and images from the
//! inventory, health), by a policy and constraints, and says why for every site.

pub mod deployments;
pub mod launch;
pub mod plan;
pub mod reservations;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use overcast_api_types::l1::Image;
use overcast_api_types::placement::{Plan, PlanRequest};
use overcast_api_types::{SiteAnswerStatus, SiteState};
use rand::Rng;

use crate::federation::{FanOut, HealthMonitor, Kind, Selector};
use crate::jobs::{Placing, Rescheduler, ServersBoot};
use crate::metrics::{unix_now, Metrics};
use crate::sites::{SiteLabels, SiteRegistry};
pub use deployments::{DeploymentError, Deployments};
pub use launch::{Launch, LaunchError};
use plan::{Candidate, Free, Need, Policy};
pub use reservations::Reservations;

/// Most servers one plan places.
pub const MAX_COUNT: u32 = 10_000;
/// Lists younger than this are used without asking the site.
const LIST_MAX_AGE: Duration = Duration::from_secs(300);
/// Longest a plan waits for a site's flavors or images it does not know yet.
const LIST_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> PlacementError {
    PlacementError::Invalid {
        field,
        message: message.into(),
    }
}

/// What a plan holds of what it places.
enum Holding<'a> {
    /// Nothing: a plan to look at.
    None,
    /// A new hold, for the job about to be made.
    New,
    /// More for the hold of a job under way.
    ForJob(&'a str),
}

pub struct Placer {
    registry: SiteRegistry,
    fan_out: FanOut,
    health: Arc<HealthMonitor>,
    metrics: Arc<Metrics>,
    pub reservations: Reservations,
}

impl Placer {
    pub fn new(
        registry: SiteRegistry,
        fan_out: FanOut,
        health: Arc<HealthMonitor>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Placer {
            registry,
            fan_out,
            health,
            metrics,
            reservations: Reservations::default(),
        })
    }

    /// A plan for `request` over `sites` (name and labels: the sites the caller may use).
    /// Nothing is held: a plan to look at.
    pub async fn plan(
        &self,
        request: &PlanRequest,
        sites: &SiteLabels,
    ) -> Result<Plan, PlacementError> {
        Ok(self.decide(request, sites, Holding::None).await?.0)
    }

    /// A plan to carry out: what it places is held (see [`Reservations`]) until the boot
    /// ends and the sites' figures show it; the hold's id goes with the job.
    pub async fn plan_and_hold(
        &self,
        request: &PlanRequest,
        sites: &SiteLabels,
    ) -> Result<(Plan, Option<u64>), PlacementError> {
        self.decide(request, sites, Holding::New).await
    }

    /// Follows the job engine: a boot task that ends settles or frees its hold.
    pub async fn follow_jobs(
        self: Arc<Self>,
        mut events: tokio::sync::broadcast::Receiver<crate::jobs::EngineEvent>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match events.recv().await {
                Ok(crate::jobs::EngineEvent::Task(event)) => {
                    use overcast_api_types::jobs::TaskState::{Cancelled, Failed, Succeeded};
                    let succeeded = match event.task.state {
                        Succeeded => true,
                        Failed | Cancelled => false,
                        _ => continue,
                    };
                    self.reservations.task_ended(
                        &event.job_id,
                        &event.task.site,
                        succeeded,
                        unix_now(),
                    );
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn decide(
        &self,
        request: &PlanRequest,
        sites: &SiteLabels,
        holding: Holding<'_>,
    ) -> Result<(Plan, Option<u64>), PlacementError> {
        let policy = Policy::parse(&request.policy).ok_or_else(|| {
            invalid(
                "policy",
                "must be spread, pack, power_of_two, lowest_latency or image_locality",
            )
        })?;
        if request.flavor.trim().is_empty() {
            return Err(invalid("flavor", "must name a flavor"));
        }
        if !(1..=MAX_COUNT).contains(&request.count) {
            return Err(invalid("count", format!("must be 1 to {MAX_COUNT}")));
        }
        let selector = request
            .constraints
            .selector
            .as_deref()
            .map(Selector::parse)
            .transpose()
            .map_err(|message| invalid("constraints.selector", message))?;
        if let Some(spread) = &request.constraints.spread_across {
            if spread.label.trim().is_empty() || spread.min_distinct == 0 {
                return Err(invalid(
                    "constraints.spread_across",
                    "needs a label and a min_distinct of at least 1",
                ));
            }
        }
        let names: Vec<String> = sites.keys().cloned().collect();
        // The inventory's snapshots themselves, shared: each site's flavors are looked up
        // by name in a table made once per snapshot, not parsed again for every plan.
        let flavors = self
            .fan_out
            .read_shared(
                Kind::Flavors,
                names.clone(),
                LIST_TIMEOUT,
                Some(LIST_MAX_AGE),
            )
            .await;
        let wanted_hash = match &request.image {
            Some(image) => Some(self.content_of(image).await?),
            None => None,
        };
        let images = match &wanted_hash {
            Some(_) => Some(
                self.fan_out
                    .read_shared(Kind::Images, names, LIST_TIMEOUT, Some(LIST_MAX_AGE))
                    .await,
            ),
            None => None,
        };
        let now = unix_now();
        // Borrowed, not copied: every site's figures and quotas stay where they are.
        let latest = self.metrics.latest_view();
        let mut candidates: Vec<Candidate> = sites
            .iter()
            .map(|(site, labels)| {
                let listed = flavors.get(site).and_then(|r| r.snapshot.as_ref());
                let flavor = listed.and_then(|s| s.flavor(&request.flavor));
                let flavors_known = listed.is_some();
                let holds_image = match (&wanted_hash, &images) {
                    (Some(hash), Some(images)) => images
                        .get(site)
                        .and_then(|r| r.snapshot.as_ref())
                        .is_some_and(|s| s.holds_active_image(hash)),
                    _ => false,
                };
                let last = latest.get(site);
                let figures = last.and_then(|l| l.values.as_ref());
                let gap = last.and_then(|l| l.gap.as_ref());
                let value = |metric: &str| {
                    figures.and_then(|(_, v)| {
                        crate::metrics::values::index_of(metric).and_then(|at| v.get(at))
                    })
                };
                let free = |capacity: &str, used: &str| {
                    value(capacity)
                        .zip(value(used))
                        .map(|(c, u)| (c - u).max(0.0))
                };
                let unusable = match self.health.state(site) {
                    Some(SiteState::Unreachable) => Some(self.health.unreachable_reason(site)),
                    Some(SiteState::Degraded) => Some(format!(
                        "degraded: {}",
                        self.health
                            .reason(site)
                            .unwrap_or_else(|| "slow or partly failing".into())
                    )),
                    _ => match figures {
                        _ if gap.is_some() => {
                            gap.map(|(_, why)| format!("its last reading failed: {why}"))
                        }
                        None => Some("no capacity figures yet (not collected)".into()),
                        Some((at, _)) if !self.metrics.is_fresh(*at, now) => Some(format!(
                            "capacity figures too old ({} s): the site was not read lately",
                            now - at
                        )),
                        Some(_) if value("capacity_vcpus").is_none() => {
                            Some("no Placement figures from this site".into())
                        }
                        Some(_) if !flavors_known => Some("its flavors are not known yet".into()),
                        Some(_) => None,
                    },
                };
                let need = flavor.map(|f| Need {
                    vcpus: f64::from(f.vcpus),
                    ram_mb: f.ram_mb as f64,
                    disk_gb: f.disk_gb as f64,
                });
                Candidate {
                    site: site.clone(),
                    labels: labels.clone(),
                    unusable,
                    need,
                    free: Free {
                        vcpus: free("capacity_vcpus", "used_vcpus").unwrap_or(0.0),
                        ram_mb: free("capacity_ram_mb", "used_ram_mb").unwrap_or(0.0),
                        disk_gb: free("capacity_disk_gb", "used_disk_gb").unwrap_or(0.0),
                    },
                    quota: need.and_then(|need| {
                        let own = last?.quotas.as_ref()?.own()?;
                        plan::quota_room(&own.compute, &own.usage.compute, need)
                    }),
                    latency_ms: value("api_latency_ms"),
                    holds_image,
                }
            })
            .collect();
        let figures_at: HashMap<&str, i64> = sites
            .keys()
            .filter_map(|site| {
                let at = latest.get(site)?.values.as_ref()?.0;
                Some((site.as_str(), at))
            })
            .collect();
        drop(latest);
        let mut rng = rand::thread_rng();
        let mut held = self.reservations.lock();
        held.deduct(&mut candidates, |site| figures_at.get(site).copied(), now);
        let plan = plan::plan(
            request.count,
            policy,
            &request.constraints,
            selector.as_ref(),
            &candidates,
            |n| rng.gen_range(0..n.max(1)),
        );
        if !plan.satisfiable {
            return Ok((plan, None));
        }
        let needs: HashMap<&str, Need> = candidates
            .iter()
            .filter_map(|c| Some((c.site.as_str(), c.need?)))
            .collect();
        let claims = plan
            .allocations
            .iter()
            .filter_map(|a| Some((a.site.clone(), *needs.get(a.site.as_str())?, a.count)));
        let hold_id = match holding {
            Holding::None => None,
            Holding::New => Some(held.hold(claims, now)),
            Holding::ForJob(job) => {
                held.hold_for_job(job, claims, now);
                None
            }
        };
        Ok((plan, hold_id))
    }

    /// The sha512 of a site's image, from the inventory.
    async fn content_of(
        &self,
        image: &overcast_api_types::images::ImageRef,
    ) -> Result<String, PlacementError> {
        // The inventory first; an image it does not know with its content (uploaded
        // since) is looked for at the site itself.
        for max_age in [Some(LIST_MAX_AGE), None] {
            let read = self
                .fan_out
                .read(
                    Kind::Images,
                    vec![image.site.clone()],
                    LIST_TIMEOUT,
                    max_age,
                )
                .await;
            let hash = read.get(&image.site).and_then(|r| {
                if r.answer.status == SiteAnswerStatus::NotOffered {
                    return None;
                }
                r.items
                    .iter()
                    .filter_map(|i| serde_json::from_value::<Image>(i.clone()).ok())
                    .find(|i| i.id == image.image_id)
                    .and_then(|i| i.hash)
            });
            if let Some(hash) = hash {
                return Ok(hash);
            }
        }
        Err(invalid(
            "image",
            format!(
                "no image {} with a sha512 on {}",
                image.image_id, image.site
            ),
        ))
    }
}

impl Rescheduler for Placer {
    /// Plans the servers a site had no room for as the boot was planned (its policy and
    /// constraints, over the sites its creator could use), less every site the job has
    /// used. `spread_across` is left out, as a count of a few servers cannot meet a
    /// spread that the whole boot did; a boot that must stay on one site stays failed.
    fn elsewhere<'a>(
        &'a self,
        job: &'a str,
        spec: &'a ServersBoot,
        count: u32,
        tried: &'a [String],
    ) -> Placing<'a> {
        Box::pin(async move {
            let placed = spec
                .placement
                .as_ref()
                .ok_or("the boot was not placed by the console")?;
            let mut constraints = placed.constraints.clone();
            if constraints.affinity == Some(overcast_api_types::placement::Affinity::SameSite) {
                return Err("its servers must share one site (affinity same_site)".into());
            }
            constraints.spread_across = None;
            constraints.exclude.extend(tried.iter().cloned());
            let registered = self
                .registry
                .index()
                .await
                .map_err(|e| format!("cannot read the sites: {e}"))?;
            let sites: SiteLabels = registered
                .iter()
                .filter(|(name, _)| {
                    placed
                        .sites
                        .as_ref()
                        .is_none_or(|allowed| allowed.contains(name))
                })
                .map(|(name, s)| (name.clone(), s.labels.clone()))
                .collect();
            let request = PlanRequest {
                flavor: spec.flavor.clone(),
                count,
                image: spec.image.clone().or_else(|| spec.image_source.clone()),
                policy: placed.policy.clone(),
                constraints,
            };
            let (plan, _) = self
                .decide(&request, &sites, Holding::ForJob(job))
                .await
                .map_err(|e| e.to_string())?;
            if !plan.satisfiable {
                return Err(plan.unmet.unwrap_or_else(|| "no site has room".into()));
            }
            Ok(plan
                .allocations
                .into_iter()
                .map(|a| (a.site, a.count))
                .collect())
        })
    }
}
