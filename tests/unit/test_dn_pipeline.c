/*
 * test_dn_pipeline.c - three in-process DataNodes (no NameNode) and this
 * test acting as the client: WRITE_BLOCK through the pipeline, acks,
 * finalize, READ_BLOCK back from every node with checksum verification,
 * hflush with the partial-chunk rewrite and the visible length, a
 * corrupted packet (DFS_ECHECKSUM), heartbeat packets, a dead downstream
 * node at set-up, connection reuse after a block, and TRANSFER.
 */
#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "crc32c.h"
#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "net.h"
#include "packet.h"
#include "rpc.h"

#define NDN 3
static char tmp_root[256];
static dfs_conf *confs[NDN];
static dn_ctx *dns[NDN];
static char addrs[NDN][64];
static dfs_rpc_client *client;
static uint64_t next_id = 1073741825;
static uint64_t recovery_len; /* min_bytes_rcvd of STAGE_RECOVERY requests */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)flag; (void)f;
  return remove(p);
}

static int suite_init(void) {
  dfs_log_init(getenv("DN_TEST_LOG") ? DFS_LOG_DEBUG : DFS_LOG_OFF, 2);
  snprintf(tmp_root, sizeof tmp_root, "/tmp/test_dn_pipeline.XXXXXX");
  if (!mkdtemp(tmp_root)) return -1;
  for (int i = 0; i < NDN; i++) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/dn%d", tmp_root, i + 1);
    confs[i] = dfs_conf_new();
    if (confs[i] == NULL ||
        dfs_conf_set(confs[i], "dfs.datanode.data.dir", dir, "-D") < 0 ||
        dfs_conf_set(confs[i], "dfs.datanode.address", "127.0.0.1:0", "-D") < 0 ||
        dfs_conf_set(confs[i], "dfs.client.socket-timeout", "10000", "-D") < 0)
      return -1;
    struct dn_opts o = {.nn_disabled = true};
    if (dn_create(confs[i], &o, &dns[i]) < 0 || dn_start(dns[i]) < 0) {
      fprintf(stderr, "dn%d: %s\n", i + 1, dfs_err_msg());
      return -1;
    }
    dn_addr(dns[i], addrs[i], sizeof addrs[i]);
  }
  struct dfs_rpc_client_opts co = {.user = "tester", .client_name = "DFSClient_test",
                                   .timeout_ms = 10000, .max_body = 1 << 26,
                                   .max_idle_per_addr = 4};
  return dfs_rpc_client_create(&co, &client) < 0 ? -1 : 0;
}

static int suite_clean(void) {
  if (client) dfs_rpc_client_destroy(client);
  for (int i = 0; i < NDN; i++) {
    dn_destroy(dns[i]);
    dfs_conf_free(confs[i]);
  }
  nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void fill(uint8_t *b, size_t n, unsigned seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = (uint8_t)(x >> 16);
  }
}

/* ---- client side of the protocol ----------------------------------------- */

struct pipe {
  dfs_conn *conn;
  int fd;
  int n;           /* nodes in the pipeline */
  int64_t seqno;
};

static Dfs__DatanodeInfo *mk_info(Dfs__DatanodeInfo *info, Dfs__DatanodeId *id, const char *addr,
                                  char *hostbuf) {
  dfs__datanode_info__init(info);
  dfs__datanode_id__init(id);
  int port = 0;
  dfs_addr_split(addr, hostbuf, 64, &port);
  id->uuid = "u";
  id->host = hostbuf;
  id->port = (uint32_t)port;
  info->id = id;
  return info;
}

/* WRITE_BLOCK to nodes[0] with nodes[1..n) downstream. Returns the
 * response status (or the call's error), *bad gets first_bad_link. */
