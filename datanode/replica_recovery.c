/*
 * replica_recovery.c - lease recovery of a block whose writer is gone
 * (HDFS's BlockRecoveryWorker, INIT_REPLICA_RECOVERY and
 * UPDATE_REPLICA_UNDER_RECOVERY).
 *
 * The NameNode names one holder of the block the primary (RECOVER command
 * with the new generation stamp and the holders). The primary asks every
 * holder for its replica (INIT: the holder waits for a previous writer to
 * let go, then answers state, genstamp and bytes on disk), picks the
 * length they can all agree on - a finalized replica's length if there is
 * one, else the shortest replica, which still holds every byte any reader
 * was shown (those were acknowledged by every node) - has each holder cut
 * its replica to that length and finalize it under the new genstamp
 * (UPDATE), and reports COMMIT_BLOCK_SYNCHRONIZATION with the holders that
 * succeeded. The primary talks to itself through the same functions,
 * without a network round trip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "net.h"
#include "replica.h"

#define WRITER_WAIT_MS 3000

int dn_recovery_init(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t new_gs,
                     struct dn_replica *out) {
  struct dn_replica r;
  int64_t dl = dfs_now_ms() + WRITER_WAIT_MS;
  for (;;) {
    if (dn_rmap_get(dn->map, id, &r) < 0)
      return dfs_err_set(DFS_ENOTREPLICA, "initReplicaRecovery: blk_%llu: replica not found",
                         (unsigned long long)id);
    if (!r.writer) break;
    if (dfs_now_ms() >= dl)
      return dfs_err_set(DFS_EAGAIN, "initReplicaRecovery: blk_%llu: a writer is still active",
                         (unsigned long long)id);
    usleep(10000);
  }
  if (r.gs < gs || r.gs >= new_gs)
    return dfs_err_set(DFS_EGENSTAMP,
                       "initReplicaRecovery: blk_%llu: replica genstamp %llu outside [%llu, %llu)",
                       (unsigned long long)id, (unsigned long long)r.gs,
                       (unsigned long long)gs, (unsigned long long)new_gs);
  *out = r;
  return 0;
}

/* Rename a finalized replica's .meta file to the new genstamp. */
static int regenstamp_finalized(dn_ctx *dn, struct dn_replica *r, uint64_t new_gs) {
  char from[4200], to[4200];
  dn_storage_path(dn->storage, r->vol, r->state, r->id, r->gs, true, from, sizeof from);
  dn_storage_path(dn->storage, r->vol, r->state, r->id, new_gs, true, to, sizeof to);
  if (rename(from, to) < 0)
    return dfs_err_set(dfs_err_from_errno(errno), "%s: rename: %s", from, strerror(errno));
  r->gs = new_gs;
  dn_rmap_put(dn->map, r);
  return 0;
}

int dn_recovery_update(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t new_gs,
                       uint64_t new_len) {
  struct dn_replica r;
  int rc = 0;
  if (dn_rmap_get(dn->map, id, &r) < 0)
    return dfs_err_set(DFS_ENOTREPLICA, "updateReplicaUnderRecovery: blk_%llu: replica not found",
                       (unsigned long long)id);
  if (r.state == DN_REPLICA_FINALIZED) {
    if (r.bytes_on_disk != new_len)
      return dfs_err_set(DFS_EINVAL,
                         "updateReplicaUnderRecovery: blk_%llu: finalized with %llu bytes, not %llu",
                         (unsigned long long)id, (unsigned long long)r.bytes_on_disk,
                         (unsigned long long)new_len);
    if (r.gs == new_gs) return 0; /* done before: the primary retried */
    if (r.gs < gs || r.gs > new_gs)
      return dfs_err_set(DFS_EGENSTAMP, "updateReplicaUnderRecovery: blk_%llu: genstamp %llu",
                         (unsigned long long)id, (unsigned long long)r.gs);
    rc = regenstamp_finalized(dn, &r, new_gs);
  } else {
    struct dn_rbw w;
    rc = dn_rbw_recover(dn->storage, dn->map, id, new_gs, new_len, WRITER_WAIT_MS,
                        dn->sync_behind, &w);
    if (rc == 0) rc = dn_rbw_finalize(&w, true);
  }
  if (rc < 0) return rc;
  LOG_INFO("datanode", "recovered blk_%llu: genstamp %llu, %llu bytes, finalized",
           (unsigned long long)id, (unsigned long long)new_gs, (unsigned long long)new_len);
  dn_nn_notify(dn, id, new_gs, new_len, DFS__RECEIVED_DELETED_STATUS__RECEIVED);
  return 0;
}

/* ---- RPC handlers ---------------------------------------------------------- */

int dn_init_replica_recovery(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__InitReplicaRecoveryRequest *req = (const void *)m;
  struct dn_replica r;
  int rc = dn_recovery_init(ctx, req->block->id, req->block->genstamp, req->new_genstamp, &r);
  if (rc < 0) return rc;
  Dfs__InitReplicaRecoveryResponse resp = DFS__INIT_REPLICA_RECOVERY_RESPONSE__INIT;
  resp.state = r.state == DN_REPLICA_FINALIZED ? DFS__REPLICA_STATE__REPLICA_FINALIZED
                                                : DFS__REPLICA_STATE__REPLICA_RBW;
  resp.genstamp = r.gs;
  resp.num_bytes = r.bytes_on_disk;
  return dfs_rpc_reply(call, &resp.base);
}

int dn_update_replica_under_recovery(void *ctx, struct dfs_rpc_call *call,
                                     const ProtobufCMessage *m) {
  const Dfs__UpdateReplicaUnderRecoveryRequest *req = (const void *)m;
  return dn_recovery_update(ctx, req->block->id, req->block->genstamp, req->new_genstamp,
                            req->new_length);
}

