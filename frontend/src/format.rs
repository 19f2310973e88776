//! How times, sizes and labels read on screen.

use std::collections::BTreeMap;

use overcast_api_types::jobs::{Targets, TaskCounts};
use serde_json::Value;

/// How long ago (or how far ahead) `then_ms` is from `now_ms`, both milliseconds since
/// the epoch: "12 s ago", "5 min ago", "3 h ago", "4 days ago", "in 30 s".
pub fn relative(then_ms: f64, now_ms: f64) -> String {
    let seconds = ((now_ms - then_ms) / 1000.0).round() as i64;
    let (amount, ahead) = (seconds.unsigned_abs(), seconds < 0);
    let span = match amount {
        0..=4 if !ahead => return "just now".into(),
        0..=59 => format!("{amount} s"),
        60..=3599 => format!("{} min", amount / 60),
        3600..=172_799 => format!("{} h", amount / 3600),
        _ => format!("{} days", amount / 86_400),
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// Milliseconds since the epoch of an RFC 3339 time, if it is one.
pub fn epoch_ms(rfc3339: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(rfc3339);
    (!ms.is_nan()).then_some(ms)
}

/// The exact time in the reader's own time zone and locale, with the zone named.
pub fn local_time(rfc3339: &str) -> String {
    if epoch_ms(rfc3339).is_none() {
        return rfc3339.to_owned();
    }
    let date = js_sys::Date::new(&rfc3339.into());
    let options = js_sys::Object::new();
    for (key, value) in [("dateStyle", "medium"), ("timeStyle", "long")] {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    }
    date.to_locale_string("default", &options).into()
}

pub fn labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `k=v, k2=v2` as typed into a form.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                labels.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => return Err(format!("“{pair}” is not key=value")),
        }
    }
    Ok(labels)
}

