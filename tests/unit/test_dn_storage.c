/*
 * test_dn_storage.c - DataNode storage layer: volumes and VERSION, the
 * replica map, rbw replicas (write, hflush rewrite, finalize), the meta
 * file parser, and the start-up scan (finalized, rbw with a torn tail,
 * corrupt meta files).
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "errors.h"
#include "log.h"
#include "meta.h"
#include "replica.h"
#include "replica_map.h"
#include "storage.h"

static char tmp_root[256];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)flag; (void)f;
  return remove(p);
}

static void rm_rf(const char *p) { nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static int suite_init(void) {
  snprintf(tmp_root, sizeof tmp_root, "/tmp/test_dn_storage.XXXXXX");
  return mkdtemp(tmp_root) ? 0 : -1;
}

static int suite_clean(void) {
  rm_rf(tmp_root);
  return 0;
}

/* A fresh directory under tmp_root. */
static void fresh_dir(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmp_root, name);
  rm_rf(buf);
}

static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static off_t file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? st.st_size : -1;
}

static void fill(uint8_t *b, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

/* Write data[0..len) at off into w, with correct checksums. */
static int write_pkt(struct dn_rbw *w, uint64_t off, const uint8_t *data, uint32_t len) {
  uint8_t sums[4 * 256];
  crc32c_chunks(data, len, 512, sums);
  return dn_rbw_write(w, off, data, len, sums);
}

static void test_volume_layout(void) {
  char d1[300], d2[300], list[1000], p[800];
  fresh_dir(d1, sizeof d1, "lay1");
  fresh_dir(d2, sizeof d2, "lay2");
  snprintf(list, sizeof list, "%s, %s/", d1, d2);
  dn_storage *s = NULL;
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(list, 0, &s), 0);
  CU_ASSERT_EQUAL(dn_storage_num_volumes(s), 2);
  CU_ASSERT_EQUAL(strlen(dn_storage_uuid(s)), DN_UUID_LEN);
  char uuid[DN_UUID_LEN + 1];
  strcpy(uuid, dn_storage_uuid(s));
  snprintf(p, sizeof p, "%s/current/VERSION", d1);
  CU_ASSERT(exists(p));
  snprintf(p, sizeof p, "%s/current/rbw", d2);
  CU_ASSERT(exists(p));
  snprintf(p, sizeof p, "%s/current/finalized", d2);
  CU_ASSERT(exists(p));
  CU_ASSERT_EQUAL(dn_storage_path(s, 1, DN_REPLICA_FINALIZED, 0x12345678ULL, 1001, true, p,
                                  sizeof p), 0);
  char want[800];
  snprintf(want, sizeof want, "%s/current/finalized/subdir%u/subdir%u/blk_%llu_1001.meta", d2,
           (0x12345678u >> 16) & 0x1f, (0x12345678u >> 8) & 0x1f, 0x12345678ULL);
  CU_ASSERT_STRING_EQUAL(p, want);
  uint64_t cap = 0, rem = 0;
  uint32_t failed = 9;
  dn_storage_stats(s, &cap, &rem, &failed);
  CU_ASSERT(cap > 0 && rem > 0 && rem <= cap);
  CU_ASSERT_EQUAL(failed, 0);
  /* Round-robin, and a failed volume gets nothing. */
  int a = dn_storage_choose(s, 1), b = dn_storage_choose(s, 1);
  CU_ASSERT(a >= 0 && b >= 0 && a != b);
  dn_storage_fail(s, 0, DFS_EIO, "test");
  CU_ASSERT_EQUAL(dn_storage_choose(s, 1), 1);
  CU_ASSERT_EQUAL(dn_storage_choose(s, 1), 1);
  dn_storage_stats(s, NULL, NULL, &failed);
  CU_ASSERT_EQUAL(failed, 1);
  CU_ASSERT_EQUAL(dn_storage_choose(s, (uint64_t)1 << 62), DFS_ENOSPC);
  dn_storage_close(s);

  /* Reopen: same uuid; a third new dir gets it too. */
  char d3[300];
  fresh_dir(d3, sizeof d3, "lay3");
  snprintf(list, sizeof list, "%s,%s,%s", d1, d2, d3);
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(list, 0, &s), 0);
  CU_ASSERT_STRING_EQUAL(dn_storage_uuid(s), uuid);
  dn_storage_close(s);
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(d3, 0, &s), 0);
  CU_ASSERT_STRING_EQUAL(dn_storage_uuid(s), uuid);
  dn_storage_close(s);

  /* Two dirs of different nodes cannot be combined. */
  char d4[300];
  fresh_dir(d4, sizeof d4, "lay4");
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(d4, 0, &s), 0);
  dn_storage_close(s);
  snprintf(list, sizeof list, "%s,%s", d1, d4);
  s = NULL;
  CU_ASSERT_EQUAL(dn_storage_open(list, 0, &s), DFS_ECONFIG);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_EQUAL(dn_storage_open("", 0, &s), DFS_ECONFIG);
}

