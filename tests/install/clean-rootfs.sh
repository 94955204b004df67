#!/usr/bin/env bash
# The README's try-it path on a fresh Debian 12 machine: runs `./install.sh --local` in a clean
# bookworm root filesystem (debootstrap minbase: no pkg-config, no libudev-dev, no C compiler, no
# curl) that has only this machine's Rust toolchain and Node.js mounted in, and checks that
#   - run as an ordinary user, it names every missing package and the command, builds nothing;
#   - run as root, it installs those packages with apt-get, builds, and the dashboard answers
#     HTTP 200 on the address it prints;
#   - the state it leaves is private (folder 0700, database 0600, socket folder 0750);
#   - `./install.sh --local --stop` stops it.
#
#   tests/install/clean-rootfs.sh        (root; a few minutes once this checkout has been built)
#
# The rootfs runs as a chroot in its own mount and PID namespaces (unshare), so every process the
# installer starts dies with the test and every mount goes away with it. It shares this machine's
# network, DNS, CA bundle and proxy settings, so it reaches the package registries as the host
# does. The debootstrapped tarball is cached in tests/.lab/images/ (as the lab caches its images);
# a fresh machine builds it (about a minute). Prints one `ok N - ...`/`not ok N - ...` line per
# check and ends with `install: N passed, M failed`.
#
# The build is seeded, so that the test takes minutes rather than half an hour: once the ordinary
# user's run has been checked (on a checkout with no target/ at all, as a fresh clone has), the
# checkout's target/ appears in the rootfs as a copy-on-write overlay of this machine's target/
# (its debug build, which tests/run.sh makes before the suites start), and this machine's cargo
# registry (crates.io index and sources) is overlaid at the same path as here, so the third-party
# crates' fingerprints still match and cargo reuses them; the npm cache is overlaid too. Nothing
# the rootfs writes reaches this machine. What the original bug needs is still built in the rootfs:
# the seed's libudev-sys (whose build script asks pkg-config for libudev, from libudev-dev) and
# every workspace crate and binary are removed from the overlay, so cargo reruns that build script
# with the packages the installer installed, and compiles and links keepsake-agent (against
# libudev.so, also from libudev-dev), keepsake-web and keepsake there; inside.sh checks both.
#
# Environment: KEEPSAKE_BUILD_PROFILE (passed to install.sh; default debug here, the profile the
# seed holds; the README's command builds release, which only changes the optimisation level),
# KEEPSAKE_INSTALL_TEST_SEED (1, the default: seed as above; 0: a fully cold build and download in
# the rootfs, about half an hour on 2 cores), KEEPSAKE_INSTALL_TEST_TIMEOUT (seconds for the whole
# install, default 3600).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck disable=SC1091 # checked on its own (tests/run.sh lists it)
source "$REPO/tests/lab/rootfs.sh"

IMAGES=$REPO/tests/.lab/images
TARBALL=$IMAGES/bookworm-minbase.tar
ARTIFACTS=$REPO/tests/artifacts/install
TIMEOUT=${KEEPSAKE_INSTALL_TEST_TIMEOUT:-3600}
SEED=${KEEPSAKE_INSTALL_TEST_SEED:-1}
export KEEPSAKE_BUILD_PROFILE=${KEEPSAKE_BUILD_PROFILE:-debug}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
finish() {
  echo "install: $((n - failed)) passed, $failed failed"
  [ "$failed" = 0 ]
}
give_up() { # the harness itself could not run: one failed check that says why
  not_ok "$*"
  finish || true
  exit 1
}

[ "$(id -u)" = 0 ] || give_up "needs root (debootstrap, chroot, mounts)"
for tool in unshare chroot git tar; do
  command -v "$tool" >/dev/null || give_up "$tool is not installed"
done

