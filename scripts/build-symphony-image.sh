#!/usr/bin/env bash
# Build symphony's own image (`symphony`, the name the docs and the stack use) with no registry, for tests and CI: the equivalent of
# the repository's Dockerfile (node:24-trixie-slim), made from a Debian 13 root filesystem with
# Node 24 (scripts/trixie-rootfs.sh image, imported as a base image), the compiled dist/ and the
# production dependencies that npm ci installed with Node 24 on Debian 13 (in a chroot), the
# uWebSockets.js binaries trimmed to that Node's ABI.
#
# Run `npm run build` first. Needs root (the chroot). Skips the build when the tagged image
# already carries the same content label (a hash of dist/, bin/, package.json, the lock file and
# these recipes).
# Env: SYMPHONY_IMAGE overrides the tag.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
image=${SYMPHONY_IMAGE:-symphony}

log() { printf 'build-symphony-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$root/dist/src/cli.js" ] || die "no dist/: run npm run build first"
docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/docker-engine.sh first"

content=$( { (cd "$root" && find dist/src bin package.json package-lock.json -type f -print0 | sort -z | xargs -0 cat)
  cat "${BASH_SOURCE[0]}" "$here/trixie-rootfs.sh" "$here/trixie-chroot.sh"; } | sha256sum | cut -c1-16)
current() { docker image inspect "$image" --format '{{ index .Config.Labels "io.symphony.content" }}' 2>/dev/null || true; }
[ "$(current)" = "$content" ] && exit 0

exec 9>/tmp/symphony-build-symphony-image.lock
flock -w 600 9 || die "timed out waiting for /tmp/symphony-build-symphony-image.lock"
[ "$(current)" = "$content" ] && exit 0

# shellcheck source=trixie-chroot.sh
. "$here/trixie-chroot.sh"
ctx=$(mktemp -d /tmp/symphony-self-image.XXXXXX)
trap 'trixie_close; rm -rf "$ctx" "$ctx.log"' EXIT
trap 'exit 130' INT TERM

# The base: Debian 13 minbase with Node 24, imported once per recipe (docker import keeps no
# history to rebuild from, so the tag carries the recipe's key).
rootfs=$(bash "$here/trixie-rootfs.sh" image) || die "could not build the Debian 13 root filesystem"
base="symphony-base:trixie-${rootfs##*-}"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  log "importing $rootfs as $base"
  tar -C "$rootfs" --exclude=./.symphony-rootfs -c . \
    | docker import --change 'LABEL io.symphony.trixie-base=true' - "$base" >/dev/null || die "docker import failed"
fi

app="$ctx/app"
mkdir -p "$app"
cp -r "$root/dist" "$root/bin" "$root/package.json" "$root/package-lock.json" "$app/"
# Tests and benchmarks are not part of the product.
rm -rf "$app/dist/test" "$app/dist/bench"

# Production dependencies, installed by Node 24's npm on Debian 13 as the Dockerfile's npm ci does.
# No install scripts: the only native code symphony loads is uWebSockets.js's prebuilt binaries.
trixie_open ci || die "could not set up the Debian 13 chroot"
trixie_bind "$app" /app
trixie_run 'cd /app && npm ci --omit=dev --ignore-scripts --no-audit --no-fund </dev/null >/tmp/npm-ci.log 2>&1' \
  || { tail -n 30 "$TRIXIE_ROOT/tmp/npm-ci.log" >&2; die "npm ci failed in the chroot"; }
abi=$(trixie_run 'node -p process.versions.modules')
trixie_close
# uWebSockets.js ships a binary per platform and Node ABI (over 100 MB): keep this image's.
find "$app/node_modules" -name 'uws_*.node' ! -name "uws_linux_x64_$abi.node" -delete
find "$app/node_modules" -ipath '*uwebsockets*/docs' -prune -exec rm -rf {} + 2>/dev/null || true
rm -f "$app/package-lock.json"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY app/ /app/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_ENV=production
# As the Dockerfile: glibc's mmap threshold fixed (docs/performance.md, "Memory over time").
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
WORKDIR /app
EXPOSE 8080
LABEL io.symphony.symphony-image="true" io.symphony.content="$content"
ENTRYPOINT ["node", "/app/bin/symphony.js"]
DOCKERFILE

log "building $image (content $content) on $base"
if ! DOCKER_BUILDKIT=0 docker build -t "$image" "$ctx" >"$ctx.log" 2>&1; then
  cat "$ctx.log" >&2
  die "docker build failed"
fi
# Older builds carrying the label are now untagged: drop them so rebuilds do not pile up.
docker image prune -f --filter label=io.symphony.symphony-image=true >/dev/null 2>&1 || true
# Then the bases of older recipes, which only those older builds referred to. (By name as well as
# label: images built on a base inherit its label, this very one included.)
docker images --filter label=io.symphony.trixie-base=true --filter 'reference=symphony-base:*' --format '{{.Repository}}:{{.Tag}}' \
  | grep -vxF "$base" | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $image ($(docker image inspect "$image" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
