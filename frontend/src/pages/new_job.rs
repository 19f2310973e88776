//! Starting a bulk operation: a kind, its parameters, the target sites and how to roll out.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use overcast_api_types::jobs::{Job, JobPreview, NewJob, Rollout, Targets};
use overcast_api_types::SiteState;
use serde_json::{Map, Value};

use crate::api;
use crate::app::Session;
use crate::components::badge::StateBadge;
use crate::components::field::{focus, number, FieldErrors, FormField};
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

/// The API's name of a parameter: `params.name`, `params.compute.cores`.
fn param_field(key: &str) -> String {
    format!("params.{key}")
}

/// The element id of a parameter's input.
fn param_id(key: &str) -> String {
    format!("param-{}", key.replace('.', "-"))
}

/// Which input of this form shows an error the API names. `None`: no input of ours is
/// at fault (the message then shows above the buttons only).
fn input_for(field: &str, fields: &[Param]) -> Option<String> {
    if let Some(key) = field.strip_prefix("params.") {
        // `params.compute.cores` or a deeper path under a field of ours.
        return fields
            .iter()
            .map(|(k, ..)| *k)
            .filter(|k| key == *k || key.starts_with(&format!("{k}.")))
            .max_by_key(|k| k.len())
            .map(param_id);
    }
    match field {
        "params" => fields.first().map(|(k, ..)| param_id(k)),
        "kind" => Some("job-kind".into()),
        "targets" | "targets.sites" | "targets.selector" | "targets.all" => {
            Some("job-targets".into())
        }
        "rollout.max_parallel" => Some("job-parallel".into()),
        "rollout.max_failures" | "rollout.max_failure_percent" => Some("job-failures".into()),
        "rollout.canary" | "rollout.canary_count" => Some("job-canary".into()),
        _ => None,
    }
}

/// The parameters as the API takes them, or every field that is wrong.
fn params_of(fields: &[Param], values: &[RwSignal<String>]) -> Result<Value, FieldErrors> {
    let mut params = Map::new();
    let mut errors = FieldErrors::new();
    for ((key, _, input, required), value) in fields.iter().zip(values) {
        let text = value.get_untracked().trim().to_owned();
        if text.is_empty() || (*input == Input::Flag && text == "false") {
            if *required {
                errors.insert(param_field(key), "is required".into());
            }
            continue;
        }
        let value = match input {
            Input::Number => match text.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    errors.insert(param_field(key), "must be a whole number".into());
                    continue;
                }
            },
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
    if errors.is_empty() {
        Ok(Value::Object(params))
    } else {
        Err(errors)
    }
}

/// The rollout fields start where a cautious operator would: one canary site, the
/// engine's 50 sites at once, and the first failure after the canary stops the rollout.
const DEFAULT_PARALLEL: &str = "50";
const DEFAULT_FAILURES: &str = "0";
const DEFAULT_CANARY: &str = "1";

