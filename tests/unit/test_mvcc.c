/*
 * test_mvcc.c - MVCC write numbers and read point (regionserver/mvcc.c):
 * the read point moves only over a contiguous prefix of completed writes,
 * bad completes are refused, waiting for the read point blocks until the
 * earlier writes complete, the pending table grows, advance_to for region
 * open, and many threads completing out of order.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "mvcc.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_basic(void) {
  struct mvcc *m = mvcc_create(0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 0);
  CU_ASSERT_EQUAL(mvcc_write_point(m), 0);
  uint64_t a = mvcc_begin(m), b = mvcc_begin(m), c = mvcc_begin(m);
  CU_ASSERT_EQUAL(a, 1);
  CU_ASSERT_EQUAL(b, 2);
  CU_ASSERT_EQUAL(c, 3);
  CU_ASSERT_EQUAL(mvcc_write_point(m), 3);
  /* Later writes complete first: the read point stays before the hole. */
  CU_ASSERT_EQUAL(mvcc_complete(m, b), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 0);
  CU_ASSERT_EQUAL(mvcc_complete(m, c), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 0);
  CU_ASSERT_EQUAL(mvcc_complete(m, a), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 3);
  /* In order, one step at a time. */
  uint64_t d = mvcc_begin(m);
  CU_ASSERT_EQUAL(d, 4);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 3);
  CU_ASSERT_EQUAL(mvcc_complete(m, d), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 4);
  /* Waiting for a point already reached returns at once. */
  mvcc_wait_for_read_point(m, 4);
  mvcc_wait_for_read_point(m, 0);
  mvcc_destroy(m);
  mvcc_destroy(NULL);

  m = mvcc_create(10);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 10);
  CU_ASSERT_EQUAL(mvcc_begin(m), 11);
  mvcc_destroy(m);
}

static void test_bad_complete(void) {
  struct mvcc *m = mvcc_create(0);
  uint64_t a = mvcc_begin(m), b = mvcc_begin(m);
  CU_ASSERT_EQUAL(mvcc_complete(m, 0), DFS_EINVAL);
  CU_ASSERT_EQUAL(mvcc_complete(m, 3), DFS_EINVAL); /* never handed out */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "pending"));
  CU_ASSERT_EQUAL(mvcc_complete(m, b), 0);
  CU_ASSERT_EQUAL(mvcc_complete(m, b), DFS_EINVAL); /* twice, still pending behind a */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "twice"));
  CU_ASSERT_EQUAL(mvcc_read_point(m), 0);
  CU_ASSERT_EQUAL(mvcc_complete(m, a), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 2);
  CU_ASSERT_EQUAL(mvcc_complete(m, a), DFS_EINVAL); /* twice, already passed */
  CU_ASSERT_EQUAL(mvcc_complete_and_wait(m, 7), DFS_EINVAL);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 2);
  mvcc_destroy(m);
}

/* Many pending writes (the ring grows several times), completed in a
 * shuffled order: after each step the read point is exactly one below the
 * smallest incomplete write number. */
static void test_many_pending_shuffled(void) {
  enum { N = 5000 };
  struct mvcc *m = mvcc_create(100);
  uint64_t *wn = malloc(N * sizeof *wn);
  uint8_t *done = calloc(N, 1);
  for (int i = 0; i < N; i++) {
    wn[i] = mvcc_begin(m);
    CU_ASSERT_EQUAL(wn[i], 101 + (uint64_t)i);
  }
  uint64_t r = 12345;
  for (int i = N - 1; i > 0; i--) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    int j = (int)((r >> 33) % (uint64_t)(i + 1));
    uint64_t t = wn[i];
    wn[i] = wn[j];
    wn[j] = t;
  }
  size_t lowest = 0; /* index (wn - 101) of the smallest incomplete */
  int bad = 0;
  for (int i = 0; i < N; i++) {
    if (mvcc_complete(m, wn[i]) != 0) bad++;
    done[wn[i] - 101] = 1;
    while (lowest < N && done[lowest]) lowest++;
    if (mvcc_read_point(m) != 100 + lowest) bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 100 + N);
  CU_ASSERT_EQUAL(mvcc_write_point(m), 100 + N);
  free(wn);
  free(done);
  mvcc_destroy(m);
}

