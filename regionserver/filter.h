/*
 * filter.h - scan filters: which rows and cells a scan returns, after
 * versions, TTL and delete markers have been applied (query_matcher.h).
 *
 * A filter judges one whole row at a time: the region scanner hands it
 * the row's visible cells and a mark per cell (FILTER_KEEP, set for all at
 * first). The filter clears FILTER_KEEP on cells it drops, may set
 * FILTER_STRIP_VALUE (the cell is returned without its value), and says
 * whether the row passes at all. Seeing the whole row is what a
 * single-column-value filter needs; row-key filters are also asked before
 * the row's cells are read (filter_skip_row_key), so a rejected row costs
 * one seek.
 *
 * Filters:
 *   prefix            rows whose key starts with a prefix
 *   row regex         rows whose key matches a POSIX extended regex
 *                     (regexec over the key up to its first NUL byte)
 *   column prefix     cells whose qualifier starts with a prefix
 *   single column value  rows whose (family, qualifier) newest returned
 *                     value compares true: value OP operand, OP one of
 *                     = != < <= > >= on unsigned bytes (binary), or = !=
 *                     for "contains" (substring, ASCII case-insensitive
 *                     as HBase's SubstringComparator). A row without the
 *                     column passes unless filter_if_missing. The column
 *                     must be among the scanned columns.
 *   first key only    the first cell of each row
 *   key only          cells without values
 *   page              at most N rows (counts the rows that reach it)
 *   list AND          every child, one after the other (each sees what the
 *                     previous left): put a page filter last
 *   list OR           rows that pass some child; a cell is kept if a
 *                     passing child keeps it (its value stripped only if
 *                     every such child strips it)
 *
 * A filter may keep state across rows (page), so one filter object serves
 * one scan at a time; filter_reset() makes it fresh. Not thread-safe.
 */
#ifndef HB_FILTER_H
#define HB_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"

struct filter;

enum filter_op { FILTER_EQ, FILTER_NE, FILTER_LT, FILTER_LE, FILTER_GT, FILTER_GE };
enum filter_comparator { FILTER_BINARY, FILTER_SUBSTRING };
enum filter_list_op { FILTER_MUST_PASS_ALL, FILTER_MUST_PASS_ONE };

/* Marks, one per cell. */
#define FILTER_KEEP 1u
#define FILTER_STRIP_VALUE 2u

/* Constructors copy their byte arguments. They return 0 and *out, or
 * DFS_EINVAL (bad argument: substring with an order operator, a regex
 * that does not compile) or DFS_ENOMEM, with the explanation set. Free
 * with filter_destroy(). */
int filter_prefix(const uint8_t *prefix, size_t len, struct filter **out);
int filter_row_regex(const char *pattern, struct filter **out);
int filter_column_prefix(const uint8_t *prefix, size_t len, struct filter **out);
int filter_single_column_value(const uint8_t *family, size_t family_len,
                               const uint8_t *qualifier, size_t qualifier_len,
                               enum filter_op op, enum filter_comparator cmp,
                               const uint8_t *operand, size_t operand_len,
                               bool filter_if_missing, struct filter **out);
int filter_first_key_only(struct filter **out);
int filter_key_only(struct filter **out);
int filter_page(uint64_t page_size, struct filter **out);
/* Takes ownership of children[0..n) (destroyed with the list, also when
 * this fails); the array stays the caller's. */
int filter_list(enum filter_list_op op, struct filter *const *children, size_t n,
                struct filter **out);

/* Frees f and its children. NULL is a no-op. */
void filter_destroy(struct filter *f);

/* Forgets state kept across rows (page counts), for a new scan. */
void filter_reset(struct filter *f);

/* ---- evaluation, used by the region scanner ------------------------------ */

/* true if no row from this one on (in the scan's direction) can pass: the
 * scan may stop (a page filter that is full, a prefix left behind). */
bool filter_done(const struct filter *f, const uint8_t *row, size_t len, bool reversed);

/* true if the row certainly fails on its key alone (no side effects). */
bool filter_skip_row_key(const struct filter *f, const uint8_t *row, size_t len);

/* Judges a row: cells[0..n) are its cells in order, marks[i] their marks
 * (only cells with FILTER_KEEP are considered). key_ok: the caller knows
 * filter_skip_row_key() said false, so row-key checks may be skipped.
 * 1 the row passes (with the marks as updated), 0 it does not, DFS_ENOMEM. */
int filter_row(struct filter *f, const struct cell *cells, uint8_t *marks, size_t n,
               bool key_ok);

#endif /* HB_FILTER_H */
