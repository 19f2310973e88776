//! HTTP edge: routes, extractors, and the mapping of domain results to responses.
//! Handlers parse, authorize, call the domain, and map the result; nothing more.

mod aggregate;
mod audit;
mod auth;
pub mod connection;
mod deployments;
mod error;
mod extract;
mod health;
mod images;
mod jobs;
mod metrics;
mod openapi;
mod placement;
mod prometheus;
mod servers;
mod site_resources;
mod sites;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::audit::Audit;
use crate::auth::Access;
use crate::federation::{FanOut, HealthMonitor, SessionPool};
use crate::jobs::JobEngine;
use crate::sites::SiteRegistry;
use crate::store::Store;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub access: Arc<Access>,
    pub audit: Audit,
    pub sites: SiteRegistry,
    pub sessions: SessionPool,
    pub health: Arc<HealthMonitor>,
    pub fan_out: FanOut,
    pub jobs: Arc<JobEngine>,
    pub replication: Arc<crate::jobs::Replication>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub placer: Arc<crate::placement::Placer>,
    pub deployments: Arc<crate::placement::Deployments>,
    /// What the console counts of its own work, for `GET /metrics`.
    pub instruments: Arc<crate::instruments::Instruments>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Cancelled when the console begins to shut down: endless responses (event
    /// streams) end then, so the graceful shutdown does not wait for them forever.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// JSON bodies of the API are small; image data has its own limit.
const JSON_BODY_LIMIT: usize = 1024 * 1024;
/// A clouds.yaml of 10,000 clouds is about 4 MB.
const IMPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Image data streams through without being held; this bounds one upload.
pub(crate) const IMAGE_BODY_LIMIT: u64 = 64 * 1024 * 1024 * 1024;

/// The dashboard loads only its own files; WASM needs `wasm-unsafe-eval` to compile.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The JSON API's routes (under `/api/v1`). A table, so that a test can check that
/// every route is in the OpenAPI document, which the RBAC matrix test walks.
fn json_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/auth/login", post(auth::login)),
        ("/auth/me", get(auth::me)),
        ("/auth/logout", post(auth::logout)),
        ("/auth/refresh", post(auth::refresh)),
        (
            "/auth/tokens",
            get(auth::list_tokens).post(auth::create_token),
        ),
        ("/auth/tokens/{id}", delete(auth::revoke_token)),
        (
            "/admin/users",
            get(auth::list_users).post(auth::create_user),
        ),
        (
            "/admin/users/{id}",
            patch(auth::update_user).delete(auth::delete_user),
        ),
        ("/audit", get(audit::list)),
        ("/audit/export", get(audit::export)),
        ("/openapi.json", get(openapi::serve)),
        ("/{resource}", get(aggregate::list)),
        ("/inventory/summary", get(aggregate::inventory_summary)),
        ("/metrics/summary", get(metrics::summary)),
        ("/metrics/series", get(metrics::series)),
        ("/metrics/quotas", get(metrics::quotas)),
        ("/usage", get(metrics::usage)),
        ("/placement/plan", post(placement::plan)),
        (
            "/deployments",
            get(deployments::list).post(deployments::create),
        ),
        (
            "/deployments/{id}",
            get(deployments::show)
                .patch(deployments::update)
                .delete(deployments::remove),
        ),
        ("/images/copy", post(images::copy)),
        ("/images/catalog", get(images::catalog)),
        (
            "/images/policies",
            get(images::list_policies).post(images::create_policy),
        ),
        (
            "/images/policies/{id}",
            get(images::show_policy).delete(images::delete_policy),
        ),
        ("/servers", get(aggregate::servers).post(servers::boot)),
        ("/jobs", get(jobs::list).post(jobs::create)),
        ("/jobs/{id}", get(jobs::show)),
        ("/jobs/{id}/cancel", post(jobs::cancel)),
        ("/jobs/{id}/retry", post(jobs::retry)),
        ("/sites", get(sites::list).post(sites::create)),
        (
            "/sites/import",
            post(sites::import).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        ),
        (
            "/sites/{site}",
            get(sites::show).patch(sites::update).delete(sites::remove),
        ),
        (
            "/sites/{site}/capabilities",
            get(site_resources::capabilities),
        ),
        (
            "/sites/{site}/{resource}",
            get(site_resources::list).post(site_resources::create),
        ),
        (
            "/sites/{site}/{resource}/{id}",
            get(site_resources::show).delete(site_resources::remove),
        ),
        (
            "/sites/{site}/quotas/{project}",
            get(site_resources::show_quotas)
                .put(site_resources::update_quotas)
                .patch(site_resources::update_quotas),
        ),
        (
            "/sites/{site}/servers/{id}/action",
            post(site_resources::server_action),
        ),
        (
            "/sites/{site}/servers/{id}/events",
            get(site_resources::server_events),
        ),
        (
            "/sites/{site}/servers/{id}/console-log",
            get(site_resources::console_log),
        ),
        (
            "/sites/{site}/servers/{id}/volumes",
            post(site_resources::attach_volume),
        ),
        (
            "/sites/{site}/servers/{id}/volumes/{volume}",
            delete(site_resources::detach_volume),
        ),
    ]
}

