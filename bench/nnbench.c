/*
 * nnbench.c - a NameNode throughput benchmark modelled on HDFS's
 * NNThroughputBenchmark: T client threads run one namespace operation over
 * N paths as fast as the NameNode answers, and the program reports ops/s,
 * latency percentiles and the CPU each side spent per operation.
 *
 * Operations (as NNThroughputBenchmark names them):
 *   create      create + close of an empty file (CREATE then COMPLETE RPCs)
 *   mkdirs      mkdirs of new directories
 *   open        getBlockLocations (dfs_block_locations of a whole file)
 *   fileStatus  getFileInfo (dfs_stat)
 *   rename      rename of each file within its directory
 *   delete      delete of each (renamed) file
 *   all         the six above in that order over the same files
 * Files live in N/filesPerDir directories under a fresh directory per run
 * (see FIELD-NOTES.md: on this ext4, re-creating in a directory where many
 * files were just deleted is slow, and the NameNode's storage meets the
 * same kind of trap), e.g. /nnbench/<run>/d0003/f000123.
 *
 * Everything goes over RPC to a real NameNode process: by default one
 * started by the test harness (with one idle DataNode, which the harness
 * requires; empty files need none), or --namenode ADDR. Its edit log is
 * durable (group commit + fdatasync) in its default configuration. Each
 * thread has its own dfs_fs (its own connections) unless --shared-fs, where
 * all threads share one (dfs_fs is thread-safe; its pool then holds one
 * connection per concurrent call). The NameNode's CPU comes from
 * /proc/<pid>/stat, this process's from getrusage.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "bench_util.h"
#include "dfs.h"

#if __has_include("minicluster.h")
#include "minicluster.h"
#define NNB_HAVE_HARNESS 1
#else
#define NNB_HAVE_HARNESS 0
#endif

enum op { OP_CREATE, OP_MKDIRS, OP_OPEN, OP_STAT, OP_RENAME, OP_DELETE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"create", "mkdirs", "open",
                                                "fileStatus", "rename", "delete"};
/* Targets of issue 2 (ops/s); 0: none. */
static const double op_targets[OP_COUNT] = {20000, 0, 0, 100000, 0, 0};

struct opts {
  long threads, files, files_per_dir;
  const char *namenode, *pids;
  bool shared_fs, keep;
  bool ops[OP_COUNT];
  char base[256];
};

struct run;

struct worker {
  struct run *r;
  int id;
  dfs_fs *fs;
  double *lat;             /* seconds per op (grown by the worker) */
  size_t nlat, cap;
  pthread_t th;
};

struct run {
  const struct opts *o;
  enum op op;
  atomic_long next;        /* next path index to claim */
  atomic_int failed;
  pthread_mutex_t mu;      /* guards err */
  char err[512];
  struct worker *w;
};

static void path_of(const struct opts *o, enum op op, long i, bool renamed, char *buf,
                    size_t cap) {
  long d = i / o->files_per_dir;
  if (op == OP_MKDIRS)
    snprintf(buf, cap, "%s/mkdirs/d%04ld/s%06ld", o->base, d, i);
  else
    snprintf(buf, cap, "%s/files/d%04ld/f%06ld%s", o->base, d, i, renamed ? ".r" : "");
}

static void run_fail(struct run *r, const char *what, const char *path) {
  pthread_mutex_lock(&r->mu);
  if (!r->err[0]) snprintf(r->err, sizeof r->err, "%s %.200s: %.280s", what, path, dfs_error_message());
  pthread_mutex_unlock(&r->mu);
  atomic_store(&r->failed, 1);
}