static void test_replica_map(void) {
  dn_rmap *m;
  CU_ASSERT_EQUAL_FATAL(dn_rmap_create(&m), 0);
  enum { N = 5000 };
  for (uint64_t i = 1; i <= N; i++) {
    struct dn_replica r = {.id = (1ULL << 30) + i, .gs = 1000 + i, .state = DN_REPLICA_FINALIZED,
                           .bytes_on_disk = i, .bytes_acked = i};
    CU_ASSERT_EQUAL(dn_rmap_add(m, &r), 0);
  }
  struct dn_replica r = {.id = (1ULL << 30) + 7, .gs = 1};
  CU_ASSERT_EQUAL(dn_rmap_add(m, &r), DFS_EEXIST);
  uint64_t count, bytes;
  dn_rmap_stats(m, &count, &bytes);
  CU_ASSERT_EQUAL(count, N);
  CU_ASSERT_EQUAL(bytes, (uint64_t)N * (N + 1) / 2);
  /* Remove every third entry; every other must stay reachable. */
  for (uint64_t i = 1; i <= N; i += 3)
    CU_ASSERT_EQUAL(dn_rmap_remove(m, (1ULL << 30) + i, 0, NULL), 0);
  CU_ASSERT_EQUAL(dn_rmap_remove(m, (1ULL << 30) + 1, 0, NULL), DFS_ENOTREPLICA);
  int bad = 0;
  for (uint64_t i = 1; i <= N; i++) {
    struct dn_replica g;
    int rc = dn_rmap_get(m, (1ULL << 30) + i, &g);
    if ((i - 1) % 3 == 0) bad += rc != DFS_ENOTREPLICA;
    else bad += rc != 0 || g.gs != 1000 + i;
  }
  CU_ASSERT_EQUAL(bad, 0);
  /* gs must match for a gs-specific remove. */
  CU_ASSERT_EQUAL(dn_rmap_remove(m, (1ULL << 30) + 2, 5, NULL), DFS_ENOTREPLICA);
  /* advance only touches rbw entries of the right gs. */
  struct dn_replica w = {.id = 42, .gs = 7, .state = DN_REPLICA_RBW};
  CU_ASSERT_EQUAL(dn_rmap_put(m, &w), 0);
  CU_ASSERT_EQUAL(dn_rmap_advance(m, 42, 7, 1000, 600), 0);
  CU_ASSERT_EQUAL(dn_rmap_advance(m, 42, 7, 900, 500), 0); /* never goes back */
  CU_ASSERT_EQUAL(dn_rmap_advance(m, 42, 8, 2000, 0), DFS_ENOTREPLICA);
  struct dn_replica g;
  CU_ASSERT_EQUAL(dn_rmap_get(m, 42, &g), 0);
  CU_ASSERT_EQUAL(g.bytes_on_disk, 1000);
  CU_ASSERT_EQUAL(g.bytes_acked, 600);
  struct dn_replica *snap;
  size_t n;
  CU_ASSERT_EQUAL_FATAL(dn_rmap_snapshot(m, &snap, &n), 0);
  dn_rmap_stats(m, &count, NULL);
  CU_ASSERT_EQUAL(n, count);
  free(snap);
  dn_rmap_destroy(m);
}

