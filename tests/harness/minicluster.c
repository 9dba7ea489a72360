/*
 * minicluster.c - see minicluster.h. Daemons are spawned with posix_spawn
 * (not fork: a process whose client threads run must not fork), their
 * stderr goes to a log file per daemon, and every started pid is recorded in
 * a process-wide table that an atexit/signal hook drains, so no test leaves
 * a daemon behind.
 */
#include "minicluster.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "net.h"

extern char **environ;

#define MAX_DN 32
#define MAX_PIDS 256

struct daemon {
  pid_t pid;
  char name[16];
  char addr[64];
  char data[512];
  char log[512];
  char ready[512];
};

struct minicluster {
  char dir[256];
  char conf[512];
  int ndn;
  struct daemon nn;
  struct daemon dn[MAX_DN];
};

/* Every live daemon pid of this process, for the exit hook. */
static pid_t all_pids[MAX_PIDS];
static int hook_installed;

static void track(pid_t p) {
  for (int i = 0; i < MAX_PIDS; i++)
    if (all_pids[i] == 0) {
      all_pids[i] = p;
      return;
    }
}

static void untrack(pid_t p) {
  for (int i = 0; i < MAX_PIDS; i++)
    if (all_pids[i] == p) all_pids[i] = 0;
}

static void kill_all(void) {
  for (int i = 0; i < MAX_PIDS; i++)
    if (all_pids[i] > 0) {
      kill(all_pids[i], SIGKILL);
      waitpid(all_pids[i], NULL, 0);
      all_pids[i] = 0;
    }
}

/* The process that started the clusters: a test's forked child (a writer
 * killed with kill -9, say) inherits the hooks but must never stop them. */
static pid_t hook_owner;

static void on_signal(int sig) {
  if (getpid() == hook_owner) kill_all();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Temporary directories of clusters not yet stopped: a test that failed
 * (CU_ASSERT_FATAL leaves the test function) never reaches its mc_stop, so
 * the exit hook removes them after killing the daemons. */
#define MAX_CLUSTERS 16
static char live_dirs[MAX_CLUSTERS][256];

static int rm_entry(const char *p, const struct stat *s, int flag, struct FTW *f);

static void remember_dir(const char *dir, bool live) {
  for (int i = 0; i < MAX_CLUSTERS; i++) {
    if (live && live_dirs[i][0] == '\0') {
      snprintf(live_dirs[i], sizeof live_dirs[i], "%s", dir);
      return;
    }
    if (!live && strcmp(live_dirs[i], dir) == 0) {
      live_dirs[i][0] = '\0';
      return;
    }
  }
}

static void at_exit(void) {
  if (getpid() != hook_owner) return;
  kill_all();
  const char *keep = getenv("DFS_KEEP_TEST_DIRS");
  for (int i = 0; i < MAX_CLUSTERS; i++) {
    if (!live_dirs[i][0]) continue;
    if (keep && *keep == '1') {
      fprintf(stderr, "minicluster: cluster in %s was not stopped; kept\n", live_dirs[i]);
    } else {
      fprintf(stderr, "minicluster: cluster in %s was not stopped (a failed test?); removing it "
                      "(DFS_KEEP_TEST_DIRS=1 keeps it)\n", live_dirs[i]);
      nftw(live_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    live_dirs[i][0] = '\0';
  }
}

static void install_hook(void) {
  if (hook_installed) return;
  hook_installed = 1;
  hook_owner = getpid();
  atexit(at_exit);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGABRT, on_signal);
  signal(SIGSEGV, on_signal);
  signal(SIGPIPE, SIG_IGN);
}

static void tail_log(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char *lines[20] = {0};
  char buf[1024];
  int n = 0;
  while (fgets(buf, sizeof buf, f)) {
    free(lines[n % 20]);
    lines[n % 20] = strdup(buf);
    n++;
  }
  fclose(f);
  fprintf(stderr, "---- last lines of %s ----\n", path);
  for (int i = n > 20 ? n - 20 : 0; i < n; i++) fputs(lines[i % 20], stderr);
  for (int i = 0; i < 20; i++) free(lines[i]);
}

static int spawn_daemon(struct daemon *d, char *const argv[]) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  unlink(d->ready);
  int rc = posix_spawn(&d->pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "minicluster: cannot start %s: %s\n", argv[0], strerror(rc));
    return -rc;
  }
  track(d->pid);
  return 0;
}

