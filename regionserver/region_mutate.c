/*
 * region_mutate.c - the write side of a region: row mutations,
 * checkAndMutate, increment and append (HBase's HRegion.doMiniBatchMutate
 * and doCheckAndRowMutate, one row at a time).
 *
 * Each operation: back-pressure check -> updates lock (shared) -> row lock
 * -> (read at the read point, after waiting for the last write under the
 * same row lock) -> WAL append stamping the MVCC write number -> cells into
 * the stores -> mvcc_ready (hflush waits) -> locks released -> wal_sync ->
 * mvcc_finish.
 * (mvcc_ready lets the WAL's syncer complete the write for us once it is
 * durable, so the writer wakes once, to a visible write; mvcc.h.)
 * Syncing outside the locks is what lets concurrent writers of different
 * rows (and of the same row, one after the other) share a group commit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "errors.h"
#include "region_internal.h"

static int check_row(struct region *r, const uint8_t *row, uint32_t len) {
  if (len == 0 || len > CELL_MAX_ROW)
    return dfs_err_set(DFS_EINVAL, "region %s: row length %u out of range", r->name, len);
  if (r->start_row_len && cell_compare_rows(row, len, r->start_row, r->start_row_len) < 0)
    return dfs_err_set(DFS_EINVAL, "region %s: row before the region's start row", r->name);
  if (r->end_row_len && cell_compare_rows(row, len, r->end_row, r->end_row_len) >= 0)
    return dfs_err_set(DFS_EINVAL, "region %s: row at or after the region's end row", r->name);
  return 0;
}

/* Back-pressure: above flush_size * block_multiplier writers wait for a
 * flush (HBase's RegionTooBusyException after the busy wait). */
