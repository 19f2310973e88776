//! Placement: a request for servers (flavor, count, image, policy, constraints), the plan
//! the console makes for it with a reason for every site, and the launch of that request.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use overcast_api_types::images::{FederatedBoot, ImageRef};
use overcast_api_types::l1::{NetworkMode, ServerNetworks};
use overcast_api_types::placement::{
    Affinity, Constraints, Headroom, PlacementChoice, Plan, PlanRequest, SpreadAcross,
};
use serde_json::Value;

use crate::api;
use crate::app::Session;
use crate::components::field::{focus, number, FieldErrors, FormField};
use crate::format;
use crate::pages::images::sites_count;
use crate::pages::resources::{row, Row};

/// The options of a select: value and text.
type Options = &'static [(&'static str, &'static str)];

const POLICIES: Options = &[
    ("spread", "Spread: even out the servers over the sites"),
    ("pack", "Pack: fill the fullest site that still fits"),
    (
        "power_of_two",
        "Power of two: the freer of two sites drawn at random",
    ),
    ("lowest_latency", "Lowest latency: the fastest sites first"),
    (
        "image_locality",
        "Image locality: sites holding the image first",
    ),
];

/// A text input of the form: the API's name of its field (without the `placement.` a
/// launch puts before it), label, input type, placeholder, hint and suggestions. In their
/// order on screen: a refusal focuses the first one at fault.
type Input = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// The first four describe the servers, the others the constraints.
const INPUTS: &[Input] = &[
    (
        "name",
        "Server name",
        "",
        "web",
        "Needed to launch, not to plan.",
        None,
    ),
    (
        "flavor",
        "Flavor *",
        "",
        "m1.small",
        "A flavor name: each site's flavor of that name is used.",
        Some("place-flavors"),
    ),
    (
        "count",
        "Count *",
        "number",
        "",
        "Servers in all, over every site chosen.",
        None,
    ),
    (
        "image",
        "Image",
        "",
        "cirros-0.6.2",
        "An image name of any site. Needed to launch; sites without it get a copy first.",
        Some("place-images"),
    ),
    (
        "constraints.selector",
        "Sites with labels",
        "",
        "region=eu,tier!=test",
        "Only sites whose labels match; empty: every site.",
        None,
    ),
    (
        "constraints.exclude",
        "Excluded sites",
        "",
        "site-002, site-005",
        "Site names, separated by commas.",
        None,
    ),
    (
        "constraints.max_per_site",
        "Max per site",
        "number",
        "no limit",
        "",
        None,
    ),
    (
        "constraints.spread_across",
        "Spread across label",
        "",
        "region",
        "Servers land on sites with different values of this label.",
        None,
    ),
    (
        "constraints.spread_across.min_distinct",
        "Distinct values, at least",
        "number",
        "2",
        "",
        None,
    ),
    (
        "constraints.min_free.vcpus",
        "Keep free: vCPUs",
        "number",
        "",
        "What must stay free on a site once its servers are placed.",
        None,
    ),
    (
        "constraints.min_free.ram_mb",
        "Keep free: RAM (MB)",
        "number",
        "",
        "",
        None,
    ),
    (
        "constraints.min_free.disk_gb",
        "Keep free: disk (GB)",
        "number",
        "",
        "",
        None,
    ),
];

/// The choices of the form, each with its options; the first is the default. The first
/// two say how sites are chosen, the last how the servers are connected.
const POLICY: &str = "policy";
const AFFINITY: &str = "constraints.affinity";
const NETWORKS: &str = "networks";
type Choice = (&'static str, &'static str, Options);
const CHOICES: &[Choice] = &[
    (POLICY, "Policy", POLICIES),
    (
        AFFINITY,
        "Affinity",
        &[
            ("", "None"),
            ("same_site", "Same site: all on one site"),
            ("different_sites", "Different sites: one per site"),
        ],
    ),
    (
        NETWORKS,
        "Networks",
        &[
            ("auto", "Automatic: each site's own"),
            ("none", "None: no network interface"),
        ],
    ),
];

