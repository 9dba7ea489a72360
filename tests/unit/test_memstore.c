/*
 * test_memstore.c - the MemStore (regionserver/memstore.c) and its arena
 * (arena.c): sorted order against qsort, seek / next / peek semantics,
 * reversed-scan positioning, read-point visibility, snapshot and clear
 * while scanners are open, heap-size accounting, big cells, concurrent
 * inserts from 4 threads with concurrent scanners (sortedness, exactly the
 * committed cells visible), row mutations appearing all at once under
 * MVCC, snapshots racing inserts without losing a cell, and concurrent
 * arena allocations that never overlap.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errors.h"
#include "memstore.h"
#include "mvcc.h"

/* A cell whose row/qualifier/value are formatted into caller buffers. */
struct tcell {
  char row[32], qual[32], val[64];
  struct cell c;
};

static void tc_make(struct tcell *t, const char *row, const char *qual, int64_t ts, uint8_t type,
                    uint64_t seq, const char *val) {
  snprintf(t->row, sizeof t->row, "%s", row);
  snprintf(t->qual, sizeof t->qual, "%s", qual);
  snprintf(t->val, sizeof t->val, "%s", val);
  memset(&t->c, 0, sizeof t->c);
  t->c.row = (const uint8_t *)t->row;
  t->c.row_len = (uint32_t)strlen(t->row);
  t->c.family = (const uint8_t *)"cf";
  t->c.family_len = 2;
  t->c.qualifier = (const uint8_t *)t->qual;
  t->c.qualifier_len = (uint32_t)strlen(t->qual);
  t->c.value = (const uint8_t *)t->val;
  t->c.value_len = (uint32_t)strlen(t->val);
  t->c.timestamp = ts;
  t->c.type = type;
  t->c.seq_id = seq;
}

static struct cell row_key(const char *row) {
  struct cell k = {0};
  k.row = (const uint8_t *)row;
  k.row_len = (uint32_t)strlen(row);
  return k;
}

