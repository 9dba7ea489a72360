/*
 * storage.c - volumes: layout, VERSION/uuid, volume choice, capacity, the
 * start-up scan that rebuilds the replica map.
 *
 * The replica map is not persisted: the files are the truth, and the scan
 * at start-up reads directory listings and file sizes (plus a checksum
 * pass over replicas that were being written when the node stopped, since
 * their tail may be torn). Finalized subdirectories are created on demand
 * by replica.c.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "meta.h"

struct dn_volume {
  char *dir;            /* immutable */
  atomic_bool failed;   /* set once, never cleared */
  bool handed;          /* guarded by dn_storage.lock: given to take_failed */
};

struct dn_storage {
  pthread_mutex_t lock;
  struct dn_volume *vols; /* array immutable after open; fields see above */
  int n;
  int next;               /* guarded by lock: round-robin cursor */
  uint64_t reserved;
  char uuid[DN_UUID_LEN + 1];
  void (*wake)(void *);   /* set before threads start, then immutable */
  void *wake_arg;
  atomic_bool check_wanted;
};

static int mkdir_p(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf)
    return dfs_err_set(DFS_ENAMETOOLONG, "mkdir: %s: bad length", path);
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return dfs_err_set(dfs_err_from_errno(errno), "mkdir: %s: %s", buf,
                           strerror(errno));
      buf[i] = c;
    }
  }
  return 0;
}

static void make_uuid(char out[DN_UUID_LEN + 1]) {
  uint8_t b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t r = getrandom(b + got, sizeof b - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
  }
  if (got < sizeof b) { /* no entropy source: time and pid still make it unique here */
    uint64_t x = (uint64_t)time(NULL) * 6364136223846793005ULL ^ (uint64_t)getpid();
    for (size_t i = 0; i < sizeof b; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
      b[i] = (uint8_t)(x >> 56);
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  snprintf(out, DN_UUID_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
           b[12], b[13], b[14], b[15]);
}

/* Read datanodeUuid from VERSION into uuid: 1 found, 0 no file, <0 error. */
static int read_version(const char *path, char uuid[DN_UUID_LEN + 1]) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    if (errno == ENOENT) return 0;
    return dfs_err_set(dfs_err_from_errno(errno), "%s: %s", path, strerror(errno));
  }
  char line[256];
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "datanodeUuid=", 13) != 0) continue;
    char *v = line + 13;
    v[strcspn(v, "\r\n")] = '\0';
    if (strlen(v) != DN_UUID_LEN) break;
    memcpy(uuid, v, DN_UUID_LEN + 1);
    found = 1;
  }
  fclose(f);
  if (!found)
    return dfs_err_set(DFS_ECORRUPT, "%s: no valid datanodeUuid line", path);
  return 1;
}

/* Write VERSION atomically (tmp + fsync + rename). */
static int write_version(const char *path, const char *uuid) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  char body[256];
  int len = snprintf(body, sizeof body,
                     "#DataNode storage\ndatanodeUuid=%s\nstorageType=DATA_NODE\n"
                     "layoutVersion=1\n", uuid);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return dfs_err_set(dfs_err_from_errno(errno), "%s: %s", tmp, strerror(errno));
  int rc = 0;
  if (write(fd, body, (size_t)len) != len || fsync(fd) < 0)
    rc = dfs_err_set(dfs_err_from_errno(errno ? errno : EIO), "%s: write failed", tmp);
  close(fd);
  if (rc == 0 && rename(tmp, path) < 0)
    rc = dfs_err_set(dfs_err_from_errno(errno), "%s: rename: %s", path, strerror(errno));
  return rc;
}

