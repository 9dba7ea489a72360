/*
 * dfsio.c - a TestDFSIO-like throughput benchmark: write N files of SIZE
 * bytes at replication R (T files at a time, one dfs_file each), read them
 * back sequentially, optionally read them again with positional reads, and
 * report per phase the bytes, seconds, MB/s (10^6) and MiB/s, and the CPU
 * seconds per GiB of EVERY process involved: this one (getrusage) plus the
 * NameNode and each DataNode (/proc/<pid>/stat deltas).
 *
 * By default it starts its own mini-cluster through the test harness (a
 * NameNode and 3 DataNodes on two racks, data in a temporary directory on
 * /tmp, the root disk here) and stops it at the end; --namenode ADDR uses an
 * existing cluster (then --pids gives the daemons' pids for the CPU figures).
 *
 * Honest reads: the data written is a pool of pre-generated random 1 MiB
 * chunks whose CRC32C is computed once; file f's chunk i is pool chunk
 * (f * 7 + i * 13) mod POOL, so the reader knows what every MiB must hold
 * and verifies its CRC (a misplaced, stale or missing chunk fails the run).
 * The verification's CPU is measured and reported apart (verify_cpu_s), so
 * that it can be told from the read path's own cost.
 *
 * The page cache is not dropped (we cannot assume the right to). With its
 * own cluster dfsio measures with mincore() how much of the block data and
 * checksum files is resident when a read phase starts and says so: with
 * DataNodes that write and read data with O_DIRECT the data comes from the
 * (virtual) disk even right after the write, with buffered DataNodes it
 * would come from memory.
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "crc32c.h"
#include "dfs.h"

#if __has_include("minicluster.h")
#include "minicluster.h"
#define DFSIO_HAVE_HARNESS 1
#else
#define DFSIO_HAVE_HARNESS 0
#endif

#define CHUNK (1u << 20)   /* verification granule = write size */
#define POOL 64            /* 64 MiB of distinct random data */

struct opts {
  long nfiles;
  uint64_t file_size;
  long threads;
  long replication;
  uint64_t blocksize;      /* 0: the cluster's default */
  uint64_t write_size;     /* bytes per dfs_write (multiple of CHUNK not required) */
  uint64_t read_size;      /* bytes per dfs_read buffer (multiple of CHUNK) */
  const char *namenode;    /* external cluster */
  const char *pids;
  const char *data_dir;    /* external cluster: where its block files are */
  const char *dir;
  long datanodes;
  bool do_write, do_read, do_pread, keep;
};

struct pool {
  uint8_t *data;           /* POOL * CHUNK bytes */
  uint32_t crc[POOL];
};

static inline unsigned chunk_of(long file, uint64_t idx) {
  return (unsigned)(((uint64_t)file * 7 + idx * 13) % POOL);
}

/* Shared by the worker threads of one phase. */
struct phase {
  const struct opts *o;
  const struct pool *pool;
  dfs_fs *fs;
  const char *name;        /* "write", "read", "pread" */
  atomic_long next_file;
  atomic_int failed;
  pthread_mutex_t mu;      /* guards err, bytes, verify_cpu, file_secs */
  char err[512];
  uint64_t bytes;
  double verify_cpu;       /* thread CPU spent in CRC verification */
  double *file_secs;       /* per file */
};

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void file_path(const struct opts *o, long i, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/io_data/file_%04ld", o->dir, i);
}

