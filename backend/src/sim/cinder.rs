//! Block storage v3, as Cinder answers it: volumes (creating → available) and quotas.
//! Only on sites whose profile has Cinder.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::keystone::{self, Caller};
use super::nova;
use super::site::SimSite;
use super::{rfc3339, SimContext};

#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size_gb: u64,
    pub project_id: String,
    pub user_id: String,
    pub volume_type: String,
    pub bootable: bool,
    pub image_id: Option<String>,
    pub metadata: serde_json::Map<String, Value>,
    pub created_at: time::OffsetDateTime,
    /// `creating` until then; derived on read like servers.
    pub ready_at: Instant,
    /// The server it is attached to (by Nova's `os-volume_attachments`), if any.
    pub attachment: Option<Attachment>,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: String,
    pub server_id: String,
    pub device: String,
    pub at: time::OffsetDateTime,
}

impl Volume {
    pub fn status(&self, now: Instant) -> &'static str {
        if now < self.ready_at {
            "creating"
        } else if self.attachment.is_some() {
            "in-use"
        } else {
            "available"
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct VolumeQuota {
    pub volumes: i64,
    pub gigabytes: i64,
    pub snapshots: i64,
    pub backups: i64,
    pub backup_gigabytes: i64,
    pub per_volume_gigabytes: i64,
    pub groups: i64,
}

impl Default for VolumeQuota {
    /// Cinder's defaults.
    fn default() -> Self {
        VolumeQuota {
            volumes: 10,
            gigabytes: 1000,
            snapshots: 10,
            backups: 10,
            backup_gigabytes: 1000,
            per_volume_gigabytes: -1,
            groups: 10,
        }
    }
}

const MAX_MICROVERSION: &str = "3.70";

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(versions))
        .route("/v3/", get(versions))
        .route("/v3/volumes", get(list_volumes).post(create_volume))
        .route("/v3/volumes/detail", get(list_volumes_detail))
        .route("/v3/volumes/{id}", get(show_volume).delete(delete_volume))
        .route(
            "/v3/os-quota-sets/{project}",
            get(show_quota).put(update_quota),
        )
        .route("/v3/types", get(list_types))
}

async fn versions(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Response {
    let body = json!({"versions": [{"id": "v3.0", "status": "CURRENT", "version": MAX_MICROVERSION, "min_version": "3.0",
        "updated": "2023-08-31T00:00:00Z", "links": [{"rel": "self", "href": format!("{}/", ctx.service_url(&site.name, "volume/v3"))}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]}]});
    (StatusCode::MULTIPLE_CHOICES, Json(body)).into_response()
}

fn volume_json(ctx: &SimContext, site: &SimSite, v: &Volume, now: Instant) -> Value {
    json!({"id": v.id, "name": v.name, "description": v.description, "size": v.size_gb, "status": v.status(now),
           "volume_type": v.volume_type, "bootable": if v.bootable { "true" } else { "false" }, "encrypted": false,
           "multiattach": false, "availability_zone": "nova", "metadata": v.metadata,
           "attachments": v.attachment.iter().map(|a| json!({"id": v.id, "attachment_id": a.id, "volume_id": v.id, "server_id": a.server_id,
                                                             "device": a.device, "host_name": null, "attached_at": rfc3339(a.at)})).collect::<Vec<_>>(),
           "os-vol-tenant-attr:tenant_id": v.project_id, "user_id": v.user_id, "snapshot_id": null, "source_volid": null,
           "consistencygroup_id": null, "replication_status": null, "created_at": rfc3339(v.created_at), "updated_at": null,
           "volume_image_metadata": v.image_id.as_ref().map(|id| json!({"image_id": id})),
           "links": [{"rel": "self", "href": format!("{}/volumes/{}", ctx.service_url(&site.name, "volume/v3"), v.id)}]})
}

fn visible_volumes<'a>(
    data: &'a super::site::SiteData,
    caller: &Caller,
    query: &HashMap<String, String>,
) -> Vec<&'a Volume> {
    let all = caller.is_admin
        && query
            .get("all_tenants")
            .is_some_and(|v| v != "0" && v != "false");
    data.volumes
        .iter()
        .rev()
        .filter(|v| all || v.project_id == caller.project_id)
        .filter(|v| {
            query
                .get("name")
                .is_none_or(|n| v.name.as_deref() == Some(n.as_str()))
        })
        .collect()
}