int dn_storage_open(const char *dirs, uint64_t reserved, dn_storage **out) {
  int rc = 0;
  char *copy = strdup(dirs ? dirs : "");
  dn_storage *s = calloc(1, sizeof *s);
  if (copy == NULL || s == NULL) {
    free(copy);
    free(s);
    return DFS_ENOMEM;
  }
  pthread_mutex_init(&s->lock, NULL);
  s->reserved = reserved;
  int cap = 1;
  for (const char *p = copy; *p; p++) cap += *p == ',';
  s->vols = calloc((size_t)cap, sizeof *s->vols);
  if (s->vols == NULL) {
    rc = DFS_ENOMEM;
    goto fail;
  }
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ' || *tok == '\t') tok++;
    size_t l = strlen(tok);
    while (l > 1 && (tok[l - 1] == ' ' || tok[l - 1] == '/')) tok[--l] = '\0';
    if (l == 0) continue;
    s->vols[s->n].dir = strdup(tok);
    if (s->vols[s->n].dir == NULL) {
      rc = DFS_ENOMEM;
      goto fail;
    }
    s->n++;
  }
  if (s->n == 0) {
    rc = dfs_err_set(DFS_ECONFIG, "dfs.datanode.data.dir: no directory given");
    goto fail;
  }
  /* Create the layout, then agree on one uuid. A directory that cannot be
   * set up is a failed volume, not a reason to refuse the others. */
  bool have_uuid = false;
  char path[4200], first_err[512] = "";
  int n_ok = 0;
  for (int i = 0; i < s->n; i++) {
    const char *d = s->vols[i].dir;
    char u[DN_UUID_LEN + 1];
    snprintf(path, sizeof path, "%s/current/rbw", d);
    if ((rc = mkdir_p(path)) == 0) {
      snprintf(path, sizeof path, "%s/current/finalized", d);
      rc = mkdir_p(path);
    }
    if (rc == 0) {
      snprintf(path, sizeof path, "%s/current/VERSION", d);
      rc = read_version(path, u);
    }
    if (rc == DFS_ENOMEM) goto fail;
    if (rc < 0) {
      if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", dfs_err_msg());
      LOG_ERROR("datanode", "data dir %s unusable (%s); volume failed", d, dfs_err_msg());
      atomic_store(&s->vols[i].failed, true);
      continue;
    }
    n_ok++;
    if (rc == 1) {
      if (have_uuid && strcmp(u, s->uuid) != 0) {
        rc = dfs_err_set(DFS_ECONFIG, "%s: datanodeUuid %s differs from %s of another data dir",
                         path, u, s->uuid);
        goto fail;
      }
      memcpy(s->uuid, u, sizeof u);
      have_uuid = true;
    }
  }
  if (n_ok == 0) {
    rc = dfs_err_set(DFS_EIO, "no usable data directory: %s", first_err);
    goto fail;
  }
  if (!have_uuid) make_uuid(s->uuid);
  for (int i = 0; i < s->n; i++) {
    if (atomic_load(&s->vols[i].failed)) continue;
    snprintf(path, sizeof path, "%s/current/VERSION", s->vols[i].dir);
    char u[DN_UUID_LEN + 1];
    rc = read_version(path, u);
    if (rc == 0) rc = write_version(path, s->uuid);
    if (rc < 0) goto fail;
  }
  free(copy);
  *out = s;
  return 0;
fail:
  free(copy);
  dn_storage_close(s);
  return rc;
}

