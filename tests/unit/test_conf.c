/*
 * test_conf.c - configuration: defaults of every key, parsing of each type
 * (size and duration suffixes, booleans, numbers, addresses, lists), bounds,
 * error messages naming source, key and reason, unknown keys, XML files
 * (good, malformed, wrong root), -D precedence over the file, argv
 * rewriting by dfs_conf_from_args, printing, configurations of several
 * tables (namespaces, merged site files).
 *
 * It also keeps docs/configuration.md honest: the document must be exactly
 * what `test_conf --markdown` prints (the intro below, then the filesystem's
 * table and the database's, client/hbase_conf_keys.def), so a key added to
 * either table without regenerating the doc fails here. Regenerate with
 *   build/bin/test_conf --markdown > docs/configuration.md
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "errors.h"
#include "hbase_conf.h"

static const char doc_intro[] =
    "# Configuration reference\n"
    "\n"
    "Every key the filesystem and the database read, with its type, default,\n"
    "bounds and meaning. Files are Hadoop-style XML (`<configuration><property>`\n"
    "`<name>` `<value>`) in one configuration directory: `--conf DIR`, else\n"
    "`$DFS_CONF_DIR`, else the source tree's `etc/`.\n"
    "\n"
    "* The filesystem's programs (NameNode, DataNode, `dfs`, the FUSE mount) read\n"
    "  `dfs-site.xml`. They judge keys of the `dfs.`, `ipc.` and `net.`\n"
    "  namespaces and ignore all others (an `hbase.` key there is left alone).\n"
    "* The database's programs (RegionServer, later HMaster and the REST gateway)\n"
    "  read `dfs-site.xml` (for their DFS client) and then `hbase-site.xml`\n"
    "  (`etc/hbase-site.xml` holds the local cluster's settings). As Hadoop merges\n"
    "  its resources into one Configuration, the two files are merged: either may\n"
    "  set any key of either table (HBase deployments often put `dfs.` client\n"
    "  keys in `hbase-site.xml`), and `hbase-site.xml` wins when both set a key.\n"
    "  These programs judge the `hbase.` and `hfile.` namespaces as well.\n"
    "\n"
    "Values come, in increasing precedence, from the defaults below, from the\n"
    "files, and from `-D key=value` on a command line. `--print-config` shows the\n"
    "effective value of every key and where it came from.\n"
    "\n"
    "How the keys are declared: one table per layer, in the same X-macro format\n"
    "(name, type, default, bounds, unit, description): the filesystem's in\n"
    "`dfs/common/conf_keys.def`, the database's in `client/hbase_conf_keys.def`.\n"
    "`dfs/` knows nothing of the database (DESIGN.md section 5), so the database's\n"
    "table lives with the code every database program shares and is handed to the\n"
    "configuration code (`dfs_conf_new_tables`, used by `hbase_conf_new`); the\n"
    "same parsing, validation, printing and this document serve both tables, and a\n"
    "table's namespaces are the first components of its key names.\n"
    "\n"
    "Types:\n"
    "\n"
    "* **size**: bytes, with an optional binary suffix `k`, `m`, `g`, `t`, `p`\n"
    "  (`128m` = 134217728); `1.5m` is allowed and rounded to a whole byte.\n"
    "* **duration**: a bare number is in the key's unit (shown in brackets); a\n"
    "  number with `ms`, `s`, `m`, `h` or `d` is converted and must come out\n"
    "  whole (`2m` for a seconds key is 120; `1500ms` for a seconds key is an error).\n"
    "* **boolean**: `true` or `false`, any case.\n"
    "* **host:port**: port 0..65535; port 0 lets the daemon pick a free port.\n"
    "* **list**: comma-separated, no empty element.\n"
    "\n"
    "A malformed value, a value outside the bounds, or an unknown key in a judged\n"
    "namespace stops the daemon with a message such as\n"
    "`namenode: /etc/dfs/dfs-site.xml: dfs.blocksize: value '1k' is below the minimum 4096`.\n"
    "The RegionServer also checks keys against each other (e.g.\n"
    "`hbase.hstore.compaction.min` not above `hbase.hstore.compaction.max`,\n"
    "`hbase.rootdir` an absolute path) and names file, key and reason likewise.\n"
    "\n"
    "Where the database's keys differ from HBase: `hfile.block.cache.capacity` is\n"
    "an absolute size (HBase's `hfile.block.cache.size` is a fraction of the Java\n"
    "heap, which does not exist here, and is an unknown key);\n"
    "`hbase.hstore.compaction.throughput.higher.bound` is a fixed limit (HBase\n"
    "tunes between it and a lower bound by compaction pressure);\n"
    "`hbase.hstore.flush.throughput.lower.bound` and `.upper.bound` pace flushes by\n"
    "default (HBase's flush throughput controller is off unless configured);\n"
    "`hbase.rs.cacheblocksonwrite` is on by default (off in HBase);\n"
    "`hbase.rootdir`\n"
    "is a path, not a URI; `hbase.zookeeper.quorum` entries carry their port.\n"
    "\n"
    "This file is generated from both tables by `dfs_conf_print_markdown_keys()`;\n"
    "`tests/unit/test_conf.c` fails when it is out of date. Regenerate it with\n"
    "`build/bin/test_conf --markdown > docs/configuration.md`.\n"
    "\n";

static const char doc_dfs_head[] =
    "## Filesystem keys (dfs-site.xml)\n"
    "\n"
    "Declared in `dfs/common/conf_keys.def`. Where a default differs from HDFS:\n"
    "`dfs.datanode.sync.behind.writes` is on (data that hflushes put in the page\n"
    "cache is written back as it comes, not all at once when the block closes;\n"
    "docs/datanode.md).\n"
    "\n";

static const char doc_hbase_head[] =
    "\n"
    "## Database keys (hbase-site.xml)\n"
    "\n"
    "Declared in `client/hbase_conf_keys.def`; names and defaults are HBase's\n"
    "where the concept is the same. `regionserver/rs_conf.c` maps them onto the\n"
    "storage engine's options.\n"
    "\n";

static char tmpdir[PATH_MAX];

static int init_suite(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_conf.XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int clean_suite(void) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Write text to <tmpdir>/<sub>/dfs-site.xml; returns the file's path. */
static const char *write_site(const char *sub, const char *text) {
  static char path[PATH_MAX + 64];
  char dir[PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/dfs-site.xml", dir);
  FILE *f = fopen(path, "w");
  if (!f) return NULL;
  fputs(text, f);
  fclose(f);
  return path;
}

static int set(dfs_conf *c, const char *key, const char *val) {
  return dfs_conf_set(c, key, val, "src");
}

/* Expect set() to fail with DFS_ECONFIG and a message containing `needle`. */
static void bad(dfs_conf *c, const char *key, const char *val, const char *needle) {
  int rc = set(c, key, val);
  CU_ASSERT_EQUAL(rc, DFS_ECONFIG);
  if (rc != DFS_ECONFIG) fprintf(stderr, "%s=%s unexpectedly accepted\n", key, val);
  if (needle && !strstr(dfs_err_msg(), needle)) {
    CU_FAIL("message");
    fprintf(stderr, "message '%s' lacks '%s'\n", dfs_err_msg(), needle);
  }
}

static void test_defaults(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c); /* every default in the table is valid */
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 3);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.blocksize"), 128ll << 20);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.namenode.checkpoint.period"), 3600);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.client.socket-timeout"), 60000);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.block.scanner.volume.bytes.per.second"), 1 << 20);
  CU_ASSERT_TRUE(dfs_conf_bool(c, "dfs.permissions.enabled"));
  CU_ASSERT_TRUE(dfs_conf_bool(c, "dfs.datanode.sync.behind.writes"));
  CU_ASSERT_DOUBLE_EQUAL(dfs_conf_double(c, "dfs.namenode.safemode.threshold-pct"), 0.999,
                         1e-12);
  CU_ASSERT_STRING_EQUAL(dfs_conf_str(c, "dfs.namenode.rpc-address"), "127.0.0.1:8020");
  CU_ASSERT_STRING_EQUAL(dfs_conf_str(c, "dfs.datanode.hostname"), "");
  CU_ASSERT_PTR_NULL(dfs_conf_dir(c));
  /* Table sanity: names unique, bounds ordered, durations have a unit. */
  for (int i = 0; dfs_conf_keys[i].name; i++) {
    const struct dfs_conf_key *k = &dfs_conf_keys[i];
    CU_ASSERT_PTR_NOT_NULL(k->desc);
    CU_ASSERT(k->min <= k->max);
    if (k->type == DFS_CONF_DURATION)
      CU_ASSERT(k->unit && (!strcmp(k->unit, "s") || !strcmp(k->unit, "ms")));
    for (int j = 0; j < i; j++) CU_ASSERT(strcmp(dfs_conf_keys[j].name, k->name) != 0);
  }
  dfs_conf_free(c);
  dfs_conf_free(NULL);
}

