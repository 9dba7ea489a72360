/*
 * cmd_copy.c - the data-moving subcommands of `dfs`: put (copyFromLocal),
 * get (copyToLocal), cat, head, tail.
 *
 * As `hdfs dfs`, a copy goes to "<dst>._COPYING_" and is renamed to its name
 * only once complete, so a reader never sees half a file under the final
 * name and a failed copy leaves nothing behind (put -d writes directly).
 * Data moves through one CLI_COPY_BUF buffer per command: large reads and
 * writes keep the syscall and library-call count of a 1 GiB transfer in the
 * hundreds, so the network and the DataNodes set the pace, not the tool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"

#define COPYING_SUFFIX "._COPYING_"

/* Set by SIGINT/SIGTERM during put/get so that the copy loop stops and
 * removes its ._COPYING_ file instead of leaving it behind. The one mutable
 * global of the tool: a signal handler can reach nothing else. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a blocked read returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
}

/* Exit code after an interruption: 128 + signal, as a shell reports it. */
static int interrupted_rc(int ret) { return interrupted ? 128 + interrupted : ret; }

struct copy_pool;

struct copy_opts {
  bool force;    /* -f */
  bool preserve; /* -p */
  bool direct;   /* -d: no ._COPYING_ */
  uint8_t *buf;  /* CLI_COPY_BUF bytes */
  struct copy_pool *pool; /* -t N: files go to N copying threads */
  bool no_progress;      /* several copies at once: no progress bar */
};

static char *str_cat(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 1);
  if (!s) return NULL;
  memcpy(s, a, la);
  memcpy(s + la, b, lb + 1);
  return s;
}

/* Stat a DFS path: 0 missing, 1 file, 2 directory, <0 error (printed). */
static int dfs_kind(struct cli *c, const char *path, const char *arg) {
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

/* ---- copying threads (put/get -t) -------------------------------------------- */

/* put/get -t N (HDFS's -t): a small file's copy is mostly waiting - on the
 * NameNode's edit-log syncs and the pipeline's round trips - so N files
 * are copied at once. The walker (the main thread) makes the directories
 * in order and queues the files; each copying thread has its own buffer
 * and shares the connection (dfs_fs is thread-safe). A directory's times
 * and permission (get -p) are set once every file is in (pool_finish). */
struct copy_job {
  char *src, *target;
  struct copy_job *next;
};

struct dir_times { /* get -p: applied in the order queued (children first) */
  char *path;
  struct dfs_stat st;
  struct dir_times *next;
};

/* Copies one file: put_path or get_one, with o->pool NULL. */
typedef int (*copy_fn)(struct cli *c, const char *src, const char *target, struct copy_opts *o);

struct copy_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct copy_job *head, *tail;
  size_t queued, cap; /* the walker waits while cap jobs are queued */
  bool closed;
  int ret;            /* OR of the copies' results */
  struct cli *c;
  copy_fn copy;
  struct copy_opts o; /* what every copy uses (pool NULL, own buffer) */
  struct dir_times *dirs, **dirs_tail;
  pthread_t *threads;
  int nthreads;
};

static void *copy_worker(void *arg) {
  struct copy_pool *p = arg;
  struct copy_opts o = p->o;
  o.buf = malloc(CLI_COPY_BUF);
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->closed) pthread_cond_wait(&p->cv, &p->mu);
    struct copy_job *j = p->head;
    if (j) {
      p->head = j->next;
      if (!p->head) p->tail = NULL;
      p->queued--;
      pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!j) break;
    int r = o.buf ? p->copy(p->c, j->src, j->target, &o) : cli_fail(p->c, j->src, "out of memory");
    pthread_mutex_lock(&p->mu);
    p->ret |= r;
    pthread_mutex_unlock(&p->mu);
    free(j->src);
    free(j->target);
    free(j);
  }
  free(o.buf);
  return NULL;
}

