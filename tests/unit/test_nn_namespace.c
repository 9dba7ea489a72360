/*
 * test_nn_namespace.c - namespace operations with HDFS semantics through
 * the in-process namesystem API: mkdirs, create/overwrite, write-once and
 * leases, addBlock/complete with DataNode reports, listings paged after a
 * name, rename and delete rules, setters, permissions, bad paths, and a
 * large directory.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "namesystem.h"
#include "test_nn_util.h"

static char dir[256];
static nn_ns *ns;
static char su[256];
static struct nn_caller root_c, alice, bob;
static struct nn_config cfg;

static void open_ns(void) {
  if (dir[0]) tnn_rmrf(dir);
  tnn_tmpdir(dir, sizeof dir, "ns");
  nn_config_defaults(&cfg);
  cfg.name_dir = dir;
  cfg.ls_limit = 100;
  cfg.safemode_threshold = 0;
  cfg.min_blocksize = 512;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  snprintf(su, sizeof su, "%s", nn_ns_superuser(ns));
  root_c = (struct nn_caller){.user = su, .client_name = "DFSClient_root", .ip = "127.0.0.1"};
  alice = (struct nn_caller){.user = "alice", .client_name = "DFSClient_alice", .ip = "10.0.0.1"};
  bob = (struct nn_caller){.user = "bob", .client_name = "DFSClient_bob", .ip = "10.0.0.2"};
}

static void close_ns(void) {
  nn_ns_close(ns, false);
  ns = NULL;
}

static void test_mkdirs(void) {
  open_ns();
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/b/c"), 0750, true), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/a/b/c"), &st), 0);
  CU_ASSERT(st.is_dir);
  CU_ASSERT_EQUAL(st.perm, 0750);
  CU_ASSERT_STRING_EQUAL(st.owner, su);
  CU_ASSERT_STRING_EQUAL(st.group, "supergroup"); /* the parent's group */
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/a"), &st), 0);
  CU_ASSERT_EQUAL(st.perm, 0750 | 0300); /* intermediate: u+wx */
  CU_ASSERT_EQUAL(st.children, 1);
  /* existing dir: fine; missing parent without create_parent: ENOENT */
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/b"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/x/y"), 0755, false), DFS_ENOENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "mkdirs: /x/y"));
  /* over a file */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/a/f"), 0644, false, false, 1, 0, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/f"), 0755, true), DFS_EEXIST);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/f/g"), 0755, true), DFS_ENOTDIR);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/nope"), &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/"), &st), 0);
  CU_ASSERT(st.is_dir);
  CU_ASSERT_EQUAL(st.perm, 0755);
  close_ns();
}

static void test_create_and_write_once(void) {
  open_ns();
  struct nn_status st;
  bool done = false;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/d/f"), 0644, false, true, 2, 1 << 20, &st), 0);
  CU_ASSERT(st.under_construction);
  CU_ASSERT_EQUAL(st.replication, 2);
  CU_ASSERT_EQUAL(st.blocksize, 1 << 20);
  uint64_t id1 = st.file_id;
  /* second writer */
  struct nn_caller other = root_c;
  other.client_name = "DFSClient_other";
  CU_ASSERT_EQUAL(nn_ns_create(ns, &other, P("/d/f"), 0644, true, true, 0, 0, &st), DFS_ELEASE);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(),
                         "create: /d/f: File is being written by another client (DFSClient_root)");
  /* non-holder can neither add a block nor complete */
  struct nn_located_blocks lb;
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &other, P("/d/f"), NULL, NULL, 0, 0, false, &lb), DFS_ENOLEASE);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &other, P("/d/f"), NULL, 0, &done), DFS_ENOLEASE);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &root_c, P("/d/f"), NULL, 0, &done), 0);
  CU_ASSERT(done);
  /* closed: cannot be written */
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &root_c, P("/d/f"), NULL, NULL, 0, 0, false, &lb), DFS_ENOLEASE);
  /* exists without overwrite */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/d/f"), 0644, false, true, 0, 0, &st), DFS_EEXIST);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "create: /d/f: File exists");
  /* overwrite: a new inode */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/d/f"), 0600, true, true, 0, 0, &st), 0);
  CU_ASSERT_NOT_EQUAL(st.file_id, id1);
  CU_ASSERT_EQUAL(st.replication, 3);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/d"), 0644, true, true, 0, 0, &st), DFS_EISDIR);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/q/f"), 0644, false, false, 0, 0, &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/d/g"), 0644, false, true, 1000, 0, &st), DFS_EINVAL);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/d/g"), 0644, false, true, 1, 1000, &st), DFS_EINVAL);
  close_ns();
}

