# Offline tests of the Rust package definitions (nix/rust-package.nix,
# nix/keepsake-*.nix) with stand-ins for nixpkgs' lib and rustPlatform: what
# each package asks cargo to build and what metadata it carries. The real
# builds need nixpkgs (flake checks). Evaluates to { "<test name>" = bool; }.
let
  lib = {
    concatMap = f: l: builtins.concatLists (map f l);
    licenses.agpl3Plus = "agpl3Plus";
    platforms.linux = [ "x86_64-linux" ];
    fileset = {
      toSource = { root, fileset }: "workspace-source";
      unions = x: x;
      difference = a: b: a;
      maybeMissing = x: x;
    };
    importTOML = f: builtins.fromTOML (builtins.readFile f);
  };
  # buildRustPackage's arguments are what is under test.
  rustPlatform.buildRustPackage = args: args;
  buildKeepsakeRust = import <keepsake/nix/rust-package.nix> { inherit lib rustPlatform; };
  agent = import <keepsake/nix/keepsake-agent.nix> {
    inherit buildKeepsakeRust;
    pkg-config = "pkg-config";
    systemdLibs = "systemdLibs";
  };
  web = import <keepsake/nix/keepsake-web.nix> {
    inherit buildKeepsakeRust;
    frontend = "/frontend-dist";
  };
  version = (builtins.fromTOML (builtins.readFile <keepsake/Cargo.toml>)).workspace.package.version;
in
{
  "agent package builds the agent and the keepsake CLI crate" =
    agent.cargoBuildFlags == [ "--package" "keepsake-agent" "--package" "keepsake-cli" ];
  "agent package tests what it builds" = agent.cargoTestFlags == agent.cargoBuildFlags;
  "agent links libudev through pkg-config" =
    agent.nativeBuildInputs == [ "pkg-config" ] && agent.buildInputs == [ "systemdLibs" ];
  "web package builds only keepsake-web" = web.cargoBuildFlags == [ "--package" "keepsake-web" ];
  "web package embeds the built frontend" =
    builtins.match ".*cp -r /frontend-dist frontend/dist.*" (builtins.replaceStrings [ "\n" ] [ " " ] web.postPatch) != null;
  "both use the workspace version and source" =
    agent.version == version && web.version == version && agent.src == "workspace-source" && web.src == "workspace-source";
  "builder-only arguments do not reach buildRustPackage" =
    !(agent ? crates) && !(agent ? description) && !(web ? mainProgram);
  "meta carries description, licence and main program" =
    agent.meta.mainProgram == "keepsake-agent" && web.meta.mainProgram == "keepsake-web"
    && agent.meta.license == "agpl3Plus" && web.meta.description != "";
  "checks stay off in the sandbox" = !agent.doCheck && !web.doCheck;
}
