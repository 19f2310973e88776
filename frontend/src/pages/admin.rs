//! Console users with their roles and site scopes, API tokens and the audit log.

use leptos::prelude::*;
use overcast_api_types::access::{
    ApiTokenList, AuditEntry, AuditList, ConsoleUser, ConsoleUserList, ConsoleUserUpdate,
    CreatedApiToken, NewApiToken, NewConsoleUser,
};
use overcast_api_types::Role;

use crate::api;
use crate::app::Session;
use crate::components::badge::StatusBadge;
use crate::components::confirm::ConfirmButton;
use crate::components::field::Field;
use crate::components::tabs::TabList;
use crate::components::time::{MaybeTime, RelativeTime};
use crate::format;

const ROLES: &[(Role, &str)] = &[
    (Role::Viewer, "viewer"),
    (Role::Operator, "operator"),
    (Role::Admin, "admin"),
];

fn role_name(role: Role) -> &'static str {
    ROLES
        .iter()
        .find(|(r, _)| *r == role)
        .map_or("viewer", |(_, n)| n)
}

fn role_of(name: &str) -> Role {
    ROLES
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(Role::Viewer, |(r, _)| *r)
}

#[component]
fn RoleSelect(id: String, value: RwSignal<String>) -> impl IntoView {
    view! {
        <select id=id prop:value=value on:change=move |ev| value.set(event_target_value(&ev))>
            {ROLES.iter().map(|(_, name)| view! { <option value=*name>{*name}</option> }).collect_view()}
        </select>
    }
}

#[component]
pub fn Admin() -> impl IntoView {
    let session = expect_context::<Session>();
    let tab = RwSignal::new("tokens");
    Effect::new(move |_| {
        if session.is_admin() && tab.get_untracked() == "tokens" {
            tab.set("users");
        }
    });
    let tabs = move || {
        let mut tabs = vec![("tokens", "API tokens"), ("audit", "Audit log")];
        if session.is_admin() {
            tabs.insert(0, ("users", "Users"));
        }
        tabs
    };
    view! {
        <section>
            <h1>"Admin"</h1>
            <TabList label="Administration" tabs=Signal::derive(tabs) selected=tab/>
            <div role="tabpanel" aria-labelledby=move || format!("tab-{}", tab.get())>
                {move || match tab.get() {
                    "users" => view! { <Users/> }.into_any(),
                    "audit" => view! { <Audit/> }.into_any(),
                    _ => view! { <Tokens/> }.into_any(),
                }}
            </div>
        </section>
    }
}

