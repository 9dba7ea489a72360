/*
 * cli.h - shared pieces of the `dfs` command: the connection, path
 * resolution, output helpers. Each subcommand is `int cmd_x(struct cli *,
 * int argc, char **argv)` returning the process exit code (0 ok, 1 error,
 * -1 usage error: the caller prints the usage).
 */
#ifndef DFS_CLI_H
#define DFS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "dfs.h"

struct cli {
  dfs_conf *conf;
  const char *namenode; /* --namenode, or NULL */
  const char *user;     /* --user / HADOOP_USER_NAME, or NULL */
  dfs_fs *fs;           /* connected lazily by cli_fs() */
  const char *cmd;      /* subcommand name, for messages */
};

/* Connect on first use; prints the error and returns NULL on failure. */
dfs_fs *cli_fs(struct cli *c);

/* Absolute DFS path for a user argument (relative to /user/<name>, as
 * HDFS). Caller frees. */
char *cli_abs(struct cli *c, const char *arg);

/* Print "<cmd>: <message>" to stderr for the current error; returns 1. */
int cli_err(struct cli *c, int rc);
/* "<cmd>: <path>: <reason>" with the remote message if it names the path. */
int cli_errp(struct cli *c, const char *path, int rc);

/* Formatting. */
void cli_fmt_perm(uint16_t perm, bool dir, char out[11]);
void cli_fmt_size(uint64_t n, bool human, char *out, size_t cap);
void cli_fmt_time(int64_t ms, char *out, size_t cap); /* "2026-11-22 23:40" */
/* Parse "755", "u+x,go-w", "a=r" against `old`. -1 if malformed. */
int cli_parse_mode(const char *s, uint16_t old, bool dir);
/* Parse "128m", "1g", "4096". -1 if malformed. */
int64_t cli_parse_size(const char *s);

/* Progress bar on stderr when stdout is a terminal. */
struct progress {
  bool on;
  uint64_t total, done;
  int64_t start_ms, last_ms;
  const char *label;
};
void progress_start(struct progress *p, const char *label, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_end(struct progress *p);

int cmd_put(struct cli *c, int argc, char **argv);
int cmd_get(struct cli *c, int argc, char **argv);
int cmd_cat(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_mkdir(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_rmdir(struct cli *c, int argc, char **argv);
int cmd_mv(struct cli *c, int argc, char **argv);
int cmd_stat(struct cli *c, int argc, char **argv);
int cmd_du(struct cli *c, int argc, char **argv);
int cmd_setrep(struct cli *c, int argc, char **argv);
int cmd_chmod(struct cli *c, int argc, char **argv);
int cmd_chown(struct cli *c, int argc, char **argv);
int cmd_chgrp(struct cli *c, int argc, char **argv);
int cmd_test(struct cli *c, int argc, char **argv);
int cmd_touchz(struct cli *c, int argc, char **argv);
int cmd_count(struct cli *c, int argc, char **argv);
int cmd_report(struct cli *c, int argc, char **argv);
int cmd_fsck(struct cli *c, int argc, char **argv);
int cmd_recover_lease(struct cli *c, int argc, char **argv);
int cmd_safemode(struct cli *c, int argc, char **argv);

#endif
