#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian 12 machine; quick when all is present.
# Debian packages for the lab components come from tests/lab/lab.sh; the rest are listed here.

set -euo pipefail
cd "$(dirname "$0")/.."

# Build (udev crate), browser tests, Nix checks, shell checks, the installer and benchmarks, and
# the clean-rootfs install test (debootstrap; unshare and chroot from util-linux and coreutils).
PACKAGES=(pkg-config libudev-dev chromium chromium-driver nix-bin shellcheck curl util-linux sqlite3 wrk debootstrap)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

tests/lab/lab.sh install

python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install --quiet pytest

command -v cargo >/dev/null || { echo "cargo is not installed: this machine needs the Rust toolchain"; exit 1; }
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest
cargo clippy --version >/dev/null 2>&1 || { echo "clippy is missing from the Rust toolchain"; exit 1; }
cargo fmt --version >/dev/null 2>&1 || { echo "rustfmt is missing from the Rust toolchain"; exit 1; }
command -v node >/dev/null || { echo "Node.js is not installed: the dashboard needs it"; exit 1; }
echo "test dependencies are in place"
