/*
 * test_rpc.c - the RPC framework (rpc.h) in one process: a server with a
 * small method table and pooled clients, plus raw sockets that speak bad
 * frames. Covers replies, error replies, unknown methods and malformed
 * bodies (connection lives on), bad headers (error reply, then close),
 * truncated frames, deadlines, concurrency, pool reuse and stale pooled
 * connections, stopping a busy server, stream handlers, max_connections.
 */
#include <CUnit/Basic.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dfs_methods.h"
#include "errors.h"
#include "net.h"
#include "rpc.h"

#define MAX_BODY (1u << 20)
#define STREAM_BYTES 100000

/* Distinct peers ("ip:port") seen by the MKDIRS handler: counts the
 * connections that clients really opened. Guarded by peers_mu. */
static pthread_mutex_t peers_mu = PTHREAD_MUTEX_INITIALIZER;
static char peers[64][64];
static int n_peers;
static atomic_int sleeping; /* handlers inside the "/sleep" branch */

static void peers_reset(void) {
  pthread_mutex_lock(&peers_mu);
  n_peers = 0;
  pthread_mutex_unlock(&peers_mu);
}

static void peers_add(const char *p) {
  pthread_mutex_lock(&peers_mu);
  int i;
  for (i = 0; i < n_peers; i++)
    if (strcmp(peers[i], p) == 0) break;
  if (i == n_peers && n_peers < 64) snprintf(peers[n_peers++], sizeof peers[0], "%s", p);
  pthread_mutex_unlock(&peers_mu);
}

static int peers_count(void) {
  pthread_mutex_lock(&peers_mu);
  int n = n_peers;
  pthread_mutex_unlock(&peers_mu);
  return n;
}

static int path_is(const Dfs__MkdirsRequest *r, const char *p) {
  return r->path.len == strlen(p) && memcmp(r->path.data, p, r->path.len) == 0;
}

/* MKDIRS: result = permission is odd. "/exists": DFS_EEXIST naming the
 * user. "/sleep": sleeps 1.5 s. "/whoami": fails with DFS_EPERM and a
 * message "user=<user> client=<client_name>". "/bare": fails without a
 * message. "/empty": returns 0 without replying. */
static int h_mkdirs(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  (void)ctx;
  const Dfs__MkdirsRequest *r = (const Dfs__MkdirsRequest *)m;
  peers_add(dfs_rpc_call_peer(call));
  if (path_is(r, "/exists"))
    return dfs_err_set(DFS_EEXIST, "mkdirs: /exists: File exists (user %s)",
                       dfs_rpc_call_user(call));
  if (path_is(r, "/whoami"))
    return dfs_err_set(DFS_EPERM, "user=%s client=%s", dfs_rpc_call_user(call),
                       dfs_rpc_call_client_name(call));
  if (path_is(r, "/bare")) return DFS_ENOSPC;
  if (path_is(r, "/empty")) return 0;
  if (path_is(r, "/sleep")) {
    atomic_fetch_add(&sleeping, 1);
    usleep(1500000);
    atomic_fetch_sub(&sleeping, 1);
  }
  Dfs__MkdirsResponse resp = DFS__MKDIRS_RESPONSE__INIT;
  resp.result = r->permission & 1;
  return dfs_rpc_reply(call, &resp.base);
}

/* READ_BLOCK as a stream method: reply {status 0, replica_length = n},
 * then n raw bytes (i & 0xff), then read a 4-byte ack "ACK!" and return 0;
 * offset 1 means: reply, then fail (connection closed). */
static int h_stream(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  (void)ctx;
  const Dfs__ReadBlockRequest *r = (const Dfs__ReadBlockRequest *)m;
  Dfs__ReadBlockResponse resp = DFS__READ_BLOCK_RESPONSE__INIT;
  resp.status = 0;
  resp.has_replica_length = 1;
  resp.replica_length = STREAM_BYTES;
  int rc = dfs_rpc_reply(call, &resp.base);
  if (rc) return rc;
  if (r->offset == 1) return dfs_err_set(DFS_EIO, "stream: failing on purpose");
  static uint8_t data[STREAM_BYTES];
  for (int i = 0; i < STREAM_BYTES; i++) data[i] = (uint8_t)i;
  int fd = dfs_rpc_call_fd(call);
  rc = dfs_write_full(fd, data, sizeof data, dfs_rpc_call_deadline(call));
  if (rc) return rc;
  char ack[4];
  rc = dfs_read_full(fd, ack, 4, dfs_rpc_call_deadline(call));
  if (rc) return rc;
  return memcmp(ack, "ACK!", 4) == 0 ? 0 : dfs_err_set(DFS_EPROTO, "bad ack");
}

static const struct dfs_rpc_method methods[] = {
    {DFS_M_MKDIRS, "MKDIRS", &dfs__mkdirs_request__descriptor, h_mkdirs, 0},
    {DFS_M_READ_BLOCK, "READ_BLOCK", &dfs__read_block_request__descriptor, h_stream,
     DFS_RPC_STREAM},
};

