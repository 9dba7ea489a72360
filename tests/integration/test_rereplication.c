/*
 * test_rereplication.c - the NameNode keeps every block at its replication
 * factor on a real cluster (5 DataNodes on 2 racks, 1 MiB blocks, short
 * intervals: heartbeat 1 s, a silent node is dead after ~12 s, replication
 * monitor every 200 ms):
 *
 *  (a) kill -9 of two of the three DataNodes holding a file's first block:
 *      the file still reads back byte-identical (from the third), and
 *      within a deadline every block has 3 live replicas again on the
 *      surviving nodes, spanning both racks; fsck says HEALTHY;
 *  (b) the killed nodes come back with their old replicas: the
 *      over-replicated blocks are trimmed to 3; then setrep 3 -> 2 -> 4 is
 *      carried out (exactly 2, then exactly 4 replicas per block);
 *  (c) decommissioning: a holder of the first block listed in the exclude
 *      file (dfs.hosts.exclude) and REFRESH_NODES sent: it goes
 *      "decommission in progress", every block gets 3 replicas on other
 *      nodes, then it is "Decommissioned" (`dfs report` says so), the file
 *      reads back and fsck is HEALTHY;
 *  (d) safe mode after a NameNode restart: on while no DataNode has
 *      reported (no replication work: every block looks lost), still on
 *      during the extension after the first report, then off by itself
 *      (logged); the file reads back.
 */
#include <CUnit/Basic.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfs_methods.h"
#include "minicluster.h"
#include "test_data.h"
#include "net.h"
#include "rpc.h"

#define NBLOCKS 6
#define BLOCK (1u << 20)

static bool on(const char *addr, char *const *bad, int nbad) {
  for (int i = 0; i < nbad; i++)
    if (bad[i] && strcmp(addr, bad[i]) == 0) return true;
  return false;
}

/* Poll until every block of path has exactly `want` replicas (distinct
 * nodes), none at an address in bad[], spanning 2 racks when want >= 2.
 * Returns true when reached before the deadline. */
static bool wait_replicas(dfs_fs *fs, const char *path, int want, char *const *bad, int nbad,
                          int timeout_ms) {
  int64_t deadline = dfs_now_ms() + timeout_ms;
  char last[256] = "";
  for (;;) {
    struct dfs_block_loc *b;
    size_t n;
    bool ok = false;
    if (dfs_block_locations(fs, path, 0, 0, &b, &n) == 0) {
      ok = n == NBLOCKS;
      for (size_t i = 0; i < n && ok; i++) {
        if ((int)b[i].n_replicas != want) {
          snprintf(last, sizeof last, "block %zu has %zu replicas", i, b[i].n_replicas);
          ok = false;
        }
        bool two_racks = false;
        for (size_t j = 0; j < b[i].n_replicas && ok; j++) {
          if (on(b[i].replicas[j].addr, bad, nbad)) {
            snprintf(last, sizeof last, "block %zu still on %s", i, b[i].replicas[j].addr);
            ok = false;
          }
          for (size_t k = 0; k < j; k++) {
            if (strcmp(b[i].replicas[j].uuid, b[i].replicas[k].uuid) == 0) ok = false;
            if (strcmp(b[i].replicas[j].rack, b[i].replicas[k].rack) != 0) two_racks = true;
          }
        }
        if (ok && want >= 2 && !two_racks) {
          snprintf(last, sizeof last, "block %zu on one rack", i);
          ok = false;
        }
      }
      dfs_block_locs_free(b, n);
    }
    if (ok) return true;
    if (dfs_now_ms() > deadline) {
      fprintf(stderr, "wait_replicas(%d): %s\n", want, last);
      return false;
    }
    usleep(100000);
  }
}

static int dn_index(struct minicluster *mc, int ndn, const char *addr) {
  for (int i = 0; i < ndn; i++)
    if (strcmp(mc_dn_addr(mc, i), addr) == 0) return i;
  return -1;
}

