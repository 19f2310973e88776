use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::{NewSite, Site, SiteList};

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;

pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<SiteList>, ApiError> {
    Ok(Json(SiteList {
        items: state.sites.list().await?,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewSite>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    caller.require_admin()?;
    let site = state.sites.register(new).await?;
    tracing::info!(site = %site.name, by = %caller.username, "site registered");
    Ok((StatusCode::CREATED, Json(site)))
}

pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Site>, ApiError> {
    Ok(Json(state.sites.get(&name).await?))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    state.sites.remove(&name).await?;
    tracing::info!(site = %name, by = %caller.username, "site removed");
    Ok(StatusCode::NO_CONTENT)
}