/* Start n copying threads; NULL (error printed) if none could start. */
static struct copy_pool *pool_start(struct cli *c, const struct copy_opts *o, int n,
                                    copy_fn copy) {
  struct copy_pool *p = calloc(1, sizeof *p);
  if (!p || !(p->threads = calloc((size_t)n, sizeof *p->threads))) {
    free(p);
    cli_fail(c, "-t", "out of memory");
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->c = c;
  p->copy = copy;
  p->dirs_tail = &p->dirs;
  p->o = *o;
  p->o.pool = NULL;
  p->o.buf = NULL;
  p->o.no_progress = true;
  p->cap = 4 * (size_t)n;
  for (int i = 0; i < n; i++) {
    if (pthread_create(&p->threads[i], NULL, copy_worker, p) != 0) break;
    p->nthreads++;
  }
  if (p->nthreads == 0) {
    cli_fail(c, "-t", "cannot start threads");
    free(p->threads);
    free(p);
    return NULL;
  }
  return p;
}

/* Queue one file; waits while the queue is full. Returns 0 or 1. */
static int pool_put(struct copy_pool *p, const char *src, const char *target) {
  struct copy_job *j = calloc(1, sizeof *j);
  if (!j || !(j->src = strdup(src)) || !(j->target = strdup(target))) {
    if (j) free(j->src);
    free(j);
    return cli_fail(p->c, src, "out of memory");
  }
  pthread_mutex_lock(&p->mu);
  while (p->queued >= p->cap) pthread_cond_wait(&p->cv, &p->mu);
  if (p->tail) p->tail->next = j;
  else p->head = j;
  p->tail = j;
  p->queued++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

static void preserve_local(const char *target, const struct dfs_stat *st);

/* Let the threads finish what is queued, then set the directories' times;
 * returns the copies' result. */
static int pool_finish(struct copy_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->closed = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  while (p->dirs) {
    struct dir_times *d = p->dirs;
    p->dirs = d->next;
    preserve_local(d->path, &d->st);
    free(d->path);
    free(d);
  }
  int ret = p->ret;
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
  return ret;
}

/* Take "-t N" / "-tN" (thread count) out of the options in argv[1..];
 * returns N (1 when absent), or -1 for a bad count (message printed). */
static int take_threads(struct cli *c, int *argc, char **argv) {
  int n = 1, out = 1;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i], *v = NULL;
    bool opt = a[0] == '-' && a[1] != '\0' && strcmp(a, "--") != 0;
    if (opt && strcmp(a, "-t") == 0 && i + 1 < *argc) v = argv[++i];
    else if (opt && strncmp(a, "-t", 2) == 0 && a[2] >= '0' && a[2] <= '9') v = a + 2;
    if (v) {
      char *end;
      long t = strtol(v, &end, 10);
      if (*end || t < 1 || t > 256) {
        fprintf(stderr, "%s: -t %s: the thread count must be 1 to 256\n", c->cmd, v);
        return -1;
      }
      n = (int)t;
      continue;
    }
    argv[out++] = argv[i];
    if (!opt) { /* operands from here on, kept as they are */
      for (i++; i < *argc; i++) argv[out++] = argv[i];
      break;
    }
  }
  *argc = out;
  return n;
}

/* ---- put -------------------------------------------------------------------- */

/* Write all of fd into the open DFS file. Returns 0 or 1 (error printed). */
static int pump_to_dfs(struct cli *c, int fd, const char *local, dfs_file *f,
                       struct copy_opts *o, uint64_t total, const char *label) {
  struct progress pr;
  progress_start(&pr, label, total);
  if (o->no_progress) pr.on = false;
  uint64_t done = 0;
  int ret = 0;
  for (;;) {
    if (interrupted) {
      ret = cli_fail(c, local, "Interrupted");
      break;
    }
    ssize_t n = read(fd, o->buf, CLI_COPY_BUF);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ret = cli_fail(c, local, strerror(errno));
      break;
    }
    if (n == 0) break;
    ssize_t w = dfs_write(f, o->buf, (size_t)n);
    if (w < 0) {
      ret = cli_errp(c, local, (int)w);
      break;
    }
    done += (uint64_t)n;
    progress_update(&pr, done);
  }
  progress_end(&pr);
  return ret;
}

