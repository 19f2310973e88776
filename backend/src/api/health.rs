use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::Health;

use super::AppState;

/// The process is alive and serving.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        detail: None,
    })
}

/// The database answers and its schema is current.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.store.check_ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ready".into(),
                detail: None,
            }),
        ),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "not_ready".into(),
                    detail: Some(error.to_string()),
                }),
            )
        }
    }
}
