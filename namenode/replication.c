/*
 * replication.c - under-, over- and mis-replicated blocks, corrupt
 * replicas, and the scheduling of re-replication transfers (see
 * replication.h for the design).
 *
 * The key decision: one idempotent function, nn_repl_check(), derives all
 * work for a block from its current replicas, and every event merely
 * calls it. Nothing is remembered about *why* a block needs work, so no
 * event can be lost or counted twice; the only extra state is the queue
 * (what to do next) and the pending transfers (what is on its way).
 */
#include "replication.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "namesystem_int.h"

/* Blocks looked at per round per live DataNode (HDFS's
 * dfs.namenode.replication.work.multiplier.per.iteration). */
#define NN_REPL_WORK_MULTIPLIER 2

void nn_repl_init(struct nn_repl *r) {
  memset(r, 0, sizeof *r);
  nn_replq_init(&r->q);
  nn_u64map_init(&r->pending);
}

void nn_repl_free(struct nn_repl *r) {
  size_t pos = 0;
  struct nn_pending *p;
  while ((p = nn_u64map_next(&r->pending, &pos, NULL)) != NULL) free(p);
  nn_u64map_free(&r->pending);
  nn_replq_free(&r->q);
}

/* ---- pure policy ---- */

int nn_repl_priority(int live, int decom, int pending, int expected, bool mis) {
  if (live + pending >= expected) return mis ? NN_REPLQ_MISPLACED : -1;
  if (live <= 0) return decom > 0 ? NN_REPLQ_HIGHEST : NN_REPLQ_NO_SOURCE;
  if (live == 1) return NN_REPLQ_HIGHEST;
  if (live * 3 < expected * 2) return NN_REPLQ_VERY_UNDER;
  return NN_REPLQ_UNDER;
}

static bool same_rack(const struct nn_pnode *a, const struct nn_pnode *b) {
  return a->rack == b->rack || (a->rack && b->rack && strcmp(a->rack, b->rack) == 0);
}

int nn_repl_choose_excess(const struct nn_pnode *nodes, const size_t *cand, int n, int count,
                          size_t *out) {
  size_t left[NN_PLACEMENT_MAX];
  int nl = n > NN_PLACEMENT_MAX ? NN_PLACEMENT_MAX : n;
  int k = 0;
  for (int i = 0; i < nl; i++) left[i] = cand[i];
  while (k < count && nl > 0) {
    /* nodes on racks that hold more than one candidate */
    bool multi[NN_PLACEMENT_MAX];
    bool any_multi = false;
    for (int i = 0; i < nl; i++) {
      multi[i] = false;
      for (int j = 0; j < nl; j++)
        if (j != i && same_rack(&nodes[left[i]], &nodes[left[j]])) multi[i] = true;
      any_multi |= multi[i];
    }
    int best = -1;
    for (int i = 0; i < nl; i++) {
      if (any_multi && !multi[i]) continue;
      if (best < 0 || nodes[left[i]].remaining < nodes[left[best]].remaining) best = i;
    }
    out[k++] = left[best];
    left[best] = left[--nl];
  }
  return k;
}

/* ---- counting ---- */

static struct nn_pending *pending_of(nn_ns *ns, uint64_t id) {
  return nn_u64map_get(&ns->repl.pending, id);
}

void nn_repl_count(nn_ns *ns, const struct nn_block *b, struct nn_repl_counts *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < b->nrep; i++) {
    const struct nn_replica *r = &b->reps[i];
    if (r->dn->dead || r->state != NN_REPLICA_FINALIZED) continue;
    if (r->excess) c->excess++;
    else if (r->corrupt) c->corrupt++;
    else if (r->dn->admin != NN_ADMIN_NORMAL) c->decom++;
    else c->live++;
  }
  struct nn_pending *p = pending_of(ns, b->id);
  if (p) c->pending = p->ntargets;
}

/* A good copy that can be read (a source), on a decommissioning node too. */
static bool readable(const struct nn_replica *r) {
  return !r->dn->dead && r->state == NN_REPLICA_FINALIZED && !r->corrupt && !r->excess;
}

/* A good copy that counts as live: not on a node that is leaving. */
static bool good(const struct nn_replica *r) {
  return readable(r) && r->dn->admin == NN_ADMIN_NORMAL;
}

/* Replicas (live + pending targets) all on one rack while the cluster has
 * two or more racks. */
