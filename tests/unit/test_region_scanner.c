/*
 * test_region_scanner.c - scans over several stores of a region
 * (regionserver/region_scanner.c): thousands of random puts and deletes
 * over three families with different versions / TTL / min-versions
 * settings, each store split over a MemStore and two sources that move
 * their bytes (as HFile blocks do), scanned with random specs (start/stop,
 * reversed, families and qualifiers, versions, time range, read point,
 * raw, limit, batch) and compared cell by cell with the brute-force model
 * in read_path_model.h; plus gets with bloom skipping, limits, batches,
 * reversed bounds and bad arguments.
 */
#include <CUnit/Basic.h>

#include "errors.h"
#include "read_path_model.h"

#define NOW 1000

static const char *const ROWS[] = {"r0", "r1", "r10", "r11", "r2", "r3", "r30", "r4", "r5", "r6",
                                   "r7", "r8", "r9", "s", "s0", "t"};
#define NROWS (sizeof ROWS / sizeof ROWS[0])
static const char *const QUALS[] = {"", "a", "ab", "b", "c", "d"};
#define NQUALS (sizeof QUALS / sizeof QUALS[0])

static const struct ref_family FAMS[] = {
    {"a", {3, 0, 0}},    /* 3 versions, no TTL */
    {"b", {1, 0, 12}},   /* 1 version, TTL 12 ms */
    {"c", {5, 2, 10}},   /* 5 versions, TTL 10 ms, keep 2 expired */
};
#define NFAMS 3

static char vals[8192][16];

/* Random cells: each (row, family) with ~1/12 markers of every kind. */
static void gen(struct pool *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *row = ROWS[rp_below(NROWS)];
    const char *fam = FAMS[rp_below(NFAMS)].name;
    const char *q = QUALS[rp_below(NQUALS)];
    int64_t ts = NOW - 25 + (int64_t)rp_below(30);
    uint32_t t = rp_below(100);
    uint8_t type = CELL_PUT;
    if (t < 6) type = CELL_DELETE;
    else if (t < 10) type = CELL_DELETE_COLUMN;
    else if (t < 12) type = CELL_DELETE_FAMILY;
    else if (t < 14) type = CELL_DELETE_FAMILY_VERSION;
    if (type == CELL_DELETE_FAMILY || type == CELL_DELETE_FAMILY_VERSION) q = "";
    snprintf(vals[i % 8192], sizeof vals[0], "v%zu", i);
    pool_add(p, row, fam, q, ts, type, i + 1, type == CELL_PUT ? vals[i % 8192] : "");
  }
}

/* Sources per family: MemStore (order 100) and two moving arrays. */
struct region_fixture {
  struct memstore *ms[NFAMS];
  struct cell **part[NFAMS][2];
  size_t np[NFAMS][2];
  unsigned bloom_negatives;
};

static void fixture_build(struct region_fixture *fx, const struct pool *p) {
  memset(fx, 0, sizeof *fx);
  for (int f = 0; f < NFAMS; f++) {
    fx->ms[f] = memstore_create(64 << 10);
    for (int k = 0; k < 2; k++) fx->part[f][k] = malloc(p->n * sizeof(struct cell *));
  }
  for (size_t i = 0; i < p->n; i++) {
    struct cell *c = p->v[i];
    int f = c->family[0] - 'a';
    uint32_t where = rp_below(3);
    if (where == 2) CU_ASSERT_EQUAL_FATAL(memstore_add(fx->ms[f], c, NULL), 0)
    else fx->part[f][where][fx->np[f][where]++] = c;
  }
}

static void fixture_free(struct region_fixture *fx) {
  for (int f = 0; f < NFAMS; f++) {
    memstore_destroy(fx->ms[f]);
    for (int k = 0; k < 2; k++) free(fx->part[f][k]);
  }
}

/* Opens a region scanner over the fixture (stores given in reverse family
 * order, to check that the scanner sorts them). */
static int fixture_open(struct region_fixture *fx, const struct scan_spec *sp,
                        struct region_scanner **rs) {
  struct kv_scanner *src[NFAMS][3];
  struct store_source st[NFAMS];
  for (int f = 0; f < NFAMS; f++) {
    src[f][0] = kv_scanner_memstore_open(fx->ms[f], sp->read_point, 100);
    for (int k = 0; k < 2; k++) {
      src[f][k + 1] = array_source_open(fx->part[f][k], fx->np[f][k], (uint64_t)k + 1);
      ((struct array_source *)src[f][k + 1])->bloom_negatives = &fx->bloom_negatives;
    }
    int slot = NFAMS - 1 - f;
    st[slot] = (struct store_source){(const uint8_t *)FAMS[f].name, 1, FAMS[f].opts, src[f], 3};
  }
  return region_scanner_open(sp, st, NFAMS, rs);
}

