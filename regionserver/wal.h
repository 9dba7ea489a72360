/*
 * wal.h - the write-ahead log: one per server, on the DFS.
 *
 * Every row mutation a region accepts is appended here as one checksummed
 * record and acknowledged only once the record is hflushed (or hsynced) to
 * the DFS pipeline; after a crash, a region replays the records newer than
 * its store files (HBase's FSHLog / AsyncFSWAL in spirit).
 *
 * Layout on the DFS (HBase's):
 *   <root>/WALs/<server>/<server>.<creation-ms>.<n>   live files, in order
 *   <root>/oldWALs/<same name>                          archived files
 * A file is a 16-byte header then records; the format is in
 * docs/formats.md ("WAL"), the writer's behaviour in docs/regionserver.md.
 *
 * The one design decision: appends only copy the encoded record into an
 * in-memory batch (fast, any number of threads); a single syncer thread
 * owns the DFS file and turns "everything appended so far" into one
 * dfs_write and one dfs_hflush (group commit), then wakes every waiter the
 * batch covers. Rolling and error recovery happen on that thread, between
 * batches, so they can neither lose nor reorder appends.
 *
 * Files: wal_entry.c (record codec, no I/O), wal.c (writer),
 * wal_reader.c (reader, listing, lease recovery).
 */
#ifndef HB_WAL_H
#define HB_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cell.h"
#include "dfs.h"

/* HBase's Durability, same ordinals. SYNC_WAL waits for an hflush (every
 * pipeline DataNode has the bytes), FSYNC_WAL for an hsync (on their
 * disks); ASYNC_WAL does not wait (the syncer writes within
 * async_flush_ms); SKIP_WAL is never appended. */
enum wal_durability {
  WAL_USE_DEFAULT = 0,
  WAL_SKIP = 1,
  WAL_ASYNC = 2,
  WAL_SYNC = 3,
  WAL_FSYNC = 4,
};

/* One WAL entry: the cells of one row mutation of one region.
 * As an input of wal_append: every pointer is the caller's and only read
 * during the call. As an output of the decoder/reader: every pointer points
 * into the reader's buffer (or the caller's buffer for wal_record_decode)
 * and is valid until the next call on it. */
struct wal_entry {
  const uint8_t *region;        /* encoded region name (bytes) */
  uint32_t region_len;          /* 1..WAL_MAX_NAME */
  const uint8_t *table;         /* table name (bytes) */
  uint32_t table_len;           /* 1..WAL_MAX_NAME */
  uint64_t seq_id;              /* the region's sequence id of this edit (> 0) */
  int64_t write_time_ms;        /* wall clock; 0 on append: the WAL fills it in */
  uint8_t durability;           /* enum wal_durability, as the client asked */
  const struct cell *cells;     /* n_cells cells; each cell's seq_id is written as seq_id */
  size_t n_cells;

  /* Append only (ignored by the codec): when set, called under the WAL's
   * append lock and its result stored in seq_id, so that sequence ids of
   * all entries appended this way increase in file order (HBase stamps
   * sequence ids in the WAL's append for the same reason). It must be
   * quick and must not call into the WAL. */
  uint64_t (*assign_seq)(void *arg);
  void *assign_arg;
};

#define WAL_MAX_NAME 65535u
#define WAL_MAX_RECORD (256u << 20)     /* payload bytes of one record */
#define WAL_HEADER_LEN 16               /* file header */
#define WAL_RECORD_HEADER_LEN 12        /* u32 len | u32 len crc | u32 crc */
#define WAL_VERSION 1

/* ---- record codec (wal_entry.c): pure functions on byte buffers ---------- */

/* Encoded size of the whole record (header + payload) of e. */
size_t wal_record_size(const struct wal_entry *e);
/* Checks names, cells and the size limit. 0, DFS_EINVAL or DFS_ETOOBIG
 * (with an explanation). */
int wal_entry_validate(const struct wal_entry *e);
/* Writes wal_record_size(e) bytes (a valid e) to out; returns that size. */
size_t wal_record_encode(const struct wal_entry *e, uint8_t *out);

/* Writes the file header (WAL_HEADER_LEN bytes). */
void wal_header_encode(uint8_t out[WAL_HEADER_LEN]);
/* Checks a file header; `name` is for the message. 0, DFS_ECORRUPT (bad
 * magic, checksum or version). len < WAL_HEADER_LEN: DFS_ECORRUPT too (the
 * reader handles short files before calling this). */
