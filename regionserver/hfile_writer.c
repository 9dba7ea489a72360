/*
 * hfile_writer.c - streams an HFile (hfile.h, docs/formats.md) to a sink.
 *
 * Data blocks are written as soon as they fill. Their index entries (first
 * key, offset, size) and the row hashes for the bloom stay in memory until
 * close: then the index is built bottom-up (leaf blocks, intermediate
 * blocks, each at most index_block_size, until the top level fits in one
 * root block), followed by the load-on-open section and the trailer. This
 * keeps every write sequential; the memory cost is about one key per data
 * block plus 8 bytes per distinct row.
 */
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "bytes.h"
#include "block_cache.h"
#include "bloom.h"
#include "crc32c.h"
#include "errors.h"
#include "hfile.h"

/* An index entry; its key lives in the writer's key arena. */
struct idx_entry {
  uint64_t off;
  uint32_t size;
  uint32_t key_len;
  size_t key_off;
};

struct info_kv {
  char *key;
  uint8_t *val;
  size_t len;
};

struct hfile_writer {
  struct hb_out *out;
  struct hfile_writer_opts o;
  char *name;
  int err; /* sticky I/O error */

  /* current data block */
  uint8_t *blk;
  size_t blk_len, blk_cap;
  uint32_t blk_cells;
  uint32_t *restarts;
  size_t nrestarts, restarts_cap;
  size_t blk_key_off; /* first key of the block in the arena */
  uint32_t blk_key_len;
  uint8_t *cbuf;
  size_t cbuf_cap;

  /* the previous cell's key (order check, row change) */
  uint8_t *last_key;
  size_t last_key_cap;
  struct cell last;
  bool have_last;

  /* data block index entries and their keys */
  struct idx_entry *ents;
  size_t nents, ents_cap;
  uint8_t *keys;
  size_t keys_len, keys_cap;
  size_t last_key_arena_off; /* copy of the very last key, made at close */
  uint32_t last_key_arena_len;

  /* row hashes for the bloom */
  uint64_t *hashes;
  size_t nhashes, hashes_cap;

  uint64_t entries, max_seq_id, uncompressed_bytes, data_blocks;
  int64_t min_ts, max_ts;

  struct info_kv *info;
  size_t ninfo;
};

/* Grow *buf (element size es) to hold n elements. */
static int grow(void **buf, size_t *cap, size_t n, size_t es) {
  if (n <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < n) c *= 2;
  void *nb = realloc(*buf, c * es);
  if (!nb) return dfs_err_set(DFS_ENOMEM, "hfile writer: out of memory (%zu bytes)", c * es);
  *buf = nb;
  *cap = c;
  return 0;
}

int hfile_writer_open(struct hb_out *out, const struct hfile_writer_opts *o,
                      struct hfile_writer **wp) {
  struct hfile_writer *w = calloc(1, sizeof *w);
  if (!w) return dfs_err_set(DFS_ENOMEM, "hfile writer: out of memory");
  if (o) w->o = *o;
  if (!w->o.block_size) w->o.block_size = HFILE_DEFAULT_BLOCK_SIZE;
  if (!w->o.index_block_size) w->o.index_block_size = HFILE_DEFAULT_INDEX_BLOCK_SIZE;
  if (!w->o.bloom_bits_per_key) w->o.bloom_bits_per_key = HFILE_DEFAULT_BLOOM_BITS_PER_KEY;
  if (!w->o.bloom_max_bytes) w->o.bloom_max_bytes = HFILE_DEFAULT_BLOOM_MAX_BYTES;
  if (w->o.compression != HFILE_COMPRESSION_NONE && w->o.compression != HFILE_COMPRESSION_SNAPPY) {
    int comp = (int)w->o.compression;
    free(w);
    return dfs_err_set(DFS_EINVAL, "hfile writer: unknown compression %d", comp);
  }
  if (w->o.block_size > HFILE_MAX_BLOCK_BYTES / 2) w->o.block_size = HFILE_MAX_BLOCK_BYTES / 2;
  if (w->o.index_block_size < 256) w->o.index_block_size = 256;
  if (w->o.index_block_size > HFILE_MAX_BLOCK_BYTES / 2)
    w->o.index_block_size = HFILE_MAX_BLOCK_BYTES / 2;
  w->name = strdup(o && o->name ? o->name : "(unnamed)");
  if (!w->name) {
    free(w);
    return dfs_err_set(DFS_ENOMEM, "hfile writer: out of memory");
  }
  w->o.name = w->name;
  w->out = out;
  w->min_ts = INT64_MAX;
  w->max_ts = INT64_MIN;
  *wp = w;
  return 0;
}

