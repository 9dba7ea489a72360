/*
 * ycsb.c - YCSB's core workloads against an embedded key-value store: the
 * benchmark of issue 5, with RocksDB as the reference in the same run.
 *
 * For each engine named by --engine (bench/ycsb_<name>.c, see ycsb.h) the
 * program opens a fresh store in a temporary directory, loads --records
 * records with --threads threads (phase=load), then runs each workload of
 * --workloads in the order given (phase=run) over the same store, --ops
 * operations each, and prints one result line per phase.
 *
 * What is copied from YCSB's CoreWorkload, to keep figures comparable with
 * published YCSB numbers:
 *   - workloads A 50/50 read/update, B 95/5 read/update, C read only,
 *     D 95/5 read/insert with the "latest" request distribution, E 95/5
 *     scan/insert with scan lengths uniform in 1..100, F 50/50
 *     read/read-modify-write; all but D use the zipfian distribution;
 *   - zipfian = ScrambledZipfianGenerator: a zipfian (constant 0.99, Gray
 *     et al.'s method) over 10^10 items with YCSB's precomputed zeta, whose
 *     item is FNV-1a-64-hashed and reduced modulo the key space; the key
 *     space is the records present plus twice the inserts the workload is
 *     expected to make, and a drawn key not inserted yet is drawn again;
 *   - "latest" = SkewedLatestGenerator: the newest record minus a zipfian
 *     draw over the records present;
 *   - inserts take the next record number; a record number counts as
 *     present once it and all numbers below it are acknowledged (YCSB's
 *     AcknowledgedCounterGenerator), so readers never ask for a key whose
 *     insert has not returned;
 *   - key = "user" + the decimal FNV-64 hash of the record number
 *     (insertorder=hashed), so inserts land all over the key space;
 *   - a record is 10 fields x 100 bytes; here stored as one 1000-byte value
 *     (--value-size), and an update rewrites the whole value (YCSB's
 *     writeallfields=true: a key-value store has no cheaper partial write);
 *   - read-modify-write is a get then a put of the same key; its get and
 *     put are also counted as read and update, as YCSB's DB wrapper counts
 *     them, and its whole latency is reported as rmw.
 * One deliberate difference: YCSB's current source pairs the 10^10-item
 * zeta constant with a 10^16-item range; this uses 10^10 for both, which
 * is what the constant was computed for.
 *
 * Correctness: each value starts with its record number and a version
 * (then printable filler derived from both). A write takes a per-key
 * stripe lock, bumps the key's version in a table and puts the value, so
 * the table always names the last version written. Every read during the
 * run must return a value of the asked record with a version not above the
 * table's, and after each phase a sample of keys (--verify N) is read back
 * single-threaded and must equal, byte for byte, the last version written.
 * Any mismatch or engine error ends the program with exit status 1.
 * The stripe lock serializes writers of the same key, as HBase's row lock
 * does; --verify 0 removes it (and the checks).
 *
 * Latency: each call is timed with CLOCK_MONOTONIC into a per-thread,
 * per-operation log-bucket histogram (32 sub-buckets per power of two,
 * <= 3% error, no allocation per operation); the threads' histograms are
 * merged at the end of the phase. ops_per_s = operations / wall time from
 * the start barrier to the last thread's end.
 *
 * Output: see docs/benchmarks.md ("YCSB") and bench_util.h's contract.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "ycsb.h"

static const struct ycsb_engine *const engines[] = {
#ifdef YCSB_HAVE_ROCKSDB
    &ycsb_engine_rocksdb,
#endif
#ifdef YCSB_HAVE_REGION
    &ycsb_engine_region,
#endif
    &ycsb_engine_null,
};
#define N_ENGINES (sizeof engines / sizeof engines[0])

int ycsb_each_engine_opt(const char *engine, const char *extra,
                         int (*set)(void *arg, const char *key, const char *value, char *err,
                                    size_t errcap),
                         void *arg, char *err, size_t errcap) {
  if (!extra || !*extra) return 0;
  char *dup = strdup(extra), *save = NULL;
  if (!dup) {
    snprintf(err, errcap, "%s: out of memory", engine);
    return -1;
  }
  int rc = 0;
  for (char *kv = strtok_r(dup, ",", &save); kv && rc == 0; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) {
      snprintf(err, errcap, "%s: engine option \"%s\" is not key=value", engine, kv);
      rc = -1;
      break;
    }
    *eq = 0;
    /* ENGINE.key=value is for that engine only (so that one --engine-opt
     * serves a run of several engines); the prefix must name one. */
    char *dot = strchr(kv, '.');
    if (dot) {
      *dot = 0;
      bool known = false;
      for (size_t i = 0; i < N_ENGINES; i++) known = known || strcmp(engines[i]->name, kv) == 0;
      if (!known) {
        snprintf(err, errcap, "%s: engine option %s.%s: no engine named \"%s\"", engine, kv,
                 dot + 1, kv);
        rc = -1;
        break;
      }
      if (strcmp(kv, engine) != 0) continue; /* another engine's */
      kv = dot + 1;
    }
    rc = set(arg, kv, eq + 1, err, errcap) ? -1 : 0;
  }
  free(dup);
  return rc;
}

/* ---- workloads ------------------------------------------------------------ */

enum op { OP_READ, OP_UPDATE, OP_INSERT, OP_SCAN, OP_RMW, OP_N };
static const char *const op_names[OP_N] = {"read", "update", "insert", "scan", "rmw"};

enum dist { DIST_ZIPFIAN, DIST_UNIFORM, DIST_LATEST };
static const char *const dist_names[] = {"zipfian", "uniform", "latest"};

struct workload {
  char name;
  double prop[OP_N];
  enum dist dist;
  const char *what;
};

/* As YCSB's workloads/workload[a-f]. */
static const struct workload workloads[] = {
    {'A', {0.50, 0.50, 0, 0, 0}, DIST_ZIPFIAN, "update heavy"},
    {'B', {0.95, 0.05, 0, 0, 0}, DIST_ZIPFIAN, "read mostly"},
    {'C', {1.00, 0, 0, 0, 0}, DIST_ZIPFIAN, "read only"},
    {'D', {0.95, 0, 0.05, 0, 0}, DIST_LATEST, "read latest"},
    {'E', {0, 0, 0.05, 0.95, 0}, DIST_ZIPFIAN, "short ranges"},
    {'F', {0.50, 0, 0, 0, 0.50}, DIST_ZIPFIAN, "read-modify-write"},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])