/// The element id of a field's input.
fn input_id(field: &str) -> String {
    format!("place-{}", field.replace(['.', '_'], "-"))
}

/// The field of this form an API error names (`placement.constraints.selector`,
/// `image.site`…), or `None` when none of ours is at fault.
fn field_of(api_field: &str) -> Option<&'static str> {
    let field = api_field.strip_prefix("placement.").unwrap_or(api_field);
    let field = match field {
        "image_name" => "image",
        f if f.starts_with("image.") => "image",
        "constraints.min_free" => "constraints.min_free.vcpus",
        "constraints.spread_across.label" => "constraints.spread_across",
        f => f,
    };
    INPUTS
        .iter()
        .map(|i| i.0)
        .chain(CHOICES.iter().map(|c| c.0))
        .find(|f| *f == field)
}

/// What was typed, by field.
type Typed = [(&'static str, String)];

fn text<'a>(typed: &'a Typed, field: &str) -> &'a str {
    typed
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("", |(_, v)| v.trim())
}

/// The image typed, as the console knows it: an active copy of that name to read it
/// from (a plan can then favour the sites that hold its content), else just its name.
fn image_of(name: &str, images: &[Row]) -> Option<ImageRef> {
    images
        .iter()
        .find(|r| r.name == name && r.status.as_deref() == Some("active"))
        .map(|r| ImageRef {
            site: r.site.clone(),
            image_id: r.id.clone(),
        })
}

/// Every site's flavors or images (`kind`), as read for the resources page, once they
/// come; none when the console cannot say (the form still takes any name).
fn known(kind: &'static str) -> RwSignal<Vec<Row>> {
    let rows = RwSignal::new(Vec::new());
    leptos::task::spawn_local(async move {
        if let Ok(answer) = api::across_sites(kind, "", "").await {
            let read = answer.items.into_iter().filter_map(|item| row(kind, item));
            // The page may be gone by then.
            rows.try_set(read.collect());
        }
    });
    rows
}

/// The distinct names of `rows`, as suggestions for an input.
fn suggestions(id: &'static str, rows: RwSignal<Vec<Row>>) -> impl IntoView {
    let names = move || {
        let mut names: Vec<String> = Vec::new();
        rows.with(|rows| {
            for row in rows {
                if !names.contains(&row.name) {
                    names.push(row.name.clone());
                }
            }
        });
        names
            .into_iter()
            .map(|n| view! { <option value=n/> })
            .collect_view()
    };
    view! { <datalist id=id>{names}</datalist> }
}

/// The plan request the form describes, or every field that is wrong.
fn plan_request(typed: &Typed, images: &[Row]) -> Result<PlanRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut whole = |field: &str| number(text(typed, field), field, &mut errors);
    let count = whole("count");
    let max_per_site = whole("constraints.max_per_site");
    let spread_min = whole("constraints.spread_across.min_distinct");
    // Whole units are precise enough for headroom, and spare the dashboard a float parser.
    let mut free = |field: &str| whole(field).map_or(0.0, f64::from);
    let min_free = Headroom {
        vcpus: free("constraints.min_free.vcpus"),
        ram_mb: free("constraints.min_free.ram_mb"),
        disk_gb: free("constraints.min_free.disk_gb"),
    };
    let flavor = text(typed, "flavor");
    if flavor.is_empty() {
        errors.insert("flavor".into(), "is required".into());
    }
    if count == Some(0) || (count.is_none() && !errors.contains_key("count")) {
        errors.insert("count".into(), "must be 1 or more".into());
    }
    let spread_across = match (text(typed, "constraints.spread_across"), spread_min) {
        ("", None) => None,
        ("", Some(_)) => {
            errors.insert(
                "constraints.spread_across".into(),
                "name the label to spread across, e.g. region".into(),
            );
            None
        }
        (label, min) => Some(SpreadAcross {
            label: label.to_owned(),
            min_distinct: min.unwrap_or(2),
        }),
    };
    let selector = text(typed, "constraints.selector");
    let constraints = Constraints {
        selector: (!selector.is_empty()).then(|| selector.to_owned()),
        exclude: format::comma_list(text(typed, "constraints.exclude")),
        max_per_site,
        spread_across,
        min_free: (min_free != Headroom::default()).then_some(min_free),
        affinity: match text(typed, AFFINITY) {
            "same_site" => Some(Affinity::SameSite),
            "different_sites" => Some(Affinity::DifferentSites),
            _ => None,
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PlanRequest {
        flavor: flavor.to_owned(),
        count: count.unwrap_or(1),
        image: image_of(text(typed, "image"), images),
        policy: text(typed, POLICY).to_owned(),
        constraints,
    })
}

