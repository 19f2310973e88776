//! `servers.boot` at one site: the image made present (found by its content, or copied
//! from the site that holds it), then the servers booted and followed until they run.

use std::collections::BTreeMap;
use std::time::Duration;

use overcast_api_types::images::ImageRef;
use overcast_api_types::l1::{NewServer, ServerNetworks};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::images::{ImageCopier, ImageCopy, Sent};
use crate::resources::{Failure, SiteOps};

/// Most servers one task boots at one site.
pub const MAX_COUNT: u32 = 100;
/// Nova moves a server out of BUILD within minutes on a healthy site.
const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const POLL_EVERY: Duration = Duration::from_secs(1);

/// `servers.boot`'s parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServersBoot {
    pub name: String,
    pub flavor: String,
    /// The image on the site that holds it.
    #[serde(default)]
    pub image: Option<ImageRef>,
    /// An image name, looked for on each target first.
    #[serde(default)]
    pub image_name: Option<String>,
    /// Where an image of that name was found when the job was created, for targets that
    /// lack one.
    #[serde(default)]
    pub image_source: Option<ImageRef>,
    #[serde(default = "one")]
    pub count: u32,
    /// Servers per site where a plan gave each its own number; `count` elsewhere.
    #[serde(default)]
    pub counts: BTreeMap<String, u32>,
    #[serde(default)]
    pub networks: Option<ServerNetworks>,
    #[serde(default)]
    pub key_name: Option<String>,
}

fn one() -> u32 {
    1
}

impl ServersBoot {
    /// The servers' names at a site: the name itself for one, `name-1`… for more.
    pub fn names_at(&self, site: &str) -> Vec<String> {
        match self.counts.get(site).copied().unwrap_or(self.count) {
            1 => vec![self.name.clone()],
            n => (1..=n).map(|i| format!("{}-{i}", self.name)).collect(),
        }
    }
}

/// Boots the job's servers at the site `ops` works on; servers of those names already
/// there are kept, not doubled.
pub async fn boot(
    ops: &SiteOps,
    spec: &ServersBoot,
    images: &ImageCopier,
    sent: impl Fn(Sent) + Send + Sync + 'static,
) -> Result<Value, Failure> {
    let (image_id, image_outcome) = image_at(ops, spec, images, sent).await?;
    let present = ops.servers().await?;
    let mut booted = Vec::new();
    for name in spec.names_at(&ops.site) {
        let id = match present.iter().find(|s| s.name == name) {
            Some(server) => server.id.clone(),
            None => {
                let new = NewServer {
                    name: name.clone(),
                    flavor: spec.flavor.clone(),
                    image: image_id.clone(),
                    networks: spec.networks.clone(),
                    key_name: spec.key_name.clone(),
                };
                ops.create_server(&new).await?.id
            }
        };
        booted.push(id);
    }
    let servers = follow_until_running(ops, &booted).await?;
    Ok(
        json!({"outcome": "booted", "image": image_outcome, "image_id": image_id, "servers": servers}),
    )
}

/// The target's id of the image to boot, and how it got there.
async fn image_at(
    ops: &SiteOps,
    spec: &ServersBoot,
    images: &ImageCopier,
    sent: impl Fn(Sent) + Send + Sync + 'static,
) -> Result<(String, &'static str), Failure> {
    let source = match (&spec.image, &spec.image_name) {
        (Some(source), _) => source.clone(),
        (None, Some(name)) => {
            let found = ops
                .images()
                .await?
                .into_iter()
                .find(|i| i.status == "active" && i.name.as_deref() == Some(name.as_str()));
            if let Some(image) = found {
                return Ok((image.id, "present"));
            }
            spec.image_source.clone().ok_or_else(|| {
                Failure::Permanent(format!(
                    "no active image named {name:?} here, and none on any site the console knew of when the job began"
                ))
            })?
        }
        (None, None) => return Err(Failure::Permanent("no image given".into())),
    };
    let copied = images.copy(ops, &ImageCopy { source }, sent).await?;
    let id = copied["image_id"].as_str().unwrap_or_default().to_owned();
    let outcome = match copied["outcome"].as_str() {
        Some("copied") => "copied",
        Some("is_source") => "source",
        _ => "present",
    };
    Ok((id, outcome))
}

/// Waits for every server to leave BUILD: ACTIVE is done, ERROR fails the task with
/// Nova's fault.
async fn follow_until_running(ops: &SiteOps, ids: &[String]) -> Result<Vec<Value>, Failure> {
    let until = tokio::time::Instant::now() + BUILD_TIMEOUT;
    let mut shown = Vec::new();
    for id in ids {
        loop {
            let server = ops.server(id).await?;
            match server.status.as_str() {
                "ACTIVE" => {
                    shown.push(
                        json!({"id": server.id, "name": server.name, "status": server.status}),
                    );
                    break;
                }
                "ERROR" => {
                    return Err(Failure::Permanent(format!(
                        "server {} went to ERROR: {}",
                        server.name,
                        server.fault.as_deref().unwrap_or("Nova gave no reason")
                    )))
                }
                _ if tokio::time::Instant::now() >= until => {
                    return Err(Failure::Transient(format!(
                        "server {} still {} after {} min",
                        server.name,
                        server.status,
                        BUILD_TIMEOUT.as_secs() / 60
                    )))
                }
                _ => tokio::time::sleep(POLL_EVERY).await,
            }
        }
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_keeps_its_name_and_more_are_numbered() {
        let mut spec: ServersBoot = serde_json::from_value(
            json!({"name": "web", "flavor": "m1.small", "image_name": "cirros"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.names_at("a"), vec!["web"]);
        spec.count = 3;
        assert_eq!(spec.names_at("a"), vec!["web-1", "web-2", "web-3"]);
        spec.counts.insert("b".into(), 2);
        assert_eq!(
            spec.names_at("b"),
            vec!["web-1", "web-2"],
            "a plan's count for b"
        );
    }
}