static dfs_rpc_server *start_server(const char *bind, int max_conns, int idle_ms) {
  struct dfs_rpc_server_opts o = {.name = "test", .bind_addr = bind, .methods = methods,
                                  .n_methods = 2, .max_body = MAX_BODY,
                                  .max_connections = max_conns, .idle_timeout_ms = idle_ms};
  dfs_rpc_server *s = NULL;
  if (dfs_rpc_server_create(&o, &s)) return NULL;
  if (dfs_rpc_server_start(s)) {
    dfs_rpc_server_destroy(s);
    return NULL;
  }
  return s;
}

static dfs_rpc_server *srv;
static char addr[64];

static int suite_init(void) {
  srv = start_server("127.0.0.1:0", 0, 0);
  if (!srv) return -1;
  snprintf(addr, sizeof addr, "127.0.0.1:%d", dfs_rpc_server_port(srv));
  return 0;
}

static int suite_clean(void) {
  dfs_rpc_server_destroy(srv);
  return 0;
}

static dfs_rpc_client *new_client(int timeout_ms) {
  struct dfs_rpc_client_opts o = {.user = "alice", .client_name = "DFSClient_1_2",
                                  .timeout_ms = timeout_ms, .max_idle_per_addr = 16};
  dfs_rpc_client *c = NULL;
  CU_ASSERT_FATAL(dfs_rpc_client_create(&o, &c) == 0);
  return c;
}

static void mk_req(Dfs__MkdirsRequest *r, const char *path, uint32_t perm) {
  *r = (Dfs__MkdirsRequest)DFS__MKDIRS_REQUEST__INIT;
  r->path.data = (uint8_t *)path;
  r->path.len = strlen(path);
  r->permission = perm;
}

/* MKDIRS via the pool; *result gets the reply's result. */
static int mkdirs_at(dfs_rpc_client *c, const char *a, const char *path, uint32_t perm,
                     int timeout_ms, int *result) {
  Dfs__MkdirsRequest r;
  mk_req(&r, path, perm);
  ProtobufCMessage *resp = NULL;
  int rc = dfs_rpc_call(c, a, DFS_M_MKDIRS, &r.base, &dfs__mkdirs_response__descriptor, &resp,
                        timeout_ms);
  if (rc == 0) {
    if (result) *result = ((Dfs__MkdirsResponse *)resp)->result;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  return rc;
}

static int mkdirs(dfs_rpc_client *c, const char *path, uint32_t perm, int *result) {
  return mkdirs_at(c, addr, path, perm, 0, result);
}

/* MKDIRS on a borrowed connection. */
static int conn_mkdirs(dfs_conn *k, const char *path, uint32_t perm, int *result) {
  Dfs__MkdirsRequest r;
  mk_req(&r, path, perm);
  ProtobufCMessage *resp = NULL;
  int rc = dfs_conn_call(k, DFS_M_MKDIRS, &r.base, &dfs__mkdirs_response__descriptor, &resp,
                         5000);
  if (rc == 0) {
    if (result) *result = ((Dfs__MkdirsResponse *)resp)->result;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  return rc;
}

/* ---- raw frames ------------------------------------------------------------ */

static int raw_send(int fd, uint16_t method, uint64_t id, const void *body, uint32_t len) {
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, method, id, 0, len};
  return dfs_rpc_send_frame(fd, &h, body, dfs_now_ms() + 5000);
}

/* Read one reply frame; returns its status (0 or the error code) and the
 * error message into msg. -99999 on a transport failure. */
static int raw_reply(int fd, uint64_t *id, char *msg, size_t cap) {
  uint8_t hb[DFS_RPC_HDR_LEN];
  if (dfs_read_full(fd, hb, sizeof hb, dfs_now_ms() + 5000)) return -99999;
  struct dfs_rpc_hdr h;
  if (dfs_rpc_hdr_decode(hb, sizeof hb, MAX_BODY, &h)) return -99999;
  if (!(h.flags & DFS_RPC_F_REPLY)) return -99999;
  if (id) *id = h.call_id;
  uint8_t *body = malloc(h.body_len + 1);
  if (dfs_read_full(fd, body, h.body_len, dfs_now_ms() + 5000)) {
    free(body);
    return -99999;
  }
  if (msg) msg[0] = '\0';
  if (h.status != 0) {
    Dfs__RpcError *e = dfs__rpc_error__unpack(NULL, h.body_len, body);
    if (!e || e->code != h.status) h.status = -99999;
    else if (msg) snprintf(msg, cap, "%s", e->message ? e->message : "");
    if (e) dfs__rpc_error__free_unpacked(e, NULL);
  }
  free(body);
  return h.status;
}

/* True when the peer closes the connection within 5 s. */
static int raw_closed(int fd) {
  uint8_t b;
  int rc = dfs_read_full(fd, &b, 1, dfs_now_ms() + 5000);
  return rc == DFS_ECONNRESET;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_round_trip(void) {
  dfs_rpc_client *c = new_client(5000);
  int result = -1;
  CU_ASSERT_EQUAL(mkdirs(c, "/a", 0755, &result), 0);
  CU_ASSERT_EQUAL(result, 1);
  CU_ASSERT_EQUAL(mkdirs(c, "/a", 0754, &result), 0);
  CU_ASSERT_EQUAL(result, 0);
  /* The context reached the handler. */
  CU_ASSERT_EQUAL(mkdirs(c, "/whoami", 0, NULL), DFS_EPERM);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "user=alice client=DFSClient_1_2");
  /* PING is answered by the framework. */
  Dfs__Empty e = DFS__EMPTY__INIT;
  ProtobufCMessage *resp = NULL;
  CU_ASSERT_EQUAL(dfs_rpc_call(c, addr, DFS_M_PING, &e.base, &dfs__empty__descriptor, &resp, 0),
                  0);
  CU_ASSERT_PTR_NOT_NULL(resp);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  /* A handler returning 0 without replying answers an empty body, which
   * does not decode as MkdirsResponse (required field) -> DFS_EPROTO, but
   * decodes as Empty. */
  Dfs__MkdirsRequest r;
  mk_req(&r, "/empty", 0);
  CU_ASSERT_EQUAL(dfs_rpc_call(c, addr, DFS_M_MKDIRS, &r.base, &dfs__empty__descriptor, &resp,
                               0),
                  0);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  dfs_rpc_client_destroy(c);
}

static void test_error_replies(void) {
  dfs_rpc_client *c = new_client(5000);
  CU_ASSERT_EQUAL(mkdirs(c, "/exists", 0, NULL), DFS_EEXIST);
  CU_ASSERT_EQUAL(dfs_err_code(), DFS_EEXIST);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "mkdirs: /exists: File exists (user alice)");
  /* No message set by the handler: the code's text, never a stale one
   * (the previous call on that server thread set "... (user alice)"). */
  CU_ASSERT_EQUAL(mkdirs(c, "/bare", 0, NULL), DFS_ENOSPC);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), dfs_strerror(DFS_ENOSPC));
  /* The connection survives error replies. */
  int result = 0;
  CU_ASSERT_EQUAL(mkdirs(c, "/ok", 1, &result), 0);
  CU_ASSERT_EQUAL(result, 1);
  dfs_rpc_client_destroy(c);
}

