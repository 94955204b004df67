#!/bin/sh
# Entrypoint of the valkey (redis) stand-in: Debian's real redis-server, in the foreground, no
# persistence. Like the real valkey image, whose entrypoint runs its command, a command of
# `valkey-server ARGS` (what the stack gives it on host networking) runs the server with ARGS;
# otherwise address and port come from REDIS_BIND / REDIS_PORT and extra arguments go to the server.
set -eu
if [ "${1:-}" = valkey-server ]; then
  shift
  exec redis-server --save "" --appendonly no --protected-mode no "$@"
fi
exec redis-server --bind "${REDIS_BIND:-0.0.0.0}" --port "${REDIS_PORT:-6379}" --save "" \
  --appendonly no --protected-mode no "$@"
