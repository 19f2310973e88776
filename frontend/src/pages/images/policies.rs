//! Replication policies on the Images page: "keep this image on every site these targets
//! select". Each policy shows how many of its sites hold the image and which do not; admins
//! create policies from the catalog and delete them, with or without the copies they made.

use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use overcast_api_types::images::{
    CatalogEntry, ImagePolicy, ImagePolicyList, NewImagePolicy, PolicyDrift, PolicyImage,
};
use overcast_api_types::jobs::Job;

use super::{copy_targets, short_hash, sites_count, TargetPicker};
use crate::api;
use crate::app::{Live, Session};
use crate::components::badge::StatusBadge;
use crate::components::dialog::{close, Modal};
use crate::components::field::focus;
use crate::components::pager::{page_of, Pager};
use crate::components::time::RelativeTime;
use crate::format;
use crate::pages::site::tab_href;

/// The ids of the policy form's inputs, which the API's field errors point to.
const IMAGE_INPUT: &str = "policy-image";
const TARGETS_INPUT: &str = "policy-targets";

/// While a policy still has sites to fill, the drift is read this often: it moves as the
/// inventory is refreshed, which sends no event.
const POLL: Duration = Duration::from_secs(5);
/// Settled policies are read every this many polls, for sites that lose their copy or join.
const SETTLED_POLLS: u32 = 6;

/// The new-policy form is open, with this content chosen first (none: the reader picks).
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub sha512: Option<String>,
}

/// A policy's sites by where they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriftCount {
    pub holds: usize,
    /// Known not to hold the image: a copy is made or will be.
    pub missing: usize,
    /// Not heard from yet.
    pub unknown: usize,
}

impl DriftCount {
    pub fn of(drift: &[PolicyDrift]) -> Self {
        drift.iter().fold(Self::default(), |mut count, site| {
            match site.state.as_str() {
                "holds" => count.holds += 1,
                "missing" => count.missing += 1,
                _ => count.unknown += 1,
            }
            count
        })
    }

    pub fn total(&self) -> usize {
        self.holds + self.missing + self.unknown
    }
}

/// "3 of 5 sites hold it", "1 of 1 site holds it", or that the targets match no site.
pub fn held_text(count: &DriftCount) -> String {
    match count.total() {
        0 => "no site matches yet".into(),
        1 => format!("{} of 1 site holds it", count.holds),
        n => format!("{} of {n} sites hold it", count.holds),
    }
}

/// The words a screen reader hears for the bar: every part, even those that are zero.
pub fn drift_text(count: &DriftCount) -> String {
    format!(
        "{} hold it, {} missing, {} unknown",
        count.holds, count.missing, count.unknown
    )
}

/// What a policy keeps, as people know it: the catalog's name, or the short hash of a
/// content the catalog does not show.
pub fn image_name(sha512: &str, known: &BTreeMap<String, CatalogEntry>) -> String {
    known
        .get(sha512)
        .and_then(|entry| entry.name.clone())
        .unwrap_or_else(|| short_hash(sha512).to_owned())
}

/// Nothing moves by itself: every site holds the image and no copy runs.
pub fn settled(policies: &[ImagePolicy]) -> bool {
    policies
        .iter()
        .all(|p| p.job_id.is_none() && p.drift.iter().all(|d| d.state == "holds"))
}

/// A job that changes what a policy's sites hold: a copy the console started for a policy
/// (named `policy {id}` as its creator), or the deletion of a policy's copies.
pub fn is_policy_job(kind: &str, created_by: &str) -> bool {
    kind == "image.delete_copies" || created_by.starts_with("policy ")
}

/// Which input of the policy form an API error names; `None` when no input is at fault.
pub fn policy_input_for(field: &str) -> Option<&'static str> {
    let root = field.split('.').next().unwrap_or_default();
    match root {
        "image" => Some(IMAGE_INPUT),
        "targets" => Some(TARGETS_INPUT),
        _ => None,
    }
}

/// `DELETE` of a policy: the copies it made stay unless asked for.
pub fn delete_path(id: &str, delete_copies: bool) -> String {
    let path = format!("/images/policies/{}", api::encode_query(id));
    if delete_copies {
        format!("{path}?delete_copies=true")
    } else {
        path
    }
}

