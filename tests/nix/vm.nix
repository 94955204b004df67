# NixOS VM test: boot the appliance and check the trust boundary end to end.
#
#   nix build .#checks.x86_64-linux.vm -L        (needs KVM)
#   nix run .#checks.x86_64-linux.vm.driverInteractive   (to poke around)
#
# Two machines on one VLAN: `box` runs Keepsake, `phone` plays a family
# member's device that finds the box by mDNS and talks to it over HTTPS.
{ pkgs, self }:
pkgs.testers.runNixOSTest {
  name = "keepsake";

  nodes.box =
    { pkgs, ... }:
    {
      imports = [ self.nixosModules.default ];

      keepsake.enable = true;
      # No network in the sandbox: nothing to upgrade from.
      keepsake.updates.enable = false;
      # Announce only on the test VLAN (eth1); eth0 is QEMU's private NAT,
      # whose 10.0.2.15 every VM shares.
      keepsake.avahi.interfaces = [ "eth1" ];

      virtualisation.memorySize = 2048;
      virtualisation.diskSize = 4096;

      # alice is in group keepsake (passes the socket's file mode) but is
      # neither root nor keepsake-web, so the agent's SO_PEERCRED check must
      # refuse her. mallory is in no group at all.
      users.users.alice = {
        isNormalUser = true;
        extraGroups = [ "keepsake" ];
      };
      users.users.mallory.isNormalUser = true;

      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
    };

  nodes.phone =
    { pkgs, ... }:
    {
      services.avahi = {
        enable = true;
        nssmdns4 = true;
        allowInterfaces = [ "eth1" ];
      };
      environment.systemPackages = [ pkgs.curl ];
    };

  testScript = ''
    import json

    start_all()

    box.wait_for_unit("keepsake-agent.service")
    box.wait_for_unit("keepsake-web.service")
    box.wait_for_unit("caddy.service")
    box.wait_for_unit("avahi-daemon.service")
    box.wait_for_file("/run/keepsake/agent.sock")

    with subtest("agent socket: 0660 root:keepsake in a 0750 root:keepsake directory"):
        out = box.succeed("stat -c '%a %U %G %F' /run/keepsake/agent.sock").strip()
        assert out == "660 root keepsake socket", f"socket: {out!r}"
        out = box.succeed("stat -c '%a %U %G' /run/keepsake").strip()
        assert out == "750 root keepsake", f"runtime dir: {out!r}"

    with subtest("root and the web user reach the agent"):
        box.succeed(
            "curl -sf --unix-socket /run/keepsake/agent.sock http://agent/api/v1/health"
            " | jq -e '.status == \"ok\"'"
        )
        box.succeed(
            "runuser -u keepsake-web -- curl -sf --unix-socket /run/keepsake/agent.sock"
            " http://agent/api/v1/health"
        )

    with subtest("other users cannot use the agent socket"):
        # mallory: stopped by the directory and socket modes (EACCES).
        box.fail(
            "runuser -u mallory -- curl -sf --unix-socket /run/keepsake/agent.sock"
            " http://agent/api/v1/health"
        )
        # alice: passes the file modes, refused by the agent's peer check.
        box.fail(
            "runuser -u alice -- curl -sf --unix-socket /run/keepsake/agent.sock"
            " http://agent/api/v1/health"
        )

    with subtest("keepsake-web serves agent status on loopback"):
        box.wait_for_open_port(8080, addr="127.0.0.1")
        status = json.loads(box.succeed("curl -sf http://127.0.0.1:8080/api/v1/status"))
        assert "version" in status and "facilities" in status, status

    with subtest("keepsake-web runs unprivileged"):
        pid = box.succeed("systemctl show -p MainPID --value keepsake-web.service").strip()
        box.succeed(f"grep -E '^CapEff:[[:space:]]+0+$' /proc/{pid}/status")
        box.succeed(f"grep -E '^CapBnd:[[:space:]]+0+$' /proc/{pid}/status")
        user = box.succeed(f"ps -o user= -p {pid}").strip()
        assert user == "keepsake-web", f"keepsake-web runs as {user!r}"
        # Exposure is 0-10; the threshold is in tenths. 4.0 is the top of "OK".
        box.succeed("systemd-analyze security --threshold=40 keepsake-web.service")

    with subtest("Caddy fronts the dashboard with its local CA"):
        box.wait_for_open_port(443)
        box.succeed(
            "curl -sfk --resolve keepsake.local:443:127.0.0.1"
            " https://keepsake.local/api/v1/status | jq -e .version"
        )
        box.wait_until_succeeds(
            "curl -sf --resolve keepsake.local:80:127.0.0.1 http://keepsake.local/ca.crt"
            " | grep -q 'BEGIN CERTIFICATE'"
        )

    with subtest("the phone finds the box by mDNS and reaches only Caddy"):
        phone.wait_for_unit("avahi-daemon.service")
        phone.wait_until_succeeds("getent hosts immich.local", timeout=60)
        box.wait_for_unit("keepsake-mdns-alias.service")
        phone.wait_until_succeeds("getent hosts keepsake.local", timeout=60)
        phone.wait_until_succeeds(
            "curl -sfk https://keepsake.local/api/v1/status | grep -q version", timeout=60
        )
        # keepsake-web listens on loopback only, and the firewall has no hole.
        phone.fail("curl -sf --max-time 5 http://box:8080/")
        # Nothing else listens to the LAN: Immich's port is not reachable.
        phone.fail("curl -sf --max-time 5 http://box:2283/")
  '';
}
