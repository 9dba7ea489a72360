/*
 * hfile_reader.c - opens an HFile (hfile.h, docs/formats.md) and scans it.
 *
 * Open reads the fixed trailer, then the whole load-on-open section (root
 * index, file info, bloom) in one read, and checks both. Every other block
 * is read on demand through the block cache: its header and CRC32C are
 * checked, it is decompressed, and its structure is checked in full before
 * it is cached (a data block: every cell decodes, cells are in strictly
 * increasing order, restart points land on cell boundaries; an index block:
 * every entry decodes, keys increase, children lie in the right region of
 * the file). A block's first key must also equal the key its parent index
 * entry claims. So scanners work on verified bytes only, and anything else
 * is DFS_ECORRUPT with the file name and offset.
 *
 * A cached block carries a leading tag byte (its kind) so that a block can
 * never be taken for a block of another kind through the cache.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "bytes.h"
#include "bloom.h"
#include "crc32c.h"
#include "errors.h"
#include "hfile.h"

enum block_kind {
  KIND_DATA = HFILE_CACHED_DATA,
  KIND_LEAF = HFILE_CACHED_LEAF,
  KIND_INTERMEDIATE = HFILE_CACHED_INTERMEDIATE
};

static const char *kind_name(int kind) {
  switch (kind) {
    case KIND_DATA: return "data";
    case KIND_LEAF: return "leaf index";
    default: return "intermediate index";
  }
}
static const char *kind_magic(int kind) {
  switch (kind) {
    case KIND_DATA: return HFILE_MAGIC_DATA;
    case KIND_LEAF: return HFILE_MAGIC_LEAF_INDEX;
    default: return HFILE_MAGIC_INTERMEDIATE_INDEX;
  }
}

/* An index payload: u32 n | u32 rel_off[n] | entries. */
struct idx_view {
  const uint8_t *ents;
  const uint8_t *offs;
  size_t ents_len;
  uint32_t n;
};

struct idx_ent {
  uint64_t off;
  uint32_t size;
  struct cell key;
};

struct info_entry {
  const uint8_t *key, *val;
  size_t klen, vlen;
};

struct hfile_reader {
  atomic_uint refs;
  struct hb_in *in;
  char *name;
  struct block_cache *cache;
  uint64_t file_id;
  uint64_t data_end, loo_off;
  uint8_t *loo; /* the load-on-open section; root keys and info point into it */
  struct idx_view root;
  struct info_entry *info;
  size_t ninfo;
  struct cell first_key, last_key;
  struct bloom bloom;
  struct hfile_info hi;
};

/* ---- index views ---- */

static bool view_init(const uint8_t *p, size_t len, struct idx_view *v) {
  if (len < 4) return false;
  uint32_t n = dfs_get_be32(p);
  if (n > (len - 4) / 4) return false;
  v->n = n;
  v->offs = p + 4;
  v->ents = p + 4 + 4 * (size_t)n;
  v->ents_len = len - 4 - 4 * (size_t)n;
  return true;
}

/* Entry i, bounds-checked: 0 or -1 (malformed). */
static int view_entry(const struct idx_view *v, uint32_t i, struct idx_ent *e) {
  size_t rel = dfs_get_be32(v->offs + 4 * (size_t)i);
  if (rel > v->ents_len || v->ents_len - rel < 16) return -1;
  const uint8_t *q = v->ents + rel;
  e->off = dfs_get_be64(q);
  e->size = dfs_get_be32(q + 8);
  uint32_t klen = dfs_get_be32(q + 12);
  if (klen > v->ents_len - rel - 16) return -1;
  size_t used;
  if (cell_decode(q + 16, klen, &e->key, &used) != 0 || used != klen) return -1;
  return 0;
}

/* Check a whole index payload. Children are data blocks in [0, data_end)
 * or index blocks in [data_end, loo_off). */
static int validate_index(const struct hfile_reader *r, const uint8_t *p, size_t len,
                          bool data_children, const char *what, uint64_t where,
                          struct idx_view *v) {
  if (!view_init(p, len, v))
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: entry count does not "
                       "fit its %zu bytes", r->name, what, (unsigned long long)where, len);
  uint64_t lo = data_children ? 0 : r->data_end, hi = data_children ? r->data_end : r->loo_off;
  struct idx_ent prev = {0};
  for (uint32_t i = 0; i < v->n; i++) {
    struct idx_ent e;
    if (view_entry(v, i, &e) != 0)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: entry %u is malformed",
                         r->name, what, (unsigned long long)where, i);
    if (e.size < HFILE_BLOCK_HEADER_SIZE || e.off < lo || e.off > hi || hi - e.off < e.size)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: entry %u points at "
                         "%llu+%u, outside [%llu, %llu)", r->name, what,
                         (unsigned long long)where, i, (unsigned long long)e.off, e.size,
                         (unsigned long long)lo, (unsigned long long)hi);
    if (i > 0 && (e.off < prev.off + prev.size || cell_compare(&prev.key, &e.key) >= 0))
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: entry %u is out of "
                         "order", r->name, what, (unsigned long long)where, i);
    prev = e;
  }
  return 0;
}

