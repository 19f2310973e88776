//! Images across sites over HTTP: `POST /api/v1/images/copy`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::images::ImageCopyRequest;
use overcast_api_types::jobs::{Job, NewJob};
use serde_json::json;

use super::auth::Operator;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::federation::Selection;

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
