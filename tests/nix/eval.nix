# Evaluation-only checks: properties of the generated NixOS configuration that
# need no VM. Fails (at evaluation) with the names of every broken property.
#
#   nix build .#checks.x86_64-linux.eval
{
  pkgs,
  lib,
  self,
}:
let
  system = "x86_64-linux";

  # The example host (settings from hosts/example/options.json).
  example = self.nixosConfigurations.example.config;

  # The bare minimum a host needs, to check defaults without options.json.
  mkHost =
    extra:
    (lib.nixosSystem {
      inherit system;
      modules = [
        self.nixosModules.default
        {
          boot.loader.grub.device = "nodev";
          fileSystems."/" = {
            device = "/dev/disk/by-label/nixos";
            fsType = "ext4";
          };
          system.stateVersion = "25.11";
        }
        extra
      ];
    }).config;
  minimal = mkHost { keepsake.enable = true; };
  withZfs = mkHost {
    keepsake.enable = true;
    keepsake.zfsRoot = "tank/keepsake";
    boot.supportedFilesystems.zfs = true;
    networking.hostId = "8425e349";
  };
  off = mkHost { };

  web = minimal.systemd.services.keepsake-web.serviceConfig;
  agent = minimal.systemd.services.keepsake-agent.serviceConfig;
  # escapeShellArgs quotes arguments containing `=`; compare unquoted.
  unquote = builtins.replaceStrings [ "'" ] [ "" ];
  webExec = unquote web.ExecStart;
  agentExec = unquote agent.ExecStart;
  fw = minimal.networking.firewall;

  checks = {
    "restore points: no ZFS root, no --zfs-root" = !(lib.hasInfix "--zfs-root" agentExec);
    "restore points: --zfs-root and the dataset unit" =
      lib.hasInfix "--zfs-root tank/keepsake" (unquote withZfs.systemd.services.keepsake-agent.serviceConfig.ExecStart)
      && lib.hasInfix "zfs create -p tank/keepsake/postgres" withZfs.systemd.services.keepsake-datasets.script
      && lib.elem "keepsake-datasets.service" withZfs.systemd.services.keepsake-agent.after
      && withZfs.services.sanoid.datasets ? "tank/keepsake";
    "drives: exFAT is supported and the agent can format drives" =
      (minimal.boot.supportedFilesystems.exfat or false)
      && lib.any (p: lib.getName p == "exfatprogs") minimal.systemd.services.keepsake-agent.path;
    "disabled appliance defines no Keepsake units" =
      !(off.systemd.services ? keepsake-agent) && !(off.systemd.services ? keepsake-web);
    "firewall: TCP 80 and 443 only" = lib.sort lib.lessThan fw.allowedTCPPorts == [ 80 443 ];
    "firewall: UDP mDNS only" = lib.unique fw.allowedUDPPorts == [ 5353 ];
    "firewall: Immich port closed" = !(lib.elem 2283 fw.allowedTCPPorts);
    "docker: published ports default to loopback" =
      minimal.virtualisation.docker.daemon.settings.ip == "127.0.0.1";
    "docker: prune never touches volumes" =
      !(lib.elem "--volumes" minimal.virtualisation.docker.autoPrune.flags);
    "web: static user in group keepsake" =
      web.User == "keepsake-web" && lib.elem "keepsake" web.SupplementaryGroups
      && lib.elem "keepsake" minimal.users.users.keepsake-web.extraGroups;
    "web: no capabilities" = web.CapabilityBoundingSet == "" && web.AmbientCapabilities == "";
    "web: sandboxed" =
      web.ProtectSystem == "strict" && web.NoNewPrivileges && web.PrivateDevices
      && web.MemoryDenyWriteExecute && web.PrivateTmp && web.ProtectHome == true;
    "web: address families" =
      lib.sort lib.lessThan web.RestrictAddressFamilies == [ "AF_INET" "AF_INET6" "AF_UNIX" ];
    "web: loopback-only IP access" = web.IPAddressDeny == "any" && web.IPAddressAllow == "localhost";
    "web: listens where Caddy proxies" =
      lib.hasInfix "--listen 127.0.0.1:8080" webExec
      && lib.hasInfix "127.0.0.1:8080" minimal.services.caddy.virtualHosts."keepsake.local".extraConfig;
    "agent: root, socket dir owned by group keepsake" =
      agent.User == "root" && agent.Group == "keepsake" && agent.RuntimeDirectory == "keepsake"
      && agent.RuntimeDirectoryMode == "0750" && agent.StateDirectory == "keepsake";
    "agent: flags" = lib.all (f: lib.hasInfix f agentExec) [
      "--socket /run/keepsake/agent.sock"
      "--state-dir /var/lib/keepsake"
      "--data-dir /var/lib/immich"
      "--web-user keepsake-web"
      "--socket-group keepsake"
      "--docker-host unix:///run/docker.sock"
      "--systemd-bus unix:path=/run/dbus/system_bus_socket"
    ];
    "agent: builds go through nix-daemon" =
      minimal.systemd.services.keepsake-agent.environment.NIX_REMOTE == "daemon";
    "caddy: internal TLS on both sites" =
      lib.hasInfix "tls internal" minimal.services.caddy.virtualHosts."immich.local".extraConfig
      && lib.hasInfix "tls internal" minimal.services.caddy.virtualHosts."keepsake.local".extraConfig;
    "caddy: Immich proxied to loopback" =
      lib.hasInfix "reverse_proxy 127.0.0.1:2283" minimal.services.caddy.virtualHosts."immich.local".extraConfig;
    "avahi: publishes immich.local" =
      minimal.services.avahi.hostName == "immich" && minimal.services.avahi.publish.addresses
      && minimal.services.avahi.nssmdns4;
    "sanoid: off without datasets" = !minimal.services.sanoid.enable;
    "no Keepsake warnings on the minimal host" =
      lib.filter (lib.hasPrefix "keepsake:") minimal.warnings == [ ];

    # Values that come from hosts/example/options.json.
    "example: sanoid dataset from options.json" =
      example.services.sanoid.enable
      && example.services.sanoid.datasets."tank/immich".useTemplate == [ "keepsake" ];
    "example: sanoid retention from options.json" =
      example.services.sanoid.templates.keepsake.hourly == 36
      && example.services.sanoid.templates.keepsake.yearly == 2;
    "example: reboot window from options.json" =
      example.system.autoUpgrade.allowReboot
      && example.system.autoUpgrade.rebootWindow == {
        lower = "03:00";
        upper = "05:00";
      };
    "example: update flake points at this configuration" =
      example.system.autoUpgrade.flake == "path:/etc/nixos#example";
    "example: storage driver from options.json" = example.virtualisation.docker.storageDriver == "overlay2";
    "example: time zone from options.json" = example.time.timeZone == "Europe/Berlin";
  };

  failed = lib.attrNames (lib.filterAttrs (_: ok: !ok) checks);

  # Forces evaluation of the whole example system without building it.
  toplevel = builtins.unsafeDiscardStringContext example.system.build.toplevel.drvPath;
in
if failed != [ ] then
  throw "keepsake eval checks failed:\n  - ${lib.concatStringsSep "\n  - " failed}"
else
  pkgs.runCommand "keepsake-eval-checks" { } ''
    echo "${toString (lib.length (lib.attrNames checks))} checks passed; example toplevel: ${toplevel}" > $out
  ''