static void test_connect_refused_message(void) {
  int port = 0;
  int lfd = dfs_tcp_listen("127.0.0.1:0", 1, &port);
  CU_ASSERT_FATAL(lfd >= 0);
  close(lfd); /* nobody listens there now */
  char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", port);
  dfs_rpc_client *c = new_client(2000);
  Dfs__CreateRequest r = DFS__CREATE_REQUEST__INIT;
  int rc = dfs_rpc_call(c, a, DFS_M_CREATE, &r.base, &dfs__create_response__descriptor, NULL, 0);
  CU_ASSERT_EQUAL(rc, DFS_ECONNREFUSED);
  char want[128];
  snprintf(want, sizeof want, "CREATE to %s: Connection refused", a);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), want);
  dfs_rpc_client_destroy(c);
}

static void test_unknown_method(void) {
  dfs_rpc_client *c = new_client(5000);
  dfs_conn *k = NULL;
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, addr, 5000, &k) == 0);
  Dfs__Empty e = DFS__EMPTY__INIT;
  CU_ASSERT_EQUAL(dfs_conn_call(k, 999, &e.base, NULL, NULL, 5000), DFS_EMETHOD);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "unknown method 999");
  /* A known id without a handler on this server is unknown too. */
  CU_ASSERT_EQUAL(dfs_conn_call(k, DFS_M_CREATE, &e.base, NULL, NULL, 5000), DFS_EMETHOD);
  int result = 0;
  CU_ASSERT_EQUAL(conn_mkdirs(k, "/x", 3, &result), 0); /* same connection */
  CU_ASSERT_EQUAL(result, 1);
  dfs_rpc_client_give(c, k, true);
  dfs_rpc_client_destroy(c);
}

