/*
 * test_nn_editlog.c - the edit log: write and replay, group commit from
 * many threads, a torn tail truncated and reported, corruption in the
 * middle refused, and the namesystem surviving a crash (no checkpoint)
 * through replay.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "editlog.h"
#include "errors.h"
#include "namesystem.h"
#include "test_nn_util.h"

static char dir[256];

static void fresh(void) {
  if (dir[0]) tnn_rmrf(dir);
  tnn_tmpdir(dir, sizeof dir, "editlog");
}

/* A namesystem in a fresh directory, out of safe mode at once. */
static void fresh_ns_config(struct nn_config *cfg) {
  fresh();
  nn_config_defaults(cfg);
  cfg->name_dir = dir;
  cfg->safemode_threshold = 0;
}

static void mkrec(Nn__EditRecord *r, const char *path) {
  nn__edit_record__init(r);
  r->op = NN__EDIT_OP__OP_SET_PERMISSION;
  r->has_path = true;
  r->path.data = (uint8_t *)path;
  r->path.len = strlen(path);
  r->has_perm = true;
  r->perm = 0644;
}

struct collect {
  uint64_t n, last;
  int bad_order;
};

static int collect_cb(void *arg, const Nn__EditRecord *rec, const char *file, uint64_t off) {
  struct collect *c = arg;
  if (rec->txid != c->last + 1) c->bad_order++;
  c->last = rec->txid;
  c->n++;
  return 0;
}

static void write_n(uint64_t first, int n) {
  nn_editlog *l = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_editlog_open(dir, first, &l), 0);
  uint64_t txid = 0;
  for (int i = 0; i < n; i++) {
    Nn__EditRecord r;
    mkrec(&r, "/a/b");
    CU_ASSERT_EQUAL(nn_editlog_append(l, &r, &txid), 0);
    CU_ASSERT_EQUAL(txid, first + (uint64_t)i);
    if (i % 10 == 9) CU_ASSERT_EQUAL(nn_editlog_sync(l, txid), 0);
  }
  CU_ASSERT_EQUAL(nn_editlog_close(l), 0);
}

static void seg_path(char *buf, size_t cap, uint64_t first) {
  snprintf(buf, cap, "%s/edits_inprogress_%019llu", dir, (unsigned long long)first);
}

static void test_write_and_replay(void) {
  fresh();
  write_n(1, 100);
  struct collect c = {0};
  uint64_t last = 0;
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c, &last), 0);
  CU_ASSERT_EQUAL(c.n, 100);
  CU_ASSERT_EQUAL(c.bad_order, 0);
  CU_ASSERT_EQUAL(last, 100);
  /* the in-progress segment was finalised by the replay */
  char p[512];
  snprintf(p, sizeof p, "%s/edits_%019d-%019d", dir, 1, 100);
  CU_ASSERT_EQUAL(access(p, F_OK), 0);
  /* a second segment continues; replay after txid 50 sees 51..150 */
  write_n(101, 50);
  struct collect c2 = {.last = 50};
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 50, collect_cb, &c2, &last), 0);
  CU_ASSERT_EQUAL(c2.n, 100);
  CU_ASSERT_EQUAL(c2.bad_order, 0);
  CU_ASSERT_EQUAL(last, 150);
  /* purge drops segments fully covered */
  CU_ASSERT_EQUAL(nn_editlog_purge(dir, 100), 1);
  CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);
}

struct gc_arg {
  nn_editlog *l;
  pthread_mutex_t *ns_lock; /* stands in for the namespace lock */
  int n;
  int errors;
};

static void *gc_thread(void *p) {
  struct gc_arg *a = p;
  for (int i = 0; i < a->n; i++) {
    Nn__EditRecord r;
    mkrec(&r, "/x");
    uint64_t txid;
    pthread_mutex_lock(a->ns_lock);
    int rc = nn_editlog_append(a->l, &r, &txid);
    pthread_mutex_unlock(a->ns_lock);
    if (rc || nn_editlog_sync(a->l, txid) != 0 || nn_editlog_synced_txid(a->l) < txid)
      a->errors++;
  }
  return NULL;
}

