//! One job: every site's task as it happens, with retry and cancel.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use overcast_api_types::jobs::{Job, Task, TaskEvent, TaskState};

use crate::api;
use crate::app::Session;
use crate::components::badge::StatusBadge;
use crate::components::confirm::ConfirmButton;
use crate::components::pager::{page_of, Pager};
use crate::components::progress::Progress;
use crate::components::time::{Clock, MaybeTime, RelativeTime};
use crate::format;
use crate::pages::jobs::{job_duration, OutcomeBar};

/// How long a site's task took, or has been running, or "–" before it starts.
fn task_duration(task: &Task, now_ms: f64) -> String {
    let start = task.started_at.as_deref().and_then(format::epoch_ms);
    let end = task.finished_at.as_deref().and_then(format::epoch_ms);
    match (start, end, task.state) {
        (Some(start), Some(end), _) => format::duration(end - start),
        (Some(start), None, TaskState::Running) => {
            format!("{} so far", format::duration(now_ms - start))
        }
        _ => "–".into(),
    }
}

/// What the Detail column says of a task: its error, its next attempt, its outcome, or
/// why it has not started. A task cancelled by the stop points to the banner instead of
/// repeating the reason on every row.
fn task_detail(task: &Task, job: &Job, canary_pending: bool) -> String {
    if task.error.is_some() && task.error == job.stopped_reason {
        return "not started (see why above)".into();
    }
    // The engine's word for an attempt that failed once the rollout had been stopped.
    if task.error.as_deref() == Some("the job was stopped") {
        return "its attempt failed; not tried again (see why above)".into();
    }
    if let Some(error) = &task.error {
        return error.clone();
    }
    if let Some(at) = task.next_attempt_at.as_deref() {
        return format!("next attempt at {}", format::local_time(at));
    }
    match task.state {
        TaskState::Pending if canary_pending && !task.canary => {
            "waits for the canary sites to succeed".into()
        }
        TaskState::Pending => format!(
            "waits for a free slot ({} at once)",
            sites_text(job.rollout.max_parallel.unwrap_or(50))
        ),
        TaskState::Running => format!("attempt {} in progress", task.attempts.max(1)),
        _ => task
            .result
            .as_ref()
            .and_then(|r| r["outcome"].as_str().map(|o| o.replace('_', " ")))
            .unwrap_or_default(),
    }
}

/// Applies one task change to the job shown.
pub fn apply(job: &mut Job, event: TaskEvent) {
    job.state = event.job_state;
    job.counts = event.counts;
    match job.tasks.iter_mut().find(|t| t.site == event.task.site) {
        Some(task) => *task = event.task,
        None => job.tasks.push(event.task),
    }
}

/// "1 site", "20 sites".
fn sites_text(n: u32) -> String {
    if n == 1 {
        "1 site".into()
    } else {
        format!("{n} sites")
    }
}

