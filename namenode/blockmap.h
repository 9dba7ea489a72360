/*
 * blockmap.h - block id -> block: owning file, genstamp, length, state and
 * the replicas DataNodes have reported.
 *
 * A block is UNDER_CONSTRUCTION while its pipeline writes it, COMMITTED
 * once the client has stated its final length (ADD_BLOCK's `previous` or
 * COMPLETE's `last`) but fewer than dfs.namenode.replication.min finalized
 * replicas have been reported, and COMPLETE after that. The replica list
 * grows from BLOCK_RECEIVED_AND_DELETED and full block reports.
 *
 * Not thread-safe: guarded by the namesystem's namespace lock, like the
 * inodes the blocks point to.
 */
#ifndef NN_BLOCKMAP_H
#define NN_BLOCKMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "inode.h"
#include "u64map.h"

struct nn_datanode;

enum nn_block_state {
  NN_BLOCK_UC = 0,
  NN_BLOCK_COMMITTED = 1,
  NN_BLOCK_COMPLETE = 2,
};

enum nn_replica_state {
  NN_REPLICA_RBW = 0,       /* being written (RECEIVING, or reported UC) */
  NN_REPLICA_FINALIZED = 1,
};

struct nn_replica {
  struct nn_datanode *dn;
  uint8_t state;            /* enum nn_replica_state */
  bool corrupt;             /* reported bad by a reader */
  bool excess;              /* over-replication: INVALIDATE sent, not counted or served */
  uint32_t report_gen;      /* dn->report_gen of the last full report naming it */
};

struct nn_block {
  uint64_t id, genstamp, num_bytes;
  nn_inode *file;           /* owning file (never NULL while mapped) */
  uint8_t state;            /* enum nn_block_state */
  uint16_t nrep, rcap;
  struct nn_replica *reps;  /* owned */
  struct nn_datanode **targets; /* owned; pipeline chosen at ADD_BLOCK */
  uint16_t ntargets;
  uint64_t recovery_gs;     /* lease recovery in progress: its new genstamp */
  int64_t recovery_ms;      /* when it was started (monotonic ms) */
};

struct nn_blockmap {
  struct nn_u64map map;     /* id -> struct nn_block * (owned) */
};

void nn_blockmap_init(struct nn_blockmap *bm);
/* Free every block. */
void nn_blockmap_free(struct nn_blockmap *bm);
struct nn_block *nn_blockmap_get(const struct nn_blockmap *bm, uint64_t id);
/* A new block owned by the map; NULL on allocation failure or if the id is
 * taken. */
struct nn_block *nn_blockmap_add(struct nn_blockmap *bm, uint64_t id,
                                 uint64_t genstamp, uint64_t num_bytes,
                                 nn_inode *file);
/* Unmap and free b. */
void nn_blockmap_remove(struct nn_blockmap *bm, struct nn_block *b);
size_t nn_blockmap_count(const struct nn_blockmap *bm);

/* The replica on dn, or NULL. */
struct nn_replica *nn_block_replica(struct nn_block *b, const struct nn_datanode *dn);
/* Add (or update) dn's replica (also indexed in dn->blocks). Returns it,
 * or NULL on allocation failure. */
struct nn_replica *nn_block_add_replica(struct nn_block *b, struct nn_datanode *dn,
                                        int state);
/* Drop dn's replica if present; true if one was dropped. */
bool nn_block_remove_replica(struct nn_block *b, const struct nn_datanode *dn);
/* Finalized replicas on live DataNodes, neither corrupt nor excess. */
int nn_block_live_replicas(const struct nn_block *b);
/* Set the write pipeline (copies the array). 0 or DFS_ENOMEM. */
int nn_block_set_targets(struct nn_block *b, struct nn_datanode **dns, int n);

#endif
