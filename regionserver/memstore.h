/*
 * memstore.h - the in-memory part of one store (region x column family):
 * every recent cell, sorted by cell_compare(), until a flush writes them
 * to an HFile.
 *
 * A MemStore is an active segment that takes inserts and at most one
 * snapshot segment that a flush is writing out. A segment is a concurrent
 * skip list whose nodes (a struct cell plus a copy of its bytes) live in
 * the segment's arena (arena.h); it is reference-counted so that a
 * scanner keeps it alive after a flush dropped it. Inserts are lock-free
 * among themselves (CAS on the skip-list links); readers take no lock
 * while scanning and never block inserts. All versions are kept (no
 * upsert): the read path applies versions and deletes.
 *
 * Visibility is by MVCC (mvcc.h): a scanner is opened with a read point
 * and skips every cell whose seq_id is above it, so a row mutation whose
 * cells all carry one write number appears all at once.
 *
 * Lock order: a MemStore's lock is taken alone (never while holding
 * another MemStore's or the MVCC's).
 */
#ifndef HB_MEMSTORE_H
#define HB_MEMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"

struct memstore;
struct memstore_scanner;

/* Sizes of a set of cells. data_size is the sum of cell_encoded_size()
 * (KeyValue bytes, what an HFile roughly needs); heap_size is the arena
 * bytes taken by the cells and their skip-list nodes (what the MemStore
 * costs; use it for flush and blocking decisions). */
struct memstore_size {
  uint64_t cells;
  uint64_t data_size;
  uint64_t heap_size;
};

/* What one segment holds. */
struct memstore_info {
  struct memstore_size size;
  uint64_t max_seq_id;     /* highest seq_id, 0 when empty */
  int64_t min_timestamp;   /* time range; INT64_MAX / INT64_MIN when empty */
  int64_t max_timestamp;
  uint64_t arena_reserved; /* bytes of arena chunks (>= heap_size) */
};

/* An empty MemStore; chunk_size for its arenas (0: 2 MiB, as HBase's
 * hbase.hregion.memstore.mslab.chunksize). NULL on allocation failure.
 * Free with memstore_destroy(). */
struct memstore *memstore_create(size_t chunk_size);

/* Drops the MemStore's references to its segments and frees it. Open
 * scanners stay valid (they hold their own references) and must still be
 * closed. No thread may be inside another memstore_ call on ms. */
void memstore_destroy(struct memstore *ms);

/* Copies cell c (its bytes too) into the active segment. c must pass
 * cell_validate() and carry its write number in seq_id. If delta is not
 * NULL it receives what this cell added (for the region's accounting).
 * 0, DFS_EINVAL (bad cell) or DFS_ENOMEM. Thread-safe, lock-free against
 * other inserts and readers (a shared lock excludes only
 * memstore_snapshot / memstore_clear_snapshot). An insert that returned
 * before memstore_snapshot() began is in the snapshot; one that returns
 * after it is in the new active segment; none is lost. */
int memstore_add(struct memstore *ms, const struct cell *c, struct memstore_size *delta);

/* memstore_add() of n cells, all into the same segment (a snapshot taken
 * meanwhile holds all of them or none), delta summing what they added.
 * Faster for cells in ascending cell_compare() order (a row mutation's
 * cells, usually): each search starts where the previous cell went.
 * DFS_EINVAL if any cell is bad (none is added then); on DFS_ENOMEM the
 * cells before the one that failed are in. */
int memstore_add_cells(struct memstore *ms, const struct cell *cells, size_t n,
                       struct memstore_size *delta);

/* What the active segment and the snapshot hold (either pointer may be
 * NULL; an absent snapshot reads as empty). Thread-safe. */
void memstore_get_info(struct memstore *ms, struct memstore_info *active,
                       struct memstore_info *snapshot);

/* heap_size of active + snapshot: the figure for flush decisions. */
uint64_t memstore_heap_size(struct memstore *ms);

/* Flush, step 1: the active segment becomes the snapshot and inserts go to
 * a fresh active segment. info (may be NULL) receives what the snapshot
 * holds (max_seq_id, time range, sizes for the HFile's file info).
 * 0, DFS_EEXIST if a snapshot already exists (the previous flush has not
 * called memstore_clear_snapshot), DFS_ENOMEM. Thread-safe. */
int memstore_snapshot(struct memstore *ms, struct memstore_info *info);

/* Whether a snapshot exists. */
bool memstore_has_snapshot(struct memstore *ms);

/* Flush, last step (its HFile is in the store): drops the snapshot.
 * Scanners still reading it keep it alive until they close. 0, or
 * DFS_ENOENT if there is none. Thread-safe. */
int memstore_clear_snapshot(struct memstore *ms);

/* A scanner over the active segment and the snapshot merged in
 * cell_compare() order, seeing only cells with seq_id <= read_point
 * (UINT64_MAX: every cell). Positioned at the first visible cell.
 * Inserts made after it opened may or may not be seen (never one above
 * read_point). NULL on allocation failure. Close with
 * memstore_scanner_close(); it may outlive memstore_destroy(ms). One
 * scanner is used by one thread at a time. */
struct memstore_scanner *memstore_scanner_open(struct memstore *ms, uint64_t read_point);

/* A scanner over the snapshot alone with every cell visible: what a flush
 * writes. NULL with DFS_ENOENT set if there is no snapshot, or on
 * allocation failure (DFS_ENOMEM). */
struct memstore_scanner *memstore_snapshot_scanner_open(struct memstore *ms);

/* Positions at the first visible cell >= key (key need not be a valid
 * cell: an empty family sorts before every real cell of its row). Returns
 * whether there is such a cell. Seeking backwards is allowed. */
bool memstore_scanner_seek(struct memstore_scanner *s, const struct cell *key);

/* For reversed scans: positions at the first visible cell of the last row
 * that sorts before key's row and has a visible cell. Returns whether
 * there is such a row. */
bool memstore_scanner_seek_to_previous_row(struct memstore_scanner *s, const struct cell *key);

/* For reversed scans: positions at the first visible cell of the last row
 * that has one. Returns whether there is one. */
bool memstore_scanner_seek_to_last_row(struct memstore_scanner *s);

/* The current cell, or NULL at the end. The cell and its bytes stay valid
 * until memstore_scanner_close(). */
const struct cell *memstore_scanner_peek(struct memstore_scanner *s);

/* Returns the current cell (NULL at the end) and moves past it. */
const struct cell *memstore_scanner_next(struct memstore_scanner *s);

/* Releases the scanner and its segment references. NULL is a no-op. */
void memstore_scanner_close(struct memstore_scanner *s);

#endif /* HB_MEMSTORE_H */
