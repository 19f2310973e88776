//! Compute v2.1, as Nova answers it: microversions, flavors, servers and their actions,
//! hypervisors and quotas.
#![expect(
    clippy::result_large_err,
    reason = "handlers answer with a whole OpenStack error response; these are not hot paths"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::keystone::{self, Caller};
use super::site::{
    ComputeQuota, Flavor, InstanceAction, Keypair, PowerIntent, Server, SimSite, SiteData,
};
use super::{rfc3339, SimContext};

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/", get(versions))
        .route("/v2.1", get(version))
        .route("/v2.1/", get(version))
        .route("/v2.1/flavors", get(list_flavors).post(create_flavor))
        .route("/v2.1/flavors/detail", get(list_flavors_detail))
        .route("/v2.1/flavors/{id}", get(show_flavor).delete(delete_flavor))
        .route("/v2.1/servers", get(list_servers).post(create_server))
        .route("/v2.1/servers/detail", get(list_servers_detail))
        .route("/v2.1/servers/{id}", get(show_server).delete(delete_server))
        .route("/v2.1/servers/{id}/action", post(server_action))
        .route(
            "/v2.1/servers/{id}/os-instance-actions",
            get(list_instance_actions),
        )
        .route(
            "/v2.1/servers/{id}/os-volume_attachments",
            get(list_volume_attachments).post(attach_volume),
        )
        .route(
            "/v2.1/servers/{id}/os-volume_attachments/{volume}",
            axum::routing::delete(detach_volume),
        )
        .route("/v2.1/os-simple-tenant-usage", get(tenant_usages))
        .route("/v2.1/os-hypervisors", get(list_hypervisors))
        .route("/v2.1/os-hypervisors/detail", get(list_hypervisors))
        .route(
            "/v2.1/os-quota-sets/{id}",
            get(show_quota).put(update_quota),
        )
        .route("/v2.1/os-quota-sets/{id}/detail", get(show_quota_detail))
        .route(
            "/v2.1/os-quota-sets/{id}/defaults",
            get(show_quota_defaults),
        )
        .route("/v2.1/limits", get(limits))
        .route("/v2.1/os-keypairs", get(list_keypairs).post(create_keypair))
        .route(
            "/v2.1/os-keypairs/{id}",
            get(show_keypair).delete(delete_keypair),
        )
        .route("/v2.1/os-services", get(list_services))
        .route("/v2.1/os-aggregates", get(list_aggregates))
        .route(
            "/v2.1/flavors/{id}/os-extra_specs",
            get(list_extra_specs).post(add_extra_specs),
        )
}

/// Nova's error bodies name the fault: `{"itemNotFound": {"code": 404, "message": …}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let kind = match status {
        StatusCode::BAD_REQUEST => "badRequest",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "itemNotFound",
        StatusCode::CONFLICT => "conflictingRequest",
        StatusCode::NOT_ACCEPTABLE => "notAcceptable",
        StatusCode::NOT_IMPLEMENTED => "notImplemented",
        _ => "computeFault",
    };
    (
        status,
        Json(json!({kind: {"code": status.as_u16(), "message": message}})),
    )
        .into_response()
}

/// The microversion a request asked for, or 406 when the site does not offer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Microversion(u16, u16);

fn negotiate(site: &SimSite, headers: &HeaderMap) -> Result<Microversion, Response> {
    let max = Microversion(site.profile.nova_max.0, site.profile.nova_max.1);
    let requested = headers
        .get("openstack-api-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.trim()
                .strip_prefix("compute")
                .map(str::trim)
                .map(str::to_owned)
        })
        .or_else(|| {
            headers
                .get("x-openstack-nova-api-version")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
        });
    let Some(text) = requested else {
        return Ok(Microversion(2, 1));
    };
    if text == "latest" {
        return Ok(max);
    }
    let parsed = text
        .split_once('.')
        .and_then(|(a, b)| Some(Microversion(a.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some(v) if v >= Microversion(2, 1) && v <= max => Ok(v),
        Some(_) => Err(error(
            StatusCode::NOT_ACCEPTABLE,
            &format!("Version {text} is not supported by the API. Minimum is 2.1 and maximum is {}.{}.", max.0, max.1),
        )),
        None => Err(error(StatusCode::BAD_REQUEST, &format!("API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."))),
    }
}

/// Every compute call: authenticate, negotiate, run, and echo the version in the headers.
fn compute(
    site: &SimSite,
    headers: &HeaderMap,
    run: impl FnOnce(&Caller, Microversion) -> Response,
) -> Response {
    let caller = match keystone::authenticate(site, headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let version = match negotiate(site, headers) {
        Ok(version) => version,
        Err(response) => return response,
    };
    let mut response = run(&caller, version);
    let text = format!("{}.{}", version.0, version.1);
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("compute {text}")) {
        response_headers.insert("openstack-api-version", value);
    }
    if let Ok(value) = HeaderValue::from_str(&text) {
        response_headers.insert("x-openstack-nova-api-version", value);
    }
    response_headers.insert(
        "vary",
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    );
    response
}

fn version_doc(ctx: &SimContext, site: &SimSite) -> Value {
    json!({
        "id": "v2.1", "status": "CURRENT",
        "version": format!("{}.{}", site.profile.nova_max.0, site.profile.nova_max.1),
        "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{}/", ctx.service_url(&site.name, "compute/v2.1"))}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]
    })
}

async fn versions(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Json<Value> {
    Json(json!({"versions": [version_doc(&ctx, &site)]}))
}

async fn version(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Json<Value> {
    Json(json!({"version": version_doc(&ctx, &site)}))
}

fn flavor_link(ctx: &SimContext, site: &SimSite, id: &str) -> Value {
    json!([{"rel": "self", "href": format!("{}/flavors/{id}", ctx.service_url(&site.name, "compute/v2.1"))}])
}

fn flavor_json(ctx: &SimContext, site: &SimSite, f: &Flavor, version: Microversion) -> Value {
    let mut body = json!({
        "id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb, "swap": if f.swap_mb == 0 { json!("") } else { json!(f.swap_mb) },
        "os-flavor-access:is_public": f.is_public, "rxtx_factor": 1.0, "OS-FLV-DISABLED:disabled": false,
        "links": flavor_link(ctx, site, &f.id),
    });
    if version >= Microversion(2, 55) {
        body["description"] = json!(f.description);
    }
    if version >= Microversion(2, 61) {
        body["extra_specs"] = json!(f.extra_specs);
    }
    if version >= Microversion(2, 75) && f.swap_mb == 0 {
        body["swap"] = json!(0);
    }
    body
}

/// Nova's `[api] max_limit`: no page holds more.
const MAX_LIMIT: usize = 1000;

/// One page of a list, and the marker of the next when the page is full.
struct Page<'a, T> {
    items: Vec<&'a T>,
    next_marker: Option<String>,
}

/// `limit` and `marker` paging as Nova does it: the marker must exist, else 400; at most
/// `max_limit` items; a full page links to the next (even when nothing follows, so a
/// client reads one empty page at the end, as with a real Nova).
fn page<'a, T>(
    items: Vec<&'a T>,
    query: &HashMap<String, String>,
    id_of: impl Fn(&T) -> &str,
) -> Result<Page<'a, T>, Response> {
    let start = match query.get("marker") {
        Some(marker) => match items.iter().position(|item| id_of(item) == marker) {
            Some(at) => at + 1,
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("marker [{marker}] not found"),
                ))
            }
        },
        None => 0,
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        Some(Ok(limit)) => limit.min(MAX_LIMIT),
        Some(Err(_)) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "limit param must be an integer",
            ))
        }
        None => MAX_LIMIT,
    };
    let items: Vec<&T> = items.into_iter().skip(start).take(limit).collect();
    let next_marker = (items.len() == limit)
        .then(|| items.last().map(|last| id_of(last).to_owned()))
        .flatten();
    Ok(Page { items, next_marker })
}