static void test_malformed_body(void) {
  int fd = dfs_tcp_connect(addr, 5000);
  CU_ASSERT_FATAL(fd >= 0);
  char msg[256];
  /* No CONNECTION_CONTEXT: calls are served with user "". */
  Dfs__MkdirsRequest r;
  mk_req(&r, "/whoami", 0);
  uint8_t buf[256];
  size_t n = dfs__mkdirs_request__pack(&r, buf);
  CU_ASSERT_EQUAL(raw_send(fd, DFS_M_MKDIRS, 7, buf, (uint32_t)n), 0);
  uint64_t id = 0;
  CU_ASSERT_EQUAL(raw_reply(fd, &id, msg, sizeof msg), DFS_EPERM);
  CU_ASSERT_EQUAL(id, 7);
  CU_ASSERT_STRING_EQUAL(msg, "user= client=");
  /* Garbage body: error reply, connection lives. */
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  CU_ASSERT_EQUAL(raw_send(fd, DFS_M_MKDIRS, 8, junk, sizeof junk), 0);
  CU_ASSERT_EQUAL(raw_reply(fd, &id, msg, sizeof msg), DFS_EPROTO);
  CU_ASSERT_EQUAL(id, 8);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "MKDIRS: malformed request body"));
  /* Missing required fields is malformed too. */
  CU_ASSERT_EQUAL(raw_send(fd, DFS_M_MKDIRS, 9, NULL, 0), 0);
  CU_ASSERT_EQUAL(raw_reply(fd, &id, msg, sizeof msg), DFS_EPROTO);
  CU_ASSERT_EQUAL(raw_send(fd, DFS_M_PING, 10, NULL, 0), 0);
  CU_ASSERT_EQUAL(raw_reply(fd, &id, NULL, 0), 0);
  CU_ASSERT_EQUAL(id, 10);
  /* A reply frame sent to the server: error reply, connection lives. */
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, DFS_RPC_F_REPLY, DFS_M_PING, 11, 0, 0};
  CU_ASSERT_EQUAL(dfs_rpc_send_frame(fd, &h, NULL, dfs_now_ms() + 5000), 0);
  CU_ASSERT_EQUAL(raw_reply(fd, &id, msg, sizeof msg), DFS_EPROTO);
  CU_ASSERT_EQUAL(raw_send(fd, DFS_M_PING, 12, NULL, 0), 0);
  CU_ASSERT_EQUAL(raw_reply(fd, &id, NULL, 0), 0);
  close(fd);
}

static void test_oversized_frame(void) {
  int fd = dfs_tcp_connect(addr, 5000);
  CU_ASSERT_FATAL(fd >= 0);
  uint8_t hb[DFS_RPC_HDR_LEN];
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, DFS_M_MKDIRS, 5, 0,
                          MAX_BODY + 1};
  dfs_rpc_hdr_encode(&h, hb);
  CU_ASSERT_EQUAL(dfs_write_full(fd, hb, sizeof hb, dfs_now_ms() + 5000), 0);
  char msg[256];
  uint64_t id = 0;
  CU_ASSERT_EQUAL(raw_reply(fd, &id, msg, sizeof msg), DFS_ETOOBIG);
  CU_ASSERT_EQUAL(id, 5);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "exceeds the limit"));
  CU_ASSERT(raw_closed(fd));
  close(fd);
  /* A client whose request is too big for the server gets DFS_ETOOBIG. */
  dfs_rpc_client *c = new_client(5000);
  char *big = malloc(MAX_BODY + 10);
  memset(big, 'a', MAX_BODY + 9);
  big[0] = '/';
  big[MAX_BODY + 9] = '\0';
  CU_ASSERT_EQUAL(mkdirs(c, big, 0, NULL), DFS_ETOOBIG);
  free(big);
  CU_ASSERT_EQUAL(mkdirs(c, "/after", 0, NULL), 0);
  dfs_rpc_client_destroy(c);
}

static void test_bad_header(void) {
  static const struct {
    const char *what;
    uint8_t bytes[DFS_RPC_HDR_LEN];
  } cases[] = {
      {"http", "GET / HTTP/1.1\r\nHost:\r\n"},
      {"version", {0x44, 0x46, 0x53, 0x31, 9, 0, 0, 2}},
      {"flags", {0x44, 0x46, 0x53, 0x31, 1, 0x80, 0, 2}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int fd = dfs_tcp_connect(addr, 5000);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(dfs_write_full(fd, cases[i].bytes, DFS_RPC_HDR_LEN, dfs_now_ms() + 5000), 0);
    char msg[256];
    int st = raw_reply(fd, NULL, msg, sizeof msg);
    CU_ASSERT_EQUAL(st, DFS_EPROTO);
    if (st != DFS_EPROTO) fprintf(stderr, "case %s: status %d\n", cases[i].what, st);
    CU_ASSERT(raw_closed(fd));
    close(fd);
  }
  int result = 0;
  dfs_rpc_client *c = new_client(5000);
  CU_ASSERT_EQUAL(mkdirs(c, "/alive", 1, &result), 0); /* the server lives on */
  dfs_rpc_client_destroy(c);
}

static void test_truncated_frame(void) {
  /* Half a header, then close; a header and half a body, then close. */
  for (int i = 0; i < 2; i++) {
    int fd = dfs_tcp_connect(addr, 5000);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t hb[DFS_RPC_HDR_LEN + 10];
    struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, DFS_M_MKDIRS, 1, 0, 100};
    dfs_rpc_hdr_encode(&h, hb);
    memset(hb + DFS_RPC_HDR_LEN, 0x0a, 10);
    CU_ASSERT_EQUAL(dfs_write_full(fd, hb, i ? sizeof hb : 12, dfs_now_ms() + 5000), 0);
    close(fd);
  }
  /* Random garbage in many shapes: the server never crashes. */
  uint64_t s = 12345;
  for (int i = 0; i < 50; i++) {
    int fd = dfs_tcp_connect(addr, 5000);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t junk[200];
    for (size_t j = 0; j < sizeof junk; j++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      junk[j] = (uint8_t)(s >> 33);
    }
    if (i % 2) { /* a valid start, then junk */
      struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, (uint16_t)(i * 7), 1, 0,
                              (uint32_t)(i % 40)};
      dfs_rpc_hdr_encode(&h, junk);
    }
    dfs_write_full(fd, junk, (size_t)(i * 4 % 200), dfs_now_ms() + 5000);
    close(fd);
  }
  dfs_rpc_client *c = new_client(5000);
  int result = 0;
  CU_ASSERT_EQUAL(mkdirs(c, "/fresh", 1, &result), 0);
  CU_ASSERT_EQUAL(result, 1);
  dfs_rpc_client_destroy(c);
}

