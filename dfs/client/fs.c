/*
 * fs.c - the filesystem handle: connection to the NameNode, namespace calls,
 * the lease renewer thread. Every call is one NameNode RPC (listing: one per
 * page); messages from the NameNode reach the caller unchanged through
 * dfs_error_message(), local ones name the operation and the path.
 *
 * The renewer is the handle's only thread: it renews the lease while files
 * are open for writing and keeps their idle pipelines alive with heartbeat
 * packets (so an open, idle writer needs nothing from the caller).
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "errors.h"
#include "net.h"

/* Lease renewal follows HDFS: the lease's soft limit is 60 s and the
 * client renews at half of it, so one failed renewal can be retried (each
 * tick) long before the limit. The renewer thread also keeps idle write
 * pipelines alive with heartbeat packets, hence a short tick. */
#define LEASE_SOFT_LIMIT_MS 60000
#define LEASE_RENEW_MS (LEASE_SOFT_LIMIT_MS / 2)
#define RENEWER_TICK_MS 1000

/* Idle pooled connections kept per address (NameNode, each DataNode). */
#define MAX_IDLE_PER_ADDR 32

const char *dfs_error_message(void) { return dfs_err_msg(); }
const char *dfs_error_string(int code) { return dfs_strerror(code); }

void dfs__dn_addr(const Dfs__DatanodeInfo *d, char *buf, size_t cap) {
  snprintf(buf, cap, "%s:%u", d->id->host, d->id->port);
}

int dfs__check_path(const char *op, const char *path) {
  if (!path) return dfs_err_set(DFS_EINVAL, "%s: no path given", op);
  if (!*path) return dfs_err_set(DFS_EBADPATH, "%s: Can not create a Path from an empty string", op);
  if (path[0] != '/') return dfs_err_set(DFS_EBADPATH, "%s: %s: Relative path not allowed", op, path);
  return 0;
}

int dfs__take_conn(dfs_fs *fs, const char *addr, dfs_conn **out) {
  /* Bounded: the pool holds at most max_idle_per_addr idle connections. */
  for (int i = 0;; i++) {
    int rc = dfs_rpc_client_take(fs->rpc, addr, fs->timeout_ms, out);
    if (rc) return rc;
    struct pollfd p = {dfs_conn_fd(*out), POLLIN | POLLRDHUP, 0};
    /* An idle connection in step has nothing to read: readable means EOF,
     * reset or stray bytes, all unusable. */
    if (poll(&p, 1, 0) == 0 || i >= MAX_IDLE_PER_ADDR) return 0;
    dfs_rpc_client_give(fs->rpc, *out, false);
    *out = NULL;
  }
}

static int transient(int rc) {
  return rc == DFS_ECONNREFUSED || rc == DFS_ECONNRESET || rc == DFS_ETIMEDOUT ||
         rc == -EPIPE || rc == -EHOSTUNREACH || rc == -ENETUNREACH;
}

int dfs__nn_call(dfs_fs *fs, uint16_t method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                 int idempotent) {
  int rc;
  for (int attempt = 0;; attempt++) {
    rc = dfs_rpc_call(fs->rpc, fs->nn_addr, method, req, resp_desc, resp, fs->timeout_ms);
    if (rc == 0 || !idempotent || !transient(rc) || attempt >= fs->retries) break;
    usleep((useconds_t)(100000 * (attempt + 1)));
  }
  return rc;
}

static void *renewer_main(void *arg) {
  dfs_fs *fs = arg;
  pthread_setname_np(pthread_self(), "lease-renewer");
  int tick = RENEWER_TICK_MS;
  if (fs->timeout_ms / 4 > 0 && fs->timeout_ms / 4 < tick) tick = fs->timeout_ms / 4;
  int64_t last_renew = dfs_now_ms(); /* CREATE took the lease just now */
  pthread_mutex_lock(&fs->mu);
  while (!fs->stop_renewer) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)tick * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
    if (fs->stop_renewer) break;
    if (fs->nwriters == 0) {
      last_renew = dfs_now_ms();
      continue;
    }
    for (dfs_file *f = fs->writers; f; f = f->next_writer) dfs__writer_heartbeat(f);
    if (dfs_now_ms() - last_renew < LEASE_RENEW_MS) continue;
    pthread_mutex_unlock(&fs->mu);
    Dfs__RenewLeaseRequest r = DFS__RENEW_LEASE_REQUEST__INIT;
    r.client_name = fs->client_name;
    int rc = dfs_rpc_call(fs->rpc, fs->nn_addr, DFS_M_RENEW_LEASE, &r.base, NULL, NULL,
                          fs->timeout_ms);
    pthread_mutex_lock(&fs->mu);
    if (rc == 0) last_renew = dfs_now_ms(); /* else: try again next tick */
  }
  pthread_mutex_unlock(&fs->mu);
  return NULL;
}

