/*
 * dfs_fuse.h - state shared by the files of dfs-fuse, the libfuse3 mount.
 *
 * fuse_main.c parses the command line and runs the multi-threaded FUSE
 * loop; fuse_ops.c implements the operations on top of dfs.h; fuse_ids.c
 * maps the caller's uid/gid to DFS user and group names and back, and keeps
 * one dfs_fs per distinct caller (HDFS simple authentication: the NameNode
 * checks every permission as the user the connection names).
 *
 * The one design decision: everything the mount knows lives in one
 * struct dfuse reached through fuse_get_context()->private_data; there are
 * no globals but the logger.
 */
#ifndef DFS_FUSE_H
#define DFS_FUSE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dfs.h"

#define DFUSE_LOG "fuse"

struct dfuse_handle; /* an open file, fuse_ops.c */
struct dfuse_user;   /* a caller with its connection, fuse_ids.c */
struct dfuse_name;   /* a cached name <-> id pair, fuse_ids.c */

struct dfuse_opts {
  char *namenode;          /* "host:port" */
  char *conf_dir;          /* -o conf=DIR, or NULL */
  int timeout_ms;          /* -o timeout=; 0: dfs.client.socket-timeout */
  int replication;         /* -o replication=; 0: the NameNode's default */
  uint64_t blocksize;      /* -o blocksize=; 0: the NameNode's default */
  size_t readahead;        /* -o readahead=; bytes read ahead per handle */
  size_t max_write;        /* -o max_write= (FUSE request size) */
  int rename_wait_ms;      /* -o rename_wait=; see fuse_ops.c rename */
  char *log_file;          /* -o log=FILE */
  char *log_level;         /* -o log_level=LEVEL */
  char *fixed_user;        /* -o user=NAME: every caller acts as NAME */
};

struct dfuse {
  struct dfuse_opts o;

  pthread_mutex_t users_mu;       /* guards users */
  struct dfuse_user *users;       /* one per distinct caller uid */

  pthread_mutex_t names_mu;       /* guards names */
  struct dfuse_name *names;       /* name <-> uid/gid cache */

  pthread_mutex_t open_mu;        /* guards handles; with open_cv */
  pthread_cond_t open_cv;         /* signalled when a handle is released */
  struct dfuse_handle *handles;   /* every open handle (destroy closes them) */
};

/* ---- fuse_ids.c ---- */

/* The dfs_fs to act as the calling FUSE user (fuse_get_context()), connected
 * on first use and kept until dfuse_users_close. Returns 0 and *out, or a
 * negative DFS code. Thread-safe (users_mu). */
int dfuse_user_fs(struct dfuse *d, uid_t uid, gid_t gid, dfs_fs **out);
/* The caller's DFS user name (owned by d, valid until dfuse_users_close),
 * or NULL if it has no connection yet. Thread-safe. */
const char *dfuse_user_name(struct dfuse *d, uid_t uid);
/* Disconnect every user's dfs_fs and free the list (destroy). */
void dfuse_users_close(struct dfuse *d);

/* DFS owner/group name -> local uid/gid (getpwnam/getgrnam, cached);
 * unknown names map to 65534 (nobody/nogroup). Thread-safe (names_mu). */
uid_t dfuse_uid_of(struct dfuse *d, const char *owner);
gid_t dfuse_gid_of(struct dfuse *d, const char *group);
/* Local uid/gid -> DFS name in buf (getpwuid/getgrgid; the decimal id when
 * the system has no name for it). */
void dfuse_user_name_of(uid_t uid, char *buf, size_t len);
void dfuse_group_name_of(gid_t gid, char *buf, size_t len);
/* Is `gid`'s group name `group` one of uid's groups (getgrouplist)? */
bool dfuse_user_in_group(struct dfuse *d, uid_t uid, gid_t gid, const char *group);
void dfuse_names_free(struct dfuse *d);

/* ---- fuse_ops.c ---- */

/* The operation table handed to fuse_new. */
const struct fuse_operations *dfuse_operations(void);
/* DFS error code -> negative errno for the kernel (logs the explanation). */
int dfuse_errno(int code, const char *op, const char *path);

#endif
