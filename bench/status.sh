#!/usr/bin/env bash
# Benchmark: GET /api/v1/status through keepsake-web -> agent socket (signed in, so each request
# pays for the session check), side by side with the anchor, Caddy reverse-proxying the same agent
# socket (as root, which needs no session), at a fixed offered rate with wrk. Also reports the
# idle resident memory of the agent, the web server and Caddy. Prints a Markdown table.
#
#   bench/status.sh                      500 req/s for 10 s, 10 connections
#   RATE=1000 DURATION=20 bench/status.sh
#
# Needs: wrk, caddy, curl (tests/install-deps.sh installs them). Builds the release binaries.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RATE=${RATE:-500}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-10}
export RATE CONNECTIONS

for tool in wrk caddy curl; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (run tests/install-deps.sh)" >&2; exit 1; }
done
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	(cd "$ROOT" && cargo build --release --locked -p keepsake-agent -p keepsake-web >&2)
fi
BIN="$ROOT/target/release"

WORK=$(mktemp -d /tmp/keepsake-bench.XXXXXX)
chmod 755 "$WORK"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
wait_http() {
	for _ in $(seq 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "bench: $1 did not answer" >&2
	exit 1
}

mkdir -p "$WORK/state" "$WORK/data"
"$BIN/keepsake-agent" --socket "$WORK/agent.sock" --state-dir "$WORK/state" --data-dir "$WORK/data" \
	--web-user "$(id -u)" --socket-group "$(id -g)" >"$WORK/agent.log" 2>&1 &
agent=$!
pids+=("$agent")
WEB_PORT=$(free_port)
"$BIN/keepsake-web" --listen "127.0.0.1:$WEB_PORT" --agent-socket "$WORK/agent.sock" >"$WORK/web.log" 2>&1 &
web=$!
pids+=("$web")
CADDY_PORT=$(free_port)
cat >"$WORK/Caddyfile" <<CADDY
{
	admin off
	auto_https off
}
http://127.0.0.1:$CADDY_PORT {
	reverse_proxy unix/$WORK/agent.sock
}
CADDY
caddy run --adapter caddyfile --config "$WORK/Caddyfile" >"$WORK/caddy.log" 2>&1 &
caddy=$!
pids+=("$caddy")

WEB_URL="http://127.0.0.1:$WEB_PORT/api/v1/status"
CADDY_URL="http://127.0.0.1:$CADDY_PORT/api/v1/status"
wait_http "http://127.0.0.1:$WEB_PORT/api/v1/health"
wait_http "$CADDY_URL"
# Sign in as a browser would: create the owner through the web server and keep its cookie, so
# every benchmarked request pays for the session check.
COOKIE=$(curl -fsS -D - -o /dev/null -H 'content-type: application/json' -H "Origin: http://127.0.0.1:$WEB_PORT" \
	-d '{"name":"bench","password":"a long enough password"}' \
	"http://127.0.0.1:$WEB_PORT/api/v1/auth/setup" | sed -n 's/^[Ss]et-[Cc]ookie: \(keepsake_session=[^;]*\).*/\1/p')
[ -n "$COOKIE" ] || { echo "bench: could not sign in through keepsake-web" >&2; exit 1; }
export COOKIE
curl -fsS -H "Cookie: $COOKIE" "$WEB_URL" >/dev/null || { echo "bench: status through the web server failed" >&2; exit 1; }
sleep 2
idle_agent=$(rss_kib "$agent")
idle_web=$(rss_kib "$web")
idle_caddy=$(rss_kib "$caddy")

run() { # url -> JSON line
	wrk -t1 -c"$CONNECTIONS" -d2s -s "$ROOT/bench/paced.lua" "$1" >/dev/null # warm-up
	wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/bench/paced.lua" "$1" | grep '^{'
}
web_json=$(run "$WEB_URL")
caddy_json=$(run "$CADDY_URL")
loaded_agent=$(rss_kib "$agent")
loaded_web=$(rss_kib "$web")

row() { # name json
	python3 - "$1" "$2" <<'PY'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
secs = r["duration_us"] / 1e6
ms = lambda us: f"{us / 1000:.3f}"
print(f"| {name} | {r['requests'] / secs:.0f} | {ms(r['p50_us'])} | {ms(r['p95_us'])} | {ms(r['p99_us'])} | {ms(r['max_us'])} | {r['errors'] + r['non2xx']} |")
PY
}

echo "GET /api/v1/status, offered ${RATE} req/s for ${DURATION} s over ${CONNECTIONS} connections (wrk $(wrk --version 2>/dev/null | head -1 | awk '{print $2}'), $(nproc) cores)"
echo
echo "| path | achieved req/s | p50 ms | p95 ms | p99 ms | max ms | errors |"
echo "|---|---|---|---|---|---|---|"
row "keepsake-web -> agent socket" "$web_json"
row "anchor: Caddy $(caddy version | awk '{print $1}') -> agent socket" "$caddy_json"
echo
echo "| process | idle RSS | RSS after the runs |"
echo "|---|---|---|"
echo "| keepsake-agent | $((idle_agent / 1024)).$(((idle_agent % 1024) * 10 / 1024)) MiB | $((loaded_agent / 1024)).$(((loaded_agent % 1024) * 10 / 1024)) MiB |"
echo "| keepsake-web | $((idle_web / 1024)).$(((idle_web % 1024) * 10 / 1024)) MiB | $((loaded_web / 1024)).$(((loaded_web % 1024) * 10 / 1024)) MiB |"
echo "| anchor: caddy | $((idle_caddy / 1024)).$(((idle_caddy % 1024) * 10 / 1024)) MiB | |"
