/*
 * block_cache.c - sharded LRU block cache with reference-counted blocks
 * (block_cache.h).
 *
 * Each shard: a chained hash table of resident blocks and a doubly linked
 * LRU list (head = most recently used), both guarded by the shard's mutex.
 * The reference count is atomic so that users drop references without the
 * lock; it can only be raised under the lock while the block is resident
 * (the cache's own reference keeps it at >= 1 then), so a block whose count
 * reached zero can never be found again and is freed by whoever dropped the
 * last reference.
 */
#include "block_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "errors.h"

/* Bookkeeping charged per block on top of its bytes. */
#define BLOCK_OVERHEAD 96u

struct cache_block_int {
  struct cache_block pub;
  uint8_t *data;
  uint64_t file_id, offset;
  uint64_t hash;
  atomic_uint refs;
  bool resident;                        /* guarded by the shard's mutex */
  struct cache_block_int *hnext;        /* hash chain; shard mutex */
  struct cache_block_int *prev, *next;  /* LRU list; shard mutex */
};

struct shard {
  pthread_mutex_t mu;
  struct cache_block_int **table; /* mu */
  size_t nbuckets;                /* mu; power of two */
  size_t count;                   /* mu */
  uint64_t bytes, capacity;       /* mu; capacity fixed */
  struct cache_block_int *head, *tail; /* mu */
  uint64_t hits, misses, evictions, inserts; /* mu */
};

struct block_cache {
  struct shard *shards;
  unsigned nshards;
  uint64_t capacity;
  atomic_uint_fast64_t next_file_id;
};

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

static uint64_t key_hash(uint64_t file_id, uint64_t offset) {
  return mix64(file_id * 0x9E3779B97F4A7C15ull ^ mix64(offset));
}

int block_cache_new(uint64_t capacity, unsigned shards, struct block_cache **out) {
  unsigned n = 1;
  unsigned want = shards ? shards : 16;
  while (n < want && n < 1024) n <<= 1;
  struct block_cache *c = calloc(1, sizeof *c);
  if (!c) return dfs_err_set(DFS_ENOMEM, "block cache: out of memory");
  c->shards = calloc(n, sizeof *c->shards);
  if (!c->shards) {
    free(c);
    return dfs_err_set(DFS_ENOMEM, "block cache: out of memory");
  }
  c->nshards = n;
  c->capacity = capacity;
  atomic_init(&c->next_file_id, 1);
  for (unsigned i = 0; i < n; i++) {
    struct shard *s = &c->shards[i];
    pthread_mutex_init(&s->mu, NULL);
    s->capacity = capacity / n;
    s->nbuckets = 64;
    s->table = calloc(s->nbuckets, sizeof *s->table);
    if (!s->table) {
      c->nshards = i + 1;
      block_cache_free(c);
      return dfs_err_set(DFS_ENOMEM, "block cache: out of memory");
    }
  }
  *out = c;
  return 0;
}

static void block_free(struct cache_block_int *b) {
  free(b->data);
  free(b);
}

void cache_block_unref(struct cache_block *pub) {
  if (!pub) return;
  struct cache_block_int *b = pub->priv;
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) block_free(b);
}

static void lru_unlink(struct shard *s, struct cache_block_int *b) {
  if (b->prev) b->prev->next = b->next; else s->head = b->next;
  if (b->next) b->next->prev = b->prev; else s->tail = b->prev;
  b->prev = b->next = NULL;
}

static void lru_push_front(struct shard *s, struct cache_block_int *b) {
  b->prev = NULL;
  b->next = s->head;
  if (s->head) s->head->prev = b; else s->tail = b;
  s->head = b;
}

static void hash_unlink(struct shard *s, struct cache_block_int *b) {
  struct cache_block_int **pp = &s->table[b->hash & (s->nbuckets - 1)];
  while (*pp && *pp != b) pp = &(*pp)->hnext;
  if (*pp) *pp = b->hnext;
  b->hnext = NULL;
}

/* Remove a resident block; the caller drops the cache's reference after
 * unlocking (so a free never runs under the lock). */
static void remove_locked(struct shard *s, struct cache_block_int *b) {
  hash_unlink(s, b);
  lru_unlink(s, b);
  b->resident = false;
  s->count--;
  s->bytes -= b->pub.len + BLOCK_OVERHEAD;
}

void block_cache_free(struct block_cache *c) {
  if (!c) return;
  for (unsigned i = 0; i < c->nshards; i++) {
    struct shard *s = &c->shards[i];
    while (s->head) {
      struct cache_block_int *b = s->head;
      remove_locked(s, b);
      cache_block_unref(&b->pub);
    }
    free(s->table);
    pthread_mutex_destroy(&s->mu);
  }
  free(c->shards);
  free(c);
}

uint64_t block_cache_new_file_id(struct block_cache *c) {
  return atomic_fetch_add(&c->next_file_id, 1);
}

static struct shard *shard_of(struct block_cache *c, uint64_t h) {
  return &c->shards[(h >> 48) & (c->nshards - 1)];
}

