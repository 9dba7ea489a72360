/*
 * test_nn_restart.c - kill -9 of the NameNode after acknowledged mkdirs,
 * creates, renames (files and directories), deletes, chmod and chown; after
 * a restart on the same directories the namespace is exactly as
 * acknowledged (full recursive listing: type, length, permission, owner,
 * group, replication, modification time) and every file reads back
 * byte-identical. Run twice: once replaying only the edit log, once with
 * checkpoints every few transactions so that recovery crosses images (the
 * test checks that an image with a transaction id > 0 was written).
 * Also: an hflush in a block allocated without the sync survives; a lost
 * allocation's id and stamp are not handed out again.
 * DFS_SLOW_TESTS=1 adds a soak: 8 kill -9 cycles of a few hundred operations.
 */
#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "minicluster.h"
#include "net.h"

struct file_spec {
  const char *path;
  size_t len;
  uint32_t seed;
};

static uint8_t *content(size_t len, uint32_t seed) {
  uint8_t *b = malloc(len ? len : 1);
  uint32_t x = seed * 2654435761u + 7;
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = (uint8_t)(x >> 16);
  }
  return b;
}

static int write_file(dfs_fs *fs, const char *path, size_t len, uint32_t seed) {
  dfs_file *f;
  int rc = dfs_create(fs, path, NULL, &f);
  if (rc) return rc;
  uint8_t *b = content(len, seed);
  ssize_t w = dfs_write(f, b, len);
  free(b);
  rc = dfs_close(f);
  return w < 0 ? (int)w : rc;
}

