/*
 * fuzz_path.c - fuzz target for dfs_path_normalize() (every path that
 * arrives over the wire goes through it) and the helpers that then work on
 * normalized paths. Byte 0 gives the component limit. Properties checked:
 * a normalized path is valid again and unchanged by a second pass, has no
 * empty component, and parent/basename/is_under/next agree with each other.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_seeds.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max_component = 1 + data[0];
  data++;
  size--;
  char shown[40];
  dfs_path_printable(data, size, shown, sizeof shown);
  if (strlen(shown) >= sizeof shown) __builtin_trap();

  char *out = NULL;
  if (dfs_path_normalize(data, size, max_component, &out) != 0) {
    if (out) __builtin_trap();
    return 0;
  }
  size_t n = strlen(out);
  if (n == 0 || n > size || out[0] != '/' || strstr(out, "//")) __builtin_trap();
  if (n > 1 && out[n - 1] == '/') __builtin_trap();
  char *again = NULL;
  if (dfs_path_normalize((const uint8_t *)out, n, max_component, &again) != 0 ||
      strcmp(again, out) != 0)
    __builtin_trap();
  free(again);

  size_t pos = 0, comps = 0, clen, total = 0;
  const char *start;
  while ((clen = dfs_path_next(out, &pos, &start)) != 0) {
    if (clen > max_component) __builtin_trap();
    comps++;
    total += clen;
  }
  if (n != (comps ? total + comps : 1)) __builtin_trap();

  char *parent = dfs_path_parent(out);
  const char *base = dfs_path_basename(out);
  if (comps == 0) {
    if (parent || *base) __builtin_trap();
  } else {
    if (!parent || !dfs_path_is_under(out, parent) || !dfs_path_is_under(out, "/")) __builtin_trap();
    if (strlen(base) == 0 || strchr(base, '/')) __builtin_trap();
    if (comps == 1 ? strcmp(parent, "/") != 0
                   : strlen(parent) + 1 + strlen(base) != n)
      __builtin_trap();
    if (dfs_path_is_under(parent, out)) __builtin_trap();
  }
  free(parent);
  free(out);
  return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t len)) {
  static const char *const s[] = {"\xff/", "\xff/a/b/c", "\xff/user/alice/file.txt/",
                                  "\x03/abc/abcd", "\xff/a/../b", "\xff/a:b/./c//d"};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
    add((const uint8_t *)s[i], strlen(s[i]));
}
