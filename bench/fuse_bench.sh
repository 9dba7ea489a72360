#!/bin/bash
# fuse_bench.sh - the dfs-fuse mount against `dfs put/get` and the local disk,
# in one run (issue 4).
#
#   bench/fuse_bench.sh [SIZE_MB (1024)] [FILES (10000)] [THREADS (8)]
#
# Starts a local cluster (scripts/cluster.sh, 3 DataNodes, replication 3,
# 128 MiB blocks, free ports, temporary directory), mounts it with dfs-fuse
# and measures:
#   write/read  SIZE_MB through the mount (dd bs=1M; the write includes
#               close(2), which hflushes: every byte acknowledged by all three
#               DataNodes), with `dfs put`/`dfs get`, and on the local disk
#               (dd conv=fdatasync); the source and the read destination are in
#               /dev/shm so that only the filesystem under test is measured;
#               page caches are dropped before every read; every read runs
#               twice, op=read and op=reread: on a virtual machine the first
#               use of fresh page-cache pages costs the hypervisor's work
#               (docs/benchmarks.md, "The first read"), which the first
#               read through the page cache pays and the second does not;
#   limits      what a replicated write to this one disk can reach: REPL
#               writers at once (dd oflag=direct, as the DataNodes write, one
#               file each, the replication factor of them; op=write_parallel
#               is their sum), divided by REPL; the write lines' ratio to it.
#               Each writer ends with fdatasync (conv=fdatasync), as the
#               local write does: the DFS write's close waits for the
#               NameNode's edit-log fdatasync, which on a disk shared with
#               the DataNodes flushes their data from the disk's cache too;
#   meta        create/stat/unlink of FILES empty files (build/bin/fuse_bench,
#               1 and THREADS threads, each thread in its own directory; stats
#               cold: kernel caches dropped first);
#   cp          cp -r of 1,000 small files (1-16 KiB) into the mount, with
#               `dfs put` (and `dfs put -t THREADS`: op=cp_small_threads),
#               and onto the local disk (+ sync).
# Every result is one line:
#   fuse_bench target=mount|dfs|local op=NAME ... secs=S MB_per_s=R | ops_per_s=R
# BUILD_DIR (default build) selects the binaries. Needs root (drop_caches,
# mounting); stops the cluster and unmounts on exit.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
BIN="$BUILD_DIR/bin"
MB="${1:-1024}"
NFILES="${2:-10000}"
THREADS="${3:-8}"

for b in namenode datanode dfs dfs-fuse fuse_bench; do
  [ -x "$BIN/$b" ] || { echo "fuse_bench.sh: $BIN/$b missing (build first)" >&2; exit 1; }
done
[ -e /dev/fuse ] || { echo "fuse_bench.sh: /dev/fuse missing" >&2; exit 1; }

T="$(mktemp -d /tmp/fuse_bench.XXXXXX)"
SHM="$(mktemp -d /dev/shm/fuse_bench.XXXXXX)"
MNT="$T/mnt"; CL="$T/cluster"; LOCAL="$T/local"
mkdir -p "$MNT" "$LOCAL"
FUSE_PID=""
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT" 2>/dev/null
  if [ -n "$FUSE_PID" ]; then
    for _ in $(seq 1 100); do kill -0 "$FUSE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$FUSE_PID" 2>/dev/null || true
  fi
  BUILD_DIR="$BUILD_DIR" "$ROOT/scripts/cluster.sh" stop --dir "$CL" >/dev/null 2>&1 || true
  rm -rf "$T" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
for _ in $(seq 1 50); do
  NN_PORT=$((20000 + RANDOM % 20000)); DN_PORT=$((40000 + RANDOM % 20000))
  port_free $NN_PORT && port_free $DN_PORT && port_free $((DN_PORT + 1)) && port_free $((DN_PORT + 2)) && break