/// A list's body with Nova's `{key}_links` "next" link when the page is full: the
/// request's own parameters with the marker moved.
fn paged_body(
    ctx: &SimContext,
    site: &SimSite,
    path: &str,
    key: &str,
    items: Vec<Value>,
    query: &HashMap<String, String>,
    next_marker: Option<String>,
) -> Value {
    let mut body = json!({ key: items });
    if let Some(marker) = next_marker {
        let mut params: Vec<(&String, &String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "marker")
            .collect();
        params.sort();
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            next.append_pair(k, v);
        }
        next.append_pair("marker", &marker);
        let href = format!(
            "{}/{path}?{}",
            ctx.service_url(&site.name, "compute/v2.1"),
            next.finish()
        );
        body[format!("{key}_links")] = json!([{"rel": "next", "href": href}]);
    }
    body
}

async fn list_flavors(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    compute(&site, &headers, |_, _| {
        let data = site.data();
        match page(data.flavors.iter().collect(), &query, |f| &f.id) {
            Ok(flavors) => {
                let items: Vec<Value> = flavors
                    .items
                    .iter()
                    .map(|f| json!({"id": f.id, "name": f.name, "description": f.description, "links": flavor_link(&ctx, &site, &f.id)}))
                    .collect();
                Json(paged_body(
                    &ctx,
                    &site,
                    "flavors",
                    "flavors",
                    items,
                    &query,
                    flavors.next_marker,
                ))
                .into_response()
            }
            Err(response) => response,
        }
    })
}

async fn list_flavors_detail(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    compute(&site, &headers, |_, version| {
        let data = site.data();
        match page(data.flavors.iter().collect(), &query, |f| &f.id) {
            Ok(flavors) => {
                let items: Vec<Value> = flavors
                    .items
                    .iter()
                    .map(|f| flavor_json(&ctx, &site, f, version))
                    .collect();
                Json(paged_body(
                    &ctx,
                    &site,
                    "flavors/detail",
                    "flavors",
                    items,
                    &query,
                    flavors.next_marker,
                ))
                .into_response()
            }
            Err(response) => response,
        }
    })
}

async fn show_flavor(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |_, version| {
        let data = site.data();
        match data.flavors.iter().find(|f| f.id == id) {
            Some(f) => {
                Json(json!({"flavor": flavor_json(&ctx, &site, f, version)})).into_response()
            }
            None => error(
                StatusCode::NOT_FOUND,
                &format!("Flavor {id} could not be found."),
            ),
        }
    })
}

fn parse_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Malformed request body: {e}"),
        )
    })
}

/// Nova's JSON-schema validation refuses fields it does not know.
fn reject_unknown(
    object: &serde_json::Map<String, Value>,
    context: &str,
    allowed: &[&str],
) -> Option<Response> {
    let unknown = object.keys().find(|key| !allowed.contains(&key.as_str()))?;
    Some(invalid_input(format!(
        "{context}. Value: {}. Additional properties are not allowed ('{unknown}' was unexpected)",
        Value::Object(object.clone())
    )))
}

const SERVER_FIELDS: &[&str] = &[
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "key_name",
    "metadata",
    "security_groups",
    "user_data",
    "availability_zone",
    "block_device_mapping_v2",
    "config_drive",
    "adminPass",
    "description",
    "tags",
    "min_count",
    "max_count",
    "return_reservation_id",
    "OS-DCF:diskConfig",
    "accessIPv4",
    "accessIPv6",
    "personality",
    "hostname",
    "host",
    "hypervisor_hostname",
    "trusted_image_certificates",
];
const FLAVOR_FIELDS: &[&str] = &[
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
    "description",
];
const KEYPAIR_FIELDS: &[&str] = &["name", "public_key", "type", "user_id"];

fn invalid_input(message: String) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &format!("Invalid input for field/attribute {message}"),
    )
}

async fn create_flavor(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    compute(&site, &headers, |caller, version| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.",
            );
        }
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let Some(flavor) = request.get("flavor").and_then(Value::as_object) else {
            return invalid_input("flavor. Value: None. 'flavor' is a required property".into());
        };
        if let Some(response) = reject_unknown(flavor, "flavor", FLAVOR_FIELDS) {
            return response;
        }
        let name = match flavor.get("name").and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() && name.len() <= 255 => name.to_owned(),
            _ => return invalid_input("name. 'name' is a required property".into()),
        };
        let number = |key: &str, min: u64| -> Result<u64, Response> {
            match flavor.get(key) {
                Some(Value::Number(n)) => n.as_u64().filter(|v| *v >= min).ok_or_else(|| {
                    invalid_input(format!(
                        "{key}. Value: {n}. {n} is less than the minimum of {min}"
                    ))
                }),
                Some(Value::String(s)) => {
                    s.parse::<u64>().ok().filter(|v| *v >= min).ok_or_else(|| {
                        invalid_input(format!("{key}. Value: {s}. is not a valid integer"))
                    })
                }
                Some(other) => Err(invalid_input(format!(
                    "{key}. Value: {other}. is not of type 'integer', 'string'"
                ))),
                None => Err(invalid_input(format!(
                    "{key}. '{key}' is a required property"
                ))),
            }
        };
        let (vcpus, ram_mb, disk_gb) =
            match (number("vcpus", 1), number("ram", 1), number("disk", 0)) {
                (Ok(v), Ok(r), Ok(d)) => (v, r, d),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
            };
        let mut data = site.data();
        let id = flavor
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if data.flavors.iter().any(|f| f.name == name) {
            return error(
                StatusCode::CONFLICT,
                &format!("Flavor with name {name} already exists."),
            );
        }
        if data.flavors.iter().any(|f| f.id == id) {
            return error(
                StatusCode::CONFLICT,
                &format!("Flavor with ID {id} already exists."),
            );
        }
        let created = Flavor {
            id,
            name,
            vcpus: u32::try_from(vcpus).unwrap_or(u32::MAX),
            ram_mb,
            disk_gb,
            ephemeral_gb: flavor
                .get("OS-FLV-EXT-DATA:ephemeral")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            swap_mb: flavor.get("swap").and_then(Value::as_u64).unwrap_or(0),
            is_public: flavor
                .get("os-flavor-access:is_public")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            description: flavor
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            extra_specs: Default::default(),
        };
        let body = json!({"flavor": flavor_json(&ctx, &site, &created, version)});
        data.flavors.push(created);
        Json(body).into_response()
    })
}

