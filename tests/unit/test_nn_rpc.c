/*
 * test_nn_rpc.c - the NameNode daemon in process, spoken to over real RPC
 * on loopback: replies, error codes with their messages, the DataNode
 * protocol, absent getFileInfo, bytes paths with a NUL; and a throughput
 * figure (printed, not asserted) for creates and getFileInfo from several
 * client threads.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dfs_methods.h"
#include "errors.h"
#include "namesystem.h"
#include "nn_rpc.h"
#include "rpc.h"
#include "test_nn_util.h"

static char dir[256];
static nn_ns *ns;
static dfs_rpc_server *srv;
static char addr[300];
static char su[256];

static dfs_rpc_client *client(const char *user, const char *cname) {
  struct dfs_rpc_client_opts o = {.user = user, .client_name = cname, .timeout_ms = 10000,
                                  .max_body = 64 << 20, .max_idle_per_addr = 4};
  dfs_rpc_client *c = NULL;
  CU_ASSERT_EQUAL_FATAL(dfs_rpc_client_create(&o, &c), 0);
  return c;
}

#define BYTES(s) ((ProtobufCBinaryData){.len = strlen(s), .data = (uint8_t *)(s)})

static int call(dfs_rpc_client *c, int method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp) {
  return dfs_rpc_call(c, addr, (uint16_t)method, req, d, resp, 0);
}

/* The NameNode's pieces without its configuration file: the namesystem
 * and the RPC server with the NameNode's method table. */
static void start(void) {
  tnn_tmpdir(dir, sizeof dir, "rpc");
  struct nn_config cfg;
  nn_config_defaults(&cfg);
  cfg.name_dir = dir;
  cfg.min_blocksize = 512;
  cfg.safemode_threshold = 0;
  if (nn_ns_open(&cfg, &ns) != 0) {
    fprintf(stderr, "nn_ns_open: %s\n", dfs_err_msg());
    exit(2);
  }
  snprintf(su, sizeof su, "%s", nn_ns_superuser(ns));
  size_t nm;
  const struct dfs_rpc_method *m = nn_rpc_methods(&nm);
  struct dfs_rpc_server_opts o = {.name = "namenode", .bind_addr = "127.0.0.1:0", .methods = m,
                                  .n_methods = nm, .ctx = ns, .max_body = 64 << 20,
                                  .max_connections = 1000};
  if (dfs_rpc_server_create(&o, &srv) != 0 || dfs_rpc_server_start(srv) != 0) {
    fprintf(stderr, "rpc server: %s\n", dfs_err_msg());
    exit(2);
  }
  snprintf(addr, sizeof addr, "127.0.0.1:%d", dfs_rpc_server_port(srv));
}

static void stop(void) {
  dfs_rpc_server_stop(srv);
  dfs_rpc_server_destroy(srv);
  nn_ns_close(ns, true);
  tnn_rmrf(dir);
}

