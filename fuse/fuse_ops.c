/*
 * fuse_ops.c - the FUSE operations of dfs-fuse, on top of dfs.h.
 *
 * Every operation acts through the calling user's dfs_fs (fuse_ids.c), so
 * the NameNode checks permissions as that user. Each open() makes its own
 * handle (struct dfuse_handle): a reader with a read-ahead window, or a
 * writer. Handles are independent; concurrent readers and writers of one
 * file only share the NameNode's view.
 *
 * Write-once, the design decision of this file: the DFS appends to a file
 * being written and never changes bytes of a closed file. So a handle
 * writes only when it created the file (create, or open with O_TRUNC,
 * which replaces an existing file by a new one created with overwrite),
 * and only at its end: a write at the end appends, a write past the end
 * appends zeros first (sparse copies work), a write before the end or into
 * a file that was closed fails with EPERM and a log line. flush (every
 * close(2)) hflushes, so the bytes are visible to every reader as soon as
 * close(2) returns; release (the last close, which the kernel sends
 * asynchronously) completes the file. Features the DFS lacks (hard links,
 * symbolic links, device nodes, O_APPEND on an existing file, fallocate)
 * fail with ENOTSUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dfs_fuse.h"
#include "errors.h"
#include "log.h"

struct dfuse_handle {
  struct dfuse_handle *next, *prev; /* d->handles, guarded by d->open_mu */
  char *path;                       /* immutable */
  dfs_fs *fs;                       /* the opening user's connection */
  pthread_mutex_t mu;               /* guards everything below */
  dfs_file *wf;                     /* writer; NULL when not writing */
  dfs_file *rf;                     /* reader, opened lazily for a writer */
  bool lazy_create;                 /* open(O_WRONLY) of an empty file: the
                                       first write at 0 replaces it */
  uint16_t perm;                    /* of a file this handle created */
  uint64_t wpos;                    /* bytes written; atomic (getattr reads it
                                       holding only d->open_mu) */
  int werr;                         /* sticky write error (errno, negative) */
  /* read-ahead window: [ra_start, ra_start + ra_len) of the file in ra_buf;
   * the sequential stream of rf stands at ra_start + ra_len */
  uint8_t *ra_buf;
  size_t ra_cap;
  uint64_t ra_start;
  size_t ra_len;
  uint64_t last_end;                /* end of the previous read request */
};

static struct dfuse *ctx_dfuse(void) { return fuse_get_context()->private_data; }

int dfuse_errno(int code, const char *op, const char *path) {
  if (code >= 0) return 0;
  int e;
  switch (code) {
    case DFS_EPERM: case DFS_ENOENT: case DFS_EACCES: case DFS_EEXIST:
    case DFS_ENOTDIR: case DFS_EISDIR: case DFS_EINVAL: case DFS_ENOSPC:
    case DFS_ENAMETOOLONG: case DFS_ENOTEMPTY: case DFS_ENOTSUP: case DFS_ENOMEM:
    case DFS_EAGAIN: case DFS_EBADF:
      e = -code;
      break;
    case DFS_ELEASE: e = EBUSY; break;          /* another client writes it */
    case DFS_ESAFEMODE: e = EROFS; break;       /* read-only until safe mode ends */
    case DFS_ENODATANODE: e = ENOSPC; break;
    case DFS_EBADPATH: e = EINVAL; break;
    case DFS_ECLOSED: case DFS_ENOLEASE: e = EBADF; break;
    default: e = EIO; break; /* network, timeouts, checksums, pipeline: I/O error */
  }
  /* Expected answers stay quiet; real failures are logged with the library's
   * explanation (which names the block and the DataNode). */
  if (e == ENOENT || e == EEXIST || e == ENOTEMPTY)
    LOG_DEBUG(DFUSE_LOG, "%s %s: %s", op, path, dfs_error_message());
  else
    LOG_WARN(DFUSE_LOG, "%s %s: %s (errno %d)", op, path, dfs_error_message(), e);
  return -e;
}

/* The calling user's connection, or a negative errno. */
static int caller_fs(struct dfuse *d, dfs_fs **fs) {
  struct fuse_context *c = fuse_get_context();
  int rc = dfuse_user_fs(d, c->uid, c->gid, fs);
  return rc < 0 ? dfuse_errno(rc, "connect", "/") : 0;
}

