/*
 * output_stream.c - writing a file: packets through the DataNode pipeline.
 *
 * Data is copied once, into a packet buffer laid out as it goes on the wire
 * (header, checksums, data), checksummed once, and sent with one writev to
 * the first DataNode, which forwards it down the pipeline. Sent packets stay
 * in the unacked queue until every pipeline node has acknowledged them (so
 * that pipeline recovery can resend them). Acks are read by the writing
 * thread itself: opportunistically (non-blocking) after each send, and
 * blocking when the window is full, on hflush and at the end of a block. No
 * responder thread, no context switch per packet. An idle pipeline is kept
 * alive by heartbeat packets that the lease renewer thread sends
 * (dfs__writer_heartbeat) when nothing was sent for half the socket timeout.
 *
 * Pipeline recovery (HDFS's DataStreamer): when a node fails - an ack whose
 * status names it, or the connection to the first node breaking or timing
 * out - the unacked packets stay queued, the failed node leaves the
 * pipeline, the NameNode hands out a new generation stamp
 * (UPDATE_BLOCK_FOR_PIPELINE), the survivors are set up again with
 * WRITE_BLOCK STAGE_RECOVERY (each cuts its replica to the acknowledged
 * length and takes the new stamp), the NameNode learns the new pipeline
 * (UPDATE_PIPELINE) and every unacked packet is sent again. The failed
 * node's replica keeps the old stamp and is never served again. No node
 * is added in place of a failed one (see docs/client.md for the policy).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_internal.h"
#include "crc32c.h"
#include "errors.h"
#include "net.h"
#include "packet.h"

#define WINDOW_PACKETS 80      /* unacked packets in flight, as HDFS */
#define ADD_BLOCK_ATTEMPTS 3   /* new pipelines tried when a DataNode refuses */
#define MAX_EXCLUDED 64        /* failed nodes remembered by one stream */

static size_t pkt_bytes(uint32_t packet_size) {
  return sizeof(struct dfs_pkt) + DFS_PACKET_HDR_LEN + dfs_packet_sums_len(packet_size) +
         packet_size;
}

static struct dfs_pkt *pkt_get(dfs_file *f) {
  struct dfs_pkt *p = f->free_pkts;
  if (p) {
    f->free_pkts = p->next;
  } else {
    p = malloc(pkt_bytes(f->packet_size));
    if (!p) return NULL;
  }
  p->next = NULL;
  p->sums = p->buf + DFS_PACKET_HDR_LEN;
  p->data = p->sums + dfs_packet_sums_len(f->packet_size);
  p->data_len = 0;
  p->carried = 0;
  p->flags = 0;
  p->offset = 0;
  p->seqno = 0;
  return p;
}

static void pkt_put(dfs_file *f, struct dfs_pkt *p) {
  p->next = f->free_pkts;
  f->free_pkts = p;
}

static const char *node_addr(dfs_file *f, size_t i, char *buf, size_t cap) {
  if (i < f->ntargets) dfs__dn_addr(f->targets[i], buf, cap);
  else snprintf(buf, cap, "?");
  return buf;
}

static int fail(dfs_file *f, int rc) {
  if (!f->failed) f->failed = rc ? rc : DFS_EPIPELINE;
  return rc ? rc : DFS_EPIPELINE;
}

/* Consume one complete ack from f->ackbuf if there is one. 1 consumed, 0 need
 * more bytes, <0 error. */
static int take_ack(dfs_file *f) {
  struct dfs_ack a;
  if (f->acklen < 12) return 0;
  int rc = dfs_ack_decode_head(f->ackbuf, f->acklen, &a);
  if (rc) {
    char who[300], why[512];
    f->err_node = 0;
    snprintf(why, sizeof why, "%s", dfs_err_msg());
    return dfs_err_set(rc, "write %s: block blk_%llu: bad ack from DataNode %s: %s", f->path,
                       (unsigned long long)f->blk_id, node_addr(f, 0, who, sizeof who), why);
  }
  size_t need = dfs_ack_len(a.n);
  if (f->acklen < need) return 0;
  dfs_ack_decode(f->ackbuf, need, &a);
  memmove(f->ackbuf, f->ackbuf + need, f->acklen - need);
  f->acklen -= need;
  char who[300];
  for (unsigned i = 0; i < a.n; i++)
    if (a.status[i] != 0) {
      /* The first failed slot is the culprit: the nodes behind a failed
       * one report DFS_EPIPELINE (docs/datanode.md). */
      f->err_node = (int)i;
      return dfs_err_set(a.status[i] < 0 ? a.status[i] : DFS_EPIPELINE,
                         "write %s: block blk_%llu: DataNode %s failed: %s", f->path,
                         (unsigned long long)f->blk_id, node_addr(f, i, who, sizeof who),
                         dfs_strerror(a.status[i]));
    }
  if (a.seqno == -1) return 1; /* heartbeat */
  struct dfs_pkt *p = f->unacked_head;
  if (!p || p->seqno != a.seqno) {
    f->err_node = 0;
    return dfs_err_set(DFS_EPROTO, "write %s: block blk_%llu: ack for packet %lld out of order",
                       f->path, (unsigned long long)f->blk_id, (long long)a.seqno);
  }
  if ((uint64_t)p->offset + p->data_len > f->blk_acked)
    f->blk_acked = (uint64_t)p->offset + p->data_len;
  f->unacked_head = p->next;
  if (!f->unacked_head) f->unacked_tail = NULL;
  f->nunacked--;
  pkt_put(f, p);
  return 1;
}

