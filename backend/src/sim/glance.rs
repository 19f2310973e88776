//! Image v2, as Glance answers it: image records, streamed upload and download of data
//! kept on disk (never whole in memory), md5 `checksum` and sha512 multihash.
#![expect(
    clippy::result_large_err,
    reason = "handlers answer with a whole OpenStack error response; these are not hot paths"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use super::keystone;
use super::site::SimSite;
use super::{rfc3339, SimContext};

#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: &'static str,
    pub visibility: String,
    pub owner: String,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<u64>,
    pub checksum: Option<String>,
    pub hash_value: Option<String>,
    pub min_disk: u64,
    pub min_ram: u64,
    pub protected: bool,
    pub tags: Vec<String>,
    /// Free-form string properties (`hw_*`, `os_distro`, …).
    pub properties: BTreeMap<String, Value>,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
    pub file: Option<PathBuf>,
}

impl Image {
    /// An image record as Glance creates it: `queued`, without data or attributes.
    pub fn queued(id: String, owner: String, now: time::OffsetDateTime) -> Image {
        Image {
            id,
            name: None,
            status: "queued",
            visibility: "shared".into(),
            owner,
            disk_format: None,
            container_format: None,
            size: None,
            checksum: None,
            hash_value: None,
            min_disk: 0,
            min_ram: 0,
            protected: false,
            tags: Vec::new(),
            properties: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            file: None,
        }
    }
}

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/", get(versions))
        .route("/versions", get(versions))
        .route("/v2", get(versions))
        .route("/v2/", get(versions))
        .route("/v2/images", get(list_images).post(create_image))
        .route(
            "/v2/images/{id}",
            get(show_image).patch(update_image).delete(delete_image),
        )
        .route("/v2/images/{id}/file", put(upload).get(download))
        .route(
            "/v2/images/{id}/tags/{tag}",
            put(add_tag).delete(remove_tag),
        )
        .route("/v2/schemas/image", get(image_schema))
        .layer(axum::middleware::from_fn(negotiate_errors))
}

/// Glance answers errors as an HTML page unless the request accepts JSON, as a real
/// Glance does (webob's error pages): clients that do not send `Accept:
/// application/json` get HTML to show their users.
async fn negotiate_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_json = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"));
    let response = next.run(request).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    // `error` writes "404 Not Found\n\nmessage\n\n   ".
    let message = text.split("\n\n").nth(1).unwrap_or(&text).trim().to_owned();
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = format!("{} {reason}", status.as_u16());
    if wants_json {
        // A real Glance leaves webob's line breaks in the JSON message too.
        return (
            status,
            Json(json!({"message": format!("{message}<br /><br />\n\n\n"), "code": code, "title": reason})),
        )
            .into_response();
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        format!(
            "<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n  {message}<br /><br />\n\n\n\n </body>\n</html>"
        ),
    )
        .into_response()
}

/// Glance's errors before `negotiate_errors` gives them their form.
pub fn error(status: StatusCode, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        format!("{} {reason}\n\n{message}\n\n   ", status.as_u16()),
    )
        .into_response()
}

/// Attributes Glance owns; anything else in a create or patch is a custom property.
const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "protected",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "os_hidden",
];
const READ_ONLY: &[&str] = &[
    "status",
    "owner",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
];
const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

