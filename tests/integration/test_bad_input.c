/*
 * test_bad_input.c - bad input gets a clear error and the daemons keep
 * serving: malformed, truncated and oversized frames and unknown methods
 * sent by hand to a real NameNode and DataNode; bad path names through the
 * raw protocol (relative, "..", empty components, NUL, over-long names),
 * the client API and the `dfs` command; invalid configuration values
 * (which file, which key, why).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfs_methods.h"
#include "errors.h"
#include "minicluster.h"
#include "net.h"
#include "rpc.h"

static struct minicluster *mc;

/* The daemon at addr still answers a proper call. */
static int still_serving(const char *addr) {
  struct dfs_rpc_client_opts o = {.user = "root", .timeout_ms = 5000};
  dfs_rpc_client *c;
  dfs_rpc_client_create(&o, &c);
  Dfs__Empty e = DFS__EMPTY__INIT;
  int rc = dfs_rpc_call(c, addr, DFS_M_PING, &e.base, NULL, NULL, 0);
  dfs_rpc_client_destroy(c);
  return rc == 0;
}

/* Send raw bytes; read back one frame (header and body). Returns the reply
 * status, or 1 if the peer closed without replying. *closed tells whether
 * the connection is gone afterwards: a PING on the same connection must be
 * answered for it to count as open (positive evidence, no waiting out a
 * timeout). */
static int raw(const char *addr, const void *bytes, size_t n, int shut, int *closed) {
  int fd = dfs_tcp_connect(addr, 3000);
  if (fd < 0) return fd;
  dfs_write_full(fd, bytes, n, dfs_now_ms() + 3000);
  if (shut) shutdown(fd, SHUT_WR);
  uint8_t hb[DFS_RPC_HDR_LEN];
  int status = 1;
  if (dfs_read_full(fd, hb, sizeof hb, dfs_now_ms() + 5000) == 0) {
    struct dfs_rpc_hdr h;
    if (dfs_rpc_hdr_decode(hb, sizeof hb, 1u << 30, &h) == 0) {
      status = h.status;
      uint8_t *body = malloc(h.body_len + 1);
      dfs_read_full(fd, body, h.body_len, dfs_now_ms() + 5000);
      free(body);
    }
  }
  if (closed) {
    struct dfs_rpc_hdr ping = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, DFS_M_PING, 99, 0, 0};
    uint8_t pb[DFS_RPC_HDR_LEN];
    dfs_rpc_hdr_encode(&ping, pb);
    *closed = 1;
    if (dfs_write_full(fd, pb, sizeof pb, dfs_now_ms() + 3000) == 0 &&
        dfs_read_full(fd, hb, sizeof hb, dfs_now_ms() + 5000) == 0) {
      struct dfs_rpc_hdr h;
      *closed = !(dfs_rpc_hdr_decode(hb, sizeof hb, 1u << 30, &h) == 0 && h.call_id == 99 &&
                  h.status == 0);
    }
  }
  close(fd);
  return status;
}

/* `method` is one the daemon serves whose request has a required field. */
static void frames_against(const char *addr, uint16_t method) {
  int closed;
  /* bad magic: error reply, then the connection is closed */
  uint8_t junk[64];
  memset(junk, 'A', sizeof junk);
  CU_ASSERT_EQUAL(raw(addr, junk, sizeof junk, 0, &closed), DFS_EPROTO);
  CU_ASSERT(closed);
  /* oversized body length */
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, method, 1, 0, 0xfffffff0u};
  uint8_t hb[DFS_RPC_HDR_LEN];
  dfs_rpc_hdr_encode(&h, hb);
  CU_ASSERT_EQUAL(raw(addr, hb, sizeof hb, 0, &closed), DFS_ETOOBIG);
  CU_ASSERT(closed);
  /* unknown method: error reply, connection stays usable */
  h.method = 4242;
  h.body_len = 0;
  dfs_rpc_hdr_encode(&h, hb);
  CU_ASSERT_EQUAL(raw(addr, hb, sizeof hb, 0, &closed), DFS_EMETHOD);
  CU_ASSERT_FALSE(closed);
  /* garbage protobuf body */
  uint8_t frame[DFS_RPC_HDR_LEN + 7];
  h.method = method;
  h.body_len = 7;
  dfs_rpc_hdr_encode(&h, frame);
  memcpy(frame + DFS_RPC_HDR_LEN, "\xff\xff\xff\xff\xff\xff\xff", 7);
  CU_ASSERT_EQUAL(raw(addr, frame, sizeof frame, 0, &closed), DFS_EPROTO);
  CU_ASSERT_FALSE(closed); /* a malformed body costs the call, not the connection */
  /* a request missing its required fields */
  h.body_len = 0;
  dfs_rpc_hdr_encode(&h, frame);
  CU_ASSERT_EQUAL(raw(addr, frame, DFS_RPC_HDR_LEN, 0, &closed), DFS_EPROTO);
  CU_ASSERT_FALSE(closed);
  /* truncated frame, then the client goes away */
  h.body_len = 100;
  dfs_rpc_hdr_encode(&h, frame);
  CU_ASSERT_EQUAL(raw(addr, frame, DFS_RPC_HDR_LEN + 3, 1, NULL), 1);
  /* half a header */
  CU_ASSERT_EQUAL(raw(addr, frame, 10, 1, NULL), 1);
  CU_ASSERT(still_serving(addr));
}

