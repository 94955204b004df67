# Keepsake's packages, as a function of a nixpkgs package set.
#
# Used by flake.nix (packages.<system>.*) and as the default of the
# `keepsake.*.package` options, so a host that imports modules/ without the
# flake still gets the same derivations.
{ pkgs }:
let
  frontend = pkgs.callPackage ./frontend.nix { };
  buildKeepsakeRust = import ./rust-package.nix { inherit (pkgs) lib rustPlatform; };
in
{
  inherit frontend;
  keepsake-agent = pkgs.callPackage ./keepsake-agent.nix { inherit buildKeepsakeRust; };
  keepsake-web = pkgs.callPackage ./keepsake-web.nix { inherit buildKeepsakeRust frontend; };
}
