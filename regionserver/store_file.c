/*
 * store_file.c - a store's HFile with its metadata (store_file.h).
 *
 * Everything is read once at open from the HFile's file info, so the
 * compaction policy and the scan-time skipping (time range, bloom) cost no
 * I/O later.
 */
#include "bytes.h"
#include "store_file.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct store_file {
  atomic_uint refs;
  struct hfile_reader *r;
  char *path;
  const char *name;        /* in path */
  uint64_t max_seq_id;
  int64_t created_ms;
  bool major;
  char *from_buf;          /* COMPACTED_FROM, split in place */
  const char **from;
  size_t n_from;
};

static void sf_free(struct store_file *sf) {
  if (sf->r) hfile_reader_unref(sf->r);
  free(sf->path);
  free(sf->from_buf);
  free(sf->from);
  free(sf);
}

/* Splits the COMPACTED_FROM value into names (plain names, no paths). */
static int parse_from(struct store_file *sf, const uint8_t *v, size_t len) {
  sf->from_buf = malloc(len + 1);
  if (!sf->from_buf) return dfs_err_set(DFS_ENOMEM, "store file %s: out of memory", sf->path);
  memcpy(sf->from_buf, v, len);
  sf->from_buf[len] = 0;
  size_t n = 1;
  for (size_t i = 0; i < len; i++) n += v[i] == '\n';
  sf->from = calloc(n, sizeof *sf->from);
  if (!sf->from) return dfs_err_set(DFS_ENOMEM, "store file %s: out of memory", sf->path);
  char *save = NULL;
  for (char *t = strtok_r(sf->from_buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
    if (strchr(t, '/') || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
      return dfs_err_set(DFS_ECORRUPT, "store file %s: file info %s: '/' in a file name",
                         sf->path, STORE_FILE_INFO_COMPACTED_FROM);
    sf->from[sf->n_from++] = t;
  }
  return 0;
}

static int read_meta(struct store_file *sf) {
  const struct hfile_info *hi = hfile_reader_info(sf->r);
  sf->max_seq_id = hi->max_seq_id;
  const uint8_t *v;
  size_t len;
  if (hfile_reader_get_info(sf->r, STORE_FILE_INFO_MAX_SEQ_ID, &v, &len) == 0) {
    if (len != 8)
      return dfs_err_set(DFS_ECORRUPT, "store file %s: file info %s: %zu bytes, expected 8",
                         sf->path, STORE_FILE_INFO_MAX_SEQ_ID, len);
    uint64_t m = dfs_get_be64(v);
    if (m > sf->max_seq_id) sf->max_seq_id = m;
  }
  if (hfile_reader_get_info(sf->r, STORE_FILE_INFO_MAJOR, &v, &len) == 0) {
    if (len != 1)
      return dfs_err_set(DFS_ECORRUPT, "store file %s: file info %s: %zu bytes, expected 1",
                         sf->path, STORE_FILE_INFO_MAJOR, len);
    sf->major = v[0] != 0;
  }
  if (hfile_reader_get_info(sf->r, STORE_FILE_INFO_CREATE_TIME, &v, &len) == 0) {
    if (len != 8)
      return dfs_err_set(DFS_ECORRUPT, "store file %s: file info %s: %zu bytes, expected 8",
                         sf->path, STORE_FILE_INFO_CREATE_TIME, len);
    sf->created_ms = (int64_t)dfs_get_be64(v);
  }
  if (hfile_reader_get_info(sf->r, STORE_FILE_INFO_COMPACTED_FROM, &v, &len) == 0)
    return parse_from(sf, v, len);
  return 0;
}

int store_file_open(dfs_fs *fs, const char *path, struct block_cache *cache,
                    struct store_file **out) {
  return store_file_open_as(fs, path, cache, 0, out);
}

int store_file_open_as(dfs_fs *fs, const char *path, struct block_cache *cache,
                       uint64_t cache_file_id, struct store_file **out) {
  struct store_file *sf = calloc(1, sizeof *sf);
  if (!sf || !(sf->path = strdup(path))) {
    free(sf);
    return dfs_err_set(DFS_ENOMEM, "store file %s: out of memory", path);
  }
  atomic_init(&sf->refs, 1);
  const char *slash = strrchr(sf->path, '/');
  sf->name = slash ? slash + 1 : sf->path;
  dfs_file *f;
  int rc = dfs_open(fs, path, &f);
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", dfs_err_msg()); /* the message buffer is reused */
    dfs_err_set(rc, "store file %s: open: %s", path, why);
    goto fail;
  }
  struct hb_in *in;
  rc = hb_in_dfs(f, true, &in);
  if (rc) {
    dfs_close(f);
    goto fail;
  }
  rc = hfile_reader_open_as(in, path, cache, cache_file_id, &sf->r); /* errors name path */
  if (rc) goto fail;
  rc = read_meta(sf);
  if (rc) goto fail;
  *out = sf;
  return 0;
fail:
  sf_free(sf);
  return rc;
}

void store_file_ref(struct store_file *sf) {
  atomic_fetch_add_explicit(&sf->refs, 1, memory_order_relaxed);
}

void store_file_unref(struct store_file *sf) {
  if (sf && atomic_fetch_sub_explicit(&sf->refs, 1, memory_order_acq_rel) == 1) sf_free(sf);
}

uint32_t store_file_refs(const struct store_file *sf) {
  return atomic_load_explicit(&((struct store_file *)sf)->refs, memory_order_acquire);
}

const char *store_file_path(const struct store_file *sf) { return sf->path; }
const char *store_file_name(const struct store_file *sf) { return sf->name; }
struct hfile_reader *store_file_reader(const struct store_file *sf) { return sf->r; }
uint64_t store_file_max_seq_id(const struct store_file *sf) { return sf->max_seq_id; }
uint64_t store_file_size(const struct store_file *sf) {
  return hfile_reader_info(sf->r)->file_size;
}
uint64_t store_file_entries(const struct store_file *sf) {
  return hfile_reader_info(sf->r)->entry_count;
}
int64_t store_file_min_timestamp(const struct store_file *sf) {
  return hfile_reader_info(sf->r)->min_timestamp;
}
int64_t store_file_max_timestamp(const struct store_file *sf) {
  return hfile_reader_info(sf->r)->max_timestamp;
}
int64_t store_file_created_ms(const struct store_file *sf) { return sf->created_ms; }
bool store_file_major_compacted(const struct store_file *sf) { return sf->major; }

void store_file_compacted_from(const struct store_file *sf, const char *const **names, size_t *n) {
  *names = sf->from;
  *n = sf->n_from;
}

static void release_file(void *arg) { store_file_unref(arg); }

struct kv_scanner *store_file_scanner(struct store_file *sf, uint64_t order) {
  store_file_ref(sf);
  return kv_scanner_hfile_open(sf->r, order, release_file, sf);
}
