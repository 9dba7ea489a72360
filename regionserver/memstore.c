/*
 * memstore.c - MemStore segments as concurrent skip lists over an arena,
 * snapshots, and the merging scanner (memstore.h).
 *
 * Concurrency design. Nodes are never removed or moved while a segment
 * lives, which makes an insert-only lock-free skip list simple (the shape
 * of RocksDB's concurrent InlineSkipList): an inserter finds, for every
 * level, the pair (prev, next) between which its node belongs, then links
 * level 0 first and the higher levels after, each with a CAS of
 * prev->next[i] from next to the node. A failed CAS means another node
 * went in there: search again at that level starting from prev, which is
 * still before the key since nothing is ever unlinked. The node's bytes
 * and its own next pointers are written before the release CAS that
 * publishes it; readers follow links with acquire loads, so a reader that
 * reaches a node sees it whole, and a node reachable at level i is
 * already linked at every level below. Readers take no lock at all.
 *
 * The MemStore's rwlock guards only which segment is active and which is
 * the snapshot: memstore_add and scanner opening take it shared (inserts
 * still run concurrently), memstore_snapshot and memstore_clear_snapshot
 * take it exclusive, so no insert can land in a segment after it became
 * the snapshot that a flush is reading. Writers are preferred so that a
 * steady stream of inserts cannot starve a flush.
 *
 * Segments are reference-counted: one reference for being the active or
 * the snapshot segment, one per scanner. The last unref frees the arena.
 */
#include "memstore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "errors.h"

/* Branching 1/4, as LevelDB: 4^16 cells are far beyond any MemStore. */
#define SL_MAX_HEIGHT 16

struct sl_node {
  struct cell cell; /* points at the bytes after next[height] */
  _Atomic(struct sl_node *) next[];
};

struct segment {
  _Atomic int refs;
  struct arena *arena;
  struct sl_node *head;       /* a sentinel before every cell; malloc'd */
  _Atomic int height;         /* levels in use, 1..SL_MAX_HEIGHT */
  /* Statistics, updated with relaxed atomics after each insert. */
  _Atomic uint64_t cells;
  _Atomic uint64_t data_size;
  _Atomic uint64_t heap_size;
  _Atomic uint64_t max_seq_id;
  _Atomic int64_t min_ts;
  _Atomic int64_t max_ts;
};

struct memstore {
  size_t chunk_size;
  pthread_rwlock_t lock;     /* guards active and snapshot (the pointers) */
  struct segment *active;    /* never NULL */
  struct segment *snapshot;  /* NULL when no flush is in progress */
};

/* ---- segments: the skip list ---- */

static struct segment *segment_new(size_t chunk_size) {
  struct segment *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->arena = arena_create(chunk_size);
  s->head = calloc(1, sizeof(struct sl_node) + SL_MAX_HEIGHT * sizeof(_Atomic(struct sl_node *)));
  if (!s->arena || !s->head) {
    arena_destroy(s->arena);
    free(s->head);
    free(s);
    return NULL;
  }
  for (int i = 0; i < SL_MAX_HEIGHT; i++) atomic_init(&s->head->next[i], NULL);
  atomic_init(&s->refs, 1);
  atomic_init(&s->height, 1);
  atomic_init(&s->cells, 0);
  atomic_init(&s->data_size, 0);
  atomic_init(&s->heap_size, 0);
  atomic_init(&s->max_seq_id, 0);
  atomic_init(&s->min_ts, INT64_MAX);
  atomic_init(&s->max_ts, INT64_MIN);
  return s;
}

