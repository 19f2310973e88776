//! The usage table under the charts: VM, vCPU, RAM, disk and volume hours per group over
//! the page's range, from `GET /api/v1/usage`, with the sites whose usage is not known.

use leptos::prelude::*;
use overcast_api_types::usage::{UsageReport, UsageRow};

use super::{window, Range, Scope};
use crate::api;
use crate::components::pager::{page_of, Pager};

/// The usage query of a scope, range and grouping. One site's usage is asked for that
/// site alone; a fleet or label view asks for every site the reader may see.
pub fn usage_path(scope: &Scope, range: Range, group_by: &str, now_s: i64) -> String {
    let (from, to) = window(range, now_s);
    let sites = match scope {
        Scope::Site(site) => format!("&sites={}", api::encode_query(site)),
        Scope::Fleet | Scope::Group(_) => String::new(),
    };
    format!(
        "/usage?from={from}&to={to}&group_by={}{sites}",
        api::encode_query(group_by)
    )
}

/// The grouping a scope starts with: projects for one site, the label for a label view,
/// sites for the fleet.
pub fn default_grouping(scope: &Scope) -> String {
    match scope {
        Scope::Site(_) => "project".into(),
        Scope::Group(label) => label.clone(),
        Scope::Fleet => "site".into(),
    }
}

/// Hours as the table shows them: whole from 100, one decimal from 10, two below (a
/// server that ran a few minutes shows, not 0.0).
pub fn hours(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

#[component]
pub fn UsagePanel(
    #[prop(into)] scope: Signal<Scope>,
    #[prop(into)] range: Signal<Range>,
    /// Label keys of the fleet, to group by.
    #[prop(into)]
    labels: Signal<Vec<String>>,
) -> impl IntoView {
    let group_by = RwSignal::new(default_grouping(&scope.get_untracked()));
    Effect::new(move |_| group_by.set(default_grouping(&scope.get())));
    let path = Memo::new(move |_| {
        let now_s = (js_sys::Date::now() / 1000.0) as i64;
        usage_path(&scope.get(), range.get(), &group_by.get(), now_s)
    });
    let report = LocalResource::new(move || {
        let path = path.get();
        async move { api::get_as::<UsageReport>(&path).await }
    });
    let page = RwSignal::new(0usize);
    let download_error = RwSignal::new(None::<String>);
    let download = move |_| {
        let path = path.get_untracked();
        leptos::task::spawn_local(async move {
            let saved = api::download_as(&path, "text/csv", "overcast-usage.csv").await;
            download_error.set(saved.err().map(|e| e.message));
        });
    };
    view! {
        <section class="usage" aria-labelledby="usage-title">
            <div class="section-head">
                <h2 id="usage-title">"Usage"</h2>
                <div class="field">
                    <label for="usage-group">"Per"</label>
                    <select id="usage-group" on:change=move |ev| group_by.set(event_target_value(&ev))>
                        {move || {
                            let chosen = group_by.get();
                            let mut keys = vec!["site".to_owned(), "project".to_owned()];
                            keys.extend(labels.get());
                            keys.into_iter().map(|key| {
                                let selected = key == chosen;
                                let text = match key.as_str() {
                                    "site" => "site".to_owned(),
                                    "project" => "project".to_owned(),
                                    label => format!("label {label}"),
                                };
                                view! { <option value=key selected=selected>{text}</option> }
                            }).collect_view()
                        }}
                    </select>
                </div>
                <button type="button" class="secondary small" on:click=download>"Download CSV"</button>
            </div>
            {move || download_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || report.get().map(|answer| match answer {
                Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                Ok(report) => view! { <UsageTable report page/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn UsageTable(report: UsageReport, page: RwSignal<usize>) -> impl IntoView {
    let total = report.rows.len();
    let rows = StoredValue::new(report.rows);
    let unknown = report.unknown;
    let cells = |row: &UsageRow| {
        [
            hours(row.vm_hours),
            hours(row.vcpu_hours),
            hours(row.ram_gb_hours),
            hours(row.disk_gb_hours),
            row.volume_gb_hours.map_or_else(|| "—".to_owned(), hours),
        ]
    };
    view! {
        {(!unknown.is_empty()).then(|| view! {
            <div class="usage-unknown" role="status">
                <p>{format!("Usage not known for {} site{} over this period (left out, never counted as zero):",
                    unknown.len(), if unknown.len() == 1 { "" } else { "s" })}</p>
                <ul>{unknown.into_iter().take(10).map(|u| view! { <li><strong>{u.site}</strong>": "{u.reason}</li> }).collect_view()}</ul>
            </div>
        })}
        {(total == 0).then(|| view! { <p class="muted">"Nothing was used over this period."</p> })}
        {(total > 0).then(|| view! {
            <div class="table-scroll">
                <table class="usage-table">
                    <thead><tr>
                        <th scope="col">{report.group_by.clone()}</th>
                        <th scope="col" class="num">"Sites"</th>
                        <th scope="col" class="num">"VM h"</th>
                        <th scope="col" class="num">"vCPU h"</th>
                        <th scope="col" class="num">"RAM GB·h"</th>
                        <th scope="col" class="num">"Disk GB·h"</th>
                        <th scope="col" class="num">"Volume GB·h"</th>
                    </tr></thead>
                    <tbody>
                        {move || rows.with_value(|rows| page_of(rows, page.get())).into_iter().map(|row| {
                            let figures = cells(&row);
                            view! {
                                <tr>
                                    <th scope="row">{row.group.clone()}</th>
                                    <td class="num">{row.sites.len()}</td>
                                    {figures.into_iter().map(|f| view! { <td class="num">{f}</td> }).collect_view()}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Pager total=Signal::derive(move || total) page/>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_asked_over_the_pages_window_for_the_scopes_sites() {
        let now = 1_700_000_010;
        let (from, to) = window(Range::Day, now);
        assert_eq!(
            usage_path(&Scope::Site("edge 1".into()), Range::Day, "project", now),
            format!("/usage?from={from}&to={to}&group_by=project&sites=edge%201")
        );
        assert_eq!(
            usage_path(&Scope::Group("region".into()), Range::Day, "region", now),
            format!("/usage?from={from}&to={to}&group_by=region")
        );
        assert_eq!(default_grouping(&Scope::Fleet), "site");
        assert_eq!(default_grouping(&Scope::Site("a".into())), "project");
        assert_eq!(default_grouping(&Scope::Group("zone".into())), "zone");
        assert_eq!(
            [hours(1234.56), hours(12.34), hours(0.0167)],
            ["1235", "12.3", "0.02"]
        );
    }
}
