/*
 * cmd_fs.c - the namespace subcommands of `dfs` (ls, mkdir, rm, rmdir, mv,
 * stat, du, count, setrep, chmod, chown, chgrp, test, touchz), with the
 * flags, columns and messages of `hdfs dfs`.
 *
 * Each subcommand goes on with its remaining arguments after an error on one
 * of them and exits 1 if any failed, as hdfs does. Paths in output keep the
 * form the user gave (relative stays relative), as hdfs prints them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "net.h"

#define NO_SUCH "No such file or directory"

/* Parse options; on an unknown one print it and return CLI_USAGE. */
static int opts(struct cli *c, int argc, char **argv, const char *letters,
                const char *const *words, unsigned *wset, char *set, size_t cap) {
  char bad[64];
  int i = cli_flags(argc, argv, letters, words, wset, set, cap, bad, sizeof bad);
  if (i < 0) fprintf(stderr, "%s: Illegal option %s\n", c->cmd, bad);
  return i;
}

/* The path shown for child `name` of the argument `arg` ("" = no argument:
 * the home directory, shown as bare names, as `hdfs dfs -ls`). */
static char *display_child(const char *arg, const char *name) {
  if (!*arg) return strdup(name);
  return cli_join(arg, name);
}

/* ---- ls ------------------------------------------------------------------------------ */

struct ls_opts {
  bool rec, human, dir_only;
};

static int ls_dir(struct cli *c, const char *path, const char *shown, const struct ls_opts *o) {
  struct dfs_stat *e;
  size_t n;
  int rc = dfs_list(c->fs, path, &e, &n);
  if (rc) return cli_errp(c, *shown ? shown : path, rc);
  if (!o->rec && n) printf("Found %zu items\n", n);
  struct cli_ls_widths w;
  cli_ls_widths(e, n, o->human, &w);
  int ret = 0;
  for (size_t i = 0; i < n; i++) {
    char *full = cli_join(path, e[i].name), *disp = display_child(shown, e[i].name);
    if (!full || !disp) {
      free(full);
      free(disp);
      ret = cli_fail(c, path, "out of memory");
      break;
    }
    cli_ls_line(stdout, &e[i], disp, o->human, &w, false);
    if (o->rec && e[i].type == DFS_TYPE_DIR) ret |= ls_dir(c, full, disp, o);
    free(full);
    free(disp);
  }
  dfs_stats_free(e, n);
  return ret;
}

int cmd_ls(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = opts(c, argc, argv, "Rhdt", NULL, NULL, fl, sizeof fl);
  if (i < 0) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  struct ls_opts o = {CLI_HAS(fl, 'R'), CLI_HAS(fl, 'h'), CLI_HAS(fl, 'd')};
  int ret = 0, nargs = argc - i;
  for (int k = 0; k < (nargs ? nargs : 1); k++) {
    const char *arg = nargs ? argv[i + k] : "";
    char *p = cli_abs(c, *arg ? arg : ".");
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      ret |= rc == DFS_ENOENT ? cli_fail(c, *arg ? arg : ".", NO_SUCH) : cli_errp(c, arg, rc);
    } else {
      if (st.type == DFS_TYPE_DIR && !o.dir_only) {
        ret |= ls_dir(c, p, arg, &o);
      } else {
        struct cli_ls_widths w;
        cli_ls_widths(&st, 1, o.human, &w);
        cli_ls_line(stdout, &st, *arg ? arg : ".", o.human, &w, false);
      }
      dfs_stat_clear(&st);
    }
    free(p);
  }
  return ret;
}

/* ---- mkdir / rm / rmdir / mv ------------------------------------------------------------ */

/* 0 missing, 1 file, 2 directory, -1 error (printed). */
static int kind_of(struct cli *c, const char *path, const char *arg) {
  struct dfs_stat st;
  int rc = dfs_stat(c->fs, path, &st);
  if (rc == DFS_ENOENT) return 0;
  if (rc) {
    cli_errp(c, arg, rc);
    return -1;
  }
  int k = st.type == DFS_TYPE_DIR ? 2 : 1;
  dfs_stat_clear(&st);
  return k;
}