static bool row_is(const struct cell *c, const char *row) {
  return c && c->row_len == strlen(row) && memcmp(c->row, row, c->row_len) == 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Sorts pointers: a tcell's cell points into the tcell itself. */
static int qcmp(const void *a, const void *b) {
  return cell_compare(&(*(struct tcell *const *)a)->c, &(*(struct tcell *const *)b)->c);
}

static void test_order_matches_sort(void) {
  enum { N = 3000 };
  struct tcell *t = calloc(N, sizeof *t);
  struct memstore *ms = memstore_create(64 << 10); /* small chunks: many of them */
  CU_ASSERT_PTR_NOT_NULL_FATAL(ms);
  uint8_t types[] = {CELL_PUT, CELL_DELETE, CELL_DELETE_COLUMN, CELL_DELETE_FAMILY};
  for (int i = 0; i < N; i++) {
    char row[16], qual[16], val[16];
    snprintf(row, sizeof row, "r%03u", (unsigned)(rnd() % 200));
    snprintf(qual, sizeof qual, "q%u", (unsigned)(rnd() % 4));
    snprintf(val, sizeof val, "v%d", i);
    tc_make(&t[i], row, qual, (int64_t)(rnd() % 5), types[rnd() % 4], (uint64_t)i + 1, val);
    CU_ASSERT_EQUAL(memstore_add(ms, &t[i].c, NULL), 0);
  }
  struct tcell **sorted = malloc(N * sizeof *sorted);
  for (int k = 0; k < N; k++) sorted[k] = &t[k];
  qsort(sorted, N, sizeof *sorted, qcmp);
  struct memstore_scanner *s = memstore_scanner_open(ms, UINT64_MAX);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  int i = 0, mismatches = 0;
  const struct cell *c;
  while ((c = memstore_scanner_next(s)) != NULL) {
    if (i >= N || cell_compare(c, &sorted[i]->c) != 0 || c->value_len != sorted[i]->c.value_len ||
        memcmp(c->value, sorted[i]->c.value, c->value_len) != 0)
      mismatches++;
    i++;
  }
  CU_ASSERT_EQUAL(i, N);
  CU_ASSERT_EQUAL(mismatches, 0);
  CU_ASSERT_PTR_NULL(memstore_scanner_peek(s));
  CU_ASSERT_PTR_NULL(memstore_scanner_next(s));
  memstore_scanner_close(s);
  memstore_destroy(ms);
  free(sorted);
  free(t);
}

/* memstore_add_cells: batches sorted ascending (the splice is reused),
 * descending and unsorted (it must be abandoned) end up in the same order
 * as one-by-one inserts, and delta sums the batch. */
static void test_add_cells_batches(void) {
  enum { N = 4000 };
  struct tcell *t = calloc(N, sizeof *t);
  struct tcell **p = malloc(N * sizeof *p);
  struct cell *batch = malloc(N * sizeof *batch);
  struct memstore *ms = memstore_create(64 << 10);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ms);
  for (int i = 0; i < N; i++) {
    char row[16], qual[16], val[16];
    snprintf(row, sizeof row, "r%03u", (unsigned)(rnd() % 100));
    snprintf(qual, sizeof qual, "q%02u", (unsigned)(rnd() % 30));
    snprintf(val, sizeof val, "v%d", i);
    tc_make(&t[i], row, qual, (int64_t)(rnd() % 3), CELL_PUT, (uint64_t)i + 1, val);
    p[i] = &t[i];
  }
  uint64_t cells = 0, heap = 0;
  for (int i = 0, b = 0; i < N; b++) {
    int n = 1 + (int)(rnd() % 40);
    if (n > N - i) n = N - i;
    qsort(&p[i], (size_t)n, sizeof *p, qcmp);
    for (int k = 0; k < n; k++) {
      int from = b % 3 == 0 ? k : b % 3 == 1 ? n - 1 - k : (int)(rnd() % (unsigned)n);
      batch[k] = p[i + from]->c; /* (the unsorted kind may repeat a cell: a duplicate) */
    }
    struct memstore_size d;
    CU_ASSERT_EQUAL(memstore_add_cells(ms, batch, (size_t)n, &d), 0);
    CU_ASSERT_EQUAL(d.cells, (uint64_t)n);
    cells += d.cells;
    heap += d.heap_size;
    i += n;
  }
  struct memstore_info a;
  memstore_get_info(ms, &a, NULL);
  CU_ASSERT_EQUAL(a.size.cells, cells);
  CU_ASSERT_EQUAL(a.size.heap_size, heap);
  struct memstore_scanner *s = memstore_scanner_open(ms, UINT64_MAX);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  const struct cell *c, *prev = NULL;
  uint64_t n = 0;
  int bad = 0;
  while ((c = memstore_scanner_next(s)) != NULL) {
    if (prev && cell_compare(prev, c) > 0) bad++;
    prev = c;
    n++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(n, cells);
  memstore_scanner_close(s);
  /* A bad cell anywhere in a batch: nothing of it is added. */
  struct tcell x, y;
  tc_make(&x, "zz", "q", 1, CELL_PUT, 1, "v");
  tc_make(&y, "zz", "q", 1, CELL_PUT, 1, "v");
  y.c.row_len = 0;
  struct cell two[2] = {x.c, y.c};
  CU_ASSERT_EQUAL(memstore_add_cells(ms, two, 2, NULL), DFS_EINVAL);
  memstore_get_info(ms, &a, NULL);
  CU_ASSERT_EQUAL(a.size.cells, cells);
  memstore_destroy(ms);
  free(batch);
  free(p);
  free(t);
}

static void test_seek_peek_next(void) {
  struct memstore *ms = memstore_create(0);
  struct tcell t[6];
  tc_make(&t[0], "a", "q", 5, CELL_PUT, 1, "a5");
  tc_make(&t[1], "b", "q", 9, CELL_PUT, 2, "b9");
  tc_make(&t[2], "b", "q", 3, CELL_PUT, 3, "b3");
  tc_make(&t[3], "b", "r", 1, CELL_PUT, 4, "br");
  tc_make(&t[4], "d", "q", 1, CELL_PUT, 5, "d");
  tc_make(&t[5], "da", "q", 1, CELL_PUT, 6, "da");
  for (int i = 5; i >= 0; i--) CU_ASSERT_EQUAL(memstore_add(ms, &t[i].c, NULL), 0);
  struct memstore_scanner *s = memstore_scanner_open(ms, UINT64_MAX);
  /* Open positions at the first cell; peek does not move. */
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[0].c), 0);
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[0].c), 0);
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_next(s), &t[0].c), 0);
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[1].c), 0);
  /* Exact key. */
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &t[2].c));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[2].c), 0);
  /* Between versions: ts 5 of b/q lands on ts 3. */
  struct tcell k;
  tc_make(&k, "b", "q", 5, CELL_PUT, 0, "");
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &k.c));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[2].c), 0);
  /* The seq id counts: key (b,q,3,Put,seq 2) is after seq 3. */
  tc_make(&k, "b", "q", 3, CELL_PUT, 2, "");
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &k.c));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[3].c), 0);
  /* Seeking backwards works. */
  struct cell first_b = row_key("b");
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &first_b));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[1].c), 0);
  /* A row that does not exist: the next row; a prefix row before longer. */
  struct cell c_key = row_key("c");
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &c_key));
  CU_ASSERT_TRUE(row_is(memstore_scanner_peek(s), "d"));
  CU_ASSERT_TRUE(row_is(memstore_scanner_next(s), "d"));
  CU_ASSERT_TRUE(row_is(memstore_scanner_next(s), "da"));
  CU_ASSERT_PTR_NULL(memstore_scanner_next(s));
  /* Before everything and after everything. */
  struct cell empty = {0};
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &empty));
  CU_ASSERT_TRUE(row_is(memstore_scanner_peek(s), "a"));
  struct cell z = row_key("z");
  CU_ASSERT_FALSE(memstore_scanner_seek(s, &z));
  CU_ASSERT_PTR_NULL(memstore_scanner_peek(s));
  /* Read point: only seq <= 3 visible; seeking skips invisible cells. */
  memstore_scanner_close(s);
  s = memstore_scanner_open(ms, 3);
  CU_ASSERT_TRUE(memstore_scanner_seek(s, &first_b));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_next(s), &t[1].c), 0);
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_next(s), &t[2].c), 0);
  CU_ASSERT_PTR_NULL(memstore_scanner_next(s)); /* b/r (seq 4) and d.. are above 3 */
  CU_ASSERT_FALSE(memstore_scanner_seek(s, &c_key));
  memstore_scanner_close(s);
  s = memstore_scanner_open(ms, 0);
  CU_ASSERT_PTR_NULL(memstore_scanner_peek(s));
  memstore_scanner_close(s);
  memstore_destroy(ms);
}

