//! Identity v3, as Keystone answers it: version discovery, token issue and validation,
//! projects and users.
#![expect(
    clippy::result_large_err,
    reason = "handlers answer with a whole OpenStack error response; these are not hot paths"
)]

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::site::{SimSite, Token, DEFAULT_DOMAIN, ROLE_ADMIN};
use super::{rfc3339, SimContext};

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .route(
            "/v3/auth/tokens",
            post(issue_token)
                .get(validate_token)
                .head(check_token)
                .delete(revoke_token),
        )
        .merge(super::identity::router())
}

const TOKEN_LIFETIME: time::Duration = time::Duration::hours(1);

/// Keystone's error body: `{"error": {"code", "message", "title"}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message, "title": title}})),
    )
        .into_response()
}

pub fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "The request you have made requires authentication.",
    )
}

fn version_doc(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
    })
}

async fn versions(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Response {
    let base = ctx.service_url(&site.name, "identity");
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [version_doc(&base)]}})),
    )
        .into_response()
}

async fn version(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Json<Value> {
    Json(json!({"version": version_doc(&ctx.service_url(&site.name, "identity"))}))
}

/// Who a token belongs to, resolved from the `X-Auth-Token` header.
pub struct Caller {
    pub user_id: String,
    pub project_id: String,
    pub is_admin: bool,
}

/// Checks `X-Auth-Token` the way every OpenStack service's keystonemiddleware does.
pub fn authenticate(site: &SimSite, headers: &HeaderMap) -> Result<Caller, Response> {
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let data = site.data();
    let record = data.tokens.get(token).ok_or_else(unauthorized)?;
    if record.expires_at <= time::OffsetDateTime::now_utc() {
        return Err(unauthorized());
    }
    let is_admin = data.has_role(&record.user_id, &record.project_id, ROLE_ADMIN);
    Ok(Caller {
        user_id: record.user_id.clone(),
        project_id: record.project_id.clone(),
        is_admin,
    })
}

fn domain_matches(scope: &Value, domain_id: &str) -> bool {
    match (
        scope.get("id").and_then(Value::as_str),
        scope.get("name").and_then(Value::as_str),
    ) {
        (Some(id), _) => id == domain_id,
        (None, Some(name)) => name.eq_ignore_ascii_case(domain_id),
        (None, None) => false,
    }
}

async fn issue_token(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    body: axum::body::Bytes,
) -> Response {
    site.token_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Malformed request body: expected JSON.",
        );
    };
    let Some(auth) = request.get("auth") else {
        return error(StatusCode::BAD_REQUEST, "'auth' is a required property");
    };
    let identity = &auth["identity"];
    let Some(methods) = identity.get("methods").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "'methods' is a required property");
    };
    let methods: Vec<String> = methods
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();

    let mut data = site.data();
    let (user, project) = if methods.iter().any(|m| m == "password") {
        let user = &identity["password"]["user"];
        let password = user["password"].as_str().unwrap_or_default();
        let found = data.users.iter().find(|u| {
            let by_id = user
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id == u.id);
            let by_name = user
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n == u.name)
                && domain_matches(&user["domain"], &u.domain_id);
            (by_id || by_name) && u.enabled
        });
        let user = match found {
            Some(u) if u.password == password => u.clone(),
            _ => return unauthorized(),
        };
        let project = match auth.get("scope").and_then(|s| s.get("project")) {
            Some(scope) => data.projects.iter().find(|p| {
                let by_id = scope
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id == p.id);
                let by_name = scope
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n == p.name)
                    && domain_matches(&scope["domain"], &p.domain_id);
                by_id || by_name
            }),
            None => user
                .default_project_id
                .as_ref()
                .and_then(|id| data.projects.iter().find(|p| &p.id == id)),
        };
        let Some(project) = project.cloned() else {
            return unauthorized();
        };
        (user, project)
    } else if methods.iter().any(|m| m == "application_credential") {
        let credential = &identity["application_credential"];
        let secret = credential["secret"].as_str().unwrap_or_default();
        let found = data.application_credentials.iter().find(|c| {
            credential
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id == c.id)
                || (credential
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n == c.name)
                    && credential["user"]["id"]
                        .as_str()
                        .is_some_and(|u| u == c.user_id))
        });
        let now = time::OffsetDateTime::now_utc();
        let Some(found) =
            found.filter(|c| c.secret == secret && c.expires_at.is_none_or(|at| at > now))
        else {
            return unauthorized();
        };
        let user = data
            .users
            .iter()
            .find(|u| u.id == found.user_id && u.enabled)
            .cloned();
        let project = data
            .projects
            .iter()
            .find(|p| p.id == found.project_id)
            .cloned();
        match (user, project) {
            (Some(user), Some(project)) => (user, project),
            _ => return unauthorized(),
        }
    } else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Attempted to authenticate with an unsupported method.",
        );
    };
    if data.roles_of(&user.id, &project.id).is_empty() {
        return unauthorized();
    }

    let now = time::OffsetDateTime::now_utc();
    data.tokens.retain(|_, t| t.expires_at > now);
    let token_id = uuid::Uuid::new_v4().simple().to_string();
    let token = Token {
        user_id: user.id.clone(),
        project_id: project.id.clone(),
        methods,
        issued_at: now,
        expires_at: now + TOKEN_LIFETIME,
        audit_id: uuid::Uuid::new_v4().simple().to_string()[..22].to_owned(),
    };
    let body = token_body(&ctx, &site, &data, &token, true);
    data.tokens.insert(token_id.clone(), token);
    drop(data);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = token_id.parse() {
        response.headers_mut().insert("x-subject-token", value);
    }
    response
}

