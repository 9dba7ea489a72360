/*
 * wal.c - the WAL writer: group commit, rolling, archiving (wal.h).
 *
 * Threads and state. Appenders encode their record into `pending` (a byte
 * batch plus the highest sequence id per region it holds) under `mu` and
 * get a txid. One syncer thread owns the DFS file: it swaps `pending` for
 * an empty batch, writes the whole batch with one dfs_write and makes it
 * durable with one dfs_hflush (dfs_hsync when a waiter asked for FSYNC),
 * then publishes synced_txid and wakes every waiter. While it writes,
 * appends go on into the fresh batch, which becomes the next group.
 *
 * Rolls (size, age, wal_roll, write failure) run on the syncer between
 * batches: records reach files in txid order whatever happens. After a
 * write failure the batch is written again, whole, to a new file; records
 * of it that reached the failed file may then exist twice, which replay
 * tolerates (same cells, same sequence ids).
 *
 * Size and age rolls do not stop the writers: a roller thread creates the
 * next file while the current one is half full (or half its age), the
 * syncer switches to it between two batches, and the roller then hsyncs
 * and closes the old one. Done on the syncer, the NameNode's create and
 * the close's wait for the last block's replicas stalled every writer for
 * 10-300 ms per roll. A file whose next one is not ready yet grows on, up
 * to twice the roll size, where the syncer waits. An FSYNC batch waits
 * until the old file is hsynced, so hsynced_txid never covers a record
 * that is not on disk. wal_roll and rolls after a write failure stay
 * synchronous (they report their result).
 *
 * Archiving: each rolled file keeps the highest sequence id per region it
 * holds; `flushed` keeps what each region has persisted in store files. A
 * rolled file is archived (renamed into oldWALs) once every region in it
 * is flushed past its maximum. Renames run outside `mu`, on the thread that
 * found the file archivable, which first takes the file off the list.
 *
 * Lock order: w->mu only; no DFS call is made while holding it.
 */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "futex.h"
#include "wal.h"

/* ---- a small map: region name -> highest sequence id --------------------- */

struct seq_slot {
  uint8_t *key; /* NULL: empty */
  uint32_t len;
  uint32_t hash;
  uint64_t val;
};
struct seqmap {
  struct seq_slot *slots;
  size_t cap, n; /* cap a power of two or 0 */
};

static uint32_t hash_bytes(const uint8_t *p, uint32_t len) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (uint32_t i = 0; i < len; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static struct seq_slot *seqmap_find(const struct seqmap *m, const uint8_t *k, uint32_t len,
                                    uint32_t h) {
  if (!m->cap) return NULL;
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    struct seq_slot *s = &m->slots[i];
    if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, k, len) == 0)) return s;
  }
}

static bool seqmap_get(const struct seqmap *m, const uint8_t *k, uint32_t len, uint64_t *v) {
  struct seq_slot *s = seqmap_find(m, k, len, hash_bytes(k, len));
  if (!s || !s->key) return false;
  *v = s->val;
  return true;
}

static int seqmap_grow(struct seqmap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  struct seq_slot *ns = calloc(ncap, sizeof *ns);
  if (!ns) return DFS_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    struct seq_slot *s = &m->slots[i];
    if (!s->key) continue;
    size_t j = s->hash & (ncap - 1);
    while (ns[j].key) j = (j + 1) & (ncap - 1);
    ns[j] = *s;
  }
  free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 0;
}

