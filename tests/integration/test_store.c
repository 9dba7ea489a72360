/*
 * test_store.c - stores (regionserver/store.h) on a real DFS mini-cluster
 * (3 DataNodes, 4 MiB DFS blocks): 200k cells over 6 flushes read back
 * exactly through a merge of the store's scanners; minor and major
 * compactions that keep the visible result identical, with the major one
 * dropping deleted, expired and excess-version cells and the markers;
 * readers scanning while a writer, a flusher and the background compactor
 * run, never missing or doubling a cell; reopen after close (same cells,
 * same max sequence id, .tmp garbage gone, inputs of a compaction that
 * "crashed" before deleting them dropped); corrupt store files reported
 * with their path.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block_cache.h"
#include "compactor.h"
#include "errors.h"
#include "merge_scanner.h"
#include "minicluster.h"
#include "store.h"
#include "store_file.h"
#include "store_scanner.h"

static struct minicluster *mc;
static dfs_fs *fs;
static struct block_cache *cache;

/* ---- helpers ---------------------------------------------------------------- */

struct gcell {
  struct cell c;
  uint8_t row[24], qual[16], val[80];
};

static void set_cell(struct gcell *g, const char *row, const char *fam, const char *q, int64_t ts,
                     uint8_t type, uint64_t seq, const char *val) {
  memset(&g->c, 0, sizeof g->c);
  g->c.row_len = (uint32_t)snprintf((char *)g->row, sizeof g->row, "%s", row);
  g->c.qualifier_len = (uint32_t)snprintf((char *)g->qual, sizeof g->qual, "%s", q);
  g->c.value_len = (uint32_t)snprintf((char *)g->val, sizeof g->val, "%s", val);
  g->c.row = g->row;
  g->c.family = (const uint8_t *)fam;
  g->c.family_len = (uint32_t)strlen(fam);
  g->c.qualifier = g->qual;
  g->c.value = g->val;
  g->c.timestamp = ts;
  g->c.type = type;
  g->c.seq_id = seq;
}

static bool same_cell(const struct cell *a, const struct cell *b) {
  return a && b && cell_compare(a, b) == 0 && a->value_len == b->value_len &&
         memcmp(a->value, b->value, a->value_len) == 0;
}

static int flush(struct store *s, struct store_flush_result *res) {
  int rc = store_flush_prepare(s, NULL);
  if (rc == 0) rc = store_flush_commit(s, 0, res);
  if (rc) fprintf(stderr, "flush: %s\n", dfs_err_msg());
  return rc;
}

static struct merge_scanner *open_merge(struct store *s, uint64_t read_point) {
  struct kv_scanner **v;
  size_t n;
  if (store_get_scanners(s, read_point, NULL, &v, &n) != 0) return NULL;
  struct merge_scanner *m;
  int rc = merge_scanner_open(v, n, false, &m);
  free(v);
  if (rc) return NULL;
  if (merge_scanner_start(m, NULL, 0) < 0) {
    merge_scanner_close(m);
    return NULL;
  }
  return m;
}

