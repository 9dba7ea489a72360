/*
 * namesystem_int.h - internals shared by the namesystem's files
 * (namesystem.c: life cycle, replay and the mutators; permission.c;
 * ns_client.c: namespace operations; ns_blocks.c: blocks and DataNodes).
 * Not for use outside the namenode's namesystem.
 *
 * Lock order: ns->lock (namespace) -> editlog mutex; ns->groups_mu and the
 * intern table's mutex are leaves. ns->ckpt_mu is taken before ns->lock.
 */
#ifndef NN_NAMESYSTEM_INT_H
#define NN_NAMESYSTEM_INT_H

#include <pthread.h>

#include "blockmap.h"
#include "datanode_manager.h"
#include "editlog.h"
#include "inode.h"
#include "namesystem.h"
#include "lease.h"
#include "replication.h"
#include "topology.h"

#define NN_ROOT_INODE_ID 16385u
#define NN_FIRST_BLOCK_ID ((1ull << 30) + 1)
#define NN_FIRST_GENSTAMP 1001u
#define NN_MAX_PATH_DEPTH 1000 /* as HDFS */

struct nn_group_entry;

struct nn_ns {
  pthread_rwlock_t lock;        /* THE namespace lock: guards everything below
                                   marked (L) */
  struct nn_config cfg;         /* immutable after open (strings owned below) */
  char *s_name_dir, *s_superuser, *s_supergroup, *s_topology;
  int lock_fd;                  /* in_use.lock, flock()ed while open; -1 */
  nn_intern *strings;           /* own mutex */
  nn_topology *topo;            /* immutable */
  nn_editlog *log;              /* own mutex */
  nn_inode *root;               /* (L) */
  struct nn_blockmap bm;        /* (L) */
  struct nn_dnmgr dns;          /* (L) */
  struct nn_repl repl;          /* (L) replication queue and pending transfers */
  struct nn_leases leases;      /* (L) writer leases */
  char *s_exclude;              /* owned copy of cfg.hosts_exclude_file */
  char **exclude;               /* (L) hosts to decommission (owned strings) */
  size_t nexclude;              /* (L) */
  uint64_t last_inode_id;       /* (L) */
  uint64_t next_block_id;       /* (L) */
  uint64_t genstamp;            /* (L) last handed out */
  uint64_t nfiles, ndirs;       /* (L) */
  bool replaying;               /* (L) true while edits are replayed */
  bool safemode_manual;         /* (L) */
  bool safemode_startup;        /* (L) waiting for block reports */
  int64_t safemode_reached_ms;  /* (L) threshold met at (0: not yet) */
  pthread_mutex_t ckpt_mu;      /* serialises checkpoints; guards ckpt_txid */
  uint64_t ckpt_txid;
  pthread_mutex_t groups_mu;    /* guards groups */
  struct nn_group_entry *groups;
  void (*fatal)(void *, int, const char *);
  void *fatal_arg;
};

/* ---- time ---- */
int64_t nn_wall_ms(void);
int64_t nn_mono_ms(void);
/* The calling thread's state for nn_rand_next (placement choices), seeded
 * from the clock on first use. */
uint64_t *nn_thread_rng(void);

/* ---- permission checking (permission.c) ---- */
enum { NN_R = 4, NN_W = 2, NN_X = 1 };
struct nn_pc {
  nn_ns *ns;
  const char *user;
  bool off;            /* checks disabled */
  int super;           /* -1 unknown, 0 no, 1 yes */
  const char *const *groups; /* interned; loaded on first need */
  size_t ngroups;
  bool groups_loaded;
};
void nn_pc_init(struct nn_pc *pc, nn_ns *ns, const struct nn_caller *c);
bool nn_pc_is_super(struct nn_pc *pc);
bool nn_pc_in_group(struct nn_pc *pc, const char *group);
/* 0 if allowed, else DFS_EACCES with an HDFS-style message for op. */
int nn_pc_check(struct nn_pc *pc, const char *op, const nn_inode *n, int mask);
/* Full path of an inode into buf (messages). */
void nn_inode_path(const nn_inode *n, char *buf, size_t cap);
void nn_groups_free(nn_ns *ns);

/* ---- path resolution (namesystem.c) ---- */
struct nn_res {
  nn_inode *target;     /* NULL if the path does not exist */
  nn_inode *parent;     /* the target's parent dir; NULL if an ancestor is missing */
  nn_inode *deepest;    /* deepest existing inode on the path */
  size_t missing_at;    /* offset in path of the first missing component */
  const char *name;     /* last component (points into path) */
  size_t name_len;
};
/* Walk path (normalized), checking traverse (x) on each directory passed
 * when pc is non-NULL. DFS_ENOTDIR if a non-final component is a file. */
int nn_resolve(nn_ns *ns, struct nn_pc *pc, const char *op, const char *path,
               struct nn_res *r);
/* Normalize wire bytes into *out (caller frees). */
int nn_norm(nn_ns *ns, const char *op, const uint8_t *p, size_t len, char **out);

