/*
 * test_wal.c - the WAL on a real mini-cluster (NameNode + 3 DataNodes):
 * group commit with 8 threads (every entry back exactly once, in sequence
 * order; far fewer hflushes than appends; appends/s printed), rolling by
 * size, by age and on request with files read back in order, archiving of
 * fully flushed files, kill -9 of a writer process after acknowledged
 * syncs (lease recovery, then every acknowledged entry is there, none
 * twice), and a flipped byte reported with path and offset.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "kill_child.h"
#include "minicluster.h"
#include "wal.h"

static struct minicluster *mc;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds until the WAL reports txid as its synced txid (exactly: nothing
 * else was appended), polling for at most limit_s; -1 if it never did. */
static double written_within(wal *w, uint64_t txid, double limit_s) {
  double t0 = now_s();
  struct wal_stats st;
  do {
    wal_get_stats(w, &st);
    if (st.synced_txid >= txid) break;
    usleep(10000);
  } while (now_s() < t0 + limit_s);
  return st.synced_txid == txid ? now_s() - t0 : -1;
}

/* Sequence ids handed out under the WAL's append lock: file order. */
static uint64_t next_seq(void *arg) { return ++*(uint64_t *)arg; }

/* An entry of one Put: row "r-<a>-<b>", value "v-<a>-<b>" padded to vlen. */
struct one {
  char row[48], val[256];
  struct cell c;
  struct wal_entry e;
};

static void make_one(struct one *o, const char *region, unsigned a, unsigned b, size_t vlen,
                     uint64_t *seq_counter) {
  memset(o, 0, sizeof *o);
  snprintf(o->row, sizeof o->row, "r-%u-%u", a, b);
  int n = snprintf(o->val, sizeof o->val, "v-%u-%u-", a, b);
  for (size_t i = (size_t)n; i < vlen && i < sizeof o->val; i++) o->val[i] = (char)('a' + i % 26);
  o->c = (struct cell){.row = (const uint8_t *)o->row,
                       .row_len = (uint32_t)strlen(o->row),
                       .family = (const uint8_t *)"cf",
                       .family_len = 2,
                       .qualifier = (const uint8_t *)"q",
                       .qualifier_len = 1,
                       .value = (const uint8_t *)o->val,
                       .value_len = (uint32_t)(vlen > (size_t)n ? vlen : (size_t)n),
                       .timestamp = 1700000000000,
                       .type = CELL_PUT};
  o->e = (struct wal_entry){.region = (const uint8_t *)region,
                            .region_len = (uint32_t)strlen(region),
                            .table = (const uint8_t *)"usertable",
                            .table_len = 9,
                            .durability = WAL_SYNC,
                            .cells = &o->c,
                            .n_cells = 1,
                            .assign_seq = seq_counter ? next_seq : NULL,
                            .assign_arg = seq_counter};
}

/* Parses "r-<a>-<b>" and checks the value belongs to it. */
static bool parse_entry(const struct wal_entry *e, unsigned *a, unsigned *b) {
  if (e->n_cells != 1) return false;
  char row[48];
  const struct cell *c = &e->cells[0];
  if (c->row_len >= sizeof row) return false;
  memcpy(row, c->row, c->row_len);
  row[c->row_len] = 0;
  if (sscanf(row, "r-%u-%u", a, b) != 2) return false;
  char want[64];
  int n = snprintf(want, sizeof want, "v-%u-%u-", *a, *b);
  return c->value_len >= (uint32_t)n && memcmp(c->value, want, (size_t)n) == 0 &&
         c->seq_id == e->seq_id;
}

typedef void (*entry_fn)(const struct wal_entry *e, void *arg);

/* Reads every file of dir in order; returns entries read, -1 on an error.
 * Torn tails are allowed only in the last file (if allow_torn). */