static void test_deadline(void) {
  dfs_rpc_client *c = new_client(5000);
  /* A call with the 5 s timeout first: its pooled connection carries a 5 s
   * receive timeout (SO_RCVTIMEO), which the shorter call must not keep. */
  CU_ASSERT_EQUAL(mkdirs(c, "/before-timeout", 0, NULL), 0);
  int64_t t0 = dfs_now_ms();
  int rc = mkdirs_at(c, addr, "/sleep", 0, 300, NULL);
  int64_t dt = dfs_now_ms() - t0;
  CU_ASSERT_EQUAL(rc, DFS_ETIMEDOUT);
  CU_ASSERT(dt >= 290 && dt < 1200);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "MKDIRS to 127.0.0.1:"));
  /* The timed-out connection was dropped; the next call works. */
  CU_ASSERT_EQUAL(mkdirs(c, "/after-timeout", 0, NULL), 0);
  dfs_rpc_client_destroy(c);
  /* Let the sleeping handler finish before later tests count things. */
  int64_t end = dfs_now_ms() + 5000;
  while (atomic_load(&sleeping) > 0 && dfs_now_ms() < end) usleep(10000);
}

struct worker {
  dfs_rpc_client *c;
  int id;
  int bad;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  char path[64];
  for (int i = 0; i < 2000; i++) {
    uint32_t perm = (uint32_t)(w->id * 100000 + i);
    snprintf(path, sizeof path, "/w%d/%d", w->id, i);
    int result = -1;
    if (mkdirs(w->c, path, perm, &result) != 0 || result != (int)(perm & 1)) w->bad++;
    if (i % 500 == 0 && mkdirs(w->c, "/exists", 0, NULL) != DFS_EEXIST) w->bad++;
  }
  return NULL;
}

static void test_concurrency(void) {
  dfs_rpc_client *c = new_client(10000);
  pthread_t th[8];
  struct worker w[8];
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){c, i, 0};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  int bad = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    bad += w[i].bad;
  }
  CU_ASSERT_EQUAL(bad, 0);
  dfs_rpc_client_destroy(c);
}

static void test_pool_reuse(void) {
  dfs_rpc_client *c = new_client(5000);
  peers_reset();
  for (int i = 0; i < 100; i++) CU_ASSERT_EQUAL(mkdirs(c, "/p", 0, NULL), 0);
  CU_ASSERT_EQUAL(peers_count(), 1); /* one connection for 100 sequential calls */
  /* Error replies keep the connection too. */
  CU_ASSERT_EQUAL(mkdirs(c, "/exists", 0, NULL), DFS_EEXIST);
  CU_ASSERT_EQUAL(mkdirs(c, "/p", 0, NULL), 0);
  CU_ASSERT_EQUAL(peers_count(), 1);
  /* Two borrowed at once are two connections; both go back to the pool. */
  dfs_conn *k1 = NULL, *k2 = NULL;
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, addr, 5000, &k1) == 0);
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, addr, 5000, &k2) == 0);
  CU_ASSERT_EQUAL(conn_mkdirs(k1, "/p", 0, NULL), 0);
  CU_ASSERT_EQUAL(conn_mkdirs(k2, "/p", 0, NULL), 0);
  CU_ASSERT_EQUAL(peers_count(), 2);
  dfs_rpc_client_give(c, k1, true);
  dfs_rpc_client_give(c, k2, true);
  for (int i = 0; i < 10; i++) CU_ASSERT_EQUAL(mkdirs(c, "/p", 0, NULL), 0);
  CU_ASSERT_EQUAL(peers_count(), 2);
  dfs_rpc_client_destroy(c);
}

/* A pooled connection whose server went away while it was idle: the next
 * call retries once on a fresh connection instead of failing. */
