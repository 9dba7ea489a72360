/*
 * ycsb_region.c - the region storage engine (regionserver/region.h) on the
 * real DFS as a YCSB engine: the store issue 5 measures against RocksDB.
 *
 * What runs, as one RegionServer would host it: a DFS of real processes
 * (a mini-cluster of 1 NameNode + 3 DataNodes started here, from
 * tests/harness/minicluster.h, or an existing NameNode given by the engine
 * option namenode=host:port), one WAL for the "server" whose every sync is
 * an hflush through a pipeline of `replication` DataNodes (hsync with
 * --sync), one block cache of --cache-size, and ONE region of the table
 * "usertable" covering every row, with one family "f" (VERSIONS 1, snappy,
 * 64 KiB blocks, row bloom) and the region's own background flusher and
 * compactor.
 *
 * Mapping of the calls: a record is one cell (row = key, f:field0 = the
 * value), or with fields=N (2..10) N cells f:field0..f:field<N-1>, the
 * value cut in N pieces, as YCSB's HBase binding stores its 10 fields;
 * put = region_mutate_row of the row's cells, durable as the WAL mode
 * says before it returns (concurrent puts share one hflush: group commit);
 * get = region_get of the row; scan = a region scanner from the key,
 * limited to n rows. Read-modify-write is the harness's get + put.
 *
 * Engine options (--engine-opt): namenode=host:port, flush_size (default
 * 128m), flush_lower and flush_upper (flush pacing, bytes/s: 32m and 128m;
 * flush_lower=0: none), block_size (64k), compression=none|snappy, bloom=0|1,
 * replication (3; of the WAL and the store files), dfs_blocksize (128m,
 * of the mini-cluster and the files), wal=hflush|hsync|async|skip
 * (default hflush, hsync with --sync), fields=1..10 (default 1),
 * cache_on_write=0|1 (default 1: hbase.rs.cacheblocksonwrite).
 *
 * The DataNodes and the NameNode are other processes: their CPU shows in
 * the result lines as other_procs_cpu_cores, not cpu_cores, and the store's
 * bytes are on the DFS, not in the harness's directory (disk_mib 0).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "block_cache.h"
#include "dfs.h"
#include "minicluster.h"
#include "region.h"
#include "wal.h"
#include "bench_util.h"
#include "ycsb.h"

#define RG_TABLE "usertable"
#define RG_FAMILY "f"

struct rg {
  struct minicluster *mc;   /* NULL when connected to an existing NameNode */
  dfs_fs *fs;
  wal *wal;
  struct block_cache *cache;
  struct region *region;
  char root[128];           /* the HBase root directory on the DFS */
  /* settings, for describe */
  char namenode[128];
  uint64_t cache_bytes, flush_size, block_size, dfs_blocksize;
  uint64_t flush_lower, flush_upper; /* flush pacing, bytes/s (region.h) */
  int replication, datanodes;
  bool bloom;
  bool cache_on_write;      /* cache_on_write=1: flushes and compactions fill the cache */
  int fields;               /* cells per record */
  enum hfile_compression compression;
  enum wal_durability durability;
};

static const struct {
  const char *name;
  enum wal_durability d;
} rg_wal_modes[] = {
    {"hflush", WAL_SYNC}, {"hsync", WAL_FSYNC}, {"async", WAL_ASYNC}, {"skip", WAL_SKIP}};

static const char *rg_wal_name(enum wal_durability d) {
  for (size_t i = 0; i < sizeof rg_wal_modes / sizeof rg_wal_modes[0]; i++)
    if (rg_wal_modes[i].d == d) return rg_wal_modes[i].name;
  return "?";
}

