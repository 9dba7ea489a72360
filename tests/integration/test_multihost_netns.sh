#!/bin/bash
# test_multihost_netns.sh - the DFS on several "hosts": every daemon runs in
# its own network namespace with its own address, two racks, and a whole
# rack is cut off the network.
#
# Network (addresses exist only inside the namespaces this test creates):
#
#   core namespace: a router with three bridges (one per subnet)
#     br0 10.77.0.1/24  - nn 10.77.0.10 (NameNode, bound to 0.0.0.0:8020)
#                         cl 10.77.0.20 (a dfs client off both racks)
#     brA 10.77.1.1/24  - a1 a2 a3 10.77.1.11-13 (DataNodes, rack /rackA)
#                         ca 10.77.1.50 (a dfs client on rack A, no DataNode)
#     brB 10.77.2.1/24  - b1 b2   10.77.2.11-12 (DataNodes, rack /rackB)
#   Each host is a namespace with one veth (eth0) whose peer is a port of
#   its bridge in the core; the core forwards between the subnets.
#
# The topology file maps the DataNodes' IPs to racks (their reported host
# names match nothing, so rack resolution is by IP). b2 binds 0.0.0.0, so
# the NameNode must advertise the IP it sees the registration come from.
#
# Shown: placement puts every block on both racks; with rack B's bridge
# down every file still reads byte-identical: from the rack A client
# without waiting for rack B (the NameNode sorts rack-local replicas
# first, the client's rack resolved by its IP), from the other client by
# failing over; once rack B is declared dead, re-replication restores 3
# replicas inside rack A.
#
# Skips (exit 0, "SKIP: ...") where network namespaces, veth pairs or
# bridges cannot be created. Always stops the daemons it started (by PID)
# and deletes its namespaces (which deletes their veths and bridges).
# Env: DFS_BIN_DIR (build/bin), DFS_SOURCE_DIR (checkout).
set -u
BIN="${DFS_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}"
T0=$(date +%s.%N)

TAG="dfsmh$$"
CORE="$TAG-core"
NSS=()  # namespaces this test created, deleted on exit
PIDS=() # daemons this test started (ip netns exec execs them: same PID)
T=$(mktemp -d /tmp/test_multihost.XXXXXX)

# shellcheck disable=SC2317 # cleanup runs from the EXIT trap
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do # up to 5 s for a clean stop, then kill -9
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  local ns
  for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
elapsed() { echo "$(date +%s.%N) $T0" | awk '{printf "%.1f", $1 - $2}'; }
skip() { echo "SKIP: $1"; exit 0; }

command -v ip >/dev/null 2>&1 || skip "the ip command (iproute2) is not installed"
if ! err=$(ip netns add "$CORE" 2>&1); then
  skip "cannot create network namespaces (ip netns add: $err)"
fi
NSS+=("$CORE")

# ---- the network ---------------------------------------------------------------
net() { # run an ip command; any failure while building the network is a skip
  local err
  err=$(ip "$@" 2>&1) || skip "cannot build the test network: ip $*: $err"
}
net -n "$CORE" link set lo up
ip netns exec "$CORE" sysctl -qw net.ipv4.ip_forward=1 || skip "cannot enable forwarding in $CORE"
for br in br0:10.77.0.1 brA:10.77.1.1 brB:10.77.2.1; do
  net -n "$CORE" link add "${br%%:*}" type bridge
  net -n "$CORE" addr add "${br#*:}/24" dev "${br%%:*}"
  net -n "$CORE" link set "${br%%:*}" up
done

add_host() { # name bridge ip
  local ns="$TAG-$1" gw="${3%.*}.1"
  net netns add "$ns"
  NSS+=("$ns")
  net -n "$CORE" link add "p-$1" type veth peer name eth0 netns "$ns"
  net -n "$CORE" link set "p-$1" master "$2" up
  net -n "$ns" link set lo up
  net -n "$ns" addr add "$3/24" dev eth0
  net -n "$ns" link set eth0 up
  net -n "$ns" route add default via "$gw"
}
NN_IP=10.77.0.10
DNS=(a1 a2 a3 b1 b2)
declare -A IP=([nn]=$NN_IP [cl]=10.77.0.20 [ca]=10.77.1.50 [a1]=10.77.1.11 [a2]=10.77.1.12 [a3]=10.77.1.13
  [b1]=10.77.2.11 [b2]=10.77.2.12)
add_host nn br0 "${IP[nn]}"
add_host cl br0 "${IP[cl]}"
add_host ca brA "${IP[ca]}"
for h in "${DNS[@]}"; do
  case $h in a*) add_host "$h" brA "${IP[$h]}" ;; *) add_host "$h" brB "${IP[$h]}" ;; esac
done
# tcp_open NS IP PORT: can a process in NS open a TCP connection to IP:PORT?
# (bash's /dev/tcp: no ping or nc needed)
tcp_open() { ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }

# ---- configuration shared by every host ------------------------------------------
mkdir -p "$T/conf"
cat >"$T/conf/topology.map" <<EOF
# DataNodes by IP (their host names are not listed), and a client host
${IP[ca]} /rackA
${IP[a1]} /rackA
${IP[a2]} /rackA
${IP[a3]} /rackA
${IP[b1]} /rackB
${IP[b2]} /rackB
EOF
prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }
{
  echo '<?xml version="1.0"?>'
  echo '<configuration>'
  prop dfs.namenode.rpc-address "$NN_IP:8020"
  prop net.topology.table.file.name topology.map
  prop dfs.blocksize 256k
  prop dfs.replication 3
  prop dfs.heartbeat.interval 1
  prop dfs.namenode.heartbeat.recheck-interval 500 # dead after 2*0.5 + 10*1 = 11 s
  prop dfs.namenode.replication.interval 200
  prop dfs.namenode.replication.max-streams 8
  prop dfs.namenode.reconstruction.pending.timeout-sec 5
  prop dfs.namenode.safemode.extension 0
  prop dfs.client.socket-timeout 4000
  prop dfs.block.scanner.volume.bytes.per.second 0
  echo '</configuration>'
} >"$T/conf/dfs-site.xml"

wait_file() { for _ in $(seq 1 150); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

# NameNode on host nn, bound to every address of its host
ip netns exec "$TAG-nn" "$BIN/namenode" --conf "$T/conf" -D dfs.namenode.rpc-address=0.0.0.0:8020 \
  -D dfs.namenode.name.dir="$T/nn" --ready-file "$T/nn.ready" 2>"$T/nn.log" &
PIDS+=($!)
wait_file "$T/nn.ready" || { bad "namenode did not start: $(tail -3 "$T/nn.log")"; exit 1; }

# One DataNode per host, all on port 9866; b2 binds the wildcard address
for h in "${DNS[@]}"; do
  addr="${IP[$h]}:9866"
  [ "$h" = b2 ] && addr="0.0.0.0:9866"
  ip netns exec "$TAG-$h" "$BIN/datanode" --conf "$T/conf" -D dfs.datanode.address="$addr" \
    -D dfs.datanode.hostname="$h.example" -D dfs.datanode.data.dir="$T/$h" \
    --ready-file "$T/$h.ready" 2>"$T/$h.log" &
  PIDS+=($!)
done
for h in "${DNS[@]}"; do
  wait_file "$T/$h.ready" || { bad "datanode $h did not register: $(tail -3 "$T/$h.log")"; exit 1; }
done
ok "namenode and ${#DNS[@]} datanodes up in their namespaces ($(elapsed) s)"
# b2 bound 0.0.0.0: it learns its address from the NameNode's answer
if [ "$(cat "$T/b2.ready")" = "${IP[b2]}:9866" ]; then
  ok "b2 (bound to 0.0.0.0) is advertised as ${IP[b2]}:9866"
else
  bad "b2's ready file says $(cat "$T/b2.ready"), not ${IP[b2]}:9866"
fi

if tcp_open "$TAG-cl" "${IP[b2]}" 9866; then
  ok "network: the client host reaches rack B through the core router"
else
  bad "network: the client host cannot reach ${IP[b2]}:9866"
fi
D() { ip netns exec "$TAG-cl" "$BIN/dfs" --conf "$T/conf" "$@"; }
DA() { ip netns exec "$TAG-ca" "$BIN/dfs" --conf "$T/conf" "$@"; }

# Every DataNode is known by its own IP, port 9866, on the rack its IP maps to
report=$(D report -live)
for h in "${DNS[@]}"; do
  rack=/rackA
  [ "${h:0:1}" = b ] && rack=/rackB
  if echo "$report" | grep -A2 -F "Name: ${IP[$h]}:9866 ($h.example)" | grep -qx "Rack: $rack"; then
    ok "report: $h as ${IP[$h]}:9866 on $rack"
  else
    bad "report: $h not as ${IP[$h]}:9866 on $rack"
  fi
done

# ---- write: replication 3, several blocks per file -------------------------------------
SIZES=(1300000 700000 2000000 100)
D mkdir -p /mh
for i in "${!SIZES[@]}"; do
  head -c "${SIZES[$i]}" /dev/urandom >"$T/f$i"
  D put "$T/f$i" "/mh/f$i" || bad "put f$i"
done
ok "wrote ${#SIZES[@]} files from the client host ($(elapsed) s)"

# fsck block lines: "N. blk_<id>_<gs> len=L Live_repl=R [/rack/ip:port, ...]"
blocks_where() { # fsck output, awk condition on (live, nA, nB): prints the blocks failing it
  echo "$1" | awk -v cond="$2" '/^[0-9]+\. blk_/ {
      live = 0; a = 0; b = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^Live_repl=/) { split($i, kv, "="); live = kv[2] }
        if ($i ~ /\/rackA\//) a++
        if ($i ~ /\/rackB\//) b++
      }
      good = (cond == "spread") ? (live == 3 && a >= 1 && b >= 1) : (live == 3 && a == 3 && b == 0)
      if (!good) print $2 " live=" live " rackA=" a " rackB=" b
    }'
}
fsck=$(D fsck /mh -files -blocks -locations -racks)
nblocks=$(echo "$fsck" | grep -c '^[0-9]*\. blk_')
wrong=$(blocks_where "$fsck" spread)
if echo "$fsck" | grep -q '^Status: HEALTHY' && [ "$nblocks" -ge 10 ] && [ -z "$wrong" ]; then
  ok "fsck: all $nblocks blocks have 3 replicas spanning /rackA and /rackB"