static void register_dns(int n) {
  char uuid[32], host[32], name[32];
  for (int i = 0; i < n; i++) {
    snprintf(uuid, sizeof uuid, "uuid-%d", i + 1);
    snprintf(host, sizeof host, "10.0.0.%d", i + 1);
    snprintf(name, sizeof name, "dn%d", i + 1);
    struct nn_dn_stats s = {.capacity = 1ull << 40, .remaining = 1ull << 39};
    const char *h;
    CU_ASSERT_EQUAL(nn_ns_register_datanode(ns, uuid, host, 9866, name, host, &s, &h), 0);
  }
}

static void test_blocks_and_complete(void) {
  open_ns();
  struct nn_status st;
  struct nn_located_blocks lb, lb2;
  bool done = true;
  /* no DataNode: a clear error */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &alice, P("/tmp1"), 0644, false, true, 3, 1 << 20, &st),
                  DFS_EACCES); /* alice may not write into / (0755, owned by su) */
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/w"), 0777, true), 0);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &alice, P("/w/f"), 0644, false, true, 3, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &alice, P("/w/f"), NULL, NULL, 0, 0, false, &lb), DFS_ENODATANODE);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "could only be written to 0 of the 1 minReplication nodes"));
  register_dns(3);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &alice, P("/w/f"), NULL, NULL, 0, 0, false, &lb), 0);
  CU_ASSERT_EQUAL(lb.n, 1);
  CU_ASSERT_EQUAL(lb.blocks[0].b.id, (1ull << 30) + 1);
  CU_ASSERT_EQUAL(lb.blocks[0].b.genstamp, 1001);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 3);
  CU_ASSERT_STRING_EQUAL(lb.blocks[0].locs[0].host, "10.0.0.1"); /* alice's machine */
  struct nn_blk b1 = lb.blocks[0].b;
  nn_located_blocks_free(&lb);
  /* the reply was lost and the client asks again: the same block */
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &alice, P("/w/f"), NULL, NULL, 0, 0, false, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].b.id, b1.id);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 3);
  nn_located_blocks_free(&lb);
  /* file length counts the open block once a DataNode reports it */
  b1.num_bytes = 1 << 20;
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, "uuid-1", &b1, 2), 0);
  /* second block commits the first */
  const char *excl[] = {"uuid-2"};
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &alice, P("/w/f"), &b1, excl, 1, 0, false, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].offset, 1 << 20);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 2); /* uuid-2 excluded */
  for (size_t i = 0; i < lb.blocks[0].nlocs; i++)
    CU_ASSERT_STRING_NOT_EQUAL(lb.blocks[0].locs[i].uuid, "uuid-2");
  struct nn_blk b2 = lb.blocks[0].b;
  nn_located_blocks_free(&lb);
  b2.num_bytes = 1000;
  /* complete is false until the last block has a replica */
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &alice, P("/w/f"), &b2, 0, &done), 0);
  CU_ASSERT(!done);
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, "uuid-3", &b2, 2), 0);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &alice, P("/w/f"), &b2, 0, &done), 0);
  CU_ASSERT(done);
  /* retried complete: still true */
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &alice, P("/w/f"), &b2, 0, &done), 0);
  CU_ASSERT(done);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &alice, P("/w/f"), &st), 0);
  CU_ASSERT_EQUAL(st.length, (1 << 20) + 1000);
  CU_ASSERT(!st.under_construction);
  /* locations: nearest first for a reader on 10.0.0.3 */
  struct nn_caller reader = {.user = "bob", .ip = "10.0.0.3"};
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &reader, P("/w/f"), 0, UINT64_MAX, &lb2), 0);
  CU_ASSERT_EQUAL(lb2.n, 2);
  CU_ASSERT_EQUAL(lb2.file_length, (1 << 20) + 1000);
  CU_ASSERT_EQUAL(lb2.blocks[0].nlocs, 1);
  CU_ASSERT_STRING_EQUAL(lb2.blocks[0].locs[0].uuid, "uuid-1");
  CU_ASSERT_STRING_EQUAL(lb2.blocks[1].locs[0].uuid, "uuid-3");
  CU_ASSERT(lb2.has_last && lb2.last_complete);
  nn_located_blocks_free(&lb2);
  /* a range in the second block only */
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &reader, P("/w/f"), (1 << 20) + 10, 5, &lb2), 0);
  CU_ASSERT_EQUAL(lb2.n, 1);
  CU_ASSERT_EQUAL(lb2.blocks[0].offset, 1 << 20);
  nn_located_blocks_free(&lb2);
  /* bob cannot read a 0600 file of alice */
  CU_ASSERT_EQUAL(nn_ns_set_permission(ns, &alice, P("/w/f"), 0600), 0);
  CU_ASSERT_EQUAL(nn_ns_get_block_locations(ns, &reader, P("/w/f"), 0, UINT64_MAX, &lb2), DFS_EACCES);
  /* delete queues invalidations for the replicas */
  bool res;
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &alice, P("/w/f"), false, &res), 0);
  CU_ASSERT(res);
  struct nn_dn_commands cmd;
  struct nn_dn_stats s = {.capacity = 1ull << 40, .remaining = 1ull << 39};
  CU_ASSERT_EQUAL(nn_ns_heartbeat(ns, "uuid-1", &s, &cmd), 0);
  CU_ASSERT(!cmd.reregister);
  CU_ASSERT_EQUAL(cmd.ninvalidate, 1);
  if (cmd.ninvalidate) CU_ASSERT_EQUAL(cmd.invalidate[0], b1.id);
  nn_dn_commands_free(&cmd);
  CU_ASSERT_EQUAL(nn_ns_heartbeat(ns, "uuid-unknown", &s, &cmd), 0);
  CU_ASSERT(cmd.reregister);
  nn_dn_commands_free(&cmd);
  /* a block report with an unknown block gets it invalidated */
  uint64_t rep[3] = {999, 1001, 10};
  CU_ASSERT_EQUAL(nn_ns_block_report(ns, "uuid-2", rep, 1, NULL, 0), 0);
  CU_ASSERT_EQUAL(nn_ns_heartbeat(ns, "uuid-2", &s, &cmd), 0);
  CU_ASSERT_EQUAL(cmd.ninvalidate, 1);
  nn_dn_commands_free(&cmd);
  struct nn_dn_info *infos;
  size_t n;
  CU_ASSERT_EQUAL(nn_ns_datanode_report(ns, 1, &infos, &n), 0);
  CU_ASSERT_EQUAL(n, 3);
  free(infos);
  close_ns();
}

