/*
 * block_sender.c - READ_BLOCK, GET_REPLICA_VISIBLE_LENGTH, and TRANSFER
 * (re-replication: this node acting as the client of a pipeline).
 *
 * A read reply is followed by packets of up to 1 MiB of data: the 28-byte
 * header, the checksums (read from the .meta file) and the data. Replicas
 * are written with O_DIRECT (replica.c), so their data is mostly not in
 * the page cache; it is read with O_DIRECT into an aligned buffer (about
 * 2 GB/s at almost no CPU here, where filling the page cache costs 1-2
 * CPU-seconds per GiB) and sent with one sendmsg per packet. On
 * filesystems without O_DIRECT, sendfile(2) sends it from the page cache
 * instead (the socket's send timeout bounds each call by the deadline). A replica being
 * written is read up to its acknowledged length only; if that ends inside
 * a chunk, that chunk's checksum is recomputed over the visible bytes (the
 * stored one covers bytes not yet acknowledged).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "crc32c.h"
#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "meta.h"
#include "net.h"
#include "packet.h"
#include "replica.h"

#define READ_PACKET (1u << 20)

static uint64_t visible_len(const struct dn_replica *r) {
  return r->state == DN_REPLICA_FINALIZED ? r->bytes_on_disk : r->bytes_acked;
}

/* Find replica (id, gs): the map's copy must have a genstamp >= gs. */
static int find_replica(dn_ctx *dn, const Dfs__Block *b, struct dn_replica *r) {
  if (dn_rmap_get(dn->map, b->id, r) < 0)
    return dfs_err_set(DFS_ENOTREPLICA, "Replica not found for blk_%llu_%llu",
                       (unsigned long long)b->id, (unsigned long long)b->genstamp);
  if (r->gs < b->genstamp)
    return dfs_err_set(DFS_EGENSTAMP, "blk_%llu: replica genstamp %llu is older than %llu",
                       (unsigned long long)b->id, (unsigned long long)r->gs,
                       (unsigned long long)b->genstamp);
  return 0;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return dfs_err_from_errno(errno);
    if (n == 0) return dfs_err_set(DFS_ECORRUPT, "short file at %llu", (unsigned long long)(off + got));
    got += (size_t)n;
  }
  return 0;
}

static int wait_writable(int fd, int64_t deadline) {
  int64_t left = deadline - dfs_now_ms();
  if (left <= 0) return DFS_ETIMEDOUT;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int n = poll(&p, 1, (int)left);
  if (n == 0) return DFS_ETIMEDOUT;
  if (n < 0 && errno != EINTR) return dfs_err_from_errno(errno);
  return 0;
}

/* Send all of iov before the deadline; more: MSG_MORE (data follows at once). */
static int send_iov(int fd, struct iovec *iov, int cnt, bool more, int64_t deadline) {
  while (cnt > 0) {
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
    ssize_t n = sendmsg(fd, &mh, (more ? MSG_MORE : 0) | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int rc = wait_writable(fd, deadline);
        if (rc < 0) return rc;
        continue;
      }
      return dfs_err_from_errno(errno);
    }
    while (cnt > 0 && (size_t)n >= iov->iov_len) {
      n -= (ssize_t)iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + n;
      iov->iov_len -= (size_t)n;
    }
  }
  return 0;
}

static void set_send_timeout(int fd, int64_t ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int send_file(int sock, int fd, uint64_t off, size_t len, int64_t deadline) {
  off_t o = (off_t)off;
  while (len > 0) {
    ssize_t n = sendfile(sock, fd, &o, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int rc = wait_writable(sock, deadline);
        if (rc < 0) return rc;
        continue;
      }
      return dfs_err_from_errno(errno);
    }
    if (n == 0) return dfs_err_set(DFS_ECORRUPT, "replica shorter than expected at %lld", (long long)o);
    len -= (size_t)n;
  }
  return 0;
}

/* pread for an O_DIRECT descriptor: buf, off and len aligned; stops at
 * end of file once `need` bytes are in. */
static int pread_direct(int fd, uint8_t *buf, size_t len, uint64_t off, size_t need) {
  size_t got = 0;
  while (got < need) {
    ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return dfs_err_from_errno(errno);
    if (n == 0) return dfs_err_set(DFS_ECORRUPT, "short file at %llu", (unsigned long long)(off + got));
    got += (size_t)n;
  }
  return 0;
}