static void segment_ref(struct segment *s) {
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

static void segment_unref(struct segment *s) {
  if (!s) return;
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  arena_destroy(s->arena);
  free(s->head);
  free(s);
}

static struct sl_node *sl_next(struct sl_node *n, int level) {
  return atomic_load_explicit(&n->next[level], memory_order_acquire);
}

/* Per-thread xorshift state for node heights: no shared RNG to contend on. */
static _Thread_local uint64_t height_rng;

static int random_height(void) {
  uint64_t x = height_rng;
  if (x == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    x = ((uint64_t)(uintptr_t)&height_rng * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ts.tv_nsec ^
        ((uint64_t)ts.tv_sec << 32);
    if (x == 0) x = 0x2545F4914F6CDD1Dull;
  }
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  height_rng = x;
  int h = 1;
  while (h < SL_MAX_HEIGHT && (x & 3) == 0) {
    h++;
    x >>= 2;
  }
  return h;
}

/* At one level, starting from before (which sorts before key), the pair of
 * neighbours between which key goes: *prev <= key < *next (after any equal
 * cells, so duplicates keep insertion order). */
static void find_splice(const struct cell *key, struct sl_node *before, int level,
                        struct sl_node **prev, struct sl_node **next) {
  struct sl_node *x = before;
  for (;;) {
    struct sl_node *n = sl_next(x, level);
    if (!n || cell_compare(&n->cell, key) > 0) {
      *prev = x;
      *next = n;
      return;
    }
    x = n;
  }
}

/* First node >= key, or NULL. */
static struct sl_node *find_ge(struct segment *s, const struct cell *key) {
  struct sl_node *x = s->head;
  int level = atomic_load_explicit(&s->height, memory_order_relaxed) - 1;
  for (;;) {
    struct sl_node *n = sl_next(x, level);
    if (n && cell_compare(&n->cell, key) < 0) {
      x = n;
    } else if (level == 0) {
      return n;
    } else {
      level--;
    }
  }
}

/* Last node < key (key NULL: the last node), or NULL if none. */
static struct sl_node *find_lt(struct segment *s, const struct cell *key) {
  struct sl_node *x = s->head;
  int level = atomic_load_explicit(&s->height, memory_order_relaxed) - 1;
  for (;;) {
    struct sl_node *n = sl_next(x, level);
    if (n && (!key || cell_compare(&n->cell, key) < 0)) {
      x = n;
    } else if (level == 0) {
      return x == s->head ? NULL : x;
    } else {
      level--;
    }
  }
}

static void atomic_max_u64(_Atomic uint64_t *a, uint64_t v) {
  uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
  while (cur < v && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                           memory_order_relaxed)) {
  }
}
static void atomic_max_i64(_Atomic int64_t *a, int64_t v) {
  int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
  while (cur < v && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                           memory_order_relaxed)) {
  }
}
static void atomic_min_i64(_Atomic int64_t *a, int64_t v) {
  int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
  while (cur > v && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
                                                           memory_order_relaxed)) {
  }
}

static uint8_t *copy_bytes(uint8_t *p, const uint8_t *src, size_t n, const uint8_t **dst) {
  *dst = p;
  if (n) memcpy(p, src, n);
  return p + n;
}

/* Where the last insert of a batch went, per level: the search for the
 * next cell of the batch starts there (RocksDB's InlineSkipList splice).
 * prev[i] <= the last key < next[i] at every level below height. The
 * cells of one row mutation come in ascending order (qualifiers), so the
 * next cell usually goes right after the previous one: two comparisons
 * instead of a search from the head (~30 for a MemStore of 100k cells). */
struct splice {
  int height; /* levels filled in; 0: none */
  struct sl_node *prev[SL_MAX_HEIGHT], *next[SL_MAX_HEIGHT];
};

/* Fills sp with key's neighbours at levels [0, top) (top: the list's
 * height), reusing sp where it still brackets key. */
static void find_position(struct segment *s, const struct cell *key, int top, struct splice *sp) {
  int from = top; /* levels below `from` are searched */
  if (sp->height == top &&
      (sp->prev[0] == s->head || cell_compare(&sp->prev[0]->cell, key) <= 0)) {
    /* prev[i] <= prev[0] <= key at every level, and next[i] grows with i:
     * levels from the lowest one whose next is above key bracket it. */
    from = 0;
    while (from < top && sp->next[from] && cell_compare(&sp->next[from]->cell, key) <= 0) from++;
  }
  struct sl_node *x = from == top ? s->head : sp->prev[from];
  for (int level = from - 1; level >= 0; level--) {
    find_splice(key, x, level, &sp->prev[level], &sp->next[level]);
    x = sp->prev[level];
  }
  sp->height = top;
}