/// Routes that stream for as long as they need: image data (with its own size limit)
/// and event streams.
fn stream_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        (
            "/sites/{site}/images/{id}/file",
            get(site_resources::download_image).put(site_resources::upload_image),
        ),
        ("/jobs/{id}/events", get(jobs::events)),
        ("/events", get(jobs::console_events)),
    ]
}

fn routes(table: Vec<(&'static str, MethodRouter<AppState>)>) -> Router<AppState> {
    table
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
}

pub fn router(state: AppState, web_dir: &Path, request_timeout: Duration) -> Router {
    // JSON calls are small and quick: a body limit and a deadline guard them.
    let json_api = routes(json_routes())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            deadline(request_timeout, request, next)
        }));
    let stream_api = routes(stream_routes());
    let api = json_api
        .merge(stream_api)
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            audit::record_mutations,
        ));

    let index = web_dir.join("index.html");
    // The build leaves a gzip copy beside the WASM and JS: a browser that takes gzip
    // gets about a third of the bytes, with no compression work per request.
    let page = ServeFile::new(&index);
    let dashboard = ServeDir::new(web_dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(index));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/metrics",
            get(move |state: State<AppState>, request: Request| {
                prometheus::metrics_or_page(state, page.clone(), request)
            })
            // Prometheus asks for gzip: a fleet's exposition shrinks about tenfold.
            .layer(CompressionLayer::new()),
        )
        .nest("/api/v1", api)
        .fallback_service(dashboard)
        .with_state(state.clone())
        // Inside the routing, so that the route template is known (`MatchedPath`).
        .layer(middleware::from_fn_with_state(
            state.instruments.clone(),
            prometheus::count_request,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                ApiError::Internal("a request handler panicked".into()).into_response()
            },
        ))
}

/// The request deadline of JSON calls, answered in the contract's error format (a bare
/// 504 from a generic timeout layer would have an empty body).
async fn deadline(timeout: Duration, request: Request, next: Next) -> axum::response::Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(format!(
            "the request took longer than {} s",
            timeout.as_secs()
        ))
        .into_response(),
    }
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API endpoint".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The registered sites a selection names, within the caller's scope. Naming a site
/// outside the scope is forbidden (not silently dropped); for reads, a selector or
/// "all" is narrowed to the scope, while for changes (`strict`) any site outside it
/// is forbidden.
/// The sites of a selection the caller may see, each with its labels.
pub(crate) async fn sites_with_labels(
    state: &AppState,
    caller: &auth::Caller,
    selection: &crate::federation::Selection,
) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>, ApiError>
{
    Ok(sites_with_shared_labels(state, caller, selection)
        .await?
        .into_iter()
        .map(|(name, labels)| (name, labels.as_ref().clone()))
        .collect())
}

/// As [`sites_with_labels`], the labels shared with the registry's index (no copy).
pub(crate) async fn sites_with_shared_labels(
    state: &AppState,
    caller: &auth::Caller,
    selection: &crate::federation::Selection,
) -> Result<crate::sites::SiteLabels, ApiError> {
    let names = sites_in_scope(state, caller, selection, false).await?;
    let index = state.sites.index().await?;
    Ok(names
        .into_iter()
        .map(|name| {
            let labels = index
                .get(&name)
                .map(|s| s.labels.clone())
                .unwrap_or_default();
            (name, labels)
        })
        .collect())
}

pub(crate) async fn sites_in_scope(
    state: &AppState,
    caller: &auth::Caller,
    selection: &crate::federation::Selection,
    strict: bool,
) -> Result<Vec<String>, ApiError> {
    let names = state
        .fan_out
        .resolve(selection)
        .await
        .map_err(|e| match e {
            crate::sites::SiteError::NotFound(names) => {
                ApiError::NotFound(format!("no registered site named {names}"))
            }
            other => other.into(),
        })?;
    if caller.sees_every_site() {
        return Ok(names);
    }
    let index = state.sites.index().await?;
    let allowed = |name: &str| {
        index
            .get(name)
            .is_some_and(|site| caller.allows_site(name, &site.labels))
    };
    if strict || matches!(selection, crate::federation::Selection::Sites(_)) {
        let outside: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !allowed(n))
            .collect();
        if !outside.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "outside your scope: {}",
                outside.join(", ")
            )));
        }
    }
    Ok(names.into_iter().filter(|n| allowed(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a router pattern (`/sites/{site}/{resource}`) covers a documented path.
    fn covers(pattern: &str, documented: &str) -> bool {
        let (a, b): (Vec<&str>, Vec<&str>) = (
            pattern.split('/').collect(),
            documented.split('/').collect(),
        );
        a.len() == b.len() && a.iter().zip(&b).all(|(p, d)| p.starts_with('{') || p == d)
    }

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let document = serde_json::to_value(openapi::document()).unwrap_or_default();
        let documented: Vec<String> = document["paths"]
            .as_object()
            .map(|paths| paths.keys().cloned().collect())
            .unwrap_or_default();
        for (path, _) in json_routes().into_iter().chain(stream_routes()) {
            let full = format!("/api/v1{path}");
            assert!(
                documented.iter().any(|d| covers(&full, d)),
                "{full} is routed but not in the OpenAPI document, so the RBAC matrix would miss it"
            );
        }
    }
}
