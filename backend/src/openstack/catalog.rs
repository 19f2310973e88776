//! The service catalog Keystone returns with a token.

use serde::Deserialize;

/// The services Overcast uses, by their catalog type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    Identity,
    Compute,
    Image,
    Network,
    BlockStorage,
    Placement,
}

impl ServiceType {
    pub const ALL: [ServiceType; 6] = [
        ServiceType::Identity,
        ServiceType::Compute,
        ServiceType::Image,
        ServiceType::Network,
        ServiceType::BlockStorage,
        ServiceType::Placement,
    ];

    /// Catalog types that name this service; Cinder has gone by several.
    fn catalog_types(self) -> &'static [&'static str] {
        match self {
            ServiceType::Identity => &["identity"],
            ServiceType::Compute => &["compute"],
            ServiceType::Image => &["image"],
            ServiceType::Network => &["network"],
            ServiceType::BlockStorage => &["block-storage", "volumev3", "volume"],
            ServiceType::Placement => &["placement"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServiceType::Identity => "identity",
            ServiceType::Compute => "compute",
            ServiceType::Image => "image",
            ServiceType::Network => "network",
            ServiceType::BlockStorage => "block-storage",
            ServiceType::Placement => "placement",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEntry {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    pub interface: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Catalog {
    pub fn new(entries: Vec<CatalogEntry>) -> Self {
        Catalog { entries }
    }

    /// The endpoint URL of a service for an interface and, when given, a region; without
    /// a trailing slash so that paths join with `/`.
    pub fn endpoint(
        &self,
        service: ServiceType,
        interface: &str,
        region: Option<&str>,
    ) -> Option<String> {
        service.catalog_types().iter().find_map(|kind| {
            let entry = self.entries.iter().find(|e| e.kind == *kind)?;
            entry
                .endpoints
                .iter()
                .filter(|e| e.interface == interface)
                .find(|e| match region {
                    Some(region) => {
                        e.region.as_deref() == Some(region)
                            || e.region_id.as_deref() == Some(region)
                    }
                    None => true,
                })
                .map(|e| e.url.trim_end_matches('/').to_owned())
        })
    }

    /// The regions the catalog's endpoints name, for telling an operator what exists.
    pub fn regions(&self) -> std::collections::BTreeSet<&str> {
        self.entries
            .iter()
            .flat_map(|e| &e.endpoints)
            .filter_map(|e| e.region.as_deref().or(e.region_id.as_deref()))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(|e| e.endpoints.is_empty())
    }

    pub fn offers(&self, service: ServiceType, interface: &str, region: Option<&str>) -> bool {
        self.endpoint(service, interface, region).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let json = r#"[
            {"type": "compute", "endpoints": [
                {"interface": "public", "region": "RegionOne", "url": "http://a/compute/v2.1/"},
                {"interface": "internal", "region": "RegionOne", "url": "http://internal/compute/v2.1"},
                {"interface": "public", "region": "RegionTwo", "url": "http://b/compute/v2.1"}]},
            {"type": "volumev3", "endpoints": [{"interface": "public", "region": "RegionOne", "url": "http://a/volume/v3"}]}
        ]"#;
        Catalog::new(serde_json::from_str(json).unwrap_or_default())
    }

    #[test]
    fn endpoints_are_chosen_by_interface_and_region() {
        let c = catalog();
        assert_eq!(
            c.endpoint(ServiceType::Compute, "public", Some("RegionTwo"))
                .as_deref(),
            Some("http://b/compute/v2.1")
        );
        assert_eq!(
            c.endpoint(ServiceType::Compute, "internal", None)
                .as_deref(),
            Some("http://internal/compute/v2.1")
        );
        assert_eq!(
            c.endpoint(ServiceType::Compute, "public", Some("RegionOne"))
                .as_deref(),
            Some("http://a/compute/v2.1")
        );
        assert_eq!(c.endpoint(ServiceType::Compute, "admin", None), None);
    }

    #[test]
    fn older_cinder_catalog_types_are_found() {
        assert!(catalog().offers(ServiceType::BlockStorage, "public", None));
        assert!(!catalog().offers(ServiceType::Network, "public", None));
    }
}
