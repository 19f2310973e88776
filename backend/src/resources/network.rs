use overcast_api_types::l1::{
    Network, NewNetwork, NewSecurityGroup, NewSubnet, SecurityGroup, Subnet,
};
use reqwest::Method;
use serde_json::{json, Value};

use super::{array, number, object, segment, text, ResourceError, Result, SiteOps};
use crate::openstack::ServiceType::Network as Neutron;

fn network(value: &Value) -> Network {
    Network {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        status: text(value, "status").unwrap_or_default(),
        shared: value
            .get("shared")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        external: value
            .get("router:external")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        subnets: value
            .get("subnets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        project_id: text(value, "project_id").or_else(|| text(value, "tenant_id")),
        network_type: text(value, "provider:network_type"),
        physical_network: text(value, "provider:physical_network"),
        segmentation_id: number(value, "provider:segmentation_id"),
        mtu: number(value, "mtu"),
    }
}

/// Checks provider attributes as Neutron's type drivers would, so that a typo is a 400
/// naming the field rather than a site's error.
fn check_provider(new: &NewNetwork) -> Result<()> {
    let invalid = |field: &str, message: &str| Err(ResourceError::invalid(field, message));
    let Some(kind) = new.network_type.as_deref() else {
        if new.physical_network.is_some() || new.segmentation_id.is_some() {
            return invalid(
                "provider:network_type",
                "give the network type with a physical network or segmentation id",
            );
        }
        return Ok(());
    };
    let most = match kind {
        "flat" | "local" => 0,
        "vlan" => 4094,
        "vxlan" | "geneve" => (1 << 24) - 1,
        "gre" => u64::from(u32::MAX),
        _ => {
            return invalid(
                "provider:network_type",
                "one of flat, vlan, vxlan, geneve, gre, local",
            )
        }
    };
    if kind == "flat" && new.physical_network.as_deref().is_none_or(str::is_empty) {
        return invalid(
            "provider:physical_network",
            "a flat network needs the physical network it is on",
        );
    }
    if matches!(kind, "vxlan" | "geneve" | "gre" | "local") && new.physical_network.is_some() {
        return invalid(
            "provider:physical_network",
            "only flat and vlan networks are on a physical network",
        );
    }
    match new.segmentation_id {
        Some(_) if most == 0 => invalid(
            "provider:segmentation_id",
            "flat and local networks have no segmentation id",
        ),
        Some(id) if id == 0 || id > most => invalid(
            "provider:segmentation_id",
            &format!("must be 1-{most} for a {kind} network"),
        ),
        _ => Ok(()),
    }
}

fn subnet(value: &Value) -> Subnet {
    Subnet {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        network_id: text(value, "network_id").unwrap_or_default(),
        cidr: text(value, "cidr").unwrap_or_default(),
        gateway_ip: text(value, "gateway_ip"),
        enable_dhcp: value
            .get("enable_dhcp")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

fn security_group(value: &Value) -> SecurityGroup {
    SecurityGroup {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        description: text(value, "description").unwrap_or_default(),
        rules: value
            .get("security_group_rules")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
    }
}

/// Checks an IPv4 CIDR the way Neutron would refuse it, before asking the site.
fn valid_cidr(cidr: &str) -> bool {
    let Some((addr, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(addr), Ok(prefix)) = (addr.parse::<std::net::Ipv4Addr>(), prefix.parse::<u8>()) else {
        return false;
    };
    prefix <= 32 && (prefix == 0 || u32::from(addr) & !(u32::MAX << (32 - prefix)) == 0)
}

impl SiteOps {
    pub async fn networks(&self) -> Result<Vec<Network>> {
        let body: Value = self.get(Neutron, "v2.0/networks").await?;
        Ok(array(&body, "networks", "network")?
            .iter()
            .map(network)
            .collect())
    }

    pub async fn network(&self, id: &str) -> Result<Network> {
        let body: Value = self
            .get(Neutron, &format!("v2.0/networks/{}", segment(id)))
            .await?;
        Ok(network(object(&body, "network", "network")?))
    }

    pub async fn create_network(&self, new: &NewNetwork) -> Result<Network> {
        if new.name.len() > 255 {
            return Err(ResourceError::invalid(
                "name",
                "must be at most 255 characters",
            ));
        }
        check_provider(new)?;
        if new.mtu.is_some_and(|mtu| !(68..=65535).contains(&mtu)) {
            return Err(ResourceError::invalid("mtu", "must be 68-65535"));
        }
        // Neutron's own names: what is not set is left to the site's defaults.
        let body = json!({ "network": new });
        let created = self
            .send(Neutron, Method::POST, "v2.0/networks", Some(&body))
            .await?;
        Ok(network(object(&created, "network", "network")?))
    }

    pub async fn delete_network(&self, id: &str) -> Result<()> {
        self.send(
            Neutron,
            Method::DELETE,
            &format!("v2.0/networks/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn subnets(&self) -> Result<Vec<Subnet>> {
        let body: Value = self.get(Neutron, "v2.0/subnets").await?;
        Ok(array(&body, "subnets", "network")?
            .iter()
            .map(subnet)
            .collect())
    }

    pub async fn subnet(&self, id: &str) -> Result<Subnet> {
        let body: Value = self
            .get(Neutron, &format!("v2.0/subnets/{}", segment(id)))
            .await?;
        Ok(subnet(object(&body, "subnet", "network")?))
    }

    pub async fn create_subnet(&self, new: &NewSubnet) -> Result<Subnet> {
        if !valid_cidr(&new.cidr) {
            return Err(ResourceError::invalid(
                "cidr",
                "must be an IPv4 network such as 10.1.0.0/24 (no host bits set)",
            ));
        }
        let mut body = json!({"subnet": {"name": new.name, "network_id": new.network_id, "cidr": new.cidr, "ip_version": 4}});
        if let Some(gateway) = &new.gateway_ip {
            body["subnet"]["gateway_ip"] = json!(gateway);
        }
        let created = self
            .send(Neutron, Method::POST, "v2.0/subnets", Some(&body))
            .await?;
        Ok(subnet(object(&created, "subnet", "network")?))
    }

    pub async fn delete_subnet(&self, id: &str) -> Result<()> {
        self.send(
            Neutron,
            Method::DELETE,
            &format!("v2.0/subnets/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn security_groups(&self) -> Result<Vec<SecurityGroup>> {
        let body: Value = self.get(Neutron, "v2.0/security-groups").await?;
        Ok(array(&body, "security_groups", "network")?
            .iter()
            .map(security_group)
            .collect())
    }

    pub async fn security_group(&self, id: &str) -> Result<SecurityGroup> {
        let body: Value = self
            .get(Neutron, &format!("v2.0/security-groups/{}", segment(id)))
            .await?;
        Ok(security_group(object(&body, "security_group", "network")?))
    }

    pub async fn create_security_group(&self, new: &NewSecurityGroup) -> Result<SecurityGroup> {
        if new.name.trim().is_empty() {
            return Err(ResourceError::invalid("name", "must not be empty"));
        }
        let body = json!({"security_group": {"name": new.name, "description": new.description}});
        let created = self
            .send(Neutron, Method::POST, "v2.0/security-groups", Some(&body))
            .await?;
        Ok(security_group(object(
            &created,
            "security_group",
            "network",
        )?))
    }

    pub async fn delete_security_group(&self, id: &str) -> Result<()> {
        self.send(
            Neutron,
            Method::DELETE,
            &format!("v2.0/security-groups/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn provider_attributes_are_checked_as_type_drivers_do() {
        use overcast_api_types::l1::NewNetwork;
        let net = |kind: &str, physical: Option<&str>, segment: Option<u64>| NewNetwork {
            name: "n".into(),
            network_type: Some(kind.into()),
            physical_network: physical.map(str::to_owned),
            segmentation_id: segment,
            ..NewNetwork::default()
        };
        assert!(super::check_provider(&net("flat", Some("physnet1"), None)).is_ok());
        assert!(super::check_provider(&net("vlan", Some("physnet1"), Some(100))).is_ok());
        assert!(super::check_provider(&net("vxlan", None, Some(5000))).is_ok());
        assert!(super::check_provider(&net("flat", None, None)).is_err());
        assert!(super::check_provider(&net("flat", Some("physnet1"), Some(4))).is_err());
        assert!(super::check_provider(&net("vlan", Some("physnet1"), Some(5000))).is_err());
        assert!(super::check_provider(&net("vxlan", Some("physnet1"), None)).is_err());
        assert!(super::check_provider(&net("flot", Some("physnet1"), None)).is_err());
        let orphan = NewNetwork {
            physical_network: Some("physnet1".into()),
            ..NewNetwork::default()
        };
        assert!(super::check_provider(&orphan).is_err());
    }

    #[test]
    fn cidrs_are_checked_before_asking() {
        assert!(super::valid_cidr("10.1.0.0/24"));
        assert!(!super::valid_cidr("10.1.0.1/24"));
        assert!(!super::valid_cidr("10.1.0.0"));
        assert!(!super::valid_cidr("10.1.0.0/40"));
    }
}