static void test_int(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(set(c, "dfs.replication", "5"), 0);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 5);
  CU_ASSERT_EQUAL(set(c, "dfs.replication", "512"), 0);
  CU_ASSERT_EQUAL(set(c, "dfs.replication", "1"), 0);
  bad(c, "dfs.replication", "abc", "src: dfs.replication: value 'abc' is not an integer");
  bad(c, "dfs.replication", "", "is not an integer");
  bad(c, "dfs.replication", "3x", "is not an integer");
  bad(c, "dfs.replication", "1.5", "is not an integer");
  bad(c, "dfs.replication", "99999999999999999999999", "is not an integer");
  bad(c, "dfs.replication", "0", "src: dfs.replication: value '0' is below the minimum 1");
  bad(c, "dfs.replication", "513", "value '513' is above the maximum 512");
  bad(c, "dfs.replication", "-3", "below the minimum");
  /* A refused value leaves the previous one. */
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 1);
  CU_ASSERT_EQUAL(set(c, "dfs.namenode.checkpoint.txns", "1000000000000"), 0);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.namenode.checkpoint.txns"), 1000000000000ll);
  dfs_conf_free(c);
}

static void test_size(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  const char *k = "dfs.datanode.du.reserved";
  struct { const char *text; int64_t want; } ok[] = {
      {"0", 0}, {"10", 10}, {"1k", 1024}, {"1K", 1024}, {"2m", 2 << 20},
      {"3g", 3ll << 30}, {"1t", 1ll << 40}, {"2p", 2ll << 50}, {"1.5k", 1536},
      {"0.5m", 512 << 10}, {" 4 k ", 4096}, {"100b", 100},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    CU_ASSERT_EQUAL(set(c, k, ok[i].text), 0);
    CU_ASSERT_EQUAL(dfs_conf_int(c, k), ok[i].want);
    if (dfs_conf_int(c, k) != ok[i].want) fprintf(stderr, "size %s\n", ok[i].text);
  }
  bad(c, k, "abc", "is not a size");
  bad(c, k, "k", "is not a size");
  bad(c, k, "1x", "is not a size");
  bad(c, k, "1kk", "is not a size");
  bad(c, k, "0x10", "is not a size");
  bad(c, k, "1.5", "is not a size");
  bad(c, k, "inf", "is not a size");
  bad(c, k, "nan", "is not a size");
  bad(c, k, "", "is not a size");
  bad(c, k, "-1", "below the minimum 0");
  bad(c, k, "1000p", "above the maximum");
  bad(c, "dfs.blocksize", "1k", "src: dfs.blocksize: value '1k' is below the minimum 4096");
  CU_ASSERT_EQUAL(set(c, "dfs.blocksize", "64M"), 0);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.blocksize"), 64 << 20);
  dfs_conf_free(c);
}

