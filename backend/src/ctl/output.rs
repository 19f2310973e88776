//! What `overcast ctl` prints: aligned tables for people, JSON for scripts.
//!
//! Table output is built as text by pure functions (the clock passed in), so that
//! what a person reads is unit-tested; the `print_*` wrappers only write it out.

use std::fmt::Write as _;
use std::io::Write;

use overcast_api_types::jobs::Job;
use overcast_api_types::{Aggregate, ImportReport, Site, SiteAnswerStatus};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub fn json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// How times are shown: the API's RFC 3339 (with nanoseconds) is exact but hard to read.
#[derive(Debug, Clone, Copy)]
pub enum Times {
    /// UTC, to the second: `2026-12-01T18:13:20Z` (`--output table`).
    Absolute,
    /// Relative to `now`: `3 min ago`, `in 2 h` (`--output wide`).
    Relative { now: OffsetDateTime },
}

impl Times {
    /// A time from the API, for people. Text that is not RFC 3339 is shown as it is,
    /// since a console of another version may send something ctl does not expect.
    pub fn show(&self, text: &str) -> String {
        let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) else {
            return text.to_owned();
        };
        match self {
            Times::Absolute => {
                let utc = at.to_offset(UtcOffset::UTC);
                utc.replace_nanosecond(0)
                    .unwrap_or(utc)
                    .format(&Rfc3339)
                    .unwrap_or_else(|_| text.to_owned())
            }
            Times::Relative { now } => relative(*now - at),
        }
    }

    fn show_opt(&self, text: Option<&str>) -> String {
        text.map_or_else(|| "-".to_owned(), |t| self.show(t))
    }
}

/// `elapsed` (now minus the time) as `12 s ago`, `3 min ago`, `5 h ago`, `4 days ago`,
/// or `in …` for a time still to come; whole units, rounded down.
fn relative(elapsed: time::Duration) -> String {
    let seconds = elapsed.whole_seconds();
    if seconds.abs() < 1 {
        return "just now".to_owned();
    }
    let magnitude = seconds.unsigned_abs();
    let amount = match magnitude {
        0..=59 => format!("{magnitude} s"),
        60..=3_599 => format!("{} min", magnitude / 60),
        3_600..=172_799 => format!("{} h", magnitude / 3_600),
        _ => format!("{} days", magnitude / 86_400),
    };
    if seconds > 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// How table output looks: the times, and whether the wide columns are shown.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub times: Times,
    pub wide: bool,
}

/// Rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// Writes text to standard output; a closed pipe (`| head`) is not an error worth a panic.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `1 site`, `2 sites`.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn labels_text(site: &Site) -> String {
    let labels: Vec<String> = site
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.join(",")
}

pub fn sites(sites: &[Site], style: Style) -> String {
    let mut header = vec!["NAME", "STATE", "LATENCY", "REGION", "LABELS", "LAST SEEN"];
    if style.wide {
        header.push("REASON");
    }
    let rows: Vec<Vec<String>> = sites
        .iter()
        .map(|s| {
            let mut row = vec![
                s.name.clone(),
                s.state.as_str().to_owned(),
                or_dash(s.latency_ms.map(|l| format!("{l} ms"))),
                or_dash(s.region.clone()),
                labels_text(s),
                style.times.show_opt(s.last_seen.as_deref()),
            ];
            if style.wide {
                row.push(or_dash(s.state_reason.clone()));
            }
            row
        })
        .collect();
    table(&header, &rows)
}