static void test_frames_namenode(void) { frames_against(mc_nn_addr(mc), DFS_M_GET_FILE_INFO); }
static void test_frames_datanode(void) {
  frames_against(mc_dn_addr(mc, 0), DFS_M_GET_REPLICA_VISIBLE_LENGTH);
}

/* GET_FILE_INFO with raw path bytes; returns the code, message in *msg. */
static int raw_stat(const uint8_t *path, size_t len, char *msg, size_t cap) {
  struct dfs_rpc_client_opts o = {.user = "root", .timeout_ms = 5000};
  dfs_rpc_client *c;
  dfs_rpc_client_create(&o, &c);
  Dfs__GetFileInfoRequest r = DFS__GET_FILE_INFO_REQUEST__INIT;
  r.path.data = (uint8_t *)path;
  r.path.len = len;
  ProtobufCMessage *resp = NULL;
  int rc = dfs_rpc_call(c, mc_nn_addr(mc), DFS_M_GET_FILE_INFO, &r.base,
                        &dfs__get_file_info_response__descriptor, &resp, 0);
  snprintf(msg, cap, "%s", rc ? dfs_err_msg() : "");
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  dfs_rpc_client_destroy(c);
  return rc;
}

static void test_bad_paths(void) {
  char msg[1024];
  struct {
    const char *p;
    size_t len;
    int code;
    const char *needle;
  } cases[] = {
      {"relative/path", 13, DFS_EBADPATH, "relative/path"},
      {"/a/../b", 7, DFS_EBADPATH, "/a/../b"},
      {"/a/./b", 6, DFS_EBADPATH, "/a/./b"},
      {"/a//b", 5, DFS_EBADPATH, "/a//b"},
      {"/a\0b", 4, DFS_EBADPATH, "NUL"},
      {"", 0, DFS_EBADPATH, "empty"},
      {"/a:b", 4, DFS_EBADPATH, "/a:b"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = raw_stat((const uint8_t *)cases[i].p, cases[i].len, msg, sizeof msg);
    CU_ASSERT_EQUAL(rc, cases[i].code);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, cases[i].needle));
    if (rc != cases[i].code || !strstr(msg, cases[i].needle))
      fprintf(stderr, "case %zu: rc=%d msg=%s\n", i, rc, msg);
  }
  char longname[400] = "/";
  memset(longname + 1, 'x', 300);
  longname[301] = '\0';
  CU_ASSERT_EQUAL(raw_stat((const uint8_t *)longname, strlen(longname), msg, sizeof msg),
                  DFS_ENAMETOOLONG);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/xxxxxxxxxxxxxxxx")); /* names the path */
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "255"));               /* and the limit */
  /* through the client library */
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  CU_ASSERT_EQUAL(dfs_mkdirs(fs, "/ok/../bad", 0755), DFS_EBADPATH);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_error_message(), "/ok/../bad"));
  dfs_file *f;
  CU_ASSERT_EQUAL(dfs_create(fs, longname, NULL, &f), DFS_ENAMETOOLONG);
  struct dfs_stat st;
  CU_ASSERT_EQUAL(dfs_stat(fs, "/ok", &st), DFS_ENOENT); /* nothing was created */
  /* through the command (which, like `hdfs dfs`, resolves "." and ".." in
   * its arguments itself, so it is given names no resolution can fix) */
  char *out, *err;
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "mkdir", "-p", "/x:y/z", NULL), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "mkdir: /x:y/z"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "Invalid path name"));
  free(out), free(err);
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "put", "-", longname, NULL), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, longname));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "exceeds the limit 255"));
  if (!strstr(err, "exceeds the limit 255")) fprintf(stderr, "put of a long name: %s\n", err);
  free(out), free(err);
  CU_ASSERT_EQUAL(dfs_stat(fs, "/x:y", &st), DFS_EBADPATH);
  dfs_disconnect(fs);
  CU_ASSERT(still_serving(mc_nn_addr(mc)));
}

