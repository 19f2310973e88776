//! Level L2.1 reads across many sites, some of them broken.

use std::time::{Duration, Instant};

use overcast::sim::Fault;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, start_sim};

#[tokio::test]
async fn fifty_sites_with_broken_ones_answer_within_the_deadline_with_every_status() {
    let sim = start_sim(50).await;
    // Faults first, so that no inventory of the broken sites exists (they would be `stale`).
    // The slow sites answer after 15 s: later than this read and the background refresh.
    for n in 1..=5 {
        sim.set_fault(&format!("site-{n:03}"), Fault::Down);
        sim.set_fault(&format!("site-{:03}", n + 5), Fault::Blackhole);
        sim.set_fault(
            &format!("site-{:03}", n + 10),
            Fault::Latency {
                ms: 15_000,
                jitter_ms: 0,
            },
        );
    }
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let started = Instant::now();
    let (status, body) = app
        .admin(Method::GET, "/api/v1/flavors?timeout_ms=1500", None)
        .await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        elapsed < Duration::from_millis(2500),
        "answered in {elapsed:?} for a 1.5 s deadline"
    );
    let sites = body["sites"].as_object().cloned().unwrap_or_default();
    assert_eq!(sites.len(), 50);
    for n in 1..=15 {
        eprintln!("site-{n:03}: {}", sites[&format!("site-{n:03}")]);
    }
    let status_of = |n: usize| {
        sites[&format!("site-{n:03}")]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for n in 1..=5 {
        assert_eq!(
            status_of(n),
            "unreachable",
            "down site-{n:03}: {}",
            sites[&format!("site-{n:03}")]
        );
        assert!(
            matches!(status_of(n + 5).as_str(), "timeout" | "unreachable"),
            "blackholed site-{:03}: {}",
            n + 5,
            status_of(n + 5)
        );
        assert_eq!(status_of(n + 10), "timeout", "slow site-{:03}", n + 10);
    }
    for n in 16..=50 {
        assert_eq!(
            status_of(n),
            "ok",
            "healthy site-{n:03}: {}",
            sites[&format!("site-{n:03}")]
        );
    }
    // Five default flavors from each of the 35 sites that answered, each tagged with its site.
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 35 * 5);
    assert_eq!(body["total"], 35 * 5);
    assert!(items
        .iter()
        .all(|i| i["site"].as_str().is_some_and(|s| s.starts_with("site-"))));
}

