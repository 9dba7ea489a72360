/*
 * test_hflush_recover.c - a writer that hflushes (or hsyncs) and is then
 * killed with kill -9, on a real cluster (3 DataNodes, 1 MiB blocks,
 * replication 3).
 *
 * The writer is a child process (fork after the cluster started, its own
 * dfs_fs): it creates a file, writes segments of odd sizes and hflushes
 * after each, telling the parent every hflushed length through a pipe, then
 * writes bytes it never flushes and blocks. The parent kill -9s it and
 * checks the contract of DESIGN.md section 3:
 *   - a reader (the parent's own dfs_fs) sees every hflushed byte while the
 *     file is still open (visible length >= the last hflushed length, the
 *     bytes identical to what the child wrote), also before the kill;
 *   - recoverLease (polled with a deadline) closes the file with exactly the
 *     hflushed bytes or more, never fewer, and never more than were written;
 *     the bytes are the child's; every block has a replica afterwards.
 * Cases: several blocks with the unflushed tail beyond a packet; hsync
 * inside one block; an hflush that ends exactly at a block boundary; the
 * `dfs recover-lease PATH` command on such a file.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "minicluster.h"
#include "test_data.h"
#include "net.h"

#define RECOVER_DEADLINE_MS 60000

static struct minicluster *g_mc;

/* Messages from the writer child. */
enum { MSG_FLUSHED = 1, MSG_BLOCKED = 2, MSG_ERROR = 3 };
struct msg {
  uint32_t kind;
  uint64_t len;  /* FLUSHED: bytes hflushed so far; BLOCKED: bytes written */
};

struct scenario {
  const char *path;
  const size_t *segs;     /* each written, then hflushed (hsynced) */
  size_t nsegs;
  size_t unflushed;       /* written after the last flush, never flushed */
  bool hsync;
  uint32_t seed;
  bool kill_dn;           /* also kill -9 the first node of the last block's pipeline */
};

static size_t total_len(const struct scenario *s) {
  size_t t = s->unflushed;
  for (size_t i = 0; i < s->nsegs; i++) t += s->segs[i];
  return t;
}

static void send_msg(int fd, uint32_t kind, uint64_t len) {
  struct msg m = {kind, len};
  if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(3);
}

/* The writer. Never returns; leaves with _exit only (the harness's exit
 * hook, inherited through fork, would stop the cluster). */
static void child_main(const struct scenario *s, int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed parent */
  size_t total = total_len(s);
  uint8_t *data = malloc(total);
  if (!data) _exit(2);
  td_fill(data, total, s->seed);
  dfs_fs *fs;
  dfs_file *f;
  struct dfs_create_opts co = {.replication = 3};
  if (mc_connect(g_mc, NULL, &fs) != 0 || dfs_create(fs, s->path, &co, &f) != 0) {
    fprintf(stderr, "child: %s\n", dfs_error_message());
    send_msg(fd, MSG_ERROR, 0);
    _exit(1);
  }
  size_t off = 0;
  for (size_t i = 0; i < s->nsegs; i++) {
    if (dfs_write(f, data + off, s->segs[i]) != (ssize_t)s->segs[i] ||
        (s->hsync ? dfs_hsync(f) : dfs_hflush(f)) != 0) {
      fprintf(stderr, "child: write/flush at %zu: %s\n", off, dfs_error_message());
      send_msg(fd, MSG_ERROR, off);
      _exit(1);
    }
    off += s->segs[i];
    send_msg(fd, MSG_FLUSHED, off);
  }
  if (s->unflushed && dfs_write(f, data + off, s->unflushed) != (ssize_t)s->unflushed) {
    send_msg(fd, MSG_ERROR, off);
    _exit(1);
  }
  send_msg(fd, MSG_BLOCKED, total);
  for (;;) pause(); /* holds the lease until kill -9 */
}

/* Next message within timeout_ms: 0, or -1 (timeout, EOF, child error). */
static int recv_msg(int fd, struct msg *m, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, timeout_ms) != 1) {
    fprintf(stderr, "no message from the writer within %d ms\n", timeout_ms);
    return -1;
  }
  ssize_t r = read(fd, m, sizeof *m);
  if (r != (ssize_t)sizeof *m || m->kind == MSG_ERROR) {
    fprintf(stderr, "writer failed (read %zd)\n", r);
    return -1;
  }
  return 0;
}

