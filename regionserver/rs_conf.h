/*
 * rs_conf.h - the RegionServer's settings from its configuration: maps the
 * hbase-site.xml keys (client/hbase_conf_keys.def) onto the option structs of
 * the storage engine (region_opts, the policy part of store_opts,
 * compactor_opts, wal_opts, the block cache capacity).
 *
 * Single-key checks (type, bounds) happened when the configuration loaded;
 * rs_conf_map adds the checks that involve several keys or a value's meaning,
 * and reports them like the loader does: file, key, reason.
 */
#ifndef HB_RS_CONF_H
#define HB_RS_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "compaction_policy.h"
#include "compactor.h"
#include "conf.h"
#include "region.h"
#include "store.h"
#include "wal.h"

struct rs_conf {
  const char *rootdir;  /* hbase.rootdir: points into the dfs_conf (which must outlive it) */
  /* flush_size, block_multiplier; the other fields at region_opts_init's */
  struct region_opts region;
  struct compaction_policy_conf policy; /* hbase.hstore.compaction.*, majorcompaction* */
  size_t memstore_chunk_size;           /* hbase.hregion.memstore.mslab.chunksize */
  uint64_t max_filesize;                /* hbase.hregion.max.filesize (splits, later) */
  struct compactor_opts compactor;      /* threads, throughput limit */
  /* roll_size (multiplier x block size), roll_period_ms, hsync,
   * async_flush_ms, blocksize; the other fields 0 (wal.c's defaults) */
  struct wal_opts wal;
  uint64_t block_cache_capacity;        /* hfile.block.cache.capacity */
};

/* Fills *out from c, which must hold the database's table (hbase_conf_new();
 * reading an undeclared key aborts, see conf.h). 0, or DFS_ECONFIG with
 * "<file>: <key>: <reason>" in dfs_err_msg(). *out is valid only after 0. */
int rs_conf_map(const dfs_conf *c, struct rs_conf *out);

/* Copies the policy and the chunk size into a store's options (the fields
 * the configuration decides; the family's settings stay as they are). */
void rs_conf_apply_store(const struct rs_conf *rc, struct store_opts *so);

#endif