static bool fsck_healthy(struct minicluster *mc, const char *path) {
  char *out = NULL, *err = NULL;
  int st = mc_dfs(mc, &out, &err, "fsck", path, "-files", "-blocks", "-racks", NULL);
  bool ok = st == 0 && out && strstr(out, "is HEALTHY") &&
            strstr(out, "Under-replicated blocks:\t0");
  if (!ok) fprintf(stderr, "fsck %s: status %d\n%s\n%s\n", path, st, out ? out : "",
                   err ? err : "");
  free(out);
  free(err);
  return ok;
}

static void test_rereplication(void) {
  static const char *const racks[] = {"/rack1", "/rack1", "/rack2", "/rack2", "/rack2"};
  static const char *const conf[] = {
      "dfs.namenode.heartbeat.recheck-interval=1000", /* dead after 2*1 + 10*1 = 12 s */
      "dfs.namenode.replication.interval=200",
      /* short: a transfer to a restarted node may fail once on the
       * source's stale pooled connection (DataNode side) and is then
       * scheduled again after this timeout */
      "dfs.namenode.reconstruction.pending.timeout-sec=3",
      NULL};
  const int ndn = 5;
  struct mc_opts o = {.num_datanodes = ndn, .racks = racks, .blocksize = "1m", .conf = conf};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  size_t len = (size_t)NBLOCKS * BLOCK - 1000; /* a short last block */
  uint8_t *data = malloc(len);
  td_fill(data, len, 7);
  CU_ASSERT_FATAL(td_write_file(fs, "/r/f", data, len, 3) == 0);
  CU_ASSERT_FATAL(wait_replicas(fs, "/r/f", 3, NULL, 0, 20000));

  /* (a) kill -9 two of the three holders of block 0 */
  struct dfs_block_loc *b;
  size_t n;
  CU_ASSERT_FATAL(dfs_block_locations(fs, "/r/f", 0, 1, &b, &n) == 0 && n == 1);
  CU_ASSERT_FATAL(b[0].n_replicas == 3);
  /* one holder from each rack, so that the survivors still span both
   * racks (the placement put the three on both racks) */
  char *killed[2] = {NULL, NULL};
  int ki[2];
  for (size_t j = 0; j < b[0].n_replicas; j++) {
    int k = strcmp(b[0].replicas[j].rack, "/rack1") == 0 ? 0 : 1;
    if (!killed[k]) killed[k] = strdup(b[0].replicas[j].addr);
  }
  CU_ASSERT_FATAL(killed[0] && killed[1]);
  for (int k = 0; k < 2; k++) {
    ki[k] = dn_index(mc, ndn, killed[k]);
    CU_ASSERT_FATAL(ki[k] >= 0);
  }
  dfs_block_locs_free(b, n);
  for (int k = 0; k < 2; k++) CU_ASSERT_EQUAL(mc_kill_dn(mc, ki[k], SIGKILL), 0);
  int64_t t0 = dfs_now_ms();
  /* reads go on from the third replica (the others refuse connections) */
  CU_ASSERT_EQUAL(td_read_check(fs, "/r/f", data, len), 0);
  /* dead after ~12 s, then re-replicated onto the three survivors */
  CU_ASSERT(wait_replicas(fs, "/r/f", 3, killed, 2, 45000));
  fprintf(stderr, "re-replicated %d blocks %lld ms after the kill\n", NBLOCKS,
          (long long)(dfs_now_ms() - t0));
  CU_ASSERT(fsck_healthy(mc, "/r/f"));
  CU_ASSERT_EQUAL(td_read_check(fs, "/r/f", data, len), 0);
  struct dfs_fs_stats st;
  CU_ASSERT_EQUAL(dfs_get_fs_stats(fs, &st), 0);
  CU_ASSERT_EQUAL(st.under_replicated, 0);
  CU_ASSERT_EQUAL(st.missing_blocks, 0);
  CU_ASSERT_EQUAL(st.corrupt_blocks, 0);

  /* (b) the dead nodes return with their old replicas: trimmed to 3 */
  for (int k = 0; k < 2; k++) CU_ASSERT_EQUAL(mc_restart_dn(mc, ki[k]), 0);
  CU_ASSERT_EQUAL(mc_wait_live(mc, ndn, 20000), 0);
  CU_ASSERT(wait_replicas(fs, "/r/f", 3, NULL, 0, 20000));
  /* setrep 3 -> 2 -> 4 */
  char *out = NULL, *err = NULL;
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "setrep", "2", "/r/f", NULL), 0);
  free(out), free(err);
  CU_ASSERT(wait_replicas(fs, "/r/f", 2, NULL, 0, 20000));
  CU_ASSERT_EQUAL(dfs_set_replication(fs, "/r/f", 4), 0);
  CU_ASSERT(wait_replicas(fs, "/r/f", 4, NULL, 0, 20000));
  CU_ASSERT(fsck_healthy(mc, "/r/f"));
  CU_ASSERT_EQUAL(td_read_check(fs, "/r/f", data, len), 0);

  free(killed[0]);
  free(killed[1]);
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

