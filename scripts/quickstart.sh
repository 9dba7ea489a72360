#!/bin/bash
# quickstart.sh - from a fresh Debian 12 machine to a running local cluster:
# installs the dependencies (apt-get), builds into build/, starts a NameNode
# and three DataNodes on loopback (dn1, dn2 on /rack1, dn3 on /rack2), and
# shows how to use them. Idempotent: run it again and it only says what is
# already there. Cluster directory: $DFS_CLUSTER_DIR or run/ (see cluster.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
echo "quickstart: building into ${BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/cluster.sh" start "$@"
DIR="${DFS_CLUSTER_DIR:-$ROOT/run}"
while [ $# -gt 0 ]; do case "$1" in --dir) DIR="$2"; shift 2 ;; --dir=*) DIR="${1#--dir=}"; shift ;; *) shift ;; esac; done
DIR="$(cd "$DIR" && pwd)"
BIN="${BUILD_DIR:-$ROOT/build}/bin"
D="$BIN/dfs --conf $DIR/conf"
cat <<USAGE

The cluster is up. The dfs command (like 'hdfs dfs') finds it through
$DIR/conf; for short:

  alias dfs='$D'

  dfs report                              # live DataNodes, racks, capacity
  dfs mkdir -p /demo
  dfs put /etc/services /demo/services    # copy a local file in ('-' reads stdin)
  dfs ls -h /demo
  dfs cat /demo/services | head
  dfs get /demo/services /tmp/services.copy
  dfs fsck /demo -files -blocks -racks    # where every replica lives
  dfs --help                              # every command; 'dfs put --help' for one

  mkdir -p /mnt/dfs && $BIN/dfs-fuse 127.0.0.1:${DFS_NN_PORT:-8020} /mnt/dfs -o conf=$DIR/conf
  ls -l /mnt/dfs/demo                     # the same files through a FUSE mount
  fusermount3 -u /mnt/dfs                 # unmount (open files are completed)

  $ROOT/scripts/cluster.sh status         # daemons and nodes
  $ROOT/scripts/cluster.sh stop           # stop everything (data stays in $DIR)

Logs: $DIR/logs/. Configuration: $ROOT/etc/dfs-site.xml (every key: docs/configuration.md).
USAGE
