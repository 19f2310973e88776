//! The quotas tab: a project's limits per service, by name, with what it uses of them.

use std::collections::BTreeMap;

use leptos::prelude::*;
use overcast_api_types::l1::{Project, Quotas};

use super::tabs::{no_copy, read_values, typed, Failure};
use crate::api;
use crate::components::meter::Meter;
use crate::format;

/// Where a limit goes in its table: the ones people look for first, then by name.
fn rank(service: &str, key: &str) -> usize {
    const FIRST: &[(&str, &str)] = &[
        ("compute", "instances"),
        ("compute", "cores"),
        ("compute", "ram"),
        ("network", "network"),
        ("network", "subnet"),
        ("network", "port"),
        ("network", "floatingip"),
        ("volume", "volumes"),
        ("volume", "gigabytes"),
    ];
    FIRST
        .iter()
        .position(|(s, k)| *s == service && *k == key)
        .unwrap_or(FIRST.len())
}

/// Limits on one thing at a time (a volume's size, a server's metadata), not on a
/// total: nothing is "in use" of them, whatever the site reports.
fn per_item(service: &str, key: &str) -> bool {
    matches!(
        (service, key),
        ("volume", "per_volume_gigabytes")
            | ("compute", "metadata_items")
            | ("compute", "server_group_members")
            | ("compute", "injected_files")
            | ("compute", "injected_file_content_bytes")
            | ("compute", "injected_file_path_bytes")
    )
}

#[component]
pub fn QuotasTab(site: String, unreachable: Signal<bool>) -> impl IntoView {
    let projects = {
        let site = site.clone();
        LocalResource::new(move || {
            let offline = unreachable.get();
            let site = site.clone();
            async move {
                read_values(&site, "projects", true, offline)
                    .await
                    .map(|(items, _)| typed::<Project>(items))
            }
        })
    };
    let chosen = RwSignal::new(String::new());
    // The console's own project first: it is what the site's quotas are usually about.
    Effect::new(move |_| {
        if let Some(Ok(list)) = projects.get() {
            if chosen.get_untracked().is_empty() {
                let first = list
                    .iter()
                    .find(|p| p.name == "admin")
                    .or(list.first())
                    .map(|p| p.id.clone());
                if let Some(id) = first {
                    chosen.set(id);
                }
            }
        }
    });
    let quotas = {
        let site = site.clone();
        LocalResource::new(move || {
            let (project, offline) = (chosen.get(), unreachable.get());
            let path = format!(
                "/sites/{}/quotas/{}",
                api::encode_query(&site),
                api::encode_query(&project)
            );
            async move {
                if offline {
                    return Err(Failure::NoCopy);
                }
                if project.is_empty() {
                    return Ok(None);
                }
                api::get_as::<Quotas>(&path).await.map(Some).map_err(|e| {
                    if super::tabs::is_offline(&e) {
                        Failure::NoCopy
                    } else {
                        Failure::Api(e)
                    }
                })
            }
        })
    };
    let site_name = site.clone();
    view! {
        {move || projects.get().map(|answer| match answer {
            Ok(list) if !list.is_empty() => view! {
                <div class="toolbar">
                    <label for="quota-project">"Project"</label>
                    <select id="quota-project" prop:value=chosen on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {list.into_iter().map(|p| view! { <option value=p.id.clone()>{p.name.clone()}</option> }).collect_view()}
                    </select>
                </div>
            }.into_any(),
            Err(Failure::Api(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            _ => ().into_any(),
        })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Asking the site…"</p> }>
            {move || quotas.get().map(|answer| match answer {
                // The project list's own failure is shown above.
                Ok(None) if matches!(projects.get(), Some(Err(Failure::Api(_)))) => ().into_any(),
                Err(Failure::NoCopy) => view! { <div class="empty" role="status">{no_copy(&site_name, "quotas")}</div> }.into_any(),
                Err(Failure::Api(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Ok(None) => view! { <p class="muted">"This site has no projects to show quotas of."</p> }.into_any(),
                Ok(Some(quotas)) => view! { <QuotaTables quotas/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn QuotaTables(quotas: Quotas) -> impl IntoView {
    let project = quotas
        .project_name
        .clone()
        .unwrap_or_else(|| quotas.project_id.clone());
    let groups = [
        ("compute", "Compute", &quotas.compute, &quotas.usage.compute),
        ("network", "Network", &quotas.network, &quotas.usage.network),
        (
            "volume",
            "Block storage",
            &quotas.volume,
            &quotas.usage.volume,
        ),
    ]
    .into_iter()
    .filter(|(_, _, limits, _)| !limits.is_empty())
    .map(|(service, title, limits, usage)| (service, title, limits.clone(), usage.clone()))
    .collect::<Vec<_>>();
    view! {
        <h2>{format!("Quotas of project {project}")}</h2>
        <div class="quota-grid">
            {groups.into_iter().map(|(service, title, limits, usage)| view! { <QuotaTable service title limits usage/> }).collect_view()}
        </div>
    }
}

#[component]
fn QuotaTable(
    service: &'static str,
    title: &'static str,
    limits: BTreeMap<String, i64>,
    usage: BTreeMap<String, i64>,
) -> impl IntoView {
    let mut rows: Vec<(String, i64, Option<i64>)> = limits
        .into_iter()
        .map(|(key, limit)| {
            let used = usage
                .get(&key)
                .copied()
                .filter(|_| !per_item(service, &key));
            (key, limit, used)
        })
        .collect();
    rows.sort_by_key(|(key, _, _)| (rank(service, key), format::quota_name(service, key)));
    view! {
        <div>
            <table>
                <caption>{title}</caption>
                <thead><tr><th scope="col">"Resource"</th><th scope="col">"In use of the limit"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|(key, limit, used)| {
                        let name = format::quota_name(service, &key);
                        let cell = match used {
                            None => format::limit(limit).into_any(),
                            Some(used) if limit > 0 => {
                                view! { <Meter label=format!("{name} in use") used=used.max(0) as u64 total=Some(limit as u64)/> }.into_any()
                            }
                            Some(used) if limit == 0 => format!("{used} in use · none allowed").into_any(),
                            Some(used) => format!("{used} in use · unlimited").into_any(),
                        };
                        view! {
                            <tr>
                                <th scope="row">{name}</th>
                                <td>{cell}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