/* `dfs refreshNodes` as the superuser (the OS user running the NameNode),
 * through the real command. */
static int refresh_nodes(struct minicluster *mc) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s/dfs --conf %s --namenode %s refreshNodes > /dev/null",
           DFS_BIN_DIR, mc_conf_dir(mc), mc_nn_addr(mc));
  return system(cmd) == 0 ? 0 : -1;
}

static int admin_state(dfs_fs *fs, const char *addr) {
  struct dfs_datanode_info *d;
  size_t n;
  int st = -1;
  if (dfs_datanode_report(fs, DFS_REPORT_ALL, &d, &n) != 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp(d[i].addr, addr) == 0) st = d[i].admin_state;
  dfs_datanode_report_free(d, n);
  return st;
}

static void test_decommission(void) {
  static const char *const racks[] = {"/rack1", "/rack1", "/rack2", "/rack2"};
  static const char *const conf[] = {"dfs.namenode.replication.interval=200",
                                     "dfs.hosts.exclude=exclude", NULL};
  const int ndn = 4;
  struct mc_opts o = {.num_datanodes = ndn, .racks = racks, .blocksize = "1m", .conf = conf};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  size_t len = (size_t)NBLOCKS * BLOCK;
  uint8_t *data = malloc(len);
  td_fill(data, len, 9);
  CU_ASSERT_FATAL(td_write_file(fs, "/d", data, len, 3) == 0);
  CU_ASSERT_FATAL(wait_replicas(fs, "/d", 3, NULL, 0, 20000));
  struct dfs_block_loc *b;
  size_t n;
  CU_ASSERT_FATAL(dfs_block_locations(fs, "/d", 0, 1, &b, &n) == 0 && n == 1);
  char *leaving = strdup(b[0].replicas[0].addr);
  dfs_block_locs_free(b, n);
  int li = dn_index(mc, ndn, leaving);
  CU_ASSERT_FATAL(li >= 0);
  char path[700];
  snprintf(path, sizeof path, "%s/exclude", mc_conf_dir(mc));
  FILE *f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fprintf(f, "# decommissioned by test_rereplication\ndn%d\n", li + 1);
  fclose(f);
  CU_ASSERT_EQUAL(admin_state(fs, leaving), 0);
  int64_t t0 = dfs_now_ms();
  CU_ASSERT_EQUAL_FATAL(refresh_nodes(mc), 0);
  int st = admin_state(fs, leaving);
  CU_ASSERT(st == 1 || st == 2);
  int64_t deadline = dfs_now_ms() + 30000;
  while ((st = admin_state(fs, leaving)) != 2 && dfs_now_ms() < deadline) usleep(100000);
  CU_ASSERT_EQUAL(st, 2);
  fprintf(stderr, "decommissioned in %lld ms\n", (long long)(dfs_now_ms() - t0));
  /* every block: 3 replicas besides the leaving node's (listed last) */
  CU_ASSERT_FATAL(dfs_block_locations(fs, "/d", 0, 0, &b, &n) == 0);
  CU_ASSERT_EQUAL(n, NBLOCKS);
  for (size_t i = 0; i < n; i++) {
    int others = 0;
    for (size_t j = 0; j < b[i].n_replicas; j++)
      if (strcmp(b[i].replicas[j].addr, leaving) != 0) others++;
      else CU_ASSERT_EQUAL(j, b[i].n_replicas - 1);
    CU_ASSERT_EQUAL(others, 3);
  }
  dfs_block_locs_free(b, n);
  char *out = NULL, *err = NULL;
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "report", NULL), 0);
  CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Decommissioned"));
  free(out), free(err);
  CU_ASSERT(fsck_healthy(mc, "/d"));
  CU_ASSERT_EQUAL(td_read_check(fs, "/d", data, len), 0);
  free(leaving);
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

