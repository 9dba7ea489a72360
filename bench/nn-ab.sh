#!/usr/bin/env bash
# nn-ab.sh - A/B comparison of two NameNode binaries under the same client
# load: starts each binary in turn (fresh name dir in /tmp, port 0), runs
# nnbench against it with --pids so the NameNode's CPU is counted, and
# alternates A and B for N rounds so that drifting machine load hits both.
# Also counts the NameNode's context switches per operation (perf stat) when
# perf is available.
#
# Usage: bench/nn-ab.sh [-r ROUNDS] [-t THREADS] [-f FILES] [-o OPS] [-b BINDIR] NN_A NN_B
#   defaults: 3 rounds, 64 threads, 100000 files, ops create,mkdirs,rename,delete;
#   nnbench from BINDIR (default build/bin)
# Prints one line per run: "ab=A|B round=.. op=.. ops_per_s=.. nn_us=.. ..."
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${DFS_BIN_DIR:-$here/../build/bin}
rounds=3; threads=64; files=100000; ops=create,mkdirs,rename,delete
while [ $# -gt 2 ]; do
  case "$1" in
    -r) rounds=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    -f) files=$2; shift 2 ;;
    -o) ops=$2; shift 2 ;;
    -b) bin=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
nn_a=$1; nn_b=$2

one() { # label, namenode binary, round
  local d p cs=""
  d=$(mktemp -d /tmp/dfs-nn-ab-XXXXXX)
  mkdir -p "$d/conf"
  echo "<configuration></configuration>" > "$d/conf/dfs-site.xml"
  : > "$d/conf/topology.map"
  "$2" --conf "$d/conf" -D "dfs.namenode.name.dir=$d/name" -D dfs.namenode.rpc-address=127.0.0.1:0 \
    --ready-file "$d/ready" > "$d/nn.log" 2>&1 &
  p=$!
  for _ in $(seq 200); do [ -s "$d/ready" ] && break; sleep 0.05; done
  if [ ! -s "$d/ready" ]; then
    echo "nn-ab.sh: $2 did not become ready; log:" >&2; tail -5 "$d/nn.log" >&2
    kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; rm -rf "$d"; return 1
  fi
  if command -v perf >/dev/null; then
    perf stat -e context-switches -x, -p "$p" -o "$d/cs" &
    cs=$!
  fi
  "$bin/nnbench" --namenode "$(cat "$d/ready")" --pids "$p" -op "$ops" -threads "$threads" \
    -files "$files" 2>/dev/null > "$d/out"
  if [ -n "$cs" ]; then kill -INT "$cs" 2>/dev/null; wait "$cs" 2>/dev/null; fi
  kill "$p"; wait "$p" 2>/dev/null
  local total_cs=""
  [ -s "$d/cs" ] && total_cs=$(grep context-switches "$d/cs" | cut -d, -f1)
  grep '^bench=nnbench' "$d/out" | awk -v ab="$1" -v r="$3" -v cs="$total_cs" '
    { for (i = 1; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] }
      printf "ab=%s round=%s op=%s ops_per_s=%s lat_p50_us=%s client_us=%s nn_us=%s others=%s\n",
        ab, r, v["op"], v["ops_per_s"], v["lat_p50_us"], v["client_cpu_us_per_op"],
        v["nn_cpu_us_per_op"], v["other_procs_cpu_cores"]
      ops += v["ops"] }
    END { if (cs != "" && ops > 0) printf "ab=%s round=%s nn_context_switches_per_op=%.1f (all ops of the run, incl. untimed set-up)\n", ab, r, cs / ops }'
  rm -rf "$d"
}

for r in $(seq "$rounds"); do
  one A "$nn_a" "$r"
  one B "$nn_b" "$r"
done