static void ms_to_ts(int64_t ms, struct timespec *ts) {
  if (ms < 0) ms = 0;
  ts->tv_sec = (time_t)(ms / 1000);
  ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

static void fill_stat(struct dfuse *d, const struct dfs_stat *ds, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_mode = (ds->type == DFS_TYPE_DIR ? S_IFDIR : S_IFREG) | (ds->permission & 07777);
  /* 1 for directories too: GNU find then knows it cannot count subdirectories
   * from the link count (the DFS does not keep one). */
  st->st_nlink = 1;
  st->st_uid = dfuse_uid_of(d, ds->owner);
  st->st_gid = dfuse_gid_of(d, ds->group);
  st->st_size = (off_t)ds->length;
  st->st_blocks = (blkcnt_t)((ds->length + 511) / 512);
  st->st_blksize = (blksize_t)d->o.max_write; /* cp and friends use it as buffer size */
  st->st_ino = (ino_t)ds->file_id;
  ms_to_ts(ds->mtime_ms, &st->st_mtim);
  ms_to_ts(ds->atime_ms ? ds->atime_ms : ds->mtime_ms, &st->st_atim);
  st->st_ctim = st->st_mtim;
}

/* Attributes of a file this handle is writing, without asking the NameNode
 * (it has not seen the bytes yet: it learns the length at block boundaries
 * and on close). */
static void fill_writer_stat(struct dfuse_handle *h, struct stat *st) {
  struct fuse_context *c = fuse_get_context();
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFREG | h->perm;
  st->st_nlink = 1;
  st->st_uid = c->uid;
  st->st_gid = c->gid;
  uint64_t n = __atomic_load_n(&h->wpos, __ATOMIC_ACQUIRE);
  st->st_size = (off_t)n;
  st->st_blocks = (blkcnt_t)((n + 511) / 512);
  st->st_blksize = (blksize_t)ctx_dfuse()->o.max_write;
  clock_gettime(CLOCK_REALTIME, &st->st_mtim);
  st->st_atim = st->st_ctim = st->st_mtim;
}

/* Largest number of bytes written so far by any handle of ours writing
 * `path`, or 0. */
static uint64_t writers_length(struct dfuse *d, const char *path, bool *found) {
  uint64_t n = 0;
  *found = false;
  pthread_mutex_lock(&d->open_mu);
  for (struct dfuse_handle *h = d->handles; h; h = h->next) {
    if (__atomic_load_n(&h->wf, __ATOMIC_ACQUIRE) && strcmp(h->path, path) == 0) {
      uint64_t w = __atomic_load_n(&h->wpos, __ATOMIC_ACQUIRE);
      if (w > n) n = w;
      *found = true;
    }
  }
  pthread_mutex_unlock(&d->open_mu);
  return n;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  if (fi && fi->fh) {
    struct dfuse_handle *h = (struct dfuse_handle *)(uintptr_t)fi->fh;
    if (__atomic_load_n(&h->wf, __ATOMIC_ACQUIRE)) {
      fill_writer_stat(h, st);
      return 0;
    }
  }
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  struct dfs_stat ds;
  if ((rc = dfs_stat(fs, path, &ds)) < 0) return dfuse_errno(rc, "getattr", path);
  fill_stat(d, &ds, st);
  if (ds.type == DFS_TYPE_FILE && ds.under_construction) {
    bool found;
    uint64_t w = writers_length(d, path, &found);
    if (found && (off_t)w > st->st_size) {
      st->st_size = (off_t)w;
      st->st_blocks = (blkcnt_t)((w + 511) / 512);
    }
  }
  dfs_stat_clear(&ds);
  return 0;
}

static int op_access(const char *path, int mask) {
  struct dfuse *d = ctx_dfuse();
  struct fuse_context *c = fuse_get_context();
  struct stat st;
  int rc = op_getattr(path, &st, NULL);
  if (rc || mask == F_OK) return rc;
  dfs_fs *fs;
  if ((rc = caller_fs(d, &fs)) != 0) return rc;
  if (c->uid == 0 && !d->o.fixed_user) {
    /* root: everything but executing a file nobody may execute */
    if ((mask & X_OK) && S_ISREG(st.st_mode) && !(st.st_mode & 0111)) return -EACCES;
    return 0;
  }
  /* The same rule as the NameNode: owner bits if the caller owns it, group
   * bits if the caller is in its group, other bits otherwise. */
  struct dfs_stat ds;
  if ((rc = dfs_stat(fs, path, &ds)) < 0) return dfuse_errno(rc, "access", path);
  const char *me = dfuse_user_name(d, c->uid);
  unsigned bits;
  if (me && ds.owner && strcmp(me, ds.owner) == 0)
    bits = (ds.permission >> 6) & 7;
  else if (ds.group && dfuse_user_in_group(d, c->uid, c->gid, ds.group))
    bits = (ds.permission >> 3) & 7;
  else
    bits = ds.permission & 7;
  dfs_stat_clear(&ds);
  unsigned want = ((mask & R_OK) ? 4 : 0) | ((mask & W_OK) ? 2 : 0) | ((mask & X_OK) ? 1 : 0);
  return (bits & want) == want ? 0 : -EACCES;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  filler(buf, ".", NULL, 0, 0);
  filler(buf, "..", NULL, 0, 0);
  /* Page by page (the NameNode's listing limit), never the whole directory
   * in memory at once on our side. */
  char *after = NULL;
  for (;;) {
    struct dfs_stat *e;
    size_t n, remaining = 0;
    rc = dfs_list_page(fs, path, after, &e, &n, &remaining);
    if (rc < 0) {
      free(after);
      return dfuse_errno(rc, "readdir", path);
    }
    for (size_t i = 0; i < n; i++) {
      struct stat st;
      fill_stat(d, &e[i], &st);
      if (filler(buf, e[i].name, &st, 0, FUSE_FILL_DIR_PLUS)) break;
    }
    free(after);
    after = n ? strdup(e[n - 1].name) : NULL;
    dfs_stats_free(e, n);
    if (n == 0 || remaining == 0 || !after) break;
  }
  free(after);
  return 0;
}

static int op_mkdir(const char *path, mode_t mode) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  rc = dfs_mkdirs(fs, path, (uint16_t)(mode & 07777));
  return rc < 0 ? dfuse_errno(rc, "mkdir", path) : 0;
}

