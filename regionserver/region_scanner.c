/*
 * region_scanner.c - a scan over the stores of one region
 * (region_scanner.h).
 *
 * Stores are kept sorted by family, so concatenating their parts of a row
 * gives the row in cell_compare() order, forward and reversed alike.
 */
#include "region_scanner.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "store_scanner.h"

struct rs_store {
  struct store_scanner *ss;
  uint8_t *family;
  uint32_t family_len;
  struct qm_qualifier *quals; /* sorted, unique; bytes point into the spec's copies */
  size_t nquals;
};

struct region_scanner {
  bool reversed, get, done;
  int err;
  uint8_t *start, *stop;
  uint32_t start_len, stop_len;
  uint64_t limit, rows;
  uint32_t batch;
  struct filter *filter;
  struct rs_store *stores;
  size_t nstores;
  uint8_t **qual_copies; /* one allocation per selected qualifier list */
  size_t nqual_copies;
  struct row_buf row;
  uint8_t *rowkey;
  size_t rowkey_cap;
  uint32_t rowkey_len;
  uint8_t *marks;
  size_t marks_cap;
  size_t pos; /* next cell of row.cells to return (batching) */
};

void scan_spec_init(struct scan_spec *s) {
  memset(s, 0, sizeof *s);
  s->max_versions = 1;
  s->tr_min = INT64_MIN;
  s->tr_max = INT64_MAX;
  s->read_point = UINT64_MAX;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void close_sources(const struct store_source *st) {
  for (size_t i = 0; i < st->n_sources; i++) kv_scanner_close(st->sources[i]);
}

static int cmp_qual(const void *a, const void *b) {
  const struct qm_qualifier *x = a, *y = b;
  return cell_compare_rows(x->q, x->len, y->q, y->len);
}

static uint8_t *dup_bytes(const uint8_t *b, size_t len) {
  uint8_t *p = malloc(len ? len : 1);
  if (p && len) memcpy(p, b, len);
  return p;
}

/* The selected qualifiers of family f (sorted, unique) into st; st->nquals
 * 0 means the whole family. *selected false if the spec does not name f. */
static int select_columns(struct region_scanner *rs, const struct scan_spec *spec,
                          const struct store_source *src, struct rs_store *st, bool *selected) {
  *selected = spec->n_families == 0;
  if (spec->n_families == 0) return 0;
  size_t total = 0, bytes = 0;
  bool whole = false;
  for (size_t i = 0; i < spec->n_families; i++) {
    const struct scan_family *sf = &spec->families[i];
    if (!same_bytes(sf->family, sf->family_len, src->family, src->family_len)) continue;
    *selected = true;
    if (sf->n_qualifiers == 0) whole = true;
    total += sf->n_qualifiers;
    for (size_t k = 0; k < sf->n_qualifiers; k++) bytes += sf->qualifiers[k].len;
  }
  if (!*selected || whole) return 0;
  /* one block: the qualifier array, then their bytes */
  uint8_t *mem = malloc(total * sizeof(struct qm_qualifier) + bytes + 1);
  if (!mem) return dfs_err_set(DFS_ENOMEM, "scan: out of memory for %zu qualifiers", total);
  rs->qual_copies[rs->nqual_copies++] = mem;
  struct qm_qualifier *q = (struct qm_qualifier *)mem;
  uint8_t *p = mem + total * sizeof *q;
  size_t n = 0;
  for (size_t i = 0; i < spec->n_families; i++) {
    const struct scan_family *sf = &spec->families[i];
    if (!same_bytes(sf->family, sf->family_len, src->family, src->family_len)) continue;
    for (size_t k = 0; k < sf->n_qualifiers; k++) {
      uint32_t len = sf->qualifiers[k].len;
      if (len) memcpy(p, sf->qualifiers[k].q, len);
      q[n].q = p;
      q[n].len = len;
      p += len;
      n++;
    }
  }
  qsort(q, n, sizeof *q, cmp_qual);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || cmp_qual(&q[u - 1], &q[i]) != 0) q[u++] = q[i];
  st->quals = q;
  st->nquals = u;
  return 0;
}

static int cmp_store(const void *a, const void *b) {
  const struct rs_store *x = a, *y = b;
  return cell_compare_rows(x->family, x->family_len, y->family, y->family_len);
}

