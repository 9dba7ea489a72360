/* errors.c - messages for the error table and the per-thread explanation. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char tl_msg[1024];
static _Thread_local int tl_code;

const char *dfs_strerror(int code) {
  switch (code) {
  case DFS_OK: return "Success";
#define DFS__ERR_CASE(name, value, msg) case name: return msg;
  DFS_ERROR_TABLE(DFS__ERR_CASE)
#undef DFS__ERR_CASE
  default: break;
  }
  if (code < 0 && code > -1000) {
    /* strerror() may use a shared buffer only for unknown values, which we
     * never pass: glibc returns static strings for known errnos. */
    static _Thread_local char buf[64];
    if (strerrordesc_np(-code) != NULL) return strerrordesc_np(-code);
    snprintf(buf, sizeof buf, "Unknown error %d", code);
    return buf;
  }
  static _Thread_local char buf2[64];
  snprintf(buf2, sizeof buf2, "Unknown error %d", code);
  return buf2;
}

const char *dfs_errname(int code) {
  switch (code) {
  case DFS_OK: return "DFS_OK";
#define DFS__ERR_NAME(name, value, msg) case name: return #name;
  DFS_ERROR_TABLE(DFS__ERR_NAME)
#undef DFS__ERR_NAME
  default: return "DFS_E?";
  }
}

/* Fits the n-byte message `all` into cap bytes: its start, " [...] ", and
 * its end, cut between UTF-8 characters. */
static void fit(char *dst, size_t cap, const char *all, size_t n) {
  static const char mark[] = " [...] ";
  size_t head = (cap - 1) / 3, tail = cap - 1 - head - (sizeof mark - 1);
  while (head > 0 && ((unsigned char)all[head] & 0xC0) == 0x80) head--;
  size_t from = n - tail;
  while (from < n && ((unsigned char)all[from] & 0xC0) == 0x80) from++;
  memcpy(dst, all, head);
  memcpy(dst + head, mark, sizeof mark - 1);
  memcpy(dst + head + sizeof mark - 1, all + from, n - from + 1);
}

int dfs_err_set(int code, const char *fmt, ...) {
  /* Format into a copy first: callers wrap the previous explanation,
   * dfs_err_set(rc, "open %s: %s", path, dfs_err_msg()), and vsnprintf
   * into the buffer it reads from garbles the message. */
  char buf[sizeof tl_msg];
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof buf) {
    /* Too long: explanations nest ("what: what: ...: why") and cutting the
     * end would lose the cause. Keep the start (what was being done) and
     * the end (why it failed). */
    char *all = malloc((size_t)n + 1);
    if (all) {
      vsnprintf(all, (size_t)n + 1, fmt, again);
      fit(buf, sizeof buf, all, (size_t)n);
      free(all);
    }
  }
  va_end(again);
  memcpy(tl_msg, buf, strlen(buf) + 1);
  tl_code = code;
  return code;
}

const char *dfs_err_msg(void) {
  if (tl_msg[0] == '\0') return dfs_strerror(tl_code);
  return tl_msg;
}

int dfs_err_code(void) { return tl_code; }

void dfs_err_clear(void) {
  tl_msg[0] = '\0';
  tl_code = 0;
}
