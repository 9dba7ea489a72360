/*
 * block_scanner.c - re-verifies finalized replicas in the background, so
 * that silent disk corruption is found before a reader meets it (HDFS's
 * VolumeScanner, simplified to one thread for all volumes).
 *
 * The scanner walks a snapshot of the replica map, reads each finalized
 * replica in 1 MiB pieces with its checksums and checks every chunk,
 * throttled to dfs.block.scanner.volume.bytes.per.second so that it never
 * competes with clients. A replica that fails is reported to the NameNode
 * (REPORT_BAD_BLOCKS), which replaces it from a good copy and then
 * invalidates it here. After a full pass it rests for DN_SCAN_REST_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "meta.h"
#include "net.h"
#include "replica.h"

#define DN_SCAN_REST_MS (6LL * 3600 * 1000) /* between full passes */
#define SCAN_PIECE (1u << 20)

struct dn_scanner {
  dn_ctx *dn;
  int64_t rate;           /* bytes per second; immutable */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop;              /* guarded by lock */
};

/* Sleep ms unless stopped; false if stopped. */
static bool rest(dn_scanner *sc, int64_t ms) {
  if (sc == NULL) return true;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&sc->lock);
  while (!sc->stop) {
    if (pthread_cond_timedwait(&sc->cond, &sc->lock, &ts) == ETIMEDOUT) break;
  }
  bool go = !sc->stop;
  pthread_mutex_unlock(&sc->lock);
  return go;
}

static int pread_some(int fd, uint8_t *buf, size_t len, uint64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return dfs_err_from_errno(errno);
    if (n == 0) break;
    got += (size_t)n;
  }
  return (int)got;
}

/*
 * Verify one finalized replica (throttled through sc when not NULL).
 * 0 if every chunk matches; DFS_ECORRUPT (reported to the NameNode) if
 * not; DFS_ENOTREPLICA if it went away; DFS_ECANCELED if the scanner stops.
 */
int dn_scan_replica(dn_ctx *dn, dn_scanner *sc, const struct dn_replica *rep) {
  struct dn_replica r = *rep;
  char dp[4200], mp[4200];
  dn_storage_path(dn->storage, r.vol, r.state, r.id, r.gs, false, dp, sizeof dp);
  dn_storage_path(dn->storage, r.vol, r.state, r.id, r.gs, true, mp, sizeof mp);
  int dfd = open(dp, O_RDONLY | O_CLOEXEC);
  int mfd = dfd < 0 ? -1 : open(mp, O_RDONLY | O_CLOEXEC);
  uint8_t *data = malloc(SCAN_PIECE), *sums = malloc(SCAN_PIECE / DN_META_BPC * 4);
  int rc = 0;
  uint64_t bad_at = 0;
  if (dfd < 0 || mfd < 0) {
    rc = errno == ENOENT ? DFS_ENOTREPLICA : dfs_err_from_errno(errno);
    goto out;
  }
  if (data == NULL || sums == NULL) {
    rc = DFS_ENOMEM;
    goto out;
  }
  uint8_t hdr[DN_META_HDR_LEN];
  int n = pread_some(mfd, hdr, sizeof hdr, 0);
  if (n < 0 || dn_meta_hdr_decode(hdr, n < 0 ? 0 : (size_t)n, mp) < 0) {
    rc = DFS_ECORRUPT;
    goto out;
  }
  for (uint64_t pos = 0; pos < r.bytes_on_disk;) {
    size_t want = r.bytes_on_disk - pos < SCAN_PIECE ? (size_t)(r.bytes_on_disk - pos) : SCAN_PIECE;
    size_t swant = 4 * ((want + DN_META_BPC - 1) / DN_META_BPC);
    int dn_ = pread_some(dfd, data, want, pos);
    int sn = dn_ < 0 ? 0 : pread_some(mfd, sums, swant, dn_meta_sum_off(pos));
    if (dn_ < 0 || sn < 0) {
      rc = dn_ < 0 ? dn_ : sn;
      if (rc == DFS_EIO) { /* an unreadable replica is as bad as a wrong one */
        bad_at = pos;
        rc = DFS_ECORRUPT;
      }
      goto out;
    }
    uint64_t ok = dn_meta_verified_prefix(data, (size_t)dn_, sums, (size_t)sn);
    if (ok < want) {
      bad_at = pos + ok;
      rc = DFS_ECORRUPT;
      goto out;
    }
    pos += want;
    if (sc && sc->rate > 0 && !rest(sc, (int64_t)want * 1000 / sc->rate)) {
      rc = DFS_ECANCELED;
      goto out;
    }
  }
out:
  if (rc == DFS_ECORRUPT) {
    struct dn_replica now;
    /* Deleted or replaced meanwhile: not a corruption of what we hold. */
    if (dn_rmap_get(dn->map, r.id, &now) < 0 || now.gs != r.gs || now.state != r.state) {
      rc = DFS_ENOTREPLICA;
    } else {
      LOG_ERROR("datanode", "block scanner: %s: checksum mismatch at offset %llu; "
                "reporting blk_%llu_%llu as corrupt", dp, (unsigned long long)bad_at,
                (unsigned long long)r.id, (unsigned long long)r.gs);
      dn_nn_report_bad(dn, r.id, r.gs, r.bytes_on_disk);
    }
  }
  if (dfd >= 0) close(dfd);
  if (mfd >= 0) close(mfd);
  free(data);
  free(sums);
  return rc;
}

static void *scanner_main(void *arg) {
  dn_scanner *sc = arg;
  pthread_setname_np(pthread_self(), "dn-scanner");
  /* Let start-up traffic (block reports, first writes) settle first. */
  if (!rest(sc, 60000)) return NULL;
  for (;;) {
    struct dn_replica *all = NULL;
    size_t n = 0;
    if (dn_rmap_snapshot(sc->dn->map, &all, &n) < 0) n = 0;
    size_t scanned = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
      if (all[i].state != DN_REPLICA_FINALIZED) continue;
      int rc = dn_scan_replica(sc->dn, sc, &all[i]);
      if (rc == DFS_ECANCELED) {
        free(all);
        return NULL;
      }
      scanned++;
      bad += rc == DFS_ECORRUPT;
    }
    free(all);
    LOG_INFO("datanode", "block scanner: pass done, %zu replicas verified, %zu corrupt",
             scanned, bad);
    if (!rest(sc, DN_SCAN_REST_MS)) return NULL;
  }
}

int dn_scanner_start(dn_ctx *dn, dn_scanner **out) {
  dn_scanner *sc = calloc(1, sizeof *sc);
  if (sc == NULL) return DFS_ENOMEM;
  sc->dn = dn;
  sc->rate = dfs_conf_int(dn->conf, "dfs.block.scanner.volume.bytes.per.second");
  pthread_mutex_init(&sc->lock, NULL);
  pthread_cond_init(&sc->cond, NULL);
  if (pthread_create(&sc->thread, NULL, scanner_main, sc) != 0) {
    pthread_cond_destroy(&sc->cond);
    pthread_mutex_destroy(&sc->lock);
    free(sc);
    return dfs_err_set(DFS_ENOMEM, "datanode: cannot start the block scanner");
  }
  *out = sc;
  return 0;
}

void dn_scanner_stop(dn_scanner *sc) {
  if (sc == NULL) return;
  pthread_mutex_lock(&sc->lock);
  sc->stop = true;
  pthread_cond_broadcast(&sc->cond);
  pthread_mutex_unlock(&sc->lock);
  pthread_join(sc->thread, NULL);
  pthread_cond_destroy(&sc->cond);
  pthread_mutex_destroy(&sc->lock);
  free(sc);
}
