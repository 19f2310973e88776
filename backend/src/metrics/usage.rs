//! Usage accounting: what each project, site or label group used over a period, from
//! Nova's own usage report (`os-simple-tenant-usage`) and, for volumes, from the figures
//! the collector observed. A site that cannot say is listed as unknown, never as zero.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use overcast_api_types::usage::{UnknownUsage, UsageReport, UsageRow};
use tokio::time::Instant;

use super::{unix_rfc3339, Metrics, MetricsError, SeriesQuery};
use crate::resources::{SiteOps, TenantUsage};

/// Sites asked at once for their usage report.
const USAGE_CONCURRENCY: usize = 32;
/// Longest one site's report may take.
const USAGE_DEADLINE: Duration = Duration::from_secs(20);

/// How rows are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageGrouping {
    Site,
    /// By project name, across sites (federated projects share names, not ids).
    Project,
    /// By the value of a site label.
    Label(String),
}

impl UsageGrouping {
    pub fn parse(text: &str) -> UsageGrouping {
        match text {
            "site" => UsageGrouping::Site,
            "project" => UsageGrouping::Project,
            label => UsageGrouping::Label(label.to_owned()),
        }
    }

    fn name(&self) -> &str {
        match self {
            UsageGrouping::Site => "site",
            UsageGrouping::Project => "project",
            UsageGrouping::Label(label) => label,
        }
    }
}

/// One site's answer: Nova's per-project figures and project names, or why not.
type SiteUsage = Result<(Vec<TenantUsage>, HashMap<String, String>), String>;

impl Metrics {
    /// Usage over `[from, to)` of `sites` (each with its labels), grouped.
    pub async fn usage(
        &self,
        sites: &BTreeMap<String, BTreeMap<String, String>>,
        from: i64,
        to: i64,
        grouping: &UsageGrouping,
        now: i64,
    ) -> Result<UsageReport, MetricsError> {
        if to <= from {
            return Err(super::invalid("to", "must be after from"));
        }
        let (start, end) = (nova_time(from), nova_time(to));
        let answers: Vec<(String, SiteUsage)> = futures::stream::iter(sites.keys().cloned())
            .map(|site| async {
                let answer = self.site_usage(&site, &start, &end).await;
                (site, answer)
            })
            .buffer_unordered(USAGE_CONCURRENCY)
            .collect()
            .await;
        let volumes = match grouping {
            UsageGrouping::Project => HashMap::new(),
            _ => self.volume_gb_hours(sites, from, to, now).await?,
        };
        let mut rows: BTreeMap<String, UsageRow> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (site, answer) in answers {
            let (usages, names) = match answer {
                Ok(found) => found,
                Err(reason) => {
                    unknown.push(UnknownUsage { site, reason });
                    continue;
                }
            };
            let site_group = |site: &str| match grouping {
                UsageGrouping::Site => site.to_owned(),
                UsageGrouping::Label(label) => sites
                    .get(site)
                    .and_then(|l| l.get(label))
                    .cloned()
                    .unwrap_or_else(|| "(none)".into()),
                UsageGrouping::Project => String::new(),
            };
            if *grouping != UsageGrouping::Project {
                // The site counts in its group even with no server in the period.
                let row = rows
                    .entry(site_group(&site))
                    .or_insert_with(|| empty_row(site_group(&site)));
                add_site(row, &site);
                if let Some((gb_hours, unknown_hours)) = volumes.get(&site) {
                    *row.volume_gb_hours.get_or_insert(0.0) += gb_hours;
                    *row.volume_unknown_hours.get_or_insert(0.0) += unknown_hours;
                }
            }
            for usage in usages {
                let group = match grouping {
                    UsageGrouping::Project => names
                        .get(&usage.project_id)
                        .cloned()
                        .unwrap_or(usage.project_id.clone()),
                    _ => site_group(&site),
                };
                let row = rows
                    .entry(group.clone())
                    .or_insert_with(|| empty_row(group));
                add_site(row, &site);
                row.vm_hours += usage.hours;
                row.vcpu_hours += usage.vcpu_hours;
                row.ram_gb_hours += usage.ram_mb_hours / 1024.0;
                row.disk_gb_hours += usage.disk_gb_hours;
            }
        }
        unknown.sort_by(|a, b| a.site.cmp(&b.site));
        Ok(UsageReport {
            from: unix_rfc3339(from),
            to: unix_rfc3339(to),
            group_by: grouping.name().to_owned(),
            rows: rows.into_values().collect(),
            unknown,
        })
    }

