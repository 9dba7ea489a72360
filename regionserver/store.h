/*
 * store.h - one column family of one region: its MemStore and its HFiles
 * on the DFS, with flush and compaction (HBase's HStore).
 *
 * Layout on the DFS:
 *   <region dir>/<family>/<name>          the store files (32 hex digits)
 *   <region dir>/.tmp/<family>/<name>     files being written; a flush or
 *                                         compaction renames its file into
 *                                         the family directory when complete
 *                                         (the DFS rename is atomic), so a
 *                                         crash leaves only .tmp garbage,
 *                                         which store_open deletes.
 *
 * The design decision: the set of current store files is an immutable,
 * reference-counted list (copy-on-write). A reader takes a reference to the
 * current list and opens its MemStore scanner under one short lock, then
 * reads without any lock; a flush or compaction builds a new list and
 * publishes it under the same lock (with the MemStore snapshot dropped in
 * the same step for a flush, so a reader sees the flushed cells exactly
 * once: in the snapshot or in the new file). Readers therefore never wait
 * for a flush's or a compaction's I/O, and writers (store_add) only ever
 * touch the MemStore.
 *
 * Files a compaction replaced leave the list at once but are deleted from
 * the DFS only when no list and no scanner references them any more
 * (store_cleanup; the store runs it after every flush and compaction and
 * at close).
 *
 * Threads: store_add, store_get_scanners and the accessors from any
 * thread. One flush at a time (prepare/commit pairs are the region's
 * business) and one compaction at a time (a second one gets DFS_EAGAIN);
 * a flush and a compaction may run together.
 *
 * Lock order: store list lock -> MemStore lock. Nothing else is taken
 * under the list lock.
 */
#ifndef HB_STORE_H
#define HB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_cache.h"
#include "compaction_policy.h"
#include "dfs.h"
#include "hfile.h"
#include "kv_scanner.h"
#include "memstore.h"
#include "query_matcher.h"

struct compactor;
struct store;

/* A family's settings and the store's knobs. store_opts_init() first. */
struct store_opts {
  const char *family;              /* a plain file name (no '/', not "." or ".."), copied */
  struct family_opts fam;          /* max versions, min versions, TTL */
  enum hfile_compression compression;
  uint32_t block_size;             /* HFile data block; 0: 64 KiB */
  bool bloom;                      /* row bloom in new files (default true) */
  int replication;                 /* of new files; 0: dfs.replication */
  uint64_t dfs_blocksize;          /* of new files; 0: dfs.blocksize */
  size_t memstore_chunk_size;      /* 0: 2 MiB */
  struct compaction_policy_conf policy;
  /* Optional: where flushes send compaction requests (compactor.h); must
   * outlive the store. NULL: the owner calls store_compact itself. */
  struct compactor *compactor;
  /* Optional: the smallest read point of the region's open scanners, so a
   * compaction keeps what they may still read. NULL: UINT64_MAX (every
   * scanner the store hands out reads the files it opened on, so only
   * readers that reopen scanners need this). */
  uint64_t (*smallest_read_point)(void *arg);
  void *read_point_arg;
  /* The clock for TTL and the major period (tests); NULL: real time. */
  int64_t (*now_ms)(void *arg);
  void *now_arg;
  /* Optional: called by a flush with the bytes of cells written since the
   * last call (every 64 KiB); may sleep to pace the flush (the region's
   * flush throughput, region.h). NULL: flushes run at full speed. */
  void (*flush_pace)(void *arg, uint64_t bytes);
  void *flush_pace_arg;
  /* Cache on write: the data blocks of the files flushes and compactions
   * write go into the block cache as they are written (HBase's
   * hbase.rs.cacheblocksonwrite), so the first reads of a new file do not
   * go to the DataNodes; a compaction's only when its inputs fit in a
   * quarter of the cache. Default false (store_opts_init). */
  bool cache_on_write;
};

void store_opts_init(struct store_opts *o);

/* Opens the store of o->family under region_dir: creates the family
 * directory if needed, deletes <region dir>/.tmp/<family>, opens every file
 * of the family directory (drops the inputs of a compaction whose output
 * is already there, see store_file.h COMPACTED_FROM), and computes the max
 * sequence id. A file that fails to open is an error naming its path (the
 * store does not open without it: skipping it would lose data silently).
 * fs, cache (may be NULL) and o->compactor must outlive the store;
 * region_dir and o are copied. 0 and *out, or < 0. */
int store_open(dfs_fs *fs, const char *region_dir, const struct store_opts *o,
               struct block_cache *cache, struct store **out);

/* Stops the store's compactions (queued ones are dropped, a running one is
 * cancelled and waited for), deletes replaced files nobody reads, frees
 * the MemStore (unflushed cells are lost: the region flushes first or has
 * them in its WAL) and the store. Scanners may still be open: they keep
 * their files and MemStore segments alive. NULL is a no-op. */
void store_close(struct store *s);

const char *store_family(const struct store *s);
const char *store_dir(const struct store *s);       /* <region dir>/<family> */
/* The highest sequence id in the store's files (the region replays WAL
 * edits above it); 0 without files. Grows with flushes. */
uint64_t store_max_seq_id(const struct store *s);
/* The MemStore (for its size and info); owned by the store. */
struct memstore *store_memstore(struct store *s);

/* Adds a cell to the MemStore (memstore_add: copied; seq_id = its write
 * number). 0, DFS_EINVAL or DFS_ENOMEM. Any thread, lock-free. */