/* Opens store i's scanner (taking its sources). */
static int open_store(struct region_scanner *rs, const struct scan_spec *spec,
                      const struct store_source *src, struct rs_store *st, int64_t now) {
  struct qm_config cfg = {
      .mode = spec->raw ? QM_RAW : QM_USER,
      .max_versions = spec->max_versions ? spec->max_versions : 1,
      .min_versions = src->opts.min_versions,
      .oldest_ts = qm_oldest_ts(now, src->opts.ttl_ms),
      .tr_min = spec->tr_min,
      .tr_max = spec->tr_max,
      .read_point = spec->read_point,
      .qualifiers = st->quals,
      .n_qualifiers = st->nquals,
  };
  uint32_t fmax = src->opts.max_versions ? src->opts.max_versions : 1;
  if (fmax < cfg.max_versions) cfg.max_versions = fmax;
  struct kv_scanner **srcs = src->sources;
  size_t n = src->n_sources;
  struct kv_scanner **kept = NULL;
  if (rs->get && n) { /* drop the sources whose bloom rules the row out */
    kept = malloc(n * sizeof *kept);
    if (!kept) {
      close_sources(src);
      return dfs_err_set(DFS_ENOMEM, "scan: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (kv_scanner_may_contain_row(srcs[i], rs->start, rs->start_len)) kept[k++] = srcs[i];
      else kv_scanner_close(srcs[i]);
    }
    srcs = kept;
    n = k;
  }
  int rc = store_scanner_open(srcs, n, &cfg, rs->reversed, &st->ss);
  free(kept);
  if (rc) return rc;
  rc = store_scanner_start(st->ss, rs->start, rs->start_len);
  return rc < 0 ? rc : 0;
}

int region_scanner_open(const struct scan_spec *spec, const struct store_source *stores,
                        size_t n_stores, struct region_scanner **out) {
  int rc = 0;
  size_t i = 0;
  /* Validate before taking anything. */
  for (size_t k = 0; k < n_stores && !rc; k++)
    if (stores[k].family_len == 0) rc = dfs_err_set(DFS_EINVAL, "scan: store %zu has no family", k);
  for (size_t f = 0; f < spec->n_families && !rc; f++) {
    bool found = false;
    for (size_t k = 0; k < n_stores && !found; k++)
      found = same_bytes(spec->families[f].family, spec->families[f].family_len,
                         stores[k].family, stores[k].family_len);
    if (!found)
      rc = dfs_err_set(DFS_EINVAL, "scan: no column family '%.*s' in this region",
                       (int)spec->families[f].family_len, (const char *)spec->families[f].family);
  }
  struct region_scanner *rs = NULL;
  if (!rc) {
    rs = calloc(1, sizeof *rs);
    if (rs) {
      rs->stores = calloc(n_stores ? n_stores : 1, sizeof *rs->stores);
      rs->qual_copies = calloc(n_stores ? n_stores : 1, sizeof *rs->qual_copies);
      rs->start = dup_bytes(spec->start_row, spec->start_row_len);
      rs->stop = dup_bytes(spec->stop_row, spec->stop_row_len);
    }
    if (!rs || !rs->stores || !rs->qual_copies || !rs->start || !rs->stop)
      rc = dfs_err_set(DFS_ENOMEM, "scan: out of memory");
  }
  if (rc) goto fail;
  rs->reversed = spec->reversed;
  rs->get = spec->get;
  rs->start_len = spec->start_row_len;
  rs->stop_len = spec->stop_row_len;
  rs->limit = spec->limit;
  rs->batch = spec->batch;
  rs->filter = spec->filter;
  int64_t now = spec->now_ms ? spec->now_ms : now_ms();
  for (; i < n_stores; i++) {
    const struct store_source *src = &stores[i];
    struct rs_store *st = &rs->stores[rs->nstores];
    bool selected;
    rc = select_columns(rs, spec, src, st, &selected);
    if (rc) goto fail;
    if (!selected) {
      close_sources(src);
      continue;
    }
    st->family = dup_bytes(src->family, src->family_len);
    st->family_len = src->family_len;
    rs->nstores++;
    if (!st->family) {
      rc = dfs_err_set(DFS_ENOMEM, "scan: out of memory");
      goto fail;
    }
    rc = open_store(rs, spec, src, st, now);
    if (rc) {
      i++; /* its sources are taken */
      goto fail;
    }
  }
  qsort(rs->stores, rs->nstores, sizeof *rs->stores, cmp_store);
  *out = rs;
  return 0;
fail:
  for (; i < n_stores; i++) close_sources(&stores[i]);
  region_scanner_close(rs);
  return rc;
}

static int grow(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  uint8_t *p = realloc(*buf, n);
  if (!p) return dfs_err_set(DFS_ENOMEM, "scan: out of memory (%zu bytes)", need);
  *buf = p;
  *cap = n;
  return 0;
}

/* The row the scan reads next (the smallest / largest among the stores). */
static const struct cell *next_row_cell(const struct region_scanner *rs) {
  const struct cell *best = NULL;
  for (size_t i = 0; i < rs->nstores; i++) {
    const struct cell *c = store_scanner_peek(rs->stores[i].ss);
    if (!c) continue;
    if (!best) {
      best = c;
      continue;
    }
    int r = cell_compare_row_of(c, best);
    if (rs->reversed ? r > 0 : r < 0) best = c;
  }
  return best;
}

static bool at_row(const struct store_scanner *ss, const uint8_t *row, uint32_t len) {
  const struct cell *c = store_scanner_peek(ss);
  return c && cell_compare_rows(c->row, c->row_len, row, len) == 0;
}

/* Applies the filter to the row in rs->row. */
static int apply_filter(struct region_scanner *rs) {
  size_t n = rs->row.n;
  int rc = grow(&rs->marks, &rs->marks_cap, n);
  if (rc) return rc;
  memset(rs->marks, FILTER_KEEP, n);
  rc = filter_row(rs->filter, rs->row.cells, rs->marks, n, true);
  if (rc <= 0) {
    if (rc == 0) rs->row.n = 0;
    return rc;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!(rs->marks[i] & FILTER_KEEP)) continue;
    rs->row.cells[k] = rs->row.cells[i];
    if (rs->marks[i] & FILTER_STRIP_VALUE) rs->row.cells[k].value_len = 0;
    k++;
  }
  rs->row.n = k;
  return 0;
}

