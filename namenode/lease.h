/*
 * lease.h - writer leases (HDFS's LeaseManager): who holds which files
 * open, and when each holder was last heard from.
 *
 * A lease belongs to a client name and covers every file that client has
 * open (the inode's uc->client_name names the holder). The client renews
 * all its leases at once (RENEW_LEASE; create, addBlock, complete and
 * fsync renew too). Past dfs.namenode.lease.soft-limit another client's
 * create of the file starts lease recovery; past
 * dfs.namenode.lease.hard-limit the NameNode recovers every file of the
 * lease itself (namesystem: nn_ns_check_leases). Leases are not logged:
 * after a restart each open file's holder gets a fresh lease, as in HDFS.
 *
 * Holders are few (one per writing client), so leases are a list searched
 * linearly; files per lease an array. Inode pointers stay valid because a
 * file leaves its lease (nn_lease_remove_file) before it is closed or
 * freed.
 *
 * Not thread-safe: guarded by the namesystem's namespace lock.
 */
#ifndef NN_LEASE_H
#define NN_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "inode.h"

struct nn_lease {
  char *holder;             /* owned */
  int64_t last_renew_ms;    /* monotonic */
  nn_inode **files;         /* owned array; inodes are not */
  size_t n, cap;
  struct nn_lease *next;
};

struct nn_leases {
  struct nn_lease *head;
  size_t n;                 /* leases */
};

void nn_leases_init(struct nn_leases *ls);
void nn_leases_free(struct nn_leases *ls);
/* The lease of holder, or NULL. */
struct nn_lease *nn_lease_find(const struct nn_leases *ls, const char *holder);
/* f (open, under construction) joins holder's lease (created if needed),
 * which counts as a renewal at now_ms. 0 or DFS_ENOMEM. */
int nn_lease_add(struct nn_leases *ls, const char *holder, nn_inode *f, int64_t now_ms);
/* f leaves holder's lease; an empty lease is freed. */
void nn_lease_remove_file(struct nn_leases *ls, const char *holder, const nn_inode *f);
/* Renew holder's lease; DFS_ENOENT if it holds none. */
int nn_lease_renew(struct nn_leases *ls, const char *holder, int64_t now_ms);

#endif
