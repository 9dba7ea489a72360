/*
 * dfs.h - the public C API of the distributed filesystem (libhdfs-like).
 *
 * Handles are opaque. Every function returns 0 (or a byte count) on
 * success and a negative error code of dfs/common/errors.h on failure; the
 * calling thread's explanation ("create: /a/b: File exists") is then in
 * dfs_error_message(). The library never prints, aborts or exits.
 *
 * Threads: a dfs_fs may be shared by any number of threads. A dfs_file is
 * used by one thread at a time (pread may be called concurrently).
 *
 * Semantics are HDFS's: write-once files (create, write sequentially,
 * hflush/hsync, close), one writer per file under a lease that the library
 * renews, readers see a closed file's bytes or an open file's hflushed
 * bytes.
 */
#ifndef DFS_H
#define DFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfs_fs dfs_fs;
typedef struct dfs_file dfs_file;
struct dfs_conf;

/* Explanation of the calling thread's last error. */
const char *dfs_error_message(void);
/* Static text of an error code. */
const char *dfs_error_string(int code);

/* ---- connection --------------------------------------------------------- */

struct dfs_connect_opts {
  const char *namenode;    /* "host:port"; NULL: dfs.namenode.rpc-address */
  const char *user;        /* NULL: the process's effective user name */
  const struct dfs_conf *conf; /* NULL: defaults + $DFS_CONF_DIR/dfs-site.xml */
  int timeout_ms;          /* 0: dfs.client.socket-timeout */
};

/* Connect (checks that the NameNode answers). *out is freed by
 * dfs_disconnect(), which also closes (completes) files still open. */
int dfs_connect(const struct dfs_connect_opts *opts, dfs_fs **out);
int dfs_disconnect(dfs_fs *fs);

/* ---- files ---------------------------------------------------------------- */

struct dfs_create_opts {
  bool overwrite;          /* replace an existing file */
  bool no_create_parent;   /* fail if the parent directory is missing */
  uint16_t permission;     /* 0: 0644 */
  int replication;         /* 0: dfs.replication */
  uint64_t blocksize;      /* 0: dfs.blocksize */
};

/* Create a file for writing. opts may be NULL. DFS_EEXIST if it exists and
 * !overwrite; DFS_ELEASE if another client is writing it. */
int dfs_create(dfs_fs *fs, const char *path, const struct dfs_create_opts *opts,
               dfs_file **out);
/* Open an existing file for reading. */
int dfs_open(dfs_fs *fs, const char *path, dfs_file **out);

/* Append len bytes (sequential). Returns len or a negative code. */
ssize_t dfs_write(dfs_file *f, const void *buf, size_t len);
/* Make written bytes visible to new readers (acknowledged by every
 * pipeline node). */
int dfs_hflush(dfs_file *f);
/* As hflush, and on disk (fsync) on every pipeline node. */
int dfs_hsync(dfs_file *f);

/* Sequential read from the current position; 0 at end of file. */
ssize_t dfs_read(dfs_file *f, void *buf, size_t len);
/* Positional read; does not move the position; thread-safe per file. */
ssize_t dfs_pread(dfs_file *f, uint64_t offset, void *buf, size_t len);
int dfs_seek(dfs_file *f, uint64_t offset);
int64_t dfs_tell(dfs_file *f);
/* Length known to this reader (grows for a file still being written). */
int64_t dfs_file_length(dfs_file *f);

/* Close. For a file being written: flush, finish the last block, complete
 * the file with the NameNode; an error means the file may be incomplete.
 * Always frees f. */
int dfs_close(dfs_file *f);

/* ---- namespace ------------------------------------------------------------ */

enum dfs_file_type { DFS_TYPE_FILE = 1, DFS_TYPE_DIR = 2 };

struct dfs_stat {
  char *name;              /* last component (listing) or the path (stat) */
  enum dfs_file_type type;
  uint64_t length;
  uint16_t permission;     /* rwxrwxrwx + sticky bit (01000) */
  char *owner;
  char *group;
  int64_t mtime_ms;
  int64_t atime_ms;
  int replication;         /* 0 for directories */
  uint64_t blocksize;
  uint64_t file_id;
  uint32_t children;       /* directories */
  bool under_construction;
};

/* Status of one path; free the strings with dfs_stat_clear(). */
int dfs_stat(dfs_fs *fs, const char *path, struct dfs_stat *st);
void dfs_stat_clear(struct dfs_stat *st);

