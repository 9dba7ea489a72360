/*
 * store_scanner.c - one store's merge + matcher loop (store_scanner.h).
 *
 * Skipping a column first tries a few plain next() calls and seeks only
 * if the column goes on: for the common one or two versions per column a
 * step is much cheaper than a seek through every source (HBase does the
 * same in StoreScanner.trySkipToNextColumn).
 */
#include "store_scanner.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "merge_scanner.h"

#define NEXT_BEFORE_SEEK 3
#define CHUNK_SIZE (64u << 10)

struct row_buf_chunk {
  uint8_t *mem;
  size_t cap, used;
};

static uint8_t *chunk_alloc(struct row_buf *b, size_t need) {
  while (b->cur < b->nchunks && b->chunks[b->cur].cap - b->chunks[b->cur].used < need) b->cur++;
  if (b->cur == b->nchunks) {
    struct row_buf_chunk *p = realloc(b->chunks, (b->nchunks + 1) * sizeof *p);
    if (!p) return NULL;
    b->chunks = p;
    size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
    p[b->nchunks].mem = malloc(cap);
    if (!p[b->nchunks].mem) return NULL;
    p[b->nchunks].cap = cap;
    p[b->nchunks].used = 0;
    b->nchunks++;
  }
  struct row_buf_chunk *c = &b->chunks[b->cur];
  uint8_t *r = c->mem + c->used;
  c->used += need;
  return r;
}

int row_buf_add(struct row_buf *b, const struct cell *c, bool copy) {
  if (b->n == b->cap) {
    size_t n = b->cap ? b->cap * 2 : 64;
    struct cell *p = realloc(b->cells, n * sizeof *p);
    if (!p) return dfs_err_set(DFS_ENOMEM, "scan: out of memory for a %zu-cell row", b->n);
    b->cells = p;
    b->cap = n;
  }
  struct cell *d = &b->cells[b->n];
  *d = *c;
  if (copy) {
    size_t need = (size_t)c->row_len + c->family_len + c->qualifier_len + c->value_len;
    uint8_t *p = chunk_alloc(b, need ? need : 1);
    if (!p) return dfs_err_set(DFS_ENOMEM, "scan: out of memory copying a %zu-byte cell", need);
    memcpy(p, c->row, c->row_len);
    d->row = p;
    p += c->row_len;
    memcpy(p, c->family, c->family_len);
    d->family = p;
    p += c->family_len;
    if (c->qualifier_len) memcpy(p, c->qualifier, c->qualifier_len);
    d->qualifier = p;
    p += c->qualifier_len;
    if (c->value_len) memcpy(p, c->value, c->value_len);
    d->value = p;
  }
  b->n++;
  return 0;
}

void row_buf_clear(struct row_buf *b) {
  b->n = 0;
  for (size_t i = 0; i <= b->cur && i < b->nchunks; i++) b->chunks[i].used = 0;
  b->cur = 0;
}

void row_buf_free(struct row_buf *b) {
  for (size_t i = 0; i < b->nchunks; i++) free(b->chunks[i].mem);
  free(b->chunks);
  free(b->cells);
  memset(b, 0, sizeof *b);
}

struct store_scanner {
  struct merge_scanner *m;
  struct query_matcher *qm;
  bool stable;
  /* a copy of a column key (unstable sources) */
  uint8_t *colbuf;
  size_t colcap;
  /* compaction iteration */
  uint8_t *rowbuf;
  size_t rowcap;
  uint32_t row_len;
  bool have_row, pending_next;
};

int store_scanner_open(struct kv_scanner *const *sources, size_t n, const struct qm_config *cfg,
                       bool reversed, struct store_scanner **out) {
  struct store_scanner *ss = calloc(1, sizeof *ss);
  if (!ss) {
    for (size_t i = 0; i < n; i++) kv_scanner_close(sources[i]);
    return dfs_err_set(DFS_ENOMEM, "store scanner: out of memory");
  }
  int rc = merge_scanner_open(sources, n, reversed, &ss->m);
  if (rc) {
    free(ss);
    return rc;
  }
  ss->qm = query_matcher_create(cfg);
  if (!ss->qm) {
    merge_scanner_close(ss->m);
    free(ss);
    return DFS_ENOMEM;
  }
  ss->stable = merge_scanner_stable(ss->m);
  *out = ss;
  return 0;
}

void store_scanner_close(struct store_scanner *ss) {
  if (!ss) return;
  merge_scanner_close(ss->m);
  query_matcher_destroy(ss->qm);
  free(ss->colbuf);
  free(ss->rowbuf);
  free(ss);
}

