/*
 * test_disk_failure.c - DataNode data directories that fail or fill up, on
 * a real cluster (3 DataNodes from the harness, 1 MiB blocks, plus
 * DataNodes this test starts itself with two data directories each).
 *
 *  (a) dfs.datanode.failed.volumes.tolerated = 1: one of the node's two
 *      directories is replaced by a plain file while the cluster runs. The
 *      node takes it out of service, reports the failed volume (`dfs
 *      report` shows "Failed Volumes: 1") and its replicas there as gone;
 *      the NameNode re-replicates them to 3; every file reads back; the node
 *      keeps serving from its other directory (it takes part in new
 *      writes, whose replicas land there).
 *  (b) a volume on a small tmpfs (8 MiB, mounted by the test; skipped
 *      where mounting is not allowed): nearly full, the node puts new
 *      replicas on its other volume; filled up while a replica is being
 *      written there, the write meets ENOSPC, the pipeline drops the node
 *      and the write completes with every byte; a full volume is not a
 *      failed one.
 *  (c) tolerated = 0 (the default): the node shuts down when a directory
 *      fails; it refuses to start with a failed directory.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "minicluster.h"
#include "test_data.h"
#include "net.h"

extern char **environ;

#define MIB (1u << 20)

static struct minicluster *g_mc;

/* DataNodes this test starts itself (the harness gives one directory per
 * node); killed and reaped at exit whatever happens. */
struct own_dn {
  char name[16];
  char dirs[1200];
  char log[600];
  char ready[600];
  char addr[64];
  pid_t pid;
};
static struct own_dn g_dn[4];
static char g_mount[600]; /* tmpfs mount point while mounted */

static void cleanup(void) {
  for (size_t i = 0; i < sizeof g_dn / sizeof *g_dn; i++)
    if (g_dn[i].pid > 0) {
      kill(g_dn[i].pid, SIGKILL);
      waitpid(g_dn[i].pid, NULL, 0);
      g_dn[i].pid = 0;
    }
  if (g_mount[0]) {
    umount2(g_mount, MNT_DETACH);
    g_mount[0] = '\0';
  }
}

/* Start a DataNode named `name` on the comma-separated `dirs` with extra
 * "-D key=value" settings (NULL-terminated); wait until it is ready. */
static int start_own_dn(struct own_dn *d, const char *name, const char *dirs,
                        const char *const *extra) {
  snprintf(d->name, sizeof d->name, "%s", name);
  snprintf(d->dirs, sizeof d->dirs, "%s", dirs);
  snprintf(d->log, sizeof d->log, "%s/%s.log", mc_dir(g_mc), name);
  snprintf(d->ready, sizeof d->ready, "%s/%s.ready", mc_dir(g_mc), name);
  unlink(d->ready);
  char bin[512], data[1300], host[64], nn[128];
  snprintf(bin, sizeof bin, "%s/datanode", DFS_BIN_DIR);
  snprintf(data, sizeof data, "dfs.datanode.data.dir=%s", dirs);
  snprintf(host, sizeof host, "dfs.datanode.hostname=%s", name);
  snprintf(nn, sizeof nn, "dfs.namenode.rpc-address=%s", mc_nn_addr(g_mc));
  char *argv[32] = {bin, "--conf", (char *)mc_conf_dir(g_mc), "-D", data, "-D",
                    "dfs.datanode.address=127.0.0.1:0", "-D", host, "-D", nn,
                    "--ready-file", d->ready};
  int n = 13;
  for (const char *const *e = extra; e && *e && n < 30; e++) {
    argv[n++] = "-D";
    argv[n++] = (char *)*e;
  }
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  int rc = posix_spawn(&d->pid, bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    d->pid = 0;
    fprintf(stderr, "cannot start %s: %s\n", bin, strerror(rc));
    return -1;
  }
  int64_t deadline = dfs_now_ms() + 30000;
  while (dfs_now_ms() < deadline) {
    FILE *f = fopen(d->ready, "r");
    if (f) {
      bool ok = fgets(d->addr, sizeof d->addr, f) != NULL;
      fclose(f);
      if (ok) {
        d->addr[strcspn(d->addr, "\n")] = '\0';
        return 0;
      }
    }
    int st;
    if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
      fprintf(stderr, "%s exited during start-up (status %d)\n", name, st);
      d->pid = 0;
      return -1;
    }
    usleep(20000);
  }
  fprintf(stderr, "%s not ready after 30 s\n", name);
  return -1;
}

