/*
 * ns_client.c - namespace operations of the client protocol: mkdirs,
 * create, getFileInfo, getListing, rename, delete, setPermission,
 * setOwner, setReplication, setTimes, getContentSummary, and the small
 * administrative calls.
 *
 * Each changing operation follows one pattern: normalize the path (no
 * lock), take the write lock, resolve and check (existence, permissions,
 * safe mode), build the edit record, apply it through the shared mutator,
 * append the record, release the lock, wait for the group commit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "namesystem_int.h"
#include "path.h"

#define REC_PATH(rec, p)                   \
  do {                                     \
    (rec).has_path = true;                 \
    (rec).path.data = (uint8_t *)(p);      \
    (rec).path.len = strlen(p);            \
  } while (0)

/* Prefix of path up to the component at offset `at` (exclusive). */
static void prefix_of(const char *path, size_t at, char *buf, size_t cap) {
  size_t n = at > 1 ? at - 1 : 1;
  if (n >= cap) n = cap - 1;
  memcpy(buf, path, n);
  buf[n] = '\0';
}

/*
 * Create the missing directories of path from r->deepest on, the last one
 * with `perm`, intermediate ones with perm | 0300 (u+wx, as HDFS). Logs one
 * OP_MKDIR each. When `upto_parent`, the last component is left out (create
 * with create_parent). Returns the deepest directory created or found.
 */
static int make_dirs(nn_ns *ns, struct nn_pc *pc, const char *op, const char *path,
                     const struct nn_res *r, uint32_t perm, bool upto_parent,
                     int64_t now, nn_inode **outdir, uint64_t *txid) {
  nn_inode *dir = r->deepest;
  size_t pos = r->missing_at;
  for (;;) {
    const char *start = path + pos;
    const char *slash = strchr(start, '/');
    size_t len = slash ? (size_t)(slash - start) : strlen(start);
    bool last = slash == NULL;
    if (last && upto_parent) break;
    if (nn_dir_count(dir) >= pc->ns->cfg.max_dir_items) {
      char d[1024];
      nn_inode_path(dir, d, sizeof d);
      return dfs_err_set(DFS_ENOSPC,
                         "%s: %s: The directory item limit of %s is exceeded: limit=%u",
                         op, path, d, ns->cfg.max_dir_items);
    }
    char sub[DFS_PATH_MAX + 1];
    size_t sl = (size_t)(start - path) + len;
    memcpy(sub, path, sl);
    sub[sl] = '\0';
    Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
    rec.op = NN__EDIT_OP__OP_MKDIR;
    REC_PATH(rec, sub);
    rec.has_inode_id = rec.has_perm = rec.has_mtime = true;
    rec.inode_id = ns->last_inode_id + 1;
    rec.perm = last ? (perm & 07777) : ((perm | 0300) & 07777);
    rec.owner = (char *)pc->user;
    rec.group = (char *)dir->group;
    rec.mtime = (uint64_t)now;
    nn_inode *n = nn_do_mkdir(ns, dir, start, len, rec.inode_id, rec.perm, rec.owner,
                              rec.group, now);
    if (!n) return dfs_err_set(DFS_ENOMEM, "%s: %s: out of memory", op, path);
    int rc = nn_log(ns, &rec, txid);
    if (rc) return rc;
    dir = n;
    if (last) break;
    pos = (size_t)(slash - path) + 1;
  }
  *outdir = dir;
  return 0;
}

