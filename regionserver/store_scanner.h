/*
 * store_scanner.h - the read path of one store (one column family of a
 * region): a merge_scanner over its MemStore and HFiles driven by a
 * query_matcher. HBase's StoreScanner.
 *
 * A region scan (region_scanner.h) asks it for the visible cells of one
 * row at a time; a flush or compaction asks it for every surviving cell in
 * order (store_scanner_next_cell with a QM_COMPACT_* matcher).
 *
 * Cells are handed out in a row_buf: an array of struct cell whose bytes
 * either stay in the sources (when every source is KV_SCANNER_STABLE, as
 * MemStore arenas are) or are copied into chunks the row_buf reuses from
 * row to row, so the hot path does not allocate.
 */
#ifndef HB_STORE_SCANNER_H
#define HB_STORE_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"
#include "kv_scanner.h"
#include "query_matcher.h"

/* A growable list of cells, optionally with its own copies of their bytes.
 * Zero-initialise; row_buf_free() releases it. */
struct row_buf_chunk;
struct row_buf {
  struct cell *cells;
  size_t n, cap;
  struct row_buf_chunk *chunks;
  size_t nchunks, cur;
};

/* Appends c; with copy, its row/family/qualifier/value bytes are copied
 * (valid until row_buf_clear). 0 or DFS_ENOMEM. */
int row_buf_add(struct row_buf *b, const struct cell *c, bool copy);
/* Empties the list, keeping its memory. */
void row_buf_clear(struct row_buf *b);
void row_buf_free(struct row_buf *b);

struct store_scanner;

/* A store scanner over sources[0..n) (ownership taken, also on failure)
 * with a matcher made from cfg (its qualifiers must outlive the scanner).
 * Not positioned until store_scanner_start(). 0 or DFS_ENOMEM. */
int store_scanner_open(struct kv_scanner *const *sources, size_t n, const struct qm_config *cfg,
                       bool reversed, struct store_scanner **out);
void store_scanner_close(struct store_scanner *ss);

/* As merge_scanner_start(): 1, 0 (nothing) or < 0. */
int store_scanner_start(struct store_scanner *ss, const uint8_t *row, uint32_t row_len);

/* The next raw cell (not yet judged), NULL at the end: its row is the row
 * the store would read next. Valid until the scanner moves. */
const struct cell *store_scanner_peek(const struct store_scanner *ss);

/* Reads the store's part of row (which the caller keeps valid, and which
 * must be store_scanner_peek()'s row) and appends its visible cells to out
 * (copying their bytes unless the sources are stable). Afterwards the
 * scanner is past the row. 0 or < 0. */
int store_scanner_read_row(struct store_scanner *ss, const uint8_t *row, uint32_t row_len,
                           struct row_buf *out);

/* Skips the rest of the current row. 0 or < 0. */
int store_scanner_skip_row(struct store_scanner *ss);

/* Compactions and flushes (forward only): the next cell the matcher keeps,
 * across rows. 1 and *out (valid until the next call), 0 at the end, < 0. */
int store_scanner_next_cell(struct store_scanner *ss, const struct cell **out);

#endif /* HB_STORE_SCANNER_H */
