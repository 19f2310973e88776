//! What each job kind does at one site. Every kind is idempotent: it looks before it
//! acts, so a task that runs twice (a retry, a console killed mid-call) changes the site
//! once. Deleting kinds compare the site with the job's plan (what the console saw when
//! the job was created) and leave alone anything that changed since.

use overcast_api_types::l1::{NewFlavor, NewKeypair, NewNetwork, NewProject, NewUser, QuotaUpdate};
use overcast_api_types::FieldError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::boot::ServersBoot;
use crate::federation::Kind;
use crate::images::copy::{delete_copies, is_sha512, DeleteCopies};
use crate::images::ImageCopy;
use crate::openstack::OpenStackError;
pub use crate::resources::Failure;
use crate::resources::{ResourceError, SiteOps};

/// The job kinds and their parameters.
#[derive(Debug, Clone)]
pub enum JobSpec {
    FlavorCreate(NewFlavor),
    FlavorDelete(FlavorDelete),
    ProjectCreate(NewProject),
    UserCreate(NewUser),
    QuotaSet(QuotaSet),
    KeypairCreate(NewKeypair),
    NetworkCreate(NewNetwork),
    ServersDelete(ServersDelete),
    ImageCopy(ImageCopy),
    ImageDeleteCopies(DeleteCopies),
    ServersBoot(Box<ServersBoot>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorDelete {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSet {
    /// Project name or id.
    pub project: String,
    #[serde(flatten)]
    pub limits: QuotaUpdate,
}

/// Servers to delete, by exact names or by a name prefix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServersDelete {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub name_prefix: Option<String>,
}

impl ServersDelete {
    fn matches(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
            || self
                .name_prefix
                .as_deref()
                .is_some_and(|prefix| name.starts_with(prefix))
    }
}

/// Every kind this console runs, for error messages and documentation.
pub const KINDS: [&str; 11] = [
    "flavor.create",
    "flavor.delete",
    "project.create",
    "user.create",
    "quota.set",
    "keypair.create",
    "network.create",
    "servers.delete",
    "image.copy",
    "image.delete_copies",
    "servers.boot",
];

pub type Outcome = Result<Value, Failure>;

fn parse<T: DeserializeOwned>(params: &Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        vec![FieldError::from_decoding(
            "params",
            &path,
            &e.into_inner().to_string(),
        )]
    })
}

fn require(errors: &mut Vec<FieldError>, ok: bool, field: &str, message: &str) {
    if !ok {
        errors.push(FieldError {
            field: format!("params.{field}"),
            message: message.into(),
        });
    }
}

/// Job parameters are stored with the job: every string has a bound.
const MAX_DESCRIPTION_CHARS: usize = 1000;
const MAX_SECRET_CHARS: usize = 4096;
const MAX_PUBLIC_KEY_BYTES: usize = 16 * 1024;

fn name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 255
}

