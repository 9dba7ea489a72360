/*
 * cmd_fs.c - the file subcommands of `dfs` (put, get, cat, ls, mkdir, rm,
 * mv, stat, du, setrep, chmod, chown, test, touchz, count), with the flags
 * and messages of `hdfs dfs`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"

#define COPY_BUF (4u << 20)

/* Parse leading flags (letters in `allowed`) into `set`; returns the index
 * of the first operand, or -1 on an unknown flag. */
static int flags(int argc, char **argv, const char *allowed, char *set, size_t setcap) {
  size_t n = 0;
  set[0] = '\0';
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') break;
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    for (const char *p = a + 1; *p; p++) {
      if (!strchr(allowed, *p)) {
        fprintf(stderr, "-%c: unknown option\n", *p);
        return -1;
      }
      if (n + 1 < setcap) set[n++] = *p, set[n] = '\0';
    }
  }
  return i;
}
#define HAS(set, ch) (strchr((set), (ch)) != NULL)

static bool is_dir(dfs_fs *fs, const char *p) {
  struct dfs_stat st;
  if (dfs_stat(fs, p, &st) != 0) return false;
  bool d = st.type == DFS_TYPE_DIR;
  dfs_stat_clear(&st);
  return d;
}

static char *join(const char *dir, const char *name) {
  char *out;
  size_t dl = strlen(dir);
  if (asprintf(&out, "%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/", name) < 0) return NULL;
  return out;
}

static const char *base(const char *p) {
  size_t l = strlen(p);
  while (l > 1 && p[l - 1] == '/') l--;
  const char *s = p + l;
  while (s > p && s[-1] != '/') s--;
  return s;
}

/* ---- put ------------------------------------------------------------------ */

static int put_one(struct cli *c, const char *local, const char *dst, bool overwrite, bool keep) {
  dfs_fs *fs = c->fs;
  int fd = strcmp(local, "-") == 0 ? 0 : open(local, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "%s: %s: %s\n", c->cmd, local, strerror(errno));
    return 1;
  }
  struct stat st = {0};
  fstat(fd, &st);
  if (S_ISDIR(st.st_mode)) {
    fprintf(stderr, "%s: %s: Is a directory (directories are not copied)\n", c->cmd, local);
    if (fd) close(fd);
    return 1;
  }
  struct dfs_create_opts o = {.overwrite = overwrite};
  if (keep) o.permission = st.st_mode & 0777;
  dfs_file *f;
  int rc = dfs_create(fs, dst, &o, &f);
  if (rc) {
    if (fd) close(fd);
    return cli_errp(c, dst, rc);
  }
  uint8_t *buf = malloc(COPY_BUF);
  struct progress pr;
  progress_start(&pr, base(dst), S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
  uint64_t done = 0;
  int ret = 0;
  for (;;) {
    ssize_t n = read(fd, buf, COPY_BUF);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fprintf(stderr, "%s: %s: %s\n", c->cmd, local, strerror(errno));
      ret = 1;
      break;
    }
    if (n == 0) break;
    if (dfs_write(f, buf, (size_t)n) < 0) {
      ret = cli_err(c, 0);
      break;
    }
    done += (uint64_t)n;
    progress_update(&pr, done);
  }
  free(buf);
  if (fd) close(fd);
  rc = dfs_close(f);
  progress_end(&pr);
  if (rc && !ret) ret = cli_err(c, rc);
  if (ret) {
    dfs_delete(fs, dst, false); /* no half-copied file under the name */
    return ret;
  }
  if (keep && fd != 0) dfs_set_times(fs, dst, (int64_t)st.st_mtime * 1000, (int64_t)st.st_atime * 1000);
  return 0;
}