static struct cache_block_int *find_locked(struct shard *s, uint64_t h, uint64_t file_id,
                                           uint64_t offset) {
  for (struct cache_block_int *b = s->table[h & (s->nbuckets - 1)]; b; b = b->hnext)
    if (b->file_id == file_id && b->offset == offset) return b;
  return NULL;
}

struct cache_block *block_cache_get(struct block_cache *c, uint64_t file_id, uint64_t offset) {
  if (!c) return NULL;
  uint64_t h = key_hash(file_id, offset);
  struct shard *s = shard_of(c, h);
  pthread_mutex_lock(&s->mu);
  struct cache_block_int *b = find_locked(s, h, file_id, offset);
  if (b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    lru_unlink(s, b);
    lru_push_front(s, b);
    s->hits++;
  } else {
    s->misses++;
  }
  pthread_mutex_unlock(&s->mu);
  return b ? &b->pub : NULL;
}

static void grow_locked(struct shard *s) {
  size_t nb = s->nbuckets * 2;
  struct cache_block_int **t = calloc(nb, sizeof *t);
  if (!t) return; /* longer chains, still correct */
  for (size_t i = 0; i < s->nbuckets; i++) {
    struct cache_block_int *b = s->table[i];
    while (b) {
      struct cache_block_int *next = b->hnext;
      b->hnext = t[b->hash & (nb - 1)];
      t[b->hash & (nb - 1)] = b;
      b = next;
    }
  }
  free(s->table);
  s->table = t;
  s->nbuckets = nb;
}

struct cache_block *block_cache_put(struct block_cache *c, uint64_t file_id, uint64_t offset,
                                    uint8_t *data, size_t len) {
  struct cache_block_int *b = calloc(1, sizeof *b);
  if (!b) {
    free(data);
    return NULL;
  }
  b->data = data;
  b->pub.data = data;
  b->pub.len = len;
  b->pub.priv = b;
  b->file_id = file_id;
  b->offset = offset;
  b->hash = key_hash(file_id, offset);
  atomic_init(&b->refs, 1); /* the caller's */
  if (!c) return &b->pub;
  struct shard *s = shard_of(c, b->hash);
  if ((uint64_t)len + BLOCK_OVERHEAD > s->capacity) return &b->pub; /* private */

  struct cache_block_int *victims = NULL; /* freed after unlocking */
  pthread_mutex_lock(&s->mu);
  struct cache_block_int *old = find_locked(s, b->hash, file_id, offset);
  if (old) {
    atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
    lru_unlink(s, old);
    lru_push_front(s, old);
    pthread_mutex_unlock(&s->mu);
    block_free(b);
    return &old->pub;
  }
  atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); /* the cache's */
  b->resident = true;
  size_t bi = b->hash & (s->nbuckets - 1);
  b->hnext = s->table[bi];
  s->table[bi] = b;
  lru_push_front(s, b);
  s->count++;
  s->inserts++;
  s->bytes += len + BLOCK_OVERHEAD;
  while (s->bytes > s->capacity && s->tail && s->tail != b) {
    struct cache_block_int *v = s->tail;
    remove_locked(s, v);
    s->evictions++;
    v->hnext = victims;
    victims = v;
  }
  if (s->count > s->nbuckets) grow_locked(s);
  pthread_mutex_unlock(&s->mu);
  while (victims) {
    struct cache_block_int *v = victims;
    victims = v->hnext;
    v->hnext = NULL;
    cache_block_unref(&v->pub);
  }
  return &b->pub;
}

size_t block_cache_evict_file(struct block_cache *c, uint64_t file_id) {
  if (!c) return 0;
  size_t n = 0;
  for (unsigned i = 0; i < c->nshards; i++) {
    struct shard *s = &c->shards[i];
    struct cache_block_int *victims = NULL;
    pthread_mutex_lock(&s->mu);
    for (struct cache_block_int *b = s->head; b;) {
      struct cache_block_int *next = b->next;
      if (b->file_id == file_id) {
        remove_locked(s, b);
        b->hnext = victims;
        victims = b;
        n++;
      }
      b = next;
    }
    pthread_mutex_unlock(&s->mu);
    while (victims) {
      struct cache_block_int *v = victims;
      victims = v->hnext;
      v->hnext = NULL;
      cache_block_unref(&v->pub);
    }
  }
  return n;
}

void block_cache_stats(struct block_cache *c, struct block_cache_stats *st) {
  *st = (struct block_cache_stats){0};
  if (!c) return;
  st->capacity = c->capacity;
  for (unsigned i = 0; i < c->nshards; i++) {
    struct shard *s = &c->shards[i];
    pthread_mutex_lock(&s->mu);
    st->hits += s->hits;
    st->misses += s->misses;
    st->evictions += s->evictions;
    st->inserts += s->inserts;
    st->bytes += s->bytes;
    st->blocks += s->count;
    pthread_mutex_unlock(&s->mu);
  }
}