impl JobSpec {
    /// Parses and checks a kind's parameters before anything is stored, so that a job
    /// never fails at a thousand sites for a typo.
    pub fn parse(kind: &str, params: &Value) -> Result<JobSpec, Vec<FieldError>> {
        let params = if params.is_null() { &json!({}) } else { params };
        let mut errors = Vec::new();
        let spec = match kind {
            "flavor.create" => {
                let new: NewFlavor = parse(params)?;
                require(
                    &mut errors,
                    name_ok(&new.name),
                    "name",
                    "must be 1-255 characters",
                );
                require(&mut errors, new.vcpus >= 1, "vcpus", "must be at least 1");
                require(&mut errors, new.ram_mb >= 1, "ram_mb", "must be at least 1");
                JobSpec::FlavorCreate(new)
            }
            "flavor.delete" => {
                let delete: FlavorDelete = parse(params)?;
                require(
                    &mut errors,
                    name_ok(&delete.name),
                    "name",
                    "must be 1-255 characters",
                );
                JobSpec::FlavorDelete(delete)
            }
            "project.create" => {
                let new: NewProject = parse(params)?;
                require(
                    &mut errors,
                    !new.name.trim().is_empty() && new.name.len() <= 64,
                    "name",
                    "must be 1-64 characters",
                );
                require(
                    &mut errors,
                    new.description.chars().count() <= MAX_DESCRIPTION_CHARS,
                    "description",
                    "must be at most 1,000 characters",
                );
                JobSpec::ProjectCreate(new)
            }
            "user.create" => {
                let new: NewUser = parse(params)?;
                require(
                    &mut errors,
                    !new.name.trim().is_empty() && new.name.len() <= 64,
                    "name",
                    "must be 1-64 characters",
                );
                require(
                    &mut errors,
                    !new.password.is_empty() && new.password.chars().count() <= MAX_SECRET_CHARS,
                    "password",
                    "must be 1-4,096 characters",
                );
                JobSpec::UserCreate(new)
            }
            "quota.set" => {
                let set: QuotaSet = parse(params)?;
                require(
                    &mut errors,
                    name_ok(&set.project),
                    "project",
                    "must name a project (1-255 characters)",
                );
                let limits = &set.limits;
                require(
                    &mut errors,
                    !(limits.compute.is_empty()
                        && limits.network.is_empty()
                        && limits.volume.is_empty()),
                    "compute",
                    "give at least one limit in compute, network or volume",
                );
                let negative = [&limits.compute, &limits.network, &limits.volume]
                    .into_iter()
                    .flatten()
                    .find(|(_, v)| **v < -1);
                if let Some((key, _)) = negative {
                    require(&mut errors, false, key, "must be -1 (unlimited) or more");
                }
                JobSpec::QuotaSet(set)
            }
            "keypair.create" => {
                let new: NewKeypair = parse(params)?;
                require(
                    &mut errors,
                    name_ok(&new.name),
                    "name",
                    "must be 1-255 characters",
                );
                require(
                    &mut errors,
                    new.public_key.split_whitespace().count() >= 2
                        && new.public_key.len() <= MAX_PUBLIC_KEY_BYTES,
                    "public_key",
                    "must be an OpenSSH public key (`ssh-ed25519 AAAA… comment`)",
                );
                JobSpec::KeypairCreate(new)
            }
            "network.create" => {
                let new: NewNetwork = parse(params)?;
                require(
                    &mut errors,
                    name_ok(&new.name),
                    "name",
                    "must be 1-255 characters",
                );
                JobSpec::NetworkCreate(new)
            }
            "servers.delete" => {
                let delete: ServersDelete = parse(params)?;
                let prefix_ok = delete.name_prefix.as_deref().is_some_and(|p| !p.is_empty());
                require(
                    &mut errors,
                    !delete.names.is_empty() || prefix_ok,
                    "names",
                    "give `names` (a list) or a non-empty `name_prefix`",
                );
                JobSpec::ServersDelete(delete)
            }
            "image.copy" => {
                let copy: ImageCopy = parse(params)?;
                require(
                    &mut errors,
                    !copy.source.site.trim().is_empty(),
                    "source.site",
                    "must name the site that holds the image",
                );
                require(
                    &mut errors,
                    !copy.source.image_id.trim().is_empty() && copy.source.image_id.len() <= 255,
                    "source.image_id",
                    "must be the image's id on its site",
                );
                JobSpec::ImageCopy(copy)
            }
            "image.delete_copies" => {
                let delete: DeleteCopies = parse(params)?;
                require(
                    &mut errors,
                    is_sha512(&delete.sha512),
                    "sha512",
                    "must be 128 hexadecimal digits",
                );
                JobSpec::ImageDeleteCopies(delete)
            }
            "servers.boot" => {
                let boot: ServersBoot = parse(params)?;
                require(
                    &mut errors,
                    name_ok(&boot.name),
                    "name",
                    "must be 1-255 characters",
                );
                require(
                    &mut errors,
                    name_ok(&boot.flavor),
                    "flavor",
                    "must name a flavor (1-255 characters)",
                );
                require(
                    &mut errors,
                    (1..=super::boot::MAX_COUNT).contains(&boot.count),
                    "count",
                    "must be 1 to 100 servers per site",
                );
                require(
                    &mut errors,
                    boot.counts
                        .values()
                        .all(|n| (1..=super::boot::MAX_COUNT).contains(n)),
                    "counts",
                    "must be 1 to 100 servers per site",
                );
                require(
                    &mut errors,
                    boot.image.is_some()
                        != boot
                            .image_name
                            .as_deref()
                            .is_some_and(|n| !n.trim().is_empty()),
                    "image",
                    "give either `image` ({\"site\", \"image_id\"}) or `image_name`",
                );
                JobSpec::ServersBoot(Box::new(boot))
            }
            other => {
                return Err(vec![FieldError {
                    field: "kind".into(),
                    message: format!(
                        "unknown job kind {other:?}; known kinds: {}",
                        KINDS.join(", ")
                    ),
                }])
            }
        };
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }

