/*
 * datanode_manager.c - the DataNode table (see datanode_manager.h). Lookup
 * by uuid is a linear scan: clusters here have tens of nodes and lookups
 * happen per heartbeat or report, not per client operation.
 */
#include "datanode_manager.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"

void nn_dnmgr_init(struct nn_dnmgr *m, const nn_topology *topo, nn_intern *strings,
                   int64_t dead_after_ms) {
  memset(m, 0, sizeof *m);
  m->topo = topo;
  m->strings = strings;
  m->dead_after_ms = dead_after_ms;
}

void nn_dnmgr_free(struct nn_dnmgr *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->dns[i]->inval);
    free(m->dns[i]->xfer);
    nn_recover_cmds_free(m->dns[i]->recover, m->dns[i]->nrecover);
    nn_u64map_free(&m->dns[i]->blocks);
    free(m->dns[i]);
  }
  free(m->dns);
  memset(m, 0, sizeof *m);
}

struct nn_datanode *nn_dnmgr_find(const struct nn_dnmgr *m, const char *uuid) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->dns[i]->uuid, uuid) == 0) return m->dns[i];
  return NULL;
}

static bool is_loopback(const char *ip) {
  return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 || strcmp(ip, "localhost") == 0;
}

int nn_dnmgr_register(struct nn_dnmgr *m, const char *uuid, const char *host,
                      uint32_t port, const char *hostname, const char *peer_ip,
                      int64_t now_ms, struct nn_datanode **out) {
  if (!uuid || !*uuid) return dfs_err_set(DFS_EINVAL, "registerDatanode: empty uuid");
  if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
    host = peer_ip && *peer_ip ? peer_ip : "127.0.0.1";
  else if (peer_ip && *peer_ip && is_loopback(host) && !is_loopback(peer_ip))
    /* a DataNode bound to loopback on another host: it registers, but no
     * client or other DataNode can reach what it advertises */
    LOG_WARN("namenode", "datanode %s at %s advertises the loopback address %s:%u: other hosts "
             "cannot reach it (set dfs.datanode.address to its own IP or 0.0.0.0)",
             uuid, peer_ip, host, port);
  if (!hostname || !*hostname) hostname = host;
  struct nn_datanode *dn = nn_dnmgr_find(m, uuid);
  if (!dn) {
    if (m->n == m->cap) {
      size_t nc = m->cap ? m->cap * 2 : 8;
      struct nn_datanode **nd = realloc(m->dns, nc * sizeof *nd);
      if (!nd) return DFS_ENOMEM;
      m->dns = nd;
      m->cap = nc;
    }
    dn = calloc(1, sizeof *dn);
    if (!dn) return DFS_ENOMEM;
    dn->idx = (uint32_t)m->n;
    nn_u64map_init(&dn->blocks);
    dn->uuid = nn_intern_get(m->strings, uuid);
    if (!dn->uuid) {
      free(dn);
      return DFS_ENOMEM;
    }
    m->dns[m->n++] = dn;
  }
  const char *h = nn_intern_get(m->strings, host);
  const char *hn = nn_intern_get(m->strings, hostname);
  const char *rack = nn_intern_get(m->strings,
                                   nn_topology_resolve(m->topo, host, (int)port, hostname));
  if (!h || !hn || !rack) return DFS_ENOMEM;
  dn->host = h;
  dn->hostname = hn;
  dn->rack = rack;
  dn->port = port;
  dn->last_hb_ms = now_ms;
  dn->dead = false;
  dn->reported = false;
  nn_dnmgr_count_racks(m);
  *out = dn;
  return 0;
}

int nn_dnmgr_check_dead(struct nn_dnmgr *m, int64_t now_ms,
                        void (*on_dead)(struct nn_datanode *dn, void *arg), void *arg) {
  int k = 0;
  for (size_t i = 0; i < m->n; i++) {
    struct nn_datanode *dn = m->dns[i];
    if (dn->dead || now_ms - dn->last_hb_ms <= m->dead_after_ms) continue;
    dn->dead = true;
    k++;
    LOG_WARN("namenode", "datanode %s (%s:%u, %s) is dead: no heartbeat for %lld ms",
             dn->uuid, dn->host, dn->port, dn->hostname, (long long)(now_ms - dn->last_hb_ms));
    nn_dnmgr_count_racks(m);
    if (on_dead) on_dead(dn, arg);
  }
  return k;
}

