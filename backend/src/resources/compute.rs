use overcast_api_types::l1::{
    ComputeService, ConsoleLog, Flavor, Hypervisor, Keypair, NetworkMode, NewFlavor, NewKeypair,
    NewServer, Server, ServerAction, ServerEvent, ServerFlavor, ServerNetworks,
};
use reqwest::Method;
use serde_json::{json, Value};

use super::{array, is_not_found, number, object, segment, text, ResourceError, Result, SiteOps};
use crate::openstack::OpenStackError;
use crate::openstack::ServiceType::{Compute, Image};

fn server(value: &Value) -> Server {
    let flavor = &value["flavor"];
    let addresses = value
        .get("addresses")
        .and_then(Value::as_object)
        .map(|networks| {
            networks
                .iter()
                .map(|(network, entries)| {
                    let ips = entries
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| text(e, "addr"))
                        .collect();
                    (network.clone(), ips)
                })
                .collect()
        })
        .unwrap_or_default();
    Server {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        status: text(value, "status").unwrap_or_else(|| "UNKNOWN".into()),
        flavor: ServerFlavor {
            id: text(flavor, "id"),
            name: text(flavor, "original_name"),
            vcpus: number(flavor, "vcpus").map(|v| v as u32),
            ram_mb: number(flavor, "ram"),
            disk_gb: number(flavor, "disk"),
        },
        // Nova shows "" for servers booted from a volume.
        image_id: value.get("image").and_then(|i| text(i, "id")),
        addresses,
        key_name: text(value, "key_name"),
        project_id: text(value, "tenant_id"),
        created: text(value, "created"),
        updated: text(value, "updated"),
        fault: value.get("fault").and_then(|f| text(f, "message")),
        volumes: value
            .get("os-extended-volumes:volumes_attached")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| text(v, "id"))
            .collect(),
        metadata: value
            .get("metadata")
            .and_then(Value::as_object)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A time as Nova writes it (`2018-04-25T01:26:36.036697`, UTC without a zone) in RFC 3339.
fn utc(time: Option<String>) -> Option<String> {
    time.map(|t| {
        let zoned = t.ends_with('Z')
            || t.rsplit_once('T')
                .is_some_and(|(_, clock)| clock.contains('+') || clock.contains('-'));
        if zoned {
            t
        } else {
            format!("{t}Z")
        }
    })
}

fn server_event(value: &Value) -> ServerEvent {
    ServerEvent {
        action: text(value, "action").unwrap_or_default(),
        request_id: text(value, "request_id").unwrap_or_default(),
        start_time: utc(text(value, "start_time")),
        updated_at: utc(text(value, "updated_at")),
        user_id: text(value, "user_id"),
        message: text(value, "message"),
    }
}

/// Lines of a console log asked for at most: the tail is what an operator reads.
pub const CONSOLE_LOG_LINES: u32 = 200;

fn flavor(value: &Value) -> Flavor {
    Flavor {
        id: text(value, "id").unwrap_or_default(),
        name: text(value, "name").unwrap_or_default(),
        vcpus: number(value, "vcpus").unwrap_or(0) as u32,
        ram_mb: number(value, "ram").unwrap_or(0),
        disk_gb: number(value, "disk").unwrap_or(0),
        is_public: value
            .get("os-flavor-access:is_public")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    }
}

fn keypair(value: &Value) -> Keypair {
    let inner = value.get("keypair").unwrap_or(value);
    Keypair {
        name: text(inner, "name").unwrap_or_default(),
        fingerprint: text(inner, "fingerprint").unwrap_or_default(),
        public_key: text(inner, "public_key").unwrap_or_default(),
        kind: text(inner, "type").unwrap_or_else(|| "ssh".into()),
    }
}

impl SiteOps {
    pub async fn servers(&self) -> Result<Vec<Server>> {
        Ok(self
            .list_all(Compute, "servers/detail", "servers")
            .await?
            .iter()
            .map(server)
            .collect())
    }