void dfs__writer_add(dfs_fs *fs, dfs_file *f) {
  pthread_mutex_lock(&fs->mu);
  f->next_writer = fs->writers;
  fs->writers = f;
  fs->nwriters++;
  if (!fs->renewer_started && pthread_create(&fs->renewer, NULL, renewer_main, fs) == 0)
    fs->renewer_started = 1;
  pthread_mutex_unlock(&fs->mu);
}

void dfs__writer_remove(dfs_fs *fs, dfs_file *f) {
  pthread_mutex_lock(&fs->mu);
  for (dfs_file **p = &fs->writers; *p; p = &(*p)->next_writer)
    if (*p == f) {
      *p = f->next_writer;
      fs->nwriters--;
      break;
    }
  pthread_mutex_unlock(&fs->mu);
}

void dfs__reader_add(dfs_fs *fs, dfs_file *f) {
  pthread_mutex_lock(&fs->mu);
  f->next_writer = fs->readers;
  fs->readers = f;
  pthread_mutex_unlock(&fs->mu);
}

void dfs__reader_remove(dfs_fs *fs, dfs_file *f) {
  pthread_mutex_lock(&fs->mu);
  for (dfs_file **p = &fs->readers; *p; p = &(*p)->next_writer)
    if (*p == f) {
      *p = f->next_writer;
      break;
    }
  pthread_mutex_unlock(&fs->mu);
}

int dfs_connect(const struct dfs_connect_opts *opts, dfs_fs **out) {
  struct dfs_connect_opts none = {0};
  if (!opts) opts = &none;
  dfs_fs *fs = calloc(1, sizeof *fs);
  if (!fs) return dfs_err_set(DFS_ENOMEM, "out of memory");
  int rc = 0;
  pthread_mutex_init(&fs->mu, NULL);
  pthread_cond_init(&fs->cv, NULL);
  if (opts->conf) {
    fs->conf = (dfs_conf *)opts->conf;
  } else {
    fs->conf = dfs_conf_new();
    fs->own_conf = 1;
    if (!fs->conf) {
      rc = dfs_err_set(DFS_ENOMEM, "out of memory");
      goto fail;
    }
    const char *dir = getenv("DFS_CONF_DIR");
    if (dir && *dir) {
      char path[4096];
      snprintf(path, sizeof path, "%s/dfs-site.xml", dir);
      if ((rc = dfs_conf_load_file(fs->conf, path, true)) != 0) goto fail;
    }
  }
  fs->nn_addr = strdup(opts->namenode ? opts->namenode
                                      : dfs_conf_str(fs->conf, "dfs.namenode.rpc-address"));
  if (opts->user) {
    fs->user = strdup(opts->user);
  } else {
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    getpwuid_r(geteuid(), &pw, buf, sizeof buf, &pwp);
    if (pwp) fs->user = strdup(pw.pw_name);
    else {
      char u[32];
      snprintf(u, sizeof u, "uid%u", (unsigned)geteuid());
      fs->user = strdup(u);
    }
  }
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) rnd = (uint32_t)dfs_now_ms();
  char cn[64];
  snprintf(cn, sizeof cn, "DFSClient_%d_%u", (int)getpid(), rnd);
  fs->client_name = strdup(cn);
  if (!fs->nn_addr || !fs->user || !fs->client_name) {
    rc = dfs_err_set(DFS_ENOMEM, "out of memory");
    goto fail;
  }
  fs->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms
                                        : (int)dfs_conf_int(fs->conf, "dfs.client.socket-timeout");
  fs->retries = (int)dfs_conf_int(fs->conf, "dfs.client.retries");
  struct dfs_rpc_client_opts ro = {.user = fs->user, .client_name = fs->client_name,
                                   .timeout_ms = fs->timeout_ms,
                                   .max_body = (uint32_t)dfs_conf_int(fs->conf, "ipc.maximum.data.length"),
                                   .max_idle_per_addr = MAX_IDLE_PER_ADDR};
  if ((rc = dfs_rpc_client_create(&ro, &fs->rpc)) != 0) goto fail;
  Dfs__Empty e = DFS__EMPTY__INIT;
  Dfs__ServerDefaults *d = NULL;
  rc = dfs__nn_call(fs, DFS_M_GET_SERVER_DEFAULTS, &e.base, &dfs__server_defaults__descriptor,
                    (ProtobufCMessage **)&d, 1);
  if (rc) {
    dfs_err_set(rc, "connect to NameNode %s: %s", fs->nn_addr, dfs_err_msg());
    goto fail;
  }
  fs->blocksize = d->blocksize;
  fs->replication = d->replication;
  fs->packet_size = d->write_packet_size;
  dfs__server_defaults__free_unpacked(d, NULL);
  /* Client-side settings win when the user set them (e.g. -D dfs.blocksize). */
  if (fs->own_conf == 0) {
    fs->blocksize = (uint64_t)dfs_conf_int(fs->conf, "dfs.blocksize");
    fs->replication = (uint32_t)dfs_conf_int(fs->conf, "dfs.replication");
    fs->packet_size = (uint32_t)dfs_conf_int(fs->conf, "dfs.client-write-packet-size");
  }
  if (fs->packet_size < 4096 || fs->packet_size % 512) fs->packet_size = 65536;
  *out = fs;
  return 0;
