/*
 * test_corrupt_replica.c - a byte flipped in one replica's block file on
 * disk (real daemons, 1 MiB blocks): every read returns the correct data
 * (the client verifies checksums and fails over), the client reports the
 * bad replica, and the NameNode replaces it from a good copy and deletes
 * it; fsck is HEALTHY afterwards and the figures show no corrupt block.
 *
 *  (a) 4 DataNodes, replication 3: the new replica goes to the fourth
 *      node and the corrupt block file disappears from its node;
 *  (b) 3 DataNodes, replication 3: no other node is free, so the corrupt
 *      copy is deleted first and its node gets a good copy again (the
 *      block file there holds the right bytes afterwards).
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minicluster.h"
#include "test_data.h"
#include "net.h"

#define NBLOCKS 3
#define BLOCK (1u << 20)
#define FLIP_AT 4099 /* inside the block, in the second 4 KiB page */

/* The finalized block file of `id` on DataNode i (docs/datanode.md). */
static void block_file(struct minicluster *mc, int i, uint64_t id, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/current/finalized/subdir%u/subdir%u/blk_%llu", mc_dn_data_dir(mc, i),
           (unsigned)((id >> 16) & 0x1f), (unsigned)((id >> 8) & 0x1f), (unsigned long long)id);
}

static int flip_byte(const char *path, off_t at) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return -1;
  uint8_t c;
  int rc = -1;
  if (pread(fd, &c, 1, at) == 1) {
    c ^= 0xff;
    if (pwrite(fd, &c, 1, at) == 1 && fsync(fd) == 0) rc = 0;
  }
  close(fd);
  return rc;
}

/* Block 0's replicas: count, and whether one is at addr. */
static int block0(dfs_fs *fs, const char *path, const char *addr, bool *on_addr, uint64_t *id) {
  struct dfs_block_loc *b;
  size_t n;
  *on_addr = false;
  if (dfs_block_locations(fs, path, 0, 1, &b, &n) != 0 || n < 1) return -1;
  int k = (int)b[0].n_replicas;
  for (size_t j = 0; j < b[0].n_replicas; j++)
    if (strcmp(b[0].replicas[j].addr, addr) == 0) *on_addr = true;
  if (id) *id = b[0].block_id;
  dfs_block_locs_free(b, n);
  return k;
}

static bool wait_full(dfs_fs *fs, const char *path, int want, int timeout_ms) {
  int64_t deadline = dfs_now_ms() + timeout_ms;
  while (dfs_now_ms() < deadline) {
    struct dfs_block_loc *b;
    size_t n;
    bool ok = false;
    if (dfs_block_locations(fs, path, 0, 0, &b, &n) == 0) {
      ok = n == NBLOCKS;
      for (size_t i = 0; i < n; i++) ok = ok && (int)b[i].n_replicas == want;
      dfs_block_locs_free(b, n);
    }
    if (ok) return true;
    usleep(50000);
  }
  return false;
}

static bool fsck_healthy(struct minicluster *mc, const char *path) {
  char *out = NULL, *err = NULL;
  int st = mc_dfs(mc, &out, &err, "fsck", path, "-files", "-blocks", NULL);
  bool ok = st == 0 && out && strstr(out, "is HEALTHY") && strstr(out, "Corrupt blocks:\t\t0") &&
            strstr(out, "Under-replicated blocks:\t0");
  if (!ok) fprintf(stderr, "fsck %s: status %d\n%s\n%s\n", path, st, out ? out : "",
                   err ? err : "");
  free(out);
  free(err);
  return ok;
}

static void run(int ndn) {
  static const char *const conf[] = {"dfs.namenode.replication.interval=100",
                                     "dfs.namenode.reconstruction.pending.timeout-sec=10",
                                     "dfs.block.scanner.volume.bytes.per.second=0", NULL};
  struct mc_opts o = {.num_datanodes = ndn, .blocksize = "1m", .replication = 3, .conf = conf};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  size_t len = (size_t)NBLOCKS * BLOCK;
  uint8_t *data = malloc(len);
  td_fill(data, len, 11);
  CU_ASSERT_FATAL(td_write_file(fs, "/c", data, len, 0) == 0);
  CU_ASSERT_FATAL(wait_full(fs, "/c", 3, 20000));

  /* corrupt the replica of block 0 on its first listed node */
  struct dfs_block_loc *b;
  size_t n;
  CU_ASSERT_FATAL(dfs_block_locations(fs, "/c", 0, 1, &b, &n) == 0 && n == 1);
  uint64_t id = b[0].block_id;
  char *addr = strdup(b[0].replicas[0].addr);
  dfs_block_locs_free(b, n);
  int bad = -1;
  for (int i = 0; i < ndn; i++)
    if (strcmp(mc_dn_addr(mc, i), addr) == 0) bad = i;
  CU_ASSERT_FATAL(bad >= 0);
  char file[1024];
  block_file(mc, bad, id, file, sizeof file);
  CU_ASSERT_FATAL(flip_byte(file, FLIP_AT) == 0);

  /* Read until a reader has met the bad copy (replica order is shuffled
   * per open) and the NameNode has replaced it: every read is correct. */
  int64_t t0 = dfs_now_ms(), deadline = t0 + 40000;
  bool replaced = false;
  int reads = 0;
  while (!replaced && dfs_now_ms() < deadline) {
    CU_ASSERT_EQUAL_FATAL(td_read_check(fs, "/c", data, len), 0);
    reads++;
    bool on_bad;
    int k = block0(fs, "/c", addr, &on_bad, NULL);
    struct stat sb;
    if (ndn > 3) {
      /* replaced elsewhere, and the bad file deleted */
      replaced = k == 3 && !on_bad && stat(file, &sb) != 0;
    } else {
      /* replaced on the same node: its file holds the right bytes again */
      uint8_t c = 0;
      int fd = open(file, O_RDONLY);
      if (fd >= 0) {
        if (pread(fd, &c, 1, FLIP_AT) != 1) c = (uint8_t)~data[FLIP_AT];
        close(fd);
      }
      replaced = k == 3 && on_bad && fd >= 0 && c == data[FLIP_AT];
    }
    if (!replaced) usleep(100000);
  }
  fprintf(stderr, "%d DataNodes: bad replica replaced after %d read(s), %lld ms\n", ndn, reads,
          (long long)(dfs_now_ms() - t0));
  CU_ASSERT(replaced);
  CU_ASSERT(wait_full(fs, "/c", 3, 20000));
  CU_ASSERT_EQUAL(td_read_check(fs, "/c", data, len), 0);
  CU_ASSERT(fsck_healthy(mc, "/c"));
  struct dfs_fs_stats st;
  CU_ASSERT_EQUAL(dfs_get_fs_stats(fs, &st), 0);
  CU_ASSERT_EQUAL(st.corrupt_blocks, 0);
  CU_ASSERT_EQUAL(st.missing_blocks, 0);
  CU_ASSERT_EQUAL(st.under_replicated, 0);
  free(addr);
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

static void test_corrupt_4dn(void) { run(4); }
static void test_corrupt_3dn(void) { run(3); }

int main(void) {
  static const struct mc_test tests[] = {
      {"flipped byte, 4 DataNodes: correct reads, replica replaced elsewhere, bad file gone",
       test_corrupt_4dn},
      {"flipped byte, 3 DataNodes: bad copy deleted first, then replaced on its node",
       test_corrupt_3dn},
      {NULL, NULL}};
  return mc_run_tests("corrupt_replica", tests);
}
