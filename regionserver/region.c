/*
 * region.c - a region: open (stores + WAL replay), flush, the flusher
 * thread, reads, close. Row mutations and the read-modify-write
 * operations are in region_mutate.c; region_internal.h is what they share.
 *
 * The flusher thread is woken by writers when the MemStores pass
 * flush_size; it flushes until they are below, and (without a server
 * compactor) runs store_compact on stores that need it, so compactions
 * never run on a writer's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compactor.h"
#include "errors.h"
#include "log.h"
#include "net.h"
#include "region_internal.h"

void region_opts_init(struct region_opts *o) {
  memset(o, 0, sizeof *o);
  compaction_policy_conf_init(&o->policy);
  o->flush_lower_bps = REGION_FLUSH_LOWER_BPS;
  o->flush_upper_bps = REGION_FLUSH_UPPER_BPS;
  o->cache_on_write = true;
}

int64_t region__now(const struct region *r) {
  if (r->now_ms) return r->now_ms(r->now_arg);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void region__deadline(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static bool plain_name(const char *s) {
  return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int region__family_index(const struct region *r, const uint8_t *fam, uint32_t len) {
  for (size_t i = 0; i < r->n_stores; i++)
    if (strlen(r->fam[i].name) == len && memcmp(r->fam[i].name, fam, len) == 0) return (int)i;
  return -1;
}

uint64_t region__memstore_heap(struct region *r) {
  uint64_t sum = 0;
  for (size_t i = 0; i < r->n_stores; i++) sum += memstore_heap_size(store_memstore(r->stores[i]));
  return sum;
}

const char *region_name(const struct region *r) { return r->name; }
const char *region_dir(const struct region *r) { return r->dir; }

struct store *region_store(struct region *r, const char *family) {
  int i = region__family_index(r, (const uint8_t *)family, (uint32_t)strlen(family));
  return i < 0 ? NULL : r->stores[i];
}

/* ---- flush ---------------------------------------------------------------- */

int region__check_usable(struct region *r, const char *op) {
  int rc = atomic_load_explicit(&r->broken, memory_order_acquire);
  if (rc == 0) return 0;
  return dfs_err_set(rc, "region %s: %s refused: %s; close it (without flushing) and open it "
                     "again to recover from the WAL", r->name, op, r->broken_msg);
}

void region__set_broken(struct region *r, int rc, const char *why) {
  pthread_mutex_lock(&r->mu);
  if (atomic_load(&r->broken) == 0) {
    snprintf(r->broken_msg, sizeof r->broken_msg, "the WAL failed (%s)", why);
    atomic_store_explicit(&r->broken, rc < 0 ? rc : DFS_EIO, memory_order_release);
    LOG_ERROR("region", "region %s: %s; the region stops serving", r->name, r->broken_msg);
  }
  pthread_mutex_unlock(&r->mu);
}

/* store_opts.flush_pace: sleeps until the bytes written so far are due at
 * the rate the MemStores' pressure allows (region_opts). Called by the
 * flush holding flush_mu only: writers and readers go on meanwhile. */
static void flush_pace(void *arg, uint64_t bytes) {
  struct region *r = arg;
  if (r->flush_lower_bps == 0 || atomic_load_explicit(&r->closing, memory_order_relaxed)) return;
  double pressure = (double)region__memstore_heap(r) / (double)(r->block_size / 2);
  uint64_t now = (uint64_t)dfs_now_ns();
  if (pressure >= 1.0) { /* falling behind the writers: no pacing */
    r->pace_due_ns = now;
    return;
  }
  double rate = (double)r->flush_lower_bps +
                (double)(r->flush_upper_bps - r->flush_lower_bps) * pressure;
  if (r->pace_due_ns < now) r->pace_due_ns = now; /* no credit for slow stretches */
  r->pace_due_ns += (uint64_t)((double)bytes / rate * 1e9);
  if (r->pace_due_ns > now) {
    uint64_t d = r->pace_due_ns - now;
    struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
    nanosleep(&ts, NULL);
    r->pace_slept_ns += d;
  }
}

