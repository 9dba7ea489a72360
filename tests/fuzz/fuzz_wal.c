/*
 * fuzz_wal.c - libFuzzer target for the WAL's decoders: one record
 * (wal_record_decode) and the reader over a whole file image in memory
 * (file header, records, torn tail, corruption, skipping damaged records).
 * The first input byte picks the decoder; the rest is the bytes. Any input
 * must give an entry, an end or an error - never a crash, an overread or a
 * leak - and what is returned must lie inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "fuzz_seeds.h"
#include "wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *lo, *hi;

static void inside(const uint8_t *p, size_t n) {
  if (n && (p < lo || p + n > hi)) __builtin_trap();
}

/* Reads every byte the decoder handed back, so ASan sees overreads. */
static uint64_t touch(const struct wal_entry *e) {
  uint64_t sum = e->seq_id + (uint64_t)e->write_time_ms + e->durability;
  inside(e->region, e->region_len);
  inside(e->table, e->table_len);
  for (uint32_t i = 0; i < e->region_len; i++) sum += e->region[i];
  for (uint32_t i = 0; i < e->table_len; i++) sum += e->table[i];
  for (size_t i = 0; i < e->n_cells; i++) {
    const struct cell *c = &e->cells[i];
    inside(c->row, c->row_len);
    inside(c->family, c->family_len);
    inside(c->qualifier, c->qualifier_len);
    inside(c->value, c->value_len);
    if (c->row_len) sum += c->row[c->row_len - 1];
    if (c->value_len) sum += c->value[c->value_len - 1];
    sum += c->seq_id + c->type;
  }
  return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  lo = data;
  hi = data + size;
  volatile uint64_t sink = 0;
  if ((mode & 1) == 0) {
    struct wal_entry e;
    struct cell *cells = NULL;
    size_t cap = 0, used = 0;
    int rc = wal_record_decode(data, size, "fuzz", 0, &e, &cells, &cap, &used);
    if (rc == 1) {
      if (used > size) __builtin_trap();
      sink += touch(&e);
    } else if (rc != 0 && rc != DFS_ECORRUPT && rc != DFS_ENOMEM) {
      __builtin_trap();
    }
    free(cells);
  } else {
    wal_reader *r;
    if (wal_reader_open_buf(data, size, "fuzz", &r) != 0) return 0;
    for (int steps = 0; steps < 10000; steps++) {
      struct wal_entry e;
      int rc = wal_reader_next(r, &e);
      if (rc == 1) {
        sink += touch(&e);
        continue;
      }
      if (rc == 0) {
        if (wal_reader_offset(r) + wal_reader_torn_bytes(r) > size) __builtin_trap();
        break;
      }
      if (rc != DFS_ECORRUPT) __builtin_trap();
      if (wal_reader_skip(r) != 0) break;
    }
    wal_reader_close(r);
  }
  (void)sink;
  return 0;
}

/* Seeds: one record, and a small file of a few records. */
void fuzz_seeds(void (*add)(const uint8_t *data, size_t len)) {
  static uint8_t buf[4096];
  struct cell c[2] = {
      {.row = (const uint8_t *)"row1", .row_len = 4, .family = (const uint8_t *)"f",
       .family_len = 1, .qualifier = (const uint8_t *)"q", .qualifier_len = 1,
       .value = (const uint8_t *)"value", .value_len = 5, .timestamp = 1, .type = CELL_PUT},
      {.row = (const uint8_t *)"row1", .row_len = 4, .family = (const uint8_t *)"f",
       .family_len = 1, .qualifier = (const uint8_t *)"", .qualifier_len = 0,
       .value = (const uint8_t *)"", .value_len = 0, .timestamp = 2, .type = CELL_DELETE_FAMILY},
  };
  struct wal_entry e = {.region = (const uint8_t *)"t,,1.abc.", .region_len = 9,
                        .table = (const uint8_t *)"t", .table_len = 1, .seq_id = 5,
                        .write_time_ms = 1700000000000, .durability = WAL_SYNC, .cells = c,
                        .n_cells = 2};
  buf[0] = 0;
  size_t n = wal_record_encode(&e, buf + 1);
  add(buf, 1 + n);

  buf[0] = 1;
  wal_header_encode(buf + 1);
  size_t pos = 1 + WAL_HEADER_LEN;
  for (int i = 0; i < 4; i++) {
    e.seq_id = 10 + (uint64_t)i;
    e.n_cells = (size_t)(i % 2 + 1);
    pos += wal_record_encode(&e, buf + pos);
  }
  add(buf, pos);
  add(buf, pos - 7); /* with a torn tail */
}