static void test_block_reports_reconcile(void) {
  open_ns();
  struct nn_status st;
  struct nn_located_blocks lb;
  bool done;
  register_dns(3);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/r"), 0644, false, true, 3, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &root_c, P("/r"), NULL, NULL, 0, 0, false, &lb), 0);
  struct nn_blk b = lb.blocks[0].b;
  nn_located_blocks_free(&lb);
  b.num_bytes = 4096;
  uint64_t trip[3] = {b.id, b.genstamp, b.num_bytes};
  for (int i = 1; i <= 3; i++) {
    char uuid[16];
    snprintf(uuid, sizeof uuid, "uuid-%d", i);
    CU_ASSERT_EQUAL(nn_ns_block_report(ns, uuid, trip, 1, NULL, 0), 0);
  }
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &root_c, P("/r"), &b, 0, &done), 0);
  CU_ASSERT(done);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &root_c, P("/r"), 0, UINT64_MAX, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 3);
  nn_located_blocks_free(&lb);
  /* uuid-2 lost the replica: its next full report drops it */
  CU_ASSERT_EQUAL(nn_ns_block_report(ns, "uuid-2", NULL, 0, NULL, 0), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &root_c, P("/r"), 0, UINT64_MAX, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 2);
  for (size_t i = 0; i < lb.blocks[0].nlocs; i++)
    CU_ASSERT_STRING_NOT_EQUAL(lb.blocks[0].locs[i].uuid, "uuid-2");
  nn_located_blocks_free(&lb);
  /* a stale genstamp is invalidated, not counted */
  uint64_t stale[3] = {b.id, b.genstamp - 1, b.num_bytes};
  CU_ASSERT_EQUAL(nn_ns_block_report(ns, "uuid-2", stale, 1, NULL, 0), 0);
  struct nn_dn_commands cmd;
  struct nn_dn_stats s = {.capacity = 1ull << 40, .remaining = 1ull << 39};
  CU_ASSERT_EQUAL(nn_ns_heartbeat(ns, "uuid-2", &s, &cmd), 0);
  CU_ASSERT_EQUAL(cmd.ninvalidate, 1);
  if (cmd.ninvalidate) CU_ASSERT_EQUAL(cmd.invalidate[1], b.genstamp - 1);
  nn_dn_commands_free(&cmd);
  /* a wrong length for a complete block: corrupt, left out of locations */
  uint64_t bad[3] = {b.id, b.genstamp, 1};
  CU_ASSERT_EQUAL(nn_ns_block_report(ns, "uuid-3", bad, 1, NULL, 0), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &root_c, P("/r"), 0, UINT64_MAX, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 1);
  CU_ASSERT_STRING_EQUAL(lb.blocks[0].locs[0].uuid, "uuid-1");
  nn_located_blocks_free(&lb);
  struct nn_dn_info *infos;
  size_t n;
  CU_ASSERT_EQUAL(nn_ns_datanode_report(ns, 2, &infos, &n), 0);
  CU_ASSERT_EQUAL(n, 3);
  for (size_t i = 0; i < n; i++)
    if (strcmp(infos[i].uuid, "uuid-1") == 0) CU_ASSERT_EQUAL(infos[i].num_blocks, 1);
  free(infos);
  close_ns();
}

