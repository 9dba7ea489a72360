/*
 * cell.c - the cell comparator and the KeyValue encoding (cell.h).
 */
#include "cell.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "errors.h"

bool cell_type_valid(uint8_t type) {
  return type == CELL_PUT || type == CELL_DELETE || type == CELL_DELETE_FAMILY_VERSION ||
         type == CELL_DELETE_COLUMN || type == CELL_DELETE_FAMILY;
}

bool cell_is_delete(const struct cell *c) { return c->type != CELL_PUT; }

const char *cell_type_name(uint8_t type) {
  switch (type) {
    case CELL_PUT: return "Put";
    case CELL_DELETE: return "Delete";
    case CELL_DELETE_FAMILY_VERSION: return "DeleteFamilyVersion";
    case CELL_DELETE_COLUMN: return "DeleteColumn";
    case CELL_DELETE_FAMILY: return "DeleteFamily";
    default: return "Unknown";
  }
}

/* Unsigned lexicographic order, a proper prefix first. */
int cell_compare_rows(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int cell_compare_row_of(const struct cell *a, const struct cell *b) {
  return cell_compare_rows(a->row, a->row_len, b->row, b->row_len);
}

bool cell_same_column(const struct cell *a, const struct cell *b) {
  return a->row_len == b->row_len && a->family_len == b->family_len &&
         a->qualifier_len == b->qualifier_len &&
         (a->row_len == 0 || memcmp(a->row, b->row, a->row_len) == 0) &&
         (a->family_len == 0 || memcmp(a->family, b->family, a->family_len) == 0) &&
         (a->qualifier_len == 0 || memcmp(a->qualifier, b->qualifier, a->qualifier_len) == 0);
}

int cell_compare_key(const struct cell *a, const struct cell *b) {
  int c = cell_compare_rows(a->row, a->row_len, b->row, b->row_len);
  if (c) return c;
  c = cell_compare_rows(a->family, a->family_len, b->family, b->family_len);
  if (c) return c;
  c = cell_compare_rows(a->qualifier, a->qualifier_len, b->qualifier, b->qualifier_len);
  if (c) return c;
  if (a->timestamp != b->timestamp) return a->timestamp > b->timestamp ? -1 : 1; /* newest first */
  if (a->type != b->type) return a->type > b->type ? -1 : 1;                     /* markers first */
  return 0;
}

int cell_compare(const struct cell *a, const struct cell *b) {
  int c = cell_compare_key(a, b);
  if (c) return c;
  if (a->seq_id != b->seq_id) return a->seq_id > b->seq_id ? -1 : 1; /* latest write first */
  return 0;
}

int cell_validate(const struct cell *c) {
  if (c->row_len == 0 || c->row_len > CELL_MAX_ROW)
    return dfs_err_set(DFS_EINVAL, "cell: row length %u (must be 1..%u)", c->row_len, CELL_MAX_ROW);
  if (c->family_len == 0 || c->family_len > CELL_MAX_FAMILY)
    return dfs_err_set(DFS_EINVAL, "cell: family length %u (must be 1..%u)", c->family_len,
                       CELL_MAX_FAMILY);
  if (c->qualifier_len > CELL_MAX_QUALIFIER)
    return dfs_err_set(DFS_EINVAL, "cell: qualifier length %u (at most %u)", c->qualifier_len,
                       CELL_MAX_QUALIFIER);
  if (c->value_len > CELL_MAX_VALUE)
    return dfs_err_set(DFS_EINVAL, "cell: value length %u (at most %u)", c->value_len,
                       CELL_MAX_VALUE);
  if (!cell_type_valid(c->type))
    return dfs_err_set(DFS_EINVAL, "cell: unknown type %u", c->type);
  return 0;
}

static uint32_t key_len_of(const struct cell *c) {
  return 2 + c->row_len + 1 + c->family_len + c->qualifier_len + 8 + 1;
}

size_t cell_encoded_size(const struct cell *c) {
  return 4 + 4 + (size_t)key_len_of(c) + c->value_len + 8;
}

static uint8_t *put_bytes(uint8_t *p, const uint8_t *b, size_t n) {
  if (n) memcpy(p, b, n);
  return p + n;
}

size_t cell_encode(const struct cell *c, uint8_t *out) {
  uint8_t *p = out;
  dfs_put_be32(p, key_len_of(c));
  dfs_put_be32(p + 4, c->value_len);
  p += 8;
  *p++ = (uint8_t)(c->row_len >> 8);
  *p++ = (uint8_t)c->row_len;
  p = put_bytes(p, c->row, c->row_len);
  *p++ = (uint8_t)c->family_len;
  p = put_bytes(p, c->family, c->family_len);
  p = put_bytes(p, c->qualifier, c->qualifier_len);
  dfs_put_be64(p, (uint64_t)c->timestamp);
  p += 8;
  *p++ = c->type;
  p = put_bytes(p, c->value, c->value_len);
  dfs_put_be64(p, c->seq_id);
  p += 8;
  return (size_t)(p - out);
}

int cell_decode(const uint8_t *buf, size_t len, struct cell *out, size_t *used) {
  if (len < 8) return dfs_err_set(DFS_ECORRUPT, "cell: %zu bytes, shorter than a header", len);
  uint32_t klen = dfs_get_be32(buf), vlen = dfs_get_be32(buf + 4);
  /* smallest key: row_len(2) + 1-byte row + family_len(1) + ts(8) + type(1) */
  if (klen < 2 + 1 + 1 + 8 + 1 || klen > 2 + CELL_MAX_ROW + 1 + CELL_MAX_FAMILY + CELL_MAX_QUALIFIER + 9)
    return dfs_err_set(DFS_ECORRUPT, "cell: key length %u out of bounds", klen);
  if (vlen > CELL_MAX_VALUE)
    return dfs_err_set(DFS_ECORRUPT, "cell: value length %u out of bounds", vlen);
  size_t total = 8 + (size_t)klen + vlen + 8;
  if (total > len)
    return dfs_err_set(DFS_ECORRUPT, "cell: needs %zu bytes, %zu left", total, len);
  const uint8_t *k = buf + 8;
  uint32_t rlen = (uint32_t)k[0] << 8 | k[1];
  if (rlen == 0 || rlen > CELL_MAX_ROW || 2 + (size_t)rlen + 1 > klen - 9)
    return dfs_err_set(DFS_ECORRUPT, "cell: row length %u does not fit key length %u", rlen, klen);
  uint32_t flen = k[2 + rlen];
  if (flen == 0 || flen > CELL_MAX_FAMILY || 2 + (size_t)rlen + 1 + flen > klen - 9)
    return dfs_err_set(DFS_ECORRUPT, "cell: family length %u does not fit key length %u", flen,
                       klen);
  uint32_t qlen = klen - 9 - 2 - rlen - 1 - flen;
  if (qlen > CELL_MAX_QUALIFIER)
    return dfs_err_set(DFS_ECORRUPT, "cell: qualifier length %u out of bounds", qlen);
  const uint8_t *ts = k + klen - 9;
  uint8_t type = ts[8];
  if (!cell_type_valid(type)) return dfs_err_set(DFS_ECORRUPT, "cell: unknown type %u", type);
  out->row = k + 2;
  out->row_len = rlen;
  out->family = k + 3 + rlen;
  out->family_len = flen;
  out->qualifier = out->family + flen;
  out->qualifier_len = qlen;
  out->timestamp = (int64_t)dfs_get_be64(ts);
  out->type = type;
  out->value = k + klen;
  out->value_len = vlen;
  out->seq_id = dfs_get_be64(k + klen + vlen);
  if (used) *used = total;
  return 0;
}

struct cell *cell_dup(const struct cell *c) {
  size_t n = (size_t)c->row_len + c->family_len + c->qualifier_len + c->value_len;
  struct cell *d = malloc(sizeof *d + (n ? n : 1));
  if (!d) return NULL;
  *d = *c;
  uint8_t *p = (uint8_t *)(d + 1);
  d->row = p; p = put_bytes(p, c->row, c->row_len);
  d->family = p; p = put_bytes(p, c->family, c->family_len);
  d->qualifier = p; p = put_bytes(p, c->qualifier, c->qualifier_len);
  d->value = p; put_bytes(p, c->value, c->value_len);
  return d;
}

void cell_free(struct cell *c) { free(c); }
