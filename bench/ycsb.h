/*
 * ycsb.h - the storage-engine interface of the YCSB benchmark (bench/ycsb.c).
 *
 * The harness drives any embedded key-value store through one small vtable
 * (struct ycsb_engine): open a store in a directory, put/get one record,
 * scan N records from a start key, close. Read-modify-write (workload F) is
 * the harness's get followed by put, as YCSB's client does it, so an engine
 * needs no call of its own for it. Each engine lives in bench/ycsb_<name>.c
 * and is listed in ycsb_engines[] in ycsb.c; bench/CMakeLists.txt compiles
 * them all into the one program `ycsb`.
 *
 * Threads: open/close/describe run on the main thread alone. put/get/scan
 * are called concurrently from the worker threads, each with its own
 * struct ycsb_thread (set up by thread_init on that thread, torn down by
 * thread_fini on it), so an engine keeps per-thread state (iterators, read
 * options, scratch buffers) in t->priv and needs no lock for it.
 *
 * Keys are byte strings without a terminating NUL ("user" + digits, ~23
 * bytes); values are opaque bytes (1000 by default). Engines compare keys
 * bytewise (memcmp, then the shorter first), which is the order scans see.
 */
#ifndef YCSB_H
#define YCSB_H

#include <stddef.h>
#include <stdint.h>

/* Return codes of the engine calls. On YCSB_ERROR the engine writes an
 * explanation (which key, which call, why) into t->err / the err buffer. */
#define YCSB_OK 0
#define YCSB_NOTFOUND 1
#define YCSB_ERROR (-1)

/* What the harness asks of a store. Strings are owned by the caller and
 * live until close. */
/* Calls set(arg, key, value, err, errcap) for each "key=value" of extra
 * (comma-separated; NULL or "" is none) and stops at the first non-zero
 * return. An item without '=' is an error naming the engine. 0 or -1. */
int ycsb_each_engine_opt(const char *engine, const char *extra,
                         int (*set)(void *arg, const char *key, const char *value, char *err,
                                    size_t errcap),
                         void *arg, char *err, size_t errcap);

struct ycsb_engine_opts {
  const char *dir;       /* an existing empty directory the engine owns */
  int sync;              /* 1: a put returns only once it is durable (WAL
                            fsync); 0: WAL written, not synced (default) */
  uint64_t cache_bytes;  /* read cache (block cache) budget in bytes */
  const char *extra;     /* engine-specific "key=value,key=value", or NULL;
                            an engine rejects keys it does not know */
};

/* One worker thread's handle. The harness owns the struct and valbuf. */
struct ycsb_thread {
  void *priv;            /* engine's per-thread state, from thread_init */
  char *valbuf;          /* get copies the value here ... */
  size_t valcap;         /* ... up to valcap bytes */
  char err[256];         /* explanation of the last YCSB_ERROR */
};

struct ycsb_engine {
  const char *name;

  /* Open (creating) the store. *db receives the engine's handle, freed by
   * close. Returns YCSB_OK or YCSB_ERROR with err filled. */
  int (*open)(const struct ycsb_engine_opts *o, void **db, char *err, size_t errcap);

  /* The settings in force, as "key=value,key=value" without spaces (it goes
   * into the result lines as engine_opts=...). */
  void (*describe)(void *db, char *buf, size_t cap);

  /* Per-thread setup/teardown, called on the worker thread itself. May be
   * NULL when the engine keeps no per-thread state. */
  int (*thread_init)(void *db, struct ycsb_thread *t);
  void (*thread_fini)(void *db, struct ycsb_thread *t);

  /* Insert or overwrite one record. The engine copies key and value. */
  int (*put)(void *db, struct ycsb_thread *t, const char *key, size_t klen, const void *val,
             size_t vlen);

  /* Look one record up: YCSB_OK with the value's full length in *vlen and
   * its first min(*vlen, t->valcap) bytes in t->valbuf; YCSB_NOTFOUND;
   * or YCSB_ERROR. */
  int (*get)(void *db, struct ycsb_thread *t, const char *key, size_t klen, size_t *vlen);

  /* Read up to n records in key order from the first key >= key, touching
   * each value as a reader would. Returns the number read (< n only at the
   * end of the key space) or YCSB_ERROR. */
  long (*scan)(void *db, struct ycsb_thread *t, const char *key, size_t klen, int n);

  /* Flush what must be flushed and free everything. Returns YCSB_OK or
   * YCSB_ERROR with err filled; db is freed either way. */
  int (*close)(void *db, char *err, size_t errcap);
};

/* The engines built into this program (ycsb_<name>.c). */
extern const struct ycsb_engine ycsb_engine_null;
#ifdef YCSB_HAVE_REGION
extern const struct ycsb_engine ycsb_engine_region;
#endif
#ifdef YCSB_HAVE_ROCKSDB
extern const struct ycsb_engine ycsb_engine_rocksdb;
#endif

#endif
