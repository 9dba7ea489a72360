/*
 * kv_scanner_hfile.c - an HFile scanner as a kv_scanner (kv_scanner.h).
 *
 * The HFile scanner answers 1/0/<0 for every move; the interface wants 0
 * or an error from next. Reversed moves are made of forward ones: the last
 * cell before the row (seek_before) names the previous row, whose first
 * cell is then sought. That row name must be copied first, because the
 * cell lives in a block the next seek may drop.
 */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "store_file.h"

struct hf_adapter {
  struct kv_scanner base; /* first */
  struct hfile_scanner *hs;
  struct hfile_reader *r;
  void (*release)(void *arg);
  void *arg;
  uint8_t *row;           /* a row name copied for reversed moves */
  size_t row_cap;
};

static const struct cell *hf_peek(struct kv_scanner *s) {
  return hfile_scanner_peek(((struct hf_adapter *)s)->hs);
}

static int hf_next(struct kv_scanner *s) {
  int rc = hfile_scanner_next(((struct hf_adapter *)s)->hs);
  return rc < 0 ? rc : 0;
}

static int hf_seek(struct kv_scanner *s, const struct cell *key) {
  return hfile_scanner_seek(((struct hf_adapter *)s)->hs, key);
}

/* From a cell of some row, to the first cell of that row. */
static int to_row_start(struct hf_adapter *a) {
  const struct cell *c = hfile_scanner_peek(a->hs);
  if (!c) return 0;
  if (c->row_len > a->row_cap) {
    size_t n = a->row_cap ? a->row_cap : 64;
    while (n < c->row_len) n *= 2;
    uint8_t *p = realloc(a->row, n);
    if (!p) return dfs_err_set(DFS_ENOMEM, "hfile scanner: out of memory for a row key");
    a->row = p;
    a->row_cap = n;
  }
  uint32_t len = c->row_len;
  if (len) memcpy(a->row, c->row, len);
  struct cell key;
  kv_key_first_on_row(&key, a->row, len);
  return hfile_scanner_seek(a->hs, &key);
}

static int hf_seek_prev_row(struct kv_scanner *s, const struct cell *key) {
  struct hf_adapter *a = (struct hf_adapter *)s;
  struct cell k;
  kv_key_first_on_row(&k, key->row, key->row_len);
  int rc = hfile_scanner_seek_before(a->hs, &k);
  if (rc <= 0) return rc;
  return to_row_start(a);
}

static int hf_seek_last_row(struct kv_scanner *s) {
  struct hf_adapter *a = (struct hf_adapter *)s;
  int rc = hfile_scanner_seek_to_last(a->hs);
  if (rc <= 0) return rc;
  return to_row_start(a);
}

static bool hf_may_contain_row(struct kv_scanner *s, const uint8_t *row, uint32_t len) {
  return hfile_reader_may_contain_row(((struct hf_adapter *)s)->r, row, len);
}

static void hf_close(struct kv_scanner *s) {
  struct hf_adapter *a = (struct hf_adapter *)s;
  hfile_scanner_free(a->hs);
  if (a->release) a->release(a->arg);
  free(a->row);
  free(a);
}

static const struct kv_scanner_ops hf_ops = {
    .peek = hf_peek,
    .next = hf_next,
    .seek = hf_seek,
    .seek_to_previous_row = hf_seek_prev_row,
    .seek_to_last_row = hf_seek_last_row,
    .may_contain_row = hf_may_contain_row,
    .close = hf_close,
};

struct kv_scanner *kv_scanner_hfile_open(struct hfile_reader *r, uint64_t order,
                                         void (*release)(void *arg), void *arg) {
  struct hf_adapter *a = calloc(1, sizeof *a);
  struct hfile_scanner *hs = a ? hfile_scanner_new(r) : NULL;
  if (!hs) {
    free(a);
    if (release) release(arg);
    dfs_err_set(DFS_ENOMEM, "hfile %s: out of memory for a scanner", hfile_reader_name(r));
    return NULL;
  }
  a->base.ops = &hf_ops;
  a->base.flags = 0;
  a->base.order = order;
  a->hs = hs;
  a->r = r;
  a->release = release;
  a->arg = arg;
  return &a->base;
}
