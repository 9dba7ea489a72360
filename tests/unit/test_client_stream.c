/*
 * test_client_stream.c - the client library's write and read paths against
 * an in-process fake cluster (no daemons).
 *
 * One dfs_rpc_server plays both the NameNode (dialled as 127.0.0.1) and a
 * DataNode (named "localhost" in located blocks, so that its connections
 * are pooled apart from the NameNode's, as in a real cluster), so the tests see exactly what the client puts
 * on the wire: packet offsets, sequence numbers, sizes and checksums, the
 * hflush partial-chunk resend, SYNC and LAST flags, the previous-block
 * lengths given to ADD_BLOCK, COMPLETE retried while it answers false, and
 * on the read side checksum verification with failover and a bad-block
 * report. Failures are injected through the fake's state.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "dfs.h"
#include "dfs_methods.h"
#include "errors.h"
#include "net.h"
#include "packet.h"
#include "rpc.h"

#define BLOCKSIZE (200 * 1024) /* 400 chunks: small blocks, several per file */
#define MAX_BLOCKS 16
#define MAX_PKTS 4096

struct pkt_rec {
  int block;
  int64_t offset, seqno;
  uint32_t len;
  uint8_t flags;
};

/* The fake cluster. mu guards everything below it. */
struct fake {
  dfs_rpc_server *srv;
  int port;
  /* Bumped by fake_reset: a write stream of an earlier test, still
   * draining packets its client sent before it went away, stops rather
   * than take this test's injected faults (a one-shot drop, a failed ack)
   * or touch its blocks. Guarded by mu. */
  int epoch;
  pthread_mutex_t mu;
  int nblocks;
  uint64_t blk_len[MAX_BLOCKS];       /* bytes the "replica" holds */
  uint8_t *blk_data[MAX_BLOCKS];
  uint64_t prev_len[MAX_BLOCKS];      /* ADD_BLOCK's previous.num_bytes (-1: absent) */
  int has_prev[MAX_BLOCKS];
  struct pkt_rec pkts[MAX_PKTS];
  int npkts;
  int bad_offset_pkts;                /* packets that broke the offset rule */
  int bad_sum_pkts;
  int complete_calls, complete_false; /* answer false this many times */
  uint64_t complete_last_len;
  int fail_ack_seqno;                 /* ack this seqno with DFS_ECHECKSUM (-2: never) */
  int drop_at_seqno;                  /* close the pipeline at this seqno (-2: never) */
  int corrupt_reads;                  /* corrupt the data of this many READ_BLOCK streams */
  int bad_reports;
  int heartbeats;                     /* seqno -1 packets */
  int refuse_writes;                  /* refuse this many WRITE_BLOCK setups */
  int abandons;
  size_t last_excluded;               /* exclude_uuids of the last ADD_BLOCK */
  int loc_calls;                      /* GET_BLOCK_LOCATIONS served */
  int dead_port;                      /* != 0: first locations name this port only */
  char bad_report_uuid[64];
  /* pipeline recovery */
  int nlocs;                          /* nodes per pipeline (dn-A, dn-B, dn-C; 0: 1) */
  int fail_ack_index;                 /* slot of fail_ack_seqno's failed status */
  int ubfp_calls;                     /* UPDATE_BLOCK_FOR_PIPELINE */
  uint64_t gs;                        /* last genstamp handed out (0: 1) */
  int recover_setups;                 /* WRITE_BLOCK with STAGE_RECOVERY */
  uint64_t recover_min_bytes, recover_gs, recover_latest_gs;
  size_t recover_ntargets;
  int up_calls;                       /* UPDATE_PIPELINE */
  char up_uuids[128];
  uint64_t up_gs, up_old_gs, up_len;
  uint64_t complete_last_gs;
  int fail_last_index;                /* != 0: fail the LAST packet's ack at slot index-1 (once) */
};

static struct fake F;

/* Test code touching F while server threads may: under F.mu. */
#define LOCKED(...)                \
  do {                             \
    pthread_mutex_lock(&F.mu);     \
    __VA_ARGS__;                   \
    pthread_mutex_unlock(&F.mu);   \
  } while (0)

/* A DatanodeInfo for the fake DataNode in caller-provided storage. */
static Dfs__DatanodeInfo *make_dn(Dfs__DatanodeId *id, Dfs__DatanodeInfo *di, const char *uuid) {
  Dfs__DatanodeId id0 = DFS__DATANODE_ID__INIT;
  Dfs__DatanodeInfo di0 = DFS__DATANODE_INFO__INIT;
  *id = id0;
  *di = di0;
  id->uuid = (char *)uuid;
  id->host = "localhost"; /* not the NameNode's address: its own connection pool */
  id->port = (uint32_t)F.port;
  di->id = id;
  return di;
}

static int h_defaults(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  (void)req;
  Dfs__ServerDefaults d = DFS__SERVER_DEFAULTS__INIT;
  d.blocksize = BLOCKSIZE;
  d.bytes_per_checksum = DFS_CHUNK_SIZE;
  d.write_packet_size = 65536;
  d.replication = 1;
  return dfs_rpc_reply(call, &d.base);
}

static int h_create(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__CreateRequest *r = (const Dfs__CreateRequest *)req;
  Dfs__CreateResponse resp = DFS__CREATE_RESPONSE__INIT;
  Dfs__FileStatus st = DFS__FILE_STATUS__INIT;
  st.type = DFS__FILE_TYPE__IS_FILE;
  st.name = r->path;
  st.has_file_id = 1;
  st.file_id = 42;
  st.has_blocksize = 1;
  st.blocksize = r->blocksize;
  resp.status = &st;
  return dfs_rpc_reply(call, &resp.base);
}

static int h_add_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__AddBlockRequest *r = (const Dfs__AddBlockRequest *)req;
  pthread_mutex_lock(&F.mu);
  int b = F.nblocks++;
  if (b >= MAX_BLOCKS) {
    pthread_mutex_unlock(&F.mu);
    return dfs_err_set(DFS_EINVAL, "too many blocks");
  }
  F.last_excluded = r->n_exclude_uuids;
  F.has_prev[b] = r->previous != NULL;
  F.prev_len[b] = r->previous ? r->previous->num_bytes : 0;
  F.blk_data[b] = calloc(1, BLOCKSIZE);
  uint64_t off = 0;
  for (int i = 0; i < b; i++) off += F.blk_len[i];
  pthread_mutex_unlock(&F.mu);
  Dfs__AddBlockResponse resp = DFS__ADD_BLOCK_RESPONSE__INIT;
  Dfs__LocatedBlock lb = DFS__LOCATED_BLOCK__INIT;
  Dfs__Block blk = DFS__BLOCK__INIT;
  blk.id = 1000 + (uint64_t)b;
  blk.genstamp = 1;
  lb.block = &blk;
  lb.offset = off;
  Dfs__DatanodeId id[3];
  Dfs__DatanodeInfo di[3];
  Dfs__DatanodeInfo *locs[3] = {make_dn(&id[0], &di[0], "dn-A"), make_dn(&id[1], &di[1], "dn-B"),
                                make_dn(&id[2], &di[2], "dn-C")};
  lb.locs = locs;
  pthread_mutex_lock(&F.mu);
  lb.n_locs = F.nlocs > 0 && F.nlocs <= 3 ? (size_t)F.nlocs : 1;
  blk.genstamp = F.gs ? ++F.gs : 1;
  if (F.gs == 0) F.gs = 1;
  pthread_mutex_unlock(&F.mu);
  resp.block = &lb;
  return dfs_rpc_reply(call, &resp.base);
}

