//! `GET /metrics` for Prometheus, and the middleware that counts every HTTP request.
//!
//! The route wants a bearer token like the API (decision 19): Prometheus sends one with
//! `authorization: {credentials: …}` in its scrape config, so an API token of any role
//! is enough. A token scoped to some sites sees only their series.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::instruments::Instruments;
use crate::metrics::exposition::{self, Sources, Viewer, CONTENT_TYPE};

/// `/metrics` is both the exposition and the dashboard's Metrics page: a browser that
/// opens the page (it asks for HTML) gets the dashboard, anyone else the exposition.
pub async fn metrics_or_page(
    State(state): State<AppState>,
    page: tower_http::services::ServeFile,
    request: Request,
) -> Response {
    use axum::extract::FromRequestParts;
    use tower::ServiceExt;
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        return match page.oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
    }
    let (mut parts, _) = request.into_parts();
    match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => metrics(State(state), caller).await.into_response(),
        Err(refused) => refused.into_response(),
    }
}

pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let allows = |site: &overcast_api_types::Site| caller.allows_site(&site.name, &site.labels);
    let body = exposition::scrape(
        Sources {
            sites: &state.sites,
            metrics: &state.metrics,
            health: &state.health,
            jobs: &state.jobs,
            instruments: &state.instruments,
        },
        Viewer {
            allows: &allows,
            sees_every_site: caller.sees_every_site(),
        },
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response())
}

/// Counts and times a request by its route template, never its raw path, so that the
/// number of series stays bounded whatever paths clients send.
pub async fn count_request(
    State(instruments): State<Arc<Instruments>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    instruments.http_request(
        route.as_deref(),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
