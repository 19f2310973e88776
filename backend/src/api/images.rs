//! Images across sites over HTTP: the catalog and copies.

use axum::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use overcast_api_types::images::{
    ImageCatalog, ImageCopyRequest, ImagePolicy, ImagePolicyList, NewImagePolicy,
};
use overcast_api_types::jobs::{Job, NewJob};
use serde::Deserialize;
use serde_json::json;

use super::aggregate::{read_across, AggregateQuery};
use super::auth::{Caller, Operator};
use super::error::ApiError;
use super::extract::ApiJson;
use super::extract::ApiQuery;
use super::AppState;
use crate::federation::{Kind, Selection};
use crate::images::catalog::{catalog as group_by_content, SiteImages};

/// `GET /api/v1/images/catalog`: every selected site's images, one entry per content
/// (sha512), with the sites holding it; query as for aggregated lists.
pub async fn catalog(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AggregateQuery>,
) -> Result<Json<ImageCatalog>, ApiError> {
    let read = read_across(&state, &caller, Kind::Images, &query).await?;
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
    Ok(Json(group_by_content(sites, query.name.as_deref())))
}

/// Starts a durable `image.copy` job: the source is read once, every target gets a
/// verified copy (or keeps the one it has).
pub async fn copy(
    State(state): State<AppState>,
    caller: Operator,
    ApiJson(request): ApiJson<ImageCopyRequest>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    if !caller.sees_every_site() {
        // Reading the source is using it: it must be in the caller's scope, as the
        // targets must.
        let source = Selection::Sites(vec![request.source.site.clone()]);
        super::sites_in_scope(&state, &caller, &source, true).await?;
        if let Ok(selection) = Selection::from_targets(&request.targets) {
            super::sites_in_scope(&state, &caller, &selection, true).await?;
        }
    }
    if state.sites.get(&request.source.site).await.is_err() {
        return Err(ApiError::invalid_field(
            "source.site",
            format!("no site is registered as {:?}", request.source.site),
        ));
    }
    let new = NewJob {
        kind: "image.copy".into(),
        targets: request.targets,
        params: json!({"source": request.source}),
        rollout: request.rollout,
        ttl_s: request.ttl_s,
    };
    let job = state.jobs.create(new, &caller.username).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A policy's errors in its own words (the replication service shares the jobs' error).
fn policy_error(error: crate::jobs::JobError) -> ApiError {
    match error {
        crate::jobs::JobError::Invalid(fields) => ApiError::InvalidInput {
            message: "invalid replication policy".into(),
            fields,
        },
        crate::jobs::JobError::NotFound(id) => {
            ApiError::NotFound(format!("replication policy {id} not found"))
        }
        other => other.into(),
    }
}

pub async fn list_policies(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<ImagePolicyList>, ApiError> {
    let items = state.replication.list().await.map_err(policy_error)?;
    Ok(Json(ImagePolicyList { items }))
}

/// "This image must be on every site the targets select": stored, then kept.
pub async fn create_policy(
    State(state): State<AppState>,
    caller: super::auth::Admin,
    ApiJson(new): ApiJson<NewImagePolicy>,
) -> Result<(StatusCode, Json<ImagePolicy>), ApiError> {
    let policy = state
        .replication
        .create(new, &caller.username)
        .await
        .map_err(policy_error)?;
    Ok((StatusCode::CREATED, Json(policy)))
}

pub async fn show_policy(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ImagePolicy>, ApiError> {
    Ok(Json(
        state.replication.get(&id).await.map_err(policy_error)?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletePolicyQuery {
    #[serde(default)]
    delete_copies: bool,
}

/// Forgets the policy: `204`, the copies it made stay where they are; with
/// `?delete_copies=true`, `202` with the job that removes them.
pub async fn delete_policy(
    State(state): State<AppState>,
    caller: super::auth::Admin,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeletePolicyQuery>,
) -> Result<Response, ApiError> {
    let job = state
        .replication
        .delete(&id, query.delete_copies, &caller.username)
        .await
        .map_err(policy_error)?;
    Ok(match job {
        Some(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
