//! Deployments over HTTP: `GET|POST /api/v1/deployments`,
//! `GET|PATCH|DELETE /api/v1/deployments/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::deployments::{Deployment, DeploymentList, DeploymentPatch, NewDeployment};

use super::auth::{Caller, Operator};
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::federation::Selection;
use crate::placement::DeploymentError;

impl From<DeploymentError> for ApiError {
    fn from(error: DeploymentError) -> Self {
        match error {
            DeploymentError::Invalid { field, message } => ApiError::invalid_field(field, message),
            DeploymentError::NotFound(id) => ApiError::NotFound(format!("no deployment {id}")),
            DeploymentError::Store(error) => error.into(),
        }
    }
}

/// The sites a scoped caller may use; none for one who sees every site.
async fn scope(state: &AppState, caller: &Caller) -> Result<Option<Vec<String>>, ApiError> {
    if caller.sees_every_site() {
        return Ok(None);
    }
    Ok(Some(
        super::sites_in_scope(state, caller, &Selection::All, false).await?,
    ))
}

/// A deployment is a scoped caller's to see when it was made within their scope.
fn within(mine: Option<&[String]>, theirs: Option<&[String]>) -> bool {
    match (mine, theirs) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(mine), Some(theirs)) => theirs.iter().all(|site| mine.contains(site)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<DeploymentList>, ApiError> {
    let mine = scope(&state, &caller).await?;
    let items = state
        .deployments
        .list(|theirs| within(mine.as_deref(), theirs))
        .await?;
    Ok(Json(DeploymentList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Operator,
    ApiJson(spec): ApiJson<NewDeployment>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let mine = scope(&state, &caller).await?;
    let created = state
        .deployments
        .create(spec, mine, &caller.username)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One the caller may see, or not found (whether it exists is not theirs to know).
async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<Deployment, ApiError> {
    let mine = scope(state, caller).await?;
    let (deployment, theirs) = state.deployments.get(id).await?;
    if !within(mine.as_deref(), theirs.as_deref()) {
        return Err(ApiError::NotFound(format!("no deployment {id}")));
    }
    Ok(deployment)
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Deployment>, ApiError> {
    Ok(Json(visible(&state, &caller, &id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Operator,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<DeploymentPatch>,
) -> Result<Json<Deployment>, ApiError> {
    visible(&state, &caller, &id).await?;
    Ok(Json(state.deployments.patch(&id, patch).await?))
}

/// `202`: its servers are deleted first, the record last.
pub async fn remove(
    State(state): State<AppState>,
    caller: Operator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    visible(&state, &caller, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(state.deployments.delete(&id).await?),
    ))
}