static void test_duration(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  const char *s = "dfs.heartbeat.interval";   /* seconds, 1..3600 */
  const char *ms = "dfs.client.socket-timeout"; /* ms, 100..3600000 */
  struct { const char *key, *text; int64_t want; } ok[] = {
      {s, "5", 5}, {s, "2m", 120}, {s, "1h", 3600}, {s, "3000ms", 3}, {s, "7s", 7},
      {s, "7 S", 7}, {s, "0.5m", 30}, {ms, "500", 500}, {ms, "500ms", 500},
      {ms, "2s", 2000}, {ms, "1m", 60000}, {ms, "1h", 3600000}, {ms, "1.5s", 1500},
      {"dfs.blockreport.intervalMsec", "1d", 86400000},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    CU_ASSERT_EQUAL(set(c, ok[i].key, ok[i].text), 0);
    CU_ASSERT_EQUAL(dfs_conf_int(c, ok[i].key), ok[i].want);
    if (dfs_conf_int(c, ok[i].key) != ok[i].want)
      fprintf(stderr, "duration %s=%s: %s\n", ok[i].key, ok[i].text, dfs_err_msg());
  }
  bad(c, s, "1500ms", "value '1500ms' is not a whole number of seconds");
  bad(c, s, "1.5", "not a whole number");
  bad(c, s, "abc", "is not a duration");
  bad(c, s, "5x", "is not a duration");
  bad(c, s, "5 minutes", "is not a duration");
  bad(c, s, "1d", "value '1d' is above the maximum 3600");
  bad(c, s, "0", "below the minimum 1");
  bad(c, ms, "50ms", "below the minimum 100");
  dfs_conf_free(c);
}

