/*
 * test_query_matcher.c - versions, TTL, delete markers, time ranges,
 * column selection, read points and raw scans (regionserver/query_matcher.c
 * through a store scan), each on small hand-made cases whose exact answer
 * is written out, every case scanned from one MemStore and again split
 * over a MemStore and two moving sources; and flush/compaction modes
 * (store_scanner_next_cell): a major compaction drops markers and what
 * they hide, a minor one keeps the markers, and on random data a scan of
 * the compacted cells returns exactly what a scan of the originals did.
 */
#include <CUnit/Basic.h>

#include "errors.h"
#include "read_path_model.h"
#include "store_scanner.h"

static struct family_opts FO3 = {3, 0, 0};

/* Scans p both ways (one MemStore; split) and checks both against want. */
static void check(const struct pool *p, struct family_opts fo, const struct scan_spec *sp,
                  const char *want) {
  static char out[65536];
  for (int split = 0; split < 2; split++) {
    CU_ASSERT_EQUAL(scan_to_string(p->v, p->n, fo, sp, split, out, sizeof out), 0);
    if (strcmp(out, want) != 0) {
      fprintf(stderr, "\n  split=%d\n  got:  %s\n  want: %s\n", split, out, want);
      CU_FAIL("scan result");
    }
  }
}

static struct scan_spec spec(uint32_t max_versions) {
  struct scan_spec sp;
  scan_spec_init(&sp);
  sp.max_versions = max_versions;
  sp.now_ms = 1000;
  return sp;
}

static void test_delete_version(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "q", 5, CELL_PUT, 1, "a");
  pool_add(&p, "r", "f", "q", 4, CELL_PUT, 2, "b");
  pool_add(&p, "r", "f", "q", 3, CELL_PUT, 3, "c");
  pool_add(&p, "r", "f", "q", 5, CELL_DELETE, 4, "");
  pool_add(&p, "r", "f", "q", 9, CELL_DELETE, 5, ""); /* covers nothing */
  pool_add(&p, "r", "f", "x", 5, CELL_PUT, 6, "other column");
  struct scan_spec sp = spec(3);
  check(&p, FO3, &sp, "r/q@4=b r/q@3=c r/x@5=other column");
  sp.max_versions = 1; /* the deleted version does not count */
  check(&p, FO3, &sp, "r/q@4=b r/x@5=other column");
  pool_free(&p);
}

static void test_delete_column(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "q", 6, CELL_PUT, 1, "new");
  pool_add(&p, "r", "f", "q", 5, CELL_PUT, 2, "a");
  pool_add(&p, "r", "f", "q", 4, CELL_PUT, 3, "b");
  pool_add(&p, "r", "f", "q", 5, CELL_DELETE_COLUMN, 4, "");
  pool_add(&p, "r", "f", "qq", 4, CELL_PUT, 5, "c");
  pool_add(&p, "r2", "f", "q", 1, CELL_PUT, 6, "d");
  struct scan_spec sp = spec(3);
  check(&p, FO3, &sp, "r/q@6=new r/qq@4=c | r2/q@1=d");
  /* classic HBase: a put written after the marker, with an older
   * timestamp, is hidden too */
  pool_add(&p, "r", "f", "q", 2, CELL_PUT, 10, "late");
  check(&p, FO3, &sp, "r/q@6=new r/qq@4=c | r2/q@1=d");
  pool_free(&p);
}

static void test_delete_family(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "", 7, CELL_PUT, 1, "e7");
  pool_add(&p, "r", "f", "", 3, CELL_PUT, 2, "e3");
  pool_add(&p, "r", "f", "a", 5, CELL_PUT, 3, "a5");
  pool_add(&p, "r", "f", "a", 6, CELL_PUT, 4, "a6");
  pool_add(&p, "r", "f", "b", 2, CELL_PUT, 5, "b2");
  pool_add(&p, "r", "f", "", 5, CELL_DELETE_FAMILY, 6, "");
  pool_add(&p, "s", "f", "a", 1, CELL_PUT, 7, "s1");
  struct scan_spec sp = spec(3);
  check(&p, FO3, &sp, "r/@7=e7 r/a@6=a6 | s/a@1=s1");
  /* max 1 version: the empty-qualifier column is included without a seek
   * that would jump over the DeleteFamily marker behind it */
  sp.max_versions = 1;
  check(&p, FO3, &sp, "r/@7=e7 r/a@6=a6 | s/a@1=s1");
  /* selecting only b: the marker still applies */
  struct qm_qualifier qb = {(const uint8_t *)"b", 1};
  struct scan_family sf = {(const uint8_t *)"f", 1, &qb, 1};
  sp.families = &sf;
  sp.n_families = 1;
  check(&p, FO3, &sp, "");
  pool_free(&p);
}