/* FNV-1a over the parts of a cell a reader sees. */
static uint64_t hash_cell(uint64_t h, const struct cell *c) {
  const uint8_t *parts[4] = {c->row, c->family, c->qualifier, c->value};
  uint32_t lens[4] = {c->row_len, c->family_len, c->qualifier_len, c->value_len};
  for (int p = 0; p < 4; p++) {
    for (uint32_t i = 0; i < lens[p]; i++) h = (h ^ parts[p][i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
  for (int i = 0; i < 8; i++) h = (h ^ (uint8_t)((uint64_t)c->timestamp >> (8 * i))) * 1099511628211ull;
  return (h ^ c->type) * 1099511628211ull;
}

/* What a user scan of the store returns (store_scanner in QM_USER mode):
 * count and hash of every visible cell. < 0 on a read error. */
static int visible(struct store *s, const struct family_opts *fam, int64_t now, uint64_t *count,
                   uint64_t *hash) {
  struct kv_scanner **v;
  size_t n;
  int rc = store_get_scanners(s, UINT64_MAX, NULL, &v, &n);
  if (rc) return rc;
  struct qm_config cfg = {.mode = QM_USER,
                          .max_versions = fam->max_versions,
                          .min_versions = fam->min_versions,
                          .oldest_ts = qm_oldest_ts(now, fam->ttl_ms),
                          .tr_min = INT64_MIN,
                          .tr_max = INT64_MAX,
                          .read_point = UINT64_MAX};
  struct store_scanner *ss;
  rc = store_scanner_open(v, n, &cfg, false, &ss);
  free(v);
  if (rc) return rc;
  struct row_buf rb = {0};
  uint8_t row[256];
  *count = 0;
  *hash = 1469598103934665603ull;
  rc = store_scanner_start(ss, NULL, 0);
  const struct cell *c;
  while (rc >= 0 && (c = store_scanner_peek(ss)) != NULL) {
    uint32_t len = c->row_len < sizeof row ? c->row_len : sizeof row;
    memcpy(row, c->row, len);
    row_buf_clear(&rb);
    rc = store_scanner_read_row(ss, row, len, &rb);
    for (size_t i = 0; rc >= 0 && i < rb.n; i++) {
      *hash = hash_cell(*hash, &rb.cells[i]);
      (*count)++;
    }
  }
  row_buf_free(&rb);
  store_scanner_close(ss);
  return rc < 0 ? rc : 0;
}

/* Every cell of the store's files (no MemStore, no rules): counts. */
struct raw_counts {
  uint64_t cells, markers, expired;
};
static int raw_files(struct store *s, int64_t oldest_ts, struct raw_counts *rc_out) {
  struct kv_scanner **v;
  size_t n;
  int rc = store_get_scanners(s, UINT64_MAX, NULL, &v, &n);
  if (rc) return rc;
  kv_scanner_close(v[0]); /* the MemStore's */
  struct merge_scanner *m;
  rc = merge_scanner_open(v + 1, n - 1, false, &m);
  free(v);
  if (rc) return rc;
  memset(rc_out, 0, sizeof *rc_out);
  rc = merge_scanner_start(m, NULL, 0);
  const struct cell *c;
  while (rc >= 0 && (c = merge_scanner_peek(m)) != NULL) {
    rc_out->cells++;
    rc_out->markers += cell_is_delete(c);
    rc_out->expired += c->timestamp < oldest_ts;
    rc = merge_scanner_next(m);
  }
  merge_scanner_close(m);
  return rc < 0 ? rc : 0;
}

/* Copies a DFS file, optionally flipping one byte at flip (UINT64_MAX: none). */
static int copy_file(const char *src, const char *dst, uint64_t flip) {
  struct dfs_stat st;
  int rc = dfs_stat(fs, src, &st);
  if (rc) return rc;
  uint64_t len = st.length;
  dfs_stat_clear(&st);
  uint8_t *buf = malloc(len ? len : 1);
  dfs_file *f;
  if (!buf || (rc = dfs_open(fs, src, &f)) != 0) {
    free(buf);
    return rc ? rc : DFS_ENOMEM;
  }
  ssize_t got = dfs_pread(f, 0, buf, len);
  dfs_close(f);
  if (got != (ssize_t)len) {
    free(buf);
    return DFS_EIO;
  }
  if (flip < len) buf[flip] ^= 0x5a;
  if ((rc = dfs_create(fs, dst, NULL, &f)) == 0) {
    if (dfs_write(f, buf, len) != (ssize_t)len) rc = DFS_EIO;
    int c = dfs_close(f);
    if (!rc) rc = c;
  }
  free(buf);
  return rc;
}

/* ---- 1. 200k cells through flushes ---------------------------------------------- */

#define BIG_N 200000u
#define BIG_Q 4u
static const char *BIG_REGION = "/hbase/data/default/t1/r1";
static uint64_t big_hash, big_count, big_max_seq;

/* Cell i: row i/4, qualifier i%4: keys increase with i, so the merged
 * order of the store is i's order whatever the insertion order. */
static void big_cell(uint32_t i, uint64_t seq, struct gcell *g) {
  char row[24], q[8], val[64];
  snprintf(row, sizeof row, "row%07u", i / BIG_Q);
  snprintf(q, sizeof q, "q%u", i % BIG_Q);
  snprintf(val, sizeof val, "value-%u-%.*s", i, (int)(i % 23), "abcdefghijklmnopqrstuvw");
  set_cell(g, row, "cf", q, 1000 + i % 7, CELL_PUT, seq, val);
}

/* A permutation of 0..BIG_N-1 (multiplying by an odd number modulo a power
 * of two is a bijection; keep the values below BIG_N). */
static uint32_t perm(uint32_t k) {
  uint32_t x = k;
  do x = (x * 2654435761u + 12345u) & ((1u << 18) - 1);
  while (x >= BIG_N);
  return x;
}

static void test_flush_and_scan(void) {
  struct store_opts o;
  store_opts_init(&o);
  o.family = "cf";
  o.fam.max_versions = 3;
  o.compression = HFILE_COMPRESSION_SNAPPY;
  o.block_size = 16 << 10;
  struct store *s;
  CU_ASSERT_FATAL(store_open(fs, BIG_REGION, &o, cache, &s) == 0);
  CU_ASSERT_EQUAL(store_max_seq_id(s), 0);
  /* Insert in a scrambled order; flush every 35k cells: 5 flushes, the
   * last 25k stay in the MemStore, then one more flush. */
  struct gcell g;
  uint32_t flushes = 0;
  for (uint32_t k = 0; k < BIG_N; k++) {
    uint32_t i = perm(k);
    big_cell(i, k + 1, &g);
    CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
    /* a duplicate (same key, same seq id) every 1000: the flush drops it
     * (the MemStore keeps both; only flushed ones are checked raw below) */
    if (k % 1000 == 0 && k < 175000) CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
    if ((k + 1) % 35000 == 0) {
      struct store_flush_result fr;
      CU_ASSERT_FATAL(flush(s, &fr) == 0);
      CU_ASSERT_EQUAL(fr.cells, 35000);
      CU_ASSERT_EQUAL(fr.max_seq_id, k + 1);
      CU_ASSERT_EQUAL(store_max_seq_id(s), k + 1);
      flushes++;
    }
  }
  CU_ASSERT_EQUAL(flushes, 5);
  struct store_stats st;
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 5);
  CU_ASSERT_EQUAL(st.flushes, 5);
  CU_ASSERT_EQUAL(st.file_cells, 5 * 35000);

  /* A full scan: memstore + 5 files, exactly cells 0..N-1 in order. */
  for (int pass = 0; pass < 2; pass++) {
    struct merge_scanner *m = open_merge(s, UINT64_MAX);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(merge_scanner_sources(m), pass == 0 ? 6 : 7);
    uint32_t i = 0, bad = 0;
    const struct cell *c;
    int rc = 0;
    while ((c = merge_scanner_peek(m)) != NULL) {
      big_cell(i, 0, &g);
      g.c.seq_id = c->seq_id;
      if (!same_cell(c, &g.c)) bad++;
      i++;
      if ((rc = merge_scanner_next(m)) < 0) break;
    }
    merge_scanner_close(m);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(i, BIG_N);
    CU_ASSERT_EQUAL(bad, 0);
    if (pass == 0) CU_ASSERT_FATAL(flush(s, NULL) == 0); /* the 6th file */
  }
  CU_ASSERT_EQUAL(store_max_seq_id(s), BIG_N);
  CU_ASSERT_EQUAL(memstore_heap_size(store_memstore(s)), 0);

  /* A get of one row skips the files whose bloom rules it out. */
  struct store_scan_hints h;
  store_scan_hints_init(&h);
  h.row = (const uint8_t *)"row0012345";
  h.row_len = 10;
  struct kv_scanner **v;
  size_t n;
  CU_ASSERT_FATAL(store_get_scanners(s, UINT64_MAX, &h, &v, &n) == 0);
  CU_ASSERT(n >= 2 && n <= 7); /* MemStore + the files with the row (all 6 most likely) */
  for (size_t k = 0; k < n; k++) kv_scanner_close(v[k]);
  free(v);
  h.row = (const uint8_t *)"zzz-not-there";
  h.row_len = 13;
  CU_ASSERT_FATAL(store_get_scanners(s, UINT64_MAX, &h, &v, &n) == 0);
  CU_ASSERT_EQUAL(n, 1); /* past every file's last key */
  for (size_t k = 0; k < n; k++) kv_scanner_close(v[k]);
  free(v);

  /* Compactions keep the visible result: a minor one (policy: 6 equal
   * files, max 10 -> all of them) and then a forced major one. */
  uint64_t c0, h0, c1, h1;
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c0, &h0) == 0);
  CU_ASSERT_EQUAL(c0, BIG_N);
  CU_ASSERT_TRUE(store_needs_compaction(s));
  struct store_compaction_result cr;
  CU_ASSERT_EQUAL(store_compact(s, NULL, &cr), 1);
  CU_ASSERT_EQUAL(cr.files_in, 6);
  CU_ASSERT_EQUAL(cr.cells_out, BIG_N);
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c1, &h1) == 0);
  CU_ASSERT_EQUAL(c1, c0);
  CU_ASSERT_EQUAL(h1, h0);
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 1);
  CU_ASSERT_EQUAL(st.compacted_pending, 0); /* inputs deleted: nobody read them */
  CU_ASSERT_EQUAL(store_max_seq_id(s), BIG_N);
  big_hash = h0;
  big_count = c0;
  big_max_seq = store_max_seq_id(s);
  /* the inputs are gone from the DFS */
  struct dfs_stat *ents;
  CU_ASSERT_FATAL(dfs_list(fs, store_dir(s), &ents, &n) == 0);
  CU_ASSERT_EQUAL(n, 1);
  dfs_stats_free(ents, n);
  store_close(s);
}