/* m[k] = max(m[k], v). 0 or DFS_ENOMEM. */
static int seqmap_put_max(struct seqmap *m, const uint8_t *k, uint32_t len, uint64_t v) {
  uint32_t h = hash_bytes(k, len);
  struct seq_slot *s = seqmap_find(m, k, len, h);
  if (s && s->key) {
    if (v > s->val) s->val = v;
    return 0;
  }
  if ((m->n + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
    if (seqmap_grow(m)) return DFS_ENOMEM;
    s = seqmap_find(m, k, len, h);
  }
  s->key = malloc(len ? len : 1);
  if (!s->key) return DFS_ENOMEM;
  memcpy(s->key, k, len);
  s->len = len;
  s->hash = h;
  s->val = v;
  m->n++;
  return 0;
}

static int seqmap_merge_max(struct seqmap *dst, const struct seqmap *src) {
  for (size_t i = 0; i < src->cap; i++) {
    const struct seq_slot *s = &src->slots[i];
    if (s->key && seqmap_put_max(dst, s->key, s->len, s->val)) return DFS_ENOMEM;
  }
  return 0;
}

static void seqmap_clear(struct seqmap *m) {
  for (size_t i = 0; i < m->cap; i++) {
    free(m->slots[i].key);
    m->slots[i].key = NULL;
  }
  m->n = 0;
}

static void seqmap_free(struct seqmap *m) {
  seqmap_clear(m);
  free(m->slots);
  m->slots = NULL;
  m->cap = 0;
}

/* ---- the writer ------------------------------------------------------------ */

struct batch {
  uint8_t *buf;
  size_t len, cap;
  uint64_t n;            /* records */
  struct seqmap regions; /* highest sequence id per region in the batch */
};

struct wal_file { /* a rolled file still in WALs/<server> */
  char *path;
  struct seqmap regions;
  struct wal_file *next;
  dfs_file *f;        /* while the roller retires it */
  uint64_t last_txid; /* idem: the last record in it */
};

struct wal {
  dfs_fs *fs;
  char *dir, *archive, *server;
  struct wal_opts o;
  pthread_t syncer, roller;
  bool roller_started;
  pthread_mutex_t mu;
  pthread_cond_t roller_work; /* to the roller */
  pthread_cond_t work; /* to the syncer */
  pthread_cond_t done; /* to waiters: a roll done, room, failure */
  /* Sync waiters sleep on the futex word synced_word[g & 1] of the batch g
   * that will cover their txid, so the end of a batch wakes only those it
   * covers (one broadcast to all would wake the writers of the next batch
   * too, only for them to sleep again). A futex word rather than a
   * condition variable: a woken writer checks synced_txid / hsynced_txid /
   * failed without taking mu, so the twenty writers of one batch do not
   * queue on mu one after the other, each paying a second sleep and
   * wake-up (a context switch costs ~10 us of CPU on this VM). */
  _Atomic uint32_t synced_word[2];
  uint64_t batch_gen;   /* generation of the batch in flight or last synced */
  uint64_t batch_last;  /* last txid of the batch in flight */
  bool batch_inflight, batch_hs;

  /* guarded by mu */
  struct batch pending;
  int64_t pending_since; /* monotonic ms of the oldest unwritten append; 0: none */
  bool pending_async;    /* the pending batch holds an edit nobody will sync */
  uint64_t appended_txid;
  _Atomic uint64_t synced_txid, hsynced_txid; /* written under mu, read also without */
  uint64_t want_txid, want_hsync_txid; /* highest txids waited for */
  uint64_t roll_req, roll_done;
  int roll_rc;       /* result of the last requested roll */
  char roll_msg[1024];
  bool closing;
  _Atomic int failed; /* sticky: the WAL cannot write any more; written under mu */
  char failed_msg[1024];
  struct wal_file *rolled; /* oldest first */
  struct wal_listener { wal_synced_fn fn; void *arg; } *listeners;
  size_t n_listeners, listeners_cap;
  bool next_wanted;        /* the roller is to create `next` */
  bool next_failed;        /* it could not: the next roll is synchronous */
  bool roller_stop;
  dfs_file *next;          /* prepared file (header written) for the next roll */
  char next_path[1024];
  struct wal_file *retiring; /* handed to the roller: hsync, close, list */
  struct seqmap flushed;   /* region -> flushed sequence id */
  struct wal_stats st;
  char cur_path[1024];

  /* syncer thread only (and wal_open before it starts) */
  dfs_file *cur;
  uint64_t cur_bytes, cur_records;
  struct seqmap cur_regions;
  int64_t cur_created; /* monotonic ms */
  uint64_t file_no;
  int64_t last_file_ms;
  bool retired_hsynced; /* the last file retired was hsynced first */
  struct batch inflight;
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on c until the monotonic time deadline_ms. */
static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ms) {
  struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
  pthread_cond_timedwait(c, m, &ts);
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Wakes every sync waiter sleeping on synced_word[i]. */
static void wake_synced(wal *w, unsigned i) { dfs_futex_bump_wake(&w->synced_word[i], INT_MAX); }

/* Sleeps while synced_word[i] still holds v (returns at once if it moved). */
static void wait_synced(wal *w, unsigned i, uint32_t v) { dfs_futex_wait(&w->synced_word[i], v); }

/* The WAL failed: every present and future caller gets this. mu held. */
static void set_failed(wal *w, int rc, const char *msg) {
  if (w->failed) return;
  w->failed = rc < 0 ? rc : DFS_EIO;
  /* Kept without our "wal <server>: " prefix: failed_err() adds it once. */
  size_t pl = strlen(w->server);
  if (strncmp(msg, "wal ", 4) == 0 && strncmp(msg + 4, w->server, pl) == 0 &&
      strncmp(msg + 4 + pl, ": ", 2) == 0)
    msg += 4 + pl + 2;
  snprintf(w->failed_msg, sizeof w->failed_msg, "%s", msg);
  pthread_cond_broadcast(&w->done);
  wake_synced(w, 0);
  wake_synced(w, 1);
}

static int failed_err(wal *w) {
  return dfs_err_set(w->failed, "wal %s: failed earlier: %s", w->server, w->failed_msg);
}

/* Creates the next file (header written, not yet flushed). Syncer thread
 * (or wal_open). */
static int create_file(wal *w, dfs_file **out, char *path, size_t cap) {
  struct dfs_create_opts co = {.replication = w->o.replication, .blocksize = w->o.blocksize};
  int rc = 0;
  for (int tries = 0; tries < 5; tries++) {
    /* The syncer and the roller both create files: names under mu. */
    pthread_mutex_lock(&w->mu);
    int64_t ms = wall_ms();
    if (ms < w->last_file_ms) ms = w->last_file_ms; /* names must sort in creation order */
    w->last_file_ms = ms;
    snprintf(path, cap, "%s/%s.%" PRId64 ".%" PRIu64, w->dir, w->server, ms, ++w->file_no);
    pthread_mutex_unlock(&w->mu);
    rc = dfs_create(w->fs, path, &co, out);
    if (rc != DFS_EEXIST) break;
  }
  if (rc) return dfs_err_set(rc, "wal %s: cannot create a new file: %s", w->server, dfs_err_msg());
  uint8_t hdr[WAL_HEADER_LEN];
  wal_header_encode(hdr);
  ssize_t n = dfs_write(*out, hdr, sizeof hdr);
  if (n < 0) {
    rc = dfs_err_set((int)n, "wal %s: writing the header: %s", path, dfs_err_msg());
    dfs_close(*out);
    *out = NULL;
    return rc;
  }
  return 0;
}

/* Takes the rolled files that are fully flushed off the list and renames
 * them into oldWALs. Any thread, mu not held. */
static int archive_ready(wal *w) {
  pthread_mutex_lock(&w->mu);
  struct wal_file *ready = NULL, **pp = &w->rolled;
  while (*pp) {
    struct wal_file *f = *pp;
    bool all = true;
    for (size_t i = 0; all && i < f->regions.cap; i++) {
      const struct seq_slot *s = &f->regions.slots[i];
      uint64_t fl;
      if (s->key && !(seqmap_get(&w->flushed, s->key, s->len, &fl) && fl >= s->val)) all = false;
    }
    if (all) {
      *pp = f->next;
      f->next = ready;
      ready = f;
    } else {
      pp = &f->next;
    }
  }
  pthread_mutex_unlock(&w->mu);

  int first = 0;
  while (ready) {
    struct wal_file *f = ready;
    ready = f->next;
    char dst[2048];
    snprintf(dst, sizeof dst, "%s/%s", w->archive, base_name(f->path));
    int rc = dfs_rename(w->fs, f->path, dst, false);
    pthread_mutex_lock(&w->mu);
    if (rc == 0) {
      w->st.archived++;
      w->st.live_files--;
      pthread_mutex_unlock(&w->mu);
      seqmap_free(&f->regions);
      free(f->path);
      free(f);
    } else {
      if (!first) first = dfs_err_set(rc, "wal %s: archiving %s: %s", w->server, f->path,
                                      dfs_err_msg());
      f->next = w->rolled; /* kept; tried again at the next flush or roll */
      w->rolled = f;
      pthread_mutex_unlock(&w->mu);
    }
  }
  return first;
}

/* Closes the current file into the rolled list. Syncer thread. */
static void retire_current(wal *w, bool healthy) {
  if (!w->cur) return;
  /* After the roller's retire, so that files are closed in order. */
  pthread_mutex_lock(&w->mu);
  while (w->retiring) pthread_cond_wait(&w->done, &w->mu);
  pthread_mutex_unlock(&w->mu);
  /* hsync first so that FSYNC waiters never depend on a closed file. */
  w->retired_hsynced = healthy && dfs_hsync(w->cur) == 0;
  dfs_close(w->cur); /* already hflushed; a failed close leaves it for lease recovery */
  w->cur = NULL;
  struct wal_file *f = calloc(1, sizeof *f);
  pthread_mutex_lock(&w->mu);
  if (f && (f->path = strdup(w->cur_path))) {
    f->regions = w->cur_regions; /* moved */
    memset(&w->cur_regions, 0, sizeof w->cur_regions);
    struct wal_file **pp = &w->rolled;
    while (*pp) pp = &(*pp)->next;
    *pp = f;
  } else {
    /* Out of memory: the file is never archived automatically, which is
     * safe (it stays for replay). */
    free(f);
    seqmap_free(&w->cur_regions);
  }
  pthread_mutex_unlock(&w->mu);
}

/* Rolls to a new file. The old one (if healthy) is hsynced and closed. On
 * failure the current file is kept when healthy. Syncer thread. */
static int roll(wal *w, bool healthy) {
  dfs_file *nf = NULL;
  char path[1024];
  /* A file the roller prepared (or is creating) has the next name: use it,
   * or the file names would no longer sort in the order of their records. */
  pthread_mutex_lock(&w->mu);
  while (w->next_wanted) pthread_cond_wait(&w->done, &w->mu);
  if (w->next) {
    nf = w->next;
    w->next = NULL;
    snprintf(path, sizeof path, "%s", w->next_path);
  }
  pthread_mutex_unlock(&w->mu);
  int rc = nf ? 0 : create_file(w, &nf, path, sizeof path);
  if (rc) return rc;
  bool had = w->cur != NULL;
  retire_current(w, healthy);
  w->cur = nf;
  w->cur_bytes = WAL_HEADER_LEN;
  w->cur_records = 0;
  w->cur_created = mono_ms();
  pthread_mutex_lock(&w->mu);
  snprintf(w->cur_path, sizeof w->cur_path, "%s", path);
  if (had) w->st.rolls++;
  if (had && !healthy) w->st.error_rolls++;
  w->st.live_files++;
  w->st.file_bytes = w->cur_bytes;
  pthread_mutex_unlock(&w->mu);
  archive_ready(w); /* a rename failure is retried later */
  return 0;
}

/* Size or age roll: switches to the prepared file and hands the current
 * one (its records end at txid last) to the roller. False if out of
 * memory (the caller rolls synchronously). Syncer thread, mu not held. */
static bool switch_to_next(wal *w, uint64_t last) {
  struct wal_file *f = calloc(1, sizeof *f);
  pthread_mutex_lock(&w->mu);
  while (w->retiring) pthread_cond_wait(&w->done, &w->mu); /* the last one still closing */
  if (!f || !(f->path = strdup(w->cur_path))) {
    pthread_mutex_unlock(&w->mu);
    free(f);
    return false;
  }
  f->f = w->cur;
  f->last_txid = last;
  f->regions = w->cur_regions; /* moved */
  memset(&w->cur_regions, 0, sizeof w->cur_regions);
  w->retiring = f;
  w->retired_hsynced = false; /* the roller advances hsynced_txid itself */
  w->cur = w->next;
  w->next = NULL;
  snprintf(w->cur_path, sizeof w->cur_path, "%s", w->next_path);
  w->cur_bytes = WAL_HEADER_LEN;
  w->cur_records = 0;
  w->cur_created = mono_ms();
  w->st.rolls++;
  w->st.live_files++;
  w->st.file_bytes = w->cur_bytes;
  pthread_cond_signal(&w->roller_work);
  pthread_mutex_unlock(&w->mu);
  return true;
}

/* The roller thread: prepares the next file and retires rolled ones. */
static void *roller_main(void *arg) {
  wal *w = arg;
  pthread_setname_np(pthread_self(), "wal-roller");
  pthread_mutex_lock(&w->mu);
  for (;;) {
    if (w->retiring) {
      struct wal_file *f = w->retiring;
      pthread_mutex_unlock(&w->mu);
      bool hsynced = dfs_hsync(f->f) == 0;
      dfs_close(f->f); /* already hflushed; a failed close leaves it for lease recovery */
      f->f = NULL;
      pthread_mutex_lock(&w->mu);
      struct wal_file **pp = &w->rolled;
      while (*pp) pp = &(*pp)->next;
      *pp = f;
      if (hsynced && f->last_txid > w->hsynced_txid) {
        w->hsynced_txid = f->last_txid;
        wake_synced(w, 0);
        wake_synced(w, 1);
      }
      w->retiring = NULL;
      pthread_cond_broadcast(&w->done);
      pthread_mutex_unlock(&w->mu);
      archive_ready(w); /* a rename failure is retried later */
      pthread_mutex_lock(&w->mu);
      continue;
    }
    if (w->next_wanted && !w->roller_stop) {
      pthread_mutex_unlock(&w->mu);
      dfs_file *nf = NULL;
      char path[1024];
      int rc = create_file(w, &nf, path, sizeof path);
      pthread_mutex_lock(&w->mu);
      w->next_wanted = false;
      if (rc == 0) {
        w->next = nf;
        snprintf(w->next_path, sizeof w->next_path, "%s", path);
      } else {
        w->next_failed = true;
      }
      pthread_cond_signal(&w->work);     /* a deferred roll can go ahead */
      pthread_cond_broadcast(&w->done); /* a synchronous one too */
      continue;
    }
    if (w->roller_stop) break;
    pthread_cond_wait(&w->roller_work, &w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Writes a batch and makes it durable; on a write failure rolls to a new
 * file and writes the batch again there (roll_retries times, backing off).
 * Syncer thread. */
static int write_batch(wal *w, struct batch *b, bool hs) {
  if (seqmap_merge_max(&w->cur_regions, &b->regions))
    return dfs_err_set(DFS_ENOMEM, "wal %s: out of memory", w->server);
  int rc = 0;
  /* The first write error, and the last roll error if rolling fails too:
   * messages of later attempts would only repeat them. */
  char first[1024] = "";
  for (int attempt = 0;; attempt++) {
    if (attempt > 0) {
      if (attempt > w->o.roll_retries) return rc;
      if (attempt > 1) {
        struct timespec ts = {0, 100000000L * (attempt - 1)};
        nanosleep(&ts, NULL);
      }
      /* The file is unusable: continue in a new one, with this batch again. */
      int rrc = roll(w, false);
      if (rrc) {
        rc = dfs_err_set(rrc, "%s; rolling to a new file failed (%d of %d): %s", first, attempt,
                         w->o.roll_retries, dfs_err_msg());
        continue;
      }
      if (seqmap_merge_max(&w->cur_regions, &b->regions))
        return dfs_err_set(DFS_ENOMEM, "wal %s: out of memory", w->server);
    }
    ssize_t n = b->len ? dfs_write(w->cur, b->buf, b->len) : 0;
    rc = n < 0 ? (int)n : hs ? dfs_hsync(w->cur) : dfs_hflush(w->cur);
    if (rc == 0) {
      w->cur_bytes += b->len;
      w->cur_records += b->n;
      return 0;
    }
    /* The DFS client's message names the file ("write <path>: ..."). */
    rc = dfs_err_set(rc, "wal %s: %s", w->server, dfs_err_msg());
    if (!first[0]) snprintf(first, sizeof first, "%s", dfs_err_msg());
  }
}

static void batch_reset(struct batch *b) {
  b->len = 0;
  b->n = 0;
  seqmap_clear(&b->regions);
}

static void *syncer_main(void *arg) {
  wal *w = arg;
  pthread_setname_np(pthread_self(), "wal-syncer");
  pthread_mutex_lock(&w->mu);
  for (;;) {
    int64_t now = mono_ms();
    bool sync_due = w->want_txid > w->synced_txid || w->want_hsync_txid > w->hsynced_txid;
    bool async_due = w->pending.len &&
                     (now - w->pending_since >= w->o.async_flush_ms ||
                      w->pending.len >= w->o.max_pending_bytes / 2);
    bool roll_asked = w->roll_req > w->roll_done;
    /* (not while the roller prepares the file to roll to) */
    bool age_due = w->cur_records > 0 && now - w->cur_created >= w->o.roll_period_ms &&
                   !w->next_wanted;
    if (w->failed) {
      if (w->closing) break;
      if (roll_asked) {
        w->roll_done = w->roll_req;
        w->roll_rc = w->failed;
        pthread_cond_broadcast(&w->done);
      }
      pthread_cond_wait(&w->work, &w->mu);
      continue;
    }
    if (!sync_due && !async_due && !roll_asked && !age_due && !w->closing) {
      int64_t deadline = now + w->o.roll_period_ms;
      if (w->cur_records > 0) deadline = w->cur_created + w->o.roll_period_ms;
      if (w->pending.len && w->pending_since + w->o.async_flush_ms < deadline)
        deadline = w->pending_since + w->o.async_flush_ms;
      cond_wait_until(&w->work, &w->mu, deadline);
      continue;
    }

    bool hs = w->o.hsync || w->want_hsync_txid > w->hsynced_txid;
    if (hs && w->retiring) {
      /* The old file first: hsynced_txid must not pass records in it. */
      pthread_cond_wait(&w->done, &w->mu);
      continue;
    }
    /* Take everything appended so far as one group. */
    struct batch tmp = w->pending;
    w->pending = w->inflight;
    w->inflight = tmp;
    w->pending_since = 0;
    w->pending_async = false;
    uint64_t last = w->appended_txid;
    uint64_t roll_target = w->roll_req;
    bool closing = w->closing;
    uint64_t gen = ++w->batch_gen;
    w->batch_inflight = true;
    w->batch_last = last;
    w->batch_hs = hs;
    pthread_cond_broadcast(&w->done); /* room for appenders waiting on max_pending_bytes */
    pthread_mutex_unlock(&w->mu);

    struct batch *b = &w->inflight;
    int rc = 0;
    bool wrote = false;
    if (b->len || (hs && last > w->hsynced_txid)) {
      rc = write_batch(w, b, hs);
      wrote = true;
    }
    char msg[1024] = "";
    if (rc) snprintf(msg, sizeof msg, "%s", dfs_err_msg());
    uint64_t nrec = b->n;
    batch_reset(b);

    bool rolled = false;
    int roll_rc = 0;
    if (rc == 0 && !closing) {
      pthread_mutex_lock(&w->mu);
      if (!w->next && !w->next_wanted && !w->next_failed &&
          ((w->o.roll_size && w->cur_bytes >= w->o.roll_size / 2) ||
           (w->cur_records > 0 && mono_ms() - w->cur_created >= w->o.roll_period_ms / 2))) {
        w->next_wanted = true; /* half way: prepare the file to roll to */
        pthread_cond_signal(&w->roller_work);
      }
      bool due = roll_asked || age_due || (w->o.roll_size && w->cur_bytes >= w->o.roll_size);
      bool have_next = w->next != NULL, preparing = w->next_wanted;
      if (due) w->next_failed = false; /* (a failed preparation: this roll is synchronous) */
      pthread_mutex_unlock(&w->mu);
      if (due && !roll_asked && have_next && switch_to_next(w, last)) {
        rolled = true;
      } else if (due && (roll_asked || !preparing || w->cur_bytes >= 2 * w->o.roll_size)) {
        /* (at twice the roll size, wait for the roller: files stay bounded
         * however slow the NameNode is) */
        roll_rc = roll(w, true);
        rolled = roll_rc == 0;
        if (roll_rc) w->cur_created = mono_ms(); /* retry an age roll later, not at once */
      } /* else: go on in this file until the roller has the next one */
    }
    char roll_msg[1024] = "";
    if (roll_rc) snprintf(roll_msg, sizeof roll_msg, "%s", dfs_err_msg());

    pthread_mutex_lock(&w->mu);
    if (rc == 0) {
      w->synced_txid = last;
      for (size_t i = 0; i < w->n_listeners; i++) w->listeners[i].fn(w->listeners[i].arg, last);
      if (hs || (rolled && w->retired_hsynced)) w->hsynced_txid = last;
      if (wrote) {
        w->st.syncs++;
        if (hs) w->st.hsyncs++;
        if (nrec > w->st.max_batch) w->st.max_batch = nrec;
      }
      w->st.synced_txid = last;
      w->st.file_bytes = w->cur_bytes;
    } else {
      set_failed(w, rc, msg);
    }
    if (roll_target > w->roll_done) {
      w->roll_done = roll_target;
      w->roll_rc = rc ? rc : roll_rc;
      snprintf(w->roll_msg, sizeof w->roll_msg, "%s", rc ? msg : roll_msg);
    }
    w->batch_inflight = false;
    /* (hsync waiters of gen + 1 are done too when the retired file was hsynced) */
    bool wake_next = rc == 0 && !hs && rolled && w->retired_hsynced;
    pthread_cond_broadcast(&w->done);
    bool stop = w->closing && w->pending.len == 0;
    /* Woken after mu is released: they go on to append. */
    pthread_mutex_unlock(&w->mu);
    wake_synced(w, (unsigned)(gen & 1));
    if (wake_next) wake_synced(w, (unsigned)((gen + 1) & 1));
    /* Let the writers just woken append before the next group is taken,
     * so that they join it rather than form a group of their own. */
    if (wrote && rc == 0 && !stop) sched_yield();
    pthread_mutex_lock(&w->mu);
    if (stop) break;
  }
  pthread_mutex_unlock(&w->mu);
  /* Closing: the last file joins the rolled ones (archived if flushed). */
  retire_current(w, !w->failed);
  return NULL;
}

static void opts_defaults(struct wal_opts *o) {
  if (o->roll_period_ms <= 0) o->roll_period_ms = 3600 * 1000;
  if (o->default_durability == WAL_USE_DEFAULT) o->default_durability = WAL_SYNC;
  if (o->async_flush_ms <= 0) o->async_flush_ms = 1000;
  if (o->max_pending_bytes == 0) o->max_pending_bytes = 64u << 20;
  if (o->roll_retries <= 0) o->roll_retries = 3;
}

static void wal_free(wal *w) {
  free(w->listeners);
  seqmap_free(&w->pending.regions);
  free(w->pending.buf);
  seqmap_free(&w->inflight.regions);
  free(w->inflight.buf);
  seqmap_free(&w->cur_regions);
  seqmap_free(&w->flushed);
  while (w->rolled) {
    struct wal_file *f = w->rolled;
    w->rolled = f->next;
    seqmap_free(&f->regions);
    free(f->path);
    free(f);
  }
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->work);
  pthread_cond_destroy(&w->roller_work);
  pthread_cond_destroy(&w->done);
  free(w->dir);
  free(w->archive);
  free(w->server);
  free(w);
}

/* Stops the roller (after its current work) and drops an unused prepared
 * file. */
static void stop_roller(wal *w) {
  if (!w->roller_started) return;
  pthread_mutex_lock(&w->mu);
  w->roller_stop = true;
  pthread_cond_signal(&w->roller_work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->roller, NULL);
  w->roller_started = false;
  if (w->next) {
    dfs_close(w->next);
    w->next = NULL;
    dfs_delete(w->fs, w->next_path, false); /* if it stays, it reads as an empty WAL */
  }
}

int wal_open(dfs_fs *fs, const char *root, const char *server, const struct wal_opts *o,
             wal **out) {
  *out = NULL;
  if (!fs || !root || !server || !*server || strchr(server, '/'))
    return dfs_err_set(DFS_EINVAL, "wal_open: bad arguments (server \"%s\")", server ? server : "");
  wal *w = calloc(1, sizeof *w);
  if (!w) return dfs_err_set(DFS_ENOMEM, "out of memory");
  w->fs = fs;
  if (o) w->o = *o;
  opts_defaults(&w->o);
  pthread_mutex_init(&w->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->work, &ca);
  pthread_cond_init(&w->roller_work, &ca);
  pthread_cond_init(&w->done, &ca);
  pthread_condattr_destroy(&ca);
  size_t rl = strlen(root);
  while (rl > 1 && root[rl - 1] == '/') rl--;
  if (rl == 1 && root[0] == '/') rl = 0;
  size_t cap = rl + strlen(server) + 16;
  w->dir = malloc(cap);
  w->archive = malloc(rl + 16);
  w->server = strdup(server);
  if (!w->dir || !w->archive || !w->server) {
    wal_free(w);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  snprintf(w->dir, cap, "%.*s/WALs/%s", (int)rl, root, server);
  snprintf(w->archive, rl + 16, "%.*s/oldWALs", (int)rl, root);
  int rc = dfs_mkdirs(fs, w->dir, 0755);
  if (rc == 0) rc = dfs_mkdirs(fs, w->archive, 0755);
  if (rc) {
    rc = dfs_err_set(rc, "wal %s: mkdirs %s: %s", server, w->dir, dfs_err_msg());
    wal_free(w);
    return rc;
  }
  rc = roll(w, true);
  if (rc) {
    wal_free(w);
    return rc;
  }
  if (w->o.roll_size == 0) {
    struct dfs_stat st;
    uint64_t bs = 128u << 20;
    if (dfs_stat(fs, w->cur_path, &st) == 0) {
      if (st.blocksize) bs = st.blocksize;
      dfs_stat_clear(&st);
    }
    w->o.roll_size = bs / 100 * 95;
  }
  if ((rc = pthread_create(&w->roller, NULL, roller_main, w)) != 0) {
    dfs_close(w->cur);
    wal_free(w);
    return dfs_err_set(DFS_EAGAIN, "wal %s: cannot start the roller thread", server);
  }
  w->roller_started = true;
  if ((rc = pthread_create(&w->syncer, NULL, syncer_main, w)) != 0) {
    stop_roller(w);
    dfs_close(w->cur);
    wal_free(w);
    return dfs_err_set(DFS_EAGAIN, "wal %s: cannot start the syncer thread", server);
  }
  *out = w;
  return 0;
}

int wal_append(wal *w, struct wal_entry *e, uint64_t *txid) {
  int rc = e->assign_seq ? 0 : (e->seq_id ? 0 : dfs_err_set(DFS_EINVAL, "wal entry: sequence id 0"));
  if (rc == 0) rc = wal_entry_validate(e);
  if (rc) return rc;
  if (e->write_time_ms == 0) e->write_time_ms = wall_ms();
  size_t size = wal_record_size(e);
  pthread_mutex_lock(&w->mu);
  while (!w->failed && !w->closing && w->pending.len >= w->o.max_pending_bytes) {
    pthread_cond_signal(&w->work);
    pthread_cond_wait(&w->done, &w->mu);
  }
  if (w->failed) {
    rc = failed_err(w);
    goto out;
  }
  if (w->closing) {
    rc = dfs_err_set(DFS_ECLOSED, "wal %s: closing", w->server);
    goto out;
  }
  struct batch *b = &w->pending;
  if (b->len + size > b->cap) {
    size_t ncap = b->cap ? b->cap : 64 * 1024;
    while (ncap < b->len + size) ncap *= 2;
    uint8_t *nb = realloc(b->buf, ncap);
    if (!nb) {
      rc = dfs_err_set(DFS_ENOMEM, "wal %s: out of memory for %zu bytes", w->server, ncap);
      goto out;
    }
    b->buf = nb;
    b->cap = ncap;
  }
  if (e->assign_seq) e->seq_id = e->assign_seq(e->assign_arg);
  if (e->seq_id == 0) {
    rc = dfs_err_set(DFS_EINVAL, "wal entry: sequence id 0");
    goto out;
  }
  if (seqmap_put_max(&b->regions, e->region, e->region_len, e->seq_id)) {
    rc = dfs_err_set(DFS_ENOMEM, "wal %s: out of memory", w->server);
    goto out;
  }
  wal_record_encode(e, b->buf + b->len);
  b->len += size;
  b->n++;
  bool wake = false;
  if (!w->pending_since) w->pending_since = mono_ms();
  /* The syncer may sleep until a roll is due: the first edit of a batch
   * that nobody will sync (ASYNC) gives it the async deadline. Not an edit
   * whose writer syncs next: it wakes the syncer then, and a wake-up now
   * would be one more for nothing (on a busy machine each costs the syncer
   * a wait for a CPU). */
  enum wal_durability d = wal_effective_durability(w, (enum wal_durability)e->durability);
  if (d != WAL_SYNC && d != WAL_FSYNC && !w->pending_async) {
    w->pending_async = true;
    wake = true;
  }
  *txid = ++w->appended_txid;
  w->st.appends++;
  w->st.append_bytes += size;
  w->st.appended_txid = w->appended_txid;
  if (b->len >= w->o.max_pending_bytes / 2) wake = true;
  pthread_mutex_unlock(&w->mu);
  /* After unlocking: the syncer would otherwise wake only to wait for mu. */
  if (wake) pthread_cond_signal(&w->work);
  return 0;
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int wal_sync(wal *w, uint64_t txid, enum wal_durability durability) {
  if (durability == WAL_USE_DEFAULT) durability = w->o.default_durability;
  if (durability == WAL_SKIP || durability == WAL_ASYNC) return 0;
  bool fsync = durability == WAL_FSYNC || w->o.hsync;
  int rc = 0;
  pthread_mutex_lock(&w->mu);
  if (txid > w->appended_txid) {
    rc = dfs_err_set(DFS_EINVAL, "wal %s: sync of txid %" PRIu64 ", only %" PRIu64 " appended",
                     w->server, txid, w->appended_txid);
    goto out;
  }
  _Atomic uint64_t *have = fsync ? &w->hsynced_txid : &w->synced_txid;
  if (*have < txid) {
    if (txid > w->want_txid) w->want_txid = txid;
    if (fsync && txid > w->want_hsync_txid) w->want_hsync_txid = txid;
    bool wake = true;
    while (*have < txid && !w->failed) {
      bool covered = w->batch_inflight && txid <= w->batch_last && (!fsync || w->batch_hs);
      unsigned i = (unsigned)((covered ? w->batch_gen : w->batch_gen + 1) & 1);
      /* Read under mu: a wake-up after this changes the word, and the
       * futex wait then returns at once. */
      uint32_t v = atomic_load_explicit(&w->synced_word[i], memory_order_acquire);
      pthread_mutex_unlock(&w->mu);
      /* The want_* fields were set under mu; signalled after unlocking so
       * that the syncer does not wake only to wait for mu. */
      if (wake) pthread_cond_signal(&w->work);
      wake = false;
      wait_synced(w, i, v);
      if (*have >= txid) return 0; /* the common case: no mu again */
      pthread_mutex_lock(&w->mu);
    }
    if (*have < txid) rc = failed_err(w);
  }
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int wal_roll(wal *w) {
  pthread_mutex_lock(&w->mu);
  if (w->failed) {
    int rc = failed_err(w);
    pthread_mutex_unlock(&w->mu);
    return rc;
  }
  uint64_t mine = ++w->roll_req;
  pthread_cond_signal(&w->work);
  while (w->roll_done < mine) pthread_cond_wait(&w->done, &w->mu);
  int rc = w->roll_rc;
  if (rc) rc = dfs_err_set(rc, "wal %s: roll: %s", w->server, w->failed ? w->failed_msg : w->roll_msg);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int wal_region_flushed(wal *w, const uint8_t *region, uint32_t region_len, uint64_t flushed_seq) {
  pthread_mutex_lock(&w->mu);
  int rc = seqmap_put_max(&w->flushed, region, region_len, flushed_seq);
  pthread_mutex_unlock(&w->mu);
  if (rc) return dfs_err_set(rc, "wal %s: out of memory", w->server);
  return archive_ready(w);
}

int wal_close(wal *w) {
  if (!w) return 0;
  pthread_mutex_lock(&w->mu);
  w->closing = true;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->syncer, NULL);
  stop_roller(w);
  int rc = w->failed ? failed_err(w) : 0;
  int arc = archive_ready(w);
  if (!rc) rc = arc;
  wal_free(w);
  return rc;
}

int wal_add_listener(wal *w, wal_synced_fn fn, void *arg) {
  pthread_mutex_lock(&w->mu);
  if (w->n_listeners == w->listeners_cap) {
    size_t ncap = w->listeners_cap ? w->listeners_cap * 2 : 8;
    struct wal_listener *nl = realloc(w->listeners, ncap * sizeof *nl);
    if (!nl) {
      pthread_mutex_unlock(&w->mu);
      return dfs_err_set(DFS_ENOMEM, "wal %s: out of memory", w->server);
    }
    w->listeners = nl;
    w->listeners_cap = ncap;
  }
  w->listeners[w->n_listeners++] = (struct wal_listener){fn, arg};
  pthread_mutex_unlock(&w->mu);
  return 0;
}

void wal_remove_listener(wal *w, wal_synced_fn fn, void *arg) {
  pthread_mutex_lock(&w->mu);
  for (size_t i = 0; i < w->n_listeners; i++) {
    if (w->listeners[i].fn == fn && w->listeners[i].arg == arg) {
      w->listeners[i] = w->listeners[--w->n_listeners];
      break;
    }
  }
  pthread_mutex_unlock(&w->mu);
}

enum wal_durability wal_effective_durability(const wal *w, enum wal_durability d) {
  return d == WAL_USE_DEFAULT ? w->o.default_durability : d;
}

void wal_get_stats(wal *w, struct wal_stats *st) {
  pthread_mutex_lock(&w->mu);
  *st = w->st;
  pthread_mutex_unlock(&w->mu);
}

void wal_current_path(wal *w, char *buf, size_t cap) {
  pthread_mutex_lock(&w->mu);
  snprintf(buf, cap, "%s", w->cur_path);
  pthread_mutex_unlock(&w->mu);
}

const char *wal_dir(const wal *w) { return w->dir; }
const char *wal_archive_dir(const wal *w) { return w->archive; }
