/*
 * wal_reader.c - reads WAL files back (replay, splitting), lists a WAL
 * directory in creation order, and fences a dead writer's file (wal.h).
 *
 * The reader tells a torn tail from damage with the record header's
 * length checksum (wal_entry.c): the DFS shows a prefix of what was
 * written, so an incomplete record at the end is what a writer killed
 * mid-write leaves (reported as the end, with its offset), while a
 * checksum mismatch is corruption (DFS_ECORRUPT with path and offset).
 * A record's announced length is checked against the file's visible
 * length before the buffer grows for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "wal.h"

#define READ_CHUNK (1u << 20)

struct wal_reader {
  dfs_file *f;          /* NULL: reading a memory buffer */
  char *name;
  const uint8_t *mem;   /* memory source */
  size_t mem_len;
  uint8_t *buf;         /* DFS source: unread bytes are buf[start..end) */
  size_t cap, start, end;
  uint64_t pos;         /* file offset of the next record (= of buf[start]) */
  bool header_done;
  uint64_t torn;        /* bytes of an incomplete record at the visible end */
  int err;              /* sticky until wal_reader_skip */
  char errmsg[1024];
  uint64_t skip_len;    /* size of the damaged record when known */
  struct cell *cells;
  size_t cells_cap;
};

static const uint8_t *avail_ptr(const wal_reader *r, size_t *avail) {
  if (!r->f) {
    *avail = r->pos < r->mem_len ? r->mem_len - (size_t)r->pos : 0;
    return r->mem + (r->pos < r->mem_len ? r->pos : r->mem_len);
  }
  *avail = r->end - r->start;
  return r->buf + r->start;
}

/* Makes at least n bytes available if the visible file has them. 0 or a
 * negative code. */
static int fill(wal_reader *r, size_t n) {
  if (!r->f || r->end - r->start >= n) return 0;
  if (r->start) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->cap < n || r->cap < READ_CHUNK) {
    size_t ncap = r->cap ? r->cap : READ_CHUNK;
    while (ncap < n) ncap *= 2;
    uint8_t *nb = realloc(r->buf, ncap);
    if (!nb) return dfs_err_set(DFS_ENOMEM, "wal %s: out of memory for %zu bytes", r->name, ncap);
    r->buf = nb;
    r->cap = ncap;
  }
  while (r->end < n) {
    ssize_t got = dfs_read(r->f, r->buf + r->end, r->cap - r->end);
    if (got < 0)
      return dfs_err_set((int)got, "wal %s: read at offset %llu: %s", r->name,
                         (unsigned long long)(r->pos + r->end), dfs_err_msg());
    if (got == 0) break; /* the visible end */
    r->end += (size_t)got;
  }
  return 0;
}

static int reader_new(const char *name, wal_reader **out) {
  wal_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->name = strdup(name))) {
    free(r);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  *out = r;
  return 0;
}