static long read_dir(dfs_fs *fs, const char *dir, bool recover, bool allow_torn, entry_fn fn,
                     void *arg, size_t *nfiles) {
  char **paths;
  size_t n;
  if (wal_list(fs, dir, &paths, &n) != 0) {
    fprintf(stderr, "wal_list %s: %s\n", dir, dfs_error_message());
    return -1;
  }
  if (nfiles) *nfiles = n;
  long total = 0;
  for (size_t i = 0; i < n && total >= 0; i++) {
    if (recover && wal_recover_file(fs, paths[i], 30000) != 0) {
      fprintf(stderr, "recover %s: %s\n", paths[i], dfs_error_message());
      total = -1;
      break;
    }
    wal_reader *r;
    if (wal_reader_open(fs, paths[i], &r) != 0) {
      fprintf(stderr, "open %s: %s\n", paths[i], dfs_error_message());
      total = -1;
      break;
    }
    struct wal_entry e;
    int rc;
    while ((rc = wal_reader_next(r, &e)) == 1) {
      fn(&e, arg);
      total++;
    }
    if (rc < 0) {
      fprintf(stderr, "read %s: %s\n", paths[i], dfs_error_message());
      total = -1;
    } else if (wal_reader_torn_bytes(r) && !(allow_torn && i + 1 == n)) {
      fprintf(stderr, "%s: unexpected torn tail at %" PRIu64 "\n", paths[i], wal_reader_offset(r));
      total = -1;
    }
    wal_reader_close(r);
  }
  wal_paths_free(paths, n);
  return total;
}

/* ---- group commit ----------------------------------------------------- */

enum { GC_THREADS = 8, GC_PER_THREAD = 10000 };

struct gc_ctx {
  wal *w;
  uint64_t *seq;
  unsigned t;
  unsigned n;     /* appends; 0: GC_PER_THREAD */
  bool some_hsync; /* every 4th sync an hsync */
  int errors;
};

static void *gc_writer(void *arg) {
  struct gc_ctx *c = arg;
  char region[16];
  snprintf(region, sizeof region, "region-%u", c->t % 3);
  unsigned n = c->n ? c->n : GC_PER_THREAD;
  for (unsigned i = 0; i < n; i++) {
    struct one o;
    make_one(&o, region, c->t, i, 100, c->seq);
    uint64_t txid;
    enum wal_durability d = c->some_hsync && i % 4 == 3 ? WAL_FSYNC : WAL_USE_DEFAULT;
    if (wal_append(c->w, &o.e, &txid) != 0 || wal_sync(c->w, txid, d) != 0) {
      if (c->errors++ == 0) fprintf(stderr, "writer %u: %s\n", c->t, dfs_error_message());
    }
  }
  return NULL;
}

struct gc_check {
  uint8_t *seen; /* [t * GC_PER_THREAD + i] */
  uint64_t last_seq, bad_order, dup, bad;
};

static void gc_entry(const struct wal_entry *e, void *arg) {
  struct gc_check *k = arg;
  unsigned a, b;
  if (!parse_entry(e, &a, &b) || a >= GC_THREADS || b >= GC_PER_THREAD) {
    k->bad++;
    return;
  }
  if (e->seq_id != k->last_seq + 1) k->bad_order++;
  k->last_seq = e->seq_id;
  if (k->seen[a * GC_PER_THREAD + b]++) k->dup++;
}

