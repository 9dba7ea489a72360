/*
 * test_rs_conf.c - the RegionServer's configuration (regionserver/rs_conf.h,
 * client/hbase_conf_keys.def): the defaults map onto the storage engine's
 * own defaults, the shipped etc/hbase-site.xml loads, custom dfs-site.xml +
 * hbase-site.xml values map through (merged as Hadoop does), and invalid
 * values are refused with file, key and reason, both single-key ones (at
 * load) and cross-key ones (rs_conf_map).
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"
#include "errors.h"
#include "hbase_conf.h"
#include "rs_conf.h"

static char tmpdir[PATH_MAX];

static int init_suite(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_rs_conf.XXXXXX");
  unsetenv("DFS_CONF_DIR");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int clean_suite(void) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* <tmpdir>/<sub>/<file> with <configuration> around `props`; returns the
 * directory (static buffer). */
static const char *write_conf(const char *sub, const char *file, const char *props) {
  static char dir[PATH_MAX + 32];
  char path[PATH_MAX + 96];
  snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "w");
  if (!f) return NULL;
  fprintf(f, "<?xml version=\"1.0\"?>\n<configuration>\n%s</configuration>\n", props);
  fclose(f);
  return dir;
}

/* A database configuration loaded from dir (NULL: the source tree's etc/). */
static int load(const char *dir, dfs_conf **out) {
  dfs_conf *c = hbase_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  char *argv[4] = {"regionserver", NULL, NULL, NULL};
  int argc = 1;
  if (dir) {
    argv[1] = "--conf";
    argv[2] = (char *)dir;
    argc = 3;
  }
  int rc = dfs_conf_from_args(c, &argc, argv, NULL);
  *out = c;
  return rc;
}

#define P(k, v) "<property><name>" k "</name><value>" v "</value></property>\n"

static void test_defaults(void) {
  dfs_conf *c = hbase_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  struct rs_conf r;
  CU_ASSERT_EQUAL_FATAL(rs_conf_map(c, &r), 0);
  CU_ASSERT_STRING_EQUAL(r.rootdir, "/hbase");

  /* region_opts: the values its zero fields stand for, the rest untouched. */
  struct region_opts ro;
  region_opts_init(&ro);
  CU_ASSERT_EQUAL(r.region.flush_size, 128ull << 20);
  CU_ASSERT_EQUAL(r.region.block_multiplier, 4);
  CU_ASSERT_EQUAL(r.region.block_timeout_ms, ro.block_timeout_ms);
  CU_ASSERT_EQUAL(r.region.replication, ro.replication);
  CU_ASSERT_EQUAL(r.region.dfs_blocksize, ro.dfs_blocksize);
  CU_ASSERT_PTR_NULL(r.region.compactor);
  CU_ASSERT_PTR_NULL(r.region.replay_wals);
  CU_ASSERT_FALSE(r.region.no_flusher);
  /* Flush pacing: the key defaults are region_opts_init's. */
  CU_ASSERT_EQUAL(r.region.flush_lower_bps, ro.flush_lower_bps);
  CU_ASSERT_EQUAL(r.region.flush_upper_bps, ro.flush_upper_bps);
  CU_ASSERT_EQUAL(r.region.flush_lower_bps, 32u << 20);
  CU_ASSERT_TRUE(r.region.cache_on_write);
  CU_ASSERT_EQUAL(r.region.cache_on_write, ro.cache_on_write);

  /* The policy: exactly compaction_policy_conf_init's. */
  struct compaction_policy_conf pc;
  compaction_policy_conf_init(&pc);
  CU_ASSERT_EQUAL(r.policy.min_files, pc.min_files);
  CU_ASSERT_EQUAL(r.policy.max_files, pc.max_files);
  CU_ASSERT_DOUBLE_EQUAL(r.policy.ratio, pc.ratio, 1e-12);
  CU_ASSERT_EQUAL(r.policy.min_size, pc.min_size);
  CU_ASSERT_EQUAL(r.policy.max_size, pc.max_size);
  CU_ASSERT_EQUAL(r.policy.blocking_files, pc.blocking_files);
  CU_ASSERT_EQUAL(r.policy.major_period_ms, pc.major_period_ms);
  CU_ASSERT_DOUBLE_EQUAL(r.policy.major_jitter, pc.major_jitter, 1e-12);
  CU_ASSERT_EQUAL(r.memstore_chunk_size, ARENA_DEFAULT_CHUNK_SIZE);
  CU_ASSERT_EQUAL(r.max_filesize, 10ull << 30);

  /* Compactor: one thread; the throughput limit is HBase's 100 MiB/s where
   * compactor_opts' zero means none (a deliberate, documented default). */
  CU_ASSERT_EQUAL(r.compactor.threads, 1);
  CU_ASSERT_EQUAL(r.compactor.max_bytes_per_sec, 100ull << 20);

  /* WAL: wal.c's defaults, with the block size and roll size made explicit
   * (wal.c rolls at 95 % of the file's block size, dfs.blocksize). */
  CU_ASSERT_EQUAL(r.wal.blocksize, 128ull << 20);
  uint64_t walc = (128ull << 20) / 100 * 95;
  CU_ASSERT(r.wal.roll_size >= walc && r.wal.roll_size <= walc + 100);
  CU_ASSERT_EQUAL(r.wal.roll_period_ms, 3600 * 1000);
  CU_ASSERT_EQUAL(r.wal.async_flush_ms, 1000);
  CU_ASSERT_FALSE(r.wal.hsync);
  CU_ASSERT_EQUAL(r.wal.default_durability, WAL_USE_DEFAULT);
  CU_ASSERT_EQUAL(r.wal.max_pending_bytes, 0);
  CU_ASSERT_EQUAL(r.wal.replication, 0);
  CU_ASSERT_EQUAL(r.wal.roll_retries, 0);

  CU_ASSERT_EQUAL(r.block_cache_capacity, 256ull << 20);

  /* Ports and quorum, for the daemons to come. */
  CU_ASSERT_EQUAL(dfs_conf_int(c, "hbase.regionserver.port"), 16020);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "hbase.master.port"), 16000);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "hbase.rest.port"), 8080);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "hbase.regionserver.info.port"), 16030);
  CU_ASSERT_STRING_EQUAL(dfs_conf_str(c, "hbase.zookeeper.quorum"), "127.0.0.1:2181");

  /* Applied to a store, only policy and chunk size change. */
  struct store_opts so;
  store_opts_init(&so);
  so.family = "f";
  so.fam.max_versions = 3;
  r.policy.min_files = 5;
  r.memstore_chunk_size = 1 << 20;
  rs_conf_apply_store(&r, &so);
  CU_ASSERT_EQUAL(so.policy.min_files, 5);
  CU_ASSERT_EQUAL(so.memstore_chunk_size, 1 << 20);
  CU_ASSERT_EQUAL(so.fam.max_versions, 3);
  CU_ASSERT_STRING_EQUAL(so.family, "f");
  CU_ASSERT_TRUE(so.bloom);
  dfs_conf_free(c);
}

