/*
 * ycsb_null.c - an in-memory engine for the YCSB harness: a skip list of
 * malloc'd records under one reader-writer lock, nothing on disk.
 *
 * It exists to test the harness itself (key choice, value checks, scans,
 * histograms, the result lines) without a real store underneath, and as the
 * smallest example of struct ycsb_engine. It is not a fast store: every put
 * takes the write lock, so its figures say little beyond "the harness costs
 * at most this much".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ycsb.h"

#define NULL_MAX_LEVEL 24

struct null_node {
  char *key, *val;
  size_t klen, vlen;
  int level;
  struct null_node *next[]; /* level entries */
};

struct null_db {
  pthread_rwlock_t lock;   /* guards everything below */
  struct null_node *head;  /* sentinel with NULL_MAX_LEVEL links */
  uint64_t rng;            /* level choice */
  size_t count;
};

static int null_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

/* Fill prev[] with the last node before key at every level (write path);
 * returns the first node >= key at level 0. Caller holds the lock. */
static struct null_node *null_seek(struct null_db *d, const char *key, size_t klen,
                                   struct null_node **prev) {
  struct null_node *x = d->head;
  for (int i = NULL_MAX_LEVEL - 1; i >= 0; i--) {
    while (x->next[i] && null_cmp(x->next[i]->key, x->next[i]->klen, key, klen) < 0)
      x = x->next[i];
    if (prev) prev[i] = x;
  }
  return x->next[0];
}

/* The null engine has no options: any meant for it is an error (those
 * prefixed for another engine are skipped by ycsb_each_engine_opt). */
static int null_set_opt(void *arg, const char *kv, const char *v, char *err, size_t errcap) {
  (void)arg;
  snprintf(err, errcap, "null engine: no engine options known (got %s=%s)", kv, v);
  return -1;
}

static int null_open(const struct ycsb_engine_opts *o, void **out, char *err, size_t errcap) {
  if (ycsb_each_engine_opt("null", o->extra, null_set_opt, NULL, err, errcap) != 0)
    return YCSB_ERROR;
  struct null_db *d = calloc(1, sizeof *d);
  if (d) d->head = calloc(1, sizeof *d->head + NULL_MAX_LEVEL * sizeof(struct null_node *));
  if (!d || !d->head) {
    free(d);
    snprintf(err, errcap, "null engine: out of memory");
    return YCSB_ERROR;
  }
  pthread_rwlock_init(&d->lock, NULL);
  d->rng = 0x9E3779B97F4A7C15ull;
  *out = d;
  return YCSB_OK;
}

static void null_describe(void *db, char *buf, size_t cap) {
  (void)db;
  snprintf(buf, cap, "store=skiplist,lock=rwlock,durable=no");
}

static int null_put(void *db, struct ycsb_thread *t, const char *key, size_t klen,
                    const void *val, size_t vlen) {
  struct null_db *d = db;
  char *v = malloc(vlen ? vlen : 1);
  if (!v) {
    snprintf(t->err, sizeof t->err, "null engine: put: out of memory for %zu bytes", vlen);
    return YCSB_ERROR;
  }
  memcpy(v, val, vlen);
  struct null_node *prev[NULL_MAX_LEVEL];
  pthread_rwlock_wrlock(&d->lock);
  struct null_node *x = null_seek(d, key, klen, prev);
  if (x && null_cmp(x->key, x->klen, key, klen) == 0) {
    free(x->val);
    x->val = v;
    x->vlen = vlen;
    pthread_rwlock_unlock(&d->lock);
    return YCSB_OK;
  }
  /* Level with probability 1/4 per step, as LevelDB's skip list. */
  int level = 1;
  for (;;) {
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    if (level >= NULL_MAX_LEVEL || (d->rng & 3)) break;
    level++;
  }
  x = malloc(sizeof *x + (size_t)level * sizeof x->next[0]);
  char *k = malloc(klen ? klen : 1);
  if (!x || !k) {
    pthread_rwlock_unlock(&d->lock);
    free(x);
    free(k);
    free(v);
    snprintf(t->err, sizeof t->err, "null engine: put: out of memory");
    return YCSB_ERROR;
  }
  memcpy(k, key, klen);
  x->key = k;
  x->klen = klen;
  x->val = v;
  x->vlen = vlen;
  x->level = level;
  for (int i = 0; i < level; i++) {
    x->next[i] = prev[i]->next[i];
    prev[i]->next[i] = x;
  }
  d->count++;
  pthread_rwlock_unlock(&d->lock);
  return YCSB_OK;
}

static int null_get(void *db, struct ycsb_thread *t, const char *key, size_t klen,
                    size_t *vlen) {
  struct null_db *d = db;
  pthread_rwlock_rdlock(&d->lock);
  struct null_node *x = null_seek(d, key, klen, NULL);
  int rc = YCSB_NOTFOUND;
  if (x && null_cmp(x->key, x->klen, key, klen) == 0) {
    *vlen = x->vlen;
    memcpy(t->valbuf, x->val, x->vlen < t->valcap ? x->vlen : t->valcap);
    rc = YCSB_OK;
  }
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

static long null_scan(void *db, struct ycsb_thread *t, const char *key, size_t klen, int n) {
  struct null_db *d = db;
  long got = 0;
  pthread_rwlock_rdlock(&d->lock);
  for (struct null_node *x = null_seek(d, key, klen, NULL); x && got < n; x = x->next[0]) {
    /* Touch the value as a reader would (copy what fits). */
    memcpy(t->valbuf, x->val, x->vlen < t->valcap ? x->vlen : t->valcap);
    got++;
  }
  pthread_rwlock_unlock(&d->lock);
  return got;
}

static int null_close(void *db, char *err, size_t errcap) {
  (void)err;
  (void)errcap;
  struct null_db *d = db;
  struct null_node *x = d->head->next[0];
  while (x) {
    struct null_node *n = x->next[0];
    free(x->key);
    free(x->val);
    free(x);
    x = n;
  }
  free(d->head);
  pthread_rwlock_destroy(&d->lock);
  free(d);
  return YCSB_OK;
}

const struct ycsb_engine ycsb_engine_null = {
    .name = "null",
    .open = null_open,
    .describe = null_describe,
    .put = null_put,
    .get = null_get,
    .scan = null_scan,
    .close = null_close,
};
