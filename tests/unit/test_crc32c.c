/*
 * test_crc32c.c - CRC-32C: published vectors, hardware path == software path
 * on every length 0..1024 at every alignment, incremental extension, and the
 * per-chunk helpers (including that a single flipped bit is located).
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint8_t rnd8(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint8_t)rng_state;
}

static void test_vectors(void) {
  CU_ASSERT_EQUAL(crc32c(0, "123456789", 9), 0xE3069283u);
  CU_ASSERT_EQUAL(crc32c_sw(0, "123456789", 9), 0xE3069283u);
  CU_ASSERT_EQUAL(crc32c(0, "", 0), 0u);
  /* RFC 3720 (iSCSI) B.4 test patterns. */
  uint8_t buf[32];
  memset(buf, 0, sizeof buf);
  CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x8A9136AAu);
  memset(buf, 0xff, sizeof buf);
  CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
  CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x46DD794Eu);
  CU_ASSERT_EQUAL(crc32c_sw(0, buf, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
  CU_ASSERT_EQUAL(crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_hw_equals_sw(void) {
  enum { MAX = 1024 };
  uint8_t *buf = malloc(MAX + 16);
  CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
  for (size_t i = 0; i < MAX + 16; i++) buf[i] = rnd8();
  int mismatches = 0;
  for (size_t off = 0; off < 8; off++)
    for (size_t len = 0; len <= MAX; len++)
      if (crc32c(0, buf + off, len) != crc32c_sw(0, buf + off, len)) mismatches++;
  CU_ASSERT_EQUAL(mismatches, 0);
  /* On x86-64 machines of this project the instruction is expected. */
#if defined(__x86_64__)
  CU_ASSERT_TRUE(crc32c_hw_available());
#endif
  free(buf);
}

static void test_incremental(void) {
  uint8_t buf[777];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = rnd8();
  uint32_t whole = crc32c(0, buf, sizeof buf);
  for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
    uint32_t c = crc32c(0, buf, cut);
    CU_ASSERT_EQUAL(crc32c(c, buf + cut, sizeof buf - cut), whole);
    uint32_t s = crc32c_sw(0, buf, cut);
    CU_ASSERT_EQUAL(crc32c_sw(s, buf + cut, sizeof buf - cut), whole);
  }
  CU_ASSERT_EQUAL(crc32c(0, "12345", 5) == whole, 0);
}

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void test_chunks(void) {
  enum { LEN = 512 * 5 + 100 };
  uint8_t *buf = malloc(LEN);
  uint8_t sums[4 * 6];
  CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
  for (size_t i = 0; i < LEN; i++) buf[i] = rnd8();
  crc32c_chunks(buf, LEN, 512, sums);
  for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(be32(sums + 4 * i), crc32c(0, buf + 512 * i, 512));
  CU_ASSERT_EQUAL(be32(sums + 20), crc32c(0, buf + 2560, 100)); /* short last chunk */
  CU_ASSERT_EQUAL(crc32c_chunks_verify(buf, LEN, 512, sums), -1);
  CU_ASSERT_EQUAL(crc32c_chunks_verify(buf, 0, 512, sums), -1);

  /* One flipped bit is found in the right chunk, wherever it is. */
  size_t positions[] = {0, 511, 512, 1500, 2559, 2560, LEN - 1};
  for (size_t j = 0; j < sizeof positions / sizeof positions[0]; j++) {
    size_t p = positions[j];
    buf[p] ^= 0x10;
    CU_ASSERT_EQUAL(crc32c_chunks_verify(buf, LEN, 512, sums), (long)(p / 512));
    buf[p] ^= 0x10;
  }
  /* A corrupted checksum is found too. */
  sums[13] ^= 1;
  CU_ASSERT_EQUAL(crc32c_chunks_verify(buf, LEN, 512, sums), 3);
  sums[13] ^= 1;
  /* Exact multiple of the chunk size: no extra checksum. */
  uint8_t sums2[4 * 3];
  memset(sums2, 0xAA, sizeof sums2);
  crc32c_chunks(buf, 1024, 512, sums2);
  CU_ASSERT_EQUAL(sums2[8], 0xAA);
  CU_ASSERT_EQUAL(crc32c_chunks_verify(buf, 1024, 512, sums2), -1);
  free(buf);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("crc32c", NULL, NULL);
  CU_add_test(s, "vectors", test_vectors);
  CU_add_test(s, "hw_equals_sw", test_hw_equals_sw);
  CU_add_test(s, "incremental", test_incremental);
  CU_add_test(s, "chunks", test_chunks);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
