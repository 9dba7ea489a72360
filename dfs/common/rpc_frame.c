/* rpc_frame.c - the 24-byte frame header (layout in rpc.h). */
#include <string.h>

#include "errors.h"
#include "net.h"
#include "rpc.h"

static inline void put16(uint8_t *o, uint16_t v) { o[0] = (uint8_t)(v >> 8); o[1] = (uint8_t)v; }
static inline void put32(uint8_t *o, uint32_t v) {
  o[0] = (uint8_t)(v >> 24); o[1] = (uint8_t)(v >> 16);
  o[2] = (uint8_t)(v >> 8); o[3] = (uint8_t)v;
}
static inline uint16_t get16(const uint8_t *i) { return (uint16_t)((i[0] << 8) | i[1]); }
static inline uint32_t get32(const uint8_t *i) {
  return ((uint32_t)i[0] << 24) | ((uint32_t)i[1] << 16) | ((uint32_t)i[2] << 8) | i[3];
}

void dfs_rpc_hdr_encode(const struct dfs_rpc_hdr *h, uint8_t out[DFS_RPC_HDR_LEN]) {
  put32(out, h->magic);
  out[4] = h->version;
  out[5] = h->flags;
  put16(out + 6, h->method);
  put32(out + 8, (uint32_t)(h->call_id >> 32));
  put32(out + 12, (uint32_t)h->call_id);
  put32(out + 16, (uint32_t)h->status);
  put32(out + 20, h->body_len);
}

int dfs_rpc_hdr_decode(const uint8_t *in, size_t len, uint32_t max_body,
                       struct dfs_rpc_hdr *h) {
  if (len < DFS_RPC_HDR_LEN)
    return dfs_err_set(DFS_EPROTO, "frame header truncated: %zu of %d bytes", len,
                       DFS_RPC_HDR_LEN);
  h->magic = get32(in);
  h->version = in[4];
  h->flags = in[5];
  h->method = get16(in + 6);
  h->call_id = ((uint64_t)get32(in + 8) << 32) | get32(in + 12);
  h->status = (int32_t)get32(in + 16);
  h->body_len = get32(in + 20);
  if (h->magic != DFS_RPC_MAGIC)
    return dfs_err_set(DFS_EPROTO, "bad frame magic 0x%08x (expected 0x%08x)", h->magic,
                       DFS_RPC_MAGIC);
  if (h->version != DFS_RPC_VERSION)
    return dfs_err_set(DFS_EPROTO, "unsupported protocol version %u (this side speaks %d)",
                       h->version, DFS_RPC_VERSION);
  if (h->flags & ~DFS_RPC_F_REPLY)
    return dfs_err_set(DFS_EPROTO, "unknown frame flags 0x%02x", h->flags);
  if (h->body_len > max_body)
    return dfs_err_set(DFS_ETOOBIG, "frame body of %u bytes exceeds the limit of %u bytes",
                       h->body_len, max_body);
  return 0;
}

int dfs_rpc_send_frame(int fd, const struct dfs_rpc_hdr *h, const void *body,
                       int64_t deadline_ms) {
  uint8_t hb[DFS_RPC_HDR_LEN];
  dfs_rpc_hdr_encode(h, hb);
  struct iovec iov[2] = {{hb, sizeof hb}, {(void *)body, h->body_len}};
  return dfs_writev_full(fd, iov, h->body_len ? 2 : 1, deadline_ms);
}