static int run_namenode(const char *conf_dir, const char *extra_d, char **err) {
  char bin[512], name[600];
  snprintf(bin, sizeof bin, "%s/namenode", DFS_BIN_DIR);
  snprintf(name, sizeof name, "dfs.namenode.name.dir=%s/badnn", mc_dir(mc));
  char *argv[12] = {bin, "--conf", (char *)conf_dir, "-D", name, "-D",
                    "dfs.namenode.rpc-address=127.0.0.1:0"};
  int n = 7;
  if (extra_d) argv[n++] = "-D", argv[n++] = (char *)extra_d;
  argv[n++] = "--print-config";
  argv[n] = NULL;
  return mc_run(argv, NULL, err);
}

static void write_site(const char *dir, const char *body) {
  mkdir(dir, 0755);
  char p[700];
  snprintf(p, sizeof p, "%s/dfs-site.xml", dir);
  FILE *f = fopen(p, "w");
  fputs(body, f);
  fclose(f);
}

static void test_bad_config(void) {
  char dir[600], *err;
  snprintf(dir, sizeof dir, "%s/badconf", mc_dir(mc));
  write_site(dir, "<configuration></configuration>\n");
  /* sanity: a good configuration is accepted */
  CU_ASSERT_EQUAL(run_namenode(dir, NULL, &err), 0);
  free(err);
  CU_ASSERT_EQUAL(run_namenode(dir, "dfs.replication=abc", &err), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "dfs.replication"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'abc'"));
  free(err);
  write_site(dir, "<configuration><property><name>dfs.blocksize</name><value>1k</value>"
                  "</property></configuration>\n");
  CU_ASSERT_EQUAL(run_namenode(dir, NULL, &err), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "dfs-site.xml"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "dfs.blocksize"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "minimum"));
  free(err);
  write_site(dir, "<configuration><property><name>dfs.no.such.key</name><value>1</value>"
                  "</property></configuration>\n");
  CU_ASSERT_EQUAL(run_namenode(dir, NULL, &err), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "dfs.no.such.key"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown key"));
  free(err);
  write_site(dir, "<configuration><property><name>dfs.replication</name>\n<value>3</value>"
                  "</configuration>\n");
  CU_ASSERT_EQUAL(run_namenode(dir, NULL, &err), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "malformed XML"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "dfs-site.xml"));
  free(err);
  /* the DataNode and the command check the same way */
  char bin[512];
  snprintf(bin, sizeof bin, "%s/datanode", DFS_BIN_DIR);
  char *dn_argv[] = {bin, "--conf", (char *)mc_conf_dir(mc), "-D", "dfs.heartbeat.interval=0",
                     "--print-config", NULL};
  CU_ASSERT_EQUAL(mc_run(dn_argv, NULL, &err), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "datanode: -D: dfs.heartbeat.interval"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "minimum"));
  free(err);
  char *out;
  CU_ASSERT_EQUAL(mc_dfs(mc, &out, &err, "-D", "dfs.replication=abc", "ls", "/", NULL), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "dfs.replication"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'abc'"));
  free(out), free(err);
}

int main(void) {
  if (mc_start(NULL, &mc) != 0) return 1;
  static const struct mc_test tests[] = {{"bad frames to the NameNode", test_frames_namenode},
                                         {"bad frames to a DataNode", test_frames_datanode},
                                         {"bad path names", test_bad_paths},
                                         {"invalid configuration", test_bad_config},
                                         {NULL, NULL}};
  int rc = mc_run_tests("bad_input", tests);
  mc_stop(mc);
  return rc;
}
