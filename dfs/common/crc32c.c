/*
 * crc32c.c - CRC-32C with the SSE4.2 instruction when present (about 10 GB/s
 * here), slice-by-8 tables otherwise (about 2 GB/s). The choice is made once,
 * lazily, and is the same for every thread.
 */
#include "crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */

/* Written once under table_once, read-only afterwards. */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int k = 1; k < 8; k++)
      table[k][n] = (table[k - 1][n] >> 8) ^ table[0][table[k - 1][n] & 0xff];
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&table_once, table_init);
  const uint8_t *p = buf;
  crc = ~crc;
  while (len && ((uintptr_t)p & 7)) {
    crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    len--;
  }
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= crc;
    crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
          table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
          table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
          table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc,
                                                            const void *buf,
                                                            size_t len) {
  const uint8_t *p = buf;
  uint64_t c = ~crc;
  while (len && ((uintptr_t)p & 7)) {
    c = _mm_crc32_u8((uint32_t)c, *p++);
    len--;
  }
  /* Three independent streams would hide the instruction's latency; one
   * stream already reaches the figures we need, so keep it simple. */
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    len -= 8;
  }
  while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return ~(uint32_t)c;
}
#endif

/* -1 unknown. Atomic (relaxed) so that threads racing on the first call
 * are well defined: each computes the same answer and stores it. */
static atomic_int hw_state = -1;

int crc32c_hw_available(void) {
  int s = atomic_load_explicit(&hw_state, memory_order_relaxed);
  if (s < 0) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    s = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    s = 0;
#endif
    atomic_store_explicit(&hw_state, s, memory_order_relaxed);
  }
  return s;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len) {
#if defined(__x86_64__)
  if (crc32c_hw_available()) return crc32c_hw(crc, buf, len);
#endif
  return crc32c_sw(crc, buf, len);
}

static inline void put_be32(uint8_t *o, uint32_t v) {
  o[0] = (uint8_t)(v >> 24);
  o[1] = (uint8_t)(v >> 16);
  o[2] = (uint8_t)(v >> 8);
  o[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *i) {
  return ((uint32_t)i[0] << 24) | ((uint32_t)i[1] << 16) | ((uint32_t)i[2] << 8) | i[3];
}

void crc32c_chunks(const void *buf, size_t len, size_t chunk, uint8_t *out) {
  const uint8_t *p = buf;
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    put_be32(out, crc32c(0, p + off, n));
    out += 4;
  }
}

long crc32c_chunks_verify(const void *buf, size_t len, size_t chunk,
                          const uint8_t *sums) {
  const uint8_t *p = buf;
  long i = 0;
  for (size_t off = 0; off < len; off += chunk, i++) {
    size_t n = len - off < chunk ? len - off : chunk;
    if (crc32c(0, p + off, n) != get_be32(sums + 4 * i)) return i;
  }
  return -1;
}
