/*
 * errors.h - the one error table of the project.
 *
 * Every function that can fail returns an int: 0 for success, a negative
 * code otherwise. System errors keep their errno (DFS_ENOENT == -ENOENT),
 * so a code that came from open(2) and one that came over the wire from a
 * NameNode mean the same thing. Project-specific conditions live below
 * -1000. The same numbers travel in RPC replies (rpc.h); never renumber.
 *
 * Alongside the code, a human explanation ("create: /a/b: File exists")
 * is kept per thread: dfs_err_set() stores it, dfs_err_msg() reads it.
 * Libraries never print; they set the message and return the code.
 */
#ifndef DFS_ERRORS_H
#define DFS_ERRORS_H

#include <errno.h>

/* X(name, value, message). Values are part of the wire protocol. */
#define DFS_ERROR_TABLE(X)                                                   \
  X(DFS_EPERM,        -EPERM,        "Operation not permitted")             \
  X(DFS_ENOENT,       -ENOENT,       "No such file or directory")           \
  X(DFS_EIO,          -EIO,          "Input/output error")                  \
  X(DFS_EAGAIN,       -EAGAIN,       "Resource temporarily unavailable")    \
  X(DFS_ENOMEM,       -ENOMEM,       "Out of memory")                       \
  X(DFS_EACCES,       -EACCES,       "Permission denied")                   \
  X(DFS_EEXIST,       -EEXIST,       "File exists")                         \
  X(DFS_ENOTDIR,      -ENOTDIR,      "Not a directory")                     \
  X(DFS_EISDIR,       -EISDIR,       "Is a directory")                      \
  X(DFS_EINVAL,       -EINVAL,       "Invalid argument")                    \
  X(DFS_ENOSPC,       -ENOSPC,       "No space left on device")             \
  X(DFS_ENAMETOOLONG, -ENAMETOOLONG, "File name too long")                  \
  X(DFS_ENOTEMPTY,    -ENOTEMPTY,    "Directory is not empty")              \
  X(DFS_ENOTSUP,      -ENOTSUP,      "Operation not supported")             \
  X(DFS_ECONNREFUSED, -ECONNREFUSED, "Connection refused")                  \
  X(DFS_ECONNRESET,   -ECONNRESET,   "Connection reset by peer")            \
  X(DFS_ETIMEDOUT,    -ETIMEDOUT,    "Timed out")                           \
  X(DFS_EBADF,        -EBADF,        "Bad file handle")                     \
  X(DFS_ECANCELED,    -ECANCELED,    "Operation canceled")                  \
  /* project-specific */                                                    \
  X(DFS_EPROTO,       -1001, "Protocol error (malformed message)")          \
  X(DFS_ETOOBIG,      -1002, "Message too large")                           \
  X(DFS_EMETHOD,      -1003, "Unknown RPC method")                          \
  X(DFS_ECORRUPT,     -1004, "Data corruption detected")                    \
  X(DFS_ECHECKSUM,    -1005, "Checksum mismatch")                           \
  X(DFS_ELEASE,       -1006, "File is being written by another client")     \
  X(DFS_ENOLEASE,     -1007, "No lease on file (not open for write)")       \
  X(DFS_ENODATANODE,  -1008, "Not enough DataNodes available")              \
  X(DFS_ESAFEMODE,    -1009, "Name node is in safe mode")                   \
  X(DFS_EGENSTAMP,    -1010, "Stale generation stamp")                      \
  X(DFS_EBADPATH,     -1011, "Invalid path name")                           \
  X(DFS_ECONFIG,      -1012, "Invalid configuration")                       \
  X(DFS_ECLOSED,      -1013, "File is closed")                              \
  X(DFS_ENOTREPLICA,  -1014, "Replica not found")                           \
  X(DFS_EPIPELINE,    -1015, "Write pipeline failed")                       \
  X(DFS_ENOTREADY,    -1016, "Not ready (block not yet complete)")          \
  X(DFS_EREMOTE,      -1017, "Remote error")                                \
  X(DFS_EINTERNAL,    -1018, "Internal error")

enum dfs_error {
  DFS_OK = 0,
#define DFS__ERR_ENUM(name, value, msg) name = (value),
  DFS_ERROR_TABLE(DFS__ERR_ENUM)
#undef DFS__ERR_ENUM
};

/* Static message for a code; never NULL ("Unknown error -N" for strays,
 * strerror() text for any other negative errno). Thread-safe. */
const char *dfs_strerror(int code);

/* Symbolic name ("DFS_ENOENT") for logs and tests; "DFS_E?" if unknown. */
const char *dfs_errname(int code);

/* Record a detailed explanation for the calling thread and return `code`,
 * so that `return dfs_err_set(DFS_EEXIST, "create: %s: File exists", p);`
 * reads naturally. A message longer than 1 KiB keeps its start and its end
 * ("open /a: ... [...] ...: Connection refused"): wrapped explanations put
 * the cause last. */
int dfs_err_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last explanation, or dfs_strerror(code) of the last
 * code if none was set. Valid until the thread's next dfs_err_set(). */
const char *dfs_err_msg(void);

/* The calling thread's last code recorded by dfs_err_set(). */
int dfs_err_code(void);

/* Clear the calling thread's explanation. */
void dfs_err_clear(void);

/* Map an errno value (positive) to a code: -errno. */
static inline int dfs_err_from_errno(int e) { return e > 0 ? -e : DFS_EIO; }

#endif
