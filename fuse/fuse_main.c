/*
 * fuse_main.c - dfs-fuse: mount the DFS with libfuse3.
 *
 *   dfs-fuse NAMENODE MOUNTPOINT [-o options] [-f] [-d] [-s]
 *
 * Parses our options (-o conf=, timeout=, replication=, blocksize=,
 * readahead=, max_write=, user=, log=, log_level=, rename_wait=) and passes
 * the rest to libfuse (attr_timeout=, entry_timeout=, allow_other, ...),
 * checks that the NameNode answers before mounting (a mount that cannot
 * reach its NameNode would only fail later, one operation at a time), then
 * runs the multi-threaded FUSE loop until fusermount3 -u or a signal.
 * Defaults put in front of the user's options: attr_timeout=5,
 * entry_timeout=5, negative_timeout=0 (a file another client creates
 * appears at once), max_write 1 MiB.
 */
#include <fcntl.h>
#include <limits.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfs_fuse.h"

#include "errors.h"
#include "log.h"

struct cli {
  struct dfuse_opts o;
  char *blocksize_s, *readahead_s, *max_write_s;
  int show_help;
};

#define OPT(t, p) {t, offsetof(struct cli, p), 1}
static const struct fuse_opt cli_spec[] = {
  OPT("conf=%s", o.conf_dir),
  OPT("timeout=%d", o.timeout_ms),
  OPT("replication=%d", o.replication),
  OPT("blocksize=%s", blocksize_s),
  OPT("readahead=%s", readahead_s),
  OPT("max_write=%s", max_write_s),
  OPT("user=%s", o.fixed_user),
  OPT("log=%s", o.log_file),
  OPT("log_level=%s", o.log_level),
  OPT("rename_wait=%d", o.rename_wait_ms),
  OPT("-h", show_help),
  OPT("--help", show_help),
  FUSE_OPT_END,
};

static void usage(FILE *out) {
  fprintf(out,
"usage: dfs-fuse NAMENODE MOUNTPOINT [-o option[,option]...] [-f] [-d] [-s]\n"
"\n"
"Mount the DFS whose NameNode is NAMENODE (host:port, or dfs://host:port) on\n"
"MOUNTPOINT. Unmount with fusermount3 -u MOUNTPOINT (open files are completed).\n"
"\n"
"  -f                 stay in the foreground (log to stderr)\n"
"  -d                 debug: foreground, FUSE request trace, log level DEBUG\n"
"  -s                 single-threaded (default: multi-threaded)\n"
"\n"
"DFS options (-o):\n"
"  conf=DIR           configuration directory (DIR/dfs-site.xml); default\n"
"                     $DFS_CONF_DIR, else built-in defaults\n"
"  timeout=MS         deadline of every NameNode call and DataNode socket\n"
"                     operation (default dfs.client.socket-timeout, 60000)\n"
"  replication=N      replication of new files (default: the NameNode's)\n"
"  blocksize=SIZE     block size of new files, e.g. 128m (default: the NameNode's)\n"
"  readahead=SIZE     sequential read-ahead per open file (default 1m)\n"
"  max_write=SIZE     largest FUSE read/write request (default 1m; the kernel\n"
"                     caps it at 1 MiB)\n"
"  user=NAME          act as DFS user NAME for every caller (default: each\n"
"                     caller's own login name, see below)\n"
"  rename_wait=MS     how long rename waits for a just-closed file to be\n"
"                     completed (default 5000)\n"
"  log=FILE           append the log to FILE (default: stderr; nothing once\n"
"                     daemonized unless log= is given)\n"
"  log_level=LEVEL    DEBUG, INFO, WARN (default), ERROR, OFF\n"
"\n"
"FUSE options (-o), with this mount's defaults:\n"
"  attr_timeout=S     seconds the kernel caches attributes (5)\n"
"  entry_timeout=S    seconds the kernel caches names (5)\n"
"  negative_timeout=S seconds the kernel caches 'no such file' (0)\n"
"  max_threads=N      requests served at once (10)\n"
"  allow_other        let other users use the mount (they act as themselves)\n"
"  default_permissions  let the kernel check permissions from the attributes\n"
"                     as well (the NameNode always checks)\n"
"\n"
"Users: each local uid acts as the DFS user named by its login name\n"
"(getpwuid; the decimal uid if it has none) on its own connection, so the\n"
"NameNode checks permissions as that user (HDFS simple authentication).\n"
"Owners and groups shown map back with getpwnam/getgrnam; unknown names\n"
"show as 65534 (nobody/nogroup).\n"
"\n"
"Write-once semantics: new files are written sequentially and completed on\n"
"close; O_TRUNC or truncate to 0 replaces a file. Writes into a closed file\n"
"or before the end of a file being written, and truncate to another size,\n"
"fail with EPERM; hard links, symbolic links, device nodes, O_APPEND on an\n"
"existing file and fallocate fail with ENOTSUP. See docs/fuse.md.\n");
}