static int op_delete(const char *path, const char *op) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  rc = dfs_delete(fs, path, false);
  return rc < 0 ? dfuse_errno(rc, op, path) : 0;
}
static int op_unlink(const char *path) { return op_delete(path, "unlink"); }
static int op_rmdir(const char *path) { return op_delete(path, "rmdir"); }

static int op_rename(const char *from, const char *to, unsigned int flags) {
  struct dfuse *d = ctx_dfuse();
  if (flags & RENAME_EXCHANGE) {
    LOG_WARN(DFUSE_LOG, "rename %s %s: RENAME_EXCHANGE is not supported by the DFS", from, to);
    return -ENOTSUP;
  }
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  /* The NameNode completes a file by path: renaming a file that one of our
   * handles still writes would leave it incomplete. The common case is an
   * editor or `cp` that closed the file just before the rename: the kernel
   * sends release asynchronously, so wait (bounded) for it. */
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += d->o.rename_wait_ms / 1000;
  deadline.tv_nsec += (long)(d->o.rename_wait_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&d->open_mu);
  for (;;) {
    bool busy = false;
    for (struct dfuse_handle *h = d->handles; h; h = h->next)
      if (__atomic_load_n(&h->wf, __ATOMIC_ACQUIRE) && strcmp(h->path, from) == 0) busy = true;
    if (!busy) break;
    if (pthread_cond_timedwait(&d->open_cv, &d->open_mu, &deadline) == ETIMEDOUT) {
      LOG_WARN(DFUSE_LOG, "rename %s: still open for writing; renaming anyway", from);
      break;
    }
  }
  pthread_mutex_unlock(&d->open_mu);
  rc = dfs_rename(fs, from, to, !(flags & RENAME_NOREPLACE));
  return rc < 0 ? dfuse_errno(rc, "rename", from) : 0;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  rc = dfs_chmod(fs, path, (uint16_t)(mode & 07777));
  return rc < 0 ? dfuse_errno(rc, "chmod", path) : 0;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  char owner[256], group[256];
  if (uid != (uid_t)-1) dfuse_user_name_of(uid, owner, sizeof owner);
  if (gid != (gid_t)-1) dfuse_group_name_of(gid, group, sizeof group);
  if (uid == (uid_t)-1 && gid == (gid_t)-1) return 0;
  rc = dfs_chown(fs, path, uid != (uid_t)-1 ? owner : NULL, gid != (gid_t)-1 ? group : NULL);
  return rc < 0 ? dfuse_errno(rc, "chown", path) : 0;
}

