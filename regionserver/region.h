/*
 * region.h - one region of a table: its stores (one per column family),
 * its MVCC, its share of the server's WAL, flushes and compactions
 * (HBase's HRegion).
 *
 * Write path of one row mutation (region_mutate_row):
 *   updates lock (shared) -> row lock -> timestamps stamped -> wal_append
 *   (the WAL stamps the MVCC write number as the sequence id under its
 *   append lock, so sequence ids increase in file order) -> cells into the
 *   MemStores -> mvcc_ready -> row lock and updates lock released ->
 *   wal_sync (outside every lock, so concurrent writers share one hflush;
 *   the syncer completes the MVCC writes it made durable) -> mvcc_finish
 *   -> acknowledged.
 * The cells are invisible until the read point passes their write number,
 * so a reader sees a row mutation whole or not at all.
 *
 * The design decision: a flush takes the updates lock exclusively only to
 * wait for the in-flight writes (read point == write point) and to turn
 * every MemStore into its snapshot; writing the files happens after, with
 * writers going on. Writers are held back only when the MemStores pass
 * flush_size * block_multiplier (then DFS_EAGAIN "region too busy" after
 * block_timeout_ms).
 *
 * Layout: the region's directory is <root>/data/default/<table>/<name>,
 * with one store directory per family (store.h).
 *
 * Lock order: updates lock -> row lock -> (WAL, store locks). The flush
 * mutex is taken before the updates lock.
 */
#ifndef HB_REGION_H
#define HB_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_cache.h"
#include "compaction_policy.h"
#include "cell.h"
#include "dfs.h"
#include "filter.h"
#include "hfile.h"
#include "query_matcher.h"
#include "region_scanner.h"
#include "wal.h"

struct compactor;
struct region;

/* A column family as the table schema declares it. */
struct region_family {
  const char *name;                /* plain name: no '/', not "." or ".." */
  struct family_opts fam;          /* VERSIONS, MIN_VERSIONS, TTL (ms) */
  enum hfile_compression compression;
  uint32_t block_size;             /* BLOCKSIZE; 0: 64 KiB */
  bool no_bloom;                   /* BLOOMFILTER => NONE */
};

/* What a region is. Everything is copied by region_open. */
struct region_desc {
  const char *table;               /* table name */
  const char *name;                /* encoded region name (a plain file name) */
  const uint8_t *start_row;        /* inclusive; empty: from the first row */
  uint32_t start_row_len;
  const uint8_t *end_row;          /* exclusive; empty: to the last row */
  uint32_t end_row_len;
  const struct region_family *families;
  size_t n_families;               /* >= 1 */
};

/* The defaults of hbase.hstore.flush.throughput.lower.bound / .upper.bound:
 * a flush starts at about 80 MiB/s (pressure 0.5), which the 2-core
 * machine of docs/benchmarks.md absorbs beside 8 writers. */
#define REGION_FLUSH_LOWER_BPS ((uint64_t)32 << 20)
#define REGION_FLUSH_UPPER_BPS ((uint64_t)128 << 20)

