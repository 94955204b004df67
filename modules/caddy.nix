# The one front door: Caddy terminates TLS for both names and proxies
#   https://<keepsake.hostName>.local           -> Immich  (127.0.0.1:immichPort)
#   https://<keepsake.caddy.dashboardHostName>  -> keepsake-web
#
# The dashboard gets its own host name rather than a path under Immich's:
# Immich owns the whole URL space of its host (including /api), and a path
# prefix would force the dashboard frontend to be base-path aware.
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
  cfg = config.keepsake.caddy;
  web = config.keepsake.web;
  keepsakeLib = import ../nix/lib.nix;

  immichHost = "${top.hostName}.local";
  webUpstream = keepsakeLib.formatListen web.address web.port;
  immichUpstream = "127.0.0.1:${toString top.immichPort}";

  tlsLine = if cfg.internalTls then "tls internal" else "";
in
{
  options.keepsake.caddy = {
    enable = mkEnableOption "Caddy as the TLS-terminating reverse proxy for Immich and the dashboard" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    dashboardHostName = mkOption {
      type = types.str;
      default = "keepsake.local";
      example = "keepsake.example.org";
      description = ''
        Host name of the Keepsake dashboard. For a `.local` name,
        {option}`keepsake.avahi.publishDashboardAlias` announces it over mDNS.
      '';
    };

    internalTls = mkOption {
      type = types.bool;
      default = true;
      example = false;
      description = ''
        Use Caddy's own local CA (`tls internal`) for both sites. Public CAs
        cannot issue certificates for `.local` names, so this is the only
        option for a LAN-only box; turn it off only when both names are
        public DNS names that Let's Encrypt can reach.
      '';
    };

    rootCertificatePath = mkOption {
      type = types.str;
      default = "${config.services.caddy.dataDir}/.local/share/caddy/pki/authorities/local/root.crt";
      defaultText = literalExpression ''"''${config.services.caddy.dataDir}/.local/share/caddy/pki/authorities/local/root.crt"'';
      description = ''
        Where Caddy keeps the root certificate of its local CA. Served at
        `http://<dashboardHostName>/ca.crt` (plain HTTP on purpose: a device
        that does not trust the CA yet cannot fetch it over HTTPS without a
        warning).
      '';
    };

    maxUploadSize = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "50GB";
      description = ''
        Optional `request_body max_size` for Immich uploads. `null` leaves
        Caddy's default (no limit), which is what Immich's docs recommend for
        large videos.
      '';
    };
  };

  config = mkIf cfg.enable {
    services.caddy = {
      enable = true;
      # Ports are opened by keepsake.firewall (TCP only, no HTTP/3 on UDP).
      openFirewall = false;
      # The root certificate is offered for download below; Caddy, running as
      # user caddy, could not install it into the system trust store anyway.
      globalConfig = ''
        skip_install_trust
      '';

      virtualHosts = {
        ${immichHost}.extraConfig = ''
          ${tlsLine}
          ${lib.optionalString (cfg.maxUploadSize != null) "request_body {\n  max_size ${cfg.maxUploadSize}\n}"}
          reverse_proxy ${immichUpstream}
        '';

        ${cfg.dashboardHostName}.extraConfig = ''
          ${tlsLine}
          # The dashboard streams job logs as Server-Sent Events; never buffer
          # or compress them (no `encode` here on purpose).
          reverse_proxy ${webUpstream} {
            flush_interval -1
          }
        '';

        # Explicit http:// site: replaces Caddy's automatic HTTP->HTTPS
        # redirect for this name so /ca.crt stays reachable over plain HTTP.
        "http://${cfg.dashboardHostName}".extraConfig = ''
          handle /ca.crt {
            root * ${builtins.dirOf cfg.rootCertificatePath}
            rewrite * /${builtins.baseNameOf cfg.rootCertificatePath}
            header Content-Type application/x-x509-ca-cert
            file_server
          }
          handle {
            redir https://{host}{uri} permanent
          }
        '';
      };
    };

    systemd.services.caddy = {
      # Start after the upstreams so the first requests do not 502.
      after = [ "keepsake-web.service" ];
    };
  };
}
