/*
 * test_cli_util.c - unit tests of the pure helpers of the `dfs` command
 * (dfs/tools/cli_util.c): option parsing, path resolution, permission
 * strings, Hadoop's human-readable sizes, chmod/chown parsing, the stat
 * format, ls columns and the progress line. No cluster needed.
 *
 * The tool's sources are built only into the `dfs` executable, not into a
 * library, so this test compiles cli_util.c into itself; cli_util.c depends
 * only on dfscommon (dfs_now_ms) and the public header.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dfs/tools/cli_util.c"

/* ---- options ---------------------------------------------------------------- */

static void test_flags(void) {
  char set[16], bad[64];
  unsigned ws;
  static const char *const words[] = {"-skipTrash", NULL};
  char *a1[] = {"rm", "-rf", "-skipTrash", "/x", "-r", NULL};
  int i = cli_flags(5, a1, "rRf", words, &ws, set, sizeof set, bad, sizeof bad);
  CU_ASSERT_EQUAL(i, 3); /* options stop at the first operand */
  CU_ASSERT_PTR_NOT_NULL(strchr(set, 'r'));
  CU_ASSERT_PTR_NOT_NULL(strchr(set, 'f'));
  CU_ASSERT_PTR_NULL(strchr(set, 'R'));
  CU_ASSERT_EQUAL(ws, 1u);

  char *a2[] = {"ls", "-Rx", "/", NULL};
  CU_ASSERT_EQUAL(cli_flags(3, a2, "Rhd", NULL, NULL, set, sizeof set, bad, sizeof bad), CLI_USAGE);
  CU_ASSERT_STRING_EQUAL(bad, "-Rx");

  char *a3[] = {"put", "-f", "-", "/dst", NULL}; /* "-" is stdin, an operand */
  CU_ASSERT_EQUAL(cli_flags(4, a3, "fpd", NULL, NULL, set, sizeof set, bad, sizeof bad), 2);
  CU_ASSERT_STRING_EQUAL(set, "f");

  char *a4[] = {"rm", "--", "-weird", NULL};
  CU_ASSERT_EQUAL(cli_flags(3, a4, "r", NULL, NULL, set, sizeof set, bad, sizeof bad), 2);
  CU_ASSERT_STRING_EQUAL(set, "");

  char *a5[] = {"ls", NULL};
  CU_ASSERT_EQUAL(cli_flags(1, a5, "R", NULL, NULL, set, sizeof set, bad, sizeof bad), 1);
}