static void test_group_commit(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, "/hbase", "rs1,16020,1", NULL, &w) == 0);
  uint64_t seq = 0;
  pthread_t th[GC_THREADS];
  struct gc_ctx ctx[GC_THREADS];
  double t0 = now_s();
  for (unsigned t = 0; t < GC_THREADS; t++) {
    ctx[t] = (struct gc_ctx){.w = w, .seq = &seq, .t = t};
    CU_ASSERT_FATAL(pthread_create(&th[t], NULL, gc_writer, &ctx[t]) == 0);
  }
  int errors = 0;
  for (unsigned t = 0; t < GC_THREADS; t++) {
    pthread_join(th[t], NULL);
    errors += ctx[t].errors;
  }
  double secs = now_s() - t0;
  CU_ASSERT_EQUAL(errors, 0);
  struct wal_stats st;
  wal_get_stats(w, &st);
  uint64_t total = (uint64_t)GC_THREADS * GC_PER_THREAD;
  printf("\n  wal group commit: %d threads x %d appends+sync (SYNC_WAL, hflush to 3 DataNodes): "
         "%.2f s, %.0f appends/s; %" PRIu64 " hflushes (%.1f appends each, largest batch %" PRIu64
         "), %" PRIu64 " rolls\n",
         GC_THREADS, GC_PER_THREAD, secs, (double)total / secs, st.syncs,
         st.syncs ? (double)st.appends / (double)st.syncs : 0.0, st.max_batch, st.rolls);
  CU_ASSERT_EQUAL(st.appends, total);
  CU_ASSERT_EQUAL(st.synced_txid, total);
  CU_ASSERT(st.syncs > 0);
  CU_ASSERT(st.syncs * 2 < st.appends); /* writers share hflushes */
  CU_ASSERT(st.rolls >= 2);             /* ~10 MB through 0.95 MiB files */
  CU_ASSERT_EQUAL(wal_close(w), 0);

  struct gc_check k = {.seen = calloc(total, 1)};
  size_t nfiles = 0;
  long n = read_dir(fs, "/hbase/WALs/rs1,16020,1", false, false, gc_entry, &k, &nfiles);
  CU_ASSERT_EQUAL(n, (long)total);
  CU_ASSERT_EQUAL(k.bad, 0);
  CU_ASSERT_EQUAL(k.bad_order, 0); /* txid order = sequence order, across files */
  CU_ASSERT_EQUAL(k.dup, 0);
  CU_ASSERT_EQUAL(k.last_seq, total);
  size_t missing = 0;
  for (uint64_t i = 0; i < total; i++) missing += !k.seen[i];
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT(nfiles >= 3);
  free(k.seen);
  dfs_disconnect(fs);
}

static size_t count_files(dfs_fs *fs, const char *dir) {
  char **p;
  size_t n = 0;
  if (wal_list(fs, dir, &p, &n) == 0) wal_paths_free(p, n);
  return n;
}

/* ---- rolling ------------------------------------------------------------ */

struct order_check {
  uint64_t last_seq, count, bad;
};
static void order_entry(const struct wal_entry *e, void *arg) {
  struct order_check *k = arg;
  if (e->seq_id != k->last_seq + 1) k->bad++;
  k->last_seq = e->seq_id;
  k->count++;
}

