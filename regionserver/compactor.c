/*
 * compactor.c - background compaction threads with a throughput limit
 * (compactor.h).
 *
 * One mutex guards the queue, the per-thread "running" slots and the
 * counters; store_compact runs without it. A worker never picks a store
 * another worker is compacting (store_compact would refuse it anyway), and
 * after a compaction it queues the store again if the policy still finds
 * work (a store with 25 small files needs several rounds of at most
 * max_files).
 *
 * The limit is a token bucket kept as the time at which the bytes written
 * so far will have been "paid for": each call pushes that time forward by
 * bytes/rate and sleeps until it, with at most one second of credit from
 * idle time (the burst).
 */
#include "compactor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "net.h"
#include "store.h"

struct job {
  struct store *s;
  bool major;
  struct job *next;
};

struct slot {
  struct compactor *c;
  struct store *s;        /* being compacted by this thread; NULL idle. Guarded by mu */
  atomic_bool cancel;
};

struct compactor {
  pthread_mutex_t mu;
  pthread_cond_t work;    /* a job was queued, a slot freed, or stopping */
  pthread_cond_t done;    /* a compaction ended (forget, wait_idle) */
  pthread_cond_t wake;    /* throttled sleepers: stop or cancel */
  struct job *head;       /* guarded by mu */
  size_t queued;
  bool stopping;
  unsigned nthreads;
  pthread_t *threads;
  struct slot *slots;
  uint64_t rate;          /* bytes/s, 0 none */
  int64_t paid_until_ns;  /* guarded by mu (monotonic clock) */
  struct compactor_stats st;
};

static struct timespec abs_mono(int64_t ns) {
  struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  return ts;
}

static bool store_running(const struct compactor *c, const struct store *s) {
  for (unsigned i = 0; i < c->nthreads; i++)
    if (c->slots[i].s == s) return true;
  return false;
}

/* Removes and returns the first queued job whose store is idle. */
static struct job *take_job(struct compactor *c) {
  for (struct job **pp = &c->head; *pp; pp = &(*pp)->next) {
    if (store_running(c, (*pp)->s)) continue;
    struct job *j = *pp;
    *pp = j->next;
    c->queued--;
    return j;
  }
  return NULL;
}

/* Queues s (under mu). */
static int enqueue(struct compactor *c, struct store *s, bool major) {
  for (struct job *j = c->head; j; j = j->next) {
    if (j->s == s) {
      j->major |= major;
      return 0;
    }
  }
  struct job *j = calloc(1, sizeof *j);
  if (!j) return dfs_err_set(DFS_ENOMEM, "compactor: out of memory");
  j->s = s;
  j->major = major;
  struct job **pp = &c->head;
  while (*pp) pp = &(*pp)->next;
  *pp = j;
  c->queued++;
  c->st.requested++;
  pthread_cond_signal(&c->work);
  return 0;
}

static int throttle_wait(struct compactor *c, uint64_t bytes, atomic_bool *cancel);

static int job_throttle(void *arg, uint64_t bytes) {
  struct slot *sl = arg;
  return throttle_wait(sl->c, bytes, &sl->cancel);
}

static void *worker(void *arg) {
  struct slot *sl = arg;
  pthread_setname_np(pthread_self(), "rs-compactor");
  struct compactor *c = sl->c;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    struct job *j = NULL;
    while (!c->stopping && !(j = take_job(c))) pthread_cond_wait(&c->work, &c->mu);
    if (c->stopping) {
      free(j);
      break;
    }
    sl->s = j->s;
    atomic_store(&sl->cancel, false);
    pthread_mutex_unlock(&c->mu);

    struct store_compact_opts o = {.major = j->major, .throttle = job_throttle, .throttle_arg = sl};
    struct store_compaction_result res;
    int rc = store_compact(j->s, &o, &res);
    char msg[256] = "";
    if (rc < 0) snprintf(msg, sizeof msg, "%s", dfs_err_msg());
    bool again = rc == 1 && !atomic_load(&sl->cancel) && store_needs_compaction(j->s);

    pthread_mutex_lock(&c->mu);
    if (rc == 1) {
      c->st.completed++;
    } else if (rc == 0 || rc == DFS_EAGAIN) {
      c->st.nothing_to_do++;
    } else if (rc == DFS_ECANCELED || atomic_load(&sl->cancel)) {
      c->st.cancelled++;
    } else {
      c->st.failed++;
      snprintf(c->st.last_error, sizeof c->st.last_error, "%s", msg);
    }
    if (again && !c->stopping) enqueue(c, j->s, false);
    sl->s = NULL;
    free(j);
    pthread_cond_broadcast(&c->done);
    pthread_cond_broadcast(&c->work); /* a job for this store may wait */
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

int compactor_create(const struct compactor_opts *o, struct compactor **out) {
  struct compactor *c = calloc(1, sizeof *c);
  if (!c) return dfs_err_set(DFS_ENOMEM, "compactor: out of memory");
  c->nthreads = o && o->threads ? o->threads : 1;
  c->rate = o ? o->max_bytes_per_sec : 0;
  c->threads = calloc(c->nthreads, sizeof *c->threads);
  c->slots = calloc(c->nthreads, sizeof *c->slots);
  if (!c->threads || !c->slots) {
    free(c->threads);
    free(c->slots);
    free(c);
    return dfs_err_set(DFS_ENOMEM, "compactor: out of memory");
  }
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->work, &ca);
  pthread_cond_init(&c->done, &ca);
  pthread_cond_init(&c->wake, &ca);
  pthread_condattr_destroy(&ca);
  c->paid_until_ns = dfs_now_ns();
  for (unsigned i = 0; i < c->nthreads; i++) {
    c->slots[i].c = c;
    atomic_init(&c->slots[i].cancel, false);
    int e = pthread_create(&c->threads[i], NULL, worker, &c->slots[i]);
    if (e) {
      c->nthreads = i;
      compactor_destroy(c);
      return dfs_err_set(-e, "compactor: pthread_create: %s", strerror(e));
    }
  }
  *out = c;
  return 0;
}