/* Whole listing of a directory (all pages), sorted by name. A file lists
 * as itself. Free with dfs_stats_free(). */
int dfs_list(dfs_fs *fs, const char *path, struct dfs_stat **entries, size_t *n);
/* One page after `start_after` (NULL: from the start); *remaining tells how
 * many entries follow. */
int dfs_list_page(dfs_fs *fs, const char *path, const char *start_after,
                  struct dfs_stat **entries, size_t *n, size_t *remaining);
void dfs_stats_free(struct dfs_stat *entries, size_t n);

int dfs_mkdirs(dfs_fs *fs, const char *path, uint16_t permission);
/* Delete; DFS_ENOTEMPTY for a non-empty directory unless recursive;
 * DFS_ENOENT if missing. */
int dfs_delete(dfs_fs *fs, const char *path, bool recursive);
/* Atomic rename of a file or directory. dst must not exist unless
 * overwrite (then a file or empty directory there is replaced). */
int dfs_rename(dfs_fs *fs, const char *src, const char *dst, bool overwrite);
int dfs_chmod(dfs_fs *fs, const char *path, uint16_t permission);
/* owner or group may be NULL (unchanged). */
int dfs_chown(dfs_fs *fs, const char *path, const char *owner, const char *group);
int dfs_set_replication(dfs_fs *fs, const char *path, int replication);
/* Times in ms since the epoch; -1 leaves one unchanged. */
int dfs_set_times(dfs_fs *fs, const char *path, int64_t mtime_ms, int64_t atime_ms);

struct dfs_content_summary {
  uint64_t length, file_count, directory_count, space_consumed;
};
int dfs_content_summary(dfs_fs *fs, const char *path, struct dfs_content_summary *cs);

/* ---- blocks and cluster ----------------------------------------------------- */

struct dfs_replica_loc {
  char *addr;              /* "host:port" */
  char *uuid;
  char *rack;
};
struct dfs_block_loc {
  uint64_t block_id, genstamp;
  uint64_t offset, length; /* in the file */
  bool corrupt;
  size_t n_replicas;
  struct dfs_replica_loc *replicas;
};
/* Blocks overlapping [offset, offset+len) (len 0: to the end). Free with
 * dfs_block_locs_free(). */
int dfs_block_locations(dfs_fs *fs, const char *path, uint64_t offset, uint64_t len,
                        struct dfs_block_loc **locs, size_t *n);
void dfs_block_locs_free(struct dfs_block_loc *locs, size_t n);

struct dfs_fs_stats {
  uint64_t capacity, used, remaining;
  uint64_t under_replicated, corrupt_blocks, missing_blocks;
  uint64_t blocks, files, directories;
  bool safe_mode;
};
int dfs_get_fs_stats(dfs_fs *fs, struct dfs_fs_stats *st);

struct dfs_datanode_info {
  char *uuid, *addr, *hostname, *rack;
  uint64_t capacity, used, remaining, num_blocks;
  uint32_t xceivers, failed_volumes;
  int64_t last_contact_ms; /* ms since the last heartbeat */
  bool dead;
  int admin_state;         /* 0 normal, 1 decommissioning, 2 decommissioned */
};
enum dfs_report_type { DFS_REPORT_ALL = 1, DFS_REPORT_LIVE = 2, DFS_REPORT_DEAD = 3 };
int dfs_datanode_report(dfs_fs *fs, enum dfs_report_type type,
                        struct dfs_datanode_info **nodes, size_t *n);
void dfs_datanode_report_free(struct dfs_datanode_info *nodes, size_t n);

/* Close a file whose writer died: *closed true once the file is closed. */
int dfs_recover_lease(dfs_fs *fs, const char *path, bool *closed);

enum dfs_safemode_action { DFS_SAFEMODE_GET = 1, DFS_SAFEMODE_ENTER = 2, DFS_SAFEMODE_LEAVE = 3 };
int dfs_safemode(dfs_fs *fs, enum dfs_safemode_action action, bool *in_safe_mode);

/* Re-read the NameNode's exclude file (dfs.hosts.exclude): DataNodes newly
 * listed start decommissioning, those no longer listed return to service.
 * Superuser only (`hdfs dfsadmin -refreshNodes`). */
int dfs_refresh_nodes(dfs_fs *fs);

#ifdef __cplusplus
}
#endif
#endif
