#!/usr/bin/env bash
# symphony in front of the bundled example API (examples/api/server.js): as Docker containers
# when a Docker engine answers, otherwise as local processes (--runtime process). Extra
# arguments go to symphony, e.g. `npm run demo -- --window 30s --base-scale-count 5`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/src/cli.js ] || npx tsc -p tsconfig.json
if docker info >/dev/null 2>&1; then
  bash scripts/build-test-image.sh
  exec node bin/symphony.js --image symphony-test-api:latest --cleanup-on-exit "$@"
fi
echo "demo: no Docker engine answers here; running the example API as local processes" >&2
exec node bin/symphony.js --runtime process --command "node examples/api/server.js" "$@"