/* Pipeline recovery: a new genstamp for the block. */
static int h_update_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__UpdateBlockForPipelineRequest *r = (const Dfs__UpdateBlockForPipelineRequest *)req;
  Dfs__UpdateBlockForPipelineResponse resp = DFS__UPDATE_BLOCK_FOR_PIPELINE_RESPONSE__INIT;
  Dfs__LocatedBlock lb = DFS__LOCATED_BLOCK__INIT;
  Dfs__Block blk = *r->block;
  pthread_mutex_lock(&F.mu);
  F.ubfp_calls++;
  if (F.gs == 0) F.gs = 1;
  blk.genstamp = ++F.gs;
  pthread_mutex_unlock(&F.mu);
  lb.block = &blk;
  resp.block = &lb;
  return dfs_rpc_reply(call, &resp.base);
}

static int h_update_pipeline(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  (void)call;
  const Dfs__UpdatePipelineRequest *r = (const Dfs__UpdatePipelineRequest *)req;
  pthread_mutex_lock(&F.mu);
  F.up_calls++;
  F.up_gs = r->new_block->genstamp;
  F.up_old_gs = r->old_block->genstamp;
  F.up_len = r->new_block->num_bytes;
  F.up_uuids[0] = 0;
  for (size_t i = 0; i < r->n_new_node_uuids; i++) {
    size_t l = strlen(F.up_uuids);
    snprintf(F.up_uuids + l, sizeof F.up_uuids - l, "%s%s", i ? "," : "", r->new_node_uuids[i]);
  }
  pthread_mutex_unlock(&F.mu);
  return 0;
}

static int h_complete(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__CompleteRequest *r = (const Dfs__CompleteRequest *)req;
  Dfs__CompleteResponse resp = DFS__COMPLETE_RESPONSE__INIT;
  pthread_mutex_lock(&F.mu);
  F.complete_calls++;
  F.complete_last_len = r->last ? r->last->num_bytes : 0;
  F.complete_last_gs = r->last ? r->last->genstamp : 0;
  resp.result = F.complete_calls > F.complete_false;
  pthread_mutex_unlock(&F.mu);
  return dfs_rpc_reply(call, &resp.base);
}

static int h_abandon(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  (void)call;
  (void)req;
  pthread_mutex_lock(&F.mu);
  F.abandons++;
  F.blk_len[F.nblocks - 1] = 0; /* the abandoned block holds nothing */
  pthread_mutex_unlock(&F.mu);
  return 0;
}

static int h_empty(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  (void)call;
  (void)req;
  return 0;
}

static int h_report_bad(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  (void)call;
  const Dfs__ReportBadBlocksRequest *r = (const Dfs__ReportBadBlocksRequest *)req;
  pthread_mutex_lock(&F.mu);
  F.bad_reports++;
  if (r->n_blocks && r->blocks[0]->n_locs)
    snprintf(F.bad_report_uuid, sizeof F.bad_report_uuid, "%s", r->blocks[0]->locs[0]->id->uuid);
  pthread_mutex_unlock(&F.mu);
  return 0;
}

/* The DataNode's receiving end: the offset rule of the contract, checksums,
 * one ack per packet (and per heartbeat). */
static int h_write_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__WriteBlockRequest *r = (const Dfs__WriteBlockRequest *)req;
  int b = (int)(r->block->id - 1000);
  Dfs__WriteBlockResponse resp = DFS__WRITE_BLOCK_RESPONSE__INIT;
  pthread_mutex_lock(&F.mu);
  int refuse = F.refuse_writes > 0;
  if (refuse) F.refuse_writes--;
  pthread_mutex_unlock(&F.mu);
  if (refuse) {
    resp.status = DFS_EIO;
    resp.message = "disk full (injected)";
    return dfs_rpc_reply(call, &resp.base);
  }
  if (r->stage == DFS__WRITE_STAGE__STAGE_RECOVERY) {
    /* as dn_rbw_recover: the replica is cut to the acknowledged length */
    pthread_mutex_lock(&F.mu);
    F.recover_setups++;
    F.recover_min_bytes = r->min_bytes_rcvd;
    F.recover_gs = r->block->genstamp;
    F.recover_latest_gs = r->latest_genstamp;
    F.recover_ntargets = r->n_targets;
    if (b >= 0 && b < F.nblocks && r->min_bytes_rcvd <= F.blk_len[b])
      F.blk_len[b] = r->min_bytes_rcvd;
    pthread_mutex_unlock(&F.mu);
  }
  int rc = dfs_rpc_reply(call, &resp.base);
  if (rc) return rc;
  pthread_mutex_lock(&F.mu);
  int epoch = F.epoch;
  pthread_mutex_unlock(&F.mu);
  int fd = dfs_rpc_call_fd(call);
  uint8_t *buf = malloc(DFS_PACKET_MAX_DATA / 4);
  for (;;) {
    uint8_t hb[DFS_PACKET_HDR_LEN];
    struct dfs_packet_hdr h;
    int64_t dl = dfs_now_ms() + 10000;
    if ((rc = dfs_read_full(fd, hb, sizeof hb, dl)) != 0) break;
    if ((rc = dfs_packet_hdr_decode(hb, sizeof hb, 1 << 20, &h)) != 0) break;
    uint32_t sl = dfs_packet_sums_len(h.data_len);
    if ((rc = dfs_read_full(fd, buf, sl + h.data_len, dl)) != 0) break;
    struct dfs_ack a = {.seqno = h.seqno, .n = 1 + (unsigned)r->n_targets};
    pthread_mutex_lock(&F.mu);
    if (epoch != F.epoch) { /* an earlier test's stream */
      pthread_mutex_unlock(&F.mu);
      rc = DFS_ECANCELED;
      break;
    }
    if (h.seqno == -1) F.heartbeats++;
    if (h.seqno >= 0 && F.npkts < MAX_PKTS)
      F.pkts[F.npkts++] = (struct pkt_rec){b, h.offset, h.seqno, h.data_len, h.flags};
    if (h.data_len && crc32c_chunks_verify(buf + sl, h.data_len, DFS_CHUNK_SIZE, buf) >= 0)
      F.bad_sum_pkts++;
    if (h.data_len) {
      uint64_t len = F.blk_len[b], part = len % DFS_CHUNK_SIZE;
      if ((uint64_t)h.offset == len || (part && (uint64_t)h.offset == len - part)) {
        memcpy(F.blk_data[b] + h.offset, buf + sl, h.data_len);
        if ((uint64_t)h.offset + h.data_len > len) F.blk_len[b] = (uint64_t)h.offset + h.data_len;
      } else {
        F.bad_offset_pkts++;
      }
    }
    if (h.seqno == F.fail_ack_seqno) { /* once: a resent packet is acked */
      a.status[F.fail_ack_index < (int)a.n ? F.fail_ack_index : 0] = DFS_ECHECKSUM;
      F.fail_ack_seqno = -2;
    }
    if ((h.flags & DFS_PKT_LAST) && F.fail_last_index > 0) {
      a.status[F.fail_last_index - 1 < (int)a.n ? F.fail_last_index - 1 : 0] = DFS_EIO;
      F.fail_last_index = 0;
    }
    int drop = h.seqno == F.drop_at_seqno;
    if (drop) F.drop_at_seqno = -2;
    pthread_mutex_unlock(&F.mu);
    if (drop) {
      rc = DFS_EIO; /* the framework closes the connection */
      break;
    }
    uint8_t ab[DFS_ACK_MAX_LEN];
    size_t al = dfs_ack_encode(&a, ab);
    struct iovec iov = {ab, al};
    if ((rc = dfs_writev_full(fd, &iov, 1, dl)) != 0) break;
    if (h.flags & DFS_PKT_LAST) break;
  }
  free(buf);
  return rc;
}

