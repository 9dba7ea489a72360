/*
 * compaction_policy.h - which store files a compaction merges: HBase's
 * ExploringCompactionPolicy (on top of its ratio-based rules), as a pure
 * function of file sizes and ages so that it is unit-tested alone.
 *
 * Files are given oldest first (by max sequence id, as the store keeps
 * them). A minor compaction merges a contiguous window of them (merging
 * non-adjacent files would put newer cells in a file that sorts older).
 * Every window of min_files..max_files files is considered; it qualifies
 * when its total is at most max_size and, unless the total is below
 * min_size, no file in it is bigger than ratio x the sum of the others
 * (so one big old file is not rewritten over and over to absorb small
 * ones). Of the qualifying windows the best removes the most files, and
 * between equal counts the smaller total (less I/O) wins. When the store
 * has so many files that flushes would block (blocking_files) and no window
 * qualifies, the window of min_files files with the smallest total is
 * taken rather than nothing.
 *
 * A major compaction merges every file and is what drops delete markers:
 * when asked for, or when the oldest file is older than the major period
 * (optionally jittered, deterministically per store, so that the stores of
 * a cluster do not all rewrite at once) and the store has fewer than
 * max_files files. A single file that is already a major-compaction result
 * and holds nothing expired is not rewritten by the period.
 */
#ifndef HB_COMPACTION_POLICY_H
#define HB_COMPACTION_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Settings; compaction_policy_conf_init() fills HBase's defaults. */
struct compaction_policy_conf {
  uint32_t min_files;      /* hbase.hstore.compaction.min: 3 */
  uint32_t max_files;      /* hbase.hstore.compaction.max: 10 */
  double ratio;            /* hbase.hstore.compaction.ratio: 1.2 */
  uint64_t min_size;       /* hbase.hstore.compaction.min.size: windows smaller than
                              this skip the ratio test; 128 MiB (the flush size) */
  uint64_t max_size;       /* hbase.hstore.compaction.max.size: larger windows (and
                              files) are never minor-compacted; UINT64_MAX */
  uint32_t blocking_files; /* hbase.hstore.blockingStoreFiles: 16 */
  int64_t major_period_ms; /* hbase.hregion.majorcompaction: 7 days; <= 0: never by age */
  double major_jitter;     /* hbase.hregion.majorcompaction.jitter: 0.5; 0: exact period */
};

void compaction_policy_conf_init(struct compaction_policy_conf *c);

/* What the policy knows of one store file. */
struct cp_file {
  uint64_t size;           /* bytes on the DFS */
  int64_t created_ms;      /* when the file was written; 0: unknown (never "old") */
  int64_t min_timestamp;   /* oldest cell timestamp (INT64_MAX when empty) */
  bool major_compacted;    /* written by a major compaction */
};

struct cp_request {
  bool force_major;        /* a user/admin asked for a major compaction */
  int64_t now_ms;
  int64_t oldest_ts;       /* cells older than this are expired (qm_oldest_ts); INT64_MIN */
  uint64_t jitter_seed;    /* per store (a hash of its name): the jitter's randomness */
};

/* A choice: files[start .. start+count) merged. major: asked for or due
 * by age (always every file). all_files: the window is every file, so the
 * compaction may drop delete markers (HBase does the same for a minor
 * selection that happens to take every file). */
struct cp_selection {
  size_t start, count;
  bool major;
  bool all_files;
};

/* Whether enough files wait to be worth a look (n >= min_files). */
bool compaction_policy_needs_compaction(const struct compaction_policy_conf *c, size_t n);

/* Whether the major period has passed for files[0..n) at req->now_ms. */
bool compaction_policy_major_due(const struct compaction_policy_conf *c,
                                 const struct cp_file *files, size_t n,
                                 const struct cp_request *req);

/* The files to compact among files[0..n) (oldest first; files already
 * being compacted must be left out by the caller). 1 and *sel, or 0 when
 * nothing should be compacted. Pure: no I/O, no allocation. */
int compaction_policy_select(const struct compaction_policy_conf *c, const struct cp_file *files,
                             size_t n, const struct cp_request *req, struct cp_selection *sel);

#endif /* HB_COMPACTION_POLICY_H */