static void test_meta_header(void) {
  uint8_t h[DN_META_HDR_LEN];
  dn_meta_hdr_encode(h);
  const uint8_t want[7] = {0, 1, 2, 0, 0, 2, 0};
  CU_ASSERT_EQUAL(memcmp(h, want, 7), 0);
  CU_ASSERT_EQUAL(dn_meta_hdr_decode(h, 7, "x"), 0);
  CU_ASSERT_EQUAL(dn_meta_hdr_decode(h, 6, "x"), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(dn_meta_hdr_decode(NULL, 0, "x"), DFS_ECORRUPT);
  uint8_t b[7];
  memcpy(b, h, 7); b[1] = 2;
  CU_ASSERT_EQUAL(dn_meta_hdr_decode(b, 7, "x"), DFS_ECORRUPT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "version"));
  memcpy(b, h, 7); b[2] = 1;
  CU_ASSERT_EQUAL(dn_meta_hdr_decode(b, 7, "x"), DFS_ECORRUPT);
  memcpy(b, h, 7); b[5] = 4;
  CU_ASSERT_EQUAL(dn_meta_hdr_decode(b, 7, "x"), DFS_ECORRUPT);
  CU_ASSERT_EQUAL(dn_meta_len(0), 7);
  CU_ASSERT_EQUAL(dn_meta_len(1), 11);
  CU_ASSERT_EQUAL(dn_meta_len(512), 11);
  CU_ASSERT_EQUAL(dn_meta_len(513), 15);
}

static void test_verified_prefix(void) {
  uint8_t data[2000], sums[16];
  fill(data, sizeof data, 3);
  crc32c_chunks(data, sizeof data, 512, sums);
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(data, 2000, sums, 16), 2000);
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(data, 2000, sums, 12), 1536); /* missing sum */
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(data, 2000, sums, 13), 1536);
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(data, 1800, sums, 16), 1536); /* torn tail */
  data[700] ^= 1;
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(data, 2000, sums, 16), 512);
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(data, 0, sums, 16), 0);
  CU_ASSERT_EQUAL(dn_meta_verified_prefix(NULL, 0, NULL, 0), 0);
}