static int open_pipe(struct pipe *p, const char **nodes, int n, uint64_t id, uint64_t gs,
                     int stage, char *bad, size_t badcap) {
  Dfs__DatanodeInfo infos[NDN + 1], *ptrs[NDN + 1];
  Dfs__DatanodeId ids[NDN + 1];
  char hosts[NDN + 1][64];
  for (int i = 1; i < n; i++) ptrs[i - 1] = mk_info(&infos[i], &ids[i], nodes[i], hosts[i]);
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = gs;
  Dfs__WriteBlockRequest req = DFS__WRITE_BLOCK_REQUEST__INIT;
  req.block = &b;
  req.targets = ptrs;
  req.n_targets = (size_t)(n - 1);
  req.client_name = "DFSClient_test";
  req.stage = (Dfs__WriteStage)stage;
  if (stage == DFS__WRITE_STAGE__STAGE_RECOVERY) {
    req.has_min_bytes_rcvd = true;
    req.min_bytes_rcvd = recovery_len;
  }
  dfs_conn *keep = p->conn; /* a connection reused from the previous block */
  memset(p, 0, sizeof *p);
  p->conn = keep;
  p->n = n;
  int rc = p->conn ? 0 : dfs_rpc_client_take(client, nodes[0], 5000, &p->conn);
  if (rc < 0) return rc;
  p->fd = dfs_conn_fd(p->conn);
  Dfs__WriteBlockResponse *resp = NULL;
  rc = dfs_conn_call(p->conn, DFS_M_WRITE_BLOCK, &req.base, &dfs__write_block_response__descriptor,
                     (ProtobufCMessage **)&resp, 5000);
  if (rc < 0) return rc;
  rc = resp->status;
  if (bad) snprintf(bad, badcap, "%s", resp->first_bad_link ? resp->first_bad_link : "");
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return rc;
}

/* Send one packet; `corrupt` flips a data byte after the checksums. */
static int send_pkt(struct pipe *p, int64_t off, const uint8_t *data, uint32_t len, int flags,
                    bool corrupt, int64_t seqno) {
  uint8_t hdr[DFS_PACKET_HDR_LEN];
  static uint8_t buf[(1 << 20) + 8192];
  uint32_t sl = dfs_packet_sums_len(len);
  crc32c_chunks(data, len, 512, buf);
  memcpy(buf + sl, data, len);
  if (corrupt) buf[sl + len / 2] ^= 0x40;
  struct dfs_packet_hdr h = {.offset = off, .seqno = seqno, .data_len = len,
                             .flags = (uint8_t)flags};
  dfs_packet_hdr_encode(&h, hdr);
  struct iovec iov[2] = {{hdr, sizeof hdr}, {buf, sl + len}};
  return dfs_writev_full(p->fd, iov, 2, dfs_now_ms() + 5000);
}

static int read_ack(struct pipe *p, struct dfs_ack *a) {
  uint8_t buf[DFS_ACK_MAX_LEN];
  int rc = dfs_read_full(p->fd, buf, 12, dfs_now_ms() + 10000);
  if (rc == 0) rc = dfs_ack_decode_head(buf, 12, a);
  if (rc == 0) rc = dfs_read_full(p->fd, buf + 12, 4u * a->n, dfs_now_ms() + 10000);
  if (rc == 0) rc = dfs_ack_decode(buf, dfs_ack_len(a->n), a);
  return rc;
}

static bool ack_ok(const struct dfs_ack *a, int64_t seqno, int n) {
  if (a->seqno != seqno || a->n != n) return false;
  for (int i = 0; i < n; i++)
    if (a->status[i] != 0) return false;
  return true;
}

/* Write a whole block: packets of pkt bytes, all acks checked, LAST. */
static int write_block(const char **nodes, int n, uint64_t id, const uint8_t *data, size_t len,
                       uint32_t pkt, bool reuse_check) {
  struct pipe p = {0};
  int rc = open_pipe(&p, nodes, n, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0);
  if (rc != 0) {
    if (p.conn) dfs_rpc_client_give(client, p.conn, false);
    return rc;
  }
  int64_t seq = 0;
  size_t off = 0;
  /* Send everything, then read the acks: the pipeline must buffer. */
  int64_t npk = 0;
  while (off < len) {
    uint32_t k = len - off < pkt ? (uint32_t)(len - off) : pkt;
    if ((rc = send_pkt(&p, (int64_t)off, data + off, k, 0, false, seq++)) < 0) return rc;
    off += k;
    npk++;
    if (npk % 32 == 0) { /* keep at most ~32 in flight */
      for (int64_t s = seq - 32; s < seq; s++) {
        struct dfs_ack a;
        if ((rc = read_ack(&p, &a)) < 0) return rc;
        if (!ack_ok(&a, s, n)) return DFS_EPIPELINE;
      }
    }
  }
  if ((rc = send_pkt(&p, (int64_t)(len - len % 512), data, 0, DFS_PKT_LAST, false, seq++)) < 0)
    return rc;
  for (int64_t s = npk - npk % 32; s < seq; s++) {
    struct dfs_ack a;
    if ((rc = read_ack(&p, &a)) < 0) return rc;
    if (!ack_ok(&a, s, n)) return DFS_EPIPELINE;
  }
  dfs_rpc_client_give(client, p.conn, reuse_check);
  return 0;
}

