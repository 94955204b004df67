# shellcheck shell=bash
# Debian 12 root filesystems built with debootstrap and cached as tarballs, so that only the first
# run on a machine pays for debootstrap. Sourced (not run) by tests/lab/lab.sh (the images of the
# systemd and PostgreSQL containers) and tests/install/clean-rootfs.sh (the clean machine the
# installer runs in).

# debian_mirror: the Debian mirror that apt's own sources list on this machine names.
debian_mirror() {
  local m=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    m=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $m && -f /etc/apt/sources.list ]]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# rootfs_tarball TARBALL LOGFILE [PKG,PKG...]: makes TARBALL, a tar of a minbase bookworm root
# filesystem with the given extra packages, unless it already exists. Returns non-zero (after
# saying why on stderr) when it cannot; debootstrap's own output goes to LOGFILE.
rootfs_tarball() {
  local tarball=$1 logf=$2 include=${3:-} root
  [[ -s $tarball ]] && return 0
  if ! command -v debootstrap >/dev/null; then
    echo "debootstrap is not installed (apt-get install -y debootstrap)" >&2
    return 1
  fi
  root=$tarball.root
  rm -rf "$root"
  mkdir -p "$(dirname "$tarball")" "$(dirname "$logf")"
  if ! debootstrap --variant=minbase ${include:+"--include=$include"} bookworm "$root" "$(debian_mirror)" >>"$logf" 2>&1; then
    echo "debootstrap of bookworm failed (see $logf)" >&2
    rm -rf "$root"
    return 1
  fi
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  [[ -s $tarball ]]
}