static void test_group_commit_threads(void) {
  fresh();
  nn_editlog *l = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_editlog_open(dir, 1, &l), 0);
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  enum { T = 8, N = 500 };
  pthread_t th[T];
  struct gc_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (struct gc_arg){.l = l, .ns_lock = &mu, .n = N};
    pthread_create(&th[i], NULL, gc_thread, &args[i]);
  }
  int errors = 0;
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    errors += args[i].errors;
  }
  CU_ASSERT_EQUAL(errors, 0);
  CU_ASSERT_EQUAL(nn_editlog_last_txid(l), T * N);
  CU_ASSERT_EQUAL(nn_editlog_synced_txid(l), T * N);
  CU_ASSERT_EQUAL(nn_editlog_close(l), 0);
  struct collect c = {0};
  uint64_t last;
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c, &last), 0);
  CU_ASSERT_EQUAL(c.n, T * N);
  CU_ASSERT_EQUAL(c.bad_order, 0);
}

static void append_bytes(const char *path, const void *b, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(write(fd, b, n), (ssize_t)n);
  close(fd);
}

static off_t fsize(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_crash_with_preallocated_zeros(void) {
  fresh();
  nn_editlog *l = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_editlog_open(dir, 1, &l), 0);
  uint64_t txid = 0;
  for (int i = 0; i < 30; i++) {
    Nn__EditRecord r;
    mkrec(&r, "/z");
    CU_ASSERT_EQUAL(nn_editlog_append(l, &r, &txid), 0);
  }
  CU_ASSERT_EQUAL(nn_editlog_sync(l, txid), 0);
  char p[512];
  seg_path(p, sizeof p, 1);
  CU_ASSERT(fsize(p) >= (1 << 20)); /* zeros ahead of the records */
  /* "crash": the writer never closes; a new process replays */
  struct collect c = {0};
  uint64_t last = 0;
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c, &last), 0);
  CU_ASSERT_EQUAL(c.n, 30);
  CU_ASSERT_EQUAL(last, 30);
  char fin[512], aside[600];
  snprintf(fin, sizeof fin, "%s/edits_%019d-%019d", dir, 1, 30);
  CU_ASSERT(fsize(fin) > 0 && fsize(fin) < 4096); /* zeros cut, not set aside */
  snprintf(aside, sizeof aside, "%s.corrupt-tail", p);
  CU_ASSERT_NOT_EQUAL(access(aside, F_OK), 0);
  nn_editlog_close(l);
}

static void test_torn_tail(void) {
  fresh();
  write_n(1, 20);
  char p[512], fin[512], aside[600];
  seg_path(p, sizeof p, 1);
  off_t good = fsize(p);
  /* a record header promising 100 bytes, followed by only 10 */
  uint8_t torn[18] = {0, 0, 0, 100, 1, 2, 3, 4, 'g', 'a', 'r', 'b', 'a', 'g', 'e', '!', '!', '!'};
  append_bytes(p, torn, sizeof torn);
  struct collect c = {0};
  uint64_t last = 0;
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c, &last), 0);
  CU_ASSERT_EQUAL(c.n, 20); /* never applied */
  CU_ASSERT_EQUAL(last, 20);
  snprintf(aside, sizeof aside, "%s.corrupt-tail", p);
  CU_ASSERT_EQUAL(fsize(aside), (off_t)sizeof torn);
  snprintf(fin, sizeof fin, "%s/edits_%019d-%019d", dir, 1, 20);
  CU_ASSERT_EQUAL(fsize(fin), good); /* truncated back, then finalised */

  /* a complete last record with a bad CRC is a torn tail too */
  fresh();
  write_n(1, 5);
  seg_path(p, sizeof p, 1);
  good = fsize(p);
  int fd = open(p, O_RDWR);
  uint8_t b;
  CU_ASSERT_EQUAL(pread(fd, &b, 1, good - 1), 1);
  b ^= 0xff;
  CU_ASSERT_EQUAL(pwrite(fd, &b, 1, good - 1), 1);
  close(fd);
  struct collect c2 = {0};
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c2, &last), 0);
  CU_ASSERT_EQUAL(c2.n, 4);
  CU_ASSERT_EQUAL(last, 4);
}

