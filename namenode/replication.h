/*
 * replication.h - keeping every block at its replication factor (HDFS's
 * BlockManager + ReplicationMonitor + PendingReplicationBlocks).
 *
 * Events that can change a block's replica count (a DataNode's death, a
 * replica received, deleted, reported corrupt or missing from a full
 * report, setReplication, a file's close) call nn_repl_check() for the
 * block. The check counts the block's replicas and
 *   - queues it by urgency in the priority queue (repl_queue.h) when live +
 *     pending replicas are fewer than expected, or when all replicas sit on
 *     one rack while the cluster has several (lowest priority);
 *   - trims an over-replicated block at once: the excess replicas (chosen
 *     to keep racks, least remaining space first, as HDFS) are marked
 *     `excess` and get INVALIDATE;
 *   - invalidates corrupt replicas once enough good ones exist.
 * The monitor (nn_repl_compute_work, every dfs.namenode.replication.interval)
 * walks the queue most urgent first, picks for each block a source holding
 * a good replica with fewer than dfs.namenode.replication.max-streams
 * transfers in flight, and targets from the placement policy (existing
 * replicas count for the rack rules; nodes holding any copy are excluded),
 * and queues a TRANSFER command for the source's next heartbeat. The
 * transfer is then *pending* until every target reports RECEIVED; pending
 * replicas count as replicas (no duplicate work) until they arrive or time
 * out (dfs.namenode.reconstruction.pending.timeout-sec) or a node involved
 * dies - then the block is checked again (work is never lost).
 *
 * Nothing is scheduled or trimmed in safe mode or during replay; leaving
 * safe mode rescans every block (HDFS's processMisReplicatedBlocks).
 *
 * Every function runs under the namesystem's namespace lock held for
 * writing.
 */
#ifndef NN_REPLICATION_H
#define NN_REPLICATION_H

#include <stdbool.h>
#include <stdint.h>

#include "blockmap.h"
#include "datanode_manager.h"
#include "namesystem.h"
#include "placement.h"
#include "repl_queue.h"
#include "u64map.h"

/* A scheduled transfer waiting for its targets' RECEIVED reports. */
struct nn_pending {
  uint64_t id;
  struct nn_datanode *src;
  struct nn_datanode *targets[NN_XFER_MAX_TARGETS]; /* not yet received */
  int ntargets;
  int64_t deadline_ms;  /* monotonic */
};

struct nn_repl {
  struct nn_replq q;          /* blocks that need work */
  struct nn_u64map pending;   /* block id -> struct nn_pending * (owned) */
  uint64_t scheduled;         /* transfers scheduled since start */
  uint64_t timeouts;          /* pending transfers that timed out */
};

void nn_repl_init(struct nn_repl *r);
void nn_repl_free(struct nn_repl *r);

/* Re-evaluate one block (see above). No-op in safe mode or replay. */
void nn_repl_check(nn_ns *ns, struct nn_block *b);
/* nn_repl_check for every block of file f. */
void nn_repl_check_file(nn_ns *ns, nn_inode *f);
/* Every block (leaving safe mode). O(blocks). */
void nn_repl_rescan(nn_ns *ns);
/* dn reported a finalized replica of b: a pending target arrived. Call
 * before nn_repl_check(b). */
void nn_repl_received(nn_ns *ns, struct nn_block *b, struct nn_datanode *dn);
/* dn died (its replicas already dropped) or registered again after a
 * restart: cancel its queued transfers and the pending ones it takes part
 * in; affected blocks are checked again. */
void nn_repl_dn_dead(nn_ns *ns, struct nn_datanode *dn);
/* b is about to leave the block map (file deleted, block abandoned). */
void nn_repl_forget(nn_ns *ns, struct nn_block *b);
/* One monitor round: expire pending transfers, schedule new ones. Returns
 * the number of transfers scheduled. No-op in safe mode. */
int nn_repl_compute_work(nn_ns *ns);

/* Counts of a block's replicas (finalized ones on live nodes). */
struct nn_repl_counts {
  int live, corrupt, excess, pending;
  int decom;  /* good copies on decommissioning / decommissioned nodes */
};
void nn_repl_count(nn_ns *ns, const struct nn_block *b, struct nn_repl_counts *c);

/*
 * Pure policy pieces (unit-tested):
 * nn_repl_priority: the queue level for a block with `live` good replicas,
 * `decom` good ones on leaving nodes, `pending` on their way and
 * `expected` wanted; mis: its replicas span one rack while the cluster has
 * more. -1: needs no work.
 */
int nn_repl_priority(int live, int decom, int pending, int expected, bool mis);
/*
 * Choose `count` replicas to delete among cand[0..n) (indices into nodes):
 * while some rack holds more than one candidate, only those racks are
 * considered (rack diversity stays); among them the node with the least
 * remaining space goes first. Chosen indices (values of cand) to out[].
 * Returns how many.
 */
int nn_repl_choose_excess(const struct nn_pnode *nodes, const size_t *cand, int n, int count,
                          size_t *out);

#endif
