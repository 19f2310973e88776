//! `overcast ctl` as scripts use it: the real binary, driven from a shell script.

use std::process::{Command, Output};
use std::time::Duration;

use overcast::sim::Fault;

use crate::helpers::{eventually, spawn_app, start_sim, TestApp};
use crate::jobs::flavors_named;

async fn run_script(app: &TestApp, args: &[&str]) -> Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/rollout-flavor.sh");
    let token = app.admin_token().await;
    let mut command = Command::new("bash");
    command
        .arg(script)
        .args(args)
        .env("OVERCAST_URL", &app.url)
        .env("OVERCAST_TOKEN", token)
        .env("OVERCAST_BIN", env!("CARGO_BIN_EXE_overcast"));
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("cannot run the script: {e}"))
}

/// Runs `overcast ctl` off the test's runtime, which also serves the console it calls.
async fn ctl(app_url: &str, token: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_overcast"));
    command
        .arg("ctl")
        .args(args)
        .env("OVERCAST_URL", app_url)
        .env("OVERCAST_TOKEN", token);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("cannot run ctl: {e}"))
}

#[tokio::test]
async fn a_shell_script_rolls_out_a_flavor_and_its_exit_code_tells_the_outcome() {
    let sim = start_sim(4).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;

    let ok = run_script(&app, &["region=eu", "m1.script"]).await;
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("every site has m1.script"), "{stdout}");
    assert!(
        stdout.contains("site-004") && stdout.contains("succeeded"),
        "{stdout}"
    );
    for n in 1..=4 {
        assert_eq!(flavors_named(&sim, &format!("site-{n:03}"), "m1.script"), 1);
    }

    // A site that stays dark past the job's time to live: the script says so, exit 1.
    sim.set_fault("site-004", Fault::Down);
    let partial = run_script(&app, &["region=eu", "m1.partial", "2"]).await;
    let stdout = String::from_utf8_lossy(&partial.stdout);
    assert_eq!(
        partial.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&partial.stderr)
    );
    assert!(stdout.contains("not every site has m1.partial"), "{stdout}");
    assert!(stdout.contains("expired"), "{stdout}");
}

#[tokio::test]
async fn ctl_speaks_json_and_its_exit_codes_follow_the_sites() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let token = app.admin_token().await;
    let url = app.url.clone();

    let listed = ctl(&url, &token, &["list", "flavors", "--output", "json"]).await;
    assert_eq!(listed.status.code(), Some(0));
    let answer: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
    assert_eq!(
        answer["sites"].as_object().map(|s| s.len()),
        Some(3),
        "{answer}"
    );

    sim.set_fault("site-002", Fault::Down);
    eventually(Duration::from_secs(15), "site-002 unreachable", || async {
        let (_, site) = app
            .admin(reqwest::Method::GET, "/api/v1/sites/site-002", None)
            .await;
        (site["state"] == "unreachable").then_some(())
    })
    .await;
    let listed = ctl(
        &url,
        &token,
        &["list", "flavors", "--sites", "site-001,site-002"],
    )
    .await;
    // The first list cached site-002's flavors: they are shown, marked stale.
    assert_eq!(listed.status.code(), Some(1), "a site did not answer");
    assert!(String::from_utf8_lossy(&listed.stderr).contains("site-002: stale as of"));

    let created = ctl(
        &url,
        &token,
        &[
            "job",
            "create",
            "project.create",
            "--sites",
            "site-001",
            "--param",
            "name=ops",
            "--output",
            "json",
            "--wait",
        ],
    )
    .await;
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&created.stdout)
    );
    let job: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap_or_default();
    assert_eq!(job["state"], "succeeded");

    let refused = ctl(
        &url,
        &token,
        &[
            "job",
            "create",
            "flavor.create",
            "--all",
            "--param",
            "name=x",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(3));
    let error: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap_or_default();
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("params")),
        "{error}"
    );

    let usage = ctl(
        &url,
        &token,
        &["job", "create", "flavor.create", "--param", "name=x"],
    )
    .await;
    assert_eq!(usage.status.code(), Some(2), "no targets is a usage error");
    let unreachable = ctl("http://127.0.0.1:9", &token, &["sites", "list"]).await;
    assert_eq!(unreachable.status.code(), Some(3));
}

#[tokio::test]
async fn a_site_without_the_service_is_not_offered_and_ctl_still_succeeds() {
    // site-004 has no Cinder, site-005 no Neutron.
    let sim = start_sim(5).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (status, volumes) = app
        .admin(reqwest::Method::GET, "/api/v1/volumes", None)
        .await;
    assert_eq!(status, 200, "{volumes}");
    assert_eq!(
        volumes["sites"]["site-004"]["status"], "not_offered",
        "{volumes}"
    );
    assert_eq!(volumes["sites"]["site-001"]["status"], "ok", "{volumes}");
    let (_, networks) = app
        .admin(reqwest::Method::GET, "/api/v1/networks", None)
        .await;
    assert_eq!(
        networks["sites"]["site-005"]["status"], "not_offered",
        "{networks}"
    );

    let token = app.admin_token().await;
    let listed = ctl(&app.url, &token, &["list", "volumes"]).await;
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
}

#[tokio::test]
async fn a_mistyped_resource_is_a_bad_command_line_naming_the_valid_ones() {
    let listed = ctl("http://127.0.0.1:9", "unused", &["list", "server"]).await;
    assert_eq!(listed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(stderr.contains("servers, images, flavors"), "{stderr}");
}
