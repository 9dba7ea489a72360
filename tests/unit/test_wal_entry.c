/*
 * test_wal_entry.c - the WAL's byte formats without a DFS: record round
 * trip, every single-byte flip and every truncation of a record classified
 * right (corruption vs torn tail), structural damage under a valid
 * checksum, the file header, and the reader over a memory buffer (torn
 * tail offset, corruption with path and offset, skipping a damaged record).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "errors.h"
#include "wal.h"

/* An entry of n cells, deterministic from `seed`; bytes live in st. */
struct sample {
  struct cell cells[8];
  char rows[8][32], quals[8][16], vals[8][64];
  struct wal_entry e;
};

static void make_sample(struct sample *s, int n, uint64_t seed) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < n; i++) {
    snprintf(s->rows[i], sizeof s->rows[i], "row-%llu", (unsigned long long)seed);
    snprintf(s->quals[i], sizeof s->quals[i], "q%d", i);
    snprintf(s->vals[i], sizeof s->vals[i], "value-%llu-%d", (unsigned long long)seed, i);
    struct cell *c = &s->cells[i];
    c->row = (const uint8_t *)s->rows[i];
    c->row_len = (uint32_t)strlen(s->rows[i]);
    c->family = (const uint8_t *)"cf";
    c->family_len = 2;
    c->qualifier = (const uint8_t *)s->quals[i];
    c->qualifier_len = (uint32_t)strlen(s->quals[i]);
    c->value = (const uint8_t *)s->vals[i];
    c->value_len = (uint32_t)strlen(s->vals[i]);
    c->timestamp = 1700000000000 + (int64_t)seed;
    c->type = i == 1 ? CELL_DELETE_COLUMN : CELL_PUT;
    c->seq_id = 999; /* overwritten by the entry's sequence id */
  }
  s->e.region = (const uint8_t *)"t1,,1700000000000.abcdef.";
  s->e.region_len = (uint32_t)strlen((const char *)s->e.region);
  s->e.table = (const uint8_t *)"t1";
  s->e.table_len = 2;
  s->e.seq_id = seed;
  s->e.write_time_ms = 1700000000123;
  s->e.durability = WAL_SYNC;
  s->e.cells = s->cells;
  s->e.n_cells = (size_t)n;
}

static uint8_t *encode(const struct wal_entry *e, size_t *len) {
  *len = wal_record_size(e);
  uint8_t *b = malloc(*len);
  CU_ASSERT_FATAL(b != NULL);
  CU_ASSERT_EQUAL(wal_record_encode(e, b), *len);
  return b;
}

static void check_same(const struct wal_entry *a, const struct wal_entry *b) {
  CU_ASSERT_EQUAL(a->region_len, b->region_len);
  CU_ASSERT(memcmp(a->region, b->region, a->region_len) == 0);
  CU_ASSERT_EQUAL(a->table_len, b->table_len);
  CU_ASSERT(memcmp(a->table, b->table, a->table_len) == 0);
  CU_ASSERT_EQUAL(a->seq_id, b->seq_id);
  CU_ASSERT_EQUAL(a->write_time_ms, b->write_time_ms);
  CU_ASSERT_EQUAL(a->durability, b->durability);
  CU_ASSERT_EQUAL_FATAL(a->n_cells, b->n_cells);
  for (size_t i = 0; i < a->n_cells; i++) {
    struct cell x = a->cells[i], y = b->cells[i];
    x.seq_id = y.seq_id = 0;
    CU_ASSERT_EQUAL(cell_compare(&x, &y), 0);
    CU_ASSERT_EQUAL(x.value_len, y.value_len);
    CU_ASSERT(memcmp(x.value, y.value, x.value_len) == 0);
    CU_ASSERT_EQUAL(b->cells[i].seq_id, a->seq_id); /* stamped with the entry's */
  }
}

static void test_round_trip(void) {
  for (int n = 0; n <= 8; n++) {
    struct sample s;
    make_sample(&s, n, 100 + (uint64_t)n);
    CU_ASSERT_EQUAL(wal_entry_validate(&s.e), 0);
    size_t len;
    uint8_t *b = encode(&s.e, &len);
    struct wal_entry d;
    struct cell *cells = NULL;
    size_t cap = 0, used = 0;
    CU_ASSERT_EQUAL(wal_record_decode(b, len, "f", 16, &d, &cells, &cap, &used), 1);
    CU_ASSERT_EQUAL(used, len);
    check_same(&s.e, &d);
    /* a record followed by more bytes decodes the same */
    uint8_t *two = malloc(2 * len);
    memcpy(two, b, len);
    memcpy(two + len, b, len);
    CU_ASSERT_EQUAL(wal_record_decode(two, 2 * len, "f", 16, &d, &cells, &cap, &used), 1);
    CU_ASSERT_EQUAL(used, len);
    free(two);
    free(cells);
    free(b);
  }
}

