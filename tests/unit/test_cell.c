/*
 * test_cell.c - the cell model (client/cell.c): the order (row, family,
 * qualifier ascending as unsigned bytes with prefixes first, timestamp
 * descending, type descending, sequence id descending), the partial
 * comparators, validation limits, the KeyValue encoding (exact bytes,
 * round trips) and the decoder's refusal of truncated or inconsistent
 * input, cell_dup.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"
#include "errors.h"
#include "test_cells.h"

static int sign(int v) { return v < 0 ? -1 : v > 0 ? 1 : 0; }

/* a < b, and the comparator agrees both ways. */
static void expect_lt(struct cell a, struct cell b) {
  CU_ASSERT_EQUAL(sign(cell_compare(&a, &b)), -1);
  CU_ASSERT_EQUAL(sign(cell_compare(&b, &a)), 1);
}

static void test_order_row_family_qualifier(void) {
  expect_lt(tc_cell("a", "f", "q", 1, CELL_PUT, 1, ""), tc_cell("b", "f", "q", 1, CELL_PUT, 1, ""));
  /* A proper prefix sorts first, for rows, families and qualifiers. */
  expect_lt(tc_cell("ab", "f", "q", 1, CELL_PUT, 1, ""), tc_cell("abc", "f", "q", 1, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "q", 1, CELL_PUT, 1, ""), tc_cell("r", "ff", "q", 1, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "", 1, CELL_PUT, 1, ""), tc_cell("r", "f", "q", 1, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "q", 1, CELL_PUT, 1, ""), tc_cell("r", "f", "qq", 1, CELL_PUT, 1, ""));
  /* Row outranks family, family outranks qualifier. */
  expect_lt(tc_cell("a", "z", "z", 1, CELL_PUT, 1, ""), tc_cell("b", "a", "a", 1, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "a", "z", 1, CELL_PUT, 1, ""), tc_cell("r", "b", "a", 1, CELL_PUT, 1, ""));
  /* A shorter row sorts first even when its family bytes would be larger:
   * the row is compared as a whole, not as a prefix of the key. */
  expect_lt(tc_cell("r", "z", "q", 1, CELL_PUT, 1, ""), tc_cell("r\x01", "a", "q", 1, CELL_PUT, 1, ""));
  /* Bytes are unsigned: 0xff after 0x01. */
  expect_lt(tc_cell("\x01", "f", "q", 1, CELL_PUT, 1, ""), tc_cell("\xff", "f", "q", 1, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "\x7f", 1, CELL_PUT, 1, ""), tc_cell("r", "f", "\x80", 1, CELL_PUT, 1, ""));
  /* The value never matters. */
  struct cell a = tc_cell("r", "f", "q", 1, CELL_PUT, 1, "zzz"), b = tc_cell("r", "f", "q", 1, CELL_PUT, 1, "a");
  CU_ASSERT_EQUAL(cell_compare(&a, &b), 0);
}

static void test_order_version_type_seq(void) {
  /* Newest timestamp first, including negative and extreme values. */
  expect_lt(tc_cell("r", "f", "q", 200, CELL_PUT, 1, ""), tc_cell("r", "f", "q", 100, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "q", CELL_LATEST_TIMESTAMP, CELL_PUT, 1, ""),
            tc_cell("r", "f", "q", 0, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "q", 0, CELL_PUT, 1, ""), tc_cell("r", "f", "q", -1, CELL_PUT, 1, ""));
  expect_lt(tc_cell("r", "f", "q", 1, CELL_PUT, 1, ""), tc_cell("r", "f", "q", INT64_MIN, CELL_PUT, 1, ""));
  /* Timestamp outranks type and sequence id. */
  expect_lt(tc_cell("r", "f", "q", 2, CELL_PUT, 1, ""), tc_cell("r", "f", "q", 1, CELL_DELETE_FAMILY, 9, ""));
  /* Type descending: markers before puts at the same timestamp. */
  uint8_t types[] = {CELL_DELETE_FAMILY, CELL_DELETE_COLUMN, CELL_DELETE_FAMILY_VERSION,
                     CELL_DELETE, CELL_PUT};
  for (size_t i = 0; i + 1 < sizeof types; i++)
    expect_lt(tc_cell("r", "f", "q", 5, types[i], 1, ""), tc_cell("r", "f", "q", 5, types[i + 1], 1, ""));
  /* Type outranks sequence id. */
  expect_lt(tc_cell("r", "f", "q", 5, CELL_DELETE, 1, ""), tc_cell("r", "f", "q", 5, CELL_PUT, 9, ""));
  /* Sequence id descending: the latest write first. */
  expect_lt(tc_cell("r", "f", "q", 5, CELL_PUT, 9, ""), tc_cell("r", "f", "q", 5, CELL_PUT, 3, ""));
  expect_lt(tc_cell("r", "f", "q", 5, CELL_PUT, UINT64_MAX, ""), tc_cell("r", "f", "q", 5, CELL_PUT, 0, ""));
  struct cell a = tc_cell("r", "f", "q", 5, CELL_PUT, 7, "x"), b = tc_cell("r", "f", "q", 5, CELL_PUT, 7, "y");
  CU_ASSERT_EQUAL(cell_compare(&a, &b), 0);
}