static void test_rbw_write_finalize(void) {
  char d[300], p[800];
  fresh_dir(d, sizeof d, "rbw");
  dn_storage *s;
  dn_rmap *m;
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(d, 0, &s), 0);
  CU_ASSERT_EQUAL_FATAL(dn_rmap_create(&m), 0);
  struct dn_rbw w;
  uint64_t id = 1073741825;
  CU_ASSERT_EQUAL_FATAL(dn_rbw_create(s, m, id, 1001, 4096, false, &w), 0);
  struct dn_rbw w2;
  CU_ASSERT_EQUAL(dn_rbw_create(s, m, id, 1001, 4096, false, &w2), DFS_EEXIST);
  uint8_t data[70000];
  fill(data, sizeof data, 1);
  CU_ASSERT_EQUAL(write_pkt(&w, 0, data, 65536), 0);
  /* hflush of a partial chunk, then the rewrite from the chunk start. */
  CU_ASSERT_EQUAL(write_pkt(&w, 65536, data + 65536, 700), 0);
  CU_ASSERT_EQUAL(w.len, 66236);
  CU_ASSERT_EQUAL(write_pkt(&w, 66048, data + 66048, 100), DFS_EINVAL); /* would shrink */
  CU_ASSERT_EQUAL(write_pkt(&w, 65536, data + 65536, 100), DFS_EINVAL); /* not the last chunk */
  CU_ASSERT_EQUAL(write_pkt(&w, 70144, data, 10), DFS_EINVAL);          /* gap */
  CU_ASSERT_EQUAL(write_pkt(&w, 66236, data, 10), DFS_EINVAL);          /* unaligned */
  CU_ASSERT_EQUAL(write_pkt(&w, 66048, data + 66048, 70000 - 66048), 0);
  CU_ASSERT_EQUAL(w.len, 70000);
  struct dn_replica r;
  CU_ASSERT_EQUAL(dn_rmap_get(m, id, &r), 0);
  CU_ASSERT_EQUAL(r.state, DN_REPLICA_RBW);
  CU_ASSERT_EQUAL(r.bytes_on_disk, 70000);
  CU_ASSERT(r.writer);
  dn_storage_path(s, w.vol, DN_REPLICA_RBW, id, 1001, true, p, sizeof p);
  CU_ASSERT_EQUAL(file_size(p), (off_t)dn_meta_len(70000));
  CU_ASSERT_EQUAL(dn_rbw_sync(&w), 0);
  CU_ASSERT_EQUAL_FATAL(dn_rbw_finalize(&w, false), 0);
  CU_ASSERT(!exists(p));
  CU_ASSERT_EQUAL(dn_rmap_get(m, id, &r), 0);
  CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
  CU_ASSERT_EQUAL(r.bytes_acked, 70000);
  CU_ASSERT(!r.writer);
  /* Open and verify the finalized files end to end. */
  int dfd, mfd;
  bool direct = false;
  CU_ASSERT_EQUAL_FATAL(dn_replica_open(s, m, &r, &dfd, &mfd, &direct), 0);
  close(dfd);
  /* Verify through a buffered descriptor (O_DIRECT reads need alignment). */
  dn_storage_path(s, r.vol, DN_REPLICA_FINALIZED, id, 1001, false, p, sizeof p);
  dfd = open(p, O_RDONLY);
  CU_ASSERT_FATAL(dfd >= 0);
  uint64_t good = 0;
  CU_ASSERT_EQUAL(dn_meta_verify_fds(dfd, mfd, 70000, &good, "t"), 0);
  CU_ASSERT_EQUAL(good, 70000);
  uint8_t back[70000];
  CU_ASSERT_EQUAL(pread(dfd, back, sizeof back, 0), 70000);
  CU_ASSERT_EQUAL(memcmp(back, data, sizeof back), 0);
  close(dfd);
  close(mfd);
  /* Delete removes map entry and files. */
  dn_storage_path(s, r.vol, DN_REPLICA_FINALIZED, id, 1001, false, p, sizeof p);
  CU_ASSERT(exists(p));
  CU_ASSERT_EQUAL(dn_replica_delete(s, m, id, 1001, NULL), 0);
  CU_ASSERT(!exists(p));
  CU_ASSERT_EQUAL(dn_rmap_get(m, id, &r), DFS_ENOTREPLICA);
  CU_ASSERT_EQUAL(dn_replica_delete(s, m, id, 1001, NULL), DFS_ENOTREPLICA);
  dn_rmap_destroy(m);
  dn_storage_close(s);
}