else
  bad "fsck before the cut: $nblocks blocks; not spread: $wrong"
  echo "$fsck" | sed 's/^/    /'
fi

# ---- cut rack B off: its top-of-rack bridge goes down ---------------------------------
ip -n "$CORE" link set brB down
T_CUT=$(date +%s.%N)
if ! tcp_open "$TAG-cl" "${IP[b1]}" 9866; then
  ok "rack B is unreachable"
else
  bad "rack B still reachable after the cut"
fi

# From rack A's client: rack A replicas come first, so no read waits for a
# connection to rack B to time out (4 s, dfs.client.socket-timeout)
t=$(date +%s%N)
okA=1
for i in "${!SIZES[@]}"; do
  rm -f "$T/r$i"
  DA get "/mh/f$i" "$T/r$i" && cmp -s "$T/f$i" "$T/r$i" || okA=0
done
ms=$((($(date +%s%N) - t) / 1000000))
if [ $okA = 1 ] && [ $ms -lt 4000 ]; then
  ok "rack A client: every file reads byte-identical, rack-local, in $ms ms"
else
  bad "rack A client: reads ok=$okA in $ms ms (a read waited for rack B?)"
fi
# From the client off both racks: reads fail over from rack B's nodes
t=$(date +%s%N)
for i in "${!SIZES[@]}"; do
  rm -f "$T/r$i"
  if D get "/mh/f$i" "$T/r$i" && cmp -s "$T/f$i" "$T/r$i"; then
    ok "f$i reads byte-identical with rack B cut off"
  else
    bad "f$i does not read back with rack B cut off"
  fi
done
echo "#   reads from the client off both racks took $((($(date +%s%N) - t) / 1000000)) ms"

# ---- rack B declared dead, re-replication inside rack A -------------------------------
dead_at=""
healed=""
for _ in $(seq 1 600); do # 60 s
  if [ -z "$dead_at" ]; then
    if D report -dead 2>/dev/null | grep -q '^Dead datanodes (2)'; then
      dead_at=$(echo "$(date +%s.%N) $T_CUT" | awk '{printf "%.1f", $1 - $2}')
    fi
  else
    fsck=$(D fsck /mh -files -blocks -locations -racks 2>/dev/null)
    if echo "$fsck" | grep -q '^Status: HEALTHY' && [ -z "$(blocks_where "$fsck" rackA)" ] &&
      [ "$(echo "$fsck" | grep -c '^[0-9]*\. blk_')" = "$nblocks" ]; then
      healed=$(echo "$(date +%s.%N) $T_CUT" | awk '{printf "%.1f", $1 - $2}')
      break
    fi
  fi
  sleep 0.1
done
if [ -n "$dead_at" ]; then
  ok "rack B's 2 datanodes declared dead ${dead_at} s after the cut"
else
  bad "rack B's datanodes were not declared dead"
fi
if [ -n "$healed" ]; then
  ok "re-replication: all $nblocks blocks have 3 replicas on /rackA, ${healed} s after the cut"
  echo "$fsck" | grep -E '^ (Under-replicated|Mis-replicated|Missing|Number of racks)' | sed 's/^/#  /'
else
  bad "re-replication did not restore 3 replicas on /rackA: $(blocks_where "$fsck" rackA | head -5)"
  echo "$fsck" | sed 's/^/    /'
fi

# and the files still read, now from the new replicas too
okR=1
for i in "${!SIZES[@]}"; do
  rm -f "$T/r$i"
  if ! { D get "/mh/f$i" "$T/r$i" && cmp -s "$T/f$i" "$T/r$i"; }; then
    bad "f$i does not read after re-replication"
    okR=0
  fi
done
[ $okR = 1 ] && ok "every file reads byte-identical after re-replication"

echo "# total $(elapsed) s"
if [ $fails -ne 0 ]; then
  echo "$fails check(s) failed"
  KEEP_LOGS=${KEEP_LOGS:-0}
  for f in "$T"/*.log; do echo "--- $f"; tail -5 "$f"; done
  exit 1
fi
echo "all checks passed"
exit 0
