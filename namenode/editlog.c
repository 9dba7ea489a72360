/*
 * editlog.c - edit log writer (group commit), reader and segment files.
 * See editlog.h for the format and the commit protocol.
 *
 * Locking: l->mu guards every field of struct nn_editlog except fd, which
 * only the current syncer (syncing == true) or a roll/close (which first
 * waits for !syncing and then holds mu throughout) touches; synced_txid
 * and failed are written under mu and read without it by woken waiters.
 * Lock order: namespace lock -> l->mu; nothing is called out while mu is
 * held.
 */
#include "editlog.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "errors.h"
#include "futex.h"
#include "log.h"

struct nn_buf {
  uint8_t *p;
  size_t len, cap;
};

struct nn_editlog {
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* broadcast when a sync ends (roll, close) */
  /* Group commit wake-ups: a handler sleeps on the futex word
   * gen_word[g & 1] for the sync of generation g that will cover its txid
   * (futex.h: woken handlers return without taking mu back). The end of
   * sync g wakes all of gen_word[g & 1] (they are covered) and one waiter
   * of g + 1, which becomes the next syncer; the others sleep on. One
   * wake-up for all would wake handlers only the next sync covers, to
   * sleep again. */
  _Atomic uint32_t gen_word[2];
  uint64_t sync_gen;      /* generation of the current or last sync */
  uint64_t syncing_upto;  /* last txid the current sync covers */
  char *dir;
  int fd;                 /* the in-progress segment */
  uint64_t seg_first;     /* first txid of the segment (guarded by mu) */
  uint64_t last_txid;     /* last txid handed out */
  _Atomic uint64_t synced_txid; /* last txid durable on disk (written under mu) */
  bool syncing;           /* a syncer is writing outside mu */
  _Atomic int failed;     /* sticky error after a failed write/fdatasync (under mu) */
  struct nn_buf cur;      /* records appended, not yet taken by a syncer */
  struct nn_buf spare;    /* the buffer the syncer writes (swapped) */
  uint64_t off;           /* end of the records in the segment (syncer/roll) */
  uint64_t prealloc_end;  /* file size: zeros beyond off (syncer/roll) */
  nn_editlog_fatal_fn fatal;
  void *fatal_arg;
  void (*sync_hook)(void *); /* tests (editlog.h) */
  void *sync_hook_arg;
};

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int nn_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

static void seg_inprogress_name(char *buf, size_t cap, const char *dir, uint64_t first) {
  snprintf(buf, cap, "%s/edits_inprogress_%019" PRIu64, dir, first);
}

