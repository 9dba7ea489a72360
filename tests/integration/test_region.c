/*
 * test_region.c - regions (regionserver/region.h) on a real DFS
 * mini-cluster (3 DataNodes): a bulk load across three families (versions
 * 1 and 3, one with a TTL) with every kind of delete, several flushes and
 * compactions, read back by get and by scan against a model, and again
 * after close and reopen; kill -9 of a child process hosting a region,
 * then WAL replay: every acknowledged write there once; concurrent writers
 * and scanners never seeing half a row mutation; increments from 8
 * threads summing exactly; checkAndPut / checkAndDelete, append; flush
 * pacing.
 *
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "block_cache.h"
#include "errors.h"
#include "kill_child.h"
#include "minicluster.h"
#include "region.h"
#include "store.h"
#include "test_cells.h"

static struct minicluster *mc;
static dfs_fs *fs;
static struct block_cache *cache;

#define ROOT "/hbase"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The test clock (TTL must not depend on how slow the machine is). */
static _Atomic int64_t test_clock = 1700000000000;
static int64_t clock_fn(void *arg) {
  (void)arg;
  return atomic_load(&test_clock);
}

static struct cell mk(const char *row, const char *fam, const char *q, int64_t ts, uint8_t type,
                      const char *val) {
  return tc_cell(row, fam, q, ts, type, 0, val);
}

static int get_row(struct region *r, const char *row, uint32_t versions, struct region_row *out) {
  struct scan_spec s;
  scan_spec_init(&s);
  s.start_row = (const uint8_t *)row;
  s.start_row_len = (uint32_t)strlen(row);
  s.get = true;
  s.max_versions = versions;
  int rc = region_get(r, &s, out);
  if (rc) fprintf(stderr, "get %s: %s\n", row, dfs_err_msg());
  return rc;
}

/* ---- 1. bulk load against a model ------------------------------------------- */

static const struct region_family bulk_fams[] = {
    {.name = "a", .fam = {.max_versions = 1}},
    {.name = "b", .fam = {.max_versions = 3}, .compression = HFILE_COMPRESSION_SNAPPY},
    {.name = "t", .fam = {.max_versions = 1, .ttl_ms = 3000}},
};

/* What a get of row i must return: "fam qual ts value" lines. */
struct exp_cell {
  const char *fam, *q;
  int64_t ts; /* -1: any (stamped by the region) */
  char val[32];
};

static size_t expected_row(unsigned i, struct exp_cell *e) {
  size_t n = 0;
  unsigned k = i % 10;
  /* k == 6: DeleteFamily of every family at "now": a and b go, the TTL
   * cell (timestamped an hour ahead) stays. */
  if (k == 6) goto ttl;
  e[n] = (struct exp_cell){"a", "c0", -1, ""};
  snprintf(e[n++].val, 32, "a0-%u-2", i);
  if (k != 1) {
    e[n] = (struct exp_cell){"a", "c1", -1, ""};
    snprintf(e[n++].val, 32, "a1-%u-2", i);
  }
  if (k != 2) {
    for (int p = 2; p >= 0; p--) {
      if (k == 4 && p == 2) continue; /* DeleteFamilyVersion at 102 */
      if (k == 5 && p == 1) continue; /* Delete version 101 */
      e[n] = (struct exp_cell){"b", "c0", 100 + p, ""};
      snprintf(e[n++].val, 32, "b-%u-%d", i, p);
    }
  }
  /* b:c1 only exists on k == 3 rows, where it is deleted with a latest Delete. */
ttl:
  if (i % 2 == 0) { /* odd rows got an expired TTL cell */
    e[n] = (struct exp_cell){"t", "c0", 0, ""};
    snprintf(e[n++].val, 32, "t-%u", i);
  }
  return n;
}

static bool match_row(unsigned i, const struct cell *const *cells, size_t n) {
  struct exp_cell e[16];
  size_t ne = expected_row(i, e);
  if (ne != n) {
    fprintf(stderr, "row %u: %zu cells, expected %zu\n", i, n, ne);
    return false;
  }
  for (size_t j = 0; j < n; j++) {
    const struct cell *c = cells[j];
    bool ok = c->family_len == strlen(e[j].fam) && !memcmp(c->family, e[j].fam, c->family_len) &&
              c->qualifier_len == strlen(e[j].q) && !memcmp(c->qualifier, e[j].q, c->qualifier_len) &&
              c->value_len == strlen(e[j].val) && !memcmp(c->value, e[j].val, c->value_len) &&
              (e[j].ts < 0 || e[j].fam[0] == 't' || c->timestamp == e[j].ts);
    if (!ok) {
      fprintf(stderr, "row %u cell %zu: got %.*s:%.*s@%lld=%.*s, expected %s:%s@%lld=%s\n", i, j,
              (int)c->family_len, (const char *)c->family, (int)c->qualifier_len,
              (const char *)c->qualifier, (long long)c->timestamp, (int)c->value_len,
              (const char *)c->value, e[j].fam, e[j].q, (long long)e[j].ts, e[j].val);
      return false;
    }
  }
  return true;
}

