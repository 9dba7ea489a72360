/*
 * test_hfile_dfs.c - HFiles on a real DFS mini-cluster (3 DataNodes, 4 MiB
 * DFS blocks): a ~20 MiB file streamed through the DFS sink under a
 * temporary name and renamed into place, as a flush does; read back with a
 * full scan and random seeks through dfs_pread and a block cache, and
 * concurrent scanners; a snappy file as well. The files span several DFS
 * blocks, so index, data and trailer reads cross block boundaries.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_cache.h"
#include "errors.h"
#include "file_io.h"
#include "hfile.h"
#include "minicluster.h"

static struct minicluster *mc;

#define PER_ROW 8

struct gcell {
  struct cell c;
  uint8_t row[16], qual[8], val[256];
};

/* Cell i: row i/8, family "cf", qualifiers c0..c3, two versions; values of
 * 150..250 pseudo-random bytes (little to compress). */
static void gen(uint32_t i, struct gcell *g) {
  uint32_t r = i / PER_ROW, k = i % PER_ROW;
  memset(&g->c, 0, sizeof g->c);
  g->c.row_len = (uint32_t)snprintf((char *)g->row, sizeof g->row, "user%09u", r);
  g->c.family = (const uint8_t *)"cf";
  g->c.family_len = 2;
  g->c.qualifier_len = (uint32_t)snprintf((char *)g->qual, sizeof g->qual, "c%u", k / 2);
  g->c.timestamp = 5000 - (int64_t)(k % 2);
  g->c.type = CELL_PUT;
  g->c.seq_id = i + 1;
  uint32_t x = i * 2654435761u + 12345, vlen = 150 + i % 101;
  for (uint32_t j = 0; j < vlen; j++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    g->val[j] = (uint8_t)(j % 4 == 0 ? x : 'a' + j % 7); /* partly compressible */
  }
  g->c.value_len = vlen;
  g->c.row = g->row;
  g->c.qualifier = g->qual;
  g->c.value = g->val;
}

static bool same_cell(const struct cell *a, const struct cell *b) {
  return a && b && cell_compare(a, b) == 0 && a->value_len == b->value_len &&
         memcmp(a->value, b->value, a->value_len) == 0;
}

static int write_hfile(dfs_fs *fs, const char *tmp, const char *final, uint32_t n,
                       enum hfile_compression comp) {
  dfs_file *f;
  int rc = dfs_create(fs, tmp, NULL, &f);
  if (rc) return rc;
  struct hb_out *out;
  CU_ASSERT_FATAL(hb_out_dfs(f, &out) == 0);
  struct hfile_writer *w;
  struct hfile_writer_opts o = {.compression = comp, .name = tmp};
  CU_ASSERT_FATAL(hfile_writer_open(out, &o, &w) == 0);
  struct gcell g;
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    gen(i, &g);
    rc = hfile_writer_append(w, &g.c);
  }
  if (rc == 0) rc = hfile_writer_set_info(w, "MAJOR_COMPACTION", "\0", 1);
  if (rc == 0) {
    rc = hfile_writer_close(w);
  } else {
    hfile_writer_abort(w);
  }
  hb_out_free(out);
  int crc = dfs_close(f);
  if (rc == 0) rc = crc;
  if (rc == 0) rc = dfs_rename(fs, tmp, final, false);
  if (rc) fprintf(stderr, "write %s: %s\n", tmp, dfs_err_msg());
  return rc;
}

static int open_hfile(dfs_fs *fs, const char *path, struct block_cache *cache,
                      struct hfile_reader **r) {
  dfs_file *f;
  int rc = dfs_open(fs, path, &f);
  if (rc) return rc;
  struct hb_in *in;
  rc = hb_in_dfs(f, true, &in);
  if (rc) {
    dfs_close(f);
    return rc;
  }
  rc = hfile_reader_open(in, path, cache, r);
  if (rc) fprintf(stderr, "open %s: %s\n", path, dfs_err_msg());
  return rc;
}

static uint32_t scan_all(struct hfile_reader *r, uint32_t n) {
  struct hfile_scanner *s = hfile_scanner_new(r);
  struct gcell g;
  uint32_t bad = 0, i = 0;
  int rc = hfile_scanner_seek_to_first(s);
  for (; rc == 1; i++, rc = hfile_scanner_next(s)) {
    gen(i, &g);
    if (i >= n || !same_cell(hfile_scanner_peek(s), &g.c)) bad++;
  }
  if (rc < 0) fprintf(stderr, "scan: %s\n", dfs_err_msg());
  hfile_scanner_free(s);
  return bad + (rc != 0) + (i != n);
}

struct seek_arg {
  struct hfile_reader *r;
  uint32_t n, seed, bad;
};

