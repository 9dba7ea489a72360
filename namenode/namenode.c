/*
 * namenode.c - the NameNode daemon around the namesystem: builds the
 * configuration from the key table, serves the RPC method table, and runs
 * one monitor thread for time-driven work (dead DataNodes, leaving safe
 * mode, checkpoints by dfs.namenode.checkpoint.period / .txns).
 *
 * Stopping order matters: the RPC server stops first (every handler has
 * returned, so every acknowledged change is synced), then the monitor,
 * then the namesystem checkpoints and closes its log.
 */
#include "namenode.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "namesystem_int.h"
#include "net.h"
#include "nn_rpc.h"
#include "rpc.h"

struct namenode {
  const dfs_conf *conf;
  nn_ns *ns;
  dfs_rpc_server *srv;
  char addr[300];
  pthread_t monitor;
  bool monitor_started;
  pthread_mutex_t mu;   /* guards stop */
  pthread_cond_t cv;
  bool stop;
  int64_t checkpoint_period_ms;
  uint64_t checkpoint_txns;
};

void namenode_config(const dfs_conf *conf, struct nn_config *cfg, char *topo_buf,
                     size_t topo_cap) {
  nn_config_defaults(cfg);
  cfg->name_dir = dfs_conf_str(conf, "dfs.namenode.name.dir");
  cfg->default_blocksize = (uint64_t)dfs_conf_int(conf, "dfs.blocksize");
  cfg->default_replication = (uint32_t)dfs_conf_int(conf, "dfs.replication");
  cfg->max_replication = (uint32_t)dfs_conf_int(conf, "dfs.replication.max");
  cfg->min_blocksize = (uint64_t)dfs_conf_int(conf, "dfs.namenode.fs-limits.min-block-size");
  cfg->min_replication = (uint32_t)dfs_conf_int(conf, "dfs.namenode.replication.min");
  cfg->ls_limit = (uint32_t)dfs_conf_int(conf, "dfs.ls.limit");
  cfg->max_component_len =
      (uint32_t)dfs_conf_int(conf, "dfs.namenode.fs-limits.max-component-length");
  cfg->max_dir_items = (uint32_t)dfs_conf_int(conf, "dfs.namenode.fs-limits.max-directory-items");
  cfg->permissions = dfs_conf_bool(conf, "dfs.permissions.enabled");
  cfg->supergroup = dfs_conf_str(conf, "dfs.permissions.superusergroup");
  cfg->bytes_per_checksum = (uint32_t)dfs_conf_int(conf, "dfs.bytes-per-checksum");
  cfg->write_packet_size = (uint32_t)dfs_conf_int(conf, "dfs.client-write-packet-size");
  cfg->heartbeat_interval_ms = dfs_conf_int(conf, "dfs.heartbeat.interval") * 1000;
  cfg->recheck_interval_ms = dfs_conf_int(conf, "dfs.namenode.heartbeat.recheck-interval");
  cfg->safemode_threshold = dfs_conf_double(conf, "dfs.namenode.safemode.threshold-pct");
  cfg->safemode_extension_ms = dfs_conf_int(conf, "dfs.namenode.safemode.extension");
  cfg->repl_interval_ms = dfs_conf_int(conf, "dfs.namenode.replication.interval");
  cfg->repl_max_streams = (uint32_t)dfs_conf_int(conf, "dfs.namenode.replication.max-streams");
  cfg->repl_pending_timeout_ms =
      dfs_conf_int(conf, "dfs.namenode.reconstruction.pending.timeout-sec") * 1000;
  cfg->lease_soft_ms = dfs_conf_int(conf, "dfs.namenode.lease.soft-limit");
  cfg->lease_hard_ms = dfs_conf_int(conf, "dfs.namenode.lease.hard-limit");
  cfg->recovery_retry_ms = dfs_conf_int(conf, "dfs.namenode.block-recovery.retry-interval");
  /* the buffer's second half holds the exclude file's path */
  size_t half = topo_cap / 2;
  char *excl_buf = topo_buf + half;
  size_t excl_cap = topo_cap - half;
  topo_cap = half;
  const char *excl = dfs_conf_str(conf, "dfs.hosts.exclude");
  cfg->hosts_exclude_file = NULL;
  if (excl && *excl) {
    const char *edir = dfs_conf_dir(conf);
    if (excl[0] == '/')
      snprintf(excl_buf, excl_cap, "%s", excl);
    else
      snprintf(excl_buf, excl_cap, "%s/%s", edir ? edir : ".", excl);
    cfg->hosts_exclude_file = excl_buf;
  }
  const char *topo = dfs_conf_str(conf, "net.topology.table.file.name");
  const char *cdir = dfs_conf_dir(conf);
  cfg->topology_file = NULL;
  if (topo && *topo) {
    if (topo[0] == '/')
      snprintf(topo_buf, topo_cap, "%s", topo);
    else
      snprintf(topo_buf, topo_cap, "%s/%s", cdir ? cdir : ".", topo);
    cfg->topology_file = topo_buf;
  }
}