static int wait_ready(struct daemon *d, int timeout_ms) {
  int64_t deadline = dfs_now_ms() + timeout_ms;
  for (;;) {
    FILE *f = fopen(d->ready, "r");
    if (f) {
      char line[64] = "";
      if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(d->addr, sizeof d->addr, "%s", line);
      }
      fclose(f);
      if (d->addr[0]) return 0;
    }
    int st;
    if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
      untrack(d->pid);
      fprintf(stderr, "minicluster: %s exited during start-up (%s %d)\n", d->name,
              WIFEXITED(st) ? "exit code" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
      tail_log(d->log);
      d->pid = 0;
      return DFS_EIO;
    }
    if (dfs_now_ms() > deadline) {
      fprintf(stderr, "minicluster: %s not ready after %d ms\n", d->name, timeout_ms);
      tail_log(d->log);
      return DFS_ETIMEDOUT;
    }
    usleep(20000);
  }
}

static int start_nn(struct minicluster *mc, const char *addr) {
  char dir[600], rpc[128], bin[512];
  snprintf(bin, sizeof bin, "%s/namenode", DFS_BIN_DIR);
  snprintf(dir, sizeof dir, "dfs.namenode.name.dir=%s", mc->nn.data);
  snprintf(rpc, sizeof rpc, "dfs.namenode.rpc-address=%s", addr);
  char *argv[] = {bin, "--conf", mc->conf, "-D", dir, "-D", rpc, "--ready-file", mc->nn.ready, NULL};
  int rc = spawn_daemon(&mc->nn, argv);
  return rc ? rc : wait_ready(&mc->nn, 30000);
}

/* Spawn DataNode i; start_dn also waits for it. mc_start spawns them all
 * first and then waits, so that they register in parallel. */
static int spawn_dn(struct minicluster *mc, int i, const char *addr) {
  struct daemon *d = &mc->dn[i];
  char data[600], a[128], host[64], nn[128], bin[512];
  snprintf(bin, sizeof bin, "%s/datanode", DFS_BIN_DIR);
  snprintf(data, sizeof data, "dfs.datanode.data.dir=%s", d->data);
  snprintf(a, sizeof a, "dfs.datanode.address=%s", addr);
  snprintf(host, sizeof host, "dfs.datanode.hostname=dn%d", i + 1);
  snprintf(nn, sizeof nn, "dfs.namenode.rpc-address=%s", mc->nn.addr);
  char *argv[] = {bin, "--conf", mc->conf, "-D", data, "-D", a, "-D", host, "-D", nn,
                  "--ready-file", d->ready, NULL};
  return spawn_daemon(d, argv);
}

static int start_dn(struct minicluster *mc, int i, const char *addr) {
  int rc = spawn_dn(mc, i, addr);
  return rc ? rc : wait_ready(&mc->dn[i], 60000);
}

static int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -errno;
  fputs(text, f);
  return fclose(f) ? -errno : 0;
}

