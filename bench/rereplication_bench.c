/*
 * rereplication_bench.c - time from a DataNode's death to full
 * re-replication. A mini-cluster (1 NameNode, N DataNodes, heartbeat 1 s)
 * is started, SIZE bytes are written at replication R, one DataNode (the
 * one holding most replicas) is killed with SIGKILL, and the program polls
 * the NameNode (datanode report: when is the node declared dead; block
 * locations: when does every block have R replicas again, none on the dead
 * node) until the cluster is whole again.
 *
 * The two phases are reported apart: declaring the node dead is a matter
 * of configuration (HDFS's formula 2 * recheck-interval + 10 * heartbeat;
 * --recheck-ms sets the first term, the harness's heartbeat is 1 s), the
 * copying is the system's work, throttled by
 * dfs.namenode.replication.max-streams (--max-streams).
 *
 * Output (bench_util.h contract):
 *   bench=rereplication_bench kind=summary size_mib=.. blocksize_mib=..
 *   datanodes=.. replication=.. max_streams=.. recheck_ms=..
 *   blocks=<blocks of the file> lost_replicas=<on the victim>
 *   lost_mib=<their bytes> dead_s=<kill -> declared dead>
 *   copy_s=<declared dead -> all blocks at R replicas> total_s=..
 *   copy_mbps=<lost bytes / copy_s, MB = 10^6 bytes> write_mbps=.. ok=<0|1>
 * plus sample lines (kind=sample t=<s since the kill> missing=<replicas
 * still to make>) every --interval seconds.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define PATH "/rereplication_bench"

static void usage(FILE *out) {
  fprintf(out,
          "usage: rereplication_bench [options]\n"
          "Write a file to a mini-cluster, kill -9 the DataNode holding most of its\n"
          "replicas, and measure the time until it is declared dead and until every\n"
          "block has its replicas again.\n"
          "  --size SIZE        bytes to write (default 1g)\n"
          "  --blocksize SIZE   dfs.blocksize (default 64m)\n"
          "  --datanodes N      DataNodes (default 5, at least replication + 1)\n"
          "  --replication N    (default 3)\n"
          "  --max-streams N    dfs.namenode.replication.max-streams (default 2)\n"
          "  --recheck-ms MS    dfs.namenode.heartbeat.recheck-interval (default 1000)\n"
          "  --interval SEC     sampling interval (default 0.5)\n"
          "  --timeout SEC      give up after this long past the kill (default 600)\n"
          "  --help             this text\n");
}

#if HAVE_HARNESS
/* Replicas still missing (blocks below `repl`, or listed on `victim`), and
 * how many replicas `victim` holds. -1 if the NameNode cannot be asked. */
static long missing(dfs_fs *fs, long repl, const char *victim, long *on_victim, long *blocks) {
  struct dfs_block_loc *b = NULL;
  size_t n = 0;
  if (dfs_block_locations(fs, PATH, 0, 0, &b, &n) != 0) return -1;
  long miss = 0, on = 0;
  for (size_t i = 0; i < n; i++) {
    long good = 0;
    for (size_t j = 0; j < b[i].n_replicas; j++) {
      if (victim && strcmp(b[i].replicas[j].addr, victim) == 0) on++;
      else good++;
    }
    if (good < repl) miss += repl - good;
  }
  dfs_block_locs_free(b, n);
  if (on_victim) *on_victim = on;
  if (blocks) *blocks = (long)n;
  return miss;
}

