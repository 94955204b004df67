# Make the box findable by name on the home network, with no DNS server and no
# router settings: Avahi announces `<keepsake.hostName>.local` (Immich) over
# mDNS, and a small companion unit announces the dashboard's name too.
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
    mkOption
    literalExpression
    types
    ;
  top = config.keepsake;
  cfg = config.keepsake.avahi;
  dashboardHost = config.keepsake.caddy.dashboardHostName;
  hardening = import ../nix/hardening.nix;

  # avahi-daemon publishes exactly one host name. A second name needs an
  # address record published by a client; `avahi-publish -a -R` does that,
  # but it needs the address. With an interface list, take the first IPv4
  # address on those interfaces; otherwise the source address of the default
  # route (a route lookup: no packet is sent). Addresses change (DHCP renews,
  # Wi-Fi roams), so the unit restarts hourly to pick up a new one.
  aliasScript = pkgs.writeShellApplication {
    name = "keepsake-mdns-alias";
    runtimeInputs = [
      pkgs.avahi
      pkgs.iproute2
      pkgs.gawk
    ];
    text = ''
      name="$1"
      shift
      addr=""
      if [ "$#" -gt 0 ]; then
        for dev in "$@"; do
          addr="$(ip -4 -o addr show dev "$dev" scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')"
          [ -n "$addr" ] && break
        done
      else
        addr="$(ip -4 route get 192.0.2.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit }}')"
      fi
      if [ -z "$addr" ]; then
        echo "keepsake-mdns-alias: no usable IPv4 address yet; retrying later" >&2
        exit 1
      fi
      echo "keepsake-mdns-alias: publishing $name -> $addr"
      exec avahi-publish --address --no-reverse "$name" "$addr"
    '';
  };
in
{
  options.keepsake.avahi = {
    enable = mkEnableOption "mDNS announcements of the Immich and dashboard names" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    publishDashboardAlias = mkOption {
      type = types.bool;
      default = lib.hasSuffix ".local" dashboardHost;
      defaultText = literalExpression ''lib.hasSuffix ".local" config.keepsake.caddy.dashboardHostName'';
      example = false;
      description = ''
        Also announce {option}`keepsake.caddy.dashboardHostName` over mDNS,
        pointing at this box's primary IPv4 address. Only meaningful for
        `.local` names.
      '';
    };

    interfaces = mkOption {
      type = types.nullOr (types.listOf types.str);
      default = null;
      example = [ "enp3s0" ];
      description = ''
        Interfaces to announce on (`services.avahi.allowInterfaces`). `null`
        means all, except that Docker's bridges are always denied so the names
        never resolve to a container network address.
      '';
    };
  };

  config = mkIf cfg.enable {
    services.avahi = {
      enable = true;
      hostName = top.hostName;
      # Let this box resolve *.local itself too (the agent's self-checks).
      nssmdns4 = true;
      publish = {
        enable = true;
        addresses = true;
      };
      # UDP 5353; keepsake.firewall documents it as one of the open ports.
      openFirewall = true;
      allowInterfaces = cfg.interfaces;
      denyInterfaces = [ "docker0" ];
      # Lets phones' "browse the network" list show the box.
      extraServiceFiles.keepsake = ''
        <?xml version="1.0" standalone='no'?>
        <!DOCTYPE service-group SYSTEM "avahi-service.dtd">
        <service-group>
          <name replace-wildcards="yes">Keepsake photos on %h</name>
          <service>
            <type>_https._tcp</type>
            <port>443</port>
          </service>
        </service-group>
      '';
    };

    systemd.services.keepsake-mdns-alias = mkIf cfg.publishDashboardAlias {
      description = "Announce ${dashboardHost} over mDNS";
      wantedBy = [ "multi-user.target" ];
      requires = [ "avahi-daemon.service" ];
      after = [
        "avahi-daemon.service"
        "network-online.target"
      ];
      wants = [ "network-online.target" ];
      # Talks to avahi-daemon over D-Bus and reads addresses over netlink; it
      # holds no privilege, so it gets the web server's sandbox.
      serviceConfig = hardening.unprivileged // {
        ExecStart = lib.escapeShellArgs (
          [
            (lib.getExe aliasScript)
            dashboardHost
          ]
          ++ lib.optionals (cfg.interfaces != null) cfg.interfaces
        );
        # Talks to avahi-daemon over D-Bus only; needs no identity of its own.
        DynamicUser = true;
        Restart = "always";
        RestartSec = "30s";
        # Re-read the address periodically (see aliasScript).
        RuntimeMaxSec = "1h";
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_NETLINK"
          "AF_INET"
        ];
      };
    };
  };
}
