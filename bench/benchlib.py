"""Helpers shared by the benchmarks: the release binary, HTTP calls, CPU from /proc, percentiles,
and a console started on a simulator's clouds.yaml."""
import json
import os
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("OVERCAST_BIN", os.path.join(ROOT, "target", "release", "overcast"))
PASSWORD = "bench-password"


def call(url, token=None, data=None, content_type="application/json", timeout=120, raw=False):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if data is not None and not isinstance(data, bytes):
        data = json.dumps(data).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        return body if raw else json.loads(body)


def cpu_ms(pid, children=False):
    """User plus system CPU time of a process so far (with its reaped children), in ms."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_until(check, seconds, what, every=0.2):
    deadline = time.time() + seconds
    while True:
        result = check()
        if result:
            return result
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def start_sim(sites, port, clouds, *extra):
    """An `overcast sim`, returned once it listens and has written its clouds.yaml."""
    sim = subprocess.Popen([BIN, "sim", "--sites", str(sites), "--listen", f"127.0.0.1:{port}",
                            "--clouds-yaml", clouds, *extra],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sim.stdout.readline()
    return sim


class Console:
    """An `overcast serve` in its own process with every cloud of `clouds` imported."""

    def __init__(self, port, data_dir, clouds, *extra, log=None):
        """`log`: a path for the console's warnings and errors (none kept when unset)."""
        env = dict(os.environ, OVERCAST_ADMIN_PASSWORD=PASSWORD, RUST_LOG="warn")
        stderr = open(log, "w") if log else subprocess.DEVNULL
        self.process = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir,
                                         "--request-timeout-s", "600", *extra], env=env, stderr=stderr)
        self.pid = self.process.pid
        self.base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                urllib.request.urlopen(f"{self.base}/readyz")
                return True
            except OSError:
                return False
        wait_until(ready, 60, "the console to listen", 0.1)
        self.token = call(f"{self.base}/api/v1/auth/login", data={"username": "admin", "password": PASSWORD})["access_token"]
        with open(clouds, "rb") as f:
            self.imported_at = time.time()
            self.report = call(f"{self.base}/api/v1/sites/import", self.token, f.read(), "application/yaml")

    def get(self, path, raw=False):
        return call(f"{self.base}{path}", self.token, raw=raw, timeout=600)

    def online(self):
        return [s["state"] for s in self.get("/api/v1/sites")["items"]].count("online")

    def stop(self):
        self.process.terminate()
        self.process.wait()
