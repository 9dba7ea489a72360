/*
 * file_io.c - DFS, memory and file-descriptor backends of the HFile byte
 * sink and source (file_io.h).
 */
#include "file_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

int hb_out_write(struct hb_out *o, const void *buf, size_t len) {
  if (len == 0) return 0;
  int rc = o->write(o, buf, len);
  if (rc == 0) o->pos += len;
  return rc;
}

void hb_out_free(struct hb_out *o) {
  if (o) o->destroy(o);
}

/* ---- DFS sink ---- */

struct out_dfs {
  struct hb_out base;
  dfs_file *f;
};

static int out_dfs_write(struct hb_out *o, const void *buf, size_t len) {
  struct out_dfs *d = (struct out_dfs *)o;
  ssize_t n = dfs_write(d->f, buf, len);
  if (n < 0) return (int)n; /* the client library set the explanation */
  if ((size_t)n != len)
    return dfs_err_set(DFS_EIO, "hfile write: short DFS write (%zd of %zu bytes)", n, len);
  return 0;
}

static void out_plain_destroy(struct hb_out *o) { free(o); }

int hb_out_dfs(dfs_file *f, struct hb_out **out) {
  struct out_dfs *d = calloc(1, sizeof *d);
  if (!d) return dfs_err_set(DFS_ENOMEM, "hb_out_dfs: out of memory");
  d->base.write = out_dfs_write;
  d->base.destroy = out_plain_destroy;
  d->f = f;
  *out = &d->base;
  return 0;
}

/* ---- memory sink ---- */

struct out_mem {
  struct hb_out base;
  uint8_t *buf;
  size_t len, cap;
};

static int out_mem_write(struct hb_out *o, const void *buf, size_t len) {
  struct out_mem *m = (struct out_mem *)o;
  if (len > SIZE_MAX - m->len) return dfs_err_set(DFS_ENOMEM, "hb_out_mem: too large");
  if (m->len + len > m->cap) {
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->len + len) cap = cap > SIZE_MAX / 2 ? m->len + len : cap * 2;
    uint8_t *nb = realloc(m->buf, cap);
    if (!nb) return dfs_err_set(DFS_ENOMEM, "hb_out_mem: out of memory (%zu bytes)", cap);
    m->buf = nb;
    m->cap = cap;
  }
  memcpy(m->buf + m->len, buf, len);
  m->len += len;
  return 0;
}

static void out_mem_destroy(struct hb_out *o) {
  struct out_mem *m = (struct out_mem *)o;
  free(m->buf);
  free(m);
}

int hb_out_mem(struct hb_out **out) {
  struct out_mem *m = calloc(1, sizeof *m);
  if (!m) return dfs_err_set(DFS_ENOMEM, "hb_out_mem: out of memory");
  m->base.write = out_mem_write;
  m->base.destroy = out_mem_destroy;
  *out = &m->base;
  return 0;
}

const uint8_t *hb_out_mem_data(const struct hb_out *o, size_t *len) {
  const struct out_mem *m = (const struct out_mem *)o;
  *len = m->len;
  return m->buf;
}

/* ---- fd sink ---- */

struct out_fd {
  struct hb_out base;
  int fd;
};

