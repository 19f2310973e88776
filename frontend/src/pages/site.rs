//! One site (level L1): what it is, and tabs for each kind of resource it holds, with
//! the actions an operator takes on them.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use overcast_api_types::l1::{
    Items, NetworkAttachment, NetworkMode, NewServer, ServerAction, ServerActionRequest,
    ServerNetworks, AUTO_ALLOCATION, SETTLING_SERVER_STATUSES,
};
use overcast_api_types::Site;
use serde_json::Value;

use crate::api;
use crate::app::{Live, Session};
use crate::components::badge::{StateBadge, StatusBadge};
use crate::components::confirm::ConfirmButton;
use crate::components::pager::{page_of, Pager};
use crate::components::tabs::TabList;
use crate::components::time::MaybeTime;
use crate::format;

/// A tab: its API segment, its title, its columns (title, JSON path) and the field that
/// names an item in the API when it can be deleted.
struct Tab {
    segment: &'static str,
    title: &'static str,
    columns: &'static [(&'static str, &'static str)],
    delete_by: Option<&'static str>,
}

const TABS: &[Tab] = &[
    Tab {
        segment: "servers",
        title: "Servers",
        columns: &[
            ("Name", "name"),
            ("Status", "status"),
            ("Flavor", "flavor.name"),
            ("Addresses", "addresses"),
            ("Created", "created"),
        ],
        delete_by: Some("id"),
    },
    Tab {
        segment: "images",
        title: "Images",
        columns: &[
            ("Name", "name"),
            ("Status", "status"),
            ("Visibility", "visibility"),
            ("Format", "disk_format"),
            ("Size (bytes)", "size"),
        ],
        delete_by: Some("id"),
    },
    Tab {
        segment: "flavors",
        title: "Flavors",
        columns: &[
            ("Name", "name"),
            ("vCPUs", "vcpus"),
            ("RAM (MB)", "ram_mb"),
            ("Disk (GB)", "disk_gb"),
            ("Public", "is_public"),
        ],
        delete_by: Some("id"),
    },
    Tab {
        segment: "networks",
        title: "Networks",
        columns: &[
            ("Name", "name"),
            ("Status", "status"),
            ("Shared", "shared"),
            ("External", "external"),
            ("Subnets", "subnets"),
        ],
        delete_by: Some("id"),
    },
    Tab {
        segment: "volumes",
        title: "Volumes",
        columns: &[
            ("Name", "name"),
            ("Status", "status"),
            ("Size (GB)", "size_gb"),
            ("Bootable", "bootable"),
            ("Created", "created_at"),
        ],
        delete_by: Some("id"),
    },
    Tab {
        segment: "keypairs",
        title: "Key pairs",
        columns: &[
            ("Name", "name"),
            ("Type", "kind"),
            ("Fingerprint", "fingerprint"),
        ],
        delete_by: Some("name"),
    },
    Tab {
        segment: "projects",
        title: "Projects",
        columns: &[
            ("Name", "name"),
            ("Description", "description"),
            ("Enabled", "enabled"),
            ("Domain", "domain_id"),
        ],
        delete_by: None,
    },
    Tab {
        segment: "users",
        title: "Users",
        columns: &[
            ("Name", "name"),
            ("Enabled", "enabled"),
            ("Domain", "domain_id"),
            ("Default project", "default_project_id"),
        ],
        delete_by: None,
    },
    Tab {
        segment: "quotas",
        title: "Quotas",
        columns: &[],
        delete_by: None,
    },
    Tab {
        segment: "hypervisors",
        title: "Hypervisors",
        columns: &[
            ("Host", "hostname"),
            ("State", "state"),
            ("Status", "status"),
            ("vCPUs used", "vcpus_used"),
            ("vCPUs", "vcpus"),
            ("RAM used (MB)", "memory_mb_used"),
            ("RAM (MB)", "memory_mb"),
            ("VMs", "running_vms"),
        ],
        delete_by: None,
    },
    Tab {
        segment: "services",
        title: "Services",
        columns: &[
            ("Binary", "binary"),
            ("Host", "host"),
            ("Zone", "zone"),
            ("Status", "status"),
            ("State", "state"),
            ("Updated", "updated_at"),
        ],
        delete_by: None,
    },
];

fn at_path<'a>(item: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(item, |value, key| &value[key])
}

