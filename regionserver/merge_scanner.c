/*
 * merge_scanner.c - k-way merge of kv_scanners with a binary heap
 * (merge_scanner.h).
 *
 * heap[0..nheap) holds the positioned sources; heap[0] is the current one.
 * After the current source moves, only it can be out of place, so one
 * sift-down restores the heap. Exhausted sources leave the heap but stay
 * in subs[] until close.
 */
#include "merge_scanner.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct heap_entry {
  struct kv_scanner *s;
  const struct cell *c; /* cached peek, never NULL inside the heap */
};

struct merge_scanner {
  bool reversed;
  bool stable;
  int err;                   /* sticky error, 0 if none */
  size_t nsubs;
  struct kv_scanner **subs;  /* every source, for close */
  struct heap_entry *heap;
  size_t nheap;
  uint8_t *keybuf;           /* copy of a seek key's bytes */
  size_t keycap;
  uint8_t *rowbuf;           /* copy of the row being left (reversed next) */
  size_t rowcap;
};

/* <0 if a should be returned before b. */
static int entry_cmp(const struct merge_scanner *m, const struct heap_entry *a,
                     const struct heap_entry *b) {
  int c;
  if (m->reversed) {
    c = cell_compare_row_of(a->c, b->c);
    if (c) return -c;
  }
  c = cell_compare(a->c, b->c);
  if (c) return c;
  return a->s->order > b->s->order ? -1 : a->s->order < b->s->order ? 1 : 0;
}

static void sift_down(struct merge_scanner *m, size_t i) {
  struct heap_entry e = m->heap[i];
  size_t n = m->nheap;
  for (;;) {
    size_t l = 2 * i + 1;
    if (l >= n) break;
    size_t best = l;
    if (l + 1 < n && entry_cmp(m, &m->heap[l + 1], &m->heap[l]) < 0) best = l + 1;
    if (entry_cmp(m, &m->heap[best], &e) >= 0) break;
    m->heap[i] = m->heap[best];
    i = best;
  }
  m->heap[i] = e;
}

static void heapify(struct merge_scanner *m) {
  for (size_t i = m->nheap / 2; i-- > 0;) sift_down(m, i);
}

/* Re-reads heap[i]'s peek after its source moved; drops it if exhausted.
 * Does not restore heap order. Returns whether it stayed. */
static bool refresh(struct merge_scanner *m, size_t i) {
  m->heap[i].c = kv_scanner_peek(m->heap[i].s);
  if (m->heap[i].c) return true;
  m->heap[i] = m->heap[--m->nheap];
  return false;
}

static int fail(struct merge_scanner *m, int rc) {
  m->err = rc;
  m->nheap = 0;
  return rc;
}

static int grow(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  uint8_t *p = realloc(*buf, n);
  if (!p) return dfs_err_set(DFS_ENOMEM, "merge scanner: out of memory for a %zu-byte key", need);
  *buf = p;
  *cap = n;
  return 0;
}

/* Copies key's row/family/qualifier into keybuf; *k points there. */
static int copy_key(struct merge_scanner *m, const struct cell *key, struct cell *k) {
  size_t n = (size_t)key->row_len + key->family_len + key->qualifier_len;
  int rc = grow(&m->keybuf, &m->keycap, n + 1);
  if (rc) return rc;
  *k = *key;
  uint8_t *p = m->keybuf;
  if (key->row_len) memcpy(p, key->row, key->row_len);
  k->row = p;
  p += key->row_len;
  if (key->family_len) memcpy(p, key->family, key->family_len);
  k->family = p;
  p += key->family_len;
  if (key->qualifier_len) memcpy(p, key->qualifier, key->qualifier_len);
  k->qualifier = p;
  k->value = NULL;
  k->value_len = 0;
  return 0;
}

int merge_scanner_open(struct kv_scanner *const *subs, size_t n, bool reversed,
                       struct merge_scanner **out) {
  struct merge_scanner *m = calloc(1, sizeof *m);
  if (m) {
    m->subs = calloc(n ? n : 1, sizeof *m->subs);
    m->heap = calloc(n ? n : 1, sizeof *m->heap);
  }
  if (!m || !m->subs || !m->heap) {
    for (size_t i = 0; i < n; i++) kv_scanner_close(subs[i]);
    if (m) {
      free(m->subs);
      free(m->heap);
      free(m);
    }
    return dfs_err_set(DFS_ENOMEM, "merge scanner: out of memory for %zu sources", n);
  }
  m->reversed = reversed;
  m->stable = true;
  m->nsubs = n;
  for (size_t i = 0; i < n; i++) {
    m->subs[i] = subs[i];
    if (!(subs[i]->flags & KV_SCANNER_STABLE)) m->stable = false;
  }
  *out = m;
  return 0;
}