/* ---- blocks ---- */

/* Check a block's header and checksum; raw holds size bytes read at off. */
static int check_block(const struct hfile_reader *r, const uint8_t *raw, size_t size,
                       uint64_t off, const char *magic, uint32_t *plen, uint32_t *ulen,
                       uint8_t *comp) {
  if (size < HFILE_BLOCK_HEADER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: block at offset %llu: %zu bytes, shorter than a "
                       "header", r->name, (unsigned long long)off, size);
  if (memcmp(raw, magic, HFILE_MAGIC_LEN) != 0)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: block at offset %llu: bad magic (expected %.8s)",
                       r->name, (unsigned long long)off, magic);
  *plen = dfs_get_be32(raw + 8);
  *ulen = dfs_get_be32(raw + 12);
  *comp = raw[16];
  if (*plen != size - HFILE_BLOCK_HEADER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %.8s block at offset %llu: header says %u bytes, "
                       "index says %zu", r->name, magic, (unsigned long long)off, *plen,
                       size - HFILE_BLOCK_HEADER_SIZE);
  uint32_t stored = dfs_get_be32(raw + 20);
  uint32_t crc = crc32c(0, raw, 20);
  crc = crc32c(crc, raw + HFILE_BLOCK_HEADER_SIZE, *plen);
  if (crc != stored)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %.8s block at offset %llu: checksum mismatch "
                       "(stored %08x, computed %08x)", r->name, magic, (unsigned long long)off,
                       stored, crc);
  if (raw[17] || raw[18] || raw[19] || *comp > HFILE_COMPRESSION_SNAPPY ||
      (*comp == HFILE_COMPRESSION_NONE && *ulen != *plen) || *ulen > HFILE_MAX_BLOCK_BYTES)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %.8s block at offset %llu: bad header "
                       "(compression %u, sizes %u/%u)", r->name, magic, (unsigned long long)off,
                       *comp, *plen, *ulen);
  return 0;
}

/* Check a data block payload in full (see the file comment). */
static int validate_data(const struct hfile_reader *r, uint64_t off, const uint8_t *p,
                         size_t len) {
  uint32_t nr = len >= 4 ? dfs_get_be32(p + len - 4) : 0;
  if (nr == 0 || nr > (len - 4) / 4)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: data block at offset %llu: bad restart count %u",
                       r->name, (unsigned long long)off, nr);
  size_t end = len - 4 - 4 * (size_t)nr;
  const uint8_t *rs = p + end;
  struct cell prev, cur;
  size_t pos = 0, used;
  uint32_t i = 0;
  while (pos < end) {
    if (i % HFILE_RESTART_INTERVAL == 0 &&
        (i / HFILE_RESTART_INTERVAL >= nr || dfs_get_be32(rs + 4 * (i / HFILE_RESTART_INTERVAL)) != pos))
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: data block at offset %llu: restart point %u "
                         "does not match cell %u", r->name, (unsigned long long)off,
                         i / HFILE_RESTART_INTERVAL, i);
    if (cell_decode(p + pos, end - pos, &cur, &used) != 0) {
      char why[200];
      snprintf(why, sizeof why, "%s", dfs_err_msg());
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: data block at offset %llu: cell %u at byte %zu: "
                         "%s", r->name, (unsigned long long)off, i, pos, why);
    }
    if (i > 0 && cell_compare(&prev, &cur) >= 0)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: data block at offset %llu: cell %u is out of "
                         "order", r->name, (unsigned long long)off, i);
    prev = cur;
    pos += used;
    i++;
  }
  if (i == 0 || (i + HFILE_RESTART_INTERVAL - 1) / HFILE_RESTART_INTERVAL != nr)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: data block at offset %llu: %u cells but %u "
                       "restart points", r->name, (unsigned long long)off, i, nr);
  return 0;
}

