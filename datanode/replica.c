/*
 * replica.c - replica file operations (create rbw, write, finalize, delete,
 * open for reading).
 *
 * Data is written with pwrite at the packet's offset and the checksums at
 * the matching place of the .meta file, so a partial-chunk rewrite after
 * hflush is the same code path as an append. Finalizing renames the meta
 * file first, then the data file: a crash in between leaves each file
 * without its partner, which the start-up scan ignores (the NameNode then
 * re-replicates) rather than serving a replica with wrong checksums.
 * HDFS does not fsync on close unless asked, nor do we.
 *
 * Data goes to the data file with O_DIRECT, in pieces of about 1 MiB
 * gathered in a staging buffer. Measured on the project's machines (a
 * virtual machine), writing through the page cache costs 1 to 9 CPU-seconds
 * per GiB (fresh page-cache pages are expensive for the guest), O_DIRECT
 * about 0.05, and large pieces keep the disk fast. When the receiver
 * flushes (before any ack), what is not a whole 4 KiB block, and all of a
 * small flush (an hflush), is written through the page cache and stays
 * staged, so that the next O_DIRECT write covers it again; the kernel keeps
 * the two paths coherent. As in HDFS, an hflushed byte is then in every
 * DataNode's file (it survives the process, not a power cut); hsync adds
 * the fdatasync. Filesystems that refuse O_DIRECT (tmpfs) get buffered
 * writes.
 */
#include "replica.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "errors.h"
#include "log.h"
#include "meta.h"

/* Errors that say the disk itself is bad (rather than a full disk or a
 * replica deleted under its writer): the volume is taken out of service. */
static bool disk_error(int rc) { return rc == DFS_EIO || rc == -EROFS || rc == DFS_EACCES; }

/* A replica on a volume taken out of service accepts no more data (its
 * entry is being dropped from the map; the writer's pipeline must fail
 * over rather than finalize it there). */
static int check_volume(const struct dn_rbw *w) {
  if (!dn_storage_failed(w->s, w->vol)) return 0;
  return dfs_err_set(DFS_EIO, "blk_%llu: volume %s has failed", (unsigned long long)w->id,
                     dn_storage_dir(w->s, w->vol));
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return dfs_err_from_errno(errno);
    }
    done += (size_t)r;
  }
  return 0;
}