async fn delete_flavor(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-flavor-manage:delete to be performed.",
            );
        }
        let mut data = site.data();
        let before = data.flavors.len();
        data.flavors.retain(|f| f.id != id);
        if data.flavors.len() == before {
            return error(
                StatusCode::NOT_FOUND,
                &format!("Flavor {id} could not be found."),
            );
        }
        StatusCode::ACCEPTED.into_response()
    })
}

fn server_link(ctx: &SimContext, site: &SimSite, id: &str) -> Value {
    json!([{"rel": "self", "href": format!("{}/servers/{id}", ctx.service_url(&site.name, "compute/v2.1"))}])
}

fn server_json(
    ctx: &SimContext,
    site: &SimSite,
    data: &super::site::SiteData,
    s: &Server,
    version: Microversion,
    now: Instant,
) -> Value {
    let status = s.status(now);
    let flavor = data.flavors.iter().find(|f| f.id == s.flavor_id);
    let flavor_field = if version >= Microversion(2, 47) {
        flavor.map_or(json!({}), |f| {
            json!({"vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb, "ephemeral": f.ephemeral_gb, "swap": f.swap_mb, "original_name": f.name, "extra_specs": f.extra_specs})
        })
    } else {
        json!({"id": s.flavor_id, "links": flavor_link(ctx, site, &s.flavor_id)})
    };
    let host = s
        .host
        .and_then(|h| data.hypervisors.get(h))
        .map(|h| h.hostname.clone());
    let (task_state, power_state, vm_state) = match status {
        "BUILD" => (json!("spawning"), 0, "building"),
        "ACTIVE" => (Value::Null, 1, "active"),
        "SHUTOFF" => (Value::Null, 4, "stopped"),
        _ => (Value::Null, 0, "error"),
    };
    let mut body = json!({
        "id": s.id, "name": s.name, "status": status, "tenant_id": s.project_id, "user_id": s.user_id,
        "metadata": s.metadata, "hostId": host.as_ref().map(|h| super::site::stable_id(&s.project_id, h, 0).replace('-', "")).unwrap_or_default(),
        "image": {"id": s.image_id, "links": []}, "flavor": flavor_field,
        "created": rfc3339(s.created), "updated": rfc3339(s.updated_at(now)),
        "addresses": super::neutron::server_addresses(data, &s.id), "accessIPv4": "", "accessIPv6": "", "links": server_link(ctx, site, &s.id),
        "key_name": s.key_name, "config_drive": "", "progress": if status == "BUILD" { 50 } else { 100 },
        "OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": if host.is_some() { "nova" } else { "" },
        "OS-EXT-STS:task_state": task_state, "OS-EXT-STS:power_state": power_state, "OS-EXT-STS:vm_state": vm_state,
        "OS-SRV-USG:launched_at": if status == "BUILD" { Value::Null } else { json!(rfc3339(s.created)) },
        "OS-SRV-USG:terminated_at": null, "security_groups": [{"name": "default"}],
        "os-extended-volumes:volumes_attached": data.volumes.iter()
            .filter(|v| v.attachment.as_ref().is_some_and(|a| a.server_id == s.id))
            .map(|v| json!({"id": v.id, "delete_on_termination": false})).collect::<Vec<_>>(),
    });
    if status == "ERROR" {
        body["fault"] = json!({"code": 500, "created": rfc3339(s.updated), "message": "No valid host was found. There are not enough hosts available."});
    }
    if version >= Microversion(2, 9) {
        body["locked"] = json!(false);
    }
    if version >= Microversion(2, 19) {
        body["description"] = Value::Null;
    }
    if version >= Microversion(2, 26) {
        body["tags"] = json!([]);
    }
    body
}

/// Servers visible to the caller, newest first (Nova's default sort), after the filters
/// Nova offers that scripts use most.
fn visible_servers<'a>(
    data: &'a super::site::SiteData,
    caller: &Caller,
    query: &HashMap<String, String>,
    now: Instant,
) -> Vec<&'a Server> {
    let all_tenants = caller.is_admin
        && query
            .get("all_tenants")
            .is_some_and(|v| v != "0" && v != "false");
    data.servers
        .iter()
        .rev()
        .filter(|s| all_tenants || s.project_id == caller.project_id)
        .filter(|s| {
            query
                .get("name")
                .is_none_or(|n| s.name.contains(n.as_str()))
        })
        .filter(|s| {
            query
                .get("status")
                .is_none_or(|st| s.status(now).eq_ignore_ascii_case(st))
        })
        .filter(|s| query.get("flavor").is_none_or(|f| &s.flavor_id == f))
        .filter(|s| changes_since(query).is_none_or(|since| s.updated_at(now) >= since))
        .collect()
}

/// `changes-since`, as Nova reads it: an ISO 8601 time, with seconds precision.
fn changes_since(query: &HashMap<String, String>) -> Option<time::OffsetDateTime> {
    let text = query.get("changes-since")?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.replace_nanosecond(0).unwrap_or(t))
}

async fn list_servers(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    compute(&site, &headers, |caller, _| {
        let data = site.data();
        let now = Instant::now();
        match page(visible_servers(&data, caller, &query, now), &query, |s| {
            &s.id
        }) {
            Ok(servers) => {
                let items: Vec<Value> = servers.items.iter().map(|s| json!({"id": s.id, "name": s.name, "links": server_link(&ctx, &site, &s.id)})).collect();
                Json(paged_body(
                    &ctx,
                    &site,
                    "servers",
                    "servers",
                    items,
                    &query,
                    servers.next_marker,
                ))
                .into_response()
            }
            Err(response) => response,
        }
    })
}

