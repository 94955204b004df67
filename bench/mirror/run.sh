#!/usr/bin/env bash
# Benchmark: mirroring a photo library onto a USB drive, keepsake-mirror (the mirror-cli example,
# release build) side by side with the anchors, rsync and cp, in one run, each onto its own exFAT
# drive of the same kind: an exFAT image on a loop device mounted with exfat-fuse (the kernel of
# the lab machines has no exfat driver; a NixOS appliance mounts with the kernel's).
#
#   1 cold copy      keepsake: mirror-cli mirror DRIVE library=SRC
#                    rsync -rltD SRC/ DRIVE/library/          cp -r SRC DRIVE/
#                    rsync -rltD --fsync SRC/ DRIVE/library/  (durable file by file, as keepsake is)
#   2 no change      keepsake again                           rsync -rltD --modify-window=1 again
#   3 1 % changed    (content and mtime of 1 % of the media files rewritten, same sizes) both again
#   4 verify         keepsake: mirror-cli verify DRIVE (reads and hashes everything; no anchor)
#
# Each step is a plug-in: mount the drive, drop the page cache (COLD=1, needs root; the source is
# then read from disk too), run the tool, unmount (exfat-fuse writes what it holds back to the
# device). "wall s" is the tool's time, "to unmount s" adds the unmount. CPU and peak RSS come from
# /usr/bin/time -v for the tool (for rsync: its largest process, not the sum of its three); the
# exfat-fuse daemon's CPU is read from /proc, since the drive's filesystem costs CPU on these two
# cores too. Peak RSS of keepsake is also given per file, raw and above an 8-file run's baseline.
# Prints a Markdown table; removes its drives, loop devices, mounts and data at exit.
#
#   bench/mirror/run.sh                       100000 files (about 4.4 GB, see generate.py)
#   FILES=2000 bench/mirror/run.sh            a quick try of the script
#   THREADS=4 bench/mirror/run.sh             mirror-cli --threads 4 (default: the engine's)
#   FSYNC_ANCHOR=0 bench/mirror/run.sh        without the cold copy by rsync --fsync (which, like
#                                             keepsake-mirror, makes each file durable)
#   COLD=0 bench/mirror/run.sh                keep the page cache between steps (warm source)
#   TARGET=ext4 bench/mirror/run.sh           ext4 drives (the kernel's driver) instead of exFAT
#   BENCH_DIR=/somewhere bench/mirror/run.sh  work dir (default /work/benchdata; needs about
#                                             3x the library on disk: source + two drives)
#
# Needs root (losetup, mount), packages rsync, time, exfatprogs, exfat-fuse, python3, bc.
# Builds the example in release mode. Not run in CI.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FILES=${FILES:-100000}
THREADS=${THREADS:-}
COLD=${COLD:-1}
CHANGE_PERCENT=${CHANGE_PERCENT:-1}
DRIVE_SIZE=${DRIVE_SIZE:-64G}
BENCH_DIR=${BENCH_DIR:-/work/benchdata}
SEED=${SEED:-9}
TARGET=${TARGET:-exfat}
FSYNC_ANCHOR=${FSYNC_ANCHOR:-1}
case $TARGET in exfat | ext4) ;; *) echo "bench: TARGET is exfat or ext4, not $TARGET" >&2; exit 1 ;; esac

