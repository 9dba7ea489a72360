/*
 * test_bloom.c - the row bloom filter: no false negatives, a measured
 * false-positive rate under 2% at 10 bits per key, the size cap, the
 * serialised form's checks, and pinned hash values (the hash is part of
 * the HFile format: changing it would make old files' blooms lie).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bloom.h"
#include "errors.h"

/* bloom_hash of "", "row1" and a 33-byte key (see test_hash_stable) */
#define HASH_EMPTY 0xe9e0033e3badaf36ull
#define HASH_ROW1 0x389f9488a7db3ae5ull
#define HASH_LONG 0xf01c991ff8257bf3ull

static uint64_t hash_of_row(uint32_t i, char *buf) {
  int n = snprintf(buf, 32, "user%010u", i);
  return bloom_hash(buf, (size_t)n);
}

static double measure(unsigned bits, size_t n, uint32_t *false_neg) {
  uint64_t *h = malloc(n * sizeof *h);
  char k[32];
  for (size_t i = 0; i < n; i++) h[i] = hash_of_row((uint32_t)i * 2, k);
  uint8_t *buf;
  size_t len;
  CU_ASSERT_FATAL(bloom_build(h, n, bits, 0, &buf, &len) == 0);
  struct bloom b;
  CU_ASSERT_FATAL(bloom_parse(buf, len, &b) == 0);
  CU_ASSERT_EQUAL(b.nkeys, n);
  CU_ASSERT_EQUAL(b.nbits, (uint64_t)n * bits);
  *false_neg = 0;
  for (size_t i = 0; i < n; i++)
    if (!bloom_may_contain(&b, h[i])) (*false_neg)++;
  size_t fp = 0;
  for (size_t i = 0; i < n; i++)
    if (bloom_may_contain(&b, hash_of_row((uint32_t)i * 2 + 1, k))) fp++; /* never added */
  free(buf);
  free(h);
  return (double)fp / (double)n;
}

static void test_fp_rate(void) {
  uint32_t fn;
  double fp10 = measure(10, 100000, &fn);
  CU_ASSERT_EQUAL(fn, 0);
  CU_ASSERT(fp10 < 0.02);
  CU_ASSERT(fp10 > 0.0); /* a real measurement, not a filter that says no */
  double fp5 = measure(5, 100000, &fn);
  CU_ASSERT_EQUAL(fn, 0);
  CU_ASSERT(fp5 > fp10); /* fewer bits, more false positives */
  fprintf(stderr, "\n    false positives: %.3f%% at 10 bits/key, %.3f%% at 5\n", fp10 * 100,
          fp5 * 100);
}

static void test_probes(void) {
  CU_ASSERT_EQUAL(bloom_probes(10), 7);
  CU_ASSERT_EQUAL(bloom_probes(1), 1);
  CU_ASSERT_EQUAL(bloom_probes(1000), BLOOM_MAX_K);
}

static void test_cap_and_empty(void) {
  uint64_t h[1000];
  char k[32];
  for (int i = 0; i < 1000; i++) h[i] = hash_of_row((uint32_t)i, k);
  uint8_t *buf;
  size_t len;
  CU_ASSERT_FATAL(bloom_build(h, 1000, 10, 100, &buf, &len) == 0);
  CU_ASSERT_EQUAL(len, BLOOM_HEADER_SIZE + 100);
  struct bloom b;
  CU_ASSERT_FATAL(bloom_parse(buf, len, &b) == 0);
  uint32_t fn = 0;
  for (int i = 0; i < 1000; i++)
    if (!bloom_may_contain(&b, h[i])) fn++;
  CU_ASSERT_EQUAL(fn, 0); /* capped: more false positives, never false negatives */
  free(buf);

  CU_ASSERT_FATAL(bloom_build(NULL, 0, 10, 0, &buf, &len) == 0);
  CU_ASSERT_EQUAL(len, BLOOM_HEADER_SIZE);
  CU_ASSERT_FATAL(bloom_parse(buf, len, &b) == 0);
  CU_ASSERT_FALSE(bloom_may_contain(&b, h[0]));
  free(buf);
  CU_ASSERT_EQUAL(bloom_build(h, 1, 0, 0, &buf, &len), DFS_EINVAL);
}

static void test_parse_rejects(void) {
  uint64_t h[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  uint8_t *buf;
  size_t len;
  CU_ASSERT_FATAL(bloom_build(h, 10, 10, 0, &buf, &len) == 0);
  struct bloom b;
  CU_ASSERT_EQUAL(bloom_parse(buf, len - 1, &b), DFS_ECORRUPT);           /* short */
  CU_ASSERT_EQUAL(bloom_parse(buf, BLOOM_HEADER_SIZE - 1, &b), DFS_ECORRUPT);
  buf[3] = 2;                                                             /* version */
  CU_ASSERT_EQUAL(bloom_parse(buf, len, &b), DFS_ECORRUPT);
  buf[3] = 1;
  buf[7] = 0;                                                             /* k = 0 */
  CU_ASSERT_EQUAL(bloom_parse(buf, len, &b), DFS_ECORRUPT);
  buf[7] = 99;
  CU_ASSERT_EQUAL(bloom_parse(buf, len, &b), DFS_ECORRUPT);
  buf[7] = 7;
  buf[16] = 0xff;                                                         /* huge nbits */
  CU_ASSERT_EQUAL(bloom_parse(buf, len, &b), DFS_ECORRUPT);
  buf[16] = 0;
  CU_ASSERT_EQUAL(bloom_parse(buf, len, &b), 0);
  free(buf);
}

/* The hash is persisted: pin a few values so that a change is noticed. */
static void test_hash_stable(void) {
  uint64_t a = bloom_hash("", 0), b = bloom_hash("row1", 4);
  uint64_t c = bloom_hash("a much longer row key of 33 bytes", 33);
  fprintf(stderr, "\n    hashes %016llx %016llx %016llx\n", (unsigned long long)a,
          (unsigned long long)b, (unsigned long long)c);
  CU_ASSERT_EQUAL(a, HASH_EMPTY);
  CU_ASSERT_EQUAL(b, HASH_ROW1);
  CU_ASSERT_EQUAL(c, HASH_LONG);
  CU_ASSERT_NOT_EQUAL(bloom_hash("row1", 4), bloom_hash("row2", 4));
  CU_ASSERT_NOT_EQUAL(bloom_hash("row1", 4), bloom_hash("row1\0", 5));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("bloom", NULL, NULL);
  CU_add_test(s, "fp_rate", test_fp_rate);
  CU_add_test(s, "probes", test_probes);
  CU_add_test(s, "cap_and_empty", test_cap_and_empty);
  CU_add_test(s, "parse_rejects", test_parse_rejects);
  CU_add_test(s, "hash_stable", test_hash_stable);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
