/*
 * pipeline_bench.c - write throughput through a DataNode failure: a mini
 * cluster (1 NameNode, N DataNodes) is started, one file is written through
 * dfs_write in 4 MiB calls, and once a given fraction is written the first
 * (or middle, or last) node of the current pipeline is killed with SIGKILL.
 * The client's pipeline recovery (new generation stamp, survivors set up
 * again, unacked packets resent) keeps the write going; this program shows
 * what it costs.
 *
 * Output (bench_util.h contract): one line per interval
 *   bench=pipeline_bench kind=sample t=<s> mbps=<MB/s in that interval> killed=<0|1>
 * and a summary line
 *   bench=pipeline_bench kind=summary size_mib=.. blocksize_mib=.. datanodes=..
 *   victim=.. baseline_mbps=<mean before the kill> dip_mbps=<lowest interval
 *   after it> stall_ms=<longest gap between two completed dfs_write calls
 *   after the kill> recovery_ms=<kill -> first interval back at >= 80 % of
 *   the baseline> after_mbps=<mean after recovery> total_mbps=..
 *   genstamp=<old>-><new> (of the block being written at the kill; a
 *   higher new one shows the pipeline was recovered) ok=<0|1>
 * MB = 10^6 bytes. The write must complete and the file must have its full
 * length (ok=1), or the program exits 1.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "dfs.h"

#if __has_include("minicluster.h")
#include "minicluster.h"
#define HAVE_HARNESS 1
#else
#define HAVE_HARNESS 0
#endif

#define CALL_BYTES (4u << 20)
#define MAX_SAMPLES 100000

static void usage(FILE *out) {
  fprintf(out,
          "usage: pipeline_bench [options]\n"
          "Write one file through a mini-cluster and kill -9 a DataNode of the\n"
          "write pipeline part-way; print throughput per interval, the dip and the\n"
          "recovery time as bench=pipeline_bench lines.\n"
          "  --size SIZE        bytes to write (default 2g)\n"
          "  --blocksize SIZE   dfs.blocksize (default 64m)\n"
          "  --datanodes N      DataNodes (default 4, at least 2)\n"
          "  --replication N    (default 3)\n"
          "  --kill-at F        kill once this fraction is written (default 0.4)\n"
          "  --victim POS       first | middle | last node of the pipeline (default first)\n"
          "  --interval SEC     sampling interval (default 0.5)\n"
          "  --no-kill          the same run without a failure (baseline)\n"
          "  --help             this text\n");
}

struct run {
  atomic_uint_fast64_t written;
  atomic_int done;
  double interval, t0;
  double *mbps;          /* per interval */
  int *killed_at;        /* 1 if the kill had happened by the interval's end */
  atomic_int killed;
  int nsamples;
};

/* The killer: once kill_mark bytes are written, find the pipeline of the
 * block being written and kill -9 the chosen node (off the writing thread,
 * so the write's own timing is not disturbed by the look-up and the kill). */
struct killer {
  struct run *r;
  dfs_fs *fs;
  struct minicluster *mc;
  int ndn;
  uint64_t kill_mark;
  const char *pos;
  double t_kill;
  char vaddr[64];
  uint64_t blk_id, blk_gs;  /* the block being written at the kill */
};

static void *killer_main(void *arg) {
  struct killer *k = arg;
  while (!atomic_load(&k->r->done) && atomic_load(&k->r->written) < k->kill_mark) usleep(500);
  while (!atomic_load(&k->r->done)) {
    struct dfs_block_loc *b;
    size_t nb;
    if (dfs_block_locations(k->fs, "/pipeline_bench", 0, 0, &b, &nb) == 0 && nb > 0 &&
        b[nb - 1].n_replicas > 0) {
      size_t n = b[nb - 1].n_replicas;
      size_t pos = !strcmp(k->pos, "first") ? 0 : !strcmp(k->pos, "last") ? n - 1 : n / 2;
      snprintf(k->vaddr, sizeof k->vaddr, "%s", b[nb - 1].replicas[pos].addr);
      k->blk_id = b[nb - 1].block_id;
      k->blk_gs = b[nb - 1].genstamp;
      dfs_block_locs_free(b, nb);
      for (int i = 0; i < k->ndn; i++)
        if (!strcmp(mc_dn_addr(k->mc, i), k->vaddr)) {
          double t = bench_now();
          mc_kill_dn(k->mc, i, SIGKILL);
          k->t_kill = t;
          atomic_store(&k->r->killed, 1);
          fprintf(stderr, "pipeline_bench: killed %s (%s node) at %.2f s, %" PRIu64 " MiB\n",
                  k->vaddr, k->pos, t - k->r->t0, (uint64_t)atomic_load(&k->r->written) >> 20);
          return NULL;
        }
    }
    usleep(1000);
  }
  return NULL;
}

