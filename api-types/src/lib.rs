//! JSON shapes of the Overcast REST API.
//!
//! Both the server and the WASM dashboard depend on this crate, so a field renamed
//! here is renamed on both sides at once. Keep it free of server-only dependencies:
//! it must compile to `wasm32-unknown-unknown`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The error envelope of every non-2xx answer: `{"error": {"code", "message", ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The HTTP status the site answered, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_status: Option<u16>,
    /// The site's health state as the console last saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_state: Option<SiteState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// The error of a value that did not decode, naming the field at fault: the path
    /// serde reached (`.` for the value itself) under `prefix`, and for a missing or
    /// unknown field the field's own name, which serde only puts in the message.
    pub fn from_decoding(prefix: &str, path: &str, problem: &str) -> FieldError {
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|start| problem.strip_prefix(start))
            .and_then(|rest| rest.split('`').next());
        let path = path.trim_start_matches('.');
        // Some reports already end their path with the field's name.
        let named = named.filter(|name| path.rsplit('.').next() != Some(*name));
        let field = [prefix, path, named.unwrap_or_default()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        FieldError {
            field: if field.is_empty() {
                "body".into()
            } else {
                field
            },
            message: problem.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

/// The console user behind the bearer token of a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub username: String,
    pub role: Role,
    /// The sites the caller may see and operate.
    #[serde(default)]
    pub scope: jobs::Targets,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Site {
    pub name: String,
    pub auth_url: String,
    pub region: Option<String>,
    pub interface: String,
    pub labels: BTreeMap<String, String>,
    pub state: SiteState,
    /// Why the site is not `online`, as its last health check found (`not answering:
    /// compute (connection refused)`, `credentials refused: …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// RFC 3339 time of the last successful contact.
    pub last_seen: Option<String>,
    pub latency_ms: Option<u64>,
    /// Services the site's catalog offers, with their API versions when known.
    pub capabilities: BTreeMap<String, String>,
    pub insecure: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteList {
    pub items: Vec<Site>,
}

/// How the console reaches a site's Keystone. Write-only: accepted, stored encrypted, never returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    fn decoding_errors_name_the_field() {
        let field = |prefix, path, problem| FieldError::from_decoding(prefix, path, problem).field;
        assert_eq!(field("", ".", "missing field `password`"), "password");
        assert_eq!(
            field("params", ".", "unknown field `policy`, expected one of `a`"),
            "params.policy"
        );
        assert_eq!(
            field("", "credentials", "missing field `secret`"),
            "credentials.secret"
        );
        assert_eq!(
            field("", "rollout.max_parallel", "invalid type: string"),
            "rollout.max_parallel"
        );
        assert_eq!(field("", ".", "invalid type: null"), "body");
        assert_eq!(
            field("", "policy", "unknown field `policy`, expected `kind`"),
            "policy"
        );
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let job = r#"{"kind":"flavor.create","targets":{"all":true},"policy":{"max_parallel":4}}"#;
        let error = serde_json::from_str::<jobs::NewJob>(job)
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("unknown field `policy`")));
        let credentials =
            r#"{"type":"password","username":"u","password":"p","project_name":"a","pasword":"x"}"#;
        assert!(serde_json::from_str::<SiteCredentials>(credentials).is_err());
    }

    #[test]
    fn server_networks_take_the_forms_nova_takes() {
        use l1::{NetworkMode, ServerNetworks};
        let parse =
            |text: &str| serde_json::from_str::<ServerNetworks>(text).map_err(|e| e.to_string());
        assert_eq!(
            parse(r#""none""#),
            Ok(ServerNetworks::Mode(NetworkMode::None))
        );
        assert_eq!(
            parse(r#""auto""#),
            Ok(ServerNetworks::Mode(NetworkMode::Auto))
        );
        assert!(parse(r#"[{"network": "n1", "fixed_ip": "10.0.0.5"}, {"port": "p1"}]"#).is_ok());
        assert!(parse(r#"["n1"]"#).is_ok(), "the earlier form");
        for bad in [
            r#""any""#,
            r#"[]"#,
            r#"[{"port": "p", "fixed_ip": "10.0.0.5"}]"#,
            r#"[{"network": "n", "port": "p"}]"#,
            r#"[{"uuid": "n"}]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&ServerNetworks::Mode(NetworkMode::None)).unwrap_or_default(),
            r#""none""#
        );
    }

    #[test]
    fn error_body_omits_empty_extras() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: "not_found".into(),
                message: "no such site".into(),
                fields: vec![],
                site: None,
                site_status: None,
                site_state: None,
            },
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"error":{"code":"not_found","message":"no such site"}}"#
        );
    }
}

/// Resources of one site (level L1). Overcast normalizes each OpenStack resource into one
/// shape, whatever the site's release and microversion, so scripts and the dashboard
/// never branch on versions.
pub mod l1 {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    /// A list answer of one site.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Items<T> {
        pub site: String,
        pub items: Vec<T>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Server {
        pub id: String,
        pub name: String,
        pub status: String,
        pub flavor: ServerFlavor,
        pub image_id: Option<String>,
        /// Network name → IP addresses.
        pub addresses: BTreeMap<String, Vec<String>>,
        pub key_name: Option<String>,
        pub project_id: Option<String>,
        pub created: Option<String>,
        /// When Nova last changed the server: what bulk deletes compare to decide that a
        /// server is still the one the operator saw.
        #[serde(default)]
        pub updated: Option<String>,
        pub fault: Option<String>,
        /// Ids of the volumes attached to the server (Nova's `volumes_attached`).
        #[serde(default)]
        pub volumes: Vec<String>,
        /// Nova's server metadata: a deployment's servers carry `overcast_deployment`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub metadata: BTreeMap<String, String>,
    }

    /// `POST /sites/{site}/servers/{id}/volumes`: a volume (id or name) to attach.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct VolumeAttachmentRequest {
        pub volume: String,
    }

    /// Something done to a server, as Nova's instance actions record it (`create`,
    /// `stop`, `reboot`, …): the server's event history.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ServerEvent {
        pub action: String,
        pub request_id: String,
        /// RFC 3339, UTC.
        pub start_time: Option<String>,
        pub updated_at: Option<String>,
        pub user_id: Option<String>,
        /// Set by Nova when the action failed (`Error`).
        pub message: Option<String>,
    }

    /// `GET /sites/{site}/servers/{id}/console-log`: the tail of the server's console, or
    /// why the site cannot give it (its compute driver has none, the server is not
    /// running yet). The second is an answer, not an error: many sites never offer it.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ConsoleLog {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub output: Option<String>,
        /// The site's reason, when there is no output.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unavailable: Option<String>,
    }

    /// What a server's flavor is known as: its id before Nova 2.47, its figures after.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ServerFlavor {
        pub id: Option<String>,
        pub name: Option<String>,
        pub vcpus: Option<u32>,
        pub ram_mb: Option<u64>,
        pub disk_gb: Option<u64>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewServer {
        pub name: String,
        /// Flavor id or name.
        pub flavor: String,
        /// Image id or name.
        pub image: String,
        /// `"auto"` (the default: the site allocates a network, where its Neutron can),
        /// `"none"`, or a list of `{"network"}`, `{"port"}`, `{"network", "fixed_ip"}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub networks: Option<ServerNetworks>,
        #[serde(default)]
        pub key_name: Option<String>,
        /// Nova's server metadata (key → value).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub metadata: BTreeMap<String, String>,
    }

    /// The networks of a new server, as Nova's `networks` takes them.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(untagged)]
    pub enum ServerNetworks {
        Mode(NetworkMode),
        Attach(Vec<NetworkAttachment>),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum NetworkMode {
        /// The site allocates (and, the first time, creates) a network for the project:
        /// Neutron's `auto-allocated-topology`.
        Auto,
        /// No network interface at all.
        None,
    }

    /// One interface: a network (optionally with a fixed address) or an existing port.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NetworkAttachment {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub network: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fixed_ip: Option<String>,
    }

    /// A site's `capabilities["network"]` when its Neutron can allocate networks by itself
    /// (the `auto-allocated-topology` extension), so `"networks": "auto"` works there.
    pub const AUTO_ALLOCATION: &str = "auto-allocation";

    const NETWORKS_FORMS: &str = "networks must be \"auto\", \"none\", or a list of {\"network\": id}, {\"port\": id} or {\"network\": id, \"fixed_ip\": address}";

    impl<'de> Deserialize<'de> for ServerNetworks {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            use serde::de::Error;
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum Raw {
                Mode(String),
                Attach(Vec<NetworkAttachment>),
                /// The form of earlier releases: network ids.
                Ids(Vec<String>),
            }
            let raw =
                Raw::deserialize(deserializer).map_err(|_| D::Error::custom(NETWORKS_FORMS))?;
            let attachments = match raw {
                Raw::Mode(mode) if mode == "auto" => {
                    return Ok(ServerNetworks::Mode(NetworkMode::Auto))
                }
                Raw::Mode(mode) if mode == "none" => {
                    return Ok(ServerNetworks::Mode(NetworkMode::None))
                }
                Raw::Mode(_) => return Err(D::Error::custom(NETWORKS_FORMS)),
                Raw::Ids(ids) => ids
                    .into_iter()
                    .map(|id| NetworkAttachment {
                        network: Some(id),
                        port: None,
                        fixed_ip: None,
                    })
                    .collect(),
                Raw::Attach(list) => list,
            };
            for attachment in &attachments {
                let one_of = attachment.network.is_some() != attachment.port.is_some();
                if !one_of || (attachment.port.is_some() && attachment.fixed_ip.is_some()) {
                    return Err(D::Error::custom(NETWORKS_FORMS));
                }
            }
            if attachments.is_empty() {
                return Err(D::Error::custom("networks must not be an empty list: give \"none\" for a server without a network"));
            }
            Ok(ServerNetworks::Attach(attachments))
        }
    }

    /// Server statuses Nova leaves by itself within seconds: worth reading again soon.
    pub const SETTLING_SERVER_STATUSES: &[&str] = &[
        "BUILD",
        "REBOOT",
        "HARD_REBOOT",
        "DELETING",
        "POWERING_OFF",
        "POWERING_ON",
    ];

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum ServerAction {
        Start,
        Stop,
        Reboot,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct ServerActionRequest {
        pub action: ServerAction,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Flavor {
        pub id: String,
        pub name: String,
        pub vcpus: u32,
        pub ram_mb: u64,
        pub disk_gb: u64,
        pub is_public: bool,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewFlavor {
        pub name: String,
        pub vcpus: u32,
        pub ram_mb: u64,
        pub disk_gb: u64,
        #[serde(default)]
        pub id: Option<String>,
        #[serde(default = "yes")]
        pub is_public: bool,
    }

    fn yes() -> bool {
        true
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Image {
        pub id: String,
        pub name: Option<String>,
        pub status: String,
        pub visibility: String,
        pub size: Option<u64>,
        pub disk_format: Option<String>,
        pub container_format: Option<String>,
        /// md5, as Glance's `checksum`.
        pub checksum: Option<String>,
        /// sha512 of the data, as Glance's `os_hash_value`.
        pub hash: Option<String>,
        pub owner: Option<String>,
        pub created_at: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewImage {
        pub name: String,
        #[serde(default = "raw")]
        pub disk_format: String,
        #[serde(default = "bare")]
        pub container_format: String,
        #[serde(default)]
        pub visibility: Option<String>,
    }

    fn raw() -> String {
        "raw".into()
    }

    fn bare() -> String {
        "bare".into()
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Network {
        pub id: String,
        pub name: String,
        pub status: String,
        pub shared: bool,
        pub external: bool,
        pub subnets: Vec<String>,
        pub project_id: Option<String>,
        /// Provider attributes, shown to admins by Neutron.
        #[serde(
            default,
            rename = "provider:network_type",
            skip_serializing_if = "Option::is_none"
        )]
        pub network_type: Option<String>,
        #[serde(
            default,
            rename = "provider:physical_network",
            skip_serializing_if = "Option::is_none"
        )]
        pub physical_network: Option<String>,
        #[serde(
            default,
            rename = "provider:segmentation_id",
            skip_serializing_if = "Option::is_none"
        )]
        pub segmentation_id: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mtu: Option<u64>,
    }

    /// A network to create, with Neutron's own names for the provider attributes (the
    /// only kind of network many edge sites have).
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewNetwork {
        pub name: String,
        #[serde(default)]
        pub shared: bool,
        /// `flat`, `vlan`, `vxlan`, `geneve`, `gre` or `local`.
        #[serde(
            default,
            rename = "provider:network_type",
            skip_serializing_if = "Option::is_none"
        )]
        pub network_type: Option<String>,
        #[serde(
            default,
            rename = "provider:physical_network",
            skip_serializing_if = "Option::is_none"
        )]
        pub physical_network: Option<String>,
        #[serde(
            default,
            rename = "provider:segmentation_id",
            skip_serializing_if = "Option::is_none"
        )]
        pub segmentation_id: Option<u64>,
        #[serde(
            default,
            rename = "router:external",
            skip_serializing_if = "Option::is_none"
        )]
        pub external: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mtu: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port_security_enabled: Option<bool>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Subnet {
        pub id: String,
        pub name: String,
        pub network_id: String,
        pub cidr: String,
        pub gateway_ip: Option<String>,
        pub enable_dhcp: bool,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewSubnet {
        pub name: String,
        pub network_id: String,
        pub cidr: String,
        #[serde(default)]
        pub gateway_ip: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Volume {
        pub id: String,
        pub name: Option<String>,
        pub status: String,
        pub size_gb: u64,
        pub bootable: bool,
        pub created_at: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewVolume {
        pub name: String,
        pub size_gb: u64,
        #[serde(default)]
        pub image_id: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Keypair {
        pub name: String,
        pub fingerprint: String,
        pub public_key: String,
        #[serde(rename = "type")]
        pub kind: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewKeypair {
        pub name: String,
        pub public_key: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct SecurityGroup {
        pub id: String,
        pub name: String,
        pub description: String,
        pub rules: usize,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewSecurityGroup {
        pub name: String,
        #[serde(default)]
        pub description: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Project {
        pub id: String,
        pub name: String,
        pub description: String,
        pub enabled: bool,
        pub domain_id: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewProject {
        pub name: String,
        #[serde(default)]
        pub description: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct User {
        pub id: String,
        pub name: String,
        pub enabled: bool,
        pub domain_id: String,
        pub default_project_id: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewUser {
        pub name: String,
        pub password: String,
        #[serde(default)]
        pub default_project: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct RoleAssignment {
        /// `project_id:user_id:role_id`, which `DELETE …/role-assignments/{id}` takes.
        pub id: String,
        pub user_id: String,
        pub user_name: Option<String>,
        pub project_id: String,
        pub project_name: Option<String>,
        pub role_id: String,
        pub role_name: Option<String>,
    }

    /// A role to grant: names or ids are both accepted.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewRoleAssignment {
        pub user: String,
        pub project: String,
        pub role: String,
    }

    /// A project's quotas per service: resource → limit (-1 means unlimited).
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Quotas {
        pub project_id: String,
        /// The project's name in the site's Keystone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub project_name: Option<String>,
        pub compute: BTreeMap<String, i64>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub network: BTreeMap<String, i64>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub volume: BTreeMap<String, i64>,
        /// What the project uses of each limit, where the site says (Nova's quota
        /// details, Cinder's `usage=true`, Neutron's `quota_details` extension).
        #[serde(default, skip_serializing_if = "QuotaUsage::is_empty")]
        pub usage: QuotaUsage,
    }

    /// Resources in use per service: resource → amount, keyed as the limits are.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct QuotaUsage {
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub compute: BTreeMap<String, i64>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub network: BTreeMap<String, i64>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub volume: BTreeMap<String, i64>,
    }

    impl QuotaUsage {
        pub fn is_empty(&self) -> bool {
            self.compute.is_empty() && self.network.is_empty() && self.volume.is_empty()
        }
    }

    /// Limits to change; services left out are not touched.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct QuotaUpdate {
        #[serde(default)]
        pub compute: BTreeMap<String, i64>,
        #[serde(default)]
        pub network: BTreeMap<String, i64>,
        #[serde(default)]
        pub volume: BTreeMap<String, i64>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Hypervisor {
        pub id: String,
        pub hostname: String,
        pub state: Option<String>,
        pub status: Option<String>,
        pub vcpus: Option<u64>,
        pub vcpus_used: Option<u64>,
        pub memory_mb: Option<u64>,
        pub memory_mb_used: Option<u64>,
        pub running_vms: Option<u64>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ComputeService {
        pub binary: String,
        pub host: String,
        pub zone: Option<String>,
        pub status: String,
        pub state: String,
        pub updated_at: Option<String>,
    }
}

/// `PATCH /api/v1/sites/{site}`: fields left out stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteUpdate {
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    /// Replaces all labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub credentials: Option<SiteCredentials>,
    #[serde(default)]
    pub insecure: Option<bool>,
    /// A PEM bundle; an empty string removes it.
    #[serde(default)]
    pub ca_bundle: Option<String>,
}

/// What `POST /api/v1/sites/import` did with each cloud of a clouds.yaml.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub created: Vec<String>,
    pub replaced: Vec<String>,
    pub skipped: Vec<ImportIssue>,
    pub failed: Vec<ImportIssue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportIssue {
    pub name: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// How one site contributed to a multi-site answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteAnswerStatus {
    Ok,
    Stale,
    Unreachable,
    Timeout,
    Error,
    AuthFailed,
    /// The site's catalog has no such service (no Cinder, say): nothing is missing.
    NotOffered,
}

impl SiteAnswerStatus {
    /// Whether the site said all it has: it answered, or it has no such service.
    pub fn is_complete(self) -> bool {
        matches!(self, SiteAnswerStatus::Ok | SiteAnswerStatus::NotOffered)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteAnswer {
    pub status: SiteAnswerStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// When the data shown for this site was read from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/v1/{resource}`: items of many sites, each with its `site`, and how each
/// site answered. Always 200 when the request itself is valid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggregate {
    pub items: Vec<serde_json::Value>,
    pub sites: BTreeMap<String, SiteAnswer>,
    /// Items before paging, over every site that answered.
    pub total: usize,
}

/// `GET /api/v1/inventory/summary`: fleet totals from the console's inventory, without
/// asking any site, over the sites the caller may see.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InventorySummary {
    /// Servers by status (`ACTIVE`, `SHUTOFF`, `ERROR`, …).
    pub servers: BTreeMap<String, u64>,
    pub images: u64,
    pub volumes: u64,
    pub networks: u64,
    /// Sites with at least one snapshot counted.
    pub sites_counted: u64,
    /// The oldest snapshot counted: how stale the totals may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_as_of: Option<String>,
}

/// A site's state changed: event `site` of `GET /api/v1/events`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteEvent {
    pub site: String,
    pub from: SiteState,
    pub to: SiteState,
    pub at: String,
    pub reason: Option<String>,
}

/// Bulk operations: a job fans out into one task per site.
pub mod jobs {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum JobState {
        Pending,
        Running,
        Succeeded,
        PartiallyFailed,
        Failed,
        Cancelled,
    }

    impl JobState {
        pub fn as_str(self) -> &'static str {
            match self {
                JobState::Pending => "pending",
                JobState::Running => "running",
                JobState::Succeeded => "succeeded",
                JobState::PartiallyFailed => "partially_failed",
                JobState::Failed => "failed",
                JobState::Cancelled => "cancelled",
            }
        }

        pub fn parse(text: &str) -> Option<JobState> {
            [
                JobState::Pending,
                JobState::Running,
                JobState::Succeeded,
                JobState::PartiallyFailed,
                JobState::Failed,
                JobState::Cancelled,
            ]
            .into_iter()
            .find(|s| s.as_str() == text)
        }

        pub fn is_finished(self) -> bool {
            !matches!(self, JobState::Pending | JobState::Running)
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum TaskState {
        Pending,
        Running,
        WaitingForSite,
        Succeeded,
        Failed,
        Cancelled,
    }

    impl TaskState {
        pub fn as_str(self) -> &'static str {
            match self {
                TaskState::Pending => "pending",
                TaskState::Running => "running",
                TaskState::WaitingForSite => "waiting_for_site",
                TaskState::Succeeded => "succeeded",
                TaskState::Failed => "failed",
                TaskState::Cancelled => "cancelled",
            }
        }

        pub fn parse(text: &str) -> Option<TaskState> {
            [
                TaskState::Pending,
                TaskState::Running,
                TaskState::WaitingForSite,
                TaskState::Succeeded,
                TaskState::Failed,
                TaskState::Cancelled,
            ]
            .into_iter()
            .find(|s| s.as_str() == text)
        }

        pub fn is_finished(self) -> bool {
            matches!(
                self,
                TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled
            )
        }
    }

    /// Which sites a job is for: exactly one of the three.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct Targets {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sites: Option<Vec<String>>,
        /// A label selector, `region=eu,tier!=test`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub selector: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub all: Option<bool>,
    }

    /// How a job spreads over its sites.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct Rollout {
        /// Sites worked on at once by this job (default 50).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_parallel: Option<u32>,
        /// Failed sites tolerated; one more stops the rollout and cancels what has not started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_failures: Option<u32>,
        /// The same as a percentage of the job's sites.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_failure_percent: Option<u8>,
        /// Sites that go first; the others start only when all of these succeeded.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub canary: Vec<String>,
        /// Or: the first N target sites (by name) go first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub canary_count: Option<u32>,
    }

    /// `POST /api/v1/jobs`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewJob {
        /// `flavor.create`, `flavor.delete`, `project.create`, `user.create`, `quota.set`,
        /// `keypair.create`, `network.create`, `servers.delete`.
        pub kind: String,
        pub targets: Targets,
        #[serde(default)]
        pub params: serde_json::Value,
        #[serde(default)]
        pub rollout: Rollout,
        /// How long tasks of unreachable sites wait before they fail (default one day).
        #[serde(default)]
        pub ttl_s: Option<u64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Task {
        pub site: String,
        pub state: TaskState,
        pub attempts: u32,
        pub error: Option<String>,
        /// 0 to 100; for a transfer under way (`image.copy`), an object with the bytes.
        pub progress: Progress,
        #[serde(default)]
        pub canary: bool,
        /// What the task did, e.g. `{"outcome": "created", "id": "…"}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub result: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub next_attempt_at: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub started_at: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub finished_at: Option<String>,
    }

    /// How far a task is: a percentage, or for data on its way to a site the bytes too.
    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(untagged)]
    pub enum Progress {
        Percent(u8),
        Transfer(Transfer),
    }

    impl Progress {
        pub fn percent(&self) -> u8 {
            match self {
                Progress::Percent(percent) => *percent,
                Progress::Transfer(transfer) => transfer.percent,
            }
        }
    }

    /// Bytes of a transfer to one site, with its pace since the attempt began.
    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Transfer {
        pub percent: u8,
        pub bytes_done: u64,
        pub bytes_total: Option<u64>,
        pub bytes_per_s: u64,
        /// Seconds left at this pace, when the total is known and bytes are moving.
        pub eta_s: Option<u64>,
    }

    /// Tasks by state.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct TaskCounts {
        pub total: u32,
        pub pending: u32,
        pub running: u32,
        pub waiting_for_site: u32,
        pub succeeded: u32,
        pub failed: u32,
        pub cancelled: u32,
    }

    impl TaskCounts {
        pub fn add(&mut self, state: TaskState) {
            self.total += 1;
            match state {
                TaskState::Pending => self.pending += 1,
                TaskState::Running => self.running += 1,
                TaskState::WaitingForSite => self.waiting_for_site += 1,
                TaskState::Succeeded => self.succeeded += 1,
                TaskState::Failed => self.failed += 1,
                TaskState::Cancelled => self.cancelled += 1,
            }
        }

        pub fn finished(&self) -> u32 {
            self.succeeded + self.failed + self.cancelled
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Job {
        pub id: String,
        pub kind: String,
        pub state: JobState,
        /// The parameters, with secrets (passwords) left out.
        pub params: serde_json::Value,
        pub targets: Targets,
        pub rollout: Rollout,
        pub created_by: String,
        pub created_at: String,
        pub updated_at: String,
        pub expires_at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub finished_at: Option<String>,
        /// Why the rollout stopped early, if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stopped_reason: Option<String>,
        pub counts: TaskCounts,
        /// Empty in lists; every site's task in `GET /jobs/{id}`.
        #[serde(default)]
        pub tasks: Vec<Task>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct JobList {
        pub items: Vec<Job>,
    }

    /// One site a job would run at, as `POST /api/v1/jobs?dry_run=true` answers it.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct PreviewSite {
        pub site: String,
        /// The site's health as the console last saw it.
        pub state: crate::SiteState,
        /// One of the sites that go first.
        #[serde(default)]
        pub canary: bool,
    }

    /// The answer to a dry run (`POST /api/v1/jobs?dry_run=true`): the job was checked
    /// exactly like a real submission and nothing was created or sent to a site.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct JobPreview {
        pub kind: String,
        /// Every site the targets match, by name.
        pub sites: Vec<PreviewSite>,
        /// The matched sites that are unreachable now: their tasks would wait for them.
        #[serde(default)]
        pub unreachable: Vec<String>,
        /// Sites worked on at once (the rollout's, or the default).
        pub max_parallel: u32,
    }

    /// One Server-Sent Event of `GET /api/v1/jobs/{id}/events` (event name `task`): a
    /// task changed, with the job's state and counts after the change.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct TaskEvent {
        pub job_id: String,
        pub job_state: JobState,
        pub counts: TaskCounts,
        pub task: Task,
    }
}

/// Console users, their site scopes, API tokens and the audit log.
pub mod access {
    use serde::{Deserialize, Serialize};

    use crate::jobs::Targets;
    use crate::Role;

    /// A console user. `scope` limits the sites the user sees and operates.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ConsoleUser {
        pub id: String,
        pub username: String,
        pub role: Role,
        pub scope: Targets,
        pub created_at: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewConsoleUser {
        pub username: String,
        pub password: String,
        pub role: Role,
        /// Default: every site.
        #[serde(default)]
        pub scope: Option<Targets>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct ConsoleUserUpdate {
        #[serde(default)]
        pub password: Option<String>,
        #[serde(default)]
        pub role: Option<Role>,
        #[serde(default)]
        pub scope: Option<Targets>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ConsoleUserList {
        pub items: Vec<ConsoleUser>,
    }

    /// An API token as listed: never the token itself.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ApiToken {
        pub id: String,
        pub name: String,
        pub username: String,
        pub role: Role,
        pub scope: Targets,
        pub created_at: String,
        pub expires_at: Option<String>,
        pub last_used_at: Option<String>,
        pub revoked: bool,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewApiToken {
        pub name: String,
        /// At most the owner's role (default: the owner's role).
        #[serde(default)]
        pub role: Option<Role>,
        /// Narrows the owner's scope (default: the owner's scope).
        #[serde(default)]
        pub scope: Option<Targets>,
        /// Default 90, at most 365.
        #[serde(default)]
        pub expires_in_days: Option<u32>,
    }

    /// The answer to creating a token: the only time `token` is shown.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct CreatedApiToken {
        pub token: String,
        pub info: ApiToken,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ApiTokenList {
        pub items: Vec<ApiToken>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct AuditEntry {
        pub id: i64,
        pub at: String,
        pub actor: String,
        /// `POST /api/v1/jobs`, `job.create`, `site.state`, `auth.login`, …
        pub action: String,
        pub target: Option<String>,
        pub sites: Vec<String>,
        /// `ok`, `denied`, `failed`, or a state (`unreachable`, `succeeded`, …).
        pub outcome: String,
        pub status: Option<u16>,
        pub detail: Option<String>,
    }

    /// Newest first; pass `before=next_before` for the next page.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct AuditList {
        pub items: Vec<AuditEntry>,
        pub next_before: Option<i64>,
    }
}

/// Images across sites.
pub mod images {
    use serde::{Deserialize, Serialize};

    use crate::jobs::{Rollout, Targets};

    /// An image of one site.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct ImageRef {
        pub site: String,
        pub image_id: String,
    }

    /// What a replication policy keeps on its sites: a site's image, or a content by hash.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(untagged)]
    pub enum PolicyImage {
        Site(ImageRef),
        Content { sha512: String },
    }

    /// `POST /api/v1/images/policies`: "this image must be on every site the targets
    /// select", kept so as sites join, come back, or lose their copy.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewImagePolicy {
        pub image: PolicyImage,
        pub targets: Targets,
    }

    /// A policy with where each target site stands.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ImagePolicy {
        pub id: String,
        pub image: PolicyImage,
        pub sha512: String,
        pub targets: Targets,
        pub created_by: String,
        pub created_at: String,
        /// Every selected site and whether it holds the content.
        pub drift: Vec<PolicyDrift>,
        /// Sites of `drift` that do not hold the content (yet).
        pub missing: usize,
        /// The copy job the console runs for this policy now, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub job_id: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct PolicyDrift {
        pub site: String,
        /// `holds`, `missing` (a copy will be made), or `unknown` (nothing known of the
        /// site's images: it has not answered yet).
        pub state: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image_id: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ImagePolicyList {
        pub items: Vec<ImagePolicy>,
    }

    /// `POST /api/v1/servers`: boot servers on several sites from one image, copied first
    /// to each target that lacks it: a job of kind `servers.boot`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct FederatedBoot {
        pub name: String,
        /// Flavor name (ids differ between sites).
        pub flavor: String,
        /// The image, on the site that holds it; or give `image_name`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image: Option<ImageRef>,
        /// An image name, found on each target, or else on any site and copied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image_name: Option<String>,
        /// Servers per target site.
        #[serde(default = "one")]
        pub count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub networks: Option<crate::l1::ServerNetworks>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub key_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub targets: Option<Targets>,
        /// Sites chosen by the console from a policy (level L2.2), instead of `targets`:
        /// `count` is then the number of servers in all.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub placement: Option<crate::placement::PlacementChoice>,
        #[serde(default)]
        pub rollout: Rollout,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ttl_s: Option<u64>,
    }

    fn one() -> u32 {
        1
    }

    /// `GET /api/v1/images/catalog`: the images of every site, one entry per content.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct ImageCatalog {
        pub items: Vec<CatalogEntry>,
        /// How each site answered, as in aggregated lists.
        pub sites: std::collections::BTreeMap<String, crate::SiteAnswer>,
    }

    /// One content (one sha512) and the sites that hold it. An image without data yet
    /// (`queued`) has no hash: it is an entry of its own with `sha512` null.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct CatalogEntry {
        pub sha512: Option<String>,
        /// The most common name of the copies; every name they carry is in `names`.
        pub name: Option<String>,
        pub names: Vec<String>,
        pub size: Option<u64>,
        pub disk_format: Option<String>,
        pub container_format: Option<String>,
        pub sites: Vec<CatalogSite>,
    }

    /// A site's copy of a content.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct CatalogSite {
        pub site: String,
        pub image_id: String,
        pub status: String,
        /// When the site's answer was read, if it is not live (the site did not answer
        /// and its last-known inventory is shown).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stale_since: Option<String>,
    }

    /// `POST /api/v1/images/copy`: copy one image to every target site, as a job of kind
    /// `image.copy`.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct ImageCopyRequest {
        pub source: ImageRef,
        pub targets: Targets,
        #[serde(default)]
        pub rollout: Rollout,
        /// How long copies to unreachable sites wait before they fail (default one day).
        #[serde(default)]
        pub ttl_s: Option<u64>,
    }
}

