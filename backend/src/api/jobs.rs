//! Bulk operations over HTTP: `/api/v1/jobs…`, and the Server-Sent Events the dashboard
//! and `overcast ctl` follow.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{Stream, StreamExt};
use overcast_api_types::jobs::{Job, JobList, JobState, NewJob};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::audit::AuditDetail;
use super::auth::{Caller, Operator};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use super::AppState;
use crate::jobs::EngineEvent;

const DEFAULT_LIST_LIMIT: usize = 100;
const MAX_LIST_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// Check the job and answer which sites it would run at, creating nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/jobs`: `202` with the job, or with `?dry_run=true` `200` with a
/// [`JobPreview`]: the same checks and errors, nothing stored, no site asked.
pub async fn create(
    State(state): State<AppState>,
    caller: Operator,
    ApiQuery(query): ApiQuery<CreateQuery>,
    ApiJson(new): ApiJson<NewJob>,
) -> Result<Response, ApiError> {
    // Targets outside the caller's scope are refused, never silently dropped. Bad
    // targets are left to the engine, which names the field at fault.
    if !caller.sees_every_site() {
        if let Ok(selection) = crate::federation::Selection::from_targets(&new.targets) {
            super::sites_in_scope(&state, &caller, &selection, true).await?;
        }
    }
    // A placed boot places servers again over the sites its creator may use, as
    // `POST /api/v1/servers` records them; given here, that list would be the caller's
    // word.
    if new.kind == "servers.boot" && new.params.get("placement").is_some() {
        return Err(ApiError::invalid_field(
            "params.placement",
            "a placed boot is made with POST /api/v1/servers; a job names its targets",
        ));
    }
    if query.dry_run {
        let preview = state.jobs.preview(&new).await?;
        let note = AuditDetail(format!(
            "dry run of {}: {} sites match ({} unreachable); nothing created",
            preview.kind,
            preview.sites.len(),
            preview.unreachable.len()
        ));
        let mut response = (StatusCode::OK, Json(preview)).into_response();
        response.extensions_mut().insert(note);
        return Ok(response);
    }
    let job = state.jobs.create(new, &caller.username).await?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    state: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let wanted = match query.state.as_deref() {
        None => None,
        Some(text) => Some(JobState::parse(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown job state {text:?}; one of pending, running, succeeded, partially_failed, failed, cancelled"
            ))
        })?),
    };
    let limit = query
        .limit
        .unwrap_or(DEFAULT_LIST_LIMIT)
        .clamp(1, MAX_LIST_LIMIT);
    let mut items = state.jobs.list(limit, wanted).await?;
    if !caller.sees_every_site() {
        let sites = state.sites.index().await?;
        let mut visible = Vec::with_capacity(items.len());
        for job in items {
            // Listed jobs carry no tasks; the full job says which sites it touches.
            let touches_only_scope = state
                .jobs
                .get(&job.id)
                .await
                .is_ok_and(|full| job_in_scope(&full, &caller, &sites));
            if touches_only_scope {
                visible.push(job);
            }
        }
        items = visible;
    }
    Ok(Json(JobList { items }))
}

/// A job the caller may see: every site it targets is within the caller's scope.
async fn visible_job(state: &AppState, caller: &Caller, id: &str) -> Result<Job, ApiError> {
    let job = state.jobs.get(id).await?;
    if caller.sees_every_site() {
        return Ok(job);
    }
    let sites = state.sites.index().await?;
    if job_in_scope(&job, caller, &sites) {
        Ok(job)
    } else {
        Err(ApiError::NotFound(format!("job {id} not found")))
    }
}

/// Every site the job touches is a registered site within the caller's scope.
fn job_in_scope(job: &Job, caller: &Caller, sites: &crate::sites::SiteIndex) -> bool {
    job.tasks.iter().all(|task| {
        sites
            .get(&task.site)
            .is_some_and(|site| caller.allows_site(&task.site, &site.labels))
    })
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(visible_job(&state, &caller, &id).await?))
}

