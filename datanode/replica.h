/*
 * replica.h - replica files: create a replica being written (rbw), write
 * packets into it, finalize it, delete replicas, open them for reading.
 *
 * An rbw handle (struct dn_rbw) belongs to the one block receiver that
 * writes the replica; the map entry it maintains is what everyone else
 * sees. The hflush rule lives here: a write must start at the current
 * length, or exactly at the start of the last partial chunk (the client
 * resends that chunk's old bytes plus new ones), in which case the chunk's
 * data and its checksum are overwritten in place.
 */
#ifndef DN_REPLICA_H
#define DN_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "replica_map.h"
#include "storage.h"

/* Data is staged in memory and written in large aligned pieces with
 * O_DIRECT (see replica.c for why); these are the staging sizes. */
#define DN_STAGE_SPILL (1u << 20)  /* write out once this much is staged */
#define DN_STAGE_CAP (2u << 20)    /* staging buffer size */
#define DN_DIRECT_ALIGN 4096       /* O_DIRECT offset/length/address alignment */
/* A flush with less than this new since the last one (an hflush of a
 * WAL, say) goes through the page cache only; more goes O_DIRECT. */
#define DN_FLUSH_DIRECT_MIN (64u << 10)

struct dn_rbw {
  dn_storage *s;       /* borrowed; outlives the handle */
  dn_rmap *map;        /* borrowed */
  uint64_t id, gs;
  int vol;
  int data_fd, meta_fd;
  int direct_fd;       /* O_DIRECT handle of the data file; -1 if refused */
  uint8_t *stage;      /* DN_STAGE_CAP bytes, DN_DIRECT_ALIGN-aligned */
  uint64_t stage_off;  /* file offset of stage[0]; DN_DIRECT_ALIGN-aligned */
  size_t stage_len;    /* staged bytes: stage_off + stage_len == len */
  uint64_t len;        /* data bytes written (staged or in the file) */
  uint64_t in_file;    /* bytes [0, in_file) are in the data file as staged
                          (page cache or disk); stage_off <= in_file <= len */
  bool sync_behind;    /* start write-back as data arrives (sync_file_range) */
};
/*
 * Create a new rbw replica (id, gs) on a volume with `need` bytes free:
 * empty data file, .meta file with its header, map entry (RBW, writer).
 * DFS_EEXIST if the map already holds the id; DFS_ENOSPC; I/O errors (the
 * volume is then marked failed). On success *w must be finalized or
 * aborted.
 */
int dn_rbw_create(dn_storage *s, dn_rmap *map, uint64_t id, uint64_t gs,
                  uint64_t need, bool sync_behind, struct dn_rbw *w);

/*
 * Pipeline recovery (WRITE_BLOCK with STAGE_RECOVERY): reopen the rbw
 * replica `id` for writing under the new generation stamp new_gs (renaming
 * its .meta file), cut back to `len` bytes (the length the client knows to
 * be acknowledged; the client resends from there), and fix the checksum of
 * a partial last chunk. Waits up to wait_ms for a previous writer of the
 * replica to notice its stream ended. DFS_ENOTREPLICA, DFS_EGENSTAMP
 * (new_gs not newer), DFS_EINVAL (fewer than len bytes, or finalized),
 * DFS_EAGAIN (old writer still active), I/O errors. On success *w must be
 * finalized or aborted, as after dn_rbw_create.
 */
int dn_rbw_recover(dn_storage *s, dn_rmap *map, uint64_t id, uint64_t new_gs, uint64_t len,
                   int wait_ms, bool sync_behind, struct dn_rbw *w);

/*
 * Write one packet's data[0..len) at `offset` with its checksums (4 bytes
 * per chunk, big-endian; already verified by the caller). offset must be a
 * multiple of 512 and w->len, or the start of the last partial chunk with offset + len >=
 * w->len; DFS_EINVAL otherwise. An empty write (len 0) is a no-op at any
 * offset. The checksums go to the file at once; the data may stay staged
 * in memory until dn_rbw_flush() (or a full staging buffer) writes it.
 */
int dn_rbw_write(struct dn_rbw *w, uint64_t offset, const uint8_t *data,
                 uint32_t len, const uint8_t *sums);

/* Make every byte written so far part of the file (visible to readers of
 * the file; not necessarily on disk). Call before acknowledging data. */
int dn_rbw_flush(struct dn_rbw *w);
/* dn_rbw_flush for a packet whose writer waits for the ack (DFS_PKT_FLUSH,
 * an hflush): never an O_DIRECT write, so the ack does not wait for the
 * disk. */
int dn_rbw_flush_waited(struct dn_rbw *w);

/* Flush, then fdatasync data and checksum files (hsync / DFS_PKT_SYNC). */
int dn_rbw_sync(struct dn_rbw *w);

/* Close the files and move them to finalized/ (fsync first if sync);
 * the map entry becomes FINALIZED with length w->len. The handle is done
 * whatever the result. */
int dn_rbw_finalize(struct dn_rbw *w, bool sync);

/* Flush (best effort) and close the files, leaving the rbw replica on disk
 * and in the map (for recovery, issue 3) with its writer flag cleared. */
void dn_rbw_abort(struct dn_rbw *w);

/* Remove replica (id, gs; gs 0: any) from the map and unlink its files.
 * *out (may be NULL) gets the removed entry. 0 or DFS_ENOTREPLICA. */
int dn_replica_delete(dn_storage *s, dn_rmap *map, uint64_t id, uint64_t gs,
                      struct dn_replica *out);

/* Open a replica's data and checksum files read-only, checking the meta
 * header. The data file is opened with O_DIRECT where the filesystem allows
 * it (*direct says which; reads must then be DN_DIRECT_ALIGN-aligned).
 * Retries once through the map if the replica was finalized (moved)
 * meanwhile; *r is updated to the entry actually opened. */
int dn_replica_open(dn_storage *s, dn_rmap *map, struct dn_replica *r,
                    int *data_fd, int *meta_fd, bool *direct);

#endif
