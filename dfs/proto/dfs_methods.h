/*
 * dfs_methods.h - RPC method ids and their request/response messages.
 *
 * X(NAME, id, RequestType, ResponseType) with the protobuf-c type names of
 * dfs.proto. Ids are part of the wire protocol: never renumber or reuse.
 * 1-99 framework, 100-199 client->namenode, 200-299 datanode->namenode,
 * 300-399 data transfer (served by datanodes).
 */
#ifndef DFS_METHODS_H
#define DFS_METHODS_H

#include "dfs.pb-c.h"

#define DFS_METHOD_TABLE(X)                                                         \
  X(CONNECTION_CONTEXT, 1, Dfs__ConnectionContext, Dfs__Empty)                      \
  X(PING, 2, Dfs__Empty, Dfs__Empty)                                                \
  /* client -> namenode */                                                          \
  X(MKDIRS, 100, Dfs__MkdirsRequest, Dfs__MkdirsResponse)                           \
  X(CREATE, 101, Dfs__CreateRequest, Dfs__CreateResponse)                           \
  X(ADD_BLOCK, 102, Dfs__AddBlockRequest, Dfs__AddBlockResponse)                    \
  X(ABANDON_BLOCK, 103, Dfs__AbandonBlockRequest, Dfs__Empty)                       \
  X(COMPLETE, 104, Dfs__CompleteRequest, Dfs__CompleteResponse)                     \
  X(FSYNC, 105, Dfs__FsyncRequest, Dfs__Empty)                                      \
  X(GET_BLOCK_LOCATIONS, 106, Dfs__GetBlockLocationsRequest, Dfs__GetBlockLocationsResponse) \
  X(GET_FILE_INFO, 107, Dfs__GetFileInfoRequest, Dfs__GetFileInfoResponse)          \
  X(GET_LISTING, 108, Dfs__GetListingRequest, Dfs__GetListingResponse)              \
  X(RENAME, 109, Dfs__RenameRequest, Dfs__RenameResponse)                           \
  X(DELETE, 110, Dfs__DeleteRequest, Dfs__DeleteResponse)                           \
  X(SET_PERMISSION, 111, Dfs__SetPermissionRequest, Dfs__Empty)                     \
  X(SET_OWNER, 112, Dfs__SetOwnerRequest, Dfs__Empty)                               \
  X(SET_REPLICATION, 113, Dfs__SetReplicationRequest, Dfs__SetReplicationResponse)  \
  X(SET_TIMES, 114, Dfs__SetTimesRequest, Dfs__Empty)                               \
  X(GET_CONTENT_SUMMARY, 115, Dfs__GetContentSummaryRequest, Dfs__ContentSummary)   \
  X(RENEW_LEASE, 116, Dfs__RenewLeaseRequest, Dfs__Empty)                           \
  X(REPORT_BAD_BLOCKS, 117, Dfs__ReportBadBlocksRequest, Dfs__Empty)                \
  X(GET_DATANODE_REPORT, 118, Dfs__GetDatanodeReportRequest, Dfs__GetDatanodeReportResponse) \
  X(GET_FS_STATS, 119, Dfs__Empty, Dfs__FsStats)                                    \
  X(GET_SERVER_DEFAULTS, 120, Dfs__Empty, Dfs__ServerDefaults)                      \
  X(RECOVER_LEASE, 121, Dfs__RecoverLeaseRequest, Dfs__RecoverLeaseResponse)        \
  X(SET_SAFE_MODE, 122, Dfs__SetSafeModeRequest, Dfs__SetSafeModeResponse)          \
  X(REFRESH_NODES, 123, Dfs__Empty, Dfs__Empty)                                     \
  X(UPDATE_BLOCK_FOR_PIPELINE, 124, Dfs__UpdateBlockForPipelineRequest, Dfs__UpdateBlockForPipelineResponse) \
  X(UPDATE_PIPELINE, 125, Dfs__UpdatePipelineRequest, Dfs__Empty)                   \
  /* datanode -> namenode */                                                        \
  X(REGISTER_DATANODE, 200, Dfs__RegisterDatanodeRequest, Dfs__RegisterDatanodeResponse) \
  X(HEARTBEAT, 201, Dfs__HeartbeatRequest, Dfs__HeartbeatResponse)                  \
  X(BLOCK_REPORT, 202, Dfs__BlockReportRequest, Dfs__Empty)                         \
  X(BLOCK_RECEIVED_AND_DELETED, 203, Dfs__BlockReceivedAndDeletedRequest, Dfs__Empty) \
  X(COMMIT_BLOCK_SYNCHRONIZATION, 204, Dfs__CommitBlockSynchronizationRequest, Dfs__Empty) \
  /* data transfer, served by datanodes */                                          \
  X(WRITE_BLOCK, 300, Dfs__WriteBlockRequest, Dfs__WriteBlockResponse)              \
  X(READ_BLOCK, 301, Dfs__ReadBlockRequest, Dfs__ReadBlockResponse)                 \
  X(GET_REPLICA_VISIBLE_LENGTH, 302, Dfs__GetReplicaVisibleLengthRequest, Dfs__GetReplicaVisibleLengthResponse) \
  X(INIT_REPLICA_RECOVERY, 303, Dfs__InitReplicaRecoveryRequest, Dfs__InitReplicaRecoveryResponse) \
  X(UPDATE_REPLICA_UNDER_RECOVERY, 304, Dfs__UpdateReplicaUnderRecoveryRequest, Dfs__Empty)

enum dfs_method {
#define DFS__METHOD_ENUM(name, id, req, resp) DFS_M_##name = id,
  DFS_METHOD_TABLE(DFS__METHOD_ENUM)
#undef DFS__METHOD_ENUM
};

/* "CREATE" for DFS_M_CREATE; NULL for an unknown id. */
const char *dfs_method_name(int method);

#endif
