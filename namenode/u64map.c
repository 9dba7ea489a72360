/*
 * u64map.c - open-addressing uint64 -> pointer map (see u64map.h).
 * Keys are mixed with a 64-bit finaliser so that sequential block ids
 * spread over the table.
 */
#include "u64map.h"

#include <stdlib.h>

#include "errors.h"

static inline size_t slot_of(uint64_t k, size_t cap) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return (size_t)k & (cap - 1);
}

void nn_u64map_init(struct nn_u64map *m) {
  m->keys = NULL;
  m->vals = NULL;
  m->cap = 0;
  m->len = 0;
}

void nn_u64map_free(struct nn_u64map *m) {
  free(m->keys);
  free(m->vals);
  nn_u64map_init(m);
}

void *nn_u64map_get(const struct nn_u64map *m, uint64_t key) {
  if (m->cap == 0) return NULL;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return m->vals[i];
    if (m->keys[i] == 0) return NULL;
  }
}

static int grow(struct nn_u64map *m) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  uint64_t *nk = calloc(ncap, sizeof *nk);
  void **nv = calloc(ncap, sizeof *nv);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return DFS_ENOMEM;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == 0) continue;
    size_t j = slot_of(m->keys[i], ncap);
    while (nk[j] != 0) j = (j + 1) & (ncap - 1);
    nk[j] = m->keys[i];
    nv[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->cap = ncap;
  return 0;
}

int nn_u64map_put(struct nn_u64map *m, uint64_t key, void *val) {
  if ((m->len + 1) * 4 > m->cap * 3) {
    int rc = grow(m);
    if (rc) return rc;
  }
  size_t i = slot_of(key, m->cap);
  while (m->keys[i] != 0 && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (m->keys[i] == 0) m->len++;
  m->keys[i] = key;
  m->vals[i] = val;
  return 0;
}

void *nn_u64map_del(struct nn_u64map *m, uint64_t key) {
  if (m->cap == 0) return NULL;
  size_t mask = m->cap - 1, i = slot_of(key, m->cap);
  while (m->keys[i] != key) {
    if (m->keys[i] == 0) return NULL;
    i = (i + 1) & mask;
  }
  void *val = m->vals[i];
  /* Backward-shift: pull later members of the cluster into the hole when
   * their home slot does not lie cyclically in (hole, j]. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (m->keys[j] == 0) break;
    size_t home = slot_of(m->keys[j], m->cap);
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->vals[i] = NULL;
  m->len--;
  return val;
}

void *nn_u64map_next(const struct nn_u64map *m, size_t *pos, uint64_t *key) {
  for (; *pos < m->cap; (*pos)++) {
    if (m->keys[*pos] != 0) {
      if (key) *key = m->keys[*pos];
      return m->vals[(*pos)++];
    }
  }
  return NULL;
}