static void test_bool_double(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  const char *b = "dfs.permissions.enabled";
  CU_ASSERT_EQUAL(set(c, b, "FALSE"), 0);
  CU_ASSERT_FALSE(dfs_conf_bool(c, b));
  CU_ASSERT_EQUAL(set(c, b, "True"), 0);
  CU_ASSERT_TRUE(dfs_conf_bool(c, b));
  CU_ASSERT_EQUAL(set(c, b, "false"), 0);
  CU_ASSERT_FALSE(dfs_conf_bool(c, b));
  bad(c, b, "yes", "src: dfs.permissions.enabled: value 'yes' is not true or false");
  bad(c, b, "1", "is not true or false");
  bad(c, b, "", "is not true or false");

  const char *d = "dfs.namenode.safemode.threshold-pct";
  CU_ASSERT_EQUAL(set(c, d, "0.5"), 0);
  CU_ASSERT_DOUBLE_EQUAL(dfs_conf_double(c, d), 0.5, 1e-12);
  CU_ASSERT_EQUAL(set(c, d, "1"), 0);
  CU_ASSERT_DOUBLE_EQUAL(dfs_conf_double(c, d), 1.0, 1e-12);
  CU_ASSERT_EQUAL(set(c, d, "1.5"), 0);
  bad(c, d, "abc", "is not a number");
  bad(c, d, "0.5x", "is not a number");
  bad(c, d, "nan", "is not a number");
  bad(c, d, "1.6", "above the maximum 1.5");
  bad(c, d, "-0.1", "below the minimum 0");
  CU_ASSERT_DOUBLE_EQUAL(dfs_conf_double(c, d), 1.5, 1e-12);
  dfs_conf_free(c);
}

static void test_addr_list_string(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  const char *a = "dfs.namenode.rpc-address";
  const char *good[] = {"127.0.0.1:0", "localhost:65535", "nn.example.com:8020", "[::1]:9000"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CU_ASSERT_EQUAL(set(c, a, good[i]), 0);
    CU_ASSERT_STRING_EQUAL(dfs_conf_str(c, a), good[i]);
  }
  const char *badv[] = {"localhost", ":8020", "h:", "h:65536", "h:80x", "h:-1", "h: 80",
                        "h:+80", "h:123456", ""};
  for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++)
    bad(c, a, badv[i], "is not a host:port address");

  const char *l = "dfs.datanode.data.dir";
  CU_ASSERT_EQUAL(set(c, l, "/d1,/d2,/d3"), 0);
  CU_ASSERT_STRING_EQUAL(dfs_conf_str(c, l), "/d1,/d2,/d3");
  CU_ASSERT_EQUAL(set(c, l, "/only"), 0);
  bad(c, l, "", "is an empty list");
  bad(c, l, "/a,,/b", "has an empty list element");
  bad(c, l, "/a,", "has an empty list element");
  bad(c, l, ", /a", "has an empty list element");

  CU_ASSERT_EQUAL(set(c, "dfs.datanode.hostname", "dn7"), 0);
  CU_ASSERT_STRING_EQUAL(dfs_conf_str(c, "dfs.datanode.hostname"), "dn7");
  CU_ASSERT_EQUAL(set(c, "dfs.datanode.hostname", ""), 0);
  CU_ASSERT_EQUAL(set(c, "dfs.log.level", "debug"), 0);
  CU_ASSERT_EQUAL(set(c, "dfs.log.level", "OFF"), 0);
  bad(c, "dfs.log.level", "VERBOSE", "value 'VERBOSE' is not DEBUG, INFO, WARN, ERROR or OFF");
  dfs_conf_free(c);
}

