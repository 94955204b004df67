#!/usr/bin/env bash
# The checks that tests/install/clean-rootfs.sh runs inside the clean Debian 12 rootfs, as root,
# in a copy of the repository at /srv/keepsake. Prints `ok ...`/`not ok ...` lines on stdout (the
# caller numbers and counts them); everything else goes to stderr, the caller's log.
# Environment: KEEPSAKE_TEST_PORT, the port the dashboard is to listen on; KEEPSAKE_BUILD_PROFILE
# (passed on to install.sh); KEEPSAKE_TEST_SEED_TARGET, when set, a seeded copy-on-write target
# folder that becomes the checkout's target/ after the ordinary user's run (see clean-rootfs.sh).

set -uo pipefail
cd /srv/keepsake || { echo "not ok the repository copy is missing at /srv/keepsake"; exit 1; }
PORT=${KEEPSAKE_TEST_PORT:?}
STATE=/srv/keepsake/.keepsake
PROFILE=${KEEPSAKE_BUILD_PROFILE:-release}

ok() { echo "ok $*"; }
not_ok() { echo "not ok $*"; }
# expect_mode PATH MODE: the octal permission bits of PATH are MODE.
expect_mode() {
	local got
	got=$(stat -c %a "$1" 2>/dev/null) || { not_ok "$1 exists"; return; }
	if [ "$got" = "$2" ]; then ok "$1 has mode $2"; else not_ok "$1 has mode $got, expected $2"; fi
}

echo "== Rust $(rustc --version 2>/dev/null), Node.js $(node --version 2>/dev/null), npm $(npm --version 2>/dev/null)" >&2

# 1. An ordinary user: every missing Debian package named with the command, nothing built.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp sh ./install.sh --local --port "$PORT" 2>&1)
rc=$?
printf '== as nobody (status %s):\n%s\n' "$rc" "$out" >&2
if [ "$rc" != 0 ]; then ok "as an ordinary user, install.sh --local stops (status $rc)"; else not_ok "as an ordinary user, install.sh --local succeeded on a machine without its build dependencies"; fi
missing=()
for want in pkg-config libudev-dev gcc libc6-dev curl ca-certificates "apt-get install -y --no-install-recommends"; do
	printf '%s' "$out" | grep -qF -- "$want" || missing+=("$want")
done
if [ ${#missing[@]} = 0 ]; then
	ok "it names pkg-config, libudev-dev, gcc, libc6-dev, curl, ca-certificates and the apt-get command"
else
	not_ok "its message lacks: ${missing[*]}"
fi
if [ ! -e target ] && [ ! -e frontend/node_modules ] && [ ! -e .keepsake ]; then
	ok "it built and created nothing"
else
	not_ok "it started building before the dependency check: $(find target frontend/node_modules .keepsake -maxdepth 0 2>/dev/null | tr '\n' ' ')"
fi

# The seeded target/ (third-party crates already built on the host) goes in only now, so that the
# run above saw a checkout with no target/ at all, as a fresh clone has.
if [ -n "${KEEPSAKE_TEST_SEED_TARGET:-}" ]; then
	if mkdir target && mount --bind "$KEEPSAKE_TEST_SEED_TARGET" target; then
		echo "== target/ seeded from the host's build (copy-on-write)" >&2
	else
		not_ok "could not put the seeded target/ in place"
	fi
fi

# 2. Root: installs the packages itself, builds, starts; the printed address answers 200.
start=$SECONDS
./install.sh --local --port "$PORT" >/tmp/install.out 2>/tmp/install.err
rc=$?
cat /tmp/install.err >&2
echo "== install.sh --local as root: status $rc after $((SECONDS - start)) s; stdout: $(cat /tmp/install.out)" >&2
if [ "$rc" = 0 ]; then ok "as root, install.sh --local installs what it needs, builds and starts"; else not_ok "as root, install.sh --local failed with status $rc"; fi
if grep -qF "installing the Debian packages --local needs" /tmp/install.err; then
	ok "it installed the missing Debian packages with apt-get"
else
	not_ok "it did not say it installed the Debian packages"
fi
for p in pkg-config libudev-dev gcc libc6-dev curl ca-certificates udev exfatprogs exfat-fuse; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || not_ok "package $p is installed"
done
# What the original bug broke is built here, seeded or not: libudev-sys's build script (it asks
# pkg-config for libudev, whose libudev.pc comes with libudev-dev) ran in this rootfs, and
# keepsake-agent was compiled and linked here (against libudev.so, also from libudev-dev).
compiled=$(sed -n 's/^ *Compiling \([^ ]*\) .*/\1/p' /tmp/install.err)
ncompiled=$(printf '%s\n' "$compiled" | grep -c .)
if [ "$ncompiled" -le 20 ]; then
	echo "cargo compiled $ncompiled crates in the rootfs: $(printf '%s\n' "$compiled" | tr '\n' ' ')"
else
	echo "cargo compiled $ncompiled crates in the rootfs"
fi
if printf '%s\n' "$compiled" | grep -qx libudev-sys && grep -qs '^cargo:rustc-link-lib=udev' target/"$PROFILE"/build/libudev-sys-*/output; then
	ok "libudev-sys's build script ran in the rootfs and found libudev with pkg-config"
else
	not_ok "libudev-sys's build script did not run in the rootfs, or found no libudev (see the log)"
fi
if printf '%s\n' "$compiled" | grep -qx keepsake-agent && ldd "target/$PROFILE/keepsake-agent" 2>/dev/null | grep -q 'libudev\.so'; then
	ok "keepsake-agent was compiled and linked against libudev in the rootfs"
else
	not_ok "keepsake-agent was not compiled in the rootfs, or does not load libudev"
fi
url=$(sed -n 's/^Keepsake is running: \(http:[^ ]*\)$/\1/p' /tmp/install.out | head -n 1)
if [ -n "$url" ]; then ok "it printed the dashboard's address ($url)"; else not_ok "it printed no 'Keepsake is running: http://...' line"; fi
if [ -n "$url" ]; then
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" 2>/dev/null)
	if [ "$code" = 200 ]; then ok "the dashboard answers HTTP 200 at $url"; else not_ok "the dashboard answered HTTP '$code' at $url"; fi
fi

# 3. The state is private, as the NixOS unit keeps it (StateDirectoryMode=0700, UMask=0077).
expect_mode "$STATE" 711
expect_mode "$STATE/state" 700
expect_mode "$STATE/state/keepsake.db" 600
expect_mode "$STATE/logs" 700
expect_mode "$STATE/logs/agent.log" 600
expect_mode "$STATE/run" 750
readable=$(find "$STATE/state" "$STATE/logs" -perm /044 2>/dev/null)
if [ -z "$readable" ]; then ok "nothing under state/ or logs/ is readable by group or others"; else not_ok "readable by group or others: $readable"; fi

# 4. --stop stops it.
if ./install.sh --local --stop >&2 2>&1; then ok "install.sh --local --stop succeeds"; else not_ok "install.sh --local --stop failed"; fi
rc=0
curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$PORT/" 2>/dev/null || rc=$?
if [ "$rc" = 7 ]; then ok "nothing answers on port $PORT after --stop"; else not_ok "something still answers on port $PORT after --stop (curl status $rc)"; fi
