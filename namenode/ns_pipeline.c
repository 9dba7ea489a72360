/*
 * ns_pipeline.c - the NameNode's half of write-pipeline recovery, as HDFS's
 * ClientProtocol.updateBlockForPipeline / updatePipeline, with their RPC
 * handlers (UPDATE_BLOCK_FOR_PIPELINE 124, UPDATE_PIPELINE 125).
 *
 * When a DataNode of a write pipeline fails, the writer (lease holder) asks
 * for a new generation stamp for its open block (logged as OP_SET_GENSTAMP
 * so it is never handed out twice), rebuilds the pipeline from the
 * surviving nodes with WRITE_BLOCK STAGE_RECOVERY (each survivor takes the
 * new stamp and cuts its replica to the acknowledged length), and then
 * reports the new stamp, that length and the new pipeline here. The block
 * takes the new stamp (logged as OP_UPDATE_BLOCK, replayed by the same
 * code as a lease recovery's update), its expected locations become the new
 * pipeline, and every other replica the NameNode knew is dropped and
 * queued for INVALIDATE. The key decision: a replica is identified by
 * (block id, generation stamp), so the failed node's copy - older stamp -
 * can never be served again: readers are only given the new pipeline, and
 * when the node comes back its block report shows the older stamp, which
 * ns_blocks.c's report handling invalidates.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfs_methods.h"
#include "errors.h"
#include "log.h"
#include "namesystem_int.h"
#include "path.h"
#include "placement.h"
#include "rpc.h"

/* The open block `id` of a file whose lease `client` holds (write lock
 * held). HDFS's checkUCBlock: the block must exist, be its file's last
 * block, still under construction, and the caller must hold the lease. */
static int uc_block(nn_ns *ns, const char *op, uint64_t id, const char *client,
                    struct nn_block **out, char *path, size_t cap) {
  struct nn_block *b = nn_blockmap_get(&ns->bm, id);
  if (!b) return dfs_err_set(DFS_ENOENT, "%s: block blk_%" PRIu64 " does not exist", op, id);
  nn_inode *f = b->file;
  nn_inode_path(f, path, cap);
  if (!f->u.file.uc)
    return dfs_err_set(DFS_ENOLEASE, "%s: %s: No lease on %s: File is not open for writing", op,
                       path, path);
  if (!client || strcmp(client, f->u.file.uc->client_name) != 0)
    return dfs_err_set(DFS_ENOLEASE, "%s: %s: No lease on %s: lease holder is %s, not %s", op,
                       path, path, f->u.file.uc->client_name,
                       client && *client ? client : "(none)");
  uint32_t nb = f->u.file.nblocks;
  if (nb == 0 || f->u.file.blocks[nb - 1] != b || b->state != NN_BLOCK_UC)
    return dfs_err_set(DFS_EINVAL, "%s: %s: block blk_%" PRIu64 " is not under construction", op,
                       path, id);
  nn_lease_renew(&ns->leases, client, nn_mono_ms()); /* the holder is alive */
  *out = b;
  return 0;
}

/*
 * updateBlockForPipeline: a new generation stamp for the open block b of
 * the caller's file. out gets the block with the new stamp (length as the
 * NameNode knows it) and its offset in the file. Thread-safe.
 */
int nn_ns_update_block_for_pipeline(nn_ns *ns, const char *client, const struct nn_blk *blk,
                                    struct nn_blk *out, uint64_t *offset) {
  static const char op[] = "updateBlockForPipeline";
  char path[DFS_PATH_MAX + 1];
  uint64_t txid = 0;
  struct nn_block *b = NULL;
  pthread_rwlock_wrlock(&ns->lock);
  int rc = uc_block(ns, op, blk->id, client, &b, path, sizeof path);
  if (rc) goto out;
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  if (blk->genstamp != b->genstamp) {
    rc = dfs_err_set(DFS_EGENSTAMP, "%s: %s: block blk_%" PRIu64 " has genstamp %" PRIu64
                     ", not %" PRIu64, op, path, b->id, b->genstamp, blk->genstamp);
    goto out;
  }
  uint64_t new_gs;
  if ((rc = nn_log_new_genstamp(ns, path, &new_gs, &txid)) != 0) goto out;
  uint64_t off = 0;
  nn_inode *f = b->file;
  for (uint32_t i = 0; i + 1 < f->u.file.nblocks; i++) off += f->u.file.blocks[i]->num_bytes;
  out->id = b->id;
  out->genstamp = new_gs;
  out->num_bytes = b->num_bytes;
  *offset = off;
  LOG_INFO("namenode", "%s: %s: block blk_%" PRIu64 " genstamp %" PRIu64 " -> %" PRIu64
           " for %s", op, path, b->id, b->genstamp, new_gs, client);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  return rc;
}

/*
 * updatePipeline: the open block `oldb` (its current stamp) now carries
 * the stamp newb->genstamp (handed out by updateBlockForPipeline) and
 * newb->num_bytes acknowledged bytes on the nodes `uuids` (pipeline
 * order). Replicas elsewhere are dropped and invalidated. A repeated call
 * (the block already has the new stamp) succeeds. Thread-safe.
 */
