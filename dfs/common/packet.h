/*
 * packet.h - the data-transfer packet and pipeline ack, on the wire.
 *
 * After a WRITE_BLOCK or READ_BLOCK reply (rpc.h), block data flows as
 * packets: a fixed 28-byte header, then one big-endian CRC32C per 512-byte
 * chunk of the data, then the data. Writers receive acks, one per packet,
 * flowing back up the pipeline. Fixed binary (not protobuf) because one is
 * sent per 64 KiB of data and must cost nothing; both decoders check every
 * field and have fuzz targets. All integers big-endian.
 *
 * packet header (28 bytes):
 *   u32 payload_len    checksum bytes + data bytes that follow the header
 *   i64 offset         offset in the block of the first data byte; a
 *                      multiple of 512 (a packet that rewrites a partial
 *                      last chunk after hflush starts at that chunk)
 *   i64 seqno          0,1,2,... per block stream; -1: heartbeat (empty)
 *   u32 data_len       data bytes (0 for the empty last packet / heartbeat)
 *   u8  flags          DFS_PKT_LAST | DFS_PKT_SYNC | DFS_PKT_FLUSH
 *   u8  reserved[3]    zero
 * ack (12 + 4n bytes):
 *   i64 seqno          the packet acknowledged (-1: heartbeat ack)
 *   u8  n              replies that follow, one per pipeline node from this
 *                      one downstream (1..DFS_MAX_PIPELINE)
 *   u8  reserved[3]
 *   i32 status[n]      0 or an error code (errors.h)
 */
#ifndef DFS_PACKET_H
#define DFS_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define DFS_CHUNK_SIZE 512
#define DFS_PACKET_HDR_LEN 28
#define DFS_MAX_PIPELINE 16
#define DFS_ACK_MAX_LEN (12 + 4 * DFS_MAX_PIPELINE)
#define DFS_PACKET_MAX_DATA (16u << 20)

/* LAST: the empty last packet of a block. SYNC: fsync before the ack
 * (hsync). FLUSH: the writer waits for this packet's ack (hflush): the
 * DataNodes answer from the page cache rather than behind a disk write. */
enum { DFS_PKT_LAST = 1, DFS_PKT_SYNC = 2, DFS_PKT_FLUSH = 4 };

struct dfs_packet_hdr {
  int64_t offset;
  int64_t seqno;
  uint32_t data_len;
  uint8_t flags;
};

/* Checksum bytes for data_len bytes of data. */
static inline uint32_t dfs_packet_sums_len(uint32_t data_len) {
  return 4u * ((data_len + DFS_CHUNK_SIZE - 1) / DFS_CHUNK_SIZE);
}

void dfs_packet_hdr_encode(const struct dfs_packet_hdr *h,
                           uint8_t out[DFS_PACKET_HDR_LEN]);

/* Decode and validate: payload_len == sums + data_len, data_len <=
 * max_data, offset >= 0 and chunk-aligned, seqno >= -1 (-1 only
 * with data_len 0), flags known,
 * reserved zero. 0 or DFS_EPROTO / DFS_ETOOBIG with a message. */
int dfs_packet_hdr_decode(const uint8_t *in, size_t len, uint32_t max_data,
                          struct dfs_packet_hdr *h);

struct dfs_ack {
  int64_t seqno;
  uint8_t n;
  int32_t status[DFS_MAX_PIPELINE];
};

/* Encoded length of an ack with n replies. */
static inline size_t dfs_ack_len(unsigned n) { return 12 + 4 * (size_t)n; }

/* Encode into out (at least dfs_ack_len(a->n) bytes); returns bytes. */
size_t dfs_ack_encode(const struct dfs_ack *a, uint8_t *out);

/* Decode the fixed 12-byte part: seqno and n (1..DFS_MAX_PIPELINE), so the
 * caller knows how many status bytes to read next. 0 or DFS_EPROTO. */
int dfs_ack_decode_head(const uint8_t *in, size_t len, struct dfs_ack *a);

/* Decode a whole ack (head + statuses) from in[0..len). 0 or DFS_EPROTO. */
int dfs_ack_decode(const uint8_t *in, size_t len, struct dfs_ack *a);

#endif
