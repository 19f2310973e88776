use std::collections::BTreeMap;

use overcast_api_types::l1::{Project, QuotaUpdate, QuotaUsage, Quotas};
use reqwest::Method;
use serde_json::{json, Value};

use super::{object, segment, Result, SiteOps};
use crate::openstack::{OpenStackError, ServiceType};

/// The integer limits of a quota set, leaving out `id` and other non-limit fields.
pub(super) fn limits(set: &Value) -> BTreeMap<String, i64> {
    set.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| value.as_i64().map(|limit| (key.clone(), limit)))
        .collect()
}

/// Limits and usage of a detailed quota set, where each resource is
/// `{"limit", "in_use" (Nova, Cinder) or "used" (Neutron), "reserved"}`.
pub(super) fn detailed(set: &Value) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let mut limits = BTreeMap::new();
    let mut usage = BTreeMap::new();
    for (key, value) in set.as_object().into_iter().flatten() {
        if let Some(limit) = value.get("limit").and_then(Value::as_i64) {
            limits.insert(key.clone(), limit);
            if let Some(used) = value
                .get("in_use")
                .or_else(|| value.get("used"))
                .and_then(Value::as_i64)
            {
                usage.insert(key.clone(), used);
            }
        } else if let Some(limit) = value.as_i64() {
            limits.insert(key.clone(), limit);
        }
    }
    (limits, usage)
}

/// Whether a site refused a detailed quota form it does not have (an older Neutron
/// without `quota_details`, a policy that allows only the plain form).
fn no_detail(error: &super::ResourceError) -> bool {
    matches!(
        error,
        super::ResourceError::Site(OpenStackError::Api {
            status: 400 | 403 | 404 | 405 | 501,
            ..
        })
    )
}

/// A service's limits and, where the site says, usage.
type Set = (BTreeMap<String, i64>, BTreeMap<String, i64>);

impl SiteOps {
    /// A project's quotas in every service the site offers, with what the project uses
    /// of them where the site says; a service the site lacks is left out rather than
    /// failing the whole answer.
    pub async fn quotas(&self, project: &str) -> Result<Quotas> {
        let project = self.find_project(project).await?;
        self.quotas_of(project).await
    }

    /// [`Self::quotas`] of a project already found; the three services asked at once.
    pub async fn quotas_of(&self, project: Project) -> Result<Quotas> {
        let id = segment(&project.id);
        let compute_detail = format!("os-quota-sets/{id}/detail");
        let plain = format!("os-quota-sets/{id}");
        let network_detail = format!("v2.0/quotas/{id}/details.json");
        let network_plain = format!("v2.0/quotas/{id}");
        let volume_detail = format!("os-quota-sets/{id}?usage=true");
        let ((compute, compute_used), (network, network_used), (volume, volume_used)) = tokio::try_join!(
            self.quota_set(ServiceType::Compute, &compute_detail, &plain, "quota_set"),
            self.quota_set(
                ServiceType::Network,
                &network_detail,
                &network_plain,
                "quota"
            ),
            self.quota_set(
                ServiceType::BlockStorage,
                &volume_detail,
                &plain,
                "quota_set"
            ),
        )?;
        Ok(Quotas {
            project_id: project.id,
            project_name: Some(project.name),
            compute,
            network,
            volume,
            usage: QuotaUsage {
                compute: compute_used,
                network: network_used,
                volume: volume_used,
            },
        })
    }

    /// One service's quota set: the detailed form (limits with usage) or, where the
    /// site refuses it, the plain one (limits only). Nothing for a service the site
    /// does not offer.
    async fn quota_set(
        &self,
        service: ServiceType,
        detail_path: &str,
        plain_path: &str,
        key: &str,
    ) -> Result<Set> {
        let name = service.name();
        match self.get::<Value>(service, detail_path).await {
            Ok(body) => return Ok(detailed(object(&body, key, name)?)),
            Err(super::ResourceError::Site(OpenStackError::MissingService(_))) => {
                return Ok(Set::default())
            }
            Err(e) if no_detail(&e) => {
                tracing::debug!(site = self.site, service = name, error = %e, "no quota details; reading the limits alone");
            }
            Err(e) => return Err(e),
        }
        let body: Value = self.get(service, plain_path).await?;
        Ok((limits(object(&body, key, name)?), BTreeMap::new()))
    }

    pub async fn update_quotas(&self, project: &str, update: &QuotaUpdate) -> Result<Quotas> {
        for (field, limits) in [
            ("compute", &update.compute),
            ("network", &update.network),
            ("volume", &update.volume),
        ] {
            if let Some((key, _)) = limits.iter().find(|(_, limit)| **limit < -1) {
                return Err(super::ResourceError::invalid(
                    &format!("{field}.{key}"),
                    "must be -1 (unlimited) or more",
                ));
            }
        }
        let project_id = self.find_project(project).await?.id;
        let id = segment(&project_id);
        if !update.compute.is_empty() {
            let body = json!({"quota_set": update.compute});
            self.send(
                ServiceType::Compute,
                Method::PUT,
                &format!("os-quota-sets/{id}"),
                Some(&body),
            )
            .await?;
        }
        if !update.network.is_empty() {
            let body = json!({"quota": update.network});
            self.send(
                ServiceType::Network,
                Method::PUT,
                &format!("v2.0/quotas/{id}"),
                Some(&body),
            )
            .await?;
        }
        if !update.volume.is_empty() {
            let body = json!({"quota_set": update.volume});
            self.send(
                ServiceType::BlockStorage,
                Method::PUT,
                &format!("os-quota-sets/{id}"),
                Some(&body),
            )
            .await?;
        }
        self.quotas(&project_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_sets_give_limits_and_usage_in_every_services_words() {
        let nova = json!({"id": "p", "cores": {"in_use": 3, "limit": 20, "reserved": 0}, "ram": {"in_use": 0, "limit": -1, "reserved": 0}});
        let (limits, usage) = detailed(&nova);
        assert_eq!(
            (limits["cores"], limits["ram"], usage["cores"]),
            (20, -1, 3)
        );
        assert!(!limits.contains_key("id"));
        let neutron = json!({"network": {"used": 2, "limit": 100, "reserved": 0}});
        assert_eq!(detailed(&neutron).1["network"], 2);
        // The plain form, as a site without the details answers: limits alone.
        let (limits, usage) = detailed(&json!({"network": 100, "subnet": -1}));
        assert_eq!((limits["network"], limits["subnet"]), (100, -1));
        assert!(usage.is_empty());
    }
}
