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
    ctl_with_stdin(app_url, token, args, "").await
}

/// `overcast ctl` with `stdin` as its standard input (a password, say).
async fn ctl_with_stdin(app_url: &str, token: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut command = Command::new(env!("CARGO_BIN_EXE_overcast"));
    command
        .arg("ctl")
        .args(args)
        .env("OVERCAST_URL", app_url)
        .env("OVERCAST_TOKEN", token)
        .env_remove("OVERCAST_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn()?;
        if let Some(mut input) = child.stdin.take() {
            // A command that does not read its input may have exited already.
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("cannot run ctl: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The words of `text` that are RFC 3339 times.
fn times_in(text: &str) -> Vec<&str> {
    use time::format_description::well_known::Rfc3339;
    text.split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|word| time::OffsetDateTime::parse(word, &Rfc3339).is_ok())
        .collect()
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

#[tokio::test]
async fn ctl_tables_show_times_to_the_second_or_relative_and_json_stays_raw() {
    let sim = start_sim(2).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let token = app.admin_token().await;
    // The first health check sets `last_seen`, a time with nanoseconds in the API.
    let raw = eventually(Duration::from_secs(20), "site-001 seen", || async {
        let (_, site) = app
            .admin(reqwest::Method::GET, "/api/v1/sites/site-001", None)
            .await;
        site["last_seen"].as_str().map(str::to_owned)
    })
    .await;

    let table = ctl(&app.url, &token, &["sites", "list"]).await;
    assert_eq!(table.status.code(), Some(0), "{}", text(&table.stderr));
    let stdout = text(&table.stdout);
    let times = times_in(&stdout);
    assert!(!times.is_empty(), "a time is shown:\n{stdout}");
    for time in &times {
        // `2026-12-01T18:13:20Z`: to the second, in UTC.
        assert_eq!(time.len(), 20, "{time} in\n{stdout}");
        assert!(time.ends_with('Z'), "{time}");
    }

    let wide = ctl(&app.url, &token, &["sites", "list", "--output", "wide"]).await;
    let stdout = text(&wide.stdout);
    assert_eq!(wide.status.code(), Some(0), "{}", text(&wide.stderr));
    assert!(
        stdout.contains(" ago") || stdout.contains("just now"),
        "relative times:\n{stdout}"
    );
    assert!(stdout.contains("REASON"), "wide columns:\n{stdout}");
    assert!(times_in(&stdout).is_empty(), "{stdout}");

    let json = ctl(
        &app.url,
        &token,
        &["sites", "show", "site-001", "--output", "json"],
    )
    .await;
    let site: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_default();
    let shown = site["last_seen"].as_str().unwrap_or_default();
    assert!(
        shown == raw || shown > raw.as_str(),
        "the API's own text, {shown} (earlier {raw})"
    );
    assert!(
        shown.contains('.'),
        "JSON keeps the API's precision: {shown}"
    );

    let created = ctl(
        &app.url,
        &token,
        &[
            "job",
            "create",
            "project.create",
            "--sites",
            "site-001",
            "--param",
            "name=t",
            "--wait",
        ],
    )
    .await;
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stdout));
    let jobs = ctl(&app.url, &token, &["job", "list"]).await;
    let stdout = text(&jobs.stdout);
    assert!(
        !times_in(&stdout).is_empty() && times_in(&stdout).iter().all(|t| t.len() == 20),
        "{stdout}"
    );
}

#[tokio::test]
async fn ctl_list_says_how_many_sites_answered_and_what_became_of_the_others() {
    let sim = start_sim(3).await;
    // Dark before the console ever reads it: nothing is cached for it.
    sim.set_fault("site-002", Fault::Down);
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let token = app.admin_token().await;

    let listed = ctl(&app.url, &token, &["list", "networks"]).await;
    let (stdout, stderr) = (text(&listed.stdout), text(&listed.stderr));
    assert_eq!(listed.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("2 of 3 sites answered, 1 did not"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|line| line.starts_with("  site-002: ") && !line.contains(": ok")),
        "{stderr}"
    );
    // Standard output is the table only, so that it can be piped.
    assert!(stdout.starts_with("SITE"), "{stdout}");
    assert!(!stdout.contains("answered"), "{stdout}");
    assert!(
        stdout.contains("site-001") && stdout.contains("site-003"),
        "{stdout}"
    );

    let some = ctl(
        &app.url,
        &token,
        &["list", "networks", "--sites", "site-001,site-003"],
    )
    .await;
    assert_eq!(some.status.code(), Some(0), "{}", text(&some.stderr));
    assert!(
        text(&some.stderr).contains("2 of 2 sites answered"),
        "{}",
        text(&some.stderr)
    );
}

#[tokio::test]
async fn ctl_adds_a_site_shows_all_of_it_and_edits_its_labels() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let cloud = sim
        .cloud_entries("secret")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no simulated site"));

    let add = |name: &'static str, extra: &'static [&'static str]| {
        let (url, token, auth_url) = (app.url.clone(), token.clone(), cloud.auth_url.clone());
        let (username, project) = (cloud.username.clone(), cloud.project_name.clone());
        async move {
            let mut args = vec![
                "sites",
                "add",
                name,
                "--auth-url",
                &auth_url,
                "--region",
                "RegionOne",
                "--username",
                &username,
                "--password-stdin",
                "--project",
                &project,
                "--label",
                "region=eu",
                "--label",
                "tier=edge",
            ];
            args.extend_from_slice(extra);
            ctl_with_stdin(&url, &token, &args, "secret\n").await
        }
    };
    let added = add("edge-1", &[]).await;
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    assert!(
        text(&added.stdout).contains("name:"),
        "{}",
        text(&added.stdout)
    );
    let (status, site) = app
        .admin(reqwest::Method::GET, "/api/v1/sites/edge-1", None)
        .await;
    assert_eq!(status, 200, "{site}");
    assert_eq!(
        site["labels"],
        serde_json::json!({"region": "eu", "tier": "edge"})
    );

    // The password came from standard input: the console signs in with it.
    eventually(
        Duration::from_secs(20),
        "edge-1 online with its services",
        || async {
            let (_, site) = app
                .admin(reqwest::Method::GET, "/api/v1/sites/edge-1", None)
                .await;
            (site["state"] == "online" && site["capabilities"]["compute"].is_string()).then_some(())
        },
    )
    .await;
    let shown = ctl(&app.url, &token, &["sites", "show", "edge-1"]).await;
    let stdout = text(&shown.stdout);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    for expected in [
        "name:",
        "edge-1",
        "state:",
        "online",
        "last error:",
        "last seen:",
        "latency:",
        " ms",
        "auth url:",
        &cloud.auth_url,
        "region:",
        "RegionOne",
        "interface:",
        "public",
        "labels:",
        "region=eu,tier=edge",
        "tls:",
        "registered:",
        "services:",
        "compute",
        "identity",
        "image",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from\n{stdout}"
        );
    }

    let labelled = ctl(
        &app.url,
        &token,
        &[
            "sites",
            "label",
            "edge-1",
            "tier=prod",
            "region-",
            "owner=ops",
        ],
    )
    .await;
    assert_eq!(
        labelled.status.code(),
        Some(0),
        "{}",
        text(&labelled.stderr)
    );
    assert_eq!(text(&labelled.stdout), "edge-1: owner=ops,tier=prod\n");
    let (_, site) = app
        .admin(reqwest::Method::GET, "/api/v1/sites/edge-1", None)
        .await;
    assert_eq!(
        site["labels"],
        serde_json::json!({"owner": "ops", "tier": "prod"})
    );

    // Bad command lines: exit 2, saying what is wrong, before the console is asked.
    let bad_label = ctl(&app.url, &token, &["sites", "label", "edge-1", "tier"]).await;
    assert_eq!(bad_label.status.code(), Some(2));
    assert!(
        text(&bad_label.stderr).contains("key=value"),
        "{}",
        text(&bad_label.stderr)
    );
    let no_password = ctl(
        &app.url,
        &token,
        &[
            "sites",
            "add",
            "edge-2",
            "--auth-url",
            &cloud.auth_url,
            "--username",
            "admin",
            "--project",
            "admin",
        ],
    )
    .await;
    assert_eq!(
        no_password.status.code(),
        Some(2),
        "{}",
        text(&no_password.stderr)
    );
    assert!(
        text(&no_password.stderr).contains("--password-stdin"),
        "{}",
        text(&no_password.stderr)
    );
    let bad_url = ctl(
        &app.url,
        &token,
        &[
            "sites",
            "add",
            "edge-2",
            "--auth-url",
            "keystone:5000",
            "--app-credential-id",
            "x",
        ],
    )
    .await;
    assert_eq!(bad_url.status.code(), Some(2), "{}", text(&bad_url.stderr));
    assert!(
        text(&bad_url.stderr).contains("--auth-url"),
        "{}",
        text(&bad_url.stderr)
    );

    // What only the console can tell: exit 3, with its message.
    let again = add("edge-1", &[]).await;
    assert_eq!(again.status.code(), Some(3), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
}

#[tokio::test]
async fn a_refused_token_says_how_to_get_a_good_one() {
    let app = spawn_app().await;
    let refused = ctl(&app.url, "not-a-token", &["sites", "list"]).await;
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the console refused the token (401 unauthenticated"),
        "{stderr}"
    );
    assert!(stderr.contains("sign in again"), "{stderr}");
    assert!(stderr.contains("OVERCAST_TOKEN"), "{stderr}");
    assert!(!stderr.contains("InvalidToken"), "{stderr}");

    let json = ctl(
        &app.url,
        "not-a-token",
        &["sites", "list", "--output", "json"],
    )
    .await;
    let error: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_default();
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("sign in again")),
        "{error}"
    );

    let none = ctl(&app.url, "", &["sites", "list"]).await;
    let stderr = text(&none.stderr);
    assert_eq!(none.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the console needs a token"), "{stderr}");
    assert!(stderr.contains("overcast ctl login"), "{stderr}");

    // A wrong password is not a token problem, and a stale token does not get in the
    // way of signing in again.
    let wrong = ctl_with_stdin(
        &app.url,
        "not-a-token",
        &["login", "--username", "admin"],
        "nope\n",
    )
    .await;
    let stderr = text(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("invalid username or password"), "{stderr}");
    assert!(!stderr.contains("token"), "{stderr}");
    let login = ctl_with_stdin(
        &app.url,
        "not-a-token",
        &["login", "--username", "admin"],
        &format!("{}\n", crate::helpers::ADMIN_PASSWORD),
    )
    .await;
    assert_eq!(login.status.code(), Some(0), "{}", text(&login.stderr));
    let fresh = text(&login.stdout);
    let listed = ctl(&app.url, fresh.trim(), &["sites", "list"]).await;
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
}

