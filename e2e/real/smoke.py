#!/usr/bin/env python3
"""End-to-end check of one site started by realsites.py (stdlib only).

Signs in, lists the catalog, creates a flat provider network on physnet1, uploads a
small image (and checks Glance computed its sha512), creates a flavor, boots a server
with `"networks": "none"`, waits for ACTIVE, then deletes everything it made.

    smoke.py [--auth-url http://127.0.0.1:31000/v3] [--timeout 180]

Prints one line of JSON with what it saw and how long each step took; exits 1 on failure.
"""

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method, url, token=None, body=None, data=None, headers=None, expect=(200,)):
    headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["X-Auth-Token"] = token
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=60) as response:
            status, answer, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, answer, raw = e.code, e.headers, e.read()
    if status not in expect:
        raise SystemExit(f"smoke: {method} {url}: HTTP {status}: {raw[:500]!r}")
    return answer, (json.loads(raw) if raw and raw.lstrip()[:1] in (b"{", b"[") else None)


def endpoint(catalog, service_type):
    for service in catalog:
        if service["type"] == service_type:
            for e in service["endpoints"]:
                if e["interface"] == "public":
                    return e["url"].rstrip("/")
    raise SystemExit(f"smoke: no public {service_type} endpoint in the catalog")


def wait_gone(url, token, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = call("GET", url, token, expect=(200, 404))
        if not body or "server" not in body:  # a 404 answers {"itemNotFound": ...}
            return
        time.sleep(0.5)
    raise SystemExit(f"smoke: {url} still there after {timeout}s")


def exercise(args, token, compute, network, image, cleanups, step):
    t = time.monotonic()
    suffix = os.urandom(3).hex()
    _, net = call("POST", f"{network}/v2.0/networks", token, {"network": {
        "name": f"smoke-flat-{suffix}", "provider:network_type": "flat",
        "provider:physical_network": "physnet1", "shared": False}}, expect=(201,))
    net = net["network"]
    cleanups.append(("network", f"{network}/v2.0/networks/{net['id']}", (204,)))
    step("flat network", t)

    t = time.monotonic()
    payload = os.urandom(64 * 1024)
    _, img = call("POST", f"{image}/v2/images", token, {
        "name": f"smoke-{suffix}", "disk_format": "raw", "container_format": "bare"},
        expect=(201,))
    cleanups.append(("image", f"{image}/v2/images/{img['id']}", (204,)))
    call("PUT", f"{image}/v2/images/{img['id']}/file", token, data=payload,
         headers={"Content-Type": "application/octet-stream"}, expect=(204,))
    _, img = call("GET", f"{image}/v2/images/{img['id']}", token)
    if img["status"] != "active" or img.get("os_hash_algo") != "sha512" or \
            img.get("os_hash_value") != hashlib.sha512(payload).hexdigest():
        raise SystemExit(f"smoke: image not active or wrong hash: {img}")
    step("image upload", t)

    t = time.monotonic()
    _, flavor = call("POST", f"{compute}/flavors", token, {"flavor": {
        "name": f"smoke-{suffix}", "ram": 64, "vcpus": 1, "disk": 1}})
    flavor = flavor["flavor"]
    cleanups.append(("flavor", f"{compute}/flavors/{flavor['id']}", (202,)))
    _, server = call("POST", f"{compute}/servers", token, {"server": {
        "name": f"smoke-{suffix}", "imageRef": img["id"], "flavorRef": flavor["id"],
        "networks": "none"}}, headers={"OpenStack-API-Version": "compute 2.37"},
        expect=(202,))
    server_id = server["server"]["id"]
    cleanups.append(("server", f"{compute}/servers/{server_id}", (204,)))
    deadline = time.monotonic() + args.timeout
    while True:
        _, server = call("GET", f"{compute}/servers/{server_id}", token)
        status = server["server"]["status"]
        if status == "ACTIVE":
            break
        if status == "ERROR" or time.monotonic() > deadline:
            raise SystemExit(f"smoke: server {status}: {server['server'].get('fault')}")
        time.sleep(0.5)
    step("boot to ACTIVE", t)
    return net, img, server_id, server["server"].get("OS-EXT-SRV-ATTR:hypervisor_hostname")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--auth-url", default="http://127.0.0.1:31000/v3")
    parser.add_argument("--password", default="os-admin-secret")
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    steps, began = {}, time.monotonic()

    def step(name, t0):
        steps[name] = round(time.monotonic() - t0, 3)

    t = time.monotonic()
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": args.password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    headers, body = call("POST", args.auth_url + "/auth/tokens", body=auth, expect=(201,))
    token, catalog = headers["X-Subject-Token"], body["token"]["catalog"]
    step("token", t)
    types = sorted(s["type"] for s in catalog)
    compute, network, image = (endpoint(catalog, k) for k in ("compute", "network", "image"))

    cleanups = []  # run in reverse on the way out, failed or not: a flat physnet takes
    try:           # one network only, so a leftover would fail the next run
        result = exercise(args, token, compute, network, image, cleanups, step)
    finally:
        t = time.monotonic()
        for what, url, expected in reversed(cleanups):
            try:
                call("DELETE", url, token, expect=expected)
                if what == "server":
                    wait_gone(url, token, args.timeout)
            except SystemExit as e:
                print(f"smoke: clean-up of {what} failed: {e}", file=sys.stderr)
        step("clean-up", t)
    net, img, server_id, host = result
    print(json.dumps({"auth_url": args.auth_url, "catalog": types,
                      "network": {"id": net["id"], "type": net["provider:network_type"],
                                  "physnet": net["provider:physical_network"]},
                      "image": {"os_hash_algo": img["os_hash_algo"],
                                "os_hash_value": img["os_hash_value"][:16] + "...",
                                "size": img["size"]},
                      "server": {"id": server_id, "status": "ACTIVE", "host": host},
                      "steps": steps, "seconds": round(time.monotonic() - began, 2)}))


if __name__ == "__main__":
    sys.exit(main())
