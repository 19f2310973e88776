//! Bulk operations: the newest jobs, kept current by the console's events.

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::jobs::{Job, JobList, JobState, TaskCounts};

use crate::api;
use crate::app::{Live, Session};
use crate::components::badge::StatusBadge;
use crate::components::pager::{page_of, Pager};
use crate::components::time::{Clock, RelativeTime};
use crate::format;

/// Share of a job's tasks that are finished, 0 to 100.
pub fn percent_done(job: &Job) -> u8 {
    percent_of(&job.counts)
}

fn percent_of(counts: &TaskCounts) -> u8 {
    match counts.total {
        0 => 100,
        total => (u64::from(counts.finished()) * 100 / u64::from(total)) as u8,
    }
}

/// A job's sites as one bar, a segment per outcome (succeeded, failed, cancelled, waiting
/// for site, running, pending), with the counts in words beside it: colour is never the
/// only signal. It stays a progressbar (share of sites finished) for assistive technology,
/// the counts as its value text.
#[component]
pub fn OutcomeBar(
    #[prop(into)] counts: Signal<TaskCounts>,
    #[prop(into)] label: String,
    /// Show the counts as a legend under the bar (the job page) or as one line (lists).
    #[prop(optional)]
    legend: bool,
) -> impl IntoView {
    let done = move || percent_of(&counts.get());
    let text = move || format::counts_text(&counts.get());
    view! {
        <div class="outcome" class:with-legend=legend>
            <div class="outcome-bar" role="progressbar" aria-label=label aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=move || done().to_string() aria-valuetext=move || format!("{} % finished: {}", done(), text())>
                {move || {
                    let counts = counts.get();
                    let total = counts.total.max(1);
                    format::outcomes(&counts).into_iter().filter(|(_, _, n)| *n > 0).map(|(class, words, n)| view! {
                        <span class=format!("segment {class}") style:width=format!("{}%", f64::from(n) * 100.0 / f64::from(total))
                            title=format!("{n} {words}")></span>
                    }).collect_view()
                }}
            </div>
            {if legend {
                view! {
                    <ul class="outcome-legend" aria-label="Sites by outcome">
                        {move || format::outcomes(&counts.get()).into_iter().map(|(class, words, n)| view! {
                            <li class:zero={n == 0}><span class=format!("swatch {class}") aria-hidden="true"></span>{format!("{n} {words}")}</li>
                        }).collect_view()}
                        <li class="all">{move || format!("{} sites in all", counts.get().total)}</li>
                    </ul>
                }.into_any()
            } else {
                view! { <span class="outcome-text small-text">{text}</span> }.into_any()
            }}
        </div>
    }
}

/// How long a job has taken (or has been going), in words, given the reader's clock.
pub fn job_duration(job: &Job, now_ms: f64) -> Option<String> {
    let start = format::epoch_ms(&job.created_at)?;
    match job.finished_at.as_deref() {
        Some(end) => format::epoch_ms(end).map(|end| format::duration(end - start)),
        None => Some(format!("{} so far", format::duration(now_ms - start))),
    }
}

#[component]
pub fn Jobs() -> impl IntoView {
    let clock = expect_context::<Clock>();
    let live = expect_context::<Live>();
    let session = expect_context::<Session>();
    let state = RwSignal::new(String::new());
    let jobs = RwSignal::<api::Loaded<Vec<Job>>>::new(None);
    Effect::new(move |_| {
        live.resync.track();
        let wanted = state.get();
        leptos::task::spawn_local(async move {
            let query = if wanted.is_empty() {
                String::new()
            } else {
                format!("&state={wanted}")
            };
            let answer = api::get::<JobList>(&format!("/jobs?limit=500{query}"))
                .await
                .map(|l| l.items);
            jobs.set(Some(answer));
        });
    });
    // A pushed change replaces the row, or adds a job started elsewhere.
    Effect::new(move |_| {
        let Some(changed) = live.job.get() else {
            return;
        };
        let wanted = state.get_untracked();
        jobs.update(|jobs| {
            if let Some(Ok(jobs)) = jobs {
                jobs.retain(|j| j.id != changed.id);
                if wanted.is_empty() || wanted == changed.state.as_str() {
                    jobs.push(changed.clone());
                    jobs.sort_by(|a, b| b.created_at.cmp(&a.created_at));
                }
            }
        });
    });
    let page = RwSignal::new(0usize);
    view! {
        <section>
            <div class="page-head">
                <h1>"Jobs"</h1>
                <Show when=move || session.can_operate()>
                    <A href="/jobs/new" attr:class="button">"New job"</A>
                </Show>
            </div>
            <div class="toolbar">
                <label for="job-state">"State"</label>
                <select id="job-state" on:change=move |ev| { state.set(event_target_value(&ev)); page.set(0); }>
                    <option value="">"any"</option>
                    {[JobState::Running, JobState::Pending, JobState::Succeeded, JobState::PartiallyFailed, JobState::Failed, JobState::Cancelled]
                        .into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str().replace('_', " ")}</option> }).collect_view()}
                </select>
            </div>
            {move || match jobs.get() {
                None => view! { <p class="muted" role="status">"Loading jobs…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <div class="empty">"No job here yet."</div> }.into_any(),
                Some(Ok(list)) => {
                    let total = list.len();
                    view! {
                        <table class="jobs-table">
                            <caption class="visually-hidden">"Jobs, newest first"</caption>
                            <thead><tr>
                                <th scope="col">"Kind"</th><th scope="col">"Parameters"</th><th scope="col">"State"</th><th scope="col">"Sites"</th>
                                <th scope="col">"Targets"</th><th scope="col">"By"</th><th scope="col">"Started"</th><th scope="col">"Took"</th>
                            </tr></thead>
                            <tbody>
                                {page_of(&list, page.get()).into_iter().map(|job| {
                                    let label = format!("{} {} sites", job.kind, job.id);
                                    let targets = format::sites_text(&job.targets);
                                    let params = format::params_summary(&job.params);
                                    let counts = job.counts.clone();
                                    let took = { let job = job.clone(); move || job_duration(&job, clock.now()).unwrap_or_else(|| "–".into()) };
                                    view! {
                                    <tr>
                                        <th scope="row"><A href=format!("/jobs/{}", job.id)>{job.kind.clone()}</A></th>
                                        <td class="params" title=params.clone()>{params.clone()}</td>
                                        <td><StatusBadge status=job.state.as_str().to_owned()/></td>
                                        <td><OutcomeBar counts=counts label/></td>
                                        <td>{targets}</td>
                                        <td>{job.created_by.clone()}</td>
                                        <td><RelativeTime at=job.created_at.clone()/></td>
                                        <td class="nowrap">{took}</td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                        <Pager total=total page/>
                    }.into_any()
                }
            }}
        </section>
    }
}
