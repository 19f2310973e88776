//! Images across sites: one row per content (sha512) with the sites that hold it, copies
//! of an image to other sites, checked by a dry run first and followed site by site, and
//! the replication policies that keep an image on a selection of sites.

mod policies;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::images::{CatalogEntry, ImageCatalog, ImageCopyRequest, ImageRef};
use overcast_api_types::jobs::{Job, JobPreview, NewJob, Rollout, Targets, Task, TaskEvent};
use serde_json::json;

use crate::api;
use crate::app::{Live, Session};
use crate::components::badge::StatusBadge;
use crate::components::dialog::{close, Modal};
use crate::components::pager::{page_of, Pager};
use crate::components::progress::Progress;
use crate::components::time::RelativeTime;
use crate::format;
use crate::pages::job::{apply, transfer_text};
use crate::pages::jobs::OutcomeBar;
use crate::pages::resources::MissingSites;
use policies::{Draft, Policies};

/// The ids of the copy form's inputs, which the API's field errors point to.
const SOURCE_INPUT: &str = "copy-source";
const TARGETS_INPUT: &str = "copy-targets";

/// The first 12 hex digits of a hash: enough to tell contents apart on screen.
pub fn short_hash(sha512: &str) -> &str {
    sha512.get(..12).unwrap_or(sha512)
}

/// "qcow2 / bare", or "–" when the image says neither.
pub fn formats(entry: &CatalogEntry) -> String {
    let parts: Vec<&str> = [&entry.disk_format, &entry.container_format]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if parts.is_empty() {
        "–".into()
    } else {
        parts.join(" / ")
    }
}

/// "1 site", "12 sites".
pub fn sites_count(n: usize) -> String {
    if n == 1 {
        "1 site".into()
    } else {
        format!("{n} sites")
    }
}

/// Sites a copy can be read from: an active image on a site that answered live.
pub fn copy_sources(entry: &CatalogEntry) -> Vec<String> {
    entry
        .sites
        .iter()
        .filter(|s| s.status == "active" && s.stale_since.is_none())
        .map(|s| s.site.clone())
        .collect()
}

/// What a dry run of a copy found, against the sites the catalog shows holding the image.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewCount {
    pub matched: usize,
    /// Matched sites with an active copy: the job copies nothing there.
    pub holding: usize,
    pub unreachable: usize,
    /// Matched sites that get a copy, in name order.
    pub to_copy: Vec<String>,
}

pub fn preview_count(preview: &JobPreview, entry: &CatalogEntry) -> PreviewCount {
    let holds = |site: &str| {
        entry
            .sites
            .iter()
            .any(|s| s.site == site && s.status == "active")
    };
    let mut to_copy: Vec<String> = preview
        .sites
        .iter()
        .filter(|s| !holds(&s.site))
        .map(|s| s.site.clone())
        .collect();
    to_copy.sort();
    PreviewCount {
        matched: preview.sites.len(),
        holding: preview.sites.len() - to_copy.len(),
        unreachable: preview.unreachable.len(),
        to_copy,
    }
}

/// "5 sites match; 2 already hold this image; 1 unreachable now." and where copies go.
pub fn preview_text(count: &PreviewCount) -> String {
    const LISTED: usize = 8;
    let matched = match count.matched {
        1 => "1 site matches".to_owned(),
        n => format!("{n} sites match"),
    };
    let holding = match count.holding {
        1 => "1 already holds this image".to_owned(),
        n => format!("{n} already hold this image"),
    };
    let mut text = format!(
        "{matched}; {holding}; {} unreachable now.",
        count.unreachable
    );
    match count.to_copy.as_slice() {
        [] => text.push_str(" Nothing to copy: every one of them holds it."),
        sites => {
            let mut names = sites[..sites.len().min(LISTED)].join(", ");
            if sites.len() > LISTED {
                names.push_str(&format!(" and {} more", sites.len() - LISTED));
            }
            text.push_str(&format!(" A copy goes to {names}."));
        }
    }
    text
}

