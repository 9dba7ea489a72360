#!/bin/bash
# cluster.sh - a local cluster on loopback: one NameNode and three DataNodes
# (dn1, dn2 on /rack1, dn3 on /rack2, see etc/topology.map).
#
#   scripts/cluster.sh start  [--dir DIR]  start; returns when every DataNode is registered
#   scripts/cluster.sh stop   [--dir DIR]  stop cleanly (SIGTERM, then SIGKILL after 20 s)
#   scripts/cluster.sh status [--dir DIR]  daemons and the cluster report
#
# DIR (or $DFS_CLUSTER_DIR; default run/ in the checkout, git-ignored) holds
# conf/ (a copy of etc/ with this cluster's address and directories: use
# `dfs --conf DIR/conf ...`), nn/ and dn1/.. (data), logs/ and pids/.
# Ports: $DFS_NN_PORT (8020) and $DFS_DN_BASE_PORT (9866, 9867, 9868).
# Binaries: $BUILD_DIR/bin (default build/bin). Configuration source: $DFS_ETC_DIR (etc/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BUILD_DIR:-$ROOT/build}/bin"
ETC="${DFS_ETC_DIR:-$ROOT/etc}"
DIR="${DFS_CLUSTER_DIR:-$ROOT/run}"
NN_PORT="${DFS_NN_PORT:-8020}"
DN_BASE="${DFS_DN_BASE_PORT:-9866}"
NDN=3
STOP_WAIT_S=20

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || { echo "cluster.sh: --dir needs a directory" >&2; exit 2; }
           DIR="$2"; shift 2 ;;
    --dir=*) DIR="${1#--dir=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$cmd" in start|stop|status) ;; -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;; esac

mkdir -p "$DIR/logs" "$DIR/pids"
DIR="$(cd "$DIR" && pwd)"
CONF="$DIR/conf"
NN_ADDR="127.0.0.1:$NN_PORT"
DNS=$(seq 1 $NDN | sed 's/^/dn/')

pid_of() { cat "$DIR/pids/$1.pid" 2>/dev/null || true; }
# Running = the pid file's process exists and is one of ours (a stale pid file
# may name a pid the system has since given to another program).
alive() {
  local p; p=$(pid_of "$1")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$DIR"
}

# conf/ = etc/ + this cluster's settings appended to dfs-site.xml (in a Hadoop
# configuration file a later property wins).
make_conf() {
  rm -rf "$CONF.tmp"
  mkdir -p "$CONF.tmp"
  cp -R "$ETC"/. "$CONF.tmp"/
  local site="$CONF.tmp/dfs-site.xml"
  [ -f "$site" ] || printf '<?xml version="1.0"?>\n<configuration>\n</configuration>\n' > "$site"
  local overrides
  overrides=$(cat <<XML
  <!-- added by scripts/cluster.sh for the cluster in $DIR -->
  <property><name>dfs.namenode.rpc-address</name><value>$NN_ADDR</value></property>
  <property><name>dfs.namenode.name.dir</name><value>$DIR/nn</value></property>
XML
)
  # Insert before the closing tag.
  awk -v ov="$overrides" '/<\/configuration>/ && !done { print ov; done = 1 } { print }' \
    "$site" > "$site.new" && mv "$site.new" "$site"
  rm -rf "$CONF"
  mv "$CONF.tmp" "$CONF"
}

start_daemon() { # name, then the command line
  local name="$1"; shift
  rm -f "$DIR/pids/$name.ready"
  echo "==== $(date -u '+%F %T') start: $*" >> "$DIR/logs/$name.log"
  # setsid: the daemons outlive this shell and ignore its terminal's ^C.
  setsid "$@" --ready-file "$DIR/pids/$name.ready" >>"$DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/pids/$name.pid"
  echo "  $name started (pid $!), log $DIR/logs/$name.log"
}

fail_with_log() { # name, reason
  echo "cluster.sh: $1 $2; last lines of $DIR/logs/$1.log:" >&2
  tail -n 20 "$DIR/logs/$1.log" >&2 || true
  echo "cluster.sh: stop what started with: $0 stop --dir $DIR" >&2
  exit 1
}

wait_ready() { # name, seconds
  local name="$1" deadline=$((SECONDS + $2))
  while [ ! -s "$DIR/pids/$name.ready" ]; do
    alive "$name" || fail_with_log "$name" "exited during start-up"
    [ $SECONDS -lt $deadline ] || fail_with_log "$name" "not ready after $2 s"
    sleep 0.1
  done
}