/* ---- 2. compaction semantics: versions, deletes, TTL ------------------------------ */

#define SEM_ROWS 2000
#define NOW_MS 10000000LL
#define TTL_MS 1000000LL
#define TS0 9500000LL /* unexpired: NOW - TTL = 9,000,000 */
static int64_t fake_now(void *arg) {
  (void)arg;
  return NOW_MS;
}

static void sem_row(char *buf, size_t cap, int r) { snprintf(buf, cap, "srow%05d", r); }

static void sem_val(char *buf, size_t cap, int r, int q, int64_t ts) {
  snprintf(buf, cap, "v-%d-%d-%lld", r, q, (long long)ts);
}

/* The model: visible cells of row r, in scan order (qualifier asc, ts desc). */
static uint64_t sem_expected(uint64_t h, uint64_t *count) {
  struct gcell g;
  for (int r = 0; r < SEM_ROWS; r++) {
    char row[24], val[64], q[8];
    sem_row(row, sizeof row, r);
    for (int qi = 0; qi < 3; qi++) {
      int64_t vis[2];
      int nv = 0;
      for (int64_t ts = TS0 + 3; ts >= TS0 && nv < 2; ts--) {
        int kind = r % 10;
        if (kind == 0 && qi == 0) continue;                 /* DeleteColumn q0 @TS0+3 */
        if (kind == 1 && ts <= TS0 + 2) continue;           /* DeleteFamily @TS0+2 */
        if (kind == 2 && qi == 1 && ts == TS0 + 3) continue; /* Delete q1 @TS0+3 */
        if (kind == 4 && ts == TS0 + 3) continue;           /* DeleteFamilyVersion @TS0+3 */
        vis[nv++] = ts;
      }
      snprintf(q, sizeof q, "q%d", qi);
      for (int k = 0; k < nv; k++) {
        sem_val(val, sizeof val, r, qi, vis[k]);
        set_cell(&g, row, "d", q, vis[k], CELL_PUT, 0, val);
        h = hash_cell(h, &g.c);
        (*count)++;
      }
    }
  }
  return h;
}

/* Cache on write: files from a flush and from a compaction are read back
 * without one block cache miss (without it, every data block misses); a
 * compaction whose inputs exceed a quarter of the cache is not cached. */