int mc_start(const struct mc_opts *o, struct minicluster **out) {
  install_hook();
  struct mc_opts none = {0};
  if (!o) o = &none;
  struct minicluster *mc = calloc(1, sizeof *mc);
  if (!mc) return DFS_ENOMEM;
  mc->ndn = o->num_datanodes > 0 ? o->num_datanodes : 3;
  if (mc->ndn > MAX_DN) mc->ndn = MAX_DN;
  snprintf(mc->dir, sizeof mc->dir, "/tmp/dfs-mc-XXXXXX");
  if (!mkdtemp(mc->dir)) {
    free(mc);
    return -errno;
  }
  remember_dir(mc->dir, true);
  snprintf(mc->conf, sizeof mc->conf, "%s/conf", mc->dir);
  mkdir(mc->conf, 0755);
  /* configuration */
  char *xml = NULL;
  size_t xl = 0;
  FILE *x = open_memstream(&xml, &xl);
  fprintf(x, "<configuration>\n");
#define PROP(k, v) fprintf(x, "<property><name>%s</name><value>%s</value></property>\n", k, v)
  PROP("dfs.blocksize", o->blocksize ? o->blocksize : "1m");
  char rep[16];
  snprintf(rep, sizeof rep, "%d", o->replication > 0 ? o->replication : 3);
  PROP("dfs.replication", rep);
  PROP("dfs.heartbeat.interval", "1");
  PROP("dfs.log.level", "INFO");
  PROP("dfs.namenode.safemode.extension", "0"); /* as HDFS's MiniDFSCluster */
  for (const char *const *c = o->conf; c && *c; c++) {
    const char *eq = strchr(*c, '=');
    if (!eq) continue;
    fprintf(x, "<property><name>%.*s</name><value>%s</value></property>\n", (int)(eq - *c), *c,
            eq + 1);
  }
  fclose(x);
  char path[700], site[700];
  snprintf(site, sizeof site, "%s/dfs-site.xml", mc->conf);
  char *full = NULL;
  if (asprintf(&full, "%s</configuration>\n", xml) < 0) full = NULL;
  if (full) write_text(site, full);
  free(full);
  char *topo = NULL;
  size_t tl = 0;
  FILE *t = open_memstream(&topo, &tl);
  for (int i = 0; i < mc->ndn; i++)
    fprintf(t, "dn%d %s\n", i + 1,
            o->racks && o->racks[i] ? o->racks[i] : (i < (mc->ndn + 1) / 2 ? "/rack1" : "/rack2"));
  fclose(t);
  snprintf(path, sizeof path, "%s/topology.map", mc->conf);
  write_text(path, topo);
  free(topo);
  /* daemons */
  snprintf(mc->nn.name, sizeof mc->nn.name, "namenode");
  snprintf(mc->nn.data, sizeof mc->nn.data, "%s/nn", mc->dir);
  snprintf(mc->nn.log, sizeof mc->nn.log, "%s/namenode.log", mc->dir);
  snprintf(mc->nn.ready, sizeof mc->nn.ready, "%s/namenode.ready", mc->dir);
  int rc = start_nn(mc, "127.0.0.1:0");
  if (rc == 0) {
    /* Now that its port is known, the conf dir names the NameNode too, so
     * that `dfs --conf <mc_conf_dir>` reaches it (daemons get it by -D). */
    full = NULL;
    if (asprintf(&full, "%s<property><name>dfs.namenode.rpc-address</name><value>%s</value>"
                 "</property>\n</configuration>\n", xml, mc->nn.addr) >= 0)
      write_text(site, full);
    free(full);
  }
  free(xml);
  for (int i = 0; rc == 0 && i < mc->ndn; i++) {
    struct daemon *d = &mc->dn[i];
    snprintf(d->name, sizeof d->name, "dn%d", i + 1);
    snprintf(d->data, sizeof d->data, "%s/dn%d", mc->dir, i + 1);
    snprintf(d->log, sizeof d->log, "%s/dn%d.log", mc->dir, i + 1);
    snprintf(d->ready, sizeof d->ready, "%s/dn%d.ready", mc->dir, i + 1);
    rc = spawn_dn(mc, i, "127.0.0.1:0");
  }
  for (int i = 0; rc == 0 && i < mc->ndn; i++) rc = wait_ready(&mc->dn[i], 60000);
  if (rc == 0) rc = mc_wait_live(mc, mc->ndn, 30000);
  if (rc) {
    fprintf(stderr, "minicluster: start failed (%s); logs in %s%s\n", dfs_error_string(rc),
            mc->dir, getenv("DFS_KEEP_TEST_DIRS") ? "" : " (set DFS_KEEP_TEST_DIRS=1 to keep them)");
    mc_stop(mc);
    return rc;
  }
  *out = mc;
  return 0;
}