static void test_stale_pooled_connection(void) {
  dfs_rpc_server *s = start_server("127.0.0.1:0", 0, 0);
  CU_ASSERT_FATAL(s != NULL);
  char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", dfs_rpc_server_port(s));
  dfs_rpc_client *c = new_client(5000);
  dfs_conn *ks[3];
  for (int i = 0; i < 3; i++) CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 5000, &ks[i]) == 0);
  for (int i = 0; i < 3; i++) dfs_rpc_client_give(c, ks[i], true);
  dfs_rpc_server_destroy(s); /* closes all three pooled connections */
  s = start_server(a, 0, 0); /* same port (SO_REUSEADDR) */
  CU_ASSERT_FATAL(s != NULL);
  int result = 0;
  for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(mkdirs_at(c, a, "/again", 1, 0, &result), 0);
  CU_ASSERT_EQUAL(result, 1);
  dfs_rpc_client_destroy(c);
  /* Idle timeout on the server side: the same. */
  dfs_rpc_server_destroy(s);
  s = start_server("127.0.0.1:0", 0, 100);
  CU_ASSERT_FATAL(s != NULL);
  snprintf(a, sizeof a, "127.0.0.1:%d", dfs_rpc_server_port(s));
  c = new_client(5000);
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 5000, &ks[0]) == 0);
  /* Wait (with a deadline) until the server closed the idle connection. */
  struct pollfd p = {.fd = dfs_conn_fd(ks[0]), .events = POLLIN};
  CU_ASSERT(poll(&p, 1, 5000) == 1);
  dfs_rpc_client_give(c, ks[0], true);
  CU_ASSERT_EQUAL(mkdirs_at(c, a, "/again", 1, 0, &result), 0);
  dfs_rpc_client_destroy(c);
  dfs_rpc_server_destroy(s);
}

/* dfs_conn_send + dfs_conn_recv: the same call as dfs_conn_call, in two
 * halves (the DataNode sends WRITE_BLOCK downstream, then creates its own
 * replica, then waits). */
static void test_call_in_halves(void) {
  dfs_rpc_client *c = new_client(5000);
  dfs_conn *k;
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, addr, 5000, &k) == 0);
  Dfs__MkdirsRequest r;
  mk_req(&r, "/halves", 0755);
  bool stale = true;
  CU_ASSERT_EQUAL(dfs_conn_send(k, DFS_M_MKDIRS, &r.base, 5000, &stale), 0);
  CU_ASSERT_FALSE(stale);
  ProtobufCMessage *resp = NULL;
  CU_ASSERT_EQUAL(dfs_conn_recv(k, DFS_M_MKDIRS, &dfs__mkdirs_response__descriptor, &resp, 5000,
                                &stale),
                  0);
  CU_ASSERT_FALSE(stale);
  CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
  CU_ASSERT_EQUAL(((Dfs__MkdirsResponse *)resp)->result, 1);
  protobuf_c_message_free_unpacked(resp, NULL);
  /* In step afterwards: a whole call on the same connection, then an error
   * reply through the halves (the handler's message comes through). */
  int result = -1;
  CU_ASSERT_EQUAL(conn_mkdirs(k, "/halves", 0754, &result), 0);
  CU_ASSERT_EQUAL(result, 0);
  mk_req(&r, "/whoami", 0);
  CU_ASSERT_EQUAL(dfs_conn_send(k, DFS_M_MKDIRS, &r.base, 5000, NULL), 0);
  CU_ASSERT_EQUAL(dfs_conn_recv(k, DFS_M_MKDIRS, &dfs__mkdirs_response__descriptor, &resp, 5000,
                                NULL),
                  DFS_EPERM);
  CU_ASSERT_PTR_NULL(resp);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "user=alice client=DFSClient_1_2");
  dfs_rpc_client_give(c, k, true);
  dfs_rpc_client_destroy(c);

  /* A connection the server closed while idle: one half or the other says
   * so (stale), and the call never ran. */
  dfs_rpc_server *s = start_server("127.0.0.1:0", 0, 100);
  CU_ASSERT_FATAL(s != NULL);
  char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", dfs_rpc_server_port(s));
  c = new_client(5000);
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 5000, &k) == 0);
  struct pollfd p = {.fd = dfs_conn_fd(k), .events = POLLIN};
  CU_ASSERT(poll(&p, 1, 5000) == 1);
  mk_req(&r, "/never", 0755);
  bool st_send = false, st_recv = false;
  int src = dfs_conn_send(k, DFS_M_MKDIRS, &r.base, 5000, &st_send);
  int rrc = src < 0 ? src
                    : dfs_conn_recv(k, DFS_M_MKDIRS, &dfs__mkdirs_response__descriptor, &resp,
                                    5000, &st_recv);
  CU_ASSERT(rrc < 0);
  CU_ASSERT(st_send || st_recv);
  dfs_rpc_client_give(c, k, false);
  dfs_rpc_client_destroy(c);
  dfs_rpc_server_destroy(s);
}

struct sleeper {
  dfs_rpc_client *c;
  const char *a;
  int rc;
};

static void *sleeper_main(void *arg) {
  struct sleeper *sl = arg;
  sl->rc = mkdirs_at(sl->c, sl->a, "/sleep", 0, 10000, NULL);
  return NULL;
}

