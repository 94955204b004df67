# An example Keepsake host, as the installer would lay it out in /etc/nixos.
#
# The split mirrors SelfPrivacy: this file is written once by the installer
# and then left alone; `options.json` holds the user's choices and is the only
# file the agent rewrites. JSON is data, not code, so the agent never has to
# emit (and escape) Nix, and the typed `keepsake.*` options reject bad values
# at evaluation time, before anything is activated.
#
# A real host also imports its own `hardware-configuration.nix` and keeps its
# own `system.stateVersion`; the values below only make the example evaluate.
{ lib, ... }:
let
  keepsakeLib = import ../../nix/lib.nix;
  settings = keepsakeLib.readSettings ./options.json;
in
{
  keepsake = lib.mkMerge [
    {
      enable = true;
      # The flake output is named `example`, not after the host name, so tell
      # the updater which configuration to build.
      updates.flake = "path:/etc/nixos#example";
    }
    (keepsakeLib.toKeepsakeConfig settings)
  ];

  networking.hostName = "keepsake-example";
  # ZFS refuses to import pools without a host id; the installer generates it.
  networking.hostId = lib.mkIf (settings.hostId != null) settings.hostId;
  time.timeZone = lib.mkIf (settings.timeZone != null) settings.timeZone;

  boot.supportedFilesystems.zfs = settings.zfs.datasets != [ ];
  boot.zfs.extraPools = lib.unique (map (d: builtins.head (lib.splitString "/" d)) settings.zfs.datasets);

  # Placeholders a real host gets from hardware-configuration.nix.
  boot.loader.grub.device = "nodev";
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };

  system.stateVersion = "25.11";
}
