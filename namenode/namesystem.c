/*
 * namesystem.c - the namesystem's life cycle (open = load image + replay
 * edits, checkpoint, close), path resolution, and the mutators that both
 * live operations and edit log replay use.
 *
 * The key decision: every change goes through one mutator (nn_do_*), which
 * live handlers call after their checks and replay calls from the logged
 * record. Records carry every value the mutator needs (inode ids, times,
 * owners), so replay reproduces the namespace exactly, and the code that
 * changes the tree exists once.
 */
#include "namesystem_int.h"

#include <dirent.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "fsimage.h"
#include "log.h"
#include "path.h"

int64_t nn_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t nn_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Thread_local uint64_t tl_rng;

uint64_t *nn_thread_rng(void) {
  if (tl_rng == 0) tl_rng = (uint64_t)nn_mono_ms() * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)&tl_rng;
  if (tl_rng == 0) tl_rng = 1;
  return &tl_rng;
}

void nn_config_defaults(struct nn_config *c) {
  memset(c, 0, sizeof *c);
  c->name_dir = "run/name";
  c->default_blocksize = 128ull << 20;
  c->default_replication = 3;
  c->max_replication = 512;
  c->min_blocksize = 4096;
  c->min_replication = 1;
  c->ls_limit = 1000;
  c->max_component_len = 255;
  c->max_dir_items = 1048576;
  c->permissions = true;
  c->supergroup = "supergroup";
  c->bytes_per_checksum = 512;
  c->write_packet_size = 65536;
  c->heartbeat_interval_ms = 3000;
  c->recheck_interval_ms = 300000;
  c->safemode_threshold = 0.999;
  c->safemode_extension_ms = 30000;
  c->repl_interval_ms = 500;
  c->repl_max_streams = 2;
  c->repl_pending_timeout_ms = 300000;
  c->lease_soft_ms = 60000;
  c->lease_hard_ms = 3600000;
  c->recovery_retry_ms = 10000;
}

const struct nn_config *nn_ns_config(const nn_ns *ns) { return &ns->cfg; }
const char *nn_ns_superuser(const nn_ns *ns) { return ns->cfg.superuser; }

/* ---- paths ---- */

int nn_norm(nn_ns *ns, const char *op, const uint8_t *p, size_t len, char **out) {
  int rc = dfs_path_normalize(p, len, ns->cfg.max_component_len, out);
  if (rc) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dfs_err_msg());
    return dfs_err_set(rc, "%s: %s", op, msg);
  }
  /* HDFS's MAX_PATH_DEPTH: also bounds the recursion of subtree walks. */
  size_t depth = 0;
  for (const char *c = *out; *c; c++)
    if (*c == '/') depth++;
  if (depth > NN_MAX_PATH_DEPTH) {
    free(*out);
    *out = NULL;
    return dfs_err_set(DFS_EBADPATH, "%s: Invalid path name: more than %d components", op,
                       NN_MAX_PATH_DEPTH);
  }
  return 0;
}

/* Next component of a normalized path from *pos. */
static size_t next_comp(const char *path, size_t *pos, const char **start) {
  size_t i = *pos;
  while (path[i] == '/') i++;
  if (!path[i]) {
    *pos = i;
    return 0;
  }
  *start = path + i;
  size_t j = i;
  while (path[j] && path[j] != '/') j++;
  *pos = j;
  return j - i;
}

int nn_resolve(nn_ns *ns, struct nn_pc *pc, const char *op, const char *path,
               struct nn_res *r) {
  memset(r, 0, sizeof *r);
  nn_inode *node = ns->root;
  size_t pos = 0, len;
  const char *start = NULL;
  r->name = "";
  while ((len = next_comp(path, &pos, &start)) != 0) {
    if (!node->is_dir) {
      char prefix[DFS_PATH_MAX + 1];
      size_t pl = (size_t)(start - path) - 1;
      memcpy(prefix, path, pl);
      prefix[pl] = '\0';
      return dfs_err_set(DFS_ENOTDIR, "%s: %s: Parent path is not a directory: %s", op,
                         path, prefix);
    }
    if (pc) {
      int rc = nn_pc_check(pc, op, node, NN_X);
      if (rc) return rc;
    }
    nn_inode *child = nn_dir_lookup(node, start, len);
    if (!child) {
      r->deepest = node;
      r->missing_at = (size_t)(start - path);
      r->name = start;
      r->name_len = len;
      size_t p2 = pos;
      const char *s2;
      size_t more = next_comp(path, &p2, &s2);
      if (more == 0) {
        r->parent = node;
      } else {
        /* the last component is the name that would be created */
        const char *last = s2;
        size_t lastlen = more;
        while ((more = next_comp(path, &p2, &s2)) != 0) {
          last = s2;
          lastlen = more;
        }
        r->name = last;
        r->name_len = lastlen;
      }
      return 0;
    }
    r->name = start;
    r->name_len = len;
    node = child;
  }
  r->target = node;
  r->deepest = node;
  r->parent = node->parent;
  return 0;
}

/* ---- status ---- */

uint64_t nn_file_length(const nn_inode *f) {
  uint64_t len = 0;
  for (uint32_t i = 0; i < f->u.file.nblocks; i++) len += f->u.file.blocks[i]->num_bytes;
  return len;
}

