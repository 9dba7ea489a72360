/*
 * test_data.c - see test_data.h.
 */
#include "test_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void td_fill(uint8_t *buf, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (uint8_t)x;
  }
}

int td_write_file(dfs_fs *fs, const char *path, const uint8_t *buf, size_t n, int repl) {
  struct dfs_create_opts co = {.replication = repl, .overwrite = true};
  dfs_file *f;
  int rc = dfs_create(fs, path, &co, &f);
  if (rc) {
    fprintf(stderr, "create %s: %s\n", path, dfs_error_message());
    return rc;
  }
  if (dfs_write(f, buf, n) != (ssize_t)n) {
    fprintf(stderr, "write %s: %s\n", path, dfs_error_message());
    rc = -1;
  }
  if (dfs_close(f) != 0) {
    fprintf(stderr, "close %s: %s\n", path, dfs_error_message());
    rc = -1;
  }
  return rc;
}

int td_read_check(dfs_fs *fs, const char *path, const uint8_t *want, size_t n) {
  dfs_file *f;
  int rc = dfs_open(fs, path, &f);
  if (rc) {
    fprintf(stderr, "open %s: %s\n", path, dfs_error_message());
    return rc;
  }
  uint8_t *got = malloc(n + 1);
  if (!got) {
    dfs_close(f);
    return -1;
  }
  size_t have = 0;
  for (;;) { /* one byte more than expected: a longer file shows */
    ssize_t r = dfs_read(f, got + have, n + 1 - have);
    if (r < 0) {
      fprintf(stderr, "read %s at %zu: %s\n", path, have, dfs_error_message());
      rc = (int)r;
      break;
    }
    have += (size_t)r;
    if (r == 0 || have > n) break;
  }
  dfs_close(f);
  if (rc == 0 && (have != n || memcmp(got, want, n) != 0)) {
    fprintf(stderr, "read %s: %zu bytes (expected %zu), %s\n", path, have, n,
            have == n ? "content differs" : "length differs");
    rc = -1;
  }
  free(got);
  return rc;
}