/* READ_BLOCK [off, off+len) from addr, verifying every checksum. Returns
 * bytes placed at out (starting at first_chunk_offset) or an error. */
static uint64_t read_gs = 1001;

static long read_block(const char *addr, uint64_t id, uint64_t off, uint64_t len, uint8_t *out,
                       uint64_t *first_chunk, uint64_t *replica_len) {
  dfs_conn *c;
  int rc = dfs_rpc_client_take(client, addr, 5000, &c);
  if (rc < 0) return rc;
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = 1001;
  b.genstamp = read_gs;
  Dfs__ReadBlockRequest req = DFS__READ_BLOCK_REQUEST__INIT;
  req.block = &b;
  req.offset = off;
  req.length = len;
  Dfs__ReadBlockResponse *resp = NULL;
  rc = dfs_conn_call(c, DFS_M_READ_BLOCK, &req.base, &dfs__read_block_response__descriptor,
                     (ProtobufCMessage **)&resp, 5000);
  if (rc < 0) {
    dfs_rpc_client_give(client, c, false);
    return rc;
  }
  rc = resp->status;
  if (first_chunk) *first_chunk = resp->first_chunk_offset;
  if (replica_len) *replica_len = resp->replica_length;
  uint64_t expect = resp->first_chunk_offset;
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  if (rc != 0) {
    dfs_rpc_client_give(client, c, true);
    return rc;
  }
  int fd = dfs_conn_fd(c);
  long got = 0;
  static uint8_t buf[(1 << 20) + 8192];
  for (;;) {
    uint8_t hdr[DFS_PACKET_HDR_LEN];
    struct dfs_packet_hdr h;
    if ((rc = dfs_read_full(fd, hdr, sizeof hdr, dfs_now_ms() + 5000)) < 0 ||
        (rc = dfs_packet_hdr_decode(hdr, sizeof hdr, 1 << 20, &h)) < 0)
      break;
    uint32_t sl = dfs_packet_sums_len(h.data_len);
    if ((rc = dfs_read_full(fd, buf, sl + h.data_len, dfs_now_ms() + 5000)) < 0) break;
    if (h.flags & DFS_PKT_LAST) break;
    if ((uint64_t)h.offset != expect) {
      rc = DFS_EPROTO;
      break;
    }
    if (crc32c_chunks_verify(buf + sl, h.data_len, 512, buf) >= 0) {
      rc = DFS_ECHECKSUM;
      break;
    }
    memcpy(out + got, buf + sl, h.data_len);
    got += h.data_len;
    expect += h.data_len;
  }
  dfs_rpc_client_give(client, c, rc == 0);
  return rc < 0 ? rc : got;
}

static int visible_length(const char *addr, uint64_t id, uint64_t *len) {
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = 1001;
  Dfs__GetReplicaVisibleLengthRequest req = DFS__GET_REPLICA_VISIBLE_LENGTH_REQUEST__INIT;
  req.block = &b;
  Dfs__GetReplicaVisibleLengthResponse *resp = NULL;
  int rc = dfs_rpc_call(client, addr, DFS_M_GET_REPLICA_VISIBLE_LENGTH, &req.base,
                        &dfs__get_replica_visible_length_response__descriptor,
                        (ProtobufCMessage **)&resp, 5000);
  if (rc < 0) return rc;
  *len = resp->length;
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return 0;
}

static const char *all3[NDN];

/* ---- tests ------------------------------------------------------------------ */

