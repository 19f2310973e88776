//! Who may do what: roles, site scopes, API tokens, sessions, lockout, the audit log,
//! and hostile input. The RBAC matrix walks the OpenAPI document, which is generated
//! from the same route table as the docs, so a new endpoint cannot escape it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, start_sim, TestApp, ADMIN_PASSWORD};

/// The status of a request, without reading the body (event streams never end).
async fn status_of(app: &TestApp, token: Option<&str>, method: &Method, path: &str) -> u16 {
    let mut request = app
        .http
        .request(method.clone(), format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if *method != Method::GET && *method != Method::DELETE {
        request = request.json(&json!({}));
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The test's own rules (not the server's): what the least role is for each operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Anyone,
    Viewer,
    Operator,
    Admin,
}

const PUBLIC: [&str; 4] = [
    "/healthz",
    "/readyz",
    "/api/v1/auth/login",
    "/api/v1/openapi.json",
];

fn need(method: &str, path: &str) -> Need {
    if PUBLIC.contains(&path) {
        return Need::Anyone;
    }
    let own_account = path.starts_with("/api/v1/auth/");
    // A replication policy acts on whatever sites its selection matches, later ones too:
    // beyond any scope, like registering sites.
    let registration = path == "/api/v1/sites"
        || path == "/api/v1/sites/import"
        || path == "/api/v1/sites/{site}"
        || path.starts_with("/api/v1/images/policies");
    if path.starts_with("/api/v1/admin/") {
        Need::Admin
    } else if method == "get" || own_account {
        Need::Viewer
    } else if registration {
        Need::Admin
    } else {
        Need::Operator
    }
}

fn concrete(path: &str, site: &str) -> String {
    path.replace("{site}", site)
        .replace("{id}", "no-such-id")
        .replace("{project}", "admin")
}

async fn openapi_operations(app: &TestApp) -> Vec<(String, String)> {
    let (status, doc) = app
        .call(None, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(status, 200);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((method.to_owned(), path.clone()));
            }
        }
    }
    assert!(
        operations.len() > 60,
        "the document lists {} operations",
        operations.len()
    );
    operations
}

#[tokio::test]
async fn every_endpoint_lets_in_exactly_the_roles_and_scopes_it_should() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    // site-002 is in region us; every registered site starts in region eu.
    let (status, body) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/site-002",
            Some(json!({"labels": {"region": "us"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let viewer = app
        .user_token("viewer-1", "viewer", json!({"all": true}))
        .await;
    let operator_eu = app
        .user_token("operator-eu", "operator", json!({"selector": "region=eu"}))
        .await;

    let mut checked = 0;
    for (method_name, path) in openapi_operations(&app).await {
        let method =
            Method::from_bytes(method_name.to_uppercase().as_bytes()).unwrap_or(Method::GET);
        let need = need(&method_name, &path);
        let inside = concrete(&path, "site-001");
        let outside = concrete(&path, "site-002");
        if need == Need::Anyone {
            continue;
        }
        let what = format!("{method_name} {path}");
        assert_eq!(
            status_of(&app, None, &method, &inside).await,
            401,
            "anonymous {what}"
        );
        assert_eq!(
            status_of(&app, Some("not-a-token"), &method, &inside).await,
            401,
            "garbage token {what}"
        );

        // Signing out or refreshing would end the session the rest of the walk uses;
        // those two are checked in `sessions_can_be_refreshed_and_signed_out…`.
        if path == "/api/v1/auth/logout" || path == "/api/v1/auth/refresh" {
            checked += 1;
            continue;
        }
        let as_viewer = status_of(&app, Some(&viewer), &method, &inside).await;
        if need > Need::Viewer {
            assert_eq!(as_viewer, 403, "viewer {what}");
        } else {
            assert!(
                ![401, 403].contains(&as_viewer),
                "viewer {what}: {as_viewer}"
            );
        }
        let as_operator = status_of(&app, Some(&operator_eu), &method, &inside).await;
        if need > Need::Operator {
            assert_eq!(as_operator, 403, "operator {what}");
        } else {
            assert!(
                ![401, 403].contains(&as_operator),
                "operator in scope {what}: {as_operator}"
            );
        }
        if path.contains("{site}") {
            let out_of_scope = status_of(&app, Some(&operator_eu), &method, &outside).await;
            assert_eq!(out_of_scope, 403, "operator out of scope {what}");
        }
        checked += 1;
    }
    assert!(checked > 60, "{checked} operations checked");
}

#[tokio::test]
async fn a_scoped_operator_sees_and_touches_only_the_sites_of_its_scope() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (status, _) = app
        .admin(
            Method::PATCH,
            "/api/v1/sites/site-003",
            Some(json!({"labels": {"region": "us"}})),
        )
        .await;
    assert_eq!(status, 200);
    let eu = app
        .user_token("eu-ops", "operator", json!({"selector": "region=eu"}))
        .await;
    let call = |method: Method, path: &'static str, body: Option<Value>| {
        let (app, eu) = (&app, eu.clone());
        async move { app.call(Some(&eu), method, path, body).await }
    };

    let (_, sites) = call(Method::GET, "/api/v1/sites", None).await;
    let names: Vec<&str> = sites["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["site-001", "site-002"]);
    let (_, me) = call(Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(me["scope"], json!({"selector": "region=eu"}));

    let (status, flavors) = call(Method::GET, "/api/v1/flavors", None).await;
    assert_eq!(status, 200);
    let answered: Vec<&String> = flavors["sites"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        answered,
        ["site-001", "site-002"],
        "results limited to the scope"
    );
    let (status, _) = call(Method::GET, "/api/v1/flavors?sites=site-003", None).await;
    assert_eq!(
        status, 403,
        "naming a site outside the scope is refused, not dropped"
    );

    let flavor = json!({"name": "m1.scoped", "vcpus": 1, "ram_mb": 512, "disk_gb": 1});
    for targets in [
        json!({"all": true}),
        json!({"selector": "region=us"}),
        json!({"sites": ["site-001", "site-003"]}),
    ] {
        let (status, body) = call(
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"kind": "flavor.create", "targets": targets, "params": flavor})),
        )
        .await;
        assert_eq!(status, 403, "{targets}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("site-003")),
            "{body}"
        );
    }
    let (status, job) = call(Method::POST, "/api/v1/jobs", Some(json!({"kind": "flavor.create", "targets": {"selector": "region=eu"}, "params": flavor}))).await;
    assert_eq!(status, 202, "{job}");

    // A job over a site outside the scope is invisible to the scoped operator.
    let (_, admin_job) = app
        .admin(Method::POST, "/api/v1/jobs", Some(json!({"kind": "project.create", "targets": {"all": true}, "params": {"name": "p"}})))
        .await;
    let hidden = format!(
        "/api/v1/jobs/{}",
        admin_job["id"].as_str().unwrap_or_default()
    );
    assert_eq!(app.call(Some(&eu), Method::GET, &hidden, None).await.0, 404);
    let (_, list) = call(Method::GET, "/api/v1/jobs", None).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert_eq!(ids, [job["id"].as_str().unwrap_or_default()]);
}

