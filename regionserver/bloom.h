/*
 * bloom.h - the row bloom filter of an HFile (a meta block read on open).
 *
 * A plain bit array with k probes by double hashing of one 64-bit hash of
 * the row (bloom_hash, a fixed function: it is part of the file format, see
 * docs/formats.md). The writer keeps one 64-bit hash per distinct row while
 * a file is written and sizes the filter at close from the exact count, so
 * bits per key is what was asked for unless the size cap kicks in.
 *
 * Everything here is pure (no allocation behind the caller's back except
 * bloom_build's result) and thread-safe on immutable filters.
 */
#ifndef HB_BLOOM_H
#define HB_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOOM_VERSION 1
#define BLOOM_HEADER_SIZE 24     /* u32 version, u32 k, u64 nkeys, u64 nbits */
#define BLOOM_MAX_K 30

/* The format's hash of a key (a row). */
uint64_t bloom_hash(const void *key, size_t len);

/* Probes for bits_per_key: round(bits_per_key * ln 2), in 1..BLOOM_MAX_K. */
unsigned bloom_probes(unsigned bits_per_key);

/* Serialise a filter over the n hashes (duplicates allowed) with
 * bits_per_key bits per hash, the bit array capped at max_bytes (0: no
 * cap). *out is malloc'ed (caller frees), *out_len its length. 0 or
 * DFS_ENOMEM / DFS_EINVAL (bits_per_key 0). */
int bloom_build(const uint64_t *hashes, size_t n, unsigned bits_per_key, size_t max_bytes,
                uint8_t **out, size_t *out_len);

/* A parsed filter pointing into the serialised bytes. */
struct bloom {
  const uint8_t *bits;
  uint64_t nbits;
  uint64_t nkeys;
  uint32_t k;
};

/* Parse and check a serialised filter (version, k, sizes). 0 or
 * DFS_ECORRUPT with a message naming what is wrong (no file name: the
 * caller adds it). */
int bloom_parse(const uint8_t *buf, size_t len, struct bloom *b);

/* false only if the key with this hash was certainly not added. */
bool bloom_may_contain(const struct bloom *b, uint64_t hash);

#endif /* HB_BLOOM_H */