static bool node_dead(dfs_fs *fs, const char *addr) {
  struct dfs_datanode_info *nodes;
  size_t n;
  bool dead = false;
  if (dfs_datanode_report(fs, DFS_REPORT_ALL, &nodes, &n) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if (nodes[i].addr && strcmp(nodes[i].addr, addr) == 0) dead = nodes[i].dead;
  dfs_datanode_report_free(nodes, n);
  return dead;
}
#endif

int main(int argc, char **argv) {
  uint64_t size = 1ull << 30, bsize = 64ull << 20;
  long ndn = 5, repl = 3, streams = 2, recheck = 1000;
  double interval = 0.5, timeout = 600;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help")) {
      usage(stdout);
      return 0;
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
    if (!strcmp(a, "--replication") && bench_parse_int(v, 1, 31, &repl) == 0) continue;
    if (!strcmp(a, "--max-streams") && bench_parse_int(v, 1, 1000, &streams) == 0) continue;
    if (!strcmp(a, "--recheck-ms") && bench_parse_int(v, 10, 86400000, &recheck) == 0) continue;
    if (!strcmp(a, "--interval") && (interval = atof(v)) >= 0.01) continue;
    if (!strcmp(a, "--timeout") && (timeout = atof(v)) >= 1) continue;
    fprintf(stderr, "rereplication_bench: bad option %s %s\n", a, v);
    usage(stderr);
    return 2;
  }
  if (ndn <= repl) {
    fprintf(stderr, "rereplication_bench: --datanodes must exceed --replication\n");
    return 2;
  }
#if !HAVE_HARNESS
  fprintf(stderr, "rereplication_bench: built without the test harness\n");
  return 2;
#else
  char bs[32], c_streams[64], c_recheck[80];
  snprintf(bs, sizeof bs, "%" PRIu64, bsize);
  snprintf(c_streams, sizeof c_streams, "dfs.namenode.replication.max-streams=%ld", streams);
  snprintf(c_recheck, sizeof c_recheck, "dfs.namenode.heartbeat.recheck-interval=%ld", recheck);
  const char *conf[] = {c_streams, c_recheck, NULL};
  struct mc_opts mo = {.num_datanodes = (int)ndn, .blocksize = bs, .replication = (int)repl,
                       .conf = conf};
  struct minicluster *mc = NULL;
  int rc = mc_start(&mo, &mc);
  if (rc) {
    fprintf(stderr, "rereplication_bench: cannot start the mini-cluster: %s\n",
            dfs_error_string(rc));
    return 1;
  }
  dfs_fs *fs = NULL;
  uint8_t *buf = malloc(CALL_BYTES);
  dfs_file *f = NULL;
  struct dfs_create_opts co = {.replication = (int)repl, .overwrite = true};
  if (!buf || mc_connect(mc, NULL, &fs) != 0 || dfs_create(fs, PATH, &co, &f) != 0) {
    fprintf(stderr, "rereplication_bench: %s\n", dfs_error_message());
    mc_stop(mc);
    return 1;
  }
  bench_fill_random(buf, CALL_BYTES, 42);
  double w0 = bench_now();
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < CALL_BYTES ? (size_t)(size - off) : CALL_BYTES;
    buf[0] = (uint8_t)(off >> 22); /* blocks differ */
    if (dfs_write(f, buf, n) != (ssize_t)n) {
      fprintf(stderr, "rereplication_bench: write: %s\n", dfs_error_message());
      mc_stop(mc);
      return 1;
    }
    off += n;
  }
  if (dfs_close(f) != 0) {
    fprintf(stderr, "rereplication_bench: close: %s\n", dfs_error_message());
    mc_stop(mc);
    return 1;
  }
  double write_s = bench_now() - w0;
  fprintf(stderr, "wrote %" PRIu64 " MiB in %.1f s\n", size >> 20, write_s);

  /* The victim: the node with most replicas of the file. */
  int victim = 0;
  long best = -1, blocks = 0;
  for (int i = 0; i < ndn; i++) {
    long on = 0;
    missing(fs, repl, mc_dn_addr(mc, i), &on, &blocks);
    if (on > best) {
      best = on;
      victim = i;
    }
  }
  char vaddr[64];
  snprintf(vaddr, sizeof vaddr, "%s", mc_dn_addr(mc, victim));
  uint64_t lost_bytes = 0;
  {
    struct dfs_block_loc *b = NULL;
    size_t n = 0;
    if (dfs_block_locations(fs, PATH, 0, 0, &b, &n) == 0)
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < b[i].n_replicas; j++)
          if (strcmp(b[i].replicas[j].addr, vaddr) == 0) lost_bytes += b[i].length;
    dfs_block_locs_free(b, n);
  }
  fprintf(stderr, "killing dn%d (%s): %ld of %ld blocks, %" PRIu64 " MiB\n", victim + 1, vaddr,
          best, blocks, lost_bytes >> 20);
  double t0 = bench_now();
  mc_kill_dn(mc, victim, SIGKILL);
  double t_dead = 0, t_done = 0, next_sample = 0;
  int ok = 0;
  while (bench_now() - t0 < timeout) {
    double t = bench_now() - t0;
    if (t_dead == 0 && node_dead(fs, vaddr)) t_dead = t;
    long miss = missing(fs, repl, vaddr, NULL, NULL);
    if (t >= next_sample) {
      printf("bench=rereplication_bench kind=sample t=%.2f missing=%ld dead=%d\n", t, miss,
             t_dead > 0);
      fflush(stdout);
      next_sample = t + interval;
    }
    if (t_dead > 0 && miss == 0) {
      t_done = t;
      ok = 1;
      break;
    }
    usleep(50000);
  }
  double copy_s = ok ? t_done - t_dead : 0;
  printf("bench=rereplication_bench kind=summary size_mib=%" PRIu64 " blocksize_mib=%" PRIu64
         " datanodes=%ld replication=%ld max_streams=%ld recheck_ms=%ld blocks=%ld"
         " lost_replicas=%ld lost_mib=%" PRIu64 " dead_s=%.2f copy_s=%.2f total_s=%.2f"
         " copy_mbps=%.1f write_mbps=%.1f ok=%d\n",
         size >> 20, bsize >> 20, ndn, repl, streams, recheck, blocks, best, lost_bytes >> 20,
         t_dead, copy_s, ok ? t_done : 0.0,
         copy_s > 0 ? (double)lost_bytes / 1e6 / copy_s : 0.0, (double)size / 1e6 / write_s, ok);
  printf("# %s: declared dead %.1f s after kill -9, %" PRIu64 " MiB re-replicated in %.1f s "
         "(%.0f MB/s) with max-streams %ld\n", ok ? "ok" : "NOT DONE", t_dead, lost_bytes >> 20,
         copy_s, copy_s > 0 ? (double)lost_bytes / 1e6 / copy_s : 0.0, streams);
  dfs_disconnect(fs);
  free(buf);
  mc_stop(mc);
  return ok ? 0 : 1;
#endif
}