static void fatal_exit(void *arg, int rc, const char *msg) {
  (void)arg;
  /* HDFS aborts when no edits directory can be written: an acknowledged
   * change must never be lost, so neither may the process go on. */
  LOG_ERROR("namenode", "FATAL: %s (%s); exiting", msg, dfs_strerror(rc));
  _exit(1);
}

static void *monitor_main(void *arg) {
  namenode *nn = arg;
  pthread_setname_np(pthread_self(), "nn-monitor");
  int64_t last_ckpt = nn_mono_ms();
  int64_t repl_ms = nn_ns_config(nn->ns)->repl_interval_ms;
  /* liveness and safe mode every second; replication work every
   * dfs.namenode.replication.interval (which may be shorter) */
  int64_t tick_ms = repl_ms > 0 && repl_ms < 1000 ? repl_ms : 1000;
  int64_t last_tick = 0, last_repl = nn_mono_ms();
  pthread_mutex_lock(&nn->mu);
  while (!nn->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(tick_ms % 1000) * 1000000L;
    ts.tv_sec += tick_ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&nn->cv, &nn->mu, &ts);
    if (nn->stop) break;
    pthread_mutex_unlock(&nn->mu);
    int64_t t = nn_mono_ms();
    if (t - last_tick >= 1000 - tick_ms / 2) {
      nn_ns_tick(nn->ns);
      nn_ns_check_leases(nn->ns);
      last_tick = t;
    }
    if (t - last_repl >= repl_ms - tick_ms / 2) {
      nn_ns_replication_work(nn->ns);
      last_repl = t;
    }
    uint64_t txns = nn_ns_txns_since_checkpoint(nn->ns);
    int64_t now = nn_mono_ms();
    if (txns >= nn->checkpoint_txns ||
        (txns > 0 && now - last_ckpt >= nn->checkpoint_period_ms)) {
      nn_ns_checkpoint(nn->ns);
      last_ckpt = nn_mono_ms();
    }
    pthread_mutex_lock(&nn->mu);
  }
  pthread_mutex_unlock(&nn->mu);
  return NULL;
}

int namenode_start(const dfs_conf *conf, namenode **out) {
  int rc;
  char topo[4096];
  struct nn_config cfg;
  namenode *nn = calloc(1, sizeof *nn);
  if (!nn) return DFS_ENOMEM;
  nn->conf = conf;
  pthread_mutex_init(&nn->mu, NULL);
  pthread_cond_init(&nn->cv, NULL);
  namenode_config(conf, &cfg, topo, sizeof topo);
  nn->checkpoint_period_ms = dfs_conf_int(conf, "dfs.namenode.checkpoint.period") * 1000;
  nn->checkpoint_txns = (uint64_t)dfs_conf_int(conf, "dfs.namenode.checkpoint.txns");
  if ((rc = nn_ns_open(&cfg, &nn->ns)) != 0) goto fail;
  nn_ns_set_fatal(nn->ns, fatal_exit, nn);

  size_t nm;
  const struct dfs_rpc_method *m = nn_rpc_methods(&nm);
  struct dfs_rpc_server_opts o = {
      .name = "namenode",
      .bind_addr = dfs_conf_str(conf, "dfs.namenode.rpc-address"),
      .methods = m,
      .n_methods = nm,
      .ctx = nn->ns,
      .max_body = (uint32_t)dfs_conf_int(conf, "ipc.maximum.data.length"),
      .max_connections = (int)dfs_conf_int(conf, "ipc.server.max.connections"),
      .idle_timeout_ms = 0,
  };
  if ((rc = dfs_rpc_server_create(&o, &nn->srv)) != 0) goto fail;
  char host[256];
  int port;
  if (dfs_addr_split(o.bind_addr, host, sizeof host, &port) != 0)
    snprintf(host, sizeof host, "127.0.0.1");
  snprintf(nn->addr, sizeof nn->addr, "%s:%d", host, dfs_rpc_server_port(nn->srv));
  if ((rc = pthread_create(&nn->monitor, NULL, monitor_main, nn)) != 0) {
    rc = dfs_err_set(dfs_err_from_errno(rc), "namenode: cannot start the monitor thread");
    goto fail;
  }
  nn->monitor_started = true;
  if ((rc = dfs_rpc_server_start(nn->srv)) != 0) goto fail;
  LOG_INFO("namenode", "serving on %s, name dir %s, superuser %s", nn->addr, cfg.name_dir,
           nn_ns_superuser(nn->ns));
  *out = nn;
  return 0;
fail:
  namenode_stop(nn);
  return rc;
}

const char *namenode_address(const namenode *nn) { return nn->addr; }
nn_ns *namenode_ns(namenode *nn) { return nn->ns; }

void namenode_stop(namenode *nn) {
  if (!nn) return;
  if (nn->srv) {
    dfs_rpc_server_stop(nn->srv);
    dfs_rpc_server_destroy(nn->srv);
  }
  if (nn->monitor_started) {
    pthread_mutex_lock(&nn->mu);
    nn->stop = true;
    pthread_cond_broadcast(&nn->cv);
    pthread_mutex_unlock(&nn->mu);
    pthread_join(nn->monitor, NULL);
  }
  nn_ns_close(nn->ns, true);
  pthread_mutex_destroy(&nn->mu);
  pthread_cond_destroy(&nn->cv);
  free(nn);
}