static void test_scan(void) {
  char d1[300], d2[300], list[1000], p[800];
  fresh_dir(d1, sizeof d1, "scan1");
  fresh_dir(d2, sizeof d2, "scan2");
  snprintf(list, sizeof list, "%s,%s", d1, d2);
  dn_storage *s;
  dn_rmap *m;
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(list, 0, &s), 0);
  CU_ASSERT_EQUAL_FATAL(dn_rmap_create(&m), 0);
  uint8_t data[5000];
  fill(data, sizeof data, 9);
  /* Four finalized replicas (one per id), one rbw with a torn tail, one
   * finalized whose meta header we corrupt, one whose meta is too short. */
  struct dn_rbw w;
  for (uint64_t i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL_FATAL(dn_rbw_create(s, m, 100 + i * 300, 1001, 1, false, &w), 0);
    CU_ASSERT_EQUAL(write_pkt(&w, 0, data, (uint32_t)(1000 + i)), 0);
    CU_ASSERT_EQUAL(dn_rbw_finalize(&w, false), 0);
  }
  CU_ASSERT_EQUAL_FATAL(dn_rbw_create(s, m, 5000, 1002, 1, false, &w), 0);
  CU_ASSERT_EQUAL(write_pkt(&w, 0, data, 3000), 0);
  int rbw_vol = w.vol;
  dn_rbw_abort(&w);
  /* Tear the tail: bytes 2600.. change, so only 2560 verify. */
  dn_storage_path(s, rbw_vol, DN_REPLICA_RBW, 5000, 1002, false, p, sizeof p);
  int fd = open(p, O_WRONLY);
  CU_ASSERT_EQUAL(pwrite(fd, "XXXXXXXXXXX", 11, 2600), 11);
  close(fd);
  CU_ASSERT_EQUAL_FATAL(dn_rbw_create(s, m, 6000, 1003, 1, false, &w), 0);
  CU_ASSERT_EQUAL(write_pkt(&w, 0, data, 800), 0);
  int bad_vol = w.vol;
  CU_ASSERT_EQUAL(dn_rbw_finalize(&w, false), 0);
  dn_storage_path(s, bad_vol, DN_REPLICA_FINALIZED, 6000, 1003, true, p, sizeof p);
  fd = open(p, O_WRONLY);
  CU_ASSERT_EQUAL(pwrite(fd, "\x00\x09", 2, 0), 2); /* version 9 */
  close(fd);
  CU_ASSERT_EQUAL_FATAL(dn_rbw_create(s, m, 7000, 1004, 1, false, &w), 0);
  CU_ASSERT_EQUAL(write_pkt(&w, 0, data, 1500), 0);
  int short_vol = w.vol;
  CU_ASSERT_EQUAL(dn_rbw_finalize(&w, false), 0);
  dn_storage_path(s, short_vol, DN_REPLICA_FINALIZED, 7000, 1004, true, p, sizeof p);
  CU_ASSERT_EQUAL(truncate(p, 11), 0);
  dn_rmap_destroy(m);
  dn_storage_close(s);

  /* "Restart". */
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(list, 0, &s), 0);
  CU_ASSERT_EQUAL_FATAL(dn_rmap_create(&m), 0);
  CU_ASSERT_EQUAL(dn_storage_scan(s, m), 0);
  uint64_t count;
  dn_rmap_stats(m, &count, NULL);
  CU_ASSERT_EQUAL(count, 5);
  struct dn_replica r;
  for (uint64_t i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(dn_rmap_get(m, 100 + i * 300, &r), 0);
    CU_ASSERT_EQUAL(r.state, DN_REPLICA_FINALIZED);
    CU_ASSERT_EQUAL(r.gs, 1001);
    CU_ASSERT_EQUAL(r.bytes_on_disk, 1000 + i);
  }
  CU_ASSERT_EQUAL(dn_rmap_get(m, 5000, &r), 0);
  CU_ASSERT_EQUAL(r.state, DN_REPLICA_RBW);
  CU_ASSERT_EQUAL(r.gs, 1002);
  CU_ASSERT_EQUAL(r.bytes_acked, 2560);
  CU_ASSERT_EQUAL(r.bytes_on_disk, 2560);
  CU_ASSERT(!r.writer);
  dn_storage_path(s, rbw_vol, DN_REPLICA_RBW, 5000, 1002, false, p, sizeof p);
  CU_ASSERT_EQUAL(file_size(p), 2560);
  dn_storage_path(s, rbw_vol, DN_REPLICA_RBW, 5000, 1002, true, p, sizeof p);
  CU_ASSERT_EQUAL(file_size(p), (off_t)dn_meta_len(2560));
  CU_ASSERT_EQUAL(dn_rmap_get(m, 6000, &r), DFS_ENOTREPLICA); /* corrupt header */
  CU_ASSERT_EQUAL(dn_rmap_get(m, 7000, &r), DFS_ENOTREPLICA); /* meta too short */
  dn_rmap_destroy(m);
  dn_storage_close(s);
}

/* Random packet sizes across staging spills, flushes (hflush) and partial
 * chunk rewrites: the finalized file must hold exactly the bytes written. */