/* Read acks: block (until the deadline) only if `wait`. */
static int read_acks_(dfs_file *f, int wait) {
  int fd = dfs_conn_fd(f->pipe);
  int64_t deadline = dfs_now_ms() + f->fs->timeout_ms;
  for (;;) {
    int rc, took = 0;
    while ((rc = take_ack(f)) == 1) took = 1;
    if (rc < 0) return rc;
    if (took) return 0; /* progress: let the caller re-check its condition */
    ssize_t r = recv(fd, f->ackbuf + f->acklen, sizeof f->ackbuf - f->acklen, MSG_DONTWAIT);
    if (r > 0) {
      f->acklen += (size_t)r;
      continue;
    }
    if (r == 0) {
      char who[300];
      return dfs_err_set(DFS_ECONNRESET, "write %s: block blk_%llu: DataNode %s closed the pipeline",
                         f->path, (unsigned long long)f->blk_id, node_addr(f, 0, who, sizeof who));
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      int e = errno;
      char who[300];
      return dfs_err_set(-e, "write %s: block blk_%llu: reading acks from DataNode %s: %s",
                         f->path, (unsigned long long)f->blk_id,
                         node_addr(f, 0, who, sizeof who), strerror(e));
    }
    if (!wait) return 0;
    int64_t left = deadline - dfs_now_ms();
    if (left <= 0) {
      char who[300];
      return dfs_err_set(DFS_ETIMEDOUT, "write %s: block blk_%llu: no ack from %s within %d ms",
                         f->path, (unsigned long long)f->blk_id, node_addr(f, 0, who, sizeof who),
                         f->fs->timeout_ms);
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    poll(&pfd, 1, (int)left); /* readable, EINTR or timed out: the loop decides */
  }
}

/* Read acks: block (until the deadline) only if `wait`. A transport error
 * blames the first node. */
static int read_acks(dfs_file *f, int wait) {
  if (!f->pipe) return 0; /* recover() ended the block without one: nothing unacked */
  f->err_node = -1;
  int rc = read_acks_(f, wait);
  if (rc && f->err_node < 0) f->err_node = 0; /* the connection to the first node */
  return rc;
}

static int recover(dfs_file *f, int cause);

/* Wait until at most max_unacked packets are unacknowledged, recovering
 * the pipeline when a node fails on the way. */
static int wait_acked(dfs_file *f, int max_unacked) {
  while (f->nunacked > max_unacked) {
    int rc = read_acks(f, 1);
    if (rc && (rc = recover(f, rc)) != 0) return rc;
  }
  return 0;
}

static int send_pkt(dfs_file *f, struct dfs_pkt *p) {
  struct dfs_packet_hdr h = {p->offset, p->seqno, p->data_len, p->flags};
  dfs_packet_hdr_encode(&h, p->buf);
  crc32c_chunks(p->data, p->data_len, DFS_CHUNK_SIZE, p->sums);
  uint32_t sl = dfs_packet_sums_len(p->data_len);
  struct iovec iov[3] = {{p->buf, DFS_PACKET_HDR_LEN}, {p->sums, sl}, {p->data, p->data_len}};
  /* Queue first: the ack may come back before writev returns. */
  if (f->unacked_tail) f->unacked_tail->next = p;
  else f->unacked_head = p;
  f->unacked_tail = p;
  p->next = NULL;
  f->nunacked++;
  int rc = dfs_writev_full(dfs_conn_fd(f->pipe), iov, p->data_len ? 3 : 1,
                           dfs_now_ms() + f->fs->timeout_ms);
  if (rc) {
    char who[300];
    f->err_node = 0;
    rc = dfs_err_set(rc, "write %s: block blk_%llu: sending to DataNode %s: %s", f->path,
                     (unsigned long long)f->blk_id, node_addr(f, 0, who, sizeof who),
                     dfs_strerror(rc));
    if ((rc = recover(f, rc)) != 0) return rc; /* p was resent with the others */
    if (!f->pipe) return 0; /* the block ended without a pipeline (see recover) */
  } else {
    f->last_send_ms = dfs_now_ms();
  }
  rc = read_acks(f, 0);
  if (rc && (rc = recover(f, rc)) != 0) return rc;
  return wait_acked(f, WINDOW_PACKETS);
}

static void free_targets(dfs_file *f) {
  if (f->addblock_resp) protobuf_c_message_free_unpacked(f->addblock_resp, NULL);
  f->addblock_resp = NULL;
  free(f->targets);
  f->targets = NULL;
  f->ntargets = 0;
}

/* Remember a failed node for later ADD_BLOCKs of this stream. */
static void exclude_node(dfs_file *f, const char *uuid) {
  for (size_t i = 0; i < f->nexcluded; i++)
    if (strcmp(f->excluded[i], uuid) == 0) return;
  if (f->nexcluded >= MAX_EXCLUDED) return;
  char **n = realloc(f->excluded, (f->nexcluded + 1) * sizeof *n);
  if (!n) return;
  f->excluded = n;
  if ((f->excluded[f->nexcluded] = strdup(uuid)) != NULL) f->nexcluded++;
}

/* Borrow a connection to targets[0] and send WRITE_BLOCK for block (id, gs)
 * with the rest of the pipeline behind it. On success f->pipe is set. On
 * failure *bad gets the index of the node to blame (first_bad_link, else
 * the first node) and f->pipe is NULL. */
static int setup_pipeline(dfs_file *f, uint64_t gs, int recovery, size_t *bad) {
  char first[300];
  *bad = 0;
  dfs__dn_addr(f->targets[0], first, sizeof first);
  int rc = dfs__take_conn(f->fs, first, &f->pipe);
  if (rc) {
    f->pipe = NULL;
    return dfs_err_set(rc, "write %s: block blk_%llu: cannot reach DataNode %s: %s", f->path,
                       (unsigned long long)f->blk_id, first, dfs_err_msg());
  }
  Dfs__WriteBlockRequest w = DFS__WRITE_BLOCK_REQUEST__INIT;
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = f->blk_id;
  b.genstamp = gs;
  b.num_bytes = recovery ? f->blk_acked : 0;
  w.block = &b;
  w.targets = f->targets + 1;
  w.n_targets = f->ntargets - 1;
  w.client_name = f->fs->client_name;
  w.stage = recovery ? DFS__WRITE_STAGE__STAGE_RECOVERY : DFS__WRITE_STAGE__STAGE_CREATE;
  if (recovery) {
    w.has_min_bytes_rcvd = w.has_latest_genstamp = 1;
    w.min_bytes_rcvd = f->blk_acked;
    w.latest_genstamp = gs;
  }
  Dfs__WriteBlockResponse *wr = NULL;
  rc = dfs_conn_call(f->pipe, DFS_M_WRITE_BLOCK, &w.base, &dfs__write_block_response__descriptor,
                     (ProtobufCMessage **)&wr, f->fs->timeout_ms);
  if (rc) {
    dfs_err_set(rc, "write %s: block blk_%llu: WRITE_BLOCK to %s: %s", f->path,
                (unsigned long long)f->blk_id, first, dfs_err_msg());
  } else if (wr->status != 0) {
    rc = wr->status < 0 ? wr->status : DFS_EPIPELINE;
    const char *badaddr = first;
    if (wr->first_bad_link && *wr->first_bad_link) {
      badaddr = wr->first_bad_link;
      for (size_t i = 0; i < f->ntargets; i++) {
        char a[300];
        dfs__dn_addr(f->targets[i], a, sizeof a);
        if (strcmp(a, wr->first_bad_link) == 0) *bad = i;
      }
    }
    dfs_err_set(rc, "write %s: block blk_%llu: pipeline %s failed at %s: %s", f->path,
                (unsigned long long)f->blk_id, recovery ? "recovery" : "setup", badaddr,
                wr->message ? wr->message : dfs_strerror(rc));
  }
  if (wr) dfs__write_block_response__free_unpacked(wr, NULL);
  if (rc) {
    dfs_rpc_client_give(f->fs->rpc, f->pipe, false);
    f->pipe = NULL;
    return rc;
  }
  dfs_sock_set_buffers(dfs_conn_fd(f->pipe), 4 << 20);
  return 0;
}

/* Ask for a block and open its pipeline. A node that refuses (or cannot be
 * reached) is excluded, the block abandoned and a new one requested. */
static int open_block(dfs_file *f) {
  int rc = 0;
  /* The block just finished, committed with its length by ADD_BLOCK. */
  int have_prev = f->any_block;
  uint64_t prev_id = f->blk_id, prev_gs = f->blk_gs, prev_len = f->block_bytes;
  for (int attempt = 0; attempt < ADD_BLOCK_ATTEMPTS; attempt++) {
    Dfs__AddBlockRequest r = DFS__ADD_BLOCK_REQUEST__INIT;
    Dfs__Block prev = DFS__BLOCK__INIT;
    r.path = dfs__bytes(f->path);
    r.client_name = f->fs->client_name;
    r.has_file_id = 1;
    r.file_id = f->file_id;
    if (have_prev) {
      prev.id = prev_id;
      prev.genstamp = prev_gs;
      prev.num_bytes = prev_len;
      r.previous = &prev;
    }
    r.exclude_uuids = f->excluded;
    r.n_exclude_uuids = f->nexcluded;
    /* A block after the first one is allocated without waiting for the
     * NameNode's disk, which a streaming write keeps busy (its sync waited
     * 0.1-0.3 s behind the pipeline's own data, with the pipeline idle):
     * the block becomes durable at the first hflush/hsync in it (FSYNC) or
     * at close (COMPLETE). The first block's allocation stays synced: a
     * small file would pay an FSYNC at its first hflush instead. */
    r.has_sync_later = 1;
    r.sync_later = have_prev;
    Dfs__AddBlockResponse *resp = NULL;
    rc = dfs__nn_call(f->fs, DFS_M_ADD_BLOCK, &r.base, &dfs__add_block_response__descriptor,
                      (ProtobufCMessage **)&resp, 0);
    if (rc) break;
    free_targets(f);
    f->addblock_resp = &resp->base;
    Dfs__LocatedBlock *lb = resp->block;
    f->targets = malloc((lb->n_locs ? lb->n_locs : 1) * sizeof *f->targets);
    if (!f->targets) {
      rc = dfs_err_set(DFS_ENOMEM, "out of memory");
      break;
    }
    memcpy(f->targets, lb->locs, lb->n_locs * sizeof *f->targets);
    f->ntargets = lb->n_locs;
    f->blk_id = lb->block->id;
    f->blk_gs = lb->block->genstamp;
    f->block_bytes = 0;
    f->blk_acked = 0;
    f->failed_addrs[0] = 0;
    f->any_block = 1;
    f->alloc_unsynced = have_prev;
    f->next_seqno = 0;
    f->acklen = 0;
    f->err_node = -1;
    if (f->ntargets == 0) {
      rc = dfs_err_set(DFS_ENODATANODE, "write %s: no DataNode for block blk_%llu", f->path,
                       (unsigned long long)f->blk_id);
      break;
    }
    size_t bad = 0;
    rc = setup_pipeline(f, f->blk_gs, 0, &bad);
    if (rc == 0) {
      f->has_block = 1;
      break;
    }
    /* Give the block back and try again without the node that failed. */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dfs_err_msg());
    int keep = rc;
    Dfs__AbandonBlockRequest ab = DFS__ABANDON_BLOCK_REQUEST__INIT;
    Dfs__Block blk = DFS__BLOCK__INIT;
    blk.id = f->blk_id;
    blk.genstamp = f->blk_gs;
    ab.block = &blk;
    ab.path = dfs__bytes(f->path);
    ab.client_name = f->fs->client_name;
    dfs__nn_call(f->fs, DFS_M_ABANDON_BLOCK, &ab.base, NULL, NULL, 0);
    exclude_node(f, f->targets[bad]->id->uuid);
    /* The abandoned block is not the previous one: the next ADD_BLOCK names
     * the same `previous` as this one did. */
    rc = dfs_err_set(keep, "%s", msg);
  }
  return rc ? fail(f, rc) : 0;
}

