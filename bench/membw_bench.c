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

static void usage(FILE *out) {
  fprintf(out,
          "Usage: membw_bench [-s BUFSIZE] [-t TOTAL]\n"
          "Single-thread memcpy, read and CRC32C bandwidth over a BUFSIZE buffer\n"
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

  printf("bench=membw bufsize=%llu bytes=%.0f memcpy_GBps=%.2f read_GBps=%.2f crc32c_GBps=%.2f "
         "crc32c_sw_GBps=%.2f crc32c_hw=%d check=%llx\n",
         (unsigned long long)bufsz, bytes, bytes / memcpy_s / 1e9, bytes / read_s / 1e9,
         bytes / crc_s / 1e9, (double)sw_rounds * (double)bufsz / crc_sw_s / 1e9,
         crc32c_hw_available(), (unsigned long long)(sum ^ crc ^ crc_sw));
  printf("# one core: memcpy %.2f GB/s, read %.2f GB/s, CRC32C %.2f GB/s (%s), "
         "software CRC32C %.2f GB/s\n",
         bytes / memcpy_s / 1e9, bytes / read_s / 1e9, bytes / crc_s / 1e9,
         crc32c_hw_available() ? "SSE4.2" : "software",
         (double)sw_rounds * (double)bufsz / crc_sw_s / 1e9);
  free(a);
  free(b);
  return 0;
bad:
  usage(stderr);
  return 2;
}
