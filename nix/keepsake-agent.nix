# keepsake-agent (root daemon) and keepsake (root CLI), from the workspace.
{
  lib,
  rustPlatform,
  pkg-config,
  systemdLibs,
}:
let
  source = import ./source.nix { inherit lib; };
in
rustPlatform.buildRustPackage {
  pname = "keepsake-agent";
  inherit (source) version;
  src = source.rust;

  # Crates are fetched by the checksums in Cargo.lock; no vendor hash to keep.
  cargoLock.lockFile = ../Cargo.lock;

  cargoBuildFlags = [
    "--package"
    "keepsake-agent"
  ];
  cargoTestFlags = [
    "--package"
    "keepsake-agent"
  ];

  # libudev for USB-drive enumeration (the udev crate links it via pkg-config).
  nativeBuildInputs = [ pkg-config ];
  buildInputs = [ systemdLibs ];

  # The agent's tests drive real Docker, systemd and ZFS (see tests/ and
  # LAB.md); none exist in the build sandbox. They run in CI with cargo test,
  # and the NixOS VM test (checks.vm) exercises the installed binary.
  doCheck = false;

  meta = {
    description = "Keepsake agent: the privileged daemon behind the Keepsake dashboard";
    license = lib.licenses.agpl3Plus;
    mainProgram = "keepsake-agent";
    platforms = lib.platforms.linux;
  };
}
