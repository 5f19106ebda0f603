#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are on PATH (Debian's package, 2.42 on Debian 12, holds
# both); idempotent, non-interactive. Only the binaries are used: tests start their own instance
# on 127.0.0.1 and lint /metrics with promtool.
set -euo pipefail
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && exit 0
[ "$(id -u)" -eq 0 ] || { echo "prometheus: not installed, and installing it needs root (apt-get install prometheus)" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || { echo "prometheus: not installed and apt-get is not available" >&2; exit 1; }
exec 9>/tmp/symphony-prometheus-install.lock
command -v flock >/dev/null 2>&1 && flock -w 300 9
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null >/tmp/prometheus-apt.log 2>&1 || true
# The package's service is not started here (no systemd); its postinst tolerates that.
apt-get install -y -qq --no-install-recommends prometheus </dev/null >>/tmp/prometheus-apt.log 2>&1 \
  || { echo "prometheus: apt-get install failed (see /tmp/prometheus-apt.log)" >&2; exit 1; }
for bin in prometheus promtool; do
  command -v "$bin" >/dev/null 2>&1 || { echo "prometheus: installed but $bin is not on PATH" >&2; exit 1; }
done
