//! JSON shapes of the Overcast REST API.
//!
//! Both the server and the WASM dashboard depend on this crate, so a field renamed
//! here is renamed on both sides at once. Keep it free of server-only dependencies:
//! it must compile to `wasm32-unknown-unknown`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The error envelope of every non-2xx answer: `{"error": {"code", "message", ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case, documented in `docs/API-DESIGN.md`.
    pub code: String,
    pub message: String,
    /// Input fields at fault, for `invalid_input`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The site concerned, for errors that come from a site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

/// The console user behind the bearer token of a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteState {
    Online,
    Degraded,
    Unreachable,
    Unknown,
}

impl SiteState {
    pub fn as_str(self) -> &'static str {
        match self {
            SiteState::Online => "online",
            SiteState::Degraded => "degraded",
            SiteState::Unreachable => "unreachable",
            SiteState::Unknown => "unknown",
        }
    }
}

/// A registered site as the API shows it. Credentials are write-only and never appear here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Site {
    pub name: String,
    pub auth_url: String,
    pub region: Option<String>,
    pub interface: String,
    pub labels: BTreeMap<String, String>,
    pub state: SiteState,
    /// RFC 3339 time of the last successful contact.
    pub last_seen: Option<String>,
    pub latency_ms: Option<u64>,
    /// Services the site's catalog offers, with their API versions when known.
    pub capabilities: BTreeMap<String, String>,
    pub insecure: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteList {
    pub items: Vec<Site>,
}

/// How the console reaches a site's Keystone. Write-only: accepted, stored encrypted, never returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SiteCredentials {
    Password {
        username: String,
        password: String,
        project_name: String,
        #[serde(default = "default_domain")]
        user_domain_name: String,
        #[serde(default = "default_domain")]
        project_domain_name: String,
    },
    ApplicationCredential {
        id: String,
        secret: String,
    },
}

fn default_domain() -> String {
    "Default".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewSite {
    pub name: String,
    pub auth_url: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub credentials: SiteCredentials,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub ca_bundle: Option<String>,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_tagged_by_type() {
        let json = r#"{"type":"password","username":"u","password":"p","project_name":"admin"}"#;
        let parsed: SiteCredentials = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        match parsed {
            SiteCredentials::Password {
                user_domain_name, ..
            } => {
                assert_eq!(user_domain_name, "Default")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_body_omits_empty_extras() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: "not_found".into(),
                message: "no such site".into(),
                fields: vec![],
                site: None,
            },
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"error":{"code":"not_found","message":"no such site"}}"#
        );
    }
}
