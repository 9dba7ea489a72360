/*
 * arena.h - a chunked bump allocator for objects that die together (one
 * MemStore segment's cells and skip-list nodes), like HBase's MSLAB.
 *
 * Memory comes in chunks (default 2 MiB) so that a segment's cells sit in
 * a few large blocks instead of millions of small malloc()s: no per-cell
 * free, no heap fragmentation when a flushed segment is dropped, and one
 * free() per chunk. Allocation is thread-safe and lock-free on the fast
 * path (an atomic fetch-add on the current chunk's offset); only switching
 * to a fresh chunk takes the arena's mutex. Requests larger than an eighth
 * of a chunk get a chunk of their own, so a big value wastes no chunk tail.
 * Nothing is freed before arena_destroy().
 *
 * Chunks of a destroyed arena go to a process-wide pool (HBase's
 * MemStoreChunkPool) from which new arenas take theirs: a flushed
 * segment's memory becomes the next segment's without going back to the
 * kernel, so inserts do not pay a page fault (zeroing included) every
 * 4 KiB of cells. The pool holds chunks of one size at a time (a
 * server's arenas all use the configured chunk size; big allocations'
 * own chunks are freed), up to a bound (arena_pool_set_limit).
 */
#ifndef HB_ARENA_H
#define HB_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define ARENA_DEFAULT_CHUNK_SIZE ((size_t)2 << 20) /* hbase.hregion.memstore.mslab.chunksize */
#define ARENA_MIN_CHUNK_SIZE ((size_t)4096)
#define ARENA_ALIGN 8

struct arena;

/* A new, empty arena (no chunk yet: an unused arena costs no chunk).
 * chunk_size 0 means ARENA_DEFAULT_CHUNK_SIZE; smaller than
 * ARENA_MIN_CHUNK_SIZE is raised to it. NULL on allocation failure.
 * Free with arena_destroy(). */
struct arena *arena_create(size_t chunk_size);

/* Frees every chunk and the arena; every pointer it handed out dies.
 * The caller makes sure no thread still uses the arena. NULL is a no-op. */
void arena_destroy(struct arena *a);

/* n bytes aligned to ARENA_ALIGN, uninitialised, owned by the arena.
 * NULL when n is 0 or memory is exhausted. Thread-safe. */
void *arena_alloc(struct arena *a, size_t n);

/* Bytes of chunks the arena holds (what it costs the process). Thread-safe;
 * a snapshot that concurrent allocations may have passed. */
size_t arena_reserved(const struct arena *a);

/* The chunk size in effect. */
size_t arena_chunk_size(const struct arena *a);

#define ARENA_POOL_DEFAULT_LIMIT ((size_t)128 << 20) /* one default flush size */

/* Bytes of chunks the pool may keep (0: none; what it holds beyond a new
 * limit is freed). Thread-safe. */
void arena_pool_set_limit(size_t bytes);

/* Bytes of chunks the pool holds now. Thread-safe. */
size_t arena_pool_bytes(void);

#endif /* HB_ARENA_H */
