//! Site registration beyond the basics: clouds.yaml import, updates, TLS settings.

use overcast::sim::{SimArgs, Simulator};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{site_body, spawn_app, start_sim, temp_dir};

#[tokio::test]
async fn a_clouds_yaml_written_by_the_simulator_imports_and_works() {
    let dir = temp_dir("clouds");
    let path = dir.join("clouds.yaml");
    let mut args = SimArgs::in_process(3);
    args.clouds_yaml = Some(path.clone());
    let _sim = Simulator::start(&args)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let yaml = std::fs::read_to_string(&path).unwrap_or_default();
    let app = spawn_app().await;

    let (status, report) = app
        .import_clouds(&yaml, "?labels=region=eu,tier=edge")
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["created"],
        json!(["site-001", "site-002", "site-003"])
    );
    let (_, site) = app.admin(Method::GET, "/api/v1/sites/site-002", None).await;
    assert_eq!(site["labels"], json!({"region": "eu", "tier": "edge"}));
    let (status, servers) = app
        .admin(Method::GET, "/api/v1/sites/site-002/servers", None)
        .await;
    assert_eq!(status, 200, "imported credentials sign in: {servers}");

    // Importing again skips what exists; with replace=true it updates in place.
    let (_, again) = app.import_clouds(&yaml, "").await;
    assert_eq!(
        again["skipped"].as_array().map(Vec::len),
        Some(3),
        "{again}"
    );
    let (_, replaced) = app.import_clouds(&yaml, "?replace=true").await;
    assert_eq!(
        replaced["replaced"].as_array().map(Vec::len),
        Some(3),
        "{replaced}"
    );
}

#[tokio::test]
async fn a_bad_cloud_is_reported_and_the_others_are_imported() {
    let app = spawn_app().await;
    let yaml = r#"
clouds:
  good-one:
    auth: {auth_url: "https://good.example/v3", username: u, password: p, project_name: admin}
  no-url:
    auth: {username: u, password: p, project_name: admin}
  Bad_Name:
    auth: {auth_url: "https://x.example/v3", username: u, password: p, project_name: admin}
"#;
    let (status, report) = app.import_clouds(yaml, "").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], json!(["good-one"]));
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(failed, ["no-url", "Bad_Name"]);
    assert_eq!(report["failed"][1]["fields"][0]["field"], "name");

    let (status, body) = app.import_clouds("clouds: [not, a, mapping", "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{body}"
    );
    let (status, body) = app.import_clouds(yaml, "?labels=noequals").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn updated_credentials_take_effect_at_once() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    let cloud = sim.cloud_entries("secret").remove(0);
    app.admin(
        Method::POST,
        "/api/v1/sites",
        Some(site_body("edge", &cloud.auth_url, "wrong")),
    )
    .await;
    let (status, body) = app
        .admin(Method::GET, "/api/v1/sites/edge/flavors", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("site_auth_failed")),
        "{body}"
    );

    let fix = json!({"credentials": {"type": "password", "username": "admin", "password": "secret", "project_name": "admin"}, "labels": {"tier": "edge"}});
    let (status, site) = app
        .admin(Method::PATCH, "/api/v1/sites/edge", Some(fix))
        .await;
    assert_eq!(status, 200, "{site}");
    assert_eq!(site["labels"], json!({"tier": "edge"}));
    assert_eq!(
        site["auth_url"],
        cloud.auth_url.as_str(),
        "what the update left out stays"
    );
    let (status, body) = app
        .admin(Method::GET, "/api/v1/sites/edge/flavors", None)
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/edge",
            Some(json!({"auth_url": "ftp://nope"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["fields"][0]["field"].as_str()),
        (400, Some("auth_url"))
    );
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/edge",
            Some(json!({"colour": "red"})),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/missing",
            Some(json!({"region": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn tls_settings_are_checked() {
    let app = spawn_app().await;
    let mut body = site_body("tls-site", "https://keystone.example/v3", "pw");
    body["ca_bundle"] =
        json!("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    let (status, answer) = app
        .admin(Method::POST, "/api/v1/sites", Some(body.clone()))
        .await;
    assert_eq!(
        (status, answer["error"]["fields"][0]["field"].as_str()),
        (400, Some("ca_bundle")),
        "{answer}"
    );
    body["insecure"] = json!(true);
    let (status, answer) = app.admin(Method::POST, "/api/v1/sites", Some(body)).await;
    assert_eq!(
        (status, answer["error"]["fields"][0]["field"].as_str()),
        (400, Some("insecure")),
        "{answer}"
    );
    let mut lab = site_body("lab-site", "https://keystone.example/v3", "pw");
    lab["insecure"] = json!(true);
    let (status, answer) = app.admin(Method::POST, "/api/v1/sites", Some(lab)).await;
    assert_eq!(
        (status, answer["insecure"].as_bool()),
        (201, Some(true)),
        "{answer}"
    );
}