static bool misplaced(nn_ns *ns, const struct nn_block *b, int expected) {
  if (ns->dns.nracks < 2 || expected < 2) return false;
  const char *rack = NULL;
  for (int i = 0; i < b->nrep; i++) {
    if (!good(&b->reps[i])) continue;
    if (!rack) rack = b->reps[i].dn->rack;
    else if (rack != b->reps[i].dn->rack) return false;
  }
  struct nn_pending *p = pending_of(ns, b->id);
  for (int i = 0; p && i < p->ntargets; i++) {
    if (!rack) rack = p->targets[i]->rack;
    else if (rack != p->targets[i]->rack) return false;
  }
  return rack != NULL;
}

static void pending_drop(nn_ns *ns, struct nn_pending *p) {
  nn_u64map_del(&ns->repl.pending, p->id);
  if (p->src->repl_inflight > 0) p->src->repl_inflight--;
  free(p);
}

static bool idle(const nn_ns *ns) { return ns->replaying || nn_in_safemode(ns); }

/* ---- the check ---- */

static void trim_excess(nn_ns *ns, struct nn_block *b, int count) {
  struct nn_pnode pn[NN_PLACEMENT_MAX];
  size_t cand[NN_PLACEMENT_MAX], out[NN_PLACEMENT_MAX];
  int idx[NN_PLACEMENT_MAX];
  int n = 0;
  for (int i = 0; i < b->nrep && n < NN_PLACEMENT_MAX; i++) {
    if (!good(&b->reps[i])) continue;
    struct nn_datanode *dn = b->reps[i].dn;
    pn[n].host = dn->host;
    pn[n].rack = dn->rack;
    pn[n].remaining = dn->remaining;
    pn[n].alive = true;
    pn[n].excluded = false;
    cand[n] = (size_t)n;
    idx[n] = i;
    n++;
  }
  int k = nn_repl_choose_excess(pn, cand, n, count, out);
  for (int j = 0; j < k; j++) {
    struct nn_replica *r = &b->reps[idx[out[j]]];
    r->excess = true;
    nn_queue_invalidate(ns, r->dn, b->id, b->genstamp, b->num_bytes);
    LOG_INFO("namenode", "block %" PRIu64 " over-replicated: deleting the replica on %s (%s:%u)",
             b->id, r->dn->hostname, r->dn->host, r->dn->port);
  }
}

/* INVALIDATE the corrupt replicas. They stay listed (as excess: not
 * served, not counted) until the node reports them DELETED, so that the
 * node is not chosen as a target while it still holds the bad copy. */
static void invalidate_corrupt(nn_ns *ns, struct nn_block *b, const char *why) {
  for (int i = 0; i < b->nrep; i++) {
    struct nn_replica *r = &b->reps[i];
    if (!r->corrupt || r->excess) continue;
    struct nn_datanode *dn = r->dn;
    LOG_INFO("namenode", "block %" PRIu64 ": deleting the corrupt replica on %s (%s:%u): %s",
             b->id, dn->hostname, dn->host, dn->port, why);
    r->excess = true;
    nn_queue_invalidate(ns, dn, b->id, b->genstamp, b->num_bytes);
  }
}

void nn_repl_check(nn_ns *ns, struct nn_block *b) {
  if (idle(ns)) return;
  if (b->state != NN_BLOCK_COMPLETE) {
    nn_replq_set(&ns->repl.q, b->id, -1);
    return;
  }
  int expected = b->file->u.file.repl;
  struct nn_repl_counts c;
  nn_repl_count(ns, b, &c);
  if (c.live > expected) {
    trim_excess(ns, b, c.live - expected);
    c.live = expected;
  }
  if (c.corrupt && c.live >= expected) invalidate_corrupt(ns, b, "enough good replicas again");
  int pri = nn_repl_priority(c.live, c.decom, c.pending, expected, misplaced(ns, b, expected));
  int old = nn_replq_level(&ns->repl.q, b->id);
  if (pri != old) {
    nn_replq_set(&ns->repl.q, b->id, pri);
    if (pri >= 0 && old < 0)
      LOG_DEBUG("namenode", "block %" PRIu64 " needs replication: %d live, %d pending, %d "
                "expected (priority %d)", b->id, c.live, c.pending, expected, pri);
  }
}

void nn_repl_check_file(nn_ns *ns, nn_inode *f) {
  if (f->is_dir) return;
  for (uint32_t i = 0; i < f->u.file.nblocks; i++) nn_repl_check(ns, f->u.file.blocks[i]);
}

void nn_repl_rescan(nn_ns *ns) {
  if (idle(ns)) return;
  size_t pos = 0, n = 0;
  struct nn_block *b;
  while ((b = nn_u64map_next(&ns->bm.map, &pos, NULL)) != NULL) {
    /* nn_repl_check does not add or remove blocks of the map, so the
     * iteration stays valid */
    nn_repl_check(ns, b);
    n++;
  }
  LOG_INFO("namenode", "replication: checked %zu blocks: %zu need work (%zu with no live "
           "replica)", n, nn_replq_size(&ns->repl.q, -1),
           nn_replq_size(&ns->repl.q, NN_REPLQ_NO_SOURCE));
}

