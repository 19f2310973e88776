//! Capacity and usage as Placement keeps them: inventories and usages of every resource
//! provider (one per compute host).

use futures::StreamExt;
use serde_json::Value;

use super::{array, text, Result, SiteOps};
use crate::openstack::ServiceType::Placement;

/// Providers read at once within one site.
const PROVIDER_CONCURRENCY: usize = 8;

/// What the site's providers can allocate and have allocated.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    pub vcpus: f64,
    pub used_vcpus: f64,
    pub ram_mb: f64,
    pub used_ram_mb: f64,
    pub disk_gb: f64,
    pub used_disk_gb: f64,
}

impl Capacity {
    /// Adds one provider: what it lets be allocated is `(total - reserved) ×
    /// allocation_ratio`, as Placement itself counts when it places.
    fn add(&mut self, inventories: &Value, usages: &Value) {
        let allocatable = |class: &str| {
            let inventory = &inventories["inventories"][class];
            let total = inventory["total"].as_f64().unwrap_or(0.0);
            let reserved = inventory["reserved"].as_f64().unwrap_or(0.0);
            let ratio = inventory["allocation_ratio"].as_f64().unwrap_or(1.0);
            ((total - reserved) * ratio).max(0.0)
        };
        let used = |class: &str| usages["usages"][class].as_f64().unwrap_or(0.0);
        self.vcpus += allocatable("VCPU");
        self.used_vcpus += used("VCPU");
        self.ram_mb += allocatable("MEMORY_MB");
        self.used_ram_mb += used("MEMORY_MB");
        self.disk_gb += allocatable("DISK_GB");
        self.used_disk_gb += used("DISK_GB");
    }
}

impl SiteOps {
    /// The site's capacity and usage summed over its resource providers.
    pub async fn capacity(&self) -> Result<Capacity> {
        let body: Value = self.get(Placement, "resource_providers").await?;
        let providers: Vec<String> = array(&body, "resource_providers", "placement")?
            .iter()
            .filter_map(|p| text(p, "uuid"))
            .collect();
        let reads = futures::stream::iter(providers)
            .map(|uuid| async move {
                let inventories: Value = self
                    .get(Placement, &format!("resource_providers/{uuid}/inventories"))
                    .await?;
                let usages: Value = self
                    .get(Placement, &format!("resource_providers/{uuid}/usages"))
                    .await?;
                Ok::<_, super::ResourceError>((inventories, usages))
            })
            .buffer_unordered(PROVIDER_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut capacity = Capacity::default();
        for read in reads {
            let (inventories, usages) = read?;
            capacity.add(&inventories, &usages);
        }
        Ok(capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capacity_counts_reserved_and_overcommit_as_placement_does() {
        let mut capacity = Capacity::default();
        capacity.add(
            &json!({"inventories": {
                "VCPU": {"total": 8, "reserved": 0, "allocation_ratio": 4.0},
                "MEMORY_MB": {"total": 16384, "reserved": 512, "allocation_ratio": 1.5},
            }}),
            &json!({"usages": {"VCPU": 3, "MEMORY_MB": 2048}}),
        );
        capacity.add(
            &json!({"inventories": {"VCPU": {"total": 2, "reserved": 0, "allocation_ratio": 1.0}, "DISK_GB": {"total": 100, "reserved": 0, "allocation_ratio": 1.0}}}),
            &json!({"usages": {"VCPU": 1, "DISK_GB": 20}}),
        );
        assert_eq!(
            capacity,
            Capacity {
                vcpus: 34.0,
                used_vcpus: 4.0,
                ram_mb: 23808.0,
                used_ram_mb: 2048.0,
                disk_gb: 100.0,
                used_disk_gb: 20.0,
            }
        );
    }
}