static void test_corruption_in_the_middle_refused(void) {
  fresh();
  write_n(1, 50);
  char p[512];
  seg_path(p, sizeof p, 1);
  off_t sz = fsize(p);
  int fd = open(p, O_RDWR);
  uint8_t b;
  off_t at = sz / 2;
  CU_ASSERT_EQUAL(pread(fd, &b, 1, at), 1);
  b ^= 0x55;
  CU_ASSERT_EQUAL(pwrite(fd, &b, 1, at), 1);
  close(fd);
  struct collect c = {0};
  uint64_t last = 0;
  int rc = nn_editlog_replay(dir, 0, collect_cb, &c, &last);
  CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
  const char *msg = dfs_err_msg();
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, p));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "offset"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "expected"));
  CU_ASSERT_EQUAL(fsize(p), sz); /* nothing truncated */
}

static void test_gap_refused(void) {
  fresh();
  write_n(1, 10);
  uint64_t last;
  struct collect c = {0};
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c, &last), 0);
  write_n(15, 5); /* txids 11..14 are missing */
  struct collect c2 = {0};
  CU_ASSERT_EQUAL(nn_editlog_replay(dir, 0, collect_cb, &c2, &last), DFS_ECORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "expected"));
}

static void test_scan_rejects_garbage(void) {
  struct nn_edit_scan res;
  const uint8_t junk[] = "NOTMAGIC....";
  CU_ASSERT_EQUAL(nn_editlog_scan(junk, sizeof junk, "x", NULL, NULL, &res), DFS_ECORRUPT);
  uint8_t buf[64] = "NNEDITS1";
  memset(buf + 8, 0, sizeof buf - 8); /* zero-filled tail: preallocation */
  CU_ASSERT_EQUAL(nn_editlog_scan(buf, sizeof buf, "x", NULL, NULL, &res), 0);
  CU_ASSERT(!res.bad);
  CU_ASSERT(res.zero_tail);
  CU_ASSERT_EQUAL(res.records, 0);
  buf[40] = 7; /* a stray byte in the zeros: a torn tail */
  CU_ASSERT_EQUAL(nn_editlog_scan(buf, sizeof buf, "x", NULL, NULL, &res), 0);
  CU_ASSERT(res.bad);
  CU_ASSERT(!res.zero_tail);
  CU_ASSERT(!res.later_valid);
}

/* The namesystem across a crash: changes acknowledged, no checkpoint. */
static void test_namesystem_replay_after_crash(void) {
  struct nn_config cfg;
  fresh_ns_config(&cfg);
  nn_ns *ns = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  char su[256];
  snprintf(su, sizeof su, "%s", nn_ns_superuser(ns));
  struct nn_caller c = {.user = su, .client_name = "DFSClient_1", .ip = "127.0.0.1"};
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &c, P("/a/b/c"), 0755, true), 0);
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &c, P("/a/f1"), 0644, false, true, 1, 0, &st), 0);
  bool done = false, res = false;
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &c, P("/a/f1"), NULL, 0, &done), 0);
  CU_ASSERT(done);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &c, P("/a/f1"), P("/a/b/f2"), false, &res), 0);
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &c, P("/a/b/c"), false, &res), 0);
  CU_ASSERT_EQUAL(nn_ns_set_permission(ns, &c, P("/a/b"), 0700), 0);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &c, P("/open"), 0644, false, true, 1, 0, &st), 0);
  /* a second NameNode on the same directory is refused */
  nn_ns *ns2 = NULL;
  CU_ASSERT_EQUAL(nn_ns_open(&cfg, &ns2), DFS_EAGAIN);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "in use"));
  nn_ns_close(ns, false); /* like a crash after the acknowledgements */
  ns = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &c, P("/a/b/f2"), &st), 0);
  CU_ASSERT(!st.is_dir);
  CU_ASSERT(!st.under_construction);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &c, P("/a/f1"), &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &c, P("/a/b/c"), &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &c, P("/a/b"), &st), 0);
  CU_ASSERT_EQUAL(st.perm, 0700);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &c, P("/open"), &st), 0);
  CU_ASSERT(st.under_construction);
  /* the lease survived: another client is refused */
  struct nn_caller other = c;
  other.client_name = "DFSClient_2";
  CU_ASSERT_EQUAL(nn_ns_create(ns, &other, P("/open"), 0644, true, true, 1, 0, &st), DFS_ELEASE);
  nn_ns_close(ns, false);
}