int region_flush(struct region *r) {
  int brc = region__check_usable(r, "flush");
  if (brc) return brc; /* never persist edits the WAL may not have */
  pthread_mutex_lock(&r->flush_mu);
  r->pace_due_ns = 0;
  r->pace_slept_ns = 0;
  /* Every write up to the flush sequence id must be in the MemStores:
   * exclusive updates lock, then wait for the in-flight ones. */
  pthread_rwlock_wrlock(&r->updates);
  uint64_t flush_seq = mvcc_write_point(r->mvcc);
  mvcc_wait_for_read_point(r->mvcc, flush_seq);
  int rc = 0;
  for (size_t i = 0; i < r->n_stores; i++) {
    int prc = store_flush_prepare(r->stores[i], NULL);
    /* DFS_EEXIST: a snapshot left by a failed commit; it is retried below. */
    if (prc < 0 && prc != DFS_EEXIST && rc == 0) rc = prc;
  }
  pthread_rwlock_unlock(&r->updates);
  for (size_t i = 0; rc == 0 && i < r->n_stores; i++) {
    struct store_flush_result res;
    rc = store_flush_commit(r->stores[i], flush_seq, &res);
  }
  if (rc == 0 && r->wal)
    rc = wal_region_flushed(r->wal, (const uint8_t *)r->name, (uint32_t)strlen(r->name), flush_seq);
  pthread_mutex_lock(&r->mu);
  r->flush_pace_ms += r->pace_slept_ns / 1000000u;
  if (rc == 0) {
    r->flushes++;
    r->compact_wanted = true;
  } else {
    r->flush_errors++;
  }
  pthread_cond_broadcast(&r->space_cond); /* blocked writers re-check */
  if (!r->no_flusher && !r->compactor) pthread_cond_signal(&r->work_cond);
  pthread_mutex_unlock(&r->mu);
  pthread_mutex_unlock(&r->flush_mu);
  return rc;
}

void region__request_flush(struct region *r) {
  pthread_mutex_lock(&r->mu);
  if (!r->flush_wanted) {
    r->flush_wanted = true;
    pthread_cond_signal(&r->work_cond);
  }
  pthread_mutex_unlock(&r->mu);
}

static void compact_stores(struct region *r) {
  for (size_t i = 0; i < r->n_stores; i++) {
    if (r->stopping) return;
    if (!store_needs_compaction(r->stores[i])) continue;
    struct store_compaction_result res;
    if (store_compact(r->stores[i], NULL, &res) == 1) {
      pthread_mutex_lock(&r->mu);
      r->compactions++;
      pthread_mutex_unlock(&r->mu);
    }
  }
}