static void stop_own_dn(struct own_dn *d) {
  if (d->pid <= 0) return;
  kill(d->pid, SIGTERM);
  waitpid(d->pid, NULL, 0);
  d->pid = 0;
}

/* Does the file at path contain `needle`? */
static bool file_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[2048];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

/* Block ids of the replica data files (blk_<id>) under dir, recursively. */
static size_t g_nids;
static uint64_t g_ids[4096];
static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  const char *base = path + ftw->base;
  if (flag == FTW_F && strncmp(base, "blk_", 4) == 0 && !strchr(base + 4, '_') &&
      g_nids < sizeof g_ids / sizeof *g_ids)
    g_ids[g_nids++] = strtoull(base + 4, NULL, 10);
  return 0;
}
static size_t replica_ids(const char *dir, uint64_t *ids, size_t cap) {
  g_nids = 0;
  nftw(dir, collect, 16, FTW_PHYS);
  size_t n = g_nids < cap ? g_nids : cap;
  memcpy(ids, g_ids, n * sizeof *ids);
  return n;
}
static bool has_replica(const char *dir, uint64_t id) {
  uint64_t ids[4096];
  size_t n = replica_ids(dir, ids, 4096);
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id) return true;
  return false;
}

/* The node's entry in the NameNode's report (by hostname); false if absent. */
static bool node_info(dfs_fs *fs, const char *hostname, uint32_t *failed, uint64_t *blocks,
                      bool *dead) {
  struct dfs_datanode_info *nodes;
  size_t n;
  if (dfs_datanode_report(fs, DFS_REPORT_ALL, &nodes, &n) != 0) return false;
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    if (!nodes[i].hostname || strcmp(nodes[i].hostname, hostname) != 0) continue;
    found = true;
    if (failed) *failed = nodes[i].failed_volumes;
    if (blocks) *blocks = nodes[i].num_blocks;
    if (dead) *dead = nodes[i].dead;
  }
  dfs_datanode_report_free(nodes, n);
  return found;
}

/* Wait until every block of path has `want` replicas; with `node` (an
 * address) and `dir`, a replica listed on node must be a file in dir. */
static int wait_blocks(dfs_fs *fs, const char *path, size_t want, const char *node,
                       const char *dir, int timeout_ms) {
  int64_t deadline = dfs_now_ms() + timeout_ms;
  for (;;) {
    struct dfs_block_loc *b = NULL;
    size_t n = 0;
    bool ok = dfs_block_locations(fs, path, 0, 0, &b, &n) == 0 && n > 0;
    for (size_t i = 0; ok && i < n; i++) {
      ok = b[i].n_replicas == want && !b[i].corrupt;
      for (size_t j = 0; ok && node && j < b[i].n_replicas; j++)
        if (strcmp(b[i].replicas[j].addr, node) == 0) ok = has_replica(dir, b[i].block_id);
    }
    dfs_block_locs_free(b, n);
    if (ok) return 0;
    if (dfs_now_ms() > deadline) {
      fprintf(stderr, "%s: blocks not at %zu good replicas after %d ms\n", path, want, timeout_ms);
      return -1;
    }
    usleep(200000);
  }
}

/* Blocks of path that have a replica on node. */
static size_t blocks_on(dfs_fs *fs, const char *path, const char *node) {
  struct dfs_block_loc *b = NULL;
  size_t n = 0, k = 0;
  if (dfs_block_locations(fs, path, 0, 0, &b, &n) != 0) return 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < b[i].n_replicas; j++)
      if (strcmp(b[i].replicas[j].addr, node) == 0) k++;
  dfs_block_locs_free(b, n);
  return k;
}

/* ---- (a) a failed directory, tolerated ---- */

