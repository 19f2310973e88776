//! Metrics: capacity against usage, servers by status, sites reporting and API latency
//! over time, for the whole fleet, one line per value of a label, or one site. The URL
//! keeps the choice (`/metrics?group_by=region&range=6h`, `/metrics?site=site-001`), so
//! Back returns to the last one; a site's own charts are its page's Metrics tab. A step in
//! which no site had a figure is a gap in its line, never a zero.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::collections::BTreeMap;

use overcast_api_types::metrics::MetricSeries;
use overcast_api_types::SiteList;
use serde::Deserialize;

mod usage;

use crate::api::{self, ApiError};
use crate::components::chart::TimeChart;
use crate::components::time::MaybeTime;

/// How far back the charts look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Hour,
    SixHours,
    Day,
    Week,
    Month,
}

pub const RANGES: [Range; 5] = [
    Range::Hour,
    Range::SixHours,
    Range::Day,
    Range::Week,
    Range::Month,
];

/// Seconds a just-collected figure may take to be stored: a chart ends this long before
/// now, so its last step has every site's latest reading.
const GRACE_S: i64 = 10;

impl Range {
    pub fn key(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::SixHours => "6h",
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Range::Hour => "1 h",
            Range::SixHours => "6 h",
            Range::Day => "24 h",
            Range::Week => "7 days",
            Range::Month => "30 days",
        }
    }

    pub fn from_key(key: &str) -> Range {
        RANGES
            .into_iter()
            .find(|r| r.key() == key)
            .unwrap_or(Range::Hour)
    }

    pub fn seconds(self) -> i64 {
        match self {
            Range::Hour => 3600,
            Range::SixHours => 6 * 3600,
            Range::Day => 86_400,
            Range::Week => 7 * 86_400,
            Range::Month => 30 * 86_400,
        }
    }

    /// Seconds between points: 60 to 300 points a line, each step a whole number of
    /// minutes (the console collects once a minute by default, and keeps minute averages
    /// for 14 days) or of hours beyond, so every step holds the same number of readings.
    pub fn step(self) -> i64 {
        match self {
            Range::Hour => 60,
            Range::SixHours => 120,
            Range::Day => 300,
            Range::Week => 3600,
            Range::Month => 3 * 3600,
        }
    }

    /// How often an open chart is read again: twice a step, between 30 s and 10 min.
    pub fn refresh_s(self) -> u64 {
        (self.step() / 2).clamp(30, 600).unsigned_abs()
    }
}

/// The `(from, to)` of a chart at `now_s`: it ends a moment before now and is cut into
/// steps from its start, so its last step is as long as the others and adds up a reading
/// of every site, not only of those whose turn already came in a step under way (which
/// would dip at the right edge of every sum).
pub fn window(range: Range, now_s: i64) -> (i64, i64) {
    let to = now_s - GRACE_S;
    (to - range.seconds(), to)
}

/// Whose figures the charts add up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Fleet,
    /// One line per value of this label.
    Group(String),
    Site(String),
}

impl Scope {
    pub fn from_query(site: Option<String>, group_by: Option<String>) -> Scope {
        match (site, group_by) {
            (Some(site), _) if !site.is_empty() => Scope::Site(site),
            (_, Some(label)) if !label.is_empty() => Scope::Group(label),
            _ => Scope::Fleet,
        }
    }

    /// The part of an API query that selects the sites: `&sites=…`, `&group_by=…`.
    pub fn api_query(&self) -> String {
        match self {
            Scope::Fleet => String::new(),
            Scope::Group(label) => format!("&group_by={}", api::encode_query(label)),
            Scope::Site(site) => format!("&sites={}", api::encode_query(site)),
        }
    }

    /// The Metrics page's own query (`?group_by=region&range=6h`), empty for the defaults.
    pub fn page_query(&self, range: Range) -> String {
        let mut parts = Vec::new();
        match self {
            Scope::Fleet => {}
            Scope::Group(label) => parts.push(format!("group_by={}", api::encode_query(label))),
            Scope::Site(site) => parts.push(format!("site={}", api::encode_query(site))),
        }
        if range != Range::Hour {
            parts.push(format!("range={}", range.key()));
        }
        match parts.is_empty() {
            true => String::new(),
            false => format!("?{}", parts.join("&")),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Scope::Fleet => "fleet",
            Scope::Group(_) => "group",
            Scope::Site(_) => "site",
        }
    }
}

