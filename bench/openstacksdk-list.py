#!/usr/bin/env python3
"""The server listing a user would script without Overcast: openstacksdk over a clouds.yaml.

Usage: openstacksdk-list.py CLOUDS_YAML THREADS [REPEATS]
THREADS=1 is sequential. Prints one JSON line: the wall time in ms of each listing of
every cloud, "cold" (a fresh connection per cloud: discovery and sign-in included, as a
script run does) then "warm" (the same connections again, tokens and catalogs cached),
and how many clouds failed.
"""
import concurrent.futures
import json
import os
import sys
import time

import yaml


def main():
    clouds_yaml, threads = sys.argv[1], int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.environ["OS_CLIENT_CONFIG_FILE"] = clouds_yaml
    import openstack  # after the config path is set
    from openstack.config import loader

    # One parse of the clouds.yaml for all clouds: openstack.connect(cloud=…) would
    # parse the whole file again for each cloud.
    config = loader.OpenStackConfig()

    with open(clouds_yaml) as f:
        names = sorted(yaml.safe_load(f)["clouds"])

    def list_servers(conn):
        try:
            return len(list(conn.compute.servers()))
        except Exception:  # a down site: counted, as Overcast counts it
            return None

    def run(connections):
        started = time.perf_counter()
        if threads == 1:
            results = [list_servers(c) for c in connections]
        else:
            with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(list_servers, connections))
        return (time.perf_counter() - started) * 1000, sum(1 for r in results if r is None)

    cold, warm, failed = [], [], 0
    for _ in range(repeats):
        connections = [openstack.connection.Connection(config=config.get_one(cloud=name)) for name in names]
        elapsed, failed = run(connections)
        cold.append(elapsed)
        elapsed, _ = run(connections)
        warm.append(elapsed)
    print(json.dumps({"clouds": len(names), "threads": threads, "cold_ms": cold, "warm_ms": warm, "failed": failed}))


if __name__ == "__main__":
    main()