int merge_scanner_start(struct merge_scanner *m, const uint8_t *row, uint32_t row_len) {
  if (m->err) return m->err;
  struct cell key;
  kv_key_first_on_row(&key, row, row_len);
  m->nheap = 0;
  for (size_t i = 0; i < m->nsubs; i++) {
    struct kv_scanner *s = m->subs[i];
    int rc;
    if (!m->reversed) {
      rc = kv_scanner_seek(s, &key);
    } else if (row_len == 0) {
      rc = kv_scanner_seek_to_last_row(s);
    } else {
      rc = kv_scanner_seek(s, &key);
      if (rc == 1) {
        const struct cell *c = kv_scanner_peek(s);
        if (cell_compare_rows(c->row, c->row_len, row, row_len) != 0) rc = 0;
      }
      if (rc == 0) rc = kv_scanner_seek_to_previous_row(s, &key);
    }
    if (rc < 0) return fail(m, rc);
    const struct cell *c = rc == 1 ? kv_scanner_peek(s) : NULL;
    if (c) m->heap[m->nheap++] = (struct heap_entry){s, c};
  }
  heapify(m);
  return m->nheap ? 1 : 0;
}

const struct cell *merge_scanner_peek(const struct merge_scanner *m) {
  return m->nheap ? m->heap[0].c : NULL;
}

int merge_scanner_next(struct merge_scanner *m) {
  if (m->err) return m->err;
  if (!m->nheap) return 0;
  struct heap_entry *top = &m->heap[0];
  if (!m->reversed) {
    int rc = kv_scanner_next(top->s);
    if (rc < 0) return fail(m, rc);
  } else {
    /* Remember the row (the source may drop the cell's bytes when it
     * moves); if the source leaves the row, send it to its previous row. */
    const struct cell *c = top->c;
    const uint8_t *row = c->row;
    uint32_t row_len = c->row_len;
    if (!(top->s->flags & KV_SCANNER_STABLE)) {
      int rc = grow(&m->rowbuf, &m->rowcap, row_len + 1);
      if (rc) return fail(m, rc);
      memcpy(m->rowbuf, row, row_len);
      row = m->rowbuf;
    }
    int rc = kv_scanner_next(top->s);
    if (rc < 0) return fail(m, rc);
    const struct cell *n = kv_scanner_peek(top->s);
    if (!n || cell_compare_rows(n->row, n->row_len, row, row_len) != 0) {
      struct cell key;
      kv_key_first_on_row(&key, row, row_len);
      rc = kv_scanner_seek_to_previous_row(top->s, &key);
      if (rc < 0) return fail(m, rc);
    }
  }
  refresh(m, 0);
  if (m->nheap) sift_down(m, 0);
  return 0;
}

int merge_scanner_reseek(struct merge_scanner *m, const struct cell *key_in) {
  if (m->err) return m->err;
  if (!m->nheap) return 0;
  struct cell key;
  int rc = copy_key(m, key_in, &key);
  if (rc) return fail(m, rc);
  for (size_t i = 0; i < m->nheap;) {
    struct heap_entry *e = &m->heap[i];
    if (m->reversed && cell_compare_row_of(e->c, &key) != 0) {
      i++; /* in an earlier row: untouched */
      continue;
    }
    if (cell_compare(e->c, &key) >= 0) {
      i++;
      continue;
    }
    rc = kv_scanner_seek(e->s, &key);
    if (rc < 0) return fail(m, rc);
    if (m->reversed) {
      const struct cell *c = rc == 1 ? kv_scanner_peek(e->s) : NULL;
      if (!c || cell_compare_row_of(c, &key) != 0) {
        rc = kv_scanner_seek_to_previous_row(e->s, &key);
        if (rc < 0) return fail(m, rc);
      }
    }
    if (refresh(m, i)) i++;
  }
  heapify(m);
  return 0;
}

int merge_scanner_next_row(struct merge_scanner *m) {
  if (m->err) return m->err;
  if (!m->nheap) return 0;
  /* Copy the row: it may live in the top source's block. Forward, the
   * seek key is row + 0x00 with an empty family: the first possible cell
   * of the smallest row greater than row. */
  const struct cell *top = m->heap[0].c;
  int rc = grow(&m->keybuf, &m->keycap, (size_t)top->row_len + 1);
  if (rc) return fail(m, rc);
  memcpy(m->keybuf, top->row, top->row_len);
  uint32_t row_len = top->row_len;
  struct cell cur_row, key;
  kv_key_first_on_row(&cur_row, m->keybuf, row_len);
  if (!m->reversed) {
    m->keybuf[row_len] = 0;
    kv_key_first_on_row(&key, m->keybuf, row_len + 1);
  }
  for (size_t i = 0; i < m->nheap;) {
    struct heap_entry *e = &m->heap[i];
    if (cell_compare_row_of(e->c, &cur_row) != 0) {
      i++;
      continue;
    }
    rc = m->reversed ? kv_scanner_seek_to_previous_row(e->s, &cur_row)
                     : kv_scanner_seek(e->s, &key);
    if (rc < 0) return fail(m, rc);
    if (refresh(m, i)) i++;
  }
  heapify(m);
  return 0;
}

bool merge_scanner_stable(const struct merge_scanner *m) { return m->stable; }

size_t merge_scanner_sources(const struct merge_scanner *m) { return m->nsubs; }

void merge_scanner_close(struct merge_scanner *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nsubs; i++) kv_scanner_close(m->subs[i]);
  free(m->subs);
  free(m->heap);
  free(m->keybuf);
  free(m->rowbuf);
  free(m);
}
