/* test_rpc_basic.c - the RPC framework end to end in one process: calls,
 * error replies, bad frames, unknown methods, deadlines, concurrency. */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfs_methods.h"
#include "errors.h"
#include "net.h"
#include "rpc.h"

static dfs_rpc_server *srv;
static char addr[64];

/* MKDIRS: result = (permission is odd); path "/exists" -> DFS_EEXIST;
 * path "/sleep" sleeps 1.5 s. */
static int h_mkdirs(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__MkdirsRequest *r = (const Dfs__MkdirsRequest *)m;
  if (r->path.len == 7 && memcmp(r->path.data, "/exists", 7) == 0)
    return dfs_err_set(DFS_EEXIST, "mkdirs: /exists: File exists (user %s)",
                       dfs_rpc_call_user(call));
  if (r->path.len == 6 && memcmp(r->path.data, "/sleep", 6) == 0) usleep(1500000);
  Dfs__MkdirsResponse resp = DFS__MKDIRS_RESPONSE__INIT;
  resp.result = r->permission & 1;
  return dfs_rpc_reply(call, &resp.base);
}

static const struct dfs_rpc_method methods[] = {
    {DFS_M_MKDIRS, "MKDIRS", &dfs__mkdirs_request__descriptor, h_mkdirs, 0},
};

static int setup(void) {
  struct dfs_rpc_server_opts o = {.name = "test", .bind_addr = "127.0.0.1:0",
                                  .methods = methods, .n_methods = 1, .max_body = 1 << 20};
  if (dfs_rpc_server_create(&o, &srv) || dfs_rpc_server_start(srv)) return -1;
  snprintf(addr, sizeof addr, "127.0.0.1:%d", dfs_rpc_server_port(srv));
  return 0;
}

static int teardown(void) {
  dfs_rpc_server_destroy(srv);
  return 0;
}

static dfs_rpc_client *new_client(void) {
  struct dfs_rpc_client_opts o = {.user = "alice", .client_name = "c1", .timeout_ms = 5000};
  dfs_rpc_client *c = NULL;
  dfs_rpc_client_create(&o, &c);
  return c;
}

static int mkdirs(dfs_rpc_client *c, const char *path, uint32_t perm, int timeout, int *result) {
  Dfs__MkdirsRequest r = DFS__MKDIRS_REQUEST__INIT;
  r.path.data = (uint8_t *)path;
  r.path.len = strlen(path);
  r.permission = perm;
  ProtobufCMessage *resp = NULL;
  int rc = dfs_rpc_call(c, addr, DFS_M_MKDIRS, &r.base, &dfs__mkdirs_response__descriptor,
                        &resp, timeout);
  if (rc == 0) {
    *result = ((Dfs__MkdirsResponse *)resp)->result;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  return rc;
}

static void test_round_trip_and_errors(void) {
  dfs_rpc_client *c = new_client();
  int res = -1;
  CU_ASSERT_EQUAL(mkdirs(c, "/a", 0755, 0, &res), 0);
  CU_ASSERT_EQUAL(res, 1);
  CU_ASSERT_EQUAL(mkdirs(c, "/a", 0750, 0, &res), 0);
  CU_ASSERT_EQUAL(res, 0);
  CU_ASSERT_EQUAL(mkdirs(c, "/exists", 0755, 0, &res), DFS_EEXIST);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "mkdirs: /exists: File exists (user alice)");
  /* the connection is still in step after an error reply */
  CU_ASSERT_EQUAL(mkdirs(c, "/b", 1, 0, &res), 0);
  CU_ASSERT_EQUAL(res, 1);
  /* unknown method */
  Dfs__Empty e = DFS__EMPTY__INIT;
  CU_ASSERT_EQUAL(dfs_rpc_call(c, addr, 999, &e.base, NULL, NULL, 0), DFS_EMETHOD);
  CU_ASSERT_EQUAL(mkdirs(c, "/c", 1, 0, &res), 0);
  dfs_rpc_client_destroy(c);
}