static void test_cache_on_write(void) {
  static const struct {
    const char *family;
    bool cow;
    uint64_t cache;
    bool compacted_cached;
  } cases[] = {{"cow0", false, 256u << 20, false},
               {"cow1", true, 256u << 20, true},
               {"cow2", true, 6u << 20, false}};
  for (size_t t = 0; t < 3; t++) {
    struct block_cache *c;
    CU_ASSERT_FATAL(block_cache_new(cases[t].cache, 1, &c) == 0);
    struct store_opts o;
    store_opts_init(&o);
    o.family = cases[t].family;
    o.block_size = 4 << 10;
    o.cache_on_write = cases[t].cow;
    struct store *s;
    CU_ASSERT_FATAL(store_open(fs, BIG_REGION, &o, c, &s) == 0);
    struct gcell g;
    for (uint32_t k = 0; k < 40000; k++) {
      big_cell(k, k + 1, &g);
      g.c.family = (const uint8_t *)o.family;
      g.c.family_len = 4;
      CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
      if (k == 19999) CU_ASSERT_FATAL(flush(s, NULL) == 0);
    }
    CU_ASSERT_FATAL(flush(s, NULL) == 0);
    for (int pass = 0; pass < 2; pass++) { /* two flushed files, then one compacted */
      if (pass == 1) {
        struct store_compact_opts co = {.major = true};
        struct store_compaction_result res;
        CU_ASSERT_FATAL(store_compact(s, &co, &res) == 1);
        if (t == 2) CU_ASSERT(res.bytes_in > cases[t].cache / 4);
      }
      struct block_cache_stats a, b;
      block_cache_stats(c, &a);
      struct merge_scanner *m = open_merge(s, UINT64_MAX);
      CU_ASSERT_FATAL(m != NULL);
      uint32_t n = 0;
      while (merge_scanner_peek(m) != NULL) {
        n++;
        if (merge_scanner_next(m) < 0) break;
      }
      merge_scanner_close(m);
      CU_ASSERT_EQUAL(n, 40000);
      block_cache_stats(c, &b);
      bool cached = pass == 0 ? cases[t].cow : cases[t].compacted_cached;
      if (cached) {
        CU_ASSERT_EQUAL(b.misses, a.misses);
      } else {
        CU_ASSERT(b.misses - a.misses > 20);
      }
    }
    store_close(s);
    block_cache_free(c);
  }
}

static void test_compaction_semantics(void) {
  struct store_opts o;
  store_opts_init(&o);
  o.family = "d";
  o.fam.max_versions = 2;
  o.fam.ttl_ms = TTL_MS;
  o.now_ms = fake_now;
  o.policy.max_files = 3; /* so a minor compaction takes 3 of the 5 files */
  struct store *s;
  CU_ASSERT_FATAL(store_open(fs, "/hbase/data/default/t2/r1", &o, cache, &s) == 0);
  struct gcell g;
  uint64_t seq = 0;
  char row[24], val[64], q[8];
  /* Flushes 0..3: version TS0+k of q0..q2 of every row (flush 0 also an
   * expired column on rows 3 mod 10). Flush 4: the delete markers. */
  for (int k = 0; k < 4; k++) {
    for (int r = 0; r < SEM_ROWS; r++) {
      sem_row(row, sizeof row, r);
      for (int qi = 0; qi < 3; qi++) {
        snprintf(q, sizeof q, "q%d", qi);
        sem_val(val, sizeof val, r, qi, TS0 + k);
        set_cell(&g, row, "d", q, TS0 + k, CELL_PUT, ++seq, val);
        CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
      }
      if (k == 0 && r % 10 == 3) {
        set_cell(&g, row, "d", "qx", 5000, CELL_PUT, ++seq, "expired");
        CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
      }
    }
    CU_ASSERT_FATAL(flush(s, NULL) == 0);
  }
  uint64_t markers = 0;
  for (int r = 0; r < SEM_ROWS; r++) {
    sem_row(row, sizeof row, r);
    switch (r % 10) {
      case 0: set_cell(&g, row, "d", "q0", TS0 + 3, CELL_DELETE_COLUMN, ++seq, ""); break;
      case 1: set_cell(&g, row, "d", "", TS0 + 2, CELL_DELETE_FAMILY, ++seq, ""); break;
      case 2: set_cell(&g, row, "d", "q1", TS0 + 3, CELL_DELETE, ++seq, ""); break;
      case 4: set_cell(&g, row, "d", "", TS0 + 3, CELL_DELETE_FAMILY_VERSION, ++seq, ""); break;
      default: continue;
    }
    CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
    markers++;
  }
  CU_ASSERT_FATAL(flush(s, NULL) == 0);

  uint64_t ec = 0, eh = sem_expected(1469598103934665603ull, &ec);
  uint64_t c0, h0;
  CU_ASSERT_FATAL(visible(s, &o.fam, NOW_MS, &c0, &h0) == 0);
  CU_ASSERT_EQUAL(c0, ec);
  CU_ASSERT_EQUAL(h0, eh);
  int64_t oldest = NOW_MS - TTL_MS;
  struct raw_counts raw0;
  CU_ASSERT_FATAL(raw_files(s, oldest, &raw0) == 0);
  CU_ASSERT_EQUAL(raw0.markers, markers);
  CU_ASSERT_EQUAL(raw0.expired, SEM_ROWS / 10);
  CU_ASSERT_EQUAL(raw0.cells, (uint64_t)SEM_ROWS * 12 + SEM_ROWS / 10 + markers);

  /* Minor: 3 of 5 files, markers kept. */
  struct store_compaction_result cr;
  CU_ASSERT_EQUAL(store_compact(s, NULL, &cr), 1);
  CU_ASSERT_EQUAL(cr.files_in, 3);
  CU_ASSERT_FALSE(cr.major);
  struct store_stats st;
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 3);
  uint64_t c1, h1;
  CU_ASSERT_FATAL(visible(s, &o.fam, NOW_MS, &c1, &h1) == 0);
  CU_ASSERT_EQUAL(c1, ec);
  CU_ASSERT_EQUAL(h1, eh);
  struct raw_counts raw1;
  CU_ASSERT_FATAL(raw_files(s, oldest, &raw1) == 0);
  CU_ASSERT_EQUAL(raw1.markers, markers);     /* a minor compaction keeps every marker */
  CU_ASSERT(raw1.cells < raw0.cells);         /* but drops the deleted cells it saw */

  /* Major: one file holding exactly the visible cells. */
  struct store_compact_opts co = {.major = true};
  CU_ASSERT_EQUAL(store_compact(s, &co, &cr), 1);
  CU_ASSERT_TRUE(cr.major);
  CU_ASSERT_EQUAL(cr.files_in, 3);
  uint64_t c2, h2;
  CU_ASSERT_FATAL(visible(s, &o.fam, NOW_MS, &c2, &h2) == 0);
  CU_ASSERT_EQUAL(c2, ec);
  CU_ASSERT_EQUAL(h2, eh);
  struct raw_counts raw2;
  CU_ASSERT_FATAL(raw_files(s, oldest, &raw2) == 0);
  CU_ASSERT_EQUAL(raw2.markers, 0);
  CU_ASSERT_EQUAL(raw2.expired, 0);
  CU_ASSERT_EQUAL(raw2.cells, ec);
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 1);
  CU_ASSERT_EQUAL(st.major_compactions, 1);
  char names[2][40];
  CU_ASSERT_EQUAL(store_file_names(s, names, 2), 1);
  /* the major-compacted flag is in the file and read back */
  char path[256];
  snprintf(path, sizeof path, "%s/%s", store_dir(s), names[0]);
  struct store_file *sf;
  CU_ASSERT_FATAL(store_file_open(fs, path, NULL, &sf) == 0);
  CU_ASSERT_TRUE(store_file_major_compacted(sf));
  CU_ASSERT_EQUAL(store_file_max_seq_id(sf), seq);
  CU_ASSERT(store_file_created_ms(sf) == NOW_MS);
  store_file_unref(sf);
  /* nothing more to do: one fresh major file */
  CU_ASSERT_FALSE(store_needs_compaction(s));
  CU_ASSERT_EQUAL(store_compact(s, NULL, &cr), 0);
  store_close(s);
}

