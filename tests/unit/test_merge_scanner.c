/*
 * test_merge_scanner.c - the k-way merge (regionserver/merge_scanner.c):
 * random cells spread over MemStores and moving array sources, merged
 * forward and reversed with random next / reseek / next_row moves and
 * checked against a model cursor over the sorted array; start positions;
 * the tie-break between sources; errors from a source stick.
 */
#include <CUnit/Basic.h>

#include "errors.h"
#include "merge_scanner.h"
#include "read_path_model.h"

static char vbuf[4096][12];

static void gen(struct pool *p, size_t n, uint32_t nrows) {
  for (size_t i = 0; i < n; i++) {
    char row[8], q[4];
    snprintf(row, sizeof row, "r%u", rp_below(nrows));
    snprintf(q, sizeof q, "%c", 'a' + rp_below(4));
    snprintf(vbuf[i % 4096], sizeof vbuf[0], "%zu", i);
    pool_add(p, row, rp_below(2) ? "f" : "g", q, (int64_t)rp_below(10),
             rp_below(5) ? CELL_PUT : CELL_DELETE, i + 1, vbuf[i % 4096]);
  }
}

/* k sources (every third a MemStore) over pool p. */
static struct merge_scanner *open_merge(const struct pool *p, size_t k, bool reversed,
                                        struct memstore **ms) {
  struct cell ***parts = calloc(k, sizeof *parts);
  size_t *np = calloc(k, sizeof *np);
  for (size_t j = 0; j < k; j++) {
    parts[j] = malloc((p->n + 1) * sizeof **parts);
    ms[j] = j % 3 == 0 ? memstore_create(64 << 10) : NULL;
  }
  for (size_t i = 0; i < p->n; i++) {
    size_t j = rp_below((uint32_t)k);
    if (ms[j]) memstore_add(ms[j], p->v[i], NULL);
    else parts[j][np[j]++] = p->v[i];
  }
  struct kv_scanner *subs[16];
  for (size_t j = 0; j < k; j++) {
    subs[j] = ms[j] ? kv_scanner_memstore_open(ms[j], UINT64_MAX, j)
                    : array_source_open(parts[j], np[j], j);
    free(parts[j]);
  }
  free(parts);
  free(np);
  struct merge_scanner *m;
  CU_ASSERT_EQUAL_FATAL(merge_scanner_open(subs, k, reversed, &m), 0);
  return m;
}

/* Model cursor over sorted v: forward a plain index; reversed, rows from
 * the last, cells of a row forward. */
struct model {
  struct cell **v;
  size_t n, pos; /* pos == n: end */
  bool reversed;
};

static size_t row_begin(const struct model *m, size_t i) {
  while (i > 0 && cell_compare_row_of(m->v[i - 1], m->v[i]) == 0) i--;
  return i;
}
static size_t row_end(const struct model *m, size_t i) {
  const struct cell *first = m->v[i];
  while (i < m->n && cell_compare_row_of(m->v[i], first) == 0) i++;
  return i;
}
static size_t lower(const struct model *m, const struct cell *k) {
  size_t i = 0;
  while (i < m->n && cell_compare(m->v[i], k) < 0) i++;
  return i;
}
/* reversed: leave row of i for the previous row */
static void prev_row(struct model *m, size_t i) {
  size_t b = row_begin(m, i);
  m->pos = b == 0 ? m->n : row_begin(m, b - 1);
}
static void model_next(struct model *m) {
  size_t cur = m->pos;
  if (!m->reversed) {
    m->pos++;
    return;
  }
  if (cur + 1 < row_end(m, cur)) m->pos = cur + 1;
  else prev_row(m, cur);
}
static void model_reseek(struct model *m, const struct cell *k) {
  size_t cur = m->pos, l = lower(m, k);
  if (l <= cur) return;
  if (!m->reversed) m->pos = l;
  else if (l < row_end(m, cur)) m->pos = l;
  else prev_row(m, cur);
}
static void model_next_row(struct model *m) {
  if (!m->reversed) m->pos = row_end(m, m->pos);
  else prev_row(m, m->pos);
}