/// The boot of what the plan request places: it needs a server name and an image.
fn boot(typed: &Typed, images: &[Row]) -> Result<FederatedBoot, FieldErrors> {
    let (plan, mut errors) = match plan_request(typed, images) {
        Ok(plan) => (Some(plan), FieldErrors::new()),
        Err(errors) => (None, errors),
    };
    for field in ["name", "image"] {
        if text(typed, field).is_empty() {
            errors.insert(field.into(), "is required to launch".into());
        }
    }
    let plan = match plan {
        Some(plan) if errors.is_empty() => plan,
        _ => return Err(errors),
    };
    Ok(FederatedBoot {
        name: text(typed, "name").to_owned(),
        flavor: plan.flavor,
        // A copy the console knows is read from where it is; a name it does not know is
        // looked for on the sites chosen.
        image_name: plan
            .image
            .is_none()
            .then(|| text(typed, "image").to_owned()),
        image: plan.image,
        count: plan.count,
        // Network ids differ between sites: a site's own network, or none.
        networks: Some(ServerNetworks::Mode(match text(typed, NETWORKS) {
            "none" => NetworkMode::None,
            _ => NetworkMode::Auto,
        })),
        key_name: None,
        targets: None,
        placement: Some(PlacementChoice {
            policy: plan.policy,
            constraints: plan.constraints,
        }),
        rollout: Default::default(),
        ttl_s: None,
    })
}