static void test_rbw_staging_random(void) {
  char d[300], p[800];
  fresh_dir(d, sizeof d, "stage");
  dn_storage *s;
  dn_rmap *m;
  CU_ASSERT_EQUAL_FATAL(dn_storage_open(d, 0, &s), 0);
  CU_ASSERT_EQUAL_FATAL(dn_rmap_create(&m), 0);
  size_t total = 5u << 20;
  uint8_t *data = malloc(total), *back = malloc(total);
  fill(data, total, 5);
  struct dn_rbw w;
  CU_ASSERT_EQUAL_FATAL(dn_rbw_create(s, m, 77, 1001, 1, false, &w), 0);
  uint32_t x = 12345;
  uint64_t len = 0;
  int bad = 0;
  while (len < total) {
    x = x * 1103515245u + 12345u;
    uint32_t n = 1 + (x >> 8) % 150000;
    if (n > total - len) n = (uint32_t)(total - len);
    uint64_t off = len;
    if (len % 512) off = len - len % 512; /* a partial chunk is always rewritten */
    uint32_t k = (uint32_t)(len + n - off);
    uint8_t sums[4 * 400];
    for (uint32_t done = 0; done < k;) { /* at most 400 chunks per call */
      uint32_t piece = k - done < 400 * 512 ? k - done : 400 * 512;
      crc32c_chunks(data + off + done, piece, 512, sums);
      bad += dn_rbw_write(&w, off + done, data + off + done, piece, sums) != 0;
      done += piece;
    }
    len += n;
    if ((x & 7) == 1 || (x & 7) == 2) {
      /* a streaming flush, or one a writer waits for (hflush: no O_DIRECT) */
      bad += ((x & 7) == 1 ? dn_rbw_flush(&w) : dn_rbw_flush_waited(&w)) != 0;
      /* After a flush the file holds every byte written. */
      dn_storage_path(s, w.vol, DN_REPLICA_RBW, 77, 1001, false, p, sizeof p);
      bad += file_size(p) != (off_t)len;
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL_FATAL(dn_rbw_finalize(&w, false), 0);
  dn_storage_path(s, w.vol, DN_REPLICA_FINALIZED, 77, 1001, false, p, sizeof p);
  CU_ASSERT_EQUAL(file_size(p), (off_t)total);
  int fd = open(p, O_RDONLY);
  CU_ASSERT_EQUAL(pread(fd, back, total, 0), (ssize_t)total);
  close(fd);
  CU_ASSERT(memcmp(back, data, total) == 0);
  dn_storage_path(s, w.vol, DN_REPLICA_FINALIZED, 77, 1001, true, p, sizeof p);
  int mfd = open(p, O_RDONLY);
  fd = open(p, O_RDONLY);
  char dp[800];
  dn_storage_path(s, w.vol, DN_REPLICA_FINALIZED, 77, 1001, false, dp, sizeof dp);
  close(fd);
  fd = open(dp, O_RDONLY);
  uint64_t good = 0;
  CU_ASSERT_EQUAL(dn_meta_verify_fds(fd, mfd, total, &good, "t"), 0);
  CU_ASSERT_EQUAL(good, total);
  close(fd);
  close(mfd);
  free(data);
  free(back);
  dn_rmap_destroy(m);
  dn_storage_close(s);
}

int main(void) {
  /* The tests provoke failures on purpose; their log lines only on request. */
  dfs_log_init(getenv("DN_TEST_LOG") ? DFS_LOG_DEBUG : DFS_LOG_OFF, 2);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite su = CU_add_suite("dn_storage", suite_init, suite_clean);
  CU_add_test(su, "volume layout, VERSION, choice, failure", test_volume_layout);
  CU_add_test(su, "replica map", test_replica_map);
  CU_add_test(su, "meta header", test_meta_header);
  CU_add_test(su, "verified prefix", test_verified_prefix);
  CU_add_test(su, "rbw write, hflush rewrite, finalize, delete", test_rbw_write_finalize);
  CU_add_test(su, "start-up scan", test_scan);
  CU_add_test(su, "staging: random packets, flushes, rewrites", test_rbw_staging_random);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return fails ? 1 : 0;
}
