/*
 * nn_link.c - the DataNode's side of the NameNode conversation (HDFS's
 * BPServiceActor): register, full block reports, heartbeats, incremental
 * reports, and the commands that come back in heartbeat replies.
 *
 * One thread talks to the NameNode; it sleeps on a condition variable
 * until the next heartbeat or block report is due, or until a block
 * receiver or the worker queues an incremental report, which therefore
 * reaches the NameNode at once (a writer's COMPLETE waits for it).
 * Commands that touch disks or the network for long (INVALIDATE, TRANSFER,
 * RECOVER)
 * go to a separate worker thread so that heartbeats never stall behind
 * them. A command is queued as its packed protobuf bytes: the worker owns
 * an independent copy without a hand-written deep copy.
 */
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datanode.h"
#include "errors.h"
#include "log.h"
#include "net.h"
#include "replica.h"

struct ibr {
  uint64_t id, gs, len;
  int status;
};

struct job {
  uint8_t *packed;   /* a packed Dfs__DatanodeCommand */
  size_t len;
  struct job *next;
};

struct dn_nn_link {
  dn_ctx *dn;
  const char *nn_addr;          /* conf string, outlives the link */
  dfs_rpc_client *client;
  pthread_t thread, worker;
  pthread_mutex_t lock;
  pthread_cond_t cond;          /* link thread wake-up */
  pthread_cond_t work_cond;     /* worker wake-up */
  struct ibr *q;                /* guarded by lock */
  size_t qn, qcap;              /* guarded by lock */
  struct job *jobs, *jobs_tail; /* guarded by lock */
  struct ibr *bad;              /* guarded by lock: replicas to report corrupt */
  size_t nbad, capbad;          /* guarded by lock */
  bool stop;                    /* guarded by lock */
  bool want_report;             /* guarded by lock */
  atomic_bool ready;
  char adv[300];                /* link thread only: our address as the NameNode advertises it */
};