void nn_fill_status(const nn_inode *n, struct nn_status *s) {
  memset(s, 0, sizeof *s);
  s->is_dir = n->is_dir;
  s->perm = n->perm;
  s->owner = n->owner;
  s->group = n->group;
  s->mtime = n->mtime;
  s->atime = n->atime;
  s->file_id = n->id;
  s->name = n->name;
  s->name_len = n->name_len;
  if (n->is_dir) {
    s->children = (uint32_t)nn_dir_count(n);
  } else {
    s->length = nn_file_length(n);
    s->replication = n->u.file.repl;
    s->blocksize = n->u.file.blocksize;
    s->under_construction = n->u.file.uc != NULL;
  }
}

void nn_fill_dn_info(const struct nn_datanode *dn, int64_t now_mono, struct nn_dn_info *o) {
  o->uuid = dn->uuid;
  o->host = dn->host;
  o->hostname = dn->hostname;
  o->rack = dn->rack;
  o->port = dn->port;
  o->capacity = dn->capacity;
  o->dfs_used = dn->dfs_used;
  o->remaining = dn->remaining;
  o->num_blocks = dn->num_blocks;
  o->xceivers = dn->xceivers;
  o->failed_volumes = dn->failed_volumes;
  o->last_update_ms = now_mono - dn->last_hb_ms;
  o->dead = dn->dead;
  o->admin_state = dn->admin;
}

/* ---- mutators ---- */

static nn_inode *new_inode(nn_ns *ns, nn_inode *parent, const char *name, size_t len,
                           uint64_t id, bool is_dir, uint32_t perm, const char *owner,
                           const char *group, int64_t mtime) {
  nn_inode *n = nn_inode_new(id, name, len, is_dir);
  if (!n) return NULL;
  n->perm = (uint16_t)(perm & 07777);
  n->owner = nn_intern_get(ns->strings, owner ? owner : "");
  n->group = nn_intern_get(ns->strings, group ? group : "");
  n->mtime = n->atime = mtime;
  if (!n->owner || !n->group || nn_dir_insert(parent, n) != 0) {
    nn_inode_free(n);
    return NULL;
  }
  parent->mtime = mtime;
  if (id > ns->last_inode_id) ns->last_inode_id = id;
  return n;
}

nn_inode *nn_do_mkdir(nn_ns *ns, nn_inode *parent, const char *name, size_t len,
                      uint64_t id, uint32_t perm, const char *owner, const char *group,
                      int64_t mtime) {
  nn_inode *n = new_inode(ns, parent, name, len, id, true, perm, owner, group, mtime);
  if (n) ns->ndirs++;
  return n;
}

nn_inode *nn_do_create(nn_ns *ns, nn_inode *parent, const char *name, size_t len,
                       uint64_t id, uint32_t perm, const char *owner, const char *group,
                       int64_t mtime, uint32_t repl, uint64_t blocksize,
                       const char *client, const char *machine) {
  struct nn_uc *uc = calloc(1, sizeof *uc);
  if (!uc) return NULL;
  uc->client_name = strdup(client ? client : "");
  uc->client_machine = strdup(machine ? machine : "");
  nn_inode *n = NULL;
  if (uc->client_name && uc->client_machine)
    n = new_inode(ns, parent, name, len, id, false, perm, owner, group, mtime);
  if (!n) {
    free(uc->client_name);
    free(uc->client_machine);
    free(uc);
    return NULL;
  }
  n->u.file.repl = (uint16_t)repl;
  n->u.file.blocksize = blocksize;
  n->u.file.uc = uc;
  ns->nfiles++;
  nn_lease_add(&ns->leases, uc->client_name, n, nn_mono_ms());
  return n;
}

static void free_blocks(nn_ns *ns, nn_inode *f) {
  for (uint32_t i = 0; i < f->u.file.nblocks; i++) {
    struct nn_block *b = f->u.file.blocks[i];
    for (int k = 0; k < b->nrep; k++)
      nn_queue_invalidate(ns, b->reps[k].dn, b->id, b->genstamp, b->num_bytes);
    /* pipeline nodes that never reported may hold an rbw replica */
    if (b->state == NN_BLOCK_UC)
      for (int k = 0; k < b->ntargets; k++)
        if (!nn_block_replica(b, b->targets[k]))
          nn_queue_invalidate(ns, b->targets[k], b->id, b->genstamp, b->num_bytes);
    nn_repl_forget(ns, b);
    nn_blockmap_remove(&ns->bm, b);
  }
  f->u.file.nblocks = 0;
}

static void free_one(nn_ns *ns, nn_inode *n) {
  if (n->is_dir) {
    ns->ndirs--;
  } else {
    if (n->u.file.uc) nn_lease_remove_file(&ns->leases, n->u.file.uc->client_name, n);
    free_blocks(ns, n);
    ns->nfiles--;
  }
  nn_inode_free(n);
}

static int free_rec_cb(nn_inode *c, void *arg);

/* Fallback when the subtree cannot be collected (out of memory). */
static void free_rec(nn_ns *ns, nn_inode *n) {
  if (n->is_dir) nn_dir_walk(n, NULL, 0, free_rec_cb, ns);
  free_one(ns, n);
}

static int free_rec_cb(nn_inode *c, void *arg) {
  free_rec(arg, c);
  return 0;
}

static void free_subtree(nn_ns *ns, nn_inode *n) {
  nn_inode **v;
  size_t k;
  if (nn_subtree_collect(n, &v, &k) != 0) {
    free_rec(ns, n);
    return;
  }
  for (size_t i = 0; i < k; i++) free_one(ns, v[i]);
  free(v);
}

void nn_do_delete(nn_ns *ns, nn_inode *n, int64_t mtime) {
  nn_inode *parent = n->parent;
  if (parent) {
    nn_dir_remove(parent, n);
    parent->mtime = mtime;
  }
  free_subtree(ns, n);
}