    async fn site_usage(&self, site: &str, start: &str, end: &str) -> SiteUsage {
        if self.health().is_unreachable(site) {
            return Err(self.health().unreachable_reason(site));
        }
        let session = self
            .sessions()
            .session(site)
            .await
            .map_err(|e| e.to_string())?;
        let ops = SiteOps::new(site.to_owned(), session, Instant::now() + USAGE_DEADLINE);
        let usages = ops
            .tenant_usages(start, end)
            .await
            .map_err(|e| format!("usage report: {e}"))?;
        // Names where the site lets the console read them; ids otherwise.
        let names = ops
            .projects()
            .await
            .map(|projects| projects.into_iter().map(|p| (p.id, p.name)).collect())
            .unwrap_or_default();
        Ok((usages, names))
    }

    /// Each site's volume GB-hours over the period from the observed `volumes_gb`, and
    /// the hours with no figure.
    async fn volume_gb_hours(
        &self,
        sites: &BTreeMap<String, BTreeMap<String, String>>,
        from: i64,
        to: i64,
        now: i64,
    ) -> Result<HashMap<String, (f64, f64)>, MetricsError> {
        let step = if to - from <= 2 * 86_400 { 60 } else { 3600 };
        let step = step.max((to - from) / super::series::MAX_POINTS + 1);
        let query = SeriesQuery::new("volumes_gb", from, to, step, "sum")?;
        let per_site: BTreeMap<String, String> =
            sites.keys().map(|s| (s.clone(), s.clone())).collect();
        let series = self.series(&query, &per_site, now).await?;
        let hours_per_step = step as f64 / 3600.0;
        // A site with no volume figure in the whole period (no Cinder, or never read)
        // has no volume hours, rather than zero of them.
        Ok(series
            .series
            .into_iter()
            .filter(|line| line.points.iter().any(|p| p.value.is_some()))
            .map(|line| {
                let known: f64 = line.points.iter().filter_map(|p| p.value).sum();
                let missing = line.points.iter().filter(|p| p.value.is_none()).count();
                (
                    line.group,
                    (known * hours_per_step, missing as f64 * hours_per_step),
                )
            })
            .collect())
    }
}

fn empty_row(group: String) -> UsageRow {
    UsageRow {
        group,
        sites: Vec::new(),
        vm_hours: 0.0,
        vcpu_hours: 0.0,
        ram_gb_hours: 0.0,
        disk_gb_hours: 0.0,
        volume_gb_hours: None,
        volume_unknown_hours: None,
    }
}

fn add_site(row: &mut UsageRow, site: &str) {
    if !row.sites.iter().any(|s| s == site) {
        row.sites.push(site.to_owned());
    }
}

/// A time as Nova's usage report takes it: UTC without a zone.
fn nova_time(t: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// The report as CSV, a line per row, unknown sites last.
pub fn to_csv(report: &UsageReport) -> String {
    let mut out = String::from(
        "group,sites,vm_hours,vcpu_hours,ram_gb_hours,disk_gb_hours,volume_gb_hours,volume_unknown_hours,unknown_reason\n",
    );
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for row in &report.rows {
        out.push_str(&format!(
            "{},{},{:.4},{:.4},{:.4},{:.4},{},{},\n",
            csv_field(&row.group),
            csv_field(&row.sites.join(" ")),
            row.vm_hours,
            row.vcpu_hours,
            row.ram_gb_hours,
            row.disk_gb_hours,
            number(row.volume_gb_hours),
            number(row.volume_unknown_hours),
        ));
    }
    for site in &report.unknown {
        out.push_str(&format!(
            "{},{},,,,,,,{}\n",
            csv_field(&site.site),
            csv_field(&site.site),
            csv_field(&site.reason)
        ));
    }
    out
}

/// A CSV field, quoted when it holds a separator, a quote or a line break; a leading
/// `=`, `+`, `-` or `@` is prefixed so spreadsheets do not run it as a formula.
fn csv_field(text: &str) -> String {
    let safe = match text.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{text}"),
        _ => text.to_owned(),
    };
    if safe.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        assert_eq!(csv_field("eu"), "eu");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }

    #[test]
    fn an_unknown_site_is_a_line_of_its_own_with_its_reason_and_no_figures() {
        let report = UsageReport {
            from: "a".into(),
            to: "b".into(),
            group_by: "site".into(),
            rows: vec![UsageRow {
                group: "site-001".into(),
                sites: vec!["site-001".into()],
                vm_hours: 2.0,
                vcpu_hours: 4.0,
                ram_gb_hours: 1.0,
                disk_gb_hours: 20.0,
                volume_gb_hours: Some(10.0),
                volume_unknown_hours: Some(0.0),
            }],
            unknown: vec![UnknownUsage {
                site: "site-002".into(),
                reason: "site unreachable: refused".into(),
            }],
        };
        let csv = to_csv(&report);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "site-001,site-001,2.0000,4.0000,1.0000,20.0000,10.0000,0.0000,"
        );
        assert_eq!(
            lines[2],
            "site-002,site-002,,,,,,,site unreachable: refused"
        );
    }

    #[test]
    fn nova_reads_utc_times_without_a_zone() {
        assert_eq!(nova_time(0), "1970-01-01T00:00:00");
    }
}
