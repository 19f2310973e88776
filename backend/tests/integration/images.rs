//! Images copied between sites: read once, verified by each target, reused where present.

use std::sync::atomic::Ordering;
use std::time::Duration;

use overcast::sim::Fault;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, start_sim, TestApp};
use crate::jobs::{job_when, task};

/// An image with `bytes` of data on `site`, made through the site's own API.
async fn source_image(app: &TestApp, site: &str, name: &str, bytes: usize) -> (String, Vec<u8>) {
    let ops = app.behind_the_consoles_back(site).await;
    let record = json!({"name": name, "disk_format": "qcow2", "container_format": "bare",
        "visibility": "public", "min_disk": 2, "min_ram": 256, "tags": ["base"], "hw_disk_bus": "scsi"});
    let created = ops
        .create_image_record(&record)
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    let data: Vec<u8> = (0..bytes).map(|i| (i * 7 % 253) as u8).collect();
    ops.upload_image(&created.id, reqwest::Body::from(data.clone()))
        .await
        .unwrap_or_else(|e| panic!("upload: {e}"));
    (created.id, data)
}

async fn copy(app: &TestApp, site: &str, image_id: &str, targets: Value) -> Value {
    let (status, job) = app
        .admin(
            Method::POST,
            "/api/v1/images/copy",
            Some(json!({"source": {"site": site, "image_id": image_id}, "targets": targets})),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "image.copy");
    job
}

/// Polls `job` until it is finished, within `within`.
async fn until_finished(app: &TestApp, job: &Value, within: Duration, what: &str) -> Value {
    let id = job["id"].as_str().unwrap_or_default();
    job_when(app, id, within, what, finished).await
}