static void test_write_read_pipeline(void) {
  struct pipe p = {0};
  size_t len = (3 << 20) + 1000;
  uint8_t *data = malloc(len), *back = malloc(len + 4096);
  fill(data, len, 1);
  uint64_t id = next_id++;
  CU_ASSERT_EQUAL_FATAL(write_block(all3, 3, id, data, len, 65536, true), 0);
  for (int i = 0; i < NDN; i++) {
    struct dn_replica r;
    CU_ASSERT_EQUAL(dn_rmap_get(dns[i]->map, id, &r), 0);
    CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
    CU_ASSERT_EQUAL(r.bytes_on_disk, len);
    memset(back, 0, len);
    uint64_t fc = 9, rl = 0;
    long n = read_block(addrs[i], id, 0, len, back, &fc, &rl);
    CU_ASSERT_EQUAL(n, (long)len);
    CU_ASSERT_EQUAL(fc, 0);
    CU_ASSERT_EQUAL(rl, len);
    CU_ASSERT(n == (long)len && memcmp(back, data, len) == 0);
  }
  /* A ranged read starts at the chunk boundary below the offset. */
  uint64_t fc = 0;
  long n = read_block(addrs[2], id, 70000, 5000, back, &fc, NULL);
  CU_ASSERT_EQUAL(fc, 69632);
  CU_ASSERT(n >= 70000 + 5000 - 69632);
  CU_ASSERT(n > 0 && memcmp(back, data + 69632, (size_t)n) == 0);
  /* The tail: offset near the end, length past it. */
  n = read_block(addrs[1], id, len - 10, 1 << 20, back, &fc, NULL);
  CU_ASSERT_EQUAL(fc, (len - 10) / 512 * 512);
  CU_ASSERT_EQUAL((uint64_t)n, len - fc);
  /* Beyond the end, and a missing block. */
  CU_ASSERT_EQUAL(read_block(addrs[0], id, len + 1, 10, back, NULL, NULL), DFS_EINVAL);
  CU_ASSERT_EQUAL(read_block(addrs[0], 999, 0, 10, back, NULL, NULL), DFS_ENOTREPLICA);
  /* The same block id again is refused at set-up. */
  CU_ASSERT_EQUAL(open_pipe(&p, all3, 3, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0),
                  DFS_EEXIST);
  dfs_rpc_client_give(client, p.conn, true);
  free(data);
  free(back);
}

static void test_connection_reuse(void) {
  /* Two blocks on one connection: the first LAST ack leaves it in step. */
  uint8_t data[5000];
  fill(data, sizeof data, 2);
  struct pipe p = {0};
  uint64_t id1 = next_id++, id2 = next_id++;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 3, id1, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, sizeof data, DFS_PKT_SYNC, false, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, sizeof data / 512 * 512, data, 0, DFS_PKT_LAST, false, 1), 0);
  struct dfs_ack a;
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 3));
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 1, 3));
  dfs_conn *keep = p.conn;
  memset(&p, 0, sizeof p);
  p.conn = keep;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 2, id2, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 0, DFS_PKT_LAST, false, 0), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 2));
  dfs_rpc_client_give(client, p.conn, true);
  struct dn_replica r;
  CU_ASSERT_EQUAL(dn_rmap_get(dns[1]->map, id2, &r), 0);
  CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
  CU_ASSERT_EQUAL(r.bytes_on_disk, 0);
  CU_ASSERT_EQUAL(dn_rmap_get(dns[2]->map, id2, &r), DFS_ENOTREPLICA);
}