/* One engine option (ycsb_each_engine_opt) into the settings in arg. */
static int rg_set_opt(void *arg, const char *kv, const char *v, char *err, size_t errcap) {
  struct rg *g = arg;
  int rc = 0;
  uint64_t n = 0;
  if (strcmp(kv, "namenode") == 0) {
    if (!*v || strlen(v) >= sizeof g->namenode || !strchr(v, ':')) {
      snprintf(err, errcap, "region: namenode=%s: expected host:port", v);
      rc = -1;
    } else {
      snprintf(g->namenode, sizeof g->namenode, "%s", v);
    }
  } else if (strcmp(kv, "compression") == 0) {
    if (strcmp(v, "none") == 0) g->compression = HFILE_COMPRESSION_NONE;
    else if (strcmp(v, "snappy") == 0) g->compression = HFILE_COMPRESSION_SNAPPY;
    else {
      snprintf(err, errcap, "region: compression=%s: use none or snappy", v);
      rc = -1;
    }
  } else if (strcmp(kv, "wal") == 0) {
    rc = -1;
    for (size_t i = 0; i < sizeof rg_wal_modes / sizeof rg_wal_modes[0]; i++)
      if (strcmp(v, rg_wal_modes[i].name) == 0) {
        g->durability = rg_wal_modes[i].d;
        rc = 0;
      }
    if (rc) snprintf(err, errcap, "region: wal=%s: use hflush, hsync, async or skip", v);
  } else if (bench_parse_size(v, &n) != 0) {
    snprintf(err, errcap, "region: engine option %s=%s: not a number", kv, v);
    rc = -1;
  } else if (strcmp(kv, "flush_size") == 0 && n >= (1u << 20)) {
    g->flush_size = n;
  } else if (strcmp(kv, "flush_lower") == 0) {
    g->flush_lower = n;
  } else if (strcmp(kv, "flush_upper") == 0) {
    g->flush_upper = n;
  } else if (strcmp(kv, "block_size") == 0 && n >= 1024 && n <= (16u << 20)) {
    g->block_size = n;
  } else if (strcmp(kv, "bloom") == 0 && n <= 1) {
    g->bloom = n == 1;
  } else if (strcmp(kv, "cache_on_write") == 0 && n <= 1) {
    g->cache_on_write = n == 1;
  } else if (strcmp(kv, "fields") == 0 && n >= 1 && n <= 10) {
    g->fields = (int)n;
  } else if (strcmp(kv, "replication") == 0 && n >= 1 && n <= 32) {
    g->replication = (int)n;
  } else if (strcmp(kv, "datanodes") == 0 && n >= 1 && n <= 32) {
    g->datanodes = (int)n;
  } else if (strcmp(kv, "dfs_blocksize") == 0 && n >= (1u << 20) && n % 512 == 0) {
    g->dfs_blocksize = n;
  } else {
    snprintf(err, errcap,
             "region: engine option %s=%s unknown or out of range (namenode=host:port, "
             "flush_size>=1m, flush_lower, flush_upper, block_size 1k..16m, "
             "compression=none|snappy, bloom=0|1, cache_on_write=0|1, replication 1..32, datanodes 1..32, dfs_blocksize>=1m, fields 1..10, "
             "wal=hflush|hsync|async|skip)",
             kv, v);
    rc = -1;
  }
  return rc;
}

/* Frees whatever is open, in reverse order of opening. Returns the first
 * error's code (its explanation in err) or 0. */
static int rg_free(struct rg *g, char *err, size_t errcap) {
  int first = 0;
  if (g->region) {
    /* No flush: the store goes away with its DFS (or its root, below). */
    int rc = region_close(g->region, false);
    if (rc && !first) {
      first = rc;
      snprintf(err, errcap, "region: region_close: %s", dfs_error_message());
    }
  }
  if (g->wal) {
    int rc = wal_close(g->wal);
    if (rc && !first) {
      first = rc;
      snprintf(err, errcap, "region: wal_close: %s", dfs_error_message());
    }
  }
  block_cache_free(g->cache);
  if (g->fs) {
    if (!g->mc && g->root[0]) dfs_delete(g->fs, g->root, true); /* our directory only */
    dfs_disconnect(g->fs);
  }
  mc_stop(g->mc);
  free(g);
  return first;
}

