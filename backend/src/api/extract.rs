//! Extractors whose rejections speak the contract's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use overcast_api_types::FieldError;
use serde::de::DeserializeOwned;

use std::net::IpAddr;

use super::error::ApiError;
use super::AppState;

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
            let text = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.body_text());
            let field = field_at_fault(&text);
            let problem = strip_position(
                text.split_once(": ")
                    .filter(|(path, _)| !path.contains(' '))
                    .map_or(text.as_str(), |(_, p)| p),
            );
            ApiError::InvalidInput {
                message: format!("invalid request body: {}", strip_position(&text)),
                fields: vec![FieldError {
                    field,
                    message: problem.to_owned(),
                }],
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

/// The dotted path of the field a serde error is about. serde_path_to_error reports
/// "path: problem" ("." for the root); a missing or unknown field is named inside the problem.
fn field_at_fault(text: &str) -> String {
    let (path, problem) = match text.split_once(": ") {
        Some((path, problem)) if !path.contains(' ') => (path, problem),
        _ => ("", text),
    };
    let field = FieldError::from_decoding("", path, problem).field;
    if field == "body" {
        String::new()
    } else {
        field
    }
}

/// serde_json appends " at line 1 column 20", which means nothing to an API caller.
fn strip_position(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(at) if text[at..].contains(" column ") => &text[..at],
        _ => text,
    }
}

/// The client's address: the connection's, or behind a trusted reverse proxy the one
/// the proxy saw (`X-Forwarded-For`). A forwarded address from anyone else is ignored,
/// so a client cannot pose as another by sending the header itself.
pub struct ClientAddr(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(ClientAddr(peer.map(|peer| {
            client_address(peer, &parts.headers, &state.trusted_proxies)
        })))
    }
}

/// Reads `X-Forwarded-For` from the right, where the trusted proxies appended what they
/// saw: the first address that is not a trusted proxy is the client. What the client
/// wrote itself stands to the left and is never reached while a proxy's entry is there.
fn client_address(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Like `axum::extract::Query`, but a bad query string becomes `invalid_input` in the
/// contract's JSON, naming the parameter at fault (axum's own rejection is plain text).
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                let problem = e.into_inner().to_string();
                ApiError::InvalidInput {
                    message: format!("invalid query parameter {field}: {problem}"),
                    fields: vec![FieldError {
                        field,
                        message: problem,
                    }],
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))];
        let ip = |text: &str| text.parse::<IpAddr>().unwrap_or_else(|e| panic!("{e}"));
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &axum::http::HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn fields_at_fault_are_named() {
        assert_eq!(
            field_at_fault("missing field `password` at line 1 column 20"),
            "password"
        );
        assert_eq!(
            field_at_fault(".: missing field `password` at line 1 column 20"),
            "password"
        );
        assert_eq!(
            field_at_fault("credentials: missing field `secret`"),
            "credentials.secret"
        );
        assert_eq!(
            field_at_fault("credentials.type: unknown variant `x`"),
            "credentials.type"
        );
        assert_eq!(
            field_at_fault(".: unknown field `policy`, expected one of `kind`, `targets`"),
            "policy"
        );
        assert_eq!(
            strip_position("invalid type: integer `1` at line 1 column 9"),
            "invalid type: integer `1`"
        );
    }
}
