/*
 * hbase_conf.h - the database's configuration keys (hbase_conf_keys.def) and
 * the configuration every database-side program reads.
 *
 * The keys live here, not in dfs/, because dfs/ knows nothing of the
 * database. A database program's configuration holds two tables: the
 * filesystem's (its DFS client needs dfs.* keys) and the database's. Its
 * files are <conf-dir>/dfs-site.xml then <conf-dir>/hbase-site.xml, merged
 * as Hadoop merges resources: either file may set any key of either table,
 * hbase-site.xml wins when both set one, -D wins over both (dfs/common/conf.h).
 */
#ifndef HB_HBASE_CONF_H
#define HB_HBASE_CONF_H

#include "conf.h"

/* The table, generated from hbase_conf_keys.def; ends with a {NULL} entry. */
extern const struct dfs_conf_key hbase_conf_keys[];

/* hbase_conf_keys with its file, hbase-site.xml. */
extern const struct dfs_conf_table hbase_conf_table;

/* A configuration of the filesystem's and the database's tables, every key at
 * its default; fill it with dfs_conf_from_args (or dfs_conf_load_file). Free
 * with dfs_conf_free(). NULL on allocation failure. */
dfs_conf *hbase_conf_new(void);

#endif
