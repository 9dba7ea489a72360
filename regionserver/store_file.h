/*
 * store_file.h - one HFile of a store, as the store sees it: its path on
 * the DFS, an open reader, and the metadata the store and the compaction
 * policy need (HBase's HStoreFile).
 *
 * A store file is immutable and reference-counted: the store's file lists
 * hold references, and so does every scanner opened on it, so a file that
 * a compaction replaced stays readable until the last reader lets go. The
 * store deletes a replaced file from the DFS only once its own reference
 * is the last one (an open DFS reader cannot read a deleted file: the
 * NameNode invalidates its blocks at once).
 *
 * File info keys the store writes (besides the HFile's own "hfile.*"):
 *   MAX_SEQ_ID        u64 BE: the highest sequence id the file covers; a
 *                     flush may record a flush sequence id above its cells'
 *   MAJOR_COMPACTION  u8: 1 when written by a compaction of every file
 *   CREATE_TIME_MS    i64 BE: when it was written (the major period)
 *   COMPACTED_FROM    names of the input files, '\n'-separated: after a
 *                     crash between the rename of a compaction's output and
 *                     the deletion of its inputs, store_open drops them
 */
#ifndef HB_STORE_FILE_H
#define HB_STORE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_cache.h"
#include "dfs.h"
#include "hfile.h"
#include "kv_scanner.h"

#define STORE_FILE_INFO_MAX_SEQ_ID "MAX_SEQ_ID"
#define STORE_FILE_INFO_MAJOR "MAJOR_COMPACTION"
#define STORE_FILE_INFO_CREATE_TIME "CREATE_TIME_MS"
#define STORE_FILE_INFO_COMPACTED_FROM "COMPACTED_FROM"

struct store_file;

/* Opens the HFile at path (dfs_open + hfile_reader_open, blocks through
 * cache, which may be NULL and must outlive the file) and reads its
 * metadata. 0 and *out with one reference, or a negative code whose
 * explanation names path (DFS_ECORRUPT: not an HFile, bad checksum,
 * malformed store metadata). fs must outlive the file. */
int store_file_open(dfs_fs *fs, const char *path, struct block_cache *cache,
                    struct store_file **out);
/* The same with the cache file id its writer cached blocks under
 * (hfile_reader_open_as; 0: a new one). */
int store_file_open_as(dfs_fs *fs, const char *path, struct block_cache *cache,
                       uint64_t cache_file_id, struct store_file **out);

/* Reference counting (atomic; any thread). The last unref closes the
 * reader (scanners hold their own reference on it). */
void store_file_ref(struct store_file *sf);
void store_file_unref(struct store_file *sf);
/* The current count: the store's "am I the last holder" test. */
uint32_t store_file_refs(const struct store_file *sf);

/* Accessors; strings and the reader live as long as the file. */
const char *store_file_path(const struct store_file *sf);
const char *store_file_name(const struct store_file *sf);   /* last path component */
struct hfile_reader *store_file_reader(const struct store_file *sf);
uint64_t store_file_max_seq_id(const struct store_file *sf);
uint64_t store_file_size(const struct store_file *sf);
uint64_t store_file_entries(const struct store_file *sf);
int64_t store_file_min_timestamp(const struct store_file *sf); /* INT64_MAX when empty */
int64_t store_file_max_timestamp(const struct store_file *sf); /* INT64_MIN when empty */
int64_t store_file_created_ms(const struct store_file *sf);    /* 0: unknown */
bool store_file_major_compacted(const struct store_file *sf);
/* The COMPACTED_FROM names: *n entries of *names (pointing into a buffer
 * the file owns). *n 0 when absent. */
void store_file_compacted_from(const struct store_file *sf, const char *const **names, size_t *n);

/* A scanner over the file as a kv_scanner (see below) that also holds a
 * reference on sf until it is closed. NULL with the error set. */
struct kv_scanner *store_file_scanner(struct store_file *sf, uint64_t order);

/* ---- HFile adapter (kv_scanner_hfile.c) ---------------------------------- */

/* Wraps a new hfile_scanner on r (which it references) as a kv_scanner:
 * cells are not stable (they live in the current block). release(arg), if
 * release is not NULL, is called once when the adapter closes (also when
 * this call fails), after the HFile scanner is freed. NULL with DFS_ENOMEM
 * set. */
struct kv_scanner *kv_scanner_hfile_open(struct hfile_reader *r, uint64_t order,
                                         void (*release)(void *arg), void *arg);

#endif /* HB_STORE_FILE_H */