/* Locations of the file written so far: every block on dn-A then dn-B
 * (both this server). */
static int h_locations(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  (void)req;
  Dfs__GetBlockLocationsResponse resp = DFS__GET_BLOCK_LOCATIONS_RESPONSE__INIT;
  Dfs__LocatedBlocks lbs = DFS__LOCATED_BLOCKS__INIT;
  Dfs__LocatedBlock lb[MAX_BLOCKS], *lbp[MAX_BLOCKS];
  Dfs__Block blk[MAX_BLOCKS];
  Dfs__DatanodeId ids[2];
  Dfs__DatanodeInfo dis[2];
  Dfs__DatanodeInfo *locs[2] = {make_dn(&ids[0], &dis[0], "dn-A"),
                                make_dn(&ids[1], &dis[1], "dn-B")};
  Dfs__DatanodeId dead_id = DFS__DATANODE_ID__INIT;
  Dfs__DatanodeInfo dead = DFS__DATANODE_INFO__INIT;
  Dfs__DatanodeInfo *dead_locs[1] = {&dead};
  pthread_mutex_lock(&F.mu);
  int first = F.loc_calls++ == 0;
  if (first && F.dead_port) {
    dead_id.uuid = "dn-dead";
    dead_id.host = "localhost";
    dead_id.port = (uint32_t)F.dead_port;
    dead.id = &dead_id;
  }
  uint64_t off = 0;
  for (int i = 0; i < F.nblocks; i++) {
    Dfs__LocatedBlock l = DFS__LOCATED_BLOCK__INIT;
    Dfs__Block b = DFS__BLOCK__INIT;
    blk[i] = b;
    blk[i].id = 1000 + (uint64_t)i;
    blk[i].genstamp = 1;
    blk[i].num_bytes = F.blk_len[i];
    lb[i] = l;
    lb[i].block = &blk[i];
    lb[i].offset = off;
    lb[i].locs = first && F.dead_port ? dead_locs : locs;
    lb[i].n_locs = first && F.dead_port ? 1 : 2;
    lbp[i] = &lb[i];
    off += F.blk_len[i];
  }
  lbs.file_length = off;
  lbs.blocks = lbp;
  lbs.n_blocks = (size_t)F.nblocks;
  pthread_mutex_unlock(&F.mu);
  resp.locations = &lbs;
  return dfs_rpc_reply(call, &resp.base);
}

/* READ_BLOCK: packets of 64 KiB from the chunk holding `offset`. */
static int h_read_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__ReadBlockRequest *r = (const Dfs__ReadBlockRequest *)req;
  int b = (int)(r->block->id - 1000);
  pthread_mutex_lock(&F.mu);
  int corrupt = F.corrupt_reads > 0;
  if (corrupt) F.corrupt_reads--;
  uint64_t blen = F.blk_len[b];
  /* A copy: the next test's fake_reset may free the block while this
   * handler is still draining a stream the client gave up on. */
  uint8_t *data = malloc(blen ? blen : 1);
  if (data) memcpy(data, F.blk_data[b], blen);
  pthread_mutex_unlock(&F.mu);
  if (!data) return DFS_ENOMEM;
  Dfs__ReadBlockResponse resp = DFS__READ_BLOCK_RESPONSE__INIT;
  uint64_t start = r->offset - r->offset % DFS_CHUNK_SIZE;
  uint64_t end = r->offset + r->length;
  if (end > blen) end = blen;
  resp.has_first_chunk_offset = 1;
  resp.first_chunk_offset = start;
  int rc = dfs_rpc_reply(call, &resp.base);
  if (rc) {
    free(data);
    return rc;
  }
  int fd = dfs_rpc_call_fd(call);
  uint8_t *buf = malloc(DFS_PACKET_HDR_LEN + 1024 + 65536);
  int64_t seq = 0;
  for (uint64_t off = start;; off += 65536) {
    uint32_t n = off >= end ? 0 : (uint32_t)(end - off < 65536 ? end - off : 65536);
    struct dfs_packet_hdr h = {(int64_t)off, seq++, n, n ? 0 : DFS_PKT_LAST};
    dfs_packet_hdr_encode(&h, buf);
    uint32_t sl = dfs_packet_sums_len(n);
    memcpy(buf + DFS_PACKET_HDR_LEN + sl, data + off, n);
    crc32c_chunks(buf + DFS_PACKET_HDR_LEN + sl, n, DFS_CHUNK_SIZE, buf + DFS_PACKET_HDR_LEN);
    if (corrupt && n) buf[DFS_PACKET_HDR_LEN + sl + n / 2] ^= 0x40;
    struct iovec iov = {buf, DFS_PACKET_HDR_LEN + sl + n};
    if ((rc = dfs_writev_full(fd, &iov, 1, dfs_now_ms() + 10000)) != 0 || n == 0) break;
  }
  free(buf);
  free(data);
  return rc;
}

/* GET_LISTING: /dir holds e1..e5, served two per page; /file is a file. */
static int h_listing(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *req) {
  (void)ctx;
  const Dfs__GetListingRequest *r = (const Dfs__GetListingRequest *)req;
  static char *names[5] = {"e1", "e2", "e3", "e4", "e5"};
  Dfs__GetListingResponse resp = DFS__GET_LISTING_RESPONSE__INIT;
  Dfs__FileStatus st[2], self = DFS__FILE_STATUS__INIT, *ents[2];
  if (r->path.len == 5 && memcmp(r->path.data, "/file", 5) == 0) {
    self.type = DFS__FILE_TYPE__IS_FILE;
    self.name = r->path;
    self.has_length = 1;
    self.length = 77;
    resp.dir = &self;
    return dfs_rpc_reply(call, &resp.base);
  }
  size_t from = 0;
  if (r->has_start_after)
    while (from < 5 && strlen(names[from]) == r->start_after.len &&
           memcmp(names[from], r->start_after.data, r->start_after.len) <= 0)
      from++;
  size_t n = 0;
  for (size_t i = from; i < 5 && n < 2; i++, n++) {
    Dfs__FileStatus x = DFS__FILE_STATUS__INIT;
    st[n] = x;
    st[n].type = DFS__FILE_TYPE__IS_FILE;
    st[n].name.data = (uint8_t *)names[i];
    st[n].name.len = strlen(names[i]);
    st[n].owner = "o";
    ents[n] = &st[n];
  }
  resp.entries = ents;
  resp.n_entries = n;
  resp.remaining = (uint32_t)(5 - from - n);
  return dfs_rpc_reply(call, &resp.base);
}

