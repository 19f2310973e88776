//! Keystone's resources: projects, users, roles, role assignments and application
//! credentials, with Keystone's admin-only policy for the first four.
#![expect(
    clippy::result_large_err,
    reason = "handlers answer with a whole OpenStack error response; these are not hot paths"
)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};

use super::keystone::{authenticate, error, Caller};
use super::site::{
    ApplicationCredential, Assignment, Project, SimSite, SiteData, User, DEFAULT_DOMAIN,
};
use super::{rfc3339, SimContext};

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/v3/projects", get(list_projects).post(create_project))
        .route(
            "/v3/projects/{id}",
            get(show_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route("/v3/users", get(list_users).post(create_user))
        .route(
            "/v3/users/{id}",
            get(show_user).patch(update_user).delete(delete_user),
        )
        .route("/v3/roles", get(list_roles))
        .route("/v3/role_assignments", get(list_assignments))
        .route(
            "/v3/projects/{project}/users/{user}/roles",
            get(list_user_project_roles),
        )
        .route(
            "/v3/projects/{project}/users/{user}/roles/{role}",
            put(grant).head(check_grant).get(check_grant).delete(revoke),
        )
        .route(
            "/v3/users/{id}/application_credentials",
            get(list_app_creds).post(create_app_cred),
        )
        .route(
            "/v3/users/{id}/application_credentials/{cred}",
            get(show_app_cred).delete(delete_app_cred),
        )
}

type Params = Path<HashMap<String, String>>;

fn param(params: &HashMap<String, String>, name: &str) -> String {
    params.get(name).cloned().unwrap_or_default()
}

fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "You are not authorized to perform the requested action.",
    )
}

/// A caller with the admin role, as Keystone's default policy requires for managing
/// projects, users and role assignments.
struct Admin(Caller);

impl axum::extract::FromRequestParts<Arc<SimContext>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<SimContext>,
    ) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.is_admin {
            Ok(Admin(caller))
        } else {
            Err(forbidden())
        }
    }
}

/// Parses `{"<resource>": {...}}`, answering Keystone's 400 otherwise.
fn body_of(body: &[u8], resource: &str) -> Result<Map<String, Value>, Response> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get(resource).and_then(Value::as_object).cloned())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("'{resource}' is a required property"),
            )
        })
}

fn string_field(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, Response> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid input for field '{name}': {other} is not of type 'string'"),
        )),
    }
}

fn bool_field(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, Response> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid input for field '{name}': {other} is not of type 'boolean'"),
        )),
    }
}

fn valid_name(name: &str) -> Result<(), Response> {
    if name.trim().is_empty() || name.len() > 64 {
        Err(error(
            StatusCode::BAD_REQUEST,
            "Invalid input for field 'name': the name must be 1 to 64 characters",
        ))
    } else {
        Ok(())
    }
}

fn links(ctx: &SimContext, site: &SimSite, path: &str) -> Value {
    json!({"self": format!("{}/v3/{path}", ctx.service_url(&site.name, "identity"))})
}

fn project_json(ctx: &SimContext, site: &SimSite, p: &Project) -> Value {
    json!({"id": p.id, "name": p.name, "domain_id": p.domain_id, "description": p.description, "enabled": p.enabled,
           "is_domain": false, "parent_id": p.domain_id, "tags": [], "options": {}, "links": links(ctx, site, &format!("projects/{}", p.id))})
}

fn user_json(ctx: &SimContext, site: &SimSite, u: &User) -> Value {
    json!({"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled, "default_project_id": u.default_project_id,
           "password_expires_at": null, "options": {}, "links": links(ctx, site, &format!("users/{}", u.id))})
}

fn collection(ctx: &SimContext, site: &SimSite, path: &str) -> Value {
    json!({"self": format!("{}/v3/{path}", ctx.service_url(&site.name, "identity")), "next": null, "previous": null})
}

async fn list_projects(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = data
        .projects
        .iter()
        // Non-admins see only the projects they have a role on.
        .filter(|p| caller.is_admin || !data.roles_of(&caller.user_id, &p.id).is_empty())
        .filter(|p| q.get("name").is_none_or(|n| &p.name == n))
        .filter(|p| q.get("domain_id").is_none_or(|d| &p.domain_id == d))
        .map(|p| project_json(&ctx, &site, p))
        .collect();
    Json(json!({"projects": items, "links": collection(&ctx, &site, "projects")})).into_response()
}