    /// The inventory a kind's plan is made from, when it deletes things.
    pub fn plan_source(&self) -> Option<Kind> {
        match self {
            JobSpec::FlavorDelete(_) => Some(Kind::Flavors),
            JobSpec::ServersDelete(_) => Some(Kind::Servers),
            _ => None,
        }
    }

    /// What the job expects to delete at a site, from what the console knows of it.
    pub fn plan(&self, items: &[Value]) -> Option<Value> {
        match self {
            JobSpec::FlavorDelete(delete) => Some(json!({
                "flavor_id": items.iter().find(|f| f["name"] == delete.name.as_str()).map(|f| f["id"].clone())
            })),
            JobSpec::ServersDelete(delete) => Some(Value::Array(
                items
                    .iter()
                    .filter(|s| s["name"].as_str().is_some_and(|n| delete.matches(n)))
                    .map(|s| json!({"id": s["id"], "name": s["name"], "status": s["status"], "updated": s["updated"]}))
                    .collect(),
            )),
            _ => None,
        }
    }

    /// The params as shown back: secrets left out.
    pub fn redact(params: &Value) -> Value {
        let mut shown = params.clone();
        if let Value::Object(map) = &mut shown {
            if map.contains_key("password") {
                map.insert("password".into(), json!("(hidden)"));
            }
        }
        shown
    }

    /// The inventory kind this job changes, if it keeps one.
    pub fn inventory_kind(&self) -> Option<Kind> {
        match self {
            JobSpec::FlavorCreate(_) | JobSpec::FlavorDelete(_) => Some(Kind::Flavors),
            JobSpec::ProjectCreate(_) => Some(Kind::Projects),
            JobSpec::UserCreate(_) => Some(Kind::Users),
            JobSpec::NetworkCreate(_) => Some(Kind::Networks),
            JobSpec::ServersDelete(_) => Some(Kind::Servers),
            JobSpec::ImageCopy(_) | JobSpec::ImageDeleteCopies(_) => Some(Kind::Images),
            JobSpec::ServersBoot(_) => Some(Kind::Servers),
            JobSpec::QuotaSet(_) | JobSpec::KeypairCreate(_) => None,
        }
    }

    /// Runs the kind once at one site.
    pub async fn execute(&self, ops: &SiteOps, plan: Option<&Value>) -> Outcome {
        match self {
            JobSpec::FlavorCreate(new) => flavor_create(ops, new).await,
            // Copies need the source site and the spool: the engine runs them through its
            // image copier.
            JobSpec::ImageCopy(_) | JobSpec::ServersBoot(_) => Err(Failure::Permanent(
                "image copies and boots run through the console's image copier".into(),
            )),
            JobSpec::FlavorDelete(delete) => flavor_delete(ops, delete, plan).await,
            JobSpec::ProjectCreate(new) => {
                if let Some(found) = ops
                    .projects()
                    .await?
                    .into_iter()
                    .find(|p| p.name == new.name)
                {
                    return Ok(json!({"outcome": "already_present", "id": found.id}));
                }
                Ok(json!({"outcome": "created", "id": ops.create_project(new).await?.id}))
            }
            JobSpec::UserCreate(new) => {
                if let Some(found) = ops.users().await?.into_iter().find(|u| u.name == new.name) {
                    // The password is not compared (Keystone never shows it) nor reset.
                    return Ok(json!({"outcome": "already_present", "id": found.id}));
                }
                Ok(json!({"outcome": "created", "id": ops.create_user(new).await?.id}))
            }
            JobSpec::QuotaSet(set) => {
                // Setting a limit is idempotent by nature.
                let quotas = ops.update_quotas(&set.project, &set.limits).await?;
                Ok(json!({"outcome": "set", "project_id": quotas.project_id}))
            }
            JobSpec::KeypairCreate(new) => {
                if let Some(found) = ops
                    .keypairs()
                    .await?
                    .into_iter()
                    .find(|k| k.name == new.name)
                {
                    return if same_key(&found.public_key, &new.public_key) {
                        Ok(json!({"outcome": "already_present", "fingerprint": found.fingerprint}))
                    } else {
                        Err(Failure::Permanent(format!(
                            "a keypair named {:?} already exists here with another public key; left unchanged",
                            new.name
                        )))
                    };
                }
                let created = ops.create_keypair(new).await?;
                Ok(json!({"outcome": "created", "fingerprint": created.fingerprint}))
            }
            JobSpec::NetworkCreate(new) => {
                if let Some(found) = ops
                    .networks()
                    .await?
                    .into_iter()
                    .find(|n| n.name == new.name)
                {
                    return Ok(json!({"outcome": "already_present", "id": found.id}));
                }
                Ok(json!({"outcome": "created", "id": ops.create_network(new).await?.id}))
            }
            JobSpec::ServersDelete(delete) => servers_delete(ops, delete, plan).await,
            JobSpec::ImageDeleteCopies(delete) => delete_copies(ops, delete).await,
        }
    }
}