static const struct dfs_rpc_method methods[] = {
    {DFS_M_GET_LISTING, "GET_LISTING", &dfs__get_listing_request__descriptor, h_listing, 0},
    {DFS_M_GET_SERVER_DEFAULTS, "GET_SERVER_DEFAULTS", &dfs__empty__descriptor, h_defaults, 0},
    {DFS_M_CREATE, "CREATE", &dfs__create_request__descriptor, h_create, 0},
    {DFS_M_ADD_BLOCK, "ADD_BLOCK", &dfs__add_block_request__descriptor, h_add_block, 0},
    {DFS_M_ABANDON_BLOCK, "ABANDON_BLOCK", &dfs__abandon_block_request__descriptor, h_abandon, 0},
    {DFS_M_COMPLETE, "COMPLETE", &dfs__complete_request__descriptor, h_complete, 0},
    {DFS_M_RENEW_LEASE, "RENEW_LEASE", &dfs__renew_lease_request__descriptor, h_empty, 0},
    {DFS_M_REPORT_BAD_BLOCKS, "REPORT_BAD_BLOCKS", &dfs__report_bad_blocks_request__descriptor,
     h_report_bad, 0},
    {DFS_M_GET_BLOCK_LOCATIONS, "GET_BLOCK_LOCATIONS",
     &dfs__get_block_locations_request__descriptor, h_locations, 0},
    {DFS_M_WRITE_BLOCK, "WRITE_BLOCK", &dfs__write_block_request__descriptor, h_write_block,
     DFS_RPC_STREAM},
    {DFS_M_READ_BLOCK, "READ_BLOCK", &dfs__read_block_request__descriptor, h_read_block,
     DFS_RPC_STREAM},
    {DFS_M_UPDATE_BLOCK_FOR_PIPELINE, "UPDATE_BLOCK_FOR_PIPELINE",
     &dfs__update_block_for_pipeline_request__descriptor, h_update_block, 0},
    {DFS_M_UPDATE_PIPELINE, "UPDATE_PIPELINE", &dfs__update_pipeline_request__descriptor,
     h_update_pipeline, 0},
};

/* (Re)start the fake server with the given idle timeout (new port). */
static int fake_start(int idle_ms) {
  if (F.srv) {
    dfs_rpc_server_stop(F.srv);
    dfs_rpc_server_destroy(F.srv);
    F.srv = NULL;
  }
  struct dfs_rpc_server_opts so = {.name = "fake", .bind_addr = "127.0.0.1:0",
                                   .methods = methods,
                                   .n_methods = sizeof methods / sizeof methods[0],
                                   .ctx = NULL, .max_body = 64 << 20, .max_connections = 64,
                                   .idle_timeout_ms = idle_ms};
  if (dfs_rpc_server_create(&so, &F.srv) != 0 || dfs_rpc_server_start(F.srv) != 0) return -1;
  F.port = dfs_rpc_server_port(F.srv);
  return 0;
}

static void fake_reset(void) {
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nblocks; i++) free(F.blk_data[i]);
  dfs_rpc_server *srv = F.srv;
  int port = F.port;
  memset(&F.nblocks, 0, sizeof F - offsetof(struct fake, nblocks));
  F.srv = srv;
  F.port = port;
  F.epoch++;
  F.fail_ack_seqno = -2;
  F.drop_at_seqno = -2;
  pthread_mutex_unlock(&F.mu);
}

static dfs_fs *connect_fake(void) {
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", F.port);
  struct dfs_connect_opts o = {.namenode = addr, .user = "tester", .timeout_ms = 5000};
  dfs_fs *fs = NULL;
  int rc = dfs_connect(&o, &fs);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  return fs;
}

static void fill(uint8_t *d, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) d[i] = (uint8_t)((i * 2654435761u + seed) >> 11);
}

/* Concatenation of the fake's blocks equals `want`. */
static int stored_equals(const uint8_t *want, size_t n) {
  size_t off = 0;
  for (int i = 0; i < F.nblocks; i++) {
    if (off + F.blk_len[i] > n || memcmp(F.blk_data[i], want + off, F.blk_len[i]) != 0) return 0;
    off += F.blk_len[i];
  }
  return off == n;
}

/* ---- tests ------------------------------------------------------------- */

static void test_packet_layout(void) {
  fake_reset();
  LOCKED(F.complete_false = 2);
  dfs_fs *fs = connect_fake();
  size_t n = 2 * BLOCKSIZE + 70000 + 123; /* two full blocks and a ragged tail */
  uint8_t *d = malloc(n);
  fill(d, n, 1);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/a", NULL, &f), 0);
  for (size_t off = 0; off < n;) { /* odd-sized writes that straddle packets */
    size_t k = n - off < 9999 ? n - off : 9999;
    CU_ASSERT_EQUAL(dfs_write(f, d + off, k), (ssize_t)k);
    off += k;
  }
  CU_ASSERT_EQUAL(dfs_tell(f), (int64_t)n);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.nblocks, 3);
  CU_ASSERT_FALSE(F.has_prev[0]);
  CU_ASSERT_TRUE(F.has_prev[1] && F.prev_len[1] == BLOCKSIZE);
  CU_ASSERT_TRUE(F.has_prev[2] && F.prev_len[2] == BLOCKSIZE);
  CU_ASSERT_EQUAL(F.complete_calls, 3); /* answered false twice, retried */
  CU_ASSERT_EQUAL(F.complete_last_len, 70000 + 123);
  CU_ASSERT_EQUAL(F.bad_sum_pkts, 0);
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  CU_ASSERT_TRUE(stored_equals(d, n));
  /* Per block: seqnos 0,1,2..., contiguous offsets, full 64 KiB packets
   * except the block's last data packet, then one empty LAST packet. */
  int blk = -1, lasts = 0;
  int64_t next_seq = 0, next_off = 0;
  for (int i = 0; i < F.npkts; i++) {
    struct pkt_rec *p = &F.pkts[i];
    if (p->block != blk) {
      blk = p->block;
      next_seq = 0;
      next_off = 0;
    }
    CU_ASSERT_EQUAL(p->seqno, next_seq);
    next_seq++;
    if (p->flags & DFS_PKT_LAST) {
      lasts++;
      CU_ASSERT_EQUAL(p->len, 0);
      CU_ASSERT_EQUAL(p->offset % DFS_CHUNK_SIZE, 0);
      continue;
    }
    CU_ASSERT_EQUAL(p->offset, next_off);
    CU_ASSERT_TRUE(p->len <= 65536);
    int last_data = i + 1 < F.npkts && (F.pkts[i + 1].flags & DFS_PKT_LAST);
    if (!last_data) CU_ASSERT_EQUAL(p->len, 65536);
    next_off += p->len;
  }
  CU_ASSERT_EQUAL(lasts, 3);
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
}

