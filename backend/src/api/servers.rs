//! Federated boot over HTTP: `POST /api/v1/servers`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::images::{FederatedBoot, ImageRef};
use overcast_api_types::jobs::{Job, NewJob};
use serde_json::json;

use super::auth::Operator;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::federation::{Kind, Selection};
use crate::images::catalog::{catalog, first_live_copy_named, SiteImages};

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
    if request.placement.is_some() {
        return Err(ApiError::invalid_field(
            "placement",
            "the console cannot choose sites by itself yet: name them in `targets`",
        ));
    }
    let targets = request
        .targets
        .clone()
        .ok_or_else(|| ApiError::invalid_field("targets", "name the sites to boot on"))?;
    if !caller.sees_every_site() {
        if let Ok(selection) = Selection::from_targets(&targets) {
            super::sites_in_scope(&state, &caller, &selection, true).await?;
        }
        if let Some(image) = &request.image {
            let source = Selection::Sites(vec![image.site.clone()]);
            super::sites_in_scope(&state, &caller, &source, true).await?;
        }
    }
    if let Some(image) = &request.image {
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

/// A site the caller may see that holds an active image of that name with data, for
/// targets that have none: the copy most sites hold.
async fn source_named(
    state: &AppState,
    caller: &Operator,
    name: &str,
) -> Result<Option<ImageRef>, ApiError> {
    let sites = super::sites_in_scope(state, caller, &Selection::All, false).await?;
    let read = state
        .fan_out
        .read(
            Kind::Images,
            sites,
            NAME_LOOKUP_TIMEOUT,
            Some(NAME_LOOKUP_AGE),
        )
        .await;
    let sites = read
        .into_iter()
        .map(|(site, result)| {
            (
                site,
                SiteImages {
                    answer: result.answer,
                    images: result.items,
                },
            )
        })
        .collect();
    let found = first_live_copy_named(catalog(sites, Some(name)), name);
    Ok(found)
}