static char *parent_of(const char *p) {
  char *parent = strdup(p);
  if (!parent) return NULL;
  char *slash = strrchr(parent, '/');
  if (slash == parent) slash[1] = '\0';
  else if (slash) *slash = '\0';
  return parent;
}

int cmd_mkdir(struct cli *c, int argc, char **argv) {
  char fl[4];
  int i = opts(c, argc, argv, "p", NULL, NULL, fl, sizeof fl);
  if (i < 0 || i >= argc) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  bool parents = CLI_HAS(fl, 'p');
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    int k = kind_of(c, p, argv[i]);
    if (k < 0) {
      ret = 1;
    } else if (k == 1 || (k == 2 && !parents)) {
      ret = cli_fail(c, argv[i], k == 1 && parents ? "Is not a directory" : "File exists");
    } else if (k == 0) {
      int pk = 2;
      if (!parents) {
        char *parent = parent_of(p);
        pk = parent ? kind_of(c, parent, parent) : -1;
        free(parent);
      }
      if (pk < 0) ret = 1;
      else if (pk == 0) ret = cli_fail(c, argv[i], NO_SUCH);
      else if (pk == 1) ret = cli_fail(c, argv[i], "Is not a directory");
      else {
        int rc = dfs_mkdirs(c->fs, p, 0);
        if (rc) ret = cli_errp(c, argv[i], rc);
      }
    }
    free(p);
  }
  return ret;
}

int cmd_rm(struct cli *c, int argc, char **argv) {
  static const char *const words[] = {"-skipTrash", "-safely", NULL};
  char fl[8];
  unsigned ws;
  int i = opts(c, argc, argv, "rRf", words, &ws, fl, sizeof fl);
  if (i < 0) return CLI_USAGE;
  bool rec = CLI_HAS(fl, 'r') || CLI_HAS(fl, 'R'), force = CLI_HAS(fl, 'f');
  if (i >= argc) return force ? 0 : CLI_USAGE;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    int k = kind_of(c, p, argv[i]);
    if (k < 0) {
      ret = 1;
    } else if (k == 0) {
      if (!force) ret = cli_fail(c, argv[i], NO_SUCH);
    } else if (k == 2 && !rec) {
      ret = cli_fail(c, argv[i], "Is a directory");
    } else if (strcmp(p, "/") == 0) {
      ret = cli_fail(c, argv[i], "Input/output error: Recursive delete of the root is not allowed");
    } else {
      int rc = dfs_delete(c->fs, p, rec);
      if (rc == DFS_ENOENT && force) rc = 0; /* raced with another delete */
      else if (rc) ret = cli_errp(c, argv[i], rc);
      else printf("Deleted %s\n", argv[i]);
    }
    free(p);
  }
  return ret;
}

int cmd_rmdir(struct cli *c, int argc, char **argv) {
  static const char *const words[] = {"--ignore-fail-on-non-empty", NULL};
  char fl[4];
  unsigned ws = 0;
  int i = opts(c, argc, argv, "", words, &ws, fl, sizeof fl);
  if (i < 0 || i >= argc) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    int k = kind_of(c, p, argv[i]);
    if (k < 0) ret = 1;
    else if (k == 0) ret = cli_fail(c, argv[i], NO_SUCH);
    else if (k == 1) ret = cli_fail(c, argv[i], "Is not a directory");
    else {
      int rc = dfs_delete(c->fs, p, false);
      if (rc == DFS_ENOTEMPTY && !(ws & 1)) ret = cli_fail(c, argv[i], "Directory is not empty");
      else if (rc && rc != DFS_ENOTEMPTY) ret = cli_errp(c, argv[i], rc);
    }
    free(p);
  }
  return ret;
}