#[component]
pub fn Placement() -> impl IntoView {
    let session = expect_context::<Session>();
    // One value per input and choice; a count of 1 and each choice's first option first.
    let values: Vec<(&'static str, RwSignal<String>)> = INPUTS
        .iter()
        .map(|i| (i.0, if i.0 == "count" { "1" } else { "" }))
        .chain(CHOICES.iter().map(|c| (c.0, c.2[0].0)))
        .map(|(field, value)| (field, RwSignal::new(value.to_owned())))
        .collect();
    let values = StoredValue::new(values);
    let typed = move || {
        values.with_value(|v| {
            v.iter()
                .map(|(f, s)| (*f, s.get_untracked()))
                .collect::<Vec<_>>()
        })
    };
    let value_of = move |field: &str| {
        values.with_value(|v| v.iter().find(|(f, _)| *f == field).map(|(_, s)| *s))
    };
    let errors = RwSignal::new(FieldErrors::new());
    let error = RwSignal::new(None::<String>);
    let plan = RwSignal::new(None::<Plan>);
    let busy = RwSignal::new(false);
    let flavors = known("flavors");
    let images = known("images");
    let navigate = use_navigate();

    // Shows what is wrong: each message beside its field, the focus on the first one.
    let refuse = move |message: String, found: FieldErrors| {
        let mut shown = FieldErrors::new();
        for (field, m) in found {
            if let Some(field) = field_of(&field) {
                shown.insert(field.to_owned(), m);
            }
        }
        let first = INPUTS.iter().map(|i| i.0).find(|f| shown.contains_key(*f));
        if let Some(field) = first {
            let id = input_id(field);
            request_animation_frame(move || focus(&id));
        }
        errors.set(shown);
        error.set(Some(message));
    };
    let api_refusal = move |e: api::ApiError| {
        let mut found = FieldErrors::new();
        for f in &e.fields {
            found.insert(f.field.clone(), f.message.clone());
        }
        refuse(e.message, found);
    };
    // One call at a time, its body and answer as JSON values: both calls then share one
    // copy of the request code in the dashboard.
    let post =
        move |path: &'static str, body: Result<Value, FieldErrors>, done: Callback<Value>| {
            let body = match body {
                Ok(body) => body,
                Err(found) => return refuse("Some fields need attention.".into(), found),
            };
            errors.set(FieldErrors::new());
            error.set(None);
            busy.set(true);
            leptos::task::spawn_local(async move {
                let answer = api::send::<_, Value>("POST", path, &body).await;
                busy.set(false);
                match answer {
                    Ok(answer) => done.run(answer),
                    Err(e) => api_refusal(e),
                }
            });
        };
    let planned = Callback::new(move |answer| match api::typed::<Plan>(answer) {
        Ok(found) => plan.set(Some(found)),
        Err(e) => api_refusal(e),
    });
    let launched = Callback::new(move |answer| match api::typed::<Started>(answer) {
        Ok(job) => navigate(&format!("/jobs/{}", job.id), Default::default()),
        Err(e) => api_refusal(e),
    });
    let make_plan = move |_| {
        let request = images.with_untracked(|rows| plan_request(&typed(), rows));
        post("/placement/plan", request.map(|r| json(&r)), planned);
    };
    let launch = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let boot = images.with_untracked(|rows| boot(&typed(), rows));
        post("/servers", boot.map(|b| json(&b)), launched);
    };
    let can_launch = move || {
        session.can_operate()
            && !busy.get()
            && plan.with(|p| p.as_ref().is_some_and(|p| p.satisfiable))
    };
    // A plan describes the form as it was; the server name and networks are no part of it.
    let changed = move |ev: leptos::ev::Event| {
        let id = event_target::<web_sys::Element>(&ev).id();
        if id != input_id("name") && id != input_id(NETWORKS) {
            plan.set(None);
        }
    };
    let inputs = move |inputs: &'static [Input]| {
        inputs
            .iter()
            .filter_map(|&(field, label, kind, placeholder, hint, list)| {
                let value = value_of(field)?;
                Some(view! {
                    <FormField id=input_id(field) field=field.to_owned() label=label.to_owned() value errors kind
                        placeholder=placeholder hint=hint list=list/>
                })
            })
            .collect_view()
    };
    let choices = move |choices: &'static [Choice]| {
        choices
            .iter()
            .filter_map(|&(field, label, options)| {
                let value = value_of(field)?;
                let id = input_id(field);
                // The first option shows first, as the value starts: nothing else sets it. A
                // refusal of a choice is the API's (the options are its own): said above the
                // buttons.
                Some(view! {
                    <div class="field">
                        <label for=id.clone()>{label}</label>
                        <select id=id on:change=move |ev| value.set(event_target_value(&ev))>
                            {options.iter().map(|&(key, text)| view! { <option value=key>{text}</option> }).collect_view()}
                        </select>
                    </div>
                })
            })
            .collect_view()
    };
    view! {
        <section class="new-job placement">
            <h1>"Placement"</h1>
            <p class="muted">"Describe the servers you need: the console chooses the sites from a policy and your constraints, shows why, and creates nothing until you launch."</p>
            // The role is known before any page shows, and does not change on it. Hidden rather
            // than left out, as for the tables of a plan: cheaper in the dashboard's code.
            <div class="banner warning" role="status" hidden=session.can_operate()>"Your role may look but not plan or launch servers."</div>
            {suggestions("place-flavors", flavors)}
            {suggestions("place-images", images)}
            <form class="card form" on:submit=launch on:input=changed on:change=changed aria-label="Place servers" novalidate>
                <fieldset>
                    <legend>"Servers"</legend>
                    <div class="grid-form">{inputs(&INPUTS[..4])}{choices(&CHOICES[2..])}</div>
                </fieldset>
                <fieldset>
                    <legend>"Policy"</legend>
                    <div class="grid-form">{choices(&CHOICES[..2])}</div>
                </fieldset>
                <fieldset>
                    <legend>"Constraints"</legend>
                    <div class="grid-form">{inputs(&INPUTS[4..])}</div>
                </fieldset>
                {move || (
                    error.get().map(|e| view! { <p class="error" role="alert">{e}</p> }),
                    plan.get().map(|plan| view! { <PlanView plan/> }),
                )}
                <div class="actions">
                    <button type="button" class="secondary" on:click=make_plan disabled=move || busy.get() || !session.can_operate()>"Plan"</button>
                    <button type="submit" disabled=move || !can_launch()>"Launch"</button>
                    <span class="hint">"Launch is possible once a plan can be met."</span>
                </div>
            </form>
            <crate::pages::deployments::Deployments/>
        </section>
    }
}

