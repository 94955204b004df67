#!/usr/bin/env bash
# Keepsake test lab: installs, starts, checks and stops real components
# (docker engine, registry, systemd-in-a-container, a PostgreSQL container, udev,
# zfs-fuse, exFAT, PostgreSQL, Caddy, an SMTP sink) on a plain Debian 12 machine.
# All test traffic stays on loopback. See tests/lab/README.md.
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_SRC/../.." && pwd)
LAB=$REPO/tests/.lab
LOGS=$LAB/logs
STATE=$LAB/state
ENV_FILE=$LAB/env

ALL_COMPONENTS=(docker registry systemd pgcontainer immich udev zfs exfat postgres caddy smtp)

DOCKER_SOCK=/var/run/docker.sock
DOCKER_HOST_URL=unix://$DOCKER_SOCK
BUSYBOX_IMAGE=keepsake-lab/busybox:1
SYSTEMD_IMAGE=local/systemd:12
SYSTEMD_CTR=keepsake-lab-systemd
SYSTEMD_BUS_DIR=$LAB/systemd-bus
SYSTEMD_BUS=unix:path=$SYSTEMD_BUS_DIR/system_bus_socket
# The image of the PostgreSQL container that stands in for Immich's immich_postgres
# (tests/lab/pg_container.sh runs it).
PGC_IMAGE=keepsake-lab/postgres:15
PGC_TARBALL=$LAB/images/postgres-15.tar
PGC_SCRIPT=$LAB_SRC/pg_container.sh
REGISTRY_ADDR=127.0.0.1:5000
ZPOOL=keepsake-lab
ZFS_DIR=$LAB/zfs
ZFS_MNT=$ZFS_DIR/mnt
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=$LAB/postgres
PG_PORT=55432
PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
SMTP_ADDR=127.0.0.1:2525
SMTP_DIR=$LAB/smtp
SYS_PY=/usr/bin/python3

export DOCKER_HOST=$DOCKER_HOST_URL

# shellcheck disable=SC1091 # checked on its own (tests/run.sh lists it)
source "$LAB_SRC/rootfs.sh"

# ---------------------------------------------------------------- helpers

log() { printf 'lab: %s\n' "$*" >&2; }

# fail COMPONENT REASON [LOGFILE]
fail() {
  local comp=$1 reason=$2 logf=${3:-}
  printf 'lab: %s did not start: %s\n' "$comp" "$reason" >&2
  if [[ -n $logf && -f $logf ]]; then
    printf 'lab: last lines of %s:\n' "$logf" >&2
    tail -n 20 "$logf" | sed 's/^/  | /' >&2
  fi
  exit 1
}

is_component() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do [[ $c == "$1" ]] && return 0; done
  return 1
}

# wait_for SECONDS CMD... : poll CMD every 0.5s until it succeeds.
wait_for() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  "$@" >/dev/null 2>&1
}

# wait_spawned SECONDS PIDFILE CMD... : like wait_for, but give up early when
# the spawned process has died. Sets WAIT_REASON on failure.
WAIT_REASON=""
wait_spawned() {
  local secs=$1 pidfile=$2; shift 2
  local deadline=$((SECONDS + secs)) pid
  pid=$(read_pid "$pidfile")
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! pid_alive "$pid"; then
      WAIT_REASON="process $pid exited"
      "$@" >/dev/null 2>&1 && return 0
      return 1
    fi
    sleep 0.5
  done
  "$@" >/dev/null 2>&1 && return 0
  WAIT_REASON="no answer within ${secs}s"
  return 1
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
read_pid() {
  if [[ -f $1 ]]; then tr -dc '0-9' <"$1"; fi
  return 0
}

# spawn PIDFILE LOGFILE CMD... : run CMD detached in its own session.
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  mkdir -p "$(dirname "$logfile")" "$(dirname "$pidfile")"
  printf '\n==== %s: %s\n' "$(date -Is)" "$*" >>"$logfile"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# stop_pid PIDFILE [SECONDS]: TERM, wait, KILL.
stop_pid() {
  local pidfile=$1 secs=${2:-15} pid
  pid=$(read_pid "$pidfile")
  if pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + secs))
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.3; done
    if pid_alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