static void test_roll(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  struct wal_opts o = {.roll_size = 64 * 1024};
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-roll", "rs2", &o, &w) == 0);
  uint64_t seq = 0, txid = 0;
  for (unsigned i = 0; i < 3000; i++) {
    struct one o1;
    make_one(&o1, "regionA", 0, i, 200, &seq);
    CU_ASSERT_FATAL(wal_append(w, &o1.e, &txid) == 0);
    if (i % 50 == 49) CU_ASSERT_FATAL(wal_sync(w, txid, WAL_SYNC) == 0);
    if (i == 1500) CU_ASSERT_EQUAL(wal_roll(w), 0); /* on request, mid-stream */
  }
  struct one last;
  make_one(&last, "regionA", 0, 3000, 200, &seq);
  CU_ASSERT_FATAL(wal_append(w, &last.e, &txid) == 0);
  CU_ASSERT_EQUAL(wal_sync(w, txid, WAL_FSYNC), 0); /* an hsync */
  struct wal_stats st;
  wal_get_stats(w, &st);
  /* 3000 x ~260 bytes through 64 KiB files: 12 size rolls if every next
   * file were ready in time; a size roll waits (writing on) until the
   * roller has created it, so files may overshoot, up to twice the size. */
  CU_ASSERT(st.rolls >= 5);
  if (st.rolls < 5) fprintf(stderr, "%" PRIu64 " rolls\n", st.rolls);
  CU_ASSERT(st.hsyncs >= 1);
  CU_ASSERT_EQUAL(st.live_files, st.rolls + 1);
  CU_ASSERT_EQUAL(wal_close(w), 0);
  struct order_check k = {0};
  size_t nfiles = 0;
  long n = read_dir(fs, "/hbase-roll/WALs/rs2", false, false, order_entry, &k, &nfiles);
  CU_ASSERT_EQUAL(n, 3001);
  CU_ASSERT_EQUAL(k.bad, 0);
  CU_ASSERT_EQUAL(k.last_seq, 3001);
  /* a file left empty by the last roll is archived at close (no regions) */
  size_t nold = count_files(fs, "/hbase-roll/oldWALs");
  CU_ASSERT(nold <= 1);
  CU_ASSERT_EQUAL(nfiles + nold, st.rolls + 1);
  if (nfiles + nold != st.rolls + 1)
    fprintf(stderr, "%zu files, %" PRIu64 " rolls\n", nfiles, st.rolls);

  /* by age: a file with entries older than the period is rolled by itself */
  struct wal_opts oa = {.roll_period_ms = 300, .async_flush_ms = 200};
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-roll", "rs3", &oa, &w) == 0);
  struct one o1;
  seq = 0;
  make_one(&o1, "regionA", 0, 0, 10, &seq);
  CU_ASSERT_FATAL(wal_append(w, &o1.e, &txid) == 0);
  CU_ASSERT_FATAL(wal_sync(w, txid, WAL_SYNC) == 0);
  double deadline = now_s() + 10;
  do {
    wal_get_stats(w, &st);
    if (st.rolls >= 1) break;
    usleep(20000);
  } while (now_s() < deadline);
  CU_ASSERT_EQUAL(st.rolls, 1);
  /* an empty file is not rolled for age: still one roll a while later */
  usleep(700000);
  wal_get_stats(w, &st);
  CU_ASSERT_EQUAL(st.rolls, 1);
  /* ASYNC_WAL: not waited for, written within async_flush_ms anyway */
  make_one(&o1, "regionA", 0, 1, 10, &seq);
  o1.e.durability = WAL_ASYNC;
  CU_ASSERT_FATAL(wal_append(w, &o1.e, &txid) == 0);
  CU_ASSERT_EQUAL(wal_sync(w, txid, WAL_ASYNC), 0);
  CU_ASSERT(written_within(w, txid, 10) >= 0);
  CU_ASSERT_EQUAL(wal_close(w), 0);

  /* The same with the default roll period (an hour): the syncer sleeps
   * until then unless the ASYNC append wakes it, which it must (appends of
   * SYNC edits do not: their writer's wal_sync does). */
  struct wal_opts ol = {.async_flush_ms = 200};
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-roll", "rs4", &ol, &w) == 0);
  usleep(300000); /* the syncer is asleep by now */
  make_one(&o1, "regionA", 0, 2, 10, &seq);
  o1.e.durability = WAL_ASYNC;
  CU_ASSERT_FATAL(wal_append(w, &o1.e, &txid) == 0);
  double took = written_within(w, txid, 10);
  CU_ASSERT(took >= 0 && took < 3.0);
  /* Also behind a SYNC edit whose writer has not synced (yet): the batch
   * it started does not hide the ASYNC edit from the syncer. */
  usleep(300000);
  make_one(&o1, "regionA", 0, 3, 10, &seq);
  o1.e.durability = WAL_SYNC;
  CU_ASSERT_FATAL(wal_append(w, &o1.e, &txid) == 0);
  make_one(&o1, "regionA", 0, 4, 10, &seq);
  o1.e.durability = WAL_ASYNC;
  CU_ASSERT_FATAL(wal_append(w, &o1.e, &txid) == 0);
  took = written_within(w, txid, 10);
  CU_ASSERT(took >= 0 && took < 3.0);
  CU_ASSERT_EQUAL(wal_close(w), 0);
  dfs_disconnect(fs);
}


/* Size rolls retire the old file on the roller thread while writers go
 * on; hsync batches in between must wait for that file's hsync without
 * disturbing the batch order: 4 writers, every 4th sync an hsync, 64 KiB
 * files; every entry once, in sequence order across the files. */
