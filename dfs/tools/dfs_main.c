/*
 * dfs_main.c - the `dfs` command: global options, the subcommand table,
 * help, and the helpers every subcommand shares (connection, path
 * resolution, messages in `hdfs dfs` style, formatting, progress bar).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "net.h"

struct subcmd {
  const char *name;
  int (*fn)(struct cli *, int, char **);
  const char *usage;
  const char *help;
};

static const struct subcmd cmds[] = {
    {"put", cmd_put, "put [-f] [-p] [-d] <localsrc> ... <dst>",
     "Copy local files (or stdin with '-') into the filesystem. -f overwrites the\n"
     "destination; -p keeps times and permission; -d is accepted for compatibility."},
    {"copyFromLocal", cmd_put, "copyFromLocal [-f] <localsrc> ... <dst>", "Same as put."},
    {"get", cmd_get, "get [-f] <src> ... <localdst>",
     "Copy files to the local filesystem. -f overwrites local files."},
    {"copyToLocal", cmd_get, "copyToLocal [-f] <src> ... <localdst>", "Same as get."},
    {"cat", cmd_cat, "cat <src> ...", "Write files to stdout."},
    {"ls", cmd_ls, "ls [-R] [-h] [-d] [<path> ...]",
     "List directories (or files). -R recursive, -h human-readable sizes,\n"
     "-d list directories as plain files."},
    {"mkdir", cmd_mkdir, "mkdir [-p] <path> ...",
     "Create directories. -p: no error if it exists, parents as needed."},
    {"rm", cmd_rm, "rm [-r|-R] [-f] <path> ...",
     "Delete files; -r deletes directories recursively; -f ignores missing paths."},
    {"rmdir", cmd_rmdir, "rmdir <dir> ...", "Delete empty directories."},
    {"mv", cmd_mv, "mv <src> ... <dst>",
     "Rename (atomically). With several sources, or when <dst> is a directory,\n"
     "the sources move into it."},
    {"stat", cmd_stat, "stat [format] <path> ...",
     "Print status. Format: %b size, %F type, %g group, %n name, %o block size,\n"
     "%r replication, %u owner, %a octal permission, %y UTC date, %Y ms since epoch."},
    {"du", cmd_du, "du [-s] [-h] <path> ...",
     "Space used by files; -s a summary per argument; -h human-readable."},
    {"setrep", cmd_setrep, "setrep [-w] <rep> <path> ...",
     "Set the replication factor of files (recursively for directories)."},
    {"chmod", cmd_chmod, "chmod [-R] <MODE[,MODE]... | OCTALMODE> <path> ...",
     "Change permissions."},
    {"chown", cmd_chown, "chown [-R] [OWNER][:[GROUP]] <path> ...", "Change owner and group."},
    {"chgrp", cmd_chgrp, "chgrp [-R] GROUP <path> ...", "Change group."},
    {"test", cmd_test, "test -[defsz] <path>",
     "Exit 0 if: -e exists, -d is a directory, -f is a file, -s is not empty,\n"
     "-z has zero length; 1 otherwise."},
    {"touchz", cmd_touchz, "touchz <path> ...", "Create empty files."},
    {"count", cmd_count, "count [-h] <path> ...",
     "DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME for each path."},
    {"report", cmd_report, "report",
     "Cluster report (like hdfs dfsadmin -report): capacity, usage and every\n"
     "DataNode, live and dead."},
    {"fsck", cmd_fsck, "fsck <path> [-files [-blocks [-locations | -racks]]]",
     "Check block health under a path (like hdfs fsck). Exit 0 if HEALTHY."},
    {"recover-lease", cmd_recover_lease, "recover-lease <path>",
     "Close a file whose writer died (lease recovery)."},
    {"safemode", cmd_safemode, "safemode get|enter|leave|wait", "NameNode safe mode."},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage_all(FILE *o) {
  fprintf(o,
          "Usage: dfs [--conf DIR] [-D key=value]... [--namenode HOST:PORT] [--user NAME]\n"
          "           <command> [args]\n\n"
          "The filesystem shell, like `hdfs dfs`. Relative paths are under /user/<user>.\n"
          "Commands:\n");
  for (size_t i = 0; i < NCMDS; i++) fprintf(o, "  %s\n", cmds[i].usage);
  fprintf(o,
          "\n`dfs <command> --help` describes one command.\n"
          "Options: --conf DIR (dfs-site.xml; default $DFS_CONF_DIR), -D key=value,\n"
          "--namenode HOST:PORT (default dfs.namenode.rpc-address), --user NAME\n"
          "(default $HADOOP_USER_NAME, else the OS user).\n");
}

static void usage_one(FILE *o, const struct subcmd *s) {
  fprintf(o, "Usage: dfs %s\n\n%s\n", s->usage, s->help);
}

dfs_fs *cli_fs(struct cli *c) {
  if (c->fs) return c->fs;
  struct dfs_connect_opts o = {.namenode = c->namenode, .user = c->user, .conf = c->conf};
  int rc = dfs_connect(&o, &c->fs);
  if (rc) {
    fprintf(stderr, "%s: %s\n", c->cmd, dfs_error_message());
    c->fs = NULL;
  }
  return c->fs;
}

static const char *user_name(struct cli *c) {
  static char buf[256];
  if (c->user) return c->user;
  struct passwd *pw = getpwuid(geteuid());
  snprintf(buf, sizeof buf, "%s", pw ? pw->pw_name : "nobody");
  return buf;
}

char *cli_abs(struct cli *c, const char *arg) {
  /* Accept dfs://host:port/path and hdfs://... by dropping the authority. */
  const char *p = arg;
  const char *scheme = strstr(arg, "://");
  if (scheme) {
    p = strchr(scheme + 3, '/');
    if (!p) p = "/";
  }
  if (p[0] == '/') return strdup(p);
  char *out;
  const char *u = user_name(c);
  if (strcmp(p, ".") == 0 || *p == '\0') {
    if (asprintf(&out, "/user/%s", u) < 0) return NULL;
  } else if (asprintf(&out, "/user/%s/%s", u, p) < 0) {
    return NULL;
  }
  return out;
}

