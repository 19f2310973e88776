use overcast_api_types::l1::{NewVolume, Volume};
use reqwest::Method;
use serde_json::{json, Value};

use super::{array, number, object, segment, text, ResourceError, Result, SiteOps};
use crate::openstack::ServiceType::{BlockStorage, Compute};

fn volume(value: &Value) -> Volume {
    Volume {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name"),
        status: text(value, "status").unwrap_or_default(),
        size_gb: number(value, "size").unwrap_or(0),
        // Cinder sends the string "true" or "false".
        bootable: value
            .get("bootable")
            .is_some_and(|b| b.as_bool() == Some(true) || b.as_str() == Some("true")),
        created_at: text(value, "created_at"),
    }
}

impl SiteOps {
    pub async fn volumes(&self) -> Result<Vec<Volume>> {
        let body =
            json!({"volumes": self.list_all(BlockStorage, "volumes/detail", "volumes").await?});
        Ok(array(&body, "volumes", "block-storage")?
            .iter()
            .map(volume)
            .collect())
    }

    pub async fn volume(&self, id: &str) -> Result<Volume> {
        let body: Value = self
            .get(BlockStorage, &format!("volumes/{}", segment(id)))
            .await?;
        Ok(volume(object(&body, "volume", "block-storage")?))
    }

    pub async fn create_volume(&self, new: &NewVolume) -> Result<Volume> {
        if new.size_gb == 0 {
            return Err(ResourceError::invalid("size_gb", "must be at least 1"));
        }
        let mut body = json!({"volume": {"name": new.name, "size": new.size_gb}});
        if let Some(image) = &new.image_id {
            body["volume"]["imageRef"] = json!(image);
        }
        let created = self
            .send(BlockStorage, Method::POST, "volumes", Some(&body))
            .await?;
        Ok(volume(object(&created, "volume", "block-storage")?))
    }

    pub async fn delete_volume(&self, id: &str) -> Result<()> {
        self.send(
            BlockStorage,
            Method::DELETE,
            &format!("volumes/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    /// A volume by id or, failing that, by its unique name.
    async fn resolve_volume(&self, wanted: &str) -> Result<String> {
        match self.volume(wanted).await {
            Ok(found) => return Ok(found.id),
            Err(e) if !super::is_not_found(&e) => return Err(e),
            Err(_) => {}
        }
        let named: Vec<Volume> = self
            .volumes()
            .await?
            .into_iter()
            .filter(|v| v.name.as_deref() == Some(wanted))
            .collect();
        match named.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(ResourceError::invalid(
                "volume",
                format!("no volume {wanted:?} on site {}", self.site),
            )),
            _ => Err(ResourceError::invalid(
                "volume",
                format!("several volumes are named {wanted:?}; give the id"),
            )),
        }
    }

    /// Attaches a volume (by id or name) to a server, through Nova's
    /// `os-volume_attachments`; the site finishes it by itself (`attaching` → `in-use`).
    pub async fn attach_volume(&self, server: &str, volume: &str) -> Result<()> {
        if volume.trim().is_empty() {
            return Err(ResourceError::invalid("volume", "must name a volume"));
        }
        let volume_id = self.resolve_volume(volume).await?;
        let body = json!({"volumeAttachment": {"volumeId": volume_id}});
        self.send(
            Compute,
            Method::POST,
            &format!("servers/{}/os-volume_attachments", segment(server)),
            Some(&body),
        )
        .await?;
        Ok(())
    }

    pub async fn detach_volume(&self, server: &str, volume: &str) -> Result<()> {
        self.send(
            Compute,
            Method::DELETE,
            &format!(
                "servers/{}/os-volume_attachments/{}",
                segment(server),
                segment(volume)
            ),
            None,
        )
        .await?;
        Ok(())
    }
}