static void test_roll_with_hsyncs(void) {
  enum { T = 4, N = 1500 };
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  struct wal_opts o = {.roll_size = 64 * 1024};
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-rollhs", "rs4", &o, &w) == 0);
  uint64_t seq = 0;
  pthread_t th[T];
  struct gc_ctx ctx[T];
  for (unsigned t = 0; t < T; t++) {
    ctx[t] = (struct gc_ctx){.w = w, .seq = &seq, .t = t, .n = N, .some_hsync = true};
    CU_ASSERT_FATAL(pthread_create(&th[t], NULL, gc_writer, &ctx[t]) == 0);
  }
  int errors = 0;
  for (unsigned t = 0; t < T; t++) {
    pthread_join(th[t], NULL);
    errors += ctx[t].errors;
  }
  CU_ASSERT_EQUAL(errors, 0);
  struct wal_stats st;
  wal_get_stats(w, &st);
  CU_ASSERT(st.rolls >= 4);
  CU_ASSERT(st.hsyncs >= 50);
  CU_ASSERT_EQUAL(st.synced_txid, (uint64_t)T * N);
  CU_ASSERT_EQUAL(wal_close(w), 0);
  struct gc_check k = {.seen = calloc((size_t)GC_THREADS * GC_PER_THREAD, 1)};
  long n = read_dir(fs, "/hbase-rollhs/WALs/rs4", false, false, gc_entry, &k, NULL);
  CU_ASSERT_EQUAL(n, (long)T * N);
  CU_ASSERT_EQUAL(k.bad, 0);
  CU_ASSERT_EQUAL(k.bad_order, 0);
  CU_ASSERT_EQUAL(k.dup, 0);
  CU_ASSERT_EQUAL(k.last_seq, (uint64_t)T * N);
  if (k.bad_order || k.last_seq != (uint64_t)T * N)
    fprintf(stderr, "%" PRIu64 " out of order, last seq %" PRIu64 ", %" PRIu64 " rolls\n",
            k.bad_order, k.last_seq, st.rolls);
  free(k.seen);
  dfs_disconnect(fs);
}

/* ---- archiving ------------------------------------------------------------ */

static void append_range(wal *w, const char *region, uint64_t from, uint64_t to) {
  uint64_t txid = 0;
  for (uint64_t s = from; s <= to; s++) {
    struct one o;
    make_one(&o, region, 1, (unsigned)s, 20, NULL);
    o.e.seq_id = s;
    CU_ASSERT_FATAL(wal_append(w, &o.e, &txid) == 0);
  }
  CU_ASSERT_FATAL(wal_sync(w, txid, WAL_SYNC) == 0);
}

static void test_archive(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-ar", "rs4", NULL, &w) == 0);
  const char *live = "/hbase-ar/WALs/rs4", *old = "/hbase-ar/oldWALs";
  const uint8_t *A = (const uint8_t *)"regionA", *B = (const uint8_t *)"regionB";
  append_range(w, "regionA", 1, 10);
  append_range(w, "regionB", 1, 5);
  char file1[1024];
  wal_current_path(w, file1, sizeof file1);
  CU_ASSERT_EQUAL(wal_roll(w), 0);
  append_range(w, "regionA", 11, 20);
  CU_ASSERT_EQUAL(wal_roll(w), 0);
  CU_ASSERT_EQUAL(count_files(fs, live), 3);
  CU_ASSERT_EQUAL(count_files(fs, old), 0);

  CU_ASSERT_EQUAL(wal_region_flushed(w, A, 7, 10), 0); /* B still holds file 1 */
  CU_ASSERT_EQUAL(count_files(fs, old), 0);
  CU_ASSERT_EQUAL(wal_region_flushed(w, B, 7, 4), 0); /* not past B's 5 */
  CU_ASSERT_EQUAL(count_files(fs, old), 0);
  CU_ASSERT_EQUAL(wal_region_flushed(w, B, 7, 5), 0); /* file 1 done */
  CU_ASSERT_EQUAL(count_files(fs, old), 1);
  CU_ASSERT_EQUAL(count_files(fs, live), 2);
  char moved[1200];
  snprintf(moved, sizeof moved, "%s/%s", old, strrchr(file1, '/') + 1);
  struct dfs_stat sst;
  CU_ASSERT_EQUAL(dfs_stat(fs, moved, &sst), 0);
  dfs_stat_clear(&sst);
  CU_ASSERT_EQUAL(wal_region_flushed(w, A, 7, 19), 0);
  CU_ASSERT_EQUAL(count_files(fs, old), 1);
  CU_ASSERT_EQUAL(wal_region_flushed(w, A, 7, 20), 0); /* file 2 done */
  CU_ASSERT_EQUAL(count_files(fs, old), 2);
  CU_ASSERT_EQUAL(count_files(fs, live), 1); /* the current file stays */
  struct wal_stats st;
  wal_get_stats(w, &st);
  CU_ASSERT_EQUAL(st.archived, 2);
  CU_ASSERT_EQUAL(st.live_files, 1);

  /* edits after the flush keep the current file when the WAL closes */
  append_range(w, "regionB", 6, 6);
  CU_ASSERT_EQUAL(wal_close(w), 0);
  CU_ASSERT_EQUAL(count_files(fs, live), 1);
  /* the archived files are intact WALs, in order */
  struct order_check k = {.last_seq = 0};
  long n = read_dir(fs, old, false, false, order_entry, &k, NULL);
  CU_ASSERT_EQUAL(n, 25); /* A 1..10, B 1..5, A 11..20 */
  dfs_disconnect(fs);
}