static void *flusher_main(void *arg) {
  struct region *r = arg;
  pthread_setname_np(pthread_self(), "rs-flusher");
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (!r->stopping && !r->flush_wanted && !(r->compact_wanted && !r->compactor))
      pthread_cond_wait(&r->work_cond, &r->mu);
    if (r->stopping) break;
    bool flush = r->flush_wanted, compact = r->compact_wanted && !r->compactor;
    r->flush_wanted = false;
    r->busy = true;
    pthread_mutex_unlock(&r->mu);
    if (flush && region__memstore_heap(r) >= r->flush_size) {
      if (region_flush(r) != 0) {
        /* Retry later rather than spin: a failed DFS write is not fixed at once. */
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
      }
    }
    if (compact) {
      pthread_mutex_lock(&r->mu);
      r->compact_wanted = false;
      pthread_mutex_unlock(&r->mu);
      compact_stores(r);
    }
    pthread_mutex_lock(&r->mu);
    r->busy = false;
    /* Writers may have gone past the flush size while this flush ran. */
    if (!r->stopping && region__memstore_heap(r) >= r->flush_size) r->flush_wanted = true;
    pthread_cond_broadcast(&r->idle_cond);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

int region_wait_idle(struct region *r, int timeout_ms) {
  struct timespec dl;
  region__deadline(&dl, timeout_ms);
  pthread_mutex_lock(&r->mu);
  int rc = 0;
  while (!r->no_flusher && (r->busy || r->flush_wanted || (r->compact_wanted && !r->compactor))) {
    if (pthread_cond_timedwait(&r->idle_cond, &r->mu, &dl) == ETIMEDOUT) {
      rc = dfs_err_set(DFS_ETIMEDOUT, "region %s: flusher still busy after %d ms", r->name,
                       timeout_ms);
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
  if (rc == 0 && r->compactor) rc = compactor_wait_idle(r->compactor, timeout_ms);
  return rc;
}

void region_get_stats(struct region *r, struct region_stats *st) {
  memset(st, 0, sizeof *st);
  st->memstore_heap = region__memstore_heap(r);
  pthread_mutex_lock(&r->mu);
  st->flushes = r->flushes;
  st->flush_errors = r->flush_errors;
  st->compactions = r->compactions;
  st->blocked_writes = r->blocked_writes;
  st->busy_rejections = r->busy_rejections;
  st->replayed_edits = r->replayed_edits;
  st->replay_skipped = r->replay_skipped;
  st->flush_pace_ms = r->flush_pace_ms;
  pthread_mutex_unlock(&r->mu);
  st->read_point = mvcc_read_point(r->mvcc);
  st->write_point = mvcc_write_point(r->mvcc);
  for (size_t i = 0; i < r->n_stores; i++) {
    struct store_stats ss;
    store_get_stats(r->stores[i], &ss);
    st->store_files += ss.files;
    if (r->compactor) st->compactions += ss.compactions;
  }
}

/* ---- WAL replay ----------------------------------------------------------- */

/* Sequence ids already applied (open addressing; 0 is the empty slot:
 * sequence ids start at 1). */
struct seq_set {
  uint64_t *v;
  size_t cap, n;
};

static int seq_set_add(struct seq_set *s, uint64_t x) { /* 1 added, 0 present, <0 */
  if ((s->n + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    uint64_t *nv = calloc(ncap, sizeof *nv);
    if (!nv) return dfs_err_set(DFS_ENOMEM, "wal replay: out of memory");
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->v[i]) continue;
      size_t h = (size_t)(s->v[i] * 0x9E3779B97F4A7C15ull) & (ncap - 1);
      while (nv[h]) h = (h + 1) & (ncap - 1);
      nv[h] = s->v[i];
    }
    free(s->v);
    s->v = nv;
    s->cap = ncap;
  }
  size_t h = (size_t)(x * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
  while (s->v[h]) {
    if (s->v[h] == x) return 0;
    h = (h + 1) & (s->cap - 1);
  }
  s->v[h] = x;
  s->n++;
  return 1;
}

int region_replay_wal(struct region *r, const char *const *paths, size_t n, uint64_t *edits) {
  struct seq_set seen = {0};
  uint64_t applied = 0, skipped = 0, max_seq = 0;
  size_t name_len = strlen(r->name);
  int rc = 0;
  for (size_t f = 0; rc == 0 && f < n; f++) {
    wal_reader *rd;
    rc = wal_reader_open(r->fs, paths[f], &rd);
    if (rc) break;
    struct wal_entry e;
    int got;
    while ((got = wal_reader_next(rd, &e)) == 1) {
      if (e.region_len != name_len || memcmp(e.region, r->name, name_len) != 0) continue;
      if (e.seq_id > max_seq) max_seq = e.seq_id;
      int added = seq_set_add(&seen, e.seq_id);
      if (added < 0) {
        got = added;
        break;
      }
      if (added == 0) { /* the same entry again (rewritten after a roll) */
        skipped++;
        continue;
      }
      bool any = false;
      for (size_t i = 0; i < e.n_cells; i++) {
        const struct cell *c = &e.cells[i];
        int fi = region__family_index(r, c->family, c->family_len);
        if (fi < 0) continue; /* a family dropped since: HBase skips it too */
        if (e.seq_id <= r->replay_floor[fi]) continue; /* already in a store file */
        struct cell cc = *c;
        cc.seq_id = e.seq_id;
        struct memstore_size d;
        got = store_add(r->stores[fi], &cc, &d);
        if (got < 0) break;
        any = true;
      }
      if (got < 0) break;
      if (any) applied++;
      else skipped++;
    }
    if (got < 0) rc = got;
    wal_reader_close(rd);
  }
  free(seen.v);
  if (max_seq > r->replay_max_seq) r->replay_max_seq = max_seq;
  pthread_mutex_lock(&r->mu);
  r->replayed_edits += applied;
  r->replay_skipped += skipped;
  pthread_mutex_unlock(&r->mu);
  if (edits) *edits = applied;
  return rc;
}

/* ---- open / close --------------------------------------------------------- */

/* The WAL made everything up to txid durable: the ready writes it covers
 * become visible before their writers wake (mvcc_ready). */
static void on_wal_synced(void *arg, uint64_t txid) { mvcc_durable(arg, txid); }

static void region_free(struct region *r) {
  if (!r) return;
  if (r->wal_listening) wal_remove_listener(r->wal, on_wal_synced, r->mvcc);
  for (size_t i = 0; i < r->n_stores; i++) store_close(r->stores[i]);
  if (r->fam)
    for (size_t i = 0; i < r->n_fam; i++) free((char *)r->fam[i].name);
  free(r->fam);
  free(r->stores);
  free(r->replay_floor);
  if (r->mvcc) mvcc_destroy(r->mvcc);
  free(r->name);
  free(r->table);
  free(r->dir);
  free(r->start_row);
  free(r->end_row);
  pthread_mutex_destroy(&r->mu);
  pthread_mutex_destroy(&r->flush_mu);
  pthread_cond_destroy(&r->work_cond);
  pthread_cond_destroy(&r->space_cond);
  pthread_cond_destroy(&r->idle_cond);
  pthread_rwlock_destroy(&r->updates);
  for (size_t i = 0; i < REGION_ROW_LOCKS; i++) pthread_mutex_destroy(&r->row_locks[i].mu);
  free(r);
}

static uint8_t *dup_bytes(const uint8_t *p, uint32_t n) {
  uint8_t *d = malloc(n ? n : 1);
  if (d && n) memcpy(d, p, n);
  return d;
}

int region_open(dfs_fs *fs, const char *root_dir, wal *w, const struct region_desc *desc,
                struct block_cache *cache, const struct region_opts *o, struct region **out) {
  struct region_opts def;
  if (!o) {
    region_opts_init(&def);
    o = &def;
  }
  *out = NULL;
  if (!desc || !plain_name(desc->name) || !plain_name(desc->table) || desc->n_families == 0)
    return dfs_err_set(DFS_EINVAL, "region_open: a region needs a table, a plain name and families");
  for (size_t i = 0; i < desc->n_families; i++) {
    if (!plain_name(desc->families[i].name) || strlen(desc->families[i].name) > CELL_MAX_FAMILY)
      return dfs_err_set(DFS_EINVAL, "region %s: bad family name", desc->name);
    for (size_t j = 0; j < i; j++)
      if (strcmp(desc->families[i].name, desc->families[j].name) == 0)
        return dfs_err_set(DFS_EINVAL, "region %s: family %s declared twice", desc->name,
                           desc->families[i].name);
  }
  if ((unsigned)o->durability > WAL_FSYNC)
    return dfs_err_set(DFS_EINVAL, "region %s: unknown table durability %d", desc->name,
                       (int)o->durability);
  struct region *r = calloc(1, sizeof *r);
  if (!r) return dfs_err_set(DFS_ENOMEM, "region_open: out of memory");
  pthread_mutex_init(&r->mu, NULL);
  pthread_mutex_init(&r->flush_mu, NULL);
  pthread_cond_init(&r->work_cond, NULL);
  pthread_cond_init(&r->space_cond, NULL);
  pthread_cond_init(&r->idle_cond, NULL);
  /* Writer-preferring: a flush must get in under a steady stream of writers
   * (safe: no holder of the shared lock waits for a thread that has yet to
   * take it). */
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&r->updates, &ra);
  pthread_rwlockattr_destroy(&ra);
  for (size_t i = 0; i < REGION_ROW_LOCKS; i++) pthread_mutex_init(&r->row_locks[i].mu, NULL);
  r->fs = fs;
  r->wal = w;
  r->compactor = o->compactor;
  r->now_ms = o->now_ms;
  r->now_arg = o->now_arg;
  r->no_flusher = o->no_flusher;
  r->flush_size = o->flush_size ? o->flush_size : 128ull << 20;
  r->block_size = r->flush_size * (o->block_multiplier ? o->block_multiplier : 4);
  r->block_timeout_ms = o->block_timeout_ms > 0 ? o->block_timeout_ms : 10000;
  r->flush_lower_bps = o->flush_lower_bps;
  r->flush_upper_bps = o->flush_upper_bps > o->flush_lower_bps ? o->flush_upper_bps
                                                                : o->flush_lower_bps;
  r->durability = o->durability;
  r->name = strdup(desc->name);
  r->table = strdup(desc->table);
  size_t dl = strlen(root_dir) + strlen(desc->table) + strlen(desc->name) + 32;
  r->dir = malloc(dl);
  r->start_row = dup_bytes(desc->start_row, desc->start_row_len);
  r->start_row_len = desc->start_row_len;
  r->end_row = dup_bytes(desc->end_row, desc->end_row_len);
  r->end_row_len = desc->end_row_len;
  r->n_fam = desc->n_families;
  r->fam = calloc(r->n_fam, sizeof *r->fam);
  r->stores = calloc(r->n_fam, sizeof *r->stores);
  r->replay_floor = calloc(r->n_fam, sizeof *r->replay_floor);
  r->mvcc = mvcc_create(0);
  int rc = 0;
  if (!r->name || !r->table || !r->dir || !r->start_row || !r->end_row || !r->fam || !r->stores ||
      !r->replay_floor || !r->mvcc) {
    rc = dfs_err_set(DFS_ENOMEM, "region_open: out of memory");
    goto fail;
  }
  snprintf(r->dir, dl, "%s/data/default/%s/%s", root_dir, desc->table, desc->name);
  for (size_t i = 0; i < r->n_fam; i++) {
    r->fam[i] = desc->families[i];
    r->fam[i].name = strdup(desc->families[i].name);
    if (!r->fam[i].name) {
      rc = dfs_err_set(DFS_ENOMEM, "region_open: out of memory");
      goto fail;
    }
  }
  uint64_t max_seq = 0;
  for (size_t i = 0; i < r->n_fam; i++) {
    struct store_opts so;
    store_opts_init(&so);
    so.family = r->fam[i].name;
    so.fam = r->fam[i].fam;
    so.compression = r->fam[i].compression;
    so.block_size = r->fam[i].block_size;
    so.bloom = !r->fam[i].no_bloom;
    so.replication = o->replication;
    so.dfs_blocksize = o->dfs_blocksize;
    so.policy = o->policy;
    if (o->memstore_chunk_size) so.memstore_chunk_size = o->memstore_chunk_size;
    so.compactor = o->compactor;
    so.now_ms = o->now_ms;
    so.now_arg = o->now_arg;
    so.flush_pace = flush_pace;
    so.cache_on_write = o->cache_on_write;
    so.flush_pace_arg = r;
    rc = store_open(fs, r->dir, &so, cache, &r->stores[i]);
    if (rc) goto fail;
    r->n_stores = i + 1;
    r->replay_floor[i] = store_max_seq_id(r->stores[i]);
    if (r->replay_floor[i] > max_seq) max_seq = r->replay_floor[i];
  }
  uint64_t replayed = 0;
  if (o->n_replay_wals) {
    rc = region_replay_wal(r, o->replay_wals, o->n_replay_wals, &replayed);
    if (rc) goto fail;
  }
  if (r->replay_max_seq > max_seq) max_seq = r->replay_max_seq;
  rc = mvcc_advance_to(r->mvcc, max_seq);
  if (rc) goto fail;
  /* Replayed edits go to store files at once: the dead server's WAL files
   * can then be dropped, and a second crash does not need them. */
  if (replayed) {
    rc = region_flush(r);
    if (rc) goto fail;
  }
  if (r->wal) {
    if ((rc = wal_add_listener(r->wal, on_wal_synced, r->mvcc))) goto fail;
    r->wal_listening = true;
  }
  if (!r->no_flusher) {
    rc = pthread_create(&r->flusher, NULL, flusher_main, r);
    if (rc) {
      rc = dfs_err_set(dfs_err_from_errno(rc), "region %s: cannot start its flusher", r->name);
      goto fail;
    }
    r->flusher_started = true;
  }
  *out = r;
  return 0;
fail:
  region_free(r);
  return rc;
}

int region_close(struct region *r, bool flush) {
  if (!r) return 0;
  atomic_store(&r->closing, true); /* the last flush at full speed */
  if (r->flusher_started) {
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->work_cond);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->flusher, NULL);
  }
  int rc = flush && atomic_load(&r->broken) == 0 ? region_flush(r) : 0;
  if (rc == 0) rc = region__check_usable(r, "close");
  region_free(r);
  return rc;
}