/*
 * Stream [start, end) of an open replica as packets on fd, then the empty
 * LAST packet. start is chunk-aligned. direct: data_fd is O_DIRECT (data is
 * read into an aligned buffer and sent from there); otherwise sendfile(2)
 * sends it from the page cache. recompute_tail: compute the last partial
 * chunk's checksum from the data instead of the .meta file.
 */
static int stream_packets(int fd, int data_fd, bool direct, int meta_fd, uint64_t start,
                          uint64_t end, bool recompute_tail, int timeout_ms, const char *what) {
  uint8_t *sums = malloc(dfs_packet_sums_len(READ_PACKET));
  uint8_t *buf = NULL;
  uint8_t chunk[DFS_CHUNK_SIZE];
  int rc = 0;
  if (sums == NULL ||
      (direct && posix_memalign((void **)&buf, DN_DIRECT_ALIGN, READ_PACKET + 2 * DN_DIRECT_ALIGN))) {
    free(sums);
    return DFS_ENOMEM;
  }
  int64_t seqno = 0;
  uint64_t pos = start;
  if (!direct) set_send_timeout(fd, timeout_ms);
  for (;;) {
    uint32_t n = end - pos > READ_PACKET ? READ_PACKET : (uint32_t)(end - pos);
    /* Offsets on the wire are chunk-aligned; the empty LAST packet of a
     * range ending inside a chunk says where that chunk starts. */
    int64_t at = n == 0 ? (int64_t)(pos - pos % DFS_CHUNK_SIZE) : (int64_t)pos;
    struct dfs_packet_hdr h = {.offset = at, .seqno = seqno++, .data_len = n,
                               .flags = n == 0 ? DFS_PKT_LAST : 0};
    uint8_t hdr[DFS_PACKET_HDR_LEN];
    dfs_packet_hdr_encode(&h, hdr);
    uint32_t slen = dfs_packet_sums_len(n);
    if (n > 0 && (rc = pread_full(meta_fd, sums, slen, dn_meta_sum_off(pos))) < 0) {
      rc = dfs_err_set(rc, "%s: read checksums at %llu: %s", what,
                       (unsigned long long)dn_meta_sum_off(pos), dfs_strerror(rc));
      break;
    }
    const uint8_t *data = NULL;
    if (n > 0 && direct) {
      uint64_t a = pos - pos % DN_DIRECT_ALIGN;
      size_t span = (size_t)(pos + n - a);
      size_t rlen = (span + DN_DIRECT_ALIGN - 1) / DN_DIRECT_ALIGN * DN_DIRECT_ALIGN;
      if ((rc = pread_direct(data_fd, buf, rlen, a, span)) < 0) {
        rc = dfs_err_set(rc, "%s: read data at %llu: %s", what, (unsigned long long)a,
                         dfs_strerror(rc));
        break;
      }
      data = buf + (pos - a);
    }
    if (n > 0 && recompute_tail && pos + n == end && end % DFS_CHUNK_SIZE != 0) {
      uint64_t cstart = end - end % DFS_CHUNK_SIZE;
      size_t clen = (size_t)(end - cstart);
      const uint8_t *c = data ? data + (cstart - pos) : chunk;
      if (!data && (rc = pread_full(data_fd, chunk, clen, cstart)) < 0) break;
      uint32_t crc = crc32c(0, c, clen);
      uint8_t *p = sums + slen - 4;
      p[0] = (uint8_t)(crc >> 24);
      p[1] = (uint8_t)(crc >> 16);
      p[2] = (uint8_t)(crc >> 8);
      p[3] = (uint8_t)crc;
    }
    int64_t dl = dfs_now_ms() + timeout_ms;
    struct iovec iov[3] = {{hdr, sizeof hdr}, {sums, slen}, {(void *)data, n}};
    if (direct) {
      if ((rc = send_iov(fd, iov, n ? 3 : 1, false, dl)) < 0) break;
    } else {
      if ((rc = send_iov(fd, iov, slen ? 2 : 1, n > 0, dl)) < 0) break;
      if (n > 0 && (rc = send_file(fd, data_fd, pos, n, dl)) < 0) break;
    }
    if (n == 0) break;
    pos += n;
  }
  if (!direct) set_send_timeout(fd, 0);
  free(sums);
  free(buf);
  return rc;
}

