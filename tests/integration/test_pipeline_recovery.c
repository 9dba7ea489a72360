/*
 * test_pipeline_recovery.c - write-pipeline recovery on a real cluster
 * (4 DataNodes, 16 MiB blocks, replication 3):
 *
 *  (a) kill -9 of the first node of the current pipeline while a writer
 *      streams 256 MiB (1 GiB with DFS_SLOW_TESTS=1) through dfs_write
 *      (and of the middle node during a 160 MiB write: its upstream
 *      reports it in the acks):
 *      the write and the close succeed, the file reads back
 *      byte-identical, the block being written got a newer generation
 *      stamp and is no longer located on the killed node; restarted, the
 *      killed node's stale replica (older stamp) is invalidated and never
 *      listed;
 *  (b) a writer hflushes, the last node of its pipeline dies, it writes
 *      and hflushes again: a concurrent reader sees every hflushed byte,
 *      and the closed file holds exactly what was written;
 *  (c) a DataNode killed before a write (the NameNode still thinks it
 *      alive): pipeline setup excludes it and retries, every file is
 *      written and reads back.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minicluster.h"
#include "test_data.h"
#include "net.h"

#define NDN 4
#define CHUNK (1u << 20)

static int dn_index(struct minicluster *mc, const char *addr) {
  for (int i = 0; i < NDN; i++)
    if (strcmp(mc_dn_addr(mc, i), addr) == 0) return i;
  return -1;
}

/* Does dir (recursively) hold a file named `name`? */
static bool has_file(const char *dir, const char *name) {
  DIR *d = opendir(dir);
  if (!d) return false;
  struct dirent *e;
  bool found = false;
  while (!found && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) found = has_file(p, name);
    else found = strcmp(e->d_name, name) == 0;
  }
  closedir(d);
  return found;
}

/* The last block of path (the one being written) and its nodes. */
static int last_block(dfs_fs *fs, const char *path, uint64_t *id, uint64_t *gs,
                      char addrs[][64], size_t *naddrs) {
  struct dfs_block_loc *b;
  size_t n;
  int rc = dfs_block_locations(fs, path, 0, 0, &b, &n);
  if (rc) return rc;
  if (n == 0) {
    dfs_block_locs_free(b, n);
    return -1;
  }
  *id = b[n - 1].block_id;
  *gs = b[n - 1].genstamp;
  *naddrs = 0;
  for (size_t j = 0; j < b[n - 1].n_replicas && j < 8; j++)
    snprintf(addrs[(*naddrs)++], 64, "%s", b[n - 1].replicas[j].addr);
  dfs_block_locs_free(b, n);
  return 0;
}

struct writer {
  dfs_file *f;
  const uint8_t *data;
  size_t len;
  atomic_size_t written;
  atomic_int killed;       /* set once the node is dead: full speed again */
  int rc;
  char err[512];
};

static void *writer_main(void *arg) {
  struct writer *w = arg;
  size_t off = 0;
  while (off < w->len) {
    size_t n = w->len - off < CHUNK ? w->len - off : CHUNK;
    ssize_t r = dfs_write(w->f, w->data + off, n);
    if (r != (ssize_t)n) {
      w->rc = r < 0 ? (int)r : -1;
      snprintf(w->err, sizeof w->err, "%s", dfs_error_message());
      return NULL;
    }
    off += n;
    atomic_store(&w->written, off);
    /* Past half, slow down until the node is dead, so that the kill lands
     * while packets are in flight rather than after the last byte. */
    if (off >= w->len / 2 && !atomic_load(&w->killed)) usleep(5000);
  }
  return NULL;
}

/* A killed node is declared dead after 2 x recheck + 10 x heartbeat (1 s
 * in the harness) = 12 s, so re-replication is seen within the test. */
static const char *const CONF[] = {"dfs.blockreport.intervalMsec=2000",
                                   "dfs.namenode.heartbeat.recheck-interval=1000", NULL};

/* Every block of path back at 3 replicas, none on the dead node `gone`,
 * and `dfs fsck` (the real command) says HEALTHY; 0 or -1 at the deadline. */