async fn list_servers_detail(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    compute(&site, &headers, |caller, version| {
        let data = site.data();
        let now = Instant::now();
        match page(visible_servers(&data, caller, &query, now), &query, |s| {
            &s.id
        }) {
            Ok(servers) => {
                let next_marker = servers.next_marker;
                let mut items: Vec<Value> = servers
                    .items
                    .iter()
                    .map(|s| server_json(&ctx, &site, &data, s, version, now))
                    .collect();
                // With `changes-since`, Nova also lists the servers deleted since then.
                if let Some(since) = changes_since(&query) {
                    items.extend(
                        data.deleted_servers
                            .iter()
                            .filter(|d| d.deleted >= since)
                            .filter(|d| caller.is_admin || d.project_id == caller.project_id)
                            .map(|d| json!({"id": d.id, "name": d.name, "status": "DELETED", "tenant_id": d.project_id,
                                            "updated": rfc3339(d.deleted), "flavor": {}, "addresses": {}})),
                    );
                }
                Json(paged_body(
                    &ctx,
                    &site,
                    "servers/detail",
                    "servers",
                    items,
                    &query,
                    next_marker,
                ))
                .into_response()
            }
            Err(response) => response,
        }
    })
}

fn find_server<'a>(
    data: &'a super::site::SiteData,
    caller: &Caller,
    id: &str,
) -> Result<&'a Server, Response> {
    data.servers
        .iter()
        .find(|s| s.id == id && (caller.is_admin || s.project_id == caller.project_id))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("Instance {id} could not be found."),
            )
        })
}

async fn show_server(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, version| {
        let data = site.data();
        match find_server(&data, caller, &id) {
            Ok(s) => {
                Json(json!({"server": server_json(&ctx, &site, &data, s, version, Instant::now())}))
                    .into_response()
            }
            Err(response) => response,
        }
    })
}

async fn create_server(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    compute(&site, &headers, |caller, version| {
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let Some(server) = request.get("server").and_then(Value::as_object) else {
            return invalid_input("server. 'server' is a required property".into());
        };
        if let Some(response) = reject_unknown(server, "server", SERVER_FIELDS) {
            return response;
        }
        if version >= Microversion(2, 37) && !server.contains_key("networks") {
            return invalid_input("server. 'networks' is a required property".into());
        }
        let name = match server.get("name").and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() && name.len() <= 255 => name.to_owned(),
            _ => return invalid_input("name. 'name' is a required property".into()),
        };
        let Some(flavor_ref) = server
            .get("flavorRef")
            .and_then(Value::as_str)
            .map(|f| f.rsplit('/').next().unwrap_or(f).to_owned())
        else {
            return invalid_input("flavorRef. 'flavorRef' is a required property".into());
        };
        let image_id = server
            .get("imageRef")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let metadata = server
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let key_name = server
            .get("key_name")
            .and_then(Value::as_str)
            .map(str::to_owned);

        let mut data = site.data();
        let Some(flavor) = data.flavors.iter().find(|f| f.id == flavor_ref).cloned() else {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Flavor {flavor_ref} could not be found."),
            );
        };
        if let Some(key) = &key_name {
            if !data
                .keypairs
                .iter()
                .any(|k| &k.name == key && k.user_id == caller.user_id)
            {
                return error(StatusCode::BAD_REQUEST, "Invalid key_name provided.");
            }
        }
        // Nova validates the requested networks with Neutron before it counts quota.
        if site.profile.has_neutron {
            if let Err((status, message)) = super::neutron::check_auto_allocation(
                server.get("networks"),
                site.profile.auto_allocation,
            ) {
                return error(status, &message);
            }
        }
        let quota = data.quota(&caller.project_id);
        let flavors = data.flavors.clone();
        let used: Vec<&Server> = data
            .servers
            .iter()
            .filter(|s| s.project_id == caller.project_id)
            .collect();
        let used_cores: i64 = used
            .iter()
            .filter_map(|s| flavors.iter().find(|f| f.id == s.flavor_id))
            .map(|f| i64::from(f.vcpus))
            .sum();
        let used_ram: i64 = used
            .iter()
            .filter_map(|s| flavors.iter().find(|f| f.id == s.flavor_id))
            .map(|f| f.ram_mb as i64)
            .sum();
        let checks = [
            ("instances", 1, used.len() as i64, quota.instances),
            ("cores", i64::from(flavor.vcpus), used_cores, quota.cores),
            ("ram", flavor.ram_mb as i64, used_ram, quota.ram),
        ];
        for (resource, requested, in_use, limit) in checks {
            if limit >= 0 && in_use + requested > limit {
                return error(
                    StatusCode::FORBIDDEN,
                    &format!("Quota exceeded for {resource}: Requested {requested}, but already used {in_use} of {limit} {resource}"),
                );
            }
        }
        let host = (0..data.hypervisors.len()).find(|&h| {
            let (cores, ram, disk) = data.host_usage(h, &flavors);
            let hv = &data.hypervisors[h];
            hv.disabled.is_none()
                && cores + flavor.vcpus <= hv.vcpus
                && ram + flavor.ram_mb <= hv.ram_mb
                && disk + flavor.disk_gb <= hv.disk_gb
        });
        let now = time::OffsetDateTime::now_utc();
        let id = uuid::Uuid::new_v4().to_string();
        if site.profile.has_neutron {
            if let Err((status, message)) = super::neutron::plug_server(
                &mut data,
                &id,
                &caller.project_id,
                server.get("networks"),
                site.profile.auto_allocation,
            ) {
                return error(status, &message);
            }
        }
        data.servers.push(Server {
            id: id.clone(),
            name,
            project_id: caller.project_id.clone(),
            user_id: caller.user_id.clone(),
            flavor_id: flavor.id.clone(),
            image_id,
            key_name,
            metadata,
            host,
            created: now,
            created_at: Instant::now(),
            updated: now,
            power: PowerIntent::Running,
            actions: vec![InstanceAction::new("create", &caller.user_id)],
            build_done_at: Instant::now() + site.build_delay,
        });
        let admin_pass: String = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        (
            StatusCode::ACCEPTED,
            Json(json!({"server": {"id": id, "links": server_link(&ctx, &site, &id), "OS-DCF:diskConfig": "MANUAL",
                                    "security_groups": [{"name": "default"}], "adminPass": admin_pass}})),
        )
            .into_response()
    })
}

