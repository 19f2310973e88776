"""Fixtures of the real-services lane: two real OpenStack sites (started by realsites.py,
kept warm in a cache directory between runs) and a real `overcast serve` in front of them."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("OVERCAST_BIN", os.path.join(HERE, "..", "..", "target", "debug", "overcast"))
CACHE = os.environ.get("OVERCAST_REAL_CACHE", os.path.join(
    os.environ.get("OVERCAST_CACHE", os.path.expanduser("~/.cache/overcast")), "real-openstack"))
SITES = ("os-001", "os-002")
ADMIN_PASSWORD = "real-lane-admin-password"


def realsites(*args, timeout=900):
    """Runs the launcher; its last stdout line is a JSON summary."""
    done = subprocess.run([sys.executable, os.path.join(HERE, "realsites.py"), *args, "--cache", CACHE],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"realsites.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Console:
    """The console's REST API as a script uses it."""

    def __init__(self, url):
        self.url = url
        self.http = requests.Session()
        token = self.http.post(f"{url}/api/v1/auth/login", timeout=10,
                               json={"username": "admin", "password": ADMIN_PASSWORD}).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method, path, body=None, **kwargs):
        response = self.http.request(method, f"{self.url}/api/v1{path}", json=body, timeout=120, **kwargs)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def get(self, path):
        return self.call("GET", path)

    def eventually(self, what, check, within=60):
        deadline = time.monotonic() + within
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within} s waiting for {what}")
            time.sleep(0.5)


def remove_leftovers(console):
    """The sites' state is kept between runs: what an interrupted run left (a flat network
    holds its physical network) is removed first, so each run starts alike."""
    for site in SITES:
        for resource in ["servers", "networks", "images", "flavors", "keypairs", "security-groups", "users",
                         "projects"]:
            status, body = console.get(f"/sites/{site}/{resource}")
            for item in body.get("items", []) if status == 200 else []:
                if item.get("name", "").startswith("lane"):
                    key = item.get("id") or item["name"]
                    console.call("DELETE", f"/sites/{site}/{resource}/{key}")
        console.eventually(f"{site} without lane servers", lambda site=site: not [
            s for s in console.get(f"/sites/{site}/servers")[1]["items"] if s["name"].startswith("lane")], within=120)


@pytest.fixture(scope="session")
def sites():
    """Two real sites; their clouds.yaml. Stopped at the end of the run by PID."""
    workdir = tempfile.mkdtemp(prefix="overcast-real-")
    clouds = os.path.join(workdir, "clouds.yaml")
    started = time.monotonic()
    summary = realsites("up", "--sites", str(len(SITES)), "--clouds-yaml", clouds)
    print(f"real sites up in {time.monotonic() - started:.0f} s: {summary.strip().splitlines()[-1]}")
    try:
        yield {"clouds": clouds, "summary": json.loads(summary.strip().splitlines()[-1])}
    finally:
        realsites("down", timeout=120)


@pytest.fixture(scope="session")
def console(sites):
    """`overcast serve` with both sites imported from their clouds.yaml."""
    data = tempfile.mkdtemp(prefix="overcast-real-console-")
    port = free_port()
    env = dict(os.environ, OVERCAST_ADMIN_PASSWORD=ADMIN_PASSWORD, RUST_LOG="warn")
    log = open(os.path.join(data, "console.log"), "w")
    process = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                                "--metrics-interval-s", "5"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"overcast serve did not start; see {log.name}")
        time.sleep(0.2)
    console = Console(url)
    with open(sites["clouds"]) as clouds:
        response = console.http.post(f"{url}/api/v1/sites/import?labels=lane%3Dreal", data=clouds.read(),
                                     headers={"Content-Type": "application/yaml"}, timeout=30)
    report = response.json()
    assert response.status_code == 200 and sorted(report["created"]) == list(SITES), report
    for site in SITES:
        console.eventually(f"{site} online", lambda site=site: console.get(f"/sites/{site}")[1]["state"] == "online")
    remove_leftovers(console)
    try:
        yield console
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
