/*
 * mvcc.h - multi-version concurrency control of one region (as HBase's
 * MultiVersionConcurrencyControl): write numbers and the read point.
 *
 * A writer takes a write number with mvcc_begin() (it is also the WAL
 * sequence id and the seq_id of every cell of that mutation), inserts its
 * cells into the MemStores, then calls mvcc_complete(). The read point is
 * the highest write number w such that every write number <= w has
 * completed: it moves only over a contiguous prefix of completed writes,
 * so a reader that takes the read point and ignores cells with a higher
 * seq_id never sees a later write while an earlier one is half applied,
 * and never sees part of a mutation. A writer that must read its own
 * write (acknowledge, then the client reads) waits with
 * mvcc_wait_for_read_point() after completing.
 *
 * Every write number handed out must be completed, also when the write
 * fails; otherwise the read point stops there for good.
 */
#ifndef HB_MVCC_H
#define HB_MVCC_H

#include <stdint.h>

struct mvcc;

/* A new MVCC with read point and write point at start (0 for an empty
 * region). NULL on allocation failure. Free with mvcc_destroy(). */
struct mvcc *mvcc_create(uint64_t start);

/* Frees it. No thread may be inside any mvcc_ call. NULL is a no-op. */
void mvcc_destroy(struct mvcc *m);

/* A new write number: one more than the last one handed out (or than the
 * point set by mvcc_advance_to). 0 on allocation failure (the pending
 * table could not grow); nothing to complete then. Thread-safe. */
uint64_t mvcc_begin(struct mvcc *m);

/* Marks write number wn done and advances the read point over every
 * completed write number that follows it contiguously; wakes waiters.
 * 0, or DFS_EINVAL if wn is not a pending write number (never handed
 * out, or completed twice). Thread-safe. */
int mvcc_complete(struct mvcc *m, uint64_t wn);

/* The read point: every write <= it is complete. Lock-free (an acquire
 * load: cells inserted before their write was completed are visible to a
 * thread that read a read point covering them). */
uint64_t mvcc_read_point(const struct mvcc *m);

/* The last write number handed out. Thread-safe. */
uint64_t mvcc_write_point(const struct mvcc *m);

/* Blocks until the read point is >= wn. Returns at once if it already
 * is. Thread-safe. */
void mvcc_wait_for_read_point(struct mvcc *m, uint64_t wn);

/* mvcc_complete() then mvcc_wait_for_read_point(): what a writer does
 * before acknowledging. Returns mvcc_complete()'s result (no wait on
 * error). */
int mvcc_complete_and_wait(struct mvcc *m, uint64_t wn);

/* Group commit, as HBase 2 hands completion to its WAL sync: a writer
 * whose cells are in the MemStores and who only waits for the WAL to make
 * txid durable marks its write ready; the WAL's syncer then calls
 * mvcc_durable() once per sync and completes every ready write it covers
 * in one pass, before it wakes the writers. The woken writers find their
 * write visible (mvcc_finish returns without the lock) instead of each
 * taking the lock to complete and then sleeping again for the read point.
 * txids must increase with write numbers among ready writes (they do: the
 * WAL assigns both under its lock). DFS_EINVAL if wn is not pending. */
int mvcc_ready(struct mvcc *m, uint64_t wn, uint64_t txid);

/* Completes every ready write whose txid is <= txid, moves the read point
 * and wakes whom it covers. Thread-safe. */
void mvcc_durable(struct mvcc *m, uint64_t txid);

/* What a writer does before acknowledging: completes wn unless
 * mvcc_durable() already did (a ready write), then waits for the read
 * point to cover it. DFS_EINVAL if wn was never handed out. (Unlike
 * mvcc_complete, it cannot tell a second call from mvcc_durable's work.) */
int mvcc_finish(struct mvcc *m, uint64_t wn);

/* Region open, after WAL replay: moves both the read point and the write
 * point up to seq (never down), so that new write numbers follow every
 * replayed sequence id. 0, or DFS_EINVAL while writes are pending (only
 * valid on a quiet MVCC). Thread-safe. */
int mvcc_advance_to(struct mvcc *m, uint64_t seq);

#endif /* HB_MVCC_H */
