# Keepsake: a NixOS appliance that runs the Immich photo server safely on one box.
#
# This file only declares the switches shared by every concern and imports one
# module per concern. Each concern has its own `keepsake.<x>.enable`, which
# defaults to `keepsake.enable`, so a host turns the whole appliance on with a
# single line and can still switch off one piece (say, Sanoid on a box without
# ZFS) without forking a module.
{ config, lib, ... }:
let
  inherit (lib) mkEnableOption mkOption types;
  cfg = config.keepsake;
in
{
  imports = [
    ./agent.nix
    ./avahi.nix
    ./caddy.nix
    ./docker.nix
    ./firewall.nix
    ./sanoid.nix
    ./updates.nix
  ];

  options.keepsake = {
    enable = mkEnableOption "the Keepsake appliance (agent, dashboard, Caddy, Avahi, Docker, snapshots, updates)";

    hostName = mkOption {
      type = types.strMatching "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
      default = "immich";
      example = "photos";
      description = ''
        Single-label name the box answers to on the local network. Avahi
        publishes it as `<hostName>.local`, and Caddy serves Immich there.
        It is independent of {option}`networking.hostName`, so renaming the
        machine never breaks the bookmark the family uses.
      '';
    };

    dataDir = mkOption {
      type = types.path;
      default = "/var/lib/immich";
      example = "/tank/immich";
      description = ''
        Directory that holds the photo library (Immich's `UPLOAD_LOCATION`).
        The agent is told about it with `--data-dir`; on ZFS it should be the
        mountpoint of one of {option}`keepsake.sanoid.datasets`.
      '';
    };

    zfsRoot = mkOption {
      type = types.nullOr (types.strMatching "[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*");
      default = null;
      example = "tank/keepsake";
      description = ''
        ZFS dataset under which Keepsake keeps Immich: `<zfsRoot>/library`
        (Immich's `UPLOAD_LOCATION`), `<zfsRoot>/postgres` (`DB_DATA_LOCATION`)
        and `<zfsRoot>/state`. The installer chooses the pool; a oneshot unit
        creates the three datasets when missing (never touching existing ones),
        and the agent takes restore points (a database dump plus one atomic
        `zfs snapshot -r` of this dataset) with `--zfs-root`. `null`: no ZFS,
        and no restore points.
      '';
    };

    immichPort = mkOption {
      type = types.port;
      default = 2283;
      example = 2283;
      description = ''
        Port on 127.0.0.1 where the Immich server container is published.
        Caddy proxies `https://<hostName>.local` to it. Docker-published ports
        bypass the NixOS firewall, so the container must bind 127.0.0.1 only
        (see {option}`keepsake.docker.defaultBindAddress`).
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.hostName != cfg.caddy.dashboardHostName && "${cfg.hostName}.local" != cfg.caddy.dashboardHostName;
        message = "keepsake: keepsake.caddy.dashboardHostName must differ from the Immich name ${cfg.hostName}.local.";
      }
    ];
  };
}
