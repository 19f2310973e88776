//! Networking v2.0, as Neutron answers it: networks, subnets, ports, security groups
//! and quotas. Only on sites whose profile has Neutron.
#![expect(
    clippy::result_large_err,
    reason = "handlers answer with a whole OpenStack error response; these are not hot paths"
)]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::keystone::{self, Caller};
use super::site::SimSite;
use super::{rfc3339, SimContext};

#[derive(Debug, Clone)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: u32,
    pub description: String,
    pub segment: Segment,
    pub created_at: time::OffsetDateTime,
}

/// A network's provider segment, as ML2 records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<u64>,
}

impl Segment {
    pub fn flat(physical_network: &str) -> Segment {
        Segment {
            network_type: "flat".into(),
            physical_network: Some(physical_network.into()),
            segmentation_id: None,
        }
    }

    pub fn tenant(vni: u64) -> Segment {
        Segment {
            network_type: "vxlan".into(),
            physical_network: None,
            segmentation_id: Some(vni),
        }
    }
}

/// Physical networks the simulated ML2 maps (`flat_networks`, `network_vlan_ranges`).
const PHYSICAL_NETWORKS: [&str; 3] = ["public", "physnet1", "physnet2"];

/// The segment a create request asks for, checked as ML2's type drivers check it;
/// `Err` is Neutron's answer.
fn requested_segment(
    fields: &serde_json::Map<String, Value>,
    tenant_networks: bool,
    existing: &[Network],
) -> Result<Segment, Response> {
    let invalid = |message: String| {
        Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            &format!("Invalid input for operation: {message}."),
        ))
    };
    let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_owned);
    let segment = Segment {
        network_type: text("provider:network_type").unwrap_or_default(),
        physical_network: text("provider:physical_network"),
        segmentation_id: fields
            .get("provider:segmentation_id")
            .and_then(Value::as_u64),
    };
    let supported: &[&str] = if tenant_networks {
        &["flat", "vlan", "vxlan"]
    } else {
        &["flat"]
    };
    match segment.network_type.as_str() {
        "" if segment.physical_network.is_some() || segment.segmentation_id.is_some() => {
            invalid("provider:network_type required".into())
        }
        "" if !tenant_networks => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoNetworkAvailable",
            "Unable to create the network. No project network is available for allocation.",
        )),
        "" => {
            let next = existing
                .iter()
                .filter(|n| n.segment.network_type == "vxlan")
                .filter_map(|n| n.segment.segmentation_id)
                .max()
                .unwrap_or(1000)
                + 1;
            Ok(Segment::tenant(next))
        }
        kind if !supported.contains(&kind) => {
            invalid(format!("network_type value '{kind}' not supported"))
        }
        kind => {
            let in_use = |s: &Segment| existing.iter().any(|n| n.segment == *s);
            match (kind, &segment.physical_network, segment.segmentation_id) {
                ("flat", None, _) => {
                    invalid("physical_network required for flat provider network".into())
                }
                ("flat", _, Some(_)) => {
                    invalid("segmentation_id specified for flat provider network".into())
                }
                ("flat" | "vlan", Some(physnet), _)
                    if !PHYSICAL_NETWORKS.contains(&physnet.as_str()) =>
                {
                    invalid(format!(
                        "physical_network '{physnet}' unknown for {kind} provider network"
                    ))
                }
                ("flat", Some(physnet), None) if in_use(&segment) => Err(error(
                    StatusCode::CONFLICT,
                    "FlatNetworkInUse",
                    &format!(
                        "Unable to create the flat network. Physical network {physnet} is in use."
                    ),
                )),
                ("vlan", None, _) => {
                    invalid("physical_network required for VLAN provider network".into())
                }
                ("vlan", _, Some(id)) if !(1..=4094).contains(&id) => {
                    invalid("segmentation_id out of range (1 through 4094)".into())
                }
                ("vxlan", Some(_), _) => {
                    invalid("physical_network specified for vxlan provider network".into())
                }
                ("vxlan", None, Some(id)) if !(1..(1 << 24)).contains(&id) => {
                    invalid("segmentation_id out of range (1 through 16777215)".into())
                }
                (_, _, Some(id)) if in_use(&segment) => Err(error(
                    StatusCode::CONFLICT,
                    if kind == "vlan" {
                        "VlanIdInUse"
                    } else {
                        "TunnelIdInUse"
                    },
                    &format!("Unable to create the network. The segmentation id {id} is in use."),
                )),
                // No id given: ML2 allocates the next free one of its ranges.
                (_, physnet, None) if kind != "flat" => {
                    let first = if kind == "vlan" { 100 } else { 1001 };
                    (first..first + 100)
                        .map(|id| Segment {
                            network_type: kind.to_owned(),
                            physical_network: physnet.clone(),
                            segmentation_id: Some(id),
                        })
                        .find(|candidate| !in_use(candidate))
                        .ok_or_else(|| {
                            error(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "NoNetworkAvailable",
                                "Unable to create the network. No project network is available for allocation.",
                            )
                        })
                }
                _ => Ok(segment),
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub network_id: String,
    pub project_id: String,
    pub cidr: String,
    pub ip_version: u8,
    pub gateway_ip: Option<String>,
    pub enable_dhcp: bool,
    pub created_at: time::OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Port {
    pub id: String,
    pub name: String,
    pub network_id: String,
    pub project_id: String,
    pub mac_address: String,
    pub device_id: String,
    pub device_owner: String,
    /// (subnet id, IPv4 address).
    pub fixed_ip: Option<(String, String)>,
    pub created_at: time::OffsetDateTime,
}

/// `"networks": "auto"` where Neutron has no auto-allocated-topology: a real Nova's
/// check of it ends in a 500, before anything else about the request is looked at.
pub fn check_auto_allocation(
    requested: Option<&Value>,
    auto_allocation: bool,
) -> Result<(), PlugError> {
    let auto = matches!(requested, Some(Value::String(mode)) if mode == "auto");
    if auto && !auto_allocation {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'neutronclient.common.exceptions.NotFound'>".into(),
        ));
    }
    Ok(())
}

