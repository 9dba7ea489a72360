/*
 * bloom.c - the row bloom filter (bloom.h): hash, build, parse, probe.
 */
#include "bloom.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "errors.h"

/* splitmix64's finaliser: a full-avalanche 64-bit mix. */
static uint64_t fmix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t bloom_hash(const void *key, size_t len) {
  const uint8_t *p = key;
  uint64_t h = 0x243F6A8885A308D3ull ^ ((uint64_t)len * 0x9E3779B97F4A7C15ull);
  while (len >= 8) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) w = w << 8 | p[i]; /* little-endian, any host */
    h = rotl(h ^ fmix(w), 27) * 0x9E3779B97F4A7C15ull;
    p += 8;
    len -= 8;
  }
  if (len > 0) {
    uint64_t w = (uint64_t)len << 56;
    for (size_t i = 0; i < len; i++) w |= (uint64_t)p[i] << (8 * i);
    h = rotl(h ^ fmix(w), 27) * 0x9E3779B97F4A7C15ull;
  }
  return fmix(h);
}

unsigned bloom_probes(unsigned bits_per_key) {
  unsigned k = (bits_per_key * 69u + 50u) / 100u; /* ln 2 ~ 0.69 */
  if (k < 1) k = 1;
  if (k > BLOOM_MAX_K) k = BLOOM_MAX_K;
  return k;
}

/* Probe i of a hash: (h + i * step) mod nbits with an odd step taken from
 * the other half of the hash (double hashing). */
static inline uint64_t probe_step(uint64_t h) { return rotl(h, 32) | 1; }

int bloom_build(const uint64_t *hashes, size_t n, unsigned bits_per_key, size_t max_bytes,
                uint8_t **out, size_t *out_len) {
  if (bits_per_key == 0) return dfs_err_set(DFS_EINVAL, "bloom: bits per key must be > 0");
  uint64_t nbits = (uint64_t)n * bits_per_key;
  if (n > 0 && nbits < 64) nbits = 64; /* tiny filters are all false positives otherwise */
  if (max_bytes && nbits > (uint64_t)max_bytes * 8) nbits = (uint64_t)max_bytes * 8;
  size_t nbytes = (size_t)((nbits + 7) / 8);
  uint8_t *buf = calloc(1, BLOOM_HEADER_SIZE + nbytes);
  if (!buf) return dfs_err_set(DFS_ENOMEM, "bloom: out of memory (%zu bytes)", nbytes);
  unsigned k = bloom_probes(bits_per_key);
  dfs_put_be32(buf, BLOOM_VERSION);
  dfs_put_be32(buf + 4, k);
  dfs_put_be64(buf + 8, n);
  dfs_put_be64(buf + 16, nbits);
  uint8_t *bits = buf + BLOOM_HEADER_SIZE;
  if (nbits > 0) {
    for (size_t i = 0; i < n; i++) {
      uint64_t h = hashes[i], step = probe_step(h);
      for (unsigned j = 0; j < k; j++) {
        uint64_t bit = h % nbits;
        bits[bit >> 3] |= (uint8_t)(1u << (bit & 7));
        h += step;
      }
    }
  }
  *out = buf;
  *out_len = BLOOM_HEADER_SIZE + nbytes;
  return 0;
}

int bloom_parse(const uint8_t *buf, size_t len, struct bloom *b) {
  if (len < BLOOM_HEADER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "bloom: %zu bytes, shorter than its header", len);
  uint32_t version = dfs_get_be32(buf);
  if (version != BLOOM_VERSION)
    return dfs_err_set(DFS_ECORRUPT, "bloom: unknown version %u", version);
  uint32_t k = dfs_get_be32(buf + 4);
  if (k < 1 || k > BLOOM_MAX_K) return dfs_err_set(DFS_ECORRUPT, "bloom: %u probes", k);
  uint64_t nkeys = dfs_get_be64(buf + 8), nbits = dfs_get_be64(buf + 16);
  if (nbits > (uint64_t)(len - BLOOM_HEADER_SIZE) * 8 || (nbits + 7) / 8 != len - BLOOM_HEADER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "bloom: %llu bits do not match %zu bytes",
                       (unsigned long long)nbits, len - BLOOM_HEADER_SIZE);
  if (nbits == 0 && nkeys != 0)
    return dfs_err_set(DFS_ECORRUPT, "bloom: %llu keys in an empty filter",
                       (unsigned long long)nkeys);
  b->bits = buf + BLOOM_HEADER_SIZE;
  b->nbits = nbits;
  b->nkeys = nkeys;
  b->k = k;
  return 0;
}

bool bloom_may_contain(const struct bloom *b, uint64_t h) {
  if (b->nbits == 0) return false; /* no keys were added */
  uint64_t step = probe_step(h);
  for (uint32_t j = 0; j < b->k; j++) {
    uint64_t bit = h % b->nbits;
    if (!(b->bits[bit >> 3] & (1u << (bit & 7)))) return false;
    h += step;
  }
  return true;
}
