/*
 * test_hfile.c - the HFile writer and reader on the memory and fd
 * backends: 100k-cell round trips with both compressions, seeks to every
 * Nth key, between keys and before keys, multi-level indexes, file info,
 * the row bloom through the reader, empty files, out-of-order appends,
 * corruption (one flipped byte in a data block, an index block, the
 * trailer, and a sweep flipping every byte of a small file) and truncation,
 * write errors, and concurrent scanners sharing one reader and a small
 * block cache.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block_cache.h"
#include "cell.h"
#include "errors.h"
#include "file_io.h"
#include "hfile.h"

/* ---- a deterministic sorted cell sequence ----
 * Cell i: row i/20, family "a"/"b", qualifiers q0..q4, two versions. */
#define PER_ROW 20

struct gcell {
  struct cell c;
  uint8_t row[16], fam[2], qual[4], val[160];
};

static void gen(uint32_t i, struct gcell *g) {
  uint32_t r = i / PER_ROW, k = i % PER_ROW;
  memset(&g->c, 0, sizeof g->c);
  g->c.row_len = (uint32_t)snprintf((char *)g->row, sizeof g->row, "row%08u", r);
  g->fam[0] = (uint8_t)('a' + k / 10);
  g->c.family_len = 1;
  g->c.qualifier_len = (uint32_t)snprintf((char *)g->qual, sizeof g->qual, "q%u", (k % 10) / 2);
  g->c.timestamp = 1000000 + r - (int64_t)(k % 2); /* newest first */
  g->c.type = CELL_PUT;
  g->c.seq_id = i + 1;
  uint32_t vlen = 8 + (i * 2654435761u) % 120;
  for (uint32_t j = 0; j < vlen; j++) g->val[j] = (uint8_t)("value-"[j % 6] + (j / 6 == i % 7));
  g->c.value_len = vlen;
  g->c.row = g->row;
  g->c.family = g->fam;
  g->c.qualifier = g->qual;
  g->c.value = g->val;
}

