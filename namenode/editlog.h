/*
 * editlog.h - the NameNode's write-ahead edit log with group commit.
 *
 * Every namespace change is one EditRecord (fsimage.proto) with a txid one
 * above the previous. On disk (docs/namenode.md): a segment file starts
 * with the 8-byte magic "NNEDITS1", then records framed as
 *   u32 length (big-endian) | u32 crc32c(payload) (big-endian) | payload
 * where payload is the packed EditRecord. The in-progress segment is
 * extended with zeros ahead of the records (1 MiB at a time, so that
 * fdatasync seldom has to write the inode); an all-zero tail is the end
 * of the log, and is cut off when the segment is closed. The segment being written is
 * "edits_inprogress_<first txid>"; a checkpoint finalises it to
 * "edits_<first>-<last>" (txids zero-padded to 19 digits) and starts the
 * next one.
 *
 * Group commit (the point of this module): a handler changes the namespace
 * and calls nn_editlog_append() while it holds the namespace write lock -
 * that only encodes the record into an in-memory buffer and hands out its
 * txid, so txid order is namespace order. It then releases the lock and
 * calls nn_editlog_sync(txid), which returns once a write + fdatasync has
 * covered that txid. The first waiter that finds no sync running becomes
 * the syncer: it takes the whole buffer (everybody's records so far),
 * writes and fdatasyncs it without holding any lock, so concurrent writers
 * share one fdatasync and the namespace keeps serving meanwhile.
 *
 * A failed write or fdatasync leaves the log in a failed state (every later
 * call fails) and calls the fatal hook: the daemon's hook logs and exits,
 * as HDFS aborts when no edits directory is writable.
 */
#ifndef NN_EDITLOG_H
#define NN_EDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsimage.pb-c.h"

#define NN_EDITS_MAGIC "NNEDITS1"
#define NN_EDITS_MAGIC_LEN 8
/* Largest record payload accepted by the reader. */
#define NN_EDIT_MAX_RECORD (16u << 20)

typedef struct nn_editlog nn_editlog;

/* Called (once) when a write or fdatasync fails; rc is the error. */
typedef void (*nn_editlog_fatal_fn)(void *arg, int rc, const char *msg);

/*
 * Start a new in-progress segment edits_inprogress_<first_txid> in dir
 * (created and fsynced, with the directory). The next append gets
 * first_txid. Returns 0 and *out, or a negative code with a message.
 */
int nn_editlog_open(const char *dir, uint64_t first_txid, nn_editlog **out);
/* Set the fatal hook (before concurrent use). */
void nn_editlog_set_fatal(nn_editlog *l, nn_editlog_fatal_fn fn, void *arg);
/* For tests: fn(arg) runs in the syncing thread before each write and
 * fdatasync, outside the log's mutex - the window in which the records
 * being synced are appended (visible in memory) but not yet durable.
 * NULL removes it. Set before concurrent use. */
void nn_editlog_set_sync_hook(nn_editlog *l, void (*fn)(void *arg), void *arg);
/*
 * Encode rec (its txid is set here) into the buffer. Call with the
 * namespace write lock held so that txid order is the order changes were
 * applied. Returns 0 and *txid, or DFS_ENOMEM / the failed state's code.
 * Thread-safe.
 */
int nn_editlog_append(nn_editlog *l, Nn__EditRecord *rec, uint64_t *txid);
/* Wait until txid is durable (see above). 0, or the failure code. Call
 * WITHOUT the namespace lock. Thread-safe. */
int nn_editlog_sync(nn_editlog *l, uint64_t txid);
/* Make everything appended so far durable. */
int nn_editlog_sync_all(nn_editlog *l);
/* Last txid handed out / known durable. */
uint64_t nn_editlog_last_txid(nn_editlog *l);
uint64_t nn_editlog_synced_txid(nn_editlog *l);
/* Transactions in the current segment (checkpoint trigger). */
uint64_t nn_editlog_segment_txns(nn_editlog *l);
/*
 * Sync, finalise the current segment (rename to edits_<first>-<last>, or
 * remove it when empty) and start edits_inprogress_<last+1>. The caller
 * prevents appends meanwhile (namespace lock). Returns 0 and the last txid
 * of the finalised segment in *last.
 */
int nn_editlog_roll(nn_editlog *l, uint64_t *last);
/* Sync and close (the segment stays in progress; the next start-up
 * finalises it). NULL is a no-op. */
int nn_editlog_close(nn_editlog *l);

/* ---- reading ---- */

/* Called for each valid record in order; off is its offset in the
 * segment. A non-zero return stops the scan and is returned. */
typedef int (*nn_edit_apply_fn)(void *arg, const Nn__EditRecord *rec,
                                const char *file, uint64_t off);

struct nn_edit_scan {
  uint64_t records;     /* valid records passed to fn */
  uint64_t valid_end;   /* offset just past the last valid record */
  bool bad;             /* a bad record at valid_end */
  bool later_valid;     /* ... followed by a valid record: corruption */
  bool zero_tail;       /* only zero bytes after valid_end (preallocation) */
  char why[160];        /* what was wrong at valid_end */
};

/*
 * Parse a segment image buf[0..len) (magic, then records) without touching
 * disk: the fuzz target and the replay share it. Returns 0 with *res
 * filled (res->bad tells about a bad record), DFS_ECORRUPT if the magic is
 * wrong (res->why), or fn's non-zero return.
 */
int nn_editlog_scan(const uint8_t *buf, size_t len, const char *file,
                    nn_edit_apply_fn fn, void *arg, struct nn_edit_scan *res);

/*
 * Replay every segment in dir holding txids above after_txid, in order,
 * calling fn for each record with txid > after_txid. Txids must continue
 * without gaps from after_txid + 1. A bad record in a finalised segment,
 * or one followed by valid records, is DFS_ECORRUPT with a message naming
 * the file, the offset and what was expected. A torn tail of the
 * in-progress segment (bad last record, nothing valid after it) is logged
 * (LOG_WARN), copied to <file>.corrupt-tail, truncated away and never
 * applied. The in-progress segment is then finalised (or removed when it
 * holds no record), so the caller can nn_editlog_open(*last_txid + 1).
 * *last_txid gets the last txid applied (after_txid if none).
 */
int nn_editlog_replay(const char *dir, uint64_t after_txid, nn_edit_apply_fn fn,
                      void *arg, uint64_t *last_txid);

/* Remove finalised segments whose last txid <= upto (after a checkpoint).
 * Returns how many were removed. */
int nn_editlog_purge(const char *dir, uint64_t upto);

/* fsync a directory (after creating or renaming in it). 0 or -errno. */
int nn_fsync_dir(const char *dir);

#endif
