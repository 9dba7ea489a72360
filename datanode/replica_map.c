/*
 * replica_map.c - block id -> replica, an open-addressing hash table.
 *
 * Linear probing with backward-shift deletion (no tombstones), load kept
 * under 1/2; ids are mixed with a 64-bit finalizer because block ids are
 * sequential. A DataNode holds at most a few million replicas, so one
 * table under one mutex is enough: every critical section is a probe.
 */
#include "replica_map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct dn_rmap {
  pthread_mutex_t lock;
  struct dn_replica *slots; /* guarded by lock; id 0 = empty */
  size_t cap;               /* guarded by lock; power of two */
  size_t count;             /* guarded by lock */
  uint64_t bytes;           /* guarded by lock; sum of bytes_on_disk */
};

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

int dn_rmap_create(dn_rmap **out) {
  dn_rmap *m = calloc(1, sizeof *m);
  if (m == NULL) return DFS_ENOMEM;
  m->cap = 1024;
  m->slots = calloc(m->cap, sizeof *m->slots);
  if (m->slots == NULL) {
    free(m);
    return DFS_ENOMEM;
  }
  pthread_mutex_init(&m->lock, NULL);
  *out = m;
  return 0;
}

void dn_rmap_destroy(dn_rmap *m) {
  if (m == NULL) return;
  pthread_mutex_destroy(&m->lock);
  free(m->slots);
  free(m);
}

/* Slot of id, or of the empty slot where it would go. Lock held. */
static size_t find_slot(const dn_rmap *m, uint64_t id) {
  size_t mask = m->cap - 1;
  size_t i = (size_t)mix(id) & mask;
  while (m->slots[i].id != 0 && m->slots[i].id != id) i = (i + 1) & mask;
  return i;
}

static int grow(dn_rmap *m) {
  size_t ncap = m->cap * 2;
  struct dn_replica *ns = calloc(ncap, sizeof *ns);
  if (ns == NULL) return DFS_ENOMEM;
  struct dn_replica *old = m->slots;
  size_t ocap = m->cap;
  m->slots = ns;
  m->cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].id != 0) m->slots[find_slot(m, old[i].id)] = old[i];
  free(old);
  return 0;
}

static int put_locked(dn_rmap *m, const struct dn_replica *r, bool replace) {
  if (r->id == 0) return dfs_err_set(DFS_EINVAL, "replica map: block id 0");
  size_t i = find_slot(m, r->id);
  if (m->slots[i].id == r->id) {
    if (!replace)
      return dfs_err_set(DFS_EEXIST, "replica blk_%llu already exists",
                         (unsigned long long)r->id);
    m->bytes -= m->slots[i].bytes_on_disk;
    m->slots[i] = *r;
    m->bytes += r->bytes_on_disk;
    return 0;
  }
  if ((m->count + 1) * 2 > m->cap) {
    if (grow(m) < 0) return DFS_ENOMEM;
    i = find_slot(m, r->id);
  }
  m->slots[i] = *r;
  m->count++;
  m->bytes += r->bytes_on_disk;
  return 0;
}

int dn_rmap_add(dn_rmap *m, const struct dn_replica *r) {
  pthread_mutex_lock(&m->lock);
  int rc = put_locked(m, r, false);
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int dn_rmap_put(dn_rmap *m, const struct dn_replica *r) {
  pthread_mutex_lock(&m->lock);
  int rc = put_locked(m, r, true);
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int dn_rmap_get(dn_rmap *m, uint64_t id, struct dn_replica *out) {
  int rc = DFS_ENOTREPLICA;
  pthread_mutex_lock(&m->lock);
  size_t i = find_slot(m, id);
  if (id != 0 && m->slots[i].id == id) {
    *out = m->slots[i];
    rc = 0;
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int dn_rmap_remove(dn_rmap *m, uint64_t id, uint64_t gs, struct dn_replica *out) {
  int rc = DFS_ENOTREPLICA;
  pthread_mutex_lock(&m->lock);
  size_t mask = m->cap - 1;
  size_t i = find_slot(m, id);
  if (id == 0 || m->slots[i].id != id || (gs != 0 && m->slots[i].gs != gs))
    goto out;
  if (out != NULL) *out = m->slots[i];
  m->bytes -= m->slots[i].bytes_on_disk;
  m->count--;
  /* Backward-shift deletion keeps every probe chain unbroken. */
  size_t j = i;
  for (;;) {
    m->slots[i].id = 0;
    for (;;) {
      j = (j + 1) & mask;
      if (m->slots[j].id == 0) goto done;
      size_t home = (size_t)mix(m->slots[j].id) & mask;
      /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
    }
    m->slots[i] = m->slots[j];
    i = j;
  }
done:
  rc = 0;
out:
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int dn_rmap_advance(dn_rmap *m, uint64_t id, uint64_t gs, uint64_t on_disk,
                    uint64_t acked) {
  int rc = DFS_ENOTREPLICA;
  pthread_mutex_lock(&m->lock);
  size_t i = find_slot(m, id);
  struct dn_replica *r = &m->slots[i];
  if (id != 0 && r->id == id && r->gs == gs && r->state == DN_REPLICA_RBW) {
    if (on_disk > r->bytes_on_disk) {
      m->bytes += on_disk - r->bytes_on_disk;
      r->bytes_on_disk = on_disk;
    }
    if (acked > r->bytes_acked) r->bytes_acked = acked;
    rc = 0;
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

void dn_rmap_stats(dn_rmap *m, uint64_t *count, uint64_t *bytes) {
  pthread_mutex_lock(&m->lock);
  if (count) *count = m->count;
  if (bytes) *bytes = m->bytes;
  pthread_mutex_unlock(&m->lock);
}

int dn_rmap_snapshot(dn_rmap *m, struct dn_replica **out, size_t *n) {
  pthread_mutex_lock(&m->lock);
  struct dn_replica *a = malloc((m->count ? m->count : 1) * sizeof *a);
  if (a == NULL) {
    pthread_mutex_unlock(&m->lock);
    return DFS_ENOMEM;
  }
  size_t k = 0;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].id != 0) a[k++] = m->slots[i];
  pthread_mutex_unlock(&m->lock);
  *out = a;
  *n = k;
  return 0;
}
