/*
 * test_filter.c - scan filters (regionserver/filter.c) through a region
 * scan: prefix (forward and reversed, stopping early), row regex, column
 * prefix, single column value with every operator and both comparators
 * (and a missing column), first-key-only, key-only, page, AND / OR lists;
 * filters seeing cells after deletes and versions; constructor errors.
 */
#include <CUnit/Basic.h>

#include "errors.h"
#include "read_path_model.h"

static struct pool P;

/* rows: apple, apricot, banana, cherry; columns a, b, c; one deleted cell */
static void build(void) {
  memset(&P, 0, sizeof P);
  const char *rows[] = {"apple", "apricot", "banana", "cherry"};
  const char *vals[4][3] = {{"red", "10", "x"}, {"orange", "20", "y"},
                            {"yellow", "30", "z"}, {"Dark Red", "05", "w"}};
  for (int r = 0; r < 4; r++)
    for (int q = 0; q < 3; q++) {
      char qual[2] = {(char)('a' + q), 0};
      pool_add(&P, rows[r], "f", qual, 10, CELL_PUT, (uint64_t)(r * 3 + q + 1), vals[r][q]);
    }
  pool_add(&P, "banana", "f", "a", 20, CELL_PUT, 100, "green"); /* newer version */
  pool_add(&P, "cherry", "f", "c", 10, CELL_DELETE_COLUMN, 101, "");
}

static void check_filter(struct filter *f, bool reversed, const char *want) {
  static char out[8192];
  struct scan_spec sp;
  scan_spec_init(&sp);
  sp.filter = f;
  sp.reversed = reversed;
  sp.now_ms = 1000;
  for (int split = 0; split < 2; split++) {
    filter_reset(f);
    CU_ASSERT_EQUAL(scan_to_string(P.v, P.n, (struct family_opts){3, 0, 0}, &sp, split, out,
                                   sizeof out), 0);
    if (strcmp(out, want) != 0) {
      fprintf(stderr, "\n  got:  %s\n  want: %s\n", out, want);
      CU_FAIL("filter result");
    }
  }
  filter_destroy(f);
}

#define ROW_APPLE "apple/a@10=red apple/b@10=10 apple/c@10=x"
#define ROW_APRICOT "apricot/a@10=orange apricot/b@10=20 apricot/c@10=y"
#define ROW_BANANA "banana/a@20=green banana/b@10=30 banana/c@10=z"
#define ROW_CHERRY "cherry/a@10=Dark Red cherry/b@10=05"

static void test_prefix_and_regex(void) {
  struct filter *f;
  CU_ASSERT_EQUAL_FATAL(filter_prefix((const uint8_t *)"ap", 2, &f), 0);
  check_filter(f, false, ROW_APPLE " | " ROW_APRICOT);
  CU_ASSERT_EQUAL_FATAL(filter_prefix((const uint8_t *)"ap", 2, &f), 0);
  check_filter(f, true, ROW_APRICOT " | " ROW_APPLE);
  CU_ASSERT_EQUAL_FATAL(filter_prefix((const uint8_t *)"b", 1, &f), 0);
  CU_ASSERT_TRUE(filter_done(f, (const uint8_t *)"cherry", 6, false));
  CU_ASSERT_FALSE(filter_done(f, (const uint8_t *)"cherry", 6, true));
  CU_ASSERT_TRUE(filter_done(f, (const uint8_t *)"apple", 5, true));
  check_filter(f, false, ROW_BANANA);
  CU_ASSERT_EQUAL_FATAL(filter_row_regex("^a.*t$|rr", &f), 0);
  check_filter(f, false, ROW_APRICOT " | " ROW_CHERRY);
  CU_ASSERT_EQUAL(filter_row_regex("(unclosed", &f), DFS_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "unclosed"));
}

static void test_column_prefix_first_key_key_only(void) {
  struct filter *f;
  CU_ASSERT_EQUAL_FATAL(filter_column_prefix((const uint8_t *)"b", 1, &f), 0);
  check_filter(f, false, "apple/b@10=10 | apricot/b@10=20 | banana/b@10=30 | cherry/b@10=05");
  CU_ASSERT_EQUAL_FATAL(filter_first_key_only(&f), 0);
  check_filter(f, true, "cherry/a@10=Dark Red | banana/a@20=green | apricot/a@10=orange | "
                        "apple/a@10=red");
  CU_ASSERT_EQUAL_FATAL(filter_key_only(&f), 0);
  check_filter(f, false, "apple/a@10= apple/b@10= apple/c@10= | apricot/a@10= apricot/b@10= "
                         "apricot/c@10= | banana/a@20= banana/b@10= banana/c@10= | "
                         "cherry/a@10= cherry/b@10=");
}

static struct filter *scv(const char *q, enum filter_op op, enum filter_comparator cmp,
                          const char *operand, bool if_missing) {
  struct filter *f = NULL;
  CU_ASSERT_EQUAL(filter_single_column_value((const uint8_t *)"f", 1, (const uint8_t *)q,
                                             strlen(q), op, cmp, (const uint8_t *)operand,
                                             strlen(operand), if_missing, &f), 0);
  return f;
}