#[tokio::test]
async fn ctl_copies_an_image_waits_for_it_and_shows_the_catalog() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let token = app.admin_token().await;
    let ops = app.behind_the_consoles_back("site-001").await;
    let image = ops
        .create_image_record(&serde_json::json!({"name": "ctl-image", "disk_format": "raw", "container_format": "bare"}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ops.upload_image(&image.id, reqwest::Body::from(vec![5u8; 300_000]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let copied = ctl(
        &app.url,
        &token,
        &[
            "image", "copy", "--from", "site-001", "--image", &image.id, "--all", "--wait",
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&copied.stdout);
    assert_eq!(
        copied.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert!(text.contains("3 sites: 3 succeeded"), "{text}");

    let catalog = ctl(
        &app.url,
        &token,
        &["image", "catalog", "--name", "ctl-image"],
    )
    .await;
    let text = String::from_utf8_lossy(&catalog.stdout);
    assert_eq!(catalog.status.code(), Some(0));
    let line = text
        .lines()
        .find(|l| l.starts_with("ctl-image"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("293.0 KiB") && line.contains("site-001,site-002,site-003"),
        "{text}"
    );

    let refused = ctl(
        &app.url,
        &token,
        &["image", "copy", "--from", "site-001", "--all"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2), "--image is required");
}
