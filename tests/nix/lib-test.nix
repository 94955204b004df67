# Unit tests for nix/lib.nix, evaluated with a bare nix-instantiate (no
# nixpkgs), so they run offline in CI:
#
#   nix-instantiate --eval --strict --json tests/nix/lib-test.nix
#
# Evaluates to { "<test name>": true|false, ... }; tests/nix/check.sh fails
# on any false. Errors whose message matters are checked by check.sh itself
# (tryEval hides the message).
let
  lib = import ../../nix/lib.nix;
  example = lib.readSettings ../../hosts/example/options.json;
  fails = v: !(builtins.tryEval (builtins.deepSeq v v)).success;
  defaults = lib.normaliseSettings { };
in
{
  "formatListen ipv4" = lib.formatListen "127.0.0.1" 8080 == "127.0.0.1:8080";
  "formatListen ipv6 gets brackets" = lib.formatListen "::1" 8080 == "[::1]:8080";
  "isLoopback 127.0.0.1" = lib.isLoopback "127.0.0.1";
  "isLoopback 127.1.2.3" = lib.isLoopback "127.1.2.3";
  "isLoopback ::1" = lib.isLoopback "::1";
  "isLoopback not 0.0.0.0" = !(lib.isLoopback "0.0.0.0");
  "isLoopback not 1270.0.0.1" = !(lib.isLoopback "1270.0.0.1");
  "isLoopback not 192.168.1.2" = !(lib.isLoopback "192.168.1.2");

  "empty settings get defaults" =
    defaults.hostName == "immich"
    && defaults.dashboardHostName == "keepsake.local"
    && defaults.zfs.datasets == [ ]
    && defaults.updates.enable
    && !defaults.updates.allowReboot
    && defaults.updates.rebootWindow == null
    && defaults.hostId == null;

  "example options.json is read" =
    example.hostName == "immich"
    && example.hostId == "8425e349"
    && example.zfs.datasets == [ "tank/immich" ]
    && example.updates.rebootWindow == {
      lower = "03:00";
      upper = "05:00";
    };

  "toKeepsakeConfig maps onto keepsake.* names" =
    lib.toKeepsakeConfig example == {
      hostName = "immich";
      caddy.dashboardHostName = "keepsake.local";
      docker.storageDriver = "overlay2";
      sanoid = {
        datasets = [ "tank/immich" ];
        retention = {
          hourly = 36;
          daily = 30;
          monthly = 12;
          yearly = 2;
        };
      };
      updates = {
        enable = true;
        dates = "04:40";
        allowReboot = true;
        rebootWindow = {
          lower = "03:00";
          upper = "05:00";
        };
      };
    };

  "unknown top-level key rejected" = fails (lib.normaliseSettings { hostname = "x"; });
  "module-system magic key rejected" = fails (lib.normaliseSettings { _type = "override"; });
  "unknown nested key rejected" = fails (lib.normaliseSettings { updates.reboot = true; });
  "wrong type rejected" = fails (lib.normaliseSettings { updates.allowReboot = "yes"; });
  "non-string dataset rejected" = fails (lib.normaliseSettings { zfs.datasets = [ 1 ]; });
  "bad hostId rejected" = fails (lib.normaliseSettings { hostId = "DEADBEEF"; });
  "future schema rejected" = fails (lib.normaliseSettings { schema = 2; });
  "half reboot window rejected" = fails (lib.normaliseSettings { updates.rebootWindow.lower = "03:00"; });
  "bad reboot time rejected" = fails (
    lib.normaliseSettings {
      updates.rebootWindow = {
        lower = "25:00";
        upper = "05:00";
      };
    }
  );
  "npm name from nested path" = lib.npmPackageName "node_modules/a/node_modules/@s/b" == "@s/b";
  "npm name from top path" = lib.npmPackageName "node_modules/vite" == "vite";
  "npm tarball url, scoped" =
    lib.npmTarballUrl "https://registry.npmjs.org" "@s/b" "1.0.0" == "https://registry.npmjs.org/@s/b/-/b-1.0.0.tgz";
  "npm tarball url, plain" =
    lib.npmTarballUrl "https://registry.npmjs.org" "vite" "8.3.8" == "https://registry.npmjs.org/vite/-/vite-8.3.8.tgz";
  "npm fill resolved" =
    let
      filled = lib.npmFillResolved "https://r" {
        lockfileVersion = 3;
        packages = {
          "" = {
            name = "root";
            version = "0.1.0";
          };
          "node_modules/a" = {
            version = "1.0.0";
            integrity = "sha512-x";
          };
          "node_modules/b" = {
            version = "2.0.0";
            integrity = "sha512-y";
            resolved = "https://elsewhere/b.tgz";
          };
          "node_modules/c" = {
            version = "3.0.0";
            integrity = "sha512-z";
            name = "@real/c";
          };
          "node_modules/d" = {
            link = true;
            resolved = "packages/d";
          };
          "node_modules/e/node_modules/f" = {
            version = "1.0.0";
            inBundle = true;
          };
        };
      };
    in
    filled.lockfileVersion == 3
    && !(filled.packages."" ? resolved)
    && filled.packages."node_modules/a".resolved == "https://r/a/-/a-1.0.0.tgz"
    && filled.packages."node_modules/b".resolved == "https://elsewhere/b.tgz"
    && filled.packages."node_modules/c".resolved == "https://r/@real/c/-/c-3.0.0.tgz"
    && filled.packages."node_modules/d".resolved == "packages/d"
    && !(filled.packages."node_modules/e/node_modules/f" ? resolved);
  "null reboot window accepted" = (lib.normaliseSettings { updates.rebootWindow = null; }).updates.rebootWindow == null;
}