static void test_hflush_partial_chunk(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  uint8_t d[4096];
  fill(d, sizeof d, 7);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/h", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, 1000), 1000);
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.npkts, 1);
  /* An hflush's packet says so: the DataNodes answer it from memory. */
  CU_ASSERT_TRUE(F.pkts[0].offset == 0 && F.pkts[0].len == 1000 &&
                 F.pkts[0].flags == DFS_PKT_FLUSH);
  CU_ASSERT_EQUAL(F.blk_len[0], 1000); /* acked before hflush returned */
  pthread_mutex_unlock(&F.mu);

  /* The next packet restarts at the partial chunk (512) with its old bytes. */
  CU_ASSERT_EQUAL(dfs_write(f, d + 1000, 100), 100);
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  /* Nothing new: hflush sends nothing. */
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.npkts, 2);
  CU_ASSERT_TRUE(F.pkts[1].offset == 512 && F.pkts[1].len == 1100 - 512 && F.pkts[1].seqno == 1);
  pthread_mutex_unlock(&F.mu);

  /* Nothing new but hsync: an empty SYNC packet. */
  CU_ASSERT_EQUAL(dfs_hsync(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.npkts, 3);
  CU_ASSERT_TRUE(F.pkts[2].len == 0 && (F.pkts[2].flags & DFS_PKT_SYNC));
  pthread_mutex_unlock(&F.mu);

  CU_ASSERT_EQUAL(dfs_write(f, d + 1100, 24), 24); /* 1124: chunk 1024.. */
  CU_ASSERT_EQUAL(dfs_hsync(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.npkts, 4);
  CU_ASSERT_TRUE(F.pkts[3].offset == 1024 && F.pkts[3].len == 100 &&
                 (F.pkts[3].flags & DFS_PKT_SYNC));
  pthread_mutex_unlock(&F.mu);

  CU_ASSERT_EQUAL(dfs_write(f, d + 1124, sizeof d - 1124), (ssize_t)(sizeof d - 1124));
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  CU_ASSERT_EQUAL(F.bad_sum_pkts, 0);
  CU_ASSERT_TRUE(stored_equals(d, sizeof d));
  CU_ASSERT_EQUAL(F.complete_last_len, sizeof d);
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

static void test_ack_error_names_node(void) {
  fake_reset();
  LOCKED(F.fail_ack_seqno = 1);
  dfs_fs *fs = connect_fake();
  uint8_t *d = malloc(300000);
  fill(d, 300000, 3);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/e", NULL, &f), 0);
  ssize_t w = dfs_write(f, d, 300000);
  int rc = w < 0 ? (int)w : dfs_hflush(f);
  CU_ASSERT_EQUAL(rc, DFS_ECHECKSUM);
  char node[64];
  snprintf(node, sizeof node, "localhost:%d", F.port);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), node));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "blk_1000"));
  /* its only node failed: no survivor to recover with */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "all DataNodes of the pipeline are bad"));
  /* The stream stays failed. */
  CU_ASSERT_EQUAL(dfs_write(f, d, 10), DFS_ECHECKSUM);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "failed earlier"));
  CU_ASSERT_NOT_EQUAL(dfs_close(f), 0);
  LOCKED(CU_ASSERT_EQUAL(F.complete_calls, 0));
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
}

/* The first DataNode drops the connection mid-block: the stream fails
 * with a message naming it; nothing is completed. */
static void test_pipeline_dropped(void) {
  fake_reset();
  LOCKED(F.drop_at_seqno = 2);
  dfs_fs *fs = connect_fake();
  uint8_t *d = malloc(BLOCKSIZE);
  fill(d, BLOCKSIZE, 23);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/dr", NULL, &f), 0);
  ssize_t w = dfs_write(f, d, BLOCKSIZE); /* ends the block: waits for all acks */
  CU_ASSERT_TRUE(w < 0);
  char node[64];
  snprintf(node, sizeof node, "localhost:%d", F.port);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), node));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "blk_1000"));
  CU_ASSERT_NOT_EQUAL(dfs_close(f), 0);
  LOCKED(CU_ASSERT_EQUAL(F.complete_calls, 0));
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
}

/* Pipeline recovery: the second of three nodes fails an ack. The client
 * gets a new genstamp, sets up dn-A -> dn-C with STAGE_RECOVERY at the
 * acknowledged length, tells the NameNode, resends, and the file is whole;
 * dn-B is excluded from the next block. */