static int wait_healthy(struct minicluster *mc, dfs_fs *fs, const char *path, const char *gone,
                        int timeout_ms) {
  int64_t dl = dfs_now_ms() + timeout_ms, t0 = dfs_now_ms();
  for (;;) {
    struct dfs_block_loc *b;
    size_t n;
    bool ok = dfs_block_locations(fs, path, 0, 0, &b, &n) == 0 && n > 0;
    for (size_t i = 0; ok && i < n; i++) {
      if (b[i].n_replicas != 3) ok = false;
      for (size_t j = 0; ok && j < b[i].n_replicas; j++)
        if (strcmp(b[i].replicas[j].addr, gone) == 0) ok = false;
    }
    bool late = !ok && dfs_now_ms() > dl;
    for (size_t i = 0; late && i < n; i++) {
      fprintf(stderr, "%s: blk_%" PRIu64 "_%" PRIu64 ":", path, b[i].block_id, b[i].genstamp);
      for (size_t j = 0; j < b[i].n_replicas; j++) fprintf(stderr, " %s", b[i].replicas[j].addr);
      fprintf(stderr, "\n");
    }
    if (n) dfs_block_locs_free(b, n);
    if (ok) break;
    if (late) return -1;
    usleep(200000);
  }
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s/dfs --conf %s --namenode %s fsck %s | grep -q 'is HEALTHY'",
           DFS_BIN_DIR, mc_conf_dir(mc), mc_nn_addr(mc), path);
  int rc = system(cmd);
  fprintf(stderr, "%s: 3 replicas of every block %.1f s after the kill, fsck %s\n", path,
          (double)(dfs_now_ms() - t0) / 1000.0, rc == 0 ? "HEALTHY" : "NOT healthy");
  return rc == 0 ? 0 : -1;
}

/* Write len bytes, kill -9 pipeline node `pos` of the block being written
 * half-way; with `restart`, bring the victim back and check its stale
 * replica goes. */
static void kill_during_write(size_t len, size_t pos, bool restart) {
  struct mc_opts o = {.num_datanodes = NDN, .blocksize = "16m", .replication = 3, .conf = CONF};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  uint8_t *data = malloc(len);
  CU_ASSERT_FATAL(data != NULL);
  td_fill(data, len, 42);
  struct dfs_create_opts co = {.replication = 3};
  struct writer w = {.data = data, .len = len};
  CU_ASSERT_FATAL(dfs_create(fs, "/pr/big", &co, &w.f) == 0);
  pthread_t th;
  CU_ASSERT_FATAL(pthread_create(&th, NULL, writer_main, &w) == 0);
  int64_t deadline = dfs_now_ms() + 120000;
  /* Half-way, and in the middle of a block (not at its boundary, where
   * the last block listed would be the finished one). */
  size_t mark = len / 2 + (8u << 20);
  while (atomic_load(&w.written) < mark && !w.rc && dfs_now_ms() < deadline) usleep(1000);
  uint64_t id = 0, gs = 0;
  char addrs[8][64];
  size_t na = 0;
  int victim = -1;
  if (last_block(fs, "/pr/big", &id, &gs, addrs, &na) == 0 && na > pos)
    victim = dn_index(mc, addrs[pos]);
  CU_ASSERT(na == 3);
  CU_ASSERT(victim >= 0);
  if (victim >= 0) {
    if (pos) memcpy(addrs[0], addrs[pos], sizeof addrs[0]); /* the victim's, below */
    fprintf(stderr, "killing %s (node %zu of blk_%" PRIu64 "_%" PRIu64 ") at %zu MiB\n",
            addrs[0], pos, id, gs, atomic_load(&w.written) >> 20);
    CU_ASSERT(mc_kill_dn(mc, victim, SIGKILL) == 0);
  }
  atomic_store(&w.killed, 1);
  pthread_join(th, NULL);
  if (w.rc) fprintf(stderr, "writer: %s\n", w.err);
  CU_ASSERT_EQUAL(w.rc, 0);
  int crc = dfs_close(w.f);
  if (crc) fprintf(stderr, "close: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(crc, 0);
  CU_ASSERT_EQUAL(td_read_check(fs, "/pr/big", data, len), 0);

  /* The block that was being written: newer stamp, not on the victim. */
  struct dfs_block_loc *b;
  size_t n;
  CU_ASSERT_FATAL(dfs_block_locations(fs, "/pr/big", 0, 0, &b, &n) == 0);
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < b[i].n_replicas; j++)
      if (b[i].block_id == id) CU_ASSERT(strcmp(b[i].replicas[j].addr, addrs[0]) != 0);
    if (b[i].block_id == id) {
      found = true;
      fprintf(stderr, "blk_%" PRIu64 ": genstamp %" PRIu64 " -> %" PRIu64 ", %zu replicas\n",
              id, gs, b[i].genstamp, b[i].n_replicas);
      CU_ASSERT(b[i].genstamp > gs);
      CU_ASSERT(b[i].n_replicas >= 1);
    }
  }
  CU_ASSERT(found);
  dfs_block_locs_free(b, n);

  /* Left dead, the victim's replicas are copied elsewhere: 3 per block. */
  if (victim >= 0 && !restart) CU_ASSERT(wait_healthy(mc, fs, "/pr/big", addrs[0], 90000) == 0);

  /* The victim comes back: its replica under the old stamp is invalidated
   * and never listed. */
  if (victim >= 0 && restart) {
    char meta[128];
    snprintf(meta, sizeof meta, "blk_%" PRIu64 "_%" PRIu64 ".meta", id, gs);
    CU_ASSERT(has_file(mc_dn_data_dir(mc, victim), meta));
    CU_ASSERT_FATAL(mc_restart_dn(mc, victim) == 0);
    CU_ASSERT(mc_wait_live(mc, NDN, 30000) == 0);
    int64_t dl = dfs_now_ms() + 30000;
    while (has_file(mc_dn_data_dir(mc, victim), meta) && dfs_now_ms() < dl) usleep(100000);
    CU_ASSERT(!has_file(mc_dn_data_dir(mc, victim), meta));
    CU_ASSERT_FATAL(dfs_block_locations(fs, "/pr/big", 0, 0, &b, &n) == 0);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < b[i].n_replicas; j++)
        if (b[i].block_id == id && strcmp(b[i].replicas[j].addr, addrs[0]) == 0)
          CU_ASSERT(b[i].genstamp > gs); /* only a fresh copy of the new stamp */
    dfs_block_locs_free(b, n);
    CU_ASSERT_EQUAL(td_read_check(fs, "/pr/big", data, len), 0);
    CU_ASSERT(wait_healthy(mc, fs, "/pr/big", "-", 90000) == 0); /* back at 3 everywhere */
  }
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

