//! The simulator through its HTTP APIs, the way any OpenStack client sees it.

use std::time::Duration;

use futures::StreamExt;

use overcast::sim::Fault;
use serde_json::{json, Value};

use crate::helpers::{eventually, start_sim};

struct Site {
    http: reqwest::Client,
    base: String,
    token: String,
}

async fn sign_in(base: &str, password: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let http = reqwest::Client::new();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": password}}},
                     "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
    let response = http
        .post(format!("{base}/identity/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap_or_default())
}

async fn site(sim: &overcast::sim::Simulator, name: &str) -> Site {
    let base = format!("http://{}/{name}", sim.addr);
    let (status, headers, _) = sign_in(&base, "secret").await;
    assert_eq!(status, 201);
    let token = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Site {
        http: reqwest::Client::new(),
        base,
        token,
    }
}

impl Site {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        microversion: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", &self.token);
        if let Some(v) = microversion {
            request = request.header("openstack-api-version", format!("compute {v}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn keystone_issues_tokens_with_a_catalog_and_refuses_bad_passwords() {
    let sim = start_sim(2).await;
    let base = format!("http://{}/site-002", sim.addr);
    let (status, headers, body) = sign_in(&base, "secret").await;
    assert_eq!(status, 201);
    assert!(headers.contains_key("x-subject-token"));
    let catalog = body["token"]["catalog"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let compute = catalog
        .iter()
        .find(|s| s["type"] == "compute")
        .unwrap_or_else(|| panic!("no compute in {body}"));
    assert!(compute["endpoints"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["interface"] == "public"
            && e["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/site-002/compute/v2.1")))));
    assert_eq!(body["token"]["project"]["name"], "admin");

    let (status, _, body) = sign_in(&base, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["title"], "Unauthorized");
}

#[tokio::test]
async fn sites_are_independent() {
    let sim = start_sim(2).await;
    let one = site(&sim, "site-001").await;
    let two = site(&sim, "site-002").await;
    let (status, _, _) = one
        .call(
            reqwest::Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": {"name": "only-here", "flavorRef": "1", "imageRef": "i"}})),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let (_, _, listed) = two
        .call(reqwest::Method::GET, "/compute/v2.1/servers", None, None)
        .await;
    assert_eq!(listed["servers"], json!([]));
    // A token of one site means nothing at another.
    let foreign = Site {
        http: reqwest::Client::new(),
        base: two.base.clone(),
        token: one.token.clone(),
    };
    let (status, _, _) = foreign
        .call(reqwest::Method::GET, "/compute/v2.1/servers", None, None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn servers_build_then_become_active_and_obey_actions() {
    let sim = start_sim(1).await;
    let site = site(&sim, "site-001").await;
    let (status, _, created) = site
        .call(
            reqwest::Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": {"name": "vm", "flavorRef": "2", "imageRef": "img"}})),
            None,
        )
        .await;
    assert_eq!(status, 202, "{created}");
    let id = created["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, _, shown) = site
        .call(
            reqwest::Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(shown["server"]["status"], "BUILD");
    eventually(Duration::from_secs(5), "server ACTIVE", || async {
        let (_, _, shown) = site
            .call(
                reqwest::Method::GET,
                &format!("/compute/v2.1/servers/{id}"),
                None,
                None,
            )
            .await;
        (shown["server"]["status"] == "ACTIVE").then_some(())
    })
    .await;
    let action_path = format!("/compute/v2.1/servers/{id}/action");
    let action = |body: Value| site.call(reqwest::Method::POST, &action_path, Some(body), None);
    assert_eq!(action(json!({"os-stop": null})).await.0, 202);
    let (_, _, shown) = site
        .call(
            reqwest::Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(shown["server"]["status"], "SHUTOFF");
    let (status, _, conflict) = action(json!({"os-stop": null})).await;
    assert_eq!(status, 409, "{conflict}");
    assert!(conflict["conflictingRequest"]["message"].is_string());
    assert_eq!(action(json!({"os-start": null})).await.0, 202);
    assert_eq!(
        site.call(
            reqwest::Method::DELETE,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            None
        )
        .await
        .0,
        204
    );
    let (status, _, missing) = site
        .call(
            reqwest::Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["itemNotFound"]["code"], 404);
}

#[tokio::test]
async fn quotas_and_capacity_are_enforced_as_nova_does() {
    let sim = start_sim(1).await;
    let site = site(&sim, "site-001").await;
    // m1.xlarge needs 8 vCPUs: the default quota of 20 cores allows two.
    for n in 0..2 {
        let (status, _, _) = site.call(reqwest::Method::POST, "/compute/v2.1/servers", Some(json!({"server": {"name": format!("big-{n}"), "flavorRef": "5", "imageRef": "i"}})), None).await;
        assert_eq!(status, 202);
    }
    let (status, _, body) = site
        .call(
            reqwest::Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": {"name": "big-2", "flavorRef": "5", "imageRef": "i"}})),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        body["forbidden"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Quota exceeded for cores")),
        "{body}"
    );
}

#[tokio::test]
async fn microversions_are_negotiated_per_site() {
    let sim = start_sim(3).await;
    let site = site(&sim, "site-003").await; // the third profile: zed, max 2.93
    let (status, headers, _) = site
        .call(
            reqwest::Method::GET,
            "/compute/v2.1/servers",
            None,
            Some("2.60"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers
            .get("openstack-api-version")
            .and_then(|v| v.to_str().ok()),
        Some("compute 2.60")
    );
    let (status, _, body) = site
        .call(
            reqwest::Method::GET,
            "/compute/v2.1/servers",
            None,
            Some("2.99"),
        )
        .await;
    assert_eq!(status, 406, "{body}");
    let (_, headers, _) = site
        .call(
            reqwest::Method::GET,
            "/compute/v2.1/servers",
            None,
            Some("latest"),
        )
        .await;
    assert_eq!(
        headers
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok()),
        Some("2.93")
    );
    let (_, _, version) = site
        .call(reqwest::Method::GET, "/compute/v2.1", None, None)
        .await;
    assert_eq!(version["version"]["version"], "2.93");
    assert_eq!(version["version"]["min_version"], "2.1");
}

#[tokio::test]
async fn older_microversions_keep_the_fields_nova_had_then_and_the_admin_lists_aggregates_routers_and_floating_ips(
) {
    let sim = start_sim(1).await;
    let site = site(&sim, "site-001").await;
    let get = |path: &'static str, microversion: Option<&'static str>| {
        site.call(reqwest::Method::GET, path, None, microversion)
    };
    let (status, _, old) = get("/compute/v2.1/os-hypervisors/detail", Some("2.1")).await;
    assert_eq!(status, 200, "{old}");
    let first = &old["hypervisors"][0];
    assert!(first["vcpus"].as_u64().is_some_and(|n| n > 0), "{first}");
    let cpu_info: Value =
        serde_json::from_str(first["cpu_info"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        cpu_info["arch"], "x86_64",
        "cpu_info is a JSON text before 2.28"
    );
    let (_, _, mid) = get("/compute/v2.1/os-hypervisors/detail", Some("2.60")).await;
    assert_eq!(
        mid["hypervisors"][0]["cpu_info"]["arch"], "x86_64",
        "an object from 2.28"
    );
    let (_, _, new) = get("/compute/v2.1/os-hypervisors/detail", Some("2.88")).await;
    let first = &new["hypervisors"][0];
    for gone in ["vcpus", "memory_mb", "local_gb", "running_vms", "cpu_info"] {
        assert!(first.get(gone).is_none(), "{gone} is not in 2.88: {first}");
    }
    assert_eq!(first["state"], "up");
    let (_, _, projects) = get("/identity/v3/projects", None).await;
    let project = projects["projects"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!("/compute/v2.1/os-quota-sets/{project}/detail");
    let quota = |microversion: &'static str| {
        site.call(reqwest::Method::GET, &path, None, Some(microversion))
    };
    let (_, _, old) = quota("2.35").await;
    assert_eq!(old["quota_set"]["floating_ips"]["limit"], 10, "{old}");
    assert_eq!(old["quota_set"]["injected_files"]["limit"], 5);
    let (_, _, mid) = quota("2.36").await;
    assert!(mid["quota_set"].get("floating_ips").is_none(), "{mid}");
    assert_eq!(mid["quota_set"]["injected_files"]["limit"], 5);
    let (_, _, new) = quota("2.57").await;
    assert!(new["quota_set"].get("injected_files").is_none(), "{new}");
    let (status, _, aggregates) = get("/compute/v2.1/os-aggregates", None).await;
    assert_eq!((status, aggregates), (200, json!({"aggregates": []})));
    let (status, _, routers) = get("/network/v2.0/routers", None).await;
    assert_eq!((status, routers), (200, json!({"routers": []})));
    let (status, _, ips) = get("/network/v2.0/floatingips", None).await;
    assert_eq!((status, ips), (200, json!({"floatingips": []})));
    let (_, _, extensions) = get("/network/v2.0/extensions", None).await;
    assert!(extensions["extensions"]
        .as_array()
        .is_some_and(|all| all.iter().any(|e| e["alias"] == "router")));
}

#[tokio::test]
async fn bad_compute_input_gets_novas_errors() {
    let sim = start_sim(1).await;
    let site = site(&sim, "site-001").await;
    let (status, _, body) = site
        .call(
            reqwest::Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": {"flavorRef": "1"}})),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["badRequest"]["message"].is_string(), "{body}");
    let (status, _, _) = site
        .call(
            reqwest::Method::POST,
            "/compute/v2.1/servers",
            Some(json!({"server": {"name": "x", "flavorRef": "nope"}})),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = site
        .call(
            reqwest::Method::GET,
            "/compute/v2.1/servers?limit=x",
            None,
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = site
        .call(
            reqwest::Method::GET,
            "/compute/v2.1/servers?marker=missing",
            None,
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn faults_apply_to_every_endpoint_of_a_site() {
    let sim = start_sim(2).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = |site: &str| format!("http://{}/{site}/identity/v3", sim.addr);

    sim.set_fault("site-001", Fault::Down);
    let error = http
        .get(url("site-001"))
        .send()
        .await
        .err()
        .unwrap_or_else(|| panic!("a down site answered"));
    assert!(!error.is_timeout(), "down fails at once: {error}");
    assert_eq!(
        http.get(url("site-002"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(200),
        "the other site is up"
    );

    sim.set_fault("site-001", Fault::Blackhole);
    let error = http
        .get(url("site-001"))
        .send()
        .await
        .err()
        .unwrap_or_else(|| panic!("a blackholed site answered"));
    assert!(error.is_timeout(), "blackhole never answers: {error}");

    sim.set_fault(
        "site-001",
        Fault::Errors {
            rate: 1.0,
            status: 503,
        },
    );
    assert_eq!(
        http.get(url("site-001"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(503)
    );

    sim.set_fault(
        "site-001",
        Fault::Latency {
            ms: 200,
            jitter_ms: 0,
        },
    );
    let started = std::time::Instant::now();
    assert_eq!(
        http.get(url("site-001"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(200)
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn the_control_api_sets_and_lists_faults() {
    let sim = start_sim(2).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", sim.addr);
    let set = http
        .post(format!("{base}/_sim/sites/site-002/fault"))
        .json(&json!({"mode": "latency", "ms": 50, "jitter_ms": 5}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.status(), 200);
    let listed: Value = http
        .get(format!("{base}/_sim/sites"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(
        listed["sites"][1]["fault"],
        json!({"mode": "latency", "ms": 50, "jitter_ms": 5})
    );
    let bad = http
        .post(format!("{base}/_sim/sites/site-002/fault"))
        .json(&json!({"mode": "errors", "rate": 3}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bad.status(), 400);
    let unknown = http
        .post(format!("{base}/_sim/sites/site-999/fault"))
        .json(&json!({"mode": "down"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn bandwidth_limits_slow_bodies_and_flapping_alternates() {
    let sim = start_sim(2).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/site-001/identity/v3/auth/tokens", sim.addr);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "secret"}}}}});
    // The token body (with its catalog) is about 4.6 KB: at 10 KB/s it takes several tenths of a second.
    sim.set_fault(
        "site-001",
        Fault::Bandwidth {
            bytes_per_s: 10_000,
        },
    );
    let started = std::time::Instant::now();
    let response = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = response.bytes().await.map(|b| b.len()).unwrap_or(0);
    assert!(bytes > 3000, "{bytes}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    sim.set_fault("site-002", Fault::Flapping { period_ms: 300 });
    let probe = format!("http://{}/site-002/identity/v3", sim.addr);
    let (mut seen_up, mut seen_down) = (false, false);
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while !(seen_up && seen_down) {
        assert!(
            std::time::Instant::now() < until,
            "flapping showed up={seen_up} down={seen_down} in 5 s"
        );
        match http.get(&probe).send().await {
            Ok(_) => seen_up = true,
            Err(_) => seen_down = true,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn malformed_and_unknown_input_gets_the_services_4xx_never_a_5xx() {
    let sim = start_sim(1).await;
    let site = site(&sim, "site-001").await;
    let bodies = [
        "{",
        "[]",
        "null",
        "{\"server\": 5}",
        "{\"flavor\": []}",
        "{\"network\": {\"name\": 1}}",
        "\"text\"",
    ];
    let endpoints = [
        "/compute/v2.1/servers",
        "/compute/v2.1/flavors",
        "/compute/v2.1/os-keypairs",
        "/image/v2/images",
        "/network/v2.0/networks",
        "/network/v2.0/subnets",
        "/network/v2.0/security-groups",
        "/volume/v3/volumes",
        "/identity/v3/projects",
        "/identity/v3/users",
    ];
    for endpoint in endpoints {
        for body in bodies {
            let response = site
                .http
                .post(format!("{}{endpoint}", site.base))
                .header("x-auth-token", &site.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = response.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{endpoint} with {body}: {status}"
            );
        }
    }
    let (status, _, body) = site.call(reqwest::Method::POST, "/compute/v2.1/servers", Some(json!({"server": {"name": "x", "flavorRef": "1", "imageRef": "i", "networks": "auto", "colour": "red"}})), None).await;
    assert_eq!(status, 400);
    assert!(
        body["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'colour' was unexpected")),
        "{body}"
    );
    let (status, _, body) = site
        .call(
            reqwest::Method::POST,
            "/network/v2.0/networks",
            Some(json!({"network": {"name": "n", "colour": "red"}})),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["NeutronError"]["message"],
        "Unrecognized attribute(s) 'colour'"
    );
    for path in [
        "/compute/v2.1/servers/nope",
        "/compute/v2.1/flavors/nope",
        "/image/v2/images/nope",
        "/network/v2.0/networks/nope",
        "/volume/v3/volumes/nope",
        "/identity/v3/projects/nope",
    ] {
        let (status, _, _) = site.call(reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn an_image_upload_that_breaks_off_leaves_the_image_queued_for_another() {
    let sim = start_sim(1).await;
    let site = site(&sim, "site-001").await;
    let (status, _, image) = site
        .call(
            reqwest::Method::POST,
            "/image/v2/images",
            Some(json!({"name": "half", "disk_format": "raw", "container_format": "bare"})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{image}");
    let id = image["id"].as_str().unwrap_or_default().to_owned();
    // One chunk, then the client goes quiet and hangs up.
    let chunks = futures::stream::iter([Ok::<_, std::io::Error>(vec![7u8; 4096])])
        .chain(futures::stream::pending());
    let upload = site
        .http
        .put(format!("{}/image/v2/images/{id}/file", site.base))
        .header("x-auth-token", &site.token)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let uploading = tokio::spawn(upload);
    let status_of = || async {
        let (_, _, image) = site
            .call(
                reqwest::Method::GET,
                &format!("/image/v2/images/{id}"),
                None,
                None,
            )
            .await;
        image["status"].as_str().map(str::to_owned)
    };
    eventually(Duration::from_secs(5), "the upload to start", || async {
        (status_of().await.as_deref() == Some("saving")).then_some(())
    })
    .await;
    uploading.abort();
    eventually(
        Duration::from_secs(5),
        "the image to be queued again",
        || async { (status_of().await.as_deref() == Some("queued")).then_some(()) },
    )
    .await;
    let (status, _, _) = site
        .call(
            reqwest::Method::GET,
            &format!("/image/v2/images/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
}