async fn versions(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Response {
    let base = ctx.service_url(&site.name, "image");
    let version = |id: &str, status: &str| json!({"id": id, "status": status, "links": [{"rel": "self", "href": format!("{base}/v2/")}]});
    let body = json!({"versions": [version("v2.16", "CURRENT"), version("v2.15", "SUPPORTED"), version("v2.9", "SUPPORTED"), version("v2.0", "SUPPORTED")]});
    (StatusCode::MULTIPLE_CHOICES, Json(body)).into_response()
}

fn image_json(image: &Image) -> Value {
    let mut body = json!({
        "id": image.id, "name": image.name, "status": image.status, "visibility": image.visibility,
        "owner": image.owner, "disk_format": image.disk_format, "container_format": image.container_format,
        "size": image.size, "virtual_size": null, "checksum": image.checksum,
        "os_hash_algo": image.hash_value.as_ref().map(|_| "sha512"), "os_hash_value": image.hash_value,
        "min_disk": image.min_disk, "min_ram": image.min_ram, "protected": image.protected, "os_hidden": false,
        "tags": image.tags, "created_at": rfc3339(image.created_at), "updated_at": rfc3339(image.updated_at),
        "self": format!("/v2/images/{}", image.id), "file": format!("/v2/images/{}/file", image.id),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(map) = &mut body {
        for (key, value) in &image.properties {
            map.insert(key.clone(), value.clone());
        }
    }
    body
}

fn visible(image: &Image, caller: &keystone::Caller) -> bool {
    caller.is_admin
        || image.owner == caller.project_id
        || matches!(image.visibility.as_str(), "public" | "community")
}

async fn list_images(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        Some(Ok(limit)) => limit.min(1000),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "limit param must be an integer"),
        None => 25,
    };
    let data = site.data();
    let mut images: Vec<&Image> = data
        .images
        .iter()
        .filter(|i| visible(i, &caller))
        .filter(|i| {
            query
                .get("name")
                .is_none_or(|n| i.name.as_deref() == Some(n.as_str()))
        })
        .filter(|i| query.get("status").is_none_or(|s| i.status == s))
        .filter(|i| query.get("visibility").is_none_or(|v| &i.visibility == v))
        .filter(|i| {
            query
                .get("os_hash_value")
                .is_none_or(|h| i.hash_value.as_deref() == Some(h.as_str()))
        })
        .collect();
    // Glance's default order: newest first.
    images.reverse();
    let start = match query.get("marker") {
        Some(marker) => match images.iter().position(|i| &i.id == marker) {
            Some(at) => at + 1,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("marker {marker} not found"),
                )
            }
        },
        None => 0,
    };
    let page: Vec<&Image> = images.iter().skip(start).take(limit).copied().collect();
    let mut body = json!({"images": page.iter().map(|i| image_json(i)).collect::<Vec<_>>(), "first": "/v2/images", "schema": "/v2/schemas/images"});
    if start + page.len() < images.len() {
        if let Some(last) = page.last() {
            body["next"] = json!(format!("/v2/images?marker={}&limit={limit}", last.id));
        }
    }
    Json(body).into_response()
}

fn find<'a>(
    images: &'a [Image],
    caller: &keystone::Caller,
    id: &str,
) -> Result<&'a Image, Response> {
    images
        .iter()
        .find(|i| i.id == id && visible(i, caller))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("No image found with ID {id}"),
            )
        })
}

async fn show_image(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let data = site.data();
    match find(&data.images, &caller, &id) {
        Ok(image) => Json(image_json(image)).into_response(),
        Err(response) => response,
    }
}

/// Applies one attribute to an image, as a create body or a patch would.
fn set_attribute(image: &mut Image, key: &str, value: &Value) -> Result<(), String> {
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("Invalid type for {key}: expected a string"))
    };
    match key {
        "name" => {
            image.name = if value.is_null() {
                None
            } else {
                Some(text(value)?)
            }
        }
        "visibility" => {
            let v = text(value)?;
            if !matches!(v.as_str(), "public" | "private" | "shared" | "community") {
                return Err(format!("Invalid visibility value: {v}"));
            }
            image.visibility = v;
        }
        "disk_format" => {
            let v = text(value)?;
            if !DISK_FORMATS.contains(&v.as_str()) {
                return Err(format!("Invalid disk format '{v}' for image."));
            }
            image.disk_format = Some(v);
        }
        "container_format" => {
            let v = text(value)?;
            if !CONTAINER_FORMATS.contains(&v.as_str()) {
                return Err(format!("Invalid container format '{v}' for image."));
            }
            image.container_format = Some(v);
        }
        "min_disk" | "min_ram" => {
            let n = value.as_u64().ok_or_else(|| {
                format!("Invalid type for {key}: expected a non-negative integer")
            })?;
            if key == "min_disk" {
                image.min_disk = n
            } else {
                image.min_ram = n
            }
        }
        "protected" => {
            image.protected = value
                .as_bool()
                .ok_or("Invalid type for protected: expected a boolean")?
        }
        "tags" => {
            let tags = value
                .as_array()
                .ok_or("Invalid type for tags: expected an array")?;
            image.tags = tags
                .iter()
                .map(|t| t.as_str().map(str::to_owned).ok_or("tags must be strings"))
                .collect::<Result<_, _>>()?;
        }
        "id" | "os_hidden" => {}
        key if READ_ONLY.contains(&key) => return Err(format!("Attribute '{key}' is read-only.")),
        key if CORE.contains(&key) => return Err(format!("Attribute '{key}' is reserved.")),
        key => {
            if !value.is_string() {
                return Err(format!(
                    "Invalid type for {key}: custom properties are strings"
                ));
            }
            image.properties.insert(key.to_owned(), value.clone());
        }
    }
    Ok(())
}