/* Send every unacked packet again, in order, on the rebuilt pipeline (their
 * headers and checksums are still in their buffers). */
static int resend_unacked(dfs_file *f) {
  for (struct dfs_pkt *p = f->unacked_head; p; p = p->next) {
    uint32_t sl = dfs_packet_sums_len(p->data_len);
    struct iovec iov[3] = {{p->buf, DFS_PACKET_HDR_LEN}, {p->sums, sl}, {p->data, p->data_len}};
    int rc = dfs_writev_full(dfs_conn_fd(f->pipe), iov, p->data_len ? 3 : 1,
                             dfs_now_ms() + f->fs->timeout_ms);
    if (rc) {
      char who[300];
      f->err_node = 0;
      return dfs_err_set(rc, "write %s: block blk_%llu: resending to DataNode %s: %s", f->path,
                         (unsigned long long)f->blk_id, node_addr(f, 0, who, sizeof who),
                         dfs_strerror(rc));
    }
  }
  f->last_send_ms = dfs_now_ms();
  return 0;
}

/* Drop pipeline node i (it failed): remembered for the error message and
 * excluded from later blocks. */
static void drop_node(dfs_file *f, size_t i) {
  char a[300];
  if (i >= f->ntargets) i = 0;
  dfs__dn_addr(f->targets[i], a, sizeof a);
  size_t l = strlen(f->failed_addrs);
  snprintf(f->failed_addrs + l, sizeof f->failed_addrs - l, "%s%s", l ? ", " : "", a);
  exclude_node(f, f->targets[i]->id->uuid);
  memmove(f->targets + i, f->targets + i + 1, (f->ntargets - i - 1) * sizeof *f->targets);
  f->ntargets--;
}

