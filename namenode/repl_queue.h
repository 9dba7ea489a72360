/*
 * repl_queue.h - the priority queue of blocks that need replication work
 * (HDFS's UnderReplicatedBlocks / LowRedundancyBlocks).
 *
 * A block id sits in at most one of NN_REPLQ_LEVELS FIFO lists, 0 the most
 * urgent. The scheduler walks a level from its head and rotates every block
 * it looked at to the tail, so blocks that cannot be served now (no free
 * source, no target) do not starve the ones behind them: the same
 * round-robin HDFS gets from its per-level bookmarks. Ids, not block
 * pointers, are kept: a block deleted meanwhile is simply not found in the
 * block map and dropped.
 *
 * Not thread-safe: guarded by the namesystem's namespace lock.
 */
#ifndef NN_REPL_QUEUE_H
#define NN_REPL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "u64map.h"

enum {
  NN_REPLQ_HIGHEST = 0,     /* one live replica left, or only decommissioning ones */
  NN_REPLQ_VERY_UNDER = 1,  /* live < 2/3 of expected */
  NN_REPLQ_UNDER = 2,       /* other under-replicated blocks */
  NN_REPLQ_MISPLACED = 3,   /* enough replicas, all on one rack while 2+ racks exist */
  NN_REPLQ_NO_SOURCE = 4,   /* no live good replica: missing or all corrupt (never scheduled) */
  NN_REPLQ_LEVELS = 5,
};

struct nn_replq_node {
  uint64_t id;
  struct nn_replq_node *prev, *next;
  int level;
};

struct nn_replq {
  struct nn_u64map idx; /* id -> struct nn_replq_node * (owned) */
  struct {
    struct nn_replq_node *head, *tail;
    size_t n;
  } lv[NN_REPLQ_LEVELS];
};

void nn_replq_init(struct nn_replq *q);
void nn_replq_free(struct nn_replq *q);
/* Put id at `level` (appended to that level's tail if it moves or is new;
 * left in place if already there). level < 0: remove. 0 or DFS_ENOMEM. */
int nn_replq_set(struct nn_replq *q, uint64_t id, int level);
/* The level of id, or -1 when it is not queued. */
int nn_replq_level(const struct nn_replq *q, uint64_t id);
/* Blocks at one level (0..NN_REPLQ_LEVELS-1), or in total with level -1. */
size_t nn_replq_size(const struct nn_replq *q, int level);
/* The head of a level moved to its tail; returns its id (0: level empty). */
uint64_t nn_replq_rotate(struct nn_replq *q, int level);

#endif