async fn delete_server(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let mut data = site.data();
        if let Err(response) = find_server(&data, caller, &id) {
            return response;
        }
        if let Some(gone) = data.servers.iter().find(|s| s.id == id) {
            let flavor = data.flavors.iter().find(|f| f.id == gone.flavor_id);
            let tombstone = super::site::DeletedServer {
                id: gone.id.clone(),
                name: gone.name.clone(),
                project_id: gone.project_id.clone(),
                deleted: time::OffsetDateTime::now_utc(),
                created: gone.created,
                vcpus: flavor.map_or(0, |f| f.vcpus),
                ram_mb: flavor.map_or(0, |f| f.ram_mb),
                local_gb: flavor.map_or(0, |f| f.disk_gb + f.ephemeral_gb),
            };
            data.deleted_servers.push(tombstone);
        }
        data.servers.retain(|s| s.id != id);
        data.ports.retain(|p| p.device_id != id);
        for volume in &mut data.volumes {
            if volume
                .attachment
                .as_ref()
                .is_some_and(|a| a.server_id == id)
            {
                volume.attachment = None;
            }
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn server_action(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let action = request
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        let mut data = site.data();
        let (status, name) = match find_server(&data, caller, &id) {
            Ok(server) => (server.status(Instant::now()), server.name.clone()),
            Err(response) => return response,
        };
        if action == "os-getConsoleOutput" {
            return console_output(&site, &id, &name, status, &request[action.as_str()]);
        }
        let conflict = |action: &str| {
            error(
                StatusCode::CONFLICT,
                &format!(
                    "Cannot '{action}' instance {id} while it is in vm_state {}",
                    status.to_lowercase()
                ),
            )
        };
        let new_power = match (action.as_str(), status) {
            ("os-stop", "ACTIVE") => PowerIntent::Shutoff,
            ("os-start", "SHUTOFF") => PowerIntent::Running,
            ("reboot", "ACTIVE" | "SHUTOFF") => PowerIntent::Running,
            ("os-stop" | "os-start" | "reboot", _) => return conflict(&action.replace("os-", "")),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("There is no such action: {action}"),
                )
            }
        };
        if let Some(server) = data.servers.iter_mut().find(|s| s.id == id) {
            server.power = new_power;
            server.updated = time::OffsetDateTime::now_utc();
            let recorded = match action.as_str() {
                "os-stop" => "stop",
                "os-start" => "start",
                _ => "reboot",
            };
            server
                .actions
                .push(InstanceAction::new(recorded, &caller.user_id));
        }
        StatusCode::ACCEPTED.into_response()
    })
}

/// `os-getConsoleOutput`: the tail of a boot log, as a real Nova gives a libvirt guest's
/// console. 409 while the server is not on a host yet, 501 where the site's driver keeps
/// no console log, as Nova answers.
fn console_output(site: &SimSite, id: &str, name: &str, status: &str, body: &Value) -> Response {
    if !site.profile.console_log {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "The requested functionality is not supported.",
        );
    }
    if matches!(status, "BUILD" | "ERROR") {
        return error(
            StatusCode::CONFLICT,
            &format!("Instance {id} is not ready."),
        );
    }
    let length = match body.get("length") {
        None | Some(Value::Null) => None,
        Some(value) => match value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if n >= -1 => (n >= 0).then_some(n as usize),
            _ => {
                return invalid_input(format!(
                    "Invalid input for field/attribute length. Value: {value}. {value} is not of type 'integer', 'string', 'null'"
                ))
            }
        },
    };
    let log = [
        "[    0.000000] Linux version 6.1.0-overcast-sim (builder@sim) #1 SMP".to_owned(),
        "[    0.000000] Command line: root=/dev/vda1 console=tty0 console=ttyS0".to_owned(),
        "[    1.204517] virtio_net virtio0 eth0: renamed from eth0".to_owned(),
        "[    2.918406] EXT4-fs (vda1): mounted filesystem with ordered data mode".to_owned(),
        "[  OK  ] Started OpenSSH server daemon.".to_owned(),
        format!("cloud-init: hostname set to {name}"),
        "cloud-init: finished modules:final".to_owned(),
        String::new(),
        format!("{name} login: "),
    ];
    let start = length.map_or(0, |n| log.len().saturating_sub(n));
    Json(json!({"output": log[start..].join("\n")})).into_response()
}

async fn list_instance_actions(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, version| {
        let data = site.data();
        let server = match find_server(&data, caller, &id) {
            Ok(server) => server,
            Err(response) => return response,
        };
        // Nova writes these times in UTC without a zone.
        let naive = |t: time::OffsetDateTime| rfc3339(t).trim_end_matches('Z').to_owned();
        let items: Vec<Value> = server
            .actions
            .iter()
            .rev()
            .map(|a| {
                let mut item = json!({"action": a.action, "instance_uuid": server.id, "message": null,
                                      "project_id": server.project_id, "request_id": a.request_id,
                                      "start_time": naive(a.at), "user_id": a.user_id});
                if version >= Microversion(2, 58) {
                    item["updated_at"] = json!(naive(a.at));
                }
                item
            })
            .collect();
        Json(json!({"instanceActions": items})).into_response()
    })
}

fn attachment_json(server: &str, volume: &super::cinder::Volume) -> Value {
    let device = volume
        .attachment
        .as_ref()
        .map(|a| a.device.clone())
        .unwrap_or_default();
    json!({"id": volume.id, "serverId": server, "volumeId": volume.id, "device": device})
}

async fn list_volume_attachments(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let data = site.data();
        if let Err(response) = find_server(&data, caller, &id) {
            return response;
        }
        let items: Vec<Value> = data
            .volumes
            .iter()
            .filter(|v| v.attachment.as_ref().is_some_and(|a| a.server_id == id))
            .map(|v| attachment_json(&id, v))
            .collect();
        Json(json!({"volumeAttachments": items})).into_response()
    })
}

/// Nova's `os-volume_attachments`: the volume must be Cinder's and `available`; it is
/// `in-use` at once here (a real site passes through `attaching`).
async fn attach_volume(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let Some(volume_id) = request
            .get("volumeAttachment")
            .and_then(|a| a.get("volumeId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return invalid_input("volumeAttachment. 'volumeId' is a required property".into());
        };
        let mut data = site.data();
        let status = match find_server(&data, caller, &id) {
            Ok(server) => server.status(Instant::now()),
            Err(response) => return response,
        };
        if !matches!(status, "ACTIVE" | "SHUTOFF") {
            return error(
                StatusCode::CONFLICT,
                &format!(
                    "Cannot 'attach_volume' instance {id} while it is in vm_state {}",
                    status.to_lowercase()
                ),
            );
        }
        let taken = data
            .volumes
            .iter()
            .filter(|v| v.attachment.as_ref().is_some_and(|a| a.server_id == id))
            .count();
        let now = Instant::now();
        let Some(volume) = data
            .volumes
            .iter_mut()
            .find(|v| v.id == volume_id && (caller.is_admin || v.project_id == caller.project_id))
        else {
            return error(
                StatusCode::NOT_FOUND,
                &format!("Volume {volume_id} could not be found."),
            );
        };
        if volume.status(now) != "available" {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid volume: volume {volume_id} status must be available, but current status is: {}", volume.status(now)),
            );
        }
        volume.attachment = Some(super::cinder::Attachment {
            id: uuid::Uuid::new_v4().to_string(),
            server_id: id.clone(),
            // vda is the root disk.
            device: format!("/dev/vd{}", char::from(b'b' + taken.min(24) as u8)),
            at: time::OffsetDateTime::now_utc(),
        });
        let body = json!({"volumeAttachment": attachment_json(&id, volume)});
        Json(body).into_response()
    })
}