/* ---- kill -9 of the writer ------------------------------------------------ */

enum { KILL_THREADS = 4, KILL_AFTER = 3000 };
static const char *KILL_ROOT = "/hbase-kill", *KILL_DIR = "/hbase-kill/WALs/rs-dead";

struct kill_ctx {
  wal *w;
  uint64_t *seq;
  unsigned t;
  int fd;
};

static void *kill_writer(void *arg) {
  struct kill_ctx *c = arg;
  for (unsigned i = 0;; i++) {
    struct one o;
    make_one(&o, (c->t & 1) ? "regionA" : "regionB", c->t, i, 120, c->seq);
    uint64_t txid;
    if (wal_append(c->w, &o.e, &txid) != 0 || wal_sync(c->w, txid, WAL_SYNC) != 0) _exit(3);
    kc_ack(c->fd, o.e.seq_id); /* acknowledged: tell the parent */
  }
  return NULL;
}

/* The child (kc_child_fn). */
static void kill_child(int fd, void *arg) {
  (void)arg;
  dfs_fs *fs;
  if (mc_connect(mc, NULL, &fs) != 0) _exit(1);
  struct wal_opts o = {.roll_size = 128 * 1024};
  wal *w;
  if (wal_open(fs, KILL_ROOT, "rs-dead", &o, &w) != 0) _exit(2);
  uint64_t seq = 0;
  static struct kill_ctx ctx[KILL_THREADS];
  pthread_t th[KILL_THREADS];
  for (unsigned t = 0; t < KILL_THREADS; t++) {
    ctx[t] = (struct kill_ctx){.w = w, .seq = &seq, .t = t, .fd = fd};
    if (pthread_create(&th[t], NULL, kill_writer, &ctx[t]) != 0) _exit(5);
  }
  for (;;) pause();
}

struct kill_check {
  uint8_t *count; /* by sequence id */
  size_t max;
  uint64_t bad, dup;
};
static void kill_entry(const struct wal_entry *e, void *arg) {
  struct kill_check *k = arg;
  unsigned a, b;
  if (!parse_entry(e, &a, &b) || e->seq_id >= k->max) {
    k->bad++;
    return;
  }
  if (k->count[e->seq_id]++) k->dup++;
}