fail:
  rc = rc ? rc : DFS_EINTERNAL;
  {
    int keep = dfs_err_code();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dfs_err_msg());
    if (fs->rpc) dfs_rpc_client_destroy(fs->rpc);
    if (fs->own_conf) dfs_conf_free(fs->conf);
    free(fs->nn_addr);
    free(fs->user);
    free(fs->client_name);
    free(fs);
    dfs_err_set(keep ? keep : rc, "%s", msg);
  }
  return rc;
}

int dfs_disconnect(dfs_fs *fs) {
  if (!fs) return 0;
  int rc = 0;
  for (;;) {
    pthread_mutex_lock(&fs->mu);
    dfs_file *f = fs->writers ? fs->writers : fs->readers;
    pthread_mutex_unlock(&fs->mu);
    if (!f) break;
    int r = dfs_close(f);
    if (r && !rc) rc = r;
  }
  pthread_mutex_lock(&fs->mu);
  fs->stop_renewer = 1;
  pthread_cond_broadcast(&fs->cv);
  pthread_mutex_unlock(&fs->mu);
  if (fs->renewer_started) pthread_join(fs->renewer, NULL);
  dfs_rpc_client_destroy(fs->rpc);
  if (fs->own_conf) dfs_conf_free(fs->conf);
  pthread_mutex_destroy(&fs->mu);
  pthread_cond_destroy(&fs->cv);
  free(fs->nn_addr);
  free(fs->user);
  free(fs->client_name);
  free(fs);
  return rc;
}

/* ---- namespace ---------------------------------------------------------- */

static char *dupstr(const char *s) { return strdup(s ? s : ""); }

