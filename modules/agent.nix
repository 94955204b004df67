# The two Keepsake processes and the trust boundary between them.
#
#   keepsake-web   (user keepsake-web, no capabilities, network-facing)
#        |  HTTP over /run/keepsake/agent.sock (0660 root:keepsake)
#   keepsake-agent (root; Docker, ZFS, systemd, nixos-rebuild)
#
# This is Cockpit's split (cockpit-ws / cockpit-session): the process that parses
# untrusted HTTP holds no privilege, and the privileged one is reachable only
# through a Unix socket whose file mode admits group `keepsake`, and whose
# SO_PEERCRED check (done by the agent) admits only root and the web user.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    literalExpression
    types
    ;
  top = config.keepsake;
  cfg = config.keepsake.agent;
  webCfg = config.keepsake.web;
  keepsakeLib = import ../nix/lib.nix;
  keepsakePkgs = import ../nix { inherit pkgs; };
  hardening = import ../nix/hardening.nix;

  # Fixed names: the agent's defaults, the VM test and the docs all agree on them,
  # and systemd's RuntimeDirectory=/StateDirectory= derive paths from them.
  socketGroup = "keepsake";
  webUser = "keepsake-web";
  runtimeDir = "/run/keepsake";
  stateDir = "/var/lib/keepsake";
  cacheDir = "/var/cache/keepsake";
