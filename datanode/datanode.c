/*
 * datanode.c - the DataNode context: build it from a configuration, start
 * and stop its threads in the right order.
 *
 * Stop order matters: the server goes first (no new streams; in-flight
 * streams are cut and their handlers return), then the block scanner, then
 * the NameNode link, which receivers and the scanner notify and which must
 * therefore outlive them.
 */
#include "datanode.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "net.h"

void dn_addr(const dn_ctx *dn, char *buf, size_t cap) {
  if (strchr(dn->host, ':') != NULL)
    snprintf(buf, cap, "[%s]:%d", dn->host, dn->port);
  else
    snprintf(buf, cap, "%s:%d", dn->host, dn->port);
}

int dn_create(const dfs_conf *conf, const struct dn_opts *opts, dn_ctx **out) {
  dn_ctx *dn = calloc(1, sizeof *dn);
  if (dn == NULL) return DFS_ENOMEM;
  int rc;
  dn->conf = conf;
  dn->socket_timeout_ms = (int)dfs_conf_int(conf, "dfs.client.socket-timeout");
  dn->blocksize = (uint64_t)dfs_conf_int(conf, "dfs.blocksize");
  dn->sync_behind = dfs_conf_bool(conf, "dfs.datanode.sync.behind.writes");
  dn->heartbeat_ms = dfs_conf_int(conf, "dfs.heartbeat.interval") * 1000;
  dn->blockreport_ms = dfs_conf_int(conf, "dfs.blockreport.intervalMsec");
  dn->failed_volumes_tolerated = (int)dfs_conf_int(conf, "dfs.datanode.failed.volumes.tolerated");
  dn->disk_check_ms = dfs_conf_int(conf, "dfs.datanode.disk.check.min.gap");
  if (opts && opts->ready_file) snprintf(dn->ready_file, sizeof dn->ready_file, "%s", opts->ready_file);
  const char *hn = dfs_conf_str(conf, "dfs.datanode.hostname");
  if (hn && *hn)
    snprintf(dn->hostname, sizeof dn->hostname, "%s", hn);
  else if (gethostname(dn->hostname, sizeof dn->hostname - 1) < 0)
    snprintf(dn->hostname, sizeof dn->hostname, "localhost");
  const char *addr = dfs_conf_str(conf, "dfs.datanode.address");
  int port;
  if ((rc = dfs_addr_split(addr, dn->host, sizeof dn->host, &port)) < 0) goto fail;

  if ((rc = dn_storage_open(dfs_conf_str(conf, "dfs.datanode.data.dir"),
                            (uint64_t)dfs_conf_int(conf, "dfs.datanode.du.reserved"),
                            &dn->storage)) < 0) {
    /* No usable data directory is a configuration problem (exit 2). */
    if (rc != DFS_ENOMEM && rc != DFS_ECONFIG) {
      char why[1024];
      snprintf(why, sizeof why, "%s", dfs_err_msg()); /* the message lives in the same buffer */
      rc = dfs_err_set(DFS_ECONFIG, "dfs.datanode.data.dir: %s", why);
    }
    goto fail;
  }
  {
    int nv = dn_storage_num_volumes(dn->storage), nf = dn_storage_num_failed(dn->storage);
    int tol = dn->failed_volumes_tolerated;
    if (tol >= nv) {
      rc = dfs_err_set(DFS_ECONFIG, "dfs.datanode.failed.volumes.tolerated = %d: must be below "
                       "the number of data directories (%d), or -1", tol, nv);
      goto fail;
    }
    if (tol >= 0 && nf > tol) {
      rc = dfs_err_set(DFS_ECONFIG, "%d of %d data directories failed, more than "
                       "dfs.datanode.failed.volumes.tolerated = %d", nf, nv, tol);
      goto fail;
    }
  }
  if ((rc = dn_rmap_create(&dn->map)) < 0) goto fail;
  if ((rc = dn_storage_scan(dn->storage, dn->map)) < 0) goto fail;

  const char *user = getenv("USER");
  struct passwd *pw = (user && *user) ? NULL : getpwuid(geteuid());
  struct dfs_rpc_client_opts co = {
      .user = (user && *user) ? user : pw ? pw->pw_name : "datanode",
      .timeout_ms = dn->socket_timeout_ms,
      .max_body = (uint32_t)dfs_conf_int(conf, "ipc.maximum.data.length"),
      .max_idle_per_addr = 8,
  };
  if ((rc = dfs_rpc_client_create(&co, &dn->client)) < 0) goto fail;
  struct dfs_rpc_server_opts so = {
      .name = "datanode",
      .bind_addr = addr,
      .methods = dn_rpc_methods,
      .n_methods = dn_rpc_n_methods,
      .ctx = dn,
      .max_body = (uint32_t)dfs_conf_int(conf, "ipc.maximum.data.length"),
      .max_connections = (int)dfs_conf_int(conf, "ipc.server.max.connections"),
      .idle_timeout_ms = dn->socket_timeout_ms,
  };
  if ((rc = dfs_rpc_server_create(&so, &dn->server)) < 0) goto fail;
  dn->port = dfs_rpc_server_port(dn->server);
  dn->nn_disabled = opts && opts->nn_disabled;
  *out = dn;
  return 0;
fail:
  dn_destroy(dn);
  return rc;
}

int dn_start(dn_ctx *dn) {
  /* The checker first: receivers may call its wake hook. */
  int rc = dn_volcheck_start(dn, &dn->volcheck);
  if (rc < 0) return rc;
  if ((rc = dfs_rpc_server_start(dn->server)) < 0) return rc;
  char addr[300];
  dn_addr(dn, addr, sizeof addr);
  LOG_INFO("datanode", "serving on %s as %s (%s), %d volume(s)", addr,
           dn_storage_uuid(dn->storage), dn->hostname, dn_storage_num_volumes(dn->storage));
  if (dfs_conf_int(dn->conf, "dfs.block.scanner.volume.bytes.per.second") > 0 &&
      (rc = dn_scanner_start(dn, &dn->scanner)) < 0) {
    dfs_rpc_server_stop(dn->server);
    return rc;
  }
  if (!dn->nn_disabled) {
    dn_nn_link *l;
    if ((rc = dn_nn_link_start(dn, &l)) < 0) {
      dfs_rpc_server_stop(dn->server);
      return rc;
    }
  }
  return 0;
}

void dn_stop(dn_ctx *dn) {
  if (dn == NULL || atomic_exchange(&dn->stopping, true)) return;
  if (dn->server) dfs_rpc_server_stop(dn->server);
  dn_scanner_stop(dn->scanner);
  dn->scanner = NULL;
  dn_volcheck_stop(dn->volcheck);
  dn->volcheck = NULL;
  if (dn->nn) dn_nn_link_stop(dn->nn);
}

void dn_destroy(dn_ctx *dn) {
  if (dn == NULL) return;
  dn_stop(dn);
  if (dn->server) dfs_rpc_server_destroy(dn->server);
  if (dn->client) dfs_rpc_client_destroy(dn->client);
  dn_rmap_destroy(dn->map);
  dn_storage_close(dn->storage);
  free(dn);
}
