/*
 * test_dn_nnlink.c - the DataNode's NameNode link against a fake NameNode
 * (an RPC server in this process that records what it is told):
 * registration with retry, the ready file, the first block report,
 * heartbeats, an incremental report right after a block is written,
 * INVALIDATE (replica deleted, DELETED reported), REREGISTER (register and
 * report again), RECOVER (lease recovery committed to the NameNode).
 */
#include <CUnit/Basic.h>
#include <ftw.h>
#include <pthread.h>
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

/* ---- the fake NameNode ------------------------------------------------------ */

struct fake_nn {
  pthread_mutex_t lock;
  int registers, reports, heartbeats;
  char uuid[64], hostname[64];
  size_t last_report_finalized;   /* replicas in the last full report */
  uint64_t ibr_id[64], ibr_len[64];
  int ibr_status[64], n_ibr;
  uint64_t inval_id, inval_gs;    /* sent once with the next heartbeat */
  bool reregister;                /* sent once with the next heartbeat */
  uint64_t recover_id, recover_gs; /* RECOVER sent once with the next heartbeat */
  Dfs__DatanodeInfo *recover_holder;
  int commits;
  uint64_t commit_len, commit_gs;
  size_t commit_uuids;
};

static struct fake_nn nn = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int h_register(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__RegisterDatanodeRequest *r = (const void *)m;
  pthread_mutex_lock(&nn.lock);
  nn.registers++;
  snprintf(nn.uuid, sizeof nn.uuid, "%s", r->id->uuid);
  snprintf(nn.hostname, sizeof nn.hostname, "%s", r->id->hostname ? r->id->hostname : "");
  pthread_mutex_unlock(&nn.lock);
  Dfs__RegisterDatanodeResponse resp = DFS__REGISTER_DATANODE_RESPONSE__INIT;
  resp.id = r->id;
  return dfs_rpc_reply(call, &resp.base);
}

static int h_heartbeat(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  Dfs__HeartbeatResponse resp = DFS__HEARTBEAT_RESPONSE__INIT;
  Dfs__DatanodeCommand c = DFS__DATANODE_COMMAND__INIT, *cv[1] = {&c};
  Dfs__Block b = DFS__BLOCK__INIT, *bv[1] = {&b};
  pthread_mutex_lock(&nn.lock);
  nn.heartbeats++;
  if (nn.reregister) {
    c.action = DFS__COMMAND_ACTION__REREGISTER;
    resp.n_commands = 1;
    nn.reregister = false;
  } else if (nn.recover_id) {
    c.action = DFS__COMMAND_ACTION__RECOVER;
    b.id = nn.recover_id;
    b.genstamp = 1001;
    c.blocks = bv;
    c.n_blocks = 1;
    c.has_new_genstamp = true;
    c.new_genstamp = nn.recover_gs;
    static Dfs__BlockTargets t = DFS__BLOCK_TARGETS__INIT;
    static Dfs__BlockTargets *tv[1] = {&t};
    t.targets = &nn.recover_holder;
    t.n_targets = 1;
    c.targets = tv;
    c.n_targets = 1;
    resp.n_commands = 1;
    nn.recover_id = 0;
  } else if (nn.inval_id) {
    c.action = DFS__COMMAND_ACTION__INVALIDATE;
    b.id = nn.inval_id;
    b.genstamp = nn.inval_gs;
    c.blocks = bv;
    c.n_blocks = 1;
    resp.n_commands = 1;
    nn.inval_id = 0;
  }
  pthread_mutex_unlock(&nn.lock);
  resp.commands = cv;
  return dfs_rpc_reply(call, &resp.base);
}

static int h_report(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__BlockReportRequest *r = (const void *)m;
  pthread_mutex_lock(&nn.lock);
  nn.reports++;
  nn.last_report_finalized = r->n_finalized / 3;
  pthread_mutex_unlock(&nn.lock);
  return 0;
}

static int h_ibr(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__BlockReceivedAndDeletedRequest *r = (const void *)m;
  pthread_mutex_lock(&nn.lock);
  for (size_t i = 0; i < r->n_blocks && nn.n_ibr < 64; i++) {
    nn.ibr_id[nn.n_ibr] = r->blocks[i]->block->id;
    nn.ibr_len[nn.n_ibr] = r->blocks[i]->block->num_bytes;
    nn.ibr_status[nn.n_ibr] = r->blocks[i]->status;
    nn.n_ibr++;
  }
  pthread_mutex_unlock(&nn.lock);
  return 0;
}