pub mod metrics {
    //! Figures collected from every site over time: `GET /api/v1/metrics/summary` and
    //! `GET /api/v1/metrics/series`.

    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    /// The figures Overcast collects from each site, with their units in their names.
    /// `capacity_*` is what Placement lets be allocated (`(total - reserved) ×
    /// allocation_ratio` over the site's resource providers), `used_*` what is allocated.
    pub const METRICS: &[&str] = &[
        "capacity_vcpus",
        "used_vcpus",
        "capacity_ram_mb",
        "used_ram_mb",
        "capacity_disk_gb",
        "used_disk_gb",
        "servers_total",
        "servers_active",
        "servers_shutoff",
        "servers_error",
        "servers_other",
        "images_count",
        "images_bytes",
        "volumes_count",
        "volumes_gb",
        "api_latency_ms",
        "site_up",
    ];

    /// `GET /api/v1/metrics/summary`: the latest figures of every selected site, their
    /// totals, and the totals per value of a label (`group_by`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct MetricsSummary {
        /// Sums over the sites whose figures are fresh; a site with a gap adds nothing
        /// and is counted in `sites_missing`.
        pub totals: BTreeMap<String, f64>,
        pub sites_reporting: usize,
        pub sites_missing: usize,
        /// Per value of the `group_by` label (`(none)` for sites without it).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub groups: Vec<MetricsGroup>,
        pub sites: Vec<SiteMetrics>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct MetricsGroup {
        pub label: String,
        pub value: String,
        pub totals: BTreeMap<String, f64>,
        pub sites_reporting: usize,
        pub sites_missing: usize,
    }