/* The files shipped in etc/ load and map. */
static void test_shipped(void) {
  dfs_conf *c;
  int rc = load(NULL, &c);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "%s\n", dfs_err_msg());
  CU_ASSERT_STRING_EQUAL(dfs_conf_dir(c), DFS_SOURCE_ETC_DIR);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_conf_source(c, "hbase.rootdir"), "hbase-site.xml"));
  struct rs_conf r;
  CU_ASSERT_EQUAL(rs_conf_map(c, &r), 0);
  CU_ASSERT_STRING_EQUAL(r.rootdir, "/hbase");
  dfs_conf_free(c);
}

static void test_custom(void) {
  write_conf("custom", "dfs-site.xml",
             P("dfs.blocksize", "64m")
             P("dfs.replication", "3")
             P("hbase.hregion.memstore.flush.size", "1m")); /* overridden below */
  const char *dir = write_conf(
      "custom", "hbase-site.xml",
      P("hbase.rootdir", "/db")
      P("hbase.hregion.memstore.flush.size", "32m")
      P("hbase.hregion.memstore.block.multiplier", "8")
      P("hbase.hregion.memstore.mslab.chunksize", "512k")
      P("hbase.hregion.max.filesize", "2g")
      P("hbase.hstore.compaction.min", "4")
      P("hbase.hstore.compaction.max", "12")
      P("hbase.hstore.compaction.ratio", "1.5")
      P("hbase.hstore.compaction.min.size", "16m")
      P("hbase.hstore.compaction.max.size", "1g")
      P("hbase.hstore.blockingStoreFiles", "20")
      P("hbase.hregion.majorcompaction", "1d")
      P("hbase.hregion.majorcompaction.jitter", "0")
      P("hbase.regionserver.thread.compaction.small", "3")
      P("hbase.hstore.compaction.throughput.higher.bound", "0")
      P("hbase.regionserver.logroll.period", "10m")
      P("hbase.regionserver.logroll.multiplier", "0.5")
      P("hbase.regionserver.optionallogflushinterval", "200ms")
      P("hbase.wal.hsync", "true")
      P("hfile.block.cache.capacity", "1g")
      P("hbase.regionserver.port", "0")
      P("dfs.replication", "2")); /* a DFS client key in hbase-site.xml */
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  dfs_conf *c;
  int rc = load(dir, &c);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "%s\n", dfs_err_msg());
  struct rs_conf r;
  CU_ASSERT_EQUAL_FATAL(rs_conf_map(c, &r), 0);
  CU_ASSERT_STRING_EQUAL(r.rootdir, "/db");
  CU_ASSERT_EQUAL(r.region.flush_size, 32ull << 20); /* hbase-site.xml wins */
  CU_ASSERT_EQUAL(r.region.block_multiplier, 8);
  CU_ASSERT_EQUAL(r.memstore_chunk_size, 512 << 10);
  CU_ASSERT_EQUAL(r.max_filesize, 2ull << 30);
  CU_ASSERT_EQUAL(r.policy.min_files, 4);
  CU_ASSERT_EQUAL(r.region.policy.min_files, 4); /* what region_open gives the stores */
  CU_ASSERT_EQUAL(r.region.memstore_chunk_size, r.memstore_chunk_size);
  CU_ASSERT_EQUAL(r.policy.max_files, 12);
  CU_ASSERT_DOUBLE_EQUAL(r.policy.ratio, 1.5, 1e-12);
  CU_ASSERT_EQUAL(r.policy.min_size, 16ull << 20);
  CU_ASSERT_EQUAL(r.policy.max_size, 1ull << 30);
  CU_ASSERT_EQUAL(r.policy.blocking_files, 20);
  CU_ASSERT_EQUAL(r.policy.major_period_ms, 86400000);
  CU_ASSERT_DOUBLE_EQUAL(r.policy.major_jitter, 0.0, 1e-12);
  CU_ASSERT_EQUAL(r.compactor.threads, 3);
  CU_ASSERT_EQUAL(r.compactor.max_bytes_per_sec, 0);
  /* No hlog.blocksize: dfs.blocksize of dfs-site.xml, times the multiplier. */
  CU_ASSERT_EQUAL(r.wal.blocksize, 64ull << 20);
  CU_ASSERT_EQUAL(r.wal.roll_size, 32ull << 20);
  CU_ASSERT_EQUAL(r.wal.roll_period_ms, 600000);
  CU_ASSERT_EQUAL(r.wal.async_flush_ms, 200);
  CU_ASSERT_TRUE(r.wal.hsync);
  CU_ASSERT_EQUAL(r.block_cache_capacity, 1ull << 30);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 2);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "hbase.regionserver.port"), 0);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/hbase-site.xml", dir);
  CU_ASSERT_STRING_EQUAL(dfs_conf_source(c, "dfs.replication"), want);
  dfs_conf_free(c);

  /* An explicit WAL block size wins over dfs.blocksize. */
  dir = write_conf("custom", "hbase-site.xml",
                   P("hbase.regionserver.hlog.blocksize", "8m")
                   P("hbase.regionserver.logroll.multiplier", "0.25"));
  CU_ASSERT_EQUAL(load(dir, &c), 0);
  CU_ASSERT_EQUAL_FATAL(rs_conf_map(c, &r), 0);
  CU_ASSERT_EQUAL(r.wal.blocksize, 8ull << 20);
  CU_ASSERT_EQUAL(r.wal.roll_size, 2ull << 20);
  dfs_conf_free(c);
}

