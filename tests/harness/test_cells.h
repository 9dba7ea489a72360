/*
 * test_cells.h - a cell over C strings, for the tests of the cell model,
 * the read path and the region (header only: the includer links the cell
 * model, client/cell.h).
 */
#ifndef TEST_CELLS_H
#define TEST_CELLS_H

#include <string.h>

#include "cell.h"

/* The strings are referenced, not copied; val may be NULL (no value). */
static inline struct cell tc_cell(const char *row, const char *fam, const char *qual, int64_t ts,
                                  uint8_t type, uint64_t seq, const char *val) {
  return (struct cell){.row = (const uint8_t *)row,
                       .row_len = (uint32_t)strlen(row),
                       .family = (const uint8_t *)fam,
                       .family_len = (uint32_t)strlen(fam),
                       .qualifier = (const uint8_t *)qual,
                       .qualifier_len = (uint32_t)strlen(qual),
                       .value = (const uint8_t *)val,
                       .value_len = val ? (uint32_t)strlen(val) : 0,
                       .timestamp = ts,
                       .type = type,
                       .seq_id = seq};
}

#endif
