/*
 * ns_blocks.c - the block side of the namesystem: addBlock (placement),
 * abandonBlock, complete, fsync, getBlockLocations, reportBadBlocks, and
 * the DataNode protocol (register, heartbeat, full and incremental block
 * reports).
 *
 * Each DataNode indexes the blocks it holds (dn->blocks), so a full report
 * or a node's death costs O(its replicas), not O(all blocks).
 * Replica bookkeeping is in memory only (as in HDFS): after a restart the
 * block map knows every block from the image and edits, and the DataNodes'
 * block reports repopulate the replicas. A reported replica the NameNode
 * does not want (unknown block, stale generation stamp) is queued for
 * INVALIDATE in the node's next heartbeat reply.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "namesystem_int.h"
#include "path.h"
#include "placement.h"

void nn_located_blocks_free(struct nn_located_blocks *l) {
  if (!l) return;
  free(l->blocks);
  free(l->infos);
  memset(l, 0, sizeof *l);
}

/* Resolve an open file held by the caller's client for addBlock & co. */
static int open_file(nn_ns *ns, struct nn_pc *pc, const char *op, const char *path,
                     const char *client, uint64_t file_id, nn_inode **out) {
  struct nn_res r;
  int rc = nn_resolve(ns, pc, op, path, &r);
  if (rc) return rc;
  nn_inode *f = r.target;
  if (!f || (file_id && f->id != file_id))
    return dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist%s", op, path,
                       f ? " (inode id changed: deleted and recreated)" : "");
  if (f->is_dir) return dfs_err_set(DFS_EISDIR, "%s: %s: Is a directory", op, path);
  if (!f->u.file.uc)
    return dfs_err_set(DFS_ENOLEASE, "%s: %s: No lease on %s: File is not open for writing",
                       op, path, path);
  if (!client || strcmp(client, f->u.file.uc->client_name) != 0)
    return dfs_err_set(DFS_ENOLEASE,
                       "%s: %s: No lease on %s: lease holder is %s, not %s", op, path, path,
                       f->u.file.uc->client_name, client && *client ? client : "(none)");
  nn_lease_renew(&ns->leases, client, nn_mono_ms()); /* the holder is alive */
  *out = f;
  return 0;
}

/* Fill one located block with the given nodes. infos must have room. */
static void fill_lb(struct nn_located_block *lb, const struct nn_block *b, uint64_t offset,
                    struct nn_datanode **dns, size_t n, struct nn_dn_info *infos,
                    int64_t now) {
  lb->b.id = b->id;
  lb->b.genstamp = b->genstamp;
  lb->b.num_bytes = b->num_bytes;
  lb->offset = offset;
  lb->under_construction = b->state == NN_BLOCK_UC;
  lb->locs = infos;
  lb->nlocs = n;
  for (size_t i = 0; i < n; i++) nn_fill_dn_info(dns[i], now, &infos[i]);
}

int nn_ns_add_block(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                    const struct nn_blk *prev, const char *const *excluded,
                    size_t nexcluded, uint64_t file_id, bool sync_later,
                    struct nn_located_blocks *out) {
  static const char op[] = "addBlock";
  char *path = NULL;
  memset(out, 0, sizeof *out);
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  nn_inode *f;
  uint64_t txid = 0;
  struct nn_pnode *pn = NULL;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = open_file(ns, &pc, op, path, c ? c->client_name : NULL, file_id, &f)) != 0)
    goto out;
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  uint32_t nb = f->u.file.nblocks;
  struct nn_block *last = nb ? f->u.file.blocks[nb - 1] : NULL;
  /* A retry whose first reply was lost: previous is the second-to-last
   * block (or absent, with one block) and the last one is still empty and
   * unreported - hand the same block again, as HDFS does. */
  bool retry = prev ? (nb >= 2 && f->u.file.blocks[nb - 2]->id == prev->id) : nb == 1;
  if (retry && last->state == NN_BLOCK_UC && last->num_bytes == 0 && last->nrep == 0) {
    out->blocks = calloc(1, sizeof *out->blocks);
    out->infos = calloc(last->ntargets ? last->ntargets : 1, sizeof *out->infos);
    if (!out->blocks || !out->infos) {
      rc = DFS_ENOMEM;
      goto out;
    }
    out->n = 1;
    fill_lb(&out->blocks[0], last, nn_file_length(f) , last->targets, last->ntargets,
            out->infos, nn_mono_ms());
    goto out;
  }
  if ((prev && (!last || last->id != prev->id)) || (!prev && last)) {
    rc = dfs_err_set(DFS_EINVAL,
                     "%s: %s: previous block %" PRIu64 " is not the file's last block (%" PRIu64 ")",
                     op, path, prev ? prev->id : 0, last ? last->id : 0);
    goto out;
  }
  /* Placement over the live DataNodes. */
  size_t n = ns->dns.n;
  pn = calloc(n ? n : 1, sizeof *pn);
  if (!pn) {
    rc = DFS_ENOMEM;
    goto out;
  }
  size_t nexcl_live = 0;
  for (size_t i = 0; i < n; i++) {
    struct nn_datanode *dn = ns->dns.dns[i];
    pn[i].host = dn->host;
    pn[i].rack = dn->rack;
    pn[i].remaining = dn->remaining;
    pn[i].alive = !dn->dead;
    pn[i].excluded = dn->admin != NN_ADMIN_NORMAL; /* no new writes there */
    for (size_t k = 0; k < nexcluded; k++)
      if (excluded[k] && strcmp(excluded[k], dn->uuid) == 0) pn[i].excluded = true;
    if (pn[i].excluded && pn[i].alive) nexcl_live++;
  }
  size_t idx[NN_PLACEMENT_MAX];
  int repl = f->u.file.repl;
  int k = nn_placement_choose(pn, n, c ? c->ip : NULL, repl, f->u.file.blocksize, nn_thread_rng(), idx);
  if (k < 1) {
    rc = dfs_err_set(DFS_ENODATANODE,
                     "%s: File %s could only be written to 0 of the %u minReplication nodes. "
                     "There are %zu datanode(s) running and %zu node(s) are excluded in this "
                     "operation.",
                     op, path, ns->cfg.min_replication, nn_dnmgr_live(&ns->dns), nexcl_live);
    goto out;
  }
  struct nn_datanode *targets[NN_PLACEMENT_MAX];
  for (int i = 0; i < k; i++) targets[i] = ns->dns.dns[idx[i]];

  struct nn_blk newb = {.id = ns->next_block_id, .genstamp = ns->genstamp + 1};
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  Nn__BlockRec br[2] = {NN__BLOCK_REC__INIT, NN__BLOCK_REC__INIT};
  Nn__BlockRec *bp[2];
  size_t nbr = 0;
  if (prev) {
    br[nbr].id = prev->id;
    br[nbr].genstamp = prev->genstamp > last->genstamp ? prev->genstamp : last->genstamp;
    br[nbr].num_bytes = prev->num_bytes;
    bp[nbr] = &br[nbr];
    nbr++;
  }
  br[nbr].id = newb.id;
  br[nbr].genstamp = newb.genstamp;
  br[nbr].num_bytes = 0;
  bp[nbr] = &br[nbr];
  nbr++;
  rec.op = NN__EDIT_OP__OP_ADD_BLOCK;
  rec.has_path = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.n_blocks = nbr;
  rec.blocks = bp;
  struct nn_blk pv;
  if (prev) {
    pv.id = br[0].id;
    pv.genstamp = br[0].genstamp;
    pv.num_bytes = br[0].num_bytes;
  }
  struct nn_block *b = nn_do_add_block(ns, f, prev ? &pv : NULL, &newb);
  if (!b || nn_block_set_targets(b, targets, k) != 0) {
    rc = dfs_err_set(DFS_ENOMEM, "%s: %s: out of memory", op, path);
    goto out;
  }
  if ((rc = nn_log(ns, &rec, &txid)) != 0) goto out;
  out->blocks = calloc(1, sizeof *out->blocks);
  out->infos = calloc((size_t)k, sizeof *out->infos);
  if (!out->blocks || !out->infos) {
    rc = DFS_ENOMEM;
    goto out;
  }
  out->n = 1;
  fill_lb(&out->blocks[0], b, nn_file_length(f), targets, (size_t)k, out->infos, nn_mono_ms());
