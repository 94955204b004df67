# keepsake-web: the unprivileged dashboard server, with the frontend embedded.
#
# rust-embed embeds `frontend/dist` at compile time in release builds, so the
# built frontend is copied into the source tree before cargo runs.
{
  lib,
  rustPlatform,
  frontend,
}:
let
  source = import ./source.nix { inherit lib; };
in
rustPlatform.buildRustPackage {
  pname = "keepsake-web";
  inherit (source) version;
  src = source.rust;

  cargoLock.lockFile = ../Cargo.lock;

  cargoBuildFlags = [
    "--package"
    "keepsake-web"
  ];
  cargoTestFlags = [
    "--package"
    "keepsake-web"
  ];

  postPatch = ''
    rm -rf frontend/dist
    mkdir -p frontend
    cp -r ${frontend} frontend/dist
    chmod -R u+w frontend/dist
  '';

  # Its integration tests talk to a running agent; they run in CI.
  doCheck = false;

  passthru = { inherit frontend; };

  meta = {
    description = "Keepsake dashboard web server (unprivileged)";
    license = lib.licenses.agpl3Plus;
    mainProgram = "keepsake-web";
    platforms = lib.platforms.linux;
  };
}