static int put_path(struct cli *c, const char *local, const char *target, struct copy_opts *o);

static int put_dir(struct cli *c, const char *local, const char *target, const struct stat *lst,
                   struct copy_opts *o) {
  int kind = dfs_kind(c, target, target);
  if (kind < 0) return 1;
  if (kind == 1) return cli_fail(c, target, "File exists");
  if (kind == 0) {
    int rc = dfs_mkdirs(c->fs, target, o->preserve ? (uint16_t)(lst->st_mode & 01777) : 0);
    if (rc) return cli_errp(c, target, rc);
  }
  DIR *d = opendir(local);
  if (!d) return cli_fail(c, local, strerror(errno));
  int ret = 0;
  struct dirent *e;
  while (!interrupted && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *l = cli_join(local, e->d_name), *t = cli_join(target, e->d_name);
    if (l && t) ret |= put_path(c, l, t, o);
    else ret = cli_fail(c, local, "out of memory");
    free(l);
    free(t);
  }
  closedir(d);
  return ret;
}

static int put_file(struct cli *c, const char *local, int fd, const struct stat *lst,
                    const char *target, struct copy_opts *o) {
  int kind = dfs_kind(c, target, target);
  if (kind < 0) return 1;
  if (kind == 2) return cli_fail(c, target, o->force ? "Is a directory" : "File exists");
  if (kind == 1 && !o->force) return cli_fail(c, target, "File exists");
  char *tmp = o->direct ? strdup(target) : str_cat(target, COPYING_SUFFIX);
  if (!tmp) return cli_fail(c, target, "out of memory");
  struct dfs_create_opts co = {.overwrite = o->direct ? o->force : true,
                               .no_create_parent = true};
  if (o->preserve && fd != STDIN_FILENO) co.permission = (uint16_t)(lst->st_mode & 01777);
  dfs_file *f = NULL;
  int ret = 0;
  int rc = dfs_create(c->fs, tmp, &co, &f);
  if (rc) {
    ret = cli_errp(c, target, rc);
    goto out;
  }
  ret = pump_to_dfs(c, fd, local, f, o, S_ISREG(lst->st_mode) ? (uint64_t)lst->st_size : 0,
                    cli_base(target));
  rc = dfs_close(f);
  if (rc && !ret) ret = cli_errp(c, target, rc);
  if (!ret && !o->direct && (rc = dfs_rename(c->fs, tmp, target, o->force)) != 0)
    ret = cli_errp(c, target, rc);
  if (ret) {
    dfs_delete(c->fs, tmp, false); /* nothing half-copied stays behind */
    goto out;
  }
  if (o->preserve && fd != STDIN_FILENO &&
      (rc = dfs_set_times(c->fs, target, (int64_t)lst->st_mtim.tv_sec * 1000 +
                                             lst->st_mtim.tv_nsec / 1000000,
                          (int64_t)lst->st_atim.tv_sec * 1000 + lst->st_atim.tv_nsec / 1000000)) != 0)
    ret = cli_errp(c, target, rc);
out:
  free(tmp);
  return ret;
}

static int put_path(struct cli *c, const char *local, const char *target, struct copy_opts *o) {
  bool is_stdin = strcmp(local, "-") == 0;
  struct stat pst;
  if (o->pool && !is_stdin && stat(local, &pst) == 0 && !S_ISDIR(pst.st_mode))
    return pool_put(o->pool, local, target);
  int fd = is_stdin ? STDIN_FILENO : open(local, O_RDONLY);
  if (fd < 0) return cli_fail(c, local, strerror(errno));
  struct stat lst;
  if (fstat(fd, &lst) != 0) {
    int ret = cli_fail(c, local, strerror(errno));
    if (!is_stdin) close(fd);
    return ret;
  }
  int ret;
  if (S_ISDIR(lst.st_mode)) {
    close(fd);
    return put_dir(c, local, target, &lst, o);
  }
#ifdef POSIX_FADV_SEQUENTIAL
  if (!is_stdin) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  ret = put_file(c, local, fd, &lst, target, o);
  if (!is_stdin) close(fd);
  return ret;
}

