/*
 * test_nn_util.h - helpers shared by the NameNode unit tests (header-only:
 * the unit test CMake builds every test_*.c as its own executable).
 */
#ifndef TEST_NN_UTIL_H
#define TEST_NN_UTIL_H


#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tnn_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

/* Remove a directory tree. */
static inline void tnn_rmrf(const char *dir) {
  nftw(dir, tnn_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory (static buffer per call site). */
static inline char *tnn_tmpdir(char *buf, size_t cap, const char *tag) {
  snprintf(buf, cap, "/tmp/nn_test_%s_XXXXXX", tag);
  if (!mkdtemp(buf)) {
    perror("mkdtemp");
    exit(2);
  }
  return buf;
}

/* Run the registered suites; exit status non-zero on any failure. */
static inline int tnn_run(void) {
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return fails ? 1 : 0;
}

#define P(s) (const uint8_t *)(s), strlen(s)

#ifdef NN_NAMESYSTEM_H
/* A text dump of the whole namespace through the public API (every inode
 * with its attributes and blocks), to compare namespaces before and after
 * a restart. Caller frees. */
struct dump {
  char *buf;
  size_t len, cap;
};

static inline void dputs(struct dump *d, const char *s) {
  size_t n = strlen(s);
  if (d->len + n + 1 > d->cap) {
    d->cap = (d->len + n + 1) * 2;
    d->buf = realloc(d->buf, d->cap);
  }
  memcpy(d->buf + d->len, s, n + 1);
  d->len += n;
}

static inline void dump_path(nn_ns *ns, const struct nn_caller *c, const char *path, struct dump *d) {
  struct nn_status st;
  char line[1024];
  if (nn_ns_get_file_info(ns, c, P(path), &st) != 0) return;
  snprintf(line, sizeof line, "%s %d %o %s %s %lld %lld %u %llu %llu %d %llu\n", path, st.is_dir,
           st.perm, st.owner, st.group, (long long)st.mtime, (long long)st.atime, st.replication,
           (unsigned long long)st.blocksize, (unsigned long long)st.length,
           st.under_construction, (unsigned long long)st.file_id);
  dputs(d, line);
  if (!st.is_dir) {
    struct nn_located_blocks lb;
    if (nn_ns_get_block_locations(ns, c, P(path), 0, UINT64_MAX, &lb) == 0) {
      for (size_t i = 0; i < lb.n; i++) {
        snprintf(line, sizeof line, "  blk %llu gs %llu len %llu off %llu\n",
                 (unsigned long long)lb.blocks[i].b.id, (unsigned long long)lb.blocks[i].b.genstamp,
                 (unsigned long long)lb.blocks[i].b.num_bytes,
                 (unsigned long long)lb.blocks[i].offset);
        dputs(d, line);
      }
      nn_located_blocks_free(&lb);
    }
    return;
  }
  char after[300] = "";
  for (;;) {
    struct nn_listing l;
    if (nn_ns_get_listing(ns, c, P(path), (const uint8_t *)after, strlen(after), &l) != 0) return;
    for (size_t i = 0; i < l.n; i++) {
      char child[2048];
      snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", l.entries[i].name);
      dump_path(ns, c, child, d);
      snprintf(after, sizeof after, "%s", l.entries[i].name);
    }
    bool more = l.remaining > 0;
    nn_listing_free(&l);
    if (!more) break;
  }
}

static inline char *dump_all(nn_ns *ns, const struct nn_caller *c) {
  struct dump d = {0};
  dputs(&d, "");
  dump_path(ns, c, "/", &d);
  return d.buf;
}

#endif

#endif