int cmd_put(struct cli *c, int argc, char **argv) {
  char fl[16];
  int i = flags(argc, argv, "fpdl", fl, sizeof fl);
  if (i < 0 || argc - i < 1) return -1;
  if (!cli_fs(c)) return 1;
  int nsrc = argc - i - 1;
  char *dst = cli_abs(c, argc - i == 1 ? "." : argv[argc - 1]);
  if (nsrc == 0) nsrc = 1; /* "put file" puts into the home directory */
  bool dst_dir = is_dir(c->fs, dst);
  if (nsrc > 1 && !dst_dir) {
    fprintf(stderr, "%s: %s: Is not a directory\n", c->cmd, dst);
    free(dst);
    return 1;
  }
  int ret = 0;
  for (int k = 0; k < nsrc; k++) {
    const char *src = argv[i + k];
    char *target = dst_dir ? join(dst, strcmp(src, "-") == 0 ? "stdin" : base(src)) : strdup(dst);
    ret |= put_one(c, src, target, HAS(fl, 'f'), HAS(fl, 'p'));
    free(target);
  }
  free(dst);
  return ret;
}

/* ---- get / cat ---------------------------------------------------------------- */

static int copy_out(struct cli *c, const char *src, int fd, const char *label) {
  dfs_file *f;
  int rc = dfs_open(c->fs, src, &f);
  if (rc) return cli_errp(c, src, rc);
  uint8_t *buf = malloc(COPY_BUF);
  struct progress pr;
  progress_start(&pr, label, (uint64_t)dfs_file_length(f));
  uint64_t done = 0;
  int ret = 0;
  for (;;) {
    ssize_t n = dfs_read(f, buf, COPY_BUF);
    if (n < 0) {
      ret = cli_err(c, (int)n);
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        fprintf(stderr, "%s: write: %s\n", c->cmd, strerror(errno));
        ret = 1;
        break;
      }
      off += w;
    }
    if (ret) break;
    done += (uint64_t)n;
    if (label) progress_update(&pr, done);
  }
  if (label) progress_end(&pr);
  free(buf);
  dfs_close(f);
  return ret;
}

int cmd_get(struct cli *c, int argc, char **argv) {
  char fl[16];
  int i = flags(argc, argv, "fpc", fl, sizeof fl);
  if (i < 0 || argc - i < 1) return -1;
  if (!cli_fs(c)) return 1;
  int nsrc = argc - i - 1;
  const char *ldst = nsrc ? argv[argc - 1] : ".";
  if (nsrc == 0) nsrc = 1;
  struct stat lst;
  bool ldir = stat(ldst, &lst) == 0 && S_ISDIR(lst.st_mode);
  if (nsrc > 1 && !ldir) {
    fprintf(stderr, "%s: %s: Is not a directory\n", c->cmd, ldst);
    return 1;
  }
  int ret = 0;
  for (int k = 0; k < nsrc; k++) {
    char *src = cli_abs(c, argv[i + k]);
    char *target = ldir ? join(ldst, base(src)) : strdup(ldst);
    if (!HAS(fl, 'f') && access(target, F_OK) == 0) {
      fprintf(stderr, "%s: %s: File exists\n", c->cmd, target);
      ret = 1;
    } else {
      char tmp[4096];
      snprintf(tmp, sizeof tmp, "%s._COPYING_", target);
      int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", c->cmd, tmp, strerror(errno));
        ret = 1;
      } else {
        int r = copy_out(c, src, fd, base(src));
        if (close(fd) != 0 && !r) {
          fprintf(stderr, "%s: %s: %s\n", c->cmd, tmp, strerror(errno));
          r = 1;
        }
        if (r == 0 && rename(tmp, target) != 0) {
          fprintf(stderr, "%s: %s: %s\n", c->cmd, target, strerror(errno));
          r = 1;
        }
        if (r) unlink(tmp);
        ret |= r;
      }
    }
    free(src);
    free(target);
  }
  return ret;
}

int cmd_cat(struct cli *c, int argc, char **argv) {
  if (argc < 2) return -1;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (int i = 1; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    ret |= copy_out(c, p, 1, NULL);
    free(p);
  }
  return ret;
}

/* ---- ls -------------------------------------------------------------------------- */

static void ls_line(const struct dfs_stat *s, const char *path, bool human) {
  char perm[11], size[32], when[32];
  cli_fmt_perm(s->permission, s->type == DFS_TYPE_DIR, perm);
  cli_fmt_size(s->length, human, size, sizeof size);
  cli_fmt_time(s->mtime_ms, when, sizeof when);
  char rep[16];
  if (s->type == DFS_TYPE_DIR) snprintf(rep, sizeof rep, "-");
  else snprintf(rep, sizeof rep, "%d", s->replication);
  printf("%s %3s %s %s %10s %s %s\n", perm, rep, s->owner, s->group, size, when, path);
}