int nn_ns_mkdirs(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                 uint32_t perm, bool create_parent) {
  static const char op[] = "mkdirs";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  if (r.target) {
    if (!r.target->is_dir)
      rc = dfs_err_set(DFS_EEXIST, "%s: %s: Path is not a directory", op, path);
    goto out;
  }
  if (!r.parent && !create_parent) {
    char pre[DFS_PATH_MAX + 1];
    const char *sl = strrchr(path, '/');
    prefix_of(path, (size_t)(sl - path) + 1, pre, sizeof pre);
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: Parent directory doesn't exist: %s", op, path, pre);
    goto out;
  }
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  if ((rc = nn_pc_check(&pc, op, r.deepest, NN_W | NN_X)) != 0) goto out;
  nn_inode *d;
  rc = make_dirs(ns, &pc, op, path, &r, perm, false, nn_wall_ms(), &d, &txid);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_create(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                 uint32_t perm, bool overwrite, bool create_parent, uint32_t repl,
                 uint64_t blocksize, struct nn_status *out) {
  static const char op[] = "create";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  const char *client = c && c->client_name ? c->client_name : "";
  if (!*client) {
    free(path);
    return dfs_err_set(DFS_EINVAL, "%s: %s: no client name (lease holder) given", op, path);
  }
  if (repl == 0) repl = ns->cfg.default_replication;
  if (blocksize == 0) blocksize = ns->cfg.default_blocksize;
  if (repl > ns->cfg.max_replication) {
    rc = dfs_err_set(DFS_EINVAL, "%s: %s: Requested replication %u exceeds maximum %u", op,
                     path, repl, ns->cfg.max_replication);
    free(path);
    return rc;
  }
  if (blocksize < ns->cfg.min_blocksize || blocksize % ns->cfg.bytes_per_checksum != 0) {
    rc = dfs_err_set(DFS_EINVAL,
                     "%s: %s: Invalid block size %" PRIu64 ": must be at least %" PRIu64
                     " (dfs.namenode.fs-limits.min-block-size) and a multiple of %u",
                     op, path, blocksize, ns->cfg.min_blocksize, ns->cfg.bytes_per_checksum);
    free(path);
    return rc;
  }
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  nn_inode *t = r.target;
  if (t && t->is_dir) {
    rc = dfs_err_set(DFS_EISDIR, "%s: %s: Is a directory", op, path);
    goto out;
  }
  if (t && t->u.file.uc) {
    /* Past the soft limit of the holder's lease another client may take
     * the file over: recover it now (HDFS's recoverLeaseInternal). If that
     * closes it at once, the create goes on against the closed file. */
    struct nn_lease *l = nn_lease_find(&ns->leases, t->u.file.uc->client_name);
    int64_t idle = l ? nn_mono_ms() - l->last_renew_ms : 0;
    bool mine = strcmp(t->u.file.uc->client_name, client) == 0;
    if (!mine && l && idle > ns->cfg.lease_soft_ms && !nn_in_safemode(ns)) {
      bool closed = false;
      char holder[256];
      snprintf(holder, sizeof holder, "%s", t->u.file.uc->client_name);
      LOG_INFO("namenode", "%s: %s: lease of %s is past its soft limit (%lld ms idle); "
               "recovering it for %s", op, path, holder, (long long)idle, client);
      if ((rc = nn_recover_file(ns, t, path, op, &closed, &txid)) != 0) goto out;
      if (!closed) {
        rc = dfs_err_set(DFS_ELEASE, "%s: %s: Failed to create %s for %s because lease recovery "
                         "is in progress (holder %s). Try again later.", op, path, path, client,
                         holder);
        goto out;
      }
    } else {
      rc = dfs_err_set(DFS_ELEASE, "%s: %s: File is being written by another client (%s)", op,
                       path, t->u.file.uc->client_name);
      goto out;
    }
  }
  if (t && !overwrite) {
    rc = dfs_err_set(DFS_EEXIST, "%s: %s: File exists", op, path);
    goto out;
  }
  if (!t && !r.parent && !create_parent) {
    char pre[DFS_PATH_MAX + 1];
    const char *sl = strrchr(path, '/');
    prefix_of(path, (size_t)(sl - path) + 1, pre, sizeof pre);
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: Parent directory doesn't exist: %s", op, path, pre);
    goto out;
  }
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  nn_inode *parent = t ? t->parent : r.parent ? r.parent : r.deepest;
  if ((rc = nn_pc_check(&pc, op, parent, NN_W | NN_X)) != 0) goto out;
  int64_t now = nn_wall_ms();
  if (!t && !r.parent) {
    /* create_parent: parents get the default directory mode 0755 */
    if ((rc = make_dirs(ns, &pc, op, path, &r, 0755, true, now, &parent, &txid)) != 0) goto out;
  }
  if (!t && nn_dir_count(parent) >= ns->cfg.max_dir_items) {
    rc = dfs_err_set(DFS_ENOSPC, "%s: %s: The directory item limit is exceeded: limit=%u", op,
                     path, ns->cfg.max_dir_items);
    goto out;
  }
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_ADD;
  REC_PATH(rec, path);
  rec.has_inode_id = rec.has_perm = rec.has_mtime = rec.has_replication = true;
  rec.has_blocksize = rec.has_overwrite = true;
  rec.inode_id = ns->last_inode_id + 1;
  rec.perm = perm & 07777;
  rec.owner = (char *)pc.user;
  rec.group = (char *)parent->group;
  rec.mtime = (uint64_t)now;
  rec.replication = repl;
  rec.blocksize = blocksize;
  rec.client_name = (char *)client;
  rec.client_machine = (char *)(c && c->ip ? c->ip : "");
  rec.overwrite = t != NULL;
  if (t) nn_do_delete(ns, t, now);
  const char *name = strrchr(path, '/') + 1;
  nn_inode *f = nn_do_create(ns, parent, name, strlen(name), rec.inode_id, rec.perm,
                             rec.owner, rec.group, now, repl, blocksize, client,
                             rec.client_machine);
  if (!f) {
    rc = dfs_err_set(DFS_ENOMEM, "%s: %s: out of memory", op, path);
    goto out;
  }
  if ((rc = nn_log(ns, &rec, &txid)) != 0) goto out;
  if (out) nn_fill_status(f, out);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_get_file_info(nn_ns *ns, const struct nn_caller *c, const uint8_t *p,
                        size_t plen, struct nn_status *out) {
  static const char op[] = "getFileInfo";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_rdlock(&ns->lock);
  rc = nn_resolve(ns, &pc, op, path, &r);
  if (rc == 0 && !r.target)
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist", op, path);
  if (rc == 0) nn_fill_status(r.target, out);
  pthread_rwlock_unlock(&ns->lock);
  if (rc == 0) {
    out->name = NULL; /* the caller knows the path; inode names may move */
    out->name_len = 0;
  }
  free(path);
  return rc;
}

void nn_listing_free(struct nn_listing *l) {
  if (!l) return;
  free(l->entries);
  free(l->names);
  memset(l, 0, sizeof *l);
}

struct list_ctx {
  struct nn_listing *l;
  size_t limit;
  size_t names_len, names_cap;
  int rc;
};

static int list_cb(nn_inode *child, void *arg) {
  struct list_ctx *x = arg;
  if (x->l->n >= x->limit) return 1;
  if (x->names_len + child->name_len + 1 > x->names_cap) {
    size_t nc = x->names_cap ? x->names_cap * 2 : 4096;
    while (nc < x->names_len + child->name_len + 1) nc *= 2;
    char *nn = realloc(x->l->names, nc);
    if (!nn) return x->rc = DFS_ENOMEM;
    x->l->names = nn;
    x->names_cap = nc;
  }
  struct nn_status *s = &x->l->entries[x->l->n++];
  nn_fill_status(child, s);
  memcpy(x->l->names + x->names_len, child->name, child->name_len + 1);
  s->name = (const char *)(uintptr_t)x->names_len; /* offset until the end */
  x->names_len += child->name_len + 1;
  return 0;
}

int nn_ns_get_listing(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                      const uint8_t *start_after, size_t start_len, struct nn_listing *out) {
  static const char op[] = "getListing";
  char *path = NULL;
  memset(out, 0, sizeof *out);
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_rdlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  if (!r.target) {
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist", op, path);
    goto out;
  }
  if (!r.target->is_dir) {
    out->is_file = true;
    nn_fill_status(r.target, &out->self);
    out->self.name = NULL;
    out->self.name_len = 0;
    goto out;
  }
  if ((rc = nn_pc_check(&pc, op, r.target, NN_R | NN_X)) != 0) goto out;
  size_t total = nn_dir_count(r.target);
  size_t before = start_len ? nn_dir_rank(r.target, (const char *)start_after, start_len) : 0;
  size_t avail = total - before;
  size_t limit = avail < ns->cfg.ls_limit ? avail : ns->cfg.ls_limit;
  out->entries = calloc(limit ? limit : 1, sizeof *out->entries);
  if (!out->entries) {
    rc = DFS_ENOMEM;
    goto out;
  }
  struct list_ctx x = {.l = out, .limit = limit};
  nn_dir_walk(r.target, start_len ? (const char *)start_after : NULL, start_len, list_cb, &x);
  if (x.rc) {
    rc = x.rc;
    goto out;
  }
  for (size_t i = 0; i < out->n; i++) {
    size_t off = (size_t)(uintptr_t)out->entries[i].name;
    out->entries[i].name = out->names + off;
  }
  out->remaining = (uint32_t)(avail - out->n);
out:
  pthread_rwlock_unlock(&ns->lock);
  if (rc) nn_listing_free(out);
  free(path);
  return rc;
}

/* rwx on every directory of a subtree (HDFS subAccess ALL for delete). */
static int check_subtree(struct nn_pc *pc, const char *op, nn_inode *n) {
  if (pc->off || !n->is_dir || nn_dir_count(n) == 0 || nn_pc_is_super(pc)) return 0;
  nn_inode **v;
  size_t k;
  int rc = nn_subtree_collect(n, &v, &k);
  if (rc) return dfs_err_set(rc, "%s: out of memory", op);
  for (size_t i = 0; i < k && rc == 0; i++)
    if (v[i]->is_dir) rc = nn_pc_check(pc, op, v[i], NN_R | NN_W | NN_X);
  free(v);
  return rc;
}

int nn_ns_delete(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                 bool recursive, bool *result) {
  static const char op[] = "delete";
  char *path = NULL;
  *result = false;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  nn_inode *t = r.target;
  if (!t) goto out; /* false: did not exist */
  if (!t->parent) {
    rc = dfs_err_set(DFS_EPERM, "%s: %s: Cannot delete the root directory", op, path);
    goto out;
  }
  if (t->is_dir && !recursive && nn_dir_count(t) > 0) {
    rc = dfs_err_set(DFS_ENOTEMPTY, "%s: %s: Directory is not empty", op, path);
    goto out;
  }
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  if ((rc = nn_pc_check(&pc, op, t->parent, NN_W | NN_X)) != 0) goto out;
  if ((rc = check_subtree(&pc, op, t)) != 0) goto out;
  int64_t now = nn_wall_ms();
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_DELETE;
  REC_PATH(rec, path);
  rec.has_mtime = true;
  rec.mtime = (uint64_t)now;
  nn_do_delete(ns, t, now);
  if ((rc = nn_log(ns, &rec, &txid)) != 0) goto out;
  *result = true;
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_rename(nn_ns *ns, const struct nn_caller *c, const uint8_t *s, size_t slen,
                 const uint8_t *d, size_t dlen, bool overwrite, bool *result) {
  static const char op[] = "rename";
  char *src = NULL, *dst = NULL;
  *result = false;
  int rc = nn_norm(ns, op, s, slen, &src);
  if (rc) return rc;
  if ((rc = nn_norm(ns, op, d, dlen, &dst)) != 0) {
    free(src);
    return rc;
  }
  struct nn_pc pc;
  struct nn_res rs, rd;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, src, &rs)) != 0) goto out;
  if (!rs.target) {
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist", op, src);
    goto out;
  }
  if (!rs.target->parent) {
    rc = dfs_err_set(DFS_EINVAL, "%s: %s: Cannot rename the root directory", op, src);
    goto out;
  }
  if (strcmp(src, dst) == 0) { /* nothing to do, as HDFS's rename of a path onto itself */
    *result = true;
    goto out;
  }
  if (dfs_path_is_under(dst, src)) {
    rc = dfs_err_set(DFS_EINVAL, "%s: %s to %s: Cannot move a directory under itself", op,
                     src, dst);
    goto out;
  }
  if ((rc = nn_resolve(ns, &pc, op, dst, &rd)) != 0) goto out;
  if (!rd.target && !rd.parent) {
    char pre[DFS_PATH_MAX + 1];
    const char *sl = strrchr(dst, '/');
    prefix_of(dst, (size_t)(sl - dst) + 1, pre, sizeof pre);
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: Parent directory doesn't exist: %s", op, dst, pre);
    goto out;
  }
  nn_inode *victim = rd.target;
  if (victim) {
    if (!overwrite) {
      rc = dfs_err_set(DFS_EEXIST, "%s: %s: File exists", op, dst);
      goto out;
    }
    if (victim->is_dir != rs.target->is_dir) {
      rc = dfs_err_set(victim->is_dir ? DFS_EISDIR : DFS_ENOTDIR,
                       "%s: %s to %s: Source and destination must both be %s", op, src, dst,
                       rs.target->is_dir ? "directories" : "files");
      goto out;
    }
    if (victim->is_dir && nn_dir_count(victim) > 0) {
      rc = dfs_err_set(DFS_ENOTEMPTY, "%s: %s: Directory is not empty", op, dst);
      goto out;
    }
    if (!victim->is_dir && victim->u.file.uc) {
      rc = dfs_err_set(DFS_ELEASE, "%s: %s: File is being written by another client (%s)", op,
                       dst, victim->u.file.uc->client_name);
      goto out;
    }
  }
  if ((rc = nn_safemode_check(ns, op, src)) != 0) goto out;
  nn_inode *dparent = victim ? victim->parent : rd.parent;
  if ((rc = nn_pc_check(&pc, op, rs.target->parent, NN_W | NN_X)) != 0) goto out;
  if ((rc = nn_pc_check(&pc, op, dparent, NN_W | NN_X)) != 0) goto out;
  if (!victim && nn_dir_count(dparent) >= ns->cfg.max_dir_items) {
    rc = dfs_err_set(DFS_ENOSPC, "%s: %s: The directory item limit is exceeded: limit=%u", op,
                     dst, ns->cfg.max_dir_items);
    goto out;
  }
  int64_t now = nn_wall_ms();
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_RENAME;
  REC_PATH(rec, src);
  rec.has_dst = rec.has_mtime = rec.has_overwrite = true;
  rec.dst.data = (uint8_t *)dst;
  rec.dst.len = strlen(dst);
  rec.mtime = (uint64_t)now;
  rec.overwrite = victim != NULL;
  const char *name = strrchr(dst, '/') + 1;
  rc = nn_do_rename(ns, rs.target, dparent, name, strlen(name), victim, now);
  if (rc) {
    rc = dfs_err_set(rc, "%s: %s to %s: %s", op, src, dst, dfs_strerror(rc));
    goto out;
  }
  if ((rc = nn_log(ns, &rec, &txid)) != 0) goto out;
  *result = true;
out:
  {
    int src_rc = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src_rc;
  }
  free(src);
  free(dst);
  return rc;
}

