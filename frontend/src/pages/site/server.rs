//! One server of a site (`/sites/{site}/servers/{id}`): its addresses, flavor, image and
//! volumes, what was done to it, and its console log where the site offers one.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use overcast_api_types::l1::{
    ConsoleLog, Image, Items, Project, Server, ServerActionRequest, ServerEvent, User, Volume,
    VolumeAttachmentRequest, SETTLING_SERVER_STATUSES,
};
use overcast_api_types::SiteState;

use super::tabs::{from_inventory, is_offline, no_copy, server_actions, typed, Failure, StaleNote};
use super::{read_site, site_state, tab_href};
use crate::api::{self, ApiError};
use crate::app::Session;
use crate::components::badge::StatusBadge;
use crate::components::confirm::ConfirmButton;
use crate::components::time::MaybeTime;
use crate::format;

/// A server as the page shows it, and when it was read if it is not live.
#[derive(Clone)]
struct Shown {
    server: Server,
    stale_as_of: Option<String>,
}

#[derive(Clone)]
enum Missing {
    /// The site says there is no such server.
    NotFound,
    Failure(Failure),
}

/// A server from the inventory: the last-known servers of its site.
async fn last_known(site: &str, id: &str) -> Result<Shown, Missing> {
    let (servers, as_of) = from_inventory(site, "servers")
        .await
        .map_err(Missing::Failure)?;
    typed::<Server>(servers)
        .into_iter()
        .find(|s| s.id == id)
        .map(|server| Shown {
            server,
            stale_as_of: as_of,
        })
        .ok_or(Missing::Failure(Failure::NoCopy))
}

async fn read_server(site: &str, id: &str, offline: bool) -> Result<Shown, Missing> {
    if offline {
        return last_known(site, id).await;
    }
    let path = format!(
        "/sites/{}/servers/{}",
        api::encode_query(site),
        api::encode_query(id)
    );
    match api::get_as::<Server>(&path).await {
        Ok(server) => Ok(Shown {
            server,
            stale_as_of: None,
        }),
        Err(e) if e.status == 404 && e.code == "not_found" => Err(Missing::NotFound),
        Err(e) if is_offline(&e) => last_known(site, id).await,
        Err(e) => Err(Missing::Failure(Failure::Api(e))),
    }
}

/// One object of the site by id from the inventory, for a site that does not answer.
async fn last_known_one<T: serde::de::DeserializeOwned>(
    site: &str,
    segment: &str,
    id: &str,
) -> Option<T> {
    let (items, _) = from_inventory(site, segment).await.ok()?;
    items
        .into_iter()
        .find(|item| item["id"] == id)
        .and_then(|item| serde_json::from_value(item).ok())
}

/// One object of the site by id, or none if it cannot be read (the page shows the id).
async fn named<T: serde::de::DeserializeOwned>(site: &str, segment: &str, id: &str) -> Option<T> {
    let path = format!(
        "/sites/{}/{segment}/{}",
        api::encode_query(site),
        api::encode_query(id)
    );
    api::get_as::<T>(&path).await.ok()
}

#[component]
pub fn ServerPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()));
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let site = read_site(name);
    let state = site_state(name, site);
    let unreachable = Signal::derive(move || state.get() == Some(SiteState::Unreachable));
    let site_known = Memo::new(move |_| site.get().map(|s| s.map(|_| ()).map_err(|e| e.status)));
    // Volumes are only offered where the site has block storage (Cinder).
    let block_storage = Signal::derive(move || {
        site.get()
            .and_then(|s| s.ok())
            .is_some_and(|s| s.capabilities.contains_key("block-storage"))
    });
    // The server is asked for once the site's health is known: a site known not to
    // answer is not asked at all.
    move || {
        match site_known.get() {
        None => view! { <section><Breadcrumb name id server=None/><p class="muted" role="status">"Loading the server…"</p></section> }.into_any(),
        Some(Err(404)) => view! {
            <section>
                <p class="breadcrumb"><A href="/sites">"Sites"</A>" / "{name}</p>
                <h1>"Site not found"</h1>
                <p>{format!("No site named {} is registered with the console, or it is outside your scope.", name.get_untracked())}</p>
                <p><A href="/sites">"All sites"</A></p>
            </section>
        }.into_any(),
        Some(_) => view! { <ServerLoader name id unreachable block_storage/> }.into_any(),
    }
    }
}

