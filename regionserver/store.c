/*
 * store.c - one column family of a region: MemStore + store files, flush,
 * compaction (store.h).
 *
 * The current files are a `struct file_list`, immutable once published and
 * freed by its last reference. `list_lock` guards only the pointer to it,
 * the list of replaced files and the counters; it is held for a few
 * pointer moves (and, in a flush, the MemStore's snapshot drop), never
 * across I/O. New files are written by `struct file_out` under .tmp and
 * renamed into the family directory before anyone can see them.
 */
#include "bytes.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "compactor.h"
#include "errors.h"
#include "store_file.h"
#include "store_scanner.h"

#define THROTTLE_STEP (64u << 10)

struct file_list {
  atomic_uint refs;
  size_t n;
  struct store_file *f[]; /* oldest first: by max seq id, then name */
};

struct store {
  dfs_fs *fs;
  struct block_cache *cache;
  struct store_opts o;     /* o.family points at family */
  char *family, *region_dir, *dir, *tmp_dir;
  uint64_t jitter_seed;
  struct memstore *ms;
  pthread_mutex_t flush_mu;       /* one flush commit at a time */
  atomic_bool compacting;         /* one compaction at a time */
  atomic_uint_fast64_t max_seq_id;
  pthread_mutex_t list_lock;
  struct file_list *cur;          /* guarded by list_lock */
  struct store_file **replaced;   /* guarded by list_lock: out of the list, not yet deleted */
  size_t n_replaced, cap_replaced;
  struct store_stats st;          /* counters guarded by list_lock */
};

/* ---- small helpers ------------------------------------------------------- */

static int64_t now_ms(const struct store *s) {
  if (s->o.now_ms) return s->o.now_ms(s->o.now_arg);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *join(const char *a, const char *b, const char *c) {
  size_t n = strlen(a) + strlen(b) + (c ? strlen(c) + 1 : 0) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, c ? "%s/%s/%s" : "%s/%s", a, b, c);
  return p;
}

/* 128 random bits in hex: unique without coordination (HBase uses UUIDs). */
static int new_name(char name[40]) {
  uint8_t r[16];
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t k = getrandom(r + got, sizeof r - got, 0);
    if (k < 0) return dfs_err_set(DFS_EIO, "store: getrandom failed");
    got += (size_t)k;
  }
  for (int i = 0; i < 16; i++) snprintf(name + 2 * i, 3, "%02x", r[i]);
  return 0;
}

/* Copies the thread's error message, which the next dfs_err_set reuses. */
static const char *why(char *buf, size_t cap) {
  snprintf(buf, cap, "%s", dfs_err_msg());
  return buf;
}

/* ---- file lists ------------------------------------------------------------ */

static struct file_list *list_new(size_t n) {
  struct file_list *l = malloc(sizeof *l + n * sizeof l->f[0]);
  if (!l) return NULL;
  atomic_init(&l->refs, 1);
  l->n = n;
  return l;
}

static void list_unref(struct file_list *l) {
  if (!l || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < l->n; i++) store_file_unref(l->f[i]);
  free(l);
}

static struct file_list *current(struct store *s) {
  pthread_mutex_lock(&s->list_lock);
  struct file_list *l = s->cur;
  atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&s->list_lock);
  return l;
}

static int file_order(const void *a, const void *b) {
  const struct store_file *x = *(struct store_file *const *)a, *y = *(struct store_file *const *)b;
  uint64_t sx = store_file_max_seq_id(x), sy = store_file_max_seq_id(y);
  if (sx != sy) return sx < sy ? -1 : 1;
  return strcmp(store_file_name(x), store_file_name(y));
}

/* A new list: old minus drop[0..ndrop) plus add (may be NULL), each file
 * referenced anew. NULL on ENOMEM. */
static struct file_list *list_derive(const struct file_list *old, struct store_file *const *drop,
                                     size_t ndrop, struct store_file *add) {
  struct file_list *l = list_new(old->n + 1);
  if (!l) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < old->n; i++) {
    bool gone = false;
    for (size_t j = 0; j < ndrop && !gone; j++) gone = old->f[i] == drop[j];
    if (!gone) l->f[n++] = old->f[i];
  }
  if (add) l->f[n++] = add;
  l->n = n;
  qsort(l->f, n, sizeof l->f[0], file_order);
  for (size_t i = 0; i < n; i++) store_file_ref(l->f[i]);
  return l;
}

/* ---- writing a new store file --------------------------------------------- */