pub async fn cancel(
    State(state): State<AppState>,
    caller: Operator,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    visible_job(&state, &caller, &id).await?;
    Ok(Json(state.jobs.cancel(&id, &caller.username).await?))
}

pub async fn retry(
    State(state): State<AppState>,
    caller: Operator,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    visible_job(&state, &caller, &id).await?;
    Ok(Json(state.jobs.retry(&id).await?))
}

fn event_stream(state: &AppState, stream: impl Stream<Item = Event> + Send + 'static) -> Response {
    let stopping = state.stopping.clone().cancelled_owned();
    Sse::new(stream.take_until(stopping).map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event("error").data("cannot encode event"))
}

/// `GET /api/v1/jobs/{id}/events`: the job as it is (`job`), then every task change
/// (`task`), then the finished job (`job` again) and the end of the stream.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // Subscribed before the snapshot is taken, so no change falls between the two.
    let receiver = state.jobs.subscribe();
    let snapshot = visible_job(&state, &caller, &id).await?;
    let finished = snapshot.state.is_finished();
    let first = json_event("job", &snapshot);
    let engine = state.jobs.clone();
    let changes = futures::stream::unfold((receiver, finished), move |(mut receiver, finished)| {
        let (engine, id) = (engine.clone(), id.clone());
        async move {
            if finished {
                return None;
            }
            loop {
                match receiver.recv().await {
                    Ok(EngineEvent::Task(event)) if event.job_id == id => {
                        return Some((json_event("task", &event), (receiver, false)));
                    }
                    Ok(EngineEvent::Job(job)) if job.id == id && job.state.is_finished() => {
                        let full = engine.get(&id).await.unwrap_or(job);
                        return Some((json_event("job", &full), (receiver, true)));
                    }
                    Ok(_) => {}
                    // Fell behind: a fresh snapshot replaces what was missed.
                    Err(RecvError::Lagged(_)) => {
                        let full = engine.get(&id).await.ok()?;
                        let done = full.state.is_finished();
                        return Some((json_event("job", &full), (receiver, done)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(event_stream(
        &state,
        futures::stream::once(async move { first }).chain(changes),
    ))
}

/// `GET /api/v1/events`: site state changes (`site`) and job state changes (`job`) of
/// the whole console, for live views; a scoped caller hears of its sites and jobs only.
pub async fn console_events(State(state): State<AppState>, caller: Caller) -> Response {
    let sites = futures::stream::unfold(state.health.subscribe(), |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(event) => Some(event),
            Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => return None,
        };
        Some((event.map(Change::Site), receiver))
    });
    let jobs = futures::stream::unfold(state.jobs.subscribe(), |mut receiver| async move {
        loop {
            let event = match receiver.recv().await {
                Ok(EngineEvent::Job(job)) => Some(Change::Job(Box::new(job))),
                Ok(EngineEvent::Task(_)) => continue,
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return None,
            };
            return Some((event, receiver));
        }
    });
    let visible_to = state.clone();
    let events = futures::stream::select(sites, jobs).filter_map(move |change| {
        let (state, caller) = (visible_to.clone(), caller.clone());
        async move {
            let Some(change) = change else {
                // Events were missed: the listener should reload what it shows.
                return Some(Event::default().event("resync").data("{}"));
            };
            match change {
                Change::Site(event) => {
                    let visible = caller.sees_every_site()
                        || state
                            .sites
                            .get(&event.site)
                            .await
                            .is_ok_and(|s| caller.allows_site(&s.name, &s.labels));
                    visible.then(|| json_event("site", &event))
                }
                Change::Job(job) => {
                    let visible = caller.sees_every_site()
                        || visible_job(&state, &caller, &job.id).await.is_ok();
                    visible.then(|| json_event("job", &job))
                }
            }
        }
    });
    event_stream(&state, events)
}

enum Change {
    Site(crate::federation::SiteEvent),
    Job(Box<Job>),
}