static void test_listing_paged(void) {
  open_ns();
  char p[64];
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/big"), 0755, true), 0);
  for (int i = 0; i < 250; i++) {
    snprintf(p, sizeof p, "/big/d%03d", (i * 7) % 250); /* out of order */
    CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P(p), 0755, false), 0);
  }
  struct nn_listing l;
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_listing(ns, &root_c, P("/big"), NULL, 0, &l), 0);
  CU_ASSERT_EQUAL(l.n, 100);
  CU_ASSERT_EQUAL(l.remaining, 150);
  CU_ASSERT_STRING_EQUAL(l.entries[0].name, "d000");
  CU_ASSERT_STRING_EQUAL(l.entries[99].name, "d099");
  nn_listing_free(&l);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_listing(ns, &root_c, P("/big"), (const uint8_t *)"d199", 4, &l), 0);
  CU_ASSERT_EQUAL(l.n, 50);
  CU_ASSERT_EQUAL(l.remaining, 0);
  CU_ASSERT_STRING_EQUAL(l.entries[0].name, "d200");
  nn_listing_free(&l);
  /* start_after that is not an entry */
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_listing(ns, &root_c, P("/big"), (const uint8_t *)"d1995", 5, &l), 0);
  CU_ASSERT_STRING_EQUAL(l.entries[0].name, "d200");
  nn_listing_free(&l);
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/big/d000/f"), 0644, false, false, 1, 0, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_listing(ns, &root_c, P("/big/d000/f"), NULL, 0, &l), 0);
  CU_ASSERT(l.is_file);
  CU_ASSERT_EQUAL(l.n, 0);
  nn_listing_free(&l);
  CU_ASSERT_EQUAL(nn_ns_get_listing(ns, &root_c, P("/none"), NULL, 0, &l), DFS_ENOENT);
  close_ns();
}