/*
 * Pipeline recovery after the data-path error `cause` (f->err_node names
 * the failed node). Returns 0 once the pipeline is rebuilt from the
 * survivors and every unacked packet has been sent again; otherwise the
 * stream fails (sticky) with the error returned. HDFS's DataStreamer
 * processDatanodeError + setupPipelineForAppendOrRecovery, without adding
 * replacement nodes.
 */
static int recover(dfs_file *f, int cause) {
  char why[1024];
  snprintf(why, sizeof why, "%s", dfs_err_msg());
  if (f->failed) return f->failed;
  if (f->pipe) dfs_rpc_client_give(f->fs->rpc, f->pipe, false); /* ends the old streams */
  f->pipe = NULL;
  f->acklen = 0;
  f->pending_err = 0;
  if (!f->has_block || f->ntargets == 0) return fail(f, dfs_err_set(cause, "%s", why));
  f->recoveries++;
  /* Only the end-of-block packet unacked: every byte is on every node and
   * some may have finalized the replica already (STAGE_RECOVERY refuses a
   * finalized one). Try to rebuild; if that fails, the block is done as
   * it is (see the fallback below). */
  int only_last = f->unacked_head && f->unacked_head == f->unacked_tail &&
                  (f->unacked_head->flags & DFS_PKT_LAST);
  drop_node(f, f->err_node < 0 ? 0 : (size_t)f->err_node);
  f->err_node = -1;
  int rc = cause;
  while (f->ntargets > 0) {
    /* 1. A new generation stamp from the NameNode. */
    Dfs__UpdateBlockForPipelineRequest ur = DFS__UPDATE_BLOCK_FOR_PIPELINE_REQUEST__INIT;
    Dfs__Block ob = DFS__BLOCK__INIT;
    ob.id = f->blk_id;
    ob.genstamp = f->blk_gs;
    ob.num_bytes = f->blk_acked;
    ur.block = &ob;
    ur.client_name = f->fs->client_name;
    Dfs__UpdateBlockForPipelineResponse *uresp = NULL;
    rc = dfs__nn_call(f->fs, DFS_M_UPDATE_BLOCK_FOR_PIPELINE, &ur.base,
                      &dfs__update_block_for_pipeline_response__descriptor,
                      (ProtobufCMessage **)&uresp, 0);
    if (rc) return fail(f, rc);
    uint64_t new_gs = uresp->block->block->genstamp;
    dfs__update_block_for_pipeline_response__free_unpacked(uresp, NULL);
    /* 2. The survivors, cut to the acknowledged length under the new stamp. */
    size_t bad = 0;
    rc = setup_pipeline(f, new_gs, 1, &bad);
    if (rc) {
      if (only_last) {
        /* Some survivor finalized the replica (it has every byte under the
         * current stamp, which the NameNode keeps): the block is done. */
        while (f->unacked_head) {
          struct dfs_pkt *p = f->unacked_head;
          f->unacked_head = p->next;
          pkt_put(f, p);
        }
        f->unacked_tail = NULL;
        f->nunacked = 0;
        return 0;
      }
      drop_node(f, bad);
      continue;
    }
    /* 3. The NameNode learns the new stamp, length and pipeline. */
    Dfs__UpdatePipelineRequest pr = DFS__UPDATE_PIPELINE_REQUEST__INIT;
    Dfs__Block nb = DFS__BLOCK__INIT;
    nb.id = f->blk_id;
    nb.genstamp = new_gs;
    nb.num_bytes = f->blk_acked;
    char **uuids = malloc(f->ntargets * sizeof *uuids);
    if (!uuids) return fail(f, dfs_err_set(DFS_ENOMEM, "out of memory"));
    for (size_t i = 0; i < f->ntargets; i++) uuids[i] = f->targets[i]->id->uuid;
    pr.client_name = f->fs->client_name;
    pr.old_block = &ob;
    pr.new_block = &nb;
    pr.new_node_uuids = uuids;
    pr.n_new_node_uuids = f->ntargets;
    rc = dfs__nn_call(f->fs, DFS_M_UPDATE_PIPELINE, &pr.base, NULL, NULL, 1);
    free(uuids);
    if (rc) return fail(f, rc);
    f->blk_gs = new_gs;
    /* 4. Everything unacknowledged, again. */
    rc = resend_unacked(f);
    if (rc == 0) return 0;
    dfs_rpc_client_give(f->fs->rpc, f->pipe, false);
    f->pipe = NULL;
    only_last = 0; /* the survivors now hold RBW replicas under new_gs */
    drop_node(f, 0);
    f->err_node = -1;
  }
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", dfs_err_msg());
  /* The code of the last failure (e.g. DFS_ECHECKSUM, DFS_ECONNRESET). */
  return fail(f, dfs_err_set(rc < 0 ? rc : DFS_EPIPELINE,
                             "write %s: block blk_%llu: all DataNodes of the pipeline are bad "
                             "(%s); aborting: %s",
                             f->path, (unsigned long long)f->blk_id, f->failed_addrs,
                             rc != cause ? msg : why));
}

