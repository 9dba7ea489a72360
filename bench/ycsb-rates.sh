#!/usr/bin/env bash
# ycsb-rates.sh - issue 5's YCSB figures in one run: each workload flat out,
# then again at a fixed fraction of the region engine's flat-out rate, with
# RocksDB (unsynced WAL) at the same rate as the reference. Latency at a
# given throughput is how YCSB results are usually compared; flat out, the
# client threads saturate the cores and a p99 is mostly queueing for a CPU
# (docs/benchmarks.md, "Latency at a fixed rate").
#
# Builds nothing: it expects build/bin/ycsb (or $DFS_BIN_DIR, or -b DIR),
# built with the region engine and RocksDB. The region engine starts its own
# mini-cluster (a NameNode and 3 DataNodes under $TMPDIR) unless --namenode
# names a running one.
#
# Usage: bench/ycsb-rates.sh [-b BINDIR] [-o RESULTFILE] [--workloads A,B,C,E,F]
#          [--threads 8] [--records 100000] [--ops 100000] [--fraction 0.5]
#          [--namenode HOST:PORT]
#        bench/ycsb-rates.sh --summary RESULTFILE   (the table of an earlier run)
# Every ycsb result line is printed and kept in RESULTFILE (default
# /tmp/ycsb-rates-<date>.txt); a summary table comes last: per workload and
# engine, the flat-out rate, the fixed rate, and p99 / intended p99 (from
# each operation's due time) of its writes and reads at that rate, in us.
# Each workload runs on a freshly loaded store: reads find the records in
# the MemStore unless the workload's own writes start a flush.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${DFS_BIN_DIR:-$root/build/bin}
out=""
workloads=A,B,C,E,F
threads=8
records=100000
ops=100000
fraction=0.5
namenode=""
summary=""
while [ $# -gt 0 ]; do
  case "$1" in
    -b) bin=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --records) records=$2; shift 2 ;;
    --ops) ops=$2; shift 2 ;;
    --fraction) fraction=$2; shift 2 ;;
    --namenode) namenode=$2; shift 2 ;;
    --summary) summary=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "ycsb-rates.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# The summary table of result file $1.
summarize() {
  echo "## summary: p99 / intended p99 in us at the fixed rate (writes: update, insert; reads: read, scan)"
  printf "%-3s %-8s %12s %10s %10s %22s %22s\n" wl engine flat_out_s target ran_s "write p99 / intended" "read p99 / intended"
  awk '
    function v(line, key,   n, i, kv) {
      n = split(line, kv, " ")
      for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
      return ""
    }
    # p99 of the first of ops that ran; intended p99 of the first of iops
    # that has one (F: its writes are timed as "update", scheduled as "rmw")
    function pair(line, ops, iops,   n, i, o, p, q) {
      n = split(ops, o, " ")
      for (i = 1; i <= n && p == ""; i++) p = v(line, o[i] "_p99_us")
      n = split(iops, o, " ")
      for (i = 1; i <= n && q == ""; i++) q = v(line, o[i] "_intended_p99_us")
      return p == "" ? "-" : sprintf("%.0f / %.0f", p, q)
    }
    !/phase=run/ { next }
    {
      k = v($0, "workload") " " v($0, "engine")
      if (index($0, "target_ops_per_s=") == 0) { flat[k] = v($0, "ops_per_s"); next }
      printf "%-3s %-8s %12.0f %10.0f %10.0f %22s %22s\n", v($0, "workload"), v($0, "engine"), flat[k], \
        v($0, "target_ops_per_s"), v($0, "ops_per_s"), pair($0, "update insert", "update insert rmw"), \
        pair($0, "read scan", "read scan")
    }' "$1"
}
if [ -n "$summary" ]; then
  [ -r "$summary" ] || { echo "ycsb-rates.sh: cannot read $summary" >&2; exit 2; }
  summarize "$summary"
  exit 0
fi

ycsb=$bin/ycsb
[ -x "$ycsb" ] || { echo "ycsb-rates.sh: $ycsb missing (build first)" >&2; exit 2; }
for e in region rocksdb; do
  "$ycsb" --help | grep -q "built in:.* $e" ||
    { echo "ycsb-rates.sh: $ycsb has no $e engine (see its --help)" >&2; exit 2; }
done
awk -v f="$fraction" 'BEGIN { exit !(f > 0 && f <= 1) }' ||
  { echo "ycsb-rates.sh: --fraction must be in (0, 1]" >&2; exit 2; }
[ -n "$out" ] || out=/tmp/ycsb-rates-$(date -u +%Y%m%dT%H%M%SZ).txt
: > "$out"
opt=()
[ -n "$namenode" ] && opt=(--engine-opt "region.namenode=$namenode")

echo "# ycsb-rates.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $threads threads, $records records, $ops ops, fraction $fraction; results in $out"

failures=0
# key=value of a result line
val() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
ycsb_run() { # engines, workload, extra args...
  local engines=$1 w=$2
  shift 2
  echo "\$ ycsb --engine $engines --workloads $w --records $records --ops $ops --threads $threads $* ${opt[*]}"
  # (a pause first: the previous run's writes leave the disk cache meanwhile)
  sync
  sleep 3
  "$ycsb" --engine "$engines" --workloads "$w" --records "$records" --ops "$ops" \
    --threads "$threads" "$@" "${opt[@]}" 2> >(grep -v '^ycsb: ' | sed 's/^/  [stderr] /' >&2) |
    grep '^bench=ycsb' | tee -a "$out"
  [ "${PIPESTATUS[0]}" = 0 ] || failures=$((failures + 1))
}

for w in ${workloads//,/ }; do
  echo
  echo "## workload $w: flat out"
  ycsb_run region,rocksdb "$w"
  max=$(grep "engine=region workload=$w phase=run" "$out" | grep -v target_ops_per_s | tail -1)
  max=$(val "$max" ops_per_s)
  if [ -z "$max" ]; then
    echo "# no flat-out rate for workload $w: skipped"
    continue
  fi
  target=$(awk -v m="$max" -v f="$fraction" 'BEGIN { printf "%d", m * f }')
  echo "## workload $w: at $target ops/s ($fraction of the region engine's $max)"
  ycsb_run region,rocksdb "$w" --target "$target"
done

echo
summarize "$out" | tee -a "$out"
echo
echo "# done: $failures failed run(s); results in $out"
[ $failures = 0 ]