static void *seek_thread(void *p) {
  struct seek_arg *a = p;
  struct hfile_scanner *s = hfile_scanner_new(a->r);
  uint64_t x = a->seed * 0x9E3779B97F4A7C15ull + 3;
  struct gcell g;
  for (int it = 0; it < 1500; it++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint32_t i = (uint32_t)(x % a->n);
    gen(i, &g);
    if (hfile_scanner_seek(s, &g.c) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) a->bad++;
    if (i + 1 < a->n) {
      gen(i + 1, &g);
      if (hfile_scanner_next(s) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) a->bad++;
    }
  }
  hfile_scanner_free(s);
  return NULL;
}

static void check_file(dfs_fs *fs, const char *path, uint32_t n, enum hfile_compression comp,
                       uint64_t min_size) {
  struct dfs_stat st;
  CU_ASSERT_FATAL(dfs_stat(fs, path, &st) == 0);
  fprintf(stderr, "\n    %s: %llu bytes\n", path, (unsigned long long)st.length);
  CU_ASSERT(st.length >= min_size);
  dfs_stat_clear(&st);
  struct dfs_block_loc *locs;
  size_t nlocs;
  CU_ASSERT_FATAL(dfs_block_locations(fs, path, 0, 0, &locs, &nlocs) == 0);
  CU_ASSERT(nlocs >= (min_size >> 22)); /* several DFS blocks */
  dfs_block_locs_free(locs, nlocs);

  struct block_cache *cache;
  CU_ASSERT_FATAL(block_cache_new(8u << 20, 0, &cache) == 0);
  struct hfile_reader *r;
  CU_ASSERT_FATAL(open_hfile(fs, path, cache, &r) == 0);
  const struct hfile_info *hi = hfile_reader_info(r);
  CU_ASSERT_EQUAL(hi->entry_count, n);
  CU_ASSERT_EQUAL(hi->max_seq_id, n);
  CU_ASSERT_EQUAL(hi->compression, comp);
  const uint8_t *v;
  size_t vl;
  CU_ASSERT(hfile_reader_get_info(r, "MAJOR_COMPACTION", &v, &vl) == 0 && vl == 1);
  CU_ASSERT_EQUAL(scan_all(r, n), 0);

  enum { T = 2 };
  pthread_t th[T];
  struct seek_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (struct seek_arg){.r = r, .n = n, .seed = (uint32_t)i + 11};
    pthread_create(&th[i], NULL, seek_thread, &args[i]);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(args[i].bad, 0);
  }
  uint32_t fn = 0;
  for (uint32_t row = 0; row < n / PER_ROW; row += 37) {
    char rk[20];
    int rl = snprintf(rk, sizeof rk, "user%09u", row);
    if (!hfile_reader_may_contain_row(r, (const uint8_t *)rk, (size_t)rl)) fn++;
  }
  CU_ASSERT_EQUAL(fn, 0);
  struct block_cache_stats cs;
  block_cache_stats(cache, &cs);
  fprintf(stderr, "    cache: %llu hits, %llu misses, %llu evictions\n",
          (unsigned long long)cs.hits, (unsigned long long)cs.misses,
          (unsigned long long)cs.evictions);
  CU_ASSERT(cs.hits > 0 && cs.misses > 0);
  hfile_reader_unref(r);
  block_cache_free(cache);
}

static void test_large_uncompressed(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  CU_ASSERT_FATAL(dfs_mkdirs(fs, "/hbase/data/t1/r1/cf/.tmp", 0755) == 0);
  enum { N = 96000 }; /* ~20 MiB */
  CU_ASSERT_FATAL(write_hfile(fs, "/hbase/data/t1/r1/cf/.tmp/f1", "/hbase/data/t1/r1/cf/f1", N,
                              HFILE_COMPRESSION_NONE) == 0);
  check_file(fs, "/hbase/data/t1/r1/cf/f1", N, HFILE_COMPRESSION_NONE, 18u << 20);
  dfs_disconnect(fs);
}

static void test_snappy(void) {
  dfs_fs *fs;
  CU_ASSERT_FATAL(mc_connect(mc, NULL, &fs) == 0);
  CU_ASSERT_FATAL(dfs_mkdirs(fs, "/hbase/data/t1/r1/cf/.tmp", 0755) == 0);
  enum { N = 60000 };
  CU_ASSERT_FATAL(write_hfile(fs, "/hbase/data/t1/r1/cf/.tmp/f2", "/hbase/data/t1/r1/cf/f2", N,
                              HFILE_COMPRESSION_SNAPPY) == 0);
  check_file(fs, "/hbase/data/t1/r1/cf/f2", N, HFILE_COMPRESSION_SNAPPY, 4u << 20);
  dfs_disconnect(fs);
}

int main(void) {
  struct mc_opts o = {.num_datanodes = 3, .blocksize = "4m"};
  if (mc_start(&o, &mc) != 0) return 1;
  static const struct mc_test tests[] = {
      {"20 MiB HFile on the DFS: scan, random seeks, bloom", test_large_uncompressed},
      {"snappy HFile on the DFS", test_snappy},
      {NULL, NULL}};
  int rc = mc_run_tests("hfile_dfs", tests);
  mc_stop(mc);
  return rc;
}
