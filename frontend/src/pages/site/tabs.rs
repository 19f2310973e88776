//! The resource tabs of a site page: typed rows from `overcast_api_types::l1`, one
//! description per kind (columns, row actions, how it is created), one table for all.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::l1::{
    ComputeService, Flavor, Hypervisor, Image, Items, Keypair, Network, Project, Server,
    ServerAction, ServerActionRequest, Subnet, User, Volume, SETTLING_SERVER_STATUSES,
};
use overcast_api_types::SiteAnswerStatus;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::forms;
use crate::api::{self, ApiError};
use crate::app::Session;
use crate::components::badge::StatusBadge;
use crate::components::confirm::ConfirmButton;
use crate::components::meter::Meter;
use crate::components::pager::{page_of, Pager};
use crate::components::time::{MaybeTime, RelativeTime};
use crate::format;

/// What a row of a table is: any typed item of the API.
pub trait Row: Clone + Send + Sync + DeserializeOwned + 'static {}
impl<T: Clone + Send + Sync + DeserializeOwned + 'static> Row for T {}

/// Names of other objects a row refers to by id, read alongside the rows.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// Subnet id → `name (cidr)`.
    pub subnets: BTreeMap<String, String>,
    /// Project id → name.
    pub projects: BTreeMap<String, String>,
}

/// What a cell needs besides its row.
pub struct Ctx {
    pub site: String,
    pub lookups: Lookups,
}

/// One cell, by how it shows.
#[derive(Clone)]
pub enum Cell {
    Text(String),
    Mono(String),
    Badge(String),
    Time(Option<String>),
    Link(String, String),
    Meter {
        label: String,
        used: u64,
        total: Option<u64>,
        unit: fn(u64) -> String,
    },
}

pub struct Column<T> {
    pub title: &'static str,
    pub cell: fn(&T, &Ctx) -> Cell,
}

/// A kind of resource as a tab shows it.
pub struct Kind<T> {
    pub segment: &'static str,
    pub title: &'static str,
    /// One of them, in a sentence: `key pair`.
    pub singular: &'static str,
    /// Kept in the console's inventory: shown from there, marked stale, when the site
    /// does not answer.
    pub inventory: bool,
    pub columns: Vec<Column<T>>,
    /// How a row is named in buttons and questions.
    pub label: fn(&T) -> String,
    /// The key `DELETE …/{key}` takes, for kinds that can be deleted here.
    pub delete_by: Option<fn(&T) -> String>,
    /// Server actions a row offers in its state.
    pub actions: fn(&T) -> Vec<(ServerAction, &'static str)>,
    /// Whether the row is moving by itself (a server in BUILD): read again soon.
    pub settling: fn(&T) -> bool,
    pub create: Option<forms::Create>,
}

fn no_actions<T>(_: &T) -> Vec<(ServerAction, &'static str)> {
    Vec::new()
}

fn never<T>(_: &T) -> bool {
    false
}

fn named(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_owned()
    } else {
        name.to_owned()
    }
}

fn yes_no(value: bool) -> Cell {
    Cell::Text(if value { "yes" } else { "no" }.into())
}

fn or_dash(text: Option<&str>) -> String {
    text.filter(|t| !t.is_empty()).unwrap_or("–").to_owned()
}

/// The actions a server offers in its status.
pub fn server_actions(server: &Server) -> Vec<(ServerAction, &'static str)> {
    [
        (ServerAction::Start, "Start", "SHUTOFF"),
        (ServerAction::Stop, "Stop", "ACTIVE"),
        (ServerAction::Reboot, "Reboot", "ACTIVE"),
    ]
    .into_iter()
    .filter(|(_, _, when)| *when == server.status)
    .map(|(action, text, _)| (action, text))
    .collect()
}