/* ---- 3. readers during flushes and compactions ------------------------------------ */

#define CON_N 60000u
#define CON_FLUSH_EVERY 5000u

struct con {
  struct store *s;
  atomic_uint_fast64_t committed;
  atomic_bool done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned flush_req, flush_done;
  atomic_uint scans, bad;
  atomic_uint_fast64_t cells_checked;
};

static void con_cell(uint64_t seq, struct gcell *g) {
  char row[24], val[32];
  uint32_t x = (uint32_t)seq * 2654435761u; /* a bijection: rows unique, order unlike seq */
  snprintf(row, sizeof row, "c%08x", x);
  snprintf(val, sizeof val, "s%llu", (unsigned long long)seq);
  set_cell(g, row, "c", "q", 7, CELL_PUT, seq, val);
}

static void *con_writer(void *arg) {
  struct con *t = arg;
  struct gcell g;
  for (uint64_t seq = 1; seq <= CON_N; seq++) {
    con_cell(seq, &g);
    if (store_add(t->s, &g.c, NULL) != 0) atomic_fetch_add(&t->bad, 1);
    atomic_store(&t->committed, seq);
    if (seq % CON_FLUSH_EVERY == 0) {
      /* at most one flush behind: writes go on during a flush, but every
       * request finds cells to flush */
      pthread_mutex_lock(&t->mu);
      t->flush_req++;
      pthread_cond_broadcast(&t->cv);
      while (t->flush_done + 1 < t->flush_req) pthread_cond_wait(&t->cv, &t->mu);
      pthread_mutex_unlock(&t->mu);
    }
  }
  return NULL;
}

