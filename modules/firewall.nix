# Inbound traffic: HTTP and HTTPS for Caddy, and mDNS so phones find the box.
# Nothing else. (Docker-published ports are not governed by this firewall at
# all; keepsake.docker keeps them on 127.0.0.1 instead.)
{ config, lib, ... }:
let
  inherit (lib)
    mkEnableOption
    mkIf
    mkOption
    literalExpression
    types
    subtractLists
    ;
  top = config.keepsake;
  cfg = config.keepsake.firewall;
  fw = config.networking.firewall;

  wantedTCP = [
    80
    443
  ];
  wantedUDP = [ 5353 ];
  extraTCP = subtractLists (wantedTCP ++ cfg.allowedTCPPorts) fw.allowedTCPPorts;
  extraUDP = subtractLists (wantedUDP ++ cfg.allowedUDPPorts) fw.allowedUDPPorts;
in
{
  options.keepsake.firewall = {
    enable = mkEnableOption "the Keepsake firewall policy (only 80/443 TCP and mDNS inbound)" // {
      default = top.enable;
      defaultText = literalExpression "config.keepsake.enable";
    };

    allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      example = [ 22 ];
      description = ''
        TCP ports opened on purpose in addition to 80 and 443 (for example
        SSH for a helper). Ports opened elsewhere in the configuration but not
        listed here produce an evaluation warning.
      '';
    };

    allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      example = [ 51820 ];
      description = "UDP ports opened on purpose in addition to mDNS (5353).";
    };
  };

  config = mkIf cfg.enable {
    networking.firewall = {
      enable = true;
      allowedTCPPorts = wantedTCP ++ cfg.allowedTCPPorts;
      allowedUDPPorts = wantedUDP ++ cfg.allowedUDPPorts;
      # A rejected packet is noise on a home LAN; the journal stays readable.
      logRefusedConnections = false;
    };

    # Other modules (services.openssh.openFirewall defaults to true, for one)
    # can open ports behind our back; say so at every rebuild.
    warnings =
      lib.optional (extraTCP != [ ])
        "keepsake: the firewall also opens TCP ${lib.concatMapStringsSep ", " toString extraTCP}; list them in keepsake.firewall.allowedTCPPorts if intended."
      ++ lib.optional (extraUDP != [ ])
        "keepsake: the firewall also opens UDP ${lib.concatMapStringsSep ", " toString extraUDP}; list them in keepsake.firewall.allowedUDPPorts if intended.";
  };
}