/* Resolve an existing path for a setter under the write lock. */
static int setter_begin(nn_ns *ns, struct nn_pc *pc, const char *op, const char *path,
                        nn_inode **t) {
  struct nn_res r;
  int rc = nn_resolve(ns, pc, op, path, &r);
  if (rc) return rc;
  if (!r.target) return dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist", op, path);
  if ((rc = nn_safemode_check(ns, op, path)) != 0) return rc;
  *t = r.target;
  return 0;
}

static int owner_or_super(struct nn_pc *pc, const char *op, const char *path, nn_inode *t) {
  if (pc->off || strcmp(pc->user, t->owner) == 0 || nn_pc_is_super(pc)) return 0;
  return dfs_err_set(DFS_EACCES, "%s: %s: Permission denied. user=%s is not the owner of inode=%s",
                     op, path, pc->user, path);
}

int nn_ns_set_permission(nn_ns *ns, const struct nn_caller *c, const uint8_t *p,
                         size_t plen, uint32_t perm) {
  static const char op[] = "setPermission";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  nn_inode *t = NULL;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = setter_begin(ns, &pc, op, path, &t)) != 0) goto out;
  if ((rc = owner_or_super(&pc, op, path, t)) != 0) goto out;
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_SET_PERMISSION;
  REC_PATH(rec, path);
  rec.has_perm = true;
  rec.perm = perm & 07777;
  t->perm = (uint16_t)rec.perm;
  rc = nn_log(ns, &rec, &txid);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_set_owner(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                    const char *owner, const char *group) {
  static const char op[] = "setOwner";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  if (owner && !*owner) owner = NULL;
  if (group && !*group) group = NULL;
  struct nn_pc pc;
  nn_inode *t = NULL;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = setter_begin(ns, &pc, op, path, &t)) != 0) goto out;
  if (!pc.off && !nn_pc_is_super(&pc)) {
    if (strcmp(pc.user, t->owner) != 0) {
      rc = dfs_err_set(DFS_EACCES, "%s: %s: Permission denied. user=%s is not the owner of inode=%s",
                       op, path, pc.user, path);
      goto out;
    }
    if (owner && strcmp(owner, t->owner) != 0) {
      rc = dfs_err_set(DFS_EACCES, "%s: %s: Non-super user cannot change owner", op, path);
      goto out;
    }
    if (group && !nn_pc_in_group(&pc, group)) {
      rc = dfs_err_set(DFS_EACCES, "%s: %s: User %s does not belong to %s", op, path, pc.user,
                       group);
      goto out;
    }
  }
  if (!owner && !group) goto out;
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_SET_OWNER;
  REC_PATH(rec, path);
  rec.owner = (char *)owner;
  rec.group = (char *)group;
  const char *io = owner ? nn_intern_get(ns->strings, owner) : t->owner;
  const char *ig = group ? nn_intern_get(ns->strings, group) : t->group;
  if (!io || !ig) {
    rc = DFS_ENOMEM;
    goto out;
  }
  t->owner = io;
  t->group = ig;
  rc = nn_log(ns, &rec, &txid);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_set_replication(nn_ns *ns, const struct nn_caller *c, const uint8_t *p,
                          size_t plen, uint32_t repl, bool *result) {
  static const char op[] = "setReplication";
  char *path = NULL;
  *result = false;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  nn_inode *t = NULL;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  if (repl < 1 || repl > ns->cfg.max_replication) {
    rc = dfs_err_set(DFS_EINVAL, "%s: %s: Requested replication %u is out of 1..%u", op, path,
                     repl, ns->cfg.max_replication);
    free(path);
    return rc;
  }
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = setter_begin(ns, &pc, op, path, &t)) != 0) goto out;
  if (t->is_dir) goto out; /* false, as HDFS for a directory */
  if ((rc = nn_pc_check(&pc, op, t, NN_W)) != 0) goto out;
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_SET_REPLICATION;
  REC_PATH(rec, path);
  rec.has_replication = true;
  rec.replication = repl;
  t->u.file.repl = (uint16_t)repl;
  rc = nn_log(ns, &rec, &txid);
  *result = rc == 0;
  if (rc == 0) nn_repl_check_file(ns, t); /* more copies, or fewer */
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_set_times(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                    int64_t mtime, int64_t atime) {
  static const char op[] = "setTimes";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  nn_inode *t = NULL;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = setter_begin(ns, &pc, op, path, &t)) != 0) goto out;
  if ((rc = nn_pc_check(&pc, op, t, NN_W)) != 0) goto out;
  if (mtime < 0 && atime < 0) goto out;
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  rec.op = NN__EDIT_OP__OP_SET_TIMES;
  REC_PATH(rec, path);
  if (mtime >= 0) {
    rec.has_mtime = true;
    rec.mtime = (uint64_t)mtime;
    t->mtime = mtime;
  }
  if (atime >= 0) {
    rec.has_atime = true;
    rec.atime = (uint64_t)atime;
    t->atime = atime;
  }
  rc = nn_log(ns, &rec, &txid);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