static void test_rename(void) {
  open_ns();
  struct nn_status st;
  bool r;
  bool done;
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/b"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/a/f"), 0644, false, true, 1, 0, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &root_c, P("/a/f"), NULL, 0, &done), 0);
  uint64_t fid = st.file_id;
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/a/f"), P("/a/b/g"), false, &r), 0);
  CU_ASSERT(r);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/a/b/g"), &st), 0);
  CU_ASSERT_EQUAL(st.file_id, fid);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/a/f"), &st), DFS_ENOENT);
  /* a directory with its content */
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/a/b"), P("/c"), false, &r), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/c/g"), &st), 0);
  /* under itself */
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/c"), P("/c/x"), false, &r), DFS_EINVAL);
  /* missing parent, missing source */
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/c/g"), P("/nope/g"), false, &r), DFS_ENOENT);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/zz"), P("/yy"), false, &r), DFS_ENOENT);
  /* existing destination */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/h"), 0644, false, true, 1, 0, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &root_c, P("/h"), NULL, 0, &done), 0);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/c/g"), P("/h"), false, &r), DFS_EEXIST);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/c/g"), P("/h"), true, &r), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/h"), &st), 0);
  CU_ASSERT_EQUAL(st.file_id, fid);
  /* overwrite: only an empty dir by a dir */
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/e1/x"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/e2"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/e2"), P("/e1"), true, &r), DFS_ENOTEMPTY);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/h"), P("/e2"), true, &r), DFS_EISDIR);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/e1"), P("/e2"), true, &r), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/e2/x"), &st), 0);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &root_c, P("/"), P("/r"), false, &r), DFS_EINVAL);
  close_ns();
}

static void test_delete(void) {
  open_ns();
  struct nn_status st;
  bool r;
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/b/c"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/a/b/f"), 0644, false, true, 1, 0, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P("/a"), false, &r), DFS_ENOTEMPTY);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "delete: /a: Directory is not empty");
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P("/a/b/c"), false, &r), 0);
  CU_ASSERT(r);
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P("/a"), true, &r), 0);
  CU_ASSERT(r);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/a/b/f"), &st), DFS_ENOENT);
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P("/a"), true, &r), 0);
  CU_ASSERT(!r);
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P("/"), true, &r), DFS_EPERM);
  struct nn_fs_stats fs;
  CU_ASSERT_EQUAL(nn_ns_fs_stats(ns, &fs), 0);
  CU_ASSERT_EQUAL(fs.files, 0);
  CU_ASSERT_EQUAL(fs.directories, 1);
  close_ns();
}

static void test_setters_and_summary(void) {
  open_ns();
  struct nn_status st;
  bool r, done;
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/s/t"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/s/t/f"), 0644, false, true, 2, 0, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &root_c, P("/s/t/f"), NULL, 0, &done), 0);
  CU_ASSERT_EQUAL(nn_ns_set_replication(ns, &root_c, P("/s/t/f"), 5, &r), 0);
  CU_ASSERT(r);
  CU_ASSERT_EQUAL(nn_ns_set_replication(ns, &root_c, P("/s/t"), 5, &r), 0);
  CU_ASSERT(!r);
  CU_ASSERT_EQUAL(nn_ns_set_times(ns, &root_c, P("/s/t/f"), 12345, 678), 0);
  CU_ASSERT_EQUAL(nn_ns_set_owner(ns, &root_c, P("/s/t/f"), "alice", "staff"), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/s/t/f"), &st), 0);
  CU_ASSERT_EQUAL(st.replication, 5);
  CU_ASSERT_EQUAL(st.mtime, 12345);
  CU_ASSERT_EQUAL(st.atime, 678);
  CU_ASSERT_STRING_EQUAL(st.owner, "alice");
  CU_ASSERT_STRING_EQUAL(st.group, "staff");
  /* alice owns it now: may chmod, may not give it away */
  CU_ASSERT_EQUAL(nn_ns_set_permission(ns, &alice, P("/s/t/f"), 0600), 0);
  CU_ASSERT_EQUAL(nn_ns_set_owner(ns, &alice, P("/s/t/f"), "bob", NULL), DFS_EACCES);
  CU_ASSERT_EQUAL(nn_ns_set_permission(ns, &bob, P("/s/t/f"), 0777), DFS_EACCES);
  struct nn_content_summary cs;
  CU_ASSERT_EQUAL(nn_ns_content_summary(ns, &root_c, P("/s"), &cs), 0);
  CU_ASSERT_EQUAL(cs.file_count, 1);
  CU_ASSERT_EQUAL(cs.directory_count, 2);
  CU_ASSERT_EQUAL(cs.length, 0);
  close_ns();
}

