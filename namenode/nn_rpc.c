/*
 * nn_rpc.c - RPC handlers of the NameNode. Each handler decodes nothing by
 * hand (protobuf-c did), builds a struct nn_caller from the connection
 * context (user, client name, peer IP), calls the namesystem, and turns
 * its C structs into protobuf replies. Replies are built on the stack and
 * in a per-call arena freed right after dfs_rpc_reply(), so a handler
 * never leaks on its error paths. Errors travel as the namesystem set them
 * (code + "op: path: why").
 */
#include "nn_rpc.h"

#include <stdlib.h>
#include <string.h>

#include "dfs_methods.h"
#include "errors.h"
#include "log.h"

/* ---- a tiny arena: every allocation of one reply, freed together ---- */
struct arena {
  void **p;
  size_t n, cap;
  bool oom;
};

static void *ar_alloc(struct arena *a, size_t n) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 16;
    void **np = realloc(a->p, nc * sizeof *np);
    if (!np) {
      a->oom = true;
      return NULL;
    }
    a->p = np;
    a->cap = nc;
  }
  void *m = calloc(1, n ? n : 1);
  if (!m) {
    a->oom = true;
    return NULL;
  }
  a->p[a->n++] = m;
  return m;
}

static void ar_free(struct arena *a) {
  for (size_t i = 0; i < a->n; i++) free(a->p[i]);
  free(a->p);
}

static int reply(struct dfs_rpc_call *call, const ProtobufCMessage *m, struct arena *a) {
  int rc = (a && a->oom) ? dfs_err_set(DFS_ENOMEM, "reply: out of memory")
                         : dfs_rpc_reply(call, m);
  if (a) ar_free(a);
  return rc;
}

static void caller_of(struct dfs_rpc_call *call, const char *client_name, struct nn_caller *c) {
  c->user = dfs_rpc_call_user(call);
  c->client_name = client_name && *client_name ? client_name : dfs_rpc_call_client_name(call);
  c->ip = dfs_rpc_call_peer_ip(call);
}

/* ---- conversions ---- */

static Dfs__FileStatus *file_status(struct arena *a, const struct nn_status *s,
                                    const uint8_t *name, size_t name_len) {
  Dfs__FileStatus *f = ar_alloc(a, sizeof *f);
  if (!f) return NULL;
  dfs__file_status__init(f);
  f->type = s->is_dir ? DFS__FILE_TYPE__IS_DIR : DFS__FILE_TYPE__IS_FILE;
  f->name.data = (uint8_t *)name;
  f->name.len = name_len;
  f->has_length = f->has_permission = f->has_mtime = f->has_atime = true;
  f->has_file_id = true;
  f->length = s->length;
  f->permission = s->perm;
  f->owner = (char *)s->owner;
  f->group = (char *)s->group;
  f->mtime = (uint64_t)s->mtime;
  f->atime = (uint64_t)s->atime;
  f->file_id = s->file_id;
  if (s->is_dir) {
    f->has_children_num = true;
    f->children_num = s->children;
  } else {
    f->has_replication = f->has_blocksize = f->has_under_construction = true;
    f->replication = s->replication;
    f->blocksize = s->blocksize;
    f->under_construction = s->under_construction;
  }
  return f;
}

static Dfs__DatanodeInfo *dn_info(struct arena *a, const struct nn_dn_info *d) {
  Dfs__DatanodeInfo *i = ar_alloc(a, sizeof *i);
  Dfs__DatanodeId *id = ar_alloc(a, sizeof *id);
  if (!i || !id) return NULL;
  dfs__datanode_info__init(i);
  dfs__datanode_id__init(id);
  id->uuid = (char *)d->uuid;
  id->host = (char *)d->host;
  id->port = d->port;
  id->hostname = (char *)d->hostname;
  i->id = id;
  i->rack = (char *)d->rack;
  i->has_capacity = i->has_dfs_used = i->has_remaining = i->has_xceivers = true;
  i->has_last_update_ms = i->has_dead = i->has_num_blocks = i->has_failed_volumes = true;
  i->capacity = d->capacity;
  i->dfs_used = d->dfs_used;
  i->remaining = d->remaining;
  i->xceivers = d->xceivers;
  i->last_update_ms = d->last_update_ms > 0 ? (uint64_t)d->last_update_ms : 0;
  i->dead = d->dead;
  i->num_blocks = d->num_blocks;
  i->failed_volumes = d->failed_volumes;
  i->has_admin_state = true;
  i->admin_state = (Dfs__AdminState)d->admin_state;
  return i;
}

