/*
 * test_nn_fsimage.c - the image: a save/load round trip reproduces the
 * namespace exactly (checked through a full dump of every inode and
 * block), checkpoints roll the log and purge old images, a corrupt newest
 * image falls back to the older one, and damaged image bytes are refused.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "fsimage.h"
#include "namesystem.h"
#include "test_nn_util.h"

static char dir[256];
static char su[256];
static struct nn_config cfg;

static nn_ns *open_ns(void) {
  nn_ns *ns = NULL;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  snprintf(su, sizeof su, "%s", nn_ns_superuser(ns));
  return ns;
}

static void populate(nn_ns *ns, const struct nn_caller *c, const char *top, int files) {
  char p[128];
  struct nn_status st;
  bool done;
  struct nn_dn_stats s = {.capacity = 1ull << 40, .remaining = 1ull << 39};
  const char *h;
  nn_ns_register_datanode(ns, "u1", "127.0.0.1", 1, "dn1", "127.0.0.1", &s, &h);
  for (int i = 0; i < files; i++) {
    snprintf(p, sizeof p, "/%s/d%d/sub/file-%d", top, i % 7, i);
    CU_ASSERT_EQUAL(nn_ns_create(ns, c, P(p), 0640, false, true, 1 + i % 3, 1 << 20, &st), 0);
    struct nn_located_blocks lb;
    if (i % 4 == 0) continue; /* leave some open, without blocks */
    CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, c, P(p), NULL, NULL, 0, 0, false, &lb), 0);
    struct nn_blk b = lb.blocks[0].b;
    nn_located_blocks_free(&lb);
    b.num_bytes = 1000 + (uint64_t)i;
    /* open with one block: its length is known only from DataNodes (in
     * memory, as in HDFS), so leave it unreported to compare dumps */
    if (i % 4 == 1) continue;
    nn_ns_block_received(ns, "u1", &b, 2);
    CU_ASSERT_EQUAL(nn_ns_complete(ns, c, P(p), &b, 0, &done), 0);
    CU_ASSERT(done);
  }
  snprintf(p, sizeof p, "/%s/empty/dir", top);
  CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, c, P(p), 0700, true), 0);
  CU_ASSERT_EQUAL(nn_ns_set_times(ns, c, P(p), 42, 43), 0);
  CU_ASSERT_EQUAL(nn_ns_set_owner(ns, c, P(p), "alice", "staff"), 0);
}

static void test_round_trip(void) {
  tnn_tmpdir(dir, sizeof dir, "img");
  nn_config_defaults(&cfg);
  cfg.name_dir = dir;
  cfg.safemode_threshold = 0;
  cfg.min_blocksize = 512;
  nn_ns *ns = open_ns();
  struct nn_caller c = {.user = su, .client_name = "DFSClient_img", .ip = "127.0.0.1"};
  populate(ns, &c, "data", 200);
  char *before = dump_all(ns, &c);
  CU_ASSERT_EQUAL(nn_ns_checkpoint(ns), 0);
  CU_ASSERT_EQUAL(nn_ns_txns_since_checkpoint(ns), 0);
  nn_ns_close(ns, false);
  /* the new image alone (the edits it covers are gone or finalised) */
  ns = open_ns();
  char *after = dump_all(ns, &c);
  CU_ASSERT_STRING_EQUAL(after, before);
  /* more changes after the image, then a crash: image + edits */
  bool r;
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &c, P("/data/d3"), true, &r), 0);
  CU_ASSERT_EQUAL(nn_ns_rename(ns, &c, P("/data/d2"), P("/moved"), false, &r), 0);
  populate(ns, &c, "more", 20);
  char *before2 = dump_all(ns, &c);
  nn_ns_close(ns, false);
  ns = open_ns();
  char *after2 = dump_all(ns, &c);
  CU_ASSERT_STRING_EQUAL(after2, before2);

  /* a clean close checkpoints; still equal */
  nn_ns_close(ns, true);
  ns = open_ns();
  char *after3 = dump_all(ns, &c);
  CU_ASSERT_STRING_EQUAL(after3, before2);
  /* block ids continue after the restart */
  struct nn_status st;
  struct nn_located_blocks lb;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &c, P("/new"), 0644, false, true, 1, 1 << 20, &st), 0);
  struct nn_dn_stats s = {.capacity = 1ull << 40, .remaining = 1ull << 39};
  const char *h;
  nn_ns_register_datanode(ns, "u1", "127.0.0.1", 1, "dn1", "127.0.0.1", &s, &h);
  CU_ASSERT_EQUAL_FATAL(nn_ns_add_block(ns, &c, P("/new"), NULL, NULL, 0, 0, false, &lb), 0);
  CU_ASSERT(lb.blocks[0].b.id > (1ull << 30) + 150);
  nn_located_blocks_free(&lb);
  nn_ns_close(ns, false);
  free(before);
  free(after);
  free(before2);
  free(after2);
  free(after3);
}

