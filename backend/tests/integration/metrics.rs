//! Metrics collected from the sites: figures, gaps that are no zeros, rollups that
//! outlive a restart, totals per label, and scoped callers who see only their sites.

use std::time::Duration;

use overcast::sim::Fault;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with, start_sim, temp_dir, TestApp};

/// A console that reads each site every second.
async fn console(data_dir: &std::path::Path) -> TestApp {
    spawn_app_with(data_dir, |args| args.metrics_interval_s = Some(1)).await
}

fn site<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["sites"]
        .as_array()
        .and_then(|sites| sites.iter().find(|s| s["site"] == name))
        .unwrap_or(&Value::Null)
}

async fn summary(app: &TestApp, query: &str) -> Value {
    let (status, body) = app
        .admin(
            Method::GET,
            &format!("/api/v1/metrics/summary{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn every_site_is_collected_and_a_dark_one_is_a_gap_not_a_zero() {
    let sim = start_sim(3).await;
    let data_dir = temp_dir("metrics");
    let app = console(&data_dir).await;
    app.register_all(&sim).await;
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/site-003",
            Some(json!({"labels": {"region": "us"}})),
        )
        .await;
    assert_eq!(status, 200);

    let all_fresh = eventually(Duration::from_secs(30), "every site collected", || async {
        let body = summary(&app, "?group_by=region").await;
        (body["sites_reporting"] == 3).then_some(body)
    })
    .await;
    for name in ["site-001", "site-002", "site-003"] {
        let row = site(&all_fresh, name);
        assert_eq!(row["fresh"], true, "{row}");
        assert!(
            row["values"]["capacity_vcpus"]
                .as_f64()
                .is_some_and(|v| v > 0.0),
            "{row}"
        );
        assert!(row["values"]["servers_total"].is_number(), "{row}");
        assert!(row["values"]["images_count"].is_number(), "{row}");
        assert_eq!(row["values"]["site_up"], 1.0);
    }
    let per_site = site(&all_fresh, "site-001")["values"]["capacity_vcpus"]
        .as_f64()
        .unwrap_or(0.0);
    let total = all_fresh["totals"]["capacity_vcpus"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        total >= 3.0 * per_site * 0.99,
        "the fleet total adds the sites: {all_fresh}"
    );
    let groups = all_fresh["groups"].as_array().cloned().unwrap_or_default();
    let group = |value: &str| {
        groups
            .iter()
            .find(|g| g["value"] == value)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(group("eu")["sites_reporting"], 2, "{all_fresh}");
    assert_eq!(group("us")["sites_reporting"], 1, "{all_fresh}");
    assert_eq!(group("us")["label"], "region");

    // site-003 goes dark: a gap with the reason, the totals leave it out, and its series
    // has no points (null), never zeros.
    let dark_since = overcast::metrics::unix_now();
    sim.set_fault("site-003", Fault::Down);
    let gapped = eventually(Duration::from_secs(40), "site-003's gap", || async {
        let body = summary(&app, "").await;
        let row = site(&body, "site-003").clone();
        (row["fresh"] == false && row["gap"].is_string() && body["sites_missing"] == 1)
            .then_some(body)
    })
    .await;
    assert_eq!(gapped["sites_reporting"], 2, "{gapped}");
    let total_now = gapped["totals"]["capacity_vcpus"].as_f64().unwrap_or(0.0);
    assert!(total_now < total, "{gapped}");
    // The last figures stay visible, with their time.
    assert!(site(&gapped, "site-003")["collected_at"].is_string());

    // A read is stamped with the second it was due: one due just before the fault may
    // still have succeeded, so the dark part starts a second after it, and lasts a few.
    eventually(Duration::from_secs(10), "a few dark seconds", || async {
        (overcast::metrics::unix_now() >= dark_since + 4).then_some(())
    })
    .await;
    let to = overcast::metrics::unix_now() + 1;
    let (status, series) = app
        .admin(
            Method::GET,
            &format!("/api/v1/metrics/series?metric=capacity_vcpus&sites=site-003&from={}&to={to}&step=1", dark_since - 120),
            None,
        )
        .await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["resolution"], "raw");
    let points = series["series"][0]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before: Vec<&Value> = points
        .iter()
        .filter(|p| p["t"].as_i64() <= Some(dark_since))
        .collect();
    let after: Vec<&Value> = points
        .iter()
        .filter(|p| p["t"].as_i64() > Some(dark_since + 1))
        .collect();
    assert!(after.len() >= 3, "{series}");
    assert!(
        before
            .iter()
            .any(|p| p["value"].as_f64().is_some_and(|v| v > 0.0)),
        "{series}"
    );
    assert!(
        after
            .iter()
            .all(|p| p["value"].is_null() && p["sites"] == 0),
        "{series}"
    );
    assert!(
        points.iter().all(|p| p["value"] != 0.0),
        "no zero stands for a gap: {series}"
    );

    // The fleet's series, by region: eu keeps two sites' figures to the end.
    let (status, grouped) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/metrics/series?metric=site_up&from={}&to={to}&step=5&group_by=region",
                to - 60
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{grouped}");
    let lines = grouped["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), 2, "{grouped}");
    assert_eq!(lines[0]["group"], "eu");
    assert_eq!(lines[0]["sites"], 2);

    for (query, field) in [
        ("metric=nonsense", "metric"),
        ("metric=used_vcpus&agg=median", "agg"),
        ("metric=used_vcpus&from=100&to=50", "to"),
        ("metric=used_vcpus&from=0&to=100000000&step=1", "step"),
        ("metric=used_vcpus&from=yesterday", "from"),
        ("metric=used_vcpus&colour=red", "colour"),
    ] {
        let (status, body) = app
            .admin(
                Method::GET,
                &format!("/api/v1/metrics/series?{query}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"].to_string().contains(field), "{query}: {body}");
    }
}

#[tokio::test]
async fn samples_and_rollups_outlive_a_restart_and_scoped_callers_see_their_sites() {
    let sim = start_sim(2).await;
    let data_dir = temp_dir("metrics-restart");
    let app = console(&data_dir).await;
    app.register_all(&sim).await;
    let collected = eventually(Duration::from_secs(30), "both sites collected", || async {
        let body = summary(&app, "").await;
        (body["sites_reporting"] == 2).then_some(body)
    })
    .await;
    let collected_at = site(&collected, "site-001")["collected_at"].clone();
    let now = overcast::metrics::unix_now();
    // Roll up as if two hours had passed: the hour of these samples is closed then.
    app.state
        .metrics
        .maintain(now + 7200)
        .await
        .unwrap_or_else(|e| panic!("maintain: {e}"));
    drop(app);

    // A console on the same database knows the figures before it reads any site again.
    let app = spawn_app_with(&data_dir, |args| args.metrics_interval_s = Some(3600)).await;
    let known = summary(&app, "").await;
    // The newest figures from before the restart (later rounds may have run since
    // `collected` was read; times in one format compare as text).
    let known_at = site(&known, "site-001")["collected_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        known_at.as_str() >= collected_at.as_str().unwrap_or("~"),
        "{known}"
    );
    assert!(site(&known, "site-001")["values"]["capacity_vcpus"]
        .as_f64()
        .is_some_and(|v| v > 0.0));
    // The sample's own time, not the clock's: a read just before a minute or an hour
    // ended lies in that minute.
    let taken = time::OffsetDateTime::parse(
        collected_at.as_str().unwrap_or_default(),
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp())
    .unwrap_or_else(|e| panic!("collected_at {collected_at}: {e}"));
    let hour = taken - taken.rem_euclid(3600);
    let (status, series) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/metrics/series?metric=capacity_vcpus&from={hour}&to={}&step=60",
                hour + 3600
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["resolution"], "1m", "{series}");
    let points = series["series"][0]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(points.len(), 60);
    let minute = ((taken - hour) / 60) as usize;
    assert!(
        points[minute]["value"].as_f64().is_some_and(|v| v > 0.0),
        "{series}"
    );
    assert_eq!(points[minute]["sites"], 2);
    let (status, hourly) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/metrics/series?metric=capacity_vcpus&from={hour}&to={}&step=3600",
                hour + 3600
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{hourly}");
    assert_eq!(hourly["resolution"], "1h");
    assert!(
        hourly["series"][0]["points"][0]["value"]
            .as_f64()
            .is_some_and(|v| v > 0.0),
        "{hourly}"
    );

    // A viewer scoped to site-002 sees site-002 alone, in every metrics answer.
    let token = app
        .user_token("metrics-viewer", "viewer", json!({"sites": ["site-002"]}))
        .await;
    let (status, scoped) = app
        .call(Some(&token), Method::GET, "/api/v1/metrics/summary", None)
        .await;
    assert_eq!(status, 200, "{scoped}");
    let names: Vec<&Value> = scoped["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["site"])
        .collect();
    assert_eq!(names, vec![&json!("site-002")], "{scoped}");
    let (status, line) = app
        .call(
            Some(&token),
            Method::GET,
            &format!(
                "/api/v1/metrics/series?metric=capacity_vcpus&from={hour}&to={}&step=60",
                hour + 3600
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{line}");
    assert_eq!(line["series"][0]["sites"], 1, "{line}");
    let (status, refused) = app
        .call(
            Some(&token),
            Method::GET,
            "/api/v1/metrics/summary?sites=site-001",
            None,
        )
        .await;
    assert!(status == 403 || status == 404, "{status}: {refused}");
}

#[tokio::test]
async fn usage_counts_what_servers_used_while_they_lived_and_a_dark_site_is_unknown() {
    let sim = start_sim(2).await;
    let app = console(&temp_dir("usage")).await;
    app.register_all(&sim).await;
    let (status, image) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/images",
            Some(json!({"name": "cirros"})),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    let started = overcast::metrics::unix_now() - 1;
    let (status, server) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/servers",
            Some(json!({"name": "billed", "flavor": "m1.tiny", "image": "cirros"})),
        )
        .await;
    assert_eq!(status, 202, "{server}");
    let id = server["id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/sites/site-001/servers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    sim.set_fault("site-002", Fault::Down);
    eventually(Duration::from_secs(30), "site-002 unreachable", || async {
        let (_, site) = app.admin(Method::GET, "/api/v1/sites/site-002", None).await;
        (site["state"] == "unreachable").then_some(())
    })
    .await;

    let ended = overcast::metrics::unix_now() + 1;
    let path = format!("/api/v1/usage?from={started}&to={ended}");
    let (status, report) = app.admin(Method::GET, &path, None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["group_by"], "site");
    let rows = report["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{report}");
    let row = &rows[0];
    assert_eq!(row["group"], "site-001");
    let hours = row["vm_hours"].as_f64().unwrap_or(0.0);
    let period = (ended - started) as f64 / 3600.0;
    assert!(
        hours > 0.0 && hours < period,
        "the server lived part of the period: {report}"
    );
    // m1.tiny: 1 vCPU, 512 MiB, 1 GB of disk.
    assert!(
        (row["vcpu_hours"].as_f64().unwrap_or(0.0) - hours).abs() < 1e-9,
        "{report}"
    );
    assert!(
        (row["ram_gb_hours"].as_f64().unwrap_or(0.0) - hours / 2.0).abs() < 1e-9,
        "{report}"
    );
    assert_eq!(report["unknown"][0]["site"], "site-002", "{report}");
    assert!(report["unknown"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("unreachable")));

    // The same period again: a deleted server does not grow.
    let (_, again) = app.admin(Method::GET, &path, None).await;
    assert_eq!(again["rows"][0]["vm_hours"], row["vm_hours"]);

    let (_, by_project) = app
        .admin(Method::GET, &format!("{path}&group_by=project"), None)
        .await;
    assert_eq!(
        by_project["rows"][0]["group"], "admin",
        "projects by name: {by_project}"
    );
    assert!(
        by_project["rows"][0]["volume_gb_hours"].is_null(),
        "no volume figures per project"
    );

    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .bearer_auth(app.admin_token().await)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let csv = response.text().await.unwrap_or_default();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("group,sites,vm_hours"), "{csv}");
    assert!(lines[1].starts_with("site-001,site-001,"), "{csv}");
    assert!(
        lines[2].starts_with("site-002,site-002,,,,,") && lines[2].contains("unreachable"),
        "{csv}"
    );

    let (status, refused) = app
        .admin(Method::GET, "/api/v1/usage?from=1000&to=10", None)
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn minutes_are_rolled_up_as_they_end_and_their_hour_when_it_ends() {
    use overcast::metrics::rollup::Tier;
    use overcast::metrics::values::{decode_slots, Values};
    use overcast::store::SampleRow;

    let app = spawn_app_with(&temp_dir("metrics-minutes"), |args| {
        args.metrics_interval_s = Some(60)
    })
    .await;
    // Hours ahead of the clock, so that the console's own maintenance never reaches them.
    let hour = overcast::metrics::unix_now().div_euclid(3600) * 3600 + 3 * 3600;
    let grace = 60 + 60;
    let sample = |ts: i64, used: f64| {
        let mut values = Values::default();
        values.set("used_vcpus", used);
        SampleRow {
            site: "edge-1".to_owned(),
            ts,
            vals: values.encode(),
        }
    };
    let store = &app.state.store;
    let minutes = || async {
        let chunks = store
            .chunks_at(Tier::Minute.code(), hour, &["used_vcpus"])
            .await
            .unwrap_or_else(|e| panic!("chunks: {e}"));
        assert_eq!(chunks.len(), 1, "one chunk for the hour");
        decode_slots(&chunks[0].slots, Tier::Minute.slots())
    };

    // The console's first pass, which starts at the raw retention's start 48 h ago and
    // records its progress hour by hour, has reached the present; the next is a minute
    // away, so the passes below are the only ones meanwhile.
    let present = overcast::metrics::unix_now() - 600;
    eventually(Duration::from_secs(30), "the first maintenance", || async {
        let done = store.rollup_done(Tier::Minute.code()).await.ok().flatten();
        done.filter(|done| *done >= present)
    })
    .await;
    store
        .insert_round(&[sample(hour + 10, 4.0), sample(hour + 70, 6.0)], &[])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    // Two minutes and a bit into the hour, plus the grace for late reads.
    app.state
        .metrics
        .maintain(hour + 130 + grace)
        .await
        .unwrap_or_else(|e| panic!("maintain: {e}"));
    let slots = minutes().await;
    assert_eq!((slots[0], slots[1]), (4.0, 6.0));
    assert!(slots[2..].iter().all(|v| v.is_nan()), "{slots:?}");
    assert_eq!(
        store.rollup_done(Tier::Minute.code()).await.ok().flatten(),
        Some(hour + 120)
    );
    let day = hour.div_euclid(86_400) * 86_400;
    let hour_chunks = || async {
        store
            .chunks_at(Tier::Hour.code(), day, &["used_vcpus"])
            .await
            .unwrap_or_else(|e| panic!("chunks: {e}"))
    };
    assert!(hour_chunks().await.is_empty(), "the hour is not over");

    // The hour's last minute, then a pass after the hour ended: the minutes rolled
    // earlier are kept, and the hour's mean covers all three.
    store
        .insert_round(&[sample(hour + 3590, 8.0)], &[])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    app.state
        .metrics
        .maintain(hour + 3600 + 60 + grace)
        .await
        .unwrap_or_else(|e| panic!("maintain: {e}"));
    let slots = minutes().await;
    assert_eq!((slots[0], slots[1], slots[59]), (4.0, 6.0, 8.0));
    let hours = hour_chunks().await;
    assert_eq!(hours.len(), 1);
    let slot = usize::try_from((hour - day) / 3600).unwrap_or(0);
    assert_eq!(decode_slots(&hours[0].slots, Tier::Hour.slots())[slot], 6.0);

    // The next hour's second minute rolled up (its first was rolled, empty, above), a
    // later sample not yet: a series reads each
    // part of its range from the tier that holds it, and a site with nothing is a gap.
    store
        .insert_round(&[sample(hour + 3670, 12.0)], &[])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    app.state
        .metrics
        .maintain(hour + 3600 + 120 + grace)
        .await
        .unwrap_or_else(|e| panic!("maintain: {e}"));
    store
        .insert_round(&[sample(hour + 3750, 20.0)], &[])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let sites: std::collections::BTreeMap<String, String> = ["edge-1", "edge-2"]
        .into_iter()
        .map(|site| (site.to_owned(), "all".to_owned()))
        .collect();
    let series = |to: i64, step: i64| {
        let query = overcast::metrics::SeriesQuery::new("used_vcpus", hour, to, step, "sum")
            .unwrap_or_else(|e| panic!("query: {e}"));
        let (metrics, sites) = (app.state.metrics.clone(), sites.clone());
        async move {
            let answer = metrics
                .series(&query, &sites, hour + 3800)
                .await
                .unwrap_or_else(|e| panic!("series: {e}"));
            assert_eq!(answer.series.len(), 1);
            assert_eq!(answer.series[0].sites, 2, "both sites are in the line");
            (answer.resolution, answer.series[0].points.clone())
        }
    };
    let (resolution, minutes) = series(hour + 3780, 60).await;
    assert_eq!(resolution, "1m");
    let at = |n: usize| (minutes[n].value, minutes[n].sites);
    assert_eq!(
        (at(0), at(1), at(2), at(59)),
        ((Some(4.0), 1), (Some(6.0), 1), (None, 0), (Some(8.0), 1))
    );
    assert_eq!(
        (at(60), at(61), at(62)),
        ((None, 0), (Some(12.0), 1), (Some(20.0), 1))
    );
    let (resolution, hours) = series(hour + 7200, 3600).await;
    assert_eq!(resolution, "1h");
    let values: Vec<_> = hours.iter().map(|p| (p.value, p.sites)).collect();
    // The closed hour from the hour tier; the hour under way from its minutes and the
    // raw sample after them.
    assert_eq!(values, vec![(Some(6.0), 1), (Some(16.0), 1)]);
}
