//! Bulk operations as durable jobs, over simulated sites that fail and come back.

use std::time::Duration;

use overcast::sim::{Fault, Simulator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, start_sim, TestApp};

/// How many flavors of that name a simulated site holds: the site's own truth.
pub fn flavors_named(sim: &Simulator, site: &str, name: &str) -> usize {
    sim.site(site)
        .map(|s| s.data().flavors.iter().filter(|f| f.name == name).count())
        .unwrap_or_else(|| panic!("no simulated {site}"))
}

pub async fn create_job(app: &TestApp, body: Value) -> Value {
    let (status, job) = app.admin(Method::POST, "/api/v1/jobs", Some(body)).await;
    assert_eq!(status, 202, "{job}");
    job
}

/// Polls a job until `done` holds for it.
pub async fn job_when(
    app: &TestApp,
    id: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(within, what, || async {
        let (status, job) = app
            .admin(Method::GET, &format!("/api/v1/jobs/{id}"), None)
            .await;
        assert_eq!(status, 200, "{job}");
        done(&job).then_some(job)
    })
    .await
}

pub fn task<'a>(job: &'a Value, site: &str) -> &'a Value {
    job["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["site"] == site))
        .unwrap_or_else(|| panic!("no task for {site} in {job}"))
}

fn flavor_job(name: &str, targets: Value, rollout: Value) -> Value {
    json!({"kind": "flavor.create", "targets": targets, "rollout": rollout,
           "params": {"name": name, "vcpus": 2, "ram_mb": 2048, "disk_gb": 20}})
}