/// `private: 10.0.0.5, fd00::5; public: 203.0.113.7`.
pub fn addresses(addresses: &BTreeMap<String, Vec<String>>) -> String {
    if addresses.is_empty() {
        return "–".into();
    }
    addresses
        .iter()
        .map(|(network, ips)| format!("{network}: {}", ips.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn server_href(site: &str, id: &str) -> String {
    format!(
        "/sites/{}/servers/{}",
        api::encode_query(site),
        api::encode_query(id)
    )
}

fn servers() -> Kind<Server> {
    Kind {
        segment: "servers",
        title: "Servers",
        singular: "server",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |s, cx| Cell::Link(server_href(&cx.site, &s.id), named(&s.name, &s.id)),
            },
            Column {
                title: "Status",
                cell: |s, _| Cell::Badge(s.status.clone()),
            },
            Column {
                title: "Flavor",
                cell: |s, _| {
                    Cell::Text(or_dash(s.flavor.name.as_deref().or(s.flavor.id.as_deref())))
                },
            },
            Column {
                title: "Addresses",
                cell: |s, _| Cell::Text(addresses(&s.addresses)),
            },
            Column {
                title: "Created",
                cell: |s, _| Cell::Time(s.created.clone()),
            },
        ],
        label: |s| named(&s.name, &s.id),
        delete_by: Some(|s| s.id.clone()),
        actions: server_actions,
        settling: |s| SETTLING_SERVER_STATUSES.contains(&s.status.as_str()),
        create: Some(forms::Create::Server),
    }
}

fn images() -> Kind<Image> {
    Kind {
        segment: "images",
        title: "Images",
        singular: "image",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |i, _| Cell::Text(named(i.name.as_deref().unwrap_or_default(), &i.id)),
            },
            Column {
                title: "Status",
                cell: |i, _| Cell::Badge(i.status.clone()),
            },
            Column {
                title: "Visibility",
                cell: |i, _| Cell::Text(i.visibility.clone()),
            },
            Column {
                title: "Format",
                cell: |i, _| Cell::Text(or_dash(i.disk_format.as_deref())),
            },
            Column {
                title: "Size",
                cell: |i, _| Cell::Text(i.size.map_or_else(|| "–".into(), format::bytes)),
            },
            Column {
                title: "Created",
                cell: |i, _| Cell::Time(i.created_at.clone()),
            },
        ],
        label: |i| named(i.name.as_deref().unwrap_or_default(), &i.id),
        delete_by: Some(|i| i.id.clone()),
        actions: no_actions,
        settling: |i| matches!(i.status.as_str(), "saving" | "importing" | "uploading"),
        create: Some(forms::Create::Form(&forms::IMAGE)),
    }
}

fn flavors() -> Kind<Flavor> {
    Kind {
        segment: "flavors",
        title: "Flavors",
        singular: "flavor",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |f, _| Cell::Text(named(&f.name, &f.id)),
            },
            Column {
                title: "vCPUs",
                cell: |f, _| Cell::Text(f.vcpus.to_string()),
            },
            Column {
                title: "RAM",
                cell: |f, _| Cell::Text(format::megabytes(f.ram_mb)),
            },
            Column {
                title: "Disk",
                cell: |f, _| Cell::Text(format!("{} GB", f.disk_gb)),
            },
            Column {
                title: "Public",
                cell: |f, _| yes_no(f.is_public),
            },
        ],
        label: |f| named(&f.name, &f.id),
        delete_by: Some(|f| f.id.clone()),
        actions: no_actions,
        settling: never,
        create: Some(forms::Create::Form(&forms::FLAVOR)),
    }
}