static int64_t ts_to_ms(const struct timespec *ts) {
  struct timespec now;
  if (ts->tv_nsec == UTIME_OMIT) return -1;
  if (ts->tv_nsec == UTIME_NOW) {
    clock_gettime(CLOCK_REALTIME, &now);
    ts = &now;
  }
  return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static int op_utimens(const char *path, const struct timespec tv[2],
                      struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  int64_t atime, mtime;
  if (tv) {
    atime = ts_to_ms(&tv[0]);
    mtime = ts_to_ms(&tv[1]);
  } else {
    struct timespec now = {.tv_nsec = UTIME_NOW};
    atime = mtime = ts_to_ms(&now);
  }
  if (atime < 0 && mtime < 0) return 0;
  rc = dfs_set_times(fs, path, mtime, atime);
  return rc < 0 ? dfuse_errno(rc, "utimens", path) : 0;
}

static int op_statfs(const char *path, struct statvfs *sv) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  struct dfs_fs_stats s;
  if ((rc = dfs_get_fs_stats(fs, &s)) < 0) return dfuse_errno(rc, "statfs", path);
  memset(sv, 0, sizeof *sv);
  const unsigned long bs = 4096;
  sv->f_bsize = d->o.max_write;
  sv->f_frsize = bs;
  sv->f_blocks = s.capacity / bs;
  sv->f_bfree = s.remaining / bs;
  sv->f_bavail = s.remaining / bs;
  /* No inode limit: report a large free count so tools do not refuse. */
  sv->f_ffree = 1ULL << 32;
  sv->f_favail = sv->f_ffree;
  sv->f_files = s.files + s.directories + sv->f_ffree;
  sv->f_namemax = 255;
  return 0;
}

/* ---- open files ------------------------------------------------------------ */

static struct dfuse_handle *handle_new(struct dfuse *d, const char *path, dfs_fs *fs) {
  struct dfuse_handle *h = calloc(1, sizeof *h);
  if (!h || !(h->path = strdup(path))) {
    free(h);
    return NULL;
  }
  h->fs = fs;
  h->perm = 0644;
  pthread_mutex_init(&h->mu, NULL);
  return h;
}

static void handle_register(struct dfuse *d, struct dfuse_handle *h, struct fuse_file_info *fi) {
  pthread_mutex_lock(&d->open_mu);
  h->next = d->handles;
  if (d->handles) d->handles->prev = h;
  d->handles = h;
  pthread_mutex_unlock(&d->open_mu);
  fi->fh = (uint64_t)(uintptr_t)h;
}

/* Close a handle's files; returns the writer's close code (negative errno). */
static int handle_close_files(struct dfuse_handle *h) {
  int rc = 0;
  if (h->wf) {
    dfs_file *wf = h->wf;
    __atomic_store_n(&h->wf, NULL, __ATOMIC_RELEASE);
    int crc = dfs_close(wf);
    if (crc < 0) rc = dfuse_errno(crc, "close", h->path);
    else if (h->werr) rc = h->werr;
  }
  if (h->rf) {
    dfs_close(h->rf);
    h->rf = NULL;
  }
  return rc;
}

static void handle_free(struct dfuse_handle *h) {
  pthread_mutex_destroy(&h->mu);
  free(h->ra_buf);
  free(h->path);
  free(h);
}

/* Start writing a new file at `path` (replacing an existing one when
 * overwrite), keeping `perm`. */
