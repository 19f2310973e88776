//! What `overcast ctl` prints: aligned tables for people, JSON for scripts.

use std::io::Write;

use overcast_api_types::jobs::Job;
use overcast_api_types::{Aggregate, ImportReport, Site};
use serde::Serialize;

pub fn json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{}",
        line(header.iter().map(|h| (*h).to_owned()).collect())
    );
    for row in rows {
        let _ = writeln!(out, "{}", line(row.clone()));
    }
}

fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

pub fn sites(sites: &[Site]) {
    let rows: Vec<Vec<String>> = sites
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![
                s.name.clone(),
                format!("{:?}", s.state).to_lowercase(),
                or_dash(s.latency_ms.map(|l| format!("{l} ms"))),
                or_dash(s.region.clone()),
                labels.join(","),
                or_dash(s.last_seen.clone()),
            ]
        })
        .collect();
    table(
        &["NAME", "STATE", "LATENCY", "REGION", "LABELS", "LAST SEEN"],
        &rows,
    );
}

pub fn aggregate(answer: &Aggregate) {
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
    table(&["SITE", "ID", "NAME", "STATUS"], &rows);
    let troubled: Vec<String> = answer
        .sites
        .iter()
        .filter(|(_, a)| !a.status.is_complete())
        .map(|(site, a)| {
            format!(
                "{site}: {} {}{}",
                format!("{:?}", a.status).to_lowercase(),
                a.as_of
                    .as_deref()
                    .map(|t| format!("as of {t}"))
                    .unwrap_or_default(),
                a.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    eprintln!("{} items from {} sites", answer.total, answer.sites.len());
    for line in troubled {
        eprintln!("  {line}");
    }
}

pub fn import(report: &ImportReport) {
    println!(
        "created {}, replaced {}, skipped {}, failed {}",
        report.created.len(),
        report.replaced.len(),
        report.skipped.len(),
        report.failed.len()
    );
    for issue in report.skipped.iter().chain(&report.failed) {
        println!("  {}: {}", issue.name, issue.reason);
    }
}

fn state_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn job_list(jobs: &[Job]) {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.kind.clone(),
                state_name(&j.state),
                format!("{}/{}", j.counts.succeeded, j.counts.total),
                j.created_at.clone(),
                j.created_by.clone(),
            ]
        })
        .collect();
    table(&["ID", "KIND", "STATE", "DONE", "CREATED", "BY"], &rows);
}

pub fn job(job: &Job) {
    println!("job {} ({}): {}", job.id, job.kind, state_name(&job.state));
    if let Some(reason) = &job.stopped_reason {
        println!("  {reason}");
    }
    let rows: Vec<Vec<String>> = job
        .tasks
        .iter()
        .map(|t| {
            vec![
                t.site.clone(),
                state_name(&t.state),
                t.attempts.to_string(),
                or_dash(t.error.clone()),
            ]
        })
        .collect();
    table(&["SITE", "STATE", "ATTEMPTS", "ERROR"], &rows);
    let c = &job.counts;
    println!(
        "{} sites: {} succeeded, {} failed, {} cancelled, {} waiting for their site",
        c.total, c.succeeded, c.failed, c.cancelled, c.waiting_for_site
    );
}

/// One line, redrawn in place: `[#######-----] 12/50  ok 10  failed 0  waiting 2`.
pub fn progress(job: &Job) {
    const WIDTH: u32 = 30;
    let c = &job.counts;
    let filled = (c.finished() * WIDTH).checked_div(c.total).unwrap_or(0) as usize;
    let bar = format!(
        "{}{}",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled)
    );
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{bar}] {}/{}  ok {}  failed {}  waiting {}  running {} ",
        c.finished(),
        c.total,
        c.succeeded,
        c.failed,
        c.waiting_for_site,
        c.running
    );
    let _ = err.flush();
}