/* Send the empty LAST packet and wait until every packet of the block is
 * acknowledged; the pipeline's connection goes back to the pool. */
static int end_block(dfs_file *f) {
  struct dfs_pkt *p = pkt_get(f);
  if (!p) return fail(f, dfs_err_set(DFS_ENOMEM, "out of memory"));
  p->offset = (int64_t)f->block_bytes - (int64_t)(f->block_bytes % DFS_CHUNK_SIZE);
  p->seqno = f->next_seqno++;
  p->flags = DFS_PKT_LAST;
  /* An empty packet's offset must be chunk-aligned; the DataNode ignores it. */
  int rc = send_pkt(f, p);
  if (rc == 0) rc = wait_acked(f, 0);
  if (rc) return rc;
  if (f->pipe) dfs_rpc_client_give(f->fs->rpc, f->pipe, true); /* NULL: see recover() */
  f->pipe = NULL;
  f->has_block = 0;
  return 0;
}

/* A pipeline error seen by the heartbeat (renewer thread): recover it now,
 * in the writing thread. */
static int take_pending(dfs_file *f) {
  if (!f->pending_err || f->failed) return 0;
  int rc = f->pending_err;
  char who[300];
  dfs_err_set(rc, "write %s: block blk_%llu: pipeline failed while idle (DataNode %s): %s",
              f->path, (unsigned long long)f->blk_id,
              node_addr(f, f->err_node < 0 ? 0 : (size_t)f->err_node, who, sizeof who),
              dfs_strerror(rc));
  return recover(f, rc);
}