static void random_spec(struct scan_spec *sp, struct scan_family *sf, struct qm_qualifier *qq,
                        uint64_t max_seq) {
  scan_spec_init(sp);
  sp->now_ms = NOW;
  sp->reversed = rp_below(3) == 0;
  if (rp_below(3)) {
    const char *r = ROWS[rp_below(NROWS)];
    sp->start_row = (const uint8_t *)r;
    sp->start_row_len = (uint32_t)strlen(r);
  }
  if (rp_below(3)) {
    const char *r = ROWS[rp_below(NROWS)];
    sp->stop_row = (const uint8_t *)r;
    sp->stop_row_len = (uint32_t)strlen(r);
  }
  if (rp_below(10) == 0 && sp->start_row_len) sp->get = true;
  if (rp_below(3) == 0) { /* family b whole, family c some qualifiers */
    size_t nq = 1 + rp_below(3);
    for (size_t i = 0; i < nq; i++) {
      const char *q = QUALS[rp_below(NQUALS)];
      qq[i] = (struct qm_qualifier){(const uint8_t *)q, (uint32_t)strlen(q)};
    }
    sf[0] = (struct scan_family){(const uint8_t *)"c", 1, qq, nq};
    sf[1] = (struct scan_family){(const uint8_t *)"b", 1, NULL, 0};
    sp->families = sf;
    sp->n_families = rp_below(2) ? 2 : 1;
  }
  sp->max_versions = 1 + rp_below(5);
  if (rp_below(4) == 0) {
    sp->tr_min = NOW - 25 + rp_below(30);
    sp->tr_max = sp->tr_min + 1 + rp_below(15);
  }
  if (rp_below(3) == 0) sp->read_point = rp_below((uint32_t)max_seq + 1);
  if (rp_below(8) == 0) sp->raw = true;
  if (rp_below(4) == 0) sp->limit = 1 + rp_below(6);
  if (rp_below(4) == 0) sp->batch = 1 + rp_below(4);
}

static void test_random_against_model(void) {
  rp_seed(12345);
  for (int round = 0; round < 4; round++) {
    struct pool p = {0};
    gen(&p, 2500);
    struct region_fixture fx;
    fixture_build(&fx, &p);
    int bad_total = 0;
    for (int q = 0; q < 150; q++) {
      struct scan_spec sp;
      struct scan_family sf[2];
      struct qm_qualifier qq[4];
      random_spec(&sp, sf, qq, p.n);
      struct ref_result ref = {0};
      ref_scan(p.v, p.n, FAMS, NFAMS, &sp, &ref);
      struct region_scanner *rs;
      int rc = fixture_open(&fx, &sp, &rs);
      CU_ASSERT_EQUAL_FATAL(rc, 0);
      int bad = compare_scan(rs, &ref, sp.limit, sp.batch);
      if (bad)
        fprintf(stderr, "round %d scan %d: rev=%d get=%d fams=%zu maxv=%u tr=[%lld,%lld) rp=%llu "
                "raw=%d limit=%llu batch=%u\n", round, q, sp.reversed, sp.get, sp.n_families,
                sp.max_versions, (long long)sp.tr_min, (long long)sp.tr_max,
                (unsigned long long)sp.read_point, sp.raw, (unsigned long long)sp.limit,
                sp.batch);
      bad_total += bad;
      region_scanner_close(rs);
      ref_free(&ref);
    }
    CU_ASSERT_EQUAL(bad_total, 0);
    fixture_free(&fx);
    pool_free(&p);
  }
}

/* A get consults the blooms (may_contain_row) and reads only its row. */
static void test_get_and_bloom(void) {
  rp_seed(99);
  struct pool p = {0};
  gen(&p, 1500);
  pool_add(&p, "only", "a", "x", NOW, CELL_PUT, 5000, "here");
  struct region_fixture fx;
  fixture_build(&fx, &p);
  const char *rows[] = {"only", "r1", "nope", "r10"};
  for (int i = 0; i < 4; i++) {
    struct scan_spec sp;
    scan_spec_init(&sp);
    sp.now_ms = NOW;
    sp.get = true;
    sp.start_row = (const uint8_t *)rows[i];
    sp.start_row_len = (uint32_t)strlen(rows[i]);
    sp.max_versions = 2;
    struct ref_result ref = {0};
    ref_scan(p.v, p.n, FAMS, NFAMS, &sp, &ref);
    fx.bloom_negatives = 0;
    struct region_scanner *rs;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, &sp, &rs), 0);
    CU_ASSERT_EQUAL(compare_scan(rs, &ref, 0, 0), 0);
    CU_ASSERT_TRUE(ref.nrows <= 1);
    if (i == 2) CU_ASSERT_EQUAL(fx.bloom_negatives, 6); /* every moving source skipped */
    if (i == 0) CU_ASSERT_TRUE(fx.bloom_negatives >= 4);
    region_scanner_close(rs);
    ref_free(&ref);
  }
  fixture_free(&fx);
  pool_free(&p);
}