/* ---- reads ---------------------------------------------------------------- */

int region__scan_at(struct region *r, const struct scan_spec *spec, uint64_t read_point,
                    struct region_scanner **out) {
  int brc = region__check_usable(r, "read");
  if (brc) return brc;
  struct scan_spec s = *spec;
  s.read_point = read_point < spec->read_point ? read_point : spec->read_point;
  if (s.now_ms == 0) s.now_ms = region__now(r);
  struct store_source *src = calloc(r->n_stores, sizeof *src);
  if (!src) return dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
  struct store_scan_hints h;
  store_scan_hints_init(&h);
  if (s.get) {
    h.row = s.start_row;
    h.row_len = s.start_row_len;
  }
  h.tr_min = s.tr_min;
  h.now_ms = s.now_ms;
  int rc = 0;
  size_t n = 0;
  for (size_t i = 0; i < r->n_stores; i++) {
    bool wanted = s.n_families == 0;
    for (size_t j = 0; !wanted && j < s.n_families; j++)
      wanted = s.families[j].family_len == strlen(r->fam[i].name) &&
               memcmp(s.families[j].family, r->fam[i].name, s.families[j].family_len) == 0;
    if (!wanted) continue;
    struct store_source *ss = &src[n];
    ss->family = (const uint8_t *)r->fam[i].name;
    ss->family_len = (uint32_t)strlen(r->fam[i].name);
    ss->opts = r->fam[i].fam;
    rc = store_get_scanners(r->stores[i], s.read_point, &h, &ss->sources, &ss->n_sources);
    if (rc) break;
    n++;
  }
  if (rc == 0) {
    rc = region_scanner_open(&s, src, n, out);
  } else {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < src[i].n_sources; j++) src[i].sources[j]->ops->close(src[i].sources[j]);
  }
  for (size_t i = 0; i < n; i++) free(src[i].sources);
  free(src);
  return rc;
}