int cmd_put(struct cli *c, int argc, char **argv) {
  char fl[8], bad[64];
  int threads = take_threads(c, &argc, argv);
  if (threads < 0) return CLI_USAGE;
  int i = cli_flags(argc, argv, "fpdl", NULL, NULL, fl, sizeof fl, bad, sizeof bad);
  if (i < 0) {
    fprintf(stderr, "%s: Illegal option %s\n", c->cmd, bad);
    return CLI_USAGE;
  }
  if (argc - i < 1) return CLI_USAGE;
  int nsrc = argc - i - 1;
  const char *dst_arg = nsrc ? argv[argc - 1] : ".";
  if (nsrc == 0) nsrc = 1; /* "put file": into the home directory */
  for (int k = 0; k < nsrc; k++)
    if (strcmp(argv[i + k], "-") == 0 && nsrc > 1) {
      fprintf(stderr, "%s: '-' (stdin) must be the only source\n", c->cmd);
      return CLI_USAGE;
    }
  if (!cli_fs(c)) return 1;
  catch_signals();
  struct copy_opts o = {CLI_HAS(fl, 'f'), CLI_HAS(fl, 'p'), CLI_HAS(fl, 'd'), NULL, NULL, false};
  o.buf = malloc(CLI_COPY_BUF);
  char *dst = cli_abs(c, dst_arg);
  int ret = 0;
  int kind = o.buf ? dfs_kind(c, dst, dst_arg) : -1;
  if (kind >= 0 && threads > 1 && !(o.pool = pool_start(c, &o, threads, put_path))) kind = -1;
  if (kind < 0) {
    ret = 1;
  } else if ((nsrc > 1 || (*dst_arg && dst_arg[strlen(dst_arg) - 1] == '/')) && kind != 2) {
    /* several sources, or "dst/": dst must be an existing directory */
    ret = cli_fail(c, dst_arg, kind ? "Is not a directory" : "No such file or directory");
  } else {
    for (int k = 0; k < nsrc; k++) {
      const char *src = argv[i + k];
      char *target = kind == 2 ? cli_join(dst, strcmp(src, "-") == 0 ? "stdin" : cli_base(src))
                               : strdup(dst);
      if (!target) ret = cli_fail(c, src, "out of memory");
      else ret |= put_path(c, src, target, &o);
      free(target);
      if (interrupted) break;
    }
  }
  if (o.pool) ret |= pool_finish(o.pool);
  free(dst);
  free(o.buf);
  return interrupted_rc(ret);
}

/* ---- get ---------------------------------------------------------------------- */

/* Copy DFS file src into fd. label NULL: no progress bar. Returns 0 or 1. */
static int pump_from_dfs(struct cli *c, const char *src, const char *arg, int fd, uint8_t *buf,
                         const char *label) {
  dfs_file *f;
  int rc = dfs_open(c->fs, src, &f);
  if (rc) return cli_errp(c, arg, rc);
  struct progress pr;
  progress_start(&pr, label ? label : "", label ? (uint64_t)dfs_file_length(f) : 0);
  if (!label) pr.on = false;
  uint64_t done = 0;
  int ret = 0;
  for (;;) {
    if (interrupted) {
      ret = cli_fail(c, arg, "Interrupted");
      break;
    }
    ssize_t n = dfs_read(f, buf, CLI_COPY_BUF);
    if (n < 0) {
      ret = cli_errp(c, arg, (int)n);
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        ret = cli_fail(c, arg, strerror(errno));
        break;
      }
      off += w;
    }
    if (ret) break;
    done += (uint64_t)n;
    progress_update(&pr, done);
  }
  progress_end(&pr);
  dfs_close(f);
  return ret;
}

static int get_path(struct cli *c, const char *src, const char *arg, const char *target,
                    struct copy_opts *o);

static void preserve_local(const char *target, const struct dfs_stat *st) {
  struct timespec ts[2] = {{st->atime_ms / 1000, (st->atime_ms % 1000) * 1000000},
                           {st->mtime_ms / 1000, (st->mtime_ms % 1000) * 1000000}};
  utimensat(AT_FDCWD, target, ts, 0);
  chmod(target, st->permission & 01777);
}

