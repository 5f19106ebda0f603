#!/usr/bin/env bash
# Build the image in which test/takeover/systemd-takeover.test.ts runs docs/deployment.md's systemd
# recipe under a real systemd (issue #23): symphony's own image (scripts/build-symphony-image.sh,
# built first when missing or stale) plus Debian 13's systemd, booted as PID 1. It is laid out as
# the docs' install steps leave a server: the app at /opt/docker-symphony and node at
# /usr/bin/node, the paths the docs' unit files name.
#
# Derived from symphony's image with `FROM` and apt-get (the engine's build reaches Debian's
# mirrors, as mmdebstrap does), so the root filesystem recipes in scripts/trixie-rootfs.sh stay as
# they are. Skips the build when the tagged image carries the same content label (a hash of the
# base image's ID and this script).
# Env: SYMPHONY_IMAGE (the base, default `symphony`), SYMPHONY_SYSTEMD_IMAGE (default `symphony-systemd`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=${SYMPHONY_IMAGE:-symphony}
image=${SYMPHONY_SYSTEMD_IMAGE:-symphony-systemd}

log() { printf 'build-systemd-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

bash "$here/build-symphony-image.sh" || die "could not build symphony's image (scripts/build-symphony-image.sh)"
base_id=$(docker image inspect "$base" --format '{{.Id}}') || die "no image $base after scripts/build-symphony-image.sh"
content=$( { echo "$base_id"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)
current() { docker image inspect "$image" --format '{{ index .Config.Labels "io.symphony.content" }}' 2>/dev/null || true; }
[ "$(current)" = "$content" ] && exit 0

exec 9>/tmp/symphony-build-systemd-image.lock
flock -w 600 9 || die "timed out waiting for /tmp/symphony-build-systemd-image.lock"
[ "$(current)" = "$content" ] && exit 0

ctx=$(mktemp -d /tmp/symphony-systemd-image.XXXXXX)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT
trap 'exit 130' INT TERM

# SIGRTMIN+3 is how systemd as PID 1 is asked to shut down (SIGTERM only re-executes it).
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base_id
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && ln -s /app /opt/docker-symphony && ln -s /usr/local/bin/node /usr/bin/node
LABEL io.symphony.systemd-image="true" io.symphony.content="$content"
STOPSIGNAL SIGRTMIN+3
WORKDIR /
ENTRYPOINT ["/lib/systemd/systemd"]
DOCKERFILE

log "building $image (content $content) on $base"
if ! DOCKER_BUILDKIT=0 docker build -t "$image" "$ctx" >"$ctx.log" 2>&1; then
  cat "$ctx.log" >&2
  die "docker build failed (apt-get needs Debian's mirrors)"
fi
# Older builds carrying the label are now untagged: drop them so rebuilds do not pile up.
docker image prune -f --filter label=io.symphony.systemd-image=true >/dev/null 2>&1 || true
log "built $image"
