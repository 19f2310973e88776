#!/usr/bin/env bash
# Console memory per registered site: `overcast sim --sites N` and `overcast serve` as
# separate processes, the sim's clouds.yaml imported through the API, then the console's
# RSS once health checks have signed in to every site (so each holds a session, token
# and catalog). Usage: bench/console-memory.sh N [SETTLE_SECONDS]
set -euo pipefail
n=${1:?number of sites}
settle=${2:-40}
bin="$(dirname "$0")/../target/release/overcast"
work=$(mktemp -d)
"$bin" sim --sites "$n" --listen 127.0.0.1:0 --clouds-yaml "$work/clouds.yaml" > "$work/sim.out" 2>/dev/null &
sim=$!
OVERCAST_ADMIN_PASSWORD=bench-password "$bin" serve --listen 127.0.0.1:18480 --data-dir "$work/data" --request-timeout-s 600 2> "$work/console.log" &
console=$!
trap 'kill $sim $console 2>/dev/null' EXIT
until curl -sf http://127.0.0.1:18480/readyz > /dev/null; do sleep 0.1; done
until [ -s "$work/clouds.yaml" ]; do sleep 0.1; done
idle=$(awk '/VmRSS/ {print $2}' /proc/$console/status)
token=$(curl -s -X POST http://127.0.0.1:18480/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
start=$(date +%s.%N)
curl -s -X POST "http://127.0.0.1:18480/api/v1/sites/import" -H "authorization: Bearer $token" \
  -H 'content-type: application/yaml' --data-binary @"$work/clouds.yaml" \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("imported", len(r["created"]), "failed", len(r["failed"]))'
echo "import_seconds=$(echo "$(date +%s.%N) - $start" | bc)"
sleep "$settle"
online=$(curl -s http://127.0.0.1:18480/api/v1/sites -H "authorization: Bearer $token" \
  | python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin)["items"] if s["state"]=="online"))')
rss=$(awk '/VmRSS/ {print $2}' /proc/$console/status)
echo "sites=$n online_after_${settle}s=$online console_rss_idle_kb=$idle console_rss_kb=$rss per_site_kb=$(( (rss - idle) / n ))"
