use leptos::prelude::*;
use overcast_api_types::{Aggregate, SiteAnswerStatus};
use serde_json::Value;

use leptos_router::components::A;

use crate::api;
use crate::components::pager::{page_of, Pager};
use crate::components::tabs::TabList;

const KINDS: &[(&str, &str)] = &[
    ("servers", "Servers"),
    ("images", "Images"),
    ("flavors", "Flavors"),
    ("networks", "Networks"),
    ("volumes", "Volumes"),
    ("projects", "Projects"),
    ("users", "Users"),
];

/// A short description of an item, by kind, for the table's Details column.
fn details(kind: &str, item: &Value) -> String {
    let text = |key: &str| item[key].as_str().unwrap_or_default().to_owned();
    let number = |key: &str| {
        item[key]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    match kind {
        "servers" => format!(
            "{} · {}",
            text("status"),
            item["flavor"]["name"]
                .as_str()
                .or(item["flavor"]["id"].as_str())
                .unwrap_or("?")
        ),
        "images" => format!("{} · {} bytes", text("status"), number("size")),
        "flavors" => format!(
            "{} vCPU · {} MB RAM · {} GB disk",
            number("vcpus"),
            number("ram_mb"),
            number("disk_gb")
        ),
        "networks" => format!(
            "{}{}",
            text("status"),
            if item["external"] == true {
                " · external"
            } else {
                ""
            }
        ),
        "volumes" => format!("{} · {} GB", text("status"), number("size_gb")),
        _ => {
            if item["enabled"] == false {
                "disabled".into()
            } else {
                "enabled".into()
            }
        }
    }
}

#[component]
pub fn Resources() -> impl IntoView {
    let kind = RwSignal::new("servers");
    let selector_input = RwSignal::new(String::new());
    let selector = RwSignal::new(String::new());
    let data = LocalResource::new(move || {
        let (kind, selector) = (kind.get(), selector.get());
        async move { api::across_sites(kind, &selector).await }
    });
    view! {
        <section>
            <h1>"Resources"</h1>
            <div class="toolbar">
                <TabList label="Resource kind" tabs=KINDS.to_vec() selected=kind/>
                <form class="selector" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); selector.set(selector_input.get_untracked()); }>
                    <label for="selector">"Sites"</label>
                    <input id="selector" placeholder="all sites; labels region=eu,tier!=test; or site-001, site-002"
                        prop:value=selector_input on:input=move |ev| selector_input.set(event_target_value(&ev))/>
                    <button type="submit" class="secondary">"Apply"</button>
                </form>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Asking the sites…"</p> }>
                {move || data.get().map(|result| match result {
                    Ok(answer) => view! { <ResourceTable kind=kind.get_untracked() answer=answer/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ResourceTable(kind: &'static str, answer: Aggregate) -> impl IntoView {
    let missing: Vec<String> = answer
        .sites
        .iter()
        .filter(|(_, a)| !a.status.is_complete())
        .map(|(site, a)| {
            let status = serde_json::to_value(a.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            match &a.as_of {
                Some(as_of) if a.status == SiteAnswerStatus::Stale => {
                    format!("{site} (stale, as of {as_of})")
                }
                _ => format!("{site} ({status})"),
            }
        })
        .collect();
    let answered = answer
        .sites
        .values()
        .filter(|a| a.status.is_complete())
        .count();
    let summary = format!(
        "{} items from {} of {} sites",
        answer.total,
        answered,
        answer.sites.len()
    );
    view! {
        <Show when={let none = missing.is_empty(); move || !none}>
            <div class="banner warning" role="status">{format!("Not answered live: {}", missing.join(", "))}</div>
        </Show>
        <p class="muted">{summary}</p>
        {let page = RwSignal::new(0usize); let total = answer.items.len(); if answer.items.is_empty() {
            view! { <div class="empty">"Nothing here on the selected sites."</div> }.into_any()
        } else {
            view! {
                <table>
                    <caption class="visually-hidden">{format!("{kind} across sites")}</caption>
                    <thead><tr><th scope="col">"Site"</th><th scope="col">"Name"</th><th scope="col">"Details"</th><th scope="col">"ID"</th></tr></thead>
                    <tbody>
                        {move || page_of(&answer.items, page.get()).into_iter().map(|item| { let site = item["site"].as_str().unwrap_or_default().to_owned(); view! {
                            <tr>
                                <td><A href=format!("/sites/{site}")>{site.clone()}</A></td>
                                <th scope="row">{item["name"].as_str().unwrap_or("(no name)").to_owned()}</th>
                                <td>{details(kind, &item)}</td>
                                <td class="mono">{item["id"].as_str().unwrap_or_default().to_owned()}</td>
                            </tr>
                        }}).collect_view()}
                    </tbody>
                </table>
                <Pager total=total page/>
            }.into_any()
        }}
    }
}