static int ls_dir(struct cli *c, const char *path, bool rec, bool human, bool header) {
  struct dfs_stat *e;
  size_t n;
  int rc = dfs_list(c->fs, path, &e, &n);
  if (rc) return cli_errp(c, path, rc);
  if (header) printf("Found %zu items\n", n);
  int ret = 0;
  for (size_t i = 0; i < n; i++) {
    char *full = join(path, e[i].name);
    ls_line(&e[i], full, human);
    if (rec && e[i].type == DFS_TYPE_DIR) ret |= ls_dir(c, full, rec, human, false);
    free(full);
  }
  dfs_stats_free(e, n);
  return ret;
}

int cmd_ls(struct cli *c, int argc, char **argv) {
  char fl[16];
  int i = flags(argc, argv, "Rhdt", fl, sizeof fl);
  if (i < 0) return -1;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  int nargs = argc - i;
  for (int k = 0; k < (nargs ? nargs : 1); k++) {
    char *p = cli_abs(c, nargs ? argv[i + k] : ".");
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      fprintf(stderr, "ls: `%s': No such file or directory\n", nargs ? argv[i + k] : p);
      ret = 1;
    } else if (st.type == DFS_TYPE_DIR && !HAS(fl, 'd')) {
      ret |= ls_dir(c, p, HAS(fl, 'R'), HAS(fl, 'h'), !HAS(fl, 'R'));
    } else {
      ls_line(&st, p, HAS(fl, 'h'));
    }
    if (rc == 0) dfs_stat_clear(&st);
    free(p);
  }
  return ret;
}

/* ---- mkdir / rm / rmdir / mv ------------------------------------------------------- */

int cmd_mkdir(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "p", fl, sizeof fl);
  if (i < 0 || i >= argc) return -1;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_stat st;
    if (dfs_stat(c->fs, p, &st) == 0) {
      bool dir = st.type == DFS_TYPE_DIR;
      dfs_stat_clear(&st);
      if (!HAS(fl, 'p') || !dir) {
        fprintf(stderr, "mkdir: `%s': File exists\n", p);
        ret = 1;
      }
    } else {
      if (!HAS(fl, 'p')) {
        char *parent = strdup(p);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) *slash = '\0';
        else if (slash) slash[1] = '\0';
        if (!is_dir(c->fs, parent)) {
          fprintf(stderr, "mkdir: `%s': No such file or directory\n", parent);
          ret = 1;
          free(parent);
          free(p);
          continue;
        }
        free(parent);
      }
      int rc = dfs_mkdirs(c->fs, p, 0755);
      if (rc) ret |= cli_errp(c, p, rc);
    }
    free(p);
  }
  return ret;
}

int cmd_rm(struct cli *c, int argc, char **argv) {
  char fl[16];
  int i = flags(argc, argv, "rRf", fl, sizeof fl);
  if (i < 0 || i >= argc) return -1;
  if (!cli_fs(c)) return 1;
  bool rec = HAS(fl, 'r') || HAS(fl, 'R');
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      if (!HAS(fl, 'f')) {
        fprintf(stderr, "rm: `%s': No such file or directory\n", argv[i]);
        ret = 1;
      }
    } else {
      bool dir = st.type == DFS_TYPE_DIR;
      dfs_stat_clear(&st);
      if (dir && !rec) {
        fprintf(stderr, "rm: `%s': Is a directory\n", argv[i]);
        ret = 1;
      } else if ((rc = dfs_delete(c->fs, p, rec)) != 0) {
        ret |= cli_errp(c, p, rc);
      } else {
        printf("Deleted %s\n", argv[i]);
      }
    }
    free(p);
  }
  return ret;
}