static void test_validate(void) {
  struct sample s;
  make_sample(&s, 2, 7);
  s.e.region_len = 0;
  CU_ASSERT_EQUAL(wal_entry_validate(&s.e), DFS_EINVAL);
  make_sample(&s, 2, 7);
  s.e.table = NULL;
  CU_ASSERT_EQUAL(wal_entry_validate(&s.e), DFS_EINVAL);
  make_sample(&s, 2, 7);
  s.cells[1].type = 5;
  CU_ASSERT_EQUAL(wal_entry_validate(&s.e), DFS_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "cell 1"));
  make_sample(&s, 2, 7);
  s.e.durability = 9;
  CU_ASSERT_EQUAL(wal_entry_validate(&s.e), DFS_EINVAL);
  /* over the record limit (the value is never read: validation stops first) */
  make_sample(&s, 8, 7);
  for (int i = 0; i < 8; i++) s.cells[i].value_len = CELL_MAX_VALUE;
  CU_ASSERT_EQUAL(wal_entry_validate(&s.e), DFS_ETOOBIG);
}

/* Every single-bit flip anywhere in a record is corruption, named with
 * the file and the offset; never a different entry, never "torn". */
static void test_flips(void) {
  struct sample s;
  make_sample(&s, 3, 42);
  size_t len;
  uint8_t *b = encode(&s.e, &len);
  struct cell *cells = NULL;
  size_t cap = 0;
  for (size_t i = 0; i < len; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      b[i] ^= (uint8_t)(1u << bit);
      struct wal_entry d;
      size_t used = 0;
      int rc = wal_record_decode(b, len, "/hbase/WALs/s/x.1.1", 1234, &d, &cells, &cap, &used);
      CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
      if (rc == DFS_ECORRUPT) {
        CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "/hbase/WALs/s/x.1.1"));
        CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "offset 1234"));
      } else {
        fprintf(stderr, "flip at %zu bit %d: rc %d\n", i, bit, rc);
      }
      /* a damaged length is not skippable; a damaged payload is */
      if (i < 8) CU_ASSERT_EQUAL(used, 0);
      if (i >= 12) CU_ASSERT_EQUAL(used, len);
      b[i] ^= (uint8_t)(1u << bit);
    }
  }
  free(cells);
  free(b);
}

/* Every proper prefix is "incomplete" (a torn tail), never corruption. */
static void test_truncations(void) {
  struct sample s;
  make_sample(&s, 2, 5);
  size_t len;
  uint8_t *b = encode(&s.e, &len);
  struct cell *cells = NULL;
  size_t cap = 0;
  for (size_t n = 0; n < len; n++) {
    uint8_t *p = malloc(n ? n : 1); /* exact size: ASan catches overreads */
    memcpy(p, b, n);
    struct wal_entry d;
    size_t used = 99;
    CU_ASSERT_EQUAL(wal_record_decode(p, n, "f", 0, &d, &cells, &cap, &used), 0);
    CU_ASSERT_EQUAL(used, n < 8 ? 0 : len);
    free(p);
  }
  free(cells);
  free(b);
}

/* Re-seals a record after editing its payload, so only the structure is wrong. */
static void reseal(uint8_t *b, size_t len) {
  uint32_t plen = (uint32_t)(len - WAL_RECORD_HEADER_LEN);
  b[0] = (uint8_t)(plen >> 24), b[1] = (uint8_t)(plen >> 16), b[2] = (uint8_t)(plen >> 8),
  b[3] = (uint8_t)plen;
  uint32_t h = crc32c(0, b, 4);
  b[4] = (uint8_t)(h >> 24), b[5] = (uint8_t)(h >> 16), b[6] = (uint8_t)(h >> 8), b[7] = (uint8_t)h;
  uint32_t c = crc32c(crc32c(0, b, 4), b + WAL_RECORD_HEADER_LEN, plen);
  b[8] = (uint8_t)(c >> 24), b[9] = (uint8_t)(c >> 16), b[10] = (uint8_t)(c >> 8), b[11] = (uint8_t)c;
}

static void expect_structural(uint8_t *b, size_t len, const char *what) {
  reseal(b, len);
  struct wal_entry d;
  struct cell *cells = NULL;
  size_t cap = 0, used = 0;
  int rc = wal_record_decode(b, len, "f", 0, &d, &cells, &cap, &used);
  CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
  if (rc != DFS_ECORRUPT) fprintf(stderr, "%s: rc %d\n", what, rc);
  else CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), what));
  free(cells);
}

