#!/usr/bin/env bash
# Benchmark: the Immich stack's server container through Keepsake's agent API, side by side with
# Docker as the anchor, in one run, on the lab's real engine with the lab's Immich stand-in images
# (tests/lab/README.md, component `immich`). Issue 10 item 9.
#
#   1 restart       POST /api/v1/stack/services/server/action {"action":"restart"} over the
#                   agent's Unix socket (raw HTTP from Python), and `keepsake stack restart server`
#                   (the release CLI, a process per call), against the anchors: the Docker Engine
#                   API's POST /containers/NAME/restart over /var/run/docker.sock and
#                   `docker restart -t GRACE NAME`. Alternating, the order rotated each round,
#                   N=20 each (RESTARTS). Each call is timed until it returns: all four return once
#                   the engine has stopped and started the container again. Before each call the
#                   server answers its ping (so every restart is of a serving container), plus
#                   0.5 s. The same stop grace (GRACE s) for all; the stand-in exits at once on
#                   SIGTERM, so no call waits for it.
#   1b fixed cost   `start` of the running server through the API (the engine answers 304 at once)
#                   against the same call straight to the engine, with and without the GET /version
#                   the agent sends first (it connects and negotiates for each action). N=50 (NOOPS).
#   2 log follow    one SSE client of GET /api/v1/stack/services/server/logs/follow and one
#                   `docker logs -f --tail 0 NAME` attached to the same container; the stand-in
#                   writes one log line per HTTP request it serves, after answering it. Each sample
#                   sends a GET of a path unique to it and stamps when that line reaches each
#                   follower (time from sending the request; nothing subtracted). N=50 (LINES),
#                   0.2 s apart.
#
# Prints Markdown tables with the 1-minute load average (other work shares the machine: quote it).
# Removes what it made at exit: the stack's containers (docker rm -f), the agent, the temp dir.
# The stand-in images stay in the engine (the lab's, shared with the system tests).
#
#   bench/stack/run.sh                         N=20 restarts per method, N=50 lines
#   RESTARTS=5 LINES=10 bench/stack/run.sh     a quick try of the script
#   GRACE=10 bench/stack/run.sh                stop grace in seconds for all four (default 10)
#   BENCH_SKIP_BUILD=1 bench/stack/run.sh      use the release binaries already built
#
# Needs root (the agent's socket and the Docker socket), the lab's `docker`, `registry` and
# `immich` components (`tests/lab/lab.sh start immich`, which writes tests/.lab/env), packages
# docker.io, curl, python3. Builds keepsake-agent and keepsake-cli in release mode. Not run in CI.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RESTARTS=${RESTARTS:-20}
LINES=${LINES:-50}
NOOPS=${NOOPS:-50}
GRACE=${GRACE:-10}
LAB_ENV=${LAB_ENV:-$ROOT/tests/.lab/env}

