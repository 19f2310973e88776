//! Starting a bulk operation: a kind, its parameters, the target sites and how to roll out.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use overcast_api_types::jobs::{Job, NewJob, Rollout, Targets};
use serde_json::{Map, Value};

use crate::api;
use crate::app::Session;
use crate::format;

#[derive(Clone, Copy, PartialEq)]
enum Input {
    Text,
    Secret,
    Number,
    /// Comma-separated, sent as a list.
    List,
    Flag,
}

/// A parameter of a job kind: its key (dots nest), label, input and whether it is needed.
type Param = (&'static str, &'static str, Input, bool);

const KINDS: &[(&str, &str, &[Param])] = &[
    (
        "flavor.create",
        "Create a flavor",
        &[
            ("name", "Name", Input::Text, true),
            ("vcpus", "vCPUs", Input::Number, true),
            ("ram_mb", "RAM (MB)", Input::Number, true),
            ("disk_gb", "Disk (GB)", Input::Number, true),
            ("is_public", "Public", Input::Flag, false),
        ],
    ),
    (
        "flavor.delete",
        "Delete a flavor",
        &[("name", "Name", Input::Text, true)],
    ),
    (
        "project.create",
        "Create a project",
        &[
            ("name", "Name", Input::Text, true),
            ("description", "Description", Input::Text, false),
        ],
    ),
    (
        "user.create",
        "Create a user",
        &[
            ("name", "Name", Input::Text, true),
            ("password", "Password", Input::Secret, true),
            ("default_project", "Default project", Input::Text, false),
        ],
    ),
    (
        "quota.set",
        "Set quotas",
        &[
            ("project", "Project", Input::Text, true),
            ("compute.instances", "Instances", Input::Number, false),
            ("compute.cores", "Cores", Input::Number, false),
            ("compute.ram", "RAM (MB)", Input::Number, false),
        ],
    ),
    (
        "keypair.create",
        "Create a key pair",
        &[
            ("name", "Name", Input::Text, true),
            ("public_key", "Public key", Input::Text, true),
        ],
    ),
    (
        "network.create",
        "Create a network",
        &[
            ("name", "Name", Input::Text, true),
            ("shared", "Shared", Input::Flag, false),
        ],
    ),
    (
        "servers.delete",
        "Delete servers",
        &[
            ("names", "Names (comma-separated)", Input::List, false),
            (
                "name_prefix",
                "Or every name starting with",
                Input::Text,
                false,
            ),
        ],
    ),
];

/// The parameters as the API takes them, or the first field that is wrong.
fn params_of(fields: &[Param], values: &[RwSignal<String>]) -> Result<Value, String> {
    let mut params = Map::new();
    for ((key, label, input, required), value) in fields.iter().zip(values) {
        let text = value.get_untracked().trim().to_owned();
        if text.is_empty() || (*input == Input::Flag && text == "false") {
            if *required {
                return Err(format!("{label} is required"));
            }
            continue;
        }
        let value = match input {
            Input::Number => Value::from(
                text.parse::<i64>()
                    .map_err(|_| format!("{label} must be a whole number"))?,
            ),
            Input::List => Value::from(format::comma_list(&text)),
            Input::Flag => Value::Bool(true),
            Input::Text | Input::Secret => Value::String(text),
        };
        match key.split_once('.') {
            Some((group, inner)) => {
                let group = params
                    .entry(group)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(group) = group {
                    group.insert(inner.to_owned(), value);
                }
            }
            None => {
                params.insert((*key).to_owned(), value);
            }
        }
    }
    Ok(Value::Object(params))
}

fn number(text: &str, label: &str) -> Result<Option<u32>, String> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| format!("{label} must be a whole number")),
    }
}