static bool same_cell(const struct cell *a, const struct cell *b) {
  return a && b && cell_compare(a, b) == 0 && a->value_len == b->value_len &&
         (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

/* Write cells 0..n-1 into memory; returns a malloc'ed copy of the file. */
static uint8_t *write_file(uint32_t n, const struct hfile_writer_opts *o, size_t *len,
                           bool major) {
  struct hb_out *out;
  CU_ASSERT_FATAL(hb_out_mem(&out) == 0);
  struct hfile_writer *w;
  CU_ASSERT_FATAL(hfile_writer_open(out, o, &w) == 0);
  struct gcell g;
  for (uint32_t i = 0; i < n; i++) {
    gen(i, &g);
    int rc = hfile_writer_append(w, &g.c);
    if (rc) {
      fprintf(stderr, "append %u: %s\n", i, dfs_err_msg());
      CU_FAIL_FATAL("append");
    }
  }
  if (major) CU_ASSERT(hfile_writer_set_info(w, "MAJOR_COMPACTION", "\1", 1) == 0);
  CU_ASSERT_EQUAL(hfile_writer_entries(w), n);
  int rc = hfile_writer_close(w);
  if (rc) fprintf(stderr, "close: %s\n", dfs_err_msg());
  CU_ASSERT_FATAL(rc == 0);
  size_t l;
  const uint8_t *d = hb_out_mem_data(out, &l);
  uint8_t *copy = malloc(l);
  memcpy(copy, d, l);
  *len = l;
  hb_out_free(out);
  return copy;
}

static int open_mem(const uint8_t *buf, size_t len, struct block_cache *c,
                    struct hfile_reader **r) {
  struct hb_in *in;
  CU_ASSERT_FATAL(hb_in_mem(buf, len, false, &in) == 0);
  return hfile_reader_open(in, "/hbase/t/cf/f1", c, r);
}

/* Full scan equals cells 0..n-1. Returns the scan's error code or 0. */
static int full_scan(struct hfile_reader *r, uint32_t n, uint32_t *mismatches) {
  struct hfile_scanner *s = hfile_scanner_new(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct gcell g;
  uint32_t i = 0;
  int rc = hfile_scanner_seek_to_first(s);
  while (rc == 1) {
    gen(i, &g);
    if (i >= n || !same_cell(hfile_scanner_peek(s), &g.c)) (*mismatches)++;
    i++;
    rc = hfile_scanner_next(s);
  }
  hfile_scanner_free(s);
  if (rc == 0 && i != n) (*mismatches)++;
  return rc;
}

static void check_roundtrip(enum hfile_compression comp) {
  enum { N = 100000 };
  struct hfile_writer_opts o = {.compression = comp};
  size_t len;
  uint8_t *buf = write_file(N, &o, &len, true);
  struct block_cache *cache;
  CU_ASSERT_FATAL(block_cache_new(64u << 20, 0, &cache) == 0);
  struct hfile_reader *r;
  int rc = open_mem(buf, len, cache, &r);
  if (rc) fprintf(stderr, "open: %s\n", dfs_err_msg());
  CU_ASSERT_FATAL(rc == 0);

  const struct hfile_info *hi = hfile_reader_info(r);
  CU_ASSERT_EQUAL(hi->entry_count, N);
  CU_ASSERT_EQUAL(hi->max_seq_id, N);
  CU_ASSERT_EQUAL(hi->min_timestamp, 1000000 - 1);
  CU_ASSERT_EQUAL(hi->max_timestamp, 1000000 + (N - 1) / PER_ROW);
  CU_ASSERT_EQUAL(hi->file_size, len);
  CU_ASSERT_EQUAL(hi->compression, comp);
  CU_ASSERT(hi->data_block_count > 100);
  CU_ASSERT_EQUAL(hi->index_levels, 1);
  CU_ASSERT(hi->has_bloom);
  CU_ASSERT_EQUAL(hi->bloom_rows, N / PER_ROW);
  struct gcell g;
  gen(0, &g);
  CU_ASSERT(hi->first_key && cell_compare(hi->first_key, &g.c) == 0);
  CU_ASSERT(hi->first_key && hi->first_key->value_len == 0);
  gen(N - 1, &g);
  CU_ASSERT(hi->last_key && cell_compare(hi->last_key, &g.c) == 0);
  const uint8_t *v;
  size_t vl;
  CU_ASSERT(hfile_reader_get_info(r, "MAJOR_COMPACTION", &v, &vl) == 0 && vl == 1 && v[0] == 1);
  CU_ASSERT_EQUAL(hfile_reader_get_info(r, "nope", &v, &vl), DFS_ENOENT);
  CU_ASSERT(hfile_reader_info_count(r) >= 5);
  if (comp == HFILE_COMPRESSION_SNAPPY)
    CU_ASSERT(hi->uncompressed_data_bytes > len); /* the values compress */

  uint32_t bad = 0;
  CU_ASSERT_EQUAL(full_scan(r, N, &bad), 0);
  CU_ASSERT_EQUAL(bad, 0);
  /* the second scan comes from the cache */
  struct block_cache_stats st1, st2;
  block_cache_stats(cache, &st1);
  CU_ASSERT_EQUAL(full_scan(r, N, &bad), 0);
  block_cache_stats(cache, &st2);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(st2.misses, st1.misses); /* it all fits */
  CU_ASSERT(st2.hits > st1.hits);

  /* seek to every 97th key exactly, and to a key between rows */
  struct hfile_scanner *s = hfile_scanner_new(r);
  uint32_t seek_bad = 0;
  for (uint32_t i = 0; i < N; i += 97) {
    gen(i, &g);
    if (hfile_scanner_seek(s, &g.c) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) seek_bad++;
    /* and the next few follow */
    for (uint32_t j = 1; j < 3 && i + j < N; j++) {
      gen(i + j, &g);
      if (hfile_scanner_next(s) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) seek_bad++;
    }
  }
  CU_ASSERT_EQUAL(seek_bad, 0);
  for (uint32_t row = 0; row + 1 < N / PER_ROW; row += 53) {
    /* "row%08u\0" sorts between row and row+1 */
    uint8_t between[16];
    int bl = snprintf((char *)between, sizeof between, "row%08u", row);
    between[bl] = 0;
    struct cell k;
    hfile_key_first_on_row(&k, between, (uint32_t)bl + 1);
    gen((row + 1) * PER_ROW, &g);
    if (hfile_scanner_seek(s, &k) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) seek_bad++;
    /* the last cell of row */
    gen(row * PER_ROW + PER_ROW - 1, &g);
    if (hfile_scanner_seek_before(s, &k) != 1 || !same_cell(hfile_scanner_peek(s), &g.c))
      seek_bad++;
    /* first on row */
    hfile_key_first_on_row(&k, between, (uint32_t)bl);
    gen(row * PER_ROW, &g);
    if (hfile_scanner_seek(s, &k) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) seek_bad++;
    /* a cell between two versions: same column, ts in between is not
     * possible (adjacent), so use a lower seq id than the cell: sorts after */
    gen(row * PER_ROW + 4, &g);
    struct cell after = g.c;
    after.seq_id = 0;
    gen(row * PER_ROW + 5, &g);
    if (hfile_scanner_seek(s, &after) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) seek_bad++;
  }
  CU_ASSERT_EQUAL(seek_bad, 0);
  /* before the first and after the last */
  struct cell k;
  hfile_key_first_on_row(&k, (const uint8_t *)"a", 1);
  gen(0, &g);
  CU_ASSERT_EQUAL(hfile_scanner_seek(s, &k), 1);
  CU_ASSERT(same_cell(hfile_scanner_peek(s), &g.c));
  CU_ASSERT_EQUAL(hfile_scanner_seek_before(s, &k), 0);
  CU_ASSERT_PTR_NULL(hfile_scanner_peek(s));
  hfile_key_first_on_row(&k, (const uint8_t *)"z", 1);
  CU_ASSERT_EQUAL(hfile_scanner_seek(s, &k), 0);
  CU_ASSERT_PTR_NULL(hfile_scanner_peek(s));
  CU_ASSERT_EQUAL(hfile_scanner_next(s), 0);
  gen(N - 1, &g);
  CU_ASSERT_EQUAL(hfile_scanner_seek_before(s, &k), 1);
  CU_ASSERT(same_cell(hfile_scanner_peek(s), &g.c));
  CU_ASSERT_EQUAL(hfile_scanner_next(s), 0);
  CU_ASSERT_EQUAL(hfile_scanner_seek_to_last(s), 1);
  CU_ASSERT(same_cell(hfile_scanner_peek(s), &g.c));
  hfile_scanner_free(s);

  /* the bloom through the reader: no false negatives, few false positives */
  uint32_t fn = 0, fp = 0;
  for (uint32_t row = 0; row < N / PER_ROW; row++) {
    char rk[16];
    int rl = snprintf(rk, sizeof rk, "row%08u", row);
    if (!hfile_reader_may_contain_row(r, (const uint8_t *)rk, (size_t)rl)) fn++;
    /* absent rows inside the key range */
    rl = snprintf(rk, sizeof rk, "row%08ux", row);
    if (hfile_reader_may_contain_row(r, (const uint8_t *)rk, (size_t)rl)) fp++;
  }
  CU_ASSERT_EQUAL(fn, 0);
  CU_ASSERT(fp < (N / PER_ROW) / 50);
  CU_ASSERT_FALSE(hfile_reader_may_contain_row(r, (const uint8_t *)"zzz", 3)); /* out of range */

  hfile_reader_unref(r);
  block_cache_stats(cache, &st1);
  CU_ASSERT_EQUAL(st1.blocks, 0); /* closing the reader evicted its blocks */
  block_cache_free(cache);
  free(buf);
}

static void test_roundtrip_none(void) { check_roundtrip(HFILE_COMPRESSION_NONE); }
static void test_roundtrip_snappy(void) { check_roundtrip(HFILE_COMPRESSION_SNAPPY); }

/* Tiny blocks and index blocks: a 3+ level index, every seek checked. */
static void test_multilevel_index(void) {
  enum { N = 6000 };
  struct hfile_writer_opts o = {.block_size = 512, .index_block_size = 300,
                                .compression = HFILE_COMPRESSION_SNAPPY};
  size_t len;
  uint8_t *buf = write_file(N, &o, &len, false);
  for (int with_cache = 0; with_cache < 2; with_cache++) {
    struct block_cache *cache = NULL;
    if (with_cache) CU_ASSERT_FATAL(block_cache_new(64u << 10, 4, &cache) == 0);
    struct hfile_reader *r;
    CU_ASSERT_FATAL(open_mem(buf, len, cache, &r) == 0);
    CU_ASSERT(hfile_reader_info(r)->index_levels >= 3);
    uint32_t bad = 0;
    CU_ASSERT_EQUAL(full_scan(r, N, &bad), 0);
    CU_ASSERT_EQUAL(bad, 0);
    struct hfile_scanner *s = hfile_scanner_new(r);
    struct gcell g, p;
    for (uint32_t i = 0; i < N; i += 7) {
      gen(i, &g);
      if (hfile_scanner_seek(s, &g.c) != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) bad++;
      int rc = hfile_scanner_seek_before(s, &g.c);
      if (i == 0) {
        if (rc != 0) bad++;
      } else {
        gen(i - 1, &p);
        if (rc != 1 || !same_cell(hfile_scanner_peek(s), &p.c)) bad++;
      }
    }
    CU_ASSERT_EQUAL(bad, 0);
    hfile_scanner_free(s);
    hfile_reader_unref(r);
    block_cache_free(cache);
  }
  free(buf);
}

/* Cache on write: the writer puts every data block, uncompressed, into the
 * cache under its file id; a reader opened with that id scans the whole
 * file without one miss and reads the same cells, while a reader with a new
 * id misses every block. */
static void test_cache_on_write(void) {
  enum { N = 20000 };
  struct block_cache *cache;
  CU_ASSERT_FATAL(block_cache_new(64u << 20, 0, &cache) == 0);
  uint64_t id = block_cache_new_file_id(cache);
  struct hfile_writer_opts o = {.compression = HFILE_COMPRESSION_SNAPPY, .block_size = 4096,
                                .cache = cache, .cache_file_id = id};
  size_t len;
  uint8_t *buf = write_file(N, &o, &len, false);
  struct block_cache_stats st0;
  block_cache_stats(cache, &st0);

  struct hb_in *in;
  CU_ASSERT_FATAL(hb_in_mem(buf, len, false, &in) == 0);
  struct hfile_reader *r;
  CU_ASSERT_FATAL(hfile_reader_open_as(in, "/hbase/t/cf/cow", cache, id, &r) == 0);
  uint64_t blocks = hfile_reader_info(r)->data_block_count;
  CU_ASSERT(blocks > 50);
  CU_ASSERT_EQUAL(st0.inserts, blocks);
  uint32_t bad = 0;
  CU_ASSERT_EQUAL(full_scan(r, N, &bad), 0);
  CU_ASSERT_EQUAL(bad, 0);
  struct block_cache_stats st1;
  block_cache_stats(cache, &st1);
  CU_ASSERT_EQUAL(st1.misses, st0.misses);
  CU_ASSERT(st1.hits - st0.hits >= blocks);
  hfile_reader_unref(r); /* evicts its blocks */

  struct hfile_reader *r2;
  CU_ASSERT_FATAL(open_mem(buf, len, cache, &r2) == 0);
  CU_ASSERT_EQUAL(full_scan(r2, N, &bad), 0);
  CU_ASSERT_EQUAL(bad, 0);
  struct block_cache_stats st2;
  block_cache_stats(cache, &st2);
  CU_ASSERT(st2.misses - st1.misses >= blocks);
  hfile_reader_unref(r2);
  block_cache_free(cache);
  free(buf);
}

static void test_empty_file(void) {
  size_t len;
  uint8_t *buf = write_file(0, NULL, &len, false);
  struct hfile_reader *r;
  CU_ASSERT_FATAL(open_mem(buf, len, NULL, &r) == 0);
  const struct hfile_info *hi = hfile_reader_info(r);
  CU_ASSERT_EQUAL(hi->entry_count, 0);
  CU_ASSERT_PTR_NULL(hi->first_key);
  CU_ASSERT_PTR_NULL(hi->last_key);
  CU_ASSERT_FALSE(hfile_reader_may_contain_row(r, (const uint8_t *)"a", 1));
  struct hfile_scanner *s = hfile_scanner_new(r);
  struct gcell g;
  gen(0, &g);
  CU_ASSERT_EQUAL(hfile_scanner_seek_to_first(s), 0);
  CU_ASSERT_EQUAL(hfile_scanner_seek(s, &g.c), 0);
  CU_ASSERT_EQUAL(hfile_scanner_seek_before(s, &g.c), 0);
  CU_ASSERT_EQUAL(hfile_scanner_seek_to_last(s), 0);
  CU_ASSERT_EQUAL(hfile_scanner_next(s), 0);
  hfile_scanner_free(s);
  hfile_reader_unref(r);
  free(buf);
}

static void test_order_and_types(void) {
  struct hb_out *out;
  CU_ASSERT_FATAL(hb_out_mem(&out) == 0);
  struct hfile_writer *w;
  CU_ASSERT_FATAL(hfile_writer_open(out, NULL, &w) == 0);
  struct gcell g;
  gen(10, &g);
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), 0);
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), DFS_EINVAL); /* equal */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "equals"));
  gen(5, &g);
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), DFS_EINVAL); /* before */
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "order"));
  gen(11, &g);
  g.c.type = 3; /* not a type */
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), DFS_EINVAL);
  /* a delete marker at the same ts sorts before the put: type desc */
  gen(12, &g);
  g.c.type = CELL_DELETE_COLUMN;
  g.c.value_len = 0;
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), 0);
  g.c.type = CELL_PUT;
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), 0);
  CU_ASSERT_EQUAL(hfile_writer_set_info(w, "hfile.MAX_SEQ_ID", "x", 1), DFS_EINVAL);
  CU_ASSERT_EQUAL(hfile_writer_set_info(w, "k", "v1", 2), 0);
  CU_ASSERT_EQUAL(hfile_writer_set_info(w, "k", "v22", 3), 0);
  CU_ASSERT_EQUAL(hfile_writer_entries(w), 3);
  CU_ASSERT_EQUAL(hfile_writer_close(w), 0);
  size_t len;
  const uint8_t *d = hb_out_mem_data(out, &len);
  struct hfile_reader *r;
  CU_ASSERT_FATAL(open_mem(d, len, NULL, &r) == 0);
  const uint8_t *v;
  size_t vl;
  CU_ASSERT(hfile_reader_get_info(r, "k", &v, &vl) == 0 && vl == 3 && memcmp(v, "v22", 3) == 0);
  struct hfile_scanner *s = hfile_scanner_new(r);
  CU_ASSERT_EQUAL(hfile_scanner_seek_to_first(s), 1);
  CU_ASSERT_EQUAL_FATAL(hfile_scanner_next(s), 1);
  CU_ASSERT_EQUAL(hfile_scanner_peek(s)->type, CELL_DELETE_COLUMN);
  CU_ASSERT_EQUAL_FATAL(hfile_scanner_next(s), 1);
  CU_ASSERT_EQUAL(hfile_scanner_peek(s)->type, CELL_PUT);
  CU_ASSERT_EQUAL(hfile_scanner_next(s), 0);
  hfile_scanner_free(s);
  hfile_reader_unref(r);
  hb_out_free(out);
}

