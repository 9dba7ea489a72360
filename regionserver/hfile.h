/*
 * hfile.h - the store file format: an immutable sorted file of cells on the
 * DFS (HBase's HFile v3 in spirit, not byte-compatible; the exact layout is
 * in docs/formats.md, the constants below).
 *
 *   [data block]...            cells in cell_compare order, ~64 KiB each,
 *                              optionally snappy-compressed
 *   [leaf/intermediate index]  only when the root index would be too big
 *   [load-on-open section]     root index, file info, bloom (one read)
 *   [trailer]                  fixed size, at the end of the file
 *
 * Every block has a 24-byte header and a CRC32C over its on-disk bytes; the
 * trailer has its own CRC. The writer streams (the DFS is write-once: it
 * never seeks back); it keeps the data-block index entries and one 64-bit
 * hash per distinct row in memory until close, when it writes the index
 * levels, the load-on-open section and the trailer. The reader opens by
 * reading the trailer, then the load-on-open section in one read; it checks
 * every block it reads (checksum, header, structure, order of cells) and
 * reports DFS_ECORRUPT naming the file and offset, never wrong data.
 *
 * Threads: a writer is used by one thread. A reader is immutable after
 * open and reference-counted; any number of scanners, one per thread, may
 * run on it at once. Blocks go through the (thread-safe) block cache.
 */
#ifndef HB_HFILE_H
#define HB_HFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_cache.h"
#include "cell.h"
#include "file_io.h"

/* ---- format constants (persisted: never change or reuse) ---------------- */

#define HFILE_VERSION_MAJOR 3
#define HFILE_VERSION_MINOR 0

#define HFILE_BLOCK_HEADER_SIZE 24
#define HFILE_MAGIC_LEN 8
#define HFILE_MAGIC_DATA "DATABLK3"
#define HFILE_MAGIC_LEAF_INDEX "IDXLEAF3"
#define HFILE_MAGIC_INTERMEDIATE_INDEX "IDXINTR3"
#define HFILE_MAGIC_ROOT_INDEX "IDXROOT3"
#define HFILE_MAGIC_FILE_INFO "FILEINF3"
#define HFILE_MAGIC_BLOOM "BLOOMRW3"
#define HFILE_MAGIC_TRAILER "HFTRAIL3"

#define HFILE_TRAILER_SIZE 128
#define HFILE_TRAILER_FLAG_BLOOM 1u

/* Block compression codes (the header byte; the trailer names the file's). */
enum hfile_compression {
  HFILE_COMPRESSION_NONE = 0,
  HFILE_COMPRESSION_SNAPPY = 1,
};

/* A data block records the offset of every 16th cell (restart points) so a
 * seek binary-searches them and then decodes at most 15 cells. */
#define HFILE_RESTART_INTERVAL 16
/* Bounds a reader enforces (a writer never exceeds them). */
#define HFILE_MAX_BLOCK_BYTES (256u << 20) /* uncompressed payload of one block */
#define HFILE_MAX_INDEX_LEVELS 16

/* File-info keys the writer sets itself; names starting with "hfile." are
 * reserved (hfile_writer_set_info refuses them). */
#define HFILE_INFO_FIRST_KEY "hfile.FIRST_KEY"   /* encoded key cell (value empty) */
#define HFILE_INFO_LAST_KEY "hfile.LAST_KEY"
#define HFILE_INFO_MAX_SEQ_ID "hfile.MAX_SEQ_ID" /* u64 big-endian */
#define HFILE_INFO_TIMERANGE "hfile.TIMERANGE"   /* i64 min, i64 max, big-endian */

/* Defaults. */
#define HFILE_DEFAULT_BLOCK_SIZE (64u << 10)
#define HFILE_DEFAULT_INDEX_BLOCK_SIZE (128u << 10)
#define HFILE_DEFAULT_BLOOM_BITS_PER_KEY 10u
#define HFILE_DEFAULT_BLOOM_MAX_BYTES (16u << 20)

/* ---- writer ------------------------------------------------------------- */

/* A block as the block cache holds it: one kind byte, then the block's
 * uncompressed payload. */
enum hfile_cached_kind { HFILE_CACHED_DATA = 1, HFILE_CACHED_LEAF = 2, HFILE_CACHED_INTERMEDIATE = 3 };

struct block_cache;

struct hfile_writer_opts {
  uint32_t block_size;          /* target uncompressed data block size; 0: 64 KiB */
  uint32_t index_block_size;    /* max index block (and root) size; 0: 128 KiB */
  enum hfile_compression compression; /* of data blocks (the family's setting) */
  bool no_bloom;                /* no row bloom (BLOOMFILTER => NONE) */
  unsigned bloom_bits_per_key;  /* 0: 10 (about 1% false positives) */
  size_t bloom_max_bytes;       /* cap of the bit array; 0: 16 MiB */
  const char *name;             /* file name for error messages; may be NULL */
  /* Cache on write (HBase's hbase.rs.cacheblocksonwrite): each data block
   * also goes, uncompressed, into `cache` under (cache_file_id, offset),
   * where a reader opened with hfile_reader_open_as(..., cache_file_id)
   * finds it. NULL / 0: not cached. */
  struct block_cache *cache;
  uint64_t cache_file_id;
};

struct hfile_writer;

/* Start a file on `out` (which must outlive the writer and is not freed by
 * it; for a DFS file dfs_close() it after hfile_writer_close). o may be
 * NULL (defaults). */
int hfile_writer_open(struct hb_out *out, const struct hfile_writer_opts *o,
                      struct hfile_writer **w);

