//! `overcast demo` as a newcomer runs it: the real binary, its banner, its simulator.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::temp_dir;

/// Kills the demo when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port that was free a moment ago: the demo is given it as a fixed address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

#[tokio::test]
async fn the_demo_runs_its_simulator_where_told_and_says_how_to_reach_it() {
    let data_dir = temp_dir("demo");
    let port = free_port();
    let sim_listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_overcast"))
        .args(["demo", "--sites", "2", "--listen", "127.0.0.1:0"])
        .args(["--sim-listen", &sim_listen])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--web-dir")
        .arg(data_dir.join("no-dashboard"))
        .env("OVERCAST_ADMIN_PASSWORD", "demo-test-password")
        .env("OVERCAST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the demo: {e}"));
    let mut demo = Running(child);
    let stdout = demo.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    // The banner's last line comes once the sites are seeded (15 s at most).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut output = String::new();
    while !output.contains("Stop with Ctrl-C") {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                output.push_str(&line);
                output.push('\n');
            }
            Err(e) => panic!("no banner ({e}); the demo printed:\n{output}"),
        }
    }
    let sim = format!("http://{sim_listen}");
    for expected in [
        format!("2 simulated sites on {sim} (fault control"),
        format!("curl -X POST {sim}/_sim/sites/site-002/fault -d '{{\"mode\": \"down\"}}'"),
        format!("curl {sim}/_sim/sites"),
    ] {
        assert!(
            output.contains(&expected),
            "{expected:?} missing from\n{output}"
        );
    }
    assert!(
        output.contains("Overcast demo is running: http://127.0.0.1:"),
        "{output}"
    );

    // The printed fault call works as printed.
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{sim}/_sim/sites/site-002/fault"))
        .body(r#"{"mode": "down"}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the simulator is not on {sim}: {e}"));
    assert_eq!(answer.status(), 200);
    let sites: serde_json::Value = http
        .get(format!("{sim}/_sim/sites"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let site_002 = sites["sites"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == "site-002"));
    assert_eq!(
        site_002.map(|s| s["fault"]["mode"].clone()),
        Some(serde_json::json!("down")),
        "{sites}"
    );
    drop(demo);
    let _ = std::fs::remove_dir_all(&data_dir);
}
