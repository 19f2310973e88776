#!/usr/bin/env python3
"""Memory of a console under sign-in floods: 3 rounds of 100 concurrent sign-ins with
unknown users against `overcast serve`; prints RSS and peak RSS after each round.
Usage: python3 bench/signin-flood.py target/debug/overcast"""
import json, os, subprocess, sys, tempfile, threading, time, urllib.request
d = tempfile.mkdtemp()
env = dict(os.environ, OVERCAST_ADMIN_PASSWORD="flood-admin-password", RUST_LOG="warn")
p = subprocess.Popen([sys.argv[1], "serve", "--listen", "127.0.0.1:18181", "--data-dir", d], env=env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rss():
    s = open(f"/proc/{p.pid}/status").read()
    f = lambda k: int([l for l in s.splitlines() if l.startswith(k)][0].split()[1]) // 1024
    return f("VmRSS:"), f("VmHWM:")
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:18181/healthz"); break
    except Exception: time.sleep(0.1)
print("before: rss %d MiB, peak %d MiB" % rss())
codes = []
def login(i):
    req = urllib.request.Request("http://127.0.0.1:18181/api/v1/auth/login", method="POST",
        data=json.dumps({"username": f"nobody-{i}", "password": "some-long-password"}).encode(),
        headers={"content-type": "application/json"})
    try: urllib.request.urlopen(req); codes.append(200)
    except urllib.error.HTTPError as e: codes.append(e.code)
    except Exception as e: codes.append(str(e))
for rnd in range(3):
    t0 = time.time()
    ts = [threading.Thread(target=login, args=(i,)) for i in range(100)]
    [t.start() for t in ts]; [t.join() for t in ts]
    print("round %d: 100 concurrent sign-ins in %.1f s; rss %d MiB, peak %d MiB" % ((rnd, time.time()-t0) + rss()))
print("answers:", {c: codes.count(c) for c in set(codes)})
p.terminate(); p.wait()