    /// One site's latest collection: its figures, or the gap and why.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct SiteMetrics {
        pub site: String,
        /// When the figures were read (RFC 3339); none if the site was never read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub collected_at: Option<String>,
        /// Whether the figures are from the last collection round (not older than two
        /// collection intervals).
        pub fresh: bool,
        /// Why the last attempt gave no figures, if it gave none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub gap: Option<String>,
        pub values: BTreeMap<String, f64>,
    }

    /// `GET /api/v1/metrics/quotas`: what each project may use and uses at each selected
    /// site, as last collected.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct QuotaReport {
        pub sites: Vec<SiteQuotas>,
    }

    /// One site's project quotas, or why there are none.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct SiteQuotas {
        pub site: String,
        /// When the quotas were read (RFC 3339); none if they never were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub collected_at: Option<String>,
        /// Whether they are from the last collection round.
        pub fresh: bool,
        /// Why some or all of the site's projects have no figures (the site is dark, its
        /// projects cannot be listed, a project's quotas could not be read, too many
        /// projects to read each round).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub gap: Option<String>,
        pub projects: Vec<crate::l1::Quotas>,
    }

    /// `GET /api/v1/metrics/series`: one metric over time, aggregated across sites.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct MetricSeries {
        pub metric: String,
        /// `sum`, `avg`, `max` or `min` across sites.
        pub agg: String,
        /// Unix seconds.
        pub from: i64,
        pub to: i64,
        /// Seconds between points.
        pub step: i64,
        /// The stored resolution the points come from: `raw`, `1m` or `1h`.
        pub resolution: String,
        pub series: Vec<SeriesLine>,
    }

    /// The points of one group (`all` without `group_by`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct SeriesLine {
        pub group: String,
        /// Sites in the group.
        pub sites: usize,
        pub points: Vec<SeriesPoint>,
    }

    /// A point: `value` is null where no site of the group had a sample (a gap, drawn
    /// as a gap); `sites` says how many contributed.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct SeriesPoint {
        pub t: i64,
        pub value: Option<f64>,
        pub sites: usize,
    }
}

