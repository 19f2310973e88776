//! Placement over HTTP: a plan for a request, before anything is created.

use axum::extract::State;
use axum::Json;
use overcast_api_types::placement::{Plan, PlanRequest};

use super::auth::Operator;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::federation::Selection;
use crate::placement::PlacementError;

impl From<PlacementError> for ApiError {
    fn from(error: PlacementError) -> Self {
        match error {
            PlacementError::Invalid { field, message } => ApiError::invalid_field(field, message),
        }
    }
}

/// `POST /api/v1/placement/plan`: where the servers would go among the sites the caller
/// may use, with a reason for each site chosen or left out; nothing is created. For
/// operators: it is the first step of placing servers.
pub async fn plan(
    State(state): State<AppState>,
    caller: Operator,
    ApiJson(request): ApiJson<PlanRequest>,
) -> Result<Json<Plan>, ApiError> {
    let sites = super::sites_with_shared_labels(&state, &caller, &Selection::All).await?;
    Ok(Json(state.placer.plan(&request, &sites).await?))
}