#[component]
fn Users() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let users = LocalResource::new(move || {
        reload.track();
        api::get::<ConsoleUserList>("/admin/users")
    });
    let error = RwSignal::new(None::<String>);
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_owned());
    let scope = RwSignal::new(String::new());
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user = NewConsoleUser {
            username: username.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            role: role_of(&role.get_untracked()),
            scope: format::typed_sites(&scope.get_untracked()),
        };
        let call = async move { api::send::<_, ConsoleUser>("POST", "/admin/users", &user).await };
        api::spawn_call(call, error, move |_| {
            username.set(String::new());
            password.set(String::new());
            scope.set(String::new());
            reload.update(|n| *n += 1);
        });
    };
    let user_path = |id: &str| format!("/admin/users/{}", api::encode_query(id));
    let update = move |id: String, change: ConsoleUserUpdate| {
        let call =
            async move { api::send::<_, ConsoleUser>("PATCH", &user_path(&id), &change).await };
        api::spawn_call(call, error, move |_| reload.update(|n| *n += 1));
    };
    let remove = move |id: String| {
        let call = async move { api::send_empty("DELETE", &user_path(&id)).await };
        api::spawn_call(call, error, move |()| reload.update(|n| *n += 1));
    };
    view! {
        <form class="card form" on:submit=create aria-labelledby="new-user-title">
            <h2 id="new-user-title">"Add a console user"</h2>
            <div class="grid-form">
                <Field id="user-name" label="Username" value=username required=true/>
                <Field id="user-password" label="Password" value=password kind="password" required=true/>
                <div class="field"><label for="user-role">"Role"</label><RoleSelect id="user-role".into() value=role/></div>
                <Field id="user-scope" label="Site scope" value=scope placeholder="empty: every site; region=eu; or site-001, site-002"/>
            </div>
            <div class="actions"><button type="submit">"Add user"</button></div>
        </form>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading users…"</p> }>
            {move || users.get().map(|answer| match answer {
                Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Ok(list) => view! {
                    <table>
                        <caption class="visually-hidden">"Console users"</caption>
                        <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col">"Scope"</th><th scope="col">"Created"</th><th scope="col">"Actions"</th></tr></thead>
                        <tbody>
                            {list.items.into_iter().map(|user| {
                                let chosen = RwSignal::new(role_name(user.role).to_owned());
                                let (id, id2) = (user.id.clone(), user.id.clone());
                                view! {
                                    <tr>
                                        <th scope="row">{user.username.clone()}</th>
                                        <td>
                                            <label class="visually-hidden" for=format!("role-{}", user.id)>{format!("Role of {}", user.username)}</label>
                                            <RoleSelect id=format!("role-{}", user.id) value=chosen/>
                                            <button type="button" class="secondary small" disabled=move || chosen.get() == role_name(user.role)
                                                on:click=move |_| update(id.clone(), ConsoleUserUpdate { role: Some(role_of(&chosen.get_untracked())), ..Default::default() })>"Save"</button>
                                        </td>
                                        <td>{format::sites_text(&user.scope)}</td>
                                        <td><RelativeTime at=user.created_at.clone()/></td>
                                        <td><ConfirmButton label="Delete" question=format!("Delete user {}?", user.username) on_confirm=Callback::new(move |()| remove(id2.clone()))/></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let session = expect_context::<Session>();
    let reload = RwSignal::new(0u32);
    let tokens = LocalResource::new(move || {
        reload.track();
        api::get::<ApiTokenList>("/auth/tokens")
    });
    let error = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(String::new());
    let days = RwSignal::new(String::from("90"));
    Effect::new(move |_| {
        if let Some(me) = session.0.get() {
            role.set(role_name(me.role).to_owned());
        }
    });
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(expires_in_days) = days.get_untracked().trim().parse::<u32>() else {
            return error.set(Some("Days must be a whole number".into()));
        };
        let token = NewApiToken {
            name: name.get_untracked().trim().to_owned(),
            role: Some(role_of(&role.get_untracked())),
            scope: None,
            expires_in_days: Some(expires_in_days),
        };
        let call =
            async move { api::send::<_, CreatedApiToken>("POST", "/auth/tokens", &token).await };
        api::spawn_call(call, error, move |answer| {
            created.set(Some(answer.token));
            name.set(String::new());
            reload.update(|n| *n += 1);
        });
    };
    let revoke = move |id: String| {
        let path = format!("/auth/tokens/{}", api::encode_query(&id));
        let call = async move { api::send_empty("DELETE", &path).await };
        api::spawn_call(call, error, move |()| reload.update(|n| *n += 1));
    };
    view! {
        <form class="card form" on:submit=create aria-labelledby="new-token-title">
            <h2 id="new-token-title">"Create an API token"</h2>
            <p class="muted">"For scripts and `overcast ctl`: OVERCAST_TOKEN. A token can do at most what you can."</p>
            <div class="grid-form">
                <Field id="token-name" label="Name" value=name placeholder="nightly-rollout" required=true/>
                <div class="field"><label for="token-role">"Role"</label><RoleSelect id="token-role".into() value=role/></div>
                <Field id="token-days" label="Expires in (days)" value=days kind="number"/>
            </div>
            <div class="actions"><button type="submit">"Create token"</button></div>
        </form>
        {move || created.get().map(|token| view! {
            <div class="banner" role="status">
                <p>"Copy this token now: it is not shown again."</p>
                <code class="mono secret">{token}</code>
            </div>
        })}
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading tokens…"</p> }>
            {move || tokens.get().map(|answer| match answer {
                Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Ok(list) if list.items.is_empty() => view! { <div class="empty">"No API token yet."</div> }.into_any(),
                Ok(list) => view! {
                    <table>
                        <caption class="visually-hidden">"API tokens"</caption>
                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Owner"</th><th scope="col">"Role"</th><th scope="col">"Scope"</th>
                            <th scope="col">"Expires"</th><th scope="col">"Last used"</th><th scope="col">"State"</th><th scope="col">"Actions"</th></tr></thead>
                        <tbody>
                            {list.items.into_iter().map(|token| {
                                let id = token.id.clone();
                                view! {
                                    <tr>
                                        <th scope="row">{token.name.clone()}</th>
                                        <td>{token.username.clone()}</td>
                                        <td>{role_name(token.role)}</td>
                                        <td>{format::sites_text(&token.scope)}</td>
                                        <td><MaybeTime at=token.expires_at.clone() otherwise="never"/></td>
                                        <td><MaybeTime at=token.last_used_at.clone() otherwise="never"/></td>
                                        <td><StatusBadge status=if token.revoked { "revoked" } else { "active" }.to_owned()/></td>
                                        <td>{(!token.revoked).then(|| view! {
                                            <ConfirmButton label="Revoke" question=format!("Revoke token {}? Scripts using it stop working.", token.name) on_confirm=Callback::new(move |()| revoke(id.clone()))/>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </Transition>
    }
}

/// The audit log's filters as the API takes them; empty fields do not narrow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub actor: String,
    pub action: String,
    pub site: String,
    pub outcome: String,
    /// RFC 3339, from the reader's local time.
    pub since: Option<String>,
    pub until: Option<String>,
}

impl AuditQuery {
    /// The query string, without `before` and `limit`.
    pub fn to_query(&self) -> String {
        [
            ("actor", Some(self.actor.trim())),
            ("action", Some(self.action.trim())),
            ("site", Some(self.site.trim())),
            ("outcome", Some(self.outcome.as_str())),
            ("since", self.since.as_deref()),
            ("until", self.until.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| format!("{key}={}", api::encode_query(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// A `datetime-local` input's value (the reader's zone) as an RFC 3339 time in UTC.
fn local_input_to_rfc3339(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let date = js_sys::Date::new(&value.into());
    (!date.get_time().is_nan()).then(|| String::from(date.to_iso_string()))
}

const OUTCOMES: &[(&str, &str)] = &[
    ("", "any outcome"),
    ("ok", "ok"),
    ("denied", "denied"),
    ("failed", "failed"),
    ("accepted", "job accepted"),
    ("succeeded", "job succeeded"),
    ("partially_failed", "job partially failed"),
    ("unreachable", "site unreachable"),
];

#[component]
fn Audit() -> impl IntoView {
    let session = expect_context::<Session>();
    let entries = RwSignal::new(Vec::<AuditEntry>::new());
    let next = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let query = RwSignal::new(AuditQuery::default());
    let (actor, action, site, outcome) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let (since, until) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let load = move |before: Option<i64>| {
        loading.set(true);
        error.set(None);
        let filters = query.get_untracked().to_query();
        leptos::task::spawn_local(async move {
            let mut path = format!("/audit?limit=100&{filters}");
            if let Some(before) = before {
                path.push_str(&format!("&before={before}"));
            }
            match api::get::<AuditList>(&path).await {
                Ok(page) => {
                    if before.is_none() {
                        entries.set(Vec::new());
                    }
                    entries.update(|e| e.extend(page.items));
                    next.set(page.next_before);
                }
                Err(e) => error.set(Some(e.message)),
            }
            loading.set(false);
        });
    };
    load(None);
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        query.set(AuditQuery {
            actor: actor.get_untracked(),
            action: action.get_untracked(),
            site: site.get_untracked(),
            outcome: outcome.get_untracked(),
            since: local_input_to_rfc3339(&since.get_untracked()),
            until: local_input_to_rfc3339(&until.get_untracked()),
        });
        load(None);
    };
    let export = move |_| {
        let filters = query.get_untracked().to_query();
        leptos::task::spawn_local(async move {
            if let Err(e) =
                api::download(&format!("/audit/export?{filters}"), "overcast-audit.jsonl").await
            {
                error.set(Some(e.message));
            }
        });
    };
    view! {
        <p class="muted">"Every change made through the console, every sign-in, job and site state change; newest first. Nothing here can be edited or deleted."</p>
        <form class="card form" aria-label="Filter the audit log" on:submit=apply>
            <div class="grid-form">
                <Show when=move || session.is_admin()>
                    <Field id="audit-actor" label="Who" value=actor placeholder="username"/>
                </Show>
                <Field id="audit-action" label="Action starts with" value=action placeholder="e.g. job. or POST /api/v1/sites"/>
                <Field id="audit-site" label="Site" value=site placeholder="e.g. site-001"/>
                <div class="field">
                    <label for="audit-outcome">"Outcome"</label>
                    <select id="audit-outcome" prop:value=outcome on:change=move |ev| outcome.set(event_target_value(&ev))>
                        {OUTCOMES.iter().map(|(value, text)| view! { <option value=*value>{*text}</option> }).collect_view()}
                    </select>
                </div>
                <Field id="audit-since" label="From (your time)" value=since kind="datetime-local"/>
                <Field id="audit-until" label="Until (your time)" value=until kind="datetime-local"/>
            </div>
            <div class="actions">
                <button type="submit">"Show entries"</button>
                <button type="button" class="secondary" on:click=export>"Export as JSON lines"</button>
            </div>
        </form>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <table class="audit">
            <caption class="visually-hidden">"Audit log"</caption>
            <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Sites"</th><th scope="col">"Outcome"</th><th scope="col">"Why"</th></tr></thead>
            <tbody>
                <For each=move || entries.get() key=|e| e.id let:entry>
                    <tr>
                        <td class="nowrap"><RelativeTime at=entry.at.clone()/></td>
                        <td class="nowrap">{entry.actor.clone()}</td>
                        <th scope="row" class="mono">{entry.action.clone()}{entry.target.clone().map(|t| view! { <span class="muted">" "{t}</span> })}</th>
                        <td class="nowrap">{entry.sites.join(", ")}</td>
                        <td class="nowrap"><StatusBadge status=entry.outcome.clone()/>{entry.status.map(|s| view! { <span class="muted">" "{s}</span> })}</td>
                        <td class="why">{entry.detail.clone().unwrap_or_default()}</td>
                    </tr>
                </For>
            </tbody>
        </table>
        {move || (entries.with(Vec::is_empty) && !loading.get()).then(|| view! { <div class="empty">"No entry matches."</div> })}
        <Show when=move || next.get().is_some()>
            <button type="button" class="secondary" disabled=move || loading.get() on:click=move |_| load(next.get_untracked())>"Older entries"</button>
        </Show>
    }
}
