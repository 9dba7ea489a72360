/*
 * kv_scanner.h - the one interface of every sorted cell source the read
 * path merges: a MemStore scanner, an HFile scanner, or anything else that
 * yields cells in cell_compare() order.
 *
 * A source is a struct that starts with a struct kv_scanner whose ops
 * table implements the calls below (a vtable, as LevelDB's Iterator). The
 * merge (merge_scanner.h) caches each source's peek() result, so peek must
 * be cheap and must return the same pointer until the source moves.
 *
 * Reversed scans are built from forward moves: inside a row cells always
 * come in forward order; seek_to_previous_row / seek_to_last_row jump to
 * the first cell of an earlier row. A source with `seek(key) -> bool`,
 * `peek()`, `next()` and a "last cell before key" seek (HFile's
 * seek_before) adapts in a few lines: seek_to_previous_row(key) is
 * seek_before(first-on-row(key.row)) then seek(first-on-row(that row)).
 *
 * Return codes: seeks give 1 (positioned on a cell), 0 (no such cell: the
 * source is exhausted) or a negative error from errors.h with the
 * explanation set (an HFile block that fails its checksum). next gives 0
 * or a negative error; peek gives NULL at the end.
 */
#ifndef HB_KV_SCANNER_H
#define HB_KV_SCANNER_H

#include <stdbool.h>
#include <stdint.h>

#include "cell.h"

struct kv_scanner;
struct memstore;
struct memstore_scanner;

struct kv_scanner_ops {
  /* The current cell or NULL at the end. Valid until the source moves
   * (next, any seek, close) - or until close if the source sets
   * KV_SCANNER_STABLE. */
  const struct cell *(*peek)(struct kv_scanner *s);
  /* Moves past the current cell. 0 or < 0. */
  int (*next)(struct kv_scanner *s);
  /* Positions at the first cell >= key (cell_compare; key's value and
   * seq_id matter only as the comparator says; key may have an empty
   * family, which sorts before every cell of its row). Seeking backwards
   * is allowed. 1 / 0 / < 0. key's bytes stay valid during the call. */
  int (*seek)(struct kv_scanner *s, const struct cell *key);
  /* Positions at the first cell of the last row that sorts before key's
   * row. 1 / 0 / < 0. */
  int (*seek_to_previous_row)(struct kv_scanner *s, const struct cell *key);
  /* Positions at the first cell of the last row. 1 / 0 / < 0. */
  int (*seek_to_last_row)(struct kv_scanner *s);
  /* Optional (NULL = always true): false only if the source certainly has
   * no cell of this row (a bloom filter). Lets a get skip the source. */
  bool (*may_contain_row)(struct kv_scanner *s, const uint8_t *row, uint32_t len);
  /* Releases the source and the struct itself. */
  void (*close)(struct kv_scanner *s);
};

/* Cells (and their bytes) stay valid until close, not just until the
 * source moves: the read path then need not copy them (MemStore arenas). */
#define KV_SCANNER_STABLE 1u

struct kv_scanner {
  const struct kv_scanner_ops *ops;
  uint32_t flags;  /* KV_SCANNER_* */
  /* Tie-break for cells equal under cell_compare (same key and seq_id) in
   * two sources: the higher order wins (newer file, MemStore highest).
   * HFiles written by compactions may carry seq_id 0. */
  uint64_t order;
};

static inline const struct cell *kv_scanner_peek(struct kv_scanner *s) { return s->ops->peek(s); }
static inline int kv_scanner_next(struct kv_scanner *s) { return s->ops->next(s); }
static inline int kv_scanner_seek(struct kv_scanner *s, const struct cell *key) {
  return s->ops->seek(s, key);
}
static inline int kv_scanner_seek_to_previous_row(struct kv_scanner *s, const struct cell *key) {
  return s->ops->seek_to_previous_row(s, key);
}
static inline int kv_scanner_seek_to_last_row(struct kv_scanner *s) {
  return s->ops->seek_to_last_row(s);
}
static inline bool kv_scanner_may_contain_row(struct kv_scanner *s, const uint8_t *row,
                                              uint32_t len) {
  return s->ops->may_contain_row ? s->ops->may_contain_row(s, row, len) : true;
}
/* NULL is a no-op. */
static inline void kv_scanner_close(struct kv_scanner *s) {
  if (s) s->ops->close(s);
}

/* Seek keys. They point at the caller's bytes (row, family, qualifier).
 * first_on_row: before every cell of row (empty family).
 * first_on_column: before every cell of (row, family, qualifier).
 * last_on_column: after every cell of (row, family, qualifier) and before
 * the next column (timestamp INT64_MIN, type 0, which no real cell has). */
void kv_key_first_on_row(struct cell *k, const uint8_t *row, uint32_t row_len);
void kv_key_first_on_column(struct cell *k, const struct cell *c);
void kv_key_last_on_column(struct cell *k, const struct cell *c);

/* ---- MemStore adapter (kv_scanner_memstore.c) --------------------------- */

/* Opens a MemStore scanner (active + snapshot) at read_point and wraps it.
 * The result is KV_SCANNER_STABLE. NULL with DFS_ENOMEM set. */
struct kv_scanner *kv_scanner_memstore_open(struct memstore *ms, uint64_t read_point,
                                            uint64_t order);
/* Wraps an open MemStore scanner (e.g. a flush's snapshot scanner); takes
 * ownership of ms_scanner (closed with the adapter, also on failure). NULL
 * with DFS_ENOMEM set. */
struct kv_scanner *kv_scanner_memstore_wrap(struct memstore_scanner *ms_scanner,
                                            uint64_t order);

#endif /* HB_KV_SCANNER_H */
