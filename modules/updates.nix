# Unattended updates: the box rebuilds itself from its own flake on a
# schedule, and reboots (inside a window the family chose) only when the
# kernel or initrd changed. A bad update is undone with a NixOS rollback,
# which the agent offers in the dashboard.
{ config, lib, ... }:
let
  inherit (lib)
    mkEnableOption
    mkIf
    mkOption
    literalExpression
    types
    ;
  top = config.keepsake;
  cfg = config.keepsake.updates;
  hhmm = types.strMatching "([01][0-9]|2[0-3]):[0-5][0-9]";
in
{
  options.keepsake.updates = {
    enable = mkEnableOption "unattended NixOS updates from the host flake" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    flake = mkOption {
      type = types.str;
      default = "path:${config.keepsake.agent.flakeDir}#${config.networking.hostName}";
      defaultText = literalExpression ''"path:''${config.keepsake.agent.flakeDir}#''${config.networking.hostName}"'';
      example = "git+file:///etc/nixos#keepsake";
      description = ''
        Flake reference of this host's configuration
        (`system.autoUpgrade.flake`). The default uses a `path:` reference
        because flakes in a git work tree ignore untracked files, and the
        agent's `options.json` may not be committed.
      '';
    };

    updateInputs = mkOption {
      type = types.listOf (types.strMatching "[A-Za-z0-9_-]+");
      default = [ "keepsake" ];
      example = [
        "keepsake"
        "nixpkgs"
      ];
      description = ''
        Inputs of the host flake (in {option}`keepsake.agent.flakeDir`) to
        move forward before each run, with `nix flake update <inputs>`.
        Anything not listed stays at the revision in the host's `flake.lock`.
        The default suits a host flake whose nixpkgs follows
        `keepsake/nixpkgs`: the box then runs exactly the nixpkgs revision
        Keepsake was tested with, and gets newer ones when Keepsake bumps its
        own lock. Add `"nixpkgs"` if the host flake has its own nixpkgs
        input. Set to `[ ]` to only rebuild what is locked.
      '';
    };

    dates = mkOption {
      type = types.str;
      default = "04:40";
      example = "Sun 03:30";
      description = "When to look for updates (systemd calendar expression).";
    };

    randomizedDelaySec = mkOption {
      type = types.str;
      default = "45min";
      example = "0";
      description = "Random delay added to {option}`keepsake.updates.dates`, so many boxes do not hit the binary cache at once.";
    };

    allowReboot = mkOption {
      type = types.bool;
      default = false;
      example = true;
      description = ''
        Reboot after an update that changed the kernel, initrd or kernel
        modules (otherwise the new kernel waits for the next manual reboot).
      '';
    };

    rebootWindow = mkOption {
      type = types.nullOr (
        types.submodule {
          options = {
            lower = mkOption {
              type = hhmm;
              example = "03:00";
              description = "Start of the window in which a reboot may happen (HH:MM, local time).";
            };
            upper = mkOption {
              type = hhmm;
              example = "05:00";
              description = "End of the reboot window (HH:MM, local time).";
            };
          };
        }
      );
      default = null;
      example = {
        lower = "03:00";
        upper = "05:00";
      };
      description = ''
        When {option}`keepsake.updates.allowReboot` is set, only reboot inside
        this window. `null` allows a reboot at any time.
      '';
    };
  };

  config = mkIf cfg.enable {
    system.autoUpgrade = {
      enable = true;
      flake = cfg.flake;
      # `--upgrade` is for channels; this host is pinned by its flake.lock.
      upgrade = false;
      dates = cfg.dates;
      randomizedDelaySec = cfg.randomizedDelaySec;
      # A box that was off at 04:40 updates at next boot instead of never.
      persistent = true;
      allowReboot = cfg.allowReboot;
      rebootWindow = cfg.rebootWindow;
    };

    # Move the chosen inputs forward first. Not `--update-input` in
    # autoUpgrade.flags: Nix deprecated it and nixos-rebuild-ng rejects it
    # (NixOS/nixpkgs#349734). The lock file is rewritten in place, so the
    # dashboard shows which revisions the box now runs.
    systemd.services.nixos-upgrade.preStart = mkIf (cfg.updateInputs != [ ]) (
      lib.escapeShellArgs (
        [
          "${config.nix.package}/bin/nix"
          "--extra-experimental-features"
          "nix-command flakes"
          "flake"
          "update"
        ]
        ++ cfg.updateInputs
        ++ [
          "--flake"
          "path:${config.keepsake.agent.flakeDir}"
        ]
      )
    );

    # Old generations pin old store paths; without collection the disk fills.
    nix.gc = {
      automatic = true;
      dates = "weekly";
      options = "--delete-older-than 30d";
    };
  };
}