done
export BUILD_DIR DFS_NN_PORT=$NN_PORT DFS_DN_BASE_PORT=$DN_PORT
"$ROOT/scripts/cluster.sh" start --dir "$CL" > "$T/cluster.out" 2>&1 || { cat "$T/cluster.out"; exit 1; }
DFS=("$BIN/dfs" --conf "$CL/conf")
"$BIN/dfs-fuse" "127.0.0.1:$NN_PORT" "$MNT" -f -o "conf=$CL/conf" 2> "$T/fuse.log" &
FUSE_PID=$!
for _ in $(seq 1 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT" || { cat "$T/fuse.log"; echo "fuse_bench.sh: mount failed" >&2; exit 1; }

now() { date +%s.%N; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
declare -A MBPS # "target op" -> MB/s of the last rate line
rate() { # target op bytes t0 t1
  local line
  line=$(awk -v t="$1" -v op="$2" -v b="$3" -v a="$4" -v z="$5" 'BEGIN {
    s = z - a; printf "fuse_bench target=%s op=%s bytes=%.0f secs=%.3f MB_per_s=%.0f\n", t, op, b, s, b / s / 1e6 }')
  echo "$line"
  MBPS["$1 $2"]=${line##*=}
}
read_twice() { # target command... (reads into $SHM/dst)
  local t="$1" op; shift
  for op in read reread; do
    drop; t0=$(now); "$@" >/dev/null || exit 1; t1=$(now)
    rate "$t" $op $BYTES "$t0" "$t1"
    [ $op = read ] && ! cmp -s "$SHM/src" "$SHM/dst" && echo "fuse_bench.sh: WARNING: $t read differs" >&2
    rm -f "$SHM/dst"
  done
}
ops() { # target op n t0 t1
  awk -v t="$1" -v op="$2" -v n="$3" -v a="$4" -v z="$5" 'BEGIN {
    s = z - a; printf "fuse_bench target=%s op=%s n=%d secs=%.3f ops_per_s=%.0f\n", t, op, n, s, n / s }'
}

BYTES=$((MB * 1048576))
echo "# fuse_bench.sh: $MB MiB, $NFILES files, $THREADS threads, $(nproc) cores, $(date -u +%FT%TZ)"
dd if=/dev/urandom of="$SHM/src" bs=1M count="$MB" status=none

# ---- sequential write and read ----------------------------------------------
drop; t0=$(now); dd if="$SHM/src" of="$MNT/seq" bs=1M status=none || exit 1; t1=$(now)
rate mount write $BYTES "$t0" "$t1"
read_twice mount dd if="$MNT/seq" of="$SHM/dst" bs=1M status=none
drop; t0=$(now); "${DFS[@]}" put -d "$SHM/src" /put >/dev/null || exit 1; t1=$(now)
rate dfs write $BYTES "$t0" "$t1"
read_twice dfs "${DFS[@]}" get /put "$SHM/dst"
"${DFS[@]}" rm /put /seq >/dev/null 2>&1
drop; t0=$(now); dd if="$SHM/src" of="$LOCAL/seq" bs=1M conv=fdatasync status=none; t1=$(now)
rate local write $BYTES "$t0" "$t1"
read_twice local dd if="$LOCAL/seq" of="$SHM/dst" bs=1M status=none
rm -f "$LOCAL/seq"
REPL=$("${DFS[@]}" --print-config 2>/dev/null | awk '$1 == "dfs.replication" { print $3 }')
drop; t0=$(now); DDS=()
for i in $(seq 1 "$REPL"); do
  dd if="$SHM/src" of="$LOCAL/par$i" bs=1M oflag=direct conv=fdatasync status=none &
  DDS+=($!)
done
wait "${DDS[@]}"; t1=$(now) # (not a bare wait: dfs-fuse is a child too)
rate local write_parallel $((BYTES * REPL)) "$t0" "$t1"
rm -f "$SHM/src" "$LOCAL"/par*
awk -v d="${MBPS[local write_parallel]}" -v r="$REPL" -v m="${MBPS[mount write]}" -v p="${MBPS[dfs write]}" 'BEGIN {
  l = d / r
  printf "fuse_bench limits disk_write_MB_per_s=%.0f replication=%d replicated_write_limit_MB_per_s=%.0f mount_write_ratio=%.2f dfs_write_ratio=%.2f\n", d, r, l, m / l, p / l }'

# ---- metadata: create / stat / unlink -----------------------------------------
for th in 1 "$THREADS"; do
  FUSE_BENCH_DROP_CACHES=1 "$BIN/fuse_bench" "$MNT" mount "$NFILES" "$th"
  FUSE_BENCH_DROP_CACHES=1 "$BIN/fuse_bench" "$LOCAL" local "$NFILES" "$th"
done

# ---- cp of 1,000 small files --------------------------------------------------
mkdir -p "$SHM/small"
for i in $(seq -w 1 1000); do
  head -c $(( (RANDOM % 16 + 1) * 1024 )) /dev/urandom > "$SHM/small/s$i"
done
SMALL_BYTES=$(du -sb "$SHM/small" | cut -f1)
t0=$(now); cp -r "$SHM/small" "$MNT/small" || exit 1; t1=$(now)
ops mount cp_small 1000 "$t0" "$t1"
diff -r "$SHM/small" "$MNT/small" >/dev/null || echo "fuse_bench.sh: WARNING: cp -r differs" >&2
t0=$(now); "${DFS[@]}" put -d "$SHM/small" /small2 >/dev/null || exit 1; t1=$(now)
ops dfs cp_small 1000 "$t0" "$t1"
t0=$(now); "${DFS[@]}" put -d -t "$THREADS" "$SHM/small" /small3 >/dev/null || exit 1; t1=$(now)
ops dfs cp_small_threads 1000 "$t0" "$t1"
t0=$(now); cp -r "$SHM/small" "$LOCAL/small" && sync; t1=$(now)
ops local cp_small 1000 "$t0" "$t1"
echo "# small files: $SMALL_BYTES bytes in all"