struct bulk_ctx {
  struct region *r;
  unsigned from, to, step;
  atomic_int errors;
};

static void rowname(char *buf, unsigned i) { snprintf(buf, 16, "r%08u", i); }

static void *bulk_writer(void *arg) {
  struct bulk_ctx *b = arg;
  char row[16], v[3][32], tv[32];
  int64_t base = clock_fn(NULL);
  for (int p = 0; p < 3; p++) {
    for (unsigned i = b->from; i < b->to; i += b->step) {
      rowname(row, i);
      struct cell c[5];
      size_t n = 0;
      snprintf(v[0], 32, "a0-%u-%d", i, p);
      snprintf(v[1], 32, "a1-%u-%d", i, p);
      snprintf(v[2], 32, "b-%u-%d", i, p);
      c[n++] = mk(row, "a", "c0", CELL_LATEST_TIMESTAMP, CELL_PUT, v[0]);
      c[n++] = mk(row, "a", "c1", CELL_LATEST_TIMESTAMP, CELL_PUT, v[1]);
      c[n++] = mk(row, "b", "c0", 100 + p, CELL_PUT, v[2]);
      if (p == 0) {
        snprintf(tv, 32, "t-%u", i);
        c[n++] = mk(row, "t", "c0", i % 2 ? base - 10000 : base + 3600 * 1000, CELL_PUT, tv);
        if (i % 10 == 3) c[n++] = mk(row, "b", "c1", 100, CELL_PUT, "gone");
      }
      int rc;
      while ((rc = region_mutate_row(b->r, (const uint8_t *)row, (uint32_t)strlen(row), c, n,
                                     WAL_ASYNC)) == DFS_EAGAIN) {
      }
      if (rc) {
        fprintf(stderr, "put %s: %s\n", row, dfs_err_msg());
        b->errors++;
        return NULL;
      }
    }
  }
  /* The deletes, one kind per row class. */
  for (unsigned i = b->from; i < b->to; i += b->step) {
    rowname(row, i);
    struct cell c[3];
    size_t n = 0;
    switch (i % 10) {
    case 1: c[n++] = mk(row, "a", "c1", CELL_LATEST_TIMESTAMP, CELL_DELETE_COLUMN, NULL); break;
    case 2: c[n++] = mk(row, "b", "", CELL_LATEST_TIMESTAMP, CELL_DELETE_FAMILY, NULL); break;
    case 3: c[n++] = mk(row, "b", "c1", CELL_LATEST_TIMESTAMP, CELL_DELETE, NULL); break;
    case 4: c[n++] = mk(row, "b", "", 102, CELL_DELETE_FAMILY_VERSION, NULL); break;
    case 5: c[n++] = mk(row, "b", "c0", 101, CELL_DELETE, NULL); break;
    case 6:
      c[n++] = mk(row, "a", "", CELL_LATEST_TIMESTAMP, CELL_DELETE_FAMILY, NULL);
      c[n++] = mk(row, "b", "", CELL_LATEST_TIMESTAMP, CELL_DELETE_FAMILY, NULL);
      c[n++] = mk(row, "t", "", CELL_LATEST_TIMESTAMP, CELL_DELETE_FAMILY, NULL);
      break;
    default: continue;
    }
    int rc;
    while ((rc = region_mutate_row(b->r, (const uint8_t *)row, (uint32_t)strlen(row), c, n,
                                   WAL_ASYNC)) == DFS_EAGAIN) {
    }
    if (rc) {
      fprintf(stderr, "delete %s: %s\n", row, dfs_err_msg());
      b->errors++;
      return NULL;
    }
  }
  return NULL;
}

static unsigned check_all(struct region *r, unsigned rows, bool by_get) {
  unsigned bad = 0;
  if (by_get) {
    char row[16];
    for (unsigned i = 0; i < rows && bad < 5; i++) {
      rowname(row, i);
      struct region_row rr;
      if (get_row(r, row, 3, &rr) != 0) return rows;
      if (!match_row(i, (const struct cell *const *)rr.cells, rr.n)) bad++;
      region_row_free(&rr);
    }
    return bad;
  }
  struct scan_spec s;
  scan_spec_init(&s);
  s.max_versions = 3;
  struct region_scanner *rs;
  if (region_scan_open(r, &s, &rs) != 0) return rows;
  struct scan_result res;
  unsigned next = 0;
  int rc;
  const struct cell *ptrs[16];
  while ((rc = region_scanner_next(rs, &res)) == 1 && bad < 5) {
    unsigned i;
    if (sscanf((const char *)res.cells[0].row + 1, "%8u", &i) != 1) {
      bad++;
      continue;
    }
    for (; next < i; next++) /* rows the scan skipped must be empty */
      if (expected_row(next, (struct exp_cell[16]){0}) != 0) {
        fprintf(stderr, "scan: row %u missing\n", next);
        bad++;
      }
    next = i + 1;
    if (res.n > 16) {
      bad++;
      continue;
    }
    for (size_t j = 0; j < res.n; j++) ptrs[j] = &res.cells[j];
    if (!match_row(i, ptrs, res.n)) bad++;
  }
  if (rc < 0) {
    fprintf(stderr, "scan: %s\n", dfs_err_msg());
    bad++;
  }
  for (; next < rows && bad < 5; next++)
    if (expected_row(next, (struct exp_cell[16]){0}) != 0) {
      fprintf(stderr, "scan: row %u missing at the end\n", next);
      bad++;
    }
  region_scanner_close(rs);
  return bad;
}