/* Append a cell (copied). Cells must come in strictly increasing
 * cell_compare order: a cell <= the previous one is DFS_EINVAL (the
 * caller drops duplicates); an invalid cell (cell_validate) is DFS_EINVAL.
 * Those two leave the writer usable; an I/O error is sticky (every later
 * call returns it). */
int hfile_writer_append(struct hfile_writer *w, const struct cell *c);

/* Set a user file-info entry (copied; a second set of a key replaces the
 * value). key: 1..1024 bytes, not starting with "hfile."; value up to
 * 1 MiB. 0 or DFS_EINVAL / DFS_ENOMEM. */
int hfile_writer_set_info(struct hfile_writer *w, const char *key, const void *val, size_t len);

/* Cells appended so far, and bytes written to `out` so far. */
uint64_t hfile_writer_entries(const struct hfile_writer *w);
uint64_t hfile_writer_bytes(const struct hfile_writer *w);

/* Write the last data block, the index, the load-on-open section and the
 * trailer, then free the writer (in every case). 0 or the first error;
 * after an error the file is incomplete and must be deleted. */
int hfile_writer_close(struct hfile_writer *w);
/* Free the writer without finishing the file. NULL: no-op. */
void hfile_writer_abort(struct hfile_writer *w);

/* ---- reader ------------------------------------------------------------- */

struct hfile_info {
  const struct cell *first_key; /* NULL in an empty file; value empty */
  const struct cell *last_key;  /* NULL in an empty file */
  uint64_t max_seq_id;
  uint64_t entry_count;
  int64_t min_timestamp, max_timestamp; /* INT64_MAX, INT64_MIN when empty */
  uint64_t file_size;
  uint64_t data_block_count;
  uint64_t uncompressed_data_bytes;
  uint32_t index_levels;        /* 1: the root points at data blocks */
  uint8_t compression;          /* enum hfile_compression of the data blocks */
  bool has_bloom;
  uint64_t bloom_rows;          /* distinct rows in the bloom */
};

struct hfile_reader;

/* Open a file: read the trailer, then the load-on-open section, check them.
 * Takes ownership of `in` in every case (freed with the reader, or now on
 * failure). name is copied and names the file in errors. cache may be NULL
 * (blocks are then read for each use); it must outlive the reader.
 * 0 or DFS_ECORRUPT (not an HFile, truncated, checksum, inconsistent),
 * an I/O error, DFS_ENOMEM. Free with hfile_reader_unref(). */
int hfile_reader_open(struct hb_in *in, const char *name, struct block_cache *cache,
                      struct hfile_reader **r);
/* The same with the cache file id a writer used for cache on write
 * (hfile_writer_opts.cache_file_id; 0: a new one). */
int hfile_reader_open_as(struct hb_in *in, const char *name, struct block_cache *cache,
                         uint64_t file_id, struct hfile_reader **out);
/* Reference counting: open returns one reference; scanners take their own.
 * The last unref frees the reader, its source and its cached blocks. */
void hfile_reader_ref(struct hfile_reader *r);
void hfile_reader_unref(struct hfile_reader *r);

/* Valid while the reader is referenced. */
const struct hfile_info *hfile_reader_info(const struct hfile_reader *r);
const char *hfile_reader_name(const struct hfile_reader *r);
/* A file-info value (user or reserved key): 0 and *val, *len pointing into
 * the reader, or DFS_ENOENT. */
int hfile_reader_get_info(const struct hfile_reader *r, const char *key, const uint8_t **val,
                          size_t *len);
/* Number of file-info entries and the i-th one (0 <= i < n). */
size_t hfile_reader_info_count(const struct hfile_reader *r);
void hfile_reader_info_at(const struct hfile_reader *r, size_t i, const uint8_t **key,
                          size_t *klen, const uint8_t **val, size_t *vlen);

/* false only if the file certainly has no cell of this row (bloom, and the
 * first/last key range). true without a bloom. */
bool hfile_reader_may_contain_row(const struct hfile_reader *r, const uint8_t *row, size_t len);

/* ---- scanner ------------------------------------------------------------ */

struct hfile_scanner;

/* A scanner (one thread at a time); not positioned until a seek. Holds a
 * reference on r. NULL if out of memory. */
struct hfile_scanner *hfile_scanner_new(struct hfile_reader *r);
void hfile_scanner_free(struct hfile_scanner *s);

/* Position at the first cell >= key (cell_compare). 1 positioned, 0 no
 * such cell (scanner then unpositioned), or a negative code (corruption,
 * I/O) with the explanation set. key's value is ignored. */
int hfile_scanner_seek(struct hfile_scanner *s, const struct cell *key);
/* Position at the first cell: 1, 0 (empty file) or < 0. */
int hfile_scanner_seek_to_first(struct hfile_scanner *s);
/* Position at the last cell < key (for reversed scans): 1, 0 or < 0. */
int hfile_scanner_seek_before(struct hfile_scanner *s, const struct cell *key);
/* Position at the last cell: 1, 0 (empty file) or < 0. */
int hfile_scanner_seek_to_last(struct hfile_scanner *s);
/* Advance: 1 positioned on the next cell, 0 past the end, < 0 error.
 * Unpositioned: 0. */
int hfile_scanner_next(struct hfile_scanner *s);
/* The current cell, pointing into a block the scanner holds; valid until
 * the next seek/next/free. NULL when not positioned. */
const struct cell *hfile_scanner_peek(const struct hfile_scanner *s);

/* A seek key that sorts before every cell of `row` (empty family and
 * qualifier, newest timestamp, highest type and sequence id). k points at
 * row, which must outlive its use. */
void hfile_key_first_on_row(struct cell *k, const uint8_t *row, uint32_t row_len);

#endif /* HB_HFILE_H */