for tool in docker curl python3; do
	command -v "$tool" >/dev/null || {
		echo "bench: $tool is not installed (apt-get install -y docker.io curl python3)" >&2
		exit 1
	}
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (the agent's socket as its owner, the Docker socket)" >&2; exit 1; }
[ -r "$LAB_ENV" ] || { echo "bench: no $LAB_ENV: run tests/lab/lab.sh start immich first" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$LAB_ENV"
set +a
for v in KEEPSAKE_LAB_DOCKER_HOST KEEPSAKE_LAB_IMMICH_SERVER_REPO KEEPSAKE_LAB_IMMICH_ML_REPO \
	KEEPSAKE_LAB_IMMICH_REDIS_IMAGE KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE; do
	[ -n "${!v:-}" ] || { echo "bench: $v is not set in $LAB_ENV: run tests/lab/lab.sh start immich" >&2; exit 1; }
done
export DOCKER_HOST=$KEEPSAKE_LAB_DOCKER_HOST
DOCKER_SOCKET=${DOCKER_HOST#unix://}
docker info >/dev/null 2>&1 || { echo "bench: the Docker engine at $DOCKER_HOST does not answer" >&2; exit 1; }

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	(cd "$ROOT" && nice cargo build --release --locked -p keepsake-agent -p keepsake-cli >&2)
fi
BIN=${KEEPSAKE_BIN_DIR:-"${CARGO_TARGET_DIR:-$ROOT/target}/release"}
for b in keepsake-agent keepsake; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing (build it, or set KEEPSAKE_BIN_DIR)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/bench-stack.XXXXXX)
PREFIX="bench_$$_"
SOCK=$WORK/agent.sock
AGENT_PID=
cleanup() {
	set +e
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	for s in server machine_learning redis postgres; do
		docker rm -f "$PREFIX$s" >/dev/null 2>&1
	done
	# Anything else the agent made under this run's prefix.
	docker ps -aq --filter "name=^$PREFIX" | xargs -r docker rm -f >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SERVER_PORT=$(free_port)
DB_PORT=$(free_port)
REDIS_PORT=$(free_port)
ML_PORT=$(free_port)
mkdir -p "$WORK/data" "$WORK/postgres" "$WORK/models"

api() { # METHOD PATH [JSON]: the answer's body; fails on a non-2xx status
	curl -sS --fail-with-body --unix-socket "$SOCK" -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} \
		"http://localhost$2"
}

echo "bench: starting the agent (containers $PREFIX*, server on 127.0.0.1:$SERVER_PORT)" >&2
KEEPSAKE_LOG=info "$BIN/keepsake-agent" \
	--socket "$SOCK" --state-dir "$WORK/state" --data-dir "$WORK/data" \
	--web-user 0 --socket-group 0 \
	--docker-host "$DOCKER_HOST" --systemd-bus unix:path=/nonexistent --certificate-check none \
	--immich-version v3.1.0 \
	--immich-server-repo "$KEEPSAKE_LAB_IMMICH_SERVER_REPO" --immich-ml-repo "$KEEPSAKE_LAB_IMMICH_ML_REPO" \
	--immich-redis-image "$KEEPSAKE_LAB_IMMICH_REDIS_IMAGE" \
	--immich-postgres-image "$KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE" \
	--stack-network host --stack-container-prefix "$PREFIX" \
	--immich-port "$SERVER_PORT" --immich-db-port "$DB_PORT" \
	--immich-redis-port "$REDIS_PORT" --immich-ml-port "$ML_PORT" \
	--immich-postgres-dir "$WORK/postgres" --immich-model-cache-dir "$WORK/models" \
	--stack-stop-grace-secs "$GRACE" --no-container-watch --pool-poll-secs 0 \
	>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 300); do
	api GET /api/v1/health >/dev/null 2>&1 && break
	kill -0 "$AGENT_PID" 2>/dev/null || { echo "bench: the agent exited:" >&2; tail -20 "$WORK/agent.log" >&2; exit 1; }
	sleep 0.1
done
api GET /api/v1/health >/dev/null || { echo "bench: the agent did not answer in 30 s" >&2; tail -20 "$WORK/agent.log" >&2; exit 1; }

echo "bench: installing the stack" >&2
JOB=$(api POST /api/v1/stack/install '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
STATE=
for _ in $(seq 480); do
	STATE=$(api GET "/api/v1/jobs/$JOB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	case $STATE in succeeded | failed | cancelled) break ;; esac
	sleep 0.5
done
if [ "$STATE" != succeeded ]; then
	echo "bench: the install job #$JOB ended $STATE:" >&2
	api GET "/api/v1/jobs/$JOB" >&2 || true
	tail -20 "$WORK/agent.log" >&2
	exit 1
fi

echo
echo "Keepsake $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%dT%H:%MZ)," \
	"$(nproc) cores, docker engine $(docker version -f '{{.Server.Version}}'), load average at start:" \
	"$(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$ROOT/bench/stack/timing.py" restart --agent-socket "$SOCK" --docker-socket "$DOCKER_SOCKET" \
	--container "${PREFIX}server" --grace "$GRACE" --port "$SERVER_PORT" --keepsake "$BIN/keepsake" \
	-n "$RESTARTS" --raw "${RAW_DIR:-$WORK}/restart.json"
echo
python3 "$ROOT/bench/stack/timing.py" overhead --agent-socket "$SOCK" --docker-socket "$DOCKER_SOCKET" \
	--container "${PREFIX}server" --port "$SERVER_PORT" -n "$NOOPS"
echo
python3 "$ROOT/bench/stack/timing.py" follow --agent-socket "$SOCK" --container "${PREFIX}server" \
	--port "$SERVER_PORT" -n "$LINES" --raw "${RAW_DIR:-$WORK}/follow.json"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