static void *con_flusher(void *arg) {
  struct con *t = arg;
  pthread_mutex_lock(&t->mu);
  while (t->flush_done < CON_N / CON_FLUSH_EVERY) {
    while (t->flush_done == t->flush_req) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    if (flush(t->s, NULL) != 0) atomic_fetch_add(&t->bad, 1);
    pthread_mutex_lock(&t->mu);
    t->flush_done++;
    pthread_cond_broadcast(&t->cv);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

/* One scan at the committed point: exactly the cells 1..rp, once each. */
static void con_check(struct con *t) {
  uint64_t rp = atomic_load(&t->committed);
  struct merge_scanner *m = open_merge(t->s, rp);
  if (!m) {
    fprintf(stderr, "reader: open: %s\n", dfs_err_msg());
    atomic_fetch_add(&t->bad, 1);
    return;
  }
  uint64_t n = 0, sum = 0, bad = 0;
  uint8_t prev[32];
  uint32_t prev_len = 0;
  struct gcell g;
  const struct cell *c;
  int rc = 0;
  while ((c = merge_scanner_peek(m)) != NULL) {
    if (c->seq_id <= rp) { /* file cells carry their seq ids; newer ones are not ours */
      con_cell(c->seq_id, &g);
      if (!same_cell(c, &g.c)) bad++;
      if (n > 0 && cell_compare_rows(prev, prev_len, c->row, c->row_len) >= 0) bad++;
      prev_len = c->row_len < sizeof prev ? c->row_len : (uint32_t)sizeof prev;
      memcpy(prev, c->row, prev_len);
      n++;
      sum += c->seq_id;
    }
    if ((rc = merge_scanner_next(m)) < 0) break;
  }
  merge_scanner_close(m);
  if (rc < 0 || bad || n != rp || sum != rp * (rp + 1) / 2) {
    fprintf(stderr, "reader: rp %llu: %llu cells, %llu bad, rc %d (%s)\n",
            (unsigned long long)rp, (unsigned long long)n, (unsigned long long)bad, rc,
            rc < 0 ? dfs_err_msg() : "");
    atomic_fetch_add(&t->bad, 1);
  }
  atomic_fetch_add(&t->scans, 1);
  atomic_fetch_add(&t->cells_checked, n);
}

static void *con_reader(void *arg) {
  struct con *t = arg;
  while (!atomic_load(&t->done)) con_check(t);
  return NULL;
}

static void test_concurrent(void) {
  struct compactor_opts co = {.threads = 1, .max_bytes_per_sec = 2u << 20};
  struct compactor *cp;
  CU_ASSERT_FATAL(compactor_create(&co, &cp) == 0);
  struct store_opts o;
  store_opts_init(&o);
  o.family = "c";
  o.compactor = cp;
  o.block_size = 4096; /* many blocks: seeks and block reads while files change */
  o.policy.max_files = 4;
  struct con t;
  memset(&t, 0, sizeof t);
  pthread_mutex_init(&t.mu, NULL);
  pthread_cond_init(&t.cv, NULL);
  CU_ASSERT_FATAL(store_open(fs, "/hbase/data/default/t3/r1", &o, cache, &t.s) == 0);
  pthread_t w, f, r[2];
  pthread_create(&w, NULL, con_writer, &t);
  pthread_create(&f, NULL, con_flusher, &t);
  for (int i = 0; i < 2; i++) pthread_create(&r[i], NULL, con_reader, &t);
  pthread_join(w, NULL);
  pthread_join(f, NULL);
  /* a major compaction while the readers still run */
  CU_ASSERT_EQUAL(compactor_request(cp, t.s, true), 0);
  CU_ASSERT_EQUAL(compactor_wait_idle(cp, 60000), 0);
  con_check(&t);
  atomic_store(&t.done, true);
  for (int i = 0; i < 2; i++) pthread_join(r[i], NULL);
  con_check(&t);
  struct store_stats st;
  store_get_stats(t.s, &st);
  struct compactor_stats cs;
  compactor_get_stats(cp, &cs);
  fprintf(stderr, "\n    %u scans, %llu cells checked; %llu flushes, %llu compactions (%llu major),"
          " %zu files; compactor: %llu done, %llu failed, %llu bytes, %llu ms throttled %s\n",
          atomic_load(&t.scans), (unsigned long long)atomic_load(&t.cells_checked),
          (unsigned long long)st.flushes, (unsigned long long)st.compactions,
          (unsigned long long)st.major_compactions, st.files,
          (unsigned long long)cs.completed, (unsigned long long)cs.failed,
          (unsigned long long)cs.bytes_written, (unsigned long long)cs.throttle_wait_ms,
          cs.last_error);
  CU_ASSERT_EQUAL(atomic_load(&t.bad), 0);
  CU_ASSERT(atomic_load(&t.scans) >= 4);
  /* A request that finds the MemStore empty (the writer was still waiting
   * for the previous flush) flushes nothing and is not counted. */
  CU_ASSERT(st.flushes >= CON_N / CON_FLUSH_EVERY / 2 && st.flushes <= CON_N / CON_FLUSH_EVERY);
  CU_ASSERT(st.compactions >= 2); /* one at least from the flushes, one forced */
  CU_ASSERT(st.major_compactions >= 1);
  CU_ASSERT_EQUAL(st.files, 1);
  CU_ASSERT_EQUAL(st.file_cells, CON_N);
  CU_ASSERT_EQUAL(cs.failed, 0);
  /* the readers may have held replaced files at the last compaction */
  CU_ASSERT(store_cleanup(t.s) >= 0);
  store_get_stats(t.s, &st);
  CU_ASSERT_EQUAL(st.compacted_pending, 0);
  /* Exactly one file is left on the DFS: every replaced file was deleted
   * once its last reader let go. */
  struct dfs_stat *ents;
  size_t n;
  CU_ASSERT_FATAL(dfs_list(fs, store_dir(t.s), &ents, &n) == 0);
  CU_ASSERT_EQUAL(n, 1);
  dfs_stats_free(ents, n);
  store_close(t.s);
  compactor_destroy(cp);
  pthread_mutex_destroy(&t.mu);
  pthread_cond_destroy(&t.cv);
}

/* A scanner opened before a compaction keeps reading the replaced files;
 * they are deleted only after it closes. */
static void test_deferred_delete(void) {
  struct store_opts o;
  store_opts_init(&o);
  o.family = "e";
  struct store *s;
  CU_ASSERT_FATAL(store_open(fs, "/hbase/data/default/t4/r1", &o, cache, &s) == 0);
  struct gcell g;
  char row[16];
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 3000; i++) {
      snprintf(row, sizeof row, "r%05d", i * 3 + k);
      set_cell(&g, row, "e", "q", 1, CELL_PUT, (uint64_t)(k * 3000 + i + 1), row);
      CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
    }
    CU_ASSERT_FATAL(flush(s, NULL) == 0);
  }
  struct merge_scanner *m = open_merge(s, UINT64_MAX);
  CU_ASSERT_FATAL(m != NULL);
  struct store_compaction_result cr;
  CU_ASSERT_EQUAL(store_compact(s, NULL, &cr), 1);
  struct store_stats st;
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 1);
  CU_ASSERT_EQUAL(st.compacted_pending, 3);
  CU_ASSERT_EQUAL(store_cleanup(s), 0); /* still read */
  uint32_t n = 0;
  const struct cell *c;
  while ((c = merge_scanner_peek(m)) != NULL) {
    snprintf(row, sizeof row, "r%05u", n);
    if (c->row_len != 6 || memcmp(c->row, row, 6) != 0) break;
    n++;
    if (merge_scanner_next(m) < 0) break;
  }
  CU_ASSERT_EQUAL(n, 9000);
  merge_scanner_close(m);
  CU_ASSERT_EQUAL(store_cleanup(s), 3);
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.compacted_pending, 0);
  struct dfs_stat *ents;
  size_t ne;
  CU_ASSERT_FATAL(dfs_list(fs, store_dir(s), &ents, &ne) == 0);
  CU_ASSERT_EQUAL(ne, 1);
  dfs_stats_free(ents, ne);
  store_close(s);
}