/* ---- mutators shared by live operations and replay (namesystem.c) ---- */
nn_inode *nn_do_mkdir(nn_ns *ns, nn_inode *parent, const char *name, size_t len,
                      uint64_t id, uint32_t perm, const char *owner, const char *group,
                      int64_t mtime);
nn_inode *nn_do_create(nn_ns *ns, nn_inode *parent, const char *name, size_t len,
                       uint64_t id, uint32_t perm, const char *owner, const char *group,
                       int64_t mtime, uint32_t repl, uint64_t blocksize,
                       const char *client, const char *machine);
/* Unlink n from its parent and free its subtree and blocks (replicas get
 * INVALIDATE commands). */
void nn_do_delete(nn_ns *ns, nn_inode *n, int64_t mtime);
/* Move src to dst_parent/name; victim (may be NULL) is deleted first. */
int nn_do_rename(nn_ns *ns, nn_inode *src, nn_inode *dst_parent, const char *name,
                 size_t len, nn_inode *victim, int64_t mtime);
struct nn_block *nn_do_add_block(nn_ns *ns, nn_inode *f, const struct nn_blk *prev,
                                 const struct nn_blk *nb);
int nn_do_abandon_block(nn_ns *ns, nn_inode *f, uint64_t id);
void nn_do_commit_block(nn_ns *ns, struct nn_block *b, uint64_t len, uint64_t gs);
void nn_do_close(nn_ns *ns, nn_inode *f, const struct nn_blk *last, int64_t mtime);

/* Append rec (under the write lock). On failure the change is already in
 * memory: the log is in its failed state and the daemon is stopping. */
int nn_log(nn_ns *ns, Nn__EditRecord *rec, uint64_t *txid);
/* A new generation stamp for a block of the file at path (pipeline or
 * lease recovery), logged (OP_SET_GENSTAMP) so it is never handed out twice. */
int nn_log_new_genstamp(nn_ns *ns, const char *path, uint64_t *gs, uint64_t *txid);
/* Unlock the write lock, then wait for txid to be durable. */
int nn_unlock_sync(nn_ns *ns, uint64_t txid);
/* Queue an INVALIDATE (under the write lock) that leaves only once the
 * edit logged next - the change that made the replica garbage, when there
 * is one - is durable (datanode_manager.h). */
void nn_queue_invalidate(nn_ns *ns, struct nn_datanode *dn, uint64_t id, uint64_t gs,
                         uint64_t len);

/* Safe mode: DFS_ESAFEMODE with a message if changes are refused. */
int nn_safemode_check(nn_ns *ns, const char *op, const char *path);
bool nn_in_safemode(const nn_ns *ns);

/* Status of an inode. */
void nn_fill_status(const nn_inode *n, struct nn_status *s);
uint64_t nn_file_length(const nn_inode *f);
void nn_fill_dn_info(const struct nn_datanode *dn, int64_t now_mono, struct nn_dn_info *o);

/* A namesystem held in memory only (an empty root, no name dir, no edit
 * log): for the fuzz target. Changes made through the client API would
 * crash on the missing log; use nn_ns_replay_buf() only. Close with
 * nn_ns_close(ns, false). */
int nn_ns_open_memory(const struct nn_config *cfg, nn_ns **out);
/* Apply every decodable record of a segment image buf[0..len) (magic
 * first), skipping records that do not apply; txids are not checked. */
int nn_ns_replay_buf(nn_ns *ns, const uint8_t *buf, size_t len);

/* Lease recovery of open file f at path under the write lock (ns_blocks.c):
 * *closed when the file could be closed at once; otherwise the writer is
 * fenced and a block recovery started. *txid: last record logged. */
int nn_recover_file(nn_ns *ns, nn_inode *f, const char *path, const char *op, bool *closed,
                    uint64_t *txid);

/* Decommissioning (decommission.c). */
/* Read a hosts file into a new array of strings (free with
 * nn_hosts_free). A missing file is an empty list. */
int nn_hosts_load(const char *path, char ***out, size_t *n);
void nn_hosts_free(char **v, size_t n);
/* Set dn's admin state from ns->exclude (register, refresh). */
void nn_decom_apply(nn_ns *ns, struct nn_datanode *dn);
/* Decommissioning nodes whose blocks are all safe elsewhere become
 * decommissioned (monitor, every second). */
void nn_decom_check(nn_ns *ns);

/* Blocks (ns_blocks.c): when a dn dies drop its replicas. */
void nn_drop_dn_replicas(nn_ns *ns, struct nn_datanode *dn);

/* Pipeline recovery (ns_pipeline.c), HDFS's updateBlockForPipeline and
 * updatePipeline; client = the lease holder. Thread-safe (take ns->lock). */
int nn_ns_update_block_for_pipeline(nn_ns *ns, const char *client, const struct nn_blk *b,
                                    struct nn_blk *out, uint64_t *offset);
int nn_ns_update_pipeline(nn_ns *ns, const char *client, const struct nn_blk *oldb,
                          const struct nn_blk *newb, const char *const *uuids, size_t nuuids);

#endif
