//! Extractors whose rejections speak the contract's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use overcast_api_types::FieldError;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Like `axum::Json`, but a bad body becomes `invalid_input` naming the field at fault.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde_path_to_error's message reads "path: problem"; split it for `fields`.
            let text = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.body_text());
            let (field, message) = match text.split_once(": ") {
                Some((path, problem)) if !path.contains(' ') => {
                    (path.to_owned(), problem.to_owned())
                }
                _ => (String::new(), text.clone()),
            };
            ApiError::InvalidInput {
                message: format!("invalid request body: {text}"),
                fields: vec![FieldError { field, message }],
            }
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::invalid(format!("malformed JSON: {}", source_text(&e)))
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge("request body is too large".into())
        }
        other => ApiError::invalid(other.body_text()),
    }
}

fn source_text(error: &dyn std::error::Error) -> String {
    error
        .source()
        .map(ToString::to_string)
        .unwrap_or_else(|| error.to_string())
}