static void test_bulk(void) {
  unsigned cells_goal = 1000000;
  unsigned rows = cells_goal / 10; /* 3 x 3 puts + a TTL cell + deletes: ~10 per row */
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-bulk", NULL, &w) == 0);
  struct region_desc d = {.table = "bulk", .name = "bulk0001", .families = bulk_fams,
                          .n_families = 3};
  struct region_opts o;
  region_opts_init(&o);
  o.flush_size = 4 << 20;
  o.now_ms = clock_fn;
  o.block_timeout_ms = 60000;
  struct region *r;
  int rc = region_open(fs, ROOT, w, &d, cache, &o, &r);
  if (rc) fprintf(stderr, "region_open: %s\n", dfs_err_msg());
  CU_ASSERT_FATAL(rc == 0);
  double t0 = now_s();
  enum { NT = 2 };
  struct bulk_ctx ctx[NT];
  pthread_t th[NT];
  for (unsigned t = 0; t < NT; t++) {
    ctx[t] = (struct bulk_ctx){.r = r, .from = t, .to = rows, .step = NT};
    pthread_create(&th[t], NULL, bulk_writer, &ctx[t]);
  }
  for (unsigned t = 0; t < NT; t++) {
    pthread_join(th[t], NULL);
    CU_ASSERT(ctx[t].errors == 0);
  }
  double t1 = now_s();
  CU_ASSERT(region_wait_idle(r, 60000) == 0);
  struct region_stats st;
  region_get_stats(r, &st);
  printf("\n  bulk: %u rows (~%u cells) in %.1f s, %llu flushes, %llu compactions, %zu files\n",
         rows, rows * 10, t1 - t0, (unsigned long long)st.flushes,
         (unsigned long long)st.compactions, st.store_files);
  CU_ASSERT(st.flushes >= 3);
  CU_ASSERT(st.compactions >= 1);
  CU_ASSERT_EQUAL(check_all(r, rows, true), 0);
  CU_ASSERT_EQUAL(check_all(r, rows, false), 0);
  double t2 = now_s();
  /* Close (flush), reopen: the same rows from the files alone. */
  CU_ASSERT(region_close(r, true) == 0);
  rc = region_open(fs, ROOT, w, &d, cache, &o, &r);
  CU_ASSERT_FATAL(rc == 0);
  CU_ASSERT_EQUAL(check_all(r, rows, false), 0);
  printf("  bulk: verified by get and scan in %.1f s, reopened and scanned in %.1f s\n", t2 - t1,
         now_s() - t2);
  CU_ASSERT(region_close(r, false) == 0);
  CU_ASSERT(wal_close(w) == 0);
}

/* ---- 2. kill -9 and WAL replay ---------------------------------------------- */

static const struct region_family kill_fams[] = {
    {.name = "a", .fam = {.max_versions = 3}},
    {.name = "b", .fam = {.max_versions = 3}},
};
static const struct region_desc kill_desc = {.table = "kill", .name = "kill0001",
                                             .families = kill_fams, .n_families = 2};
#define KILL_THREADS 4
#define KILL_AFTER 4000

struct kill_ctx {
  struct region *r;
  unsigned t;
  int fd;
};

static void *kill_writer(void *arg) {
  struct kill_ctx *k = arg;
  for (uint32_t i = 0;; i++) {
    uint32_t id = i * KILL_THREADS + k->t;
    char row[16], va[24], vb[24];
    snprintf(row, sizeof row, "k%08u", id);
    snprintf(va, sizeof va, "va%u", id);
    snprintf(vb, sizeof vb, "vb%u", id);
    struct cell c[2] = {mk(row, "a", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, va),
                        mk(row, "b", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, vb)};
    if (region_mutate_row(k->r, (const uint8_t *)row, (uint32_t)strlen(row), c, 2, WAL_SYNC) != 0)
      _exit(3);
    kc_ack(k->fd, id);
  }
  return NULL;
}

/* The child (kc_child_fn). */
static void kill_child(int fd, void *arg) {
  (void)arg;
  dfs_fs *cfs;
  if (mc_connect(mc, NULL, &cfs) != 0) _exit(1);
  struct wal_opts wo = {.roll_size = 256 * 1024};
  wal *w;
  if (wal_open(cfs, ROOT, "rs-dead", &wo, &w) != 0) _exit(2);
  struct region_opts o;
  region_opts_init(&o);
  o.flush_size = 512 * 1024; /* flushes happen: replay starts above the files' seq ids */
  struct region *r;
  if (region_open(cfs, ROOT, w, &kill_desc, NULL, &o, &r) != 0) _exit(2);
  static struct kill_ctx ctx[KILL_THREADS];
  pthread_t th[KILL_THREADS];
  for (unsigned t = 0; t < KILL_THREADS; t++) {
    ctx[t] = (struct kill_ctx){.r = r, .t = t, .fd = fd};
    if (pthread_create(&th[t], NULL, kill_writer, &ctx[t]) != 0) _exit(5);
  }
  for (;;) pause();
}

