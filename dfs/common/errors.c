/* errors.c - messages for the error table and the per-thread explanation. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
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

int dfs_err_set(int code, const char *fmt, ...) {
  /* Format into a copy first: callers wrap the previous explanation,
   * dfs_err_set(rc, "open %s: %s", path, dfs_err_msg()), and vsnprintf
   * into the buffer it reads from garbles the message. */
  char buf[sizeof tl_msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
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