/// `GET /metrics/series` for one metric of a chart.
pub fn series_path(metric: &str, agg: &str, scope: &Scope, range: Range, now_s: i64) -> String {
    let (from, to) = window(range, now_s);
    format!(
        "/metrics/series?metric={metric}&agg={agg}&from={from}&to={to}&step={}{}",
        range.step(),
        scope.api_query()
    )
}

/// One metric of a chart: its line's name, colour, and dash (an index into the dashes
/// of `chart.js`: 0 solid).
pub struct Metric {
    pub name: &'static str,
    pub label: &'static str,
    pub color: &'static str,
    pub dash: u8,
}

pub struct ChartSpec {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    /// How the sites of a line combine: `sum`, or `avg` for a latency.
    pub agg: &'static str,
    /// What each figure is multiplied by (RAM in MB is drawn in GB).
    pub scale: f64,
    pub metrics: &'static [Metric],
}

const USED: &str = "#1f5fa8";
const CAPACITY: &str = "#5b6675";

const fn capacity_pair(used: &'static str, capacity: &'static str) -> [Metric; 2] {
    [
        Metric {
            name: used,
            label: "used",
            color: USED,
            dash: 0,
        },
        Metric {
            name: capacity,
            label: "capacity",
            color: CAPACITY,
            dash: 1,
        },
    ]
}

pub const CHARTS: &[ChartSpec] = &[
    ChartSpec {
        id: "vcpus",
        title: "vCPUs",
        unit: "vCPUs",
        agg: "sum",
        scale: 1.0,
        metrics: &capacity_pair("used_vcpus", "capacity_vcpus"),
    },
    ChartSpec {
        id: "ram",
        title: "RAM",
        unit: "GB",
        agg: "sum",
        scale: 1.0 / 1024.0,
        metrics: &capacity_pair("used_ram_mb", "capacity_ram_mb"),
    },
    ChartSpec {
        id: "disk",
        title: "Disk",
        unit: "GB",
        agg: "sum",
        scale: 1.0,
        metrics: &capacity_pair("used_disk_gb", "capacity_disk_gb"),
    },
    ChartSpec {
        id: "servers",
        title: "Servers by status",
        unit: "servers",
        agg: "sum",
        scale: 1.0,
        metrics: &[
            Metric {
                name: "servers_active",
                label: "active",
                color: "#1e7d3a",
                dash: 0,
            },
            Metric {
                name: "servers_shutoff",
                label: "shut off",
                color: "#5b6675",
                dash: 1,
            },
            Metric {
                name: "servers_error",
                label: "error",
                color: "#b42318",
                dash: 2,
            },
            Metric {
                name: "servers_other",
                label: "other",
                color: "#9a6700",
                dash: 3,
            },
        ],
    },
    ChartSpec {
        id: "sites",
        title: "Sites reporting",
        unit: "sites",
        agg: "sum",
        scale: 1.0,
        metrics: &[Metric {
            name: "site_up",
            label: "reporting",
            color: "#1e7d3a",
            dash: 0,
        }],
    },
    ChartSpec {
        id: "latency",
        title: "API latency (average)",
        unit: "ms",
        agg: "avg",
        scale: 1.0,
        metrics: &[Metric {
            name: "api_latency_ms",
            label: "latency",
            color: USED,
            dash: 0,
        }],
    },
];

/// The colours of the groups' lines when grouping by a label (a group's metrics differ
/// by their dash).
const PALETTE: [&str; 8] = [
    "#1f5fa8", "#b42318", "#1e7d3a", "#9a6700", "#6f42c1", "#0f766e", "#c2410c", "#5b6675",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: String,
    pub color: &'static str,
    pub dash: u8,
    pub values: Vec<Option<f64>>,
}

impl Line {
    /// Steps with a figure.
    pub fn with_figures(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }

    /// Steps without a figure after the line's first: gaps in what was collected, apart
    /// from the time before the first collection.
    pub fn gaps(&self) -> usize {
        self.values
            .iter()
            .skip_while(|v| v.is_none())
            .filter(|v| v.is_none())
            .count()
    }

    /// The last step's figure: none when the line ends in a gap (no figures now).
    pub fn latest(&self) -> Option<f64> {
        self.values.last().copied().flatten()
    }
}