int region_scan_open(struct region *r, const struct scan_spec *spec, struct region_scanner **out) {
  return region__scan_at(r, spec, mvcc_read_point(r->mvcc), out);
}

void region_row_free(struct region_row *row) {
  if (!row) return;
  for (size_t i = 0; i < row->n; i++) cell_free(row->cells[i]);
  free(row->cells);
  row->cells = NULL;
  row->n = 0;
}

int region__get_at(struct region *r, const struct scan_spec *spec, uint64_t read_point,
                   struct region_row *out) {
  out->cells = NULL;
  out->n = 0;
  struct scan_spec s = *spec;
  s.get = true;
  s.batch = 0;
  s.limit = 1;
  s.reversed = false;
  struct region_scanner *rs;
  int rc = region__scan_at(r, &s, read_point, &rs);
  if (rc) return rc;
  struct scan_result res;
  rc = region_scanner_next(rs, &res);
  if (rc == 1) {
    rc = 0;
    out->cells = calloc(res.n ? res.n : 1, sizeof *out->cells);
    if (!out->cells) rc = dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
    for (size_t i = 0; rc == 0 && i < res.n; i++) {
      out->cells[i] = cell_dup(&res.cells[i]);
      if (!out->cells[i]) rc = dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
      else out->n++;
    }
  }
  region_scanner_close(rs);
  if (rc) region_row_free(out);
  return rc;
}

int region_get(struct region *r, const struct scan_spec *spec, struct region_row *out) {
  return region__get_at(r, spec, mvcc_read_point(r->mvcc), out);
}