async fn detach_volume(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let volume_id = params.get("volume").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let mut data = site.data();
        if let Err(response) = find_server(&data, caller, &id) {
            return response;
        }
        match data
            .volumes
            .iter_mut()
            .find(|v| v.id == volume_id && v.attachment.as_ref().is_some_and(|a| a.server_id == id))
        {
            Some(volume) => {
                volume.attachment = None;
                StatusCode::ACCEPTED.into_response()
            }
            None => error(
                StatusCode::NOT_FOUND,
                &format!("volume_id not found: {volume_id}"),
            ),
        }
    })
}

async fn list_hypervisors(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
) -> Response {
    compute(&site, &headers, |caller, version| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-hypervisors:list-detail to be performed.",
            );
        }
        let data = site.data();
        let items: Vec<Value> = data
            .hypervisors
            .iter()
            .enumerate()
            .map(|(n, h)| {
                let (cores, ram, disk) = data.host_usage(n, &data.flavors);
                let running = data.servers.iter().filter(|s| s.host == Some(n)).count();
                let mut hypervisor = json!({"id": h.id, "hypervisor_hostname": h.hostname, "state": "up", "status": "enabled",
                       "hypervisor_type": "QEMU", "hypervisor_version": 8002000, "host_ip": format!("10.0.0.{}", n + 10),
                       "service": {"host": h.hostname, "id": n + 3, "disabled_reason": h.disabled}});
                if h.disabled.is_some() {
                    hypervisor["status"] = json!("disabled");
                }
                // 2.88 removed the figures Placement now holds (Nova's API reference).
                if version < Microversion(2, 88) {
                    let cpu_info = json!({"arch": "x86_64", "model": "Nehalem", "vendor": "Intel",
                        "topology": {"cores": h.vcpus, "threads": 1, "sockets": 1}, "features": []});
                    let figures = json!({"vcpus": h.vcpus, "vcpus_used": cores, "memory_mb": h.ram_mb, "memory_mb_used": ram,
                        "local_gb": h.disk_gb, "local_gb_used": disk, "running_vms": running,
                        "free_ram_mb": h.ram_mb as i64 - ram as i64, "free_disk_gb": h.disk_gb as i64 - disk as i64,
                        "disk_available_least": h.disk_gb as i64 - disk as i64, "current_workload": 0,
                        // A JSON text until 2.28, an object from then on.
                        "cpu_info": if version < Microversion(2, 28) { json!(cpu_info.to_string()) } else { cpu_info }});
                    if let (Some(all), Some(more)) = (hypervisor.as_object_mut(), figures.as_object()) {
                        all.extend(more.clone());
                    }
                }
                hypervisor
            })
            .collect();
        Json(json!({"hypervisors": items})).into_response()
    })
}

/// The quotas Nova still answered for older microversions, at its defaults (the simulator
/// keeps no per-project value for them): the network ones until 2.35, the injected
/// files until 2.56 (Nova's API reference). `detail` gives each as `{limit, in_use,
/// reserved}`.
fn legacy_quotas(set: &mut Value, version: Microversion, detail: bool) {
    let mut legacy: Vec<(&str, i64)> = Vec::new();
    if version < Microversion(2, 36) {
        legacy.extend([
            ("fixed_ips", -1),
            ("floating_ips", 10),
            ("security_groups", 10),
            ("security_group_rules", 20),
        ]);
    }
    if version < Microversion(2, 57) {
        legacy.extend([
            ("injected_files", 5),
            ("injected_file_content_bytes", 10240),
            ("injected_file_path_bytes", 255),
        ]);
    }
    if let Some(set) = set.as_object_mut() {
        for (name, limit) in legacy {
            let value = match detail {
                true => json!({"limit": limit, "in_use": 0, "reserved": 0}),
                false => json!(limit),
            };
            set.insert(name.to_owned(), value);
        }
    }
}

fn quota_json(project: &str, q: &ComputeQuota) -> Value {
    json!({"id": project, "instances": q.instances, "cores": q.cores, "ram": q.ram, "key_pairs": q.key_pairs,
           "metadata_items": q.metadata_items, "server_groups": q.server_groups,
           "server_group_members": q.server_group_members})
}

fn may_see_quota(caller: &Caller, project: &str) -> Result<(), Response> {
    if caller.is_admin || caller.project_id == project {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
        ))
    }
}

/// What a project uses now: (instances, cores, ram MB).
fn usage(data: &SiteData, project: &str) -> (i64, i64, i64) {
    data.servers
        .iter()
        .filter(|s| s.project_id == project)
        .fold((0, 0, 0), |(n, c, r), s| {
            match data.flavors.iter().find(|f| f.id == s.flavor_id) {
                Some(f) => (n + 1, c + i64::from(f.vcpus), r + f.ram_mb as i64),
                None => (n + 1, c, r),
            }
        })
}

async fn show_quota_detail(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let project = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, version| {
        if let Err(response) = may_see_quota(caller, &project) {
            return response;
        }
        let data = site.data();
        let q = data.quota(&project);
        let (instances, cores, ram) = usage(&data, &project);
        let key_pairs = data
            .keypairs
            .iter()
            .filter(|k| k.user_id == caller.user_id)
            .count() as i64;
        let detail =
            |limit: i64, in_use: i64| json!({"limit": limit, "in_use": in_use, "reserved": 0});
        let mut set = json!({"id": project, "instances": detail(q.instances, instances), "cores": detail(q.cores, cores),
            "ram": detail(q.ram, ram), "key_pairs": detail(q.key_pairs, key_pairs), "metadata_items": detail(q.metadata_items, 0),
            "server_groups": detail(q.server_groups, 0), "server_group_members": detail(q.server_group_members, 0)});
        legacy_quotas(&mut set, version, true);
        Json(json!({"quota_set": set})).into_response()
    })
}

async fn show_quota_defaults(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let project = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |_, version| {
        let mut set = quota_json(&project, &ComputeQuota::default());
        legacy_quotas(&mut set, version, false);
        Json(json!({"quota_set": set})).into_response()
    })
}