/* Closing a store cancels its running compaction, which leaves the store
 * as it was (no new file, nothing in .tmp). */
static void test_cancel(void) {
  struct compactor_opts co = {.threads = 1, .max_bytes_per_sec = 64u << 10};
  struct compactor *cp;
  CU_ASSERT_FATAL(compactor_create(&co, &cp) == 0);
  const char *region = "/hbase/data/default/t6/r1";
  struct store_opts o;
  store_opts_init(&o);
  o.family = "f";
  o.compactor = cp;
  o.policy.min_files = 10; /* no compaction from the flushes */
  struct store *s;
  CU_ASSERT_FATAL(store_open(fs, region, &o, cache, &s) == 0);
  struct gcell g;
  char row[16];
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 8000; i++) {
      snprintf(row, sizeof row, "r%05d", i * 3 + k);
      set_cell(&g, row, "f", "q", 1, CELL_PUT, (uint64_t)(k * 8000 + i + 1),
               "a value of some forty bytes, give or take");
      CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
    }
    CU_ASSERT_FATAL(flush(s, NULL) == 0);
  }
  uint64_t c0, h0;
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c0, &h0) == 0);
  CU_ASSERT_EQUAL(compactor_request(cp, s, true), 0);
  /* ~1.4 MB at 64 KiB/s: it is certainly still running once it started */
  struct compactor_stats cs;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    compactor_get_stats(cp, &cs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (cs.running == 1 || t1.tv_sec - t0.tv_sec > 10) break;
    sched_yield();
  }
  CU_ASSERT_EQUAL_FATAL(cs.running, 1);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  store_close(s);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  CU_ASSERT(secs < 5);
  compactor_get_stats(cp, &cs);
  CU_ASSERT_EQUAL(cs.cancelled, 1);
  CU_ASSERT_EQUAL(cs.completed, 0);
  CU_ASSERT_EQUAL(cs.running, 0);
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s/.tmp/f", region);
  struct dfs_stat *ents;
  size_t n = 0;
  int rc = dfs_list(fs, tmp, &ents, &n);
  if (rc == 0) dfs_stats_free(ents, n);
  CU_ASSERT(rc == DFS_ENOENT || n == 0);
  o.compactor = NULL;
  CU_ASSERT_FATAL(store_open(fs, region, &o, cache, &s) == 0);
  struct store_stats st;
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 3);
  uint64_t c1, h1;
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c1, &h1) == 0);
  CU_ASSERT_EQUAL(c1, c0);
  CU_ASSERT_EQUAL(h1, h0);
  store_close(s);
  compactor_destroy(cp);
}

/* ---- 4. reopen ---------------------------------------------------------------------- */

static void test_reopen(void) {
  struct store_opts o;
  store_opts_init(&o);
  o.family = "cf";
  o.fam.max_versions = 3;
  /* garbage of a crashed flush */
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s/.tmp/cf/deadbeef", BIG_REGION);
  dfs_file *f;
  CU_ASSERT_FATAL(dfs_create(fs, tmp, NULL, &f) == 0);
  CU_ASSERT_EQUAL(dfs_write(f, "half an hfile", 13), 13);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  struct store *s;
  CU_ASSERT_FATAL(store_open(fs, BIG_REGION, &o, cache, &s) == 0);
  struct dfs_stat st;
  CU_ASSERT_EQUAL(dfs_stat(fs, tmp, &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(store_max_seq_id(s), big_max_seq);
  uint64_t c, h;
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c, &h) == 0);
  CU_ASSERT_EQUAL(c, big_count);
  CU_ASSERT_EQUAL(h, big_hash);

  /* A compaction that "crashed" after renaming its output but before
   * deleting its inputs: add two flushes, keep copies of their files,
   * compact, put the copies back, reopen: the inputs must be dropped. */
  struct gcell g;
  for (int k = 0; k < 2; k++) {
    for (uint32_t i = 0; i < 1000; i++) {
      big_cell(i * 2 + (uint32_t)k, big_max_seq + 1 + k * 1000 + i, &g);
      g.c.timestamp = 5000; /* newer versions of existing cells */
      CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
    }
    CU_ASSERT_FATAL(flush(s, NULL) == 0);
  }
  uint64_t c2, h2;
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c2, &h2) == 0);
  CU_ASSERT_EQUAL(c2, big_count + 2000);
  char names[4][40], src[256], dst[256];
  CU_ASSERT_FATAL(store_file_names(s, names, 4) == 3);
  for (int k = 0; k < 3; k++) {
    snprintf(src, sizeof src, "%s/%s", store_dir(s), names[k]);
    snprintf(dst, sizeof dst, "%s/keep-%s", BIG_REGION, names[k]);
    CU_ASSERT_FATAL(copy_file(src, dst, UINT64_MAX) == 0);
  }
  struct store_compaction_result cr;
  CU_ASSERT_EQUAL(store_compact(s, NULL, &cr), 1);
  CU_ASSERT_EQUAL(cr.files_in, 3);
  uint64_t seq = store_max_seq_id(s);
  store_close(s);
  for (int k = 0; k < 3; k++) {
    snprintf(src, sizeof src, "%s/keep-%s", BIG_REGION, names[k]);
    snprintf(dst, sizeof dst, "%s/cf/%s", BIG_REGION, names[k]);
    CU_ASSERT_FATAL(dfs_rename(fs, src, dst, false) == 0);
  }
  CU_ASSERT_FATAL(store_open(fs, BIG_REGION, &o, cache, &s) == 0);
  struct store_stats sst;
  store_get_stats(s, &sst);
  CU_ASSERT_EQUAL(sst.files, 1);
  CU_ASSERT_EQUAL(store_max_seq_id(s), seq);
  uint64_t c3, h3;
  CU_ASSERT_FATAL(visible(s, &o.fam, 0, &c3, &h3) == 0);
  CU_ASSERT_EQUAL(c3, c2);
  CU_ASSERT_EQUAL(h3, h2);
  struct dfs_stat *ents;
  size_t n;
  CU_ASSERT_FATAL(dfs_list(fs, store_dir(s), &ents, &n) == 0);
  CU_ASSERT_EQUAL(n, 1);
  dfs_stats_free(ents, n);
  store_close(s);
}

