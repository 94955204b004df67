#!/usr/bin/env bash
# A real PostgreSQL 15 *container* standing in for Immich's database container (immich_postgres),
# so that code which reaches the database with `docker exec` can be tested the way it runs in
# production. Needs `tests/lab/lab.sh start pgcontainer` (the docker engine and the image
# keepsake-lab/postgres:15). See tests/lab/README.md.
#
#   pg_container.sh start NAME DATADIR   run container NAME (--network none) with the host directory
#                                        DATADIR as the cluster's data directory: an empty DATADIR
#                                        gets a new cluster (initdb: UTF8, C.UTF-8, trust on the
#                                        local socket), an existing cluster is reused. Returns when
#                                        `docker exec NAME pg_isready` answers and database immich
#                                        and role postgres exist.
#   pg_container.sh stop NAME            fast shutdown (the data is clean), then remove the
#                                        container; DATADIR stays as it is
#   pg_container.sh psql NAME SQL        docker exec -i NAME psql -U postgres -d immich
#                                        -v ON_ERROR_STOP=1 -tA -c SQL
#
# Environment: KEEPSAKE_LAB_PG_IMAGE (default keepsake-lab/postgres:15), KEEPSAKE_LAB_DOCKER_HOST
# (default unix:///var/run/docker.sock).
set -euo pipefail

IMAGE=${KEEPSAKE_LAB_PG_IMAGE:-keepsake-lab/postgres:15}
export DOCKER_HOST=${KEEPSAKE_LAB_DOCKER_HOST:-${DOCKER_HOST:-unix:///var/run/docker.sock}}
# Where the cluster lives inside the container (as in the official postgres image).
PGDATA_CTR=/var/lib/postgresql/data
READY_TIMEOUT_S=60
STOP_TIMEOUT_S=60
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() {
  printf 'pg_container: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '7,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_docker() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "docker does not answer on $DOCKER_HOST (run: tests/lab/lab.sh start pgcontainer)"
  docker image inspect "$IMAGE" >/dev/null 2>&1 ||
    die "image $IMAGE is missing (run: tests/lab/lab.sh start pgcontainer)"
}

check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad container name: '$1'"
}

# ctr_state NAME: running | exited | created | ... ; empty when there is no such container.
ctr_state() { docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null || true; }

# ctr_datadir NAME: the host directory bind-mounted on the container's data directory.
ctr_datadir() {
  docker inspect -f "{{range .Mounts}}{{if eq .Destination \"$PGDATA_CTR\"}}{{.Source}}{{end}}{{end}}" \
    "$1" 2>/dev/null || true
}

# The container's main process, run as root: give the data directory (and the socket directory) to
# the container's own postgres user (its uid is whatever the image's rootfs says, so it is read
# inside the container, never guessed on the host), run initdb as postgres when DATADIR is empty,
# then exec the server as postgres, in the foreground, as PID 1, listening on its Unix socket only.
# SIGINT (docker stop, see --stop-signal) is PostgreSQL's fast shutdown.
# shellcheck disable=SC2016 # expanded by the container's shell
ENTRYPOINT='
set -eu
D=$PGDATA
mkdir -p /var/run/postgresql
chown postgres:postgres /var/run/postgresql
chmod 2775 /var/run/postgresql
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ -s "$D/PG_VERSION" ]; then
  echo "pg_container: reusing the cluster in $D (PostgreSQL $(cat "$D/PG_VERSION"))"
  # a cluster made elsewhere (by another uid) is handed to the postgres user of this image
  [ "$(stat -c %U "$D/PG_VERSION")" = postgres ] || chown -R postgres:postgres "$D"
  chown postgres:postgres "$D"
  chmod 700 "$D"
else
  if [ -n "$(ls -A "$D")" ]; then
    echo "pg_container: $D is neither empty nor a PostgreSQL cluster (no PG_VERSION):" >&2
    ls -A "$D" | head -n 10 >&2
    exit 1
  fi
  chown postgres:postgres "$D"
  chmod 700 "$D"
  echo "pg_container: initdb in $D"
  as_postgres initdb -D "$D" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=reject
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$D" -c listen_addresses= -c unix_socket_directories=/var/run/postgresql
'

print_log() {
  printf 'pg_container: log of container %s:\n' "$1" >&2
  docker logs --tail 40 "$1" 2>&1 | sed 's/^/  | /' >&2 || true
}