static void test_recovery_ack_status(void) {
  fake_reset();
  LOCKED(F.nlocs = 3; F.fail_ack_seqno = 3; F.fail_ack_index = 1);
  dfs_fs *fs = connect_fake();
  size_t n = 300000;
  uint8_t *d = malloc(n);
  fill(d, n, 31);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/rec", NULL, &f), 0);
  ssize_t w = dfs_write(f, d, n);
  if (w < 0) fprintf(stderr, "write: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(w, (ssize_t)n);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.ubfp_calls, 1);
  CU_ASSERT_EQUAL(F.recover_setups, 1);
  CU_ASSERT_EQUAL(F.recover_ntargets, 1); /* dn-A -> dn-C */
  CU_ASSERT_EQUAL(F.recover_min_bytes, 3 * 65536); /* packets 0..2 were acked */
  CU_ASSERT_EQUAL(F.recover_gs, 2);
  CU_ASSERT_EQUAL(F.recover_latest_gs, 2);
  CU_ASSERT_EQUAL(F.up_calls, 1);
  CU_ASSERT_STRING_EQUAL(F.up_uuids, "dn-A,dn-C");
  CU_ASSERT_EQUAL(F.up_old_gs, 1);
  CU_ASSERT_EQUAL(F.up_gs, 2);
  CU_ASSERT_EQUAL(F.up_len, 3 * 65536);
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  CU_ASSERT_EQUAL(F.bad_sum_pkts, 0);
  CU_ASSERT_TRUE(stored_equals(d, n));
  CU_ASSERT_EQUAL(F.nblocks, 2);
  CU_ASSERT_EQUAL(F.prev_len[1], BLOCKSIZE);
  CU_ASSERT_EQUAL(F.last_excluded, 1); /* dn-B left out of the next block */
  CU_ASSERT_EQUAL(F.complete_last_gs, 3);
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
}

/* The first node's connection breaks: it is the one dropped. */
static void test_recovery_first_node_dropped(void) {
  fake_reset();
  LOCKED(F.nlocs = 3; F.drop_at_seqno = 2);
  dfs_fs *fs = connect_fake();
  size_t n = BLOCKSIZE + 5000;
  uint8_t *d = malloc(n);
  fill(d, n, 37);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/rec2", NULL, &f), 0);
  ssize_t w = dfs_write(f, d, n);
  if (w < 0) fprintf(stderr, "write: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(w, (ssize_t)n);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.recover_setups, 1);
  CU_ASSERT_STRING_EQUAL(F.up_uuids, "dn-B,dn-C");
  CU_ASSERT(F.recover_min_bytes <= 2 * 65536 && F.recover_min_bytes % 65536 == 0);
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  CU_ASSERT_TRUE(stored_equals(d, n));
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
}

/* After an hflush that ended inside a chunk, recovery cuts the replicas to
 * the hflushed length and the resent packet starts at that chunk. */
static void test_recovery_after_hflush(void) {
  fake_reset();
  LOCKED(F.nlocs = 2; F.fail_ack_seqno = 1; F.fail_ack_index = 0);
  dfs_fs *fs = connect_fake();
  uint8_t d[1500];
  fill(d, sizeof d, 41);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/rec3", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, 1000), 1000);
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d + 1000, 500), 500);
  int rc = dfs_hflush(f);
  if (rc) fprintf(stderr, "hflush: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(rc, 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.recover_min_bytes, 1000);
  CU_ASSERT_STRING_EQUAL(F.up_uuids, "dn-B");
  CU_ASSERT_EQUAL(F.recover_ntargets, 0);
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  CU_ASSERT_TRUE(stored_equals(d, sizeof d));
  /* the resent packet restarts at the partial chunk */
  CU_ASSERT_EQUAL(F.pkts[F.npkts - 1].offset, 512);
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  LOCKED(CU_ASSERT_TRUE(stored_equals(d, sizeof d)));
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

static void test_read_verify_failover(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  size_t n = BLOCKSIZE + 5000;
  uint8_t *d = malloc(n), *r = malloc(n + 10);
  fill(d, n, 9);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/r", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, n), (ssize_t)n);
  CU_ASSERT_EQUAL(dfs_close(f), 0);

  /* Sequential read with the first stream corrupt: verified, reported,
   * read again from the other replica. */
  LOCKED(F.corrupt_reads = 1);
  CU_ASSERT_EQUAL_FATAL(dfs_open(fs, "/r", &f), 0);
  CU_ASSERT_EQUAL(dfs_file_length(f), (int64_t)n);
  size_t got = 0;
  for (;;) {
    ssize_t k = dfs_read(f, r + got, n + 10 - got < 7777 ? n + 10 - got : 7777);
    CU_ASSERT_TRUE_FATAL(k >= 0);
    if (k == 0) break;
    got += (size_t)k;
  }
  CU_ASSERT_EQUAL(got, n);
  CU_ASSERT_EQUAL(memcmp(r, d, n), 0);
  LOCKED(CU_ASSERT_EQUAL(F.bad_reports, 1));
  LOCKED(CU_ASSERT_STRING_EQUAL(F.bad_report_uuid, "dn-A"));

  /* pread across the block boundary, and seek + read. */
  memset(r, 0, n);
  CU_ASSERT_EQUAL(dfs_pread(f, BLOCKSIZE - 700, r, 1500), 1500);
  CU_ASSERT_EQUAL(memcmp(r, d + BLOCKSIZE - 700, 1500), 0);
  CU_ASSERT_EQUAL(dfs_pread(f, n - 10, r, 100), 10); /* short at EOF */
  CU_ASSERT_EQUAL(dfs_seek(f, 777), 0);
  CU_ASSERT_EQUAL(dfs_read(f, r, 100), 100);
  CU_ASSERT_EQUAL(memcmp(r, d + 777, 100), 0);
  CU_ASSERT_EQUAL(dfs_tell(f), 877);
  CU_ASSERT_EQUAL(dfs_close(f), 0);

  /* Every replica corrupt: an error naming the block. */
  LOCKED(F.corrupt_reads = 100);
  CU_ASSERT_EQUAL_FATAL(dfs_open(fs, "/r", &f), 0);
  ssize_t k = dfs_pread(f, 0, r, 1000);
  CU_ASSERT_TRUE(k < 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "blk_1000"));
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
  free(r);
}

struct pread_job {
  dfs_file *f;
  const uint8_t *want;
  size_t n;
  unsigned seed;
  int bad;
};

static void *pread_thread(void *arg) {
  struct pread_job *j = arg;
  uint8_t buf[20000];
  for (int i = 0; i < 50; i++) {
    j->seed = j->seed * 1103515245u + 12345u;
    size_t off = (j->seed >> 8) % j->n, len = 1 + (j->seed >> 4) % sizeof buf;
    size_t expect = off + len > j->n ? j->n - off : len;
    ssize_t k = dfs_pread(j->f, off, buf, len);
    if (k != (ssize_t)expect || memcmp(buf, j->want + off, expect) != 0) j->bad++;
  }
  return NULL;
}

/* Four threads pread one file at random ranges (also across blocks) while
 * the main thread reads it sequentially. */
static void test_concurrent_pread(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  size_t n = 2 * BLOCKSIZE + 3333;
  uint8_t *d = malloc(n);
  fill(d, n, 21);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/p", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, n), (ssize_t)n);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  CU_ASSERT_EQUAL_FATAL(dfs_open(fs, "/p", &f), 0);
  pthread_t th[4];
  struct pread_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (struct pread_job){f, d, n, (unsigned)i * 7919u + 1, 0};
    pthread_create(&th[i], NULL, pread_thread, &jobs[i]);
  }
  /* Meanwhile this thread is the file's sequential reader. */
  uint8_t *r = malloc(n);
  size_t got = 0;
  for (;;) {
    ssize_t k = dfs_read(f, r + got, n - got < 30000 ? n - got : 30000);
    if (k <= 0) {
      CU_ASSERT_EQUAL(k, 0);
      break;
    }
    got += (size_t)k;
  }
  CU_ASSERT_EQUAL(got, n);
  CU_ASSERT_EQUAL(memcmp(r, d, n), 0);
  free(r);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(jobs[i].bad, 0);
  }
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  free(d);
}

/* An idle pipeline gets heartbeat packets (from the lease renewer thread)
 * after half the socket timeout; writing goes on afterwards. */
static void test_idle_heartbeat(void) {
  fake_reset();
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", F.port);
  struct dfs_connect_opts o = {.namenode = addr, .user = "tester", .timeout_ms = 400};
  dfs_fs *fs = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_connect(&o, &fs), 0);
  uint8_t d[3000];
  fill(d, sizeof d, 5);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/hb", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, 1000), 1000);
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  int64_t deadline = dfs_now_ms() + 5000;
  int seen = 0;
  while (!seen && dfs_now_ms() < deadline) {
    pthread_mutex_lock(&F.mu);
    seen = F.heartbeats >= 2;
    pthread_mutex_unlock(&F.mu);
    if (!seen) usleep(20000);
  }
  CU_ASSERT_TRUE(seen);
  CU_ASSERT_EQUAL(dfs_write(f, d + 1000, 2000), 2000);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_TRUE(stored_equals(d, sizeof d));
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

/* The first node closes the pipeline on a heartbeat while the writer is
 * idle after an hflush: the failure is met by the renewer (kept pending)
 * or by the next write, and recovered either way. */