pub mod usage {
    //! `GET /api/v1/usage`: what was used over a period, for accounting.

    use serde::{Deserialize, Serialize};

    /// Usage per group (`site`, `project` by name across sites, or a site label's value).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct UsageReport {
        /// RFC 3339.
        pub from: String,
        pub to: String,
        pub group_by: String,
        pub rows: Vec<UsageRow>,
        /// Sites whose usage over the period is not known, with why: their figures are
        /// missing from every row, never counted as zero.
        pub unknown: Vec<UnknownUsage>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct UsageRow {
        pub group: String,
        /// Sites whose figures the row adds.
        pub sites: Vec<String>,
        pub vm_hours: f64,
        pub vcpu_hours: f64,
        pub ram_gb_hours: f64,
        pub disk_gb_hours: f64,
        /// Volume GB-hours as the console observed each site's volumes (Cinder keeps no
        /// usage history): per site and label, not per project (null there).
        pub volume_gb_hours: Option<f64>,
        /// Hours of the period in which a site of the row had no volume figures.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub volume_unknown_hours: Option<f64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct UnknownUsage {
        pub site: String,
        pub reason: String,
    }
}

pub mod placement {
    //! `POST /api/v1/placement/plan`: where servers would go, and why.

    use serde::{Deserialize, Serialize};

