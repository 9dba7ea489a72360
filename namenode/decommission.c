/*
 * decommission.c - taking DataNodes out of service (HDFS's
 * DecommissionManager + HostFileManager).
 *
 * The exclude file (dfs.hosts.exclude, re-read on REFRESH_NODES) lists
 * nodes by hostname, IP or IP:port. A listed node goes
 * DECOMMISSION_IN_PROGRESS: its replicas stop counting as live
 * (replication.c counts them apart), so every block it holds is queued and
 * copied elsewhere - preferably *from* it, since it takes no new writes -
 * and placement never picks it as a target. Once every block it holds has
 * its expected live replicas on other nodes, the monitor marks it
 * DECOMMISSIONED; its replicas stay (readable, listed last) as HDFS keeps
 * them. A node removed from the file returns to NORMAL, and its blocks
 * are checked again (they may now be over-replicated).
 *
 * Runs under the namespace write lock, except the file reading.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "namesystem_int.h"

void nn_hosts_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

int nn_hosts_load(const char *path, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!path || !*path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    return dfs_err_set(dfs_err_from_errno(errno), "hosts file %s: %s", path, strerror(errno));
  }
  char line[1024];
  char **v = NULL;
  size_t k = 0, cap = 0;
  int rc = 0;
  while (fgets(line, sizeof line, f)) {
    char *h = strchr(line, '#');
    if (h) *h = '\0';
    /* several names per line, separated by blanks (as HDFS) */
    for (char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
      if (k == cap) {
        size_t nc = cap ? cap * 2 : 8;
        char **nv = realloc(v, nc * sizeof *nv);
        if (!nv) {
          rc = DFS_ENOMEM;
          goto out;
        }
        v = nv;
        cap = nc;
      }
      if (!(v[k] = strdup(tok))) {
        rc = DFS_ENOMEM;
        goto out;
      }
      k++;
    }
  }
out:
  fclose(f);
  if (rc) {
    nn_hosts_free(v, k);
    return rc;
  }
  *out = v;
  *n = k;
  return 0;
}

static bool listed(const nn_ns *ns, const struct nn_datanode *dn) {
  char hp[300];
  snprintf(hp, sizeof hp, "%s:%u", dn->host, dn->port);
  for (size_t i = 0; i < ns->nexclude; i++) {
    const char *e = ns->exclude[i];
    if (strcmp(e, hp) == 0 || strcmp(e, dn->host) == 0 || strcmp(e, dn->hostname) == 0)
      return true;
  }
  return false;
}

/* Check every block of dn (its state changed). */
static void check_blocks(nn_ns *ns, struct nn_datanode *dn) {
  size_t pos = 0, n = 0;
  struct nn_block *b;
  struct nn_block **all = dn->blocks.len ? malloc(dn->blocks.len * sizeof *all) : NULL;
  while (all && (b = nn_u64map_next(&dn->blocks, &pos, NULL)) != NULL) all[n++] = b;
  for (size_t i = 0; i < n; i++) nn_repl_check(ns, all[i]);
  free(all);
}

void nn_decom_apply(nn_ns *ns, struct nn_datanode *dn) {
  bool want = listed(ns, dn);
  if (want && dn->admin == NN_ADMIN_NORMAL) {
    dn->admin = NN_ADMIN_DECOMMISSIONING;
    dn->decom_start_ms = nn_mono_ms();
    LOG_INFO("namenode", "decommissioning datanode %s (%s:%u, %s): %zu replicas to copy "
             "elsewhere", dn->uuid, dn->host, dn->port, dn->hostname, dn->blocks.len);
    check_blocks(ns, dn);
  } else if (!want && dn->admin != NN_ADMIN_NORMAL) {
    dn->admin = NN_ADMIN_NORMAL;
    LOG_INFO("namenode", "datanode %s (%s:%u, %s) is back in service", dn->uuid, dn->host,
             dn->port, dn->hostname);
    check_blocks(ns, dn);
  }
}

/* Every block on dn has its expected live replicas on other nodes. */
static bool all_safe(nn_ns *ns, struct nn_datanode *dn) {
  size_t pos = 0;
  struct nn_block *b;
  while ((b = nn_u64map_next(&dn->blocks, &pos, NULL)) != NULL) {
    if (b->state != NN_BLOCK_COMPLETE) return false; /* still being written */
    struct nn_repl_counts c;
    nn_repl_count(ns, b, &c);
    if (c.live < b->file->u.file.repl) return false;
  }
  return true;
}

void nn_decom_check(nn_ns *ns) {
  if (nn_in_safemode(ns)) return;
  for (size_t i = 0; i < ns->dns.n; i++) {
    struct nn_datanode *dn = ns->dns.dns[i];
    if (dn->admin != NN_ADMIN_DECOMMISSIONING || dn->dead) continue;
    if (!all_safe(ns, dn)) continue;
    dn->admin = NN_ADMIN_DECOMMISSIONED;
    LOG_INFO("namenode", "datanode %s (%s:%u, %s) is decommissioned after %lld ms: its %zu "
             "replicas are all safe elsewhere", dn->uuid, dn->host, dn->port, dn->hostname,
             (long long)(nn_mono_ms() - dn->decom_start_ms), dn->blocks.len);
  }
}

int nn_ns_refresh_nodes(nn_ns *ns, const struct nn_caller *c) {
  struct nn_pc pc;
  nn_pc_init(&pc, ns, c);
  if (!nn_pc_is_super(&pc))
    return dfs_err_set(DFS_EACCES, "refreshNodes: Access denied for user %s. Superuser "
                       "privilege is required", pc.user);
  char **v;
  size_t n;
  int rc = nn_hosts_load(ns->s_exclude, &v, &n);
  if (rc) return rc;
  pthread_rwlock_wrlock(&ns->lock);
  nn_hosts_free(ns->exclude, ns->nexclude);
  ns->exclude = v;
  ns->nexclude = n;
  LOG_INFO("namenode", "refreshNodes: %zu excluded host(s) from %s", n,
           ns->s_exclude ? ns->s_exclude : "(no dfs.hosts.exclude)");
  for (size_t i = 0; i < ns->dns.n; i++) nn_decom_apply(ns, ns->dns.dns[i]);
  pthread_rwlock_unlock(&ns->lock);
  return 0;
}