static void *sampler(void *arg) {
  struct run *r = arg;
  uint64_t last = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!atomic_load(&r->done) && r->nsamples < MAX_SAMPLES) {
    long ns = (long)(r->interval * 1e9);
    next.tv_sec += ns / 1000000000L;
    next.tv_nsec += ns % 1000000000L;
    if (next.tv_nsec >= 1000000000L) {
      next.tv_sec++;
      next.tv_nsec -= 1000000000L;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    uint64_t w = atomic_load(&r->written);
    r->mbps[r->nsamples] = (double)(w - last) / r->interval / 1e6;
    r->killed_at[r->nsamples] = atomic_load(&r->killed);
    printf("bench=pipeline_bench kind=sample t=%.2f mbps=%.1f killed=%d\n",
           (r->nsamples + 1) * r->interval, r->mbps[r->nsamples], r->killed_at[r->nsamples]);
    fflush(stdout);
    r->nsamples++;
    last = w;
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t size = 2ull << 30, bsize = 64ull << 20;
  long ndn = 4, repl = 3;
  double kill_at = 0.4, interval = 0.5;
  const char *victim_pos = "first";
  int no_kill = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--no-kill")) {
      no_kill = 1;
      continue;
    }
    if (!v) {
      usage(stderr);
      return 2;
    }
    i++;
    if (!strcmp(a, "--size") && bench_parse_size(v, &size) == 0 && size > 0) continue;
    if (!strcmp(a, "--blocksize") && bench_parse_size(v, &bsize) == 0 && bsize % 512 == 0 &&
        bsize > 0)
      continue;
    if (!strcmp(a, "--datanodes") && bench_parse_int(v, 2, 32, &ndn) == 0) continue;
    if (!strcmp(a, "--replication") && bench_parse_int(v, 1, 32, &repl) == 0) continue;
    if (!strcmp(a, "--kill-at") && (kill_at = atof(v)) > 0 && kill_at < 1) continue;
    if (!strcmp(a, "--interval") && (interval = atof(v)) >= 0.01) continue;
    if (!strcmp(a, "--victim") &&
        (!strcmp(v, "first") || !strcmp(v, "middle") || !strcmp(v, "last"))) {
      victim_pos = v;
      continue;
    }
    fprintf(stderr, "pipeline_bench: bad option %s %s\n", a, v);
    usage(stderr);
    return 2;
  }
#if !HAVE_HARNESS
  fprintf(stderr, "pipeline_bench: built without the test harness\n");
  return 2;