/// A chart's lines over shared times, ready for uPlot.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    pub times: Vec<i64>,
    pub lines: Vec<Line>,
}

/// The lines of a chart from the answers for its metrics (in the order of
/// `spec.metrics`): per metric when not grouping, per group and metric when grouping,
/// a group's lines side by side.
pub fn plot(spec: &ChartSpec, grouped: bool, answers: &[MetricSeries]) -> Plot {
    let times: Vec<i64> = answers
        .iter()
        .find_map(|a| a.series.first())
        .map(|line| line.points.iter().map(|p| p.t).collect())
        .unwrap_or_default();
    let groups: Vec<&str> = answers
        .first()
        .map(|a| a.series.iter().map(|l| l.group.as_str()).collect())
        .unwrap_or_default();
    let mut lines = Vec::new();
    for (at, group) in groups.iter().enumerate() {
        for (metric, answer) in spec.metrics.iter().zip(answers) {
            let Some(line) = answer.series.iter().find(|l| l.group == *group) else {
                continue;
            };
            let mut values: Vec<Option<f64>> = line
                .points
                .iter()
                .map(|p| p.value.map(|v| v * spec.scale))
                .collect();
            values.resize(times.len(), None);
            lines.push(Line {
                label: match grouped {
                    true => format!("{group} {}", metric.label),
                    false => metric.label.to_owned(),
                },
                color: match grouped {
                    true => PALETTE[at % PALETTE.len()],
                    false => metric.color,
                },
                dash: metric.dash,
                values,
            });
        }
    }
    Plot { times, lines }
}

impl Plot {
    /// uPlot's columns: the times, then each line's values, `null` for a gap.
    pub fn data_json(&self) -> String {
        let times: Vec<String> = self.times.iter().map(i64::to_string).collect();
        let mut columns = vec![format!("[{}]", times.join(","))];
        for line in &self.lines {
            let values: Vec<String> = line
                .values
                .iter()
                .map(|v| match v {
                    Some(v) if v.is_finite() => v.to_string(),
                    _ => "null".into(),
                })
                .collect();
            columns.push(format!("[{}]", values.join(",")));
        }
        format!("[{}]", columns.join(","))
    }

    /// What `chart.js` needs to know of the lines.
    pub fn spec_json(&self, unit: &str) -> String {
        let text = |t: &str| serde_json::to_string(t).unwrap_or_default();
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| {
                format!(
                    r#"{{"label":{},"color":"{}","dash":{}}}"#,
                    text(&l.label),
                    l.color,
                    l.dash
                )
            })
            .collect();
        format!(r#"{{"unit":{},"lines":[{}]}}"#, text(unit), lines.join(","))
    }
}

/// A figure with its unit, as the charts' text alternative reads it.
pub fn figure(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "no figures".into(),
        Some(v) if v.fract() == 0.0 => format!("{v:.0} {unit}"),
        Some(v) => format!("{v:.1} {unit}"),
    }
}

async fn load_plot(spec: &'static ChartSpec, scope: Scope, range: Range) -> Result<Plot, ApiError> {
    let now_s = (js_sys::Date::now() / 1000.0) as i64;
    let mut answers = Vec::with_capacity(spec.metrics.len());
    for metric in spec.metrics {
        let path = series_path(metric.name, spec.agg, &scope, range, now_s);
        answers.push(api::get_as::<MetricSeries>(&path).await?);
    }
    Ok(plot(spec, matches!(scope, Scope::Group(_)), &answers))
}

/// What the dashboard reads of `GET /metrics/summary` (`MetricsSummary`): the totals of
/// the sites that report, and why the others do not. Decoding only these fields keeps the
/// WASM smaller.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Summary {
    pub totals: BTreeMap<String, f64>,
    pub sites_reporting: usize,
    pub sites_missing: usize,
    pub sites: Vec<SiteGap>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SiteGap {
    pub site: String,
    #[serde(default)]
    pub collected_at: Option<String>,
    pub fresh: bool,
    #[serde(default)]
    pub gap: Option<String>,
}

/// The summary of the sites an API query part selects (`&sites=…`, empty for the fleet),
/// read again whenever `again` changes.
pub fn summary(
    query: Signal<String>,
    again: Signal<u32>,
) -> LocalResource<Result<Summary, ApiError>> {
    LocalResource::new(move || {
        again.track();
        let path = format!("/metrics/summary?{}", query.get().trim_start_matches('&'));
        async move { api::get_as::<Summary>(&path).await }
    })
}