#[component]
pub fn NewJob() -> impl IntoView {
    let session = expect_context::<Session>();
    let kind = RwSignal::new(0usize);
    // One value per parameter of the widest kind; a kind uses the first ones it needs.
    let values: Vec<RwSignal<String>> = (0..5).map(|_| RwSignal::new(String::new())).collect();
    let target_mode = RwSignal::new("selector".to_owned());
    let target_text = RwSignal::new(String::new());
    let max_parallel = RwSignal::new(String::new());
    let max_failures = RwSignal::new(String::new());
    let canary_count = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let form_values = values.clone();
    let field_values = values.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (name, _, fields) = KINDS[kind.get_untracked()];
        let built = (|| {
            let params = params_of(fields, &form_values)?;
            let text = target_text.get_untracked().trim().to_owned();
            let targets = match target_mode.get_untracked().as_str() {
                "all" => Targets {
                    all: Some(true),
                    ..Default::default()
                },
                _ if text.is_empty() => {
                    return Err("Say which sites: a selector or site names".to_owned())
                }
                "sites" => Targets {
                    sites: Some(format::comma_list(&text)),
                    ..Default::default()
                },
                _ => Targets {
                    selector: Some(text),
                    ..Default::default()
                },
            };
            let rollout = Rollout {
                max_parallel: number(&max_parallel.get_untracked(), "Sites at once")?,
                max_failures: number(&max_failures.get_untracked(), "Failures tolerated")?,
                canary_count: number(&canary_count.get_untracked(), "Canary sites")?,
                ..Default::default()
            };
            Ok(NewJob {
                kind: name.to_owned(),
                targets,
                params,
                rollout,
                ttl_s: None,
            })
        })();
        let job = match built {
            Ok(job) => job,
            Err(message) => return error.set(Some(message)),
        };
        busy.set(true);
        let navigate = navigate.clone();
        let call = async move {
            let started = api::send::<_, Job>("POST", "/jobs", &job).await;
            busy.set(false);
            started
        };
        api::spawn_call(call, error, move |job| {
            navigate(&format!("/jobs/{}", job.id), Default::default())
        });
    };
    view! {
        <section>
            <h1>"New job"</h1>
            <Show when=move || !session.can_operate()>
                <div class="banner warning" role="status">"Your role may look but not start jobs."</div>
            </Show>
            <form class="card form" on:submit=submit aria-label="New job">
                <fieldset>
                    <legend>"What"</legend>
                    <div class="field">
                        <label for="job-kind">"Kind"</label>
                        <select id="job-kind" on:change=move |ev| {
                            let chosen = event_target_value(&ev);
                            kind.set(KINDS.iter().position(|(name, _, _)| *name == chosen).unwrap_or(0));
                            for value in &values { value.set(String::new()); }
                        }>
                            {KINDS.iter().map(|(name, title, _)| view! { <option value=*name>{format!("{title} ({name})")}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="grid-form">
                        {let values = field_values; move || KINDS[kind.get()].2.iter().zip(values.clone()).map(|((key, label, input, required), value)| {
                            let id = format!("param-{}", key.replace('.', "-"));
                            match input {
                                Input::Flag => view! {
                                    <div class="field checkbox">
                                        <input id=id.clone() type="checkbox" prop:checked=move || value.get() == "true"
                                            on:change=move |ev| value.set(event_target_checked(&ev).to_string())/>
                                        <label for=id>{*label}</label>
                                    </div>
                                }.into_any(),
                                _ => view! {
                                    <div class="field">
                                        <label for=id.clone()>{*label}{required.then_some(" *")}</label>
                                        <input id=id required=*required
                                            type=match input { Input::Number => "number", Input::Secret => "password", _ => "text" }
                                            prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
                                    </div>
                                }.into_any(),
                            }
                        }).collect_view()}
                    </div>
                </fieldset>
                <fieldset>
                    <legend>"Where"</legend>
                    <div class="radios" role="radiogroup" aria-label="Target sites">
                        {[("selector", "Sites with labels"), ("sites", "Named sites"), ("all", "Every site")].into_iter().map(|(mode, text)| view! {
                            <label><input type="radio" name="target-mode" value=mode prop:checked=move || target_mode.get() == mode
                                on:change=move |_| target_mode.set(mode.to_owned())/>{text}</label>
                        }).collect_view()}
                    </div>
                    <Show when=move || target_mode.get() != "all">
                        <div class="field">
                            <label for="job-targets">{move || if target_mode.get() == "sites" { "Site names" } else { "Label selector" }}</label>
                            <input id="job-targets" placeholder=move || if target_mode.get() == "sites" { "site-001, site-002" } else { "region=eu,tier!=test" }
                                prop:value=target_text on:input=move |ev| target_text.set(event_target_value(&ev))/>
                        </div>
                    </Show>
                </fieldset>
                <fieldset>
                    <legend>"How"</legend>
                    <div class="grid-form">
                        <div class="field"><label for="job-parallel">"Sites at once"</label>
                            <input id="job-parallel" type="number" min="1" placeholder="50" prop:value=max_parallel on:input=move |ev| max_parallel.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="job-failures">"Failures tolerated"</label>
                            <input id="job-failures" type="number" min="0" placeholder="no limit" prop:value=max_failures on:input=move |ev| max_failures.set(event_target_value(&ev))/></div>
                        <div class="field"><label for="job-canary">"Canary sites first"</label>
                            <input id="job-canary" type="number" min="0" placeholder="none" prop:value=canary_count on:input=move |ev| canary_count.set(event_target_value(&ev))/></div>
                    </div>
                </fieldset>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="actions">
                    <button type="submit" disabled=move || busy.get() || !session.can_operate()>{move || if busy.get() { "Starting…" } else { "Start job" }}</button>
                </div>
            </form>
        </section>
    }
}
