# Docker runs the Immich stack (server, machine learning, Postgres, Valkey),
# driven by the agent through the Docker API.
#
# Pitfall this module exists to defuse: ports that Docker publishes are
# DNAT-ed in iptables before the NixOS firewall sees them (NixOS/nixpkgs#111852),
# so a compose file saying `2283:2283` would expose Immich, unencrypted, to the
# whole LAN. The daemon's default bind address is therefore 127.0.0.1: a
# published port without an explicit address lands on loopback, and only
# Caddy reaches it.
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
  cfg = config.keepsake.docker;
in
{
  options.keepsake.docker = {
    enable = mkEnableOption "the Docker engine that runs the Immich containers" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    storageDriver = mkOption {
      type = types.nullOr (
        types.enum [
          "overlay2"
          "zfs"
          "btrfs"
        ]
      );
      default = null;
      example = "zfs";
      description = ''
        Docker storage driver (`virtualisation.docker.storageDriver`). `null`
        lets Docker choose (overlay2 on most file systems). Changing it later
        hides existing images and containers, so the agent must re-pull.
      '';
    };

    defaultBindAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "127.0.0.1";
      description = ''
        Address Docker binds published ports to when the compose file names
        none (daemon.json `ip`). Published ports bypass the NixOS firewall,
        so this stays on loopback; Caddy is the only way in.
      '';
    };

    autoPrune = {
      enable = mkOption {
        type = types.bool;
        default = true;
        example = false;
        description = ''
          Periodically remove unused images and build cache, so repeated
          Immich updates do not fill the disk. Volumes are never pruned: the
          Postgres data may live in one.
        '';
      };

      dates = mkOption {
        type = types.str;
        default = "weekly";
        example = "Sun 03:00";
        description = "When to prune (systemd calendar expression).";
      };

      keepFor = mkOption {
        type = types.str;
        default = "168h";
        example = "720h";
        description = ''
          Keep unused images younger than this (`--filter until=`), so the
          previous Immich image survives long enough for a one-click rollback.
        '';
      };
    };
  };

  config = mkIf cfg.enable {
    virtualisation.docker = {
      enable = true;
      storageDriver = cfg.storageDriver;
      # Container logs go to the journal, where the agent reads them and
      # journald's size limits apply.
      logDriver = "journald";
      daemon.settings = {
        ip = cfg.defaultBindAddress;
      };
      autoPrune = {
        enable = cfg.autoPrune.enable;
        dates = cfg.autoPrune.dates;
        # --all: also images not referenced by any container; the filter keeps
        # recent ones (the rollback target). No --volumes, ever.
        flags = [
          "--all"
          "--filter"
          "until=${cfg.autoPrune.keepFor}"
        ];
      };
    };

    # The zfs driver calls the zfs tools; fail at evaluation, not at dockerd start.
    assertions = [
      {
        assertion = cfg.storageDriver != "zfs" || (config.boot.supportedFilesystems.zfs or false);
        message = "keepsake.docker.storageDriver = \"zfs\" needs ZFS support (boot.supportedFilesystems.zfs = true).";
      }
    ];
  };
}
