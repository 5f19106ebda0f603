#!/usr/bin/env bash
# Build the example API image (symphony-test-api:latest) with no registry: FROM scratch with this
# machine's own node binary and the shared libraries it links, plus examples/api/server.js.
#
# Skips the build when the tagged image already carries the same content label (hash of
# server.js, this recipe and the node version), so test files can call it freely in setup.
# Env: TEST_IMAGE overrides the tag.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
image=${TEST_IMAGE:-symphony-test-api:latest}
server="$root/examples/api/server.js"

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$server" ] || die "missing $server"
node_bin=$(readlink -f "$(command -v node)") || die "node is not on PATH"
docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/docker-engine.sh first"

# The recipe itself is part of the hash: changing the Dockerfile below must rebuild.
content=$( { cat "$server" "${BASH_SOURCE[0]}" "$here/scratch-image.sh"; "$node_bin" --version; } | sha256sum | cut -c1-16)

current() { docker image inspect "$image" --format '{{ index .Config.Labels "io.symphony.content" }}' 2>/dev/null || true; }
[ "$(current)" = "$content" ] && exit 0

# tap runs test files in parallel and each may call this script: build once, under a lock.
exec 9>/tmp/symphony-build-test-image.lock
flock -w 120 9 || die "timed out waiting for /tmp/symphony-build-test-image.lock"
[ "$(current)" = "$content" ] && exit 0

ctx=$(mktemp -d /tmp/symphony-image.XXXXXX)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT

# shellcheck source=scratch-image.sh
. "$here/scratch-image.sh"
scratch_node_rootfs "$ctx"
cp "$server" "$ctx/rootfs/app/server.js"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/bin NODE_ENV=production
WORKDIR /app
EXPOSE 80
LABEL io.symphony.test-image="true" io.symphony.content="$content" io.symphony.node="$("$node_bin" --version)"
ENTRYPOINT ["node", "server.js"]
DOCKERFILE

log "building $image (content $content)"
scratch_build "$image" "$ctx" io.symphony.test-image || die "docker build failed"
log "built $image"