int dn_read_block(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *msg) {
  dn_ctx *dn = ctx;
  const Dfs__ReadBlockRequest *req = (const Dfs__ReadBlockRequest *)msg;
  Dfs__ReadBlockResponse resp = DFS__READ_BLOCK_RESPONSE__INIT;
  struct dn_replica r;
  int data_fd = -1, meta_fd = -1;
  bool direct = false;
  int rc = find_replica(dn, req->block, &r);
  uint64_t vis = 0;
  if (rc == 0) {
    vis = visible_len(&r);
    if (req->offset > vis)
      rc = dfs_err_set(DFS_EINVAL, "blk_%llu: offset %llu beyond the replica's %llu bytes",
                       (unsigned long long)r.id, (unsigned long long)req->offset,
                       (unsigned long long)vis);
  }
  if (rc == 0) rc = dn_replica_open(dn->storage, dn->map, &r, &data_fd, &meta_fd, &direct);
  if (rc < 0) {
    LOG_INFO("datanode", "read from %s: %s", dfs_rpc_call_peer(call), dfs_err_msg());
    resp.status = rc;
    resp.message = (char *)dfs_err_msg();
    return dfs_rpc_reply(call, &resp.base);
  }
  atomic_fetch_add(&dn->xceivers, 1);
  uint64_t start = req->offset - req->offset % DFS_CHUNK_SIZE;
  uint64_t end = req->length > vis - req->offset ? vis : req->offset + req->length;
  end = end % DFS_CHUNK_SIZE ? end - end % DFS_CHUNK_SIZE + DFS_CHUNK_SIZE : end;
  if (end > vis) end = vis;
  resp.status = 0;
  resp.has_first_chunk_offset = true;
  resp.first_chunk_offset = start;
  resp.has_replica_length = true;
  resp.replica_length = vis;
  int fd = dfs_rpc_call_fd(call);
  rc = dfs_rpc_reply(call, &resp.base);
  if (rc == 0) {
    char what[64];
    snprintf(what, sizeof what, "blk_%llu", (unsigned long long)r.id);
    rc = stream_packets(fd, data_fd, direct, meta_fd, start, end,
                        r.state != DN_REPLICA_FINALIZED, dn->socket_timeout_ms, what);
    if (rc < 0)
      LOG_INFO("datanode", "read blk_%llu by %s ended: %s", (unsigned long long)r.id,
               dfs_rpc_call_peer(call), dfs_err_msg());
  }
  close(data_fd);
  close(meta_fd);
  atomic_fetch_sub(&dn->xceivers, 1);
  return rc;
}

int dn_get_visible_length(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *msg) {
  dn_ctx *dn = ctx;
  const Dfs__GetReplicaVisibleLengthRequest *req =
      (const Dfs__GetReplicaVisibleLengthRequest *)msg;
  struct dn_replica r;
  int rc = find_replica(dn, req->block, &r);
  if (rc < 0) return rc;
  Dfs__GetReplicaVisibleLengthResponse resp = DFS__GET_REPLICA_VISIBLE_LENGTH_RESPONSE__INIT;
  resp.length = visible_len(&r);
  return dfs_rpc_reply(call, &resp.base);
}

/* ---- TRANSFER ------------------------------------------------------------ */

int dn_take_conn(dn_ctx *dn, const char *addr, dfs_conn **out) {
  for (int i = 0;; i++) {
    int rc = dfs_rpc_client_take(dn->client, addr, dn->socket_timeout_ms, out);
    if (rc < 0) return rc;
    struct pollfd p = {dfs_conn_fd(*out), POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) == 0 || i >= 16) return 0;
    dfs_rpc_client_give(dn->client, *out, false);
    *out = NULL;
  }
}