uint64_t hfile_writer_entries(const struct hfile_writer *w) { return w->entries; }
uint64_t hfile_writer_bytes(const struct hfile_writer *w) { return w->out->pos; }

/* Key form of a cell: the encoded cell without its value. */
static struct cell key_of(const struct cell *c) {
  struct cell k = *c;
  k.value = NULL;
  k.value_len = 0;
  return k;
}

static int arena_add_key(struct hfile_writer *w, const struct cell *c, size_t *off,
                         uint32_t *len) {
  struct cell k = key_of(c);
  size_t n = cell_encoded_size(&k);
  int rc = grow((void **)&w->keys, &w->keys_cap, w->keys_len + n, 1);
  if (rc) return rc;
  cell_encode(&k, w->keys + w->keys_len);
  *off = w->keys_len;
  *len = (uint32_t)n;
  w->keys_len += n;
  return 0;
}

/* Header + CRC around a payload, then both to the sink. */
static int write_block(struct hfile_writer *w, const char *magic, const uint8_t *payload,
                       size_t plen, size_t ulen, uint8_t comp) {
  uint8_t h[HFILE_BLOCK_HEADER_SIZE] = {0};
  memcpy(h, magic, HFILE_MAGIC_LEN);
  dfs_put_be32(h + 8, (uint32_t)plen);
  dfs_put_be32(h + 12, (uint32_t)ulen);
  h[16] = comp;
  uint32_t crc = crc32c(0, h, 20);
  crc = crc32c(crc, payload, plen);
  dfs_put_be32(h + 20, crc);
  int rc = hb_out_write(w->out, h, sizeof h);
  if (!rc) rc = hb_out_write(w->out, payload, plen);
  if (rc) w->err = rc;
  return rc;
}

static int finish_data_block(struct hfile_writer *w) {
  if (w->blk_cells == 0) return 0;
  size_t tail = 4 * w->nrestarts + 4;
  int rc = grow((void **)&w->blk, &w->blk_cap, w->blk_len + tail, 1);
  if (rc) return rc;
  for (size_t i = 0; i < w->nrestarts; i++) dfs_put_be32(w->blk + w->blk_len + 4 * i, w->restarts[i]);
  dfs_put_be32(w->blk + w->blk_len + 4 * w->nrestarts, (uint32_t)w->nrestarts);
  size_t ulen = w->blk_len + tail;

  const uint8_t *payload = w->blk;
  size_t plen = ulen;
  uint8_t comp = HFILE_COMPRESSION_NONE;
  if (w->o.compression == HFILE_COMPRESSION_SNAPPY) {
    size_t max = snappy_max_compressed_length(ulen);
    rc = grow((void **)&w->cbuf, &w->cbuf_cap, max, 1);
    if (rc) return rc;
    size_t clen = max;
    /* Keep the block uncompressed when snappy does not make it smaller:
     * the per-block byte says which, so readers skip a useless step. */
    if (snappy_compress((const char *)w->blk, ulen, (char *)w->cbuf, &clen) == SNAPPY_OK &&
        clen < ulen) {
      payload = w->cbuf;
      plen = clen;
      comp = HFILE_COMPRESSION_SNAPPY;
    }
  }
  rc = grow((void **)&w->ents, &w->ents_cap, w->nents + 1, sizeof *w->ents);
  if (rc) return rc;
  uint64_t off = w->out->pos;
  rc = write_block(w, HFILE_MAGIC_DATA, payload, plen, ulen, comp);
  if (rc) return rc;
  w->ents[w->nents++] = (struct idx_entry){
      .off = off, .size = (uint32_t)(HFILE_BLOCK_HEADER_SIZE + plen),
      .key_off = w->blk_key_off, .key_len = w->blk_key_len};
  if (w->o.cache && w->o.cache_file_id) { /* cache on write; out of memory: just not cached */
    uint8_t *cb = malloc(ulen + 1);
    if (cb) {
      cb[0] = HFILE_CACHED_DATA;
      memcpy(cb + 1, w->blk, ulen);
      struct cache_block *h = block_cache_put(w->o.cache, w->o.cache_file_id, off, cb, ulen + 1);
      if (h) cache_block_unref(h);
    }
  }
  w->uncompressed_bytes += ulen;
  w->data_blocks++;
  w->blk_len = 0;
  w->blk_cells = 0;
  w->nrestarts = 0;
  return 0;
}

