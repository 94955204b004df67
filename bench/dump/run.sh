#!/usr/bin/env bash
# Benchmark: dumping and restoring an Immich-shaped database of at least 2 GB in the lab
# PostgreSQL, Keepsake's pipeline side by side with the anchor, what Immich does, in one run:
#
#   dump     (a) pg_dump --clean --if-exists DB | gzip --rsyncable > x.sql.gz
#            (b) pg_dump --clean --if-exists DB | dump --out x.sql.zst   (keepsake-dump's example)
#   restore  (a) gunzip -c x.sql.gz | psql --single-transaction --set ON_ERROR_STOP=on NEW_DB
#            (b) dump --restore x.sql.zst | psql --single-transaction --set ON_ERROR_STOP=on NEW_DB
#
# plus pg_dump alone into /dev/null (the floor no compressor can beat) and `dump --verify`.
# Wall time is the whole pipeline's; CPU time and peak RSS (/usr/bin/time -v) are the compressing
# or decompressing process's alone. Prints a Markdown table; drops every database it made.
#
#   bench/dump/run.sh                     500000 assets (about 2.1 GB in PostgreSQL)
#   ASSETS=50000 bench/dump/run.sh        a quick try of the script
#   LEVEL=3 WORKERS=2 bench/dump/run.sh   other zstd settings for (b)
#
# Needs: the lab PostgreSQL 15 (tests/lab/lab.sh install postgres && tests/lab/lab.sh start postgres),
# GNU time (/usr/bin/time), gzip, bc. Builds the example in release mode. Not run in CI.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ASSETS=${ASSETS:-500000}
LEVEL=${LEVEL:-}
WORKERS=${WORKERS:-}
PG_BIN=/usr/lib/postgresql/15/bin
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1)

for tool in /usr/bin/time gzip gunzip bc "$PG_BIN/pg_dump"; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
if [ -z "${KEEPSAKE_LAB_PG_URL:-}" ] && [ -f "$ROOT/tests/.lab/env" ]; then
	. "$ROOT/tests/.lab/env"
