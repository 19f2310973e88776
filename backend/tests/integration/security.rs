//! The attacks of an outside review, each replayed against the real console: tokens
//! minting tokens, hostile clouds.yaml files, hostile sites, sign-in floods, forged
//! forwarding headers, reused usernames, oversized input, and a damaged data dir.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    site_body, spawn_app, spawn_app_in, spawn_app_with, temp_dir, TestApp, ADMIN_PASSWORD,
};

/// Serves `router` on a free loopback port: a stand-in for a hostile site.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

async fn create_token(app: &TestApp, bearer: &str, body: Value) -> (u16, Value) {
    app.call(
        Some(bearer),
        Method::POST,
        "/api/v1/auth/tokens",
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_token_never_mints_a_wider_token_nor_manages_its_owners_others() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (status, narrow) = create_token(
        &app,
        &admin,
        json!({"name": "narrow", "role": "viewer", "scope": {"sites": ["site-001"]}}),
    )
    .await;
    assert_eq!(status, 201, "{narrow}");
    let narrow_token = narrow["token"].as_str().unwrap_or_default().to_owned();
    let (status, full) = create_token(&app, &admin, json!({"name": "full"})).await;
    assert_eq!(status, 201, "{full}");
    let full_token = full["token"].as_str().unwrap_or_default().to_owned();
    let full_id = full["info"]["id"].as_str().unwrap_or_default().to_owned();

    // The attack: a narrowed token asks for a token with its owner's full powers.
    let (status, body) = create_token(&app, &narrow_token, json!({"name": "minted"})).await;
    assert_eq!(status, 403, "a token minted a token: {body}");
    let (status, body) = create_token(&app, &full_token, json!({"name": "minted"})).await;
    assert_eq!(status, 403, "tokens do not create tokens at all: {body}");

    // Nor does it see or revoke its owner's other tokens.
    let (status, body) = app
        .call(
            Some(&narrow_token),
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{full_id}"),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app
        .call(Some(&full_token), Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(status, 200, "the other token still works");
    let (_, listed) = app
        .call(
            Some(&narrow_token),
            Method::GET,
            "/api/v1/auth/tokens?all=true",
            None,
        )
        .await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["narrow"], "a token lists only itself: {listed}");
    // It may end itself.
    let narrow_id = narrow["info"]["id"].as_str().unwrap_or_default();
    let (status, _) = app
        .call(
            Some(&narrow_token),
            Method::DELETE,
            &format!("/api/v1/auth/tokens/{narrow_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // An admin narrowed to some sites cannot act on the whole console.
    let scoped_admin = app
        .user_token("scoped-admin", "admin", json!({"sites": ["site-001"]}))
        .await;
    let (status, body) = app
        .call(
            Some(&scoped_admin),
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({"username": "escape", "password": "escape-password-1", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn a_clouds_yaml_naming_files_is_refused_per_cloud_and_nothing_is_read() {
    let app = spawn_app().await;
    let fifo = app.data_dir.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let yaml = format!(
        "clouds:\n\
         \x20 zero:\n    auth: {{auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: x}}\n    cacert: /dev/zero\n\
         \x20 fifo:\n    auth: {{auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: x}}\n    cacert: {}\n\
         \x20 missing:\n    auth: {{auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: x}}\n    cacert: /no/such/file\n\
         \x20 plain:\n    auth: {{auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: x}}\n",
        fifo.display()
    );
    let (_, report) = app.import_clouds(&yaml, "").await;
    assert_eq!(report["created"], json!(["plain"]), "{report}");
    let failed = report["failed"].as_array().cloned().unwrap_or_default();
    assert_eq!(failed.len(), 3, "{report}");
    let reasons: Vec<&str> = failed.iter().filter_map(|f| f["reason"].as_str()).collect();
    assert!(
        reasons
            .iter()
            .all(|r| *r == reasons[0] && r.contains("ca_bundle")),
        "one reason, which says nothing of the console's files: {reasons:?}"
    );
    let (status, _) = app.call(None, Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);
}

/// A Keystone that answers a sign-in with `megabytes` of padding.
fn bloated_keystone(megabytes: usize) -> axum::Router {
    axum::Router::new().route(
        "/v3/auth/tokens",
        post(move || async move {
            let chunks = (0..megabytes * 16)
                .map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 64 * 1024])));
            let mut headers = HeaderMap::new();
            headers.insert(
                "x-subject-token",
                "hostile".parse().unwrap_or_else(|e| panic!("{e}")),
            );
            (
                StatusCode::CREATED,
                headers,
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response()
        }),
    )
}

#[tokio::test]
async fn a_site_answering_with_a_huge_body_is_that_sites_error() {
    let hostile = serve(bloated_keystone(300)).await;
    let app = spawn_app().await;
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(site_body("bloated", &format!("{hostile}/v3"), "secret")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .admin(Method::GET, "/api/v1/sites/bloated/flavors", None)
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "site_bad_response", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("larger than 8 MiB"), "{message}");
}

#[tokio::test]
async fn site_sign_in_never_follows_a_redirect_with_the_password() {
    let stolen = Arc::new(AtomicUsize::new(0));
    let thief = serve(axum::Router::new().fallback({
        let stolen = stolen.clone();
        move |body: Bytes| async move {
            if !body.is_empty() {
                stolen.fetch_add(1, Ordering::SeqCst);
            }
            StatusCode::CREATED
        }
    }))
    .await;
    let redirecting = serve(axum::Router::new().route(
        "/v3/auth/tokens",
        post(move || async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [("location", format!("{thief}/v3/auth/tokens"))],
            )
        }),
    ))
    .await;
    let app = spawn_app().await;
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(site_body(
                "redirecting",
                &format!("{redirecting}/v3"),
                "secret",
            )),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .admin(Method::GET, "/api/v1/sites/redirecting/flavors", None)
        .await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("does not follow redirects"), "{message}");
    assert_eq!(
        stolen.load(Ordering::SeqCst),
        0,
        "the password went to the redirect's target"
    );
}

async fn login_status(
    app: &TestApp,
    username: &str,
    password: &str,
    forwarded: Option<&str>,
) -> u16 {
    let mut request = app
        .http
        .post(format!("{}/api/v1/auth/login", app.url))
        .json(&json!({"username": username, "password": password}));
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_counted_before_they_are_checked() {
    let app = spawn_app().await;
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move { login_status(app, "admin", &format!("wrong-guess-{i:04}"), None).await }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 40, "{statuses:?}");
    assert!(
        checked <= 5,
        "{checked} of 40 simultaneous guesses were checked"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_lockout_leaves_the_others_alone() {
    let proxied = spawn_app_with(&temp_dir("proxied"), |args| {
        args.trusted_proxies = Some(vec!["127.0.0.1".into()]);
    })
    .await;
    for _ in 0..5 {
        login_status(&proxied, "admin", "not-the-password", Some("203.0.113.5")).await;
    }
    let attacker = login_status(&proxied, "admin", ADMIN_PASSWORD, Some("203.0.113.5")).await;
    assert_eq!(attacker, 429, "the guessing client is locked out");
    let admin = login_status(&proxied, "admin", ADMIN_PASSWORD, Some("198.51.100.9")).await;
    assert_eq!(admin, 200, "the real admin, elsewhere, signs in");

    // Without a trusted proxy the header is the client's own word, and ignored.
    let direct = spawn_app().await;
    for i in 0..5 {
        let forged = format!("192.0.2.{i}");
        login_status(&direct, "admin", "not-the-password", Some(&forged)).await;
    }
    let evading = login_status(&direct, "admin", ADMIN_PASSWORD, Some("192.0.2.99")).await;
    assert_eq!(
        evading, 429,
        "a forged X-Forwarded-For does not escape the lockout"
    );
}

#[tokio::test]
async fn sign_in_floods_hash_at_most_one_password_per_core() {
    let app = spawn_app().await;
    let attempts = (0..60).map(|i| {
        let app = &app;
        async move { login_status(app, &format!("nobody-{i}"), "some-long-password", None).await }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let peak = overcast::auth::peak_concurrent_hashes();
    let slots = overcast::auth::hashing_slots();
    assert!(
        peak >= 1 && peak <= slots,
        "{peak} hashes ran at once, the bound is {slots}"
    );
}

#[tokio::test]
async fn a_session_does_not_pass_to_a_new_account_of_the_same_name() {
    let app = spawn_app().await;
    let old = app
        .user_token("tmpuser", "operator", json!({"all": true}))
        .await;
    let (_, users) = app.admin(Method::GET, "/api/v1/admin/users", None).await;
    let id = users["items"]
        .as_array()
        .and_then(|items| items.iter().find(|u| u["username"] == "tmpuser"))
        .and_then(|u| u["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (status, _) = app
        .admin(Method::DELETE, &format!("/api/v1/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/admin/users",
            Some(
                json!({"username": "tmpuser", "password": "a-new-long-password", "role": "admin"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .call(Some(&old), Method::GET, "/api/v1/auth/me", None)
        .await;
    assert_eq!(
        status, 401,
        "the deleted account's token works for the new one: {body}"
    );
}

#[tokio::test]
async fn a_session_refreshes_once_however_many_ask_at_once() {
    let app = spawn_app().await;
    let token = app
        .user_token("refresher", "viewer", json!({"all": true}))
        .await;
    let refreshes = (0..8).map(|_| {
        let (app, token) = (&app, token.clone());
        async move {
            app.call(Some(&token), Method::POST, "/api/v1/auth/refresh", None)
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(refreshes).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

fn clouds(count: usize) -> String {
    let mut yaml = String::from("clouds:\n");
    for i in 0..count {
        yaml.push_str(&format!(
            "  edge-{i:05}:\n    auth: {{auth_url: 'http://127.0.0.1:9/v3', username: admin, password: pw, project_name: admin}}\n    region_name: RegionOne\n"
        ));
    }
    yaml
}

#[tokio::test]
async fn ten_thousand_clouds_import_in_one_request() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    let (status, report) = app.import_clouds(&clouds(10_000), "").await;
    eprintln!("10,000 clouds imported in {:?}", started.elapsed());
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"].as_array().map(Vec::len), Some(10_000));
    let (_, sites) = app.admin(Method::GET, "/api/v1/sites", None).await;
    assert_eq!(sites["items"].as_array().map(Vec::len), Some(10_000));
}

#[tokio::test]
async fn every_stored_string_is_bounded_and_route_names_are_reserved() {
    let app = spawn_app().await;
    let mut site = site_body("long-region", "http://127.0.0.1:9/v3", "secret");
    site["region"] = json!("r".repeat(300));
    let (status, body) = app.admin(Method::POST, "/api/v1/sites", Some(site)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "region", "{body}");

    // Through an import, whose body may be 32 MiB.
    let yaml = format!(
        "clouds:\n  huge:\n    auth: {{auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: x}}\n    region_name: {}\n",
        "r".repeat(1_000_000)
    );
    let (_, report) = app.import_clouds(&yaml, "").await;
    assert_eq!(
        report["failed"][0]["fields"][0]["field"], "region",
        "{report}"
    );

    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/sites",
            Some(site_body("import", "http://127.0.0.1:9/v3", "secret")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["fields"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("reserved"), "{body}");
}

/// Sends `head` as it is (HTTP clients refuse to build such requests) and returns the
/// status and the body of the answer.
async fn raw_request(app: &TestApp, head: String) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The server may answer and close before reading the whole request.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())))
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn the_servers_own_limits_answer_in_the_contracts_json() {
    let app = spawn_app().await;
    let sites = vec!["site-001"; 20_000].join(",");
    let (status, body) = raw_request(
        &app,
        format!("GET /api/v1/servers?sites={sites} HTTP/1.1\r\nhost: console\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["error"]["code"], "uri_too_long", "{body}");

    let padding = "p".repeat(500_000);
    let (status, body) = raw_request(
        &app,
        format!("GET /api/v1/sites HTTP/1.1\r\nhost: console\r\nx-padding: {padding}\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["error"]["code"], "headers_too_large", "{body}");

    let (status, body) = raw_request(&app, "NOT HTTP AT ALL\r\n\r\n".into()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_request", "{body}");
}

#[tokio::test]
async fn one_password_policy_holds_everywhere() {
    let app = spawn_app().await;
    for password in [
        " ".repeat(12),
        "\0".repeat(12),
        "Password1234".into(),
        "short".into(),
    ] {
        let (status, body) = app
            .admin(
                Method::POST,
                "/api/v1/admin/users",
                Some(json!({"username": "weak", "password": password, "role": "viewer"})),
            )
            .await;
        assert_eq!(status, 400, "{password:?} was accepted: {body}");
        assert_eq!(body["error"]["fields"][0]["field"], "password", "{body}");
    }
    let weak_admin = overcast::app::Application::build(
        overcast::config::Settings::load(&overcast::config::ServeArgs {
            listen: Some("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))),
            data_dir: Some(temp_dir("weak-admin")),
            admin_password: Some("a".into()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let error = weak_admin
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("OVERCAST_ADMIN_PASSWORD"), "{error}");
}

#[tokio::test]
async fn a_damaged_data_dir_stops_the_start_at_once_with_the_cause() {
    let build = |dir: std::path::PathBuf, key: &str| {
        let settings = overcast::config::Settings::load(&overcast::config::ServeArgs {
            listen: Some("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))),
            data_dir: Some(dir),
            admin_password: Some(ADMIN_PASSWORD.into()),
            secret_key: Some(key.into()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        overcast::app::Application::build(settings)
    };
    let corrupt = temp_dir("corrupt");
    std::fs::write(corrupt.join("overcast.db"), vec![0x5a; 8192]).unwrap_or_default();
    let started = std::time::Instant::now();
    let error = build(corrupt, "key")
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("not a database"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    let dir = temp_dir("rekeyed");
    let first = build(dir.clone(), "the first key").await;
    assert!(first.is_ok(), "{:?}", first.err());
    drop(first);
    let error = build(dir, "another key")
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(error.contains("OVERCAST_SECRET_KEY"), "{error}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_companions_are_private_files() {
    use std::os::unix::fs::PermissionsExt;
    if crate::helpers::on_postgres() {
        // The files are SQLite's; a PostgreSQL server guards its own data directory.
        return;
    }
    let dir = temp_dir("modes");
    let app = spawn_app_in(&dir).await;
    // A write, so that the WAL and shared-memory files exist.
    app.user_token("moder", "viewer", json!({"all": true}))
        .await;
    for name in ["overcast.db", "overcast.db-wal", "overcast.db-shm"] {
        let mode = std::fs::metadata(dir.join(name))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
}

#[tokio::test]
async fn a_misspelled_field_is_refused_not_dropped() {
    // A registered site, so that without the check the job would be accepted.
    let sim = crate::helpers::start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let cases = [
        (
            "/api/v1/jobs",
            json!({"kind": "flavor.create", "targets": {"sites": ["site-001"]},
                   "params": {"name": "f", "vcpus": 1, "ram_mb": 64, "disk_gb": 1},
                   "policy": {"max_parallel": 4}}),
            "policy",
        ),
        (
            "/api/v1/jobs",
            json!({"kind": "flavor.create", "targets": {"sites": ["site-001"]},
                   "params": {"name": "f", "vcpus": 1, "ram": 64, "disk_gb": 1}}),
            "params.ram",
        ),
        (
            "/api/v1/sites",
            json!({"name": "typo", "auth_url": "http://127.0.0.1:9/v3", "lables": {"a": "b"},
                   "credentials": {"type": "password", "username": "u", "password": "p", "project_name": "x"}}),
            "lables",
        ),
        (
            "/api/v1/admin/users",
            json!({"username": "typo", "password": "a-long-password-1", "rol": "admin", "role": "viewer"}),
            "rol",
        ),
        (
            "/api/v1/auth/tokens",
            json!({"name": "typo", "scopes": {"all": true}}),
            "scopes",
        ),
    ];
    for (path, body, field) in cases {
        let (status, answer) = app.admin(Method::POST, path, Some(body)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(
            answer["error"]["fields"][0]["field"], field,
            "{path}: {answer}"
        );
    }
    let (status, _) = app.import_clouds("clouds: {}\n", "?lables=a=b").await;
    assert_eq!(status, 400);
}