static void test_namespace_over_rpc(void) {
  dfs_rpc_client *c = client(su, "DFSClient_t1");
  ProtobufCMessage *resp = NULL;
  Dfs__MkdirsRequest mk = DFS__MKDIRS_REQUEST__INIT;
  mk.path = BYTES("/r/a");
  mk.permission = 0755;
  CU_ASSERT_EQUAL(call(c, DFS_M_MKDIRS, &mk.base, &dfs__mkdirs_response__descriptor, &resp), 0);
  if (resp) CU_ASSERT(((Dfs__MkdirsResponse *)resp)->result);
  protobuf_c_message_free_unpacked(resp, NULL);
  resp = NULL;
  Dfs__CreateRequest cr = DFS__CREATE_REQUEST__INIT;
  cr.path = BYTES("/r/a/f");
  cr.permission = 0644;
  cr.client_name = "DFSClient_t1";
  cr.has_replication = true;
  cr.replication = 1;
  cr.has_blocksize = true;
  cr.blocksize = 1 << 20;
  CU_ASSERT_EQUAL(call(c, DFS_M_CREATE, &cr.base, &dfs__create_response__descriptor, &resp), 0);
  if (resp) {
    Dfs__CreateResponse *r = (void *)resp;
    CU_ASSERT_EQUAL(r->status->type, DFS__FILE_TYPE__IS_FILE);
    CU_ASSERT(r->status->under_construction);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  /* a second create: the error code and the message travel */
  cr.client_name = "DFSClient_other";
  CU_ASSERT_EQUAL(call(c, DFS_M_CREATE, &cr.base, &dfs__create_response__descriptor, &resp),
                  DFS_ELEASE);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "create: /r/a/f: File is being written by another client (DFSClient_t1)"));
  /* DataNode: register, add a block, report it, complete */
  Dfs__RegisterDatanodeRequest rg = DFS__REGISTER_DATANODE_REQUEST__INIT;
  Dfs__DatanodeId id = DFS__DATANODE_ID__INIT;
  id.uuid = "dn-uuid-1";
  id.host = "0.0.0.0";
  id.port = 50010;
  id.hostname = "dn1";
  rg.id = &id;
  rg.has_capacity = rg.has_remaining = true;
  rg.capacity = 1ull << 40;
  rg.remaining = 1ull << 39;
  CU_ASSERT_EQUAL(call(c, DFS_M_REGISTER_DATANODE, &rg.base,
                       &dfs__register_datanode_response__descriptor, &resp), 0);
  if (resp) {
    CU_ASSERT_STRING_EQUAL(((Dfs__RegisterDatanodeResponse *)resp)->id->host, "127.0.0.1");
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  Dfs__AddBlockRequest ab = DFS__ADD_BLOCK_REQUEST__INIT;
  ab.path = BYTES("/r/a/f");
  ab.client_name = "DFSClient_t1";
  CU_ASSERT_EQUAL(call(c, DFS_M_ADD_BLOCK, &ab.base, &dfs__add_block_response__descriptor, &resp), 0);
  uint64_t bid = 0, gs = 0;
  if (resp) {
    Dfs__AddBlockResponse *r = (void *)resp;
    bid = r->block->block->id;
    gs = r->block->block->genstamp;
    CU_ASSERT_EQUAL(r->block->n_locs, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  Dfs__BlockReceivedAndDeletedRequest br = DFS__BLOCK_RECEIVED_AND_DELETED_REQUEST__INIT;
  Dfs__ReceivedDeletedBlock rdb = DFS__RECEIVED_DELETED_BLOCK__INIT;
  Dfs__ReceivedDeletedBlock *rdp = &rdb;
  Dfs__Block blk = DFS__BLOCK__INIT;
  blk.id = bid;
  blk.genstamp = gs;
  blk.num_bytes = 777;
  rdb.block = &blk;
  rdb.status = DFS__RECEIVED_DELETED_STATUS__RECEIVED;
  br.uuid = "dn-uuid-1";
  br.n_blocks = 1;
  br.blocks = &rdp;
  CU_ASSERT_EQUAL(call(c, DFS_M_BLOCK_RECEIVED_AND_DELETED, &br.base, &dfs__empty__descriptor, &resp), 0);
  protobuf_c_message_free_unpacked(resp, NULL);
  resp = NULL;
  Dfs__CompleteRequest cp = DFS__COMPLETE_REQUEST__INIT;
  cp.path = BYTES("/r/a/f");
  cp.client_name = "DFSClient_t1";
  cp.last = &blk;
  CU_ASSERT_EQUAL(call(c, DFS_M_COMPLETE, &cp.base, &dfs__complete_response__descriptor, &resp), 0);
  if (resp) {
    CU_ASSERT(((Dfs__CompleteResponse *)resp)->result);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  /* getFileInfo: present, absent */
  Dfs__GetFileInfoRequest gi = DFS__GET_FILE_INFO_REQUEST__INIT;
  gi.path = BYTES("/r/a/f");
  CU_ASSERT_EQUAL(call(c, DFS_M_GET_FILE_INFO, &gi.base, &dfs__get_file_info_response__descriptor, &resp), 0);
  if (resp) {
    Dfs__GetFileInfoResponse *r = (void *)resp;
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->status);
    CU_ASSERT_EQUAL(r->status->length, 777);
    CU_ASSERT(!r->status->under_construction);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  gi.path = BYTES("/r/nothing");
  CU_ASSERT_EQUAL(call(c, DFS_M_GET_FILE_INFO, &gi.base, &dfs__get_file_info_response__descriptor, &resp), 0);
  if (resp) {
    CU_ASSERT_PTR_NULL(((Dfs__GetFileInfoResponse *)resp)->status);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  /* a NUL inside a bytes path */
  gi.path.data = (uint8_t *)"/r/a\0x";
  gi.path.len = 6;
  CU_ASSERT_EQUAL(call(c, DFS_M_GET_FILE_INFO, &gi.base, &dfs__get_file_info_response__descriptor, &resp), DFS_EBADPATH);
  /* listing */
  Dfs__GetListingRequest gl = DFS__GET_LISTING_REQUEST__INIT;
  gl.path = BYTES("/r/a");
  CU_ASSERT_EQUAL(call(c, DFS_M_GET_LISTING, &gl.base, &dfs__get_listing_response__descriptor, &resp), 0);
  if (resp) {
    Dfs__GetListingResponse *r = (void *)resp;
    CU_ASSERT_EQUAL(r->n_entries, 1);
    if (r->n_entries) CU_ASSERT_EQUAL(memcmp(r->entries[0]->name.data, "f", 1), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  /* delete of a non-empty dir */
  Dfs__DeleteRequest dl = DFS__DELETE_REQUEST__INIT;
  dl.path = BYTES("/r");
  CU_ASSERT_EQUAL(call(c, DFS_M_DELETE, &dl.base, &dfs__delete_response__descriptor, &resp), DFS_ENOTEMPTY);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "delete: /r: Directory is not empty");
  dfs_rpc_client_destroy(c);
}

struct tp {
  int id, n, errors;
  int method;
};

static void *tp_thread(void *p) {
  struct tp *t = p;
  char cname[64], path[128];
  snprintf(cname, sizeof cname, "DFSClient_tp%d", t->id);
  dfs_rpc_client *c = client(su, cname);
  for (int i = 0; i < t->n; i++) {
    ProtobufCMessage *resp = NULL;
    snprintf(path, sizeof path, "/tp/t%d/f%d", t->id, i);
    int rc;
    if (t->method == DFS_M_CREATE) {
      Dfs__CreateRequest cr = DFS__CREATE_REQUEST__INIT;
      cr.path = BYTES(path);
      cr.permission = 0644;
      cr.client_name = cname;
      rc = call(c, DFS_M_CREATE, &cr.base, &dfs__create_response__descriptor, &resp);
    } else {
      Dfs__GetFileInfoRequest gi = DFS__GET_FILE_INFO_REQUEST__INIT;
      gi.path = BYTES(path);
      rc = call(c, DFS_M_GET_FILE_INFO, &gi.base, &dfs__get_file_info_response__descriptor, &resp);
    }
    if (rc) t->errors++;
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  }
  dfs_rpc_client_destroy(c);
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_tp(int method, int threads, int n, const char *what) {
  pthread_t th[32];
  struct tp a[32];
  double t0 = now_s();
  for (int i = 0; i < threads; i++) {
    a[i] = (struct tp){.id = i, .n = n, .method = method};
    pthread_create(&th[i], NULL, tp_thread, &a[i]);
  }
  int errors = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    errors += a[i].errors;
  }
  double dt = now_s() - t0;
  CU_ASSERT_EQUAL(errors, 0);
  printf("\n    %s over RPC, %d threads: %.0f ops/s ", what, threads, threads * n / dt);
}

static void test_throughput(void) {
  run_tp(DFS_M_CREATE, 8, 2000, "create");
  run_tp(DFS_M_GET_FILE_INFO, 8, 5000, "getFileInfo");
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  start();
  CU_pSuite s = CU_add_suite("nn_rpc", NULL, NULL);
  CU_add_test(s, "namespace over rpc", test_namespace_over_rpc);
  CU_add_test(s, "throughput", test_throughput);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  stop();
  return fails ? 1 : 0;
}
