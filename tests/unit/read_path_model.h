/*
 * read_path_model.h - shared by the read-path unit tests (test_merge_scanner,
 * test_query_matcher, test_filter, test_region_scanner): a pool of owned
 * cells, a random generator, an in-memory sorted source whose cells are
 * poisoned when it moves (as an HFile scanner's block buffer may be), and
 * a brute-force reference model of what a scan must return, written from
 * the rules in query_matcher.h rather than from the streaming code.
 */
#ifndef READ_PATH_MODEL_H
#define READ_PATH_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"
#include "kv_scanner.h"
#include "memstore.h"
#include "query_matcher.h"
#include "region_scanner.h"
#include "test_cells.h"

/* ---- random ---------------------------------------------------------------- */

static uint64_t rp_rng = 0x243F6A8885A308D3ull;
static inline void rp_seed(uint64_t s) { rp_rng = s ? s : 1; }
static inline uint64_t rp_rand(void) {
  rp_rng ^= rp_rng << 13;
  rp_rng ^= rp_rng >> 7;
  rp_rng ^= rp_rng << 17;
  return rp_rng;
}
static inline uint32_t rp_below(uint32_t n) { return (uint32_t)(rp_rand() % n); }

/* ---- cells ----------------------------------------------------------------- */

struct pool {
  struct cell **v;
  size_t n, cap;
};

static inline struct cell *pool_add(struct pool *p, const char *row, const char *fam,
                                    const char *qual, int64_t ts, uint8_t type, uint64_t seq,
                                    const char *val) {
  struct cell c = tc_cell(row, fam, qual, ts, type, seq, val);
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 256;
    p->v = realloc(p->v, p->cap * sizeof *p->v);
  }
  return p->v[p->n++] = cell_dup(&c);
}

static inline void pool_free(struct pool *p) {
  for (size_t i = 0; i < p->n; i++) cell_free(p->v[i]);
  free(p->v);
  memset(p, 0, sizeof *p);
}

static inline int rp_cmp_cellp(const void *a, const void *b) {
  return cell_compare(*(struct cell *const *)a, *(struct cell *const *)b);
}
static inline void cells_sort(struct cell **v, size_t n) { qsort(v, n, sizeof *v, rp_cmp_cellp); }

static inline bool bytes_eq(const uint8_t *a, size_t alen, const char *s) {
  return alen == strlen(s) && memcmp(a, s, alen) == 0;
}