static void test_kill_first_during_write(void) {
  const char *slow = getenv("DFS_SLOW_TESTS");
  size_t len = (slow && *slow && strcmp(slow, "0") != 0) ? (1024u << 20) : (256u << 20);
  kill_during_write(len - 12345, 0, true); /* a partial last chunk and block */
}

static void test_kill_middle_during_write(void) {
  kill_during_write((160u << 20) + 4321, 1, false);
}

/* Read [0, n) of path with a reader opened now and compare. */
static int reader_sees(dfs_fs *fs, dfs_file *r, const uint8_t *want, size_t n) {
  (void)fs;
  int64_t flen = dfs_file_length(r);
  if (flen < (int64_t)n) {
    fprintf(stderr, "reader: length %lld < %zu hflushed\n", (long long)flen, n);
    return -1;
  }
  uint8_t *got = malloc(n);
  ssize_t g = dfs_pread(r, 0, got, n);
  int rc = g == (ssize_t)n && memcmp(got, want, n) == 0 ? 0 : -1;
  if (rc) fprintf(stderr, "reader: pread %zd of %zu: %s\n", g, n, g < 0 ? dfs_error_message() : "");
  free(got);
  return rc;
}

static void test_hflush_then_kill(void) {
  struct mc_opts o = {.num_datanodes = NDN, .blocksize = "16m", .replication = 3, .conf = CONF};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  size_t n1 = 3 * CHUNK + 1234, n2 = CHUNK + 777, n3 = 4321;
  size_t total = n1 + n2 + n3;
  uint8_t *data = malloc(total);
  td_fill(data, total, 9);
  struct dfs_create_opts co = {.replication = 3};
  dfs_file *f, *r = NULL;
  CU_ASSERT_FATAL(dfs_create(fs, "/pr/h", &co, &f) == 0);
  CU_ASSERT_EQUAL(dfs_write(f, data, n1), (ssize_t)n1);
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  CU_ASSERT_FATAL(dfs_open(fs, "/pr/h", &r) == 0);
  CU_ASSERT_EQUAL(reader_sees(fs, r, data, n1), 0);

  uint64_t id = 0, gs = 0;
  char addrs[8][64];
  size_t na = 0;
  CU_ASSERT_FATAL(last_block(fs, "/pr/h", &id, &gs, addrs, &na) == 0);
  CU_ASSERT_FATAL(na == 3);
  int victim = dn_index(mc, addrs[2]); /* the last node: its upstream reports it */
  CU_ASSERT_FATAL(victim >= 0);
  CU_ASSERT(mc_kill_dn(mc, victim, SIGKILL) == 0);

  CU_ASSERT_EQUAL(dfs_write(f, data + n1, n2), (ssize_t)n2);
  int hrc = dfs_hflush(f);
  if (hrc) fprintf(stderr, "hflush: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(hrc, 0);
  CU_ASSERT_EQUAL(reader_sees(fs, r, data, n1 + n2), 0);
  /* an idle pipeline with a dead node is recovered by the next hsync too */
  CU_ASSERT_EQUAL(dfs_write(f, data + n1 + n2, n3), (ssize_t)n3);
  CU_ASSERT_EQUAL(dfs_hsync(f), 0);
  CU_ASSERT_EQUAL(reader_sees(fs, r, data, total), 0);
  dfs_close(r);
  uint64_t id2 = 0, gs2 = 0;
  CU_ASSERT(last_block(fs, "/pr/h", &id2, &gs2, addrs, &na) == 0);
  CU_ASSERT_EQUAL(id2, id);
  CU_ASSERT(gs2 > gs);
  for (size_t j = 0; j < na; j++) CU_ASSERT(strcmp(addrs[j], mc_dn_addr(mc, victim)) != 0);
  /* A NameNode restart replays the new stamp (OP_SET_GENSTAMP,
   * OP_UPDATE_BLOCK): otherwise the replicas the survivors finalize under
   * it would be refused and the close below would time out. SIGKILL: no
   * checkpoint, the edits are what is replayed. */
  CU_ASSERT_FATAL(mc_kill_nn(mc, SIGKILL) == 0);
  CU_ASSERT_FATAL(mc_restart_nn(mc) == 0);
  CU_ASSERT(mc_wait_live(mc, NDN - 1, 30000) == 0);
  int64_t sdl = dfs_now_ms() + 30000;
  bool on = true;
  while (dfs_now_ms() < sdl && (dfs_safemode(fs, DFS_SAFEMODE_GET, &on) != 0 || on))
    usleep(100000);
  CU_ASSERT_FALSE(on);
  uint64_t id3 = 0, gs3 = 0;
  CU_ASSERT(last_block(fs, "/pr/h", &id3, &gs3, addrs, &na) == 0);
  CU_ASSERT_EQUAL(gs3, gs2);
  int crc = dfs_close(f);
  if (crc) fprintf(stderr, "close: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(crc, 0);
  CU_ASSERT_EQUAL(td_read_check(fs, "/pr/h", data, total), 0);
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

static void test_dead_node_at_setup(void) {
  struct mc_opts o = {.num_datanodes = NDN, .blocksize = "1m", .replication = 3, .conf = CONF};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  /* Dead, but the NameNode will not notice for minutes: it keeps placing
   * replicas there and the client must route around it. */
  CU_ASSERT(mc_kill_dn(mc, 1, SIGKILL) == 0);
  size_t len = 3 * (1u << 20) + 99;
  uint8_t *data = malloc(len);
  for (int k = 0; k < 6; k++) {
    char path[64];
    snprintf(path, sizeof path, "/pr/s%d", k);
    td_fill(data, len, (uint32_t)k + 100);
    struct dfs_create_opts co = {.replication = 3};
    dfs_file *f;
    CU_ASSERT_FATAL(dfs_create(fs, path, &co, &f) == 0);
    ssize_t wn = dfs_write(f, data, len);
    if (wn != (ssize_t)len) fprintf(stderr, "write %s: %s\n", path, dfs_error_message());
    CU_ASSERT_EQUAL(wn, (ssize_t)len);
    int crc = dfs_close(f);
    if (crc) fprintf(stderr, "close %s: %s\n", path, dfs_error_message());
    CU_ASSERT_EQUAL(crc, 0);
    CU_ASSERT_EQUAL(td_read_check(fs, path, data, len), 0);
  }
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

int main(void) {
  static const struct mc_test tests[] = {
      {"kill -9 of the first pipeline node mid-write: complete, identical, stale replica gone",
       test_kill_first_during_write},
      {"kill -9 of the middle pipeline node mid-write: complete, identical",
       test_kill_middle_during_write},
      {"hflush, last pipeline node dies, write + hflush: the reader sees every hflushed byte",
       test_hflush_then_kill},
      {"a dead node at pipeline setup is excluded", test_dead_node_at_setup},
      {NULL, NULL}};
  return mc_run_tests("pipeline_recovery", tests);
}