/* A block allocated after the first of its file is logged without the
 * sync (ADD_BLOCK sync_later). A crash loses that edit while the DataNodes
 * may already hold the block; the next run must not hand out its id or
 * generation stamp again. A child process allocates it and dies without
 * syncing; the parent reopens and allocates. */
static void test_no_id_reuse_after_crash(void) {
  struct nn_config cfg;
  fresh_ns_config(&cfg);
  int fds[2];
  CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
  struct nn_dn_stats dst = {.capacity = 1ull << 40, .remaining = 1ull << 39};
  pid_t pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    nn_ns *ns = NULL;
    const char *h;
    uint64_t got[2] = {0, 0};
    if (nn_ns_open(&cfg, &ns) != 0) _exit(2);
    struct nn_caller c = {.user = nn_ns_superuser(ns), .client_name = "W", .ip = "10.0.0.1"};
    struct nn_status st;
    struct nn_located_blocks lb;
    if (nn_ns_register_datanode(ns, "u1", "10.0.0.1", 9866, "dn1", "10.0.0.1", &dst, &h) != 0 ||
        nn_ns_create(ns, &c, P("/f"), 0644, false, true, 1, 0, &st) != 0 ||
        nn_ns_add_block(ns, &c, P("/f"), NULL, NULL, 0, 0, false, &lb) != 0)
      _exit(3);
    struct nn_blk first = lb.blocks[0].b;
    nn_located_blocks_free(&lb);
    first.num_bytes = 1024;
    if (nn_ns_add_block(ns, &c, P("/f"), &first, NULL, 0, 0, true, &lb) != 0) _exit(4);
    got[0] = lb.blocks[lb.n - 1].b.id;
    got[1] = lb.blocks[lb.n - 1].b.genstamp;
    if (write(fds[1], got, sizeof got) != (ssize_t)sizeof got) _exit(5);
    _exit(0); /* the crash: the second allocation never reached the disk */
  }
  close(fds[1]);
  uint64_t lost[2] = {0, 0};
  CU_ASSERT_EQUAL(read(fds[0], lost, sizeof lost), (ssize_t)sizeof lost);
  close(fds[0]);
  int status = -1;
  waitpid(pid, &status, 0);
  CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  nn_ns *ns = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  struct nn_caller c = {.user = nn_ns_superuser(ns), .client_name = "W2", .ip = "10.0.0.1"};
  const char *h;
  struct nn_status st;
  struct nn_located_blocks lb;
  CU_ASSERT_EQUAL(nn_ns_register_datanode(ns, "u1", "10.0.0.1", 9866, "dn1", "10.0.0.1", &dst, &h), 0);
  /* the lost allocation is gone (its file has one block), and what the
   * next one gets was never handed out */
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &c, P("/f"), 0, UINT64_MAX, &lb), 0);
  CU_ASSERT_EQUAL(lb.n, 1);
  nn_located_blocks_free(&lb);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &c, P("/g"), 0644, false, true, 1, 0, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &c, P("/g"), NULL, NULL, 0, 0, false, &lb), 0);
  CU_ASSERT(lb.blocks[0].b.id > lost[0]);
  CU_ASSERT(lb.blocks[0].b.genstamp > lost[1]);
  nn_located_blocks_free(&lb);
  nn_ns_close(ns, false);
  /* and so after a clean stop and start too */
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  nn_ns_close(ns, false);
}