static void test_kill9(void) {
  struct kc_result kr;
  CU_ASSERT_FATAL(kc_run(kill_child, NULL, KILL_AFTER, 60, &kr) == 0);
  int status = kr.status;
  size_t nack = kr.n;
  uint64_t *acked = kr.ids;
  CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  if (!WIFSIGNALED(status)) fprintf(stderr, "writer child exited with %d\n", WEXITSTATUS(status));
  printf("\n  wal kill -9: %zu acknowledged entries before the kill\n", nack);
  CU_ASSERT(nack >= KILL_AFTER);

  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  struct kill_check k = {.max = 1u << 22};
  k.count = calloc(k.max, 1);
  double t0 = now_s();
  size_t nfiles = 0;
  long n = read_dir(fs, KILL_DIR, true, true, kill_entry, &k, &nfiles);
  printf("  wal kill -9: %zu files recovered and read in %.2f s, %ld entries\n", nfiles,
         now_s() - t0, n);
  CU_ASSERT(n >= (long)nack);
  CU_ASSERT(nfiles >= 2); /* it rolled before dying */
  CU_ASSERT_EQUAL(k.bad, 0);
  CU_ASSERT_EQUAL(k.dup, 0); /* none twice */
  size_t lost = 0;
  for (size_t i = 0; i < nack; i++)
    if (acked[i] >= k.max || k.count[acked[i]] != 1) lost++;
  CU_ASSERT_EQUAL(lost, 0); /* every acknowledged entry is there */
  if (lost) fprintf(stderr, "%zu acknowledged entries missing\n", lost);
  free(k.count);
  free(acked);
  dfs_disconnect(fs);
}

/* ---- a flipped byte ------------------------------------------------------------ */

static void test_corrupt_record(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-bad", "rs5", NULL, &w) == 0);
  char path[1024];
  wal_current_path(w, path, sizeof path);
  uint64_t seq = 0, txid = 0;
  for (unsigned i = 0; i < 200; i++) {
    struct one o;
    make_one(&o, "regionA", 0, i, 50, &seq);
    CU_ASSERT_FATAL(wal_append(w, &o.e, &txid) == 0);
  }
  CU_ASSERT_EQUAL(wal_sync(w, txid, WAL_SYNC), 0);
  CU_ASSERT_EQUAL(wal_close(w), 0);

  /* the record offsets, from a clean read */
  uint64_t off[201];
  wal_reader *r;
  CU_ASSERT_FATAL(wal_reader_open(fs, path, &r) == 0);
  struct wal_entry e;
  int k = 0;
  off[0] = WAL_HEADER_LEN;
  while (wal_reader_next(r, &e) == 1 && k < 200) off[++k] = wal_reader_offset(r);
  CU_ASSERT_EQUAL(k, 200);
  wal_reader_close(r);

  /* the whole file, one byte flipped in record 120's cells, as a new file */
  struct dfs_stat st;
  CU_ASSERT_FATAL(dfs_stat(fs, path, &st) == 0);
  size_t len = st.length;
  dfs_stat_clear(&st);
  CU_ASSERT_EQUAL(len, off[200]);
  uint8_t *img = malloc(len);
  dfs_file *f;
  CU_ASSERT_FATAL(dfs_open(fs, path, &f) == 0);
  size_t got = 0;
  while (got < len) {
    ssize_t n = dfs_pread(f, got, img + got, len - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  CU_ASSERT_EQUAL_FATAL(got, len);
  dfs_close(f);
  img[off[120] + 40] ^= 0x20;
  const char *bad = "/hbase-bad/WALs/rs5/rs5.1.999";
  CU_ASSERT_FATAL(dfs_create(fs, bad, NULL, &f) == 0);
  CU_ASSERT_EQUAL(dfs_write(f, img, len), (ssize_t)len);
  CU_ASSERT_EQUAL(dfs_close(f), 0);

  CU_ASSERT_FATAL(wal_reader_open(fs, bad, &r) == 0);
  int rc;
  k = 0;
  while ((rc = wal_reader_next(r, &e)) == 1) k++;
  CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
  CU_ASSERT_EQUAL(k, 120);
  char want[64];
  snprintf(want, sizeof want, "offset %" PRIu64, off[120]);
  printf("\n  wal corruption reported as: %s\n", dfs_error_message());
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), bad));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), want));
  CU_ASSERT_EQUAL(wal_reader_offset(r), off[120]);
  /* the caller may skip the damaged record and go on */
  CU_ASSERT_EQUAL(wal_reader_skip(r), 0);
  int rest = 0;
  while ((rc = wal_reader_next(r, &e)) == 1) rest++;
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(rest, 79);
  wal_reader_close(r);
  free(img);
  dfs_disconnect(fs);
}

/* ---- a pipeline the DFS client cannot recover ------------------------------ */