static int simple_reason(int rc) {
  return rc == DFS_ENOENT || rc == DFS_EEXIST || rc == DFS_ENOTDIR || rc == DFS_EISDIR ||
         rc == DFS_ENOTEMPTY;
}

int cli_err(struct cli *c, int rc) {
  fprintf(stderr, "%s: %s\n", c->cmd, dfs_error_message());
  (void)rc;
  return 1;
}

int cli_errp(struct cli *c, const char *path, int rc) {
  if (simple_reason(rc))
    fprintf(stderr, "%s: %s: %s\n", c->cmd, path, dfs_error_string(rc));
  else
    fprintf(stderr, "%s: %s\n", c->cmd, dfs_error_message());
  return 1;
}

void cli_fmt_perm(uint16_t perm, bool dir, char out[11]) {
  const char *rwx = "rwxrwxrwx";
  out[0] = dir ? 'd' : '-';
  for (int i = 0; i < 9; i++) out[1 + i] = (perm & (1 << (8 - i))) ? rwx[i] : '-';
  if (perm & 01000) out[9] = (perm & 1) ? 't' : 'T';
  out[10] = '\0';
}

void cli_fmt_size(uint64_t n, bool human, char *out, size_t cap) {
  if (!human || n < 1024) {
    snprintf(out, cap, "%llu", (unsigned long long)n);
    return;
  }
  const char *u = "KMGTPE";
  double v = (double)n;
  int i = -1;
  while (v >= 1024 && i < 5) {
    v /= 1024;
    i++;
  }
  snprintf(out, cap, "%.1f %c", v, u[i]);
}

void cli_fmt_time(int64_t ms, char *out, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, cap, "%Y-%m-%d %H:%M", &tm);
}

int cli_parse_mode(const char *s, uint16_t old, bool dir) {
  if (*s >= '0' && *s <= '7') {
    char *end;
    long v = strtol(s, &end, 8);
    if (*end || v < 0 || v > 07777) return -1;
    return (int)v;
  }
  int mode = old;
  const char *p = s;
  while (*p) {
    int who = 0;
    while (*p == 'u' || *p == 'g' || *p == 'o' || *p == 'a') {
      who |= *p == 'u' ? 0700 : *p == 'g' ? 070 : *p == 'o' ? 07 : 0777;
      p++;
    }
    if (!who) who = 0777;
    char op = *p++;
    if (op != '+' && op != '-' && op != '=') return -1;
    int bits = 0, sticky = 0;
    while (*p && *p != ',') {
      if (*p == 'r') bits |= 0444;
      else if (*p == 'w') bits |= 0222;
      else if (*p == 'x') bits |= 0111;
      else if (*p == 'X') bits |= (dir || (old & 0111)) ? 0111 : 0;
      else if (*p == 't') sticky = 01000;
      else return -1;
      p++;
    }
    bits &= who;
    if (op == '+') mode |= bits | sticky;
    else if (op == '-') mode &= ~(bits | sticky);
    else mode = (mode & ~who) | bits | sticky;
    if (*p == ',') p++;
  }
  return mode & 07777;
}

int64_t cli_parse_size(const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0) return -1;
  double m = 1;
  switch (*end) {
  case 'k': case 'K': m = 1024.0; end++; break;
  case 'm': case 'M': m = 1048576.0; end++; break;
  case 'g': case 'G': m = 1073741824.0; end++; break;
  case 't': case 'T': m = 1099511627776.0; end++; break;
  default: break;
  }
  if (*end) return -1;
  return (int64_t)(v * m);
}

