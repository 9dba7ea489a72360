/*
 * permission.c - HDFS permission checks and the user -> groups cache.
 *
 * Simple-auth semantics: the caller's user is what its connection context
 * states. Bits are chosen as POSIX does (owner, else group member, else
 * other); the superuser (the NameNode's OS user, or a member of
 * dfs.permissions.superusergroup) passes every check. To keep the hot path
 * cheap, groups are resolved only when the owner bits do not decide and
 * the superuser question only when the bits deny.
 *
 * Groups come from the NameNode host (getpwnam_r + getgrouplist, as
 * Hadoop's ShellBasedUnixGroupsMapping), cached forever per user under
 * groups_mu (a NameNode restart refreshes them).
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "namesystem_int.h"

struct nn_group_entry {
  struct nn_group_entry *next;
  char *user;
  const char **groups; /* interned */
  size_t n;
};

void nn_groups_free(nn_ns *ns) {
  struct nn_group_entry *e = ns->groups;
  while (e) {
    struct nn_group_entry *n = e->next;
    free(e->user);
    free(e->groups);
    free(e);
    e = n;
  }
  ns->groups = NULL;
}

static struct nn_group_entry *load_groups(nn_ns *ns, const char *user) {
  struct nn_group_entry *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->user = strdup(user);
  struct passwd pw, *res = NULL;
  char buf[8192];
  if (getpwnam_r(user, &pw, buf, sizeof buf, &res) == 0 && res) {
    int ng = 64;
    gid_t *gids = malloc((size_t)ng * sizeof *gids);
    if (gids && getgrouplist(user, res->pw_gid, gids, &ng) < 0) {
      gid_t *g2 = realloc(gids, (size_t)ng * sizeof *gids);
      if (g2) {
        gids = g2;
        if (getgrouplist(user, res->pw_gid, gids, &ng) < 0) ng = 0;
      } else {
        ng = 0;
      }
    }
    if (gids && ng > 0) e->groups = calloc((size_t)ng, sizeof *e->groups);
    for (int i = 0; e->groups && i < ng; i++) {
      struct group gr, *gres = NULL;
      char gbuf[8192];
      if (getgrgid_r(gids[i], &gr, gbuf, sizeof gbuf, &gres) == 0 && gres) {
        const char *g = nn_intern_get(ns->strings, gres->gr_name);
        if (g) e->groups[e->n++] = g;
      }
    }
    free(gids);
  }
  return e;
}

static void pc_load_groups(struct nn_pc *pc) {
  nn_ns *ns = pc->ns;
  pc->groups_loaded = true;
  pthread_mutex_lock(&ns->groups_mu);
  struct nn_group_entry *e;
  for (e = ns->groups; e; e = e->next)
    if (strcmp(e->user, pc->user) == 0) break;
  if (!e) {
    e = load_groups(ns, pc->user);
    if (e && e->user) {
      e->next = ns->groups;
      ns->groups = e;
    } else if (e) {
      free(e->groups);
      free(e);
      e = NULL;
    }
  }
  if (e) {
    pc->groups = e->groups;
    pc->ngroups = e->n;
  }
  pthread_mutex_unlock(&ns->groups_mu);
}

void nn_pc_init(struct nn_pc *pc, nn_ns *ns, const struct nn_caller *c) {
  memset(pc, 0, sizeof *pc);
  pc->ns = ns;
  pc->user = c && c->user && *c->user ? c->user : "nobody";
  pc->off = !ns->cfg.permissions;
  pc->super = -1;
}

bool nn_pc_in_group(struct nn_pc *pc, const char *group) {
  if (!pc->groups_loaded) pc_load_groups(pc);
  for (size_t i = 0; i < pc->ngroups; i++)
    if (pc->groups[i] == group || strcmp(pc->groups[i], group) == 0) return true;
  return false;
}

bool nn_pc_is_super(struct nn_pc *pc) {
  if (pc->super < 0)
    pc->super = strcmp(pc->user, pc->ns->cfg.superuser) == 0 ||
                nn_pc_in_group(pc, pc->ns->cfg.supergroup);
  return pc->super == 1;
}

void nn_inode_path(const nn_inode *n, char *buf, size_t cap) {
  const nn_inode *chain[512];
  size_t k = 0;
  for (const nn_inode *p = n; p && p->parent && k < 512; p = p->parent) chain[k++] = p;
  size_t off = 0;
  if (k == 0) {
    snprintf(buf, cap, "/");
    return;
  }
  buf[0] = '\0';
  while (k > 0 && off + 2 < cap) {
    const nn_inode *p = chain[--k];
    int w = snprintf(buf + off, cap - off, "/%s", p->name);
    if (w < 0) break;
    off += (size_t)w;
  }
}

static void mode_string(const nn_inode *n, char out[11]) {
  static const char rwx[] = "rwx";
  out[0] = n->is_dir ? 'd' : '-';
  for (int i = 0; i < 9; i++) out[1 + i] = (n->perm >> (8 - i)) & 1 ? rwx[i % 3] : '-';
  if (n->perm & 01000) out[9] = (n->perm & 1) ? 't' : 'T';
  out[10] = '\0';
}

int nn_pc_check(struct nn_pc *pc, const char *op, const nn_inode *n, int mask) {
  if (pc->off) return 0;
  int bits;
  if (strcmp(pc->user, n->owner) == 0)
    bits = (n->perm >> 6) & 7;
  else if (nn_pc_in_group(pc, n->group))
    bits = (n->perm >> 3) & 7;
  else
    bits = n->perm & 7;
  if ((bits & mask) == mask || nn_pc_is_super(pc)) return 0;
  char path[1024], mode[11];
  nn_inode_path(n, path, sizeof path);
  mode_string(n, mode);
  static const char *names[8] = {"NONE", "EXECUTE", "WRITE", "WRITE_EXECUTE",
                                 "READ", "READ_EXECUTE", "READ_WRITE", "ALL"};
  return dfs_err_set(DFS_EACCES,
                     "%s: Permission denied: user=%s, access=%s, inode=\"%s\":%s:%s:%s", op,
                     pc->user, names[mask & 7], path, n->owner, n->group, mode);
}
