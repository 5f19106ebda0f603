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
content=$( { cat "$server" "${BASH_SOURCE[0]}"; "$node_bin" --version; } | sha256sum | cut -c1-16)

current() { docker image inspect "$image" --format '{{ index .Config.Labels "io.symphony.content" }}' 2>/dev/null || true; }
[ "$(current)" = "$content" ] && exit 0

# tap runs test files in parallel and each may call this script: build once, under a lock.
exec 9>/tmp/symphony-build-test-image.lock
flock -w 120 9 || die "timed out waiting for /tmp/symphony-build-test-image.lock"
[ "$(current)" = "$content" ] && exit 0

ctx=$(mktemp -d /tmp/symphony-image.XXXXXX)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT

# Keep every library at the path ldd resolved it to: the dynamic loader in the image has no
# ld.so.cache and searches its built-in default directories, which are those paths.
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/app" "$ctx/rootfs/tmp"
cp -L "$node_bin" "$ctx/rootfs/usr/bin/node"
libs=$(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs /lib64/ld-linux-x86-64.so.2; do
  cp -L --parents "$lib" "$ctx/rootfs/"
done
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
# The legacy builder: no buildx plugin is installed here, and a FROM scratch COPY needs none.
# Its output (and its deprecation banner) is shown only when the build fails.
if ! DOCKER_BUILDKIT=0 docker build -t "$image" "$ctx" >"$ctx.log" 2>&1; then
  cat "$ctx.log" >&2
  die "docker build failed"
fi
# Older builds of this image are now untagged; drop them so rebuilds do not pile up.
docker image prune -f --filter label=io.symphony.test-image=true >/dev/null 2>&1 || true
log "built $image"
