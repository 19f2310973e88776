//! Level L1 over HTTP: `/api/v1/sites/{site}/{resource}[/{id}]`.
//!
//! Handlers parse the resource kind and body, authorize, bind the site's session to a
//! deadline, call `resources::SiteOps`, and map the result.

use std::str::FromStr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt;
use overcast_api_types::l1::{
    Items, NewFlavor, NewImage, NewKeypair, NewNetwork, NewProject, NewRoleAssignment,
    NewSecurityGroup, NewServer, NewSubnet, NewUser, NewVolume, QuotaUpdate, ServerActionRequest,
    VolumeAttachmentRequest,
};
use overcast_api_types::SiteState;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Caller, Operator};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::AppState;
use crate::federation::Kind;
use crate::resources::{ResourceError, SiteOps};

/// The resources of one site that L1 offers, parsed from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Servers,
    Images,
    Flavors,
    Networks,
    Subnets,
    Volumes,
    Keypairs,
    SecurityGroups,
    Projects,
    Users,
    RoleAssignments,
    Quotas,
    Hypervisors,
    Services,
}

impl Resource {
    pub const ALL: [Resource; 14] = [
        Resource::Servers,
        Resource::Images,
        Resource::Flavors,
        Resource::Networks,
        Resource::Subnets,
        Resource::Volumes,
        Resource::Keypairs,
        Resource::SecurityGroups,
        Resource::Projects,
        Resource::Users,
        Resource::RoleAssignments,
        Resource::Quotas,
        Resource::Hypervisors,
        Resource::Services,
    ];
}

impl FromStr for Resource {
    type Err = ApiError;

