#!/usr/bin/env python3
"""Load benchmark of `overcast sim`: token issue + server list over many sites, driven by wrk.

Usage: bench/sim-load.py [--sites 1000] [--seconds 20] [--connections 64]
Starts a release `overcast sim`, signs in once per site to get tokens for the server
lists, then runs wrk (Debian's package) with a Lua script that alternates POST
/identity/v3/auth/tokens and GET /compute/v2.1/servers over random sites.
Prints wrk's latency distribution, the request rate, and the simulator's memory.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "overcast")

LUA = r"""
local tokens = dofile("%(tokens)s")
local sites = #tokens
local auth = '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"secret"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}'
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local i = math.random(sites)
  local site = string.format("site-%%03d", i)
  if n %% 2 == 0 then
    return wrk.format("POST", "/" .. site .. "/identity/v3/auth/tokens", {["Content-Type"] = "application/json"}, auth)
  end
  return wrk.format("GET", "/" .. site .. "/compute/v2.1/servers", {["X-Auth-Token"] = tokens[i]})
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 and status ~= 201 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx: %%d\n", summary.errors.status))
end
"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    sim = subprocess.Popen([BIN, "sim", "--sites", str(args.sites), "--listen", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"sites on (http://\S+)", sim.stdout.readline()).group(1)
        time.sleep(0.5)
        idle = rss_kb(sim.pid)
        body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": "secret"}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}).encode()
        tokens = []
        for n in range(1, args.sites + 1):
            request = urllib.request.Request(f"{url}/site-{n:03d}/identity/v3/auth/tokens", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request) as response:
                tokens.append(response.headers["X-Subject-Token"])
        workdir = tempfile.mkdtemp(prefix="overcast-bench-")
        tokens_file = os.path.join(workdir, "tokens.lua")
        with open(tokens_file, "w") as out:
            out.write("return {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
        script = os.path.join(workdir, "load.lua")
        with open(script, "w") as out:
            out.write(LUA % {"tokens": tokens_file})
        print(f"sites={args.sites} idle_rss_kb={idle} per_site_kb={idle / args.sites:.1f}", flush=True)
        subprocess.run(["wrk", "--latency", "-t", str(args.threads), "-c", str(args.connections),
                        "-d", f"{args.seconds}s", "-s", script, url], check=True)
        print(f"rss_after_load_kb={rss_kb(sim.pid)}")
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    sys.exit(main())
