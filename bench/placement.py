#!/usr/bin/env python3
"""The placement benchmark (issue 17): many single-server boots with placement sent at once,
and plans over many sites.

Usage: bench/placement.py boot [--sites 64 32] [--requests 768] [--concurrency 96]
                               [--policy spread power_of_two] [--room 4/3 | --instances-quota Q]
                               [--latency 20] [--flavor m1.small]
       bench/placement.py plan [--sites 10000] [--latency 5] [--interval 60] [--calls 30]
                               [--perf FILE [--perf-hz 49]]

boot: for each site count and policy, a fresh `overcast sim --sites N --latency L` and a fresh
console (`overcast serve --metrics-interval-s 5`, separate processes, 127.0.0.1) with every
site imported. One image (64 KiB, raw) is uploaded to site-001 and copied to every other
site with `POST /api/v1/images/copy`, so no boot waits for a copy. A `quota.set` job gives
the console's project (`admin`) at every site `instances` = Q (and cores 2Q, ram 4 GiB x Q, so instances
is the limit): each site has room for Q servers of the flavor, all sites for N x Q. Q is
REQUESTS x ROOM / N rounded up (64 sites: 16, 32 sites: 32, total room 1,024 for 768
requests) unless given. Once
every site reports metrics and a plan sees exactly N x Q of room, REQUESTS x
`POST /api/v1/servers` {"name": "b-<n>", "flavor", "image_name", "count": 1,
"networks": "none", "placement": {"policy"}} are sent from CONCURRENCY threads at once.
Measured: requests refused, boot jobs not succeeded, the time from the first request to the
last job's `finished_at`, the servers per site (ACTIVE, from `GET /api/v1/servers` over
every site): their population standard deviation, min and max.

plan: `overcast sim --sites N --latency L`, a console with `--metrics-interval-s I`, the
sites imported from the simulator's clouds.yaml; once every site is online and reports
metrics and the flavors of every site are known (`GET /api/v1/flavors` over all sites
once), CALLS x `POST /api/v1/placement/plan` {"flavor": "m1.small", "count": 100,
"policy": "spread"}, one after the other, twice (the first batch may still fetch flavors
the list did not get in time): p50/p99, and the console's RSS and CPU per plan.

Every phase prints one JSON line, with the load averages.
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

from benchlib import Console, call, cpu_ms, percentile, rss_mib, start_sim, wait_until

IMAGE = "bench-image"


def report(**figures):
    print(json.dumps(dict(figures, load=[round(x, 2) for x in os.getloadavg()])), flush=True)


class Client:
    """One keep-alive connection per thread; answers (status, JSON body) for any status."""

    def __init__(self, console):
        self.host, self.port = console.base.removeprefix("http://").split(":")
        self.token = console.token
        self.local = threading.local()

    def request(self, method, path, body=None):
        for attempt in range(2):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(self.host, int(self.port), timeout=600)
            try:
                connection.request(method, path, json.dumps(body) if body is not None else None,
                                   {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
                response = connection.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError):
                connection.close()
                self.local.connection = None
                if attempt:
                    raise


def wait_job(client, job_id, seconds, what):
    def done():
        _, job = client.request("GET", f"/api/v1/jobs/{job_id}")
        return job if job["state"] not in ("pending", "running") else None
    job = wait_until(done, seconds, what, 0.5)
    assert job["state"] == "succeeded", json.dumps(job)[:2000]
    return job


def room(client, flavor):
    """The servers of `flavor` a plan finds room for over every site, and the sites it left out."""
    _, plan = client.request("POST", "/api/v1/placement/plan", {"flavor": flavor, "count": 10000, "policy": "spread"})
    if plan.get("satisfiable"):
        return sum(a["count"] for a in plan["allocations"]), plan.get("excluded", [])
    unmet = plan.get("unmet") or ""
    free = int(unmet.split()[2]) if unmet.startswith("room for ") else 0
    return free, plan.get("excluded", [])


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def boot_round(args, work, sites, policy):
    tag = f"{sites}-{policy}"
    quota = args.instances_quota or -(-args.requests * args.room[0] // (sites * args.room[1]))
    clouds = os.path.join(work, f"clouds-{tag}.yaml")
    sim = start_sim(sites, 18740, clouds, "--latency", str(args.latency))
    console = None
    try:
        console = Console(18741, os.path.join(work, f"console-{tag}"), clouds, "--metrics-interval-s", "5",
                          log=os.path.join(work, f"console-{tag}.log"))
        client = Client(console)
        wait_until(lambda: console.online() >= sites, 300, "every site online", 1)
        # One image at site-001, copied to every other site before the boots.
        status, image = client.request("POST", "/api/v1/sites/site-001/images",
                                       {"name": IMAGE, "disk_format": "raw", "container_format": "bare"})
        assert status == 201, image
        upload = urllib.request.Request(f"{console.base}/api/v1/sites/site-001/images/{image['id']}/file",
                                        data=bytes(64 * 1024), method="PUT",
                                        headers={"Authorization": f"Bearer {console.token}",
                                                 "Content-Type": "application/octet-stream"})
        urllib.request.urlopen(upload, timeout=120).read()
        others = [f"site-{n:03d}" for n in range(2, sites + 1)]
        status, copy = client.request("POST", "/api/v1/images/copy", {"source": {"site": "site-001", "image_id": image["id"]},
                                                                    "targets": {"sites": others}})
        assert status == 202, copy
        wait_job(client, copy["id"], 600, "the image copied to every site")
        status, quota_job = client.request("POST", "/api/v1/jobs", {
            "kind": "quota.set", "targets": {"all": True},
            "params": {"project": "admin", "compute": {"instances": quota, "cores": 2 * quota, "ram": 4096 * quota}}})
        assert status == 202, quota_job
        wait_job(client, quota_job["id"], 600, "the quotas set")
        want = sites * quota
        wait_until(lambda: console.get("/api/v1/metrics/summary")["sites_reporting"] >= sites, 300,
                   "every site reporting", 1)
        wait_until(lambda: room(client, args.flavor) == (want, []), 300, f"room for {want} known", 1)
        ready_cpu = cpu_ms(console.pid)

        answers = [None] * args.requests

        def boot(n):
            sent = time.time()
            status, body = client.request("POST", "/api/v1/servers", {
                "name": f"b-{n}", "flavor": args.flavor, "image_name": IMAGE, "count": 1, "networks": "none",
                "placement": {"policy": policy}})
            answers[n] = (status, body, sent, time.time())

        first = time.time()
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(boot, range(args.requests)))
        all_answered = time.time()
        accepted = {a[1]["id"]: n for n, a in enumerate(answers) if a[0] == 202}
        refused = [a for a in answers if a[0] != 202]

        def jobs_done():
            _, listed = client.request("GET", "/api/v1/jobs?limit=1000")
            states = {j["id"]: j for j in listed["items"] if j["id"] in accepted}
            pending = [j for j in states.values() if j["state"] in ("pending", "running")]
            return states if len(states) == len(accepted) and not pending else None
        jobs = wait_until(jobs_done, 1800, "every boot job finished", 1)
        finished = max((parse_time(j["finished_at"]) for j in jobs.values() if j.get("finished_at")), default=all_answered)
        not_succeeded = [j for j in jobs.values() if j["state"] != "succeeded"]
        # Every job in full: a task whose site had no room after all is moved to another site.
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            full_jobs = list(pool.map(lambda i: client.request("GET", f"/api/v1/jobs/{i}")[1], jobs))
        moved = sum(1 for j in full_jobs for t in j["tasks"] if (t.get("result") or {}).get("outcome") == "moved")
        failures = [{"state": j["state"], "errors": [t.get("error") for t in j["tasks"] if t.get("error")][:3]}
                    for j in full_jobs if j["state"] != "succeeded"][:5]
        # Where the servers are, from the sites themselves.
        _, listed = client.request("GET", "/api/v1/servers")
        per_site = {f"site-{n:03d}": 0 for n in range(1, sites + 1)}
        statuses = {}
        for server in listed["items"]:
            if server["name"].startswith("b-"):
                statuses[server["status"]] = statuses.get(server["status"], 0) + 1
                if server["status"] == "ACTIVE":
                    per_site[server["site"]] += 1
        counts = list(per_site.values())
        latencies = [(a[3] - a[2]) * 1000 for a in answers]
        report(phase="boot", sites=sites, policy=policy, requests=args.requests, concurrency=args.concurrency,
               flavor=args.flavor, latency_ms=args.latency, instances_quota_per_site=quota,
               room_total=want, refused=len(refused), refused_statuses=sorted({a[0] for a in refused}),
               refused_example=(json.dumps(refused[0][1])[:300] if refused else None),
               jobs_not_succeeded=len(not_succeeded), failure_examples=failures, tasks_moved=moved,
               failed_pct=round(100 * (len(refused) + len(not_succeeded)) / args.requests, 2),
               servers_by_status=statuses, list_sites_not_ok=[s for s, v in listed["sites"].items() if v["status"] != "ok"],
               active_per_site_stdev=round(statistics.pstdev(counts), 2), active_per_site_min=min(counts),
               active_per_site_max=max(counts), active_total=sum(counts),
               requests_answered_s=round(all_answered - first, 1),
               answer_p50_ms=round(percentile(latencies, 50)), answer_p99_ms=round(percentile(latencies, 99)),
               first_request_to_last_job_finished_s=round(finished - first, 1),
               console_cpu_s_from_first_request=round((cpu_ms(console.pid) - ready_cpu) / 1000, 1),
               console_rss_mib=round(rss_mib(console.pid)))
        with open(os.path.join(work, f"console-{tag}.log")) as log:
            lines = log.read().splitlines()
        if lines:
            report(phase="boot console log", sites=sites, policy=policy, lines=len(lines),
                   errors=sum(" ERROR " in l for l in lines), warnings=sum(" WARN " in l for l in lines),
                   first=lines[:5])
    finally:
        if console:
            console.stop()
        sim.terminate()
        sim.wait()


def plan_phase(args, work, sites):
    clouds = os.path.join(work, f"clouds-plan-{sites}.yaml")
    sim = start_sim(sites, 18750, clouds, "--latency", str(args.latency))
    console = None
    try:
        started = time.time()
        console = Console(18751, os.path.join(work, f"plan-{sites}"), clouds, "--metrics-interval-s", str(args.interval),
                          log=os.path.join(work, f"plan-{sites}.log"))
        client = Client(console)
        imported = time.time()
        wait_until(lambda: console.online() >= sites, 1800, "every site online", 5)
        online = time.time()
        wait_until(lambda: console.get("/api/v1/metrics/summary")["sites_reporting"] >= sites, 1800,
                   "every site reporting", 5)
        reporting = time.time()
        listed = client.request("GET", "/api/v1/flavors?timeout_ms=60000")[1]
        flavors_ok = sum(1 for v in listed["sites"].values() if v["status"] == "ok")
        warm = time.time()
        request = {"flavor": "m1.small", "count": 100, "policy": "spread"}
        cpu_before = cpu_ms(console.pid)
        time.sleep(10)
        background = (cpu_ms(console.pid) - cpu_before) / 10  # the collection's and health checks' CPU, per s
        perf = None
        if args.perf:
            # A profile of the console over both batches (call graphs from .eh_frame: the
            # release build has no frame pointers).
            perf = subprocess.Popen(["perf", "record", "-F", str(args.perf_hz), "--call-graph", "dwarf,16384",
                                     "-o", f"{args.perf}.{sites}", "-p", str(console.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(2)
        for batch in (1, 2):
            timings, cpus, plans = [], [], []
            for _ in range(args.calls):
                cpu_before, t = cpu_ms(console.pid), time.perf_counter()
                status, plan = client.request("POST", "/api/v1/placement/plan", request)
                timings.append((time.perf_counter() - t) * 1000)
                cpus.append(cpu_ms(console.pid) - cpu_before)
                plans.append((status, plan))
            status, plan = plans[-1]
            reasons = {}
            for e in plan.get("excluded", []):
                key = e["reason"].split(";")[0][:60]
                reasons[key] = reasons.get(key, 0) + 1
            report(phase="plan", batch=batch, sites=sites, latency_ms=args.latency, interval_s=args.interval,
                   calls=args.calls, statuses=sorted({p[0] for p in plans}),
                   satisfiable=all(p[1].get("satisfiable") for p in plans),
                   allocations=len(plan.get("allocations", [])), placed=sum(a["count"] for a in plan.get("allocations", [])),
                   excluded_reasons=reasons,
                   p50_ms=round(percentile(timings, 50), 1), p99_ms=round(percentile(timings, 99), 1),
                   max_ms=round(max(timings), 1), min_ms=round(min(timings), 1), timings_ms=[round(t) for t in timings],
                   console_cpu_ms_per_plan_p50=round(percentile(cpus, 50)),
                   console_background_cpu_ms_per_s=round(background),
                   console_rss_mib=round(rss_mib(console.pid)), simulator_rss_mib=round(rss_mib(sim.pid)),
                   import_s=round(imported - started, 1), online_after_import_s=round(online - imported, 1),
                   reporting_after_import_s=round(reporting - imported, 1), flavor_list_s=round(warm - reporting, 1),
                   flavors_ok_sites=flavors_ok)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        with open(os.path.join(work, f"plan-{sites}.log")) as log:
            lines = log.read().splitlines()
        report(phase="plan console log", sites=sites, lines=len(lines),
               errors=sum(" ERROR " in l for l in lines), warnings=sum(" WARN " in l for l in lines),
               first=lines[:5])
    finally:
        if console:
            console.stop()
        sim.terminate()
        sim.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["boot", "plan"])
    parser.add_argument("--sites", type=int, nargs="*")
    parser.add_argument("--requests", type=int, default=768)
    parser.add_argument("--concurrency", type=int, default=96)
    parser.add_argument("--policy", nargs="*", default=["spread"])
    parser.add_argument("--instances-quota", type=int)
    parser.add_argument("--room", default="4/3", help="total room over requests, as a fraction")
    parser.add_argument("--flavor", default="m1.small")
    parser.add_argument("--latency", type=int)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--perf", help="plan: record a perf profile of the console during the plans into PERF.<sites>")
    parser.add_argument("--perf-hz", type=int, default=49)
    args = parser.parse_args()
    args.room = tuple(int(x) for x in args.room.split("/")) if "/" in args.room else (int(args.room), 1)
    work = tempfile.mkdtemp(prefix="overcast-placement-")
    report(phase="set-up", work=work)
    try:
        if args.phase == "boot":
            args.latency = 20 if args.latency is None else args.latency
            for sites in args.sites or [64, 32]:
                for policy in args.policy:
                    boot_round(args, work, sites, policy)
        else:
            args.latency = 5 if args.latency is None else args.latency
            for sites in args.sites or [10000]:
                plan_phase(args, work, sites)
    finally:
        if not os.environ.get("KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
