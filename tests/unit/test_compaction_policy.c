/*
 * test_compaction_policy.c - the exploring compaction policy
 * (regionserver/compaction_policy.h) on hand-made file lists: the ratio
 * rule, the preference for more files then fewer bytes, min/max files,
 * the size bounds, the stuck fallback, and when a major compaction is due.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "compaction_policy.h"

#define MB (1ull << 20)
#define DAY (24LL * 3600 * 1000)
#define NOW (1700000000000LL)

static struct compaction_policy_conf conf(void) {
  struct compaction_policy_conf c;
  compaction_policy_conf_init(&c);
  c.min_size = 1 * MB; /* small enough that the ratio rule applies to the sizes below */
  c.major_jitter = 0;
  return c;
}

/* Files of the given sizes in MiB (oldest first), written an hour ago. */
static size_t files(struct cp_file *f, const unsigned *mb, size_t n) {
  for (size_t i = 0; i < n; i++) {
    memset(&f[i], 0, sizeof f[i]);
    f[i].size = mb[i] * MB;
    f[i].created_ms = NOW - 3600 * 1000;
    f[i].min_timestamp = NOW - 3600 * 1000;
  }
  return n;
}

static struct cp_request req(bool major) {
  struct cp_request r = {.force_major = major, .now_ms = NOW, .oldest_ts = INT64_MIN,
                         .jitter_seed = 42};
  return r;
}

static int sel(const struct compaction_policy_conf *c, const unsigned *mb, size_t n, bool major,
               struct cp_selection *s) {
  struct cp_file f[64];
  files(f, mb, n);
  struct cp_request r = req(major);
  memset(s, 0xff, sizeof *s);
  return compaction_policy_select(c, f, n, &r, s);
}

static void test_defaults(void) {
  struct compaction_policy_conf c;
  compaction_policy_conf_init(&c);
  CU_ASSERT_EQUAL(c.min_files, 3);
  CU_ASSERT_EQUAL(c.max_files, 10);
  CU_ASSERT_DOUBLE_EQUAL(c.ratio, 1.2, 1e-9);
  CU_ASSERT_EQUAL(c.major_period_ms, 7 * DAY);
  CU_ASSERT_FALSE(compaction_policy_needs_compaction(&c, 2));
  CU_ASSERT_TRUE(compaction_policy_needs_compaction(&c, 3));
}

static void test_too_few(void) {
  struct compaction_policy_conf c = conf();
  struct cp_selection s;
  unsigned a[] = {10, 10};
  CU_ASSERT_EQUAL(sel(&c, a, 2, false, &s), 0);
  CU_ASSERT_EQUAL(sel(&c, a, 0, false, &s), 0);
}

static void test_equal_files_all(void) {
  struct compaction_policy_conf c = conf();
  struct cp_selection s;
  unsigned a[] = {10, 10, 10, 10, 10};
  CU_ASSERT_EQUAL(sel(&c, a, 5, false, &s), 1);
  CU_ASSERT_EQUAL(s.start, 0);
  CU_ASSERT_EQUAL(s.count, 5);
  CU_ASSERT_FALSE(s.major);
  CU_ASSERT_TRUE(s.all_files);
}

/* One big old file and small new ones: the big one is out of ratio, the
 * small ones are merged without it. */
static void test_big_old_file_left_out(void) {
  struct compaction_policy_conf c = conf();
  struct cp_selection s;
  unsigned a[] = {500, 10, 12, 11, 9};
  CU_ASSERT_EQUAL(sel(&c, a, 5, false, &s), 1);
  CU_ASSERT_EQUAL(s.start, 1);
  CU_ASSERT_EQUAL(s.count, 4);
  CU_ASSERT_FALSE(s.all_files);
  /* 500 vs 42 others: 500 > 1.2 * 42; with ratio 20 it qualifies. */
  c.ratio = 20;
  CU_ASSERT_EQUAL(sel(&c, a, 5, false, &s), 1);
  CU_ASSERT_EQUAL(s.start, 0);
  CU_ASSERT_EQUAL(s.count, 5);
}

/* The exact ratio boundary: a file equal to ratio x the others is in. */
static void test_ratio_boundary(void) {
  struct compaction_policy_conf c = conf();
  c.ratio = 1.0;
  struct cp_selection s;
  unsigned a[] = {20, 10, 10};      /* 20 <= 1.0 * 20 */
  CU_ASSERT_EQUAL(sel(&c, a, 3, false, &s), 1);
  CU_ASSERT_EQUAL(s.count, 3);
  unsigned b[] = {21, 10, 10};      /* 21 > 20: out, and 2 files are too few */
  CU_ASSERT_EQUAL(sel(&c, b, 3, false, &s), 0);
}

/* More files beat fewer bytes. */
static void test_prefers_more_files(void) {
  struct compaction_policy_conf c = conf();
  struct cp_selection s;
  /* windows of 3 small files exist, but the 4-file window with a medium
   * file in ratio removes more files */
  unsigned a[] = {1, 1, 1, 2};
  c.min_size = 0;
  CU_ASSERT_EQUAL(sel(&c, a, 4, false, &s), 1);
  CU_ASSERT_EQUAL(s.start, 0);
  CU_ASSERT_EQUAL(s.count, 4);
}