int hfile_writer_append(struct hfile_writer *w, const struct cell *c) {
  if (w->err) return dfs_err_set(w->err, "hfile %s: writer failed earlier", w->name);
  int rc = cell_validate(c);
  if (rc) return rc;
  bool new_row = true;
  if (w->have_last) {
    int cmp = cell_compare(&w->last, c);
    if (cmp >= 0)
      return dfs_err_set(DFS_EINVAL,
                         "hfile %s: cell %llu (row of %u bytes, ts %lld, seq %llu) %s the previous "
                         "cell: cells must be appended in strictly increasing order",
                         w->name, (unsigned long long)w->entries, c->row_len,
                         (long long)c->timestamp, (unsigned long long)c->seq_id,
                         cmp == 0 ? "equals" : "sorts before");
    new_row = cell_compare_row_of(&w->last, c) != 0;
  }
  size_t n = cell_encoded_size(c);
  if (w->blk_cells > 0 && w->blk_len + n + 4 * (w->nrestarts + 2) > w->o.block_size) {
    rc = finish_data_block(w);
    if (rc) return rc;
  }
  if (new_row && !w->o.no_bloom) {
    rc = grow((void **)&w->hashes, &w->hashes_cap, w->nhashes + 1, sizeof *w->hashes);
    if (rc) return rc;
  }
  /* Reserve everything first so that a failure leaves no half-appended cell. */
  rc = grow((void **)&w->blk, &w->blk_cap, w->blk_len + n, 1);
  if (!rc) rc = grow((void **)&w->restarts, &w->restarts_cap, w->nrestarts + 1, sizeof(uint32_t));
  struct cell k = key_of(c);
  size_t klen = cell_encoded_size(&k);
  if (!rc) rc = grow((void **)&w->last_key, &w->last_key_cap, klen, 1);
  if (!rc && w->blk_cells == 0) rc = arena_add_key(w, c, &w->blk_key_off, &w->blk_key_len);
  if (rc) return rc;

  if (w->blk_cells % HFILE_RESTART_INTERVAL == 0) w->restarts[w->nrestarts++] = (uint32_t)w->blk_len;
  cell_encode(c, w->blk + w->blk_len);
  w->blk_len += n;
  w->blk_cells++;
  if (new_row && !w->o.no_bloom) w->hashes[w->nhashes++] = bloom_hash(c->row, c->row_len);

  cell_encode(&k, w->last_key);
  size_t used;
  cell_decode(w->last_key, klen, &w->last, &used);
  w->have_last = true;
  w->entries++;
  if (c->seq_id > w->max_seq_id) w->max_seq_id = c->seq_id;
  if (c->timestamp < w->min_ts) w->min_ts = c->timestamp;
  if (c->timestamp > w->max_ts) w->max_ts = c->timestamp;
  return 0;
}

int hfile_writer_set_info(struct hfile_writer *w, const char *key, const void *val, size_t len) {
  size_t kl = key ? strlen(key) : 0;
  if (kl == 0 || kl > 1024) return dfs_err_set(DFS_EINVAL, "hfile info: key length %zu", kl);
  if (strncmp(key, "hfile.", 6) == 0)
    return dfs_err_set(DFS_EINVAL, "hfile info: key %s is reserved", key);
  if (len > (1u << 20)) return dfs_err_set(DFS_EINVAL, "hfile info: value of %zu bytes", len);
  uint8_t *v = malloc(len ? len : 1);
  if (!v) return dfs_err_set(DFS_ENOMEM, "hfile info: out of memory");
  if (len) memcpy(v, val, len);
  for (size_t i = 0; i < w->ninfo; i++) {
    if (strcmp(w->info[i].key, key) == 0) {
      free(w->info[i].val);
      w->info[i].val = v;
      w->info[i].len = len;
      return 0;
    }
  }
  struct info_kv *ni = realloc(w->info, (w->ninfo + 1) * sizeof *ni);
  char *k = strdup(key);
  if (!ni || !k) {
    if (ni) w->info = ni;
    free(k);
    free(v);
    return dfs_err_set(DFS_ENOMEM, "hfile info: out of memory");
  }
  w->info = ni;
  w->info[w->ninfo++] = (struct info_kv){.key = k, .val = v, .len = len};
  return 0;
}

/* ---- close: index, load-on-open section, trailer ---- */

static size_t entry_size(const struct idx_entry *e) { return 16 + (size_t)e->key_len; }