void nn_repl_received(nn_ns *ns, struct nn_block *b, struct nn_datanode *dn) {
  struct nn_pending *p = pending_of(ns, b->id);
  if (!p) return;
  for (int i = 0; i < p->ntargets; i++) {
    if (p->targets[i] != dn) continue;
    p->targets[i] = p->targets[--p->ntargets];
    break;
  }
  if (p->ntargets == 0) pending_drop(ns, p);
}

void nn_repl_forget(nn_ns *ns, struct nn_block *b) {
  struct nn_pending *p = pending_of(ns, b->id);
  if (p) pending_drop(ns, p);
  nn_replq_set(&ns->repl.q, b->id, -1);
}

void nn_repl_dn_dead(nn_ns *ns, struct nn_datanode *dn) {
  /* Its queued transfers will never run: release the pending records. */
  for (size_t i = 0; i < dn->nxfer; i++) {
    struct nn_pending *p = pending_of(ns, dn->xfer[i].id);
    if (p && p->src == dn) pending_drop(ns, p);
  }
  free(dn->xfer);
  dn->xfer = NULL;
  dn->nxfer = dn->cxfer = 0;
  /* Pending transfers from or to it will not complete either. */
  size_t pos = 0;
  struct nn_pending *p;
  uint64_t ids[256];
  size_t nids = 0;
  bool more = true;
  while (more) {
    more = false;
    nids = 0;
    pos = 0;
    while ((p = nn_u64map_next(&ns->repl.pending, &pos, NULL)) != NULL) {
      bool involved = p->src == dn;
      for (int i = 0; i < p->ntargets && !involved; i++) involved = p->targets[i] == dn;
      if (!involved) continue;
      if (nids == sizeof ids / sizeof ids[0]) {
        more = true;
        break;
      }
      ids[nids++] = p->id;
    }
    for (size_t i = 0; i < nids; i++) {
      p = pending_of(ns, ids[i]);
      if (p) pending_drop(ns, p);
      struct nn_block *b = nn_blockmap_get(&ns->bm, ids[i]);
      if (b) nn_repl_check(ns, b);
    }
  }
  dn->repl_inflight = 0;
}

/* ---- scheduling ---- */

/* A source for b: a live node with a good replica and a free stream; a
 * decommissioning one first (it takes no writes; HDFS prefers it too),
 * else the least busy one, ties broken at random. NULL if none. */
static struct nn_datanode *choose_source(nn_ns *ns, struct nn_block *b) {
  struct nn_datanode *best = NULL;
  int nbest = 0;
  for (int i = 0; i < b->nrep; i++) {
    if (!readable(&b->reps[i])) continue;
    struct nn_datanode *dn = b->reps[i].dn;
    if (dn->repl_inflight >= ns->cfg.repl_max_streams) continue;
    bool dd = dn->admin == NN_ADMIN_DECOMMISSIONING, bd = best && best->admin == NN_ADMIN_DECOMMISSIONING;
    if (best && bd && !dd) continue;
    if (!best || (dd && !bd) || dn->repl_inflight < best->repl_inflight) {
      best = dn;
      nbest = 1;
    } else if (dn->repl_inflight == best->repl_inflight) {
      /* reservoir sampling among equals */
      if (nn_rand_next(nn_thread_rng()) % (uint64_t)++nbest == 0) best = dn;
    }
  }
  return best;
}