fn networks() -> Kind<Network> {
    Kind {
        segment: "networks",
        title: "Networks",
        singular: "network",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |n, _| Cell::Text(named(&n.name, &n.id)),
            },
            Column {
                title: "Status",
                cell: |n, _| Cell::Badge(n.status.clone()),
            },
            Column {
                title: "Type",
                cell: |n, _| {
                    Cell::Text(match (&n.network_type, &n.physical_network) {
                        (Some(kind), Some(physical)) => format!("{kind} on {physical}"),
                        (Some(kind), None) => kind.clone(),
                        _ => "–".into(),
                    })
                },
            },
            Column {
                title: "Shared",
                cell: |n, _| yes_no(n.shared),
            },
            Column {
                title: "External",
                cell: |n, _| yes_no(n.external),
            },
            Column {
                title: "Subnets",
                cell: |n, cx| {
                    if n.subnets.is_empty() {
                        return Cell::Text("none".into());
                    }
                    Cell::Text(
                        n.subnets
                            .iter()
                            .map(|id| {
                                cx.lookups
                                    .subnets
                                    .get(id)
                                    .cloned()
                                    .unwrap_or_else(|| id.clone())
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                },
            },
        ],
        label: |n| named(&n.name, &n.id),
        delete_by: Some(|n| n.id.clone()),
        actions: no_actions,
        settling: never,
        create: Some(forms::Create::Form(&forms::NETWORK)),
    }
}

fn volumes() -> Kind<Volume> {
    Kind {
        segment: "volumes",
        title: "Volumes",
        singular: "volume",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |v, _| Cell::Text(named(v.name.as_deref().unwrap_or_default(), &v.id)),
            },
            Column {
                title: "Status",
                cell: |v, _| Cell::Badge(v.status.clone()),
            },
            Column {
                title: "Size",
                cell: |v, _| Cell::Text(format!("{} GB", v.size_gb)),
            },
            Column {
                title: "Bootable",
                cell: |v, _| yes_no(v.bootable),
            },
            Column {
                title: "Created",
                cell: |v, _| Cell::Time(v.created_at.clone()),
            },
        ],
        label: |v| named(v.name.as_deref().unwrap_or_default(), &v.id),
        delete_by: Some(|v| v.id.clone()),
        actions: no_actions,
        settling: |v| matches!(v.status.as_str(), "creating" | "deleting" | "downloading"),
        create: Some(forms::Create::Form(&forms::VOLUME)),
    }
}

fn keypairs() -> Kind<Keypair> {
    Kind {
        segment: "keypairs",
        title: "Key pairs",
        singular: "key pair",
        inventory: false,
        columns: vec![
            Column {
                title: "Name",
                cell: |k, _| Cell::Text(k.name.clone()),
            },
            Column {
                title: "Type",
                cell: |k, _| Cell::Text(k.kind.clone()),
            },
            Column {
                title: "Fingerprint",
                cell: |k, _| Cell::Mono(k.fingerprint.clone()),
            },
        ],
        label: |k| k.name.clone(),
        delete_by: Some(|k| k.name.clone()),
        actions: no_actions,
        settling: never,
        create: Some(forms::Create::Form(&forms::KEYPAIR)),
    }
}

fn projects() -> Kind<Project> {
    Kind {
        segment: "projects",
        title: "Projects",
        singular: "project",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |p, _| Cell::Text(named(&p.name, &p.id)),
            },
            Column {
                title: "Description",
                cell: |p, _| Cell::Text(or_dash(Some(&p.description))),
            },
            Column {
                title: "Enabled",
                cell: |p, _| yes_no(p.enabled),
            },
            Column {
                title: "Domain",
                cell: |p, _| Cell::Text(p.domain_id.clone()),
            },
        ],
        label: |p| named(&p.name, &p.id),
        // Not from here: the console's own project and user live among them.
        delete_by: None,
        actions: no_actions,
        settling: never,
        create: Some(forms::Create::Form(&forms::PROJECT)),
    }
}

fn users() -> Kind<User> {
    Kind {
        segment: "users",
        title: "Users",
        singular: "user",
        inventory: true,
        columns: vec![
            Column {
                title: "Name",
                cell: |u, _| Cell::Text(named(&u.name, &u.id)),
            },
            Column {
                title: "Enabled",
                cell: |u, _| yes_no(u.enabled),
            },
            Column {
                title: "Domain",
                cell: |u, _| Cell::Text(u.domain_id.clone()),
            },
            Column {
                title: "Default project",
                cell: |u, cx| {
                    Cell::Text(match &u.default_project_id {
                        None => "–".into(),
                        Some(id) => cx
                            .lookups
                            .projects
                            .get(id)
                            .cloned()
                            .unwrap_or_else(|| id.clone()),
                    })
                },
            },
        ],
        label: |u| named(&u.name, &u.id),
        delete_by: None,
        actions: no_actions,
        settling: never,
        create: Some(forms::Create::Form(&forms::USER)),
    }
}