# ---- what the host uses to reach the registries, to hand to the clean machine
command -v rustc >/dev/null || give_up "no Rust toolchain on this machine to mount into the rootfs"
{ command -v node >/dev/null && command -v npm >/dev/null; } || give_up "no Node.js with npm on this machine to mount into the rootfs"
RUST_SYSROOT=$(rustc --print sysroot 2>/dev/null) || give_up "rustc --print sysroot failed"
[ -x "$RUST_SYSROOT/bin/cargo" ] || give_up "no cargo in $RUST_SYSROOT/bin (the host's toolchain)"
NODE_BIN=$(readlink -f "$(command -v node)")
NPM_DIR=$(npm root -g 2>/dev/null)/npm
[ -f "$NPM_DIR/bin/npm-cli.js" ] || give_up "npm is not at $NPM_DIR (npm root -g)"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
# Registry settings pass through as environment variables (the clean machine has no config files).
pass_env=(HOME=/root LANG=C.UTF-8 TERM=dumb
  "PATH=/opt/rust/bin:/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
if [ -s "$HOST_CA" ]; then
  # The host trusts this bundle (it may hold a CA for an egress proxy); cargo, npm, node and curl
  # in the rootfs trust it too, while the rootfs's own /etc/ssl stays as a fresh Debian has it.
  pass_env+=(SSL_CERT_FILE=/opt/host-ca/ca.crt CARGO_HTTP_CAINFO=/opt/host-ca/ca.crt
    NODE_EXTRA_CA_CERTS=/opt/host-ca/ca.crt npm_config_cafile=/opt/host-ca/ca.crt)
fi
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY all_proxy \
  CARGO_REGISTRIES_CRATES_IO_PROTOCOL KEEPSAKE_BUILD_PROFILE; do
  [ -n "${!v:-}" ] && pass_env+=("$v=${!v}")
done
npm_registry=$(npm config get registry 2>/dev/null || true)
[ -n "$npm_registry" ] && pass_env+=("npm_config_registry=$npm_registry")

# ---- the seed: what this machine has already built and downloaded (see the top of this file)
SEED_TARGET="" SEED_REGISTRY="" SEED_NPM="" CARGO_DIR=/root/.cargo
if [ "$SEED" = 1 ]; then
  SEED_TARGET=${CARGO_TARGET_DIR:-$REPO/target}
  if [ -d "$SEED_TARGET/$KEEPSAKE_BUILD_PROFILE/.fingerprint" ]; then
    echo "# seeding the rootfs's target/ from $SEED_TARGET ($KEEPSAKE_BUILD_PROFILE)"
  else
    echo "# $SEED_TARGET has no $KEEPSAKE_BUILD_PROFILE build to seed from: cargo builds everything in the rootfs"
    SEED_TARGET=""
  fi
  # The registry sources at the same path as here: a crate's fingerprint holds its source path.
  CARGO_DIR=${CARGO_HOME:-${HOME:-/root}/.cargo}
  [ -d "$CARGO_DIR/registry" ] && SEED_REGISTRY=$CARGO_DIR/registry
  npm_cache=$(npm config get cache 2>/dev/null || true)
  [ -n "$npm_cache" ] && [ -d "$npm_cache/_cacache" ] && SEED_NPM=$npm_cache/_cacache
fi
case "$CARGO_DIR" in /*) ;; *) give_up "CARGO_HOME ($CARGO_DIR) is not an absolute path" ;; esac
pass_env+=("CARGO_HOME=$CARGO_DIR")
# inside.sh puts the seeded target/ in place once the ordinary user's run has been checked.
[ -z "$SEED_TARGET" ] || pass_env+=(KEEPSAKE_TEST_SEED_TARGET=/opt/seed/target)

# ---- the clean root filesystem
WORK=""
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$IMAGES" "$ARTIFACTS"
t0=$SECONDS
if [ ! -s "$TARBALL" ]; then
  echo "# building $TARBALL with debootstrap (once per machine)"
fi
rootfs_tarball "$TARBALL" "$ARTIFACTS/debootstrap.log" || give_up "could not build the bookworm rootfs (see $ARTIFACTS/debootstrap.log)"
# Outside the repository, so that nothing that walks the checkout (tests/nix/check.sh, which may
# run at the same time) sees the copy inside the rootfs.
WORK=$(mktemp -d /var/tmp/keepsake-install-test.XXXXXX) || give_up "mktemp failed"
ROOTFS=$WORK/root
mkdir -p "$ROOTFS"
tar -C "$ROOTFS" -xf "$TARBALL" || give_up "could not unpack $TARBALL"
echo "# rootfs ready in $((SECONDS - t0)) s"

present=()
for f in usr/bin/pkg-config usr/lib/x86_64-linux-gnu/pkgconfig/libudev.pc usr/bin/cc usr/bin/gcc \
  usr/bin/curl usr/include/stdio.h usr/bin/cargo usr/bin/node; do
  [ -e "$ROOTFS/$f" ] && present+=("/$f")
done
if [ ${#present[@]} = 0 ]; then
  ok "the clean rootfs has no pkg-config, libudev-dev, C compiler, libc headers, curl, cargo or node of its own"
else
  not_ok "the rootfs is not clean: ${present[*]} already there (delete $TARBALL)"
fi

# A copy of the working tree (tracked and new files; nothing git ignores, so no target/,
# node_modules/ or .keepsake/), readable by every user as a fresh clone is.
mkdir -p "$ROOTFS/srv/keepsake"
# shellcheck disable=SC2016 # the single-quoted text is a script for sh -c
(cd "$REPO" && git ls-files -z -co --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
  tar --null -T - -cf -) | tar -C "$ROOTFS/srv/keepsake" -xf - || give_up "could not copy the repository into the rootfs"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
mkdir -p "$ROOTFS/opt/rust" "$ROOTFS/opt/node/bin" "$ROOTFS/opt/node/lib/node_modules/npm" "$ROOTFS/opt/host-ca" \
  "$ROOTFS/opt/seed/target" "$ROOTFS$CARGO_DIR/registry" "$ROOTFS/root/.npm/_cacache" "$WORK/seed"
touch "$ROOTFS/opt/node/bin/node" "$ROOTFS/opt/host-ca/ca.crt"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/opt/node/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/opt/node/bin/npx"

# A port that is free on this machine (the rootfs shares its network).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# ---- run the checks inside, in fresh mount and PID namespaces
t1=$SECONDS
rc=0
# shellcheck disable=SC2016 # the single-quoted text is a script for bash -c, with its own arguments
timeout --kill-after=30 "$TIMEOUT" unshare --mount --pid --fork --kill-child --propagation private -- \
  bash -euo pipefail -c '
    R=$1 rust=$2 node=$3 npm=$4 ca=$5 W=$6 seed_target=$7 seed_registry=$8 seed_npm=$9 cargo_dir=${10} profile=${11}
    shift 11
    # overlay LOWER DEST NAME: DEST shows LOWER; what is written there goes to $W/NAME.upper.
    overlay() {
      mkdir -p "$W/$3.upper" "$W/$3.work"
      mount -t overlay "keepsake-seed-$3" -o "lowerdir=$1,upperdir=$W/$3.upper,workdir=$W/$3.work" "$2"
    }
    if [ -n "$seed_target" ]; then
      overlay "$seed_target" "$R/opt/seed/target" target
      # What the rootfs must build itself: libudev-sys (its build script runs pkg-config for
      # libudev) and every workspace crate and binary. The deletions are whiteouts in the overlay.
      p=$R/opt/seed/target/$profile
      rm -rf "$p"/.fingerprint/libudev-sys-* "$p"/build/libudev-sys-* "$p"/deps/liblibudev_sys-* \
        "$p"/.fingerprint/keepsake* "$p"/build/keepsake* "$p"/deps/keepsake* "$p"/deps/libkeepsake* \
        "$p"/keepsake "$p"/keepsake-agent "$p"/keepsake-web "$p"/keepsake.d "$p"/keepsake-*.d
    fi
    if [ -n "$seed_registry" ]; then overlay "$seed_registry" "$R$cargo_dir/registry" registry; fi
    if [ -n "$seed_npm" ]; then overlay "$seed_npm" "$R/root/.npm/_cacache" npm; fi
    mount -t proc proc "$R/proc"
    mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
    for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
    mkdir -p "$R/dev/shm" "$R/dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
    ln -s /proc/self/fd "$R/dev/fd"
    mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
    mount --bind "$rust" "$R/opt/rust" && mount -o remount,bind,ro "$R/opt/rust"
    mount --bind "$node" "$R/opt/node/bin/node" && mount -o remount,bind,ro "$R/opt/node/bin/node"
    mount --bind "$npm" "$R/opt/node/lib/node_modules/npm" && mount -o remount,bind,ro "$R/opt/node/lib/node_modules/npm"
    if [ -s "$ca" ]; then mount --bind "$ca" "$R/opt/host-ca/ca.crt"; fi
    exec chroot "$R" /usr/bin/env -i "$@" bash /srv/keepsake/tests/install/inside.sh
  ' _ "$ROOTFS" "$RUST_SYSROOT" "$NODE_BIN" "$NPM_DIR" "$HOST_CA" "$WORK/seed" "$SEED_TARGET" "$SEED_REGISTRY" \
  "$SEED_NPM" "$CARGO_DIR" "$KEEPSAKE_BUILD_PROFILE" "${pass_env[@]}" "KEEPSAKE_TEST_PORT=$PORT" \
  >"$WORK/inside.out" 2>"$ARTIFACTS/inside.log" || rc=$?
elapsed=$((SECONDS - t1))

# inside.sh prints `ok`/`not ok` lines without numbers; number them into this run's count.
while IFS= read -r line; do
  case "$line" in
  "not ok "*) not_ok "${line#not ok }" ;;
  "ok "*) ok "${line#ok }" ;;
  *) echo "# $line" ;;
  esac
done <"$WORK/inside.out"
for f in agent.log web.log; do
  [ -f "$ROOTFS/srv/keepsake/.keepsake/logs/$f" ] && cp "$ROOTFS/srv/keepsake/.keepsake/logs/$f" "$ARTIFACTS/$f"
done
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  not_ok "the install in the clean rootfs did not finish within $TIMEOUT s (see $ARTIFACTS/inside.log)"
elif [ "$rc" != 0 ]; then
  not_ok "the checks inside the clean rootfs ended with status $rc (see $ARTIFACTS/inside.log)"
  tail -n 30 "$ARTIFACTS/inside.log" | sed 's/^/#   /'
fi
echo "# inside the rootfs: $elapsed s; whole test: $((SECONDS - t0)) s"
finish
