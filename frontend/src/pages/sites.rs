//! Every registered site: a sortable, filterable, paged table; adding a site by hand or
//! from a clouds.yaml.

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::{ImportReport, NewSite, Site, SiteCredentials};

use crate::api;
use crate::app::Session;
use crate::components::badge::StateBadge;
use crate::components::field::Field;
use crate::components::pager::{page_of, Pager};
use crate::components::time::MaybeTime;
use crate::format;
use crate::pages::overview::live_sites;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Region,
    State,
    Latency,
    LastSeen,
}

const COLUMNS: &[(Column, &str)] = &[
    (Column::Name, "Name"),
    (Column::Region, "Region"),
    (Column::State, "State"),
    (Column::Latency, "Latency"),
    (Column::LastSeen, "Last seen"),
];

fn sort(sites: &mut [Site], column: Column, ascending: bool) {
    sites.sort_by(|a, b| {
        let order = match column {
            Column::Name => a.name.cmp(&b.name),
            Column::Region => a.region.cmp(&b.region),
            Column::State => a.state.as_str().cmp(b.state.as_str()),
            Column::Latency => a.latency_ms.cmp(&b.latency_ms),
            Column::LastSeen => a.last_seen.cmp(&b.last_seen),
        };
        let order = order.then_with(|| a.name.cmp(&b.name));
        if ascending {
            order
        } else {
            order.reverse()
        }
    });
}