fn find_project<'a>(data: &'a SiteData, id: &str) -> Result<&'a Project, Response> {
    data.projects.iter().find(|p| p.id == id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            &format!("Could not find project: {id}."),
        )
    })
}

fn find_user<'a>(data: &'a SiteData, id: &str) -> Result<&'a User, Response> {
    data.users.iter().find(|u| u.id == id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            &format!("Could not find user: {id}."),
        )
    })
}

async fn show_project(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: Caller,
    Path(params): Params,
) -> Response {
    let id = param(&params, "id");
    let data = site.data();
    if !caller.is_admin && caller.project_id != id {
        return forbidden();
    }
    match find_project(&data, &id) {
        Ok(p) => Json(json!({"project": project_json(&ctx, &site, p)})).into_response(),
        Err(response) => response,
    }
}

async fn create_project(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    body: axum::body::Bytes,
) -> Response {
    let fields = match body_of(&body, "project") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let name = match string_field(&fields, "name") {
        Ok(Some(name)) => name,
        Ok(None) => return error(StatusCode::BAD_REQUEST, "'name' is a required property"),
        Err(response) => return response,
    };
    if let Err(response) = valid_name(&name) {
        return response;
    }
    let (description, enabled) = match (
        string_field(&fields, "description"),
        bool_field(&fields, "enabled"),
    ) {
        (Ok(d), Ok(e)) => (d.unwrap_or_default(), e.unwrap_or(true)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let domain_id = fields
        .get("domain_id")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_DOMAIN)
        .to_owned();
    if domain_id != DEFAULT_DOMAIN {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Could not find domain: {domain_id}."),
        );
    }
    let mut data = site.data();
    if data
        .projects
        .iter()
        .any(|p| p.name == name && p.domain_id == domain_id)
    {
        return error(StatusCode::CONFLICT, &format!("Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : {name}."));
    }
    let project = Project {
        id: uuid::Uuid::new_v4().simple().to_string(),
        name,
        domain_id,
        description,
        enabled,
    };
    let body = json!({"project": project_json(&ctx, &site, &project)});
    data.projects.push(project);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn update_project(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Path(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let id = param(&params, "id");
    let fields = match body_of(&body, "project") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let (name, description, enabled) = match (
        string_field(&fields, "name"),
        string_field(&fields, "description"),
        bool_field(&fields, "enabled"),
    ) {
        (Ok(n), Ok(d), Ok(e)) => (n, d, e),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let mut data = site.data();
    if let Some(name) = &name {
        if let Err(response) = valid_name(name) {
            return response;
        }
        if data.projects.iter().any(|p| &p.name == name && p.id != id) {
            return error(
                StatusCode::CONFLICT,
                &format!("Conflict occurred attempting to store project - Duplicate entry {name}."),
            );
        }
    }
    let Some(project) = data.projects.iter_mut().find(|p| p.id == id) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Could not find project: {id}."),
        );
    };
    if let Some(name) = name {
        project.name = name;
    }
    if let Some(description) = description {
        project.description = description;
    }
    if let Some(enabled) = enabled {
        project.enabled = enabled;
    }
    Json(json!({"project": project_json(&ctx, &site, project)})).into_response()
}

async fn delete_project(
    Extension(site): Extension<Arc<SimSite>>,
    Admin(caller): Admin,
    Path(params): Params,
) -> Response {
    let id = param(&params, "id");
    if id == caller.project_id {
        return error(
            StatusCode::FORBIDDEN,
            "You cannot delete the project your token is scoped to.",
        );
    }
    let mut data = site.data();
    if let Err(response) = find_project(&data, &id) {
        return response;
    }
    data.projects.retain(|p| p.id != id);
    data.assignments.retain(|a| a.project_id != id);
    data.tokens.retain(|_, t| t.project_id != id);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_users(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = data
        .users
        .iter()
        .filter(|u| q.get("name").is_none_or(|n| &u.name == n))
        .filter(|u| q.get("domain_id").is_none_or(|d| &u.domain_id == d))
        .map(|u| user_json(&ctx, &site, u))
        .collect();
    Json(json!({"users": items, "links": collection(&ctx, &site, "users")})).into_response()
}

async fn show_user(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    caller: Caller,
    Path(params): Params,
) -> Response {
    let id = param(&params, "id");
    if !caller.is_admin && caller.user_id != id {
        return forbidden();
    }
    let data = site.data();
    match find_user(&data, &id) {
        Ok(u) => Json(json!({"user": user_json(&ctx, &site, u)})).into_response(),
        Err(response) => response,
    }
}

async fn create_user(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    body: axum::body::Bytes,
) -> Response {
    let fields = match body_of(&body, "user") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let (name, password, default_project_id, enabled) = match (
        string_field(&fields, "name"),
        string_field(&fields, "password"),
        string_field(&fields, "default_project_id"),
        bool_field(&fields, "enabled"),
    ) {
        (Ok(Some(n)), Ok(p), Ok(d), Ok(e)) => (n, p, d, e.unwrap_or(true)),
        (Ok(None), ..) => return error(StatusCode::BAD_REQUEST, "'name' is a required property"),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => return r,
    };
    if let Err(response) = valid_name(&name) {
        return response;
    }
    let domain_id = fields
        .get("domain_id")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_DOMAIN)
        .to_owned();
    let mut data = site.data();
    if let Some(project) = &default_project_id {
        if let Err(response) = find_project(&data, project) {
            return response;
        }
    }
    if data
        .users
        .iter()
        .any(|u| u.name == name && u.domain_id == domain_id)
    {
        return error(StatusCode::CONFLICT, &format!("Conflict occurred attempting to store user - Duplicate entry found with name {name} at domain ID {domain_id}."));
    }
    let user = User {
        id: uuid::Uuid::new_v4().simple().to_string(),
        name,
        domain_id,
        // A user without a password cannot sign in with one.
        password: password.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        default_project_id,
        enabled,
    };
    let body = json!({"user": user_json(&ctx, &site, &user)});
    data.users.push(user);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn update_user(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Path(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let id = param(&params, "id");
    let fields = match body_of(&body, "user") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let (password, enabled) = match (
        string_field(&fields, "password"),
        bool_field(&fields, "enabled"),
    ) {
        (Ok(p), Ok(e)) => (p, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let mut data = site.data();
    let Some(user) = data.users.iter_mut().find(|u| u.id == id) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Could not find user: {id}."),
        );
    };
    if let Some(password) = password {
        user.password = password;
    }
    if let Some(enabled) = enabled {
        user.enabled = enabled;
    }
    let body = json!({"user": user_json(&ctx, &site, user)});
    // Keystone revokes a user's tokens when the password changes or the user is disabled.
    if fields.contains_key("password") || enabled == Some(false) {
        data.tokens.retain(|_, t| t.user_id != id);
    }
    Json(body).into_response()
}

async fn delete_user(
    Extension(site): Extension<Arc<SimSite>>,
    Admin(caller): Admin,
    Path(params): Params,
) -> Response {
    let id = param(&params, "id");
    if id == caller.user_id {
        return error(
            StatusCode::FORBIDDEN,
            "You cannot delete the user your token belongs to.",
        );
    }
    let mut data = site.data();
    if let Err(response) = find_user(&data, &id) {
        return response;
    }
    data.users.retain(|u| u.id != id);
    data.assignments.retain(|a| a.user_id != id);
    data.application_credentials.retain(|c| c.user_id != id);
    data.tokens.retain(|_, t| t.user_id != id);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_roles(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = data
        .roles
        .iter()
        .filter(|r| q.get("name").is_none_or(|n| &r.name == n))
        .map(|r| json!({"id": r.id, "name": r.name, "domain_id": null, "description": null, "options": {}, "links": links(&ctx, &site, &format!("roles/{}", r.id))}))
        .collect();
    Json(json!({"roles": items, "links": collection(&ctx, &site, "roles")})).into_response()
}

fn assignment_json(
    ctx: &SimContext,
    site: &SimSite,
    data: &SiteData,
    a: &Assignment,
    names: bool,
) -> Value {
    let mut role = json!({"id": a.role_id});
    let mut user = json!({"id": a.user_id});
    let mut project = json!({"id": a.project_id});
    if names {
        role["name"] = json!(data
            .roles
            .iter()
            .find(|r| r.id == a.role_id)
            .map(|r| r.name.clone()));
        user["name"] = json!(data
            .users
            .iter()
            .find(|u| u.id == a.user_id)
            .map(|u| u.name.clone()));
        user["domain"] = json!({"id": DEFAULT_DOMAIN, "name": "Default"});
        project["name"] = json!(data
            .projects
            .iter()
            .find(|p| p.id == a.project_id)
            .map(|p| p.name.clone()));
        project["domain"] = json!({"id": DEFAULT_DOMAIN, "name": "Default"});
    }
    json!({"role": role, "user": user, "scope": {"project": project},
           "links": {"assignment": format!("{}/v3/projects/{}/users/{}/roles/{}", ctx.service_url(&site.name, "identity"), a.project_id, a.user_id, a.role_id)}})
}

async fn list_assignments(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let names = q.contains_key("include_names")
        && q.get("include_names")
            .is_none_or(|v| v != "0" && v != "false");
    let data = site.data();
    let items: Vec<Value> = data
        .assignments
        .iter()
        .filter(|a| q.get("user.id").is_none_or(|u| &a.user_id == u))
        .filter(|a| q.get("scope.project.id").is_none_or(|p| &a.project_id == p))
        .filter(|a| q.get("role.id").is_none_or(|r| &a.role_id == r))
        .map(|a| assignment_json(&ctx, &site, &data, a, names))
        .collect();
    Json(json!({"role_assignments": items, "links": collection(&ctx, &site, "role_assignments")}))
        .into_response()
}

async fn list_user_project_roles(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Path(params): Params,
) -> Response {
    let (project, user) = (param(&params, "project"), param(&params, "user"));
    let data = site.data();
    if let Err(response) = find_project(&data, &project).and_then(|_| find_user(&data, &user)) {
        return response;
    }
    let items: Vec<Value> = data
        .assignments
        .iter()
        .filter(|a| a.project_id == project && a.user_id == user)
        .filter_map(|a| data.roles.iter().find(|r| r.id == a.role_id))
        .map(|r| json!({"id": r.id, "name": r.name, "links": links(&ctx, &site, &format!("roles/{}", r.id))}))
        .collect();
    Json(json!({"roles": items, "links": collection(&ctx, &site, &format!("projects/{project}/users/{user}/roles"))})).into_response()
}

/// Resolves the three ids of a grant path, answering 404 for whichever does not exist.
fn grant_target(data: &SiteData, params: &HashMap<String, String>) -> Result<Assignment, Response> {
    let (project, user, role) = (
        param(params, "project"),
        param(params, "user"),
        param(params, "role"),
    );
    find_project(data, &project)?;
    find_user(data, &user)?;
    if !data.roles.iter().any(|r| r.id == role) {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("Could not find role: {role}."),
        ));
    }
    Ok(Assignment {
        user_id: user,
        project_id: project,
        role_id: role,
    })
}

async fn grant(
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Path(params): Params,
) -> Response {
    let mut data = site.data();
    match grant_target(&data, &params) {
        Ok(assignment) => {
            if !data.assignments.contains(&assignment) {
                data.assignments.push(assignment);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => response,
    }
}

async fn check_grant(
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Path(params): Params,
) -> Response {
    let data = site.data();
    match grant_target(&data, &params) {
        Ok(assignment) if data.assignments.contains(&assignment) => StatusCode::NO_CONTENT.into_response(),
        Ok(assignment) => error(StatusCode::NOT_FOUND, &format!("Could not find role assignment with role: {}, user or group: {}, project, domain, or system: {}.", assignment.role_id, assignment.user_id, assignment.project_id)),
        Err(response) => response,
    }
}

async fn revoke(
    Extension(site): Extension<Arc<SimSite>>,
    _admin: Admin,
    Path(params): Params,
) -> Response {
    let mut data = site.data();
    match grant_target(&data, &params) {
        Ok(assignment) => {
            let before = data.assignments.len();
            data.assignments.retain(|a| *a != assignment);
            if data.assignments.len() == before {
                return error(StatusCode::NOT_FOUND, "Could not find role assignment.");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => response,
    }
}

fn app_cred_json(
    ctx: &SimContext,
    site: &SimSite,
    data: &SiteData,
    c: &ApplicationCredential,
    secret: bool,
) -> Value {
    let roles: Vec<Value> = data
        .roles_of(&c.user_id, &c.project_id)
        .iter()
        .filter_map(|id| data.roles.iter().find(|r| &r.id == id))
        .map(|r| json!({"id": r.id, "name": r.name, "domain_id": null}))
        .collect();
    let mut body = json!({"id": c.id, "name": c.name, "description": c.description, "user_id": c.user_id,
        "project_id": c.project_id, "expires_at": c.expires_at.map(rfc3339), "unrestricted": false, "roles": roles,
        "access_rules": [], "links": links(ctx, site, &format!("users/{}/application_credentials/{}", c.user_id, c.id))});
    if secret {
        body["secret"] = json!(c.secret);
    }
    body
}

/// Users manage their own application credentials; admins anyone's.
fn owner_or_admin(site: &SimSite, headers: &HeaderMap, user: &str) -> Result<Caller, Response> {
    let caller = authenticate(site, headers)?;
    if caller.user_id == user || caller.is_admin {
        Ok(caller)
    } else {
        Err(forbidden())
    }
}

async fn list_app_creds(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Params,
) -> Response {
    let user = param(&params, "id");
    if let Err(response) = owner_or_admin(&site, &headers, &user) {
        return response;
    }
    let data = site.data();
    let items: Vec<Value> = data
        .application_credentials
        .iter()
        .filter(|c| c.user_id == user)
        .map(|c| app_cred_json(&ctx, &site, &data, c, false))
        .collect();
    Json(json!({"application_credentials": items, "links": collection(&ctx, &site, &format!("users/{user}/application_credentials"))})).into_response()
}

async fn show_app_cred(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Params,
) -> Response {
    let (user, id) = (param(&params, "id"), param(&params, "cred"));
    if let Err(response) = owner_or_admin(&site, &headers, &user) {
        return response;
    }
    let data = site.data();
    match data
        .application_credentials
        .iter()
        .find(|c| c.id == id && c.user_id == user)
    {
        Some(c) => {
            Json(json!({"application_credential": app_cred_json(&ctx, &site, &data, c, false)}))
                .into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            &format!("Could not find Application Credential: {id}."),
        ),
    }
}

async fn create_app_cred(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let user = param(&params, "id");
    let caller = match owner_or_admin(&site, &headers, &user) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if caller.user_id != user {
        return forbidden();
    }
    let fields = match body_of(&body, "application_credential") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let (name, secret, description, expires) = match (
        string_field(&fields, "name"),
        string_field(&fields, "secret"),
        string_field(&fields, "description"),
        string_field(&fields, "expires_at"),
    ) {
        (Ok(Some(n)), Ok(s), Ok(d), Ok(e)) => (n, s, d, e),
        (Ok(None), ..) => return error(StatusCode::BAD_REQUEST, "'name' is a required property"),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => return r,
    };
    let expires_at = match expires
        .map(|e| time::OffsetDateTime::parse(&e, &time::format_description::well_known::Rfc3339))
    {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid input for field 'expires_at': not an ISO 8601 time",
            )
        }
    };
    let mut data = site.data();
    if data
        .application_credentials
        .iter()
        .any(|c| c.user_id == user && c.name == name)
    {
        return error(StatusCode::CONFLICT, &format!("Conflict occurred attempting to store application_credential - Duplicate entry {name}."));
    }
    let credential = ApplicationCredential {
        id: uuid::Uuid::new_v4().simple().to_string(),
        name,
        description,
        secret: secret.unwrap_or_else(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        }),
        user_id: user,
        project_id: caller.project_id,
        expires_at,
    };
    let body =
        json!({"application_credential": app_cred_json(&ctx, &site, &data, &credential, true)});
    data.application_credentials.push(credential);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn delete_app_cred(
    Extension(site): Extension<Arc<SimSite>>,
    headers: HeaderMap,
    Path(params): Params,
) -> Response {
    let (user, id) = (param(&params, "id"), param(&params, "cred"));
    if let Err(response) = owner_or_admin(&site, &headers, &user) {
        return response;
    }
    let mut data = site.data();
    let before = data.application_credentials.len();
    data.application_credentials
        .retain(|c| !(c.id == id && c.user_id == user));
    if data.application_credentials.len() == before {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Could not find Application Credential: {id}."),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
