#!/usr/bin/env bash
# Make sure `pebble` and `pebble-challtestsrv` are on PATH (Debian's pebble package, 2.4 on
# Debian 12, holds both); idempotent, non-interactive. Only the binaries are used: the ACME tests
# (test/tls/acme/) start and stop their own pebble on 127.0.0.1 with a config they write.
set -euo pipefail
command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1 && exit 0
[ "$(id -u)" -eq 0 ] || { echo "pebble: not installed, and installing it needs root (apt-get install pebble)" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || { echo "pebble: not installed and apt-get is not available" >&2; exit 1; }
exec 9>/tmp/symphony-pebble-install.lock
command -v flock >/dev/null 2>&1 && flock -w 300 9
command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null >/tmp/pebble-apt.log 2>&1 || true
apt-get install -y -qq --no-install-recommends pebble </dev/null >>/tmp/pebble-apt.log 2>&1 \
  || { echo "pebble: apt-get install failed (see /tmp/pebble-apt.log)" >&2; exit 1; }
for bin in pebble pebble-challtestsrv; do
  command -v "$bin" >/dev/null 2>&1 || { echo "pebble: installed but $bin is not on PATH" >&2; exit 1; }
done