static int stop_daemon(struct daemon *d, int sig) {
  if (d->pid <= 0) return 0;
  kill(d->pid, sig);
  int64_t deadline = dfs_now_ms() + 20000;
  int st;
  while (waitpid(d->pid, &st, WNOHANG) == 0) {
    if (dfs_now_ms() > deadline) {
      kill(d->pid, SIGKILL);
      waitpid(d->pid, &st, 0);
      break;
    }
    usleep(10000);
  }
  untrack(d->pid);
  d->pid = 0;
  return 0;
}

static int rm_entry(const char *p, const struct stat *s, int flag, struct FTW *f) {
  (void)s, (void)flag, (void)f;
  return remove(p);
}

void mc_stop(struct minicluster *mc) {
  if (!mc) return;
  /* SIGTERM to every DataNode first so that they stop in parallel. */
  for (int i = 0; i < mc->ndn; i++)
    if (mc->dn[i].pid > 0) kill(mc->dn[i].pid, SIGTERM);
  for (int i = 0; i < mc->ndn; i++) stop_daemon(&mc->dn[i], SIGTERM);
  stop_daemon(&mc->nn, SIGTERM);
  const char *keep = getenv("DFS_KEEP_TEST_DIRS");
  if (keep && *keep == '1') fprintf(stderr, "minicluster: kept %s\n", mc->dir);
  else nftw(mc->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  remember_dir(mc->dir, false);
  free(mc);
}

const char *mc_nn_addr(const struct minicluster *mc) { return mc->nn.addr; }
const char *mc_conf_dir(const struct minicluster *mc) { return mc->conf; }
const char *mc_dir(const struct minicluster *mc) { return mc->dir; }
const char *mc_dn_data_dir(const struct minicluster *mc, int i) { return mc->dn[i].data; }
const char *mc_dn_addr(const struct minicluster *mc, int i) { return mc->dn[i].addr; }
pid_t mc_nn_pid(const struct minicluster *mc) { return mc->nn.pid; }

int mc_kill_nn(struct minicluster *mc, int sig) { return stop_daemon(&mc->nn, sig); }
int mc_kill_dn(struct minicluster *mc, int i, int sig) { return stop_daemon(&mc->dn[i], sig); }

int mc_restart_nn(struct minicluster *mc) {
  char addr[64];
  snprintf(addr, sizeof addr, "%s", mc->nn.addr);
  mc->nn.addr[0] = '\0';
  return start_nn(mc, addr);
}

int mc_restart_dn(struct minicluster *mc, int i) {
  char addr[64];
  snprintf(addr, sizeof addr, "%s", mc->dn[i].addr);
  mc->dn[i].addr[0] = '\0';
  return start_dn(mc, i, addr);
}

int mc_connect(struct minicluster *mc, const char *user, dfs_fs **out) {
  struct dfs_connect_opts o = {.namenode = mc->nn.addr, .user = user, .timeout_ms = 20000};
  return dfs_connect(&o, out);
}

int mc_wait_live(struct minicluster *mc, int n, int timeout_ms) {
  dfs_fs *fs;
  int rc = mc_connect(mc, NULL, &fs);
  if (rc) return rc;
  int64_t deadline = dfs_now_ms() + timeout_ms;
  for (;;) {
    struct dfs_datanode_info *nodes;
    size_t cnt;
    rc = dfs_datanode_report(fs, DFS_REPORT_LIVE, &nodes, &cnt);
    if (rc == 0) {
      dfs_datanode_report_free(nodes, cnt);
      if ((int)cnt >= n) break;
    }
    if (dfs_now_ms() > deadline) {
      fprintf(stderr, "minicluster: %d live DataNodes after %d ms, wanted %d\n",
                      rc ? -1 : (int)cnt, timeout_ms, n);
      tail_log(mc->nn.log);
      rc = DFS_ETIMEDOUT;
      break;
    }
    usleep(50000);
  }
  dfs_disconnect(fs);
  return rc;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return strdup("");
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) fwrite(tmp, 1, n, m);
  fclose(f);
  fclose(m);
  return buf;
}