static void seg_final_name(char *buf, size_t cap, const char *dir, uint64_t first,
                           uint64_t last) {
  snprintf(buf, cap, "%s/edits_%019" PRIu64 "-%019" PRIu64, dir, first, last);
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Extend the segment with zeros in 1 MiB steps so that most fdatasync
 * calls need not write the inode (the file size does not change): this
 * cut the cost of a sync by about a third here. Readers treat an all-zero
 * tail as the end of the log. */
#define NN_PREALLOC (1u << 20)

static int prealloc(int fd, uint64_t *end, uint64_t need) {
  static const uint8_t zeros[65536];
  while (*end < need) {
    uint64_t stop = *end + NN_PREALLOC;
    for (uint64_t o = *end; o < stop; o += sizeof zeros) {
      ssize_t w = pwrite(fd, zeros, sizeof zeros, (off_t)o);
      if (w != (ssize_t)sizeof zeros) return w < 0 ? -errno : DFS_EIO;
    }
    *end = stop;
  }
  return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

/* Cut the zeros off before the segment is closed or finalised. */
static int trim_segment(int fd, uint64_t off) {
  if (ftruncate(fd, (off_t)off) != 0) return -errno;
  if (fdatasync(fd) != 0) return -errno;
  return 0;
}

/* Create edits_inprogress_<first> with its magic, durable with the dir. */
static int create_segment(const char *dir, uint64_t first, int *fdout) {
  char path[4096];
  seg_inprogress_name(path, sizeof path, dir, first);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return dfs_err_set(-errno, "editlog: %s: %s", path, strerror(errno));
  int rc = write_all(fd, NN_EDITS_MAGIC, NN_EDITS_MAGIC_LEN);
  if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
  if (rc == 0) rc = nn_fsync_dir(dir);
  if (rc) {
    close(fd);
    return dfs_err_set(rc, "editlog: %s: %s", path, strerror(-rc));
  }
  *fdout = fd;
  return 0;
}

int nn_editlog_open(const char *dir, uint64_t first_txid, nn_editlog **out) {
  nn_editlog *l = calloc(1, sizeof *l);
  if (!l) return DFS_ENOMEM;
  l->dir = strdup(dir);
  if (!l->dir) {
    free(l);
    return DFS_ENOMEM;
  }
  int rc = create_segment(dir, first_txid, &l->fd);
  if (rc) {
    free(l->dir);
    free(l);
    return rc;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->seg_first = first_txid;
  l->off = l->prealloc_end = NN_EDITS_MAGIC_LEN;
  l->last_txid = first_txid - 1;
  l->synced_txid = first_txid - 1;
  *out = l;
  return 0;
}

void nn_editlog_set_fatal(nn_editlog *l, nn_editlog_fatal_fn fn, void *arg) {
  l->fatal = fn;
  l->fatal_arg = arg;
}

void nn_editlog_set_sync_hook(nn_editlog *l, void (*fn)(void *arg), void *arg) {
  l->sync_hook = fn;
  l->sync_hook_arg = arg;
}

static int buf_reserve(struct nn_buf *b, size_t more) {
  if (b->len + more <= b->cap) return 0;
  size_t nc = b->cap ? b->cap : 65536;
  while (nc < b->len + more) nc *= 2;
  uint8_t *np = realloc(b->p, nc);
  if (!np) return DFS_ENOMEM;
  b->p = np;
  b->cap = nc;
  return 0;
}

int nn_editlog_append(nn_editlog *l, Nn__EditRecord *rec, uint64_t *txid) {
  int rc = 0;
  pthread_mutex_lock(&l->mu);
  if (l->failed) {
    rc = dfs_err_set(l->failed, "editlog: the edit log failed earlier; no change accepted");
    goto out;
  }
  rec->txid = l->last_txid + 1;
  size_t sz = protobuf_c_message_get_packed_size(&rec->base);
  rc = buf_reserve(&l->cur, sz + 8);
  if (rc) goto out;
  uint8_t *p = l->cur.p + l->cur.len;
  protobuf_c_message_pack(&rec->base, p + 8);
  put32(p, (uint32_t)sz);
  put32(p + 4, crc32c(0, p + 8, sz));
  l->cur.len += sz + 8;
  *txid = ++l->last_txid;
out:
  pthread_mutex_unlock(&l->mu);
  return rc;
}

/* Become the syncer: called with mu held and !syncing; returns with mu
 * held and *gen set to the generation written. Writes everything buffered
 * so far. The caller wakes the waiters (wake_after_sync) once mu is
 * released, so that the one it makes the next syncer does not block on
 * it. */
static int sync_locked(nn_editlog *l, uint64_t *gen_out) {
  struct nn_buf tmp = l->spare;
  l->spare = l->cur;
  l->cur = tmp;
  l->cur.len = 0;
  uint64_t upto = l->last_txid;
  l->syncing = true;
  uint64_t gen = ++l->sync_gen;
  l->syncing_upto = upto;
  pthread_mutex_unlock(&l->mu);

  if (l->sync_hook) l->sync_hook(l->sync_hook_arg);
  int rc = 0;
  if (l->spare.len > 0) {
    rc = prealloc(l->fd, &l->prealloc_end, l->off + l->spare.len);
    if (rc == 0) rc = pwrite_all(l->fd, l->spare.p, l->spare.len, l->off);
    if (rc == 0 && fdatasync(l->fd) != 0) rc = -errno;
    if (rc == 0) l->off += l->spare.len;
  }
  l->spare.len = 0;

  pthread_mutex_lock(&l->mu);
  l->syncing = false;
  if (rc) {
    if (!l->failed) {
      l->failed = rc;
      char msg[256];
      snprintf(msg, sizeof msg, "edit log write/fdatasync failed in %s: %s", l->dir,
               strerror(-rc));
      LOG_ERROR("namenode", "%s", msg);
      if (l->fatal) l->fatal(l->fatal_arg, rc, msg);
    }
  } else {
    l->synced_txid = upto;
  }
  pthread_cond_broadcast(&l->cv);
  *gen_out = gen;
  return rc;
}

/* After sync gen ended (mu released): wake its waiters, and one waiter of
 * the next generation when records wait for it (all of them on failure). */
static void wake_after_sync(nn_editlog *l, uint64_t gen, int rc, bool more) {
  dfs_futex_bump_wake(&l->gen_word[gen & 1], INT_MAX);
  if (rc) dfs_futex_bump_wake(&l->gen_word[(gen + 1) & 1], INT_MAX);
  else if (more) dfs_futex_bump_wake(&l->gen_word[(gen + 1) & 1], 1);
}

/* Wait until txid is durable, syncing when no one else is. mu not held. */
static int sync_to(nn_editlog *l, uint64_t txid) {
  for (;;) {
    if (l->synced_txid >= txid) return 0;
    if (l->failed) break;
    pthread_mutex_lock(&l->mu);
    if (l->synced_txid >= txid || l->failed) {
      pthread_mutex_unlock(&l->mu);
      continue;
    }
    if (!l->syncing) {
      uint64_t gen;
      int rc = sync_locked(l, &gen);
      bool more = l->last_txid > l->synced_txid;
      pthread_mutex_unlock(&l->mu);
      wake_after_sync(l, gen, rc, more);
      continue;
    }
    uint64_t g = txid <= l->syncing_upto ? l->sync_gen : l->sync_gen + 1;
    uint32_t v = atomic_load_explicit(&l->gen_word[g & 1], memory_order_acquire);
    pthread_mutex_unlock(&l->mu);
    dfs_futex_wait(&l->gen_word[g & 1], v);
  }
  int failed = l->failed;
  return dfs_err_set(failed, "editlog: sync failed: %s", strerror(-failed));
}

int nn_editlog_sync(nn_editlog *l, uint64_t txid) { return sync_to(l, txid); }

int nn_editlog_sync_all(nn_editlog *l) {
  pthread_mutex_lock(&l->mu);
  uint64_t last = l->last_txid;
  pthread_mutex_unlock(&l->mu);
  return sync_to(l, last);
}

/* Everything appended so far durable and no sync running; returns with mu
 * held. Appends are kept out by the caller (namespace lock). */
static int sync_all_locked(nn_editlog *l) {
  int rc = nn_editlog_sync_all(l);
  pthread_mutex_lock(&l->mu);
  while (l->syncing) pthread_cond_wait(&l->cv, &l->mu);
  return rc;
}

uint64_t nn_editlog_last_txid(nn_editlog *l) {
  pthread_mutex_lock(&l->mu);
  uint64_t t = l->last_txid;
  pthread_mutex_unlock(&l->mu);
  return t;
}

uint64_t nn_editlog_synced_txid(nn_editlog *l) {
  pthread_mutex_lock(&l->mu);
  uint64_t t = l->synced_txid;
  pthread_mutex_unlock(&l->mu);
  return t;
}

uint64_t nn_editlog_segment_txns(nn_editlog *l) {
  pthread_mutex_lock(&l->mu);
  uint64_t t = l->last_txid + 1 - l->seg_first;
  pthread_mutex_unlock(&l->mu);
  return t;
}

/* Rename or remove the in-progress segment [first, last]. */
static int finalize_segment(const char *dir, uint64_t first, uint64_t last) {
  char from[4096], to[4096];
  seg_inprogress_name(from, sizeof from, dir, first);
  if (last < first) {
    if (unlink(from) != 0 && errno != ENOENT)
      return dfs_err_set(-errno, "editlog: unlink %s: %s", from, strerror(errno));
  } else {
    seg_final_name(to, sizeof to, dir, first, last);
    if (rename(from, to) != 0)
      return dfs_err_set(-errno, "editlog: rename %s: %s", from, strerror(errno));
  }
  return nn_fsync_dir(dir);
}

int nn_editlog_roll(nn_editlog *l, uint64_t *last) {
  int rc = sync_all_locked(l);
  if (rc) goto out;
  rc = trim_segment(l->fd, l->off);
  close(l->fd);
  l->fd = -1;
  if (rc == 0) rc = finalize_segment(l->dir, l->seg_first, l->last_txid);
  if (rc == 0) rc = create_segment(l->dir, l->last_txid + 1, &l->fd);
  l->off = l->prealloc_end = NN_EDITS_MAGIC_LEN;
  if (rc) {
    l->failed = rc;
    if (l->fatal) l->fatal(l->fatal_arg, rc, dfs_err_msg());
    goto out;
  }
  *last = l->last_txid;
  l->seg_first = l->last_txid + 1;
out:
  pthread_mutex_unlock(&l->mu);
  return rc;
}

int nn_editlog_close(nn_editlog *l) {
  if (!l) return 0;
  int rc = sync_all_locked(l);
  pthread_mutex_unlock(&l->mu);
  if (l->fd >= 0) {
    if (rc == 0) rc = trim_segment(l->fd, l->off);
    close(l->fd);
  }
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  free(l->cur.p);
  free(l->spare.p);
  free(l->dir);
  free(l);
  return rc;
}

/* ---- reading ---- */

/* Is there a valid frame at off? (used to tell a torn tail from damage in
 * the middle of the log) */
static bool valid_frame_at(const uint8_t *buf, size_t len, size_t off) {
  if (len - off < 8) return false;
  uint32_t n = get32(buf + off);
  if (n == 0 || n > NN_EDIT_MAX_RECORD || n > len - off - 8) return false;
  if (get32(buf + off + 4) != crc32c(0, buf + off + 8, n)) return false;
  Nn__EditRecord *r = nn__edit_record__unpack(NULL, n, buf + off + 8);
  if (!r) return false;
  nn__edit_record__free_unpacked(r, NULL);
  return true;
}

int nn_editlog_scan(const uint8_t *buf, size_t len, const char *file,
                    nn_edit_apply_fn fn, void *arg, struct nn_edit_scan *res) {
  memset(res, 0, sizeof *res);
  if (len < NN_EDITS_MAGIC_LEN || memcmp(buf, NN_EDITS_MAGIC, NN_EDITS_MAGIC_LEN) != 0) {
    snprintf(res->why, sizeof res->why, "expected the magic \"%s\" at offset 0",
             NN_EDITS_MAGIC);
    return DFS_ECORRUPT;
  }
  size_t off = NN_EDITS_MAGIC_LEN;
  res->valid_end = off;
  while (off < len) {
    if (len - off < 8) {
      snprintf(res->why, sizeof res->why,
               "expected an 8-byte record header, found %zu bytes", len - off);
      break;
    }
    uint32_t n = get32(buf + off);
    if (n == 0 || n > NN_EDIT_MAX_RECORD) {
      snprintf(res->why, sizeof res->why, "expected a record length in 1..%u, found %u",
               NN_EDIT_MAX_RECORD, n);
      break;
    }
    if (n > len - off - 8) {
      snprintf(res->why, sizeof res->why,
               "expected a %u-byte record, found %zu bytes before the end", n,
               len - off - 8);
      break;
    }
    uint32_t want = get32(buf + off + 4), got = crc32c(0, buf + off + 8, n);
    if (want != got) {
      snprintf(res->why, sizeof res->why, "expected crc32c %08x, computed %08x", want,
               got);
      break;
    }
    Nn__EditRecord *r = nn__edit_record__unpack(NULL, n, buf + off + 8);
    if (!r) {
      snprintf(res->why, sizeof res->why,
               "expected an EditRecord, found undecodable bytes (crc ok)");
      break;
    }
    int rc = fn ? fn(arg, r, file, off) : 0;
    nn__edit_record__free_unpacked(r, NULL);
    if (rc) return rc;
    res->records++;
    off += 8 + (size_t)n;
    res->valid_end = off;
  }
  if (off < len) {
    size_t z = off;
    while (z < len && buf[z] == 0) z++;
    if (z == len) { /* preallocated zeros: the clean end of the log */
      res->zero_tail = true;
      return 0;
    }
    res->bad = true;
    for (size_t p = off + 1; p + 8 <= len; p++) {
      if (valid_frame_at(buf, len, p)) {
        res->later_valid = true;
        break;
      }
    }
  }
  return 0;
}

struct seg {
  uint64_t first, last;
  bool inprogress;
  char name[256];
};

static int seg_cmp(const void *a, const void *b) {
  const struct seg *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Segments in dir, sorted by first txid. *out freed by the caller. */
static int list_segments(const char *dir, struct seg **out, size_t *nout) {
  DIR *d = opendir(dir);
  if (!d) return dfs_err_set(-errno, "editlog: %s: %s", dir, strerror(errno));
  struct seg *v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    struct seg s = {0};
    int end = 0;
    unsigned long long a, b;
    if (sscanf(e->d_name, "edits_inprogress_%llu%n", &a, &end) == 1 &&
        e->d_name[end] == '\0') {
      s.first = a;
      s.last = UINT64_MAX;
      s.inprogress = true;
    } else if (sscanf(e->d_name, "edits_%llu-%llu%n", &a, &b, &end) == 2 &&
               e->d_name[end] == '\0') {
      s.first = a;
      s.last = b;
    } else {
      continue;
    }
    snprintf(s.name, sizeof s.name, "%s", e->d_name);
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      struct seg *nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        rc = DFS_ENOMEM;
        break;
      }
      v = nv;
    }
    v[n++] = s;
  }
  closedir(d);
  if (rc) {
    free(v);
    return rc;
  }
  if (n) qsort(v, n, sizeof *v, seg_cmp);
  *out = v;
  *nout = n;
  return 0;
}

struct replay_ctx {
  uint64_t after;      /* image txid */
  uint64_t expect;     /* next txid to apply */
  uint64_t max_seen;   /* highest txid seen in the current file */
  nn_edit_apply_fn fn;
  void *arg;
};

static int replay_one(void *arg, const Nn__EditRecord *rec, const char *file,
                      uint64_t off) {
  struct replay_ctx *c = arg;
  if (rec->txid > c->max_seen) c->max_seen = rec->txid;
  if (rec->txid <= c->after) return 0; /* already in the image */
  if (rec->txid != c->expect)
    return dfs_err_set(DFS_ECORRUPT,
                       "edit log corrupt: %s: offset %" PRIu64 ": expected txid %" PRIu64
                       ", found %" PRIu64,
                       file, off, c->expect, rec->txid);
  int rc = c->fn(c->arg, rec, file, off);
  if (rc) return rc;
  c->expect++;
  return 0;
}

/* Copy the torn tail aside and truncate it away. */
static int set_aside_tail(const char *path, const uint8_t *buf, size_t len, size_t off) {
  char aside[4200];
  snprintf(aside, sizeof aside, "%s.corrupt-tail", path);
  int fd = open(aside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return dfs_err_set(-errno, "editlog: %s: %s", aside, strerror(errno));
  int rc = write_all(fd, buf + off, len - off);
  if (rc == 0 && fsync(fd) != 0) rc = -errno;
  close(fd);
  if (rc == 0 && truncate(path, (off_t)off) != 0) rc = -errno;
  if (rc == 0) {
    int tfd = open(path, O_WRONLY | O_CLOEXEC);
    if (tfd >= 0) {
      if (fsync(tfd) != 0) rc = -errno;
      close(tfd);
    }
  }
  if (rc) return dfs_err_set(rc, "editlog: setting aside the tail of %s: %s", path,
                             strerror(-rc));
  return 0;
}

int nn_editlog_replay(const char *dir, uint64_t after_txid, nn_edit_apply_fn fn,
                      void *arg, uint64_t *last_txid) {
  struct seg *segs = NULL;
  size_t nseg = 0;
  int rc = list_segments(dir, &segs, &nseg);
  if (rc) return rc;
  struct replay_ctx c = {.after = after_txid, .expect = after_txid + 1, .fn = fn, .arg = arg};
  for (size_t i = 0; i < nseg && rc == 0; i++) {
    struct seg *s = &segs[i];
    if (!s->inprogress && s->last <= after_txid) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, s->name);
    if (s->first > c.expect) {
      rc = dfs_err_set(DFS_ECORRUPT,
                       "edit log corrupt: %s: expected a segment starting at txid %" PRIu64
                       ", found one starting at %" PRIu64 " (missing edits)",
                       path, c.expect, s->first);
      break;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      rc = dfs_err_set(-errno, "editlog: %s: %s", path, strerror(errno));
      break;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      rc = dfs_err_set(-errno, "editlog: %s: %s", path, strerror(errno));
      close(fd);
      break;
    }
    size_t len = (size_t)st.st_size;
    const uint8_t *buf = NULL;
    void *map = NULL;
    if (len > 0) {
      map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED) {
        rc = dfs_err_set(-errno, "editlog: mmap %s: %s", path, strerror(errno));
        close(fd);
        break;
      }
      buf = map;
    }
    close(fd);
    bool last_seg = (i + 1 == nseg);
    struct nn_edit_scan res;
    c.max_seen = 0;
    if (s->inprogress && len < NN_EDITS_MAGIC_LEN && last_seg) {
      /* Crashed while creating the segment: nothing was ever acknowledged
       * from it. Set the bytes aside and drop the file. */
      LOG_WARN("namenode", "edit log %s: torn segment header (%zu bytes); removed", path,
               len);
      if (len) rc = set_aside_tail(path, buf, len, 0);
      if (rc == 0 && unlink(path) != 0) rc = dfs_err_set(-errno, "unlink %s", path);
      if (map) munmap(map, len);
      continue;
    }
    rc = nn_editlog_scan(buf ? buf : (const uint8_t *)"", len, path, replay_one, &c, &res);
    if (rc == DFS_ECORRUPT && res.why[0]) {
      rc = dfs_err_set(DFS_ECORRUPT, "edit log corrupt: %s: offset 0: %s", path, res.why);
    } else if (rc == 0 && res.bad) {
      if (!s->inprogress || res.later_valid || !last_seg) {
        rc = dfs_err_set(DFS_ECORRUPT,
                         "edit log corrupt: %s: offset %" PRIu64 ": %s%s; refusing to start",
                         path, res.valid_end, res.why,
                         res.later_valid ? " (valid records follow)" : "");
      } else {
        LOG_WARN("namenode",
                 "edit log %s: torn tail at offset %" PRIu64 " (%zu bytes: %s); set aside "
                 "to %s.corrupt-tail and truncated, not applied",
                 path, res.valid_end, len - (size_t)res.valid_end, res.why, path);
        rc = set_aside_tail(path, buf, len, (size_t)res.valid_end);
      }
    }
    if (rc == 0 && res.zero_tail) {
      if (!s->inprogress) {
        rc = dfs_err_set(DFS_ECORRUPT, "edit log corrupt: %s: offset %" PRIu64
                         ": expected the end of a finalised segment, found zeros", path,
                         res.valid_end);
      } else if (truncate(path, (off_t)res.valid_end) != 0) {
        rc = dfs_err_set(-errno, "editlog: truncate %s: %s", path, strerror(errno));
      }
    }
    if (rc == 0 && !s->inprogress && c.max_seen != s->last) {
      rc = dfs_err_set(DFS_ECORRUPT,
                       "edit log corrupt: %s: expected its last txid to be %" PRIu64
                       ", found %" PRIu64,
                       path, s->last, c.max_seen);
    }
    if (map) munmap(map, len);
    if (rc == 0 && s->inprogress)
      rc = finalize_segment(dir, s->first, res.records ? c.max_seen : s->first - 1);
  }
  free(segs);
  if (rc == 0) *last_txid = c.expect - 1;
  return rc;
}

int nn_editlog_purge(const char *dir, uint64_t upto) {
  struct seg *segs = NULL;
  size_t nseg = 0;
  int n = 0;
  if (list_segments(dir, &segs, &nseg) != 0) return 0;
  for (size_t i = 0; i < nseg; i++) {
    if (segs[i].inprogress || segs[i].last > upto) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, segs[i].name);
    if (unlink(path) == 0) n++;
  }
  free(segs);
  return n;
}