/// Why Nova could not plug a new server: the status and message Nova answers with.
pub type PlugError = (StatusCode, String);

/// Plugs a new server into networks as Nova does through Neutron. `requested` is the
/// create request's `networks`: absent (before microversion 2.37) or `"auto"`, the first
/// network the project may use that is not external, where the site can allocate one
/// (without `auto-allocated-topology` a real Nova fails with a 500); `"none"`, no port;
/// or a list of `{"uuid"}`, `{"uuid", "fixed_ip"}` and `{"port"}`.
pub fn plug_server(
    data: &mut super::site::SiteData,
    server_id: &str,
    project_id: &str,
    requested: Option<&Value>,
    auto_allocation: bool,
) -> Result<(), PlugError> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let usable = |n: &Network| !n.external && (n.shared || n.project_id == project_id);
    let auto = matches!(requested, Some(Value::String(mode)) if mode == "auto");
    let first_usable = |data: &super::site::SiteData| {
        data.networks
            .iter()
            .find(|n| usable(n))
            .map(|n| vec![(Some(n.id.clone()), None, None)])
    };
    let wanted: Vec<(Option<String>, Option<String>, Option<String>)> = match requested {
        Some(Value::String(mode)) if mode == "none" => return Ok(()),
        _ if auto && !auto_allocation => return check_auto_allocation(requested, auto_allocation),
        None => match first_usable(data) {
            Some(first) => first,
            None => return Ok(()),
        },
        _ if auto => match first_usable(data) {
            Some(first) => first,
            None => return Ok(()),
        },
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let field = |key| item.get(key).and_then(Value::as_str).map(str::to_owned);
                match (field("uuid"), field("port"), field("fixed_ip")) {
                    (None, None, _) | (Some(_), Some(_), _) | (None, Some(_), Some(_)) => Err(bad(
                        format!("Invalid input for field/attribute networks. Value: {item}."),
                    )),
                    entry => Ok(entry),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(bad(format!(
                "Invalid input for field/attribute networks. Value: {other}."
            )))
        }
    };
    for (network, port, fixed_ip) in wanted {
        if let Some(port_id) = port {
            let Some(port) = data
                .ports
                .iter_mut()
                .find(|p| p.id == port_id && p.project_id == project_id)
            else {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!("Port id {port_id} could not be found."),
                ));
            };
            if !port.device_id.is_empty() {
                return Err((
                    StatusCode::CONFLICT,
                    format!("Port {port_id} is still in use."),
                ));
            }
            port.device_id = server_id.to_owned();
            port.device_owner = "compute:nova".into();
            continue;
        }
        let network_id = network.unwrap_or_default();
        if !data
            .networks
            .iter()
            .any(|n| n.id == network_id && usable(n))
        {
            return Err(bad(format!("Network {network_id} could not be found.")));
        }
        let address = match fixed_ip {
            Some(ip) => Some(requested_address(data, &network_id, &ip)?),
            None => free_address(data, &network_id),
        };
        let id = uuid::Uuid::new_v4();
        let mac = id.as_bytes();
        data.ports.push(Port {
            id: id.to_string(),
            name: String::new(),
            network_id,
            project_id: project_id.to_owned(),
            mac_address: format!("fa:16:3e:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2]),
            device_id: server_id.to_owned(),
            device_owner: "compute:nova".into(),
            fixed_ip: address,
            created_at: time::OffsetDateTime::now_utc(),
        });
    }
    Ok(())
}