void dn_storage_close(dn_storage *s) {
  if (s == NULL) return;
  for (int i = 0; i < s->n; i++) free(s->vols[i].dir);
  free(s->vols);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

const char *dn_storage_uuid(const dn_storage *s) { return s->uuid; }
int dn_storage_num_volumes(const dn_storage *s) { return s->n; }
const char *dn_storage_dir(const dn_storage *s, int vol) { return s->vols[vol].dir; }

int dn_storage_path(const dn_storage *s, int vol, int state, uint64_t id,
                    uint64_t gs, bool meta, char *buf, size_t cap) {
  char name[80];
  if (meta)
    snprintf(name, sizeof name, "blk_%llu_%llu.meta", (unsigned long long)id,
             (unsigned long long)gs);
  else
    snprintf(name, sizeof name, "blk_%llu", (unsigned long long)id);
  int n;
  if (state == DN_REPLICA_FINALIZED)
    n = snprintf(buf, cap, "%s/current/finalized/subdir%u/subdir%u/%s", s->vols[vol].dir,
                 (unsigned)((id >> 16) & 0x1f), (unsigned)((id >> 8) & 0x1f), name);
  else
    n = snprintf(buf, cap, "%s/current/rbw/%s", s->vols[vol].dir, name);
  if (n < 0 || (size_t)n >= cap)
    return dfs_err_set(DFS_ENAMETOOLONG, "%s: replica path too long", s->vols[vol].dir);
  return 0;
}

static bool vol_space(const dn_storage *s, int vol, uint64_t *cap, uint64_t *avail) {
  struct statvfs st;
  if (statvfs(s->vols[vol].dir, &st) < 0) return false;
  uint64_t c = (uint64_t)st.f_blocks * st.f_frsize;
  uint64_t a = (uint64_t)st.f_bavail * st.f_frsize;
  *cap = c > s->reserved ? c - s->reserved : 0;
  *avail = a > s->reserved ? a - s->reserved : 0;
  return true;
}

int dn_storage_choose(dn_storage *s, uint64_t need) {
  pthread_mutex_lock(&s->lock);
  int start = s->next;
  int found = -1;
  for (int k = 0; k < s->n; k++) {
    int v = (start + k) % s->n;
    if (atomic_load(&s->vols[v].failed)) continue;
    uint64_t cap, avail;
    if (!vol_space(s, v, &cap, &avail) || avail < need) continue;
    found = v;
    s->next = (v + 1) % s->n;
    break;
  }
  pthread_mutex_unlock(&s->lock);
  if (found < 0)
    return dfs_err_set(DFS_ENOSPC, "no volume has %llu bytes free (%d volumes)",
                       (unsigned long long)need, s->n);
  return found;
}

void dn_storage_fail(dn_storage *s, int vol, int err, const char *what) {
  if (vol < 0 || vol >= s->n) return;
  if (atomic_exchange(&s->vols[vol].failed, true)) return;
  LOG_ERROR("datanode", "volume %s failed (%s: %s); taken out of service",
            s->vols[vol].dir, what, dfs_strerror(err));
  if (s->wake) s->wake(s->wake_arg);
}

bool dn_storage_failed(dn_storage *s, int vol) {
  return vol >= 0 && vol < s->n && atomic_load(&s->vols[vol].failed);
}

int dn_storage_num_failed(dn_storage *s) {
  int f = 0;
  for (int v = 0; v < s->n; v++) f += atomic_load(&s->vols[v].failed);
  return f;
}

void dn_storage_set_wake(dn_storage *s, void (*wake)(void *), void *arg) {
  s->wake = wake;
  s->wake_arg = arg;
}

void dn_storage_request_check(dn_storage *s) {
  if (!atomic_exchange(&s->check_wanted, true) && s->wake) s->wake(s->wake_arg);
}

bool dn_storage_check_wanted(dn_storage *s) { return atomic_exchange(&s->check_wanted, false); }

/* One volume's check; 0 or an error with a message naming what failed. */
static int check_volume(const dn_storage *s, int vol) {
  const char *d = s->vols[vol].dir;
  static const char *const subs[] = {"current", "current/finalized", "current/rbw"};
  char path[4200];
  struct stat st;
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
    snprintf(path, sizeof path, "%s/%s", d, subs[i]);
    if (stat(path, &st) < 0) return dfs_err_set(dfs_err_from_errno(errno), "stat %s", path);
    if (!S_ISDIR(st.st_mode)) return dfs_err_set(DFS_ENOTDIR, "%s", path);
  }
  /* A real write: permission bits say nothing to root, nor about a disk
   * that has gone read-only or bad. A full disk is not a failed one. */
  snprintf(path, sizeof path, "%s/current/rbw/.volume-check-%d", d, (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == ENOSPC || errno == EDQUOT) return 0;
    return dfs_err_set(dfs_err_from_errno(errno), "create %s", path);
  }
  char out[512], in[512];
  for (size_t i = 0; i < sizeof out; i++) out[i] = (char)(i * 7 + (size_t)vol);
  int err = 0, rc = 0;
  ssize_t w = pwrite(fd, out, sizeof out, 0);
  if (w < 0) err = errno;
  else if (w != (ssize_t)sizeof out) err = ENOSPC;
  if (err == 0 && fdatasync(fd) < 0) err = errno;
  if (err != 0 && err != ENOSPC && err != EDQUOT)
    rc = dfs_err_set(dfs_err_from_errno(err), "write %s", path);
  else if (err == 0 &&
           (pread(fd, in, sizeof in, 0) != (ssize_t)sizeof in || memcmp(in, out, sizeof in) != 0))
    rc = dfs_err_set(DFS_EIO, "read back %s: bytes differ", path);
  close(fd);
  if (unlink(path) < 0 && rc == 0)
    rc = dfs_err_set(dfs_err_from_errno(errno), "unlink %s", path);
  return rc;
}

int dn_storage_check(dn_storage *s) {
  int newly = 0;
  for (int v = 0; v < s->n; v++) {
    if (atomic_load(&s->vols[v].failed)) continue;
    int rc = check_volume(s, v);
    if (rc < 0 && !atomic_load(&s->vols[v].failed)) {
      char why[600];
      snprintf(why, sizeof why, "check: %s", dfs_err_msg());
      dn_storage_fail(s, v, rc, why);
      newly++;
    }
  }
  return newly;
}