static int h_commit(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  const Dfs__CommitBlockSynchronizationRequest *r = (const void *)m;
  pthread_mutex_lock(&nn.lock);
  nn.commits++;
  nn.commit_len = r->new_length;
  nn.commit_gs = r->new_genstamp;
  nn.commit_uuids = r->n_uuids;
  pthread_mutex_unlock(&nn.lock);
  return 0;
}

static const struct dfs_rpc_method nn_methods[] = {
    {DFS_M_COMMIT_BLOCK_SYNCHRONIZATION, "COMMIT_BLOCK_SYNCHRONIZATION",
     &dfs__commit_block_synchronization_request__descriptor, h_commit, 0},
    {DFS_M_REGISTER_DATANODE, "REGISTER_DATANODE", &dfs__register_datanode_request__descriptor,
     h_register, 0},
    {DFS_M_HEARTBEAT, "HEARTBEAT", &dfs__heartbeat_request__descriptor, h_heartbeat, 0},
    {DFS_M_BLOCK_REPORT, "BLOCK_REPORT", &dfs__block_report_request__descriptor, h_report, 0},
    {DFS_M_BLOCK_RECEIVED_AND_DELETED, "BLOCK_RECEIVED_AND_DELETED",
     &dfs__block_received_and_deleted_request__descriptor, h_ibr, 0},
};

/* ---- helpers ---------------------------------------------------------------- */

static char tmp_root[256];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)flag; (void)f;
  return remove(p);
}

/* Poll cond() until true or 10 s pass. */
static bool wait_for(bool (*cond)(void)) {
  int64_t dl = dfs_now_ms() + 10000;
  while (!cond()) {
    if (dfs_now_ms() > dl) return false;
    usleep(10000);
  }
  return true;
}

static bool nn_reported(void) {
  pthread_mutex_lock(&nn.lock);
  bool r = nn.reports >= 1;
  pthread_mutex_unlock(&nn.lock);
  return r;
}

static uint64_t want_id;
static int want_status;
static bool nn_got_ibr(void) {
  bool r = false;
  pthread_mutex_lock(&nn.lock);
  for (int i = 0; i < nn.n_ibr; i++)
    r |= nn.ibr_id[i] == want_id && nn.ibr_status[i] == want_status;
  pthread_mutex_unlock(&nn.lock);
  return r;
}

static bool nn_reregistered(void) {
  pthread_mutex_lock(&nn.lock);
  bool r = nn.registers >= 2 && nn.reports >= 2;
  pthread_mutex_unlock(&nn.lock);
  return r;
}

static const char *ready_path(void) {
  static char p[400];
  snprintf(p, sizeof p, "%s/ready", tmp_root);
  return p;
}

static bool ready_exists(void) { return access(ready_path(), F_OK) == 0; }

/* Write one small block to the node (a one-node pipeline). */
static int write_one(dfs_rpc_client *cl, const char *addr, uint64_t id, const uint8_t *data,
                     uint32_t len, bool last) {
  dfs_conn *c;
  int rc = dfs_rpc_client_take(cl, addr, 5000, &c);
  if (rc < 0) return rc;
  Dfs__Block b = DFS__BLOCK__INIT;
  b.id = id;
  b.genstamp = 1001;
  Dfs__WriteBlockRequest req = DFS__WRITE_BLOCK_REQUEST__INIT;
  req.block = &b;
  req.client_name = "t";
  req.stage = DFS__WRITE_STAGE__STAGE_CREATE;
  Dfs__WriteBlockResponse *resp = NULL;
  rc = dfs_conn_call(c, DFS_M_WRITE_BLOCK, &req.base, &dfs__write_block_response__descriptor,
                     (ProtobufCMessage **)&resp, 5000);
  if (rc == 0) {
    rc = resp->status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
  }
  int fd = dfs_conn_fd(c);
  int npk = last ? 2 : 1; /* without LAST: an hflushed block whose writer dies */
  for (int k = 0; rc == 0 && k < npk; k++) {
    uint8_t hdr[DFS_PACKET_HDR_LEN], sums[64];
    struct dfs_packet_hdr h = {.offset = k ? len / 512 * 512 : 0, .seqno = k,
                               .data_len = k ? 0 : len, .flags = k ? DFS_PKT_LAST : 0};
    dfs_packet_hdr_encode(&h, hdr);
    crc32c_chunks(data, h.data_len, 512, sums);
    struct iovec iov[3] = {{hdr, sizeof hdr}, {sums, dfs_packet_sums_len(h.data_len)},
                           {(void *)data, h.data_len}};
    rc = dfs_writev_full(fd, iov, 3, dfs_now_ms() + 5000);
  }
  for (int k = 0; rc == 0 && k < npk; k++) {
    uint8_t a[16];
    struct dfs_ack ack;
    rc = dfs_read_full(fd, a, 16, dfs_now_ms() + 5000);
    if (rc == 0) rc = dfs_ack_decode(a, 16, &ack);
    if (rc == 0 && (ack.seqno != k || ack.status[0] != 0)) rc = DFS_EPIPELINE;
  }
  dfs_rpc_client_give(cl, c, rc == 0 && last);
  return rc;
}