static void check_resolve(const char *user, const char *arg, const char *want) {
  char *p = cli_resolve(user, arg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  if (strcmp(p, want) != 0) fprintf(stderr, "\nresolve(%s) = %s, want %s\n", arg, p, want);
  CU_ASSERT_STRING_EQUAL(p, want);
  free(p);
}

static void test_resolve(void) {
  check_resolve("alice", "/a/b", "/a/b");
  check_resolve("alice", "x", "/user/alice/x");
  check_resolve("alice", ".", "/user/alice");
  check_resolve("alice", "", "/user/alice");
  check_resolve("alice", "./d/../e/", "/user/alice/e");
  check_resolve("alice", "..", "/user");
  check_resolve("alice", "../../../..", "/");
  check_resolve("alice", "//a///b//", "/a/b");
  check_resolve("alice", "/", "/");
  check_resolve("alice", "hdfs://nn:8020/data/x", "/data/x");
  check_resolve("alice", "dfs://127.0.0.1:1", "/");
  check_resolve("bob", "a:b", "/user/bob/a:b"); /* a colon is just a character */
}

static void test_join_base(void) {
  char *j = cli_join("/", "a");
  CU_ASSERT_STRING_EQUAL(j, "/a");
  free(j);
  j = cli_join("/x", "a");
  CU_ASSERT_STRING_EQUAL(j, "/x/a");
  free(j);
  j = cli_join("rel", "a");
  CU_ASSERT_STRING_EQUAL(j, "rel/a");
  free(j);
  CU_ASSERT_STRING_EQUAL(cli_base("/a/b"), "b");
  CU_ASSERT_STRING_EQUAL(cli_base("b"), "b");
  CU_ASSERT_STRING_EQUAL(cli_base("/"), "/");
  CU_ASSERT_STRING_EQUAL(cli_base("-"), "-");
}

/* ---- formats ---------------------------------------------------------------- */

static void test_perm(void) {
  char out[11];
  cli_fmt_perm(0755, true, out);
  CU_ASSERT_STRING_EQUAL(out, "drwxr-xr-x");
  cli_fmt_perm(0644, false, out);
  CU_ASSERT_STRING_EQUAL(out, "-rw-r--r--");
  cli_fmt_perm(01777, true, out);
  CU_ASSERT_STRING_EQUAL(out, "drwxrwxrwt");
  cli_fmt_perm(01770, true, out);
  CU_ASSERT_STRING_EQUAL(out, "drwxrwx--T");
  cli_fmt_perm(0, false, out);
  CU_ASSERT_STRING_EQUAL(out, "----------");
}

static void check_human(uint64_t n, const char *unit, int dec, const char *want) {
  char out[32];
  cli_fmt_human(n, unit, dec, out, sizeof out);
  if (strcmp(out, want) != 0) fprintf(stderr, "\nhuman(%llu) = '%s', want '%s'\n", (unsigned long long)n, out, want);
  CU_ASSERT_STRING_EQUAL(out, want);
}

static void test_human(void) {
  /* ls -h / du -h: long2String(n, "", 1) */
  check_human(0, "", 1, "0");
  check_human(1023, "", 1, "1023");
  check_human(1024, "", 1, "1 K");
  check_human(1366, "", 1, "1.3 K");
  check_human(3000000, "", 1, "2.9 M");
  check_human(128ull << 20, "", 1, "128 M");
  check_human((1ull << 20) - 1, "", 1, "1.0 M"); /* 1023.999 K rounds up a prefix */
  check_human(5ull << 40, "", 1, "5 T");
  check_human(UINT64_MAX, "", 1, "16.0 E");
  /* dfsadmin: StringUtils.byteDesc = long2String(n, "B", 2) */
  check_human(0, "B", 2, "0 B");
  check_human(26624, "B", 2, "26 KB");
  check_human(1043081216, "B", 2, "994.76 MB");
  char out[32];
  cli_fmt_size(1366, false, out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "1366");
  cli_fmt_size(1366, true, out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "1.3 K");
}

static void test_time(void) {
  char out[64];
  cli_fmt_time(1795394546729LL, "%Y-%m-%d %H:%M", true, out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "2026-11-23 00:42");
  cli_fmt_time(0, "%Y-%m-%d %H:%M:%S", true, out, sizeof out);
  CU_ASSERT_STRING_EQUAL(out, "1970-01-01 00:00:00");
}

/* ---- parsing ---------------------------------------------------------------- */

static void test_mode(void) {
  CU_ASSERT_EQUAL(cli_parse_mode("755", 0, false), 0755);
  CU_ASSERT_EQUAL(cli_parse_mode("0644", 0777, false), 0644);
  CU_ASSERT_EQUAL(cli_parse_mode("1777", 0, true), 01777);
  CU_ASSERT_EQUAL(cli_parse_mode("u+x", 0644, false), 0744);
  CU_ASSERT_EQUAL(cli_parse_mode("go-w", 0777, false), 0755);
  CU_ASSERT_EQUAL(cli_parse_mode("u+x,go-w", 0666, false), 0744);
  CU_ASSERT_EQUAL(cli_parse_mode("a=r", 0777, false), 0444);
  CU_ASSERT_EQUAL(cli_parse_mode("+x", 0644, false), 0755); /* no who: all */
  CU_ASSERT_EQUAL(cli_parse_mode("o=", 0777, false), 0770);
  CU_ASSERT_EQUAL(cli_parse_mode("+t", 0777, true), 01777);
  CU_ASSERT_EQUAL(cli_parse_mode("-t", 01777, true), 0777);
  CU_ASSERT_EQUAL(cli_parse_mode("a+X", 0600, true), 0711);  /* dir: X is x */
  CU_ASSERT_EQUAL(cli_parse_mode("a+X", 0600, false), 0600); /* file without x */
  CU_ASSERT_EQUAL(cli_parse_mode("a+X", 0700, false), 0711); /* file with some x */
  CU_ASSERT_EQUAL(cli_parse_mode("u+x-w", 0644, false), 0544);
  CU_ASSERT_EQUAL(cli_parse_mode("ug=rw,o=r", 0, false), 0664);
  CU_ASSERT_EQUAL(cli_parse_mode("", 0644, false), -1);
  CU_ASSERT_EQUAL(cli_parse_mode("bad", 0644, false), -1);
  CU_ASSERT_EQUAL(cli_parse_mode("u+q", 0644, false), -1);
  CU_ASSERT_EQUAL(cli_parse_mode("u+x,", 0644, false), -1);
  CU_ASSERT_EQUAL(cli_parse_mode("u", 0644, false), -1);
  CU_ASSERT_EQUAL(cli_parse_mode("789", 0644, false), -1);
  CU_ASSERT_EQUAL(cli_parse_mode("17777", 0644, false), -1);
}

static void test_owner(void) {
  char o[32], g[32];
  CU_ASSERT_EQUAL(cli_parse_owner("alice", o, sizeof o, g, sizeof g), 0);
  CU_ASSERT_STRING_EQUAL(o, "alice");
  CU_ASSERT_STRING_EQUAL(g, "");
  CU_ASSERT_EQUAL(cli_parse_owner("alice:staff", o, sizeof o, g, sizeof g), 0);
  CU_ASSERT_STRING_EQUAL(o, "alice");
  CU_ASSERT_STRING_EQUAL(g, "staff");
  CU_ASSERT_EQUAL(cli_parse_owner(":staff", o, sizeof o, g, sizeof g), 0);
  CU_ASSERT_STRING_EQUAL(o, "");
  CU_ASSERT_STRING_EQUAL(g, "staff");
  CU_ASSERT_EQUAL(cli_parse_owner("alice:", o, sizeof o, g, sizeof g), 0);
  CU_ASSERT_STRING_EQUAL(g, "");
  CU_ASSERT_EQUAL(cli_parse_owner(":", o, sizeof o, g, sizeof g), -1);
  CU_ASSERT_EQUAL(cli_parse_owner("", o, sizeof o, g, sizeof g), -1);
  CU_ASSERT_EQUAL(cli_parse_owner("a:b:c", o, sizeof o, g, sizeof g), -1);
  CU_ASSERT_EQUAL(cli_parse_owner("a b", o, sizeof o, g, sizeof g), -1);
  CU_ASSERT_EQUAL(cli_parse_owner("averyveryveryverylongusernamethatdoesnotfit", o, sizeof o, g,
                                  sizeof g), -1);
}

static void test_long(void) {
  CU_ASSERT_EQUAL(cli_parse_long("3", 1, 512), 3);
  CU_ASSERT_EQUAL(cli_parse_long("0", 1, 512), -1);
  CU_ASSERT_EQUAL(cli_parse_long("513", 1, 512), -1);
  CU_ASSERT_EQUAL(cli_parse_long("-2", 1, 512), -1);
  CU_ASSERT_EQUAL(cli_parse_long("3x", 1, 512), -1);
  CU_ASSERT_EQUAL(cli_parse_long("", 1, 512), -1);
  CU_ASSERT_EQUAL(cli_parse_long("99999999999999999999999", 1, 512), -1);
}

/* ---- stat, ls, progress ---------------------------------------------------------- */

static struct dfs_stat sample_file(void) {
  struct dfs_stat st = {0};
  st.type = DFS_TYPE_FILE;
  st.length = 1366;
  st.permission = 0644;
  st.owner = "hadoop";
  st.group = "supergroup";
  st.mtime_ms = 1795394546729LL; /* 2026-11-23 00:42:26.729 UTC */
  st.atime_ms = 1000;
  st.replication = 3;
  st.blocksize = 134217728;
  return st;
}

static char *capture_stat(const char *fmt, const struct dfs_stat *st, const char *path) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cli_format_stat(f, fmt, st, path);
  fclose(f);
  return buf;
}