#[tokio::test]
async fn a_job_over_fifty_sites_ends_succeeded_while_sites_go_down_and_come_back() {
    let sim = start_sim(50).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    // Five sites refuse connections and five swallow requests when the job starts.
    for n in 1..=5 {
        sim.set_fault(&format!("site-{n:03}"), Fault::Down);
        sim.set_fault(&format!("site-{:03}", n + 5), Fault::Blackhole);
    }
    let job = create_job(
        &app,
        flavor_job("m1.edge", json!({"all": true}), json!({"max_parallel": 8})),
    )
    .await;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(job["tasks"].as_array().map(Vec::len), Some(50));

    // The reachable sites get done; the others wait for their site.
    let waiting = job_when(
        &app,
        &id,
        Duration::from_secs(60),
        "40 sites done, 10 waiting",
        |job| job["counts"]["succeeded"] == 40 && job["counts"]["waiting_for_site"] == 10,
    )
    .await;
    for n in 1..=10 {
        assert_eq!(
            task(&waiting, &format!("site-{n:03}"))["state"],
            "waiting_for_site"
        );
    }
    assert_eq!(waiting["state"], "running");

    // Sites come back, and some that were done go down meanwhile: nothing changes for them.
    for n in 11..=15 {
        sim.set_fault(&format!("site-{n:03}"), Fault::Down);
    }
    for n in 1..=10 {
        sim.set_fault(&format!("site-{n:03}"), Fault::Up);
    }
    let done = job_when(
        &app,
        &id,
        Duration::from_secs(60),
        "every site done",
        |job| job["state"] != "running" && job["state"] != "pending",
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    for n in 11..=15 {
        sim.set_fault(&format!("site-{n:03}"), Fault::Up);
    }
    for n in 1..=50 {
        let site = format!("site-{n:03}");
        assert_eq!(task(&done, &site)["state"], "succeeded");
        assert_eq!(task(&done, &site)["progress"], 100);
        assert_eq!(
            flavors_named(&sim, &site, "m1.edge"),
            1,
            "{site} holds the flavor once"
        );
    }
    // The job's list entry agrees.
    let (_, list) = app
        .admin(Method::GET, "/api/v1/jobs?state=succeeded", None)
        .await;
    assert!(list["items"]
        .as_array()
        .is_some_and(|jobs| jobs.iter().any(|j| j["id"] == id.as_str())));
}

#[tokio::test]
async fn a_failed_canary_stops_the_rollout_before_any_other_site() {
    let sim = start_sim(6).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    // The canary site already has a flavor of that name with another shape: a conflict.
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-003/flavors",
            Some(json!({"name": "m1.canary", "vcpus": 1, "ram_mb": 512, "disk_gb": 1})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let job = create_job(
        &app,
        flavor_job(
            "m1.canary",
            json!({"all": true}),
            json!({"canary": ["site-003"]}),
        ),
    )
    .await;
    let id = job["id"].as_str().unwrap_or_default();
    let done = job_when(
        &app,
        id,
        Duration::from_secs(30),
        "the job to stop",
        |job| job["state"] == "failed",
    )
    .await;
    let canary = task(&done, "site-003");
    assert_eq!(canary["state"], "failed");
    assert!(
        canary["error"]
            .as_str()
            .is_some_and(|e| e.contains("already exists")),
        "{canary}"
    );
    assert!(
        done["stopped_reason"]
            .as_str()
            .is_some_and(|r| r.contains("canary site site-003")),
        "{done}"
    );
    for site in ["site-001", "site-002", "site-004", "site-005", "site-006"] {
        assert_eq!(task(&done, site)["state"], "cancelled", "{site}");
        assert_eq!(task(&done, site)["attempts"], 0, "{site} never ran");
        assert_eq!(flavors_named(&sim, site, "m1.canary"), 0, "{site}");
    }
}

#[tokio::test]
async fn too_many_failed_sites_stop_the_rollout() {
    let sim = start_sim(6).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    for site in ["site-001", "site-002"] {
        let (status, body) = app
            .admin(
                Method::POST,
                &format!("/api/v1/sites/{site}/flavors"),
                Some(json!({"name": "m1.x", "vcpus": 8, "ram_mb": 512, "disk_gb": 1})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let rollout = json!({"max_parallel": 1, "max_failures": 1});
    let job = create_job(
        &app,
        flavor_job("m1.x", json!({"selector": "region=eu"}), rollout),
    )
    .await;
    let id = job["id"].as_str().unwrap_or_default();
    let done = job_when(
        &app,
        id,
        Duration::from_secs(30),
        "the job to stop",
        |job| job["state"] == "failed",
    )
    .await;
    assert_eq!(done["counts"]["failed"], 2, "{done}");
    assert_eq!(done["counts"]["cancelled"], 4, "{done}");
    assert!(
        done["stopped_reason"]
            .as_str()
            .is_some_and(|r| r.contains("2 sites failed")),
        "{done}"
    );
    for n in 3..=6 {
        assert_eq!(flavors_named(&sim, &format!("site-{n:03}"), "m1.x"), 0);
    }
}

#[tokio::test]
async fn a_waiting_job_can_be_cancelled_and_retried_once_the_site_is_back() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    sim.set_fault("site-001", Fault::Down);
    let job = create_job(
        &app,
        json!({"kind": "project.create", "targets": {"sites": ["site-001", "site-002"]},
                                      "params": {"name": "edge-team", "description": "bulk"}}),
    )
    .await;
    let id = job["id"].as_str().unwrap_or_default();
    job_when(
        &app,
        id,
        Duration::from_secs(30),
        "site-002 done, site-001 waiting",
        |job| {
            task(job, "site-002")["state"] == "succeeded"
                && task(job, "site-001")["state"] == "waiting_for_site"
        },
    )
    .await;

    let (status, cancelled) = app
        .admin(Method::POST, &format!("/api/v1/jobs/{id}/cancel"), None)
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let cancelled = job_when(
        &app,
        id,
        Duration::from_secs(10),
        "the job cancelled",
        |job| job["state"] == "cancelled",
    )
    .await;
    assert_eq!(task(&cancelled, "site-001")["state"], "cancelled");
    assert!(task(&cancelled, "site-001")["error"]
        .as_str()
        .is_some_and(|e| e.contains("cancelled by admin")));
    let (status, again) = app
        .admin(Method::POST, &format!("/api/v1/jobs/{id}/cancel"), None)
        .await;
    assert_eq!((status, &again["error"]["code"]), (409, &json!("conflict")));

    sim.set_fault("site-001", Fault::Up);
    let (status, retried) = app
        .admin(Method::POST, &format!("/api/v1/jobs/{id}/retry"), None)
        .await;
    assert_eq!(status, 200, "{retried}");
    let done = job_when(
        &app,
        id,
        Duration::from_secs(30),
        "the retried job",
        |job| job["state"] == "succeeded",
    )
    .await;
    assert_eq!(task(&done, "site-001")["result"]["outcome"], "created");
    assert_eq!(task(&done, "site-002")["result"]["outcome"], "created");
    let (status, nothing) = app
        .admin(Method::POST, &format!("/api/v1/jobs/{id}/retry"), None)
        .await;
    assert_eq!(status, 409, "{nothing}");
}

#[tokio::test]
async fn a_delete_that_waited_keeps_what_changed_meanwhile() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/images",
            Some(json!({"name": "cirros"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for name in ["ci-a", "ci-b"] {
        let (status, body) = app
            .admin(
                Method::POST,
                "/api/v1/sites/site-001/servers",
                Some(json!({"name": name, "flavor": "m1.tiny", "image": "cirros"})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    // What the operator sees: both servers running (read into the inventory).
    eventually(Duration::from_secs(10), "both servers active", || async {
        let (_, list) = app
            .admin(Method::GET, "/api/v1/servers?name=ci-", None)
            .await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 2 && items.iter().all(|s| s["status"] == "ACTIVE")).then_some(())
    })
    .await;
    // ci-a is stopped behind the inventory's back, then the site goes dark.
    let (_, servers) = app
        .admin(Method::GET, "/api/v1/sites/site-001/servers", None)
        .await;
    let id_of = |name: &str| {
        servers["items"]
            .as_array()
            .and_then(|items| items.iter().find(|s| s["name"] == name))
            .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    app.behind_the_consoles_back("site-001")
        .await
        .server_action(&id_of("ci-a"), overcast_api_types::l1::ServerAction::Stop)
        .await
        .unwrap_or_else(|e| panic!("stop ci-a: {e}"));
    sim.set_fault("site-001", Fault::Down);
    eventually(Duration::from_secs(15), "site-001 unreachable", || async {
        let (_, site) = app.admin(Method::GET, "/api/v1/sites/site-001", None).await;
        (site["state"] == "unreachable").then_some(())
    })
    .await;
    let job = create_job(&app, json!({"kind": "servers.delete", "targets": {"sites": ["site-001"]}, "params": {"name_prefix": "ci-"}})).await;
    let id = job["id"].as_str().unwrap_or_default();
    job_when(
        &app,
        id,
        Duration::from_secs(10),
        "the task waiting",
        |job| task(job, "site-001")["state"] == "waiting_for_site",
    )
    .await;

    sim.set_fault("site-001", Fault::Up);
    let done = job_when(&app, id, Duration::from_secs(30), "the job done", |job| {
        job["state"] == "failed"
    })
    .await;
    let error = task(&done, "site-001")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("ci-a")
            && error.contains("changed after the job was created")
            && error.contains("deleted 1"),
        "{error}"
    );
    let left: Vec<String> = sim
        .site("site-001")
        .map(|s| s.data().servers.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        left,
        vec!["ci-a".to_owned()],
        "ci-b deleted, the changed ci-a kept"
    );
}

#[tokio::test]
async fn bad_jobs_are_refused_with_the_field_at_fault() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let cases = [
        (
            json!({"kind": "flavor.explode", "targets": {"all": true}}),
            "kind",
        ),
        (
            json!({"kind": "flavor.create", "targets": {"all": true}, "params": {"name": "x", "vcpus": 0, "ram_mb": 1, "disk_gb": 1}}),
            "params.vcpus",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {}, "params": {"name": "x"}}),
            "targets",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {"sites": ["site-001"], "all": true}, "params": {"name": "x"}}),
            "targets",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {"sites": ["nope"]}, "params": {"name": "x"}}),
            "targets.sites",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {"selector": "region=mars"}, "params": {"name": "x"}}),
            "targets",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "rollout": {"canary": ["site-009"]}}),
            "rollout.canary",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "rollout": {"max_parallel": 0}}),
            "rollout.max_parallel",
        ),
        (
            json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "ttl_s": 0}),
            "ttl_s",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app
            .admin(Method::POST, "/api/v1/jobs", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(
            answer["error"]["fields"][0]["field"], field,
            "{body} → {answer}"
        );
    }
    let (status, answer) = app
        .admin(Method::GET, "/api/v1/jobs/no-such-job", None)
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &json!("not_found"))
    );
    let (_, list) = app.admin(Method::GET, "/api/v1/jobs", None).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn job_events_stream_every_task_until_the_job_finishes() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    // Slow sites, so the stream opens while the tasks still run.
    for n in 1..=3 {
        sim.set_fault(
            &format!("site-{n:03}"),
            Fault::Latency {
                ms: 300,
                jitter_ms: 0,
            },
        );
    }
    let job = create_job(&app, flavor_job("m1.sse", json!({"all": true}), json!({}))).await;
    let id = job["id"].as_str().unwrap_or_default();
    let token = app.admin_token().await;
    let response = app
        .http
        .get(format!("{}/api/v1/jobs/{id}/events", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .is_ok_and(|t| t.starts_with("text/event-stream")));
    // The stream ends by itself once the job is finished.
    let text = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .unwrap_or_else(|_| panic!("the event stream did not end"))
        .unwrap_or_default();
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name, serde_json::from_str(data).ok()?))
        })
        .collect();
    assert_eq!(events.first().map(|e| e.0), Some("job"));
    let (last_name, last) = events.last().cloned().unwrap_or(("none", Value::Null));
    assert_eq!(
        (last_name, &last["state"]),
        ("job", &json!("succeeded")),
        "{text}"
    );
    assert_eq!(last["tasks"].as_array().map(Vec::len), Some(3));
    let task_events = events.iter().filter(|(name, _)| *name == "task").count();
    assert!(
        task_events >= 3,
        "one event per task change at least: {text}"
    );
}