static void test_recovery_while_idle(void) {
  fake_reset();
  LOCKED(F.nlocs = 2; F.drop_at_seqno = -1);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", F.port);
  struct dfs_connect_opts o = {.namenode = addr, .user = "tester", .timeout_ms = 400};
  dfs_fs *fs = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_connect(&o, &fs), 0);
  uint8_t d[3000];
  fill(d, sizeof d, 7);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/idle", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, 1000), 1000);
  CU_ASSERT_EQUAL(dfs_hflush(f), 0);
  int64_t deadline = dfs_now_ms() + 5000;
  int seen = 0;
  while (!seen && dfs_now_ms() < deadline) {
    pthread_mutex_lock(&F.mu);
    seen = F.heartbeats >= 1;
    pthread_mutex_unlock(&F.mu);
    if (!seen) usleep(20000);
  }
  CU_ASSERT_TRUE(seen);
  /* Give the renewer a tick or two to meet the closed connection (not a
   * synchronisation: the next write recovers in both cases). */
  usleep(500000);
  CU_ASSERT_EQUAL(dfs_write(f, d + 1000, 2000), 2000);
  int rc = dfs_hflush(f);
  if (rc) fprintf(stderr, "hflush: %s\n", dfs_error_message());
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  pthread_mutex_lock(&F.mu);
  CU_ASSERT_EQUAL(F.up_calls, 1);
  CU_ASSERT_STRING_EQUAL(F.up_uuids, "dn-B");
  CU_ASSERT_EQUAL(F.recover_min_bytes, 1000);
  CU_ASSERT_TRUE(stored_equals(d, sizeof d));
  CU_ASSERT_EQUAL(F.bad_offset_pkts, 0);
  pthread_mutex_unlock(&F.mu);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

/* A node fails the ack of the block's LAST packet (every byte acked):
 * recovered like any other packet; and when the survivors cannot be set up
 * again (in a real cluster: they finalized already), the block is taken
 * as done under its current stamp. */
static void test_recovery_at_block_end(void) {
  for (int fallback = 0; fallback < 2; fallback++) {
    fake_reset();
    LOCKED(F.nlocs = 3; F.fail_last_index = 2 /* dn-B */);
    dfs_fs *fs = connect_fake();
    size_t n = BLOCKSIZE;
    uint8_t *d = malloc(n);
    fill(d, n, 43 + fallback);
    dfs_file *f = NULL;
    CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/end", NULL, &f), 0);
    CU_ASSERT_EQUAL(dfs_write(f, d, 1000), 1000);
    CU_ASSERT_EQUAL(dfs_hflush(f), 0);
    if (fallback) LOCKED(F.refuse_writes = 1); /* the recovery set-up is refused */
    ssize_t w = dfs_write(f, d + 1000, n - 1000); /* ends the block */
    if (w < 0) fprintf(stderr, "write: %s\n", dfs_error_message());
    CU_ASSERT_EQUAL(w, (ssize_t)(n - 1000));
    CU_ASSERT_EQUAL(dfs_close(f), 0);
    pthread_mutex_lock(&F.mu);
    CU_ASSERT_EQUAL(F.ubfp_calls, 1);
    CU_ASSERT_EQUAL(F.up_calls, fallback ? 0 : 1);
    if (!fallback) CU_ASSERT_STRING_EQUAL(F.up_uuids, "dn-A,dn-C");
    CU_ASSERT_EQUAL(F.recover_min_bytes, fallback ? 0 : BLOCKSIZE);
    CU_ASSERT_EQUAL(F.complete_last_gs, fallback ? 1 : 2);
    CU_ASSERT_EQUAL(F.complete_last_len, BLOCKSIZE);
    CU_ASSERT_EQUAL(F.nblocks, 1);
    CU_ASSERT_TRUE(stored_equals(d, n));
    pthread_mutex_unlock(&F.mu);
    CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
    free(d);
  }
}

/* dfs_disconnect completes writers and frees readers left open (the
 * sanitizer builds check that nothing leaks). */
static void test_disconnect_closes_files(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  uint8_t d[5000];
  fill(d, sizeof d, 11);
  dfs_file *w = NULL, *r = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/d", NULL, &w), 0);
  CU_ASSERT_EQUAL(dfs_write(w, d, sizeof d), (ssize_t)sizeof d);
  CU_ASSERT_EQUAL(dfs_hflush(w), 0);
  CU_ASSERT_EQUAL_FATAL(dfs_open(fs, "/d", &r), 0);
  uint8_t b[100];
  CU_ASSERT_EQUAL(dfs_read(r, b, sizeof b), (ssize_t)sizeof b);
  CU_ASSERT_EQUAL(memcmp(b, d, sizeof b), 0);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  LOCKED(CU_ASSERT_EQUAL(F.complete_calls, 1));
  LOCKED(CU_ASSERT_EQUAL(F.complete_last_len, sizeof d));
}

/* A DataNode refusing the pipeline: the block is abandoned and a new one
 * asked for without that node; when every attempt fails, the error names
 * the node and carries its message. */
static void test_pipeline_setup_retry(void) {
  fake_reset();
  LOCKED(F.refuse_writes = 1);
  dfs_fs *fs = connect_fake();
  uint8_t d[2000];
  fill(d, sizeof d, 13);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/s", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, sizeof d), (ssize_t)sizeof d);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  LOCKED(CU_ASSERT_EQUAL(F.abandons, 1));
  LOCKED(CU_ASSERT_EQUAL(F.nblocks, 2));
  LOCKED(CU_ASSERT_EQUAL(F.last_excluded, 1));
  LOCKED(CU_ASSERT_FALSE(F.has_prev[1])); /* the abandoned block is not "previous" */
  LOCKED(CU_ASSERT_EQUAL(F.blk_len[1], sizeof d));
  LOCKED(CU_ASSERT_EQUAL(memcmp(F.blk_data[1], d, sizeof d), 0));

  LOCKED(F.refuse_writes = 100);
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/s2", NULL, &f), 0);
  ssize_t k = dfs_write(f, d, sizeof d);
  CU_ASSERT_EQUAL(k, DFS_EIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "disk full (injected)"));
  char node[64];
  snprintf(node, sizeof node, "localhost:%d", F.port);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), node));
  CU_ASSERT_NOT_EQUAL(dfs_close(f), 0);
  LOCKED(F.refuse_writes = 0);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

/* Pooled DataNode connections that the server closed while idle are not
 * taken for a node failure: the next block goes to the same node without
 * abandoning anything. */
static void test_stale_pooled_connection(void) {
  CU_ASSERT_EQUAL_FATAL(fake_start(200), 0);
  fake_reset();
  dfs_fs *fs = connect_fake();
  uint8_t d[3000];
  fill(d, sizeof d, 17);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/st", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, sizeof d), (ssize_t)sizeof d);
  CU_ASSERT_EQUAL(dfs_close(f), 0); /* the pipeline connection is pooled now */
  /* Not synchronisation: time has to pass for the server's idle timeout. */
  usleep(700 * 1000);
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/st2", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, sizeof d), (ssize_t)sizeof d);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  LOCKED(CU_ASSERT_EQUAL(F.abandons, 0));
  LOCKED(CU_ASSERT_EQUAL(F.nblocks, 2));
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
  CU_ASSERT_EQUAL(fake_start(10000), 0);
}