static void test_unknown_keys(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  bad(c, "dfs.no.such.key", "1", "src: dfs.no.such.key: unknown key");
  bad(c, "ipc.nope", "1", "unknown key");
  bad(c, "net.nope", "1", "unknown key");
  CU_ASSERT_EQUAL(set(c, "hbase.regionserver.handler.count", "30"), 0);
  CU_ASSERT_EQUAL(set(c, "fs.defaultFS", "hdfs://x"), 0);
  CU_ASSERT_EQUAL(set(c, "dfsx.foo", "1"), 0); /* only the "dfs." prefix is ours */
  dfs_conf_free(c);
}

static void test_files(void) {
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  const char *p = write_site("good",
                             "<?xml version=\"1.0\"?>\n"
                             "<!-- comment -->\n"
                             "<configuration>\n"
                             "  <property>\n"
                             "    <name> dfs.replication </name>\n"
                             "    <value>\n      2\n    </value>\n"
                             "    <description>ignored</description>\n"
                             "  </property>\n"
                             "  <property><name>dfs.blocksize</name><value>1m</value></property>\n"
                             "  <property><name>hbase.zookeeper.quorum</name><value>z</value></property>\n"
                             "</configuration>\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), 0);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 2);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.blocksize"), 1 << 20);

  char want[PATH_MAX + 128];
  /* A bad value names the file, the key and the reason. */
  p = write_site("badval", "<configuration><property><name>dfs.replication</name>"
                           "<value>abc</value></property></configuration>\n");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  snprintf(want, sizeof want, "%s: dfs.replication: value 'abc' is not an integer", p);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), want);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 2);

  p = write_site("unknown", "<configuration><property><name>dfs.replicaton</name>"
                            "<value>3</value></property></configuration>\n");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  snprintf(want, sizeof want, "%s: dfs.replicaton: unknown key", p);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), want);

  /* Malformed XML: libxml2's line, and nothing printed by libxml2 itself. */
  p = write_site("malformed", "<configuration>\n<property>\n<name>dfs.replication</name>\n"
                              "<value>3</value>\n</propert>\n</configuration>\n");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "malformed XML"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "line 5"));
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), p));
  CU_ASSERT_PTR_NULL(strchr(dfs_err_msg(), '\n'));
  if (!strstr(dfs_err_msg(), "line 5")) fprintf(stderr, "%s\n", dfs_err_msg());

  p = write_site("empty", "");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  p = write_site("root", "<properties/>\n");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "<configuration>"));
  p = write_site("elem", "<configuration><prop/></configuration>\n");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  p = write_site("novalue", "<configuration><property><name>dfs.replication</name>"
                            "</property></configuration>\n");
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, p, false), DFS_ECONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "without <name> or <value>"));

  char missing[PATH_MAX + 32];
  snprintf(missing, sizeof missing, "%s/none/dfs-site.xml", tmpdir);
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, missing, true), 0);
  CU_ASSERT_EQUAL(dfs_conf_load_file(c, missing, false), DFS_ENOENT);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 2);
  dfs_conf_free(c);
}