/* get -p -t: a directory's times, set once its files are in. */
static int defer_dir_times(struct copy_pool *p, const char *path, const struct dfs_stat *st) {
  struct dir_times *d = calloc(1, sizeof *d);
  if (!d || !(d->path = strdup(path))) {
    free(d);
    return cli_fail(p->c, path, "out of memory");
  }
  d->st.atime_ms = st->atime_ms;
  d->st.mtime_ms = st->mtime_ms;
  d->st.permission = st->permission;
  *p->dirs_tail = d; /* only the walker queues: no lock */
  p->dirs_tail = &d->next;
  return 0;
}

static int get_dir(struct cli *c, const char *src, const char *target, const struct dfs_stat *st,
                   struct copy_opts *o) {
  struct stat lst;
  if (stat(target, &lst) == 0) {
    if (!S_ISDIR(lst.st_mode)) return cli_fail(c, target, "File exists");
  } else if (mkdir(target, 0755) != 0) {
    return cli_fail(c, target, strerror(errno));
  }
  struct dfs_stat *e;
  size_t n;
  int rc = dfs_list(c->fs, src, &e, &n);
  if (rc) return cli_errp(c, src, rc);
  int ret = 0;
  for (size_t i = 0; i < n && !interrupted; i++) {
    char *s = cli_join(src, e[i].name), *t = cli_join(target, e[i].name);
    if (!s || !t) ret = cli_fail(c, src, "out of memory");
    else if (o->pool && e[i].type != DFS_TYPE_DIR) ret |= pool_put(o->pool, s, t);
    else ret |= get_path(c, s, s, t, o);
    free(s);
    free(t);
  }
  dfs_stats_free(e, n);
  if (o->preserve && o->pool) ret |= defer_dir_times(o->pool, target, st);
  else if (o->preserve) preserve_local(target, st);
  return ret;
}

static int get_path(struct cli *c, const char *src, const char *arg, const char *target,
                    struct copy_opts *o) {
  struct dfs_stat st;
  int rc = dfs_stat(c->fs, src, &st);
  if (rc) return cli_errp(c, arg, rc);
  int ret = 0;
  char *tmp = NULL;
  if (st.type == DFS_TYPE_DIR) {
    ret = get_dir(c, src, target, &st, o);
    goto out;
  }
  struct stat lst;
  if (stat(target, &lst) == 0 && (!o->force || S_ISDIR(lst.st_mode))) {
    ret = cli_fail(c, target, S_ISDIR(lst.st_mode) && o->force ? "Is a directory" : "File exists");
    goto out;
  }
  tmp = str_cat(target, COPYING_SUFFIX);
  if (!tmp) {
    ret = cli_fail(c, target, "out of memory");
    goto out;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    ret = cli_fail(c, tmp, strerror(errno));
    goto out;
  }
  ret = pump_from_dfs(c, src, arg, fd, o->buf, o->no_progress ? NULL : cli_base(src));
  if (close(fd) != 0 && !ret) ret = cli_fail(c, tmp, strerror(errno));
  if (!ret && rename(tmp, target) != 0) ret = cli_fail(c, target, strerror(errno));
  if (ret) unlink(tmp);
  else if (o->preserve) preserve_local(target, &st);
out:
  free(tmp);
  dfs_stat_clear(&st);
  return ret;
}

/* One file of get -t (src is also the name in messages). */
static int get_one(struct cli *c, const char *src, const char *target, struct copy_opts *o) {
  return get_path(c, src, src, target, o);
}