static int do_op(struct worker *w, enum op op, long i) {
  const struct opts *o = w->r->o;
  char path[512], dst[512];
  switch (op) {
    case OP_CREATE: {
      path_of(o, op, i, false, path, sizeof path);
      dfs_file *f = NULL;
      if (dfs_create(w->fs, path, NULL, &f) != 0) {
        run_fail(w->r, "create", path);
        return -1;
      }
      if (dfs_close(f) != 0) {
        run_fail(w->r, "close", path);
        return -1;
      }
      return 0;
    }
    case OP_MKDIRS:
      path_of(o, op, i, false, path, sizeof path);
      if (dfs_mkdirs(w->fs, path, 0755) != 0) {
        run_fail(w->r, "mkdirs", path);
        return -1;
      }
      return 0;
    case OP_OPEN: {
      path_of(o, op, i, false, path, sizeof path);
      struct dfs_block_loc *locs = NULL;
      size_t n = 0;
      if (dfs_block_locations(w->fs, path, 0, 0, &locs, &n) != 0) {
        run_fail(w->r, "open (getBlockLocations)", path);
        return -1;
      }
      dfs_block_locs_free(locs, n);
      return 0;
    }
    case OP_STAT: {
      path_of(o, op, i, false, path, sizeof path);
      struct dfs_stat st;
      if (dfs_stat(w->fs, path, &st) != 0) {
        run_fail(w->r, "fileStatus", path);
        return -1;
      }
      dfs_stat_clear(&st);
      return 0;
    }
    case OP_RENAME:
      path_of(o, op, i, false, path, sizeof path);
      path_of(o, op, i, true, dst, sizeof dst);
      if (dfs_rename(w->fs, path, dst, false) != 0) {
        run_fail(w->r, "rename", path);
        return -1;
      }
      return 0;
    case OP_DELETE:
      path_of(o, op, i, true, path, sizeof path);
      if (dfs_delete(w->fs, path, false) != 0) {
        run_fail(w->r, "delete", path);
        return -1;
      }
      return 0;
    default:
      return -1;
  }
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct run *r = w->r;
  /* Claim indices in small batches so that threads spread over directories
   * the way NNThroughputBenchmark's per-thread name generators do, without
   * a contended counter per operation. */
  const long batch = 16;
  for (;;) {
    long start = atomic_fetch_add(&r->next, batch);
    if (start >= r->o->files || atomic_load(&r->failed)) break;
    long end = start + batch < r->o->files ? start + batch : r->o->files;
    for (long i = start; i < end; i++) {
      double t0 = bench_now();
      if (do_op(w, r->op, i) != 0) return NULL;
      double dt = bench_now() - t0;
      if (w->nlat == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 4096;
        double *n = realloc(w->lat, ncap * sizeof *n);
        if (!n) {
          pthread_mutex_lock(&r->mu);
          snprintf(r->err, sizeof r->err, "out of memory for latencies");
          pthread_mutex_unlock(&r->mu);
          atomic_store(&r->failed, 1);
          return NULL;
        }
        w->lat = n;
        w->cap = ncap;
      }
      w->lat[w->nlat++] = dt;
    }
  }
  return NULL;
}

struct result {
  double secs, ops_per_s, p50, p90, p99, max;
  struct bench_cpu_delta cpu;
};

/* Run one operation over all paths with o->threads workers. */
static int run_op(const struct opts *o, enum op op, struct worker *ws, const struct bench_proc *procs,
                  int nprocs, struct result *res) {
  struct run r = {.o = o, .op = op, .w = ws};
  atomic_init(&r.next, 0);
  atomic_init(&r.failed, 0);
  pthread_mutex_init(&r.mu, NULL);
  for (long t = 0; t < o->threads; t++) {
    ws[t].r = &r;
    ws[t].nlat = 0;
  }
  struct bench_cpu_snap s0, s1;
  bench_cpu_take(&s0, procs, nprocs);
  double t0 = bench_now();
  long started = 0;
  for (long t = 0; t < o->threads; t++) {
    if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
      snprintf(r.err, sizeof r.err, "pthread_create failed");
      atomic_store(&r.failed, 1);
      break;
    }
    started++;
  }
  for (long t = 0; t < started; t++) pthread_join(ws[t].th, NULL);
  res->secs = bench_now() - t0;
  bench_cpu_take(&s1, procs, nprocs);
  pthread_mutex_destroy(&r.mu);
  if (atomic_load(&r.failed)) {
    fprintf(stderr, "nnbench: %s failed: %s\n", op_names[op], r.err);
    return -1;
  }
  bench_cpu_diff(&s0, &s1, procs, nprocs, &res->cpu);
  size_t n = 0;
  for (long t = 0; t < o->threads; t++) n += ws[t].nlat;
  double *all = malloc((n ? n : 1) * sizeof *all);
  if (!all) {
    fprintf(stderr, "nnbench: out of memory\n");
    return -1;
  }
  n = 0;
  for (long t = 0; t < o->threads; t++) {
    memcpy(all + n, ws[t].lat, ws[t].nlat * sizeof *all);
    n += ws[t].nlat;
  }
  bench_sort(all, n);
  res->ops_per_s = (double)n / res->secs;
  res->p50 = bench_quantile(all, n, 0.50, 1);
  res->p90 = bench_quantile(all, n, 0.90, 1);
  res->p99 = bench_quantile(all, n, 0.99, 1);
  res->max = n ? all[n - 1] : 0;
  free(all);
  return 0;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: nnbench [options]\n"
          "NameNode throughput over RPC (like HDFS's NNThroughputBenchmark).\n"
          "  -op OP            create|mkdirs|open|fileStatus|rename|delete|all, or a comma\n"
          "                    list (default all). open/fileStatus/rename/delete first create\n"
          "                    the files they need (not timed) unless create runs before them.\n"
          "  -threads T        client threads (default 16)\n"
          "  -files N          paths per operation (default 100000)\n"
          "  -filesPerDir K    entries per directory (default 1000; HDFS's default is 4)\n"
          "  --shared-fs       all threads share one dfs_fs (default: one each)\n"
          "  --namenode ADDR   use an existing NameNode at host:port\n"
          "  --pids LIST       with --namenode: its pid (NN first) for CPU accounting\n"
          "  --keep            leave the benchmark's directory in place\n"
          "  --help            this text\n"
          "Output: one line per operation on stdout,\n"
          "  bench=nnbench op=.. threads=.. files=.. filesPerDir=.. ops=.. seconds=..\n"
          "  ops_per_s=.. lat_p50_us=.. lat_p99_us=.. nn_cpu_us_per_op=.. ... target=.. met=..\n");
}