int nn_do_rename(nn_ns *ns, nn_inode *src, nn_inode *dst_parent, const char *name,
                 size_t len, nn_inode *victim, int64_t mtime) {
  char *saved = NULL;
  nn_inode *sp = src->parent;
  if (victim) nn_do_delete(ns, victim, mtime);
  nn_dir_remove(sp, src);
  if (nn_name_cmp(src->name, src->name_len, name, len) != 0) {
    saved = strndup(src->name, src->name_len);
    if (!saved || nn_inode_set_name(src, name, len) != 0) {
      free(saved);
      nn_dir_insert(sp, src);
      return DFS_ENOMEM;
    }
  }
  if (nn_dir_insert(dst_parent, src) != 0) {
    if (saved) nn_inode_set_name(src, saved, strlen(saved));
    free(saved);
    nn_dir_insert(sp, src);
    return DFS_EEXIST;
  }
  free(saved);
  sp->mtime = mtime;
  dst_parent->mtime = mtime;
  return 0;
}

void nn_do_commit_block(nn_ns *ns, struct nn_block *b, uint64_t len, uint64_t gs) {
  b->num_bytes = len;
  if (gs > b->genstamp) b->genstamp = gs;
  if (b->state == NN_BLOCK_UC) b->state = NN_BLOCK_COMMITTED;
  if (b->state == NN_BLOCK_COMMITTED &&
      (ns->replaying || nn_block_live_replicas(b) >= (int)ns->cfg.min_replication))
    b->state = NN_BLOCK_COMPLETE;
}

struct nn_block *nn_do_add_block(nn_ns *ns, nn_inode *f, const struct nn_blk *prev,
                                 const struct nn_blk *nb) {
  if (prev && f->u.file.nblocks > 0) {
    struct nn_block *last = f->u.file.blocks[f->u.file.nblocks - 1];
    if (last->id == prev->id) nn_do_commit_block(ns, last, prev->num_bytes, prev->genstamp);
  }
  if (f->u.file.nblocks == f->u.file.bcap) {
    uint32_t nc = f->u.file.bcap ? f->u.file.bcap * 2 : 4;
    struct nn_block **nbs = realloc(f->u.file.blocks, nc * sizeof *nbs);
    if (!nbs) return NULL;
    f->u.file.blocks = nbs;
    f->u.file.bcap = nc;
  }
  struct nn_block *b = nn_blockmap_add(&ns->bm, nb->id, nb->genstamp, 0, f);
  if (!b) return NULL;
  f->u.file.blocks[f->u.file.nblocks++] = b;
  if (nb->id >= ns->next_block_id) ns->next_block_id = nb->id + 1;
  if (nb->genstamp > ns->genstamp) ns->genstamp = nb->genstamp;
  return b;
}

int nn_do_abandon_block(nn_ns *ns, nn_inode *f, uint64_t id) {
  if (f->u.file.nblocks == 0) return DFS_ENOENT;
  struct nn_block *b = f->u.file.blocks[f->u.file.nblocks - 1];
  if (b->id != id) return DFS_ENOENT;
  for (int k = 0; k < b->nrep; k++)
    nn_queue_invalidate(ns, b->reps[k].dn, b->id, b->genstamp, b->num_bytes);
  nn_repl_forget(ns, b);
  nn_blockmap_remove(&ns->bm, b);
  f->u.file.nblocks--;
  return 0;
}

void nn_do_close(nn_ns *ns, nn_inode *f, const struct nn_blk *last, int64_t mtime) {
  if (last && f->u.file.nblocks > 0) {
    struct nn_block *b = f->u.file.blocks[f->u.file.nblocks - 1];
    if (b->id == last->id) nn_do_commit_block(ns, b, last->num_bytes, last->genstamp);
  }
  /* A closed file's blocks are complete by definition (complete only
   * succeeds once each has its minimum replicas). */
  for (uint32_t i = 0; i < f->u.file.nblocks; i++) {
    f->u.file.blocks[i]->state = NN_BLOCK_COMPLETE;
    nn_block_set_targets(f->u.file.blocks[i], NULL, 0);
  }
  if (f->u.file.uc) {
    nn_lease_remove_file(&ns->leases, f->u.file.uc->client_name, f);
    free(f->u.file.uc->client_name);
    free(f->u.file.uc->client_machine);
    free(f->u.file.uc);
    f->u.file.uc = NULL;
  }
  f->mtime = mtime;
}

/* ---- logging ---- */

int nn_log(nn_ns *ns, Nn__EditRecord *rec, uint64_t *txid) {
  int rc = nn_editlog_append(ns->log, rec, txid);
  if (rc) LOG_ERROR("namenode", "edit log append failed: %s", dfs_err_msg());
  return rc;
}

/* Block ids and generation stamps skipped at every start (OP_RESERVE_IDS). */
#define NN_ID_RESERVE (1ull << 20)

/* A block allocated after the first of its file is logged without waiting
 * for the disk (ADD_BLOCK sync_later): a crash can lose its edit after the
 * DataNodes got the block, and the replayed counters would hand out the
 * same id and stamp again, to a new block whose replicas then collide with
 * the stale ones (or are deleted by their INVALIDATE). So every start moves
 * both counters past anything the last run could have handed out unlogged
 * - up to NN_ID_RESERVE allocations, 128 TiB in 128 MiB blocks - and
 * makes that durable before serving. */