static void test_volume_failure(void) {
  CU_ASSERT_FATAL(g_mc != NULL);
  char a[600], b[600], dirs[1300], gone[700];
  snprintf(a, sizeof a, "%s/dn4a", mc_dir(g_mc));
  snprintf(b, sizeof b, "%s/dn4b", mc_dir(g_mc));
  snprintf(dirs, sizeof dirs, "%s,%s", a, b);
  static const char *const extra[] = {"dfs.datanode.failed.volumes.tolerated=1", NULL};
  struct own_dn *d = &g_dn[0];
  CU_ASSERT_FATAL(start_own_dn(d, "dn4", dirs, extra) == 0);
  CU_ASSERT_FATAL(mc_wait_live(g_mc, 4, 30000) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(g_mc, NULL, &fs) == 0);

  /* Files until dn4's first directory holds replicas (it gets about 3 of
   * 4 blocks, alternating between its directories). */
  enum { NFILES = 6, LEN = 6 * MIB + 12345 };
  uint8_t *data[NFILES] = {0};
  char paths[NFILES][32];
  int nfiles = 0;
  uint64_t lost[4096];
  size_t nlost = 0;
  while (nfiles < NFILES && nlost < 3) {
    data[nfiles] = malloc(LEN);
    td_fill(data[nfiles], LEN, 100 + (uint32_t)nfiles);
    snprintf(paths[nfiles], sizeof paths[nfiles], "/df/a%d", nfiles);
    CU_ASSERT_FATAL(td_write_file(fs, paths[nfiles], data[nfiles], LEN, 3) == 0);
    nfiles++;
    nlost = replica_ids(a, lost, 4096);
  }
  size_t on_b = replica_ids(b, (uint64_t[4096]){0}, 4096);
  fprintf(stderr, "dn4 holds %zu replicas in %s and %zu in %s\n", nlost, a, on_b, b);
  CU_ASSERT_FATAL(nlost >= 1);

  /* The directory dies: replaced by a plain file (as root, permission
   * bits would not stop the node). */
  snprintf(gone, sizeof gone, "%s.gone", a);
  CU_ASSERT_FATAL(rename(a, gone) == 0);
  int fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  int64_t t0 = dfs_now_ms();

  /* The NameNode hears of it... */
  uint32_t failed = 0;
  bool dead = true;
  while (dfs_now_ms() - t0 < 30000 && !(node_info(fs, "dn4", &failed, NULL, &dead) && failed == 1))
    usleep(100000);
  CU_ASSERT_EQUAL(failed, 1);
  CU_ASSERT(!dead);
  fprintf(stderr, "failed volume reported after %lld ms\n", (long long)(dfs_now_ms() - t0));
  /* ... and re-replicates what was there: 3 good replicas of every block,
   * none of them in the failed directory. */
  for (int i = 0; i < nfiles; i++)
    CU_ASSERT(wait_blocks(fs, paths[i], 3, d->addr, b, 60000) == 0);
  fprintf(stderr, "re-replicated after %lld ms\n", (long long)(dfs_now_ms() - t0));
  CU_ASSERT(file_has(d->log, "taken out of service"));
  CU_ASSERT(file_has(d->log, "dropped and reported to the NameNode"));
  for (int i = 0; i < nfiles; i++) CU_ASSERT(td_read_check(fs, paths[i], data[i], LEN) == 0);

  /* `dfs report` names it. */
  char *out = NULL;
  CU_ASSERT_EQUAL(mc_dfs(g_mc, &out, NULL, "report", NULL), 0);
  char *sec = out ? strstr(out, "Hostname: dn4\n") : NULL;
  CU_ASSERT(sec != NULL);
  if (sec) {
    char *end = strstr(sec, "\n\n");
    if (end) *end = '\0';
    CU_ASSERT(strstr(sec, "Failed Volumes: 1\n") != NULL);
  }
  free(out);

  /* The node still serves: a file on every live node (replication 4)
   * is written through it, lands in its good directory, reads back. */
  CU_ASSERT(kill(d->pid, 0) == 0);
  uint8_t *more = malloc(3 * MIB);
  td_fill(more, 3 * MIB, 200);
  CU_ASSERT(td_write_file(fs, "/df/after", more, 3 * MIB, 4) == 0);
  CU_ASSERT_EQUAL(blocks_on(fs, "/df/after", d->addr), 3);
  CU_ASSERT(wait_blocks(fs, "/df/after", 4, d->addr, b, 30000) == 0);
  CU_ASSERT(td_read_check(fs, "/df/after", more, 3 * MIB) == 0);
  free(more);
  for (int i = 0; i < nfiles; i++) free(data[i]);
  dfs_disconnect(fs);
}

/* ---- (b) a full volume ---- */

struct slow_writer {
  dfs_fs *fs;
  const uint8_t *data;
  size_t len;
  atomic_size_t done;
  int rc;
};

static void *slow_writer_main(void *arg) {
  struct slow_writer *w = arg;
  dfs_file *f;
  struct dfs_create_opts co = {.replication = 5};
  if ((w->rc = dfs_create(w->fs, "/df/full2", &co, &f)) != 0) return NULL;
  for (size_t off = 0; off < w->len && w->rc == 0; off += 65536) {
    size_t n = w->len - off < 65536 ? w->len - off : 65536;
    if (dfs_write(f, w->data + off, n) != (ssize_t)n || dfs_hflush(f) != 0) w->rc = -1;
    atomic_store(&w->done, off + n);
    usleep(4000);
  }
  if (w->rc) fprintf(stderr, "slow writer: %s\n", dfs_error_message());
  if (dfs_close(f) != 0) {
    fprintf(stderr, "slow writer: close: %s\n", dfs_error_message());
    w->rc = -1;
  }
  return NULL;
}