static int parse_ops(const char *s, struct opts *o) {
  memset(o->ops, 0, sizeof o->ops);
  char *dup = strdup(s), *save = NULL;
  if (!dup) return -1;
  int rc = 0;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "all")) {
      for (int i = 0; i < OP_COUNT; i++) o->ops[i] = true;
      continue;
    }
    int found = 0;
    for (int i = 0; i < OP_COUNT; i++)
      if (!strcasecmp(t, op_names[i])) o->ops[i] = true, found = 1;
    if (!found) rc = -1;
  }
  free(dup);
  return rc;
}

int main(int argc, char **argv) {
  struct opts o = {.threads = 16, .files = 100000, .files_per_dir = 1000};
  parse_ops("all", &o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--shared-fs")) {
      o.shared_fs = true;
      continue;
    } else if (!strcmp(a, "--keep")) {
      o.keep = true;
      continue;
    }
    const char *v = i + 1 < argc ? argv[++i] : NULL;
    if (!v) goto bad;
    if (!strcmp(a, "-op")) {
      if (parse_ops(v, &o)) goto bad;
    } else if (!strcmp(a, "-threads")) {
      if (bench_parse_int(v, 1, 1024, &o.threads)) goto bad;
    } else if (!strcmp(a, "-files")) {
      if (bench_parse_int(v, 1, 100000000, &o.files)) goto bad;
    } else if (!strcmp(a, "-filesPerDir")) {
      if (bench_parse_int(v, 1, 1000000, &o.files_per_dir)) goto bad;
    } else if (!strcmp(a, "--namenode")) {
      o.namenode = v;
    } else if (!strcmp(a, "--pids")) {
      o.pids = v;
    } else {
      goto bad;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char commit[64], date[32];
  bench_git_commit(commit, sizeof commit);
  bench_utc_date(date, sizeof date);
  snprintf(o.base, sizeof o.base, "/nnbench/run-%ld-%d", (long)time(NULL), (int)getpid());

  int rc = 1;
  char nn_addr[256] = "";
  struct bench_proc procs[BENCH_MAX_PIDS];
  int nprocs = 0;
  bool own = false;
  const char *cpu_note = NULL;
#if NNB_HAVE_HARNESS
  struct minicluster *mc = NULL;
#endif
  if (o.namenode) {
    snprintf(nn_addr, sizeof nn_addr, "%s", o.namenode);
    if (o.pids) {
      nprocs = bench_parse_pids(o.pids, procs, BENCH_MAX_PIDS);
      if (nprocs < 0) goto bad;
    } else {
      cpu_note = "external NameNode without --pids";
    }
  } else {
#if NNB_HAVE_HARNESS
    /* The harness always starts DataNodes; one idle node is the least. */
    struct mc_opts mo = {.num_datanodes = 1, .replication = 1};
    fprintf(stderr, "nnbench: starting a NameNode (and one idle DataNode) via the harness\n");
    int e = mc_start(&mo, &mc);
    if (e) {
      fprintf(stderr, "nnbench: cannot start the mini-cluster: %s\n", dfs_error_string(e));
      return 1;
    }
    snprintf(nn_addr, sizeof nn_addr, "%s", mc_nn_addr(mc));
    procs[0].pid = mc_nn_pid(mc);
    snprintf(procs[0].role, sizeof procs[0].role, "namenode");
    nprocs = 1;
    own = true;
#else
    fprintf(stderr, "nnbench: built without the test harness; give --namenode ADDR\n");
    return 2;
#endif
  }

  struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
  dfs_fs *shared = NULL;
  if (!ws) goto out;
  struct dfs_connect_opts co = {.namenode = nn_addr};
  if (o.shared_fs && dfs_connect(&co, &shared) != 0) {
    fprintf(stderr, "nnbench: connect %s: %s\n", nn_addr, dfs_error_message());
    goto out;
  }
  for (long t = 0; t < o.threads; t++) {
    ws[t].id = (int)t;
    if (shared) {
      ws[t].fs = shared;
    } else if (dfs_connect(&co, &ws[t].fs) != 0) {
      fprintf(stderr, "nnbench: connect %s: %s\n", nn_addr, dfs_error_message());
      goto out;
    }
  }
  printf("# nnbench %s commit %s, NameNode %s (%s), %ld threads (%s dfs_fs), %ld paths, "
         "%ld per directory, base %s\n",
         date, commit, nn_addr, own ? "own, via the harness" : "external", o.threads,
         shared ? "one shared" : "one per thread", o.files, o.files_per_dir, o.base);
  fflush(stdout);

  bool have_files = false;
  for (int op = 0; op < OP_COUNT; op++) {
    if (!o.ops[op]) continue;
    if (op >= OP_OPEN && !have_files) {
      fprintf(stderr, "nnbench: creating %ld files for %s (not timed)\n", o.files, op_names[op]);
      struct result pre;
      if (run_op(&o, OP_CREATE, ws, procs, nprocs, &pre)) goto out;
      have_files = true;
    }
    if (op == OP_RENAME || op == OP_DELETE) {
      /* delete works on renamed files; without a rename before it, rename
       * them first (not timed). */
      if (op == OP_DELETE && !o.ops[OP_RENAME]) {
        struct result pre;
        if (run_op(&o, OP_RENAME, ws, procs, nprocs, &pre)) goto out;
      }
    }
    struct result res;
    if (run_op(&o, (enum op)op, ws, procs, nprocs, &res)) goto out;
    if (op == OP_CREATE) have_files = true;
    if (op == OP_DELETE) have_files = false;
    bool daemons = nprocs > 0 && res.cpu.missing == 0;
    double target = op_targets[op];
    printf("bench=nnbench op=%s threads=%ld files=%ld filesPerDir=%ld conn=%s ops=%ld "
           "seconds=%.3f ops_per_s=%.0f lat_p50_us=%.0f lat_p90_us=%.0f lat_p99_us=%.0f "
           "lat_max_us=%.0f client_cpu_us_per_op=%.1f",
           op_names[op], o.threads, o.files, o.files_per_dir, shared ? "shared" : "per-thread",
           o.files, res.secs, res.ops_per_s, res.p50 * 1e6, res.p90 * 1e6, res.p99 * 1e6,
           res.max * 1e6, res.cpu.self / (double)o.files * 1e6);
    if (daemons)
      printf(" nn_cpu_us_per_op=%.1f nn_cpu_cores=%.2f dn_cpu_s=%.2f",
             res.cpu.namenode / (double)o.files * 1e6, res.cpu.namenode / res.secs,
             res.cpu.datanodes);
    if (target > 0) printf(" target=%.0f met=%d", target, res.ops_per_s >= target);
    printf(" other_procs_cpu_cores=%.2f editlog=durable cluster=%s commit=%s\n",
           res.cpu.others >= 0 ? res.cpu.others / res.secs : -1, own ? "own" : "external",
           commit);
    printf("# %-10s %9.0f ops/s  (%ld ops in %.2f s; latency p50 %.0f us, p99 %.0f us; "
           "client CPU %.1f us/op",
           op_names[op], res.ops_per_s, o.files, res.secs, res.p50 * 1e6, res.p99 * 1e6,
           res.cpu.self / (double)o.files * 1e6);
    if (daemons)
      printf(", NameNode CPU %.1f us/op = %.2f cores", res.cpu.namenode / (double)o.files * 1e6,
             res.cpu.namenode / res.secs);
    else
      printf(", NameNode CPU not measured: %s", cpu_note ? cpu_note : "pid vanished");
    printf(")");
    if (res.cpu.others >= 0 && res.cpu.others / res.secs > 0.2)
      printf(" [other processes used %.2f cores]", res.cpu.others / res.secs);
    if (target > 0)
      printf(" target %.0f: %s", target, res.ops_per_s >= target ? "met" : "NOT met");
    printf("\n");
    fflush(stdout);
  }
  rc = 0;
out:
  if (ws) {
    dfs_fs *cleaner = shared ? shared : ws[0].fs;
    if (cleaner && !o.keep) dfs_delete(cleaner, o.base, true);
    for (long t = 0; t < o.threads; t++)
      if (ws[t].fs && ws[t].fs != shared) dfs_disconnect(ws[t].fs);
  }
  if (shared) dfs_disconnect(shared);
  for (long t = 0; ws && t < o.threads; t++) free(ws[t].lat);
  free(ws);
#if NNB_HAVE_HARNESS
  if (mc) mc_stop(mc);
#endif
  return rc;
bad:
  usage(stderr);
  return 2;
}
