/*
 * dfs_main.c - the `dfs` command: global options, the subcommand table and
 * its help texts, the connection, and error messages in `hdfs dfs` style.
 *
 * Global options come before the subcommand (`dfs --namenode h:p -D k=v ls
 * /`); `-ls` is accepted for `ls` so that `hdfs dfs -ls` habits work. The
 * connection is made lazily, so `dfs CMD --help` and usage errors need no
 * cluster. Exit codes: 0 success, 1 an error on some argument (the others
 * are still processed, as hdfs does), 2 a usage or configuration error.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"

struct subcmd {
  const char *name;
  int (*fn)(struct cli *, int, char **);
  const char *usage;
  const char *help;
};

static const struct subcmd cmds[] = {
    {"put", cmd_put, "put [-f] [-p] [-d] [-t <threads>] <localsrc> ... <dst>",
     "Copy local files or directories into the filesystem; '-' as the only\n"
     "source reads stdin. With several sources <dst> must be a directory.\n"
     "  -f  overwrite the destination if it exists\n"
     "  -p  preserve modification/access times and permission bits\n"
     "  -d  write <dst> directly instead of through <dst>._COPYING_\n"
     "  -t  copy this many files at once (default 1; many small files go\n"
     "      faster: each one's copy is mostly waiting)"},
    {"copyFromLocal", cmd_put, "copyFromLocal [-f] [-p] [-d] [-t <threads>] <localsrc> ... <dst>",
     "Same as put."},
    {"get", cmd_get, "get [-f] [-p] [-t <threads>] <src> ... <localdst>",
     "Copy files or directories to the local filesystem (through\n"
     "<localdst>._COPYING_, renamed when complete). With several sources\n"
     "<localdst> must be a directory.\n"
     "  -f  overwrite local files\n"
     "  -p  preserve modification/access times and permission bits\n"
     "  -t  copy this many files of a directory at once (default 1)"},
    {"copyToLocal", cmd_get, "copyToLocal [-f] [-p] [-t <threads>] <src> ... <localdst>",
     "Same as get."},
    {"cat", cmd_cat, "cat <src> ...", "Write the files' contents to stdout."},
    {"head", cmd_head, "head <file>", "Write the first kilobyte of the file to stdout."},
    {"tail", cmd_tail, "tail <file>", "Write the last kilobyte of the file to stdout."},
    {"ls", cmd_ls, "ls [-R] [-h] [-d] [<path> ...]",
     "List directories' contents (or files). Columns: permission, replication\n"
     "('-' for directories), owner, group, size, modification time, path.\n"
     "  -R  recursive\n"
     "  -h  human-readable sizes (1.3 K, 128 M)\n"
     "  -d  list directories as plain entries"},
    {"mkdir", cmd_mkdir, "mkdir [-p] <path> ...",
     "Create directories.\n"
     "  -p  create missing parents; no error if the directory exists"},
    {"rm", cmd_rm, "rm [-f] [-r|-R] [-skipTrash] <path> ...",
     "Delete files (there is no trash: -skipTrash is accepted and implied).\n"
     "  -r, -R  delete directories and their contents\n"
     "  -f      no message and no error for missing paths"},
    {"rmdir", cmd_rmdir, "rmdir [--ignore-fail-on-non-empty] <dir> ...",
     "Delete empty directories."},
    {"mv", cmd_mv, "mv <src> ... <dst>",
     "Rename files or directories, each atomically. When <dst> is an existing\n"
     "directory the sources move into it (required with several sources)."},
    {"stat", cmd_stat, "stat [format] <path> ...",
     "Print status in the format (default %y): %b length, %F type, %g group,\n"
     "%n name, %o block size, %r replication, %u owner, %a octal permission,\n"
     "%A symbolic permission, %x/%X access time (UTC date / ms since epoch),\n"
     "%y/%Y modification time (UTC date / ms), \\n newline."},
    {"du", cmd_du, "du [-s] [-h] <path> ...",
     "Space used: length, space consumed by all replicas, path; for each entry\n"
     "of a directory, or the directory itself with -s.\n"
     "  -s  one summary line per argument\n"
     "  -h  human-readable sizes"},
    {"count", cmd_count, "count [-h] <path> ...",
     "DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME for each path.\n"
     "  -h  human-readable sizes"},
    {"setrep", cmd_setrep, "setrep [-R] [-w] <rep> <path> ...",
     "Set the replication factor of files (of every file below a directory).\n"
     "  -w  wait until every block has <rep> live replicas\n"
     "  -R  accepted for compatibility (directories are always recursive)"},
    {"chmod", cmd_chmod, "chmod [-R] <MODE[,MODE]... | OCTALMODE> <path> ...",
     "Change permission bits: octal (755, 1777) or symbolic ([ugoa][+-=][rwxXt],\n"
     "comma separated, e.g. u+x,go-w).\n"
     "  -R  recursive"},
    {"chown", cmd_chown, "chown [-R] [OWNER][:[GROUP]] <path> ...",
     "Change owner and/or group (superuser only for the owner).\n"
     "  -R  recursive"},
    {"chgrp", cmd_chgrp, "chgrp [-R] GROUP <path> ...", "Change group.\n  -R  recursive"},
    {"test", cmd_test, "test -[defsz] <path>",
     "Exit 0 if: -e the path exists, -d it is a directory, -f it is a file,\n"
     "-s it is not empty, -z it has zero length; 1 otherwise. Prints nothing."},
    {"touchz", cmd_touchz, "touchz <path> ...",
     "Create empty files; an existing empty file gets a new modification time."},
    {"report", cmd_report, "report [-live] [-dead]",
     "Cluster report, like `hdfs dfsadmin -report`: capacity and usage, block\n"
     "health, then every live and dead DataNode with its rack and usage."},
    {"fsck", cmd_fsck, "fsck <path> [-files [-blocks [-locations | -racks]]]",
     "Check the health of the files under <path>, like `hdfs fsck`: missing,\n"
     "corrupt, under-, over- and mis-replicated (single-rack) blocks. Exit 0\n"
     "when HEALTHY, 1 when CORRUPT.\n"
     "  -files      print every file\n"
     "  -blocks     print every block\n"
     "  -locations  print each block's replicas\n"
     "  -racks      print each replica with its rack"},
    {"recover-lease", cmd_recover_lease, "recover-lease <path>",
     "Close a file whose writer died (lease recovery). Exit 0 once closed."},
    {"safemode", cmd_safemode, "safemode get|enter|leave|wait",
     "Get, enter or leave NameNode safe mode, or wait until it is off."},
    {"refreshNodes", cmd_refresh_nodes, "refreshNodes",
     "Make the NameNode re-read its exclude file (dfs.hosts.exclude), like\n"
     "`hdfs dfsadmin -refreshNodes`: listed DataNodes are decommissioned (their\n"
     "replicas copied elsewhere first), unlisted ones return to service.\n"
     "Superuser only."},
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
          "\n`dfs <command> --help` (or `dfs help <command>`) describes one command.\n"
          "Global options:\n"
          "  --conf DIR            read DIR/dfs-site.xml (default $DFS_CONF_DIR, else etc/)\n"
          "  -D key=value          set a configuration key\n"
          "  --namenode HOST:PORT  NameNode (default dfs.namenode.rpc-address)\n"
          "  --user NAME           act as NAME (default $HADOOP_USER_NAME, else the OS user)\n"
          "  --print-config        print the effective configuration\n");
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

char *cli_abs(struct cli *c, const char *arg) {
  char *p = cli_resolve(c->user, arg);
  if (!p) {
    fprintf(stderr, "%s: out of memory\n", c->cmd);
    exit(1);
  }
  return p;
}

int cli_fail(struct cli *c, const char *arg, const char *text) {
  fprintf(stderr, "%s: %s: %s\n", c->cmd, arg, text);
  return 1;
}

int cli_errp(struct cli *c, const char *arg, int rc) {
  /* The library's explanation reads "op: /path: why" (op = its own call
   * name). Codes whose text says it all print as "<cmd>: <arg>: <text>";
   * otherwise the explanation without the library's op name. */
  if (rc == DFS_ENOENT || rc == DFS_EEXIST || rc == DFS_ENOTDIR || rc == DFS_EISDIR ||
      rc == DFS_ENOTEMPTY)
    return cli_fail(c, arg, dfs_error_string(rc));
  const char *m = dfs_error_message();
  if (!m || !*m) return cli_fail(c, arg, dfs_error_string(rc));
  const char *colon = strstr(m, ": ");
  if (colon && (size_t)(colon - m) < 32 && !memchr(m, ' ', (size_t)(colon - m))) m = colon + 2;
  if (m[0] == '/') fprintf(stderr, "%s: %s\n", c->cmd, m);
  else fprintf(stderr, "%s: %s: %s\n", c->cmd, arg, m);
  return 1;
}

