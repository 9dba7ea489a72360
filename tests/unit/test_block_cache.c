/*
 * test_block_cache.c - the block cache: hits and misses, LRU eviction under
 * the byte bound, a referenced block outliving its eviction, duplicate
 * inserts, oversized blocks, per-file eviction, fresh file ids, and many
 * threads getting, inserting and releasing blocks whose contents they
 * verify (run it under ASan/TSan to see the reference counting hold).
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "block_cache.h"

/* A block whose bytes say which (file, offset) it is. */
static uint8_t *make_block(uint64_t file, uint64_t off, size_t len) {
  uint8_t *b = malloc(len);
  for (size_t i = 0; i < len; i++) b[i] = (uint8_t)(file * 31 + off * 7 + i);
  return b;
}
static bool block_ok(const struct cache_block *b, uint64_t file, uint64_t off, size_t len) {
  if (b->len != len) return false;
  for (size_t i = 0; i < len; i++)
    if (b->data[i] != (uint8_t)(file * 31 + off * 7 + i)) return false;
  return true;
}

static void test_basic(void) {
  struct block_cache *c;
  CU_ASSERT_FATAL(block_cache_new(1u << 20, 1, &c) == 0);
  uint64_t f = block_cache_new_file_id(c);
  CU_ASSERT(f != 0);
  CU_ASSERT(block_cache_new_file_id(c) != f);
  CU_ASSERT_PTR_NULL(block_cache_get(c, f, 0));
  struct cache_block *b = block_cache_put(c, f, 0, make_block(f, 0, 1000), 1000);
  CU_ASSERT_FATAL(b != NULL);
  CU_ASSERT(block_ok(b, f, 0, 1000));
  cache_block_unref(b);
  b = block_cache_get(c, f, 0);
  CU_ASSERT_FATAL(b != NULL);
  CU_ASSERT(block_ok(b, f, 0, 1000));
  /* a second insert of the same key returns the resident block */
  struct cache_block *b2 = block_cache_put(c, f, 0, make_block(f, 1, 1000), 1000);
  CU_ASSERT_PTR_EQUAL(b2, b);
  CU_ASSERT(block_ok(b2, f, 0, 1000));
  cache_block_unref(b2);
  cache_block_unref(b);
  CU_ASSERT_PTR_NULL(block_cache_get(c, f + 1, 0)); /* another file */
  struct block_cache_stats st;
  block_cache_stats(c, &st);
  CU_ASSERT_EQUAL(st.hits, 1);
  CU_ASSERT_EQUAL(st.misses, 2);
  CU_ASSERT_EQUAL(st.inserts, 1);
  CU_ASSERT_EQUAL(st.blocks, 1);
  CU_ASSERT(st.bytes >= 1000);
  CU_ASSERT_EQUAL(st.capacity, 1u << 20);
  block_cache_free(c);
}

static void test_lru_eviction(void) {
  struct block_cache *c;
  CU_ASSERT_FATAL(block_cache_new(100u << 10, 1, &c) == 0); /* room for ~20 5 KiB blocks */
  for (uint64_t off = 0; off < 100; off++) {
    cache_block_unref(block_cache_put(c, 1, off, make_block(1, off, 5000), 5000));
    /* keep block 0 hot */
    struct cache_block *h = block_cache_get(c, 1, 0);
    CU_ASSERT_PTR_NOT_NULL(h);
    cache_block_unref(h);
  }
  struct block_cache_stats st;
  block_cache_stats(c, &st);
  CU_ASSERT(st.bytes <= st.capacity);
  CU_ASSERT(st.evictions >= 70);
  CU_ASSERT_EQUAL(st.inserts, st.blocks + st.evictions);
  struct cache_block *b = block_cache_get(c, 1, 0); /* the hot one survived */
  CU_ASSERT(b && block_ok(b, 1, 0, 5000));
  cache_block_unref(b);
  CU_ASSERT_PTR_NULL(block_cache_get(c, 1, 1)); /* an old cold one is gone */
  b = block_cache_get(c, 1, 99);                 /* the newest is there */
  CU_ASSERT(b && block_ok(b, 1, 99, 5000));
  cache_block_unref(b);
  block_cache_free(c);
}