static void test_reverse_positioning(void) {
  struct memstore *ms = memstore_create(0);
  struct tcell t[5];
  tc_make(&t[0], "a", "q", 1, CELL_PUT, 1, "");
  tc_make(&t[1], "b", "q", 2, CELL_PUT, 2, "");
  tc_make(&t[2], "b", "r", 1, CELL_PUT, 3, "");
  tc_make(&t[3], "c", "q", 1, CELL_PUT, 9, ""); /* invisible at read point 5 */
  tc_make(&t[4], "d", "q", 1, CELL_PUT, 4, "");
  for (int i = 0; i < 5; i++) memstore_add(ms, &t[i].c, NULL);
  /* Put b's first cell into the snapshot, the rest stays active. */
  struct memstore_info info;
  CU_ASSERT_EQUAL(memstore_snapshot(ms, &info), 0);
  struct tcell late;
  tc_make(&late, "b", "a", 1, CELL_PUT, 5, "");
  memstore_add(ms, &late.c, NULL);

  struct memstore_scanner *s = memstore_scanner_open(ms, 5);
  CU_ASSERT_TRUE(memstore_scanner_seek_to_last_row(s));
  CU_ASSERT_TRUE(row_is(memstore_scanner_peek(s), "d"));
  struct cell kd = row_key("d");
  /* Previous row of d is b (c is invisible), positioned at b's first cell. */
  CU_ASSERT_TRUE(memstore_scanner_seek_to_previous_row(s, &kd));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &late.c), 0);
  /* Previous row of (b, anything) is a. */
  CU_ASSERT_TRUE(memstore_scanner_seek_to_previous_row(s, &t[2].c));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[0].c), 0);
  CU_ASSERT_FALSE(memstore_scanner_seek_to_previous_row(s, &t[0].c));
  CU_ASSERT_PTR_NULL(memstore_scanner_peek(s));
  memstore_scanner_close(s);
  /* With everything visible, c is back and is the last row before d. */
  s = memstore_scanner_open(ms, UINT64_MAX);
  CU_ASSERT_TRUE(memstore_scanner_seek_to_previous_row(s, &kd));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[3].c), 0);
  memstore_scanner_close(s);
  /* Read point 3: the last row is b (d has seq 4). */
  s = memstore_scanner_open(ms, 3);
  CU_ASSERT_TRUE(memstore_scanner_seek_to_last_row(s));
  CU_ASSERT_EQUAL(cell_compare(memstore_scanner_peek(s), &t[1].c), 0);
  memstore_scanner_close(s);
  s = memstore_scanner_open(ms, 0);
  CU_ASSERT_FALSE(memstore_scanner_seek_to_last_row(s));
  memstore_scanner_close(s);
  memstore_destroy(ms);
}

static int count_cells(struct memstore_scanner *s) {
  int n = 0;
  while (memstore_scanner_next(s)) n++;
  return n;
}

