/*
 * fuzz_packet.c - fuzz target for the data-transfer decoders of packet.h:
 * the packet header and the pipeline ack (head only and whole). Byte 0
 * picks the decoder; for headers, bytes 1..4 give the caller's max_data.
 * Beyond "no crash", it checks that whatever decodes re-encodes to the
 * same bytes: every field is validated, so no two encodings may decode
 * to the same header or ack.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_seeds.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0] % 3;
  data++;
  size--;
  if (mode == 0) {
    if (size < 4) return 0;
    uint32_t max = ((uint32_t)data[0] << 24) | ((uint32_t)data[1] << 16) |
                   ((uint32_t)data[2] << 8) | data[3];
    data += 4;
    size -= 4;
    struct dfs_packet_hdr h;
    if (dfs_packet_hdr_decode(data, size, max, &h) == 0) {
      uint8_t again[DFS_PACKET_HDR_LEN];
      if (h.data_len > max || h.data_len > DFS_PACKET_MAX_DATA) __builtin_trap();
      if (h.offset < 0 || h.offset % DFS_CHUNK_SIZE) __builtin_trap();
      dfs_packet_hdr_encode(&h, again);
      if (memcmp(again, data, DFS_PACKET_HDR_LEN) != 0) __builtin_trap();
    }
  } else if (mode == 1) {
    struct dfs_ack a;
    if (dfs_ack_decode(data, size, &a) == 0) {
      uint8_t again[DFS_ACK_MAX_LEN];
      if (a.n < 1 || a.n > DFS_MAX_PIPELINE) __builtin_trap();
      size_t n = dfs_ack_encode(&a, again);
      if (n > size || memcmp(again, data, n) != 0) __builtin_trap();
    }
  } else {
    struct dfs_ack a;
    if (dfs_ack_decode_head(data, size, &a) == 0 && (a.n < 1 || a.n > DFS_MAX_PIPELINE))
      __builtin_trap();
  }
  return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t len)) {
  uint8_t b[1 + 4 + DFS_PACKET_HDR_LEN];
  struct dfs_packet_hdr hs[] = {{0, 0, 65536, 0}, {4096, 5, 100, DFS_PKT_SYNC},
                                {0, -1, 0, 0}, {512, 9, 0, DFS_PKT_LAST}};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    b[0] = 0;
    b[1] = 0, b[2] = 1, b[3] = 0, b[4] = 0; /* max 64 KiB */
    dfs_packet_hdr_encode(&hs[i], b + 5);
    add(b, sizeof b);
  }
  uint8_t a[1 + DFS_ACK_MAX_LEN];
  struct dfs_ack acks[] = {{7, 3, {0, -1005, 0}}, {-1, 1, {0}}};
  for (size_t i = 0; i < 2; i++) {
    for (uint8_t m = 1; m <= 2; m++) {
      a[0] = m;
      size_t n = dfs_ack_encode(&acks[i], a + 1);
      add(a, n + 1);
    }
  }
}