static int handle_create(struct dfuse *d, struct dfuse_handle *h, uint16_t perm,
                         bool overwrite) {
  struct dfs_create_opts co = {.overwrite = overwrite, .no_create_parent = true,
                               .permission = perm ? perm : 0644,
                               .replication = d->o.replication,
                               .blocksize = d->o.blocksize};
  dfs_file *wf;
  int rc = dfs_create(h->fs, h->path, &co, &wf);
  if (rc < 0) return dfuse_errno(rc, "create", h->path);
  h->perm = co.permission;
  __atomic_store_n(&h->wpos, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&h->wf, wf, __ATOMIC_RELEASE);
  return 0;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  struct dfuse_handle *h = handle_new(d, path, fs);
  if (!h) return -ENOMEM;
  if ((rc = handle_create(d, h, (uint16_t)(mode & 07777), false)) != 0) {
    handle_free(h);
    return rc;
  }
  handle_register(d, h, fi);
  return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  dfs_fs *fs;
  int rc = caller_fs(d, &fs);
  if (rc) return rc;
  int acc = fi->flags & O_ACCMODE;
  struct dfuse_handle *h = handle_new(d, path, fs);
  if (!h) return -ENOMEM;
  if (acc == O_RDONLY) {
    if ((rc = dfs_open(fs, path, &h->rf)) < 0) {
      rc = dfuse_errno(rc, "open", path);
      goto fail;
    }
  } else {
    struct dfs_stat ds;
    if ((rc = dfs_stat(fs, path, &ds)) < 0) {
      rc = dfuse_errno(rc, "open", path);
      goto fail;
    }
    uint16_t perm = ds.permission & 07777;
    uint64_t len = ds.length;
    bool uc = ds.under_construction;
    dfs_stat_clear(&ds);
    if (fi->flags & O_TRUNC) {
      /* Replace the file by a new one with the same permission. */
      if ((rc = handle_create(d, h, perm, true)) != 0) goto fail;
    } else if (fi->flags & O_APPEND) {
      LOG_WARN(DFUSE_LOG, "open %s: O_APPEND: appending to a closed file is not "
               "supported by the DFS (ENOTSUP)", path);
      rc = -ENOTSUP;
      goto fail;
    } else {
      /* Opened for writing without truncation: reads work, writes into the
       * closed file fail with EPERM; an empty file may be written from 0. */
      h->lazy_create = (len == 0 && !uc);
      h->perm = perm;
      if (acc == O_RDWR && (rc = dfs_open(fs, path, &h->rf)) < 0) {
        rc = dfuse_errno(rc, "open", path);
        goto fail;
      }
    }
  }
  handle_register(d, h, fi);
  return 0;
fail:
  handle_close_files(h);
  handle_free(h);
  return rc;
}

/* Serve a read from the read-ahead window, refilled with large sequential
 * dfs_read calls while reads move forward; other reads are positional
 * (dfs_pread). The kernel sends read-ahead requests from several threads,
 * so they may arrive slightly out of order: the window keeps the older half
 * of its bytes when it slides, so a request just behind the newest one is
 * still served from memory. Called with h->mu held. */
