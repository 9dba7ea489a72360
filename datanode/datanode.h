/*
 * datanode.h - the DataNode core: one context (struct dn_ctx) holding the
 * volumes, the replica map, the RPC/data-transfer server and the NameNode
 * link, plus the entry points the subsystems offer each other.
 *
 * The core runs without a NameNode when dn_opts.nn_disabled is set (the
 * in-process pipeline tests start three DataNodes that way). Threads: the
 * RPC server's accept thread and one thread per connection (a WRITE_BLOCK
 * stream adds a responder thread), the NameNode link thread, and the
 * deleter thread that carries out INVALIDATE commands off the link thread,
 * the volume checker.
 * Lock order: nn_link.lock, then dn_rmap's lock, then dn_storage's lock.
 */
#ifndef DN_DATANODE_H
#define DN_DATANODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "dfs_methods.h"
#include "replica_map.h"
#include "rpc.h"
#include "storage.h"

struct dn_opts {
  bool nn_disabled;        /* no NameNode link (tests) */
  const char *ready_file;  /* written after first registration + report; may be NULL */
};

typedef struct dn_nn_link dn_nn_link;
typedef struct dn_scanner dn_scanner;
typedef struct dn_volcheck dn_volcheck;

typedef struct dn_ctx {
  const dfs_conf *conf;      /* borrowed, read-only; outlives the ctx */
  dn_storage *storage;       /* owned */
  dn_rmap *map;              /* owned */
  dfs_rpc_server *server;    /* owned */
  dfs_rpc_client *client;    /* owned: connections to downstream DataNodes */
  dn_nn_link *nn;            /* owned; NULL when the link is disabled */
  dn_scanner *scanner;       /* owned; NULL when the rate is 0 */
  dn_volcheck *volcheck;     /* owned; the disk checker */
  char host[256];            /* bound IP as configured (0.0.0.0 possible) */
  int port;                  /* bound port */
  char hostname[256];        /* dfs.datanode.hostname or gethostname() */
  char ready_file[4096];     /* "" if none */
  bool nn_disabled;          /* run without a NameNode link */
  /* settings, immutable after create */
  int socket_timeout_ms;
  uint64_t blocksize;
  bool sync_behind;
  int64_t heartbeat_ms;
  int64_t blockreport_ms;
  int failed_volumes_tolerated; /* -1: run while one volume works */
  int64_t disk_check_ms;     /* dfs.datanode.disk.check.min.gap */
  atomic_int xceivers;       /* streams in flight */
  atomic_bool stopping;
} dn_ctx;

/*
 * Build a DataNode from a configuration: open the volumes (creating the
 * layout), scan replicas, bind the server (port known after this). conf
 * must outlive the context. 0 and *out, or an error with a message
 * (dfs_err_msg()).
 */
int dn_create(const dfs_conf *conf, const struct dn_opts *opts, dn_ctx **out);
/* Start serving and (unless disabled) the NameNode link. */
int dn_start(dn_ctx *dn);
/* Stop: no new connections, in-flight streams are cut, threads joined.
 * Idempotent. */
void dn_stop(dn_ctx *dn);
/* Free (stops first). */
void dn_destroy(dn_ctx *dn);

/* "ip:port" this node advertises, into buf. */
void dn_addr(const dn_ctx *dn, char *buf, size_t cap);

/* ---- between subsystems --------------------------------------------------- */

/* RPC method table (dn_rpc.c). */
extern const struct dfs_rpc_method dn_rpc_methods[];
extern const size_t dn_rpc_n_methods;

/* Stream handlers (block_receiver.c, block_sender.c). */
int dn_write_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req);
int dn_read_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req);
int dn_get_visible_length(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req);

/*
 * Copy finalized replica `b` to targets (pipeline order) with WRITE_BLOCK
 * STAGE_TRANSFER (block_sender.c). Blocking; 0 or an error.
 */
int dn_transfer_block(dn_ctx *dn, const Dfs__Block *b, Dfs__DatanodeInfo **targets,
                      size_t n_targets);

/* NameNode link (nn_link.c). */
int dn_nn_link_start(dn_ctx *dn, dn_nn_link **out);
void dn_nn_link_stop(dn_nn_link *l);
/* Queue an incremental report (status: DFS__RECEIVED_DELETED_STATUS__*) and
 * wake the link thread. No-op when the link is disabled. Thread-safe. */
void dn_nn_notify(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t len, int status);
/* Queue a REPORT_BAD_BLOCKS of this node's replica and wake the link
 * thread. No-op when the link is disabled. Thread-safe. */
void dn_nn_report_bad(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t len);
/* True once registered and the first block report was accepted. */
bool dn_nn_ready(dn_ctx *dn);

/* Block scanner (block_scanner.c): a thread re-verifying finalized
 * replicas at dfs.block.scanner.volume.bytes.per.second. */
int dn_scanner_start(dn_ctx *dn, dn_scanner **out);
void dn_scanner_stop(dn_scanner *sc);
/* Verify one finalized replica now (sc: throttle and stop flag, may be
 * NULL). 0 if intact; DFS_ECORRUPT (and reported to the NameNode) if a
 * chunk does not match or cannot be read; DFS_ENOTREPLICA if it is gone. */
int dn_scan_replica(dn_ctx *dn, dn_scanner *sc, const struct dn_replica *r);

/* Disk checker (volume_checker.c): periodic and on-demand volume checks;
 * drops a failed volume's replicas and reports them DELETED; stops the
 * node when more volumes failed than tolerated. */
int dn_volcheck_start(dn_ctx *dn, dn_volcheck **out);
void dn_volcheck_stop(dn_volcheck *c);

/* Lease recovery (replica_recovery.c). */
int dn_init_replica_recovery(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req);
int dn_update_replica_under_recovery(void *ctx, struct dfs_rpc_call *call,
                                     const ProtobufCMessage *req);
/* INIT on this node: wait for a writer to let go, check that the replica's
 * genstamp is in [gs, new_gs), copy it to *out. */
int dn_recovery_init(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t new_gs,
                     struct dn_replica *out);
/* UPDATE on this node: cut the replica to new_len, finalize it under new_gs,
 * report it RECEIVED. Idempotent for an already updated replica. */
int dn_recovery_update(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t new_gs, uint64_t new_len);
/*
 * As the primary: recover block b (id, genstamp being recovered) held by
 * targets (this node may be among them; none: this node alone) to new_gs.
 * On success *uuids (array of n_out strings; caller frees each and the
 * array) names the holders now finalized at *len. Blocking.
 */
int dn_recover_block(dn_ctx *dn, const Dfs__Block *b, Dfs__DatanodeInfo **targets,
                     size_t n_targets, uint64_t new_gs, char ***uuids, size_t *n_out,
                     uint64_t *len);

/* A connection to another DataNode at addr: a pooled one that has nothing
 * to read (in step, not closed by a peer that restarted since), else a new
 * one. Give it back with dfs_rpc_client_give(dn->client, ...). */
int dn_take_conn(dn_ctx *dn, const char *addr, dfs_conn **out);

/* "host:port" of a DatanodeInfo into buf. */
void dn_info_addr(const Dfs__DatanodeInfo *d, char *buf, size_t cap);

#endif
