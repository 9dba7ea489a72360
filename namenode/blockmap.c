/*
 * blockmap.c - the block map (see blockmap.h). Blocks live in an
 * open-addressing map keyed by id; replicas are a small array per block
 * (a replication factor is rarely above 3, so linear scans win).
 */
#include "blockmap.h"

#include <stdlib.h>
#include <string.h>

#include "datanode_manager.h"
#include "errors.h"

void nn_blockmap_init(struct nn_blockmap *bm) { nn_u64map_init(&bm->map); }

static void block_free(struct nn_block *b) {
  free(b->reps);
  free(b->targets);
  free(b);
}

void nn_blockmap_free(struct nn_blockmap *bm) {
  size_t pos = 0;
  struct nn_block *b;
  while ((b = nn_u64map_next(&bm->map, &pos, NULL)) != NULL) block_free(b);
  nn_u64map_free(&bm->map);
}

struct nn_block *nn_blockmap_get(const struct nn_blockmap *bm, uint64_t id) {
  return nn_u64map_get(&bm->map, id);
}

struct nn_block *nn_blockmap_add(struct nn_blockmap *bm, uint64_t id,
                                 uint64_t genstamp, uint64_t num_bytes,
                                 nn_inode *file) {
  if (id == 0 || nn_u64map_get(&bm->map, id)) return NULL;
  struct nn_block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->id = id;
  b->genstamp = genstamp;
  b->num_bytes = num_bytes;
  b->file = file;
  b->state = NN_BLOCK_UC;
  if (nn_u64map_put(&bm->map, id, b) != 0) {
    free(b);
    return NULL;
  }
  return b;
}

void nn_blockmap_remove(struct nn_blockmap *bm, struct nn_block *b) {
  nn_u64map_del(&bm->map, b->id);
  for (int i = 0; i < b->nrep; i++) {
    nn_u64map_del(&b->reps[i].dn->blocks, b->id);
    b->reps[i].dn->num_blocks = b->reps[i].dn->blocks.len;
  }
  block_free(b);
}

size_t nn_blockmap_count(const struct nn_blockmap *bm) { return bm->map.len; }

struct nn_replica *nn_block_replica(struct nn_block *b, const struct nn_datanode *dn) {
  for (int i = 0; i < b->nrep; i++)
    if (b->reps[i].dn == dn) return &b->reps[i];
  return NULL;
}

struct nn_replica *nn_block_add_replica(struct nn_block *b, struct nn_datanode *dn,
                                        int state) {
  struct nn_replica *r = nn_block_replica(b, dn);
  if (r) {
    r->state = (uint8_t)state;
    return r;
  }
  if (nn_u64map_put(&dn->blocks, b->id, b) != 0) return NULL;
  if (b->nrep == b->rcap) {
    uint16_t nc = b->rcap ? (uint16_t)(b->rcap * 2) : 3;
    struct nn_replica *nr = realloc(b->reps, nc * sizeof *nr);
    if (!nr) {
      nn_u64map_del(&dn->blocks, b->id);
      return NULL;
    }
    b->reps = nr;
    b->rcap = nc;
  }
  r = &b->reps[b->nrep++];
  memset(r, 0, sizeof *r);
  r->dn = dn;
  r->state = (uint8_t)state;
  dn->num_blocks = dn->blocks.len;
  return r;
}

bool nn_block_remove_replica(struct nn_block *b, const struct nn_datanode *dn) {
  for (int i = 0; i < b->nrep; i++) {
    if (b->reps[i].dn == dn) {
      struct nn_datanode *d = b->reps[i].dn;
      nn_u64map_del(&d->blocks, b->id);
      d->num_blocks = d->blocks.len;
      b->reps[i] = b->reps[--b->nrep];
      return true;
    }
  }
  return false;
}

int nn_block_live_replicas(const struct nn_block *b) {
  int n = 0;
  for (int i = 0; i < b->nrep; i++)
    if (b->reps[i].state == NN_REPLICA_FINALIZED && !b->reps[i].corrupt &&
        !b->reps[i].excess && !b->reps[i].dn->dead)
      n++;
  return n;
}

int nn_block_set_targets(struct nn_block *b, struct nn_datanode **dns, int n) {
  struct nn_datanode **t = NULL;
  if (n > 0) {
    t = malloc((size_t)n * sizeof *t);
    if (!t) return DFS_ENOMEM;
    memcpy(t, dns, (size_t)n * sizeof *t);
  }
  free(b->targets);
  b->targets = t;
  b->ntargets = (uint16_t)n;
  return 0;
}