int cmd_mv(struct cli *c, int argc, char **argv) {
  char fl[4];
  int i = opts(c, argc, argv, "", NULL, NULL, fl, sizeof fl);
  if (i < 0 || argc - i < 2) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  const char *dst_arg = argv[argc - 1];
  char *dst = cli_abs(c, dst_arg);
  int dk = kind_of(c, dst, dst_arg);
  int ret = 0;
  if (dk < 0) {
    ret = 1;
  } else if (argc - i > 2 && dk != 2) {
    ret = cli_fail(c, dst_arg, dk ? "Is not a directory" : NO_SUCH);
  } else {
    for (; i < argc - 1; i++) {
      char *src = cli_abs(c, argv[i]);
      char *target = dk == 2 ? cli_join(dst, cli_base(src)) : strdup(dst);
      int sk = kind_of(c, src, argv[i]);
      int tk = sk > 0 && target ? kind_of(c, target, target) : 0;
      if (sk < 0 || tk < 0) ret = 1;
      else if (!target) ret = cli_fail(c, argv[i], "out of memory");
      else if (sk == 0) ret = cli_fail(c, argv[i], NO_SUCH);
      else if (strcmp(src, target) == 0) ret = cli_fail(c, argv[i], "Source and destination are the same");
      else if (tk) ret = cli_fail(c, dk == 2 ? target : dst_arg, "File exists");
      else {
        int rc = dfs_rename(c->fs, src, target, false);
        if (rc) ret = cli_errp(c, rc == DFS_ENOENT ? dst_arg : argv[i], rc);
      }
      free(src);
      free(target);
    }
  }
  free(dst);
  return ret;
}

/* ---- stat / du / count ------------------------------------------------------------------- */

int cmd_stat(struct cli *c, int argc, char **argv) {
  int i = 1;
  const char *fmt = "%y";
  if (i < argc && strchr(argv[i], '%')) fmt = argv[i++];
  if (i >= argc) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      ret = rc == DFS_ENOENT ? cli_fail(c, argv[i], NO_SUCH) : cli_errp(c, argv[i], rc);
    } else {
      cli_format_stat(stdout, fmt, &st, p);
      dfs_stat_clear(&st);
    }
    free(p);
  }
  return ret;
}

struct row {
  char a[32], b[32];
  char *path;
};

/* Print rows as Hadoop's TableBuilder: columns left-aligned, two spaces. */
static void print_rows(struct row *r, size_t n) {
  int wa = 0, wb = 0;
  for (size_t i = 0; i < n; i++) {
    if ((int)strlen(r[i].a) > wa) wa = (int)strlen(r[i].a);
    if ((int)strlen(r[i].b) > wb) wb = (int)strlen(r[i].b);
  }
  for (size_t i = 0; i < n; i++) printf("%-*s  %-*s  %s\n", wa, r[i].a, wb, r[i].b, r[i].path);
}

