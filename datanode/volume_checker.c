/*
 * volume_checker.c - the DataNode's disk checker (HDFS's
 * DatasetVolumeChecker and the volume-failure handling around it).
 *
 * One thread checks every working data directory each
 * dfs.datanode.disk.check.min.gap (a real write, fdatasync, read back and
 * delete: see dn_storage_check), and at once (at most once a second) when
 * an I/O error on the data path asks for it. A volume that failed - in a
 * check or under a reader or writer - has its replicas dropped from the
 * replica map and reported DELETED to the NameNode in an incremental
 * report, so that the NameNode re-replicates them from other nodes while
 * this node goes on serving from its other volumes. The failed count
 * travels in every heartbeat (`dfs report` shows it). When more volumes
 * have failed than dfs.datanode.failed.volumes.tolerated allows, the node
 * shuts down, as an HDFS DataNode does: the NameNode then declares it dead
 * and re-replicates everything it held.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "net.h"

#define REQUESTED_CHECK_GAP_MS 1000

struct dn_volcheck {
  dn_ctx *dn;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop;      /* guarded by lock */
  bool woken;     /* guarded by lock */
  int64_t gap_ms; /* immutable */
};

static void wake(void *arg) {
  struct dn_volcheck *c = arg;
  pthread_mutex_lock(&c->lock);
  c->woken = true;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

/* Drop the replicas of failed volume `vol` from the map and report them
 * gone. Readers that have a replica open keep their descriptors. */
static void drop_volume(dn_ctx *dn, int vol) {
  struct dn_replica *all = NULL;
  size_t n = 0, dropped = 0;
  uint64_t bytes = 0;
  if (dn_rmap_snapshot(dn->map, &all, &n) < 0) {
    LOG_ERROR("datanode", "volume %s: out of memory listing its replicas",
              dn_storage_dir(dn->storage, vol));
    return;
  }
  for (size_t i = 0; i < n; i++) {
    struct dn_replica cur;
    if (all[i].vol != vol) continue;
    /* Re-read: the entry may have moved on since the snapshot. */
    if (dn_rmap_get(dn->map, all[i].id, &cur) < 0 || cur.vol != vol) continue;
    if (dn_rmap_remove(dn->map, cur.id, cur.gs, NULL) < 0) continue;
    dn_nn_notify(dn, cur.id, cur.gs, cur.bytes_on_disk, DFS__RECEIVED_DELETED_STATUS__DELETED);
    dropped++;
    bytes += cur.bytes_on_disk;
  }
  free(all);
  LOG_ERROR("datanode", "volume %s failed: %zu replica(s), %llu bytes, dropped and reported to "
            "the NameNode", dn_storage_dir(dn->storage, vol), dropped, (unsigned long long)bytes);
}

/* True if the failed volumes are more than the node may run with. */
static bool too_many_failed(dn_ctx *dn) {
  int failed = dn_storage_num_failed(dn->storage);
  int n = dn_storage_num_volumes(dn->storage);
  int tol = dn->failed_volumes_tolerated;
  return failed >= n || (tol >= 0 && failed > tol);
}

static void *volcheck_main(void *arg) {
  struct dn_volcheck *c = arg;
  pthread_setname_np(pthread_self(), "dn-volcheck");
  dn_ctx *dn = c->dn;
  int64_t next = dfs_now_ms() + c->gap_ms, last = 0;
  pthread_mutex_lock(&c->lock);
  while (!c->stop) {
    while (!c->stop && !c->woken && dfs_now_ms() < next) {
      int64_t left = next - dfs_now_ms();
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += left / 1000;
      ts.tv_nsec += (left % 1000) * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    }
    if (c->stop) break;
    c->woken = false;
    pthread_mutex_unlock(&c->lock);

    int64_t now = dfs_now_ms();
    bool wanted = dn_storage_check_wanted(dn->storage);
    if (wanted && now - last < REQUESTED_CHECK_GAP_MS) {
      /* Asked again right after a check: once more a little later. */
      usleep((useconds_t)(REQUESTED_CHECK_GAP_MS - (now - last)) * 1000);
      now = dfs_now_ms();
    }
    if (wanted || now >= next) {
      int newly = dn_storage_check(dn->storage);
      last = dfs_now_ms();
      next = last + c->gap_ms;
      if (newly > 0)
        LOG_WARN("datanode", "volume check: %d volume(s) failed", newly);
    }
    int vols[64], k;
    while ((k = dn_storage_take_failed(dn->storage, vols, 64)) > 0)
      for (int i = 0; i < k; i++) drop_volume(dn, vols[i]);
    if (too_many_failed(dn)) {
      LOG_ERROR("datanode", "%d of %d volume(s) failed, more than "
                "dfs.datanode.failed.volumes.tolerated = %d: shutting down",
                dn_storage_num_failed(dn->storage), dn_storage_num_volumes(dn->storage),
                dn->failed_volumes_tolerated);
      /* The daemon's main thread takes SIGTERM and stops in order; an
       * in-process node (tests) just stops checking. */
      if (!dn->nn_disabled) kill(getpid(), SIGTERM);
      pthread_mutex_lock(&c->lock);
      break;
    }
    pthread_mutex_lock(&c->lock);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

int dn_volcheck_start(dn_ctx *dn, dn_volcheck **out) {
  struct dn_volcheck *c = calloc(1, sizeof *c);
  if (c == NULL) return DFS_ENOMEM;
  c->dn = dn;
  c->gap_ms = dn->disk_check_ms;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  dn_storage_set_wake(dn->storage, wake, c);
  /* Volumes that failed during the start-up scan are handled at once. */
  c->woken = true;
  if (pthread_create(&c->thread, NULL, volcheck_main, c) != 0) {
    dn_storage_set_wake(dn->storage, NULL, NULL);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return dfs_err_set(DFS_ENOMEM, "datanode: cannot start the volume checker");
  }
  *out = c;
  return 0;
}

void dn_volcheck_stop(dn_volcheck *c) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->lock);
  c->stop = true;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  /* Receivers may still call dn_storage_fail: no hook into freed memory. */
  dn_storage_set_wake(c->dn->storage, NULL, NULL);
  pthread_cond_destroy(&c->cond);
  pthread_mutex_destroy(&c->lock);
  free(c);
}