static void phase_fail(struct phase *ph, const char *fmt, ...) {
  pthread_mutex_lock(&ph->mu);
  if (!ph->err[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ph->err, sizeof ph->err, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&ph->mu);
  atomic_store(&ph->failed, 1);
}

static int write_file(struct phase *ph, long fi) {
  const struct opts *o = ph->o;
  char path[1024];
  file_path(o, fi, path, sizeof path);
  struct dfs_create_opts co = {.overwrite = true,
                               .replication = (int)o->replication,
                               .blocksize = o->blocksize};
  dfs_file *f = NULL;
  int rc = dfs_create(ph->fs, path, &co, &f);
  if (rc) {
    phase_fail(ph, "create %s: %s", path, dfs_error_message());
    return rc;
  }
  uint64_t done = 0;
  while (done < o->file_size && !atomic_load(&ph->failed)) {
    /* Writes follow the chunk sequence; a write never straddles chunks so
     * each dfs_write is one contiguous piece of the pool. */
    uint64_t idx = done / CHUNK, in = done % CHUNK;
    uint64_t n = CHUNK - in;
    if (n > o->write_size) n = o->write_size;
    if (n > o->file_size - done) n = o->file_size - done;
    const uint8_t *src = ph->pool->data + (size_t)chunk_of(fi, idx) * CHUNK + in;
    ssize_t w = dfs_write(f, src, (size_t)n);
    if (w != (ssize_t)n) {
      phase_fail(ph, "write %s at %llu: %s", path, (unsigned long long)done,
                 dfs_error_message());
      dfs_close(f);
      return -1;
    }
    done += n;
  }
  rc = dfs_close(f);
  if (rc) {
    phase_fail(ph, "close %s: %s", path, dfs_error_message());
    return rc;
  }
  pthread_mutex_lock(&ph->mu);
  ph->bytes += done;
  pthread_mutex_unlock(&ph->mu);
  return 0;
}

/* Verify buf, which holds file fi's bytes [off, off+len) with off a
 * multiple of CHUNK. */
static int verify(struct phase *ph, long fi, uint64_t off, const uint8_t *buf, size_t len,
                  const char *path) {
  for (size_t p = 0; p < len; p += CHUNK) {
    size_t n = len - p < CHUNK ? len - p : CHUNK;
    uint64_t idx = (off + p) / CHUNK;
    unsigned c = chunk_of(fi, idx);
    uint32_t want = n == CHUNK ? ph->pool->crc[c]
                               : crc32c(0, ph->pool->data + (size_t)c * CHUNK, n);
    uint32_t got = crc32c(0, buf + p, n);
    if (got != want) {
      phase_fail(ph, "%s %s: wrong data in MiB %llu (crc %08x, expected %08x)", ph->name, path,
                 (unsigned long long)idx, got, want);
      return -1;
    }
  }
  return 0;
}

static int read_file(struct phase *ph, long fi, uint8_t *buf, double *vcpu) {
  const struct opts *o = ph->o;
  char path[1024];
  file_path(o, fi, path, sizeof path);
  dfs_file *f = NULL;
  if (dfs_open(ph->fs, path, &f) != 0) {
    phase_fail(ph, "open %s: %s", path, dfs_error_message());
    return -1;
  }
  uint64_t off = 0;
  for (;;) {
    size_t fill = 0;
    while (fill < o->read_size) {
      ssize_t n = dfs_read(f, buf + fill, (size_t)o->read_size - fill);
      if (n < 0) {
        phase_fail(ph, "read %s at %llu: %s", path, (unsigned long long)(off + fill),
                   dfs_error_message());
        dfs_close(f);
        return -1;
      }
      if (n == 0) break;
      fill += (size_t)n;
    }
    if (fill == 0) break;
    double c0 = thread_cpu();
    int rc = verify(ph, fi, off, buf, fill, path);
    *vcpu += thread_cpu() - c0;
    if (rc) {
      dfs_close(f);
      return -1;
    }
    off += fill;
    if (fill < o->read_size) break;
  }
  dfs_close(f);
  if (off != o->file_size) {
    phase_fail(ph, "read %s: got %llu bytes, expected %llu", path, (unsigned long long)off,
               (unsigned long long)o->file_size);
    return -1;
  }
  pthread_mutex_lock(&ph->mu);
  ph->bytes += off;
  pthread_mutex_unlock(&ph->mu);
  return 0;
}

/* Positional reads of whole chunks in a shuffled order (each chunk once). */
static int pread_file(struct phase *ph, long fi, uint8_t *buf, double *vcpu) {
  const struct opts *o = ph->o;
  char path[1024];
  file_path(o, fi, path, sizeof path);
  dfs_file *f = NULL;
  if (dfs_open(ph->fs, path, &f) != 0) {
    phase_fail(ph, "open %s: %s", path, dfs_error_message());
    return -1;
  }
  uint64_t nchunks = (o->file_size + CHUNK - 1) / CHUNK;
  uint64_t *order = malloc(nchunks * sizeof *order);
  if (!order) {
    dfs_close(f);
    phase_fail(ph, "out of memory");
    return -1;
  }
  uint64_t seed = 0x1234567ull + (uint64_t)fi;
  for (uint64_t i = 0; i < nchunks; i++) order[i] = i;
  for (uint64_t i = nchunks; i > 1; i--) {
    uint64_t j = bench_rand64(&seed) % i, t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
  uint64_t total = 0;
  int rc = 0;
  for (uint64_t k = 0; k < nchunks && rc == 0; k++) {
    uint64_t off = order[k] * CHUNK;
    size_t want = o->file_size - off < CHUNK ? (size_t)(o->file_size - off) : CHUNK;
    size_t fill = 0;
    while (fill < want) {
      ssize_t n = dfs_pread(f, off + fill, buf + fill, want - fill);
      if (n <= 0) {
        phase_fail(ph, "pread %s at %llu: %s", path, (unsigned long long)(off + fill),
                   n < 0 ? dfs_error_message() : "unexpected end of file");
        rc = -1;
        break;
      }
      fill += (size_t)n;
    }
    if (rc) break;
    double c0 = thread_cpu();
    rc = verify(ph, fi, off, buf, fill, path);
    *vcpu += thread_cpu() - c0;
    total += fill;
  }
  free(order);
  dfs_close(f);
  if (rc) return -1;
  pthread_mutex_lock(&ph->mu);
  ph->bytes += total;
  pthread_mutex_unlock(&ph->mu);
  return 0;
}

static void *worker_main(void *arg) {
  struct phase *ph = arg;
  uint8_t *buf = NULL;
  if (strcmp(ph->name, "write") != 0) {
    buf = malloc((size_t)ph->o->read_size);
    if (!buf) {
      phase_fail(ph, "out of memory");
      return NULL;
    }
  }
  double vcpu = 0;
  for (;;) {
    long fi = atomic_fetch_add(&ph->next_file, 1);
    if (fi >= ph->o->nfiles || atomic_load(&ph->failed)) break;
    double t0 = bench_now();
    int rc;
    if (!strcmp(ph->name, "write")) rc = write_file(ph, fi);
    else if (!strcmp(ph->name, "read")) rc = read_file(ph, fi, buf, &vcpu);
    else rc = pread_file(ph, fi, buf, &vcpu);
    if (rc) break;
    ph->file_secs[fi] = bench_now() - t0;
  }
  pthread_mutex_lock(&ph->mu);
  ph->verify_cpu += vcpu;
  pthread_mutex_unlock(&ph->mu);
  free(buf);
  return NULL;
}

/* ---- page cache residency of the DataNodes' block files ---------------------- */

/* nftw has no user pointer; these file-scope accumulators are only touched
 * by the main thread between phases. [0] data files blk_<id>, [1] checksum
 * files blk_<id>_<gs>.meta (kept apart: the DataNode writes data with
 * O_DIRECT but checksums through the page cache). */
static uint64_t g_res_pages[2], g_tot_pages[2];

static int residency_visit(const char *fpath, const struct stat *sb, int type,
                           struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F || sb->st_size == 0) return 0;
  const char *base = strrchr(fpath, '/');
  base = base ? base + 1 : fpath;
  if (strncmp(base, "blk_", 4) != 0) return 0;
  size_t bl = strlen(base);
  int kind = bl > 5 && strcmp(base + bl - 5, ".meta") == 0;
  int fd = open(fpath, O_RDONLY);
  if (fd < 0) return 0;
  void *m = mmap(NULL, (size_t)sb->st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return 0;
  long pg = sysconf(_SC_PAGESIZE);
  size_t np = ((size_t)sb->st_size + (size_t)pg - 1) / (size_t)pg;
  unsigned char *vec = malloc(np);
  if (vec && mincore(m, (size_t)sb->st_size, vec) == 0) {
    for (size_t i = 0; i < np; i++) g_res_pages[kind] += vec[i] & 1;
    g_tot_pages[kind] += np;
  }
  free(vec);
  munmap(m, (size_t)sb->st_size);
  return 0;
}

/* Percentage of the block data files' pages (pct[0]) and of the checksum
 * files' pages (pct[1]) in the page cache under root; -1 if none. */
static void page_cache_resident_pct(const char *root, double pct[2]) {
  memset(g_res_pages, 0, sizeof g_res_pages);
  memset(g_tot_pages, 0, sizeof g_tot_pages);
  nftw(root, residency_visit, 16, FTW_PHYS);
  for (int k = 0; k < 2; k++)
    pct[k] = g_tot_pages[k] ? 100.0 * (double)g_res_pages[k] / (double)g_tot_pages[k] : -1;
}

/* ---- cluster -------------------------------------------------------------------- */

struct cluster {
  char nn_addr[256];
  struct bench_proc procs[BENCH_MAX_PIDS];
  int nprocs;
  char data_root[1024];    /* where block files live ("" if unknown) */
  bool own;
  const char *cpu_note;    /* why daemon CPU is missing, or NULL */
#if DFSIO_HAVE_HARNESS
  struct minicluster *mc;
#endif
};

static int cluster_start(const struct opts *o, struct cluster *c);
static void cluster_stop(struct cluster *c);

/* ---- main ------------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dfsio [options]\n"
          "TestDFSIO-like throughput benchmark of the DFS.\n"
          "  -n FILES          files (default 4)\n"
          "  -s SIZE           bytes per file, e.g. 1g, 256m (default 1g)\n"
          "  -t THREADS        files written/read concurrently (default: FILES, max 64)\n"
          "  -r REPLICATION    replication factor (default 3)\n"
          "  -b BLOCKSIZE      block size (default: the cluster's dfs.blocksize)\n"
          "  -w WRITESIZE      bytes per dfs_write call (default 1m)\n"
          "  -R READSIZE       dfs_read buffer, a multiple of 1m (default 4m)\n"
          "  --phases LIST     comma list of write,read,pread (default write,read)\n"
          "  --dir PATH        DFS directory (default /benchmarks/dfsio)\n"
          "  --namenode ADDR   use an existing cluster at host:port\n"
          "  --pids LIST       with --namenode: daemon pids for CPU accounting,\n"
          "                    NN first, or role:pid,... (a role starting with 'namenode'\n"
          "                    counts as NameNode); without it daemon CPU is skipped\n"
          "  --data-dir DIR    with --namenode: directory above the DataNodes' block files,\n"
          "                    to report their page-cache residency\n"
          "  --datanodes N     DataNodes of the own mini-cluster (default 3)\n"
          "  --keep            do not delete the files at the end\n"
          "  --help            this text\n"
          "Output: one line per phase on stdout,\n"
          "  bench=dfsio phase=write|read|pread bytes=.. seconds=.. MBps=.. MiBps=..\n"
          "  cpu_self_s=.. cpu_nn_s=.. cpu_dn_s=.. cpu_total_s=.. cpu_s_per_gib=.. ...\n"
          "MB = 10^6 bytes. The page cache is not dropped; reads right after writes are\n"
          "served from memory (page_cache_resident_pct says how much, own cluster only).\n");
}

static int parse_phases(const char *s, struct opts *o) {
  o->do_write = o->do_read = o->do_pread = false;
  char *dup = strdup(s), *save = NULL;
  if (!dup) return -1;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "write")) o->do_write = true;
    else if (!strcmp(t, "read")) o->do_read = true;
    else if (!strcmp(t, "pread")) o->do_pread = true;
    else {
      free(dup);
      return -1;
    }
  }
  free(dup);
  return 0;
}

static int run_phase(const char *name, const struct opts *o, const struct pool *pool, dfs_fs *fs,
                     struct cluster *c, const char *commit) {
  struct phase ph = {.o = o, .pool = pool, .fs = fs, .name = name};
  atomic_init(&ph.next_file, 0);
  atomic_init(&ph.failed, 0);
  pthread_mutex_init(&ph.mu, NULL);
  ph.file_secs = calloc((size_t)o->nfiles, sizeof *ph.file_secs);
  long nth = o->threads < o->nfiles ? o->threads : o->nfiles;
  pthread_t *th = calloc((size_t)nth, sizeof *th);
  if (!ph.file_secs || !th) {
    fprintf(stderr, "dfsio: out of memory\n");
    return 1;
  }
  double res[2] = {-1, -1};
  if (strcmp(name, "write") != 0 && c->data_root[0]) page_cache_resident_pct(c->data_root, res);
  double resident = res[0];

  struct bench_cpu_snap s0, s1;
  bench_cpu_take(&s0, c->procs, c->nprocs);
  double t0 = bench_now();
  long started = 0;
  for (long i = 0; i < nth; i++) {
    if (pthread_create(&th[i], NULL, worker_main, &ph) != 0) {
      phase_fail(&ph, "pthread_create failed");
      break;
    }
    started++;
  }
  for (long i = 0; i < started; i++) pthread_join(th[i], NULL);
  double secs = bench_now() - t0;
  bench_cpu_take(&s1, c->procs, c->nprocs);
  free(th);
  if (atomic_load(&ph.failed)) {
    fprintf(stderr, "dfsio: %s phase failed: %s\n", name, ph.err);
    free(ph.file_secs);
    return 1;
  }
  struct bench_cpu_delta d;
  bench_cpu_diff(&s0, &s1, c->procs, c->nprocs, &d);
  double gib = (double)ph.bytes / 1073741824.0;
  double mbps = (double)ph.bytes / secs / 1e6, mibps = (double)ph.bytes / secs / 1048576.0;
  bench_sort(ph.file_secs, (size_t)o->nfiles);
  double fmin = ph.file_secs[0], fmax = ph.file_secs[o->nfiles - 1];
  bool daemons = c->nprocs > 0 && d.missing == 0;

  printf("bench=dfsio phase=%s files=%ld file_size=%llu threads=%ld replication=%ld "
         "blocksize=%llu write_size=%llu read_size=%llu bytes=%llu seconds=%.3f MBps=%.1f "
         "MiBps=%.1f file_seconds_min=%.3f file_seconds_max=%.3f cpu_self_user_s=%.2f "
         "cpu_self_sys_s=%.2f cpu_self_s=%.2f",
         name, o->nfiles, (unsigned long long)o->file_size, nth, o->replication,
         (unsigned long long)o->blocksize, (unsigned long long)o->write_size,
         (unsigned long long)o->read_size, (unsigned long long)ph.bytes, secs, mbps, mibps, fmin,
         fmax, d.self_user, d.self_sys, d.self);
  if (daemons) {
    printf(" cpu_nn_s=%.2f cpu_dn_s=%.2f", d.namenode, d.datanodes);
    for (int i = 0; i < c->nprocs; i++) printf(" cpu_%s_s=%.2f", c->procs[i].role, d.proc[i]);
  }
  printf(" cpu_total_s=%.2f cpu_s_per_gib=%.3f cpu_all_processes=%d",
         d.total, gib > 0 ? d.total / gib : 0, daemons ? 1 : 0);
  if (strcmp(name, "write") != 0) {
    printf(" verify_cpu_s=%.2f page_cache_resident_pct=", ph.verify_cpu);
    if (resident >= 0) printf("%.1f meta_page_cache_resident_pct=%.1f", resident, res[1]);
    else printf("unknown");
  }
  printf(" other_procs_cpu_cores=%.2f cluster=%s commit=%s\n",
         d.others >= 0 ? d.others / secs : -1, c->own ? "own" : "external", commit);

  printf("# %s: %ld x %llu MiB, %ld threads, replication %ld: %.1f MB/s (%.1f MiB/s) in %.2f s\n",
         name, o->nfiles, (unsigned long long)(o->file_size >> 20), nth, o->replication, mbps,
         mibps, secs);
  if (daemons)
    printf("#   CPU %.2f s = %.2f s/GiB (bench %.2f [user %.2f sys %.2f], NameNode %.2f, "
           "DataNodes %.2f)\n",
           d.total, d.total / gib, d.self, d.self_user, d.self_sys, d.namenode, d.datanodes);
  else
    printf("#   CPU of this process only: %.2f s = %.2f s/GiB (daemon CPU not measured: %s)\n",
           d.self, d.self / gib,
           c->cpu_note ? c->cpu_note : (d.missing ? "a daemon exited" : "no pids"));
  if (d.others >= 0 && d.others / secs > 0.2)
    printf("#   NOTE: other processes on this machine used %.2f of its cores meanwhile\n",
           d.others / secs);
  if (strcmp(name, "write") != 0) {
    printf("#   data verified (CRC32C of every MiB; %.2f CPU s of the bench's share)\n",
           ph.verify_cpu);
    if (resident >= 0)
      printf("#   page cache (not dropped): %.1f%% of the block data files and %.1f%% of the "
             "checksum files were resident when the phase began%s\n",
             resident, res[1] >= 0 ? res[1] : 0,
             resident < 50 ? "; data read from the (virtual) disk, not the guest's page cache"
                           : "; data mostly served from memory");
    else
      printf("#   the page cache was not dropped; residency unknown (give --data-dir). "
             "DataNodes that read with O_DIRECT (this project's) bypass it.\n");
  }
  free(ph.file_secs);
  return 0;
}

int main(int argc, char **argv) {
  struct opts o = {.nfiles = 4,
                   .file_size = 1ull << 30,
                   .threads = 0,
                   .replication = 3,
                   .write_size = CHUNK,
                   .read_size = 4 * CHUNK,
                   .dir = "/benchmarks/dfsio",
                   .datanodes = 3,
                   .do_write = true,
                   .do_read = true};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long l;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--keep")) {
      o.keep = true;
      continue;
    }
    if (!v) goto bad;
    i++;
    if (!strcmp(a, "-n")) {
      if (bench_parse_int(v, 1, 100000, &o.nfiles)) goto bad;
    } else if (!strcmp(a, "-s")) {
      if (bench_parse_size(v, &o.file_size) || o.file_size == 0) goto bad;
    } else if (!strcmp(a, "-t")) {
      if (bench_parse_int(v, 1, 64, &o.threads)) goto bad;
    } else if (!strcmp(a, "-r")) {
      if (bench_parse_int(v, 1, 32, &o.replication)) goto bad;
    } else if (!strcmp(a, "-b")) {
      if (bench_parse_size(v, &o.blocksize) || o.blocksize % 512) goto bad;
    } else if (!strcmp(a, "-w")) {
      if (bench_parse_size(v, &o.write_size) || o.write_size == 0) goto bad;
    } else if (!strcmp(a, "-R")) {
      if (bench_parse_size(v, &o.read_size) || o.read_size == 0 || o.read_size % CHUNK) goto bad;
    } else if (!strcmp(a, "--phases")) {
      if (parse_phases(v, &o)) goto bad;
    } else if (!strcmp(a, "--dir")) {
      o.dir = v;
    } else if (!strcmp(a, "--namenode")) {
      o.namenode = v;
    } else if (!strcmp(a, "--pids")) {
      o.pids = v;
    } else if (!strcmp(a, "--data-dir")) {
      o.data_dir = v;
    } else if (!strcmp(a, "--datanodes")) {
      if (bench_parse_int(v, 1, 16, &l)) goto bad;
      o.datanodes = l;
    } else {
      goto bad;
    }
  }
  if (o.threads == 0) o.threads = o.nfiles < 64 ? o.nfiles : 64;
  /* The own cluster's dfs.blocksize is 128 MiB (HDFS's default) unless -b. */
  if (!o.namenode && o.blocksize == 0) o.blocksize = 128ull << 20;
  if ((o.do_read || o.do_pread) && !o.do_write) o.keep = true; /* reading old files */
  signal(SIGPIPE, SIG_IGN);

  char commit[64], date[32];
  bench_git_commit(commit, sizeof commit);
  bench_utc_date(date, sizeof date);

  struct pool pool;
  pool.data = malloc((size_t)POOL * CHUNK);
  if (!pool.data) {
    fprintf(stderr, "dfsio: out of memory\n");
    return 1;
  }
  bench_fill_random(pool.data, (size_t)POOL * CHUNK, 0xD5F510ull);
  for (int i = 0; i < POOL; i++) pool.crc[i] = crc32c(0, pool.data + (size_t)i * CHUNK, CHUNK);

  struct cluster c;
  memset(&c, 0, sizeof c);
  if (cluster_start(&o, &c) != 0) {
    free(pool.data);
    return 1;
  }
  int rc = 1;
  dfs_fs *fs = NULL;
  struct dfs_connect_opts co = {.namenode = c.nn_addr};
  if (dfs_connect(&co, &fs) != 0) {
    fprintf(stderr, "dfsio: connect %s: %s\n", c.nn_addr, dfs_error_message());
    goto out;
  }
  char iodir[1100];
  snprintf(iodir, sizeof iodir, "%s/io_data", o.dir);
  if (o.do_write) {
    dfs_delete(fs, iodir, true); /* a previous run's files; missing is fine */
    if (dfs_mkdirs(fs, iodir, 0755) != 0) {
      fprintf(stderr, "dfsio: mkdirs %s: %s\n", iodir, dfs_error_message());
      goto out;
    }
  }
  printf("# dfsio %s commit %s, NameNode %s (%s cluster, %d daemon pids)\n", date, commit,
         c.nn_addr, c.own ? "own" : "external", c.nprocs);
  fflush(stdout);
  if (o.do_write && run_phase("write", &o, &pool, fs, &c, commit)) goto out;
  fflush(stdout);
  if (o.do_read && run_phase("read", &o, &pool, fs, &c, commit)) goto out;
  fflush(stdout);
  if (o.do_pread && run_phase("pread", &o, &pool, fs, &c, commit)) goto out;
  rc = 0;
out:
  fflush(stdout);
  if (fs) {
    if (!o.keep) dfs_delete(fs, iodir, true);
    dfs_disconnect(fs);
  }
  cluster_stop(&c);
  free(pool.data);
  return rc;
bad:
  usage(stderr);
  return 2;
}

/* ---- cluster start/stop ------------------------------------------------------ */

static int cluster_start(const struct opts *o, struct cluster *c) {
  if (o->namenode) {
    snprintf(c->nn_addr, sizeof c->nn_addr, "%s", o->namenode);
    c->own = false;
    if (o->pids) {
      c->nprocs = bench_parse_pids(o->pids, c->procs, BENCH_MAX_PIDS);
      if (c->nprocs < 0) {
        fprintf(stderr, "dfsio: bad --pids list '%s'\n", o->pids);
        return -1;
      }
    } else {
      c->cpu_note = "external cluster without --pids";
    }
    if (o->data_dir) snprintf(c->data_root, sizeof c->data_root, "%s", o->data_dir);
    return 0;
  }
#if DFSIO_HAVE_HARNESS
  char bs[32] = "128m";
  if (o->blocksize) snprintf(bs, sizeof bs, "%llu", (unsigned long long)o->blocksize);
  struct mc_opts mo = {.num_datanodes = (int)o->datanodes, .blocksize = bs,
                       .replication = (int)o->replication};
  fprintf(stderr, "dfsio: starting a mini-cluster (1 NameNode, %ld DataNodes, 2 racks)\n",
          o->datanodes);
  int rc = mc_start(&mo, &c->mc);
  if (rc) {
    fprintf(stderr, "dfsio: cannot start the mini-cluster: %s\n", dfs_error_string(rc));
    return -1;
  }
  c->own = true;
  snprintf(c->nn_addr, sizeof c->nn_addr, "%s", mc_nn_addr(c->mc));
  snprintf(c->data_root, sizeof c->data_root, "%s", mc_dir(c->mc));
  c->procs[0].pid = mc_nn_pid(c->mc);
  snprintf(c->procs[0].role, sizeof c->procs[0].role, "namenode");
  c->nprocs = 1;
  /* The harness names no DataNode pid; they are our children, told apart by
   * the data dir on their command line. */
  for (int i = 0; i < o->datanodes && c->nprocs < BENCH_MAX_PIDS; i++) {
    pid_t p = bench_find_child(mc_dn_data_dir(c->mc, i));
    if (p <= 0) {
      c->cpu_note = "a DataNode pid was not found";
      c->nprocs = 0;
      break;
    }
    c->procs[c->nprocs].pid = p;
    snprintf(c->procs[c->nprocs].role, sizeof c->procs[c->nprocs].role, "dn%d", i + 1);
    c->nprocs++;
  }
  return 0;
#else
  fprintf(stderr,
          "dfsio: built without the test harness (tests/harness); give --namenode ADDR\n");
  return -1;
#endif
}

static void cluster_stop(struct cluster *c) {
#if DFSIO_HAVE_HARNESS
  if (c->mc) mc_stop(c->mc);
  c->mc = NULL;
#else
  (void)c;
#endif
}