static void test_stop_with_clients(void) {
  dfs_rpc_server *s = start_server("127.0.0.1:0", 0, 0);
  CU_ASSERT_FATAL(s != NULL);
  char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", dfs_rpc_server_port(s));
  dfs_rpc_client *c = new_client(10000);
  /* Idle connections, one raw connection mid-frame, one call in a handler. */
  dfs_conn *k1 = NULL, *k2 = NULL;
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 5000, &k1) == 0);
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 5000, &k2) == 0);
  int raw = dfs_tcp_connect(a, 5000);
  CU_ASSERT_FATAL(raw >= 0);
  CU_ASSERT_EQUAL(dfs_write_full(raw, "DFS", 3, dfs_now_ms() + 5000), 0);
  struct sleeper sl = {c, a, 1};
  pthread_t th;
  pthread_create(&th, NULL, sleeper_main, &sl);
  int64_t end = dfs_now_ms() + 5000;
  while (atomic_load(&sleeping) == 0 && dfs_now_ms() < end) usleep(1000);
  CU_ASSERT(atomic_load(&sleeping) == 1);
  int64_t t0 = dfs_now_ms();
  dfs_rpc_server_stop(s); /* waits for the sleeping handler */
  int64_t dt = dfs_now_ms() - t0;
  CU_ASSERT(dt < 5000);
  CU_ASSERT_EQUAL(atomic_load(&sleeping), 0);
  pthread_join(th, NULL);
  CU_ASSERT(sl.rc < 0); /* the reply could not be sent: the fd was shut down */
  CU_ASSERT(raw_closed(raw));
  close(raw);
  Dfs__Empty e = DFS__EMPTY__INIT;
  CU_ASSERT(dfs_conn_call(k1, DFS_M_PING, &e.base, NULL, NULL, 2000) < 0);
  dfs_rpc_client_give(c, k1, false);
  dfs_rpc_client_give(c, k2, false);
  dfs_rpc_server_stop(s); /* idempotent */
  dfs_rpc_server_destroy(s);
  /* Nobody listens any more. */
  CU_ASSERT_EQUAL(mkdirs_at(c, a, "/x", 0, 2000, NULL), DFS_ECONNREFUSED);
  dfs_rpc_client_destroy(c);
}

static int stream_call(dfs_conn *k, int64_t offset, uint8_t *data) {
  Dfs__ReadBlockRequest r = DFS__READ_BLOCK_REQUEST__INIT;
  Dfs__Block b = DFS__BLOCK__INIT;
  r.block = &b;
  r.offset = (uint64_t)offset;
  r.length = STREAM_BYTES;
  ProtobufCMessage *resp = NULL;
  int rc = dfs_conn_call(k, DFS_M_READ_BLOCK, &r.base, &dfs__read_block_response__descriptor,
                         &resp, 5000);
  if (rc) return rc;
  int64_t len = (int64_t)((Dfs__ReadBlockResponse *)resp)->replica_length;
  protobuf_c_message_free_unpacked(resp, NULL);
  if (len != STREAM_BYTES) return -99999;
  if (offset == 1) return 0;
  rc = dfs_read_full(dfs_conn_fd(k), data, STREAM_BYTES, dfs_now_ms() + 5000);
  if (rc) return rc;
  return dfs_write_full(dfs_conn_fd(k), "ACK!", 4, dfs_now_ms() + 5000);
}

static void test_stream(void) {
  dfs_rpc_client *c = new_client(5000);
  peers_reset();
  dfs_conn *k = NULL;
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, addr, 5000, &k) == 0);
  static uint8_t data[STREAM_BYTES];
  for (int round = 0; round < 3; round++) {
    memset(data, 0, sizeof data);
    CU_ASSERT_EQUAL(stream_call(k, 0, data), 0);
    int ok = 1;
    for (int i = 0; i < STREAM_BYTES; i++)
      if (data[i] != (uint8_t)i) ok = 0;
    CU_ASSERT(ok);
  }
  /* Back in frame mode: a normal call on the same connection. */
  CU_ASSERT_EQUAL(conn_mkdirs(k, "/s", 0, NULL), 0);
  dfs_rpc_client_give(c, k, true);
  CU_ASSERT_EQUAL(mkdirs(c, "/s", 0, NULL), 0);
  CU_ASSERT_EQUAL(peers_count(), 1); /* the pooled one was reused */
  /* A stream handler that fails closes the connection. */
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, addr, 5000, &k) == 0);
  CU_ASSERT_EQUAL(stream_call(k, 1, data), 0);
  Dfs__Empty e = DFS__EMPTY__INIT;
  CU_ASSERT(dfs_conn_call(k, DFS_M_PING, &e.base, NULL, NULL, 5000) < 0);
  dfs_rpc_client_give(c, k, false);
  dfs_rpc_client_destroy(c);
}