int store_scanner_start(struct store_scanner *ss, const uint8_t *row, uint32_t row_len) {
  ss->have_row = ss->pending_next = false;
  return merge_scanner_start(ss->m, row, row_len);
}

const struct cell *store_scanner_peek(const struct store_scanner *ss) {
  return merge_scanner_peek(ss->m);
}

int store_scanner_skip_row(struct store_scanner *ss) { return merge_scanner_next_row(ss->m); }

static int grow(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  uint8_t *p = realloc(*buf, n);
  if (!p) return dfs_err_set(DFS_ENOMEM, "store scanner: out of memory for a %zu-byte key", need);
  *buf = p;
  *cap = n;
  return 0;
}

/* Moves past every remaining cell of c's column. */
static int skip_column(struct store_scanner *ss, const struct cell *c) {
  struct cell key;
  kv_key_last_on_column(&key, c);
  if (!ss->stable) { /* c's bytes may go away when the sources move */
    size_t n = (size_t)c->row_len + c->family_len + c->qualifier_len;
    int rc = grow(&ss->colbuf, &ss->colcap, n + 1);
    if (rc) return rc;
    uint8_t *p = ss->colbuf;
    memcpy(p, c->row, c->row_len);
    key.row = p;
    p += c->row_len;
    memcpy(p, c->family, c->family_len);
    key.family = p;
    p += c->family_len;
    if (c->qualifier_len) memcpy(p, c->qualifier, c->qualifier_len);
    key.qualifier = p;
  }
  for (int i = 0; i < NEXT_BEFORE_SEEK; i++) {
    int rc = merge_scanner_next(ss->m);
    if (rc < 0) return rc;
    const struct cell *n = merge_scanner_peek(ss->m);
    if (!n || !cell_same_column(n, &key)) return 0;
  }
  return merge_scanner_reseek(ss->m, &key);
}

int store_scanner_read_row(struct store_scanner *ss, const uint8_t *row, uint32_t row_len,
                           struct row_buf *out) {
  query_matcher_new_row(ss->qm);
  bool copy = !ss->stable;
  int rc = 0;
  for (;;) {
    const struct cell *c = merge_scanner_peek(ss->m);
    if (!c || cell_compare_rows(c->row, c->row_len, row, row_len) != 0) break;
    switch (query_matcher_match(ss->qm, c)) {
      case QM_INCLUDE:
        if ((rc = row_buf_add(out, c, copy)) < 0) return rc;
        rc = merge_scanner_next(ss->m);
        break;
      case QM_SKIP:
        rc = merge_scanner_next(ss->m);
        break;
      case QM_INCLUDE_AND_SEEK_NEXT_COL:
        if ((rc = row_buf_add(out, c, copy)) < 0) return rc;
        rc = skip_column(ss, c);
        break;
      case QM_SEEK_NEXT_COL:
        rc = skip_column(ss, c);
        break;
      case QM_SEEK_NEXT_ROW:
        return merge_scanner_next_row(ss->m);
      case QM_SEEK_HINT:
        rc = merge_scanner_reseek(ss->m, query_matcher_hint(ss->qm));
        break;
    }
    if (rc < 0) return rc;
  }
  return 0;
}

int store_scanner_next_cell(struct store_scanner *ss, const struct cell **out) {
  if (ss->pending_next) {
    ss->pending_next = false;
    int rc = merge_scanner_next(ss->m);
    if (rc < 0) return rc;
  }
  for (;;) {
    const struct cell *c = merge_scanner_peek(ss->m);
    if (!c) return 0;
    if (!ss->have_row ||
        cell_compare_rows(c->row, c->row_len, ss->rowbuf, ss->row_len) != 0) {
      int rc = grow(&ss->rowbuf, &ss->rowcap, (size_t)c->row_len + 1);
      if (rc) return rc;
      memcpy(ss->rowbuf, c->row, c->row_len);
      ss->row_len = c->row_len;
      ss->have_row = true;
      query_matcher_new_row(ss->qm);
    }
    enum qm_code code = query_matcher_match(ss->qm, c);
    if (code == QM_INCLUDE || code == QM_INCLUDE_AND_SEEK_NEXT_COL) {
      *out = c;
      ss->pending_next = true;
      return 1;
    }
    int rc = merge_scanner_next(ss->m); /* compaction matchers only skip */
    if (rc < 0) return rc;
  }
}