/* The kernel reads ahead on a FUSE mount no more than its bdi's
 * read_ahead_kb (128 KiB by default, whatever max_readahead says): raise it
 * to our read-ahead so that large sequential reads keep several 1 MiB
 * requests in flight. Best effort (needs root); the mount works without.
 * Reads /proc/self/mountinfo rather than stat()ing the mount point, which
 * would wait for a request nobody serves yet. */
static void set_kernel_readahead(const char *mountpoint, size_t bytes) {
  char want[PATH_MAX];
  if (!realpath(mountpoint, want)) return;
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) return;
  char line[8192], dev[64] = "";
  while (fgets(line, sizeof line, f)) {
    char majmin[64], mnt[4096];
    if (sscanf(line, "%*d %*d %63s %*s %4095s", majmin, mnt) == 2 && strcmp(mnt, want) == 0 &&
        strstr(line, "fuse"))
      snprintf(dev, sizeof dev, "%s", majmin);
  }
  fclose(f);
  if (!dev[0]) return;
  char path[256];
  snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
  FILE *ra = fopen(path, "w");
  if (!ra || fprintf(ra, "%zu\n", bytes / 1024) < 0 || fclose(ra) != 0) {
    LOG_INFO(DFUSE_LOG, "%s: cannot set the kernel read-ahead (not root?)", path);
    return;
  }
  LOG_INFO(DFUSE_LOG, "kernel read-ahead %zu KiB (%s)", bytes / 1024, path);
}

static int parse_size(const char *s, size_t *out, const char *what) {
  char *end;
  double v = strtod(s, &end);
  double mul = 1;
  switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    default: break;
  }
  if (end == s || *end != '\0' || v <= 0) {
    fprintf(stderr, "dfs-fuse: %s=%s: not a size (e.g. 4m)\n", what, s);
    return -1;
  }
  *out = (size_t)(v * mul);
  return 0;
}

