/*
 * test_write_once.c - HDFS write-once semantics against real daemons: one
 * writer per file (a second client is refused with a clear message, by
 * create and by addBlock), a closed file cannot be written, create without
 * overwrite on an existing path fails, also through `dfs put`.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfs_methods.h"
#include "errors.h"
#include "minicluster.h"
#include "rpc.h"

static struct minicluster *mc;

/* ADD_BLOCK for `path` as client `client_name`; returns the code. */
static int raw_add_block(const char *path, const char *client_name) {
  struct dfs_rpc_client_opts o = {.user = "root", .client_name = client_name, .timeout_ms = 10000};
  dfs_rpc_client *c;
  if (dfs_rpc_client_create(&o, &c)) return DFS_ENOMEM;
  Dfs__AddBlockRequest r = DFS__ADD_BLOCK_REQUEST__INIT;
  r.path.data = (uint8_t *)path;
  r.path.len = strlen(path);
  r.client_name = (char *)client_name;
  ProtobufCMessage *resp = NULL;
  int rc = dfs_rpc_call(c, mc_nn_addr(mc), DFS_M_ADD_BLOCK, &r.base,
                        &dfs__add_block_response__descriptor, &resp, 0);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  dfs_rpc_client_destroy(c);
  return rc;
}

static void test_single_writer(void) {
  dfs_fs *a, *b;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &a) == 0);
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &b) == 0);
  dfs_file *fa, *fb = NULL;
  CU_ASSERT_FATAL(dfs_create(a, "/open", NULL, &fa) == 0);
  CU_ASSERT_EQUAL(dfs_write(fa, "hello ", 6), 6);
  CU_ASSERT_EQUAL(dfs_hflush(fa), 0);

  /* a second writer: refused, with or without overwrite */
  int rc = dfs_create(b, "/open", NULL, &fb);
  CU_ASSERT_EQUAL(rc, DFS_ELEASE); /* as HDFS: the lease is checked before existence */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "/open"));
  if (rc != DFS_ELEASE) fprintf(stderr, "second writer: %d %s\n", rc, dfs_error_message());
  struct dfs_create_opts ow = {.overwrite = true};
  rc = dfs_create(b, "/open", &ow, &fb);
  CU_ASSERT_EQUAL(rc, DFS_ELEASE);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "/open"));
  /* and it cannot sneak a block in */
  CU_ASSERT_EQUAL(raw_add_block("/open", "DFSClient_intruder"), DFS_ENOLEASE);

  CU_ASSERT_EQUAL(dfs_write(fa, "world", 5), 5);
  CU_ASSERT_EQUAL(dfs_close(fa), 0);

  /* closed: no more blocks, even for its former writer's name */
  CU_ASSERT_EQUAL(raw_add_block("/open", "DFSClient_intruder"), DFS_ENOLEASE);
  /* create without overwrite on an existing closed file */
  rc = dfs_create(b, "/open", NULL, &fb);
  CU_ASSERT_EQUAL(rc, DFS_EEXIST);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "File exists"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "/open"));

  /* content is what the one writer wrote */
  dfs_file *r;
  CU_ASSERT_FATAL(dfs_open(b, "/open", &r) == 0);
  char buf[32] = {0};
  CU_ASSERT_EQUAL(dfs_read(r, buf, sizeof buf), 11);
  CU_ASSERT_STRING_EQUAL(buf, "hello world");
  dfs_close(r);

  /* overwrite=true replaces a closed file */
  CU_ASSERT_EQUAL(dfs_create(b, "/open", &ow, &fb), 0);
  CU_ASSERT_EQUAL(dfs_write(fb, "new", 3), 3);
  CU_ASSERT_EQUAL(dfs_close(fb), 0);
  struct dfs_stat st;
  CU_ASSERT_EQUAL(dfs_stat(a, "/open", &st), 0);
  CU_ASSERT_EQUAL(st.length, 3);
  dfs_stat_clear(&st);
  dfs_disconnect(a);
  dfs_disconnect(b);
}

static void test_cli_put_exists(void) {
  char src[600];
  snprintf(src, sizeof src, "%s/local", mc_dir(mc));
  CU_ASSERT_FATAL(mc_make_file(src, 1000, 3) == 0);
  char *out, *err;
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "put", src, "/x", NULL), 0);
  free(out), free(err);
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "put", src, "/x", NULL), 1);
  CU_ASSERT_STRING_EQUAL(err, "put: /x: File exists\n");
  free(out), free(err);
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "put", "-f", src, "/x", NULL), 0);
  free(out), free(err);
}

int main(void) {
  if (mc_start(NULL, &mc) != 0) return 1;
  static const struct mc_test tests[] = {{"one writer per file; closed files are final", test_single_writer},
                                         {"dfs put on an existing path", test_cli_put_exists},
                                         {NULL, NULL}};
  int rc = mc_run_tests("write_once", tests);
  mc_stop(mc);
  return rc;
}
