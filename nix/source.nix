# Source sets for the builds: only the files each build reads, so editing
# docs/ or tests/ does not rebuild the Rust binaries, and local build output
# (target/, node_modules/, dist/) never leaks into the store.
{ lib }:
let
  fs = lib.fileset;
  root = ../.;
in
{
  # The whole Cargo workspace: the root manifest and lock, and every crate.
  rust = fs.toSource {
    inherit root;
    fileset = fs.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../crates
    ];
  };

  frontend = fs.toSource {
    root = ../frontend;
    fileset = fs.difference ../frontend (
      fs.unions [
        (fs.maybeMissing ../frontend/node_modules)
        (fs.maybeMissing ../frontend/dist)
      ]
    );
  };

  # Workspace version, so the packages never disagree with Cargo.toml.
  version = (lib.importTOML ../Cargo.toml).workspace.package.version;
}