async fn list_volumes(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = visible_volumes(&data, &caller, &query)
        .iter()
        .map(|v| json!({"id": v.id, "name": v.name, "links": [{"rel": "self", "href": format!("{}/volumes/{}", ctx.service_url(&site.name, "volume/v3"), v.id)}]}))
        .collect();
    Json(json!({"volumes": items})).into_response()
}

async fn list_volumes_detail(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let now = Instant::now();
    let items: Vec<Value> = visible_volumes(&data, &caller, &query)
        .iter()
        .map(|v| volume_json(&ctx, &site, v, now))
        .collect();
    Json(json!({"volumes": items})).into_response()
}

async fn show_volume(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let data = site.data();
    match data
        .volumes
        .iter()
        .find(|v| v.id == id && (caller.is_admin || v.project_id == caller.project_id))
    {
        Some(v) => {
            Json(json!({"volume": volume_json(&ctx, &site, v, Instant::now())})).into_response()
        }
        None => nova::error(
            StatusCode::NOT_FOUND,
            &format!("Volume {id} could not be found."),
        ),
    }
}

fn over_limit(message: String) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({"overLimit": {"code": 413, "message": message, "retryAfter": "0"}})),
    )
        .into_response()
}

async fn create_volume(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    body: axum::body::Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return nova::error(StatusCode::BAD_REQUEST, "Malformed request body");
    };
    let Some(fields) = request.get("volume").and_then(Value::as_object) else {
        return nova::error(
            StatusCode::BAD_REQUEST,
            "Missing required element 'volume' in request body.",
        );
    };
    let size = match fields.get("size") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let Some(size) = size.filter(|s| *s >= 1) else {
        return nova::error(
            StatusCode::BAD_REQUEST,
            "Invalid input for field/attribute size. Value: must be an integer >= 1.",
        );
    };
    let mut data = site.data();
    let quota = data.volume_quota(&caller.project_id);
    let mine: Vec<&Volume> = data
        .volumes
        .iter()
        .filter(|v| v.project_id == caller.project_id)
        .collect();
    let used_gb: u64 = mine.iter().map(|v| v.size_gb).sum();
    if quota.volumes >= 0 && mine.len() as i64 >= quota.volumes {
        return over_limit(format!("VolumeLimitExceeded: Maximum number of volumes allowed ({}) exceeded for quota 'volumes'.", quota.volumes));
    }
    if quota.gigabytes >= 0 && (used_gb + size) as i64 > quota.gigabytes {
        return over_limit(format!(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {size}G, quota is {}G and {used_gb}G has been consumed.",
            quota.gigabytes
        ));
    }
    let image_id = fields
        .get("imageRef")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let volume = Volume {
        id: uuid::Uuid::new_v4().to_string(),
        name: fields
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        description: fields
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        size_gb: size,
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        volume_type: fields
            .get("volume_type")
            .and_then(Value::as_str)
            .unwrap_or("__DEFAULT__")
            .to_owned(),
        bootable: image_id.is_some(),
        image_id,
        metadata: fields
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        created_at: time::OffsetDateTime::now_utc(),
        ready_at: Instant::now() + site.build_delay / 2,
        attachment: None,
    };
    let body = json!({"volume": volume_json(&ctx, &site, &volume, Instant::now())});
    data.volumes.push(volume);
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