void compactor_destroy(struct compactor *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->stopping = true;
  for (unsigned i = 0; i < c->nthreads; i++) atomic_store(&c->slots[i].cancel, true);
  pthread_cond_broadcast(&c->work);
  pthread_cond_broadcast(&c->wake);
  pthread_mutex_unlock(&c->mu);
  for (unsigned i = 0; i < c->nthreads; i++) pthread_join(c->threads[i], NULL);
  while (c->head) {
    struct job *j = c->head;
    c->head = j->next;
    free(j);
  }
  pthread_cond_destroy(&c->work);
  pthread_cond_destroy(&c->done);
  pthread_cond_destroy(&c->wake);
  pthread_mutex_destroy(&c->mu);
  free(c->threads);
  free(c->slots);
  free(c);
}

int compactor_request(struct compactor *c, struct store *s, bool major) {
  pthread_mutex_lock(&c->mu);
  int rc = c->stopping ? dfs_err_set(DFS_ECANCELED, "compactor: stopping") : enqueue(c, s, major);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static void drop_queued(struct compactor *c, struct store *s) {
  for (struct job **pp = &c->head; *pp;) {
    if ((*pp)->s == s) {
      struct job *j = *pp;
      *pp = j->next;
      c->queued--;
      free(j);
    } else {
      pp = &(*pp)->next;
    }
  }
}

void compactor_forget_store(struct compactor *c, struct store *s) {
  pthread_mutex_lock(&c->mu);
  drop_queued(c, s);
  for (unsigned i = 0; i < c->nthreads; i++)
    if (c->slots[i].s == s) atomic_store(&c->slots[i].cancel, true);
  pthread_cond_broadcast(&c->wake);
  while (store_running(c, s)) pthread_cond_wait(&c->done, &c->mu);
  drop_queued(c, s); /* a worker may have queued it again as it finished */
  pthread_mutex_unlock(&c->mu);
}

int compactor_wait_idle(struct compactor *c, int timeout_ms) {
  int64_t deadline = dfs_now_ns() + (int64_t)timeout_ms * 1000000;
  pthread_mutex_lock(&c->mu);
  int rc = 0;
  for (;;) {
    bool busy = c->head != NULL;
    for (unsigned i = 0; i < c->nthreads && !busy; i++) busy = c->slots[i].s != NULL;
    if (!busy) break;
    if (dfs_now_ns() >= deadline) {
      rc = dfs_err_set(DFS_ETIMEDOUT, "compactor: still busy after %d ms", timeout_ms);
      break;
    }
    struct timespec ts = abs_mono(deadline);
    pthread_cond_timedwait(&c->done, &c->mu, &ts);
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

static bool cancelled(const struct compactor *c, atomic_bool *cancel) {
  return c->stopping || (cancel && atomic_load(cancel));
}

static int throttle_wait(struct compactor *c, uint64_t bytes, atomic_bool *cancel) {
  pthread_mutex_lock(&c->mu);
  c->st.bytes_written += bytes;
  int rc = 0;
  if (c->rate) {
    int64_t now = dfs_now_ns();
    if (c->paid_until_ns < now - 1000000000) c->paid_until_ns = now - 1000000000;
    c->paid_until_ns += (int64_t)((double)bytes * 1e9 / (double)c->rate);
    int64_t until = c->paid_until_ns;
    if (until > now) {
      struct timespec ts = abs_mono(until);
      /* Woken early only by stop or cancel (of this or another job). */
      while (!cancelled(c, cancel) && dfs_now_ns() < until &&
             pthread_cond_timedwait(&c->wake, &c->mu, &ts) == 0) {
      }
      c->st.throttle_wait_ms += (uint64_t)((dfs_now_ns() - now) / 1000000);
    }
  }
  if (cancelled(c, cancel)) rc = DFS_ECANCELED;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int compactor_throttle(void *compactor, uint64_t bytes) {
  return throttle_wait(compactor, bytes, NULL);
}

void compactor_get_stats(struct compactor *c, struct compactor_stats *st) {
  pthread_mutex_lock(&c->mu);
  *st = c->st;
  st->queued = c->queued;
  st->running = 0;
  for (unsigned i = 0; i < c->nthreads; i++) st->running += c->slots[i].s != NULL;
  pthread_mutex_unlock(&c->mu);
}