static int fill_stat(const Dfs__FileStatus *s, const char *name, struct dfs_stat *st) {
  memset(st, 0, sizeof *st);
  if (name) st->name = strdup(name);
  else st->name = strndup((const char *)s->name.data, s->name.len);
  st->type = s->type == DFS__FILE_TYPE__IS_DIR ? DFS_TYPE_DIR : DFS_TYPE_FILE;
  st->length = s->length;
  st->permission = (uint16_t)(s->permission & 07777);
  st->owner = dupstr(s->owner);
  st->group = dupstr(s->group);
  st->mtime_ms = (int64_t)s->mtime;
  st->atime_ms = (int64_t)s->atime;
  st->replication = (int)s->replication;
  st->blocksize = s->blocksize;
  st->file_id = s->file_id;
  st->children = s->children_num;
  st->under_construction = s->under_construction;
  if (!st->name || !st->owner || !st->group) {
    dfs_stat_clear(st);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  return 0;
}

void dfs_stat_clear(struct dfs_stat *st) {
  if (!st) return;
  free(st->name);
  free(st->owner);
  free(st->group);
  st->name = st->owner = st->group = NULL;
}

int dfs_stat(dfs_fs *fs, const char *path, struct dfs_stat *st) {
  int prc = dfs__check_path("stat", path);
  if (prc) return prc;
  Dfs__GetFileInfoRequest r = DFS__GET_FILE_INFO_REQUEST__INIT;
  r.path = dfs__bytes(path);
  Dfs__GetFileInfoResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_GET_FILE_INFO, &r.base, &dfs__get_file_info_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  if (!resp->status) {
    dfs__get_file_info_response__free_unpacked(resp, NULL);
    return dfs_err_set(DFS_ENOENT, "%s: No such file or directory", path);
  }
  rc = fill_stat(resp->status, path, st);
  dfs__get_file_info_response__free_unpacked(resp, NULL);
  return rc;
}

void dfs_stats_free(struct dfs_stat *e, size_t n) {
  if (!e) return;
  for (size_t i = 0; i < n; i++) dfs_stat_clear(&e[i]);
  free(e);
}

int dfs_list_page(dfs_fs *fs, const char *path, const char *start_after,
                  struct dfs_stat **entries, size_t *n, size_t *remaining) {
  int prc = dfs__check_path("ls", path);
  if (prc) return prc;
  Dfs__GetListingRequest r = DFS__GET_LISTING_REQUEST__INIT;
  r.path = dfs__bytes(path);
  if (start_after) {
    r.has_start_after = 1;
    r.start_after = dfs__bytes(start_after);
  }
  Dfs__GetListingResponse *resp = NULL;
  *entries = NULL;
  *n = 0;
  int rc = dfs__nn_call(fs, DFS_M_GET_LISTING, &r.base, &dfs__get_listing_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  if (resp->dir && resp->dir->type != DFS__FILE_TYPE__IS_DIR && resp->n_entries == 0) {
    /* a file lists as itself */
    struct dfs_stat *e = calloc(1, sizeof *e);
    if (!e || (rc = fill_stat(resp->dir, path, e)) != 0) {
      free(e);
      dfs__get_listing_response__free_unpacked(resp, NULL);
      return rc ? rc : dfs_err_set(DFS_ENOMEM, "out of memory");
    }
    *entries = e;
    *n = 1;
    if (remaining) *remaining = 0;
    dfs__get_listing_response__free_unpacked(resp, NULL);
    return 0;
  }
  struct dfs_stat *e = calloc(resp->n_entries ? resp->n_entries : 1, sizeof *e);
  if (!e) rc = dfs_err_set(DFS_ENOMEM, "out of memory");
  for (size_t i = 0; rc == 0 && i < resp->n_entries; i++) {
    rc = fill_stat(resp->entries[i], NULL, &e[i]);
    if (rc) dfs_stats_free(e, i), e = NULL;
  }
  if (rc == 0) {
    *entries = e;
    *n = resp->n_entries;
    if (remaining) *remaining = resp->remaining;
  }
  dfs__get_listing_response__free_unpacked(resp, NULL);
  return rc;
}

int dfs_list(dfs_fs *fs, const char *path, struct dfs_stat **entries, size_t *n) {
  struct dfs_stat *all = NULL;
  size_t count = 0, cap = 0;
  char *after = NULL;
  int rc = 0;
  for (;;) {
    struct dfs_stat *page;
    size_t pn, rem = 0;
    rc = dfs_list_page(fs, path, after, &page, &pn, &rem);
    if (rc) break;
    if (count + pn > cap) {
      size_t nc = cap ? cap * 2 : 64;
      while (nc < count + pn) nc *= 2;
      struct dfs_stat *na = realloc(all, nc * sizeof *na);
      if (!na) {
        dfs_stats_free(page, pn);
        rc = dfs_err_set(DFS_ENOMEM, "out of memory");
        break;
      }
      all = na;
      cap = nc;
    }
    if (pn) memcpy(all + count, page, pn * sizeof *page); /* page may be NULL when empty */
    count += pn;
    free(page);
    if (rem == 0 || pn == 0) break;
    free(after);
    after = strdup(all[count - 1].name);
  }
  free(after);
  if (rc) {
    dfs_stats_free(all, count);
    return rc;
  }
  *entries = all;
  *n = count;
  return 0;
}

int dfs_mkdirs(dfs_fs *fs, const char *path, uint16_t permission) {
  int prc = dfs__check_path("mkdir", path);
  if (prc) return prc;
  Dfs__MkdirsRequest r = DFS__MKDIRS_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.permission = permission ? permission : 0755;
  r.has_create_parent = 1;
  r.create_parent = 1;
  Dfs__MkdirsResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_MKDIRS, &r.base, &dfs__mkdirs_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  dfs__mkdirs_response__free_unpacked(resp, NULL);
  return 0;
}

int dfs_delete(dfs_fs *fs, const char *path, bool recursive) {
  int prc = dfs__check_path("delete", path);
  if (prc) return prc;
  Dfs__DeleteRequest r = DFS__DELETE_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.has_recursive = 1;
  r.recursive = recursive;
  Dfs__DeleteResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_DELETE, &r.base, &dfs__delete_response__descriptor,
                        (ProtobufCMessage **)&resp, 0);
  if (rc) return rc;
  int existed = resp->result;
  dfs__delete_response__free_unpacked(resp, NULL);
  if (!existed) return dfs_err_set(DFS_ENOENT, "delete: %s: No such file or directory", path);
  return 0;
}

int dfs_rename(dfs_fs *fs, const char *src, const char *dst, bool overwrite) {
  int prc = dfs__check_path("rename", src);
  if (prc == 0) prc = dfs__check_path("rename", dst);
  if (prc) return prc;
  Dfs__RenameRequest r = DFS__RENAME_REQUEST__INIT;
  r.src = dfs__bytes(src);
  r.dst = dfs__bytes(dst);
  r.has_overwrite = 1;
  r.overwrite = overwrite;
  Dfs__RenameResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_RENAME, &r.base, &dfs__rename_response__descriptor,
                        (ProtobufCMessage **)&resp, 0);
  if (rc) return rc;
  int ok = resp->result;
  dfs__rename_response__free_unpacked(resp, NULL);
  if (!ok) return dfs_err_set(DFS_EIO, "rename: %s to %s: failed", src, dst);
  return 0;
}