static int check_file(dfs_fs *fs, const char *path, size_t len, uint32_t seed) {
  dfs_file *f;
  int rc = dfs_open(fs, path, &f);
  if (rc) return rc;
  uint8_t *want = content(len, seed), *got = malloc(len + 1);
  size_t n = 0;
  for (;;) {
    ssize_t r = dfs_read(f, got + n, len + 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  int bad = n != len || memcmp(want, got, len) != 0;
  free(want), free(got);
  dfs_close(f);
  return bad;
}

/* Recursive listing as text, one line per entry. */
static void listing(dfs_fs *fs, const char *dir, FILE *out) {
  struct dfs_stat *e;
  size_t n;
  if (dfs_list(fs, dir, &e, &n) != 0) {
    fprintf(out, "ERROR %s\n", dir);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    char p[1024];
    snprintf(p, sizeof p, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", e[i].name);
    fprintf(out, "%s %c len=%llu perm=%o %s:%s rep=%d mtime=%lld\n", p,
            e[i].type == DFS_TYPE_DIR ? 'd' : 'f', (unsigned long long)e[i].length,
            e[i].permission, e[i].owner, e[i].group, e[i].replication, (long long)e[i].mtime_ms);
    if (e[i].type == DFS_TYPE_DIR) listing(fs, p, out);
  }
  dfs_stats_free(e, n);
}

static char *snapshot(dfs_fs *fs) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  listing(fs, "/", m);
  fclose(m);
  return buf;
}

/* Highest transaction id of a finished image (fsimage_<txid>) under dir. */
static uint64_t max_image_txid;
static int image_seen(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)f;
  const char *base = strrchr(p, '/');
  base = base ? base + 1 : p;
  if (flag == FTW_F && strncmp(base, "fsimage_", 8) == 0 &&
      strspn(base + 8, "0123456789") == strlen(base + 8)) {
    uint64_t t = strtoull(base + 8, NULL, 10);
    if (t > max_image_txid) max_image_txid = t;
  }
  return 0;
}

static uint64_t newest_image(const char *dir) {
  max_image_txid = 0;
  nftw(dir, image_seen, 8, FTW_PHYS);
  return max_image_txid;
}

static void run(const char *const *conf, bool expect_checkpoint) {
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m", .conf = conf};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  static const struct file_spec files[] = {
      {"/a/b/f1r", 2621440 + 77, 1}, {"/a/b/f2", 1000, 2}, {"/e/f3", 1048576, 3},
      {"/e/sub/f5", 0, 5},           {"/top", 12345, 6},
  };
  CU_ASSERT(dfs_mkdirs(fs, "/a/b/c", 0755) == 0);
  CU_ASSERT(dfs_mkdirs(fs, "/d/sub", 0750) == 0);
  CU_ASSERT(write_file(fs, "/a/f1", files[0].len, 1) == 0);
  CU_ASSERT(write_file(fs, "/a/b/f2", files[1].len, 2) == 0);
  CU_ASSERT(write_file(fs, "/d/f3", files[2].len, 3) == 0);
  CU_ASSERT(write_file(fs, "/x/f4", 4096, 4) == 0);
  CU_ASSERT(write_file(fs, "/d/sub/f5", 0, 5) == 0);
  CU_ASSERT(write_file(fs, "/top", files[4].len, 6) == 0);
  CU_ASSERT(write_file(fs, "/del/sub/file", 3000, 7) == 0);
  CU_ASSERT(dfs_rename(fs, "/a/f1", "/a/b/f1r", false) == 0); /* file */
  CU_ASSERT(dfs_rename(fs, "/d", "/e", false) == 0);          /* directory */
  CU_ASSERT(dfs_delete(fs, "/x/f4", false) == 0);
  CU_ASSERT(dfs_delete(fs, "/del", true) == 0);
  CU_ASSERT(dfs_chmod(fs, "/a/b", 0700) == 0);
  CU_ASSERT(dfs_chown(fs, "/a/b/f2", "alice", "staff") == 0);
  CU_ASSERT(dfs_set_replication(fs, "/top", 2) == 0);
  char *before = snapshot(fs);
  dfs_disconnect(fs);
  if (expect_checkpoint) {
    /* the restart must really start from an image plus a log tail */
    char nn_dir[700];
    snprintf(nn_dir, sizeof nn_dir, "%s/nn", mc_dir(mc));
    int64_t deadline = dfs_now_ms() + 20000;
    while (newest_image(nn_dir) == 0 && dfs_now_ms() < deadline) usleep(20000);
    CU_ASSERT(newest_image(nn_dir) > 0);
    if (newest_image(nn_dir) == 0) fprintf(stderr, "no checkpoint image in %s\n", nn_dir);
  }

  CU_ASSERT(mc_kill_nn(mc, SIGKILL) == 0);
  CU_ASSERT_FATAL(mc_restart_nn(mc) == 0);
  CU_ASSERT_FATAL(mc_wait_live(mc, 3, 30000) == 0);

  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  char *after = snapshot(fs);
  CU_ASSERT_STRING_EQUAL(before, after);
  if (strcmp(before, after) != 0) fprintf(stderr, "BEFORE:\n%s\nAFTER:\n%s\n", before, after);
  struct dfs_stat st;
  CU_ASSERT_EQUAL(dfs_stat(fs, "/x/f4", &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(dfs_stat(fs, "/del", &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(dfs_stat(fs, "/a/f1", &st), DFS_ENOENT);
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    CU_ASSERT_EQUAL(check_file(fs, files[i].path, files[i].len, files[i].seed), 0);
  /* and it keeps working: a new file once safe mode is over */
  bool on = true;
  for (int i = 0; i < 300 && on; i++) {
    if (dfs_safemode(fs, DFS_SAFEMODE_GET, &on) != 0) break;
    if (on) usleep(100000);
  }
  CU_ASSERT_FALSE(on);
  int wrc = write_file(fs, "/after", 5000, 9);
  CU_ASSERT_EQUAL(wrc, 0);
  if (wrc) fprintf(stderr, "write after restart: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(check_file(fs, "/after", 5000, 9), 0);
  free(before), free(after);
  dfs_disconnect(fs);
  mc_stop(mc);
}

static void test_edit_log_replay(void) { run(NULL, false); }

/* A block after the first is allocated without waiting for the edit log's
 * sync (ADD_BLOCK sync_later); an hflush in it, or right after it ended,
 * must make the allocation durable (FSYNC) before it returns. Without that
 * both files below lose their second block to the kill -9: nothing else
 * syncs the edit log in between. */
static void test_hflush_in_later_block(void) {
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m"};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  static const struct file_spec files[] = {
      {"/mid", 1048576 + 300000, 11}, /* hflush inside the second block */
      {"/edge", 2 * 1048576, 12},     /* hflush just after the second block ended */
  };
  /* First blocks (allocated with a sync) of both files before the second
   * blocks, so that no synced allocation follows an unsynced one. */
  dfs_file *w[2] = {NULL, NULL};
  uint8_t *b[2];
  const size_t first = 1048576;
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_FATAL(dfs_create(fs, files[i].path, NULL, &w[i]) == 0);
    b[i] = content(files[i].len, files[i].seed);
    CU_ASSERT_EQUAL(dfs_write(w[i], b[i], first), (ssize_t)first);
  }
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL(dfs_write(w[i], b[i] + first, files[i].len - first),
                    (ssize_t)(files[i].len - first));
    free(b[i]);
    int rc = dfs_hflush(w[i]);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc) fprintf(stderr, "hflush %s: %s\n", files[i].path, dfs_error_message());
  }
  CU_ASSERT(mc_kill_nn(mc, SIGKILL) == 0);
  CU_ASSERT_FATAL(mc_restart_nn(mc) == 0);
  CU_ASSERT_FATAL(mc_wait_live(mc, 3, 30000) == 0);
  dfs_fs *rfs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &rfs) == 0);
  for (int i = 0; i < 2; i++) {
    int bad = check_file(rfs, files[i].path, files[i].len, files[i].seed);
    CU_ASSERT_EQUAL(bad, 0);
    if (bad) fprintf(stderr, "%s: hflushed bytes lost with the NameNode (%d)\n", files[i].path, bad);
  }
  for (int i = 0; i < 2; i++) dfs_close(w[i]); /* the old lease: result not checked */
  dfs_disconnect(rfs);
  dfs_disconnect(fs);
  mc_stop(mc);
}

