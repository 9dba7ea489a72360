/*
 * mvcc.c - write numbers and the read point (mvcc.h).
 *
 * Pending write numbers are always the contiguous range
 * (read_point, write_point], so instead of HBase's queue of write entries
 * we keep one "done" flag per pending number in a ring buffer whose slot 0
 * is read_point + 1. Completing marks a flag and pops done flags from the
 * head, moving the read point. The mutex guards the ring and write_point;
 * read_point is also an atomic so that readers take it without the lock.
 *
 * A writer waiting for the read point to pass its number sleeps on its own
 * condition variable in a list, and an advance wakes exactly the waiters it
 * covers: with one shared broadcast, the writers of one WAL batch (which
 * complete together) would wake each other once per completion only to
 * sleep again, O(n^2) context switches per batch.
 */
#include "mvcc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "errors.h"

struct mvcc_waiter {
  uint64_t wn;
  bool woken;
  pthread_cond_t cv;
  struct mvcc_waiter *next;
};

struct mvcc {
  pthread_mutex_t lock;
  struct mvcc_waiter *waiters;  /* guarded by lock; on their owners' stacks */
  _Atomic uint64_t read_point;  /* written under lock, read lock-free */
  uint64_t write_point;         /* guarded by lock */
  uint8_t *done;                /* ring of done flags; guarded by lock */
  size_t cap;                   /* ring size, a power of two */
  size_t head;                  /* slot of read_point + 1 */
};

struct mvcc *mvcc_create(uint64_t start) {
  struct mvcc *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cap = 64;
  m->done = calloc(m->cap, 1);
  if (!m->done) goto fail;
  if (pthread_mutex_init(&m->lock, NULL) != 0) goto fail;
  atomic_init(&m->read_point, start);
  m->write_point = start;
  return m;
fail:
  free(m->done);
  free(m);
  return NULL;
}

void mvcc_destroy(struct mvcc *m) {
  if (!m) return;
  pthread_mutex_destroy(&m->lock);
  free(m->done);
  free(m);
}

/* The read point moved to rp: wake the waiters it covers. Caller holds lock. */
static void wake_covered(struct mvcc *m, uint64_t rp) {
  for (struct mvcc_waiter **pp = &m->waiters; *pp;) {
    struct mvcc_waiter *w = *pp;
    if (w->wn <= rp) {
      *pp = w->next;
      w->woken = true;
      pthread_cond_signal(&w->cv);
    } else {
      pp = &w->next;
    }
  }
}

/* Pending count. Caller holds lock. */
static size_t pending(const struct mvcc *m) {
  return (size_t)(m->write_point - atomic_load_explicit(&m->read_point, memory_order_relaxed));
}

/* Doubles the ring, unwrapping it. Caller holds lock. */
static bool grow(struct mvcc *m) {
  if (m->cap > SIZE_MAX / 4) return false;
  size_t ncap = m->cap * 2, n = pending(m);
  uint8_t *nd = calloc(ncap, 1);
  if (!nd) return false;
  for (size_t i = 0; i < n; i++) nd[i] = m->done[(m->head + i) & (m->cap - 1)];
  free(m->done);
  m->done = nd;
  m->cap = ncap;
  m->head = 0;
  return true;
}

uint64_t mvcc_begin(struct mvcc *m) {
  pthread_mutex_lock(&m->lock);
  if (pending(m) == m->cap && !grow(m)) {
    pthread_mutex_unlock(&m->lock);
    return 0;
  }
  uint64_t wn = ++m->write_point;
  m->done[(m->head + pending(m) - 1) & (m->cap - 1)] = 0;
  pthread_mutex_unlock(&m->lock);
  return wn;
}

int mvcc_complete(struct mvcc *m, uint64_t wn) {
  pthread_mutex_lock(&m->lock);
  uint64_t rp = atomic_load_explicit(&m->read_point, memory_order_relaxed);
  if (wn <= rp || wn > m->write_point) {
    uint64_t wp = m->write_point;
    pthread_mutex_unlock(&m->lock);
    return dfs_err_set(DFS_EINVAL, "mvcc: complete of write number %llu, pending are (%llu, %llu]",
                       (unsigned long long)wn, (unsigned long long)rp, (unsigned long long)wp);
  }
  size_t slot = (m->head + (size_t)(wn - rp - 1)) & (m->cap - 1);
  if (m->done[slot]) {
    pthread_mutex_unlock(&m->lock);
    return dfs_err_set(DFS_EINVAL, "mvcc: write number %llu completed twice",
                       (unsigned long long)wn);
  }
  m->done[slot] = 1;
  uint64_t nrp = rp;
  while (nrp < m->write_point && m->done[m->head]) {
    m->done[m->head] = 0;
    m->head = (m->head + 1) & (m->cap - 1);
    nrp++;
  }
  if (nrp != rp) {
    /* Release: whoever sees the new read point sees the cells inserted
     * before these writes were completed. */
    atomic_store_explicit(&m->read_point, nrp, memory_order_release);
    wake_covered(m, nrp);
  }
  pthread_mutex_unlock(&m->lock);
  return 0;
}

uint64_t mvcc_read_point(const struct mvcc *m) {
  return atomic_load_explicit(&((struct mvcc *)m)->read_point, memory_order_acquire);
}

uint64_t mvcc_write_point(const struct mvcc *m) {
  struct mvcc *mm = (struct mvcc *)m;
  pthread_mutex_lock(&mm->lock);
  uint64_t wp = mm->write_point;
  pthread_mutex_unlock(&mm->lock);
  return wp;
}

void mvcc_wait_for_read_point(struct mvcc *m, uint64_t wn) {
  if (mvcc_read_point(m) >= wn) return;
  pthread_mutex_lock(&m->lock);
  if (atomic_load_explicit(&m->read_point, memory_order_relaxed) >= wn) {
    pthread_mutex_unlock(&m->lock);
    return;
  }
  struct mvcc_waiter w = {.wn = wn, .next = m->waiters};
  pthread_cond_init(&w.cv, NULL);
  m->waiters = &w;
  while (!w.woken) pthread_cond_wait(&w.cv, &m->lock);
  pthread_mutex_unlock(&m->lock);
  pthread_cond_destroy(&w.cv);
}

int mvcc_complete_and_wait(struct mvcc *m, uint64_t wn) {
  int rc = mvcc_complete(m, wn);
  if (rc == 0) mvcc_wait_for_read_point(m, wn);
  return rc;
}

int mvcc_advance_to(struct mvcc *m, uint64_t seq) {
  pthread_mutex_lock(&m->lock);
  if (pending(m) != 0) {
    size_t n = pending(m);
    pthread_mutex_unlock(&m->lock);
    return dfs_err_set(DFS_EINVAL, "mvcc: advance to %llu with %zu writes pending",
                       (unsigned long long)seq, n);
  }
  if (seq > m->write_point) {
    m->write_point = seq;
    atomic_store_explicit(&m->read_point, seq, memory_order_release);
    wake_covered(m, seq);
  }
  pthread_mutex_unlock(&m->lock);
  return 0;
}
