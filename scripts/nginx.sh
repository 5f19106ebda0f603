#!/usr/bin/env bash
# Make sure an `nginx` binary is available (Debian's package, 1.22 on Debian 12); idempotent,
# non-interactive. Only the binary is used: test/worker/fronting.test.ts starts its own instance
# on 127.0.0.1 with its own configuration, so the package's service must not start: a
# policy-rc.d that refuses service starts is in place during the install.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
command -v nginx >/dev/null 2>&1 && exit 0
[ "$(id -u)" -eq 0 ] || { echo "nginx: not installed, and installing it needs root (apt-get install nginx)" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || { echo "nginx: not installed and apt-get is not available" >&2; exit 1; }
exec 9>/tmp/symphony-nginx-install.lock
command -v flock >/dev/null 2>&1 && flock -w 300 9
command -v nginx >/dev/null 2>&1 && exit 0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null >/tmp/nginx-apt.log 2>&1 || true
apt-get install -y -qq --no-install-recommends nginx </dev/null >>/tmp/nginx-apt.log 2>&1 \
  || { echo "nginx: apt-get install failed (see /tmp/nginx-apt.log)" >&2; exit 1; }
command -v nginx >/dev/null 2>&1 || { echo "nginx: installed but not on PATH" >&2; exit 1; }