int cmd_get(struct cli *c, int argc, char **argv) {
  static const char *const words[] = {"-ignoreCrc", "-crc", NULL};
  char fl[8], bad[64];
  unsigned ws;
  int threads = take_threads(c, &argc, argv);
  if (threads < 0) return CLI_USAGE;
  int i = cli_flags(argc, argv, "fp", words, &ws, fl, sizeof fl, bad, sizeof bad);
  if (i < 0) {
    fprintf(stderr, "%s: Illegal option %s\n", c->cmd, bad);
    return CLI_USAGE;
  }
  if (argc - i < 1) return CLI_USAGE;
  int nsrc = argc - i - 1;
  const char *ldst = nsrc ? argv[argc - 1] : ".";
  if (nsrc == 0) nsrc = 1;
  struct stat lst;
  bool ldir = stat(ldst, &lst) == 0 && S_ISDIR(lst.st_mode);
  if (nsrc > 1 && !ldir)
    return cli_fail(c, ldst, access(ldst, F_OK) == 0 ? "Is not a directory"
                                                     : "No such file or directory");
  if (!cli_fs(c)) return 1;
  catch_signals();
  struct copy_opts o = {CLI_HAS(fl, 'f'), CLI_HAS(fl, 'p'), false, malloc(CLI_COPY_BUF), NULL, false};
  if (!o.buf) return cli_fail(c, ldst, "out of memory");
  if (threads > 1 && !(o.pool = pool_start(c, &o, threads, get_one))) {
    free(o.buf);
    return 1;
  }
  int ret = 0;
  for (int k = 0; k < nsrc; k++) {
    char *src = cli_abs(c, argv[i + k]);
    char *target = ldir ? cli_join(ldst, cli_base(src)) : strdup(ldst);
    if (!target) ret = cli_fail(c, ldst, "out of memory");
    else ret |= get_path(c, src, argv[i + k], target, &o);
    free(src);
    free(target);
    if (interrupted) break;
  }
  if (o.pool) ret |= pool_finish(o.pool);
  free(o.buf);
  return interrupted_rc(ret);
}

/* ---- cat / head / tail ------------------------------------------------------------ */

int cmd_cat(struct cli *c, int argc, char **argv) {
  static const char *const words[] = {"-ignoreCrc", NULL};
  char fl[4], bad[64];
  unsigned ws;
  int i = cli_flags(argc, argv, "", words, &ws, fl, sizeof fl, bad, sizeof bad);
  if (i < 0 || i >= argc) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  uint8_t *buf = malloc(CLI_COPY_BUF);
  if (!buf) return cli_fail(c, argv[i], "out of memory");
  int ret = 0;
  for (; i < argc; i++) {
    char *p = cli_abs(c, argv[i]);
    int kind = dfs_kind(c, p, argv[i]);
    if (kind < 0) ret = 1;
    else if (kind == 0) ret = cli_fail(c, argv[i], "No such file or directory");
    else if (kind == 2) ret = cli_fail(c, argv[i], "Is a directory");
    else ret |= pump_from_dfs(c, p, argv[i], STDOUT_FILENO, buf, NULL);
    free(p);
  }
  free(buf);
  return ret;
}

/* head/tail: one kilobyte at the start or the end, as hdfs. */
static int cat_range(struct cli *c, int argc, char **argv, bool tail) {
  if (argc != 2) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  char *p = cli_abs(c, argv[1]);
  dfs_file *f = NULL;
  int ret = 0;
  int kind = dfs_kind(c, p, argv[1]);
  if (kind <= 0) {
    ret = kind ? 1 : cli_fail(c, argv[1], "No such file or directory");
    goto out;
  }
  if (kind == 2) {
    ret = cli_fail(c, argv[1], "Is a directory");
    goto out;
  }
  int rc = dfs_open(c->fs, p, &f);
  if (rc) {
    ret = cli_errp(c, argv[1], rc);
    goto out;
  }
  int64_t len = dfs_file_length(f);
  uint64_t off = tail && len > 1024 ? (uint64_t)len - 1024 : 0;
  char buf[1024];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = dfs_pread(f, off + got, buf + got, sizeof buf - got);
    if (n < 0) {
      ret = cli_errp(c, argv[1], (int)n);
      goto out;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  fwrite(buf, 1, got, stdout);
out:
  if (f) dfs_close(f);
  free(p);
  return ret;
}

int cmd_head(struct cli *c, int argc, char **argv) { return cat_range(c, argc, argv, false); }
int cmd_tail(struct cli *c, int argc, char **argv) { return cat_range(c, argc, argv, true); }