static void test_single_column_value(void) {
  check_filter(scv("b", FILTER_EQ, FILTER_BINARY, "20", false), false, ROW_APRICOT);
  check_filter(scv("b", FILTER_NE, FILTER_BINARY, "20", false), false,
               ROW_APPLE " | " ROW_BANANA " | " ROW_CHERRY);
  check_filter(scv("b", FILTER_LT, FILTER_BINARY, "20", false), false, ROW_APPLE " | " ROW_CHERRY);
  check_filter(scv("b", FILTER_LE, FILTER_BINARY, "20", false), false,
               ROW_APPLE " | " ROW_APRICOT " | " ROW_CHERRY);
  check_filter(scv("b", FILTER_GT, FILTER_BINARY, "20", false), false, ROW_BANANA);
  check_filter(scv("b", FILTER_GE, FILTER_BINARY, "20", false), false,
               ROW_APRICOT " | " ROW_BANANA);
  /* the newest version decides: banana's a is "green" now, not "yellow" */
  check_filter(scv("a", FILTER_EQ, FILTER_BINARY, "yellow", false), false, "");
  check_filter(scv("a", FILTER_EQ, FILTER_SUBSTRING, "RE", false), false,
               ROW_APPLE " | " ROW_BANANA " | " ROW_CHERRY);
  check_filter(scv("a", FILTER_NE, FILTER_SUBSTRING, "re", false), false, ROW_APRICOT);
  /* cherry's c is deleted: missing passes unless filter_if_missing */
  check_filter(scv("c", FILTER_EQ, FILTER_BINARY, "x", false), false, ROW_APPLE " | " ROW_CHERRY);
  check_filter(scv("c", FILTER_EQ, FILTER_BINARY, "x", true), false, ROW_APPLE);
  struct filter *f;
  CU_ASSERT_EQUAL(filter_single_column_value((const uint8_t *)"f", 1, (const uint8_t *)"a", 1,
                                             FILTER_LT, FILTER_SUBSTRING, (const uint8_t *)"x", 1,
                                             false, &f), DFS_EINVAL);
}

static void test_page_and_lists(void) {
  struct filter *f, *kids[3];
  CU_ASSERT_EQUAL_FATAL(filter_page(2, &f), 0);
  check_filter(f, false, ROW_APPLE " | " ROW_APRICOT);
  CU_ASSERT_EQUAL_FATAL(filter_page(0, &f), 0);
  check_filter(f, false, "");
  /* AND: rows with b >= 20, first key only, at most 1 row */
  kids[0] = scv("b", FILTER_GE, FILTER_BINARY, "20", false);
  CU_ASSERT_EQUAL_FATAL(filter_first_key_only(&kids[1]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_page(1, &kids[2]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_list(FILTER_MUST_PASS_ALL, kids, 3, &f), 0);
  check_filter(f, false, "apricot/a@10=orange");
  CU_ASSERT_EQUAL_FATAL(filter_list(FILTER_MUST_PASS_ALL, kids, 0, &f), 0); /* empty AND: all */
  check_filter(f, true, ROW_CHERRY " | " ROW_BANANA " | " ROW_APRICOT " | " ROW_APPLE);
  /* OR: prefix "ch" (whole row), or column prefix "c" with key only */
  CU_ASSERT_EQUAL_FATAL(filter_prefix((const uint8_t *)"ch", 2, &kids[0]), 0);
  struct filter *inner[2];
  CU_ASSERT_EQUAL_FATAL(filter_column_prefix((const uint8_t *)"c", 1, &inner[0]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_key_only(&inner[1]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_list(FILTER_MUST_PASS_ALL, inner, 2, &kids[1]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_list(FILTER_MUST_PASS_ONE, kids, 2, &f), 0);
  check_filter(f, false, "apple/c@10= | apricot/c@10= | banana/c@10= | " ROW_CHERRY);
  /* OR of two row filters skips rows neither accepts */
  CU_ASSERT_EQUAL_FATAL(filter_prefix((const uint8_t *)"ban", 3, &kids[0]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_row_regex("^apple$", &kids[1]), 0);
  CU_ASSERT_EQUAL_FATAL(filter_list(FILTER_MUST_PASS_ONE, kids, 2, &f), 0);
  CU_ASSERT_TRUE(filter_skip_row_key(f, (const uint8_t *)"apricot", 7));
  CU_ASSERT_FALSE(filter_skip_row_key(f, (const uint8_t *)"apple", 5));
  check_filter(f, false, ROW_APPLE " | " ROW_BANANA);
  filter_destroy(NULL);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  build();
  CU_pSuite s = CU_add_suite("filter", NULL, NULL);
  CU_add_test(s, "prefix_and_regex", test_prefix_and_regex);
  CU_add_test(s, "column_prefix_first_key_key_only", test_column_prefix_first_key_key_only);
  CU_add_test(s, "single_column_value", test_single_column_value);
  CU_add_test(s, "page_and_lists", test_page_and_lists);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  pool_free(&P);
  return failures ? 1 : 0;
}
