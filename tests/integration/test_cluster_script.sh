#!/bin/bash
# test_cluster_script.sh - scripts/cluster.sh as an operator uses it: start
# (returns when ready), start again (says it runs), status (daemons, racks),
# the dfs command through the generated conf dir, a DataNode that died is
# restarted by start, stop (clean), status after stop. Runs in its own
# temporary directory on free ports; everything is stopped even on failure.
# Env (set by ctest): DFS_BIN_DIR, DFS_SOURCE_DIR.
set -euo pipefail
: "${DFS_BIN_DIR:?}" "${DFS_SOURCE_DIR:?}"
export BUILD_DIR="$(dirname "$DFS_BIN_DIR")"
CLUSTER="$DFS_SOURCE_DIR/scripts/cluster.sh"
DIR="$(mktemp -d /tmp/dfs-cluster-test.XXXXXX)"

cleanup() {
  "$CLUSTER" stop --dir "$DIR" >/dev/null 2>&1 || true
  if [ "${DFS_KEEP_TEST_DIRS:-}" = 1 ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$DIR"/logs/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 15 "$f"; }; done
  exit 1
}

# Four free ports in a row (NameNode, then the DataNodes' base).
port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
for _ in $(seq 50); do
  base=$((20000 + RANDOM % 12000)) # below the ephemeral range that port-0 listeners use
  if port_free $base && port_free $((base + 1)) && port_free $((base + 2)) && port_free $((base + 3)); then
    break
  fi
done
export DFS_NN_PORT=$base DFS_DN_BASE_PORT=$((base + 1))

out=$("$CLUSTER" start --dir "$DIR" 2>&1) || fail "start: $out"
echo "$out"
grep -q "Cluster ready" <<<"$out" || fail "start did not say ready"
[ -f "$DIR/conf/dfs-site.xml" ] && [ -f "$DIR/conf/topology.map" ] || fail "no generated conf dir"

out=$("$CLUSTER" start --dir "$DIR" 2>&1) || fail "second start: $out"
grep -q "already running" <<<"$out" || fail "second start: $out"

out=$("$CLUSTER" status --dir "$DIR" 2>&1) || fail "status: $out"
echo "$out"
for n in nn dn1 dn2 dn3; do grep -q "^$n: running (pid [0-9]*)" <<<"$out" || fail "status: $n"; done
grep -q "Live datanodes (3)" <<<"$out" || fail "status: not 3 live DataNodes"
grep -q "(dn3) /rack2" <<<"$out" || fail "status: dn3 not on /rack2"
grep -q "(dn1) /rack1" <<<"$out" || fail "status: dn1 not on /rack1"

DFS=("$DFS_BIN_DIR/dfs" --conf "$DIR/conf")
"${DFS[@]}" mkdir -p /t || fail "mkdir"
"${DFS[@]}" put "$DFS_SOURCE_DIR/README.md" /t/readme || fail "put"
"${DFS[@]}" cat /t/readme | cmp - "$DFS_SOURCE_DIR/README.md" || fail "cat differs"
fsck=$("${DFS[@]}" fsck /t -files -blocks -racks) || fail "fsck: $fsck"
grep -q HEALTHY <<<"$fsck" || fail "fsck: $fsck"

# A DataNode that died is started again by `start`; the others are left alone.
dn2=$(cat "$DIR/pids/dn2.pid")
nn=$(cat "$DIR/pids/nn.pid")
kill -9 "$dn2"
while kill -0 "$dn2" 2>/dev/null; do sleep 0.05; done
out=$("$CLUSTER" status --dir "$DIR" 2>&1) && fail "status with a dead DataNode exited 0"
grep -q "^dn2: not running" <<<"$out" || fail "status after kill: $out"
out=$("$CLUSTER" start --dir "$DIR" 2>&1) || fail "restart dn2: $out"
grep -q "dn2 started" <<<"$out" || fail "dn2 not restarted: $out"
grep -q "nn already running (pid $nn)" <<<"$out" || fail "nn touched: $out"

out=$("$CLUSTER" stop --dir "$DIR" 2>&1) || fail "stop: $out"
echo "$out"
for n in nn dn1 dn2 dn3; do grep -q "$n stopped" <<<"$out" || fail "stop: $n: $out"; done
[ -z "$(ls "$DIR/pids")" ] || fail "pid files left: $(ls "$DIR/pids")"
"$CLUSTER" status --dir "$DIR" >/dev/null 2>&1 && fail "status after stop exited 0"

# Data survive a stop and start.
"$CLUSTER" start --dir "$DIR" >/dev/null 2>&1 || fail "start after stop"
"${DFS[@]}" cat /t/readme | cmp - "$DFS_SOURCE_DIR/README.md" || fail "data lost over stop/start"
echo "PASS"
