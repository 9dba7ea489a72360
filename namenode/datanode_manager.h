/*
 * datanode_manager.h - the DataNodes the NameNode knows: identity, rack,
 * capacity figures, liveness, and the commands queued for each.
 *
 * A DataNode is known by its uuid. Its record is never freed while the
 * NameNode runs (a dead node stays listed as dead, and block replicas and
 * reply structures may point at it); strings are interned in the
 * namesystem's string table, so pointers handed out stay valid even when a
 * node re-registers from a new port.
 *
 * Not thread-safe: every function runs under the namesystem's namespace
 * lock (write mode for anything that changes a record).
 */
#ifndef NN_DATANODE_MANAGER_H
#define NN_DATANODE_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inode.h"
#include "topology.h"
#include "u64map.h"

/* A queued RECOVER command: this node is the primary of a lease recovery. */
struct nn_recover_cmd {
  uint64_t id, gs, len, new_gs;
  uint64_t dep;                 /* leaves once the edit log is durable up to it */
  struct nn_datanode **holders; /* owned array; the nodes themselves are not */
  size_t nholders;
};

/* Admin states, numbered as dfs.proto's AdminState. */
enum nn_admin_state {
  NN_ADMIN_NORMAL = 0,
  NN_ADMIN_DECOMMISSIONING = 1, /* its blocks are being copied elsewhere */
  NN_ADMIN_DECOMMISSIONED = 2,  /* every block has its replicas elsewhere */
};

/* A queued TRANSFER: copy one replica from this node to targets. */
#define NN_XFER_MAX_TARGETS 16
struct nn_xfer_cmd {
  uint64_t id, gs, len;
  struct nn_datanode *targets[NN_XFER_MAX_TARGETS];
  int ntargets;
};

struct nn_datanode {
  uint32_t idx;            /* position in the manager's table */
  const char *uuid;        /* interned */
  const char *host;        /* interned; IP clients dial */
  const char *hostname;    /* interned; for display */
  const char *rack;        /* interned */
  uint32_t port;
  uint64_t capacity, dfs_used, remaining;
  uint32_t xceivers, failed_volumes;
  int64_t last_hb_ms;      /* monotonic ms of the last heartbeat/registration */
  bool dead;
  bool reported;           /* sent a full block report since registering */
  uint64_t num_blocks;     /* replicas in the block map (== blocks.len) */
  struct nn_u64map blocks; /* block id -> struct nn_block * of every replica
                              here: full reports and deaths touch only these */
  uint32_t report_gen;     /* bumped at each full block report */
  uint64_t *inval;         /* queued INVALIDATEs (id, gs, len, the txid they wait
                              for: nn_dn_queue_invalidate), owned */
  size_t ninval, cinval;   /* in entries of 4 */
  struct nn_recover_cmd *recover; /* queued RECOVER commands, owned */
  size_t nrecover;
  struct nn_xfer_cmd *xfer; /* queued TRANSFER commands, owned */
  size_t nxfer, cxfer;
  uint32_t repl_inflight;  /* re-replications with this node as source that
                              are queued or pending (replication.c) */
  uint8_t admin;           /* enum nn_admin_state (decommission.c) */
  int64_t decom_start_ms;  /* when decommissioning started (monotonic) */
};

struct nn_dnmgr {
  struct nn_datanode **dns; /* owned table */
  size_t n, cap;
  const nn_topology *topo;  /* borrowed, outlives the manager */
  nn_intern *strings;       /* borrowed */
  int64_t dead_after_ms;    /* 2*recheck + 10*heartbeat */
  int nracks;               /* racks with a live node (nn_dnmgr_count_racks) */
};

void nn_dnmgr_init(struct nn_dnmgr *m, const nn_topology *topo, nn_intern *strings,
                   int64_t dead_after_ms);
void nn_dnmgr_free(struct nn_dnmgr *m);
/* The node with this uuid, or NULL. */
struct nn_datanode *nn_dnmgr_find(const struct nn_dnmgr *m, const char *uuid);
/*
 * Register (or re-register) a node at now_ms. host is what the DataNode
 * reported; "0.0.0.0", "" or "::" are replaced by peer_ip. A known uuid
 * keeps its record (and its replicas); its address and rack are updated.
 * Returns 0 and *out, or DFS_ENOMEM / DFS_EINVAL (empty uuid).
 */
int nn_dnmgr_register(struct nn_dnmgr *m, const char *uuid, const char *host,
                      uint32_t port, const char *hostname, const char *peer_ip,
                      int64_t now_ms, struct nn_datanode **out);
/* Mark nodes silent for dead_after_ms dead; calls on_dead(dn, arg) for
 * each node that just died. Returns how many died. */
int nn_dnmgr_check_dead(struct nn_dnmgr *m, int64_t now_ms,
                        void (*on_dead)(struct nn_datanode *dn, void *arg), void *arg);
/* Queue an INVALIDATE of one replica, to leave no earlier than the edit
 * log is durable up to txid dep (or, when no edit dep exists yet, up to
 * its end): the change that made the replica garbage (a delete) must not
 * be lost in a crash after its blocks were deleted (HDFS removes blocks
 * after logSync for the same reason). 0 or DFS_ENOMEM. */
int nn_dn_queue_invalidate(struct nn_datanode *dn, uint64_t id, uint64_t gs,
                           uint64_t len, uint64_t dep);
/* Move the queued INVALIDATEs that may leave (see above; the edit log is
 * durable up to synced, its last txid is last) into a new array of
 * triples *out (n_out of them); the others stay queued. 0 or DFS_ENOMEM
 * (nothing moved). */
int nn_dn_take_invalidates(struct nn_datanode *dn, uint64_t synced, uint64_t last,
                           uint64_t **out, size_t *n_out);
/* Queue a RECOVER command (holders copied), to leave once the edit log is
 * durable up to txid dep (the edit of new_gs: a stamp a crash could hand
 * out again must not reach the DataNodes). 0 or DFS_ENOMEM. */
int nn_dn_queue_recover(struct nn_datanode *dn, uint64_t id, uint64_t gs, uint64_t len,
                        uint64_t new_gs, struct nn_datanode **holders, size_t n, uint64_t dep);
/* Queue a TRANSFER of one replica to targets (n <= NN_XFER_MAX_TARGETS).
 * 0 or DFS_ENOMEM. */
int nn_dn_queue_transfer(struct nn_datanode *dn, uint64_t id, uint64_t gs, uint64_t len,
                         struct nn_datanode *const *targets, int n);
/* Recount the racks that have a live node into m->nracks; returns it. */
int nn_dnmgr_count_racks(struct nn_dnmgr *m);
/* Free an array of RECOVER commands. */
void nn_recover_cmds_free(struct nn_recover_cmd *c, size_t n);
/* Live nodes. */
size_t nn_dnmgr_live(const struct nn_dnmgr *m);

#endif