out:
  {
    /* sync_later: the edit waits in the log's buffer for the next sync
     * (the client's FSYNC, its COMPLETE, or anyone else's); a NameNode
     * that dies first forgets the block, whose data no one was promised.
     * A sync here costs the whole disk's pending writes on a shared disk:
     * 0.1-0.3 s behind the pipeline's own data on this machine. */
    int src = nn_unlock_sync(ns, sync_later ? 0 : txid);
    if (rc == 0) rc = src;
  }
  if (rc) nn_located_blocks_free(out);
  free(pn);
  free(path);
  return rc;
}

int nn_ns_abandon_block(nn_ns *ns, const struct nn_caller *c, const uint8_t *p,
                        size_t plen, const struct nn_blk *blk) {
  static const char op[] = "abandonBlock";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  nn_inode *f;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = open_file(ns, &pc, op, path, c ? c->client_name : NULL, 0, &f)) != 0) goto out;
  uint32_t nb = f->u.file.nblocks;
  if (nb == 0 || f->u.file.blocks[nb - 1]->id != blk->id) {
    /* HDFS ignores an abandon of a block that is not the last one */
    goto out;
  }
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  Nn__BlockRec br = NN__BLOCK_REC__INIT;
  Nn__BlockRec *bp = &br;
  br.id = blk->id;
  br.genstamp = blk->genstamp;
  rec.op = NN__EDIT_OP__OP_ABANDON_BLOCK;
  rec.has_path = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.n_blocks = 1;
  rec.blocks = &bp;
  nn_do_abandon_block(ns, f, blk->id);
  rc = nn_log(ns, &rec, &txid);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_complete(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                   const struct nn_blk *lastb, uint64_t file_id, bool *done) {
  static const char op[] = "complete";
  char *path = NULL;
  *done = false;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  nn_inode *f = r.target;
  /* A retried complete of a file this call already closed: success. */
  if (f && !f->is_dir && !f->u.file.uc && (!file_id || f->id == file_id)) {
    uint32_t nb = f->u.file.nblocks;
    if ((!lastb && nb == 0) || (lastb && nb && f->u.file.blocks[nb - 1]->id == lastb->id)) {
      *done = true;
      goto out;
    }
  }
  if ((rc = open_file(ns, &pc, op, path, c ? c->client_name : NULL, file_id, &f)) != 0)
    goto out;
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  uint32_t nb = f->u.file.nblocks;
  struct nn_block *last = nb ? f->u.file.blocks[nb - 1] : NULL;
  if (lastb && (!last || last->id != lastb->id)) {
    rc = dfs_err_set(DFS_EINVAL, "%s: %s: block %" PRIu64 " is not the file's last block", op,
                     path, lastb ? lastb->id : 0);
    goto out;
  }
  if (lastb) nn_do_commit_block(ns, last, lastb->num_bytes, lastb->genstamp);
  /* Every block needs its minimum replicas before the file closes. */
  for (uint32_t i = 0; i < nb; i++) {
    struct nn_block *b = f->u.file.blocks[i];
    if (b->state == NN_BLOCK_UC && !lastb && i + 1 == nb) {
      /* no final length given for an open last block: take it as committed */
      nn_do_commit_block(ns, b, b->num_bytes, b->genstamp);
    }
    if (b->state != NN_BLOCK_COMPLETE) {
      if (b->state == NN_BLOCK_COMMITTED &&
          nn_block_live_replicas(b) >= (int)ns->cfg.min_replication)
        b->state = NN_BLOCK_COMPLETE;
      else
        goto out; /* false: the client retries */
    }
  }
  int64_t now = nn_wall_ms();
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  Nn__BlockRec br = NN__BLOCK_REC__INIT;
  Nn__BlockRec *bp = &br;
  rec.op = NN__EDIT_OP__OP_CLOSE;
  rec.has_path = rec.has_mtime = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.mtime = (uint64_t)now;
  if (last) {
    br.id = last->id;
    br.genstamp = last->genstamp;
    br.num_bytes = last->num_bytes;
    rec.n_blocks = 1;
    rec.blocks = &bp;
  }
  struct nn_blk lb = {.id = br.id, .genstamp = br.genstamp, .num_bytes = br.num_bytes};
  nn_do_close(ns, f, last ? &lb : NULL, now);
  if ((rc = nn_log(ns, &rec, &txid)) != 0) goto out;
  nn_repl_check_file(ns, f); /* blocks that came up short get queued */
  *done = true;
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_fsync(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                bool has_length, uint64_t last_block_length) {
  static const char op[] = "fsync";
  char *path = NULL;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  nn_inode *f;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  rc = open_file(ns, &pc, op, path, c ? c->client_name : NULL, 0, &f);
  /* Everything logged so far: the file's own edits are among them. */
  if (rc == 0) txid = nn_editlog_last_txid(ns->log);
  if (rc == 0 && has_length) {
    /* The visible length is what readers are told; it is not logged (HDFS
     * persists it only through the DataNodes' replicas). */
    f->u.file.uc->visible_len = last_block_length;
    uint32_t nb = f->u.file.nblocks;
    if (nb && f->u.file.blocks[nb - 1]->state == NN_BLOCK_UC &&
        f->u.file.blocks[nb - 1]->num_bytes < last_block_length)
      f->u.file.blocks[nb - 1]->num_bytes = last_block_length;
  }
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

/* Readable locations of b into dns[] (nearest first). */
static size_t block_locs(nn_ns *ns, const struct nn_caller *c, struct nn_block *b,
                         struct nn_datanode **dns, bool *corrupt) {
  size_t n = 0;
  *corrupt = false;
  if (b->state == NN_BLOCK_UC) {
    for (int i = 0; i < b->ntargets && n < NN_PLACEMENT_MAX; i++)
      if (!b->targets[i]->dead) dns[n++] = b->targets[i];
    for (int i = 0; i < b->nrep && n < NN_PLACEMENT_MAX; i++) {
      bool seen = false;
      for (size_t k = 0; k < n; k++)
        if (dns[k] == b->reps[i].dn) seen = true;
      if (!seen && !b->reps[i].dn->dead) dns[n++] = b->reps[i].dn;
    }
    return n; /* the writer's pipeline order */
  }
  for (int i = 0; i < b->nrep && n < NN_PLACEMENT_MAX; i++)
    if (!b->reps[i].dn->dead && !b->reps[i].corrupt && !b->reps[i].excess)
      dns[n++] = b->reps[i].dn;
  if (n == 0) { /* only corrupt replicas left: hand them out, flagged */
    for (int i = 0; i < b->nrep && n < NN_PLACEMENT_MAX; i++)
      if (!b->reps[i].dn->dead && b->reps[i].corrupt) dns[n++] = b->reps[i].dn;
    *corrupt = n > 0;
  }
  if (n > 1) {
    struct nn_pnode pn[NN_PLACEMENT_MAX];
    size_t idx[NN_PLACEMENT_MAX];
    const char *reader_rack = NULL;
    for (size_t i = 0; i < n; i++) {
      pn[i].host = dns[i]->host;
      pn[i].rack = dns[i]->rack;
      idx[i] = i;
    }
    /* the reader's rack: from its DataNode if it runs on one */
    if (c && c->ip)
      for (size_t i = 0; i < ns->dns.n; i++)
        if (strcmp(ns->dns.dns[i]->host, c->ip) == 0) reader_rack = ns->dns.dns[i]->rack;
    /* else from the topology file by its IP, as HDFS resolves any client:
     * a reader on a rack host without a DataNode still reads rack-local */
    if (!reader_rack && c && c->ip && *c->ip) {
      const char *r = nn_topology_resolve(ns->topo, c->ip, -1, NULL);
      if (strcmp(r, NN_DEFAULT_RACK) != 0) reader_rack = r;
    }
    nn_placement_sort(pn, idx, n, c ? c->ip : NULL, reader_rack, nn_thread_rng());
    /* decommissioning / decommissioned nodes last (they are leaving) */
    struct nn_datanode *tmp[NN_PLACEMENT_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (dns[idx[i]]->admin == NN_ADMIN_NORMAL) tmp[k++] = dns[idx[i]];
    for (size_t i = 0; i < n; i++)
      if (dns[idx[i]]->admin != NN_ADMIN_NORMAL) tmp[k++] = dns[idx[i]];
    memcpy(dns, tmp, n * sizeof *dns);
  }
  return n;
}

/* DFS_ENOENT or DFS_EISDIR unless f is a file. */
static int must_be_file(const char *op, const char *path, const nn_inode *f) {
  if (!f) return dfs_err_set(DFS_ENOENT, "%s: %s: File does not exist", op, path);
  if (f->is_dir) return dfs_err_set(DFS_EISDIR, "%s: %s: Path is not a file", op, path);
  return 0;
}

int nn_ns_get_block_locations(nn_ns *ns, const struct nn_caller *c, const uint8_t *p,
                              size_t plen, uint64_t offset, uint64_t length,
                              struct nn_located_blocks *out) {
  static const char op[] = "getBlockLocations";
  char *path = NULL;
  memset(out, 0, sizeof *out);
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_rdlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  nn_inode *f = r.target;
  if ((rc = must_be_file(op, path, f)) != 0) goto out;
  if ((rc = nn_pc_check(&pc, op, f, NN_R)) != 0) goto out;
  uint32_t nb = f->u.file.nblocks;
  out->blocks = calloc(nb ? nb : 1, sizeof *out->blocks);
  size_t maxlocs = 1; /* each block lists at most its replicas + its pipeline */
  for (uint32_t i = 0; i < nb; i++)
    maxlocs += (size_t)f->u.file.blocks[i]->nrep + f->u.file.blocks[i]->ntargets;
  out->infos = calloc(maxlocs, sizeof *out->infos);
  if (!out->blocks || !out->infos) {
    rc = DFS_ENOMEM;
    goto out;
  }
  out->under_construction = f->u.file.uc != NULL;
  int64_t now = nn_mono_ms();
  uint64_t pos = 0;
  uint64_t end = length == UINT64_MAX || offset + length < offset ? UINT64_MAX : offset + length;
  size_t ninfo = 0;
  for (uint32_t i = 0; i < nb; i++) {
    struct nn_block *b = f->u.file.blocks[i];
    uint64_t bstart = pos;
    pos += b->num_bytes;
    bool last = i + 1 == nb;
    /* a block overlaps [offset, end) - an empty range still gets the block
     * holding offset; the open last block is always included */
    bool want = (bstart < end && pos > offset) || (last && bstart >= offset && bstart < end);
    struct nn_datanode *dns[NN_PLACEMENT_MAX];
    bool corrupt = false;
    if (want || last) {
      size_t n = block_locs(ns, c, b, dns, &corrupt);
      struct nn_located_block *lb = want ? &out->blocks[out->n++] : &out->last;
      fill_lb(lb, b, bstart, dns, n, &out->infos[ninfo], now);
      lb->corrupt = corrupt;
      ninfo += n;
      if (last) {
        if (want) out->last = *lb;
        out->has_last = true;
        out->last_complete = b->state != NN_BLOCK_UC;
      }
    }
  }
  out->file_length = pos;
out:
  pthread_rwlock_unlock(&ns->lock);
  if (rc) nn_located_blocks_free(out);
  free(path);
  return rc;
}

int nn_ns_report_bad_block(nn_ns *ns, const struct nn_blk *blk, const char *uuid) {
  pthread_rwlock_wrlock(&ns->lock);
  int rc = 0;
  struct nn_block *b = nn_blockmap_get(&ns->bm, blk->id);
  struct nn_datanode *dn = uuid ? nn_dnmgr_find(&ns->dns, uuid) : NULL;
  struct nn_replica *rep = b && dn ? nn_block_replica(b, dn) : NULL;
  if (!rep) {
    rc = dfs_err_set(DFS_ENOTREPLICA, "reportBadBlocks: block %" PRIu64 " has no replica on %s",
                     blk->id, uuid ? uuid : "(none)");
  } else {
    if (!rep->corrupt)
      LOG_WARN("namenode", "block %" PRIu64 " replica on %s (%s:%u, %s) reported corrupt", b->id,
               dn->uuid, dn->host, dn->port, dn->hostname);
    rep->corrupt = true;
    /* The bad copy stays (served only if nothing else is left) until the
     * block has its replication again from good copies; then
     * nn_repl_check invalidates it. */
    nn_repl_check(ns, b);
  }
  pthread_rwlock_unlock(&ns->lock);
  return rc;
}

/* ---- DataNode protocol ---- */

static void set_stats(struct nn_datanode *dn, const struct nn_dn_stats *st) {
  if (!st) return;
  dn->capacity = st->capacity;
  dn->dfs_used = st->dfs_used;
  dn->remaining = st->remaining;
  dn->xceivers = st->xceivers;
  if (st->failed_volumes > dn->failed_volumes)
    LOG_WARN("namenode", "datanode %s (%s:%u) reports %u failed volume(s); its replicas there "
             "come back as deleted and are re-replicated", dn->uuid, dn->host, dn->port,
             st->failed_volumes);
  dn->failed_volumes = st->failed_volumes;
}

int nn_ns_register_datanode(nn_ns *ns, const char *uuid, const char *host, uint32_t port,
                            const char *hostname, const char *peer_ip,
                            const struct nn_dn_stats *st, const char **host_out) {
  pthread_rwlock_wrlock(&ns->lock);
  struct nn_datanode *dn = NULL;
  int rc = nn_dnmgr_register(&ns->dns, uuid, host, port, hostname, peer_ip, nn_mono_ms(), &dn);
  if (rc == 0) {
    set_stats(dn, st);
    if (host_out) *host_out = dn->host;
    LOG_INFO("namenode", "datanode %s registered: %s:%u (%s) rack %s", dn->uuid, dn->host,
             dn->port, dn->hostname, dn->rack);
    nn_decom_apply(ns, dn); /* listed in the exclude file: decommission it */
    /* A node that registers again has restarted: the transfers from or to
     * it that were in flight died with the old process. Reschedule them now
     * rather than after the pending timeout (minutes). */
    nn_repl_dn_dead(ns, dn);
  }
  pthread_rwlock_unlock(&ns->lock);
  return rc;
}

void nn_dn_commands_free(struct nn_dn_commands *c) {
  if (!c) return;
  for (size_t i = 0; i < c->ntransfer; i++) free(c->transfer[i].targets);
  free(c->transfer);
  for (size_t i = 0; i < c->nrecover; i++) free(c->recover[i].holders);
  free(c->recover);
  free(c->invalidate);
  memset(c, 0, sizeof *c);
}

int nn_ns_heartbeat(nn_ns *ns, const char *uuid, const struct nn_dn_stats *st,
                    struct nn_dn_commands *out) {
  memset(out, 0, sizeof *out);
  pthread_rwlock_wrlock(&ns->lock);
  struct nn_datanode *dn = nn_dnmgr_find(&ns->dns, uuid);
  out->in_safe_mode = nn_in_safemode(ns);
  if (!dn || dn->dead) {
    /* unknown (NameNode restarted) or declared dead: register again and
     * send a full report, as HDFS's DNA_REGISTER */
    out->reregister = true;
  } else {
    dn->last_hb_ms = nn_mono_ms();
    set_stats(dn, st);
    /* Safe mode: no replication or deletion work leaves the NameNode (it
     * stays queued), as HDFS's ReplicationMonitor does nothing then. */
    bool hold = out->in_safe_mode;
    if (dn->nxfer && !hold) {
      int64_t now = nn_mono_ms();
      out->transfer = calloc(dn->nxfer, sizeof *out->transfer);
      for (size_t i = 0; out->transfer && i < dn->nxfer; i++) {
        struct nn_xfer_cmd *x = &dn->xfer[i];
        struct nn_dn_transfer *o = &out->transfer[out->ntransfer];
        o->targets = calloc((size_t)x->ntargets, sizeof *o->targets);
        if (!o->targets) break;
        o->b.id = x->id;
        o->b.genstamp = x->gs;
        o->b.num_bytes = x->len;
        for (int k = 0; k < x->ntargets; k++) nn_fill_dn_info(x->targets[k], now, &o->targets[k]);
        o->ntargets = (size_t)x->ntargets;
        out->ntransfer++;
      }
      /* what could not be copied out stays queued */
      size_t sent = out->ntransfer;
      memmove(dn->xfer, dn->xfer + sent, (dn->nxfer - sent) * sizeof *dn->xfer);
      dn->nxfer -= sent;
    }
    /* (only those whose cause is durable: nn_dn_take_invalidates) */
    if (dn->ninval && !hold &&
        nn_dn_take_invalidates(dn, nn_editlog_synced_txid(ns->log),
                               nn_editlog_last_txid(ns->log), &out->invalidate,
                               &out->ninvalidate) != 0)
      LOG_WARN("namenode", "heartbeat of %s: out of memory for its INVALIDATE commands; "
               "sent with a later one", dn->uuid);
    if (dn->nrecover) {
      int64_t now = nn_mono_ms();
      uint64_t synced = nn_editlog_synced_txid(ns->log);
      out->recover = calloc(dn->nrecover, sizeof *out->recover);
      size_t keep = 0, i = 0; /* kept: stamps not durable yet, or no memory */
      for (; out->recover && i < dn->nrecover; i++) {
        struct nn_recover_cmd *rc = &dn->recover[i];
        if (rc->dep > synced) {
          dn->recover[keep++] = *rc;
          continue;
        }
        /* A recovery started again elsewhere (this node was silent past
         * the retry time, e.g. it died and came back) or already done:
         * its stamp is stale and the command must not run. */
        struct nn_block *rb = nn_blockmap_get(&ns->bm, rc->id);
        if (!rb || rb->recovery_gs != rc->new_gs) {
          LOG_INFO("namenode", "recovery of block %" PRIu64 " with genstamp %" PRIu64
                   " on %s is stale; dropped", rc->id, rc->new_gs, dn->uuid);
          free(rc->holders);
          continue;
        }
        struct nn_dn_recover *o = &out->recover[out->nrecover];
        o->holders = calloc(rc->nholders ? rc->nholders : 1, sizeof *o->holders);
        if (!o->holders) break;
        o->b.id = rc->id;
        o->b.genstamp = rc->gs;
        o->b.num_bytes = rc->len;
        o->new_genstamp = rc->new_gs;
        for (size_t k = 0; k < rc->nholders; k++) nn_fill_dn_info(rc->holders[k], now, &o->holders[k]);
        o->nholders = rc->nholders;
        out->nrecover++;
        free(rc->holders);
      }
      for (; i < dn->nrecover; i++) dn->recover[keep++] = dn->recover[i];
      dn->nrecover = keep;
      if (keep == 0) {
        free(dn->recover);
        dn->recover = NULL;
      }
    }
  }
  pthread_rwlock_unlock(&ns->lock);
  return 0;
}

/* One reported replica. */
static void reported(nn_ns *ns, struct nn_datanode *dn, uint64_t id, uint64_t gs,
                     uint64_t len, int state) {
  struct nn_block *b = nn_blockmap_get(&ns->bm, id);
  if (!b || gs < b->genstamp) {
    /* a block of a deleted file, or a replica left behind by a pipeline
     * recovery: the NameNode does not want it */
    nn_queue_invalidate(ns, dn, id, gs, len);
    if (b && nn_block_remove_replica(b, dn)) nn_repl_check(ns, b);
    return;
  }
  if (gs > b->genstamp) return; /* newer than we know: leave it to recovery */
  struct nn_replica *r = nn_block_add_replica(b, dn, state);
  if (!r) return;
  r->report_gen = dn->report_gen;
  if (state == NN_REPLICA_FINALIZED) {
    if (b->state == NN_BLOCK_UC && len > b->num_bytes) b->num_bytes = len;
    if (b->state == NN_BLOCK_COMPLETE && len != b->num_bytes) {
      r->corrupt = true; /* wrong length for a complete block */
      LOG_WARN("namenode", "block %" PRIu64 " on %s has length %" PRIu64 ", expected %" PRIu64,
               id, dn->uuid, len, b->num_bytes);
    }
    if (b->state == NN_BLOCK_COMMITTED &&
        nn_block_live_replicas(b) >= (int)ns->cfg.min_replication)
      b->state = NN_BLOCK_COMPLETE;
    nn_repl_received(ns, b, dn);
    nn_repl_check(ns, b); /* over-replicated now? corrupt copies to drop? */
  }
}

int nn_ns_block_report(nn_ns *ns, const char *uuid, const uint64_t *fin, size_t nf,
                       const uint64_t *uc, size_t nuc) {
  pthread_rwlock_wrlock(&ns->lock);
  struct nn_datanode *dn = nn_dnmgr_find(&ns->dns, uuid);
  if (!dn || dn->dead) {
    pthread_rwlock_unlock(&ns->lock);
    return dfs_err_set(DFS_ENOENT, "blockReport: datanode %s is not registered", uuid);
  }
  dn->report_gen++;
  dn->last_hb_ms = nn_mono_ms();
  for (size_t i = 0; i < nf; i++)
    reported(ns, dn, fin[3 * i], fin[3 * i + 1], fin[3 * i + 2], NN_REPLICA_FINALIZED);
  for (size_t i = 0; i < nuc; i++)
    reported(ns, dn, uc[3 * i], uc[3 * i + 1], uc[3 * i + 2], NN_REPLICA_RBW);
  /* Replicas this node no longer reports are gone. Collect first: the
   * node's index changes as replicas are dropped. */
  struct nn_block **gone = NULL;
  size_t ngone = 0, pos = 0;
  struct nn_block *b;
  if (dn->blocks.len) gone = malloc(dn->blocks.len * sizeof *gone);
  while (gone && (b = nn_u64map_next(&dn->blocks, &pos, NULL)) != NULL) {
    struct nn_replica *r = nn_block_replica(b, dn);
    if (r && r->report_gen != dn->report_gen) gone[ngone++] = b;
  }
  for (size_t i = 0; i < ngone; i++) {
    nn_block_remove_replica(gone[i], dn);
    nn_repl_check(ns, gone[i]);
  }
  free(gone);
  dn->reported = true;
  LOG_INFO("namenode", "block report from %s (%s:%u): %zu finalized, %zu being written", dn->uuid,
           dn->host, dn->port, nf, nuc);
  pthread_rwlock_unlock(&ns->lock);
  return 0;
}

int nn_ns_block_received(nn_ns *ns, const char *uuid, const struct nn_blk *blk, int status) {
  pthread_rwlock_wrlock(&ns->lock);
  int rc = 0;
  struct nn_datanode *dn = nn_dnmgr_find(&ns->dns, uuid);
  if (!dn || dn->dead) {
    rc = dfs_err_set(DFS_ENOENT, "blockReceivedAndDeleted: datanode %s is not registered", uuid);
  } else if (status == 3) {
    struct nn_block *b = nn_blockmap_get(&ns->bm, blk->id);
    if (b && nn_block_remove_replica(b, dn)) nn_repl_check(ns, b);
  } else {
    reported(ns, dn, blk->id, blk->genstamp, blk->num_bytes,
             status == 2 ? NN_REPLICA_FINALIZED : NN_REPLICA_RBW);
  }
  pthread_rwlock_unlock(&ns->lock);
  return rc;
}

void nn_drop_dn_replicas(nn_ns *ns, struct nn_datanode *dn) {
  size_t pos = 0, n = 0;
  struct nn_block *b;
  struct nn_block **all = dn->blocks.len ? malloc(dn->blocks.len * sizeof *all) : NULL;
  while (all && (b = nn_u64map_next(&dn->blocks, &pos, NULL)) != NULL) all[n++] = b;
  for (size_t i = 0; i < n; i++) nn_block_remove_replica(all[i], dn);
  nn_repl_dn_dead(ns, dn);
  /* every block that lost a replica here: re-replication, most
   * endangered first (the queue orders them) */
  for (size_t i = 0; i < n; i++) nn_repl_check(ns, all[i]);
  if (n)
    LOG_INFO("namenode", "datanode %s (%s:%u) held %zu replicas; %zu blocks now need "
             "replication", dn->uuid, dn->host, dn->port, n, nn_replq_size(&ns->repl.q, -1));
  free(all);
  while (dn->blocks.len) { /* out of memory above: one at a time */
    pos = 0;
    nn_block_remove_replica(nn_u64map_next(&dn->blocks, &pos, NULL), dn);
  }
  free(dn->inval);
  dn->inval = NULL;
  dn->ninval = dn->cinval = 0;
}

/* ---- lease recovery ---- */

/* The name HDFS gives the lease while the NameNode recovers it: the old
 * writer's calls fail from then on (fencing). */
#define NN_RECOVERY_HOLDER "HDFS_NameNode"

static int log_close(nn_ns *ns, nn_inode *f, const char *path, uint64_t *txid) {
  int64_t now = nn_wall_ms();
  uint32_t nb = f->u.file.nblocks;
  struct nn_block *last = nb ? f->u.file.blocks[nb - 1] : NULL;
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  Nn__BlockRec br = NN__BLOCK_REC__INIT;
  Nn__BlockRec *bp = &br;
  rec.op = NN__EDIT_OP__OP_CLOSE;
  rec.has_path = rec.has_mtime = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.mtime = (uint64_t)now;
  struct nn_blk lb = {0};
  if (last) {
    br.id = lb.id = last->id;
    br.genstamp = lb.genstamp = last->genstamp;
    br.num_bytes = lb.num_bytes = last->num_bytes;
    rec.n_blocks = 1;
    rec.blocks = &bp;
  }
  nn_do_close(ns, f, last ? &lb : NULL, now);
  int rc = nn_log(ns, &rec, txid);
  if (rc == 0) nn_repl_check_file(ns, f);
  return rc;
}

static int log_abandon_last(nn_ns *ns, nn_inode *f, const char *path, uint64_t *txid) {
  struct nn_block *last = f->u.file.blocks[f->u.file.nblocks - 1];
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  Nn__BlockRec br = NN__BLOCK_REC__INIT;
  Nn__BlockRec *bp = &br;
  br.id = last->id;
  br.genstamp = last->genstamp;
  rec.op = NN__EDIT_OP__OP_ABANDON_BLOCK;
  rec.has_path = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.n_blocks = 1;
  rec.blocks = &bp;
  nn_do_abandon_block(ns, f, last->id);
  return nn_log(ns, &rec, txid);
}

/*
 * The core of lease recovery for open file f at path (write lock held):
 * close it if every block is complete, else fence the writer (the lease
 * goes to NN_RECOVERY_HOLDER) and start a block recovery of the last
 * block. *closed as nn_ns_recover_lease; *txid gets the last record
 * logged. Used by recoverLease, by create past the soft limit and by the
 * hard-limit check.
 */
int nn_recover_file(nn_ns *ns, nn_inode *f, const char *path, const char *op,
                           bool *closed, uint64_t *txidp) {
  int rc = 0;
  uint64_t txid = 0;
  uint32_t nb = f->u.file.nblocks;
  /* Every block but the last must be complete (or completable). */
  for (uint32_t i = 0; i + 1 < nb; i++) {
    struct nn_block *b = f->u.file.blocks[i];
    if (b->state == NN_BLOCK_COMMITTED && nn_block_live_replicas(b) >= (int)ns->cfg.min_replication)
      b->state = NN_BLOCK_COMPLETE;
    if (b->state != NN_BLOCK_COMPLETE) {
      LOG_INFO("namenode", "%s: %s: block %" PRIu64 " still lacks replicas; recovery waits",
               op, path, b->id);
      goto done; /* false: try again once DataNodes have reported */
    }
  }
  struct nn_block *last = nb ? f->u.file.blocks[nb - 1] : NULL;
  if (last && last->state == NN_BLOCK_COMMITTED &&
      nn_block_live_replicas(last) >= (int)ns->cfg.min_replication)
    last->state = NN_BLOCK_COMPLETE;
  if (!last || last->state == NN_BLOCK_COMPLETE) {
    rc = log_close(ns, f, path, &txid);
    if (rc == 0) *closed = true;
    LOG_INFO("namenode", "%s: %s: closed (all blocks complete)", op, path);
    goto done;
  }
  /* Fence the writer now: its calls fail from here on. */
  if (strcmp(f->u.file.uc->client_name, NN_RECOVERY_HOLDER) != 0) {
    char *h = strdup(NN_RECOVERY_HOLDER);
    if (!h) {
      rc = DFS_ENOMEM;
      goto done;
    }
    LOG_INFO("namenode", "%s: %s: lease of %s taken over for recovery", op, path,
             f->u.file.uc->client_name);
    /* the file moves to the NameNode's own lease (HDFS reassignLease):
     * if the recovery stalls, that lease's hard limit retries it */
    nn_lease_remove_file(&ns->leases, f->u.file.uc->client_name, f);
    free(f->u.file.uc->client_name);
    f->u.file.uc->client_name = h;
    nn_lease_add(&ns->leases, h, f, nn_mono_ms());
  }
  int64_t now = nn_mono_ms();
  /* Not finished within dfs.namenode.block-recovery.retry-interval: the
   * primary may have died; start again (a newer stamp fences the old one). */
  if (last->recovery_gs && now - last->recovery_ms < ns->cfg.recovery_retry_ms)
    goto done; /* in progress */
  /* Holders of the last block: its pipeline and any reported replica. */
  struct nn_datanode *holders[NN_PLACEMENT_MAX];
  size_t nh = 0;
  for (int i = 0; i < last->ntargets && nh < NN_PLACEMENT_MAX; i++)
    if (!last->targets[i]->dead) holders[nh++] = last->targets[i];
  for (int i = 0; i < last->nrep && nh < NN_PLACEMENT_MAX; i++) {
    bool seen = false;
    for (size_t k = 0; k < nh; k++)
      if (holders[k] == last->reps[i].dn) seen = true;
    if (!seen && !last->reps[i].dn->dead) holders[nh++] = last->reps[i].dn;
  }
  if (nh == 0) {
    if (last->num_bytes == 0 && last->nrep == 0) {
      /* nothing was ever written to it: drop it and close, as HDFS does */
      rc = log_abandon_last(ns, f, path, &txid);
      if (rc == 0) rc = log_close(ns, f, path, &txid);
      if (rc == 0) *closed = true;
      LOG_INFO("namenode", "%s: %s: empty last block dropped, file closed", op, path);
    } else {
      LOG_WARN("namenode", "%s: %s: no live DataNode holds block %" PRIu64 "; recovery waits",
               op, path, last->id);
    }
    goto done;
  }
  uint64_t new_gs;
  if ((rc = nn_log_new_genstamp(ns, path, &new_gs, &txid)) != 0) goto done;
  /* The primary: the holder heard from most recently. */
  size_t prim = 0;
  for (size_t k = 1; k < nh; k++)
    if (holders[k]->last_hb_ms > holders[prim]->last_hb_ms) prim = k;
  rc = nn_dn_queue_recover(holders[prim], last->id, last->genstamp, last->num_bytes, new_gs,
                           holders, nh, txid);
  if (rc) goto done;
  last->recovery_gs = new_gs;
  last->recovery_ms = now;
  LOG_INFO("namenode", "%s: %s: recovering block %" PRIu64 " (genstamp %" PRIu64 " -> %" PRIu64
           ") on %zu node(s), primary %s", op, path, last->id, last->genstamp, new_gs, nh,
           holders[prim]->uuid);
done:
  if (txid) *txidp = txid;
  return rc;
}

int nn_ns_recover_lease(nn_ns *ns, const struct nn_caller *c, const uint8_t *p, size_t plen,
                        bool *closed) {
  static const char op[] = "recoverLease";
  char *path = NULL;
  *closed = false;
  int rc = nn_norm(ns, op, p, plen, &path);
  if (rc) return rc;
  struct nn_pc pc;
  struct nn_res r;
  uint64_t txid = 0;
  nn_pc_init(&pc, ns, c);
  pthread_rwlock_wrlock(&ns->lock);
  if ((rc = nn_resolve(ns, &pc, op, path, &r)) != 0) goto out;
  nn_inode *f = r.target;
  if ((rc = must_be_file(op, path, f)) != 0) goto out;
  if ((rc = nn_pc_check(&pc, op, f, NN_W)) != 0) goto out;
  if (!f->u.file.uc) {
    *closed = true;
    goto out;
  }
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  rc = nn_recover_file(ns, f, path, op, closed, &txid);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  free(path);
  return rc;
}

int nn_ns_commit_block_sync(nn_ns *ns, const struct nn_blk *blk, uint64_t new_gs,
                            uint64_t new_len, const char *const *uuids, size_t nuuids,
                            bool close_file, bool delete_block) {
  static const char op[] = "commitBlockSynchronization";
  uint64_t txid = 0;
  int rc = 0;
  char path[DFS_PATH_MAX + 1];
  pthread_rwlock_wrlock(&ns->lock);
  struct nn_block *b = nn_blockmap_get(&ns->bm, blk->id);
  if (!b) {
    rc = dfs_err_set(DFS_ENOENT, "%s: block %" PRIu64 " not found", op, blk->id);
    goto out;
  }
  nn_inode *f = b->file;
  nn_inode_path(f, path, sizeof path);
  if (!f->u.file.uc) {
    /* a repeated commit of a recovery that already closed the file */
    if (b->genstamp != new_gs)
      rc = dfs_err_set(DFS_EGENSTAMP, "%s: %s: file is closed and block %" PRIu64
                       " has genstamp %" PRIu64 ", not %" PRIu64, op, path, b->id, b->genstamp,
                       new_gs);
    goto out;
  }
  if (f->u.file.blocks[f->u.file.nblocks - 1] != b || b->recovery_gs != new_gs) {
    rc = dfs_err_set(DFS_EGENSTAMP, "%s: %s: block %" PRIu64 " is not being recovered with "
                     "genstamp %" PRIu64, op, path, b->id, new_gs);
    goto out;
  }
  if (delete_block) {
    rc = log_abandon_last(ns, f, path, &txid);
    if (rc == 0 && close_file) rc = log_close(ns, f, path, &txid);
    goto out;
  }
  /* The agreed replicas; any other copy (old genstamp) goes. */
  struct nn_datanode *keep[NN_PLACEMENT_MAX];
  size_t nk = 0;
  for (size_t i = 0; i < nuuids && nk < NN_PLACEMENT_MAX; i++) {
    struct nn_datanode *dn = uuids[i] ? nn_dnmgr_find(&ns->dns, uuids[i]) : NULL;
    if (dn) keep[nk++] = dn;
  }
  for (int i = b->nrep - 1; i >= 0; i--) {
    struct nn_datanode *dn = b->reps[i].dn;
    bool kept = false;
    for (size_t k = 0; k < nk; k++)
      if (keep[k] == dn) kept = true;
    if (!kept) {
      nn_queue_invalidate(ns, dn, b->id, b->genstamp, b->num_bytes);
      nn_block_remove_replica(b, dn);
    }
  }
  b->genstamp = new_gs;
  b->num_bytes = new_len;
  b->recovery_gs = 0;
  for (size_t k = 0; k < nk; k++) {
    struct nn_replica *rep = nn_block_add_replica(b, keep[k], NN_REPLICA_FINALIZED);
    if (rep) rep->corrupt = false;
  }
  nn_block_set_targets(b, keep, (int)nk);
  if (close_file) {
    if (b->state == NN_BLOCK_UC) b->state = NN_BLOCK_COMMITTED;
    rc = log_close(ns, f, path, &txid);
  } else {
    Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
    Nn__BlockRec br = NN__BLOCK_REC__INIT;
    Nn__BlockRec *bp = &br;
    br.id = b->id;
    br.genstamp = new_gs;
    br.num_bytes = new_len;
    rec.op = NN__EDIT_OP__OP_UPDATE_BLOCK;
    rec.has_path = true;
    rec.path.data = (uint8_t *)path;
    rec.path.len = strlen(path);
    rec.n_blocks = 1;
    rec.blocks = &bp;
    rc = nn_log(ns, &rec, &txid);
  }
  if (rc == 0)
    LOG_INFO("namenode", "%s: %s: block %" PRIu64 " recovered: %" PRIu64 " bytes, genstamp %"
             PRIu64 " on %zu node(s)%s", op, path, b->id, new_len, new_gs, nk,
             close_file ? "; file closed" : "");
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  return rc;
}

/* ---- lease limits ---- */

int nn_ns_check_leases(nn_ns *ns) {
  static const char op[] = "leaseHardLimit";
  uint64_t txid = 0;
  int started = 0;
  pthread_rwlock_wrlock(&ns->lock);
  if (nn_in_safemode(ns)) {
    pthread_rwlock_unlock(&ns->lock);
    return 0;
  }
  int64_t now = nn_mono_ms();
  /* Collect first: recovery moves files between leases and frees leases. */
  nn_inode **files = NULL;
  size_t n = 0, cap = 0;
  for (struct nn_lease *l = ns->leases.head; l; l = l->next) {
    if (now - l->last_renew_ms <= ns->cfg.lease_hard_ms) continue;
    LOG_WARN("namenode", "lease of %s expired (hard limit %lld ms, %zu file(s)); recovering",
             l->holder, (long long)ns->cfg.lease_hard_ms, l->n);
    l->last_renew_ms = now; /* not again before another hard limit */
    for (size_t i = 0; i < l->n; i++) {
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 16;
        nn_inode **nf = realloc(files, nc * sizeof *nf);
        if (!nf) break;
        files = nf;
        cap = nc;
      }
      files[n++] = l->files[i];
    }
  }
  for (size_t i = 0; i < n; i++) {
    nn_inode *f = files[i];
    if (!f->u.file.uc) continue; /* closed by an earlier one */
    char path[DFS_PATH_MAX + 1];
    nn_inode_path(f, path, sizeof path);
    bool closed = false;
    uint64_t t = 0;
    if (nn_recover_file(ns, f, path, op, &closed, &t) == 0) started++;
    if (t > txid) txid = t;
  }
  free(files);
  nn_unlock_sync(ns, txid);
  return started;
}
