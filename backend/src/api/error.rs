//! The one conversion from domain errors to the contract's JSON error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use overcast_api_types::{ErrorBody, ErrorDetail, FieldError, SiteState};

use crate::auth::{AuthError, TokenError};
use crate::jobs::JobError;
use crate::openstack::OpenStackError;
use crate::resources::ResourceError;
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
    #[error("request timed out")]
    Timeout(String),
    #[error("too many requests")]
    TooManyRequests(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A site could not be asked, or answered with an error.
    #[error("site {site}: {message}")]
    Site {
        site: String,
        status: StatusCode,
        code: &'static str,
        message: String,
        site_status: Option<u16>,
        site_state: Option<SiteState>,
    },
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidInput {
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// Invalid input that one field is to blame for: the dashboard marks that field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::InvalidInput {
            fields: vec![FieldError {
                field: field.into(),
                message: message.clone(),
            }],
            message,
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
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "request_timeout"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::Site { status, code, .. } => (*status, code),
        }
    }
}

fn error_response(status: StatusCode, body: ErrorBody) -> Response {
    // Why the call was refused, for the audit log, which would otherwise have to read
    // the body back.
    let summary = super::audit::AuditDetail(format!("{}: {}", body.error.code, body.error.message));
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(summary);
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Site {
            site,
            message,
            site_status,
            site_state,
            ..
        } = self
        {
            let body = ErrorBody {
                error: ErrorDetail {
                    code: code.into(),
                    message,
                    fields: Vec::new(),
                    site: Some(site),
                    site_status,
                    site_state,
                },
            };
            return error_response(status, body);
        }
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
            | ApiError::Unavailable(m)
            | ApiError::Timeout(m)
            | ApiError::TooManyRequests(m) => (m, Vec::new()),
            ApiError::Site { .. } => (String::new(), Vec::new()),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                fields,
                site: None,
                site_status: None,
                site_state: None,
            },
        };
        error_response(status, body)
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
            AuthError::LockedOut(_) => ApiError::TooManyRequests(error.to_string()),
            AuthError::Unauthenticated(m) => ApiError::Unauthenticated(m),
            AuthError::Token(e) => e.into(),
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            AuthError::Conflict(m) => ApiError::Conflict(m),
            AuthError::Invalid(fields) => ApiError::InvalidInput {
                message: "invalid input".into(),
                fields,
            },
            AuthError::Store(e) => e.into(),
            AuthError::Hashing(e) => ApiError::Internal(e),
            AuthError::Busy => ApiError::Unavailable(error.to_string()),
            AuthError::WeakAdminPassword(_) => ApiError::Internal(error.to_string()),
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
            SiteError::Conflict(message) => ApiError::Conflict(message),
            SiteError::Store(e) => e.into(),
        }
    }
}

impl ApiError {
    /// What a failed operation on one site means for the caller. `state` is the site's
    /// health as last probed, shown so a caller can tell a flaky site from a dead one.
    pub fn from_site(site: &str, state: Option<SiteState>, error: ResourceError) -> ApiError {
        let site_error = |status: StatusCode,
                          code: &'static str,
                          message: String,
                          site_status: Option<u16>| ApiError::Site {
            site: site.to_owned(),
            status,
            code,
            message,
            site_status,
            site_state: state,
        };
        match error {
            ResourceError::Invalid(fields) => ApiError::InvalidInput { message: "invalid input".into(), fields },
            ResourceError::NotFound(message) => site_error(StatusCode::NOT_FOUND, "not_found", message, None),
            ResourceError::Site(error) => match error {
                OpenStackError::Unreachable(detail) => {
                    site_error(StatusCode::SERVICE_UNAVAILABLE, "site_unreachable", format!("site {site} cannot be reached: {detail}"), None)
                }
                OpenStackError::Timeout(after) => site_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "site_timeout",
                    format!("site {site} did not answer within {} ms", after.as_millis()),
                    None,
                ),
                OpenStackError::AuthFailed(detail) => site_error(
                    StatusCode::BAD_GATEWAY,
                    "site_auth_failed",
                    format!("site {site} refused the console's credentials ({detail}); update the site's credentials"),
                    Some(401),
                ),
                OpenStackError::ServiceDown { .. } => site_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "site_service_down",
                    format!("site {site}: {error}"),
                    None,
                ),
                OpenStackError::MissingService(service) => site_error(
                    StatusCode::NOT_FOUND,
                    "service_not_offered",
                    format!("site {site} offers no {service} service"),
                    None,
                ),
                OpenStackError::BadResponse { service, detail } => site_error(
                    StatusCode::BAD_GATEWAY,
                    "site_bad_response",
                    format!("site {site}'s {service} service sent an answer Overcast cannot read: {detail}"),
                    None,
                ),
                OpenStackError::Api { service, status, message, .. } => {
                    let (http, code) = match status {
                        400 => (StatusCode::BAD_REQUEST, "site_rejected"),
                        401 => (StatusCode::BAD_GATEWAY, "site_auth_failed"),
                        403 => (StatusCode::FORBIDDEN, "site_forbidden"),
                        404 => (StatusCode::NOT_FOUND, "not_found"),
                        409 => (StatusCode::CONFLICT, "conflict"),
                        413 => (StatusCode::FORBIDDEN, "site_over_limit"),
                        _ => (StatusCode::BAD_GATEWAY, "site_error"),
                    };
                    site_error(http, code, format!("{service} at site {site} answered {status}: {message}"), Some(status))
                }
            },
        }
    }
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::Invalid(fields) => ApiError::InvalidInput {
                message: "invalid job".into(),
                fields,
            },
            JobError::NotFound(id) => ApiError::NotFound(format!("job {id} not found")),
            JobError::Conflict(message) => ApiError::Conflict(message),
            JobError::Site(e) => e.into(),
            JobError::Store(e) => e.into(),
        }
    }
}