/// The (subnet, address) of a fixed IP asked for on a network, as Neutron checks it.
fn requested_address(
    data: &super::site::SiteData,
    network_id: &str,
    ip: &str,
) -> Result<(String, String), PlugError> {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let address: Ipv4Addr = ip.parse().map_err(|_| {
        bad(format!(
            "Invalid input for fixed_ip. Reason: '{ip}' is not a valid IP address."
        ))
    })?;
    let subnet = data
        .subnets
        .iter()
        .filter(|s| s.network_id == network_id)
        .find(|s| in_cidr(&s.cidr, address))
        .ok_or_else(|| {
            bad(format!(
                "Fixed IP {ip} is not a valid ip address for network {network_id}."
            ))
        })?;
    let taken = data.ports.iter().any(|p| {
        p.fixed_ip
            .as_ref()
            .is_some_and(|(s, a)| *s == subnet.id && a == ip)
    });
    if taken {
        return Err((
            StatusCode::CONFLICT,
            format!("Unable to complete operation for network {network_id}. The IP address {ip} is in use."),
        ));
    }
    Ok((subnet.id.clone(), ip.to_owned()))
}

fn in_cidr(cidr: &str, address: Ipv4Addr) -> bool {
    let Some((base, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(prefix)) = (base.parse::<Ipv4Addr>(), prefix.parse::<u32>()) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0);
    u32::from(address) & mask == u32::from(base) & mask
}

/// The first free address of the network's first subnet, as Neutron's IPAM picks it.
fn free_address(data: &super::site::SiteData, network_id: &str) -> Option<(String, String)> {
    let subnet = data.subnets.iter().find(|s| s.network_id == network_id)?;
    let (start, end) = allocation_pool(&subnet.cidr)?;
    let (start, end) = (
        u32::from(start.parse::<Ipv4Addr>().ok()?),
        u32::from(end.parse::<Ipv4Addr>().ok()?),
    );
    let taken: Vec<&str> = data
        .ports
        .iter()
        .filter_map(|p| p.fixed_ip.as_ref())
        .filter(|(s, _)| *s == subnet.id)
        .map(|(_, ip)| ip.as_str())
        .collect();
    (start..=end)
        .map(|n| Ipv4Addr::from(n).to_string())
        .find(|ip| !taken.contains(&ip.as_str()))
        .map(|ip| (subnet.id.clone(), ip))
}

/// A server's `addresses` as Nova shows them, keyed by network name.
pub fn server_addresses(data: &super::site::SiteData, server_id: &str) -> Value {
    let mut addresses = serde_json::Map::new();
    for port in data.ports.iter().filter(|p| p.device_id == server_id) {
        let Some(network) = data.networks.iter().find(|n| n.id == port.network_id) else {
            continue;
        };
        let entry = addresses
            .entry(network.name.clone())
            .or_insert_with(|| json!([]));
        if let (Some((_, ip)), Value::Array(list)) = (&port.fixed_ip, entry) {
            list.push(json!({"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": port.mac_address}));
        }
    }
    Value::Object(addresses)
}

#[derive(Debug, Clone)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub project_id: String,
    pub created_at: time::OffsetDateTime,
}

#[derive(Debug, Clone, Copy)]
pub struct NetworkQuota {
    pub network: i64,
    pub subnet: i64,
    pub port: i64,
    pub security_group: i64,
    pub security_group_rule: i64,
    pub router: i64,
    pub floatingip: i64,
}

impl Default for NetworkQuota {
    /// Neutron's defaults.
    fn default() -> Self {
        NetworkQuota {
            network: 100,
            subnet: 100,
            port: 500,
            security_group: 10,
            security_group_rule: 100,
            router: 10,
            floatingip: 50,
        }
    }
}

pub fn router() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extensions))
        .route("/v2.0/networks", get(list_networks).post(create_network))
        .route(
            "/v2.0/networks/{id}",
            get(show_network).delete(delete_network),
        )
        .route("/v2.0/subnets", get(list_subnets).post(create_subnet))
        .route("/v2.0/subnets/{id}", get(show_subnet).delete(delete_subnet))
        .route("/v2.0/ports", get(list_ports))
        .route("/v2.0/routers", get(list_routers))
        .route("/v2.0/floatingips", get(list_floating_ips))
        .route(
            "/v2.0/security-groups",
            get(list_security_groups).post(create_security_group),
        )
        .route(
            "/v2.0/security-groups/{id}",
            get(show_security_group).delete(delete_security_group),
        )
        .route("/v2.0/quotas", get(list_quotas))
        .route("/v2.0/quotas/{project}", get(show_quota).put(update_quota))
        .route("/v2.0/quotas/{project}/details", get(show_quota_details))
        // The form Neutron's API reference documents; it takes both.
        .route(
            "/v2.0/quotas/{project}/details.json",
            get(show_quota_details),
        )
}