fi
[ -n "${KEEPSAKE_LAB_PG_URL:-}" ] || { echo "bench: the lab postgres is not started: run tests/lab/lab.sh start postgres" >&2; exit 1; }
BASE=${KEEPSAKE_LAB_PG_URL%/*}

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	(cd "$ROOT" && cargo build --release --locked -p keepsake-dump --example dump >&2)
fi
DUMP="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/dump"
DUMP_OPTS=()
[ -n "$LEVEL" ] && DUMP_OPTS+=(--level "$LEVEL")
[ -n "$WORKERS" ] && DUMP_OPTS+=(--workers "$WORKERS")

WORK=$(mktemp -d /var/tmp/keepsake-bench-dump.XXXXXX)
SRC=keepsake_bench_dump_$$
RGZ=keepsake_bench_restore_gz_$$
RZS=keepsake_bench_restore_zst_$$
cleanup() {
	for db in "$SRC" "$RGZ" "$RZS"; do
		"${PSQL[@]}" -d "$BASE/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
# From a /usr/bin/time -v report: CPU seconds (user + system) and peak RSS in MiB.
cpu_of() { awk -F': ' '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$1"; }
rss_of() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }
# The 1-minute load average: other work on a shared machine shows here.
load() { cut -d' ' -f1 /proc/loadavg; }
mib() { printf '%.1f' "$(echo "$1 / 1048576" | bc -l)"; }

echo "bench: generating $ASSETS assets in $SRC (load now $(load))" >&2
t0=$(now)
"${PSQL[@]}" -d "$BASE/postgres" -c "CREATE DATABASE $SRC"
"${PSQL[@]}" -d "$BASE/$SRC" -v schema=1 -f "$ROOT/bench/dump/generate.sql"
"${PSQL[@]}" -d "$BASE/$SRC" -v assets="$ASSETS" -v part=0 -v parts=2 -f "$ROOT/bench/dump/generate.sql" &
part0=$!
"${PSQL[@]}" -d "$BASE/$SRC" -v assets="$ASSETS" -v part=1 -v parts=2 -f "$ROOT/bench/dump/generate.sql"
wait "$part0"
"${PSQL[@]}" -d "$BASE/$SRC" -v indexes=1 -f "$ROOT/bench/dump/generate.sql"
"${PSQL[@]}" -d "$BASE/$SRC" -c "VACUUM" -c "CHECKPOINT"
DB_BYTES=$("${PSQL[@]}" -At -d "$BASE/$SRC" -c "SELECT pg_database_size(current_database())")
echo "bench: generated $(mib "$DB_BYTES") MiB in $(since "$t0") s" >&2

SRC_URL="$BASE/$SRC"
"${PSQL[@]}" -d "$BASE/postgres" -c "CHECKPOINT"
echo "bench: pg_dump alone" >&2
t0=$(now)
"$PG_BIN/pg_dump" --clean --if-exists --dbname "$SRC_URL" >/dev/null
FLOOR_S=$(since "$t0")
FLOOR_LOAD=$(load)

echo "bench: (a) pg_dump | gzip --rsyncable" >&2
t0=$(now)
"$PG_BIN/pg_dump" --clean --if-exists --dbname "$SRC_URL" |
	/usr/bin/time -v -o "$WORK/a.time" gzip --rsyncable >"$WORK/x.sql.gz"
A_S=$(since "$t0")
A_LOAD=$(load)
A_SIZE=$(stat -c %s "$WORK/x.sql.gz")

echo "bench: (b) pg_dump | dump --out ${DUMP_OPTS[*]}" >&2
t0=$(now)
"$PG_BIN/pg_dump" --clean --if-exists --dbname "$SRC_URL" |
	/usr/bin/time -v -o "$WORK/b.time" "$DUMP" --out "$WORK/x.sql.zst" "${DUMP_OPTS[@]}" >"$WORK/b.out"
B_S=$(since "$t0")
B_LOAD=$(load)
B_SIZE=$(stat -c %s "$WORK/x.sql.zst")
field() { tr ' ' '\n' <"$WORK/b.out" | sed -n "s/^$1=//p"; }
B_SIZE_REPORTED=$(field size)
SQL_BYTES=$(field uncompressed_size)
B_HASH=$(field blake3)
[ "$B_SIZE_REPORTED" = "$B_SIZE" ] || { echo "bench: reported size $B_SIZE_REPORTED, file $B_SIZE" >&2; exit 1; }

t0=$(now)
/usr/bin/time -v -o "$WORK/v.time" "$DUMP" --verify "$WORK/x.sql.zst" "$B_SIZE" "$B_HASH"
V_S=$(since "$t0")
V_LOAD=$(load)

# Each restore goes into a new empty database, after a checkpoint, so neither pays for the other's writes.
fresh() {
	"${PSQL[@]}" -d "$BASE/postgres" -c "CREATE DATABASE $1" -c "CHECKPOINT"
}
PSQL_RESTORE=("${PSQL[@]}" --single-transaction --set ON_ERROR_STOP=on)
echo "bench: (a) gunzip | psql" >&2
fresh "$RGZ"
t0=$(now)
/usr/bin/time -v -o "$WORK/ra.time" gunzip -c "$WORK/x.sql.gz" | "${PSQL_RESTORE[@]}" -d "$BASE/$RGZ" >/dev/null
RA_S=$(since "$t0")
RA_LOAD=$(load)
echo "bench: (b) dump --restore | psql" >&2
fresh "$RZS"
t0=$(now)
/usr/bin/time -v -o "$WORK/rb.time" "$DUMP" --restore "$WORK/x.sql.zst" | "${PSQL_RESTORE[@]}" -d "$BASE/$RZS" >/dev/null
RB_S=$(since "$t0")
RB_LOAD=$(load)

count() { "${PSQL[@]}" -At -d "$BASE/$1" -c "SELECT (SELECT count(*) FROM assets) || '/' || (SELECT count(*) FROM smart_search)"; }
for db in "$RGZ" "$RZS"; do
	[ "$(count "$db")" = "$(count "$SRC")" ] || { echo "bench: $db has $(count "$db") rows, source $(count "$SRC")" >&2; exit 1; }
done

ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
cat <<EOF

Database: $ASSETS assets, $(mib "$DB_BYTES") MiB in PostgreSQL, $(mib "$SQL_BYTES") MiB of SQL from pg_dump.
zstd level $(field level), $(field workers) extra worker threads; $(gzip --version | head -1); $("$PG_BIN/pg_dump" --version).
$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo).

| step | pipeline | wall s | file MiB | ratio | (de)compressor CPU s | (de)compressor peak RSS MiB | load after |
|---|---|---|---|---|---|---|---|
| dump | floor: pg_dump > /dev/null | $FLOOR_S | | | | | $FLOOR_LOAD |
| dump | (a) pg_dump \| gzip --rsyncable | $A_S | $(mib "$A_SIZE") | $(ratio "$SQL_BYTES" "$A_SIZE") | $(cpu_of "$WORK/a.time") | $(rss_of "$WORK/a.time") | $A_LOAD |
| dump | (b) pg_dump \| keepsake-dump (zstd) | $B_S | $(mib "$B_SIZE") | $(ratio "$SQL_BYTES" "$B_SIZE") | $(cpu_of "$WORK/b.time") | $(rss_of "$WORK/b.time") | $B_LOAD |
| verify | (b) BLAKE3 of the file | $V_S | | | $(cpu_of "$WORK/v.time") | $(rss_of "$WORK/v.time") | $V_LOAD |
| restore | (a) gunzip \| psql | $RA_S | | | $(cpu_of "$WORK/ra.time") | $(rss_of "$WORK/ra.time") | $RA_LOAD |
| restore | (b) keepsake-dump restore_stream \| psql | $RB_S | | | $(cpu_of "$WORK/rb.time") | $(rss_of "$WORK/rb.time") | $RB_LOAD |

Dump: (b) is $(ratio "$A_S" "$B_S")x faster than (a), its file $(ratio "$B_SIZE" "$A_SIZE")x the size. Restore: (b) $(ratio "$RA_S" "$RB_S")x as fast as (a).
EOF