/* Send the packet being filled. After a partial chunk (hflush), the next
 * packet starts at that chunk and carries its bytes again (see
 * docs/protocol.md). */
static int flush_cur(dfs_file *f, uint8_t flags) {
  struct dfs_pkt *p = f->cur;
  if (!p) return 0;
  f->cur = NULL;
  p->seqno = f->next_seqno++;
  p->flags = flags;
  uint64_t end = (uint64_t)p->offset + p->data_len;
  uint32_t partial = (uint32_t)(end % DFS_CHUNK_SIZE);
  struct dfs_pkt *carry = NULL;
  if (partial && end < f->blocksize) {
    carry = pkt_get(f);
    if (!carry) return fail(f, dfs_err_set(DFS_ENOMEM, "out of memory"));
    carry->offset = (int64_t)(end - partial);
    memcpy(carry->data, p->data + p->data_len - partial, partial);
    carry->data_len = partial;
    carry->carried = partial;
  }
  int rc = send_pkt(f, p);
  if (rc) {
    if (carry) pkt_put(f, carry);
    return rc;
  }
  f->cur = carry;
  return 0;
}

int dfs_create(dfs_fs *fs, const char *path, const struct dfs_create_opts *opts,
               dfs_file **out) {
  struct dfs_create_opts none = {0};
  if (!opts) opts = &none;
  int prc = dfs__check_path("create", path);
  if (prc) return prc;
  Dfs__CreateRequest r = DFS__CREATE_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.permission = opts->permission ? opts->permission : 0644;
  r.client_name = fs->client_name;
  r.has_overwrite = 1;
  r.overwrite = opts->overwrite;
  r.has_create_parent = 1;
  r.create_parent = !opts->no_create_parent;
  r.has_replication = 1;
  r.replication = opts->replication > 0 ? (uint32_t)opts->replication : fs->replication;
  r.has_blocksize = 1;
  r.blocksize = opts->blocksize ? opts->blocksize : fs->blocksize;
  if (r.blocksize % DFS_CHUNK_SIZE)
    return dfs_err_set(DFS_EINVAL, "create: %s: block size %llu is not a multiple of %d", path,
                       (unsigned long long)r.blocksize, DFS_CHUNK_SIZE);
  Dfs__CreateResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_CREATE, &r.base, &dfs__create_response__descriptor,
                        (ProtobufCMessage **)&resp, 0);
  if (rc) return rc;
  dfs_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    dfs__create_response__free_unpacked(resp, NULL);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  f->fs = fs;
  f->writing = 1;
  f->file_id = resp->status->file_id;
  f->blocksize = resp->status->blocksize ? resp->status->blocksize : r.blocksize;
  f->replication = (int)r.replication;
  f->packet_size = fs->packet_size;
  dfs__create_response__free_unpacked(resp, NULL);
  pthread_mutex_init(&f->mu, NULL);
  dfs__writer_add(fs, f);
  *out = f;
  return 0;
}