static void test_delete_family_version(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "a", 5, CELL_PUT, 1, "a5");
  pool_add(&p, "r", "f", "a", 4, CELL_PUT, 2, "a4");
  pool_add(&p, "r", "f", "b", 5, CELL_PUT, 3, "b5");
  pool_add(&p, "r", "f", "b", 6, CELL_PUT, 4, "b6");
  pool_add(&p, "r", "f", "", 5, CELL_DELETE_FAMILY_VERSION, 5, "");
  pool_add(&p, "r", "f", "", 9, CELL_DELETE_FAMILY_VERSION, 6, "");
  struct scan_spec sp = spec(3);
  check(&p, FO3, &sp, "r/a@4=a4 r/b@6=b6");
  pool_free(&p);
}

static void test_versions_and_duplicates(void) {
  struct pool p = {0};
  for (int t = 1; t <= 5; t++) {
    char v[4] = {'v', (char)('0' + t), 0};
    pool_add(&p, "r", "f", "q", t, CELL_PUT, (uint64_t)t, v);
  }
  pool_add(&p, "r", "f", "q", 5, CELL_PUT, 9, "v5new"); /* same ts, later write */
  struct scan_spec sp = spec(2);
  check(&p, FO3, &sp, "r/q@5=v5new r/q@4=v4");
  sp.max_versions = 10; /* capped by the family's 3 */
  check(&p, FO3, &sp, "r/q@5=v5new r/q@4=v4 r/q@3=v3");
  /* read point 8: the rewrite is invisible */
  sp.read_point = 8;
  check(&p, FO3, &sp, "r/q@5=v5 r/q@4=v4 r/q@3=v3");
  sp.read_point = 2;
  check(&p, FO3, &sp, "r/q@2=v2 r/q@1=v1");
  pool_free(&p);
}

static void test_ttl_and_min_versions(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "q", 995, CELL_PUT, 1, "fresh");
  pool_add(&p, "r", "f", "q", 989, CELL_PUT, 2, "old");
  pool_add(&p, "r", "f", "q", 980, CELL_PUT, 3, "older");
  pool_add(&p, "r", "f", "x", 950, CELL_PUT, 4, "ancient");
  struct scan_spec sp = spec(3);
  struct family_opts ttl = {3, 0, 10}; /* now 1000: ts < 990 expired */
  check(&p, ttl, &sp, "r/q@995=fresh");
  ttl.min_versions = 2; /* the newest 2 versions of a column survive expiry */
  check(&p, ttl, &sp, "r/q@995=fresh r/q@989=old r/x@950=ancient");
  ttl.ttl_ms = 0;
  check(&p, ttl, &sp, "r/q@995=fresh r/q@989=old r/q@980=older r/x@950=ancient");
  pool_free(&p);
}

static void test_time_range(void) {
  struct pool p = {0};
  for (int t = 2; t <= 7; t++) {
    char v[4] = {'v', (char)('0' + t), 0};
    pool_add(&p, "r", "f", "q", t, CELL_PUT, (uint64_t)t, v);
  }
  pool_add(&p, "r", "f", "q", 9, CELL_DELETE_COLUMN, 20, ""); /* outside the range, still applies */
  pool_add(&p, "r", "f", "z", 4, CELL_PUT, 21, "z4");
  struct scan_spec sp = spec(3);
  sp.tr_min = 3;
  sp.tr_max = 6;
  check(&p, (struct family_opts){5, 0, 0}, &sp, "r/z@4=z4");
  p.n--; /* drop z */
  p.n--; /* drop the marker (freed below by hand) */
  check(&p, (struct family_opts){5, 0, 0}, &sp, "r/q@5=v5 r/q@4=v4 r/q@3=v3");
  sp.max_versions = 1;
  check(&p, (struct family_opts){5, 0, 0}, &sp, "r/q@5=v5");
  cell_free(p.v[p.n]);
  cell_free(p.v[p.n + 1]);
  pool_free(&p);
}

