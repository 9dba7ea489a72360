/*
 * ycsb_rocksdb.c - RocksDB (Debian's librocksdb-dev, C API <rocksdb/c.h>)
 * as a YCSB engine: the reference the region storage engine is measured
 * against, in the same run on the same machine.
 *
 * Settings are RocksDB's defaults except where written here, and all of
 * them are reported by describe() so a result line says what was measured:
 * WAL on, not synced per write unless --sync (then every put fsyncs, as
 * an hsync'd HBase WAL would); an LRU block cache of --cache-size; a full
 * bloom filter of 10 bits per key (HBase's row bloom is on by default, so
 * both sides skip files by bloom); snappy blocks; 2 background jobs (the
 * machine has 2 cores). Engine options (--engine-opt) may change
 * block_size, write_buffer, bloom_bits, compression and bg_jobs.
 *
 * Scans create one iterator per call (as YCSB's RocksDB binding does),
 * so their cost includes the iterator's setup, as a client's would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "bench_util.h"
#include "ycsb.h"

#ifndef YCSB_ROCKSDB_VERSION
#define YCSB_ROCKSDB_VERSION "unknown"
#endif

struct rdb {
  rocksdb_t *db;
  rocksdb_options_t *opts;
  rocksdb_block_based_table_options_t *table;
  rocksdb_cache_t *cache;
  rocksdb_filterpolicy_t *bloom; /* owned by table once set */
  rocksdb_readoptions_t *ropts;  /* shared by all threads: read-only after open */
  rocksdb_writeoptions_t *wopts;
  /* settings, for describe */
  int sync, bloom_bits, bg_jobs, compression;
  uint64_t cache_bytes, block_size, write_buffer;
};

static const struct {
  const char *name;
  int value;
} rdb_compressions[] = {{"none", rocksdb_no_compression},
                        {"snappy", rocksdb_snappy_compression},
                        {"lz4", rocksdb_lz4_compression},
                        {"zstd", rocksdb_zstd_compression}};

static const char *rdb_compression_name(int v) {
  for (size_t i = 0; i < sizeof rdb_compressions / sizeof rdb_compressions[0]; i++)
    if (rdb_compressions[i].value == v) return rdb_compressions[i].name;
  return "?";
}

/* One engine option (ycsb_each_engine_opt) into the settings in arg. */
static int rdb_set_opt(void *arg, const char *kv, const char *v, char *err, size_t errcap) {
  struct rdb *r = arg;
  int rc = 0;
  uint64_t n = 0;
  if (strcmp(kv, "compression") == 0) {
    rc = -1;
    for (size_t i = 0; i < sizeof rdb_compressions / sizeof rdb_compressions[0]; i++)
      if (strcmp(v, rdb_compressions[i].name) == 0) {
        r->compression = rdb_compressions[i].value;
        rc = 0;
      }
    if (rc) snprintf(err, errcap, "rocksdb: compression=%s: use none, snappy, lz4 or zstd", v);
  } else if (bench_parse_size(v, &n) != 0) {
    snprintf(err, errcap, "rocksdb: engine option %s=%s: not a number", kv, v);
    rc = -1;
  } else if (strcmp(kv, "block_size") == 0 && n >= 512) {
    r->block_size = n;
  } else if (strcmp(kv, "write_buffer") == 0 && n >= (1u << 20)) {
    r->write_buffer = n;
  } else if (strcmp(kv, "bloom_bits") == 0 && n <= 64) {
    r->bloom_bits = (int)n;
  } else if (strcmp(kv, "bg_jobs") == 0 && n >= 1 && n <= 64) {
    r->bg_jobs = (int)n;
  } else {
    snprintf(err, errcap,
             "rocksdb: engine option %s=%s unknown or out of range (block_size>=512, "
             "write_buffer>=1m, bloom_bits<=64, bg_jobs 1..64, compression)",
             kv, v);
    rc = -1;
  }
  return rc;
}

static void rdb_free(struct rdb *r) {
  if (r->db) rocksdb_close(r->db);
  if (r->ropts) rocksdb_readoptions_destroy(r->ropts);
  if (r->wopts) rocksdb_writeoptions_destroy(r->wopts);
  if (r->opts) rocksdb_options_destroy(r->opts);
  if (r->table) rocksdb_block_based_options_destroy(r->table); /* frees the bloom policy */
  else if (r->bloom) rocksdb_filterpolicy_destroy(r->bloom);
  if (r->cache) rocksdb_cache_destroy(r->cache);
  free(r);
}