/// Inputs at fault, by id, with the message to show beside each.
type FieldErrors = BTreeMap<&'static str, String>;

/// What the last deletion did, for the line above the table.
#[derive(Debug, Clone)]
struct Deleted {
    name: String,
    copies: bool,
    /// The job removing the copies, when there were sites to remove them from.
    job: Option<Job>,
}

/// The section: the policies with their drift, kept current, and the admins' actions.
#[component]
pub fn Policies(
    /// Every content the page has seen by hash: names for the table, choices for the form.
    known: Signal<BTreeMap<String, CatalogEntry>>,
    /// The form, when open (the catalog's rows open it too).
    draft: RwSignal<Option<Draft>>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let live = expect_context::<Live>();
    let is_admin = session.is_admin();
    let policies = RwSignal::new(None::<Vec<ImagePolicy>>);
    let load_error = RwSignal::new(None::<String>);
    let reload = RwSignal::new(0u32);
    Effect::new(move |_| {
        live.resync.track();
        live.site.track();
        reload.track();
        leptos::task::spawn_local(async move {
            match api::get::<ImagePolicyList>("/images/policies").await {
                Ok(list) => {
                    load_error.set(None);
                    policies.set(Some(list.items));
                }
                // What was shown stays: one failed read does not empty the table.
                Err(e) => load_error.set(Some(e.message)),
            }
        });
    });
    // The first run sees the job event of before the page opened: only later ones count.
    Effect::new(move |first_run: Option<()>| {
        let job = live.job.get();
        if first_run.is_some() && job.is_some_and(|j| is_policy_job(&j.kind, &j.created_by)) {
            reload.update(|n| *n += 1);
        }
    });
    let polls = StoredValue::new(0u32);
    if let Ok(handle) = set_interval_with_handle(
        move || {
            polls.update_value(|n| *n = n.wrapping_add(1));
            let busy = policies.with_untracked(|p| p.as_deref().is_some_and(|p| !settled(p)));
            if busy || polls.get_value().is_multiple_of(SETTLED_POLLS) {
                reload.update(|n| *n += 1);
            }
        },
        POLL,
    ) {
        on_cleanup(move || handle.clear());
    }

    let page = RwSignal::new(0usize);
    let rows = Memo::new(move |_| policies.get().unwrap_or_default());
    // Whether there is a table at all: a read that changes rows only redraws the rows, so
    // an open drift list stays open.
    let empty = Memo::new(move |_| policies.with(|p| p.as_ref().map(Vec::is_empty)));
    let deleting = RwSignal::new(None::<(ImagePolicy, String)>);
    let deleted = RwSignal::new(None::<Deleted>);
    let created = RwSignal::new(None::<String>);
    let on_delete = Callback::new(move |chosen: (ImagePolicy, String)| {
        created.set(None);
        deleting.set(Some(chosen));
    });
    let on_deleted = Callback::new(move |done: Deleted| {
        if let Some((policy, _)) = deleting.get_untracked() {
            policies.update(|p| {
                if let Some(p) = p {
                    p.retain(|q| q.id != policy.id);
                }
            });
        }
        deleted.set(Some(done));
        reload.update(|n| *n += 1);
    });
    let on_created = Callback::new(move |policy: ImagePolicy| {
        let name = known.with_untracked(|k| image_name(&policy.sha512, k));
        created.set(Some(format!(
            "Policy created: Overcast keeps {name} on {}.",
            format::sites_text(&policy.targets)
        )));
        deleted.set(None);
        policies.update(|p| p.get_or_insert_with(Vec::new).push(policy));
        reload.update(|n| *n += 1);
    });
    view! {
        <section class="policies" aria-labelledby="policies-title">
            <div class="section-head">
                <h2 id="policies-title">"Replication policies"</h2>
                {is_admin.then(|| view! {
                    <button type="button" on:click=move |_| draft.set(Some(Draft { sha512: None }))>"New policy"</button>
                })}
            </div>
            <div role="status" class="policy-note">
                {move || created.get().map(|note| view! { <p>{note}</p> })}
                {move || deleted.get().map(|done| view! { <DeletedNote done/> })}
            </div>
            {move || load_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || match empty.get() {
                None => view! { <p class="muted">"Loading the policies…"</p> }.into_any(),
                Some(true) => view! {
                    <div class="empty">"No replication policies. A policy keeps an image on every site a selection matches, also on sites that join or come back later."</div>
                }.into_any(),
                Some(false) => view! {
                    <table class="grouped policies-table">
                        <caption class="visually-hidden">"Replication policies, with the sites that hold each image"</caption>
                        <thead><tr>
                            <th scope="col">"Image"</th><th scope="col">"Targets"</th><th scope="col">"Sites holding it"</th>
                            <th scope="col">"Created"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr></thead>
                        <For each=move || page_of(&rows.get(), page.get()) key=|p| p.id.clone() children=move |first: ImagePolicy| {
                            // The row follows the policy's later reads; it keeps its place (and
                            // whether it is open) as long as the policy exists.
                            let id = first.id.clone();
                            let policy = Memo::new(move |_| {
                                rows.with(|r| r.iter().find(|p| p.id == id).cloned()).unwrap_or_else(|| first.clone())
                            });
                            view! { <PolicyRows policy known is_admin on_delete/> }
                        }/>
                    </table>
                    <Pager total=Signal::derive(move || rows.with(Vec::len)) page/>
                }.into_any(),
            }}
            {move || draft.get().map(|draft_now| view! {
                <NewPolicyDialog draft=draft_now known on_close=Callback::new(move |()| draft.set(None)) on_created/>
            })}
            {move || deleting.get().map(|(policy, name)| view! {
                <DeletePolicyDialog policy name on_close=Callback::new(move |()| deleting.set(None)) on_deleted/>
            })}
        </section>
    }
}

