/*
 * main.c - the `namenode` command: parse the configuration, optionally
 * format, start the daemon, write the ready file, wait for SIGTERM/SIGINT,
 * stop cleanly (pending edit syncs finish, a checkpoint is written, the
 * log is closed) and exit 0.
 *
 * Signals are blocked in every thread (before any is created) and taken
 * synchronously with sigwait() here, so no handler ever runs inside the
 * namesystem's locks.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "errors.h"
#include "log.h"
#include "namenode.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: namenode [--conf DIR] [-D key=value]... [--ready-file PATH] [--format]\n"
          "                [--print-config] [--help]\n"
          "\n"
          "The DFS NameNode: namespace, block map, placement, edit log.\n"
          "  --conf DIR        load DIR/dfs-site.xml (default $DFS_CONF_DIR, else etc/)\n"
          "  -D key=value      override a configuration key (repeatable)\n"
          "  --ready-file PATH once serving, write \"host:port\" to PATH (atomically)\n"
          "  --format          initialise an empty dfs.namenode.name.dir and exit\n"
          "                    (an empty name dir is also formatted at start-up)\n"
          "  --print-config    print the effective configuration and exit\n"
          "  --help            this text\n"
          "SIGTERM / SIGINT stop the NameNode cleanly (exit 0).\n");
}

static int write_ready(const char *path, const char *addr) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%s\n", addr);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
    fclose(f);
    return -1;
  }
  fclose(f);
  return rename(tmp, path);
}

int main(int argc, char **argv) {
  dfs_conf *conf = dfs_conf_new();
  if (!conf) {
    fprintf(stderr, "namenode: out of memory\n");
    return 2;
  }
  bool print_config = false;
  if (dfs_conf_from_args(conf, &argc, argv, &print_config) != 0) {
    fprintf(stderr, "namenode: %s\n", dfs_err_msg());
    dfs_conf_free(conf);
    return 2;
  }
  const char *ready_file = NULL;
  bool format = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      dfs_conf_free(conf);
      return 0;
    } else if (strcmp(argv[i], "--ready-file") == 0 && i + 1 < argc) {
      ready_file = argv[++i];
    } else if (strcmp(argv[i], "--format") == 0) {
      format = true;
    } else {
      fprintf(stderr, "namenode: unknown argument '%s' (see --help)\n", argv[i]);
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
    fprintf(stderr, "namenode: dfs.log.level: unknown level '%s'\n",
            dfs_conf_str(conf, "dfs.log.level"));
    dfs_conf_free(conf);
    return 2;
  }
  dfs_log_init(level, 2);

  if (format) {
    char topo[4096];
    struct nn_config cfg;
    namenode_config(conf, &cfg, topo, sizeof topo);
    int rc = nn_ns_format(&cfg);
    if (rc) fprintf(stderr, "namenode: %s\n", dfs_err_msg());
    else printf("namenode: formatted %s\n", cfg.name_dir);
    dfs_conf_free(conf);
    return rc ? 1 : 0;
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  namenode *nn = NULL;
  int rc = namenode_start(conf, &nn);
  if (rc) {
    fprintf(stderr, "namenode: %s\n", dfs_err_msg());
    dfs_conf_free(conf);
    return rc == DFS_ECONFIG ? 2 : 1;
  }
  if (ready_file && write_ready(ready_file, namenode_address(nn)) != 0) {
    fprintf(stderr, "namenode: cannot write the ready file %s\n", ready_file);
    namenode_stop(nn);
    dfs_conf_free(conf);
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  LOG_INFO("namenode", "signal %d: stopping", sig);
  namenode_stop(nn);
  LOG_INFO("namenode", "stopped");
  dfs_conf_free(conf);
  return 0;
}