static uint64_t be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* Open and scan everything; returns the first error (0 if all fine) and
 * counts wrong cells. */
static int open_and_scan(const uint8_t *buf, size_t len, uint32_t n, uint32_t *wrong) {
  struct hfile_reader *r;
  int rc = open_mem(buf, len, NULL, &r);
  if (rc) return rc;
  rc = full_scan(r, n, wrong);
  /* and seeks, which go through other index paths */
  struct hfile_scanner *s = hfile_scanner_new(r);
  struct gcell g;
  for (uint32_t i = 0; rc >= 0 && i < n; i += 13) {
    gen(i, &g);
    int x = hfile_scanner_seek(s, &g.c);
    if (x < 0) rc = x;
    else if (x != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) (*wrong)++;
  }
  hfile_scanner_free(s);
  hfile_reader_unref(r);
  return rc < 0 ? rc : 0;
}

static bool msg_has(const char *a, const char *b) {
  const char *m = dfs_err_msg();
  bool ok = strstr(m, a) && (!b || strstr(m, b));
  if (!ok) fprintf(stderr, "message: %s\n", m);
  return ok;
}

static void test_corruption_named(void) {
  enum { N = 3000 };
  struct hfile_writer_opts o = {.block_size = 1024, .index_block_size = 512};
  size_t len;
  uint8_t *buf = write_file(N, &o, &len, false);
  const uint8_t *t = buf + len - HFILE_TRAILER_SIZE;
  uint64_t loo = be64(t + 16), data_end = be64(t + 32);
  CU_ASSERT(data_end < loo); /* there are leaf index blocks */
  uint32_t wrong = 0;
  CU_ASSERT_EQUAL(open_and_scan(buf, len, N, &wrong), 0);
  CU_ASSERT_EQUAL(wrong, 0);
  char off[64];

  /* a data block: block 0 starts at offset 0 */
  buf[200] ^= 0x20;
  CU_ASSERT_EQUAL(open_and_scan(buf, len, N, &wrong), DFS_ECORRUPT);
  CU_ASSERT(msg_has("/hbase/t/cf/f1", "block at offset 0:"));
  CU_ASSERT(msg_has("checksum mismatch", NULL));
  buf[200] ^= 0x20;
  /* a leaf index block */
  buf[data_end + 40] ^= 0x01;
  CU_ASSERT_EQUAL(open_and_scan(buf, len, N, &wrong), DFS_ECORRUPT);
  snprintf(off, sizeof off, "offset %llu:", (unsigned long long)data_end);
  CU_ASSERT(msg_has("/hbase/t/cf/f1", off));
  buf[data_end + 40] ^= 0x01;
  /* the root index (load-on-open): open fails */
  buf[loo + 30] ^= 0x80;
  struct hfile_reader *r;
  CU_ASSERT_EQUAL(open_mem(buf, len, NULL, &r), DFS_ECORRUPT);
  snprintf(off, sizeof off, "offset %llu:", (unsigned long long)loo);
  CU_ASSERT(msg_has("/hbase/t/cf/f1", off));
  buf[loo + 30] ^= 0x80;
  /* the trailer */
  buf[len - 100] ^= 0x04;
  CU_ASSERT_EQUAL(open_mem(buf, len, NULL, &r), DFS_ECORRUPT);
  snprintf(off, sizeof off, "trailer at offset %llu", (unsigned long long)(len - HFILE_TRAILER_SIZE));
  CU_ASSERT(msg_has("/hbase/t/cf/f1", off));
  buf[len - 100] ^= 0x04;
  /* truncated anywhere */
  size_t cuts[] = {0, 10, len / 2, len - HFILE_TRAILER_SIZE, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    CU_ASSERT_EQUAL(open_mem(buf, cuts[i], NULL, &r), DFS_ECORRUPT);
    CU_ASSERT(msg_has("/hbase/t/cf/f1", NULL));
  }
  /* not an HFile */
  memset(buf, 'x', len);
  CU_ASSERT_EQUAL(open_mem(buf, len, NULL, &r), DFS_ECORRUPT);
  CU_ASSERT(msg_has("not an HFile", NULL));
  free(buf);
}