struct waiter {
  struct mvcc *m;
  uint64_t wn;
  atomic_int started, finished;
  uint64_t seen;
};

static void *waiter_main(void *arg) {
  struct waiter *w = arg;
  atomic_store(&w->started, 1);
  mvcc_complete_and_wait(w->m, w->wn);
  w->seen = mvcc_read_point(w->m);
  atomic_store(&w->finished, 1);
  return NULL;
}

static void test_wait_for_earlier_write(void) {
  struct mvcc *m = mvcc_create(0);
  uint64_t a = mvcc_begin(m), b = mvcc_begin(m);
  struct waiter w = {.m = m, .wn = b};
  atomic_init(&w.started, 0);
  atomic_init(&w.finished, 0);
  pthread_t t;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, waiter_main, &w), 0);
  double deadline = now_s() + 10;
  while (!atomic_load(&w.started) && now_s() < deadline) sched_yield();
  /* b is complete, but a is not: the waiter must stay blocked. Give it
   * a while to (wrongly) return. */
  double until = now_s() + 0.05;
  while (now_s() < until) {
    CU_ASSERT_EQUAL_FATAL(atomic_load(&w.finished), 0);
    sched_yield();
  }
  CU_ASSERT_EQUAL(mvcc_read_point(m), 0);
  CU_ASSERT_EQUAL(mvcc_complete(m, a), 0);
  deadline = now_s() + 10;
  while (!atomic_load(&w.finished) && now_s() < deadline) sched_yield();
  CU_ASSERT_EQUAL(atomic_load(&w.finished), 1);
  pthread_join(t, NULL);
  CU_ASSERT_TRUE(w.seen >= b);
  mvcc_destroy(m);
}

static void test_advance_to(void) {
  struct mvcc *m = mvcc_create(0);
  CU_ASSERT_EQUAL(mvcc_advance_to(m, 1000), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 1000);
  CU_ASSERT_EQUAL(mvcc_write_point(m), 1000);
  CU_ASSERT_EQUAL(mvcc_advance_to(m, 10), 0); /* never backwards */
  CU_ASSERT_EQUAL(mvcc_read_point(m), 1000);
  uint64_t w = mvcc_begin(m);
  CU_ASSERT_EQUAL(w, 1001);
  CU_ASSERT_EQUAL(mvcc_advance_to(m, 5000), DFS_EINVAL); /* a write is pending */
  CU_ASSERT_EQUAL(mvcc_read_point(m), 1000);
  CU_ASSERT_EQUAL(mvcc_complete(m, w), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), 1001);
  CU_ASSERT_EQUAL(mvcc_advance_to(m, 5000), 0);
  CU_ASSERT_EQUAL(mvcc_begin(m), 5001);
  mvcc_destroy(m);
}

/* Writers on 4 threads, each acknowledging only after its own write is
 * readable; a reader checks the read point never goes backwards and never
 * passes the write point. */
enum { WRITERS = 4, PER_WRITER = 20000 };

struct shared {
  struct mvcc *m;
  atomic_int bad;
  atomic_int writers_left;
};

static void *writer_main(void *arg) {
  struct shared *sh = arg;
  for (int i = 0; i < PER_WRITER; i++) {
    uint64_t wn = mvcc_begin(sh->m);
    if (wn == 0) atomic_fetch_add(&sh->bad, 1);
    if ((i & 7) == 0) sched_yield(); /* let others overtake */
    if (mvcc_complete_and_wait(sh->m, wn) != 0) atomic_fetch_add(&sh->bad, 1);
    if (mvcc_read_point(sh->m) < wn) atomic_fetch_add(&sh->bad, 1);
  }
  atomic_fetch_sub(&sh->writers_left, 1);
  return NULL;
}