static int summarize(nn_inode *root, struct nn_content_summary *s) {
  nn_inode **v;
  size_t k;
  int rc = nn_subtree_collect(root, &v, &k);
  if (rc) return dfs_err_set(rc, "getContentSummary: out of memory");
  for (size_t i = 0; i < k; i++) {
    nn_inode *n = v[i];
    if (n->is_dir) {
      s->directory_count++;
    } else {
      uint64_t len = nn_file_length(n);
      s->file_count++;
      s->length += len;
      s->space_consumed += len * n->u.file.repl;
    }
  }
  free(v);
  return 0;
}

int nn_ns_content_summary(nn_ns *ns, const struct nn_caller *c, const uint8_t *p,
                          size_t plen, struct nn_content_summary *out) {
  static const char op[] = "getContentSummary";
  char *path = NULL;
  memset(out, 0, sizeof *out);
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_rdlock(&ns->lock);
  rc = nn_resolve(ns, &pc, op, path, &r);
  if (rc == 0 && !r.target)
    rc = dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist", op, path);
  if (rc == 0 && r.target->is_dir) rc = nn_pc_check(&pc, op, r.target, NN_R | NN_X);
  if (rc == 0) rc = summarize(r.target, out);
  pthread_rwlock_unlock(&ns->lock);
  free(path);
  return rc;
}