static void test_limit_batch_reversed(void) {
  struct pool p = {0};
  const char *rows[] = {"a", "b", "c", "d", "e"};
  for (int r = 0; r < 5; r++)
    for (int q = 0; q < 5; q++) {
      char qual[4] = {(char)('p' + q), 0};
      pool_add(&p, rows[r], "f", qual, 10, CELL_PUT, (uint64_t)(r * 5 + q + 1), "v");
    }
  char out[4096];
  struct scan_spec sp;
  scan_spec_init(&sp);
  sp.limit = 2;
  sp.batch = 2;
  struct family_opts fo = {1, 0, 0};
  CU_ASSERT_EQUAL(scan_to_string(p.v, p.n, fo, &sp, true, out, sizeof out), 0);
  CU_ASSERT_STRING_EQUAL(out, "a/p@10=v a/q@10=v + | a/r@10=v a/s@10=v + | a/t@10=v | "
                              "b/p@10=v b/q@10=v + | b/r@10=v b/s@10=v + | b/t@10=v");
  /* reversed from d (inclusive) down to b (exclusive), cells of a row forward */
  scan_spec_init(&sp);
  sp.reversed = true;
  sp.start_row = (const uint8_t *)"d";
  sp.start_row_len = 1;
  sp.stop_row = (const uint8_t *)"b";
  sp.stop_row_len = 1;
  struct qm_qualifier qs[] = {{(const uint8_t *)"t", 1}, {(const uint8_t *)"q", 1}};
  struct scan_family sf = {(const uint8_t *)"f", 1, qs, 2};
  sp.families = &sf;
  sp.n_families = 1;
  CU_ASSERT_EQUAL(scan_to_string(p.v, p.n, fo, &sp, true, out, sizeof out), 0);
  CU_ASSERT_STRING_EQUAL(out, "d/q@10=v d/t@10=v | c/q@10=v c/t@10=v");
  /* reversed start between rows: begins at the row before it */
  sp.start_row = (const uint8_t *)"cz";
  sp.start_row_len = 2;
  sp.n_families = 0;
  sp.limit = 1;
  CU_ASSERT_EQUAL(scan_to_string(p.v, p.n, fo, &sp, false, out, sizeof out), 0);
  CU_ASSERT_STRING_EQUAL(out, "c/p@10=v c/q@10=v c/r@10=v c/s@10=v c/t@10=v");
  pool_free(&p);
}

static void test_bad_arguments_and_empty(void) {
  struct scan_spec sp;
  scan_spec_init(&sp);
  struct scan_family sf = {(const uint8_t *)"zz", 2, NULL, 0};
  sp.families = &sf;
  sp.n_families = 1;
  struct memstore *ms = memstore_create(0);
  struct kv_scanner *src[1] = {kv_scanner_memstore_open(ms, UINT64_MAX, 1)};
  struct store_source st = {(const uint8_t *)"f", 1, {1, 0, 0}, src, 1};
  struct region_scanner *rs = NULL;
  CU_ASSERT_EQUAL(region_scanner_open(&sp, &st, 1, &rs), DFS_EINVAL); /* sources closed */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "zz"));
  /* an empty store and no stores at all */
  sp.n_families = 0;
  src[0] = kv_scanner_memstore_open(ms, UINT64_MAX, 1);
  CU_ASSERT_EQUAL_FATAL(region_scanner_open(&sp, &st, 1, &rs), 0);
  struct scan_result res;
  CU_ASSERT_EQUAL(region_scanner_next(rs, &res), 0);
  CU_ASSERT_EQUAL(region_scanner_next(rs, &res), 0);
  region_scanner_close(rs);
  CU_ASSERT_EQUAL_FATAL(region_scanner_open(&sp, NULL, 0, &rs), 0);
  CU_ASSERT_EQUAL(region_scanner_next(rs, &res), 0);
  region_scanner_close(rs);
  region_scanner_close(NULL);
  memstore_destroy(ms);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("region_scanner", NULL, NULL);
  CU_add_test(s, "random_against_model", test_random_against_model);
  CU_add_test(s, "get_and_bloom", test_get_and_bloom);
  CU_add_test(s, "limit_batch_reversed", test_limit_batch_reversed);
  CU_add_test(s, "bad_arguments_and_empty", test_bad_arguments_and_empty);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
