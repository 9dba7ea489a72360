/*
 * compactor.h - the server's background compaction threads (HBase's
 * CompactSplit thread pool with a throughput controller).
 *
 * Stores ask for a compaction (store_flush_commit does it when the store
 * has enough files); a queue holds at most one request per store (a major
 * request upgrades a queued minor one) and a few threads run them with
 * store_compact. Every byte a compaction writes passes a throughput limit
 * shared by all threads (a token bucket: bytes/s with a one-second burst),
 * so compactions cannot starve the flushes and the WAL of DFS bandwidth.
 * Compactions never block reads or writes of a store (store.h).
 *
 * Lifetime: a store removes itself (compactor_forget_store, called by
 * store_close) before it goes away; compactor_destroy waits for running
 * compactions after cancelling them.
 */
#ifndef HB_COMPACTOR_H
#define HB_COMPACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct compactor;

struct compactor_opts {
  unsigned threads;            /* hbase.regionserver.thread.compaction.small: 1 */
  uint64_t max_bytes_per_sec;  /* throughput limit of all compactions; 0: none */
};

/* Starts the threads. 0 and *out, or DFS_ENOMEM / a pthread error. */
int compactor_create(const struct compactor_opts *o, struct compactor **out);

/* Drops queued requests, cancels running compactions (they stop at their
 * next throttle point and leave their stores unchanged), joins the
 * threads, frees c. NULL is a no-op. */
void compactor_destroy(struct compactor *c);

/* Queues a compaction of s (major: every file, markers dropped). A store
 * already queued is not queued twice. 0, or DFS_ECANCELED once the
 * compactor is stopping, DFS_ENOMEM. Any thread. */
int compactor_request(struct compactor *c, struct store *s, bool major);

/* Removes s's queued request and, if s is being compacted, cancels that
 * compaction and waits for it to end. After it returns no thread of c
 * touches s (until it is requested again). */
void compactor_forget_store(struct compactor *c, struct store *s);

/* Waits until the queue is empty and no compaction runs: 0, or
 * DFS_ETIMEDOUT after timeout_ms. For tests and orderly shutdown. */
int compactor_wait_idle(struct compactor *c, int timeout_ms);

/* The throttle a compaction calls with the bytes it wrote (store.h
 * store_compact_opts.throttle with arg = the compactor): sleeps as the
 * limit requires. 0, or DFS_ECANCELED when the compactor is stopping. */
int compactor_throttle(void *compactor, uint64_t bytes);

struct compactor_stats {
  uint64_t requested, completed, nothing_to_do, failed, cancelled;
  uint64_t bytes_written;
  uint64_t throttle_wait_ms;   /* time spent sleeping for the limit */
  size_t queued, running;
  char last_error[256];        /* "" if none */
};
void compactor_get_stats(struct compactor *c, struct compactor_stats *st);

#endif /* HB_COMPACTOR_H */