/* One bad property in hbase-site.xml (an empty dfs-site.xml beside it),
 * refused with "<dir>/hbase-site.xml: <reason>": by loading (at_map false:
 * the whole message) or, the file loading fine, by rs_conf_map (at_map
 * true: the message contains it). */
static void refused(const char *sub, const char *props, const char *reason, bool at_map) {
  write_conf(sub, "dfs-site.xml", "");
  const char *dir = write_conf(sub, "hbase-site.xml", props);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  if (!dir) return; /* (the FATAL assert longjmps; gcc -O3 cannot see that) */
  char want[PATH_MAX + 256];
  snprintf(want, sizeof want, "%s/hbase-site.xml: %s", dir, reason);
  dfs_conf *c;
  bool ok_msg;
  if (at_map) {
    CU_ASSERT_EQUAL(load(dir, &c), 0);
    struct rs_conf r;
    CU_ASSERT_EQUAL(rs_conf_map(c, &r), DFS_ECONFIG);
    ok_msg = strstr(dfs_err_msg(), want) != NULL;
  } else {
    CU_ASSERT_EQUAL(load(dir, &c), DFS_ECONFIG);
    ok_msg = strcmp(dfs_err_msg(), want) == 0;
  }
  if (!ok_msg) {
    CU_FAIL(at_map ? "map error message" : "load error message");
    fprintf(stderr, "got  '%s'\nwant '%s'\n", dfs_err_msg(), want);
  }
  dfs_conf_free(c);
}