fn hypervisors() -> Kind<Hypervisor> {
    Kind {
        segment: "hypervisors",
        title: "Hypervisors",
        singular: "hypervisor",
        inventory: false,
        columns: vec![
            Column {
                title: "Host",
                cell: |h, _| Cell::Text(named(&h.hostname, &h.id)),
            },
            Column {
                title: "State",
                cell: |h, _| Cell::Badge(or_dash(h.state.as_deref())),
            },
            Column {
                title: "Status",
                cell: |h, _| Cell::Badge(or_dash(h.status.as_deref())),
            },
            Column {
                title: "vCPUs",
                cell: |h, _| Cell::Meter {
                    label: format!("vCPUs used on {}", h.hostname),
                    used: h.vcpus_used.unwrap_or(0),
                    total: h.vcpus,
                    unit: |n| n.to_string(),
                },
            },
            Column {
                title: "RAM",
                cell: |h, _| Cell::Meter {
                    label: format!("RAM used on {}", h.hostname),
                    used: h.memory_mb_used.unwrap_or(0),
                    total: h.memory_mb,
                    unit: format::megabytes,
                },
            },
            Column {
                title: "Servers",
                cell: |h, _| {
                    Cell::Text(h.running_vms.map_or_else(|| "–".into(), |n| n.to_string()))
                },
            },
        ],
        label: |h| h.hostname.clone(),
        delete_by: None,
        actions: no_actions,
        settling: never,
        create: None,
    }
}

fn services() -> Kind<ComputeService> {
    Kind {
        segment: "services",
        title: "Services",
        singular: "service",
        inventory: false,
        columns: vec![
            Column {
                title: "Binary",
                cell: |s, _| Cell::Text(s.binary.clone()),
            },
            Column {
                title: "Host",
                cell: |s, _| Cell::Text(s.host.clone()),
            },
            Column {
                title: "Zone",
                cell: |s, _| Cell::Text(or_dash(s.zone.as_deref())),
            },
            Column {
                title: "Status",
                cell: |s, _| Cell::Badge(s.status.clone()),
            },
            Column {
                title: "State",
                cell: |s, _| Cell::Badge(s.state.clone()),
            },
            Column {
                title: "Updated",
                cell: |s, _| Cell::Time(s.updated_at.clone()),
            },
        ],
        label: |s| format!("{} on {}", s.binary, s.host),
        delete_by: None,
        actions: no_actions,
        settling: never,
        create: None,
    }
}

/// A row ready to show: what typed rows become right after they are read, so that one
/// table component (not one per kind) draws them all.
#[derive(Clone)]
pub struct RowData {
    pub cells: Vec<Cell>,
    pub label: String,
    /// The key `DELETE` takes, when the row can be deleted here.
    pub key: Option<String>,
    pub actions: Vec<(ServerAction, &'static str)>,
    pub settling: bool,
}

/// Rows of a tab, live or, when the site does not answer, from the inventory.
#[derive(Clone)]
pub struct Listing {
    pub rows: Vec<RowData>,
    /// When the rows were read from the site, if they are not live.
    pub stale_as_of: Option<String>,
}

/// What the table of a kind needs to know beyond its rows.
#[derive(Clone)]
pub struct Spec {
    pub segment: &'static str,
    pub title: &'static str,
    pub singular: &'static str,
    pub inventory: bool,
    pub columns: Vec<&'static str>,
    pub deletable: bool,
    pub create: Option<forms::Create>,
}

impl<T: Row> Kind<T> {
    fn spec(&self) -> Spec {
        Spec {
            segment: self.segment,
            title: self.title,
            singular: self.singular,
            inventory: self.inventory,
            columns: self.columns.iter().map(|c| c.title).collect(),
            deletable: self.delete_by.is_some(),
            create: self.create,
        }
    }