static void test_permissions(void) {
  open_ns();
  struct nn_status st;
  bool r;
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/home/alice"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_set_owner(ns, &root_c, P("/home/alice"), "alice", NULL), 0);
  CU_ASSERT_EQUAL(nn_ns_set_permission(ns, &root_c, P("/home/alice"), 0700), 0);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &alice, P("/home/alice/x"), 0755, true), 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &alice, P("/home/alice/x"), &st), 0);
  CU_ASSERT_STRING_EQUAL(st.owner, "alice");
  /* bob: no traverse into alice's 0700 home */
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &bob, P("/home/alice/x"), &st), DFS_EACCES);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "user=bob"));
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &bob, P("/home/bob"), 0755, true), DFS_EACCES);
  struct nn_listing l;
  CU_ASSERT_EQUAL(nn_ns_get_listing(ns, &bob, P("/home/alice"), NULL, 0, &l), DFS_EACCES);
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &bob, P("/home/alice"), true, &r), DFS_EACCES);
  /* superuser bypasses */
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/home/alice/x"), &st), 0);
  close_ns();
  /* checks off */
  tnn_rmrf(dir);
  tnn_tmpdir(dir, sizeof dir, "ns");
  cfg.name_dir = dir;
  cfg.permissions = false;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &bob, P("/anything"), 0700, true), 0);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &alice, P("/anything/x"), 0700, true), 0);
  nn_ns_close(ns, false);
  ns = NULL;
}

static void test_bad_paths(void) {
  open_ns();
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("relative"), 0755, true), DFS_EBADPATH);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "mkdirs: "));
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a/../b"), 0755, true), DFS_EBADPATH);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/a//b"), 0755, true), DFS_EBADPATH);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, (const uint8_t *)"/a\0b", 4, 0755, true), DFS_EBADPATH);
  char longname[400];
  memset(longname, 'x', sizeof longname);
  longname[0] = '/';
  longname[sizeof longname - 1] = '\0';
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P(longname), 0644, false, true, 1, 0, &st),
                  DFS_ENAMETOOLONG);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P(""), &st), DFS_EBADPATH);
  /* more than 1000 components (HDFS's maximum path depth) */
  static char deep[2 * 1001 + 1];
  for (int i = 0; i < 1001; i++) memcpy(deep + 2 * i, "/a", 2);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P(deep), 0755, true), DFS_EBADPATH);
  deep[2 * 1000] = '\0';
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P(deep), 0755, true), 0);
  bool r;
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P("/a"), true, &r), 0);
  CU_ASSERT(r);
  close_ns();
}

static void test_large_directory(void) {
  open_ns();
  char p[64];
  struct nn_status st;
  enum { N = 20000 };
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/many"), 0755, true), 0);
  int fails = 0;
  for (int i = 0; i < N; i++) {
    snprintf(p, sizeof p, "/many/f%08d", (int)((i * 7919u) % N));
    if (nn_ns_create(ns, &root_c, P(p), 0644, false, false, 1, 0, &st) != 0) fails++;
  }
  CU_ASSERT_EQUAL(fails, 0);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/many"), &st), 0);
  CU_ASSERT_EQUAL(st.children, N);
  /* the full listing, page by page, is sorted and complete */
  char last[32] = "";
  size_t seen = 0;
  int unsorted = 0;
  for (;;) {
    struct nn_listing l;
    if (nn_ns_get_listing(ns, &root_c, P("/many"), (const uint8_t *)last, strlen(last), &l) != 0) break;
    for (size_t i = 0; i < l.n; i++) {
      if (strcmp(l.entries[i].name, last) <= 0) unsorted++;
      snprintf(last, sizeof last, "%s", l.entries[i].name);
    }
    seen += l.n;
    bool more = l.remaining > 0;
    CU_ASSERT_EQUAL(l.remaining, N - seen);
    nn_listing_free(&l);
    if (!more) break;
  }
  CU_ASSERT_EQUAL(seen, N);
  CU_ASSERT_EQUAL(unsorted, 0);
  /* delete half, then every other lookup still right */
  bool r;
  for (int i = 0; i < N; i += 2) {
    snprintf(p, sizeof p, "/many/f%08d", i);
    CU_ASSERT_EQUAL(nn_ns_delete(ns, &root_c, P(p), false, &r), 0);
  }
  int wrong = 0;
  for (int i = 0; i < N; i++) {
    snprintf(p, sizeof p, "/many/f%08d", i);
    int rc = nn_ns_get_file_info(ns, &root_c, P(p), &st);
    if ((i % 2 == 0) != (rc == DFS_ENOENT)) wrong++;
  }
  CU_ASSERT_EQUAL(wrong, 0);
  close_ns();
}

