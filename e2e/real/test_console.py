"""The console against two real OpenStack 2026.1 sites (Keystone, Glance, Placement, Neutron
API only with flat provider networks, Nova with the fake driver; no Cinder): what the
simulator promises, checked where it counts."""
import hashlib
import os
import subprocess
import sys

from conftest import SITES, realsites

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl real-lane"
LISTS = ["servers", "images", "flavors", "networks", "subnets", "keypairs", "security-groups",
         "projects", "users", "role-assignments", "hypervisors", "services"]


def items(console, path):
    status, body = console.get(path)
    assert status == 200, (path, body)
    return body["items"]


def test_every_list_each_site_offers_answers_and_cinder_is_not_offered(console):
    for site in SITES:
        for resource in LISTS:
            items(console, f"/sites/{site}/{resource}")
        status, quotas = console.get(f"/sites/{site}/quotas")
        assert status == 200, quotas
        status, body = console.get(f"/sites/{site}/volumes")
        assert (status, body["error"]["code"]) == (404, "service_not_offered"), body
        hypervisors = items(console, f"/sites/{site}/hypervisors")
        assert hypervisors, "the fake compute host is mapped"
        status, shown = console.get(f"/sites/{site}/hypervisors/{hypervisors[0]['id']}")
        assert status == 200, shown
        status, shown = console.get(f"/sites/{site}/users/admin")
        assert (status, shown.get("name")) == (200, "admin"), "users show by name: Keystone takes ids only"


def test_quotas_carry_the_project_name_and_what_it_uses_from_nova_and_neutron(console):
    status, quotas = console.get("/sites/os-001/quotas/admin")
    assert status == 200, quotas
    assert quotas["project_name"] == "admin", quotas
    # Nova's os-quota-sets/{id}/detail and Neutron's quota_details: usage beside the limits.
    assert set(quotas["usage"]["compute"]) == set(quotas["compute"]) and "instances" in quotas["compute"], quotas
    assert "network" in quotas["usage"]["network"] and "port" in quotas["usage"]["network"], quotas
    assert "volume" not in quotas and "volume" not in quotas["usage"], "no Cinder here"


def test_identity_and_compute_objects_are_created_shown_and_deleted(console):
    site = "os-001"
    created = []
    for resource, body in [
        ("flavors", {"name": "lane.small", "vcpus": 1, "ram_mb": 256, "disk_gb": 1}),
        ("keypairs", {"name": "lane-key", "public_key": SSH_KEY}),
        ("security-groups", {"name": "lane-web", "description": "http"}),
        ("projects", {"name": "lane-team"}),
        ("users", {"name": "lane-alice", "password": "lane-alice-password", "default_project": "lane-team"}),
    ]:
        status, made = console.call("POST", f"/sites/{site}/{resource}", body)
        assert status == 201, (resource, made)
        key = made.get("id") or made["name"]
        status, shown = console.get(f"/sites/{site}/{resource}/{key}")
        assert status == 200, (resource, shown)
        created.append((resource, key))
    status, shown = console.get(f"/sites/{site}/flavors/lane.small")
    assert (status, shown.get("name")) == (200, "lane.small"), "flavors show by name: Nova takes ids only"

    status, granted = console.call("POST", f"/sites/{site}/role-assignments",
                                   {"user": "lane-alice", "project": "lane-team", "role": "member"})
    assert status == 201, granted
    assert any(a["id"] == granted["id"] for a in items(console, f"/sites/{site}/role-assignments"))
    status, _ = console.call("DELETE", f"/sites/{site}/role-assignments/{granted['id']}")
    assert status == 204

    status, quotas = console.call("PUT", f"/sites/{site}/quotas/lane-team", {"compute": {"instances": 7}})
    assert status == 200, quotas
    for resource, key in reversed(created):
        status, body = console.call("DELETE", f"/sites/{site}/{resource}/{key}")
        assert status == 204, (resource, body)