static void test_from_args(void) {
  write_site("args", "<configuration>"
                     "<property><name>dfs.replication</name><value>5</value></property>"
                     "<property><name>dfs.ls.limit</name><value>77</value></property>"
                     "</configuration>\n");
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/args", tmpdir);
  unsetenv("DFS_CONF_DIR");

  /* -D wins over the file whatever the order; other args stay in order. */
  dfs_conf *c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  char *argv[] = {"prog", "-D", "dfs.replication=2", "first", "--conf", dir,
                  "-Ddfs.blocksize=1m", "--print-config", "second", "-x", NULL};
  int argc = 10;
  bool pc = false;
  CU_ASSERT_EQUAL(dfs_conf_from_args(c, &argc, argv, &pc), 0);
  CU_ASSERT_EQUAL(argc, 4);
  CU_ASSERT_STRING_EQUAL(argv[0], "prog");
  CU_ASSERT_STRING_EQUAL(argv[1], "first");
  CU_ASSERT_STRING_EQUAL(argv[2], "second");
  CU_ASSERT_STRING_EQUAL(argv[3], "-x");
  CU_ASSERT_PTR_NULL(argv[4]);
  CU_ASSERT_TRUE(pc);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 2);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.ls.limit"), 77);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.blocksize"), 1 << 20);
  CU_ASSERT_STRING_EQUAL(dfs_conf_dir(c), dir);

  /* --print-config shows value and source. */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  dfs_conf_print(c, f);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "dfs.replication = 2    # -D; "));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "dfs.permissions.enabled = true    # default; "));
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "dfs.ls.limit = 77    # %s/dfs-site.xml; ", dir);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
  free(buf);
  dfs_conf_free(c);

  /* $DFS_CONF_DIR when there is no --conf; "--" ends option parsing. */
  c = dfs_conf_new();
  setenv("DFS_CONF_DIR", dir, 1);
  char *argv2[] = {"prog", "--", "-D", "x", NULL};
  argc = 4;
  CU_ASSERT_EQUAL(dfs_conf_from_args(c, &argc, argv2, NULL), 0);
  CU_ASSERT_EQUAL(argc, 4);
  CU_ASSERT_STRING_EQUAL(argv2[2], "-D");
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 5);
  unsetenv("DFS_CONF_DIR");
  dfs_conf_free(c);

  /* Neither: the source tree's etc/ (it exists in a build tree), whose
   * shipped dfs-site.xml must itself be valid. */
  c = dfs_conf_new();
  char *argv3[] = {"prog", NULL};
  argc = 1;
  int rc = dfs_conf_from_args(c, &argc, argv3, NULL);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "%s\n", dfs_err_msg());
  CU_ASSERT_STRING_EQUAL(dfs_conf_dir(c), DFS_SOURCE_ETC_DIR);
  dfs_conf_free(c);

  /* Errors. */
  struct { char *args[4]; const char *needle; } errs[] = {
      {{"prog", "--conf", NULL}, "--conf needs a directory"},
      {{"prog", "-D", NULL}, "-D needs key=value"},
      {{"prog", "-Dnoequals", NULL}, "expected key=value"},
      {{"prog", "-D", "=3", NULL}, "expected key=value"},
      {{"prog", "-D", "dfs.bogus=1", NULL}, "dfs.bogus: unknown key"},
      {{"prog", "-D", "dfs.replication=x", NULL}, "-D: dfs.replication: value 'x' is not an integer"},
      {{"prog", "--conf", "/nonexistent/dir", NULL}, "/nonexistent/dir: configuration directory not found"},
  };
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    c = dfs_conf_new();
    argc = 0;
    while (errs[i].args[argc]) argc++;
    CU_ASSERT_EQUAL(dfs_conf_from_args(c, &argc, errs[i].args, NULL), DFS_ECONFIG);
    if (!strstr(dfs_err_msg(), errs[i].needle)) {
      CU_FAIL("from_args message");
      fprintf(stderr, "message '%s' lacks '%s'\n", dfs_err_msg(), errs[i].needle);
    }
    dfs_conf_free(c);
  }
}

