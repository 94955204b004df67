#!/bin/sh
# Entrypoint of the immich-server stand-in (tests/lab/immich_images.sh builds one image per version).
# It follows Immich's contract as tests see it (reference/immich.md sections 1, 2, 5): the same
# environment variables, the database migrated at startup with no way back (a server older than
# the database refuses to start), then /api/server/ping and /api/server/version on
# IMMICH_HOST:IMMICH_PORT. The image's STANDIN_VERSION says which version it is; STANDIN_BROKEN=1
# migrates and then never serves, so that it never becomes healthy (the update-rollback test).
set -eu

V=${STANDIN_VERSION:?the image sets STANDIN_VERSION}
DB_HOSTNAME=${DB_HOSTNAME:-database}
DB_PORT=${DB_PORT:-5432}
DB_USERNAME=${DB_USERNAME:-postgres}
DB_PASSWORD=${DB_PASSWORD:-postgres}
DB_DATABASE_NAME=${DB_DATABASE_NAME:-immich}
REDIS_HOSTNAME=${REDIS_HOSTNAME:-redis}
REDIS_PORT=${REDIS_PORT:-6379}
IMMICH_HOST=${IMMICH_HOST:-0.0.0.0}
IMMICH_PORT=${IMMICH_PORT:-2283}
WAIT_S=${STANDIN_WAIT_S:-60}
export PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=3

# Stop at once on docker stop (as PID 1 a shell ignores signals it does not trap).
trap 'exit 0' TERM INT

say() { printf 'standin immich-server %s: %s\n' "$V" "$*"; }
err() { printf 'standin immich-server %s: %s\n' "$V" "$*" >&2; }

sql() {
  psql -X -q -v ON_ERROR_STOP=1 -tA -h "$DB_HOSTNAME" -p "$DB_PORT" -U "$DB_USERNAME" \
    -d "$DB_DATABASE_NAME" -c "$1"
}

# vX.Y.Z -> a number that orders like the version
ver_num() { echo "${1#v}" | awk -F. '{ printf "%d\n", $1 * 1000000 + $2 * 1000 + $3 }'; }

say "starting (database $DB_HOSTNAME:$DB_PORT/$DB_DATABASE_NAME as $DB_USERNAME, redis $REDIS_HOSTNAME:$REDIS_PORT)"

deadline=$(($(date +%s) + WAIT_S))
until sql 'SELECT 1' >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    err "Error: could not connect to the database at $DB_HOSTNAME:$DB_PORT within ${WAIT_S}s:"
    sql 'SELECT 1' 2>&1 | sed 's/^/  /' >&2 || true
    exit 1
  fi
  sleep 1
done
until [ "$(redis-cli -h "$REDIS_HOSTNAME" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    err "Error: no PONG from redis at $REDIS_HOSTNAME:$REDIS_PORT within ${WAIT_S}s"
    exit 1
  fi
  sleep 1
done

# Migrations: like Immich's, they only go forward. A database that a newer version migrated
# cannot be used by an older one: that is why a rollback must restore the database as well.
sql 'CREATE TABLE IF NOT EXISTS standin_migrations (version text primary key, applied_at timestamptz default now())'
mine=$(ver_num "$V")
newest=""
for applied in $(sql 'SELECT version FROM standin_migrations'); do
  if [ "$(ver_num "$applied")" -gt "$mine" ]; then newest=$applied; fi
done
if [ -n "$newest" ]; then
  err "Error: Migrations failed: the database was migrated by Immich $newest, which is newer than this server ($V)."
  err "Downgrading is not supported: restore a database backup taken on $V (or earlier) before starting it."
  exit 1
fi
sql "INSERT INTO standin_migrations (version) VALUES ('$V') ON CONFLICT (version) DO NOTHING"
say "migrations complete (database at $V)"

if [ "${STANDIN_BROKEN:-0}" = 1 ]; then
  say "broken on purpose: never serving HTTP on $IMMICH_HOST:$IMMICH_PORT"
  while :; do
    sleep 1 &
    wait $! || true
  done
fi

major=$(echo "${V#v}" | cut -d. -f1)
minor=$(echo "${V#v}" | cut -d. -f2)
patch=$(echo "${V#v}" | cut -d. -f3)
exec standin-httpd "$IMMICH_HOST" "$IMMICH_PORT" "standin immich-server $V" \
  /api/server/ping application/json '{"res":"pong"}' \
  /api/server/version application/json \
  "{\"major\":$major,\"minor\":$minor,\"patch\":$patch,\"prerelease\":null}"