static void test_structure_under_valid_crc(void) {
  struct sample s;
  make_sample(&s, 2, 77);
  size_t len;
  uint8_t *b = encode(&s.e, &len);
  uint8_t *p = b + WAL_RECORD_HEADER_LEN;
  size_t cnt_off = 4 + s.e.region_len + 2 + s.e.table_len + 16; /* n_cells */

  p[0] = 7;
  expect_structural(b, len, "unknown kind");
  p[0] = 1;
  p[1] = 200;
  expect_structural(b, len, "durability");
  p[1] = WAL_SYNC;
  p[2] = 0xff; /* region length runs past the payload */
  expect_structural(b, len, "region name length");
  p[2] = 0;
  p[cnt_off] = 0x7f; /* a huge cell count: refused before any allocation */
  expect_structural(b, len, "cells cannot fit");
  p[cnt_off] = 0;
  p[cnt_off + 3] = 1; /* one cell announced, two present */
  expect_structural(b, len, "after the last cell");
  p[cnt_off + 3] = 3; /* three announced, two present */
  expect_structural(b, len, "cell 2");
  p[cnt_off + 3] = 2;
  p[len - WAL_RECORD_HEADER_LEN - 1] ^= 1; /* last cell's sequence id */
  expect_structural(b, len, "sequence id");
  p[len - WAL_RECORD_HEADER_LEN - 1] ^= 1;
  /* a short payload */
  expect_structural(b, WAL_RECORD_HEADER_LEN + 10, "too short");
  free(b);

  /* a length over the limit with a valid header checksum */
  uint8_t big[WAL_RECORD_HEADER_LEN] = {0x7f, 0xff, 0xff, 0xff};
  uint32_t h = crc32c(0, big, 4);
  big[4] = (uint8_t)(h >> 24), big[5] = (uint8_t)(h >> 16), big[6] = (uint8_t)(h >> 8),
  big[7] = (uint8_t)h;
  struct wal_entry d;
  struct cell *cells = NULL;
  size_t cap = 0, used = 0;
  CU_ASSERT_EQUAL(wal_record_decode(big, sizeof big, "f", 0, &d, &cells, &cap, &used),
                  DFS_ECORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "limit"));
  free(cells);
}

static void test_header(void) {
  uint8_t h[WAL_HEADER_LEN];
  wal_header_encode(h);
  CU_ASSERT_EQUAL(wal_header_check(h, sizeof h, "f"), 0);
  CU_ASSERT_EQUAL(wal_header_check(h, sizeof h - 1, "f"), DFS_ECORRUPT);
  for (size_t i = 0; i < sizeof h; i++) {
    h[i] ^= 0x10;
    CU_ASSERT_EQUAL(wal_header_check(h, sizeof h, "hdr-file"), DFS_ECORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "hdr-file"));
    h[i] ^= 0x10;
  }
}

/* A file image: header + n records with seq ids 1..n; offsets[i] = start of
 * record i, offsets[n] = the end. */
static uint8_t *make_file(int n, size_t *len, size_t *offsets) {
  size_t cap = WAL_HEADER_LEN + (size_t)n * 1024, pos = WAL_HEADER_LEN;
  uint8_t *f = malloc(cap);
  wal_header_encode(f);
  for (int i = 0; i < n; i++) {
    struct sample s;
    make_sample(&s, 1 + i % 4, (uint64_t)i + 1);
    size_t rl = wal_record_size(&s.e);
    CU_ASSERT_FATAL(pos + rl <= cap);
    offsets[i] = pos;
    wal_record_encode(&s.e, f + pos);
    pos += rl;
  }
  offsets[n] = pos;
  *len = pos;
  return f;
}

static int read_all(wal_reader *r, uint64_t *seqs, int max, int *count) {
  struct wal_entry e;
  int rc;
  while ((rc = wal_reader_next(r, &e)) == 1) {
    if (*count < max) seqs[*count] = e.seq_id;
    (*count)++;
  }
  return rc;
}

