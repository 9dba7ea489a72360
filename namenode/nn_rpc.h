/*
 * nn_rpc.h - the NameNode's RPC method table: protobuf requests in,
 * namesystem calls, protobuf replies out (client -> namenode and
 * datanode -> namenode sections of dfs_methods.h).
 */
#ifndef NN_RPC_H
#define NN_RPC_H

#include <stddef.h>

#include "namesystem.h"
#include "rpc.h"

/* The table (static storage; handlers expect ctx = the nn_ns *). */
const struct dfs_rpc_method *nn_rpc_methods(size_t *n);

#endif