static int reserve_ids(nn_ns *ns) {
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_RESERVE_IDS;
  rec.has_path = rec.has_genstamp = rec.has_block_id = true;
  rec.path.data = (uint8_t *)"/"; /* (every record names a path) */
  rec.path.len = 1;
  rec.genstamp = ns->genstamp + NN_ID_RESERVE;
  rec.block_id = ns->next_block_id + NN_ID_RESERVE;
  uint64_t txid = 0;
  int rc = nn_log(ns, &rec, &txid);
  if (rc == 0) rc = nn_editlog_sync(ns->log, txid);
  if (rc) return rc;
  ns->genstamp = rec.genstamp;
  ns->next_block_id = rec.block_id;
  return 0;
}

int nn_log_new_genstamp(nn_ns *ns, const char *path, uint64_t *gs, uint64_t *txid) {
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_SET_GENSTAMP;
  rec.has_path = rec.has_genstamp = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.genstamp = *gs = ++ns->genstamp;
  return nn_log(ns, &rec, txid);
}

void nn_queue_invalidate(nn_ns *ns, struct nn_datanode *dn, uint64_t id, uint64_t gs,
                         uint64_t len) {
  uint64_t dep = ns->log ? nn_editlog_last_txid(ns->log) + 1 : 0;
  if (nn_dn_queue_invalidate(dn, id, gs, len, dep) != 0)
    LOG_WARN("namenode", "out of memory queueing the deletion of block %" PRIu64 " on %s; "
             "the next block report finds it again", id, dn->uuid);
}

int nn_unlock_sync(nn_ns *ns, uint64_t txid) {
  pthread_rwlock_unlock(&ns->lock);
  if (txid == 0) return 0;
  return nn_editlog_sync(ns->log, txid);
}

/* ---- safe mode ---- */

bool nn_in_safemode(const nn_ns *ns) { return ns->safemode_manual || ns->safemode_startup; }

int nn_safemode_check(nn_ns *ns, const char *op, const char *path) {
  if (!nn_in_safemode(ns)) return 0;
  return dfs_err_set(DFS_ESAFEMODE, "%s: %s: Cannot %s %s. Name node is in safe mode.%s", op,
                     path, op, path,
                     ns->safemode_manual ? " It was turned on manually."
                                         : " Waiting for DataNodes to report blocks.");
}

/* Complete blocks, and those with their minimum replicas reported. As in
 * HDFS only complete blocks count: the open last block of a file whose
 * writer died may never get a replica and must not hold safe mode. */
static void safe_block_count(nn_ns *ns, uint64_t *total, uint64_t *safe) {
  size_t pos = 0;
  struct nn_block *b;
  *total = *safe = 0;
  while ((b = nn_u64map_next(&ns->bm.map, &pos, NULL)) != NULL) {
    if (b->state != NN_BLOCK_COMPLETE) continue;
    (*total)++;
    if (nn_block_live_replicas(b) >= (int)ns->cfg.min_replication) (*safe)++;
  }
}

static void on_dead(struct nn_datanode *dn, void *arg) { nn_drop_dn_replicas(arg, dn); }

int nn_ns_replication_work(nn_ns *ns) {
  pthread_rwlock_wrlock(&ns->lock);
  int n = nn_repl_compute_work(ns);
  pthread_rwlock_unlock(&ns->lock);
  return n;
}

void nn_ns_repl_stats(nn_ns *ns, struct nn_repl_stats *o) {
  memset(o, 0, sizeof *o);
  pthread_rwlock_rdlock(&ns->lock);
  o->queued = nn_replq_size(&ns->repl.q, -1);
  for (int l = 0; l < NN_REPLQ_LEVELS && l < 5; l++) o->queued_level[l] = nn_replq_size(&ns->repl.q, l);
  o->pending = ns->repl.pending.len;
  o->scheduled = ns->repl.scheduled;
  o->timeouts = ns->repl.timeouts;
  pthread_rwlock_unlock(&ns->lock);
}

void nn_ns_tick(nn_ns *ns) {
  pthread_rwlock_wrlock(&ns->lock);
  int64_t now = nn_mono_ms();
  nn_dnmgr_check_dead(&ns->dns, now, on_dead, ns);
  nn_decom_check(ns);
  if (ns->safemode_startup) {
    uint64_t total, safe;
    safe_block_count(ns, &total, &safe);
    /* As HDFS: a threshold above 1 keeps safe mode on for good (only a
     * manual leave ends it); otherwise the threshold is a block count. */
    bool reached = ns->cfg.safemode_threshold <= 1.0 &&
                   (total == 0 || (double)safe >= ns->cfg.safemode_threshold * (double)total);
    if (reached) {
      if (ns->safemode_reached_ms == 0) {
        ns->safemode_reached_ms = now;
        LOG_INFO("namenode", "safe mode: %" PRIu64 " of %" PRIu64
                 " complete blocks have their minimum replicas (threshold %.4f); "
                 "leaving in %lld ms", safe, total, ns->cfg.safemode_threshold,
                 (long long)ns->cfg.safemode_extension_ms);
      }
      if (now - ns->safemode_reached_ms >= ns->cfg.safemode_extension_ms) {
        ns->safemode_startup = false;
        LOG_INFO("namenode", "safe mode is OFF: %" PRIu64 " of %" PRIu64
                 " blocks reported, %zu live datanode(s)%s", safe, total,
                 nn_dnmgr_live(&ns->dns), ns->safemode_manual ? " (manual safe mode stays ON)" : "");
        nn_repl_rescan(ns); /* no-op while manual safe mode holds */
      }
    } else {
      if (ns->safemode_reached_ms != 0)
        LOG_INFO("namenode", "safe mode: reported blocks fell below the threshold (%" PRIu64
                 " of %" PRIu64 "); extension restarts", safe, total);
      ns->safemode_reached_ms = 0;
    }
  }
  pthread_rwlock_unlock(&ns->lock);
}

