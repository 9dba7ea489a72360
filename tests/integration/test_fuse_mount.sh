#!/bin/bash
# test_fuse_mount.sh - dfs-fuse against a real local cluster (issue 4).
#
# Starts a cluster with scripts/cluster.sh in a temporary directory on free
# ports (32 MiB blocks, so large files span several blocks), mounts it with
# build/bin/dfs-fuse -f, and checks what a user of a mounted filesystem
# expects: cp -r and tar -x of a real tree of a few thousand files compared
# with diff -r and sha256sum; a large file written with dd and read back
# (1 GiB, as issue 4 asks) with its blocks placed as the
# policy says; ls -l, stat, mv, rm -r, mkdir -p, chmod, chown, df; the
# documented errors (EPERM for a write into a closed file, the file
# unchanged; ENOTSUP for hard links); and kill -9 of a DataNode under the
# mount: reads go on from other replicas, nothing hangs. Prints SKIP and
# exits 0 where /dev/fuse is missing or mounting is not permitted. Always
# unmounts and stops the daemons (trap EXIT).
set -uo pipefail
ROOT="${DFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BIN="${DFS_BIN_DIR:-$ROOT/build/bin}"
FUSE="$BIN/dfs-fuse"

skip() { echo "SKIP: test_fuse_mount: $*"; exit 0; }
[ -e /dev/fuse ] || skip "/dev/fuse is missing"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed (apt-get install fuse3)"
[ -x "$FUSE" ] || { echo "FAIL: $FUSE not built"; exit 1; }
for b in namenode datanode dfs; do [ -x "$BIN/$b" ] || { echo "FAIL: $BIN/$b not built"; exit 1; }; done

T="$(mktemp -d /tmp/test_fuse.XXXXXX)"
# mktemp makes it 0700: other users (the checks as nobody) must reach the mount.
chmod 755 "$T"
MNT="$T/mnt"
CL="$T/cluster"
FUSE_PID=""
mkdir -p "$MNT"

