#!/usr/bin/env python3
"""Latency of an aggregated list (GET /api/v1/servers) over N simulated sites.

Usage: bench/aggregate-latency.py --sites 1000 [--requests 30] [--latency 20 --jitter 10]
                                 [--sdk-python e2e/.venv/bin/python [--sdk-sequential]]
Starts a release `overcast sim` (1 % of its sites down) and `overcast serve`, imports the
simulator's clouds.yaml, waits until the console's health checks have marked the down
sites unreachable, then times sequential aggregated lists (live, no max_age_ms) and
cached ones (max_age_ms=600000), printing p50/p99 of each. With --sdk-python, the same
run then lists the servers of the same clouds.yaml with openstacksdk
(bench/openstacksdk-list.py), with a pool of 32 threads and, with --sdk-sequential, one
cloud after the other, and prints the ratio to the console's live p50.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "overcast")


def call(url, token=None, data=None, content_type="application/json", timeout=120):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def cpu_ms(pid):
    """User plus system CPU time of a process so far, in ms."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--jitter", type=int, default=10)
    parser.add_argument("--sdk-python", help="a Python with openstacksdk, for the side-by-side comparison")
    parser.add_argument("--sdk-sequential", action="store_true", help="also time openstacksdk one cloud at a time")
    parser.add_argument("--sdk-repeats", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="overcast-agg-")
    clouds = os.path.join(work, "clouds.yaml")
    down = max(1, args.sites // 100)
    faults = [arg for n in range(1, down + 1) for arg in ("--fault", f"site-{n * 100 - 99 if args.sites >= 100 else n:03d}=down")]
    sim = subprocess.Popen([BIN, "sim", "--sites", str(args.sites), "--listen", "127.0.0.1:0", "--clouds-yaml", clouds,
                            "--latency", str(args.latency), "--jitter", str(args.jitter), *faults],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env = dict(os.environ, OVERCAST_ADMIN_PASSWORD="bench-password", RUST_LOG="warn")
    console = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:18481", "--data-dir", os.path.join(work, "data"),
                                "--request-timeout-s", "600"], env=env, stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:18481"
    try:
        sim.stdout.readline()
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/readyz")
                break
            except OSError:
                time.sleep(0.1)
        token = call(f"{base}/api/v1/auth/login", data=json.dumps({"username": "admin", "password": "bench-password"}).encode())["access_token"]
        with open(clouds, "rb") as f:
            report = call(f"{base}/api/v1/sites/import", token, f.read(), "application/yaml")
        assert len(report["created"]) == args.sites, report
        deadline = time.time() + 180
        while True:
            states = [s["state"] for s in call(f"{base}/api/v1/sites", token)["items"]]
            if states.count("unreachable") >= down and states.count("online") >= args.sites - down:
                break
            assert time.time() < deadline, f"health did not settle: {states.count('online')} online, {states.count('unreachable')} unreachable"
            time.sleep(1)
        live_p50 = None
        for label, query in (("live", "timeout_ms=2000"), ("cached", "max_age_ms=600000")):
            timings, statuses = [], {}
            cpu_before = (cpu_ms(console.pid), cpu_ms(sim.pid))
            for _ in range(args.requests):
                started = time.perf_counter()
                answer = call(f"{base}/api/v1/servers?{query}", token)
                timings.append((time.perf_counter() - started) * 1000)
                for site in answer["sites"].values():
                    statuses[site["status"]] = statuses.get(site["status"], 0) + 1
            console_cpu = (cpu_ms(console.pid) - cpu_before[0]) / args.requests
            sim_cpu = (cpu_ms(sim.pid) - cpu_before[1]) / args.requests
            print(f"sites={args.sites} {label}: p50={percentile(timings, 50):.1f} ms p99={percentile(timings, 99):.1f} ms "
                  f"cpu/request: console {console_cpu:.1f} ms, simulator {sim_cpu:.1f} ms "
                  f"mean={statistics.mean(timings):.1f} ms statuses/request={ {k: v // args.requests for k, v in statuses.items()} }", flush=True)
            if label == "live":
                live_p50 = percentile(timings, 50)
        if args.sdk_python:
            script = os.path.join(ROOT, "bench", "openstacksdk-list.py")
            modes = [(32, args.sdk_repeats)] + ([(1, 1)] if args.sdk_sequential else [])
            for threads, repeats in modes:
                out = subprocess.run([args.sdk_python, script, clouds, str(threads), str(repeats)],
                                     capture_output=True, text=True, check=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                cold, warm = statistics.median(result["cold_ms"]), statistics.median(result["warm_ms"])
                print(f"sites={args.sites} openstacksdk threads={threads}: cold {cold:.0f} ms ({cold / live_p50:.1f}x the "
                      f"console's live p50), warm {warm:.0f} ms ({warm / live_p50:.1f}x), failed clouds={result['failed']}",
                      flush=True)
    finally:
        console.terminate()
        sim.terminate()
        console.wait()
        sim.wait()


if __name__ == "__main__":
    main()