int dn_transfer_block(dn_ctx *dn, const Dfs__Block *b, Dfs__DatanodeInfo **targets,
                      size_t n_targets) {
  struct dn_replica r;
  int data_fd = -1, meta_fd = -1;
  bool direct = false;
  dfs_conn *conn = NULL;
  bool reusable = false;
  char addr[300];
  int rc = find_replica(dn, b, &r);
  if (rc < 0) return rc;
  if (r.state != DN_REPLICA_FINALIZED)
    return dfs_err_set(DFS_ENOTREADY, "transfer: blk_%llu is not finalized",
                       (unsigned long long)b->id);
  if (n_targets == 0 || n_targets >= DFS_MAX_PIPELINE)
    return dfs_err_set(DFS_EINVAL, "transfer: blk_%llu: %zu targets", (unsigned long long)b->id,
                       n_targets);
  if ((rc = dn_replica_open(dn->storage, dn->map, &r, &data_fd, &meta_fd, &direct)) < 0) return rc;
  atomic_fetch_add(&dn->xceivers, 1);
  dn_info_addr(targets[0], addr, sizeof addr);
  Dfs__Block blk = DFS__BLOCK__INIT;
  blk.id = r.id;
  blk.genstamp = r.gs;
  blk.num_bytes = r.bytes_on_disk;
  Dfs__WriteBlockRequest req = DFS__WRITE_BLOCK_REQUEST__INIT;
  req.block = &blk;
  req.targets = targets + 1;
  req.n_targets = n_targets - 1;
  req.client_name = "";
  req.stage = DFS__WRITE_STAGE__STAGE_TRANSFER;
  Dfs__WriteBlockResponse *resp = NULL;
  /* Pooled connections to a target that restarted since are dead: skip
   * those that read as closed, and retry once more on a reset. */
  for (int attempt = 0;; attempt++) {
    if ((rc = dn_take_conn(dn, addr, &conn)) < 0) goto out;
    rc = dfs_conn_call(conn, DFS_M_WRITE_BLOCK, &req.base, &dfs__write_block_response__descriptor,
                       (ProtobufCMessage **)&resp, dn->socket_timeout_ms);
    if (rc == 0 || attempt > 0 || (rc != DFS_ECONNRESET && rc != -EPIPE)) break;
    dfs_rpc_client_give(dn->client, conn, false);
    conn = NULL;
  }
  if (rc < 0) goto out;
  if (resp->status != 0) {
    rc = dfs_err_set(resp->status, "transfer blk_%llu to %s: %s", (unsigned long long)r.id,
                     addr, resp->message ? resp->message : dfs_strerror(resp->status));
    reusable = true;
    goto out;
  }
  int fd = dfs_conn_fd(conn);
  dfs_sock_set_buffers(fd, 4 << 20);
  /* Packets of 1 MiB: this stream's sender and its acks are ours alone. */
  rc = stream_packets(fd, data_fd, direct, meta_fd, 0, r.bytes_on_disk, false,
                      dn->socket_timeout_ms, addr);
  if (rc < 0) goto out;
  /* One ack per packet, the last for the LAST packet. */
  int64_t npk = (int64_t)((r.bytes_on_disk + (1u << 20) - 1) / (1u << 20)) + 1;
  for (int64_t s = 0; s < npk; s++) {
    uint8_t buf[DFS_ACK_MAX_LEN];
    struct dfs_ack a;
    int64_t dl = dfs_now_ms() + dn->socket_timeout_ms;
    if ((rc = dfs_read_full(fd, buf, 12, dl)) < 0 || (rc = dfs_ack_decode_head(buf, 12, &a)) < 0 ||
        (rc = dfs_read_full(fd, buf + 12, 4u * a.n, dl)) < 0 ||
        (rc = dfs_ack_decode(buf, dfs_ack_len(a.n), &a)) < 0)
      goto out;
    for (int i = 0; i < a.n; i++)
      if (a.status[i] != 0) {
        rc = dfs_err_set(a.status[i], "transfer blk_%llu: node %d of the pipeline from %s: %s",
                         (unsigned long long)r.id, i, addr, dfs_strerror(a.status[i]));
        goto out;
      }
  }
  reusable = true;
  LOG_INFO("datanode", "transferred blk_%llu_%llu (%llu bytes) to %s", (unsigned long long)r.id,
           (unsigned long long)r.gs, (unsigned long long)r.bytes_on_disk, addr);
out:
  if (resp) protobuf_c_message_free_unpacked(&resp->base, NULL);
  if (conn) dfs_rpc_client_give(dn->client, conn, reusable);
  close(data_fd);
  close(meta_fd);
  atomic_fetch_sub(&dn->xceivers, 1);
  return rc;
}