static void test_deadline(void) {
  dfs_rpc_client *c = new_client();
  int res;
  int64_t t0 = dfs_now_ms();
  CU_ASSERT_EQUAL(mkdirs(c, "/sleep", 1, 300, &res), DFS_ETIMEDOUT);
  int64_t took = dfs_now_ms() - t0;
  CU_ASSERT(took >= 290 && took < 1400);
  CU_ASSERT_EQUAL(mkdirs(c, "/d", 1, 0, &res), 0);
  dfs_rpc_client_destroy(c);
}

/* Raw socket: send bytes, read one reply frame header; returns its status or
 * a negative transport code. */
static int raw_exchange(const void *bytes, size_t n, int32_t *status) {
  int fd = dfs_tcp_connect(addr, 2000);
  if (fd < 0) return fd;
  int rc = dfs_write_full(fd, bytes, n, dfs_now_ms() + 2000);
  uint8_t hb[DFS_RPC_HDR_LEN];
  if (rc == 0) rc = dfs_read_full(fd, hb, sizeof hb, dfs_now_ms() + 2000);
  if (rc == 0) {
    struct dfs_rpc_hdr h;
    rc = dfs_rpc_hdr_decode(hb, sizeof hb, 1 << 20, &h);
    if (rc == 0) *status = h.status;
  }
  close(fd);
  return rc;
}

static void test_bad_frames(void) {
  int32_t st = 0;
  uint8_t junk[DFS_RPC_HDR_LEN] = "GET / HTTP/1.1\r\n\r\nxxxxx";
  CU_ASSERT_EQUAL(raw_exchange(junk, sizeof junk, &st), 0);
  CU_ASSERT_EQUAL(st, DFS_EPROTO);
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, DFS_M_MKDIRS, 7, 0, 2u << 20};
  uint8_t hb[DFS_RPC_HDR_LEN];
  dfs_rpc_hdr_encode(&h, hb);
  CU_ASSERT_EQUAL(raw_exchange(hb, sizeof hb, &st), 0);
  CU_ASSERT_EQUAL(st, DFS_ETOOBIG);
  /* garbage protobuf body */
  uint8_t frame[DFS_RPC_HDR_LEN + 5] = {0};
  h.body_len = 5;
  dfs_rpc_hdr_encode(&h, frame);
  memset(frame + DFS_RPC_HDR_LEN, 0xff, 5);
  CU_ASSERT_EQUAL(raw_exchange(frame, sizeof frame, &st), 0);
  CU_ASSERT_EQUAL(st, DFS_EPROTO);
  /* truncated frame, then close: the server lives on */
  int fd = dfs_tcp_connect(addr, 2000);
  CU_ASSERT(fd >= 0);
  dfs_write_full(fd, frame, 10, 0);
  close(fd);
  dfs_rpc_client *c = new_client();
  int res;
  CU_ASSERT_EQUAL(mkdirs(c, "/after-garbage", 1, 0, &res), 0);
  dfs_rpc_client_destroy(c);
}

static dfs_rpc_client *shared;
static void *worker(void *arg) {
  long id = (long)arg;
  long bad = 0;
  for (int i = 0; i < 2000; i++) {
    int res = -1;
    uint32_t perm = (uint32_t)(id * 7 + i);
    if (mkdirs(shared, "/w", perm, 0, &res) != 0 || res != (int)(perm & 1)) bad++;
  }
  return (void *)bad;
}

static void test_concurrency(void) {
  shared = new_client();
  pthread_t th[8];
  for (long i = 0; i < 8; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  long bad = 0;
  for (int i = 0; i < 8; i++) {
    void *r;
    pthread_join(th[i], &r);
    bad += (long)r;
  }
  CU_ASSERT_EQUAL(bad, 0);
  dfs_rpc_client_destroy(shared);
}

int main(void) {
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("rpc_basic", setup, teardown);
  CU_add_test(s, "round trip and error replies", test_round_trip_and_errors);
  CU_add_test(s, "deadline", test_deadline);
  CU_add_test(s, "bad frames", test_bad_frames);
  CU_add_test(s, "8 threads x 2000 calls", test_concurrency);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return fails ? 1 : 0;
}