/* ---- 5. corruption ------------------------------------------------------------------ */

static void test_corrupt(void) {
  const char *region = "/hbase/data/default/t5/r1";
  struct store_opts o;
  store_opts_init(&o);
  o.family = "x";
  o.block_size = 4096;
  struct store *s;
  CU_ASSERT_FATAL(store_open(fs, region, &o, NULL, &s) == 0);
  struct gcell g;
  char row[16];
  for (int i = 0; i < 5000; i++) {
    snprintf(row, sizeof row, "r%05d", i);
    set_cell(&g, row, "x", "q", 1, CELL_PUT, (uint64_t)i + 1, "some value bytes");
    CU_ASSERT_FATAL(store_add(s, &g.c, NULL) == 0);
  }
  struct store_flush_result fr;
  CU_ASSERT_FATAL(flush(s, &fr) == 0);
  char good[256], bad[256];
  snprintf(good, sizeof good, "%s/x/%s", region, fr.name);
  store_close(s);

  /* (a) a data block flipped: the store opens (trailer and index are
   * fine), the scan fails naming the file. */
  snprintf(bad, sizeof bad, "%s/x/0badf11e0000000000000000000000aa", region);
  CU_ASSERT_FATAL(copy_file(good, bad, 2000) == 0);
  CU_ASSERT_FATAL(store_open(fs, region, &o, NULL, &s) == 0);
  struct merge_scanner *m = open_merge(s, UINT64_MAX);
  int rc = 0;
  if (m) {
    while (merge_scanner_peek(m) && (rc = merge_scanner_next(m)) == 0) {
    }
    merge_scanner_close(m);
  } else {
    rc = dfs_err_code();
  }
  CU_ASSERT(rc == DFS_ECORRUPT || rc == DFS_ECHECKSUM);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), bad));
  fprintf(stderr, "\n    scan: %s\n", dfs_err_msg());
  /* a compaction over it fails too and leaves the store as it was */
  struct store_compact_opts co = {.major = true};
  rc = store_compact(s, &co, NULL);
  CU_ASSERT(rc == DFS_ECORRUPT || rc == DFS_ECHECKSUM);
  struct store_stats st;
  store_get_stats(s, &st);
  CU_ASSERT_EQUAL(st.files, 2);
  store_close(s);
  CU_ASSERT_EQUAL(dfs_delete(fs, bad, false), 0);

  /* (b) the trailer flipped: the store does not open, and says which file. */
  struct dfs_stat ds;
  CU_ASSERT_FATAL(dfs_stat(fs, good, &ds) == 0);
  uint64_t len = ds.length;
  dfs_stat_clear(&ds);
  snprintf(bad, sizeof bad, "%s/x/0badf11e0000000000000000000000bb", region);
  CU_ASSERT_FATAL(copy_file(good, bad, len - 20) == 0);
  rc = store_open(fs, region, &o, NULL, &s);
  CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), bad));
  fprintf(stderr, "    open: %s\n", dfs_err_msg());
  if (rc == 0) store_close(s);
  CU_ASSERT_EQUAL(dfs_delete(fs, bad, false), 0);

  /* (c) not an HFile at all */
  dfs_file *f;
  CU_ASSERT_FATAL(dfs_create(fs, bad, NULL, &f) == 0);
  CU_ASSERT_EQUAL(dfs_write(f, "hello", 5), 5);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  rc = store_open(fs, region, &o, NULL, &s);
  CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), bad));
  if (rc == 0) store_close(s);

  /* bad family names */
  o.family = "../x";
  CU_ASSERT_EQUAL(store_open(fs, region, &o, NULL, &s), DFS_EINVAL);
}

int main(void) {
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "4m"};
  if (mc_start(&o, &mc) != 0) return 1;
  if (mc_connect(mc, NULL, &fs) != 0 || block_cache_new(64u << 20, 0, &cache) != 0) {
    mc_stop(mc);
    return 1;
  }
  static const struct mc_test tests[] = {
      {"200k cells over 6 flushes, scan, get hints, compaction", test_flush_and_scan},
      {"minor and major compaction: versions, deletes, TTL", test_compaction_semantics},
      {"cache on write: flushed and compacted files read without a miss", test_cache_on_write},
      {"readers during flushes and background compactions", test_concurrent},
      {"replaced files deleted after their last reader", test_deferred_delete},
      {"closing a store cancels its compaction", test_cancel},
      {"reopen: same data and max seq id, .tmp and crashed compaction cleaned",
       test_reopen},
      {"corrupt store files reported with their path", test_corrupt},
      {NULL, NULL}};
  int rc = mc_run_tests("store", tests);
  dfs_disconnect(fs);
  block_cache_free(cache);
  mc_stop(mc);
  return rc;
}