/// Every field of one site, one per line, then its services: what `sites show` prints.
pub fn site(site: &Site, style: Style) -> String {
    let times = style.times;
    let labels = if site.labels.is_empty() {
        "-".to_owned()
    } else {
        labels_text(site)
    };
    let fields = [
        ("name", site.name.clone()),
        ("state", site.state.as_str().to_owned()),
        ("last error", or_dash(site.state_reason.clone())),
        ("last seen", times.show_opt(site.last_seen.as_deref())),
        (
            "latency",
            or_dash(site.latency_ms.map(|l| format!("{l} ms"))),
        ),
        ("auth url", site.auth_url.clone()),
        ("region", or_dash(site.region.clone())),
        ("interface", site.interface.clone()),
        ("labels", labels),
        (
            "tls",
            if site.insecure {
                "insecure (certificates not checked)".to_owned()
            } else {
                "verified".to_owned()
            },
        ),
        ("registered", times.show(&site.created_at)),
    ];
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (key, value) in fields {
        let _ = writeln!(out, "{:<width$} {value}", format!("{key}:"));
    }
    if site.capabilities.is_empty() {
        out.push_str("services: none known yet (the first full health check reads them)\n");
    } else {
        out.push_str("services:\n");
        let rows: Vec<Vec<String>> = site
            .capabilities
            .iter()
            .map(|(service, version)| {
                let version = if version.is_empty() { "-" } else { version };
                vec![format!("  {service}"), version.to_owned()]
            })
            .collect();
        // Versions where the site says them (compute's microversions), else what else
        // is known of the service (network: auto-allocation).
        out.push_str(&table(&["  SERVICE", "DETAIL"], &rows));
    }
    out
}

/// A site's labels after `sites label`.
pub fn labels(site: &Site) -> String {
    if site.labels.is_empty() {
        format!("{}: no labels\n", site.name)
    } else {
        format!("{}: {}\n", site.name, labels_text(site))
    }
}

pub fn aggregate(answer: &Aggregate) -> String {
    let text = |item: &serde_json::Value, key: &str| item[key].as_str().unwrap_or("-").to_owned();
    let rows: Vec<Vec<String>> = answer
        .items
        .iter()
        .map(|item| {
            vec![
                text(item, "site"),
                text(item, "id"),
                text(item, "name"),
                text(item, "status"),
            ]
        })
        .collect();
    table(&["SITE", "ID", "NAME", "STATUS"], &rows)
}

/// How many sites answered a multi-site list, and what became of the others: written to
/// standard error so that standard output stays the table.
pub fn aggregate_summary(answer: &Aggregate, times: Times) -> String {
    let targeted = answer.sites.len();
    let answered = answer
        .sites
        .values()
        .filter(|a| a.status.is_complete())
        .count();
    let shown = if answer.items.len() < answer.total {
        format!("{} of {}", answer.items.len(), plural(answer.total, "item"))
    } else {
        plural(answer.total, "item")
    };
    let mut out = if targeted == 0 {
        format!("{shown}; no site was targeted (none registered, or none matches)\n")
    } else if answered == targeted {
        format!(
            "{shown}; {answered} of {} answered\n",
            plural(targeted, "site")
        )
    } else {
        format!(
            "{shown}; {answered} of {} answered, {} did not\n",
            plural(targeted, "site"),
            targeted - answered
        )
    };
    for (site, a) in &answer.sites {
        let status = match a.status {
            SiteAnswerStatus::Ok => continue,
            SiteAnswerStatus::NotOffered => "does not offer this service".to_owned(),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        let as_of = a
            .as_of
            .as_deref()
            .filter(|_| a.status == SiteAnswerStatus::Stale)
            .map(|t| format!(" as of {}", times.show(t)))
            .unwrap_or_default();
        let error = a
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {site}: {status}{as_of}{error}");
    }
    out
}

pub fn import(report: &ImportReport) -> String {
    let mut out = format!(
        "created {}, replaced {}, skipped {}, failed {}\n",
        report.created.len(),
        report.replaced.len(),
        report.skipped.len(),
        report.failed.len()
    );
    for issue in report.skipped.iter().chain(&report.failed) {
        let _ = writeln!(out, "  {}: {}", issue.name, issue.reason);
    }
    out
}

fn state_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn job_list(jobs: &[Job], style: Style) -> String {
    let mut header = vec!["ID", "KIND", "STATE", "DONE", "CREATED", "BY"];
    if style.wide {
        header.extend(["FINISHED", "EXPIRES"]);
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let mut row = vec![
                j.id.clone(),
                j.kind.clone(),
                state_name(&j.state),
                format!("{}/{}", j.counts.succeeded, j.counts.total),
                style.times.show(&j.created_at),
                j.created_by.clone(),
            ];
            if style.wide {
                row.push(style.times.show_opt(j.finished_at.as_deref()));
                row.push(style.times.show(&j.expires_at));
            }
            row
        })
        .collect();
    table(&header, &rows)
}

