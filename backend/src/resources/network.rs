use overcast_api_types::l1::{
    Network, NewNetwork, NewSecurityGroup, NewSubnet, SecurityGroup, Subnet,
};
use reqwest::Method;
use serde_json::{json, Value};

use super::{array, object, segment, text, ResourceError, Result, SiteOps};
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
        let body = json!({"network": {"name": new.name, "shared": new.shared}});
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
    fn cidrs_are_checked_before_asking() {
        assert!(super::valid_cidr("10.1.0.0/24"));
        assert!(!super::valid_cidr("10.1.0.1/24"));
        assert!(!super::valid_cidr("10.1.0.0"));
        assert!(!super::valid_cidr("10.1.0.0/40"));
    }
}
