/*
 * region_internal.h - the region's state, shared by region.c (open, flush,
 * reads) and region_mutate.c (writes). Not a public header.
 */
#ifndef HB_REGION_INTERNAL_H
#define HB_REGION_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "mvcc.h"
#include "region.h"
#include "store.h"

/* Row locks: a fixed table of striped mutexes keyed by a hash of the row
 * (two rows may share a stripe; that only serialises them). last_wn is the
 * write number of the last mutation under the stripe, so a
 * read-modify-write waits for exactly the writes it must see. */
#define REGION_ROW_LOCKS 256
struct row_lock {
  pthread_mutex_t mu;
  uint64_t last_wn; /* guarded by mu */
};

struct region {
  dfs_fs *fs;
  wal *wal;                       /* NULL: no WAL (every write WAL_SKIP) */
  enum wal_durability durability; /* the table's, for mutations with WAL_USE_DEFAULT */
  struct compactor *compactor;    /* NULL: the flusher compacts */
  char *name, *table, *dir;
  uint8_t *start_row, *end_row;
  uint32_t start_row_len, end_row_len;
  struct region_family *fam;      /* n_fam; names owned */
  size_t n_fam;
  struct store **stores;          /* n_stores, same order as fam */
  size_t n_stores;
  uint64_t *replay_floor;         /* per store: max seq id of its files at open */
  uint64_t replay_max_seq;
  struct mvcc *mvcc;
  int64_t (*now_ms)(void *arg);
  void *now_arg;
  uint64_t flush_size, block_size;
  uint64_t flush_lower_bps, flush_upper_bps; /* region_opts; lower 0: no pacing */
  int block_timeout_ms;
  bool no_flusher;
  bool wal_listening;             /* on_wal_synced registered with wal */

  /* Mutations shared, a flush's prepare exclusive (HBase's updatesLock). */
  pthread_rwlock_t updates;
  struct row_lock row_locks[REGION_ROW_LOCKS];
  pthread_mutex_t flush_mu;       /* one flush at a time; before `updates` */
  /* guarded by flush_mu: the pace of the flush in progress */
  uint64_t pace_due_ns;           /* when the bytes written so far are due */
  uint64_t pace_slept_ns;
  atomic_bool closing;            /* region_close: flush at full speed */

  pthread_mutex_t mu;             /* guards the fields below */
  pthread_cond_t work_cond;       /* the flusher waits for work */
  pthread_cond_t space_cond;      /* blocked writers wait for a flush */
  pthread_cond_t idle_cond;       /* region_wait_idle */
  bool flush_wanted, compact_wanted, busy, stopping;
  pthread_t flusher;
  bool flusher_started;
  uint64_t flushes, flush_errors, compactions, blocked_writes, busy_rejections;
  uint64_t replayed_edits, replay_skipped, flush_pace_ms;

  /* A WAL sync failed after the edit was in the MemStores: the MemStores
   * now hold an edit that may not be durable, so the region refuses reads,
   * writes and flushes until it is closed (without flushing) and opened
   * again from its store files and the WAL. HBase aborts the whole
   * RegionServer in this case; a region is our unit. */
  atomic_int broken;              /* 0, or the WAL's error code */
  char broken_msg[512];           /* written once, before `broken` */
};

/* 0, or the region's sticky error for `op` (see broken above). */
int region__check_usable(struct region *r, const char *op);
void region__set_broken(struct region *r, int rc, const char *why);

int64_t region__now(const struct region *r);
void region__deadline(struct timespec *ts, int ms);
int region__family_index(const struct region *r, const uint8_t *fam, uint32_t len);
uint64_t region__memstore_heap(struct region *r);
void region__request_flush(struct region *r);
int region__scan_at(struct region *r, const struct scan_spec *spec, uint64_t read_point,
                    struct region_scanner **out);
int region__get_at(struct region *r, const struct scan_spec *spec, uint64_t read_point,
                   struct region_row *out);

#endif /* HB_REGION_INTERNAL_H */