/* The same allocation lost instead: no hflush, so a kill -9 loses the
 * second block's edit while the DataNodes hold its replicas being written.
 * After the restart new files write and read back whole, and the stale
 * replicas are deleted once reported. (That the lost block's id and stamp
 * are not handed out again is shown by test_nn_editlog; here a reused pair
 * would only cost the first new pipeline its nodes - EEXIST at setup, the
 * client abandons the block and goes on - so this test guards the whole
 * path, not that detail.) */
static void test_lost_allocation(void) {
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m"};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  dfs_file *w = NULL;
  CU_ASSERT_FATAL(dfs_create(fs, "/lost", NULL, &w) == 0);
  const size_t len = 1048576 + 300000;
  uint8_t *b = content(len, 21);
  CU_ASSERT_EQUAL(dfs_write(w, b, len), (ssize_t)len); /* the second pipeline is up */
  free(b);
  CU_ASSERT(mc_kill_nn(mc, SIGKILL) == 0);
  CU_ASSERT_FATAL(mc_restart_nn(mc) == 0);
  CU_ASSERT_FATAL(mc_wait_live(mc, 3, 30000) == 0);
  dfs_fs *rfs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &rfs) == 0);
  static const struct file_spec files[] = {
      {"/new1", 1048576 + 4096, 22}, {"/new2", 3 * 1048576, 23}, {"/new3", 1000, 24}};
  for (int i = 0; i < 3; i++) {
    int rc = write_file(rfs, files[i].path, files[i].len, files[i].seed);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc) fprintf(stderr, "write %s after the restart: %s\n", files[i].path, dfs_error_message());
  }
  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL(check_file(rfs, files[i].path, files[i].len, files[i].seed), 0);
  dfs_close(w); /* the old writer's lease and block: result not checked */
  dfs_disconnect(rfs);
  dfs_disconnect(fs);
  mc_stop(mc);
}

