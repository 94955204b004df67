#!/usr/bin/env bash
# Real ZFS faults for tests, on the lab's zfs-fuse (tests/lab/lab.sh start zfs).
#
#   zfs_fault.sh create NAME DIR    pool NAME: a 2-way mirror of two 128 MiB files in DIR, mounted
#                                   on DIR/mnt, with 48 MiB of random data written through to disk
#   zfs_fault.sh corrupt NAME DIR   overwrite 32 MiB in the middle of DIR/a.img (not the labels at
#                                   either end), then scrub and wait for the scrub to finish: ZFS
#                                   finds the damage, counts CKSUM errors on a.img and repairs it
#                                   from b.img
#   zfs_fault.sh clear NAME         zpool clear: the error counters go back to zero
#   zfs_fault.sh status NAME        zpool status NAME
#   zfs_fault.sh destroy NAME DIR   destroy the pool (if it exists) and delete what create made
#
# A mirror, so that the damage is found, counted and repaired every time: with a single vdev the
# same corruption gives permanent errors or an unimportable pool depending on what it hits.
set -euo pipefail

VDEV_MB=128
DATA_MB=48
# Past the front labels and boot area (4 MiB) and well before the back labels (last 512 KiB).
CORRUPT_AT_MB=16
CORRUPT_MB=32
SCRUB_TIMEOUT_S=300

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  printf 'zfs_fault: %s\n' "$*" >&2
  exit 1
}

need_zfs() {
  zpool list -H >/dev/null 2>&1 || die "ZFS does not answer (run: tests/lab/lab.sh start zfs)"
}

abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

create() {
  local name=$1 dir
  dir=$(abs_dir "$2")
  need_zfs
  zpool list -H "$name" >/dev/null 2>&1 && die "pool $name already exists"
  mkdir -p "$dir/mnt"
  truncate -s "${VDEV_MB}M" "$dir/a.img" "$dir/b.img"
  zpool create -m "$dir/mnt" "$name" mirror "$dir/a.img" "$dir/b.img"
  dd if=/dev/urandom of="$dir/mnt/photos.bin" bs=1M count="$DATA_MB" status=none
  sync
  # Export and import: everything is on the vdev files, none of it only in memory.
  zpool export "$name"
  zpool import -d "$dir" "$name"
  [[ $(zpool list -H -o health "$name") == ONLINE ]] || die "pool $name is not ONLINE after import"
}

# Finished: no scrub in progress, and the last one completed (zfs-fuse: "scrub completed after",
# OpenZFS: "scrub repaired"). `zpool scrub` returns once the scrub has started.
scrub_done() {
  local status
  status=$(zpool status "$1")
  [[ $status != *"in progress"* ]] && [[ $status == *"scrub completed"* || $status == *"scrub repaired"* ]]
}

corrupt() {
  local name=$1 dir
  dir=$(abs_dir "$2")
  need_zfs
  [[ -f $dir/a.img ]] || die "$dir/a.img does not exist (run create first)"
  dd if=/dev/urandom of="$dir/a.img" bs=1M seek="$CORRUPT_AT_MB" count="$CORRUPT_MB" \
    conv=notrunc status=none
  sync
  zpool scrub "$name"
  local waited=0
  until scrub_done "$name"; do
    ((waited < SCRUB_TIMEOUT_S)) || die "the scrub of $name did not finish in ${SCRUB_TIMEOUT_S}s"
    sleep 1
    waited=$((waited + 1))
  done
}

destroy() {
  local name=$1 dir=$2
  if zpool list -H "$name" >/dev/null 2>&1; then
    # zfs-fuse may report the pool busy for a moment after a scrub or an unmount.
    local try
    for try in 1 2 3 4 5; do
      zpool destroy -f "$name" && break
      ((try < 5)) || die "cannot destroy pool $name"
      sleep 1
    done
  fi
  rm -f "$dir/a.img" "$dir/b.img"
  [[ -d $dir/mnt ]] && rmdir "$dir/mnt"
  return 0
}

[[ $# -ge 2 ]] || usage
cmd=$1
shift
case $cmd in
  create) [[ $# -eq 2 ]] || usage; create "$1" "$2" ;;
  corrupt) [[ $# -eq 2 ]] || usage; corrupt "$1" "$2" ;;
  clear) [[ $# -eq 1 ]] || usage; need_zfs; zpool clear "$1" ;;
  status) [[ $# -eq 1 ]] || usage; need_zfs; zpool status "$1" ;;
  destroy) [[ $# -eq 2 ]] || usage; destroy "$1" "$2" ;;
  *) usage ;;
esac
