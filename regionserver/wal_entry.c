/*
 * wal_entry.c - the WAL's byte formats: the file header and one record
 * (docs/formats.md, "WAL"). Pure functions on buffers, no I/O: the writer
 * encodes into its batch, the reader and the fuzz target decode.
 *
 * The record header carries a checksum of the length alone besides the
 * checksum of the whole record. That is what tells a torn tail from
 * damage: the DFS only ever shows a prefix of what the writer wrote, so an
 * intact length that points past the visible end is a record cut short by
 * a dying writer, while a length that fails its checksum is corruption -
 * without it a flipped length byte would silently end the log early.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "errors.h"
#include "wal.h"

/* "\x89" catches 7-bit channels, "\r\n" line-ending conversions (as PNG). */
static const uint8_t wal_magic[8] = {0x89, 'H', 'B', 'W', 'A', 'L', '\r', '\n'};

enum { WAL_KIND_EDIT = 1 }; /* payload kinds; numbers are never reused */

/* kind, durability, region_len, table_len, seq, time, n_cells */
#define PAYLOAD_FIXED (1 + 1 + 2 + 2 + 8 + 8 + 4)
/* smallest encoded cell: lengths(8) + key(2+1+1+8+1) + seq(8) */
#define MIN_CELL_BYTES 29

/* The cell as written: its sequence id is the entry's. */
static inline struct cell stamped(const struct cell *c, uint64_t seq) {
  struct cell s = *c;
  s.seq_id = seq;
  return s;
}

static size_t payload_size(const struct wal_entry *e) {
  size_t n = PAYLOAD_FIXED + (size_t)e->region_len + e->table_len;
  for (size_t i = 0; i < e->n_cells; i++) n += cell_encoded_size(&e->cells[i]);
  return n;
}

size_t wal_record_size(const struct wal_entry *e) {
  return WAL_RECORD_HEADER_LEN + payload_size(e);
}

int wal_entry_validate(const struct wal_entry *e) {
  if (!e->region || e->region_len == 0 || e->region_len > WAL_MAX_NAME)
    return dfs_err_set(DFS_EINVAL, "wal entry: region name length %u (must be 1..%u)",
                       e->region_len, WAL_MAX_NAME);
  if (!e->table || e->table_len == 0 || e->table_len > WAL_MAX_NAME)
    return dfs_err_set(DFS_EINVAL, "wal entry: table name length %u (must be 1..%u)",
                       e->table_len, WAL_MAX_NAME);
  if (e->durability > WAL_FSYNC)
    return dfs_err_set(DFS_EINVAL, "wal entry: unknown durability %u", e->durability);
  if (e->n_cells && !e->cells) return dfs_err_set(DFS_EINVAL, "wal entry: %zu cells, no array",
                                                  e->n_cells);
  if (e->n_cells > UINT32_MAX)
    return dfs_err_set(DFS_ETOOBIG, "wal entry: %zu cells", e->n_cells);
  for (size_t i = 0; i < e->n_cells; i++) {
    int rc = cell_validate(&e->cells[i]);
    if (rc) return dfs_err_set(rc, "wal entry: cell %zu: %s", i, dfs_err_msg());
  }
  size_t n = payload_size(e);
  if (n > WAL_MAX_RECORD)
    return dfs_err_set(DFS_ETOOBIG, "wal entry: %zu bytes encoded, more than the %u a record holds",
                       n, WAL_MAX_RECORD);
  return 0;
}

size_t wal_record_encode(const struct wal_entry *e, uint8_t *out) {
  size_t plen = payload_size(e);
  uint8_t *p = out + WAL_RECORD_HEADER_LEN;
  p[0] = WAL_KIND_EDIT;
  p[1] = e->durability;
  dfs_put_be16(p + 2, e->region_len);
  p += 4;
  memcpy(p, e->region, e->region_len);
  p += e->region_len;
  dfs_put_be16(p, e->table_len);
  p += 2;
  memcpy(p, e->table, e->table_len);
  p += e->table_len;
  dfs_put_be64(p, e->seq_id);
  dfs_put_be64(p + 8, (uint64_t)e->write_time_ms);
  dfs_put_be32(p + 16, (uint32_t)e->n_cells);
  p += 20;
  for (size_t i = 0; i < e->n_cells; i++) {
    struct cell c = stamped(&e->cells[i], e->seq_id);
    p += cell_encode(&c, p);
  }
  dfs_put_be32(out, (uint32_t)plen);
  dfs_put_be32(out + 4, crc32c(0, out, 4));
  uint32_t crc = crc32c(0, out, 4);
  crc = crc32c(crc, out + WAL_RECORD_HEADER_LEN, plen);
  dfs_put_be32(out + 8, crc);
  return WAL_RECORD_HEADER_LEN + plen;
}

void wal_header_encode(uint8_t out[WAL_HEADER_LEN]) {
  memcpy(out, wal_magic, 8);
  dfs_put_be32(out + 8, WAL_VERSION);
  dfs_put_be32(out + 12, crc32c(0, out, 12));
}