static void test_snapshot_and_clear_while_scanning(void) {
  struct memstore *ms = memstore_create(4096);
  struct tcell t;
  char row[16];
  for (int i = 0; i < 100; i += 2) { /* even rows before the snapshot */
    snprintf(row, sizeof row, "row%03d", i);
    tc_make(&t, row, "q", 100 + i, CELL_PUT, (uint64_t)i + 1, "v");
    CU_ASSERT_EQUAL(memstore_add(ms, &t.c, NULL), 0);
  }
  struct memstore_scanner *before = memstore_scanner_open(ms, UINT64_MAX);
  CU_ASSERT_FALSE(memstore_has_snapshot(ms));
  CU_ASSERT_EQUAL(memstore_clear_snapshot(ms), DFS_ENOENT);
  CU_ASSERT_PTR_NULL(memstore_snapshot_scanner_open(ms));
  CU_ASSERT_EQUAL(dfs_err_code(), DFS_ENOENT);

  struct memstore_info info;
  CU_ASSERT_EQUAL(memstore_snapshot(ms, &info), 0);
  CU_ASSERT_TRUE(memstore_has_snapshot(ms));
  CU_ASSERT_EQUAL(info.size.cells, 50);
  CU_ASSERT_EQUAL(info.max_seq_id, 99);
  CU_ASSERT_EQUAL(info.min_timestamp, 100);
  CU_ASSERT_EQUAL(info.max_timestamp, 198);
  CU_ASSERT_EQUAL(memstore_snapshot(ms, NULL), DFS_EEXIST);

  for (int i = 1; i < 100; i += 2) { /* odd rows after */
    snprintf(row, sizeof row, "row%03d", i);
    tc_make(&t, row, "q", 100 + i, CELL_PUT, (uint64_t)i + 1, "v");
    CU_ASSERT_EQUAL(memstore_add(ms, &t.c, NULL), 0);
  }
  struct memstore_scanner *merged = memstore_scanner_open(ms, UINT64_MAX);
  struct memstore_scanner *flush = memstore_snapshot_scanner_open(ms);
  CU_ASSERT_PTR_NOT_NULL_FATAL(flush);
  /* Read half of the merged scan, then the flush finishes and clears. */
  for (int i = 0; i < 50; i++) {
    snprintf(row, sizeof row, "row%03d", i);
    CU_ASSERT_TRUE(row_is(memstore_scanner_next(merged), row));
  }
  CU_ASSERT_EQUAL(count_cells(flush), 50);
  CU_ASSERT_EQUAL(memstore_clear_snapshot(ms), 0);
  CU_ASSERT_FALSE(memstore_has_snapshot(ms));
  /* Scanners opened before the clear still read the dropped segment. */
  for (int i = 50; i < 100; i++) {
    snprintf(row, sizeof row, "row%03d", i);
    CU_ASSERT_TRUE(row_is(memstore_scanner_next(merged), row));
  }
  CU_ASSERT_PTR_NULL(memstore_scanner_next(merged));
  struct cell k = row_key("row010");
  CU_ASSERT_TRUE(memstore_scanner_seek(merged, &k)); /* seek back into the snapshot part */
  CU_ASSERT_TRUE(row_is(memstore_scanner_peek(merged), "row010"));
  CU_ASSERT_EQUAL(count_cells(before), 50); /* saw the old active only */
  memstore_scanner_close(before);
  memstore_scanner_close(merged);
  memstore_scanner_close(flush);

  /* After the clear: only the odd rows remain; a new snapshot is allowed. */
  struct memstore_scanner *after = memstore_scanner_open(ms, UINT64_MAX);
  CU_ASSERT_TRUE(row_is(memstore_scanner_peek(after), "row001"));
  CU_ASSERT_EQUAL(count_cells(after), 50);
  CU_ASSERT_EQUAL(memstore_snapshot(ms, &info), 0);
  CU_ASSERT_EQUAL(info.size.cells, 50);
  /* A scanner may outlive the MemStore. */
  memstore_destroy(ms);
  CU_ASSERT_TRUE(memstore_scanner_seek(after, &k));
  CU_ASSERT_TRUE(row_is(memstore_scanner_peek(after), "row011"));
  memstore_scanner_close(after);
  memstore_scanner_close(NULL);
}

static void test_heap_size_accounting(void) {
  struct memstore *ms = memstore_create(0);
  struct memstore_info a, s;
  memstore_get_info(ms, &a, &s);
  CU_ASSERT_EQUAL(a.size.cells, 0);
  CU_ASSERT_EQUAL(a.size.heap_size, 0);
  CU_ASSERT_EQUAL(a.arena_reserved, 0); /* no chunk until the first cell */
  CU_ASSERT_EQUAL(a.max_seq_id, 0);
  CU_ASSERT_EQUAL(a.min_timestamp, INT64_MAX);
  CU_ASSERT_EQUAL(a.max_timestamp, INT64_MIN);
  CU_ASSERT_EQUAL(memstore_heap_size(ms), 0);

  uint64_t data = 0, heap = 0, payload = 0;
  struct tcell t;
  for (int i = 0; i < 1000; i++) {
    char row[16], val[40];
    snprintf(row, sizeof row, "r%d", i);
    snprintf(val, sizeof val, "%0*d", i % 37, i);
    tc_make(&t, row, "qual", i - 500, CELL_PUT, 7, val);
    struct memstore_size d = {0};
    CU_ASSERT_EQUAL(memstore_add(ms, &t.c, &d), 0);
    CU_ASSERT_EQUAL(d.cells, 1);
    CU_ASSERT_EQUAL(d.data_size, cell_encoded_size(&t.c));
    uint64_t bytes = t.c.row_len + t.c.family_len + t.c.qualifier_len + t.c.value_len;
    /* The node holds a struct cell, at least one link and the bytes. */
    CU_ASSERT_TRUE(d.heap_size >= sizeof(struct cell) + sizeof(void *) + bytes);
    CU_ASSERT_TRUE(d.heap_size <= sizeof(struct cell) + 16 * sizeof(void *) + bytes + 8);
    CU_ASSERT_EQUAL(d.heap_size % 8, 0);
    data += d.data_size;
    heap += d.heap_size;
    payload += bytes;
  }
  memstore_get_info(ms, &a, &s);
  CU_ASSERT_EQUAL(a.size.cells, 1000);
  CU_ASSERT_EQUAL(a.size.data_size, data);
  CU_ASSERT_EQUAL(a.size.heap_size, heap);
  CU_ASSERT_EQUAL(a.max_seq_id, 7);
  CU_ASSERT_EQUAL(a.min_timestamp, -500);
  CU_ASSERT_EQUAL(a.max_timestamp, 499);
  CU_ASSERT_TRUE(a.arena_reserved >= heap);
  CU_ASSERT_TRUE(a.arena_reserved <= heap + (2u << 20)); /* at most one chunk's slack */
  CU_ASSERT_EQUAL(s.size.cells, 0);
  CU_ASSERT_EQUAL(memstore_heap_size(ms), heap);

  /* Snapshot: the sizes move with it; the new active is empty. */
  CU_ASSERT_EQUAL(memstore_snapshot(ms, NULL), 0);
  memstore_get_info(ms, &a, &s);
  CU_ASSERT_EQUAL(a.size.heap_size, 0);
  CU_ASSERT_EQUAL(s.size.heap_size, heap);
  CU_ASSERT_EQUAL(s.size.data_size, data);
  tc_make(&t, "x", "q", 1, CELL_PUT, 8, "v");
  struct memstore_size d;
  memstore_add(ms, &t.c, &d);
  CU_ASSERT_EQUAL(memstore_heap_size(ms), heap + d.heap_size);
  CU_ASSERT_EQUAL(memstore_clear_snapshot(ms), 0);
  CU_ASSERT_EQUAL(memstore_heap_size(ms), d.heap_size);
  memstore_get_info(ms, NULL, &s);
  CU_ASSERT_EQUAL(s.size.cells, 0);

  /* Invalid cells are refused and change nothing. */
  struct cell bad = t.c;
  bad.family_len = 0;
  CU_ASSERT_EQUAL(memstore_add(ms, &bad, NULL), DFS_EINVAL);
  bad = t.c;
  bad.type = 3;
  CU_ASSERT_EQUAL(memstore_add(ms, &bad, NULL), DFS_EINVAL);
  CU_ASSERT_EQUAL(memstore_heap_size(ms), d.heap_size);
  memstore_destroy(ms);
}