/// Where a plan puts the servers and why each site was chosen or left out.
#[component]
fn PlanView(plan: Plan) -> impl IntoView {
    let placed: u32 = plan.allocations.iter().map(|a| a.count).sum();
    let summary = if plan.satisfiable {
        format!(
            "{placed} {} on {}. Nothing was created; the console plans again at launch, with the sites' figures then.",
            if placed == 1 { "server" } else { "servers" },
            sites_count(plan.allocations.len())
        )
    } else {
        format!(
            "This request cannot be met: {}",
            plan.unmet.unwrap_or_default()
        )
    };
    let chosen = plan
        .allocations
        .into_iter()
        .map(|a| (a.site, a.count, a.reason))
        .collect();
    let left_out = plan
        .excluded
        .into_iter()
        .map(|e| (e.site, 0, e.reason))
        .collect();
    view! {
        <section class="preview" role="region" aria-label="Plan">
            <h2>{if plan.satisfiable { "Plan: nothing was created" } else { "No plan meets the request" }}</h2>
            <p role="status" class:error=!plan.satisfiable>{summary}</p>
            {reasons("Where the servers go", chosen)}
            {reasons("Sites left out", left_out)}
        </section>
    }
}

/// A table of sites, each with its servers and the reason; hidden when there is none.
fn reasons(caption: &'static str, rows: Vec<(String, u32, String)>) -> impl IntoView {
    let none = rows.is_empty();
    view! {
        <div class="table-scroll" hidden=none>
            <table>
                <caption>{caption}</caption>
                <thead><tr><th scope="col">"Site"</th><th scope="col">"Servers"</th><th scope="col">"Reason"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|(site, count, reason)| view! {
                        <tr>
                            <th scope="row"><a href=format!("/sites/{site}")>{site.clone()}</a></th>
                            <td class="nowrap">{count}</td>
                            <td>{reason}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Of the job a launch started (`Job` of the API's types), the page needs the id only: a
/// whole `Job` decoded from a JSON value would be a second copy of its large decoder.
#[derive(serde::Deserialize)]
struct Started {
    id: String,
}

/// A request body as a JSON value. These types have no map with other keys than
/// strings, the one thing that fails to convert.
fn json(body: &impl serde::Serialize) -> Value {
    serde_json::to_value(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as typed: the plain one, with `more` fields set or replaced.
    fn typed(more: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut typed: Vec<(&'static str, String)> =
            more.iter().map(|(f, v)| (*f, (*v).to_owned())).collect();
        for (f, v) in [
            ("name", "web"),
            ("flavor", " m1.small "),
            ("count", "3"),
            ("image", "cirros"),
            (POLICY, "spread"),
        ] {
            if !more.iter().any(|(m, _)| *m == f) {
                typed.push((f, v.to_owned()));
            }
        }
        typed
    }

    fn images() -> Vec<Row> {
        let copy = |site: &str, id: &str, status: &str| Row {
            site: site.into(),
            id: id.into(),
            name: "cirros".into(),
            status: Some(status.into()),
            facts: String::new(),
            identity: String::new(),
        };
        vec![
            copy("site-001", "old", "queued"),
            copy("site-002", "i-2", "active"),
        ]
    }

    #[test]
    fn a_plain_request_sends_no_constraints_and_reads_the_image_from_a_live_copy() {
        let request = plan_request(&typed(&[]), &images()).unwrap();
        assert_eq!(request.flavor, "m1.small");
        assert_eq!(request.count, 3);
        assert_eq!(request.policy, "spread");
        assert_eq!(request.constraints, Constraints::default());
        assert_eq!(
            request.image,
            Some(ImageRef {
                site: "site-002".into(),
                image_id: "i-2".into()
            })
        );
    }

    #[test]
    fn constraints_are_read_from_their_fields() {
        let form = typed(&[
            ("constraints.selector", "region=eu"),
            ("constraints.exclude", "site-001, site-003"),
            ("constraints.max_per_site", "2"),
            ("constraints.spread_across", "region"),
            ("constraints.min_free.ram_mb", "512"),
            (AFFINITY, "different_sites"),
        ]);
        let c = plan_request(&form, &[]).unwrap().constraints;
        assert_eq!(c.selector.as_deref(), Some("region=eu"));
        assert_eq!(c.exclude, ["site-001", "site-003"]);
        assert_eq!(c.max_per_site, Some(2));
        assert_eq!(
            c.spread_across,
            Some(SpreadAcross {
                label: "region".into(),
                min_distinct: 2
            })
        );
        assert_eq!(
            c.min_free,
            Some(Headroom {
                ram_mb: 512.0,
                ..Default::default()
            })
        );
        assert_eq!(c.affinity, Some(Affinity::DifferentSites));
    }

    #[test]
    fn bad_input_is_named_by_field() {
        let form = typed(&[
            ("flavor", ""),
            ("count", "0"),
            ("constraints.spread_across.min_distinct", "3"),
            ("constraints.min_free.vcpus", "-1"),
        ]);
        let errors = plan_request(&form, &[]).unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "constraints.min_free.vcpus",
                "constraints.spread_across",
                "count",
                "flavor"
            ]
        );
        assert!(plan_request(&typed(&[("count", "")]), &[]).is_err());
    }

    #[test]
    fn a_launch_needs_a_name_and_an_image_and_sends_an_unknown_image_by_name() {
        let errors = boot(&typed(&[("name", " "), ("image", "")]), &[]).unwrap_err();
        assert!(errors.contains_key("name") && errors.contains_key("image"));
        let boot = boot(&typed(&[]), &[]).unwrap();
        assert_eq!(boot.image_name.as_deref(), Some("cirros"));
        assert!(boot.image.is_none() && boot.targets.is_none());
        assert_eq!(boot.count, 3);
        assert_eq!(boot.networks, Some(ServerNetworks::Mode(NetworkMode::Auto)));
        assert_eq!(boot.placement.unwrap().policy, "spread");
    }

    #[test]
    fn api_errors_point_to_the_fields_of_the_form() {
        assert_eq!(
            field_of("placement.constraints.selector"),
            Some("constraints.selector")
        );
        assert_eq!(field_of("image.site"), Some("image"));
        assert_eq!(field_of("placement.policy"), Some(POLICY));
        assert_eq!(
            field_of("constraints.min_free"),
            Some("constraints.min_free.vcpus")
        );
        assert_eq!(field_of("placement"), None);
        assert_eq!(
            input_id("constraints.max_per_site"),
            "place-constraints-max-per-site"
        );
    }
}