def test_networks_are_provider_networks_here_and_tenant_networks_are_refused_with_neutrons_words(console):
    site = "os-002"
    status, refused = console.call("POST", f"/sites/{site}/networks", {"name": "lane-tenant"})
    assert status == 502 and "No project network is available" in refused["error"]["message"], refused
    status, network = console.call("POST", f"/sites/{site}/networks", {
        "name": "lane-flat", "provider:network_type": "flat", "provider:physical_network": "physnet1",
        "shared": True, "mtu": 1450})
    assert status == 201, network
    assert network["provider:network_type"] == "flat" and network["provider:physical_network"] == "physnet1"
    status, subnet = console.call("POST", f"/sites/{site}/subnets",
                                  {"name": "lane-flat-v4", "network_id": network["id"], "cidr": "10.77.0.0/24"})
    assert status == 201, subnet
    for resource, key in [("networks", network["id"]), ("subnets", subnet["id"])]:
        status, shown = console.get(f"/sites/{site}/{resource}/{key}")
        assert status == 200 and shown["id"] == key, shown
    for resource, key in [("subnets", subnet["id"]), ("networks", network["id"])]:
        status, body = console.call("DELETE", f"/sites/{site}/{resource}/{key}")
        assert status == 204, (resource, body)


def test_an_image_keeps_its_bytes_and_glances_sha512(console):
    site = "os-001"
    data = os.urandom(3 * 1024 * 1024 + 17)
    status, image = console.call("POST", f"/sites/{site}/images",
                                 {"name": "lane-image", "disk_format": "raw", "container_format": "bare"})
    assert status == 201, image
    uploaded = console.http.put(f"{console.url}/api/v1/sites/{site}/images/{image['id']}/file", data=data,
                                headers={"Content-Type": "application/octet-stream"}, timeout=120)
    assert uploaded.status_code in (200, 204), uploaded.text
    shown = console.eventually("the image active", lambda: (lambda b: b if b.get("status") == "active" else None)(
        console.get(f"/sites/{site}/images/{image['id']}")[1]))
    assert shown["hash"] == hashlib.sha512(data).hexdigest(), shown  # Glance's os_hash_value
    downloaded = console.http.get(f"{console.url}/api/v1/sites/{site}/images/{image['id']}/file", timeout=120)
    assert downloaded.status_code == 200 and downloaded.content == data
    status, missing = console.get(f"/sites/{site}/images/00000000-0000-4000-8000-000000000000")
    assert status == 404 and "<" not in missing["error"]["message"], "Glance's error as text, not HTML"
    status, _ = console.call("DELETE", f"/sites/{site}/images/{image['id']}")
    assert status == 204