/// The rollout's limits in words.
fn rollout_text(job: &Job) -> String {
    let rollout = &job.rollout;
    let mut parts = vec![format!(
        "{} at once",
        sites_text(rollout.max_parallel.unwrap_or(50))
    )];
    match (rollout.canary.as_slice(), rollout.canary_count) {
        ([], Some(n)) if n > 0 => parts.push(format!("{n} canary first")),
        ([], _) => {}
        (sites, _) => parts.push(format!("canary first: {}", sites.join(", "))),
    }
    match (rollout.max_failures, rollout.max_failure_percent) {
        (Some(n), _) => parts.push(format!("stops after more than {n} failed")),
        (None, Some(p)) => parts.push(format!("stops after more than {p} % failed")),
        (None, None) => parts.push("no failure limit".into()),
    }
    parts.join(" · ")
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").unwrap_or_default());
    let session = expect_context::<Session>();
    let clock = expect_context::<Clock>();
    let job = RwSignal::<api::Loaded<Job>>::new(None);
    let path = format!("/jobs/{}", api::encode_query(&id));
    {
        let events = format!("{path}/events");
        let path = path.clone();
        let load = move || {
            let path = path.clone();
            leptos::task::spawn_local(async move {
                let answer = api::get::<Job>(&path).await;
                // The stream may have delivered a newer job while this read was on its way.
                job.update(|shown| {
                    if !matches!(shown, Some(Ok(_))) {
                        *shown = Some(answer);
                    }
                });
            });
        };
        load();
        // The stream opens with the whole job, then sends each task change.
        api::follow_events(
            &events,
            || {},
            move |event| match event.event.as_str() {
                "job" => {
                    if let Ok(full) = serde_json::from_str::<Job>(&event.data) {
                        job.set(Some(Ok(full)));
                    }
                }
                "task" => {
                    if let Ok(change) = serde_json::from_str::<TaskEvent>(&event.data) {
                        job.update(|j| {
                            if let Some(Ok(j)) = j {
                                apply(j, change);
                            }
                        });
                    }
                }
                _ => {}
            },
        );
    }
    let error = RwSignal::new(None::<String>);
    let command = Callback::new(move |verb: &'static str| {
        let path = format!("{path}/{verb}");
        let call = async move { api::send::<_, Job>("POST", &path, &serde_json::json!({})).await };
        api::spawn_call(call, error, move |updated| job.set(Some(Ok(updated))));
    });
    // Memos, so the head (and a half-confirmed cancel) is not redrawn by every task change.
    let state = Memo::new(move |_| {
        job.with(|j| {
            j.as_ref()
                .and_then(|j| j.as_ref().ok())
                .map(|j| (j.kind.clone(), j.state))
        })
    });
    let finished = Memo::new(move |_| state.get().is_some_and(|(_, s)| s.is_finished()));
    let retryable = Memo::new(move |_| {
        finished.get()
            && job.with(|j| {
                j.as_ref()
                    .and_then(|j| j.as_ref().ok())
                    .is_some_and(|j| j.counts.failed + j.counts.cancelled > 0)
            })
    });
    let task_filter = RwSignal::new(String::new());
    let page = RwSignal::new(0usize);
    view! {
        <section class="job-page">
            <p class="breadcrumb"><A href="/jobs">"Jobs"</A>" / "{id.clone()}</p>
            {move || state.get().map(|(kind, job_state)| view! {
                <div class="page-head">
                    <h1>{kind}" "<StatusBadge status=job_state.as_str().to_owned()/></h1>
                    <Show when=move || session.can_operate()>
                        <div class="actions">
                            <Show when=move || !finished.get()>
                                <ConfirmButton label="Cancel job" question="Cancel every task that has not started?" on_confirm=Callback::new(move |()| command.run("cancel"))/>
                            </Show>
                            <Show when=move || retryable.get()>
                                <button type="button" on:click=move |_| command.run("retry")>"Retry failed sites"</button>
                            </Show>
                        </div>
                    </Show>
                </div>
            })}
            {move || match job.get() {
                None => view! { <p class="muted" role="status">"Loading the job…"</p> }.into_any(),
                Some(Err(e)) => view! { <h1>"Job"</h1><p class="error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(j)) => {
                    let mut tasks = j.tasks.clone();
                    tasks.sort_by(|a, b| a.site.cmp(&b.site));
                    let wanted = task_filter.get();
                    tasks.retain(|t| wanted.is_empty() || t.state.as_str() == wanted);
                    let total = tasks.len();
                    let canary_pending = j.tasks.iter().any(|t| t.canary && t.state != TaskState::Succeeded);
                    let expires = j.expires_at.clone();
                    view! {
                        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        {j.stopped_reason.as_deref().map(|reason| view! { <div class="banner warning job-stopped" role="status">{format::stop_text(reason)}</div> })}
                        <OutcomeBar counts=j.counts.clone() label="Job progress" legend=true/>
                        <dl class="facts">
                            <div><dt>"Parameters"</dt><dd>{format::params_summary(&j.params)}</dd></div>
                            <div><dt>"Targets"</dt><dd>{format::sites_text(&j.targets)}</dd></div>
                            <div><dt>"Rollout"</dt><dd>{rollout_text(&j)}</dd></div>
                            <div><dt>"Started by"</dt><dd>{j.created_by.clone()}</dd></div>
                            <div><dt>"Started"</dt><dd><RelativeTime at=j.created_at.clone()/></dd></div>
                            <div><dt>"Finished"</dt><dd><MaybeTime at=j.finished_at.clone() otherwise="not yet"/></dd></div>
                            <div><dt>"Took"</dt><dd>{let shown = j.clone(); move || job_duration(&shown, clock.now()).unwrap_or_else(|| "–".into())}</dd></div>
                            <Show when={let unfinished = !j.state.is_finished(); move || unfinished}>
                                <div><dt>"Waiting sites give up"</dt><dd><RelativeTime at=expires.clone()/></dd></div>
                            </Show>
                        </dl>
                        <h2>"Sites"</h2>
                        <div class="toolbar">
                            <label for="task-state">"Show"</label>
                            <select id="task-state" prop:value=task_filter on:change=move |ev| { task_filter.set(event_target_value(&ev)); page.set(0); }>
                                <option value="">"every site"</option>
                                {[TaskState::Failed, TaskState::WaitingForSite, TaskState::Running, TaskState::Pending, TaskState::Succeeded, TaskState::Cancelled]
                                    .into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str().replace('_', " ")}</option> }).collect_view()}
                            </select>
                        </div>
                        <table class="tasks-table">
                            <caption class="visually-hidden">"Tasks by site"</caption>
                            <thead><tr>
                                <th scope="col">"Site"</th><th scope="col">"State"</th><th scope="col">"Progress"</th>
                                <th scope="col">"Attempts"</th><th scope="col">"Took"</th><th scope="col">"Detail"</th>
                            </tr></thead>
                            <tbody>
                                {page_of(&tasks, page.get()).into_iter().map(|task| {
                                    let detail = task_detail(&task, &j, canary_pending);
                                    let label = format!("{} progress", task.site);
                                    let failed = task.error.is_some() && task.error != j.stopped_reason && task.state != TaskState::Cancelled;
                                    let took = { let task = task.clone(); move || task_duration(&task, clock.now()) };
                                    view! {
                                        <tr>
                                            <th scope="row"><A href=format!("/sites/{}", task.site)>{task.site.clone()}</A>{task.canary.then_some(" (canary)")}</th>
                                            <td><StatusBadge status=task.state.as_str().to_owned()/></td>
                                            <td><Progress value=task.progress.percent() label/>{transfer_text(&task.progress).map(|t| view! { <span class="small-text">{t}</span> })}</td>
                                            <td>{task.attempts}</td>
                                            <td class="nowrap">{took}</td>
                                            <td class="detail" class:error-text=failed>{detail}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <Pager total=total page/>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// A transfer's bytes, pace and time left: "1.2 MiB of 3.0 MiB · 5.1 MiB/s · 1 s left".
pub fn transfer_text(progress: &overcast_api_types::jobs::Progress) -> Option<String> {
    let overcast_api_types::jobs::Progress::Transfer(t) = progress else {
        return None;
    };
    let mut text = match t.bytes_total {
        Some(total) => format!(
            "{} of {}",
            format::bytes(t.bytes_done),
            format::bytes(total)
        ),
        None => format::bytes(t.bytes_done),
    };
    if t.bytes_per_s > 0 {
        text.push_str(&format!(" · {}/s", format::bytes(t.bytes_per_s)));
    }
    if let Some(eta) = t.eta_s {
        text.push_str(&format!(
            " · {} left",
            format::duration(eta as f64 * 1000.0)
        ));
    }
    Some(text)
}