/* Every single flipped byte of a small file (multi-level index, both
 * compressions) is reported as corruption; no scan returns wrong data. */
static void test_flip_every_byte(void) {
  enum { N = 120 };
  for (int comp = 0; comp < 2; comp++) {
    struct hfile_writer_opts o = {.block_size = 400, .index_block_size = 256,
                                  .compression = (enum hfile_compression)comp};
    size_t len;
    uint8_t *buf = write_file(N, &o, &len, true);
    CU_ASSERT(len > 4000);
    CU_ASSERT(buf[len - HFILE_TRAILER_SIZE + 67] >= 2); /* index_levels: leaf blocks exist */
    uint32_t undetected = 0, wrong = 0, other = 0;
    for (size_t i = 0; i < len; i++) {
      buf[i] ^= (uint8_t)(1u << (i % 8));
      uint32_t w = 0;
      int rc = open_and_scan(buf, len, N, &w);
      if (rc == 0 && w == 0) undetected++;
      if (w) wrong++;
      if (rc != 0 && rc != DFS_ECORRUPT) other++;
      buf[i] ^= (uint8_t)(1u << (i % 8));
    }
    CU_ASSERT_EQUAL(undetected, 0);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(other, 0);
    free(buf);
  }
}

/* A sink that fails after `budget` bytes. */
struct failing_out {
  struct hb_out base;
  size_t budget;
};
static int failing_write(struct hb_out *o, const void *buf, size_t len) {
  struct failing_out *f = (struct failing_out *)o;
  (void)buf;
  if (len > f->budget) return dfs_err_set(DFS_EIO, "injected write failure");
  f->budget -= len;
  return 0;
}
static void failing_destroy(struct hb_out *o) { (void)o; }