static void test_kill9(void) {
  struct kc_result kr;
  CU_ASSERT_FATAL(kc_run(kill_child, NULL, KILL_AFTER, 30, &kr) == 0);
  size_t nack = kr.n;
  uint64_t *acked = kr.ids;
  CU_ASSERT(WIFSIGNALED(kr.status) && WTERMSIG(kr.status) == SIGKILL);
  CU_ASSERT(nack > 100);

  char **paths;
  size_t np;
  CU_ASSERT_FATAL(wal_list(fs, ROOT "/WALs/rs-dead", &paths, &np) == 0);
  for (size_t i = 0; i < np; i++) CU_ASSERT(wal_recover_file(fs, paths[i], 60000) == 0);
  /* Every file twice: each entry is then seen twice (as after a WAL roll
   * that rewrote a batch), and must be applied once. */
  const char **twice = malloc(2 * np * sizeof *twice + 1);
  for (size_t i = 0; i < np; i++) twice[i] = twice[np + i] = paths[i];
  struct region_opts o;
  region_opts_init(&o);
  o.replay_wals = twice;
  o.n_replay_wals = 2 * np;
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-new", NULL, &w) == 0);
  struct region *r;
  int rc = region_open(fs, ROOT, w, &kill_desc, cache, &o, &r);
  if (rc) fprintf(stderr, "region_open with replay: %s\n", dfs_err_msg());
  CU_ASSERT_FATAL(rc == 0);
  struct region_stats st;
  region_get_stats(r, &st);
  size_t missing = 0, wrong = 0;
  for (size_t i = 0; i < nack; i++) {
    char row[16], va[24], vb[24];
    unsigned id = (unsigned)acked[i];
    snprintf(row, sizeof row, "k%08u", id);
    snprintf(va, sizeof va, "va%u", id);
    snprintf(vb, sizeof vb, "vb%u", id);
    /* Raw: every cell stored, so an edit applied twice would show twice. */
    struct scan_spec s;
    scan_spec_init(&s);
    s.start_row = (const uint8_t *)row;
    s.start_row_len = (uint32_t)strlen(row);
    s.get = true;
    s.raw = true;
    s.max_versions = 3;
    struct region_row rr;
    if (region_get(r, &s, &rr) != 0) {
      wrong++;
      continue;
    }
    if (rr.n == 0) missing++;
    else if (rr.n != 2 || rr.cells[0]->value_len != strlen(va) ||
             memcmp(rr.cells[0]->value, va, strlen(va)) || rr.cells[1]->value_len != strlen(vb) ||
             memcmp(rr.cells[1]->value, vb, strlen(vb)))
      wrong++;
    region_row_free(&rr);
  }
  printf("\n  kill -9: %zu acknowledged rows, %zu WAL files, %llu edits replayed, %llu skipped "
         "(already in store files or seen twice); missing %zu, wrong %zu\n",
         nack, np, (unsigned long long)st.replayed_edits, (unsigned long long)st.replay_skipped,
         missing, wrong);
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT_EQUAL(wrong, 0);
  /* Replay again on a second open: nothing new, nothing doubled. */
  CU_ASSERT(region_close(r, true) == 0);
  rc = region_open(fs, ROOT, w, &kill_desc, cache, &o, &r);
  CU_ASSERT_FATAL(rc == 0);
  region_get_stats(r, &st);
  CU_ASSERT_EQUAL(st.replayed_edits, 0);
  CU_ASSERT(region_close(r, false) == 0);
  wal_paths_free(paths, np);
  free(twice);
  free(acked);
  CU_ASSERT(wal_close(w) == 0);
}

/* ---- 3. concurrency: whole row mutations, exact increments ------------------- */

static const struct region_family conc_fams[] = {{.name = "f", .fam = {.max_versions = 1}}};
#define CONC_ROWS 50
#define CONC_WRITERS 4
#define CONC_MUTATIONS 400

struct conc_ctx {
  struct region *r;
  unsigned t;
  atomic_int *writers_left;
  atomic_ulong *torn, *rows_seen;
  atomic_int errors;
};

static void *conc_writer(void *arg) {
  struct conc_ctx *c = arg;
  uint32_t x = 12345 + c->t;
  for (unsigned i = 0; i < CONC_MUTATIONS; i++) {
    x = x * 1103515245 + 12345;
    char row[16], val[24];
    snprintf(row, sizeof row, "c%03u", (x >> 8) % CONC_ROWS);
    snprintf(val, sizeof val, "w%u-%u", c->t, i);
    struct cell cells[5];
    static const char *q[5] = {"q0", "q1", "q2", "q3", "q4"};
    for (int k = 0; k < 5; k++) cells[k] = mk(row, "f", q[k], CELL_LATEST_TIMESTAMP, CELL_PUT, val);
    if (region_mutate_row(c->r, (const uint8_t *)row, (uint32_t)strlen(row), cells, 5, WAL_SYNC)) {
      c->errors++;
      break;
    }
  }
  (*c->writers_left)--;
  return NULL;
}

