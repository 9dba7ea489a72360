/*
 * placement.h - the default block placement policy (DESIGN.md section 3)
 * and the reader-distance sort.
 *
 * Pure functions over an array of candidate nodes, so the policy is tested
 * with synthetic topologies and needs no DataNode state or lock.
 *
 * Policy, as HDFS's BlockPlacementPolicyDefault:
 *   replica 1: the writer's node if it is a usable DataNode (several
 *              DataNodes on the writer's IP: one at random), else random;
 *   replica 2: a node on a different rack than replica 1;
 *   replica 3: another node on the same rack as replica 2 (if replicas 1
 *              and 2 ended up on one rack: a node on another rack);
 *   further:   random.
 * Every choice keeps at most (replicas-1)/racks + 2 replicas per rack
 * (racks = racks with a live node) and skips dead nodes, excluded nodes and
 * nodes with less than one block of space remaining. When a preferred
 * choice is impossible (one rack, too few nodes) the policy falls back to
 * any usable node, and returns fewer targets rather than none.
 */
#ifndef NN_PLACEMENT_H
#define NN_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nn_pnode {
  const char *host;     /* IP the node is reached at */
  const char *rack;
  uint64_t remaining;   /* bytes free */
  bool alive;
  bool excluded;        /* the client could not reach it */
};

/* Largest replication the chooser handles in one call. */
#define NN_PLACEMENT_MAX 64

/*
 * Choose up to `replicas` (<= NN_PLACEMENT_MAX) targets among nodes[0..n)
 * for a block of `blocksize` bytes written from writer_host (an IP; NULL or
 * no match: not a DataNode). Indices go to out[] in pipeline order. *rng is
 * the caller's random state (any non-zero seed). Returns how many were
 * chosen (0 when no node is usable). Thread-safe if rng is not shared.
 */
int nn_placement_choose(const struct nn_pnode *nodes, size_t n,
                        const char *writer_host, int replicas, uint64_t blocksize,
                        uint64_t *rng, size_t *out);

/*
 * Re-replication: choose up to `additional` more targets for a block that
 * already has replicas on nodes existing[0..nexisting) (indices into
 * nodes; they count for the rules and the per-rack limit, as HDFS's
 * chosenNodes). Nodes that must not get the block (they hold a copy in any
 * state, or are decommissioning) are marked `excluded` by the caller.
 * new_rack: the first new target must be on a rack none of the existing
 * replicas is on (a mis-replicated block). writer_host as above (the
 * source's host, or NULL). The new targets go to out[] (room for
 * `additional`); returns how many. Thread-safe if rng is not shared.
 */
int nn_placement_choose_more(const struct nn_pnode *nodes, size_t n, const size_t *existing,
                             int nexisting, const char *writer_host, int additional,
                             uint64_t blocksize, bool new_rack, uint64_t *rng, size_t *out);

/*
 * Order locs[0..n) (indices into nodes) nearest first for a reader at
 * reader_host on reader_rack (either may be NULL): same host, then same
 * rack, then the rest; ties in random order (spreads the read load).
 */
void nn_placement_sort(const struct nn_pnode *nodes, size_t *locs, size_t n,
                       const char *reader_host, const char *reader_rack,
                       uint64_t *rng);

/* Next value of a xorshift64* generator (state must be non-zero). */
uint64_t nn_rand_next(uint64_t *state);

#endif