/* The first key of a verified block payload (data or index). */
static int first_key_of(int kind, const uint8_t *p, size_t len, struct cell *k) {
  if (kind == KIND_DATA) {
    size_t used;
    return cell_decode(p, len, k, &used) ? -1 : 0;
  }
  struct idx_view v;
  struct idx_ent e;
  if (!view_init(p, len, &v) || v.n == 0 || view_entry(&v, 0, &e) != 0) return -1;
  *k = e.key;
  return 0;
}

/* Load (through the cache) the block an index entry points at, verified.
 * On success *out holds a reference and *payload, *plen_out its bytes. */
static int load_block(const struct hfile_reader *r, const struct idx_ent *ent, int kind,
                      struct cache_block **out, const uint8_t **payload, size_t *plen_out) {
  struct cache_block *b = block_cache_get(r->cache, r->file_id, ent->off);
  if (!b) {
    if (ent->size > HFILE_BLOCK_HEADER_SIZE + (uint64_t)HFILE_MAX_BLOCK_BYTES)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: block at offset %llu: size %u too large",
                         r->name, (unsigned long long)ent->off, ent->size);
    uint8_t *raw = malloc(ent->size);
    if (!raw) return dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", r->name);
    int rc = hb_in_pread_full(r->in, r->name, ent->off, raw, ent->size);
    uint32_t plen = 0, ulen = 0;
    uint8_t comp = 0;
    if (!rc) rc = check_block(r, raw, ent->size, ent->off, kind_magic(kind), &plen, &ulen, &comp);
    if (rc) {
      free(raw);
      return rc;
    }
    uint8_t *buf;
    if (comp == HFILE_COMPRESSION_NONE) {
      /* reuse the read buffer: tag byte, then the payload */
      memmove(raw + 1, raw + HFILE_BLOCK_HEADER_SIZE, plen);
      buf = raw;
    } else {
      const char *src = (const char *)raw + HFILE_BLOCK_HEADER_SIZE;
      size_t n = 0;
      /* snappy expands at most ~21x: a larger claim is corruption, not a
       * reason to allocate */
      if ((uint64_t)ulen > (uint64_t)plen * 24 + 1024 ||
          snappy_uncompressed_length(src, plen, &n) != SNAPPY_OK || n != ulen) {
        free(raw);
        return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: bad snappy data",
                           r->name, kind_name(kind), (unsigned long long)ent->off);
      }
      buf = malloc((size_t)ulen + 1);
      if (!buf) {
        free(raw);
        return dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", r->name);
      }
      n = ulen;
      snappy_status st = snappy_uncompress(src, plen, (char *)buf + 1, &n);
      free(raw);
      if (st != SNAPPY_OK || n != ulen) {
        free(buf);
        return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: snappy data does "
                           "not decompress", r->name, kind_name(kind),
                           (unsigned long long)ent->off);
      }
    }
    buf[0] = (uint8_t)kind;
    if (kind == KIND_DATA) {
      rc = validate_data(r, ent->off, buf + 1, ulen);
    } else {
      struct idx_view v;
      rc = validate_index(r, buf + 1, ulen, kind == KIND_LEAF, kind_name(kind), ent->off, &v);
      if (!rc && v.n == 0)
        rc = dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: no entries", r->name,
                         kind_name(kind), (unsigned long long)ent->off);
    }
    if (rc) {
      free(buf);
      return rc;
    }
    b = block_cache_put(r->cache, r->file_id, ent->off, buf, (size_t)ulen + 1);
    if (!b) return dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", r->name);
  }
  struct cell first;
  if (b->len < 1 || b->data[0] != kind) {
    cache_block_unref(b);
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: block at offset %llu: referenced as a %s block "
                       "but is another kind", r->name, (unsigned long long)ent->off,
                       kind_name(kind));
  }
  if (first_key_of(kind, b->data + 1, b->len - 1, &first) != 0 ||
      cell_compare(&first, &ent->key) != 0) {
    cache_block_unref(b);
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %s block at offset %llu: first key differs from "
                       "its index entry", r->name, kind_name(kind), (unsigned long long)ent->off);
  }
  *out = b;
  *payload = b->data + 1;
  *plen_out = b->len - 1;
  return 0;
}

/* ---- open ---- */