/* Try to schedule b; true if a transfer was queued. */
static bool schedule(nn_ns *ns, struct nn_block *b, int level) {
  if (b->state != NN_BLOCK_COMPLETE || pending_of(ns, b->id)) return false;
  int expected = b->file->u.file.repl;
  struct nn_repl_counts c;
  nn_repl_count(ns, b, &c);
  int additional = expected - c.live;
  bool new_rack = false;
  if (additional <= 0) {
    if (level != NN_REPLQ_MISPLACED) return false;
    additional = 1; /* one more on another rack; the excess goes afterwards */
    new_rack = true;
  }
  if (additional > NN_XFER_MAX_TARGETS) additional = NN_XFER_MAX_TARGETS;
  struct nn_datanode *src = choose_source(ns, b);
  if (!src) return false;
  size_t n = ns->dns.n;
  struct nn_pnode *pn = calloc(n ? n : 1, sizeof *pn);
  if (!pn) return false;
  for (size_t i = 0; i < n; i++) {
    struct nn_datanode *dn = ns->dns.dns[i];
    pn[i].host = dn->host;
    pn[i].rack = dn->rack;
    pn[i].remaining = dn->remaining;
    pn[i].alive = !dn->dead;
    pn[i].excluded = dn->admin != NN_ADMIN_NORMAL; /* leaving: no new copies */
  }
  size_t existing[NN_PLACEMENT_MAX];
  int ne = 0;
  for (int i = 0; i < b->nrep; i++) {
    struct nn_datanode *dn = b->reps[i].dn;
    pn[dn->idx].excluded = true; /* holds a copy in some state */
    if (good(&b->reps[i]) && ne < NN_PLACEMENT_MAX) existing[ne++] = dn->idx;
  }
  size_t out[NN_XFER_MAX_TARGETS];
  int k = nn_placement_choose_more(pn, n, existing, ne, src->host, additional,
                                   b->num_bytes, new_rack, nn_thread_rng(), out);
  free(pn);
  if (k < additional && c.corrupt > 0 && c.live > 0) {
    /* Every other node is taken: the nodes holding corrupt copies are the
     * only places left. Delete those copies first; once they are reported
     * DELETED the nodes can take good ones. */
    invalidate_corrupt(ns, b, "no other node can take a new replica");
  }
  if (k <= 0) {
    LOG_DEBUG("namenode", "block %" PRIu64 ": no target for re-replication", b->id);
    return false;
  }
  struct nn_datanode *targets[NN_XFER_MAX_TARGETS];
  for (int i = 0; i < k; i++) targets[i] = ns->dns.dns[out[i]];
  struct nn_pending *p = calloc(1, sizeof *p);
  if (!p) return false;
  p->id = b->id;
  p->src = src;
  p->ntargets = k;
  memcpy(p->targets, targets, (size_t)k * sizeof *targets);
  p->deadline_ms = nn_mono_ms() + ns->cfg.repl_pending_timeout_ms;
  if (nn_u64map_put(&ns->repl.pending, b->id, p) != 0) {
    free(p);
    return false;
  }
  if (nn_dn_queue_transfer(src, b->id, b->genstamp, b->num_bytes, targets, k) != 0) {
    nn_u64map_del(&ns->repl.pending, b->id);
    free(p);
    return false;
  }
  src->repl_inflight++;
  ns->repl.scheduled++;
  char names[512];
  size_t off = 0;
  names[0] = '\0';
  for (int i = 0; i < k && off < sizeof names; i++)
    off += (size_t)snprintf(names + off, sizeof names - off, "%s%s:%u", i ? ", " : "",
                            targets[i]->host, targets[i]->port);
  LOG_INFO("namenode", "block %" PRIu64 " (priority %d, %d live of %d): %s:%u to copy it to %s",
           b->id, level, c.live, expected, src->host, src->port, names);
  return true;
}

static void expire_pending(nn_ns *ns, int64_t now) {
  uint64_t ids[256];
  size_t nids;
  do {
    nids = 0;
    size_t pos = 0;
    struct nn_pending *p;
    while ((p = nn_u64map_next(&ns->repl.pending, &pos, NULL)) != NULL &&
           nids < sizeof ids / sizeof ids[0])
      if (now >= p->deadline_ms) ids[nids++] = p->id;
    for (size_t i = 0; i < nids; i++) {
      p = pending_of(ns, ids[i]);
      LOG_WARN("namenode", "block %" PRIu64 ": re-replication from %s:%u timed out; "
               "scheduling it again", ids[i], p->src->host, p->src->port);
      pending_drop(ns, p);
      ns->repl.timeouts++;
      struct nn_block *b = nn_blockmap_get(&ns->bm, ids[i]);
      if (b) nn_repl_check(ns, b);
    }
  } while (nids == sizeof ids / sizeof ids[0]);
}

int nn_repl_compute_work(nn_ns *ns) {
  if (idle(ns)) return 0;
  expire_pending(ns, nn_mono_ms());
  size_t live = nn_dnmgr_live(&ns->dns);
  long budget = (long)(live ? live : 1) * NN_REPL_WORK_MULTIPLIER;
  int done = 0;
  for (int level = 0; level < NN_REPLQ_NO_SOURCE && budget > 0; level++) {
    size_t n = nn_replq_size(&ns->repl.q, level);
    for (size_t i = 0; i < n && budget > 0; i++) {
      uint64_t id = nn_replq_rotate(&ns->repl.q, level);
      if (id == 0) break;
      struct nn_block *b = nn_blockmap_get(&ns->bm, id);
      if (!b) {
        nn_replq_set(&ns->repl.q, id, -1);
        continue;
      }
      budget--;
      if (schedule(ns, b, level)) done++;
      nn_repl_check(ns, b); /* requeue at its new level, or dequeue */
    }
  }
  return done;
}
