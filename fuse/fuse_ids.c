/*
 * fuse_ids.c - who the caller is: local uid/gid <-> DFS user/group names,
 * and one DFS connection per distinct caller.
 *
 * HDFS simple authentication trusts the user name a connection states. The
 * mount therefore connects one dfs_fs per local uid, lazily, stating the
 * uid's login name (getpwuid; the decimal uid when it has none), so the
 * NameNode checks every permission as that user and new files are owned by
 * that user. With -o user=NAME every caller shares one connection as NAME.
 * Names coming back (owners and groups of files) map to local ids with
 * getpwnam/getgrnam, cached; names the system does not know map to 65534
 * (nobody/nogroup), as fuse-dfs does.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfs_fuse.h"
#include "errors.h"
#include "log.h"

#define DFUSE_NOBODY 65534

struct dfuse_user {
  struct dfuse_user *next;
  uid_t uid;
  char *name;
  dfs_fs *fs;
};

struct dfuse_name {
  struct dfuse_name *next;
  bool is_group;
  char *name;
  unsigned id;
};

void dfuse_user_name_of(uid_t uid, char *buf, size_t len) {
  struct passwd pw, *pwp = NULL;
  char tmp[4096];
  if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &pwp) == 0 && pwp)
    snprintf(buf, len, "%s", pw.pw_name);
  else
    snprintf(buf, len, "%u", (unsigned)uid);
}

void dfuse_group_name_of(gid_t gid, char *buf, size_t len) {
  struct group gr, *grp = NULL;
  char tmp[8192];
  if (getgrgid_r(gid, &gr, tmp, sizeof tmp, &grp) == 0 && grp)
    snprintf(buf, len, "%s", gr.gr_name);
  else
    snprintf(buf, len, "%u", (unsigned)gid);
}

int dfuse_user_fs(struct dfuse *d, uid_t uid, gid_t gid, dfs_fs **out) {
  (void)gid;
  if (d->o.fixed_user) uid = 0; /* one shared connection */
  pthread_mutex_lock(&d->users_mu);
  for (struct dfuse_user *u = d->users; u; u = u->next) {
    if (u->uid == uid) {
      *out = u->fs;
      pthread_mutex_unlock(&d->users_mu);
      return 0;
    }
  }
  /* First call of this user: connect under the lock (once per user for the
   * life of the mount, so the cost of serialising is negligible). */
  int rc = 0;
  struct dfuse_user *u = calloc(1, sizeof *u);
  char name[256];
  if (d->o.fixed_user)
    snprintf(name, sizeof name, "%s", d->o.fixed_user);
  else
    dfuse_user_name_of(uid, name, sizeof name);
  if (!u || !(u->name = strdup(name))) {
    rc = dfs_err_set(DFS_ENOMEM, "out of memory");
    goto fail;
  }
  struct dfs_connect_opts co = {.namenode = d->o.namenode, .user = u->name,
                                .timeout_ms = d->o.timeout_ms};
  if ((rc = dfs_connect(&co, &u->fs)) < 0) {
    LOG_ERROR(DFUSE_LOG, "connect to %s as %s: %s", d->o.namenode, u->name,
              dfs_error_message());
    goto fail;
  }
  LOG_INFO(DFUSE_LOG, "uid %u acts as DFS user %s", (unsigned)uid, u->name);
  u->uid = uid;
  u->next = d->users;
  d->users = u;
  *out = u->fs;
  pthread_mutex_unlock(&d->users_mu);
  return 0;
fail:
  if (u) free(u->name);
  free(u);
  pthread_mutex_unlock(&d->users_mu);
  return rc;
}

const char *dfuse_user_name(struct dfuse *d, uid_t uid) {
  const char *name = NULL;
  if (d->o.fixed_user) uid = 0;
  pthread_mutex_lock(&d->users_mu);
  for (struct dfuse_user *u = d->users; u; u = u->next)
    if (u->uid == uid) name = u->name;
  pthread_mutex_unlock(&d->users_mu);
  return name;
}

void dfuse_users_close(struct dfuse *d) {
  pthread_mutex_lock(&d->users_mu);
  struct dfuse_user *u = d->users;
  d->users = NULL;
  pthread_mutex_unlock(&d->users_mu);
  while (u) {
    struct dfuse_user *next = u->next;
    if (dfs_disconnect(u->fs) < 0)
      LOG_WARN(DFUSE_LOG, "disconnect %s: %s", u->name, dfs_error_message());
    free(u->name);
    free(u);
    u = next;
  }
}

static unsigned name_lookup(struct dfuse *d, const char *name, bool is_group) {
  if (!name || !*name) return DFUSE_NOBODY;
  pthread_mutex_lock(&d->names_mu);
  for (struct dfuse_name *n = d->names; n; n = n->next) {
    if (n->is_group == is_group && strcmp(n->name, name) == 0) {
      unsigned id = n->id;
      pthread_mutex_unlock(&d->names_mu);
      return id;
    }
  }
  pthread_mutex_unlock(&d->names_mu);
  /* Resolve outside the lock (NSS may be slow); a duplicate entry from a
   * race is harmless. */
  unsigned id = DFUSE_NOBODY;
  char tmp[8192];
  if (is_group) {
    struct group gr, *grp = NULL;
    if (getgrnam_r(name, &gr, tmp, sizeof tmp, &grp) == 0 && grp) id = grp->gr_gid;
  } else {
    struct passwd pw, *pwp = NULL;
    if (getpwnam_r(name, &pw, tmp, sizeof tmp, &pwp) == 0 && pwp) id = pwp->pw_uid;
  }
  if (id == DFUSE_NOBODY) {
    /* A decimal name is the id itself (what dfuse_user_name_of sends for a
     * uid without a name). */
    char *end;
    unsigned long v = strtoul(name, &end, 10);
    if (*end == '\0' && v < DFUSE_NOBODY) id = (unsigned)v;
  }
  struct dfuse_name *n = calloc(1, sizeof *n);
  if (n && (n->name = strdup(name))) {
    n->is_group = is_group;
    n->id = id;
    pthread_mutex_lock(&d->names_mu);
    n->next = d->names;
    d->names = n;
    pthread_mutex_unlock(&d->names_mu);
  } else {
    free(n);
  }
  return id;
}

uid_t dfuse_uid_of(struct dfuse *d, const char *owner) { return name_lookup(d, owner, false); }
gid_t dfuse_gid_of(struct dfuse *d, const char *group) { return name_lookup(d, group, true); }

bool dfuse_user_in_group(struct dfuse *d, uid_t uid, gid_t gid, const char *group) {
  (void)d;
  char name[256];
  dfuse_user_name_of(uid, name, sizeof name);
  gid_t groups[256];
  int ng = 256;
  if (getgrouplist(name, gid, groups, &ng) < 0) ng = 256;
  for (int i = 0; i < ng; i++) {
    char g[256];
    dfuse_group_name_of(groups[i], g, sizeof g);
    if (strcmp(g, group) == 0) return true;
  }
  return false;
}

void dfuse_names_free(struct dfuse *d) {
  struct dfuse_name *n = d->names;
  d->names = NULL;
  while (n) {
    struct dfuse_name *next = n->next;
    free(n->name);
    free(n);
    n = next;
  }
}