#[tokio::test]
async fn a_site_that_leaves_has_its_waiting_task_cancelled_with_the_reason() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    sim.set_fault("site-002", Fault::Down);
    let job = create_job(
        &app,
        flavor_job("m1.leave", json!({"all": true}), json!({})),
    )
    .await;
    let id = job["id"].as_str().unwrap_or_default();
    job_when(
        &app,
        id,
        Duration::from_secs(30),
        "site-002 waiting",
        |job| {
            task(job, "site-002")["state"] == "waiting_for_site"
                && task(job, "site-001")["state"] == "succeeded"
        },
    )
    .await;
    let (status, body) = app
        .admin(Method::DELETE, "/api/v1/sites/site-002", None)
        .await;
    assert_eq!(status, 204, "{body}");
    let done = job_when(
        &app,
        id,
        Duration::from_secs(10),
        "the job finished",
        |job| job["state"] == "partially_failed",
    )
    .await;
    assert_eq!(task(&done, "site-002")["state"], "cancelled");
    assert_eq!(
        task(&done, "site-002")["error"],
        "site site-002 was removed from the console"
    );
}

#[tokio::test]
async fn network_jobs_create_provider_networks_and_fail_at_once_where_no_tenant_network_exists() {
    // site-004 has the edge profile: flat provider networks only, like the real lane's.
    let sim = start_sim(4).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let targets = json!({"sites": ["site-001", "site-004"]});
    let tenant = create_job(
        &app,
        json!({"kind": "network.create", "targets": targets, "params": {"name": "apps"}}),
    )
    .await;
    let id = tenant["id"].as_str().unwrap_or_default();
    let done = job_when(
        &app,
        id,
        Duration::from_secs(20),
        "the tenant network job ends",
        |job| job["state"] == "partially_failed",
    )
    .await;
    assert_eq!(task(&done, "site-001")["state"], "succeeded", "{done}");
    let refused = task(&done, "site-004");
    assert_eq!(refused["state"], "failed", "{done}");
    assert_eq!(
        refused["attempts"], 1,
        "a stated condition is not retried: {done}"
    );
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(error.contains("No project network is available"), "{error}");

    let provider = create_job(
        &app,
        json!({"kind": "network.create", "targets": targets,
               "params": {"name": "edge-lan", "provider:network_type": "flat",
                          "provider:physical_network": "physnet1", "shared": true}}),
    )
    .await;
    let id = provider["id"].as_str().unwrap_or_default();
    job_when(
        &app,
        id,
        Duration::from_secs(20),
        "the provider network job succeeds",
        |job| job["state"] == "succeeded",
    )
    .await;
    for site in ["site-001", "site-004"] {
        let data = sim
            .site(site)
            .map(|s| s.data().networks.clone())
            .unwrap_or_default();
        let made: Vec<_> = data.iter().filter(|n| n.name == "edge-lan").collect();
        assert_eq!(made.len(), 1, "{site}");
        assert_eq!(
            made[0].segment.physical_network.as_deref(),
            Some("physnet1")
        );
    }
}

