#!/usr/bin/env bash
# Rolls a flavor out to every site a label selector picks, two canary sites first, and
# says whether every site has it. Needs OVERCAST_URL and OVERCAST_TOKEN, e.g.
#   export OVERCAST_URL=http://127.0.0.1:8080
#   export OVERCAST_TOKEN=$(OVERCAST_PASSWORD=… overcast ctl login --username admin)
#   examples/rollout-flavor.sh region=eu m1.edge
# Exit code: that of `overcast ctl` (0 every site succeeded, 1 some did not, 3 refused).
set -uo pipefail

selector=${1:?usage: rollout-flavor.sh SELECTOR [FLAVOR] [TTL_S]}
flavor=${2:-m1.edge}
ttl_s=${3:-3600}
overcast=${OVERCAST_BIN:-overcast}

echo "sites matching ${selector}:"
"$overcast" ctl sites list --selector "$selector" || exit

"$overcast" ctl job create flavor.create --selector "$selector" \
    --param name="$flavor" --param vcpus=2 --param ram_mb=2048 --param disk_gb=20 \
    --canary-count 2 --max-parallel 20 --max-failure-percent 10 --ttl-s "$ttl_s" \
    --wait
status=$?
case $status in
    0) echo "every site has ${flavor}" ;;
    1) echo "not every site has ${flavor}; see the table above, then: overcast ctl job retry <id> --wait" ;;
    *) echo "the job could not be started (exit ${status})" ;;
esac
exit $status