static bool in_safemode(dfs_fs *fs) {
  bool on = false;
  return dfs_safemode(fs, DFS_SAFEMODE_GET, &on) == 0 && on;
}

static void test_safemode_restart(void) {
  static const char *const conf[] = {"dfs.namenode.replication.interval=200",
                                     "dfs.namenode.safemode.extension=2000", NULL};
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m", .conf = conf};
  struct minicluster *mc;
  CU_ASSERT_FATAL(mc_start(&o, &mc) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  size_t len = (size_t)NBLOCKS * BLOCK;
  uint8_t *data = malloc(len);
  td_fill(data, len, 5);
  CU_ASSERT_FATAL(td_write_file(fs, "/s", data, len, 3) == 0);
  CU_ASSERT_FATAL(wait_replicas(fs, "/s", 3, NULL, 0, 20000));
  CU_ASSERT(!in_safemode(fs));
  for (int i = 0; i < 3; i++) CU_ASSERT_EQUAL(mc_kill_dn(mc, i, SIGTERM), 0);
  CU_ASSERT_EQUAL(mc_kill_nn(mc, SIGTERM), 0);
  CU_ASSERT_EQUAL_FATAL(mc_restart_nn(mc), 0);
  /* no DataNode: every block unreported, safe mode holds (and no
   * replication work could start) */
  int64_t until = dfs_now_ms() + 1500;
  bool held = true;
  while (dfs_now_ms() < until) {
    held = held && in_safemode(fs);
    usleep(100000);
  }
  CU_ASSERT(held);
  struct dfs_fs_stats st;
  CU_ASSERT_EQUAL(dfs_get_fs_stats(fs, &st), 0);
  CU_ASSERT(st.safe_mode);
  /* one DataNode holds every block (replication 3 on 3 nodes): its report
   * reaches the threshold; the extension keeps safe mode 2 s more */
  CU_ASSERT_EQUAL_FATAL(mc_restart_dn(mc, 0), 0);
  int64_t t0 = dfs_now_ms();
  CU_ASSERT(in_safemode(fs));
  int64_t deadline = t0 + 20000;
  while (in_safemode(fs) && dfs_now_ms() < deadline) usleep(50000);
  int64_t off_after = dfs_now_ms() - t0;
  CU_ASSERT(!in_safemode(fs));
  CU_ASSERT(off_after >= 1000); /* the extension (less the ready-file wait) */
  fprintf(stderr, "safe mode off %lld ms after the first DataNode was ready\n",
          (long long)off_after);
  char logp[700];
  snprintf(logp, sizeof logp, "%s/namenode.log", mc_dir(mc));
  char *log = NULL;
  size_t cap = 0;
  FILE *f = fopen(logp, "r");
  if (f) {
    ssize_t r = getdelim(&log, &cap, '\0', f);
    (void)r;
    fclose(f);
  }
  CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "safe mode is OFF"));
  free(log);
  CU_ASSERT_EQUAL(td_read_check(fs, "/s", data, len), 0);
  free(data);
  dfs_disconnect(fs);
  mc_stop(mc);
}

int main(void) {
  static const struct mc_test tests[] = {
      {"kill -9 of 2 holders: reads go on, 3 replicas again; trim; setrep 3->2->4",
       test_rereplication},
      {"decommission through the exclude file and REFRESH_NODES", test_decommission},
      {"safe mode after a NameNode restart: held until reports + extension", test_safemode_restart},
      {NULL, NULL}};
  return mc_run_tests("rereplication", tests);
}