struct region_opts {
  uint64_t flush_size;             /* hbase.hregion.memstore.flush.size; 0: 128 MiB */
  unsigned block_multiplier;       /* hbase.hregion.memstore.block.multiplier; 0: 4 */
  int block_timeout_ms;            /* how long a blocked writer waits; 0: 10 s */
  /* WAL files to replay at open, in creation order (wal_list order); each
   * must be closed (wal_recover_file) by the caller. Edits of other regions
   * are skipped. NULL/0: nothing to replay. */
  const char *const *replay_wals;
  size_t n_replay_wals;
  /* Optional: the server's compactor (must outlive the region). NULL: the
   * region's flusher thread compacts after flushes itself. */
  struct compactor *compactor;
  /* Every store's compaction policy (hbase.hstore.compaction.*); set by
   * region_opts_init to compaction_policy_conf_init's defaults. */
  struct compaction_policy_conf policy;
  size_t memstore_chunk_size;      /* hbase.hregion.memstore.mslab.chunksize; 0: 2 MiB */
  /* The table's DURABILITY (HBase's table descriptor attribute): what a
   * mutation that passes WAL_USE_DEFAULT gets, e.g. WAL_FSYNC for a table
   * whose every write must be hsynced. A mutation asking for anything
   * else keeps it (as in HBase). WAL_USE_DEFAULT (0): the WAL's default. */
  enum wal_durability durability;
  int replication;                 /* of store files; 0: the DFS default */
  uint64_t dfs_blocksize;          /* of store files; 0: the DFS default */
  bool no_flusher;                 /* no background flusher/compactor thread
                                      (flushes only by region_flush) */
  /* Flush pacing (HBase's PressureAwareFlushThroughputController): a
   * flush writes at most lower + (upper - lower) x pressure bytes of cells
   * per second, where pressure is the MemStores' size over half the
   * blocking size (flush_size x block_multiplier / 2); at pressure 1 and
   * above, and when the region closes, at full speed. A flush that writes
   * its HFile in one burst takes the CPUs and the DataNodes from the WAL's
   * hflushes: every writer waits (docs/benchmarks.md, "Flush pacing").
   * hbase.hstore.flush.throughput.lower.bound / .upper.bound; lower 0: no
   * pacing. */
  uint64_t flush_lower_bps, flush_upper_bps; /* region_opts_init: the defaults below */
  /* Every store caches the blocks its flushes and compactions write
   * (store_opts.cache_on_write; hbase.rs.cacheblocksonwrite; true after
   * region_opts_init). */
  bool cache_on_write;
  /* Clock for timestamps and TTL (tests); NULL: real time in ms. */
  int64_t (*now_ms)(void *arg);
  void *now_arg;
};
void region_opts_init(struct region_opts *o);

/* Opens the region: every store (store_open), then replays the edits of
 * o->replay_wals above each store's max sequence id (region_replay_wal;
 * after a replay that added edits the region is flushed, so the replayed
 * WAL files are no longer needed), advances the MVCC past every sequence
 * id seen, and starts the flusher thread. wal may be NULL (then every
 * mutation is WAL_SKIP). fs, wal, cache and o->compactor must outlive the
 * region. 0 and *out, or < 0 with the explanation (nothing left open). */
int region_open(dfs_fs *fs, const char *root_dir, wal *wal, const struct region_desc *desc,
                struct block_cache *cache, const struct region_opts *o, struct region **out);

/* Replays paths[0..n): adds the cells of this region's entries whose
 * sequence id is above their store's max sequence id. Idempotent: an entry
 * seen twice (same sequence id, e.g. after a WAL roll on a failed pipeline)
 * is applied once. A torn tail ends a file quietly; a corrupt record is an
 * error naming the file and offset. Only before the region serves (called
 * by region_open). *edits (may be NULL) receives the entries applied. */
int region_replay_wal(struct region *r, const char *const *paths, size_t n, uint64_t *edits);

/* Flushes (if flush) and closes the stores, stops the thread, frees r.
 * No other call on r may be running or follow; scanners must be closed.
 * Returns the flush's error (the region is closed anyway: its edits are
 * still in the WAL). NULL: 0. */
int region_close(struct region *r, bool flush);

const char *region_name(const struct region *r);
const char *region_dir(const struct region *r);

/* ---- writes ---------------------------------------------------------------
 * cells[0..n): puts and delete markers of one row (their row must equal
 * row, their family one of the region's). The region copies them.
 * Timestamps CELL_LATEST_TIMESTAMP are set to now; a Delete (one version)
 * with the latest timestamp deletes the newest visible version (or is
 * stamped now when there is none), as HBase does. cells' seq_id is
 * ignored. `durability` WAL_USE_DEFAULT means the table's
 * (region_opts.durability), and if that is WAL_USE_DEFAULT too, the WAL's
 * default. Returns 0 once durable as `durability` asks and visible to
 * readers; DFS_EINVAL (bad cell, row outside the region), DFS_EAGAIN
 * (region too busy: the MemStores are over the blocking size), or the
 * WAL's error (the edit may then be visible but is not known durable).
 * Thread-safe. */