fn finished(job: &Value) -> bool {
    ["succeeded", "partially_failed", "failed"].contains(&job["state"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn an_image_is_copied_to_many_sites_with_its_metadata_and_checked_by_each() {
    let sim = start_sim(5).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (id, data) = source_image(&app, "site-002", "ubuntu-24.04", 3 * 1024 * 1024 + 17).await;
    // site-004 is dark when the copy starts and comes back later: its copy waits for it.
    sim.set_fault("site-004", Fault::Down);

    let job = copy(&app, "site-002", &id, json!({"all": true})).await;
    let id_of_job = job["id"].as_str().unwrap_or_default().to_owned();
    let waiting = job_when(
        &app,
        &id_of_job,
        Duration::from_secs(20),
        "the reachable copies",
        |job| {
            ["site-001", "site-003", "site-005"]
                .iter()
                .all(|s| task(job, s)["state"] == "succeeded")
                && task(job, "site-004")["state"] == "waiting_for_site"
        },
    )
    .await;
    assert_eq!(task(&waiting, "site-002")["result"]["outcome"], "is_source");
    sim.set_fault("site-004", Fault::Up);
    let done = job_when(
        &app,
        &id_of_job,
        Duration::from_secs(30),
        "every copy",
        finished,
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");

    let source = app.behind_the_consoles_back("site-002").await;
    let source_record = source.image_record(&id).await.unwrap_or_default();
    for site in ["site-001", "site-003", "site-004", "site-005"] {
        let result = &task(&done, site)["result"];
        assert_eq!(result["outcome"], "copied", "{site}: {result}");
        assert_eq!(result["bytes"], data.len());
        let copy_id = result["image_id"].as_str().unwrap_or_default();
        let ops = app.behind_the_consoles_back(site).await;
        let record = ops.image_record(copy_id).await.unwrap_or_default();
        assert_eq!(record["status"], "active");
        assert_eq!(
            record["os_hash_value"], source_record["os_hash_value"],
            "{site}"
        );
        for field in [
            "name",
            "disk_format",
            "container_format",
            "min_disk",
            "min_ram",
            "visibility",
            "hw_disk_bus",
        ] {
            assert_eq!(record[field], source_record[field], "{site}: {field}");
        }
        assert_eq!(record["tags"], json!(["base", "overcast-copy"]), "{site}");
        assert_eq!(record["overcast_origin_site"], "site-002");
        assert_eq!(record["overcast_origin_image_id"], id.as_str());
    }

    // Copying again changes nothing: every target already holds the data.
    let again = copy(
        &app,
        "site-002",
        &id,
        json!({"sites": ["site-001", "site-003"]}),
    )
    .await;
    let again = until_finished(&app, &again, Duration::from_secs(20), "the second copy").await;
    for site in ["site-001", "site-003"] {
        assert_eq!(
            task(&again, site)["result"]["outcome"],
            "already_present",
            "{again}"
        );
        let ops = app.behind_the_consoles_back(site).await;
        let named = ops
            .images()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.name.as_deref() == Some("ubuntu-24.04"))
            .count();
        assert_eq!(named, 1, "{site} holds one copy");
    }
}

#[tokio::test]
async fn a_copy_damaged_on_its_way_is_deleted_and_that_target_fails_alone() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (id, _) = source_image(&app, "site-001", "cirros", 512 * 1024).await;
    let damaged = sim
        .site("site-003")
        .unwrap_or_else(|| panic!("no site-003"));
    damaged.corrupt_next_upload.store(true, Ordering::SeqCst);

    let job = copy(
        &app,
        "site-001",
        &id,
        json!({"sites": ["site-002", "site-003"]}),
    )
    .await;
    let done = until_finished(&app, &job, Duration::from_secs(20), "both copies").await;
    assert_eq!(done["state"], "partially_failed", "{done}");
    assert_eq!(task(&done, "site-002")["result"]["outcome"], "copied");
    let failed = task(&done, "site-003");
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("os_hash_value") && e.contains("deleted")),
        "{failed}"
    );
    let left = damaged
        .data()
        .images
        .iter()
        .filter(|i| i.name.as_deref() == Some("cirros"))
        .count();
    assert_eq!(left, 0, "the damaged copy is gone");

    // A retry of the failed target copies it again from the spool, this time intact.
    let (status, _) = app
        .admin(
            Method::POST,
            &format!(
                "/api/v1/jobs/{}/retry",
                job["id"].as_str().unwrap_or_default()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let retried = job_when(
        &app,
        job["id"].as_str().unwrap_or_default(),
        Duration::from_secs(20),
        "the retry",
        |job| finished(job) && task(job, "site-003")["state"] != "pending",
    )
    .await;
    assert_eq!(
        task(&retried, "site-003")["result"]["outcome"],
        "copied",
        "{retried}"
    );
}

#[tokio::test]
async fn bad_copy_requests_name_the_field_and_start_nothing() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    for (body, field) in [
        (
            json!({"source": {"site": "site-009", "image_id": "x"}, "targets": {"all": true}}),
            "source.site",
        ),
        (
            json!({"source": {"site": "site-001"}, "targets": {"all": true}}),
            "source.image_id",
        ),
        (
            json!({"source": {"site": "site-001", "image_id": "x"}, "targets": {"all": true}, "speed": 3}),
            "speed",
        ),
        (
            json!({"source": {"site": "site-001", "image_id": ""}, "targets": {"all": true}}),
            "params.source.image_id",
        ),
    ] {
        let (status, answer) = app
            .admin(Method::POST, "/api/v1/images/copy", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        let named = answer["error"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(named.ends_with(field), "{body}: {answer}");
    }
    let (_, jobs) = app.admin(Method::GET, "/api/v1/jobs", None).await;
    assert_eq!(jobs["items"], json!([]));

    // A source image that does not exist fails every target at once, saying so.
    let job = copy(
        &app,
        "site-001",
        "no-such-image",
        json!({"sites": ["site-002"]}),
    )
    .await;
    let done = until_finished(&app, &job, Duration::from_secs(20), "the copy").await;
    assert_eq!(done["state"], "failed");
    assert!(
        task(&done, "site-002")["error"]
            .as_str()
            .is_some_and(|e| e.contains("source site-001")),
        "{done}"
    );
}

#[tokio::test]
async fn a_slow_target_holds_no_other_back_and_shows_its_bytes_as_they_go() {
    let sim = start_sim(4).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    // Larger than the socket buffers between the console and the site, so the console
    // feels the slow link and not only the buffers' fill.
    let size = 12 * 1024 * 1024;
    let (id, _) = source_image(&app, "site-001", "debian-12", size).await;
    // About 6 s for site-004's copy; the others are on loopback.
    sim.set_fault(
        "site-004",
        Fault::Bandwidth {
            bytes_per_s: 2 * 1024 * 1024,
        },
    );
    let job = copy(
        &app,
        "site-001",
        &id,
        json!({"sites": ["site-002", "site-003", "site-004"]}),
    )
    .await;
    let id_of_job = job["id"].as_str().unwrap_or_default().to_owned();
    let midway = job_when(
        &app,
        &id_of_job,
        Duration::from_secs(20),
        "the fast copies done while the slow one moves",
        |job| {
            let slow = &task(job, "site-004")["progress"];
            task(job, "site-002")["state"] == "succeeded"
                && task(job, "site-003")["state"] == "succeeded"
                && slow["bytes_done"]
                    .as_u64()
                    .is_some_and(|done| done > 0 && done < size as u64)
        },
    )
    .await;
    let slow = &task(&midway, "site-004")["progress"];
    assert_eq!(task(&midway, "site-004")["state"], "running");
    assert_eq!(slow["bytes_total"], size);
    assert!(slow["percent"].as_u64().is_some_and(|p| p < 100), "{slow}");
    assert!(
        slow["bytes_per_s"].as_u64().is_some_and(|rate| rate > 0),
        "{slow}"
    );
    assert!(slow["eta_s"].is_u64(), "{slow}");
    // Finished tasks carry a plain percentage again.
    assert_eq!(task(&midway, "site-002")["progress"], 100);
    let done = job_when(
        &app,
        &id_of_job,
        Duration::from_secs(30),
        "the slow copy",
        finished,
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(task(&done, "site-004")["progress"], 100);
}

#[tokio::test]
async fn targets_that_go_dark_or_silent_mid_copy_are_retried_alone_and_complete_later() {
    let sim = start_sim(5).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    // Larger than the socket buffers on the way, so the slow copies are still moving
    // when their sites fail.
    let size = 16 * 1024 * 1024;
    let (id, data) = source_image(&app, "site-001", "rocky-9", size).await;
    let slow = |bytes_per_s| Fault::Bandwidth { bytes_per_s };
    sim.set_fault("site-003", slow(1024 * 1024));
    sim.set_fault("site-004", slow(1024 * 1024));
    // site-005 stays on a 4 MiB/s link throughout.
    sim.set_fault("site-005", slow(4 * 1024 * 1024));
    let job = copy(
        &app,
        "site-001",
        &id,
        json!({"sites": ["site-002", "site-003", "site-004", "site-005"]}),
    )
    .await;
    let id_of_job = job["id"].as_str().unwrap_or_default().to_owned();
    let moving = |job: &Value, site: &str| {
        task(job, site)["state"] == "running"
            && task(job, site)["progress"]["bytes_done"]
                .as_u64()
                .is_some_and(|done| done > 0 && done < size as u64)
    };
    job_when(
        &app,
        &id_of_job,
        Duration::from_secs(20),
        "both slow copies under way",
        |job| moving(job, "site-003") && moving(job, "site-004"),
    )
    .await;
    // site-003's host goes down (connections refused, the upload broken off); site-004
    // stops answering (the upload stalls, nothing is refused).
    sim.set_fault("site-003", Fault::Down);
    sim.set_fault("site-004", Fault::Blackhole);
    let waiting = job_when(
        &app,
        &id_of_job,
        Duration::from_secs(40),
        "the dark targets waiting, the others done",
        |job| {
            ["site-002", "site-005"]
                .iter()
                .all(|s| task(job, s)["state"] == "succeeded")
                && ["site-003", "site-004"]
                    .iter()
                    .all(|s| task(job, s)["state"] == "waiting_for_site")
        },
    )
    .await;
    assert_eq!(waiting["state"], "running", "{waiting}");
    for site in ["site-003", "site-004"] {
        assert!(
            task(&waiting, site)["error"].is_string(),
            "{site} says why it waits: {waiting}"
        );
    }
    sim.set_fault("site-003", Fault::Up);
    sim.set_fault("site-004", Fault::Up);
    let done = until_finished(&app, &job, Duration::from_secs(60), "the late copies").await;
    assert_eq!(done["state"], "succeeded", "{done}");

    let source = app.behind_the_consoles_back("site-001").await;
    let hash = source.image_record(&id).await.unwrap_or_default()["os_hash_value"].clone();
    for site in ["site-002", "site-003", "site-004", "site-005"] {
        assert_eq!(task(&done, site)["result"]["bytes"], data.len(), "{site}");
        // One copy each, whole: what the broken uploads left was removed before the retry.
        let ops = app.behind_the_consoles_back(site).await;
        let copies: Vec<_> = ops
            .images()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.name.as_deref() == Some("rocky-9"))
            .collect();
        assert_eq!(copies.len(), 1, "{site}: {copies:?}");
        assert_eq!(copies[0].status, "active", "{site}");
        assert_eq!(copies[0].hash.as_deref(), hash.as_str(), "{site}");
    }
    // The retries read the spool, not the source again.
    let source_site = sim.site("site-001").unwrap_or_else(|| panic!("site-001"));
    assert_eq!(source_site.image_downloads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_catalog_groups_every_sites_images_by_content_and_marks_stale_sites() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (id, _) = source_image(&app, "site-001", "alpine", 64 * 1024).await;
    let job = copy(&app, "site-001", &id, json!({"all": true})).await;
    let done = until_finished(&app, &job, Duration::from_secs(20), "the copies").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // Read once live, so that the inventory holds every site; then site-003 goes dark.
    let (status, live) = app
        .admin(Method::GET, "/api/v1/images/catalog?name=alpine", None)
        .await;
    assert_eq!(status, 200, "{live}");
    sim.set_fault("site-003", Fault::Down);
    let (_, catalog) = app
        .admin(
            Method::GET,
            "/api/v1/images/catalog?name=alpine&timeout_ms=500",
            None,
        )
        .await;
    let items = catalog["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{catalog}");
    let entry = &items[0];
    assert_eq!(entry["name"], "alpine");
    assert_eq!(entry["size"], 64 * 1024);
    assert!(
        entry["sha512"].as_str().is_some_and(|h| h.len() == 128),
        "{entry}"
    );
    let holders: Vec<&str> = entry["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["site"].as_str())
        .collect();
    assert_eq!(holders, vec!["site-001", "site-002", "site-003"]);
    let stale = entry["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["site"] == "site-003"))
        .cloned()
        .unwrap_or_default();
    assert!(stale["stale_since"].is_string(), "{stale}");
    assert_eq!(catalog["sites"]["site-003"]["status"], "stale");
    assert_eq!(live["items"][0]["sites"][0]["stale_since"], Value::Null);
}

#[tokio::test]
async fn servers_boot_on_sites_that_lack_the_image_after_a_verified_copy() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (id, _) = source_image(&app, "site-001", "edge-app", 256 * 1024).await;
    // site-003 holds the same data already, under another name.
    let first = copy(&app, "site-001", &id, json!({"sites": ["site-003"]})).await;
    until_finished(&app, &first, Duration::from_secs(20), "the first copy").await;

    let (status, job) = app
        .admin(
            Method::POST,
            "/api/v1/servers",
            Some(json!({"name": "edge", "flavor": "m1.tiny", "count": 2, "networks": "none",
                        "image": {"site": "site-001", "image_id": id}, "targets": {"sites": ["site-002", "site-003"]}})),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "servers.boot");
    let done = until_finished(&app, &job, Duration::from_secs(60), "the boot").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(task(&done, "site-002")["result"]["image"], "copied");
    assert_eq!(task(&done, "site-003")["result"]["image"], "present");
    for site in ["site-002", "site-003"] {
        let result = &task(&done, site)["result"];
        let ops = app.behind_the_consoles_back(site).await;
        let servers = ops.servers().await.unwrap_or_default();
        for name in ["edge-1", "edge-2"] {
            let server = servers
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{site}: no {name}"));
            assert_eq!(server.status, "ACTIVE");
            assert_eq!(
                server.image_id.as_deref(),
                result["image_id"].as_str(),
                "{site}: boots the local copy"
            );
        }
    }

    // By name: found where it is, copied where it is not.
    let (status, by_name) = app
        .admin(
            Method::POST,
            "/api/v1/servers",
            Some(json!({"name": "named", "flavor": "m1.tiny", "networks": "none", "image_name": "edge-app",
                        "targets": {"all": true}})),
        )
        .await;
    assert_eq!(status, 202, "{by_name}");
    let done = until_finished(&app, &by_name, Duration::from_secs(60), "the boot by name").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(task(&done, "site-001")["result"]["image"], "present");
    assert_eq!(
        task(&done, "site-002")["result"]["image"],
        "present",
        "the copy made above, found by name"
    );

    for (body, field) in [
        (
            json!({"name": "x", "flavor": "m1.tiny", "image_name": "edge-app", "placement": {"policy": "spread"},
                   "targets": {"all": true}}),
            "placement",
        ),
        (
            json!({"name": "x", "flavor": "m1.tiny", "image_name": "edge-app"}),
            "targets",
        ),
        (
            json!({"name": "x", "flavor": "m1.tiny", "targets": {"all": true}}),
            "image",
        ),
        (
            json!({"name": "x", "flavor": "m1.tiny", "image_name": "a", "count": 0, "targets": {"all": true}}),
            "count",
        ),
        (
            json!({"name": "x", "flavor": "m1.tiny", "image": {"site": "site-009", "image_id": "i"}, "targets": {"all": true}}),
            "image.site",
        ),
    ] {
        let (status, answer) = app
            .admin(Method::POST, "/api/v1/servers", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        let named = answer["error"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(named.ends_with(field), "{body}: {answer}");
    }
}

#[tokio::test]
async fn a_replication_policy_reaches_sites_that_join_or_come_back_and_shows_its_drift() {
    let sim = start_sim(4).await;
    let app = spawn_app().await;
    // Three sites now; site-004 joins later.
    for cloud in sim.cloud_entries("secret").into_iter().take(3) {
        let (status, body) = app
            .admin(
                Method::POST,
                "/api/v1/sites",
                Some(crate::helpers::site_body(
                    &cloud.name,
                    &cloud.auth_url,
                    "secret",
                )),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (id, _) = source_image(&app, "site-001", "golden", 128 * 1024).await;
    sim.set_fault("site-003", Fault::Down);
    let (status, policy) = app
        .admin(
            Method::POST,
            "/api/v1/images/policies",
            Some(json!({"image": {"site": "site-001", "image_id": id}, "targets": {"all": true}})),
        )
        .await;
    assert_eq!(status, 201, "{policy}");
    let policy_id = policy["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(policy["sha512"].as_str().map(str::len), Some(128));
    let path = format!("/api/v1/images/policies/{policy_id}");
    let states = |policy: &Value| -> Vec<(String, String)> {
        policy["drift"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    d["site"].as_str().unwrap_or_default().to_owned(),
                    d["state"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let holds = |policy: &Value, site: &str| {
        states(policy)
            .iter()
            .any(|(s, state)| s == site && state == "holds")
    };
    crate::helpers::eventually(
        Duration::from_secs(30),
        "site-002 to hold the image",
        || async {
            let (_, policy) = app.admin(Method::GET, &path, None).await;
            (holds(&policy, "site-001") && holds(&policy, "site-002")).then_some(())
        },
    )
    .await;
    let (_, now) = app.admin(Method::GET, &path, None).await;
    assert!(!holds(&now, "site-003"), "site-003 is down: {now}");
    assert!(now["missing"].as_u64().is_some_and(|m| m >= 1), "{now}");

    // site-003 comes back, site-004 joins: both get the image without anyone asking.
    sim.set_fault("site-003", Fault::Up);
    let cloud = sim
        .cloud_entries("secret")
        .into_iter()
        .nth(3)
        .unwrap_or_else(|| panic!("no site-004"));
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(crate::helpers::site_body(
                &cloud.name,
                &cloud.auth_url,
                "secret",
            )),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let settled = crate::helpers::eventually(
        Duration::from_secs(60),
        "every site to hold the image",
        || async {
            let (_, policy) = app.admin(Method::GET, &path, None).await;
            (policy["missing"] == 0 && states(&policy).len() == 4).then_some(policy)
        },
    )
    .await;
    assert!(
        states(&settled).iter().all(|(_, state)| state == "holds"),
        "{settled}"
    );

    let (_, listed) = app
        .admin(Method::GET, "/api/v1/images/policies", None)
        .await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    // Deleting the policy keeps the copies.
    let (status, _) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    assert_eq!(app.admin(Method::GET, &path, None).await.0, 404);
    let ops = app.behind_the_consoles_back("site-004").await;
    assert!(ops
        .images()
        .await
        .unwrap_or_default()
        .iter()
        .any(|i| i.name.as_deref() == Some("golden")));

    // Asked to, deleting a policy removes the copies it made, and only those.
    let sha512 = settled["sha512"].clone();
    let (status, again) = app
        .admin(
            Method::POST,
            "/api/v1/images/policies",
            Some(json!({"image": {"sha512": sha512}, "targets": {"all": true}})),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    let path = format!(
        "/api/v1/images/policies/{}",
        again["id"].as_str().unwrap_or_default()
    );
    let (status, refused) = app
        .admin(Method::DELETE, &format!("{path}?delete_images=true"), None)
        .await;
    assert_eq!(status, 400, "an unknown option is refused: {refused}");
    let (status, job) = app
        .admin(Method::DELETE, &format!("{path}?delete_copies=true"), None)
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "image.delete_copies");
    let done = until_finished(&app, &job, Duration::from_secs(30), "the copies' removal").await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        task(&done, "site-001")["result"]["outcome"],
        "absent",
        "the original is no copy"
    );
    for site in ["site-001", "site-002", "site-003", "site-004"] {
        let ops = app.behind_the_consoles_back(site).await;
        let golden = ops
            .images()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|i| i.name.as_deref() == Some("golden"))
            .count();
        assert_eq!(golden, usize::from(site == "site-001"), "{site}");
    }

    for (body, field) in [
        (
            json!({"image": {"sha512": "abc"}, "targets": {"all": true}}),
            "image.sha512",
        ),
        (
            json!({"image": {"site": "site-001", "image_id": "nope"}, "targets": {"all": true}}),
            "image",
        ),
        (
            json!({"image": {"sha512": "a".repeat(128)}, "targets": {}}),
            "targets",
        ),
    ] {
        let (status, answer) = app
            .admin(Method::POST, "/api/v1/images/policies", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        let named = answer["error"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(named.starts_with(field), "{body}: {answer}");
    }
}

#[tokio::test]
async fn two_copies_of_one_image_to_one_site_at_once_make_one_copy() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (id, _) = source_image(&app, "site-001", "shared-base", 4 * 1024 * 1024).await;
    // About 2 s a copy: the second job starts while the first one's upload is under way.
    sim.set_fault(
        "site-002",
        Fault::Bandwidth {
            bytes_per_s: 2 * 1024 * 1024,
        },
    );
    let first = copy(&app, "site-001", &id, json!({"sites": ["site-002"]})).await;
    let second = copy(&app, "site-001", &id, json!({"sites": ["site-002"]})).await;
    let mut outcomes = Vec::new();
    for job in [&first, &second] {
        let done = until_finished(&app, job, Duration::from_secs(60), "a copy").await;
        assert_eq!(done["state"], "succeeded", "{done}");
        outcomes.push(task(&done, "site-002")["result"]["outcome"].clone());
    }
    outcomes.sort_by_key(|o| o.to_string());
    assert_eq!(outcomes, [json!("already_present"), json!("copied")]);
    sim.set_fault("site-002", Fault::Up);
    let copies: Vec<_> = app
        .behind_the_consoles_back("site-002")
        .await
        .images()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.name.as_deref() == Some("shared-base"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0].status, "active");
}