static ssize_t handle_read(struct dfuse *d, struct dfuse_handle *h, char *buf, size_t size,
                           uint64_t off) {
  size_t done = 0;
  while (done < size) {
    uint64_t pos = off + done;
    uint64_t ra_end = h->ra_start + h->ra_len;
    if (pos >= h->ra_start && pos < ra_end) {
      size_t n = (size_t)(ra_end - pos);
      if (n > size - done) n = size - done;
      memcpy(buf + done, h->ra_buf + (pos - h->ra_start), n);
      done += n;
      continue;
    }
    if (!h->ra_buf) {
      /* Small files get a small window (cp -r of many small files). */
      int64_t len = dfs_file_length(h->rf);
      h->ra_cap = 2 * d->o.readahead;
      if (len >= 0 && (uint64_t)len + 4096 < h->ra_cap) h->ra_cap = (size_t)len + 4096;
      if (!(h->ra_buf = malloc(h->ra_cap))) return -ENOMEM;
    }
    if (pos >= ra_end && pos - ra_end <= h->ra_cap) {
      /* Forward: read on from where the stream stands (through any small
       * gap: those bytes land in the window too). */
      if (h->ra_len > h->ra_cap / 2) {
        size_t keep = h->ra_cap / 2, drop = h->ra_len - keep;
        memmove(h->ra_buf, h->ra_buf + drop, keep);
        h->ra_start += drop;
        h->ra_len = keep;
      }
      ssize_t n = dfs_read(h->rf, h->ra_buf + h->ra_len, h->ra_cap - h->ra_len);
      if (n < 0) {
        h->ra_start = h->ra_start + h->ra_len; /* stream position unknown: */
        h->ra_len = 0;                         /* force a seek next time */
        h->last_end = UINT64_MAX;
        int rc = dfuse_errno((int)n, "read", h->path);
        dfs_seek(h->rf, h->ra_start);
        return rc;
      }
      if (n == 0) break; /* end of file */
      h->ra_len += (size_t)n;
      continue;
    }
    if (off == h->last_end) {
      /* A new sequential run elsewhere (a seek): restart the window there. */
      int rc = dfs_seek(h->rf, pos);
      if (rc < 0) return dfuse_errno(rc, "read", h->path);
      h->ra_start = pos;
      h->ra_len = 0;
      continue;
    }
    ssize_t n = dfs_pread(h->rf, pos, buf + done, size - done);
    if (n < 0) return dfuse_errno((int)n, "read", h->path);
    done += (size_t)n;
    break;
  }
  h->last_end = off + done;
  return (ssize_t)done;
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  struct dfuse_handle *h = (struct dfuse_handle *)(uintptr_t)fi->fh;
  ssize_t rc;
  pthread_mutex_lock(&h->mu);
  if (h->wf) {
    /* Reading a file we are writing (O_RDWR): make the bytes visible, then
     * read them like any reader would. */
    int frc = dfs_hflush(h->wf);
    if (frc < 0) {
      rc = dfuse_errno(frc, "read", path);
      goto out;
    }
    if (h->rf) dfs_close(h->rf);
    h->rf = NULL;
    if ((frc = dfs_open(h->fs, h->path, &h->rf)) < 0) {
      rc = dfuse_errno(frc, "read", path);
      goto out;
    }
    rc = dfs_pread(h->rf, (uint64_t)off, buf, size);
    if (rc < 0) rc = dfuse_errno((int)rc, "read", path);
    goto out;
  }
  if (!h->rf) {
    rc = -EBADF;
    goto out;
  }
  rc = handle_read(d, h, buf, size, (uint64_t)off);
out:
  pthread_mutex_unlock(&h->mu);
  return (int)rc;
}

static int write_zeros(struct dfuse_handle *h, uint64_t n) {
  static const char zeros[65536];
  while (n > 0) {
    size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
    ssize_t w = dfs_write(h->wf, zeros, k);
    if (w < 0) return (int)w;
    n -= (uint64_t)w;
    __atomic_add_fetch(&h->wpos, (uint64_t)w, __ATOMIC_RELEASE);
  }
  return 0;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  struct dfuse_handle *h = (struct dfuse_handle *)(uintptr_t)fi->fh;
  int rc;
  pthread_mutex_lock(&h->mu);
  if (h->werr) {
    rc = h->werr;
    goto out;
  }
  if (!h->wf) {
    if (h->lazy_create && off == 0) {
      if (h->rf) dfs_close(h->rf), h->rf = NULL;
      if ((rc = handle_create(d, h, h->perm, true)) != 0) goto out;
    } else {
      LOG_WARN(DFUSE_LOG, "write %s at offset %lld: the file is closed and DFS files "
               "are write-once (EPERM); open it with O_TRUNC to replace it", path,
               (long long)off);
      rc = -EPERM;
      goto out;
    }
  }
  uint64_t wpos = __atomic_load_n(&h->wpos, __ATOMIC_ACQUIRE);
  if ((uint64_t)off < wpos) {
    LOG_WARN(DFUSE_LOG, "write %s at offset %lld: before the end %llu; DFS files are "
             "written sequentially (EPERM)", path, (long long)off, (unsigned long long)wpos);
    rc = -EPERM;
    goto out;
  }
  if ((uint64_t)off > wpos && (rc = write_zeros(h, (uint64_t)off - wpos)) < 0) {
    h->werr = rc = dfuse_errno(rc, "write", path);
    goto out;
  }
  ssize_t n = dfs_write(h->wf, buf, size);
  if (n < 0) {
    h->werr = rc = dfuse_errno((int)n, "write", path);
    goto out;
  }
  __atomic_add_fetch(&h->wpos, (uint64_t)n, __ATOMIC_RELEASE);
  rc = (int)n;
out:
  pthread_mutex_unlock(&h->mu);
  return rc;
}

