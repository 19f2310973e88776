//! Level L1: the resources of one site, read and changed through the site's own APIs.
//!
//! `SiteOps` binds a site's session to a deadline; each service module turns the
//! site's OpenStack JSON into the normalized shapes of `overcast_api_types::l1`, so that
//! callers never see a microversion difference.

mod compute;
mod failure;
mod identity;
mod image;
mod network;
mod placement;
mod quotas;
mod volume;

use std::sync::Arc;

use overcast_api_types::FieldError;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

pub use compute::{TenantUsage, CONSOLE_LOG_LINES};
pub use failure::Failure;
pub use image::ImageData;
pub use placement::Capacity;

use crate::openstack::{OpenStackError, ServiceType, SiteSession};

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Site(#[from] OpenStackError),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
}

impl ResourceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ResourceError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

pub type Result<T> = std::result::Result<T, ResourceError>;

/// The microversion Overcast asks Nova for: recent enough for embedded flavors (2.47)
/// and `networks: "auto"` (2.37), capped at what the site offers.
const COMPUTE_MICROVERSION: (u16, u16) = (2, 79);

/// A bound on the pages of one list, so that a site whose links loop cannot hold a call.
const MAX_PAGES: usize = 1000;

/// The first page's query with the next link's parameters (its `marker`) over it.
fn merge_query(first: &str, next: &str) -> String {
    let next_pairs: Vec<(String, String)> = form_urlencoded::parse(next.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut merged = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(first.as_bytes()) {
        if !next_pairs.iter().any(|(k, _)| *k == key) {
            merged.append_pair(&key, &value);
        }
    }
    for (key, value) in &next_pairs {
        merged.append_pair(key, value);
    }
    merged.finish()
}

/// Operations on one site within one deadline.
pub struct SiteOps {
    pub site: String,
    session: Arc<SiteSession>,
    deadline: Instant,
}

impl SiteOps {
    pub fn new(site: String, session: Arc<SiteSession>, deadline: Instant) -> Self {
        SiteOps {
            site,
            session,
            deadline,
        }
    }

    async fn compute_headers(&self) -> Result<Vec<(&'static str, String)>> {
        let (_, max) = self.session.compute_versions(self.deadline).await?;
        let (major, minor) = if max < COMPUTE_MICROVERSION {
            max
        } else {
            COMPUTE_MICROVERSION
        };
        Ok(vec![(
            "openstack-api-version",
            format!("compute {major}.{minor}"),
        )])
    }

    async fn headers_for(&self, service: ServiceType) -> Result<Vec<(&'static str, String)>> {
        match service {
            ServiceType::Compute => self.compute_headers().await,
            _ => Ok(Vec::new()),
        }
    }

    /// A GET decoded into `T`.
    async fn get<T: DeserializeOwned>(&self, service: ServiceType, path: &str) -> Result<T> {
        let headers = self.headers_for(service).await?;
        Ok(self
            .session
            .get_json(service, path, &headers, self.deadline)
            .await?)
    }

    /// Every item of a Nova or Cinder list, following the `{key}_links` "next" link page
    /// after page (Nova's pages end at its `max_limit`, 1,000 by default). The link's
    /// query (its `marker`) is asked of the site's endpoint as the catalog gives it, not
    /// of the host the link names.
    async fn list_all(&self, service: ServiceType, path: &str, key: &str) -> Result<Vec<Value>> {
        let (base, first_query) = path.split_once('?').unwrap_or((path, ""));
        let mut items = Vec::new();
        let mut query = first_query.to_owned();
        for _ in 0..MAX_PAGES {
            let url = if query.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{query}")
            };
            let body: Value = self.get(service, &url).await?;
            let page = array(&body, key, service.name())?;
            items.extend(page.iter().cloned());
            let next = body[format!("{key}_links")]
                .as_array()
                .into_iter()
                .flatten()
                .find(|link| link["rel"] == "next")
                .and_then(|link| link["href"].as_str())
                .and_then(|href| href.split_once('?'))
                .map(|(_, next)| merge_query(first_query, next));
            match next {
                Some(next) if !page.is_empty() && next != query => query = next,
                _ => return Ok(items),
            }
        }
        Err(OpenStackError::BadResponse {
            service: service.name(),
            detail: format!("the list of {key} runs over {MAX_PAGES} pages"),
        }
        .into())
    }

    /// A call with an optional JSON body whose JSON answer (if any) is returned.
    async fn send(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let headers = self.headers_for(service).await?;
        let answer = self
            .session
            .call(service, method, path, body, &headers, self.deadline)
            .await?;
        if answer.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            OpenStackError::BadResponse {
                service: service.name(),
                detail: e.to_string(),
            }
            .into()
        })
    }

    pub async fn capabilities(&self) -> Result<std::collections::BTreeMap<String, String>> {
        Ok(self.session.probe(self.deadline).await?.capabilities)
    }
}

/// Reads a field of an OpenStack JSON object as a string, if it is one.
fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

/// The array under `key`, or a `BadResponse` naming what is missing.
fn array<'a>(value: &'a Value, key: &str, service: &'static str) -> Result<&'a Vec<Value>> {
    value.get(key).and_then(Value::as_array).ok_or_else(|| {
        OpenStackError::BadResponse {
            service,
            detail: format!("answer has no `{key}` list"),
        }
        .into()
    })
}

fn object<'a>(value: &'a Value, key: &str, service: &'static str) -> Result<&'a Value> {
    value.get(key).filter(|v| v.is_object()).ok_or_else(|| {
        OpenStackError::BadResponse {
            service,
            detail: format!("answer has no `{key}` object"),
        }
        .into()
    })
}

/// Percent-encodes a path segment given by a caller (an id or name).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// True when an error is the site saying "no such thing".
fn is_not_found(error: &ResourceError) -> bool {
    matches!(
        error,
        ResourceError::Site(OpenStackError::Api { status: 404, .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("abc-1.2_x"), "abc-1.2_x");
        assert_eq!(segment("a b/../c"), "a%20b%2F..%2Fc");
        assert_eq!(segment("m1.tiny?x=1"), "m1.tiny%3Fx%3D1");
    }

    #[test]
    fn a_next_link_moves_the_marker_and_keeps_the_filters() {
        assert_eq!(
            merge_query(
                "changes-since=2026-12-01T00%3A00%3A00Z",
                "limit=1000&marker=abc"
            ),
            "changes-since=2026-12-01T00%3A00%3A00Z&limit=1000&marker=abc"
        );
        assert_eq!(merge_query("marker=old", "marker=new"), "marker=new");
    }
}
