/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of every block chunk,
 * edit-log record and on-disk structure. Uses the SSE4.2 crc32 instruction
 * when the CPU has it (checked once), a slice-by-8 table otherwise.
 */
#ifndef DFS_CRC32C_H
#define DFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend `crc` (0 to start) over buf[0..len). Standard CRC-32C: the
 * result of crc32c(0, "123456789", 9) is 0xE3069283. Thread-safe. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* Software implementation, exposed for tests and benchmarks. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 if the hardware path is in use. */
int crc32c_hw_available(void);

/* Checksums of consecutive `chunk`-byte chunks of buf[0..len) (the last
 * may be short) into out[0..ceil(len/chunk)), as big-endian uint32 bytes
 * ready for the wire and the .meta file. */
void crc32c_chunks(const void *buf, size_t len, size_t chunk, uint8_t *out);

/* Verify as above. Returns -1 if all match, else the index of the first
 * chunk that does not. */
long crc32c_chunks_verify(const void *buf, size_t len, size_t chunk,
                          const uint8_t *sums);

#endif