/// Services a site offers with their API versions: `compute 2.1-2.100, identity`.
pub fn capabilities(capabilities: &BTreeMap<String, String>) -> String {
    capabilities
        .iter()
        .map(|(service, version)| format!("{service} {version}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a, b,,c ` as `["a", "b", "c"]`.
pub fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sites as a person types them: nothing for every site, `key=value,…` for a label
/// selector, otherwise site names.
pub fn typed_sites(text: &str) -> Option<Targets> {
    let text = text.trim();
    if text.is_empty() {
        None
    } else if text.contains('=') {
        Some(Targets {
            selector: Some(text.to_owned()),
            ..Default::default()
        })
    } else {
        Some(Targets {
            sites: Some(comma_list(text)),
            ..Default::default()
        })
    }
}

/// A site selection (a job's targets, a user's scope) in words.
pub fn sites_text(targets: &Targets) -> String {
    match (&targets.sites, &targets.selector) {
        (Some(sites), _) => sites.join(", "),
        (_, Some(selector)) => format!("sites with {selector}"),
        _ => "every site".into(),
    }
}

/// A size in bytes in binary units: "512 B", "1.0 MiB", "2 GiB".
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
    // Whole numbers read as such (flavors' RAM); others keep one decimal.
    if value.fract() == 0.0 && value >= 2.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn latency(ms: Option<u64>) -> String {
    ms.map(|ms| format!("{ms} ms"))
        .unwrap_or_else(|| "–".into())
}

/// RAM given in MB (as Nova gives it): `512 MB`, `2 GB`, `1.5 GB`.
pub fn megabytes(mb: u64) -> String {
    if mb < 1024 {
        format!("{mb} MB")
    } else if mb.is_multiple_of(1024) {
        format!("{} GB", mb / 1024)
    } else {
        format!("{:.1} GB", mb as f64 / 1024.0)
    }
}

/// A quota limit: -1 (or any negative) is `unlimited`.
pub fn limit(value: i64) -> String {
    if value < 0 {
        "unlimited".into()
    } else {
        value.to_string()
    }
}

/// What a quota key of a service means, in words: `cores` is `vCPUs`, Cinder's
/// per-type `gigabytes_lvmdriver-1` is `Volume storage (GB), type lvmdriver-1`.
pub fn quota_name(service: &str, key: &str) -> String {
    let known = match (service, key) {
        ("compute", "instances") => "Servers",
        ("compute", "cores") => "vCPUs",
        ("compute", "ram") => "RAM (MB)",
        ("compute", "key_pairs") => "Key pairs",
        ("compute", "metadata_items") => "Metadata items per server",
        ("compute", "server_groups") => "Server groups",
        ("compute", "server_group_members") => "Servers per server group",
        ("compute", "injected_files") => "Injected files",
        ("compute", "injected_file_content_bytes") => "Injected file size (bytes)",
        ("compute", "injected_file_path_bytes") => "Injected file path length",
        ("compute", "fixed_ips") => "Fixed IPs",
        ("compute", "floating_ips") => "Floating IPs",
        ("compute", "security_groups") => "Security groups",
        ("compute", "security_group_rules") => "Security group rules",
        ("compute", "networks") => "Networks",
        ("network", "network") => "Networks",
        ("network", "subnet") => "Subnets",
        ("network", "port") => "Ports",
        ("network", "router") => "Routers",
        ("network", "floatingip") => "Floating IPs",
        ("network", "security_group") => "Security groups",
        ("network", "security_group_rule") => "Security group rules",
        ("network", "rbac_policy") => "RBAC policies",
        ("network", "subnetpool") => "Subnet pools",
        ("network", "trunk") => "Trunks",
        ("volume", "volumes") => "Volumes",
        ("volume", "gigabytes") => "Volume storage (GB)",
        ("volume", "snapshots") => "Snapshots",
        ("volume", "backups") => "Backups",
        ("volume", "backup_gigabytes") => "Backup storage (GB)",
        ("volume", "per_volume_gigabytes") => "Largest volume (GB)",
        ("volume", "groups") => "Volume groups",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    // Cinder repeats some limits per volume type: `volumes_{type}`.
    if service == "volume" {
        for base in ["volumes", "gigabytes", "snapshots"] {
            if let Some(kind) = key.strip_prefix(base).and_then(|k| k.strip_prefix('_')) {
                let kind = kind.trim_matches('_');
                return format!("{}, type {kind}", quota_name(service, base));
            }
        }
    }
    let words = key.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// Per cent of `total` that `used` is, 0 to 100 (0 for an unknown or empty total).
pub fn percent(used: u64, total: u64) -> u8 {
    if total == 0 {
        0
    } else {
        ((used as f64 / total as f64) * 100.0).round().min(100.0) as u8
    }
}

/// A JSON value as table text.
pub fn json_text(value: &Value) -> String {
    match value {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", json_text(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// How long something took, from milliseconds: "0.4 s", "42 s", "3 min 5 s", "2 h 10 min",
/// "3 days 4 h". A negative span (clocks apart) reads as no time at all.
pub fn duration(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 10_000.0 {
        return format!("{:.1} s", ms / 1000.0);
    }
    let seconds = (ms / 1000.0).round() as u64;
    let pair = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    };
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => pair(seconds / 60, "min", seconds % 60, "s"),
        3600..=86_399 => pair(seconds / 3600, "h", seconds % 3600 / 60, "min"),
        _ => {
            let days = seconds / 86_400;
            let unit = if days == 1 { "day" } else { "days" };
            pair(days, unit, seconds % 86_400 / 3600, "h")
        }
    }
}

/// A job's tasks by outcome, in the order the page shows them: (CSS name, words, count).
/// Every state is there, so the counts add up to the total.
pub fn outcomes(counts: &TaskCounts) -> [(&'static str, &'static str, u32); 6] {
    [
        ("succeeded", "succeeded", counts.succeeded),
        ("failed", "failed", counts.failed),
        ("cancelled", "cancelled", counts.cancelled),
        ("waiting", "waiting for site", counts.waiting_for_site),
        ("running", "running", counts.running),
        ("pending", "pending", counts.pending),
    ]
}

/// A job's sites by outcome in words, leaving out what is zero but always adding up to
/// the total: "3 succeeded · 1 failed · 2 cancelled of 6 sites".
pub fn counts_text(counts: &TaskCounts) -> String {
    let parts: Vec<String> = outcomes(counts)
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(_, words, n)| format!("{n} {words}"))
        .collect();
    let sites = match counts.total {
        1 => "1 site".to_owned(),
        n => format!("{n} sites"),
    };
    if parts.is_empty() {
        sites
    } else {
        format!("{} of {sites}", parts.join(" · "))
    }
}

/// A job's parameters on one line: the name first, then the others by key, nested keys
/// dotted, long values shortened: "name=m1.small, disk_gb=20, ram_mb=2048, vcpus=2".
pub fn params_summary(params: &Value) -> String {
    fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let key = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    flatten(&key, inner, out);
                }
            }
            other => {
                let text = json_text(other);
                let short = if text.chars().count() > 24 {
                    format!("{}…", text.chars().take(23).collect::<String>())
                } else {
                    text
                };
                out.push((prefix.to_owned(), short));
            }
        }
    }
    let mut pairs = Vec::new();
    flatten("", params, &mut pairs);
    pairs.sort_by_key(|(key, _)| key != "name");
    match pairs.as_slice() {
        [] => "–".into(),
        [(key, value)] if key.is_empty() => value.clone(),
        _ => pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Why a rollout stopped, said once: the engine's reasons start with "stopped: " (a
/// failed canary, too many failures) or "cancelled by " (a person).
pub fn stop_text(reason: &str) -> String {
    match reason.strip_prefix("stopped: ") {
        Some(why) => format!("Rollout stopped: {why}."),
        None => match reason.strip_prefix("cancelled by ") {
            Some(who) => format!("Rollout stopped: cancelled by {who}."),
            None => format!("Rollout stopped: {reason}."),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_typed_into_a_form_parse_or_say_what_is_wrong() {
        let parsed = parse_labels(" region=eu , tier=edge,");
        assert_eq!(
            parsed.map(|l| labels(&l)),
            Ok("region=eu, tier=edge".to_owned())
        );
        assert_eq!(parse_labels(""), Ok(BTreeMap::new()));
        assert_eq!(
            parse_labels("region"),
            Err("“region” is not key=value".to_owned())
        );
        assert!(parse_labels("=eu").is_err());
    }

    #[test]
    fn typed_sites_are_names_or_a_selector() {
        assert_eq!(typed_sites("  "), None);
        let names = typed_sites("site-001, ,site-002").unwrap_or_default();
        assert_eq!(
            names.sites,
            Some(vec!["site-001".into(), "site-002".into()])
        );
        assert_eq!(sites_text(&names), "site-001, site-002");
        let selector = typed_sites(" tier=edge,region!=eu ").unwrap_or_default();
        assert_eq!(selector.selector.as_deref(), Some("tier=edge,region!=eu"));
        assert_eq!(sites_text(&selector), "sites with tier=edge,region!=eu");
        assert_eq!(sites_text(&Targets::default()), "every site");
    }

    #[test]
    fn times_read_relative_to_now_both_ways() {
        let now = 1_000_000_000_000.0;
        let ago = |seconds: f64| relative(now - seconds * 1000.0, now);
        assert_eq!(ago(2.0), "just now");
        assert_eq!(ago(42.0), "42 s ago");
        assert_eq!(ago(3.0 * 60.0 + 10.0), "3 min ago");
        assert_eq!(ago(5.0 * 3600.0), "5 h ago");
        assert_eq!(ago(3.0 * 86_400.0), "3 days ago");
        assert_eq!(ago(-30.0), "in 30 s");
        assert_eq!(ago(-7200.0), "in 2 h");
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_048_576), "1.0 MiB");
        assert_eq!(bytes(1_572_864), "1.5 MiB");
        assert_eq!(bytes(4 * 1024 * 1024 * 1024), "4 GiB");
        assert_eq!(bytes(u64::MAX), "16384 PiB");
    }

    #[test]
    fn json_reads_as_table_text() {
        let value =
            serde_json::json!({"name": "m1", "public": true, "nets": ["a", "b"], "gone": null});
        assert_eq!(
            json_text(&value),
            "gone: –; name: m1; nets: a, b; public: yes"
        );
    }

    #[test]
    fn sizes_and_limits_read_as_people_say_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(13_107_200), "12.5 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3 GiB");
        assert_eq!(megabytes(512), "512 MB");
        assert_eq!(megabytes(2048), "2 GB");
        assert_eq!(megabytes(1536), "1.5 GB");
        assert_eq!(limit(-1), "unlimited");
        assert_eq!(limit(20), "20");
        assert_eq!(percent(3, 8), 38);
        assert_eq!(percent(9, 8), 100);
        assert_eq!(percent(1, 0), 0);
    }

    #[test]
    fn quota_keys_have_human_names() {
        assert_eq!(quota_name("compute", "cores"), "vCPUs");
        assert_eq!(quota_name("compute", "instances"), "Servers");
        assert_eq!(quota_name("network", "floatingip"), "Floating IPs");
        assert_eq!(quota_name("volume", "gigabytes"), "Volume storage (GB)");
        assert_eq!(
            quota_name("volume", "gigabytes___DEFAULT__"),
            "Volume storage (GB), type DEFAULT"
        );
        assert_eq!(
            quota_name("volume", "volumes_lvmdriver-1"),
            "Volumes, type lvmdriver-1"
        );
        assert_eq!(quota_name("network", "new_thing"), "New thing");
    }

    #[test]
    fn capabilities_without_a_version_have_no_trailing_space() {
        let caps = BTreeMap::from([
            ("compute".to_owned(), "2.1-2.100".to_owned()),
            ("identity".to_owned(), String::new()),
        ]);
        assert_eq!(capabilities(&caps), "compute 2.1-2.100, identity");
    }

    #[test]
    fn durations_read_in_the_two_largest_units() {
        assert_eq!(duration(420.0), "0.4 s");
        assert_eq!(duration(9_949.0), "9.9 s");
        assert_eq!(duration(42_000.0), "42 s");
        assert_eq!(duration(60_000.0), "1 min");
        assert_eq!(duration(185_000.0), "3 min 5 s");
        assert_eq!(duration(2.0 * 3_600_000.0 + 600_000.0), "2 h 10 min");
        assert_eq!(duration(86_400_000.0), "1 day");
        assert_eq!(
            duration(3.0 * 86_400_000.0 + 4.0 * 3_600_000.0),
            "3 days 4 h"
        );
        assert_eq!(duration(-5.0), "0.0 s");
        assert_eq!(duration(f64::NAN), "0.0 s");
    }

    #[test]
    fn job_counts_add_up_with_cancelled_and_waiting_included() {
        let mut counts = TaskCounts::default();
        use overcast_api_types::jobs::TaskState::*;
        for state in [
            Succeeded,
            Succeeded,
            Failed,
            Cancelled,
            Cancelled,
            WaitingForSite,
            Pending,
        ] {
            counts.add(state);
        }
        assert_eq!(
            counts_text(&counts),
            "2 succeeded · 1 failed · 2 cancelled · 1 waiting for site · 1 pending of 7 sites"
        );
        let sum: u32 = outcomes(&counts).iter().map(|(_, _, n)| n).sum();
        assert_eq!(sum, counts.total);
        assert_eq!(counts_text(&TaskCounts::default()), "0 sites");
        let mut one = TaskCounts::default();
        one.add(Running);
        assert_eq!(counts_text(&one), "1 running of 1 site");
    }

    #[test]
    fn parameters_summarise_on_one_line_name_first() {
        let flavor =
            serde_json::json!({"vcpus": 2, "name": "m1.small", "ram_mb": 2048, "disk_gb": 20});
        assert_eq!(
            params_summary(&flavor),
            "name=m1.small, disk_gb=20, ram_mb=2048, vcpus=2"
        );
        let quota = serde_json::json!({"project": "ci", "compute": {"cores": 8}});
        assert_eq!(params_summary(&quota), "compute.cores=8, project=ci");
        let key =
            serde_json::json!({"name": "k", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"});
        assert_eq!(
            params_summary(&key),
            "name=k, public_key=ssh-ed25519 AAAAC3NzaC1…"
        );
        assert_eq!(params_summary(&serde_json::json!({})), "–");
        assert_eq!(params_summary(&Value::Null), "–");
    }

    #[test]
    fn a_stopped_rollout_says_stopped_once() {
        assert_eq!(
            stop_text("stopped: canary site site-001 failed: no such project"),
            "Rollout stopped: canary site site-001 failed: no such project."
        );
        assert_eq!(
            stop_text("cancelled by admin"),
            "Rollout stopped: cancelled by admin."
        );
        assert_eq!(
            stop_text("the console shut down"),
            "Rollout stopped: the console shut down."
        );
        for reason in ["stopped: 3 sites failed", "cancelled by vera"] {
            assert_eq!(stop_text(reason).matches("stopped").count(), 1);
        }
    }
}
