#!/bin/bash
# quickstart.sh - from a fresh Debian 12 machine to a running local cluster:
# installs the dependencies, builds, starts a NameNode and three DataNodes on
# loopback, and shows how to use them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/cluster.sh" start
D="$ROOT/build/bin/dfs"
cat <<USAGE

The cluster is up. Try:

  $D report                              # live DataNodes, racks, capacity
  $D mkdir -p /demo
  $D put /etc/services /demo/services    # copy a local file in ('-' reads stdin)
  $D ls -h /demo
  $D cat /demo/services | head
  $D fsck /demo -files -blocks -racks    # where every replica lives
  $D --help                              # every command

  $ROOT/scripts/cluster.sh status        # daemons and nodes
  $ROOT/scripts/cluster.sh stop          # stop everything (data stays in run/)

Logs: $ROOT/run/logs/. Configuration: $ROOT/etc/dfs-site.xml (keys: docs/configuration.md).
USAGE
