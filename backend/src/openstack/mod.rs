//! The OpenStack client layer: how the console talks to a site's public APIs.
//!
//! One `reqwest::Client` (one connection pool) serves every site; per site the console
//! keeps only a cached token and catalog. Every call has a deadline; only idempotent
//! calls are retried.

mod catalog;
mod session;

pub use catalog::{Catalog, ServiceType};
pub use session::{SiteAuth, SiteSession, AUTO_ALLOCATION_EXTENSION};

use std::time::Duration;

use reqwest::StatusCode;

/// What can go wrong when asking a site.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OpenStackError {
    /// No connection could be made (refused, reset, DNS, TLS).
    #[error("site unreachable: {0}")]
    Unreachable(String),
    /// The site did not answer within the deadline.
    #[error("site did not answer within {0:?}")]
    Timeout(Duration),
    /// Keystone refused the site's credentials.
    #[error("the site refused the console's credentials: {0}")]
    AuthFailed(String),
    /// The service answered with an error status.
    #[error("{service} answered {status}: {message}")]
    Api {
        service: &'static str,
        status: u16,
        message: String,
        /// The error's type where the service names one (Neutron's `NoNetworkAvailable`,
        /// Nova's `itemNotFound`).
        fault: Option<String>,
    },
    /// The site's catalog has no such service for the configured region and interface.
    #[error("the site offers no {0} service")]
    MissingService(&'static str),
    /// The service is known not to answer (its health check fails): not asked, so the
    /// caller does not wait for a timeout, as with an unreachable site.
    #[error("the site's {service} service does not answer ({reason}); it was not asked")]
    ServiceDown {
        service: &'static str,
        reason: String,
    },
    /// The answer was not what the OpenStack API reference describes.
    #[error("unexpected answer from {service}: {detail}")]
    BadResponse {
        service: &'static str,
        detail: String,
    },
}

impl OpenStackError {
    /// Errors that say nothing about the request itself, worth retrying for idempotent calls.
    pub fn is_transient(&self) -> bool {
        match self {
            OpenStackError::Unreachable(_) | OpenStackError::Timeout(_) => true,
            OpenStackError::Api { status, .. } => matches!(*status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Whether the site itself could not be reached (as opposed to answering with an error).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            OpenStackError::Unreachable(_) | OpenStackError::Timeout(_)
        )
    }

    pub(crate) fn from_transport(error: reqwest::Error, deadline: Duration) -> Self {
        if error.is_timeout() {
            OpenStackError::Timeout(deadline)
        } else {
            // The chain of sources holds the useful part ("connection refused").
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            OpenStackError::Unreachable(text)
        }
    }
}

/// The error an answer with an error status stands for.
pub(crate) fn api_error(service: &'static str, status: StatusCode, body: &[u8]) -> OpenStackError {
    let text = String::from_utf8_lossy(body);
    OpenStackError::Api {
        service,
        status: status.as_u16(),
        message: error_message(status, &text),
        fault: fault_type(&text),
    }
}

/// The type an OpenStack error body names: Neutron's `{"NeutronError": {"type"}}`, or
/// the key of Nova's `{"itemNotFound": {"message"}}`.
fn fault_type(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let object = value.as_object()?;
    if let Some(kind) = object
        .get("NeutronError")
        .and_then(|e| e.get("type"))
        .and_then(|t| t.as_str())
    {
        return Some(kind.to_owned());
    }
    object
        .iter()
        .find(|(_, inner)| inner.get("message").is_some())
        .map(|(key, _)| key.clone())
        .filter(|key| key != "error")
}

/// How much of an error body to keep: enough to read, never a whole HTML page.
const ERROR_BODY_LIMIT: usize = 512;

/// Extracts the human message of an OpenStack error body, whatever the service's style:
/// Keystone's `{"error": {"message"}}`, Nova's `{"itemNotFound": {"message"}}`,
/// Neutron's `{"NeutronError": {"message"}}`, Glance's plain text.
pub(crate) fn error_message(status: StatusCode, body: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(body).ok();
    let message = parsed.as_ref().and_then(|value| {
        let object = value.as_object()?;
        object
            .values()
            .find_map(|inner| {
                inner
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .or_else(|| {
                object
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
    });
    // Glance's messages keep webob's HTML line breaks ("…<br /><br />\n\n\n").
    let text = message
        .unwrap_or_else(|| body.to_owned())
        .replace("<br />", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let text = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    truncate(&text, ERROR_BODY_LIMIT)
}

fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// How a site's certificate is checked. Verification is on unless an operator turned
/// it off for that site explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Tls {
    /// The system's trust roots.
    #[default]
    Default,
    /// A PEM bundle of the site's own CA.
    CaBundle(String),
    /// No verification at all: only for labs, and shown as such in the site object.
    Insecure,
}

/// A client for sites that need their own TLS trust; sites with `Tls::Default` share
/// the console's one client instead.
pub fn http_client_for(tls: &Tls) -> Result<reqwest::Client, String> {
    let builder = client_builder();
    let builder = match tls {
        Tls::Default => builder,
        Tls::Insecure => builder.danger_accept_invalid_certs(true),
        Tls::CaBundle(pem) => {
            let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| format!("invalid CA bundle: {e}"))?;
            if certificates.is_empty() {
                return Err("the CA bundle holds no certificate".into());
            }
            certificates
                .into_iter()
                .fold(builder.tls_built_in_root_certs(false), |b, c| {
                    b.add_root_certificate(c)
                })
        }
    };
    builder.build().map_err(|e| e.to_string())
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        // Sites behind one address (a load balancer, or the simulator) share the per-host
        // pool: keep enough idle connections that a fan-out does not reconnect each time.
        .pool_max_idle_per_host(1024)
        // Never follow redirects: they would carry credentials and tokens to another
        // origin (see `session::redirected`).
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("overcast/", env!("CARGO_PKG_VERSION")))
}

/// The one HTTP client of the console. Connection-level timeouts are set here;
/// per-request deadlines are set by each call.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_found_in_every_style() {
        let nova =
            r#"{"itemNotFound": {"code": 404, "message": "Instance x could not be found."}}"#;
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, nova),
            "Instance x could not be found."
        );
        let keystone = r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#;
        assert_eq!(
            error_message(StatusCode::UNAUTHORIZED, keystone),
            "The request you have made requires authentication."
        );
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, ""), "Bad Gateway");
        let glance = r#"{"message": "No image found with ID x<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}"#;
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, glance),
            "No image found with ID x"
        );
        let neutron = r#"{"NeutronError": {"type": "NoNetworkAvailable", "message": "Unable to create the network. No project network is available for allocation.", "detail": ""}}"#;
        assert_eq!(fault_type(neutron).as_deref(), Some("NoNetworkAvailable"));
        assert_eq!(fault_type(nova).as_deref(), Some("itemNotFound"));
        assert_eq!(fault_type(keystone), None);
        assert_eq!(fault_type("<html>503</html>"), None);
        let long = "x".repeat(2000);
        assert!(error_message(StatusCode::INTERNAL_SERVER_ERROR, &long).len() < 600);
    }
}