int dn_storage_take_failed(dn_storage *s, int *vols, int cap) {
  int n = 0;
  pthread_mutex_lock(&s->lock);
  for (int v = 0; v < s->n && n < cap; v++) {
    if (!atomic_load(&s->vols[v].failed) || s->vols[v].handed) continue;
    s->vols[v].handed = true;
    vols[n++] = v;
  }
  pthread_mutex_unlock(&s->lock);
  return n;
}

void dn_storage_stats(dn_storage *s, uint64_t *capacity, uint64_t *remaining,
                      uint32_t *failed) {
  uint64_t c = 0, r = 0;
  uint32_t f = 0;
  for (int v = 0; v < s->n; v++) {
    uint64_t vc, va;
    if (dn_storage_failed(s, v)) {
      f++;
      continue;
    }
    if (!vol_space(s, v, &vc, &va)) continue;
    c += vc;
    r += va;
  }
  if (capacity) *capacity = c;
  if (remaining) *remaining = r;
  if (failed) *failed = f;
}

/* ---- start-up scan ------------------------------------------------------ */

struct meta_name {
  uint64_t id, gs;
};

static int cmp_meta(const void *a, const void *b) {
  const struct meta_name *x = a, *y = b;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  if (x->gs != y->gs) return x->gs < y->gs ? -1 : 1;
  return 0;
}

/* Parse "blk_<id>" (data) or "blk_<id>_<gs>.meta". 1 data, 2 meta, 0 other. */
static int parse_name(const char *name, uint64_t *id, uint64_t *gs) {
  if (strncmp(name, "blk_", 4) != 0) return 0;
  char *end;
  errno = 0;
  unsigned long long a = strtoull(name + 4, &end, 10);
  if (errno || end == name + 4 || a == 0) return 0;
  *id = a;
  if (*end == '\0') return 1;
  if (*end != '_') return 0;
  const char *g = end + 1;
  unsigned long long b = strtoull(g, &end, 10);
  if (errno || end == g || strcmp(end, ".meta") != 0) return 0;
  *gs = b;
  return 2;
}

static void add_found(dn_rmap *map, const struct dn_replica *r, const char *dir) {
  struct dn_replica old;
  if (dn_rmap_get(map, r->id, &old) == 0) {
    bool better = r->gs > old.gs || (r->gs == old.gs && r->state == DN_REPLICA_FINALIZED &&
                                     old.state != DN_REPLICA_FINALIZED);
    LOG_WARN("datanode", "blk_%llu found twice (gs %llu and %llu); keeping gs %llu in %s",
             (unsigned long long)r->id, (unsigned long long)old.gs,
             (unsigned long long)r->gs,
             (unsigned long long)(better ? r->gs : old.gs), better ? dir : "the other");
    if (!better) return;
  }
  dn_rmap_put(map, r);
}