static void test_big_cells(void) {
  struct memstore *ms = memstore_create(64 << 10);
  size_t big = 1 << 20;
  uint8_t *v = malloc(big);
  for (size_t i = 0; i < big; i++) v[i] = (uint8_t)(i * 7);
  struct tcell t;
  for (int i = 0; i < 3; i++) {
    char row[8];
    snprintf(row, sizeof row, "b%d", i);
    tc_make(&t, row, "q", 1, CELL_PUT, 1, "");
    t.c.value = v;
    t.c.value_len = (uint32_t)big;
    CU_ASSERT_EQUAL(memstore_add(ms, &t.c, NULL), 0);
    tc_make(&t, row, "small", 1, CELL_PUT, 1, "s"); /* small ones keep using chunks */
    CU_ASSERT_EQUAL(memstore_add(ms, &t.c, NULL), 0);
  }
  memset(v, 0, big); /* the MemStore has its own copy */
  struct memstore_info a;
  memstore_get_info(ms, &a, NULL);
  CU_ASSERT_TRUE(a.arena_reserved >= 3 * big);
  CU_ASSERT_TRUE(a.arena_reserved < 3 * big + 3 * 4096 + (64 << 10));
  struct memstore_scanner *s = memstore_scanner_open(ms, UINT64_MAX);
  const struct cell *c;
  int bigs = 0, ok = 1;
  while ((c = memstore_scanner_next(s))) {
    if (c->value_len != big) continue;
    bigs++;
    for (size_t i = 0; i < big; i += 4093)
      if (c->value[i] != (uint8_t)(i * 7)) ok = 0;
  }
  CU_ASSERT_EQUAL(bigs, 3);
  CU_ASSERT_TRUE(ok);
  memstore_scanner_close(s);
  free(v);
  memstore_destroy(ms);
}

/* ---- concurrency ---- */

enum { THREADS = 4, WRITES_PER_THREAD = 3000, CELLS_PER_WRITE = 3 };

struct conc {
  struct memstore *ms;
  struct mvcc *mvcc;
  atomic_int writers_left;
  atomic_int bad_insert, bad_order, bad_visibility, bad_count, scans;
  int do_snapshots;
};

/* Each write: one row (thread, i) of CELLS_PER_WRITE cells, all with the
 * write number as seq id and as value. Rows of the threads interleave in
 * the key space so inserts collide in the skip list. */
static void *conc_writer(void *arg) {
  struct conc *cc = ((void **)arg)[0];
  int id = (int)(intptr_t)((void **)arg)[1];
  for (int i = 0; i < WRITES_PER_THREAD; i++) {
    uint64_t wn = mvcc_begin(cc->mvcc);
    char row[32], val[24];
    snprintf(row, sizeof row, "row%05d-%d", i, id);
    snprintf(val, sizeof val, "%llu", (unsigned long long)wn);
    if (id % 2 == 0) {
      /* Half of the threads add the row as one batch, ascending (id 0, 4,
       * ...: each cell goes where the previous one went) or descending. */
      struct tcell t[CELLS_PER_WRITE];
      struct cell cells[CELLS_PER_WRITE];
      for (int q = 0; q < CELLS_PER_WRITE; q++) {
        char qual[8];
        snprintf(qual, sizeof qual, "q%d", id % 4 == 0 ? q : CELLS_PER_WRITE - 1 - q);
        tc_make(&t[q], row, qual, 1000, CELL_PUT, wn, val);
        cells[q] = t[q].c;
      }
      struct memstore_size d;
      if (memstore_add_cells(cc->ms, cells, CELLS_PER_WRITE, &d) != 0 ||
          d.cells != CELLS_PER_WRITE)
        atomic_fetch_add(&cc->bad_insert, 1);
    } else {
      for (int q = 0; q < CELLS_PER_WRITE; q++) {
        struct tcell t;
        char qual[8];
        snprintf(qual, sizeof qual, "q%d", q);
        tc_make(&t, row, qual, 1000, CELL_PUT, wn, val);
        if (memstore_add(cc->ms, &t.c, NULL) != 0) atomic_fetch_add(&cc->bad_insert, 1);
        if ((q & 1) == 0) sched_yield(); /* stretch the window of a half-applied row */
      }
    }
    if (mvcc_complete_and_wait(cc->mvcc, wn) != 0) atomic_fetch_add(&cc->bad_insert, 1);
  }
  atomic_fetch_sub(&cc->writers_left, 1);
  return NULL;
}