static int rg_open(const struct ycsb_engine_opts *o, void **out, char *err, size_t errcap) {
  struct rg *g = calloc(1, sizeof *g);
  if (!g) {
    snprintf(err, errcap, "region: out of memory");
    return YCSB_ERROR;
  }
  g->cache_bytes = o->cache_bytes;
  g->flush_size = 128u << 20;      /* hbase.hregion.memstore.flush.size */
  struct region_opts defaults;     /* flush pacing, cache on write */
  region_opts_init(&defaults);
  g->flush_lower = defaults.flush_lower_bps;
  g->flush_upper = defaults.flush_upper_bps;
  g->cache_on_write = defaults.cache_on_write;
  g->block_size = 64u << 10;       /* HBase's BLOCKSIZE */
  g->dfs_blocksize = 128u << 20;   /* HDFS's default dfs.blocksize */
  g->replication = 3;
  g->datanodes = 3;
  g->bloom = true;                 /* BLOOMFILTER => ROW, HBase's default */
  g->fields = 1;
  g->compression = HFILE_COMPRESSION_SNAPPY;
  g->durability = o->sync ? WAL_FSYNC : WAL_SYNC;
  if (ycsb_each_engine_opt("region", o->extra, rg_set_opt, g, err, errcap) != 0) {
    free(g);
    return YCSB_ERROR;
  }

  int rc;
  if (g->namenode[0]) {
    struct dfs_connect_opts co = {.namenode = g->namenode};
    if ((rc = dfs_connect(&co, &g->fs)) != 0) {
      snprintf(err, errcap, "region: connect to %s: %s", g->namenode, dfs_error_message());
      g->fs = NULL;
      goto fail;
    }
    /* A root of our own, so that runs never see each other's files. */
    snprintf(g->root, sizeof g->root, "/ycsb-region-%ld-%lld", (long)getpid(),
             (long long)time(NULL));
  } else {
    char bs[32];
    snprintf(bs, sizeof bs, "%llu", (unsigned long long)g->dfs_blocksize);
    struct mc_opts mo = {.num_datanodes = g->datanodes, .blocksize = bs,
                         .replication = g->replication};
    if ((rc = mc_start(&mo, &g->mc)) != 0) {
      snprintf(err, errcap, "region: cannot start the mini-cluster (%d DataNodes): %s",
               g->datanodes, dfs_error_string(rc));
      g->mc = NULL;
      goto fail;
    }
    snprintf(g->namenode, sizeof g->namenode, "%s", mc_nn_addr(g->mc));
    if ((rc = mc_connect(g->mc, NULL, &g->fs)) != 0) {
      snprintf(err, errcap, "region: connect to the mini-cluster: %s", dfs_error_message());
      g->fs = NULL;
      goto fail;
    }
    snprintf(g->root, sizeof g->root, "/hbase");
  }

  struct wal_opts wo = {.replication = g->replication, .blocksize = g->dfs_blocksize,
                        .hsync = g->durability == WAL_FSYNC,
                        .default_durability = g->durability};
  if ((rc = wal_open(g->fs, g->root, "ycsb,16020,1", &wo, &g->wal)) != 0) {
    snprintf(err, errcap, "region: wal_open under %s: %s", g->root, dfs_error_message());
    g->wal = NULL;
    goto fail;
  }
  if ((rc = block_cache_new(g->cache_bytes, 0, &g->cache)) != 0) {
    snprintf(err, errcap, "region: block cache of %llu bytes: %s",
             (unsigned long long)g->cache_bytes, dfs_error_message());
    g->cache = NULL;
    goto fail;
  }
  const struct region_family fam = {.name = RG_FAMILY,
                                    .fam = {.max_versions = 1},
                                    .compression = g->compression,
                                    .block_size = (uint32_t)g->block_size,
                                    .no_bloom = !g->bloom};
  const struct region_desc desc = {.table = RG_TABLE, .name = "ycsb0000000000000000000000000001",
                                   .families = &fam, .n_families = 1};
  struct region_opts ro;
  region_opts_init(&ro);
  ro.flush_size = g->flush_size;
  ro.flush_lower_bps = g->flush_lower;
  ro.flush_upper_bps = g->flush_upper;
  ro.cache_on_write = g->cache_on_write;
  ro.replication = g->replication;
  ro.dfs_blocksize = g->dfs_blocksize;
  if ((rc = region_open(g->fs, g->root, g->wal, &desc, g->cache, &ro, &g->region)) != 0) {
    snprintf(err, errcap, "region: region_open %s under %s: %s", RG_TABLE, g->root,
             dfs_error_message());
    g->region = NULL;
    goto fail;
  }
  *out = g;
  return YCSB_OK;

fail:;
  char ignored[8];
  rg_free(g, ignored, sizeof ignored);
  return YCSB_ERROR;
}

