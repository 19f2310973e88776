#!/usr/bin/env python3
"""A 1 GiB image copied from one simulated site to 1, 4 and 10 others, side by side.

Usage: bench/image-copy.py [--gib 1] [--targets 1 4 10] [--link-mib-s 0] [--slow-one]
                           [--baselines openstack curl]

Each scenario starts a fresh release `overcast sim --sites 11` and `overcast serve`
(separate processes, loopback), uploads the image (pseudo-random bytes) to site-001's
Glance, then:
  console    POST /api/v1/images/copy to N targets, timed from the POST to the job's
             end; the console's peak RSS (VmHWM) is read when it ends.
  openstack  `openstack image save` once, then `openstack image create --file` for each
             target, one after the other, as an operator would (python-openstackclient).
  curl       the raw pair for one target: `curl` GET of the image data piped into `curl`
             PUT of a new image's data (no disk in between).
With --link-mib-s R every target's link is limited to R MiB/s (the simulator's bandwidth
fault); with --slow-one one target of the console's largest run is limited to 1 MiB/s
and the time until the other targets finish is reported.
Every copy is checked: the target's sha512 (as its Glance computed it) equals the source's.
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("OVERCAST_BIN", os.path.join(ROOT, "target", "release", "overcast"))
OPENSTACK = os.path.join(ROOT, "e2e", ".venv", "bin", "openstack")
MIB = 1024 * 1024
SITES = 11


def request(url, token=None, body=None, method=None, content_type="application/json", headers=None):
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    data = body if body is None or isinstance(body, bytes) or hasattr(body, "read") else json.dumps(body).encode()
    return urllib.request.Request(url, data=data, headers=all_headers,
                                  method=method or ("POST" if data is not None else "GET"))


def call(url, token=None, body=None, method=None, content_type="application/json"):
    with urllib.request.urlopen(request(url, token, body, method, content_type), timeout=600) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


class Sim:
    """An `overcast sim` and the direct way into its sites' Keystone and Glance."""

    def __init__(self, work):
        self.clouds = os.path.join(work, "clouds.yaml")
        self.process = subprocess.Popen(
            [BIN, "sim", "--sites", str(SITES), "--listen", "127.0.0.1:18490", "--clouds-yaml", self.clouds,
             "--data-dir", os.path.join(work, "sim")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.process.stdout.readline()
        self.base = "http://127.0.0.1:18490"
        self.tokens = {}

    def token(self, site):
        if site not in self.tokens:
            auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": "secret"}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
            with urllib.request.urlopen(request(f"{self.base}/{site}/identity/v3/auth/tokens", body=auth)) as r:
                self.tokens[site] = r.headers["X-Subject-Token"]
        return self.tokens[site]

    def glance(self, site, path, body=None, method=None, content_type="application/json"):
        req = request(f"{self.base}/{site}/image/v2/{path}", None, body, method, content_type,
                      {"X-Auth-Token": self.token(site)})
        with urllib.request.urlopen(req, timeout=600) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def new_image(self, site, name):
        return self.glance(site, "images", {"name": name, "disk_format": "qcow2", "container_format": "bare",
                                            "visibility": "public"})["id"]

    def upload(self, site, image_id, path):
        size = os.path.getsize(path)
        with open(path, "rb") as data:
            req = request(f"{self.base}/{site}/image/v2/images/{image_id}/file", None, data, "PUT",
                          "application/octet-stream",
                          {"X-Auth-Token": self.token(site), "Content-Length": str(size)})
            urllib.request.urlopen(req, timeout=3600).read()

    def sha512_of(self, site, name):
        images = self.glance(site, "images?limit=1000")["images"]
        return [i.get("os_hash_value") for i in images if i["name"] == name and i["status"] == "active"]

    def fault(self, site, fault):
        call(f"{self.base}/_sim/sites/{site}/fault", body=fault)

    def stop(self):
        self.process.terminate()
        self.process.wait()


class Console:
    def __init__(self, work, sim):
        env = dict(os.environ, OVERCAST_ADMIN_PASSWORD="bench-password", RUST_LOG="warn")
        self.process = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:18491", "--data-dir", os.path.join(work, "console")],
            env=env, stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:18491"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.base}/readyz")
                break
            except OSError:
                time.sleep(0.1)
        self.token = call(f"{self.base}/api/v1/auth/login",
                          body={"username": "admin", "password": "bench-password"})["access_token"]
        with open(sim.clouds, "rb") as f:
            call(f"{self.base}/api/v1/sites/import", self.token, f.read(), content_type="application/yaml")
        deadline = time.time() + 120
        while [s["state"] for s in call(f"{self.base}/api/v1/sites", self.token)["items"]].count("online") < SITES:
            assert time.time() < deadline, "sites did not all come online"
            time.sleep(0.2)

    def cpu_s(self):
        return cpu_seconds(self.process.pid)

    def peak_rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def copy(self, image_id, targets, until=None):
        """Times a copy job; `until(job)` ends the wait early (and cancels the job)."""
        started = time.perf_counter()
        job = call(f"{self.base}/api/v1/images/copy", self.token,
                   {"source": {"site": "site-001", "image_id": image_id}, "targets": {"sites": targets}})
        while True:
            job = call(f"{self.base}/api/v1/jobs/{job['id']}", self.token)
            if until and until(job):
                elapsed = time.perf_counter() - started
                call(f"{self.base}/api/v1/jobs/{job['id']}/cancel", self.token, {})
                return elapsed, job
            if job["state"] not in ("pending", "running"):
                return time.perf_counter() - started, job
            time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait()


def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_image(path, gib):
    """Pseudo-random bytes (not compressible, not all alike), written once and reused."""
    size = int(gib * 1024) * MIB
    if os.path.exists(path) and os.path.getsize(path) == size:
        return size
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(size // MIB):
            f.write(block[i % 251:] + block[:i % 251])
    return size


def timed(command, env):
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def scenario(work, image, size, run):
    """Fresh simulator and console, the image on site-001, then `run`."""
    shutil.rmtree(os.path.join(work, "sim"), ignore_errors=True)
    shutil.rmtree(os.path.join(work, "console"), ignore_errors=True)
    sim = Sim(work)
    console = None
    try:
        source = sim.new_image("site-001", "bench")
        sim.upload("site-001", source, image)
        source_hash = sim.sha512_of("site-001", "bench")[0]
        console = Console(work, sim)
        return run(sim, console, source, source_hash)
    finally:
        if console:
            console.stop()
        sim.stop()


def targets_of(n):
    return [f"site-{i:03d}" for i in range(2, 2 + n)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--link-mib-s", type=float, default=0, help="limit every target's link (0: loopback)")
    parser.add_argument("--slow-one", action="store_true", help="also: one target of the largest run at 1 MiB/s")
    parser.add_argument("--baselines", nargs="*", default=["openstack", "curl"])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="overcast-image-bench-")
    image = os.path.join(work, "image.bin")
    size = make_image(image, args.gib)
    link = f"{args.link_mib_s:g} MiB/s links" if args.link_mib_s else "loopback"
    print(f"image {size / MIB:.0f} MiB, {link}", flush=True)

    def limit_links(sim, targets):
        if args.link_mib_s:
            for target in targets:
                sim.fault(target, {"mode": "bandwidth", "bytes_per_s": int(args.link_mib_s * MIB)})

    def check(sim, targets, source_hash):
        wrong = [t for t in targets if sim.sha512_of(t, "bench") != [source_hash]]
        assert not wrong, f"copies missing or damaged on {wrong}"

    try:
        for n in args.targets:
            def console_run(sim, console, source, source_hash, n=n):
                targets = targets_of(n)
                limit_links(sim, targets)
                console_cpu, sim_cpu = console.cpu_s(), cpu_seconds(sim.process.pid)
                elapsed, job = console.copy(source, targets)
                assert job["state"] == "succeeded", job
                console_cpu, sim_cpu = console.cpu_s() - console_cpu, cpu_seconds(sim.process.pid) - sim_cpu
                check(sim, targets, source_hash)
                return elapsed, console.peak_rss_mib(), console_cpu, sim_cpu
            elapsed, rss, console_cpu, sim_cpu = scenario(work, image, size, console_run)
            print(f"console   targets={n:2d}: {elapsed:7.2f} s  {n * size / MIB / elapsed:7.1f} MiB/s delivered  "
                  f"peak RSS {rss:.1f} MiB  CPU: console {console_cpu:.1f} s, simulated sites {sim_cpu:.1f} s",
                  flush=True)

        if args.slow_one:
            n = max(args.targets)

            def slow_run(sim, console, source, source_hash):
                targets = targets_of(n)
                limit_links(sim, targets)
                sim.fault(targets[-1], {"mode": "bandwidth", "bytes_per_s": MIB})
                others = targets[:-1]

                def others_done(job):
                    states = {t["site"]: t["state"] for t in job["tasks"]}
                    return all(states.get(t) == "succeeded" for t in others)
                elapsed, job = console.copy(source, targets, until=others_done)
                check(sim, others, source_hash)
                slow = next(t for t in job["tasks"] if t["site"] == targets[-1])
                return elapsed, slow["progress"], console.peak_rss_mib()
            elapsed, slow, rss = scenario(work, image, size, slow_run)
            print(f"console   targets={n:2d}, one at 1 MiB/s: the other {n - 1} done in {elapsed:7.2f} s "
                  f"(the slow one at {slow.get('bytes_done', 0) / MIB if isinstance(slow, dict) else 0:.0f} MiB)  "
                  f"peak RSS {rss:.1f} MiB", flush=True)

        if "openstack" in args.baselines:
            for n in args.targets:
                def openstack_run(sim, console, source, source_hash, n=n):
                    targets = targets_of(n)
                    limit_links(sim, targets)
                    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=sim.clouds)
                    saved = os.path.join(work, "saved.bin")
                    took = timed([OPENSTACK, "--os-cloud", "site-001", "image", "save", "--file", saved, source], env)
                    for target in targets:
                        took += timed([OPENSTACK, "--os-cloud", target, "image", "create", "--file", saved,
                                       "--disk-format", "qcow2", "--container-format", "bare", "bench"], env)
                    os.remove(saved)
                    check(sim, targets, source_hash)
                    return took
                elapsed = scenario(work, image, size, openstack_run)
                print(f"openstack targets={n:2d}: {elapsed:7.2f} s  {n * size / MIB / elapsed:7.1f} MiB/s delivered",
                      flush=True)

        if "curl" in args.baselines:
            def curl_run(sim, console, source, source_hash):
                target = targets_of(1)[0]
                limit_links(sim, [target])
                created = sim.new_image(target, "bench")
                download = (f"curl -sf -H 'X-Auth-Token: {sim.token('site-001')}' "
                            f"{sim.base}/site-001/image/v2/images/{source}/file")
                upload = (f"curl -sf -X PUT -H 'X-Auth-Token: {sim.token(target)}' "
                          f"-H 'Content-Type: application/octet-stream' -T - "
                          f"{sim.base}/{target}/image/v2/images/{created}/file")
                started = time.perf_counter()
                subprocess.run(f"{download} | {upload}", shell=True, check=True)
                took = time.perf_counter() - started
                check(sim, [target], source_hash)
                return took
            elapsed = scenario(work, image, size, curl_run)
            print(f"curl pair targets= 1: {elapsed:7.2f} s  {size / MIB / elapsed:7.1f} MiB/s delivered", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