static Dfs__LocatedBlock *located_block(struct arena *a, const struct nn_located_block *lb) {
  Dfs__LocatedBlock *l = ar_alloc(a, sizeof *l);
  Dfs__Block *b = ar_alloc(a, sizeof *b);
  Dfs__DatanodeInfo **locs = ar_alloc(a, (lb->nlocs ? lb->nlocs : 1) * sizeof *locs);
  if (!l || !b || !locs) return NULL;
  dfs__located_block__init(l);
  dfs__block__init(b);
  b->id = lb->b.id;
  b->genstamp = lb->b.genstamp;
  b->num_bytes = lb->b.num_bytes;
  l->block = b;
  l->offset = lb->offset;
  for (size_t i = 0; i < lb->nlocs; i++)
    if (!(locs[i] = dn_info(a, &lb->locs[i]))) return NULL;
  l->n_locs = lb->nlocs;
  l->locs = locs;
  l->has_corrupt = l->has_under_construction = true;
  l->corrupt = lb->corrupt;
  l->under_construction = lb->under_construction;
  return l;
}

static bool blk_in(const Dfs__Block *b, struct nn_blk *o) {
  if (!b) return false;
  o->id = b->id;
  o->genstamp = b->genstamp;
  o->num_bytes = b->num_bytes;
  return true;
}

/* ---- client -> namenode ---- */

static int h_ping(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_mkdirs(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__MkdirsRequest *r = (const void *)m;
  struct nn_caller c;
  caller_of(call, NULL, &c);
  int rc = nn_ns_mkdirs(ctx, &c, r->path.data, r->path.len, r->permission, r->create_parent);
  if (rc) return rc;
  Dfs__MkdirsResponse resp = DFS__MKDIRS_RESPONSE__INIT;
  resp.result = true;
  return reply(call, &resp.base, NULL);
}

static int h_create(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__CreateRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_status st;
  struct arena a = {0};
  caller_of(call, r->client_name, &c);
  int rc = nn_ns_create(ctx, &c, r->path.data, r->path.len, r->permission, r->overwrite,
                        r->create_parent, r->has_replication ? r->replication : 0,
                        r->has_blocksize ? r->blocksize : 0, &st);
  if (rc) return rc;
  Dfs__CreateResponse resp = DFS__CREATE_RESPONSE__INIT;
  resp.status = file_status(&a, &st, r->path.data, r->path.len);
  return reply(call, &resp.base, &a);
}

static int h_add_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__AddBlockRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_blk prev;
  struct nn_located_blocks lb;
  struct arena a = {0};
  caller_of(call, r->client_name, &c);
  int rc = nn_ns_add_block(ctx, &c, r->path.data, r->path.len,
                           blk_in(r->previous, &prev) ? &prev : NULL,
                           (const char *const *)r->exclude_uuids, r->n_exclude_uuids,
                           r->has_file_id ? r->file_id : 0,
                           r->has_sync_later && r->sync_later, &lb);
  if (rc) return rc;
  Dfs__AddBlockResponse resp = DFS__ADD_BLOCK_RESPONSE__INIT;
  resp.block = located_block(&a, &lb.blocks[0]);
  if (!resp.block) a.oom = true;
  rc = reply(call, &resp.base, &a);
  nn_located_blocks_free(&lb);
  return rc;
}

static int h_abandon_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__AbandonBlockRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_blk b;
  caller_of(call, r->client_name, &c);
  blk_in(r->block, &b);
  int rc = nn_ns_abandon_block(ctx, &c, r->path.data, r->path.len, &b);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_complete(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__CompleteRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_blk last;
  bool done = false;
  caller_of(call, r->client_name, &c);
  int rc = nn_ns_complete(ctx, &c, r->path.data, r->path.len,
                          blk_in(r->last, &last) ? &last : NULL,
                          r->has_file_id ? r->file_id : 0, &done);
  if (rc) return rc;
  Dfs__CompleteResponse resp = DFS__COMPLETE_RESPONSE__INIT;
  resp.result = done;
  return reply(call, &resp.base, NULL);
}