/* Parse one block of the load-on-open section at buf[*pos..len). */
static int loo_block(const struct hfile_reader *r, const uint8_t *buf, size_t len, size_t *pos,
                     const char *magic, const uint8_t **payload, size_t *plen) {
  uint64_t off = r->loo_off + *pos;
  if (len - *pos < HFILE_BLOCK_HEADER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: load-on-open section: %.8s block at offset %llu "
                       "is truncated", r->name, magic, (unsigned long long)off);
  uint32_t size = dfs_get_be32(buf + *pos + 8);
  if (size > len - *pos - HFILE_BLOCK_HEADER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %.8s block at offset %llu: %u bytes overrun the "
                       "load-on-open section", r->name, magic, (unsigned long long)off, size);
  uint32_t p, u;
  uint8_t comp;
  int rc = check_block(r, buf + *pos, HFILE_BLOCK_HEADER_SIZE + (size_t)size, off, magic, &p, &u,
                       &comp);
  if (rc) return rc;
  if (comp != HFILE_COMPRESSION_NONE)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %.8s block at offset %llu: compressed", r->name,
                       magic, (unsigned long long)off);
  *payload = buf + *pos + HFILE_BLOCK_HEADER_SIZE;
  *plen = size;
  *pos += HFILE_BLOCK_HEADER_SIZE + (size_t)size;
  return 0;
}

static int parse_file_info(struct hfile_reader *r, const uint8_t *p, size_t len, uint64_t off) {
  if (len < 4) goto bad;
  uint32_t n = dfs_get_be32(p);
  if (n > (len - 4) / 8) goto bad;
  r->info = calloc(n ? n : 1, sizeof *r->info);
  if (!r->info) return dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", r->name);
  size_t pos = 4;
  for (uint32_t i = 0; i < n; i++) {
    struct info_entry *e = &r->info[i];
    if (len - pos < 4) goto bad;
    e->klen = dfs_get_be32(p + pos);
    pos += 4;
    if (e->klen > len - pos) goto bad;
    e->key = p + pos;
    pos += e->klen;
    if (len - pos < 4) goto bad;
    e->vlen = dfs_get_be32(p + pos);
    pos += 4;
    if (e->vlen > len - pos) goto bad;
    e->val = p + pos;
    pos += e->vlen;
    r->ninfo++;
  }
  if (pos != len) goto bad;
  return 0;
bad:
  return dfs_err_set(DFS_ECORRUPT, "hfile %s: file info block at offset %llu is malformed",
                     r->name, (unsigned long long)off);
}

int hfile_reader_get_info(const struct hfile_reader *r, const char *key, const uint8_t **val,
                          size_t *len) {
  size_t kl = strlen(key);
  for (size_t i = 0; i < r->ninfo; i++) {
    if (r->info[i].klen == kl && memcmp(r->info[i].key, key, kl) == 0) {
      *val = r->info[i].val;
      *len = r->info[i].vlen;
      return 0;
    }
  }
  return DFS_ENOENT;
}

size_t hfile_reader_info_count(const struct hfile_reader *r) { return r->ninfo; }

void hfile_reader_info_at(const struct hfile_reader *r, size_t i, const uint8_t **key,
                          size_t *klen, const uint8_t **val, size_t *vlen) {
  *key = r->info[i].key;
  *klen = r->info[i].klen;
  *val = r->info[i].val;
  *vlen = r->info[i].vlen;
}

/* A reserved key-valued info entry: decoded into *k; 1 found, 0 absent, <0. */
static int info_key(struct hfile_reader *r, const char *name, struct cell *k) {
  const uint8_t *v;
  size_t len, used;
  if (hfile_reader_get_info(r, name, &v, &len) != 0) return 0;
  if (cell_decode(v, len, k, &used) != 0 || used != len)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: file info %s is malformed", r->name, name);
  return 1;
}

static void reader_free(struct hfile_reader *r) {
  if (r->cache && r->file_id) block_cache_evict_file(r->cache, r->file_id);
  hb_in_free(r->in);
  free(r->loo);
  free(r->info);
  free(r->name);
  free(r);
}