#[tokio::test]
async fn what_a_job_changes_reaches_the_inventory_even_if_the_site_goes_dark_after() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (status, image) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/images",
            Some(json!({"name": "cirros"})),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    for name in ["keep-1", "keep-2", "keep-3", "victim-1", "victim-2"] {
        let (status, server) = app
            .admin(
                Method::POST,
                "/api/v1/sites/site-001/servers",
                Some(json!({"name": name, "flavor": "m1.tiny", "image": "cirros"})),
            )
            .await;
        assert_eq!(status, 202, "{server}");
    }
    eventually(
        Duration::from_secs(20),
        "5 ACTIVE in the inventory",
        || async { (active_servers(&app).await == 5).then_some(()) },
    )
    .await;

    let flavor = create_job(
        &app,
        flavor_job("m1.job", json!({"sites": ["site-001"]}), json!({})),
    )
    .await;
    let deletion = create_job(
        &app,
        json!({"kind": "servers.delete", "targets": {"sites": ["site-001"]}, "params": {"name_prefix": "victim-"}}),
    )
    .await;
    for job in [&flavor, &deletion] {
        let id = job["id"].as_str().unwrap_or_default();
        job_when(
            &app,
            id,
            Duration::from_secs(20),
            "the job succeeds",
            |job| job["state"] == "succeeded",
        )
        .await;
    }
    // Within seconds, not the 5 minutes of the background refresh.
    eventually(
        Duration::from_secs(5),
        "the job's flavor in the cached list",
        || async {
            let (_, flavors) = app
                .admin(
                    Method::GET,
                    "/api/v1/flavors?sites=site-001&max_age_ms=3600000",
                    None,
                )
                .await;
            flavors.to_string().contains("m1.job").then_some(())
        },
    )
    .await;
    // The site goes dark at once: what the console shows must still be what the jobs did.
    sim.set_fault("site-001", Fault::Down);
    assert_eq!(
        active_servers(&app).await,
        3,
        "deleted servers left the totals"
    );
    let (_, cached) = app
        .admin(
            Method::GET,
            "/api/v1/servers?sites=site-001&max_age_ms=3600000",
            None,
        )
        .await;
    let names: Vec<&str> = cached["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(!names.iter().any(|n| n.starts_with("victim-")), "{cached}");
    assert_eq!(names.len(), 3, "{cached}");
}

