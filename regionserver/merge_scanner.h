/*
 * merge_scanner.h - a k-way merge of sorted cell sources (kv_scanner.h)
 * into one stream, forward or reversed: HBase's KeyValueHeap /
 * ReversedKeyValueHeap, LevelDB's MergingIterator.
 *
 * A binary heap holds the positioned sources keyed by their cached peek().
 * Forward, the heap orders by cell_compare() (ties: the source with the
 * higher kv_scanner.order first). Reversed, it orders by row descending,
 * then by cell_compare() inside the row: a reversed scan returns rows from
 * the last to the first, but the cells of one row in forward order. When a
 * source leaves the row being returned, it is sent to its previous row
 * (seek_to_previous_row), so every source is always inside a row the scan
 * has not passed.
 *
 * Moving costs O(log k) comparisons and no allocation. Seek keys are
 * copied into a buffer the merge owns (it grows, never shrinks), so a key
 * may point into a cell of one of the sources.
 *
 * One merge is used by one thread at a time. Errors from a source (< 0)
 * are returned and stick: every later move returns the same code.
 */
#ifndef HB_MERGE_SCANNER_H
#define HB_MERGE_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"
#include "kv_scanner.h"

struct merge_scanner;

/* A merge over subs[0..n) (n may be 0). Takes ownership of every source,
 * also on failure (then they are closed); the array itself stays the
 * caller's. Not positioned until merge_scanner_start(). 0 or DFS_ENOMEM. */
int merge_scanner_open(struct kv_scanner *const *subs, size_t n, bool reversed,
                       struct merge_scanner **out);

/* Positions the merge. Forward: at the first cell of the first row >= row
 * (row_len 0: the very first cell). Reversed: at the first cell of the
 * last row <= row (row_len 0: the last row). 1 positioned, 0 empty, < 0. */
int merge_scanner_start(struct merge_scanner *m, const uint8_t *row, uint32_t row_len);

/* The current cell, NULL at the end. Valid until the merge moves, or until
 * close when merge_scanner_stable(). */
const struct cell *merge_scanner_peek(const struct merge_scanner *m);

/* Moves past the current cell. 0 or < 0. */
int merge_scanner_next(struct merge_scanner *m);

/* Moves forward to the first cell >= key. Reversed, key must be in the
 * current row; if that row has no cell >= key, the merge moves on to the
 * next row of the scan (the previous row). Sources already at or past key
 * do not move. 0 or < 0. */
int merge_scanner_reseek(struct merge_scanner *m, const struct cell *key);

/* Skips the rest of the current row: forward to the next row, reversed to
 * the previous one. 0 or < 0. */
int merge_scanner_next_row(struct merge_scanner *m);

/* Whether every source is KV_SCANNER_STABLE (cells outlive moves). */
bool merge_scanner_stable(const struct merge_scanner *m);

/* Number of sources (for tests and metrics). */
size_t merge_scanner_sources(const struct merge_scanner *m);

/* Closes every source and frees the merge. NULL is a no-op. */
void merge_scanner_close(struct merge_scanner *m);

#endif /* HB_MERGE_SCANNER_H */