int nn_dn_queue_invalidate(struct nn_datanode *dn, uint64_t id, uint64_t gs,
                           uint64_t len, uint64_t dep) {
  if (dn->ninval == dn->cinval) {
    size_t nc = dn->cinval ? dn->cinval * 2 : 64;
    uint64_t *ni = realloc(dn->inval, nc * 4 * sizeof *ni);
    if (!ni) return DFS_ENOMEM;
    dn->inval = ni;
    dn->cinval = nc;
  }
  uint64_t *t = &dn->inval[dn->ninval * 4];
  t[0] = id;
  t[1] = gs;
  t[2] = len;
  t[3] = dep;
  dn->ninval++;
  return 0;
}

/* May the queued INVALIDATE t leave? (nn_dn_queue_invalidate) */
static bool inval_due(const uint64_t *t, uint64_t synced, uint64_t last) {
  return (t[3] < last ? t[3] : last) <= synced;
}

int nn_dn_take_invalidates(struct nn_datanode *dn, uint64_t synced, uint64_t last,
                           uint64_t **out, size_t *n_out) {
  *out = NULL;
  *n_out = 0;
  size_t n = 0;
  for (size_t i = 0; i < dn->ninval; i++) n += inval_due(&dn->inval[i * 4], synced, last);
  if (n == 0) return 0;
  uint64_t *o = malloc(n * 3 * sizeof *o);
  if (!o) return DFS_ENOMEM;
  size_t k = 0, keep = 0;
  for (size_t i = 0; i < dn->ninval; i++) {
    uint64_t *t = &dn->inval[i * 4];
    if (inval_due(t, synced, last)) memcpy(&o[k++ * 3], t, 3 * sizeof *t);
    else memmove(&dn->inval[keep++ * 4], t, 4 * sizeof *t);
  }
  dn->ninval = keep;
  *out = o;
  *n_out = n;
  return 0;
}

int nn_dn_queue_recover(struct nn_datanode *dn, uint64_t id, uint64_t gs, uint64_t len,
                        uint64_t new_gs, struct nn_datanode **holders, size_t n, uint64_t dep) {
  struct nn_recover_cmd *nr = realloc(dn->recover, (dn->nrecover + 1) * sizeof *nr);
  if (!nr) return DFS_ENOMEM;
  dn->recover = nr;
  struct nn_recover_cmd *c = &nr[dn->nrecover];
  c->holders = malloc((n ? n : 1) * sizeof *c->holders);
  if (!c->holders) return DFS_ENOMEM;
  memcpy(c->holders, holders, n * sizeof *holders);
  c->nholders = n;
  c->id = id;
  c->gs = gs;
  c->len = len;
  c->new_gs = new_gs;
  c->dep = dep;
  dn->nrecover++;
  return 0;
}

int nn_dn_queue_transfer(struct nn_datanode *dn, uint64_t id, uint64_t gs, uint64_t len,
                         struct nn_datanode *const *targets, int n) {
  if (n <= 0 || n > NN_XFER_MAX_TARGETS) return DFS_EINVAL;
  if (dn->nxfer == dn->cxfer) {
    size_t nc = dn->cxfer ? dn->cxfer * 2 : 8;
    struct nn_xfer_cmd *nx = realloc(dn->xfer, nc * sizeof *nx);
    if (!nx) return DFS_ENOMEM;
    dn->xfer = nx;
    dn->cxfer = nc;
  }
  struct nn_xfer_cmd *x = &dn->xfer[dn->nxfer++];
  x->id = id;
  x->gs = gs;
  x->len = len;
  x->ntargets = n;
  for (int i = 0; i < n; i++) x->targets[i] = targets[i];
  return 0;
}

int nn_dnmgr_count_racks(struct nn_dnmgr *m) {
  int racks = 0;
  for (size_t i = 0; i < m->n; i++) {
    if (m->dns[i]->dead) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      if (!m->dns[j]->dead && m->dns[j]->rack == m->dns[i]->rack) seen = true;
    if (!seen) racks++;
  }
  m->nracks = racks;
  return racks;
}

void nn_recover_cmds_free(struct nn_recover_cmd *c, size_t n) {
  for (size_t i = 0; i < n; i++) free(c[i].holders);
  free(c);
}

size_t nn_dnmgr_live(const struct nn_dnmgr *m) {
  size_t k = 0;
  for (size_t i = 0; i < m->n; i++)
    if (!m->dns[i]->dead) k++;
  return k;
}