static int wait_for_space(struct region *r) {
  if (region__memstore_heap(r) < r->block_size) return 0;
  struct timespec dl;
  region__deadline(&dl, r->block_timeout_ms);
  int rc = 0;
  pthread_mutex_lock(&r->mu);
  r->blocked_writes++;
  while (region__memstore_heap(r) >= r->block_size) {
    if (!r->no_flusher && !r->flush_wanted) {
      r->flush_wanted = true;
      pthread_cond_signal(&r->work_cond);
    }
    if (pthread_cond_timedwait(&r->space_cond, &r->mu, &dl) == ETIMEDOUT) {
      if (region__memstore_heap(r) < r->block_size) break;
      r->busy_rejections++;
      rc = dfs_err_set(DFS_EAGAIN,
                       "region %s: too busy: memstores above the blocking size %llu for %d ms",
                       r->name, (unsigned long long)r->block_size, r->block_timeout_ms);
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return rc;
}

static struct row_lock *lock_row(struct region *r, const uint8_t *row, uint32_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (uint32_t i = 0; i < len; i++) h = (h ^ row[i]) * 1099511628211ull;
  struct row_lock *lk = &r->row_locks[h % REGION_ROW_LOCKS];
  pthread_rwlock_rdlock(&r->updates);
  pthread_mutex_lock(&lk->mu);
  return lk;
}

static void unlock_row(struct region *r, struct row_lock *lk) {
  pthread_mutex_unlock(&lk->mu);
  pthread_rwlock_unlock(&r->updates);
}

/* The newest visible versions of the given columns of one family of row,
 * as of every write done under lk (held). */
static int read_columns(struct region *r, struct row_lock *lk, const uint8_t *row, uint32_t row_len,
                        const char *family, const struct qm_qualifier *quals, size_t nq,
                        struct region_row *out) {
  mvcc_wait_for_read_point(r->mvcc, lk->last_wn);
  struct scan_family sf = {.family = (const uint8_t *)family,
                           .family_len = (uint32_t)strlen(family),
                           .qualifiers = quals,
                           .n_qualifiers = nq};
  struct scan_spec s;
  scan_spec_init(&s);
  s.start_row = row;
  s.start_row_len = row_len;
  s.get = true;
  s.families = &sf;
  s.n_families = 1;
  s.max_versions = 1;
  return region__get_at(r, &s, mvcc_read_point(r->mvcc), out);
}

static const struct cell *find_column(const struct region_row *row, const uint8_t *q, uint32_t qlen) {
  for (size_t i = 0; i < row->n; i++)
    if (row->cells[i]->qualifier_len == qlen && memcmp(row->cells[i]->qualifier, q, qlen) == 0)
      return row->cells[i];
  return NULL;
}

static int validate_cells(struct region *r, const uint8_t *row, uint32_t row_len,
                          const struct cell *cells, size_t n) {
  int rc = check_row(r, row, row_len);
  if (rc) return rc;
  if (n == 0) return dfs_err_set(DFS_EINVAL, "region %s: a mutation without cells", r->name);
  for (size_t i = 0; i < n; i++) {
    const struct cell *c = &cells[i];
    if (c->row_len != row_len || memcmp(c->row, row, row_len) != 0)
      return dfs_err_set(DFS_EINVAL, "region %s: cell %zu of a mutation is of another row", r->name, i);
    if (region__family_index(r, c->family, c->family_len) < 0)
      return dfs_err_set(DFS_EINVAL, "region %s: no family '%.*s'", r->name, (int)c->family_len,
                         (const char *)c->family);
    if ((rc = cell_validate(c)) != 0) return rc;
    if (c->timestamp < 0)
      return dfs_err_set(DFS_EINVAL, "region %s: negative timestamp", r->name);
  }
  return 0;
}

static uint64_t assign_seq(void *arg) { return mvcc_begin(arg); }

/* A write in progress: what the unlocked half (finish) needs. */
struct pending_write {
  uint64_t wn, txid;
  enum wal_durability durability;
};

/* With lk held: stamps timestamps (cells is the caller's modifiable copy),
 * appends to the WAL, adds to the stores. On success the write must be
 * finished with finish_write after the locks are released. */
static int apply_locked(struct region *r, struct row_lock *lk, const uint8_t *row, uint32_t row_len,
                        struct cell *cells, size_t n, enum wal_durability durability,
                        struct pending_write *pw) {
  int rc = region__check_usable(r, "write");
  if (rc) return rc;
  if (durability == WAL_USE_DEFAULT) durability = r->durability; /* the table's */
  int64_t now = region__now(r);
  for (size_t i = 0; i < n; i++) {
    struct cell *c = &cells[i];
    if (c->timestamp != CELL_LATEST_TIMESTAMP) continue;
    c->timestamp = now;
    if (c->type != CELL_DELETE) continue;
    /* Delete of "the latest version": the newest visible one's timestamp. */
    int fi = region__family_index(r, c->family, c->family_len);
    struct qm_qualifier q = {c->qualifier, c->qualifier_len};
    struct region_row cur;
    rc = read_columns(r, lk, row, row_len, r->fam[fi].name, &q, 1, &cur);
    if (rc) return rc;
    const struct cell *newest = find_column(&cur, c->qualifier, c->qualifier_len);
    if (newest) c->timestamp = newest->timestamp;
    region_row_free(&cur);
  }
  pw->durability = durability;
  pw->txid = 0;
  if (!r->wal || durability == WAL_SKIP) {
    pw->wn = mvcc_begin(r->mvcc);
    if (pw->wn == 0) return dfs_err_set(DFS_ENOMEM, "region %s: out of memory (mvcc)", r->name);
  } else {
    struct wal_entry e = {.region = (const uint8_t *)r->name,
                          .region_len = (uint32_t)strlen(r->name),
                          .table = (const uint8_t *)r->table,
                          .table_len = (uint32_t)strlen(r->table),
                          .durability = (uint8_t)durability,
                          .cells = cells,
                          .n_cells = n,
                          .assign_seq = assign_seq,
                          .assign_arg = r->mvcc};
    rc = wal_append(r->wal, &e, &pw->txid);
    if (rc) {
      if (e.seq_id) mvcc_complete(r->mvcc, e.seq_id); /* handed out: must complete */
      return rc;
    }
    pw->wn = e.seq_id;
  }
  for (size_t i = 0; i < n; i++) cells[i].seq_id = pw->wn;
  /* Runs of cells of one family go into its store together. */
  for (size_t i = 0, j; i < n; i = j) {
    int fi = region__family_index(r, cells[i].family, cells[i].family_len);
    for (j = i + 1; j < n && cells[j].family_len == cells[i].family_len &&
                    memcmp(cells[j].family, cells[i].family, cells[i].family_len) == 0;
         j++) {
    }
    struct memstore_size d;
    int arc = store_add_cells(r->stores[fi], &cells[i], j - i, &d);
    if (arc && rc == 0) rc = arc;
  }
  lk->last_wn = pw->wn;
  if (rc) pw->txid = 0; /* still completed by finish_write, with the error */
  /* An hsync wait is left to complete itself: the WAL's listeners hear of
   * hflushes. (mvcc_ready cannot fail for the write number just taken; if
   * it did, mvcc_finish would complete the write all the same.) */
  if (rc == 0 && pw->txid && wal_effective_durability(r->wal, durability) == WAL_SYNC)
    (void)mvcc_ready(r->mvcc, pw->wn, pw->txid);
  return rc;
}

/* Without locks: waits for durability, then makes the write visible. */
static int finish_write(struct region *r, const struct pending_write *pw, int rc) {
  if (rc == 0 && pw->txid) {
    rc = wal_sync(r->wal, pw->txid, pw->durability);
    if (rc) region__set_broken(r, rc, dfs_err_msg());
  }
  int mrc = mvcc_finish(r->mvcc, pw->wn);
  if (rc == 0) rc = mrc;
  if (!r->no_flusher && region__memstore_heap(r) >= r->flush_size) region__request_flush(r);
  return rc;
}

int region_mutate_row(struct region *r, const uint8_t *row, uint32_t row_len,
                      const struct cell *cells, size_t n, enum wal_durability durability) {
  int rc = validate_cells(r, row, row_len, cells, n);
  if (rc) return rc;
  struct cell *copy = malloc(n * sizeof *copy);
  if (!copy) return dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
  memcpy(copy, cells, n * sizeof *copy);
  rc = wait_for_space(r);
  if (rc == 0) {
    struct pending_write pw = {0};
    struct row_lock *lk = lock_row(r, row, row_len);
    rc = apply_locked(r, lk, row, row_len, copy, n, durability, &pw);
    unlock_row(r, lk);
    if (pw.wn) rc = finish_write(r, &pw, rc);
  }
  free(copy);
  return rc;
}

static bool compare_passes(const struct cell *cur, enum filter_op op, const uint8_t *exp,
                           uint32_t exp_len) {
  if (!cur) return op == FILTER_NE;
  int c = cell_compare_rows(cur->value, cur->value_len, exp, exp_len);
  switch (op) {
  case FILTER_EQ: return c == 0;
  case FILTER_NE: return c != 0;
  case FILTER_LT: return c < 0;
  case FILTER_LE: return c <= 0;
  case FILTER_GT: return c > 0;
  case FILTER_GE: return c >= 0;
  }
  return false;
}

int region_check_and_mutate(struct region *r, const uint8_t *row, uint32_t row_len,
                            const char *family, const uint8_t *qualifier, uint32_t qualifier_len,
                            enum filter_op op, const uint8_t *expected, uint32_t expected_len,
                            const struct cell *cells, size_t n, enum wal_durability durability,
                            bool *applied) {
  *applied = false;
  int rc = validate_cells(r, row, row_len, cells, n);
  if (rc) return rc;
  if (region__family_index(r, (const uint8_t *)family, (uint32_t)strlen(family)) < 0)
    return dfs_err_set(DFS_EINVAL, "region %s: no family '%s'", r->name, family);
  struct cell *copy = malloc(n * sizeof *copy);
  if (!copy) return dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
  memcpy(copy, cells, n * sizeof *copy);
  rc = wait_for_space(r);
  if (rc == 0) {
    struct pending_write pw = {0};
    struct row_lock *lk = lock_row(r, row, row_len);
    struct qm_qualifier q = {qualifier, qualifier_len};
    struct region_row cur;
    rc = read_columns(r, lk, row, row_len, family, &q, 1, &cur);
    if (rc == 0) {
      const struct cell *c = find_column(&cur, qualifier, qualifier_len);
      bool pass = expected ? compare_passes(c, op, expected, expected_len) : c == NULL;
      region_row_free(&cur);
      if (pass) {
        rc = apply_locked(r, lk, row, row_len, copy, n, durability, &pw);
        *applied = rc == 0;
      }
    }
    unlock_row(r, lk);
    if (pw.wn) rc = finish_write(r, &pw, rc);
  }
  free(copy);
  return rc;
}

int region_increment(struct region *r, const uint8_t *row, uint32_t row_len, const char *family,
                     const struct qm_qualifier *quals, const int64_t *deltas, size_t n,
                     enum wal_durability durability, int64_t *results) {
  int rc = check_row(r, row, row_len);
  if (rc) return rc;
  if (n == 0) return dfs_err_set(DFS_EINVAL, "region %s: an increment without columns", r->name);
  if (region__family_index(r, (const uint8_t *)family, (uint32_t)strlen(family)) < 0)
    return dfs_err_set(DFS_EINVAL, "region %s: no family '%s'", r->name, family);
  struct cell *cells = calloc(n, sizeof *cells);
  uint8_t *vals = malloc(n * 8);
  if (!cells || !vals) {
    free(cells);
    free(vals);
    return dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
  }
  rc = wait_for_space(r);
  if (rc == 0) {
    struct pending_write pw = {0};
    struct row_lock *lk = lock_row(r, row, row_len);
    struct region_row cur;
    rc = read_columns(r, lk, row, row_len, family, quals, n, &cur);
    bool have_cur = rc == 0;
    int64_t now = region__now(r);
    for (size_t i = 0; rc == 0 && i < n; i++) {
      const struct cell *c = find_column(&cur, quals[i].q, quals[i].len);
      uint64_t v = 0;
      int64_t ts = now;
      if (c) {
        if (c->value_len != 8) {
          rc = dfs_err_set(DFS_EINVAL, "region %s: increment of a value of %u bytes (not a 64-bit counter)",
                           r->name, c->value_len);
          break;
        }
        v = dfs_get_be64(c->value);
        if (c->timestamp > ts) ts = c->timestamp; /* never behind the current version */
      }
      v += (uint64_t)deltas[i];
      /* Several deltas on one column: the later sees the earlier. */
      for (size_t j = 0; j < i; j++)
        if (quals[j].len == quals[i].len && memcmp(quals[j].q, quals[i].q, quals[i].len) == 0)
          v = dfs_get_be64(vals + 8 * j) + (uint64_t)deltas[i];
      dfs_put_be64(vals + 8 * i, v);
      if (results) results[i] = (int64_t)v;
      cells[i] = (struct cell){.row = row,
                               .row_len = row_len,
                               .family = (const uint8_t *)family,
                               .family_len = (uint32_t)strlen(family),
                               .qualifier = quals[i].q,
                               .qualifier_len = quals[i].len,
                               .value = vals + 8 * i,
                               .value_len = 8,
                               .timestamp = ts,
                               .type = CELL_PUT};
    }
    if (have_cur) region_row_free(&cur);
    if (rc == 0) rc = apply_locked(r, lk, row, row_len, cells, n, durability, &pw);
    unlock_row(r, lk);
    if (pw.wn) rc = finish_write(r, &pw, rc);
  }
  free(cells);
  free(vals);
  return rc;
}

int region_append(struct region *r, const uint8_t *row, uint32_t row_len, const char *family,
                  const uint8_t *qualifier, uint32_t qualifier_len, const uint8_t *bytes,
                  uint32_t len, enum wal_durability durability, uint8_t **out, size_t *out_len) {
  if (out) *out = NULL;
  int rc = check_row(r, row, row_len);
  if (rc) return rc;
  if (region__family_index(r, (const uint8_t *)family, (uint32_t)strlen(family)) < 0)
    return dfs_err_set(DFS_EINVAL, "region %s: no family '%s'", r->name, family);
  rc = wait_for_space(r);
  if (rc) return rc;
  struct pending_write pw = {0};
  uint8_t *val = NULL;
  struct row_lock *lk = lock_row(r, row, row_len);
  struct qm_qualifier q = {qualifier, qualifier_len};
  struct region_row cur;
  rc = read_columns(r, lk, row, row_len, family, &q, 1, &cur);
  size_t vlen = 0;
  if (rc == 0) {
    const struct cell *c = find_column(&cur, qualifier, qualifier_len);
    size_t old = c ? c->value_len : 0;
    vlen = old + len;
    int64_t ts = region__now(r);
    if (c && c->timestamp > ts) ts = c->timestamp;
    if (vlen > CELL_MAX_VALUE) {
      rc = dfs_err_set(DFS_EINVAL, "region %s: appended value of %zu bytes is too large", r->name, vlen);
    } else if (!(val = malloc(vlen ? vlen : 1))) {
      rc = dfs_err_set(DFS_ENOMEM, "region %s: out of memory", r->name);
    } else {
      if (old) memcpy(val, c->value, old);
      if (len) memcpy(val + old, bytes, len);
      struct cell nc = {.row = row,
                        .row_len = row_len,
                        .family = (const uint8_t *)family,
                        .family_len = (uint32_t)strlen(family),
                        .qualifier = qualifier,
                        .qualifier_len = qualifier_len,
                        .value = val,
                        .value_len = (uint32_t)vlen,
                        .timestamp = ts,
                        .type = CELL_PUT};
      rc = apply_locked(r, lk, row, row_len, &nc, 1, durability, &pw);
    }
    region_row_free(&cur);
  }
  unlock_row(r, lk);
  if (pw.wn) rc = finish_write(r, &pw, rc);
  if (rc == 0 && out) {
    *out = val;
    if (out_len) *out_len = vlen;
  } else {
    free(val);
  }
  return rc;
}
