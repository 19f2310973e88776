#!/usr/bin/env python3
"""The metrics benchmark (issue 16): collection, /metrics, series queries, database growth,
and the same figures gathered by Debian's prometheus-openstack-exporter and by openstacksdk,
from the same simulated sites in the same run.

Usage: bench/metrics.py [--sites 1000] [--latency 50] [--interval 10] [--rounds 3] [--series-settle-s 0]
                        [--exporter-sites 10 100] [--sdk-sites 10 100 1000]
                        [--sdk-python e2e/.venv/bin/python]
Needs `cargo build --release -p overcast --example seed_metrics`.

1. Collection: `overcast sim --sites N --latency L` and `overcast serve --metrics-interval-s I`
   (separate processes). After the import, the time until every site has figures (the first
   round, spread over I seconds by design); then over ROUNDS further intervals, from the
   console's database, whether every site got exactly one sample per interval (the collector
   keeps up) and the console's CPU per site per round (/proc; health checks included).
2. `GET /metrics` with every site registered and collected: p50/p99 and size (30 answers).
3. Series: a second console on a data dir seeded with 24 h at 1 min for the N sites
   (backend/examples/seed_metrics.rs: the store and the console's own rollup), the same
   sites imported; `GET /api/v1/metrics/series` over every site, 24 h, step 60: p50/p99 and
   the console's CPU per query, at once or SETTLE seconds after every site is online; then
   the same for one site, for the last hour and at step 3600, and the rows behind the query
   (minute chunks, raw tail) with SQLite's own time to read them.
   The seeded database's size per site and day, per table (SQLite's dbstat).
4. prometheus-openstack-exporter (bench/openstack-exporter.py), one process per site as
   packaged, over the first 10 and 100 sites: time and CPU of one gathering round and of
   a scrape of every instance.
5. bench/openstacksdk-metrics.py over 10, 100 and 1,000 sites: wall time and CPU.
"""
import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import tempfile
import time

import yaml

from benchlib import BIN, ROOT, Console, call, cpu_ms, percentile, rss_mib, start_sim, wait_until

SEEDER = os.path.join(ROOT, "target", "release", "examples", "seed_metrics")
EXPORTER = os.path.join(ROOT, "bench", "openstack-exporter.py")
SDK_SCRIPT = os.path.join(ROOT, "bench", "openstacksdk-metrics.py")


def report(**figures):
    print(json.dumps(figures), flush=True)


def timed_gets(console, path, n):
    timings, size = [], 0
    for _ in range(n):
        started = time.perf_counter()
        body = console.get(path, raw=True)
        timings.append((time.perf_counter() - started) * 1000)
        size = len(body)
    return timings, size, body