void progress_start(struct progress *p, const char *label, uint64_t total) {
  memset(p, 0, sizeof *p);
  p->on = isatty(1) && isatty(2) && total > (1u << 20);
  p->total = total;
  p->label = label;
  p->start_ms = p->last_ms = dfs_now_ms();
}

static void progress_draw(struct progress *p, int final) {
  double secs = (double)(dfs_now_ms() - p->start_ms) / 1000.0;
  double rate = secs > 0 ? (double)p->done / secs : 0;
  double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100;
  double eta = rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : 0;
  int width = 30, fill = (int)(pct / 100.0 * width);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : ' ';
  bar[width] = '\0';
  fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu MB %7.1f MB/s ETA %3.0fs%s", p->label, bar, pct,
          (unsigned long long)(p->done / 1000000), (unsigned long long)(p->total / 1000000),
          rate / 1e6, eta, final ? "\n" : "");
  fflush(stderr);
}

void progress_update(struct progress *p, uint64_t done) {
  p->done = done;
  if (!p->on) return;
  int64_t now = dfs_now_ms();
  if (now - p->last_ms < 200) return;
  p->last_ms = now;
  progress_draw(p, 0);
}

void progress_end(struct progress *p) {
  if (p->on) progress_draw(p, 1);
}

int main(int argc, char **argv) {
  struct cli c = {0};
  c.conf = dfs_conf_new();
  if (!c.conf) {
    fprintf(stderr, "dfs: out of memory\n");
    return 1;
  }
  /* Global options come before the command; -D/--conf are taken out here. */
  int cmd_at = 1;
  int global_argc = argc;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
      global_argc = i;
      break;
    }
    if ((strcmp(argv[i], "--conf") == 0 || strcmp(argv[i], "-D") == 0 ||
         strcmp(argv[i], "--namenode") == 0 || strcmp(argv[i], "--user") == 0) &&
        i + 1 < argc)
      i++;
  }
  /* Parse globals in a copy holding argv[0..global_argc). */
  char **gv = calloc((size_t)global_argc + 1, sizeof *gv);
  int gc = global_argc;
  for (int i = 0; i < global_argc; i++) gv[i] = argv[i];
  bool print_config = false;
  if (dfs_conf_from_args(c.conf, &gc, gv, &print_config) != 0) {
    fprintf(stderr, "dfs: %s\n", dfs_err_msg());
    return 2;
  }
  for (int i = 1; i < gc; i++) {
    if (strcmp(gv[i], "--namenode") == 0 && i + 1 < gc) c.namenode = gv[++i];
    else if (strcmp(gv[i], "--user") == 0 && i + 1 < gc) c.user = gv[++i];
    else if (strcmp(gv[i], "--help") == 0 || strcmp(gv[i], "-h") == 0) {
      usage_all(stdout);
      return 0;
    } else {
      fprintf(stderr, "dfs: unknown option %s\n", gv[i]);
      usage_all(stderr);
      return 2;
    }
  }
  free(gv);
  if (print_config) {
    dfs_conf_print(c.conf, stdout);
    return 0;
  }
  if (!c.user) {
    const char *hu = getenv("HADOOP_USER_NAME");
    if (hu && *hu) c.user = hu;
  }
  cmd_at = global_argc;
  if (cmd_at >= argc) {
    usage_all(stderr);
    return 2;
  }
  const char *name = argv[cmd_at];
  if (strcmp(name, "help") == 0) {
    if (cmd_at + 1 < argc)
      for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, argv[cmd_at + 1]) == 0) {
          usage_one(stdout, &cmds[i]);
          return 0;
        }
    usage_all(stdout);
    return 0;
  }
  /* hdfs dfs style "-ls" is accepted too */
  if (name[0] == '-' && name[1]) name++;
  for (size_t i = 0; i < NCMDS; i++) {
    if (strcmp(cmds[i].name, name) != 0) continue;
    for (int j = cmd_at + 1; j < argc; j++)
      if (strcmp(argv[j], "--help") == 0) {
        usage_one(stdout, &cmds[i]);
        return 0;
      }
    c.cmd = cmds[i].name;
    int rc = cmds[i].fn(&c, argc - cmd_at, argv + cmd_at);
    if (rc < 0) {
      usage_one(stderr, &cmds[i]);
      rc = 2;
    }
    if (c.fs) {
      int d = dfs_disconnect(c.fs);
      if (d && rc == 0) {
        fprintf(stderr, "%s: %s\n", c.cmd, dfs_error_message());
        rc = 1;
      }
    }
    dfs_conf_free(c.conf);
    return rc;
  }
  fprintf(stderr, "dfs: %s: unknown command\n", name);
  usage_all(stderr);
  return 2;
}
