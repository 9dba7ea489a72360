/*
 * conf.h - Hadoop-style configuration.
 *
 * Every key is declared once, in conf_keys.def (name, type, default, bounds,
 * description). That one table drives parsing, validation, --print-config
 * and docs/configuration.md. Values come, in increasing precedence, from the
 * table's defaults, from <conf-dir>/dfs-site.xml, and from -D key=value on a
 * command line. A malformed value, a value out of bounds, or an unknown key
 * in the dfs.* / ipc.* / net.* namespaces is an error naming the file, the
 * key and the reason; unknown keys of other namespaces (hbase.* ...) are
 * left for their own tables.
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

typedef struct dfs_conf dfs_conf;

/* A configuration holding every key at its default. Caller frees with
 * dfs_conf_free(). NULL on allocation failure. */
dfs_conf *dfs_conf_new(void);
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

/* The directory the configuration was loaded from (for resolving relative
 * file names such as the topology table), or NULL. */
const char *dfs_conf_dir(const dfs_conf *c);

/* Print every key: "name = value    # source; description". */
void dfs_conf_print(const dfs_conf *c, FILE *out);

/* Print the table as a Markdown reference (docs/configuration.md). */
void dfs_conf_print_markdown(FILE *out);

/*
 * Common command-line handling for every daemon and tool:
 *   --conf DIR        load DIR/dfs-site.xml (default: $DFS_CONF_DIR, else
 *                     the etc/ folder of the source tree the binary was built
 *                     from, else no file)
 *   -D key=value      override a key (repeatable)
 *   --print-config    (only reported through *print_config)
 * Recognised arguments are removed from argv (argc updated); the others stay
 * in order for the program. Returns 0, or DFS_ECONFIG with a message.
 */
int dfs_conf_from_args(dfs_conf *c, int *argc, char **argv, bool *print_config);

#endif