    fn from_str(text: &str) -> Result<Self, ApiError> {
        Ok(match text {
            "servers" => Resource::Servers,
            "images" => Resource::Images,
            "flavors" => Resource::Flavors,
            "networks" => Resource::Networks,
            "subnets" => Resource::Subnets,
            "volumes" => Resource::Volumes,
            "keypairs" => Resource::Keypairs,
            "security-groups" => Resource::SecurityGroups,
            "projects" => Resource::Projects,
            "users" => Resource::Users,
            "role-assignments" => Resource::RoleAssignments,
            "quotas" => Resource::Quotas,
            "hypervisors" => Resource::Hypervisors,
            "services" => Resource::Services,
            other => {
                return Err(ApiError::NotFound(format!(
                    "no resource {other:?}; see /api/v1/openapi.json"
                )))
            }
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct CallOptions {
    /// Deadline for asking the site, in milliseconds.
    timeout_ms: Option<u64>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// A deadline shorter than a sign-in or one round trip to an edge site can only fail.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

impl CallOptions {
    fn timeout(&self) -> Result<Duration, ApiError> {
        match self.timeout_ms {
            None => Ok(DEFAULT_TIMEOUT),
            Some(ms) if Duration::from_millis(ms) < MIN_TIMEOUT => Err(ApiError::invalid_field(
                "timeout_ms",
                format!(
                    "must be at least {} ms: one call to a site takes longer than that",
                    MIN_TIMEOUT.as_millis()
                ),
            )),
            Some(ms) => Ok(Duration::from_millis(ms).min(MAX_TIMEOUT)),
        }
    }
}

/// A site's operations, or at once a 503 when the site is known to be unreachable:
/// the circuit breaker costs the caller no waiting.
async fn ops(state: &AppState, site: &str, options: &CallOptions) -> Result<SiteOps, ApiError> {
    let timeout = options.timeout()?;
    let session = state.sessions.session(site).await?;
    if state.health.is_unreachable(site) {
        return Err(ApiError::Site {
            site: site.to_owned(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "site_unreachable",
            message: format!("site {site} is unreachable (health checks fail); it was not asked"),
            site_status: None,
            site_state: Some(SiteState::Unreachable),
        });
    }
    Ok(SiteOps::new(
        site.to_owned(),
        session,
        tokio::time::Instant::now() + timeout,
    ))
}

fn site_failed<'a>(state: &'a AppState, site: &str) -> impl Fn(ResourceError) -> ApiError + 'a {
    let site = site.to_owned();
    move |error| ApiError::from_site(&site, state.health.state(&site), error)
}

fn items<T: Serialize>(site: &str, items: Vec<T>) -> Response {
    Json(Items {
        site: site.to_owned(),
        items,
    })
    .into_response()
}

fn one<T: Serialize>(status: StatusCode, value: T) -> Response {
    (status, Json(value)).into_response()
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let problem = e.inner().to_string();
        let field = overcast_api_types::FieldError::from_decoding("", &path, &problem);
        ApiError::InvalidInput {
            message: format!("invalid request body: {}: {problem}", field.field),
            fields: vec![field],
        }
    })
}

pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    Path((site, resource)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<Response, ApiError> {
    let resource: Resource = resource.parse()?;
    let ops = ops(&state, &site, &options).await?;
    let failed = site_failed(&state, &site);
    let response = match resource {
        Resource::Servers => items(&site, ops.servers().await.map_err(failed)?),
        Resource::Images => items(&site, ops.images().await.map_err(failed)?),
        Resource::Flavors => items(&site, ops.flavors().await.map_err(failed)?),
        Resource::Networks => items(&site, ops.networks().await.map_err(failed)?),
        Resource::Subnets => items(&site, ops.subnets().await.map_err(failed)?),
        Resource::Volumes => items(&site, ops.volumes().await.map_err(failed)?),
        Resource::Keypairs => items(&site, ops.keypairs().await.map_err(failed)?),
        Resource::SecurityGroups => items(&site, ops.security_groups().await.map_err(failed)?),
        Resource::Projects => items(&site, ops.projects().await.map_err(failed)?),
        Resource::Users => items(&site, ops.users().await.map_err(failed)?),
        Resource::RoleAssignments => items(&site, ops.role_assignments().await.map_err(failed)?),
        // The quotas of the project the console signs in to.
        Resource::Quotas => one(StatusCode::OK, ops.quotas("admin").await.map_err(failed)?),
        Resource::Hypervisors => items(&site, ops.hypervisors().await.map_err(failed)?),
        Resource::Services => items(&site, ops.compute_services().await.map_err(failed)?),
    };
    Ok(response)
}

pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path((site, resource, id)): Path<(String, String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<Response, ApiError> {
    let resource: Resource = resource.parse()?;
    let ops = ops(&state, &site, &options).await?;
    let failed = site_failed(&state, &site);
    let ok = StatusCode::OK;
    let response = match resource {
        Resource::Servers => one(ok, ops.server(&id).await.map_err(failed)?),
        Resource::Images => one(ok, ops.image(&id).await.map_err(failed)?),
        Resource::Flavors => one(ok, ops.find_flavor(&id).await.map_err(failed)?),
        Resource::Networks => one(ok, ops.network(&id).await.map_err(failed)?),
        Resource::Subnets => one(ok, ops.subnet(&id).await.map_err(failed)?),
        Resource::Volumes => one(ok, ops.volume(&id).await.map_err(failed)?),
        Resource::Keypairs => one(ok, ops.keypair(&id).await.map_err(failed)?),
        Resource::SecurityGroups => one(ok, ops.security_group(&id).await.map_err(failed)?),
        Resource::Projects => one(ok, ops.find_project(&id).await.map_err(failed)?),
        Resource::Users => one(ok, ops.find_user(&id).await.map_err(failed)?),
        Resource::Quotas => one(ok, ops.quotas(&id).await.map_err(failed)?),
        Resource::Hypervisors => {
            let found = ops
                .hypervisors()
                .await
                .map_err(failed)?
                .into_iter()
                .find(|h| h.id == id || h.hostname == id);
            one(
                ok,
                found.ok_or_else(|| {
                    ApiError::NotFound(format!("no hypervisor {id} at site {site}"))
                })?,
            )
        }
        Resource::RoleAssignments | Resource::Services => {
            return Err(ApiError::MethodNotAllowed);
        }
    };
    Ok(response)
}

pub async fn create(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, resource)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
    super::extract::ApiJson(body): super::extract::ApiJson<Value>,
) -> Result<Response, ApiError> {
    let resource: Resource = resource.parse()?;
    let ops = ops(&state, &site, &options).await?;
    let failed = site_failed(&state, &site);
    let created = StatusCode::CREATED;
    let response = match resource {
        // Nova builds servers asynchronously: 202 with the server in BUILD.
        Resource::Servers => one(
            StatusCode::ACCEPTED,
            ops.create_server(&parse::<NewServer>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Images => one(
            created,
            ops.create_image(&parse::<NewImage>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Flavors => one(
            created,
            ops.create_flavor(&parse::<NewFlavor>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Networks => one(
            created,
            ops.create_network(&parse::<NewNetwork>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Subnets => one(
            created,
            ops.create_subnet(&parse::<NewSubnet>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Volumes => one(
            StatusCode::ACCEPTED,
            ops.create_volume(&parse::<NewVolume>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Keypairs => one(
            created,
            ops.create_keypair(&parse::<NewKeypair>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::SecurityGroups => one(
            created,
            ops.create_security_group(&parse::<NewSecurityGroup>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Projects => one(
            created,
            ops.create_project(&parse::<NewProject>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Users => one(
            created,
            ops.create_user(&parse::<NewUser>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::RoleAssignments => one(
            created,
            ops.grant_role(&parse::<NewRoleAssignment>(body)?)
                .await
                .map_err(failed)?,
        ),
        Resource::Quotas | Resource::Hypervisors | Resource::Services => {
            return Err(ApiError::MethodNotAllowed)
        }
    };
    tracing::info!(site, ?resource, by = %caller.username, "created");
    refresh_inventory(&state, &site, resource);
    Ok(response)
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, resource, id)): Path<(String, String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<StatusCode, ApiError> {
    let resource: Resource = resource.parse()?;
    let ops = ops(&state, &site, &options).await?;
    let failed = site_failed(&state, &site);
    match resource {
        Resource::Servers => ops.delete_server(&id).await,
        Resource::Images => ops.delete_image(&id).await,
        Resource::Flavors => ops.delete_flavor(&id).await,
        Resource::Networks => ops.delete_network(&id).await,
        Resource::Subnets => ops.delete_subnet(&id).await,
        Resource::Volumes => ops.delete_volume(&id).await,
        Resource::Keypairs => ops.delete_keypair(&id).await,
        Resource::SecurityGroups => ops.delete_security_group(&id).await,
        Resource::Projects => ops.delete_project(&id).await,
        Resource::Users => ops.delete_user(&id).await,
        Resource::RoleAssignments => ops.revoke_role(&id).await,
        Resource::Quotas | Resource::Hypervisors | Resource::Services => {
            return Err(ApiError::MethodNotAllowed)
        }
    }
    .map_err(failed)?;
    tracing::info!(site, ?resource, id, by = %caller.username, "deleted");
    // Gone from cached reads at once; the refresh then confirms it.
    if let Some(kind) = inventory_kind(resource) {
        state
            .fan_out
            .forget_items(&site, kind, std::slice::from_ref(&id));
    }
    refresh_inventory(&state, &site, resource);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn show_quotas(
    State(state): State<AppState>,
    _caller: Caller,
    Path((site, project)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<Response, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    Ok(one(
        StatusCode::OK,
        ops.quotas(&project)
            .await
            .map_err(site_failed(&state, &site))?,
    ))
}

pub async fn update_quotas(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, project)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
    super::extract::ApiJson(update): super::extract::ApiJson<QuotaUpdate>,
) -> Result<Response, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    let quotas = ops
        .update_quotas(&project, &update)
        .await
        .map_err(site_failed(&state, &site))?;
    tracing::info!(site, project, by = %caller.username, "quotas updated");
    Ok(one(StatusCode::OK, quotas))
}

pub async fn server_action(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, id)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
    super::extract::ApiJson(request): super::extract::ApiJson<ServerActionRequest>,
) -> Result<StatusCode, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    ops.server_action(&id, request.action)
        .await
        .map_err(site_failed(&state, &site))?;
    tracing::info!(site, server = id, action = ?request.action, by = %caller.username, "server action");
    refresh_inventory(&state, &site, Resource::Servers);
    Ok(StatusCode::ACCEPTED)
}

/// `POST /sites/{site}/servers/{id}/volumes`: attach a volume; the site finishes it.
pub async fn attach_volume(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, id)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
    super::extract::ApiJson(request): super::extract::ApiJson<VolumeAttachmentRequest>,
) -> Result<StatusCode, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    ops.attach_volume(&id, &request.volume)
        .await
        .map_err(site_failed(&state, &site))?;
    tracing::info!(site, server = id, volume = request.volume, by = %caller.username, "volume attached");
    refresh_inventory(&state, &site, Resource::Volumes);
    refresh_inventory(&state, &site, Resource::Servers);
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /sites/{site}/servers/{id}/volumes/{volume}`: detach a volume.
pub async fn detach_volume(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, id, volume)): Path<(String, String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<StatusCode, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    ops.detach_volume(&id, &volume)
        .await
        .map_err(site_failed(&state, &site))?;
    tracing::info!(site, server = id, volume, by = %caller.username, "volume detached");
    refresh_inventory(&state, &site, Resource::Volumes);
    refresh_inventory(&state, &site, Resource::Servers);
    Ok(StatusCode::ACCEPTED)
}

/// `GET /sites/{site}/servers/{id}/events`: what was done to the server, newest first.
pub async fn server_events(
    State(state): State<AppState>,
    _caller: Caller,
    Path((site, id)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<Response, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    let events = ops
        .server_events(&id)
        .await
        .map_err(site_failed(&state, &site))?;
    Ok(items(&site, events))
}

#[derive(Debug, Deserialize)]
pub struct ConsoleLogOptions {
    timeout_ms: Option<u64>,
    /// Lines from the end of the log (default 200, at most 10,000).
    lines: Option<u32>,
}

/// `GET /sites/{site}/servers/{id}/console-log`: the tail of the server's console, or
/// the site's reason for having none.
pub async fn console_log(
    State(state): State<AppState>,
    _caller: Caller,
    Path((site, id)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<ConsoleLogOptions>,
) -> Result<Response, ApiError> {
    let lines = match options.lines {
        Some(0) => return Err(ApiError::invalid("lines must be positive")),
        Some(n) => n.min(10_000),
        None => crate::resources::CONSOLE_LOG_LINES,
    };
    let call = CallOptions {
        timeout_ms: options.timeout_ms,
    };
    let ops = ops(&state, &site, &call).await?;
    let log = ops
        .console_log(&id, lines)
        .await
        .map_err(site_failed(&state, &site))?;
    Ok(one(StatusCode::OK, log))
}

/// A change made through the console shows in cached reads and fleet totals at once,
/// not at the next background refresh minutes later.
fn refresh_inventory(state: &AppState, site: &str, resource: Resource) {
    if let Some(kind) = inventory_kind(resource) {
        state.fan_out.refresh_soon(site, kind);
    }
}

/// The inventory's kind of a resource, for the ones it keeps.
fn inventory_kind(resource: Resource) -> Option<Kind> {
    Some(match resource {
        Resource::Servers => Kind::Servers,
        Resource::Images => Kind::Images,
        Resource::Flavors => Kind::Flavors,
        Resource::Networks => Kind::Networks,
        Resource::Volumes => Kind::Volumes,
        Resource::Projects => Kind::Projects,
        Resource::Users => Kind::Users,
        _ => return None,
    })
}

pub async fn capabilities(
    State(state): State<AppState>,
    _caller: Caller,
    Path(site): Path<String>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<Response, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    Ok(one(
        StatusCode::OK,
        ops.capabilities()
            .await
            .map_err(site_failed(&state, &site))?,
    ))
}

/// Streams the request body to the site's Glance; nothing is held whole in memory.
pub async fn upload_image(
    State(state): State<AppState>,
    caller: Operator,
    Path((site, id)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = super::IMAGE_BODY_LIMIT;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge(format!(
            "image data is limited to {} GiB",
            limit >> 30
        )));
    }
    let ops = ops(&state, &site, &options).await?;
    // Without a Content-Length the limit is enforced while streaming: past it the upload
    // is cut, and the site's Glance never marks the image active.
    let mut seen = 0u64;
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len() as u64;
            let over = seen > limit;
            async move {
                if over {
                    Err(std::io::Error::other("image data over the limit"))
                } else {
                    Ok(chunk)
                }
            }
        });
    let image = ops
        .upload_image(&id, reqwest::Body::wrap_stream(stream))
        .await
        .map_err(site_failed(&state, &site))?;
    tracing::info!(site, image = id, by = %caller.username, "image data uploaded");
    Ok(one(StatusCode::OK, image))
}

/// Streams an image's data from the site's Glance to the caller.
pub async fn download_image(
    State(state): State<AppState>,
    _caller: Caller,
    Path((site, id)): Path<(String, String)>,
    ApiQuery(options): ApiQuery<CallOptions>,
) -> Result<Response, ApiError> {
    let ops = ops(&state, &site, &options).await?;
    let data = ops
        .download_image(&id)
        .await
        .map_err(site_failed(&state, &site))?;
    let mut response = Body::from_stream(data.response.bytes_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(size) = data.size {
        headers.insert(header::CONTENT_LENGTH, size.into());
    }
    if let Some(value) = data
        .checksum
        .and_then(|c| header::HeaderValue::from_str(&c).ok())
    {
        headers.insert("content-md5", value);
    }
    Ok(response)
}
