/* packet.c - encode/decode of data packets and acks (layout in packet.h). */
#include "packet.h"

#include "errors.h"

static inline void put32(uint8_t *o, uint32_t v) {
  o[0] = (uint8_t)(v >> 24); o[1] = (uint8_t)(v >> 16);
  o[2] = (uint8_t)(v >> 8); o[3] = (uint8_t)v;
}
static inline void put64(uint8_t *o, uint64_t v) {
  put32(o, (uint32_t)(v >> 32));
  put32(o + 4, (uint32_t)v);
}
static inline uint32_t get32(const uint8_t *i) {
  return ((uint32_t)i[0] << 24) | ((uint32_t)i[1] << 16) | ((uint32_t)i[2] << 8) | i[3];
}
static inline uint64_t get64(const uint8_t *i) {
  return ((uint64_t)get32(i) << 32) | get32(i + 4);
}

void dfs_packet_hdr_encode(const struct dfs_packet_hdr *h,
                           uint8_t out[DFS_PACKET_HDR_LEN]) {
  put32(out, dfs_packet_sums_len(h->data_len) + h->data_len);
  put64(out + 4, (uint64_t)h->offset);
  put64(out + 12, (uint64_t)h->seqno);
  put32(out + 20, h->data_len);
  out[24] = h->flags;
  out[25] = out[26] = out[27] = 0;
}

int dfs_packet_hdr_decode(const uint8_t *in, size_t len, uint32_t max_data,
                          struct dfs_packet_hdr *h) {
  if (len < DFS_PACKET_HDR_LEN)
    return dfs_err_set(DFS_EPROTO, "packet header truncated: %zu of %d bytes", len,
                       DFS_PACKET_HDR_LEN);
  uint32_t payload = get32(in);
  int64_t offset = (int64_t)get64(in + 4);
  int64_t seqno = (int64_t)get64(in + 12);
  uint32_t data_len = get32(in + 20);
  uint8_t flags = in[24];
  if (max_data > DFS_PACKET_MAX_DATA) max_data = DFS_PACKET_MAX_DATA;
  if (data_len > max_data)
    return dfs_err_set(DFS_ETOOBIG, "packet data length %u exceeds the limit %u",
                       data_len, max_data);
  if (payload != dfs_packet_sums_len(data_len) + data_len)
    return dfs_err_set(DFS_EPROTO,
                       "packet payload length %u does not match data length %u",
                       payload, data_len);
  if (offset < 0 || offset % DFS_CHUNK_SIZE != 0)
    return dfs_err_set(DFS_EPROTO, "packet offset %lld is not a non-negative multiple of %d",
                       (long long)offset, DFS_CHUNK_SIZE);
  if (seqno < -1 || (seqno == -1 && (data_len != 0 || flags != 0)))
    return dfs_err_set(DFS_EPROTO, "packet seqno %lld invalid", (long long)seqno);
  if (flags & ~(DFS_PKT_LAST | DFS_PKT_SYNC | DFS_PKT_FLUSH))
    return dfs_err_set(DFS_EPROTO, "packet flags 0x%x unknown", flags);
  if (in[25] | in[26] | in[27])
    return dfs_err_set(DFS_EPROTO, "packet reserved bytes not zero");
  h->offset = offset;
  h->seqno = seqno;
  h->data_len = data_len;
  h->flags = flags;
  return 0;
}

size_t dfs_ack_encode(const struct dfs_ack *a, uint8_t *out) {
  put64(out, (uint64_t)a->seqno);
  out[8] = a->n;
  out[9] = out[10] = out[11] = 0;
  for (unsigned i = 0; i < a->n; i++) put32(out + 12 + 4 * i, (uint32_t)a->status[i]);
  return dfs_ack_len(a->n);
}

int dfs_ack_decode_head(const uint8_t *in, size_t len, struct dfs_ack *a) {
  if (len < 12) return dfs_err_set(DFS_EPROTO, "ack truncated: %zu bytes", len);
  int64_t seqno = (int64_t)get64(in);
  uint8_t n = in[8];
  if (seqno < -1) return dfs_err_set(DFS_EPROTO, "ack seqno %lld invalid", (long long)seqno);
  if (n < 1 || n > DFS_MAX_PIPELINE)
    return dfs_err_set(DFS_EPROTO, "ack reply count %u out of range 1..%d", n,
                       DFS_MAX_PIPELINE);
  if (in[9] | in[10] | in[11]) return dfs_err_set(DFS_EPROTO, "ack reserved bytes not zero");
  a->seqno = seqno;
  a->n = n;
  return 0;
}

int dfs_ack_decode(const uint8_t *in, size_t len, struct dfs_ack *a) {
  int rc = dfs_ack_decode_head(in, len, a);
  if (rc) return rc;
  if (len < dfs_ack_len(a->n))
    return dfs_err_set(DFS_EPROTO, "ack truncated: %zu of %zu bytes", len, dfs_ack_len(a->n));
  for (unsigned i = 0; i < a->n; i++) a->status[i] = (int32_t)get32(in + 12 + 4 * i);
  return 0;
}