cleanup() {
  local rc=$?
  if mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
  fi
  if [ -n "$FUSE_PID" ]; then
    for _ in $(seq 1 100); do kill -0 "$FUSE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$FUSE_PID" 2>/dev/null || true
  fi
  BUILD_DIR="$(dirname "$BIN")" "$ROOT/scripts/cluster.sh" stop --dir "$CL" >/dev/null 2>&1 || true
  if [ $rc -ne 0 ]; then
    echo "---- dfs-fuse log (tail)"; tail -n 30 "$T/fuse.log" 2>/dev/null
    if [ -n "${DFS_KEEP_TEST_DIRS:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
ok()   { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

# Free ports: four in a row (NameNode, then three DataNodes) that nobody
# listens on, in 10000-19999: below the kernel's ephemeral range (32768-),
# where port-0 listeners and outgoing connections of concurrent tests could
# take them, and apart from test_cluster_script.sh's 20000-31999.
port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
pick_ports() {
  for _ in $(seq 1 50); do
    local nn=$((10000 + RANDOM % 9996))
    if port_free $nn && port_free $((nn + 1)) && port_free $((nn + 2)) && port_free $((nn + 3)); then
      NN_PORT=$nn; DN_PORT=$((nn + 1)); return 0
    fi
  done
  return 1
}
pick_ports || { echo "FAIL: no free ports"; exit 1; }

# A configuration with 32 MiB blocks; DataNodes declared dead quickly.
mkdir -p "$T/etc"
cp -R "$ROOT/etc/." "$T/etc/"
sed -i 's#<value>128m</value>#<value>32m</value>#' "$T/etc/dfs-site.xml"
export BUILD_DIR="$(dirname "$BIN")" DFS_ETC_DIR="$T/etc" DFS_NN_PORT=$NN_PORT DFS_DN_BASE_PORT=$DN_PORT
if ! "$ROOT/scripts/cluster.sh" start --dir "$CL" > "$T/cluster.out" 2>&1; then
  cat "$T/cluster.out"; echo "FAIL: cluster did not start"; exit 1
fi
DFS=("$BIN/dfs" --conf "$CL/conf")

# Mount in the foreground (background job) so that we own its pid.
"$FUSE" "127.0.0.1:$NN_PORT" "$MNT" -f -o "conf=$CL/conf,timeout=10000,log_level=INFO,allow_other" \
  2> "$T/fuse.log" &
FUSE_PID=$!
for _ in $(seq 1 100); do
  mountpoint -q "$MNT" && break
  kill -0 "$FUSE_PID" 2>/dev/null || break
  sleep 0.1
done
if ! mountpoint -q "$MNT"; then
  if grep -qiE "permission denied|operation not permitted|fuse: device not found|fusermount" "$T/fuse.log"; then
    cat "$T/fuse.log"; FUSE_PID=""; skip "mounting is not permitted here"
  fi
  cat "$T/fuse.log"; echo "FAIL: dfs-fuse did not mount"; exit 1
fi
ok "mounted 127.0.0.1:$NN_PORT on $MNT (pid $FUSE_PID)"

# ---- a real tree: cp -r and tar -x, then diff -r and sha256sum ------------
SRC="$T/src"
mkdir -p "$SRC"
find /usr/share/doc /usr/include -type f -size -2M 2>/dev/null | head -n 3000 > "$T/list"
tar -cf "$T/src.tar" -C / --files-from=<(sed 's#^/##' "$T/list") 2>/dev/null
tar -xf "$T/src.tar" -C "$SRC"
NFILES=$(find "$SRC" -type f | wc -l)
[ "$NFILES" -ge 1000 ] || { echo "FAIL: only $NFILES files for the tree test"; exit 1; }
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
sums "$SRC" > "$T/src.sums"

check "cp -r of $NFILES files" cp -r "$SRC" "$MNT/cp"
check "diff -r after cp -r" diff -r "$SRC" "$MNT/cp"
check "sha256sum after cp -r" cmp -s "$T/src.sums" <(sums "$MNT/cp")
mkdir "$MNT/tar"
check "tar -x of $NFILES files" tar -xf "$T/src.tar" -C "$MNT/tar"
check "diff -r after tar -x" diff -r "$SRC" "$MNT/tar"
check "sha256sum after tar -x" cmp -s "$T/src.sums" <(sums "$MNT/tar")
check "find counts $NFILES files" test "$(find "$MNT/cp" -type f | wc -l)" -eq "$NFILES"

# cp over an existing file (O_TRUNC replaces it) and an editor-style rewrite.
echo "first version, longer than the second" > "$MNT/over.txt"
echo "second" > "$T/second.txt"
check "cp over an existing file" cp "$T/second.txt" "$MNT/over.txt"
check "content replaced" cmp -s "$T/second.txt" "$MNT/over.txt"
echo "third" > "$MNT/over.txt.tmp" && mv "$MNT/over.txt.tmp" "$MNT/over.txt"
check "write temp + rename over (editor save)" test "$(cat "$MNT/over.txt")" = third
check "truncate -s 0 replaces by an empty file" truncate -s 0 "$MNT/over.txt"
check "size is 0 after truncate" test "$(stat -c %s "$MNT/over.txt")" -eq 0

# ---- large file with dd -----------------------------------------------------
MB=1024
dd if=/dev/urandom of="$T/big" bs=1M count=$MB status=none
BIG_SUM=$(sha256sum < "$T/big" | cut -d' ' -f1)
check "dd write of $MB MiB" dd if="$T/big" of="$MNT/big" bs=1M status=none
check "size of the big file" test "$(stat -c %s "$MNT/big")" -eq $((MB * 1048576))
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
check "dd read back: equal sha256" test "$(dd if="$MNT/big" bs=1M status=none | sha256sum | cut -d' ' -f1)" = "$BIG_SUM"
python3 - "$T/big" "$MNT/big" > "$T/rr.out" 2>&1 <<'PY'
import os, random, sys
a = os.open(sys.argv[1], os.O_RDONLY); b = os.open(sys.argv[2], os.O_RDONLY)
size = os.fstat(a).st_size; rnd = random.Random(7); bad = 0
for i in range(300):
    # random offsets and lengths, some across block (32 MiB) boundaries,
    # then short forward and backward jumps
    off = rnd.randrange(0, size); n = rnd.choice([1, 511, 4096, 65536, 1 << 20, 3 << 20])
    if os.pread(a, n, off) != os.pread(b, n, off): bad += 1
print("mismatches", bad)
PY
check "300 random reads equal the original ($(cat "$T/rr.out"))" grep -qx "mismatches 0" "$T/rr.out"
# Sequential runs of 1-40 MiB from random places, forward and backward, in
# one open file: the mount's read-ahead thread restarts at every jump.
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
python3 - "$T/big" "$MNT/big" > "$T/runs.out" 2>&1 <<'PY'
import os, random, sys
a = os.open(sys.argv[1], os.O_RDONLY); b = os.open(sys.argv[2], os.O_RDONLY)
size = os.fstat(a).st_size; rnd = random.Random(11); bad = 0; M = 1 << 20
for i in range(30):
    off = rnd.randrange(0, size - 41 * M)
    for k in range(rnd.choice([1, 8, 40])):
        if os.pread(a, M, off) != os.pread(b, M, off): bad += 1
        off += M
print("mismatches", bad)
PY
check "sequential runs from random places equal the original ($(cat "$T/runs.out"))" grep -qx "mismatches 0" "$T/runs.out"
PIDS=()
for i in 1 2 3 4; do (sha256sum < "$MNT/big" | cut -d' ' -f1 > "$T/par.$i") & PIDS+=($!); done
wait "${PIDS[@]}" # only these: a bare wait would wait for dfs-fuse too
check "4 concurrent readers: equal sha256" test "$(cat "$T"/par.* | sort -u)" = "$BIG_SUM"
check "dfs get equals the original" sh -c '"$@" get /big "'"$T/big.get"'" >/dev/null && cmp -s "'"$T/big"'" "'"$T/big.get"'"' _ "${DFS[@]}"
rm -f "$T/big.get"
# Placement: 3 replicas per block, on both racks.
"${DFS[@]}" fsck /big -files -blocks -racks > "$T/fsck.out" 2>&1
NBLK=$(( (MB + 31) / 32 ))
check "fsck: /big healthy" grep -qi "HEALTHY" "$T/fsck.out"
check "fsck: $NBLK blocks with replicas on /rack1 and /rack2" \
  test "$(grep -c '/rack1' "$T/fsck.out")" -ge "$NBLK" -a "$(grep -c '/rack2' "$T/fsck.out")" -ge "$NBLK"

# ---- what ls -l, stat, mv, rm -r, mkdir -p, chmod, chown, df show --------
check "mkdir -p" mkdir -p "$MNT/a/b/c/d"
check "stat: a directory" test "$(stat -c %F "$MNT/a/b/c/d")" = directory
echo hello > "$MNT/a/f.txt"
check "ls -l: mode, owner, size" sh -c "ls -l '$MNT/a/f.txt' | grep -q '^-rw-r--r-- 1 root .* 6 '"
check "stat: size 6, regular file" test "$(stat -c '%s %F' "$MNT/a/f.txt")" = "6 regular file"
check "chmod 640" chmod 640 "$MNT/a/f.txt"
check "stat: mode 640" test "$(stat -c %a "$MNT/a/f.txt")" = 640
check "dfs ls agrees on the mode" sh -c '"$@" ls /a | grep -q "^-rw-r-----"' _ "${DFS[@]}"
check "chown nobody:nogroup" chown nobody:nogroup "$MNT/a/f.txt"
check "stat: owner nobody" test "$(stat -c %U "$MNT/a/f.txt")" = nobody
check "dfs ls shows owner nobody" sh -c '"$@" ls /a | grep -q "nobody"' _ "${DFS[@]}"
check "touch -d sets mtime" touch -d "2020-01-02 03:04:05 UTC" "$MNT/a/f.txt"
check "stat: mtime" test "$(stat -c %Y "$MNT/a/f.txt")" -eq 1577934245
check "mv a file" mv "$MNT/a/f.txt" "$MNT/a/b/g.txt"
check "mv: old name gone, new one there" test ! -e "$MNT/a/f.txt" -a "$(cat "$MNT/a/b/g.txt")" = hello
check "mv a directory" mv "$MNT/a/b" "$MNT/moved"
check "mv: tree moved" test -f "$MNT/moved/g.txt" -a -d "$MNT/moved/c/d"
check "rmdir of a non-empty directory fails" sh -c "! rmdir '$MNT/moved' 2>/dev/null"
check "rm -r" rm -r "$MNT/moved" "$MNT/a"
check "rm -r: gone" test ! -e "$MNT/moved" -a ! -e "$MNT/a"
# Another local user acts as itself (its own connection, NameNode checks).
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
mkdir "$MNT/pub" && chmod 777 "$MNT/pub"
check "user nobody creates a file in a 0777 directory" "${AS_NOBODY[@]}" sh -c "echo hi > '$MNT/pub/n.txt'"
check "the file is owned by nobody (in the DFS too)" sh -c "test \"\$(stat -c %U '$MNT/pub/n.txt')\" = nobody && \"\$@\" ls /pub | grep -q ' nobody '" _ "${DFS[@]}"
check "user nobody cannot create in root's 0755 directory" "${AS_NOBODY[@]}" sh -c "! touch '$MNT/nobody.txt' 2>/dev/null"
check "access(2): nobody may not write the root directory" "${AS_NOBODY[@]}" sh -c "! test -w '$MNT'"
check "access(2): nobody may read it" "${AS_NOBODY[@]}" test -r "$MNT"
check "user nobody cannot chmod root's file" "${AS_NOBODY[@]}" sh -c "! chmod 777 '$MNT/big' 2>/dev/null"
DF=$(df -P -k "$MNT" | tail -1 | awk '{print $2}')
check "df: capacity > 0 (${DF} KiB)" test "${DF:-0}" -gt 0
check "ls of a directory with $NFILES files" test "$(ls -R "$MNT/cp" | wc -l)" -gt "$NFILES"

# ---- write-once: documented errors, data unchanged ---------------------------
python3 - "$MNT/big" > "$T/pw.out" 2>&1 <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.pwrite(fd, b"X" * 4096, 12345)
    print("no error")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
finally:
    os.close(fd)
PY
check "random write into a closed file fails with EPERM ($(cat "$T/pw.out"))" grep -qx EPERM "$T/pw.out"
check "dd conv=notrunc into a closed file fails" sh -c "! dd if=/dev/zero of='$MNT/big' bs=4k count=1 seek=3 conv=notrunc status=none 2>/dev/null"
check "the closed file is unchanged" test "$(sha256sum < "$MNT/big" | cut -d' ' -f1)" = "$BIG_SUM"
python3 - "$MNT/seqw" > "$T/seqw.out" 2>&1 <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"A" * 100)
try:
    os.pwrite(fd, b"B" * 10, 50)   # before the end of a file being written
    print("no error")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
os.pwrite(fd, b"C" * 10, 200)      # past the end: a hole of zeros, then C
os.close(fd)
PY
check "non-sequential write into a file being written fails with EPERM ($(cat "$T/seqw.out"))" grep -qx EPERM "$T/seqw.out"
check "the file being written is intact (100 A, 100 zeros, 10 C)" \
  cmp -s "$MNT/seqw" <(head -c 100 /dev/zero | tr '\0' A; head -c 100 /dev/zero; printf CCCCCCCCCC)
check "append to a closed file fails (ENOTSUP)" sh -c "! (echo more >> '$MNT/big') 2>/dev/null"
check "truncate to a non-zero size fails" sh -c "! truncate -s 100 '$MNT/big' 2>/dev/null"
check "hard link fails" sh -c "! ln '$MNT/big' '$MNT/big.link' 2>/dev/null"
check "the big file is still unchanged" test "$(sha256sum < "$MNT/big" | cut -d' ' -f1)" = "$BIG_SUM"
check "the log explains the refused write" grep -q "write-once (EPERM)" "$T/fuse.log"

# ---- kill -9 of a DataNode under the mount ----------------------------------
DN3=$(cat "$CL/pids/dn3.pid")
kill -9 "$DN3"
ok "killed dn3 (pid $DN3)"
check "read after the kill: equal sha256 (other replicas)" \
  test "$(timeout 300 sha256sum < "$MNT/big" | cut -d' ' -f1)" = "$BIG_SUM"
timeout 300 dd if=/dev/urandom of="$MNT/after-kill" bs=1M count=16 status=none
rc=$?
if [ $rc -eq 124 ]; then fail "write after the kill hung"; else ok "write after the kill finished (exit $rc)"; fi
check "ls after the kill" timeout 60 ls -l "$MNT" >/dev/null
check "diff -r still identical after the kill" timeout 300 diff -r "$SRC" "$MNT/tar"

# ---- kill -9 of the NameNode under the mount ---------------------------------
NNPID=$(cat "$CL/pids/nn.pid")
kill -9 "$NNPID"
ok "killed the NameNode (pid $NNPID)"
t0=$SECONDS
timeout 120 stat "$MNT/never-cached-name" > "$T/nnkill.out" 2>&1
rc=$?
check "stat with the NameNode down fails, does not hang (exit $rc, $((SECONDS - t0)) s: $(head -c 120 "$T/nnkill.out"))" \
  test $rc -ne 0 -a $rc -ne 124
timeout 120 ls "$MNT/tar" > /dev/null 2> "$T/nnkill2.out"
rc=$?
check "ls with the NameNode down returns (exit $rc)" test $rc -ne 124
check "restart the NameNode (and dn3)" "$ROOT/scripts/cluster.sh" start --dir "$CL" > "$T/restart.out" 2>&1
check "the mount works again after the restart" timeout 120 diff -r "$SRC" "$MNT/tar"
check "a new file after the restart" sh -c "echo again > '$MNT/after-nn' && test \"\$(cat '$MNT/after-nn')\" = again"

# ---- stop with a file open for writing: destroy completes it --------------
exec 7> "$MNT/open-at-unmount"
echo "written before unmount" >&7
check "SIGTERM to dfs-fuse with a file open" kill -TERM "$FUSE_PID"
for _ in $(seq 1 300); do kill -0 "$FUSE_PID" 2>/dev/null || break; sleep 0.1; done
check "dfs-fuse exited and unmounted" sh -c "! kill -0 $FUSE_PID 2>/dev/null && ! mountpoint -q '$MNT'"
FUSE_PID=""
exec 7>&- 2>/dev/null
check "the open file was completed at unmount" \
  sh -c '"$@" cat /open-at-unmount | grep -q "written before unmount"' _ "${DFS[@]}"

if [ $FAILS -gt 0 ]; then echo "test_fuse_mount: $FAILS check(s) failed"; exit 1; fi
echo "test_fuse_mount: all checks passed"
exit 0
