#!/bin/sh
# Keepsake installer.
#
#   ./install.sh --local [--port N]   build and run Keepsake on this Linux machine, state in ./.keepsake
#   ./install.sh --local --stop       stop what --local started
#   curl ... | sudo sh                install on NixOS (arrives with host management; refused for now)
#
# Everything runs inside main(), called on the last line, so a download cut short runs nothing.
# Environment: KEEPSAKE_LOCAL_DIR (state folder, default ./.keepsake), KEEPSAKE_BUILD_PROFILE
# (release or debug, default release), DOCKER_HOST (default unix:///var/run/docker.sock).

set -eu

say() { printf '%s\n' "keepsake: $*" >&2; }
die() {
	say "$*"
	exit 1
}

usage() {
	cat <<'EOF'
Usage:
  ./install.sh --local [--port N]   build Keepsake and run it on this machine (state in ./.keepsake)
  ./install.sh --local --stop       stop it
  ./install.sh --help

On NixOS, `curl ... | sudo sh` will install the full appliance; that arrives with host management.
EOF
}

repo_root() {
	cd "$(dirname "$0")" && pwd
}

pid_alive() {
	[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_one() {
	pidfile=$1
	name=$2
	if pid_alive "$pidfile"; then
		pid=$(cat "$pidfile")
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "$name did not stop in 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		say "stopped $name"
	fi
	rm -f "$pidfile"
}

local_stop() {
	stop_one "$RUN/web.pid" keepsake-web
	stop_one "$RUN/agent.pid" keepsake-agent
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is needed for --local but is not installed. $2"
}

build() {
	need cargo "Install Rust (https://rustup.rs) and try again."
	need npm "Install Node.js 20 or newer and try again."
	say "building the dashboard"
	# Reinstall the dashboard's packages only when its lock file changed since the last install.
	stamp="$ROOT/frontend/node_modules/.keepsake-lock"
	if ! cmp -s "$ROOT/frontend/package-lock.json" "$stamp" 2>/dev/null; then
		(cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in frontend/ (see above)"
		cp "$ROOT/frontend/package-lock.json" "$stamp"
	fi
	(cd "$ROOT/frontend" && npm run build --silent) || die "the dashboard did not build (see above)"
	say "building keepsake-agent and keepsake-web ($PROFILE)"
	if [ "$PROFILE" = release ]; then
		(cd "$ROOT" && cargo build --release --locked -p keepsake-agent -p keepsake-web) || die "cargo build failed (see above)"
		BIN="$ROOT/target/release"
	else
		(cd "$ROOT" && cargo build --locked -p keepsake-agent -p keepsake-web) || die "cargo build failed (see above)"
		BIN="$ROOT/target/debug"
	fi
}

port_free() {
	# curl exits 7 when nothing listens; anything else means the port is taken.
	rc=0
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null || rc=$?
	[ "$rc" = 7 ]
}

# Decides which user runs the web server. It needs no privileges, so when we are root we run it as
# `nobody` if that user can reach the agent's socket; otherwise as ourselves.
pick_web_user() {
	WEB_UID=$(id -u)
	WEB_GID=$(id -g)
	WEB_PREFIX=""
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
		nuid=$(id -u nobody)
		ngid=$(id -g nobody)
		if setpriv --reuid="$nuid" --regid="$ngid" --clear-groups test -x "$RUN" 2>/dev/null; then
			WEB_UID=$nuid
			WEB_GID=$ngid
			WEB_PREFIX="setpriv --reuid=$nuid --regid=$ngid --groups=$ngid --inh-caps=-all --bounding-set=-all --no-new-privs"
		else
			say "warning: user nobody cannot reach $RUN, so keepsake-web runs as root here (it needs no privileges)"
		fi
	fi
}

local_start() {
	PORT=$1
	build
	local_stop
	port_free "$PORT" || die "port $PORT is already in use. Pass --port N to use another one."
	mkdir -p "$STATE/state" "$STATE/photos" "$STATE/logs" "$RUN"
	chmod 755 "$STATE" "$RUN"
	pick_web_user
	docker_host=${DOCKER_HOST:-unix:///var/run/docker.sock}

	say "starting keepsake-agent"
	nohup "$BIN/keepsake-agent" \
		--socket "$RUN/agent.sock" \
		--state-dir "$STATE/state" \
		--data-dir "$STATE/photos" \
		--web-user "$WEB_UID" \
		--socket-group "$WEB_GID" \
		--docker-host "$docker_host" \
		--public-origin http://localhost \
		>>"$STATE/logs/agent.log" 2>&1 &
	echo $! >"$RUN/agent.pid"
	i=0
	until [ -S "$RUN/agent.sock" ]; do
		pid_alive "$RUN/agent.pid" || die "keepsake-agent stopped at start; see $STATE/logs/agent.log"
		[ "$i" -lt 300 ] || die "keepsake-agent did not start within 30 s; see $STATE/logs/agent.log"
		sleep 0.1
		i=$((i + 1))
	done

	say "starting keepsake-web"
	# shellcheck disable=SC2086 # WEB_PREFIX is a command prefix, split on purpose
	nohup $WEB_PREFIX "$BIN/keepsake-web" \
		--listen "127.0.0.1:$PORT" \
		--agent-socket "$RUN/agent.sock" \
		>>"$STATE/logs/web.log" 2>&1 &
	echo $! >"$RUN/web.pid"
	i=0
	until curl -fsS "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; do
		pid_alive "$RUN/web.pid" || die "keepsake-web stopped at start; see $STATE/logs/web.log"
		[ "$i" -lt 300 ] || die "the dashboard did not answer within 30 s; see $STATE/logs/web.log"
		sleep 0.1
		i=$((i + 1))
	done
	say "state and logs are in $STATE; stop with: ./install.sh --local --stop"
	say "open http://localhost:$PORT/ to use passkeys (browsers do not allow them on a bare IP address)"
	echo "Keepsake is running: http://127.0.0.1:$PORT/"
}

nixos_install() {
	[ -e /etc/NIXOS ] || grep -qs '^ID=nixos' /etc/os-release ||
		die "this machine is not NixOS. To try Keepsake here, run ./install.sh --local from a checkout."
	die "installing on NixOS arrives with host management and is not available yet. To try Keepsake now, run ./install.sh --local from a checkout."
}

main() {
	mode=""
	stop=0
	port=8080
	while [ $# -gt 0 ]; do
		case "$1" in
		--local) mode=local ;;
		--stop) stop=1 ;;
		--port)
			[ $# -ge 2 ] || die "--port needs a number"
			port=$2
			shift
			;;
		--port=*) port=${1#--port=} ;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			usage >&2
			die "unknown option: $1"
			;;
		esac
		shift
	done
	case "$port" in
	'' | *[!0-9]*) die "--port must be a number from 1 to 65535, not '$port'" ;;
	esac
	if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
		die "--port must be a number from 1 to 65535, not '$port'"
	fi

	if [ "$mode" != local ]; then
		[ "$stop" = 0 ] || die "--stop goes with --local"
		nixos_install
	fi
	ROOT=$(repo_root)
	STATE=${KEEPSAKE_LOCAL_DIR:-$ROOT/.keepsake}
	case "$STATE" in /*) ;; *) STATE="$(pwd)/$STATE" ;; esac
	RUN="$STATE/run"
	PROFILE=${KEEPSAKE_BUILD_PROFILE:-release}
	case "$PROFILE" in release | debug) ;; *) die "KEEPSAKE_BUILD_PROFILE must be release or debug" ;; esac
	if [ "$stop" = 1 ]; then
		local_stop
		exit 0
	fi
	need curl "Install curl and try again."
	local_start "$port"
}

main "$@"