int dfs_chmod(dfs_fs *fs, const char *path, uint16_t permission) {
  int prc = dfs__check_path("chmod", path);
  if (prc) return prc;
  Dfs__SetPermissionRequest r = DFS__SET_PERMISSION_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.permission = permission & 07777;
  return dfs__nn_call(fs, DFS_M_SET_PERMISSION, &r.base, NULL, NULL, 1);
}

int dfs_chown(dfs_fs *fs, const char *path, const char *owner, const char *group) {
  int prc = dfs__check_path("chown", path);
  if (prc) return prc;
  Dfs__SetOwnerRequest r = DFS__SET_OWNER_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.owner = (char *)owner;
  r.group = (char *)group;
  return dfs__nn_call(fs, DFS_M_SET_OWNER, &r.base, NULL, NULL, 1);
}

int dfs_set_replication(dfs_fs *fs, const char *path, int replication) {
  int prc = dfs__check_path("setrep", path);
  if (prc) return prc;
  if (replication < 1 || replication > 32767)
    return dfs_err_set(DFS_EINVAL, "setrep: %s: invalid replication %d", path, replication);
  Dfs__SetReplicationRequest r = DFS__SET_REPLICATION_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.replication = (uint32_t)replication;
  Dfs__SetReplicationResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_SET_REPLICATION, &r.base,
                        &dfs__set_replication_response__descriptor, (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  dfs__set_replication_response__free_unpacked(resp, NULL);
  return 0;
}

int dfs_set_times(dfs_fs *fs, const char *path, int64_t mtime_ms, int64_t atime_ms) {
  int prc = dfs__check_path("settimes", path);
  if (prc) return prc;
  Dfs__SetTimesRequest r = DFS__SET_TIMES_REQUEST__INIT;
  r.path = dfs__bytes(path);
  if (mtime_ms >= 0) r.has_mtime = 1, r.mtime = (uint64_t)mtime_ms;
  if (atime_ms >= 0) r.has_atime = 1, r.atime = (uint64_t)atime_ms;
  return dfs__nn_call(fs, DFS_M_SET_TIMES, &r.base, NULL, NULL, 1);
}

int dfs_content_summary(dfs_fs *fs, const char *path, struct dfs_content_summary *cs) {
  int prc = dfs__check_path("du", path);
  if (prc) return prc;
  Dfs__GetContentSummaryRequest r = DFS__GET_CONTENT_SUMMARY_REQUEST__INIT;
  r.path = dfs__bytes(path);
  Dfs__ContentSummary *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_GET_CONTENT_SUMMARY, &r.base, &dfs__content_summary__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  cs->length = resp->length;
  cs->file_count = resp->file_count;
  cs->directory_count = resp->directory_count;
  cs->space_consumed = resp->space_consumed;
  dfs__content_summary__free_unpacked(resp, NULL);
  return 0;
}

/* ---- blocks and cluster -------------------------------------------------- */

void dfs_block_locs_free(struct dfs_block_loc *locs, size_t n) {
  if (!locs) return;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < locs[i].n_replicas; j++) {
      free(locs[i].replicas[j].addr);
      free(locs[i].replicas[j].uuid);
      free(locs[i].replicas[j].rack);
    }
    free(locs[i].replicas);
  }
  free(locs);
}

