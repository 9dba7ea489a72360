/*
 * fuzz_rpc_frame.c - libFuzzer target for everything the RPC layer decodes
 * from a peer: the 24-byte frame header (dfs_rpc_hdr_decode) and then the
 * body, exactly as the server and client treat it: a request body is
 * unpacked with the request descriptor of the header's method, a reply
 * body with the response descriptor, an error reply as Dfs__RpcError.
 * Any bytes must give an error or a message, never a crash or a leak.
 *
 * Input: a frame (header + body). When the header is invalid the target
 * still decodes the bytes after it with every descriptor picked by the
 * method field, so the body decoders see all inputs too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfs_methods.h"
#include "errors.h"
#include "rpc.h"

struct fuzz_method {
  uint16_t id;
  const ProtobufCMessageDescriptor *req, *resp;
};

/* One row per DFS_METHOD_TABLE row (checked below). */
static const struct fuzz_method fuzz_methods[] = {
    {1, &dfs__connection_context__descriptor, &dfs__empty__descriptor},
    {2, &dfs__empty__descriptor, &dfs__empty__descriptor},
    {100, &dfs__mkdirs_request__descriptor, &dfs__mkdirs_response__descriptor},
    {101, &dfs__create_request__descriptor, &dfs__create_response__descriptor},
    {102, &dfs__add_block_request__descriptor, &dfs__add_block_response__descriptor},
    {103, &dfs__abandon_block_request__descriptor, &dfs__empty__descriptor},
    {104, &dfs__complete_request__descriptor, &dfs__complete_response__descriptor},
    {105, &dfs__fsync_request__descriptor, &dfs__empty__descriptor},
    {106, &dfs__get_block_locations_request__descriptor, &dfs__get_block_locations_response__descriptor},
    {107, &dfs__get_file_info_request__descriptor, &dfs__get_file_info_response__descriptor},
    {108, &dfs__get_listing_request__descriptor, &dfs__get_listing_response__descriptor},
    {109, &dfs__rename_request__descriptor, &dfs__rename_response__descriptor},
    {110, &dfs__delete_request__descriptor, &dfs__delete_response__descriptor},
    {111, &dfs__set_permission_request__descriptor, &dfs__empty__descriptor},
    {112, &dfs__set_owner_request__descriptor, &dfs__empty__descriptor},
    {113, &dfs__set_replication_request__descriptor, &dfs__set_replication_response__descriptor},
    {114, &dfs__set_times_request__descriptor, &dfs__empty__descriptor},
    {115, &dfs__get_content_summary_request__descriptor, &dfs__content_summary__descriptor},
    {116, &dfs__renew_lease_request__descriptor, &dfs__empty__descriptor},
    {117, &dfs__report_bad_blocks_request__descriptor, &dfs__empty__descriptor},
    {118, &dfs__get_datanode_report_request__descriptor, &dfs__get_datanode_report_response__descriptor},
    {119, &dfs__empty__descriptor, &dfs__fs_stats__descriptor},
    {120, &dfs__empty__descriptor, &dfs__server_defaults__descriptor},
    {121, &dfs__recover_lease_request__descriptor, &dfs__recover_lease_response__descriptor},
    {122, &dfs__set_safe_mode_request__descriptor, &dfs__set_safe_mode_response__descriptor},
    {123, &dfs__empty__descriptor, &dfs__empty__descriptor},
    {124, &dfs__update_block_for_pipeline_request__descriptor, &dfs__update_block_for_pipeline_response__descriptor},
    {125, &dfs__update_pipeline_request__descriptor, &dfs__empty__descriptor},
    {200, &dfs__register_datanode_request__descriptor, &dfs__register_datanode_response__descriptor},
    {201, &dfs__heartbeat_request__descriptor, &dfs__heartbeat_response__descriptor},
    {202, &dfs__block_report_request__descriptor, &dfs__empty__descriptor},
    {203, &dfs__block_received_and_deleted_request__descriptor, &dfs__empty__descriptor},
    {204, &dfs__commit_block_synchronization_request__descriptor, &dfs__empty__descriptor},
    {300, &dfs__write_block_request__descriptor, &dfs__write_block_response__descriptor},
    {301, &dfs__read_block_request__descriptor, &dfs__read_block_response__descriptor},
    {302, &dfs__get_replica_visible_length_request__descriptor, &dfs__get_replica_visible_length_response__descriptor},
    {303, &dfs__init_replica_recovery_request__descriptor, &dfs__init_replica_recovery_response__descriptor},
    {304, &dfs__update_replica_under_recovery_request__descriptor, &dfs__empty__descriptor},
};

#define FUZZ_COUNT(name, id, req, resp) +1
_Static_assert(sizeof fuzz_methods / sizeof fuzz_methods[0] == 0 DFS_METHOD_TABLE(FUZZ_COUNT),
               "fuzz_methods must list every method of dfs_methods.h");
#undef FUZZ_COUNT

static void decode_with(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, b);
  if (!m) return;
  /* Re-pack: a decoded message must be packable (the server echoes fields). */
  uint8_t out[4096];
  size_t sz = protobuf_c_message_get_packed_size(m);
  if (sz <= sizeof out) protobuf_c_message_pack(m, out);
  protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct dfs_rpc_hdr h;
  memset(&h, 0, sizeof h);
  int rc = dfs_rpc_hdr_decode(data, size, 1u << 20, &h);
  dfs_err_clear();
  if (size < DFS_RPC_HDR_LEN) return 0;
  const uint8_t *body = data + DFS_RPC_HDR_LEN;
  size_t n = size - DFS_RPC_HDR_LEN;
  if (rc == 0 && h.body_len < n) n = h.body_len;
  if (rc == 0 && h.status != 0) {
    decode_with(&dfs__rpc_error__descriptor, body, n);
    return 0;
  }
  for (size_t i = 0; i < sizeof fuzz_methods / sizeof fuzz_methods[0]; i++) {
    if (fuzz_methods[i].id != h.method) continue;
    if (rc != 0 || !(h.flags & DFS_RPC_F_REPLY)) decode_with(fuzz_methods[i].req, body, n);
    if (rc != 0 || (h.flags & DFS_RPC_F_REPLY)) decode_with(fuzz_methods[i].resp, body, n);
    return 0;
  }
  /* Unknown method: the error reply path. */
  decode_with(&dfs__rpc_error__descriptor, body, n);
  return 0;
}
