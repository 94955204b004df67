# The one builder for Keepsake's Rust binaries: every package is the same Cargo
# workspace, lock file and version, built for some of its crates. A package
# names its crates and what is its own (inputs, patches, description); all else
# is here.
#
#   buildKeepsakeRust {
#     pname = "keepsake-web";
#     crates = [ "keepsake-web" ];
#     description = "...";
#   }
{ lib, rustPlatform }:
{
  pname,
  # Cargo packages (-p) to build; every binary they define is installed.
  crates,
  description,
  mainProgram ? pname,
  ...
}@args:
let
  source = import ./source.nix { inherit lib; };
  packageFlags = lib.concatMap (crate: [
    "--package"
    crate
  ]) crates;
in
rustPlatform.buildRustPackage (
  {
    inherit (source) version;
    src = source.rust;

    # Crates are fetched by the checksums in Cargo.lock; no vendor hash to keep.
    cargoLock.lockFile = ../Cargo.lock;

    cargoBuildFlags = packageFlags;
    cargoTestFlags = packageFlags;

    # The tests drive real Docker, systemd and ZFS, or a running agent (see
    # tests/ and LAB.md); none exist in the build sandbox. They run in CI, and
    # the NixOS VM test (checks.vm) exercises the installed binaries.
    doCheck = false;

    meta = {
      inherit description mainProgram;
      license = lib.licenses.agpl3Plus;
      platforms = lib.platforms.linux;
    };
  }
  // removeAttrs args [
    "crates"
    "description"
    "mainProgram"
  ]
)