# set_env COMPONENT "VAR=value"... : record the exports of a started component.
set_env() {
  local comp=$1; shift
  mkdir -p "$STATE"
  local kv
  : >"$STATE/$comp.env.tmp"
  for kv in "$@"; do
    printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}" >>"$STATE/$comp.env.tmp"
  done
  mv "$STATE/$comp.env.tmp" "$STATE/$comp.env"
}

clear_state() { rm -f "$STATE/$1.env" "$STATE/$1.owned"; }

write_env_file() {
  mkdir -p "$LAB"
  local c tmp=$ENV_FILE.tmp
  {
    echo "# written by tests/lab/lab.sh; source it to reach the started lab components"
    for c in "${ALL_COMPONENTS[@]}"; do
      [[ -f $STATE/$c.env ]] && cat "$STATE/$c.env"
    done
  } >"$tmp"
  mv "$tmp" "$ENV_FILE"
}

started_components() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do
    [[ -f $STATE/$c.env ]] && echo "$c"
  done
  return 0
}

# ---------------------------------------------------------------- install

packages_for() {
  case $1 in
    docker) echo docker.io busybox-static ;;
    registry) echo docker-registry curl ;;
    systemd) echo docker.io debootstrap systemd ;; # systemd: host busctl
    pgcontainer) echo docker.io debootstrap ;;
    immich) echo docker.io debootstrap docker-registry curl ;;
    udev) echo udev ;;
    zfs) echo zfs-fuse ;;
    exfat) echo exfatprogs exfat-fuse udev util-linux fuse ;;
    postgres) echo postgresql postgresql-client ;;
    caddy) echo caddy curl ;;
    smtp) echo python3 python3-aiosmtpd ;;
    *) return 1 ;;
  esac
}