struct cover_check {
  uint8_t count[512];
  uint64_t bad;
};
static void cover_entry(const struct wal_entry *e, void *arg) {
  struct cover_check *k = arg;
  if (e->seq_id >= 512 || e->n_cells != 1) {
    k->bad++;
    return;
  }
  if (k->count[e->seq_id] < 255) k->count[e->seq_id]++;
}

/* Replication 1 and its only DataNode killed: the stream fails for good;
 * the WAL rolls to a new file (on another node) and the writers go on. */
static void test_error_roll(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  struct wal_opts o = {.replication = 1};
  wal *w;
  CU_ASSERT_FATAL(wal_open(fs, "/hbase-err", "rs6", &o, &w) == 0);
  append_range(w, "regionA", 1, 100);
  char path[1024];
  wal_current_path(w, path, sizeof path);
  struct dfs_block_loc *locs = NULL;
  size_t nl = 0;
  CU_ASSERT_FATAL(dfs_block_locations(fs, path, 0, 0, &locs, &nl) == 0);
  CU_ASSERT_FATAL(nl >= 1 && locs[nl - 1].n_replicas == 1);
  int victim = -1;
  for (int i = 0; i < 3; i++)
    if (strcmp(mc_dn_addr(mc, i), locs[nl - 1].replicas[0].addr) == 0) victim = i;
  dfs_block_locs_free(locs, nl);
  CU_ASSERT_FATAL(victim >= 0);
  CU_ASSERT_FATAL(mc_kill_dn(mc, victim, SIGKILL) == 0);

  append_range(w, "regionA", 101, 200); /* asserts every append and the sync */
  struct wal_stats st;
  wal_get_stats(w, &st);
  CU_ASSERT_EQUAL(st.error_rolls, 1);
  CU_ASSERT_EQUAL(st.synced_txid, 200);
  char now_path[1024];
  wal_current_path(w, now_path, sizeof now_path);
  CU_ASSERT(strcmp(now_path, path) != 0);
  CU_ASSERT_EQUAL(wal_close(w), 0);

  /* The failed file comes back with its node; fence it and read all. */
  CU_ASSERT_FATAL(mc_restart_dn(mc, victim) == 0);
  CU_ASSERT_FATAL(mc_wait_live(mc, 3, 30000) == 0);
  struct cover_check k;
  memset(&k, 0, sizeof k);
  long n = read_dir(fs, "/hbase-err/WALs/rs6", true, true, cover_entry, &k, NULL);
  CU_ASSERT(n >= 200);
  CU_ASSERT_EQUAL(k.bad, 0);
  size_t missing = 0, twice = 0;
  for (int s = 1; s <= 200; s++) {
    missing += k.count[s] == 0;
    twice += k.count[s] > 1;
  }
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT(twice <= 100); /* only the batch written again */
  printf("\n  wal error roll: %ld entries read, %zu present twice (the batch written again)\n",
         n, twice);
  dfs_disconnect(fs);
}

int main(void) {
  if (mc_start(NULL, &mc) != 0) return 1;
  static const struct mc_test tests[] = {
      {"group commit: 8 threads, every entry once, in order, shared hflushes", test_group_commit},
      {"roll by size, on request and by age; files read back in order", test_roll},
      {"size rolls with hsyncs in between: order kept across files", test_roll_with_hsyncs},
      {"archive files whose regions are all flushed", test_archive},
      {"kill -9 of the writer: every acknowledged entry after lease recovery", test_kill9},
      {"a flipped byte is reported with path and offset", test_corrupt_record},
      {"an unrecoverable pipeline: roll to a new file and go on", test_error_roll},
      {NULL, NULL}};
  /* WAL_TEST=<words>: only the tests whose name contains them (debugging). */
  struct mc_test pick[8];
  size_t np = 0;
  const char *only = getenv("WAL_TEST");
  for (size_t i = 0; tests[i].name; i++)
    if (!only || strstr(tests[i].name, only)) pick[np++] = tests[i];
  pick[np] = (struct mc_test){NULL, NULL};
  int rc = mc_run_tests("wal", pick);
  mc_stop(mc);
  return rc;
}