/* Serialise entries [from, to) as an index payload into *buf. */
static int encode_index(struct hfile_writer *w, const struct idx_entry *e, size_t n,
                        uint8_t **buf, size_t *cap, size_t *len) {
  size_t total = 4 + 4 * n;
  for (size_t i = 0; i < n; i++) total += entry_size(&e[i]);
  int rc = grow((void **)buf, cap, total, 1);
  if (rc) return rc;
  uint8_t *p = *buf;
  dfs_put_be32(p, (uint32_t)n);
  uint8_t *offs = p + 4, *ents = p + 4 + 4 * n;
  size_t rel = 0;
  for (size_t i = 0; i < n; i++) {
    dfs_put_be32(offs + 4 * i, (uint32_t)rel);
    uint8_t *q = ents + rel;
    dfs_put_be64(q, e[i].off);
    dfs_put_be32(q + 8, e[i].size);
    dfs_put_be32(q + 12, e[i].key_len);
    memcpy(q + 16, w->keys + e[i].key_off, e[i].key_len);
    rel += entry_size(&e[i]);
  }
  *len = total;
  return 0;
}

/* Write the non-root index levels; on return *lvl holds the root level's
 * entries and *levels the number of levels (root included). */
static int write_index_levels(struct hfile_writer *w, struct idx_entry **lvl, size_t *n,
                              uint32_t *levels, uint8_t **buf, size_t *cap) {
  *levels = 1;
  for (;;) {
    size_t total = 4;
    for (size_t i = 0; i < *n; i++) total += 4 + entry_size(&(*lvl)[i]);
    if (total <= w->o.index_block_size || *n <= 1) return 0;
    if (*levels >= HFILE_MAX_INDEX_LEVELS)
      return w->err = dfs_err_set(DFS_EINVAL, "hfile %s: index needs more than %d levels "
                                  "(keys too large for index blocks of %u bytes)",
                                  w->name, HFILE_MAX_INDEX_LEVELS, w->o.index_block_size);
    const char *magic = *levels == 1 ? HFILE_MAGIC_LEAF_INDEX : HFILE_MAGIC_INTERMEDIATE_INDEX;
    struct idx_entry *up = malloc(*n * sizeof *up);
    if (!up) return w->err = dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", w->name);
    size_t nup = 0, start = 0;
    while (start < *n) {
      /* At least two entries per block, so every level shrinks. */
      size_t end = start, size = 4;
      while (end < *n) {
        size_t add = 4 + entry_size(&(*lvl)[end]);
        if (end - start >= 2 && size + add > w->o.index_block_size) break;
        size += add;
        end++;
      }
      size_t len;
      int rc = encode_index(w, *lvl + start, end - start, buf, cap, &len);
      uint64_t off = w->out->pos;
      if (!rc) rc = write_block(w, magic, *buf, len, len, HFILE_COMPRESSION_NONE);
      if (rc) {
        free(up);
        return w->err = rc;
      }
      up[nup++] = (struct idx_entry){.off = off, .size = (uint32_t)(HFILE_BLOCK_HEADER_SIZE + len),
                                     .key_off = (*lvl)[start].key_off,
                                     .key_len = (*lvl)[start].key_len};
      start = end;
    }
    if (*lvl != w->ents) free(*lvl);
    *lvl = up;
    *n = nup;
    (*levels)++;
  }
}

static int encode_file_info(struct hfile_writer *w, uint8_t **buf, size_t *cap, size_t *len) {
  /* reserved entries first, then the user's */
  uint8_t seq[8], tr[16];
  dfs_put_be64(seq, w->max_seq_id);
  dfs_put_be64(tr, (uint64_t)w->min_ts);
  dfs_put_be64(tr + 8, (uint64_t)w->max_ts);
  struct fixed_kv { const char *k; const uint8_t *v; size_t len; } fixed[4];
  size_t nf = 0;
  fixed[nf++] = (struct fixed_kv){HFILE_INFO_MAX_SEQ_ID, seq, 8};
  fixed[nf++] = (struct fixed_kv){HFILE_INFO_TIMERANGE, tr, 16};
  if (w->nents > 0) {
    fixed[nf++] = (struct fixed_kv){HFILE_INFO_FIRST_KEY, w->keys + w->ents[0].key_off,
                                    w->ents[0].key_len};
    fixed[nf++] = (struct fixed_kv){HFILE_INFO_LAST_KEY, w->keys + w->last_key_arena_off,
                                    w->last_key_arena_len};
  }
  size_t total = 4;
  for (size_t i = 0; i < nf; i++) total += 8 + strlen(fixed[i].k) + fixed[i].len;
  for (size_t i = 0; i < w->ninfo; i++) total += 8 + strlen(w->info[i].key) + w->info[i].len;
  int rc = grow((void **)buf, cap, total, 1);
  if (rc) return rc;
  uint8_t *p = *buf;
  dfs_put_be32(p, (uint32_t)(nf + w->ninfo));
  p += 4;
  for (size_t i = 0; i < nf + w->ninfo; i++) {
    const char *k = i < nf ? fixed[i].k : w->info[i - nf].key;
    const uint8_t *v = i < nf ? fixed[i].v : w->info[i - nf].val;
    size_t vl = i < nf ? fixed[i].len : w->info[i - nf].len;
    size_t kl = strlen(k);
    dfs_put_be32(p, (uint32_t)kl);
    memcpy(p + 4, k, kl);
    p += 4 + kl;
    dfs_put_be32(p, (uint32_t)vl);
    if (vl) memcpy(p + 4, v, vl);
    p += 4 + vl;
  }
  *len = total;
  return 0;
}