/// Whether a site matches the filter box: every word must appear in its name, region,
/// state, a label or a capability.
fn matches(site: &Site, filter: &str) -> bool {
    let haystack = format!(
        "{} {} {} {} {}",
        site.name,
        site.region.as_deref().unwrap_or_default(),
        site.state.as_str(),
        format::labels(&site.labels),
        site.capabilities
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

#[component]
pub fn Sites() -> impl IntoView {
    let session = expect_context::<Session>();
    let (sites, reload) = live_sites();
    let filter = RwSignal::new(String::new());
    let sort_by = RwSignal::new((Column::Name, true));
    let page = RwSignal::new(0usize);
    let adding = RwSignal::new(None::<&'static str>);
    let shown = Memo::new(move |_| {
        let mut rows: Vec<Site> = match sites.get() {
            Some(Ok(list)) => list
                .into_iter()
                .filter(|s| matches(s, &filter.get()))
                .collect(),
            _ => Vec::new(),
        };
        let (column, ascending) = sort_by.get();
        sort(&mut rows, column, ascending);
        rows
    });
    let after_change = Callback::new(move |()| {
        adding.set(None);
        reload.update(|n| *n += 1);
    });
    view! {
        <section>
            <div class="page-head">
                <h1>"Sites"</h1>
                <Show when=move || session.is_admin()>
                    <div class="actions">
                        <button type="button" on:click=move |_| adding.set(Some("site"))>"Add site"</button>
                        <button type="button" class="secondary" on:click=move |_| adding.set(Some("import"))>"Import clouds.yaml"</button>
                    </div>
                </Show>
            </div>
            {move || match adding.get() {
                Some("site") => view! { <AddSite done=after_change cancel=Callback::new(move |()| adding.set(None))/> }.into_any(),
                Some(_) => view! { <ImportClouds done=after_change cancel=Callback::new(move |()| adding.set(None))/> }.into_any(),
                None => ().into_any(),
            }}
            <div class="toolbar">
                <label for="site-filter">"Filter"</label>
                <input id="site-filter" type="search" placeholder="name, region, state or label, e.g. eu unreachable"
                    prop:value=filter on:input=move |ev| { filter.set(event_target_value(&ev)); page.set(0); }/>
                <span class="muted" aria-live="polite">{move || format!("{} sites", shown.with(Vec::len))}</span>
            </div>
            {move || match sites.get() {
                None => view! { <p class="muted" role="status">"Loading sites…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <div class="empty">"No site is registered yet."</div> }.into_any(),
                Some(Ok(_)) => view! {
                    <table>
                        <caption class="visually-hidden">"Registered sites; column headers sort"</caption>
                        <thead><tr>
                            {COLUMNS.iter().map(|(column, title)| {
                                let column = *column;
                                let order = move || match sort_by.get() {
                                    (c, true) if c == column => "ascending",
                                    (c, false) if c == column => "descending",
                                    _ => "none",
                                };
                                view! {
                                    <th scope="col" aria-sort=order>
                                        <button type="button" class="sort" on:click=move |_| sort_by.update(|(c, asc)| {
                                            if *c == column { *asc = !*asc } else { *c = column; *asc = true }
                                        })>{*title}{move || match order() { "ascending" => " ▲", "descending" => " ▼", _ => "" }}</button>
                                    </th>
                                }
                            }).collect_view()}
                            <th scope="col">"Labels"</th>
                            <th scope="col">"Services"</th>
                        </tr></thead>
                        <tbody>
                            {move || shown.with(|rows| page_of(rows, page.get())).into_iter().map(|site| view! {
                                <tr>
                                    <th scope="row"><A href=format!("/sites/{}", site.name)>{site.name.clone()}</A></th>
                                    <td>{site.region.clone().unwrap_or_default()}</td>
                                    <td><StateBadge state=site.state/></td>
                                    <td class="nowrap">{format::latency(site.latency_ms)}</td>
                                    <td><MaybeTime at=site.last_seen.clone() otherwise="never"/></td>
                                    <td>{site.labels.iter().map(|(k, v)| view! { <span class="label">{format!("{k}={v}")}</span> }).collect_view()}</td>
                                    // The versions are on the site's page; here they only widen the table.
                                    <td class="small-text" title=format::capabilities(&site.capabilities)>
                                        {site.capabilities.keys().cloned().collect::<Vec<_>>().join(" · ")}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Pager total=Signal::derive(move || shown.with(Vec::len)) page/>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn AddSite(done: Callback<()>, cancel: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let auth_url = RwSignal::new(String::new());
    let region = RwSignal::new(String::new());
    let labels = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let project = RwSignal::new(String::from("admin"));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let labels = match format::parse_labels(&labels.get_untracked()) {
            Ok(labels) => labels,
            Err(message) => return error.set(Some(format!("Labels: {message}"))),
        };
        let site = NewSite {
            name: name.get_untracked().trim().to_owned(),
            auth_url: auth_url.get_untracked().trim().to_owned(),
            region: Some(region.get_untracked().trim().to_owned()).filter(|r| !r.is_empty()),
            interface: None,
            labels,
            credentials: SiteCredentials::Password {
                username: username.get_untracked(),
                password: password.get_untracked(),
                project_name: project.get_untracked(),
                user_domain_name: "Default".into(),
                project_domain_name: "Default".into(),
            },
            insecure: false,
            ca_bundle: None,
        };
        busy.set(true);
        let call = async move {
            let added = api::send::<_, Site>("POST", "/sites", &site).await;
            busy.set(false);
            added
        };
        api::spawn_call(call, error, move |_| done.run(()));
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="add-site-title">
            <h2 id="add-site-title">"Add a site"</h2>
            <div class="grid-form">
                <Field id="site-name" label="Name" value=name placeholder="site-042" required=true/>
                <Field id="site-auth-url" label="Keystone URL" value=auth_url kind="url" placeholder="https://keystone.example:5000/v3" required=true/>
                <Field id="site-region" label="Region" value=region placeholder="RegionOne"/>
                <Field id="site-labels" label="Labels" value=labels placeholder="region=eu, tier=edge"/>
                <Field id="site-username" label="Username" value=username required=true/>
                <Field id="site-password" label="Password" value=password kind="password" required=true/>
                <Field id="site-project" label="Project" value=project required=true/>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                <button type="submit" disabled=move || busy.get()>"Add site"</button>
                <button type="button" class="secondary" on:click=move |_| cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}

#[component]
fn ImportClouds(done: Callback<()>, cancel: Callback<()>) -> impl IntoView {
    let yaml = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let report = RwSignal::new(None::<ImportReport>);
    let busy = RwSignal::new(false);
    let read_file = move |ev: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        let file = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        if let Some(file) = file {
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => yaml.set(text.as_string().unwrap_or_default()),
                    Err(_) => error.set(Some("The file could not be read.".into())),
                }
            });
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let call = async move {
            let imported =
                api::post_yaml::<ImportReport>("/sites/import", yaml.get_untracked()).await;
            busy.set(false);
            imported
        };
        api::spawn_call(call, error, move |answer| report.set(Some(answer)));
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="import-title">
            <h2 id="import-title">"Import a clouds.yaml"</h2>
            <p class="muted">"Every cloud becomes a site of the same name; existing sites are replaced."</p>
            <div class="field">
                <label for="clouds-file">"File"</label>
                <input id="clouds-file" type="file" accept=".yaml,.yml" on:change=read_file/>
            </div>
            <div class="field">
                <label for="clouds-yaml">"Or paste it"</label>
                <textarea id="clouds-yaml" rows="8" class="mono" prop:value=yaml
                    on:input=move |ev| yaml.set(event_target_value(&ev))></textarea>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || report.get().map(|r| view! {
                <div class="banner" role="status">
                    {format!("Created {}, replaced {}, skipped {}, failed {}.", r.created.len(), r.replaced.len(), r.skipped.len(), r.failed.len())}
                    <ul>{r.skipped.iter().chain(&r.failed).map(|issue| view! { <li>{format!("{}: {}", issue.name, issue.reason)}</li> }).collect_view()}</ul>
                </div>
            })}
            <div class="actions">
                <button type="submit" disabled=move || busy.get() || yaml.with(String::is_empty)>"Import"</button>
                <button type="button" class="secondary" on:click=move |_| if report.with(Option::is_some) { done.run(()) } else { cancel.run(()) }>
                    {move || if report.with(Option::is_some) { "Done" } else { "Cancel" }}</button>
            </div>
        </form>
    }
}