static ssize_t write_locked(dfs_file *f, const void *buf, size_t len) {
  if (!f->writing) return dfs_err_set(DFS_EBADF, "write: %s: file is open for reading", f->path);
  if (f->failed)
    return dfs_err_set(f->failed, "write: %s: the stream failed earlier: %s", f->path,
                       dfs_strerror(f->failed));
  int prc = take_pending(f);
  if (prc) return prc;
  const uint8_t *p = buf;
  size_t left = len;
  while (left) {
    if (!f->has_block) {
      int rc = open_block(f);
      if (rc) return rc;
    }
    if (!f->cur) {
      f->cur = pkt_get(f);
      if (!f->cur) return fail(f, dfs_err_set(DFS_ENOMEM, "out of memory"));
      f->cur->offset = (int64_t)f->block_bytes;
    }
    struct dfs_pkt *c = f->cur;
    uint64_t room_pkt = f->packet_size - c->data_len;
    uint64_t room_blk = f->blocksize - f->block_bytes;
    size_t n = left;
    if (n > room_pkt) n = (size_t)room_pkt;
    if (n > room_blk) n = (size_t)room_blk;
    memcpy(c->data + c->data_len, p, n);
    c->data_len += (uint32_t)n;
    f->block_bytes += n;
    f->length += n;
    p += n;
    left -= n;
    if (c->data_len == f->packet_size || f->block_bytes == f->blocksize) {
      int rc = flush_cur(f, 0);
      if (rc) return rc;
    }
    if (f->block_bytes == f->blocksize) {
      int rc = end_block(f);
      if (rc) return rc;
    }
  }
  return (ssize_t)len;
}

ssize_t dfs_write(dfs_file *f, const void *buf, size_t len) {
  pthread_mutex_lock(&f->mu);
  ssize_t n = write_locked(f, buf, len);
  pthread_mutex_unlock(&f->mu);
  return n;
}

void dfs__writer_heartbeat(dfs_file *f) {
  if (pthread_mutex_trylock(&f->mu) != 0) return; /* the writer is busy: not idle */
  if (f->has_block && f->pipe && !f->failed && !f->pending_err &&
      dfs_now_ms() - f->last_send_ms >= f->fs->timeout_ms / 2) {
    uint8_t hb[DFS_PACKET_HDR_LEN];
    struct dfs_packet_hdr h = {(int64_t)(f->block_bytes - f->block_bytes % DFS_CHUNK_SIZE), -1, 0,
                               0};
    dfs_packet_hdr_encode(&h, hb);
    struct iovec iov = {hb, sizeof hb};
    /* Short deadline: the renewer holds fs->mu, and after half a timeout
     * of silence the socket buffer of a healthy pipeline is empty. */
    int rc = dfs_writev_full(dfs_conn_fd(f->pipe), &iov, 1, dfs_now_ms() + 1000);
    /* A failure is left for the writing thread to recover (pending_err):
     * the renewer holds fs->mu and must not wait on the NameNode here. */
    if (rc) {
      f->err_node = 0;
      f->pending_err = rc;
    } else {
      f->last_send_ms = dfs_now_ms();
      if ((rc = read_acks(f, 0)) != 0) f->pending_err = rc;
    }
  }
  pthread_mutex_unlock(&f->mu);
}

/* Make the allocation of the blocks written so far durable at the NameNode
 * (see open_block) before an hflush/hsync promises their bytes. */
static int sync_alloc(dfs_file *f, const char *op) {
  if (!f->alloc_unsynced) return 0;
  Dfs__FsyncRequest r = DFS__FSYNC_REQUEST__INIT;
  r.path = dfs__bytes(f->path);
  r.client_name = f->fs->client_name;
  int rc = dfs__nn_call(f->fs, DFS_M_FSYNC, &r.base, NULL, NULL, 0);
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", dfs_err_msg());
    return dfs_err_set(rc, "%s: %s: making the block allocation durable: %s", op, f->path, why);
  }
  f->alloc_unsynced = 0;
  return 0;
}

/* hflush / hsync: send what is buffered (also a partial chunk) and wait
 * until every packet is acknowledged by the whole pipeline. With nothing new
 * to send, hflush only waits; hsync sends an empty SYNC packet so that every
 * node fsyncs what it has (as HDFS does). A block allocated with sync_later
 * is made durable meanwhile (sync_alloc, while the DataNodes work). */
