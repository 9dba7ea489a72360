/*
 * repl_queue.c - the replication priority queue (see repl_queue.h): one
 * doubly linked FIFO per level plus an id index, so add, move, remove and
 * rotate are O(1).
 */
#include "repl_queue.h"

#include <stdlib.h>

#include "errors.h"

void nn_replq_init(struct nn_replq *q) {
  for (int l = 0; l < NN_REPLQ_LEVELS; l++) {
    q->lv[l].head = q->lv[l].tail = NULL;
    q->lv[l].n = 0;
  }
  nn_u64map_init(&q->idx);
}

void nn_replq_free(struct nn_replq *q) {
  size_t pos = 0;
  struct nn_replq_node *n;
  while ((n = nn_u64map_next(&q->idx, &pos, NULL)) != NULL) free(n);
  nn_u64map_free(&q->idx);
  nn_replq_init(q);
}

static void unlink_node(struct nn_replq *q, struct nn_replq_node *n) {
  int l = n->level;
  if (n->prev) n->prev->next = n->next;
  else q->lv[l].head = n->next;
  if (n->next) n->next->prev = n->prev;
  else q->lv[l].tail = n->prev;
  n->prev = n->next = NULL;
  q->lv[l].n--;
}

static void append(struct nn_replq *q, struct nn_replq_node *n, int l) {
  n->level = l;
  n->next = NULL;
  n->prev = q->lv[l].tail;
  if (q->lv[l].tail) q->lv[l].tail->next = n;
  else q->lv[l].head = n;
  q->lv[l].tail = n;
  q->lv[l].n++;
}

int nn_replq_set(struct nn_replq *q, uint64_t id, int level) {
  struct nn_replq_node *n = nn_u64map_get(&q->idx, id);
  if (level < 0 || level >= NN_REPLQ_LEVELS) {
    if (n) {
      unlink_node(q, n);
      nn_u64map_del(&q->idx, id);
      free(n);
    }
    return 0;
  }
  if (n) {
    if (n->level != level) {
      unlink_node(q, n);
      append(q, n, level);
    }
    return 0;
  }
  n = calloc(1, sizeof *n);
  if (!n) return DFS_ENOMEM;
  n->id = id;
  if (nn_u64map_put(&q->idx, id, n) != 0) {
    free(n);
    return DFS_ENOMEM;
  }
  append(q, n, level);
  return 0;
}

int nn_replq_level(const struct nn_replq *q, uint64_t id) {
  const struct nn_replq_node *n = nn_u64map_get(&q->idx, id);
  return n ? n->level : -1;
}

size_t nn_replq_size(const struct nn_replq *q, int level) {
  if (level >= 0 && level < NN_REPLQ_LEVELS) return q->lv[level].n;
  return q->idx.len;
}

uint64_t nn_replq_rotate(struct nn_replq *q, int level) {
  if (level < 0 || level >= NN_REPLQ_LEVELS) return 0;
  struct nn_replq_node *n = q->lv[level].head;
  if (!n) return 0;
  if (n != q->lv[level].tail) {
    unlink_node(q, n);
    append(q, n, level);
  }
  return n->id;
}