/// Neutron's error body: `{"NeutronError": {"type", "message", "detail"}}`.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"NeutronError": {"type": kind, "message": message, "detail": ""}})),
    )
        .into_response()
}

fn not_found(kind: &str, id: &str) -> Response {
    let noun = match kind {
        "Network" => "network",
        "Subnet" => "subnet",
        "SecurityGroup" => "security group",
        _ => "resource",
    };
    error(
        StatusCode::NOT_FOUND,
        &format!("{kind}NotFound"),
        &format!("{} {id} could not be found.", capitalize(noun)),
    )
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

async fn versions(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Json<Value> {
    Json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
        "links": [{"rel": "self", "href": format!("{}/v2.0/", ctx.service_url(&site.name, "network"))}]}]}))
}

async fn resources(
    State(ctx): State<Arc<SimContext>>,
    Extension(site): Extension<Arc<SimSite>>,
) -> Json<Value> {
    let base = ctx.service_url(&site.name, "network/v2.0");
    let resource = |name: &str, collection: &str| json!({"name": name, "collection": collection, "links": [{"rel": "self", "href": format!("{base}/{collection}")}]});
    Json(
        json!({"resources": [resource("network", "networks"), resource("subnet", "subnets"), resource("port", "ports")]}),
    )
}

async fn extensions(
    _caller: keystone::Caller,
    Extension(site): Extension<Arc<SimSite>>,
) -> Response {
    let ext = |alias: &str, name: &str| json!({"alias": alias, "name": name, "description": name, "links": [], "updated": "2013-01-01T00:00:00-00:00"});
    let mut body = json!({"extensions": [ext("quotas", "Quota management support"), ext("quota_details", "Quota details extension"),
        ext("security-group", "security-group"), ext("external-net", "Neutron external network"),
        ext("standard-attr-description", "standard-attr-description"), ext("project-id", "project_id field enabled"),
        ext("net-mtu", "Network MTU"), ext("standard-attr-timestamp", "Resource timestamps"),
        ext("router", "Neutron L3 Router")]});
    if site.profile.auto_allocation {
        if let Some(list) = body["extensions"].as_array_mut() {
            list.push(ext(
                "auto-allocated-topology",
                "Auto Allocated Topology Services",
            ));
        }
    }
    Json(body).into_response()
}

/// Attributes Neutron accepts on create, per resource; others are refused as Neutron does.
fn known_attributes(resource: &str) -> &'static [&'static str] {
    match resource {
        "network" => &[
            "name",
            "admin_state_up",
            "shared",
            "router:external",
            "mtu",
            "description",
            "project_id",
            "tenant_id",
            "port_security_enabled",
            "availability_zone_hints",
            "dns_domain",
            "provider:network_type",
            "provider:physical_network",
            "provider:segmentation_id",
            "qos_policy_id",
            "is_default",
            "tags",
        ],
        "subnet" => &[
            "name",
            "network_id",
            "ip_version",
            "cidr",
            "gateway_ip",
            "enable_dhcp",
            "allocation_pools",
            "dns_nameservers",
            "host_routes",
            "description",
            "project_id",
            "tenant_id",
            "subnetpool_id",
            "prefixlen",
            "ipv6_address_mode",
            "ipv6_ra_mode",
            "segment_id",
            "service_types",
            "use_default_subnetpool",
            "dns_publish_fixed_ip",
        ],
        "security_group" => &[
            "name",
            "description",
            "project_id",
            "tenant_id",
            "stateful",
            "tags",
        ],
        // Quota keys are checked one by one by the handler.
        _ => &[],
    }
}

fn parse(body: &[u8], resource: &str) -> Result<serde_json::Map<String, Value>, Response> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Failed to parse request. Body is not valid JSON.",
        )
    })?;
    let fields = value
        .get(resource)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource body required: expected '{resource}'."),
            )
        })?;
    let known = known_attributes(resource);
    if !known.is_empty() {
        let unknown: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "HTTPBadRequest",
                &format!("Unrecognized attribute(s) '{}'", unknown.join(", ")),
            ));
        }
    }
    for (key, value) in &fields {
        let wrong = match key.as_str() {
            "name" | "description" | "network_id" | "cidr" | "project_id" | "tenant_id" => {
                !value.is_string()
            }
            "shared"
            | "admin_state_up"
            | "router:external"
            | "enable_dhcp"
            | "stateful"
            | "port_security_enabled" => !value.is_boolean(),
            "mtu" | "ip_version" => !value.is_u64(),
            _ => false,
        };
        if wrong {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "HTTPBadRequest",
                &format!("Invalid input for {key}. Reason: '{value}' is not a valid value."),
            ));
        }
    }
    Ok(fields)
}