static int open_checked(struct hfile_reader *r) {
  uint64_t size = r->in->size;
  r->hi.file_size = size;
  if (size < HFILE_TRAILER_SIZE)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: %llu bytes, shorter than the %d-byte trailer "
                       "(truncated or not an HFile)", r->name, (unsigned long long)size,
                       HFILE_TRAILER_SIZE);
  uint64_t toff = size - HFILE_TRAILER_SIZE;
  uint8_t t[HFILE_TRAILER_SIZE];
  int rc = hb_in_pread_full(r->in, r->name, toff, t, sizeof t);
  if (rc) return rc;
  if (memcmp(t, HFILE_MAGIC_TRAILER, HFILE_MAGIC_LEN) != 0)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: no trailer magic at offset %llu (truncated or not "
                       "an HFile)", r->name, (unsigned long long)toff);
  uint32_t stored = dfs_get_be32(t + HFILE_TRAILER_SIZE - 4), crc = crc32c(0, t, HFILE_TRAILER_SIZE - 4);
  if (stored != crc)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: trailer at offset %llu: checksum mismatch (stored "
                       "%08x, computed %08x)", r->name, (unsigned long long)toff, stored, crc);
  uint32_t major = dfs_get_be32(t + 8), minor = dfs_get_be32(t + 12);
  if (major != HFILE_VERSION_MAJOR)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: trailer at offset %llu: unsupported version %u.%u",
                       r->name, (unsigned long long)toff, major, minor);
  r->loo_off = dfs_get_be64(t + 16);
  uint64_t loo_size = dfs_get_be64(t + 24);
  r->data_end = dfs_get_be64(t + 32);
  r->hi.entry_count = dfs_get_be64(t + 40);
  r->hi.data_block_count = dfs_get_be64(t + 48);
  r->hi.uncompressed_data_bytes = dfs_get_be64(t + 56);
  r->hi.index_levels = dfs_get_be32(t + 64);
  uint32_t root_n = dfs_get_be32(t + 68);
  uint32_t comp = dfs_get_be32(t + 72), flags = dfs_get_be32(t + 76);
  r->hi.compression = (uint8_t)comp;
  r->hi.has_bloom = flags & HFILE_TRAILER_FLAG_BLOOM;
  if (r->loo_off > toff || toff - r->loo_off != loo_size || r->data_end > r->loo_off ||
      loo_size < 2 * HFILE_BLOCK_HEADER_SIZE || loo_size > SIZE_MAX - 1 ||
      r->hi.index_levels < 1 || r->hi.index_levels > HFILE_MAX_INDEX_LEVELS ||
      comp > HFILE_COMPRESSION_SNAPPY || (flags & ~HFILE_TRAILER_FLAG_BLOOM) ||
      (r->hi.entry_count == 0) != (r->hi.data_block_count == 0) ||
      r->hi.data_block_count > r->hi.entry_count ||
      (r->hi.index_levels == 1 && root_n != r->hi.data_block_count))
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: trailer at offset %llu: inconsistent fields "
                       "(load-on-open %llu+%llu, data end %llu, %u index levels)", r->name,
                       (unsigned long long)toff, (unsigned long long)r->loo_off,
                       (unsigned long long)loo_size, (unsigned long long)r->data_end,
                       r->hi.index_levels);

  r->loo = malloc((size_t)loo_size);
  if (!r->loo) return dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", r->name);
  rc = hb_in_pread_full(r->in, r->name, r->loo_off, r->loo, (size_t)loo_size);
  if (rc) return rc;
  size_t pos = 0;
  const uint8_t *p;
  size_t plen;
  uint64_t root_off = r->loo_off;
  rc = loo_block(r, r->loo, loo_size, &pos, HFILE_MAGIC_ROOT_INDEX, &p, &plen);
  if (rc) return rc;
  rc = validate_index(r, p, plen, r->hi.index_levels == 1, "root index", root_off, &r->root);
  if (rc) return rc;
  if (r->root.n != root_n || (root_n == 0) != (r->hi.entry_count == 0))
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: root index at offset %llu: %u entries, trailer "
                       "says %u", r->name, (unsigned long long)root_off, r->root.n, root_n);
  uint64_t info_off = r->loo_off + pos;
  rc = loo_block(r, r->loo, loo_size, &pos, HFILE_MAGIC_FILE_INFO, &p, &plen);
  if (!rc) rc = parse_file_info(r, p, plen, info_off);
  if (rc) return rc;
  if (r->hi.has_bloom) {
    uint64_t boff = r->loo_off + pos;
    rc = loo_block(r, r->loo, loo_size, &pos, HFILE_MAGIC_BLOOM, &p, &plen);
    if (rc) return rc;
    if (bloom_parse(p, plen, &r->bloom) != 0) {
      char why[200];
      snprintf(why, sizeof why, "%s", dfs_err_msg());
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: bloom block at offset %llu: %s", r->name,
                         (unsigned long long)boff, why);
    }
    r->hi.bloom_rows = r->bloom.nkeys;
  }
  if (pos != loo_size)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: load-on-open section at offset %llu: %llu "
                       "unexpected bytes after its blocks", r->name,
                       (unsigned long long)r->loo_off, (unsigned long long)(loo_size - pos));

  /* reserved file info */
  const uint8_t *v;
  size_t vl;
  if (hfile_reader_get_info(r, HFILE_INFO_MAX_SEQ_ID, &v, &vl) == 0 && vl == 8)
    r->hi.max_seq_id = dfs_get_be64(v);
  r->hi.min_timestamp = INT64_MAX;
  r->hi.max_timestamp = INT64_MIN;
  if (hfile_reader_get_info(r, HFILE_INFO_TIMERANGE, &v, &vl) == 0 && vl == 16) {
    r->hi.min_timestamp = (int64_t)dfs_get_be64(v);
    r->hi.max_timestamp = (int64_t)dfs_get_be64(v + 8);
  }
  int f = info_key(r, HFILE_INFO_FIRST_KEY, &r->first_key);
  if (f < 0) return f;
  int l = info_key(r, HFILE_INFO_LAST_KEY, &r->last_key);
  if (l < 0) return l;
  bool empty = r->hi.entry_count == 0;
  if (f != !empty || l != !empty)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: file info at offset %llu: first/last key %s",
                       r->name, (unsigned long long)info_off, empty ? "in an empty file" : "missing");
  if (!empty) {
    struct idx_ent e0;
    view_entry(&r->root, 0, &e0); /* validated above */
    if (cell_compare(&e0.key, &r->first_key) != 0 || cell_compare(&r->first_key, &r->last_key) > 0)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: file info at offset %llu: first key disagrees "
                         "with the index", r->name, (unsigned long long)info_off);
    r->hi.first_key = &r->first_key;
    r->hi.last_key = &r->last_key;
  }
  return 0;
}