async fn create_image(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    body: axum::body::Bytes,
) -> Response {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Body expected in request.");
    };
    let now = time::OffsetDateTime::now_utc();
    let id = request
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut image = Image::queued(id, caller.project_id.clone(), now);
    for (key, value) in &request {
        if let Err(message) = set_attribute(&mut image, key, value) {
            let status = if message.contains("read-only") || message.contains("reserved") {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            return error(status, &message);
        }
    }
    if image.visibility == "public" && !caller.is_admin {
        return error(
            StatusCode::FORBIDDEN,
            "Attribute 'visibility' is restricted to admins: public",
        );
    }
    let mut data = site.data();
    if data.images.iter().any(|i| i.id == image.id) {
        return error(
            StatusCode::CONFLICT,
            &format!("Image with identifier {} already exists!", image.id),
        );
    }
    let body = image_json(&image);
    data.images.push(image);
    (StatusCode::CREATED, Json(body)).into_response()
}

/// JSON-patch (`application/openstack-images-v2.1-json-patch`) on top-level attributes.
async fn update_image(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let caller = match keystone::authenticate(&site, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let id = params.get("id").cloned().unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/openstack-images-v2.1-json-patch")
        && !content_type.starts_with("application/openstack-images-v2.0-json-patch")
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Content-Type",
        );
    }
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Request body must be a JSON array of operation objects.",
        );
    };
    let mut data = site.data();
    let Some(image) = data
        .images
        .iter_mut()
        .find(|i| i.id == id && visible(i, &caller))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No image found with ID {id}"),
        );
    };
    if !caller.is_admin && image.owner != caller.project_id {
        return error(
            StatusCode::FORBIDDEN,
            "You are not permitted to modify this image.",
        );
    }
    let mut updated = image.clone();
    for op in &ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let Some(key) = op
            .get("path")
            .and_then(Value::as_str)
            .and_then(|p| p.strip_prefix('/'))
            .filter(|p| !p.contains('/'))
        else {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid JSON pointer for this resource",
            );
        };
        let result = match kind {
            "add" | "replace" => {
                set_attribute(&mut updated, key, op.get("value").unwrap_or(&Value::Null))
            }
            "remove" if !CORE.contains(&key) => match updated.properties.remove(key) {
                Some(_) => Ok(()),
                None => {
                    return error(
                        StatusCode::CONFLICT,
                        &format!("Property {key} does not exist."),
                    )
                }
            },
            "remove" => Err(format!("Attribute '{key}' cannot be removed.")),
            other => Err(format!("Operation '{other}' is not supported.")),
        };
        if let Err(message) = result {
            let status = if message.contains("read-only")
                || message.contains("reserved")
                || message.contains("removed")
            {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            return error(status, &message);
        }
    }
    updated.updated_at = time::OffsetDateTime::now_utc();
    *image = updated;
    Json(image_json(image)).into_response()
}

