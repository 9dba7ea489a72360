/*
 * namesystem.h - the NameNode's state and every namespace operation, with
 * HDFS semantics, callable in process (nn_rpc.c and the NameNode
 * benchmark's in-process mode both use this API).
 *
 * One namespace lock (a pthread rwlock, writer-preferring) guards the inode
 * tree, the block map, the DataNode table and the leases: reads share it,
 * changes hold it exclusively. A change is applied to memory and its edit
 * record appended under the lock; the lock is released, and the call then
 * waits for the edit log's group commit to make the record durable before
 * it returns - so an acknowledged change is on disk, and concurrent
 * changes share one fdatasync.
 *
 * Paths arrive as bytes (they come from protobuf `bytes` fields) and are
 * validated with dfs_path_normalize(). Errors are negative codes with an
 * HDFS-style message in dfs_err_msg() naming the op and the path.
 * Every function is thread-safe.
 */
#ifndef NN_NAMESYSTEM_H
#define NN_NAMESYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nn_ns nn_ns;

struct nn_config {
  const char *name_dir;          /* image + edits */
  uint64_t default_blocksize;    /* dfs.blocksize */
  uint32_t default_replication;  /* dfs.replication */
  uint32_t max_replication;      /* dfs.replication.max */
  uint64_t min_blocksize;        /* dfs.namenode.fs-limits.min-block-size */
  uint32_t min_replication;      /* dfs.namenode.replication.min */
  uint32_t ls_limit;             /* dfs.ls.limit */
  uint32_t max_component_len;    /* dfs.namenode.fs-limits.max-component-length */
  uint32_t max_dir_items;        /* dfs.namenode.fs-limits.max-directory-items */
  bool permissions;              /* dfs.permissions.enabled */
  const char *superuser;         /* NULL: the OS user running the process */
  const char *supergroup;        /* dfs.permissions.superusergroup */
  uint32_t bytes_per_checksum;
  uint32_t write_packet_size;
  int64_t heartbeat_interval_ms; /* dfs.heartbeat.interval */
  int64_t recheck_interval_ms;   /* dfs.namenode.heartbeat.recheck-interval */
  const char *topology_file;     /* NULL: every node on /default-rack */
  double safemode_threshold;     /* dfs.namenode.safemode.threshold-pct */
  int64_t safemode_extension_ms; /* dfs.namenode.safemode.extension */
  int64_t repl_interval_ms;      /* dfs.namenode.replication.interval */
  uint32_t repl_max_streams;     /* dfs.namenode.replication.max-streams */
  int64_t repl_pending_timeout_ms; /* dfs.namenode.reconstruction.pending.timeout-sec */
  int64_t lease_soft_ms;         /* dfs.namenode.lease.soft-limit */
  int64_t lease_hard_ms;         /* dfs.namenode.lease.hard-limit */
  int64_t recovery_retry_ms;     /* dfs.namenode.block-recovery.retry-interval */
  const char *hosts_exclude_file; /* dfs.hosts.exclude resolved; NULL: none */
};

/* Defaults equal to the key table's (tests start from these). */
void nn_config_defaults(struct nn_config *c);

/* Who calls (from the RPC connection context). */
struct nn_caller {
  const char *user;        /* "" or NULL: treated as "nobody" */
  const char *client_name; /* lease holder name for write ops */
  const char *ip;          /* peer IP: the writer's / reader's location */
};

struct nn_status {
  bool is_dir;
  uint64_t length;
  uint16_t perm;
  const char *owner, *group;   /* interned: valid while the namesystem lives */
  int64_t mtime, atime;
  uint16_t replication;
  uint64_t blocksize;
  uint64_t file_id;
  uint32_t children;
  bool under_construction;
  const char *name;            /* listing entries: points into the listing */
  size_t name_len;
};

struct nn_listing {
  struct nn_status *entries;   /* owned */
  size_t n;
  uint32_t remaining;          /* entries after this page */
  bool is_file;                /* path named a file: `self` holds it, n == 0 */
  struct nn_status self;
  char *names;                 /* owned: the entries' names */
};
void nn_listing_free(struct nn_listing *l);

struct nn_dn_info {              /* strings interned: valid while ns lives */
  const char *uuid, *host, *hostname, *rack;
  uint32_t port;
  uint64_t capacity, dfs_used, remaining, num_blocks;
  uint32_t xceivers, failed_volumes;
  int64_t last_update_ms;        /* ms since the last heartbeat */
  bool dead;
  int admin_state;               /* 0 normal, 1 decommissioning, 2 decommissioned */
};

struct nn_blk {
  uint64_t id, genstamp, num_bytes;
};

struct nn_located_block {
  struct nn_blk b;
  uint64_t offset;
  bool corrupt, under_construction;
  size_t nlocs;
  struct nn_dn_info *locs;       /* points into the owner's storage */
};