static void *conc_reader(void *arg) {
  struct conc_ctx *c = arg;
  do {
    struct scan_spec s;
    scan_spec_init(&s);
    struct region_scanner *rs;
    if (region_scan_open(c->r, &s, &rs)) {
      c->errors++;
      break;
    }
    struct scan_result res;
    int rc;
    while ((rc = region_scanner_next(rs, &res)) == 1) {
      (*c->rows_seen)++;
      bool torn = res.n != 5;
      for (size_t k = 1; k < res.n; k++)
        if (res.cells[k].value_len != res.cells[0].value_len ||
            memcmp(res.cells[k].value, res.cells[0].value, res.cells[0].value_len))
          torn = true;
      if (torn) (*c->torn)++;
    }
    if (rc < 0) c->errors++;
    region_scanner_close(rs);
  } while (*c->writers_left > 0);
  return NULL;
}

struct inc_ctx {
  struct region *r;
  atomic_int errors;
};
#define INC_THREADS 8
#define INC_EACH 1000

static void *inc_worker(void *arg) {
  struct inc_ctx *c = arg;
  struct qm_qualifier q = {(const uint8_t *)"n", 1};
  int64_t d = 1;
  for (int i = 0; i < INC_EACH; i++)
    if (region_increment(c->r, (const uint8_t *)"counter", 7, "f", &q, &d, 1, WAL_ASYNC, NULL))
      c->errors++;
  return NULL;
}

static void test_concurrent(void) {
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-conc", NULL, &w) == 0);
  struct region_desc d = {.table = "conc", .name = "conc0001", .families = conc_fams,
                          .n_families = 1};
  struct region_opts o;
  region_opts_init(&o);
  o.flush_size = 256 * 1024; /* flushes while readers scan */
  struct region *r;
  CU_ASSERT_FATAL(region_open(fs, ROOT, w, &d, cache, &o, &r) == 0);
  atomic_int left = CONC_WRITERS;
  atomic_ulong torn = 0, seen = 0;
  struct conc_ctx ctx[CONC_WRITERS + 2];
  pthread_t th[CONC_WRITERS + 2];
  for (unsigned t = 0; t < CONC_WRITERS + 2; t++) {
    ctx[t] = (struct conc_ctx){.r = r, .t = t, .writers_left = &left, .torn = &torn, .rows_seen = &seen};
    pthread_create(&th[t], NULL, t < CONC_WRITERS ? conc_writer : conc_reader, &ctx[t]);
  }
  for (unsigned t = 0; t < CONC_WRITERS + 2; t++) {
    pthread_join(th[t], NULL);
    CU_ASSERT(ctx[t].errors == 0);
  }
  printf("\n  concurrent: %lu rows scanned while %d writers mutated, %lu torn\n",
         (unsigned long)seen, CONC_WRITERS, (unsigned long)torn);
  CU_ASSERT(seen > 0);
  CU_ASSERT_EQUAL(torn, 0);

  double t0 = now_s();
  struct inc_ctx ic[INC_THREADS];
  pthread_t it[INC_THREADS];
  for (int t = 0; t < INC_THREADS; t++) {
    ic[t] = (struct inc_ctx){.r = r};
    pthread_create(&it[t], NULL, inc_worker, &ic[t]);
  }
  for (int t = 0; t < INC_THREADS; t++) {
    pthread_join(it[t], NULL);
    CU_ASSERT(ic[t].errors == 0);
  }
  struct qm_qualifier q = {(const uint8_t *)"n", 1};
  int64_t zero = 0, total = -1;
  CU_ASSERT(region_increment(r, (const uint8_t *)"counter", 7, "f", &q, &zero, 1, WAL_SYNC, &total) == 0);
  printf("  increments: %d x %d -> %lld in %.2f s\n", INC_THREADS, INC_EACH, (long long)total,
         now_s() - t0);
  CU_ASSERT_EQUAL(total, INC_THREADS * INC_EACH);
  CU_ASSERT(region_close(r, true) == 0);
  CU_ASSERT(wal_close(w) == 0);
}

/* ---- 4. checkAndPut / checkAndDelete / append -------------------------------- */