static void test_safe_mode(void) {
  open_ns();
  bool in;
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &root_c, 1, &in), 0);
  CU_ASSERT(!in);
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &alice, 2, &in), DFS_EACCES);
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &root_c, 2, &in), 0);
  CU_ASSERT(in);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/sm"), 0755, true), DFS_ESAFEMODE);
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &root_c, 3, &in), 0);
  CU_ASSERT(!in);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/sm"), 0755, true), 0);
  close_ns();
}

static void test_lease_recovery(void) {
  open_ns();
  struct nn_status st;
  struct nn_located_blocks lb;
  bool closed = true, done;
  register_dns(3);
  struct nn_caller writer = root_c, other = root_c;
  writer.client_name = "DFSClient_dead_writer";
  other.client_name = "DFSClient_recoverer";
  /* no blocks: closed at once */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &writer, P("/lr0"), 0644, false, true, 3, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_recover_lease(ns, &other, P("/lr0"), &closed), 0);
  CU_ASSERT(closed);
  /* a block being written on three nodes */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &writer, P("/lr"), 0644, false, true, 3, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &writer, P("/lr"), NULL, NULL, 0, 0, false, &lb), 0);
  struct nn_blk b = lb.blocks[0].b;
  nn_located_blocks_free(&lb);
  b.num_bytes = 0;
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, "uuid-1", &b, 1), 0);
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, "uuid-2", &b, 1), 0);
  CU_ASSERT_EQUAL(nn_ns_recover_lease(ns, &other, P("/lr"), &closed), 0);
  CU_ASSERT(!closed);
  /* the old writer is fenced */
  b.num_bytes = 700;
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &writer, P("/lr"), &b, 0, &done), DFS_ENOLEASE);
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &writer, P("/lr"), &b, NULL, 0, 0, false, &lb), DFS_ENOLEASE);
  /* exactly one node got the RECOVER command, naming every holder */
  struct nn_dn_stats s = {.capacity = 1ull << 40, .remaining = 1ull << 39};
  struct nn_dn_commands cmd;
  uint64_t new_gs = 0;
  int primaries = 0;
  for (int i = 1; i <= 3; i++) {
    char uuid[16];
    snprintf(uuid, sizeof uuid, "uuid-%d", i);
    CU_ASSERT_EQUAL(nn_ns_heartbeat(ns, uuid, &s, &cmd), 0);
    if (cmd.nrecover) {
      primaries++;
      CU_ASSERT_EQUAL(cmd.recover[0].b.id, b.id);
      CU_ASSERT_EQUAL(cmd.recover[0].b.genstamp, b.genstamp);
      CU_ASSERT(cmd.recover[0].new_genstamp > b.genstamp);
      CU_ASSERT_EQUAL(cmd.recover[0].nholders, 3); /* pipeline of three */
      new_gs = cmd.recover[0].new_genstamp;
    }
    nn_dn_commands_free(&cmd);
  }
  CU_ASSERT_EQUAL(primaries, 1);
  /* asking again while it runs: still false, no second command */
  CU_ASSERT_EQUAL(nn_ns_recover_lease(ns, &other, P("/lr"), &closed), 0);
  CU_ASSERT(!closed);
  /* the primary reports the agreed replica */
  const char *agreed[] = {"uuid-1", "uuid-2"};
  CU_ASSERT_EQUAL(nn_ns_commit_block_sync(ns, &b, new_gs + 1, 500, agreed, 2, true, false),
                  DFS_EGENSTAMP);
  CU_ASSERT_EQUAL(nn_ns_commit_block_sync(ns, &b, new_gs, 500, agreed, 2, true, false), 0);
  CU_ASSERT_EQUAL(nn_ns_recover_lease(ns, &other, P("/lr"), &closed), 0);
  CU_ASSERT(closed);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/lr"), &st), 0);
  CU_ASSERT(!st.under_construction);
  CU_ASSERT_EQUAL(st.length, 500);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &root_c, P("/lr"), 0, UINT64_MAX, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].b.genstamp, new_gs);
  CU_ASSERT_EQUAL(lb.blocks[0].nlocs, 2);
  nn_located_blocks_free(&lb);
  /* an empty last block nobody holds: dropped, file closed */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &writer, P("/lr2"), 0644, false, true, 1, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &writer, P("/lr2"), NULL, NULL, 0, 0, false, &lb), 0);
  nn_located_blocks_free(&lb);
  nn_ns_close(ns, false); /* restart: replicas and pipelines are gone */
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  CU_ASSERT_EQUAL(nn_ns_recover_lease(ns, &other, P("/lr2"), &closed), 0);
  CU_ASSERT(closed);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/lr2"), &st), 0);
  CU_ASSERT_EQUAL(st.length, 0);
  /* the recovered file survived the restart with its new genstamp */
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/lr"), &st), 0);
  CU_ASSERT(!st.under_construction);
  CU_ASSERT_EQUAL(st.length, 500);
  CU_ASSERT_EQUAL_FATAL(nn_ns_get_block_locations(ns, &root_c, P("/lr"), 0, UINT64_MAX, &lb), 0);
  CU_ASSERT_EQUAL(lb.blocks[0].b.genstamp, new_gs);
  nn_located_blocks_free(&lb);
  close_ns();
}

