#!/usr/bin/env bash
# symphony in front of the bundled example API (examples/api/server.js): as Docker containers
# when a Docker engine answers, otherwise as local processes (--runtime process). Once it serves,
# it prints what to try next: a request, /status and /metrics, and a bounded load that makes it
# scale up and, a window later, back down. Ctrl-C stops it (and its replicas).
#
# Demo settings, as SYMPHONY_* variables so that flags still win: a 20 s window (scale-down is
# visible a minute after the load), at most 4 replicas, listening on 127.0.0.1 only. Extra
# arguments go to symphony, e.g. `npm run demo -- --base-scale-count 5`; move the ports with
# SYMPHONY_PORT and SYMPHONY_ADMIN_PORT (not flags) so that the guide shows the right ones.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/src/cli.js ] || npx tsc -p tsconfig.json

export SYMPHONY_HOST=${SYMPHONY_HOST:-127.0.0.1}
export SYMPHONY_PORT=${SYMPHONY_PORT:-8080}
export SYMPHONY_ADMIN_PORT=${SYMPHONY_ADMIN_PORT:-9180}
export SYMPHONY_WINDOW=${SYMPHONY_WINDOW:-20s}
export SYMPHONY_MAX_CONTAINERS=${SYMPHONY_MAX_CONTAINERS:-4}
url="http://127.0.0.1:${SYMPHONY_PORT}"
admin="http://127.0.0.1:${SYMPHONY_ADMIN_PORT}"

# Printed once the gateway answers; gives up quietly if symphony stops first.
guide() {
  local gateway=$1
  for _ in $(seq 240); do
    kill -0 "$gateway" 2>/dev/null || return 0
    if node -e "fetch('${admin}/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" 2>/dev/null; then
      cat >&2 <<GUIDE

  symphony is serving ${url} (admin API on ${admin})

  Try:
    a request (a replica answers with its hostname and pid):
      curl -s ${url}/api/v1/hello
    replicas, autoscaler and connections, as JSON:
      curl -s ${admin}/status
    Prometheus metrics:
      curl -s ${admin}/metrics | grep '^symphony_replicas'
    load that scales it up to ${SYMPHONY_MAX_CONTAINERS} replicas at once, and back down to one about two windows
    (2 x ${SYMPHONY_WINDOW}) after it ends: 3000 requests at 100 per second for 30 s, to this machine only:
      npx autocannon -c 10 -R 100 -a 3000 ${url}/api/v1/hello
  Ctrl-C stops symphony and its replicas.

GUIDE
      return 0
    fi
    sleep 0.5
  done
}

if docker info >/dev/null 2>&1; then
  bash scripts/build-test-image.sh
  guide $$ &
  exec node bin/symphony.js --image symphony-test-api:latest --cleanup-on-exit "$@"
fi
echo "demo: no Docker engine answers here; running the example API as local processes" >&2
guide $$ &
exec node bin/symphony.js --runtime process --command "node examples/api/server.js" "$@"
