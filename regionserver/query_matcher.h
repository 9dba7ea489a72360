/*
 * query_matcher.h - decides, cell by cell, what one store (one column
 * family) of a scan or a compaction returns: HBase's ScanQueryMatcher with
 * its column tracker and delete tracker.
 *
 * The matcher sees the cells of one row of one family in cell_compare()
 * order (as a merge_scanner yields them) and answers with a code: include
 * the cell, skip it, or seek past the rest of its column or row, or to the
 * next selected column. It applies, in this order:
 *   - MVCC: cells with seq_id above the read point are invisible (scans);
 *   - TTL: a cell with timestamp < now - ttl is expired (invisible), except
 *     that the newest min_versions versions of a column survive;
 *   - delete markers, which hide puts whatever source they come from:
 *       Delete              the puts of its column at exactly its timestamp
 *       DeleteColumn        the puts of its column at or below its timestamp
 *       DeleteFamily        the puts of every column at or below it
 *       DeleteFamilyVersion the puts of every column at exactly it
 *     A marker hides puts with its timestamp or older even when they were
 *     written after it (HBase's classic semantics), until a major
 *     compaction drops the marker. cell_compare() puts a marker before the
 *     puts it covers; family markers carry an empty qualifier (as HBase's
 *     client writes them), so they come first in their family's row;
 *   - column selection (a sorted list of qualifiers) and the time range
 *     [min, max);
 *   - versions: of the puts left, one per timestamp (the newest write), at
 *     most max_versions per column.
 * The empty-qualifier column is never skipped by a seek (only cell by
 * cell), because family markers live in it and must all be seen.
 *
 * Modes:
 *   QM_USER  a normal scan or get.
 *   QM_RAW   every cell, markers too, no delete processing; time range,
 *            selection, TTL and max_versions (counting every cell) apply.
 *   QM_COMPACT_MINOR  flush or minor compaction: drops deleted, expired and
 *            excess cells, keeps every marker (files outside the
 *            compaction may hold puts they cover). Never seeks.
 *   QM_COMPACT_MAJOR  all files of the store: also drops the markers.
 *   In both compaction modes read_point is the smallest read point of any
 *   open scanner: a cell above it is kept and neither counts as a version
 *   nor deletes anything (an older reader may still need the cells it
 *   would hide).
 *
 * A matcher is used by one thread; it allocates only when a row has more
 * DeleteFamilyVersion markers or longer qualifiers than any before.
 */
#ifndef HB_QUERY_MATCHER_H
#define HB_QUERY_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"

/* Per column-family settings (HBase's HColumnDescriptor). */
struct family_opts {
  uint32_t max_versions; /* 0 is taken as 1 */
  uint32_t min_versions; /* versions kept even when expired; <= max_versions */
  int64_t ttl_ms;        /* <= 0 or INT64_MAX: cells never expire */
};

enum qm_mode { QM_USER, QM_RAW, QM_COMPACT_MINOR, QM_COMPACT_MAJOR };

enum qm_code {
  QM_INCLUDE,                  /* return the cell, move to the next */
  QM_SKIP,                     /* move to the next cell */
  QM_INCLUDE_AND_SEEK_NEXT_COL,/* return it, then skip the rest of its column */
  QM_SEEK_NEXT_COL,            /* skip the rest of the cell's column */
  QM_SEEK_NEXT_ROW,            /* nothing more in this row for this family */
  QM_SEEK_HINT,                /* reseek to query_matcher_hint() */
};

/* A qualifier (bytes owned by the caller). */
struct qm_qualifier {
  const uint8_t *q;
  uint32_t len;
};

struct qm_config {
  enum qm_mode mode;
  uint32_t max_versions;   /* 0 is taken as 1; use qm_versions() for scans */
  uint32_t min_versions;
  int64_t oldest_ts;       /* cells with timestamp < this are expired; qm_oldest_ts() */
  int64_t tr_min, tr_max;  /* time range [tr_min, tr_max); INT64_MIN, INT64_MAX: all */
  uint64_t read_point;     /* see the modes above; UINT64_MAX: everything */
  /* Selected qualifiers, sorted by cell_compare_rows, no duplicates; n 0:
   * every column. The array must outlive the matcher. Ignored when
   * compacting. */
  const struct qm_qualifier *qualifiers;
  size_t n_qualifiers;
};

struct query_matcher;

/* The oldest unexpired timestamp for a TTL: now_ms - ttl_ms, or INT64_MIN
 * for no TTL (ttl_ms <= 0 or INT64_MAX). */
int64_t qm_oldest_ts(int64_t now_ms, int64_t ttl_ms);

/* A matcher; cfg is copied (not the qualifiers). NULL on ENOMEM (set). */
struct query_matcher *query_matcher_create(const struct qm_config *cfg);
void query_matcher_destroy(struct query_matcher *qm);

/* Starts a new row: forgets every marker and column seen. Call before the
 * first cell of each row. */
void query_matcher_new_row(struct query_matcher *qm);

/* The verdict on c, the next cell of the current row in cell_compare()
 * order (cells the matcher told to skip by a seek must not be shown). */
enum qm_code query_matcher_match(struct query_matcher *qm, const struct cell *c);

/* After QM_SEEK_HINT: the key to reseek to. It points at the bytes of the
 * cell just matched and at the configured qualifiers, so use it before the
 * source moves (merge_scanner_reseek copies it). */
const struct cell *query_matcher_hint(const struct query_matcher *qm);

#endif /* HB_QUERY_MATCHER_H */