int store_add(struct store *s, const struct cell *c, struct memstore_size *delta);

/* store_add of n cells of this store's family (memstore_add_cells: one
 * search per batch when they come sorted, as a row mutation's do). */
int store_add_cells(struct store *s, const struct cell *cells, size_t n,
                    struct memstore_size *delta);

/* What a scan asks for, to skip files that cannot contribute. Zero it
 * (or use store_scan_hints_init) for "everything". */
struct store_scan_hints {
  const uint8_t *row;   /* a get of this row: files whose bloom rules it out are skipped */
  uint32_t row_len;     /* 0 with row NULL: not a get */
  int64_t tr_min;       /* time range: files whose cells are all older than tr_min are
                           skipped (newer ones are kept: their markers may cover
                           older puts) */
  int64_t now_ms;       /* TTL clock; 0: the store's clock. Files entirely expired are
                           skipped when the family keeps no min versions */
};
void store_scan_hints_init(struct store_scan_hints *h);

/* The sources of one read: the MemStore at read_point (order UINT64_MAX)
 * and every store file that may contain cells the read wants (order: the
 * file's position, newer files higher), taken consistently at one moment.
 * *out is a malloc'ed array of *n scanners (the MemStore's first); the
 * caller owns both: hand the scanners to a merge (which closes them) and
 * free() the array. hints may be NULL. 0 or DFS_ENOMEM (nothing returned). */
int store_get_scanners(struct store *s, uint64_t read_point, const struct store_scan_hints *hints,
                       struct kv_scanner ***out, size_t *n);

/* ---- flush ----------------------------------------------------------------
 * 1. store_flush_prepare: the MemStore's active segment becomes the
 *    snapshot (memstore_snapshot; info receives its max seq id, sizes and
 *    time range). The region must have waited for every write up to the
 *    snapshot's seq ids to complete (MVCC), as memstore.h says.
 * 2. store_flush_commit: writes the snapshot (every cell, exact duplicates
 *    dropped: markers and versions are the read path's and compaction's
 *    business) to .tmp, renames it into the family directory, opens it and
 *    publishes the new file list together with dropping the snapshot.
 *    flush_seq_id (0: none) is recorded as the file's MAX_SEQ_ID when it
 *    is above the cells' (HBase's flush sequence id). An empty snapshot
 *    writes no file. On failure the snapshot stays (reads still see it)
 *    and the commit may be retried; the .tmp file is removed.
 * Then, if o->compactor is set and the store has enough files, a
 * compaction is requested. */
int store_flush_prepare(struct store *s, struct memstore_info *info);
struct store_flush_result {
  uint64_t cells;        /* written */
  uint64_t bytes;        /* file size; 0: no file */
  uint64_t max_seq_id;
  char name[40];         /* the new file's name; "" when none */
};
int store_flush_commit(struct store *s, uint64_t flush_seq_id, struct store_flush_result *res);

/* ---- compaction ----------------------------------------------------------- */

/* Whether the policy would pick something now (enough files, or the major
 * period has passed). */
bool store_needs_compaction(struct store *s);

struct store_compact_opts {
  bool major;                 /* compact every file and drop markers */
  /* Called with the bytes written so far since the last call (about every
   * 64 KiB): may sleep (a throughput limit); a non-zero return (e.g.
   * DFS_ECANCELED) stops the compaction, which then leaves the store as
   * it was. NULL: no throttle. */
  int (*throttle)(void *arg, uint64_t bytes);
  void *throttle_arg;
};

struct store_compaction_result {
  size_t files_in;            /* 0: nothing was compacted */
  uint64_t bytes_in, bytes_out;
  uint64_t cells_in, cells_out;
  bool major;                 /* markers were dropped (every file was compacted) */
  char name[40];              /* the output file */
};

/* Selects files with the policy (or all for major), merges them through a
 * query matcher in compaction mode (QM_COMPACT_MAJOR when the selection is
 * every file: deleted, expired and excess versions and the markers go;
 * QM_COMPACT_MINOR otherwise: markers stay), writes one file in .tmp,
 * renames it into place, publishes the list without the inputs, then
 * deletes the inputs that nobody reads. Reads and writes go on meanwhile.
 * 1 compacted (res filled, may be NULL), 0 nothing to do, DFS_EAGAIN if
 * another compaction of this store is running, < 0 an error (the store
 * is unchanged, the .tmp file removed). o may be NULL (minor, no throttle). */
int store_compact(struct store *s, const struct store_compact_opts *o,
                  struct store_compaction_result *res);

/* Deletes the replaced files that only the store still references.
 * Returns how many were deleted (>= 0) or the first DFS error. */
int store_cleanup(struct store *s);

/* ---- state ---------------------------------------------------------------- */

struct store_stats {
  size_t files;              /* in the current list */
  uint64_t file_bytes;
  uint64_t file_cells;
  size_t compacted_pending;  /* replaced, still read by someone */
  uint64_t memstore_heap;
  uint64_t flushes, compactions, major_compactions;
  uint64_t bytes_flushed, bytes_compacted; /* written */
};
void store_get_stats(struct store *s, struct store_stats *st);

/* Names of the current files, oldest first, into names[0..cap) (each up to
 * 39 chars + NUL); returns the count (may exceed cap). For tests and
 * status pages. */
size_t store_file_names(struct store *s, char (*names)[40], size_t cap);

#endif /* HB_STORE_H */