in
{
  options.keepsake.agent = {
    enable = mkEnableOption "the Keepsake agent, the root daemon that does the work the dashboard asks for" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    package = mkOption {
      type = types.package;
      default = keepsakePkgs.keepsake-agent;
      defaultText = literalExpression "(import <keepsake>/nix { inherit pkgs; }).keepsake-agent";
      description = "Package providing the `keepsake-agent` daemon and the `keepsake` root CLI.";
    };

    socketPath = mkOption {
      type = types.str;
      default = "${runtimeDir}/agent.sock";
      readOnly = true;
      description = ''
        Unix socket the agent listens on (read-only: it lives in the agent's
        `RuntimeDirectory=`, so systemd owns its parent directory). The agent
        creates it with mode 0660 and group `keepsake`.
      '';
    };

    flakeDir = mkOption {
      type = types.str;
      default = "/etc/nixos";
      example = "/etc/keepsake";
      description = ''
        Directory of the host flake whose `options.json` the agent rewrites
        when the user changes a setting. It is the only path under `/etc` the
        agent's sandbox may write to.
      '';
    };

    logFilter = mkOption {
      type = types.str;
      default = "info";
      example = "keepsake_agent=debug,info";
      description = "`KEEPSAKE_LOG` filter for the agent (tracing-subscriber `EnvFilter` syntax).";
    };

    extraPath = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = literalExpression "[ pkgs.smartmontools ]";
      description = "Extra packages put on the agent's `PATH`, for tools it shells out to.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--docker-host" "unix:///run/docker.sock" ];
      description = "Extra command-line arguments for `keepsake-agent`, appended after the generated ones.";
    };
  };

  options.keepsake.web = {
    enable = mkEnableOption "the Keepsake dashboard web server (unprivileged)" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    package = mkOption {
      type = types.package;
      default = keepsakePkgs.keepsake-web;
      defaultText = literalExpression "(import <keepsake>/nix { inherit pkgs; }).keepsake-web";
      description = "Package providing `keepsake-web`, with the dashboard frontend embedded.";
    };

    address = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "::1";
      description = ''
        Address `keepsake-web` listens on. Keep it on loopback: Caddy is the
        only intended client, and a loopback address lets systemd fence the
        service with `IPAddressDeny=any`.
      '';
    };

    port = mkOption {
      type = types.port;
      default = 8080;
      example = 8081;
      description = "TCP port `keepsake-web` listens on. Must be 1024 or above, since the service holds no capabilities.";
    };

    logFilter = mkOption {
      type = types.str;
      default = "info";
      example = "keepsake_web=debug,info";
      description = "`KEEPSAKE_LOG` filter for the web server (tracing-subscriber `EnvFilter` syntax).";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "--max-body"
        "2097152"
      ];
      description = "Extra command-line arguments for `keepsake-web`.";
    };
  };

  config = mkMerge [
    (mkIf (cfg.enable || webCfg.enable) {
      users.groups.${socketGroup} = { };
    })

    (mkIf cfg.enable {
      # Root gets the `keepsake` CLI (same package as the daemon).
      environment.systemPackages = [ cfg.package ];

      # USB backup drives are exFAT (readable on any computer). The kernel driver
      # mounts them; exfatprogs formats them (mkfs.exfat) and checks them.
      boot.supportedFilesystems.exfat = true;

      systemd.services.keepsake-agent = {
        description = "Keepsake agent (privileged side of the dashboard)";
        wantedBy = [ "multi-user.target" ];
        # Ordering only: the agent must come up (and report "Docker is down")
        # even when Docker or D-Bus fail, so it does not Require= them.
        after = [
          "network.target"
          "dbus.service"
          "docker.service"
          "nix-daemon.socket"
        ];

        # Tools the agent runs directly. nixos-rebuild is the one matching this
        # system; ZFS tools only when the host actually uses ZFS.
        path = [
          config.nix.package
          config.system.build.nixos-rebuild
          config.systemd.package
          pkgs.util-linux
          pkgs.coreutils
          pkgs.git
          # mkfs.exfat for formatting backup drives (mount, umount, blkid: util-linux).
          pkgs.exfatprogs
        ]
        ++ lib.optional config.virtualisation.docker.enable config.virtualisation.docker.package
        ++ lib.optional (config.boot.supportedFilesystems.zfs or false) config.boot.zfs.package
        ++ cfg.extraPath;

        environment = {
          KEEPSAKE_LOG = cfg.logFilter;
          # Root would otherwise open the Nix store directly and run builds in
          # this unit, where the sandbox below (RestrictNamespaces, no mount
          # propagation) breaks Nix's build sandbox. Through the daemon, builds
          # happen in nix-daemon.service instead.
          NIX_REMOTE = "daemon";
          # /root is hidden (ProtectHome); give Nix and git a home they may use.
          HOME = stateDir;
          XDG_CACHE_HOME = cacheDir;
        };

        # The agent starts rebuilds as transient units (StartTransientUnit), so
        # restarting it during a switch does not kill the switch. Restarting on
        # change is therefore safe, and needed to run the new agent after an update.
        restartIfChanged = true;

        serviceConfig = hardening.common // {
          Type = "exec";
          ExecStart = lib.escapeShellArgs (
            [
              (lib.getExe' cfg.package "keepsake-agent")
              "--socket"
              cfg.socketPath
              "--state-dir"
              stateDir
              "--data-dir"
              top.dataDir
              "--web-user"
              webUser
              "--socket-group"
              socketGroup
              "--docker-host"
              "unix:///run/docker.sock"
              "--systemd-bus"
              "unix:path=/run/dbus/system_bus_socket"
              # Passkeys are bound to the address people open the dashboard at.
              "--public-origin"
              "https://${config.keepsake.caddy.dashboardHostName}"
              # The certificates Caddy serves, read for the "about to expire" alert.
              "--certificate-check"
              "${top.hostName}.local@127.0.0.1:443"
              "--certificate-check"
              "${config.keepsake.caddy.dashboardHostName}@127.0.0.1:443"
            ]
            # Restore points: the datasets, and the generated options.nix saved in each point.
            ++ lib.optionals (top.zfsRoot != null) [
              "--zfs-root"
              top.zfsRoot
              "--config-file"
              "${cfg.flakeDir}/options.nix"
              "--config-file"
              "${cfg.flakeDir}/options.json"
            ]
            ++ cfg.extraArgs
          );
          Restart = "on-failure";
          RestartSec = "2s";

          User = "root";
          # Primary group `keepsake` makes systemd create /run/keepsake as
          # root:keepsake, so with mode 0750 only the web user (and root) can
          # even reach the socket inode; the socket's own 0660 is the second fence.
          Group = socketGroup;
          RuntimeDirectory = "keepsake";
          RuntimeDirectoryMode = "0750";
          StateDirectory = "keepsake";
          StateDirectoryMode = "0700";
          CacheDirectory = "keepsake";
          CacheDirectoryMode = "0700";

          # --- Hardening that does not get in the way of Docker, ZFS or Nix ---
          # Every choice below was weighed against what the agent must do:
          # talk to dockerd (/run/docker.sock), run `zfs`/`zpool` (ioctls on
          # /dev/zfs), talk to systemd and logind over D-Bus, write
          # options.json, and start nixos-rebuild in a transient unit (which
          # runs outside this sandbox, so activation can write /etc and /boot).
          # hardening.common (nix/hardening.nix) is merged in below; with
          # NIX_REMOTE=daemon nothing here creates namespaces (Docker does that
          # inside dockerd, not in its client), so RestrictNamespaces holds.

          # "full" = /usr, /boot, /efi and /etc read-only. Not "strict": the
          # agent writes under /var (Docker data, the photo library, USB
          # mounts). /etc/nixos stays writable for options.json; the "-"
          # prefix tolerates it missing (a unit with a missing
          # ReadWritePaths= entry would fail to start).
          ProtectSystem = "full";
          ReadWritePaths = [ "-${cfg.flakeDir}" ];
          # NOT PrivateDevices/DevicePolicy/ProtectClock: /dev/zfs and USB
          # block devices must stay visible, and ProtectClock= silently adds a
          # DeviceAllow= list that would hide them.
          # AF_NETLINK: udev (USB drive hotplug) and interface enumeration.
          RestrictAddressFamilies = [
            "AF_UNIX"
            "AF_INET"
            "AF_INET6"
            "AF_NETLINK"
          ];
          # A deny list rather than @system-service: `zfs mount` needs mount(2),
          # which @system-service excludes.
          SystemCallFilter = [
            "~@clock"
            "~@cpu-emulation"
            "~@debug"
            "~@module"
            "~@obsolete"
            "~@raw-io"
            "~@reboot"
            "~@swap"
          ];
          # No CapabilityBoundingSet=: root needs CAP_SYS_ADMIN (mount, zfs),
          # CAP_DAC_OVERRIDE (library files owned by container users) and
          # CAP_CHOWN/CAP_FOWNER (restores), and a partial list would break
          # restores in ways no test here would catch.
        };
      };
    })

    (mkIf (cfg.enable && top.zfsRoot != null) {
      # The dataset layout restore points rely on. `zfs create` only for what
      # is missing: an existing library is never recreated or changed.
      systemd.services.keepsake-datasets = {
        description = "Keepsake ZFS datasets (library, postgres, state)";
        wantedBy = [ "multi-user.target" ];
        before = [
          "keepsake-agent.service"
          "docker.service"
        ];
        after = [ "zfs-import.target" ];
        path = [ config.boot.zfs.package ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
        };
        script = lib.concatMapStrings (ds: ''
          zfs list -H -o name ${lib.escapeShellArg ds} >/dev/null 2>&1 || zfs create -p ${lib.escapeShellArg ds}
        '') (map (child: "${top.zfsRoot}/${child}") [ "library" "postgres" "state" ]);
      };
      systemd.services.keepsake-agent = {
        after = [ "keepsake-datasets.service" ];
        wants = [ "keepsake-datasets.service" ];
      };
    })

    (mkIf webCfg.enable {
      assertions = [
        {
          assertion = webCfg.port >= 1024;
          message = "keepsake.web.port must be >= 1024: keepsake-web runs without CAP_NET_BIND_SERVICE.";
        }
      ];

      # A static system user rather than DynamicUser=: the web server needs the
      # fixed supplementary group `keepsake` to open the agent socket, and the
      # agent needs a stable name to compare SO_PEERCRED against.
      users.users.${webUser} = {
        isSystemUser = true;
        group = webUser;
        extraGroups = [ socketGroup ];
        description = "Keepsake dashboard web server";
      };
      users.groups.${webUser} = { };

      systemd.services.keepsake-web = {
        description = "Keepsake dashboard web server (unprivileged)";
        wantedBy = [ "multi-user.target" ];
        # Wants, not Requires: the dashboard stays up (and says "agent
        # unavailable") while the agent restarts.
        wants = [ "keepsake-agent.service" ];
        after = [
          "network.target"
          "keepsake-agent.service"
        ];

        environment.KEEPSAKE_LOG = webCfg.logFilter;

        serviceConfig = hardening.unprivileged // {
          Type = "exec";
          ExecStart = lib.escapeShellArgs (
            [
              (lib.getExe' webCfg.package "keepsake-web")
              "--listen"
              (keepsakeLib.formatListen webCfg.address webCfg.port)
              "--agent-socket"
              cfg.socketPath
              # Caddy on loopback is the only proxy whose X-Forwarded-For is believed, so the
              # audit log and sign-in backoff see the browser's address, not Caddy's.
              "--trusted-proxy"
              "127.0.0.1,::1"
              # The only name (and origin) the dashboard answers to: a page on any other name,
              # DNS-rebound onto this box, is refused (421) before the agent is asked.
              "--public-origin"
              "https://${config.keepsake.caddy.dashboardHostName}"
            ]
            ++ webCfg.extraArgs
          );
          Restart = "on-failure";
          RestartSec = "2s";

          User = webUser;
          Group = webUser;
          SupplementaryGroups = [ socketGroup ];
          UMask = "0077";

          # --- Hardening: hardening.unprivileged (nix/hardening.nix), modelled
          # on cockpit-ws: this process parses untrusted HTTP, so it gets
          # nothing it does not need. The file system is read-only; it writes
          # nothing (state lives in the agent), and connect(2) on the agent
          # socket still works on a read-only mount. No PrivateUsers=: the
          # agent socket's group must be the real `keepsake` group, and
          # SO_PEERCRED must carry the real uid. ---
          RestrictAddressFamilies = [
            "AF_UNIX"
            "AF_INET"
            "AF_INET6"
          ];
        }
        # When listening on loopback, the only peers are local (Caddy, the
        # agent's health checks, Immich on 127.0.0.1): forbid everything else.
        // lib.optionalAttrs (keepsakeLib.isLoopback webCfg.address) {
          IPAddressAllow = "localhost";
          IPAddressDeny = "any";
        };
      };
    })
  ];
}