/// OpenSSH keys compare by type and key material; the comment may differ.
fn same_key(a: &str, b: &str) -> bool {
    let material = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    material(a) == material(b)
}

async fn flavor_create(ops: &SiteOps, new: &NewFlavor) -> Outcome {
    let same_spec = |f: &overcast_api_types::l1::Flavor| {
        f.vcpus == new.vcpus && f.ram_mb == new.ram_mb && f.disk_gb == new.disk_gb
    };
    let existing = ops
        .flavors()
        .await?
        .into_iter()
        .find(|f| f.name == new.name);
    match existing {
        Some(found) if same_spec(&found) => {
            Ok(json!({"outcome": "already_present", "id": found.id}))
        }
        Some(found) => Err(Failure::Permanent(format!(
            "a flavor named {:?} already exists here with {} vCPUs, {} MB RAM, {} GB disk; left unchanged",
            found.name, found.vcpus, found.ram_mb, found.disk_gb
        ))),
        None => match ops.create_flavor(new).await {
            Ok(created) => Ok(json!({"outcome": "created", "id": created.id})),
            Err(ResourceError::Site(OpenStackError::Api { status: 409, message, .. })) => {
                Err(Failure::Permanent(format!(
                    "the site refused the flavor as a duplicate (a private flavor of that name or id?): {message}"
                )))
            }
            Err(other) => Err(other.into()),
        },
    }
}

async fn flavor_delete(ops: &SiteOps, delete: &FlavorDelete, plan: Option<&Value>) -> Outcome {
    let Some(found) = ops
        .flavors()
        .await?
        .into_iter()
        .find(|f| f.name == delete.name)
    else {
        return Ok(json!({"outcome": "already_absent"}));
    };
    let planned = plan.and_then(|p| p["flavor_id"].as_str());
    if let Some(planned) = planned {
        if planned != found.id {
            return Err(Failure::Permanent(format!(
                "flavor {:?} here is not the one the job was planned against (id {} now, {planned} then): \
                 it was re-created meanwhile, so it was left in place",
                delete.name, found.id
            )));
        }
    }
    match ops.delete_flavor(&found.id).await {
        Ok(()) => Ok(json!({"outcome": "deleted", "id": found.id})),
        Err(ResourceError::Site(OpenStackError::Api { status: 404, .. })) => {
            Ok(json!({"outcome": "already_absent"}))
        }
        Err(other) => Err(other.into()),
    }
}