static void test_across_checkpoints(void) {
  static const char *const conf[] = {"dfs.namenode.checkpoint.txns=5", NULL};
  run(conf, true);
}

/* DFS_SLOW_TESTS=1: many kill -9 / restart cycles, each after a few hundred
 * acknowledged operations, with checkpoints now and then. */
static void test_soak_cycles(void) {
  static const char *const conf[] = {"dfs.namenode.checkpoint.txns=300", NULL};
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m", .conf = conf};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  for (int cycle = 0; cycle < 8; cycle++) {
    dfs_fs *fs;
    CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
    bool on = true;
    for (int i = 0; i < 300 && on; i++) {
      if (dfs_safemode(fs, DFS_SAFEMODE_GET, &on) != 0) break;
      if (on) usleep(100000);
    }
    char dir[64], p[128], q[128];
    snprintf(dir, sizeof dir, "/soak/c%d", cycle);
    CU_ASSERT(dfs_mkdirs(fs, dir, 0755) == 0);
    for (int i = 0; i < 120; i++) {
      snprintf(p, sizeof p, "%s/f%03d", dir, i);
      CU_ASSERT(write_file(fs, p, (size_t)(i * 37 % 5000), (uint32_t)(cycle * 1000 + i)) == 0);
    }
    for (int i = 0; i < 120; i += 2) {
      snprintf(p, sizeof p, "%s/f%03d", dir, i);
      snprintf(q, sizeof q, "%s/r%03d", dir, i);
      CU_ASSERT(dfs_rename(fs, p, q, false) == 0);
    }
    for (int i = 1; i < 120; i += 4) {
      snprintf(p, sizeof p, "%s/f%03d", dir, i);
      CU_ASSERT(dfs_delete(fs, p, false) == 0);
    }
    if (cycle > 0) {
      snprintf(p, sizeof p, "/soak/c%d", cycle - 1);
      snprintf(q, sizeof q, "/soak/old%d", cycle - 1);
      CU_ASSERT(dfs_rename(fs, p, q, false) == 0);
    }
    if (cycle > 1) {
      snprintf(p, sizeof p, "/soak/old%d", cycle - 2);
      CU_ASSERT(dfs_delete(fs, p, true) == 0);
    }
    char *before = snapshot(fs);
    dfs_disconnect(fs);
    CU_ASSERT(mc_kill_nn(mc, SIGKILL) == 0);
    CU_ASSERT_FATAL(mc_restart_nn(mc) == 0);
    CU_ASSERT_FATAL(mc_wait_live(mc, 3, 30000) == 0);
    CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
    char *after = snapshot(fs);
    CU_ASSERT_STRING_EQUAL(before, after);
    for (int i = 3; i < 120; i += 8) { /* f003, f011, ...: kept, not renamed */
      snprintf(p, sizeof p, "%s/f%03d", dir, i);
      CU_ASSERT_EQUAL(check_file(fs, p, (size_t)(i * 37 % 5000), (uint32_t)(cycle * 1000 + i)), 0);
    }
    free(before), free(after);
    dfs_disconnect(fs);
  }
  mc_stop(mc);
}

int main(void) {
  static const struct mc_test tests[] = {
      {"kill -9 and restart: edit log replay", test_edit_log_replay},
      {"kill -9 and restart: across checkpoints", test_across_checkpoints},
      {"kill -9 after an hflush in a later block", test_hflush_in_later_block},
      {"kill -9 loses an allocation: new files write after the restart", test_lost_allocation},
      {NULL, NULL}, /* the soak test goes here with DFS_SLOW_TESTS=1 */
      {NULL, NULL}};
  static struct mc_test all[6];
  memcpy(all, tests, sizeof tests);
  const char *slow = getenv("DFS_SLOW_TESTS");
  if (slow && strcmp(slow, "1") == 0)
    all[4] = (struct mc_test){"soak: 8 kill -9 cycles with checkpoints", test_soak_cycles};
  return mc_run_tests("nn_restart", all);
}