/* The first non-option argument is the NameNode; the rest go to libfuse. */
static int cli_proc(void *data, const char *arg, int key, struct fuse_args *outargs) {
  struct cli *c = data;
  if (key == FUSE_OPT_KEY_NONOPT && !c->o.namenode) {
    const char *a = arg;
    if (strncmp(a, "dfs://", 6) == 0) a += 6;
    c->o.namenode = strdup(a);
    size_t n = strlen(c->o.namenode);
    if (n && c->o.namenode[n - 1] == '/') c->o.namenode[n - 1] = '\0';
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  struct cli c;
  memset(&c, 0, sizeof c);
  c.o.rename_wait_ms = 5000;
  int rc = 1;
  struct fuse *fuse = NULL;
  struct fuse_cmdline_opts fo;
  memset(&fo, 0, sizeof fo);
  struct dfuse d;
  memset(&d, 0, sizeof d);

  if (fuse_opt_parse(&args, &c, cli_spec, cli_proc) != 0) goto out;
  if (c.show_help) {
    usage(stdout);
    printf("\nlibfuse options:\n");
    fuse_cmdline_help();
    fuse_lib_help(&args);
    rc = 0;
    goto out;
  }
  c.o.readahead = 1u << 20; /* measured best: docs/fuse.md, "Read-ahead" */
  c.o.max_write = 1u << 20;
  if (c.readahead_s && parse_size(c.readahead_s, &c.o.readahead, "readahead") < 0) goto out;
  if (c.max_write_s && parse_size(c.max_write_s, &c.o.max_write, "max_write") < 0) goto out;
  if (c.blocksize_s) {
    size_t bs;
    if (parse_size(c.blocksize_s, &bs, "blocksize") < 0) goto out;
    c.o.blocksize = bs;
  }
  if (c.o.max_write < 4096) c.o.max_write = 4096;
  if (c.o.readahead < c.o.max_write) c.o.readahead = c.o.max_write;
  /* Our defaults first, so the user's -o options (later) win. */
  if (fuse_opt_insert_arg(&args, 1,
                          "-oattr_timeout=5,entry_timeout=5,negative_timeout=0") != 0)
    goto out;
  if (fuse_parse_cmdline(&args, &fo) != 0) goto out;
  if (fo.show_version) {
    printf("dfs-fuse, libfuse %s\n", fuse_pkgversion());
    rc = 0;
    goto out;
  }
  if (!c.o.namenode || !fo.mountpoint) {
    usage(stderr);
    goto out;
  }

  int level = DFS_LOG_WARN;
  if (c.o.log_level && (level = dfs_log_level_parse(c.o.log_level)) < 0) {
    fprintf(stderr, "dfs-fuse: log_level=%s: DEBUG, INFO, WARN, ERROR or OFF\n", c.o.log_level);
    goto out;
  }
  if (fo.debug && !c.o.log_level) level = DFS_LOG_DEBUG;
  int log_fd = 2;
  if (c.o.log_file && (log_fd = open(c.o.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                                     0644)) < 0) {
    perror(c.o.log_file);
    goto out;
  }
  dfs_log_init(level, log_fd);
  if (c.o.conf_dir && setenv("DFS_CONF_DIR", c.o.conf_dir, 1) != 0) goto out;

  d.o = c.o;
  pthread_mutex_init(&d.users_mu, NULL);
  pthread_mutex_init(&d.names_mu, NULL);
  pthread_mutex_init(&d.open_mu, NULL);
  pthread_cond_init(&d.open_cv, NULL);

  /* Refuse to mount a NameNode that does not answer. The connection is not
   * kept: the process may fork into the background below. */
  {
    dfs_fs *probe;
    struct dfs_connect_opts co = {.namenode = c.o.namenode, .user = c.o.fixed_user,
                                  .timeout_ms = c.o.timeout_ms};
    int crc = dfs_connect(&co, &probe);
    if (crc < 0) {
      fprintf(stderr, "dfs-fuse: %s: %s\n", c.o.namenode, dfs_error_message());
      goto out;
    }
    dfs_disconnect(probe);
  }

  fuse = fuse_new(&args, dfuse_operations(), sizeof(struct fuse_operations), &d);
  if (!fuse) goto out;
  if (fuse_mount(fuse, fo.mountpoint) != 0) goto out_destroy;
  set_kernel_readahead(fo.mountpoint, c.o.readahead);
  if (fuse_daemonize(fo.foreground) != 0) goto out_unmount;
  struct fuse_session *se = fuse_get_session(fuse);
  if (fuse_set_signal_handlers(se) != 0) goto out_unmount;
  LOG_INFO(DFUSE_LOG, "serving %s on %s", c.o.namenode, fo.mountpoint);
  if (fo.singlethread) {
    rc = fuse_loop(fuse);
  } else {
    /* Up to max_threads requests at once (libfuse's option; the 3.1 loop
     * we called before ignored it). More than the default 10 did not make
     * creates faster here: they are CPU-bound (docs/fuse.md, "Threads"). */
    struct fuse_loop_config *lc = fuse_loop_cfg_create();
    if (!lc) goto out_unmount;
    fuse_loop_cfg_set_clone_fd(lc, (unsigned)fo.clone_fd);
    fuse_loop_cfg_set_max_threads(lc, fo.max_threads);
    fuse_loop_cfg_set_idle_threads(lc, fo.max_idle_threads);
    rc = fuse_loop_mt(fuse, lc);
    fuse_loop_cfg_destroy(lc);
  }
  rc = rc == 0 ? 0 : 1;
  fuse_remove_signal_handlers(se);
out_unmount:
  fuse_unmount(fuse);
out_destroy:
  fuse_destroy(fuse); /* calls op_destroy if the mount was initialised */
  dfuse_names_free(&d);
out:
  free(fo.mountpoint);
  fuse_opt_free_args(&args);
  free(c.o.namenode);
  free(c.o.conf_dir);
  free(c.o.fixed_user);
  free(c.o.log_file);
  free(c.o.log_level);
  free(c.blocksize_s);
  free(c.readahead_s);
  free(c.max_write_s);
  return rc;
}
