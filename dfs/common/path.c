/* path.c - validation and splitting of DFS path names (rules in path.h). */
#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

void dfs_path_printable(const uint8_t *p, size_t len, char *buf, size_t cap) {
  size_t o = 0;
  if (cap == 0) return;
  for (size_t i = 0; i < len && o + 5 < cap; i++) {
    uint8_t c = p[i];
    if (c == 0) {
      memcpy(buf + o, "\\0", 2);
      o += 2;
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  buf[o < cap ? o : cap - 1] = '\0';
}

int dfs_path_normalize(const uint8_t *path, size_t len, size_t max_component,
                       char **out) {
  char shown[256];
  *out = NULL;
  if (len == 0) return dfs_err_set(DFS_EBADPATH, "Invalid path name: empty path");
  dfs_path_printable(path, len, shown, sizeof shown);
  if (len > DFS_PATH_MAX)
    return dfs_err_set(DFS_ENAMETOOLONG, "Invalid path name: %s: longer than %d bytes",
                       shown, DFS_PATH_MAX);
  if (path[0] != '/')
    return dfs_err_set(DFS_EBADPATH, "Invalid path name: %s: not an absolute path", shown);
  if (memchr(path, 0, len))
    return dfs_err_set(DFS_EBADPATH, "Invalid path name: %s: contains a NUL byte", shown);
  /* One trailing slash is dropped ("/a/b/" is "/a/b"); more than one is an
   * empty component, as "//" and "/a//" are. */
  if (len >= 2 && path[len - 1] == '/' && path[len - 2] == '/')
    return dfs_err_set(DFS_EBADPATH, "Invalid path name: %s: empty component", shown);
  size_t n = len;
  if (n > 1 && path[n - 1] == '/') n--;
  size_t i = 1;
  while (i < n) {
    size_t s = i;
    while (i < n && path[i] != '/') i++;
    size_t clen = i - s;
    if (clen == 0)
      return dfs_err_set(DFS_EBADPATH, "Invalid path name: %s: empty component", shown);
    if ((clen == 1 && path[s] == '.') || (clen == 2 && path[s] == '.' && path[s + 1] == '.'))
      return dfs_err_set(DFS_EBADPATH, "Invalid path name: %s: '%.*s' component", shown,
                         (int)clen, (const char *)path + s);
    if (memchr(path + s, ':', clen))
      return dfs_err_set(DFS_EBADPATH, "Invalid path name: %s: ':' in a component", shown);
    if (clen > max_component)
      return dfs_err_set(DFS_ENAMETOOLONG,
                         "Invalid path name: %s: component of %zu bytes exceeds the limit %zu",
                         shown, clen, max_component);
    i++; /* skip '/' */
  }
  char *s = malloc(n + 1);
  if (!s) return dfs_err_set(DFS_ENOMEM, "out of memory");
  memcpy(s, path, n);
  s[n] = '\0';
  *out = s;
  return 0;
}

size_t dfs_path_next(const char *path, size_t *pos, const char **start) {
  size_t i = *pos;
  while (path[i] == '/') i++;
  if (path[i] == '\0') {
    *pos = i;
    return 0;
  }
  size_t s = i;
  while (path[i] && path[i] != '/') i++;
  *start = path + s;
  *pos = i;
  return i - s;
}

char *dfs_path_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash || (slash == path && path[1] == '\0')) return NULL; /* "/" */
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, path, n);
  p[n] = '\0';
  return p;
}

const char *dfs_path_basename(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int dfs_path_is_under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/') return path[0] == '/';
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}