int cmd_du(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = opts(c, argc, argv, "shvx", NULL, NULL, fl, sizeof fl);
  if (i < 0) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  bool human = CLI_HAS(fl, 'h'), summary = CLI_HAS(fl, 's');
  int ret = 0, nargs = argc - i;
  struct row *rows = NULL;
  size_t nrows = 0, cap = 0;
  for (int k = 0; k < (nargs ? nargs : 1); k++) {
    const char *arg = nargs ? argv[i + k] : "";
    char *p = cli_abs(c, *arg ? arg : ".");
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      ret = rc == DFS_ENOENT ? cli_fail(c, *arg ? arg : ".", NO_SUCH) : cli_errp(c, arg, rc);
      free(p);
      continue;
    }
    bool dir = st.type == DFS_TYPE_DIR;
    dfs_stat_clear(&st);
    struct dfs_stat *e = NULL;
    size_t n = 1;
    if (dir && !summary && (rc = dfs_list(c->fs, p, &e, &n)) != 0) {
      ret = cli_errp(c, *arg ? arg : p, rc);
      free(p);
      continue;
    }
    for (size_t j = 0; j < n; j++) {
      char *full = e ? cli_join(p, e[j].name) : strdup(p);
      char *disp = e ? display_child(arg, e[j].name) : strdup(*arg ? arg : ".");
      struct dfs_content_summary cs;
      if (!full || !disp) {
        ret = cli_fail(c, p, "out of memory");
      } else if ((rc = dfs_content_summary(c->fs, full, &cs)) != 0) {
        ret = cli_errp(c, disp, rc);
      } else {
        if (nrows == cap) {
          cap = cap ? cap * 2 : 16;
          struct row *nr = realloc(rows, cap * sizeof *rows);
          if (!nr) {
            ret = cli_fail(c, p, "out of memory");
            free(full);
            free(disp);
            break;
          }
          rows = nr;
        }
        cli_fmt_size(cs.length, human, rows[nrows].a, sizeof rows[nrows].a);
        cli_fmt_size(cs.space_consumed, human, rows[nrows].b, sizeof rows[nrows].b);
        rows[nrows++].path = disp;
        disp = NULL;
      }
      free(full);
      free(disp);
    }
    dfs_stats_free(e, e ? n : 0);
    free(p);
  }
  print_rows(rows, nrows);
  for (size_t j = 0; j < nrows; j++) free(rows[j].path);
  free(rows);
  return ret;
}

int cmd_count(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = opts(c, argc, argv, "hqv", NULL, NULL, fl, sizeof fl);
  if (i < 0) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  if (CLI_HAS(fl, 'v'))
    printf("%12s %12s %18s %s\n", "DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE", "PATHNAME");
  int ret = 0, nargs = argc - i;
  for (int k = 0; k < (nargs ? nargs : 1); k++) {
    const char *arg = nargs ? argv[i + k] : ".";
    char *p = cli_abs(c, arg);
    struct dfs_content_summary cs;
    int rc = dfs_content_summary(c->fs, p, &cs);
    if (rc) {
      ret = rc == DFS_ENOENT ? cli_fail(c, arg, NO_SUCH) : cli_errp(c, arg, rc);
    } else {
      char a[32];
      cli_fmt_size(cs.length, CLI_HAS(fl, 'h'), a, sizeof a);
      printf("%12llu %12llu %18s %s\n", (unsigned long long)cs.directory_count,
             (unsigned long long)cs.file_count, a, arg);
    }
    free(p);
  }
  return ret;
}

/* ---- setrep / chmod / chown / chgrp ------------------------------------------------------- */

typedef int (*apply_fn)(struct cli *c, const char *path, const char *shown,
                        const struct dfs_stat *st, void *arg);

/* Apply fn to path, and below it when rec. */
static int walk_stat(struct cli *c, const char *path, const char *shown, const struct dfs_stat *st,
                     bool rec, apply_fn fn, void *arg) {
  int ret = fn(c, path, shown, st, arg);
  if (!rec || st->type != DFS_TYPE_DIR) return ret;
  struct dfs_stat *e;
  size_t n;
  int rc = dfs_list(c->fs, path, &e, &n);
  if (rc) return cli_errp(c, shown, rc);
  for (size_t i = 0; i < n; i++) {
    char *child = cli_join(path, e[i].name), *disp = cli_join(shown, e[i].name);
    if (child && disp) ret |= walk_stat(c, child, disp, &e[i], rec, fn, arg);
    else ret = cli_fail(c, shown, "out of memory");
    free(child);
    free(disp);
  }
  dfs_stats_free(e, n);
  return ret;
}

static int walk(struct cli *c, const char *arg, bool rec, apply_fn fn, void *fnarg) {
  char *p = cli_abs(c, arg);
  struct dfs_stat st;
  int rc = dfs_stat(c->fs, p, &st);
  int ret;
  if (rc) {
    ret = rc == DFS_ENOENT ? cli_fail(c, arg, NO_SUCH) : cli_errp(c, arg, rc);
  } else {
    ret = walk_stat(c, p, arg, &st, rec, fn, fnarg);
    dfs_stat_clear(&st);
  }
  free(p);
  return ret;
}