/* A second table, as a higher layer hands one in (the database's is
 * client/hbase_conf_keys.def; this one keeps the test to conf.c itself). */
static const struct dfs_conf_key x_keys[] = {
    {"xdb.count", DFS_CONF_INT, "4", 1, 100, NULL, "a count"},
    {"xdb.period", DFS_CONF_DURATION, "1000", 1, 60000, "ms", "a period"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct dfs_conf_table x_table = {"x-site.xml", x_keys};
static const struct dfs_conf_key dup_keys[] = {
    {"dfs.replication", DFS_CONF_INT, "3", 1, 512, NULL, "twice"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};
static const struct dfs_conf_table dup_table = {"dup-site.xml", dup_keys};

static void write_file(const char *sub, const char *file, const char *text) {
  char path[PATH_MAX + 96];
  snprintf(path, sizeof path, "%s/%s", tmpdir, sub);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/%s", tmpdir, sub, file);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

static void test_tables(void) {
  const struct dfs_conf_table *both[] = {&dfs_conf_dfs_table, &x_table};
  dfs_conf *c = dfs_conf_new_tables(both, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "xdb.count"), 4);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 3);
  CU_ASSERT_STRING_EQUAL(dfs_conf_source(c, "xdb.count"), "default");
  /* Both tables' namespaces are judged; others still pass. */
  bad(c, "xdb.cuont", "1", "src: xdb.cuont: unknown key");
  bad(c, "dfs.nope", "1", "unknown key");
  bad(c, "xdb.count", "0", "src: xdb.count: value '0' is below the minimum 1");
  CU_ASSERT_EQUAL(set(c, "hbase.anything", "1"), 0);
  dfs_conf_free(c);
  /* The filesystem's configuration alone leaves the other table's keys be. */
  c = dfs_conf_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(set(c, "xdb.cuont", "1"), 0);
  dfs_conf_free(c);
  /* Bad table sets. */
  const struct dfs_conf_table *dup[] = {&dfs_conf_dfs_table, &dup_table};
  CU_ASSERT_PTR_NULL(dfs_conf_new_tables(dup, 2));
  CU_ASSERT_PTR_NULL(dfs_conf_new_tables(both, 0));
  /* The database's table is sound: valid defaults, no name shared with the
   * filesystem's, durations with a unit, bounds ordered. */
  c = hbase_conf_new();
  CU_ASSERT_PTR_NOT_NULL(c);
  dfs_conf_free(c);
  for (int i = 0; hbase_conf_keys[i].name; i++) {
    const struct dfs_conf_key *k = &hbase_conf_keys[i];
    CU_ASSERT(k->min <= k->max);
    CU_ASSERT(k->desc && k->desc[0]);
    CU_ASSERT(strncmp(k->name, "hbase.", 6) == 0 || strncmp(k->name, "hfile.", 6) == 0);
    if (k->type == DFS_CONF_DURATION)
      CU_ASSERT(k->unit && (!strcmp(k->unit, "s") || !strcmp(k->unit, "ms")));
  }

  /* Site files in table order, merged: the later file wins, either file may
   * set either table's keys, -D wins over both. */
  write_file("tables", "dfs-site.xml",
             "<configuration>"
             "<property><name>xdb.count</name><value>5</value></property>"
             "<property><name>dfs.replication</name><value>2</value></property>"
             "<property><name>dfs.ls.limit</name><value>10</value></property>"
             "</configuration>\n");
  write_file("tables", "x-site.xml",
             "<configuration>"
             "<property><name>xdb.count</name><value>7</value></property>"
             "<property><name>dfs.ls.limit</name><value>20</value></property>"
             "</configuration>\n");
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/tables", tmpdir);
  unsetenv("DFS_CONF_DIR");
  c = dfs_conf_new_tables(both, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  char *argv[] = {"prog", "--conf", dir, "-D", "xdb.period=2s", NULL};
  int argc = 5;
  int rc = dfs_conf_from_args(c, &argc, argv, NULL);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "%s\n", dfs_err_msg());
  CU_ASSERT_EQUAL(dfs_conf_int(c, "xdb.count"), 7);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.replication"), 2);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.ls.limit"), 20);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "xdb.period"), 2000);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/x-site.xml", dir);
  CU_ASSERT_STRING_EQUAL(dfs_conf_source(c, "xdb.count"), want);
  CU_ASSERT_STRING_EQUAL(dfs_conf_source(c, "xdb.period"), "-D");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  dfs_conf_print(c, f);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "xdb.period = 2s    # -D; a period"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "dfs.replication = 2    # "));
  free(buf);
  dfs_conf_free(c);

  /* A typo in the second file names that file. */
  write_file("tables", "x-site.xml",
             "<configuration><property><name>xdb.cuont</name><value>7</value></property>"
             "</configuration>\n");
  c = dfs_conf_new_tables(both, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  char *argv2[] = {"prog", "--conf", dir, NULL};
  argc = 3;
  CU_ASSERT_EQUAL(dfs_conf_from_args(c, &argc, argv2, NULL), DFS_ECONFIG);
  snprintf(want, sizeof want, "%s/x-site.xml: xdb.cuont: unknown key", dir);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), want);
  dfs_conf_free(c);
  /* ... which the filesystem's programs, reading dfs-site.xml only, never see. */
  c = dfs_conf_new();
  char *argv3[] = {"prog", "--conf", dir, NULL}; /* argv2 was consumed */
  argc = 3;
  CU_ASSERT_EQUAL(dfs_conf_from_args(c, &argc, argv3, NULL), 0);
  CU_ASSERT_EQUAL(dfs_conf_int(c, "dfs.ls.limit"), 10);
  dfs_conf_free(c);
}

