//! The fleet at a glance: every site's state, fleet totals, recent jobs.

use gloo_storage::{LocalStorage, Storage};
use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::jobs::JobList;
use overcast_api_types::{InventorySummary, Site, SiteList, SiteState};

use crate::api;
use crate::app::Live;
use crate::components::badge::{StateBadge, StatusBadge};
use crate::components::meter::Meter;
use crate::components::progress::Progress;
use crate::components::time::{MaybeTime, RelativeTime};
use crate::format;
use crate::pages::jobs::percent_done;
use crate::pages::metrics;

/// The registered sites, kept current by the console's events: loaded again on every
/// (re)connection of the stream or bump of the returned counter, patched in place by
/// each site event.
pub fn live_sites() -> (RwSignal<api::Loaded<Vec<Site>>>, RwSignal<u32>) {
    let live = expect_context::<Live>();
    let sites = RwSignal::new(None);
    let reload = RwSignal::new(0u32);
    Effect::new(move |_| {
        live.resync.track();
        reload.track();
        leptos::task::spawn_local(async move {
            let answer = api::get::<SiteList>("/sites").await.map(|l| l.items);
            sites.set(Some(answer));
        });
    });
    Effect::new(move |_| {
        if let Some(change) = live.site.get() {
            sites.update(|sites| {
                if let Some(Ok(sites)) = sites {
                    if let Some(site) = sites.iter_mut().find(|s| s.name == change.site) {
                        site.state = change.to;
                        if change.to != SiteState::Unreachable {
                            site.last_seen = Some(change.at.clone());
                        }
                    }
                }
            });
        }
    });
    (sites, reload)
}

