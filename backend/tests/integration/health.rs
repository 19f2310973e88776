use std::time::Duration;

use overcast::sim::Fault;
use reqwest::Method;

use crate::helpers::{eventually, spawn_app, start_sim};

async fn state_of(app: &crate::helpers::TestApp, site: &str) -> String {
    let (_, body) = app
        .admin(Method::GET, &format!("/api/v1/sites/{site}"), None)
        .await;
    body["state"].as_str().unwrap_or_default().to_owned()
}

/// Registers the simulator's first site under another name, password or region.
async fn register_first_as(
    app: &crate::helpers::TestApp,
    sim: &overcast::sim::Simulator,
    name: &str,
    password: &str,
    region: &str,
) {
    let cloud = sim.cloud_entries("secret").remove(0);
    let mut body = crate::helpers::site_body(name, &cloud.auth_url, password);
    body["region"] = region.into();
    let (status, created) = app.admin(Method::POST, "/api/v1/sites", Some(body)).await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn sites_go_unreachable_within_ten_seconds_and_come_back_within_five() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    for site in ["site-001", "site-002", "site-003"] {
        eventually(
            Duration::from_secs(10),
            &format!("{site} online"),
            || async { (state_of(&app, site).await == "online").then_some(()) },
        )
        .await;
    }
    let (_, shown) = app.admin(Method::GET, "/api/v1/sites/site-001", None).await;
    assert!(
        shown["capabilities"]["compute"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.1-2.")),
        "{shown}"
    );
    assert!(
        shown["latency_ms"].is_u64() && shown["last_seen"].is_string(),
        "{shown}"
    );

    sim.set_fault("site-002", Fault::Down);
    sim.set_fault("site-003", Fault::Blackhole);
    for site in ["site-002", "site-003"] {
        eventually(
            Duration::from_secs(10),
            &format!("{site} unreachable"),
            || async { (state_of(&app, site).await == "unreachable").then_some(()) },
        )
        .await;
    }
    assert_eq!(
        state_of(&app, "site-001").await,
        "online",
        "a healthy site is unaffected"
    );

    sim.set_fault("site-002", Fault::Up);
    eventually(Duration::from_secs(5), "site-002 back online", || async {
        (state_of(&app, "site-002").await == "online").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_site_with_refused_credentials_is_degraded_not_unreachable() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    register_first_as(&app, &sim, "wrong-pw", "not-the-password", "RegionOne").await;
    eventually(Duration::from_secs(10), "wrong-pw degraded", || async {
        (state_of(&app, "wrong-pw").await == "degraded").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_site_whose_compute_is_down_is_degraded_and_calls_to_it_answer_at_once() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    eventually(Duration::from_secs(10), "site-001 online", || async {
        (state_of(&app, "site-001").await == "online").then_some(())
    })
    .await;
    let site = sim
        .site("site-001")
        .unwrap_or_else(|| panic!("no site-001"));
    // Keystone answers, Nova does not: as after a restart that brought Keystone up first.
    site.set_service_down("compute", true);
    let reason = eventually(Duration::from_secs(30), "site-001 degraded", || async {
        let (_, shown) = app.admin(Method::GET, "/api/v1/sites/site-001", None).await;
        (shown["state"] == "degraded").then(|| shown["state_reason"].clone())
    })
    .await;
    assert!(
        reason.as_str().is_some_and(|r| r.contains("compute")),
        "{reason}"
    );
    let (status, body) = app
        .admin(Method::GET, "/api/v1/sites/site-001/servers", None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "site_service_down", "{body}");
    let (status, _) = app
        .admin(Method::GET, "/api/v1/sites/site-001/images", None)
        .await;
    assert_eq!(status, 200, "the other services still work");

    site.set_service_down("compute", false);
    eventually(Duration::from_secs(10), "site-001 online again", || async {
        (state_of(&app, "site-001").await == "online").then_some(())
    })
    .await;
    let (status, _) = app
        .admin(Method::GET, "/api/v1/sites/site-001/servers", None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refused_credentials_are_not_tried_again_at_every_call() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    register_first_as(&app, &sim, "wrong-pw", "not-the-password", "RegionOne").await;
    for _ in 0..20 {
        let (status, body) = app
            .admin(Method::GET, "/api/v1/sites/wrong-pw/flavors", None)
            .await;
        assert_eq!(body["error"]["code"], "site_auth_failed", "{status} {body}");
    }
    let asked = sim
        .site("site-001")
        .map(|s| s.token_requests.load(std::sync::atomic::Ordering::Relaxed))
        .unwrap_or_default();
    assert!(
        asked <= 2,
        "Keystone was asked {asked} times for 20 calls and the probes"
    );
}

#[tokio::test]
async fn a_site_registered_with_a_region_its_catalog_lacks_says_so() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    register_first_as(&app, &sim, "elsewhere", "secret", "RegionTwo").await;
    let reason = eventually(Duration::from_secs(10), "elsewhere degraded", || async {
        let (_, shown) = app
            .admin(Method::GET, "/api/v1/sites/elsewhere", None)
            .await;
        (shown["state"] == "degraded").then(|| shown["state_reason"].clone())
    })
    .await;
    let reason = reason.as_str().unwrap_or_default();
    assert!(
        reason.contains("region RegionTwo") && reason.contains("RegionOne"),
        "{reason}"
    );
}
