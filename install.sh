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

# ---- dependencies
# Every build and run dependency of --local is checked before anything is built. The Debian
# packages are installed here when we are root on a machine with apt-get; anything else (and Rust
# and Node.js, whose Debian 12 versions are too old) is named with the command that installs it.

# version_ge A B: true when dotted version A >= B (numeric parts, missing parts count as 0).
version_ge() {
	a=$1
	b=$2
	while [ -n "$a$b" ]; do
		x=${a%%.*}
		y=${b%%.*}
		x=${x:-0}
		y=${y:-0}
		[ "$x" -gt "$y" ] && return 0
		[ "$x" -lt "$y" ] && return 1
		case "$a" in *.*) a=${a#*.} ;; *) a="" ;; esac
		case "$b" in *.*) b=${b#*.} ;; *) b="" ;; esac
	done
	return 0
}

# first_version TEXT: the first dotted number in TEXT ("rustc 1.95.0 (5980 2026)" -> 1.95.0).
first_version() {
	printf '%s\n' "$1" | sed -n 's/^[^0-9]*\([0-9][0-9]*\.[0-9][0-9.]*\).*/\1/p' | head -n 1
}

# The minimum Rust and Node.js versions, read from the manifests so they never disagree.
min_rust() {
	v=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n 1)
	printf '%s\n' "${v:-1.89}"
}
min_node() {
	v=$(sed -n 's/.*"node" *: *">= *\([0-9.]*\)".*/\1/p' "$ROOT/frontend/package.json" | head -n 1)
	printf '%s\n' "${v:-20.19}"
}

# cc_works: a C compiler that can also link (libc headers and start files present): the cc crate
# compiles SQLite with it and rustc links every binary with it.
cc_works() {
	command -v cc >/dev/null 2>&1 || return 1
	dir=$(mktemp -d) || return 1
	printf '#include <stdio.h>\nint main(void) { return 0; }\n' >"$dir/t.c"
	ok=0
	cc "$dir/t.c" -o "$dir/t" >/dev/null 2>&1 || ok=1
	rm -rf "$dir"
	return "$ok"
}

# missing_packages: the Debian packages --local needs that this machine lacks, one per line.
# Each is checked by what the build uses (a command, a pkg-config module, a file), not by dpkg,
# so the check also means something where the packages have other names.
missing_packages() {
	command -v curl >/dev/null 2>&1 || echo curl
	# cargo and npm download over HTTPS and verify against the system's CA bundle.
	[ -s /etc/ssl/certs/ca-certificates.crt ] || echo ca-certificates
	command -v pkg-config >/dev/null 2>&1 || echo pkg-config
	# libudev-sys finds libudev through pkg-config (libudev.pc comes with libudev-dev).
	if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists libudev 2>/dev/null; then
		echo libudev-dev
	fi
	if ! command -v cc >/dev/null 2>&1; then
		echo gcc
		echo libc6-dev
	elif ! cc_works; then
		echo libc6-dev
	fi
	command -v cmp >/dev/null 2>&1 || echo diffutils
	if [ "$(id -u)" = 0 ]; then
		# Root drops the web server's privileges with setpriv.
		command -v setpriv >/dev/null 2>&1 || echo util-linux
		# Backups to USB drives: udev notices a plugged-in drive, exfatprogs formats one, and
		# exfat-fuse mounts it where the kernel has no exFAT driver.
		command -v udevadm >/dev/null 2>&1 || echo udev
		command -v mkfs.exfat >/dev/null 2>&1 || echo exfatprogs
		command -v mount.exfat-fuse >/dev/null 2>&1 || echo exfat-fuse
	fi
	return 0
}