pub fn job(job: &Job, style: Style) -> String {
    let times = style.times;
    let mut out = format!(
        "job {} ({}): {}\n  created {} by {}{}\n",
        job.id,
        job.kind,
        state_name(&job.state),
        times.show(&job.created_at),
        job.created_by,
        job.finished_at
            .as_deref()
            .map(|t| format!(", finished {}", times.show(t)))
            .unwrap_or_default()
    );
    if let Some(reason) = &job.stopped_reason {
        let _ = writeln!(out, "  {reason}");
    }
    let mut header = vec!["SITE", "STATE", "ATTEMPTS", "ERROR"];
    if style.wide {
        header.extend(["STARTED", "FINISHED", "NEXT ATTEMPT"]);
    }
    let rows: Vec<Vec<String>> = job
        .tasks
        .iter()
        .map(|t| {
            let mut row = vec![
                t.site.clone(),
                state_name(&t.state),
                t.attempts.to_string(),
                or_dash(t.error.clone()),
            ];
            if style.wide {
                row.push(times.show_opt(t.started_at.as_deref()));
                row.push(times.show_opt(t.finished_at.as_deref()));
                row.push(times.show_opt(t.next_attempt_at.as_deref()));
            }
            row
        })
        .collect();
    out.push_str(&table(&header, &rows));
    let c = &job.counts;
    let _ = writeln!(
        out,
        "{} sites: {} succeeded, {} failed, {} cancelled, {} waiting for their site",
        c.total, c.succeeded, c.failed, c.cancelled, c.waiting_for_site
    );
    out
}

/// The job's bar, then one line per transfer under way, redrawn in place:
/// `[#######-----] 12/50  ok 10  failed 0  waiting 2` and
/// `  site-004 [####------] 12.0 MiB of 40.0 MiB  2.0 MiB/s  14 s left`.
/// `drawn` is how many lines the last call drew; the answer is how many this one did.
pub fn progress(job: &Job, drawn: usize) -> usize {
    let c = &job.counts;
    let mut lines = vec![format!(
        "{} {}/{}  ok {}  failed {}  waiting {}  running {}",
        bar(c.finished(), c.total),
        c.finished(),
        c.total,
        c.succeeded,
        c.failed,
        c.waiting_for_site,
        c.running
    )];
    lines.extend(job.tasks.iter().filter_map(transfer_line));
    let mut err = std::io::stderr().lock();
    // Back to the first line drawn last time, then each line cleared and drawn again.
    if drawn > 1 {
        let _ = write!(err, "\x1b[{}A", drawn - 1);
    }
    let _ = write!(err, "\r");
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            let _ = writeln!(err);
        }
        let _ = write!(err, "\x1b[2K{line}");
    }
    let _ = err.flush();
    lines.len()
}

fn bar(done: u32, total: u32) -> String {
    const WIDTH: u32 = 30;
    let filled = (done.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
    format!(
        "[{}{}]",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled)
    )
}

/// A task's transfer, if it is moving bytes now.
fn transfer_line(task: &overcast_api_types::jobs::Task) -> Option<String> {
    let overcast_api_types::jobs::Progress::Transfer(t) = task.progress else {
        return None;
    };
    let mut line = format!(
        "  {} {} {}",
        task.site,
        bar(u32::from(t.percent), 100),
        bytes(t.bytes_done)
    );
    if let Some(total) = t.bytes_total {
        line.push_str(&format!(" of {}", bytes(total)));
    }
    if t.bytes_per_s > 0 {
        line.push_str(&format!("  {}/s", bytes(t.bytes_per_s)));
    }
    if let Some(eta) = t.eta_s {
        line.push_str(&format!("  {eta} s left"));
    }
    Some(line)
}