    /// Servers created, changed or deleted (status `DELETED`) since `since` (RFC 3339),
    /// Nova's `changes-since`: what an incremental refresh needs.
    pub async fn servers_changed_since(&self, since: &str) -> Result<Vec<Server>> {
        Ok(self
            .list_all(
                Compute,
                &format!("servers/detail?changes-since={}", segment(since)),
                "servers",
            )
            .await?
            .iter()
            .map(server)
            .collect())
    }

    pub async fn server(&self, id: &str) -> Result<Server> {
        let body: Value = self
            .get(Compute, &format!("servers/{}", segment(id)))
            .await?;
        Ok(server(object(&body, "server", "compute")?))
    }

    /// Creates a server; flavor and image may be given by id or by name.
    pub async fn create_server(&self, new: &NewServer) -> Result<Server> {
        if new.name.trim().is_empty() {
            return Err(ResourceError::invalid("name", "must not be empty"));
        }
        let flavor_id = self.resolve_flavor(&new.flavor).await?;
        let image_id = self.resolve_image(&new.image).await?;
        let mut body =
            json!({"server": {"name": new.name, "flavorRef": flavor_id, "imageRef": image_id}});
        if let Some(networks) = self.nova_networks(new.networks.as_ref()).await? {
            body["server"]["networks"] = networks;
        }
        if let Some(key) = &new.key_name {
            body["server"]["key_name"] = json!(key);
        }
        if !new.metadata.is_empty() {
            body["server"]["metadata"] = json!(new.metadata);
        }
        let created = self
            .send(Compute, Method::POST, "servers", Some(&body))
            .await?;
        let id = text(object(&created, "server", "compute")?, "id").unwrap_or_default();
        self.server(&id).await
    }

    /// Nova's `networks` for a new server. `"auto"` is refused before Nova is asked when
    /// the site's Neutron cannot allocate a network (no `auto-allocated-topology`): Nova
    /// would answer 500. Below microversion 2.37 Nova takes neither `"auto"` nor `"none"`.
    async fn nova_networks(&self, wanted: Option<&ServerNetworks>) -> Result<Option<Value>> {
        let (_, max) = self.session.compute_versions(self.deadline).await?;
        let modes_known = max >= (2, 37);
        match wanted.unwrap_or(&ServerNetworks::Mode(NetworkMode::Auto)) {
            ServerNetworks::Attach(list) => list
                .iter()
                .map(|a| match (&a.network, &a.port, &a.fixed_ip) {
                    (None, Some(port), None) => Ok(json!({"port": port})),
                    (Some(network), None, Some(ip)) => Ok(json!({"uuid": network, "fixed_ip": ip})),
                    (Some(network), None, None) => Ok(json!({"uuid": network})),
                    _ => Err(ResourceError::invalid(
                        "networks",
                        "each entry names a network (with or without a fixed_ip) or a port",
                    )),
                })
                .collect::<Result<Vec<_>>>()
                .map(|list| Some(Value::Array(list))),
            ServerNetworks::Mode(NetworkMode::None) if modes_known => Ok(Some(json!("none"))),
            ServerNetworks::Mode(NetworkMode::None) => Err(ResourceError::invalid(
                "networks",
                format!(
                    "site {}'s Nova (up to microversion {}.{}) cannot boot a server without a network; give a list of networks",
                    self.site, max.0, max.1
                ),
            )),
            ServerNetworks::Mode(NetworkMode::Auto) => {
                if !self.can_allocate_networks().await? {
                    return Err(ResourceError::invalid(
                        "networks",
                        format!(
                            "site {} cannot allocate a network by itself (its Neutron has no auto-allocated-topology extension): give \"none\" or a list of {{\"network\": id}} or {{\"port\": id}}",
                            self.site
                        ),
                    ));
                }
                Ok(modes_known.then(|| json!("auto")))
            }
        }
    }

