use std::path::PathBuf;
use std::time::Duration;

use overcast::app::Application;
use overcast::config::{ServeArgs, Settings};
use overcast::sim::{SimArgs, Simulator};
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "integration-admin-pw";

pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "overcast-{prefix}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A console on a free port with its own SQLite database; stopped when dropped.
pub struct TestApp {
    pub url: String,
    /// The running console's state, for tests that drive a background pass directly.
    pub state: overcast::api::AppState,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    admin_token: tokio::sync::OnceCell<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(&temp_dir("app")).await
}

/// A console on a given data dir, e.g. to restart one on the same database.
pub async fn spawn_app_in(data_dir: &std::path::Path) -> TestApp {
    spawn_app_with(data_dir, |_| {}).await
}

/// Whether this run's consoles keep their data on PostgreSQL (see [`postgres_database`]).
pub fn on_postgres() -> bool {
    std::env::var_os("OVERCAST_TEST_POSTGRES").is_some()
}

/// With `OVERCAST_TEST_POSTGRES` (a server's URL, `postgres://user@host:port`), each data
/// dir gets its own database on that server, made on first use: the suite then runs on
/// PostgreSQL, a console restarted on the same data dir finding its database again.
async fn postgres_database(data_dir: &std::path::Path) -> Option<String> {
    use sqlx::Connection;
    let server = std::env::var("OVERCAST_TEST_POSTGRES").ok()?;
    let name: String = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let name = format!("t_{}", &name[name.len().saturating_sub(60)..]);
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap_or_else(|e| panic!("postgres {server}: {e}"));
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("postgres: {e}"));
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    }
    Some(format!("{server}/{name}"))
}

/// A console whose settings a test adjusts.
pub async fn spawn_app_with(
    data_dir: &std::path::Path,
    adjust: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let data_dir = data_dir.to_path_buf();
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))),
        data_dir: Some(data_dir.clone()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        web_dir: Some(data_dir.join("no-dashboard")),
        ..ServeArgs::default()
    };
    let mut args = args;
    args.database_url = postgres_database(&data_dir).await;
    adjust(&mut args);
    let settings = Settings::load(&args).unwrap_or_else(|e| panic!("settings: {e}"));
    let app = Application::build(settings)
        .await
        .unwrap_or_else(|e| panic!("build: {e:#}"));
    let addr = app.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        url: format!("http://{addr}"),
        state,
        data_dir,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
        admin_token: tokio::sync::OnceCell::new(),
        stop: Some(stop),
    }
}

impl TestApp {
    /// The site's own API, as another client (Horizon, a script) uses it: what is changed
    /// here does not pass through the console's HTTP layer, so its inventory does not hear
    /// of it.
    pub async fn behind_the_consoles_back(&self, site: &str) -> overcast::resources::SiteOps {
        let session = self
            .state
            .sessions
            .session(site)
            .await
            .unwrap_or_else(|e| panic!("session of {site}: {e}"));
        overcast::resources::SiteOps::new(
            site.to_owned(),
            session,
            tokio::time::Instant::now() + Duration::from_secs(10),
        )
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("login request: {e}"))
    }

    pub async fn admin_token(&self) -> String {
        self.admin_token
            .get_or_init(|| async {
                let body: Value = self
                    .login("admin", ADMIN_PASSWORD)
                    .await
                    .json()
                    .await
                    .unwrap_or_default();
                body["access_token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no token in {body}"))
                    .to_owned()
            })
            .await
            .clone()
    }

    /// A request with the admin's bearer token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.admin_token().await;
        self.call(Some(&token), method, path, body).await
    }

    /// A request with a given bearer token, or none.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `POST /api/v1/sites/import` of a clouds.yaml as the admin; `query` is `?…` or empty.
    pub async fn import_clouds(&self, yaml: &str, query: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/sites/import{query}", self.url))
            .bearer_auth(self.admin_token().await)
            .header("content-type", "application/yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("import: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Creates a console user with a role and a site scope, and signs them in.
    pub async fn user_token(&self, username: &str, role: &str, scope: Value) -> String {
        let password = format!("{username}-password-long");
        let (status, body) = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/admin/users",
                Some(json!({"username": username, "password": password, "role": role, "scope": scope})),
            )
            .await;
        assert_eq!(status, 201, "create user {username}: {body}");
        let body: Value = self
            .login(username, &password)
            .await
            .json()
            .await
            .unwrap_or_default();
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token for {username}: {body}"))
            .to_owned()
    }

    /// Registers every site of a simulator.
    pub async fn register_all(&self, simulator: &Simulator) {
        for cloud in simulator.cloud_entries("secret") {
            let (status, body) = self
                .admin(
                    reqwest::Method::POST,
                    "/api/v1/sites",
                    Some(site_body(&cloud.name, &cloud.auth_url, "secret")),
                )
                .await;
            assert_eq!(status, 201, "register {}: {body}", cloud.name);
        }
    }
}

pub fn site_body(name: &str, auth_url: &str, password: &str) -> Value {
    json!({
        "name": name, "auth_url": auth_url, "region": "RegionOne", "labels": {"region": "eu"},
        "credentials": {"type": "password", "username": "admin", "password": password, "project_name": "admin"}
    })
}

pub async fn start_sim(sites: usize) -> Simulator {
    let mut args = SimArgs::in_process(sites);
    args.build_delay_ms = 300;
    Simulator::start(&args)
        .await
        .unwrap_or_else(|e| panic!("simulator: {e:#}"))
}

/// Polls `check` until it returns `Some`, or panics after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
