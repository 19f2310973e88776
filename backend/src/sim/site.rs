//! One simulated OpenStack cloud: its identity data, compute state and capacity.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::faults::Fault;

/// The OpenStack release a site runs, as far as its APIs show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub release: &'static str,
    /// Highest Nova microversion, e.g. (2, 96).
    pub nova_max: (u16, u16),
    pub has_cinder: bool,
    pub has_neutron: bool,
    /// Neutron's `auto-allocated-topology`, behind Nova's `"networks": "auto"`: many
    /// edge sites, and the real-services lane's, do not have it.
    pub auto_allocation: bool,
    /// Whether Neutron has tenant network types (vxlan here). Without them, as on the
    /// real-services lane's sites, only provider networks can be created, and a network
    /// without provider attributes gets `503 NoNetworkAvailable`.
    pub tenant_networks: bool,
    /// Whether Nova's compute driver keeps a console log (`os-getConsoleOutput`); where
    /// it does not, as with some bare-metal drivers, Nova answers 501.
    pub console_log: bool,
}

/// Releases in a mixed fleet; `mixed` cycles through them so capability discovery matters.
pub const PROFILES: &[(&str, Profile)] = &[
    (
        "2025.2",
        Profile {
            release: "2025.2",
            nova_max: (2, 100),
            has_cinder: true,
            has_neutron: true,
            auto_allocation: true,
            tenant_networks: true,
            console_log: true,
        },
    ),
    (
        "2024.1",
        Profile {
            release: "2024.1",
            nova_max: (2, 96),
            has_cinder: true,
            has_neutron: true,
            auto_allocation: true,
            tenant_networks: true,
            console_log: true,
        },
    ),
    (
        "zed",
        Profile {
            release: "zed",
            nova_max: (2, 93),
            has_cinder: true,
            has_neutron: true,
            auto_allocation: false,
            tenant_networks: true,
            console_log: true,
        },
    ),
    (
        "edge-no-cinder",
        Profile {
            release: "2024.1",
            nova_max: (2, 96),
            has_cinder: false,
            has_neutron: true,
            auto_allocation: false,
            tenant_networks: false,
            console_log: false,
        },
    ),
    (
        "edge-no-neutron",
        Profile {
            release: "zed",
            nova_max: (2, 93),
            has_cinder: true,
            has_neutron: false,
            auto_allocation: false,
            tenant_networks: false,
            console_log: true,
        },
    ),
];

pub fn profile_named(name: &str) -> Option<Profile> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub password: String,
    pub default_project_id: Option<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
}

/// A role of a user on a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub user_id: String,
    pub project_id: String,
    pub role_id: String,
}

#[derive(Debug, Clone)]
pub struct ApplicationCredential {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub secret: String,
    pub user_id: String,
    pub project_id: String,
    pub expires_at: Option<time::OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub user_id: String,
    pub project_id: String,
    pub methods: Vec<String>,
    pub issued_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
    pub audit_id: String,
}

#[derive(Debug, Clone)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    pub ephemeral_gb: u64,
    pub swap_mb: u64,
    pub is_public: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerIntent {
    Running,
    Shutoff,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub flavor_id: String,
    pub image_id: String,
    pub key_name: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Index into `hypervisors`, or none when no host fitted (the server ends in ERROR).
    pub host: Option<usize>,
    pub created: time::OffsetDateTime,
    pub created_at: Instant,
    pub updated: time::OffsetDateTime,
    pub power: PowerIntent,
    /// What was done to the server, oldest first: Nova's instance actions.
    pub actions: Vec<InstanceAction>,
    /// `BUILD` until the build delay has passed; the state is derived on read, so a
    /// thousand building servers cost no timers.
    pub build_done_at: Instant,
}

/// One of Nova's instance actions (`create`, `stop`, `start`, `reboot`).
#[derive(Debug, Clone)]
pub struct InstanceAction {
    pub action: &'static str,
    pub request_id: String,
    pub user_id: String,
    pub at: time::OffsetDateTime,
}

impl InstanceAction {
    pub fn new(action: &'static str, user_id: &str) -> Self {
        InstanceAction {
            action,
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
            user_id: user_id.to_owned(),
            at: time::OffsetDateTime::now_utc(),
        }
    }
}

/// What Nova keeps of a deleted server, so that `changes-since` can report the deletion.
#[derive(Debug, Clone)]
pub struct DeletedServer {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub deleted: time::OffsetDateTime,
    /// What Nova's usage report still counts for the time it lived.
    pub created: time::OffsetDateTime,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub local_gb: u64,
}

