# The dashboard frontend (Svelte + Vite), built with `npm run build` into
# frontend/dist. The output is the dist directory itself, which
# nix/keepsake-web.nix copies into the Rust source tree before rust-embed
# embeds it.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs,
}:
let
  source = import ./source.nix { inherit lib; };
  keepsakeLib = import ./lib.nix;
  npmRegistry = "https://registry.npmjs.org";
in
buildNpmPackage {
  pname = "keepsake-frontend";
  inherit (source) version;
  src = source.frontend;
  inherit nodejs;

  # No hash to maintain: importNpmLock fetches each package by the
  # `integrity` hash recorded in package-lock.json. This lock file carries no
  # `resolved` URLs, so nix/lib.nix fills them in from the registry layout
  # (the integrity hash still pins every tarball). Fallback with a single
  # hash: `npmDepsHash = (import ./hashes.nix).frontendNpmDepsHash;` instead
  # of the two lines below; see docs/NIX.md.
  npmDeps = importNpmLock {
    npmRoot = source.frontend;
    packageLock = keepsakeLib.npmFillResolved npmRegistry (lib.importJSON ../frontend/package-lock.json);
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  npmBuildScript = "build";

  installPhase = ''
    runHook preInstall
    test -f dist/index.html || { echo "npm run build produced no dist/index.html" >&2; exit 1; }
    cp -r dist $out
    runHook postInstall
  '';

  meta = {
    description = "Keepsake dashboard frontend (static files)";
    license = lib.licenses.agpl3Plus;
  };
}