int hfile_reader_open(struct hb_in *in, const char *name, struct block_cache *cache,
                      struct hfile_reader **out) {
  return hfile_reader_open_as(in, name, cache, 0, out);
}

int hfile_reader_open_as(struct hb_in *in, const char *name, struct block_cache *cache,
                         uint64_t file_id, struct hfile_reader **out) {
  struct hfile_reader *r = calloc(1, sizeof *r);
  char *nm = strdup(name ? name : "(unnamed)");
  if (!r || !nm) {
    free(r);
    free(nm);
    hb_in_free(in);
    return dfs_err_set(DFS_ENOMEM, "hfile open: out of memory");
  }
  atomic_init(&r->refs, 1);
  r->in = in;
  r->name = nm;
  r->cache = cache;
  int rc = open_checked(r);
  if (rc) {
    reader_free(r);
    return rc;
  }
  /* an id only once the file is good, so a failed open leaves no blocks
   * (a writer's id: the blocks it cached on write) */
  r->file_id = !cache ? 0 : file_id ? file_id : block_cache_new_file_id(cache);
  *out = r;
  return 0;
}

void hfile_reader_ref(struct hfile_reader *r) { atomic_fetch_add(&r->refs, 1); }

void hfile_reader_unref(struct hfile_reader *r) {
  if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) reader_free(r);
}

const struct hfile_info *hfile_reader_info(const struct hfile_reader *r) { return &r->hi; }
const char *hfile_reader_name(const struct hfile_reader *r) { return r->name; }

bool hfile_reader_may_contain_row(const struct hfile_reader *r, const uint8_t *row, size_t len) {
  if (r->hi.entry_count == 0) return false;
  if (cell_compare_rows(row, len, r->first_key.row, r->first_key.row_len) < 0 ||
      cell_compare_rows(row, len, r->last_key.row, r->last_key.row_len) > 0)
    return false;
  if (!r->hi.has_bloom) return true;
  return bloom_may_contain(&r->bloom, bloom_hash(row, len));
}

void hfile_key_first_on_row(struct cell *k, const uint8_t *row, uint32_t row_len) {
  memset(k, 0, sizeof *k);
  k->row = row;
  k->row_len = row_len;
  k->timestamp = INT64_MAX;
  k->type = 255;
  k->seq_id = UINT64_MAX;
}

/* ---- scanner ---- */

struct level {
  struct cache_block *blk; /* NULL at the root */
  struct idx_view v;
  uint32_t i;
};

struct hfile_scanner {
  struct hfile_reader *r;
  struct level lv[HFILE_MAX_INDEX_LEVELS];
  struct cache_block *data;
  const uint8_t *dp;        /* current data block payload */
  size_t cells_end;
  const uint8_t *restarts;
  uint32_t nrestarts;
  size_t pos, next_pos;     /* current cell and the one after it */
  struct cell cur;
  bool positioned;
};

struct hfile_scanner *hfile_scanner_new(struct hfile_reader *r) {
  struct hfile_scanner *s = calloc(1, sizeof *s);
  if (!s) {
    dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory", r->name);
    return NULL;
  }
  hfile_reader_ref(r);
  s->r = r;
  s->lv[0].v = r->root;
  return s;
}

