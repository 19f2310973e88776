//! The one conversion from domain errors to the contract's JSON error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use overcast_api_types::{ErrorBody, ErrorDetail, FieldError};

use crate::auth::{AuthError, TokenError};
use crate::sites::SiteError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input")]
    InvalidInput {
        message: String,
        fields: Vec<FieldError>,
    },
    #[error("authentication required")]
    Unauthenticated(String),
    #[error("forbidden")]
    Forbidden(String),
    #[error("not found")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("service unavailable")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidInput {
            message: message.into(),
            fields: Vec::new(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "invalid_input"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, fields) = match self {
            ApiError::InvalidInput { message, fields } => (message, fields),
            ApiError::Internal(cause) => {
                // The cause is for the operator's log, never for the caller.
                tracing::error!(%cause, "internal error");
                ("internal error; see the console log".to_owned(), Vec::new())
            }
            ApiError::MethodNotAllowed => (
                "this method is not allowed on this endpoint".to_owned(),
                Vec::new(),
            ),
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Unavailable(m) => (m, Vec::new()),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                fields,
                site: None,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidCredentials => ApiError::Unauthenticated(error.to_string()),
            AuthError::Store(e) => e.into(),
            AuthError::Hashing(e) => ApiError::Internal(e),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        ApiError::Unauthenticated(error.to_string())
    }
}

impl From<SiteError> for ApiError {
    fn from(error: SiteError) -> Self {
        match error {
            SiteError::Invalid(fields) => ApiError::InvalidInput {
                message: "invalid site".into(),
                fields,
            },
            SiteError::NotFound(name) => ApiError::NotFound(format!("site {name} not found")),
            SiteError::AlreadyExists(what) => ApiError::Conflict(format!("{what} already exists")),
            SiteError::Store(e) => e.into(),
        }
    }
}