static void test_write_errors(void) {
  size_t budgets[] = {0, 100, 5000, 60000};
  for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
    struct failing_out f = {.base = {.write = failing_write, .destroy = failing_destroy},
                            .budget = budgets[b]};
    struct hfile_writer *w;
    struct hfile_writer_opts o = {.block_size = 1024};
    CU_ASSERT_FATAL(hfile_writer_open(&f.base, &o, &w) == 0);
    struct gcell g;
    int rc = 0;
    for (uint32_t i = 0; i < 500 && rc == 0; i++) {
      gen(i, &g);
      rc = hfile_writer_append(w, &g.c);
    }
    if (rc == 0) {
      rc = hfile_writer_close(w);
    } else {
      CU_ASSERT_EQUAL(rc, DFS_EIO);
      gen(1000, &g);
      CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), DFS_EIO); /* sticky */
      rc = hfile_writer_close(w);
    }
    CU_ASSERT_EQUAL(rc, DFS_EIO);
  }
  /* abort frees a writer mid-way */
  struct hb_out *out;
  CU_ASSERT_FATAL(hb_out_mem(&out) == 0);
  struct hfile_writer *w;
  CU_ASSERT_FATAL(hfile_writer_open(out, NULL, &w) == 0);
  struct gcell g;
  gen(0, &g);
  CU_ASSERT_EQUAL(hfile_writer_append(w, &g.c), 0);
  hfile_writer_abort(w);
  hb_out_free(out);
}