static int out_fd_write(struct hb_out *o, const void *buf, size_t len) {
  struct out_fd *d = (struct out_fd *)o;
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(d->fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return dfs_err_set(dfs_err_from_errno(e), "hfile write: %s", strerror(e));
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int hb_out_fd(int fd, struct hb_out **out) {
  struct out_fd *d = calloc(1, sizeof *d);
  if (!d) return dfs_err_set(DFS_ENOMEM, "hb_out_fd: out of memory");
  d->base.write = out_fd_write;
  d->base.destroy = out_plain_destroy;
  d->fd = fd;
  *out = &d->base;
  return 0;
}

/* ---- sources ---- */

int hb_in_pread_full(struct hb_in *in, const char *name, uint64_t off, void *buf, size_t len) {
  uint8_t *p = buf;
  size_t done = 0;
  while (done < len) {
    ssize_t n = in->pread(in, off + done, p + done, len - done);
    if (n < 0) return (int)n;
    if (n == 0)
      return dfs_err_set(DFS_ECORRUPT, "hfile %s: offset %llu: file ends after %zu of %zu bytes",
                         name, (unsigned long long)off, done, len);
    done += (size_t)n;
  }
  return 0;
}

void hb_in_free(struct hb_in *in) {
  if (in) in->destroy(in);
}

struct in_dfs {
  struct hb_in base;
  dfs_file *f;
  bool own;
};

static ssize_t in_dfs_pread(struct hb_in *in, uint64_t off, void *buf, size_t len) {
  struct in_dfs *d = (struct in_dfs *)in;
  return dfs_pread(d->f, off, buf, len);
}

static void in_dfs_destroy(struct hb_in *in) {
  struct in_dfs *d = (struct in_dfs *)in;
  if (d->own) dfs_close(d->f);
  free(d);
}

int hb_in_dfs(dfs_file *f, bool own, struct hb_in **out) {
  int64_t len = dfs_file_length(f);
  if (len < 0) return (int)len;
  struct in_dfs *d = calloc(1, sizeof *d);
  if (!d) return dfs_err_set(DFS_ENOMEM, "hb_in_dfs: out of memory");
  d->base.pread = in_dfs_pread;
  d->base.destroy = in_dfs_destroy;
  d->base.size = (uint64_t)len;
  d->f = f;
  d->own = own;
  *out = &d->base;
  return 0;
}

struct in_mem {
  struct hb_in base;
  const uint8_t *buf;
  uint8_t *copy;
};

static ssize_t in_mem_pread(struct hb_in *in, uint64_t off, void *buf, size_t len) {
  struct in_mem *m = (struct in_mem *)in;
  if (off >= m->base.size) return 0;
  uint64_t avail = m->base.size - off;
  size_t n = len < avail ? len : (size_t)avail;
  memcpy(buf, m->buf + off, n);
  return (ssize_t)n;
}

static void in_mem_destroy(struct hb_in *in) {
  struct in_mem *m = (struct in_mem *)in;
  free(m->copy);
  free(m);
}

int hb_in_mem(const void *buf, size_t len, bool copy, struct hb_in **out) {
  struct in_mem *m = calloc(1, sizeof *m);
  if (!m) return dfs_err_set(DFS_ENOMEM, "hb_in_mem: out of memory");
  if (copy) {
    m->copy = malloc(len ? len : 1);
    if (!m->copy) {
      free(m);
      return dfs_err_set(DFS_ENOMEM, "hb_in_mem: out of memory (%zu bytes)", len);
    }
    if (len) memcpy(m->copy, buf, len);
    m->buf = m->copy;
  } else {
    m->buf = buf;
  }
  m->base.pread = in_mem_pread;
  m->base.destroy = in_mem_destroy;
  m->base.size = len;
  *out = &m->base;
  return 0;
}

struct in_fd {
  struct hb_in base;
  int fd;
  bool own;
};

static ssize_t in_fd_pread(struct hb_in *in, uint64_t off, void *buf, size_t len) {
  struct in_fd *d = (struct in_fd *)in;
  for (;;) {
    ssize_t n = pread(d->fd, buf, len, (off_t)off);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    int e = errno;
    return dfs_err_set(dfs_err_from_errno(e), "hfile read at %llu: %s", (unsigned long long)off,
                       strerror(e));
  }
}

static void in_fd_destroy(struct hb_in *in) {
  struct in_fd *d = (struct in_fd *)in;
  if (d->own) close(d->fd);
  free(d);
}

int hb_in_fd(int fd, bool own, struct hb_in **out) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    return dfs_err_set(dfs_err_from_errno(e), "hb_in_fd: fstat: %s", strerror(e));
  }
  struct in_fd *d = calloc(1, sizeof *d);
  if (!d) return dfs_err_set(DFS_ENOMEM, "hb_in_fd: out of memory");
  d->base.pread = in_fd_pread;
  d->base.destroy = in_fd_destroy;
  d->base.size = (uint64_t)st.st_size;
  d->fd = fd;
  d->own = own;
  *out = &d->base;
  return 0;
}
