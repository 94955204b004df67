# systemd sandboxing for Keepsake's units, written once. Pure attribute sets of
# serviceConfig settings; a unit takes one and adds what is its own:
#
#   serviceConfig = hardening.unprivileged // { RestrictAddressFamilies = [ ... ]; };
#
# Why each unit takes what it takes is said where it is used (modules/agent.nix,
# modules/avahi.nix).
rec {
  # For every Keepsake unit, the root agent included: none of these gets in the
  # way of what any of them does.
  common = {
    # No unit gains privileges through setuid binaries (the agent already is root).
    NoNewPrivileges = true;
    ProtectHome = true;
    PrivateTmp = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectKernelTunables = true;
    ProtectControlGroups = true;
    ProtectHostname = true;
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    SystemCallArchitectures = "native";
    SystemCallErrorNumber = "EPERM";
  };

  # For units that hold no privilege and parse or publish on behalf of the
  # network (keepsake-web, modelled on cockpit-ws; the mDNS alias): nothing they
  # do not need. The file system is read-only, no devices, no capabilities, and
  # only the system calls of an ordinary service.
  unprivileged = common // {
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    ProtectSystem = "strict";
    PrivateDevices = true;
    DevicePolicy = "closed";
    PrivateIPC = true;
    ProtectProc = "invisible";
    ProcSubset = "pid";
    ProtectClock = true;
    RemoveIPC = true;
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
      "~@resources"
    ];
  };
}