static void run_random(bool reversed) {
  int bad = 0;
  for (int round = 0; round < 30; round++) {
    struct pool p = {0};
    gen(&p, 100 + rp_below(600), 1 + rp_below(40));
    size_t k = 1 + rp_below(6);
    struct memstore *ms[16];
    struct merge_scanner *m = open_merge(&p, k, reversed, ms);
    CU_ASSERT_EQUAL(merge_scanner_sources(m), k);
    struct model md = {malloc(p.n * sizeof(struct cell *)), p.n, 0, reversed};
    memcpy(md.v, p.v, p.n * sizeof(struct cell *));
    cells_sort(md.v, p.n);
    /* start at a random row (or the very beginning / end) */
    char srow[8] = "";
    if (rp_below(3)) snprintf(srow, sizeof srow, "r%u", rp_below(45));
    uint32_t slen = (uint32_t)strlen(srow);
    int rc = merge_scanner_start(m, (const uint8_t *)srow, slen);
    struct cell sk;
    kv_key_first_on_row(&sk, (const uint8_t *)srow, slen);
    if (!reversed) {
      md.pos = lower(&md, &sk);
    } else if (!slen) {
      md.pos = p.n ? row_begin(&md, p.n - 1) : p.n;
    } else { /* last row <= srow */
      size_t l = lower(&md, &sk);
      if (l < p.n && cell_compare_rows(md.v[l]->row, md.v[l]->row_len, sk.row, slen) == 0)
        md.pos = l;
      else
        md.pos = l == 0 ? p.n : row_begin(&md, l - 1);
    }
    CU_ASSERT_EQUAL(rc, md.pos < p.n ? 1 : 0);
    for (int steps = 0; steps < 5000; steps++) {
      const struct cell *c = merge_scanner_peek(m);
      if (md.pos >= p.n) {
        if (c && bad++ < 3) cell_print("extra", c);
        break;
      }
      if (!c || !cell_same(c, md.v[md.pos])) {
        if (bad++ < 3) {
          if (c) cell_print("got ", c);
          cell_print("want", md.v[md.pos]);
        }
        break;
      }
      uint32_t op = rp_below(20);
      if (op == 0) {
        CU_ASSERT_EQUAL(merge_scanner_next_row(m), 0);
        model_next_row(&md);
      } else if (op == 1) { /* reseek to a random later key of this row */
        struct cell key = *c;
        char q[2] = {(char)('a' + rp_below(5)), 0};
        key.qualifier = (const uint8_t *)q;
        key.qualifier_len = 1;
        key.timestamp = (int64_t)rp_below(12) - 1;
        key.type = rp_below(2) ? CELL_PUT : 0;
        if (cell_compare(&key, c) > 0) {
          model_reseek(&md, &key);
          CU_ASSERT_EQUAL(merge_scanner_reseek(m, &key), 0);
        }
      } else {
        CU_ASSERT_EQUAL(merge_scanner_next(m), 0);
        model_next(&md);
      }
    }
    CU_ASSERT_EQUAL(merge_scanner_next(m), 0); /* at the end: a no-op */
    merge_scanner_close(m);
    for (size_t j = 0; j < k; j++) memstore_destroy(ms[j]);
    free(md.v);
    pool_free(&p);
  }
  CU_ASSERT_EQUAL(bad, 0);
}

static void test_forward_random(void) { rp_seed(1); run_random(false); }
static void test_reversed_random(void) { rp_seed(2); run_random(true); }

/* Equal cells (same key and seq_id): the source with the higher order first. */
static void test_tie_break(void) {
  struct pool p = {0};
  struct cell *x = pool_add(&p, "r", "f", "q", 5, CELL_PUT, 0, "old");
  struct cell *y = pool_add(&p, "r", "f", "q", 5, CELL_PUT, 0, "new");
  struct kv_scanner *subs[2] = {array_source_open(&y, 1, 7), array_source_open(&x, 1, 3)};
  for (int rev = 0; rev < 2; rev++) {
    if (rev) {
      subs[0] = array_source_open(&x, 1, 3);
      subs[1] = array_source_open(&y, 1, 7);
    }
    struct merge_scanner *m;
    CU_ASSERT_EQUAL_FATAL(merge_scanner_open(subs, 2, rev, &m), 0);
    CU_ASSERT_EQUAL(merge_scanner_start(m, NULL, 0), 1);
    CU_ASSERT_TRUE(bytes_eq(merge_scanner_peek(m)->value, 3, "new"));
    CU_ASSERT_EQUAL(merge_scanner_next(m), 0);
    CU_ASSERT_TRUE(bytes_eq(merge_scanner_peek(m)->value, 3, "old"));
    CU_ASSERT_EQUAL(merge_scanner_next(m), 0);
    CU_ASSERT_PTR_NULL(merge_scanner_peek(m));
    CU_ASSERT_FALSE(merge_scanner_stable(m));
    merge_scanner_close(m);
  }
  merge_scanner_close(NULL);
  pool_free(&p);
}

/* A source whose next fails after a few steps. */
static int failing_next(struct kv_scanner *k) {
  struct array_source *s = (struct array_source *)k;
  if (s->pos >= 2) return dfs_err_set(DFS_ECORRUPT, "test: block checksum mismatch");
  return as_next(k);
}

static void test_error_sticks(void) {
  struct pool p = {0};
  for (int i = 0; i < 5; i++) {
    char row[4] = {'a', (char)('0' + i), 0};
    pool_add(&p, row, "f", "q", 1, CELL_PUT, (uint64_t)i + 1, "v");
  }
  static struct kv_scanner_ops ops;
  ops = array_source_ops;
  ops.next = failing_next;
  struct kv_scanner *s = array_source_open(p.v, p.n, 1);
  s->ops = &ops;
  struct merge_scanner *m;
  CU_ASSERT_EQUAL_FATAL(merge_scanner_open(&s, 1, false, &m), 0);
  CU_ASSERT_EQUAL(merge_scanner_start(m, NULL, 0), 1);
  CU_ASSERT_EQUAL(merge_scanner_next(m), 0);
  CU_ASSERT_EQUAL(merge_scanner_next(m), 0);
  CU_ASSERT_EQUAL(merge_scanner_next(m), DFS_ECORRUPT);
  CU_ASSERT_PTR_NULL(merge_scanner_peek(m));
  CU_ASSERT_EQUAL(merge_scanner_next_row(m), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(merge_scanner_start(m, NULL, 0), DFS_ECORRUPT);
  merge_scanner_close(m);
  /* no sources at all */
  CU_ASSERT_EQUAL_FATAL(merge_scanner_open(NULL, 0, true, &m), 0);
  CU_ASSERT_EQUAL(merge_scanner_start(m, NULL, 0), 0);
  CU_ASSERT_TRUE(merge_scanner_stable(m));
  merge_scanner_close(m);
  pool_free(&p);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("merge_scanner", NULL, NULL);
  CU_add_test(s, "forward_random", test_forward_random);
  CU_add_test(s, "reversed_random", test_reversed_random);
  CU_add_test(s, "tie_break", test_tie_break);
  CU_add_test(s, "error_sticks", test_error_sticks);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