/* Same count: the smaller total wins. */
static void test_same_count_smaller_wins(void) {
  struct compaction_policy_conf c = conf();
  c.max_files = 3;
  c.min_size = 0;
  struct cp_selection s;
  unsigned a[] = {40, 40, 40, 5, 5, 5};
  CU_ASSERT_EQUAL(sel(&c, a, 6, false, &s), 1);
  CU_ASSERT_EQUAL(s.count, 3);
  CU_ASSERT_EQUAL(s.start, 3);
}

static void test_max_files(void) {
  struct compaction_policy_conf c = conf();
  struct cp_selection s;
  unsigned a[25];
  for (int i = 0; i < 25; i++) a[i] = 10;
  c.blocking_files = 100;
  CU_ASSERT_EQUAL(sel(&c, a, 25, false, &s), 1);
  CU_ASSERT_EQUAL(s.count, 10);
  CU_ASSERT_EQUAL(s.start, 0); /* the first of equal windows: the oldest files */
  CU_ASSERT_FALSE(s.all_files);
  /* Near blocking (25 >= 16), files removed per byte decides and a bigger
   * window must be 5% better: with equal files the first 3 are kept. */
  c.blocking_files = 16;
  CU_ASSERT_EQUAL(sel(&c, a, 25, false, &s), 1);
  CU_ASSERT_EQUAL(s.count, 3);
  CU_ASSERT_EQUAL(s.start, 0);
  /* ... but small new files are worth more than big old ones */
  for (int i = 0; i < 20; i++) a[i] = 50;
  for (int i = 20; i < 25; i++) a[i] = 2;
  c.min_size = 0;
  CU_ASSERT_EQUAL(sel(&c, a, 25, false, &s), 1);
  CU_ASSERT_EQUAL(s.start, 20);
  CU_ASSERT_EQUAL(s.count, 3);
}

/* Windows under min_size skip the ratio test. */
static void test_min_size(void) {
  struct compaction_policy_conf c = conf();
  c.min_size = 128 * MB;
  struct cp_selection s;
  unsigned a[] = {100, 1, 1};
  CU_ASSERT_EQUAL(sel(&c, a, 3, false, &s), 1);
  CU_ASSERT_EQUAL(s.count, 3);
  c.min_size = 50 * MB;
  CU_ASSERT_EQUAL(sel(&c, a, 3, false, &s), 0);
}

/* A file above max_size is never in a minor window. */
static void test_max_size(void) {
  struct compaction_policy_conf c = conf();
  c.max_size = 100 * MB;
  c.ratio = 100;
  struct cp_selection s;
  unsigned a[] = {10, 200, 10, 10, 10};
  CU_ASSERT_EQUAL(sel(&c, a, 5, false, &s), 1);
  CU_ASSERT_EQUAL(s.start, 2);
  CU_ASSERT_EQUAL(s.count, 3);
  /* a major compaction takes everything anyway */
  CU_ASSERT_EQUAL(sel(&c, a, 5, true, &s), 1);
  CU_ASSERT_EQUAL(s.start, 0);
  CU_ASSERT_EQUAL(s.count, 5);
  CU_ASSERT_TRUE(s.major);
  CU_ASSERT_TRUE(s.all_files);
}

/* Nothing in ratio: nothing, unless the store is about to block. */
static void test_stuck(void) {
  struct compaction_policy_conf c = conf();
  c.blocking_files = 5;
  struct cp_selection s;
  unsigned a[] = {1000, 300, 80, 20, 5};  /* each file far bigger than the newer ones */
  c.blocking_files = 16;
  CU_ASSERT_EQUAL(sel(&c, a, 5, false, &s), 0);
  c.blocking_files = 5;
  CU_ASSERT_EQUAL(sel(&c, a, 5, false, &s), 1);
  CU_ASSERT_EQUAL(s.count, 3); /* the smallest window of min_files */
  CU_ASSERT_EQUAL(s.start, 2);
}