for tool in /usr/bin/time rsync mkfs.exfat mount.exfat-fuse losetup python3 bc; do
	command -v "$tool" >/dev/null || {
		echo "bench: $tool is not installed (apt-get install -y rsync time exfatprogs exfat-fuse python3 bc)" >&2
		exit 1
	}
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root for losetup and mount" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "bench: /dev/fuse is missing: exfat-fuse cannot mount" >&2; exit 1; }
if [ "$COLD" = 1 ] && ! { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
	echo "bench: cannot drop the page cache here; run with COLD=0 (and say the cache was warm)" >&2
	exit 1
fi

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	(cd "$ROOT" && nice cargo build --release --locked -p keepsake-mirror --example mirror-cli >&2)
fi
MIRROR=${MIRROR_CLI:-"${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mirror-cli"}
MIRROR_OPTS=()
[ -n "$THREADS" ] && MIRROR_OPTS+=(--threads "$THREADS")

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/bench-mirror.XXXXXX")
SRC="$WORK/src/library"
declare -A LOOP=()
cleanup() {
	set +e
	for d in "${!LOOP[@]}"; do
		mountpoint -q "$WORK/$d.mnt" && { umount "$WORK/$d.mnt" || umount -l "$WORK/$d.mnt"; }
		losetup -d "${LOOP[$d]}" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
load() { cut -d' ' -f1 /proc/loadavg; }
cpu_of() { awk -F': ' '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$1"; }
rss_kib() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
mib() { printf '%.1f' "$(echo "$1 / 1048576" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
json() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"; }
drop_cache() {
	if [ "$COLD" = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
	fi
}
# user + system CPU seconds of a live process, from /proc/PID/stat (fields 14 and 15, in ticks).
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# A drive: a sparse image (exfat: mkfs.exfat's defaults for its size, 128 KiB clusters at 64 GiB,
# as on a real USB disk; ext4: mkfs.ext4's) on a loop device, mounted at $WORK/<name>.mnt, with
# exfat-fuse for exfat.
new_drive() {
	truncate -s "$DRIVE_SIZE" "$WORK/$1.img"
	case $TARGET in
	exfat) mkfs.exfat -L "$1" "$WORK/$1.img" >/dev/null ;;
	ext4) mkfs.ext4 -q -L "$1" "$WORK/$1.img" ;;
	esac
	mkdir -p "$WORK/$1.mnt"
}
FUSE_PID=
plug() {
	LOOP[$1]=$(losetup -f --show "$WORK/$1.img")
	if [ "$TARGET" = ext4 ]; then
		mount -t ext4 "${LOOP[$1]}" "$WORK/$1.mnt"
		return
	fi
	mount.exfat-fuse "${LOOP[$1]}" "$WORK/$1.mnt" >/dev/null
	FUSE_PID=$(pgrep -f -x "mount.exfat-fuse ${LOOP[$1]} $WORK/$1.mnt" | awk "NR == 1")
	[ -n "$FUSE_PID" ] || { echo "bench: no exfat-fuse process for $1" >&2; exit 1; }
}
unplug() {
	# Retry a moment if busy: a process that just exited may not have closed everything yet.
	local i
	for i in $(seq 30); do
		umount "$WORK/$1.mnt" 2>/dev/null && break
		[ "$i" = 30 ] && { echo "bench: cannot unmount $1, in use by:" >&2; fuser -vm "$WORK/$1.mnt" >&2; exit 1; }
		sleep 1
	done
	losetup -d "${LOOP[$1]}"
	unset "LOOP[$1]"
}

ROWS=()
PHASES=()
export MIRROR_CLI_PROGRESS=1
STAMP='
import sys, time
for line in sys.stdin:
    if line.startswith("{\"phase\""):
        print("%.3f %s" % (time.time(), line), end="")
    else:
        sys.stderr.write(line)
'
# phases STEP T0: seconds from T0 to the first progress line of each phase of the last keepsake run.
phases() {
	local t0=$1
	local list
	list=$(sed -n 's/^\([0-9.]*\) {"phase":"\([a-z_]*\)".*/\2 \1/p' "$WORK/last.progress" |
		awk -v t0="$t0" '!($1 in seen) {seen[$1] = 1; printf "%s%s %.1f", sep, $1, $2 - t0; sep = ", "}')
	PHASES+=("| $2 | ${list:-(done before its first report)} |")
}
# run STEP TOOL DRIVE CMD...: one plug-in of DRIVE, the tool timed; appends a table row.
# The tool's stdout goes to $WORK/last.out.
run() {
	local step=$1 tool=$2 drive=$3
	shift 3
	plug "$drive"
	drop_cache
	local fuse0 t0 wall fuse_cpu unmount
	[ -n "$FUSE_PID" ] && fuse0=$(proc_cpu "$FUSE_PID")
	echo "bench: $step: $tool (load now $(load))" >&2
	t0=$(now)
	# keepsake-mirror's progress lines (MIRROR_CLI_PROGRESS, JSON on stderr) get a time stamp, to
	# time its phases; other tools' stderr passes through.
	/usr/bin/time -v -o "$WORK/last.time" "$@" >"$WORK/last.out" 2> >(python3 -u -c "$STAMP" >"$WORK/last.progress")
	wait $! 2>/dev/null || true
	wall=$(since "$t0")
	fuse_cpu=
	[ -n "$FUSE_PID" ] && fuse_cpu=$(printf '%.1f' "$(echo "$(proc_cpu "$FUSE_PID") - $fuse0" | bc)")
	unplug "$drive"
	unmount=$(since "$t0")
	LAST_RSS_KIB=$(rss_kib "$WORK/last.time")
	LAST_WALL=$wall
	LAST_T0=$t0
	ROWS+=("| $step | $tool | $wall | $unmount | $(cpu_of "$WORK/last.time") | $fuse_cpu | $(printf '%.1f' "$(echo "$LAST_RSS_KIB / 1024" | bc -l)") | $(load) |")
}

# check DRIVE DIR: the drive's DIR holds as many files and bytes as the source.
check() {
	plug "$1"
	local want got
	want=$(find "$SRC" -type f -printf '%s\n' | awk '{n++; s += $1} END {print n, s}')
	got=$(find "$WORK/$1.mnt/$2" -type f -printf '%s\n' | awk '{n++; s += $1} END {print n, s}')
	if [ -n "${3:-}" ]; then
		# and the changed files have the source's content
		(cd "$SRC" && while read -r f; do cmp -s "$f" "$WORK/$1.mnt/$2/$f" || echo "$f"; done <"$3") >"$WORK/differ"
		[ -s "$WORK/differ" ] && { echo "bench: $1: changed files not updated, e.g. $(head -1 "$WORK/differ")" >&2; unplug "$1"; exit 1; }
	fi
	unplug "$1"
	[ "$want" = "$got" ] || { echo "bench: $1/$2 has '$got' files and bytes, the source '$want'" >&2; exit 1; }
}

echo "bench: generating $FILES files in $SRC (load now $(load))" >&2
t0=$(now)
read -r SRC_FILES SRC_BYTES < <(python3 "$ROOT/bench/mirror/generate.py" make "$SRC" "$FILES" "$SEED")
echo "bench: generated $SRC_FILES files, $(mib "$SRC_BYTES") MiB in $(since "$t0") s" >&2

# The fixed cost of mirror-cli (runtime, threads, buffers): peak RSS mirroring 8 files to a plain directory.
mkdir -p "$WORK/tiny/library" "$WORK/tiny-drive"
find "$SRC" -type f | awk "NR <= 8" | while read -r f; do cp "$f" "$WORK/tiny/library/$RANDOM-${f##*/}"; done
/usr/bin/time -v -o "$WORK/tiny.time" env -u MIRROR_CLI_PROGRESS "$MIRROR" mirror "$WORK/tiny-drive" "library=$WORK/tiny/library" "${MIRROR_OPTS[@]}" >/dev/null
BASE_RSS_KIB=$(rss_kib "$WORK/tiny.time")

for d in bench-ks bench-rsync bench-cp; do new_drive "$d"; done

run "cold copy" "keepsake-mirror" bench-ks "$MIRROR" mirror "$WORK/bench-ks.mnt" "library=$SRC" "${MIRROR_OPTS[@]}"
cp "$WORK/last.out" "$WORK/ks-cold.json"
phases "$LAST_T0" "cold copy"
KS_COLD=$LAST_WALL
KS_RSS_KIB=$LAST_RSS_KIB
run "cold copy" "rsync -rltD" bench-rsync rsync -rltD "$SRC/" "$WORK/bench-rsync.mnt/library/"
RS_COLD=$LAST_WALL
if [ "$FSYNC_ANCHOR" = 1 ]; then
	new_drive bench-rsf
	run "cold copy" "rsync -rltD --fsync" bench-rsf rsync -rltD --fsync "$SRC/" "$WORK/bench-rsf.mnt/library/"
	check bench-rsf library
	rm -f "$WORK/bench-rsf.img"
fi
run "cold copy" "cp -r" bench-cp cp -r "$SRC" "$WORK/bench-cp.mnt/"
for d in bench-ks bench-rsync bench-cp; do check "$d" library; done
rm -f "$WORK/bench-cp.img"

run "no change" "keepsake-mirror" bench-ks "$MIRROR" mirror "$WORK/bench-ks.mnt" "library=$SRC" "${MIRROR_OPTS[@]}"
cp "$WORK/last.out" "$WORK/ks-same.json"
phases "$LAST_T0" "no change"
KS_SAME=$LAST_WALL
[ "$LAST_RSS_KIB" -gt "$KS_RSS_KIB" ] && KS_RSS_KIB=$LAST_RSS_KIB
run "no change" "rsync -rltD --modify-window=1" bench-rsync rsync -rltD --modify-window=1 "$SRC/" "$WORK/bench-rsync.mnt/library/"
RS_SAME=$LAST_WALL

read -r CH_FILES CH_BYTES < <(python3 "$ROOT/bench/mirror/generate.py" change "$SRC" "$CHANGE_PERCENT" "$SEED" "$WORK/changed")
echo "bench: rewrote $CH_FILES files, $(mib "$CH_BYTES") MiB" >&2
run "$CHANGE_PERCENT % changed" "keepsake-mirror" bench-ks "$MIRROR" mirror "$WORK/bench-ks.mnt" "library=$SRC" "${MIRROR_OPTS[@]}"
cp "$WORK/last.out" "$WORK/ks-change.json"
phases "$LAST_T0" "$CHANGE_PERCENT % changed"
[ "$LAST_RSS_KIB" -gt "$KS_RSS_KIB" ] && KS_RSS_KIB=$LAST_RSS_KIB
run "$CHANGE_PERCENT % changed" "rsync -rltD --modify-window=1" bench-rsync rsync -rltD --modify-window=1 "$SRC/" "$WORK/bench-rsync.mnt/library/"
for d in bench-ks bench-rsync; do check "$d" library "$WORK/changed"; done

run "verify" "keepsake-mirror verify" bench-ks "$MIRROR" verify "$WORK/bench-ks.mnt"
cp "$WORK/last.out" "$WORK/ks-verify.json"
phases "$LAST_T0" "verify"

# keepsake-mirror's own account of each run: it must have copied what changed and nothing else.
for f in cold same change; do
	echo "bench: keepsake-mirror $f: $(cat "$WORK/ks-$f.json")" >&2
done
[ "$(json "$WORK/ks-cold.json" files_copied)" = "$SRC_FILES" ] || { echo "bench: the cold run did not copy every file" >&2; exit 1; }
[ "$(json "$WORK/ks-same.json" files_copied)" = 0 ] || { echo "bench: the no-change run copied files" >&2; exit 1; }
[ "$(json "$WORK/ks-change.json" files_copied)" = "$CH_FILES" ] || { echo "bench: the 1 % run copied $(json "$WORK/ks-change.json" files_copied) files, $CH_FILES changed" >&2; exit 1; }
[ "$(json "$WORK/ks-verify.json" files_checked)" = "$SRC_FILES" ] || { echo "bench: verify checked $(json "$WORK/ks-verify.json" files_checked) files of $SRC_FILES" >&2; exit 1; }

PER_FILE=$(echo "$KS_RSS_KIB * 1024 / $SRC_FILES" | bc)
PER_FILE_ABOVE=$(echo "($KS_RSS_KIB - $BASE_RSS_KIB) * 1024 / $SRC_FILES" | bc)
THREADS_SHOWN=${THREADS:-the engine\'s default}
cat <<EOF

Library: $SRC_FILES files (Immich layout, .jpg/.heic/.mp4 and .xmp sidecars), $(mib "$SRC_BYTES") MiB, random content.
Changed for step 3: $CH_FILES files, $(mib "$CH_BYTES") MiB (same sizes, new content and mtime).
Drives: $DRIVE_SIZE $([ "$TARGET" = exfat ] && echo "exFAT images ($(mkfs.exfat -V 2>/dev/null | sed -n '1s/ version : / /p')) on loop devices, exfat-fuse $(dpkg-query -W -f '${Version}' exfat-fuse 2>/dev/null)" || echo "ext4 images on loop devices, kernel $(uname -r)"); $(rsync --version | sed -n 1p | sed 's/  */ /g'); mirror-cli threads: $THREADS_SHOWN.
Page cache: $([ "$COLD" = 1 ] && echo "dropped before every step (cold source and drive)" || echo "kept (warm source)"). $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo).

| step | tool | wall s | to unmount s | tool CPU s | exfat-fuse CPU s | peak RSS MiB | load after |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${ROWS[@]}")

keepsake-mirror's phases: seconds from its start to the first progress report of each phase.

| step | phases |
|---|---|
$(printf '%s\n' "${PHASES[@]}")

Cold copy: keepsake-mirror took $(ratio "$KS_COLD" "$RS_COLD")x rsync's time (target: at most 1).
No change: keepsake-mirror took $(ratio "$KS_SAME" "$RS_SAME")x rsync's time (target: at most 0.5).
Memory: keepsake-mirror peaked at $(printf '%.1f' "$(echo "$KS_RSS_KIB / 1024" | bc -l)") MiB, $PER_FILE bytes per file ($PER_FILE_ABOVE above its $(printf '%.1f' "$(echo "$BASE_RSS_KIB / 1024" | bc -l)") MiB baseline of an 8-file run) (target: under 150).
EOF
