#!/bin/sh
# Entrypoint of the valkey (redis) stand-in: Debian's real redis-server, in the foreground, no
# persistence, address and port from REDIS_BIND / REDIS_PORT. Extra arguments go to redis-server.
set -eu
exec redis-server --bind "${REDIS_BIND:-0.0.0.0}" --port "${REDIS_PORT:-6379}" --save "" \
  --appendonly no --protected-mode no "$@"