#define MAX_SCAN_LENGTH 100

/* ---- options -------------------------------------------------------------- */

struct opts {
  const struct ycsb_engine *engine[N_ENGINES];
  int n_engines;
  const struct workload *wl[16];
  int n_wl;
  char wl_list[64];          /* "A,B,C,E,F" for the load line */
  long threads;
  uint64_t records, ops;
  double seconds;            /* cap per run phase; 0: none */
  double target;             /* ops/s of all threads together (YCSB's -target); 0: flat out */
  size_t value_size;
  int sync;
  uint64_t cache_bytes;
  const char *engine_opt;
  const char *dir;           /* parent of the per-engine temp dirs */
  int dist_override;         /* -1 or enum dist */
  uint64_t verify;           /* keys read back after each phase; 0: no checks */
  uint64_t seed;
  bool keep;
};

/* ---- random numbers, hashing, keys, values --------------------------------- */

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Uniform in [0, 1). */
static inline double rand_double(uint64_t *s) {
  return (double)(bench_rand64(s) >> 11) * 0x1.0p-53;
}

/* YCSB's Utils.fnvhash64: FNV-1a over the 8 bytes of the number, low byte
 * first, then the absolute value as a Java long. */
static inline uint64_t fnvhash64(uint64_t val) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int i = 0; i < 8; i++) {
    h ^= val & 0xff;
    val >>= 8;
    h *= 1099511628211ull;
  }
  int64_t s = (int64_t)h;
  return s < 0 ? (uint64_t)0 - h : h;
}

#define KEY_CAP 32

/* "user" + decimal hash; returns the length. */
static inline size_t build_key(char *buf, uint64_t keynum) {
  char digits[24];
  int n = 0;
  uint64_t h = fnvhash64(keynum);
  do {
    digits[n++] = (char)('0' + h % 10);
    h /= 10;
  } while (h);
  memcpy(buf, "user", 4);
  for (int i = 0; i < n; i++) buf[4 + i] = digits[n - 1 - i];
  return (size_t)(4 + n);
}

#define VALUE_HEADER 16
static const char value_magic[4] = {'y', 'c', 's', 'b'};

/* Header: record number (8 bytes LE), version (4), magic (4); then
 * printable filler, 6 random bits per byte as YCSB's RandomByteIterator
 * (so compression finds about as little as in YCSB's own values). */
static void make_value(char *buf, size_t len, uint64_t keynum, uint32_t version) {
  for (int i = 0; i < 8; i++) buf[i] = (char)(keynum >> (8 * i));
  for (int i = 0; i < 4; i++) buf[8 + i] = (char)(version >> (8 * i));
  memcpy(buf + 12, value_magic, 4);
  uint64_t s = splitmix64(keynum * 0x9E3779B97F4A7C15ull ^ version) | 1;
  size_t i = VALUE_HEADER;
  while (i < len) {
    uint64_t r = bench_rand64(&s);
    for (int k = 0; k < 10 && i < len; k++, r >>= 6) buf[i++] = (char)(' ' + (r & 63));
  }
}

/* Parse a value's header; false if it has none. */
static bool value_header(const char *buf, size_t len, uint64_t *keynum, uint32_t *version) {
  if (len < VALUE_HEADER || memcmp(buf + 12, value_magic, 4) != 0) return false;
  uint64_t k = 0;
  uint32_t v = 0;
  for (int i = 0; i < 8; i++) k |= (uint64_t)(unsigned char)buf[i] << (8 * i);
  for (int i = 0; i < 4; i++) v |= (uint32_t)(unsigned char)buf[8 + i] << (8 * i);
  *keynum = k;
  *version = v;
  return true;
}

/* ---- zipfian generators (YCSB's ZipfianGenerator) ---------------------------- */

#define ZIPF_CONSTANT 0.99
#define SCRAMBLED_ITEMS 10000000000ull    /* ScrambledZipfianGenerator.ITEM_COUNT */
#define SCRAMBLED_ZETAN 26.46902820178302 /* zeta(10^10, 0.99), YCSB's constant */

struct zipf {
  uint64_t items, base, countforzeta;
  double theta, zeta2theta, alpha, zetan, eta, half_pow_theta;
};

static double zeta_sum(uint64_t st, uint64_t n, double theta, double init) {
  double sum = init;
  for (uint64_t i = st; i < n; i++) sum += 1.0 / pow((double)(i + 1), theta);
  return sum;
}

/* Items min..max inclusive; zetan precomputed for max-min+1 items. */
static void zipf_init(struct zipf *z, uint64_t min, uint64_t max, double zetan) {
  z->items = max - min + 1;
  z->base = min;
  z->theta = ZIPF_CONSTANT;
  z->zeta2theta = zeta_sum(0, 2, z->theta, 0);
  z->alpha = 1.0 / (1.0 - z->theta);
  z->zetan = zetan;
  z->countforzeta = z->items;
  z->eta = (1 - pow(2.0 / (double)z->items, 1 - z->theta)) / (1 - z->zeta2theta / z->zetan);
  z->half_pow_theta = pow(0.5, z->theta);
}

/* Gray et al., "Quickly generating billion-record synthetic databases". A
 * grown itemcount extends zeta incrementally; like YCSB, eta keeps the
 * constructor's item count. */
static uint64_t zipf_next(struct zipf *z, uint64_t itemcount, uint64_t *rng) {
  if (itemcount > z->countforzeta) {
    z->zetan = zeta_sum(z->countforzeta, itemcount, z->theta, z->zetan);
    z->countforzeta = itemcount;
    z->eta = (1 - pow(2.0 / (double)z->items, 1 - z->theta)) / (1 - z->zeta2theta / z->zetan);
  }
  double u = rand_double(rng);
  double uz = u * z->zetan;
  if (uz < 1.0) return z->base;
  if (uz < 1.0 + z->half_pow_theta) return z->base + 1;
  return z->base + (uint64_t)((double)itemcount * pow(z->eta * u - z->eta + 1, z->alpha));
}

