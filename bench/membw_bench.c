/*
 * membw_bench.c - memory and checksum bandwidth of one core: memcpy between
 * two buffers larger than the caches, a read-only pass (sum of 64-bit
 * words), and CRC32C (the hardware path if the CPU has it, and the software
 * slice-by-8) over the same buffer.
 *
 * These are the per-byte costs the DFS cannot avoid: every byte written at
 * replication 3 is copied through the kernel several times and checksummed
 * on the client and on each DataNode, so docs/benchmarks.md uses these
 * figures to say how much CPU a GiB must cost at the least. One thread: the
 * machine has 2 cores and the DFS processes share them.
 */
#include "bench_util.h"
#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CHUNK_SZ 512
/* A prototype, measured here to size a suggestion for dfs/common/crc32c.c:
 * the per-chunk checksums of a packet are independent, so three chunks can
 * be summed at once and the crc32 instruction's 3-cycle latency is hidden
 * (one stream is latency-bound at 8 bytes per 3 cycles). Same results as
 * crc32c_chunks() (checked below). */
__attribute__((target("sse4.2"))) static void chunks_x3(const uint8_t *p, size_t len,
                                                         uint32_t *out) {
  size_t n = len / CHUNK_SZ, i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint8_t *a = p + i * CHUNK_SZ, *b = a + CHUNK_SZ, *c = b + CHUNK_SZ;
    uint64_t ca = 0xFFFFFFFFu, cb = 0xFFFFFFFFu, cc = 0xFFFFFFFFu;
    for (size_t k = 0; k < CHUNK_SZ; k += 8) {
      uint64_t wa, wb, wc;
      memcpy(&wa, a + k, 8);
      memcpy(&wb, b + k, 8);
      memcpy(&wc, c + k, 8);
      ca = _mm_crc32_u64(ca, wa);
      cb = _mm_crc32_u64(cb, wb);
      cc = _mm_crc32_u64(cc, wc);
    }
    out[i] = ~(uint32_t)ca;
    out[i + 1] = ~(uint32_t)cb;
    out[i + 2] = ~(uint32_t)cc;
  }
  for (; i < n; i++) out[i] = crc32c(0, p + i * CHUNK_SZ, CHUNK_SZ);
}
#endif

static void usage(FILE *out) {
  fprintf(out,
          "Usage: membw_bench [-s BUFSIZE] [-t TOTAL]\n"
          "Single-thread memcpy, read and CRC32C bandwidth over a BUFSIZE buffer\n"
          "(whole-buffer CRC, per-512-byte-chunk CRC as the DFS does it, and a\n"
          "3-chunks-interleaved prototype)\n"
          "(default 64m), TOTAL bytes per test (default 4g). Prints\n"
          "  bench=membw memcpy_GBps=.. read_GBps=.. crc32c_GBps=.. crc32c_sw_GBps=.. crc32c_hw=0|1\n");
}