def test_a_server_boots_to_active_stops_starts_and_is_deleted(console):
    site = "os-002"
    status, image = console.call("POST", f"/sites/{site}/images",
                                 {"name": "lane-boot", "disk_format": "raw", "container_format": "bare"})
    assert status == 201, image
    put = console.http.put(f"{console.url}/api/v1/sites/{site}/images/{image['id']}/file", data=b"\0" * 65536,
                           headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert put.status_code in (200, 204), put.text
    status, flavor = console.call("POST", f"/sites/{site}/flavors",
                                  {"name": "lane.boot", "vcpus": 1, "ram_mb": 128, "disk_gb": 1})
    assert status == 201, flavor
    # No auto-allocated-topology on these sites: "auto" is refused before Nova (which answers 500).
    status, refused = console.call("POST", f"/sites/{site}/servers",
                                   {"name": "lane-auto", "flavor": "lane.boot", "image": "lane-boot"})
    assert status == 400 and refused["error"]["fields"][0]["field"] == "networks", refused
    status, server = console.call("POST", f"/sites/{site}/servers",
                                  {"name": "lane-vm", "flavor": "lane.boot", "image": "lane-boot", "networks": "none"})
    assert status == 202, server

    def state(wanted):
        def check():
            status, shown = console.get(f"/sites/{site}/servers/{server['id']}")
            assert shown.get("status") != "ERROR", shown
            return shown if shown.get("status") == wanted else None
        return console.eventually(f"lane-vm {wanted}", check, within=120)

    state("ACTIVE")
    # The fake driver keeps a console log: Nova's os-getConsoleOutput, through the console.
    status, log = console.get(f"/sites/{site}/servers/{server['id']}/console-log?lines=2")
    assert status == 200 and "LAST LINE" in log.get("output", ""), log
    for action, wanted in [("stop", "SHUTOFF"), ("start", "ACTIVE")]:
        status, body = console.call("POST", f"/sites/{site}/servers/{server['id']}/action", {"action": action})
        assert status in (202, 204), body
        state(wanted)
    # Nova's instance actions, newest first, in RFC 3339.
    status, events = console.get(f"/sites/{site}/servers/{server['id']}/events")
    assert status == 200, events
    assert [e["action"] for e in events["items"]] == ["start", "stop", "create"], events
    assert all(e["request_id"].startswith("req-") and e["start_time"].endswith("Z") for e in events["items"]), events
    status, _ = console.call("DELETE", f"/sites/{site}/servers/{server['id']}")
    assert status == 204
    console.eventually("lane-vm gone", lambda: console.get(f"/sites/{site}/servers/{server['id']}")[0] == 404,
                       within=120)
    for resource, key in [("flavors", flavor["id"]), ("images", image["id"])]:
        console.call("DELETE", f"/sites/{site}/{resource}/{key}")


def test_every_aggregated_list_with_every_selection(console):
    for resource in ["servers", "images", "flavors", "networks", "volumes", "projects", "users"]:
        for query in ["", "?sites=os-001,os-002", "?selector=lane=real", "?selector=lane=real&max_age_ms=600000"]:
            status, answer = console.get(f"/{resource}{query}")
            assert status == 200, (resource, query, answer)
            wanted = {"not_offered" if resource == "volumes" else "ok"}
            if "max_age_ms" in query:
                wanted.add("stale")  # young cached data is served as such
            statuses = {answer["sites"][site]["status"] for site in SITES}
            assert statuses <= wanted, (resource, query, answer["sites"])


def job(console, body, within=180):
    status, created = console.call("POST", "/jobs", body)
    assert status == 202, created

    def finished():
        status, shown = console.get(f"/jobs/{created['id']}")
        return shown if shown["state"] in ("succeeded", "partially_failed", "failed", "cancelled") else None

    return console.eventually(f"job {body['kind']}", finished, within=within)


def test_one_job_of_every_kind_succeeds_on_both_sites(console):
    targets = {"selector": "lane=real"}
    kinds = [
        ("flavor.create", {"name": "lane.job", "vcpus": 1, "ram_mb": 128, "disk_gb": 1}),
        ("project.create", {"name": "lane-job-team"}),
        ("user.create", {"name": "lane-job-user", "password": "lane-job-password", "default_project": "lane-job-team"}),
        ("quota.set", {"project": "lane-job-team", "compute": {"instances": 5}}),
        ("keypair.create", {"name": "lane-job-key", "public_key": SSH_KEY}),
        ("network.create", {"name": "lane-job-net", "provider:network_type": "flat",
                            "provider:physical_network": "physnet1"}),
        ("servers.delete", {"name_prefix": "lane-job-nothing-"}),
        ("flavor.delete", {"name": "lane.job"}),
    ]
    for kind, params in kinds:
        done = job(console, {"kind": kind, "targets": targets, "params": params})
        assert done["state"] == "succeeded", (kind, done)
        assert all(t["attempts"] == 1 for t in done["tasks"]), (kind, done["tasks"])
    # Done exactly once: the flavor is gone and each network exists once per site.
    for site in SITES:
        assert not [f for f in items(console, f"/sites/{site}/flavors") if f["name"] == "lane.job"]
        assert len([n for n in items(console, f"/sites/{site}/networks") if n["name"] == "lane-job-net"]) == 1
    for site in SITES:
        for network in items(console, f"/sites/{site}/networks"):
            if network["name"] == "lane-job-net":
                assert console.call("DELETE", f"/sites/{site}/networks/{network['id']}")[0] == 204
    # A tenant network cannot be had here: the task fails at once with Neutron's words.
    done = job(console, {"kind": "network.create", "targets": targets, "params": {"name": "lane-job-tenant"}})
    assert done["state"] == "failed", done
    assert all(t["attempts"] == 1 and "No project network" in t["error"] for t in done["tasks"]), done["tasks"]


def test_a_stopped_site_is_unreachable_and_its_waiting_task_completes_once_when_it_returns(console):
    realsites("stop-site", "os-002", timeout=120)
    try:
        console.eventually("os-002 unreachable",
                           lambda: console.get("/sites/os-002")[1]["state"] == "unreachable", within=30)
        status, listed = console.get("/flavors?timeout_ms=2000")
        assert status == 200 and listed["sites"]["os-001"]["status"] == "ok", listed
        assert listed["sites"]["os-002"]["status"] in ("stale", "unreachable"), listed
        status, created = console.call("POST", "/jobs", {"kind": "flavor.create", "targets": {"selector": "lane=real"},
                                                         "params": {"name": "lane.partition", "vcpus": 1,
                                                                    "ram_mb": 128, "disk_gb": 1}})
        assert status == 202, created
        console.eventually("os-002 waiting", lambda: any(
            t["site"] == "os-002" and t["state"] == "waiting_for_site"
            for t in console.get(f"/jobs/{created['id']}")[1]["tasks"]), within=60)
    finally:
        realsites("start-site", "os-002", timeout=600)
    done = console.eventually("the job succeeds", lambda: (lambda j: j if j["state"] == "succeeded" else None)(
        console.get(f"/jobs/{created['id']}")[1]), within=180)
    assert len([f for f in items(console, "/sites/os-002/flavors") if f["name"] == "lane.partition"]) == 1, done


def test_overcast_ctl_lists_both_sites_and_exits_zero_with_cinder_not_offered(console):
    token = console.http.headers["Authorization"].removeprefix("Bearer ")
    from conftest import BIN
    env = dict(os.environ, OVERCAST_URL=console.url, OVERCAST_TOKEN=token)
    for resource in ["servers", "volumes"]:
        done = subprocess.run([BIN, "ctl", "list", resource], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (resource, done.stdout, done.stderr)


if __name__ == "__main__":
    sys.exit("run with pytest")


def test_an_image_is_copied_between_real_glances_and_a_server_boots_from_the_copy(console):
    """The canonical cross-site operation: boot on os-002 with an image defined on os-001,
    through a verified copy between the two Glance services."""
    source = "os-001"
    data = os.urandom(2 * 1024 * 1024 + 5)
    status, image = console.call("POST", f"/sites/{source}/images",
                                 {"name": "lane-cross", "disk_format": "raw", "container_format": "bare",
                                  "visibility": "public"})
    assert status == 201, image
    put = console.http.put(f"{console.url}/api/v1/sites/{source}/images/{image['id']}/file", data=data,
                           headers={"Content-Type": "application/octet-stream"}, timeout=120)
    assert put.status_code in (200, 204), put.text
    console.eventually("the source active", lambda: console.get(f"/sites/{source}/images/{image['id']}")[1]
                       .get("status") == "active")

    status, copy = console.call("POST", "/images/copy",
                                {"source": {"site": source, "image_id": image["id"]}, "targets": {"sites": ["os-002"]}})
    assert status == 202, copy

    def finished(job_id):
        def check():
            _, shown = console.get(f"/jobs/{job_id}")
            return shown if shown["state"] in ("succeeded", "partially_failed", "failed", "cancelled") else None
        return check

    done = console.eventually("the copy", finished(copy["id"]), within=180)
    assert done["state"] == "succeeded", done
    result = done["tasks"][0]["result"]
    assert result["outcome"] == "copied", result
    status, copied = console.get(f"/sites/os-002/images/{result['image_id']}")
    assert status == 200 and copied["hash"] == hashlib.sha512(data).hexdigest(), copied  # real Glance's os_hash_value
    status, catalog = console.get("/images/catalog?name=lane-cross")
    assert status == 200, catalog
    assert [sorted(s["site"] for s in e["sites"]) for e in catalog["items"]] == [["os-001", "os-002"]], catalog

    status, flavor = console.call("POST", "/jobs", {"kind": "flavor.create", "targets": {"sites": ["os-002"]},
                                                  "params": {"name": "lane.cross", "vcpus": 1, "ram_mb": 128,
                                                             "disk_gb": 1}})
    assert status == 202, flavor
    console.eventually("the flavor", finished(flavor["id"]), within=120)
    status, boot = console.call("POST", "/servers", {"name": "lane-cross-vm", "flavor": "lane.cross",
                                                     "networks": "none",
                                                     "image": {"site": source, "image_id": image["id"]},
                                                     "targets": {"sites": ["os-002"]}})
    assert status == 202, boot
    booted = console.eventually("the boot", finished(boot["id"]), within=240)
    assert booted["state"] == "succeeded", booted
    outcome = booted["tasks"][0]["result"]
    assert outcome["image"] == "present" and outcome["image_id"] == result["image_id"], outcome
    server = outcome["servers"][0]
    assert server["status"] == "ACTIVE", outcome
    console.call("DELETE", f"/sites/os-002/servers/{server['id']}")
    console.eventually("lane-cross-vm gone", lambda: console.get(f"/sites/os-002/servers/{server['id']}")[0] == 404,
                       within=120)
    for site, image_id in [("os-002", result["image_id"]), (source, image["id"])]:
        console.call("DELETE", f"/sites/{site}/images/{image_id}")
    status, shown = console.get("/sites/os-002/flavors/lane.cross")
    if status == 200:
        console.call("DELETE", f"/sites/os-002/flavors/{shown['id']}")


def site_api(clouds_path, site, service):
    """A token of the site's admin and the public endpoint of one of its services, straight
    from Keystone: to ask a real service what the console is checked against."""
    import requests
    import yaml
    cloud = yaml.safe_load(open(clouds_path))["clouds"][site]
    auth = cloud["auth"]
    answer = requests.post(f"{auth['auth_url'].rstrip('/')}/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": auth["project_name"], "domain": {"name": "Default"}}}}})
    endpoint = next(e["url"] for s in answer.json()["token"]["catalog"] if s["type"] == service
                    for e in s["endpoints"] if e["interface"] == "public")
    return {"X-Auth-Token": answer.headers["X-Subject-Token"]}, endpoint


