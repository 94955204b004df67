#!/usr/bin/env bash
# The one test command: installs what the tests need, builds everything, starts the real lab
# components, runs every suite (unit, system, lab, Nix, dashboard, browser), tears the lab down,
# and ends with one line: `tests: N passed, M failed`.
#
#   tests/run.sh                 everything (what CI runs)
#   KEEPSAKE_KEEP_LAB=1 tests/run.sh   leave the lab running afterwards (faster reruns)
#
# Every suite runs even when an earlier one failed, so one run shows every failure; the exit code
# is non-zero if any suite failed or did not run.

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
LOGS="$ROOT/tests/artifacts/logs"
mkdir -p "$LOGS"
LAB_COMPONENTS=(docker registry systemd pgcontainer immich udev zfs exfat postgres caddy smtp)

passed=0
failed=0
broken=()

step() { printf '\n==> %s\n' "$*"; }

# Runs one suite, teeing its output to a log; `count` then reads how many tests it passed/failed.
suite() {
	local name=$1
	shift
	step "$name: $*"
	local log="$LOGS/$name.log"
	if "$@" 2>&1 | tee "$log"; then
		count "$name" "$log" ok
	else
		count "$name" "$log" fail
	fi
}

count() {
	local name=$1 log=$2 outcome=$3 p=0 f=0
	case "$name" in
	rust) # nextest: "Summary [ 13.3s] 49 tests run: 48 passed, 1 failed, 0 skipped"
		p=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
		f=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0) ;;
	lab) # pytest: "9 passed, 1 failed in 3.2s"
		p=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
		f=$(grep -Eo '[0-9]+ (failed|error)' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0) ;;
	dashboard-unit) # vitest: "Tests  12 passed (12)"
		p=$(grep -E '^\s*Tests' "$log" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
		f=$(grep -E '^\s*Tests' "$log" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0) ;;
	browser) # node --test: "# pass 6" / "# fail 0"
		p=$(grep -E '^# pass' "$log" | grep -Eo '[0-9]+' || echo 0)
		f=$(grep -E '^# fail' "$log" | grep -Eo '[0-9]+' || echo 0) ;;
	install) # tests/install/clean-rootfs.sh: one "ok N - …" or "not ok N - …" line per check
		p=$(grep -cE '^ok [0-9]+ ' "$log" || true)
		f=$(grep -cE '^not ok [0-9]+ ' "$log" || true) ;;
	nix) # check.sh: one "  ok    …" or "FAIL …" line per check
		p=$(grep -cE '^\s+ok\s' "$log" || true)
		f=$(grep -cE '^\s*FAIL' "$log" || true) ;;
	*) # a check with no test count of its own counts as one test
		if [ "$outcome" = ok ]; then p=1; else f=1; fi ;;
	esac
	p=${p:-0}
	f=${f:-0}
	if [ "$outcome" = fail ] && [ "$f" = 0 ]; then
		f=1 # it failed without saying how many: count the suite itself
	fi
	if [ "$outcome" = ok ] && [ "$p" = 0 ]; then
		echo "!! suite $name passed but ran no test"
		f=$((f + 1))
		outcome=fail
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$outcome" = ok ] || broken+=("$name")
}

teardown() {
	if [ "${KEEPSAKE_KEEP_LAB:-0}" != 1 ]; then
		step "stopping the lab"
		tests/lab/lab.sh stop >/dev/null 2>&1 || echo "!! lab stop reported a problem (see tests/.lab/logs)"
	fi
}

step "installing what the tests need"
tests/install-deps.sh || {
	echo "!! installing test dependencies failed; nothing can be tested"
	echo "tests: 0 passed, 1 failed"
	exit 1
}

step "building the dashboard and the binaries"
build_ok=1
(cd frontend && npm ci --no-audit --no-fund --loglevel=error) || build_ok=0
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || build_ok=0
(cd frontend && npm run build) || build_ok=0
cargo build --locked --workspace --bins || build_ok=0
if [ "$build_ok" != 1 ]; then
	echo "!! the build failed; see above"
	echo "tests: 0 passed, 1 failed"
	exit 1
fi

step "starting the lab: ${LAB_COMPONENTS[*]}"
trap teardown EXIT
if ! tests/lab/lab.sh start "${LAB_COMPONENTS[@]}"; then
	# Go on: every test that needs the component that failed will fail and name it.
	echo "!! a lab component did not start (named above); tests that need it will fail"
	broken+=("lab-start")
	failed=$((failed + 1))
fi
# shellcheck disable=SC1091
[ -f tests/.lab/env ] && . tests/.lab/env

# The clean-machine install test takes a few minutes (a fresh Debian rootfs, apt-get, npm ci and a
# debug build of the workspace crates seeded from the build above, which it needs to be quick), so
# it runs alongside the other suites and is collected at the end.
step "install: tests/install/clean-rootfs.sh, in the background (log: $LOGS/install.log)"
tests/install/clean-rootfs.sh >"$LOGS/install.log" 2>&1 &
install_pid=$!

suite style cargo fmt --all --check
suite lint cargo clippy --locked --workspace --all-targets -- -D warnings
suite rust cargo nextest run --locked --workspace --no-fail-fast
suite lab python3 -m pytest -q tests/lab
suite nix tests/nix/check.sh
suite shell shellcheck install.sh tests/run.sh tests/install-deps.sh tests/lab/lab.sh tests/lab/rootfs.sh tests/lab/zfs_fault.sh \
	tests/lab/pg_container.sh tests/lab/immich_images.sh tests/lab/immich/*.sh tests/install/clean-rootfs.sh tests/install/inside.sh .ci/run bench/status.sh
suite dashboard-check npm --prefix frontend run check
suite dashboard-unit npm --prefix frontend test
suite browser env KEEPSAKE_BIN_DIR="$ROOT/target/debug" node --test --test-concurrency=1 tests/browser/

step "install: waiting for tests/install/clean-rootfs.sh"
if wait "$install_pid"; then install_outcome=ok; else install_outcome=fail; fi
cat "$LOGS/install.log"
count install "$LOGS/install.log" "$install_outcome"

echo
if [ ${#broken[@]} -gt 0 ]; then
	echo "failing suites: ${broken[*]} (logs in tests/artifacts/logs/)"
fi
echo "tests: $passed passed, $failed failed"
[ ${#broken[@]} -eq 0 ]