report() { "$BIN/dfs" --conf "$CONF" report "$@"; }

case "$cmd" in
  start)
    for b in namenode datanode dfs; do
      [ -x "$BIN/$b" ] || { echo "cluster.sh: $BIN/$b missing: run scripts/build.sh" >&2; exit 1; }
    done
    running=0
    for name in nn $DNS; do alive "$name" && running=$((running + 1)); done
    if [ $running -eq $((NDN + 1)) ]; then
      echo "The cluster in $DIR is already running (NameNode $NN_ADDR)."
      exit 0
    fi
    echo "Starting the cluster in $DIR"
    alive nn || make_conf
    if alive nn; then
      echo "  nn already running (pid $(pid_of nn))"
    else
      start_daemon nn "$BIN/namenode" --conf "$CONF"
    fi
    wait_ready nn 30
    for i in $(seq 1 $NDN); do
      if alive "dn$i"; then echo "  dn$i already running (pid $(pid_of "dn$i"))"; continue; fi
      start_daemon "dn$i" "$BIN/datanode" --conf "$CONF" -D dfs.datanode.data.dir="$DIR/dn$i" \
        -D dfs.datanode.address="127.0.0.1:$((DN_BASE + i - 1))" -D dfs.datanode.hostname="dn$i"
    done
    # A DataNode's ready file appears after its registration and first block
    # report; then the NameNode must list all of them as live.
    for name in $DNS; do wait_ready "$name" 60; done
    deadline=$((SECONDS + 30))
    until [ "$(report 2>/dev/null | sed -n 's/^Live datanodes (\([0-9]*\)).*/\1/p')" = "$NDN" ]; do
      [ $SECONDS -lt $deadline ] || fail_with_log nn "does not list $NDN live DataNodes after 30 s"
      sleep 0.2
    done
    # After a restart the NameNode stays in safe mode (read-only) until enough
    # blocks are reported, plus dfs.namenode.safemode.extension.
    if ! timeout 120 "$BIN/dfs" --conf "$CONF" safemode wait >/dev/null; then
      fail_with_log nn "still in safe mode after 120 s"
    fi
    echo "Cluster ready: NameNode $NN_ADDR, $NDN DataNodes. Client configuration: $CONF"
    ;;
  stop)
    # DataNodes first (all at once, they stop in parallel), then the NameNode.
    stop_group() {
      local name pid pids=() names=()
      for name in "$@"; do
        if alive "$name"; then
          pid=$(pid_of "$name")
          kill -TERM "$pid" 2>/dev/null || true
          pids+=("$pid"); names+=("$name")
        fi
        rm -f "$DIR/pids/$name.ready"
      done
      [ ${#pids[@]} -gt 0 ] || return 0
      any=1
      local deadline=$((SECONDS + STOP_WAIT_S)) left=1
      while [ $left -eq 1 ] && [ $SECONDS -lt $deadline ]; do
        left=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        [ $left -eq 0 ] || sleep 0.05
      done
      for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
          kill -KILL "${pids[$i]}" 2>/dev/null || true
          echo "  ${names[$i]} killed (did not stop within $STOP_WAIT_S s)"
        else
          echo "  ${names[$i]} stopped"
        fi
        rm -f "$DIR/pids/${names[$i]}.pid"
      done
    }
    any=0
    stop_group $(echo $DNS | tr ' ' '\n' | sort -r)
    stop_group nn
    for name in nn $DNS; do rm -f "$DIR/pids/$name.pid" "$DIR/pids/$name.ready"; done
    [ $any -eq 1 ] || echo "Nothing running in $DIR."
    ;;
  status)
    rc=0
    for name in nn $DNS; do
      if alive "$name"; then
        echo "$name: running (pid $(pid_of "$name"))"
      else
        echo "$name: not running"; rc=1
      fi
    done
    if alive nn; then
      echo
      # The summary of `dfs report`, one line per DataNode.
      report 2>&1 | awk '
        /^(Live|Dead) datanodes/ { nodes = 1; print; next }
        !nodes && /^(Configured Capacity|DFS Used:|DFS Remaining:|Safe mode|report:)/ { print }
        nodes && /^Name:/ { name = $2 " " $3 }
        nodes && /^Rack:/ { printf "  %s %s\n", name, $2 }' || true
    fi
    exit $rc
    ;;
esac
