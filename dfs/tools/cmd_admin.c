/*
 * cmd_admin.c - cluster subcommands of `dfs`: report (hdfs dfsadmin
 * -report), fsck (hdfs fsck, computed client-side from listings and block
 * locations), recover-lease, safemode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "net.h"

static void size_line(const char *label, uint64_t n) {
  char h[32];
  cli_fmt_human(n, "B", 2, h, sizeof h); /* StringUtils.byteDesc */
  printf("%s: %llu (%s)\n", label, (unsigned long long)n, h);
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

static void node_block(const struct dfs_datanode_info *d) {
  char when[64];
  time_t t = time(NULL) - (time_t)(d->last_contact_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof when, "%a %b %d %H:%M:%S UTC %Y", &tm);
  uint64_t non_dfs = d->capacity > d->used + d->remaining ? d->capacity - d->used - d->remaining : 0;
  printf("Name: %s (%s)\n", d->addr, d->hostname);
  printf("Hostname: %s\n", d->hostname);
  printf("Rack: %s\n", d->rack);
  printf("Decommission Status : %s\n", d->admin_state == 1   ? "Decommission in progress"
                                        : d->admin_state == 2 ? "Decommissioned"
                                                              : "Normal");
  size_line("Configured Capacity", d->capacity);
  size_line("DFS Used", d->used);
  size_line("Non DFS Used", non_dfs);
  size_line("DFS Remaining", d->remaining);
  printf("DFS Used%%: %.2f%%\n", pct(d->used, d->capacity));
  printf("DFS Remaining%%: %.2f%%\n", pct(d->remaining, d->capacity));
  printf("Xceivers: %u\n", d->xceivers);
  printf("Failed Volumes: %u\n", d->failed_volumes);
  printf("Last contact: %s (%.1f s ago)\n", when, (double)d->last_contact_ms / 1000.0);
  printf("Num of Blocks: %llu\n\n", (unsigned long long)d->num_blocks);
}

static int node_cmp(const void *a, const void *b) {
  const struct dfs_datanode_info *x = a, *y = b;
  int r = strcmp(x->hostname ? x->hostname : "", y->hostname ? y->hostname : "");
  return r ? r : strcmp(x->addr ? x->addr : "", y->addr ? y->addr : "");
}

int cmd_report(struct cli *c, int argc, char **argv) {
  bool live = true, dead = true;
  if (argc > 1) {
    live = dead = false;
    for (int i = 1; i < argc; i++) {
      if (strcmp(argv[i], "-live") == 0) live = true;
      else if (strcmp(argv[i], "-dead") == 0) dead = true;
      else return CLI_USAGE;
    }
  }
  if (!cli_fs(c)) return 1;
  struct dfs_fs_stats st;
  int rc = dfs_get_fs_stats(c->fs, &st);
  if (rc) return cli_errp(c, "report", rc);
  struct dfs_datanode_info *nodes;
  size_t n;
  rc = dfs_datanode_report(c->fs, DFS_REPORT_ALL, &nodes, &n);
  if (rc) return cli_errp(c, "report", rc);
  qsort(nodes, n, sizeof *nodes, node_cmp);
  size_line("Configured Capacity", st.capacity);
  size_line("Present Capacity", st.used + st.remaining);
  size_line("DFS Remaining", st.remaining);
  size_line("DFS Used", st.used);
  printf("DFS Used%%: %.2f%%\n", pct(st.used, st.used + st.remaining));
  printf("Replicated Blocks:\n");
  printf("\tUnder replicated blocks: %llu\n", (unsigned long long)st.under_replicated);
  printf("\tBlocks with corrupt replicas: %llu\n", (unsigned long long)st.corrupt_blocks);
  printf("\tMissing blocks: %llu\n", (unsigned long long)st.missing_blocks);
  printf("\tTotal blocks: %llu\n", (unsigned long long)st.blocks);
  printf("Files and directories: %llu files, %llu directories\n", (unsigned long long)st.files,
         (unsigned long long)st.directories);
  printf("Safe mode is %s\n", st.safe_mode ? "ON" : "OFF");
  printf("\n-------------------------------------------------\n");
  size_t nlive = 0;
  for (size_t i = 0; i < n; i++) nlive += !nodes[i].dead;
  if (live) {
    printf("Live datanodes (%zu):\n\n", nlive);
    for (size_t i = 0; i < n; i++)
      if (!nodes[i].dead) node_block(&nodes[i]);
  }
  if (dead) {
    printf("Dead datanodes (%zu):\n\n", n - nlive);
    for (size_t i = 0; i < n; i++)
      if (nodes[i].dead) node_block(&nodes[i]);
  }
  dfs_datanode_report_free(nodes, n);
  return 0;
}