static void test_in_use_survives_eviction(void) {
  struct block_cache *c;
  CU_ASSERT_FATAL(block_cache_new(20000, 1, &c) == 0);
  struct cache_block *held = block_cache_put(c, 7, 0, make_block(7, 0, 8000), 8000);
  CU_ASSERT_FATAL(held != NULL);
  for (uint64_t off = 1; off < 10; off++)
    cache_block_unref(block_cache_put(c, 7, off, make_block(7, off, 8000), 8000));
  CU_ASSERT_PTR_NULL(block_cache_get(c, 7, 0)); /* evicted from the cache... */
  CU_ASSERT(block_ok(held, 7, 0, 8000));        /* ...but intact for its user */
  cache_block_unref(held);                      /* freed now (ASan would see a leak otherwise) */
  /* evict_file and free with a block still held */
  held = block_cache_get(c, 7, 9);
  CU_ASSERT_FATAL(held != NULL);
  CU_ASSERT(block_cache_evict_file(c, 7) >= 1);
  CU_ASSERT_PTR_NULL(block_cache_get(c, 7, 8));
  struct block_cache_stats st;
  block_cache_stats(c, &st);
  CU_ASSERT_EQUAL(st.blocks, 0);
  CU_ASSERT_EQUAL(st.bytes, 0);
  block_cache_free(c);
  CU_ASSERT(block_ok(held, 7, 9, 8000));
  cache_block_unref(held);
}

static void test_oversized_and_null(void) {
  struct block_cache *c;
  CU_ASSERT_FATAL(block_cache_new(4096, 1, &c) == 0);
  struct cache_block *b = block_cache_put(c, 1, 0, make_block(1, 0, 10000), 10000);
  CU_ASSERT(b && block_ok(b, 1, 0, 10000));
  CU_ASSERT_PTR_NULL(block_cache_get(c, 1, 0)); /* not cached */
  cache_block_unref(b);
  block_cache_free(c);
  b = block_cache_put(NULL, 1, 0, make_block(1, 0, 100), 100); /* no cache: private */
  CU_ASSERT(b && block_ok(b, 1, 0, 100));
  cache_block_unref(b);
  CU_ASSERT_PTR_NULL(block_cache_get(NULL, 1, 0));
  block_cache_free(NULL);
  cache_block_unref(NULL);
}

struct th_arg {
  struct block_cache *c;
  unsigned seed;
  unsigned bad;
};

static void *worker(void *p) {
  struct th_arg *a = p;
  uint64_t x = a->seed * 0x9E3779B97F4A7C15ull + 7;
  struct cache_block *held[8] = {0};
  uint64_t held_key[8][2];
  for (int it = 0; it < 60000; it++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t file = 1 + x % 3, off = (x >> 8) % 400;
    size_t len = 256 + (size_t)(off % 7) * 300;
    struct cache_block *b = block_cache_get(a->c, file, off);
    if (!b) b = block_cache_put(a->c, file, off, make_block(file, off, len), len);
    if (!b || !block_ok(b, file, off, len)) a->bad++;
    /* keep some blocks for a while, so evictions hit blocks in use */
    int slot = (int)((x >> 20) % 8);
    if (held[slot]) {
      if (!block_ok(held[slot], held_key[slot][0], held_key[slot][1],
                    256 + (size_t)(held_key[slot][1] % 7) * 300))
        a->bad++;
      cache_block_unref(held[slot]);
    }
    held[slot] = b;
    held_key[slot][0] = file;
    held_key[slot][1] = off;
    if (it % 5000 == 0) block_cache_evict_file(a->c, 1 + (x >> 30) % 3);
  }
  for (int i = 0; i < 8; i++) cache_block_unref(held[i]);
  return NULL;
}

static void test_concurrent(void) {
  enum { T = 4 };
  struct block_cache *c;
  CU_ASSERT_FATAL(block_cache_new(200u << 10, 4, &c) == 0); /* much less than the key space */
  pthread_t th[T];
  struct th_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (struct th_arg){.c = c, .seed = (unsigned)i + 1};
    pthread_create(&th[i], NULL, worker, &args[i]);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(args[i].bad, 0);
  }
  struct block_cache_stats st;
  block_cache_stats(c, &st);
  CU_ASSERT(st.bytes <= st.capacity);
  CU_ASSERT(st.evictions > 1000);
  CU_ASSERT(st.hits > 1000);
  CU_ASSERT_EQUAL(st.hits + st.misses, (uint64_t)T * 60000);
  block_cache_free(c);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("block_cache", NULL, NULL);
  CU_add_test(s, "basic", test_basic);
  CU_add_test(s, "lru_eviction", test_lru_eviction);
  CU_add_test(s, "in_use_survives_eviction", test_in_use_survives_eviction);
  CU_add_test(s, "oversized_and_null", test_oversized_and_null);
  CU_add_test(s, "concurrent", test_concurrent);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
