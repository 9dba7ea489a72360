/*
 * rpc_bench.c - calls per second of the RPC framework (rpc.h) against an
 * in-process server on 127.0.0.1, with 1..N client threads each doing
 * blocking calls on its own pooled connection.
 *
 * Calls are PING (answered by the framework itself, empty bodies) or, with
 * --method getfileinfo, a GET_FILE_INFO-sized call: a request with a path
 * and a reply carrying a full FileStatus, served by a handler here, so the
 * numbers show the framework's per-call cost without any NameNode work.
 * One result line per run (format in bench_util.h):
 *   bench=rpc_bench method=ping threads=4 calls=200000 secs=1.23
 *   calls_per_sec=162000 p50_us=.. p99_us=.. cpu_secs=..
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "dfs_methods.h"
#include "errors.h"
#include "net.h"
#include "rpc.h"

struct worker {
  dfs_rpc_client *cli;
  const char *addr;
  int getfileinfo;
  long calls;
  double *lat; /* seconds per call */
  int rc;
  char err[256];
};

static int h_getfileinfo(void *ctx, struct dfs_rpc_call *call, const ProtobufCMessage *m) {
  (void)ctx;
  const Dfs__GetFileInfoRequest *r = (const Dfs__GetFileInfoRequest *)m;
  Dfs__FileStatus st = DFS__FILE_STATUS__INIT;
  st.type = DFS__FILE_TYPE__IS_FILE;
  st.name = r->path;
  st.has_length = 1, st.length = 134217728;
  st.has_permission = 1, st.permission = 0644;
  st.owner = "hdfs";
  st.group = "supergroup";
  st.has_mtime = 1, st.mtime = 1763856000000;
  st.has_atime = 1, st.atime = 1763856000000;
  st.has_replication = 1, st.replication = 3;
  st.has_blocksize = 1, st.blocksize = 134217728;
  st.has_file_id = 1, st.file_id = 16386;
  Dfs__GetFileInfoResponse resp = DFS__GET_FILE_INFO_RESPONSE__INIT;
  resp.status = &st;
  return dfs_rpc_reply(call, &resp.base);
}

static const struct dfs_rpc_method methods[] = {
    {DFS_M_GET_FILE_INFO, "GET_FILE_INFO", &dfs__get_file_info_request__descriptor,
     h_getfileinfo, 0},
};

static void *run_worker(void *arg) {
  struct worker *w = arg;
  static const char path[] = "/user/hdfs/benchmarks/rpc/file-000042";
  for (long i = 0; i < w->calls; i++) {
    double t0 = bench_now();
    int rc;
    if (w->getfileinfo) {
      Dfs__GetFileInfoRequest r = DFS__GET_FILE_INFO_REQUEST__INIT;
      r.path.data = (uint8_t *)path;
      r.path.len = sizeof path - 1;
      ProtobufCMessage *resp = NULL;
      rc = dfs_rpc_call(w->cli, w->addr, DFS_M_GET_FILE_INFO, &r.base,
                        &dfs__get_file_info_response__descriptor, &resp, 0);
      if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    } else {
      Dfs__Empty e = DFS__EMPTY__INIT;
      rc = dfs_rpc_call(w->cli, w->addr, DFS_M_PING, &e.base, NULL, NULL, 0);
    }
    if (rc) {
      w->rc = rc;
      snprintf(w->err, sizeof w->err, "%s", dfs_err_msg());
      return NULL;
    }
    w->lat[i] = bench_now() - t0;
  }
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: rpc_bench [--threads 1,2,4,8] [--calls N] [--method ping|getfileinfo]\n"
          "Calls per second of the RPC framework against an in-process server on\n"
          "127.0.0.1. --calls is the total per run (default 200000), split over the\n"
          "threads. Prints one line per thread count:\n"
          "  bench=rpc_bench method=ping threads=4 calls=200000 secs=.. calls_per_sec=..\n"
          "  p50_us=.. p99_us=.. cpu_secs=..\n");
}