/* ---- fsck ------------------------------------------------------------------------- */

struct fsck {
  bool files, blocks, locations, racks;
  int cluster_racks;
  uint64_t total_size, files_n, dirs_n, open_files, blocks_n, min_repl, over, under, mis;
  uint64_t missing, missing_size, corrupt, replicas, missing_replicas;
  int default_repl;
};

static size_t racks_of(const struct dfs_block_loc *b) {
  size_t nr = 0;
  for (size_t j = 0; j < b->n_replicas; j++) {
    bool seen = false;
    for (size_t q = 0; q < j && !seen; q++)
      seen = strcmp(b->replicas[q].rack, b->replicas[j].rack) == 0;
    nr += !seen;
  }
  return nr;
}

/* One file: its blocks are judged against its replication factor; the
 * findings go to a memory stream first because hdfs prints the file's
 * summary line (which needs the verdict) before them. */
static int fsck_file(struct cli *c, struct fsck *k, const char *path, const struct dfs_stat *st) {
  struct dfs_block_loc *b;
  size_t n;
  k->files_n++;
  k->total_size += st->length;
  int rc = dfs_block_locations(c->fs, path, 0, 0, &b, &n);
  if (rc) return cli_errp(c, path, rc);
  if (st->under_construction) {
    /* As hdfs without -openforwrite: an open file's blocks are not judged
     * (its last block is still being written). */
    k->open_files++;
    if (k->files)
      printf("%s %llu bytes, replicated: replication=%d, %zu block(s), OPENFORWRITE: \n", path,
             (unsigned long long)st->length, st->replication, n);
    dfs_block_locs_free(b, n);
    return 0;
  }
  uint64_t missing = 0, missing_size = 0, corrupt = 0;
  char *lines = NULL;
  size_t llen = 0;
  FILE *mem = open_memstream(&lines, &llen);
  if (!mem) {
    dfs_block_locs_free(b, n);
    return cli_fail(c, path, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    int live = (int)b[i].n_replicas;
    int want = st->replication;
    unsigned long long id = (unsigned long long)b[i].block_id;
    unsigned long long gs = (unsigned long long)b[i].genstamp;
    k->blocks_n++;
    k->replicas += (uint64_t)live;
    if (live >= 1) k->min_repl++;
    if (b[i].corrupt) {
      corrupt++;
      fprintf(mem, "%s: CORRUPT block blk_%llu_%llu\n", path, id, gs);
    } else if (live == 0) {
      missing++;
      missing_size += b[i].length;
      fprintf(mem, "%s: MISSING block blk_%llu_%llu len=%llu\n", path, id, gs,
              (unsigned long long)b[i].length);
    }
    if (live > want) k->over++;
    if (live < want && live > 0) {
      k->under++;
      fprintf(mem, "%s:  Under replicated blk_%llu_%llu: Target Replicas is %d but found %d live replica(s).\n",
              path, id, gs, want, live);
    }
    if (live < want) k->missing_replicas += (uint64_t)(want - live);
    if (k->cluster_racks >= 2 && want >= 2 && live >= 1 && racks_of(&b[i]) < 2) {
      k->mis++;
      fprintf(mem, "%s:  Replica placement policy is violated for blk_%llu_%llu. Block should be additionally replicated on 1 more rack(s).\n",
              path, id, gs);
    }
    if (k->blocks) {
      fprintf(mem, "%zu. blk_%llu_%llu len=%llu Live_repl=%d", i, id, gs,
              (unsigned long long)b[i].length, live);
      if (k->racks) {
        fprintf(mem, " [");
        for (size_t j = 0; j < b[i].n_replicas; j++)
          fprintf(mem, "%s%s/%s", j ? ", " : "", b[i].replicas[j].rack, b[i].replicas[j].addr);
        fprintf(mem, "]");
      } else if (k->locations) {
        fprintf(mem, " [");
        for (size_t j = 0; j < b[i].n_replicas; j++)
          fprintf(mem, "%sDatanodeInfoWithStorage[%s,%s,DISK]", j ? ", " : "",
                  b[i].replicas[j].addr, b[i].replicas[j].uuid ? b[i].replicas[j].uuid : "");
        fprintf(mem, "]");
      }
      fprintf(mem, "\n");
    }
  }
  fclose(mem);
  k->missing += missing;
  k->missing_size += missing_size;
  k->corrupt += corrupt;
  if (k->files) {
    printf("%s %llu bytes, replicated: replication=%d, %zu block(s): ", path,
           (unsigned long long)st->length, st->replication, n);
    if (missing)
      printf(" MISSING %llu blocks of total size %llu B\n", (unsigned long long)missing,
             (unsigned long long)missing_size);
    else if (corrupt)
      printf(" CORRUPT %llu blocks\n", (unsigned long long)corrupt);
    else
      printf(" OK\n");
  }
  if (llen) fputs(lines, stdout);
  if (k->files && k->blocks) printf("\n");
  free(lines);
  dfs_block_locs_free(b, n);
  return 0;
}

static int fsck_walk(struct cli *c, struct fsck *k, const char *path, const struct dfs_stat *st) {
  if (st->type == DFS_TYPE_FILE) return fsck_file(c, k, path, st);
  k->dirs_n++;
  if (k->files) printf("%s <dir>\n", path);
  struct dfs_stat *e;
  size_t n;
  int rc = dfs_list(c->fs, path, &e, &n);
  if (rc) return cli_errp(c, path, rc);
  int ret = 0;
  for (size_t i = 0; i < n; i++) {
    char *child;
    if (asprintf(&child, "%s%s%s", path, strcmp(path, "/") ? "/" : "", e[i].name) < 0) break;
    ret |= fsck_walk(c, k, child, &e[i]);
    free(child);
  }
  dfs_stats_free(e, n);
  return ret;
}

int cmd_fsck(struct cli *c, int argc, char **argv) {
  struct fsck k = {0};
  const char *arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-files") == 0) k.files = true;
    else if (strcmp(argv[i], "-blocks") == 0) k.blocks = true;
    else if (strcmp(argv[i], "-locations") == 0) k.locations = true;
    else if (strcmp(argv[i], "-racks") == 0) k.racks = true;
    else if (argv[i][0] == '-') return CLI_USAGE;
    else if (!arg) arg = argv[i];
    else return CLI_USAGE;
  }
  if (!arg) return CLI_USAGE;
  if (k.racks) k.locations = true;
  if (k.locations) k.blocks = true;
  if (!cli_fs(c)) return 1;
  k.default_repl = (int)dfs_conf_int(c->conf, "dfs.replication");
  char *path = cli_abs(c, arg);
  struct dfs_datanode_info *nodes;
  size_t nn;
  int rc = dfs_datanode_report(c->fs, DFS_REPORT_LIVE, &nodes, &nn);
  if (rc) {
    free(path);
    return cli_errp(c, arg, rc);
  }
  for (size_t i = 0; i < nn; i++) {
    bool seen = false;
    for (size_t j = 0; j < i; j++)
      if (strcmp(nodes[i].rack, nodes[j].rack) == 0) seen = true;
    if (!seen) k.cluster_racks++;
  }
  int64_t t0 = dfs_now_ms();
  char when[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%a %b %d %H:%M:%S UTC %Y", &tm);
  printf("FSCK started by %s (auth:SIMPLE) for path %s at %s\n\n", c->user, path, when);
  struct dfs_stat st;
  rc = dfs_stat(c->fs, path, &st);
  if (rc) {
    if (rc == DFS_ENOENT) {
      printf("FSCK ended at %s in %lld milliseconds\n", when, (long long)(dfs_now_ms() - t0));
      printf("Path '%s' does not exist\n", path);
    } else {
      cli_errp(c, arg, rc);
    }
    free(path);
    dfs_datanode_report_free(nodes, nn);
    return 1;
  }
  int ret = fsck_walk(c, &k, path, &st);
  dfs_stat_clear(&st);
  bool healthy = k.missing == 0 && k.corrupt == 0 && ret == 0;
  printf("\nStatus: %s\n", healthy ? "HEALTHY" : "CORRUPT");
  printf(" Number of data-nodes:\t%zu\n", nn);
  printf(" Number of racks:\t\t%d\n", k.cluster_racks);
  printf(" Total dirs:\t\t\t%llu\n", (unsigned long long)k.dirs_n);
  printf(" Total symlinks:\t\t0\n\n");
  printf("Replicated Blocks:\n");
  printf(" Total size:\t%llu B\n", (unsigned long long)k.total_size);
  printf(" Total files:\t%llu\n", (unsigned long long)k.files_n);
  printf(" Total blocks (validated):\t%llu", (unsigned long long)k.blocks_n);
  if (k.blocks_n) printf(" (avg. block size %llu B)", (unsigned long long)(k.total_size / k.blocks_n));
  printf("\n Minimally replicated blocks:\t%llu (%.1f %%)\n", (unsigned long long)k.min_repl,
         pct(k.min_repl, k.blocks_n));
  printf(" Over-replicated blocks:\t%llu (%.1f %%)\n", (unsigned long long)k.over, pct(k.over, k.blocks_n));
  printf(" Under-replicated blocks:\t%llu (%.1f %%)\n", (unsigned long long)k.under,
         pct(k.under, k.blocks_n));
  printf(" Mis-replicated blocks:\t\t%llu (%.1f %%)\n", (unsigned long long)k.mis, pct(k.mis, k.blocks_n));
  printf(" Default replication factor:\t%d\n", k.default_repl);
  printf(" Average block replication:\t%.1f\n",
         k.blocks_n ? (double)k.replicas / (double)k.blocks_n : 0.0);
  printf(" Missing blocks:\t\t%llu\n", (unsigned long long)k.missing);
  printf(" Corrupt blocks:\t\t%llu\n", (unsigned long long)k.corrupt);
  printf(" Missing replicas:\t\t%llu (%.1f %%)\n", (unsigned long long)k.missing_replicas,
         pct(k.missing_replicas, k.replicas + k.missing_replicas));
  if (k.open_files) printf(" Number of open files:\t%llu\n", (unsigned long long)k.open_files);
  printf("FSCK ended at %s in %lld milliseconds\n\n\n", when, (long long)(dfs_now_ms() - t0));
  printf("The filesystem under path '%s' is %s\n", path, healthy ? "HEALTHY" : "CORRUPT");
  free(path);
  dfs_datanode_report_free(nodes, nn);
  return healthy ? 0 : 1;
}

int cmd_recover_lease(struct cli *c, int argc, char **argv) {
  if (argc != 2) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  char *p = cli_abs(c, argv[1]);
  bool closed = false;
  int rc = dfs_recover_lease(c->fs, p, &closed);
  if (rc) {
    cli_errp(c, argv[1], rc);
    free(p);
    return 1;
  }
  if (closed) printf("recoverLease SUCCEEDED on %s\n", p);
  else printf("recoverLease returned false (recovery in progress) on %s\n", p);
  free(p);
  return closed ? 0 : 1;
}

int cmd_refresh_nodes(struct cli *c, int argc, char **argv) {
  if (argc != 1) return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  int rc = dfs_refresh_nodes(c->fs);
  if (rc) return cli_errp(c, argv[0], rc);
  printf("Refresh nodes successful\n");
  return 0;
}

int cmd_safemode(struct cli *c, int argc, char **argv) {
  if (argc != 2) return CLI_USAGE;
  enum dfs_safemode_action a;
  bool wait = false;
  if (strcmp(argv[1], "get") == 0) a = DFS_SAFEMODE_GET;
  else if (strcmp(argv[1], "enter") == 0) a = DFS_SAFEMODE_ENTER;
  else if (strcmp(argv[1], "leave") == 0) a = DFS_SAFEMODE_LEAVE;
  else if (strcmp(argv[1], "wait") == 0) a = DFS_SAFEMODE_GET, wait = true;
  else return CLI_USAGE;
  if (!cli_fs(c)) return 1;
  bool on = false;
  for (;;) {
    int rc = dfs_safemode(c->fs, a, &on);
    if (rc) return cli_errp(c, argv[1], rc);
    if (!wait || !on) break;
    usleep(200000);
  }
  printf("Safe mode is %s\n", on ? "ON" : "OFF");
  return 0;
}