int nn_ns_update_pipeline(nn_ns *ns, const char *client, const struct nn_blk *oldb,
                          const struct nn_blk *newb, const char *const *uuids, size_t nuuids) {
  static const char op[] = "updatePipeline";
  char path[DFS_PATH_MAX + 1];
  uint64_t txid = 0;
  struct nn_block *b = NULL;
  pthread_rwlock_wrlock(&ns->lock);
  int rc = uc_block(ns, op, oldb->id, client, &b, path, sizeof path);
  if (rc) goto out;
  if ((rc = nn_safemode_check(ns, op, path)) != 0) goto out;
  if (newb->id != oldb->id) {
    rc = dfs_err_set(DFS_EINVAL, "%s: %s: block id changed (%" PRIu64 " -> %" PRIu64 ")", op,
                     path, oldb->id, newb->id);
    goto out;
  }
  if (newb->genstamp <= oldb->genstamp || newb->genstamp > ns->genstamp) {
    rc = dfs_err_set(DFS_EGENSTAMP, "%s: %s: block blk_%" PRIu64 ": new genstamp %" PRIu64
                     " is not one handed out after %" PRIu64, op, path, b->id, newb->genstamp,
                     oldb->genstamp);
    goto out;
  }
  if (b->genstamp == newb->genstamp) goto out; /* a retry whose reply was lost */
  if (b->genstamp != oldb->genstamp) {
    rc = dfs_err_set(DFS_EGENSTAMP, "%s: %s: block blk_%" PRIu64 " has genstamp %" PRIu64
                     ", not %" PRIu64, op, path, b->id, b->genstamp, oldb->genstamp);
    goto out;
  }
  struct nn_datanode *nodes[NN_PLACEMENT_MAX];
  int n = 0;
  for (size_t i = 0; i < nuuids && n < NN_PLACEMENT_MAX; i++) {
    struct nn_datanode *dn = uuids[i] ? nn_dnmgr_find(&ns->dns, uuids[i]) : NULL;
    if (dn) nodes[n++] = dn;
    else
      LOG_WARN("namenode", "%s: %s: unknown datanode %s in the new pipeline", op, path,
               uuids[i] ? uuids[i] : "(null)");
  }
  if (nn_block_set_targets(b, nodes, n) != 0) {
    rc = dfs_err_set(DFS_ENOMEM, "%s: %s: out of memory", op, path);
    goto out;
  }
  /* Replicas outside the new pipeline hold the old stamp: never served
   * again. Those in it are being rewritten under the new stamp. */
  for (int i = b->nrep - 1; i >= 0; i--) {
    struct nn_datanode *dn = b->reps[i].dn;
    bool kept = false;
    for (int k = 0; k < n; k++)
      if (nodes[k] == dn) kept = true;
    if (!kept) {
      nn_queue_invalidate(ns, dn, b->id, b->genstamp, b->num_bytes);
      nn_block_remove_replica(b, dn);
    }
  }
  uint64_t old_gs = b->genstamp;
  b->genstamp = newb->genstamp;
  b->num_bytes = newb->num_bytes;
  Nn__EditRecord rec = NN__EDIT_RECORD__INIT;
  Nn__BlockRec br = NN__BLOCK_REC__INIT;
  Nn__BlockRec *bp = &br;
  br.id = b->id;
  br.genstamp = b->genstamp;
  br.num_bytes = b->num_bytes;
  rec.op = NN__EDIT_OP__OP_UPDATE_BLOCK;
  rec.has_path = true;
  rec.path.data = (uint8_t *)path;
  rec.path.len = strlen(path);
  rec.n_blocks = 1;
  rec.blocks = &bp;
  if ((rc = nn_log(ns, &rec, &txid)) != 0) goto out;
  LOG_INFO("namenode", "%s: %s: block blk_%" PRIu64 " genstamp %" PRIu64 " -> %" PRIu64
           ", %" PRIu64 " bytes acked, pipeline of %d node(s)", op, path, b->id, old_gs,
           b->genstamp, b->num_bytes, n);
out:
  {
    int src = nn_unlock_sync(ns, txid);
    if (rc == 0) rc = src;
  }
  return rc;
}

/* ---- RPC handlers (registered in nn_rpc.c's table; ctx = the nn_ns) ---- */

static const char *client_of(struct dfs_rpc_call *call, const char *given) {
  return given && *given ? given : dfs_rpc_call_client_name(call);
}

int nn_rpc_update_block_for_pipeline(void *ctx, struct dfs_rpc_call *call,
                                     const ProtobufCMessage *m) {
  const Dfs__UpdateBlockForPipelineRequest *r = (const void *)m;
  struct nn_blk in = {r->block->id, r->block->genstamp, r->block->num_bytes}, out;
  uint64_t offset = 0;
  int rc = nn_ns_update_block_for_pipeline(ctx, client_of(call, r->client_name), &in, &out,
                                           &offset);
  if (rc) return rc;
  Dfs__Block b = DFS__BLOCK__INIT;
  Dfs__LocatedBlock lb = DFS__LOCATED_BLOCK__INIT;
  Dfs__UpdateBlockForPipelineResponse resp = DFS__UPDATE_BLOCK_FOR_PIPELINE_RESPONSE__INIT;
  b.id = out.id;
  b.genstamp = out.genstamp;
  b.num_bytes = out.num_bytes;
  lb.block = &b;
  lb.offset = offset;
  lb.has_under_construction = true;
  lb.under_construction = true;
  resp.block = &lb;
  return dfs_rpc_reply(call, &resp.base);
}

int nn_rpc_update_pipeline(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__UpdatePipelineRequest *r = (const void *)m;
  struct nn_blk ob = {r->old_block->id, r->old_block->genstamp, r->old_block->num_bytes};
  struct nn_blk nb = {r->new_block->id, r->new_block->genstamp, r->new_block->num_bytes};
  int rc = nn_ns_update_pipeline(ctx, client_of(call, r->client_name), &ob, &nb,
                                 (const char *const *)r->new_node_uuids, r->n_new_node_uuids);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return dfs_rpc_reply(call, &e.base);
}