int wal_reader_open(dfs_fs *fs, const char *path, wal_reader **out) {
  *out = NULL;
  wal_reader *r = NULL;
  int rc = reader_new(path, &r);
  if (rc) return rc;
  rc = dfs_open(fs, path, &r->f);
  if (rc) {
    rc = dfs_err_set(rc, "wal %s: open: %s", path, dfs_err_msg());
    free(r->name);
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int wal_reader_open_buf(const uint8_t *data, size_t len, const char *name, wal_reader **out) {
  *out = NULL;
  wal_reader *r = NULL;
  int rc = reader_new(name ? name : "(memory)", &r);
  if (rc) return rc;
  r->mem = data;
  r->mem_len = len;
  *out = r;
  return 0;
}

static int set_err(wal_reader *r, int rc, uint64_t skip_len) {
  r->err = rc;
  r->skip_len = skip_len;
  snprintf(r->errmsg, sizeof r->errmsg, "%s", dfs_err_msg());
  return rc;
}

int wal_reader_next(wal_reader *r, struct wal_entry *e) {
  if (r->err) return dfs_err_set(r->err, "%s", r->errmsg);
  size_t avail;
  const uint8_t *p;
  int rc;
  if (!r->header_done) {
    if ((rc = fill(r, WAL_HEADER_LEN)) != 0) return rc; /* I/O errors are not sticky */
    p = avail_ptr(r, &avail);
    if (avail < WAL_HEADER_LEN) {
      /* Nothing hflushed yet, or the header itself cut short. */
      r->torn = avail;
      return 0;
    }
    if ((rc = wal_header_check(p, avail, r->name)) != 0) return set_err(r, rc, 0);
    r->header_done = true;
    r->pos = WAL_HEADER_LEN;
    if (r->f) r->start += WAL_HEADER_LEN;
  }
  if ((rc = fill(r, WAL_RECORD_HEADER_LEN)) != 0) return rc;
  p = avail_ptr(r, &avail);
  size_t used = 0;
  rc = wal_record_decode(p, avail, r->name, r->pos, e, &r->cells, &r->cells_cap, &used);
  if (rc == 0 && used > avail && r->f) {
    /* The header is intact: grow for the record only if the file has it. */
    int64_t vis = dfs_file_length(r->f);
    if (vis < 0)
      return dfs_err_set((int)vis, "wal %s: length: %s", r->name, dfs_err_msg());
    if ((uint64_t)vis >= r->pos + used) {
      if ((rc = fill(r, used)) != 0) return rc;
      p = avail_ptr(r, &avail);
      rc = wal_record_decode(p, avail, r->name, r->pos, e, &r->cells, &r->cells_cap, &used);
    }
  }
  if (rc == 0) { /* incomplete: the visible end is inside this record */
    r->torn = avail;
    return 0;
  }
  if (rc < 0) return rc == DFS_ENOMEM ? rc : set_err(r, rc, used);
  r->torn = 0;
  r->pos += used;
  if (r->f) r->start += used;
  return 1;
}

int wal_reader_skip(wal_reader *r) {
  if (!r->err) return 0;
  if (r->err != DFS_ECORRUPT || r->skip_len == 0)
    return dfs_err_set(r->err, "%s (cannot skip: the record's length is not known)", r->errmsg);
  if (r->f) {
    if (r->skip_len <= r->end - r->start) {
      r->start += r->skip_len;
    } else {
      r->start = r->end = 0;
      int rc = dfs_seek(r->f, r->pos + r->skip_len);
      if (rc) return dfs_err_set(rc, "wal %s: seek: %s", r->name, dfs_err_msg());
    }
  }
  r->pos += r->skip_len;
  r->err = 0;
  r->skip_len = 0;
  return 0;
}

uint64_t wal_reader_offset(const wal_reader *r) { return r->pos; }
uint64_t wal_reader_torn_bytes(const wal_reader *r) { return r->torn; }

int wal_reader_close(wal_reader *r) {
  if (!r) return 0;
  int rc = r->f ? dfs_close(r->f) : 0;
  free(r->buf);
  free(r->cells);
  free(r->name);
  free(r);
  return rc;
}

int wal_recover_file(dfs_fs *fs, const char *path, int timeout_ms) {
  if (timeout_ms <= 0) timeout_ms = 60000;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long delay_ms = 50;
  for (;;) {
    bool closed = false;
    int rc = dfs_recover_lease(fs, path, &closed);
    if (rc) return dfs_err_set(rc, "wal %s: recoverLease: %s", path, dfs_err_msg());
    if (closed) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (spent >= timeout_ms)
      return dfs_err_set(DFS_ETIMEDOUT, "wal %s: still not closed by lease recovery after %d ms",
                         path, timeout_ms);
    long d = delay_ms < timeout_ms - spent ? delay_ms : timeout_ms - spent;
    struct timespec ts = {d / 1000, (d % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (delay_ms < 1000) delay_ms *= 2;
  }
}

/* ---- listing ------------------------------------------------------------------ */

struct named {
  unsigned long long ms, n;
  char *path;
};

/* "<anything>.<digits>.<digits>" -> ms, n. */
static bool parse_name(const char *name, unsigned long long *ms, unsigned long long *n) {
  const char *d2 = strrchr(name, '.');
  if (!d2 || d2 == name || !d2[1]) return false;
  const char *d1 = d2 - 1;
  while (d1 > name && *d1 != '.') d1--;
  if (*d1 != '.' || d1 + 1 == d2) return false;
  for (const char *c = d1 + 1; c < d2; c++)
    if (*c < '0' || *c > '9') return false;
  for (const char *c = d2 + 1; *c; c++)
    if (*c < '0' || *c > '9') return false;
  *ms = strtoull(d1 + 1, NULL, 10);
  *n = strtoull(d2 + 1, NULL, 10);
  return true;
}

static int cmp_named(const void *a, const void *b) {
  const struct named *x = a, *y = b;
  if (x->ms != y->ms) return x->ms < y->ms ? -1 : 1;
  if (x->n != y->n) return x->n < y->n ? -1 : 1;
  return strcmp(x->path, y->path);
}

int wal_list(dfs_fs *fs, const char *dir, char ***paths, size_t *n) {
  *paths = NULL;
  *n = 0;
  struct dfs_stat *ents = NULL;
  size_t ne = 0;
  int rc = dfs_list(fs, dir, &ents, &ne);
  if (rc == DFS_ENOENT) return 0;
  if (rc) return dfs_err_set(rc, "wal list %s: %s", dir, dfs_err_msg());
  struct named *v = calloc(ne ? ne : 1, sizeof *v);
  if (!v) {
    dfs_stats_free(ents, ne);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  size_t k = 0;
  for (size_t i = 0; i < ne; i++) {
    if (ents[i].type != DFS_TYPE_FILE || !parse_name(ents[i].name, &v[k].ms, &v[k].n)) continue;
    size_t len = strlen(dir) + strlen(ents[i].name) + 2;
    if (!(v[k].path = malloc(len))) {
      rc = dfs_err_set(DFS_ENOMEM, "out of memory");
      break;
    }
    snprintf(v[k].path, len, "%s/%s", dir, ents[i].name);
    k++;
  }
  dfs_stats_free(ents, ne);
  char **out = rc ? NULL : malloc((k ? k : 1) * sizeof *out);
  if (!out) {
    for (size_t i = 0; i < k; i++) free(v[i].path);
    free(v);
    return rc ? rc : dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  qsort(v, k, sizeof *v, cmp_named);
  for (size_t i = 0; i < k; i++) out[i] = v[i].path;
  free(v);
  *paths = out;
  *n = k;
  return 0;
}

void wal_paths_free(char **paths, size_t n) {
  for (size_t i = 0; i < n; i++) free(paths[i]);
  free(paths);
}