struct nn_located_blocks {
  uint64_t file_length;
  bool under_construction;
  struct nn_located_block *blocks; /* owned */
  size_t n;
  bool has_last;
  struct nn_located_block last;
  bool last_complete;
  struct nn_dn_info *infos;        /* owned storage for every locs */
};
void nn_located_blocks_free(struct nn_located_blocks *l);

struct nn_content_summary {
  uint64_t length, file_count, directory_count, space_consumed;
};

struct nn_fs_stats {
  uint64_t capacity, used, remaining, under_replicated, corrupt_blocks,
      missing_blocks, blocks, files, directories;
  bool safe_mode;
};

/* ---- life cycle ---- */

/*
 * Open the name directory: if it holds no image (empty or new directory),
 * format it first (empty root owned by the superuser, group supergroup,
 * 0755); load the newest valid image, replay the edits after it, start a
 * new edit segment. Returns 0 and *out, or a negative code with a message
 * (DFS_ECORRUPT for a damaged log or image: the NameNode refuses to start).
 * cfg strings are copied.
 */
int nn_ns_open(const struct nn_config *cfg, nn_ns **out);
/* Initialise an empty name dir (fails with DFS_EEXIST if it holds an
 * image already). */
int nn_ns_format(const struct nn_config *cfg);
/* Close: sync the log; checkpoint first when `checkpoint`. NULL no-op. */
void nn_ns_close(nn_ns *ns, bool checkpoint);
/* Save an image of the current namespace, roll the edit log, purge old
 * images and segments. Blocks changes while the image is written. */
int nn_ns_checkpoint(nn_ns *ns);
/* Transactions since the last checkpoint. */
uint64_t nn_ns_txns_since_checkpoint(nn_ns *ns);
/* Hook called when the edit log fails (the daemon exits). */
void nn_ns_set_fatal(nn_ns *ns, void (*fn)(void *arg, int rc, const char *msg),
                     void *arg);
/* For tests: fn(arg) runs in the thread that syncs the edit log, before
 * each sync, while the edits being synced are in memory but not durable
 * (editlog.h). */
void nn_ns_set_sync_hook(nn_ns *ns, void (*fn)(void *arg), void *arg);
/* Periodic work (the monitor thread): dead DataNodes, safe mode exit. */
void nn_ns_tick(nn_ns *ns);
/* One replication monitor round (every dfs.namenode.replication.interval):
 * expire pending transfers, schedule TRANSFER commands. Returns how many
 * were scheduled (0 in safe mode). */
int nn_ns_replication_work(nn_ns *ns);
/* Replication figures for tests and logs. */
struct nn_repl_stats {
  uint64_t queued;          /* blocks in the priority queue (all levels) */
  uint64_t queued_level[5]; /* per level (see repl_queue.h) */
  uint64_t pending;         /* transfers scheduled, not yet received */
  uint64_t scheduled, timeouts;
};
void nn_ns_repl_stats(nn_ns *ns, struct nn_repl_stats *out);
/* Recover every file of each lease past dfs.namenode.lease.hard-limit
 * (the monitor calls it every second). Returns how many recoveries were
 * started or files closed. */
int nn_ns_check_leases(nn_ns *ns);
/* REFRESH_NODES (hdfs dfsadmin -refreshNodes): re-read the exclude file;
 * listed DataNodes start decommissioning, others return to normal.
 * Superuser only. A malformed or unreadable file: DFS_ECONFIG / errno,
 * nothing changes. */
int nn_ns_refresh_nodes(nn_ns *ns, const struct nn_caller *c);
/* The superuser name in effect. */
const char *nn_ns_superuser(const nn_ns *ns);

/* ---- client operations (HDFS ClientProtocol) ---- */
int nn_ns_mkdirs(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                 uint32_t perm, bool create_parent);
int nn_ns_create(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                 uint32_t perm, bool overwrite, bool create_parent, uint32_t replication,
                 uint64_t blocksize, struct nn_status *out);
/* Allocate the next block of an open file held by c->client_name, with
 * targets from the placement policy (c->ip is the writer's location).
 * previous: the current last block with its final length (NULL for the
 * first block); excluded: uuids of DataNodes the client could not reach;
 * file_id 0: unchecked. sync_later: answer without waiting for the edit
 * log's sync (the client calls nn_ns_fsync before it relies on the block).
 * On success out->blocks[0] (out->n == 1) is the new block with its
 * pipeline; free with nn_located_blocks_free(). */
int nn_ns_add_block(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                    size_t len, const struct nn_blk *previous, const char *const *excluded,
                    size_t nexcluded, uint64_t file_id, bool sync_later,
                    struct nn_located_blocks *out);
int nn_ns_abandon_block(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                        size_t len, const struct nn_blk *b);
int nn_ns_complete(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                   const struct nn_blk *last, uint64_t file_id, bool *done);
/* Make the open file's edits durable (also those of ADD_BLOCKs answered
 * with sync_later); with has_length, readers are told last_block_length. */
int nn_ns_fsync(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                bool has_length, uint64_t last_block_length);
/* length UINT64_MAX: to the end. */
int nn_ns_get_block_locations(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                              size_t len, uint64_t offset, uint64_t length,
                              struct nn_located_blocks *out);