int cmd_rmdir(struct cli *c, int argc, char **argv) {
  if (argc < 2) return -1;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (int i = 1; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    if (!is_dir(c->fs, p)) {
      fprintf(stderr, "rmdir: `%s': Is not a directory\n", argv[i]);
      ret = 1;
    } else {
      int rc = dfs_delete(c->fs, p, false);
      if (rc == DFS_ENOTEMPTY) {
        fprintf(stderr, "rmdir: `%s': Directory is not empty\n", argv[i]);
        ret = 1;
      } else if (rc) {
        ret |= cli_errp(c, p, rc);
      }
    }
    free(p);
  }
  return ret;
}

int cmd_mv(struct cli *c, int argc, char **argv) {
  if (argc < 3) return -1;
  if (!cli_fs(c)) return 1;
  char *dst = cli_abs(c, argv[argc - 1]);
  bool dir = is_dir(c->fs, dst);
  if (argc > 3 && !dir) {
    fprintf(stderr, "mv: `%s': Is not a directory\n", argv[argc - 1]);
    free(dst);
    return 1;
  }
  int ret = 0;
  for (int i = 1; i < argc - 1; i++) {
    char *src = cli_abs(c, argv[i]);
    char *target = dir ? join(dst, base(src)) : strdup(dst);
    struct dfs_stat st;
    if (dfs_stat(c->fs, target, &st) == 0) {
      dfs_stat_clear(&st);
      fprintf(stderr, "mv: `%s': File exists\n", target);
      ret = 1;
    } else {
      int rc = dfs_rename(c->fs, src, target, false);
      if (rc) ret |= cli_errp(c, src, rc);
    }
    free(src);
    free(target);
  }
  free(dst);
  return ret;
}

/* ---- stat / du / count ---------------------------------------------------------------- */

int cmd_stat(struct cli *c, int argc, char **argv) {
  if (argc < 2) return -1;
  int i = 1;
  const char *fmt = "%y";
  if (argc > 2 && strchr(argv[1], '%')) fmt = argv[i++];
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      fprintf(stderr, "stat: `%s': No such file or directory\n", argv[i]);
      ret = 1;
      free(p);
      continue;
    }
    for (const char *f = fmt; *f; f++) {
      if (*f == '\\' && f[1] == 'n') {
        putchar('\n');
        f++;
        continue;
      }
      if (*f != '%' || !f[1]) {
        putchar(*f);
        continue;
      }
      char t[64];
      switch (*++f) {
      case 'b': printf("%llu", (unsigned long long)st.length); break;
      case 'F': printf("%s", st.type == DFS_TYPE_DIR ? "directory" : (st.length ? "regular file" : "regular empty file")); break;
      case 'g': printf("%s", st.group); break;
      case 'u': printf("%s", st.owner); break;
      case 'n': printf("%s", base(p)); break;
      case 'o': printf("%llu", (unsigned long long)st.blocksize); break;
      case 'r': printf("%d", st.replication); break;
      case 'a': printf("%o", st.permission); break;
      case 'A': cli_fmt_perm(st.permission, st.type == DFS_TYPE_DIR, t); printf("%s", t); break;
      case 'y': {
        time_t tt = (time_t)(st.mtime_ms / 1000);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s", t);
        break;
      }
      case 'Y': printf("%lld", (long long)st.mtime_ms); break;
      case 'x': printf("%lld", (long long)st.atime_ms); break;
      case '%': putchar('%'); break;
      default: putchar('%'); putchar(*f); break;
      }
    }
    putchar('\n');
    dfs_stat_clear(&st);
    free(p);
  }
  return ret;
}

