/*
 * log.h - one logging call for every daemon and tool.
 *
 * A line: "2026-11-22T23:40:01.123Z INFO  namenode: message\n", written
 * with a single write(2) so lines from threads never interleave. The level
 * is checked before any formatting, so a disabled DEBUG costs one compare.
 * The logger is process-wide (the one deliberate global: every thread of a
 * daemon logs to the same place); it is set once at start-up.
 * Libraries (client, FUSE) never log unless the embedding program asks.
 */
#ifndef DFS_LOG_H
#define DFS_LOG_H

enum dfs_log_level {
  DFS_LOG_DEBUG = 0,
  DFS_LOG_INFO = 1,
  DFS_LOG_WARN = 2,
  DFS_LOG_ERROR = 3,
  DFS_LOG_OFF = 4,
};

extern int dfs__log_level; /* read by the macros; set with dfs_log_init() */

/* Configure: minimum level and destination (fd, usually 2 or a log file).
 * Call before starting threads. Default: WARN to stderr. */
void dfs_log_init(int level, int fd);

/* Parse "DEBUG" / "INFO" / "WARN" / "ERROR" / "OFF" (case-insensitive).
 * Returns the level, or -1 if unknown. */
int dfs_log_level_parse(const char *s);

void dfs__log(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define DFS_LOG(level, module, ...)                                          \
  do {                                                                       \
    if ((level) >= dfs__log_level) dfs__log((level), (module), __VA_ARGS__); \
  } while (0)

#define LOG_DEBUG(module, ...) DFS_LOG(DFS_LOG_DEBUG, module, __VA_ARGS__)
#define LOG_INFO(module, ...) DFS_LOG(DFS_LOG_INFO, module, __VA_ARGS__)
#define LOG_WARN(module, ...) DFS_LOG(DFS_LOG_WARN, module, __VA_ARGS__)
#define LOG_ERROR(module, ...) DFS_LOG(DFS_LOG_ERROR, module, __VA_ARGS__)

#endif
