/*
 * storage.h - the DataNode's volumes (dfs.datanode.data.dir).
 *
 * Each data dir is one volume:
 *   <dir>/current/VERSION                      datanodeUuid, layoutVersion
 *   <dir>/current/rbw/blk_<id>, blk_<id>_<gs>.meta        being written
 *   <dir>/current/finalized/subdir<A>/subdir<B>/blk_<id>, ..._<gs>.meta
 * with A = (id >> 16) & 0x1f and B = (id >> 8) & 0x1f, so that consecutive
 * blocks share a directory (locality) while no directory grows past a few
 * thousand files. All volumes of one node share the uuid. New replicas go
 * round-robin to volumes with room; a volume whose I/O fails (or whose
 * periodic check fails) is marked failed and gets no new replicas; the
 * volume checker then drops its replicas. Layout: docs/datanode.md.
 */
#ifndef DN_STORAGE_H
#define DN_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replica_map.h"

#define DN_UUID_LEN 36

typedef struct dn_storage dn_storage;

/*
 * Open (creating where missing) every volume of the comma-separated list
 * `dirs`. Reads or creates each current/VERSION; all must agree on the
 * uuid (a new uuid is made once and written to the dirs that lack one).
 * A directory that cannot be set up (I/O error, not a directory) is opened
 * as a failed volume (logged); the caller decides whether that many may
 * fail (dn_storage_num_failed). `reserved`: bytes per volume kept free
 * (dfs.datanode.du.reserved). 0 and *out (free with dn_storage_close), or
 * an error with a message (no volume usable, uuids that differ).
 */
int dn_storage_open(const char *dirs, uint64_t reserved, dn_storage **out);
void dn_storage_close(dn_storage *s);

/* The node's uuid (NUL-terminated, DN_UUID_LEN chars). Immutable. */
const char *dn_storage_uuid(const dn_storage *s);
int dn_storage_num_volumes(const dn_storage *s);
/* The volume's directory (immutable). */
const char *dn_storage_dir(const dn_storage *s, int vol);

/* Path of a replica's data file (meta = false) or checksum file (meta =
 * true) into buf. DFS_ENAMETOOLONG if it does not fit. */
int dn_storage_path(const dn_storage *s, int vol, int state, uint64_t id,
                    uint64_t gs, bool meta, char *buf, size_t cap);

/* Pick a volume with at least `need` bytes free beyond the reserve,
 * round-robin. The index, or DFS_ENOSPC (all full or failed) with a
 * message. Thread-safe. */
int dn_storage_choose(dn_storage *s, uint64_t need);

/* Take a volume out of service after an I/O error (idempotent; logs once,
 * then calls the wake hook). Thread-safe. */
void dn_storage_fail(dn_storage *s, int vol, int err, const char *what);
bool dn_storage_failed(dn_storage *s, int vol);
/* Number of failed volumes. Thread-safe. */
int dn_storage_num_failed(dn_storage *s);

/*
 * Volume checks (the volume checker thread, volume_checker.c, runs them).
 * The wake hook is called (from any thread, no lock held) when a volume
 * fails or an I/O error asks for a check; set it once before threads start.
 */
void dn_storage_set_wake(dn_storage *s, void (*wake)(void *), void *arg);
/* An I/O error that may mean a bad disk (a replica file gone, EIO): ask
 * for a check of every volume soon. Thread-safe. */
void dn_storage_request_check(dn_storage *s);
/* True (once) if a check was requested since the last call. */
bool dn_storage_check_wanted(dn_storage *s);
/* Check every working volume: its current/, finalized/ and rbw/ must be
 * directories, and a small file written, fdatasync'ed, read back and
 * deleted in rbw/. A volume that fails is taken out of service. Returns
 * the number of volumes that failed in this check. Blocking I/O. */
int dn_storage_check(dn_storage *s);
/* Failed volumes not yet handed out by this function, into vols (at most
 * cap); returns their number. Each failed volume is handed out once. */
int dn_storage_take_failed(dn_storage *s, int *vols, int cap);

/* Totals over working volumes (statvfs): capacity (minus reserve) and
 * remaining (free minus reserve, not below 0); failed volume count. */
void dn_storage_stats(dn_storage *s, uint64_t *capacity, uint64_t *remaining,
                      uint32_t *failed);

/*
 * Start-up scan: add every replica on every volume to `map`. Finalized
 * replicas: length = data file size; the .meta header and size must match
 * (otherwise the replica is skipped and logged as corrupt). Rbw replicas:
 * the prefix whose checksums verify is kept (files truncated to it), state
 * RBW with bytes_acked = that length. If two volumes hold the same id, the
 * higher generation stamp (then finalized) wins. Returns 0 or an error.
 */
int dn_storage_scan(dn_storage *s, dn_rmap *map);

#endif