static void test_stat_format(void) {
  struct dfs_stat st = sample_file();
  char *s = capture_stat("%y", &st, "/d/file");
  CU_ASSERT_STRING_EQUAL(s, "2026-11-23 00:42:26\n");
  free(s);
  s = capture_stat("%b %F %g %n %o %r %u %a %A %Y %X %x", &st, "/d/file");
  CU_ASSERT_STRING_EQUAL(s, "1366 regular file supergroup file 134217728 3 hadoop 644 rw-r--r-- "
                            "1795394546729 1000 1970-01-01 00:00:01\n");
  free(s);
  st.type = DFS_TYPE_DIR;
  st.replication = 0;
  s = capture_stat("%F|%r|%%|%q\\n", &st, "/");
  CU_ASSERT_STRING_EQUAL(s, "directory|0|%|%q\n\n");
  free(s);
}

static void test_ls_line(void) {
  struct dfs_stat e[2] = {sample_file(), sample_file()};
  e[1].type = DFS_TYPE_DIR;
  e[1].length = 0;
  e[1].permission = 0755;
  e[1].replication = 0;
  e[1].owner = "hdfs";
  struct cli_ls_widths w;
  cli_ls_widths(e, 2, false, &w);
  CU_ASSERT_EQUAL(w.repl, 3);
  CU_ASSERT_EQUAL(w.owner, 6);
  CU_ASSERT_EQUAL(w.group, 10);
  CU_ASSERT_EQUAL(w.size, 10);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cli_ls_line(f, &e[0], "/d/file", false, &w, true);
  cli_ls_line(f, &e[1], "/d/sub", false, &w, true);
  cli_ls_widths(e, 1, true, &w);
  cli_ls_line(f, &e[0], "/d/file", true, &w, true);
  fclose(f);
  CU_ASSERT_STRING_EQUAL(buf,
                         "-rw-r--r--   3 hadoop supergroup       1366 2026-11-23 00:42 /d/file\n"
                         "drwxr-xr-x   - hdfs   supergroup          0 2026-11-23 00:42 /d/sub\n"
                         "-rw-r--r--   3 hadoop supergroup      1.3 K 2026-11-23 00:42 /d/file\n");
  free(buf);
}