/// Which input of the copy form an API error names, for the dry run (`params.source…`)
/// and the copy itself (`source…`); `None` when no input of the form is at fault.
pub fn copy_input_for(field: &str) -> Option<&'static str> {
    let source = field
        .strip_prefix("params.")
        .unwrap_or(field)
        .split('.')
        .next()
        == Some("source");
    if source || field == "params" {
        Some(SOURCE_INPUT)
    } else if field == "targets" || field.starts_with("targets.") {
        Some(TARGETS_INPUT)
    } else {
        None
    }
}

/// The message to show beside the sites field of the search, when a failed catalog read
/// is its fault: the API names the field, or (with sites given) knows no such site.
pub fn sites_at_fault(error: &api::ApiError, sites_given: bool) -> Option<String> {
    error
        .fields
        .iter()
        .find(|f| f.field == "sites" || f.field == "selector")
        .map(|f| f.message.clone())
        .or_else(|| (sites_given && error.code == "not_found").then(|| error.message.clone()))
}

/// The targets as typed (site names or a label selector), or why they cannot be sent.
pub fn copy_targets(every_site: bool, text: &str) -> Result<Targets, String> {
    if every_site {
        return Ok(Targets {
            all: Some(true),
            ..Default::default()
        });
    }
    format::typed_sites(text).ok_or_else(|| {
        "name the sites (site-002, site-003) or give a label selector (region=eu)".into()
    })
}

/// Where an image goes: every site, or site names or a label selector typed in one
/// input, as [`copy_targets`] reads them. The copy dialog and the policy form share it,
/// so targets are chosen alike in both.
#[component]
fn TargetPicker(
    /// The text input's id; the checkbox's, the error's and the hint's derive from it.
    id: &'static str,
    every_site: RwSignal<bool>,
    text: RwSignal<String>,
    /// Why the targets cannot be taken, from the form or the API.
    error: Signal<Option<String>>,
    /// Runs on every change, which makes the error stale.
    on_edit: Callback<()>,
    /// What these targets mean for this form, after how to type them.
    hint: &'static str,
) -> impl IntoView {
    let every_id = format!("{id}-every");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || match error.get() {
            Some(_) => format!("{error_id} {hint_id}"),
            None => hint_id.clone(),
        }
    };
    view! {
        <div class="field checkbox">
            <input id=every_id.clone() type="checkbox" prop:checked=every_site
                on:change=move |ev| { every_site.set(event_target_checked(&ev)); on_edit.run(()); }/>
            <label for=every_id>"Every site"</label>
        </div>
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id>"Target sites"</label>
            <input id=id placeholder="site-002, site-003 or region=eu,tier!=test"
                disabled=move || every_site.get()
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described
                prop:value=text
                on:input=move |ev| { text.set(event_target_value(&ev)); on_edit.run(()); }/>
            {move || error.get().map(|m| view! { <p id=error_id.clone() class="field-error">{m}</p> })}
            <p id=hint_id class="hint">"Site names separated by commas, or a label selector (key=value, key!=value). "{hint}</p>
        </div>
    }
}

/// What a target's task did or is doing, in words.
pub fn outcome_text(task: &Task) -> String {
    if let Some(error) = &task.error {
        return error.clone();
    }
    let result = task.result.as_ref();
    let image = result
        .and_then(|r| r["image_id"].as_str())
        .unwrap_or_default();
    match result.and_then(|r| r["outcome"].as_str()) {
        Some("copied") => format!("copied as {image}"),
        Some("already_present") => format!("already held as {image}"),
        Some("is_source") => "the source".into(),
        Some(other) => other.replace('_', " "),
        None => match task.state.as_str() {
            "pending" => "waits for its turn".into(),
            "waiting_for_site" => "waits for the site to answer".into(),
            _ => String::new(),
        },
    }
}