static void test_hflush_rewrite(void) {
  uint8_t data[3000], back[4096];
  fill(data, sizeof data, 3);
  uint64_t id = next_id++;
  struct pipe p = {0};
  struct dfs_ack a;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 3, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  /* hflush 700 bytes (a partial second chunk). */
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 700, 0, false, 0), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 3));
  /* Once acked, every node shows 700 visible bytes, readable with valid
   * checksums (the partial chunk's sum covers exactly those bytes). */
  for (int i = 0; i < NDN; i++) {
    uint64_t vl = 0;
    CU_ASSERT_EQUAL(visible_length(addrs[i], id, &vl), 0);
    CU_ASSERT_EQUAL(vl, 700);
    long n = read_block(addrs[i], id, 0, 4096, back, NULL, NULL);
    CU_ASSERT_EQUAL(n, 700);
    CU_ASSERT(n == 700 && memcmp(back, data, 700) == 0);
  }
  /* Heartbeat while idle. */
  CU_ASSERT_EQUAL(send_pkt(&p, 700 / 512 * 512, data, 0, 0, false, -1), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, -1, 3));
  /* The next packet restarts at the partial chunk (512) with its old bytes. */
  CU_ASSERT_EQUAL(send_pkt(&p, 512, data + 512, 2000 - 512, DFS_PKT_SYNC, false, 1), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 1, 3));
  uint64_t vl = 0;
  CU_ASSERT_EQUAL(visible_length(addrs[2], id, &vl), 0);
  CU_ASSERT_EQUAL(vl, 2000);
  CU_ASSERT_EQUAL(send_pkt(&p, 2000 / 512 * 512, data + 2000 / 512 * 512, 3000 - 2000 / 512 * 512,
                           0, false, 2), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 3000 / 512 * 512, data, 0, DFS_PKT_LAST, false, 3), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 2, 3));
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 3, 3));
  dfs_rpc_client_give(client, p.conn, true);
  for (int i = 0; i < NDN; i++) {
    long n = read_block(addrs[i], id, 0, 3000, back, NULL, NULL);
    CU_ASSERT_EQUAL(n, 3000);
    CU_ASSERT(n == 3000 && memcmp(back, data, 3000) == 0);
  }
}

static void test_bad_offset(void) {
  /* A packet that neither continues nor rewrites the partial chunk. */
  uint8_t data[2048];
  fill(data, sizeof data, 4);
  uint64_t id = next_id++;
  struct pipe p = {0};
  struct dfs_ack a;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 1, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 1024, 0, false, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 512, data, 512, 0, false, 1), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 1));
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT_EQUAL(a.seqno, 1);
  CU_ASSERT_EQUAL(a.status[0], DFS_EINVAL);
  dfs_rpc_client_give(client, p.conn, false);
}

static void test_checksum_error(void) {
  uint8_t data[65536];
  fill(data, sizeof data, 5);
  uint64_t id = next_id++;
  struct pipe p = {0};
  struct dfs_ack a;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 3, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 65536, 0, false, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 65536, data, 65536, 0, true, 1), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 3));
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT_EQUAL(a.seqno, 1);
  CU_ASSERT_EQUAL(a.n, 3);
  CU_ASSERT_EQUAL(a.status[0], DFS_ECHECKSUM);
  /* The stream ends: the connection is closed after the ack. */
  uint8_t x;
  CU_ASSERT(dfs_read_full(p.fd, &x, 1, dfs_now_ms() + 5000) < 0);
  dfs_rpc_client_give(client, p.conn, false);
  /* The good prefix stays visible on the first node. */
  uint64_t vl = 0;
  CU_ASSERT_EQUAL(visible_length(addrs[0], id, &vl), 0);
  CU_ASSERT_EQUAL(vl, 65536);
}

static void test_dead_downstream(void) {
  /* Reserve a port nobody listens on. */
  int port = 0;
  int lfd = dfs_tcp_listen("127.0.0.1:0", 1, &port);
  CU_ASSERT_FATAL(lfd >= 0);
  close(lfd);
  char dead[64];
  snprintf(dead, sizeof dead, "127.0.0.1:%d", port);
  const char *nodes[3] = {addrs[0], addrs[1], dead};
  struct pipe p = {0};
  char bad[128] = "";
  int rc = open_pipe(&p, nodes, 3, next_id++, 1001, DFS__WRITE_STAGE__STAGE_CREATE, bad, sizeof bad);
  CU_ASSERT(rc != 0);
  CU_ASSERT_STRING_EQUAL(bad, dead);
  /* The connection stays usable after an error status. */
  if (p.conn) dfs_rpc_client_give(client, p.conn, true);
  uint8_t data[100];
  fill(data, sizeof data, 6);
  CU_ASSERT_EQUAL(write_block(all3, 3, next_id++, data, sizeof data, 65536, true), 0);
}