/* Full equality: key, seq_id and value. */
static inline bool cell_same(const struct cell *a, const struct cell *b) {
  return cell_compare(a, b) == 0 && a->value_len == b->value_len &&
         (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

static inline void cell_print(const char *tag, const struct cell *c) {
  fprintf(stderr, "%s %.*s/%.*s:%.*s ts=%lld %s seq=%llu val=%.*s\n", tag, (int)c->row_len,
          (const char *)c->row, (int)c->family_len, (const char *)c->family,
          (int)c->qualifier_len, (const char *)c->qualifier, (long long)c->timestamp,
          cell_type_name(c->type), (unsigned long long)c->seq_id, (int)c->value_len,
          (const char *)c->value);
}

/* ---- an array source that moves its bytes ----------------------------------- */

struct array_source {
  struct kv_scanner base;
  struct cell **v; /* sorted copy of the pointers (cells stay the pool's) */
  size_t n, pos;
  struct cell cur; /* what peek returns: bytes in buf, poisoned on move */
  uint8_t *buf;
  size_t cap;
  unsigned *bloom_negatives; /* counts may_contain_row() == false, if set */
};

static inline void as_load(struct array_source *s) {
  if (s->buf) memset(s->buf, 0xEE, s->cap); /* the old cell's bytes are gone */
  if (s->pos >= s->n) return;
  const struct cell *c = s->v[s->pos];
  size_t need = (size_t)c->row_len + c->family_len + c->qualifier_len + c->value_len + 1;
  if (need > s->cap) {
    free(s->buf); /* a new address, so stale pointers do not even see the poison */
    s->buf = malloc(need);
    s->cap = need;
  }
  uint8_t *p = s->buf;
  s->cur = *c;
  memcpy(p, c->row, c->row_len); s->cur.row = p; p += c->row_len;
  memcpy(p, c->family, c->family_len); s->cur.family = p; p += c->family_len;
  memcpy(p, c->qualifier, c->qualifier_len); s->cur.qualifier = p; p += c->qualifier_len;
  memcpy(p, c->value, c->value_len); s->cur.value = p;
}
static inline const struct cell *as_peek(struct kv_scanner *k) {
  struct array_source *s = (struct array_source *)k;
  return s->pos < s->n ? &s->cur : NULL;
}
static inline int as_next(struct kv_scanner *k) {
  struct array_source *s = (struct array_source *)k;
  if (s->pos < s->n) s->pos++;
  as_load(s);
  return 0;
}
static inline size_t as_lower(struct array_source *s, const struct cell *key) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cell_compare(s->v[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
static inline int as_seek(struct kv_scanner *k, const struct cell *key) {
  struct array_source *s = (struct array_source *)k;
  s->pos = as_lower(s, key);
  as_load(s);
  return s->pos < s->n;
}
static inline int as_goto_row_of(struct array_source *s, size_t last) {
  struct cell first;
  kv_key_first_on_row(&first, s->v[last]->row, s->v[last]->row_len);
  s->pos = as_lower(s, &first);
  as_load(s);
  return 1;
}
static inline int as_seek_prev_row(struct kv_scanner *k, const struct cell *key) {
  struct array_source *s = (struct array_source *)k;
  struct cell first;
  kv_key_first_on_row(&first, key->row, key->row_len);
  size_t i = as_lower(s, &first);
  if (i == 0) {
    s->pos = s->n;
    as_load(s);
    return 0;
  }
  return as_goto_row_of(s, i - 1);
}
static inline int as_seek_last_row(struct kv_scanner *k) {
  struct array_source *s = (struct array_source *)k;
  if (!s->n) return 0;
  return as_goto_row_of(s, s->n - 1);
}
static inline bool as_may_contain(struct kv_scanner *k, const uint8_t *row, uint32_t len) {
  struct array_source *s = (struct array_source *)k;
  struct cell first;
  kv_key_first_on_row(&first, row, len);
  size_t i = as_lower(s, &first);
  bool yes = i < s->n && cell_compare_rows(s->v[i]->row, s->v[i]->row_len, row, len) == 0;
  if (!yes && s->bloom_negatives) (*s->bloom_negatives)++;
  return yes;
}
static inline void as_close(struct kv_scanner *k) {
  struct array_source *s = (struct array_source *)k;
  free(s->v);
  free(s->buf);
  free(s);
}
static const struct kv_scanner_ops array_source_ops = {
    as_peek, as_next, as_seek, as_seek_prev_row, as_seek_last_row, as_may_contain, as_close,
};

/* A source over cells[0..n) (copied and sorted; the cells must outlive it),
 * positioned at its first cell. */
static inline struct kv_scanner *array_source_open(struct cell *const *cells, size_t n,
                                                   uint64_t order) {
  struct array_source *s = calloc(1, sizeof *s);
  s->base.ops = &array_source_ops;
  s->base.order = order;
  s->v = malloc((n ? n : 1) * sizeof *s->v);
  if (n) memcpy(s->v, cells, n * sizeof *cells);
  s->n = n;
  cells_sort(s->v, n);
  as_load(s);
  return &s->base;
}

/* ---- reference model -------------------------------------------------------- */

struct ref_family {
  const char *name;
  struct family_opts opts;
};

/* Rows of cells: cells[row_start[i] .. row_start[i+1]). */
struct ref_result {
  struct cell **cells;
  size_t n, cap;
  size_t *row_start;
  size_t nrows, rcap;
};

static inline void ref_push(struct ref_result *r, struct cell *c) {
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 256;
    r->cells = realloc(r->cells, r->cap * sizeof *r->cells);
  }
  r->cells[r->n++] = c;
}
static inline void ref_begin_row(struct ref_result *r) {
  if (r->nrows + 2 > r->rcap) {
    r->rcap = r->rcap ? r->rcap * 2 : 64;
    r->row_start = realloc(r->row_start, r->rcap * sizeof *r->row_start);
  }
  r->row_start[r->nrows] = r->n;
  r->row_start[r->nrows + 1] = r->n;
}
static inline void ref_end_row(struct ref_result *r) {
  if (r->n > r->row_start[r->nrows]) r->nrows++;
  r->row_start[r->nrows] = r->n;
}
static inline void ref_free(struct ref_result *r) {
  free(r->cells);
  free(r->row_start);
  memset(r, 0, sizeof *r);
}

static inline bool ref_selected_family(const struct scan_spec *sp, const char *fam,
                                       const struct scan_family **sf_out) {
  *sf_out = NULL;
  if (!sp->n_families) return true;
  for (size_t i = 0; i < sp->n_families; i++)
    if (bytes_eq(sp->families[i].family, sp->families[i].family_len, fam)) {
      *sf_out = &sp->families[i];
      return true;
    }
  return false;
}

static inline bool ref_selected_qual(const struct scan_family *sf, const struct cell *c) {
  if (!sf || !sf->n_qualifiers) return true;
  for (size_t i = 0; i < sf->n_qualifiers; i++)
    if (sf->qualifiers[i].len == c->qualifier_len &&
        (c->qualifier_len == 0 || memcmp(sf->qualifiers[i].q, c->qualifier, c->qualifier_len) == 0))
      return true;
  return false;
}

/* One (row, family) slice v[a..b) (sorted): its visible cells into out. */
static inline void ref_family_row(struct cell **v, size_t a, size_t b, const struct scan_spec *sp,
                                  const struct family_opts *fo, const struct scan_family *sf,
                                  int64_t now, struct ref_result *out) {
  uint32_t maxv = sp->max_versions ? sp->max_versions : 1;
  uint32_t fmax = fo->max_versions ? fo->max_versions : 1;
  if (fmax < maxv) maxv = fmax;
  uint32_t minv = fo->min_versions < maxv ? fo->min_versions : maxv;
  int64_t oldest = qm_oldest_ts(now, fo->ttl_ms);
  for (size_t s = a; s < b;) {
    size_t e = s;
    while (e < b && v[e]->qualifier_len == v[s]->qualifier_len &&
           memcmp(v[e]->qualifier, v[s]->qualifier, v[s]->qualifier_len) == 0)
      e++;
    if (!ref_selected_qual(sf, v[s])) {
      s = e;
      continue;
    }
    uint32_t k = 0;
    bool has_last = false;
    int64_t last = 0;
    for (size_t i = s; i < e; i++) {
      struct cell *c = v[i];
      if (c->seq_id > sp->read_point) continue;
      if (c->timestamp >= sp->tr_max || c->timestamp < sp->tr_min) continue;
      bool expired = c->timestamp < oldest;
      if (sp->raw) {
        if (expired && minv == 0) continue;
      } else {
        if (c->type != CELL_PUT) continue;
        bool deleted = false;
        for (size_t j = a; j < b && !deleted; j++) { /* family markers of the row */
          const struct cell *m = v[j];
          if (m->seq_id > sp->read_point) continue;
          if (m->type == CELL_DELETE_FAMILY && m->timestamp >= c->timestamp) deleted = true;
          if (m->type == CELL_DELETE_FAMILY_VERSION && m->timestamp == c->timestamp) deleted = true;
        }
        for (size_t j = s; j < e && !deleted; j++) { /* column markers */
          const struct cell *m = v[j];
          if (m->seq_id > sp->read_point) continue;
          if (m->type == CELL_DELETE_COLUMN && m->timestamp >= c->timestamp) deleted = true;
          if (m->type == CELL_DELETE && m->timestamp == c->timestamp) deleted = true;
        }
        if (deleted) continue;
        if (has_last && last == c->timestamp) continue;
        has_last = true;
        last = c->timestamp;
      }
      k++;
      if (k <= maxv && (!expired || k <= minv)) ref_push(out, c);
    }
    s = e;
  }
}

/* What a scan of `all` (every cell of every source) must return, before
 * filters, batching and limit. fams[0..nf) sorted by name. */
static inline void ref_scan(struct cell **all, size_t n, const struct ref_family *fams, size_t nf,
                            const struct scan_spec *sp, struct ref_result *out) {
  struct cell **v = malloc((n ? n : 1) * sizeof *v);
  if (n) memcpy(v, all, n * sizeof *v);
  cells_sort(v, n);
  /* row boundaries */
  size_t *rows = malloc((n + 1) * sizeof *rows), nrows = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || cell_compare_row_of(v[i], v[i - 1]) != 0) rows[nrows++] = i;
  rows[nrows] = n;
  for (size_t ri = 0; ri < nrows; ri++) {
    size_t r = sp->reversed ? nrows - 1 - ri : ri;
    const struct cell *rc = v[rows[r]];
    if (sp->get) {
      if (cell_compare_rows(rc->row, rc->row_len, sp->start_row, sp->start_row_len) != 0) continue;
    } else {
      int c1 = sp->start_row_len ? cell_compare_rows(rc->row, rc->row_len, sp->start_row,
                                                     sp->start_row_len) : 0;
      int c2 = sp->stop_row_len ? cell_compare_rows(rc->row, rc->row_len, sp->stop_row,
                                                    sp->stop_row_len) : 0;
      if (!sp->reversed && (c1 < 0 || (sp->stop_row_len && c2 >= 0))) continue;
      if (sp->reversed && (c1 > 0 || (sp->stop_row_len && c2 <= 0))) continue;
    }
    ref_begin_row(out);
    for (size_t f = 0; f < nf; f++) {
      const struct scan_family *sf;
      if (!ref_selected_family(sp, fams[f].name, &sf)) continue;
      size_t a = rows[r], b;
      while (a < rows[r + 1] && cell_compare_rows(v[a]->family, v[a]->family_len,
                                                  (const uint8_t *)fams[f].name,
                                                  strlen(fams[f].name)) < 0)
        a++;
      b = a;
      while (b < rows[r + 1] && bytes_eq(v[b]->family, v[b]->family_len, fams[f].name)) b++;
      ref_family_row(v, a, b, sp, &fams[f].opts, sf, sp->now_ms, out);
    }
    ref_end_row(out);
  }
  free(rows);
  free(v);
}

/* Runs rs to the end and compares with ref rows[0..) (after limit);
 * returns the number of mismatches (printing the first few). */
static inline int compare_scan(struct region_scanner *rs, const struct ref_result *ref,
                               uint64_t limit, uint32_t batch) {
  size_t want_rows = ref->nrows;
  if (limit && limit < want_rows) want_rows = limit;
  size_t row = 0, idx = 0;
  int bad = 0;
  struct scan_result res;
  int rc;
  bool mid_row = false;
  while ((rc = region_scanner_next(rs, &res)) == 1) {
    if (batch && res.n > batch) bad++;
    if (row >= want_rows) {
      if (bad++ < 3) cell_print("extra row", &res.cells[0]);
      continue;
    }
    if (!mid_row) idx = ref->row_start[row];
    for (size_t i = 0; i < res.n; i++, idx++) {
      if (idx >= ref->row_start[row + 1] || !cell_same(&res.cells[i], ref->cells[idx])) {
        if (bad++ < 3) {
          cell_print("got ", &res.cells[i]);
          if (idx < ref->row_start[row + 1]) cell_print("want", ref->cells[idx]);
          else fprintf(stderr, "want end of row\n");
        }
      }
    }
    mid_row = res.more_in_row;
    if (!mid_row) {
      if (idx != ref->row_start[row + 1] && bad++ < 3)
        fprintf(stderr, "row %zu: %zu cells, want %zu\n", row, idx - ref->row_start[row],
                ref->row_start[row + 1] - ref->row_start[row]);
      row++;
    }
  }
  if (rc < 0) bad++;
  if (row != want_rows) {
    if (bad++ < 3) fprintf(stderr, "rows %zu, want %zu\n", row, want_rows);
  }
  return bad;
}

/* ---- a small store for targeted tests ---------------------------------------- */

/* Scans cells[0..n) of one family "f" (in one MemStore, or split over a
 * MemStore and two moving sources when split) and prints the result as
 * "row/qual@ts=value" items separated by spaces (markers: "row/qual@ts:Type"),
 * rows separated by " | ". */
static inline int scan_to_string(struct cell *const *cells, size_t n, struct family_opts fo,
                                 const struct scan_spec *sp, bool split, char *out, size_t cap) {
  struct memstore *ms = memstore_create(0);
  struct cell **part[2];
  size_t np[2] = {0, 0};
  part[0] = malloc((n + 1) * sizeof(struct cell *));
  part[1] = malloc((n + 1) * sizeof(struct cell *));
  for (size_t i = 0; i < n; i++) {
    int where = split ? (int)(i % 3) : 2;
    if (where == 2) memstore_add(ms, cells[i], NULL);
    else part[where][np[where]++] = cells[i];
  }
  struct kv_scanner *src[3];
  src[0] = kv_scanner_memstore_open(ms, sp->read_point, 100);
  src[1] = array_source_open(part[0], np[0], 1);
  src[2] = array_source_open(part[1], np[1], 2);
  struct store_source st = {(const uint8_t *)"f", 1, fo, src, 3};
  struct region_scanner *rs;
  int rc = region_scanner_open(sp, &st, 1, &rs);
  size_t len = 0;
  out[0] = 0;
  if (rc == 0) {
    struct scan_result res;
    bool sep = false;
    while ((rc = region_scanner_next(rs, &res)) == 1) {
      if (sep) len += (size_t)snprintf(out + len, cap - len, " | ");
      sep = true;
      for (size_t i = 0; i < res.n; i++) {
        const struct cell *c = &res.cells[i];
        len += (size_t)snprintf(out + len, cap - len, "%s%.*s/%.*s@%lld", i ? " " : "",
                                (int)c->row_len, (const char *)c->row, (int)c->qualifier_len,
                                (const char *)c->qualifier, (long long)c->timestamp);
        if (c->type == CELL_PUT)
          len += (size_t)snprintf(out + len, cap - len, "=%.*s", (int)c->value_len,
                                  (const char *)c->value);
        else
          len += (size_t)snprintf(out + len, cap - len, ":%s", cell_type_name(c->type));
        if (len >= cap) len = cap - 1;
      }
      if (res.more_in_row) len += (size_t)snprintf(out + len, cap - len, " +");
      if (len >= cap) len = cap - 1;
    }
    region_scanner_close(rs);
  }
  free(part[0]);
  free(part[1]);
  memstore_destroy(ms);
  return rc;
}

#endif /* READ_PATH_MODEL_H */