/* Builds the next non-empty row into rs->row: 1, 0 at the end, < 0. */
static int build_row(struct region_scanner *rs) {
  for (;;) {
    if (rs->limit && rs->rows >= rs->limit) return 0;
    const struct cell *c = next_row_cell(rs);
    if (!c) return 0;
    int rc = grow(&rs->rowkey, &rs->rowkey_cap, (size_t)c->row_len + 1);
    if (rc) return rc;
    memcpy(rs->rowkey, c->row, c->row_len);
    rs->rowkey_len = c->row_len;
    const uint8_t *row = rs->rowkey;
    uint32_t len = rs->rowkey_len;
    if (rs->get) {
      if (cell_compare_rows(row, len, rs->start, rs->start_len) != 0) return 0;
    } else if (rs->stop_len) {
      int r = cell_compare_rows(row, len, rs->stop, rs->stop_len);
      if (rs->reversed ? r <= 0 : r >= 0) return 0;
    }
    bool skip = false;
    if (rs->filter) {
      if (filter_done(rs->filter, row, len, rs->reversed)) return 0;
      skip = filter_skip_row_key(rs->filter, row, len);
    }
    row_buf_clear(&rs->row);
    for (size_t i = 0; i < rs->nstores; i++) {
      struct store_scanner *ss = rs->stores[i].ss;
      if (!at_row(ss, row, len)) continue;
      rc = skip ? store_scanner_skip_row(ss) : store_scanner_read_row(ss, row, len, &rs->row);
      if (rc < 0) return rc;
    }
    if (skip || rs->row.n == 0) continue;
    if (rs->filter) {
      rc = apply_filter(rs);
      if (rc < 0) return rc;
      if (rs->row.n == 0) continue;
    }
    rs->rows++;
    rs->pos = 0;
    return 1;
  }
}

int region_scanner_next(struct region_scanner *rs, struct scan_result *res) {
  if (rs->err) return rs->err;
  if (rs->pos >= rs->row.n) {
    if (rs->done) return 0;
    int rc = build_row(rs);
    if (rc <= 0) {
      rs->row.n = rs->pos = 0;
      if (rc < 0) rs->err = rc;
      else rs->done = true;
      return rc;
    }
  }
  size_t left = rs->row.n - rs->pos;
  size_t n = rs->batch && rs->batch < left ? rs->batch : left;
  res->cells = rs->row.cells + rs->pos;
  res->n = n;
  rs->pos += n;
  res->more_in_row = rs->pos < rs->row.n;
  return 1;
}

uint64_t region_scanner_rows(const struct region_scanner *rs) { return rs->rows; }

void region_scanner_close(struct region_scanner *rs) {
  if (!rs) return;
  for (size_t i = 0; i < rs->nstores; i++) {
    store_scanner_close(rs->stores[i].ss);
    free(rs->stores[i].family);
  }
  for (size_t i = 0; i < rs->nqual_copies; i++) free(rs->qual_copies[i]);
  free(rs->qual_copies);
  free(rs->stores);
  free(rs->start);
  free(rs->stop);
  free(rs->rowkey);
  free(rs->marks);
  row_buf_free(&rs->row);
  free(rs);
}