/* Many threads change overlapping parts of the namespace at once (some
 * calls fail on purpose: races on the same names); whatever was applied
 * must replay to exactly the same namespace, which proves that txid order
 * is the order the changes were applied in. */
struct mix_arg {
  nn_ns *ns;
  const char *user;
  int id;
};

static void *mix_thread(void *p) {
  struct mix_arg *a = p;
  char path[128], dst[128], cname[64];
  snprintf(cname, sizeof cname, "DFSClient_mix%d", a->id);
  struct nn_caller c = {.user = a->user, .client_name = cname, .ip = "127.0.0.1"};
  uint64_t seed = (uint64_t)a->id * 7919 + 1;
  for (int i = 0; i < 400; i++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int x = (int)((seed >> 33) % 20), y = (int)((seed >> 45) % 20), op = (int)((seed >> 20) % 6);
    snprintf(path, sizeof path, "/m/d%d/n%d", x % 4, x);
    snprintf(dst, sizeof dst, "/m/d%d/n%d", y % 4, y);
    struct nn_status st;
    bool r;
    switch (op) {
    case 0: nn_ns_mkdirs(a->ns, &c, P(path), 0755, true); break;
    case 1:
      if (nn_ns_create(a->ns, &c, P(path), 0644, true, true, 1, 0, &st) == 0)
        nn_ns_complete(a->ns, &c, P(path), NULL, 0, &r);
      break;
    case 2: nn_ns_rename(a->ns, &c, P(path), P(dst), (seed & 1) != 0, &r); break;
    case 3: nn_ns_delete(a->ns, &c, P(path), true, &r); break;
    case 4: nn_ns_set_permission(a->ns, &c, P(path), (uint32_t)(seed & 0777)); break;
    default: nn_ns_set_times(a->ns, &c, P(path), (int64_t)(seed & 0xffffff), -1); break;
    }
  }
  return NULL;
}

static void test_concurrent_changes_replay_exactly(void) {
  struct nn_config cfg;
  fresh_ns_config(&cfg);
  nn_ns *ns = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  char su[256];
  snprintf(su, sizeof su, "%s", nn_ns_superuser(ns));
  struct nn_caller c = {.user = su, .client_name = "DFSClient_main", .ip = "127.0.0.1"};
  enum { T = 8 };
  pthread_t th[T];
  struct mix_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (struct mix_arg){.ns = ns, .user = su, .id = i};
    pthread_create(&th[i], NULL, mix_thread, &args[i]);
  }
  /* a checkpoint in the middle of it all */
  CU_ASSERT_EQUAL(nn_ns_checkpoint(ns), 0);
  for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
  char *before = dump_all(ns, &c);
  CU_ASSERT(strlen(before) > 100);
  nn_ns_close(ns, false);
  ns = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  char *after = dump_all(ns, &c);
  CU_ASSERT_STRING_EQUAL(after, before);
  nn_ns_close(ns, false);
  free(before);
  free(after);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("nn_editlog", NULL, NULL);
  CU_add_test(s, "write and replay", test_write_and_replay);
  CU_add_test(s, "group commit from threads", test_group_commit_threads);
  CU_add_test(s, "crash with preallocated zeros", test_crash_with_preallocated_zeros);
  CU_add_test(s, "torn tail truncated and reported", test_torn_tail);
  CU_add_test(s, "corruption in the middle refused", test_corruption_in_the_middle_refused);
  CU_add_test(s, "txid gap refused", test_gap_refused);
  CU_add_test(s, "scan rejects garbage", test_scan_rejects_garbage);
  CU_add_test(s, "namesystem replay after crash", test_namesystem_replay_after_crash);
  CU_add_test(s, "no block id or stamp handed out twice across a crash",
              test_no_id_reuse_after_crash);
  CU_add_test(s, "concurrent changes replay exactly", test_concurrent_changes_replay_exactly);
  int rc = tnn_run();
  if (dir[0]) tnn_rmrf(dir);
  return rc;
}