void hfile_scanner_free(struct hfile_scanner *s) {
  if (!s) return;
  for (int i = 0; i < HFILE_MAX_INDEX_LEVELS; i++) cache_block_unref(s->lv[i].blk);
  cache_block_unref(s->data);
  hfile_reader_unref(s->r);
  free(s);
}

const struct cell *hfile_scanner_peek(const struct hfile_scanner *s) {
  return s->positioned ? &s->cur : NULL;
}

static int entry_at(const struct hfile_scanner *s, uint32_t L, struct idx_ent *e) {
  if (view_entry(&s->lv[L].v, s->lv[L].i, e) != 0) /* verified: cannot happen */
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: index entry %u unreadable", s->r->name,
                       s->lv[L].i);
  return 0;
}

/* Load the child of level L's current entry (an index block into L+1, or
 * the data block under the last level). */
static int load_child(struct hfile_scanner *s, uint32_t L) {
  struct idx_ent e;
  int rc = entry_at(s, L, &e);
  if (rc) return rc;
  uint32_t levels = s->r->hi.index_levels;
  const uint8_t *p;
  size_t len;
  struct cache_block *b;
  if (L + 1 == levels) {
    rc = load_block(s->r, &e, KIND_DATA, &b, &p, &len);
    if (rc) return rc;
    cache_block_unref(s->data);
    s->data = b;
    s->dp = p;
    s->nrestarts = dfs_get_be32(p + len - 4);
    s->cells_end = len - 4 - 4 * (size_t)s->nrestarts;
    s->restarts = p + s->cells_end;
    return 0;
  }
  int kind = L + 2 == levels ? KIND_LEAF : KIND_INTERMEDIATE;
  rc = load_block(s->r, &e, kind, &b, &p, &len);
  if (rc) return rc;
  cache_block_unref(s->lv[L + 1].blk);
  s->lv[L + 1].blk = b;
  view_init(p, len, &s->lv[L + 1].v); /* verified at load */
  s->lv[L + 1].i = 0;
  return 0;
}

static int decode_at(struct hfile_scanner *s, size_t pos) {
  size_t used;
  if (pos >= s->cells_end || cell_decode(s->dp + pos, s->cells_end - pos, &s->cur, &used) != 0)
    return dfs_err_set(DFS_ECORRUPT, "hfile %s: undecodable cell in a verified block", s->r->name);
  s->pos = pos;
  s->next_pos = pos + used;
  s->positioned = true;
  return 0;
}

/* Last entry of a view whose key is <= key (0 if none is). */
static int search_view(const struct hfile_scanner *s, const struct idx_view *v,
                       const struct cell *key, uint32_t *out) {
  uint32_t lo = 0, hi = v->n - 1;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo + 1) / 2;
    struct idx_ent e;
    if (view_entry(v, mid, &e) != 0)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: index entry %u unreadable", s->r->name, mid);
    if (cell_compare(&e.key, key) <= 0) lo = mid;
    else hi = mid - 1;
  }
  *out = lo;
  return 0;
}

/* Walk the index down to the data block that may hold key. */
static int seek_index(struct hfile_scanner *s, const struct cell *key) {
  uint32_t levels = s->r->hi.index_levels;
  for (uint32_t L = 0; L < levels; L++) {
    int rc = search_view(s, &s->lv[L].v, key, &s->lv[L].i);
    if (!rc) rc = load_child(s, L);
    if (rc) return rc;
  }
  return 0;
}

/* Walk the index to the first (last) data block, or from level L down. */
static int descend_edge(struct hfile_scanner *s, uint32_t from, bool last) {
  uint32_t levels = s->r->hi.index_levels;
  for (uint32_t L = from; L < levels; L++) {
    if (L > from) s->lv[L].i = last ? s->lv[L].v.n - 1 : 0;
    int rc = load_child(s, L);
    if (rc) return rc;
  }
  return 0;
}

/* Move to the next (previous) data block: 1, 0 at the edge, < 0. */
static int step_block(struct hfile_scanner *s, bool back) {
  uint32_t levels = s->r->hi.index_levels;
  for (int L = (int)levels - 1; L >= 0; L--) {
    struct level *l = &s->lv[L];
    if (back ? l->i > 0 : l->i + 1 < l->v.n) {
      l->i = back ? l->i - 1 : l->i + 1;
      int rc = descend_edge(s, (uint32_t)L, back);
      return rc ? rc : 1;
    }
  }
  return 0;
}