struct file_out {
  char name[40];
  char *tmp, *final;
  dfs_file *f;
  struct hb_out *out;
  struct hfile_writer *w;
  uint64_t cells, key_bytes;
  /* the previous key, copied: exact duplicates are dropped */
  struct cell prev;
  bool have_prev;
  uint8_t *kbuf;
  size_t kcap;
  uint64_t cache_id; /* cache on write: the blocks' file id; 0: none */
};

static void fo_abort(struct store *s, struct file_out *fo) {
  hfile_writer_abort(fo->w);
  /* (once opened, the file's reader owns the cached blocks: cache_id is 0) */
  if (fo->cache_id) block_cache_evict_file(s->cache, fo->cache_id);
  hb_out_free(fo->out);
  if (fo->f) dfs_close(fo->f);
  if (fo->tmp) dfs_delete(s->fs, fo->tmp, false);
  free(fo->tmp);
  free(fo->final);
  free(fo->kbuf);
  memset(fo, 0, sizeof *fo);
}

/* cache: cache on write for this file (store_opts.cache_on_write decides
 * too). */
static int fo_open(struct store *s, struct file_out *fo, bool cache) {
  memset(fo, 0, sizeof *fo);
  int rc = new_name(fo->name);
  if (rc) return rc;
  fo->tmp = join(s->tmp_dir, fo->name, NULL);
  fo->final = join(s->dir, fo->name, NULL);
  if (!fo->tmp || !fo->final) {
    fo_abort(s, fo);
    return dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
  }
  struct dfs_create_opts co = {.replication = s->o.replication, .blocksize = s->o.dfs_blocksize};
  rc = dfs_create(s->fs, fo->tmp, &co, &fo->f);
  if (rc) {
    char b[512];
    dfs_err_set(rc, "store %s: create %s: %s", s->dir, fo->tmp, why(b, sizeof b));
    free(fo->tmp);
    fo->tmp = NULL; /* not ours to delete */
    fo_abort(s, fo);
    return rc;
  }
  if ((rc = hb_out_dfs(fo->f, &fo->out)) != 0) {
    fo_abort(s, fo);
    return rc;
  }
  if (cache && s->o.cache_on_write && s->cache) fo->cache_id = block_cache_new_file_id(s->cache);
  struct hfile_writer_opts wo = {.block_size = s->o.block_size,
                                 .compression = s->o.compression,
                                 .no_bloom = !s->o.bloom,
                                 .name = fo->tmp,
                                 .cache = fo->cache_id ? s->cache : NULL,
                                 .cache_file_id = fo->cache_id};
  if ((rc = hfile_writer_open(fo->out, &wo, &fo->w)) != 0) {
    fo_abort(s, fo);
    return rc;
  }
  return 0;
}

/* Appends c unless it equals the previous cell (same key and seq id: a
 * mutation that named one cell twice, or a replayed edit). */
static int fo_append(struct file_out *fo, const struct cell *c) {
  if (fo->have_prev && cell_compare(&fo->prev, c) == 0) return 0;
  int rc = hfile_writer_append(fo->w, c);
  if (rc) return rc;
  fo->cells++;
  size_t need = (size_t)c->row_len + c->family_len + c->qualifier_len;
  fo->key_bytes += need + c->value_len;
  if (need > fo->kcap) {
    size_t n = fo->kcap ? fo->kcap : 256;
    while (n < need) n *= 2;
    uint8_t *p = realloc(fo->kbuf, n);
    if (!p) return dfs_err_set(DFS_ENOMEM, "store: out of memory for a %zu-byte key", need);
    fo->kbuf = p;
    fo->kcap = n;
  }
  fo->prev = *c;
  uint8_t *p = fo->kbuf;
  if (c->row_len) memcpy(p, c->row, c->row_len);
  fo->prev.row = p;
  p += c->row_len;
  if (c->family_len) memcpy(p, c->family, c->family_len);
  fo->prev.family = p;
  p += c->family_len;
  if (c->qualifier_len) memcpy(p, c->qualifier, c->qualifier_len);
  fo->prev.qualifier = p;
  fo->prev.value = NULL;
  fo->prev.value_len = 0;
  fo->have_prev = true;
  return 0;
}

/* Sets the store's file info, completes the file, renames it into the
 * family directory and opens it. On failure nothing is left behind. */