static void bad_load(const char *sub, const char *props, const char *reason) {
  refused(sub, props, reason, false);
}

static void bad_map(const char *sub, const char *props, const char *reason) {
  refused(sub, props, reason, true);
}

static void test_invalid(void) {
  bad_load("b1", P("hbase.hstore.compaction.ratio", "-1"),
           "hbase.hstore.compaction.ratio: value '-1' is below the minimum 0");
  bad_load("b2", P("hbase.hregion.memstore.flush.size", "0"),
           "hbase.hregion.memstore.flush.size: value '0' is below the minimum 4096");
  bad_load("b3", P("hbase.hregion.memstore.flush.size", "lots"),
           "hbase.hregion.memstore.flush.size: value 'lots' is not a size "
           "(a number with k, m, g, t or p)");
  bad_load("b4", P("hbase.hregion.memstore.flush.szie", "64m"),
           "hbase.hregion.memstore.flush.szie: unknown key");
  /* HBase's heap fraction has no meaning here: refused, not misread. */
  bad_load("b5", P("hfile.block.cache.size", "0.4"), "hfile.block.cache.size: unknown key");
  bad_load("b6", P("hbase.wal.hsync", "yes"), "hbase.wal.hsync: value 'yes' is not true or false");
  bad_load("b7", P("hbase.hregion.majorcompaction.jitter", "1.5"),
           "hbase.hregion.majorcompaction.jitter: value '1.5' is above the maximum 1");
  bad_load("b8", P("hbase.regionserver.port", "70000"),
           "hbase.regionserver.port: value '70000' is above the maximum 65535");
  bad_load("b9", P("hbase.hstore.compaction.min", "1"),
           "hbase.hstore.compaction.min: value '1' is below the minimum 2");
  bad_load("b10", P("dfs.replicaton", "2"), "dfs.replicaton: unknown key");
  bad_load("b11", P("hbase.regionserver.logroll.multiplier", "0"),
           "hbase.regionserver.logroll.multiplier: value '0' is below the minimum 0.05");

  bad_map("m1", P("hbase.hstore.compaction.min", "8") P("hbase.hstore.compaction.max", "5"),
          "hbase.hstore.compaction.min: value 8 is above hbase.hstore.compaction.max (5, from ");
  bad_map("m3",
          P("hbase.hstore.flush.throughput.lower.bound", "64m")
              P("hbase.hstore.flush.throughput.upper.bound", "32m"),
          "hbase.hstore.flush.throughput.upper.bound: value 33554432 is below "
          "hbase.hstore.flush.throughput.lower.bound (67108864, from ");
  bad_map("m2", P("hbase.rootdir", "hdfs://nn:8020/hbase"),
          "hbase.rootdir: value 'hdfs://nn:8020/hbase' is not an absolute path on the DFS");

  /* An hbase.* typo in dfs-site.xml: the database's programs name that file;
   * the filesystem's programs do not judge hbase.* keys. */
  const char *dir = write_conf("d1", "dfs-site.xml", P("hbase.rootdri", "/x"));
  dfs_conf *c;
  CU_ASSERT_EQUAL(load(dir, &c), DFS_ECONFIG);
  char want[PATH_MAX + 96];
  snprintf(want, sizeof want, "%s/dfs-site.xml: hbase.rootdri: unknown key", dir);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), want);
  dfs_conf_free(c);
  c = dfs_conf_new();
  char *argv[] = {"namenode", "--conf", (char *)dir, NULL};
  int argc = 3;
  CU_ASSERT_EQUAL(dfs_conf_from_args(c, &argc, argv, NULL), 0);
  dfs_conf_free(c);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("rs_conf", init_suite, clean_suite);
  CU_add_test(s, "defaults", test_defaults);
  CU_add_test(s, "shipped", test_shipped);
  CU_add_test(s, "custom", test_custom);
  CU_add_test(s, "invalid", test_invalid);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