#[component]
pub fn Images() -> impl IntoView {
    let session = expect_context::<Session>();
    let name_input = RwSignal::new(String::new());
    let sites_input = RwSignal::new(String::new());
    // What the table shows: (name, sites, ask the sites now). The first view may come from
    // inventory up to 30 s old; a search or a finished copy asks the sites again.
    let query = RwSignal::new((String::new(), String::new(), false));
    let data = LocalResource::new(move || {
        let (name, sites, fresh) = query.get();
        async move { api::image_catalog(&sites, &name, fresh).await }
    });
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        query.set((
            name_input.get_untracked().trim().to_owned(),
            sites_input.get_untracked(),
            true,
        ));
    };
    // The sites field is at fault when the API names it (a bad selector) or finds no
    // site of that name: the sites are the only thing this search names.
    let sites_error = Memo::new(move |_| match data.get() {
        Some(Err(e)) => sites_at_fault(&e, query.with_untracked(|q| !q.1.trim().is_empty())),
        _ => None,
    });
    let copying = RwSignal::new(None::<CatalogEntry>);
    let can_copy = session.can_operate();
    let open_copy = Callback::new(move |entry: CatalogEntry| copying.set(Some(entry)));
    let copied = Callback::new(move |()| query.update(|q| q.2 = true));
    // Every content seen on this visit, by hash, for the policies: a search narrows the
    // table, not the names a policy shows or the images a new one can keep.
    let known = RwSignal::new(BTreeMap::<String, CatalogEntry>::new());
    Effect::new(move |_| {
        let Some(Ok(catalog)) = data.get() else {
            return;
        };
        let everything = query.with_untracked(|q| q.0.is_empty() && q.1.trim().is_empty());
        known.update(|known| {
            if everything {
                known.clear();
            }
            for entry in catalog.items {
                if let Some(hash) = entry.sha512.clone() {
                    known.insert(hash, entry);
                }
            }
        });
    });
    let draft = RwSignal::new(None::<Draft>);
    let keep = session.is_admin().then(|| {
        Callback::new(move |entry: CatalogEntry| {
            draft.set(Some(Draft {
                sha512: entry.sha512,
            }))
        })
    });
    // What a policy's copies (or their deletion) change is on the sites once the job has
    // finished: read them again then. The first run sees an event of before the page.
    let live = expect_context::<Live>();
    Effect::new(move |first_run: Option<()>| {
        let job = live.job.get();
        let done = job.is_some_and(|j| {
            j.state.is_finished() && policies::is_policy_job(&j.kind, &j.created_by)
        });
        if first_run.is_some() && done {
            query.update(|q| q.2 = true);
        }
    });
    view! {
        <section class="images-page">
            <h1>"Images"</h1>
            <form class="toolbar" role="search" on:submit=search>
                <div class="field">
                    <label for="image-name">"Name contains"</label>
                    <input id="image-name" type="search" placeholder="e.g. cirros"
                        prop:value=name_input on:input=move |ev| name_input.set(event_target_value(&ev))/>
                </div>
                <div class="field" class:invalid=move || sites_error.get().is_some()>
                    <label for="image-sites">"Sites"</label>
                    <input id="image-sites" placeholder="all sites; region=eu,tier!=test; or site-001, site-002"
                        aria-invalid=move || sites_error.get().is_some().then_some("true")
                        aria-describedby=move || sites_error.get().is_some().then_some("image-sites-error")
                        prop:value=sites_input on:input=move |ev| sites_input.set(event_target_value(&ev))/>
                    {move || sites_error.get().map(|m| view! { <p id="image-sites-error" class="field-error">{m}</p> })}
                </div>
                <button type="submit" class="secondary">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted" role="status">"Asking the sites…"</p> }>
                {move || data.get().map(|result| match result {
                    Ok(catalog) => view! {
                        <CatalogTable catalog name=query.with_untracked(|q| q.0.clone()) can_copy copy=open_copy keep/>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Transition>
            {move || copying.get().map(|entry| view! {
                <CopyDialog entry on_close=Callback::new(move |()| copying.set(None)) on_copied=copied/>
            })}
            <Policies known=known.into() draft/>
        </section>
    }
}

#[component]
fn CatalogTable(
    catalog: ImageCatalog,
    /// The name searched for, to say what found nothing.
    name: String,
    can_copy: bool,
    copy: Callback<CatalogEntry>,
    /// Opens the policy form with a content: for admins only.
    keep: Option<Callback<CatalogEntry>>,
) -> impl IntoView {
    let answered = catalog
        .sites
        .values()
        .filter(|a| a.status.is_complete())
        .count();
    let summary = format!(
        "{} {}, one row per content, from {answered} of {} sites",
        catalog.items.len(),
        if catalog.items.len() == 1 {
            "image"
        } else {
            "images"
        },
        catalog.sites.len()
    );
    let entries = catalog.items;
    let count = entries.len();
    let page = RwSignal::new(0usize);
    let empty = if name.is_empty() {
        "No image on the selected sites.".to_owned()
    } else {
        format!("No image whose name contains “{name}” on the selected sites.")
    };
    view! {
        <MissingSites answer=catalog.sites/>
        <p class="muted" aria-live="polite">{summary}</p>
        {if entries.is_empty() {
            view! { <div class="empty">{empty}</div> }.into_any()
        } else {
            view! {
                <table class="grouped images-table">
                    <caption class="visually-hidden">"Images across sites, one row per content"</caption>
                    <thead><tr>
                        <th scope="col">"Name"</th><th scope="col">"Size"</th><th scope="col">"Formats"</th>
                        <th scope="col">"SHA-512"</th><th scope="col">"Sites"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr></thead>
                    {move || page_of(&entries, page.get()).into_iter().map(|entry| view! {
                        <EntryRows entry can_copy copy keep/>
                    }).collect_view()}
                </table>
                <Pager total=count page/>
            }.into_any()
        }}
    }
}

/// A content's row, and once expanded one row per site that holds it.
#[component]
fn EntryRows(
    entry: CatalogEntry,
    can_copy: bool,
    copy: Callback<CatalogEntry>,
    keep: Option<Callback<CatalogEntry>>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let name = entry.name.clone().unwrap_or_else(|| "(no name)".into());
    let others: Vec<String> = entry
        .names
        .iter()
        .filter(|n| Some(*n) != entry.name.as_ref())
        .cloned()
        .collect();
    let stale = entry
        .sites
        .iter()
        .filter(|s| s.stale_since.is_some())
        .count();
    let copyable = can_copy && !copy_sources(&entry).is_empty();
    let hash = match &entry.sha512 {
        Some(hash) => {
            view! { <span class="mono" title=format!("sha512 {hash}")>{short_hash(hash).to_owned()}</span> }
                .into_any()
        }
        None => view! { <span class="muted">"no data yet"</span> }.into_any(),
    };
    let sites_text = sites_count(entry.sites.len());
    let copy_label = format!("Copy {name} to sites…");
    let keep_label = format!("Keep {name} on sites…");
    // A policy names a content by its hash: an image without data yet cannot be kept.
    let keep = keep.filter(|_| entry.sha512.is_some());
    let kept = entry.clone();
    let sites = entry.sites.clone();
    view! {
        <tbody class:open=move || open.get()>
            <tr>
                <th scope="row">{name.clone()}
                    {(!others.is_empty()).then(|| view! { <span class="also-named small-text">{format!("also named {}", others.join(", "))}</span> })}
                </th>
                <td class="nowrap">{entry.size.map(format::bytes).unwrap_or_else(|| "no data".into())}</td>
                <td class="nowrap">{formats(&entry)}</td>
                <td>{hash}</td>
                <td class="nowrap">
                    <button type="button" class="secondary small" aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.update(|o| *o = !*o)>
                        <span aria-hidden="true">{move || if open.get() { "▾ " } else { "▸ " }}</span>{sites_text}
                    </button>
                    {(stale > 0).then(|| view! { " "<span class="stale-mark">{format!("{stale} last known")}</span> })}
                </td>
                <td class="row-actions">
                    {copyable.then(|| view! {
                        <button type="button" class="small" aria-label=copy_label
                            on:click=move |_| copy.run(entry.clone())>"Copy to sites…"</button>
                    })}
                    {keep.map(|keep| view! {
                        <button type="button" class="secondary small" aria-label=keep_label
                            on:click=move |_| keep.run(kept.clone())>"Keep on sites…"</button>
                    })}
                </td>
            </tr>
            <Show when=move || open.get()>
                {sites.clone().into_iter().map(|s| view! {
                    <tr class="site-row">
                        <td class="indent"><A href=format!("/sites/{}/images", api::encode_query(&s.site))>{s.site.clone()}</A></td>
                        <td colspan="3" class="mono">{s.image_id.clone()}</td>
                        <td colspan="2" class="nowrap"><StatusBadge status=s.status.clone()/>
                            {s.stale_since.clone().map(|at| view! { " "<span class="stale-mark">"last known, "<RelativeTime at=at/></span> })}
                        </td>
                    </tr>
                }).collect_view()}
            </Show>
        </tbody>
    }
}

/// The copy form as a modal dialog: source, targets, a dry run, then the copy itself
/// followed site by site in place.
#[component]
fn CopyDialog(
    entry: CatalogEntry,
    on_close: Callback<()>,
    /// Runs once the copy has finished, so the catalog shows the new copies.
    on_copied: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::new();
    let name = entry.name.clone().unwrap_or_else(|| "(no name)".into());
    let facts = [
        entry.size.map(format::bytes),
        Some(formats(&entry)),
        entry
            .sha512
            .as_deref()
            .map(|h| format!("sha512 {}…", short_hash(h))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let sources = copy_sources(&entry);
    let source = RwSignal::new(sources.first().cloned().unwrap_or_default());
    let every_site = RwSignal::new(false);
    let targets_text = RwSignal::new(String::new());
    let errors = RwSignal::new(BTreeMap::<&'static str, String>::new());
    let error = RwSignal::new(None::<String>);
    let preview = RwSignal::new(None::<PreviewCount>);
    let busy = RwSignal::new(false);
    let started = RwSignal::new(None::<Job>);
    let entry = StoredValue::new(entry);

    // The image and targets the form describes, or the inputs at fault.
    let read_form = move || -> Result<(ImageRef, Targets), BTreeMap<&'static str, String>> {
        let mut found = BTreeMap::new();
        let chosen = source.get_untracked();
        let image = entry.with_value(|e| {
            e.sites.iter().find(|s| s.site == chosen).map(|s| ImageRef {
                site: s.site.clone(),
                image_id: s.image_id.clone(),
            })
        });
        if image.is_none() {
            found.insert(SOURCE_INPUT, "choose a site that holds the image".into());
        }
        let targets = copy_targets(every_site.get_untracked(), &targets_text.get_untracked())
            .map_err(|why| found.insert(TARGETS_INPUT, why))
            .ok();
        match (image, targets) {
            (Some(image), Some(targets)) if found.is_empty() => Ok((image, targets)),
            _ => Err(found),
        }
    };
    let refuse = move |message: String, found: BTreeMap<&'static str, String>| {
        errors.set(found);
        error.set(Some(message));
    };
    let api_refusal = move |e: api::ApiError| {
        let found = e
            .fields
            .iter()
            .filter_map(|f| copy_input_for(&f.field).map(|id| (id, f.message.clone())))
            .collect();
        refuse(e.message, found);
    };
    let check = move |_| {
        let (image, targets) = match read_form() {
            Ok(form) => form,
            Err(found) => return refuse("Some fields need attention.".into(), found),
        };
        errors.set(BTreeMap::new());
        error.set(None);
        busy.set(true);
        let job = NewJob {
            kind: "image.copy".into(),
            targets,
            params: json!({ "source": image }),
            rollout: Rollout::default(),
            ttl_s: None,
        };
        leptos::task::spawn_local(async move {
            let answer = api::send::<_, JobPreview>("POST", "/jobs?dry_run=true", &job).await;
            busy.set(false);
            match answer {
                Ok(found) => preview.set(Some(entry.with_value(|e| preview_count(&found, e)))),
                Err(e) => {
                    preview.set(None);
                    api_refusal(e);
                }
            }
        });
    };
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (source, targets) = match read_form() {
            Ok(form) => form,
            Err(found) => return refuse("Some fields need attention.".into(), found),
        };
        errors.set(BTreeMap::new());
        error.set(None);
        busy.set(true);
        let request = ImageCopyRequest {
            source,
            targets,
            rollout: Rollout::default(),
            ttl_s: None,
        };
        leptos::task::spawn_local(async move {
            let answer = api::send::<_, Job>("POST", "/images/copy", &request).await;
            busy.set(false);
            match answer {
                Ok(job) => {
                    preview.set(None);
                    started.set(Some(job));
                }
                Err(e) => api_refusal(e),
            }
        });
    };
    // A preview describes the form as it was: any change makes it stale.
    let edited = move || preview.set(None);
    let source_error = Memo::new(move |_| errors.with(|e| e.get(SOURCE_INPUT).cloned()));
    let targets_error = Signal::derive(move || errors.with(|e| e.get(TARGETS_INPUT).cloned()));
    let targets_edited = Callback::new(move |()| {
        errors.update(|e| {
            e.remove(TARGETS_INPUT);
        })
    });
    let running = move || started.with(Option::is_some);
    view! {
        <Modal dialog class="copy-dialog" labelledby="copy-title" on_close>
            <h2 id="copy-title">{format!("Copy {name} to sites")}</h2>
            <p class="muted">{facts}</p>
            <form on:submit=start on:input=move |_| edited() on:change=move |_| edited() aria-label="Copy to sites" novalidate>
                <fieldset disabled=running>
                    <legend>"From and to"</legend>
                    <div class="field" class:invalid=move || source_error.get().is_some()>
                        <label for=SOURCE_INPUT>"Source site"</label>
                        <select id=SOURCE_INPUT prop:value=source
                            aria-invalid=move || source_error.get().is_some().then_some("true")
                            aria-describedby=move || source_error.get().is_some().then_some("copy-source-error")
                            on:change=move |ev| { source.set(event_target_value(&ev)); errors.update(|e| { e.remove(SOURCE_INPUT); }); }>
                            {sources.into_iter().map(|site| view! { <option value=site.clone()>{site.clone()}</option> }).collect_view()}
                        </select>
                        {move || source_error.get().map(|m| view! { <p id="copy-source-error" class="field-error">{m}</p> })}
                    </div>
                    <TargetPicker id=TARGETS_INPUT every_site text=targets_text error=targets_error on_edit=targets_edited
                        hint="Sites that hold the image already keep theirs."/>
                </fieldset>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {move || preview.get().map(|p| view! {
                    <section class="copy-preview" aria-label="Preview of the copy">
                        <h3>"Preview: nothing was started"</h3>
                        <p role="status">{preview_text(&p)}</p>
                    </section>
                })}
                {move || started.get().map(|job| view! { <CopyProgress started=job on_finished=on_copied/> })}
                <div class="actions">
                    <Show when=move || !running()>
                        <button type="button" class="secondary" on:click=check disabled=move || busy.get()>"Preview"</button>
                        <button type="submit" disabled=move || busy.get()>"Start copy"</button>
                    </Show>
                    <button type="button" class="secondary" on:click=move |_| close(dialog)>"Close"</button>
                </div>
            </form>
        </Modal>
    }
}

/// A started copy, site by site, following the job's event stream.
#[component]
fn CopyProgress(started: Job, on_finished: Callback<()>) -> impl IntoView {
    let id = started.id.clone();
    let job = RwSignal::new(started);
    api::follow_events(
        &format!("/jobs/{}/events", api::encode_query(&id)),
        || {},
        move |event| match event.event.as_str() {
            "job" => {
                if let Ok(full) = serde_json::from_str::<Job>(&event.data) {
                    job.set(full);
                }
            }
            "task" => {
                if let Ok(change) = serde_json::from_str::<TaskEvent>(&event.data) {
                    job.update(|j| apply(j, change));
                }
            }
            _ => {}
        },
    );
    let finished = Memo::new(move |_| job.with(|j| j.state.is_finished()));
    Effect::new(move |_| {
        if finished.get() {
            on_finished.run(());
        }
    });
    let counts = Signal::derive(move || job.with(|j| j.counts.clone()));
    let page = RwSignal::new(0usize);
    let tasks = Memo::new(move |_| {
        let mut tasks = job.with(|j| j.tasks.clone());
        tasks.sort_by(|a, b| a.site.cmp(&b.site));
        tasks
    });
    view! {
        <section class="copy-progress" aria-label="Copy progress">
            <h3>{move || if finished.get() { "Copy finished" } else { "Copying…" }}" "
                <StatusBadge status=Signal::derive(move || job.with(|j| j.state.as_str().to_owned()))/></h3>
            <OutcomeBar counts label="Copy progress"/>
            <table class="tasks-table copy-tasks">
                <caption class="visually-hidden">"Copy by target site"</caption>
                <thead><tr>
                    <th scope="col">"Target"</th><th scope="col">"State"</th>
                    <th scope="col">"Progress"</th><th scope="col">"Detail"</th>
                </tr></thead>
                <tbody>
                    {move || page_of(&tasks.get(), page.get()).into_iter().map(|task| {
                        let label = format!("{} progress", task.site);
                        view! {
                            <tr>
                                <th scope="row">{task.site.clone()}</th>
                                <td><StatusBadge status=task.state.as_str().to_owned()/></td>
                                <td><Progress value=task.progress.percent() label/>
                                    {transfer_text(&task.progress).map(|t| view! { <span class="small-text">{t}</span> })}</td>
                                <td class="detail" class:error-text=task.error.is_some()>{outcome_text(&task)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <Pager total=Signal::derive(move || tasks.with(Vec::len)) page/>
            <p class="small-text"><A href=format!("/jobs/{}", api::encode_query(&id))>"Open the job page"</A>
                {move || (!finished.get()).then_some(". Closing this dialog leaves the copy running.")}</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_api_types::images::CatalogSite;
    use overcast_api_types::jobs::{PreviewSite, Progress, TaskState};
    use overcast_api_types::SiteState;

    fn held(site: &str, status: &str, stale: bool) -> CatalogSite {
        CatalogSite {
            site: site.into(),
            image_id: format!("{site}-img"),
            status: status.into(),
            stale_since: stale.then(|| "2026-12-01T10:00:00Z".into()),
        }
    }

    fn entry(sites: Vec<CatalogSite>) -> CatalogEntry {
        CatalogEntry {
            sha512: Some("0123456789abcdef".repeat(8)),
            name: Some("cirros".into()),
            names: vec!["cirros".into()],
            size: Some(1 << 20),
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            sites,
        }
    }

    fn preview(sites: &[&str], unreachable: &[&str]) -> JobPreview {
        JobPreview {
            kind: "image.copy".into(),
            sites: sites
                .iter()
                .map(|s| PreviewSite {
                    site: (*s).into(),
                    state: SiteState::Online,
                    canary: false,
                })
                .collect(),
            unreachable: unreachable.iter().map(|s| (*s).to_string()).collect(),
            max_parallel: 50,
        }
    }

    #[test]
    fn a_hash_shows_its_first_12_digits_and_formats_read_together() {
        let e = entry(vec![]);
        assert_eq!(
            short_hash(e.sha512.as_deref().unwrap_or_default()),
            "0123456789ab"
        );
        assert_eq!(short_hash("abc"), "abc");
        assert_eq!(formats(&e), "qcow2 / bare");
        let bare = CatalogEntry {
            disk_format: None,
            container_format: None,
            ..e
        };
        assert_eq!(formats(&bare), "–");
        assert_eq!(sites_count(1), "1 site");
        assert_eq!(sites_count(12), "12 sites");
    }

    #[test]
    fn a_copy_reads_from_an_active_image_of_a_site_that_answered() {
        let e = entry(vec![
            held("site-001", "active", false),
            held("site-002", "active", true),
            held("site-003", "queued", false),
            held("site-004", "active", false),
        ]);
        assert_eq!(copy_sources(&e), vec!["site-001", "site-004"]);
    }

    #[test]
    fn the_preview_counts_matched_sites_that_already_hold_the_image() {
        // site-002's copy is last known (stale) but active: the job will find it there.
        // site-003's is not active: it gets a new copy.
        let e = entry(vec![
            held("site-001", "active", false),
            held("site-002", "active", true),
            held("site-003", "saving", false),
            held("site-009", "active", false),
        ]);
        let count = preview_count(
            &preview(
                &["site-003", "site-001", "site-002", "site-004"],
                &["site-004"],
            ),
            &e,
        );
        assert_eq!(
            count,
            PreviewCount {
                matched: 4,
                holding: 2,
                unreachable: 1,
                to_copy: vec!["site-003".into(), "site-004".into()],
            }
        );
        assert_eq!(
            preview_text(&count),
            "4 sites match; 2 already hold this image; 1 unreachable now. A copy goes to site-003, site-004."
        );
    }

    #[test]
    fn the_preview_text_speaks_of_one_site_and_shortens_long_lists() {
        let e = entry(vec![held("site-001", "active", false)]);
        let one = preview_count(&preview(&["site-001"], &[]), &e);
        assert_eq!(
            preview_text(&one),
            "1 site matches; 1 already holds this image; 0 unreachable now. Nothing to copy: every one of them holds it."
        );
        let names: Vec<String> = (2..=12).map(|n| format!("site-{n:03}")).collect();
        let many = preview_count(
            &preview(&names.iter().map(String::as_str).collect::<Vec<_>>(), &[]),
            &e,
        );
        assert!(preview_text(&many).ends_with("site-008, site-009 and 3 more."));
    }

    #[test]
    fn api_errors_point_to_the_input_at_fault() {
        for field in [
            "source.site",
            "source.image_id",
            "params.source.site",
            "params",
            "source",
        ] {
            assert_eq!(copy_input_for(field), Some(SOURCE_INPUT), "{field}");
        }
        for field in ["targets", "targets.sites", "targets.selector"] {
            assert_eq!(copy_input_for(field), Some(TARGETS_INPUT), "{field}");
        }
        assert_eq!(copy_input_for("rollout.max_parallel"), None);
        assert_eq!(copy_input_for("sourcery"), None);
    }

    #[test]
    fn a_failed_search_marks_the_sites_field_when_it_is_at_fault() {
        let error = |code: &str, fields: Vec<(&str, &str)>| api::ApiError {
            status: 400,
            code: code.into(),
            message: "no registered site named site-999".into(),
            fields: fields
                .into_iter()
                .map(|(field, message)| overcast_api_types::FieldError {
                    field: field.into(),
                    message: message.into(),
                })
                .collect(),
        };
        assert_eq!(
            sites_at_fault(
                &error("invalid_input", vec![("selector", "bad pair")]),
                true
            ),
            Some("bad pair".into())
        );
        assert_eq!(
            sites_at_fault(&error("not_found", vec![]), true),
            Some("no registered site named site-999".into())
        );
        assert_eq!(sites_at_fault(&error("not_found", vec![]), false), None);
        assert_eq!(sites_at_fault(&error("internal", vec![]), true), None);
    }

    #[test]
    fn targets_are_names_a_selector_or_every_site_and_never_nothing() {
        assert_eq!(
            copy_targets(false, "site-002, site-003").map(|t| t.sites),
            Ok(Some(vec!["site-002".into(), "site-003".into()]))
        );
        assert_eq!(
            copy_targets(false, "region=eu").map(|t| t.selector),
            Ok(Some("region=eu".into()))
        );
        assert_eq!(copy_targets(true, "").map(|t| t.all), Ok(Some(true)));
        assert!(copy_targets(false, "  ").is_err());
    }

    #[test]
    fn a_task_says_what_it_did() {
        let mut task = Task {
            site: "site-002".into(),
            state: TaskState::Succeeded,
            attempts: 1,
            error: None,
            progress: Progress::Percent(100),
            canary: false,
            result: Some(json!({"outcome": "copied", "image_id": "abc"})),
            next_attempt_at: None,
            started_at: None,
            finished_at: None,
        };
        assert_eq!(outcome_text(&task), "copied as abc");
        task.result = Some(json!({"outcome": "is_source", "image_id": "x"}));
        assert_eq!(outcome_text(&task), "the source");
        task.result = None;
        task.state = TaskState::WaitingForSite;
        assert_eq!(outcome_text(&task), "waits for the site to answer");
        task.error = Some("source site-001: gone".into());
        assert_eq!(outcome_text(&task), "source site-001: gone");
    }
}
