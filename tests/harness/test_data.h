/*
 * test_data.h - deterministic test data and whole-file write/verify
 * helpers shared by the integration tests (one copy instead of one per
 * test). Messages go to stderr with the path and what differed.
 */
#ifndef TEST_DATA_H
#define TEST_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dfs.h"

/* n pseudo-random bytes from seed (xorshift32): the same seed, the same bytes. */
void td_fill(uint8_t *buf, size_t n, uint32_t seed);

/* Create path (overwriting; replication repl, 0: the default), write buf,
 * close. 0 or a negative code. */
int td_write_file(dfs_fs *fs, const char *path, const uint8_t *buf, size_t n, int repl);

/* Read path to its end: 0 when it holds exactly want[0..n), else -1 or a
 * negative code. */
int td_read_check(dfs_fs *fs, const char *path, const uint8_t *want, size_t n);

#endif