int dn_rbw_create(dn_storage *s, dn_rmap *map, uint64_t id, uint64_t gs,
                  uint64_t need, bool sync_behind, struct dn_rbw *w) {
  char dpath[4200], mpath[4200];
  struct dn_replica r = {.id = id, .gs = gs, .state = DN_REPLICA_RBW, .writer = true};
  int rc = 0;
  *w = (struct dn_rbw){.s = s, .map = map, .id = id, .gs = gs, .data_fd = -1,
                       .meta_fd = -1, .direct_fd = -1, .sync_behind = sync_behind};
  int vol = dn_storage_choose(s, need);
  if (vol < 0) return vol;
  r.vol = w->vol = vol;
  /* Claim the id in the map first: two writers of one block never race on files. */
  if ((rc = dn_rmap_add(map, &r)) < 0) {
    struct dn_replica old;
    /* An older generation stamp that nobody writes is a stale copy (left
     * by a recovery this node missed): the new replica replaces it. */
    if (dn_rmap_get(map, id, &old) == 0 && old.gs < gs && !old.writer &&
        dn_replica_delete(s, map, id, old.gs, NULL) == 0) {
      LOG_INFO("datanode", "blk_%llu_%llu replaces the stale replica with genstamp %llu",
               (unsigned long long)id, (unsigned long long)gs, (unsigned long long)old.gs);
      rc = dn_rmap_add(map, &r);
    }
  }
  if (rc < 0) {
    struct dn_replica old;
    if (dn_rmap_get(map, id, &old) == 0)
      return dfs_err_set(DFS_EEXIST, "blk_%llu_%llu: replica already exists (%s, gs %llu)",
                         (unsigned long long)id, (unsigned long long)gs,
                         old.state == DN_REPLICA_FINALIZED ? "finalized" : "rbw",
                         (unsigned long long)old.gs);
    return rc;
  }
  if ((rc = dn_storage_path(s, vol, DN_REPLICA_RBW, id, gs, false, dpath, sizeof dpath)) < 0 ||
      (rc = dn_storage_path(s, vol, DN_REPLICA_RBW, id, gs, true, mpath, sizeof mpath)) < 0)
    goto fail;
  if (posix_memalign((void **)&w->stage, DN_DIRECT_ALIGN, DN_STAGE_CAP) != 0) {
    w->stage = NULL;
    rc = DFS_ENOMEM;
    goto fail;
  }
  w->data_fd = open(dpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->data_fd < 0) {
    rc = dfs_err_set(dfs_err_from_errno(errno), "%s: %s", dpath, strerror(errno));
    goto fail_io;
  }
  w->direct_fd = open(dpath, O_WRONLY | O_DIRECT | O_CLOEXEC);
  w->meta_fd = open(mpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->meta_fd < 0) {
    rc = dfs_err_set(dfs_err_from_errno(errno), "%s: %s", mpath, strerror(errno));
    goto fail_io;
  }
  uint8_t hdr[DN_META_HDR_LEN];
  dn_meta_hdr_encode(hdr);
  if ((rc = pwrite_full(w->meta_fd, hdr, sizeof hdr, 0)) < 0) {
    rc = dfs_err_set(rc, "%s: write header: %s", mpath, dfs_strerror(rc));
    goto fail_io;
  }
  return 0;
fail_io:
  if (disk_error(rc)) dn_storage_fail(s, vol, rc, dpath);
fail:
  if (w->data_fd >= 0) close(w->data_fd);
  if (w->direct_fd >= 0) close(w->direct_fd);
  if (w->meta_fd >= 0) close(w->meta_fd);
  w->data_fd = w->meta_fd = w->direct_fd = -1;
  free(w->stage);
  w->stage = NULL;
  unlink(dpath);
  unlink(mpath);
  dn_rmap_remove(map, id, gs, NULL);
  return rc;
}

