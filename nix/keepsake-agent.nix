# keepsake-agent (root daemon) and keepsake (the root console command, crate
# keepsake-cli), from the workspace.
{
  buildKeepsakeRust,
  pkg-config,
  systemdLibs,
}:
buildKeepsakeRust {
  pname = "keepsake-agent";
  crates = [
    "keepsake-agent"
    "keepsake-cli"
  ];
  description = "Keepsake agent: the privileged daemon behind the Keepsake dashboard, and its console command";

  # libudev for USB-drive enumeration (the udev crate links it via pkg-config).
  nativeBuildInputs = [ pkg-config ];
  buildInputs = [ systemdLibs ];
}