struct setrep_arg {
  int rep;
  bool wait;
  char **files; /* files to wait for (absolute paths) */
  size_t n, cap;
};

static int do_setrep(struct cli *c, const char *path, const char *shown, const struct dfs_stat *st,
                     void *arg) {
  struct setrep_arg *a = arg;
  if (st->type == DFS_TYPE_DIR) return 0;
  int rc = dfs_set_replication(c->fs, path, a->rep);
  if (rc) return cli_errp(c, shown, rc);
  printf("Replication %d set: %s\n", a->rep, shown);
  if (a->wait) {
    if (a->n == a->cap) {
      size_t nc = a->cap ? a->cap * 2 : 16;
      char **nf = realloc(a->files, nc * sizeof *nf);
      if (!nf) return cli_fail(c, shown, "out of memory");
      a->files = nf;
      a->cap = nc;
    }
    if ((a->files[a->n] = strdup(path)) != NULL) a->n++;
  }
  return 0;
}

/* setrep -w: poll each file's blocks until every one has exactly rep
 * replicas, printing dots as hdfs does. No deadline, as hdfs. */
static int setrep_wait(struct cli *c, struct setrep_arg *a) {
  int ret = 0;
  for (size_t i = 0; i < a->n; i++) {
    printf("Waiting for %s ...", a->files[i]);
    fflush(stdout);
    for (;;) {
      struct dfs_block_loc *b;
      size_t n;
      int rc = dfs_block_locations(c->fs, a->files[i], 0, 0, &b, &n);
      if (rc) {
        printf("\n");
        ret = cli_errp(c, a->files[i], rc);
        break;
      }
      bool done = true;
      for (size_t j = 0; j < n; j++)
        if ((int)b[j].n_replicas != a->rep) done = false;
      dfs_block_locs_free(b, n);
      if (done) {
        printf(" done\n");
        break;
      }
      printf(".");
      fflush(stdout);
      usleep(1000 * 1000);
    }
  }
  return ret;
}

int cmd_setrep(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = opts(c, argc, argv, "wR", NULL, NULL, fl, sizeof fl);
  if (i < 0 || argc - i < 2) return CLI_USAGE;
  long rep = cli_parse_long(argv[i], 1, 32767);
  if (rep < 1) {
    fprintf(stderr, "setrep: Illegal replication, a positive integer expected\n");
    return CLI_USAGE;
  }
  if (!cli_fs(c)) return 1;
  struct setrep_arg a = {(int)rep, CLI_HAS(fl, 'w'), NULL, 0, 0};
  int ret = 0;
  for (i++; i < argc; i++) ret |= walk(c, argv[i], true, do_setrep, &a);
  if (a.wait) ret |= setrep_wait(c, &a);
  for (size_t k = 0; k < a.n; k++) free(a.files[k]);
  free(a.files);
  return ret;
}

static int do_chmod(struct cli *c, const char *path, const char *shown, const struct dfs_stat *st,
                    void *arg) {
  int mode = cli_parse_mode((const char *)arg, st->permission, st->type == DFS_TYPE_DIR);
  if (mode < 0) return cli_fail(c, shown, "invalid mode");
  int rc = dfs_chmod(c->fs, path, (uint16_t)mode);
  return rc ? cli_errp(c, shown, rc) : 0;
}

int cmd_chmod(struct cli *c, int argc, char **argv) {
  char fl[4];
  int i = opts(c, argc, argv, "R", NULL, NULL, fl, sizeof fl);
  if (i < 0 || argc - i < 2) return CLI_USAGE;
  const char *mode = argv[i];
  if (cli_parse_mode(mode, 0, false) < 0) {
    fprintf(stderr, "chmod: chmod : mode '%s' does not match the expected pattern.\n", mode);
    return CLI_USAGE;
  }
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (i++; i < argc; i++) ret |= walk(c, argv[i], CLI_HAS(fl, 'R'), do_chmod, (void *)mode);
  return ret;
}