static void test_raw_and_columns(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "a", 5, CELL_PUT, 1, "a5");
  pool_add(&p, "r", "f", "a", 5, CELL_DELETE, 2, "");
  pool_add(&p, "r", "f", "b", 4, CELL_PUT, 3, "b4");
  pool_add(&p, "r", "f", "c", 4, CELL_PUT, 4, "c4");
  pool_add(&p, "r", "f", "d", 4, CELL_PUT, 5, "d4");
  struct scan_spec sp = spec(3);
  sp.raw = true;
  check(&p, FO3, &sp, "r/a@5:Delete r/a@5=a5 r/b@4=b4 r/c@4=c4 r/d@4=d4");
  sp.raw = false;
  struct qm_qualifier qs[] = {{(const uint8_t *)"d", 1}, {(const uint8_t *)"a", 1},
                              {(const uint8_t *)"b", 1}, {(const uint8_t *)"d", 1}};
  struct scan_family sf = {(const uint8_t *)"f", 1, qs, 4};
  sp.families = &sf;
  sp.n_families = 1;
  check(&p, FO3, &sp, "r/b@4=b4 r/d@4=d4");
  pool_free(&p);
}

/* ---- compaction -------------------------------------------------------------- */

/* Runs a compaction matcher over p (split across sources) into out. */
static void compact(const struct pool *p, struct family_opts fo, enum qm_mode mode,
                    uint64_t smallest_rp, int64_t now, struct pool *out) {
  struct cell **part[3];
  size_t np[3] = {0, 0, 0};
  for (int k = 0; k < 3; k++) part[k] = malloc((p->n + 1) * sizeof(struct cell *));
  for (size_t i = 0; i < p->n; i++) {
    int k = (int)rp_below(3);
    part[k][np[k]++] = p->v[i];
  }
  struct kv_scanner *src[3];
  for (int k = 0; k < 3; k++) src[k] = array_source_open(part[k], np[k], (uint64_t)k);
  struct qm_config cfg = {.mode = mode, .max_versions = fo.max_versions,
                          .min_versions = fo.min_versions,
                          .oldest_ts = qm_oldest_ts(now, fo.ttl_ms),
                          .tr_min = INT64_MIN, .tr_max = INT64_MAX, .read_point = smallest_rp};
  struct store_scanner *ss;
  CU_ASSERT_EQUAL_FATAL(store_scanner_open(src, 3, &cfg, false, &ss), 0);
  CU_ASSERT_TRUE(store_scanner_start(ss, NULL, 0) >= 0);
  const struct cell *c;
  int rc;
  while ((rc = store_scanner_next_cell(ss, &c)) == 1) {
    if (out->n == out->cap) {
      out->cap = out->cap ? out->cap * 2 : 256;
      out->v = realloc(out->v, out->cap * sizeof *out->v);
    }
    out->v[out->n++] = cell_dup(c);
  }
  CU_ASSERT_EQUAL(rc, 0);
  store_scanner_close(ss);
  for (int k = 0; k < 3; k++) free(part[k]);
}

static size_t count_markers(const struct pool *p) {
  size_t n = 0;
  for (size_t i = 0; i < p->n; i++) n += p->v[i]->type != CELL_PUT;
  return n;
}

static void test_compaction_cases(void) {
  struct pool p = {0};
  pool_add(&p, "r", "f", "q", 5, CELL_PUT, 1, "a");
  pool_add(&p, "r", "f", "q", 4, CELL_PUT, 2, "b");
  pool_add(&p, "r", "f", "q", 3, CELL_PUT, 3, "c");
  pool_add(&p, "r", "f", "q", 2, CELL_PUT, 4, "d");
  pool_add(&p, "r", "f", "q", 4, CELL_DELETE, 5, "");
  pool_add(&p, "r", "f", "x", 1, CELL_PUT, 6, "x");
  pool_add(&p, "r", "f", "", 1, CELL_DELETE_FAMILY, 7, "");
  struct family_opts fo = {2, 0, 0};
  struct pool major = {0}, minor = {0}, young = {0};
  compact(&p, fo, QM_COMPACT_MAJOR, UINT64_MAX, 1000, &major);
  compact(&p, fo, QM_COMPACT_MINOR, UINT64_MAX, 1000, &minor);
  /* major: a@5, c@3 (b deleted, d beyond 2 versions, x under the family marker), no markers */
  CU_ASSERT_EQUAL(major.n, 2);
  CU_ASSERT_EQUAL(count_markers(&major), 0);
  if (major.n == 2) {
    CU_ASSERT_TRUE(bytes_eq(major.v[0]->value, major.v[0]->value_len, "a"));
    CU_ASSERT_TRUE(bytes_eq(major.v[1]->value, major.v[1]->value_len, "c"));
  }
  /* minor: the same puts, and both markers */
  CU_ASSERT_EQUAL(minor.n, 4);
  CU_ASSERT_EQUAL(count_markers(&minor), 2);
  /* A reader at read point 4 may still need what the Delete (seq 5) and
   * the family marker (seq 7) hide: with the smallest read point 4 both
   * markers and x (seq 6) are kept, and the markers hide nothing. */
  compact(&p, fo, QM_COMPACT_MAJOR, 4, 1000, &young);
  CU_ASSERT_EQUAL(young.n, 5); /* a, b (the 2 versions), DF, Delete, x */
  CU_ASSERT_EQUAL(count_markers(&young), 2);
  pool_free(&major);
  pool_free(&minor);
  pool_free(&young);
  pool_free(&p);
}