/// The reader's time zone, which the charts' times are in.
fn time_zone() -> String {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()
        .and_then(|zone| zone.as_string())
        .unwrap_or_else(|| "local".into())
}

/// The time ranges as a row of toggle buttons.
#[component]
pub fn RangePicker(#[prop(into)] range: Signal<Range>, on_pick: Callback<Range>) -> impl IntoView {
    view! {
        <div class="range-picker" role="group" aria-label="Time range">
            <span class="muted">"Last"</span>
            {RANGES.into_iter().map(|r| view! {
                <button type="button" class="secondary small" aria-pressed=move || (range.get() == r).to_string()
                    on:click=move |_| on_pick.run(r)>{r.title()}</button>
            }).collect_view()}
        </div>
    }
}

/// Every chart of a scope and range, with who is missing now; read again while open.
#[component]
pub fn MetricsCharts(
    #[prop(into)] scope: Signal<Scope>,
    #[prop(into)] range: Signal<Range>,
) -> impl IntoView {
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        let period = std::time::Duration::from_secs(range.get().refresh_s());
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|n| *n += 1), period) {
            on_cleanup(move || handle.clear());
        }
    });
    let summary = summary(Signal::derive(move || scope.get().api_query()), tick.into());
    view! {
        {move || summary.get().map(|answer| match answer {
            Ok(summary) => view! { <Reporting summary/> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        })}
        <div class="charts">
            {CHARTS.iter().map(|spec| view! { <ChartPanel spec scope range tick/> }).collect_view()}
        </div>
        <p class="muted small-text">{format!("Times are in your time zone ({}). A break in a line is a gap: no site of it had figures then.", time_zone())}</p>
    }
}

/// "3 of 4 sites reporting", "1 of 1 site reporting".
pub fn reporting_text(reporting: usize, total: usize) -> String {
    let sites = if total == 1 { "site" } else { "sites" };
    format!("{reporting} of {total} {sites} reporting")
}

/// How many sites report, and why the others do not.
#[component]
fn Reporting(summary: Summary) -> impl IntoView {
    let total = summary.sites_reporting + summary.sites_missing;
    let missing: Vec<_> = summary
        .sites
        .into_iter()
        .filter(|s| !s.fresh || s.gap.is_some())
        .collect();
    let shown = missing.len().min(20);
    let more = missing.len() - shown;
    view! {
        <p class="reporting" data-reporting=summary.sites_reporting.to_string() data-sites=total.to_string()>
            <strong>{reporting_text(summary.sites_reporting, total)}</strong>
        </p>
        {(!missing.is_empty()).then(|| view! {
            <div class="banner warning missing-now" role="status">
                <strong>"Missing now"</strong>" — their lines have gaps from then on, and totals leave them out:"
                <ul>
                    {missing.into_iter().take(shown).map(|site| view! {
                        <li data-site=site.site.clone()>
                            <strong>{site.site.clone()}</strong>": "{site.gap.unwrap_or_else(|| "no recent figures".into())}
                            <span class="muted">" · last figures "<MaybeTime at=site.collected_at otherwise="never"/></span>
                        </li>
                    }).collect_view()}
                </ul>
                {(more > 0).then(|| view! { <p>{format!("and {more} more")}</p> })}
            </div>
        })}
    }
}