impl Server {
    /// When the server last changed, its end of build included (Nova updates
    /// `updated_at` when the build finishes; here the build is derived on read).
    pub fn updated_at(&self, now: Instant) -> time::OffsetDateTime {
        if now < self.build_done_at {
            return self.updated;
        }
        let built = self.created
            + self
                .build_done_at
                .saturating_duration_since(self.created_at);
        self.updated.max(built)
    }

    pub fn status(&self, now: Instant) -> &'static str {
        if now < self.build_done_at {
            "BUILD"
        } else if self.host.is_none() {
            "ERROR"
        } else if self.power == PowerIntent::Shutoff {
            "SHUTOFF"
        } else {
            "ACTIVE"
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hypervisor {
    pub id: String,
    pub hostname: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    /// Why an operator disabled its compute service, if one did: Nova's scheduler then
    /// skips the host while Placement still lists its inventory, as in a real cloud.
    pub disabled: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct ComputeQuota {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
    pub key_pairs: i64,
    pub metadata_items: i64,
    pub server_groups: i64,
    pub server_group_members: i64,
}

impl Default for ComputeQuota {
    /// Nova's defaults.
    fn default() -> Self {
        ComputeQuota {
            instances: 10,
            cores: 20,
            ram: 51200,
            key_pairs: 100,
            metadata_items: 128,
            server_groups: 10,
            server_group_members: 10,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keypair {
    pub name: String,
    pub user_id: String,
    pub public_key: String,
    pub fingerprint: String,
    pub key_type: String,
    pub created_at: time::OffsetDateTime,
}

/// Everything a site's APIs can change.
#[derive(Debug, Default)]
pub struct SiteData {
    pub projects: Vec<Project>,
    pub users: Vec<User>,
    pub roles: Vec<Role>,
    pub assignments: Vec<Assignment>,
    pub application_credentials: Vec<ApplicationCredential>,
    pub tokens: HashMap<String, Token>,
    pub flavors: Vec<Flavor>,
    /// Kept in creation order, which is what Nova's default sort (created_at desc) reverses.
    pub servers: Vec<Server>,
    pub deleted_servers: Vec<DeletedServer>,
    pub hypervisors: Vec<Hypervisor>,
    pub compute_quotas: HashMap<String, ComputeQuota>,
    pub keypairs: Vec<Keypair>,
    pub images: Vec<super::glance::Image>,
    pub networks: Vec<super::neutron::Network>,
    pub subnets: Vec<super::neutron::Subnet>,
    pub ports: Vec<super::neutron::Port>,
    pub security_groups: Vec<super::neutron::SecurityGroup>,
    pub network_quotas: HashMap<String, super::neutron::NetworkQuota>,
    pub volumes: Vec<super::cinder::Volume>,
    pub volume_quotas: HashMap<String, super::cinder::VolumeQuota>,
}

pub struct SimSite {
    pub name: String,
    pub index: usize,
    pub region: String,
    pub profile: Profile,
    pub fault: std::sync::Mutex<Fault>,
    /// Services (`compute`, `image`, …) whose port is closed while the rest of the site
    /// answers, as after a restart in which Keystone came up first.
    pub services_down: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Sign-ins asked of this site's Keystone, to see how hard a client leans on it.
    pub token_requests: std::sync::atomic::AtomicU64,
    /// The next image upload is damaged on its way in (one byte flipped), as a flaky link
    /// might: Glance hashes what it received, so the image's hash is not the source's.
    pub corrupt_next_upload: std::sync::atomic::AtomicBool,
    /// Image data downloads served, to see how often a source is read.
    pub image_downloads: std::sync::atomic::AtomicU64,
    pub data: std::sync::Mutex<SiteData>,
    pub build_delay: Duration,
}

pub const ADMIN_PROJECT: &str = "admin";
pub const ROLE_ADMIN: &str = "admin";
pub const ADMIN_USER: &str = "admin";
pub const DEFAULT_DOMAIN: &str = "default";

/// Deterministic ids per site, so that a seed reproduces a fleet.
pub fn stable_id(site: &str, kind: &str, n: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{site}/{kind}/{n}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl SimSite {
    pub fn new(
        name: String,
        index: usize,
        profile: Profile,
        admin_password: &str,
        build_delay: Duration,
        hosts: usize,
    ) -> Self {
        let project = |n: usize, pname: &str, description: &str| Project {
            id: stable_id(&name, "project", n),
            name: pname.into(),
            domain_id: DEFAULT_DOMAIN.into(),
            description: description.into(),
            enabled: true,
        };
        let projects = vec![
            project(
                0,
                ADMIN_PROJECT,
                "Bootstrap project for initializing the cloud.",
            ),
            project(1, "demo", ""),
        ];
        let users = vec![User {
            id: stable_id(&name, "user", 0),
            name: ADMIN_USER.into(),
            domain_id: DEFAULT_DOMAIN.into(),
            password: admin_password.into(),
            default_project_id: Some(projects[0].id.clone()),
            enabled: true,
        }];
        // Keystone's bootstrap roles, with the admin user as admin of the admin project.
        let roles: Vec<Role> = ["admin", "member", "reader"]
            .iter()
            .enumerate()
            .map(|(n, role)| Role {
                id: stable_id(&name, "role", n),
                name: (*role).into(),
            })
            .collect();
        let assignments = vec![Assignment {
            user_id: users[0].id.clone(),
            project_id: projects[0].id.clone(),
            role_id: roles[0].id.clone(),
        }];
        let flavor = |id: &str, fname: &str, vcpus: u32, ram_mb: u64, disk_gb: u64| Flavor {
            id: id.into(),
            name: fname.into(),
            vcpus,
            ram_mb,
            disk_gb,
            ephemeral_gb: 0,
            swap_mb: 0,
            is_public: true,
            description: None,
            extra_specs: BTreeMap::new(),
        };
        // DevStack's default flavors.
        let flavors = vec![
            flavor("1", "m1.tiny", 1, 512, 1),
            flavor("2", "m1.small", 1, 2048, 20),
            flavor("3", "m1.medium", 2, 4096, 40),
            flavor("4", "m1.large", 4, 8192, 80),
            flavor("5", "m1.xlarge", 8, 16384, 160),
        ];
        let hypervisors = (0..hosts)
            .map(|n| Hypervisor {
                id: stable_id(&name, "hypervisor", n),
                hostname: format!("{name}-compute-{n}"),
                vcpus: 32,
                ram_mb: 131_072,
                disk_gb: 2_000,
                disabled: None,
            })
            .collect();
        let created = time::OffsetDateTime::now_utc();
        let mut networks = Vec::new();
        let mut subnets = Vec::new();
        if profile.has_neutron {
            for (n, (net_name, external, cidr)) in [
                ("public", true, "172.24.4.0/24"),
                ("private", false, "10.0.0.0/26"),
            ]
            .into_iter()
            .enumerate()
            {
                let network_id = stable_id(&name, "network", n);
                networks.push(super::neutron::Network {
                    id: network_id.clone(),
                    name: net_name.into(),
                    project_id: projects[if external { 0 } else { 1 }].id.clone(),
                    admin_state_up: true,
                    // Shared so that every project can boot on it without creating a network first.
                    shared: !external,
                    external,
                    mtu: 1450,
                    description: String::new(),
                    segment: if external {
                        super::neutron::Segment::flat("public")
                    } else if profile.tenant_networks {
                        super::neutron::Segment::tenant(1000 + n as u64)
                    } else {
                        super::neutron::Segment::flat("physnet2")
                    },
                    created_at: created,
                });
                subnets.push(super::neutron::Subnet {
                    id: stable_id(&name, "subnet", n),
                    name: format!("{net_name}-subnet"),
                    network_id,
                    project_id: projects[if external { 0 } else { 1 }].id.clone(),
                    cidr: cidr.into(),
                    ip_version: 4,
                    gateway_ip: Some(cidr.replace(".0/24", ".1").replace(".0/26", ".1")),
                    enable_dhcp: !external,
                    created_at: created,
                });
            }
        }
        SimSite {
            region: "RegionOne".into(),
            index,
            profile,
            fault: std::sync::Mutex::new(Fault::Up),
            services_down: std::sync::Mutex::default(),
            token_requests: std::sync::atomic::AtomicU64::new(0),
            corrupt_next_upload: std::sync::atomic::AtomicBool::new(false),
            image_downloads: std::sync::atomic::AtomicU64::new(0),
            data: std::sync::Mutex::new(SiteData {
                roles,
                assignments,
                projects,
                users,
                flavors,
                hypervisors,
                networks,
                subnets,
                ..SiteData::default()
            }),
            build_delay,
            name,
        }
    }

    /// Locks the site's data. A poisoned lock (a panic mid-update) still holds data
    /// that was consistent before each update began, so the simulator keeps serving.
    pub fn data(&self) -> std::sync::MutexGuard<'_, SiteData> {
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fills the site with `count` ACTIVE servers and `count_images` public images at
    /// once, for tests and benchmarks of large sites (booting 2,500 servers through the
    /// API would only measure the simulator).
    pub fn seed(&self, servers: usize, images: usize) {
        let now = time::OffsetDateTime::now_utc();
        let mut data = self.data();
        let project_id = data
            .projects
            .first()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let user_id = data.users.first().map(|u| u.id.clone()).unwrap_or_default();
        let flavor_id = data
            .flavors
            .first()
            .map(|f| f.id.clone())
            .unwrap_or_default();
        let hosts = data.hypervisors.len();
        for n in 0..images {
            data.images.push(super::glance::Image {
                name: Some(format!("seeded-image-{n:05}")),
                status: "active",
                visibility: "public".into(),
                disk_format: Some("raw".into()),
                container_format: Some("bare".into()),
                size: Some(0),
                ..super::glance::Image::queued(
                    uuid::Uuid::new_v4().to_string(),
                    project_id.clone(),
                    now,
                )
            });
        }
        for n in 0..servers {
            data.servers.push(Server {
                id: uuid::Uuid::new_v4().to_string(),
                name: format!("seeded-{n:05}"),
                project_id: project_id.clone(),
                user_id: user_id.clone(),
                flavor_id: flavor_id.clone(),
                image_id: String::new(),
                key_name: None,
                metadata: BTreeMap::new(),
                host: (hosts > 0).then_some(n % hosts.max(1)),
                created: now,
                created_at: Instant::now(),
                updated: now,
                power: PowerIntent::Running,
                actions: vec![InstanceAction::new("create", &user_id)],
                build_done_at: Instant::now(),
            });
        }
    }

    pub fn set_service_down(&self, service: &str, down: bool) {
        let mut services = self
            .services_down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if down {
            services.insert(service.to_owned());
        } else {
            services.remove(service);
        }
    }

    pub fn service_down(&self, service: &str) -> bool {
        self.services_down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(service)
    }

    pub fn fault(&self) -> Fault {
        self.fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_fault(&self, fault: Fault) {
        *self
            .fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }
}

impl SiteData {
    /// Role ids of a user on a project; admin implies member and reader, as Keystone's
    /// default implied roles do.
    pub fn roles_of(&self, user_id: &str, project_id: &str) -> Vec<String> {
        let direct: Vec<&str> = self
            .assignments
            .iter()
            .filter(|a| a.user_id == user_id && a.project_id == project_id)
            .filter_map(|a| {
                self.roles
                    .iter()
                    .find(|r| r.id == a.role_id)
                    .map(|r| r.name.as_str())
            })
            .collect();
        fn implied(name: &str) -> Vec<&str> {
            match name {
                "admin" => vec!["admin", "member", "reader"],
                "member" => vec!["member", "reader"],
                other => vec![other],
            }
        }
        let names: std::collections::BTreeSet<&str> =
            direct.into_iter().flat_map(implied).collect();
        self.roles
            .iter()
            .filter(|r| names.contains(r.name.as_str()))
            .map(|r| r.id.clone())
            .collect()
    }

    pub fn has_role(&self, user_id: &str, project_id: &str, role_name: &str) -> bool {
        let Some(role) = self.roles.iter().find(|r| r.name == role_name) else {
            return false;
        };
        self.roles_of(user_id, project_id).contains(&role.id)
    }

    /// Resources in use on each hypervisor by servers that hold a host.
    pub fn host_usage(&self, host: usize, flavors: &[Flavor]) -> (u32, u64, u64) {
        self.servers
            .iter()
            .filter(|s| s.host == Some(host))
            .filter_map(|s| flavors.iter().find(|f| f.id == s.flavor_id))
            .fold((0, 0, 0), |(c, r, d), f| {
                (c + f.vcpus, r + f.ram_mb, d + f.disk_gb)
            })
    }

    pub fn quota(&self, project_id: &str) -> ComputeQuota {
        self.compute_quotas
            .get(project_id)
            .copied()
            .unwrap_or_default()
    }

    pub fn network_quota(&self, project_id: &str) -> super::neutron::NetworkQuota {
        self.network_quotas
            .get(project_id)
            .copied()
            .unwrap_or_default()
    }

    pub fn volume_quota(&self, project_id: &str) -> super::cinder::VolumeQuota {
        self.volume_quotas
            .get(project_id)
            .copied()
            .unwrap_or_default()
    }
}