int dn_rbw_recover(dn_storage *s, dn_rmap *map, uint64_t id, uint64_t new_gs, uint64_t len,
                   int wait_ms, bool sync_behind, struct dn_rbw *w) {
  struct dn_replica r;
  char old_m[4200], dpath[4200], mpath[4200];
  int rc, rfd = -1;
  *w = (struct dn_rbw){.s = s, .map = map, .id = id, .gs = new_gs, .data_fd = -1,
                       .meta_fd = -1, .direct_fd = -1, .sync_behind = sync_behind};
  /* The old writer (its upstream just failed) may take a moment to notice. */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    if (dn_rmap_get(map, id, &r) < 0)
      return dfs_err_set(DFS_ENOTREPLICA, "recover blk_%llu: replica not found",
                         (unsigned long long)id);
    if (!r.writer) break;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= wait_ms)
      return dfs_err_set(DFS_EAGAIN, "recover blk_%llu: the previous writer is still active",
                         (unsigned long long)id);
    usleep(10000);
  }
  if (r.state != DN_REPLICA_RBW)
    return dfs_err_set(DFS_EINVAL, "recover blk_%llu: replica is finalized", (unsigned long long)id);
  if (new_gs <= r.gs)
    return dfs_err_set(DFS_EGENSTAMP, "recover blk_%llu: genstamp %llu is not newer than %llu",
                       (unsigned long long)id, (unsigned long long)new_gs,
                       (unsigned long long)r.gs);
  if (r.bytes_on_disk < len)
    return dfs_err_set(DFS_EINVAL, "recover blk_%llu: replica has %llu bytes, client acked %llu",
                       (unsigned long long)id, (unsigned long long)r.bytes_on_disk,
                       (unsigned long long)len);
  w->vol = r.vol;
  dn_storage_path(s, r.vol, DN_REPLICA_RBW, id, r.gs, true, old_m, sizeof old_m);
  dn_storage_path(s, r.vol, DN_REPLICA_RBW, id, new_gs, false, dpath, sizeof dpath);
  dn_storage_path(s, r.vol, DN_REPLICA_RBW, id, new_gs, true, mpath, sizeof mpath);
  /* The map entry first (claims the writer role, hides the old genstamp),
   * then the files. */
  struct dn_replica nr = r;
  nr.gs = new_gs;
  nr.writer = true;
  nr.bytes_on_disk = nr.bytes_acked = len;
  dn_rmap_put(map, &nr);
  if (rename(old_m, mpath) < 0) {
    rc = dfs_err_set(dfs_err_from_errno(errno), "%s: rename: %s", old_m, strerror(errno));
    r.writer = false;
    dn_rmap_put(map, &r); /* nothing changed on disk */
    return rc;
  }
  if (posix_memalign((void **)&w->stage, DN_DIRECT_ALIGN, DN_STAGE_CAP) != 0) {
    w->stage = NULL;
    rc = DFS_ENOMEM;
    goto fail;
  }
  w->data_fd = open(dpath, O_WRONLY | O_CLOEXEC);
  w->meta_fd = open(mpath, O_WRONLY | O_CLOEXEC);
  rfd = open(dpath, O_RDONLY | O_CLOEXEC);
  if (w->data_fd < 0 || w->meta_fd < 0 || rfd < 0) {
    rc = dfs_err_set(dfs_err_from_errno(errno), "%s: %s", dpath, strerror(errno));
    goto fail;
  }
  w->direct_fd = open(dpath, O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (ftruncate(w->data_fd, (off_t)len) < 0 || ftruncate(w->meta_fd, (off_t)dn_meta_len(len)) < 0) {
    rc = dfs_err_set(dfs_err_from_errno(errno), "%s: truncate: %s", dpath, strerror(errno));
    goto fail;
  }
  /* Stage the tail from the last 4 KiB boundary, and give a partial last
   * chunk the checksum of the bytes that remain. */
  w->stage_off = len - len % DN_DIRECT_ALIGN;
  w->stage_len = (size_t)(len - w->stage_off);
  ssize_t got = w->stage_len ? pread(rfd, w->stage, w->stage_len, (off_t)w->stage_off) : 0;
  w->in_file = len;
  if (got != (ssize_t)w->stage_len) {
    rc = dfs_err_set(DFS_EIO, "%s: cannot read the last %zu bytes", dpath, w->stage_len);
    goto fail;
  }
  if (len % DN_META_BPC) {
    uint64_t cstart = len - len % DN_META_BPC;
    uint32_t c = crc32c(0, w->stage + (cstart - w->stage_off), (size_t)(len - cstart));
    uint8_t be[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    if ((rc = pwrite_full(w->meta_fd, be, 4, dn_meta_sum_off(cstart))) < 0) goto fail;
  }
  close(rfd);
  w->len = len;
  LOG_INFO("datanode", "recovering blk_%llu: genstamp %llu -> %llu, %llu bytes kept",
           (unsigned long long)id, (unsigned long long)r.gs, (unsigned long long)new_gs,
           (unsigned long long)len);
  return 0;
fail:
  if (rfd >= 0) close(rfd);
  w->stage_len = 0; /* nothing staged is worth writing */
  dn_rbw_abort(w);
  return rc;
}

static int io_error(struct dn_rbw *w, int rc, const char *what, uint64_t off) {
  if (disk_error(rc)) dn_storage_fail(w->s, w->vol, rc, what);
  return dfs_err_set(rc, "blk_%llu: %s at %llu: %s", (unsigned long long)w->id, what,
                     (unsigned long long)off, dfs_strerror(rc));
}

/* Write out the whole 4 KiB blocks of the staging buffer and keep the rest.
 * Bytes that small flushes already put into the page cache are not written
 * again: an O_DIRECT write over those dirty pages would make the kernel
 * write them back first, and the packet being acked would wait for the
 * disk (100-200 ms behind a memstore flush's HFile). The rest of such a
 * range goes through the page cache too. */
static int spill(struct dn_rbw *w) {
  size_t aligned = w->stage_len & ~(size_t)(DN_DIRECT_ALIGN - 1);
  if (aligned == 0) return 0;
  bool cached = w->in_file > w->stage_off; /* small flushes wrote some of it */
  int rc = 0;
  if (!cached && w->direct_fd >= 0) {
    rc = pwrite_full(w->direct_fd, w->stage, aligned, w->stage_off);
    if (rc == DFS_EINVAL) { /* the device wants another alignment: stop trying */
      close(w->direct_fd);
      w->direct_fd = -1;
    }
  }
  if (cached || w->direct_fd < 0) {
    uint64_t in = cached ? w->in_file - w->stage_off : 0; /* of it already in the file */
    size_t from = in < aligned ? (size_t)in : aligned;
    if (from < aligned)
      rc = pwrite_full(w->data_fd, w->stage + from, aligned - from, w->stage_off + from);
    if (rc == 0 && w->sync_behind)
      sync_file_range(w->data_fd, (off_t)w->stage_off, (off_t)aligned, SYNC_FILE_RANGE_WRITE);
  }
  if (rc < 0) return io_error(w, rc, "write data", w->stage_off);
  memmove(w->stage, w->stage + aligned, w->stage_len - aligned);
  w->stage_off += aligned;
  w->stage_len -= aligned;
  if (w->in_file < w->stage_off) w->in_file = w->stage_off;
  return 0;
}

int dn_rbw_write(struct dn_rbw *w, uint64_t offset, const uint8_t *data,
                 uint32_t len, const uint8_t *sums) {
  /* An empty packet (LAST) carries no data; its offset is informational
   * (chunk-aligned on the wire, so it may be below a partial tail). */
  if (len == 0) return 0;
  if (offset % DN_META_BPC != 0)
    return dfs_err_set(DFS_EINVAL, "blk_%llu: packet offset %llu is not chunk-aligned",
                       (unsigned long long)w->id, (unsigned long long)offset);
  if (offset != w->len) {
    uint64_t partial = w->len % DN_META_BPC;
    if (partial == 0 || offset != w->len - partial || offset + len < w->len)
      return dfs_err_set(DFS_EINVAL,
                         "blk_%llu: packet at offset %llu (+%u) does not continue the "
                         "replica of %llu bytes", (unsigned long long)w->id,
                         (unsigned long long)offset, len, (unsigned long long)w->len);
  }
  int rc = check_volume(w);
  if (rc < 0) return rc;
  rc = pwrite_full(w->meta_fd, sums, 4 * ((len + DN_META_BPC - 1) / DN_META_BPC),
                   dn_meta_sum_off(offset));
  if (rc < 0) return io_error(w, rc, "write checksums", dn_meta_sum_off(offset));
  /* offset >= stage_off always: the stage keeps the last partial 4 KiB block,
   * and a rewrite starts at most 511 bytes below the end. */
  if (offset < w->in_file) w->in_file = offset; /* a partial chunk rewritten */
  uint64_t pos = offset;
  size_t left = len;
  while (left > 0) {
    size_t at = (size_t)(pos - w->stage_off);
    size_t n = DN_STAGE_CAP - at < left ? DN_STAGE_CAP - at : left;
    memcpy(w->stage + at, data + (pos - offset), n);
    if (at + n > w->stage_len) w->stage_len = at + n;
    pos += n;
    left -= n;
    if (w->stage_len >= DN_STAGE_SPILL && (rc = spill(w)) < 0) return rc;
  }
  if (offset + len > w->len) w->len = offset + len;
  dn_rmap_advance(w->map, w->id, w->gs, w->len, 0);
  return 0;
}

/* Before an ack the packet's bytes must be in the file. Much new data
 * (a streaming write): its whole 4 KiB blocks go O_DIRECT now. Little (the
 * hflushes of a WAL): only the new bytes go through the page cache, and
 * they stay staged for the O_DIRECT write once DN_STAGE_SPILL is staged.
 * Writing the aligned part O_DIRECT at every small flush would cover the
 * page the previous flush left dirty, and the kernel would first write
 * that page back: a disk wait in every hflush. */
static int flush(struct dn_rbw *w, bool direct_ok) {
  int rc = check_volume(w);
  if (rc < 0) return rc;
  uint64_t end = w->stage_off + w->stage_len;
  if (direct_ok && end - w->in_file >= DN_FLUSH_DIRECT_MIN && (rc = spill(w)) < 0) return rc;
  if (w->in_file < end) {
    size_t from = (size_t)(w->in_file - w->stage_off);
    if ((rc = pwrite_full(w->data_fd, w->stage + from, (size_t)(end - w->in_file), w->in_file)) < 0)
      return io_error(w, rc, "write data", w->in_file);
    w->in_file = end;
  }
  return 0;
}

int dn_rbw_flush(struct dn_rbw *w) { return flush(w, true); }

/* A writer waits for this ack (hflush): whatever its size, the new bytes
 * go through the page cache, which answers at once, instead of O_DIRECT,
 * which waits for a disk that may be busy with other writes (a memstore
 * flush's HFile behind a WAL's group commit of 70 KB waited 60-280 ms).
 * The staging buffer still goes out when it fills (dn_rbw_write). */
int dn_rbw_flush_waited(struct dn_rbw *w) { return flush(w, false); }

int dn_rbw_sync(struct dn_rbw *w) {
  int rc = dn_rbw_flush(w);
  if (rc < 0) return rc;
  if (fdatasync(w->data_fd) < 0 || fdatasync(w->meta_fd) < 0) {
    rc = dfs_err_from_errno(errno);
    if (disk_error(rc)) dn_storage_fail(w->s, w->vol, rc, "fdatasync");
    return dfs_err_set(rc, "blk_%llu: fdatasync: %s", (unsigned long long)w->id,
                       dfs_strerror(rc));
  }
  return 0;
}

static void close_files(struct dn_rbw *w) {
  if (w->data_fd >= 0) close(w->data_fd);
  if (w->direct_fd >= 0) close(w->direct_fd);
  if (w->meta_fd >= 0) close(w->meta_fd);
  w->data_fd = w->meta_fd = w->direct_fd = -1;
  free(w->stage);
  w->stage = NULL;
}

static int mkdir_if_missing(const char *path) {
  if (mkdir(path, 0755) < 0 && errno != EEXIST) return dfs_err_from_errno(errno);
  return 0;
}

int dn_rbw_finalize(struct dn_rbw *w, bool sync) {
  char src_d[4200], src_m[4200], dst_d[4200], dst_m[4200];
  int rc = sync ? dn_rbw_sync(w) : dn_rbw_flush(w);
  close_files(w);
  if (rc < 0) goto fail;
  dn_storage_path(w->s, w->vol, DN_REPLICA_RBW, w->id, w->gs, false, src_d, sizeof src_d);
  dn_storage_path(w->s, w->vol, DN_REPLICA_RBW, w->id, w->gs, true, src_m, sizeof src_m);
  if ((rc = dn_storage_path(w->s, w->vol, DN_REPLICA_FINALIZED, w->id, w->gs, false, dst_d,
                            sizeof dst_d)) < 0)
    goto fail;
  dn_storage_path(w->s, w->vol, DN_REPLICA_FINALIZED, w->id, w->gs, true, dst_m, sizeof dst_m);
  /* dst_d is .../finalized/subdirA/subdirB/blk_N: make both subdirs. */
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", dst_d);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  slash = strrchr(dir, '/');
  *slash = '\0';
  if ((rc = mkdir_if_missing(dir)) < 0) goto fail_io;
  *slash = '/';
  if ((rc = mkdir_if_missing(dir)) < 0) goto fail_io;
  if (rename(src_m, dst_m) < 0 || rename(src_d, dst_d) < 0) {
    rc = dfs_err_from_errno(errno);
    goto fail_io;
  }
  struct dn_replica r = {.id = w->id, .gs = w->gs, .state = DN_REPLICA_FINALIZED,
                         .vol = w->vol, .bytes_on_disk = w->len, .bytes_acked = w->len};
  dn_rmap_put(w->map, &r);
  return 0;
fail_io:
  if (disk_error(rc)) dn_storage_fail(w->s, w->vol, rc, "finalize");
  rc = dfs_err_set(rc, "blk_%llu: finalize: %s", (unsigned long long)w->id, dfs_strerror(rc));
fail: {
  struct dn_replica cur;
  if (dn_rmap_get(w->map, w->id, &cur) == 0 && cur.gs == w->gs) {
    cur.writer = false;
    dn_rmap_put(w->map, &cur);
  }
}
  return rc;
}

void dn_rbw_abort(struct dn_rbw *w) {
  if (w->data_fd >= 0 && w->stage != NULL && dn_rbw_flush(w) < 0)
    LOG_WARN("datanode", "%s", dfs_err_msg());
  close_files(w);
  struct dn_replica cur;
  if (dn_rmap_get(w->map, w->id, &cur) == 0 && cur.gs == w->gs &&
      cur.state == DN_REPLICA_RBW) {
    cur.writer = false;
    dn_rmap_put(w->map, &cur);
  }
}

int dn_replica_delete(dn_storage *s, dn_rmap *map, uint64_t id, uint64_t gs,
                      struct dn_replica *out) {
  struct dn_replica r;
  int rc = dn_rmap_remove(map, id, gs, &r);
  if (rc < 0) return rc;
  char p[4200];
  if (dn_storage_path(s, r.vol, r.state, r.id, r.gs, false, p, sizeof p) == 0 &&
      unlink(p) < 0 && errno != ENOENT)
    LOG_WARN("datanode", "%s: unlink: %s", p, strerror(errno));
  if (dn_storage_path(s, r.vol, r.state, r.id, r.gs, true, p, sizeof p) == 0 &&
      unlink(p) < 0 && errno != ENOENT)
    LOG_WARN("datanode", "%s: unlink: %s", p, strerror(errno));
  if (out) *out = r;
  return 0;
}

int dn_replica_open(dn_storage *s, dn_rmap *map, struct dn_replica *r,
                    int *data_fd, int *meta_fd, bool *direct) {
  char dp[4200], mp[4200];
  for (int attempt = 0; attempt < 2; attempt++) {
    dn_storage_path(s, r->vol, r->state, r->id, r->gs, false, dp, sizeof dp);
    dn_storage_path(s, r->vol, r->state, r->id, r->gs, true, mp, sizeof mp);
    *direct = true;
    int d = open(dp, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (d < 0 && errno == EINVAL) {
      *direct = false;
      d = open(dp, O_RDONLY | O_CLOEXEC);
    }
    int m = d < 0 ? -1 : open(mp, O_RDONLY | O_CLOEXEC);
    if (d >= 0 && m >= 0) {
      uint8_t hdr[DN_META_HDR_LEN];
      ssize_t n = pread(m, hdr, sizeof hdr, 0);
      int rc = dn_meta_hdr_decode(hdr, n < 0 ? 0 : (size_t)n, mp);
      if (rc < 0) {
        close(d);
        close(m);
        return rc;
      }
      *data_fd = d;
      *meta_fd = m;
      return 0;
    }
    int err = errno;
    if (d >= 0) close(d);
    if (err != ENOENT || attempt == 1) {
      /* A replica the map lists but the disk lacks: the volume may be going. */
      dn_storage_request_check(s);
      return dfs_err_set(dfs_err_from_errno(err), "%s: %s", d < 0 ? dp : mp, strerror(err));
    }
    /* Finalized (moved) or deleted since the lookup: look again. */
    struct dn_replica again;
    if (dn_rmap_get(map, r->id, &again) < 0 || again.gs != r->gs)
      return dfs_err_set(DFS_ENOTREPLICA, "blk_%llu_%llu: replica not found",
                         (unsigned long long)r->id, (unsigned long long)r->gs);
    if (again.state == r->state && again.vol == r->vol) {
      /* Listed, yet its file is gone: the volume may be going. */
      dn_storage_request_check(s);
      return dfs_err_set(DFS_ENOTREPLICA, "blk_%llu_%llu: replica file %s is missing",
                         (unsigned long long)r->id, (unsigned long long)r->gs, dp);
    }
    *r = again;
  }
  return DFS_ENOTREPLICA;
}
