//! Routes and the app shell.

use leptos::prelude::*;
use leptos_router::components::{Outlet, ParentRoute, Route, Router, Routes, A};
use leptos_router::hooks::use_navigate;
use leptos_router::path;
use overcast_api_types::Me;

use crate::api;
use crate::pages::{
    login::Login, overview::Overview, placeholder::Placeholder, resources::Resources, sites::Sites,
};

/// The signed-in user, shared with every page.
#[derive(Clone, Copy)]
pub struct Session(pub RwSignal<Option<Me>>);

#[component]
pub fn App() -> impl IntoView {
    provide_context(Session(RwSignal::new(None)));
    view! {
        <Router>
            <Routes fallback=|| view! { <main class="centered"><h1>"Page not found"</h1><A href="/">"Back to the overview"</A></main> }>
                <Route path=path!("/login") view=Login/>
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=Overview/>
                    <Route path=path!("sites") view=Sites/>
                    <Route path=path!("resources") view=Resources/>
                    <Route path=path!("images") view=|| view! { <Placeholder title="Images" about="Images across sites, grouped by content, and copies between sites."/> }/>
                    <Route path=path!("jobs") view=|| view! { <Placeholder title="Jobs" about="Bulk operations over many sites, with per-site progress."/> }/>
                    <Route path=path!("placement") view=|| view! { <Placeholder title="Placement" about="Let Overcast choose sites from a policy and constraints."/> }/>
                    <Route path=path!("metrics") view=|| view! { <Placeholder title="Metrics" about="Capacity and usage, per site and aggregated."/> }/>
                    <Route path=path!("admin") view=|| view! { <Placeholder title="Admin" about="Console users, roles and site scopes, API tokens and the audit log."/> }/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/sites", "Sites"),
    ("/resources", "Resources"),
    ("/images", "Images"),
    ("/jobs", "Jobs"),
    ("/placement", "Placement"),
    ("/metrics", "Metrics"),
    ("/admin", "Admin"),
];

/// Navigation and header around every signed-in page; sends visitors without a valid
/// session to the login page.
#[component]
fn Shell() -> impl IntoView {
    let Session(session) = expect_context::<Session>();
    let navigate = use_navigate();
    let to_login = navigate.clone();
    let me = LocalResource::new(|| async {
        match api::token() {
            Some(_) => Some(api::me().await),
            None => None,
        }
    });
    Effect::new(move |_| match me.get() {
        Some(Some(Ok(user))) => session.set(Some(user)),
        Some(None) => to_login("/login", Default::default()),
        Some(Some(Err(error))) if error.is_unauthenticated() => {
            to_login("/login", Default::default())
        }
        _ => {}
    });
    let logout = move |_| {
        api::forget_token();
        session.set(None);
        navigate("/login", Default::default());
    };
    view! {
        <div class="shell">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <nav class="sidebar" aria-label="Main">
                <div class="brand">"Overcast"</div>
                <ul>
                    {NAV.iter().map(|(href, label)| view! { <li><A href=*href exact=true>{*label}</A></li> }).collect_view()}
                </ul>
            </nav>
            <div class="content">
                <header class="topbar">
                    <span class="who">
                        {move || session.get().map(|me| format!("{} ({:?})", me.username, me.role).to_lowercase())}
                    </span>
                    <button type="button" class="secondary" on:click=logout>"Log out"</button>
                </header>
                <main id="main" tabindex="-1">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}
