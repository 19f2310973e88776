use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{site_body, spawn_app, ADMIN_PASSWORD};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let health: Value = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(health["status"], "ok");
    let ready = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn login_issues_a_bearer_token() {
    let app = spawn_app().await;
    let response = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
}

#[tokio::test]
async fn bad_logins_are_refused_the_same_way() {
    let app = spawn_app().await;
    for (user, password) in [("admin", "wrong"), ("nobody", "wrong")] {
        let response = app.login(user, password).await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(
            body,
            json!({"error": {"code": "unauthenticated", "message": "invalid username or password"}})
        );
    }
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/auth/login", app.url);
    let missing = app
        .http
        .post(&url)
        .json(&json!({"username": "admin"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "invalid_input");
    assert_eq!(body["error"]["fields"][0]["field"], "password", "{body}");

    let syntax = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(syntax.status(), 400);
    let body: Value = syntax.json().await.unwrap_or_default();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("malformed JSON")),
        "{body}"
    );

    let wrong_type = app
        .http
        .post(&url)
        .body("{}")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wrong_type.status(), 415);

    let huge = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn the_api_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/sites", app.url);
    let none = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.status(), 401);
    let garbage = app
        .http
        .get(&url)
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(garbage.status(), 401);
    let body: Value = garbage.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn unknown_endpoints_and_methods_answer_in_json() {
    let app = spawn_app().await;
    let (status, body) = app.admin(Method::GET, "/api/v1/no-such-thing", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = app.admin(Method::PUT, "/api/v1/sites", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn sites_are_registered_listed_shown_and_removed() {
    let app = spawn_app().await;
    let (status, site) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(site_body(
                "edge-1",
                "https://keystone.example:5000/v3",
                "pw",
            )),
        )
        .await;
    assert_eq!(status, 201, "{site}");
    assert_eq!(site["name"], "edge-1");
    assert_eq!(site["state"], "unknown");
    assert_eq!(site["labels"], json!({"region": "eu"}));
    assert!(
        site.get("credentials").is_none(),
        "credentials are write-only"
    );

    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(site_body("edge-1", "https://other.example/v3", "pw")),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    let (status, list) = app.admin(Method::GET, "/api/v1/sites", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    let (status, shown) = app.admin(Method::GET, "/api/v1/sites/edge-1", None).await;
    assert_eq!(
        (status, shown["auth_url"].as_str()),
        (200, Some("https://keystone.example:5000/v3"))
    );

    let (status, _) = app
        .admin(Method::DELETE, "/api/v1/sites/edge-1", None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = app.admin(Method::GET, "/api/v1/sites/edge-1", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn invalid_sites_name_every_field_at_fault() {
    let app = spawn_app().await;
    let body = json!({
        "name": "Not A Name", "auth_url": "https://user:pw@keystone.example/v3", "labels": {"tier": ""},
        "credentials": {"type": "password", "username": "", "password": "x", "project_name": "admin"}
    });
    let (status, answer) = app.admin(Method::POST, "/api/v1/sites", Some(body)).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = answer["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["name", "auth_url", "labels.tier", "credentials.username"]
    );

    let (status, answer) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(json!({"name": "x", "auth_url": "http://a", "credentials": {"type": "kerberos"}})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["fields"][0]["field"], "credentials.type",
        "{answer}"
    );
}

#[tokio::test]
async fn site_credentials_are_never_stored_or_shown_in_clear() {
    let app = spawn_app().await;
    let secret = "pw-7f3a9c1e-never-in-clear";
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(site_body("edge-2", "https://keystone.example/v3", secret)),
        )
        .await;
    assert_eq!(status, 201);
    assert!(!body.to_string().contains(secret));
    let (_, list) = app.admin(Method::GET, "/api/v1/sites", None).await;
    assert!(!list.to_string().contains(secret));
    if crate::helpers::on_postgres() {
        // No files here: every stored column of every site is read back instead.
        let rows = app.state.store.list_sites().await.unwrap_or_default();
        assert!(!rows.is_empty());
        assert!(!rows.iter().any(|r| format!("{r:?}").contains(secret)));
        return;
    }
    // SQLite keeps recent writes in the WAL file, so read every file of the database.
    let mut scanned = 0;
    for entry in std::fs::read_dir(&app.data_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("overcast.db")
        {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            scanned += bytes.len();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the password",
                entry.path().display()
            );
        }
    }
    assert!(scanned > 0, "the database files were read");
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap_or_default();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/sites/{site}/servers"]["post"]["requestBody"].is_object());
    assert!(doc["paths"]["/api/v1/sites/import"]["post"].is_object());
}

#[tokio::test]
async fn only_the_first_start_applies_the_configured_admin_password() {
    let dir = crate::helpers::temp_dir("first-start");
    let build = |password: &str| {
        let settings = overcast::config::Settings::load(&overcast::config::ServeArgs {
            listen: Some("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))),
            data_dir: Some(dir.clone()),
            admin_password: Some(password.into()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        overcast::app::Application::build(settings)
    };
    let first = build("the-first-password")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(first.created_admin, "the first start creates admin with it");
    drop(first);
    let second = build("another-password-later")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        !second.created_admin,
        "a later start keeps the password in force, and says so"
    );
}