/* Size of the largest replica data file in the rbw directory. */
static uint64_t rbw_bytes(const char *rbw) {
  DIR *d = opendir(rbw);
  if (!d) return 0;
  uint64_t best = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "blk_", 4) != 0 || strchr(e->d_name + 4, '_')) continue;
    char p[1000];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", rbw, e->d_name);
    if (stat(p, &st) == 0 && (uint64_t)st.st_size > best) best = (uint64_t)st.st_size;
  }
  closedir(d);
  return best;
}

/* Fill the filesystem of dir with one file until ENOSPC, then give back
 * `leave` bytes. Returns the fd of the filler (kept open) or -1. */
static int fill_up(const char *dir, uint64_t leave) {
  char p[700];
  snprintf(p, sizeof p, "%s/filler", dir);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  static uint8_t buf[65536];
  uint64_t len = 0;
  for (;;) {
    ssize_t r = write(fd, buf, sizeof buf);
    if (r <= 0) break;
    len += (uint64_t)r;
  }
  if (ftruncate(fd, (off_t)(len > leave ? len - leave : 0)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void test_full_volume(void) {
  CU_ASSERT_FATAL(g_mc != NULL);
  char c[600], t[600], dirs[1300];
  snprintf(c, sizeof c, "%s/dn5c", mc_dir(g_mc));
  snprintf(t, sizeof t, "%s/dn5t", mc_dir(g_mc));
  CU_ASSERT_FATAL(mkdir(t, 0755) == 0);
  if (mount("tmpfs", t, "tmpfs", 0, "size=8m") != 0) {
    fprintf(stderr, "SKIPPED: cannot mount a tmpfs on %s (%s); the full-disk case needs root\n",
            t, strerror(errno));
    return;
  }
  snprintf(g_mount, sizeof g_mount, "%s", t);
  snprintf(dirs, sizeof dirs, "%s,%s", c, t);
  static const char *const extra[] = {"dfs.datanode.failed.volumes.tolerated=1", NULL};
  struct own_dn *d = &g_dn[1];
  CU_ASSERT_FATAL(start_own_dn(d, "dn5", dirs, extra) == 0);
  CU_ASSERT_FATAL(mc_wait_live(g_mc, 5, 30000) == 0);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(g_mc, NULL, &fs) == 0);

  /* Nearly full (room for one block at most): new replicas go to the
   * other volume. Replication 5 puts dn5 in every pipeline. */
  int filler = fill_up(t, 3 * MIB / 2);
  CU_ASSERT_FATAL(filler >= 0);
  enum { LEN1 = 8 * MIB };
  uint8_t *d1 = malloc(LEN1);
  td_fill(d1, LEN1, 300);
  CU_ASSERT(td_write_file(fs, "/df/full1", d1, LEN1, 5) == 0);
  size_t in_t = replica_ids(t, (uint64_t[4096]){0}, 4096);
  size_t in_c = replica_ids(c, (uint64_t[4096]){0}, 4096);
  fprintf(stderr, "nearly full tmpfs: %zu replica(s) there, %zu on the other volume\n", in_t, in_c);
  CU_ASSERT(in_t <= 1);
  CU_ASSERT(in_c >= 7);
  CU_ASSERT_EQUAL(blocks_on(fs, "/df/full1", d->addr), 8);
  CU_ASSERT(td_read_check(fs, "/df/full1", d1, LEN1) == 0);
  free(d1);

  /* Room again; then, while a replica is being written on the tmpfs, it
   * fills up: ENOSPC under the writer. */
  char p[700];
  snprintf(p, sizeof p, "%s/filler", t);
  close(filler);
  unlink(p);
  enum { LEN2 = 6 * MIB + 777 };
  uint8_t *d2 = malloc(LEN2);
  td_fill(d2, LEN2, 301);
  struct slow_writer w = {.fs = fs, .data = d2, .len = LEN2};
  pthread_t th;
  CU_ASSERT_FATAL(pthread_create(&th, NULL, slow_writer_main, &w) == 0);
  char rbw[700];
  snprintf(rbw, sizeof rbw, "%s/current/rbw", t);
  bool seen = false;
  int64_t deadline = dfs_now_ms() + 60000;
  /* Part-way into a replica there, so that the write meets the full disk
   * in the middle of a block. */
  while (!seen && atomic_load(&w.done) < LEN2 && dfs_now_ms() < deadline) {
    seen = rbw_bytes(rbw) >= 128 * 1024;
    if (!seen) usleep(1000);
  }
  CU_ASSERT(seen);
  if (seen) {
    uint64_t at = rbw_bytes(rbw);
    filler = fill_up(t, 0);
    CU_ASSERT(filler >= 0);
    fprintf(stderr, "tmpfs filled up %llu bytes into a replica, %zu of %u bytes written\n",
            (unsigned long long)at, atomic_load(&w.done), LEN2);
  }
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL(w.rc, 0);
  CU_ASSERT(td_read_check(fs, "/df/full2", d2, LEN2) == 0);
  CU_ASSERT(file_has(d->log, "No space left on device"));
  free(d2);
  /* Full is not failed: the node reports no failed volume and lives. */
  uint32_t failed = 99;
  bool dead = true;
  CU_ASSERT(node_info(fs, "dn5", &failed, NULL, &dead));
  CU_ASSERT_EQUAL(failed, 0);
  CU_ASSERT(!dead);
  CU_ASSERT(kill(d->pid, 0) == 0);
  if (filler >= 0) close(filler);
  dfs_disconnect(fs);
  stop_own_dn(d);
  CU_ASSERT(umount2(t, 0) == 0);
  g_mount[0] = '\0';
}

/* ---- (c) not tolerated ---- */

static void test_not_tolerated(void) {
  CU_ASSERT_FATAL(g_mc != NULL);
  char a[600], b[600], dirs[1300], gone[700];
  snprintf(a, sizeof a, "%s/dn6a", mc_dir(g_mc));
  snprintf(b, sizeof b, "%s/dn6b", mc_dir(g_mc));
  snprintf(dirs, sizeof dirs, "%s,%s", a, b);
  struct own_dn *d = &g_dn[2];
  CU_ASSERT_FATAL(start_own_dn(d, "dn6", dirs, NULL) == 0);
  snprintf(gone, sizeof gone, "%s.gone", b);
  CU_ASSERT_FATAL(rename(b, gone) == 0);
  int fd = open(b, O_WRONLY | O_CREAT | O_EXCL, 0644);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  /* tolerated = 0: the node stops by itself. */
  int st = 0;
  pid_t got = 0;
  int64_t deadline = dfs_now_ms() + 30000;
  while ((got = waitpid(d->pid, &st, WNOHANG)) == 0 && dfs_now_ms() < deadline) usleep(50000);
  CU_ASSERT_EQUAL(got, d->pid);
  if (got == d->pid) {
    d->pid = 0;
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  CU_ASSERT(file_has(d->log, "failed.volumes.tolerated = 0: shutting down"));

  /* And it will not start with a failed directory. */
  struct own_dn *e = &g_dn[3];
  CU_ASSERT(start_own_dn(e, "dn7", dirs, NULL) != 0);
  CU_ASSERT(file_has(e->log, "1 of 2 data directories failed"));
  /* tolerated must be below the number of directories. */
  static const char *const bad[] = {"dfs.datanode.failed.volumes.tolerated=2", NULL};
  snprintf(dirs, sizeof dirs, "%s,%s", a, gone);
  CU_ASSERT(start_own_dn(e, "dn7", dirs, bad) != 0);
  CU_ASSERT(file_has(e->log, "must be below the number of data directories"));
}

static void test_start(void) {
  static const char *const conf[] = {"dfs.datanode.disk.check.min.gap=1000",
                                     "dfs.blockreport.intervalMsec=10000", NULL};
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m", .replication = 3, .conf = conf};
  CU_ASSERT_FATAL(mc_start(&o, &g_mc) == 0);
  atexit(cleanup); /* runs before the harness's own exit hook */
}

static void test_stop(void) {
  cleanup();
  mc_stop(g_mc);
  g_mc = NULL;
}

int main(void) {
  static const struct mc_test tests[] = {
      {"start cluster", test_start},
      {"failed data dir, tolerated: reported, re-replicated, still serving", test_volume_failure},
      {"full volume: other volume chosen, ENOSPC fails over", test_full_volume},
      {"failed data dir, not tolerated: the node stops", test_not_tolerated},
      {"stop cluster", test_stop},
      {NULL, NULL},
  };
  return mc_run_tests("disk_failure", tests);
}