static void *reader_main(void *arg) {
  struct shared *sh = arg;
  uint64_t last = 0;
  while (atomic_load(&sh->writers_left) > 0) {
    uint64_t rp = mvcc_read_point(sh->m);
    if (rp < last) atomic_fetch_add(&sh->bad, 1);
    if (rp > mvcc_write_point(sh->m)) atomic_fetch_add(&sh->bad, 1);
    last = rp;
  }
  return NULL;
}

/* Group commit: ready writes are completed by mvcc_durable up to a txid,
 * an open write in front holds the read point, and mvcc_finish works
 * whether or not the durable pass got there first. */
static void test_ready_durable(void) {
  struct mvcc *m = mvcc_create(0);
  uint64_t a = mvcc_begin(m), b = mvcc_begin(m), c = mvcc_begin(m), d = mvcc_begin(m);
  CU_ASSERT_EQUAL(mvcc_ready(m, b, 11), 0);
  CU_ASSERT_EQUAL(mvcc_ready(m, c, 12), 0);
  CU_ASSERT_EQUAL(mvcc_ready(m, d, 13), 0);
  CU_ASSERT_EQUAL(mvcc_ready(m, d, 13), DFS_EINVAL); /* not open any more */
  CU_ASSERT_EQUAL(mvcc_ready(m, 9, 20), DFS_EINVAL); /* never handed out */
  mvcc_durable(m, 12);                               /* b, c done; a open in front */
  CU_ASSERT_EQUAL(mvcc_read_point(m), 0);
  CU_ASSERT_EQUAL(mvcc_complete(m, a), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(m), c);            /* d waits for txid 13 */
  CU_ASSERT_EQUAL(mvcc_finish(m, b), 0);             /* completed for it: no-op */
  CU_ASSERT_EQUAL(mvcc_finish(m, d), 0);             /* not durable yet: completes itself */
  CU_ASSERT_EQUAL(mvcc_read_point(m), d);
  mvcc_durable(m, 13);                               /* nothing left to do */
  CU_ASSERT_EQUAL(mvcc_read_point(m), d);
  uint64_t e = mvcc_begin(m);
  CU_ASSERT_EQUAL(mvcc_finish(m, e), 0);             /* never ready: plain complete */
  CU_ASSERT_EQUAL(mvcc_read_point(m), e);
  CU_ASSERT_EQUAL(mvcc_finish(m, e + 5), DFS_EINVAL);
  mvcc_destroy(m);
}

static void test_concurrent(void) {
  struct shared sh = {.m = mvcc_create(0)};
  atomic_init(&sh.bad, 0);
  atomic_init(&sh.writers_left, WRITERS);
  pthread_t w[WRITERS], r;
  for (int i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer_main, &sh);
  pthread_create(&r, NULL, reader_main, &sh);
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
  pthread_join(r, NULL);
  CU_ASSERT_EQUAL(atomic_load(&sh.bad), 0);
  CU_ASSERT_EQUAL(mvcc_read_point(sh.m), (uint64_t)WRITERS * PER_WRITER);
  CU_ASSERT_EQUAL(mvcc_write_point(sh.m), (uint64_t)WRITERS * PER_WRITER);
  mvcc_destroy(sh.m);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("mvcc", NULL, NULL);
  CU_add_test(s, "basic", test_basic);
  CU_add_test(s, "bad_complete", test_bad_complete);
  CU_add_test(s, "many_pending_shuffled", test_many_pending_shuffled);
  CU_add_test(s, "wait_for_earlier_write", test_wait_for_earlier_write);
  CU_add_test(s, "advance_to", test_advance_to);
  CU_add_test(s, "ready_durable", test_ready_durable);
  CU_add_test(s, "concurrent", test_concurrent);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