static void test_transfer(void) {
  uint8_t *data = malloc(2500000), *back = malloc(2600000);
  fill(data, 2500000, 7);
  uint64_t id = next_id++;
  const char *one[1] = {addrs[0]};
  CU_ASSERT_EQUAL_FATAL(write_block(one, 1, id, data, 2500000, 65536, true), 0);
  Dfs__DatanodeInfo infos[2], *ptrs[2];
  Dfs__DatanodeId ids[2];
  char hosts[2][64];
  ptrs[0] = mk_info(&infos[0], &ids[0], addrs[1], hosts[0]);
  ptrs[1] = mk_info(&infos[1], &ids[1], addrs[2], hosts[1]);
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = 1001;
  CU_ASSERT_EQUAL(dn_transfer_block(dns[0], &b, ptrs, 2), 0);
  for (int i = 1; i < 3; i++) {
    long n = read_block(addrs[i], id, 0, 2500000, back, NULL, NULL);
    CU_ASSERT_EQUAL(n, 2500000);
    CU_ASSERT(n == 2500000 && memcmp(back, data, 2500000) == 0);
  }
  free(data);
  free(back);
}

/* A re-replication cut off half-way (the source died, a timeout) leaves
 * nothing that stops the next one: the NameNode schedules the same block
 * to the same node again, and it must succeed (a partial copy left behind
 * used to answer "replica already exists" to every later transfer). */
static void test_transfer_after_failed_transfer(void) {
  enum { LEN = 1000000 };
  uint8_t *data = malloc(LEN), *back = malloc(LEN + 100000);
  fill(data, LEN, 9);
  uint64_t id = next_id++;
  const char *one[1] = {addrs[0]}, *target[1] = {addrs[1]};
  CU_ASSERT_EQUAL_FATAL(write_block(one, 1, id, data, LEN, 65536, true), 0);
  /* The first transfer: one packet, then the connection drops. */
  struct pipe p = {0};
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, target, 1, id, 1001, DFS__WRITE_STAGE__STAGE_TRANSFER,
                                  NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 65536, 0, false, 0), 0);
  struct dfs_ack a;
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  dfs_rpc_client_give(client, p.conn, false);
  /* The next one, once the target has seen the first end. */
  Dfs__DatanodeInfo info, *ptrs[1];
  Dfs__DatanodeId did;
  char host[64];
  ptrs[0] = mk_info(&info, &did, addrs[1], host);
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = 1001;
  int rc = -1;
  for (int64_t dl = dfs_now_ms() + 5000; rc != 0 && dfs_now_ms() < dl; usleep(50000))
    rc = dn_transfer_block(dns[0], &b, ptrs, 1);
  CU_ASSERT_EQUAL(rc, 0);
  long n = read_block(addrs[1], id, 0, LEN, back, NULL, NULL);
  CU_ASSERT(n == LEN && memcmp(back, data, LEN) == 0);
  free(data);
  free(back);
}

/* A byte flipped on disk: readers see a checksum mismatch, the scanner
 * finds it; an intact replica passes. */