static void test_reader_buffer(void) {
  enum { N = 100 };
  size_t off[N + 1], len;
  uint8_t *f = make_file(N, &len, off);
  uint64_t seqs[N + 10];
  char want[64];

  /* clean */
  wal_reader *r;
  CU_ASSERT_FATAL(wal_reader_open_buf(f, len, "mem", &r) == 0);
  int cnt = 0;
  CU_ASSERT_EQUAL(read_all(r, seqs, N + 10, &cnt), 0);
  CU_ASSERT_EQUAL(cnt, N);
  for (int i = 0; i < N && i < cnt; i++) CU_ASSERT_EQUAL(seqs[i], (uint64_t)i + 1);
  CU_ASSERT_EQUAL(wal_reader_offset(r), len);
  CU_ASSERT_EQUAL(wal_reader_torn_bytes(r), 0);
  CU_ASSERT_EQUAL(wal_reader_next(r, &(struct wal_entry){0}), 0); /* stays at the end */
  wal_reader_close(r);

  /* torn tail: the last record cut in its middle */
  size_t cut = off[N - 1] + (off[N] - off[N - 1]) / 2;
  CU_ASSERT_FATAL(wal_reader_open_buf(f, cut, "mem", &r) == 0);
  cnt = 0;
  CU_ASSERT_EQUAL(read_all(r, seqs, N + 10, &cnt), 0);
  CU_ASSERT_EQUAL(cnt, N - 1);
  CU_ASSERT_EQUAL(wal_reader_offset(r), off[N - 1]);
  CU_ASSERT_EQUAL(wal_reader_torn_bytes(r), cut - off[N - 1]);
  wal_reader_close(r);

  /* empty and header-short files read as empty */
  CU_ASSERT_FATAL(wal_reader_open_buf(f, 0, "mem", &r) == 0);
  CU_ASSERT_EQUAL(wal_reader_next(r, &(struct wal_entry){0}), 0);
  wal_reader_close(r);
  CU_ASSERT_FATAL(wal_reader_open_buf(f, 7, "mem", &r) == 0);
  CU_ASSERT_EQUAL(wal_reader_next(r, &(struct wal_entry){0}), 0);
  CU_ASSERT_EQUAL(wal_reader_torn_bytes(r), 7);
  wal_reader_close(r);

  /* a payload byte flipped in record 50: 50 entries, then the error with
   * path and offset (sticky), then skip and the other 49 */
  uint8_t *g = malloc(len);
  memcpy(g, f, len);
  g[off[50] + WAL_RECORD_HEADER_LEN + 3] ^= 0x40;
  CU_ASSERT_FATAL(wal_reader_open_buf(g, len, "/hbase/WALs/s/s.1.7", &r) == 0);
  cnt = 0;
  CU_ASSERT_EQUAL(read_all(r, seqs, N + 10, &cnt), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(cnt, 50);
  snprintf(want, sizeof want, "offset %zu", off[50]);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), want));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "/hbase/WALs/s/s.1.7"));
  CU_ASSERT_EQUAL(wal_reader_offset(r), off[50]);
  CU_ASSERT_EQUAL(wal_reader_next(r, &(struct wal_entry){0}), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(wal_reader_skip(r), 0);
  cnt = 0;
  CU_ASSERT_EQUAL(read_all(r, seqs, N + 10, &cnt), 0);
  CU_ASSERT_EQUAL(cnt, N - 51);
  CU_ASSERT_EQUAL(seqs[0], 52);
  wal_reader_close(r);

  /* a length byte flipped: corruption (not a torn tail), not skippable */
  memcpy(g, f, len);
  g[off[20] + 1] ^= 0x01;
  CU_ASSERT_FATAL(wal_reader_open_buf(g, len, "mem", &r) == 0);
  cnt = 0;
  CU_ASSERT_EQUAL(read_all(r, seqs, N + 10, &cnt), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(cnt, 20);
  snprintf(want, sizeof want, "offset %zu", off[20]);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), want));
  CU_ASSERT_EQUAL(wal_reader_skip(r), DFS_ECORRUPT);
  wal_reader_close(r);

  /* a bad file header */
  memcpy(g, f, len);
  g[2] ^= 1;
  CU_ASSERT_FATAL(wal_reader_open_buf(g, len, "mem", &r) == 0);
  CU_ASSERT_EQUAL(wal_reader_next(r, &(struct wal_entry){0}), DFS_ECORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "magic"));
  wal_reader_close(r);
  free(g);
  free(f);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("wal_entry", NULL, NULL);
  CU_add_test(s, "record round trip", test_round_trip);
  CU_add_test(s, "entry validation", test_validate);
  CU_add_test(s, "every bit flip is corruption with file and offset", test_flips);
  CU_add_test(s, "every truncation is a torn tail", test_truncations);
  CU_add_test(s, "structural damage under a valid checksum", test_structure_under_valid_crc);
  CU_add_test(s, "file header", test_header);
  CU_add_test(s, "reader over a buffer: torn tail, corruption, skip", test_reader_buffer);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