static int fail(struct hfile_scanner *s, int rc) {
  s->positioned = false;
  return rc;
}

/* Offset of the last cell of the current block. */
static size_t last_cell_pos(struct hfile_scanner *s) {
  size_t pos = dfs_get_be32(s->restarts + 4 * (size_t)(s->nrestarts - 1)), used;
  struct cell c;
  for (;;) {
    if (cell_decode(s->dp + pos, s->cells_end - pos, &c, &used) != 0) return pos;
    if (pos + used >= s->cells_end) return pos;
    pos += used;
  }
}

/* In the current block, the offset of the first cell >= key (cells_end if
 * none). */
static int block_lower_bound(struct hfile_scanner *s, const struct cell *key, size_t *out) {
  uint32_t lo = 0, hi = s->nrestarts - 1;
  struct cell c;
  size_t used;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo + 1) / 2;
    size_t p = dfs_get_be32(s->restarts + 4 * (size_t)mid);
    if (cell_decode(s->dp + p, s->cells_end - p, &c, &used) != 0) return decode_at(s, p);
    if (cell_compare(&c, key) < 0) lo = mid;
    else hi = mid - 1;
  }
  size_t pos = dfs_get_be32(s->restarts + 4 * (size_t)lo);
  while (pos < s->cells_end) {
    if (cell_decode(s->dp + pos, s->cells_end - pos, &c, &used) != 0) return decode_at(s, pos);
    if (cell_compare(&c, key) >= 0) break;
    pos += used;
  }
  *out = pos;
  return 0;
}

int hfile_scanner_seek(struct hfile_scanner *s, const struct cell *key) {
  s->positioned = false;
  if (s->r->root.n == 0) return 0;
  int rc = seek_index(s, key);
  size_t pos = 0;
  if (!rc) rc = block_lower_bound(s, key, &pos);
  if (rc) return fail(s, rc);
  if (pos < s->cells_end) {
    rc = decode_at(s, pos);
    return rc ? fail(s, rc) : 1;
  }
  /* every cell of this block is < key: the next block starts after key */
  rc = step_block(s, false);
  if (rc <= 0) return fail(s, rc);
  rc = decode_at(s, 0);
  return rc ? fail(s, rc) : 1;
}

int hfile_scanner_seek_to_first(struct hfile_scanner *s) {
  s->positioned = false;
  if (s->r->root.n == 0) return 0;
  s->lv[0].i = 0;
  int rc = descend_edge(s, 0, false);
  if (!rc) rc = decode_at(s, 0);
  return rc ? fail(s, rc) : 1;
}

int hfile_scanner_seek_to_last(struct hfile_scanner *s) {
  s->positioned = false;
  if (s->r->root.n == 0) return 0;
  s->lv[0].i = s->r->root.n - 1;
  int rc = descend_edge(s, 0, true);
  if (!rc) rc = decode_at(s, last_cell_pos(s));
  return rc ? fail(s, rc) : 1;
}

int hfile_scanner_seek_before(struct hfile_scanner *s, const struct cell *key) {
  s->positioned = false;
  if (s->r->root.n == 0) return 0;
  int rc = seek_index(s, key);
  size_t pos = 0;
  if (!rc) rc = block_lower_bound(s, key, &pos);
  if (rc) return fail(s, rc);
  if (pos == 0) {
    /* the block's first cell is >= key: the answer is the previous block's last */
    rc = step_block(s, true);
    if (rc <= 0) return fail(s, rc);
    rc = decode_at(s, last_cell_pos(s));
    return rc ? fail(s, rc) : 1;
  }
  /* the cell just before pos: walk from the restart point before it */
  uint32_t ri = 0;
  while (ri + 1 < s->nrestarts && dfs_get_be32(s->restarts + 4 * (size_t)(ri + 1)) < pos) ri++;
  size_t p = dfs_get_be32(s->restarts + 4 * (size_t)ri);
  for (;;) {
    rc = decode_at(s, p);
    if (rc) return fail(s, rc);
    if (s->next_pos >= pos) return 1;
    p = s->next_pos;
  }
}

int hfile_scanner_next(struct hfile_scanner *s) {
  if (!s->positioned) return 0;
  if (s->next_pos < s->cells_end) {
    int rc = decode_at(s, s->next_pos);
    return rc ? fail(s, rc) : 1;
  }
  int rc = step_block(s, false);
  if (rc <= 0) return fail(s, rc);
  rc = decode_at(s, 0);
  return rc ? fail(s, rc) : 1;
}
