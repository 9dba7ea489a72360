/*
 * meta.h - the checksum (.meta) file of a replica: format and parsing.
 *
 * A replica blk_<id> has a checksum file blk_<id>_<gs>.meta: a 7-byte
 * header (as HDFS: u16 version = 1, u8 checksum type = 2 for CRC32C, u32
 * bytes per checksum = 512, big-endian) followed by one big-endian CRC32C
 * per 512-byte chunk of the data file (the last chunk may be short and its
 * CRC covers only its bytes). The parsers here take untrusted bytes from
 * disk; they are bounds-checked and have a fuzz target
 * (tests/fuzz/fuzz_dn_meta.c). Format: docs/datanode.md.
 */
#ifndef DN_META_H
#define DN_META_H

#include <stddef.h>
#include <stdint.h>

#define DN_META_HDR_LEN 7
#define DN_META_VERSION 1
#define DN_META_TYPE_CRC32C 2
#define DN_META_BPC 512

/* Bytes of a .meta file for a data file of data_len bytes. */
static inline uint64_t dn_meta_len(uint64_t data_len) {
  return DN_META_HDR_LEN + 4 * ((data_len + DN_META_BPC - 1) / DN_META_BPC);
}

/* Offset in the .meta file of the checksum of the chunk at data offset
 * `off` (a multiple of 512). */
static inline uint64_t dn_meta_sum_off(uint64_t off) {
  return DN_META_HDR_LEN + 4 * (off / DN_META_BPC);
}

/* Write the header into out. */
void dn_meta_hdr_encode(uint8_t out[DN_META_HDR_LEN]);

/* Validate a header in in[0..len). 0, or DFS_ECORRUPT with a message
 * naming `what` (a file name, for messages) and the bad field. */
int dn_meta_hdr_decode(const uint8_t *in, size_t len, const char *what);

/*
 * Length of the longest prefix of data[0..data_len) whose chunks match the
 * checksums sums[0..sums_len) (4 bytes each, big-endian). A chunk without a
 * complete checksum, or whose checksum does not match, ends the prefix. A
 * short last chunk counts if its checksum (over its bytes) matches. Pure
 * function; any input is safe.
 */
uint64_t dn_meta_verified_prefix(const uint8_t *data, size_t data_len,
                                 const uint8_t *sums, size_t sums_len);

/*
 * Stream-verify a replica: data file fd (data_len bytes) against its .meta
 * file fd (header included). *good gets the verified prefix length (as
 * dn_meta_verified_prefix over the whole file). Returns 0 (whether or not
 * everything verified), DFS_ECORRUPT if the header is bad (*good = 0), or
 * an I/O error code. `what` names the replica in messages.
 */
int dn_meta_verify_fds(int data_fd, int meta_fd, uint64_t data_len,
                       uint64_t *good, const char *what);

#endif