static int rdb_open(const struct ycsb_engine_opts *o, void **out, char *err, size_t errcap) {
  struct rdb *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errcap, "rocksdb: out of memory");
    return YCSB_ERROR;
  }
  r->sync = o->sync;
  r->cache_bytes = o->cache_bytes;
  r->block_size = 4096;          /* RocksDB's default */
  r->write_buffer = 64u << 20;   /* RocksDB's default */
  r->bloom_bits = 10;
  r->bg_jobs = 2;
  r->compression = rocksdb_snappy_compression;
  if (ycsb_each_engine_opt("rocksdb", o->extra, rdb_set_opt, r, err, errcap) != 0) {
    rdb_free(r);
    return YCSB_ERROR;
  }

  r->cache = rocksdb_cache_create_lru((size_t)r->cache_bytes);
  r->table = rocksdb_block_based_options_create();
  rocksdb_block_based_options_set_block_cache(r->table, r->cache);
  rocksdb_block_based_options_set_block_size(r->table, (size_t)r->block_size);
  if (r->bloom_bits > 0) {
    r->bloom = rocksdb_filterpolicy_create_bloom_full(r->bloom_bits);
    rocksdb_block_based_options_set_filter_policy(r->table, r->bloom);
  }
  r->opts = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(r->opts, 1);
  rocksdb_options_set_block_based_table_factory(r->opts, r->table);
  rocksdb_options_set_compression(r->opts, r->compression);
  rocksdb_options_set_write_buffer_size(r->opts, (size_t)r->write_buffer);
  rocksdb_options_set_max_background_jobs(r->opts, r->bg_jobs);

  r->ropts = rocksdb_readoptions_create();
  r->wopts = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(r->wopts, (unsigned char)(r->sync ? 1 : 0));

  char *e = NULL;
  r->db = rocksdb_open(r->opts, o->dir, &e);
  if (e || !r->db) {
    snprintf(err, errcap, "rocksdb: open %s: %s", o->dir, e ? e : "failed");
    free(e);
    r->db = NULL;
    rdb_free(r);
    return YCSB_ERROR;
  }
  *out = r;
  return YCSB_OK;
}

static void rdb_describe(void *db, char *buf, size_t cap) {
  struct rdb *r = db;
  snprintf(buf, cap,
           "version=%s,wal=on,sync=%d,block_cache=%lluMiB,block_size=%llu,bloom_bits=%d,"
           "compression=%s,write_buffer=%lluMiB,bg_jobs=%d",
           YCSB_ROCKSDB_VERSION, r->sync, (unsigned long long)(r->cache_bytes >> 20),
           (unsigned long long)r->block_size, r->bloom_bits,
           rdb_compression_name(r->compression), (unsigned long long)(r->write_buffer >> 20),
           r->bg_jobs);
}

static int rdb_put(void *db, struct ycsb_thread *t, const char *key, size_t klen,
                   const void *val, size_t vlen) {
  struct rdb *r = db;
  char *e = NULL;
  rocksdb_put(r->db, r->wopts, key, klen, val, vlen, &e);
  if (e) {
    snprintf(t->err, sizeof t->err, "rocksdb: put %.*s: %s", (int)klen, key, e);
    free(e);
    return YCSB_ERROR;
  }
  return YCSB_OK;
}

static int rdb_get(void *db, struct ycsb_thread *t, const char *key, size_t klen,
                   size_t *vlen) {
  struct rdb *r = db;
  char *e = NULL;
  /* Pinned: the value is read from the block in place, one copy into valbuf. */
  rocksdb_pinnableslice_t *s = rocksdb_get_pinned(r->db, r->ropts, key, klen, &e);
  if (e) {
    snprintf(t->err, sizeof t->err, "rocksdb: get %.*s: %s", (int)klen, key, e);
    free(e);
    if (s) rocksdb_pinnableslice_destroy(s);
    return YCSB_ERROR;
  }
  if (!s) return YCSB_NOTFOUND;
  size_t n = 0;
  const char *v = rocksdb_pinnableslice_value(s, &n);
  *vlen = n;
  memcpy(t->valbuf, v, n < t->valcap ? n : t->valcap);
  rocksdb_pinnableslice_destroy(s);
  return YCSB_OK;
}

static long rdb_scan(void *db, struct ycsb_thread *t, const char *key, size_t klen, int n) {
  struct rdb *r = db;
  rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, r->ropts);
  long got = 0;
  for (rocksdb_iter_seek(it, key, klen); got < n && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
    size_t vl = 0;
    const char *v = rocksdb_iter_value(it, &vl);
    memcpy(t->valbuf, v, vl < t->valcap ? vl : t->valcap); /* read it, as a client would */
    got++;
  }
  char *e = NULL;
  rocksdb_iter_get_error(it, &e);
  rocksdb_iter_destroy(it);
  if (e) {
    snprintf(t->err, sizeof t->err, "rocksdb: scan from %.*s: %s", (int)klen, key, e);
    free(e);
    return YCSB_ERROR;
  }
  return got;
}

static int rdb_close(void *db, char *err, size_t errcap) {
  (void)err;
  (void)errcap;
  rdb_free(db);
  return YCSB_OK;
}

const struct ycsb_engine ycsb_engine_rocksdb = {
    .name = "rocksdb",
    .open = rdb_open,
    .describe = rdb_describe,
    .put = rdb_put,
    .get = rdb_get,
    .scan = rdb_scan,
    .close = rdb_close,
};
