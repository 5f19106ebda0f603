# Sourced, not run: a throwaway chroot over a cached root filesystem from scripts/trixie-rootfs.sh.
#
#   . scripts/trixie-chroot.sh
#   trap 'trixie_close' EXIT  # before trixie_open: unmounts everything even when a step fails
#   trap 'exit 130' INT TERM  # (so that Ctrl-C and kill also run the EXIT trap)
#   trixie_open ci            # sets TRIXIE_ROOT
#   trixie_bind /host/dir /in/chroot
#   trixie_run 'cd /repo && npm ci'
#
# The cached tree is the lower layer of an overlay, so nothing a run writes (node_modules, npm's
# cache, /tmp) reaches it and concurrent runs do not meet. The chroot shares the host's network
# and PID namespaces: loopback and the Docker bridge's container addresses are reachable, and the
# host's engine is used through its socket, bind-mounted at /run/docker.sock.

TRIXIE_ROOT=
_trixie_session=
_trixie_mounts=()

_trixie_log() { printf 'trixie-chroot: %s\n' "$*" >&2; }

# trixie_open FLAVOUR: mount a fresh overlay over the cached tree and the kernel file systems.
trixie_open() {
  local flavour=$1 here lower
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  lower=$(bash "$here/trixie-rootfs.sh" "$flavour") || return 1
  _trixie_session=$(mktemp -d /var/tmp/symphony-trixie-run.XXXXXX)
  # Held shared for as long as the tree is mounted: trixie-rootfs.sh only replaces it exclusively.
  exec 7>"$(dirname "$lower")/$flavour.lock"
  flock -s -w 600 7 || { _trixie_log "timed out waiting for the $flavour lock"; return 1; }
  mkdir -p "$_trixie_session/upper" "$_trixie_session/work" "$_trixie_session/root"
  TRIXIE_ROOT=$_trixie_session/root
  _trixie_mount -t overlay overlay -o "lowerdir=$lower,upperdir=$_trixie_session/upper,workdir=$_trixie_session/work" "$TRIXIE_ROOT" || return 1
  _trixie_mount -t proc proc "$TRIXIE_ROOT/proc" || return 1
  _trixie_mount -t sysfs sysfs "$TRIXIE_ROOT/sys" || return 1
  # /dev and /dev/pts one by one (not --rbind): unmounting them can never reach the host's.
  _trixie_mount --bind /dev "$TRIXIE_ROOT/dev" || return 1
  _trixie_mount --bind /dev/pts "$TRIXIE_ROOT/dev/pts" || return 1
  _trixie_mount -t tmpfs -o mode=1777,size=256m tmpfs "$TRIXIE_ROOT/dev/shm" || return 1
  cp -L /etc/resolv.conf "$TRIXIE_ROOT/etc/resolv.conf"
  cp -L /etc/hosts "$TRIXIE_ROOT/etc/hosts"
  # The host's trust store, for npm's registry traffic: where egress goes through a TLS proxy
  # with a local CA, the host's bundle knows it and Node's built-in roots do not.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$TRIXIE_ROOT/etc/ssl/certs"
    cp -L /etc/ssl/certs/ca-certificates.crt "$TRIXIE_ROOT/etc/ssl/certs/host-ca-certificates.crt"
  fi
  # npm's cache outlives the session (cacache is safe to share): reruns do not download again.
  mkdir -p "$(dirname "$lower")/npm-cache"
  trixie_bind "$(dirname "$lower")/npm-cache" /root/.npm || return 1
  if [ -S /var/run/docker.sock ]; then
    touch "$TRIXIE_ROOT/run/docker.sock"
    _trixie_mount --bind /var/run/docker.sock "$TRIXIE_ROOT/run/docker.sock" || return 1
  fi
}

_trixie_mount() {
  local target=${*: -1}
  mount "$@" || { _trixie_log "mount $* failed"; return 1; }
  _trixie_mounts+=("$target")
}

# trixie_bind HOSTDIR CHROOTDIR: make a host directory visible (read-write) inside the chroot.
trixie_bind() {
  mkdir -p "$TRIXIE_ROOT$2"
  _trixie_mount --bind "$1" "$TRIXIE_ROOT$2"
}

# trixie_run SCRIPT: run a bash script in the chroot with Node 24 first on PATH and a clean
# environment (only what is listed here crosses over, plus TRIXIE_ENV_* renamed: TRIXIE_ENV_CI=true
# becomes CI=true).
trixie_run() {
  local -a envs=(PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 TERM=dumb
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-certificates.crt)
  local v
  for v in $(compgen -e); do
    case "$v" in TRIXIE_ENV_*) envs+=("${v#TRIXIE_ENV_}=${!v}") ;; esac
  done
  chroot "$TRIXIE_ROOT" /usr/bin/env -i "${envs[@]}" /bin/bash -c "$1"
}

# Unmount everything (innermost first) and drop the session; safe to call twice. Processes a run
# left behind inside the chroot would keep it busy: they are ours, so end them by PID first.
trixie_close() {
  local i pid root
  [ -n "$_trixie_session" ] || return 0
  if [ -n "$TRIXIE_ROOT" ]; then
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
      root=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
      case "$root" in "$TRIXIE_ROOT"|"$TRIXIE_ROOT"/*) kill -9 "$pid" 2>/dev/null || true ;; esac
    done
  fi
  for ((i = ${#_trixie_mounts[@]} - 1; i >= 0; i--)); do
    umount "${_trixie_mounts[i]}" 2>/dev/null || umount -l "${_trixie_mounts[i]}" 2>/dev/null \
      || _trixie_log "could not unmount ${_trixie_mounts[i]}"
  done
  _trixie_mounts=()
  # Only once nothing is mounted below it: rm -rf must never walk into a bind mount.
  if grep -qF " $_trixie_session/" /proc/mounts; then
    _trixie_log "left $_trixie_session in place: something is still mounted below it"
  else
    rm -rf "$_trixie_session"
  fi
  _trixie_session=
  TRIXIE_ROOT=
}