#[tokio::test]
async fn api_tokens_are_shown_once_scoped_and_revocable() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let operator = app
        .user_token("script-owner", "operator", json!({"all": true}))
        .await;

    let (status, created) = app
        .call(
            Some(&operator),
            Method::POST,
            "/api/v1/auth/tokens",
            Some(json!({"name": "ci", "role": "viewer", "scope": {"sites": ["site-001"]}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap_or_default().to_owned();
    assert!(token.starts_with("oc_") && token.len() > 40);
    let id = created["info"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // The token works, with its own narrower role and scope.
    let (status, me) = app
        .call(Some(&token), Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!((status, &me["role"]), (200, &json!("viewer")));
    assert_eq!(
        app.call(
            Some(&token),
            Method::GET,
            "/api/v1/sites/site-001/flavors",
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.call(
            Some(&token),
            Method::GET,
            "/api/v1/sites/site-002/flavors",
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.call(
            Some(&token),
            Method::POST,
            "/api/v1/sites/site-001/flavors",
            Some(json!({}))
        )
        .await
        .0,
        403
    );

    // Listed without the secret, with its last use.
    let (_, list) = app
        .call(Some(&operator), Method::GET, "/api/v1/auth/tokens", None)
        .await;
    let listed = list["items"][0].clone();
    assert_eq!(listed["name"], "ci");
    assert!(listed["last_used_at"].is_string(), "{listed}");
    assert!(
        !list.to_string().contains(&token),
        "the token is never shown again"
    );

    // Never more than the owner; sensible expiry.
    let (status, _) = app
        .call(
            Some(&operator),
            Method::POST,
            "/api/v1/auth/tokens",
            Some(json!({"name": "up", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .call(
            Some(&operator),
            Method::POST,
            "/api/v1/auth/tokens",
            Some(json!({"name": "x", "expires_in_days": 0})),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["fields"][0]["field"]),
        (400, &json!("expires_in_days"))
    );

    let (status, _) = app
        .call(
            Some(&operator),
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.call(Some(&token), Method::GET, "/api/v1/auth/me", None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn sessions_can_be_refreshed_and_signed_out_and_deleted_users_lose_access() {
    let app = spawn_app().await;
    let token = app
        .user_token("temp", "operator", json!({"all": true}))
        .await;
    let (status, refreshed) = app
        .call(Some(&token), Method::POST, "/api/v1/auth/refresh", None)
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let fresh = refreshed["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        app.call(Some(&token), Method::GET, "/api/v1/auth/me", None)
            .await
            .0,
        401,
        "the old token is revoked"
    );
    assert_eq!(
        app.call(Some(&fresh), Method::GET, "/api/v1/auth/me", None)
            .await
            .0,
        200
    );
    assert_eq!(
        app.call(Some(&fresh), Method::POST, "/api/v1/auth/logout", None)
            .await
            .0,
        204
    );
    assert_eq!(
        app.call(Some(&fresh), Method::GET, "/api/v1/auth/me", None)
            .await
            .0,
        401,
        "signed out"
    );

    let other = app
        .user_token("leaver", "viewer", json!({"all": true}))
        .await;
    let (_, users) = app.admin(Method::GET, "/api/v1/admin/users", None).await;
    let id = users["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["username"] == "leaver")
        .map(|u| u["id"].clone())
        .unwrap_or_default();
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/admin/users/{}", id.as_str().unwrap_or_default()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.call(Some(&other), Method::GET, "/api/v1/auth/me", None)
            .await
            .0,
        401,
        "a deleted user's token stops at once"
    );

    // The last admin stays.
    let (_, users) = app.admin(Method::GET, "/api/v1/admin/users", None).await;
    let admin_id = users["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["username"] == "admin")
        .map(|u| u["id"].clone())
        .unwrap_or_default();
    let path = format!(
        "/api/v1/admin/users/{}",
        admin_id.as_str().unwrap_or_default()
    );
    assert_eq!(
        app.admin(Method::PATCH, &path, Some(json!({"role": "viewer"})))
            .await
            .0,
        409
    );
    assert_eq!(app.admin(Method::DELETE, &path, None).await.0, 409);
}

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_account_out_for_that_client() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(
            app.login("admin", "wrong-password").await.status().as_u16(),
            401
        );
    }
    let locked = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        locked.status().as_u16(),
        429,
        "even the right password waits"
    );
    let body: Value = locked.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "too_many_requests");
    // Another username from the same client is not locked.
    assert_eq!(app.login("someone-else", "x").await.status().as_u16(), 401);
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_and_cannot_be_changed() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let viewer = app
        .user_token("auditee", "viewer", json!({"all": true}))
        .await;
    let (status, _) = app
        .call(
            Some(&viewer),
            Method::POST,
            "/api/v1/sites/site-001/flavors",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/flavors",
            Some(json!({"name": "m1.audit", "vcpus": 1, "ram_mb": 256, "disk_gb": 1})),
        )
        .await;
    assert_eq!(status, 201);
    let _ = app.login("admin", "wrong").await;

    let (status, log) = app.admin(Method::GET, "/api/v1/audit?limit=50", None).await;
    assert_eq!(status, 200, "{log}");
    let entries = log["items"].as_array().cloned().unwrap_or_default();
    let find = |actor: &str, action: &str, outcome: &str| {
        entries.iter().any(|e| {
            e["actor"] == actor
                && e["action"].as_str().is_some_and(|a| a.starts_with(action))
                && e["outcome"] == outcome
        })
    };
    assert!(
        find("auditee", "POST /api/v1/sites/site-001/flavors", "denied"),
        "{log}"
    );
    assert!(
        find("admin", "POST /api/v1/sites/site-001/flavors", "ok"),
        "{log}"
    );
    assert!(find("admin", "auth.login", "denied"), "{log}");
    assert!(entries.iter().any(|e| e["sites"] == json!(["site-001"])));

    // A non-admin reads only its own entries.
    let (_, own) = app
        .call(
            Some(&viewer),
            Method::GET,
            "/api/v1/audit?actor=admin",
            None,
        )
        .await;
    assert!(own["items"].as_array().is_some_and(|items| !items.is_empty() && items.iter().all(|e| e["actor"] == "auditee")), "{own}");
    // Exportable as JSON lines; never changed through the API.
    let export = app
        .http
        .get(format!("{}/api/v1/audit/export", app.url))
        .bearer_auth(app.admin_token().await)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let lines = export.text().await.unwrap_or_default();
    assert!(lines.lines().count() >= entries.len());
    assert!(lines
        .lines()
        .all(|l| serde_json::from_str::<Value>(l).is_ok()));
    assert_eq!(
        app.admin(Method::DELETE, "/api/v1/audit", None).await.0,
        405
    );
    assert_eq!(
        app.admin(Method::PUT, "/api/v1/audit", Some(json!([])))
            .await
            .0,
        405
    );
}

#[tokio::test]
async fn the_audit_log_filters_by_outcome_and_time_and_says_why_a_call_failed() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/flavors",
            Some(json!({"name": "m1.bad", "vcpus": "many"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/sites/site-001/flavors",
            Some(json!({"name": "m1.good", "vcpus": 1, "ram_mb": 64, "disk_gb": 0})),
        )
        .await;
    assert_eq!(status, 201);

    let items = |log: &Value| log["items"].as_array().cloned().unwrap_or_default();
    let (status, failed) = app
        .admin(Method::GET, "/api/v1/audit?outcome=failed", None)
        .await;
    assert_eq!(status, 200, "{failed}");
    let failed = items(&failed);
    assert!(!failed.is_empty() && failed.iter().all(|e| e["outcome"] == "failed"));
    let refused = failed
        .iter()
        .find(|e| e["action"] == "POST /api/v1/sites/site-001/flavors")
        .cloned()
        .unwrap_or_default();
    // The entry says why, in the words the caller got.
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("invalid_input: ") && d.contains("vcpus")),
        "{refused}"
    );
    let (_, ok) = app
        .admin(Method::GET, "/api/v1/audit?outcome=ok", None)
        .await;
    assert!(
        items(&ok)
            .iter()
            .all(|e| e["outcome"] == "ok" && e["detail"].is_null()),
        "{ok}"
    );

    // A time range in any offset: everything is after a past hour and before the next.
    let count = |log: &Value| log["items"].as_array().map_or(0, Vec::len);
    let (_, all) = app.admin(Method::GET, "/api/v1/audit", None).await;
    let (_, range) = app
        .admin(
            Method::GET,
            "/api/v1/audit?since=2020-01-01T01:00:00%2B01:00&until=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert!(count(&all) >= 2);
    assert_eq!(count(&range), count(&all), "{range}");
    let (_, future) = app
        .admin(
            Method::GET,
            "/api/v1/audit?since=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(count(&future), 0, "{future}");
    let (_, past) = app
        .admin(
            Method::GET,
            "/api/v1/audit?until=2020-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(count(&past), 0, "{past}");

    // Bad filters name the field.
    for (query, field) in [
        ("outcome=DROP%20TABLE", "outcome"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
    ] {
        let (status, body) = app
            .admin(Method::GET, &format!("/api/v1/audit?{query}"), None)
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["fields"][0]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn hostile_strings_are_kept_as_data() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let hostile = [
        "'; DROP TABLE users; --",
        "<script>alert(1)</script>",
        "\" OR \"1\"=\"1",
        "${jndi:ldap://x}",
    ];
    for (n, text) in hostile.iter().enumerate() {
        // As a label value: refused, naming the field.
        let (status, site) = app
            .admin(
                Method::PATCH,
                "/api/v1/sites/site-001",
                Some(json!({"labels": {"note": text}})),
            )
            .await;
        assert_eq!(status, 400, "{site}");
        assert_eq!(site["error"]["fields"][0]["field"], "labels.note");
        // In a flavor name sent to a site through a job.
        let name = format!("m{n}{text}");
        let (status, job) = app
            .admin(Method::POST, "/api/v1/jobs", Some(json!({"kind": "flavor.create", "targets": {"all": true}, "params": {"name": name, "vcpus": 1, "ram_mb": 64, "disk_gb": 0}})))
            .await;
        assert_eq!(status, 202, "{job}");
        assert_eq!(job["params"]["name"], name.as_str());
        // In filters.
        let query = urlencode(text);
        for path in [
            format!("/api/v1/audit?actor={query}"),
            format!("/api/v1/flavors?name={query}"),
            format!("/api/v1/jobs?state={query}"),
        ] {
            let (status, body) = app.admin(Method::GET, &path, None).await;
            assert!(status == 200 || status == 400, "{path}: {status} {body}");
        }
        let (status, _) = app
            .admin(
                Method::GET,
                &format!("/api/v1/flavors?selector=region%3D{query}"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        // As a username: refused with the field named, nothing stored.
        let (status, body) = app
            .admin(
                Method::POST,
                "/api/v1/admin/users",
                Some(
                    json!({"username": text, "password": "long-enough-password", "role": "viewer"}),
                ),
            )
            .await;
        assert_eq!(
            (status, &body["error"]["fields"][0]["field"]),
            (400, &json!("username")),
            "{text}"
        );
    }
    let (_, users) = app.admin(Method::GET, "/api/v1/admin/users", None).await;
    assert_eq!(
        users["items"].as_array().map(Vec::len),
        Some(1),
        "still only the admin: {users}"
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