int mc_run(char *const argv[], char **out, char **err) {
  return mc_run_timeout(argv, out, err, MC_RUN_DEFAULT_TIMEOUT_MS);
}

int mc_run_timeout(char *const argv[], char **out, char **err, int timeout_ms) {
  char o[] = "/tmp/dfs-mc-outXXXXXX", e[] = "/tmp/dfs-mc-errXXXXXX";
  int ofd = mkstemp(o), efd = mkstemp(e);
  if (out) *out = NULL;
  if (err) *err = NULL;
  if (ofd < 0 || efd < 0) {
    if (ofd >= 0) close(ofd), unlink(o);
    if (efd >= 0) close(efd), unlink(e);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, ofd, 1);
  posix_spawn_file_actions_adddup2(&fa, efd, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(ofd);
  close(efd);
  int status = -1;
  if (rc == 0) {
    track(pid);
    /* Poll, so that a hung command fails the test instead of hanging it. */
    int64_t deadline = dfs_now_ms() + timeout_ms;
    int st = 0;
    bool killed = false;
    while (waitpid(pid, &st, WNOHANG) == 0) {
      if (dfs_now_ms() > deadline) {
        fprintf(stderr, "minicluster: %s still running after %d ms: killed\n", argv[0],
                timeout_ms);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        killed = true;
        break;
      }
      usleep(2000);
    }
    untrack(pid);
    status = !killed && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  } else {
    fprintf(stderr, "minicluster: cannot run %s: %s\n", argv[0], strerror(rc));
  }
  if (out) *out = slurp(o);
  if (err) *err = slurp(e);
  unlink(o);
  unlink(e);
  return status;
}

int mc_dfs(struct minicluster *mc, char **out, char **err, ...) {
  char bin[512];
  snprintf(bin, sizeof bin, "%s/dfs", DFS_BIN_DIR);
  char *argv[64] = {bin, "--conf", mc->conf, "--namenode", mc->nn.addr};
  int n = 5;
  va_list ap;
  va_start(ap, err);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < 63) argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  return mc_run(argv, out, err);
}

int mc_make_file(const char *path, uint64_t bytes, uint32_t seed) {
  FILE *f = fopen(path, "w");
  if (!f) return -errno;
  uint64_t x = seed * 2654435761u + 1;
  uint64_t buf[8192];
  while (bytes) {
    for (size_t i = 0; i < 8192; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      buf[i] = x;
    }
    size_t n = bytes < sizeof buf ? (size_t)bytes : sizeof buf;
    if (fwrite(buf, 1, n, f) != n) {
      fclose(f);
      return DFS_EIO;
    }
    bytes -= n;
  }
  return fclose(f) ? -errno : 0;
}

int mc_cmp_files(const char *a, const char *b) {
  FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
  int rc = 0;
  if (!fa || !fb) rc = -1;
  static char ba[1 << 20], bb[1 << 20];
  while (rc == 0) {
    size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
    if (na != nb || memcmp(ba, bb, na) != 0) rc = 1;
    if (na == 0) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return rc;
}

#include <CUnit/Basic.h>

int mc_run_tests(const char *suite, const struct mc_test *tests) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite(suite, NULL, NULL);
  for (const struct mc_test *t = tests; t->name; t++) CU_add_test(s, t->name, t->fn);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