static int sync_handle(struct fuse_file_info *fi, bool hsync, const char *op) {
  struct dfuse_handle *h = (struct dfuse_handle *)(uintptr_t)fi->fh;
  int rc = 0;
  pthread_mutex_lock(&h->mu);
  if (h->wf) {
    if (h->werr) {
      rc = h->werr;
    } else {
      int frc = hsync ? dfs_hsync(h->wf) : dfs_hflush(h->wf);
      if (frc < 0) h->werr = rc = dfuse_errno(frc, op, h->path);
    }
  }
  pthread_mutex_unlock(&h->mu);
  return rc;
}

static int op_flush(const char *path, struct fuse_file_info *fi) {
  return sync_handle(fi, false, "flush");
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  return sync_handle(fi, true, "fsync");
}

static int op_release(const char *path, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  struct dfuse_handle *h = (struct dfuse_handle *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&h->mu);
  int rc = handle_close_files(h);
  pthread_mutex_unlock(&h->mu);
  if (rc < 0) LOG_ERROR(DFUSE_LOG, "close %s: the file may be incomplete", h->path);
  pthread_mutex_lock(&d->open_mu);
  if (h->prev) h->prev->next = h->next;
  else d->handles = h->next;
  if (h->next) h->next->prev = h->prev;
  pthread_cond_broadcast(&d->open_cv);
  pthread_mutex_unlock(&d->open_mu);
  handle_free(h);
  return rc;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  struct dfuse *d = ctx_dfuse();
  int rc;
  if (fi && fi->fh) {
    struct dfuse_handle *h = (struct dfuse_handle *)(uintptr_t)fi->fh;
    pthread_mutex_lock(&h->mu);
    uint64_t wpos = __atomic_load_n(&h->wpos, __ATOMIC_ACQUIRE);
    if (h->wf && (uint64_t)size >= wpos) {
      rc = write_zeros(h, (uint64_t)size - wpos); /* extend: zeros, as a hole reads */
      if (rc < 0) h->werr = rc = dfuse_errno(rc, "truncate", path);
      pthread_mutex_unlock(&h->mu);
      return rc;
    }
    if (!h->wf && size == 0 && !h->werr) {
      /* open(O_WRONLY) + ftruncate(fd, 0) + write: replace the file and let
       * this handle write the new one. */
      if (h->rf) dfs_close(h->rf), h->rf = NULL;
      rc = handle_create(d, h, h->perm, true);
      pthread_mutex_unlock(&h->mu);
      return rc;
    }
    pthread_mutex_unlock(&h->mu);
  }
  dfs_fs *fs;
  if ((rc = caller_fs(d, &fs)) != 0) return rc;
  struct dfs_stat ds;
  if ((rc = dfs_stat(fs, path, &ds)) < 0) return dfuse_errno(rc, "truncate", path);
  uint64_t len = ds.length;
  uint16_t perm = ds.permission & 07777;
  bool is_dir = ds.type == DFS_TYPE_DIR;
  dfs_stat_clear(&ds);
  if (is_dir) return -EISDIR;
  bool writing;
  uint64_t w = writers_length(d, path, &writing);
  if (writing && (uint64_t)size == w) return 0;
  if (!writing && (uint64_t)size == len) return 0;
  if (size == 0 && !writing) {
    /* Truncate to zero: replace with a new empty file. */
    struct dfs_create_opts co = {.overwrite = true, .permission = perm,
                                 .replication = d->o.replication, .blocksize = d->o.blocksize};
    dfs_file *f;
    if ((rc = dfs_create(fs, path, &co, &f)) < 0) return dfuse_errno(rc, "truncate", path);
    if ((rc = dfs_close(f)) < 0) return dfuse_errno(rc, "truncate", path);
    return 0;
  }
  LOG_WARN(DFUSE_LOG, "truncate %s to %lld: DFS files are write-once; only truncation to "
           "0 (replace) is supported (EPERM)", path, (long long)size);
  return -EPERM;
}

