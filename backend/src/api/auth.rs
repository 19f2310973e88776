//! Sign-in, sessions, API tokens, console users, and the bearer-token extractor that
//! also enforces site scopes on every `/sites/{site}/…` route.

use axum::extract::{FromRequestParts, Path, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use overcast_api_types::access::{
    ApiTokenList, ConsoleUser, ConsoleUserList, ConsoleUserUpdate, CreatedApiToken, NewApiToken,
    NewConsoleUser,
};
use overcast_api_types::{LoginRequest, LoginResponse, Me, Role};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, ClientAddr};
use super::AppState;
use crate::audit::Record;
use crate::auth::Principal;
use crate::sites::SiteError;

/// The authenticated caller of a request. Taking it as an argument is what makes a
/// handler require authentication; on a route with a `{site}` it also requires that
/// site to be within the caller's scope.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl std::ops::Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// A caller with the operator or admin role: operators and admins change sites,
/// viewers only read. Checked before the body is read, so a viewer gets 403 whatever
/// the body.
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

/// A caller with the admin role and every site in scope: site registration, console
/// users and everyone's tokens act on the whole console, so an admin (or an admin's
/// token) narrowed to some sites must not reach them.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl std::ops::Deref for Operator {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl std::ops::Deref for Admin {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller.role {
            Role::Admin | Role::Operator => Ok(Operator(caller)),
            Role::Viewer => Err(ApiError::Forbidden(
                "this action needs the operator or admin role".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller.role {
            Role::Admin if caller.sees_every_site() => Ok(Admin(caller)),
            Role::Admin => Err(ApiError::Forbidden(
                "this action acts on the whole console and needs an admin whose scope is every site"
                    .into(),
            )),
            _ => Err(ApiError::Forbidden(
                "this action needs the admin role".into(),
            )),
        }
    }
}

/// The bearer token of a request, if it has one in the expected form.
pub fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("missing Authorization: Bearer header".into()))?;
    header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthenticated("Authorization header must be `Bearer <token>`".into())
        })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The audit middleware may have authenticated this request already.
        let principal = match parts.extensions.get::<Principal>() {
            Some(principal) => principal.clone(),
            None => state.access.authenticate(bearer(parts)?).await?,
        };
        let site = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(key, _)| *key == "site")
                    .map(|(_, v)| v.to_owned())
            });
        if let Some(site) = site {
            require_site_in_scope(state, &principal, &site).await?;
        }
        Ok(Caller(principal))
    }
}

/// A site outside the caller's scope is forbidden; an unknown one is left to the
/// handler, which answers 404.
async fn require_site_in_scope(
    state: &AppState,
    principal: &Principal,
    site: &str,
) -> Result<(), ApiError> {
    if principal.sees_every_site() {
        return Ok(());
    }
    match state.sites.get(site).await {
        Ok(found) if principal.allows_site(&found.name, &found.labels) => Ok(()),
        Ok(_) => Err(ApiError::Forbidden(format!(
            "site {site} is outside your scope"
        ))),
        Err(SiteError::NotFound(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    if request.username.is_empty() || request.password.is_empty() {
        return Err(ApiError::invalid("username and password are required"));
    }
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    let outcome = state
        .access
        .login(&request.username, &request.password, &client)
        .await;
    let record = |outcome: &str, detail: Option<String>| Record {
        actor: request.username.clone(),
        action: "auth.login".into(),
        outcome: outcome.into(),
        detail,
        ..Record::default()
    };
    match outcome {
        Ok((access_token, user)) => {
            tracing::info!(username = %user.username, "login");
            state.audit.record(record("ok", None)).await;
            Ok(Json(LoginResponse {
                access_token,
                token_type: "Bearer".into(),
                expires_in: state.access.token_ttl().as_secs(),
            }))
        }
        Err(error) => {
            state
                .audit
                .record(record("denied", Some(format!("{error} (from {client})"))))
                .await;
            Err(error.into())
        }
    }
}

pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        username: caller.username.clone(),
        role: caller.role,
        scope: caller.scope.clone(),
    })
}

/// `POST /api/v1/auth/logout`: the session token stops working now.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    // Signing out twice is no error: the session is ended either way.
    state.access.logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/refresh`: a fresh token for a valid one, which is revoked.
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<LoginResponse>, ApiError> {
    let access_token = state.access.refresh(&caller).await?;
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.access.token_ttl().as_secs(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct TokenListQuery {
    #[serde(default)]
    all: bool,
}

pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokenListQuery>,
) -> Result<Json<ApiTokenList>, ApiError> {
    Ok(Json(ApiTokenList {
        items: state.access.list_api_tokens(&caller, query.all).await?,
    }))
}

pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    let (token, info) = state.access.create_api_token(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiToken { token, info })))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.access.revoke_api_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_users(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<ConsoleUserList>, ApiError> {
    Ok(Json(ConsoleUserList {
        items: state.access.list_users().await?,
    }))
}

pub async fn create_user(
    State(state): State<AppState>,
    _caller: Admin,
    ApiJson(new): ApiJson<NewConsoleUser>,
) -> Result<(StatusCode, Json<ConsoleUser>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.access.create_user(new).await?),
    ))
}

pub async fn update_user(
    State(state): State<AppState>,
    _caller: Admin,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<ConsoleUserUpdate>,
) -> Result<Json<ConsoleUser>, ApiError> {
    Ok(Json(state.access.update_user(&id, update).await?))
}

pub async fn delete_user(
    State(state): State<AppState>,
    caller: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.access.delete_user(&id, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