int wal_header_check(const uint8_t *buf, size_t len, const char *name);

/* Decodes the record at buf[0..len), found at file offset `offset` of
 * `name` (both only for messages). Returns:
 *   1  a record: *e filled (pointing into buf), *used = its size;
 *   0  incomplete: buf holds a proper prefix of a record whose header (if
 *      complete) is intact; *used = the full size it announces, or 0 if
 *      even the header is short. A torn tail looks like this;
 *   DFS_ECORRUPT  header or payload checksum mismatch, length over
 *      WAL_MAX_RECORD, or a payload that is not a well-formed entry;
 *      *used is the record's size when its header is intact (so a caller
 *      can skip it), else 0.
 * Cells go to *cells (a caller-owned array of *cap elements, grown with
 * realloc; free it with free()). DFS_ENOMEM if that fails. */
int wal_record_decode(const uint8_t *buf, size_t len, const char *name, uint64_t offset,
                      struct wal_entry *e, struct cell **cells, size_t *cap, size_t *used);

/* ---- writer (wal.c) ---------------------------------------------------- */

typedef struct wal wal;

struct wal_opts {
  uint64_t roll_size;       /* roll when the file reaches this many bytes;
                               0: 95 % of the file's block size
                               (hbase.regionserver.logroll.multiplier 0.95) */
  int64_t roll_period_ms;   /* roll a non-empty file this old; 0: 1 h
                               (hbase.regionserver.logroll.period) */
  enum wal_durability default_durability; /* for WAL_USE_DEFAULT; 0: WAL_SYNC */
  bool hsync;               /* every sync is an hsync (hbase.wal.hsync); default false */
  int64_t async_flush_ms;   /* ASYNC edits written within; 0: 1000
                               (hbase.regionserver.optionallogflushinterval) */
  uint64_t max_pending_bytes; /* appends wait while this much is unwritten; 0: 64 MiB */
  int replication;          /* of WAL files; 0: the DFS default */
  uint64_t blocksize;       /* of WAL files; 0: the DFS default */
  int roll_retries;         /* new files tried after a write failure; 0: 3 */
};

/* Opens the WAL of `server` (a name without '/', e.g. "host,16020,1700000000000")
 * under `root` (e.g. "/hbase"): creates <root>/WALs/<server> and
 * <root>/oldWALs, creates the first file and starts the syncer thread.
 * o may be NULL (defaults). fs must outlive the WAL. Free with wal_close. */
int wal_open(dfs_fs *fs, const char *root, const char *server, const struct wal_opts *o,
             wal **out);

/* Appends e (validated; encoded before returning, so e's memory can be
 * reused at once) and returns its transaction id in *txid (increasing,
 * from 1, per WAL). Not yet durable: call wal_sync. Thread-safe. Blocks
 * only while max_pending_bytes are unwritten. DFS_EINVAL / DFS_ETOOBIG for
 * a bad entry; the WAL's sticky error once it has failed. */
int wal_append(wal *w, struct wal_entry *e, uint64_t *txid);

/* Waits until every entry up to txid is durable as `durability` asks
 * (WAL_USE_DEFAULT: the WAL's default; ASYNC/SKIP return at once).
 * Concurrent callers share one hflush/hsync. 0, or the error that made the
 * WAL fail (then the entries after the last successful sync are not known
 * to be durable), or DFS_EINVAL for a txid never handed out. Thread-safe. */
int wal_sync(wal *w, uint64_t txid, enum wal_durability durability);

/* Records that region's edits up to flushed_seq are in store files (a
 * flush finished). Rolled files every region of which is flushed past its
 * highest sequence id in that file are moved to oldWALs (dfs_rename); a
 * region closed for good can pass UINT64_MAX. 0 or the first rename error
 * (that file is kept and tried again later). Thread-safe. */
int wal_region_flushed(wal *w, const uint8_t *region, uint32_t region_len, uint64_t flushed_seq);

/* Rolls now: everything appended before the call goes to the current file,
 * which is closed; later appends go to a new file. Waits for it. Thread-safe. */
int wal_roll(wal *w);

/* Writes and syncs everything appended, stops the syncer, closes the file
 * and archives what is archivable. Returns the first error seen (the WAL
 * is freed anyway). Appends must have stopped. NULL: no-op. */
