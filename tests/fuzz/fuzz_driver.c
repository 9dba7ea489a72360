/*
 * fuzz_driver.c - a stand-in for libFuzzer's main(), so that every fuzz
 * target also runs in the ordinary (gcc) build as a ctest `fuzz/<name>`.
 *
 * It feeds the target's LLVMFuzzerTestOneInput() with a fixed-seed stream
 * of mutated inputs: mutations (bit flips, interesting bytes, inserts,
 * deletions, truncation, splices) of seed inputs. Seeds come from the
 * target's optional fuzz_seeds() (fuzz_seeds.h; a weak symbol here, so
 * targets that do not define it still link), from files or directories
 * named on the command line (a libFuzzer corpus works), and from a few
 * random buffers. This is not coverage-guided: it is a cheap smoke test
 * that each decoder survives garbage near valid inputs; the libFuzzer build
 * (-DBUILD_FUZZERS=ON with clang) is the real fuzzer. A crash, a sanitizer
 * report or a __builtin_trap() in the target fails the test.
 *
 * Usage: fuzz_<name>_driver [-n ITERATIONS] [-s SEED] [FILE|DIR]...
 * Defaults: 20000 iterations, seed 1 (or $FUZZ_ITERATIONS / $FUZZ_SEED).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
__attribute__((weak)) void fuzz_seeds(void (*add)(const uint8_t *data, size_t len));

#define FUZZ_MAX_INPUT 8192
#define MAX_SEEDS 256

struct seed {
  uint8_t *data;
  size_t len;
};

static struct seed seeds[MAX_SEEDS];
static size_t nseeds;
static uint64_t rng;

static uint64_t next_rand(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}
static size_t below(size_t n) { return n ? (size_t)(next_rand() % n) : 0; }

static void add_seed(const uint8_t *data, size_t len) {
  if (nseeds == MAX_SEEDS) return;
  if (len > FUZZ_MAX_INPUT) len = FUZZ_MAX_INPUT;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return;
  if (len) memcpy(copy, data, len);
  seeds[nseeds].data = copy;
  seeds[nseeds++].len = len;
}

static void add_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return;
  uint8_t *buf = malloc(FUZZ_MAX_INPUT);
  if (buf) {
    size_t n = fread(buf, 1, FUZZ_MAX_INPUT, f);
    add_seed(buf, n);
    free(buf);
  }
  fclose(f);
}

static void add_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz_driver: %s: not found\n", path);
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    add_file(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    add_file(p);
  }
  closedir(d);
}

static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, '/', '.', ':', '<', '>'};

/* Apply 1..4 random mutations to buf[0..*len) (capacity FUZZ_MAX_INPUT). */
static void mutate(uint8_t *buf, size_t *len) {
  int rounds = 1 + (int)below(4);
  for (int r = 0; r < rounds; r++) {
    size_t n = *len;
    switch (below(8)) {
    case 0: /* flip a bit */
      if (n) buf[below(n)] ^= (uint8_t)(1u << below(8));
      break;
    case 1: /* interesting byte */
      if (n) buf[below(n)] = interesting[below(sizeof interesting)];
      break;
    case 2: /* random byte */
      if (n) buf[below(n)] = (uint8_t)next_rand();
      break;
    case 3: { /* insert bytes */
      size_t k = 1 + below(16), at = below(n + 1);
      if (n + k > FUZZ_MAX_INPUT) break;
      memmove(buf + at + k, buf + at, n - at);
      for (size_t i = 0; i < k; i++) buf[at + i] = (uint8_t)next_rand();
      *len = n + k;
      break;
    }
    case 4: { /* delete bytes */
      if (!n) break;
      size_t at = below(n), k = 1 + below(n - at < 16 ? n - at : 16);
      memmove(buf + at, buf + at + k, n - at - k);
      *len = n - k;
      break;
    }
    case 5: /* truncate */
      *len = below(n + 1);
      break;
    case 6: { /* overwrite with a chunk of another seed */
      const struct seed *s = &seeds[below(nseeds)];
      if (!s->len || !n) break;
      size_t from = below(s->len), at = below(n);
      size_t k = 1 + below(s->len - from);
      if (k > n - at) k = n - at;
      memcpy(buf + at, s->data + from, k);
      break;
    }
    case 7: { /* big-endian integer field set to an edge value */
      if (n < 4) break;
      size_t at = below(n - 3);
      static const uint32_t edge[] = {0, 1, 0xffffffffu, 0x7fffffffu, 0x80000000u, 512, 511};
      uint32_t v = edge[below(sizeof edge / sizeof edge[0])];
      buf[at] = (uint8_t)(v >> 24);
      buf[at + 1] = (uint8_t)(v >> 16);
      buf[at + 2] = (uint8_t)(v >> 8);
      buf[at + 3] = (uint8_t)v;
      break;
    }
    }
  }
}

int main(int argc, char **argv) {
  long iterations = getenv("FUZZ_ITERATIONS") ? atol(getenv("FUZZ_ITERATIONS")) : 20000;
  uint64_t seed = getenv("FUZZ_SEED") ? strtoull(getenv("FUZZ_SEED"), NULL, 10) : 1;
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      iterations = atol(argv[++i]);
    } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
      seed = strtoull(argv[++i], NULL, 10);
    } else {
      add_path(argv[i]);
    }
  }
  rng = seed * 0x9E3779B97F4A7C15ull + 1;
  if (fuzz_seeds) fuzz_seeds(add_seed);
  add_seed((const uint8_t *)"", 0);
  for (int i = 0; i < 8; i++) {
    uint8_t r[256];
    size_t n = 1 + below(sizeof r);
    for (size_t j = 0; j < n; j++) r[j] = (uint8_t)next_rand();
    add_seed(r, n);
  }

  uint8_t *buf = malloc(FUZZ_MAX_INPUT);
  if (!buf) return 1;
  /* Every seed as is, then mutants. Each input is copied into a buffer of
   * exactly its size so that ASan sees reads past the end. */
  for (size_t i = 0; i < nseeds; i++) {
    uint8_t *in = malloc(seeds[i].len ? seeds[i].len : 1);
    if (!in) return 1;
    memcpy(in, seeds[i].data, seeds[i].len);
    LLVMFuzzerTestOneInput(in, seeds[i].len);
    free(in);
  }
  for (long it = 0; it < iterations; it++) {
    const struct seed *s = &seeds[below(nseeds)];
    size_t len = s->len;
    memcpy(buf, s->data, len);
    mutate(buf, &len);
    uint8_t *in = malloc(len ? len : 1);
    if (!in) return 1;
    memcpy(in, buf, len);
    LLVMFuzzerTestOneInput(in, len);
    free(in);
  }
  free(buf);
  for (size_t i = 0; i < nseeds; i++) free(seeds[i].data);
  printf("fuzz_driver: %ld inputs from %zu seeds (seed %llu): no crash\n", iterations, nseeds,
         (unsigned long long)seed);
  return 0;
}
