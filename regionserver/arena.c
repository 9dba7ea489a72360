/*
 * arena.c - chunked bump allocator (arena.h).
 *
 * The current chunk is published through an atomic pointer; allocating is
 * fetch_add(&chunk->used, n). A thread whose fetch_add runs past the end
 * takes the mutex and installs a new chunk unless another thread already
 * did; the overshoot only wastes that chunk's tail. Chunks are linked into
 * a list (under the mutex) so that arena_destroy() can free them all
 * (into the pool, below, when they have the standard size).
 */
#include "arena.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct arena_chunk {
  struct arena_chunk *next; /* every chunk of the arena; guarded by arena.lock */
  size_t cap;               /* usable bytes after the header */
  _Atomic size_t used;      /* may run past cap: then the chunk is full */
};

/* Data starts after the header, rounded so that it is suitably aligned. */
#define CHUNK_HDR (((sizeof(struct arena_chunk) + 15) / 16) * 16)

struct arena {
  size_t chunk_size;
  _Atomic(struct arena_chunk *) cur; /* where small allocations go */
  pthread_mutex_t lock;              /* guards chunks and replacing cur */
  struct arena_chunk *chunks;
  _Atomic size_t reserved;
};

static uint8_t *chunk_data(struct arena_chunk *c) { return (uint8_t *)c + CHUNK_HDR; }

/* The process-wide pool of free chunks (arena.h), linked through next. */
static struct {
  pthread_mutex_t mu;
  struct arena_chunk *free;
  size_t bytes;     /* held */
  size_t limit;     /* most bytes held */
  size_t chunk_cap; /* the cap of the chunks held */
} pool = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, ARENA_POOL_DEFAULT_LIMIT, 0};

static struct arena_chunk *pool_take(size_t cap) {
  struct arena_chunk *c = NULL;
  pthread_mutex_lock(&pool.mu);
  if (pool.free && pool.chunk_cap == cap) {
    c = pool.free;
    pool.free = c->next;
    pool.bytes -= CHUNK_HDR + cap;
  }
  pthread_mutex_unlock(&pool.mu);
  return c;
}

/* Pools c (a chunk of its arena's standard size) or frees it. */
static void pool_give(struct arena_chunk *c) {
  pthread_mutex_lock(&pool.mu);
  if (!pool.free) pool.chunk_cap = c->cap; /* one size at a time */
  if (c->cap == pool.chunk_cap && pool.bytes + CHUNK_HDR + c->cap <= pool.limit) {
    c->next = pool.free;
    pool.free = c;
    pool.bytes += CHUNK_HDR + c->cap;
    c = NULL;
  }
  pthread_mutex_unlock(&pool.mu);
  free(c);
}

void arena_pool_set_limit(size_t bytes) {
  struct arena_chunk *drop = NULL;
  pthread_mutex_lock(&pool.mu);
  pool.limit = bytes;
  while (pool.free && pool.bytes > pool.limit) {
    struct arena_chunk *c = pool.free;
    pool.free = c->next;
    pool.bytes -= CHUNK_HDR + c->cap;
    c->next = drop;
    drop = c;
  }
  pthread_mutex_unlock(&pool.mu);
  while (drop) {
    struct arena_chunk *n = drop->next;
    free(drop);
    drop = n;
  }
}

size_t arena_pool_bytes(void) {
  pthread_mutex_lock(&pool.mu);
  size_t b = pool.bytes;
  pthread_mutex_unlock(&pool.mu);
  return b;
}

struct arena *arena_create(size_t chunk_size) {
  struct arena *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  if (chunk_size == 0) chunk_size = ARENA_DEFAULT_CHUNK_SIZE;
  if (chunk_size < ARENA_MIN_CHUNK_SIZE) chunk_size = ARENA_MIN_CHUNK_SIZE;
  a->chunk_size = chunk_size;
  atomic_init(&a->cur, NULL);
  atomic_init(&a->reserved, 0);
  if (pthread_mutex_init(&a->lock, NULL) != 0) {
    free(a);
    return NULL;
  }
  return a;
}

void arena_destroy(struct arena *a) {
  if (!a) return;
  struct arena_chunk *c = a->chunks;
  size_t standard = a->chunk_size - CHUNK_HDR;
  while (c) {
    struct arena_chunk *n = c->next;
    if (c->cap == standard) pool_give(c);
    else free(c); /* a big allocation's own chunk */
    c = n;
  }
  pthread_mutex_destroy(&a->lock);
  free(a);
}

/* A new chunk with cap bytes, linked into the list. Caller holds a->lock. */
static struct arena_chunk *chunk_new(struct arena *a, size_t cap) {
  struct arena_chunk *c = pool_take(cap);
  if (!c) c = malloc(CHUNK_HDR + cap);
  if (!c) return NULL;
  c->cap = cap;
  atomic_init(&c->used, 0);
  c->next = a->chunks;
  a->chunks = c;
  atomic_fetch_add_explicit(&a->reserved, CHUNK_HDR + cap, memory_order_relaxed);
  return c;
}

void *arena_alloc(struct arena *a, size_t n) {
  if (n == 0 || n > SIZE_MAX - CHUNK_HDR - ARENA_ALIGN) return NULL;
  n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (n > a->chunk_size / 8) {
    /* Big: a chunk of its own, so that small allocations keep the current one. */
    pthread_mutex_lock(&a->lock);
    struct arena_chunk *c = chunk_new(a, n);
    pthread_mutex_unlock(&a->lock);
    if (!c) return NULL;
    atomic_store_explicit(&c->used, n, memory_order_relaxed);
    return chunk_data(c);
  }
  for (;;) {
    struct arena_chunk *c = atomic_load_explicit(&a->cur, memory_order_acquire);
    if (c) {
      size_t off = atomic_fetch_add_explicit(&c->used, n, memory_order_relaxed);
      if (off <= c->cap && n <= c->cap - off) return chunk_data(c) + off;
    }
    /* Full (or none yet): install a fresh chunk unless someone beat us to it. */
    pthread_mutex_lock(&a->lock);
    if (atomic_load_explicit(&a->cur, memory_order_relaxed) == c) {
      struct arena_chunk *fresh = chunk_new(a, a->chunk_size - CHUNK_HDR);
      if (!fresh) {
        pthread_mutex_unlock(&a->lock);
        return NULL;
      }
      atomic_store_explicit(&a->cur, fresh, memory_order_release);
    }
    pthread_mutex_unlock(&a->lock);
  }
}

size_t arena_reserved(const struct arena *a) {
  return atomic_load_explicit(&((struct arena *)a)->reserved, memory_order_relaxed);
}

size_t arena_chunk_size(const struct arena *a) { return a->chunk_size; }
