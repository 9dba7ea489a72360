/*
 * dn_rpc.c - the DataNode's method table: data transfer (streams) and the
 * small DataNode RPCs, all on the one port (dfs.datanode.address).
 */
#include "datanode.h"

const struct dfs_rpc_method dn_rpc_methods[] = {
    {DFS_M_WRITE_BLOCK, "WRITE_BLOCK", &dfs__write_block_request__descriptor, dn_write_block,
     DFS_RPC_STREAM},
    {DFS_M_READ_BLOCK, "READ_BLOCK", &dfs__read_block_request__descriptor, dn_read_block,
     DFS_RPC_STREAM},
    {DFS_M_GET_REPLICA_VISIBLE_LENGTH, "GET_REPLICA_VISIBLE_LENGTH",
     &dfs__get_replica_visible_length_request__descriptor, dn_get_visible_length, 0},
    {DFS_M_INIT_REPLICA_RECOVERY, "INIT_REPLICA_RECOVERY",
     &dfs__init_replica_recovery_request__descriptor, dn_init_replica_recovery, 0},
    {DFS_M_UPDATE_REPLICA_UNDER_RECOVERY, "UPDATE_REPLICA_UNDER_RECOVERY",
     &dfs__update_replica_under_recovery_request__descriptor, dn_update_replica_under_recovery, 0},
};

const size_t dn_rpc_n_methods = sizeof dn_rpc_methods / sizeof dn_rpc_methods[0];