/* DFS_ENOENT (with a message) when the path does not exist. */
int nn_ns_get_file_info(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                        size_t len, struct nn_status *out);
int nn_ns_get_listing(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                      size_t len, const uint8_t *start_after, size_t start_len,
                      struct nn_listing *out);
int nn_ns_rename(nn_ns *ns, const struct nn_caller *c, const uint8_t *src, size_t slen,
                 const uint8_t *dst, size_t dlen, bool overwrite, bool *result);
int nn_ns_delete(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                 bool recursive, bool *result);
int nn_ns_set_permission(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                         size_t len, uint32_t perm);
/* owner / group NULL or "": unchanged. */
int nn_ns_set_owner(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                    const char *owner, const char *group);
int nn_ns_set_replication(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                          size_t len, uint32_t replication, bool *result);
/* mtime / atime < 0: unchanged. */
int nn_ns_set_times(nn_ns *ns, const struct nn_caller *c, const uint8_t *path, size_t len,
                    int64_t mtime, int64_t atime);
int nn_ns_content_summary(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                          size_t len, struct nn_content_summary *out);
int nn_ns_renew_lease(nn_ns *ns, const struct nn_caller *c, const char *client_name);
/* Mark the replica of block b on DataNode uuid corrupt. */
int nn_ns_report_bad_block(nn_ns *ns, const struct nn_blk *b, const char *uuid);
/* type: 1 all, 2 live, 3 dead. *out (malloc) freed by the caller. */
int nn_ns_datanode_report(nn_ns *ns, int type, struct nn_dn_info **out, size_t *n);
int nn_ns_fs_stats(nn_ns *ns, struct nn_fs_stats *out);
const struct nn_config *nn_ns_config(const nn_ns *ns);
/* action: 1 get, 2 enter, 3 leave. Superuser only for 2 and 3. */
int nn_ns_safe_mode(nn_ns *ns, const struct nn_caller *c, int action, bool *in_safe_mode);
/*
 * HDFS recoverLease: close a file whose writer may be gone, fencing that
 * writer (its later addBlock/complete/fsync get DFS_ENOLEASE). *closed is
 * true when the file is closed on return (it was closed already, or every
 * block could be completed at once); false when a block recovery was
 * started (a RECOVER command to one DataNode holding the last block, with
 * a new generation stamp) or is pending: the caller polls again.
 */
int nn_ns_recover_lease(nn_ns *ns, const struct nn_caller *c, const uint8_t *path,
                        size_t len, bool *closed);
/*
 * End of a block recovery (COMMIT_BLOCK_SYNCHRONIZATION from the primary):
 * the last block of the file takes new_genstamp and new_length, the nodes
 * named by uuids hold it, and the file is closed when close_file (or the
 * block dropped when delete_block). b->genstamp is the old genstamp.
 */
int nn_ns_commit_block_sync(nn_ns *ns, const struct nn_blk *b, uint64_t new_genstamp,
                            uint64_t new_length, const char *const *uuids, size_t nuuids,
                            bool close_file, bool delete_block);

/* ---- DataNode operations ---- */
struct nn_dn_stats {
  uint64_t capacity, dfs_used, remaining;
  uint32_t xceivers, failed_volumes;
};
/* host_out gets the host recorded (peer IP substituted for 0.0.0.0). */
int nn_ns_register_datanode(nn_ns *ns, const char *uuid, const char *host, uint32_t port,
                            const char *hostname, const char *peer_ip,
                            const struct nn_dn_stats *st, const char **host_out);
struct nn_dn_recover {
  struct nn_blk b;       /* id, genstamp being recovered, known length */
  uint64_t new_genstamp;
  struct nn_dn_info *holders; /* owned */
  size_t nholders;
};
struct nn_dn_transfer {
  struct nn_blk b;
  struct nn_dn_info *targets; /* owned */
  size_t ntargets;
};
struct nn_dn_commands {
  bool reregister;
  struct nn_dn_transfer *transfer; /* owned: one TRANSFER command */
  size_t ntransfer;
  uint64_t *invalidate;  /* owned triples (id, gs, len) */
  size_t ninvalidate;
  struct nn_dn_recover *recover; /* owned */
  size_t nrecover;
  bool in_safe_mode;
};
int nn_ns_heartbeat(nn_ns *ns, const char *uuid, const struct nn_dn_stats *st,
                    struct nn_dn_commands *out);
void nn_dn_commands_free(struct nn_dn_commands *c);
/* Triples (id, gs, len); n counts triples. DFS_ENOENT for an unknown uuid. */
int nn_ns_block_report(nn_ns *ns, const char *uuid, const uint64_t *finalized, size_t nf,
                       const uint64_t *uc, size_t nuc);
/* status: 1 receiving, 2 received, 3 deleted. */
int nn_ns_block_received(nn_ns *ns, const char *uuid, const struct nn_blk *b, int status);

#endif