static void writer_free(struct hfile_writer *w) {
  free(w->blk);
  free(w->restarts);
  free(w->cbuf);
  free(w->last_key);
  free(w->ents);
  free(w->keys);
  free(w->hashes);
  for (size_t i = 0; i < w->ninfo; i++) {
    free(w->info[i].key);
    free(w->info[i].val);
  }
  free(w->info);
  free(w->name);
  free(w);
}

void hfile_writer_abort(struct hfile_writer *w) {
  if (w) writer_free(w);
}

int hfile_writer_close(struct hfile_writer *w) {
  int rc = w->err;
  if (rc) {
    dfs_err_set(rc, "hfile %s: writer failed earlier", w->name);
    writer_free(w);
    return rc;
  }
  uint8_t *buf = NULL, *bloom = NULL;
  size_t cap = 0, len = 0, bloom_len = 0;
  struct idx_entry *lvl = w->ents;
  size_t n = 0;
  uint32_t levels = 1;
  uint8_t trailer[HFILE_TRAILER_SIZE] = {0};

  rc = finish_data_block(w);
  if (rc) goto out;
  uint64_t data_end = w->out->pos;
  if (w->have_last) {
    rc = arena_add_key(w, &w->last, &w->last_key_arena_off, &w->last_key_arena_len);
    if (rc) goto out;
  }
  lvl = w->ents;
  n = w->nents;
  rc = write_index_levels(w, &lvl, &n, &levels, &buf, &cap);
  if (rc) goto out;

  uint64_t loo_off = w->out->pos;
  rc = encode_index(w, lvl, n, &buf, &cap, &len);
  if (!rc) rc = write_block(w, HFILE_MAGIC_ROOT_INDEX, buf, len, len, HFILE_COMPRESSION_NONE);
  if (!rc) rc = encode_file_info(w, &buf, &cap, &len);
  if (!rc) rc = write_block(w, HFILE_MAGIC_FILE_INFO, buf, len, len, HFILE_COMPRESSION_NONE);
  if (rc) goto out;
  if (!w->o.no_bloom) {
    rc = bloom_build(w->hashes, w->nhashes, w->o.bloom_bits_per_key, w->o.bloom_max_bytes, &bloom,
                     &bloom_len);
    if (!rc) rc = write_block(w, HFILE_MAGIC_BLOOM, bloom, bloom_len, bloom_len,
                              HFILE_COMPRESSION_NONE);
    if (rc) goto out;
  }
  uint64_t loo_size = w->out->pos - loo_off;

  memcpy(trailer, HFILE_MAGIC_TRAILER, HFILE_MAGIC_LEN);
  dfs_put_be32(trailer + 8, HFILE_VERSION_MAJOR);
  dfs_put_be32(trailer + 12, HFILE_VERSION_MINOR);
  dfs_put_be64(trailer + 16, loo_off);
  dfs_put_be64(trailer + 24, loo_size);
  dfs_put_be64(trailer + 32, data_end);
  dfs_put_be64(trailer + 40, w->entries);
  dfs_put_be64(trailer + 48, w->data_blocks);
  dfs_put_be64(trailer + 56, w->uncompressed_bytes);
  dfs_put_be32(trailer + 64, levels);
  dfs_put_be32(trailer + 68, (uint32_t)n);
  dfs_put_be32(trailer + 72, (uint32_t)w->o.compression);
  dfs_put_be32(trailer + 76, w->o.no_bloom ? 0 : HFILE_TRAILER_FLAG_BLOOM);
  dfs_put_be32(trailer + HFILE_TRAILER_SIZE - 4, crc32c(0, trailer, HFILE_TRAILER_SIZE - 4));
  rc = hb_out_write(w->out, trailer, sizeof trailer);

out:
  if (lvl != w->ents) free(lvl);
  free(buf);
  free(bloom);
  writer_free(w);
  return rc;
}