static void test_startup_safe_mode(void) {
  open_ns();
  struct nn_status st;
  struct nn_located_blocks lb;
  bool done, in;
  register_dns(1);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/s1"), 0644, false, true, 1, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &root_c, P("/s1"), NULL, NULL, 0, 0, false, &lb), 0);
  struct nn_blk b = lb.blocks[0].b;
  nn_located_blocks_free(&lb);
  b.num_bytes = 100;
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, "uuid-1", &b, 2), 0);
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &root_c, P("/s1"), &b, 0, &done), 0);
  /* an open file with an empty last block must not hold safe mode */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &root_c, P("/s2"), 0644, false, true, 1, 1 << 20, &st), 0);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &root_c, P("/s2"), NULL, NULL, 0, 0, false, &lb), 0);
  nn_located_blocks_free(&lb);
  nn_ns_close(ns, false);
  cfg.safemode_threshold = 0.999;
  cfg.safemode_extension_ms = 0;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &root_c, 1, &in), 0);
  CU_ASSERT(in);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/x"), 0755, true), DFS_ESAFEMODE);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "safe mode"));
  /* reads work in safe mode */
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &root_c, P("/s1"), &st), 0);
  nn_ns_tick(ns);
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &root_c, 1, &in), 0);
  CU_ASSERT(in); /* nothing reported yet */
  register_dns(1);
  uint64_t trip[3] = {b.id, b.genstamp, b.num_bytes};
  CU_ASSERT_EQUAL(nn_ns_block_report(ns, "uuid-1", trip, 1, NULL, 0), 0);
  nn_ns_tick(ns);
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &root_c, 1, &in), 0);
  CU_ASSERT(!in);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &root_c, P("/x"), 0755, true), 0);
  cfg.safemode_threshold = 0;
  close_ns();
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("nn_namespace", NULL, NULL);
  CU_add_test(s, "mkdirs", test_mkdirs);
  CU_add_test(s, "create and write-once", test_create_and_write_once);
  CU_add_test(s, "blocks, complete, reports", test_blocks_and_complete);
  CU_add_test(s, "block reports reconcile", test_block_reports_reconcile);
  CU_add_test(s, "listing paged", test_listing_paged);
  CU_add_test(s, "rename", test_rename);
  CU_add_test(s, "delete", test_delete);
  CU_add_test(s, "setters and content summary", test_setters_and_summary);
  CU_add_test(s, "permissions", test_permissions);
  CU_add_test(s, "bad paths", test_bad_paths);
  CU_add_test(s, "large directory", test_large_directory);
  CU_add_test(s, "safe mode", test_safe_mode);
  CU_add_test(s, "start-up safe mode", test_startup_safe_mode);
  CU_add_test(s, "lease recovery", test_lease_recovery);
  int rc = tnn_run();
  if (dir[0]) tnn_rmrf(dir);
  return rc;
}