static char *generate_doc(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  fputs(doc_intro, f);
  fputs(doc_dfs_head, f);
  dfs_conf_print_markdown(f);
  fputs(doc_hbase_head, f);
  dfs_conf_print_markdown_keys(hbase_conf_keys, f);
  fclose(f);
  return buf;
}

static void test_markdown_doc(void) {
  char *gen = generate_doc();
  CU_ASSERT_PTR_NOT_NULL_FATAL(gen);
  FILE *f = fopen(DFS_SOURCE_ETC_DIR "/../docs/configuration.md", "r");
  CU_ASSERT_PTR_NOT_NULL(f);
  char *doc = NULL;
  if (f) {
    doc = calloc(1, 1 << 20);
    size_t n = doc ? fread(doc, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
  }
  if (doc) {
    const struct dfs_conf_key *tables[] = {dfs_conf_keys, hbase_conf_keys};
    for (size_t t = 0; t < 2; t++)
      for (int i = 0; tables[t][i].name; i++) {
        char name[160];
        snprintf(name, sizeof name, "`%s`", tables[t][i].name);
        if (!strstr(doc, name)) {
          CU_FAIL("key missing from docs/configuration.md");
          fprintf(stderr, "docs/configuration.md lacks %s\n", tables[t][i].name);
        }
      }
    if (strcmp(doc, gen) != 0) {
      CU_FAIL("docs/configuration.md is out of date");
      fprintf(stderr, "docs/configuration.md is out of date: regenerate with "
                      "build/bin/test_conf --markdown > docs/configuration.md\n");
    }
  }
  free(doc);
  free(gen);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--markdown") == 0) {
    char *doc = generate_doc();
    if (!doc) return 1;
    fputs(doc, stdout);
    free(doc);
    return 0;
  }
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("conf", init_suite, clean_suite);
  CU_add_test(s, "defaults", test_defaults);
  CU_add_test(s, "int", test_int);
  CU_add_test(s, "size", test_size);
  CU_add_test(s, "duration", test_duration);
  CU_add_test(s, "bool_double", test_bool_double);
  CU_add_test(s, "addr_list_string", test_addr_list_string);
  CU_add_test(s, "unknown_keys", test_unknown_keys);
  CU_add_test(s, "files", test_files);
  CU_add_test(s, "from_args", test_from_args);
  CU_add_test(s, "tables", test_tables);
  CU_add_test(s, "markdown_doc", test_markdown_doc);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