int main(int argc, char **argv) {
  const char *threads_arg = "1,2,4,8";
  long total = 200000;
  int getfileinfo = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads_arg = argv[++i];
    } else if (!strcmp(argv[i], "--calls") && i + 1 < argc) {
      if (bench_parse_int(argv[++i], 1, 100000000, &total)) {
        fprintf(stderr, "rpc_bench: --calls: bad number\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--method") && i + 1 < argc) {
      i++;
      if (!strcmp(argv[i], "getfileinfo")) getfileinfo = 1;
      else if (strcmp(argv[i], "ping")) {
        fprintf(stderr, "rpc_bench: --method: ping or getfileinfo\n");
        return 2;
      }
    } else {
      usage(stderr);
      return 2;
    }
  }
  dfs_rpc_server *srv = NULL;
  struct dfs_rpc_server_opts so = {.name = "bench", .bind_addr = "127.0.0.1:0",
                                   .methods = methods, .n_methods = 1,
                                   .max_body = 64u << 20, .max_connections = 1024};
  if (dfs_rpc_server_create(&so, &srv) || dfs_rpc_server_start(srv)) {
    fprintf(stderr, "rpc_bench: server: %s\n", dfs_err_msg());
    return 1;
  }
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", dfs_rpc_server_port(srv));
  int status = 0;
  char *list = strdup(threads_arg);
  char *save = NULL;
  for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    long nt;
    if (bench_parse_int(tok, 1, 256, &nt)) {
      fprintf(stderr, "rpc_bench: --threads: bad number %s\n", tok);
      status = 2;
      break;
    }
    struct dfs_rpc_client_opts co = {.user = "bench", .client_name = "rpc_bench",
                                     .timeout_ms = 30000, .max_idle_per_addr = 256};
    dfs_rpc_client *cli = NULL;
    dfs_rpc_client_create(&co, &cli);
    struct worker *w = calloc((size_t)nt, sizeof *w);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    long per = total / nt;
    double *lat = calloc((size_t)(per * nt), sizeof *lat);
    /* Warm up: one connection per thread, so the timed part never connects. */
    for (long t = 0; t < nt; t++) {
      w[t] = (struct worker){cli, addr, getfileinfo, per / 100 > 0 ? per / 100 : 1, lat, 0, ""};
      pthread_create(&th[t], NULL, run_worker, &w[t]);
    }
    for (long t = 0; t < nt; t++) pthread_join(th[t], NULL);
    struct bench_cpu_snap c0, c1;
    bench_cpu_take(&c0, NULL, 0);
    double t0 = bench_now();
    for (long t = 0; t < nt; t++) {
      w[t] = (struct worker){cli, addr, getfileinfo, per, lat + t * per, 0, ""};
      pthread_create(&th[t], NULL, run_worker, &w[t]);
    }
    for (long t = 0; t < nt; t++) pthread_join(th[t], NULL);
    double secs = bench_now() - t0;
    bench_cpu_take(&c1, NULL, 0);
    struct bench_cpu_delta d;
    bench_cpu_diff(&c0, &c1, NULL, 0, &d);
    for (long t = 0; t < nt; t++)
      if (w[t].rc) {
        fprintf(stderr, "rpc_bench: call failed: %s\n", w[t].err);
        status = 1;
      }
    if (!status) {
      size_t n = (size_t)(per * nt);
      bench_sort(lat, n);
      printf("bench=rpc_bench method=%s threads=%ld calls=%zu secs=%.3f calls_per_sec=%.0f "
             "p50_us=%.1f p99_us=%.1f cpu_secs=%.2f\n",
             getfileinfo ? "getfileinfo" : "ping", nt, n, secs, (double)n / secs,
             bench_quantile(lat, n, 0.5, 1) * 1e6, bench_quantile(lat, n, 0.99, 1) * 1e6,
             d.self);
      fflush(stdout);
    }
    free(lat);
    free(th);
    free(w);
    dfs_rpc_client_destroy(cli);
    if (status) break;
  }
  free(list);
  dfs_rpc_server_destroy(srv);
  return status;
}
