//! The console as a real process, killed with SIGKILL in the middle of a job.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use overcast::sim::Fault;
use serde_json::{json, Value};

use crate::helpers::{eventually, site_body, start_sim, temp_dir, ADMIN_PASSWORD};
use crate::jobs::flavors_named;

/// `overcast serve` on a free port of loopback, with its log in the data dir.
struct Console {
    child: Child,
    url: String,
    http: reqwest::Client,
    token: String,
}

impl Console {
    async fn start(data_dir: &Path, run: u32) -> Console {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let log = std::fs::File::create(data_dir.join(format!("console-{run}.log")))
            .unwrap_or_else(|e| panic!("log file: {e}"));
        let child = Command::new(env!("CARGO_BIN_EXE_overcast"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("OVERCAST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the console: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually(
            Duration::from_secs(30),
            "the console to be ready",
            || async {
                let ready = http.get(format!("{url}/readyz")).send().await.ok()?;
                ready.status().is_success().then_some(())
            },
        )
        .await;
        let login: Value = http
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("login: {e}"))
            .json()
            .await
            .unwrap_or_default();
        let token = login["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Console {
            child,
            url,
            http,
            token,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// SIGKILL: no shutdown code runs, whatever was not committed is lost.
    fn kill_9(mut self) {
        self.child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
        let _ = self.child.wait();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_console_killed_mid_job_resumes_it_and_no_task_is_lost_or_done_twice() {
    const SITES: usize = 30;
    let sim = start_sim(SITES).await;
    // Slow sites make the job last long enough to be cut in the middle.
    for n in 1..=SITES {
        sim.set_fault(
            &format!("site-{n:03}"),
            Fault::Latency {
                ms: 120,
                jitter_ms: 0,
            },
        );
    }
    let data_dir = temp_dir("kill9");
    let console = Console::start(&data_dir, 1).await;
    for cloud in sim.cloud_entries("secret") {
        let (status, body) = console
            .call(
                reqwest::Method::POST,
                "/api/v1/sites",
                Some(site_body(&cloud.name, &cloud.auth_url, "secret")),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let job = json!({"kind": "flavor.create", "targets": {"all": true}, "rollout": {"max_parallel": 3},
                     "params": {"name": "m1.crash", "vcpus": 1, "ram_mb": 1024, "disk_gb": 10}});
    let (status, job) = console
        .call(reqwest::Method::POST, "/api/v1/jobs", Some(job))
        .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/api/v1/jobs/{id}");
    let before = eventually(Duration::from_secs(60), "a few sites done", || async {
        let (_, job) = console.call(reqwest::Method::GET, &path, None).await;
        (job["counts"]["succeeded"].as_u64().unwrap_or(0) >= 5).then_some(job)
    })
    .await;
    console.kill_9();
    assert_eq!(
        before["state"], "running",
        "killed mid-job: {}",
        before["counts"]
    );
    let done_before_kill = (1..=SITES)
        .filter(|n| flavors_named(&sim, &format!("site-{n:03}"), "m1.crash") == 1)
        .count();
    assert!(
        done_before_kill < SITES,
        "the kill came too late to test anything"
    );

    let console = Console::start(&data_dir, 2).await;
    let after = eventually(
        Duration::from_secs(90),
        "the resumed job to finish",
        || async {
            let (_, job) = console.call(reqwest::Method::GET, &path, None).await;
            let state = job["state"].as_str().unwrap_or_default().to_owned();
            (state != "running" && state != "pending").then_some(job)
        },
    )
    .await;
    assert_eq!(after["state"], "succeeded", "{after}");
    assert_eq!(after["counts"]["succeeded"], SITES, "{}", after["counts"]);
    for n in 1..=SITES {
        let site = format!("site-{n:03}");
        assert_eq!(
            flavors_named(&sim, &site, "m1.crash"),
            1,
            "{site} holds the flavor exactly once"
        );
    }
    eprintln!(
        "killed with {done_before_kill} of {SITES} sites done; after the restart: {}",
        after["counts"]
    );
}

#[tokio::test]
async fn a_console_killed_mid_copy_resumes_it_from_its_spool_without_reading_the_source_again() {
    use std::sync::atomic::Ordering;
    let sim = start_sim(3).await;
    let data_dir = temp_dir("kill9-copy");
    let console = Console::start(&data_dir, 1).await;
    for cloud in sim.cloud_entries("secret") {
        let (status, body) = console
            .call(
                reqwest::Method::POST,
                "/api/v1/sites",
                Some(site_body(&cloud.name, &cloud.auth_url, "secret")),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, image) = console
        .call(
            reqwest::Method::POST,
            "/api/v1/sites/site-001/images",
            Some(json!({"name": "crash-image", "disk_format": "raw", "container_format": "bare"})),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    let id = image["id"].as_str().unwrap_or_default().to_owned();
    let data = vec![9u8; 8 * 1024 * 1024];
    let uploaded = console
        .http
        .put(format!(
            "{}/api/v1/sites/site-001/images/{id}/file",
            console.url
        ))
        .bearer_auth(&console.token)
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(uploaded.status().is_success());
    // About 8 s to site-003: long enough to be cut in the middle.
    sim.set_fault(
        "site-003",
        Fault::Bandwidth {
            bytes_per_s: 1024 * 1024,
        },
    );
    let job = json!({"source": {"site": "site-001", "image_id": id}, "targets": {"sites": ["site-002", "site-003"]}});
    let (status, job) = console
        .call(reqwest::Method::POST, "/api/v1/images/copy", Some(job))
        .await;
    assert_eq!(status, 202, "{job}");
    let path = format!("/api/v1/jobs/{}", job["id"].as_str().unwrap_or_default());
    let task = |job: &Value, site: &str| {
        job["tasks"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["site"] == site))
            .cloned()
            .unwrap_or_default()
    };
    eventually(
        Duration::from_secs(30),
        "site-003's copy under way, site-002's done",
        || async {
            let (_, job) = console.call(reqwest::Method::GET, &path, None).await;
            let moving = task(&job, "site-003")["progress"]["bytes_done"]
                .as_u64()
                .is_some_and(|b| b > 0);
            (moving && task(&job, "site-002")["state"] == "succeeded").then_some(())
        },
    )
    .await;
    console.kill_9();
    let source = sim
        .site("site-001")
        .unwrap_or_else(|| panic!("no site-001"));
    assert_eq!(
        source.image_downloads.load(Ordering::SeqCst),
        1,
        "the source was read once"
    );

    let console = Console::start(&data_dir, 2).await;
    let after = eventually(Duration::from_secs(60), "the resumed copy", || async {
        let (_, job) = console.call(reqwest::Method::GET, &path, None).await;
        let state = job["state"].as_str().unwrap_or_default().to_owned();
        (state != "running" && state != "pending").then_some(job)
    })
    .await;
    assert_eq!(after["state"], "succeeded", "{after}");
    assert_eq!(
        source.image_downloads.load(Ordering::SeqCst),
        1,
        "the restarted copy reads the spool, not the source"
    );
    let target = sim
        .site("site-003")
        .unwrap_or_else(|| panic!("no site-003"));
    let copies: Vec<_> = target
        .data()
        .images
        .iter()
        .filter(|i| i.name.as_deref() == Some("crash-image"))
        .map(|i| i.status)
        .collect();
    assert_eq!(
        copies,
        vec!["active"],
        "one copy, whole: the half-uploaded one was removed"
    );
}
