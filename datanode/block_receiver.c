/*
 * block_receiver.c - WRITE_BLOCK: one node of the write pipeline.
 *
 * The connection's thread is the receiver: it sets up the downstream part
 * of the pipeline, replies, then per packet reads the header and the
 * payload (checksums + data) with one read each into a buffer reused for
 * the whole block, forwards the same bytes downstream with one writev,
 * verifies the checksums, writes data and checksums to the rbw replica and
 * queues (seqno, own status) for the responder. The responder thread
 * matches each queued packet with the downstream ack of the same seqno and
 * sends one ack upstream: [own status, downstream statuses...]. Forwarding
 * before verifying and writing keeps the nodes working in parallel; acks
 * stay in packet order because both sides are FIFO.
 *
 * Errors: a downstream that fails is reported in the statuses of the acks
 * (its slot gets the error, the nodes behind it DFS_EPIPELINE) while this
 * node keeps storing; a checksum mismatch or a local write error is this
 * node's status, after which the stream ends (connection closed once the
 * ack is out). After the LAST packet's ack both connections are back in
 * frame mode and reusable.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crc32c.h"
#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "net.h"
#include "packet.h"
#include "replica.h"

#define RING 128              /* packets in flight between receiver and responder */
#define SOCK_BUF (4 << 20)
#define HELD_MAX 64           /* packets staged but not yet flushed to the file */

struct pending {
  int64_t seqno;
  uint64_t end;     /* offset + data_len */
  int32_t status;   /* this node's */
  uint8_t flags;
};

struct receiver {
  dn_ctx *dn;
  int up_fd;
  dfs_conn *down;          /* NULL at the end of the pipeline */
  int down_fd;
  int n_down;              /* nodes downstream */
  uint64_t id, gs;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct pending ring[RING]; /* guarded by lock */
  size_t head, count;        /* guarded by lock */
  bool closing;              /* guarded by lock: no more packets will be queued */
  bool responder_done;       /* guarded by lock */
  _Atomic int down_err;      /* first downstream failure (0: none) */
  bool up_ok;                /* responder: every ack went out (read after join) */
  bool last_acked;           /* responder: the LAST ack went out with all-OK statuses */
  bool down_in_step;         /* responder: downstream LAST ack received */
};

void dn_info_addr(const Dfs__DatanodeInfo *d, char *buf, size_t cap) {
  if (d == NULL || d->id == NULL) {
    snprintf(buf, cap, "?");
    return;
  }
  if (strchr(d->id->host, ':') != NULL)
    snprintf(buf, cap, "[%s]:%u", d->id->host, d->id->port);
  else
    snprintf(buf, cap, "%s:%u", d->id->host, d->id->port);
}

/* True if the next packet is already waiting on the socket. */
static bool input_waiting(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) > 0;
}

static int64_t deadline(const struct receiver *r) {
  return dfs_now_ms() + r->dn->socket_timeout_ms;
}

static void down_fail(struct receiver *r, int err) {
  int zero = 0;
  if (atomic_compare_exchange_strong(&r->down_err, &zero, err ? err : DFS_EPIPELINE)) {
    LOG_WARN("datanode", "blk_%llu: downstream %s failed: %s", (unsigned long long)r->id,
             dfs_conn_addr(r->down), dfs_strerror(err));
    /* Wake a responder blocked on the downstream ack. */
    shutdown(r->down_fd, SHUT_RDWR);
  }
}

