//! `servers.boot` at one site: the image made present (found by its content, or copied
//! from the site that holds it), then the servers booted and followed until they run.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use overcast_api_types::images::ImageRef;
use overcast_api_types::l1::{NewServer, ServerNetworks};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::images::{ImageCopier, ImageCopy, Sent};
use crate::openstack::OpenStackError;
use crate::resources::{Failure, ResourceError, SiteOps};

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
    /// How the console chose the sites, for a boot it placed: servers a site has no room
    /// for are placed again the same way.
    #[serde(default)]
    pub placement: Option<Placed>,
    /// The servers' names per site, where the caller chose them (a deployment does).
    #[serde(default)]
    pub names: BTreeMap<String, Vec<String>>,
    /// Nova metadata every server gets (a deployment's marks its servers as its own).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A placed boot's policy and constraints, and the sites its creator may use (none
/// listed: every site).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placed {
    pub policy: String,
    #[serde(default)]
    pub constraints: overcast_api_types::placement::Constraints,
    #[serde(default)]
    pub sites: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

impl ServersBoot {
    /// The servers' names at a site: the name itself for one, `name-1`… for more.
    pub fn names_at(&self, site: &str) -> Vec<String> {
        self.names_for(site, None)
    }

    /// The servers' names at a site: those a task names (a rescheduled one keeps the
    /// names its servers had), else as [`ServersBoot::names_at`].
    pub fn names_for(&self, site: &str, named: Option<&[String]>) -> Vec<String> {
        if let Some(names) = named.or_else(|| self.names.get(site).map(Vec::as_slice)) {
            return names.to_vec();
        }
        match self.counts.get(site).copied().unwrap_or(self.count) {
            1 => vec![self.name.clone()],
            n => (1..=n).map(|i| format!("{}-{i}", self.name)).collect(),
        }
    }
}

/// Most times the servers of a placed boot are placed again after a site had no room.
pub const MAX_MOVES: u32 = 3;

/// Finds room elsewhere for servers a site could not take: the placement's part in a
/// boot it placed, behind a trait so that jobs do not depend on placement.
pub trait Rescheduler: Send + Sync {
    /// Sites outside `tried` with room for `count` servers of `spec`, with how many each,
    /// held for `job` as a launched plan is; or why there are none.
    fn elsewhere<'a>(
        &'a self,
        job: &'a str,
        spec: &'a ServersBoot,
        count: u32,
        tried: &'a [String],
    ) -> Placing<'a>;
}

/// Sites with how many servers each, or why there are none.
pub type Placing<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<(String, u32)>, String>> + Send + 'a>>;

/// What a boot at one site came to.
#[derive(Debug)]
pub struct Booted {
    /// The servers running here, the image used and how it got here.
    pub result: Value,
    /// Servers the site had no room for, with a placed boot only: already deleted here,
    /// for the placement to put elsewhere.
    pub short: Option<Shortfall>,
}

/// Servers a site could not take: Nova found no valid host for them, or the project's
/// quota refused them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub names: Vec<String>,
    /// The first refusal, in the site's words.
    pub reason: String,
}

/// Boots the job's servers at the site `ops` works on (those `named` where the task
/// names them, as a rescheduled one does); servers of those names already there are
/// kept, not doubled. With a placed boot, servers the site has no room for are a
/// [`Shortfall`], not a failure: the placement may find room elsewhere.
pub async fn boot(
    ops: &SiteOps,
    spec: &ServersBoot,
    named: Option<&[String]>,
    images: &ImageCopier,
    sent: impl Fn(Sent) + Send + Sync + 'static,
) -> Result<Booted, Failure> {
    let (image_id, image_outcome) = image_at(ops, spec, images, sent).await?;
    let present = ops.servers().await?;
    let movable = spec.placement.is_some();
    let mut created = Vec::new();
    let mut short = Vec::new();
    for name in spec.names_for(&ops.site, named) {
        let id = match present.iter().find(|s| s.name == name) {
            Some(server) => server.id.clone(),
            None => {
                let new = NewServer {
                    name: name.clone(),
                    flavor: spec.flavor.clone(),
                    image: image_id.clone(),
                    networks: spec.networks.clone(),
                    key_name: spec.key_name.clone(),
                    metadata: spec.metadata.clone(),
                };
                match ops.create_server(&new).await {
                    Ok(server) => server.id,
                    Err(error) if movable && is_quota_refusal(&error) => {
                        short.push((name, error.to_string()));
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        };
        created.push((name, id));
    }
    let mut running = Vec::new();
    let ids: Vec<String> = created.iter().map(|(_, id)| id.clone()).collect();
    for ((name, _), server) in created
        .into_iter()
        .zip(follow_until_built(ops, &ids).await?)
    {
        match server {
            Built::Active(shown) => running.push(shown),
            Built::NoRoom { id, fault } if movable => {
                // Nova keeps a server in ERROR, and counts it against the quota, until
                // it is deleted.
                ops.delete_server(&id).await?;
                short.push((name, fault));
            }
            Built::NoRoom { fault, .. } | Built::Error { fault, .. } => {
                return Err(Failure::Permanent(fault))
            }
        }
    }
    let shortfall = short.first().map(|(_, reason)| Shortfall {
        reason: reason.clone(),
        names: short.iter().map(|(name, _)| name.clone()).collect(),
    });
    Ok(Booted {
        result: json!({"outcome": "booted", "image": image_outcome, "image_id": image_id, "servers": running}),
        short: shortfall,
    })
}

/// Nova refuses a server over the project's quota with 403 (413 before 2.x).
fn is_quota_refusal(error: &ResourceError) -> bool {
    matches!(
        error,
        ResourceError::Site(OpenStackError::Api { service: "compute", status: 403 | 413, message, .. })
            if message.to_ascii_lowercase().contains("quota exceeded")
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

/// How a server left BUILD.
enum Built {
    Active(Value),
    /// ERROR because no host had room: Nova's scheduler said "No valid host".
    NoRoom {
        id: String,
        fault: String,
    },
    Error {
        fault: String,
    },
}

/// Waits for every server to leave BUILD.
async fn follow_until_built(ops: &SiteOps, ids: &[String]) -> Result<Vec<Built>, Failure> {
    let until = tokio::time::Instant::now() + BUILD_TIMEOUT;
    let mut built = Vec::new();
    for id in ids {
        loop {
            let server = ops.server(id).await?;
            match server.status.as_str() {
                "ACTIVE" => {
                    built.push(Built::Active(
                        json!({"id": server.id, "name": server.name, "status": server.status}),
                    ));
                    break;
                }
                "ERROR" => {
                    let why = server.fault.as_deref().unwrap_or("Nova gave no reason");
                    let fault = format!("server {} went to ERROR: {why}", server.name);
                    built.push(if why.contains("No valid host") {
                        Built::NoRoom {
                            id: server.id,
                            fault,
                        }
                    } else {
                        Built::Error { fault }
                    });
                    break;
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
    Ok(built)
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
