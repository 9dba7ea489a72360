/*
 * block_cache.h - the server's block cache: uncompressed, verified HFile
 * blocks kept in memory under a byte bound, shared by every reader of the
 * server.
 *
 * Keyed by (file id, block offset). File ids come from
 * block_cache_new_file_id(), one per opened reader and never reused, so a
 * stale block of a replaced file can never answer for a new one. LRU per
 * shard (the key's hash picks one of N shards, each with its own mutex and
 * 1/N of the bound). Blocks are reference-counted: the cache holds one
 * reference while a block is resident, every user one more; eviction only
 * drops the cache's reference, so a block in use is never freed under its
 * user (memory may then briefly exceed the bound by the blocks in use).
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef HB_BLOCK_CACHE_H
#define HB_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct block_cache;
struct cache_block_int;

/* A block handed to a user: data/len are immutable while referenced. */
struct cache_block {
  const uint8_t *data;
  size_t len;
  struct cache_block_int *priv; /* internal */
};

struct block_cache_stats {
  uint64_t hits, misses, evictions, inserts;
  uint64_t bytes;    /* charged bytes resident (block length + overhead) */
  uint64_t blocks;   /* resident blocks */
  uint64_t capacity; /* the bound */
};

/* Create a cache bounded at capacity bytes with `shards` shards (0: 16;
 * rounded up to a power of two). Free with block_cache_free(). */
int block_cache_new(uint64_t capacity, unsigned shards, struct block_cache **out);
/* Free the cache. Blocks still referenced by users stay valid until their
 * last cache_block_unref(). NULL: no-op. */
void block_cache_free(struct block_cache *c);

/* A fresh file id (never 0, never reused by this cache). */
uint64_t block_cache_new_file_id(struct block_cache *c);

/* The resident block for (file_id, offset) with a new reference, or NULL
 * (a miss). Counts a hit or a miss. */
struct cache_block *block_cache_get(struct block_cache *c, uint64_t file_id, uint64_t offset);

/* Insert data[0..len) (malloc'ed; ownership passes to the cache in every
 * case) for (file_id, offset) and return a referenced handle, or NULL if
 * out of memory (data freed). If the key is already resident (another
 * thread loaded it first) the resident block is returned and data freed.
 * A block larger than a shard's bound is not cached: the handle is then
 * private to the caller and freed at its unref. c may be NULL: same. */
struct cache_block *block_cache_put(struct block_cache *c, uint64_t file_id, uint64_t offset,
                                    uint8_t *data, size_t len);

/* Drop a reference (from get or put). NULL: no-op. */
void cache_block_unref(struct cache_block *b);

/* Remove every resident block of a file (at reader close). Blocks in use
 * stay valid for their users. Returns how many were removed. */
size_t block_cache_evict_file(struct block_cache *c, uint64_t file_id);

void block_cache_stats(struct block_cache *c, struct block_cache_stats *st);

#endif /* HB_BLOCK_CACHE_H */