int wal_close(wal *w);

/* A listener is called by the syncer, with the WAL's lock held, each time
 * the records up to txid have become durable as WAL_SYNC asks (hflushed;
 * hsynced when every sync is an hsync), before the waiters are woken. It
 * must be quick and must not call the WAL. A region completes its MVCC
 * writes there (mvcc_durable). DFS_ENOMEM if the list cannot grow.
 * Thread-safe; once wal_remove_listener returns, the listener is not
 * running and is never called again. */
typedef void (*wal_synced_fn)(void *arg, uint64_t txid);
int wal_add_listener(wal *w, wal_synced_fn fn, void *arg);
void wal_remove_listener(wal *w, wal_synced_fn fn, void *arg);

/* d with WAL_USE_DEFAULT resolved to the WAL's default. */
enum wal_durability wal_effective_durability(const wal *w, enum wal_durability d);

struct wal_stats {
  uint64_t appends;         /* records appended */
  uint64_t append_bytes;    /* their encoded bytes */
  uint64_t syncs;           /* dfs_hflush + dfs_hsync calls (group commits) */
  uint64_t hsyncs;          /* of which hsync */
  uint64_t max_batch;       /* most records written by one sync */
  uint64_t rolls;           /* new files after the first */
  uint64_t error_rolls;     /* of which after a write failure */
  uint64_t archived;        /* files moved to oldWALs */
  uint64_t live_files;      /* files in WALs/<server> this WAL knows of */
  uint64_t appended_txid, synced_txid;
  uint64_t file_bytes;      /* bytes written to the current file */
};
void wal_get_stats(wal *w, struct wal_stats *st);
/* Path of the current file into buf (truncated to cap). */
void wal_current_path(wal *w, char *buf, size_t cap);
/* The directories (owned by w). */
const char *wal_dir(const wal *w);
const char *wal_archive_dir(const wal *w);

/* ---- reader (wal_reader.c) --------------------------------------------- */

typedef struct wal_reader wal_reader;

/* Opens a WAL file on the DFS (also one still being written: it reads what
 * is visible, and later calls see what was hflushed since). Checks the
 * header (an empty or header-short file reads as empty). Free with
 * wal_reader_close. fs must outlive the reader. */
int wal_reader_open(dfs_fs *fs, const char *path, wal_reader **out);
/* The same over data[0..len) (not copied: it must outlive the reader);
 * `name` is used in messages. For tests and fuzzing. */
int wal_reader_open_buf(const uint8_t *data, size_t len, const char *name, wal_reader **out);

/* Next entry, in file order. Returns 1 and *e (valid until the next call),
 * 0 at the end of the visible data (a torn tail then shows in
 * wal_reader_torn_bytes), or a negative code: DFS_ECORRUPT "wal <path>:
 * record at offset N: ..." for a damaged record, DFS I/O errors. After an
 * error the same error is returned again until wal_reader_skip. */
int wal_reader_next(wal_reader *r, struct wal_entry *e);
/* After DFS_ECORRUPT: skip the damaged record when its length is known
 * (payload checksum mismatch) and return 0; DFS_ECORRUPT when it is not
 * (damaged record header: nothing after it can be found). */
int wal_reader_skip(wal_reader *r);
/* File offset just past the last good record (where a torn tail or the
 * damage starts). */
uint64_t wal_reader_offset(const wal_reader *r);
/* Bytes after that offset that form an incomplete record (0: clean end). */
uint64_t wal_reader_torn_bytes(const wal_reader *r);
int wal_reader_close(wal_reader *r);

/* Fences a dead writer's file: dfs_recover_lease, polled (with back-off)
 * until the NameNode reports it closed or timeout_ms (0: 60 s) passes
 * (DFS_ETIMEDOUT). A closed file returns 0 at once. */
int wal_recover_file(dfs_fs *fs, const char *path, int timeout_ms);

/* The WAL files of a directory in creation order (by the <ms>.<n> of their
 * names; other names are left out). *paths: n malloc'ed full paths in a
 * malloc'ed array; free with wal_paths_free. A missing directory: n = 0. */
int wal_list(dfs_fs *fs, const char *dir, char ***paths, size_t *n);
void wal_paths_free(char **paths, size_t n);

#endif /* HB_WAL_H */
