/*
 * minicluster.h - real daemons for integration tests.
 *
 * Starts a NameNode and N DataNodes as separate processes (posix_spawn) on
 * 127.0.0.1 with ports picked by the kernel, data and logs in a fresh
 * temporary directory, waits until each reports ready (polling its ready
 * file, never a fixed sleep), and always reaps them: mc_stop(), and an exit
 * and signal hook that kills every daemon a test started even when it fails
 * or aborts. Set DFS_KEEP_TEST_DIRS=1 to keep the directory for a post-mortem.
 */
#ifndef MINICLUSTER_H
#define MINICLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dfs.h"

struct mc_opts {
  int num_datanodes;          /* default 3 */
  const char *const *racks;   /* rack of dn1..dnN; NULL: first half /rack1, rest /rack2 */
  const char *blocksize;      /* e.g. "64m"; NULL: 1m */
  int replication;            /* 0: 3 */
  const char *const *conf;    /* extra "key=value" settings, NULL-terminated */
};

struct minicluster;

/* Start the cluster; 0 or a negative code with the reason (and the log tail)
 * printed to stderr. */
int mc_start(const struct mc_opts *o, struct minicluster **out);
void mc_stop(struct minicluster *mc);

const char *mc_nn_addr(const struct minicluster *mc);
const char *mc_conf_dir(const struct minicluster *mc);
const char *mc_dir(const struct minicluster *mc);
const char *mc_dn_data_dir(const struct minicluster *mc, int i); /* i from 0 */
const char *mc_dn_addr(const struct minicluster *mc, int i);
pid_t mc_nn_pid(const struct minicluster *mc);

/* Signal a daemon and wait for it to exit. */
int mc_kill_nn(struct minicluster *mc, int sig);
int mc_kill_dn(struct minicluster *mc, int i, int sig);
/* Start it again on the same address and directories; waits until ready. */
int mc_restart_nn(struct minicluster *mc);
int mc_restart_dn(struct minicluster *mc, int i);
/* Wait until the NameNode reports `n` live DataNodes (deadline in ms). */
int mc_wait_live(struct minicluster *mc, int n, int timeout_ms);

/* A client connected as `user` (NULL: the OS user). */
int mc_connect(struct minicluster *mc, const char *user, dfs_fs **out);

/* Run build/bin/dfs --conf <conf> --namenode <addr> ARGS... (NULL-terminated).
 * Captures stdout and stderr into malloc'ed strings (caller frees; either
 * may be NULL to discard) and returns the exit status, or -1 if it could not
 * run, died of a signal or ran past MC_RUN_DEFAULT_TIMEOUT_MS (then killed). */
int mc_dfs(struct minicluster *mc, char **out, char **err, ...);

/* Run any program (argv[0] a path, argv NULL-terminated) the same way, stdin
 * from /dev/null. mc_run_timeout kills it after timeout_ms. */
#define MC_RUN_DEFAULT_TIMEOUT_MS 600000
int mc_run(char *const argv[], char **out, char **err);
int mc_run_timeout(char *const argv[], char **out, char **err, int timeout_ms);

/* Fill a local file with `bytes` of pseudo-random data (seeded). */
int mc_make_file(const char *path, uint64_t bytes, uint32_t seed);
/* 0 if two local files are byte-identical. */
int mc_cmp_files(const char *a, const char *b);



/* ---- running CUnit tests ---- */
struct mc_test {
  const char *name;
  void (*fn)(void);
};
/* Register the NULL-terminated tests as one suite, run them verbosely and
 * return the process exit code: 0 only when every test passed (CUnit's own
 * return value says nothing about failures). */
int mc_run_tests(const char *suite, const struct mc_test *tests);
#endif
