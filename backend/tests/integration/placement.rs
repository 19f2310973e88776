//! Plans: the console picks sites from what it collected, and says why for each.

use std::time::Duration;

use overcast::sim::Fault;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with, start_sim, temp_dir, TestApp};

fn reasons(plan: &Value) -> Vec<(String, String)> {
    plan["excluded"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["site"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// An image with data at site-001; its id.
async fn uploaded_image(app: &TestApp, name: &str) -> String {
    uploaded_image_at(app, "site-001", name).await
}

async fn uploaded_image_at(app: &TestApp, site: &str, name: &str) -> String {
    let (status, image) = app
        .admin(
            Method::POST,
            &format!("/api/v1/sites/{site}/images"),
            Some(json!({"name": name, "disk_format": "raw", "container_format": "bare"})),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    let id = image["id"].as_str().unwrap_or_default().to_owned();
    let uploaded = app
        .http
        .put(format!("{}/api/v1/sites/{site}/images/{id}/file", app.url))
        .bearer_auth(app.admin_token().await)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 64 * 1024])
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload: {e}"));
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    id
}

#[tokio::test]
async fn a_plan_spreads_over_regions_skips_a_dark_site_and_says_why_for_every_site() {
    let sim = start_sim(4).await;
    let app = spawn_app_with(&temp_dir("placement"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    for (site, region) in [("site-003", "us"), ("site-004", "ap")] {
        let (status, _) = app
            .admin(
                Method::PATCH,
                &format!("/api/v1/sites/{site}"),
                Some(json!({"labels": {"region": region}})),
            )
            .await;
        assert_eq!(status, 200);
    }
    eventually(Duration::from_secs(30), "every site collected", || async {
        let (_, summary) = app
            .admin(Method::GET, "/api/v1/metrics/summary", None)
            .await;
        (summary["sites_reporting"] == 4).then_some(())
    })
    .await;
    sim.set_fault("site-004", Fault::Down);
    eventually(Duration::from_secs(30), "site-004 unreachable", || async {
        let (_, site) = app.admin(Method::GET, "/api/v1/sites/site-004", None).await;
        (site["state"] == "unreachable").then_some(())
    })
    .await;

    let request = json!({"flavor": "m1.tiny", "count": 6, "policy": "spread",
        "constraints": {"spread_across": {"label": "region", "min_distinct": 2}}});
    let (status, plan) = app
        .admin(Method::POST, "/api/v1/placement/plan", Some(request))
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["satisfiable"], true, "{plan}");
    let allocations = plan["allocations"].as_array().cloned().unwrap_or_default();
    let placed: u64 = allocations.iter().filter_map(|a| a["count"].as_u64()).sum();
    assert_eq!(placed, 6, "{plan}");
    assert_eq!(
        allocations.len(),
        3,
        "spread over the three live sites: {plan}"
    );
    assert!(allocations.iter().all(|a| a["count"] == 2
        && a["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("spread"))));
    let why = reasons(&plan);
    assert_eq!(why.len(), 1, "{plan}");
    assert_eq!(why[0].0, "site-004");
    assert!(why[0].1.starts_with("site unreachable"), "{plan}");

    // A flavor no site has: nothing qualifies, and the answer says so site by site.
    let (status, none) = app
        .admin(
            Method::POST,
            "/api/v1/placement/plan",
            Some(json!({"flavor": "m9.huge", "count": 1, "policy": "pack"})),
        )
        .await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["satisfiable"], false);
    assert!(
        none["unmet"]
            .as_str()
            .is_some_and(|u| u.contains("room for 0 of 1")),
        "{none}"
    );
    assert_eq!(
        reasons(&none)
            .iter()
            .filter(|(_, r)| r == "no flavor of that name here")
            .count(),
        3,
        "{none}"
    );

    // More than the live sites can hold with one per site.
    let (_, apart) = app
        .admin(
            Method::POST,
            "/api/v1/placement/plan",
            Some(json!({"flavor": "m1.tiny", "count": 4, "policy": "spread",
                "constraints": {"affinity": "different_sites", "selector": "region=eu"}})),
        )
        .await;
    assert_eq!(apart["satisfiable"], false, "{apart}");
    assert!(reasons(&apart)
        .iter()
        .any(|(s, r)| s == "site-003" && r.contains("selector")));

    for (body, field) in [
        (
            json!({"flavor": "m1.tiny", "count": 1, "policy": "random"}),
            "policy",
        ),
        (
            json!({"flavor": "m1.tiny", "count": 0, "policy": "spread"}),
            "count",
        ),
        (
            json!({"flavor": "m1.tiny", "count": 1, "policy": "spread", "constraints": {"selector": "=x"}}),
            "constraints.selector",
        ),
        (
            json!({"flavor": "m1.tiny", "count": 1, "policy": "spread", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, answer) = app
            .admin(Method::POST, "/api/v1/placement/plan", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].to_string().contains(field),
            "{body}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_boot_with_placement_runs_where_the_plan_says_with_each_sites_count() {
    let sim = start_sim(3).await;
    let app = spawn_app_with(&temp_dir("placed-boot"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    uploaded_image(&app, "placed-app").await;
    eventually(Duration::from_secs(30), "every site collected", || async {
        let (_, summary) = app
            .admin(Method::GET, "/api/v1/metrics/summary", None)
            .await;
        (summary["sites_reporting"] == 3).then_some(())
    })
    .await;

    let (status, job) = app
        .admin(
            Method::POST,
            "/api/v1/servers",
            Some(json!({"name": "placed", "flavor": "m1.tiny", "image_name": "placed-app",
                        "networks": "none", "count": 5,
                        "placement": {"policy": "spread", "constraints": {"exclude": ["site-003"]}}})),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "servers.boot");
    let sites: Vec<&str> = job["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["site"].as_str())
        .collect();
    assert_eq!(
        sites,
        vec!["site-001", "site-002"],
        "the plan's sites: {job}"
    );
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let done = crate::jobs::job_when(
        &app,
        &id,
        Duration::from_secs(90),
        "the placed boot",
        |job| {
            ["succeeded", "partially_failed", "failed"]
                .contains(&job["state"].as_str().unwrap_or_default())
        },
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // spread: 3 and 2 servers (site-001 first on a tie), named per site.
    for (site, count) in [("site-001", 3), ("site-002", 2)] {
        let ops = app.behind_the_consoles_back(site).await;
        let placed = ops
            .servers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.name.starts_with("placed-"))
            .count();
        assert_eq!(placed, count, "{site}: {done}");
    }

    let (status, refused) = app
        .admin(
            Method::POST,
            "/api/v1/servers",
            Some(json!({"name": "nowhere", "flavor": "m1.tiny", "image_name": "placed-app", "count": 2,
                        "placement": {"policy": "spread", "constraints": {"selector": "region=mars"}}})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["fields"][0]["field"], "placement",
        "{refused}"
    );
    assert!(
        refused["error"]["fields"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("labels do not match")),
        "{refused}"
    );
}

#[tokio::test]
async fn project_quotas_are_collected_and_a_spent_quota_keeps_servers_off_a_site() {
    let sim = start_sim(3).await;
    let app = spawn_app_with(&temp_dir("placement-quota"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    // At site-001 the console's project may run no more servers than it runs now (none).
    let (status, _) = app
        .admin(
            Method::PUT,
            "/api/v1/sites/site-001/quotas/admin",
            Some(json!({"compute": {"instances": 0}})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, by_l1) = app
        .admin(Method::GET, "/api/v1/sites/site-002/quotas/admin", None)
        .await;

    let report = eventually(Duration::from_secs(30), "quotas collected", || async {
        let (status, report) = app.admin(Method::GET, "/api/v1/metrics/quotas", None).await;
        assert_eq!(status, 200, "{report}");
        let sites = report["sites"].as_array().cloned().unwrap_or_default();
        let spent = sites
            .iter()
            .find(|s| s["site"] == "site-001")
            .is_some_and(|s| s["projects"][0]["compute"]["instances"] == 0);
        (sites.len() == 3 && sites.iter().all(|s| s["fresh"] == true) && spent).then_some(report)
    })
    .await;
    let site_002 = report["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["site"] == "site-002"))
        .cloned()
        .unwrap_or_default();
    assert!(site_002["gap"].is_null(), "{site_002}");
    assert_eq!(
        site_002["projects"][0]["project_name"], "admin",
        "the console's own project first: {site_002}"
    );
    assert!(
        site_002["projects"]
            .as_array()
            .is_some_and(|p| p.len() >= 2),
        "every project of the site: {site_002}"
    );
    assert_eq!(
        site_002["projects"][0], by_l1,
        "the same figures as the site's own quota answer"
    );
    let (_, demo_only) = app
        .admin(
            Method::GET,
            "/api/v1/metrics/quotas?sites=site-002&project=demo",
            None,
        )
        .await;
    assert_eq!(
        demo_only["sites"][0]["projects"][0]["project_name"], "demo",
        "{demo_only}"
    );
    assert_eq!(
        demo_only["sites"][0]["projects"].as_array().map(Vec::len),
        Some(1)
    );

    let (status, plan) = app
        .admin(
            Method::POST,
            "/api/v1/placement/plan",
            Some(json!({"flavor": "m1.tiny", "count": 4, "policy": "spread"})),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["satisfiable"], true, "{plan}");
    let placed: Vec<&str> = plan["allocations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["site"].as_str())
        .collect();
    assert_eq!(placed, ["site-002", "site-003"], "{plan}");
    assert_eq!(
        reasons(&plan),
        [(
            "site-001".to_owned(),
            "quota: the project's instances 0 of 0 used there; raise its quota or free some"
                .to_owned()
        )]
    );

    // A dark site's quotas are a gap with the reason, like its other figures.
    sim.set_fault("site-003", Fault::Down);
    eventually(Duration::from_secs(40), "site-003's quota gap", || async {
        let (_, report) = app
            .admin(Method::GET, "/api/v1/metrics/quotas?sites=site-003", None)
            .await;
        let row = report["sites"][0].clone();
        (row["fresh"] == false && row["gap"].is_string()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn concurrent_boots_with_placement_never_overcommit_a_site() {
    let sim = start_sim(3).await;
    let app = spawn_app_with(&temp_dir("placement-holds"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    let image_id = uploaded_image(&app, "cirros").await;
    // Each site's own project may run two more m1.xlarge (8 cores each, 20 cores allowed).
    let room = |plan: &Value| -> u64 {
        plan["unmet"]
            .as_str()
            .and_then(|u| u.strip_prefix("room for "))
            .and_then(|u| u.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let total = eventually(
        Duration::from_secs(30),
        "room known at every site",
        || async {
            let (_, plan) = app
                .admin(
                    Method::POST,
                    "/api/v1/placement/plan",
                    Some(json!({"flavor": "m1.xlarge", "count": 1000, "policy": "spread"})),
                )
                .await;
            (reasons(&plan).is_empty() && room(&plan) > 0).then(|| room(&plan))
        },
    )
    .await;
    assert_eq!(total, 6, "2 per site by the cores quota");

    // Three more requests than there is room for, all at once.
    let requests = (0..total + 3).map(|n| {
        let app = &app;
        let image_id = image_id.clone();
        async move {
            app.admin(
                Method::POST,
                "/api/v1/servers",
                Some(json!({"name": format!("burst-{n}"), "flavor": "m1.xlarge",
                    "image": {"site": "site-001", "image_id": image_id}, "count": 1, "networks": "none",
                    "placement": {"policy": "spread"}})),
            )
            .await
        }
    });
    let answers = futures::future::join_all(requests).await;
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, job)| job)
        .collect();
    assert_eq!(accepted.len() as u64, total, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 202) {
        assert_eq!(*status, 400, "{body}");
        assert!(
            body.to_string().contains("no plan meets the request"),
            "{body}"
        );
    }
    let mut per_site = std::collections::BTreeMap::<String, u32>::new();
    for job in &accepted {
        for site in job["targets"]["sites"].as_array().into_iter().flatten() {
            *per_site
                .entry(site.as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(
        per_site.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "{per_site:?}"
    );
}

#[tokio::test]
async fn a_server_a_site_has_no_host_for_is_placed_again_on_a_site_the_job_has_not_used() {
    let sim = start_sim(4).await;
    let app = spawn_app_with(&temp_dir("placement-moved"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    uploaded_image(&app, "movable").await;
    // site-004 already runs two servers, so that spread leaves it for last.
    let resident = uploaded_image_at(&app, "site-004", "resident").await;
    let ops = app.behind_the_consoles_back("site-004").await;
    for name in ["resident-1", "resident-2"] {
        ops.create_server(&overcast_api_types::l1::NewServer {
            name: name.into(),
            flavor: "m1.small".into(),
            image: resident.clone(),
            networks: Some(overcast_api_types::l1::ServerNetworks::Mode(
                overcast_api_types::l1::NetworkMode::None,
            )),
            key_name: None,
            metadata: Default::default(),
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let planned = |plan: &Value| -> Vec<String> {
        plan["allocations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["site"].as_str().map(str::to_owned))
            .collect()
    };
    let request = json!({"flavor": "m1.small", "count": 3, "policy": "spread",
                         "constraints": {"max_per_site": 1}});
    eventually(Duration::from_secs(30), "site-004 planned last", || async {
        let (_, plan) = app
            .admin(
                Method::POST,
                "/api/v1/placement/plan",
                Some(request.clone()),
            )
            .await;
        (planned(&plan) == ["site-001", "site-002", "site-003"]).then_some(())
    })
    .await;
    // Its operator disables site-002's compute services: Placement still shows its
    // hosts' room, Nova's scheduler finds no valid host.
    assert!(sim.disable_compute("site-002", "maintenance"));

    let done = spread_boot(&app, "moved", 3).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let task = |site: &str| {
        done["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["site"] == site)
            .cloned()
            .unwrap_or_default()
    };
    let left = task("site-002");
    assert_eq!(left["result"]["outcome"], "moved", "{done}");
    assert_eq!(
        left["result"]["moved"]["to"][0]["site"], "site-004",
        "{done}"
    );
    assert!(
        left["result"]["moved"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("No valid host")),
        "{done}"
    );
    assert_eq!(task("site-004")["state"], "succeeded", "{done}");
    for (site, running) in [
        ("site-001", 1),
        ("site-002", 0),
        ("site-003", 1),
        ("site-004", 1),
    ] {
        let servers = app
            .behind_the_consoles_back(site)
            .await
            .servers()
            .await
            .unwrap_or_default();
        let ours: Vec<_> = servers.iter().filter(|s| s.name == "moved").collect();
        assert_eq!(ours.len(), running, "{site}: {servers:?}");
        // The server Nova left in ERROR at site-002 is deleted, not left holding quota.
        assert!(
            ours.iter().all(|s| s.status == "ACTIVE"),
            "{site}: {servers:?}"
        );
    }

    // With every other site used, a server that finds no host stays a failure, saying why.
    let done = spread_boot(&app, "stuck", 4).await;
    assert_eq!(done["state"], "partially_failed", "{done}");
    let error = task_error(&done, "site-002");
    assert!(
        error.contains("No valid host") && error.contains("no other site took stuck"),
        "{done}"
    );
}

#[tokio::test]
async fn a_job_cannot_claim_a_placement_of_its_own() {
    let sim = start_sim(1).await;
    let app = spawn_app_with(&temp_dir("placement-forged"), |_| {}).await;
    app.register_all(&sim).await;
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/jobs",
            Some(
                json!({"kind": "servers.boot", "targets": {"sites": ["site-001"]},
                        "params": {"name": "x", "flavor": "m1.tiny", "image_name": "cirros",
                                   "placement": {"policy": "spread", "sites": ["site-001"]}}}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["fields"][0]["field"], "params.placement",
        "{body}"
    );
}

/// A boot of `count` m1.small spread one per site; the job once it has finished.
async fn spread_boot(app: &TestApp, name: &str, count: u32) -> Value {
    let (status, job) = app
        .admin(
            Method::POST,
            "/api/v1/servers",
            Some(
                json!({"name": name, "flavor": "m1.small", "image_name": "movable",
                        "networks": "none", "count": count,
                        "placement": {"policy": "spread", "constraints": {"max_per_site": 1}}}),
            ),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    crate::jobs::job_when(app, &id, Duration::from_secs(90), name, |job| {
        ["succeeded", "partially_failed", "failed"]
            .contains(&job["state"].as_str().unwrap_or_default())
    })
    .await
}

fn task_error(job: &Value, site: &str) -> String {
    job["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["site"] == site)
        .and_then(|t| t["error"].as_str())
        .unwrap_or_default()
        .to_owned()
}
