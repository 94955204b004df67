#!/bin/sh
# Entrypoint of the database stand-in (Immich's postgres image): real PostgreSQL 15 from the lab's
# keepsake-lab/postgres:15, started the way the official postgres image starts for the environment
# Immich's compose file gives it: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB,
# POSTGRES_INITDB_ARGS, PGDATA, PGPORT. An empty PGDATA gets initdb (password auth over TCP,
# scram-sha-256) and the database; an existing cluster is reused. PostgreSQL then runs as PID 1 as
# user postgres, listening on ${POSTGRES_LISTEN:-*}. No vector extensions (Debian 12 has none).
set -eu

PGDATA=${PGDATA:-/var/lib/postgresql/data}
PGPORT=${PGPORT:-5432}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
export PGDATA PGPORT

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres /var/run/postgresql
chmod 2775 /var/run/postgresql

if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "standin postgres: reusing the cluster in $PGDATA (PostgreSQL $(cat "$PGDATA/PG_VERSION"))"
  [ "$(stat -c %U "$PGDATA/PG_VERSION")" = postgres ] || chown -R postgres:postgres "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
else
  if [ -n "$(ls -A "$PGDATA")" ]; then
    echo "standin postgres: $PGDATA is neither empty nor a PostgreSQL cluster (no PG_VERSION)" >&2
    exit 1
  fi
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser." >&2
    exit 1
  fi
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  chown postgres "$pwfile"
  echo "standin postgres: initdb in $PGDATA"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, as in the official image
  as_postgres initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-}
  rm -f "$pwfile"
  # as the official image: password auth for TCP from anywhere (the listen address limits it)
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    # A private socket directory, so that the healthcheck does not see this temporary server.
    initsock=$(mktemp -d)
    chown postgres "$initsock"
    as_postgres pg_ctl -D "$PGDATA" -w -t 60 -o "-c listen_addresses='' -c unix_socket_directories=$initsock" start
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -h "$initsock" -U "$POSTGRES_USER" -d postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\""
    as_postgres pg_ctl -D "$PGDATA" -m fast -w -t 60 stop
    rm -rf "$initsock"
  fi
  echo "standin postgres: database $POSTGRES_DB created for $POSTGRES_USER"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -p "$PGPORT" -c "listen_addresses=${POSTGRES_LISTEN:-*}" \
  -c unix_socket_directories=/var/run/postgresql
