/*
 * hbase_conf.c - the database's key table (hbase_conf_keys.def) and the
 * two-table configuration of database programs (hbase_conf.h).
 */
#include "hbase_conf.h"

const struct dfs_conf_key hbase_conf_keys[] = {
#define X(name, type, def, min, max, unit, desc) {name, type, def, min, max, unit, desc},
#include "hbase_conf_keys.def"
#undef X
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

const struct dfs_conf_table hbase_conf_table = {"hbase-site.xml", hbase_conf_keys};

dfs_conf *hbase_conf_new(void) {
  /* Filesystem first: hbase-site.xml is loaded after dfs-site.xml and wins. */
  const struct dfs_conf_table *t[] = {&dfs_conf_dfs_table, &hbase_conf_table};
  return dfs_conf_new_tables(t, 2);
}