static void rg_describe(void *db, char *buf, size_t cap) {
  struct rg *g = db;
  snprintf(buf, cap,
           "dfs=%s,namenode=%s,replication=%d,wal=%s,group_commit=on,region=1,family=f,"
           "versions=1,fields=%d,compression=%s,block_size=%llu,bloom=%s,flush_size=%lluMiB,"
           "flush_pace=%llu-%lluMiB/s,cache_on_write=%d,"
           "block_cache=%lluMiB,dfs_blocksize=%lluMiB",
           g->mc ? "minicluster" : "external", g->namenode, g->replication,
           rg_wal_name(g->durability), g->fields,
           g->compression == HFILE_COMPRESSION_SNAPPY ? "snappy" : "none",
           (unsigned long long)g->block_size, g->bloom ? "row" : "none",
           (unsigned long long)(g->flush_size >> 20), (unsigned long long)(g->flush_lower >> 20),
           (unsigned long long)(g->flush_upper >> 20), g->cache_on_write ? 1 : 0,
           (unsigned long long)(g->cache_bytes >> 20),
           (unsigned long long)(g->dfs_blocksize >> 20));
}

static int rg_put(void *db, struct ycsb_thread *t, const char *key, size_t klen,
                  const void *val, size_t vlen) {
  struct rg *g = db;
  static const char *const qual[10] = {"field0", "field1", "field2", "field3", "field4",
                                       "field5", "field6", "field7", "field8", "field9"};
  struct cell c[10];
  size_t piece = vlen / (size_t)g->fields;
  for (int i = 0; i < g->fields; i++) {
    size_t off = (size_t)i * piece, len = i == g->fields - 1 ? vlen - off : piece;
    c[i] = (struct cell){.row = (const uint8_t *)key,
                         .row_len = (uint32_t)klen,
                         .family = (const uint8_t *)RG_FAMILY,
                         .family_len = sizeof RG_FAMILY - 1,
                         .qualifier = (const uint8_t *)qual[i],
                         .qualifier_len = 6,
                         .value = (const uint8_t *)val + off,
                         .value_len = (uint32_t)len,
                         .timestamp = CELL_LATEST_TIMESTAMP,
                         .type = CELL_PUT};
  }
  int rc = region_mutate_row(g->region, (const uint8_t *)key, (uint32_t)klen, c,
                             (size_t)g->fields, g->durability);
  if (rc != 0) {
    snprintf(t->err, sizeof t->err, "region: put %.*s: %s", (int)klen, key, dfs_error_message());
    return YCSB_ERROR;
  }
  return YCSB_OK;
}

/* The record from a row's cells (field0, field1, ... in qualifier order)
 * into t->valbuf; its length, or -1 if the row has no field0. */
static long rg_value(struct ycsb_thread *t, const struct cell *const *cells,
                     const struct cell *flat, size_t n) {
  long len = -1;
  for (size_t i = 0; i < n; i++) {
    const struct cell *c = cells ? cells[i] : &flat[i];
    if (c->qualifier_len != 6 || memcmp(c->qualifier, "field", 5) != 0) continue;
    if (len < 0) {
      if (c->qualifier[5] != '0') break;
      len = 0;
    }
    size_t room = (size_t)len < t->valcap ? t->valcap - (size_t)len : 0;
    if (room) memcpy(t->valbuf + len, c->value, c->value_len < room ? c->value_len : room);
    len += c->value_len;
  }
  return len;
}