static bool nn_committed(void) {
  pthread_mutex_lock(&nn.lock);
  bool r = nn.commits >= 1;
  pthread_mutex_unlock(&nn.lock);
  return r;
}

/* ---- the test ------------------------------------------------------------------ */

static void test_nn_link(void) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/data", tmp_root);
  /* The DataNode starts first: it must retry until the NameNode is up. */
  int port = 0;
  int lfd = dfs_tcp_listen("127.0.0.1:0", 1, &port);
  CU_ASSERT_FATAL(lfd >= 0);
  close(lfd);
  char nn_addr[64];
  snprintf(nn_addr, sizeof nn_addr, "127.0.0.1:%d", port);
  dfs_conf *conf = dfs_conf_new();
  CU_ASSERT_FATAL(conf != NULL);
  CU_ASSERT_EQUAL(dfs_conf_set(conf, "dfs.datanode.data.dir", dir, "-D"), 0);
  CU_ASSERT_EQUAL(dfs_conf_set(conf, "dfs.datanode.address", "127.0.0.1:0", "-D"), 0);
  CU_ASSERT_EQUAL(dfs_conf_set(conf, "dfs.datanode.hostname", "dn1", "-D"), 0);
  CU_ASSERT_EQUAL(dfs_conf_set(conf, "dfs.namenode.rpc-address", nn_addr, "-D"), 0);
  CU_ASSERT_EQUAL(dfs_conf_set(conf, "dfs.heartbeat.interval", "1", "-D"), 0);
  CU_ASSERT_EQUAL(dfs_conf_set(conf, "dfs.client.socket-timeout", "5000", "-D"), 0);
  struct dn_opts o = {.ready_file = ready_path()};
  dn_ctx *dn = NULL;
  CU_ASSERT_EQUAL_FATAL(dn_create(conf, &o, &dn), 0);
  CU_ASSERT_EQUAL_FATAL(dn_start(dn), 0);
  usleep(300000);
  CU_ASSERT(!ready_exists());

  dfs_rpc_server *srv = NULL;
  struct dfs_rpc_server_opts so = {.name = "fakenn", .bind_addr = nn_addr, .methods = nn_methods,
                                   .n_methods = sizeof nn_methods / sizeof nn_methods[0],
                                   .max_body = 1 << 26, .max_connections = 64};
  CU_ASSERT_EQUAL_FATAL(dfs_rpc_server_create(&so, &srv), 0);
  CU_ASSERT_EQUAL_FATAL(dfs_rpc_server_start(srv), 0);

  CU_ASSERT(wait_for(ready_exists));
  CU_ASSERT(nn_reported());
  char addr[64], line[80] = "";
  dn_addr(dn, addr, sizeof addr);
  FILE *f = fopen(ready_path(), "r");
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT(fgets(line, sizeof line, f) != NULL);
  fclose(f);
  CU_ASSERT_EQUAL(strncmp(line, addr, strlen(addr)), 0);
  CU_ASSERT_EQUAL(line[strlen(addr)], '\n');
  pthread_mutex_lock(&nn.lock);
  CU_ASSERT_STRING_EQUAL(nn.uuid, dn_storage_uuid(dn->storage));
  CU_ASSERT_STRING_EQUAL(nn.hostname, "dn1");
  CU_ASSERT_EQUAL(nn.last_report_finalized, 0);
  pthread_mutex_unlock(&nn.lock);

  /* A received block is reported at once (well before the next heartbeat). */
  struct dfs_rpc_client_opts co = {.user = "t", .timeout_ms = 5000, .max_body = 1 << 26,
                                   .max_idle_per_addr = 2};
  dfs_rpc_client *cl;
  CU_ASSERT_EQUAL_FATAL(dfs_rpc_client_create(&co, &cl), 0);
  uint8_t data[3000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 13);
  uint64_t id = 1073741900;
  int64_t t0 = dfs_now_ms();
  CU_ASSERT_EQUAL_FATAL(write_one(cl, addr, id, data, sizeof data, true), 0);
  want_id = id;
  want_status = DFS__RECEIVED_DELETED_STATUS__RECEIVED;
  CU_ASSERT(wait_for(nn_got_ibr));
  CU_ASSERT(dfs_now_ms() - t0 < 900);
  pthread_mutex_lock(&nn.lock);
  CU_ASSERT(nn.n_ibr >= 1 && nn.ibr_len[0] == sizeof data);
  pthread_mutex_unlock(&nn.lock);

  /* INVALIDATE: the replica goes, DELETED is reported. */
  pthread_mutex_lock(&nn.lock);
  nn.inval_id = id;
  nn.inval_gs = 1001;
  pthread_mutex_unlock(&nn.lock);
  want_status = DFS__RECEIVED_DELETED_STATUS__DELETED;
  CU_ASSERT(wait_for(nn_got_ibr));
  struct dn_replica r;
  CU_ASSERT_EQUAL(dn_rmap_get(dn->map, id, &r), DFS_ENOTREPLICA);

  /* REREGISTER: register and report again. */
  pthread_mutex_lock(&nn.lock);
  nn.reregister = true;
  pthread_mutex_unlock(&nn.lock);
  CU_ASSERT(wait_for(nn_reregistered));

  /* RECOVER: an hflushed block whose writer died is finalized at its
   * acknowledged length under the new genstamp, and committed. */
  uint64_t rid = 1073741901;
  CU_ASSERT_EQUAL_FATAL(write_one(cl, addr, rid, data, 2000, false), 0);
  Dfs__DatanodeInfo self = DFS__DATANODE_INFO__INIT;
  Dfs__DatanodeId self_id = DFS__DATANODE_ID__INIT;
  char host[64];
  int self_port = 0;
  dfs_addr_split(addr, host, sizeof host, &self_port);
  self_id.uuid = (char *)dn_storage_uuid(dn->storage);
  self_id.host = host;
  self_id.port = (uint32_t)self_port;
  self.id = &self_id;
  pthread_mutex_lock(&nn.lock);
  nn.recover_holder = &self;
  nn.recover_gs = 1002;
  nn.recover_id = rid;
  pthread_mutex_unlock(&nn.lock);
  CU_ASSERT(wait_for(nn_committed));
  pthread_mutex_lock(&nn.lock);
  CU_ASSERT_EQUAL(nn.commit_len, 2000);
  CU_ASSERT_EQUAL(nn.commit_gs, 1002);
  CU_ASSERT_EQUAL(nn.commit_uuids, 1);
  pthread_mutex_unlock(&nn.lock);
  CU_ASSERT_EQUAL(dn_rmap_get(dn->map, rid, &r), 0);
  CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
  CU_ASSERT_EQUAL(r.gs, 1002);

  dfs_rpc_client_destroy(cl);
  dn_destroy(dn);
  dfs_rpc_server_stop(srv);
  dfs_rpc_server_destroy(srv);
  dfs_conf_free(conf);
}

int main(void) {
  dfs_log_init(getenv("DN_TEST_LOG") ? DFS_LOG_DEBUG : DFS_LOG_OFF, 2);
  snprintf(tmp_root, sizeof tmp_root, "/tmp/test_dn_nnlink.XXXXXX");
  if (!mkdtemp(tmp_root)) return 1;
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite su = CU_add_suite("dn_nnlink", NULL, NULL);
  CU_add_test(su, "register, report, heartbeat, IBR, INVALIDATE, REREGISTER, RECOVER",
              test_nn_link);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  nftw(tmp_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return fails ? 1 : 0;
}
