/*
 * namenode.h - the NameNode daemon: configuration -> namesystem + RPC
 * server + monitor thread (DataNode liveness, safe mode exit, periodic
 * checkpoints).
 */
#ifndef NN_NAMENODE_H
#define NN_NAMENODE_H

#include "conf.h"
#include "namesystem.h"

typedef struct namenode namenode;

/* Fill a namesystem configuration from the key table. conf must outlive
 * the result's strings (they point into conf); topo_buf receives the
 * resolved topology file path (first half) and exclude file path (second
 * half), so it must outlive them too. */
void namenode_config(const dfs_conf *conf, struct nn_config *cfg, char *topo_buf,
                     size_t topo_cap);

/*
 * Load the namesystem (formatting an empty name dir), start the RPC server
 * and the monitor thread. Returns 0 and *out, or a negative code with a
 * message (a corrupt log or image: DFS_ECORRUPT). conf must outlive the
 * daemon.
 */
int namenode_start(const dfs_conf *conf, namenode **out);
/* The bound RPC address ("host:port"). */
const char *namenode_address(const namenode *nn);
/* The namesystem (in-process access for tests and benchmarks). */
nn_ns *namenode_ns(namenode *nn);
/* Stop: no new calls, wait for handlers (and their edit syncs), checkpoint,
 * close the log, free. */
void namenode_stop(namenode *nn);

#endif
