//! Bulk operations: the newest jobs, kept current by the console's events.

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::jobs::{Job, JobList, JobState};

use crate::api;
use crate::app::{Live, Session};
use crate::components::badge::StatusBadge;
use crate::components::pager::{page_of, Pager};
use crate::components::progress::Progress;
use crate::components::time::RelativeTime;
use crate::format;

/// Share of a job's tasks that are finished, 0 to 100.
pub fn percent_done(job: &Job) -> u8 {
    match job.counts.total {
        0 => 100,
        total => (u64::from(job.counts.finished()) * 100 / u64::from(total)) as u8,
    }
}

#[component]
pub fn Jobs() -> impl IntoView {
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
                        <table>
                            <caption class="visually-hidden">"Jobs, newest first"</caption>
                            <thead><tr>
                                <th scope="col">"Kind"</th><th scope="col">"State"</th><th scope="col">"Progress"</th>
                                <th scope="col">"Sites"</th><th scope="col">"Targets"</th><th scope="col">"By"</th><th scope="col">"Started"</th>
                            </tr></thead>
                            <tbody>
                                {page_of(&list, page.get()).into_iter().map(|job| { let label = format!("{} {}", job.kind, job.id); let done = percent_done(&job); let targets = format::sites_text(&job.targets); view! {
                                    <tr>
                                        <th scope="row"><A href=format!("/jobs/{}", job.id)>{job.kind.clone()}</A></th>
                                        <td><StatusBadge status=job.state.as_str().to_owned()/></td>
                                        <td><Progress value=done label/></td>
                                        <td>{format!("{} ok · {} failed · {} total", job.counts.succeeded, job.counts.failed, job.counts.total)}</td>
                                        <td>{targets}</td>
                                        <td>{job.created_by.clone()}</td>
                                        <td><RelativeTime at=job.created_at.clone()/></td>
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