struct owner_arg {
  char owner[256], group[256];
};

static int do_chown(struct cli *c, const char *path, const char *shown, const struct dfs_stat *st,
                    void *arg) {
  struct owner_arg *o = arg;
  (void)st;
  int rc = dfs_chown(c->fs, path, o->owner[0] ? o->owner : NULL, o->group[0] ? o->group : NULL);
  return rc ? cli_errp(c, shown, rc) : 0;
}

int cmd_chown(struct cli *c, int argc, char **argv) {
  char fl[4];
  int i = opts(c, argc, argv, "R", NULL, NULL, fl, sizeof fl);
  if (i < 0 || argc - i < 2) return CLI_USAGE;
  struct owner_arg o;
  if (cli_parse_owner(argv[i], o.owner, sizeof o.owner, o.group, sizeof o.group) != 0) {
    fprintf(stderr, "chown: '%s' does not match expected pattern for [owner][:group].\n",
            argv[i]);
    return CLI_USAGE;
  }
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (i++; i < argc; i++) ret |= walk(c, argv[i], CLI_HAS(fl, 'R'), do_chown, &o);
  return ret;
}

int cmd_chgrp(struct cli *c, int argc, char **argv) {
  char fl[4];
  int i = opts(c, argc, argv, "R", NULL, NULL, fl, sizeof fl);
  if (i < 0 || argc - i < 2) return CLI_USAGE;
  struct owner_arg o = {{0}, {0}};
  char spec[260];
  snprintf(spec, sizeof spec, ":%s", argv[i]);
  if (!argv[i][0] ||
      cli_parse_owner(spec, o.owner, sizeof o.owner, o.group, sizeof o.group) != 0) {
    fprintf(stderr, "chgrp: '%s' does not match expected pattern for group.\n", argv[i]);
    return CLI_USAGE;
  }
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (i++; i < argc; i++) ret |= walk(c, argv[i], CLI_HAS(fl, 'R'), do_chown, &o);
  return ret;
}

/* ---- test / touchz ------------------------------------------------------------------------- */

int cmd_test(struct cli *c, int argc, char **argv) {
  if (argc != 3 || argv[1][0] != '-' || strlen(argv[1]) != 2 || !strchr("edfsz", argv[1][1]))
    return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  char *p = cli_abs(c, argv[2]);
  struct dfs_stat st;
  int rc = dfs_stat(c->fs, p, &st);
  free(p);
  if (rc == DFS_ENOENT) return 1;
  if (rc) return cli_errp(c, argv[2], rc);
  bool ok = false;
  switch (argv[1][1]) {
  case 'e': ok = true; break;
  case 'd': ok = st.type == DFS_TYPE_DIR; break;
  case 'f': ok = st.type == DFS_TYPE_FILE; break;
  case 's': ok = st.length > 0; break;
  case 'z': ok = st.length == 0; break;
  }
  dfs_stat_clear(&st);
  return ok ? 0 : 1;
}

int cmd_touchz(struct cli *c, int argc, char **argv) {
  if (argc < 2) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (int i = 1; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc == 0) {
      if (st.type == DFS_TYPE_DIR) ret = cli_fail(c, argv[i], "Is a directory");
      else if (st.length != 0) ret = cli_fail(c, argv[i], "Not a zero length file");
      else if ((rc = dfs_set_times(c->fs, p, dfs_now_ms(), -1)) != 0)
        ret = cli_errp(c, argv[i], rc);
      dfs_stat_clear(&st);
    } else if (rc != DFS_ENOENT) {
      ret = cli_errp(c, argv[i], rc);
    } else {
      struct dfs_create_opts o = {.no_create_parent = true};
      dfs_file *f;
      rc = dfs_create(c->fs, p, &o, &f);
      if (rc) ret = cli_errp(c, argv[i], rc);
      else if ((rc = dfs_close(f)) != 0) ret = cli_errp(c, argv[i], rc);
    }
    free(p);
  }
  return ret;
}