/* Open path and read everything visible; check it is at least min_len
 * bytes, at most want_len, and equal to want's prefix. *got_len gets the
 * length read. 0 or -1 (reason printed). */
static int read_prefix(dfs_fs *fs, const char *path, const uint8_t *want, size_t want_len,
                       size_t min_len, size_t *got_len) {
  dfs_file *f;
  if (dfs_open(fs, path, &f) != 0) {
    fprintf(stderr, "open %s: %s\n", path, dfs_error_message());
    return -1;
  }
  int64_t vis = dfs_file_length(f);
  uint8_t *got = malloc(want_len + 65536);
  size_t have = 0;
  int rc = 0;
  for (;;) {
    ssize_t r = dfs_read(f, got + have, want_len + 65536 - have);
    if (r < 0) {
      fprintf(stderr, "read %s at %zu: %s\n", path, have, dfs_error_message());
      rc = -1;
      break;
    }
    if (r == 0 || have + (size_t)r >= want_len + 65536) {
      have += (size_t)r;
      break;
    }
    have += (size_t)r;
  }
  dfs_close(f);
  if (rc == 0 && (vis < 0 || (size_t)vis < min_len)) {
    fprintf(stderr, "%s: visible length %" PRId64 " < %zu hflushed\n", path, vis, min_len);
    rc = -1;
  }
  if (rc == 0 && (have < min_len || have > want_len)) {
    fprintf(stderr, "%s: read %zu bytes; expected %zu..%zu\n", path, have, min_len, want_len);
    rc = -1;
  }
  if (rc == 0 && memcmp(got, want, have) != 0) {
    size_t i = 0;
    while (got[i] == want[i]) i++;
    fprintf(stderr, "%s: content differs at byte %zu of %zu\n", path, i, have);
    rc = -1;
  }
  free(got);
  *got_len = have;
  return rc;
}

/* Poll recoverLease (API, or the dfs command with use_cli) until the file
 * is closed. 0 or -1. */
static int recover(dfs_fs *fs, const char *path, bool use_cli) {
  int64_t deadline = dfs_now_ms() + RECOVER_DEADLINE_MS;
  int calls = 0;
  for (;;) {
    bool closed = false;
    calls++;
    if (use_cli) {
      char *out = NULL, *err = NULL;
      int st = mc_dfs(g_mc, &out, &err, "recover-lease", path, NULL);
      closed = st == 0 && out && strstr(out, "recoverLease SUCCEEDED on") != NULL;
      if (st != 0 && (!out || !strstr(out, "recovery in progress"))) {
        fprintf(stderr, "dfs recover-lease %s: exit %d: %s%s\n", path, st, out ? out : "",
                err ? err : "");
        free(out);
        free(err);
        return -1;
      }
      free(out);
      free(err);
    } else if (dfs_recover_lease(fs, path, &closed) != 0) {
      fprintf(stderr, "recoverLease %s: %s\n", path, dfs_error_message());
      return -1;
    }
    if (closed) {
      fprintf(stderr, "%s: closed by recoverLease after %d call(s)\n", path, calls);
      return 0;
    }
    if (dfs_now_ms() > deadline) {
      fprintf(stderr, "%s: not closed %d ms after recoverLease\n", path, RECOVER_DEADLINE_MS);
      return -1;
    }
    usleep(200000);
  }
}

/* Index of the DataNode at addr, or -1. */
static int dn_index(const char *addr) {
  for (int i = 0; i < 3; i++)
    if (strcmp(mc_dn_addr(g_mc, i), addr) == 0) return i;
  return -1;
}

/* The DataNode holding the first replica of path's last block, or -1. */
static int last_block_node(dfs_fs *fs, const char *path) {
  struct dfs_block_loc *locs = NULL;
  size_t n = 0;
  int i = -1;
  if (dfs_block_locations(fs, path, 0, 0, &locs, &n) == 0 && n > 0 &&
      locs[n - 1].n_replicas > 0)
    i = dn_index(locs[n - 1].replicas[0].addr);
  dfs_block_locs_free(locs, n);
  return i;
}

