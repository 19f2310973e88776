//! One site (level L1): what it is, and a tab for each kind of resource it holds, with
//! the actions an operator takes on them. The tab is part of the URL
//! (`/sites/{name}/{tab}`, `/sites/{name}` for the first), so a tab can be linked to and
//! Back returns to the previous one. A site that does not answer shows what the console
//! last knew of it, marked stale, with every change disabled.

mod forms;
mod quotas;
mod server;
mod tabs;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use overcast_api_types::{Site, SiteState};

use crate::api;
use crate::app::{Live, Session};
use crate::components::badge::StateBadge;
use crate::components::confirm::ConfirmButton;
use crate::components::tabs::TabList;
use crate::components::time::MaybeTime;
use crate::format;

pub use server::ServerPage;

/// The tabs in their order: URL segment and title.
pub const TABS: &[(&str, &str)] = &[
    ("servers", "Servers"),
    ("images", "Images"),
    ("flavors", "Flavors"),
    ("networks", "Networks"),
    ("volumes", "Volumes"),
    ("keypairs", "Key pairs"),
    ("projects", "Projects"),
    ("users", "Users"),
    ("quotas", "Quotas"),
    ("hypervisors", "Hypervisors"),
    ("services", "Services"),
    ("metrics", "Metrics"),
];

/// The tab a URL segment names; none for the site's own URL (the first tab).
fn tab_named(segment: Option<&str>) -> Option<&'static str> {
    match segment {
        None => Some(TABS[0].0),
        Some(wanted) => TABS.iter().map(|(key, _)| *key).find(|key| *key == wanted),
    }
}

/// The URL of a site's tab.
pub fn tab_href(site: &str, tab: &str) -> String {
    format!("/sites/{}/{tab}", api::encode_query(site))
}

/// What the site's own read said, for the parts of the page that only care whether the
/// site exists: they are not redrawn when the site is read again.
#[derive(Clone, PartialEq)]
enum Outcome {
    Loading,
    Found,
    NotFound,
    Failed(String),
}

/// A site's health as the page knows it: its last read, overridden by changes the
/// console pushed since.
pub fn site_state(
    name: Memo<String>,
    site: LocalResource<Result<Site, api::ApiError>>,
) -> Memo<Option<SiteState>> {
    let live = expect_context::<Live>();
    let pushed = RwSignal::new(None::<SiteState>);
    // The first run sees the event of before the page was read: only later ones count.
    Effect::new(move |first_run: Option<()>| {
        let event = live.site.get();
        if let (Some(()), Some(event)) = (first_run, event) {
            if event.site == name.get_untracked() {
                pushed.set(Some(event.to));
            }
        }
    });
    Effect::new(move |_| {
        name.track();
        pushed.set(None);
    });
    Memo::new(move |_| {
        pushed
            .get()
            .or_else(|| site.get().and_then(|s| s.ok()).map(|s| s.state))
    })
}

/// Reads one registered site, again whenever the event stream asks for a resync.
pub fn read_site(name: Memo<String>) -> LocalResource<Result<Site, api::ApiError>> {
    let live = expect_context::<Live>();
    LocalResource::new(move || {
        live.resync.track();
        let name = name.get();
        async move { api::get::<Site>(&format!("/sites/{}", api::encode_query(&name))).await }
    })
}