async fn update_quota(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let project = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.",
            );
        }
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let Some(fields) = request.get("quota_set").and_then(Value::as_object) else {
            return invalid_input("quota_set. 'quota_set' is a required property".into());
        };
        let force = fields
            .get("force")
            .and_then(|f| f.as_bool().or_else(|| f.as_str().map(|s| s == "true")))
            .unwrap_or(false);
        let mut data = site.data();
        let mut quota = data.quota(&project);
        let (instances, cores, ram) = usage(&data, &project);
        for (key, value) in fields {
            if key == "force" {
                continue;
            }
            let Some(limit) = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .filter(|l| *l >= -1)
            else {
                return invalid_input(format!(
                    "quota_set/{key}. Value: {value}. {value} is less than the minimum of -1"
                ));
            };
            let (slot, in_use) = match key.as_str() {
                "instances" => (&mut quota.instances, instances),
                "cores" => (&mut quota.cores, cores),
                "ram" => (&mut quota.ram, ram),
                "key_pairs" => (&mut quota.key_pairs, 0),
                "metadata_items" => (&mut quota.metadata_items, 0),
                "server_groups" => (&mut quota.server_groups, 0),
                "server_group_members" => (&mut quota.server_group_members, 0),
                other => return error(StatusCode::BAD_REQUEST, &format!("Invalid input for field/attribute quota_set. Additional properties are not allowed ('{other}' was unexpected)")),
            };
            if !force && limit >= 0 && limit < in_use {
                return error(StatusCode::BAD_REQUEST, &format!("Quota limit {limit} for {key} must be greater than or equal to already used and reserved {in_use}."));
            }
            *slot = limit;
        }
        data.compute_quotas.insert(project.clone(), quota);
        let mut body = quota_json(&project, &quota);
        if let Value::Object(map) = &mut body {
            map.remove("id");
        }
        Json(json!({"quota_set": body})).into_response()
    })
}

async fn limits(Extension(site): Extension<Arc<SimSite>>, headers: HeaderMap) -> Response {
    compute(&site, &headers, |caller, _| {
        let data = site.data();
        let q = data.quota(&caller.project_id);
        let (instances, cores, ram) = usage(&data, &caller.project_id);
        Json(json!({"limits": {"rate": [], "absolute": {
            "maxTotalInstances": q.instances, "maxTotalCores": q.cores, "maxTotalRAMSize": q.ram,
            "maxTotalKeypairs": q.key_pairs, "maxServerMeta": q.metadata_items, "maxServerGroups": q.server_groups,
            "maxServerGroupMembers": q.server_group_members, "totalInstancesUsed": instances, "totalCoresUsed": cores,
            "totalRAMUsed": ram, "totalServerGroupsUsed": 0}}}))
        .into_response()
    })
}

fn keypair_json(k: &Keypair, with_public: bool) -> Value {
    let mut body = json!({"name": k.name, "fingerprint": k.fingerprint, "type": k.key_type, "user_id": k.user_id});
    if with_public {
        body["public_key"] = json!(k.public_key);
        body["created_at"] = json!(rfc3339(k.created_at));
        body["deleted"] = json!(false);
        body["id"] = json!(1);
    }
    body
}

async fn list_keypairs(Extension(site): Extension<Arc<SimSite>>, headers: HeaderMap) -> Response {
    compute(&site, &headers, |caller, _| {
        let data = site.data();
        let items: Vec<Value> = data
            .keypairs
            .iter()
            .filter(|k| k.user_id == caller.user_id)
            .map(|k| json!({"keypair": {"name": k.name, "fingerprint": k.fingerprint, "public_key": k.public_key, "type": k.key_type}}))
            .collect();
        Json(json!({"keypairs": items})).into_response()
    })
}

async fn show_keypair(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let name = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let data = site.data();
        match data
            .keypairs
            .iter()
            .find(|k| k.name == name && k.user_id == caller.user_id)
        {
            Some(k) => Json(json!({"keypair": keypair_json(k, true)})).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                &format!("Keypair {name} not found for user {}", caller.user_id),
            ),
        }
    })
}

/// The MD5 fingerprint OpenSSH prints for a public key, `aa:bb:…`.
fn fingerprint(public_key: &str) -> Option<String> {
    use base64::Engine as _;
    let blob = public_key.split_whitespace().nth(1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let digest = <md5::Md5 as sha2::Digest>::digest(&bytes);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

async fn create_keypair(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    compute(&site, &headers, |caller, version| {
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let Some(fields) = request.get("keypair").and_then(Value::as_object) else {
            return invalid_input("keypair. 'keypair' is a required property".into());
        };
        if let Some(response) = reject_unknown(fields, "keypair", KEYPAIR_FIELDS) {
            return response;
        }
        let name = match fields.get("name").and_then(Value::as_str) {
            Some(n)
                if !n.is_empty()
                    && n.len() <= 255
                    && n.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ' | '.' | '@')
                    }) =>
            {
                n.to_owned()
            }
            _ => {
                return invalid_input(
                    "name. Keypair name contains unsafe characters or is empty".into(),
                )
            }
        };
        let Some(public_key) = fields
            .get("public_key")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            // Generating a key pair server side was removed in microversion 2.92.
            if version >= Microversion(2, 92) {
                return invalid_input("keypair. 'public_key' is a required property".into());
            }
            return error(
                StatusCode::BAD_REQUEST,
                "The simulator does not generate key pairs; send public_key.",
            );
        };
        let Some(fingerprint) = fingerprint(&public_key) else {
            return error(
                StatusCode::BAD_REQUEST,
                "Keypair data is invalid: failed to generate fingerprint",
            );
        };
        let mut data = site.data();
        if data
            .keypairs
            .iter()
            .any(|k| k.name == name && k.user_id == caller.user_id)
        {
            return error(
                StatusCode::CONFLICT,
                &format!("Key pair '{name}' already exists."),
            );
        }
        let limit = data.quota(&caller.project_id).key_pairs;
        if limit >= 0
            && data
                .keypairs
                .iter()
                .filter(|k| k.user_id == caller.user_id)
                .count() as i64
                >= limit
        {
            return error(StatusCode::FORBIDDEN, "Quota exceeded, too many key pairs.");
        }
        let keypair = Keypair {
            name,
            user_id: caller.user_id.clone(),
            key_type: fields
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("ssh")
                .to_owned(),
            public_key,
            fingerprint,
            created_at: time::OffsetDateTime::now_utc(),
        };
        let body = json!({"keypair": keypair_json(&keypair, true)});
        data.keypairs.push(keypair);
        let status = if version >= Microversion(2, 2) {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (status, Json(body)).into_response()
    })
}

async fn delete_keypair(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let name = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        let mut data = site.data();
        let before = data.keypairs.len();
        data.keypairs
            .retain(|k| !(k.name == name && k.user_id == caller.user_id));
        if data.keypairs.len() == before {
            return error(
                StatusCode::NOT_FOUND,
                &format!("Keypair {name} not found for user {}", caller.user_id),
            );
        }
        StatusCode::ACCEPTED.into_response()
    })
}