static int op_mknod(const char *path, mode_t mode, dev_t rdev) {
  if (!S_ISREG(mode)) {
    LOG_WARN(DFUSE_LOG, "mknod %s: only regular files exist in the DFS (ENOTSUP)", path);
    return -ENOTSUP;
  }
  struct fuse_file_info fi = {.flags = O_WRONLY};
  int rc = op_create(path, mode, &fi);
  if (rc == 0) rc = op_release(path, &fi);
  return rc;
}

static int op_link(const char *from, const char *to) {
  LOG_WARN(DFUSE_LOG, "link %s %s: the DFS has no hard links (ENOTSUP)", from, to);
  return -ENOTSUP;
}

static int op_symlink(const char *target, const char *path) {
  LOG_WARN(DFUSE_LOG, "symlink %s: the DFS has no symbolic links (ENOTSUP)", path);
  return -ENOTSUP;
}

static int op_fallocate(const char *path, int mode, off_t off, off_t len,
                        struct fuse_file_info *fi) {
  LOG_WARN(DFUSE_LOG, "fallocate %s: not supported by the DFS (ENOTSUP)", path);
  return -ENOTSUP;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  struct dfuse *d = ctx_dfuse();
  /* Large requests: writes and reads of up to max_write bytes (1 MiB by
   * default; the kernel caps it), read-ahead as large. */
  conn->max_write = (unsigned)d->o.max_write;
  conn->max_read = 0;
  conn->max_readahead = (unsigned)d->o.readahead;
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  /* The writer's data goes straight into packets: no splice (which only
   * helps when data passes through a pipe to an fd). */
  conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  cfg->use_ino = 1;     /* st_ino = DFS file id */
  cfg->hard_remove = 1; /* unlink really deletes (no .fuse_hidden files) */
  cfg->nullpath_ok = 0;
  LOG_INFO(DFUSE_LOG, "mounted %s: max_write %u, readahead %zu, attr_timeout %.1f s, "
           "entry_timeout %.1f s", d->o.namenode, conn->max_write, d->o.readahead,
           cfg->attr_timeout, cfg->entry_timeout);
  return d;
}

static void op_destroy(void *private_data) {
  struct dfuse *d = private_data;
  /* Unmount: complete every file still open for writing. */
  pthread_mutex_lock(&d->open_mu);
  struct dfuse_handle *h = d->handles;
  d->handles = NULL;
  pthread_mutex_unlock(&d->open_mu);
  int n = 0;
  while (h) {
    struct dfuse_handle *next = h->next;
    if (handle_close_files(h) < 0) LOG_ERROR(DFUSE_LOG, "unmount: close %s failed", h->path);
    handle_free(h);
    h = next;
    n++;
  }
  if (n) LOG_INFO(DFUSE_LOG, "unmount: closed %d open file(s)", n);
  dfuse_users_close(d);
  LOG_INFO(DFUSE_LOG, "unmounted");
}

static const struct fuse_operations dfuse_ops = {
  .init = op_init,
  .destroy = op_destroy,
  .getattr = op_getattr,
  .access = op_access,
  .readdir = op_readdir,
  .mkdir = op_mkdir,
  .rmdir = op_rmdir,
  .unlink = op_unlink,
  .rename = op_rename,
  .chmod = op_chmod,
  .chown = op_chown,
  .utimens = op_utimens,
  .truncate = op_truncate,
  .statfs = op_statfs,
  .create = op_create,
  .open = op_open,
  .read = op_read,
  .write = op_write,
  .flush = op_flush,
  .fsync = op_fsync,
  .release = op_release,
  .mknod = op_mknod,
  .link = op_link,
  .symlink = op_symlink,
  .fallocate = op_fallocate,
};

const struct fuse_operations *dfuse_operations(void) { return &dfuse_ops; }