static void test_fd_backend(void) {
  char path[] = "/tmp/test_hfile_XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  unlink(path);
  struct hb_out *out;
  CU_ASSERT_FATAL(hb_out_fd(fd, &out) == 0);
  struct hfile_writer *w;
  struct hfile_writer_opts o = {.compression = HFILE_COMPRESSION_SNAPPY};
  CU_ASSERT_FATAL(hfile_writer_open(out, &o, &w) == 0);
  struct gcell g;
  for (uint32_t i = 0; i < 5000; i++) {
    gen(i, &g);
    CU_ASSERT_EQUAL_FATAL(hfile_writer_append(w, &g.c), 0);
  }
  CU_ASSERT_EQUAL(hfile_writer_close(w), 0);
  hb_out_free(out);
  struct hb_in *in;
  CU_ASSERT_FATAL(hb_in_fd(fd, true, &in) == 0);
  struct hfile_reader *r;
  CU_ASSERT_FATAL(hfile_reader_open(in, path, NULL, &r) == 0);
  uint32_t bad = 0;
  CU_ASSERT_EQUAL(full_scan(r, 5000, &bad), 0);
  CU_ASSERT_EQUAL(bad, 0);
  hfile_reader_unref(r);
}

/* ---- concurrent scanners on one reader with a small cache ---- */