int dfs_block_locations(dfs_fs *fs, const char *path, uint64_t offset, uint64_t len,
                        struct dfs_block_loc **out, size_t *n) {
  int prc = dfs__check_path("getBlockLocations", path);
  if (prc) return prc;
  Dfs__GetBlockLocationsRequest r = DFS__GET_BLOCK_LOCATIONS_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.has_offset = 1;
  r.offset = offset;
  if (len) r.has_length = 1, r.length = len;
  Dfs__GetBlockLocationsResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_GET_BLOCK_LOCATIONS, &r.base,
                        &dfs__get_block_locations_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  *out = NULL;
  *n = 0;
  Dfs__LocatedBlocks *lb = resp->locations;
  size_t nb = lb ? lb->n_blocks : 0;
  struct dfs_block_loc *locs = calloc(nb ? nb : 1, sizeof *locs);
  if (!locs) rc = dfs_err_set(DFS_ENOMEM, "out of memory");
  for (size_t i = 0; rc == 0 && i < nb; i++) {
    const Dfs__LocatedBlock *b = lb->blocks[i];
    locs[i].block_id = b->block->id;
    locs[i].genstamp = b->block->genstamp;
    locs[i].offset = b->offset;
    locs[i].length = b->block->num_bytes;
    locs[i].corrupt = b->corrupt;
    locs[i].replicas = calloc(b->n_locs ? b->n_locs : 1, sizeof *locs[i].replicas);
    if (!locs[i].replicas) {
      rc = dfs_err_set(DFS_ENOMEM, "out of memory");
      break;
    }
    locs[i].n_replicas = b->n_locs;
    for (size_t j = 0; j < b->n_locs; j++) {
      char a[300];
      dfs__dn_addr(b->locs[j], a, sizeof a);
      locs[i].replicas[j].addr = strdup(a);
      locs[i].replicas[j].uuid = dupstr(b->locs[j]->id->uuid);
      locs[i].replicas[j].rack = dupstr(b->locs[j]->rack ? b->locs[j]->rack : "/default-rack");
    }
  }
  dfs__get_block_locations_response__free_unpacked(resp, NULL);
  if (rc) {
    dfs_block_locs_free(locs, nb);
    return rc;
  }
  *out = locs;
  *n = nb;
  return 0;
}

