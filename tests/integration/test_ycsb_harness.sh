#!/bin/bash
# test_ycsb_harness.sh - the YCSB harness (bench/ycsb) with its in-memory
# `null` engine: every workload verifies, --target holds the rate it is
# given (a fixed schedule per thread) and reports the latency from each
# operation's due time, and bad options are refused with exit 2.
# The harness is what issue 5's figures are measured with, so it is tested
# like a program; the engines' speed is not (docs/benchmarks.md).
# Env: DFS_BIN_DIR (build/bin).
set -u
BIN="${DFS_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}"
T=$(mktemp -d /tmp/test_ycsb.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
# key=value from the result line of workload $2 in file $1
val() { grep "workload=$2 phase=run" "$1" | tr ' ' '\n' | sed -n "s/^$3=//p"; }

Y="$BIN/ycsb"
"$Y" --engine null --workloads A,B,C,D,E,F --records 5000 --ops 20000 --threads 4 --dir "$T" \
  >"$T/all.out" 2>"$T/all.err"
rc=$?
n=$(grep -c 'phase=run.*verify=ok' "$T/all.out")
[ $rc -eq 0 ] && [ "$n" -eq 6 ] && ok "workloads A-F run and verify" ||
  { bad "workloads A-F run and verify (exit $rc, $n verified)"; cat "$T/all.err"; }

# 4 threads at 10,000 ops/s in all: 20,000 operations take 2 s.
"$Y" --engine null --workloads B,E --records 5000 --ops 20000 --threads 4 --target 10000 \
  --dir "$T" >"$T/t.out" 2>"$T/t.err"
rc=$?
for w in B E; do
  rate=$(val "$T/t.out" $w ops_per_s)
  secs=$(val "$T/t.out" $w seconds)
  tgt=$(val "$T/t.out" $w target_ops_per_s)
  if [ $rc -eq 0 ] && [ "$tgt" = 10000 ] &&
    awk -v r="$rate" -v s="$secs" 'BEGIN { exit !(r >= 9000 && r <= 10100 && s >= 1.95) }'; then
    ok "--target 10000 holds workload $w at $rate ops/s ($secs s)"
  else
    bad "--target 10000: workload $w ran at '$rate' ops/s in '$secs' s (exit $rc)"
  fi
done
p=$(val "$T/t.out" E insert_intended_p99_us)
s=$(val "$T/t.out" E scan_intended_p999_us)
[ -n "$p" ] && [ -n "$s" ] && ok "latency from the due time is reported (insert p99 $p us)" ||
  bad "no intended latencies in: $(grep 'workload=E phase=run' "$T/t.out")"
grep 'phase=load' "$T/t.out" | grep -q target_ops_per_s &&
  bad "the load phase is throttled too" || ok "the load phase runs flat out"

for opt in "--target -1" "--target x" "--threads 0" "--workloads Q"; do
  # shellcheck disable=SC2086
  "$Y" --engine null $opt --records 10 --ops 10 --dir "$T" >/dev/null 2>"$T/bad.err"
  rc=$?
  [ $rc -eq 2 ] && [ -s "$T/bad.err" ] && ok "'$opt' refused with exit 2: $(head -1 "$T/bad.err")" ||
    bad "'$opt': exit $rc"
done

[ $fails -eq 0 ] && echo "all passed" || echo "$fails failed"
exit $((fails > 0))