static void test_major_forced(void) {
  struct compaction_policy_conf c = conf();
  struct cp_selection s;
  unsigned one[] = {10};
  CU_ASSERT_EQUAL(sel(&c, one, 1, true, &s), 1);
  CU_ASSERT_EQUAL(s.count, 1);
  CU_ASSERT_TRUE(s.major);
  unsigned many[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  CU_ASSERT_EQUAL(sel(&c, many, 12, true, &s), 1); /* forced: even above max_files */
  CU_ASSERT_EQUAL(s.count, 12);
}

static void test_major_period(void) {
  struct compaction_policy_conf c = conf();
  struct cp_file f[4];
  unsigned mb[] = {100, 10, 10, 10};
  files(f, mb, 4);
  struct cp_request r = req(false);
  CU_ASSERT_FALSE(compaction_policy_major_due(&c, f, 4, &r));
  f[0].created_ms = NOW - 8 * DAY;
  CU_ASSERT_TRUE(compaction_policy_major_due(&c, f, 4, &r));
  struct cp_selection s;
  CU_ASSERT_EQUAL(compaction_policy_select(&c, f, 4, &r, &s), 1);
  CU_ASSERT_TRUE(s.major);
  CU_ASSERT_EQUAL(s.count, 4);
  /* unknown creation time never counts as old */
  f[0].created_ms = 0;
  CU_ASSERT_FALSE(compaction_policy_major_due(&c, f, 4, &r));
  /* disabled */
  f[0].created_ms = NOW - 8 * DAY;
  c.major_period_ms = 0;
  CU_ASSERT_FALSE(compaction_policy_major_due(&c, f, 4, &r));
}

/* Periodic majors need fewer than max_files files; then minor rules. */
static void test_major_period_too_many_files(void) {
  struct compaction_policy_conf c = conf();
  struct cp_file f[12];
  unsigned mb[12] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
  files(f, mb, 12);
  f[0].created_ms = NOW - 8 * DAY;
  struct cp_request r = req(false);
  struct cp_selection s;
  CU_ASSERT_EQUAL(compaction_policy_select(&c, f, 12, &r, &s), 1);
  CU_ASSERT_FALSE(s.major);
  CU_ASSERT_EQUAL(s.count, 10);
}

/* A lone major-compacted file is rewritten by age only if cells expired. */
static void test_major_single_file(void) {
  struct compaction_policy_conf c = conf();
  struct cp_file f[1];
  unsigned mb[] = {10};
  files(f, mb, 1);
  f[0].created_ms = NOW - 8 * DAY;
  f[0].major_compacted = true;
  f[0].min_timestamp = NOW - 9 * DAY;
  struct cp_request r = req(false);
  CU_ASSERT_FALSE(compaction_policy_major_due(&c, f, 1, &r)); /* no TTL */
  r.oldest_ts = NOW - 10 * DAY;
  CU_ASSERT_FALSE(compaction_policy_major_due(&c, f, 1, &r)); /* nothing expired yet */
  r.oldest_ts = NOW - 2 * DAY;
  CU_ASSERT_TRUE(compaction_policy_major_due(&c, f, 1, &r));  /* some cells expired */
  f[0].major_compacted = false;
  r.oldest_ts = INT64_MIN;
  CU_ASSERT_TRUE(compaction_policy_major_due(&c, f, 1, &r));  /* a flush file: markers may go */
}

/* Jitter: deterministic per seed, within period x (1 +- jitter), and
 * different seeds spread. */
static void test_jitter(void) {
  struct compaction_policy_conf c = conf();
  c.major_jitter = 0.5;
  struct cp_file f[1];
  unsigned mb[] = {10};
  files(f, mb, 1);
  int due_at_3 = 0, due_at_11 = 0, differ = 0;
  for (uint64_t seed = 1; seed <= 200; seed++) {
    struct cp_request r = req(false);
    r.jitter_seed = seed;
    f[0].created_ms = NOW - 3 * DAY;           /* below 0.5 x 7 days: never due */
    due_at_3 += compaction_policy_major_due(&c, f, 1, &r);
    f[0].created_ms = NOW - 11 * DAY;          /* above 1.5 x 7 days: always due */
    due_at_11 += compaction_policy_major_due(&c, f, 1, &r);
    f[0].created_ms = NOW - 7 * DAY;
    bool a = compaction_policy_major_due(&c, f, 1, &r);
    bool b = compaction_policy_major_due(&c, f, 1, &r);
    CU_ASSERT_EQUAL(a, b);
    differ += a;
  }
  CU_ASSERT_EQUAL(due_at_3, 0);
  CU_ASSERT_EQUAL(due_at_11, 200);
  CU_ASSERT(differ > 20 && differ < 180); /* about half the stores due at exactly 7 days */
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("compaction_policy", NULL, NULL);
  CU_add_test(s, "defaults", test_defaults);
  CU_add_test(s, "too_few", test_too_few);
  CU_add_test(s, "equal_files_all", test_equal_files_all);
  CU_add_test(s, "big_old_file_left_out", test_big_old_file_left_out);
  CU_add_test(s, "ratio_boundary", test_ratio_boundary);
  CU_add_test(s, "prefers_more_files", test_prefers_more_files);
  CU_add_test(s, "same_count_smaller_wins", test_same_count_smaller_wins);
  CU_add_test(s, "max_files", test_max_files);
  CU_add_test(s, "min_size", test_min_size);
  CU_add_test(s, "max_size", test_max_size);
  CU_add_test(s, "stuck", test_stuck);
  CU_add_test(s, "major_forced", test_major_forced);
  CU_add_test(s, "major_period", test_major_period);
  CU_add_test(s, "major_period_too_many_files", test_major_period_too_many_files);
  CU_add_test(s, "major_single_file", test_major_single_file);
  CU_add_test(s, "jitter", test_jitter);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
