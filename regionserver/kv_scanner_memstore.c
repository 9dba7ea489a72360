/*
 * kv_scanner_memstore.c - a MemStore scanner as a kv_scanner (kv_scanner.h),
 * and the seek-key helpers every source shares.
 *
 * MemStore cells live in the segment arenas, which the scanner keeps
 * alive, so the adapter is KV_SCANNER_STABLE and the read path never
 * copies them.
 */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "kv_scanner.h"
#include "memstore.h"

void kv_key_first_on_row(struct cell *k, const uint8_t *row, uint32_t row_len) {
  memset(k, 0, sizeof *k);
  k->row = row;
  k->row_len = row_len;
  k->timestamp = INT64_MAX;
  k->type = UINT8_MAX;
  k->seq_id = UINT64_MAX;
}

void kv_key_first_on_column(struct cell *k, const struct cell *c) {
  memset(k, 0, sizeof *k);
  k->row = c->row;
  k->row_len = c->row_len;
  k->family = c->family;
  k->family_len = c->family_len;
  k->qualifier = c->qualifier;
  k->qualifier_len = c->qualifier_len;
  k->timestamp = INT64_MAX;
  k->type = UINT8_MAX;
  k->seq_id = UINT64_MAX;
}

void kv_key_last_on_column(struct cell *k, const struct cell *c) {
  kv_key_first_on_column(k, c);
  k->timestamp = INT64_MIN;
  k->type = 0;
  k->seq_id = 0;
}

struct ms_adapter {
  struct kv_scanner base; /* first: the kv_scanner pointer is the adapter's */
  struct memstore_scanner *ms;
};

static const struct cell *ms_peek(struct kv_scanner *s) {
  return memstore_scanner_peek(((struct ms_adapter *)s)->ms);
}
static int ms_next(struct kv_scanner *s) {
  memstore_scanner_next(((struct ms_adapter *)s)->ms);
  return 0;
}
static int ms_seek(struct kv_scanner *s, const struct cell *key) {
  return memstore_scanner_seek(((struct ms_adapter *)s)->ms, key) ? 1 : 0;
}
static int ms_seek_prev_row(struct kv_scanner *s, const struct cell *key) {
  return memstore_scanner_seek_to_previous_row(((struct ms_adapter *)s)->ms, key) ? 1 : 0;
}
static int ms_seek_last_row(struct kv_scanner *s) {
  return memstore_scanner_seek_to_last_row(((struct ms_adapter *)s)->ms) ? 1 : 0;
}
static void ms_close(struct kv_scanner *s) {
  struct ms_adapter *a = (struct ms_adapter *)s;
  memstore_scanner_close(a->ms);
  free(a);
}

static const struct kv_scanner_ops ms_ops = {
    .peek = ms_peek,
    .next = ms_next,
    .seek = ms_seek,
    .seek_to_previous_row = ms_seek_prev_row,
    .seek_to_last_row = ms_seek_last_row,
    .may_contain_row = NULL,
    .close = ms_close,
};

struct kv_scanner *kv_scanner_memstore_wrap(struct memstore_scanner *ms_scanner, uint64_t order) {
  if (!ms_scanner) {
    dfs_err_set(DFS_ENOMEM, "memstore scanner: out of memory");
    return NULL;
  }
  struct ms_adapter *a = calloc(1, sizeof *a);
  if (!a) {
    memstore_scanner_close(ms_scanner);
    dfs_err_set(DFS_ENOMEM, "memstore scanner adapter: out of memory");
    return NULL;
  }
  a->base.ops = &ms_ops;
  a->base.flags = KV_SCANNER_STABLE;
  a->base.order = order;
  a->ms = ms_scanner;
  return &a->base;
}

struct kv_scanner *kv_scanner_memstore_open(struct memstore *ms, uint64_t read_point,
                                            uint64_t order) {
  return kv_scanner_memstore_wrap(memstore_scanner_open(ms, read_point), order);
}