static void *responder_main(void *arg) {
  struct receiver *r = arg;
  pthread_setname_np(pthread_self(), "dn-responder");
  uint8_t buf[DFS_ACK_MAX_LEN];
  r->up_ok = true;
  for (;;) {
    pthread_mutex_lock(&r->lock);
    while (r->count == 0 && !r->closing) pthread_cond_wait(&r->cond, &r->lock);
    if (r->count == 0) {
      pthread_mutex_unlock(&r->lock);
      break;
    }
    struct pending p = r->ring[r->head];
    bool was_full = r->count == RING;
    r->head = (r->head + 1) % RING;
    r->count--;
    pthread_mutex_unlock(&r->lock);
    if (was_full) pthread_cond_broadcast(&r->cond); /* the receiver waits for room */

    struct dfs_ack ack = {.seqno = p.seqno, .n = (uint8_t)(1 + r->n_down)};
    ack.status[0] = p.status;
    if (r->n_down > 0) {
      struct dfs_ack d;
      int rc = atomic_load(&r->down_err);
      if (rc == 0) {
        int64_t t0 = dfs_now_ms();
        rc = dfs_read_full(r->down_fd, buf, 12, deadline(r));
        if (dfs_now_ms() - t0 > 1000)
          LOG_DEBUG("datanode", "blk_%llu: downstream ack for %lld took %lld ms",
                    (unsigned long long)r->id, (long long)p.seqno, (long long)(dfs_now_ms() - t0));
        if (rc == 0) rc = dfs_ack_decode_head(buf, 12, &d);
        if (rc == 0 && d.n != r->n_down)
          rc = dfs_err_set(DFS_EPROTO, "ack with %u statuses, expected %d", d.n, r->n_down);
        if (rc == 0) rc = dfs_read_full(r->down_fd, buf + 12, 4u * d.n, deadline(r));
        if (rc == 0) rc = dfs_ack_decode(buf, dfs_ack_len(d.n), &d);
        if (rc == 0 && d.seqno != p.seqno)
          rc = dfs_err_set(DFS_EPROTO, "ack for seqno %lld, expected %lld",
                           (long long)d.seqno, (long long)p.seqno);
        if (rc < 0) down_fail(r, rc);
      }
      rc = atomic_load(&r->down_err);
      if (rc == 0) {
        memcpy(&ack.status[1], d.status, sizeof(int32_t) * (size_t)r->n_down);
        if (p.flags & DFS_PKT_LAST) r->down_in_step = true;
      } else {
        ack.status[1] = rc;
        for (int i = 2; i <= r->n_down; i++) ack.status[i] = DFS_EPIPELINE;
      }
    }
    bool all_ok = true;
    for (int i = 0; i < ack.n; i++) all_ok &= ack.status[i] == 0;
    /* The visible length moves before the ack goes up: once the writer's
     * hflush returns, a reader asking this node must see those bytes. */
    if (all_ok && p.seqno >= 0)
      dn_rmap_advance(r->dn->map, r->id, r->gs, 0, p.end);
    size_t len = dfs_ack_encode(&ack, buf);
    if (r->up_ok && dfs_write_full(r->up_fd, buf, len, deadline(r)) < 0) {
      LOG_WARN("datanode", "blk_%llu: ack to upstream failed: %s", (unsigned long long)r->id,
               dfs_err_msg());
      r->up_ok = false;
      shutdown(r->up_fd, SHUT_RDWR); /* the receiver's read fails at once */
    }
    if (p.flags & DFS_PKT_LAST) r->last_acked = all_ok && r->up_ok;
  }
  pthread_mutex_lock(&r->lock);
  r->responder_done = true;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

/* Hand a packet to the responder; false if the responder has quit. */
static bool enqueue(struct receiver *r, const struct pending *p) {
  pthread_mutex_lock(&r->lock);
  while (r->count == RING && !r->responder_done) pthread_cond_wait(&r->cond, &r->lock);
  bool ok = !r->responder_done, was_empty = r->count == 0;
  if (ok) {
    r->ring[(r->head + r->count) % RING] = *p;
    r->count++;
  }
  pthread_mutex_unlock(&r->lock);
  /* Only an empty ring can have the responder waiting for it; woken after
   * the unlock, it does not wait for the lock too (an hflush's ack passes
   * here at every node of the pipeline). */
  if (ok && was_empty) pthread_cond_broadcast(&r->cond);
  return ok;
}

/* The request for the rest of the pipeline: our own minus the first target. */
static Dfs__WriteBlockRequest downstream_request(const Dfs__WriteBlockRequest *req) {
  Dfs__WriteBlockRequest fwd = *req;
  fwd.n_targets = req->n_targets - 1;
  fwd.targets = req->targets + 1;
  return fwd;
}

/* Close the downstream connection (not reusable) and forget it. */
static void drop_downstream(struct receiver *r) {
  if (r->down) dfs_rpc_client_give(r->dn->client, r->down, false);
  r->down = NULL;
  r->down_fd = -1;
}

/* First half of the downstream setup: connect and send the request, so that
 * the rest of the pipeline prepares its replicas while this node creates
 * its own. 0, or an error (finish_downstream then tries once more). */
static int start_downstream(struct receiver *r, const Dfs__WriteBlockRequest *req) {
  char addr[300];
  dn_info_addr(req->targets[0], addr, sizeof addr);
  Dfs__WriteBlockRequest fwd = downstream_request(req);
  int rc = dn_take_conn(r->dn, addr, &r->down);
  if (rc < 0) return rc;
  r->down_fd = dfs_conn_fd(r->down);
  dfs_sock_set_buffers(r->down_fd, SOCK_BUF);
  rc = dfs_conn_send(r->down, DFS_M_WRITE_BLOCK, &fwd.base, r->dn->socket_timeout_ms, NULL);
  if (rc < 0) drop_downstream(r);
  return rc;
}

/* Second half: the downstream's answer. `sent` says whether
 * start_downstream succeeded; if not, or if the pooled connection it used
 * had been closed by the peer while idle, the whole call is made (again)
 * on a fresh connection. */
static int finish_downstream(struct receiver *r, const Dfs__WriteBlockRequest *req, bool sent,
                             char *bad_link, size_t bad_cap) {
  char addr[300];
  dn_info_addr(req->targets[0], addr, sizeof addr);
  snprintf(bad_link, bad_cap, "%s", addr);
  Dfs__WriteBlockRequest fwd = downstream_request(req);
  Dfs__WriteBlockResponse *resp = NULL;
  int rc = DFS_ECONNRESET;
  bool stale = false;
  if (sent) {
    rc = dfs_conn_recv(r->down, DFS_M_WRITE_BLOCK, &dfs__write_block_response__descriptor,
                       (ProtobufCMessage **)&resp, r->dn->socket_timeout_ms, &stale);
    if (rc < 0) drop_downstream(r);
  }
  if (!sent || (rc < 0 && stale)) {
    /* (one more try, as before the split: dn_take_conn passes over pooled
     * connections the peer has visibly closed) */
    if ((rc = dn_take_conn(r->dn, addr, &r->down)) < 0) return rc;
    r->down_fd = dfs_conn_fd(r->down);
    dfs_sock_set_buffers(r->down_fd, SOCK_BUF);
    rc = dfs_conn_call(r->down, DFS_M_WRITE_BLOCK, &fwd.base,
                       &dfs__write_block_response__descriptor, (ProtobufCMessage **)&resp,
                       r->dn->socket_timeout_ms);
    if (rc < 0) drop_downstream(r);
  }
  if (rc < 0) return rc;
  rc = resp->status;
  if (rc != 0) {
    if (resp->first_bad_link && resp->first_bad_link[0])
      snprintf(bad_link, bad_cap, "%s", resp->first_bad_link);
    dfs_err_set(rc, "%s", resp->message ? resp->message : dfs_strerror(rc));
    dfs_rpc_client_give(r->dn->client, r->down, true);
    r->down = NULL;
  }
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return rc;
}

static int reply(struct dfs_rpc_call *call, int status, const char *bad_link, const char *msg) {
  Dfs__WriteBlockResponse resp = DFS__WRITE_BLOCK_RESPONSE__INIT;
  resp.status = status;
  if (bad_link && bad_link[0]) resp.first_bad_link = (char *)bad_link;
  if (status != 0 && msg) resp.message = (char *)msg;
  return dfs_rpc_reply(call, &resp.base);
}

int dn_write_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *msg) {
  dn_ctx *dn = ctx;
  const Dfs__WriteBlockRequest *req = (const Dfs__WriteBlockRequest *)msg;
  struct receiver r = {.dn = dn, .up_fd = dfs_rpc_call_fd(call), .down_fd = -1};
  struct dn_rbw w = {.data_fd = -1, .meta_fd = -1};
  bool have_rbw = false, have_thread = false;
  bool transfer = req->stage == DFS__WRITE_STAGE__STAGE_TRANSFER;
  uint8_t *buf = NULL;
  size_t buf_cap = 0;
  int rc = 0;
  char bad_link[300] = "";
  pthread_t th;

  atomic_fetch_add(&dn->xceivers, 1);
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.cond, NULL);
  r.id = req->block->id;
  r.gs = req->block->genstamp;
  if (req->block->id == 0 || req->n_targets >= DFS_MAX_PIPELINE) {
    rc = dfs_err_set(DFS_EINVAL, "write_block: bad block id or %zu targets", req->n_targets);
    reply(call, rc, NULL, dfs_err_msg());
    rc = 0;
    goto out;
  }
  LOG_DEBUG("datanode", "write blk_%llu_%llu from %s, %zu downstream, stage %d",
            (unsigned long long)r.id, (unsigned long long)r.gs, dfs_rpc_call_peer(call),
            req->n_targets, (int)req->stage);
  bool recovery = req->stage == DFS__WRITE_STAGE__STAGE_RECOVERY;
  r.n_down = (int)req->n_targets;
  /* A copy of a finalized block that nobody writes here any more can only
   * be what an earlier transfer left when it was cut off (or a restart
   * found): this transfer replaces it rather than fail on it forever. */
  struct dn_replica old;
  if (transfer && dn_rmap_get(dn->map, r.id, &old) == 0 && old.state == DN_REPLICA_RBW &&
      !old.writer && old.gs <= r.gs && dn_replica_delete(dn->storage, dn->map, r.id, old.gs, NULL) == 0)
    LOG_INFO("datanode", "blk_%llu: the partial copy of an earlier transfer is replaced",
             (unsigned long long)r.id);
  /* Ask the next node first: it (and the nodes after it) set up while we
   * create our replica; a pipeline's setup then costs about one node's
   * file creation instead of the sum. */
  bool sent = r.n_down > 0 && start_downstream(&r, req) == 0;
  if (recovery)
    rc = dn_rbw_recover(dn->storage, dn->map, r.id, r.gs,
                        req->has_min_bytes_rcvd ? req->min_bytes_rcvd : 0, 3000,
                        dn->sync_behind, &w);
  else
    rc = dn_rbw_create(dn->storage, dn->map, r.id, r.gs, dn->blocksize, dn->sync_behind, &w);
  if (rc < 0) {
    LOG_WARN("datanode", "write blk_%llu: %s", (unsigned long long)r.id, dfs_err_msg());
    reply(call, rc, NULL, dfs_err_msg());
    rc = 0;
    /* The downstream nodes see the connection close and drop their replicas. */
    drop_downstream(&r);
    goto out;
  }
  have_rbw = true;
  if (r.n_down > 0 &&
      (rc = finish_downstream(&r, req, sent, bad_link, sizeof bad_link)) < 0) {
    LOG_WARN("datanode", "write blk_%llu: downstream %s: %s", (unsigned long long)r.id,
             bad_link, dfs_err_msg());
    reply(call, DFS_EPIPELINE, bad_link, dfs_err_msg());
    dn_rbw_abort(&w);
    /* A new replica goes; a recovered one stays for the next attempt. */
    if (!recovery) dn_replica_delete(dn->storage, dn->map, r.id, r.gs, NULL);
    have_rbw = false;
    rc = 0;
    goto out;
  }
  dfs_sock_set_buffers(r.up_fd, SOCK_BUF);
  if ((rc = reply(call, 0, NULL, NULL)) < 0) goto out;
  if (pthread_create(&th, NULL, responder_main, &r) != 0) {
    rc = dfs_err_set(DFS_ENOMEM, "write_block: cannot start responder");
    goto out;
  }
  have_thread = true;

  /* The packet loop. */
  struct pending held[HELD_MAX];
  int n_held = 0;
  bool hflushing = false;
  for (;;) {
    uint8_t hdr_raw[DFS_PACKET_HDR_LEN];
    struct dfs_packet_hdr h;
    if ((rc = dfs_read_full(r.up_fd, hdr_raw, sizeof hdr_raw, deadline(&r))) < 0) break;
    if ((rc = dfs_packet_hdr_decode(hdr_raw, sizeof hdr_raw, DFS_PACKET_MAX_DATA, &h)) < 0) break;
    uint32_t sums_len = dfs_packet_sums_len(h.data_len);
    size_t payload = (size_t)sums_len + h.data_len;
    if (payload > buf_cap) {
      uint8_t *nb = realloc(buf, payload);
      if (nb == NULL) {
        rc = DFS_ENOMEM;
        break;
      }
      buf = nb;
      buf_cap = payload;
    }
    if (payload > 0 && (rc = dfs_read_full(r.up_fd, buf, payload, deadline(&r))) < 0) break;
    if (r.down != NULL && atomic_load(&r.down_err) == 0) {
      struct iovec iov[2] = {{hdr_raw, sizeof hdr_raw}, {buf, payload}};
      int frc = dfs_writev_full(r.down_fd, iov, payload ? 2 : 1, deadline(&r));
      if (frc < 0) down_fail(&r, frc);
    }
    struct pending p = {.seqno = h.seqno, .end = (uint64_t)h.offset + h.data_len,
                        .flags = h.flags};
    /* A writer that hflushes (a WAL) waits for its acks: from its first
     * hflush on, every flush of the block goes through the page cache
     * (also that of a full packet sent just before the hflush's own). */
    if (h.flags & DFS_PKT_FLUSH) hflushing = true;
    /* Data is acked only once it is in the file (dn_rbw_flush). Packets
     * written to the staging buffer wait in `held` until the next flush:
     * at SYNC / LAST, when no further packet is waiting on the socket (so an
     * hflush is answered at once), or when `held` is full. */
    bool flush_now = true;
    int frc = 0;
    if (h.seqno >= 0) {
      const uint8_t *sums = buf, *data = buf + sums_len;
      long bad = h.data_len ? crc32c_chunks_verify(data, h.data_len, DFS_CHUNK_SIZE, sums) : -1;
      if (bad >= 0) {
        p.status = DFS_ECHECKSUM;
        LOG_WARN("datanode", "blk_%llu: checksum mismatch in packet %lld at offset %lld "
                 "(from %s)", (unsigned long long)r.id, (long long)h.seqno,
                 (long long)(h.offset + bad * DFS_CHUNK_SIZE), dfs_rpc_call_peer(call));
      } else {
        p.status = dn_rbw_write(&w, (uint64_t)h.offset, data, h.data_len, sums);
        if (p.status == 0 && !(h.flags & (DFS_PKT_LAST | DFS_PKT_SYNC | DFS_PKT_FLUSH)))
          flush_now = n_held + 1 >= HELD_MAX || !input_waiting(r.up_fd);
      }
    }
    if (flush_now && have_rbw) {
      if ((h.flags & DFS_PKT_LAST) && p.status == 0) {
        frc = dn_rbw_finalize(&w, (h.flags & DFS_PKT_SYNC) != 0);
        have_rbw = false;
        if (frc == 0) {
          LOG_INFO("datanode", "received blk_%llu_%llu, %llu bytes from %s",
                   (unsigned long long)r.id, (unsigned long long)r.gs,
                   (unsigned long long)w.len, dfs_rpc_call_peer(call));
          dn_nn_notify(dn, r.id, r.gs, w.len, DFS__RECEIVED_DELETED_STATUS__RECEIVED);
        }
      } else if ((h.flags & DFS_PKT_SYNC) && p.status == 0) {
        frc = dn_rbw_sync(&w);
      } else if (hflushing) {
        frc = dn_rbw_flush_waited(&w);
      } else {
        frc = dn_rbw_flush(&w);
      }
      if (frc < 0) LOG_WARN("datanode", "blk_%llu: %s", (unsigned long long)r.id, dfs_err_msg());
    }
    if (p.status < 0 && p.status != DFS_ECHECKSUM)
      LOG_WARN("datanode", "blk_%llu: %s", (unsigned long long)r.id, dfs_err_msg());
    if (!flush_now) {
      held[n_held++] = p;
      continue;
    }
    LOG_DEBUG("datanode", "blk_%llu: pkt %lld flags %d: flushed, acking %d held + 1",
              (unsigned long long)r.id, (long long)h.seqno, h.flags, n_held);
    /* Held packets first (in order), then this one. */
    for (int i = 0; i < n_held; i++) {
      if (frc < 0) held[i].status = frc;
      if (!enqueue(&r, &held[i])) break;
    }
    n_held = 0;
    if (p.status == 0 && h.seqno >= 0) p.status = frc;
    if (!enqueue(&r, &p)) {
      rc = DFS_ECONNRESET;
      break;
    }
    if (p.status != 0 || frc != 0) {
      rc = p.status ? p.status : frc;
      break;
    }
    if (h.flags & DFS_PKT_LAST) break;
  }
  if (rc < 0 && rc != DFS_ECHECKSUM)
    LOG_WARN("datanode", "write blk_%llu from %s ended: %s", (unsigned long long)r.id,
             dfs_rpc_call_peer(call), dfs_strerror(rc));

out:
  if (have_thread) {
    pthread_mutex_lock(&r.lock);
    r.closing = true;
    pthread_cond_broadcast(&r.cond);
    pthread_mutex_unlock(&r.lock);
    /* The responder drains the queued packets' acks, then exits; when the
     * node stops, cut the downstream so that it does not wait for them. */
    if (atomic_load(&dn->stopping) && r.down != NULL) down_fail(&r, DFS_ECANCELED);
    pthread_join(th, NULL);
    if (rc == 0 && !r.last_acked) rc = DFS_EPIPELINE;
  }
  if (r.down != NULL)
    dfs_rpc_client_give(dn->client, r.down, rc == 0 && r.down_in_step &&
                        atomic_load(&r.down_err) == 0);
  if (have_rbw) {
    dn_rbw_abort(&w);
    /* A client's replica stays for pipeline or lease recovery; nobody
     * recovers a transfer's: the NameNode schedules another. */
    if (transfer) dn_replica_delete(dn->storage, dn->map, r.id, r.gs, NULL);
  }
  free(buf);
  pthread_cond_destroy(&r.cond);
  pthread_mutex_destroy(&r.lock);
  atomic_fetch_sub(&dn->xceivers, 1);
  return rc;
}