#[tokio::test]
async fn selections_filters_and_paging() {
    let sim = start_sim(4).await;
    let app = spawn_app().await;
    for (n, cloud) in sim.cloud_entries("secret").into_iter().enumerate() {
        let mut body = crate::helpers::site_body(&cloud.name, &cloud.auth_url, "secret");
        body["labels"] = serde_json::json!({"region": if n < 2 { "eu" } else { "us" }, "tier": if n == 1 { "test" } else { "edge" }});
        app.admin(Method::POST, "/api/v1/sites", Some(body)).await;
    }
    let (_, body) = app
        .admin(
            Method::GET,
            "/api/v1/flavors?selector=region=eu,tier!=test",
            None,
        )
        .await;
    let sites: Vec<&String> = body["sites"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(sites, ["site-001"]);
    let (_, body) = app
        .admin(
            Method::GET,
            "/api/v1/flavors?sites=site-004,site-002&name=m1.t",
            None,
        )
        .await;
    let found: Vec<(String, String)> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["site"].as_str().unwrap_or_default().to_owned(),
                i["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("site-002".to_owned(), "m1.tiny".to_owned()),
            ("site-004".to_owned(), "m1.tiny".to_owned())
        ]
    );
    let (_, body) = app
        .admin(Method::GET, "/api/v1/flavors?limit=3&offset=18", None)
        .await;
    assert_eq!(
        (
            body["total"].as_u64(),
            body["items"].as_array().map(Vec::len)
        ),
        (Some(20), Some(2))
    );

    let (status, body) = app
        .admin(Method::GET, "/api/v1/flavors?selector=region", None)
        .await;
    assert_eq!(
        (status, body["error"]["fields"][0]["field"].as_str()),
        (400, Some("selector"))
    );
    let (status, _) = app
        .admin(
            Method::GET,
            "/api/v1/flavors?sites=site-001&selector=a=b",
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = app
        .admin(Method::GET, "/api/v1/flavors?sites=site-009", None)
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.admin(Method::GET, "/api/v1/gadgets", None).await;
    assert_eq!(status, 404);
    let (status, body) = app.admin(Method::GET, "/api/v1/servers", None).await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    let _: &Value = &body;
}

#[tokio::test]
async fn a_site_that_stops_answering_is_shown_from_its_last_inventory_marked_stale() {
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (_, first) = app.admin(Method::GET, "/api/v1/flavors", None).await;
    assert_eq!(first["sites"]["site-002"]["status"], "ok");
    let as_of = first["sites"]["site-002"]["as_of"].clone();

    let faulted_at = Some(time::OffsetDateTime::now_utc());
    sim.set_fault("site-002", Fault::Blackhole);
    sim.set_fault("site-003", Fault::Down);
    let (_, later) = app
        .admin(Method::GET, "/api/v1/flavors?timeout_ms=500", None)
        .await;
    assert_eq!(later["sites"]["site-001"]["status"], "ok");
    for site in ["site-002", "site-003"] {
        assert_eq!(
            later["sites"][site]["status"], "stale",
            "{}",
            later["sites"][site]
        );
        assert!(later["sites"][site]["error"].is_string());
    }
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap_or_default(),
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
    };
    assert!(
        parse(&later["sites"]["site-002"]["as_of"]) <= faulted_at,
        "as_of says when the site last answered"
    );
    assert!(parse(&as_of).is_some());
    let from_002 = later["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["site"] == "site-002")
        .count();
    assert_eq!(from_002, 5, "the stale site's flavors are still listed");

    // With max_age_ms the cache answers without asking: even a blackholed site costs nothing.
    let started = Instant::now();
    let (_, cached) = app
        .admin(
            Method::GET,
            "/api/v1/flavors?max_age_ms=600000&timeout_ms=5000",
            None,
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cached["sites"]["site-002"]["status"], "ok");
    assert_eq!(cached["total"], 15);
}

#[tokio::test]
async fn the_inventory_survives_a_restart_of_the_console() {
    let sim = start_sim(1).await;
    let dir = crate::helpers::temp_dir("restart");
    {
        let app = crate::helpers::spawn_app_in(&dir).await;
        app.register_all(&sim).await;
        let (_, body) = app.admin(Method::GET, "/api/v1/flavors", None).await;
        assert_eq!(body["sites"]["site-001"]["status"], "ok");
        // The batch writer persists in the background: wait until the row is there.
        crate::helpers::eventually(Duration::from_secs(5), "inventory persisted", || async {
            let rows = app.state.store.load_inventory().await.unwrap_or_default();
            rows.iter()
                .any(|r| r.resource == "flavors" && r.items.contains("m1.xlarge"))
                .then_some(())
        })
        .await;
    }
    sim.set_fault("site-001", Fault::Down);
    let app = crate::helpers::spawn_app_in(&dir).await;
    let (_, body) = app.admin(Method::GET, "/api/v1/flavors", None).await;
    assert_eq!(body["sites"]["site-001"]["status"], "stale", "{body}");
    assert_eq!(body["total"], 5);
}

#[tokio::test]
async fn the_inventory_is_refreshed_in_the_background_without_any_read() {
    let sim = start_sim(2).await;
    let dir = crate::helpers::temp_dir("refresh");
    let app = crate::helpers::spawn_app_in(&dir).await;
    app.register_all(&sim).await;
    crate::helpers::eventually(
        Duration::from_secs(15),
        "both sites' seven kinds persisted",
        || async {
            let rows = app.state.store.load_inventory().await.ok()?;
            (rows.len() == 14).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn servers_are_refreshed_incrementally_with_changes_since() {
    use reqwest::Method;
    use serde_json::json;
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let site = "/api/v1/sites/site-001";
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("{site}/images"),
            Some(json!({"name": "cirros"})),
        )
        .await;
    assert_eq!(status, 201);
    let mut ids = Vec::new();
    for name in ["keep", "drop"] {
        let (status, server) = app
            .admin(
                Method::POST,
                &format!("{site}/servers"),
                Some(json!({"name": name, "flavor": "m1.tiny", "image": "cirros"})),
            )
            .await;
        assert_eq!(status, 202, "{server}");
        ids.push(server["id"].as_str().unwrap_or_default().to_owned());
    }
    let (_, live) = app.admin(Method::GET, "/api/v1/servers", None).await;
    assert_eq!(live["total"], 2, "the snapshot holds both");

    // Behind the inventory's back: one server goes, another comes.
    let other_client = app.behind_the_consoles_back("site-001").await;
    other_client
        .delete_server(&ids[1])
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    other_client
        .create_server(&overcast_api_types::l1::NewServer {
            name: "new".into(),
            flavor: "m1.tiny".into(),
            image: "cirros".into(),
            networks: None,
            key_name: None,
            metadata: Default::default(),
        })
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    assert_eq!(
        cached_server_names(&app).await,
        ["drop", "keep"],
        "the cache has not seen the changes yet"
    );

    app.state
        .fan_out
        .refresh_servers_since("site-001")
        .await
        .unwrap_or_else(|e| panic!("incremental refresh: {e}"));
    assert_eq!(
        cached_server_names(&app).await,
        ["keep", "new"],
        "deleted and new servers applied"
    );
}

async fn cached_server_names(app: &crate::helpers::TestApp) -> Vec<String> {
    let (_, body) = app
        .admin(
            reqwest::Method::GET,
            "/api/v1/servers?max_age_ms=600000",
            None,
        )
        .await;
    let mut names: Vec<String> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_inventory_summary_counts_what_the_caller_may_see_without_asking_the_sites() {
    use serde_json::json;
    let sim = start_sim(3).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    for n in 1..=2 {
        let site = format!("/api/v1/sites/site-{n:03}");
        let (status, _) = app
            .admin(
                Method::POST,
                &format!("{site}/images"),
                Some(json!({"name": "cirros"})),
            )
            .await;
        assert_eq!(status, 201);
        let (status, body) = app
            .admin(
                Method::POST,
                &format!("{site}/servers"),
                Some(json!({"name": "web", "flavor": "m1.tiny", "image": "cirros"})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    // What the console created shows in the totals without any read of ours.
    crate::helpers::eventually(
        Duration::from_secs(10),
        "two servers and two images counted",
        || async {
            let (_, summary) = app
                .admin(Method::GET, "/api/v1/inventory/summary", None)
                .await;
            let servers: u64 = summary["servers"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum())
                .unwrap_or_default();
            (servers == 2 && summary["images"] == 2).then_some(())
        },
    )
    .await;
    for n in 1..=3 {
        sim.set_fault(&format!("site-{n:03}"), Fault::Down);
    }
    let started = Instant::now();
    let (status, summary) = app
        .admin(Method::GET, "/api/v1/inventory/summary", None)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no site is asked"
    );
    assert_eq!(status, 200, "{summary}");
    let servers: u64 = summary["servers"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or_default();
    assert_eq!(servers, 2, "{summary}");
    assert_eq!(summary["images"], 2, "{summary}");
    assert_eq!(summary["sites_counted"], 3, "{summary}");
    assert!(summary["oldest_as_of"].is_string(), "{summary}");

    let scoped = app
        .user_token("eve", "viewer", json!({"sites": ["site-002"]}))
        .await;
    let (status, summary) = app
        .call(
            Some(&scoped),
            Method::GET,
            "/api/v1/inventory/summary",
            None,
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary["images"], 1,
        "only site-002 counts for eve: {summary}"
    );
    assert_eq!(summary["sites_counted"], 1, "{summary}");
}

#[tokio::test]
async fn an_item_deleted_through_the_console_leaves_cached_reads_at_once() {
    let sim = start_sim(1).await;
    let app = spawn_app().await;
    app.register_all(&sim).await;
    let (_, before) = app
        .admin(Method::GET, "/api/v1/flavors?sites=site-001", None)
        .await;
    let ids = |answer: &Value| -> Vec<String> {
        answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect()
    };
    let doomed = ids(&before).first().cloned().unwrap_or_default();
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/sites/site-001/flavors/{doomed}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    // The site goes dark before the inventory's refresh can read it again.
    sim.set_fault("site-001", Fault::Down);
    let (_, cached) = app
        .admin(
            Method::GET,
            "/api/v1/flavors?sites=site-001&max_age_ms=600000",
            None,
        )
        .await;
    let left = ids(&cached);
    assert_eq!(left.len(), ids(&before).len() - 1, "{cached}");
    assert!(!left.contains(&doomed));
}