/* Scan one directory of replicas in the given state. */
static int scan_dir(dn_storage *s, dn_rmap *map, int vol, int state, const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    if (errno == ENOENT) return 0;
    return dfs_err_set(dfs_err_from_errno(errno), "scan: %s: %s", dir, strerror(errno));
  }
  struct meta_name *metas = NULL;
  size_t nm = 0, capm = 0;
  uint64_t *datas = NULL;
  size_t nd = 0, capd = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    uint64_t id = 0, gs = 0;
    int k = parse_name(e->d_name, &id, &gs);
    if (k == 2) {
      if (nm == capm) {
        capm = capm ? capm * 2 : 64;
        void *p = realloc(metas, capm * sizeof *metas);
        if (p == NULL) { rc = DFS_ENOMEM; goto out; }
        metas = p;
      }
      metas[nm++] = (struct meta_name){id, gs};
    } else if (k == 1) {
      if (nd == capd) {
        capd = capd ? capd * 2 : 64;
        void *p = realloc(datas, capd * sizeof *datas);
        if (p == NULL) { rc = DFS_ENOMEM; goto out; }
        datas = p;
      }
      datas[nd++] = id;
    }
  }
  if (nm > 1) qsort(metas, nm, sizeof *metas, cmp_meta);
  for (size_t i = 0; i < nd; i++) {
    uint64_t id = datas[i];
    /* Highest genstamp among the meta files of this id. */
    struct meta_name *best = NULL;
    size_t lo = 0, hi = nm;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (metas[mid].id < id) lo = mid + 1; else hi = mid;
    }
    for (size_t j = lo; j < nm && metas[j].id == id; j++) best = &metas[j];
    if (best == NULL) {
      LOG_WARN("datanode", "%s/blk_%llu has no checksum file; ignored", dir,
               (unsigned long long)id);
      continue;
    }
    char dpath[4480], mpath[4480]; /* dir (< 4400) + blk_<id>_<gs>.meta */
    snprintf(dpath, sizeof dpath, "%s/blk_%llu", dir, (unsigned long long)id);
    snprintf(mpath, sizeof mpath, "%s/blk_%llu_%llu.meta", dir, (unsigned long long)id,
             (unsigned long long)best->gs);
    int dfd = open(dpath, state == DN_REPLICA_RBW ? O_RDWR : O_RDONLY);
    int mfd = dfd < 0 ? -1 : open(mpath, state == DN_REPLICA_RBW ? O_RDWR : O_RDONLY);
    struct stat dst, mst;
    if (dfd < 0 || mfd < 0 || fstat(dfd, &dst) < 0 || fstat(mfd, &mst) < 0) {
      int err = errno;
      LOG_WARN("datanode", "%s: cannot open replica: %s", dpath, strerror(err));
      if (dfd >= 0) close(dfd);
      if (mfd >= 0) close(mfd);
      if (err == EIO) dn_storage_fail(s, vol, -EIO, dpath);
      continue;
    }
    struct dn_replica r = {.id = id, .gs = best->gs, .state = state, .vol = vol};
    uint64_t len = (uint64_t)dst.st_size;
    if (state == DN_REPLICA_FINALIZED) {
      uint8_t hdr[DN_META_HDR_LEN];
      ssize_t hn = pread(mfd, hdr, sizeof hdr, 0);
      if (hn < 0 || dn_meta_hdr_decode(hdr, (size_t)hn, mpath) < 0 ||
          (uint64_t)mst.st_size != dn_meta_len(len)) {
        LOG_WARN("datanode", "%s: corrupt checksum file (%lld bytes for %llu data bytes): "
                 "replica ignored", mpath, (long long)mst.st_size, (unsigned long long)len);
      } else {
        r.bytes_on_disk = r.bytes_acked = len;
        add_found(map, &r, dir);
      }
    } else {
      uint64_t good = 0;
      int vrc = dn_meta_verify_fds(dfd, mfd, len, &good, dpath);
      if (vrc < 0) {
        LOG_WARN("datanode", "%s: %s: replica ignored", dpath, dfs_err_msg());
      } else {
        if (good < len || (uint64_t)mst.st_size != dn_meta_len(good)) {
          LOG_WARN("datanode", "%s: keeping the verified %llu of %llu bytes", dpath,
                   (unsigned long long)good, (unsigned long long)len);
          if (ftruncate(dfd, (off_t)good) < 0 ||
              ftruncate(mfd, (off_t)dn_meta_len(good)) < 0)
            LOG_WARN("datanode", "%s: truncate: %s", dpath, strerror(errno));
        }
        r.bytes_on_disk = r.bytes_acked = good;
        add_found(map, &r, dir);
      }
    }
    close(dfd);
    close(mfd);
  }
out:
  closedir(d);
  free(metas);
  free(datas);
  return rc;
}

int dn_storage_scan(dn_storage *s, dn_rmap *map) {
  char path[4200];
  for (int v = 0; v < s->n; v++) {
    int rc;
    if (atomic_load(&s->vols[v].failed)) continue;
    snprintf(path, sizeof path, "%s/current/finalized", s->vols[v].dir);
    for (unsigned a = 0; a < 32; a++) {
      char pa[4300];
      snprintf(pa, sizeof pa, "%s/subdir%u", path, a);
      struct stat st;
      if (stat(pa, &st) < 0) continue;
      for (unsigned b = 0; b < 32; b++) {
        char pb[4400];
        snprintf(pb, sizeof pb, "%s/subdir%u", pa, b);
        if ((rc = scan_dir(s, map, v, DN_REPLICA_FINALIZED, pb)) < 0) {
          dn_storage_fail(s, v, rc, pb);
          break;
        }
      }
    }
    snprintf(path, sizeof path, "%s/current/rbw", s->vols[v].dir);
    if ((rc = scan_dir(s, map, v, DN_REPLICA_RBW, path)) < 0) dn_storage_fail(s, v, rc, path);
  }
  uint64_t n, bytes;
  dn_rmap_stats(map, &n, &bytes);
  LOG_INFO("datanode", "scan: %llu replicas, %llu bytes on %d volumes",
           (unsigned long long)n, (unsigned long long)bytes, s->n);
  return 0;
}
