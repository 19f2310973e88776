"""A real Prometheus (Debian's package, `make test` installs it) scrapes a real console:
`promtool check metrics` accepts what `/metrics` answers, the scrape target is up with a
viewer's API token, and Prometheus's query API returns the fleet gauges, one series per
site with the site's labels."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

BIN = os.environ.get("OVERCAST_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "overcast"))
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SITES = 3
PASSWORD = "prometheus-test-admin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, token=None, body=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.read().decode()


def until(what, deadline_s, check):
    """Polls `check` until it returns something other than None, or fails after the deadline."""
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found is not None:
                return found
        except OSError as error:  # not listening yet, or refused for now
            last = error
        time.sleep(0.2)
    raise AssertionError(f"timed out after {deadline_s} s waiting for {what} (last error: {last})")


def stop(process):
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_a_real_prometheus_scrapes_the_fleet_gauges():
    assert os.access(PROMETHEUS, os.X_OK) and os.access(PROMTOOL, os.X_OK), \
        "prometheus and promtool are missing: `make test-tools` installs Debian's prometheus package"
    work = tempfile.mkdtemp(prefix="overcast-prom-")
    clouds = os.path.join(work, "clouds.yaml")
    sim = console = prometheus = None
    logs = []
    try:
        sim = subprocess.Popen([BIN, "sim", "--sites", str(SITES), "--listen", "127.0.0.1:0", "--clouds-yaml", clouds],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert re.search(r"sites on", sim.stdout.readline())
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        console_log = open(os.path.join(work, "console.log"), "w")
        logs.append(console_log)
        console = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "data"),
             "--metrics-interval-s", "1"],
            env=dict(os.environ, OVERCAST_ADMIN_PASSWORD=PASSWORD, RUST_LOG="warn"), stderr=console_log)
        until("the console", 30, lambda: request(f"{base}/readyz"))
        admin = json.loads(request(f"{base}/api/v1/auth/login", body={"username": "admin", "password": PASSWORD}))["access_token"]
        with open(clouds, "rb") as f:
            request(f"{base}/api/v1/sites/import?labels=region=eu,tier=edge", admin, f.read(), "application/yaml")
        # What Prometheus signs in with: an API token that can only read.
        token = json.loads(request(f"{base}/api/v1/auth/tokens", admin, {"name": "prometheus", "role": "viewer"}))["token"]

        def all_collected():
            body = request(f"{base}/metrics", token)
            found = re.findall(r'^overcast_site_capacity_vcpus\{site="([^"]+)"', body, re.M)
            return body if len(set(found)) == SITES else None
        body = until("every site's figures in /metrics", 60, all_collected)
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, f"promtool check metrics: {check.stdout}{check.stderr}"

        credentials = os.path.join(work, "token")
        with open(os.open(credentials, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(token)
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: overcast
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {credentials}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
""")
        prom_port = free_port()
        prom = f"http://127.0.0.1:{prom_port}"
        prometheus_log = open(os.path.join(work, "prometheus.log"), "w")
        logs.append(prometheus_log)
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=prometheus_log, stderr=subprocess.STDOUT)

        def target_up():
            targets = json.loads(request(f"{prom}/api/v1/targets"))["data"]["activeTargets"]
            down = [t for t in targets if t["health"] != "up"]
            assert not any(t["lastError"] for t in down), f"scrape failed: {down}"
            return targets if targets and not down else None
        targets = until("Prometheus's target to be up", 60, target_up)
        assert targets[0]["labels"]["job"] == "overcast"

        def series(query):
            answer = json.loads(request(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})))
            assert answer["status"] == "success", answer
            return answer["data"]["result"]

        def every_site(query):
            def check():
                found = series(query)
                return found if len({s["metric"]["site"] for s in found}) == SITES else None
            return until(f"{query} of {SITES} sites", 60, check)

        vcpus = every_site("overcast_site_capacity_vcpus")
        assert len(vcpus) == SITES, vcpus
        for s in vcpus:
            assert float(s["value"][1]) > 0, s
            assert s["metric"]["label_region"] == "eu" and s["metric"]["label_tier"] == "edge", s
            assert s["metric"]["job"] == "overcast", s
        up = every_site("overcast_site_up")
        assert all(float(s["value"][1]) == 1 for s in up), up
        ram = every_site("overcast_site_capacity_ram_bytes")
        assert all(float(s["value"][1]) >= 2 ** 20 for s in ram), ram
        # The token's scope is every site, so the console's own families come too.
        assert series('overcast_http_requests_total{route="/metrics",status="200"}'), \
            "Prometheus's own scrapes are counted"
    except BaseException:
        for log in logs:
            log.flush()
        for name in ("console.log", "prometheus.log"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                with open(path) as f:
                    print(f"--- {name} (last lines)\n" + "".join(f.readlines()[-40:]))
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        for process in (prometheus, console, sim):
            stop(process)
        for log in logs:
            log.close()
