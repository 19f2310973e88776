//! Resources across sites: one row per distinct item, with the sites that hold it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::l1::{Flavor, Image, Network, Project, Server, User, Volume};
use overcast_api_types::{Aggregate, SiteAnswerStatus};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::api;
use crate::app::Session;
use crate::components::badge::StatusBadge;
use crate::components::confirm::ConfirmButton;
use crate::components::pager::{page_of, Pager};
use crate::components::tabs::TabList;
use crate::components::time::RelativeTime;
use crate::format;

const KINDS: &[(&str, &str)] = &[
    ("servers", "Servers"),
    ("images", "Images"),
    ("flavors", "Flavors"),
    ("networks", "Networks"),
    ("volumes", "Volumes"),
    ("projects", "Projects"),
    ("users", "Users"),
];

/// Kinds an operator deletes one site at a time from here; projects and users are
/// identity, managed on the site's page or by a job.
const DELETABLE: &[&str] = &["servers", "images", "flavors", "networks", "volumes"];

/// One item of one site, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub site: String,
    pub id: String,
    pub name: String,
    pub status: Option<String>,
    /// The kind's figures: "2 vCPU · 4 GiB RAM · 20 GB disk".
    pub facts: String,
    /// Items with the same identity on several sites are one group: same flavor figures,
    /// same image data, same name otherwise.
    pub identity: String,
}

/// Items that are "the same thing" on several sites.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub facts: String,
    pub rows: Vec<Row>,
}

impl Group {
    /// Statuses with how many sites have each, e.g. `[("ACTIVE", 11), ("ERROR", 1)]`.
    pub fn statuses(&self) -> Vec<(String, usize)> {
        let mut counts = BTreeMap::<String, usize>::new();
        for status in self.rows.iter().filter_map(|r| r.status.clone()) {
            *counts.entry(status).or_default() += 1;
        }
        counts.into_iter().collect()
    }
}

#[derive(Deserialize)]
struct Sited<T> {
    site: String,
    #[serde(flatten)]
    item: T,
}

fn typed<T: DeserializeOwned>(item: Value) -> Option<(String, T)> {
    serde_json::from_value::<Sited<T>>(item)
        .ok()
        .map(|s| (s.site, s.item))
}

