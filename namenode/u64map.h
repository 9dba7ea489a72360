/*
 * u64map.h - an open-addressing hash map from uint64 keys to pointers.
 *
 * Used for block id -> block and, while an image loads, inode id -> inode.
 * Linear probing with backward-shift deletion (no tombstones), so lookups
 * stay short however many deletes happen. Key 0 is reserved (empty slot);
 * block and inode ids are never 0. Not thread-safe: the owner's lock guards
 * it.
 */
#ifndef NN_U64MAP_H
#define NN_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct nn_u64map {
  uint64_t *keys;
  void **vals;
  size_t cap; /* power of two */
  size_t len;
};

/* Initialise an empty map (no allocation until the first put). */
void nn_u64map_init(struct nn_u64map *m);
/* Free the table (not the values). */
void nn_u64map_free(struct nn_u64map *m);
/* The value for key, or NULL. */
void *nn_u64map_get(const struct nn_u64map *m, uint64_t key);
/* Insert or replace. 0, or DFS_ENOMEM (map unchanged). key != 0. */
int nn_u64map_put(struct nn_u64map *m, uint64_t key, void *val);
/* Remove key; returns its value or NULL. */
void *nn_u64map_del(struct nn_u64map *m, uint64_t key);
/* Iterate: start with *pos = 0; returns the next value (and *key) or NULL.
 * The map must not change during the iteration. */
void *nn_u64map_next(const struct nn_u64map *m, size_t *pos, uint64_t *key);

#endif