static void test_partial_comparators(void) {
  struct cell a = tc_cell("row", "f", "q", 5, CELL_PUT, 9, "v");
  struct cell b = tc_cell("row", "f", "q", 4, CELL_DELETE, 1, "w");
  struct cell c = tc_cell("row", "f", "q2", 5, CELL_PUT, 9, "v");
  struct cell d = tc_cell("rox", "f", "q", 5, CELL_PUT, 9, "v");
  struct cell e = tc_cell("row", "f", "q", 5, CELL_PUT, 1, "z");
  CU_ASSERT_TRUE(cell_same_column(&a, &b));
  CU_ASSERT_FALSE(cell_same_column(&a, &c));
  CU_ASSERT_FALSE(cell_same_column(&a, &d));
  CU_ASSERT_EQUAL(cell_compare_row_of(&a, &c), 0);
  CU_ASSERT_TRUE(cell_compare_row_of(&a, &d) < 0);
  CU_ASSERT_TRUE(cell_compare_row_of(&d, &a) > 0);
  /* compare_key ignores seq id and value, compare does not ignore seq. */
  CU_ASSERT_EQUAL(cell_compare_key(&a, &e), 0);
  CU_ASSERT_TRUE(cell_compare(&a, &e) < 0);
  CU_ASSERT_TRUE(cell_compare_key(&a, &b) < 0);
  CU_ASSERT_TRUE(cell_compare_rows((const uint8_t *)"", 0, (const uint8_t *)"a", 1) < 0);
  CU_ASSERT_EQUAL(cell_compare_rows(NULL, 0, NULL, 0), 0);
  /* A key with an empty family sorts before every real cell of its row. */
  struct cell first = {0};
  first.row = (const uint8_t *)"row";
  first.row_len = 3;
  CU_ASSERT_TRUE(cell_compare(&first, &a) < 0);
  CU_ASSERT_TRUE(cell_compare(&first, &b) < 0);
  struct cell prev_row = tc_cell("rov", "zz", "zz", INT64_MIN, CELL_PUT, 0, "");
  CU_ASSERT_TRUE(cell_compare(&prev_row, &first) < 0);
}

static void test_types(void) {
  CU_ASSERT_TRUE(cell_type_valid(CELL_PUT));
  CU_ASSERT_TRUE(cell_type_valid(CELL_DELETE));
  CU_ASSERT_TRUE(cell_type_valid(CELL_DELETE_FAMILY_VERSION));
  CU_ASSERT_TRUE(cell_type_valid(CELL_DELETE_COLUMN));
  CU_ASSERT_TRUE(cell_type_valid(CELL_DELETE_FAMILY));
  uint8_t bad[] = {0, 1, 3, 5, 6, 7, 9, 11, 13, 15, 255};
  for (size_t i = 0; i < sizeof bad; i++) CU_ASSERT_FALSE(cell_type_valid(bad[i]));
  CU_ASSERT_STRING_EQUAL(cell_type_name(CELL_PUT), "Put");
  CU_ASSERT_STRING_EQUAL(cell_type_name(CELL_DELETE_COLUMN), "DeleteColumn");
  CU_ASSERT_STRING_EQUAL(cell_type_name(CELL_DELETE_FAMILY), "DeleteFamily");
  CU_ASSERT_STRING_EQUAL(cell_type_name(CELL_DELETE_FAMILY_VERSION), "DeleteFamilyVersion");
  CU_ASSERT_STRING_EQUAL(cell_type_name(CELL_DELETE), "Delete");
  CU_ASSERT_STRING_EQUAL(cell_type_name(77), "Unknown");
  struct cell p = tc_cell("r", "f", "q", 1, CELL_PUT, 1, ""), d = tc_cell("r", "f", "q", 1, CELL_DELETE, 1, "");
  CU_ASSERT_FALSE(cell_is_delete(&p));
  CU_ASSERT_TRUE(cell_is_delete(&d));
}

