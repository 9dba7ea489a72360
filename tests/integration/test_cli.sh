#!/bin/bash
# test_cli.sh - the `dfs` command against a real cluster (NameNode + 3
# DataNodes on loopback, dn1/dn2 on /rack1, dn3 on /rack2, port 0, temp dir):
# every subcommand's output format, messages and exit codes.
# Env: DFS_BIN_DIR (build/bin), DFS_SOURCE_DIR (checkout).
set -u
BIN="${DFS_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}"
SRC="${DFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
T=$(mktemp -d /tmp/test_cli.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { # description, then a command that must succeed
  local d="$1"; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}
wait_file() { for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

"$BIN/namenode" --conf "$SRC/etc" -D dfs.namenode.name.dir="$T/nn" -D dfs.namenode.rpc-address=127.0.0.1:0 \
  -D dfs.namenode.safemode.extension=0 --ready-file "$T/nn.ready" 2>"$T/nn.log" &
PIDS+=($!)
wait_file "$T/nn.ready" || { echo "namenode did not start"; exit 1; }
NN=$(cat "$T/nn.ready")
for i in 1 2 3; do
  "$BIN/datanode" --conf "$SRC/etc" -D dfs.datanode.data.dir="$T/dn$i" -D dfs.datanode.address=127.0.0.1:0 \
    -D dfs.datanode.hostname=dn$i -D dfs.namenode.rpc-address="$NN" --ready-file "$T/dn$i.ready" 2>"$T/dn$i.log" &
  PIDS+=($!)
done
for i in 1 2 3; do wait_file "$T/dn$i.ready" || { echo "datanode $i did not start"; exit 1; }; done

D() { "$BIN/dfs" --conf "$SRC/etc" --namenode "$NN" --user tester "$@"; }
head -c 3000000 /dev/urandom > "$T/f3m"
echo hello > "$T/h.txt"

check "help lists commands" bash -c "'$BIN/dfs' --help | grep -q 'fsck <path>'"
check "cmd --help" bash -c "'$BIN/dfs' ls --help | grep -q 'Usage: dfs ls'"
"$BIN/dfs" --namenode "$NN" bogus 2>/dev/null; [ $? -eq 2 ] && ok "unknown command exits 2" || bad "unknown command exits 2"

"$BIN/dfs" --namenode "$NN" mkdir -p /user/tester
"$BIN/dfs" --namenode "$NN" chown tester /user/tester
check "mkdir relative" D mkdir a
out=$(D mkdir a 2>&1); [ $? -eq 1 ] && [ "$out" = "mkdir: a: File exists" ] && ok "mkdir existing" || bad "mkdir existing: $out"
out=$(D mkdir x/y 2>&1); [ $? -eq 1 ] && [ "$out" = "mkdir: x/y: No such file or directory" ] && ok "mkdir no parent" || bad "mkdir no parent: $out"
check "put" D put "$T/f3m" a/f3m
out=$(D put "$T/f3m" a/f3m 2>&1); [ $? -eq 1 ] && [ "$out" = "put: /user/tester/a/f3m: File exists" ] && ok "put existing" || bad "put existing: $out"
check "put -f" D put -f "$T/f3m" a/f3m
check "put stdin" bash -c "echo hello | '$BIN/dfs' --namenode $NN --user tester put - a/h.txt"
check "cat" bash -c "[ \"\$('$BIN/dfs' --namenode $NN --user tester cat a/h.txt)\" = hello ]"
check "no ._COPYING_ left" bash -c "! '$BIN/dfs' --namenode $NN --user tester ls a | grep -q _COPYING_"
out=$(D ls a)
echo "$out" | head -1 | grep -qx "Found 2 items" && ok "ls header" || bad "ls header: $out"
echo "$out" | grep -Eq '^-rw-r--r--   3 tester supergroup    3000000 [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} a/f3m$' \
  && ok "ls line format" || bad "ls line format: $out"
D ls -d a | grep -Eq '^drwxr-xr-x   - tester supergroup +0 .* a$' && ok "ls -d" || bad "ls -d"
D ls -h a | grep -q ' 2.9 M ' && ok "ls -h" || bad "ls -h"
[ "$(D ls -R / | wc -l)" -ge 5 ] && ok "ls -R" || bad "ls -R"
check "get" D get a/f3m "$T/out"
check "get content" cmp "$T/f3m" "$T/out"
out=$(D get a/f3m "$T/out" 2>&1); [ $? -eq 1 ] && [ "$out" = "get: $T/out: File exists" ] && ok "get existing" || bad "get existing: $out"
[ "$(D stat '%b %F %n %r %u' a/f3m)" = "3000000 regular file f3m 3 tester" ] && ok "stat" || bad "stat"
D stat a | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}$' && ok "stat default %y" || bad "stat default"
D du -s a | grep -Eq '^3000006 +9000018 +a$' && ok "du -s" || bad "du -s: $(D du -s a)"
D count a | grep -Eq '^ +1 +2 +3000006 a$' && ok "count" || bad "count: $(D count a)"
D test -d a; [ $? -eq 0 ] && ok "test -d" || bad "test -d"
D test -f a; [ $? -eq 1 ] && ok "test -f on dir" || bad "test -f on dir"
D test -e nope; [ $? -eq 1 ] && ok "test -e missing" || bad "test -e missing"
check "touchz" D touchz a/empty
D test -z a/empty && ok "test -z" || bad "test -z"
check "chmod symbolic" D chmod u+x,go-r a/f3m
[ "$(D stat '%a' a/f3m)" = "700" ] && ok "chmod result" || bad "chmod result $(D stat '%a' a/f3m)"
check "chmod -R octal" D chmod -R 750 a
[ "$(D stat '%a' a/h.txt)" = "750" ] && ok "chmod -R result" || bad "chmod -R result"
out=$(D chown nobody a/f3m 2>&1); [ $? -eq 1 ] && echo "$out" | grep -q '^chown: ' && ok "chown refused for non-superuser" || bad "chown: $out"
out=$(D chgrp staff a/h.txt 2>&1); [ $? -eq 1 ] && echo "$out" | grep -q "^chgrp: .*does not belong to staff" && ok "chgrp refused (not a member)" || bad "chgrp refused: $out"
check "chgrp as superuser" "$BIN/dfs" --namenode "$NN" chgrp staff /user/tester/a/h.txt
[ "$(D stat '%g' a/h.txt)" = "staff" ] && ok "chgrp result" || bad "chgrp result"
# put -t: a tree of small files copied by several threads, read back whole
mkdir -p "$T/tree/d1/d2" "$T/tree/e"
for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > "$T/tree/d1/f$i"; done
for i in 1 2 3; do head -c 70000 /dev/urandom > "$T/tree/d1/d2/g$i"; done
: > "$T/tree/empty"
check "put -t 4 (tree)" D put -t 4 "$T/tree" tree4
check "put -t4 tree content" bash -c "'$BIN/dfs' --conf '$SRC/etc' --namenode $NN --user tester get tree4 '$T/tree4.back' && diff -r '$T/tree' '$T/tree4.back'"
check "put -t: no ._COPYING_ left" bash -c "! '$BIN/dfs' --conf '$SRC/etc' --namenode $NN --user tester ls -R tree4 | grep -q _COPYING_"
out=$(D put -t 3 "$T/tree/d1" tree4 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$out" | grep -c 'File exists')" -eq 43 ] && ok "put -t: every existing file reported, exit 1" || bad "put -t existing: rc=$rc $(echo "$out" | head -3)"
check "put -f -t 2 overwrites" D put -f -t 2 "$T/tree/d1" tree4
out=$(D put -t 0 "$T/h.txt" x 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "the thread count must be 1 to 256" && ok "put -t 0 refused" || bad "put -t 0: $out"
sleep 1.1 # so that files written now would move a directory's mtime to another second
check "get -t 4 -p (tree)" D get -t 4 -p tree4 "$T/tree4.get"
check "get -t tree content" diff -r "$T/tree" "$T/tree4.get"
# -p: the directories' times are the DFS's, set after their files went in
[ "$(stat -c %Y "$T/tree4.get/d1")" = "$(D stat '%Y' tree4/d1 | cut -c1-10)" ] && ok "get -t -p directory mtime" \
  || bad "get -t -p directory mtime: $(stat -c %Y "$T/tree4.get/d1") vs $(D stat '%Y' tree4/d1)"
out=$(D get -t 2 tree4/d1 "$T/tree4.get" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$out" | grep -c 'File exists')" -eq 43 ] && ok "get -t: existing files reported, exit 1" || bad "get -t existing: rc=$rc $(echo "$out" | head -3)"
check "mv" D mv a/h.txt a/h2.txt
D mkdir b
check "mv several into dir" D mv a/h2.txt a/empty b
[ "$(D ls b | wc -l)" = 3 ] && ok "mv result" || bad "mv result"
out=$(D mv nope b 2>&1); [ $? -eq 1 ] && [ "$out" = "mv: nope: No such file or directory" ] && ok "mv missing" || bad "mv missing: $out"
D setrep 2 a/f3m | grep -qx "Replication 2 set: a/f3m" && ok "setrep" || bad "setrep"
[ "$(D stat '%r' a/f3m)" = "2" ] && ok "setrep result" || bad "setrep result"
out=$(D fsck / -files -blocks -racks); rc=$?
[ $rc -eq 0 ] && echo "$out" | tail -1 | grep -qx "The filesystem under path '/' is HEALTHY" && ok "fsck healthy" || bad "fsck healthy: $out"
echo "$out" | grep -Eq '^0\. blk_[0-9]+_[0-9]+ len=3000000 Live_repl=[23] \[/rack[12]/127\.0\.0\.1:[0-9]+' && ok "fsck -racks" || bad "fsck -racks"
echo "$out" | grep -q "Number of racks:		2" && ok "fsck racks count" || bad "fsck racks count"
D setrep 4 b/h2.txt >/dev/null
D fsck b | grep -q "Under replicated blk_[0-9]*_[0-9]*: Target Replicas is 4 but found 3 live replica(s)" && ok "fsck under-replicated" || bad "fsck under-replicated"
out=$(D report); echo "$out" | grep -q "^Live datanodes (3):" && echo "$out" | grep -q "^Rack: /rack2" && ok "report" || bad "report: $out"
[ "$(D safemode get)" = "Safe mode is OFF" ] && ok "safemode get" || bad "safemode get"
out=$(D rm a 2>&1); [ $? -eq 1 ] && [ "$out" = "rm: a: Is a directory" ] && ok "rm dir without -r" || bad "rm dir: $out"
D rm -r a | grep -qx "Deleted a" && ok "rm -r" || bad "rm -r"
D rm -f nope && ok "rm -f missing" || bad "rm -f missing"
out=$(D --user other mkdir /forbidden 2>&1); [ $? -eq 1 ] && echo "$out" | grep -q "^mkdir: /forbidden: Permission denied" && ok "permission message" || bad "permission: $out"

echo "$fails failure(s)"
[ $fails -eq 0 ]
