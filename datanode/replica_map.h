/*
 * replica_map.h - the DataNode's in-memory map: block id -> replica.
 *
 * One entry per replica held on any volume. Readers get copies (struct
 * dn_replica by value), never pointers into the map, so a replica deleted
 * or finalized while a reader streams it cannot leave a dangling pointer:
 * the reader keeps its open file descriptors, which outlive an unlink.
 * All functions are thread-safe (one mutex, held only for the table
 * operation itself, never across I/O).
 */
#ifndef DN_REPLICA_MAP_H
#define DN_REPLICA_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dn_replica_state {
  DN_REPLICA_RBW = 1,       /* being written (current/rbw/) */
  DN_REPLICA_FINALIZED = 2, /* complete and immutable (current/finalized/) */
};

struct dn_replica {
  uint64_t id;
  uint64_t gs;              /* generation stamp */
  int state;                /* enum dn_replica_state */
  int vol;                  /* index of the volume holding the files */
  uint64_t bytes_on_disk;   /* data bytes written to the data file */
  uint64_t bytes_acked;     /* visible: acknowledged by the whole pipeline
                               (finalized: == bytes_on_disk) */
  bool writer;              /* a block receiver owns this rbw replica */
};

typedef struct dn_rmap dn_rmap;

/* Create an empty map. 0 and *out (free with dn_rmap_destroy), or DFS_ENOMEM. */
int dn_rmap_create(dn_rmap **out);
void dn_rmap_destroy(dn_rmap *m);

/* Insert r; DFS_EEXIST (with a message) if the id is present. */
int dn_rmap_add(dn_rmap *m, const struct dn_replica *r);
/* Insert or replace the entry of r->id. */
int dn_rmap_put(dn_rmap *m, const struct dn_replica *r);
/* Copy the entry of id into *out: 0, or DFS_ENOTREPLICA (no message set). */
int dn_rmap_get(dn_rmap *m, uint64_t id, struct dn_replica *out);
/* Remove the entry of id if its genstamp is gs (gs 0: any); the removed
 * entry is copied to *out if out != NULL. 0 or DFS_ENOTREPLICA. */
int dn_rmap_remove(dn_rmap *m, uint64_t id, uint64_t gs, struct dn_replica *out);
/* Raise bytes_on_disk / bytes_acked of an rbw entry (id, gs) to at least
 * the given values (0 leaves a field alone). 0 or DFS_ENOTREPLICA. */
int dn_rmap_advance(dn_rmap *m, uint64_t id, uint64_t gs, uint64_t on_disk,
                    uint64_t acked);

/* Number of replicas and the sum of their bytes_on_disk. */
void dn_rmap_stats(dn_rmap *m, uint64_t *count, uint64_t *bytes);

/* Copy every entry into a new array (*out, caller frees with free()). */
int dn_rmap_snapshot(dn_rmap *m, struct dn_replica **out, size_t *n);

#endif
