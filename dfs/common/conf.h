/*
 * conf.h - Hadoop-style configuration.
 *
 * Every key is declared once, in a key table (name, type, default, bounds,
 * description): the filesystem's in conf_keys.def, the database's in
 * client/hbase_conf_keys.def (dfs/ knows nothing of the database, so that
 * table is handed in by the database side with dfs_conf_new_tables). The
 * tables drive parsing, validation, --print-config and docs/configuration.md.
 * Each table names its site file (dfs-site.xml, hbase-site.xml). Values come,
 * in increasing precedence, from the tables' defaults, from the site files of
 * the configuration's tables in table order, and from -D key=value on a
 * command line. As in Hadoop, the files are merged: any file may set any key
 * of the configuration's tables. A malformed value, a value out of bounds, or
 * an unknown key in a namespace of one of the tables (the first component of
 * its keys: dfs.*, ipc.*, net.*; hbase.*, hfile.*) is an error naming the
 * file, the key and the reason; keys of other namespaces are ignored (a
 * filesystem daemon ignores hbase.* keys).
 *
 * A dfs_conf is filled at start-up and read-only afterwards; reads are then
 * thread-safe without locks.
 */
#ifndef DFS_CONF_H
#define DFS_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum dfs_conf_type {
  DFS_CONF_INT,      /* decimal integer, bounds checked */
  DFS_CONF_SIZE,     /* bytes; accepts suffixes k m g t (binary, as Hadoop) */
  DFS_CONF_DURATION, /* stored in the key's unit (see its description: the
                        name says ms or s); accepts ms s m h d suffixes */
  DFS_CONF_BOOL,     /* true / false */
  DFS_CONF_DOUBLE,   /* decimal floating point, bounds checked */
  DFS_CONF_STRING,   /* any string (may be empty) */
  DFS_CONF_ADDR,     /* host:port, port 0..65535 */
  DFS_CONF_LIST,     /* comma-separated list of non-empty strings */
};

struct dfs_conf_key {
  const char *name;
  enum dfs_conf_type type;
  const char *def;  /* default, as text */
  double min, max;  /* bounds for numeric types (inclusive) */
  const char *unit; /* for DURATION: "ms" or "s"; otherwise NULL */
  const char *desc; /* one line for --help, --print-config, the docs */
};

/* The table, generated from conf_keys.def; ends with a {NULL} entry. */
extern const struct dfs_conf_key dfs_conf_keys[];

/* A key table and the site file its keys are usually set in. */
struct dfs_conf_table {
  const char *file;                /* "dfs-site.xml": loaded by dfs_conf_from_args */
  const struct dfs_conf_key *keys; /* ends with a {NULL} entry */
};

/* The filesystem's table: dfs_conf_keys, file dfs-site.xml. */
extern const struct dfs_conf_table dfs_conf_dfs_table;

typedef struct dfs_conf dfs_conf;

/* A configuration of the filesystem's table, every key at its default.
 * Caller frees with dfs_conf_free(). NULL on allocation failure. */
dfs_conf *dfs_conf_new(void);

/* A configuration of several tables (1..8; static, they must outlive it),
 * every key at its default. A key name must not appear in two tables. NULL on
 * allocation failure or a bad default (a bug in a table; its tests catch it). */
dfs_conf *dfs_conf_new_tables(const struct dfs_conf_table *const *tables, size_t n);
void dfs_conf_free(dfs_conf *c);

/* Load a Hadoop-style XML file (<configuration><property><name>..</name>
 * <value>..</value></property>...). Returns 0, or DFS_ECONFIG with an
 * explanation in dfs_err_msg() naming the file, the key and why. A missing
 * file is DFS_ENOENT unless `optional`. Values are validated as they load. */
int dfs_conf_load_file(dfs_conf *c, const char *path, bool optional);

/* Set one key from text; `source` names where it came from ("-D",
 * "dfs-site.xml") for errors and --print-config. Validates. */
int dfs_conf_set(dfs_conf *c, const char *key, const char *value,
                 const char *source);

/* Typed reads. The key must be declared in the table (a programming error
 * otherwise: the process aborts with a message naming the key). */
int64_t dfs_conf_int(const dfs_conf *c, const char *key);  /* INT SIZE DURATION */
bool dfs_conf_bool(const dfs_conf *c, const char *key);
double dfs_conf_double(const dfs_conf *c, const char *key);
const char *dfs_conf_str(const dfs_conf *c, const char *key); /* raw text */

/* Where the key's value came from: "default", a file's path, "-D". For
 * errors that involve several keys. The key must be declared (as above). */
const char *dfs_conf_source(const dfs_conf *c, const char *key);

/* The directory the configuration was loaded from (for resolving relative
 * file names such as the topology table), or NULL. */
const char *dfs_conf_dir(const dfs_conf *c);

/* Print every key of every table: "name = value    # source; description". */
void dfs_conf_print(const dfs_conf *c, FILE *out);

/* Print the filesystem's table as a Markdown reference (docs/configuration.md). */
void dfs_conf_print_markdown(FILE *out);
/* The same for any table. */
void dfs_conf_print_markdown_keys(const struct dfs_conf_key *keys, FILE *out);

/*
 * Common command-line handling for every daemon and tool:
 *   --conf DIR        load DIR/<file> of each table, in table order, each
 *                     optional (default DIR: $DFS_CONF_DIR, else the etc/
 *                     folder of the source tree the binary was built from,
 *                     else no file)
 *   -D key=value      override a key (repeatable)
 *   --print-config    (only reported through *print_config)
 * Recognised arguments are removed from argv (argc updated); the others stay
 * in order for the program. Returns 0, or DFS_ECONFIG with a message.
 */
int dfs_conf_from_args(dfs_conf *c, int *argc, char **argv, bool *print_config);

#endif