int wal_header_check(const uint8_t *buf, size_t len, const char *name) {
  if (len < WAL_HEADER_LEN)
    return dfs_err_set(DFS_ECORRUPT, "wal %s: header: %zu bytes, needs %d", name, len,
                       WAL_HEADER_LEN);
  if (memcmp(buf, wal_magic, 8) != 0)
    return dfs_err_set(DFS_ECORRUPT, "wal %s: offset 0: bad magic (not a WAL file)", name);
  if (dfs_get_be32(buf + 12) != crc32c(0, buf, 12))
    return dfs_err_set(DFS_ECORRUPT, "wal %s: offset 0: header checksum mismatch", name);
  uint32_t v = dfs_get_be32(buf + 8);
  if (v != WAL_VERSION)
    return dfs_err_set(DFS_ECORRUPT, "wal %s: offset 0: version %u, this reader knows %d", name,
                       v, WAL_VERSION);
  return 0;
}

/* Decodes a checksummed payload into e. */
static int decode_payload(const uint8_t *p, size_t len, const char *name, uint64_t off,
                          struct wal_entry *e, struct cell **cells, size_t *cap) {
#define BAD(...) dfs_err_set(DFS_ECORRUPT, "wal %s: record at offset %llu: " __VA_ARGS__)
  unsigned long long o = (unsigned long long)off;
  if (len < PAYLOAD_FIXED) return BAD("payload of %zu bytes is too short", name, o, len);
  if (p[0] != WAL_KIND_EDIT) return BAD("unknown kind %u", name, o, p[0]);
  if (p[1] > WAL_FSYNC) return BAD("unknown durability %u", name, o, p[1]);
  memset(e, 0, sizeof *e);
  e->durability = p[1];
  size_t pos = 2;
  uint32_t rlen = dfs_get_be16(p + pos);
  pos += 2;
  if (rlen == 0 || len - pos < (size_t)rlen + 2 + 20)
    return BAD("region name length %u does not fit", name, o, rlen);
  e->region = p + pos;
  e->region_len = rlen;
  pos += rlen;
  uint32_t tlen = dfs_get_be16(p + pos);
  pos += 2;
  if (tlen == 0 || len - pos < (size_t)tlen + 20)
    return BAD("table name length %u does not fit", name, o, tlen);
  e->table = p + pos;
  e->table_len = tlen;
  pos += tlen;
  e->seq_id = dfs_get_be64(p + pos);
  e->write_time_ms = (int64_t)dfs_get_be64(p + pos + 8);
  uint32_t n = dfs_get_be32(p + pos + 16);
  pos += 20;
  /* Bound the count by the bytes left before allocating for it. */
  if ((uint64_t)n * MIN_CELL_BYTES > len - pos)
    return BAD("%u cells cannot fit in %zu bytes", name, o, n, len - pos);
  if (n > *cap) {
    size_t ncap = *cap ? *cap : 8;
    while (ncap < n) ncap *= 2;
    struct cell *nc = realloc(*cells, ncap * sizeof *nc);
    if (!nc) return dfs_err_set(DFS_ENOMEM, "wal %s: out of memory for %u cells", name, n);
    *cells = nc;
    *cap = ncap;
  }
  for (uint32_t i = 0; i < n; i++) {
    size_t used = 0;
    int rc = cell_decode(p + pos, len - pos, &(*cells)[i], &used);
    if (rc) return BAD("cell %u: %s", name, o, i, dfs_err_msg());
    if ((*cells)[i].seq_id != e->seq_id)
      return BAD("cell %u has sequence id %llu, the entry %llu", name, o, i,
                 (unsigned long long)(*cells)[i].seq_id, (unsigned long long)e->seq_id);
    pos += used;
  }
  if (pos != len) return BAD("%zu bytes after the last cell", name, o, len - pos);
  e->cells = n ? *cells : NULL;
  e->n_cells = n;
  return 0;
#undef BAD
}

int wal_record_decode(const uint8_t *buf, size_t len, const char *name, uint64_t offset,
                      struct wal_entry *e, struct cell **cells, size_t *cap, size_t *used) {
  unsigned long long o = (unsigned long long)offset;
  *used = 0;
  if (len < 8) return 0; /* even the length and its checksum are cut */
  uint32_t plen = dfs_get_be32(buf);
  if (dfs_get_be32(buf + 4) != crc32c(0, buf, 4))
    return dfs_err_set(DFS_ECORRUPT,
                       "wal %s: record at offset %llu: header checksum mismatch (length %u)", name,
                       o, plen);
  if (plen > WAL_MAX_RECORD)
    return dfs_err_set(DFS_ECORRUPT, "wal %s: record at offset %llu: length %u over the %u limit",
                       name, o, plen, WAL_MAX_RECORD);
  size_t total = WAL_RECORD_HEADER_LEN + (size_t)plen;
  *used = total;
  if (len < total) return 0;
  uint32_t crc = crc32c(0, buf, 4);
  crc = crc32c(crc, buf + WAL_RECORD_HEADER_LEN, plen);
  if (crc != dfs_get_be32(buf + 8))
    return dfs_err_set(DFS_ECORRUPT,
                       "wal %s: record at offset %llu: checksum mismatch (length %u, "
                       "stored %08x, computed %08x)",
                       name, o, plen, dfs_get_be32(buf + 8), crc);
  int rc = decode_payload(buf + WAL_RECORD_HEADER_LEN, plen, name, offset, e, cells, cap);
  return rc ? rc : 1;
}