static void test_corrupt_replica(void) {
  uint8_t data[300000], back[310000];
  fill(data, sizeof data, 9);
  uint64_t id = next_id++, good_id = next_id++;
  const char *one[1] = {addrs[0]};
  CU_ASSERT_EQUAL_FATAL(write_block(one, 1, id, data, sizeof data, 65536, true), 0);
  CU_ASSERT_EQUAL_FATAL(write_block(one, 1, good_id, data, sizeof data, 65536, true), 0);
  struct dn_replica r, g;
  CU_ASSERT_EQUAL_FATAL(dn_rmap_get(dns[0]->map, id, &r), 0);
  CU_ASSERT_EQUAL_FATAL(dn_rmap_get(dns[0]->map, good_id, &g), 0);
  CU_ASSERT_EQUAL(dn_scan_replica(dns[0], NULL, &r), 0);
  char path[4200];
  dn_storage_path(dns[0]->storage, r.vol, r.state, id, r.gs, false, path, sizeof path);
  FILE *f = fopen(path, "r+");
  CU_ASSERT_FATAL(f != NULL);
  fseek(f, 200000, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 200000, SEEK_SET);
  fputc(c ^ 0x10, f);
  fclose(f);
  CU_ASSERT_EQUAL(dn_scan_replica(dns[0], NULL, &r), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(dn_scan_replica(dns[0], NULL, &g), 0);
  CU_ASSERT_EQUAL(read_block(addrs[0], id, 0, sizeof data, back, NULL, NULL), DFS_ECHECKSUM);
  CU_ASSERT_EQUAL(read_block(addrs[0], good_id, 0, sizeof data, back, NULL, NULL),
                  (long)sizeof data);
}

static bool writer_gone(int node, uint64_t id) {
  struct dn_replica r;
  return dn_rmap_get(dns[node]->map, id, &r) == 0 && !r.writer;
}

/* The writer loses its pipeline after an hflush; it rebuilds it from the
 * last two nodes with a new genstamp, resends from the acked length, and
 * closes the block. The dropped node keeps a stale replica. */
static void test_pipeline_recovery(void) {
  size_t len = 200000;
  uint8_t *data = malloc(len), *back = malloc(len + 4096);
  fill(data, len, 8);
  uint64_t id = next_id++;
  struct pipe p = {0};
  struct dfs_ack a;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 3, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 65536, 0, false, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 65536, data + 65536, 1000, 0, false, 1), 0); /* hflush */
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 3));
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 1, 3));
  /* An unacknowledged packet, then the pipeline breaks. */
  CU_ASSERT_EQUAL(send_pkt(&p, 66048, data + 66048, 40000, 0, false, 2), 0);
  dfs_rpc_client_give(client, p.conn, false);
  int64_t dl = dfs_now_ms() + 10000;
  while (!(writer_gone(0, id) && writer_gone(1, id) && writer_gone(2, id)) && dfs_now_ms() < dl)
    usleep(5000);
  CU_ASSERT(writer_gone(0, id) && writer_gone(1, id) && writer_gone(2, id));
  /* Rebuild with dn2, dn3 under genstamp 1002 from the acked 66536 bytes. */
  const char *two[2] = {addrs[1], addrs[2]};
  memset(&p, 0, sizeof p);
  recovery_len = 66536;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, two, 2, id, 1002, DFS__WRITE_STAGE__STAGE_RECOVERY, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 66048, data + 66048, (uint32_t)(len - 66048), 0, false, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, len / 512 * 512, data, 0, DFS_PKT_LAST, false, 1), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 0, 2));
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 1, 2));
  dfs_rpc_client_give(client, p.conn, true);
  read_gs = 1002;
  for (int i = 1; i < 3; i++) {
    struct dn_replica r;
    CU_ASSERT_EQUAL(dn_rmap_get(dns[i]->map, id, &r), 0);
    CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
    CU_ASSERT_EQUAL(r.gs, 1002);
    long n = read_block(addrs[i], id, 0, len, back, NULL, NULL);
    CU_ASSERT_EQUAL(n, (long)len);
    CU_ASSERT(n == (long)len && memcmp(back, data, len) == 0);
  }
  /* The stale replica on dn1 is never served for the new genstamp. */
  CU_ASSERT_EQUAL(read_block(addrs[0], id, 0, len, back, NULL, NULL), DFS_EGENSTAMP);
  read_gs = 1001;
  /* Recovery with an older genstamp, or more bytes than held, is refused. */
  memset(&p, 0, sizeof p);
  CU_ASSERT_EQUAL(open_pipe(&p, all3, 1, id, 1001, DFS__WRITE_STAGE__STAGE_RECOVERY, NULL, 0),
                  DFS_EGENSTAMP);
  dfs_rpc_client_give(client, p.conn, true);
  memset(&p, 0, sizeof p);
  recovery_len = 1 << 30;
  CU_ASSERT_EQUAL(open_pipe(&p, all3, 1, id, 1003, DFS__WRITE_STAGE__STAGE_RECOVERY, NULL, 0),
                  DFS_EINVAL);
  dfs_rpc_client_give(client, p.conn, true);
  free(data);
  free(back);
}

/* Lease recovery: the writer dies after an hflush; the primary (dn1) gets
 * every holder to agree on a length and finalize under a new genstamp. */
