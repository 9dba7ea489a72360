/*
 * placement.c - the default placement policy and the reader-distance sort
 * (see placement.h for the rules). Each choice builds the list of usable
 * candidates that satisfy the rule and picks one uniformly at random, so
 * the tests can check the rules and the spread. n is a cluster size (tens
 * to thousands): O(n) per replica is fine next to an RPC.
 */
#include "placement.h"

#include <stdlib.h>
#include <string.h>

uint64_t nn_rand_next(uint64_t *s) {
  uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545f4914f6cdd1dULL;
}

static bool same(const char *a, const char *b) {
  return a && b && (a == b || strcmp(a, b) == 0);
}

struct ctx {
  const struct nn_pnode *nodes;
  size_t n;
  uint64_t blocksize;
  int max_per_rack;
  size_t *chosen;
  int nchosen;
  size_t *cand; /* scratch, n entries */
};

static bool is_chosen(const struct ctx *c, size_t i) {
  for (int k = 0; k < c->nchosen; k++)
    if (c->chosen[k] == i) return true;
  return false;
}

static int rack_count(const struct ctx *c, const char *rack) {
  int k = 0;
  for (int j = 0; j < c->nchosen; j++)
    if (same(c->nodes[c->chosen[j]].rack, rack)) k++;
  return k;
}

static bool usable(const struct ctx *c, size_t i) {
  const struct nn_pnode *p = &c->nodes[i];
  return p->alive && !p->excluded && p->remaining >= c->blocksize && !is_chosen(c, i) &&
         rack_count(c, p->rack) < c->max_per_rack;
}

enum rule { ANY, ON_HOST, ON_RACK, OFF_RACK };

/* Pick a random usable node satisfying the rule relative to `ref`
 * (a host for ON_HOST, a rack otherwise). -1 if none. */
static long pick(struct ctx *c, enum rule r, const char *ref, uint64_t *rng) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (!usable(c, i)) continue;
    const struct nn_pnode *p = &c->nodes[i];
    if (r == ON_HOST && !same(p->host, ref)) continue;
    if (r == ON_RACK && !same(p->rack, ref)) continue;
    if (r == OFF_RACK && same(p->rack, ref)) continue;
    c->cand[k++] = i;
  }
  if (k == 0) return -1;
  return (long)c->cand[nn_rand_next(rng) % k];
}

int nn_placement_choose(const struct nn_pnode *nodes, size_t n,
                        const char *writer_host, int replicas, uint64_t blocksize,
                        uint64_t *rng, size_t *out) {
  return nn_placement_choose_more(nodes, n, NULL, 0, writer_host, replicas, blocksize, false,
                                  rng, out);
}

int nn_placement_choose_more(const struct nn_pnode *nodes, size_t n, const size_t *existing,
                             int nexisting, const char *writer_host, int additional,
                             uint64_t blocksize, bool new_rack, uint64_t *rng, size_t *out) {
  if (additional <= 0 || n == 0 || nexisting < 0) return 0;
  if (nexisting > NN_PLACEMENT_MAX) nexisting = NN_PLACEMENT_MAX;
  if (additional > NN_PLACEMENT_MAX - nexisting) additional = NN_PLACEMENT_MAX - nexisting;
  if (additional <= 0) return 0;
  size_t chosen[NN_PLACEMENT_MAX];
  for (int i = 0; i < nexisting; i++) chosen[i] = existing[i];
  struct ctx c = {.nodes = nodes, .n = n, .blocksize = blocksize, .chosen = chosen,
                  .nchosen = nexisting};
  c.cand = malloc(n * sizeof *c.cand);
  if (!c.cand) return 0;

  /* Racks and usable nodes of the live cluster (HDFS counts the racks of
   * its live network topology and clamps replicas to the cluster size). */
  int racks = 0;
  size_t live = 0;
  for (size_t i = 0; i < n; i++) {
    if (!nodes[i].alive) continue;
    live++;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      if (nodes[j].alive && same(nodes[j].rack, nodes[i].rack)) seen = true;
    if (!seen) racks++;
  }
  int replicas = nexisting + additional;
  if ((size_t)replicas > live) replicas = (int)live > nexisting ? (int)live : nexisting;
  if (racks == 0) {
    free(c.cand);
    return 0;
  }
  c.max_per_rack = (replicas - 1) / racks + 2;

  while (c.nchosen < replicas) {
    long i = -1;
    if (new_rack && c.nchosen == nexisting && nexisting > 0) {
      /* a mis-replicated block: the first new replica must add a rack */
      size_t k2 = 0;
      for (size_t k = 0; k < n; k++) {
        if (!usable(&c, k) || rack_count(&c, nodes[k].rack) > 0) continue;
        c.cand[k2++] = k;
      }
      if (k2 == 0) break;
      i = (long)c.cand[nn_rand_next(rng) % k2];
    } else if (c.nchosen == 0) {
      if (writer_host) i = pick(&c, ON_HOST, writer_host, rng);
      if (i < 0) i = pick(&c, ANY, NULL, rng);
    } else if (c.nchosen == 1) {
      i = pick(&c, OFF_RACK, nodes[chosen[0]].rack, rng);
      if (i < 0) i = pick(&c, ANY, NULL, rng);
    } else if (c.nchosen == 2) {
      const char *r1 = nodes[chosen[0]].rack, *r2 = nodes[chosen[1]].rack;
      if (same(r1, r2))
        i = pick(&c, OFF_RACK, r1, rng);
      else
        i = pick(&c, ON_RACK, r2, rng);
      if (i < 0) i = pick(&c, ANY, NULL, rng);
    } else {
      i = pick(&c, ANY, NULL, rng);
    }
    if (i < 0) break; /* fewer usable nodes than replicas */
    chosen[c.nchosen++] = (size_t)i;
  }
  free(c.cand);
  int k = c.nchosen - nexisting;
  for (int j = 0; j < k; j++) out[j] = chosen[nexisting + j];
  return k;
}

void nn_placement_sort(const struct nn_pnode *nodes, size_t *locs, size_t n,
                       const char *reader_host, const char *reader_rack,
                       uint64_t *rng) {
  int dist[NN_PLACEMENT_MAX];
  if (n > NN_PLACEMENT_MAX) n = NN_PLACEMENT_MAX;
  /* Shuffle first (Fisher-Yates), then a stable insertion sort by distance:
   * equal distances stay in random order. */
  for (size_t i = n; i > 1; i--) {
    size_t j = nn_rand_next(rng) % i;
    size_t t = locs[i - 1];
    locs[i - 1] = locs[j];
    locs[j] = t;
  }
  for (size_t i = 0; i < n; i++) {
    const struct nn_pnode *p = &nodes[locs[i]];
    dist[i] = same(p->host, reader_host) ? 0 : same(p->rack, reader_rack) ? 2 : 4;
  }
  for (size_t i = 1; i < n; i++) {
    size_t l = locs[i];
    int d = dist[i];
    size_t j = i;
    while (j > 0 && dist[j - 1] > d) {
      locs[j] = locs[j - 1];
      dist[j] = dist[j - 1];
      j--;
    }
    locs[j] = l;
    dist[j] = d;
  }
}
