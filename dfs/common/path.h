/*
 * path.h - DFS path names: validation and splitting.
 *
 * A valid path is absolute ("/a/b"), has no empty, "." or ".." component,
 * no ':' in a component (as HDFS), no NUL byte, components of at most
 * max_component bytes and at most DFS_PATH_MAX bytes in all. "/" is the
 * root. A trailing slash ("/a/b/") is accepted and dropped. Paths arrive
 * on the wire as protobuf bytes so that an embedded NUL is seen and refused
 * rather than silently truncating the name.
 */
#ifndef DFS_PATH_H
#define DFS_PATH_H

#include <stddef.h>
#include <stdint.h>

#define DFS_PATH_MAX 8000

/*
 * Check path[0..len) and return a normalized NUL-terminated copy in *out
 * (caller frees). 0, or DFS_EBADPATH / DFS_ENAMETOOLONG with a message
 * naming the path (printable form: NUL and control bytes escaped) and the
 * reason, e.g. "Invalid path name: /a/../b: '..' component".
 */
int dfs_path_normalize(const uint8_t *path, size_t len, size_t max_component,
                       char **out);

/* Iterate components of a normalized path: pass *pos = 0 first; returns the
 * component length and sets *start, or 0 at the end. */
size_t dfs_path_next(const char *path, size_t *pos, const char **start);

/* Parent of a normalized path into a new string ("/" for "/a", NULL for
 * "/"), and the last component (a pointer into path; "" for "/"). */
char *dfs_path_parent(const char *path);
const char *dfs_path_basename(const char *path);

/* True if `path` equals `dir` or lies under it ("/a/b" is under "/a",
 * "/ab" is not). Both normalized. */
int dfs_path_is_under(const char *path, const char *dir);

/* Write a printable form of bytes (escapes \0, control bytes, non-UTF-8 as
 * \xNN) into buf; for messages about bad names. */
void dfs_path_printable(const uint8_t *p, size_t len, char *buf, size_t cap);

#endif
