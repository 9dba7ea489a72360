/*
 * fuzz_seeds.h - optional seed inputs of a fuzz target for fuzz_driver.c.
 *
 * A fuzz target may define fuzz_seeds() to hand the driver a few valid
 * encodings (a packet header, an XML file...) so that its mutations land
 * near the interesting code paths. libFuzzer builds ignore it.
 */
#ifndef DFS_FUZZ_SEEDS_H
#define DFS_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* Call add(data, len) once per seed; the driver copies the bytes. */
void fuzz_seeds(void (*add)(const uint8_t *data, size_t len));

#endif