static void test_progress(void) {
  char out[256];
  cli_fmt_progress(out, sizeof out, "f", 50u << 20, 100u << 20, 1000);
  CU_ASSERT_STRING_EQUAL(out, "f  50% [##########          ] 50.0/100.0 MB 50.0 MB/s ETA 0:01");
  cli_fmt_progress(out, sizeof out, "f", 0, 100u << 20, 0);
  CU_ASSERT_STRING_EQUAL(out, "f   0% [                    ] 0.0/100.0 MB 0.0 MB/s ETA --:--");
  cli_fmt_progress(out, sizeof out, "stdin", 3u << 20, 0, 2000);
  CU_ASSERT_STRING_EQUAL(out, "stdin 3.0 MB 1.5 MB/s");
  cli_fmt_progress(out, sizeof out, "f", 200, 100, 1000); /* grew past the size */
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "100%"));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_util", NULL, NULL);
  CU_add_test(s, "flags", test_flags);
  CU_add_test(s, "resolve", test_resolve);
  CU_add_test(s, "join_base", test_join_base);
  CU_add_test(s, "perm", test_perm);
  CU_add_test(s, "human", test_human);
  CU_add_test(s, "time", test_time);
  CU_add_test(s, "mode", test_mode);
  CU_add_test(s, "owner", test_owner);
  CU_add_test(s, "long", test_long);
  CU_add_test(s, "stat_format", test_stat_format);
  CU_add_test(s, "ls_line", test_ls_line);
  CU_add_test(s, "progress", test_progress);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
