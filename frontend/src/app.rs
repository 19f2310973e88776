//! Routes and the app shell.

use leptos::prelude::*;
use leptos_router::components::{Outlet, ParentRoute, Route, Router, Routes, A};
use leptos_router::hooks::use_navigate;
use leptos_router::path;
use overcast_api_types::jobs::Job;
use overcast_api_types::{Me, Role, SiteEvent};

use crate::api;
use crate::components::time::Clock;
use crate::pages::{
    admin::Admin,
    images::Images,
    job::JobPage,
    jobs::Jobs,
    login::Login,
    metrics::Metrics,
    new_job::NewJob,
    overview::Overview,
    placement::Placement,
    resources::Resources,
    site::{ServerPage, SitePage},
    sites::Sites,
};

/// The signed-in user, shared with every page.
#[derive(Clone, Copy)]
pub struct Session(pub RwSignal<Option<Me>>);

impl Session {
    /// Viewers see everything in their scope and change nothing: no mutating button is
    /// shown to them (the API refuses them anyway).
    pub fn can_operate(&self) -> bool {
        self.0
            .with(|me| me.as_ref().is_some_and(|me| me.role != Role::Viewer))
    }

    pub fn is_admin(&self) -> bool {
        self.0
            .with(|me| me.as_ref().is_some_and(|me| me.role == Role::Admin))
    }
}

/// Changes the console pushes (`GET /api/v1/events`), for pages to patch what they show.
#[derive(Clone, Copy)]
pub struct Live {
    pub site: RwSignal<Option<SiteEvent>>,
    pub job: RwSignal<Option<Job>>,
    /// Bumped when the stream (re)connects or events were missed: reload everything.
    pub resync: RwSignal<u64>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_context(Session(RwSignal::new(None)));
    Clock::provide();
    view! {
        <Router>
            // Every path but the login page is inside the shell, so an unknown one gets the
            // shell's "not found" with the navigation; this fallback is never reached.
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=Login/>
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=Overview/>
                    <Route path=path!("sites") view=Sites/>
                    <Route path=path!("sites/:name/servers/:id") view=ServerPage/>
                    <Route path=path!("sites/:name/:tab?") view=SitePage/>
                    <Route path=path!("resources") view=Resources/>
                    <Route path=path!("images") view=Images/>
                    <Route path=path!("jobs") view=Jobs/>
                    <Route path=path!("jobs/new") view=NewJob/>
                    <Route path=path!("jobs/:id") view=JobPage/>
                    <Route path=path!("placement") view=Placement/>
                    <Route path=path!("metrics") view=Metrics/>
                    <Route path=path!("admin") view=Admin/>
                    <Route path=path!("*any") view=NotFound/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section>
            <h1>"Page not found"</h1>
            <p>"Nothing is at this address. "<A href="/">"Back to the overview"</A></p>
        </section>
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
/// session to the login page, and follows the console's event stream for every page.
#[component]
fn Shell() -> impl IntoView {
    let session = expect_context::<Session>();
    let Session(me_signal) = session;
    let navigate = use_navigate();
    let to_login = navigate.clone();
    let me = LocalResource::new(|| async {
        match api::token() {
            Some(_) => Some(api::get::<Me>("/auth/me").await),
            None => None,
        }
    });
    let session_error = RwSignal::new(None::<String>);
    Effect::new(move |_| match me.get() {
        Some(Some(Ok(user))) => me_signal.set(Some(user)),
        Some(None) => to_login("/login", Default::default()),
        Some(Some(Err(error))) if error.is_unauthenticated() => {
            to_login("/login", Default::default())
        }
        Some(Some(Err(error))) => session_error.set(Some(error.message)),
        None => {}
    });

    let live = Live {
        site: RwSignal::new(None),
        job: RwSignal::new(None),
        resync: RwSignal::new(0),
    };
    provide_context(live);
    if api::token().is_some() {
        api::follow_events(
            "/events",
            move || live.resync.update(|n| *n += 1),
            move |event| match event.event.as_str() {
                "site" => {
                    if let Ok(change) = serde_json::from_str::<SiteEvent>(&event.data) {
                        live.site.set(Some(change));
                    }
                }
                "job" => {
                    if let Ok(job) = serde_json::from_str::<Job>(&event.data) {
                        live.job.set(Some(job));
                    }
                }
                "resync" => live.resync.update(|n| *n += 1),
                _ => {}
            },
        );
    }

    let menu_open = RwSignal::new(false);
    let logout = move |_| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            api::logout().await;
            me_signal.set(None);
            navigate("/login", Default::default());
        });
    };
    view! {
        <div class="shell">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <nav class="sidebar" aria-label="Main">
                <div class="brand">"Overcast"</div>
                // On a narrow screen the links fold under a menu button.
                <button type="button" class="menu-toggle secondary" aria-controls="main-nav"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|open| *open = !*open)>"Menu"</button>
                <ul id="main-nav" class:open=move || menu_open.get()>
                    {NAV.iter().map(|(href, label)| view! {
                        <li><A href=*href exact=*href == "/" on:click=move |_| menu_open.set(false)>{*label}</A></li>
                    }).collect_view()}
                </ul>
            </nav>
            <div class="content">
                <header class="topbar">
                    <span class="who">
                        {move || me_signal.get().map(|me| format!("{} ({:?})", me.username, me.role).to_lowercase())}
                    </span>
                    <button type="button" class="secondary" on:click=logout>"Log out"</button>
                </header>
                <main id="main" tabindex="-1">
                    // Pages ask the API only once the session is known to be good, so a
                    // signed-out visit goes to the login page without a round of 401s.
                    <Show when=move || me_signal.with(Option::is_some)
                        fallback=move || match session_error.get() {
                            Some(message) => view! { <p class="error" role="alert">{format!("The console cannot be asked: {message}. Reload to try again.")}</p> }.into_any(),
                            None => view! { <p class="muted" role="status">"Checking your session…"</p> }.into_any(),
                        }>
                        <Outlet/>
                    </Show>
                </main>
            </div>
        </div>
    }
}