/* ---- replay ---- */

static int replay_err(const char *file, uint64_t off, const Nn__EditRecord *r,
                      const char *path, const char *why) {
  return dfs_err_set(DFS_ECORRUPT,
                     "edit log corrupt: %s: offset %" PRIu64 ": txid %" PRIu64
                     " (op %d on %s): %s",
                     file, off, r->txid, (int)r->op, path, why);
}

static bool blk_of(const Nn__BlockRec *b, struct nn_blk *o) {
  if (!b) return false;
  o->id = b->id;
  o->genstamp = b->genstamp;
  o->num_bytes = b->num_bytes;
  return true;
}

static int apply_record(void *arg, const Nn__EditRecord *r, const char *file,
                        uint64_t off) {
  nn_ns *ns = arg;
  char *path = NULL, *dst = NULL;
  int rc = 0;
  struct nn_res res, dres;
  if (!r->has_path || dfs_path_normalize(r->path.data, r->path.len, 1u << 20, &path) != 0)
    return replay_err(file, off, r, "?", "expected a valid path");
  if ((rc = nn_resolve(ns, NULL, "replay", path, &res)) != 0) {
    rc = replay_err(file, off, r, path, "a path component is not a directory");
    goto out;
  }
  nn_inode *t = res.target;
  int64_t mtime = (int64_t)r->mtime;
  switch (r->op) {
  case NN__EDIT_OP__OP_MKDIR:
    if (t || !res.parent)
      rc = replay_err(file, off, r, path, "expected a missing path under an existing directory");
    else if (!nn_do_mkdir(ns, res.parent, res.name, res.name_len, r->inode_id, r->perm,
                          r->owner, r->group, mtime))
      rc = DFS_ENOMEM;
    break;
  case NN__EDIT_OP__OP_ADD:
    if (t && (t->is_dir || !r->overwrite)) {
      rc = replay_err(file, off, r, path, "expected no directory and no file unless overwrite");
      break;
    }
    if (!res.parent) {
      rc = replay_err(file, off, r, path, "expected an existing parent directory");
      break;
    }
    if (t) nn_do_delete(ns, t, mtime);
    if (!nn_do_create(ns, res.parent, res.name, res.name_len, r->inode_id, r->perm, r->owner,
                      r->group, mtime, r->replication, r->blocksize, r->client_name,
                      r->client_machine))
      rc = DFS_ENOMEM;
    break;
  case NN__EDIT_OP__OP_ADD_BLOCK: {
    struct nn_blk prev = {0}, nb = {0};
    if (!t || t->is_dir || !t->u.file.uc || r->n_blocks < 1 || r->n_blocks > 2) {
      rc = replay_err(file, off, r, path, "expected an open file and 1 or 2 blocks");
      break;
    }
    blk_of(r->blocks[r->n_blocks - 1], &nb);
    bool hp = r->n_blocks == 2 && blk_of(r->blocks[0], &prev);
    if (nn_blockmap_get(&ns->bm, nb.id)) {
      rc = replay_err(file, off, r, path, "expected a new block id");
      break;
    }
    if (nb.id == 0 || !nn_do_add_block(ns, t, hp ? &prev : NULL, &nb))
      rc = replay_err(file, off, r, path, "expected a valid new block");
    break;
  }
  case NN__EDIT_OP__OP_ABANDON_BLOCK:
    if (!t || t->is_dir || r->n_blocks != 1 ||
        nn_do_abandon_block(ns, t, r->blocks[0]->id) != 0)
      rc = replay_err(file, off, r, path, "expected the file's last block");
    break;
  case NN__EDIT_OP__OP_CLOSE: {
    struct nn_blk last = {0};
    if (!t || t->is_dir || !t->u.file.uc) {
      rc = replay_err(file, off, r, path, "expected an open file");
      break;
    }
    bool hl = r->n_blocks == 1 && blk_of(r->blocks[0], &last);
    nn_do_close(ns, t, hl ? &last : NULL, mtime);
    break;
  }
  case NN__EDIT_OP__OP_RENAME: {
    if (!r->has_dst || dfs_path_normalize(r->dst.data, r->dst.len, 1u << 20, &dst) != 0 ||
        !t || !t->parent) {
      rc = replay_err(file, off, r, path, "expected an existing source and a valid dst");
      break;
    }
    if (dfs_path_is_under(dst, path) ||
        nn_resolve(ns, NULL, "replay", dst, &dres) != 0 || !dres.parent ||
        dres.target == t || (dres.target && !r->overwrite) ||
        (dres.target && (dres.target->is_dir != t->is_dir ||
                         (dres.target->is_dir && nn_dir_count(dres.target) > 0)))) {
      rc = replay_err(file, off, r, path, "expected a destination under an existing directory");
      break;
    }
    rc = nn_do_rename(ns, t, dres.parent, dres.name, dres.name_len, dres.target, mtime);
    if (rc) rc = replay_err(file, off, r, path, "rename failed");
    break;
  }
  case NN__EDIT_OP__OP_DELETE:
    if (!t || !t->parent)
      rc = replay_err(file, off, r, path, "expected an existing path (not the root)");
    else
      nn_do_delete(ns, t, mtime);
    break;
  case NN__EDIT_OP__OP_SET_PERMISSION:
    if (!t) rc = replay_err(file, off, r, path, "expected an existing path");
    else t->perm = (uint16_t)(r->perm & 07777);
    break;
  case NN__EDIT_OP__OP_SET_OWNER:
    if (!t) {
      rc = replay_err(file, off, r, path, "expected an existing path");
      break;
    }
    if (r->owner && *r->owner) t->owner = nn_intern_get(ns->strings, r->owner);
    if (r->group && *r->group) t->group = nn_intern_get(ns->strings, r->group);
    break;
  case NN__EDIT_OP__OP_SET_REPLICATION:
    if (!t || t->is_dir) rc = replay_err(file, off, r, path, "expected an existing file");
    else t->u.file.repl = (uint16_t)r->replication;
    break;
  case NN__EDIT_OP__OP_SET_TIMES:
    if (!t) {
      rc = replay_err(file, off, r, path, "expected an existing path");
      break;
    }
    if (r->has_mtime) t->mtime = (int64_t)r->mtime;
    if (r->has_atime) t->atime = (int64_t)r->atime;
    break;
  case NN__EDIT_OP__OP_SET_GENSTAMP:
    if (!r->has_genstamp) rc = replay_err(file, off, r, path, "expected a genstamp");
    else if (r->genstamp > ns->genstamp) ns->genstamp = r->genstamp;
    break;
  case NN__EDIT_OP__OP_RESERVE_IDS:
    if (t != ns->root || !r->has_genstamp || !r->has_block_id) {
      rc = replay_err(file, off, r, path, "expected a genstamp and a block id");
      break;
    }
    if (r->genstamp > ns->genstamp) ns->genstamp = r->genstamp;
    if (r->block_id > ns->next_block_id) ns->next_block_id = r->block_id;
    break;
  case NN__EDIT_OP__OP_UPDATE_BLOCK: {
    struct nn_blk nb = {0};
    uint32_t n = t && !t->is_dir ? t->u.file.nblocks : 0;
    if (!t || t->is_dir || !t->u.file.uc || r->n_blocks != 1 || n == 0 ||
        !blk_of(r->blocks[0], &nb) || t->u.file.blocks[n - 1]->id != nb.id) {
      rc = replay_err(file, off, r, path, "expected the last block of an open file");
      break;
    }
    struct nn_block *b = t->u.file.blocks[n - 1];
    b->genstamp = nb.genstamp;
    b->num_bytes = nb.num_bytes;
    if (nb.genstamp > ns->genstamp) ns->genstamp = nb.genstamp;
    break;
  }
  default:
    rc = replay_err(file, off, r, path, "expected a known op code");
  }
out:
  free(path);
  free(dst);
  return rc;
}