/// Reads one item of an aggregated answer; an item the dashboard cannot read is left out
/// (the count above the table still says how many the sites sent).
pub fn row(kind: &str, item: Value) -> Option<Row> {
    let unnamed = || "(no name)".to_owned();
    let row = match kind {
        "servers" => {
            let (site, s) = typed::<Server>(item)?;
            let flavor = s.flavor.name.or(s.flavor.id).unwrap_or_else(|| "?".into());
            Row {
                identity: format!("{}\u{0}{flavor}", s.name),
                site,
                id: s.id,
                name: s.name,
                status: Some(s.status),
                facts: format!("flavor {flavor}"),
            }
        }
        "images" => {
            let (site, i) = typed::<Image>(item)?;
            let name = i.name.unwrap_or_else(unnamed);
            let content = i.hash.or(i.checksum).unwrap_or_else(|| i.id.clone());
            let size = i
                .size
                .map(format::bytes)
                .unwrap_or_else(|| "no data".into());
            let disk = i.disk_format.unwrap_or_default();
            Row {
                identity: format!("{name}\u{0}{content}"),
                facts: format!("{size} · {disk}")
                    .trim_end_matches(" · ")
                    .to_owned(),
                site,
                id: i.id,
                name,
                status: Some(i.status),
            }
        }
        "flavors" => {
            let (site, f) = typed::<Flavor>(item)?;
            let facts = format!(
                "{} vCPU · {} RAM · {} GB disk",
                f.vcpus,
                format::bytes(f.ram_mb * 1024 * 1024),
                f.disk_gb
            );
            Row {
                identity: format!("{}\u{0}{facts}", f.name),
                site,
                id: f.id,
                name: f.name,
                status: None,
                facts,
            }
        }
        "networks" => {
            let (site, n) = typed::<Network>(item)?;
            let facts = [
                n.external.then_some("external"),
                n.shared.then_some("shared"),
                n.network_type.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ");
            Row {
                identity: n.name.clone(),
                site,
                id: n.id,
                name: n.name,
                status: Some(n.status),
                facts,
            }
        }
        "volumes" => {
            let (site, v) = typed::<Volume>(item)?;
            let name = v.name.unwrap_or_else(unnamed);
            Row {
                identity: format!("{name}\u{0}{}", v.size_gb),
                facts: format!(
                    "{} GB{}",
                    v.size_gb,
                    if v.bootable { " · bootable" } else { "" }
                ),
                site,
                id: v.id,
                name,
                status: Some(v.status),
            }
        }
        "projects" => {
            let (site, p) = typed::<Project>(item)?;
            Row {
                identity: p.name.clone(),
                facts: p.description,
                site,
                id: p.id,
                name: p.name,
                status: Some(if p.enabled { "enabled" } else { "disabled" }.into()),
            }
        }
        "users" => {
            let (site, u) = typed::<User>(item)?;
            Row {
                identity: u.name.clone(),
                site,
                id: u.id,
                name: u.name,
                status: Some(if u.enabled { "enabled" } else { "disabled" }.into()),
                facts: String::new(),
            }
        }
        _ => return None,
    };
    Some(row)
}

/// Groups rows by identity, in name order; within a group, sites in name order.
pub fn group(rows: Vec<Row>) -> Vec<Group> {
    let mut groups = BTreeMap::<(String, String), Group>::new();
    for row in rows {
        let key = (row.name.to_lowercase(), row.identity.clone());
        groups
            .entry(key)
            .or_insert_with(|| Group {
                name: row.name.clone(),
                facts: row.facts.clone(),
                rows: Vec::new(),
            })
            .rows
            .push(row);
    }
    groups
        .into_values()
        .map(|mut g| {
            g.rows.sort_by(|a, b| a.site.cmp(&b.site));
            g
        })
        .collect()
}

/// Where a site's item is on its page: the item's own view for servers, its tab otherwise.
fn href(kind: &str, row: &Row) -> String {
    let site = api::encode_query(&row.site);
    match kind {
        "servers" => format!("/sites/{site}/servers/{}", api::encode_query(&row.id)),
        _ => format!("/sites/{site}/{kind}"),
    }
}

#[component]
pub fn Resources() -> impl IntoView {
    let kind = RwSignal::new("servers");
    let selector_input = RwSignal::new(String::new());
    let selector = RwSignal::new(String::new());
    let name_input = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let reload = RwSignal::new(0u32);
    let data = LocalResource::new(move || {
        reload.track();
        let (kind, selector, name) = (kind.get(), selector.get(), name.get());
        async move { api::across_sites(kind, &selector, &name).await }
    });
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        selector.set(selector_input.get_untracked());
        name.set(name_input.get_untracked().trim().to_owned());
    };
    view! {
        <section>
            <h1>"Resources"</h1>
            <TabList label="Resource kind" tabs=KINDS.to_vec() selected=kind/>
            <form class="toolbar" role="search" on:submit=apply>
                <div class="field">
                    <label for="resource-name">"Name contains"</label>
                    <input id="resource-name" type="search" placeholder="e.g. web"
                        prop:value=name_input on:input=move |ev| name_input.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="selector">"Sites"</label>
                    <input id="selector" placeholder="all sites; region=eu,tier!=test; or site-001, site-002"
                        prop:value=selector_input on:input=move |ev| selector_input.set(event_target_value(&ev))/>
                </div>
                <button type="submit" class="secondary">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted" role="status">"Asking the sites…"</p> }>
                {move || data.get().map(|result| match result {
                    Ok(answer) => view! {
                        <ResourceTable kind=kind.get_untracked() answer=answer
                            changed=Callback::new(move |()| reload.update(|n| *n += 1))/>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// Sites whose answer is not complete, with why ("stale, read 3 min ago").
#[component]
pub fn MissingSites(answer: BTreeMap<String, overcast_api_types::SiteAnswer>) -> impl IntoView {
    let missing: Vec<_> = answer
        .into_iter()
        .filter(|(_, a)| !a.status.is_complete())
        .collect();
    (!missing.is_empty()).then(|| {
        view! {
            <div class="banner warning" role="status">
                "Not answered live: "
                {missing.into_iter().map(|(site, a)| {
                    let status = serde_json::to_value(a.status).ok()
                        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                        .unwrap_or_default();
                    let read = match (&a.as_of, a.status) {
                        (Some(as_of), SiteAnswerStatus::Stale) => view! { ", last read "<RelativeTime at=as_of.clone()/> }.into_any(),
                        _ => ().into_any(),
                    };
                    view! { <span class="missing-site"><A href=format!("/sites/{site}")>{site.clone()}</A>" ("{status}{read}")"</span> }
                }).collect_view()}
            </div>
        }
    })
}

#[component]
fn ResourceTable(kind: &'static str, answer: Aggregate, changed: Callback<()>) -> impl IntoView {
    let session = expect_context::<Session>();
    let answered = answer
        .sites
        .values()
        .filter(|a| a.status.is_complete())
        .count();
    let sites = answer.sites.len();
    let total = answer.total;
    let groups = group(
        answer
            .items
            .into_iter()
            .filter_map(|item| row(kind, item))
            .collect(),
    );
    let summary = format!(
        "{total} items, {} distinct, from {answered} of {sites} sites",
        groups.len()
    );
    let page = RwSignal::new(0usize);
    let count = groups.len();
    let error = RwSignal::new(None::<String>);
    let can_delete = session.can_operate() && DELETABLE.contains(&kind);
    view! {
        <MissingSites answer=answer.sites/>
        <p class="muted" aria-live="polite">{summary}</p>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {if groups.is_empty() {
            view! { <div class="empty">"Nothing here on the selected sites."</div> }.into_any()
        } else {
            view! {
                <table class="grouped">
                    <caption class="visually-hidden">{format!("{kind} across sites, one row per distinct item")}</caption>
                    <thead><tr>
                        <th scope="col">"Name"</th><th scope="col">"Details"</th>
                        <th scope="col">"Status"</th><th scope="col">"Sites"</th>
                    </tr></thead>
                    {move || page_of(&groups, page.get()).into_iter().map(|g| view! {
                        <GroupRows kind group=g can_delete changed error/>
                    }).collect_view()}
                </table>
                <Pager total=count page/>
            }.into_any()
        }}
    }
}

/// A group's summary row, and its per-site rows once expanded.
#[component]
fn GroupRows(
    kind: &'static str,
    group: Group,
    can_delete: bool,
    changed: Callback<()>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let statuses = group.statuses();
    let sites = group.rows.len();
    let sites_text = if sites == 1 {
        group.rows[0].site.clone()
    } else {
        format!("{sites} sites")
    };
    let rows = group.rows.clone();
    view! {
        <tbody class:open=move || open.get()>
            <tr>
                <th scope="row">{group.name.clone()}</th>
                <td>{group.facts.clone()}</td>
                <td>{statuses.into_iter().map(|(status, n)| view! {
                    <StatusBadge status=status/>{(sites > 1).then(|| format!(" ×{n} "))}
                }).collect_view()}</td>
                <td>
                    <button type="button" class="secondary small" aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.update(|o| *o = !*o)>
                        <span aria-hidden="true">{move || if open.get() { "▾ " } else { "▸ " }}</span>{sites_text.clone()}
                    </button>
                </td>
            </tr>
            <Show when=move || open.get()>
                {rows.clone().into_iter().map(|row| view! { <SiteRow kind row=row can_delete changed error/> }).collect_view()}
            </Show>
        </tbody>
    }
}

#[component]
fn SiteRow(
    kind: &'static str,
    row: Row,
    can_delete: bool,
    changed: Callback<()>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let path = format!(
        "/sites/{}/{kind}/{}",
        api::encode_query(&row.site),
        api::encode_query(&row.id)
    );
    let delete = Callback::new(move |()| {
        let call = {
            let path = path.clone();
            async move { api::send_empty("DELETE", &path).await }
        };
        api::spawn_call(call, error, move |()| changed.run(()));
    });
    let question = format!("Delete {} on {}?", row.name, row.site);
    view! {
        <tr class="site-row">
            <td class="indent"><A href=href(kind, &row)>{format!("{} on {}", row.name, row.site)}</A></td>
            <td class="mono">{row.id.clone()}</td>
            <td>{row.status.clone().map(|s| view! { <StatusBadge status=s/> })}</td>
            <td class="row-actions">
                {can_delete.then(|| view! { <ConfirmButton label="Delete" question=question on_confirm=delete/> })}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flavor(site: &str, name: &str, vcpus: u32) -> Value {
        json!({"site": site, "id": format!("{site}-{name}"), "name": name, "vcpus": vcpus,
               "ram_mb": 2048, "disk_gb": 20, "is_public": true})
    }

    #[test]
    fn the_same_flavor_on_many_sites_is_one_group() {
        let rows = vec![
            flavor("site-002", "m1.small", 1),
            flavor("site-001", "m1.small", 1),
            flavor("site-003", "m1.small", 2),
            flavor("site-001", "a.tiny", 1),
        ]
        .into_iter()
        .filter_map(|item| row("flavors", item))
        .collect();
        let groups = group(rows);
        let shape: Vec<_> = groups
            .iter()
            .map(|g| {
                (
                    g.name.as_str(),
                    g.rows.iter().map(|r| r.site.as_str()).collect::<Vec<_>>(),
                )
            })
            .collect();
        // A flavor of the same name but other figures is another thing.
        assert_eq!(
            shape,
            vec![
                ("a.tiny", vec!["site-001"]),
                ("m1.small", vec!["site-001", "site-002"]),
                ("m1.small", vec!["site-003"]),
            ]
        );
        assert_eq!(groups[1].facts, "1 vCPU · 2 GiB RAM · 20 GB disk");
    }

    #[test]
    fn images_group_by_content_and_count_statuses() {
        let image = |site: &str, hash: &str, status: &str| {
            json!({"site": site, "id": format!("{site}-img"), "name": "cirros", "status": status,
                   "visibility": "public", "size": 1_048_576, "disk_format": "qcow2", "hash": hash})
        };
        let rows = vec![
            image("site-001", "aa", "active"),
            image("site-002", "aa", "queued"),
            image("site-003", "aa", "active"),
            image("site-004", "bb", "active"),
        ]
        .into_iter()
        .filter_map(|item| row("images", item))
        .collect();
        let groups = group(rows);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].statuses(),
            vec![("active".to_owned(), 2), ("queued".to_owned(), 1)]
        );
        assert_eq!(groups[0].facts, "1.0 MiB · qcow2");
    }

    #[test]
    fn an_item_the_dashboard_cannot_read_is_left_out() {
        assert_eq!(row("flavors", json!({"site": "site-001", "name": 3})), None);
        assert_eq!(row("kettles", flavor("site-001", "m1", 1)), None);
    }
}