static void test_lease_recovery(void) {
  size_t len = 200000;
  uint8_t *data = malloc(len), *back = malloc(len + 4096);
  fill(data, len, 10);
  uint64_t id = next_id++;
  struct pipe p = {0};
  struct dfs_ack a;
  CU_ASSERT_EQUAL_FATAL(open_pipe(&p, all3, 3, id, 1001, DFS__WRITE_STAGE__STAGE_CREATE, NULL, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 0, data, 65536, 0, false, 0), 0);
  CU_ASSERT_EQUAL(send_pkt(&p, 65536, data + 65536, 1000, 0, false, 1), 0); /* hflush */
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT_EQUAL(read_ack(&p, &a), 0);
  CU_ASSERT(ack_ok(&a, 1, 3));
  CU_ASSERT_EQUAL(send_pkt(&p, 66048, data + 66048, 40000, 0, false, 2), 0); /* maybe lost */
  dfs_rpc_client_give(client, p.conn, false);                                /* writer dies */
  Dfs__DatanodeInfo infos[3], *ptrs[3];
  Dfs__DatanodeId ids[3];
  char hosts[3][64];
  for (int i = 0; i < 3; i++) {
    ptrs[i] = mk_info(&infos[i], &ids[i], addrs[i], hosts[i]);
    ids[i].uuid = (char *)dn_storage_uuid(dns[i]->storage);
  }
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = 1001;
  char **uuids = NULL;
  size_t nu = 0;
  uint64_t rlen = 0;
  CU_ASSERT_EQUAL_FATAL(dn_recover_block(dns[0], &b, ptrs, 3, 1005, &uuids, &nu, &rlen), 0);
  CU_ASSERT_EQUAL(nu, 3);
  CU_ASSERT(rlen >= 66536 && rlen <= 106048);
  for (size_t i = 0; i < nu; i++) free(uuids[i]);
  free(uuids);
  read_gs = 1005;
  for (int i = 0; i < 3; i++) {
    struct dn_replica r;
    CU_ASSERT_EQUAL(dn_rmap_get(dns[i]->map, id, &r), 0);
    CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
    CU_ASSERT_EQUAL(r.gs, 1005);
    CU_ASSERT_EQUAL(r.bytes_on_disk, rlen);
    long n = read_block(addrs[i], id, 0, len, back, NULL, NULL);
    CU_ASSERT_EQUAL(n, (long)rlen);
    CU_ASSERT(n == (long)rlen && memcmp(back, data, rlen) == 0);
  }
  read_gs = 1001;
  /* Done once: an older genstamp cannot be recovered again. */
  CU_ASSERT(dn_recover_block(dns[0], &b, ptrs, 3, 1005, &uuids, &nu, &rlen) < 0);
  free(data);
  free(back);
}

int main(void) {
  for (int i = 0; i < NDN; i++) all3[i] = addrs[i];
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite su = CU_add_suite("dn_pipeline", suite_init, suite_clean);
  CU_add_test(su, "3-node write, finalize, read back from each node", test_write_read_pipeline);
  CU_add_test(su, "connection reuse after LAST, SYNC, empty block", test_connection_reuse);
  CU_add_test(su, "hflush, visible length, partial-chunk rewrite, heartbeat",
              test_hflush_rewrite);
  CU_add_test(su, "packet at a bad offset", test_bad_offset);
  CU_add_test(su, "a transfer after a failed one", test_transfer_after_failed_transfer);
  CU_add_test(su, "corrupted packet gets DFS_ECHECKSUM", test_checksum_error);
  CU_add_test(su, "dead downstream node at set-up", test_dead_downstream);
  CU_add_test(su, "TRANSFER to two nodes", test_transfer);
  CU_add_test(su, "pipeline recovery with a new genstamp", test_pipeline_recovery);
  CU_add_test(su, "corrupt replica: reader and block scanner", test_corrupt_replica);
  CU_add_test(su, "lease recovery to an agreed length", test_lease_recovery);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  if (CU_get_number_of_suites_failed() > 0) fails++;
  CU_cleanup_registry();
  return fails ? 1 : 0;
}