async fn delete_image(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let removed = {
        let mut data = site.data();
        let image = match find(&data.images, &caller, &id) {
            Ok(image) => image,
            Err(response) => return response,
        };
        if image.protected {
            return error(
                StatusCode::FORBIDDEN,
                &format!("Image {id} is protected and cannot be deleted."),
            );
        }
        if !caller.is_admin && image.owner != caller.project_id {
            return error(
                StatusCode::FORBIDDEN,
                "You are not permitted to delete this image.",
            );
        }
        let at = data.images.iter().position(|i| i.id == id);
        at.map(|at| data.images.remove(at))
    };
    if let Some(path) = removed.and_then(|i| i.file) {
        let _ = tokio::fs::remove_file(path).await;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn add_tag(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    tag(site, headers, params, true)
}

async fn remove_tag(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    tag(site, headers, params, false)
}

fn tag(
    site: Arc<SimSite>,
    headers: HeaderMap,
    params: HashMap<String, String>,
    add: bool,
) -> Response {
    let caller = match keystone::authenticate(&site, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let (id, tag) = (
        params.get("id").cloned().unwrap_or_default(),
        params.get("tag").cloned().unwrap_or_default(),
    );
    let mut data = site.data();
    let Some(image) = data
        .images
        .iter_mut()
        .find(|i| i.id == id && visible(i, &caller))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No image found with ID {id}"),
        );
    };
    if add {
        if !image.tags.contains(&tag) {
            image.tags.push(tag);
        }
    } else if let Some(at) = image.tags.iter().position(|t| *t == tag) {
        image.tags.remove(at);
    } else {
        return error(StatusCode::NOT_FOUND, &format!("Tag {tag} not found"));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Streams the request body to a file, hashing as it goes; the image is `saving`
/// meanwhile and `active` once the last byte is on disk.
async fn upload(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
    body: Body,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    {
        let mut data = site.data();
        let Some(image) = data
            .images
            .iter_mut()
            .find(|i| i.id == id && visible(i, &caller))
        else {
            return error(
                StatusCode::NOT_FOUND,
                &format!("No image found with ID {id}"),
            );
        };
        if image.status != "queued" {
            return error(
                StatusCode::CONFLICT,
                &format!(
                    "Image status transition from {} to saving is not allowed",
                    image.status
                ),
            );
        }
        image.status = "saving";
    }
    // Glance puts an image whose upload broke off back to `queued`, ready for another
    // upload; a client that hangs up drops this handler mid-stream, so a guard does it.
    let mut saving = SavingGuard {
        site: site.clone(),
        id: id.clone(),
        done: false,
    };
    let path = ctx.image_dir(&site.name).join(&id);
    let damaged = site
        .corrupt_next_upload
        .swap(false, std::sync::atomic::Ordering::SeqCst);
    let written = write_streamed(&path, body, damaged).await;
    saving.done = true;
    match written {
        Ok((size, md5, sha512)) => {
            let stored = {
                let mut data = site.data();
                match data.images.iter_mut().find(|i| i.id == id) {
                    Some(image) => {
                        image.status = "active";
                        image.size = Some(size);
                        image.checksum = Some(md5);
                        image.hash_value = Some(sha512);
                        image.file = Some(path.clone());
                        image.updated_at = time::OffsetDateTime::now_utc();
                        true
                    }
                    None => false,
                }
            };
            if stored {
                StatusCode::NO_CONTENT.into_response()
            } else {
                let _ = tokio::fs::remove_file(&path).await;
                error(StatusCode::GONE, "Image was deleted during upload")
            }
        }
        Err(message) => {
            if let Some(image) = site.data().images.iter_mut().find(|i| i.id == id) {
                image.status = "queued";
            }
            let _ = tokio::fs::remove_file(&path).await;
            error(
                StatusCode::BAD_REQUEST,
                &format!("Error in store: {message}"),
            )
        }
    }
}

struct SavingGuard {
    site: Arc<SimSite>,
    id: String,
    done: bool,
}

impl Drop for SavingGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut data = self.site.data();
        if let Some(image) = data.images.iter_mut().find(|i| i.id == self.id) {
            if image.status == "saving" {
                image.status = "queued";
            }
        }
    }
}

async fn write_streamed(
    path: &std::path::Path,
    body: Body,
    mut damaged: bool,
) -> Result<(u64, String, String), String> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut md5 = md5::Md5::new();
    let mut sha512 = sha2::Sha512::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| e.to_string())?;
        if damaged && !chunk.is_empty() {
            let mut bytes = chunk.to_vec();
            bytes[0] ^= 0xff;
            chunk = bytes.into();
            damaged = false;
        }
        md5.update(&chunk);
        sha512.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())?;
    Ok((size, hex(&md5.finalize()), hex(&sha512.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn download(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let caller = match keystone::authenticate(&site, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let id = params.get("id").cloned().unwrap_or_default();
    site.image_downloads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (path, checksum, size) = {
        let data = site.data();
        match find(&data.images, &caller, &id) {
            Ok(image) => (image.file.clone(), image.checksum.clone(), image.size),
            Err(response) => return response,
        }
    };
    let Some(path) = path else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("Image data unavailable: {e}"),
            )
        }
    };
    let mut response =
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024))
            .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(size) = size {
        headers.insert(header::CONTENT_LENGTH, size.into());
    }
    if let Some(value) = checksum.and_then(|c| c.parse().ok()) {
        headers.insert("content-md5", value);
    }
    response
}

async fn image_schema() -> Json<Value> {
    let mut properties = Map::new();
    for key in CORE {
        properties.insert((*key).to_owned(), json!({"description": key}));
    }
    Json(
        json!({"name": "image", "properties": properties, "additionalProperties": {"type": "string"}}),
    )
}