async fn servers_delete(ops: &SiteOps, delete: &ServersDelete, plan: Option<&Value>) -> Outcome {
    let planned = plan.and_then(Value::as_array);
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for server in ops
        .servers()
        .await?
        .into_iter()
        .filter(|s| delete.matches(&s.name))
    {
        if let Some(planned) = planned {
            let seen = planned.iter().find(|p| p["id"] == server.id.as_str());
            // Nova's `updated` has one-second precision; the status catches what
            // happened within the same second.
            let unchanged = seen.is_some_and(|p| {
                p["updated"].as_str() == server.updated.as_deref()
                    && p["status"] == server.status.as_str()
            });
            if !unchanged {
                let why = if seen.is_none() {
                    "appeared after the job was created"
                } else {
                    "changed after the job was created"
                };
                kept.push(format!("{} ({}) {why}", server.name, server.id));
                continue;
            }
        }
        match ops.delete_server(&server.id).await {
            Ok(()) => deleted.push(server.id),
            Err(ResourceError::Site(OpenStackError::Api { status: 404, .. })) => {}
            Err(other) => return Err(other.into()),
        }
    }
    if kept.is_empty() {
        Ok(json!({"outcome": "deleted", "ids": deleted}))
    } else {
        Err(Failure::Permanent(format!(
            "kept {} server(s) that the job did not see as they are now: {}; deleted {}",
            kept.len(),
            kept.join(", "),
            deleted.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_before_anything_is_stored() {
        let ok = JobSpec::parse(
            "flavor.create",
            &json!({"name": "m1.edge", "vcpus": 2, "ram_mb": 2048, "disk_gb": 20}),
        );
        assert!(matches!(ok, Ok(JobSpec::FlavorCreate(_))));
        let zero = JobSpec::parse(
            "flavor.create",
            &json!({"name": "m1.edge", "vcpus": 0, "ram_mb": 2048, "disk_gb": 20}),
        );
        assert_eq!(
            zero.err().map(|e| e[0].field.clone()),
            Some("params.vcpus".into())
        );
        let typo = JobSpec::parse(
            "flavor.create",
            &json!({"name": "x", "vcpus": "two", "ram_mb": 1, "disk_gb": 1}),
        );
        assert_eq!(
            typo.err().map(|e| e[0].field.clone()),
            Some("params.vcpus".into())
        );
        let unknown = JobSpec::parse("flavor.resize", &json!({}));
        assert_eq!(
            unknown.err().map(|e| e[0].field.clone()),
            Some("kind".into())
        );
        assert!(JobSpec::parse(
            "quota.set",
            &json!({"project": "p", "compute": {"cores": 8}})
        )
        .is_ok());
        let misspelled = JobSpec::parse(
            "quota.set",
            &json!({"project": "p", "compte": {"cores": 8}}),
        );
        assert_eq!(
            misspelled.err().map(|e| e[0].field.clone()),
            Some("params.compte".into())
        );
        let long = JobSpec::parse(
            "project.create",
            &json!({"name": "p", "description": "d".repeat(1001)}),
        );
        assert_eq!(
            long.err().map(|e| e[0].field.clone()),
            Some("params.description".into())
        );
        assert!(JobSpec::parse("servers.delete", &json!({})).is_err());
        assert!(JobSpec::parse("servers.delete", &json!({"name_prefix": ""})).is_err());
        assert!(JobSpec::parse(
            "quota.set",
            &json!({"project": "p", "compute": {"cores": -5}})
        )
        .is_err());
        assert!(JobSpec::parse(
            "quota.set",
            &json!({"project": "p", "compute": {"cores": 40}})
        )
        .is_ok());
    }

    #[test]
    fn plans_record_what_a_delete_expects_to_find() {
        let spec = JobSpec::parse("servers.delete", &json!({"name_prefix": "ci-"}))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let servers = [
            json!({"id": "1", "name": "ci-1", "updated": "t1"}),
            json!({"id": "2", "name": "web", "updated": "t2"}),
        ];
        assert_eq!(
            spec.plan(&servers),
            Some(json!([{"id": "1", "name": "ci-1", "status": null, "updated": "t1"}]))
        );
        let spec = JobSpec::parse("flavor.delete", &json!({"name": "m1"}))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            spec.plan(&[json!({"id": "f1", "name": "m1"})]),
            Some(json!({"flavor_id": "f1"}))
        );
        assert_eq!(spec.plan(&[]), Some(json!({"flavor_id": null})));
    }

    #[test]
    fn site_errors_decide_between_waiting_retrying_and_failing() {
        let unreachable = ResourceError::Site(OpenStackError::Unreachable("refused".into()));
        assert!(matches!(
            Failure::from(unreachable),
            Failure::Unreachable(_)
        ));
        let busy = ResourceError::Site(OpenStackError::Api {
            service: "compute",
            status: 503,
            message: "busy".into(),
            fault: None,
        });
        assert!(matches!(Failure::from(busy), Failure::Transient(_)));
        let refused = ResourceError::Site(OpenStackError::Api {
            service: "compute",
            status: 400,
            message: "bad".into(),
            fault: None,
        });
        assert!(matches!(Failure::from(refused), Failure::Permanent(_)));
        let no_network = ResourceError::Site(OpenStackError::Api {
            service: "network",
            status: 503,
            message:
                "Unable to create the network. No project network is available for allocation."
                    .into(),
            fault: Some("NoNetworkAvailable".into()),
        });
        assert!(matches!(Failure::from(no_network), Failure::Permanent(_)));
        let refused = ResourceError::Site(OpenStackError::Api {
            service: "compute",
            status: 400,
            message: "bad".into(),
            fault: None,
        });
        assert!(matches!(Failure::from(refused), Failure::Permanent(_)));
    }

    #[test]
    fn passwords_are_not_shown_back() {
        let shown = JobSpec::redact(&json!({"name": "u", "password": "s3cret"}));
        assert_eq!(shown, json!({"name": "u", "password": "(hidden)"}));
    }

    #[test]
    fn keys_compare_without_their_comment() {
        assert!(same_key("ssh-ed25519 AAAA one@a", "ssh-ed25519 AAAA two@b"));
        assert!(!same_key("ssh-ed25519 AAAA", "ssh-ed25519 BBBB"));
    }
}
