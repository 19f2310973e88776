#!/usr/bin/env python3
"""Time to complete a flavor.create job over N simulated sites.

Usage: bench/job-rollout.py --sites 1000 [--latency 50] [--max-parallel 50 200 1000]
Starts a release `overcast sim --latency L` and `overcast serve` as separate processes,
imports the simulator's clouds.yaml, waits until every site is online, then for each
--max-parallel value creates one flavor.create job over all sites and times it from the
POST to the job's finished state (polled every 100 ms). Checks through the console that
every site then lists the flavor once.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "overcast")


def call(url, token=None, body=None, content_type="application/json", timeout=600):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=50)
    parser.add_argument("--max-parallel", type=int, nargs="+", default=[50, 200, 1000])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="overcast-jobs-")
    clouds = os.path.join(work, "clouds.yaml")
    sim = subprocess.Popen([BIN, "sim", "--sites", str(args.sites), "--listen", "127.0.0.1:0", "--clouds-yaml", clouds,
                            "--latency", str(args.latency)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env = dict(os.environ, OVERCAST_ADMIN_PASSWORD="bench-password", RUST_LOG="warn")
    console = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:18482", "--data-dir", os.path.join(work, "data"),
                                "--request-timeout-s", "600"], env=env, stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:18482"
    try:
        sim.stdout.readline()
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/readyz")
                break
            except OSError:
                time.sleep(0.1)
        token = call(f"{base}/api/v1/auth/login", body={"username": "admin", "password": "bench-password"})["access_token"]
        with open(clouds, "rb") as f:
            report = call(f"{base}/api/v1/sites/import", token, f.read(), "application/yaml")
        assert len(report["created"]) == args.sites, report
        deadline = time.time() + 300
        while [s["state"] for s in call(f"{base}/api/v1/sites", token)["items"]].count("online") < args.sites:
            assert time.time() < deadline, "sites did not all come online"
            time.sleep(1)
        for parallel in args.max_parallel:
            name = f"bench.p{parallel}"
            job = {"kind": "flavor.create", "targets": {"all": True}, "rollout": {"max_parallel": parallel},
                   "params": {"name": name, "vcpus": 1, "ram_mb": 512, "disk_gb": 1}}
            started = time.perf_counter()
            job_id = call(f"{base}/api/v1/jobs", token, job)["id"]
            while True:
                job = call(f"{base}/api/v1/jobs/{job_id}", token)
                if job["state"] not in ("pending", "running"):
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            listed = call(f"{base}/api/v1/flavors?name={name}&timeout_ms=30000", token)
            per_site = {}
            for item in listed["items"]:
                per_site[item["site"]] = per_site.get(item["site"], 0) + 1
            once = sum(1 for n in per_site.values() if n == 1)
            print(f"sites={args.sites} latency={args.latency} ms max_parallel={parallel}: {elapsed:.2f} s, "
                  f"state={job['state']} counts={job['counts']} sites holding the flavor once={once}", flush=True)
    finally:
        console.terminate()
        sim.terminate()
        console.wait()
        sim.wait()


if __name__ == "__main__":
    main()