    use crate::images::ImageRef;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct PlanRequest {
        /// Flavor name, resolved at each site (ids differ between sites).
        pub flavor: String,
        pub count: u32,
        /// With `image_locality`, sites that hold this image's content come first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image: Option<ImageRef>,
        /// `spread`, `pack`, `power_of_two`, `lowest_latency` or `image_locality`.
        pub policy: String,
        #[serde(default)]
        pub constraints: Constraints,
    }

    /// `placement` of a federated boot: how the console picks the sites.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct PlacementChoice {
        pub policy: String,
        #[serde(default)]
        pub constraints: Constraints,
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct Constraints {
        /// Only sites whose labels match (`region=eu,tier!=test`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub selector: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub exclude: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_per_site: Option<u32>,
        /// Servers over at least `min_distinct` values of a label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub spread_across: Option<SpreadAcross>,
        /// What must stay free at a site after its servers are placed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub min_free: Option<Headroom>,
        /// `same_site` (all servers on one site) or `different_sites` (one per site).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub affinity: Option<Affinity>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct SpreadAcross {
        pub label: String,
        pub min_distinct: u32,
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct Headroom {
        #[serde(default)]
        pub vcpus: f64,
        #[serde(default)]
        pub ram_mb: f64,
        #[serde(default)]
        pub disk_gb: f64,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum Affinity {
        SameSite,
        DifferentSites,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Plan {
        pub satisfiable: bool,
        pub allocations: Vec<Allocation>,
        pub excluded: Vec<Exclusion>,
        /// For a plan that cannot be met: why, and what would make it possible.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unmet: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Allocation {
        pub site: String,
        pub count: u32,
        pub reason: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Exclusion {
        pub site: String,
        pub reason: String,
    }
}

pub mod deployments {
    //! Deployments: a desired state ("N servers of this image and flavor, placed by this
    //! policy and these constraints") that the console keeps true across site failures.

    use serde::{Deserialize, Serialize};

    use crate::images::ImageRef;
    use crate::l1::ServerNetworks;
    use crate::placement::PlacementChoice;

    /// `POST /api/v1/deployments`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct NewDeployment {
        /// Unique among deployments; its servers are named `<name>-1`, `<name>-2`, …
        pub name: String,
        /// Flavor name, resolved at each site.
        pub flavor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image: Option<ImageRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub image_name: Option<String>,
        pub count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub networks: Option<ServerNetworks>,
        pub placement: PlacementChoice,
        /// Seconds a site may stay unreachable before its servers are replaced elsewhere
        /// [default: 300].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub grace_s: Option<u64>,
        #[serde(default)]
        pub surplus: SurplusRule,
    }

    /// What becomes of servers beyond the count when a site that was replaced returns
    /// with its servers still running.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum SurplusRule {
        /// Nothing serving is deleted: the surplus is reported, for an operator to act on.
        #[default]
        Keep,
        /// The newest servers go (the replacements), once every server counted is ACTIVE,
        /// never below the count.
        RemoveNewest,
    }

    /// `PATCH /api/v1/deployments/{id}`: a scale (a lower count deletes the newest servers
    /// beyond it), the surplus rule, the grace period.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct DeploymentPatch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub count: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub surplus: Option<SurplusRule>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub grace_s: Option<u64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Deployment {
        pub id: String,
        pub spec: NewDeployment,
        /// `active`, or `deleting` (its servers are being removed; the record goes last).
        pub state: String,
        /// ACTIVE servers at reachable sites.
        pub serving: u32,
        /// Servers booting (BUILD, or in a boot job under way).
        pub pending: u32,
        /// Servers at sites that do not answer, not yet replaced.
        pub unknown: u32,
        /// Serving servers beyond the count (after a replaced site returned).
        pub surplus: u32,
        pub sites: Vec<DeploymentSite>,
        /// The newest first.
        pub events: Vec<DeploymentEvent>,
        pub created_by: String,
        pub created_at: String,
        pub updated_at: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct DeploymentSite {
        pub site: String,
        pub servers: Vec<DeployedServer>,
        /// Since when the site has not answered (RFC 3339), while it does not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unreachable_since: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct DeployedServer {
        pub name: String,
        /// Nova's status; `UNKNOWN` at a site that does not answer, `BOOTING` before Nova
        /// knows the server.
        pub status: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct DeploymentEvent {
        pub at: String,
        pub message: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct DeploymentList {
        pub items: Vec<Deployment>,
    }

    /// A [`Deployment`] as the dashboard lists it: the same fields, less the placement
    /// request, image and networks of its spec, which only the API reads back. Reading
    /// those costs the dashboard's WASM tens of kilobytes (decision 16); every
    /// `Deployment` reads as a row (tested below).
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    pub struct DeploymentRow {
        pub id: String,
        pub spec: DeploymentRowSpec,
        pub state: String,
        pub serving: u32,
        pub pending: u32,
        pub unknown: u32,
        pub surplus: u32,
        pub sites: Vec<DeploymentSite>,
        pub events: Vec<DeploymentEvent>,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    pub struct DeploymentRowSpec {
        pub name: String,
        pub flavor: String,
        pub count: u32,
        pub surplus: SurplusRule,
    }

    /// `GET /api/v1/deployments` read as [`DeploymentRow`]s.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    pub struct DeploymentRows {
        pub items: Vec<DeploymentRow>,
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_deployment_reads_as_a_row_with_the_same_figures() {
            let deployment = Deployment {
                id: "d-1".into(),
                spec: NewDeployment {
                    name: "web".into(),
                    flavor: "m1.small".into(),
                    image: None,
                    image_name: Some("cirros".into()),
                    count: 3,
                    networks: None,
                    placement: crate::placement::PlacementChoice {
                        policy: "spread".into(),
                        constraints: Default::default(),
                    },
                    grace_s: Some(60),
                    surplus: SurplusRule::RemoveNewest,
                },
                state: "active".into(),
                serving: 2,
                pending: 1,
                unknown: 0,
                surplus: 0,
                sites: vec![DeploymentSite {
                    site: "site-001".into(),
                    servers: vec![DeployedServer {
                        name: "web-1".into(),
                        status: "ACTIVE".into(),
                    }],
                    unreachable_since: None,
                }],
                events: vec![DeploymentEvent {
                    at: "2026-12-03T10:00:00Z".into(),
                    message: "booted web-1 on site-001".into(),
                }],
                created_by: "admin".into(),
                created_at: "2026-12-03T10:00:00Z".into(),
                updated_at: "2026-12-03T10:00:00Z".into(),
            };
            let list = serde_json::to_string(&DeploymentList {
                items: vec![deployment.clone()],
            })
            .unwrap_or_default();
            let rows: DeploymentRows =
                serde_json::from_str(&list).unwrap_or_else(|e| panic!("{e}: {list}"));
            let row = &rows.items[0];
            assert_eq!(
                (
                    row.id.as_str(),
                    row.spec.name.as_str(),
                    row.spec.flavor.as_str()
                ),
                ("d-1", "web", "m1.small")
            );
            assert_eq!(
                (row.spec.count, row.spec.surplus),
                (3, SurplusRule::RemoveNewest)
            );
            assert_eq!(
                (row.serving, row.pending, row.unknown, row.surplus),
                (2, 1, 0, 0)
            );
            assert_eq!(
                (&row.sites, &row.events),
                (&deployment.sites, &deployment.events)
            );
        }
    }
}