int nn_ns_renew_lease(nn_ns *ns, const struct nn_caller *c, const char *client_name) {
  const char *holder = client_name && *client_name ? client_name : c ? c->client_name : NULL;
  if (!holder || !*holder) return 0;
  pthread_rwlock_wrlock(&ns->lock);
  /* a holder without open files has no lease: nothing to renew (HDFS
   * answers such a renewal without complaint too) */
  nn_lease_renew(&ns->leases, holder, nn_mono_ms());
  pthread_rwlock_unlock(&ns->lock);
  return 0;
}

int nn_ns_safe_mode(nn_ns *ns, const struct nn_caller *c, int action, bool *in) {
  struct nn_pc pc;
  nn_pc_init(&pc, ns, c);
  if (action == 2 || action == 3) {
    if (!nn_pc_is_super(&pc))
      return dfs_err_set(DFS_EACCES, "setSafeMode: Access denied for user %s. Superuser "
                         "privilege is required", pc.user);
    pthread_rwlock_wrlock(&ns->lock);
    if (action == 2) {
      ns->safemode_manual = true;
    } else {
      ns->safemode_manual = false;
      ns->safemode_startup = false;
    }
    LOG_INFO("namenode", "safe mode is %s (by %s)", action == 2 ? "ON" : "OFF", pc.user);
    if (action == 3) nn_repl_rescan(ns); /* work held back meanwhile */
  } else if (action == 1) {
    pthread_rwlock_rdlock(&ns->lock);
  } else {
    return dfs_err_set(DFS_EINVAL, "setSafeMode: unknown action %d", action);
  }
  *in = nn_in_safemode(ns);
  pthread_rwlock_unlock(&ns->lock);
  return 0;
}