/* ---- life cycle ---- */

static int mkdir_p(const char *dir) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -errno;
  return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static const char *os_user(char *buf, size_t cap) {
  struct passwd pw, *res = NULL;
  char sbuf[4096];
  if (getpwuid_r(geteuid(), &pw, sbuf, sizeof sbuf, &res) == 0 && res)
    snprintf(buf, cap, "%s", res->pw_name);
  else
    snprintf(buf, cap, "uid%u", (unsigned)geteuid());
  return buf;
}

/* A fresh root as --format makes it. */
static nn_inode *fresh_root(nn_ns *ns) {
  nn_inode *root = nn_inode_new(NN_ROOT_INODE_ID, "", 0, true);
  if (!root) return NULL;
  root->perm = 0755;
  root->owner = nn_intern_get(ns->strings, ns->cfg.superuser);
  root->group = nn_intern_get(ns->strings, ns->cfg.supergroup);
  root->mtime = root->atime = nn_wall_ms();
  return root;
}

static int dir_has_storage(const char *dir) {
  /* any fsimage_ or edits_ file counts */
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0) continue; /* a crashed format */
    if (strncmp(e->d_name, "fsimage_", 8) == 0 || strncmp(e->d_name, "edits_", 6) == 0)
      found = 1;
  }
  closedir(d);
  return found;
}

/* One NameNode per name dir, as HDFS's in_use.lock: a second process on
 * the same directory would interleave two edit logs. */
static int lock_dir(const char *dir, int *fdout) {
  char path[4200];
  snprintf(path, sizeof path, "%s/in_use.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return dfs_err_set(-errno, "namenode: %s: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      return dfs_err_set(DFS_EAGAIN, "namenode: %s is in use by another NameNode (%s is locked)",
                         dir, path);
    return dfs_err_set(-e, "namenode: %s: %s", path, strerror(e));
  }
  *fdout = fd;
  return 0;
}

static void ns_free(nn_ns *ns) {
  if (!ns) return;
  if (ns->lock_fd >= 0) close(ns->lock_fd);
  nn_tree_free(ns->root);
  nn_repl_free(&ns->repl);
  nn_leases_free(&ns->leases);
  nn_blockmap_free(&ns->bm);
  nn_dnmgr_free(&ns->dns);
  nn_topology_free(ns->topo);
  nn_groups_free(ns);
  nn_intern_free(ns->strings);
  pthread_rwlock_destroy(&ns->lock);
  pthread_mutex_destroy(&ns->ckpt_mu);
  pthread_mutex_destroy(&ns->groups_mu);
  free(ns->s_name_dir);
  free(ns->s_superuser);
  free(ns->s_supergroup);
  free(ns->s_topology);
  free(ns->s_exclude);
  nn_hosts_free(ns->exclude, ns->nexclude);
  free(ns);
}