# wait_ready NAME: until `docker exec NAME pg_isready` answers. On failure prints the container's
# log and sets WAIT_REASON.
WAIT_REASON=""
wait_ready() {
  local name=$1 deadline=$((SECONDS + READY_TIMEOUT_S)) st
  while :; do
    # -U postgres: the default user (root) would only add "role root does not exist" to the log
    if docker exec "$name" pg_isready -q -U postgres -d postgres >/dev/null 2>&1; then return 0; fi
    st=$(ctr_state "$name")
    if [[ $st != running ]]; then
      WAIT_REASON="container $name stopped before PostgreSQL was ready (state: ${st:-gone})"
      break
    fi
    if ((SECONDS >= deadline)); then
      WAIT_REASON="PostgreSQL in container $name is not ready after ${READY_TIMEOUT_S}s"
      break
    fi
    sleep 0.3
  done
  print_log "$name"
  return 1
}

# Database immich and role postgres (the superuser initdb made; a cluster made elsewhere may lack
# it, but then no connection as postgres works and this says so).
ensure_db() {
  local name=$1 out
  if ! out=$(docker exec -i "$name" psql -X -U postgres -d postgres -v ON_ERROR_STOP=1 -q 2>&1 <<'EOF'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres') THEN
    CREATE ROLE postgres SUPERUSER LOGIN;
  END IF;
END $$;
SELECT 'CREATE DATABASE immich' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'immich')
\gexec
EOF
  ); then
    printf '%s\n' "$out" >&2
    die "could not create database immich / role postgres in container $name"
  fi
}

cmd_start() {
  local name=$1 dir=$2 st cur ctr src
  check_name "$name"
  [[ -d $dir ]] || die "DATADIR $dir is not a directory (create it first)"
  dir=$(cd "$dir" && pwd -P)
  need_docker
  st=$(ctr_state "$name")
  if [[ -n $st ]]; then
    cur=$(ctr_datadir "$name")
    if [[ $cur != "$dir" ]]; then
      die "a container named $name already exists with data directory '${cur:-none}', not $dir (run: $0 stop $name)"
    fi
    if [[ $st == running ]]; then
      wait_ready "$name" || die "$WAIT_REASON"
      ensure_db "$name"
      return 0
    fi
    docker rm -f "$name" >/dev/null
  fi
  if [[ ! -s $dir/PG_VERSION && -n $(ls -A "$dir") ]]; then
    die "DATADIR $dir is neither empty nor a PostgreSQL cluster (no PG_VERSION)"
  fi
  # Two servers on one data directory would corrupt it, and PostgreSQL's own lock (postmaster.pid)
  # cannot see a server in another container's PID namespace: refuse here.
  for ctr in $(docker ps -q); do
    src=$(ctr_datadir "$ctr")
    if [[ $src == "$dir" ]]; then
      die "$dir is already the data directory of running container $(docker inspect -f '{{.Name}}' "$ctr" | tr -d /)"
    fi
  done
  docker run -d --name "$name" --network none --stop-signal SIGINT \
    --label keepsake-lab=pgcontainer --label "keepsake-lab.checkout=$REPO" \
    -e PGDATA="$PGDATA_CTR" -v "$dir:$PGDATA_CTR" \
    "$IMAGE" sh -c "$ENTRYPOINT" >/dev/null ||
    die "docker run of $IMAGE as $name failed"
  if ! wait_ready "$name"; then
    # a failed start leaves nothing behind (its log is printed above)
    docker rm -f "$name" >/dev/null 2>&1 || true
    die "$WAIT_REASON"
  fi
  ensure_db "$name"
}

cmd_stop() {
  local name=$1 st code
  check_name "$name"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "docker does not answer on $DOCKER_HOST"
  st=$(ctr_state "$name")
  [[ -n $st ]] || return 0
  if [[ $st == running ]]; then
    # SIGINT (the container's stop signal): fast shutdown, a clean checkpoint, then exit 0.
    docker stop -t "$STOP_TIMEOUT_S" "$name" >/dev/null || die "docker stop $name failed"
    code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
    if [[ $code != 0 ]] || ! docker logs "$name" 2>&1 | grep -q 'database system is shut down'; then
      print_log "$name"
      docker rm -f "$name" >/dev/null 2>&1 || true
      die "PostgreSQL in $name did not shut down cleanly (exit code $code); the container is removed"
    fi
  fi
  docker rm -f "$name" >/dev/null
}

cmd_psql() {
  local name=$1 sql=$2
  check_name "$name"
  [[ $(ctr_state "$name") == running ]] || die "container $name is not running (run: $0 start $name DATADIR)"
  exec docker exec -i "$name" psql -U postgres -d immich -v ON_ERROR_STOP=1 -tA -c "$sql"
}

(($# >= 1)) || usage
cmd=$1
shift
case $cmd in
  start) (($# == 2)) || usage; cmd_start "$1" "$2" ;;
  stop) (($# == 1)) || usage; cmd_stop "$1" ;;
  psql) (($# == 2)) || usage; cmd_psql "$1" "$2" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