#[component]
pub fn NewJob() -> impl IntoView {
    let session = expect_context::<Session>();
    let kind = RwSignal::new(0usize);
    // One value per parameter of the widest kind; a kind uses the first ones it needs.
    let values: Vec<RwSignal<String>> = (0..5).map(|_| RwSignal::new(String::new())).collect();
    let target_mode = RwSignal::new("selector".to_owned());
    let target_text = RwSignal::new(String::new());
    let max_parallel = RwSignal::new(DEFAULT_PARALLEL.to_owned());
    let max_failures = RwSignal::new(DEFAULT_FAILURES.to_owned());
    let canary_count = RwSignal::new(DEFAULT_CANARY.to_owned());
    let error = RwSignal::new(None::<String>);
    let errors = RwSignal::new(FieldErrors::new());
    let busy = RwSignal::new(false);
    let previewing = RwSignal::new(false);
    let preview = RwSignal::new(None::<JobPreview>);
    let navigate = use_navigate();
    let form_values = values.clone();
    let field_values = values.clone();

    // The job the form describes, or the fields at fault.
    let build = move || -> Result<NewJob, FieldErrors> {
        let (name, _, fields) = KINDS[kind.get_untracked()];
        let mut errors = FieldErrors::new();
        let params = params_of(fields, &form_values).unwrap_or_else(|e| {
            errors.extend(e);
            Value::Null
        });
        let text = target_text.get_untracked().trim().to_owned();
        let targets = match target_mode.get_untracked().as_str() {
            "all" => Targets {
                all: Some(true),
                ..Default::default()
            },
            mode if text.is_empty() => {
                let what = if mode == "sites" {
                    "name at least one site"
                } else {
                    "give a label selector, e.g. region=eu"
                };
                errors.insert("targets".into(), what.into());
                Targets::default()
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
            max_parallel: number(
                &max_parallel.get_untracked(),
                "rollout.max_parallel",
                &mut errors,
            ),
            max_failures: number(
                &max_failures.get_untracked(),
                "rollout.max_failures",
                &mut errors,
            ),
            canary_count: number(
                &canary_count.get_untracked(),
                "rollout.canary_count",
                &mut errors,
            ),
            ..Default::default()
        };
        if errors.is_empty() {
            Ok(NewJob {
                kind: name.to_owned(),
                targets,
                params,
                rollout,
                ttl_s: None,
            })
        } else {
            Err(errors)
        }
    };
    // Shows what is wrong: each field's message beside it, the focus on the first one
    // in the form's order, and a summary above the buttons.
    let refuse = move |message: String, found: FieldErrors| {
        let (_, _, fields) = KINDS[kind.get_untracked()];
        let order = |field: &String| {
            let id = input_for(field, fields);
            let rank = ["job-kind"]
                .into_iter()
                .map(str::to_owned)
                .chain(fields.iter().map(|(k, ..)| param_id(k)))
                .chain(
                    ["job-targets", "job-parallel", "job-failures", "job-canary"]
                        .map(str::to_owned),
                )
                .position(|i| Some(&i) == id.as_ref());
            rank.unwrap_or(usize::MAX)
        };
        let first = found.keys().min_by_key(|f| order(f)).cloned();
        let shown: FieldErrors = found
            .into_iter()
            .filter(|(field, _)| input_for(field, fields).is_some())
            .collect();
        errors.set(shown);
        error.set(Some(message));
        if let Some(id) = first.and_then(|f| input_for(&f, fields)) {
            // After the messages are drawn, so the reader hears the field's error.
            request_animation_frame(move || focus(&id));
        }
    };
    let api_refusal = move |e: api::ApiError| {
        let found: FieldErrors = e
            .fields
            .iter()
            .map(|f| (f.field.clone(), f.message.clone()))
            .collect();
        refuse(e.message, found);
    };
    let check = {
        let build = build.clone();
        move |_| {
            let job = match build() {
                Ok(job) => job,
                Err(found) => {
                    return refuse("Some fields need attention before a preview.".into(), found)
                }
            };
            errors.set(FieldErrors::new());
            error.set(None);
            previewing.set(true);
            leptos::task::spawn_local(async move {
                let answer = api::send::<_, JobPreview>("POST", "/jobs?dry_run=true", &job).await;
                previewing.set(false);
                match answer {
                    Ok(found) => preview.set(Some(found)),
                    Err(e) => {
                        preview.set(None);
                        api_refusal(e);
                    }
                }
            });
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let job = match build() {
            Ok(job) => job,
            Err(found) => return refuse("Some fields need attention.".into(), found),
        };
        errors.set(FieldErrors::new());
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let started = api::send::<_, Job>("POST", "/jobs", &job).await;
            busy.set(false);
            match started {
                Ok(job) => navigate(&format!("/jobs/{}", job.id), Default::default()),
                Err(e) => api_refusal(e),
            }
        });
    };
    // A preview describes the form as it was: any change makes it stale.
    let changed = move || preview.set(None);
    let target_message = Memo::new(move |_| errors.with(|e| e.get("targets").cloned()));
    view! {
        <section class="new-job">
            <h1>"New job"</h1>
            <Show when=move || !session.can_operate()>
                <div class="banner warning" role="status">"Your role may look but not start jobs."</div>
            </Show>
            <form class="card form" on:submit=submit on:input=move |_| changed() on:change=move |_| changed() aria-label="New job" novalidate>
                <fieldset>
                    <legend>"What"</legend>
                    <div class="field" class:invalid=move || errors.with(|e| e.contains_key("kind"))>
                        <label for="job-kind">"Kind"</label>
                        <select id="job-kind" on:change=move |ev| {
                            let chosen = event_target_value(&ev);
                            kind.set(KINDS.iter().position(|(name, _, _)| *name == chosen).unwrap_or(0));
                            for value in &values { value.set(String::new()); }
                            errors.set(FieldErrors::new());
                            error.set(None);
                        }>
                            {KINDS.iter().map(|(name, title, _)| view! { <option value=*name>{format!("{title} ({name})")}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="grid-form">
                        {let values = field_values; move || KINDS[kind.get()].2.iter().zip(values.clone()).map(|((key, label, input, required), value)| {
                            let id = param_id(key);
                            match input {
                                Input::Flag => view! {
                                    <div class="field checkbox">
                                        <input id=id.clone() type="checkbox" prop:checked=move || value.get() == "true"
                                            on:change=move |ev| value.set(event_target_checked(&ev).to_string())/>
                                        <label for=id>{*label}</label>
                                    </div>
                                }.into_any(),
                                _ => view! {
                                    <FormField id=id field=param_field(key) label=label.to_string() value errors required=*required
                                        kind=match input { Input::Number => "number", Input::Secret => "password", _ => "text" }/>
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
                                on:change=move |_| { target_mode.set(mode.to_owned()); errors.update(|e| { e.remove("targets"); }); }/>{text}</label>
                        }).collect_view()}
                    </div>
                    <Show when=move || target_mode.get() != "all"
                        fallback=move || target_message.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })>
                        <div class="field" class:invalid=move || target_message.get().is_some()>
                            <label for="job-targets">{move || if target_mode.get() == "sites" { "Site names" } else { "Label selector" }}</label>
                            <input id="job-targets" placeholder=move || if target_mode.get() == "sites" { "site-001, site-002" } else { "region=eu,tier!=test" }
                                aria-invalid=move || target_message.get().is_some().then_some("true")
                                aria-describedby=move || if target_message.get().is_some() { "job-targets-error job-targets-hint" } else { "job-targets-hint" }
                                prop:value=target_text on:input=move |ev| { target_text.set(event_target_value(&ev)); errors.update(|e| { e.remove("targets"); }); }/>
                            {move || target_message.get().map(|m| view! { <p id="job-targets-error" class="field-error">{m}</p> })}
                            <p id="job-targets-hint" class="hint">{move || if target_mode.get() == "sites" {
                                "Site names, separated by commas."
                            } else {
                                "key=value pairs separated by commas; key!=value excludes. Every pair must hold."
                            }}</p>
                        </div>
                    </Show>
                </fieldset>
                <fieldset>
                    <legend>"How"</legend>
                    <div class="grid-form">
                        <FormField id="job-canary".into() field="rollout.canary_count".into() label="Canary sites first".into() value=canary_count errors kind="number" min="0"
                            hint="This many sites (the first by name) go first; the others start only once every canary succeeded. A failed canary stops the job. 0: no canary."/>
                        <FormField id="job-parallel".into() field="rollout.max_parallel".into() label="Sites at once".into() value=max_parallel errors kind="number" min="1"
                            hint="Parallelism: how many sites this job works on at the same time. Lower is gentler on a big fleet; 50 is the console's default."/>
                        <FormField id="job-failures".into() field="rollout.max_failures".into() label="Failures tolerated".into() value=max_failures errors kind="number" min="0"
                            placeholder="no limit"
                            hint="Failure limit: failed sites the job accepts. One more stops it and cancels the sites not yet started. 0: the first failure stops it; empty: no limit. Unreachable sites wait and do not count."/>
                    </div>
                </fieldset>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {move || preview.get().map(|p| view! { <PreviewPanel preview=p/> })}
                <div class="actions">
                    <button type="button" class="secondary" on:click=check disabled=move || previewing.get() || !session.can_operate()>
                        {move || if previewing.get() { "Checking…" } else { "Preview sites" }}</button>
                    <button type="submit" disabled=move || busy.get() || !session.can_operate()>{move || if busy.get() { "Starting…" } else { "Start job" }}</button>
                </div>
            </form>
        </section>
    }
}

/// The answer of a dry run: how many sites the job would run at, which go first, and
/// which are unreachable now (their tasks would wait for them).
#[component]
fn PreviewPanel(preview: JobPreview) -> impl IntoView {
    let count = preview.sites.len();
    let unreachable = preview.unreachable.len();
    let canaries: Vec<String> = preview
        .sites
        .iter()
        .filter(|s| s.canary)
        .map(|s| s.site.clone())
        .collect();
    let summary = {
        let sites = if count == 1 {
            "1 site".to_owned()
        } else {
            format!("{count} sites")
        };
        let mut text = format!("The targets match {sites}");
        if unreachable > 0 {
            text.push_str(&format!(
                "; {unreachable} unreachable now (their tasks would wait for them)"
            ));
        }
        if !canaries.is_empty() {
            text.push_str(&format!("; canary first: {}", canaries.join(", ")));
        }
        text.push('.');
        text
    };
    view! {
        <section class="preview" role="region" aria-label="Sites the job would run at">
            <h2>"Preview: nothing was started"</h2>
            <p role="status">{summary}</p>
            <ul class="preview-sites">
                {preview.sites.into_iter().map(|site| {
                    let state = site.state;
                    view! {
                        <li class:unreachable={state == SiteState::Unreachable}>
                            <span class="site-name">{site.site}</span>
                            {site.canary.then(|| view! { <span class="muted">" (canary)"</span> })}
                            {(state != SiteState::Online).then(|| view! { " " <StateBadge state=state/> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