/* Wait until every block of path has `want` replicas. 0 or -1. */
static int wait_replicas(dfs_fs *fs, const char *path, size_t want, int timeout_ms) {
  int64_t deadline = dfs_now_ms() + timeout_ms;
  for (;;) {
    struct dfs_block_loc *locs = NULL;
    size_t n = 0;
    bool all = dfs_block_locations(fs, path, 0, 0, &locs, &n) == 0 && n > 0;
    for (size_t i = 0; all && i < n; i++) all = locs[i].n_replicas == want && !locs[i].corrupt;
    dfs_block_locs_free(locs, n);
    if (all) return 0;
    if (dfs_now_ms() > deadline) {
      fprintf(stderr, "%s: blocks lack %zu replicas after %d ms\n", path, want, timeout_ms);
      return -1;
    }
    usleep(200000);
  }
}

static void run(const struct scenario *s, bool use_cli) {
  CU_ASSERT_FATAL(g_mc != NULL);
  int p[2];
  CU_ASSERT_FATAL(pipe(p) == 0);
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(s, p[1]);
  }
  close(p[1]);
  size_t total = total_len(s);
  uint8_t *want = malloc(total);
  CU_ASSERT_FATAL(want != NULL);
  td_fill(want, total, s->seed);
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(g_mc, NULL, &fs) == 0);

  /* While the writer lives: each hflush is visible at once. */
  size_t flushed = 0, written = 0, got = 0;
  bool ok = true;
  struct msg m;
  while (ok && recv_msg(p[0], &m, 60000) == 0) {
    if (m.kind == MSG_BLOCKED) {
      written = m.len;
      break;
    }
    CU_ASSERT(m.len > flushed);
    flushed = m.len;
    if (read_prefix(fs, s->path, want, total, flushed, &got) != 0) ok = false;
  }
  CU_ASSERT(ok);
  CU_ASSERT_EQUAL(written, total);
  CU_ASSERT_EQUAL(flushed, total - s->unflushed);

  int victim = -1;
  if (s->kill_dn) { /* the writer and a node of its pipeline die together */
    victim = last_block_node(fs, s->path);
    CU_ASSERT_FATAL(victim >= 0);
    fprintf(stderr, "%s: killing dn%d with the writer\n", s->path, victim + 1);
    CU_ASSERT(mc_kill_dn(g_mc, victim, SIGKILL) == 0);
  }
  kill(pid, SIGKILL);
  int st = 0;
  CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
  CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  close(p[0]);

  /* The writer is dead and the file still open: the hflushed bytes stay
   * visible. */
  struct dfs_stat fst;
  CU_ASSERT_FATAL(dfs_stat(fs, s->path, &fst) == 0);
  CU_ASSERT(fst.under_construction);
  dfs_stat_clear(&fst);
  CU_ASSERT_EQUAL(read_prefix(fs, s->path, want, total, flushed, &got), 0);
  fprintf(stderr, "%s: %zu hflushed, %zu written, %zu visible after kill -9\n", s->path, flushed,
          written, got);

  /* recoverLease closes it with every hflushed byte. */
  CU_ASSERT_FATAL(recover(fs, s->path, use_cli) == 0);
  CU_ASSERT_FATAL(dfs_stat(fs, s->path, &fst) == 0);
  CU_ASSERT(!fst.under_construction);
  fprintf(stderr, "%s: closed at %" PRIu64 " bytes (hflushed %zu, written %zu)\n", s->path,
          fst.length, flushed, written);
  CU_ASSERT(fst.length >= flushed);
  CU_ASSERT(fst.length <= written);
  size_t final_len = (size_t)fst.length;
  dfs_stat_clear(&fst);
  CU_ASSERT_EQUAL(read_prefix(fs, s->path, want, total, final_len, &got), 0);
  CU_ASSERT_EQUAL(got, final_len);

  /* Every block is complete and located; the lengths add up. */
  struct dfs_block_loc *locs = NULL;
  size_t n = 0;
  CU_ASSERT_FATAL(dfs_block_locations(fs, s->path, 0, 0, &locs, &n) == 0);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT(locs[i].n_replicas >= 1);
    CU_ASSERT(!locs[i].corrupt);
    sum += locs[i].length;
  }
  CU_ASSERT_EQUAL(sum, final_len);
  dfs_block_locs_free(locs, n);

  /* Back to 3 replicas everywhere (after a lost node: once it returns,
   * its stale replica is replaced), still the same bytes. */
  if (victim >= 0) CU_ASSERT(mc_restart_dn(g_mc, victim) == 0);
  CU_ASSERT(wait_replicas(fs, s->path, 3, 60000) == 0);
  if (victim >= 0) CU_ASSERT_EQUAL(read_prefix(fs, s->path, want, total, final_len, &got), 0);

  /* A second recoverLease on the closed file says closed at once. */
  bool closed = false;
  CU_ASSERT_EQUAL(dfs_recover_lease(fs, s->path, &closed), 0);
  CU_ASSERT(closed);
  dfs_disconnect(fs);
  free(want);
}