static int rg_get(void *db, struct ycsb_thread *t, const char *key, size_t klen, size_t *vlen) {
  struct rg *g = db;
  struct scan_spec s;
  scan_spec_init(&s);
  s.start_row = (const uint8_t *)key;
  s.start_row_len = (uint32_t)klen;
  s.get = true;
  struct region_row rr = {0};
  if (region_get(g->region, &s, &rr) != 0) {
    snprintf(t->err, sizeof t->err, "region: get %.*s: %s", (int)klen, key, dfs_error_message());
    return YCSB_ERROR;
  }
  long len = rg_value(t, (const struct cell *const *)rr.cells, NULL, rr.n);
  int ret = YCSB_NOTFOUND;
  if (len >= 0) {
    *vlen = (size_t)len;
    ret = YCSB_OK;
  }
  region_row_free(&rr);
  return ret;
}

static long rg_scan(void *db, struct ycsb_thread *t, const char *key, size_t klen, int n) {
  struct rg *g = db;
  struct scan_spec s;
  scan_spec_init(&s);
  s.start_row = (const uint8_t *)key;
  s.start_row_len = (uint32_t)klen;
  s.limit = n > 0 ? (uint64_t)n : 1;
  struct region_scanner *rs;
  if (region_scan_open(g->region, &s, &rs) != 0) {
    snprintf(t->err, sizeof t->err, "region: scan from %.*s: open: %s", (int)klen, key,
             dfs_error_message());
    return YCSB_ERROR;
  }
  long got = 0;
  int rc;
  struct scan_result res;
  while (got < n && (rc = region_scanner_next(rs, &res)) == 1) {
    if (res.more_in_row) continue; /* no batching asked: does not happen */
    (void)rg_value(t, NULL, res.cells, res.n);
    got++;
  }
  if (got < n && rc < 0) {
    snprintf(t->err, sizeof t->err, "region: scan from %.*s: after %ld rows: %s", (int)klen, key,
             got, dfs_error_message());
    region_scanner_close(rs);
    return YCSB_ERROR;
  }
  region_scanner_close(rs);
  return got;
}

static int rg_close(void *db, char *err, size_t errcap) {
  struct rg *g = db;
  /* What the region did during the whole run (every phase): group commit
   * shows as appends per sync. */
  struct region_stats rs;
  struct wal_stats ws;
  struct block_cache_stats cs;
  region_get_stats(g->region, &rs);
  wal_get_stats(g->wal, &ws);
  block_cache_stats(g->cache, &cs);
  printf("# region: flushes=%llu flush_pace_ms=%llu compactions=%llu store_files=%zu blocked_writes=%llu "
         "busy_rejections=%llu wal_appends=%llu wal_syncs=%llu appends_per_sync=%.1f "
         "max_batch=%llu wal_rolls=%llu cache_hits=%llu cache_misses=%llu cache_mib=%.1f\n",
         (unsigned long long)rs.flushes, (unsigned long long)rs.flush_pace_ms,
         (unsigned long long)rs.compactions, rs.store_files,
         (unsigned long long)rs.blocked_writes, (unsigned long long)rs.busy_rejections,
         (unsigned long long)ws.appends, (unsigned long long)ws.syncs,
         ws.syncs ? (double)ws.appends / (double)ws.syncs : 0.0,
         (unsigned long long)ws.max_batch, (unsigned long long)ws.rolls,
         (unsigned long long)cs.hits, (unsigned long long)cs.misses,
         (double)cs.bytes / 1048576.0);
  fflush(stdout);
  return rg_free(g, err, errcap) == 0 ? YCSB_OK : YCSB_ERROR;
}

const struct ycsb_engine ycsb_engine_region = {
    .name = "region",
    .open = rg_open,
    .describe = rg_describe,
    .put = rg_put,
    .get = rg_get,
    .scan = rg_scan,
    .close = rg_close,
};