def collection(args, work, clouds, names):
    console = Console(18641, os.path.join(work, "collect"), clouds, "--metrics-interval-s", str(args.interval))
    try:
        wait_until(lambda: console.online() >= len(names), 300, "every site online", 1)
        online_at = time.time()

        def collected():
            summary = console.get("/api/v1/metrics/summary")
            return summary["sites_reporting"] >= len(names)
        wait_until(collected, 300, "every site collected", 0.5)
        report(phase="first round", sites=len(names), since_import_s=round(time.time() - console.imported_at, 1),
               since_all_online_s=round(time.time() - online_at, 1))
        # Steady state: whole intervals, from a boundary on.
        start = (int(time.time()) // args.interval + 1) * args.interval
        time.sleep(max(0, start - time.time()))
        cpu_before = cpu_ms(console.pid)
        end = start + args.rounds * args.interval
        time.sleep(end - time.time() + 2 * args.interval)  # the last round's reads finish and are written
        cpu_ms_used = cpu_ms(console.pid) - cpu_before
        intervals = (time.time() - start) / args.interval  # the CPU is of every interval since start
        db = sqlite3.connect(f"file:{work}/collect/overcast.db?mode=ro", uri=True)
        per_round = []
        for r in range(args.rounds):
            lo, hi = start + r * args.interval, start + (r + 1) * args.interval
            sites = db.execute("SELECT COUNT(DISTINCT site), COUNT(*) FROM metric_samples WHERE ts >= ? AND ts < ?",
                               (lo, hi)).fetchone()
            gaps = db.execute("SELECT COUNT(*) FROM metric_gaps WHERE ts >= ? AND ts < ?", (lo, hi)).fetchone()[0]
            per_round.append({"sites_sampled": sites[0], "samples": sites[1], "gaps": gaps})
        db.close()
        exposition = console.get("/metrics", raw=True).decode()
        reads = {line.split()[0]: float(line.split()[1]) for line in exposition.splitlines()
                 if line.startswith("overcast_collector_read_duration_seconds_")}
        mean_read = reads.get("overcast_collector_read_duration_seconds_sum", 0) / max(1, reads.get("overcast_collector_read_duration_seconds_count", 1))
        report(phase="steady rounds", interval_s=args.interval, rounds=per_round,
               console_cpu_ms_per_round=round(cpu_ms_used / intervals, 0),
               console_cpu_ms_per_site_round=round(cpu_ms_used / intervals / len(names), 3),
               mean_read_s=round(mean_read, 3), console_rss_mib=round(rss_mib(console.pid), 1))
        timings, size, body = timed_gets(console, "/metrics", 30)
        report(phase="GET /metrics", sites=len(names), p50_ms=round(percentile(timings, 50), 1),
               p99_ms=round(percentile(timings, 99), 1), max_ms=round(max(timings), 1), bytes=size,
               lines=body.count(b"\n"))
    finally:
        console.stop()


def table_sizes(path):
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    db.close()
    return sizes


def series(args, work, clouds, names):
    data = os.path.join(work, "series")
    names_file = os.path.join(work, "names.txt")
    with open(names_file, "w") as f:
        f.write("\n".join(names) + "\n")
    env = dict(os.environ, OVERCAST_ADMIN_PASSWORD="bench-password", RUST_LOG="warn")
    empty = table_sizes_after(lambda: subprocess.run([SEEDER, os.path.join(work, "empty"), names_file, "0"],
                                                     env=env, check=True, capture_output=True), os.path.join(work, "empty"))
    seeded = subprocess.run([SEEDER, data, names_file, "24"], env=env, check=True, capture_output=True, text=True)
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    sizes = table_sizes(os.path.join(data, "overcast.db"))
    db = sqlite3.connect(os.path.join(data, "overcast.db"))
    tiers = dict(db.execute("SELECT tier, SUM(length(slots) + length(metric) + length(site) + 16) FROM metric_chunks GROUP BY tier").fetchall())
    db.close()
    metric_tables = {k: v for k, v in sizes.items() if k.startswith("metric_") or k.startswith("sqlite_autoindex_metric")}
    grown = os.path.getsize(os.path.join(data, "overcast.db")) - os.path.getsize(os.path.join(work, "empty", "overcast.db"))
    report(phase="seed", **seed, db_growth_bytes_per_site_day=round(grown / len(names)),
           tables_bytes_per_site_day={k: round(v / len(names)) for k, v in sorted(metric_tables.items())},
           empty_db_bytes=empty, chunk_payload_share_by_tier={t: round(v / sum(tiers.values()), 3) for t, v in tiers.items()})
    console = Console(18642, data, clouds)
    try:
        if args.series_settle_s:
            # Past the console's first health and collection rounds of every site.
            wait_until(lambda: console.online() >= len(names), 300, "every site online", 1)
            time.sleep(args.series_settle_s)
        path = f"/api/v1/metrics/series?metric=used_vcpus&from={int(time.time()) - 86400}&step=60&agg=sum"
        first = json.loads(console.get(path, raw=True))
        timings, cpus, size = [], [], 0
        for _ in range(args.queries):
            cpu_before, started = cpu_ms(console.pid), time.perf_counter()
            size = len(console.get(path, raw=True))
            timings.append((time.perf_counter() - started) * 1000)
            cpus.append(cpu_ms(console.pid) - cpu_before)  # the collection's CPU meanwhile included
        points = [p for p in first["series"][0]["points"]] if first.get("series") else []
        report(phase="series 24h step 60", sites=len(names), settled_s=args.series_settle_s,
               p50_ms=round(percentile(timings, 50), 1),
               p99_ms=round(percentile(timings, 99), 1), max_ms=round(max(timings), 1), min_ms=round(min(timings), 1),
               console_cpu_ms_p50=round(percentile(cpus, 50)), console_cpu_ms_max=round(max(cpus)), bytes=size,
               resolution=first.get("resolution"), points=len(points),
               sites_in_last_points=[p.get("sites") for p in points[-3:]], sites_in_first=points[0].get("sites") if points else None,
               load=os.getloadavg())
        # Where the time goes: the same query for one site, and over less history; what the
        # store holds for it (the minute chunks up to the rollup, the raw tail after it), and
        # how long SQLite itself takes to return those rows (Python's sqlite3, same file).
        now = int(time.time())
        variants = {}
        for name, query in [("one_site", f"&sites={names[0]}&from={now - 86400}&step=60"),
                            ("last_hour", f"&from={now - 3600}&step=60"),
                            ("step_3600", f"&from={now - 86400}&step=3600")]:
            walls, cpu = [], []
            for _ in range(10):
                cpu_before, started = cpu_ms(console.pid), time.perf_counter()
                console.get(f"/api/v1/metrics/series?metric=used_vcpus&agg=sum{query}", raw=True)
                walls.append((time.perf_counter() - started) * 1000)
                cpu.append(cpu_ms(console.pid) - cpu_before)
            variants[name] = {"p50_ms": round(percentile(walls, 50), 1), "console_cpu_ms_p50": round(percentile(cpu, 50))}
        cpu_before = cpu_ms(console.pid)
        time.sleep(5)
        background = (cpu_ms(console.pid) - cpu_before) / 5
        db = sqlite3.connect(f"file:{data}/overcast.db?mode=ro", uri=True)
        now = int(time.time())
        done = dict(db.execute("SELECT tier, done_until FROM metric_rollups").fetchall()).get(1, now - 86400)
        started = time.perf_counter()
        chunks = db.execute("SELECT metric, site, start, slots FROM metric_chunks "
                            "WHERE tier = 1 AND metric = 'used_vcpus' AND start >= ? AND start < ?",
                            ((now - 86400) // 3600 * 3600, done)).fetchall()
        chunks_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        tail = db.execute("SELECT site, ts, vals FROM metric_samples WHERE ts >= ? AND ts < ? ORDER BY site, ts",
                          (done, now)).fetchall()
        tail_ms = (time.perf_counter() - started) * 1000
        db.close()
        report(phase="series: where the time goes", variants=variants,
               console_background_cpu_ms_per_s=round(background), minute_rollup_behind_s=now - done,
               minute_chunk_rows=len(chunks), minute_chunk_bytes=sum(len(c[3]) for c in chunks),
               sqlite_chunk_rows_ms=round(chunks_ms, 1), raw_tail_rows=len(tail), sqlite_raw_tail_ms=round(tail_ms, 1),
               load=os.getloadavg())
    finally:
        console.stop()


def table_sizes_after(run, data):
    run()
    return os.path.getsize(os.path.join(data, "overcast.db")) if os.path.exists(os.path.join(data, "overcast.db")) else 0


def catalog_types(auth):
    """The service types in a site's catalog, from a token of its own Keystone (as an operator
    would check which collectors a site can have)."""
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"], "domain": {"name": auth["user_domain_name"]}}}},
        "scope": {"project": {"name": auth["project_name"], "domain": {"name": auth["project_domain_name"]}}}}}
    token = call(auth["auth_url"].rstrip("/") + "/auth/tokens", data=body)
    return {service["type"] for service in token["token"]["catalog"]}


VOLUME_TYPES = {"block-storage", "volumev3", "volumev2", "volume"}


def exporters(args, work, clouds, cfg, n):
    """n exporter processes, one per site; one gathering round each, then scrapes.

    A site without Cinder in its catalog gets `use_nova_volumes: False` (the exporter's key
    for "read each project's Cinder quota while gathering"; True by default) and no `cinder`
    collector, which would only publish empty gauges then. A site without Neutron cannot be
    configured around: the packaged gatherer lists floating IPs, networks, ports, routers
    and subnets unconditionally, so every gathering of such a site fails; those sites are
    counted, not waited for, and left out of the per-site figures."""
    processes = []
    root = os.path.join(work, f"exporters-{n}")
    os.makedirs(root, exist_ok=True)
    names = sorted(cfg["clouds"])[:n]
    types = {name: catalog_types(cfg["clouds"][name]["auth"]) for name in names}
    no_cinder = [name for name in names if not types[name] & VOLUME_TYPES]
    no_neutron = [name for name in names if "network" not in types[name]]
    started = time.time()
    for i, name in enumerate(names):
        auth = cfg["clouds"][name]["auth"]
        cinder = name not in no_cinder
        config = {"listen_port": 18700 + i, "cache_refresh_interval": 3600, "cache_file": f"{root}/{name}.cache",
                  "cloud": name, "openstack_allocation_ratio_vcpu": 2.5, "openstack_allocation_ratio_ram": 1.1,
                  "openstack_allocation_ratio_disk": 1.0, "log_level": "WARNING",
                  # swift needs its hosts' recon ports and rings: not an OpenStack API, not simulated.
                  "enabled_collectors": (["cinder"] if cinder else []) + ["neutron", "nova"],
                  "use_nova_volumes": cinder,
                  "schedulable_instance_size": {"ram_mbs": 4096, "vcpu": 2, "disk_gbs": 20}}
        path = f"{root}/{name}.yaml"
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        env = dict(os.environ, OS_IDENTITY_API_VERSION="3", OS_AUTH_URL=auth["auth_url"], OS_USERNAME=auth["username"],
                   OS_PASSWORD=auth["password"], OS_PROJECT_NAME=auth["project_name"],
                   OS_USER_DOMAIN_NAME=auth["user_domain_name"], OS_PROJECT_DOMAIN_NAME=auth["project_domain_name"])
        processes.append(subprocess.Popen(["/usr/bin/python3", EXPORTER, path], env=env,
                                          stdout=subprocess.DEVNULL, stderr=open(f"{root}/{name}.log", "w")))
    try:
        def failed_gathering(name):
            with open(f"{root}/{name}.log") as log:
                return "Error getting stats" in log.read()

        def settled():
            return all(os.path.exists(f"{root}/{name}.cache") or failed_gathering(name) for name in names)
        wait_until(settled, 600, f"{n} exporters' first gathering", 0.2)
        gathered = time.time() - started
        ok = [i for i, name in enumerate(names) if os.path.exists(f"{root}/{name}.cache")]
        failed = [name for name in names if not os.path.exists(f"{root}/{name}.cache")]
        cpu_gather = sum(cpu_ms(p.pid) for p in processes)
        cpu_gather_ok = sum(cpu_ms(processes[i].pid) for i in ok)
        rss = sum(rss_mib(p.pid) for p in processes)
        timings, scrape_cpu, failed_scrapes = [], 0.0, 0
        for i in ok:
            p = processes[i]
            before = cpu_ms(p.pid, children=True)
            started_scrape = time.perf_counter()
            try:
                body = call(f"http://127.0.0.1:{18700 + i}/metrics", raw=True)
                failed_scrapes += 0 if b"hypervisor_vcpus_total" in body else 1
            except OSError:
                failed_scrapes += 1
            timings.append((time.perf_counter() - started_scrape) * 1000)
            time.sleep(0.05)  # the forked handler is reaped
            scrape_cpu += cpu_ms(p.pid, children=True) - before
        durations = []
        for i in ok:
            for line in call(f"http://127.0.0.1:{18700 + i}/metrics", raw=True).decode().splitlines():
                if line.startswith("openstack_exporter_cache_refresh_duration_seconds{"):
                    durations.append(float(line.split()[-1]))
        report(phase="prometheus-openstack-exporter", sites=n, sites_without_cinder=len(no_cinder),
               sites_without_neutron=len(no_neutron), gathering_failed=len(failed),
               failed_are_the_sites_without_neutron=sorted(failed) == sorted(no_neutron),
               start_to_all_settled_s=round(gathered, 1),
               gather_duration_s_p50=round(percentile(durations, 50), 2) if durations else None,
               gather_duration_s_max=round(max(durations), 2) if durations else None,
               cpu_ms_start_and_gather_total=round(cpu_gather),
               cpu_ms_per_gathered_site=round(cpu_gather_ok / max(1, len(ok))),
               scrape_p50_ms=round(percentile(timings, 50), 1) if timings else None,
               scrape_p99_ms=round(percentile(timings, 99), 1) if timings else None,
               scrape_cpu_ms_per_site=round(scrape_cpu / max(1, len(ok)), 1), rss_mib_total=round(rss),
               failed_scrapes=failed_scrapes, load=os.getloadavg())
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait()


def sdk(args, clouds, cfg, n, work):
    subset = os.path.join(work, f"clouds-{n}.yaml")
    with open(subset, "w") as f:
        yaml.safe_dump({"clouds": {name: cfg["clouds"][name] for name in sorted(cfg["clouds"])[:n]}}, f)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run([args.sdk_python, SDK_SCRIPT, subset, "32"], capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    report(phase="openstacksdk script", sites=n, threads=32, process_wall_s=round(wall, 1),
           gather_s=round(result["gather_ms"] / 1000, 1), cpu_ms_total=round(cpu), cpu_ms_per_site=round(cpu / n, 1),
           failed=result["failed"], totals=result["totals"], load=os.getloadavg())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=50)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--series-settle-s", type=int, default=0,
                        help="wait this long after every site is online before the series queries")
    parser.add_argument("--exporter-sites", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--sdk-sites", type=int, nargs="*", default=[10, 100, 1000])
    parser.add_argument("--sdk-python", default=os.path.join(ROOT, "e2e", ".venv", "bin", "python"))
    parser.add_argument("--skip", nargs="*", default=[], help="phases to skip: collection series exporter sdk")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="overcast-metrics-")
    clouds = os.path.join(work, "clouds.yaml")
    sim = start_sim(args.sites, 18640, clouds, "--latency", str(args.latency))
    report(phase="set-up", sites=args.sites, latency_ms=args.latency, work=work, load=os.getloadavg())
    try:
        with open(clouds) as f:
            cfg = yaml.safe_load(f)
        names = sorted(cfg["clouds"])
        if "collection" not in args.skip:
            collection(args, work, clouds, names)
        if "series" not in args.skip:
            series(args, work, clouds, names)
        if "exporter" not in args.skip:
            for n in args.exporter_sites:
                exporters(args, work, clouds, cfg, n)
        if "sdk" not in args.skip:
            for n in args.sdk_sites:
                sdk(args, clouds, cfg, n, work)
        report(phase="end", simulator_cpu_ms=round(cpu_ms(sim.pid)), load=os.getloadavg())
    finally:
        sim.terminate()
        sim.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