/* Scans at the current read point: strictly increasing order, nothing
 * above the read point, every row complete, and exactly the committed
 * cells (every write <= read point is complete and fully inserted).
 * With flushes running, a row may be split between a flushed (cleared)
 * snapshot and the active segment, which the real read path covers with
 * the new HFile: then a row may be short, never long. */
static bool row_ok(const struct conc *cc, uint64_t in_row) {
  return cc->do_snapshots ? in_row <= CELLS_PER_WRITE : in_row == CELLS_PER_WRITE;
}

static void *conc_reader(void *arg) {
  struct conc *cc = arg;
  while (atomic_load(&cc->writers_left) > 0) {
    uint64_t rp = mvcc_read_point(cc->mvcc);
    struct memstore_scanner *s = memstore_scanner_open(cc->ms, rp);
    if (!s) continue;
    const struct cell *c, *prev = NULL;
    uint64_t n = 0, in_row = 0;
    while ((c = memstore_scanner_next(s))) {
      if (prev && cell_compare(prev, c) >= 0) atomic_fetch_add(&cc->bad_order, 1);
      if (c->seq_id > rp) atomic_fetch_add(&cc->bad_visibility, 1);
      if (prev && cell_compare_row_of(prev, c) != 0) {
        if (!row_ok(cc, in_row)) atomic_fetch_add(&cc->bad_visibility, 1);
        in_row = 0;
      }
      in_row++;
      prev = c;
      n++;
    }
    if (prev && !row_ok(cc, in_row)) atomic_fetch_add(&cc->bad_visibility, 1);
    if (!cc->do_snapshots && n != rp * CELLS_PER_WRITE) atomic_fetch_add(&cc->bad_count, 1);
    memstore_scanner_close(s);
    atomic_fetch_add(&cc->scans, 1);
    sched_yield(); /* leave the cores to the writers between scans */
  }
  return NULL;
}

struct conc_run {
  struct conc cc;
  pthread_t w[THREADS], r[2];
  void *args[THREADS][2];
};

static void conc_start(struct conc_run *run, int do_snapshots) {
  struct conc *cc = &run->cc;
  cc->ms = memstore_create(256 << 10);
  cc->mvcc = mvcc_create(0);
  cc->do_snapshots = do_snapshots;
  atomic_init(&cc->writers_left, THREADS);
  atomic_init(&cc->bad_insert, 0);
  atomic_init(&cc->bad_order, 0);
  atomic_init(&cc->bad_visibility, 0);
  atomic_init(&cc->bad_count, 0);
  atomic_init(&cc->scans, 0);
  for (int i = 0; i < THREADS; i++) {
    run->args[i][0] = cc;
    run->args[i][1] = (void *)(intptr_t)i;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&run->w[i], NULL, conc_writer, run->args[i]), 0);
  }
  for (int i = 0; i < 2; i++)
    CU_ASSERT_EQUAL_FATAL(pthread_create(&run->r[i], NULL, conc_reader, cc), 0);
}