int cmd_du(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "sh", fl, sizeof fl);
  if (i < 0) return -1;
  if (!cli_fs(c)) return 1;
  bool human = HAS(fl, 'h');
  int ret = 0;
  int nargs = argc - i;
  for (int k = 0; k < (nargs ? nargs : 1); k++) {
    char *p = cli_abs(c, nargs ? argv[i + k] : ".");
    struct dfs_stat st;
    int rc = dfs_stat(c->fs, p, &st);
    if (rc) {
      fprintf(stderr, "du: `%s': No such file or directory\n", nargs ? argv[i + k] : p);
      ret = 1;
      free(p);
      continue;
    }
    bool dir = st.type == DFS_TYPE_DIR;
    dfs_stat_clear(&st);
    struct dfs_stat *e = NULL;
    size_t n = 1;
    char **names = NULL;
    if (dir && !HAS(fl, 's')) {
      if ((rc = dfs_list(c->fs, p, &e, &n)) != 0) {
        ret |= cli_errp(c, p, rc);
        free(p);
        continue;
      }
      names = calloc(n ? n : 1, sizeof *names);
      for (size_t j = 0; j < n; j++) names[j] = join(p, e[j].name);
    } else {
      names = calloc(1, sizeof *names);
      names[0] = strdup(p);
    }
    for (size_t j = 0; j < n; j++) {
      struct dfs_content_summary cs;
      if ((rc = dfs_content_summary(c->fs, names[j], &cs)) != 0) {
        ret |= cli_errp(c, names[j], rc);
        continue;
      }
      char a[32], b[32];
      cli_fmt_size(cs.length, human, a, sizeof a);
      cli_fmt_size(cs.space_consumed, human, b, sizeof b);
      printf("%-10s %-10s %s\n", a, b, names[j]);
    }
    for (size_t j = 0; j < n; j++) free(names[j]);
    free(names);
    dfs_stats_free(e, e ? n : 0);
    free(p);
  }
  return ret;
}

int cmd_count(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "hq", fl, sizeof fl);
  if (i < 0 || i >= argc) return -1;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_content_summary cs;
    int rc = dfs_content_summary(c->fs, p, &cs);
    if (rc) ret |= cli_errp(c, p, rc);
    else {
      char a[32];
      cli_fmt_size(cs.length, HAS(fl, 'h'), a, sizeof a);
      printf("%12llu %12llu %18s %s\n", (unsigned long long)cs.directory_count,
             (unsigned long long)cs.file_count, a, p);
    }
    free(p);
  }
  return ret;
}

/* ---- setrep / chmod / chown / chgrp ------------------------------------------------ */

typedef int (*apply_fn)(struct cli *c, const char *path, const struct dfs_stat *st, void *arg);

static int walk(struct cli *c, const char *path, bool rec, apply_fn fn, void *arg) {
  struct dfs_stat st;
  int rc = dfs_stat(c->fs, path, &st);
  if (rc) {
    fprintf(stderr, "%s: `%s': No such file or directory\n", c->cmd, path);
    return 1;
  }
  int ret = fn(c, path, &st, arg);
  if (rec && st.type == DFS_TYPE_DIR) {
    struct dfs_stat *e;
    size_t n;
    if ((rc = dfs_list(c->fs, path, &e, &n)) != 0) ret |= cli_errp(c, path, rc);
    else {
      for (size_t i = 0; i < n; i++) {
        char *child = join(path, e[i].name);
        ret |= walk(c, child, rec, fn, arg);
        free(child);
      }
      dfs_stats_free(e, n);
    }
  }
  dfs_stat_clear(&st);
  return ret;
}

static int do_setrep(struct cli *c, const char *path, const struct dfs_stat *st, void *arg) {
  if (st->type == DFS_TYPE_DIR) return 0;
  int rep = *(int *)arg;
  int rc = dfs_set_replication(c->fs, path, rep);
  if (rc) return cli_errp(c, path, rc);
  printf("Replication %d set: %s\n", rep, path);
  return 0;
}

int cmd_setrep(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "wR", fl, sizeof fl);
  if (i < 0 || argc - i < 2) return -1;
  char *end;
  long rep = strtol(argv[i], &end, 10);
  if (*end || rep < 1 || rep > 32767) {
    fprintf(stderr, "setrep: Illegal replication, a positive integer expected: %s\n", argv[i]);
    return 1;
  }
  if (!cli_fs(c)) return 1;
  int r = (int)rep, ret = 0;
  for (i++; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    ret |= walk(c, p, true, do_setrep, &r);
    free(p);
  }
  return ret;
}

static int do_chmod(struct cli *c, const char *path, const struct dfs_stat *st, void *arg) {
  int mode = cli_parse_mode((const char *)arg, st->permission, st->type == DFS_TYPE_DIR);
  if (mode < 0) {
    fprintf(stderr, "chmod: chmod : mode '%s' does not match the expected pattern.\n",
            (const char *)arg);
    return 1;
  }
  int rc = dfs_chmod(c->fs, path, (uint16_t)mode);
  return rc ? cli_errp(c, path, rc) : 0;
}