#[component]
pub fn Overview() -> impl IntoView {
    let live = expect_context::<Live>();
    let (sites, _) = live_sites();
    // What the tiles show besides the state: the region, or a label the reader chose
    // (kept for the next visit).
    let tile_fact = RwSignal::new(
        LocalStorage::get::<String>(TILE_FACT_KEY).unwrap_or_else(|_| REGION.to_owned()),
    );
    Effect::new(move |_| {
        let _saved = LocalStorage::set(TILE_FACT_KEY, tile_fact.get());
    });
    // The inventory changes without events (background refreshes): read its totals again
    // every 15 s while the overview is open.
    let tick = RwSignal::new(0u32);
    if let Ok(handle) = set_interval_with_handle(
        move || tick.update(|n| *n += 1),
        std::time::Duration::from_secs(15),
    ) {
        on_cleanup(move || handle.clear());
    }
    let summary = LocalResource::new(move || {
        live.resync.track();
        tick.track();
        api::get::<InventorySummary>("/inventory/summary")
    });
    let capacity = metrics::summary(
        Signal::stored(String::new()),
        Signal::derive(move || {
            live.resync.track();
            tick.get()
        }),
    );
    let jobs = LocalResource::new(move || {
        live.job.track();
        api::get::<JobList>("/jobs?limit=5")
    });
    view! {
        <section>
            <h1>"Overview"</h1>
            {move || match sites.get() {
                None => view! { <p class="muted" role="status">"Loading sites…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(list)) => view! { <Fleet sites=list tile_fact/> }.into_any(),
            }}
            <div class="section-head">
                <h2>"Capacity"</h2>
                <A href="/metrics">"Charts over time"</A>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading capacity…"</p> }>
                {move || capacity.get().map(|answer| match answer {
                    Ok(summary) => view! { <Capacity summary/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Transition>
            <div class="columns">
                <div>
                    <h2>"Inventory"</h2>
                    <Transition fallback=|| view! { <p class="muted">"Loading totals…"</p> }>
                        {move || summary.get().map(|answer| match answer {
                            Ok(summary) => view! { <Inventory summary/> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                        })}
                    </Transition>
                </div>
                <div>
                    <div class="section-head">
                        <h2>"Recent jobs"</h2>
                        <A href="/jobs">"All jobs"</A>
                    </div>
                    <Transition fallback=|| view! { <p class="muted">"Loading jobs…"</p> }>
                        {move || jobs.get().map(|answer| match answer {
                            Ok(list) if list.items.is_empty() => view! { <div class="empty">"No job yet. Start one from the Jobs page."</div> }.into_any(),
                            Ok(list) => view! {
                                <ul class="recent-jobs">
                                    {list.items.into_iter().map(|job| {
                                        let done = percent_done(&job);
                                        let label = format!("{} progress", job.kind);
                                        view! {
                                            <li>
                                                <A href=format!("/jobs/{}", job.id)>{job.kind.clone()}</A>
                                                <StatusBadge status=job.state.as_str().to_owned()/>
                                                <Progress value=done label/>
                                                <span class="muted"><RelativeTime at=job.created_at.clone()/></span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                        })}
                    </Transition>
                </div>
            </div>
        </section>
    }
}

const TILE_FACT_KEY: &str = "overcast.overview.tile-fact";
const REGION: &str = "region";

/// The region, or the value of label `key`, of a site.
fn tile_fact_of(site: &Site, key: &str) -> Option<String> {
    if key == REGION {
        site.region.clone()
    } else {
        site.labels.get(key).map(|v| format!("{key}={v}"))
    }
}

#[component]
fn Fleet(sites: Vec<Site>, tile_fact: RwSignal<String>) -> impl IntoView {
    let label_keys: std::collections::BTreeSet<String> = sites
        .iter()
        .flat_map(|s| s.labels.keys().cloned())
        .collect();
    let count = |state: SiteState| sites.iter().filter(|s| s.state == state).count();
    let totals = [
        ("Sites", sites.len(), "all"),
        ("Online", count(SiteState::Online), "online"),
        ("Degraded", count(SiteState::Degraded), "degraded"),
        ("Unreachable", count(SiteState::Unreachable), "unreachable"),
        ("Unknown", count(SiteState::Unknown), "unknown"),
    ];
    let unreachable: Vec<String> = sites
        .iter()
        .filter(|s| s.state == SiteState::Unreachable)
        .map(|s| s.name.clone())
        .collect();
    view! {
        {(!unreachable.is_empty()).then(|| view! {
            <div class="banner warning" role="status">
                <strong>{format!("{} unreachable: ", unreachable.len())}</strong>
                {unreachable.join(", ")}
                <span class="muted">" — their data is shown as last seen; jobs wait for them."</span>
            </div>
        })}
        <dl class="totals">
            {totals.into_iter().map(|(label, n, state)| view! { <div class=format!("total state-{state}")><dt>{label}</dt><dd>{n}</dd></div> }).collect_view()}
        </dl>
        <div class="section-head">
            <h2>"Sites"</h2>
            <div class="inline-field">
                <label for="tile-fact">"Tiles show"</label>
                <select id="tile-fact" prop:value=tile_fact on:change=move |ev| tile_fact.set(event_target_value(&ev))>
                    <option value=REGION>"region"</option>
                    {label_keys.into_iter().map(|key| view! { <option value=key.clone()>{format!("label {key}")}</option> }).collect_view()}
                </select>
            </div>
        </div>
        {if sites.is_empty() {
            view! { <div class="empty">"No site is registered yet. "<A href="/sites">"Add one on the Sites page."</A></div> }.into_any()
        } else {
            view! {
                <ul class="site-grid" aria-label="Site states">
                    {sites.into_iter().map(|site| {
                        let fact_site = site.clone();
                        view! {
                            <li class=format!("tile state-{}", site.state.as_str())>
                                <A href=format!("/sites/{}", site.name)>{site.name.clone()}</A>
                                <StateBadge state=site.state/>
                                <span class="fact">{move || tile_fact_of(&fact_site, &tile_fact.get()).unwrap_or_else(|| "–".into())}</span>
                                <span class="muted">{format::latency(site.latency_ms)}" · "<MaybeTime at=site.last_seen.clone() otherwise="never seen"/></span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

#[component]
fn Inventory(summary: InventorySummary) -> impl IntoView {
    let servers: u64 = summary.servers.values().sum();
    view! {
        <dl class="totals small">
            <div class="total"><dt>"Servers"</dt><dd>{servers}</dd></div>
            <div class="total"><dt>"Images"</dt><dd>{summary.images}</dd></div>
            <div class="total"><dt>"Volumes"</dt><dd>{summary.volumes}</dd></div>
            <div class="total"><dt>"Networks"</dt><dd>{summary.networks}</dd></div>
        </dl>
        <p class="muted">
            {summary.servers.iter().map(|(status, n)| format!("{n} {}", status.to_lowercase())).collect::<Vec<_>>().join(" · ")}
        </p>
        <p class="muted">{format!("From the inventory of {} sites", summary.sites_counted)}
            {summary.oldest_as_of.map(|t| view! { ", oldest read "<RelativeTime at=t/> })}</p>
    }
}

/// How a meter's figure reads.
type Unit = fn(u64) -> String;

/// The fleet's capacity and what is allocated of it, from the last collection of every
/// site that reports: the sites that do not are left out, and counted.
#[component]
fn Capacity(summary: metrics::Summary) -> impl IntoView {
    let figure = |name: &str| {
        summary
            .totals
            .get(name)
            .map_or(0, |v| v.max(0.0).round() as u64)
    };
    let total = summary.sites_reporting + summary.sites_missing;
    let meters: [(&str, &str, u64, u64, Unit); 3] = [
        (
            "vCPUs used across the fleet",
            "vCPUs",
            figure("used_vcpus"),
            figure("capacity_vcpus"),
            |n| n.to_string(),
        ),
        (
            "RAM used across the fleet",
            "RAM",
            figure("used_ram_mb"),
            figure("capacity_ram_mb"),
            format::megabytes,
        ),
        (
            "Disk used across the fleet",
            "Disk",
            figure("used_disk_gb"),
            figure("capacity_disk_gb"),
            |n| format!("{n} GB"),
        ),
    ];
    view! {
        <dl class="capacity">
            {meters.into_iter().map(|(label, title, used, total, unit)| view! {
                <div><dt>{title}</dt><dd><Meter label used total=Some(total) unit/></dd></div>
            }).collect_view()}
        </dl>
        <p class="muted" data-reporting=summary.sites_reporting.to_string()>
            {metrics::reporting_text(summary.sites_reporting, total)}
            {(summary.sites_missing > 0).then(|| format!(": {} left out of these totals until they do.", summary.sites_missing))}
        </p>
    }
}
