//! Login and the bearer-token extractor.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use overcast_api_types::{LoginRequest, LoginResponse, Me, Role};

use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::auth::{self, role_as_str, role_from_str, unix_now};

/// The authenticated caller of a request. Taking it as an argument is what makes a
/// handler require authentication.
#[derive(Debug, Clone)]
pub struct Caller {
    pub username: String,
    pub role: Role,
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::Forbidden(
                "this action needs the admin role".into(),
            )),
        }
    }
}

impl Caller {
    /// Operators and admins change sites; viewers only read.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin | Role::Operator => Ok(()),
            Role::Viewer => Err(ApiError::Forbidden(
                "this action needs the operator or admin role".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthenticated("missing Authorization: Bearer header".into())
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthenticated("Authorization header must be `Bearer <token>`".into())
            })?;
        let claims = state.tokens.verify(token.trim())?;
        let role = role_from_str(&claims.role)
            .ok_or_else(|| ApiError::Unauthenticated("token has an unknown role".into()))?;
        Ok(Caller {
            username: claims.sub,
            role,
        })
    }
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    if request.username.is_empty() || request.password.is_empty() {
        return Err(ApiError::invalid("username and password are required"));
    }
    let (user, role) =
        auth::authenticate(&state.store, &request.username, &request.password).await?;
    let access_token = state
        .tokens
        .issue(&user.username, role_as_str(role), unix_now())?;
    tracing::info!(username = %user.username, "login");
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl().as_secs(),
    }))
}

pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        username: caller.username,
        role: caller.role,
    })
}