static void test_validate(void) {
  struct cell c = tc_cell("r", "f", "", 1, CELL_PUT, 1, "");
  CU_ASSERT_EQUAL(cell_validate(&c), 0);
  struct cell bad = c;
  bad.row_len = 0;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "row length"));
  bad = c;
  bad.row_len = CELL_MAX_ROW + 1;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  bad = c;
  bad.family_len = 0;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "family length"));
  bad = c;
  bad.family_len = CELL_MAX_FAMILY + 1;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  bad = c;
  bad.qualifier_len = CELL_MAX_QUALIFIER + 1;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  bad = c;
  bad.value_len = CELL_MAX_VALUE + 1;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  bad = c;
  bad.type = 5;
  CU_ASSERT_EQUAL(cell_validate(&bad), DFS_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "type"));
  /* The limits themselves are fine. */
  struct cell big = c;
  big.row_len = CELL_MAX_ROW;
  big.family_len = CELL_MAX_FAMILY;
  big.qualifier_len = CELL_MAX_QUALIFIER;
  big.value_len = CELL_MAX_VALUE;
  CU_ASSERT_EQUAL(cell_validate(&big), 0);
}

static void test_encode_exact_bytes(void) {
  struct cell c = tc_cell("row", "cf", "q1", 0x0102030405060708LL, CELL_DELETE_COLUMN, 0x1122334455667788ULL,
                     "val");
  static const uint8_t want[] = {
      0, 0, 0, 19,                 /* key_len = 2+3+1+2+2+8+1 */
      0, 0, 0, 3,                  /* value_len */
      0, 3, 'r', 'o', 'w',         /* row */
      2, 'c', 'f',                 /* family */
      'q', '1',                    /* qualifier */
      1, 2, 3, 4, 5, 6, 7, 8,      /* timestamp */
      12,                          /* type */
      'v', 'a', 'l',               /* value */
      0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  CU_ASSERT_EQUAL(cell_encoded_size(&c), sizeof want);
  uint8_t buf[64];
  CU_ASSERT_EQUAL(cell_encode(&c, buf), sizeof want);
  CU_ASSERT_EQUAL(memcmp(buf, want, sizeof want), 0);
}

static void expect_same(const struct cell *a, const struct cell *b) {
  CU_ASSERT_EQUAL(cell_compare(a, b), 0);
  CU_ASSERT_EQUAL(a->row_len, b->row_len);
  CU_ASSERT_EQUAL(a->family_len, b->family_len);
  CU_ASSERT_EQUAL(a->qualifier_len, b->qualifier_len);
  CU_ASSERT_EQUAL(a->value_len, b->value_len);
  CU_ASSERT_EQUAL(a->timestamp, b->timestamp);
  CU_ASSERT_EQUAL(a->type, b->type);
  CU_ASSERT_EQUAL(a->seq_id, b->seq_id);
  CU_ASSERT_TRUE(a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_round_trip(void) {
  uint8_t bytes[600];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)rnd();
  uint8_t types[] = {CELL_PUT, CELL_DELETE, CELL_DELETE_FAMILY_VERSION, CELL_DELETE_COLUMN,
                     CELL_DELETE_FAMILY};
  /* A stream of random cells back to back, decoded in order. */
  uint8_t *stream = malloc(1 << 20);
  struct cell cells[500];
  size_t off = 0;
  for (int i = 0; i < 500; i++) {
    struct cell c = {0};
    c.row = bytes;
    c.row_len = 1 + (uint32_t)(rnd() % 100);
    c.family = bytes + 100;
    c.family_len = 1 + (uint32_t)(rnd() % CELL_MAX_FAMILY);
    c.qualifier = bytes + 230;
    c.qualifier_len = (uint32_t)(rnd() % 120);
    c.value = bytes + 350;
    c.value_len = (uint32_t)(rnd() % 250);
    c.timestamp = (int64_t)rnd();
    c.type = types[rnd() % 5];
    c.seq_id = rnd();
    cells[i] = c;
    size_t n = cell_encode(&c, stream + off);
    CU_ASSERT_EQUAL(n, cell_encoded_size(&c));
    off += n;
  }
  size_t pos = 0;
  for (int i = 0; i < 500; i++) {
    struct cell d;
    size_t used = 0;
    int rc = cell_decode(stream + pos, off - pos, &d, &used);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(used, cell_encoded_size(&cells[i]));
    expect_same(&d, &cells[i]);
    /* Pointers land inside the buffer. */
    CU_ASSERT_TRUE(d.row >= stream + pos && d.value + d.value_len <= stream + pos + used);
    /* Re-encoding gives the same bytes. */
    uint8_t again[1024];
    CU_ASSERT_EQUAL(cell_encode(&d, again), used);
    CU_ASSERT_EQUAL(memcmp(again, stream + pos, used), 0);
    pos += used;
  }
  CU_ASSERT_EQUAL(pos, off);
  free(stream);

  /* Limits round-trip too. */
  struct cell big = {0};
  uint8_t *blob = calloc(1, CELL_MAX_ROW + CELL_MAX_QUALIFIER);
  big.row = blob;
  big.row_len = CELL_MAX_ROW;
  big.family = blob;
  big.family_len = CELL_MAX_FAMILY;
  big.qualifier = blob;
  big.qualifier_len = CELL_MAX_QUALIFIER;
  big.timestamp = INT64_MIN;
  big.type = CELL_PUT;
  size_t n = cell_encoded_size(&big);
  uint8_t *enc = malloc(n);
  CU_ASSERT_EQUAL(cell_encode(&big, enc), n);
  struct cell d;
  size_t used;
  CU_ASSERT_EQUAL(cell_decode(enc, n, &d, &used), 0);
  CU_ASSERT_EQUAL(used, n);
  expect_same(&d, &big);
  free(enc);
  free(blob);
}

/* A well-formed small encoding to corrupt. */
static size_t sample(uint8_t *buf) {
  struct cell c = tc_cell("row", "cf", "q1", 42, CELL_PUT, 7, "val");
  return cell_encode(&c, buf);
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void expect_corrupt(const uint8_t *buf, size_t len, const char *needle) {
  struct cell d;
  size_t used = 12345;
  int rc = cell_decode(buf, len, &d, &used);
  CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
  CU_ASSERT_EQUAL(used, 12345);
  if (needle && !strstr(dfs_err_msg(), needle)) {
    fprintf(stderr, "message '%s' lacks '%s'\n", dfs_err_msg(), needle);
    CU_FAIL("message");
  }
}

static void test_decode_rejects(void) {
  uint8_t buf[128], b[128];
  size_t n = sample(buf);
  struct cell d;
  size_t used;
  CU_ASSERT_EQUAL(cell_decode(buf, n, &d, &used), 0);
  /* Every truncation fails. */
  for (size_t len = 0; len < n; len++) expect_corrupt(buf, len, NULL);
  expect_corrupt(buf, 7, "shorter than a header");
  expect_corrupt(buf, n - 1, "needs");
  /* Extra bytes after a cell are left for the next one. */
  CU_ASSERT_EQUAL(cell_decode(buf, n + 10, &d, &used), 0);
  CU_ASSERT_EQUAL(used, n);

  /* key_len too small, too large, or larger than the buffer. */
  memcpy(b, buf, n);
  put32(b, 12);
  expect_corrupt(b, n, "key length");
  put32(b, 0xffffffffu);
  expect_corrupt(b, n, "key length");
  put32(b, 21);
  expect_corrupt(b, n, "needs");
  /* value_len beyond the cap or the buffer. */
  memcpy(b, buf, n);
  put32(b + 4, CELL_MAX_VALUE + 1);
  expect_corrupt(b, n, "value length");
  put32(b + 4, 4);
  expect_corrupt(b, n, "needs");
  /* row_len 0, or running into the family/timestamp. */
  memcpy(b, buf, n);
  b[8] = 0, b[9] = 0;
  expect_corrupt(b, n, "row length");
  b[9] = 10;
  expect_corrupt(b, n, "row length");
  b[8] = 0xff, b[9] = 0xff;
  expect_corrupt(b, n, "row length");
  /* family_len 0, past the key, above 127. */
  memcpy(b, buf, n);
  b[13] = 0;
  expect_corrupt(b, n, "family length");
  b[13] = 5;
  expect_corrupt(b, n, "family length");
  b[13] = 200;
  expect_corrupt(b, n, "family length");
  /* Unknown types. */
  memcpy(b, buf, n);
  uint8_t bad_types[] = {0, 1, 5, 9, 13, 15, 255};
  for (size_t i = 0; i < sizeof bad_types; i++) {
    b[8 + 19 - 1] = bad_types[i];
    expect_corrupt(b, n, "unknown type");
  }
  /* An empty qualifier and value are fine: shrink key_len by the qualifier. */
  struct cell c = tc_cell("r", "f", "", -5, CELL_DELETE_FAMILY, 0, "");
  n = cell_encode(&c, b);
  CU_ASSERT_EQUAL(n, 8 + 14 + 8);
  CU_ASSERT_EQUAL(cell_decode(b, n, &d, &used), 0);
  CU_ASSERT_EQUAL(d.qualifier_len, 0);
  CU_ASSERT_EQUAL(d.value_len, 0);
  CU_ASSERT_EQUAL(d.timestamp, -5);
  /* used may be NULL. */
  CU_ASSERT_EQUAL(cell_decode(b, n, &d, NULL), 0);
  CU_ASSERT_EQUAL(cell_decode(NULL, 0, &d, NULL), DFS_ECORRUPT);
}

static void test_dup(void) {
  char row[] = "row", val[] = "value";
  struct cell c = tc_cell(row, "f", "q", 3, CELL_PUT, 4, val);
  struct cell *d = cell_dup(&c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  row[0] = 'X';
  val[0] = 'X';
  CU_ASSERT_EQUAL(memcmp(d->row, "row", 3), 0);
  CU_ASSERT_EQUAL(memcmp(d->value, "value", 5), 0);
  CU_ASSERT_EQUAL(d->seq_id, 4);
  CU_ASSERT_EQUAL(d->timestamp, 3);
  cell_free(d);
  struct cell empty = tc_cell("r", "f", "", 1, CELL_PUT, 0, "");
  d = cell_dup(&empty);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(cell_compare(d, &empty), 0);
  cell_free(d);
  cell_free(NULL);
}

/* Sorting random cells with qsort must give a total order consistent with
 * each component's rule. */
static int qcmp(const void *a, const void *b) { return cell_compare(a, b); }

static void test_sort_consistency(void) {
  static const char *rows[] = {"a", "ab", "abc", "b", "\xff"};
  static const char *fams[] = {"f", "g"};
  static const char *quals[] = {"", "q", "qq"};
  uint8_t types[] = {CELL_PUT, CELL_DELETE, CELL_DELETE_COLUMN, CELL_DELETE_FAMILY};
  struct cell cs[400];
  for (int i = 0; i < 400; i++)
    cs[i] = tc_cell(rows[rnd() % 5], fams[rnd() % 2], quals[rnd() % 3], (int64_t)(rnd() % 5) - 2,
               types[rnd() % 4], rnd() % 4, "");
  qsort(cs, 400, sizeof cs[0], qcmp);
  for (int i = 0; i + 1 < 400; i++) {
    const struct cell *a = &cs[i], *b = &cs[i + 1];
    int r = cell_compare_rows(a->row, a->row_len, b->row, b->row_len);
    CU_ASSERT_TRUE(r <= 0);
    if (r) continue;
    int f = cell_compare_rows(a->family, a->family_len, b->family, b->family_len);
    CU_ASSERT_TRUE(f <= 0);
    if (f) continue;
    int q = cell_compare_rows(a->qualifier, a->qualifier_len, b->qualifier, b->qualifier_len);
    CU_ASSERT_TRUE(q <= 0);
    if (q) continue;
    CU_ASSERT_TRUE(a->timestamp >= b->timestamp);
    if (a->timestamp != b->timestamp) continue;
    CU_ASSERT_TRUE(a->type >= b->type);
    if (a->type != b->type) continue;
    CU_ASSERT_TRUE(a->seq_id >= b->seq_id);
  }
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cell", NULL, NULL);
  CU_add_test(s, "order_row_family_qualifier", test_order_row_family_qualifier);
  CU_add_test(s, "order_version_type_seq", test_order_version_type_seq);
  CU_add_test(s, "partial_comparators", test_partial_comparators);
  CU_add_test(s, "types", test_types);
  CU_add_test(s, "validate", test_validate);
  CU_add_test(s, "encode_exact_bytes", test_encode_exact_bytes);
  CU_add_test(s, "round_trip", test_round_trip);
  CU_add_test(s, "decode_rejects", test_decode_rejects);
  CU_add_test(s, "dup", test_dup);
  CU_add_test(s, "sort_consistency", test_sort_consistency);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
