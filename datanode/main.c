/*
 * main.c - the datanode daemon: command line, signals, lifetime.
 *
 * SIGTERM and SIGINT are blocked in every thread and taken by the main
 * thread with sigwait(), so the stop sequence runs in ordinary code rather
 * than in a signal handler.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "datanode.h"
#include "errors.h"
#include "log.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: datanode [--conf DIR] [-D key=value]... [--ready-file PATH]\n"
          "                [--print-config] [--help]\n"
          "Stores block replicas for the NameNode at dfs.namenode.rpc-address.\n"
          "  --conf DIR        load DIR/dfs-site.xml\n"
          "  -D key=value      override a configuration key\n"
          "  --ready-file PATH once registered and the first block report is in,\n"
          "                    write the advertised address (ip:port) to PATH\n"
          "  --print-config    print the effective configuration and exit\n"
          "  --help            this text\n"
          "Main keys: dfs.datanode.address, dfs.datanode.data.dir, dfs.datanode.hostname,\n"
          "dfs.namenode.rpc-address, dfs.heartbeat.interval, dfs.datanode.du.reserved.\n");
}

int main(int argc, char **argv) {
  dfs_conf *conf = dfs_conf_new();
  if (conf == NULL) {
    fprintf(stderr, "datanode: out of memory\n");
    return 1;
  }
  bool print_config = false;
  int rc = dfs_conf_from_args(conf, &argc, argv, &print_config);
  if (rc < 0) {
    fprintf(stderr, "datanode: %s\n", dfs_err_msg());
    dfs_conf_free(conf);
    return 2;
  }
  const char *ready_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      dfs_conf_free(conf);
      return 0;
    } else if (strcmp(argv[i], "--ready-file") == 0 && i + 1 < argc) {
      ready_file = argv[++i];
    } else {
      fprintf(stderr, "datanode: unknown argument: %s\n", argv[i]);
      usage(stderr);
      dfs_conf_free(conf);
      return 2;
    }
  }
  if (print_config) {
    dfs_conf_print(conf, stdout);
    dfs_conf_free(conf);
    return 0;
  }
  int level = dfs_log_level_parse(dfs_conf_str(conf, "dfs.log.level"));
  if (level < 0) {
    fprintf(stderr, "datanode: dfs.log.level: %s: expected DEBUG, INFO, WARN, ERROR or OFF\n",
            dfs_conf_str(conf, "dfs.log.level"));
    dfs_conf_free(conf);
    return 2;
  }
  dfs_log_init(level, 2);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct dn_opts opts = {.ready_file = ready_file};
  dn_ctx *dn = NULL;
  rc = dn_create(conf, &opts, &dn);
  if (rc == 0) rc = dn_start(dn);
  if (rc < 0) {
    fprintf(stderr, "datanode: %s\n", dfs_err_msg());
    dn_destroy(dn);
    dfs_conf_free(conf);
    return rc == DFS_ECONFIG || rc == DFS_EINVAL ? 2 : 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  LOG_INFO("datanode", "signal %d: stopping", sig);
  dn_destroy(dn);
  LOG_INFO("datanode", "stopped");
  dfs_conf_free(conf);
  return 0;
}