    /// Typed rows from the JSON items read, then what the table shows of them.
    fn rows(self, items: Vec<Value>, cx: &Ctx) -> Vec<RowData> {
        typed::<T>(items)
            .iter()
            .map(|item| RowData {
                cells: self.columns.iter().map(|c| (c.cell)(item, cx)).collect(),
                label: (self.label)(item),
                key: self.delete_by.map(|by| by(item)),
                actions: (self.actions)(item),
                settling: (self.settling)(item),
            })
            .collect()
    }
}

/// The table of a tab, and how its rows are read.
fn spec(tab: &str) -> Spec {
    match tab {
        "servers" => servers().spec(),
        "images" => images().spec(),
        "flavors" => flavors().spec(),
        "networks" => networks().spec(),
        "volumes" => volumes().spec(),
        "keypairs" => keypairs().spec(),
        "projects" => projects().spec(),
        "users" => users().spec(),
        "hypervisors" => hypervisors().spec(),
        _ => services().spec(),
    }
}

async fn load(tab: &'static str, site: String, offline: bool) -> Result<Listing, Failure> {
    let Spec {
        segment, inventory, ..
    } = spec(tab);
    let (items, stale_as_of) = read_values(&site, segment, inventory, offline).await?;
    let lookups = lookups(&site, segment, offline || stale_as_of.is_some()).await;
    let cx = Ctx { site, lookups };
    let rows = match tab {
        "servers" => servers().rows(items, &cx),
        "images" => images().rows(items, &cx),
        "flavors" => flavors().rows(items, &cx),
        "networks" => networks().rows(items, &cx),
        "volumes" => volumes().rows(items, &cx),
        "keypairs" => keypairs().rows(items, &cx),
        "projects" => projects().rows(items, &cx),
        "users" => users().rows(items, &cx),
        "hypervisors" => hypervisors().rows(items, &cx),
        _ => services().rows(items, &cx),
    };
    Ok(Listing { rows, stale_as_of })
}

/// The panel of a tab.
pub fn panel(site: String, tab: &'static str, unreachable: Signal<bool>) -> AnyView {
    if tab == "metrics" {
        return view! { <crate::pages::metrics::SiteMetricsTab site/> }.into_any();
    }
    if tab == "quotas" {
        return view! { <super::quotas::QuotasTab site unreachable/> }.into_any();
    }
    view! { <ListTab site tab spec=spec(tab) unreachable/> }.into_any()
}

/// Why a tab has no rows to show.
#[derive(Clone)]
pub enum Failure {
    Api(ApiError),
    /// The site does not answer and the console keeps no copy of this kind.
    NoCopy,
}

/// Whether an error means "the site does not answer" rather than "the site said no".
pub fn is_offline(error: &ApiError) -> bool {
    matches!(
        error.code.as_str(),
        "site_unreachable" | "site_timeout" | "site_service_down"
    )
}

/// Items decoded into their API type; one that does not decode is left out. Items are
/// read as JSON first, so each type has one decoder (from `Value`) in the dashboard.
pub fn typed<T: DeserializeOwned>(items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect()
}

/// A kind's last-known items of one site from the console's inventory
/// (`GET /api/v1/{kind}?sites=NAME`), and when they were read if the site did not answer.
pub async fn from_inventory(
    site: &str,
    segment: &str,
) -> Result<(Vec<Value>, Option<String>), Failure> {
    let answer = api::across_sites(segment, site, "")
        .await
        .map_err(Failure::Api)?;
    let Some(status) = answer.sites.get(site) else {
        return Err(Failure::NoCopy);
    };
    // Asked because the site did not answer this page: even a young copy the console
    // served as `ok` is not a live answer, so it is shown as last known.
    let as_of = || {
        status
            .as_of
            .clone()
            .or_else(|| js_sys::Date::new_0().to_iso_string().as_string())
    };
    match status.status {
        SiteAnswerStatus::NotOffered => Ok((answer.items, None)),
        SiteAnswerStatus::Ok | SiteAnswerStatus::Stale => Ok((answer.items, as_of())),
        _ => Err(Failure::NoCopy),
    }
}

/// A kind's items of one site: asked of the site, or from the inventory when the site
/// is known not to answer (or turns out not to).
pub async fn read_values(
    site: &str,
    segment: &str,
    inventory: bool,
    offline: bool,
) -> Result<(Vec<Value>, Option<String>), Failure> {
    if offline {
        return if inventory {
            from_inventory(site, segment).await
        } else {
            Err(Failure::NoCopy)
        };
    }
    let path = format!("/sites/{}/{segment}", api::encode_query(site));
    match api::get::<Items<Value>>(&path).await {
        Ok(list) => Ok((list.items, None)),
        Err(e) if is_offline(&e) && inventory => from_inventory(site, segment).await,
        Err(e) if is_offline(&e) => Err(Failure::NoCopy),
        Err(e) => Err(Failure::Api(e)),
    }
}

/// Names the rows of `segment` refer to; a lookup that fails leaves ids shown.
async fn lookups(site: &str, segment: &str, offline: bool) -> Lookups {
    let mut found = Lookups::default();
    match segment {
        "networks" if !offline => {
            if let Ok((subnets, _)) = read_values(site, "subnets", false, false).await {
                found.subnets = typed::<Subnet>(subnets)
                    .into_iter()
                    .map(|s| {
                        let text = if s.name.is_empty() {
                            s.cidr.clone()
                        } else {
                            format!("{} ({})", s.name, s.cidr)
                        };
                        (s.id, text)
                    })
                    .collect();
            }
        }
        "users" => {
            if let Ok((projects, _)) = read_values(site, "projects", true, offline).await {
                found.projects = typed::<Project>(projects)
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect();
            }
        }
        _ => {}
    }
    found
}

/// The sentence of a tab that has nothing to show because the site does not answer.
pub fn no_copy(site: &str, what: &str) -> String {
    format!("{site} does not answer, and the console keeps no copy of its {what}.")
}

/// The note above rows that are not live.
#[component]
pub fn StaleNote(site: String, as_of: String) -> impl IntoView {
    view! {
        <p class="banner stale" role="status">
            "Last known, "<RelativeTime at=as_of/>" — "{site}" does not answer; changes are disabled until it is back."
        </p>
    }
}

#[component]
fn ListTab(
    site: String,
    tab: &'static str,
    spec: Spec,
    unreachable: Signal<bool>,
) -> impl IntoView {
    let spec = StoredValue::new(spec);
    let session = expect_context::<Session>();
    let reload = RwSignal::new(0u32);
    let data = {
        let site = site.clone();
        LocalResource::new(move || {
            reload.track();
            load(tab, site.clone(), unreachable.get())
        })
    };
    // Follow rows that move by themselves (servers in BUILD, REBOOT) until they settle.
    Effect::new(move |_| {
        let busy = data.with(|d| {
            d.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|listing| {
                    listing.stale_as_of.is_none() && listing.rows.iter().any(|r| r.settling)
                })
        });
        if busy {
            set_timeout(move || reload.update(|n| *n += 1), Duration::from_secs(2));
        }
    });
    let error = RwSignal::new(None::<String>);
    let page = RwSignal::new(0usize);
    let creating = RwSignal::new(false);
    let (segment, title, singular) = spec.with_value(|s| (s.segment, s.title, s.singular));
    let act = {
        let base = format!("/sites/{}/{segment}", api::encode_query(&site));
        Callback::new(
            move |(path_tail, body): (String, Option<ServerActionRequest>)| {
                let path = format!("{base}/{path_tail}");
                let call = async move {
                    match body {
                        Some(body) => api::act("POST", &path, Some(&body)).await,
                        None => api::send_empty("DELETE", &path).await,
                    }
                };
                api::spawn_call(call, error, move |()| reload.update(|n| *n += 1));
            },
        )
    };
    let done = Callback::new(move |()| {
        creating.set(false);
        reload.update(|n| *n += 1);
    });
    let site_for_form = site.clone();
    view! {
        {move || creating.get().then(|| spec.with_value(|s| s.create).map(|create| forms::form(create, site_for_form.clone(), done)))}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Asking the site…"</p> }>
            {move || data.get().map(|answer| {
                let site = site.clone();
                match answer {
                    Err(Failure::NoCopy) => view! { <div class="empty" role="status">{no_copy(&site, &title.to_lowercase())}</div> }.into_any(),
                    Err(Failure::Api(e)) if e.code == "service_not_offered" => view! { <div class="empty" role="status">{e.message}</div> }.into_any(),
                    Err(Failure::Api(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok(listing) => {
                        let stale = listing.stale_as_of.is_some();
                        let frozen = Signal::derive(move || stale || unreachable.get());
                        let creatable = session.can_operate() && spec.with_value(|s| s.create.is_some());
                        let create_button = move || creatable.then(|| view! {
                            <button type="button" disabled=move || frozen.get()
                                title=move || if frozen.get() { "The site does not answer" } else { "" }
                                on:click=move |_| creating.update(|c| *c = !*c)>{format!("Create {singular}")}</button>
                        });
                        let note = listing.stale_as_of.clone().map(|as_of| view! { <StaleNote site=site.clone() as_of/> });
                        if listing.rows.is_empty() {
                            return view! {
                                {note}
                                <div class="empty">
                                    <p>{format!("No {} on {site}{}.", title.to_lowercase(), if stale { " when it was last read" } else { "" })}</p>
                                    {create_button}
                                </div>
                            }.into_any();
                        }
                        let total = listing.rows.len();
                        let rows = listing.rows;
                        let with_actions = session.can_operate() && spec.with_value(|s| s.deletable);
                        view! {
                            {note}
                            {creatable.then(|| view! { <div class="actions">{create_button}</div> })}
                            <div class="table-scroll">
                                <table>
                                    <caption class="visually-hidden">{format!("{title} of {site}")}</caption>
                                    <thead><tr>
                                        {spec.with_value(|s| s.columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view())}
                                        {with_actions.then(|| view! { <th scope="col">"Actions"</th> })}
                                    </tr></thead>
                                    <tbody>
                                        {move || page_of(&rows, page.get()).into_iter().map(|row| {
                                            let actions = with_actions.then(|| row_actions(&row, singular, act, frozen));
                                            view! {
                                                <tr>
                                                    {row.cells.into_iter().enumerate().map(|(n, cell)| cell_view(cell, n == 0)).collect_view()}
                                                    {actions.map(|a| view! { <td class="row-actions">{a}</td> })}
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <Pager total=total page/>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn cell_view(cell: Cell, header: bool) -> AnyView {
    let inner = match cell {
        Cell::Text(text) => text.into_any(),
        Cell::Mono(text) => view! { <span class="mono">{text}</span> }.into_any(),
        Cell::Badge(status) => view! { <StatusBadge status/> }.into_any(),
        Cell::Time(at) => view! { <MaybeTime at otherwise="–"/> }.into_any(),
        Cell::Link(href, text) => view! { <A href=href>{text}</A> }.into_any(),
        Cell::Meter {
            label,
            used,
            total,
            unit,
        } => view! { <Meter label used total unit/> }.into_any(),
    };
    if header {
        view! { <th scope="row">{inner}</th> }.into_any()
    } else {
        view! { <td>{inner}</td> }.into_any()
    }
}

/// Start, stop and reboot for servers; delete, after a confirmation, for every kind that
/// allows it. All disabled while the site does not answer.
fn row_actions(
    row: &RowData,
    singular: &'static str,
    act: Callback<(String, Option<ServerActionRequest>)>,
    frozen: Signal<bool>,
) -> AnyView {
    let id = api::encode_query(row.key.as_deref().unwrap_or_default());
    let label = row.label.clone();
    let buttons = row
        .actions
        .iter()
        .map(|(action, text)| {
            let (action, text, id) = (*action, *text, id.clone());
            view! {
                <button type="button" class="secondary small" aria-label=format!("{text} {label}") disabled=move || frozen.get()
                    on:click=move |_| act.run((format!("{id}/action"), Some(ServerActionRequest { action })))>{text}</button>
            }
        })
        .collect_view();
    let delete = Callback::new(move |()| act.run((id.clone(), None)));
    view! {
        {buttons}
        <ConfirmButton label="Delete" question=format!("Delete {singular} {label}?") on_confirm=delete disabled=frozen/>
    }
    .into_any()
}
