/*
 * rs_conf.c - hbase-site.xml keys to the storage engine's option structs
 * (rs_conf.h). The configuration validated each value on its own when it
 * loaded; here only what involves several keys or what a value means.
 */
#include "rs_conf.h"

#include <string.h>

#include "errors.h"

static int64_t geti(const dfs_conf *c, const char *k) { return dfs_conf_int(c, k); }

int rs_conf_map(const dfs_conf *c, struct rs_conf *out) {
  struct rs_conf r;
  memset(&r, 0, sizeof r);

  r.rootdir = dfs_conf_str(c, "hbase.rootdir");
  /* HBase takes a URI (hdfs://nn:8020/hbase); here the NameNode is
   * dfs.namenode.rpc-address, so only a path makes sense. */
  if (r.rootdir[0] != '/')
    return dfs_err_set(DFS_ECONFIG,
                       "%s: hbase.rootdir: value '%s' is not an absolute path on the DFS "
                       "(the NameNode comes from dfs.namenode.rpc-address)",
                       dfs_conf_source(c, "hbase.rootdir"), r.rootdir);

  region_opts_init(&r.region);
  r.region.flush_size = (uint64_t)geti(c, "hbase.hregion.memstore.flush.size");
  r.region.block_multiplier = (unsigned)geti(c, "hbase.hregion.memstore.block.multiplier");
  r.region.cache_on_write = dfs_conf_bool(c, "hbase.rs.cacheblocksonwrite");
  r.region.flush_lower_bps = (uint64_t)geti(c, "hbase.hstore.flush.throughput.lower.bound");
  r.region.flush_upper_bps = (uint64_t)geti(c, "hbase.hstore.flush.throughput.upper.bound");
  if (r.region.flush_upper_bps < r.region.flush_lower_bps)
    return dfs_err_set(DFS_ECONFIG,
                       "%s: hbase.hstore.flush.throughput.upper.bound: value %llu is below "
                       "hbase.hstore.flush.throughput.lower.bound (%llu, from %s)",
                       dfs_conf_source(c, "hbase.hstore.flush.throughput.upper.bound"),
                       (unsigned long long)r.region.flush_upper_bps,
                       (unsigned long long)r.region.flush_lower_bps,
                       dfs_conf_source(c, "hbase.hstore.flush.throughput.lower.bound"));

  compaction_policy_conf_init(&r.policy);
  r.policy.min_files = (uint32_t)geti(c, "hbase.hstore.compaction.min");
  r.policy.max_files = (uint32_t)geti(c, "hbase.hstore.compaction.max");
  if (r.policy.min_files > r.policy.max_files)
    return dfs_err_set(DFS_ECONFIG,
                       "%s: hbase.hstore.compaction.min: value %u is above "
                       "hbase.hstore.compaction.max (%u, from %s)",
                       dfs_conf_source(c, "hbase.hstore.compaction.min"), r.policy.min_files,
                       r.policy.max_files, dfs_conf_source(c, "hbase.hstore.compaction.max"));
  r.policy.ratio = dfs_conf_double(c, "hbase.hstore.compaction.ratio");
  r.policy.min_size = (uint64_t)geti(c, "hbase.hstore.compaction.min.size");
  int64_t max_size = geti(c, "hbase.hstore.compaction.max.size");
  r.policy.max_size = max_size == 0 ? UINT64_MAX : (uint64_t)max_size;
  r.policy.blocking_files = (uint32_t)geti(c, "hbase.hstore.blockingStoreFiles");
  r.policy.major_period_ms = geti(c, "hbase.hregion.majorcompaction");
  r.policy.major_jitter = dfs_conf_double(c, "hbase.hregion.majorcompaction.jitter");

  r.memstore_chunk_size = (size_t)geti(c, "hbase.hregion.memstore.mslab.chunksize");
  r.region.policy = r.policy; /* what region_open gives every store */
  r.region.memstore_chunk_size = r.memstore_chunk_size;
  r.max_filesize = (uint64_t)geti(c, "hbase.hregion.max.filesize");

  r.compactor.threads = (unsigned)geti(c, "hbase.regionserver.thread.compaction.small");
  r.compactor.max_bytes_per_sec =
      (uint64_t)geti(c, "hbase.hstore.compaction.throughput.higher.bound");

  /* WAL files get an explicit block size (HBase: hlog.blocksize, else the
   * filesystem's), so the roll size is known here rather than after the
   * first file exists. */
  uint64_t bs = (uint64_t)geti(c, "hbase.regionserver.hlog.blocksize");
  if (bs == 0) bs = (uint64_t)geti(c, "dfs.blocksize");
  r.wal.blocksize = bs;
  double mult = dfs_conf_double(c, "hbase.regionserver.logroll.multiplier");
  r.wal.roll_size = (uint64_t)((double)bs * mult);
  if (r.wal.roll_size < 1) r.wal.roll_size = 1;
  r.wal.roll_period_ms = geti(c, "hbase.regionserver.logroll.period");
  r.wal.async_flush_ms = geti(c, "hbase.regionserver.optionallogflushinterval");
  r.wal.hsync = dfs_conf_bool(c, "hbase.wal.hsync");

  r.block_cache_capacity = (uint64_t)geti(c, "hfile.block.cache.capacity");

  *out = r;
  return 0;
}

void rs_conf_apply_store(const struct rs_conf *rc, struct store_opts *so) {
  so->policy = rc->policy;
  so->memstore_chunk_size = rc->memstore_chunk_size;
}
