//! A placed boot carried out: the plan is made and held, and the `servers.boot` job that
//! follows it is created with the plan's share for each site. Used by `POST
//! /api/v1/servers` with a `placement` and by deployments.

use std::collections::BTreeMap;

use overcast_api_types::jobs::{Job, NewJob, Rollout, Targets};
use overcast_api_types::placement::{Plan, PlanRequest};
use serde_json::{json, Value};

use super::{PlacementError, Placer};
use crate::jobs::{JobEngine, JobError, MAX_SERVERS_PER_SITE};

/// What to boot and over which sites.
pub struct Launch<'a> {
    pub request: PlanRequest,
    /// The sites the caller may use, with their labels.
    pub sites: &'a crate::sites::SiteLabels,
    /// Those sites' names, recorded for servers placed again later; none: every site.
    pub scope: Option<Vec<String>>,
    /// The job's parameters (name, flavor, image…) without the plan's part.
    pub params: Value,
    pub rollout: Rollout,
    pub ttl_s: Option<u64>,
    pub created_by: &'a str,
}

/// Each site's server names from a plan's shares.
pub type NameServers<'a> = dyn Fn(&Plan) -> BTreeMap<String, Vec<String>> + Sync + 'a;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Invalid(#[from] PlacementError),
    /// No plan meets the request: why, and the sites left out with their reasons.
    #[error("no plan meets the request: {0}")]
    Unmet(String),
    #[error(transparent)]
    Job(#[from] JobError),
}

impl Placer {
    /// Plans, holds and launches. `names` gives each site's servers their names where the
    /// caller chooses them (a deployment), from the plan's shares.
    pub async fn launch(
        &self,
        jobs: &JobEngine,
        launch: Launch<'_>,
        names: Option<&NameServers<'_>>,
    ) -> Result<(Plan, Job), LaunchError> {
        let mut request = launch.request;
        // One task boots at most this many servers at its site.
        let cap = request
            .constraints
            .max_per_site
            .unwrap_or(MAX_SERVERS_PER_SITE);
        request.constraints.max_per_site = Some(cap.min(MAX_SERVERS_PER_SITE));
        let (plan, hold) = self.plan_and_hold(&request, launch.sites).await?;
        if !plan.satisfiable {
            let excluded: Vec<String> = plan
                .excluded
                .iter()
                .map(|e| format!("{}: {}", e.site, e.reason))
                .collect();
            return Err(LaunchError::Unmet(format!(
                "{}; sites left out: {}",
                plan.unmet.clone().unwrap_or_default(),
                excluded.join("; ")
            )));
        }
        let counts: BTreeMap<&str, u32> = plan
            .allocations
            .iter()
            .map(|a| (a.site.as_str(), a.count))
            .collect();
        let mut params = launch.params;
        params["counts"] = json!(counts);
        // Servers a site turns out to have no room for are placed again the same way.
        params["placement"] = json!({"policy": request.policy, "constraints": request.constraints,
                                     "sites": launch.scope});
        if let Some(names) = names {
            params["names"] = json!(names(&plan));
        }
        let new = NewJob {
            kind: "servers.boot".into(),
            targets: Targets {
                sites: Some(counts.keys().map(|s| (*s).to_owned()).collect()),
                ..Default::default()
            },
            params,
            rollout: launch.rollout,
            ttl_s: launch.ttl_s,
        };
        let created = jobs.create(new, launch.created_by).await;
        match (&created, hold) {
            (Ok(job), Some(hold)) => self.reservations.bind(hold, &job.id),
            (Err(_), Some(hold)) => self.reservations.release(hold),
            (_, None) => {}
        }
        Ok((plan, created?))
    }
}