fn owner_filter(caller: &Caller, project_id: &str, shared: bool) -> bool {
    caller.is_admin || shared || project_id == caller.project_id
}

fn network_json(n: &Network, subnets: &[Subnet]) -> Value {
    let subnet_ids: Vec<&str> = subnets
        .iter()
        .filter(|s| s.network_id == n.id)
        .map(|s| s.id.as_str())
        .collect();
    json!({"id": n.id, "name": n.name, "tenant_id": n.project_id, "project_id": n.project_id,
           "admin_state_up": n.admin_state_up, "status": "ACTIVE", "shared": n.shared, "router:external": n.external,
           "mtu": n.mtu, "subnets": subnet_ids, "description": n.description, "availability_zones": ["nova"],
           "port_security_enabled": true, "tags": [], "revision_number": 1,
           "provider:network_type": n.segment.network_type, "provider:physical_network": n.segment.physical_network,
           "provider:segmentation_id": n.segment.segmentation_id,
           "created_at": rfc3339(n.created_at), "updated_at": rfc3339(n.created_at)})
}

fn quota_exceeded(resource: &str, limit: i64) -> Response {
    error(
        StatusCode::CONFLICT,
        "OverQuota",
        &format!("Quota exceeded for resources: ['{resource}']. Limit {limit}."),
    )
}

async fn list_networks(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = data
        .networks
        .iter()
        .filter(|n| owner_filter(&caller, &n.project_id, n.shared || n.external))
        .filter(|n| query.get("name").is_none_or(|name| &n.name == name))
        .filter(|n| query.get("id").is_none_or(|id| &n.id == id))
        .map(|n| network_json(n, &data.subnets))
        .collect();
    Json(json!({"networks": items})).into_response()
}

async fn show_network(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let data = site.data();
    match data
        .networks
        .iter()
        .find(|n| n.id == id && owner_filter(&caller, &n.project_id, n.shared || n.external))
    {
        Some(n) => Json(json!({"network": network_json(n, &data.subnets)})).into_response(),
        None => not_found("Network", &id),
    }
}