async fn list_services(Extension(site): Extension<Arc<SimSite>>, headers: HeaderMap) -> Response {
    compute(&site, &headers, |caller, _| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-services:list to be performed.",
            );
        }
        let data = site.data();
        let now = rfc3339(time::OffsetDateTime::now_utc());
        let mut items = vec![
            json!({"id": 1, "binary": "nova-scheduler", "host": format!("{}-controller", site.name), "zone": "internal", "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": null, "forced_down": false}),
            json!({"id": 2, "binary": "nova-conductor", "host": format!("{}-controller", site.name), "zone": "internal", "status": "enabled", "state": "up", "updated_at": now, "disabled_reason": null, "forced_down": false}),
        ];
        for (n, h) in data.hypervisors.iter().enumerate() {
            let status = if h.disabled.is_some() {
                "disabled"
            } else {
                "enabled"
            };
            items.push(json!({"id": n + 3, "binary": "nova-compute", "host": h.hostname, "zone": "nova", "status": status, "state": "up", "updated_at": now, "disabled_reason": h.disabled, "forced_down": false}));
        }
        Json(json!({"services": items})).into_response()
    })
}

/// Host aggregates: the simulated sites define none, so the admin's list is empty.
async fn list_aggregates(Extension(site): Extension<Arc<SimSite>>, headers: HeaderMap) -> Response {
    compute(&site, &headers, |caller, _| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-aggregates:index to be performed.",
            );
        }
        Json(json!({"aggregates": []})).into_response()
    })
}

async fn list_extra_specs(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |_, _| {
        let data = site.data();
        match data.flavors.iter().find(|f| f.id == id) {
            Some(f) => Json(json!({"extra_specs": f.extra_specs})).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                &format!("Flavor {id} could not be found."),
            ),
        }
    })
}

async fn add_extra_specs(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, _| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-flavor-extra-specs:create to be performed.",
            );
        }
        let request = match parse_body(&body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        let Some(specs) = request.get("extra_specs").and_then(Value::as_object) else {
            return invalid_input("extra_specs. 'extra_specs' is a required property".into());
        };
        let mut data = site.data();
        let Some(flavor) = data.flavors.iter_mut().find(|f| f.id == id) else {
            return error(
                StatusCode::NOT_FOUND,
                &format!("Flavor {id} could not be found."),
            );
        };
        for (key, value) in specs {
            let Some(value) = value.as_str() else {
                return invalid_input(format!(
                    "extra_specs/{key}. Value: {value}. is not of type 'string'"
                ));
            };
            flavor.extra_specs.insert(key.clone(), value.to_owned());
        }
        Json(json!({"extra_specs": flavor.extra_specs})).into_response()
    })
}

async fn show_quota(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let project = params.get("id").cloned().unwrap_or_default();
    compute(&site, &headers, |caller, version| {
        if !caller.is_admin && caller.project_id != project {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
            );
        }
        let q = site.data().quota(&project);
        let mut set = json!({"id": project, "instances": q.instances, "cores": q.cores, "ram": q.ram,
                    "key_pairs": q.key_pairs, "metadata_items": q.metadata_items,
                    "server_groups": q.server_groups, "server_group_members": q.server_group_members});
        legacy_quotas(&mut set, version, false);
        Json(json!({"quota_set": set})).into_response()
    })
}

/// Nova's times in a usage query: `2026-01-02T03:04:05`, with or without fractions or a
/// zone (UTC is meant either way).
fn usage_time(text: Option<&String>) -> Result<time::OffsetDateTime, String> {
    let Some(text) = text else {
        return Ok(time::OffsetDateTime::now_utc());
    };
    let trimmed = text.trim_end_matches('Z');
    let base = trimmed
        .split('.')
        .next()
        .unwrap_or(trimmed)
        .replace(' ', "T");
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(&base, &format)
        .map(time::PrimitiveDateTime::assume_utc)
        .map_err(|_| format!("Invalid start time. {text} is not a valid time."))
}

/// `GET /os-simple-tenant-usage?start=&end=`: for each project, what its servers used
/// over the period, deleted servers included for the time they lived, by their flavor.
async fn tenant_usages(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    compute(&site, &headers, |caller, _| {
        if !caller.is_admin {
            return error(
                StatusCode::FORBIDDEN,
                "Policy doesn't allow os_compute_api:os-simple-tenant-usage:list to be performed.",
            );
        }
        let (start, stop) = match (usage_time(query.get("start")), usage_time(query.get("end"))) {
            (Ok(start), Ok(stop)) => (start, stop),
            (Err(message), _) | (_, Err(message)) => {
                return error(StatusCode::BAD_REQUEST, &message)
            }
        };
        if start >= stop {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid start time. The start time cannot occur after the end time.",
            );
        }
        let data = site.data();
        // (project, created, ended, vcpus, ram_mb, local_gb) of every server that lived.
        let live = data.servers.iter().map(|s| {
            let flavor = data.flavors.iter().find(|f| f.id == s.flavor_id);
            (
                s.project_id.as_str(),
                s.created,
                None,
                flavor.map_or(0, |f| f.vcpus),
                flavor.map_or(0, |f| f.ram_mb),
                flavor.map_or(0, |f| f.disk_gb + f.ephemeral_gb),
            )
        });
        let gone = data.deleted_servers.iter().map(|d| {
            (
                d.project_id.as_str(),
                d.created,
                Some(d.deleted),
                d.vcpus,
                d.ram_mb,
                d.local_gb,
            )
        });
        let mut per_project: std::collections::BTreeMap<&str, [f64; 4]> = Default::default();
        for (project, created, ended, vcpus, ram_mb, local_gb) in live.chain(gone) {
            let from = created.max(start);
            let to = ended.unwrap_or(stop).min(stop);
            if to <= from {
                continue;
            }
            let hours = (to - from).as_seconds_f64() / 3600.0;
            let totals = per_project.entry(project).or_default();
            totals[0] += hours;
            totals[1] += hours * f64::from(vcpus);
            totals[2] += hours * ram_mb as f64;
            totals[3] += hours * local_gb as f64;
        }
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
        );
        let shown = |t: time::OffsetDateTime| t.format(&format).unwrap_or_default();
        let usages: Vec<Value> = per_project
            .into_iter()
            .map(|(project, [hours, vcpus, ram, disk])| {
                json!({"tenant_id": project, "start": shown(start), "stop": shown(stop),
                       "total_hours": hours, "total_vcpus_usage": vcpus,
                       "total_memory_mb_usage": ram, "total_local_gb_usage": disk})
            })
            .collect();
        Json(json!({"tenant_usages": usages})).into_response()
    })
}