static int fo_finish(struct store *s, struct file_out *fo, uint64_t max_seq, bool major,
                     const char *from, struct store_file **out) {
  uint8_t seq[8], ct[8], mj = major ? 1 : 0;
  dfs_put_be64(seq, max_seq);
  dfs_put_be64(ct, (uint64_t)now_ms(s));
  int rc = hfile_writer_set_info(fo->w, STORE_FILE_INFO_MAX_SEQ_ID, seq, 8);
  if (!rc) rc = hfile_writer_set_info(fo->w, STORE_FILE_INFO_MAJOR, &mj, 1);
  if (!rc) rc = hfile_writer_set_info(fo->w, STORE_FILE_INFO_CREATE_TIME, ct, 8);
  if (!rc && from) rc = hfile_writer_set_info(fo->w, STORE_FILE_INFO_COMPACTED_FROM, from,
                                              strlen(from));
  if (rc) {
    fo_abort(s, fo);
    return rc;
  }
  rc = hfile_writer_close(fo->w);
  fo->w = NULL;
  hb_out_free(fo->out);
  fo->out = NULL;
  int crc = dfs_close(fo->f);
  fo->f = NULL;
  if (!rc && crc) {
    char b[512];
    rc = dfs_err_set(crc, "store %s: close %s: %s", s->dir, fo->tmp, why(b, sizeof b));
  }
  if (!rc && (rc = dfs_rename(s->fs, fo->tmp, fo->final, false)) != 0) {
    char b[512];
    dfs_err_set(rc, "store %s: rename %s -> %s: %s", s->dir, fo->tmp, fo->final,
                why(b, sizeof b));
  }
  if (rc) {
    fo_abort(s, fo);
    return rc;
  }
  free(fo->tmp);
  fo->tmp = NULL; /* renamed: nothing in .tmp any more */
  rc = store_file_open_as(s->fs, fo->final, s->cache, fo->cache_id, out);
  if (rc == 0) fo->cache_id = 0; /* the reader's now */
  if (rc) {
    char b[512];
    why(b, sizeof b);
    dfs_delete(s->fs, fo->final, false); /* never leave a file the list does not know */
    dfs_err_set(rc, "%s", b);
  }
  fo_abort(s, fo);
  return rc;
}

/* ---- open / close ----------------------------------------------------------- */

void store_opts_init(struct store_opts *o) {
  memset(o, 0, sizeof *o);
  o->fam.max_versions = 1;
  o->fam.ttl_ms = INT64_MAX;
  o->bloom = true;
  compaction_policy_conf_init(&o->policy);
}

void store_scan_hints_init(struct store_scan_hints *h) {
  memset(h, 0, sizeof *h);
  h->tr_min = INT64_MIN;
}

static bool family_name_ok(const char *f) {
  return f && f[0] && !strchr(f, '/') && strcmp(f, ".") != 0 && strcmp(f, "..") != 0 &&
         strlen(f) <= CELL_MAX_FAMILY;
}

static void store_free(struct store *s) {
  if (s->cur) list_unref(s->cur);
  for (size_t i = 0; i < s->n_replaced; i++) store_file_unref(s->replaced[i]);
  free(s->replaced);
  if (s->ms) memstore_destroy(s->ms);
  pthread_mutex_destroy(&s->flush_mu);
  pthread_mutex_destroy(&s->list_lock);
  free(s->family);
  free(s->region_dir);
  free(s->dir);
  free(s->tmp_dir);
  free(s);
}

/* Whether name is an input that another file's COMPACTED_FROM names. */
static bool compacted_away(struct store_file *const *files, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    const char *const *from;
    size_t nf;
    store_file_compacted_from(files[i], &from, &nf);
    for (size_t j = 0; j < nf; j++)
      if (strcmp(from[j], name) == 0) return true;
  }
  return false;
}

static int load_files(struct store *s) {
  struct dfs_stat *ents = NULL;
  size_t n = 0;
  int rc = dfs_list(s->fs, s->dir, &ents, &n);
  if (rc) {
    char b[512];
    return dfs_err_set(rc, "store %s: list: %s", s->dir, why(b, sizeof b));
  }
  struct file_list *l = list_new(n);
  if (!l) {
    dfs_stats_free(ents, n);
    return dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
  }
  l->n = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (ents[i].type != DFS_TYPE_FILE) continue;
    char *path = join(s->dir, ents[i].name, NULL);
    if (!path) {
      rc = dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
      break;
    }
    rc = store_file_open(s->fs, path, s->cache, &l->f[l->n]);
    if (rc == 0) l->n++;
    free(path);
  }
  dfs_stats_free(ents, n);
  /* Inputs of a compaction that completed but crashed before deleting
   * them: their cells are all in the output. */
  bool *away = rc == 0 ? calloc(l->n ? l->n : 1, sizeof *away) : NULL;
  if (rc == 0 && !away) rc = dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
  for (size_t i = 0; i < l->n && rc == 0; i++)
    away[i] = compacted_away(l->f, l->n, store_file_name(l->f[i]));
  size_t keep = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (away && away[i]) {
      dfs_delete(s->fs, store_file_path(l->f[i]), false);
      store_file_unref(l->f[i]);
    } else {
      l->f[keep++] = l->f[i];
    }
  }
  l->n = keep;
  free(away);
  if (rc) {
    list_unref(l);
    return rc;
  }
  qsort(l->f, l->n, sizeof l->f[0], file_order);
  uint64_t max = 0;
  for (size_t i = 0; i < l->n; i++)
    if (store_file_max_seq_id(l->f[i]) > max) max = store_file_max_seq_id(l->f[i]);
  atomic_store(&s->max_seq_id, max);
  s->cur = l;
  return 0;
}

