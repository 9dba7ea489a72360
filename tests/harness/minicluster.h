/*
 * minicluster.h - real daemons for integration tests.
 *
 * Starts a NameNode and N DataNodes as separate processes (posix_spawn) on
 * 127.0.0.1 with ports picked by the kernel, data and logs in a fresh
 * temporary directory, waits until each reports ready (polling its ready
 * file, never a fixed sleep), and always reaps them: mc_stop(), and an exit
 * and signal hook that kills every daemon a test started even when it fails
 * or aborts (the exit hook also removes the directory of a cluster the test
 * never stopped). Set DFS_KEEP_TEST_DIRS=1 to keep the directory (conf/,
 * namenode.log, dnN.log, nn/, dnN/) for a post-mortem.
 *
 * DataNode i (from 0) is named "dn<i+1>" (dfs.datanode.hostname) and the
 * generated topology.map puts it on its rack, as scripts/cluster.sh does.
 *
 * Threads: for a test's main thread. Calls on one cluster must not overlap;
 * the dfs_fs handles a test gets from mc_connect are thread-safe as usual.
 */
#ifndef MINICLUSTER_H
#define MINICLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dfs.h"

struct mc_opts {
  int num_datanodes;          /* default 3 (at most 32) */
  const char *const *racks;   /* rack of dn1..dnN; NULL: first half /rack1, rest /rack2 */
  const char *blocksize;      /* dfs.blocksize, e.g. "64m"; NULL: 1m */
  int replication;            /* dfs.replication; 0: 3 */
  const char *const *conf;    /* extra "key=value" settings, NULL-terminated; written
                                 into the generated dfs-site.xml after the defaults
                                 (heartbeat 1 s, safe-mode extension 0), so every
                                 daemon and every client of mc_conf_dir sees them */
};

struct minicluster;

/* Start the cluster (o may be NULL: defaults) and wait until every DataNode
 * is ready and listed live by the NameNode. Returns 0 and *out (free it with
 * mc_stop), or a negative code after printing the reason and the failing
 * daemon's log tail to stderr and stopping whatever had started. */
int mc_start(const struct mc_opts *o, struct minicluster **out);
/* Stop every daemon (SIGTERM, up to 20 s, then SIGKILL), reap them, remove
 * the temporary directory unless DFS_KEEP_TEST_DIRS=1, free mc. NULL: no-op. */
void mc_stop(struct minicluster *mc);

/* Accessors; strings are owned by mc and live until mc_stop. */
const char *mc_nn_addr(const struct minicluster *mc);   /* "127.0.0.1:<port>" */
const char *mc_conf_dir(const struct minicluster *mc);  /* dfs-site.xml (with the NameNode's
                                                        address once it runs), topology.map */
const char *mc_dir(const struct minicluster *mc);       /* the temporary directory */
const char *mc_dn_data_dir(const struct minicluster *mc, int i); /* i from 0 */
const char *mc_dn_addr(const struct minicluster *mc, int i);
pid_t mc_nn_pid(const struct minicluster *mc);          /* 0 when not running */

/* Send `sig` to a daemon and wait for it to exit (SIGKILL after 20 s).
 * Returns 0 (also when it was not running). */
int mc_kill_nn(struct minicluster *mc, int sig);
int mc_kill_dn(struct minicluster *mc, int i, int sig);
/* Start it again on the same address and directories; waits until ready. */
int mc_restart_nn(struct minicluster *mc);
int mc_restart_dn(struct minicluster *mc, int i);
/* Wait until the NameNode reports `n` live DataNodes (deadline in ms). */
int mc_wait_live(struct minicluster *mc, int n, int timeout_ms);

/* A client connected as `user` (NULL: the OS user). Each call makes a new
 * handle, hence a new client name (lease holder). Free with dfs_disconnect. */
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
