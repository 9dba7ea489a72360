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
  cli_fmt_size(n, true, h, sizeof h);
  printf("%s: %llu (%s%s)\n", label, (unsigned long long)n, h, n < 1024 ? " B" : "B");
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

static void node_block(const struct dfs_datanode_info *d) {
  char when[64];
  time_t t = time(NULL) - (time_t)(d->last_contact_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof when, "%a %b %d %H:%M:%S UTC %Y", &tm);
  printf("Name: %s (%s)\n", d->addr, d->hostname);
  printf("Hostname: %s\n", d->hostname);
  printf("Rack: %s\n", d->rack);
  printf("Decommission Status : %s\n", d->admin_state == 1 ? "Decommission in progress"
                                        : d->admin_state == 2 ? "Decommissioned" : "Normal");
  size_line("Configured Capacity", d->capacity);
  size_line("DFS Used", d->used);
  size_line("DFS Remaining", d->remaining);
  printf("DFS Used%%: %.2f%%\n", pct(d->used, d->capacity));
  printf("DFS Remaining%%: %.2f%%\n", pct(d->remaining, d->capacity));
  printf("Blocks: %llu\n", (unsigned long long)d->num_blocks);
  printf("Xceivers: %u\n", d->xceivers);
  printf("Failed Volumes: %u\n", d->failed_volumes);
  printf("Last contact: %s (%.1f s ago)\n\n", when, (double)d->last_contact_ms / 1000.0);
}

int cmd_report(struct cli *c, int argc, char **argv) {
  (void)argv;
  if (argc > 1) return -1;
  if (!cli_fs(c)) return 1;
  struct dfs_fs_stats st;
  int rc = dfs_get_fs_stats(c->fs, &st);
  if (rc) return cli_err(c, rc);
  struct dfs_datanode_info *nodes;
  size_t n;
  rc = dfs_datanode_report(c->fs, DFS_REPORT_ALL, &nodes, &n);
  if (rc) return cli_err(c, rc);
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
  printf("Safe mode is %s\n", st.safe_mode ? "ON" : "OFF");
  printf("\n-------------------------------------------------\n");
  size_t live = 0;
  for (size_t i = 0; i < n; i++) live += !nodes[i].dead;
  printf("Live datanodes (%zu):\n\n", live);
  for (size_t i = 0; i < n; i++)
    if (!nodes[i].dead) node_block(&nodes[i]);
  printf("Dead datanodes (%zu):\n\n", n - live);
  for (size_t i = 0; i < n; i++)
    if (nodes[i].dead) node_block(&nodes[i]);
  dfs_datanode_report_free(nodes, n);
  return 0;
}

/* ---- fsck ------------------------------------------------------------------------- */

struct fsck {
  bool files, blocks, locations, racks;
  int cluster_racks;
  uint64_t total_size, files_n, dirs_n, blocks_n, min_repl, over, under, mis, missing, corrupt;
  uint64_t replicas, missing_replicas;
  int default_repl;
};

