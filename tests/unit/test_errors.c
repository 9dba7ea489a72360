/*
 * test_errors.c - the error table: messages and names of every entry,
 * errno pass-through, unknown codes, and that the explanation set by
 * dfs_err_set() is private to each thread.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static void test_table(void) {
  CU_ASSERT_STRING_EQUAL(dfs_strerror(0), "Success");
  CU_ASSERT_STRING_EQUAL(dfs_errname(0), "DFS_OK");
#define CHECK(name, value, msg)                          \
  CU_ASSERT_EQUAL(name, value);                          \
  CU_ASSERT_STRING_EQUAL(dfs_strerror(name), msg);       \
  CU_ASSERT_STRING_EQUAL(dfs_errname(name), #name);
  DFS_ERROR_TABLE(CHECK)
#undef CHECK
  /* System codes are the errno values. */
  CU_ASSERT_EQUAL(DFS_ENOENT, -ENOENT);
  CU_ASSERT_EQUAL(DFS_ECONNREFUSED, -ECONNREFUSED);
  CU_ASSERT_EQUAL(dfs_err_from_errno(EEXIST), DFS_EEXIST);
  CU_ASSERT_EQUAL(dfs_err_from_errno(0), DFS_EIO);
}

static void test_passthrough(void) {
  /* An errno not in the table keeps its system message. */
  CU_ASSERT_STRING_EQUAL(dfs_strerror(-EROFS), strerror(EROFS));
  CU_ASSERT_STRING_EQUAL(dfs_strerror(-EPIPE), strerror(EPIPE));
  CU_ASSERT_STRING_EQUAL(dfs_errname(-EROFS), "DFS_E?");
  CU_ASSERT_STRING_EQUAL(dfs_strerror(-999), "Unknown error -999");
  CU_ASSERT_STRING_EQUAL(dfs_strerror(-5000), "Unknown error -5000");
  CU_ASSERT_STRING_EQUAL(dfs_strerror(42), "Unknown error 42");
}

static void test_message(void) {
  dfs_err_clear();
  CU_ASSERT_EQUAL(dfs_err_code(), 0);
  CU_ASSERT_EQUAL(dfs_err_set(DFS_EEXIST, "create: %s: File exists", "/a/b"), DFS_EEXIST);
  CU_ASSERT_EQUAL(dfs_err_code(), DFS_EEXIST);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "create: /a/b: File exists");
  dfs_err_clear();
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "Success");
  /* Empty explanation: falls back to the table's text. */
  dfs_err_set(DFS_ENOSPC, "%s", "");
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "No space left on device");
  /* Long messages are truncated, not overflowed. */
  char big[3000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  dfs_err_set(DFS_EIO, "%s", big);
  CU_ASSERT_EQUAL(strlen(dfs_err_msg()), 1023u);
  dfs_err_clear();
}

struct thr {
  const char *text;
  int code;
  int ok;
  pthread_barrier_t *bar;
};

static void *thr_main(void *arg) {
  struct thr *t = arg;
  t->ok = 1;
  for (int i = 0; i < 2000; i++) {
    dfs_err_set(t->code, "%s %d", t->text, i);
    if (i == 0) pthread_barrier_wait(t->bar); /* both threads have set one */
    char want[64];
    snprintf(want, sizeof want, "%s %d", t->text, i);
    if (strcmp(dfs_err_msg(), want) != 0 || dfs_err_code() != t->code) t->ok = 0;
  }
  return NULL;
}

/* Wrapping the previous explanation, the pattern used everywhere. */
static void test_wrap(void) {
  dfs_err_set(DFS_ECONNREFUSED, "connect to 127.0.0.1:1: Connection refused");
  dfs_err_set(DFS_ECONNREFUSED, "GET_FILE_INFO to %s: %s", "127.0.0.1:1", dfs_err_msg());
  dfs_err_set(DFS_ECONNREFUSED, "ls: %s", dfs_err_msg());
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(),
                         "ls: GET_FILE_INFO to 127.0.0.1:1: connect to 127.0.0.1:1: Connection refused");
}

/* Wrapped many times over 1 KiB: the outermost context and the innermost
 * cause both survive. */
static void test_long(void) {
  dfs_err_set(DFS_EIO, "disk on fire: sector %d", 7);
  for (int i = 0; i < 60; i++) dfs_err_set(DFS_EIO, "layer %02d of the stack: %s", i, dfs_err_msg());
  const char *m = dfs_err_msg();
  size_t len = strlen(m);
  CU_ASSERT(len < 1024 && len > 900);
  CU_ASSERT(strncmp(m, "layer 59 of the stack: layer 58", 31) == 0);
  const char *cause = "disk on fire: sector 7";
  CU_ASSERT(len > strlen(cause) && strcmp(m + len - strlen(cause), cause) == 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(m, " [...] "));
  CU_ASSERT_EQUAL(dfs_err_code(), DFS_EIO);
  /* A cut never splits a UTF-8 character. */
  char big[3000];
  size_t n = 0;
  while (n + 2 < sizeof big - 1) {
    big[n++] = (char)0xC3; /* e-acute */
    big[n++] = (char)0xA9;
  }
  big[n] = '\0';
  dfs_err_set(DFS_EIO, "x%s", big);
  m = dfs_err_msg();
  len = strlen(m);
  const char *mk = strstr(m, " [...] ");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mk);
  CU_ASSERT(((mk - m) - 1) % 2 == 0); /* "x" then whole characters */
  CU_ASSERT((len - (size_t)(mk - m) - 7) % 2 == 0);
}

static void test_threads(void) {
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, 2);
  struct thr a = {"alpha", DFS_EPERM, 0, &bar}, b = {"beta", DFS_ENOENT, 0, &bar};
  pthread_t ta, tb;
  dfs_err_set(DFS_EINVAL, "main thread");
  CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, thr_main, &a), 0);
  CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, thr_main, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  pthread_barrier_destroy(&bar);
  CU_ASSERT_TRUE(a.ok);
  CU_ASSERT_TRUE(b.ok);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), "main thread");
  CU_ASSERT_EQUAL(dfs_err_code(), DFS_EINVAL);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("errors", NULL, NULL);
  CU_add_test(s, "table", test_table);
  CU_add_test(s, "passthrough", test_passthrough);
  CU_add_test(s, "message", test_message);
  CU_add_test(s, "wrap", test_wrap);
  CU_add_test(s, "long", test_long);
  CU_add_test(s, "threads", test_threads);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