cmd_install() {
  local comps=("$@") c pkgs=() missing=() p
  ((${#comps[@]})) || comps=("${ALL_COMPONENTS[@]}")
  for c in "${comps[@]}"; do
    is_component "$c" || { log "unknown component: $c"; exit 2; }
    read -r -a p <<<"$(packages_for "$c")"
    pkgs+=("${p[@]}")
  done
  mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
  for p in "${pkgs[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    log "all packages present: ${pkgs[*]}"
    return 0
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# ---------------------------------------------------------------- docker

docker_ok() { docker -H "$DOCKER_HOST_URL" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

build_busybox_image() {
  if docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then return 0; fi
  local ctx=$LAB/images/busybox a
  rm -rf "$ctx"
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  for a in $("$ctx/rootfs/bin/busybox" --list); do
    [[ $a == busybox ]] || ln -sf busybox "$ctx/rootfs/bin/$a"
  done
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
CMD ["/bin/sh"]
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$BUSYBOX_IMAGE" "$ctx" >>"$LOGS/docker-build.log" 2>&1
}

start_docker() {
  if ! docker_ok; then
    [[ -x /usr/sbin/dockerd ]] || fail docker "dockerd not installed (run: tests/lab/lab.sh install docker)"
    if [[ -S $DOCKER_SOCK ]] && ! pgrep -x dockerd >/dev/null; then rm -f "$DOCKER_SOCK"; fi
    spawn "$STATE/dockerd.pid" "$LOGS/dockerd.log" \
      /usr/sbin/dockerd --bridge=none --iptables=false --ip-masq=false \
      -H "$DOCKER_HOST_URL"
    touch "$STATE/docker.owned"
    wait_spawned 60 "$STATE/dockerd.pid" docker_ok ||
      fail docker "engine on $DOCKER_SOCK: $WAIT_REASON" "$LOGS/dockerd.log"
  fi
  build_busybox_image || fail docker "could not build $BUSYBOX_IMAGE" "$LOGS/docker-build.log"
  set_env docker "KEEPSAKE_LAB_DOCKER_HOST=$DOCKER_HOST_URL"
}

stop_docker() {
  if [[ -f $STATE/docker.owned ]]; then
    # the systemd and PostgreSQL containers depend on the engine
    stop_pgcontainer
    stop_systemd
    stop_pid "$STATE/dockerd.pid" 30
  fi
  clear_state docker
}

health_docker() { docker_ok && docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; }

# ---------------------------------------------------------------- registry

registry_ok() { curl --noproxy "*" -fsS -o /dev/null --max-time 2 "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

start_registry() {
  if ! registry_ok; then
    command -v docker-registry >/dev/null || fail registry "docker-registry not installed (run: tests/lab/lab.sh install registry)"
    mkdir -p "$LAB/registry/data"
    cat >"$LAB/registry/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $LAB/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
    spawn "$STATE/registry.pid" "$LOGS/registry.log" docker-registry serve "$LAB/registry/config.yml"
    touch "$STATE/registry.owned"
    wait_spawned 30 "$STATE/registry.pid" registry_ok ||
      fail registry "http://$REGISTRY_ADDR/v2/: $WAIT_REASON" "$LOGS/registry.log"
  fi
  set_env registry "KEEPSAKE_LAB_REGISTRY=$REGISTRY_ADDR"
}

stop_registry() {
  [[ -f $STATE/registry.owned ]] && stop_pid "$STATE/registry.pid"
  clear_state registry
}

health_registry() { registry_ok; }

# ---------------------------------------------------------------- systemd

systemd_bus_ok() {
  busctl --address="$SYSTEMD_BUS" --timeout=3 call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
    org.freedesktop.DBus.Properties Get ss org.freedesktop.systemd1.Manager Version
}

systemd_ready() {
  # the manager answers and has finished booting (no queued start-up jobs)
  systemd_bus_ok || return 1
  local state
  state=$(busctl --address="$SYSTEMD_BUS" --timeout=3 get-property org.freedesktop.systemd1 \
    /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager SystemState 2>/dev/null) || return 1
  [[ $state == *running* || $state == *degraded* ]]
}

build_systemd_image() {
  if docker image inspect "$SYSTEMD_IMAGE" >/dev/null 2>&1; then return 0; fi
  local tarball=$LAB/images/systemd-12.tar
  mkdir -p "$LAB/images"
  if [[ ! -s $tarball ]]; then
    command -v debootstrap >/dev/null || fail systemd "debootstrap not installed (run: tests/lab/lab.sh install systemd)"
    log "systemd: debootstrap of bookworm (takes about a minute)"
    rootfs_tarball "$tarball" "$LOGS/debootstrap.log" systemd,systemd-sysv,dbus ||
      fail systemd "debootstrap failed" "$LOGS/debootstrap.log"
  fi
  docker import "$tarball" "$SYSTEMD_IMAGE" >>"$LOGS/docker-build.log" 2>&1 ||
    fail systemd "docker import of $tarball failed" "$LOGS/docker-build.log"
}

systemd_ctr_running() {
  [[ $(docker inspect -f '{{.State.Running}}' "$SYSTEMD_CTR" 2>/dev/null || true) == true ]]
}

start_systemd() {
  if ! { [[ -f $STATE/docker.env ]] && docker_ok; }; then start_docker; fi
  if systemd_ctr_running && wait_for 30 systemd_ready; then
    set_env systemd "KEEPSAKE_LAB_SYSTEMD_BUS=$SYSTEMD_BUS" "KEEPSAKE_LAB_SYSTEMD_CONTAINER=$SYSTEMD_CTR"
    return 0
  fi
  build_systemd_image
  docker rm -f "$SYSTEMD_CTR" >/dev/null 2>&1 || true
  rm -rf "$SYSTEMD_BUS_DIR"
  mkdir -p "$SYSTEMD_BUS_DIR"
  docker run -d --name "$SYSTEMD_CTR" --cap-add SYS_ADMIN --network none \
    --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    -v "$SYSTEMD_BUS_DIR:/run/dbus" "$SYSTEMD_IMAGE" /lib/systemd/systemd >>"$LOGS/systemd.log" 2>&1 ||
    fail systemd "docker run failed" "$LOGS/systemd.log"
  if ! wait_for 90 systemd_ready; then
    docker logs --tail 30 "$SYSTEMD_CTR" >>"$LOGS/systemd.log" 2>&1 || true
    fail systemd "no answer from systemd on $SYSTEMD_BUS within 90s" "$LOGS/systemd.log"
  fi
  set_env systemd "KEEPSAKE_LAB_SYSTEMD_BUS=$SYSTEMD_BUS" "KEEPSAKE_LAB_SYSTEMD_CONTAINER=$SYSTEMD_CTR"
}

stop_systemd() {
  if docker_ok; then docker rm -f "$SYSTEMD_CTR" >/dev/null 2>&1 || true; fi
  clear_state systemd
}

health_systemd() { systemd_bus_ok; }

# ---------------------------------------------------------------- pgcontainer

build_pgc_image() {
  if docker image inspect "$PGC_IMAGE" >/dev/null 2>&1; then return 0; fi
  mkdir -p "$LAB/images"
  if [[ ! -s $PGC_TARBALL ]]; then
    command -v debootstrap >/dev/null || fail pgcontainer "debootstrap not installed (run: tests/lab/lab.sh install pgcontainer)"
    log "pgcontainer: debootstrap of bookworm with postgresql (takes about a minute)"
    rootfs_tarball "$PGC_TARBALL.full" "$LOGS/debootstrap-postgres.log" postgresql ||
      fail pgcontainer "debootstrap failed" "$LOGS/debootstrap-postgres.log"
    # A third smaller (about 440 MB instead of 640 MB): no apt caches, and no Debian-managed
    # cluster (the container's cluster is the data directory that pg_container.sh mounts).
    if ! tar --delete --wildcards -f "$PGC_TARBALL.full" './var/cache/apt/archives/*.deb' \
      './var/lib/apt/lists/*_Packages' ./var/lib/postgresql/15 ./etc/postgresql/15 \
      >>"$LOGS/debootstrap-postgres.log" 2>&1; then
      rm -f "$PGC_TARBALL.full"
      fail pgcontainer "could not trim $PGC_TARBALL.full" "$LOGS/debootstrap-postgres.log"
    fi
    mv "$PGC_TARBALL.full" "$PGC_TARBALL"
  fi
  # PATH: PostgreSQL's own binaries before Debian's pg_wrapper links in /usr/bin. `docker import`
  # takes no STOPSIGNAL (engine 20.10); pg_container.sh runs with --stop-signal SIGINT instead, so
  # that `docker stop` is a fast shutdown.
  docker import \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'CMD ["postgres", "--version"]' \
    "$PGC_TARBALL" "$PGC_IMAGE" >>"$LOGS/docker-build.log" 2>&1 ||
    fail pgcontainer "docker import of $PGC_TARBALL failed" "$LOGS/docker-build.log"
}

# The image has the server and the client tools on PATH and a postgres user.
pgc_image_ok() {
  local out
  out=$(docker run --rm --network none "$PGC_IMAGE" sh -c \
    'postgres --version && initdb --version && pg_isready --version && psql --version && pg_dump --version && id -u postgres' 2>&1) ||
    { printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out"
  [[ $(head -n 1 <<<"$out") == "postgres (PostgreSQL) 15."* ]]
}

start_pgcontainer() {
  if ! { [[ -f $STATE/docker.env ]] && docker_ok; }; then start_docker; fi
  build_pgc_image
  pgc_image_ok >>"$LOGS/pgcontainer.log" 2>&1 ||
    fail pgcontainer "$PGC_IMAGE does not run postgres 15" "$LOGS/pgcontainer.log"
  set_env pgcontainer "KEEPSAKE_LAB_PG_IMAGE=$PGC_IMAGE" "KEEPSAKE_LAB_PG_CONTAINER_SH=$PGC_SCRIPT"
}

# Removes the containers that pg_container.sh started from this checkout and that a test left
# behind (fast shutdown first); containers of other checkouts sharing the engine stay.
stop_pgcontainer() {
  local name
  if docker_ok; then
    for name in $(docker ps -a --filter label=keepsake-lab=pgcontainer \
      --filter "label=keepsake-lab.checkout=$REPO" --format '{{.Names}}'); do
      "$PGC_SCRIPT" stop "$name" >>"$LOGS/pgcontainer.log" 2>&1 || docker rm -f "$name" >/dev/null 2>&1 || true
    done
  fi
  clear_state pgcontainer
}

health_pgcontainer() { docker_ok && docker image inspect "$PGC_IMAGE" >/dev/null 2>&1; }

# ---------------------------------------------------------------- immich

# Stand-in images of the Immich stack in the registry (tests/lab/immich_images.sh builds and
# pushes them; nothing keeps running). Needs docker, registry and pgcontainer (its image is the
# database stand-in's base).
IMMICH_SCRIPT=$LAB_SRC/immich_images.sh

start_immich() {
  if ! { [[ -f $STATE/docker.env ]] && docker_ok; }; then start_docker; fi
  if ! { [[ -f $STATE/registry.env ]] && registry_ok; }; then start_registry; fi
  if ! { [[ -f $STATE/pgcontainer.env ]] && docker image inspect "$PGC_IMAGE" >/dev/null 2>&1; }; then
    start_pgcontainer
  fi
  local out kv exports=()
  # shellcheck disable=SC2094 # the script and its stderr both append to the log, nothing reads it
  out=$(REGISTRY=$REGISTRY_ADDR "$IMMICH_SCRIPT" "$LAB" "$LOGS/immich.log" 2>>"$LOGS/immich.log") ||
    fail immich "building or pushing the stand-in images failed" "$LOGS/immich.log"
  while IFS= read -r kv; do
    [[ $kv == KEEPSAKE_LAB_IMMICH_*=* ]] && exports+=("$kv")
  done <<<"$out"
  ((${#exports[@]})) || fail immich "immich_images.sh printed no exports" "$LOGS/immich.log"
  set_env immich "${exports[@]}"
}

stop_immich() { clear_state immich; }

# Healthy when the registry still serves the server image of the first version.
health_immich() {
  registry_ok && curl --noproxy "*" -fsS -o /dev/null --max-time 3 -I \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_ADDR/v2/immich-app/immich-server/manifests/v3.1.0"
}

# ---------------------------------------------------------------- udev

udev_ok() { udevadm control --ping --timeout=2 >/dev/null 2>&1; }

start_udev() {
  if ! udev_ok; then
    [[ -x /lib/systemd/systemd-udevd ]] || fail udev "systemd-udevd not installed (run: tests/lab/lab.sh install udev)"
    /lib/systemd/systemd-udevd --daemon >>"$LOGS/udevd.log" 2>&1 || fail udev "systemd-udevd --daemon failed" "$LOGS/udevd.log"
    touch "$STATE/udev.owned"
    wait_for 15 udev_ok || fail udev "udevadm control --ping got no answer within 15s" "$LOGS/udevd.log"
  fi
  set_env udev "KEEPSAKE_LAB_UDEV=1"
}

stop_udev() {
  if [[ -f $STATE/udev.owned ]]; then
    udevadm control --exit --timeout=10 >/dev/null 2>&1 || true
  fi
  clear_state udev
}

health_udev() { udev_ok; }

# ---------------------------------------------------------------- zfs

zfs_daemon_ok() { zpool list -H >/dev/null 2>&1; }
zfs_pool_ok() {
  [[ $(zpool list -H -o health "$ZPOOL" 2>/dev/null) == ONLINE ]] &&
    [[ $(zfs get -H -o value mounted "$ZPOOL" 2>/dev/null) == yes ]]
}

# The file behind the pool, as zpool status names it.
zfs_pool_vdev() { zpool status "$ZPOOL" 2>/dev/null | awk '$1 ~ /^\// { print $1; exit }'; }
zfs_pool_is_ours() {
  [[ $(zfs_pool_vdev) == "$ZFS_DIR/pool.img" ]] &&
    [[ $(zfs get -H -o value mountpoint "$ZPOOL" 2>/dev/null) == "$ZFS_MNT" ]]
}

start_zfs() {
  mkdir -p "$ZFS_DIR" "$ZFS_MNT"
  if ! zfs_daemon_ok; then
    command -v zfs-fuse >/dev/null || fail zfs "zfs-fuse not installed (run: tests/lab/lab.sh install zfs)"
    [[ -c /dev/fuse ]] || fail zfs "/dev/fuse is missing"
    spawn "$STATE/zfs-fuse.pid" "$LOGS/zfs-fuse.log" zfs-fuse --no-daemon --no-kstat-mount
    touch "$STATE/zfs.owned"
    wait_spawned 30 "$STATE/zfs-fuse.pid" zfs_daemon_ok ||
      fail zfs "zfs-fuse daemon: $WAIT_REASON" "$LOGS/zfs-fuse.log"
  fi
  # A pool of this name imported from somewhere else (another checkout's lab that was never
  # stopped, or zfs-fuse importing a stale cache entry at start) would hand every test datasets
  # under a mount point that is not ours. It is exported, never reused.
  if zpool list -H "$ZPOOL" >/dev/null 2>&1 && ! zfs_pool_is_ours; then
    echo "exporting $ZPOOL: it is backed by $(zfs_pool_vdev) and mounted at $(zfs get -H -o value mountpoint "$ZPOOL" 2>/dev/null), not this lab's $ZFS_DIR" >>"$LOGS/zfs.log"
    zpool export -f "$ZPOOL" >>"$LOGS/zfs.log" 2>&1 ||
      fail zfs "a pool named $ZPOOL from elsewhere ($(zfs_pool_vdev)) is imported and cannot be exported" "$LOGS/zfs.log"
  fi
  if ! zpool list -H "$ZPOOL" >/dev/null 2>&1; then
    if [[ -s $ZFS_DIR/pool.img ]]; then
      # cachefile=none: the pool is never written to zfs-fuse's cache, so a daemon started later
      # (by another checkout, or after this one was deleted) does not import it by itself.
      zpool import -o cachefile=none -f -d "$ZFS_DIR" "$ZPOOL" >>"$LOGS/zfs.log" 2>&1 ||
        fail zfs "zpool import of $ZFS_DIR/pool.img failed" "$LOGS/zfs.log"
    else
      # Allocated up front, not sparse: on a nearly full disk a sparse pool fails later, in the
      # middle of some test, with errors that do not say the disk is the cause.
      fallocate -l 512M "$ZFS_DIR/pool.img" 2>>"$LOGS/zfs.log" || {
        rm -f "$ZFS_DIR/pool.img"
        fail zfs "cannot allocate 512 MiB for the pool in $ZFS_DIR (df: $(df -h --output=avail "$ZFS_DIR" | tail -1 | tr -d ' ') free)" "$LOGS/zfs.log"
      }
      zpool create -o cachefile=none -m "$ZFS_MNT" "$ZPOOL" "$ZFS_DIR/pool.img" >>"$LOGS/zfs.log" 2>&1 ||
        fail zfs "zpool create failed" "$LOGS/zfs.log"
    fi
  fi
  zfs mount -a >>"$LOGS/zfs.log" 2>&1 || true
  wait_for 15 zfs_pool_ok || fail zfs "pool $ZPOOL is not ONLINE and mounted" "$LOGS/zfs.log"
  set_env zfs "KEEPSAKE_LAB_ZPOOL=$ZPOOL" "KEEPSAKE_LAB_ZPOOL_MNT=$ZFS_MNT"
}

stop_zfs() {
  if zfs_daemon_ok && zpool list -H "$ZPOOL" >/dev/null 2>&1; then
    zpool export -f "$ZPOOL" >>"$LOGS/zfs.log" 2>&1 || true
  fi
  [[ -f $STATE/zfs.owned ]] && stop_pid "$STATE/zfs-fuse.pid" 20
  clear_state zfs
}

health_zfs() { zfs_pool_ok; }

# ---------------------------------------------------------------- exfat

exfat_ok() {
  command -v mkfs.exfat >/dev/null && command -v mount.exfat-fuse >/dev/null &&
    [[ -c /dev/fuse && -e /dev/loop-control ]] && udev_ok
}

start_exfat() {
  if ! { [[ -f $STATE/udev.env ]] && udev_ok; }; then start_udev; fi
  command -v mkfs.exfat >/dev/null || fail exfat "mkfs.exfat missing (run: tests/lab/lab.sh install exfat)"
  command -v mount.exfat-fuse >/dev/null || fail exfat "mount.exfat-fuse missing (run: tests/lab/lab.sh install exfat)"
  [[ -c /dev/fuse ]] || fail exfat "/dev/fuse is missing"
  [[ -e /dev/loop-control ]] || fail exfat "/dev/loop-control is missing (no loop devices)"
  mkdir -p "$LAB/exfat"
  set_env exfat "KEEPSAKE_LAB_EXFAT=1" "KEEPSAKE_LAB_EXFAT_DIR=$LAB/exfat"
}

stop_exfat() { clear_state exfat; }
health_exfat() { exfat_ok; }

cmd_exfat_attach() {
  (($# == 3)) || { log "usage: lab.sh exfat-attach NAME SIZE_MB LABEL"; exit 2; }
  local name=$1 size=$2 label=$3 img dev uuid
  [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || { log "bad NAME: $name"; exit 2; }
  [[ $size =~ ^[0-9]+$ ]] || { log "bad SIZE_MB: $size"; exit 2; }
  mkdir -p "$LAB/exfat"
  img=$LAB/exfat/$name.img
  rm -f "$img"
  truncate -s "${size}M" "$img"
  mkfs.exfat -L "$label" "$img" >>"$LOGS/exfat.log" 2>&1 || { log "mkfs.exfat failed (see $LOGS/exfat.log)"; exit 1; }
  uuid=$(blkid -p -o value -s UUID "$img")
  dev=$(losetup -f --show "$img")
  printf '%s %s\n' "$dev" "$uuid"
}

cmd_exfat_detach() {
  (($# == 1)) || { log "usage: lab.sh exfat-detach /dev/loopN"; exit 2; }
  local dev=$1 mp back
  while read -r mp; do
    [[ -n $mp ]] && { umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; }
  done < <(findmnt -n -o TARGET -S "$dev" 2>/dev/null || true)
  back=$(losetup -n -O BACK-FILE "$dev" 2>/dev/null || true)
  losetup -d "$dev"
  # remove the image if exfat-attach made it
  if [[ $back == "$LAB/exfat/"*.img ]]; then rm -f "$back"; fi
}

# ---------------------------------------------------------------- postgres

pg_ok() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

start_postgres() {
  if ! pg_ok; then
    [[ -x $PG_BIN/initdb ]] || fail postgres "postgresql 15 not installed (run: tests/lab/lab.sh install postgres)"
    mkdir -p "$PG_DIR/run"
    chown postgres:postgres "$PG_DIR" "$PG_DIR/run"
    if [[ ! -s $PG_DIR/data/PG_VERSION ]]; then
      rm -rf "$PG_DIR/data"
      runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres-initdb.log" 2>&1 ||
        fail postgres "initdb failed" "$LOGS/postgres-initdb.log"
    fi
    touch "$LOGS/postgres.log"
    chown postgres:postgres "$LOGS/postgres.log"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$LOGS/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR/run" start >/dev/null 2>&1 ||
      fail postgres "pg_ctl start failed" "$LOGS/postgres.log"
    touch "$STATE/postgres.owned"
    wait_for 30 pg_ok || fail postgres "no answer on 127.0.0.1:$PG_PORT within 30s" "$LOGS/postgres.log"
  fi
  set_env postgres "KEEPSAKE_LAB_PG_URL=$PG_URL"
}

stop_postgres() {
  if [[ -f $STATE/postgres.owned && -s $PG_DIR/data/PG_VERSION ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  clear_state postgres
}

health_postgres() { pg_ok; }

# ---------------------------------------------------------------- caddy

start_caddy() {
  local v
  [[ -x /usr/bin/caddy ]] || fail caddy "/usr/bin/caddy missing (run: tests/lab/lab.sh install caddy)"
  v=$(/usr/bin/caddy version 2>&1) || fail caddy "caddy version failed: $v"
  set_env caddy "KEEPSAKE_LAB_CADDY=/usr/bin/caddy"
}
stop_caddy() { clear_state caddy; }
health_caddy() { /usr/bin/caddy version >/dev/null 2>&1; }

# ---------------------------------------------------------------- smtp

smtp_ok() {
  "$SYS_PY" - "$SMTP_ADDR" <<'EOF'
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=3) as s:
    code, _ = s.noop()
    sys.exit(0 if code == 250 else 1)
EOF
}

start_smtp() {
  if ! smtp_ok >/dev/null 2>&1; then
    "$SYS_PY" -c 'import aiosmtpd' 2>/dev/null || fail smtp "python3-aiosmtpd missing (run: tests/lab/lab.sh install smtp)"
    mkdir -p "$SMTP_DIR"
    spawn "$STATE/smtp.pid" "$LOGS/smtp.log" "$SYS_PY" "$LAB_SRC/smtp_sink.py" \
      --listen "$SMTP_ADDR" --dir "$SMTP_DIR"
    touch "$STATE/smtp.owned"
    wait_spawned 20 "$STATE/smtp.pid" smtp_ok ||
      fail smtp "SMTP on $SMTP_ADDR: $WAIT_REASON" "$LOGS/smtp.log"
  fi
  set_env smtp "KEEPSAKE_LAB_SMTP=$SMTP_ADDR" "KEEPSAKE_LAB_SMTP_DIR=$SMTP_DIR"
}

stop_smtp() {
  [[ -f $STATE/smtp.owned ]] && stop_pid "$STATE/smtp.pid"
  clear_state smtp
}

health_smtp() { smtp_ok >/dev/null 2>&1; }

# ---------------------------------------------------------------- commands

cmd_start() {
  (($#)) || { log "usage: lab.sh start COMPONENT... (components: ${ALL_COMPONENTS[*]})"; exit 2; }
  local c t0
  for c in "$@"; do is_component "$c" || { log "unknown component: $c"; exit 2; }; done
  mkdir -p "$LAB" "$LOGS" "$STATE"
  for c in "$@"; do
    t0=$(date +%s.%N)
    "start_$c"
    write_env_file
    log "$(awk -v c="$c" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%s is up (%.1fs)", c, b - a }')"
  done
}

cmd_stop() {
  local comps=("$@") c i
  if ((${#comps[@]} == 0)); then
    mapfile -t comps < <(started_components)
    # reverse order: dependents (systemd) before docker
    local rev=()
    for ((i = ${#comps[@]} - 1; i >= 0; i--)); do rev+=("${comps[i]}"); done
    comps=("${rev[@]}")
  fi
  for c in "${comps[@]}"; do
    is_component "$c" || { log "unknown component: $c"; exit 2; }
    "stop_$c"
    log "$c stopped"
  done
  mkdir -p "$LAB"
  write_env_file
}

cmd_status() {
  local c st rc=0
  for c in "${ALL_COMPONENTS[@]}"; do
    if [[ -f $STATE/$c.env ]]; then
      if "health_$c" >/dev/null 2>&1; then st=running; else st=unhealthy; rc=1; fi
    else
      st=stopped
    fi
    printf '%-11s %s\n' "$c" "$st"
  done
  return "$rc"
}

cmd_env() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do
    [[ -f $STATE/$c.env ]] && cat "$STATE/$c.env"
  done
  return 0
}

usage() {
  cat <<EOF
usage: tests/lab/lab.sh COMMAND [ARGS]
  install [COMPONENT...]          apt-get install what the components need (default: all)
  start COMPONENT...              start and wait until healthy (no-op if already up)
  stop [COMPONENT...]             stop (default: every started component)
  status                          show each component's state
  env                             print export lines for started components
  exfat-attach NAME SIZE_MB LABEL make an exFAT image, attach it; prints "/dev/loopN UUID"
  exfat-detach /dev/loopN         unmount (if mounted), detach, delete the image
components: ${ALL_COMPONENTS[*]}
EOF
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    exfat-attach) cmd_exfat_attach "$@" ;;
    exfat-detach) cmd_exfat_detach "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
