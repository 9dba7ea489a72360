#!/bin/bash
# cluster.sh - a local cluster on loopback: one NameNode and three DataNodes
# (dn1, dn2 on /rack1, dn3 on /rack2, see etc/topology.map).
#
#   scripts/cluster.sh start [--dir DIR]   start; returns when every DataNode is registered
#   scripts/cluster.sh stop  [--dir DIR]   stop cleanly (SIGTERM, then SIGKILL after 20 s)
#   scripts/cluster.sh status [--dir DIR]  daemons and the cluster report
#
# DIR (or $DFS_CLUSTER_DIR; default run/ in the checkout) holds data (nn/,
# dn1/..), logs/ and pids/. Ports: $DFS_NN_PORT (8020) and $DFS_DN_BASE_PORT
# (9866, 9867, 9868). Binaries: $BUILD_DIR/bin (default build/bin).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BUILD_DIR:-$ROOT/build}/bin"
CONF="${DFS_CONF_DIR:-$ROOT/etc}"
DIR="${DFS_CLUSTER_DIR:-$ROOT/run}"
NN_PORT="${DFS_NN_PORT:-8020}"
DN_BASE="${DFS_DN_BASE_PORT:-9866}"
NDN=3

cmd="${1:-}"
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR/logs" "$DIR/pids"
DIR="$(cd "$DIR" && pwd)"
NN_ADDR="127.0.0.1:$NN_PORT"

alive() { [ -f "$DIR/pids/$1.pid" ] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

start_daemon() { # name, then the command line
  local name="$1"; shift
  if alive "$name"; then echo "  $name already running (pid $(cat "$DIR/pids/$name.pid"))"; return; fi
  rm -f "$DIR/pids/$name.ready"
  setsid "$@" --ready-file "$DIR/pids/$name.ready" >>"$DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/pids/$name.pid"
  echo "  $name started (pid $!), log $DIR/logs/$name.log"
}

wait_ready() { # name, seconds
  local name="$1" deadline=$((SECONDS + $2))
  while [ ! -s "$DIR/pids/$name.ready" ]; do
    if ! alive "$name"; then
      echo "cluster.sh: $name exited during start-up; last lines of its log:" >&2
      tail -n 20 "$DIR/logs/$name.log" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "cluster.sh: $name not ready after $2 s; last lines of its log:" >&2
      tail -n 20 "$DIR/logs/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

case "$cmd" in
  start)
    [ -x "$BIN/namenode" ] || { echo "cluster.sh: $BIN/namenode missing: run scripts/build.sh" >&2; exit 1; }
    echo "Starting the cluster in $DIR"
    start_daemon nn "$BIN/namenode" --conf "$CONF" -D dfs.namenode.name.dir="$DIR/nn" \
      -D dfs.namenode.rpc-address="$NN_ADDR"
    wait_ready nn 30
    for i in $(seq 1 $NDN); do
      start_daemon "dn$i" "$BIN/datanode" --conf "$CONF" -D dfs.datanode.data.dir="$DIR/dn$i" \
        -D dfs.datanode.address="127.0.0.1:$((DN_BASE + i - 1))" -D dfs.datanode.hostname="dn$i" \
        -D dfs.namenode.rpc-address="$NN_ADDR"
    done
    for i in $(seq 1 $NDN); do wait_ready "dn$i" 60; done
    echo "Cluster ready: NameNode $NN_ADDR, $NDN DataNodes."
    ;;
  stop)
    for name in $(for i in $(seq $NDN -1 1); do echo "dn$i"; done) nn; do
      if alive "$name"; then
        pid=$(cat "$DIR/pids/$name.pid")
        kill -TERM "$pid"
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "  $name killed (did not stop in 20 s)"; else echo "  $name stopped"; fi
      fi
      rm -f "$DIR/pids/$name.pid" "$DIR/pids/$name.ready"
    done
    ;;
  status)
    rc=0
    for name in nn $(for i in $(seq 1 $NDN); do echo "dn$i"; done); do
      if alive "$name"; then echo "$name: running (pid $(cat "$DIR/pids/$name.pid"))"; else echo "$name: not running"; rc=1; fi
    done
    if alive nn; then echo; "$BIN/dfs" --conf "$CONF" --namenode "$NN_ADDR" report | sed -n '1,12p;/^Live datanodes/,$p' | grep -E "^(Configured|DFS|Live|Dead|Name|Rack|Last|Safe|Present)" || true; fi
    exit $rc
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
