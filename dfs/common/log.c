/* log.c - formats a line and writes it with one write(2). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int dfs__log_level = DFS_LOG_WARN;
static int log_fd = 2;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void dfs_log_init(int level, int fd) {
  dfs__log_level = level;
  log_fd = fd;
}

int dfs_log_level_parse(const char *s) {
  static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
  for (int i = 0; i < 5; i++)
    if (strcasecmp(s, names[i]) == 0) return i;
  return -1;
}

void dfs__log(int level, const char *module, const char *fmt, ...) {
  char line[4096];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  if (level < 0) level = 0;
  if (level > DFS_LOG_ERROR) level = DFS_LOG_ERROR;
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                   level_names[level], module);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof line / 2) n = (int)(sizeof line / 2); /* absurd module name */
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2; /* truncated message */
  line[len++] = '\n';
  ssize_t w = write(log_fd, line, len);
  (void)w;
}