static const struct subcmd *find_cmd(const char *name) {
  if (name[0] == '-' && name[1] && name[1] != '-') name++; /* hdfs dfs -ls */
  for (size_t i = 0; i < NCMDS; i++)
    if (strcmp(cmds[i].name, name) == 0) return &cmds[i];
  return NULL;
}

static bool is_help(const char *a) {
  return strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "-usage") == 0;
}

int main(int argc, char **argv) {
  struct cli c = {0};
  int rc = 2;
  char **gv = NULL;
  c.cmd = "dfs";
  c.conf = dfs_conf_new();
  gv = calloc((size_t)argc + 1, sizeof *gv);
  if (!c.conf || !gv) {
    fprintf(stderr, "dfs: out of memory\n");
    goto out;
  }
  /* The global options end at the first argument that is not one of them
   * (the subcommand). They are copied out for dfs_conf_from_args, which
   * takes --conf, -D and --print-config and leaves the rest. */
  int cmd_at = 1;
  while (cmd_at < argc) {
    const char *a = argv[cmd_at];
    if ((strcmp(a, "--conf") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "-D") == 0 || strcmp(a, "--namenode") == 0 ||
         strcmp(a, "--user") == 0) && cmd_at + 1 < argc)
      cmd_at += 2;
    else if (strncmp(a, "-D", 2) == 0 || strncmp(a, "--conf=", 7) == 0 ||
             strcmp(a, "--print-config") == 0 || strcmp(a, "--help") == 0 ||
             strcmp(a, "-h") == 0)
      cmd_at++;
    else
      break;
  }
  int gc = cmd_at;
  for (int i = 0; i < cmd_at; i++) gv[i] = argv[i];
  bool print_config = false;
  if (dfs_conf_from_args(c.conf, &gc, gv, &print_config) != 0) {
    fprintf(stderr, "dfs: %s\n", dfs_err_msg());
    goto out;
  }
  for (int i = 1; i < gc; i++) {
    if (strcmp(gv[i], "--namenode") == 0 && i + 1 < gc) {
      c.namenode = gv[++i];
    } else if (strcmp(gv[i], "--user") == 0 && i + 1 < gc) {
      c.user = gv[++i];
    } else if (strcmp(gv[i], "--help") == 0 || strcmp(gv[i], "-h") == 0) {
      usage_all(stdout);
      rc = 0;
      goto out;
    } else {
      fprintf(stderr, "dfs: unknown option %s\n", gv[i]);
      usage_all(stderr);
      goto out;
    }
  }
  if (print_config) {
    dfs_conf_print(c.conf, stdout);
    rc = 0;
    goto out;
  }
  if (!c.user) {
    const char *hu = getenv("HADOOP_USER_NAME");
    if (hu && *hu) {
      c.user = hu;
    } else {
      struct passwd *pw = getpwuid(geteuid());
      if (pw) snprintf(c.user_buf, sizeof c.user_buf, "%s", pw->pw_name);
      else snprintf(c.user_buf, sizeof c.user_buf, "%u", (unsigned)geteuid());
      c.user = c.user_buf;
    }
  }
  if (cmd_at >= argc) {
    usage_all(stderr);
    goto out;
  }
  const char *name = argv[cmd_at];
  if (strcmp(name, "help") == 0 || is_help(name)) {
    const struct subcmd *s = cmd_at + 1 < argc ? find_cmd(argv[cmd_at + 1]) : NULL;
    if (s) usage_one(stdout, s);
    else usage_all(stdout);
    rc = 0;
    goto out;
  }
  const struct subcmd *s = find_cmd(name);
  if (!s) {
    fprintf(stderr, "dfs: %s: Unknown command\n", name);
    usage_all(stderr);
    goto out;
  }
  if (cmd_at + 1 < argc && is_help(argv[cmd_at + 1])) {
    usage_one(stdout, s);
    rc = 0;
    goto out;
  }
  c.cmd = s->name;
  rc = s->fn(&c, argc - cmd_at, argv + cmd_at);
  if (rc == CLI_USAGE) {
    usage_one(stderr, s);
    rc = 2;
  }
  if (c.fs) {
    /* Closing flushes files still open; an error there is a failed command. */
    int d = dfs_disconnect(c.fs);
    c.fs = NULL;
    if (d && rc == 0) {
      fprintf(stderr, "%s: %s\n", c.cmd, dfs_error_message());
      rc = 1;
    }
  }
out:
  free(gv);
  if (c.conf) dfs_conf_free(c.conf);
  return rc;
}