int main(int argc, char **argv) {
  uint64_t bufsz = 64ull << 20, total = 4ull << 30;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      if (bench_parse_size(argv[++i], &bufsz) || bufsz < 4096) goto bad;
    } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      if (bench_parse_size(argv[++i], &total) || total == 0) goto bad;
    } else {
      goto bad;
    }
  }
  bufsz &= ~(uint64_t)7;
  uint8_t *a = malloc(bufsz), *b = malloc(bufsz);
  if (!a || !b) {
    fprintf(stderr, "membw_bench: out of memory\n");
    return 1;
  }
  bench_fill_random(a, bufsz, 7);
  memset(b, 1, bufsz);
  uint64_t rounds = total / bufsz ? total / bufsz : 1;
  double bytes = (double)rounds * (double)bufsz;

  double t0 = bench_now();
  for (uint64_t r = 0; r < rounds; r++) {
    memcpy(b, a, bufsz);
    a[r % bufsz] ^= b[(r * 7) % bufsz]; /* keep the copies observable */
  }
  double memcpy_s = bench_now() - t0;

  t0 = bench_now();
  uint64_t sum = 0;
  for (uint64_t r = 0; r < rounds; r++) {
    const uint64_t *w = (const uint64_t *)a;
    for (size_t i = 0; i < bufsz / 8; i++) sum += w[i];
  }
  double read_s = bench_now() - t0;

  t0 = bench_now();
  uint32_t crc = 0;
  for (uint64_t r = 0; r < rounds; r++) crc = crc32c(crc, a, bufsz);
  double crc_s = bench_now() - t0;

  /* The software path is slow; a quarter of the volume is plenty. */
  uint64_t sw_rounds = rounds / 4 ? rounds / 4 : 1;
  t0 = bench_now();
  uint32_t crc_sw = 0;
  for (uint64_t r = 0; r < sw_rounds; r++) crc_sw = crc32c_sw(crc_sw, a, bufsz);
  double crc_sw_s = bench_now() - t0;

  /* Per-512-byte-chunk checksums, as the DFS computes them (client) and
   * verifies them (each DataNode, each reader): the library's function and
   * the interleaved prototype above. */
  size_t nchunks = bufsz / 512;
  uint8_t *sums = malloc(nchunks * 4);
  uint32_t *sums3 = malloc(nchunks * 4);
  if (!sums || !sums3) return 1;
  t0 = bench_now();
  for (uint64_t r = 0; r < rounds; r++) crc32c_chunks(a, nchunks * 512, 512, sums);
  double chunks_s = bench_now() - t0;
  double chunks_x3_gbps = 0;
  int x3_ok = 0;
#if defined(__x86_64__)
  if (crc32c_hw_available()) {
    t0 = bench_now();
    for (uint64_t r = 0; r < rounds; r++) chunks_x3(a, nchunks * 512, sums3);
    double x3_s = bench_now() - t0;
    chunks_x3_gbps = (double)rounds * (double)(nchunks * 512) / x3_s / 1e9;
    x3_ok = 1;
    for (size_t i = 0; i < nchunks; i++) {
      uint32_t be = (uint32_t)sums[4 * i] << 24 | (uint32_t)sums[4 * i + 1] << 16 |
                    (uint32_t)sums[4 * i + 2] << 8 | sums[4 * i + 3];
      if (be != sums3[i]) x3_ok = 0;
    }
  }
#endif
  double chunks_gbps = (double)rounds * (double)(nchunks * 512) / chunks_s / 1e9;
  free(sums);
  free(sums3);

  printf("bench=membw bufsize=%llu bytes=%.0f memcpy_GBps=%.2f read_GBps=%.2f crc32c_GBps=%.2f "
         "crc32c_sw_GBps=%.2f crc32c_hw=%d crc32c_chunks512_GBps=%.2f "
         "proto_chunks512_x3_GBps=%.2f proto_matches=%d check=%llx\n",
         (unsigned long long)bufsz, bytes, bytes / memcpy_s / 1e9, bytes / read_s / 1e9,
         bytes / crc_s / 1e9, (double)sw_rounds * (double)bufsz / crc_sw_s / 1e9,
         crc32c_hw_available(), chunks_gbps, chunks_x3_gbps, x3_ok,
         (unsigned long long)(sum ^ crc ^ crc_sw));
  printf("# one core: memcpy %.2f GB/s, read %.2f GB/s, CRC32C %.2f GB/s (%s), "
         "software CRC32C %.2f GB/s\n",
         bytes / memcpy_s / 1e9, bytes / read_s / 1e9, bytes / crc_s / 1e9,
         crc32c_hw_available() ? "SSE4.2" : "software",
         (double)sw_rounds * (double)bufsz / crc_sw_s / 1e9);
  printf("# per-512-byte-chunk CRC32C: crc32c_chunks %.2f GB/s; 3 chunks interleaved "
         "(prototype) %.2f GB/s%s\n",
         chunks_gbps, chunks_x3_gbps, x3_ok ? " (same sums)" : "");
  free(a);
  free(b);
  return 0;
bad:
  usage(stderr);
  return 2;
}