fn token_body(
    ctx: &SimContext,
    site: &SimSite,
    data: &super::site::SiteData,
    token: &Token,
    with_catalog: bool,
) -> Value {
    let user = data.users.iter().find(|u| u.id == token.user_id);
    let project = data.projects.iter().find(|p| p.id == token.project_id);
    let roles: Vec<Value> = data
        .roles_of(&token.user_id, &token.project_id)
        .into_iter()
        .filter_map(|id| data.roles.iter().find(|r| r.id == id))
        .map(|r| json!({"id": r.id, "name": r.name}))
        .collect();
    let domain = json!({"id": DEFAULT_DOMAIN, "name": "Default"});
    let mut body = json!({
        "token": {
            "methods": token.methods,
            "user": {"id": token.user_id, "name": user.map(|u| u.name.clone()), "domain": domain, "password_expires_at": null},
            "audit_ids": [token.audit_id],
            "issued_at": rfc3339(token.issued_at),
            "expires_at": rfc3339(token.expires_at),
            "project": {"id": token.project_id, "name": project.map(|p| p.name.clone()), "domain": domain},
            "is_domain": false,
            "roles": roles,
        }
    });
    if with_catalog {
        body["token"]["catalog"] = catalog(ctx, site);
    }
    body
}

fn catalog(ctx: &SimContext, site: &SimSite) -> Value {
    let mut services = vec![
        (
            "identity",
            "keystone",
            ctx.service_url(&site.name, "identity"),
        ),
        (
            "compute",
            "nova",
            ctx.service_url(&site.name, "compute/v2.1"),
        ),
        ("image", "glance", ctx.service_url(&site.name, "image")),
        (
            "placement",
            "placement",
            ctx.service_url(&site.name, "placement"),
        ),
    ];
    if site.profile.has_neutron {
        services.push(("network", "neutron", ctx.service_url(&site.name, "network")));
    }
    if site.profile.has_cinder {
        services.push((
            "block-storage",
            "cinder",
            ctx.service_url(&site.name, "volume/v3"),
        ));
        services.push((
            "volumev3",
            "cinderv3",
            ctx.service_url(&site.name, "volume/v3"),
        ));
    }
    let entries: Vec<Value> = services
        .into_iter()
        .enumerate()
        .map(|(n, (kind, name, url))| {
            let endpoints: Vec<Value> = ["public", "internal", "admin"]
                .iter()
                .enumerate()
                .map(|(i, interface)| {
                    json!({"id": super::site::stable_id(&site.name, "endpoint", n * 3 + i), "interface": interface,
                           "region": site.region, "region_id": site.region, "url": url})
                })
                .collect();
            json!({"id": super::site::stable_id(&site.name, "service", n), "type": kind, "name": name, "endpoints": endpoints})
        })
        .collect();
    Value::Array(entries)
}

fn subject_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn validate_token(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    if let Err(response) = authenticate(&site, &headers) {
        return response;
    }
    let Some(subject) = subject_token(&headers) else {
        return error(StatusCode::BAD_REQUEST, "X-Subject-Token is required.");
    };
    let data = site.data();
    match data.tokens.get(&subject) {
        Some(token) if token.expires_at > time::OffsetDateTime::now_utc() => {
            let with_catalog = !query.unwrap_or_default().contains("nocatalog");
            let body = token_body(&ctx, &site, &data, token, with_catalog);
            let mut response = Json(body).into_response();
            if let Ok(value) = subject.parse() {
                response.headers_mut().insert("x-subject-token", value);
            }
            response
        }
        _ => error(
            StatusCode::NOT_FOUND,
            &format!("Could not find token: {subject}."),
        ),
    }
}

async fn check_token(Extension(site): Extension<Arc<SimSite>>, headers: HeaderMap) -> StatusCode {
    if authenticate(&site, &headers).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let now = time::OffsetDateTime::now_utc();
    match subject_token(&headers)
        .and_then(|s| site.data().tokens.get(&s).map(|t| t.expires_at > now))
    {
        Some(true) => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    }
}

async fn revoke_token(Extension(site): Extension<Arc<SimSite>>, headers: HeaderMap) -> Response {
    if let Err(response) = authenticate(&site, &headers) {
        return response;
    }
    let Some(subject) = subject_token(&headers) else {
        return error(StatusCode::BAD_REQUEST, "X-Subject-Token is required.");
    };
    match site.data().tokens.remove(&subject) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("Could not find token: {subject}."),
        ),
    }
}

/// The caller of a site's API, as keystonemiddleware puts it in front of every service:
/// taking it as a handler argument is what makes the handler require a valid token.
impl axum::extract::FromRequestParts<Arc<SimContext>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &Arc<SimContext>,
    ) -> Result<Self, Response> {
        let site = parts
            .extensions
            .get::<Arc<SimSite>>()
            .cloned()
            .ok_or_else(unauthorized)?;
        authenticate(&site, &parts.headers)
    }
}