struct conc_arg {
  struct hfile_scanner *s; /* made before the thread starts: it holds a reader ref */
  uint32_t n, seed, bad, errors;
};

static void *conc_thread(void *p) {
  struct conc_arg *a = p;
  struct hfile_scanner *s = a->s;
  uint64_t x = a->seed * 0x9E3779B97F4A7C15ull + 1;
  struct gcell g;
  for (int it = 0; it < 3000; it++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint32_t i = (uint32_t)(x % a->n);
    gen(i, &g);
    int rc = hfile_scanner_seek(s, &g.c);
    if (rc < 0) a->errors++;
    else if (rc != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) a->bad++;
    for (uint32_t j = 1; j <= 20 && i + j < a->n; j++) {
      gen(i + j, &g);
      rc = hfile_scanner_next(s);
      if (rc < 0) a->errors++;
      else if (rc != 1 || !same_cell(hfile_scanner_peek(s), &g.c)) a->bad++;
    }
  }
  hfile_scanner_free(s);
  return NULL;
}

static void test_concurrent_scanners(void) {
  enum { N = 40000, T = 4 };
  struct hfile_writer_opts o = {.block_size = 4096, .compression = HFILE_COMPRESSION_SNAPPY};
  size_t len;
  uint8_t *buf = write_file(N, &o, &len, false);
  struct block_cache *cache;
  CU_ASSERT_FATAL(block_cache_new(128u << 10, 4, &cache) == 0); /* far smaller than the file */
  struct hfile_reader *r;
  CU_ASSERT_FATAL(open_mem(buf, len, cache, &r) == 0);
  pthread_t th[T];
  struct conc_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (struct conc_arg){.s = hfile_scanner_new(r), .n = N, .seed = (uint32_t)i + 1};
    CU_ASSERT_FATAL(args[i].s != NULL);
    pthread_create(&th[i], NULL, conc_thread, &args[i]);
  }
  /* drop our reference while the scanners still run: they hold their own */
  hfile_reader_unref(r);
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(args[i].bad, 0);
    CU_ASSERT_EQUAL(args[i].errors, 0);
  }
  struct block_cache_stats st;
  block_cache_stats(cache, &st);
  CU_ASSERT(st.evictions > 0);
  CU_ASSERT(st.hits > 0);
  CU_ASSERT(st.bytes <= st.capacity);
  CU_ASSERT_EQUAL(st.blocks, 0); /* the last scanner closed the reader */
  block_cache_free(cache);
  free(buf);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("hfile", NULL, NULL);
  CU_add_test(s, "roundtrip_none", test_roundtrip_none);
  CU_add_test(s, "roundtrip_snappy", test_roundtrip_snappy);
  CU_add_test(s, "multilevel_index", test_multilevel_index);
  CU_add_test(s, "cache_on_write", test_cache_on_write);
  CU_add_test(s, "empty_file", test_empty_file);
  CU_add_test(s, "order_and_types", test_order_and_types);
  CU_add_test(s, "corruption_named", test_corruption_named);
  CU_add_test(s, "flip_every_byte", test_flip_every_byte);
  CU_add_test(s, "write_errors", test_write_errors);
  CU_add_test(s, "fd_backend", test_fd_backend);
  CU_add_test(s, "concurrent_scanners", test_concurrent_scanners);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
