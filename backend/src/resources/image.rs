use overcast_api_types::l1::{Image, NewImage};
use reqwest::Method;
use serde_json::{json, Value};

use super::{array, number, segment, text, ResourceError, Result, SiteOps};
use crate::openstack::ServiceType::Image as Glance;

fn image(value: &Value) -> Image {
    Image {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name"),
        status: text(value, "status").unwrap_or_default(),
        visibility: text(value, "visibility").unwrap_or_default(),
        size: number(value, "size"),
        disk_format: text(value, "disk_format"),
        container_format: text(value, "container_format"),
        checksum: text(value, "checksum"),
        hash: text(value, "os_hash_value"),
        owner: text(value, "owner"),
        created_at: text(value, "created_at"),
    }
}

/// An image's data on its way out of a site.
pub struct ImageData {
    pub size: Option<u64>,
    pub checksum: Option<String>,
    pub response: reqwest::Response,
}

const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

impl SiteOps {
    /// Every image the site shows, following Glance's `next` links.
    pub async fn images(&self) -> Result<Vec<Image>> {
        let mut images = Vec::new();
        let mut path = "v2/images?limit=200".to_owned();
        // A bound on pages so a site that loops its `next` link cannot hold the request.
        for _ in 0..1000 {
            let body: Value = self.get(Glance, &path).await?;
            images.extend(array(&body, "images", "image")?.iter().map(image));
            match text(&body, "next") {
                Some(next) => path = next.trim_start_matches('/').to_owned(),
                None => return Ok(images),
            }
        }
        Ok(images)
    }

    pub async fn image(&self, id: &str) -> Result<Image> {
        let body: Value = self
            .get(Glance, &format!("v2/images/{}", segment(id)))
            .await?;
        Ok(image(&body))
    }

    /// Creates the image record (`queued`); its data follows with `upload_image`.
    pub async fn create_image(&self, new: &NewImage) -> Result<Image> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                errors.push(overcast_api_types::FieldError {
                    field: field.into(),
                    message: message.into(),
                });
            }
        };
        check(!new.name.trim().is_empty(), "name", "must not be empty");
        check(
            DISK_FORMATS.contains(&new.disk_format.as_str()),
            "disk_format",
            "must be one of ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop",
        );
        check(
            CONTAINER_FORMATS.contains(&new.container_format.as_str()),
            "container_format",
            "must be one of ami, ari, aki, bare, ovf, ova, docker, compressed",
        );
        check(
            new.visibility
                .as_deref()
                .is_none_or(|v| matches!(v, "public" | "private" | "shared" | "community")),
            "visibility",
            "must be public, private, shared or community",
        );
        if !errors.is_empty() {
            return Err(ResourceError::Invalid(errors));
        }
        let mut body = json!({"name": new.name, "disk_format": new.disk_format, "container_format": new.container_format});
        if let Some(visibility) = &new.visibility {
            body["visibility"] = json!(visibility);
        }
        Ok(image(
            &self
                .send(Glance, Method::POST, "v2/images", Some(&body))
                .await?,
        ))
    }

    pub async fn upload_image(&self, id: &str, data: reqwest::Body) -> Result<Image> {
        self.session
            .upload(
                Glance,
                &format!("v2/images/{}/file", segment(id)),
                data,
                self.deadline,
            )
            .await?;
        self.image(id).await
    }

    pub async fn download_image(&self, id: &str) -> Result<ImageData> {
        let shown = self.image(id).await?;
        let response = self
            .session
            .download(
                Glance,
                &format!("v2/images/{}/file", segment(id)),
                self.deadline,
            )
            .await?;
        Ok(ImageData {
            size: shown.size,
            checksum: shown.checksum,
            response,
        })
    }

    /// The image's record as Glance shows it, every property included.
    pub async fn image_record(&self, id: &str) -> Result<Value> {
        self.get(Glance, &format!("v2/images/{}", segment(id)))
            .await
    }

    /// Creates an image record from Glance's own fields (a copy of another site's record).
    pub async fn create_image_record(&self, record: &Value) -> Result<Image> {
        Ok(image(
            &self
                .send(Glance, Method::POST, "v2/images", Some(record))
                .await?,
        ))
    }

    /// Changes an image's record with a JSON patch, as Glance's v2 API takes it.
    pub async fn patch_image(&self, id: &str, patch: &Value) -> Result<Image> {
        let headers = [(
            "content-type",
            "application/openstack-images-v2.1-json-patch".to_owned(),
        )];
        let answer = self
            .session
            .call(
                Glance,
                Method::PATCH,
                &format!("v2/images/{}", segment(id)),
                Some(patch),
                &headers,
                self.deadline,
            )
            .await?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        Ok(image(&body))
    }

    pub async fn delete_image(&self, id: &str) -> Result<()> {
        self.send(
            Glance,
            Method::DELETE,
            &format!("v2/images/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }
}