/// Bytes in binary units, one decimal: `12.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The catalog: one line per content, with its sites (a stale one marked `~`).
pub fn catalog(catalog: &overcast_api_types::images::ImageCatalog, style: Style) -> String {
    let header = ["NAME", "SIZE", "SHA512", "SITES", "HELD BY"];
    let rows: Vec<Vec<String>> = catalog
        .items
        .iter()
        .map(|entry| {
            let holders: Vec<String> = entry
                .sites
                .iter()
                .map(|s| match (&s.stale_since, s.status.as_str()) {
                    (Some(_), _) => format!("{}~", s.site),
                    (None, "active") => s.site.clone(),
                    (None, status) => format!("{} ({status})", s.site),
                })
                .collect();
            vec![
                entry.name.clone().unwrap_or_else(|| "-".into()),
                entry.size.map(bytes).unwrap_or_else(|| "-".into()),
                entry
                    .sha512
                    .as_deref()
                    .map(|h| {
                        if style.wide {
                            h.to_owned()
                        } else {
                            h.chars().take(12).collect()
                        }
                    })
                    .unwrap_or_else(|| "(no data)".into()),
                entry.sites.len().to_string(),
                holders.join(","),
            ]
        })
        .collect();
    let mut out = table(&header, &rows);
    if catalog
        .items
        .iter()
        .any(|e| e.sites.iter().any(|s| s.stale_since.is_some()))
    {
        out.push_str("~ last known: the site did not answer\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use overcast_api_types::{SiteAnswer, SiteState};

    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn absolute_times_are_utc_to_the_second() {
        let times = Times::Absolute;
        assert_eq!(
            times.show("2026-12-01T18:13:20.123456789Z"),
            "2026-12-01T18:13:20Z"
        );
        assert_eq!(
            times.show("2026-12-01T19:13:20.5+01:00"),
            "2026-12-01T18:13:20Z"
        );
        assert_eq!(times.show("2026-12-01T18:13:20Z"), "2026-12-01T18:13:20Z");
        assert_eq!(times.show("yesterday"), "yesterday", "unknown text is kept");
    }

    #[test]
    fn relative_times_count_whole_units_from_the_given_clock() {
        let times = Times::Relative {
            now: at("2026-12-01T18:13:20Z"),
        };
        for (time, shown) in [
            ("2026-12-01T18:13:20.400Z", "just now"),
            ("2026-12-01T18:13:08.999Z", "11 s ago"),
            ("2026-12-01T18:10:20Z", "3 min ago"),
            ("2026-12-01T17:13:21Z", "59 min ago"),
            ("2026-12-01T13:13:20Z", "5 h ago"),
            ("2026-11-27T18:13:20Z", "4 days ago"),
            ("2026-12-01T20:13:20Z", "in 2 h"),
            ("2026-12-01T18:13:50Z", "in 30 s"),
        ] {
            assert_eq!(times.show(time), shown, "{time}");
        }
    }

    fn a_site() -> Site {
        Site {
            name: "site-007".into(),
            auth_url: "http://127.0.0.1:9000/site-007/identity/v3".into(),
            region: Some("RegionOne".into()),
            interface: "public".into(),
            labels: BTreeMap::from([
                ("region".into(), "eu".into()),
                ("tier".into(), "edge".into()),
            ]),
            state: SiteState::Degraded,
            state_reason: Some("not answering: compute (connection refused)".into()),
            last_seen: Some("2026-12-01T18:10:20.987654321Z".into()),
            latency_ms: Some(21),
            capabilities: BTreeMap::from([
                ("compute".into(), "2.1-2.96".into()),
                ("identity".into(), "3.14".into()),
            ]),
            insecure: false,
            created_at: "2026-11-30T08:00:00.000000001Z".into(),
        }
    }

    #[test]
    fn site_show_prints_every_field_of_the_site() {
        let site = a_site();
        let style = Style {
            times: Times::Absolute,
            wide: false,
        };
        let text = super::site(&site, style);
        for expected in [
            "site-007",
            "state:      degraded\n",
            "last error: not answering: compute (connection refused)",
            "2026-12-01T18:10:20Z",
            "21 ms",
            "http://127.0.0.1:9000/site-007/identity/v3",
            "RegionOne",
            "public",
            "region=eu,tier=edge",
            "verified",
            "2026-11-30T08:00:00Z",
            "compute",
            "2.1-2.96",
            "identity",
            "3.14",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        // A field added to `Site` must be added here too: the serialized site's fields
        // are the ones the text is checked for.
        let shown_as = |field: &str| match field {
            "name" | "region" | "interface" | "labels" | "state" => field.to_owned(),
            "state_reason" => "last error".into(),
            "last_seen" => "last seen".into(),
            "latency_ms" => "latency".into(),
            "auth_url" => "auth url".into(),
            "insecure" => "tls".into(),
            "created_at" => "registered".into(),
            "capabilities" => "services".into(),
            other => panic!("sites show does not print the field {other}"),
        };
        for field in serde_json::to_value(&site)
            .unwrap_or_default()
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
        {
            let label = shown_as(field);
            assert!(text.contains(&format!("{label}:")), "{label}\n{text}");
        }
        assert!(!text.contains(".987"), "no nanoseconds:\n{text}");
    }

    #[test]
    fn wide_tables_show_relative_times_and_the_state_reason() {
        let style = Style {
            times: Times::Relative {
                now: at("2026-12-01T18:13:20Z"),
            },
            wide: true,
        };
        let text = sites(&[a_site()], style);
        // Seen at 18:10:20.98, 2 min 59 s before: whole minutes, rounded down.
        assert!(text.contains("2 min ago"), "{text}");
        assert!(text.contains("REASON"), "{text}");
        assert!(text.contains("not answering: compute"), "{text}");
        let narrow = sites(
            &[a_site()],
            Style {
                times: Times::Absolute,
                wide: false,
            },
        );
        assert!(narrow.contains("2026-12-01T18:10:20Z"), "{narrow}");
        assert!(!narrow.contains("REASON"), "{narrow}");
    }

    #[test]
    fn the_summary_counts_the_sites_that_answered_and_names_the_others() {
        let answer = |status, as_of: Option<&str>, error: Option<&str>| SiteAnswer {
            status,
            latency_ms: None,
            as_of: as_of.map(str::to_owned),
            error: error.map(str::to_owned),
        };
        let aggregate = Aggregate {
            items: vec![serde_json::json!({"site": "site-001", "id": "n1", "name": "net"})],
            sites: BTreeMap::from([
                ("site-001".into(), answer(SiteAnswerStatus::Ok, None, None)),
                (
                    "site-002".into(),
                    answer(
                        SiteAnswerStatus::Stale,
                        Some("2026-12-01T18:10:20.5Z"),
                        Some("connection refused"),
                    ),
                ),
                (
                    "site-003".into(),
                    answer(SiteAnswerStatus::NotOffered, None, None),
                ),
                (
                    "site-004".into(),
                    answer(SiteAnswerStatus::Unreachable, None, Some("timed out")),
                ),
            ]),
            total: 1,
        };
        let text = aggregate_summary(&aggregate, Times::Absolute);
        assert_eq!(
            text,
            "1 item; 2 of 4 sites answered, 2 did not\n  \
             site-002: stale as of 2026-12-01T18:10:20Z (connection refused)\n  \
             site-003: does not offer this service\n  \
             site-004: unreachable (timed out)\n"
        );
        let all = Aggregate {
            sites: BTreeMap::from([("site-001".into(), answer(SiteAnswerStatus::Ok, None, None))]),
            ..aggregate
        };
        assert_eq!(
            aggregate_summary(&all, Times::Absolute),
            "1 item; 1 of 1 site answered\n"
        );
    }
}