/// What a deletion did, in words; with a job, the words lead to its link.
pub fn deleted_text(name: &str, copies: bool, job: bool) -> String {
    match (copies, job) {
        (_, true) => format!("Policy for {name} deleted. The copies it made are removed by job "),
        (true, false) => format!("Policy for {name} deleted; no site of it held a copy."),
        (false, false) => {
            format!("Policy for {name} deleted; the copies it made stay on their sites.")
        }
    }
}

#[component]
fn DeletedNote(done: Deleted) -> impl IntoView {
    let text = deleted_text(&done.name, done.copies, done.job.is_some());
    view! {
        <p>{text}{done.job.map(|job| view! {
            <A href=format!("/jobs/{}", api::encode_query(&job.id))>{job.kind}</A>"."
        })}</p>
    }
}

/// A policy's row, and once expanded one row per target site with where it stands.
#[component]
fn PolicyRows(
    policy: Memo<ImagePolicy>,
    known: Signal<BTreeMap<String, CatalogEntry>>,
    is_admin: bool,
    on_delete: Callback<(ImagePolicy, String)>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let (sha512, created_by, created_at) =
        policy.with_untracked(|p| (p.sha512.clone(), p.created_by.clone(), p.created_at.clone()));
    let name = {
        let sha512 = sha512.clone();
        Memo::new(move |_| known.with(|k| image_name(&sha512, k)))
    };
    let count = Memo::new(move |_| policy.with(|p| DriftCount::of(&p.drift)));
    let targets = Memo::new(move |_| policy.with(|p| format::sites_text(&p.targets)));
    let job = Memo::new(move |_| policy.with(|p| p.job_id.clone()));
    let drift = Memo::new(move |_| policy.with(|p| p.drift.clone()));
    let short = short_hash(&sha512).to_owned();
    view! {
        <tbody class:open=move || open.get()>
            <tr>
                <th scope="row">{name}
                    {move || (name.get() != short).then(|| view! {
                        <span class="mono hash" title=format!("sha512 {sha512}")>{short.clone()}</span>
                    })}
                </th>
                <td class="targets">{targets}</td>
                <td><div class="held">
                    <button type="button" class="secondary small" aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.update(|o| *o = !*o)>
                        <span aria-hidden="true">{move || if open.get() { "▾ " } else { "▸ " }}</span>
                        {move || held_text(&count.get())}
                    </button>
                    <DriftBar count label=Signal::derive(move || format!("Sites holding {}", name.get()))/>
                    {move || job.get().map(|id| view! {
                        <A href=format!("/jobs/{}", api::encode_query(&id)) attr:class="copying">"copying"</A>
                    })}
                </div></td>
                <td class="nowrap">{created_by}<br/><RelativeTime at=created_at/></td>
                <td class="row-actions">
                    {is_admin.then(|| view! {
                        <button type="button" class="danger small"
                            aria-label=move || format!("Delete the policy for {}…", name.get())
                            on:click=move |_| on_delete.run((policy.get_untracked(), name.get_untracked()))>"Delete…"</button>
                    })}
                </td>
            </tr>
            <Show when=move || open.get()>
                {move || drift.get().into_iter().map(|site| view! {
                    <tr class="drift-row">
                        <td class="indent"><A href=tab_href(&site.site, "images")>{site.site.clone()}</A></td>
                        <td><StatusBadge status=site.state.clone()/></td>
                        <td colspan="3" class="mono">{site.image_id.clone().unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </Show>
        </tbody>
    }
}

/// Where a policy's sites stand as one bar: a segment for those that hold the image, those
/// that miss it and those not heard from, coloured as a job's outcomes are (the words are
/// on the button beside it).
#[component]
fn DriftBar(count: Memo<DriftCount>, label: Signal<String>) -> impl IntoView {
    view! {
        <div class="outcome-bar drift-bar" role="meter" aria-label=label aria-valuemin="0"
            aria-valuemax=move || count.get().total().to_string() aria-valuenow=move || count.get().holds.to_string()
            aria-valuetext=move || drift_text(&count.get())>
            {move || {
                let count = count.get();
                let total = count.total().max(1) as f64;
                // A part that is zero is left out: a segment's least width would show it.
                [("succeeded", count.holds), ("waiting", count.missing), ("pending", count.unknown)]
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(class, n)| view! {
                        <span class=format!("segment {class}") style:width=format!("{}%", n as f64 * 100.0 / total)></span>
                    })
                    .collect_view()
            }}
        </div>
    }
}

/// The new-policy form as a modal dialog: an image of the catalog and its targets.
#[component]
fn NewPolicyDialog(
    draft: Draft,
    known: Signal<BTreeMap<String, CatalogEntry>>,
    on_close: Callback<()>,
    on_created: Callback<ImagePolicy>,
) -> impl IntoView {
    let dialog = NodeRef::new();
    // The choices as the dialog opened: a catalog read meanwhile does not reorder them.
    // By label, so names read in order (the short hash tells same names apart).
    let choices: BTreeMap<String, String> = known.with_untracked(|k| {
        k.iter()
            .map(|(hash, entry)| {
                let name = entry.name.clone().unwrap_or_else(|| "(no name)".into());
                let label = format!(
                    "{name} ({}…, on {})",
                    short_hash(hash),
                    sites_count(entry.sites.len())
                );
                (label, hash.clone())
            })
            .collect()
    });
    let image = RwSignal::new(draft.sha512.unwrap_or_default());
    let every_site = RwSignal::new(false);
    let targets_text = RwSignal::new(String::new());
    let errors = RwSignal::new(FieldErrors::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let read_form = move || -> Result<NewImagePolicy, FieldErrors> {
        let mut found = FieldErrors::new();
        let sha512 = image.get_untracked();
        if sha512.is_empty() {
            found.insert(IMAGE_INPUT, "choose an image of the catalog".into());
        }
        let targets = copy_targets(every_site.get_untracked(), &targets_text.get_untracked())
            .map_err(|why| found.insert(TARGETS_INPUT, why))
            .ok();
        match targets {
            Some(targets) if found.is_empty() => Ok(NewImagePolicy {
                image: PolicyImage::Content { sha512 },
                targets,
            }),
            _ => Err(found),
        }
    };
    // Each message beside its input, the focus on the first one at fault.
    let refuse = move |message: String, found: FieldErrors| {
        let first = [IMAGE_INPUT, TARGETS_INPUT]
            .into_iter()
            .find(|id| found.contains_key(id));
        errors.set(found);
        error.set(Some(message));
        if let Some(id) = first {
            // After the messages are drawn, so the reader hears the field's error.
            request_animation_frame(move || focus(id));
        }
    };
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = match read_form() {
            Ok(new) => new,
            Err(found) => return refuse("Some fields need attention.".into(), found),
        };
        errors.set(FieldErrors::new());
        error.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = api::send::<_, ImagePolicy>("POST", "/images/policies", &new).await;
            busy.set(false);
            match answer {
                Ok(policy) => {
                    on_created.run(policy);
                    close(dialog);
                }
                Err(e) => {
                    let found = e
                        .fields
                        .iter()
                        .filter_map(|f| {
                            policy_input_for(&f.field).map(|id| (id, f.message.clone()))
                        })
                        .collect();
                    refuse(e.message, found);
                }
            }
        });
    };
    let image_error = Memo::new(move |_| errors.with(|e| e.get(IMAGE_INPUT).cloned()));
    let targets_error = Signal::derive(move || errors.with(|e| e.get(TARGETS_INPUT).cloned()));
    let targets_edited = Callback::new(move |()| {
        errors.update(|e| {
            e.remove(TARGETS_INPUT);
        })
    });
    let chosen = image.get_untracked();
    view! {
        <Modal dialog class="policy-dialog" labelledby="policy-title" on_close>
            <h2 id="policy-title">"New replication policy"</h2>
            <p class="muted">"Overcast copies the image to every site the targets select that lacks it, now and whenever a site joins, comes back or loses its copy."</p>
            <form on:submit=create aria-label="New replication policy" novalidate>
                <fieldset disabled=move || busy.get()>
                    <legend>"Image and sites"</legend>
                    <div class="field" class:invalid=move || image_error.get().is_some()>
                        <label for=IMAGE_INPUT>"Image"</label>
                        <select id=IMAGE_INPUT
                            aria-invalid=move || image_error.get().is_some().then_some("true")
                            aria-describedby=move || image_error.get().is_some().then_some("policy-image-error")
                            on:change=move |ev| { image.set(event_target_value(&ev)); errors.update(|e| { e.remove(IMAGE_INPUT); }); }>
                            <option value="" selected=chosen.is_empty()>"Choose an image"</option>
                            {choices.into_iter().map(|(label, hash)| {
                                let selected = hash == chosen;
                                view! { <option value=hash selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                        {move || image_error.get().map(|m| view! { <p id="policy-image-error" class="field-error">{m}</p> })}
                    </div>
                    <TargetPicker id=TARGETS_INPUT every_site text=targets_text error=targets_error on_edit=targets_edited
                        hint="Sites that match later get the image too; sites that hold it keep theirs."/>
                </fieldset>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="actions">
                    <button type="submit" disabled=move || busy.get()>{move || if busy.get() { "Creating…" } else { "Create policy" }}</button>
                    <button type="button" class="secondary" on:click=move |_| close(dialog)>"Cancel"</button>
                </div>
            </form>
        </Modal>
    }
}

/// Deleting a policy, confirmed in a dialog that also offers to remove its copies.
#[component]
fn DeletePolicyDialog(
    policy: ImagePolicy,
    name: String,
    on_close: Callback<()>,
    on_deleted: Callback<Deleted>,
) -> impl IntoView {
    let dialog = NodeRef::new();
    let copies = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = policy.id.clone();
    let title = format!("Delete the policy for {name}?");
    let what = format!(
        "Overcast stops keeping {name} on {}. Without the box below, every copy stays where it is.",
        format::sites_text(&policy.targets)
    );
    let confirm = move |_| {
        let (id, name, also) = (id.clone(), name.clone(), copies.get_untracked());
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let answer = api::call::<Job>("DELETE", &delete_path(&id, also)).await;
            busy.set(false);
            match answer {
                Ok(job) => {
                    on_deleted.run(Deleted {
                        name,
                        copies: also,
                        job,
                    });
                    close(dialog);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <Modal dialog class="policy-dialog" labelledby="delete-policy-title" on_close>
            <h2 id="delete-policy-title">{title}</h2>
            <p>{what}</p>
            <div class="field checkbox">
                <input id="delete-policy-copies" type="checkbox" prop:checked=copies
                    on:change=move |ev| copies.set(event_target_checked(&ev))/>
                <label for="delete-policy-copies">"Also delete the copies this policy made (images Overcast copied, tagged overcast-copy; originals stay)"</label>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                <button type="button" class="danger" disabled=move || busy.get() on:click=confirm>
                    {move || if copies.get() { "Delete policy and copies" } else { "Delete policy" }}</button>
                <button type="button" class="secondary" on:click=move |_| close(dialog)>"Keep it"</button>
            </div>
        </Modal>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use overcast_api_types::jobs::Targets;

    fn at(site: &str, state: &str) -> PolicyDrift {
        PolicyDrift {
            site: site.into(),
            state: state.into(),
            image_id: (state == "holds").then(|| format!("{site}-img")),
        }
    }

    fn policy(drift: Vec<PolicyDrift>, job_id: Option<&str>) -> ImagePolicy {
        ImagePolicy {
            id: "p1".into(),
            image: PolicyImage::Content {
                sha512: "ab".repeat(64),
            },
            sha512: "ab".repeat(64),
            targets: Targets::default(),
            created_by: "admin".into(),
            created_at: "2026-12-01T10:00:00Z".into(),
            missing: drift.iter().filter(|d| d.state != "holds").count(),
            drift,
            job_id: job_id.map(str::to_owned),
        }
    }

    #[test]
    fn the_drift_counts_sites_that_hold_miss_or_are_unknown_and_says_so() {
        let count = DriftCount::of(&[
            at("site-001", "holds"),
            at("site-002", "missing"),
            at("site-003", "unknown"),
            at("site-004", "holds"),
        ]);
        assert_eq!(
            count,
            DriftCount {
                holds: 2,
                missing: 1,
                unknown: 1
            }
        );
        assert_eq!(held_text(&count), "2 of 4 sites hold it");
        assert_eq!(drift_text(&count), "2 hold it, 1 missing, 1 unknown");
        assert_eq!(
            held_text(&DriftCount::of(&[at("site-001", "missing")])),
            "0 of 1 site holds it"
        );
        assert_eq!(held_text(&DriftCount::default()), "no site matches yet");
    }

    #[test]
    fn a_policy_is_settled_when_every_site_holds_it_and_no_copy_runs() {
        assert!(settled(&[]));
        assert!(settled(&[policy(vec![at("site-001", "holds")], None)]));
        assert!(!settled(&[policy(
            vec![at("site-001", "holds")],
            Some("job-1")
        )]));
        assert!(!settled(&[policy(vec![at("site-002", "unknown")], None)]));
        assert!(is_policy_job("image.copy", "policy p1"));
        assert!(is_policy_job("image.delete_copies", "admin"));
        assert!(!is_policy_job("image.copy", "admin"));
    }

    #[test]
    fn a_policy_shows_the_catalog_name_or_the_short_hash() {
        let hash = "ab".repeat(64);
        let entry = CatalogEntry {
            sha512: Some(hash.clone()),
            name: Some("alpine".into()),
            names: vec!["alpine".into()],
            size: None,
            disk_format: None,
            container_format: None,
            sites: vec![],
        };
        let known = BTreeMap::from([(hash.clone(), entry)]);
        assert_eq!(image_name(&hash, &known), "alpine");
        assert_eq!(image_name(&"cd".repeat(64), &known), "cdcdcdcdcdcd");
    }

    #[test]
    fn api_errors_point_to_the_policy_inputs() {
        for field in ["image", "image.sha512", "image.site"] {
            assert_eq!(policy_input_for(field), Some(IMAGE_INPUT), "{field}");
        }
        for field in ["targets", "targets.selector", "targets.sites"] {
            assert_eq!(policy_input_for(field), Some(TARGETS_INPUT), "{field}");
        }
        assert_eq!(policy_input_for("imagery"), None);
        assert_eq!(policy_input_for("rollout"), None);
    }

    #[test]
    fn deleting_keeps_the_copies_unless_asked() {
        assert_eq!(
            deleted_text("alpine", false, false),
            "Policy for alpine deleted; the copies it made stay on their sites."
        );
        assert_eq!(
            deleted_text("alpine", true, false),
            "Policy for alpine deleted; no site of it held a copy."
        );
        assert!(deleted_text("alpine", true, true).ends_with("removed by job "));
        assert_eq!(delete_path("p 1", false), "/images/policies/p%201");
        assert_eq!(
            delete_path("p1", true),
            "/images/policies/p1?delete_copies=true"
        );
    }
}