static int ns_alloc(const struct nn_config *cfg, nn_ns **out) {
  nn_ns *ns = calloc(1, sizeof *ns);
  if (!ns) return DFS_ENOMEM;
  ns->lock_fd = -1;
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* Writers must not starve under a flood of getFileInfo readers. */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&ns->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&ns->ckpt_mu, NULL);
  pthread_mutex_init(&ns->groups_mu, NULL);
  ns->cfg = *cfg;
  char ubuf[256];
  ns->s_name_dir = strdup(cfg->name_dir ? cfg->name_dir : "run/name");
  ns->s_superuser = strdup(cfg->superuser && *cfg->superuser ? cfg->superuser
                                                             : os_user(ubuf, sizeof ubuf));
  ns->s_supergroup = strdup(cfg->supergroup ? cfg->supergroup : "supergroup");
  ns->s_topology = dup_or_null(cfg->topology_file);
  ns->s_exclude = dup_or_null(cfg->hosts_exclude_file);
  ns->strings = nn_intern_new();
  nn_blockmap_init(&ns->bm);
  nn_repl_init(&ns->repl);
  nn_leases_init(&ns->leases);
  if (ns->cfg.lease_soft_ms <= 0) ns->cfg.lease_soft_ms = 60000;
  if (ns->cfg.lease_hard_ms <= 0) ns->cfg.lease_hard_ms = 3600000;
  if (ns->cfg.recovery_retry_ms <= 0) ns->cfg.recovery_retry_ms = 10000;
  if (ns->cfg.repl_max_streams == 0) ns->cfg.repl_max_streams = 2;
  if (ns->cfg.repl_pending_timeout_ms <= 0) ns->cfg.repl_pending_timeout_ms = 300000;
  ns->cfg.name_dir = ns->s_name_dir;
  ns->cfg.superuser = ns->s_superuser;
  ns->cfg.supergroup = ns->s_supergroup;
  ns->cfg.topology_file = ns->s_topology;
  ns->cfg.hosts_exclude_file = ns->s_exclude;
  if (ns->cfg.min_replication == 0) ns->cfg.min_replication = 1;
  if (ns->cfg.ls_limit == 0) ns->cfg.ls_limit = 1000;
  if (!ns->s_name_dir || !ns->s_superuser || !ns->s_supergroup || !ns->strings ||
      (cfg->topology_file && !ns->s_topology)) {
    ns_free(ns);
    return DFS_ENOMEM;
  }
  int rc = nn_topology_load(ns->s_topology, &ns->topo);
  if (rc == 0) rc = nn_hosts_load(ns->s_exclude, &ns->exclude, &ns->nexclude);
  if (rc) {
    ns_free(ns);
    return rc;
  }
  nn_dnmgr_init(&ns->dns, ns->topo, ns->strings,
                2 * ns->cfg.recheck_interval_ms + 10 * ns->cfg.heartbeat_interval_ms);
  ns->last_inode_id = NN_ROOT_INODE_ID;
  ns->next_block_id = NN_FIRST_BLOCK_ID;
  ns->genstamp = NN_FIRST_GENSTAMP - 1;
  *out = ns;
  return 0;
}

static struct nn_image_counters counters(nn_ns *ns, uint64_t txid) {
  struct nn_image_counters c = {.txid = txid,
                                .last_inode_id = ns->last_inode_id,
                                .next_block_id = ns->next_block_id,
                                .genstamp = ns->genstamp};
  return c;
}

int nn_ns_format(const struct nn_config *cfg) {
  nn_ns *ns = NULL;
  int rc = mkdir_p(cfg->name_dir);
  if (rc) return dfs_err_set(rc, "format: %s: %s", cfg->name_dir, strerror(-rc));
  if (dir_has_storage(cfg->name_dir))
    return dfs_err_set(DFS_EEXIST, "format: %s: already holds an image or edits",
                       cfg->name_dir);
  struct nn_config c2 = *cfg;
  c2.topology_file = NULL;
  if ((rc = ns_alloc(&c2, &ns)) != 0) return rc;
  if ((rc = lock_dir(ns->cfg.name_dir, &ns->lock_fd)) != 0) {
    ns_free(ns);
    return rc;
  }
  ns->root = fresh_root(ns);
  if (!ns->root) {
    ns_free(ns);
    return DFS_ENOMEM;
  }
  ns->ndirs = 1;
  struct nn_image_counters c = counters(ns, 0);
  rc = nn_fsimage_save(ns->cfg.name_dir, ns->root, &c);
  if (rc == 0)
    LOG_INFO("namenode", "formatted %s (root owned by %s:%s)", ns->cfg.name_dir,
             ns->cfg.superuser, ns->cfg.supergroup);
  ns_free(ns);
  return rc;
}

static int count_cb(nn_inode *c, void *arg) {
  nn_ns *ns = arg;
  if (c->is_dir) {
    ns->ndirs++;
    nn_dir_walk(c, NULL, 0, count_cb, ns);
  } else {
    ns->nfiles++;
  }
  return 0;
}