static int count_prefix(const char *prefix) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

static void test_checkpoints_purge_and_fallback(void) {
  nn_ns *ns = open_ns();
  struct nn_caller c = {.user = su, .client_name = "DFSClient_img", .ip = "127.0.0.1"};
  char p[64];
  for (int k = 0; k < 4; k++) {
    snprintf(p, sizeof p, "/ck%d", k);
    CU_ASSERT_EQUAL(nn_ns_mkdirs(ns, &c, P(p), 0755, true), 0);
    CU_ASSERT_EQUAL(nn_ns_checkpoint(ns), 0);
  }
  CU_ASSERT_EQUAL(count_prefix("fsimage_"), 2);
  char *before = dump_all(ns, &c);
  nn_ns_close(ns, false);
  /* damage the newest image: start-up falls back to the older one and
   * replays the edits since */
  DIR *d = opendir(dir);
  struct dirent *e;
  char newest[300] = "";
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "fsimage_", 8) == 0 && strcmp(e->d_name, newest) > 0)
      snprintf(newest, sizeof newest, "%s", e->d_name);
  closedir(d);
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, newest);
  int fd = open(path, O_RDWR);
  struct stat stt;
  fstat(fd, &stt);
  uint8_t b;
  CU_ASSERT_EQUAL(pread(fd, &b, 1, stt.st_size / 2), 1);
  b ^= 0xff;
  CU_ASSERT_EQUAL(pwrite(fd, &b, 1, stt.st_size / 2), 1);
  close(fd);
  ns = open_ns();
  char *after = dump_all(ns, &c);
  CU_ASSERT_STRING_EQUAL(after, before);
  nn_ns_close(ns, false);
  free(before);
  free(after);
}

static void test_damaged_bytes_refused(void) {
  /* every truncation of a valid image is refused, nothing leaks */
  char path[600];
  DIR *d = opendir(dir);
  struct dirent *e;
  char newest[300] = "";
  while ((e = readdir(d)) != NULL)
    if (strncmp(e->d_name, "fsimage_", 8) == 0 && strcmp(e->d_name, newest) > 0 &&
        !strstr(e->d_name, ".tmp"))
      snprintf(newest, sizeof newest, "%s", e->d_name);
  closedir(d);
  snprintf(path, sizeof path, "%s/%s", dir, newest);
  FILE *f = fopen(path, "rb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  int accepted = 0;
  for (size_t cut = 0; cut < n; cut += 7) {
    nn_intern *s = nn_intern_new();
    struct nn_blockmap bm;
    nn_blockmap_init(&bm);
    nn_inode *root = NULL;
    struct nn_image_counters cnt;
    int rc = nn_fsimage_load_buf(buf, cut, "x", s, &bm, &root, &cnt);
    if (rc == 0) {
      accepted++;
      nn_tree_free(root);
    } else {
      CU_ASSERT_EQUAL(rc, DFS_ECORRUPT);
    }
    nn_blockmap_free(&bm);
    nn_intern_free(s);
  }
  CU_ASSERT_EQUAL(accepted, 0);
  tnn_rmrf(dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("nn_fsimage", NULL, NULL);
  CU_add_test(s, "save/load round trip", test_round_trip);
  CU_add_test(s, "checkpoints purge, corrupt newest falls back", test_checkpoints_purge_and_fallback);
  CU_add_test(s, "damaged bytes refused", test_damaged_bytes_refused);
  return tnn_run();
}