int cmd_chmod(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "R", fl, sizeof fl);
  if (i < 0 || argc - i < 2) return -1;
  const char *mode = argv[i];
  if (cli_parse_mode(mode, 0, false) < 0) {
    fprintf(stderr, "chmod: chmod : mode '%s' does not match the expected pattern.\n", mode);
    return 1;
  }
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (i++; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    ret |= walk(c, p, HAS(fl, 'R'), do_chmod, (void *)mode);
    free(p);
  }
  return ret;
}

struct owner_arg {
  const char *owner, *group;
};

static int do_chown(struct cli *c, const char *path, const struct dfs_stat *st, void *arg) {
  struct owner_arg *o = arg;
  (void)st;
  int rc = dfs_chown(c->fs, path, o->owner, o->group);
  return rc ? cli_errp(c, path, rc) : 0;
}

int cmd_chown(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "R", fl, sizeof fl);
  if (i < 0 || argc - i < 2) return -1;
  char *spec = strdup(argv[i]);
  struct owner_arg o = {NULL, NULL};
  char *colon = strchr(spec, ':');
  if (colon) {
    *colon = '\0';
    if (colon[1]) o.group = colon + 1;
  }
  if (*spec) o.owner = spec;
  if (!o.owner && !o.group) {
    fprintf(stderr, "chown: '%s' does not match expected pattern for [owner][:group].\n", argv[i]);
    free(spec);
    return 1;
  }
  if (!cli_fs(c)) {
    free(spec);
    return 1;
  }
  int ret = 0;
  for (i++; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    ret |= walk(c, p, HAS(fl, 'R'), do_chown, &o);
    free(p);
  }
  free(spec);
  return ret;
}

int cmd_chgrp(struct cli *c, int argc, char **argv) {
  char fl[8];
  int i = flags(argc, argv, "R", fl, sizeof fl);
  if (i < 0 || argc - i < 2) return -1;
  struct owner_arg o = {NULL, argv[i]};
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (i++; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    ret |= walk(c, p, HAS(fl, 'R'), do_chown, &o);
    free(p);
  }
  return ret;
}

/* ---- test / touchz ----------------------------------------------------------------------- */

int cmd_test(struct cli *c, int argc, char **argv) {
  if (argc != 3 || argv[1][0] != '-' || strlen(argv[1]) != 2 || !strchr("edfsz", argv[1][1]))
    return -1;
  if (!cli_fs(c)) return 1;
  char *p = cli_abs(c, argv[2]);
  struct dfs_stat st;
  int rc = dfs_stat(c->fs, p, &st);
  free(p);
  if (rc) return 1;
  int ok = 0;
  switch (argv[1][1]) {
  case 'e': ok = 1; break;
  case 'd': ok = st.type == DFS_TYPE_DIR; break;
  case 'f': ok = st.type == DFS_TYPE_FILE; break;
  case 's': ok = st.length > 0; break;
  case 'z': ok = st.length == 0; break;
  }
  dfs_stat_clear(&st);
  return ok ? 0 : 1;
}

int cmd_touchz(struct cli *c, int argc, char **argv) {
  if (argc < 2) return -1;
  if (!cli_fs(c)) return 1;
  int ret = 0;
  for (int i = 1; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    struct dfs_stat st;
    if (dfs_stat(c->fs, p, &st) == 0) {
      if (st.length != 0) {
        fprintf(stderr, "touchz: `%s': Not a zero-length file\n", argv[i]);
        ret = 1;
      } else {
        dfs_set_times(c->fs, p, -1, -1);
      }
      dfs_stat_clear(&st);
    } else {
      dfs_file *f;
      int rc = dfs_create(c->fs, p, NULL, &f);
      if (rc) ret |= cli_errp(c, p, rc);
      else if ((rc = dfs_close(f)) != 0) ret |= cli_err(c, rc);
    }
    free(p);
  }
  return ret;
}