static int h_fsync(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__FsyncRequest *r = (const void *)m;
  struct nn_caller c;
  caller_of(call, r->client_name, &c);
  int rc = nn_ns_fsync(ctx, &c, r->path.data, r->path.len, r->has_last_block_length,
                       r->last_block_length);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_get_block_locations(void *ctx, struct dfs_rpc_call *call,
                                 const ProtobufCMessage *m) {
  const Dfs__GetBlockLocationsRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_located_blocks lb;
  struct arena a = {0};
  caller_of(call, NULL, &c);
  int rc = nn_ns_get_block_locations(ctx, &c, r->path.data, r->path.len,
                                     r->has_offset ? r->offset : 0,
                                     r->has_length ? r->length : UINT64_MAX, &lb);
  if (rc) return rc;
  Dfs__GetBlockLocationsResponse resp = DFS__GET_BLOCK_LOCATIONS_RESPONSE__INIT;
  Dfs__LocatedBlocks *l = ar_alloc(&a, sizeof *l);
  Dfs__LocatedBlock **bl = ar_alloc(&a, (lb.n ? lb.n : 1) * sizeof *bl);
  if (l && bl) {
    dfs__located_blocks__init(l);
    l->file_length = lb.file_length;
    l->has_under_construction = true;
    l->under_construction = lb.under_construction;
    for (size_t i = 0; i < lb.n; i++)
      if (!(bl[i] = located_block(&a, &lb.blocks[i]))) a.oom = true;
    l->n_blocks = lb.n;
    l->blocks = bl;
    if (lb.has_last) {
      l->last_block = located_block(&a, &lb.last);
      l->has_last_block_complete = true;
      l->last_block_complete = lb.last_complete;
    }
    resp.locations = l;
  }
  rc = reply(call, &resp.base, &a);
  nn_located_blocks_free(&lb);
  return rc;
}

static int h_get_file_info(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__GetFileInfoRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_status st;
  struct arena a = {0};
  caller_of(call, NULL, &c);
  int rc = nn_ns_get_file_info(ctx, &c, r->path.data, r->path.len, &st);
  Dfs__GetFileInfoResponse resp = DFS__GET_FILE_INFO_RESPONSE__INIT;
  /* absent: no such path (also below a file, as HDFS answers null) */
  if (rc == DFS_ENOENT || rc == DFS_ENOTDIR) return reply(call, &resp.base, NULL);
  if (rc) return rc;
  resp.status = file_status(&a, &st, r->path.data, r->path.len);
  return reply(call, &resp.base, &a);
}

static int h_get_listing(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__GetListingRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_listing l;
  struct arena a = {0};
  caller_of(call, NULL, &c);
  int rc = nn_ns_get_listing(ctx, &c, r->path.data, r->path.len,
                             r->has_start_after ? r->start_after.data : NULL,
                             r->has_start_after ? r->start_after.len : 0, &l);
  if (rc) return rc;
  Dfs__GetListingResponse resp = DFS__GET_LISTING_RESPONSE__INIT;
  Dfs__FileStatus **e = ar_alloc(&a, (l.n ? l.n : 1) * sizeof *e);
  if (e) {
    for (size_t i = 0; i < l.n; i++)
      if (!(e[i] = file_status(&a, &l.entries[i], (const uint8_t *)l.entries[i].name,
                               l.entries[i].name_len)))
        a.oom = true;
    resp.entries = e;
    resp.n_entries = l.n;
  }
  resp.remaining = l.remaining;
  if (l.is_file) resp.dir = file_status(&a, &l.self, r->path.data, r->path.len);
  rc = reply(call, &resp.base, &a);
  nn_listing_free(&l);
  return rc;
}

static int h_rename(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__RenameRequest *r = (const void *)m;
  struct nn_caller c;
  bool res = false;
  caller_of(call, NULL, &c);
  int rc = nn_ns_rename(ctx, &c, r->src.data, r->src.len, r->dst.data, r->dst.len,
                        r->overwrite, &res);
  if (rc) return rc;
  Dfs__RenameResponse resp = DFS__RENAME_RESPONSE__INIT;
  resp.result = res;
  return reply(call, &resp.base, NULL);
}

static int h_delete(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__DeleteRequest *r = (const void *)m;
  struct nn_caller c;
  bool res = false;
  caller_of(call, NULL, &c);
  int rc = nn_ns_delete(ctx, &c, r->path.data, r->path.len, r->recursive, &res);
  if (rc) return rc;
  Dfs__DeleteResponse resp = DFS__DELETE_RESPONSE__INIT;
  resp.result = res;
  return reply(call, &resp.base, NULL);
}

static int h_set_permission(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__SetPermissionRequest *r = (const void *)m;
  struct nn_caller c;
  caller_of(call, NULL, &c);
  int rc = nn_ns_set_permission(ctx, &c, r->path.data, r->path.len, r->permission);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_set_owner(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__SetOwnerRequest *r = (const void *)m;
  struct nn_caller c;
  caller_of(call, NULL, &c);
  int rc = nn_ns_set_owner(ctx, &c, r->path.data, r->path.len, r->owner, r->group);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_set_replication(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__SetReplicationRequest *r = (const void *)m;
  struct nn_caller c;
  bool res = false;
  caller_of(call, NULL, &c);
  int rc = nn_ns_set_replication(ctx, &c, r->path.data, r->path.len, r->replication, &res);
  if (rc) return rc;
  Dfs__SetReplicationResponse resp = DFS__SET_REPLICATION_RESPONSE__INIT;
  resp.result = res;
  return reply(call, &resp.base, NULL);
}

static int h_set_times(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__SetTimesRequest *r = (const void *)m;
  struct nn_caller c;
  caller_of(call, NULL, &c);
  int rc = nn_ns_set_times(ctx, &c, r->path.data, r->path.len,
                           r->has_mtime ? (int64_t)r->mtime : -1,
                           r->has_atime ? (int64_t)r->atime : -1);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_content_summary(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__GetContentSummaryRequest *r = (const void *)m;
  struct nn_caller c;
  struct nn_content_summary s;
  caller_of(call, NULL, &c);
  int rc = nn_ns_content_summary(ctx, &c, r->path.data, r->path.len, &s);
  if (rc) return rc;
  Dfs__ContentSummary resp = DFS__CONTENT_SUMMARY__INIT;
  resp.length = s.length;
  resp.file_count = s.file_count;
  resp.directory_count = s.directory_count;
  resp.space_consumed = s.space_consumed;
  return reply(call, &resp.base, NULL);
}

static int h_renew_lease(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__RenewLeaseRequest *r = (const void *)m;
  struct nn_caller c;
  caller_of(call, r->client_name, &c);
  int rc = nn_ns_renew_lease(ctx, &c, r->client_name);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_report_bad_blocks(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__ReportBadBlocksRequest *r = (const void *)m;
  for (size_t i = 0; i < r->n_blocks; i++) {
    struct nn_blk b;
    if (!blk_in(r->blocks[i]->block, &b)) continue;
    for (size_t k = 0; k < r->blocks[i]->n_locs; k++) {
      const Dfs__DatanodeInfo *d = r->blocks[i]->locs[k];
      if (d && d->id) nn_ns_report_bad_block(ctx, &b, d->id->uuid); /* unknown replicas: ignored */
    }
  }
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_datanode_report(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__GetDatanodeReportRequest *r = (const void *)m;
  struct nn_dn_info *v = NULL;
  size_t n = 0;
  struct arena a = {0};
  int rc = nn_ns_datanode_report(ctx, (int)r->type, &v, &n);
  if (rc) return rc;
  Dfs__GetDatanodeReportResponse resp = DFS__GET_DATANODE_REPORT_RESPONSE__INIT;
  Dfs__DatanodeInfo **nodes = ar_alloc(&a, (n ? n : 1) * sizeof *nodes);
  if (nodes) {
    for (size_t i = 0; i < n; i++)
      if (!(nodes[i] = dn_info(&a, &v[i]))) a.oom = true;
    resp.nodes = nodes;
    resp.n_nodes = n;
  }
  rc = reply(call, &resp.base, &a);
  free(v);
  return rc;
}

static int h_fs_stats(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  struct nn_fs_stats s;
  int rc = nn_ns_fs_stats(ctx, &s);
  if (rc) return rc;
  Dfs__FsStats r = DFS__FS_STATS__INIT;
  r.capacity = s.capacity;
  r.used = s.used;
  r.remaining = s.remaining;
  r.has_under_replicated = r.has_corrupt_blocks = r.has_missing_blocks = r.has_blocks = true;
  r.has_files = r.has_directories = r.has_safe_mode = true;
  r.under_replicated = s.under_replicated;
  r.corrupt_blocks = s.corrupt_blocks;
  r.missing_blocks = s.missing_blocks;
  r.blocks = s.blocks;
  r.files = s.files;
  r.directories = s.directories;
  r.safe_mode = s.safe_mode;
  return reply(call, &r.base, NULL);
}

static int h_server_defaults(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const struct nn_config *cfg = nn_ns_config(ctx);
  Dfs__ServerDefaults r = DFS__SERVER_DEFAULTS__INIT;
  r.blocksize = cfg->default_blocksize;
  r.bytes_per_checksum = cfg->bytes_per_checksum;
  r.write_packet_size = cfg->write_packet_size;
  r.replication = cfg->default_replication;
  return reply(call, &r.base, NULL);
}

static int h_recover_lease(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__RecoverLeaseRequest *r = (const void *)m;
  struct nn_caller c;
  bool closed = false;
  caller_of(call, r->client_name, &c);
  int rc = nn_ns_recover_lease(ctx, &c, r->path.data, r->path.len, &closed);
  if (rc) return rc;
  Dfs__RecoverLeaseResponse resp = DFS__RECOVER_LEASE_RESPONSE__INIT;
  resp.result = closed;
  return reply(call, &resp.base, NULL);
}

static int h_safe_mode(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__SetSafeModeRequest *r = (const void *)m;
  struct nn_caller c;
  bool in = false;
  caller_of(call, NULL, &c);
  int rc = nn_ns_safe_mode(ctx, &c, (int)r->action, &in);
  if (rc) return rc;
  Dfs__SetSafeModeResponse resp = DFS__SET_SAFE_MODE_RESPONSE__INIT;
  resp.in_safe_mode = in;
  return reply(call, &resp.base, NULL);
}

static int h_refresh_nodes(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  (void)m;
  struct nn_caller c;
  caller_of(call, NULL, &c);
  int rc = nn_ns_refresh_nodes(ctx, &c);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

/* ---- datanode -> namenode ---- */

static int h_register(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__RegisterDatanodeRequest *r = (const void *)m;
  struct nn_dn_stats st = {.capacity = r->capacity, .dfs_used = r->dfs_used,
                           .remaining = r->remaining};
  const char *host = NULL;
  int rc = nn_ns_register_datanode(ctx, r->id->uuid, r->id->host, r->id->port,
                                   r->id->hostname, dfs_rpc_call_peer_ip(call), &st, &host);
  if (rc) return rc;
  Dfs__RegisterDatanodeResponse resp = DFS__REGISTER_DATANODE_RESPONSE__INIT;
  Dfs__DatanodeId id = *r->id;
  id.host = (char *)host;
  resp.id = &id;
  return reply(call, &resp.base, NULL);
}

static int h_heartbeat(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__HeartbeatRequest *r = (const void *)m;
  struct nn_dn_stats st = {.capacity = r->capacity, .dfs_used = r->dfs_used,
                           .remaining = r->remaining, .xceivers = r->xceivers,
                           .failed_volumes = r->failed_volumes};
  struct nn_dn_commands cmds;
  struct arena a = {0};
  int rc = nn_ns_heartbeat(ctx, r->uuid, &st, &cmds);
  if (rc) return rc;
  Dfs__HeartbeatResponse resp = DFS__HEARTBEAT_RESPONSE__INIT;
  Dfs__DatanodeCommand **cv = ar_alloc(&a, (3 + cmds.nrecover) * sizeof *cv);
  Dfs__DatanodeCommand c0 = DFS__DATANODE_COMMAND__INIT, c1 = DFS__DATANODE_COMMAND__INIT;
  Dfs__DatanodeCommand c2 = DFS__DATANODE_COMMAND__INIT;
  size_t nc = 0;
  if (!cv) {
    nn_dn_commands_free(&cmds);
    ar_free(&a);
    return dfs_err_set(DFS_ENOMEM, "heartbeat: out of memory");
  }
  /* One RECOVER command per block: new_genstamp is per command. */
  for (size_t i = 0; i < cmds.nrecover; i++) {
    const struct nn_dn_recover *rv = &cmds.recover[i];
    Dfs__DatanodeCommand *dc = ar_alloc(&a, sizeof *dc);
    Dfs__Block *b = ar_alloc(&a, sizeof *b);
    Dfs__Block **bp = ar_alloc(&a, sizeof *bp);
    Dfs__BlockTargets *t = ar_alloc(&a, sizeof *t);
    Dfs__BlockTargets **tp = ar_alloc(&a, sizeof *tp);
    Dfs__DatanodeInfo **hs = ar_alloc(&a, (rv->nholders ? rv->nholders : 1) * sizeof *hs);
    if (!dc || !b || !bp || !t || !tp || !hs) break;
    dfs__datanode_command__init(dc);
    dfs__block__init(b);
    dfs__block_targets__init(t);
    b->id = rv->b.id;
    b->genstamp = rv->b.genstamp;
    b->num_bytes = rv->b.num_bytes;
    bp[0] = b;
    for (size_t k = 0; k < rv->nholders; k++)
      if (!(hs[k] = dn_info(&a, &rv->holders[k]))) a.oom = true;
    t->n_targets = rv->nholders;
    t->targets = hs;
    tp[0] = t;
    dc->action = DFS__COMMAND_ACTION__RECOVER;
    dc->n_blocks = 1;
    dc->blocks = bp;
    dc->n_targets = 1;
    dc->targets = tp;
    dc->has_new_genstamp = true;
    dc->new_genstamp = rv->new_genstamp;
    cv[nc++] = dc;
  }
  /* One TRANSFER command: blocks[i] goes to the pipeline targets[i]. */
  if (cmds.ntransfer) {
    size_t nt = cmds.ntransfer;
    Dfs__Block *bs = ar_alloc(&a, nt * sizeof *bs);
    Dfs__Block **bp = ar_alloc(&a, nt * sizeof *bp);
    Dfs__BlockTargets *ts = ar_alloc(&a, nt * sizeof *ts);
    Dfs__BlockTargets **tp = ar_alloc(&a, nt * sizeof *tp);
    if (bs && bp && ts && tp) {
      for (size_t i = 0; i < nt; i++) {
        const struct nn_dn_transfer *x = &cmds.transfer[i];
        dfs__block__init(&bs[i]);
        bs[i].id = x->b.id;
        bs[i].genstamp = x->b.genstamp;
        bs[i].num_bytes = x->b.num_bytes;
        bp[i] = &bs[i];
        dfs__block_targets__init(&ts[i]);
        Dfs__DatanodeInfo **hs = ar_alloc(&a, (x->ntargets ? x->ntargets : 1) * sizeof *hs);
        if (!hs) {
          a.oom = true;
          break;
        }
        for (size_t k = 0; k < x->ntargets; k++)
          if (!(hs[k] = dn_info(&a, &x->targets[k]))) a.oom = true;
        ts[i].targets = hs;
        ts[i].n_targets = x->ntargets;
        tp[i] = &ts[i];
      }
      c2.action = DFS__COMMAND_ACTION__TRANSFER;
      c2.n_blocks = nt;
      c2.blocks = bp;
      c2.n_targets = nt;
      c2.targets = tp;
      cv[nc++] = &c2;
    } else {
      a.oom = true;
    }
  }
  if (cmds.reregister) {
    c0.action = DFS__COMMAND_ACTION__REREGISTER;
    cv[nc++] = &c0;
  }
  if (cmds.ninvalidate) {
    Dfs__Block *bs = ar_alloc(&a, cmds.ninvalidate * sizeof *bs);
    Dfs__Block **bp = ar_alloc(&a, cmds.ninvalidate * sizeof *bp);
    if (bs && bp) {
      for (size_t i = 0; i < cmds.ninvalidate; i++) {
        dfs__block__init(&bs[i]);
        bs[i].id = cmds.invalidate[3 * i];
        bs[i].genstamp = cmds.invalidate[3 * i + 1];
        bs[i].num_bytes = cmds.invalidate[3 * i + 2];
        bp[i] = &bs[i];
      }
      c1.action = DFS__COMMAND_ACTION__INVALIDATE;
      c1.n_blocks = cmds.ninvalidate;
      c1.blocks = bp;
      cv[nc++] = &c1;
    }
  }
  resp.n_commands = nc;
  resp.commands = cv;
  resp.has_in_safe_mode = true;
  resp.in_safe_mode = cmds.in_safe_mode;
  rc = reply(call, &resp.base, &a);
  nn_dn_commands_free(&cmds);
  return rc;
}

static int h_block_report(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__BlockReportRequest *r = (const void *)m;
  if (r->n_finalized % 3 || r->n_under_construction % 3)
    return dfs_err_set(DFS_EPROTO, "blockReport: replicas must come as (id, genstamp, length) "
                       "triples; got %zu and %zu numbers",
                       r->n_finalized, r->n_under_construction);
  int rc = nn_ns_block_report(ctx, r->uuid, r->finalized, r->n_finalized / 3,
                              r->under_construction, r->n_under_construction / 3);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_block_received(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__BlockReceivedAndDeletedRequest *r = (const void *)m;
  for (size_t i = 0; i < r->n_blocks; i++) {
    struct nn_blk b;
    if (!blk_in(r->blocks[i]->block, &b)) continue;
    int rc = nn_ns_block_received(ctx, r->uuid, &b, (int)r->blocks[i]->status);
    if (rc) return rc;
  }
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

static int h_commit_sync(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__CommitBlockSynchronizationRequest *r = (const void *)m;
  struct nn_blk b;
  blk_in(r->block, &b);
  int rc = nn_ns_commit_block_sync(ctx, &b, r->new_genstamp, r->new_length,
                                   (const char *const *)r->uuids, r->n_uuids, r->close_file,
                                   r->delete_block);
  if (rc) return rc;
  Dfs__Empty e = DFS__EMPTY__INIT;
  return reply(call, &e.base, NULL);
}

/* Pipeline recovery handlers (ns_pipeline.c). */
int nn_rpc_update_block_for_pipeline(void *ctx, struct dfs_rpc_call *call,
                                     const ProtobufCMessage *m);
int nn_rpc_update_pipeline(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m);

#define M(name, req, fn) {DFS_M_##name, #name, &req##__descriptor, fn, 0}
static const struct dfs_rpc_method methods[] = {
    M(PING, dfs__empty, h_ping),
    M(MKDIRS, dfs__mkdirs_request, h_mkdirs),
    M(CREATE, dfs__create_request, h_create),
    M(ADD_BLOCK, dfs__add_block_request, h_add_block),
    M(ABANDON_BLOCK, dfs__abandon_block_request, h_abandon_block),
    M(COMPLETE, dfs__complete_request, h_complete),
    M(FSYNC, dfs__fsync_request, h_fsync),
    M(GET_BLOCK_LOCATIONS, dfs__get_block_locations_request, h_get_block_locations),
    M(GET_FILE_INFO, dfs__get_file_info_request, h_get_file_info),
    M(GET_LISTING, dfs__get_listing_request, h_get_listing),
    M(RENAME, dfs__rename_request, h_rename),
    M(DELETE, dfs__delete_request, h_delete),
    M(SET_PERMISSION, dfs__set_permission_request, h_set_permission),
    M(SET_OWNER, dfs__set_owner_request, h_set_owner),
    M(SET_REPLICATION, dfs__set_replication_request, h_set_replication),
    M(SET_TIMES, dfs__set_times_request, h_set_times),
    M(GET_CONTENT_SUMMARY, dfs__get_content_summary_request, h_content_summary),
    M(RENEW_LEASE, dfs__renew_lease_request, h_renew_lease),
    M(REPORT_BAD_BLOCKS, dfs__report_bad_blocks_request, h_report_bad_blocks),
    M(GET_DATANODE_REPORT, dfs__get_datanode_report_request, h_datanode_report),
    M(GET_FS_STATS, dfs__empty, h_fs_stats),
    M(GET_SERVER_DEFAULTS, dfs__empty, h_server_defaults),
    M(RECOVER_LEASE, dfs__recover_lease_request, h_recover_lease),
    M(SET_SAFE_MODE, dfs__set_safe_mode_request, h_safe_mode),
    M(REFRESH_NODES, dfs__empty, h_refresh_nodes),
    M(UPDATE_BLOCK_FOR_PIPELINE, dfs__update_block_for_pipeline_request,
      nn_rpc_update_block_for_pipeline),
    M(UPDATE_PIPELINE, dfs__update_pipeline_request, nn_rpc_update_pipeline),
    M(REGISTER_DATANODE, dfs__register_datanode_request, h_register),
    M(HEARTBEAT, dfs__heartbeat_request, h_heartbeat),
    M(BLOCK_REPORT, dfs__block_report_request, h_block_report),
    M(BLOCK_RECEIVED_AND_DELETED, dfs__block_received_and_deleted_request, h_block_received),
    M(COMMIT_BLOCK_SYNCHRONIZATION, dfs__commit_block_synchronization_request, h_commit_sync),
};

const struct dfs_rpc_method *nn_rpc_methods(size_t *n) {
  *n = sizeof methods / sizeof methods[0];
  return methods;
}
