/*
 * fuzz_cell.c - fuzz target for cell_decode() (client/cell.h), the decoder
 * HFile and WAL readers run on bytes from the disk. Decodes cells back to
 * back like a block reader. Beyond "no crash": a decoded cell passes
 * cell_validate(), its pointers stay inside the input, it re-encodes to
 * exactly the bytes it came from (no two encodings decode alike), and
 * cell_compare() is reflexive and antisymmetric on neighbouring cells.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"
#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *p, size_t n, const uint8_t *lo, const uint8_t *hi) {
  return p >= lo && p + n <= hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0;
  struct cell prev;
  int have_prev = 0;
  while (pos < size) {
    struct cell c;
    size_t used = 0;
    if (cell_decode(data + pos, size - pos, &c, &used) != 0) break;
    const uint8_t *lo = data + pos, *hi = data + pos + used;
    if (used < 8 || used > size - pos) __builtin_trap();
    if (cell_validate(&c) != 0) __builtin_trap();
    if (!inside(c.row, c.row_len, lo, hi) || !inside(c.family, c.family_len, lo, hi) ||
        !inside(c.qualifier, c.qualifier_len, lo, hi) || !inside(c.value, c.value_len, lo, hi))
      __builtin_trap();
    if (cell_encoded_size(&c) != used) __builtin_trap();
    uint8_t *again = malloc(used);
    if (!again) return 0;
    if (cell_encode(&c, again) != used || memcmp(again, lo, used) != 0) __builtin_trap();
    free(again);
    if (cell_compare(&c, &c) != 0) __builtin_trap();
    if (have_prev) {
      int ab = cell_compare(&prev, &c), ba = cell_compare(&c, &prev);
      if ((ab < 0) != (ba > 0) || (ab == 0) != (ba == 0)) __builtin_trap();
    }
    prev = c;
    have_prev = 1;
    pos += used;
  }
  return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t len)) {
  uint8_t buf[512];
  struct cell c = {0};
  c.row = (const uint8_t *)"row-0001";
  c.row_len = 8;
  c.family = (const uint8_t *)"cf";
  c.family_len = 2;
  c.qualifier = (const uint8_t *)"qual";
  c.qualifier_len = 4;
  c.value = (const uint8_t *)"some value";
  c.value_len = 10;
  c.timestamp = 1700000000000LL;
  c.type = CELL_PUT;
  c.seq_id = 42;
  size_t n = cell_encode(&c, buf);
  add(buf, n);
  /* Two cells back to back: a delete marker with empty qualifier and value. */
  struct cell d = c;
  d.qualifier_len = 0;
  d.value_len = 0;
  d.type = CELL_DELETE_FAMILY;
  size_t m = cell_encode(&d, buf + n);
  add(buf, n + m);
}