/* ---- latency histogram ---------------------------------------------------------- */

#define H_SUB_BITS 5
#define H_SUB (1u << H_SUB_BITS)
#define H_BUCKETS ((64 - H_SUB_BITS + 1) * H_SUB)

struct hist {
  uint64_t count, sum_ns, max_ns;
  uint64_t b[H_BUCKETS];
};

static inline unsigned hist_index(uint64_t v) {
  if (v < H_SUB) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  return (e - H_SUB_BITS + 1) * H_SUB + (unsigned)((v >> (e - H_SUB_BITS)) - H_SUB);
}

static inline void hist_add(struct hist *h, uint64_t ns) {
  h->count++;
  h->sum_ns += ns;
  if (ns > h->max_ns) h->max_ns = ns;
  h->b[hist_index(ns)]++;
}

static void hist_merge(struct hist *into, const struct hist *h) {
  into->count += h->count;
  into->sum_ns += h->sum_ns;
  if (h->max_ns > into->max_ns) into->max_ns = h->max_ns;
  for (unsigned i = 0; i < H_BUCKETS; i++) into->b[i] += h->b[i];
}

/* The value at quantile q in ns: middle of the bucket holding that rank,
 * never above the maximum seen. */
static double hist_quantile(const struct hist *h, double q) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)ceil(q * (double)h->count);
  if (rank < 1) rank = 1;
  uint64_t cum = 0;
  for (unsigned i = 0; i < H_BUCKETS; i++) {
    cum += h->b[i];
    if (cum < rank) continue;
    double v;
    if (i < H_SUB) {
      v = i;
    } else {
      unsigned g = i / H_SUB;
      uint64_t lo = (uint64_t)(i % H_SUB + H_SUB) << (g - 1);
      v = (double)lo + (double)(1ull << (g - 1)) / 2.0;
    }
    return v > (double)h->max_ns ? (double)h->max_ns : v;
  }
  return (double)h->max_ns;
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- shared state of one engine's run ---------------------------------------------- */

#define N_STRIPES 4096
#define ACK_WINDOW (1u << 16)

struct run {
  const struct opts *o;
  const struct ycsb_engine *eng;
  void *db;
  const char *dir;             /* the store's directory */

  /* Versions: ver[k] is the last version written to record k (0: none).
   * Written under stripes[k % N_STRIPES]; read anywhere (relaxed). */
  _Atomic uint32_t *ver;
  uint64_t vercap;
  pthread_mutex_t stripes[N_STRIPES];

  /* The insert sequence (YCSB's AcknowledgedCounterGenerator). */
  _Atomic uint64_t ins_next;   /* next record number to insert */
  _Atomic uint64_t ins_limit;  /* all of 0..ins_limit are acknowledged */
  pthread_mutex_t ack_mu;      /* guards ack_window and the advance of ins_limit */
  uint8_t *ack_window;

  /* The current phase, set by the main thread before the workers start. */
  bool load;
  const struct workload *w;
  enum dist dist;
  uint64_t keyspace;           /* zipfian: records + expected inserts + 1 */
  double latest_zetan;         /* zeta over the records present, for "latest" */
  uint64_t latest_count;
  double deadline;             /* bench_now() limit, 0: none */
  pthread_barrier_t barrier;

  _Atomic int failed;
  pthread_mutex_t err_mu;      /* guards err */
  char err[512];
  _Atomic uint64_t stale_reads; /* reads that returned an older version than the table's at
                                   their end (a concurrent write; counted, not an error) */
};

struct worker {
  struct run *r;
  int id;
  pthread_t th;
  uint64_t ops;                /* this thread's share of the phase */
  uint64_t done;
  uint64_t rng;
  double end;                  /* bench_now() at its last operation */
  struct zipf zipf;
  struct ycsb_thread t;
  char *val;                   /* scratch for values to write */
  struct hist h[OP_N];
  /* --target: when the next operation is due, and each operation's time
   * from then to its end (which counts the wait of an operation that
   * could not start on time behind a slow one: coordinated omission). */
  uint64_t due_ns, tick_ns;
  struct hist hi[OP_N];
};