def placement_capacity(clouds_path, site):
    """What real Placement says a site can allocate, read here without the console:
    (total - reserved) × allocation_ratio over its resource providers."""
    import requests
    headers, placement = site_api(clouds_path, site, "placement")
    totals = {}
    for provider in requests.get(f"{placement}/resource_providers", headers=headers, timeout=30).json()[
            "resource_providers"]:
        inventories = requests.get(f"{placement}/resource_providers/{provider['uuid']}/inventories",
                                   headers=headers, timeout=30).json()["inventories"]
        for resource, inventory in inventories.items():
            totals[resource] = totals.get(resource, 0) + (
                inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"]
    return totals


def test_metrics_are_collected_from_real_placement_and_nova(console, sites):
    def both_collected():
        status, summary = console.get("/metrics/summary")
        assert status == 200, summary
        return summary if summary["sites_reporting"] == len(SITES) else None
    summary = console.eventually("both sites collected", both_collected, within=120)
    for row in summary["sites"]:
        values = row["values"]
        expected = placement_capacity(sites["clouds"], row["site"])
        assert abs(values["capacity_vcpus"] - expected["VCPU"]) < 0.01, (row, expected)
        assert abs(values["capacity_ram_mb"] - expected["MEMORY_MB"]) < 1, (row, expected)
        assert values["used_vcpus"] >= 0 and values["servers_total"] >= 0, row
        assert values["images_count"] >= 0 and "volumes_count" not in values, "no Cinder here: not measured"
        assert values["api_latency_ms"] > 0 and values["site_up"] == 1, row
    status, series = console.get("/metrics/series?metric=capacity_vcpus&step=10&group_by=lane")
    assert status == 200, series
    assert series["series"][0]["group"] == "real" and any(p["value"] for p in series["series"][0]["points"]), series


def test_usage_over_the_lane_equals_novas_own_report(console, sites):
    """The servers this run booted and deleted lived part of the period: what the console
    reports per site is what each Nova's os-simple-tenant-usage says for the same period."""
    import datetime
    import requests
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start, end = now - datetime.timedelta(hours=3), now
    status, report = console.get(f"/usage?from={int(start.timestamp())}&to={int(end.timestamp())}")
    assert status == 200 and report["unknown"] == [], report
    rows = {row["group"]: row for row in report["rows"]}
    fmt = "%Y-%m-%dT%H:%M:%S"
    for site in SITES:
        headers, nova = site_api(sites["clouds"], site, "compute")
        answer = requests.get(f"{nova}/os-simple-tenant-usage", headers=headers, timeout=30,
                              params={"start": start.strftime(fmt), "end": end.strftime(fmt)})
        assert answer.status_code == 200, answer.text
        usages = answer.json()["tenant_usages"]
        expected = sum(u["total_hours"] for u in usages)
        assert abs(rows[site]["vm_hours"] - expected) < 1e-6, (site, rows[site], usages)
        assert abs(rows[site]["vcpu_hours"] - sum(u["total_vcpus_usage"] for u in usages)) < 1e-6
        assert abs(rows[site]["ram_gb_hours"] - sum(u["total_memory_mb_usage"] for u in usages) / 1024) < 1e-6
    assert rows["os-002"]["vm_hours"] > 0, "lane-vm lived on os-002 during the period"
    assert "volume_gb_hours" in rows["os-001"], "no Cinder: volumes are not measured, not zero"
    assert rows["os-001"]["volume_gb_hours"] is None, rows


def test_a_boot_with_placement_goes_where_real_placement_and_nova_have_room(console, sites):
    """L2.2 against real services: the plan reads each site's figures from its real
    Placement and quotas from its real Nova, and the placed boot copies the image to the
    site that lacks it and follows every server to ACTIVE."""
    def finished(job_id):
        def check():
            _, shown = console.get(f"/jobs/{job_id}")
            return shown if shown["state"] in ("succeeded", "partially_failed", "failed", "cancelled") else None
        return check

    status, flavor = console.call("POST", "/jobs", {"kind": "flavor.create", "targets": {"all": True},
                                                  "params": {"name": "lane.placed", "vcpus": 1, "ram_mb": 128,
                                                             "disk_gb": 1}})
    assert status == 202, flavor
    assert console.eventually("the flavor", finished(flavor["id"]), within=120)["state"] == "succeeded"
    status, image = console.call("POST", "/sites/os-001/images",
                                 {"name": "lane-placed", "disk_format": "raw", "container_format": "bare"})
    assert status == 201, image
    put = console.http.put(f"{console.url}/api/v1/sites/os-001/images/{image['id']}/file",
                           data=os.urandom(1024 * 1024), headers={"Content-Type": "application/octet-stream"},
                           timeout=120)
    assert put.status_code in (200, 204), put.text

    request = {"flavor": "lane.placed", "count": 2, "policy": "spread"}

    def planned():
        status, plan = console.call("POST", "/placement/plan", request)
        assert status == 200, plan
        return plan if plan["satisfiable"] and len(plan["allocations"]) == 2 else None
    plan = console.eventually("a plan over both sites", planned, within=120)
    assert sorted((a["site"], a["count"]) for a in plan["allocations"]) == [("os-001", 1), ("os-002", 1)], plan
    assert all(a["reason"] for a in plan["allocations"]), plan

    status, boot = console.call("POST", "/servers", {"name": "lane-placed", "flavor": "lane.placed",
                                                     "networks": "none", "count": 2,
                                                     "image": {"site": "os-001", "image_id": image["id"]},
                                                     "placement": {"policy": "spread"}})
    assert status == 202, boot
    done = console.eventually("the placed boot", finished(boot["id"]), within=300)
    assert done["state"] == "succeeded", done
    results = {t["site"]: t["result"] for t in done["tasks"]}
    assert sorted(results) == ["os-001", "os-002"], done
    assert results["os-001"]["image"] == "source" and results["os-002"]["image"] == "copied", results
    for site, result in results.items():
        assert [s["status"] for s in result["servers"]] == ["ACTIVE"], (site, result)
        console.call("DELETE", f"/sites/{site}/servers/{result['servers'][0]['id']}")
    for site, result in results.items():
        server_id = result["servers"][0]["id"]
        console.eventually(f"lane-placed gone from {site}",
                           lambda site=site, server_id=server_id: console.get(
                               f"/sites/{site}/servers/{server_id}")[0] == 404, within=120)
        console.call("DELETE", f"/sites/{site}/images/{result['image_id']}")
        status, shown = console.get(f"/sites/{site}/flavors/lane.placed")
        if status == 200:
            console.call("DELETE", f"/sites/{site}/flavors/{shown['id']}")