int nn_ns_open(const struct nn_config *cfg, nn_ns **out) {
  nn_ns *ns = NULL;
  int rc = mkdir_p(cfg->name_dir);
  if (rc) return dfs_err_set(rc, "namenode: %s: %s", cfg->name_dir, strerror(-rc));
  if (!dir_has_storage(cfg->name_dir)) {
    LOG_INFO("namenode", "%s holds no image: formatting it", cfg->name_dir);
    if ((rc = nn_ns_format(cfg)) != 0) return rc;
  }
  if ((rc = ns_alloc(cfg, &ns)) != 0) return rc;
  if ((rc = lock_dir(ns->cfg.name_dir, &ns->lock_fd)) != 0) goto fail;
  struct nn_image_counters c;
  rc = nn_fsimage_load(ns->cfg.name_dir, ns->strings, &ns->bm, &ns->root, &c);
  if (rc) {
    if (rc == DFS_ENOENT)
      rc = dfs_err_set(DFS_ECORRUPT, "namenode: %s: edit segments but no image; refusing "
                       "to start", ns->cfg.name_dir);
    goto fail;
  }
  ns->last_inode_id = c.last_inode_id;
  ns->next_block_id = c.next_block_id;
  ns->genstamp = c.genstamp;
  ns->ndirs = 1;
  nn_dir_walk(ns->root, NULL, 0, count_cb, ns);
  uint64_t last = c.txid;
  ns->replaying = true;
  rc = nn_editlog_replay(ns->cfg.name_dir, c.txid, apply_record, ns, &last);
  ns->replaying = false;
  if (rc) goto fail;
  ns->ckpt_txid = c.txid;
  rc = nn_editlog_open(ns->cfg.name_dir, last + 1, &ns->log);
  if (rc) goto fail;
  /* (a namespace without edits has handed nothing out) */
  if (last > 0 && (rc = reserve_ids(ns)) != 0) goto fail;
  if (nn_blockmap_count(&ns->bm) > 0 && ns->cfg.safemode_threshold > 0)
    ns->safemode_startup = true;
  LOG_INFO("namenode",
           "loaded image txid %" PRIu64 " + %" PRIu64 " edits: %" PRIu64 " dirs, %" PRIu64
           " files, %zu blocks%s",
           c.txid, last - c.txid, ns->ndirs, ns->nfiles, nn_blockmap_count(&ns->bm),
           ns->safemode_startup ? "; in safe mode until blocks are reported" : "");
  *out = ns;
  return 0;
fail:
  ns_free(ns);
  return rc;
}

int nn_ns_open_memory(const struct nn_config *cfg, nn_ns **out) {
  nn_ns *ns = NULL;
  struct nn_config c2 = *cfg;
  c2.topology_file = NULL;
  int rc = ns_alloc(&c2, &ns);
  if (rc) return rc;
  ns->root = fresh_root(ns);
  if (!ns->root) {
    ns_free(ns);
    return DFS_ENOMEM;
  }
  ns->ndirs = 1;
  *out = ns;
  return 0;
}

static int apply_any(void *arg, const Nn__EditRecord *r, const char *file, uint64_t off) {
  int rc = apply_record(arg, r, file, off);
  return rc == DFS_ECORRUPT ? 0 : rc; /* go on after a bad record */
}

int nn_ns_replay_buf(nn_ns *ns, const uint8_t *buf, size_t len) {
  struct nn_edit_scan res;
  pthread_rwlock_wrlock(&ns->lock);
  ns->replaying = true;
  int rc = nn_editlog_scan(buf, len, "memory", apply_any, ns, &res);
  ns->replaying = false;
  pthread_rwlock_unlock(&ns->lock);
  return rc;
}

void nn_ns_set_fatal(nn_ns *ns, void (*fn)(void *arg, int rc, const char *msg), void *arg) {
  ns->fatal = fn;
  ns->fatal_arg = arg;
  nn_editlog_set_fatal(ns->log, fn, arg);
}

void nn_ns_set_sync_hook(nn_ns *ns, void (*fn)(void *arg), void *arg) {
  nn_editlog_set_sync_hook(ns->log, fn, arg);
}

uint64_t nn_ns_txns_since_checkpoint(nn_ns *ns) {
  pthread_mutex_lock(&ns->ckpt_mu);
  uint64_t ck = ns->ckpt_txid;
  pthread_mutex_unlock(&ns->ckpt_mu);
  uint64_t last = nn_editlog_last_txid(ns->log);
  return last > ck ? last - ck : 0;
}

int nn_ns_checkpoint(nn_ns *ns) {
  pthread_mutex_lock(&ns->ckpt_mu);
  /* The read lock keeps every change out (changes hold the write lock)
   * while the log rolls and the image is written. */
  pthread_rwlock_rdlock(&ns->lock);
  uint64_t last = 0;
  int rc = nn_editlog_roll(ns->log, &last);
  if (rc == 0) {
    struct nn_image_counters c = counters(ns, last);
    if (last == ns->ckpt_txid) {
      pthread_rwlock_unlock(&ns->lock);
      pthread_mutex_unlock(&ns->ckpt_mu);
      return 0; /* nothing new since the last image */
    }
    rc = nn_fsimage_save(ns->cfg.name_dir, ns->root, &c);
  }
  pthread_rwlock_unlock(&ns->lock);
  if (rc == 0) {
    ns->ckpt_txid = last;
    uint64_t oldest = nn_fsimage_purge(ns->cfg.name_dir);
    if (oldest) nn_editlog_purge(ns->cfg.name_dir, oldest);
    LOG_INFO("namenode", "checkpoint: image at txid %" PRIu64, last);
  } else {
    LOG_ERROR("namenode", "checkpoint failed: %s", dfs_err_msg());
  }
  pthread_mutex_unlock(&ns->ckpt_mu);
  return rc;
}

void nn_ns_close(nn_ns *ns, bool checkpoint) {
  if (!ns) return;
  if (checkpoint && ns->log) nn_ns_checkpoint(ns);
  if (ns->log) nn_editlog_close(ns->log);
  ns->log = NULL;
  ns_free(ns);
}