/// One chart, with its figures as text for screen readers (and tests): each line's
/// latest figure, its steps with figures and its gaps.
#[component]
fn ChartPanel(
    spec: &'static ChartSpec,
    scope: Signal<Scope>,
    range: Signal<Range>,
    tick: RwSignal<u32>,
) -> impl IntoView {
    let answer = LocalResource::new(move || {
        tick.track();
        load_plot(spec, scope.get(), range.get())
    });
    let drawing = Signal::derive(move || match answer.get() {
        Some(Ok(plot)) if !plot.lines.is_empty() => {
            Some((plot.spec_json(spec.unit), plot.data_json()))
        }
        _ => None,
    });
    view! {
        <figure class="chart" data-chart=spec.id>
            <figcaption>{spec.title}</figcaption>
            <TimeChart drawing/>
            {move || match answer.get() {
                None => view! { <p class="muted" role="status">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(plot)) if plot.lines.is_empty() => view! { <p class="muted">"No site in this scope."</p> }.into_any(),
                Some(Ok(plot)) => view! {
                    <ul class="visually-hidden" aria-label=format!("{}: latest figures", spec.title)>
                        {plot.lines.into_iter().map(|line| {
                            let (values, gaps) = (line.with_figures(), line.gaps());
                            let text = format!("{}: {} now; {values} steps with figures, {gaps} gaps", line.label, figure(line.latest(), spec.unit));
                            view! { <li data-line=line.label data-values=values.to_string() data-gaps=gaps.to_string()>{text}</li> }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </figure>
    }
}

/// `/metrics`: the scope and range pickers over the charts.
#[component]
pub fn Metrics() -> impl IntoView {
    let query = use_query_map();
    let scope =
        Memo::new(move |_| query.with(|q| Scope::from_query(q.get("site"), q.get("group_by"))));
    let range =
        Memo::new(move |_| query.with(|q| Range::from_key(&q.get("range").unwrap_or_default())));
    let navigate = use_navigate();
    let go = Callback::new(move |(scope, range): (Scope, Range)| {
        navigate(
            &format!("/metrics{}", scope.page_query(range)),
            Default::default(),
        );
    });
    let sites = LocalResource::new(|| api::get::<SiteList>("/sites"));
    // The sites to choose from, and the label keys to group by.
    let choices = Memo::new(move |_| match sites.get() {
        Some(Ok(list)) => {
            let keys: std::collections::BTreeSet<String> = list
                .items
                .iter()
                .flat_map(|s| s.labels.keys().cloned())
                .collect();
            let names = list.items.into_iter().map(|s| s.name).collect::<Vec<_>>();
            (names, keys.into_iter().collect::<Vec<_>>())
        }
        _ => (Vec::new(), Vec::new()),
    });
    let pick_kind = move |kind: String| {
        let next = match kind.as_str() {
            "group" => choices
                .with_untracked(|c| c.1.first().cloned())
                .map(Scope::Group),
            "site" => choices
                .with_untracked(|c| c.0.first().cloned())
                .map(Scope::Site),
            _ => Some(Scope::Fleet),
        };
        if let Some(next) = next {
            go.run((next, range.get_untracked()));
        }
    };
    view! {
        <section class="metrics-page">
            <h1>"Metrics"</h1>
            <div class="toolbar">
                <div class="field">
                    <label for="metrics-scope">"Show"</label>
                    <select id="metrics-scope" prop:value=move || scope.get().kind() on:change=move |ev| pick_kind(event_target_value(&ev))>
                        <option value="fleet">"The whole fleet"</option>
                        <option value="group" disabled=move || choices.with(|c| c.1.is_empty())>"One line per label value"</option>
                        <option value="site">"One site"</option>
                    </select>
                </div>
                {move || match scope.get() {
                    Scope::Fleet => ().into_any(),
                    Scope::Group(label) => view! {
                        <div class="field">
                            <label for="metrics-label">"Label"</label>
                            <select id="metrics-label"
                                on:change=move |ev| go.run((Scope::Group(event_target_value(&ev)), range.get_untracked()))>
                                {move || options(choices.get().1, &label)}
                            </select>
                        </div>
                    }.into_any(),
                    Scope::Site(site) => view! {
                        <div class="field">
                            <label for="metrics-site">"Site"</label>
                            <select id="metrics-site"
                                on:change=move |ev| go.run((Scope::Site(event_target_value(&ev)), range.get_untracked()))>
                                {move || options(choices.get().0, &site)}
                            </select>
                        </div>
                    }.into_any(),
                }}
                <RangePicker range on_pick=Callback::new(move |r| go.run((scope.get_untracked(), r)))/>
            </div>
            <MetricsCharts scope range/>
            <usage::UsagePanel scope range labels=Signal::derive(move || choices.get().1)/>
        </section>
    }
}

/// A select's options, the chosen one selected.
fn options(values: Vec<String>, chosen: &str) -> impl IntoView {
    values
        .into_iter()
        .map(|value| {
            let selected = value == chosen;
            let text = value.clone();
            view! { <option value=value selected=selected>{text}</option> }
        })
        .collect_view()
}

/// A site page's Metrics tab: the site's own charts (`/sites/{name}/metrics?range=6h`).
#[component]
pub fn SiteMetricsTab(site: String) -> impl IntoView {
    let query = use_query_map();
    let range =
        Memo::new(move |_| query.with(|q| Range::from_key(&q.get("range").unwrap_or_default())));
    let navigate = use_navigate();
    let path = crate::pages::site::tab_href(&site, "metrics");
    let on_pick = Callback::new(move |r: Range| {
        let query = Scope::Fleet.page_query(r);
        let options = leptos_router::NavigateOptions {
            scroll: false,
            ..Default::default()
        };
        navigate(&format!("{path}{query}"), options);
    });
    let scope = Signal::derive(move || Scope::Site(site.clone()));
    view! {
        <div class="toolbar"><RangePicker range on_pick/></div>
        <MetricsCharts scope range/>
        <usage::UsagePanel scope range labels=Signal::derive(Vec::new)/>
    }
}

#[cfg(test)]
mod tests {
    use overcast_api_types::metrics::{SeriesLine, SeriesPoint};

    use super::*;

    fn answer(metric: &str, lines: &[(&str, &[Option<f64>])]) -> MetricSeries {
        MetricSeries {
            metric: metric.into(),
            agg: "sum".into(),
            from: 0,
            to: 180,
            step: 60,
            resolution: "raw".into(),
            series: lines
                .iter()
                .map(|(group, values)| SeriesLine {
                    group: (*group).into(),
                    sites: 2,
                    points: values
                        .iter()
                        .enumerate()
                        .map(|(at, value)| SeriesPoint {
                            t: at as i64 * 60,
                            value: *value,
                            sites: usize::from(value.is_some()),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn each_range_has_a_step_of_whole_minutes_or_hours_and_few_enough_points() {
        for range in RANGES {
            let points = range.seconds() / range.step();
            assert!((60..=300).contains(&points), "{range:?}: {points} points");
            assert!(range.step() % 60 == 0, "{range:?}");
            assert_eq!(Range::from_key(range.key()), range);
        }
        assert_eq!(Range::Hour.step(), 60);
        assert_eq!(Range::Day.step(), 300);
        assert_eq!(Range::Week.step(), 3600);
        assert_eq!(Range::from_key("bogus"), Range::Hour);
        assert_eq!(Range::Hour.refresh_s(), 30);
        assert_eq!(Range::Week.refresh_s(), 600);
    }

    #[test]
    fn a_window_ends_before_now_and_holds_whole_steps() {
        let now = 1_700_000_005;
        for range in RANGES {
            let (from, to) = window(range, now);
            assert_eq!(to, now - GRACE_S);
            assert_eq!(to - from, range.seconds());
            assert_eq!(
                (to - from) % range.step(),
                0,
                "{range:?}: the last step is whole"
            );
        }
    }

    #[test]
    fn a_scope_selects_sites_in_the_api_and_the_page_url() {
        let site = Scope::from_query(Some("site 1".into()), Some("region".into()));
        assert_eq!(site, Scope::Site("site 1".into()));
        assert_eq!(site.api_query(), "&sites=site%201");
        assert_eq!(site.page_query(Range::Hour), "?site=site%201");
        let group = Scope::from_query(Some(String::new()), Some("region".into()));
        assert_eq!(group.api_query(), "&group_by=region");
        assert_eq!(group.page_query(Range::Day), "?group_by=region&range=24h");
        let fleet = Scope::from_query(None, None);
        assert_eq!(
            (fleet.api_query(), fleet.page_query(Range::Hour)),
            (String::new(), String::new())
        );
        assert_eq!(fleet.page_query(Range::Month), "?range=30d");
        assert_eq!(
            series_path("site_up", "sum", &group, Range::Hour, 3600 * 10 + 10),
            "/metrics/series?metric=site_up&agg=sum&from=32400&to=36000&step=60&group_by=region"
        );
    }

    #[test]
    fn a_chart_has_a_line_per_metric_with_gaps_as_nulls() {
        let spec = &CHARTS[1];
        let answers = [
            answer(
                "used_ram_mb",
                &[("all", &[None, Some(1024.0), None, Some(2048.0)])],
            ),
            answer(
                "capacity_ram_mb",
                &[("all", &[None, Some(4096.0), Some(4096.0), Some(4096.0)])],
            ),
        ];
        let plot = plot(spec, false, &answers);
        assert_eq!(plot.times, vec![0, 60, 120, 180]);
        let labels: Vec<_> = plot
            .lines
            .iter()
            .map(|l| (l.label.as_str(), l.color, l.dash))
            .collect();
        assert_eq!(labels, vec![("used", USED, 0), ("capacity", CAPACITY, 1)]);
        let used = &plot.lines[0];
        assert_eq!(
            used.values,
            vec![None, Some(1.0), None, Some(2.0)],
            "MB drawn as GB"
        );
        assert_eq!(
            (used.with_figures(), used.gaps(), used.latest()),
            (2, 1, Some(2.0))
        );
        assert_eq!(
            plot.lines[1].gaps(),
            0,
            "the time before the first figure is no gap"
        );
        let dark = Line {
            values: vec![Some(1.0), None],
            ..used.clone()
        };
        assert_eq!(
            (dark.gaps(), dark.latest()),
            (1, None),
            "a line may end in a gap"
        );
        assert_eq!(
            plot.data_json(),
            "[[0,60,120,180],[null,1,null,2],[null,4,4,4]]"
        );
        assert_eq!(
            plot.spec_json("GB"),
            r##"{"unit":"GB","lines":[{"label":"used","color":"#1f5fa8","dash":0},{"label":"capacity","color":"#5b6675","dash":1}]}"##
        );
    }

    #[test]
    fn grouping_gives_each_group_a_colour_and_each_metric_its_dash() {
        let spec = &CHARTS[0];
        let answers = [
            answer("used_vcpus", &[("eu", &[Some(1.0)]), ("us", &[Some(2.0)])]),
            answer("capacity_vcpus", &[("eu", &[Some(8.0)]), ("us", &[None])]),
        ];
        let plot = plot(spec, true, &answers);
        let lines: Vec<_> = plot
            .lines
            .iter()
            .map(|l| (l.label.as_str(), l.color, l.dash, l.values.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("eu used", PALETTE[0], 0, vec![Some(1.0)]),
                ("eu capacity", PALETTE[0], 1, vec![Some(8.0)]),
                ("us used", PALETTE[1], 0, vec![Some(2.0)]),
                ("us capacity", PALETTE[1], 1, vec![None]),
            ]
        );
        assert_eq!(plot.data_json(), "[[0],[1],[8],[2],[null]]");
        assert_eq!(
            super::plot(spec, false, &[]).lines,
            vec![],
            "no site, no line"
        );
    }

    #[test]
    fn the_summary_reads_what_the_api_sends() {
        use overcast_api_types::metrics::{MetricsGroup, MetricsSummary, SiteMetrics};
        let sent = MetricsSummary {
            totals: BTreeMap::from([("used_vcpus".to_owned(), 3.0)]),
            sites_reporting: 1,
            sites_missing: 1,
            groups: vec![MetricsGroup {
                label: "region".into(),
                value: "eu".into(),
                totals: BTreeMap::new(),
                sites_reporting: 1,
                sites_missing: 1,
            }],
            sites: vec![
                SiteMetrics {
                    site: "a".into(),
                    collected_at: Some("2026-12-02T10:00:00Z".into()),
                    fresh: true,
                    gap: None,
                    values: BTreeMap::from([("used_vcpus".to_owned(), 3.0)]),
                },
                SiteMetrics {
                    site: "b".into(),
                    collected_at: None,
                    fresh: false,
                    gap: Some("site unreachable: timeout".into()),
                    values: BTreeMap::new(),
                },
            ],
        };
        let Ok(read) = serde_json::to_value(&sent).and_then(serde_json::from_value::<Summary>)
        else {
            panic!("the summary does not decode");
        };
        assert_eq!(read.totals, sent.totals);
        assert_eq!((read.sites_reporting, read.sites_missing), (1, 1));
        assert_eq!(
            read.sites[1],
            SiteGap {
                site: "b".into(),
                collected_at: None,
                fresh: false,
                gap: Some("site unreachable: timeout".into()),
            }
        );
    }

    #[test]
    fn figures_read_with_their_unit() {
        assert_eq!(reporting_text(3, 4), "3 of 4 sites reporting");
        assert_eq!(reporting_text(0, 1), "0 of 1 site reporting");
        assert_eq!(figure(Some(12.0), "vCPUs"), "12 vCPUs");
        assert_eq!(figure(Some(1.26), "GB"), "1.3 GB");
        assert_eq!(figure(None, "ms"), "no figures");
    }
}
