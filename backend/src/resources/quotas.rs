use std::collections::BTreeMap;

use overcast_api_types::l1::{QuotaUpdate, Quotas};
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

impl SiteOps {
    /// A project's quotas in every service the site offers; a service the site lacks is
    /// left out rather than failing the whole answer.
    pub async fn quotas(&self, project: &str) -> Result<Quotas> {
        let project_id = self.find_project(project).await?.id;
        let compute = self.compute_quota(&project_id).await?;
        let network = match self
            .get::<Value>(
                ServiceType::Network,
                &format!("v2.0/quotas/{}", segment(&project_id)),
            )
            .await
        {
            Ok(body) => limits(object(&body, "quota", "network")?),
            Err(super::ResourceError::Site(OpenStackError::MissingService(_))) => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let volume = match self
            .get::<Value>(
                ServiceType::BlockStorage,
                &format!("os-quota-sets/{}", segment(&project_id)),
            )
            .await
        {
            Ok(body) => limits(object(&body, "quota_set", "block-storage")?),
            Err(super::ResourceError::Site(OpenStackError::MissingService(_))) => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Quotas {
            project_id,
            compute,
            network,
            volume,
        })
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