/* Several blocks; odd sizes (1 byte, chunk +- 1); an unflushed tail of
 * three packets and more, part of which reaches the DataNodes unacknowledged
 * by any hflush. */
static void test_hflush_blocks(void) {
  static const size_t segs[] = {300000, 1, 511, 513, 700000, 1049600, 4097};
  struct scenario s = {"/hr/blocks", segs, sizeof segs / sizeof *segs, 200000, false, 11, false};
  run(&s, false);
}

/* hsync instead of hflush, inside the first block; the tail stays in the
 * writer's buffer. */
static void test_hsync_one_block(void) {
  static const size_t segs[] = {4096, 12345, 65536, 777};
  struct scenario s = {"/hr/hsync", segs, sizeof segs / sizeof *segs, 1000, true, 12, false};
  run(&s, false);
}

/* The last hflush ends exactly at a block boundary; the unflushed bytes
 * belong to the next block. */
static void test_hflush_block_boundary(void) {
  static const size_t segs[] = {524288, 524288};
  struct scenario s = {"/hr/boundary", segs, sizeof segs / sizeof *segs, 100000, false, 13, false};
  run(&s, false);
}

/* Killed right after an hflush (nothing unflushed), closed with the
 * `dfs recover-lease` command. */
static void test_cli_recover_lease(void) {
  static const size_t segs[] = {100000, 200000, 1000000};
  struct scenario s = {"/hr/cli", segs, sizeof segs / sizeof *segs, 0, false, 14, false};
  run(&s, true);
  /* On a path that does not exist: a clear error, exit status 1. */
  if (!g_mc) return;
  char *out = NULL, *err = NULL;
  int st = mc_dfs(g_mc, &out, &err, "recover-lease", "/hr/none", NULL);
  CU_ASSERT_EQUAL(st, 1);
  CU_ASSERT(err && strstr(err, "/hr/none"));
  free(out);
  free(err);
}

/* The writer and the first node of its pipeline killed together: the
 * survivors agree on the length, the lost replica is replaced. */
static void test_hflush_writer_and_dn_killed(void) {
  static const size_t segs[] = {700000, 600000, 3333};
  struct scenario s = {"/hr/dnkill", segs, sizeof segs / sizeof *segs, 150000, false, 15, true};
  run(&s, false);
}

static void test_start(void) {
  /* A recovery whose primary died is started again after 2 s (10 s by
   * default), so the writer-and-DataNode case does not wait long. */
  static const char *const conf[] = {"dfs.blockreport.intervalMsec=5000",
                                     "dfs.namenode.block-recovery.retry-interval=2000", NULL};
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "1m", .replication = 3, .conf = conf};
  CU_ASSERT_FATAL(mc_start(&o, &g_mc) == 0);
}

static void test_stop(void) {
  mc_stop(g_mc);
  g_mc = NULL;
}

int main(void) {
  static const struct mc_test tests[] = {
      {"start cluster", test_start},
      {"hflush across blocks, kill -9, recoverLease", test_hflush_blocks},
      {"hsync in one block, kill -9, recoverLease", test_hsync_one_block},
      {"hflush at a block boundary, kill -9, recoverLease", test_hflush_block_boundary},
      {"kill -9 after hflush, dfs recover-lease", test_cli_recover_lease},
      {"writer and a pipeline node killed, recoverLease", test_hflush_writer_and_dn_killed},
      {"stop cluster", test_stop},
      {NULL, NULL},
  };
  return mc_run_tests("hflush_recover", tests);
}
