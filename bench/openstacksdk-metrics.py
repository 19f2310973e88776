#!/usr/bin/env python3
"""The figures Overcast's collector gathers, gathered the way a user would script them with
openstacksdk over a clouds.yaml.

Usage: openstacksdk-metrics.py CLOUDS_YAML THREADS
For every cloud: Placement's inventories and usages of each resource provider, the servers
of every project by status, the image count and bytes, the volume count and gigabytes, and
the compute and volume quota usage of every project. THREADS clouds at a time (1: one after
the other). Prints one JSON line: the wall time of the whole gathering in ms (connections,
discovery and sign-in included, as a script run does), how many clouds failed, and the
fleet's totals.
"""
import collections
import concurrent.futures
import json
import os
import sys
import time

import yaml


def gather(conn):
    figures = collections.Counter()
    for provider in conn.placement.resource_providers():
        inventories = conn.placement.get(f"/resource_providers/{provider.id}/inventories").json()["inventories"]
        usages = conn.placement.get(f"/resource_providers/{provider.id}/usages").json()["usages"]
        for resource, inventory in inventories.items():
            figures[f"capacity_{resource}"] += (inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"]
            figures[f"used_{resource}"] += usages.get(resource, 0)
    for server in conn.compute.servers(all_projects=True):
        figures[f"servers_{server.status}"] += 1
    for image in conn.image.images():
        figures["images_count"] += 1
        figures["images_bytes"] += image.size or 0
    cinder = conn.has_service("block-storage")  # an edge site may have none: no volume figures
    for volume in conn.block_storage.volumes(all_projects=True) if cinder else []:
        figures["volumes_count"] += 1
        figures["volumes_gb"] += volume.size
    for project in conn.identity.projects():
        compute = conn.compute.get_quota_set(project.id, usage=True)
        figures["quota_instances_in_use"] += compute.usage.get("instances", 0)
        figures["quota_cores_in_use"] += compute.usage.get("cores", 0)
        if cinder:
            volume = conn.block_storage.get_quota_set(project.id, usage=True)
            figures["quota_volumes_in_use"] += volume.usage.get("volumes", 0)
    return figures


def main():
    clouds_yaml, threads = sys.argv[1], int(sys.argv[2])
    os.environ["OS_CLIENT_CONFIG_FILE"] = clouds_yaml
    import openstack  # after the config path is set
    from openstack.config import loader

    config = loader.OpenStackConfig()  # one parse of the file for all clouds
    with open(clouds_yaml) as f:
        names = sorted(yaml.safe_load(f)["clouds"])

    def one(name):
        try:
            return gather(openstack.connection.Connection(config=config.get_one(cloud=name)))
        except Exception as error:  # a failing site is counted, as Overcast counts it
            print(f"{name}: {error}", file=sys.stderr)
            return None

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, names))
    elapsed = (time.perf_counter() - started) * 1000
    totals = sum((r for r in results if r), collections.Counter())
    print(json.dumps({"clouds": len(names), "threads": threads, "gather_ms": elapsed,
                      "failed": sum(1 for r in results if r is None), "totals": dict(totals)}))


if __name__ == "__main__":
    main()