async fn create_network(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    body: axum::body::Bytes,
) -> Response {
    let fields = match parse(&body, "network") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let project_id = fields
        .get("project_id")
        .or(fields.get("tenant_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| caller.project_id.clone());
    let shared = fields
        .get("shared")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let external = fields
        .get("router:external")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if (shared || external || project_id != caller.project_id) && !caller.is_admin {
        return error(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            "(rule:create_network:shared) is disallowed by policy",
        );
    }
    if fields.keys().any(|key| key.starts_with("provider:")) && !caller.is_admin {
        return error(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            "(rule:create_network:provider:network_type) is disallowed by policy",
        );
    }
    let mut data = site.data();
    let segment = match requested_segment(&fields, site.profile.tenant_networks, &data.networks) {
        Ok(segment) => segment,
        Err(response) => return response,
    };
    let limit = data.network_quota(&project_id).network;
    if limit >= 0
        && data
            .networks
            .iter()
            .filter(|n| n.project_id == project_id)
            .count() as i64
            >= limit
    {
        return quota_exceeded("network", limit);
    }
    let network = Network {
        id: uuid::Uuid::new_v4().to_string(),
        name: fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        project_id,
        admin_state_up: fields
            .get("admin_state_up")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        shared,
        external,
        mtu: fields
            .get("mtu")
            .and_then(Value::as_u64)
            .map_or(1450, |m| m as u32),
        description: fields
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        segment,
        created_at: time::OffsetDateTime::now_utc(),
    };
    let body = json!({"network": network_json(&network, &[])});
    data.networks.push(network);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn delete_network(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let mut data = site.data();
    if !data
        .networks
        .iter()
        .any(|n| n.id == id && (caller.is_admin || n.project_id == caller.project_id))
    {
        return not_found("Network", &id);
    }
    if data
        .ports
        .iter()
        .any(|p| p.network_id == id && p.device_owner.starts_with("compute:"))
    {
        return error(StatusCode::CONFLICT, "NetworkInUse", &format!("Unable to complete operation on network {id}. There are one or more ports still in use on the network."));
    }
    data.subnets.retain(|s| s.network_id != id);
    data.ports.retain(|p| p.network_id != id);
    data.networks.retain(|n| n.id != id);
    StatusCode::NO_CONTENT.into_response()
}

fn subnet_json(s: &Subnet) -> Value {
    let pool = allocation_pool(&s.cidr);
    json!({"id": s.id, "name": s.name, "network_id": s.network_id, "tenant_id": s.project_id, "project_id": s.project_id,
           "cidr": s.cidr, "ip_version": s.ip_version, "gateway_ip": s.gateway_ip, "enable_dhcp": s.enable_dhcp,
           "allocation_pools": pool.map_or(json!([]), |(start, end)| json!([{"start": start, "end": end}])),
           "dns_nameservers": [], "host_routes": [], "description": "", "tags": [], "revision_number": 0,
           "created_at": rfc3339(s.created_at), "updated_at": rfc3339(s.created_at)})
}

/// Parses an IPv4 CIDR into (network address, prefix length).
fn parse_cidr(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(addr) & mask == u32::from(addr)).then_some((addr, prefix))
}

fn allocation_pool(cidr: &str) -> Option<(String, String)> {
    let (addr, prefix) = parse_cidr(cidr)?;
    if prefix > 29 {
        return None;
    }
    let base = u32::from(addr);
    let last = base | (u32::MAX >> prefix);
    Some((
        Ipv4Addr::from(base + 2).to_string(),
        Ipv4Addr::from(last - 1).to_string(),
    ))
}

async fn list_subnets(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = data
        .subnets
        .iter()
        .filter(|s| owner_filter(&caller, &s.project_id, false))
        .filter(|s| query.get("network_id").is_none_or(|n| &s.network_id == n))
        .filter(|s| query.get("name").is_none_or(|n| &s.name == n))
        .map(subnet_json)
        .collect();
    Json(json!({"subnets": items})).into_response()
}

async fn show_subnet(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let data = site.data();
    match data
        .subnets
        .iter()
        .find(|s| s.id == id && owner_filter(&caller, &s.project_id, false))
    {
        Some(s) => Json(json!({"subnet": subnet_json(s)})).into_response(),
        None => not_found("Subnet", &id),
    }
}

async fn create_subnet(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    body: axum::body::Bytes,
) -> Response {
    let fields = match parse(&body, "subnet") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let Some(network_id) = fields
        .get("network_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "HTTPBadRequest",
            "Invalid input for network_id. Reason: 'None' is not a valid UUID.",
        );
    };
    let ip_version = fields
        .get("ip_version")
        .and_then(Value::as_u64)
        .unwrap_or(4);
    if ip_version != 4 {
        return error(
            StatusCode::BAD_REQUEST,
            "HTTPBadRequest",
            "The simulator supports IPv4 subnets only.",
        );
    }
    let Some(cidr) = fields
        .get("cidr")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
        );
    };
    let Some((addr, _)) = parse_cidr(&cidr) else {
        return error(
            StatusCode::BAD_REQUEST,
            "HTTPBadRequest",
            &format!("Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet."),
        );
    };
    let mut data = site.data();
    let Some(network) = data
        .networks
        .iter()
        .find(|n| n.id == network_id && owner_filter(&caller, &n.project_id, n.shared))
    else {
        return not_found("Network", &network_id);
    };
    let project_id = network.project_id.clone();
    let limit = data.network_quota(&project_id).subnet;
    if limit >= 0
        && data
            .subnets
            .iter()
            .filter(|s| s.project_id == project_id)
            .count() as i64
            >= limit
    {
        return quota_exceeded("subnet", limit);
    }
    let gateway_ip = match fields.get("gateway_ip") {
        Some(Value::Null) => None,
        Some(Value::String(ip)) => Some(ip.clone()),
        _ => Some(Ipv4Addr::from(u32::from(addr) + 1).to_string()),
    };
    let subnet = Subnet {
        id: uuid::Uuid::new_v4().to_string(),
        name: fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        network_id,
        project_id,
        cidr,
        ip_version: 4,
        gateway_ip,
        enable_dhcp: fields
            .get("enable_dhcp")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        created_at: time::OffsetDateTime::now_utc(),
    };
    let body = json!({"subnet": subnet_json(&subnet)});
    data.subnets.push(subnet);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn delete_subnet(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let mut data = site.data();
    let before = data.subnets.len();
    data.subnets
        .retain(|s| !(s.id == id && (caller.is_admin || s.project_id == caller.project_id)));
    if data.subnets.len() == before {
        return not_found("Subnet", &id);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_ports(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let data = site.data();
    let items: Vec<Value> = data
        .ports
        .iter()
        .filter(|p| owner_filter(&caller, &p.project_id, false))
        .filter(|p| query.get("network_id").is_none_or(|n| &p.network_id == n))
        .filter(|p| query.get("device_id").is_none_or(|d| &p.device_id == d))
        .map(|p| {
            json!({"id": p.id, "name": p.name, "network_id": p.network_id, "tenant_id": p.project_id, "project_id": p.project_id,
                   "mac_address": p.mac_address, "device_id": p.device_id, "device_owner": p.device_owner, "status": "ACTIVE",
                   "admin_state_up": true, "security_groups": [], "created_at": rfc3339(p.created_at),
                   "fixed_ips": p.fixed_ip.as_ref().map_or(json!([]), |(subnet, ip)| json!([{"subnet_id": subnet, "ip_address": ip}]))})
        })
        .collect();
    Json(json!({"ports": items})).into_response()
}

/// The L3 extension's lists. No simulated site has routers or floating IPs (none can be
/// created through the simulator yet), so every caller's list is empty, as a real Neutron
/// with the router plugin answers before any is made.
async fn list_routers(_caller: keystone::Caller) -> Response {
    Json(json!({"routers": []})).into_response()
}

async fn list_floating_ips(_caller: keystone::Caller) -> Response {
    Json(json!({"floatingips": []})).into_response()
}

fn security_group_json(g: &SecurityGroup) -> Value {
    let rule = |direction: &str, ethertype: &str| {
        json!({"id": super::site::stable_id(&g.id, direction, usize::from(ethertype == "IPv6")), "direction": direction,
               "ethertype": ethertype, "protocol": null, "port_range_min": null, "port_range_max": null,
               "remote_ip_prefix": null, "remote_group_id": if direction == "ingress" { json!(g.id) } else { Value::Null },
               "security_group_id": g.id, "tenant_id": g.project_id, "project_id": g.project_id})
    };
    json!({"id": g.id, "name": g.name, "description": g.description, "tenant_id": g.project_id, "project_id": g.project_id,
           "security_group_rules": [rule("ingress", "IPv4"), rule("egress", "IPv4")], "stateful": true, "tags": [],
           "created_at": rfc3339(g.created_at), "updated_at": rfc3339(g.created_at), "revision_number": 1})
}

/// Every project has a `default` group, created on first look as Neutron does.
fn ensure_default_group(data: &mut super::site::SiteData, project_id: &str) {
    if !data
        .security_groups
        .iter()
        .any(|g| g.project_id == project_id && g.name == "default")
    {
        data.security_groups.push(SecurityGroup {
            id: super::site::stable_id(project_id, "default-sg", 0),
            name: "default".into(),
            description: "Default security group".into(),
            project_id: project_id.to_owned(),
            created_at: time::OffsetDateTime::now_utc(),
        });
    }
}

async fn list_security_groups(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut data = site.data();
    ensure_default_group(&mut data, &caller.project_id);
    let items: Vec<Value> = data
        .security_groups
        .iter()
        .filter(|g| owner_filter(&caller, &g.project_id, false))
        .filter(|g| query.get("name").is_none_or(|n| &g.name == n))
        .map(security_group_json)
        .collect();
    Json(json!({"security_groups": items})).into_response()
}

async fn show_security_group(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let data = site.data();
    match data
        .security_groups
        .iter()
        .find(|g| g.id == id && owner_filter(&caller, &g.project_id, false))
    {
        Some(g) => Json(json!({"security_group": security_group_json(g)})).into_response(),
        None => not_found("SecurityGroup", &id),
    }
}

async fn create_security_group(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    body: axum::body::Bytes,
) -> Response {
    let fields = match parse(&body, "security_group") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name == "default" {
        return error(
            StatusCode::CONFLICT,
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        );
    }
    let mut data = site.data();
    ensure_default_group(&mut data, &caller.project_id);
    let limit = data.network_quota(&caller.project_id).security_group;
    if limit >= 0
        && data
            .security_groups
            .iter()
            .filter(|g| g.project_id == caller.project_id)
            .count() as i64
            >= limit
    {
        return quota_exceeded("security_group", limit);
    }
    let group = SecurityGroup {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        description: fields
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        project_id: caller.project_id.clone(),
        created_at: time::OffsetDateTime::now_utc(),
    };
    let body = json!({"security_group": security_group_json(&group)});
    data.security_groups.push(group);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn delete_security_group(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let mut data = site.data();
    let Some(group) = data
        .security_groups
        .iter()
        .find(|g| g.id == id && owner_filter(&caller, &g.project_id, false))
    else {
        return not_found("SecurityGroup", &id);
    };
    if group.name == "default" && !caller.is_admin {
        return error(
            StatusCode::CONFLICT,
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        );
    }
    data.security_groups.retain(|g| g.id != id);
    StatusCode::NO_CONTENT.into_response()
}

fn quota_json(q: &NetworkQuota) -> Value {
    json!({"network": q.network, "subnet": q.subnet, "port": q.port, "security_group": q.security_group,
           "security_group_rule": q.security_group_rule, "router": q.router, "floatingip": q.floatingip,
           "rbac_policy": 10, "subnetpool": -1})
}

fn may_see_quota(caller: &Caller, project: &str) -> Result<(), Response> {
    if caller.is_admin || caller.project_id == project {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            "(rule:get_quota) is disallowed by policy",
        ))
    }
}

async fn list_quotas(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
) -> Response {
    if !caller.is_admin {
        return error(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            "(rule:get_quota) is disallowed by policy",
        );
    }
    let data = site.data();
    let items: Vec<Value> = data
        .network_quotas
        .iter()
        .map(|(project, q)| {
            let mut body = quota_json(q);
            body["project_id"] = json!(project);
            body["tenant_id"] = json!(project);
            body
        })
        .collect();
    Json(json!({"quotas": items})).into_response()
}

async fn show_quota(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let project = params.get("project").cloned().unwrap_or_default();
    if let Err(response) = may_see_quota(&caller, &project) {
        return response;
    }
    Json(json!({"quota": quota_json(&site.data().network_quota(&project))})).into_response()
}

async fn show_quota_details(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let project = params.get("project").cloned().unwrap_or_default();
    if let Err(response) = may_see_quota(&caller, &project) {
        return response;
    }
    let data = site.data();
    let q = data.network_quota(&project);
    let used = |n: usize| n as i64;
    let detail = |limit: i64, in_use: i64| json!({"limit": limit, "used": in_use, "reserved": 0});
    Json(json!({"quota": {
        "network": detail(q.network, used(data.networks.iter().filter(|n| n.project_id == project).count())),
        "subnet": detail(q.subnet, used(data.subnets.iter().filter(|s| s.project_id == project).count())),
        "port": detail(q.port, used(data.ports.iter().filter(|p| p.project_id == project).count())),
        "security_group": detail(q.security_group, used(data.security_groups.iter().filter(|g| g.project_id == project).count())),
        "security_group_rule": detail(q.security_group_rule, 0),
        "router": detail(q.router, 0), "floatingip": detail(q.floatingip, 0),
    }}))
    .into_response()
}

async fn update_quota(
    Extension(site): Extension<Arc<SimSite>>,
    caller: keystone::Caller,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    if !caller.is_admin {
        return error(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            "(rule:update_quota) is disallowed by policy",
        );
    }
    let project = params.get("project").cloned().unwrap_or_default();
    let fields = match parse(&body, "quota") {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let check_limit = fields
        .get("check_limit")
        .and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")))
        .unwrap_or(false);
    let mut data = site.data();
    let mut quota = data.network_quota(&project);
    for (key, value) in &fields {
        if key == "check_limit" {
            continue;
        }
        let Some(limit) = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .filter(|l| *l >= -1)
        else {
            return error(
                StatusCode::BAD_REQUEST,
                "HTTPBadRequest",
                &format!("Invalid input for {key}. Reason: '{value}' is not an integer or -1."),
            );
        };
        let slot = match key.as_str() {
            "network" => &mut quota.network,
            "subnet" => &mut quota.subnet,
            "port" => &mut quota.port,
            "security_group" => &mut quota.security_group,
            "security_group_rule" => &mut quota.security_group_rule,
            "router" => &mut quota.router,
            "floatingip" => &mut quota.floatingip,
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "HTTPBadRequest",
                    &format!("Unrecognized attribute(s) '{other}'"),
                )
            }
        };
        *slot = limit;
        let in_use = match key.as_str() {
            "network" => data
                .networks
                .iter()
                .filter(|n| n.project_id == project)
                .count(),
            "subnet" => data
                .subnets
                .iter()
                .filter(|s| s.project_id == project)
                .count(),
            "port" => data
                .ports
                .iter()
                .filter(|p| p.project_id == project)
                .count(),
            "security_group" => data
                .security_groups
                .iter()
                .filter(|g| g.project_id == project)
                .count(),
            _ => 0,
        } as i64;
        if check_limit && limit >= 0 && limit < in_use {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidQuotaValue",
                &format!(
                    "Change would make usage less than 0 for the following resources: ['{key}']"
                ),
            );
        }
    }
    data.network_quotas.insert(project, quota);
    Json(json!({"quota": quota_json(&quota)})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_pools_skip_the_gateway() {
        assert!(parse_cidr("10.0.0.0/24").is_some());
        assert!(parse_cidr("10.0.0.1/24").is_none(), "host bits set");
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert_eq!(
            allocation_pool("10.0.0.0/24"),
            Some(("10.0.0.2".into(), "10.0.0.254".into()))
        );
    }
}
