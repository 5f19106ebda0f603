#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine; idempotent and non-interactive (CI=true, no
# stdin). On a fresh Debian machine the `docker` on PATH is only a client, so install Debian's
# docker.io (engine 20.10, API 1.41) and start dockerd detached; processes started here end with
# the session, so CI runs this every time.
#
# Exit 0 when `docker info` works, 1 with a one-line reason otherwise.
set -euo pipefail

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

engine_up() { docker info >/dev/null 2>&1; }

engine_up && exit 0

# Several test files or engineers may run this at once: serialise on a lock so only one of them
# installs or starts dockerd (two dockerd on one data root fight over its lock and both die).
exec 9>/tmp/symphony-docker-engine.lock
if command -v flock >/dev/null 2>&1; then
  flock -w 120 9 || die "timed out waiting for /tmp/symphony-docker-engine.lock"
fi
engine_up && exit 0

if ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "dockerd is not installed and installing it needs root (apt-get install docker.io)"
  command -v apt-get >/dev/null 2>&1 || die "dockerd is not installed and apt-get is not available; install a Docker engine"
  log "installing docker.io with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null >/tmp/docker-engine-apt.log 2>&1 \
    || die "apt-get update failed (see /tmp/docker-engine-apt.log)"
  apt-get install -y -qq docker.io </dev/null >>/tmp/docker-engine-apt.log 2>&1 \
    || die "apt-get install docker.io failed (see /tmp/docker-engine-apt.log)"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
fi

# A dockerd from an earlier session is gone but its pid file stays, and dockerd refuses to start
# while it exists. Only remove it when no live dockerd owns it.
pidfile=/var/run/docker.pid
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    log "dockerd (pid $pid) is running but not answering yet; waiting for it"
  else
    rm -f "$pidfile"
  fi
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "no Docker engine is running and starting dockerd needs root; start it (sudo dockerd / systemctl start docker) or set DOCKER_HOST"
  log "starting dockerd (log: /tmp/dockerd.log)"
  # setsid: detach from this shell's session so the engine survives the script (and CI's job).
  # 9>&-: the engine must not inherit (and hold) the lock for its whole life.
  setsid dockerd </dev/null >/tmp/dockerd.log 2>&1 9>&- &
fi

for _ in $(seq 60); do
  engine_up && { log "engine ready"; exit 0; }
  sleep 0.5
done
die "dockerd did not answer 'docker info' within 30 s; last lines of /tmp/dockerd.log: $(tail -n 3 /tmp/dockerd.log 2>/dev/null | tr '\n' ' ')"
