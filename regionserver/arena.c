/*
 * arena.c - chunked bump allocator (arena.h).
 *
 * The current chunk is published through an atomic pointer; allocating is
 * fetch_add(&chunk->used, n). A thread whose fetch_add runs past the end
 * takes the mutex and installs a new chunk unless another thread already
 * did; the overshoot only wastes that chunk's tail. Chunks are linked into
 * a list (under the mutex) so that arena_destroy() can free them all.
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
  while (c) {
    struct arena_chunk *n = c->next;
    free(c);
    c = n;
  }
  pthread_mutex_destroy(&a->lock);
  free(a);
}

/* A new chunk with cap bytes, linked into the list. Caller holds a->lock. */
static struct arena_chunk *chunk_new(struct arena *a, size_t cap) {
  struct arena_chunk *c = malloc(CHUNK_HDR + cap);
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