int region_mutate_row(struct region *r, const uint8_t *row, uint32_t row_len,
                      const struct cell *cells, size_t n, enum wal_durability durability);

/* checkAndMutate: under the row lock, reads the newest visible value of
 * (row, family, qualifier); when `expected` is NULL the check passes if
 * the column has no value, otherwise if compare(current, expected) `op`
 * holds (bytes, unsigned, shorter prefix first; a missing current value
 * passes only FILTER_NE). Then applies cells as region_mutate_row.
 * *applied tells whether it did. Same returns as region_mutate_row. */
int region_check_and_mutate(struct region *r, const uint8_t *row, uint32_t row_len,
                            const char *family, const uint8_t *qualifier, uint32_t qualifier_len,
                            enum filter_op op, const uint8_t *expected, uint32_t expected_len,
                            const struct cell *cells, size_t n, enum wal_durability durability,
                            bool *applied);

/* Adds deltas[i] to the 64-bit big-endian counters (row, family,
 * quals[i]) (absent: 0) atomically and returns the new values in
 * results[i] (may be NULL). DFS_EINVAL when a current value is not 8
 * bytes. */
int region_increment(struct region *r, const uint8_t *row, uint32_t row_len, const char *family,
                     const struct qm_qualifier *quals, const int64_t *deltas, size_t n,
                     enum wal_durability durability, int64_t *results);

/* Appends bytes to the value of (row, family, qualifier) (absent: empty)
 * atomically. *out (may be NULL) receives the new value, malloc'ed
 * (*out_len its length): the caller frees it. */
int region_append(struct region *r, const uint8_t *row, uint32_t row_len, const char *family,
                  const uint8_t *qualifier, uint32_t qualifier_len, const uint8_t *bytes,
                  uint32_t len, enum wal_durability durability, uint8_t **out, size_t *out_len);

/* ---- reads ---------------------------------------------------------------- */

/* Opens a scan at the current read point (spec->read_point lowers it;
 * spec->now_ms 0: the region's clock). Use region_scanner_next / _close
 * (region_scanner.h); close it before region_close. */
int region_scan_open(struct region *r, const struct scan_spec *spec, struct region_scanner **out);

/* A row's cells, each owned (cell_dup). */
struct region_row {
  struct cell **cells;
  size_t n;
};
void region_row_free(struct region_row *row);

/* A get: the row spec->start_row (spec->get is implied) as a scan
 * returns it. 0 and *out (n 0: no such row), or < 0. */
int region_get(struct region *r, const struct scan_spec *spec, struct region_row *out);

/* ---- flush and state ------------------------------------------------------ */

/* Flushes every store now (waits for a running flush first). 0 or < 0 (the
 * snapshots stay and the next flush retries). Thread-safe. */
int region_flush(struct region *r);

/* Waits until no flush or compaction is pending or running (background
 * ones included): 0, or DFS_ETIMEDOUT. For tests and orderly shutdown. */
int region_wait_idle(struct region *r, int timeout_ms);

struct region_stats {
  uint64_t memstore_heap;          /* all stores, active + snapshot */
  uint64_t flushes, flush_errors, compactions, blocked_writes, busy_rejections;
  uint64_t replayed_edits, replay_skipped;
  uint64_t flush_pace_ms;          /* time flushes slept for their pace */
  uint64_t read_point, write_point;
  size_t store_files;
};
void region_get_stats(struct region *r, struct region_stats *st);

/* The store of a family (tests, status); NULL if none. Owned by r. */
struct store *region_store(struct region *r, const char *family);

#endif /* HB_REGION_H */