async fn delete_volume(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let mut data = site.data();
    let now = Instant::now();
    let Some(volume) = data
        .volumes
        .iter()
        .find(|v| v.id == id && (caller.is_admin || v.project_id == caller.project_id))
    else {
        return nova::error(
            StatusCode::NOT_FOUND,
            &format!("Volume {id} could not be found."),
        );
    };
    if volume.status(now) != "available" {
        return nova::error(StatusCode::BAD_REQUEST, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.");
    }
    data.volumes.retain(|v| v.id != id);
    StatusCode::ACCEPTED.into_response()
}

fn quota_json(project: &str, q: &VolumeQuota) -> Value {
    json!({"id": project, "volumes": q.volumes, "gigabytes": q.gigabytes, "snapshots": q.snapshots, "backups": q.backups,
           "backup_gigabytes": q.backup_gigabytes, "per_volume_gigabytes": q.per_volume_gigabytes, "groups": q.groups,
           "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1, "snapshots___DEFAULT__": -1})
}

async fn show_quota(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let project = params.get("project").cloned().unwrap_or_default();
    if !caller.is_admin && caller.project_id != project {
        return nova::error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow volume_extension:quotas:show to be performed.",
        );
    }
    let data = site.data();
    let q = data.volume_quota(&project);
    if query
        .get("usage")
        .is_some_and(|u| u.eq_ignore_ascii_case("true"))
    {
        let mine: Vec<&Volume> = data
            .volumes
            .iter()
            .filter(|v| v.project_id == project)
            .collect();
        let detail = |limit: i64, in_use: u64| json!({"limit": limit, "in_use": in_use, "reserved": 0, "allocated": 0});
        return Json(json!({"quota_set": {"id": project,
            "volumes": detail(q.volumes, mine.len() as u64),
            "gigabytes": detail(q.gigabytes, mine.iter().map(|v| v.size_gb).sum()),
            "snapshots": detail(q.snapshots, 0), "backups": detail(q.backups, 0),
            "backup_gigabytes": detail(q.backup_gigabytes, 0), "per_volume_gigabytes": detail(q.per_volume_gigabytes, 0),
            "groups": detail(q.groups, 0)}}))
        .into_response();
    }
    Json(json!({"quota_set": quota_json(&project, &q)})).into_response()
}

async fn update_quota(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    if !caller.is_admin {
        return nova::error(
            StatusCode::FORBIDDEN,
            "Policy doesn't allow volume_extension:quotas:update to be performed.",
        );
    }
    let project = params.get("project").cloned().unwrap_or_default();
    let Some(fields) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("quota_set").and_then(Value::as_object).cloned())
    else {
        return nova::error(
            StatusCode::BAD_REQUEST,
            "Missing required element 'quota_set' in request body.",
        );
    };
    let mut data = site.data();
    let mut quota = data.volume_quota(&project);
    for (key, value) in &fields {
        if key == "tenant_id" || key == "id" {
            continue;
        }
        let Some(limit) = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|l| *l >= -1)
        else {
            return nova::error(
                StatusCode::BAD_REQUEST,
                &format!("Quota {key} value must be an integer greater than or equal to -1."),
            );
        };
        let slot = match key.as_str() {
            "volumes" => &mut quota.volumes,
            "gigabytes" => &mut quota.gigabytes,
            "snapshots" => &mut quota.snapshots,
            "backups" => &mut quota.backups,
            "backup_gigabytes" => &mut quota.backup_gigabytes,
            "per_volume_gigabytes" => &mut quota.per_volume_gigabytes,
            "groups" => &mut quota.groups,
            other => {
                return nova::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Bad key(s) in quota set: {other}"),
                )
            }
        };
        *slot = limit;
    }
    data.volume_quotas.insert(project.clone(), quota);
    let mut body = quota_json(&project, &quota);
    if let Value::Object(map) = &mut body {
        map.remove("id");
    }
    Json(json!({"quota_set": body})).into_response()
}

async fn list_types(
    Extension(site): Extension<Arc<SimSite>>,
    _caller: keystone::Caller,
) -> Response {
    Json(json!({"volume_types": [{"id": super::site::stable_id(&site.name, "volume-type", 0), "name": "__DEFAULT__",
        "description": "Default Volume Type", "is_public": true, "extra_specs": {}}]}))
    .into_response()
}