static void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_fail(struct run *r, const char *fmt, ...) {
  pthread_mutex_lock(&r->err_mu);
  if (!atomic_load(&r->failed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    atomic_store(&r->failed, 1);
  }
  pthread_mutex_unlock(&r->err_mu);
}

static void ack_insert(struct run *r, uint64_t k) {
  pthread_mutex_lock(&r->ack_mu);
  r->ack_window[k % ACK_WINDOW] = 1;
  uint64_t lim = atomic_load_explicit(&r->ins_limit, memory_order_relaxed);
  while (r->ack_window[(lim + 1) % ACK_WINDOW]) {
    r->ack_window[(lim + 1) % ACK_WINDOW] = 0;
    lim++;
  }
  atomic_store_explicit(&r->ins_limit, lim, memory_order_release);
  pthread_mutex_unlock(&r->ack_mu);
}

static inline uint64_t present_limit(struct run *r) {
  return atomic_load_explicit(&r->ins_limit, memory_order_acquire);
}

/* YCSB's CoreWorkload.nextKeynum for the phase's distribution. */
static uint64_t next_keynum(struct worker *wk) {
  struct run *r = wk->r;
  uint64_t lim = present_limit(r);
  switch (r->dist) {
    case DIST_UNIFORM:
      return bench_rand64(&wk->rng) % (lim + 1);
    case DIST_LATEST: {
      uint64_t max = lim + 1; /* SkewedLatestGenerator: lastValue - zipf(lastValue) */
      uint64_t off = zipf_next(&wk->zipf, max, &wk->rng);
      return off >= max ? 0 : max - 1 - off;
    }
    case DIST_ZIPFIAN:
    default:
      for (;;) {
        uint64_t z = zipf_next(&wk->zipf, wk->zipf.items, &wk->rng);
        uint64_t k = fnvhash64(z) % r->keyspace;
        if (k <= lim) return k;
      }
  }
}

/* Check a value read for record k during the run. */
static bool check_read(struct worker *wk, uint64_t k, size_t vlen, const char *what) {
  struct run *r = wk->r;
  if (!r->o->verify) return true;
  uint64_t got_k = 0;
  uint32_t got_v = 0;
  if (vlen != r->o->value_size || !value_header(wk->t.valbuf, vlen, &got_k, &got_v) ||
      got_k != k) {
    run_fail(r, "%s of record %llu returned a value of %zu bytes for record %llu (not this "
             "record's)", what, (unsigned long long)k, vlen, (unsigned long long)got_k);
    return false;
  }
  uint32_t cur = atomic_load_explicit(&r->ver[k], memory_order_acquire);
  if (got_v == 0 || got_v > cur) {
    run_fail(r, "%s of record %llu returned version %u, but only versions 1..%u were written",
             what, (unsigned long long)k, got_v, cur);
    return false;
  }
  if (got_v < cur) atomic_fetch_add_explicit(&r->stale_reads, 1, memory_order_relaxed);
  return true;
}

/* Write a new version of record k (insert or update), timed into h. */
static int write_record(struct worker *wk, uint64_t k, struct hist *h) {
  struct run *r = wk->r;
  char key[KEY_CAP];
  size_t klen = build_key(key, k);
  pthread_mutex_t *mu = r->o->verify ? &r->stripes[k % N_STRIPES] : NULL;
  if (mu) pthread_mutex_lock(mu);
  uint32_t v = atomic_load_explicit(&r->ver[k], memory_order_relaxed) + 1;
  atomic_store_explicit(&r->ver[k], v, memory_order_release);
  make_value(wk->val, r->o->value_size, k, v);
  uint64_t t0 = now_ns();
  int rc = r->eng->put(r->db, &wk->t, key, klen, wk->val, r->o->value_size);
  uint64_t t1 = now_ns();
  if (mu) pthread_mutex_unlock(mu);
  if (rc != YCSB_OK) {
    run_fail(r, "put of record %llu failed: %s", (unsigned long long)k, wk->t.err);
    return -1;
  }
  hist_add(h, t1 - t0);
  return 0;
}

static int read_record(struct worker *wk, uint64_t k, const char *what) {
  struct run *r = wk->r;
  char key[KEY_CAP];
  size_t klen = build_key(key, k);
  size_t vlen = 0;
  uint64_t t0 = now_ns();
  int rc = r->eng->get(r->db, &wk->t, key, klen, &vlen);
  uint64_t t1 = now_ns();
  if (rc == YCSB_ERROR) {
    run_fail(r, "%s of record %llu failed: %s", what, (unsigned long long)k, wk->t.err);
    return -1;
  }
  if (rc == YCSB_NOTFOUND) {
    run_fail(r, "%s of record %llu (key %.*s): not found, though its insert was acknowledged",
             what, (unsigned long long)k, (int)klen, key);
    return -1;
  }
  hist_add(&wk->h[OP_READ], t1 - t0);
  return check_read(wk, k, vlen, what) ? 0 : -1;
}

static int do_op(struct worker *wk, enum op op) {
  struct run *r = wk->r;
  switch (op) {
    case OP_READ:
      return read_record(wk, next_keynum(wk), "read");
    case OP_UPDATE:
      return write_record(wk, next_keynum(wk), &wk->h[OP_UPDATE]);
    case OP_INSERT: {
      uint64_t k = atomic_fetch_add(&r->ins_next, 1);
      if (k >= r->vercap) {
        run_fail(r, "insert of record %llu: past the version table (%llu records)",
                 (unsigned long long)k, (unsigned long long)r->vercap);
        return -1;
      }
      int rc = write_record(wk, k, &wk->h[OP_INSERT]);
      ack_insert(r, k); /* as YCSB: acknowledged even when it failed */
      return rc;
    }
    case OP_SCAN: {
      uint64_t k = next_keynum(wk);
      int len = 1 + (int)(bench_rand64(&wk->rng) % MAX_SCAN_LENGTH);
      char key[KEY_CAP];
      size_t klen = build_key(key, k);
      uint64_t t0 = now_ns();
      long got = r->eng->scan(r->db, &wk->t, key, klen, len);
      uint64_t t1 = now_ns();
      if (got < 0) {
        run_fail(r, "scan of %d from record %llu failed: %s", len, (unsigned long long)k,
                 wk->t.err);
        return -1;
      }
      if (r->o->verify && (got < 1 || got > len)) {
        run_fail(r, "scan of %d from record %llu (present) returned %ld records", len,
                 (unsigned long long)k, got);
        return -1;
      }
      hist_add(&wk->h[OP_SCAN], t1 - t0);
      return 0;
    }
    case OP_RMW: {
      uint64_t k = next_keynum(wk);
      uint64_t t0 = now_ns();
      if (read_record(wk, k, "read-modify-write") != 0) return -1;
      if (write_record(wk, k, &wk->h[OP_UPDATE]) != 0) return -1;
      hist_add(&wk->h[OP_RMW], now_ns() - t0);
      return 0;
    }
    default:
      return -1;
  }
}

/* --target: sleeps until the next operation is due (YCSB's ClientThread
 * throttle: a fixed schedule per thread, not a rate after each op). */
static void throttle(struct worker *wk) {
  if (!wk->tick_ns) return;
  if (now_ns() < wk->due_ns) {
    struct timespec ts = {(time_t)(wk->due_ns / 1000000000u), (long)(wk->due_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
  }
}

static void throttled(struct worker *wk, enum op op) {
  if (!wk->tick_ns) return;
  hist_add(&wk->hi[op], now_ns() - wk->due_ns);
  wk->due_ns += wk->tick_ns;
}

static void *worker_main(void *arg) {
  struct worker *wk = arg;
  struct run *r = wk->r;
  bool inited = false;
  if (r->eng->thread_init && r->eng->thread_init(r->db, &wk->t) != YCSB_OK)
    run_fail(r, "thread_init: %s", wk->t.err);
  else
    inited = true;
  pthread_barrier_wait(&r->barrier);
  if (!inited) return NULL;
  if (r->o->target > 0 && !r->load) {
    /* Each thread's share of the rate; the first operation at a random
     * point of the first interval, so that the threads do not all start
     * together (as YCSB). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* due times to the microsecond, not 50 us late */
    wk->tick_ns = (uint64_t)(1e9 * (double)r->o->threads / r->o->target);
    if (wk->tick_ns == 0) wk->tick_ns = 1;
    wk->due_ns = now_ns() + bench_rand64(&wk->rng) % wk->tick_ns;
  }

  if (r->load) {
    uint64_t end = r->o->records;
    for (;;) {
      uint64_t k = atomic_fetch_add(&r->ins_next, 1);
      if (k >= end || atomic_load_explicit(&r->failed, memory_order_relaxed)) break;
      if (write_record(wk, k, &wk->h[OP_INSERT]) != 0) break;
      wk->done++;
    }
  } else {
    double cum[OP_N];
    double c = 0;
    enum op last = OP_READ; /* the fallback if rounding leaves u past every bound */
    for (int i = 0; i < OP_N; i++) {
      cum[i] = (c += r->w->prop[i]);
      if (r->w->prop[i] > 0) last = (enum op)i;
    }
    for (uint64_t i = 0; i < wk->ops; i++) {
      if ((i & 63) == 0 && (atomic_load_explicit(&r->failed, memory_order_relaxed) ||
                            (r->deadline > 0 && bench_now() > r->deadline)))
        break;
      double u = rand_double(&wk->rng) * c;
      enum op op = last;
      for (int j = 0; j < OP_N; j++)
        if (r->w->prop[j] > 0 && u < cum[j]) {
          op = (enum op)j;
          break;
        }
      throttle(wk);
      if (do_op(wk, op) != 0) break;
      throttled(wk, op);
      wk->done++;
    }
  }
  wk->end = bench_now();
  if (r->eng->thread_fini) r->eng->thread_fini(r->db, &wk->t);
  return NULL;
}

/* ---- phases ---------------------------------------------------------------------------- */

static uint64_t dir_bytes_acc;
static int dir_bytes_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)p;
  (void)f;
  if (flag == FTW_F) dir_bytes_acc += (uint64_t)st->st_size;
  return 0;
}
static uint64_t dir_bytes(const char *dir) {
  dir_bytes_acc = 0;
  nftw(dir, dir_bytes_cb, 16, FTW_PHYS);
  return dir_bytes_acc;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  (void)f;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void print_us(char *buf, size_t cap, size_t *len, const char *key, double ns) {
  if (*len < cap) *len += (size_t)snprintf(buf + *len, cap - *len, " %s=%.1f", key, ns / 1000.0);
}

/* One phase with all threads; prints its result line. Returns 0 or -1. */
static int run_phase(struct run *r, const char *commit, const char *engine_desc) {
  const struct opts *o = r->o;
  int nt = (int)o->threads;
  struct worker *wks = calloc((size_t)nt, sizeof *wks);
  if (!wks) return -1;
  pthread_barrier_init(&r->barrier, NULL, (unsigned)nt + 1);
  uint64_t start_count = r->load ? o->records : present_limit(r) + 1;
  int started = 0;
  for (int i = 0; i < nt; i++) {
    struct worker *wk = &wks[i];
    wk->r = r;
    wk->id = i;
    wk->ops = o->ops / (uint64_t)nt + ((uint64_t)i < o->ops % (uint64_t)nt ? 1 : 0);
    wk->rng = splitmix64(o->seed ^ ((uint64_t)(r->w ? r->w->name : 'L') << 32) ^ (uint64_t)i) | 1;
    if (r->dist == DIST_LATEST)
      zipf_init(&wk->zipf, 0, r->latest_count - 1, r->latest_zetan);
    else
      zipf_init(&wk->zipf, 0, SCRAMBLED_ITEMS, SCRAMBLED_ZETAN);
    wk->t.valcap = o->value_size + 64;
    wk->t.valbuf = malloc(wk->t.valcap);
    wk->val = malloc(o->value_size);
    if (!wk->t.valbuf || !wk->val) {
      run_fail(r, "out of memory");
      break;
    }
  }
  struct bench_cpu_snap c0, c1;
  bench_cpu_take(&c0, NULL, 0);
  if (atomic_load(&r->failed)) {
    fprintf(stderr, "ycsb: %s\n", r->err);
    exit(1);
  }
  for (; started < nt; started++)
    if (pthread_create(&wks[started].th, NULL, worker_main, &wks[started]) != 0) {
      /* The others wait at the barrier for it: nothing to do but leave. */
      fprintf(stderr, "ycsb: pthread_create failed\n");
      exit(1);
    }
  pthread_barrier_wait(&r->barrier);
  double t0 = bench_now();
  for (int i = 0; i < started; i++) pthread_join(wks[i].th, NULL);
  bench_cpu_take(&c1, NULL, 0);
  double t1 = t0;
  struct hist *h = calloc(2 * OP_N, sizeof *h), *hi = h ? h + OP_N : NULL;
  uint64_t done = 0;
  for (int i = 0; i < started; i++) {
    if (wks[i].end > t1) t1 = wks[i].end;
    done += wks[i].done;
    if (h)
      for (int j = 0; j < OP_N; j++) {
        hist_merge(&h[j], &wks[i].h[j]);
        hist_merge(&hi[j], &wks[i].hi[j]);
      }
  }
  for (int i = 0; i < nt; i++) {
    free(wks[i].t.valbuf);
    free(wks[i].val);
  }
  free(wks);
  pthread_barrier_destroy(&r->barrier);
  if (!h) return -1;
  if (r->load) {
    /* Loaded records are present: the insert sequence starts after them. */
    atomic_store(&r->ins_limit, o->records - 1);
    atomic_store(&r->ins_next, o->records);
  }

  double secs = t1 - t0 > 1e-9 ? t1 - t0 : 1e-9;
  struct bench_cpu_delta cd;
  bench_cpu_diff(&c0, &c1, NULL, 0, &cd);
  char line[4096];
  size_t len = (size_t)snprintf(
      line, sizeof line,
      "bench=ycsb engine=%s workload=%s phase=%s distribution=%s threads=%ld records=%llu "
      "ops=%llu seconds=%.3f ops_per_s=%.0f",
      r->eng->name, r->load ? o->wl_list : (char[]){r->w->name, 0}, r->load ? "load" : "run",
      r->load ? "-" : dist_names[r->dist], o->threads, (unsigned long long)start_count,
      (unsigned long long)done, secs, (double)done / secs);
  if (o->target > 0 && !r->load && len < sizeof line)
    len += (size_t)snprintf(line + len, sizeof line - len, " target_ops_per_s=%.0f", o->target);
  char human[1024];
  size_t hl = (size_t)snprintf(human, sizeof human, "# %s %s%s%s: %llu ops in %.2f s = %.0f ops/s",
                               r->eng->name, r->load ? "load" : (char[]){r->w->name, 0},
                               r->load ? "" : " ", r->load ? "" : r->w->what,
                               (unsigned long long)done, secs, (double)done / secs);
  for (int j = 0; j < OP_N; j++) {
    if (!h[j].count) continue;
    char k[32];
    if (len < sizeof line)
      len += (size_t)snprintf(line + len, sizeof line - len, " %s_ops=%llu", op_names[j],
                              (unsigned long long)h[j].count);
    double p50 = hist_quantile(&h[j], 0.50), p99 = hist_quantile(&h[j], 0.99),
           p999 = hist_quantile(&h[j], 0.999);
    snprintf(k, sizeof k, "%s_avg_us", op_names[j]);
    print_us(line, sizeof line, &len, k, (double)h[j].sum_ns / (double)h[j].count);
    snprintf(k, sizeof k, "%s_p50_us", op_names[j]);
    print_us(line, sizeof line, &len, k, p50);
    snprintf(k, sizeof k, "%s_p99_us", op_names[j]);
    print_us(line, sizeof line, &len, k, p99);
    snprintf(k, sizeof k, "%s_p999_us", op_names[j]);
    print_us(line, sizeof line, &len, k, p999);
    snprintf(k, sizeof k, "%s_max_us", op_names[j]);
    print_us(line, sizeof line, &len, k, (double)h[j].max_ns);
    if (hi[j].count) {
      snprintf(k, sizeof k, "%s_intended_p99_us", op_names[j]);
      print_us(line, sizeof line, &len, k, hist_quantile(&hi[j], 0.99));
      snprintf(k, sizeof k, "%s_intended_p999_us", op_names[j]);
      print_us(line, sizeof line, &len, k, hist_quantile(&hi[j], 0.999));
    }
    if (hl < sizeof human)
      hl += (size_t)snprintf(human + hl, sizeof human - hl,
                             "\n#   %-6s %9llu ops  p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  "
                             "max %9.1f us",
                             op_names[j], (unsigned long long)h[j].count, p50 / 1000, p99 / 1000,
                             p999 / 1000, (double)h[j].max_ns / 1000);
  }
  free(h);
  if (len < sizeof line)
    len += (size_t)snprintf(line + len, sizeof line - len,
                            " cpu_cores=%.2f cpu_us_per_op=%.1f other_procs_cpu_cores=%.2f",
                            cd.self / secs, done ? cd.self * 1e6 / (double)done : 0,
                            cd.others >= 0 ? cd.others / secs : -1.0);
  if (r->load && len < sizeof line)
    len += (size_t)snprintf(line + len, sizeof line - len, " value_size=%zu disk_mib=%.1f",
                            o->value_size, (double)dir_bytes(r->dir) / 1048576.0);
  /* Checks after the phase, single-threaded. */
  uint64_t verified = 0;
  bool ok = !atomic_load(&r->failed);
  if (ok && o->verify) {
    struct ycsb_thread t = {0};
    t.valcap = o->value_size + 64;
    t.valbuf = malloc(t.valcap);
    char *want = malloc(o->value_size);
    uint64_t lim = present_limit(r) + 1;
    uint64_t rng = splitmix64(o->seed ^ 0x5eed ^ start_count) | 1;
    if (!t.valbuf || !want || (r->eng->thread_init && r->eng->thread_init(r->db, &t) != YCSB_OK)) {
      run_fail(r, "verify: setup failed: %s", t.err);
    } else {
      uint64_t n = o->verify < lim ? o->verify : lim;
      for (uint64_t i = 0; i < n && !atomic_load(&r->failed); i++) {
        uint64_t k = o->verify >= lim ? i : bench_rand64(&rng) % lim;
        char key[KEY_CAP];
        size_t klen = build_key(key, k), vlen = 0;
        uint32_t v = atomic_load(&r->ver[k]);
        int rc = r->eng->get(r->db, &t, key, klen, &vlen);
        if (rc != YCSB_OK) {
          run_fail(r, "verify: get of record %llu (key %.*s): %s", (unsigned long long)k,
                   (int)klen, key, rc == YCSB_NOTFOUND ? "not found" : t.err);
          break;
        }
        make_value(want, o->value_size, k, v);
        if (vlen != o->value_size || memcmp(t.valbuf, want, o->value_size) != 0) {
          uint64_t gk = 0;
          uint32_t gv = 0;
          bool hdr = value_header(t.valbuf, vlen < t.valcap ? vlen : t.valcap, &gk, &gv);
          run_fail(r,
                   "verify: record %llu (key %.*s): expected version %u (%zu bytes), got %zu "
                   "bytes%s record %llu version %u",
                   (unsigned long long)k, (int)klen, key, v, o->value_size, vlen,
                   hdr ? " holding" : " without a header; bytes say", (unsigned long long)gk,
                   gv);
          break;
        }
        verified++;
      }
      if (r->eng->thread_fini) r->eng->thread_fini(r->db, &t);
    }
    free(t.valbuf);
    free(want);
    ok = !atomic_load(&r->failed);
  }
  if (len < sizeof line)
    len += (size_t)snprintf(line + len, sizeof line - len,
                            " verify=%s verified=%llu stale_reads=%llu engine_opts=%s commit=%s",
                            !o->verify ? "off" : ok ? "ok" : "FAIL",
                            (unsigned long long)verified,
                            (unsigned long long)atomic_load(&r->stale_reads), engine_desc, commit);
  atomic_store(&r->stale_reads, 0);
  printf("%s\n%s\n", line, human);
  fflush(stdout);
  return ok ? 0 : -1;
}

/* Load, then each workload, on one engine. Returns 0 or -1 (reported). */
static int run_engine(const struct opts *o, const struct ycsb_engine *eng, const char *commit) {
  int rc = -1;
  char dir[4096], err[512] = "", desc[512] = "";
  snprintf(dir, sizeof dir, "%s/ycsb-%s-XXXXXX", o->dir, eng->name);
  if (!mkdtemp(dir)) {
    fprintf(stderr, "ycsb: mkdtemp %s: %s\n", dir, strerror(errno));
    return -1;
  }
  struct run *r = calloc(1, sizeof *r);
  if (!r) goto out_dir;
  r->o = o;
  r->eng = eng;
  r->dir = dir;
  pthread_mutex_init(&r->ack_mu, NULL);
  pthread_mutex_init(&r->err_mu, NULL);
  for (int i = 0; i < N_STRIPES; i++) pthread_mutex_init(&r->stripes[i], NULL);
  /* Each run op inserts at most one record. */
  r->vercap = o->records;
  for (int i = 0; i < o->n_wl; i++)
    if (o->wl[i]->prop[OP_INSERT] > 0) r->vercap += o->ops;
  r->ver = calloc(r->vercap, sizeof *r->ver);
  r->ack_window = calloc(ACK_WINDOW, 1);
  if (!r->ver || !r->ack_window) {
    fprintf(stderr, "ycsb: out of memory for %llu records\n", (unsigned long long)r->vercap);
    goto out;
  }
  struct ycsb_engine_opts eo = {
      .dir = dir, .sync = o->sync, .cache_bytes = o->cache_bytes, .extra = o->engine_opt};
  if (eng->open(&eo, &r->db, err, sizeof err) != YCSB_OK) {
    fprintf(stderr, "ycsb: %s\n", err);
    goto out;
  }
  eng->describe(r->db, desc, sizeof desc);
  printf("# engine %s in %s: %s\n", eng->name, dir, desc);
  fflush(stdout);

  r->load = true;
  r->dist = DIST_ZIPFIAN;
  fprintf(stderr, "ycsb: %s: loading %llu records with %ld threads\n", eng->name,
          (unsigned long long)o->records, o->threads);
  rc = run_phase(r, commit, desc);
  r->load = false;
  for (int i = 0; i < o->n_wl && rc == 0; i++) {
    r->w = o->wl[i];
    r->dist = o->dist_override >= 0 ? (enum dist)o->dist_override : r->w->dist;
    uint64_t count = present_limit(r) + 1;
    uint64_t expected = (uint64_t)((double)o->ops * r->w->prop[OP_INSERT] * 2.0);
    r->keyspace = count + expected + 1;
    if (r->dist == DIST_LATEST) {
      r->latest_count = count;
      r->latest_zetan = zeta_sum(0, count, ZIPF_CONSTANT, 0);
    }
    r->deadline = o->seconds > 0 ? bench_now() + o->seconds : 0;
    fprintf(stderr, "ycsb: %s: workload %c (%s), %llu ops\n", eng->name, r->w->name,
            r->w->what, (unsigned long long)o->ops);
    rc = run_phase(r, commit, desc);
  }
  if (rc != 0) fprintf(stderr, "ycsb: %s: FAILED: %s\n", eng->name, r->err);
  printf("# %s: %.1f MiB on disk at the end\n", eng->name, (double)dir_bytes(dir) / 1048576.0);
  if (eng->close(r->db, err, sizeof err) != YCSB_OK) {
    fprintf(stderr, "ycsb: %s: close: %s\n", eng->name, err);
    rc = -1;
  }
out:
  if (r) {
    free(r->ver);
    free(r->ack_window);
    for (int i = 0; i < N_STRIPES; i++) pthread_mutex_destroy(&r->stripes[i]);
    pthread_mutex_destroy(&r->ack_mu);
    pthread_mutex_destroy(&r->err_mu);
    free(r);
  }
out_dir:
  if (o->keep) fprintf(stderr, "ycsb: kept %s\n", dir);
  else nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: ycsb [options]\n"
          "  --engine LIST       engines, comma-separated, each run in turn (built in:");
  for (size_t i = 0; i < N_ENGINES; i++) fprintf(f, " %s", engines[i]->name);
  fprintf(f,
          ")\n"
          "  --workloads LIST    YCSB workloads in run order, e.g. A,B,C,E,F (default; D too)\n"
          "  --records N         records loaded (default 100000)\n"
          "  --ops N             operations per workload (default 100000)\n"
          "  --threads N         client threads (default 4)\n"
          "  --seconds S         stop a workload after S seconds (default: no limit)\n"
          "  --target N          N operations per second in all threads together in each\n"
          "                      workload (YCSB's -target; the load runs flat out);\n"
          "                      default: as fast as possible\n"
          "  --value-size B      bytes per record (default 1000 = 10 fields x 100)\n"
          "  --distribution D    override the request distribution: zipfian, uniform, latest\n"
          "  --sync              every write durable before it returns (WAL fsync)\n"
          "  --cache-size SIZE   block cache (default 1g)\n"
          "  --engine-opt K=V,.. engine-specific settings, ENGINE.K=V for one engine only\n"
          "                      (rocksdb: block_size, write_buffer,\n"
          "                      bloom_bits, compression=none|snappy|lz4|zstd, bg_jobs)\n"
          "                      (region: namenode=host:port, flush_size, flush_lower,\n"
          "                      flush_upper (flush pacing, bytes/s; flush_lower=0: none),\n"
          "                      block_size,\n"
          "                      compression=none|snappy, bloom=0|1, cache_on_write=0|1,\n"
          "                      replication, datanodes,\n"
          "                      dfs_blocksize, wal=hflush|hsync|async|skip,\n"
          "                      fields=1..10: cells per record, as HBase's binding's 10)\n"
          "  --dir DIR           where the stores go (default $TMPDIR or /tmp)\n"
          "  --keep              keep the stores\n"
          "  --verify N          keys read back and compared after each phase (default 10000;\n"
          "                      0: no checks and no per-key write lock)\n"
          "  --seed N            random seed (default 1)\n");
#ifndef YCSB_HAVE_ROCKSDB
  fprintf(f, "This build has no RocksDB engine: librocksdb-dev was missing at configure time.\n");
#endif
}

static const struct ycsb_engine *find_engine(const char *name) {
  for (size_t i = 0; i < N_ENGINES; i++)
    if (strcmp(engines[i]->name, name) == 0) return engines[i];
  return NULL;
}

int main(int argc, char **argv) {
  struct opts o = {.threads = 4, .records = 100000, .ops = 100000, .value_size = 1000,
                   .cache_bytes = 1ull << 30, .dist_override = -1, .verify = 10000, .seed = 1};
  const char *engine_list = engines[0]->name, *wl_list = "A,B,C,E,F";
  const char *tmp = getenv("TMPDIR");
  o.dir = tmp && *tmp ? tmp : "/tmp";
  static const struct option lo[] = {
      {"engine", 1, 0, 'e'},       {"workloads", 1, 0, 'w'}, {"records", 1, 0, 'r'},
      {"ops", 1, 0, 'o'},          {"threads", 1, 0, 't'},   {"seconds", 1, 0, 's'},
      {"value-size", 1, 0, 'v'},   {"distribution", 1, 0, 'D'}, {"sync", 0, 0, 'S'},
      {"cache-size", 1, 0, 'c'},   {"engine-opt", 1, 0, 'x'}, {"dir", 1, 0, 'd'},
      {"keep", 0, 0, 'k'},         {"verify", 1, 0, 'V'},    {"seed", 1, 0, 'z'},
      {"target", 1, 0, 'T'},       {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
  int c;
  long v;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    switch (c) {
      case 'e': engine_list = optarg; break;
      case 'w': wl_list = optarg; break;
      case 'r':
        if (bench_parse_int(optarg, 1, 1L << 40, &v)) goto bad;
        o.records = (uint64_t)v;
        break;
      case 'o':
        if (bench_parse_int(optarg, 0, 1L << 40, &v)) goto bad;
        o.ops = (uint64_t)v;
        break;
      case 't':
        if (bench_parse_int(optarg, 1, 1024, &v)) goto bad;
        o.threads = v;
        break;
      case 's': {
        char *end;
        o.seconds = strtod(optarg, &end);
        if (*end || o.seconds < 0) goto bad;
        break;
      }
      case 'T': {
        char *end;
        o.target = strtod(optarg, &end);
        if (*end || !(o.target >= 0) || o.target > 1e9) goto bad;
        break;
      }
      case 'v':
        if (bench_parse_int(optarg, VALUE_HEADER, 1L << 24, &v)) goto bad;
        o.value_size = (size_t)v;
        break;
      case 'D':
        o.dist_override = -1;
        for (int i = 0; i < 3; i++)
          if (strcmp(optarg, dist_names[i]) == 0) o.dist_override = i;
        if (o.dist_override < 0) goto bad;
        break;
      case 'S': o.sync = 1; break;
      case 'c':
        if (bench_parse_size(optarg, &o.cache_bytes)) goto bad;
        break;
      case 'x': o.engine_opt = optarg; break;
      case 'd': o.dir = optarg; break;
      case 'k': o.keep = true; break;
      case 'V':
        if (bench_parse_int(optarg, 0, 1L << 40, &v)) goto bad;
        o.verify = (uint64_t)v;
        break;
      case 'z':
        if (bench_parse_int(optarg, 0, 1L << 62, &v)) goto bad;
        o.seed = (uint64_t)v;
        break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
    continue;
  bad:
    fprintf(stderr, "ycsb: bad option value \"%s\" (see --help)\n", optarg);
    return 2;
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }

  char buf[256];
  snprintf(buf, sizeof buf, "%s", engine_list);
  char *save = NULL;
  for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
    const struct ycsb_engine *eng = find_engine(e);
    if (!eng) {
      fprintf(stderr, "ycsb: no engine \"%s\" in this build%s\n", e,
#ifdef YCSB_HAVE_ROCKSDB
              ""
#else
              strcmp(e, "rocksdb") == 0 ? " (librocksdb-dev was missing at configure time)" : ""
#endif
      );
      return 2;
    }
    if (o.n_engines >= (int)N_ENGINES) {
      fprintf(stderr, "ycsb: too many engines\n");
      return 2;
    }
    o.engine[o.n_engines++] = eng;
  }
  for (const char *p = wl_list; *p; p++) {
    if (*p == ',') continue;
    const struct workload *w = NULL;
    for (size_t i = 0; i < N_WORKLOADS; i++)
      if (workloads[i].name == (char)toupper((unsigned char)*p)) w = &workloads[i];
    if (!w || o.n_wl >= 16) {
      fprintf(stderr, "ycsb: bad workload list \"%s\" (letters A-F)\n", wl_list);
      return 2;
    }
    size_t l = strlen(o.wl_list);
    snprintf(o.wl_list + l, sizeof o.wl_list - l, "%s%c", o.n_wl ? "," : "", w->name);
    o.wl[o.n_wl++] = w;
  }
  if (o.n_engines == 0 || o.n_wl == 0) {
    usage(stderr);
    return 2;
  }

  char commit[64], date[32];
  bench_git_commit(commit, sizeof commit);
  bench_utc_date(date, sizeof date);
  printf("# ycsb %s: records=%llu ops=%llu threads=%ld value_size=%zu sync=%d workloads=%s "
         "(commit %s)\n",
         date, (unsigned long long)o.records, (unsigned long long)o.ops, o.threads, o.value_size,
         o.sync, o.wl_list, commit);
  int rc = 0;
  for (int i = 0; i < o.n_engines; i++)
    if (run_engine(&o, o.engine[i], commit) != 0) rc = 1;
  return rc;
}
