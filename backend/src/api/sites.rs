use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderMap};
use axum::Json;
use overcast_api_types::{ImportReport, NewSite, Site, SiteList, SiteUpdate};
use serde::Deserialize;

use super::auth::{Admin, Caller};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use super::AppState;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SiteList>, ApiError> {
    let mut items = state.sites.list().await?;
    items.retain(|s| caller.allows_site(&s.name, &s.labels));
    for site in &mut items {
        // The monitor's state is the live one; the stored one may be a second behind.
        if let Some(live) = state.health.state(&site.name) {
            site.state = live;
        }
        site.state_reason = state.health.reason(&site.name);
    }
    Ok(Json(SiteList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Admin,
    ApiJson(new): ApiJson<NewSite>,
) -> Result<(StatusCode, Json<Site>), ApiError> {
    let site = state.sites.register(new).await?;
    tracing::info!(site = %site.name, by = %caller.username, "site registered");
    Ok((StatusCode::CREATED, Json(site)))
}

pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Site>, ApiError> {
    let mut site = state.sites.get(&name).await?;
    if let Some(live) = state.health.state(&name) {
        site.state = live;
    }
    site.state_reason = state.health.reason(&name);
    Ok(Json(site))
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Admin,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.sites.remove(&name).await?;
    state.sessions.forget(&name);
    state.fan_out.forget(&name);
    tracing::info!(site = %name, by = %caller.username, "site removed");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn update(
    State(state): State<AppState>,
    caller: Admin,
    Path(name): Path<String>,
    ApiJson(update): ApiJson<SiteUpdate>,
) -> Result<Json<Site>, ApiError> {
    let site = state.sites.update(&name, update).await?;
    // The next call signs in with what was just registered.
    state.sessions.forget(&name);
    tracing::info!(site = %name, by = %caller.username, "site updated");
    Ok(Json(site))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// Labels for every imported site, `key=value,key2=value2`.
    #[serde(default)]
    labels: Option<String>,
    /// Update sites that are already registered instead of skipping them.
    #[serde(default)]
    replace: bool,
}

/// `POST /api/v1/sites/import` with a clouds.yaml as the body.
pub async fn import(
    State(state): State<AppState>,
    caller: Admin,
    ApiQuery(options): ApiQuery<ImportOptions>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the clouds.yaml is over 32 MiB".into())
        }
        _ => ApiError::invalid(rejection.body_text()),
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ![
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
    ]
    .iter()
    .any(|t| content_type.starts_with(t))
    {
        return Err(ApiError::UnsupportedMediaType(
            "send the clouds.yaml with Content-Type: application/yaml".into(),
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the clouds.yaml is not UTF-8 text"))?;
    let labels = parse_labels(options.labels.as_deref().unwrap_or_default())?;
    let report = state.sites.import(text, &labels, options.replace).await?;
    for name in &report.replaced {
        state.sessions.forget(name);
    }
    tracing::info!(created = report.created.len(), replaced = report.replaced.len(), skipped = report.skipped.len(),
                   failed = report.failed.len(), by = %caller.username, "clouds.yaml imported");
    Ok(Json(report))
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_owned(), value.trim().to_owned()))
            }
            _ => Err(ApiError::InvalidInput {
                message: format!("label {pair:?} is not key=value"),
                fields: vec![overcast_api_types::FieldError {
                    field: "labels".into(),
                    message: "expected key=value,key2=value2".into(),
                }],
            }),
        })
        .collect()
}