async fn active_servers(app: &TestApp) -> u64 {
    let (_, summary) = app
        .admin(Method::GET, "/api/v1/inventory/summary", None)
        .await;
    summary["servers"]["ACTIVE"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_dry_run_checks_like_a_submission_and_creates_nothing() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    sim.set_fault("site-003", Fault::Down);
    eventually(
        Duration::from_secs(15),
        "site-003 unreachable and the others online",
        || async {
            let (_, sites) = app.admin(Method::GET, "/api/v1/sites", None).await;
            let state = |name: &str| {
                sites["items"]
                    .as_array()
                    .and_then(|items| items.iter().find(|s| s["name"] == name))
                    .map(|s| s["state"].clone())
            };
            (state("site-003") == Some(json!("unreachable"))
                && state("site-001") == Some(json!("online"))
                && state("site-002") == Some(json!("online")))
            .then_some(())
        },
    )
    .await;

    // Every refusal of a real submission is the same refusal in a dry run.
    let bad = [
        json!({"kind": "flavor.explode", "targets": {"all": true}}),
        json!({"kind": "flavor.create", "targets": {"all": true}, "params": {"name": "x", "vcpus": 0, "ram_mb": 1, "disk_gb": 1}}),
        json!({"kind": "flavor.create", "targets": {"all": true}, "params": {"name": "x", "vcpus": "two", "ram_mb": 1, "disk_gb": 1}}),
        json!({"kind": "flavor.delete", "targets": {"sites": ["nope"]}, "params": {"name": "x"}}),
        json!({"kind": "flavor.delete", "targets": {"selector": "region=mars"}, "params": {"name": "x"}}),
        json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "rollout": {"canary": ["site-009"]}}),
        json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "rollout": {"max_parallel": 0}}),
        json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "ttl_s": 0}),
        json!({"kind": "flavor.delete", "targets": {"all": true}, "params": {"name": "x"}, "extra": 1}),
    ];
    for body in bad {
        let real = app
            .admin(Method::POST, "/api/v1/jobs", Some(body.clone()))
            .await;
        let dry = app
            .admin(
                Method::POST,
                "/api/v1/jobs?dry_run=true",
                Some(body.clone()),
            )
            .await;
        assert_eq!(real.0, 400, "{body} → {}", real.1);
        assert_eq!(dry, real, "a dry run of {body} is refused like the job");
        assert!(
            dry.1["error"]["fields"][0]["field"].is_string(),
            "{body} → {}",
            dry.1
        );
    }
    let (status, answer) = app
        .admin(
            Method::POST,
            "/api/v1/jobs?dry_run=maybe",
            Some(flavor_job("m1.dry", json!({"all": true}), json!({}))),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["field"], "dry_run");

    // A good job: the sites it would run at, the unreachable one named, the canary marked.
    let (status, preview) = app
        .admin(
            Method::POST,
            "/api/v1/jobs?dry_run=true",
            Some(flavor_job(
                "m1.dry",
                json!({"all": true}),
                json!({"canary_count": 1, "max_parallel": 2}),
            )),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["kind"], "flavor.create");
    let sites: Vec<(&str, &str, bool)> = preview["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["site"].as_str().unwrap_or_default(),
                s["state"].as_str().unwrap_or_default(),
                s["canary"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        sites,
        [
            ("site-001", "online", true),
            ("site-002", "online", false),
            ("site-003", "unreachable", false)
        ]
    );
    assert_eq!(preview["unreachable"], json!(["site-003"]));
    assert_eq!(preview["max_parallel"], 2);

    // Nothing was stored and no site was changed.
    let (_, list) = app.admin(Method::GET, "/api/v1/jobs", None).await;
    assert_eq!(list["items"], json!([]), "a dry run stores no job");
    for site in ["site-001", "site-002"] {
        assert_eq!(flavors_named(&sim, site, "m1.dry"), 0, "{site} untouched");
    }
    // The audit log has the request, saying it was a dry run, and no job.create.
    let (_, log) = app
        .admin(Method::GET, "/api/v1/audit?limit=100", None)
        .await;
    let entries = log["items"].as_array().cloned().unwrap_or_default();
    assert!(
        !entries.iter().any(|e| e["action"]
            .as_str()
            .is_some_and(|a| a.starts_with("job.create"))),
        "{log}"
    );
    let dry_runs: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "POST /api/v1/jobs" && e["status"] == 200)
        .collect();
    assert_eq!(dry_runs.len(), 1, "{log}");
    assert_eq!(
        dry_runs[0]["detail"],
        "dry run of flavor.create: 3 sites match (1 unreachable); nothing created"
    );

    // A viewer may not even ask.
    let viewer = app.user_token("peek", "viewer", json!({"all": true})).await;
    let (status, _) = app
        .call(
            Some(&viewer),
            Method::POST,
            "/api/v1/jobs?dry_run=true",
            Some(flavor_job("m1.dry", json!({"all": true}), json!({}))),
        )
        .await;
    assert_eq!(status, 403);
}