# A cargo installed by rustup for this user may not be on PATH (sudo, a fresh shell).
find_rust() {
	if ! command -v cargo >/dev/null 2>&1 && [ -n "${HOME:-}" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
		PATH="$HOME/.cargo/bin:$PATH"
		export PATH
	fi
}

# tool_problem LABEL WANT TOOL OTHER HOW: nothing when TOOL and OTHER exist and `TOOL --version`
# says WANT or newer; else one line saying what is wrong and how to fix it.
tool_problem() {
	if ! command -v "$3" >/dev/null 2>&1 || ! command -v "$4" >/dev/null 2>&1; then
		echo "$1 $2 or newer ($3 and $4) is not installed: $5"
		return 0
	fi
	have=$(first_version "$("$3" --version 2>/dev/null)")
	if [ -z "$have" ] || ! version_ge "$have" "$2"; then
		echo "$1 ${have:-of unknown version} is too old; $2 or newer is needed: $5"
	fi
}

rust_problem() {
	tool_problem Rust "$(min_rust)" rustc cargo \
		"install it with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y, then . \"\$HOME/.cargo/env\" (or rustup update stable; Debian 12's rustc is too old)"
}

node_problem() {
	tool_problem Node.js "$(min_node)" node npm \
		"install it from https://nodejs.org/en/download (for example NodeSource: curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs; Debian 12's nodejs is 18)"
}

# check_deps: installs the missing Debian packages when it can, else names everything missing and
# how to install it, and exits non-zero. Nothing is installed when Rust or Node.js is missing too,
# so a run that cannot finish changes nothing on the machine.
check_deps() {
	find_rust
	pkgs=$(missing_packages | tr '\n' ' ')
	pkgs=${pkgs% }
	rust=$(rust_problem)
	node=$(node_problem)
	[ -z "$pkgs$rust$node" ] && return 0

	can_apt=0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then can_apt=1; fi
	if [ -n "$pkgs" ] && [ "$can_apt" = 1 ] && [ -z "$rust$node" ]; then
		say "installing the Debian packages --local needs: $pkgs"
		# shellcheck disable=SC2086 # $pkgs is a list of package names, split on purpose
		{
			DEBIAN_FRONTEND=noninteractive apt-get update &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
		} >&2 || die "apt-get could not install $pkgs (see above). Install them and run ./install.sh --local again."
		left=$(missing_packages | tr '\n' ' ')
		[ -z "$left" ] || die "still missing after apt-get install: ${left% }"
		return 0
	fi

	say "--local cannot build Keepsake on this machine yet; nothing was built or installed. Missing:"
	if [ -n "$pkgs" ]; then
		for p in $pkgs; do say "  - $p"; done
		if [ "$can_apt" = 1 ]; then
			say "  this script installs those itself once Rust and Node.js are in place; or now: apt-get update && apt-get install -y --no-install-recommends $pkgs"
		elif command -v apt-get >/dev/null 2>&1; then
			say "  install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends $pkgs"
			say "  (or run this script as root, which installs them itself)"
		else
			say "  (Debian/Ubuntu package names; install the same with your distribution's package manager:"
			say "   a C compiler with libc headers, pkg-config, the libudev development files, curl, CA certificates)"
		fi
	fi
	[ -z "$rust" ] || say "  - $rust"
	[ -z "$node" ] || say "  - $node"
	exit 1
}

build() {
	say "building the dashboard"
	# Reinstall the dashboard's packages only when its lock file changed since the last install.
	stamp="$ROOT/frontend/node_modules/.keepsake-lock"
	if ! cmp -s "$ROOT/frontend/package-lock.json" "$stamp" 2>/dev/null; then
		(cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in frontend/ (see above)"
		cp "$ROOT/frontend/package-lock.json" "$stamp"
	fi
	(cd "$ROOT/frontend" && npm run build --silent) || die "the dashboard did not build (see above)"
	say "building keepsake-agent, keepsake-web and the keepsake command ($PROFILE)"
	# Always into ./target, whatever CARGO_TARGET_DIR says, so the binaries are where we run them.
	if [ "$PROFILE" = release ]; then
		(cd "$ROOT" && cargo build --release --locked --target-dir "$ROOT/target" -p keepsake-agent -p keepsake-web -p keepsake-cli) || die "cargo build failed (see above)"
		BIN="$ROOT/target/release"
	else
		(cd "$ROOT" && cargo build --locked --target-dir "$ROOT/target" -p keepsake-agent -p keepsake-web -p keepsake-cli) || die "cargo build failed (see above)"
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
	check_deps
	build
	local_stop
	port_free "$PORT" || die "port $PORT is already in use. Pass --port N to use another one."
	# The same modes as the NixOS units (StateDirectoryMode=0700, UMask=0077): the database holds
	# password hashes and the audit log, so only the agent's user may read it. Everything the agent
	# and this script create from here on is private; the build above kept the default umask so
	# that the binaries stay readable by the web server's user.
	umask 077
	mkdir -p "$STATE/state" "$STATE/photos" "$STATE/logs" "$RUN"
	# Files an older installer left readable become private too.
	chmod -R go= "$STATE/state" "$STATE/logs"
	chmod 700 "$STATE/state" "$STATE/logs" "$STATE/photos"
	# The top folder only lets the web server's user pass through to the socket's folder.
	chmod 711 "$STATE"
	chmod 755 "$RUN"
	pick_web_user
	# Like /run/keepsake (0750 root:keepsake): only the web server's group may reach the socket.
	if [ "$(id -u)" = 0 ] && [ "$WEB_GID" != 0 ]; then
		chgrp "$WEB_GID" "$RUN"
		chmod 750 "$RUN"
	else
		chmod 700 "$RUN"
	fi
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
	local_start "$port"
}

main "$@"