/* ---- the primary ----------------------------------------------------------- */

struct holder {
  const Dfs__DatanodeInfo *info;
  bool self;
  bool ok;
  struct dn_replica r;
};

static int holder_init(dn_ctx *dn, struct holder *h, const Dfs__Block *b, uint64_t new_gs) {
  if (h->self) return dn_recovery_init(dn, b->id, b->genstamp, new_gs, &h->r);
  char addr[300];
  dn_info_addr(h->info, addr, sizeof addr);
  Dfs__Block blk = *b;
  Dfs__InitReplicaRecoveryRequest req = DFS__INIT_REPLICA_RECOVERY_REQUEST__INIT;
  req.block = &blk;
  req.new_genstamp = new_gs;
  Dfs__InitReplicaRecoveryResponse *resp = NULL;
  int rc = dfs_rpc_call(dn->client, addr, DFS_M_INIT_REPLICA_RECOVERY, &req.base,
                        &dfs__init_replica_recovery_response__descriptor,
                        (ProtobufCMessage **)&resp, dn->socket_timeout_ms);
  if (rc < 0) return rc;
  h->r = (struct dn_replica){.id = b->id, .gs = resp->genstamp, .bytes_on_disk = resp->num_bytes,
                             .state = resp->state == DFS__REPLICA_STATE__REPLICA_FINALIZED
                                          ? DN_REPLICA_FINALIZED : DN_REPLICA_RBW};
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return 0;
}

static int holder_update(dn_ctx *dn, struct holder *h, const Dfs__Block *b, uint64_t new_gs,
                         uint64_t new_len) {
  if (h->self) return dn_recovery_update(dn, b->id, b->genstamp, new_gs, new_len);
  char addr[300];
  dn_info_addr(h->info, addr, sizeof addr);
  Dfs__Block blk = *b;
  Dfs__UpdateReplicaUnderRecoveryRequest req = DFS__UPDATE_REPLICA_UNDER_RECOVERY_REQUEST__INIT;
  req.block = &blk;
  req.new_genstamp = new_gs;
  req.new_length = new_len;
  ProtobufCMessage *resp = NULL;
  int rc = dfs_rpc_call(dn->client, addr, DFS_M_UPDATE_REPLICA_UNDER_RECOVERY, &req.base,
                        &dfs__empty__descriptor, &resp, dn->socket_timeout_ms);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return rc;
}

int dn_recover_block(dn_ctx *dn, const Dfs__Block *b, Dfs__DatanodeInfo **targets,
                     size_t n_targets, uint64_t new_gs, char ***uuids_out, size_t *n_out,
                     uint64_t *len_out) {
  const char *me = dn_storage_uuid(dn->storage);
  size_t n = n_targets ? n_targets : 1;
  struct holder *hs = calloc(n, sizeof *hs);
  char **uuids = calloc(n, sizeof *uuids);
  int rc = 0;
  if (hs == NULL || uuids == NULL) {
    rc = DFS_ENOMEM;
    goto out;
  }
  if (n_targets == 0) {
    hs[0].self = true; /* no holders named: recover our own replica alone */
  } else {
    for (size_t i = 0; i < n; i++) {
      hs[i].info = targets[i];
      hs[i].self = targets[i]->id && strcmp(targets[i]->id->uuid, me) == 0;
    }
  }
  /* 1. Ask every holder. */
  bool have_fin = false;
  uint64_t fin_len = 0, min_len = UINT64_MAX;
  for (size_t i = 0; i < n; i++) {
    int hrc = holder_init(dn, &hs[i], b, new_gs);
    if (hrc < 0) {
      LOG_WARN("datanode", "recover blk_%llu: holder %zu: %s", (unsigned long long)b->id, i,
               dfs_err_msg());
      continue;
    }
    hs[i].ok = true;
    if (hs[i].r.state == DN_REPLICA_FINALIZED && !have_fin) {
      have_fin = true;
      fin_len = hs[i].r.bytes_on_disk;
    }
    if (hs[i].r.bytes_on_disk < min_len) min_len = hs[i].r.bytes_on_disk;
  }
  /* 2. The agreed length: a finalized replica's, else the shortest. */
  uint64_t len = have_fin ? fin_len : min_len;
  if (len == UINT64_MAX) {
    rc = dfs_err_set(DFS_ENOTREPLICA, "recover blk_%llu: no holder could take part",
                     (unsigned long long)b->id);
    goto out;
  }
  /* 3. Every holder that can cut to it does. */
  size_t nu = 0;
  for (size_t i = 0; i < n; i++) {
    if (!hs[i].ok || hs[i].r.bytes_on_disk < len ||
        (hs[i].r.state == DN_REPLICA_FINALIZED && hs[i].r.bytes_on_disk != len))
      continue;
    if (holder_update(dn, &hs[i], b, new_gs, len) < 0) {
      LOG_WARN("datanode", "recover blk_%llu: holder %zu: %s", (unsigned long long)b->id, i,
               dfs_err_msg());
      continue;
    }
    uuids[nu] = strdup(hs[i].self ? me : hs[i].info->id->uuid);
    if (uuids[nu] != NULL) nu++;
  }
  if (nu == 0) {
    rc = dfs_err_set(DFS_EIO, "recover blk_%llu: no holder could be updated",
                     (unsigned long long)b->id);
    goto out;
  }
  *uuids_out = uuids;
  *n_out = nu;
  *len_out = len;
  uuids = NULL;
out:
  if (uuids) {
    for (size_t i = 0; i < n; i++) free(uuids[i]);
    free(uuids);
  }
  free(hs);
  return rc;
}