int nn_ns_datanode_report(nn_ns *ns, int type, struct nn_dn_info **out, size_t *n) {
  pthread_rwlock_rdlock(&ns->lock);
  size_t k = 0;
  struct nn_dn_info *v = calloc(ns->dns.n ? ns->dns.n : 1, sizeof *v);
  if (!v) {
    pthread_rwlock_unlock(&ns->lock);
    return DFS_ENOMEM;
  }
  int64_t now = nn_mono_ms();
  for (size_t i = 0; i < ns->dns.n; i++) {
    const struct nn_datanode *dn = ns->dns.dns[i];
    if ((type == 2 && dn->dead) || (type == 3 && !dn->dead)) continue;
    nn_fill_dn_info(dn, now, &v[k++]);
  }
  pthread_rwlock_unlock(&ns->lock);
  *out = v;
  *n = k;
  return 0;
}

int nn_ns_fs_stats(nn_ns *ns, struct nn_fs_stats *o) {
  memset(o, 0, sizeof *o);
  pthread_rwlock_rdlock(&ns->lock);
  for (size_t i = 0; i < ns->dns.n; i++) {
    const struct nn_datanode *dn = ns->dns.dns[i];
    if (dn->dead) continue;
    o->capacity += dn->capacity;
    o->used += dn->dfs_used;
    o->remaining += dn->remaining;
  }
  size_t pos = 0;
  struct nn_block *b;
  while ((b = nn_u64map_next(&ns->bm.map, &pos, NULL)) != NULL) {
    if (b->state != NN_BLOCK_COMPLETE) continue;
    int live = nn_block_live_replicas(b);
    if (live == 0) {
      bool any_corrupt = false;
      for (int k = 0; k < b->nrep; k++)
        if (b->reps[k].corrupt) any_corrupt = true;
      if (any_corrupt) o->corrupt_blocks++;
      else o->missing_blocks++;
    } else if (live < b->file->u.file.repl) {
      o->under_replicated++;
    }
  }
  o->blocks = nn_blockmap_count(&ns->bm);
  o->files = ns->nfiles;
  o->directories = ns->ndirs;
  o->safe_mode = nn_in_safemode(ns);
  pthread_rwlock_unlock(&ns->lock);
  return 0;
}
