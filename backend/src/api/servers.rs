//! Federated boot over HTTP: `POST /api/v1/servers`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::images::{FederatedBoot, ImageRef};
use overcast_api_types::jobs::{Job, NewJob};
use overcast_api_types::placement::{PlacementChoice, PlanRequest};
use serde_json::json;

use super::auth::Operator;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::federation::{Kind, Selection};
use crate::images::catalog::{catalog, first_live_copy_named, SiteImages};
use crate::placement::{Launch, LaunchError, PlacementError};

/// The inventory may be this old when a name is looked up across sites: the boot checks
/// each target itself anyway.
const NAME_LOOKUP_AGE: Duration = Duration::from_secs(3600);
const NAME_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts a `servers.boot` job: at each target the image is found by its content or
/// copied there, then the servers are booted and followed until they run.
pub async fn boot(
    State(state): State<AppState>,
    caller: Operator,
    ApiJson(request): ApiJson<FederatedBoot>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    if let Some(image) = &request.image {
        if !caller.sees_every_site() {
            let source = Selection::Sites(vec![image.site.clone()]);
            super::sites_in_scope(&state, &caller, &source, true).await?;
        }
        if state.sites.get(&image.site).await.is_err() {
            return Err(ApiError::invalid_field(
                "image.site",
                format!("no site is registered as {:?}", image.site),
            ));
        }
    }
    let image_source = match &request.image_name {
        Some(name) if request.image.is_none() => source_named(&state, &caller, name).await?,
        _ => None,
    };
    let mut params = json!({
        "name": request.name,
        "flavor": request.flavor,
        "count": request.count,
    });
    for (key, value) in [
        ("image", request.image.as_ref().map(|i| json!(i))),
        ("image_name", request.image_name.as_ref().map(|n| json!(n))),
        ("image_source", image_source.map(|i| json!(i))),
        ("networks", request.networks.as_ref().map(|n| json!(n))),
        ("key_name", request.key_name.as_ref().map(|k| json!(k))),
    ] {
        if let Some(value) = value {
            params[key] = value;
        }
    }
    let targets = match (&request.targets, &request.placement) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "placement",
                "give `targets` or `placement`, not both",
            ))
        }
        (Some(targets), None) => {
            if !caller.sees_every_site() {
                if let Ok(selection) = Selection::from_targets(targets) {
                    super::sites_in_scope(&state, &caller, &selection, true).await?;
                }
            }
            targets.clone()
        }
        // A plan is made over the caller's own sites, last, so that nothing can refuse
        // the request between the plan's hold and the job.
        (None, Some(choice)) => {
            let job = placed(&state, &caller, &request, choice, params).await?;
            return Ok((StatusCode::ACCEPTED, Json(job)));
        }
        (None, None) => {
            return Err(ApiError::invalid_field(
                "targets",
                "name the sites to boot on, or give a `placement` to let the console choose",
            ))
        }
    };
    let new = NewJob {
        kind: "servers.boot".into(),
        targets,
        params,
        rollout: request.rollout,
        ttl_s: request.ttl_s,
    };
    let job = state.jobs.create(new, &caller.username).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The job that boots the request where a plan over the caller's sites puts it.
async fn placed(
    state: &AppState,
    caller: &Operator,
    request: &FederatedBoot,
    choice: &PlacementChoice,
    params: serde_json::Value,
) -> Result<Job, ApiError> {
    let sites = super::sites_with_shared_labels(state, caller, &Selection::All).await?;
    let launch = Launch {
        request: PlanRequest {
            flavor: request.flavor.clone(),
            count: request.count,
            image: request.image.clone(),
            policy: choice.policy.clone(),
            constraints: choice.constraints.clone(),
        },
        scope: (!caller.sees_every_site()).then(|| sites.keys().cloned().collect()),
        sites: &sites,
        params,
        rollout: request.rollout.clone(),
        ttl_s: request.ttl_s,
        created_by: &caller.username,
    };
    match state.placer.launch(&state.jobs, launch, None).await {
        Ok((_, job)) => Ok(job),
        Err(LaunchError::Invalid(PlacementError::Invalid { field, message })) => Err(
            ApiError::invalid_field(&format!("placement.{field}"), message),
        ),
        Err(unmet @ LaunchError::Unmet(_)) => {
            Err(ApiError::invalid_field("placement", unmet.to_string()))
        }
        Err(LaunchError::Job(error)) => Err(error.into()),
    }
}

/// A site the caller may see that holds an active image of that name with data, for
/// targets that have none: the copy most sites hold.
async fn source_named(
    state: &AppState,
    caller: &Operator,
    name: &str,
) -> Result<Option<ImageRef>, ApiError> {
    let sites = super::sites_in_scope(state, caller, &Selection::All, false).await?;
    // The inventory first; if it knows no live copy (an image uploaded a moment ago is
    // still `queued` there), the sites are asked.
    for max_age in [Some(NAME_LOOKUP_AGE), None] {
        let read = state
            .fan_out
            .read(Kind::Images, sites.clone(), NAME_LOOKUP_TIMEOUT, max_age)
            .await;
        let found = read
            .into_iter()
            .map(|(site, result)| {
                let images = SiteImages {
                    answer: result.answer,
                    images: result.items,
                };
                (site, images)
            })
            .collect();
        if let Some(found) = first_live_copy_named(catalog(found, Some(name)), name) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}
