/*
 * fuzz_hfile.c - libFuzzer target for the HFile reader: the input is a
 * whole file, read through the memory backend; open, a full scan, seeks
 * (exact, before, to the ends) and bloom probes must answer any bytes with
 * an error, never crash, hang or read out of bounds.
 *
 * First input byte: bit 0 recomputes every block checksum and the trailer's
 * before reading, so that mutations get past the CRCs into the parsers
 * (index, file info, bloom, cells); bit 1 reads through a block cache.
 * Seeds are small valid files (multi-level index, both compressions).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block_cache.h"
#include "crc32c.h"
#include "file_io.h"
#include "fuzz_seeds.h"
#include "hfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fix_checksums(uint8_t *b, size_t n) {
  static const char *magics[] = {HFILE_MAGIC_DATA, HFILE_MAGIC_LEAF_INDEX,
                                 HFILE_MAGIC_INTERMEDIATE_INDEX, HFILE_MAGIC_ROOT_INDEX,
                                 HFILE_MAGIC_FILE_INFO, HFILE_MAGIC_BLOOM};
  for (size_t off = 0; off + HFILE_BLOCK_HEADER_SIZE <= n; off++) {
    for (size_t m = 0; m < sizeof magics / sizeof magics[0]; m++) {
      if (memcmp(b + off, magics[m], HFILE_MAGIC_LEN) != 0) continue;
      uint32_t plen = get_u32(b + off + 8);
      if (plen > n - off - HFILE_BLOCK_HEADER_SIZE) continue;
      uint32_t crc = crc32c(0, b + off, 20);
      crc = crc32c(crc, b + off + HFILE_BLOCK_HEADER_SIZE, plen);
      put_u32(b + off + 20, crc);
    }
  }
  if (n >= HFILE_TRAILER_SIZE) {
    uint8_t *t = b + n - HFILE_TRAILER_SIZE;
    put_u32(t + HFILE_TRAILER_SIZE - 4, crc32c(0, t, HFILE_TRAILER_SIZE - 4));
  }
}

static void exercise(struct hfile_reader *r, const uint8_t *data, size_t size) {
  const struct hfile_info *hi = hfile_reader_info(r);
  volatile uint64_t sink = hi->entry_count + hi->max_seq_id + (uint64_t)hi->min_timestamp;
  for (size_t i = 0; i < hfile_reader_info_count(r); i++) {
    const uint8_t *k, *v;
    size_t kl, vl;
    hfile_reader_info_at(r, i, &k, &kl, &v, &vl);
    if (kl) sink += k[0];
    if (vl) sink += v[vl - 1];
  }
  struct hfile_scanner *s = hfile_scanner_new(r);
  if (!s) return;
  int rc = hfile_scanner_seek_to_first(s);
  for (int n = 0; rc == 1 && n < 200000; n++) {
    const struct cell *c = hfile_scanner_peek(s);
    sink += c->row[0] + c->row[c->row_len - 1] + c->family[0] + c->value_len;
    if (c->value_len) sink += c->value[c->value_len - 1];
    rc = hfile_scanner_next(s);
  }
  if (hi->first_key) {
    hfile_scanner_seek(s, hi->first_key);
    hfile_scanner_seek_before(s, hi->last_key);
    hfile_scanner_seek(s, hi->last_key);
    hfile_scanner_next(s);
  }
  hfile_scanner_seek_to_last(s);
  /* rows made of input bytes */
  for (size_t off = 0; off + 4 <= size && off < 64; off += 8) {
    struct cell k;
    hfile_key_first_on_row(&k, data + off, 4);
    if (hfile_scanner_seek(s, &k) == 1) sink += hfile_scanner_peek(s)->row_len;
    if (hfile_scanner_seek_before(s, &k) == 1) sink += hfile_scanner_peek(s)->row_len;
    sink += hfile_reader_may_contain_row(r, data + off, 4);
  }
  hfile_scanner_free(s);
  (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  if (mode & 1) fix_checksums(copy, size);
  struct block_cache *cache = NULL;
  if (mode & 2) block_cache_new(16u << 10, 2, &cache);
  struct hb_in *in;
  if (hb_in_mem(copy, size, false, &in) == 0) {
    struct hfile_reader *r;
    if (hfile_reader_open(in, "fuzz", cache, &r) == 0) {
      exercise(r, data, size);
      hfile_reader_unref(r);
    }
  }
  block_cache_free(cache);
  free(copy);
  return 0;
}

/* Small valid files as seeds. */
void fuzz_seeds(void (*add)(const uint8_t *data, size_t len)) {
  for (int variant = 0; variant < 4; variant++) {
    struct hb_out *out;
    if (hb_out_mem(&out)) return;
    struct hfile_writer_opts o = {.block_size = 200, .index_block_size = 256,
                                  .compression = (enum hfile_compression)(variant & 1),
                                  .no_bloom = variant == 3};
    struct hfile_writer *w;
    if (hfile_writer_open(out, &o, &w)) {
      hb_out_free(out);
      return;
    }
    int ncells = variant == 2 ? 0 : 40;
    for (int i = 0; i < ncells; i++) {
      char row[8], val[24];
      row[0] = 'r';
      row[1] = (char)('a' + i / 4);
      struct cell c = {.row = (const uint8_t *)row, .row_len = 2,
                       .family = (const uint8_t *)"f", .family_len = 1,
                       .qualifier = (const uint8_t *)"q", .qualifier_len = 1,
                       .value = (const uint8_t *)val,
                       .value_len = (uint32_t)(8 + i % 16),
                       .timestamp = 100 - i % 4, .type = CELL_PUT, .seq_id = (uint64_t)i + 1};
      memset(val, 'v', sizeof val);
      hfile_writer_append(w, &c);
    }
    hfile_writer_set_info(w, "MAJOR_COMPACTION", "\1", 1);
    if (hfile_writer_close(w) == 0) {
      size_t len;
      const uint8_t *d = hb_out_mem_data(out, &len);
      uint8_t *seed = malloc(len + 1);
      if (seed) {
        seed[0] = (uint8_t)(variant & 1 ? 1 : 3); /* fix checksums; cache on some */
        memcpy(seed + 1, d, len);
        add(seed, len + 1);
        free(seed);
      }
    }
    hb_out_free(out);
  }
}