/* A port nothing listens on. */
static int closed_port(void) {
  dfs_rpc_server *s = NULL;
  struct dfs_rpc_server_opts so = {.name = "t", .bind_addr = "127.0.0.1:0", .methods = methods,
                                   .n_methods = 1, .max_body = 1 << 20};
  if (dfs_rpc_server_create(&so, &s) != 0) return 1;
  int port = dfs_rpc_server_port(s);
  dfs_rpc_server_destroy(s);
  return port;
}

/* Every known location dead: the reader asks the NameNode again and reads
 * from the replicas it names now (read and pread). */
static void test_refetch_locations(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  uint8_t d[6000], r[6000];
  fill(d, sizeof d, 19);
  dfs_file *f = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/rf", NULL, &f), 0);
  CU_ASSERT_EQUAL(dfs_write(f, d, sizeof d), (ssize_t)sizeof d);
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  LOCKED(F.dead_port = closed_port());
  CU_ASSERT_EQUAL_FATAL(dfs_open(fs, "/rf", &f), 0);
  CU_ASSERT_EQUAL(dfs_read(f, r, sizeof r), (ssize_t)sizeof r);
  CU_ASSERT_EQUAL(memcmp(r, d, sizeof d), 0);
  LOCKED(CU_ASSERT_EQUAL(F.loc_calls, 2));
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  LOCKED(F.loc_calls = 0);
  CU_ASSERT_EQUAL_FATAL(dfs_open(fs, "/rf", &f), 0);
  memset(r, 0, sizeof r);
  CU_ASSERT_EQUAL(dfs_pread(f, 100, r, 5000), 5000);
  CU_ASSERT_EQUAL(memcmp(r, d + 100, 5000), 0);
  LOCKED(CU_ASSERT_EQUAL(F.loc_calls, 2));
  CU_ASSERT_EQUAL(dfs_close(f), 0);
  LOCKED(F.dead_port = 0);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

/* dfs_list follows the pages (start_after = last name seen); a file lists
 * as itself. */
static void test_listing_pages(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  struct dfs_stat *e = NULL;
  size_t n = 0, rem = 0;
  CU_ASSERT_EQUAL_FATAL(dfs_list_page(fs, "/dir", NULL, &e, &n, &rem), 0);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(rem, 3);
  dfs_stats_free(e, n);
  CU_ASSERT_EQUAL_FATAL(dfs_list(fs, "/dir", &e, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 5);
  for (size_t i = 0; i < n; i++) {
    char want[32];
    snprintf(want, sizeof want, "e%zu", i + 1);
    CU_ASSERT_STRING_EQUAL(e[i].name, want);
    CU_ASSERT_STRING_EQUAL(e[i].owner, "o");
    CU_ASSERT_STRING_EQUAL(e[i].group, "");
  }
  dfs_stats_free(e, n);
  CU_ASSERT_EQUAL_FATAL(dfs_list(fs, "/file", &e, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(e[0].name, "/file");
  CU_ASSERT_EQUAL(e[0].length, 77);
  CU_ASSERT_EQUAL(e[0].type, DFS_TYPE_FILE);
  dfs_stats_free(e, n);
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

static void test_argument_errors(void) {
  fake_reset();
  dfs_fs *fs = connect_fake();
  dfs_file *f = NULL;
  struct dfs_create_opts o = {.blocksize = 1000};
  CU_ASSERT_EQUAL(dfs_create(fs, "/x", &o, &f), DFS_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "/x"));
  /* Paths are checked locally before any call. */
  CU_ASSERT_EQUAL(dfs_mkdirs(fs, "a/b", 0), DFS_EBADPATH);
  CU_ASSERT_STRING_EQUAL(dfs_error_message(), "mkdir: a/b: Relative path not allowed");
  struct dfs_stat st;
  CU_ASSERT_EQUAL(dfs_stat(fs, NULL, &st), DFS_EINVAL);
  CU_ASSERT_EQUAL(dfs_open(fs, "", &f), DFS_EBADPATH);
  CU_ASSERT_EQUAL(dfs_rename(fs, "/a", "b", false), DFS_EBADPATH);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "rename: b:"));
  CU_ASSERT_EQUAL(dfs_set_replication(fs, "/a", 0), DFS_EINVAL);
  CU_ASSERT_EQUAL_FATAL(dfs_create(fs, "/w", NULL, &f), 0);
  char b[10];
  CU_ASSERT_EQUAL(dfs_read(f, b, sizeof b), DFS_EBADF);
  CU_ASSERT_EQUAL(dfs_pread(f, 0, b, sizeof b), DFS_EBADF);
  CU_ASSERT_EQUAL(dfs_seek(f, 0), DFS_ENOTSUP);
  CU_ASSERT_EQUAL(dfs_close(f), 0); /* empty file: no block, COMPLETE only */
  LOCKED(CU_ASSERT_EQUAL(F.nblocks, 0));
  LOCKED(CU_ASSERT_EQUAL(F.complete_calls, 1));
  CU_ASSERT_EQUAL(dfs_disconnect(fs), 0);
}

static void test_connect_refused(void) {
  int port = closed_port();
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  struct dfs_connect_opts o = {.namenode = addr, .user = "u", .timeout_ms = 2000};
  dfs_fs *fs = NULL;
  int rc = dfs_connect(&o, &fs);
  CU_ASSERT_TRUE(rc < 0);
  CU_ASSERT_PTR_NULL(fs);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), addr));
}

int main(void) {
  pthread_mutex_init(&F.mu, NULL);
  if (fake_start(10000) != 0) {
    fprintf(stderr, "fake server: %s\n", dfs_err_msg());
    return 1;
  }
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("client_stream", NULL, NULL);
  CU_add_test(s, "packet_layout", test_packet_layout);
  CU_add_test(s, "hflush_partial_chunk", test_hflush_partial_chunk);
  CU_add_test(s, "ack_error_names_node", test_ack_error_names_node);
  CU_add_test(s, "pipeline_dropped", test_pipeline_dropped);
  CU_add_test(s, "recovery_ack_status", test_recovery_ack_status);
  CU_add_test(s, "recovery_first_node_dropped", test_recovery_first_node_dropped);
  CU_add_test(s, "recovery_after_hflush", test_recovery_after_hflush);
  CU_add_test(s, "recovery_while_idle", test_recovery_while_idle);
  CU_add_test(s, "recovery_at_block_end", test_recovery_at_block_end);
  CU_add_test(s, "read_verify_failover", test_read_verify_failover);
  CU_add_test(s, "concurrent_pread", test_concurrent_pread);
  CU_add_test(s, "idle_heartbeat", test_idle_heartbeat);
  CU_add_test(s, "disconnect_closes_files", test_disconnect_closes_files);
  CU_add_test(s, "pipeline_setup_retry", test_pipeline_setup_retry);
  CU_add_test(s, "stale_pooled_connection", test_stale_pooled_connection);
  CU_add_test(s, "refetch_locations", test_refetch_locations);
  CU_add_test(s, "listing_pages", test_listing_pages);
  CU_add_test(s, "argument_errors", test_argument_errors);
  CU_add_test(s, "connect_refused", test_connect_refused);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures();
  CU_cleanup_registry();
  dfs_rpc_server_stop(F.srv);
  dfs_rpc_server_destroy(F.srv);
  fake_reset();
  return failures ? 1 : 0;
}
