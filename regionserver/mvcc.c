/*
 * mvcc.c - write numbers and the read point (mvcc.h).
 *
 * Pending write numbers are always the contiguous range
 * (read_point, write_point], so instead of HBase's queue of write entries
 * we keep one state per pending number (open, ready with a txid, done) in
 * a ring buffer whose slot 0 is read_point + 1. Completing marks a slot
 * done and pops done slots from the head, moving the read point. The mutex
 * guards the ring and write_point; read_point is also an atomic so that
 * readers take it without the lock.
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

enum { SLOT_OPEN = 0, SLOT_READY = 1, SLOT_DONE = 2 };

struct mvcc {
  pthread_mutex_t lock;
  struct mvcc_waiter *waiters;  /* guarded by lock; on their owners' stacks */
  _Atomic uint64_t read_point;  /* written under lock, read lock-free */
  uint64_t write_point;         /* guarded by lock */
  uint8_t *state;               /* ring of slot states; guarded by lock */
  uint64_t *txid;               /* ring: txid of a ready slot; guarded by lock */
  size_t cap;                   /* ring size, a power of two */
  size_t head;                  /* slot of read_point + 1 */
};

struct mvcc *mvcc_create(uint64_t start) {
  struct mvcc *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cap = 64;
  m->state = calloc(m->cap, 1);
  m->txid = calloc(m->cap, sizeof *m->txid);
  if (!m->state || !m->txid) goto fail;
  if (pthread_mutex_init(&m->lock, NULL) != 0) goto fail;
  atomic_init(&m->read_point, start);
  m->write_point = start;
  return m;
fail:
  free(m->state);
  free(m->txid);
  free(m);
  return NULL;
}

void mvcc_destroy(struct mvcc *m) {
  if (!m) return;
  pthread_mutex_destroy(&m->lock);
  free(m->state);
  free(m->txid);
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
  uint64_t *nt = calloc(ncap, sizeof *nt);
  if (!nd || !nt) {
    free(nd);
    free(nt);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    nd[i] = m->state[(m->head + i) & (m->cap - 1)];
    nt[i] = m->txid[(m->head + i) & (m->cap - 1)];
  }
  free(m->state);
  free(m->txid);
  m->state = nd;
  m->txid = nt;
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
  m->state[(m->head + pending(m) - 1) & (m->cap - 1)] = SLOT_OPEN;
  pthread_mutex_unlock(&m->lock);
  return wn;
}

/* The ring slot of pending write number wn, or -1 (error set) if wn is
 * not pending. Caller holds lock. */
static long slot_of(struct mvcc *m, uint64_t wn, const char *what) {
  uint64_t rp = atomic_load_explicit(&m->read_point, memory_order_relaxed);
  if (wn <= rp || wn > m->write_point) {
    dfs_err_set(DFS_EINVAL, "mvcc: %s of write number %llu, pending are (%llu, %llu]", what,
                (unsigned long long)wn, (unsigned long long)rp,
                (unsigned long long)m->write_point);
    return -1;
  }
  return (long)((m->head + (size_t)(wn - rp - 1)) & (m->cap - 1));
}

/* Pops the done slots at the head: moves the read point. Caller holds lock. */
static void advance(struct mvcc *m) {
  uint64_t rp = atomic_load_explicit(&m->read_point, memory_order_relaxed), nrp = rp;
  while (nrp < m->write_point && m->state[m->head] == SLOT_DONE) {
    m->state[m->head] = SLOT_OPEN;
    m->head = (m->head + 1) & (m->cap - 1);
    nrp++;
  }
  if (nrp != rp) {
    /* Release: whoever sees the new read point sees the cells inserted
     * before these writes were completed. */
    atomic_store_explicit(&m->read_point, nrp, memory_order_release);
    wake_covered(m, nrp);
  }
}

int mvcc_complete(struct mvcc *m, uint64_t wn) {
  pthread_mutex_lock(&m->lock);
  long slot = slot_of(m, wn, "complete");
  if (slot >= 0 && m->state[slot] == SLOT_DONE) {
    dfs_err_set(DFS_EINVAL, "mvcc: write number %llu completed twice", (unsigned long long)wn);
    slot = -1;
  }
  if (slot < 0) {
    pthread_mutex_unlock(&m->lock);
    return DFS_EINVAL;
  }
  m->state[slot] = SLOT_DONE;
  advance(m);
  pthread_mutex_unlock(&m->lock);
  return 0;
}

int mvcc_ready(struct mvcc *m, uint64_t wn, uint64_t txid) {
  pthread_mutex_lock(&m->lock);
  long slot = slot_of(m, wn, "ready");
  if (slot >= 0 && m->state[slot] != SLOT_OPEN) {
    dfs_err_set(DFS_EINVAL, "mvcc: write number %llu is not open", (unsigned long long)wn);
    slot = -1;
  }
  if (slot >= 0) {
    m->state[slot] = SLOT_READY;
    m->txid[slot] = txid;
  }
  pthread_mutex_unlock(&m->lock);
  return slot < 0 ? DFS_EINVAL : 0;
}

void mvcc_durable(struct mvcc *m, uint64_t txid) {
  pthread_mutex_lock(&m->lock);
  size_t n = pending(m);
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    size_t s = (m->head + i) & (m->cap - 1);
    if (m->state[s] != SLOT_READY) continue; /* open ones complete by themselves */
    if (m->txid[s] > txid) break;           /* and so are all later ready ones */
    m->state[s] = SLOT_DONE;
    any = true;
  }
  if (any) advance(m);
  pthread_mutex_unlock(&m->lock);
}

int mvcc_finish(struct mvcc *m, uint64_t wn) {
  /* Visible already (the read point never passes the write point): for a
   * ready write that is mvcc_durable()'s doing. */
  if (wn != 0 && mvcc_read_point(m) >= wn) return 0;
  pthread_mutex_lock(&m->lock);
  int rc = 0;
  if (wn == 0 || atomic_load_explicit(&m->read_point, memory_order_relaxed) < wn) {
    long slot = slot_of(m, wn, "finish");
    if (slot < 0) {
      rc = DFS_EINVAL;
    } else if (m->state[slot] != SLOT_DONE) { /* (done: by mvcc_durable, behind an open write) */
      m->state[slot] = SLOT_DONE;
      advance(m);
    }
  }
  pthread_mutex_unlock(&m->lock);
  if (rc == 0) mvcc_wait_for_read_point(m, wn);
  return rc;
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