static void conc_join(struct conc_run *run) {
  for (int i = 0; i < THREADS; i++) pthread_join(run->w[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(run->r[i], NULL);
  struct conc *cc = &run->cc;
  CU_ASSERT_EQUAL(atomic_load(&cc->bad_insert), 0);
  CU_ASSERT_EQUAL(atomic_load(&cc->bad_order), 0);
  CU_ASSERT_EQUAL(atomic_load(&cc->bad_visibility), 0);
  CU_ASSERT_EQUAL(atomic_load(&cc->bad_count), 0);
  CU_ASSERT_TRUE(atomic_load(&cc->scans) > 0);
  CU_ASSERT_EQUAL(mvcc_read_point(cc->mvcc), (uint64_t)THREADS * WRITES_PER_THREAD);
}

/* Every cell of every write, in order, exactly once, across whatever
 * segments the scanner merges. */
static void check_all_cells(struct memstore_scanner *s, uint64_t expect) {
  const struct cell *c, *prev = NULL;
  uint64_t n = 0;
  int bad = 0;
  while ((c = memstore_scanner_next(s))) {
    if (prev && cell_compare(prev, c) >= 0) bad++;
    prev = c;
    n++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(n, expect);
}

static void test_concurrent_inserts_and_scans(void) {
  struct conc_run run;
  conc_start(&run, 0);
  conc_join(&run);
  struct memstore_scanner *s = memstore_scanner_open(run.cc.ms, UINT64_MAX);
  check_all_cells(s, (uint64_t)THREADS * WRITES_PER_THREAD * CELLS_PER_WRITE);
  memstore_scanner_close(s);
  struct memstore_info a;
  memstore_get_info(run.cc.ms, &a, NULL);
  CU_ASSERT_EQUAL(a.size.cells, (uint64_t)THREADS * WRITES_PER_THREAD * CELLS_PER_WRITE);
  CU_ASSERT_EQUAL(a.max_seq_id, (uint64_t)THREADS * WRITES_PER_THREAD);
  memstore_destroy(run.cc.ms);
  mvcc_destroy(run.cc.mvcc);
}

/* The same load while the main thread flushes over and over: snapshot,
 * scan the snapshot (what a flush writes), clear. No cell may be lost or
 * written twice: the flushed cells plus what stays active are all cells,
 * each once; the readers still see whole rows in order. */
static void test_snapshots_racing_inserts(void) {
  struct conc_run run;
  conc_start(&run, 1);
  struct conc *cc = &run.cc;
  uint64_t flushed = 0, max_flushed_seq = 0;
  int snapshots = 0, bad = 0;
  while (atomic_load(&cc->writers_left) > 0) {
    struct memstore_info info;
    if (memstore_snapshot(cc->ms, &info) != 0) {
      bad++;
      break;
    }
    snapshots++;
    struct memstore_scanner *s = memstore_snapshot_scanner_open(cc->ms);
    if (!s) {
      bad++;
      break;
    }
    const struct cell *c;
    uint64_t n = 0;
    while ((c = memstore_scanner_next(s))) {
      n++;
      if (c->seq_id > max_flushed_seq) max_flushed_seq = c->seq_id;
    }
    if (n != info.size.cells) bad++;
    flushed += n;
    memstore_scanner_close(s);
    if (memstore_clear_snapshot(cc->ms) != 0) bad++;
    sched_yield();
  }
  conc_join(&run);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_TRUE(snapshots > 0);
  struct memstore_info a;
  memstore_get_info(cc->ms, &a, NULL);
  CU_ASSERT_EQUAL(flushed + a.size.cells, (uint64_t)THREADS * WRITES_PER_THREAD * CELLS_PER_WRITE);
  struct memstore_scanner *s = memstore_scanner_open(cc->ms, UINT64_MAX);
  check_all_cells(s, a.size.cells);
  memstore_scanner_close(s);
  memstore_destroy(cc->ms);
  mvcc_destroy(cc->mvcc);
}

/* A row mutation (several cells, one write number) inserted into the
 * MemStore is invisible at the current read point until the write
 * completes, then visible all at once; an earlier incomplete write holds
 * a later complete one back. */
static void test_row_mutation_all_at_once(void) {
  struct memstore *ms = memstore_create(0);
  struct mvcc *m = mvcc_create(0);
  uint64_t w1 = mvcc_begin(m), w2 = mvcc_begin(m);
  struct tcell t;
  const char *quals[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    tc_make(&t, "row2", quals[i], 1, CELL_PUT, w2, "2");
    memstore_add(ms, &t.c, NULL);
  }
  for (int i = 0; i < 2; i++) { /* w1 half inserted */
    tc_make(&t, "row1", quals[i], 1, CELL_PUT, w1, "1");
    memstore_add(ms, &t.c, NULL);
  }
  struct memstore_scanner *s = memstore_scanner_open(ms, mvcc_read_point(m));
  CU_ASSERT_EQUAL(count_cells(s), 0);
  memstore_scanner_close(s);
  CU_ASSERT_EQUAL(mvcc_complete(m, w2), 0);
  s = memstore_scanner_open(ms, mvcc_read_point(m));
  CU_ASSERT_EQUAL(count_cells(s), 0); /* w2 done, but w1 is not */
  memstore_scanner_close(s);
  for (int i = 2; i < 4; i++) {
    tc_make(&t, "row1", quals[i], 1, CELL_PUT, w1, "1");
    memstore_add(ms, &t.c, NULL);
  }
  struct memstore_scanner *old = memstore_scanner_open(ms, mvcc_read_point(m));
  CU_ASSERT_EQUAL(mvcc_complete(m, w1), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), w2);
  s = memstore_scanner_open(ms, mvcc_read_point(m));
  CU_ASSERT_EQUAL(count_cells(s), 8);
  memstore_scanner_close(s);
  /* A scanner keeps the read point it was opened with. */
  CU_ASSERT_EQUAL(count_cells(old), 0);
  memstore_scanner_close(old);
  memstore_destroy(ms);
  mvcc_destroy(m);
}

/* ---- arena ---- */

/* A destroyed arena's chunks go to the pool and the next arena takes them
 * back (the same memory: no page faults); the limit bounds the pool; big
 * allocations' own chunks are not pooled. */
static void test_arena_chunk_pool(void) {
  enum { CHUNK = 64 << 10 };
  arena_pool_set_limit(0);
  CU_ASSERT_EQUAL(arena_pool_bytes(), 0);
  arena_pool_set_limit(ARENA_POOL_DEFAULT_LIMIT);
  struct arena *a = arena_create(CHUNK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  void *first = arena_alloc(a, 1000);
  for (int i = 0; i < 200; i++) CU_ASSERT_PTR_NOT_NULL(arena_alloc(a, 1000)); /* ~4 chunks */
  CU_ASSERT_PTR_NOT_NULL(arena_alloc(a, CHUNK)); /* big: a chunk of its own */
  size_t reserved = arena_reserved(a);
  arena_destroy(a);
  size_t pooled = arena_pool_bytes();
  CU_ASSERT_TRUE(pooled >= 3 * (size_t)CHUNK);
  CU_ASSERT_TRUE(pooled < reserved); /* not the big one */
  a = arena_create(CHUNK);
  void *again = arena_alloc(a, 1000);
  CU_ASSERT_EQUAL(arena_pool_bytes(), pooled - CHUNK); /* one chunk taken back */
  /* The old arena's chunks were pooled newest first, so its first chunk
   * is on top of the pool: the same memory again. */
  CU_ASSERT_PTR_EQUAL(again, first);
  arena_destroy(a);
  CU_ASSERT_EQUAL(arena_pool_bytes(), pooled);
  arena_pool_set_limit(CHUNK + 64); /* one chunk's worth (header included) */
  CU_ASSERT_EQUAL(arena_pool_bytes(), CHUNK); /* the rest freed */
  arena_pool_set_limit(0);
  CU_ASSERT_EQUAL(arena_pool_bytes(), 0);
  a = arena_create(CHUNK);
  CU_ASSERT_PTR_NOT_NULL(arena_alloc(a, 1000));
  arena_destroy(a);
  CU_ASSERT_EQUAL(arena_pool_bytes(), 0); /* limit 0: nothing kept */
  arena_pool_set_limit(ARENA_POOL_DEFAULT_LIMIT);
}

enum { ARENA_THREADS = 4, ARENA_ALLOCS = 20000 };

struct arena_job {
  struct arena *a;
  int id;
  uint8_t **ptrs;
  uint16_t *sizes;
};

static void *arena_worker(void *arg) {
  struct arena_job *j = arg;
  uint64_t x = 0x1234567 + (uint64_t)j->id * 7919;
  for (int i = 0; i < ARENA_ALLOCS; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint16_t n = (uint16_t)(1 + x % 700);
    uint8_t *p = arena_alloc(j->a, n);
    j->ptrs[i] = p;
    j->sizes[i] = n;
    if (p) memset(p, j->id * 31 + (i & 0x1f), n);
  }
  return NULL;
}

static void test_arena_concurrent(void) {
  struct arena *a = arena_create(1); /* raised to the minimum chunk size */
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_EQUAL(arena_chunk_size(a), ARENA_MIN_CHUNK_SIZE);
  CU_ASSERT_PTR_NULL(arena_alloc(a, 0));
  CU_ASSERT_EQUAL(arena_reserved(a), 0);
  arena_destroy(a);

  a = arena_create(64 << 10);
  struct arena_job jobs[ARENA_THREADS];
  pthread_t t[ARENA_THREADS];
  for (int i = 0; i < ARENA_THREADS; i++) {
    jobs[i] = (struct arena_job){a, i, malloc(ARENA_ALLOCS * sizeof(uint8_t *)),
                                 malloc(ARENA_ALLOCS * sizeof(uint16_t))};
    pthread_create(&t[i], NULL, arena_worker, &jobs[i]);
  }
  for (int i = 0; i < ARENA_THREADS; i++) pthread_join(t[i], NULL);
  /* Every block still holds its own pattern (no two overlapped) and is aligned. */
  int bad = 0;
  uint64_t total = 0;
  for (int i = 0; i < ARENA_THREADS; i++) {
    for (int k = 0; k < ARENA_ALLOCS; k++) {
      uint8_t *p = jobs[i].ptrs[k];
      if (!p || (uintptr_t)p % ARENA_ALIGN) {
        bad++;
        continue;
      }
      uint8_t want = (uint8_t)(i * 31 + (k & 0x1f));
      for (int b = 0; b < jobs[i].sizes[k]; b++)
        if (p[b] != want) {
          bad++;
          break;
        }
      total += jobs[i].sizes[k];
    }
    free(jobs[i].ptrs);
    free(jobs[i].sizes);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_TRUE(arena_reserved(a) >= total);
  CU_ASSERT_TRUE(arena_reserved(a) < total * 2);
  /* A large request gets its own chunk and does not retire the current one. */
  size_t before = arena_reserved(a);
  CU_ASSERT_PTR_NOT_NULL(arena_alloc(a, 100 << 10));
  CU_ASSERT_TRUE(arena_reserved(a) >= before + (100 << 10));
  CU_ASSERT_TRUE(arena_reserved(a) < before + (100 << 10) + 4096);
  arena_destroy(a);
  arena_destroy(NULL);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("memstore", NULL, NULL);
  CU_add_test(s, "order_matches_sort", test_order_matches_sort);
  CU_add_test(s, "add_cells_batches", test_add_cells_batches);
  CU_add_test(s, "seek_peek_next", test_seek_peek_next);
  CU_add_test(s, "reverse_positioning", test_reverse_positioning);
  CU_add_test(s, "snapshot_and_clear_while_scanning", test_snapshot_and_clear_while_scanning);
  CU_add_test(s, "heap_size_accounting", test_heap_size_accounting);
  CU_add_test(s, "big_cells", test_big_cells);
  CU_add_test(s, "row_mutation_all_at_once", test_row_mutation_all_at_once);
  CU_add_test(s, "concurrent_inserts_and_scans", test_concurrent_inserts_and_scans);
  CU_add_test(s, "snapshots_racing_inserts", test_snapshots_racing_inserts);
  CU_add_test(s, "arena_concurrent", test_arena_concurrent);
  CU_add_test(s, "arena_chunk_pool", test_arena_chunk_pool);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