#else
  char bs[32];
  snprintf(bs, sizeof bs, "%" PRIu64, bsize);
  struct mc_opts mo = {.num_datanodes = (int)ndn, .blocksize = bs, .replication = (int)repl};
  struct minicluster *mc = NULL;
  int rc = mc_start(&mo, &mc);
  if (rc) {
    fprintf(stderr, "pipeline_bench: cannot start the mini-cluster: %s\n", dfs_error_string(rc));
    return 1;
  }
  dfs_fs *fs = NULL;
  if ((rc = mc_connect(mc, NULL, &fs)) != 0) {
    fprintf(stderr, "pipeline_bench: connect: %s\n", dfs_error_message());
    mc_stop(mc);
    return 1;
  }
  uint8_t *buf = malloc(CALL_BYTES);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < CALL_BYTES; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
  struct run r = {.interval = interval};
  r.mbps = calloc(MAX_SAMPLES, sizeof *r.mbps);
  r.killed_at = calloc(MAX_SAMPLES, sizeof *r.killed_at);
  struct dfs_create_opts co = {.replication = (int)repl, .overwrite = true};
  dfs_file *f = NULL;
  if (!buf || !r.mbps || !r.killed_at || dfs_create(fs, "/pipeline_bench", &co, &f) != 0) {
    fprintf(stderr, "pipeline_bench: create: %s\n", dfs_error_message());
    mc_stop(mc);
    return 1;
  }
  pthread_t th, kth;
  r.t0 = bench_now();
  pthread_create(&th, NULL, sampler, &r);
  struct killer k = {.r = &r, .fs = fs, .mc = mc, .ndn = (int)ndn,
                     .kill_mark = (uint64_t)((double)size * kill_at), .pos = victim_pos,
                     .vaddr = "-"};
  if (!no_kill) pthread_create(&kth, NULL, killer_main, &k);
  uint64_t off = 0;
  double last_done = r.t0, stall = 0;
  int ok = 1;
  while (off < size) {
    size_t n = size - off < CALL_BYTES ? (size_t)(size - off) : CALL_BYTES;
    ssize_t w = dfs_write(f, buf, n);
    if (w != (ssize_t)n) {
      fprintf(stderr, "pipeline_bench: write at %" PRIu64 ": %s\n", off, dfs_error_message());
      ok = 0;
      break;
    }
    off += n;
    atomic_store(&r.written, off);
    double now = bench_now();
    /* the longest gap between two completed calls once the node is dead
     * (the gap that spans the kill counts from the kill) */
    if (atomic_load(&r.killed)) {
      double from = last_done > k.t_kill ? last_done : k.t_kill;
      if (now - from > stall) stall = now - from;
    }
    last_done = now;
  }
  if (dfs_close(f) != 0) {
    fprintf(stderr, "pipeline_bench: close: %s\n", dfs_error_message());
    ok = 0;
  }
  double t_end = bench_now();
  atomic_store(&r.done, 1);
  pthread_join(th, NULL);
  if (!no_kill) pthread_join(kth, NULL);
  double t_kill = k.t_kill;
  const char *vaddr = k.vaddr;
  struct dfs_stat st;
  memset(&st, 0, sizeof st);
  if (ok && (dfs_stat(fs, "/pipeline_bench", &st) != 0 || st.length != size)) {
    fprintf(stderr, "pipeline_bench: file length is not %" PRIu64 "\n", size);
    ok = 0;
  }
  dfs_stat_clear(&st);
  /* Did the block being written get a new generation stamp (a recovery)? */
  uint64_t new_gs = 0;
  if (t_kill > 0) {
    struct dfs_block_loc *b;
    size_t nbl;
    if (dfs_block_locations(fs, "/pipeline_bench", 0, 0, &b, &nbl) == 0) {
      for (size_t i = 0; i < nbl; i++)
        if (b[i].block_id == k.blk_id) new_gs = b[i].genstamp;
      dfs_block_locs_free(b, nbl);
    }
  }
  /* Figures from the samples: before the kill, after it. */
  double base = 0, dip = -1, after = 0, recovery = -1;
  int nb = 0, na = 0, kill_idx = -1;
  for (int i = 0; i < r.nsamples; i++) {
    if (!r.killed_at[i]) {
      base += r.mbps[i];
      nb++;
    } else if (kill_idx < 0) {
      kill_idx = i;
    }
  }
  if (nb > 1) { /* the first interval includes the start-up of the pipeline */
    base = (base - r.mbps[0]) / (nb - 1);
  } else if (nb == 1) {
    base = base / nb;
  }
  if (kill_idx >= 0 && t_kill > 0) {
    for (int i = kill_idx; i < r.nsamples; i++) {
      if (dip < 0 || r.mbps[i] < dip) dip = r.mbps[i];
      if (recovery < 0 && i > kill_idx && r.mbps[i] >= 0.8 * base)
        recovery = ((i + 1) * interval - (t_kill - r.t0)) * 1000.0;
      if (recovery >= 0 && i + 1 < r.nsamples) { /* the last one is partial */
        after += r.mbps[i];
        na++;
      }
    }
  }
  if (na) after /= na;
  printf("bench=pipeline_bench kind=summary size_mib=%" PRIu64 " blocksize_mib=%" PRIu64
         " datanodes=%ld replication=%ld victim=%s killed=%s baseline_mbps=%.1f dip_mbps=%.1f"
         " stall_ms=%.0f recovery_ms=%.0f after_mbps=%.1f total_mbps=%.1f genstamp=%" PRIu64
         "->%" PRIu64 " ok=%d\n",
         size >> 20, bsize >> 20, ndn, repl, no_kill ? "none" : victim_pos, vaddr, base,
         dip < 0 ? 0 : dip, stall * 1000.0, recovery, after,
         (double)off / (t_end - r.t0) / 1e6, k.blk_gs, new_gs, ok);
  printf("# baseline %.0f MB/s; after the kill the slowest %.2f s interval ran at %.0f MB/s, "
         "the longest write stall was %.0f ms, back to >= 80%% after %.0f ms\n",
         base, interval, dip < 0 ? 0 : dip, stall * 1000.0, recovery);
  dfs_disconnect(fs);
  mc_stop(mc);
  free(buf);
  free(r.mbps);
  free(r.killed_at);
  return ok ? 0 : 1;
#endif
}
