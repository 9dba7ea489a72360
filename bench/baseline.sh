#!/usr/bin/env bash
# baseline.sh - the machine's physical limits, measured in the same run as
# the DFS benchmarks so that their ratios mean something (FIELD-NOTES.md:
# disk figures vary 2-4x between runs on this virtual disk).
#
#   disk    dd of 2 GiB to a file in DIR (default /tmp, where the harness puts
#           the DataNodes' data dirs; same filesystem) with conv=fdatasync,
#           buffered and O_DIRECT (the DataNode writes and reads its block
#           files with O_DIRECT), then dd read back, buffered (page cache)
#           and O_DIRECT
#   memory  bench/membw_bench (memcpy, read, CRC32C of one core) and dd bs=1M
#           of a 1 GiB file on tmpfs (/dev/shm) to /dev/null
#   network bench/loopback_bench: one TCP stream over 127.0.0.1, 4 GiB in 1 MiB
#           writes
#
# Usage: bench/baseline.sh [-d DIR] [-b BINDIR]
# Prints "bench=baseline kind=... MBps=..." lines (MB = 10^6 bytes).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=/tmp
bin=${DFS_BIN_DIR:-$here/../build/bin}
while [ $# -gt 0 ]; do
  case "$1" in
    -d) dir=$2; shift 2 ;;
    -b) bin=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "baseline.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

tmp=$(mktemp -d "$dir/dfs-baseline-XXXXXX")
shm=""
cleanup() { rm -rf "$tmp"; if [ -n "$shm" ]; then rm -f "$shm"; fi; }
trap cleanup EXIT

# dd's last stderr line: "2147483648 bytes (2.1 GB, 2.0 GiB) copied, 2.51 s, 856 MB/s"
dd_line() { # kind, dd args...
  local kind=$1; shift
  local out
  out=$(LC_ALL=C dd "$@" 2>&1 | tail -n 1)
  echo "$out" | awk -v kind="$kind" '{
    bytes=$1; for (i=1;i<=NF;i++) if ($i=="copied,") secs=$(i+1);
    printf "bench=baseline kind=%s bytes=%.0f seconds=%.3f MBps=%.1f MiBps=%.1f\n",
      kind, bytes, secs, bytes/secs/1e6, bytes/secs/1048576 }'
}

f=$tmp/ddfile
dd_line dd_write_fdatasync if=/dev/zero of="$f" bs=1M count=2048 conv=fdatasync
dd_line dd_read_buffered if="$f" of=/dev/null bs=1M
rm -f "$f"
dd_line dd_write_direct if=/dev/zero of="$f" bs=1M count=2048 oflag=direct conv=fdatasync
dd_line dd_read_direct if="$f" of=/dev/null bs=1M iflag=direct
rm -f "$f"

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm=$(mktemp /dev/shm/dfs-baseline-XXXXXX)
  dd if=/dev/zero of="$shm" bs=1M count=1024 status=none
  dd_line tmpfs_read if="$shm" of=/dev/null bs=1M
  rm -f "$shm"; shm=""
fi

"$bin/membw_bench"
"$bin/loopback_bench"
