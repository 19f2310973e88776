//! Deployments: a count of servers kept across a site going dark and coming back, where
//! nothing serving is deleted unless the deployment's rule says so (the case Karmada got
//! wrong: its issues #5150 and #5406).

use std::time::Duration;

use overcast::sim::Fault;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app_with, start_sim, TestApp};

async fn deployment(app: &TestApp, id: &str) -> Value {
    let (status, body) = app
        .admin(Method::GET, &format!("/api/v1/deployments/{id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Sites with their ACTIVE servers of the deployment, as the deployment saw them.
fn serving_at(deployment: &Value) -> Vec<(String, usize)> {
    deployment["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let active = s["servers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|server| server["status"] == "ACTIVE")
                .count();
            (s["site"].as_str().unwrap_or_default().to_owned(), active)
        })
        .filter(|(_, active)| *active > 0)
        .collect()
}

fn events(deployment: &Value) -> Vec<String> {
    deployment["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

/// The deployment's servers at a site, asked of the site itself.
async fn servers_at(app: &TestApp, site: &str, id: &str) -> Vec<String> {
    app.behind_the_consoles_back(site)
        .await
        .servers()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.metadata.get("overcast_deployment").map(String::as_str) == Some(id))
        .map(|s| s.name)
        .collect()
}

#[tokio::test]
async fn a_deployment_replaces_a_dark_sites_servers_and_deletes_nothing_serving_when_it_returns() {
    let sim = start_sim(3).await;
    let app = spawn_app_with(&crate::helpers::temp_dir("deployments"), |args| {
        args.metrics_interval_s = Some(1)
    })
    .await;
    app.register_all(&sim).await;
    let (status, image) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/images",
            Some(json!({"name": "web-image", "disk_format": "raw", "container_format": "bare"})),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    let image_id = image["id"].as_str().unwrap_or_default().to_owned();
    let uploaded = app
        .http
        .put(format!(
            "{}/api/v1/sites/site-001/images/{image_id}/file",
            app.url
        ))
        .bearer_auth(app.admin_token().await)
        .header("content-type", "application/octet-stream")
        .body(vec![3u8; 32 * 1024])
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload: {e}"));
    assert!(uploaded.status().is_success());

    for (body, field) in [
        (
            json!({"name": "Bad Name", "flavor": "m1.tiny", "image_name": "x", "count": 1, "placement": {"policy": "spread"}}),
            "name",
        ),
        (
            json!({"name": "ok", "flavor": "m1.tiny", "count": 1, "placement": {"policy": "spread"}}),
            "image",
        ),
        (
            json!({"name": "ok", "flavor": "m1.tiny", "image_name": "x", "count": 1, "placement": {"policy": "random"}}),
            "placement.policy",
        ),
        (
            json!({"name": "ok", "flavor": "m1.tiny", "image_name": "x", "count": 1, "placement": {"policy": "spread"}, "grace_s": 0}),
            "grace_s",
        ),
    ] {
        let (status, refused) = app
            .admin(Method::POST, "/api/v1/deployments", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(refused["error"]["fields"][0]["field"], field, "{refused}");
    }

    let (status, created) = app
        .admin(
            Method::POST,
            "/api/v1/deployments",
            Some(json!({"name": "web", "flavor": "m1.tiny", "image": {"site": "site-001", "image_id": image_id},
                        "count": 2, "networks": "none", "grace_s": 2,
                        "placement": {"policy": "spread", "constraints": {"max_per_site": 1}}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let (status, again) = app
        .admin(
            Method::POST,
            "/api/v1/deployments",
            Some(created["spec"].clone()),
        )
        .await;
    assert_eq!(status, 409, "one deployment per name: {again}");

    let first = eventually(Duration::from_secs(60), "two servers serving", || async {
        let shown = deployment(&app, &id).await;
        (shown["serving"] == 2).then_some(shown)
    })
    .await;
    let at: Vec<String> = serving_at(&first).into_iter().map(|(s, _)| s).collect();
    assert_eq!(at.len(), 2, "one per site: {first}");
    let dark = at[0].clone();
    let spare = ["site-001", "site-002", "site-003"]
        .into_iter()
        .find(|s| !at.iter().any(|a| a == s))
        .unwrap_or_default()
        .to_owned();

    // A site goes dark: after the grace period its server is replaced on the spare site.
    sim.set_fault(&dark, Fault::Down);
    let replaced = eventually(Duration::from_secs(60), "a replacement serving", || async {
        let shown = deployment(&app, &id).await;
        let serving = serving_at(&shown);
        (shown["serving"] == 2 && serving.iter().any(|(s, _)| *s == spare)).then_some(shown)
    })
    .await;
    assert!(
        events(&replaced)
            .iter()
            .any(|e| e.contains("booting 1")
                && e.contains(&format!("replacing the servers of {dark}"))),
        "{replaced}"
    );
    let dark_site = replaced["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["site"] == dark.as_str())
        .cloned()
        .unwrap_or_default();
    assert!(dark_site["unreachable_since"].is_string(), "{replaced}");
    assert_eq!(dark_site["servers"][0]["status"], "UNKNOWN", "{replaced}");

    // It returns with its server still running: a surplus, reported and kept.
    sim.set_fault(&dark, Fault::Up);
    let back = eventually(Duration::from_secs(60), "the surplus reported", || async {
        let shown = deployment(&app, &id).await;
        let kept = events(&shown)
            .iter()
            .any(|e| e.contains("kept (surplus rule keep)"));
        (shown["serving"] == 3 && shown["surplus"] == 1 && kept).then_some(shown)
    })
    .await;
    assert!(
        events(&back)
            .iter()
            .any(|e| e == &format!("{dark} answers again")),
        "{back}"
    );
    assert_eq!(
        servers_at(&app, &dark, &id).await.len(),
        1,
        "nothing serving was deleted"
    );
    assert_eq!(servers_at(&app, &spare, &id).await.len(), 1);

    // The stated rule: the newest (the replacement) goes, the returned server stays.
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/deployments/{id}"),
            Some(json!({"surplus": "remove_newest"})),
        )
        .await;
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(30),
        "the replacement removed",
        || async { servers_at(&app, &spare, &id).await.is_empty().then_some(()) },
    )
    .await;
    assert_eq!(servers_at(&app, &dark, &id).await.len(), 1);

    // Scale down to one, then delete: every server goes, then the deployment.
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/deployments/{id}"),
            Some(json!({"count": 1})),
        )
        .await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(30), "one server left", || async {
        let shown = deployment(&app, &id).await;
        (shown["serving"] == 1 && shown["surplus"] == 0).then_some(())
    })
    .await;
    let (status, deleting) = app
        .admin(Method::DELETE, &format!("/api/v1/deployments/{id}"), None)
        .await;
    assert_eq!(status, 202, "{deleting}");
    assert_eq!(deleting["state"], "deleting");
    eventually(Duration::from_secs(30), "the deployment gone", || async {
        let (status, _) = app
            .admin(Method::GET, &format!("/api/v1/deployments/{id}"), None)
            .await;
        (status == 404).then_some(())
    })
    .await;
    for site in ["site-001", "site-002", "site-003"] {
        assert!(servers_at(&app, site, &id).await.is_empty(), "{site}");
    }
}