#[component]
pub fn SitePage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()));
    let url_tab = Memo::new(move |_| params.with(|p| p.get("tab")));
    let session = expect_context::<Session>();
    let site = read_site(name);
    let state = site_state(name, site);
    let unreachable = Signal::derive(move || state.get() == Some(SiteState::Unreachable));
    let outcome = Memo::new(move |_| match site.get() {
        None => Outcome::Loading,
        Some(Ok(_)) => Outcome::Found,
        Some(Err(e)) if e.status == 404 => Outcome::NotFound,
        Some(Err(e)) => Outcome::Failed(e.message),
    });

    // The URL decides the tab; choosing a tab navigates, so Back returns to the last one.
    let known_tab = Memo::new(move |_| tab_named(url_tab.get().as_deref()));
    // Only whether the tab exists redraws the tab list: moving between tabs keeps it, and
    // the keyboard focus on it.
    let tab_exists = Memo::new(move |_| known_tab.get().is_some());
    let selected = RwSignal::new(known_tab.get_untracked().unwrap_or(TABS[0].0));
    Effect::new(move |_| {
        if let Some(key) = known_tab.get() {
            if selected.get_untracked() != key {
                selected.set(key);
            }
        }
    });
    let navigate = use_navigate();
    let to_tab = navigate.clone();
    Effect::new(move |_| {
        let chosen = selected.get();
        if known_tab
            .get_untracked()
            .is_some_and(|shown| shown != chosen)
        {
            let options = NavigateOptions {
                scroll: false,
                ..Default::default()
            };
            to_tab(&tab_href(&name.get_untracked(), chosen), options);
        }
    });

    let removed_error = RwSignal::new(None::<String>);
    let remove = Callback::new(move |()| {
        let navigate = navigate.clone();
        let path = format!("/sites/{}", api::encode_query(&name.get_untracked()));
        let call = async move { api::send_empty("DELETE", &path).await };
        api::spawn_call(call, removed_error, move |()| {
            navigate("/sites", Default::default())
        });
    });
    let head = move || {
        site.get().and_then(|s| s.ok()).map(|site| {
            let badge = Signal::derive(move || state.get().unwrap_or(site.state));
            view! {
                <div class="page-head">
                    <h1>{site.name.clone()}" "<StateBadge state=badge/></h1>
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
                <Show when=move || unreachable.get()>
                    <div class="banner warning" role="status">
                        {format!("{} does not answer: the tabs show what the console last knew of it, and changes are disabled until it is back.", site.name)}
                    </div>
                </Show>
            }
        })
    };
    let tab_titles: Vec<(&str, &str)> = TABS.to_vec();
    move || match outcome.get() {
        Outcome::Loading => view! {
            <section>
                <p class="breadcrumb"><A href="/sites">"Sites"</A>" / "{name}</p>
                <p class="muted" role="status">"Loading the site…"</p>
            </section>
        }
        .into_any(),
        Outcome::NotFound => view! { <SiteNotFound name=name.get_untracked()/> }.into_any(),
        Outcome::Failed(message) => view! {
            <section>
                <p class="breadcrumb"><A href="/sites">"Sites"</A>" / "{name}</p>
                <h1>{name}</h1>
                <p class="error" role="alert">{message}</p>
            </section>
        }
        .into_any(),
        Outcome::Found => {
            let tab_titles = tab_titles.clone();
            view! {
                <section>
                    <p class="breadcrumb"><A href="/sites">"Sites"</A>" / "{name}</p>
                    {head}
                    {move || match tab_exists.get() {
                        false => view! {
                            <div class="empty" role="status">
                                <h2>"No such tab"</h2>
                                <p>{format!("A site page has no tab {:?}.", url_tab.get().unwrap_or_default())}</p>
                                <A href=tab_href(&name.get_untracked(), TABS[0].0)>{format!("Servers of {}", name.get_untracked())}</A>
                            </div>
                        }.into_any(),
                        true => view! {
                            <TabList label="Resources of this site" tabs=tab_titles.clone() selected/>
                            <div role="tabpanel" aria-labelledby=move || format!("tab-{}", selected.get())>
                                {move || tabs::panel(name.get(), selected.get(), unreachable)}
                            </div>
                        }.into_any(),
                    }}
                </section>
            }
            .into_any()
        }
    }
}

/// The one page an unknown site gets: no tabs, no repeated errors.
#[component]
fn SiteNotFound(name: String) -> impl IntoView {
    view! {
        <section>
            <p class="breadcrumb"><A href="/sites">"Sites"</A>" / "{name.clone()}</p>
            <h1>"Site not found"</h1>
            <p>{format!("No site named {name} is registered with the console, or it is outside your scope.")}</p>
            <p><A href="/sites">"All sites"</A></p>
        </section>
    }
}
