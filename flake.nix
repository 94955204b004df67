{
  description = "Keepsake: a NixOS appliance that runs the Immich photo server safely on one box";

  # Stable channel only: the box updates itself unattended, so it follows a
  # release branch, never unstable. flake.lock pins the exact revision.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      system = "x86_64-linux";
      inherit (nixpkgs) lib;
      pkgs = nixpkgs.legacyPackages.${system};
      keepsakePkgs = import ./nix { inherit pkgs; };
    in
    {
      # Pure helpers (options.json reader); needs no nixpkgs.
      lib = import ./nix/lib.nix;

      # The appliance. A host flake imports this and sets `keepsake.enable`.
      nixosModules.default = import ./modules;
      nixosModules.keepsake = self.nixosModules.default;

      packages.${system} = {
        inherit (keepsakePkgs) keepsake-agent keepsake-web frontend;
        default = pkgs.symlinkJoin {
          name = "keepsake-${keepsakePkgs.keepsake-agent.version}";
          paths = [
            keepsakePkgs.keepsake-agent
            keepsakePkgs.keepsake-web
          ];
        };
      };

      # An example host that reads its settings from options.json, the way
      # an installed box does (see hosts/example/).
      nixosConfigurations.example = lib.nixosSystem {
        inherit system;
        modules = [
          self.nixosModules.default
          ./hosts/example/configuration.nix
        ];
      };

      checks.${system} = {
        # Boots the appliance in a VM (needs KVM); see tests/nix/vm.nix.
        vm = import ./tests/nix/vm.nix { inherit pkgs self; };
        # Evaluation-only assertions about the generated configuration.
        eval = import ./tests/nix/eval.nix { inherit pkgs lib self; };
      };

      formatter.${system} = pkgs.nixfmt-tree;
    };
}
