# Hourly ZFS snapshots of the photo library and database, pruned on a
# schedule, so "I deleted the wrong album" and "the update broke Postgres" are
# both a rollback rather than a restore. Snapshots are not backups (same
# disks); the agent's off-box backups are separate.
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
  cfg = config.keepsake.sanoid;
  template = "keepsake";
in
{
  options.keepsake.sanoid = {
    enable = mkEnableOption "Sanoid snapshots of the Keepsake ZFS datasets" // {
      default = top.enable && cfg.datasets != [ ];
      defaultText = literalExpression "config.keepsake.enable && config.keepsake.sanoid.datasets != [ ]";
    };

    datasets = mkOption {
      type = types.listOf (types.strMatching "[A-Za-z0-9][A-Za-z0-9_.:/-]*");
      # The Keepsake root, recursively: library, postgres and state in one atomic snapshot.
      default = lib.optional (top.zfsRoot != null) top.zfsRoot;
      defaultText = literalExpression "lib.optional (config.keepsake.zfsRoot != null) config.keepsake.zfsRoot";
      example = [
        "tank/immich/library"
        "tank/immich/postgres"
      ];
      description = ''
        ZFS datasets to snapshot with the `keepsake` template: the photo
        library and the Postgres data. Each one is snapshotted with its
        children (see {option}`keepsake.sanoid.recursive`). Empty means the
        box has no ZFS data pool and Sanoid stays off.
      '';
    };

    recursive = mkOption {
      type = types.either types.bool (types.enum [ "zfs" ]);
      default = "zfs";
      example = true;
      description = ''
        How children of each dataset are included. `"zfs"` takes one atomic
        `zfs snapshot -r`, so a library dataset and a Postgres dataset under
        one parent are captured at the same instant and stay consistent with
        each other; `true` snapshots children one by one; `false` not at all.
      '';
    };

    retention = {
      hourly = mkOption {
        type = types.ints.unsigned;
        default = 36;
        example = 48;
        description = "Hourly snapshots to keep.";
      };
      daily = mkOption {
        type = types.ints.unsigned;
        default = 30;
        example = 14;
        description = "Daily snapshots to keep.";
      };
      monthly = mkOption {
        type = types.ints.unsigned;
        default = 12;
        example = 6;
        description = "Monthly snapshots to keep.";
      };
      yearly = mkOption {
        type = types.ints.unsigned;
        default = 2;
        example = 0;
        description = "Yearly snapshots to keep.";
      };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = config.boot.supportedFilesystems.zfs or false;
        message = "keepsake.sanoid needs ZFS (boot.supportedFilesystems.zfs = true) for datasets ${toString cfg.datasets}.";
      }
      {
        # Both would take and prune their own snapshots of the same
        # datasets: twice the snapshots, and two different rollback lists.
        assertion = !config.services.zfs.autoSnapshot.enable;
        message = "keepsake.sanoid and services.zfs.autoSnapshot must not both be enabled.";
      }
    ];

    services.sanoid = {
      enable = true;
      interval = "hourly";
      templates.${template} = {
        autosnap = true;
        autoprune = true;
        inherit (cfg.retention)
          hourly
          daily
          monthly
          yearly
          ;
      };
      datasets = lib.genAttrs cfg.datasets (_: {
        useTemplate = [ template ];
        recursive = cfg.recursive;
      });
    };
  };
}