static void test_check_and_put(void) {
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-cap", NULL, &w) == 0);
  struct region_desc d = {.table = "cap", .name = "cap0001", .families = conc_fams,
                          .n_families = 1, .start_row = (const uint8_t *)"b", .start_row_len = 1,
                          .end_row = (const uint8_t *)"y", .end_row_len = 1};
  struct region *r;
  CU_ASSERT_FATAL(region_open(fs, ROOT, w, &d, cache, NULL, &r) == 0);
  const char *row = "cap";
  const uint8_t *q = (const uint8_t *)"q";
  bool applied;
  struct cell p1 = mk(row, "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "v1");
  struct cell p2 = mk(row, "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "v2");
  /* Absent check: passes once. */
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_EQ, NULL, 0, &p1,
                                    1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(applied);
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_EQ, NULL, 0, &p2,
                                    1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(!applied);
  /* Value check: wrong expected value fails, the right one passes. */
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_EQ,
                                    (const uint8_t *)"v9", 2, &p2, 1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(!applied);
  struct region_row rr;
  CU_ASSERT_FATAL(get_row(r, row, 1, &rr) == 0);
  CU_ASSERT(rr.n == 1 && rr.cells[0]->value_len == 2 && !memcmp(rr.cells[0]->value, "v1", 2));
  region_row_free(&rr);
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_EQ,
                                    (const uint8_t *)"v1", 2, &p2, 1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(applied);
  CU_ASSERT_FATAL(get_row(r, row, 1, &rr) == 0);
  CU_ASSERT(rr.n == 1 && rr.cells[0]->value_len == 2 && !memcmp(rr.cells[0]->value, "v2", 2));
  region_row_free(&rr);
  /* Ordering ops compare current to expected. */
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_GT,
                                    (const uint8_t *)"v1", 2, &p1, 1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(applied); /* "v2" > "v1" */
  /* checkAndDelete: a DeleteColumn when the value is v1. */
  struct cell del = mk(row, "f", "q", CELL_LATEST_TIMESTAMP, CELL_DELETE_COLUMN, NULL);
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_EQ,
                                    (const uint8_t *)"v2", 2, &del, 1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(!applied);
  CU_ASSERT(region_check_and_mutate(r, (const uint8_t *)row, 3, "f", q, 1, FILTER_EQ,
                                    (const uint8_t *)"v1", 2, &del, 1, WAL_SYNC, &applied) == 0);
  CU_ASSERT(applied);
  CU_ASSERT_FATAL(get_row(r, row, 1, &rr) == 0);
  CU_ASSERT_EQUAL(rr.n, 0);
  region_row_free(&rr);
  /* Append builds on the current value; increment refuses a non-counter.
   * (Another column: the DeleteColumn above, stamped this millisecond,
   * masks puts of the same millisecond, as in HBase.) */
  q = (const uint8_t *)"p";
  uint8_t *out = NULL;
  size_t out_len = 0;
  CU_ASSERT(region_append(r, (const uint8_t *)row, 3, "f", q, 1, (const uint8_t *)"ab", 2, WAL_SYNC,
                          NULL, NULL) == 0);
  CU_ASSERT(region_append(r, (const uint8_t *)row, 3, "f", q, 1, (const uint8_t *)"cd", 2, WAL_SYNC,
                          &out, &out_len) == 0);
  CU_ASSERT(out_len == 4 && out && !memcmp(out, "abcd", 4));
  free(out);
  struct qm_qualifier qq = {q, 1};
  int64_t delta = 1;
  CU_ASSERT_EQUAL(region_increment(r, (const uint8_t *)row, 3, "f", &qq, &delta, 1, WAL_SYNC, NULL),
                  DFS_EINVAL);
  /* Rows outside [start, end) and unknown families are refused. */
  struct cell outside = mk("z", "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "x");
  CU_ASSERT_EQUAL(region_mutate_row(r, (const uint8_t *)"z", 1, &outside, 1, WAL_SYNC), DFS_EINVAL);
  struct cell nofam = mk(row, "nope", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "x");
  CU_ASSERT_EQUAL(region_mutate_row(r, (const uint8_t *)row, 3, &nofam, 1, WAL_SYNC), DFS_EINVAL);
  CU_ASSERT(region_close(r, true) == 0);
  CU_ASSERT(wal_close(w) == 0);
}

/* ---- 4b. the table's durability ------------------------------------------- */

/* A mutation with WAL_USE_DEFAULT gets the table's durability (FSYNC_WAL:
 * an hsync; SKIP_WAL: no WAL record); one that names its own keeps it. */
static void test_table_durability(void) {
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-dur", NULL, &w) == 0);
  struct region_opts o;
  region_opts_init(&o);
  o.durability = WAL_FSYNC;
  struct region_desc d = {.table = "dur", .name = "dur0001", .families = conc_fams,
                          .n_families = 1};
  struct region *r;
  CU_ASSERT_FATAL(region_open(fs, ROOT, w, &d, cache, &o, &r) == 0);
  struct wal_stats a, b;
  struct cell p = mk("r1", "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "v");
  wal_get_stats(w, &a);
  CU_ASSERT(region_mutate_row(r, (const uint8_t *)"r1", 2, &p, 1, WAL_USE_DEFAULT) == 0);
  wal_get_stats(w, &b);
  CU_ASSERT_EQUAL(b.appends, a.appends + 1);
  CU_ASSERT_EQUAL(b.hsyncs, a.hsyncs + 1); /* the table's FSYNC_WAL */
  CU_ASSERT(region_mutate_row(r, (const uint8_t *)"r1", 2, &p, 1, WAL_SYNC) == 0);
  wal_get_stats(w, &a);
  CU_ASSERT_EQUAL(a.appends, b.appends + 1);
  CU_ASSERT_EQUAL(a.hsyncs, b.hsyncs); /* the mutation's own SYNC_WAL: an hflush */
  CU_ASSERT(a.syncs > b.syncs);
  CU_ASSERT(region_close(r, true) == 0);

  o.durability = WAL_SKIP;
  d.name = "dur0002";
  CU_ASSERT_FATAL(region_open(fs, ROOT, w, &d, cache, &o, &r) == 0);
  p = mk("r2", "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "v");
  wal_get_stats(w, &a);
  CU_ASSERT(region_mutate_row(r, (const uint8_t *)"r2", 2, &p, 1, WAL_USE_DEFAULT) == 0);
  wal_get_stats(w, &b);
  CU_ASSERT_EQUAL(b.appends, a.appends); /* SKIP_WAL: not logged */
  struct region_row rr;
  CU_ASSERT_FATAL(get_row(r, "r2", 1, &rr) == 0);
  CU_ASSERT_EQUAL(rr.n, 1); /* but applied */
  region_row_free(&rr);
  CU_ASSERT(region_close(r, true) == 0);

  o.durability = (enum wal_durability)9;
  d.name = "dur0003";
  CU_ASSERT_EQUAL(region_open(fs, ROOT, w, &d, cache, &o, &r), DFS_EINVAL);
  CU_ASSERT(wal_close(w) == 0);
}

/* ---- 4c. flush pacing ------------------------------------------------------ */

/* n puts of 1 KiB values (WAL_SKIP: only the MemStore matters here). */
static void fill(struct region *r, const char *prefix, int n) {
  char val[1024];
  memset(val, 'v', sizeof val - 1);
  val[sizeof val - 1] = 0;
  for (int i = 0; i < n; i++) {
    char row[32];
    snprintf(row, sizeof row, "%s%06d", prefix, i);
    struct cell c = mk(row, "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, val);
    CU_ASSERT_FATAL(region_mutate_row(r, (const uint8_t *)row, (uint32_t)strlen(row), &c, 1,
                                      WAL_SKIP) == 0);
  }
}

/* A flush writes at the pace the MemStores' pressure allows: 3 MiB at a
 * flat 2 MiB/s takes about 1.5 s; the flush of region_close, and any flush
 * once the MemStores reach half their blocking size, go at full speed. */
static void test_flush_pacing(void) {
  struct region_opts o;
  region_opts_init(&o);
  o.no_flusher = true;
  o.flush_size = 1 << 20;
  o.block_multiplier = 16; /* blocking at 16 MiB: pressure 1 at 8 MiB */
  o.flush_lower_bps = o.flush_upper_bps = 2 << 20;
  struct region_desc d = {.table = "pace", .name = "pace0001", .families = conc_fams,
                          .n_families = 1};
  struct region *r;
  CU_ASSERT_FATAL(region_open(fs, ROOT, NULL, &d, cache, &o, &r) == 0);
  fill(r, "a", 3000);
  double t0 = now_s();
  CU_ASSERT(region_flush(r) == 0);
  double paced = now_s() - t0;
  struct region_stats st;
  region_get_stats(r, &st);
  printf("  paced flush of 3,000 KiB cells at 2 MiB/s: %.2f s, %llu ms of it pacing\n", paced,
         (unsigned long long)st.flush_pace_ms);
  CU_ASSERT(paced >= 1.2);
  CU_ASSERT(st.flush_pace_ms >= 1000);

  /* Past half the blocking size (9,000 KiB of cells > 8 MiB): no pacing. */
  fill(r, "b", 9000);
  t0 = now_s();
  CU_ASSERT(region_flush(r) == 0);
  double pressed = now_s() - t0;
  struct region_stats st2;
  region_get_stats(r, &st2);
  printf("  flush of 9,000 KiB past half the blocking size: %.2f s, %llu ms pacing\n", pressed,
         (unsigned long long)(st2.flush_pace_ms - st.flush_pace_ms));
  CU_ASSERT(st2.flush_pace_ms - st.flush_pace_ms < 100);
  CU_ASSERT(pressed < 3.0); /* paced it would take 4.4 s */

  /* region_close's flush: full speed. */
  fill(r, "c", 3000);
  t0 = now_s();
  CU_ASSERT(region_close(r, true) == 0);
  double closing = now_s() - t0;
  printf("  region_close flushing 3,000 KiB: %.2f s\n", closing);
  CU_ASSERT(closing < 1.0);

  /* Everything is in the store files. */
  o.flush_lower_bps = 0;
  CU_ASSERT_FATAL(region_open(fs, ROOT, NULL, &d, cache, &o, &r) == 0);
  struct region_row rr;
  static const char *rows[] = {"a002999", "b008999", "c002999"};
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_FATAL(get_row(r, rows[i], 1, &rr) == 0);
    CU_ASSERT_EQUAL(rr.n, 1);
    region_row_free(&rr);
  }
  CU_ASSERT(region_close(r, false) == 0);
}

/* ---- 5. the WAL fails: the region stops serving, reopening recovers -------- */

static void test_wal_failure(void) {
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-walfail", NULL, &w) == 0);
  struct region_desc d = {.table = "wf", .name = "wf0001", .families = conc_fams,
                          .n_families = 1};
  struct region *r;
  CU_ASSERT_FATAL(region_open(fs, ROOT, w, &d, cache, NULL, &r) == 0);
  enum { ACKED = 50 };
  for (int i = 0; i < ACKED; i++) {
    char row[16];
    snprintf(row, sizeof row, "w%03d", i);
    struct cell c = mk(row, "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, row);
    CU_ASSERT_FATAL(region_mutate_row(r, (const uint8_t *)row, 4, &c, 1, WAL_SYNC) == 0);
  }
  /* Every DataNode dies: the WAL can neither write nor roll. */
  for (int i = 0; i < 3; i++) CU_ASSERT(mc_kill_dn(mc, i, SIGKILL) == 0);
  struct cell c = mk("w999", "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, "lost?");
  double t0 = now_s();
  int rc = region_mutate_row(r, (const uint8_t *)"w999", 4, &c, 1, WAL_SYNC);
  printf("\n  WAL failure: the write failed after %.1f s: %s\n", now_s() - t0, dfs_err_msg());
  CU_ASSERT(rc < 0);
  /* Not acknowledged, maybe in the MemStore: no read, write or flush may
   * serve or persist it now. */
  struct region_row rr;
  rc = get_row(r, "w001", 1, &rr);
  CU_ASSERT(rc < 0 && strstr(dfs_err_msg(), "WAL failed") != NULL);
  if (rc == 0) region_row_free(&rr);
  CU_ASSERT(region_mutate_row(r, (const uint8_t *)"w998", 4, &c, 1, WAL_SYNC) < 0);
  CU_ASSERT(region_flush(r) < 0);
  CU_ASSERT(region_close(r, true) < 0); /* closed anyway, without a flush */
  char dir[256];
  snprintf(dir, sizeof dir, "%s", wal_dir(w));
  wal_close(w); /* fails: the WAL is broken */
  /* The DataNodes come back; the region is opened again from the WAL. */
  for (int i = 0; i < 3; i++) CU_ASSERT_FATAL(mc_restart_dn(mc, i) == 0);
  CU_ASSERT_FATAL(mc_wait_live(mc, 3, 30000) == 0);
  char **paths = NULL;
  size_t np = 0;
  CU_ASSERT_FATAL(wal_list(fs, dir, &paths, &np) == 0);
  for (size_t i = 0; i < np; i++) CU_ASSERT(wal_recover_file(fs, paths[i], 60000) == 0);
  struct region_opts o;
  region_opts_init(&o);
  o.replay_wals = (const char *const *)paths;
  o.n_replay_wals = np;
  CU_ASSERT_FATAL(wal_open(fs, ROOT, "rs-walfail2", NULL, &w) == 0);
  rc = region_open(fs, ROOT, w, &d, cache, &o, &r);
  if (rc) fprintf(stderr, "region_open after the WAL failure: %s\n", dfs_err_msg());
  CU_ASSERT_FATAL(rc == 0);
  int missing = 0;
  for (int i = 0; i < ACKED; i++) {
    char row[16];
    snprintf(row, sizeof row, "w%03d", i);
    if (get_row(r, row, 1, &rr) != 0 || rr.n != 1 || rr.cells[0]->value_len != 4 ||
        memcmp(rr.cells[0]->value, row, 4) != 0)
      missing++;
    else
      region_row_free(&rr);
  }
  printf("  WAL failure: %zu WAL file(s) replayed, %d of %d acknowledged rows missing\n", np,
         missing, ACKED);
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT(region_close(r, false) == 0);
  CU_ASSERT(wal_close(w) == 0);
  wal_paths_free(paths, np);
}

int main(void) {
  if (mc_start(NULL, &mc) != 0) return 1;
  if (mc_connect(mc, NULL, &fs) != 0 || block_cache_new(64 << 20, 0, &cache) != 0) {
    mc_stop(mc);
    return 1;
  }
  static const struct mc_test tests[] = {
      {"checkAndPut, checkAndDelete, append, refused mutations", test_check_and_put},
      {"the table's durability: FSYNC_WAL hsyncs, SKIP_WAL logs nothing", test_table_durability},
      {"concurrent writers and scanners: no torn rows; 8 x 1000 increments", test_concurrent},
      {"flush pacing: paced by pressure, full speed past half the blocking size and at close",
       test_flush_pacing},
      {"kill -9 of the hosting process: WAL replay, every acknowledged write once", test_kill9},
      {"bulk load, 3 families, every delete type, flushes + compactions, get and scan vs model",
       test_bulk},
      {"the WAL fails (every DataNode dies): the region stops serving; reopened, every "
       "acknowledged write is back", test_wal_failure},
      {NULL, NULL}};
  struct mc_test pick[16];
  size_t np = 0;
  const char *only = getenv("REGION_TEST");
  for (size_t i = 0; tests[i].name; i++)
    if (!only || strstr(tests[i].name, only)) pick[np++] = tests[i];
  pick[np] = (struct mc_test){NULL, NULL};
  int rc = mc_run_tests("region", pick);
  dfs_disconnect(fs);
  block_cache_free(cache);
  mc_stop(mc);
  return rc;
}