int dfs_get_fs_stats(dfs_fs *fs, struct dfs_fs_stats *st) {
  Dfs__Empty e = DFS__EMPTY__INIT;
  Dfs__FsStats *r = NULL;
  int rc = dfs__nn_call(fs, DFS_M_GET_FS_STATS, &e.base, &dfs__fs_stats__descriptor,
                        (ProtobufCMessage **)&r, 1);
  if (rc) return rc;
  memset(st, 0, sizeof *st);
  st->capacity = r->capacity;
  st->used = r->used;
  st->remaining = r->remaining;
  st->under_replicated = r->under_replicated;
  st->corrupt_blocks = r->corrupt_blocks;
  st->missing_blocks = r->missing_blocks;
  st->blocks = r->blocks;
  st->files = r->files;
  st->directories = r->directories;
  st->safe_mode = r->safe_mode;
  dfs__fs_stats__free_unpacked(r, NULL);
  return 0;
}

void dfs_datanode_report_free(struct dfs_datanode_info *nodes, size_t n) {
  if (!nodes) return;
  for (size_t i = 0; i < n; i++) {
    free(nodes[i].uuid);
    free(nodes[i].addr);
    free(nodes[i].hostname);
    free(nodes[i].rack);
  }
  free(nodes);
}

int dfs_datanode_report(dfs_fs *fs, enum dfs_report_type type, struct dfs_datanode_info **out,
                        size_t *n) {
  Dfs__GetDatanodeReportRequest r = DFS__GET_DATANODE_REPORT_REQUEST__INIT;
  r.has_type = 1;
  r.type = (Dfs__DatanodeReportType)type;
  Dfs__GetDatanodeReportResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_GET_DATANODE_REPORT, &r.base,
                        &dfs__get_datanode_report_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  struct dfs_datanode_info *d = calloc(resp->n_nodes ? resp->n_nodes : 1, sizeof *d);
  if (!d) {
    dfs__get_datanode_report_response__free_unpacked(resp, NULL);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < resp->n_nodes; i++) {
    const Dfs__DatanodeInfo *x = resp->nodes[i];
    char a[300];
    dfs__dn_addr(x, a, sizeof a);
    d[i].uuid = dupstr(x->id->uuid);
    d[i].addr = strdup(a);
    d[i].hostname = dupstr(x->id->hostname ? x->id->hostname : x->id->host);
    d[i].rack = dupstr(x->rack ? x->rack : "/default-rack");
    d[i].capacity = x->capacity;
    d[i].used = x->dfs_used;
    d[i].remaining = x->remaining;
    d[i].num_blocks = x->num_blocks;
    d[i].xceivers = x->xceivers;
    d[i].failed_volumes = x->failed_volumes;
    d[i].last_contact_ms = (int64_t)x->last_update_ms;
    d[i].dead = x->dead;
    d[i].admin_state = (int)x->admin_state;
  }
  *out = d;
  *n = resp->n_nodes;
  dfs__get_datanode_report_response__free_unpacked(resp, NULL);
  return 0;
}

int dfs_recover_lease(dfs_fs *fs, const char *path, bool *closed) {
  int prc = dfs__check_path("recoverLease", path);
  if (prc) return prc;
  Dfs__RecoverLeaseRequest r = DFS__RECOVER_LEASE_REQUEST__INIT;
  r.path = dfs__bytes(path);
  r.client_name = fs->client_name;
  Dfs__RecoverLeaseResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_RECOVER_LEASE, &r.base, &dfs__recover_lease_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  if (closed) *closed = resp->result;
  dfs__recover_lease_response__free_unpacked(resp, NULL);
  return 0;
}

int dfs_refresh_nodes(dfs_fs *fs) {
  Dfs__Empty r = DFS__EMPTY__INIT;
  ProtobufCMessage *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_REFRESH_NODES, &r.base, &dfs__empty__descriptor, &resp, 1);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return rc;
}

int dfs_safemode(dfs_fs *fs, enum dfs_safemode_action action, bool *in_safe_mode) {
  Dfs__SetSafeModeRequest r = DFS__SET_SAFE_MODE_REQUEST__INIT;
  r.action = (Dfs__SafeModeAction)action;
  Dfs__SetSafeModeResponse *resp = NULL;
  int rc = dfs__nn_call(fs, DFS_M_SET_SAFE_MODE, &r.base, &dfs__set_safe_mode_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  if (in_safe_mode) *in_safe_mode = resp->in_safe_mode;
  dfs__set_safe_mode_response__free_unpacked(resp, NULL);
  return 0;
}
