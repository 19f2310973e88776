//! Placement, as it answers: one resource provider per compute host, with inventories
//! and usages consistent with Nova's hypervisor view and the servers that exist.
#![expect(
    clippy::result_large_err,
    reason = "handlers answer with a whole OpenStack error response; these are not hot paths"
)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::keystone;
use super::site::SimSite;
use super::SimContext;

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/", get(versions))
        .route("/resource_providers", get(list_providers))
        .route("/resource_providers/{id}", get(show_provider))
        .route("/resource_providers/{id}/inventories", get(inventories))
        .route("/resource_providers/{id}/usages", get(usages))
}

/// Placement's error body: `{"errors": [{"status", "title", "detail"}]}`.
fn error(status: StatusCode, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    (status, Json(json!({"errors": [{"status": status.as_u16(), "title": title, "detail": detail, "request_id": format!("req-{}", uuid::Uuid::new_v4())}]})))
        .into_response()
}

fn admin(site: &SimSite, headers: &HeaderMap) -> Option<Response> {
    match keystone::authenticate(site, headers) {
        Err(response) => Some(response),
        Ok(caller) if !caller.is_admin => Some(error(
            StatusCode::FORBIDDEN,
            "Policy does not allow placement:resource_providers:list to be performed.",
        )),
        Ok(_) => None,
    }
}

async fn versions() -> Json<Value> {
    Json(
        json!({"versions": [{"id": "v1.0", "max_version": "1.39", "min_version": "1.0", "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}]}]}),
    )
}

fn provider_json(
    ctx: &SimContext,
    site: &SimSite,
    index: usize,
    h: &super::site::Hypervisor,
) -> Value {
    let base = format!(
        "{}/resource_providers/{}",
        ctx.service_url(&site.name, "placement"),
        h.id
    );
    json!({"uuid": h.id, "name": h.hostname, "generation": index + 1, "parent_provider_uuid": null, "root_provider_uuid": h.id,
           "links": [{"rel": "self", "href": base}, {"rel": "inventories", "href": format!("{base}/inventories")},
                     {"rel": "usages", "href": format!("{base}/usages")}]})
}

async fn list_providers(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = admin(&site, &headers) {
        return response;
    }
    let data = site.data();
    let items: Vec<Value> = data
        .hypervisors
        .iter()
        .enumerate()
        .map(|(n, h)| provider_json(&ctx, &site, n, h))
        .collect();
    Json(json!({"resource_providers": items})).into_response()
}

fn provider(site: &SimSite, id: &str) -> Result<(usize, super::site::Hypervisor), Response> {
    let data = site.data();
    data.hypervisors
        .iter()
        .enumerate()
        .find(|(_, h)| h.id == id)
        .map(|(n, h)| (n, h.clone()))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("No resource provider with uuid {id} found"),
            )
        })
}

async fn show_provider(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    if let Some(response) = admin(&site, &headers) {
        return response;
    }
    match provider(&site, params.get("id").map_or("", String::as_str)) {
        Ok((n, h)) => Json(provider_json(&ctx, &site, n, &h)).into_response(),
        Err(response) => response,
    }
}

async fn inventories(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    if let Some(response) = admin(&site, &headers) {
        return response;
    }
    match provider(&site, params.get("id").map_or("", String::as_str)) {
        Ok((n, h)) => {
            let inventory = |total: u64| json!({"total": total, "reserved": 0, "min_unit": 1, "max_unit": total, "step_size": 1, "allocation_ratio": 1.0});
            Json(json!({"resource_provider_generation": n + 1, "inventories": {
                "VCPU": inventory(u64::from(h.vcpus)), "MEMORY_MB": inventory(h.ram_mb), "DISK_GB": inventory(h.disk_gb)}}))
            .into_response()
        }
        Err(response) => response,
    }
}

async fn usages(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    if let Some(response) = admin(&site, &headers) {
        return response;
    }
    match provider(&site, params.get("id").map_or("", String::as_str)) {
        Ok((n, _)) => {
            let data = site.data();
            let (vcpu, ram, disk) = data.host_usage(n, &data.flavors);
            Json(json!({"resource_provider_generation": n + 1, "usages": {"VCPU": vcpu, "MEMORY_MB": ram, "DISK_GB": disk}})).into_response()
        }
        Err(response) => response,
    }
}