static int flush_locked(dfs_file *f, uint8_t flags) {
  const char *op = (flags & DFS_PKT_SYNC) ? "hsync" : "hflush";
  if (!f->writing) return dfs_err_set(DFS_EBADF, "%s: %s: file is open for reading", op, f->path);
  if (f->failed)
    return dfs_err_set(f->failed, "%s: %s: the stream failed earlier: %s", op, f->path,
                       dfs_strerror(f->failed));
  /* Nothing written since the last block ended: that block is acked. */
  if (!f->has_block) return sync_alloc(f, op);
  int rc = take_pending(f);
  if (rc) return rc;
  int fresh = f->cur && f->cur->data_len > f->cur->carried;
  if (fresh) {
    rc = flush_cur(f, flags);
  } else if (flags & DFS_PKT_SYNC) {
    struct dfs_pkt *p = pkt_get(f);
    if (!p) return fail(f, dfs_err_set(DFS_ENOMEM, "out of memory"));
    p->offset = (int64_t)(f->block_bytes - f->block_bytes % DFS_CHUNK_SIZE);
    p->seqno = f->next_seqno++;
    p->flags = flags;
    rc = send_pkt(f, p);
  }
  if (rc == 0) rc = sync_alloc(f, op);
  if (rc == 0) rc = wait_acked(f, 0);
  return rc;
}

static int flush_common(dfs_file *f, uint8_t flags) {
  pthread_mutex_lock(&f->mu);
  int rc = flush_locked(f, flags);
  pthread_mutex_unlock(&f->mu);
  return rc;
}

int dfs_hflush(dfs_file *f) { return flush_common(f, DFS_PKT_FLUSH); }
int dfs_hsync(dfs_file *f) { return flush_common(f, DFS_PKT_SYNC); }

int dfs__writer_close(dfs_file *f) {
  pthread_mutex_lock(&f->mu);
  int rc = f->failed ? dfs_err_set(f->failed, "close: %s: the stream failed earlier: %s", f->path,
                                   dfs_strerror(f->failed))
                     : 0;
  if (rc == 0 && f->has_block) {
    rc = take_pending(f);
    if (rc == 0 && f->cur && f->cur->data_len) rc = flush_cur(f, 0);
    if (rc == 0) rc = end_block(f);
  }
  if (rc == 0) {
    /* COMPLETE: the NameNode answers false until the last block has its
     * minimum replicas reported; back off and ask again. */
    Dfs__CompleteRequest r = DFS__COMPLETE_REQUEST__INIT;
    Dfs__Block last = DFS__BLOCK__INIT;
    r.path = dfs__bytes(f->path);
    r.client_name = f->fs->client_name;
    r.has_file_id = 1;
    r.file_id = f->file_id;
    if (f->any_block) {
      last.id = f->blk_id;
      last.genstamp = f->blk_gs;
      last.num_bytes = f->block_bytes;
      r.last = &last;
    }
    int64_t deadline = dfs_now_ms() + 60000;
    useconds_t backoff = 5000;
    for (;;) {
      Dfs__CompleteResponse *resp = NULL;
      rc = dfs__nn_call(f->fs, DFS_M_COMPLETE, &r.base, &dfs__complete_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
      if (rc) break;
      int done = resp->result;
      dfs__complete_response__free_unpacked(resp, NULL);
      if (done) break;
      if (dfs_now_ms() > deadline) {
        rc = dfs_err_set(DFS_ETIMEDOUT,
                         "close: %s: the NameNode did not see enough replicas of the last block "
                         "within 60 s",
                         f->path);
        break;
      }
      usleep(backoff);
      if (backoff < 400000) backoff *= 2;
    }
  }
  if (f->pipe) dfs_rpc_client_give(f->fs->rpc, f->pipe, false);
  f->pipe = NULL;
  pthread_mutex_unlock(&f->mu);
  /* Still listed until here so the lease is renewed while COMPLETE retries.
   * The renewer looks at f only under fs->mu, so once this returns it never
   * touches f (or f->mu) again. */
  dfs__writer_remove(f->fs, f);
  if (f->cur) pkt_put(f, f->cur);
  while (f->unacked_head) {
    struct dfs_pkt *p = f->unacked_head;
    f->unacked_head = p->next;
    pkt_put(f, p);
  }
  while (f->free_pkts) {
    struct dfs_pkt *p = f->free_pkts;
    f->free_pkts = p->next;
    free(p);
  }
  free_targets(f);
  for (size_t i = 0; i < f->nexcluded; i++) free(f->excluded[i]);
  free(f->excluded);
  f->excluded = NULL;
  f->nexcluded = 0;
  return rc;
}