#[component]
pub fn SitePage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()));
    let live = expect_context::<Live>();
    let session = expect_context::<Session>();
    let site = LocalResource::new(move || {
        live.resync.track();
        let name = name.get();
        async move { api::get::<Site>(&format!("/sites/{}", api::encode_query(&name))).await }
    });
    // A pushed state change shows at once, without another read.
    let pushed_state = RwSignal::new(None);
    Effect::new(move |_| {
        if let Some(event) = live.site.get() {
            if event.site == name.get_untracked() {
                pushed_state.set(Some(event.to));
            }
        }
    });
    let tab = RwSignal::new(TABS[0].segment);
    let tab_titles: Vec<(&str, &str)> = TABS.iter().map(|t| (t.segment, t.title)).collect();
    let navigate = use_navigate();
    let removed_error = RwSignal::new(None::<String>);
    let remove = Callback::new(move |()| {
        let navigate = navigate.clone();
        let path = format!("/sites/{}", api::encode_query(&name.get_untracked()));
        let call = async move { api::send_empty("DELETE", &path).await };
        api::spawn_call(call, removed_error, move |()| {
            navigate("/sites", Default::default())
        });
    });
    view! {
        <section>
            <p class="breadcrumb"><A href="/sites">"Sites"</A>" / "{name}</p>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading the site…"</p> }>
                {move || site.get().map(|answer| match answer {
                    Err(e) => view! { <h1>{name.get_untracked()}</h1><p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok(site) => {
                        let state = Signal::derive(move || pushed_state.get().unwrap_or(site.state));
                        view! {
                            <div class="page-head">
                                <h1>{site.name.clone()}" "<StateBadge state/></h1>
                                <Show when=move || session.is_admin()>
                                    <ConfirmButton label="Remove site" question=format!("Remove {} from the console? The site itself is not changed.", name.get_untracked()) on_confirm=remove/>
                                </Show>
                            </div>
                            {move || removed_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                            <dl class="facts">
                                <div><dt>"Keystone"</dt><dd class="mono">{site.auth_url.clone()}</dd></div>
                                <div><dt>"Region"</dt><dd>{site.region.clone().unwrap_or_else(|| "–".into())}</dd></div>
                                <div><dt>"Latency"</dt><dd>{format::latency(site.latency_ms)}</dd></div>
                                <div><dt>"Last seen"</dt><dd><MaybeTime at=site.last_seen.clone() otherwise="never"/></dd></div>
                                <div><dt>"Labels"</dt><dd>{if site.labels.is_empty() { "none".into() } else { format::labels(&site.labels) }}</dd></div>
                                <div><dt>"Services"</dt><dd>{format::capabilities(&site.capabilities)}</dd></div>
                            </dl>
                            <Show when=move || state.get() == overcast_api_types::SiteState::Unreachable>
                                <div class="banner warning" role="status">"This site does not answer: the tabs below may fail until it is back."</div>
                            </Show>
                        }.into_any()
                    }
                })}
            </Transition>
            <TabList label="Resources of this site" tabs=tab_titles selected=tab/>
            <div role="tabpanel" aria-labelledby=move || format!("tab-{}", tab.get())>
                {move || {
                    let chosen = TABS.iter().find(|t| t.segment == tab.get()).unwrap_or(&TABS[0]);
                    view! { <ResourceTab site=name.get() tab=chosen/> }
                }}
            </div>
        </section>
    }
}

#[component]
fn ResourceTab(site: String, tab: &'static Tab) -> impl IntoView {
    let session = expect_context::<Session>();
    let reload = RwSignal::new(0u32);
    let base = format!("/sites/{}/{}", api::encode_query(&site), tab.segment);
    let list_path = base.clone();
    let data = LocalResource::new(move || {
        reload.track();
        let path = list_path.clone();
        async move { api::get::<Value>(&path).await }
    });
    // Follow servers through BUILD, REBOOT and the like until they settle.
    Effect::new(move |_| {
        let busy = data.with(|d| {
            d.as_ref().and_then(|r| r.as_ref().ok()).is_some_and(|v| {
                v["items"].as_array().is_some_and(|items| {
                    items.iter().any(|i| {
                        SETTLING_SERVER_STATUSES.contains(&i["status"].as_str().unwrap_or_default())
                    })
                })
            })
        });
        if busy {
            set_timeout(move || reload.update(|n| *n += 1), Duration::from_secs(2));
        }
    });
    let error = RwSignal::new(None::<String>);
    let page = RwSignal::new(0usize);
    let creating = RwSignal::new(false);
    let act = {
        let base = base.clone();
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
    let is_servers = tab.segment == "servers";
    let site_for_form = site.clone();
    view! {
        <Show when=move || is_servers && session.can_operate()>
            <div class="actions">
                <button type="button" on:click=move |_| creating.update(|c| *c = !*c)>"Create server"</button>
            </div>
        </Show>
        {move || creating.get().then(|| view! {
            <CreateServer site=site_for_form.clone() done=Callback::new(move |()| { creating.set(false); reload.update(|n| *n += 1); })/>
        })}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Asking the site…"</p> }>
            {move || data.get().map(|answer| {
                let site = site.clone();
                match answer {
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok(value) if tab.columns.is_empty() => view! { <Quotas quotas=value/> }.into_any(),
                    Ok(value) => {
                        let items: Vec<Value> = serde_json::from_value::<Items<Value>>(value).map(|l| l.items).unwrap_or_default();
                        if items.is_empty() {
                            return view! { <div class="empty">{format!("No {} on {site}.", tab.title.to_lowercase())}</div> }.into_any();
                        }
                        let total = items.len();
                        let rows = move || page_of(&items, page.get());
                        let with_actions = session.can_operate() && tab.delete_by.is_some();
                        view! {
                            <table>
                                <caption class="visually-hidden">{format!("{} of {site}", tab.title)}</caption>
                                <thead><tr>
                                    {tab.columns.iter().map(|(title, _)| view! { <th scope="col">{*title}</th> }).collect_view()}
                                    {with_actions.then(|| view! { <th scope="col">"Actions"</th> })}
                                </tr></thead>
                                <tbody>
                                    {move || rows().into_iter().map(|item| {
                                        let label = item["name"].as_str().filter(|n| !n.is_empty()).or(item["id"].as_str()).unwrap_or("?").to_owned();
                                        view! {
                                            <tr>
                                                {tab.columns.iter().enumerate().map(|(i, (title, path))| {
                                                    let text = format::json_text(at_path(&item, path));
                                                    if i == 0 {
                                                        view! { <th scope="row">{text}</th> }.into_any()
                                                    } else if *title == "Status" || *title == "State" {
                                                        view! { <td><StatusBadge status=text/></td> }.into_any()
                                                    } else {
                                                        view! { <td>{text}</td> }.into_any()
                                                    }
                                                }).collect_view()}
                                                {with_actions.then(|| view! { <td class="row-actions"><RowActions tab item label act/></td> })}
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager total=total page/>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Start, stop and reboot for servers; delete, after a confirmation, for all that allow it.
#[component]
fn RowActions(
    tab: &'static Tab,
    item: Value,
    label: String,
    act: Callback<(String, Option<ServerActionRequest>)>,
) -> impl IntoView {
    let key = item[tab.delete_by.unwrap_or("id")]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = api::encode_query(&key);
    let status = item["status"].as_str().unwrap_or_default().to_owned();
    let server_buttons = (tab.segment == "servers").then(|| {
        [(ServerAction::Start, "Start", "SHUTOFF"), (ServerAction::Stop, "Stop", "ACTIVE"), (ServerAction::Reboot, "Reboot", "ACTIVE")]
            .into_iter()
            .filter(|(_, _, when)| *when == status)
            .map(|(action, text, _)| {
                let id = id.clone();
                view! {
                    <button type="button" class="secondary small" aria-label=format!("{text} {label}")
                        on:click=move |_| act.run((format!("{id}/action"), Some(ServerActionRequest { action })))>{text}</button>
                }
            })
            .collect_view()
    });
    let delete = Callback::new(move |()| act.run((id.clone(), None)));
    view! {
        {server_buttons}
        <ConfirmButton label="Delete" question=format!("Delete {} {label}?", tab.title.trim_end_matches('s').to_lowercase()) on_confirm=delete/>
    }
}

#[component]
fn Quotas(quotas: Value) -> impl IntoView {
    let groups = ["compute", "network", "volume"]
        .into_iter()
        .filter_map(|group| {
            quotas[group]
                .as_object()
                .map(|limits| (group, limits.clone()))
        })
        .collect::<Vec<_>>();
    view! {
        <p class="muted">{format!("Project {}", format::json_text(&quotas["project_id"]))}</p>
        <div class="columns">
            {groups.into_iter().map(|(group, limits)| view! {
                <table>
                    <caption>{group}</caption>
                    <thead><tr><th scope="col">"Limit"</th><th scope="col">"Value"</th></tr></thead>
                    <tbody>
                        {limits.into_iter().map(|(k, v)| view! { <tr><th scope="row">{k}</th><td>{format::json_text(&v)}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            }).collect_view()}
        </div>
    }
}

/// Nova's networks for the form's choice: `auto`, `none` or a network's id.
fn network_choice(choice: &str) -> Option<ServerNetworks> {
    match choice {
        "" => None,
        "auto" => Some(ServerNetworks::Mode(NetworkMode::Auto)),
        "none" => Some(ServerNetworks::Mode(NetworkMode::None)),
        id => Some(ServerNetworks::Attach(vec![NetworkAttachment {
            network: Some(id.to_owned()),
            port: None,
            fixed_ip: None,
        }])),
    }
}

/// Boot a server on this site from its own flavors, images and networks.
#[component]
fn CreateServer(site: String, done: Callback<()>) -> impl IntoView {
    let base = format!("/sites/{}", api::encode_query(&site));
    let choices = {
        let base = base.clone();
        LocalResource::new(move || {
            let base = base.clone();
            async move {
                let names = |v: Result<Value, api::ApiError>| -> Result<Vec<(String, String)>, api::ApiError> {
                    Ok(v?["items"].as_array().cloned().unwrap_or_default().iter()
                        .map(|i| (i["id"].as_str().unwrap_or_default().to_owned(), i["name"].as_str().unwrap_or_default().to_owned()))
                        .collect())
                };
                let flavors = names(api::get::<Value>(&format!("{base}/flavors")).await)?;
                let images = names(api::get::<Value>(&format!("{base}/images")).await)?;
                // What the site can do decides the choices: "auto" only where its
                // Neutron allocates networks by itself (Nova answers 500 elsewhere).
                let site = api::get::<Site>(&base).await?;
                let automatic =
                    site.capabilities.get("network").map(String::as_str) == Some(AUTO_ALLOCATION);
                let mut networks: Vec<(String, String)> = automatic
                    .then(|| ("auto".to_owned(), "Allocated by the site".to_owned()))
                    .into_iter()
                    .collect();
                networks.extend(names(api::get::<Value>(&format!("{base}/networks")).await)?);
                networks.push(("none".to_owned(), "No network".to_owned()));
                Ok::<_, api::ApiError>((flavors, images, networks))
            }
        })
    };
    let name = RwSignal::new(String::new());
    let flavor = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let network = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let server = NewServer {
            name: name.get_untracked().trim().to_owned(),
            flavor: flavor.get_untracked(),
            image: image.get_untracked(),
            networks: network_choice(&network.get_untracked()),
            key_name: None,
        };
        let path = format!("{base}/servers");
        busy.set(true);
        let call = async move {
            let created = api::send::<_, Value>("POST", &path, &server).await;
            busy.set(false);
            created
        };
        api::spawn_call(call, error, move |_| done.run(()));
    };
    let select = move |id: &'static str,
                       label: &'static str,
                       value: RwSignal<String>,
                       options: Vec<(String, String)>,
                       optional: bool| {
        if !optional && value.get_untracked().is_empty() {
            if let Some((first, _)) = options.first() {
                value.set(first.clone());
            }
        }
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <select id=id prop:value=value on:change=move |ev| value.set(event_target_value(&ev))>
                    {optional.then(|| view! { <option value="">"(site default)"</option> })}
                    {options.into_iter().map(|(id, name)| { let text = if name.is_empty() { id.clone() } else { name }; view! { <option value=id>{text}</option> } }).collect_view()}
                </select>
            </div>
        }
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="create-server-title">
            <h2 id="create-server-title">{format!("Create a server on {site}")}</h2>
            <Transition fallback=|| view! { <p class="muted">"Reading flavors, images and networks…"</p> }>
                {move || choices.get().map(|answer| match answer {
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok((flavors, images, networks)) => view! {
                        <div class="grid-form">
                            <div class="field">
                                <label for="server-name">"Name"</label>
                                <input id="server-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                            </div>
                            {select("server-flavor", "Flavor", flavor, flavors, false)}
                            {select("server-image", "Image", image, images, false)}
                            {select("server-network", "Network", network, networks, false)}
                        </div>
                    }.into_any(),
                })}
            </Transition>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                <button type="submit" disabled=move || busy.get()>{move || if busy.get() { "Creating…" } else { "Create" }}</button>
                <button type="button" class="secondary" on:click=move |_| done.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