static void test_max_connections(void) {
  dfs_rpc_server *s = start_server("127.0.0.1:0", 2, 0);
  CU_ASSERT_FATAL(s != NULL);
  char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", dfs_rpc_server_port(s));
  dfs_rpc_client *c = new_client(3000);
  dfs_conn *k1 = NULL, *k2 = NULL, *k3 = NULL;
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 3000, &k1) == 0);
  CU_ASSERT_FATAL(dfs_rpc_client_take(c, a, 3000, &k2) == 0);
  int rc = dfs_rpc_client_take(c, a, 3000, &k3);
  /* The server's refusal frame, or a reset if the close overtook it. */
  CU_ASSERT(rc == DFS_EAGAIN || rc == DFS_ECONNRESET || rc == -EPIPE);
  if (rc == DFS_EAGAIN)
    CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "test: too many connections (2"));
  fprintf(stderr, "max_connections refusal: %s\n", dfs_err_msg());
  if (rc == 0) dfs_rpc_client_give(c, k3, false);
  /* The two admitted ones still work. */
  CU_ASSERT_EQUAL(conn_mkdirs(k1, "/m", 0, NULL), 0);
  CU_ASSERT_EQUAL(conn_mkdirs(k2, "/m", 0, NULL), 0);
  /* Closing one frees a slot (the server notices asynchronously). */
  dfs_rpc_client_give(c, k1, false);
  int64_t end = dfs_now_ms() + 5000;
  do {
    rc = dfs_rpc_client_take(c, a, 3000, &k3);
    if (rc) usleep(5000);
  } while (rc && dfs_now_ms() < end);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc == 0) {
    CU_ASSERT_EQUAL(conn_mkdirs(k3, "/m", 0, NULL), 0);
    dfs_rpc_client_give(c, k3, false);
  }
  dfs_rpc_client_give(c, k2, false);
  dfs_rpc_client_destroy(c);
  dfs_rpc_server_destroy(s);
}

static void test_method_names(void) {
  CU_ASSERT_STRING_EQUAL(dfs_method_name(DFS_M_CREATE), "CREATE");
  CU_ASSERT_STRING_EQUAL(dfs_method_name(1), "CONNECTION_CONTEXT");
  CU_ASSERT_STRING_EQUAL(dfs_method_name(304), "UPDATE_REPLICA_UNDER_RECOVERY");
  CU_ASSERT_PTR_NULL(dfs_method_name(999));
  CU_ASSERT_PTR_NULL(dfs_method_name(0));
}

static void test_header_codec(void) {
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, DFS_RPC_F_REPLY, 0x1234,
                          0x0102030405060708ull, -1003, 77};
  uint8_t b[DFS_RPC_HDR_LEN];
  dfs_rpc_hdr_encode(&h, b);
  static const uint8_t want[DFS_RPC_HDR_LEN] = {0x44, 0x46, 0x53, 0x31, 1, 1, 0x12, 0x34,
                                                1, 2, 3, 4, 5, 6, 7, 8,
                                                0xff, 0xff, 0xfc, 0x15, 0, 0, 0, 77};
  CU_ASSERT(memcmp(b, want, sizeof b) == 0);
  struct dfs_rpc_hdr d;
  CU_ASSERT_EQUAL(dfs_rpc_hdr_decode(b, sizeof b, 100, &d), 0);
  CU_ASSERT_EQUAL(d.method, 0x1234);
  CU_ASSERT_EQUAL(d.call_id, 0x0102030405060708ull);
  CU_ASSERT_EQUAL(d.status, -1003);
  CU_ASSERT_EQUAL(d.body_len, 77);
  CU_ASSERT_EQUAL(dfs_rpc_hdr_decode(b, sizeof b, 76, &d), DFS_ETOOBIG);
  CU_ASSERT_EQUAL(dfs_rpc_hdr_decode(b, 23, 100, &d), DFS_EPROTO);
  b[0] ^= 1;
  CU_ASSERT_EQUAL(dfs_rpc_hdr_decode(b, sizeof b, 100, &d), DFS_EPROTO);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("rpc", suite_init, suite_clean);
  CU_add_test(s, "header codec", test_header_codec);
  CU_add_test(s, "method names", test_method_names);
  CU_add_test(s, "round trip", test_round_trip);
  CU_add_test(s, "error replies", test_error_replies);
  CU_add_test(s, "connect refused names method and address", test_connect_refused_message);
  CU_add_test(s, "unknown method keeps the connection", test_unknown_method);
  CU_add_test(s, "malformed body keeps the connection", test_malformed_body);
  CU_add_test(s, "oversized frame", test_oversized_frame);
  CU_add_test(s, "bad header closes", test_bad_header);
  CU_add_test(s, "truncated frames and garbage", test_truncated_frame);
  CU_add_test(s, "deadline", test_deadline);
  CU_add_test(s, "8 threads x 2000 calls", test_concurrency);
  CU_add_test(s, "pool reuse", test_pool_reuse);
  CU_add_test(s, "stale pooled connection", test_stale_pooled_connection);
  CU_add_test(s, "a call in two halves", test_call_in_halves);
  CU_add_test(s, "stop with clients connected", test_stop_with_clients);
  CU_add_test(s, "stream handler", test_stream);
  CU_add_test(s, "max connections", test_max_connections);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  return fails ? 1 : 0;
}
