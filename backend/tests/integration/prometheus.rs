//! `GET /metrics` for Prometheus: a bearer token is needed, the fleet's figures come out
//! labelled by site and by the site's labels, a dark site is a gap and not a zero, and
//! a scoped caller sees its own sites only.

use std::collections::BTreeMap;
use std::time::Duration;

use overcast::sim::Fault;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{eventually, spawn_app_with, start_sim, temp_dir, TestApp};

/// One sample of the text format: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Sample {
    fn site(&self) -> Option<&str> {
        self.labels.get("site").map(String::as_str)
    }
}

/// Reads the samples of a text-format answer (our label values have no `"` or `,`).
fn samples(body: &str) -> Vec<Sample> {
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label {pair} in {line}"));
                    (key.to_owned(), value.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value
                    .parse()
                    .unwrap_or_else(|e| panic!("value of {line}: {e}")),
            }
        })
        .collect()
}

fn of<'a>(all: &'a [Sample], name: &str, site: &str) -> Vec<&'a Sample> {
    all.iter()
        .filter(|s| s.name == name && s.site() == Some(site))
        .collect()
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let mut request = app.http.get(format!("{}/metrics", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("/metrics: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.text().await.unwrap_or_default(),
    )
}

async fn scraped(app: &TestApp, token: &str) -> Vec<Sample> {
    let (status, _, body) = scrape(app, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    samples(&body)
}

const SITES: [&str; 3] = ["site-001", "site-002", "site-003"];

#[tokio::test]
async fn prometheus_scrapes_the_fleet_with_gaps_for_dark_sites_and_scopes_for_scoped_tokens() {
    let sim = start_sim(3).await;
    let app = spawn_app_with(&temp_dir("prometheus"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/site-003",
            Some(json!({"labels": {"region": "us", "topology.zone": "us-1a"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for token in [None, Some("not-a-token")] {
        let (status, _, body) = scrape(&app, token).await;
        assert_eq!(status, 401, "{token:?}: {body}");
    }

    let admin = app.admin_token().await;
    let all = eventually(Duration::from_secs(30), "figures of every site", || async {
        let all = scraped(&app, &admin).await;
        SITES
            .iter()
            .all(|site| of(&all, "overcast_site_capacity_vcpus", site).len() == 1)
            .then_some(all)
    })
    .await;
    let (_, content_type, _) = scrape(&app, Some(&admin)).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    // Prometheus asks for gzip, and gets it.
    let zipped = app
        .http
        .get(format!("{}/metrics", app.url))
        .bearer_auth(&admin)
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap_or_else(|e| panic!("/metrics with gzip: {e}"));
    assert_eq!(
        zipped
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let bytes = zipped.bytes().await.unwrap_or_default();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap_or_else(|e| panic!("not gzip: {e}"));
    let unzipped = samples(&text);
    assert!(
        SITES
            .iter()
            .all(|site| of(&unzipped, "overcast_site_capacity_vcpus", site).len() == 1),
        "{text}"
    );
    assert!(
        bytes.len() * 3 < text.len(),
        "{} bytes for {}",
        bytes.len(),
        text.len()
    );
    for site in SITES {
        let vcpus = of(&all, "overcast_site_capacity_vcpus", site)[0];
        assert!(vcpus.value > 0.0, "{vcpus:?}");
        assert_eq!(of(&all, "overcast_site_up", site)[0].value, 1.0);
        assert!(
            of(&all, "overcast_site_capacity_ram_bytes", site)[0].value >= 1024.0 * 1024.0,
            "memory in bytes"
        );
        assert_eq!(
            of(&all, "overcast_site_servers", site).len(),
            4,
            "one series per status"
        );
        assert_eq!(
            of(&all, "overcast_site_state", site)
                .iter()
                .filter(|s| s.value == 1.0)
                .count(),
            1,
            "one state at a time"
        );
    }
    // The site's labels come along, as valid Prometheus labels.
    let us = of(&all, "overcast_site_capacity_vcpus", "site-003")[0];
    assert_eq!(
        us.labels.get("label_region").map(String::as_str),
        Some("us")
    );
    assert_eq!(
        us.labels.get("label_topology_zone").map(String::as_str),
        Some("us-1a")
    );
    let eu = of(&all, "overcast_site_capacity_vcpus", "site-001")[0];
    assert_eq!(
        eu.labels.get("label_region").map(String::as_str),
        Some("eu")
    );
    // The console's own families: requests by route template (never the raw path),
    // site requests and probes, collector reads, jobs.
    let has = |name: &str| all.iter().any(|s| s.name == name);
    for family in [
        "overcast_http_requests_total",
        "overcast_http_request_duration_seconds_bucket",
        "overcast_site_request_duration_seconds_bucket",
        "overcast_site_probes_total",
        "overcast_collector_reads_total",
        "overcast_collector_read_duration_seconds_count",
        "overcast_collector_write_duration_seconds_count",
        "overcast_jobs",
        "overcast_tasks",
        "overcast_sites",
    ] {
        assert!(has(family), "{family} is missing");
    }
    let routes: Vec<&str> = all
        .iter()
        .filter(|s| s.name == "overcast_http_requests_total")
        .filter_map(|s| s.labels.get("route").map(String::as_str))
        .collect();
    assert!(routes.contains(&"/api/v1/sites/{site}"), "{routes:?}");
    assert!(routes.contains(&"/metrics"), "{routes:?}");
    assert!(!routes.iter().any(|r| r.contains("site-003")), "{routes:?}");

    // A finished job is counted by kind and final state.
    let (status, job) = app
        .admin(
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"kind": "flavor.create", "targets": {"all": true},
                        "params": {"name": "prom-flavor", "vcpus": 1, "ram_mb": 512, "disk_gb": 1}})),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    eventually(
        Duration::from_secs(30),
        "the job counted as finished",
        || async {
            scraped(&app, &admin)
                .await
                .iter()
                .any(|s| {
                    s.name == "overcast_jobs_finished_total"
                        && s.labels.get("kind").map(String::as_str) == Some("flavor.create")
                        && s.labels.get("state").map(String::as_str) == Some("succeeded")
                        && s.value == 1.0
                })
                .then_some(())
        },
    )
    .await;

    // site-002 goes dark: its figures leave (a gap, not zeros), its up gauge is 0, the
    // other sites keep theirs.
    sim.set_fault("site-002", Fault::Down);
    let dark = eventually(Duration::from_secs(40), "site-002's gap", || async {
        let all = scraped(&app, &admin).await;
        (of(&all, "overcast_site_up", "site-002")
            .first()
            .is_some_and(|s| s.value == 0.0))
        .then_some(all)
    })
    .await;
    for figure in [
        "overcast_site_capacity_vcpus",
        "overcast_site_used_vcpus",
        "overcast_site_servers",
        "overcast_site_images",
    ] {
        assert!(
            of(&dark, figure, "site-002").is_empty(),
            "{figure} of a dark site must be missing: {:?}",
            of(&dark, figure, "site-002")
        );
    }
    assert!(
        !of(
            &dark,
            "overcast_site_collected_timestamp_seconds",
            "site-002"
        )
        .is_empty(),
        "when it was last read stays"
    );
    for site in ["site-001", "site-003"] {
        assert_eq!(
            of(&dark, "overcast_site_capacity_vcpus", site).len(),
            1,
            "{site}"
        );
    }

    // A viewer scoped to site-001 sees site-001's series only, and none of the families
    // that count the whole console's work.
    let scoped = app
        .user_token("prom-viewer", "viewer", json!({"sites": ["site-001"]}))
        .await;
    let seen = scraped(&app, &scoped).await;
    let sites: std::collections::BTreeSet<&str> = seen.iter().filter_map(Sample::site).collect();
    assert_eq!(sites, ["site-001"].into_iter().collect(), "{seen:?}");
    assert_eq!(
        of(&seen, "overcast_site_capacity_vcpus", "site-001").len(),
        1
    );
    assert!(!seen
        .iter()
        .any(|s| s.name.starts_with("overcast_http_")
            || s.name.starts_with("overcast_collector_reads")));
    let registered: f64 = seen
        .iter()
        .filter(|s| s.name == "overcast_sites")
        .map(|s| s.value)
        .sum();
    assert_eq!(registered, 1.0, "the counts by state are of its sites too");
    assert!(seen.iter().any(|s| s.name == "overcast_site_probes_total"));

    // A token scoped by selector: the sites its labels match.
    let (status, token) = app
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/auth/tokens",
            Some(json!({"name": "prometheus-us", "role": "viewer", "scope": {"selector": "region=us"}})),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().unwrap_or_default().to_owned();
    let seen = scraped(&app, &token).await;
    let sites: std::collections::BTreeSet<&str> = seen.iter().filter_map(Sample::site).collect();
    assert_eq!(sites, ["site-003"].into_iter().collect(), "{seen:?}");
}