int store_open(dfs_fs *fs, const char *region_dir, const struct store_opts *o,
               struct block_cache *cache, struct store **out) {
  if (!family_name_ok(o->family))
    return dfs_err_set(DFS_EINVAL, "store %s: bad family name \"%s\"", region_dir,
                       o->family ? o->family : "(null)");
  struct store *s = calloc(1, sizeof *s);
  if (!s) return dfs_err_set(DFS_ENOMEM, "store: out of memory");
  pthread_mutex_init(&s->flush_mu, NULL);
  pthread_mutex_init(&s->list_lock, NULL);
  s->fs = fs;
  s->cache = cache;
  s->o = *o;
  s->family = strdup(o->family);
  s->region_dir = strdup(region_dir);
  s->dir = join(region_dir, o->family, NULL);
  s->tmp_dir = join(region_dir, ".tmp", o->family);
  s->ms = memstore_create(o->memstore_chunk_size);
  if (!s->family || !s->region_dir || !s->dir || !s->tmp_dir || !s->ms) {
    store_free(s);
    return dfs_err_set(DFS_ENOMEM, "store: out of memory");
  }
  s->o.family = s->family;
  uint64_t h = 1469598103934665603ull; /* FNV-1a of the directory: the jitter's seed */
  for (const char *p = s->dir; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  s->jitter_seed = h;
  char b[512];
  int rc = dfs_mkdirs(fs, s->dir, 0755);
  if (rc) {
    dfs_err_set(rc, "store %s: mkdirs: %s", s->dir, why(b, sizeof b));
    store_free(s);
    return rc;
  }
  rc = dfs_delete(fs, s->tmp_dir, true); /* half-written files of a crashed flush/compaction */
  if (rc && rc != DFS_ENOENT) {
    dfs_err_set(rc, "store %s: delete %s: %s", s->dir, s->tmp_dir, why(b, sizeof b));
    store_free(s);
    return rc;
  }
  if ((rc = load_files(s)) != 0) {
    store_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(struct store *s) {
  if (!s) return;
  if (s->o.compactor) compactor_forget_store(s->o.compactor, s);
  store_cleanup(s);
  store_free(s);
}

const char *store_family(const struct store *s) { return s->family; }
const char *store_dir(const struct store *s) { return s->dir; }
uint64_t store_max_seq_id(const struct store *s) {
  return atomic_load(&((struct store *)s)->max_seq_id);
}
struct memstore *store_memstore(struct store *s) { return s->ms; }

int store_add(struct store *s, const struct cell *c, struct memstore_size *delta) {
  return memstore_add(s->ms, c, delta);
}

int store_add_cells(struct store *s, const struct cell *cells, size_t n,
                    struct memstore_size *delta) {
  return memstore_add_cells(s->ms, cells, n, delta);
}

/* ---- reads ------------------------------------------------------------------- */

/* Whether file f can hold a cell the read wants. */
static bool file_wanted(const struct store *s, struct store_file *f,
                        const struct store_scan_hints *h, int64_t oldest_ts) {
  if (store_file_entries(f) == 0) return false;
  int64_t max_ts = store_file_max_timestamp(f);
  if (max_ts < h->tr_min) return false;
  if (s->o.fam.min_versions == 0 && max_ts < oldest_ts) return false;
  if (h->row && !hfile_reader_may_contain_row(store_file_reader(f), h->row, h->row_len))
    return false;
  return true;
}

int store_get_scanners(struct store *s, uint64_t read_point, const struct store_scan_hints *hints,
                       struct kv_scanner ***out, size_t *n) {
  struct store_scan_hints none;
  if (!hints) {
    store_scan_hints_init(&none);
    hints = &none;
  }
  int64_t oldest = qm_oldest_ts(hints->now_ms ? hints->now_ms : now_ms(s), s->o.fam.ttl_ms);
  /* The list and the MemStore scanner are taken together, so a flush that
   * publishes its file and drops its snapshot in one step is seen either
   * before or after, never half. */
  pthread_mutex_lock(&s->list_lock);
  struct file_list *l = s->cur;
  atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
  struct kv_scanner *msc = kv_scanner_memstore_open(s->ms, read_point, UINT64_MAX);
  pthread_mutex_unlock(&s->list_lock);
  struct kv_scanner **v = msc ? calloc(l->n + 1, sizeof *v) : NULL;
  if (!v) {
    kv_scanner_close(msc);
    list_unref(l);
    return dfs_err_set(DFS_ENOMEM, "store %s: out of memory for scanners", s->dir);
  }
  size_t k = 0;
  v[k++] = msc;
  for (size_t i = 0; i < l->n; i++) {
    if (!file_wanted(s, l->f[i], hints, oldest)) continue;
    struct kv_scanner *fs = store_file_scanner(l->f[i], i + 1);
    if (!fs) {
      for (size_t j = 0; j < k; j++) kv_scanner_close(v[j]);
      free(v);
      list_unref(l);
      return DFS_ENOMEM;
    }
    v[k++] = fs;
  }
  list_unref(l);
  *out = v;
  *n = k;
  return 0;
}

/* ---- flush -------------------------------------------------------------------- */

int store_flush_prepare(struct store *s, struct memstore_info *info) {
  int rc = memstore_snapshot(s->ms, info);
  if (rc == DFS_EEXIST)
    return dfs_err_set(rc, "store %s: a flush snapshot is already pending", s->dir);
  return rc;
}

static void maybe_request_compaction(struct store *s) {
  if (s->o.compactor && store_needs_compaction(s)) compactor_request(s->o.compactor, s, false);
}

/* Publishes `add` (and drops `drop`) as the current list; with snapshot,
 * drops the MemStore snapshot in the same critical section. */
static int publish(struct store *s, struct store_file *add, struct store_file *const *drop,
                   size_t ndrop, bool snapshot) {
  pthread_mutex_lock(&s->list_lock);
  struct file_list *old = s->cur;
  struct file_list *l = list_derive(old, drop, ndrop, add);
  if (!l || s->n_replaced + ndrop > s->cap_replaced) {
    size_t cap = s->cap_replaced * 2 + ndrop + 4;
    struct store_file **p = l ? realloc(s->replaced, cap * sizeof *p) : NULL;
    if (!p) {
      pthread_mutex_unlock(&s->list_lock);
      list_unref(l);
      return dfs_err_set(DFS_ENOMEM, "store %s: out of memory publishing files", s->dir);
    }
    s->replaced = p;
    s->cap_replaced = cap;
  }
  for (size_t i = 0; i < ndrop; i++) {
    store_file_ref(drop[i]);
    s->replaced[s->n_replaced++] = drop[i];
  }
  s->cur = l;
  if (snapshot) memstore_clear_snapshot(s->ms);
  pthread_mutex_unlock(&s->list_lock);
  list_unref(old);
  uint64_t m = store_file_max_seq_id(add), cur = atomic_load(&s->max_seq_id);
  while (m > cur && !atomic_compare_exchange_weak(&s->max_seq_id, &cur, m)) {
  }
  return 0;
}

int store_flush_commit(struct store *s, uint64_t flush_seq_id, struct store_flush_result *res) {
  struct store_flush_result dummy;
  if (!res) res = &dummy;
  memset(res, 0, sizeof *res);
  pthread_mutex_lock(&s->flush_mu);
  int rc = 0;
  if (!memstore_has_snapshot(s->ms)) {
    rc = dfs_err_set(DFS_ENOENT, "store %s: flush commit without a snapshot", s->dir);
    goto out;
  }
  struct memstore_info snap;
  memstore_get_info(s->ms, NULL, &snap);
  if (snap.size.cells == 0) {
    pthread_mutex_lock(&s->list_lock);
    memstore_clear_snapshot(s->ms);
    pthread_mutex_unlock(&s->list_lock);
    goto out;
  }
  struct memstore_scanner *sc = memstore_snapshot_scanner_open(s->ms);
  if (!sc) {
    rc = dfs_err_set(DFS_ENOMEM, "store %s: out of memory for the flush scanner", s->dir);
    goto out;
  }
  struct file_out fo;
  if ((rc = fo_open(s, &fo, true)) != 0) {
    memstore_scanner_close(sc);
    goto out;
  }
  uint64_t pending = 0;
  for (const struct cell *c; (c = memstore_scanner_next(sc)) != NULL;) {
    if ((rc = fo_append(&fo, c)) != 0) break;
    pending += cell_encoded_size(c);
    if (pending >= THROTTLE_STEP && s->o.flush_pace) {
      s->o.flush_pace(s->o.flush_pace_arg, pending);
      pending = 0;
    }
  }
  memstore_scanner_close(sc);
  if (rc) {
    char b[512];
    dfs_err_set(rc, "store %s: flush to %s: %s", s->dir, fo.tmp, why(b, sizeof b));
    fo_abort(s, &fo);
    goto out;
  }
  uint64_t max_seq = snap.max_seq_id > flush_seq_id ? snap.max_seq_id : flush_seq_id;
  uint64_t cells = fo.cells;
  snprintf(res->name, sizeof res->name, "%s", fo.name);
  struct store_file *sf;
  if ((rc = fo_finish(s, &fo, max_seq, false, NULL, &sf)) != 0) goto out;
  if ((rc = publish(s, sf, NULL, 0, true)) != 0) {
    dfs_delete(s->fs, store_file_path(sf), false);
    store_file_unref(sf);
    goto out;
  }
  res->cells = cells;
  res->bytes = store_file_size(sf);
  res->max_seq_id = store_file_max_seq_id(sf);
  pthread_mutex_lock(&s->list_lock);
  s->st.flushes++;
  s->st.bytes_flushed += res->bytes;
  pthread_mutex_unlock(&s->list_lock);
  store_file_unref(sf); /* the list holds it */
out:
  if (rc) res->name[0] = 0;
  pthread_mutex_unlock(&s->flush_mu);
  if (rc == 0) {
    store_cleanup(s);
    maybe_request_compaction(s);
  }
  return rc;
}

/* ---- compaction ---------------------------------------------------------------- */

static void fill_cp(const struct file_list *l, struct cp_file *cp) {
  for (size_t i = 0; i < l->n; i++) {
    cp[i].size = store_file_size(l->f[i]);
    cp[i].created_ms = store_file_created_ms(l->f[i]);
    cp[i].min_timestamp = store_file_min_timestamp(l->f[i]);
    cp[i].major_compacted = store_file_major_compacted(l->f[i]);
  }
}

static void cp_req(const struct store *s, bool major, struct cp_request *r) {
  r->force_major = major;
  r->now_ms = now_ms(s);
  r->oldest_ts = qm_oldest_ts(r->now_ms, s->o.fam.ttl_ms);
  r->jitter_seed = s->jitter_seed;
}

bool store_needs_compaction(struct store *s) {
  if (atomic_load(&s->compacting)) return false;
  struct file_list *l = current(s);
  bool need = compaction_policy_needs_compaction(&s->o.policy, l->n);
  if (!need && l->n > 0) {
    struct cp_file *cp = malloc(l->n * sizeof *cp);
    if (cp) {
      struct cp_request r;
      cp_req(s, false, &r);
      fill_cp(l, cp);
      need = compaction_policy_major_due(&s->o.policy, cp, l->n, &r);
      free(cp);
    }
  }
  list_unref(l);
  return need;
}

/* Merges files[0..n) into fo. */
static int merge_into(struct store *s, struct store_file *const *files, size_t n, size_t first_order,
                      bool drop_markers, const struct store_compact_opts *o,
                      struct file_out *fo, struct store_compaction_result *res) {
  struct kv_scanner **src = calloc(n ? n : 1, sizeof *src);
  if (!src) return dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
  for (size_t i = 0; i < n; i++) {
    src[i] = store_file_scanner(files[i], first_order + i);
    if (!src[i]) {
      for (size_t j = 0; j < i; j++) kv_scanner_close(src[j]);
      free(src);
      return DFS_ENOMEM;
    }
  }
  int64_t now = now_ms(s);
  struct qm_config cfg = {
      .mode = drop_markers ? QM_COMPACT_MAJOR : QM_COMPACT_MINOR,
      .max_versions = s->o.fam.max_versions,
      .min_versions = s->o.fam.min_versions,
      .oldest_ts = qm_oldest_ts(now, s->o.fam.ttl_ms),
      .tr_min = INT64_MIN,
      .tr_max = INT64_MAX,
      .read_point = s->o.smallest_read_point ? s->o.smallest_read_point(s->o.read_point_arg)
                                             : UINT64_MAX,
  };
  struct store_scanner *ss;
  int rc = store_scanner_open(src, n, &cfg, false, &ss); /* takes the sources */
  free(src);
  if (rc) return rc;
  rc = store_scanner_start(ss, NULL, 0);
  uint64_t pending = 0;
  const struct cell *c;
  while (rc >= 0 && (rc = store_scanner_next_cell(ss, &c)) == 1) {
    if ((rc = fo_append(fo, c)) != 0) break;
    pending += cell_encoded_size(c);
    if (pending >= THROTTLE_STEP && o->throttle) {
      rc = o->throttle(o->throttle_arg, pending);
      if (rc) {
        rc = dfs_err_set(rc < 0 ? rc : DFS_ECANCELED, "store %s: compaction cancelled", s->dir);
        break;
      }
      pending = 0;
    }
  }
  if (rc == 0 && pending && o->throttle) {
    rc = o->throttle(o->throttle_arg, pending);
    if (rc) rc = dfs_err_set(rc < 0 ? rc : DFS_ECANCELED, "store %s: compaction cancelled", s->dir);
  }
  store_scanner_close(ss);
  res->cells_out = fo->cells;
  return rc < 0 ? rc : 0;
}

/* The COMPACTED_FROM value of a compaction of in[0..n): their names, and
 * the names they list themselves that are still on the DFS (replaced but
 * read by someone): if D replaced A, B, C and E now replaces D while A is
 * still being read, a crash must not let A come back next to E. */
static int compacted_from(struct store *s, struct store_file *const *in, size_t n, char **out) {
  pthread_mutex_lock(&s->list_lock);
  size_t len = 1;
  for (int pass = 0; pass < 2; pass++) {
    char *p = pass ? *out : NULL;
    for (size_t i = 0; i < n; i++) {
      const char *name = store_file_name(in[i]);
      if (pass) p += sprintf(p, "%s%s", p == *out ? "" : "\n", name);
      else len += strlen(name) + 1;
      const char *const *from;
      size_t nf;
      store_file_compacted_from(in[i], &from, &nf);
      for (size_t j = 0; j < nf; j++) {
        bool pending = false;
        for (size_t k = 0; k < s->n_replaced && !pending; k++)
          pending = strcmp(store_file_name(s->replaced[k]), from[j]) == 0;
        if (!pending) continue;
        if (pass) p += sprintf(p, "\n%s", from[j]);
        else len += strlen(from[j]) + 1;
      }
    }
    if (!pass && !(*out = malloc(len))) {
      pthread_mutex_unlock(&s->list_lock);
      return dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
    }
  }
  pthread_mutex_unlock(&s->list_lock);
  return 0;
}

int store_compact(struct store *s, const struct store_compact_opts *o,
                  struct store_compaction_result *res) {
  struct store_compact_opts none = {0};
  struct store_compaction_result dummy;
  if (!o) o = &none;
  if (!res) res = &dummy;
  memset(res, 0, sizeof *res);
  if (atomic_exchange(&s->compacting, true))
    return dfs_err_set(DFS_EAGAIN, "store %s: a compaction is already running", s->dir);
  struct file_list *l = current(s);
  struct cp_file *cp = malloc((l->n ? l->n : 1) * sizeof *cp);
  char *from = NULL;
  int rc = 0;
  if (!cp) {
    rc = dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
    goto out;
  }
  fill_cp(l, cp);
  struct cp_request req;
  cp_req(s, o->major, &req);
  struct cp_selection sel;
  if (compaction_policy_select(&s->o.policy, cp, l->n, &req, &sel) != 1) goto out;
  struct store_file *const *in = l->f + sel.start;
  uint64_t max_seq = 0;
  for (size_t i = 0; i < sel.count; i++) {
    res->bytes_in += store_file_size(in[i]);
    res->cells_in += store_file_entries(in[i]);
    if (store_file_max_seq_id(in[i]) > max_seq) max_seq = store_file_max_seq_id(in[i]);
  }
  if ((rc = compacted_from(s, in, sel.count, &from)) != 0) goto out;
  /* A compaction's output is cached on write only if its inputs fit in a
   * quarter of the cache: a big one would push every other region's hot
   * blocks out for data that is mostly cold (HBase keeps compacted blocks
   * out of the cache by default). A flush's, the newest data, always. */
  struct block_cache_stats cst;
  block_cache_stats(s->cache, &cst); /* (zeros without a cache) */
  struct file_out fo;
  if ((rc = fo_open(s, &fo, res->bytes_in <= cst.capacity / 4)) != 0) goto out;
  rc = merge_into(s, in, sel.count, sel.start + 1, sel.all_files, o, &fo, res);
  if (rc) {
    char b[512];
    dfs_err_set(rc, "store %s: compaction into %s: %s", s->dir, fo.tmp, why(b, sizeof b));
    fo_abort(s, &fo);
    goto out;
  }
  snprintf(res->name, sizeof res->name, "%s", fo.name);
  struct store_file *sf;
  if ((rc = fo_finish(s, &fo, max_seq, sel.all_files, from, &sf)) != 0) goto out;
  if ((rc = publish(s, sf, in, sel.count, false)) != 0) {
    dfs_delete(s->fs, store_file_path(sf), false);
    store_file_unref(sf);
    goto out;
  }
  res->files_in = sel.count;
  res->bytes_out = store_file_size(sf);
  res->major = sel.all_files;
  store_file_unref(sf);
  pthread_mutex_lock(&s->list_lock);
  s->st.compactions++;
  if (sel.all_files) s->st.major_compactions++;
  s->st.bytes_compacted += res->bytes_out;
  pthread_mutex_unlock(&s->list_lock);
  rc = 1;
out:
  if (rc <= 0) res->name[0] = 0;
  free(from);
  free(cp);
  list_unref(l);
  atomic_store(&s->compacting, false);
  if (rc == 1) store_cleanup(s); /* after our list reference is gone */
  return rc;
}

int store_cleanup(struct store *s) {
  pthread_mutex_lock(&s->list_lock);
  size_t n = 0, keep = 0;
  struct store_file **dead = malloc((s->n_replaced ? s->n_replaced : 1) * sizeof *dead);
  if (!dead) {
    pthread_mutex_unlock(&s->list_lock);
    return dfs_err_set(DFS_ENOMEM, "store %s: out of memory", s->dir);
  }
  /* Only the store's reference left: no list and no scanner can reach the
   * file any more, and none can start to (new readers take the current
   * list, which no longer has it). */
  for (size_t i = 0; i < s->n_replaced; i++) {
    if (store_file_refs(s->replaced[i]) == 1)
      dead[n++] = s->replaced[i];
    else
      s->replaced[keep++] = s->replaced[i];
  }
  s->n_replaced = keep;
  pthread_mutex_unlock(&s->list_lock);
  int rc = 0, deleted = 0;
  size_t failed = 0;
  for (size_t i = 0; i < n; i++) {
    int d = dfs_delete(s->fs, store_file_path(dead[i]), false);
    if (d && d != DFS_ENOENT) {
      if (!rc) {
        char b[512];
        rc = dfs_err_set(d, "store %s: delete %s: %s", s->dir, store_file_path(dead[i]),
                         why(b, sizeof b));
      }
      dead[failed++] = dead[i];
      continue;
    }
    store_file_unref(dead[i]);
    deleted++;
  }
  /* Failed ones are kept for the next try (an orphan left by a crash is
   * dropped at the next open through the output's COMPACTED_FROM). */
  pthread_mutex_lock(&s->list_lock);
  if (failed && s->n_replaced + failed > s->cap_replaced) {
    size_t cap = s->n_replaced + failed + 4;
    struct store_file **p = realloc(s->replaced, cap * sizeof *p);
    if (p) {
      s->replaced = p;
      s->cap_replaced = cap;
    }
  }
  for (size_t i = 0; i < failed; i++) {
    if (s->n_replaced < s->cap_replaced)
      s->replaced[s->n_replaced++] = dead[i];
    else
      store_file_unref(dead[i]); /* out of memory: forget it, open cleans up */
  }
  pthread_mutex_unlock(&s->list_lock);
  free(dead);
  return rc ? rc : deleted;
}

/* ---- state ------------------------------------------------------------------------ */

void store_get_stats(struct store *s, struct store_stats *st) {
  pthread_mutex_lock(&s->list_lock);
  *st = s->st;
  st->files = s->cur->n;
  st->file_bytes = st->file_cells = 0;
  for (size_t i = 0; i < s->cur->n; i++) {
    st->file_bytes += store_file_size(s->cur->f[i]);
    st->file_cells += store_file_entries(s->cur->f[i]);
  }
  st->compacted_pending = s->n_replaced;
  pthread_mutex_unlock(&s->list_lock);
  st->memstore_heap = memstore_heap_size(s->ms);
}

size_t store_file_names(struct store *s, char (*names)[40], size_t cap) {
  struct file_list *l = current(s);
  for (size_t i = 0; i < l->n && i < cap; i++)
    snprintf(names[i], 40, "%s", store_file_name(l->f[i]));
  size_t n = l->n;
  list_unref(l);
  return n;
}