void dn_nn_notify(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t len, int status) {
  dn_nn_link *l = dn->nn;
  if (l == NULL) return;
  pthread_mutex_lock(&l->lock);
  if (l->qn == l->qcap) {
    size_t ncap = l->qcap ? l->qcap * 2 : 64;
    struct ibr *nq = realloc(l->q, ncap * sizeof *nq);
    if (nq == NULL) {
      pthread_mutex_unlock(&l->lock);
      LOG_ERROR("datanode", "out of memory queueing a report of blk_%llu", (unsigned long long)id);
      return;
    }
    l->q = nq;
    l->qcap = ncap;
  }
  l->q[l->qn++] = (struct ibr){id, gs, len, status};
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

void dn_nn_report_bad(dn_ctx *dn, uint64_t id, uint64_t gs, uint64_t len) {
  dn_nn_link *l = dn->nn;
  if (l == NULL) return;
  pthread_mutex_lock(&l->lock);
  if (l->nbad == l->capbad) {
    size_t ncap = l->capbad ? l->capbad * 2 : 16;
    struct ibr *nb = realloc(l->bad, ncap * sizeof *nb);
    if (nb == NULL) {
      pthread_mutex_unlock(&l->lock);
      return;
    }
    l->bad = nb;
    l->capbad = ncap;
  }
  l->bad[l->nbad++] = (struct ibr){id, gs, len, 0};
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

/* Send the queued corrupt-replica reports (REPORT_BAD_BLOCKS); on failure
 * they are dropped: the next scanner pass or reader finds them again. */
static int send_bad(dn_nn_link *l) {
  pthread_mutex_lock(&l->lock);
  struct ibr *q = l->bad;
  size_t n = l->nbad;
  l->bad = NULL;
  l->nbad = l->capbad = 0;
  pthread_mutex_unlock(&l->lock);
  if (n == 0) {
    free(q);
    return 0;
  }
  dn_ctx *dn = l->dn;
  Dfs__DatanodeId id = DFS__DATANODE_ID__INIT;
  id.uuid = (char *)dn_storage_uuid(dn->storage);
  id.host = dn->host;
  id.port = (uint32_t)dn->port;
  id.hostname = dn->hostname;
  Dfs__DatanodeInfo info = DFS__DATANODE_INFO__INIT;
  info.id = &id;
  Dfs__DatanodeInfo *infos[1] = {&info};
  Dfs__LocatedBlock *lbs = calloc(n, sizeof *lbs);
  Dfs__LocatedBlock **ptrs = calloc(n, sizeof *ptrs);
  Dfs__Block *blocks = calloc(n, sizeof *blocks);
  int rc = DFS_ENOMEM;
  if (lbs && ptrs && blocks) {
    for (size_t i = 0; i < n; i++) {
      dfs__block__init(&blocks[i]);
      blocks[i].id = q[i].id;
      blocks[i].genstamp = q[i].gs;
      blocks[i].num_bytes = q[i].len;
      dfs__located_block__init(&lbs[i]);
      lbs[i].block = &blocks[i];
      lbs[i].locs = infos;
      lbs[i].n_locs = 1;
      ptrs[i] = &lbs[i];
    }
    Dfs__ReportBadBlocksRequest req = DFS__REPORT_BAD_BLOCKS_REQUEST__INIT;
    req.blocks = ptrs;
    req.n_blocks = n;
    ProtobufCMessage *resp = NULL;
    rc = dfs_rpc_call(l->client, l->nn_addr, DFS_M_REPORT_BAD_BLOCKS, &req.base,
                      &dfs__empty__descriptor, &resp, dn->socket_timeout_ms);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  }
  if (rc < 0)
    LOG_WARN("datanode", "reporting %zu corrupt replica(s) to %s: %s", n, l->nn_addr,
             dfs_err_msg());
  free(lbs);
  free(ptrs);
  free(blocks);
  free(q);
  return rc;
}

bool dn_nn_ready(dn_ctx *dn) { return dn->nn != NULL && atomic_load(&dn->nn->ready); }

/* The ready file names the advertised address (not 0.0.0.0 when we bound
 * the wildcard address). */
static int write_ready_file(dn_ctx *dn, const char *addr) {
  char tmp[4200], line[320];
  snprintf(tmp, sizeof tmp, "%s.tmp", dn->ready_file);
  int len = snprintf(line, sizeof line, "%s\n", addr);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return dfs_err_set(dfs_err_from_errno(errno), "%s: %s", tmp, strerror(errno));
  bool ok = write(fd, line, (size_t)len) == len;
  close(fd);
  if (!ok || rename(tmp, dn->ready_file) < 0)
    return dfs_err_set(DFS_EIO, "%s: cannot write ready file", dn->ready_file);
  return 0;
}

/* adv gets the address the NameNode advertises for us to clients and
 * other DataNodes (the peer IP it saw when we bound a wildcard address). */
static int do_register(dn_nn_link *l, char *adv, size_t advcap) {
  dn_ctx *dn = l->dn;
  Dfs__DatanodeId id = DFS__DATANODE_ID__INIT;
  id.uuid = (char *)dn_storage_uuid(dn->storage);
  id.host = dn->host;
  id.port = (uint32_t)dn->port;
  id.hostname = dn->hostname;
  Dfs__RegisterDatanodeRequest req = DFS__REGISTER_DATANODE_REQUEST__INIT;
  req.id = &id;
  uint64_t cap, rem, used;
  dn_storage_stats(dn->storage, &cap, &rem, NULL);
  dn_rmap_stats(dn->map, NULL, &used);
  req.has_capacity = req.has_dfs_used = req.has_remaining = true;
  req.capacity = cap;
  req.dfs_used = used;
  req.remaining = rem;
  ProtobufCMessage *resp = NULL;
  int rc = dfs_rpc_call(l->client, l->nn_addr, DFS_M_REGISTER_DATANODE, &req.base,
                        &dfs__register_datanode_response__descriptor, &resp,
                        dn->socket_timeout_ms);
  const Dfs__RegisterDatanodeResponse *r = (const void *)resp;
  if (rc >= 0 && r && r->id && r->id->host && *r->id->host)
    snprintf(adv, advcap, strchr(r->id->host, ':') ? "[%s]:%d" : "%s:%d", r->id->host, dn->port);
  else
    dn_addr(dn, adv, advcap);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return rc;
}

static int do_block_report(dn_nn_link *l) {
  dn_ctx *dn = l->dn;
  struct dn_replica *all = NULL;
  size_t n = 0;
  int rc = dn_rmap_snapshot(dn->map, &all, &n);
  if (rc < 0) return rc;
  uint64_t *fin = malloc((3 * n + 1) * sizeof *fin);
  uint64_t *uc = malloc((3 * n + 1) * sizeof *uc);
  size_t nf = 0, nu = 0;
  if (fin == NULL || uc == NULL) {
    rc = DFS_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (all[i].state == DN_REPLICA_FINALIZED) {
      fin[nf++] = all[i].id;
      fin[nf++] = all[i].gs;
      fin[nf++] = all[i].bytes_on_disk;
    } else {
      uc[nu++] = all[i].id;
      uc[nu++] = all[i].gs;
      uc[nu++] = all[i].bytes_acked;
    }
  }
  Dfs__BlockReportRequest req = DFS__BLOCK_REPORT_REQUEST__INIT;
  req.uuid = (char *)dn_storage_uuid(dn->storage);
  req.finalized = fin;
  req.n_finalized = nf;
  req.under_construction = uc;
  req.n_under_construction = nu;
  ProtobufCMessage *resp = NULL;
  rc = dfs_rpc_call(l->client, l->nn_addr, DFS_M_BLOCK_REPORT, &req.base,
                    &dfs__empty__descriptor, &resp, dn->socket_timeout_ms);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  if (rc == 0)
    LOG_INFO("datanode", "block report: %zu finalized, %zu being written", nf / 3, nu / 3);
out:
  free(all);
  free(fin);
  free(uc);
  return rc;
}

/* Send the queued incremental reports; put them back on failure. */
static int send_ibrs(dn_nn_link *l) {
  pthread_mutex_lock(&l->lock);
  struct ibr *q = l->q;
  size_t n = l->qn;
  l->q = NULL;
  l->qn = l->qcap = 0;
  pthread_mutex_unlock(&l->lock);
  if (n == 0) {
    free(q);
    return 0;
  }
  Dfs__ReceivedDeletedBlock *items = calloc(n, sizeof *items);
  Dfs__ReceivedDeletedBlock **ptrs = calloc(n, sizeof *ptrs);
  Dfs__Block *blocks = calloc(n, sizeof *blocks);
  int rc = DFS_ENOMEM;
  if (items && ptrs && blocks) {
    for (size_t i = 0; i < n; i++) {
      dfs__block__init(&blocks[i]);
      blocks[i].id = q[i].id;
      blocks[i].genstamp = q[i].gs;
      blocks[i].num_bytes = q[i].len;
      dfs__received_deleted_block__init(&items[i]);
      items[i].block = &blocks[i];
      items[i].status = (Dfs__ReceivedDeletedStatus)q[i].status;
      ptrs[i] = &items[i];
    }
    Dfs__BlockReceivedAndDeletedRequest req = DFS__BLOCK_RECEIVED_AND_DELETED_REQUEST__INIT;
    req.uuid = (char *)dn_storage_uuid(l->dn->storage);
    req.blocks = ptrs;
    req.n_blocks = n;
    ProtobufCMessage *resp = NULL;
    rc = dfs_rpc_call(l->client, l->nn_addr, DFS_M_BLOCK_RECEIVED_AND_DELETED, &req.base,
                      &dfs__empty__descriptor, &resp, l->dn->socket_timeout_ms);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  }
  free(items);
  free(ptrs);
  free(blocks);
  if (rc < 0) { /* keep them, in order, ahead of newer ones */
    pthread_mutex_lock(&l->lock);
    struct ibr *m = realloc(q, (n + l->qn) * sizeof *m);
    if (m != NULL) {
      if (l->qn) memcpy(m + n, l->q, l->qn * sizeof *m);
      free(l->q);
      l->q = m;
      l->qn += n;
      l->qcap = l->qn;
      q = NULL;
    }
    pthread_mutex_unlock(&l->lock);
  }
  free(q);
  return rc;
}

static void queue_job(dn_nn_link *l, const Dfs__DatanodeCommand *cmd) {
  struct job *j = calloc(1, sizeof *j);
  size_t len = dfs__datanode_command__get_packed_size(cmd);
  if (j == NULL || (j->packed = malloc(len ? len : 1)) == NULL) {
    free(j);
    LOG_ERROR("datanode", "out of memory queueing a command");
    return;
  }
  j->len = dfs__datanode_command__pack(cmd, j->packed);
  pthread_mutex_lock(&l->lock);
  if (l->jobs_tail) l->jobs_tail->next = j; else l->jobs = j;
  l->jobs_tail = j;
  pthread_cond_broadcast(&l->work_cond);
  pthread_mutex_unlock(&l->lock);
}

/* Returns true if the NameNode asked us to register again. */
static bool do_heartbeat(dn_nn_link *l, int *rc_out) {
  dn_ctx *dn = l->dn;
  Dfs__HeartbeatRequest req = DFS__HEARTBEAT_REQUEST__INIT;
  uint64_t cap, rem, used;
  uint32_t failed;
  dn_storage_stats(dn->storage, &cap, &rem, &failed);
  dn_rmap_stats(dn->map, NULL, &used);
  req.uuid = (char *)dn_storage_uuid(dn->storage);
  req.has_capacity = req.has_dfs_used = req.has_remaining = true;
  req.has_xceivers = req.has_failed_volumes = true;
  req.capacity = cap;
  req.dfs_used = used;
  req.remaining = rem;
  req.xceivers = (uint32_t)atomic_load(&dn->xceivers);
  req.failed_volumes = failed;
  Dfs__HeartbeatResponse *resp = NULL;
  int rc = dfs_rpc_call(l->client, l->nn_addr, DFS_M_HEARTBEAT, &req.base,
                        &dfs__heartbeat_response__descriptor, (ProtobufCMessage **)&resp,
                        dn->socket_timeout_ms);
  *rc_out = rc;
  if (rc < 0) return false;
  bool rereg = false;
  for (size_t i = 0; i < resp->n_commands; i++) {
    const Dfs__DatanodeCommand *c = resp->commands[i];
    switch (c->action) {
    case DFS__COMMAND_ACTION__REREGISTER:
      rereg = true;
      break;
    case DFS__COMMAND_ACTION__BLOCK_REPORT:
      pthread_mutex_lock(&l->lock);
      l->want_report = true;
      pthread_mutex_unlock(&l->lock);
      break;
    case DFS__COMMAND_ACTION__INVALIDATE:
    case DFS__COMMAND_ACTION__TRANSFER:
    case DFS__COMMAND_ACTION__RECOVER:
      queue_job(l, c);
      break;
    default:
      LOG_WARN("datanode", "NameNode command %d not supported yet; ignored", (int)c->action);
    }
  }
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return rereg;
}

/* Lease recovery of one block as the primary, then tell the NameNode. */
static void recover_one(dn_nn_link *l, const Dfs__Block *b, const Dfs__BlockTargets *t,
                        uint64_t new_gs) {
  dn_ctx *dn = l->dn;
  char **uuids = NULL;
  size_t nu = 0;
  uint64_t len = 0;
  int rc = dn_recover_block(dn, b, t ? t->targets : NULL, t ? t->n_targets : 0, new_gs, &uuids,
                            &nu, &len);
  if (rc < 0) {
    LOG_WARN("datanode", "lease recovery of blk_%llu failed: %s", (unsigned long long)b->id,
             dfs_err_msg());
    return;
  }
  Dfs__Block blk = *b;
  blk.num_bytes = len;
  Dfs__CommitBlockSynchronizationRequest req = DFS__COMMIT_BLOCK_SYNCHRONIZATION_REQUEST__INIT;
  req.block = &blk;
  req.new_genstamp = new_gs;
  req.new_length = len;
  req.uuids = uuids;
  req.n_uuids = nu;
  ProtobufCMessage *resp = NULL;
  rc = dfs_rpc_call(l->client, l->nn_addr, DFS_M_COMMIT_BLOCK_SYNCHRONIZATION, &req.base,
                    &dfs__empty__descriptor, &resp, dn->socket_timeout_ms);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  if (rc < 0)
    LOG_WARN("datanode", "commitBlockSynchronization of blk_%llu: %s", (unsigned long long)b->id,
             dfs_err_msg());
  else
    LOG_INFO("datanode", "lease recovery of blk_%llu: %llu bytes on %zu node(s), genstamp %llu",
             (unsigned long long)b->id, (unsigned long long)len, nu, (unsigned long long)new_gs);
  for (size_t i = 0; i < nu; i++) free(uuids[i]);
  free(uuids);
}

static void run_job(dn_nn_link *l, const Dfs__DatanodeCommand *c) {
  dn_ctx *dn = l->dn;
  for (size_t i = 0; i < c->n_blocks && !atomic_load(&dn->stopping); i++) {
    const Dfs__Block *b = c->blocks[i];
    if (c->action == DFS__COMMAND_ACTION__INVALIDATE) {
      struct dn_replica r;
      if (dn_replica_delete(dn->storage, dn->map, b->id, b->genstamp, &r) == 0) {
        LOG_INFO("datanode", "deleted blk_%llu_%llu", (unsigned long long)b->id,
                 (unsigned long long)b->genstamp);
        dn_nn_notify(dn, r.id, r.gs, r.bytes_on_disk, DFS__RECEIVED_DELETED_STATUS__DELETED);
      } else {
        LOG_INFO("datanode", "invalidate blk_%llu_%llu: no such replica",
                 (unsigned long long)b->id, (unsigned long long)b->genstamp);
      }
    } else if (c->action == DFS__COMMAND_ACTION__RECOVER) {
      if (!c->has_new_genstamp) continue;
      recover_one(l, b, i < c->n_targets ? c->targets[i] : NULL, c->new_genstamp);
    } else if (c->action == DFS__COMMAND_ACTION__TRANSFER) {
      if (i >= c->n_targets || c->targets[i]->n_targets == 0) continue;
      int rc = dn_transfer_block(dn, b, c->targets[i]->targets, c->targets[i]->n_targets);
      if (rc < 0)
        LOG_WARN("datanode", "transfer of blk_%llu failed: %s", (unsigned long long)b->id,
                 dfs_err_msg());
    }
  }
}

static void *worker_main(void *arg) {
  dn_nn_link *l = arg;
  pthread_setname_np(pthread_self(), "dn-commands");
  for (;;) {
    pthread_mutex_lock(&l->lock);
    while (l->jobs == NULL && !l->stop) pthread_cond_wait(&l->work_cond, &l->lock);
    if (l->stop) {
      pthread_mutex_unlock(&l->lock);
      break;
    }
    struct job *j = l->jobs;
    l->jobs = j->next;
    if (l->jobs == NULL) l->jobs_tail = NULL;
    pthread_mutex_unlock(&l->lock);
    Dfs__DatanodeCommand *c = dfs__datanode_command__unpack(NULL, j->len, j->packed);
    if (c != NULL) {
      run_job(l, c);
      dfs__datanode_command__free_unpacked(c, NULL);
    }
    free(j->packed);
    free(j);
  }
  return NULL;
}

/* Sleep until `until` (dfs_now_ms) or, if wake_on_work, until reports are
 * queued or a full report is wanted; returns false on stop. */
static bool wait_until(dn_nn_link *l, int64_t until, bool wake_on_work) {
  pthread_mutex_lock(&l->lock);
  while (!l->stop && !(wake_on_work && (l->qn > 0 || l->nbad > 0 || l->want_report))) {
    int64_t left = until - dfs_now_ms();
    if (left <= 0) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&l->cond, &l->lock, &ts);
  }
  bool go = !l->stop;
  pthread_mutex_unlock(&l->lock);
  return go;
}

static void *link_main(void *arg) {
  dn_nn_link *l = arg;
  pthread_setname_np(pthread_self(), "dn-nnlink");
  dn_ctx *dn = l->dn;
  bool registered = false;
  int64_t backoff = 100, next_hb = 0, next_br = 0;
  while (!atomic_load(&dn->stopping)) {
    int rc = 0;
    if (!registered) {
      rc = do_register(l, l->adv, sizeof l->adv);
      if (rc < 0) {
        LOG_INFO("datanode", "register with %s: %s; retrying in %lld ms", l->nn_addr,
                 dfs_err_msg(), (long long)backoff);
        if (!wait_until(l, dfs_now_ms() + backoff, false)) break;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        continue;
      }
      LOG_INFO("datanode", "registered with NameNode %s as %s, advertised at %s", l->nn_addr,
               dn_storage_uuid(dn->storage), l->adv);
      registered = true;
      backoff = 100;
      pthread_mutex_lock(&l->lock);
      l->want_report = true;
      pthread_mutex_unlock(&l->lock);
      next_hb = 0;
    }
    pthread_mutex_lock(&l->lock);
    bool report = l->want_report || dfs_now_ms() >= next_br;
    l->want_report = false;
    pthread_mutex_unlock(&l->lock);
    if (report) {
      /* Reports queued before the full report are covered by it. */
      rc = do_block_report(l);
      if (rc < 0) {
        LOG_WARN("datanode", "block report to %s: %s", l->nn_addr, dfs_err_msg());
        pthread_mutex_lock(&l->lock);
        l->want_report = true;
        pthread_mutex_unlock(&l->lock);
        if (rc != DFS_ECONNREFUSED && rc != DFS_ECONNRESET && rc != DFS_ETIMEDOUT)
          registered = false; /* the NameNode answered but does not know us */
        if (!wait_until(l, dfs_now_ms() + 1000, false)) break;
        continue;
      }
      next_br = dfs_now_ms() + dn->blockreport_ms;
      if (!atomic_load(&l->ready)) {
        atomic_store(&l->ready, true);
        if (dn->ready_file[0] && write_ready_file(dn, l->adv) < 0)
          LOG_ERROR("datanode", "%s", dfs_err_msg());
      }
    }
    send_bad(l);
    bool ibr_failed = send_ibrs(l) < 0;
    if (ibr_failed)
      LOG_WARN("datanode", "incremental block report to %s: %s", l->nn_addr, dfs_err_msg());
    if (dfs_now_ms() >= next_hb) {
      bool rereg = do_heartbeat(l, &rc);
      next_hb = dfs_now_ms() + dn->heartbeat_ms;
      if (rc < 0) {
        LOG_WARN("datanode", "heartbeat to %s: %s", l->nn_addr, dfs_err_msg());
        /* A NameNode that answers with an error no longer knows us. */
        if (rc != DFS_ECONNREFUSED && rc != DFS_ECONNRESET && rc != DFS_ETIMEDOUT &&
            rc != DFS_EPROTO && rc != -EPIPE)
          registered = false;
        next_hb = dfs_now_ms() + 1000 < next_hb ? dfs_now_ms() + 1000 : next_hb;
      } else if (rereg) {
        LOG_INFO("datanode", "NameNode asked us to register again");
        registered = false;
        continue;
      }
    }
    int64_t until = next_hb < next_br ? next_hb : next_br;
    if (ibr_failed) { /* retry in a second rather than spin on the queue */
      int64_t retry = dfs_now_ms() + 1000;
      if (!wait_until(l, retry < until ? retry : until, false)) break;
    } else if (!wait_until(l, until, true)) {
      break;
    }
  }
  return NULL;
}

static const char *user_name(void) {
  const char *u = getenv("USER");
  if (u && *u) return u;
  struct passwd *pw = getpwuid(geteuid());
  return pw ? pw->pw_name : "datanode";
}

int dn_nn_link_start(dn_ctx *dn, dn_nn_link **out) {
  dn_nn_link *l = calloc(1, sizeof *l);
  if (l == NULL) return DFS_ENOMEM;
  l->dn = dn;
  l->nn_addr = dfs_conf_str(dn->conf, "dfs.namenode.rpc-address");
  struct dfs_rpc_client_opts o = {
      .user = user_name(),
      .client_name = NULL,
      .timeout_ms = dn->socket_timeout_ms,
      .max_body = (uint32_t)dfs_conf_int(dn->conf, "ipc.maximum.data.length"),
      .max_idle_per_addr = 2,
  };
  int rc = dfs_rpc_client_create(&o, &l->client);
  if (rc < 0) {
    free(l);
    return rc;
  }
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->cond, NULL);
  pthread_cond_init(&l->work_cond, NULL);
  /* The link is visible to receivers before its threads start. */
  dn->nn = l;
  if (pthread_create(&l->worker, NULL, worker_main, l) != 0) {
    dn->nn = NULL;
    dfs_rpc_client_destroy(l->client);
    free(l);
    return dfs_err_set(DFS_ENOMEM, "datanode: cannot start threads");
  }
  if (pthread_create(&l->thread, NULL, link_main, l) != 0) {
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_cond_broadcast(&l->work_cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->worker, NULL);
    dn->nn = NULL;
    dfs_rpc_client_destroy(l->client);
    free(l);
    return dfs_err_set(DFS_ENOMEM, "datanode: cannot start threads");
  }
  *out = l;
  return 0;
}

void dn_nn_link_stop(dn_nn_link *l) {
  if (l == NULL) return;
  pthread_mutex_lock(&l->lock);
  l->stop = true;
  pthread_cond_broadcast(&l->cond);
  pthread_cond_broadcast(&l->work_cond);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  pthread_join(l->worker, NULL);
  /* Called after the server stopped: no receiver can notify any more. */
  l->dn->nn = NULL;
  while (l->jobs) {
    struct job *j = l->jobs;
    l->jobs = j->next;
    free(j->packed);
    free(j);
  }
  free(l->q);
  free(l->bad);
  dfs_rpc_client_destroy(l->client);
  pthread_cond_destroy(&l->cond);
  pthread_cond_destroy(&l->work_cond);
  pthread_mutex_destroy(&l->lock);
  free(l);
}