#[component]
fn Breadcrumb(name: Memo<String>, id: Memo<String>, server: Option<String>) -> impl IntoView {
    view! {
        <p class="breadcrumb">
            <A href="/sites">"Sites"</A>" / "
            <A href=move || format!("/sites/{}", api::encode_query(&name.get()))>{name}</A>" / "
            <A href=move || tab_href(&name.get(), "servers")>"Servers"</A>" / "
            {server.unwrap_or_else(|| id.get_untracked())}
        </p>
    }
}

#[component]
fn ServerLoader(
    name: Memo<String>,
    id: Memo<String>,
    unreachable: Signal<bool>,
    block_storage: Signal<bool>,
) -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let server = LocalResource::new(move || {
        reload.track();
        let (site, id, offline) = (name.get(), id.get(), unreachable.get());
        async move { read_server(&site, &id, offline).await }
    });
    // Follow a server through BUILD, REBOOT and the like until it settles.
    Effect::new(move |_| {
        let busy = server.with(|s| {
            s.as_ref()
                .and_then(|s| s.as_ref().ok())
                .is_some_and(|shown| {
                    shown.stale_as_of.is_none()
                        && SETTLING_SERVER_STATUSES.contains(&shown.server.status.as_str())
                })
        });
        if busy {
            set_timeout(move || reload.update(|n| *n += 1), Duration::from_secs(2));
        }
    });
    view! {
        <Transition fallback=move || view! { <section><Breadcrumb name id server=None/><p class="muted" role="status">"Loading the server…"</p></section> }>
            {move || server.get().map(|answer| match answer {
                Err(Missing::NotFound) => view! {
                    <section>
                        <Breadcrumb name id server=None/>
                        <h1>"Server not found"</h1>
                        <p>{format!("Site {} has no server {} (it may have been deleted).", name.get_untracked(), id.get_untracked())}</p>
                        <p><A href=tab_href(&name.get_untracked(), "servers")>{format!("Servers of {}", name.get_untracked())}</A></p>
                    </section>
                }.into_any(),
                Err(Missing::Failure(Failure::NoCopy)) => view! {
                    <section>
                        <Breadcrumb name id server=None/>
                        <h1>{id.get_untracked()}</h1>
                        <div class="empty" role="status">{no_copy(&name.get_untracked(), "server")}</div>
                    </section>
                }.into_any(),
                Err(Missing::Failure(Failure::Api(e))) => view! {
                    <section>
                        <Breadcrumb name id server=None/>
                        <h1>{id.get_untracked()}</h1>
                        <p class="error" role="alert">{e.message}</p>
                    </section>
                }.into_any(),
                Ok(shown) => {
                    let label = if shown.server.name.is_empty() { shown.server.id.clone() } else { shown.server.name.clone() };
                    view! {
                        <section>
                            <Breadcrumb name id server=Some(label)/>
                            <ServerView site=name.get_untracked() shown unreachable block_storage reload/>
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn ServerView(
    site: String,
    shown: Shown,
    unreachable: Signal<bool>,
    block_storage: Signal<bool>,
    reload: RwSignal<u32>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let navigate = use_navigate();
    let Shown {
        server,
        stale_as_of,
    } = shown;
    let stale = stale_as_of.is_some();
    let frozen = Signal::derive(move || stale || unreachable.get());
    let label = if server.name.is_empty() {
        server.id.clone()
    } else {
        server.name.clone()
    };
    let path = format!(
        "/sites/{}/servers/{}",
        api::encode_query(&site),
        api::encode_query(&server.id)
    );
    let error = RwSignal::new(None::<String>);
    let act = {
        let path = path.clone();
        Callback::new(move |request: ServerActionRequest| {
            let path = format!("{path}/action");
            let call = async move { api::act("POST", &path, Some(&request)).await };
            api::spawn_call(call, error, move |()| reload.update(|n| *n += 1));
        })
    };
    let delete = {
        let (path, site) = (path.clone(), site.clone());
        Callback::new(move |()| {
            let (path, navigate) = (path.clone(), navigate.clone());
            let servers = tab_href(&site, "servers");
            let call = async move { api::send_empty("DELETE", &path).await };
            api::spawn_call(call, error, move |()| {
                navigate(&servers, Default::default())
            });
        })
    };
    let controls = {
        let (actions, label) = (server_actions(&server), label.clone());
        move || {
            let buttons = actions
                .iter()
                .map(|(action, text)| {
                    let (action, text) = (*action, *text);
                    view! {
                        <button type="button" class="secondary small" aria-label=format!("{text} {label}") disabled=move || frozen.get()
                            on:click=move |_| act.run(ServerActionRequest { action })>{text}</button>
                    }
                })
                .collect_view();
            view! {
                <div class="actions">
                    {buttons}
                    <ConfirmButton label="Delete" question=format!("Delete server {label}?") on_confirm=delete disabled=frozen/>
                </div>
            }
        }
    };
    // Names of what the server refers to by id; a lookup that fails shows the id.
    let refs = {
        let (site, server) = (site.clone(), server.clone());
        LocalResource::new(move || {
            let (site, server) = (site.clone(), server.clone());
            async move {
                if stale {
                    // The site does not answer: names from the console's inventory.
                    let image = match &server.image_id {
                        Some(id) => last_known_one::<Image>(&site, "images", id)
                            .await
                            .and_then(|i| i.name),
                        None => None,
                    };
                    let project = match &server.project_id {
                        Some(id) => last_known_one::<Project>(&site, "projects", id)
                            .await
                            .map(|p| p.name),
                        None => None,
                    };
                    let volumes = server.volumes.iter().map(|v| (v.clone(), None)).collect();
                    return Refs {
                        image,
                        project,
                        volumes,
                    };
                }
                let image = match &server.image_id {
                    Some(image) => named::<Image>(&site, "images", image)
                        .await
                        .and_then(|i| i.name),
                    None => None,
                };
                let project = match &server.project_id {
                    Some(project) => named::<Project>(&site, "projects", project)
                        .await
                        .map(|p| p.name),
                    None => None,
                };
                let mut volumes = Vec::new();
                for volume in &server.volumes {
                    volumes.push((
                        volume.clone(),
                        named::<Volume>(&site, "volumes", volume).await,
                    ));
                }
                Refs {
                    image,
                    project,
                    volumes,
                }
            }
        })
    };
    let flavor = {
        let f = &server.flavor;
        let mut parts = vec![f
            .name
            .clone()
            .or(f.id.clone())
            .unwrap_or_else(|| "–".into())];
        if let Some(vcpus) = f.vcpus {
            parts.push(format!("{vcpus} vCPU"));
        }
        if let Some(ram) = f.ram_mb {
            parts.push(format!("{} RAM", format::megabytes(ram)));
        }
        if let Some(disk) = f.disk_gb {
            parts.push(format!("{disk} GB disk"));
        }
        parts.join(" · ")
    };
    let volumes_path = format!("{path}/volumes");
    let attach_path = volumes_path.clone();
    let server_label = label.clone();
    let site_for_attach = site.clone();
    let image_id = server.image_id.clone();
    let project_id = server.project_id.clone();
    let addresses = server.addresses.clone();
    let volume_ids = server.volumes.clone();
    view! {
        <div class="page-head">
            <h1>{label.clone()}" "<StatusBadge status=server.status.clone()/></h1>
            <Show when=move || session.can_operate()>{controls.clone()}</Show>
        </div>
        {stale_as_of.map(|as_of| view! { <StaleNote site=site.clone() as_of/> })}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {server.fault.clone().map(|fault| view! { <p class="banner warning" role="status">{format!("Fault: {fault}")}</p> })}
        <dl class="facts">
            <div><dt>"ID"</dt><dd class="mono">{server.id.clone()}</dd></div>
            <div><dt>"Flavor"</dt><dd>{flavor}</dd></div>
            <div><dt>"Image"</dt><dd>{move || {
                let name = refs.get().and_then(|r| r.image);
                name.or(image_id.clone()).unwrap_or_else(|| "none (booted from a volume)".into())
            }}</dd></div>
            <div><dt>"Key pair"</dt><dd>{server.key_name.clone().unwrap_or_else(|| "none".into())}</dd></div>
            <div><dt>"Project"</dt><dd>{move || refs.get().and_then(|r| r.project).or(project_id.clone()).unwrap_or_else(|| "–".into())}</dd></div>
            <div><dt>"Created"</dt><dd><MaybeTime at=server.created.clone() otherwise="–"/></dd></div>
            <div><dt>"Updated"</dt><dd><MaybeTime at=server.updated.clone() otherwise="–"/></dd></div>
        </dl>
        <div class="columns">
            <section aria-labelledby="server-addresses">
                <h2 id="server-addresses">"Addresses"</h2>
                {if addresses.is_empty() {
                    view! { <p class="muted">"No addresses: the server has no network."</p> }.into_any()
                } else {
                    view! {
                        <table>
                            <caption class="visually-hidden">"Addresses"</caption>
                            <thead><tr><th scope="col">"Network"</th><th scope="col">"Addresses"</th></tr></thead>
                            <tbody>
                                {addresses.into_iter().map(|(network, ips)| view! {
                                    <tr><th scope="row">{network}</th><td class="mono">{ips.join(", ")}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
            <section aria-labelledby="server-volumes">
                <h2 id="server-volumes">"Volumes"</h2>
                {move || if volume_ids.is_empty() {
                    view! { <p class="muted">"No volumes attached."</p> }.into_any()
                } else {
                    let found: BTreeMap<String, Option<Volume>> = refs.get().map(|r| r.volumes.into_iter().collect()).unwrap_or_default();
                    let operate = session.can_operate();
                    view! {
                        <table>
                            <caption class="visually-hidden">"Attached volumes"</caption>
                            <thead><tr>
                                <th scope="col">"Volume"</th><th scope="col">"Size"</th><th scope="col">"Status"</th>
                                {operate.then(|| view! { <th scope="col">"Actions"</th> })}
                            </tr></thead>
                            <tbody>
                                {volume_ids.iter().map(|id| {
                                    let volume = found.get(id).cloned().flatten();
                                    let name = volume.as_ref().and_then(|v| v.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| id.clone());
                                    let detach = {
                                        let path = format!("{volumes_path}/{}", api::encode_query(id));
                                        Callback::new(move |()| {
                                            let path = path.clone();
                                            let call = async move { api::send_empty("DELETE", &path).await };
                                            api::spawn_call(call, error, move |()| reload.update(|n| *n += 1));
                                        })
                                    };
                                    let question = format!("Detach volume {name} from {server_label}?");
                                    view! {
                                        <tr>
                                            <th scope="row">{name}</th>
                                            <td>{volume.as_ref().map_or_else(|| "–".into(), |v| format!("{} GB", v.size_gb))}</td>
                                            <td>{volume.map_or_else(|| "–".into(), |v| v.status)}</td>
                                            {operate.then(|| view! { <td><ConfirmButton label="Detach" question on_confirm=detach disabled=frozen/></td> })}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <Show when=move || session.can_operate() && !stale && block_storage.get()>
                    <AttachVolume site=site_for_attach.clone() path=attach_path.clone() frozen error reload/>
                </Show>
            </section>
        </div>
        <Events site=site.clone() id=server.id.clone() frozen reload/>
        <ConsoleOutput site id=server.id.clone() name=label frozen/>
    }
}

/// A volume of the site that is free, to attach to the server.
#[component]
fn AttachVolume(
    site: String,
    path: String,
    frozen: Signal<bool>,
    error: RwSignal<Option<String>>,
    reload: RwSignal<u32>,
) -> impl IntoView {
    let free = LocalResource::new(move || {
        let list = format!("/sites/{}/volumes", api::encode_query(&site));
        async move {
            api::get_as::<Items<Volume>>(&list).await.map(|l| {
                l.items
                    .into_iter()
                    .filter(|v| v.status == "available")
                    .collect::<Vec<_>>()
            })
        }
    });
    let chosen = RwSignal::new(String::new());
    let attach = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = VolumeAttachmentRequest {
            volume: chosen.get_untracked(),
        };
        let path = path.clone();
        let call = async move { api::act("POST", &path, Some(&body)).await };
        api::spawn_call(call, error, move |()| reload.update(|n| *n += 1));
    };
    view! {
        {move || free.get().map(|answer| match answer {
            // No block storage here, or it cannot be read: nothing to offer.
            Err(_) => ().into_any(),
            Ok(volumes) if volumes.is_empty() => view! { <p class="muted">"No free volume to attach."</p> }.into_any(),
            Ok(volumes) => {
                if chosen.get_untracked().is_empty() {
                    chosen.set(volumes[0].id.clone());
                }
                view! {
                    <form class="inline-form" on:submit=attach.clone() aria-label="Attach a volume">
                        <label for="attach-volume">"Volume to attach"</label>
                        <select id="attach-volume" prop:value=chosen on:change=move |ev| chosen.set(event_target_value(&ev))>
                            {volumes.into_iter().map(|v| {
                                let text = format!("{} ({} GB)", v.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| v.id.clone()), v.size_gb);
                                view! { <option value=v.id>{text}</option> }
                            }).collect_view()}
                        </select>
                        <button type="submit" class="secondary small" disabled=move || frozen.get()>"Attach"</button>
                    </form>
                }.into_any()
            }
        })}
    }
}

#[derive(Clone, Default)]
struct Refs {
    image: Option<String>,
    project: Option<String>,
    volumes: Vec<(String, Option<Volume>)>,
}

/// What was done to the server, newest first, with who did it.
#[component]
fn Events(site: String, id: String, frozen: Signal<bool>, reload: RwSignal<u32>) -> impl IntoView {
    let events = LocalResource::new(move || {
        reload.track();
        let offline = frozen.get();
        let (site, id) = (site.clone(), id.clone());
        async move {
            if offline {
                return Ok(None);
            }
            let base = format!("/sites/{}", api::encode_query(&site));
            let events = api::get_as::<Items<ServerEvent>>(&format!(
                "{base}/servers/{}/events",
                api::encode_query(&id)
            ))
            .await?;
            let users: BTreeMap<String, String> =
                api::get_as::<Items<User>>(&format!("{base}/users"))
                    .await
                    .map(|list| list.items.into_iter().map(|u| (u.id, u.name)).collect())
                    .unwrap_or_default();
            Ok::<_, ApiError>(Some((events.items, users)))
        }
    });
    view! {
        <section aria-labelledby="server-events">
            <h2 id="server-events">"Events"</h2>
            <Transition fallback=|| view! { <p class="muted">"Asking the site…"</p> }>
                {move || events.get().map(|answer| match answer {
                    Ok(None) => view! { <p class="muted">"Not available while the site does not answer."</p> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok(Some((events, _))) if events.is_empty() => view! { <p class="muted">"No events recorded."</p> }.into_any(),
                    Ok(Some((events, users))) => view! {
                        <div class="table-scroll">
                            <table>
                                <caption class="visually-hidden">"Events"</caption>
                                <thead><tr><th scope="col">"Action"</th><th scope="col">"Started"</th><th scope="col">"By"</th><th scope="col">"Result"</th></tr></thead>
                                <tbody>
                                    {events.into_iter().map(|event| {
                                        let by = event.user_id.as_ref().map(|u| users.get(u).cloned().unwrap_or_else(|| u.clone())).unwrap_or_else(|| "–".into());
                                        view! {
                                            <tr>
                                                <th scope="row">{event.action}</th>
                                                <td><MaybeTime at=event.start_time otherwise="–"/></td>
                                                <td>{by}</td>
                                                <td>{event.message.unwrap_or_else(|| "–".into())}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The tail of the server's console, where the site offers it.
#[component]
fn ConsoleOutput(site: String, id: String, name: String, frozen: Signal<bool>) -> impl IntoView {
    let again = RwSignal::new(0u32);
    let log = LocalResource::new(move || {
        again.track();
        let offline = frozen.get();
        let path = format!(
            "/sites/{}/servers/{}/console-log",
            api::encode_query(&site),
            api::encode_query(&id)
        );
        async move {
            if offline {
                return Ok(None);
            }
            api::get_as::<ConsoleLog>(&path).await.map(Some)
        }
    });
    view! {
        <section aria-labelledby="server-console">
            <div class="section-head">
                <h2 id="server-console">"Console log"</h2>
                <button type="button" class="secondary small" disabled=move || frozen.get()
                    on:click=move |_| again.update(|n| *n += 1)>"Read again"</button>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Asking the site…"</p> }>
                {move || log.get().map(|answer| match answer {
                    Ok(None) => view! { <p class="muted">"Not available while the site does not answer."</p> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                    Ok(Some(ConsoleLog { output: Some(output), .. })) => view! {
                        <pre class="console" tabindex="0" aria-label=format!("Console log of {name}")>{output}</pre>
                    }.into_any(),
                    Ok(Some(ConsoleLog { unavailable, .. })) => view! {
                        <p class="muted" role="status">
                            "Not available on this site"
                            {unavailable.map(|why| format!(": {why}"))}
                        </p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