static int fsck_file(struct cli *c, struct fsck *k, const char *path, const struct dfs_stat *st) {
  struct dfs_block_loc *b;
  size_t n;
  k->files_n++;
  k->total_size += st->length;
  int rc = dfs_block_locations(c->fs, path, 0, 0, &b, &n);
  if (rc) return cli_errp(c, path, rc);
  bool bad = false;
  char *lines = NULL;
  size_t llen = 0;
  FILE *mem = open_memstream(&lines, &llen);
  for (size_t i = 0; i < n; i++) {
    int live = (int)b[i].n_replicas;
    int want = st->replication;
    k->blocks_n++;
    k->replicas += (uint64_t)live;
    if (live >= 1) k->min_repl++;
    if (b[i].corrupt) {
      k->corrupt++;
      bad = true;
    }
    if (live == 0) {
      k->missing++;
      bad = true;
      fprintf(mem, "%s: MISSING block blk_%llu_%llu len=%llu\n", path,
              (unsigned long long)b[i].block_id, (unsigned long long)b[i].genstamp,
              (unsigned long long)b[i].length);
    }
    if (live > want) k->over++;
    if (live < want) {
      k->under++;
      k->missing_replicas += (uint64_t)(want - live);
      fprintf(mem, "%s:  Under replicated blk_%llu_%llu. Target Replicas is %d but found %d live replica(s).\n",
              path, (unsigned long long)b[i].block_id, (unsigned long long)b[i].genstamp, want,
              live);
    }
    int nracks = 0;
    for (size_t j = 0; j < b[i].n_replicas; j++) {
      bool seen = false;
      for (size_t q = 0; q < j; q++)
        if (strcmp(b[i].replicas[q].rack, b[i].replicas[j].rack) == 0) seen = true;
      if (!seen) nracks++;
    }
    if (k->cluster_racks >= 2 && want >= 2 && live >= 2 && nracks < 2) {
      k->mis++;
      fprintf(mem, "%s:  Replica placement policy is violated for blk_%llu_%llu. Block should be additionally replicated on 1 more rack(s).\n",
              path, (unsigned long long)b[i].block_id, (unsigned long long)b[i].genstamp);
    }
    if (k->blocks) {
      fprintf(mem, "%zu. blk_%llu_%llu len=%llu Live_repl=%d", i, (unsigned long long)b[i].block_id,
              (unsigned long long)b[i].genstamp, (unsigned long long)b[i].length, live);
      if (k->locations || k->racks) {
        fprintf(mem, " [");
        for (size_t j = 0; j < b[i].n_replicas; j++)
          fprintf(mem, "%s%s%s%s", j ? ", " : "", k->racks ? b[i].replicas[j].rack : "",
                  k->racks ? "/" : "", b[i].replicas[j].addr);
        fprintf(mem, "]");
      }
      fprintf(mem, "\n");
    }
  }
  fclose(mem);
  if (k->files)
    printf("%s %llu bytes, replicated: replication=%d, %zu block(s): %s\n", path,
           (unsigned long long)st->length, st->replication, n, bad ? " CORRUPT" : " OK");
  if (llen) fputs(lines, stdout);
  if (k->files && llen) printf("\n");
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
    else if (argv[i][0] == '-') return -1;
    else if (!arg) arg = argv[i];
    else return -1;
  }
  if (!arg) return -1;
  if (!cli_fs(c)) return 1;
  k.default_repl = (int)dfs_conf_int(c->conf, "dfs.replication");
  char *path = cli_abs(c, arg);
  struct dfs_datanode_info *nodes;
  size_t nn;
  int rc = dfs_datanode_report(c->fs, DFS_REPORT_LIVE, &nodes, &nn);
  if (rc) {
    free(path);
    return cli_err(c, rc);
  }
  for (size_t i = 0; i < nn; i++) {
    bool seen = false;
    for (size_t j = 0; j < i; j++)
      if (strcmp(nodes[i].rack, nodes[j].rack) == 0) seen = true;
    if (!seen) k.cluster_racks++;
  }
  int64_t t0 = dfs_now_ms();
  printf("FSCK started by %s for path %s\n", c->user ? c->user : "(current user)", path);
  struct dfs_stat st;
  rc = dfs_stat(c->fs, path, &st);
  if (rc) {
    printf("FSCK ended in %lld milliseconds\n", (long long)(dfs_now_ms() - t0));
    printf("Path '%s' does not exist\n", path);
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
  printf("FSCK ended in %lld milliseconds\n\n", (long long)(dfs_now_ms() - t0));
  printf("The filesystem under path '%s' is %s\n", path, healthy ? "HEALTHY" : "CORRUPT");
  free(path);
  dfs_datanode_report_free(nodes, nn);
  return healthy ? 0 : 1;
}

int cmd_recover_lease(struct cli *c, int argc, char **argv) {
  if (argc != 2) return -1;
  if (!cli_fs(c)) return 1;
  char *p = cli_abs(c, argv[1]);
  bool closed = false;
  int rc = dfs_recover_lease(c->fs, p, &closed);
  if (rc) {
    cli_errp(c, p, rc);
    free(p);
    return 1;
  }
  printf("recoverLease %s for %s\n", closed ? "SUCCEEDED" : "returned false (recovery in progress)", p);
  free(p);
  return closed ? 0 : 1;
}

int cmd_safemode(struct cli *c, int argc, char **argv) {
  if (argc != 2) return -1;
  enum dfs_safemode_action a;
  bool wait = false;
  if (strcmp(argv[1], "get") == 0) a = DFS_SAFEMODE_GET;
  else if (strcmp(argv[1], "enter") == 0) a = DFS_SAFEMODE_ENTER;
  else if (strcmp(argv[1], "leave") == 0) a = DFS_SAFEMODE_LEAVE;
  else if (strcmp(argv[1], "wait") == 0) a = DFS_SAFEMODE_GET, wait = true;
  else return -1;
  if (!cli_fs(c)) return 1;
  bool on = false;
  for (;;) {
    int rc = dfs_safemode(c->fs, a, &on);
    if (rc) return cli_err(c, rc);
    if (!wait || !on) break;
    usleep(200000);
  }
  printf("Safe mode is %s\n", on ? "ON" : "OFF");
  return 0;
}
