#!/usr/bin/env bash
# run-all.sh - every benchmark of issue 2 in one run, with the machine's
# baselines measured alongside, and the ratios between them.
#
# Builds nothing: it expects the programs in build/bin (or $DFS_BIN_DIR, or
# -b DIR). Each benchmark starts its own mini-cluster through the test
# harness in /tmp and stops it. Takes a few minutes.
#
#   bench/baseline.sh       dd write/read to /tmp, memory, loopback TCP
#   dfsio -n 4 -s 1g        4 files written/read concurrently, replication 3
#   dfsio -n 1 -s 1g        one file (one pipeline), with a pread phase
#   nnbench -op all         create, mkdirs, open, fileStatus, rename, delete
#   rpc_bench               (if built) RPC round trips
#
# Usage: bench/run-all.sh [-b BINDIR] [-o RESULTFILE] [--quick]
#   --quick   smaller sizes (256 MiB files, 20000 namespace ops) for a smoke run
# Every result line ("bench=... key=value ...") is printed and also kept in
# RESULTFILE (default /tmp/dfs-bench-<date>.txt); the ratios come last.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${DFS_BIN_DIR:-$root/build/bin}
out=""
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    -b) bin=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-all.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=$(cd "$bin" 2>/dev/null && pwd) || { echo "run-all.sh: no bin dir $bin (build first)" >&2; exit 2; }
for p in dfsio nnbench loopback_bench membw_bench namenode datanode; do
  [ -x "$bin/$p" ] || { echo "run-all.sh: $bin/$p missing (build first)" >&2; exit 2; }
done
[ -n "$out" ] || out=/tmp/dfs-bench-$(date -u +%Y%m%dT%H%M%SZ).txt
: > "$out"

size=1g; nfiles=4; nnfiles=100000
if [ $quick = 1 ]; then size=256m; nnfiles=20000; fi

failures=0
run() { # title, command...
  echo
  echo "## $1"
  shift
  echo "\$ $*"
  local t0=$SECONDS
  "$@" 2> >(sed 's/^/  [stderr] /' >&2) | tee -a "$out"
  local rc=${PIPESTATUS[0]}
  echo "# ($((SECONDS - t0)) s, exit $rc)"
  [ "$rc" = 0 ] || failures=$((failures + 1))
}

echo "# run-all.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty')"
echo "# $(nproc) cores, $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# bin $bin; results in $out"

run "baselines" "$here/baseline.sh" -b "$bin" -d /tmp
run "dfsio: $nfiles files x $size, replication 3" "$bin/dfsio" -n $nfiles -s $size -r 3
run "dfsio: 1 file x $size, replication 3" "$bin/dfsio" -n 1 -s $size -r 3 --phases write,read,pread
run "nnbench: all operations, 64 threads" "$bin/nnbench" -op all -threads 64 -files $nnfiles -filesPerDir 1000
if [ -x "$bin/rpc_bench" ]; then
  run "rpc_bench" "$bin/rpc_bench"
fi

echo
echo "## ratios (same run)"
awk '
  function v(line, key,   n, i, kv) {
    n = split(line, kv, " ")
    for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
    return ""
  }
  /^bench=baseline/ { b[v($0, "kind")] = v($0, "MBps") + 0 }
  /^bench=loopback/ { lo = v($0, "GBps") * 1000 }
  /^bench=membw/    { mc = v($0, "memcpy_GBps") * 1000 }
  /^bench=dfsio/ {
    key = v($0, "phase") "_n" v($0, "files")
    d[key] = v($0, "MBps") + 0; c[key] = v($0, "cpu_s_per_gib") + 0; order[++no] = key
  }
  /^bench=nnbench/ { nn[v($0, "op")] = v($0, "ops_per_s") + 0 }
  END {
    for (i = 1; i <= no; i++) {
      k = order[i]; split(k, p, "_")
      if (p[1] == "write") {
        printf "ratio=%s dfsio_MBps=%s cpu_s_per_gib=%s vs_dd_write_fdatasync=%.2f vs_dd_write_direct=%.2f vs_loopback_div3=%.2f target_MBps=500 met=%d target_cpu_s_per_gib=4 cpu_met=%d\n", \
          k, d[k], c[k], d[k] / b["dd_write_fdatasync"], d[k] / b["dd_write_direct"], d[k] / (lo / 3), (d[k] >= 500), (c[k] <= 4)
      } else {
        printf "ratio=%s dfsio_MBps=%s cpu_s_per_gib=%s vs_dd_read_direct=%.2f vs_dd_read_buffered=%.2f vs_loopback=%.2f", \
          k, d[k], c[k], d[k] / b["dd_read_direct"], d[k] / b["dd_read_buffered"], d[k] / lo
        if (p[1] == "read") printf " target_MBps=1000 met=%d", (d[k] >= 1000)
        printf "\n"
      }
    }
    if ("create" in nn) printf "ratio=nn_create ops_per_s=%s target=20000 met=%d\n", nn["create"], (nn["create"] >= 20000)
    if ("fileStatus" in nn) printf "ratio=nn_fileStatus ops_per_s=%s target=100000 met=%d\n", nn["fileStatus"], (nn["fileStatus"] >= 100000)
  }' "$out" | tee -a "$out"
echo
echo "# done: $failures failed step(s); results in $out"
[ $failures = 0 ]