    /// Whether `"networks": "auto"` can work here. A site without Neutron leaves the
    /// choice to Nova.
    pub async fn can_allocate_networks(&self) -> Result<bool> {
        match self.session.network_extensions(self.deadline).await {
            Ok(aliases) => Ok(aliases.contains(crate::openstack::AUTO_ALLOCATION_EXTENSION)),
            Err(OpenStackError::MissingService(_)) => Ok(true),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn delete_server(&self, id: &str) -> Result<()> {
        self.send(
            Compute,
            Method::DELETE,
            &format!("servers/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn server_action(&self, id: &str, action: ServerAction) -> Result<()> {
        let body = match action {
            ServerAction::Start => json!({"os-start": null}),
            ServerAction::Stop => json!({"os-stop": null}),
            ServerAction::Reboot => json!({"reboot": {"type": "SOFT"}}),
        };
        self.send(
            Compute,
            Method::POST,
            &format!("servers/{}/action", segment(id)),
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// What was done to a server, newest first: Nova's instance actions.
    pub async fn server_events(&self, id: &str) -> Result<Vec<ServerEvent>> {
        let body: Value = self
            .get(
                Compute,
                &format!("servers/{}/os-instance-actions", segment(id)),
            )
            .await?;
        let mut events: Vec<ServerEvent> = array(&body, "instanceActions", "compute")?
            .iter()
            .map(server_event)
            .collect();
        events.sort_by(|a, b| b.start_time.cmp(&a.start_time));
        Ok(events)
    }

    /// The last `lines` lines of a server's console (`os-getConsoleOutput`). Nova answers
    /// 409 while the server has no host, 501 where its driver keeps no console log and
    /// 404 where the console is not available: those are an answer without output.
    pub async fn console_log(&self, id: &str, lines: u32) -> Result<ConsoleLog> {
        let body = json!({"os-getConsoleOutput": {"length": lines}});
        let path = format!("servers/{}/action", segment(id));
        match self.send(Compute, Method::POST, &path, Some(&body)).await {
            Ok(answer) => Ok(ConsoleLog {
                output: Some(text(&answer, "output").unwrap_or_default()),
                unavailable: None,
            }),
            Err(ResourceError::Site(OpenStackError::Api {
                status: status @ (404 | 409 | 501),
                message,
                ..
            })) => {
                if status == 404 {
                    // The server itself may be gone: that stays a 404.
                    self.server(id).await?;
                }
                Ok(ConsoleLog {
                    output: None,
                    unavailable: Some(message),
                })
            }
            Err(other) => Err(other),
        }
    }

    /// A flavor by id or, as Nova does not look names up, by its unique name.
    pub async fn find_flavor(&self, wanted: &str) -> Result<Flavor> {
        match self.flavor(wanted).await {
            Err(e) if is_not_found(&e) => {}
            other => return other,
        }
        let mut matches: Vec<Flavor> = self
            .flavors()
            .await?
            .into_iter()
            .filter(|f| f.name == wanted)
            .collect();
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(ResourceError::NotFound(format!(
                "no flavor {wanted:?} on site {}",
                self.site
            ))),
            _ => Err(ResourceError::invalid(
                "flavor",
                format!("several flavors are named {wanted:?}; give the id"),
            )),
        }
    }

    async fn resolve_flavor(&self, wanted: &str) -> Result<String> {
        match self.find_flavor(wanted).await {
            Ok(found) => Ok(found.id),
            Err(ResourceError::NotFound(message)) => Err(ResourceError::invalid("flavor", message)),
            Err(other) => Err(other),
        }
    }

    async fn resolve_image(&self, wanted: &str) -> Result<String> {
        match self
            .get::<Value>(Image, &format!("v2/images/{}", segment(wanted)))
            .await
        {
            Ok(found) => return Ok(text(&found, "id").unwrap_or_default()),
            Err(e) if !is_not_found(&e) => return Err(e),
            Err(_) => {}
        }
        let listed: Value = self
            .get(Image, &format!("v2/images?name={}", segment(wanted)))
            .await?;
        let ids: Vec<String> = array(&listed, "images", "image")?
            .iter()
            .filter_map(|i| text(i, "id"))
            .collect();
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ResourceError::invalid(
                "image",
                format!("no image {wanted:?} on site {}", self.site),
            )),
            _ => Err(ResourceError::invalid(
                "image",
                format!("several images are named {wanted:?}; give the id"),
            )),
        }
    }

    pub async fn flavors(&self) -> Result<Vec<Flavor>> {
        let body = json!({"flavors": self.list_all(Compute, "flavors/detail", "flavors").await?});
        Ok(array(&body, "flavors", "compute")?
            .iter()
            .map(flavor)
            .collect())
    }

    pub async fn flavor(&self, id: &str) -> Result<Flavor> {
        let body: Value = self
            .get(Compute, &format!("flavors/{}", segment(id)))
            .await?;
        Ok(flavor(object(&body, "flavor", "compute")?))
    }

    pub async fn create_flavor(&self, new: &NewFlavor) -> Result<Flavor> {
        let mut errors = Vec::new();
        if new.name.trim().is_empty() || new.name.len() > 255 {
            errors.push(overcast_api_types::FieldError {
                field: "name".into(),
                message: "must be 1-255 characters".into(),
            });
        }
        if new.vcpus == 0 {
            errors.push(overcast_api_types::FieldError {
                field: "vcpus".into(),
                message: "must be at least 1".into(),
            });
        }
        if new.ram_mb == 0 {
            errors.push(overcast_api_types::FieldError {
                field: "ram_mb".into(),
                message: "must be at least 1".into(),
            });
        }
        if !errors.is_empty() {
            return Err(ResourceError::Invalid(errors));
        }
        let mut body = json!({"flavor": {"name": new.name, "vcpus": new.vcpus, "ram": new.ram_mb, "disk": new.disk_gb,
                                         "os-flavor-access:is_public": new.is_public}});
        if let Some(id) = &new.id {
            body["flavor"]["id"] = json!(id);
        }
        let created = self
            .send(Compute, Method::POST, "flavors", Some(&body))
            .await?;
        Ok(flavor(object(&created, "flavor", "compute")?))
    }

    pub async fn delete_flavor(&self, id: &str) -> Result<()> {
        self.send(
            Compute,
            Method::DELETE,
            &format!("flavors/{}", segment(id)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn keypairs(&self) -> Result<Vec<Keypair>> {
        let body = json!({"keypairs": self.list_all(Compute, "os-keypairs", "keypairs").await?});
        Ok(array(&body, "keypairs", "compute")?
            .iter()
            .map(keypair)
            .collect())
    }

    pub async fn keypair(&self, name: &str) -> Result<Keypair> {
        let body: Value = self
            .get(Compute, &format!("os-keypairs/{}", segment(name)))
            .await?;
        Ok(keypair(&body))
    }

    pub async fn create_keypair(&self, new: &NewKeypair) -> Result<Keypair> {
        if new.public_key.split_whitespace().count() < 2 {
            return Err(ResourceError::invalid(
                "public_key",
                "must be an OpenSSH public key (`ssh-ed25519 AAAA… comment`)",
            ));
        }
        let body = json!({"keypair": {"name": new.name, "public_key": new.public_key}});
        Ok(keypair(
            &self
                .send(Compute, Method::POST, "os-keypairs", Some(&body))
                .await?,
        ))
    }

    pub async fn delete_keypair(&self, name: &str) -> Result<()> {
        self.send(
            Compute,
            Method::DELETE,
            &format!("os-keypairs/{}", segment(name)),
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn hypervisors(&self) -> Result<Vec<Hypervisor>> {
        let body = json!({"hypervisors": self.list_all(Compute, "os-hypervisors/detail", "hypervisors").await?});
        Ok(array(&body, "hypervisors", "compute")?
            .iter()
            .map(|h| Hypervisor {
                id: h
                    .get("id")
                    .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
                    .unwrap_or_default(),
                hostname: text(h, "hypervisor_hostname").unwrap_or_default(),
                state: text(h, "state"),
                status: text(h, "status"),
                // Nova stopped reporting these figures in 2.88; Placement has them since.
                vcpus: number(h, "vcpus"),
                vcpus_used: number(h, "vcpus_used"),
                memory_mb: number(h, "memory_mb"),
                memory_mb_used: number(h, "memory_mb_used"),
                running_vms: number(h, "running_vms"),
            })
            .collect())
    }

    /// What each project's servers used over `[start, end)`, as Nova's usage report
    /// counts it: deleted servers included for the time they lived, by their flavor.
    /// From 2.40 Nova pages the report by servers; the pages' totals add up.
    pub async fn tenant_usages(&self, start: &str, end: &str) -> Result<Vec<TenantUsage>> {
        let path = format!(
            "os-simple-tenant-usage?start={}&end={}",
            segment(start),
            segment(end)
        );
        let pages = self.list_all(Compute, &path, "tenant_usages").await?;
        let mut per_project: std::collections::BTreeMap<String, TenantUsage> = Default::default();
        for usage in &pages {
            let Some(project) = text(usage, "tenant_id") else {
                continue;
            };
            let figure = |key: &str| usage.get(key).and_then(Value::as_f64).unwrap_or(0.0);
            let entry = per_project
                .entry(project.clone())
                .or_insert_with(|| TenantUsage {
                    project_id: project,
                    ..TenantUsage::default()
                });
            entry.hours += figure("total_hours");
            entry.vcpu_hours += figure("total_vcpus_usage");
            entry.ram_mb_hours += figure("total_memory_mb_usage");
            entry.disk_gb_hours += figure("total_local_gb_usage");
        }
        Ok(per_project.into_values().collect())
    }

    pub async fn compute_services(&self) -> Result<Vec<ComputeService>> {
        let body: Value = self.get(Compute, "os-services").await?;
        Ok(array(&body, "services", "compute")?
            .iter()
            .map(|s| ComputeService {
                binary: text(s, "binary").unwrap_or_default(),
                host: text(s, "host").unwrap_or_default(),
                zone: text(s, "zone"),
                status: text(s, "status").unwrap_or_default(),
                state: text(s, "state").unwrap_or_default(),
                updated_at: text(s, "updated_at"),
            })
            .collect())
    }
}

/// One project's usage over a period, as Nova reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantUsage {
    pub project_id: String,
    pub hours: f64,
    pub vcpu_hours: f64,
    pub ram_mb_hours: f64,
    pub disk_gb_hours: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_normalize_across_microversions() {
        let old = json!({"id": "s", "name": "vm", "status": "ACTIVE", "flavor": {"id": "1", "links": []}, "image": {"id": "i"},
                         "addresses": {"private": [{"addr": "10.0.0.5", "version": 4}]}});
        let new = json!({"id": "s", "name": "vm", "status": "ACTIVE", "flavor": {"original_name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
                         "image": "", "addresses": {}});
        let old = server(&old);
        assert_eq!(old.flavor.id.as_deref(), Some("1"));
        assert_eq!(old.addresses["private"], vec!["10.0.0.5".to_owned()]);
        let new = server(&new);
        assert_eq!(
            (new.flavor.name.as_deref(), new.flavor.vcpus),
            (Some("m1.tiny"), Some(1))
        );
        assert_eq!(new.image_id, None, "a boot-from-volume server has no image");
        let attached = json!({"id": "s", "os-extended-volumes:volumes_attached": [{"id": "v1", "delete_on_termination": false}]});
        assert_eq!(server(&attached).volumes, vec!["v1".to_owned()]);
    }

    #[test]
    fn event_times_read_as_utc() {
        let event = server_event(
            &json!({"action": "stop", "request_id": "req-1", "start_time": "2018-04-25T01:26:36.036697",
                                         "updated_at": "2018-04-25T01:26:36+00:00", "user_id": "admin", "message": null}),
        );
        assert_eq!(
            event.start_time.as_deref(),
            Some("2018-04-25T01:26:36.036697Z")
        );
        assert_eq!(
            event.updated_at.as_deref(),
            Some("2018-04-25T01:26:36+00:00")
        );
        assert_eq!(event.message, None);
    }
}
