/*
 * region_scanner.h - a scan (or get) over the stores of one region:
 * HBase's RegionScannerImpl.
 *
 * The caller opens the sources of each store (kv_scanner_memstore_open at
 * the scan's read point, the HFile adapters) and hands them over with the
 * family's settings. Each store runs its own store_scanner (merge +
 * query matcher); the region scanner picks the next row among the stores
 * (the smallest forward, the largest reversed), gathers that row's visible
 * cells from every store in family order, applies the filter to the whole
 * row, and returns it, one row (or one batch of a row) per call.
 *
 * Rows: forward, from start_row (inclusive) to stop_row (exclusive);
 * reversed, from start_row (inclusive, the highest) down to stop_row
 * (exclusive, the lowest). Empty bounds are open. A get is a scan of
 * exactly start_row (spec.get); it skips the sources whose bloom says the
 * row is absent.
 *
 * Memory: the cells of the current row are kept until the next call
 * (pointing into MemStore arenas, or copied for sources whose cells move,
 * into chunks reused from row to row). A row is built whole, even when it
 * is returned in batches.
 */
#ifndef HB_REGION_SCANNER_H
#define HB_REGION_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"
#include "filter.h"
#include "kv_scanner.h"
#include "query_matcher.h"

/* A family to scan, with an optional list of its qualifiers. */
struct scan_family {
  const uint8_t *family;
  uint32_t family_len;
  const struct qm_qualifier *qualifiers; /* any order, duplicates allowed */
  size_t n_qualifiers;                   /* 0: every column of the family */
};

/* What to scan. Byte arrays are read during region_scanner_open() only
 * (copied); the filter must outlive the scanner. */
struct scan_spec {
  const uint8_t *start_row;
  uint32_t start_row_len;
  const uint8_t *stop_row;
  uint32_t stop_row_len;
  bool reversed;
  bool get;                              /* only start_row */
  const struct scan_family *families;    /* n_families 0: every store */
  size_t n_families;
  uint32_t max_versions;                 /* per column; capped by each family's; 0 = 1 */
  int64_t tr_min, tr_max;                /* time range [tr_min, tr_max) */
  uint64_t limit;                        /* rows to return; 0 = no limit */
  uint32_t batch;                        /* cells per result; 0 = whole rows */
  struct filter *filter;                 /* NULL: none. Not owned; filter_reset() is
                                            the caller's business */
  bool raw;                              /* markers and deleted cells too (QM_RAW) */
  uint64_t read_point;                   /* cells with a higher seq_id are invisible */
  int64_t now_ms;                        /* TTL clock; 0: the real clock */
};

/* Defaults: whole table, forward, max_versions 1, every timestamp,
 * read_point UINT64_MAX, no limit, no filter. */
void scan_spec_init(struct scan_spec *s);

/* One store of the region. */
struct store_source {
  const uint8_t *family;
  uint32_t family_len;
  struct family_opts opts;
  struct kv_scanner **sources;   /* the store's sources; ownership passes to the scanner */
  size_t n_sources;
};

/* A result: cells[0..n) of one row (all of it, or one batch), sorted.
 * Valid until the next region_scanner_next() or close. more_in_row: the
 * next call continues this row (batching). */
struct scan_result {
  const struct cell *cells;
  size_t n;
  bool more_in_row;
};

struct region_scanner;

/* Opens a scan over stores[0..n_stores). Takes ownership of every store's
 * sources in every case (closed on failure; stores not selected by the
 * spec are closed now). 0, DFS_EINVAL (a selected family that no store
 * has, a store without a family) or DFS_ENOMEM; errors from positioning
 * the sources (< 0) are returned too. */
int region_scanner_open(const struct scan_spec *spec, const struct store_source *stores,
                        size_t n_stores, struct region_scanner **out);

/* The next row: 1 and *res, 0 at the end of the scan, < 0 an error from a
 * source (sticky). */
int region_scanner_next(struct region_scanner *rs, struct scan_result *res);

/* Rows returned so far (a batched row counts once). */
uint64_t region_scanner_rows(const struct region_scanner *rs);

/* Closes every source. NULL is a no-op. */
void region_scanner_close(struct region_scanner *rs);

#endif /* HB_REGION_SCANNER_H */
