#!/usr/bin/env bash
# Build symphony's own image (symphony:local) with no registry, for tests and CI: FROM scratch
# with this machine's node binary and the shared libraries it links, the compiled dist/, and the
# production dependencies from node_modules (uWebSockets.js trimmed to this platform's binary).
# Users build the repository's Dockerfile instead (FROM node:20-slim, npm ci).
#
# Run `npm run build` first. Skips the build when the tagged image already carries the same
# content label (a hash of dist/, package.json, this recipe and the node version).
# Env: SYMPHONY_IMAGE overrides the tag.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
image=${SYMPHONY_IMAGE:-symphony:local}

log() { printf 'build-symphony-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$root/dist/src/cli.js" ] || die "no dist/: run npm run build first"
node_bin=$(readlink -f "$(command -v node)") || die "node is not on PATH"
docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/docker-engine.sh first"

content=$( { (cd "$root" && find dist/src bin package.json -type f -print0 | sort -z | xargs -0 cat); cat "${BASH_SOURCE[0]}" "$here/scratch-image.sh"; "$node_bin" --version; } | sha256sum | cut -c1-16)
current() { docker image inspect "$image" --format '{{ index .Config.Labels "io.symphony.content" }}' 2>/dev/null || true; }
[ "$(current)" = "$content" ] && exit 0

exec 9>/tmp/symphony-build-symphony-image.lock
flock -w 300 9 || die "timed out waiting for /tmp/symphony-build-symphony-image.lock"
[ "$(current)" = "$content" ] && exit 0

ctx=$(mktemp -d /tmp/symphony-self-image.XXXXXX)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT
app="$ctx/rootfs/app"
# shellcheck source=scratch-image.sh
. "$here/scratch-image.sh"
scratch_node_rootfs "$ctx"
mkdir -p "$app/node_modules"
cp -r "$root/dist" "$root/bin" "$root/package.json" "$app/"
# Tests and benchmarks are not part of the product.
rm -rf "$app/dist/test" "$app/dist/bench"
# Production dependencies only, as npm resolved them here.
(cd "$root" && npm ls --omit=dev --parseable --all 2>/dev/null | tail -n +2) | while read -r dir; do
  rel=${dir#"$root"/}
  case "$rel" in node_modules/*) ;; *) continue ;; esac
  mkdir -p "$app/$(dirname "$rel")"
  cp -r "$dir" "$app/$rel"
done
# uWebSockets.js ships a binary per platform and Node ABI (113 MB): keep this machine's.
uws="$app/node_modules/uWebSockets.js"
if [ -d "$uws" ]; then
  keep="uws_$("$node_bin" -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node"
  find "$uws" -name 'uws_*.node' ! -name "$keep" -delete
  rm -rf "$uws/docs"
fi

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/bin NODE_ENV=production
WORKDIR /app
EXPOSE 8080 9180
LABEL io.symphony.symphony-image="true" io.symphony.content="$content"
ENTRYPOINT ["node", "/app/bin/symphony.js"]
DOCKERFILE

log "building $image (content $content)"
scratch_build "$image" "$ctx" io.symphony.symphony-image || die "docker build failed"
log "built $image ($(docker image inspect "$image" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
