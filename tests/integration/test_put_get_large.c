/*
 * test_put_get_large.c - a 1 GiB file with 64 MiB blocks through the `dfs`
 * command on a real cluster (dn1, dn2 on /rack1, dn3 on /rack2): every
 * block has 3 replicas on 3 different DataNodes spanning both racks, fsck
 * says HEALTHY, and `dfs get` returns byte-identical content.
 * DFS_TEST_LARGE_MB changes the size (default 1024).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minicluster.h"
#include "net.h"

static void test_put_get_1g(void) {
  const char *env = getenv("DFS_TEST_LARGE_MB");
  uint64_t mb = env ? strtoull(env, NULL, 10) : 1024;
  static const char *const racks[] = {"/rack1", "/rack1", "/rack2"};
  struct mc_opts o = {.num_datanodes = 3, .racks = racks, .blocksize = "64m"};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  char src[600], dst[600];
  snprintf(src, sizeof src, "%s/big.src", mc_dir(mc));
  snprintf(dst, sizeof dst, "%s/big.dst", mc_dir(mc));
  CU_ASSERT_FATAL(mc_make_file(src, mb << 20, 42) == 0);

  char *out = NULL, *err = NULL;
  int st = mc_dfs(mc, &out, &err, "put", src, "/big", NULL);
  CU_ASSERT_EQUAL(st, 0);
  if (st) fprintf(stderr, "put: %s\n", err);
  free(out), free(err);

  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  struct dfs_block_loc *b;
  size_t n;
  /* close() returns once every block has dfs.namenode.replication.min
   * replicas; the other DataNodes' block-received reports may still be on
   * their way (HDFS tests call DFSTestUtil.waitReplication for this). */
  int64_t deadline = dfs_now_ms() + 30000;
  for (;;) {
    CU_ASSERT_FATAL(dfs_block_locations(fs, "/big", 0, 0, &b, &n) == 0);
    size_t full = 0;
    for (size_t i = 0; i < n; i++) full += b[i].n_replicas >= 3;
    if (full == n || dfs_now_ms() > deadline) break;
    dfs_block_locs_free(b, n);
    usleep(20000);
  }
  CU_ASSERT_EQUAL(n, (mb + 63) / 64);
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    total += b[i].length;
    CU_ASSERT_EQUAL(b[i].n_replicas, 3);
    int rack1 = 0, rack2 = 0;
    for (size_t j = 0; j < b[i].n_replicas; j++) {
      for (size_t k = 0; k < j; k++)
        CU_ASSERT(strcmp(b[i].replicas[j].uuid, b[i].replicas[k].uuid) != 0);
      rack1 += strcmp(b[i].replicas[j].rack, "/rack1") == 0;
      rack2 += strcmp(b[i].replicas[j].rack, "/rack2") == 0;
    }
    CU_ASSERT(rack1 >= 1 && rack2 >= 1); /* spans both racks */
  }
  CU_ASSERT_EQUAL(total, mb << 20);
  dfs_block_locs_free(b, n);
  dfs_disconnect(fs);

  st = mc_dfs(mc, &out, &err, "fsck", "/big", "-files", "-blocks", "-racks", NULL);
  CU_ASSERT_EQUAL(st, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "is HEALTHY"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "Mis-replicated blocks:\t\t0"));
  free(out), free(err);

  st = mc_dfs(mc, &out, &err, "get", "/big", dst, NULL);
  CU_ASSERT_EQUAL(st, 0);
  free(out), free(err);
  CU_ASSERT_EQUAL(mc_cmp_files(src, dst), 0);
  unlink(src);
  unlink(dst);
  mc_stop(mc);
}

int main(void) {
  static const struct mc_test tests[] = {{"put/get 1 GiB, 64 MiB blocks, rack-aware", test_put_get_1g},
                                         {NULL, NULL}};
  return mc_run_tests("put_get_large", tests);
}