/* scan(compact(X)) == scan(X), on random data. */
static void test_compaction_random(void) {
  rp_seed(777);
  static char a[65536], b[65536];
  static char vals[2000][8];
  int bad = 0;
  for (int round = 0; round < 40; round++) {
    struct pool p = {0};
    struct family_opts fo = {1 + rp_below(4), 0, rp_below(2) ? 0 : 10};
    if (fo.ttl_ms && rp_below(2)) fo.min_versions = 1;
    size_t n = 200 + rp_below(1500);
    for (size_t i = 0; i < n; i++) {
      char row[4] = {'r', (char)('a' + rp_below(6)), 0};
      const char *q = (const char *[]){"", "a", "b", "c"}[rp_below(4)];
      uint32_t t = rp_below(100);
      uint8_t type = t < 8 ? CELL_DELETE : t < 12 ? CELL_DELETE_COLUMN
                   : t < 14 ? CELL_DELETE_FAMILY : t < 16 ? CELL_DELETE_FAMILY_VERSION : CELL_PUT;
      if (type == CELL_DELETE_FAMILY || type == CELL_DELETE_FAMILY_VERSION) q = "";
      snprintf(vals[i % 2000], sizeof vals[0], "%zu", i);
      pool_add(&p, row, "f", q, 980 + (int64_t)rp_below(20), type, i + 1, vals[i % 2000]);
    }
    enum qm_mode mode = round % 2 ? QM_COMPACT_MAJOR : QM_COMPACT_MINOR;
    struct pool out = {0};
    compact(&p, fo, mode, UINT64_MAX, 1000, &out);
    if (mode == QM_COMPACT_MAJOR) CU_ASSERT_EQUAL(count_markers(&out), 0);
    for (uint32_t mv = 1; mv <= fo.max_versions; mv++) {
      struct scan_spec sp = spec(mv);
      sp.reversed = rp_below(2);
      scan_to_string(p.v, p.n, fo, &sp, true, a, sizeof a);
      scan_to_string(out.v, out.n, fo, &sp, true, b, sizeof b);
      if (strcmp(a, b) != 0 && bad++ < 2) fprintf(stderr, "\n  before: %s\n  after:  %s\n", a, b);
    }
    /* compacted output is sorted and has no two equal keys with equal seq */
    for (size_t i = 1; i < out.n; i++)
      if (cell_compare(out.v[i - 1], out.v[i]) >= 0) bad++;
    pool_free(&out);
    pool_free(&p);
  }
  CU_ASSERT_EQUAL(bad, 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("query_matcher", NULL, NULL);
  CU_add_test(s, "delete_version", test_delete_version);
  CU_add_test(s, "delete_column", test_delete_column);
  CU_add_test(s, "delete_family", test_delete_family);
  CU_add_test(s, "delete_family_version", test_delete_family_version);
  CU_add_test(s, "versions_and_duplicates", test_versions_and_duplicates);
  CU_add_test(s, "ttl_and_min_versions", test_ttl_and_min_versions);
  CU_add_test(s, "time_range", test_time_range);
  CU_add_test(s, "raw_and_columns", test_raw_and_columns);
  CU_add_test(s, "compaction_cases", test_compaction_cases);
  CU_add_test(s, "compaction_random", test_compaction_random);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
