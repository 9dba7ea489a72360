/*
 * test_path.c - path validation and splitting: valid and invalid names
 * (relative, ".", "..", "//", empty, NUL, ':', long components, long paths),
 * trailing-slash normalisation, messages, parent/basename/is_under/next.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "path.h"

static int norm(const char *p, size_t len, char **out) {
  return dfs_path_normalize((const uint8_t *)p, len, 255, out);
}

static void expect_ok(const char *in, const char *want) {
  char *out = (char *)1;
  int rc = norm(in, strlen(in), &out);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc == 0) {
    CU_ASSERT_STRING_EQUAL(out, want);
    free(out);
  } else {
    fprintf(stderr, "unexpected failure for '%s': %s\n", in, dfs_err_msg());
  }
}

static void expect_bad_len(const char *in, size_t len, int code, const char *needle) {
  char *out = (char *)1;
  int rc = norm(in, len, &out);
  CU_ASSERT_EQUAL(rc, code);
  CU_ASSERT_PTR_NULL(out);
  if (needle) {
    CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), needle));
    if (!strstr(dfs_err_msg(), needle)) fprintf(stderr, "message: %s\n", dfs_err_msg());
  }
  if (rc == 0) free(out);
}
static void expect_bad(const char *in, int code, const char *needle) {
  expect_bad_len(in, strlen(in), code, needle);
}

static void test_valid(void) {
  expect_ok("/", "/");
  expect_ok("/a", "/a");
  expect_ok("/a/b/c", "/a/b/c");
  expect_ok("/a/b/", "/a/b");
  expect_ok("/a/", "/a");
  expect_ok("/.hidden/..x/x..", "/.hidden/..x/x..");
  expect_ok("/with space/ü", "/with space/ü");
}

static void test_invalid(void) {
  expect_bad("", DFS_EBADPATH, "empty path");
  expect_bad("a/b", DFS_EBADPATH, "not an absolute path");
  expect_bad("./a", DFS_EBADPATH, "not an absolute path");
  expect_bad("/a/../b", DFS_EBADPATH, "Invalid path name: /a/../b: '..' component");
  expect_bad("/..", DFS_EBADPATH, "'..'");
  expect_bad("/a/.", DFS_EBADPATH, "'.'");
  expect_bad("/./a", DFS_EBADPATH, "'.'");
  expect_bad("//", DFS_EBADPATH, "empty component");
  expect_bad("//a", DFS_EBADPATH, "empty component");
  expect_bad("/a//b", DFS_EBADPATH, "empty component");
  expect_bad("/a//", DFS_EBADPATH, "empty component");
  expect_bad("/a:b", DFS_EBADPATH, "':'");
  expect_bad("/x/c:", DFS_EBADPATH, "':'");
  expect_bad_len("/a\0b", 4, DFS_EBADPATH, "/a\\0b: contains a NUL byte");
  expect_bad_len("/a\0", 3, DFS_EBADPATH, "NUL");
}

static void test_limits(void) {
  char comp[300];
  memset(comp, 'x', sizeof comp);
  char p[300 + 2];
  p[0] = '/';
  memcpy(p + 1, comp, 255);
  p[256] = '\0';
  char *out;
  CU_ASSERT_EQUAL(norm(p, 256, &out), 0);
  free(out);
  memcpy(p + 1, comp, 256);
  p[257] = '\0';
  expect_bad(p, DFS_ENAMETOOLONG, "component of 256 bytes exceeds the limit 255");
  /* The limit is the caller's. */
  CU_ASSERT_EQUAL(dfs_path_normalize((const uint8_t *)"/abcd", 5, 3, &out), DFS_ENAMETOOLONG);

  /* Whole path: DFS_PATH_MAX bytes accepted, one more refused. */
  char *big = malloc(DFS_PATH_MAX + 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  for (size_t i = 0; i < DFS_PATH_MAX + 1; i++) big[i] = (i % 100 == 0) ? '/' : 'a';
  CU_ASSERT_EQUAL(norm(big, DFS_PATH_MAX, &out), 0);
  if (out) CU_ASSERT_EQUAL(strlen(out), (size_t)DFS_PATH_MAX);
  free(out);
  CU_ASSERT_EQUAL(norm(big, DFS_PATH_MAX + 1, &out), DFS_ENAMETOOLONG);
  CU_ASSERT_PTR_NULL(out);
  free(big);
}

static void test_printable(void) {
  char buf[64];
  dfs_path_printable((const uint8_t *)"/a\0\x01\x7f" "b", 6, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "/a\\0\\x01\\x7fb");
  dfs_path_printable((const uint8_t *)"/abcdefghijkl", 13, buf, 6);
  CU_ASSERT(strlen(buf) < 6);
  dfs_path_printable((const uint8_t *)"", 0, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "");
}

static void test_split(void) {
  char *p = dfs_path_parent("/a/b/c");
  CU_ASSERT_STRING_EQUAL(p, "/a/b");
  free(p);
  p = dfs_path_parent("/a");
  CU_ASSERT_STRING_EQUAL(p, "/");
  free(p);
  CU_ASSERT_PTR_NULL(dfs_path_parent("/"));
  CU_ASSERT_STRING_EQUAL(dfs_path_basename("/a/b/c"), "c");
  CU_ASSERT_STRING_EQUAL(dfs_path_basename("/a"), "a");
  CU_ASSERT_STRING_EQUAL(dfs_path_basename("/"), "");

  CU_ASSERT_TRUE(dfs_path_is_under("/a/b", "/a"));
  CU_ASSERT_TRUE(dfs_path_is_under("/a", "/a"));
  CU_ASSERT_TRUE(dfs_path_is_under("/a", "/"));
  CU_ASSERT_TRUE(dfs_path_is_under("/", "/"));
  CU_ASSERT_FALSE(dfs_path_is_under("/ab", "/a"));
  CU_ASSERT_FALSE(dfs_path_is_under("/a", "/a/b"));
  CU_ASSERT_FALSE(dfs_path_is_under("/b/a", "/a"));

  const char *names[4];
  size_t lens[4], pos = 0, n, k = 0;
  const char *start;
  while ((n = dfs_path_next("/usr/local/bin", &pos, &start)) != 0 && k < 4) {
    names[k] = start;
    lens[k++] = n;
  }
  CU_ASSERT_EQUAL(k, 3);
  CU_ASSERT_EQUAL(lens[0], 3);
  CU_ASSERT_EQUAL(strncmp(names[0], "usr", 3), 0);
  CU_ASSERT_EQUAL(strncmp(names[1], "local", lens[1]), 0);
  CU_ASSERT_EQUAL(strncmp(names[2], "bin", lens[2]), 0);
  pos = 0;
  CU_ASSERT_EQUAL(dfs_path_next("/", &pos, &start), 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("path", NULL, NULL);
  CU_add_test(s, "valid", test_valid);
  CU_add_test(s, "invalid", test_invalid);
  CU_add_test(s, "limits", test_limits);
  CU_add_test(s, "printable", test_printable);
  CU_add_test(s, "split", test_split);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