static int segment_insert(struct segment *s, const struct cell *c, struct splice *sp,
                          struct memstore_size *delta) {
  int height = random_height();
  size_t bytes = (size_t)c->row_len + c->family_len + c->qualifier_len + c->value_len;
  size_t size = sizeof(struct sl_node) + (size_t)height * sizeof(_Atomic(struct sl_node *)) + bytes;
  struct sl_node *node = arena_alloc(s->arena, size);
  if (!node)
    return dfs_err_set(DFS_ENOMEM, "memstore: no memory for a cell of %zu bytes", size);
  node->cell = *c;
  uint8_t *p = (uint8_t *)&node->next[height];
  p = copy_bytes(p, c->row, c->row_len, &node->cell.row);
  p = copy_bytes(p, c->family, c->family_len, &node->cell.family);
  p = copy_bytes(p, c->qualifier, c->qualifier_len, &node->cell.qualifier);
  copy_bytes(p, c->value, c->value_len, &node->cell.value);

  int list_height = atomic_load_explicit(&s->height, memory_order_relaxed);
  while (height > list_height &&
         !atomic_compare_exchange_weak_explicit(&s->height, &list_height, height,
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
  int top = height > list_height ? height : list_height;

  /* The splice may be stale (other threads insert too): a node linked in
   * between makes the CAS below fail, and the search resumes from prev,
   * which is still before the key since nothing is ever unlinked. */
  find_position(s, &node->cell, top, sp);
  for (int level = 0; level < height; level++) {
    for (;;) {
      atomic_store_explicit(&node->next[level], sp->next[level], memory_order_relaxed);
      struct sl_node *expected = sp->next[level];
      if (atomic_compare_exchange_strong_explicit(&sp->prev[level]->next[level], &expected, node,
                                                  memory_order_release, memory_order_relaxed))
        break;
      /* Someone linked a node here first: find the splice again from prev. */
      find_splice(&node->cell, sp->prev[level], level, &sp->prev[level], &sp->next[level]);
    }
    sp->prev[level] = node; /* for the next cell of the batch */
  }

  uint64_t data = cell_encoded_size(c);
  uint64_t heap = (size + ARENA_ALIGN - 1) & ~(uint64_t)(ARENA_ALIGN - 1);
  atomic_fetch_add_explicit(&s->cells, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->data_size, data, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->heap_size, heap, memory_order_relaxed);
  atomic_max_u64(&s->max_seq_id, c->seq_id);
  atomic_min_i64(&s->min_ts, c->timestamp);
  atomic_max_i64(&s->max_ts, c->timestamp);
  if (delta) {
    delta->cells++;
    delta->data_size += data;
    delta->heap_size += heap;
  }
  return 0;
}

static void segment_info(struct segment *s, struct memstore_info *info) {
  if (!info) return;
  memset(info, 0, sizeof *info);
  info->min_timestamp = INT64_MAX;
  info->max_timestamp = INT64_MIN;
  if (!s) return;
  info->size.cells = atomic_load_explicit(&s->cells, memory_order_relaxed);
  info->size.data_size = atomic_load_explicit(&s->data_size, memory_order_relaxed);
  info->size.heap_size = atomic_load_explicit(&s->heap_size, memory_order_relaxed);
  info->max_seq_id = atomic_load_explicit(&s->max_seq_id, memory_order_relaxed);
  info->min_timestamp = atomic_load_explicit(&s->min_ts, memory_order_relaxed);
  info->max_timestamp = atomic_load_explicit(&s->max_ts, memory_order_relaxed);
  info->arena_reserved = arena_reserved(s->arena);
}

/* ---- the MemStore ---- */

struct memstore *memstore_create(size_t chunk_size) {
  struct memstore *ms = calloc(1, sizeof *ms);
  if (!ms) return NULL;
  ms->chunk_size = chunk_size;
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int rc = pthread_rwlock_init(&ms->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  if (rc != 0) {
    free(ms);
    return NULL;
  }
  ms->active = segment_new(chunk_size);
  if (!ms->active) {
    pthread_rwlock_destroy(&ms->lock);
    free(ms);
    return NULL;
  }
  return ms;
}

void memstore_destroy(struct memstore *ms) {
  if (!ms) return;
  segment_unref(ms->active);
  segment_unref(ms->snapshot);
  pthread_rwlock_destroy(&ms->lock);
  free(ms);
}

int memstore_add_cells(struct memstore *ms, const struct cell *cells, size_t n,
                       struct memstore_size *delta) {
  if (delta) memset(delta, 0, sizeof *delta);
  for (size_t i = 0; i < n; i++) {
    int rc = cell_validate(&cells[i]);
    if (rc != 0) return rc;
  }
  struct splice sp;
  sp.height = 0;
  int rc = 0;
  /* One segment for the whole batch: a snapshot waits for all of it. */
  pthread_rwlock_rdlock(&ms->lock);
  for (size_t i = 0; i < n && rc == 0; i++) rc = segment_insert(ms->active, &cells[i], &sp, delta);
  pthread_rwlock_unlock(&ms->lock);
  return rc;
}

int memstore_add(struct memstore *ms, const struct cell *c, struct memstore_size *delta) {
  return memstore_add_cells(ms, c, 1, delta);
}

void memstore_get_info(struct memstore *ms, struct memstore_info *active,
                       struct memstore_info *snapshot) {
  pthread_rwlock_rdlock(&ms->lock);
  segment_info(ms->active, active);
  segment_info(ms->snapshot, snapshot);
  pthread_rwlock_unlock(&ms->lock);
}

uint64_t memstore_heap_size(struct memstore *ms) {
  struct memstore_info a, s;
  memstore_get_info(ms, &a, &s);
  return a.size.heap_size + s.size.heap_size;
}

int memstore_snapshot(struct memstore *ms, struct memstore_info *info) {
  /* Allocate before taking the lock: inserts wait while it is held. */
  struct segment *fresh = segment_new(ms->chunk_size);
  if (!fresh) return dfs_err_set(DFS_ENOMEM, "memstore: no memory for a new segment");
  pthread_rwlock_wrlock(&ms->lock);
  if (ms->snapshot) {
    pthread_rwlock_unlock(&ms->lock);
    segment_unref(fresh);
    return dfs_err_set(DFS_EEXIST, "memstore: snapshot exists (previous flush not cleared)");
  }
  ms->snapshot = ms->active;
  ms->active = fresh;
  segment_info(ms->snapshot, info);
  pthread_rwlock_unlock(&ms->lock);
  return 0;
}

bool memstore_has_snapshot(struct memstore *ms) {
  pthread_rwlock_rdlock(&ms->lock);
  bool has = ms->snapshot != NULL;
  pthread_rwlock_unlock(&ms->lock);
  return has;
}

int memstore_clear_snapshot(struct memstore *ms) {
  pthread_rwlock_wrlock(&ms->lock);
  struct segment *s = ms->snapshot;
  ms->snapshot = NULL;
  pthread_rwlock_unlock(&ms->lock);
  if (!s) return dfs_err_set(DFS_ENOENT, "memstore: no snapshot to clear");
  segment_unref(s);
  return 0;
}

/* ---- scanners ---- */

struct memstore_scanner {
  uint64_t read_point;
  int nseg;
  struct segment *seg[2];
  struct sl_node *cur[2]; /* per segment: the current visible node, NULL at its end */
  int top;                /* index of the smallest current node, -1 at the end */
};

static struct sl_node *skip_invisible(const struct memstore_scanner *s, struct sl_node *n) {
  while (n && n->cell.seq_id > s->read_point) n = sl_next(n, 0);
  return n;
}

static void pick_top(struct memstore_scanner *s) {
  s->top = -1;
  for (int i = 0; i < s->nseg; i++) {
    if (!s->cur[i]) continue;
    if (s->top < 0 || cell_compare(&s->cur[i]->cell, &s->cur[s->top]->cell) < 0) s->top = i;
  }
}

static void scanner_rewind(struct memstore_scanner *s) {
  for (int i = 0; i < s->nseg; i++) s->cur[i] = skip_invisible(s, sl_next(s->seg[i]->head, 0));
  pick_top(s);
}

static struct memstore_scanner *scanner_new(uint64_t read_point) {
  struct memstore_scanner *s = calloc(1, sizeof *s);
  if (!s) dfs_err_set(DFS_ENOMEM, "memstore: no memory for a scanner");
  else s->read_point = read_point;
  return s;
}

struct memstore_scanner *memstore_scanner_open(struct memstore *ms, uint64_t read_point) {
  struct memstore_scanner *s = scanner_new(read_point);
  if (!s) return NULL;
  pthread_rwlock_rdlock(&ms->lock);
  s->seg[s->nseg++] = ms->active;
  segment_ref(ms->active);
  if (ms->snapshot) {
    s->seg[s->nseg++] = ms->snapshot;
    segment_ref(ms->snapshot);
  }
  pthread_rwlock_unlock(&ms->lock);
  scanner_rewind(s);
  return s;
}

struct memstore_scanner *memstore_snapshot_scanner_open(struct memstore *ms) {
  struct memstore_scanner *s = scanner_new(UINT64_MAX);
  if (!s) return NULL;
  pthread_rwlock_rdlock(&ms->lock);
  if (ms->snapshot) {
    s->seg[s->nseg++] = ms->snapshot;
    segment_ref(ms->snapshot);
  }
  pthread_rwlock_unlock(&ms->lock);
  if (s->nseg == 0) {
    free(s);
    dfs_err_set(DFS_ENOENT, "memstore: no snapshot to scan");
    return NULL;
  }
  scanner_rewind(s);
  return s;
}

bool memstore_scanner_seek(struct memstore_scanner *s, const struct cell *key) {
  for (int i = 0; i < s->nseg; i++) s->cur[i] = skip_invisible(s, find_ge(s->seg[i], key));
  pick_top(s);
  return s->top >= 0;
}

/* The last visible node < key (key NULL: the last visible node) in segment i. */
static struct sl_node *last_visible_before(struct memstore_scanner *s, int i,
                                           const struct cell *key) {
  struct sl_node *n = find_lt(s->seg[i], key);
  while (n && n->cell.seq_id > s->read_point) n = find_lt(s->seg[i], &n->cell);
  return n;
}

/* Positions at the first visible cell of the row of the last visible cell
 * before key (NULL: the very last). */
static bool seek_row_before(struct memstore_scanner *s, const struct cell *key) {
  struct sl_node *best = NULL;
  for (int i = 0; i < s->nseg; i++) {
    struct sl_node *n = last_visible_before(s, i, key);
    if (n && (!best || cell_compare(&n->cell, &best->cell) > 0)) best = n;
  }
  if (!best) {
    for (int i = 0; i < s->nseg; i++) s->cur[i] = NULL;
    s->top = -1;
    return false;
  }
  struct cell first = {0};
  first.row = best->cell.row;
  first.row_len = best->cell.row_len;
  return memstore_scanner_seek(s, &first);
}

bool memstore_scanner_seek_to_previous_row(struct memstore_scanner *s, const struct cell *key) {
  struct cell first = {0}; /* empty family: before every cell of key's row */
  first.row = key->row;
  first.row_len = key->row_len;
  return seek_row_before(s, &first);
}

bool memstore_scanner_seek_to_last_row(struct memstore_scanner *s) {
  return seek_row_before(s, NULL);
}

const struct cell *memstore_scanner_peek(struct memstore_scanner *s) {
  return s->top >= 0 ? &s->cur[s->top]->cell : NULL;
}

const struct cell *memstore_scanner_next(struct memstore_scanner *s) {
  if (s->top < 0) return NULL;
  struct sl_node *n = s->cur[s->top];
  s->cur[s->top] = skip_invisible(s, sl_next(n, 0));
  pick_top(s);
  return &n->cell;
}

void memstore_scanner_close(struct memstore_scanner *s) {
  if (!s) return;
  for (int i = 0; i < s->nseg; i++) segment_unref(s->seg[i]);
  free(s);
}
