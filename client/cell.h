/*
 * cell.h - the database's cell (KeyValue) model and its one comparator.
 *
 * A cell is (row, family, qualifier, timestamp, type, sequence id, value).
 * Order, used everywhere (MemStore, HFile, scanners, WAL replay):
 *   row asc, family asc, qualifier asc (unsigned bytes, shorter prefix
 *   first), timestamp desc, type desc, sequence id desc.
 * So for one column the newest version comes first, and a delete marker
 * sorts before the puts it covers at the same timestamp.
 *
 * A struct cell only points at bytes it does not own. The encoded form
 * (cell_encode / cell_decode) is HBase's KeyValue layout followed by the
 * sequence id, all integers big-endian:
 *   u32 key_len | u32 value_len | u16 row_len | row | u8 family_len | family
 *   | qualifier | u64 timestamp | u8 type | value | u64 seq_id
 * where key_len = 2 + row_len + 1 + family_len + qualifier_len + 8 + 1.
 * The decoder is bounds-checked and is what HFile and WAL readers use on
 * bytes from the disk (fuzzed).
 */
#ifndef HB_CELL_H
#define HB_CELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Type codes are HBase's, so "type desc" puts markers before puts. */
enum cell_type {
  CELL_PUT = 4,
  CELL_DELETE = 8,                  /* one version (row, family, qualifier, ts) */
  CELL_DELETE_FAMILY_VERSION = 10,  /* every column of a family at exactly ts */
  CELL_DELETE_COLUMN = 12,          /* every version of a column <= ts */
  CELL_DELETE_FAMILY = 14,          /* every column of a family <= ts */
};

#define CELL_MAX_ROW 32767u          /* HBase: Short.MAX_VALUE */
#define CELL_MAX_FAMILY 127u         /* HBase: Byte.MAX_VALUE */
#define CELL_MAX_QUALIFIER (1u << 20)
#define CELL_MAX_VALUE (64u << 20)   /* a hard cap, well above hbase.client.keyvalue.maxsize */
#define CELL_LATEST_TIMESTAMP INT64_MAX

struct cell {
  const uint8_t *row;
  const uint8_t *family;
  const uint8_t *qualifier;
  const uint8_t *value;
  uint32_t row_len;
  uint32_t family_len;
  uint32_t qualifier_len;
  uint32_t value_len;
  int64_t timestamp;
  uint64_t seq_id;   /* MVCC write number / WAL sequence id; 0 once irrelevant */
  uint8_t type;      /* enum cell_type */
};

/* Whether type is one of enum cell_type. */
bool cell_type_valid(uint8_t type);
bool cell_is_delete(const struct cell *c);
const char *cell_type_name(uint8_t type); /* "Put", "DeleteColumn", ... */

/* The comparator: <0, 0, >0. */
int cell_compare(const struct cell *a, const struct cell *b);
/* Parts of it, for scanners and blooms. */
int cell_compare_rows(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
int cell_compare_row_of(const struct cell *a, const struct cell *b);
/* Same row, family and qualifier. */
bool cell_same_column(const struct cell *a, const struct cell *b);
/* Everything but the sequence id and the value. */
int cell_compare_key(const struct cell *a, const struct cell *b);

/* Checks lengths and type against the limits above; 0 or DFS_EINVAL. */
int cell_validate(const struct cell *c);

/* Encoded form (layout above). */
size_t cell_encoded_size(const struct cell *c);
/* Writes cell_encoded_size(c) bytes to out; returns that size. */
size_t cell_encode(const struct cell *c, uint8_t *out);
/* Decodes one cell from buf[0..len): points into buf, sets *used.
 * 0, or DFS_ECORRUPT when the bytes are not a well-formed cell (lengths
 * out of bounds, inconsistent key_len, unknown type). */
int cell_decode(const uint8_t *buf, size_t len, struct cell *out, size_t *used);

/* A cell that owns its bytes (one allocation): for results handed to users. */
struct cell *cell_dup(const struct cell *c);
void cell_free(struct cell *c);

#endif /* HB_CELL_H */
