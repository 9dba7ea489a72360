/*
 * test_nn_replication.c - the NameNode's replication work: the priority
 * queue, the priority rules, the choice of excess replicas, re-replication
 * targets (placement with existing replicas), and the whole loop in
 * process (fake DataNodes through the namesystem API): a dead node's
 * blocks scheduled most endangered first with a TRANSFER to a non-holder,
 * per-source stream limit, pending transfers that time out and are
 * scheduled again, over-replication trimmed, setReplication, corrupt
 * replicas hidden and replaced, and no work at all in safe mode.
 * Second suite: lease soft and hard limits. Third: decommissioning.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "namesystem.h"
#include "placement.h"
#include "repl_queue.h"
#include "replication.h"
#include "test_nn_util.h"

/* ---- the queue ---- */

static void test_queue(void) {
  struct nn_replq q;
  nn_replq_init(&q);
  CU_ASSERT_EQUAL(nn_replq_set(&q, 10, 2), 0);
  CU_ASSERT_EQUAL(nn_replq_set(&q, 11, 2), 0);
  CU_ASSERT_EQUAL(nn_replq_set(&q, 12, 0), 0);
  CU_ASSERT_EQUAL(nn_replq_size(&q, -1), 3);
  CU_ASSERT_EQUAL(nn_replq_size(&q, 2), 2);
  CU_ASSERT_EQUAL(nn_replq_level(&q, 12), 0);
  CU_ASSERT_EQUAL(nn_replq_level(&q, 99), -1);
  /* rotation visits in FIFO order and comes back round */
  CU_ASSERT_EQUAL(nn_replq_rotate(&q, 2), 10);
  CU_ASSERT_EQUAL(nn_replq_rotate(&q, 2), 11);
  CU_ASSERT_EQUAL(nn_replq_rotate(&q, 2), 10);
  /* moving levels; setting the same level keeps one entry */
  CU_ASSERT_EQUAL(nn_replq_set(&q, 10, 0), 0);
  CU_ASSERT_EQUAL(nn_replq_set(&q, 10, 0), 0);
  CU_ASSERT_EQUAL(nn_replq_size(&q, 0), 2);
  CU_ASSERT_EQUAL(nn_replq_size(&q, 2), 1);
  CU_ASSERT_EQUAL(nn_replq_rotate(&q, 0), 12);
  CU_ASSERT_EQUAL(nn_replq_rotate(&q, 0), 10);
  CU_ASSERT_EQUAL(nn_replq_set(&q, 12, -1), 0);
  CU_ASSERT_EQUAL(nn_replq_level(&q, 12), -1);
  CU_ASSERT_EQUAL(nn_replq_size(&q, -1), 2);
  CU_ASSERT_EQUAL(nn_replq_rotate(&q, 1), 0); /* empty level */
  /* many entries, removed out of order */
  for (uint64_t i = 100; i < 1100; i++) CU_ASSERT_EQUAL(nn_replq_set(&q, i, (int)(i % 4)), 0);
  for (uint64_t i = 100; i < 1100; i += 2) nn_replq_set(&q, i, -1);
  CU_ASSERT_EQUAL(nn_replq_size(&q, -1), 502);
  size_t total = 0;
  for (int l = 0; l < NN_REPLQ_LEVELS; l++) total += nn_replq_size(&q, l);
  CU_ASSERT_EQUAL(total, 502);
  nn_replq_free(&q);
}

static void test_priority(void) {
  CU_ASSERT_EQUAL(nn_repl_priority(3, 0, 0, 3, false), -1);
  CU_ASSERT_EQUAL(nn_repl_priority(3, 0, 0, 3, true), NN_REPLQ_MISPLACED);
  CU_ASSERT_EQUAL(nn_repl_priority(1, 0, 0, 3, false), NN_REPLQ_HIGHEST);
  CU_ASSERT_EQUAL(nn_repl_priority(1, 0, 0, 2, false), NN_REPLQ_HIGHEST);
  CU_ASSERT_EQUAL(nn_repl_priority(1, 0, 0, 1, false), -1);
  CU_ASSERT_EQUAL(nn_repl_priority(2, 0, 0, 3, false), NN_REPLQ_UNDER);
  CU_ASSERT_EQUAL(nn_repl_priority(2, 0, 0, 4, false), NN_REPLQ_VERY_UNDER); /* 2 < 2/3*4 */
  CU_ASSERT_EQUAL(nn_repl_priority(3, 0, 0, 4, false), NN_REPLQ_UNDER);
  CU_ASSERT_EQUAL(nn_repl_priority(0, 0, 0, 3, false), NN_REPLQ_NO_SOURCE);
  /* only copies on decommissioning nodes left: most urgent */
  CU_ASSERT_EQUAL(nn_repl_priority(0, 2, 0, 3, false), NN_REPLQ_HIGHEST);
  /* pending copies count: no duplicate work */
  CU_ASSERT_EQUAL(nn_repl_priority(1, 0, 2, 3, false), -1);
  CU_ASSERT_EQUAL(nn_repl_priority(1, 0, 1, 3, false), NN_REPLQ_HIGHEST);
}

static struct nn_pnode pn[8];

static void mk(int i, const char *host, const char *rack, uint64_t rem) {
  pn[i].host = host;
  pn[i].rack = rack;
  pn[i].remaining = rem;
  pn[i].alive = true;
  pn[i].excluded = false;
}

static void test_choose_excess(void) {
  /* racks: A A B ; removing one must keep both racks: from rack A, the
   * node with the least space */
  mk(0, "h0", "/A", 500);
  mk(1, "h1", "/A", 100);
  mk(2, "h2", "/B", 1);
  size_t cand[3] = {0, 1, 2}, out[3];
  CU_ASSERT_EQUAL(nn_repl_choose_excess(pn, cand, 3, 1, out), 1);
  CU_ASSERT_EQUAL(out[0], 1);
  /* two to remove from A A B: one of A, then least space of the rest */
  CU_ASSERT_EQUAL(nn_repl_choose_excess(pn, cand, 3, 2, out), 2);
  CU_ASSERT_EQUAL(out[0], 1);
  CU_ASSERT_EQUAL(out[1], 2);
  /* all on distinct racks: least space */
  mk(1, "h1", "/C", 100);
  CU_ASSERT_EQUAL(nn_repl_choose_excess(pn, cand, 3, 1, out), 1);
  CU_ASSERT_EQUAL(out[0], 2);
  /* A A A B B, remove 2: never empties a rack */
  mk(0, "h0", "/A", 5);
  mk(1, "h1", "/A", 6);
  mk(2, "h2", "/A", 7);
  mk(3, "h3", "/B", 1);
  mk(4, "h4", "/B", 2);
  size_t c5[5] = {0, 1, 2, 3, 4}, o5[5];
  CU_ASSERT_EQUAL(nn_repl_choose_excess(pn, c5, 5, 2, o5), 2);
  CU_ASSERT_EQUAL(o5[0], 3); /* least space on a rack with more than one */
  CU_ASSERT_EQUAL(o5[1], 0); /* then B has one left: from A */
}

static void test_choose_more(void) {
  /* 2 racks x 3 nodes; block on node 0 (/A) only: two more go A-off and
   * then beside it */
  static const char *h[6] = {"a1", "a2", "a3", "b1", "b2", "b3"};
  for (int i = 0; i < 6; i++) mk(i, h[i], i < 3 ? "/A" : "/B", 1000);
  uint64_t rng = 7;
  for (int t = 0; t < 200; t++) {
    size_t ex[1] = {0}, out[2];
    pn[0].excluded = true;
    int k = nn_placement_choose_more(pn, 6, ex, 1, "a1", 2, 10, false, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 2);
    CU_ASSERT(out[0] != 0 && out[1] != 0 && out[0] != out[1]);
    CU_ASSERT(out[0] >= 3); /* second replica off rack */
    CU_ASSERT(out[1] >= 3); /* third beside the second */
  }
  /* mis-replicated: 2 replicas on /A, new_rack forces /B */
  for (int t = 0; t < 200; t++) {
    size_t ex[2] = {0, 1}, out[1];
    pn[0].excluded = pn[1].excluded = true;
    int k = nn_placement_choose_more(pn, 6, ex, 2, "a1", 1, 10, true, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 1);
    CU_ASSERT(out[0] >= 3);
  }
  /* excluded nodes (holding a corrupt copy) are never chosen; too few
   * usable nodes gives fewer targets */
  for (int i = 0; i < 6; i++) pn[i].excluded = i != 5;
  size_t ex[1] = {0}, out[3];
  CU_ASSERT_EQUAL(nn_placement_choose_more(pn, 6, ex, 1, NULL, 3, 10, false, &rng, out), 1);
  CU_ASSERT_EQUAL(out[0], 5);
}

/* ---- in process: the namesystem with fake DataNodes ---- */

static nn_ns *ns;
static char dir[128];
static const struct nn_caller caller = {.user = "tester", .client_name = "client-1",
                                        .ip = "10.9.9.9"};
#define NDN 5
static const char *uuids[NDN] = {"u1", "u2", "u3", "u4", "u5"};
static bool down[NDN];
static int64_t soft_ms = 60000, hard_ms = 3600000;

static int dn_of(const char *uuid) {
  for (int i = 0; i < NDN; i++)
    if (strcmp(uuid, uuids[i]) == 0) return i;
  return -1;
}

static void open_ns(void) {
  char topo[256];
  tnn_tmpdir(dir, sizeof dir, "repl");
  snprintf(topo, sizeof topo, "%s/topology.map", dir);
  FILE *f = fopen(topo, "w");
  fprintf(f, "dn1 /rack1\ndn2 /rack1\ndn3 /rack2\ndn4 /rack2\ndn5 /rack2\n");
  fclose(f);
  char name[256];
  snprintf(name, sizeof name, "%s/name", dir);
  struct nn_config cfg;
  nn_config_defaults(&cfg);
  cfg.name_dir = name;
  cfg.permissions = false;
  cfg.safemode_threshold = 0;
  cfg.min_blocksize = 512;
  cfg.topology_file = topo;
  cfg.heartbeat_interval_ms = 40; /* dead after 2*40 + 10*40 = 480 ms */
  cfg.recheck_interval_ms = 40;
  cfg.repl_max_streams = 1;
  cfg.repl_pending_timeout_ms = 300;
  cfg.lease_soft_ms = soft_ms;
  cfg.lease_hard_ms = hard_ms;
  static char excl[256];
  snprintf(excl, sizeof excl, "%s/exclude", dir);
  cfg.hosts_exclude_file = excl;
  CU_ASSERT_EQUAL_FATAL(nn_ns_open(&cfg, &ns), 0);
  for (int i = 0; i < NDN; i++) {
    char host[32], hn[32];
    snprintf(host, sizeof host, "127.0.0.%d", i + 1);
    snprintf(hn, sizeof hn, "dn%d", i + 1);
    struct nn_dn_stats st = {.capacity = 1 << 30, .remaining = (1u << 30) - (unsigned)i};
    const char *h;
    CU_ASSERT_EQUAL(nn_ns_register_datanode(ns, uuids[i], host, 9866, hn, host, &st, &h), 0);
    CU_ASSERT_EQUAL(nn_ns_block_report(ns, uuids[i], NULL, 0, NULL, 0), 0);
    down[i] = false;
  }
}

static void close_ns(void) {
  nn_ns_close(ns, false);
  tnn_rmrf(dir);
}

/* Replica holders of block 0 of path (uuid indices) into who[]; returns
 * how many. */
static int holders(const char *path, int *who, uint64_t *id, bool *corrupt) {
  struct nn_located_blocks lb;
  if (nn_ns_get_block_locations(ns, &caller, P(path), 0, UINT64_MAX, &lb) != 0) return -1;
  int n = (int)lb.blocks[0].nlocs;
  for (int i = 0; i < n; i++) who[i] = dn_of(lb.blocks[0].locs[i].uuid);
  if (id) *id = lb.blocks[0].b.id;
  if (corrupt) *corrupt = lb.blocks[0].corrupt;
  nn_located_blocks_free(&lb);
  return n;
}

/* A one-block file with replicas on the pipeline's nodes. */
static struct nn_blk write_file(const char *path, int repl) {
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &caller, P(path), 0644, false, true, (uint32_t)repl, 4096,
                               &st), 0);
  struct nn_located_blocks lb;
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &caller, P(path), NULL, NULL, 0, 0, false, &lb), 0);
  struct nn_blk b = lb.blocks[0].b;
  b.num_bytes = 1000;
  for (size_t i = 0; i < lb.blocks[0].nlocs; i++)
    CU_ASSERT_EQUAL(nn_ns_block_received(ns, lb.blocks[0].locs[i].uuid, &b, 2), 0);
  CU_ASSERT_EQUAL((int)lb.blocks[0].nlocs, repl);
  nn_located_blocks_free(&lb);
  bool done = false;
  CU_ASSERT_EQUAL(nn_ns_complete(ns, &caller, P(path), &b, 0, &done), 0);
  CU_ASSERT(done);
  return b;
}

/* A file left open by writer client (replication 3) with one block of
 * len bytes that its pipeline nodes hold as being written; *nlocs gets
 * how many they are. */
static struct nn_blk open_file(const char *path, const char *client, uint64_t len, int *nlocs) {
  struct nn_caller w = caller;
  w.client_name = client;
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &w, P(path), 0644, false, true, 3, 4096, &st), 0);
  struct nn_located_blocks lb;
  struct nn_blk b = {0};
  if (nn_ns_add_block(ns, &w, P(path), NULL, NULL, 0, 0, false, &lb) != 0) {
    CU_FAIL("add_block");
    return b;
  }
  b = lb.blocks[0].b;
  b.num_bytes = len;
  *nlocs = (int)lb.blocks[0].nlocs;
  for (size_t i = 0; i < lb.blocks[0].nlocs; i++)
    CU_ASSERT_EQUAL(nn_ns_block_received(ns, lb.blocks[0].locs[i].uuid, &b, 1), 0);
  nn_located_blocks_free(&lb);
  return b;
}

/* Heartbeat every live node; collect its commands. */
struct cmds {
  struct nn_dn_commands c[NDN];
};
static void beat(struct cmds *out) {
  for (int i = 0; i < NDN; i++) {
    memset(&out->c[i], 0, sizeof out->c[i]);
    if (down[i]) continue;
    struct nn_dn_stats st = {.capacity = 1 << 30, .remaining = (1u << 30) - (unsigned)i};
    nn_ns_heartbeat(ns, uuids[i], &st, &out->c[i]);
  }
}
static void cmds_free(struct cmds *c) {
  for (int i = 0; i < NDN; i++) nn_dn_commands_free(&c->c[i]);
}

/* Execute INVALIDATE commands: report DELETED. */
static int run_invalidates(struct cmds *c) {
  int k = 0;
  for (int i = 0; i < NDN; i++)
    for (size_t j = 0; j < c->c[i].ninvalidate; j++) {
      struct nn_blk b = {c->c[i].invalidate[3 * j], c->c[i].invalidate[3 * j + 1],
                         c->c[i].invalidate[3 * j + 2]};
      nn_ns_block_received(ns, uuids[i], &b, 3);
      k++;
    }
  return k;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_dead_node_rereplication(void) {
  open_ns();
  struct nn_blk b = write_file("/f", 3);
  int who[8];
  CU_ASSERT_EQUAL_FATAL(holders("/f", who, NULL, NULL), 3);
  /* two holders stop heartbeating and die */
  down[who[0]] = down[who[1]] = true;
  int survivor = who[2];
  for (int t = 0; t < 40; t++) {
    struct cmds c;
    beat(&c);
    cmds_free(&c);
    sleep_ms(20);
  }
  nn_ns_tick(ns);
  struct nn_repl_stats rs;
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.queued, 1);
  CU_ASSERT_EQUAL(rs.queued_level[NN_REPLQ_HIGHEST], 1);
  CU_ASSERT_EQUAL(holders("/f", who, NULL, NULL), 1);
  /* one round: one TRANSFER from the survivor to two non-holders */
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 1);
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.pending, 1);
  CU_ASSERT_EQUAL(rs.queued, 0);
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 0); /* no duplicate */
  struct cmds c;
  beat(&c);
  CU_ASSERT_EQUAL_FATAL(c.c[survivor].ntransfer, 1);
  struct nn_dn_transfer *x = &c.c[survivor].transfer[0];
  CU_ASSERT_EQUAL(x->b.id, b.id);
  CU_ASSERT_EQUAL(x->b.num_bytes, 1000);
  CU_ASSERT_EQUAL_FATAL(x->ntargets, 2);
  int t0 = dn_of(x->targets[0].uuid), t1 = dn_of(x->targets[1].uuid);
  CU_ASSERT(t0 >= 0 && t1 >= 0 && t0 != t1);
  CU_ASSERT(!down[t0] && !down[t1] && t0 != survivor && t1 != survivor);
  /* the targets report RECEIVED: 3 live replicas, nothing pending */
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[t0], &b, 2), 0);
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.pending, 1);
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[t1], &b, 2), 0);
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.pending, 0);
  CU_ASSERT_EQUAL(rs.queued, 0);
  CU_ASSERT_EQUAL(holders("/f", who, NULL, NULL), 3);
  cmds_free(&c);
  struct nn_fs_stats fst;
  CU_ASSERT_EQUAL(nn_ns_fs_stats(ns, &fst), 0);
  CU_ASSERT_EQUAL(fst.under_replicated, 0);
  close_ns();
}

static void test_pending_timeout_and_stream_limit(void) {
  open_ns();
  /* two files whose only good copies will be on the same single node */
  struct nn_blk b1 = write_file("/a", 1), b2 = write_file("/b", 1);
  int w1[8], w2[8];
  holders("/a", w1, NULL, NULL);
  holders("/b", w2, NULL, NULL);
  /* make both live on node w1[0]: the copy of /b is reported there too
   * and the original deleted */
  if (w2[0] != w1[0]) {
    CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[w1[0]], &b2, 2), 0);
    CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[w2[0]], &b2, 3), 0);
  }
  bool r;
  CU_ASSERT_EQUAL(nn_ns_set_replication(ns, &caller, P("/a"), 2, &r), 0);
  CU_ASSERT_EQUAL(nn_ns_set_replication(ns, &caller, P("/b"), 2, &r), 0);
  struct nn_repl_stats rs;
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.queued, 2);
  /* max-streams 1: one transfer per round from the one source */
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 1);
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 0);
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.pending, 1);
  CU_ASSERT_EQUAL(rs.queued, 1);
  /* nobody reports: after the timeout it is scheduled again (the source's
   * stream is free again, so the other block may go first) */
  sleep_ms(350);
  struct cmds c;
  beat(&c); /* keep the nodes alive */
  cmds_free(&c);
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 1);
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.timeouts, 1);
  CU_ASSERT_EQUAL(rs.pending, 1);
  (void)b1;
  close_ns();
}

static void test_over_replication_and_setrep(void) {
  open_ns();
  struct nn_blk b = write_file("/o", 3);
  int who[8];
  CU_ASSERT_EQUAL(holders("/o", who, NULL, NULL), 3);
  /* a fourth and fifth replica appear (a returning node): trimmed to 3 */
  for (int i = 0; i < NDN; i++) nn_ns_block_received(ns, uuids[i], &b, 2);
  CU_ASSERT_EQUAL(holders("/o", who, NULL, NULL), 3);
  struct cmds c;
  beat(&c);
  CU_ASSERT_EQUAL(run_invalidates(&c), 2);
  cmds_free(&c);
  CU_ASSERT_EQUAL(holders("/o", who, NULL, NULL), 3);
  /* the survivors span both racks */
  bool r1 = false, r2 = false;
  for (int i = 0; i < 3; i++) {
    if (who[i] < 2) r1 = true;
    else r2 = true;
  }
  CU_ASSERT(r1 && r2);
  /* setrep 3 -> 1: two INVALIDATEs */
  bool ok;
  CU_ASSERT_EQUAL(nn_ns_set_replication(ns, &caller, P("/o"), 1, &ok), 0);
  CU_ASSERT_EQUAL(holders("/o", who, NULL, NULL), 1);
  beat(&c);
  CU_ASSERT_EQUAL(run_invalidates(&c), 2);
  cmds_free(&c);
  /* setrep 1 -> 3: scheduled, TRANSFER to two nodes */
  CU_ASSERT_EQUAL(nn_ns_set_replication(ns, &caller, P("/o"), 3, &ok), 0);
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 1);
  beat(&c);
  CU_ASSERT_EQUAL_FATAL(c.c[who[0]].ntransfer, 1);
  CU_ASSERT_EQUAL(c.c[who[0]].transfer[0].ntargets, 2);
  cmds_free(&c);
  close_ns();
}

static void test_corrupt_and_safe_mode(void) {
  open_ns();
  struct nn_blk b = write_file("/c", 3);
  int who[8];
  CU_ASSERT_EQUAL(holders("/c", who, NULL, NULL), 3);
  int bad = who[0];
  /* safe mode entered by hand: nothing is scheduled or sent */
  bool in;
  struct nn_caller su = {.user = nn_ns_superuser(ns), .client_name = "su", .ip = "10.0.0.1"};
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &su, 2, &in), 0);
  CU_ASSERT_EQUAL(nn_ns_report_bad_block(ns, &b, uuids[bad]), 0);
  CU_ASSERT_EQUAL(holders("/c", who, NULL, NULL), 2); /* not served */
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 0);
  struct cmds c;
  beat(&c);
  for (int i = 0; i < NDN; i++) {
    CU_ASSERT_EQUAL(c.c[i].ntransfer, 0);
    CU_ASSERT_EQUAL(c.c[i].ninvalidate, 0);
  }
  cmds_free(&c);
  /* leaving safe mode: the block is found and replaced elsewhere */
  CU_ASSERT_EQUAL(nn_ns_safe_mode(ns, &su, 3, &in), 0);
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 1);
  beat(&c);
  int target = -1;
  for (int i = 0; i < NDN; i++)
    if (c.c[i].ntransfer) {
      CU_ASSERT(i != bad);
      CU_ASSERT_EQUAL_FATAL(c.c[i].transfer[0].ntargets, 1);
      target = dn_of(c.c[i].transfer[0].targets[0].uuid);
    }
  cmds_free(&c);
  CU_ASSERT_FATAL(target >= 0);
  CU_ASSERT(target != bad);
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[target], &b, 2), 0);
  /* enough good copies: the corrupt one is invalidated */
  beat(&c);
  CU_ASSERT_EQUAL(c.c[bad].ninvalidate, 1);
  CU_ASSERT_EQUAL(run_invalidates(&c), 1);
  cmds_free(&c);
  bool corrupt;
  CU_ASSERT_EQUAL(holders("/c", who, NULL, &corrupt), 3);
  CU_ASSERT(!corrupt);
  for (int i = 0; i < 3; i++) CU_ASSERT(who[i] != bad);
  /* every replica corrupt: served, flagged; counted as a corrupt block */
  for (int i = 0; i < 3; i++) nn_ns_report_bad_block(ns, &b, uuids[who[i]]);
  CU_ASSERT_EQUAL(holders("/c", who, NULL, &corrupt), 3);
  CU_ASSERT(corrupt);
  struct nn_fs_stats fst;
  CU_ASSERT_EQUAL(nn_ns_fs_stats(ns, &fst), 0);
  CU_ASSERT_EQUAL(fst.corrupt_blocks, 1);
  CU_ASSERT_EQUAL(fst.missing_blocks, 0);
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 0); /* no good source */
  close_ns();
}

/* ---- leases ---- */

static void test_lease_soft_limit(void) {
  soft_ms = 150;
  hard_ms = 100000;
  open_ns();
  struct nn_caller a = caller, b = caller;
  a.client_name = "client-A";
  b.client_name = "client-B";
  struct nn_status st;
  CU_ASSERT_EQUAL(nn_ns_create(ns, &a, P("/l"), 0644, false, true, 3, 4096, &st), 0);
  /* within the soft limit: refused */
  CU_ASSERT_EQUAL(nn_ns_create(ns, &b, P("/l"), 0644, true, true, 3, 4096, &st), DFS_ELEASE);
  /* renewals keep it */
  for (int i = 0; i < 4; i++) {
    sleep_ms(60);
    CU_ASSERT_EQUAL(nn_ns_renew_lease(ns, &a, "client-A"), 0);
  }
  CU_ASSERT_EQUAL(nn_ns_create(ns, &b, P("/l"), 0644, true, true, 3, 4096, &st), DFS_ELEASE);
  /* A falls silent past the soft limit: B's create recovers the file (no
   * blocks: closed at once) and then overwrites it */
  sleep_ms(200);
  CU_ASSERT_EQUAL(nn_ns_create(ns, &b, P("/l"), 0644, true, true, 3, 4096, &st), 0);
  CU_ASSERT(st.under_construction);
  struct nn_located_blocks lb;
  /* A lost the file: its addBlock fails, B's works */
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &a, P("/l"), NULL, NULL, 0, 0, false, &lb), DFS_ENOLEASE);
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &b, P("/l"), NULL, NULL, 0, 0, false, &lb), 0);
  nn_located_blocks_free(&lb);
  close_ns();
  soft_ms = 60000;
  hard_ms = 3600000;
}

static void test_lease_hard_limit(void) {
  soft_ms = 100;
  hard_ms = 300;
  open_ns();
  struct nn_caller w = caller;
  w.client_name = "client-W";
  struct nn_status st;
  struct nn_located_blocks lb;
  int primary_candidates = 0;
  struct nn_blk blk = open_file("/h", "client-W", 0, &primary_candidates);
  /* an empty file of another writer that keeps renewing stays open */
  struct nn_caller k = caller;
  k.client_name = "client-K";
  CU_ASSERT_EQUAL(nn_ns_create(ns, &k, P("/k"), 0644, false, true, 3, 4096, &st), 0);
  CU_ASSERT_EQUAL(nn_ns_check_leases(ns), 0);
  for (int i = 0; i < 8; i++) {
    sleep_ms(50);
    nn_ns_renew_lease(ns, &k, "client-K");
    struct cmds c;
    beat(&c); /* keep the DataNodes alive */
    cmds_free(&c);
  }
  /* W silent past the hard limit: the NameNode recovers /h itself */
  CU_ASSERT_EQUAL(nn_ns_check_leases(ns), 1);
  struct cmds c;
  beat(&c);
  int recovers = 0;
  for (int i = 0; i < NDN; i++) recovers += (int)c.c[i].nrecover;
  CU_ASSERT_EQUAL(recovers, 1);
  CU_ASSERT(primary_candidates >= 1);
  cmds_free(&c);
  /* the old writer is fenced */
  CU_ASSERT_EQUAL(nn_ns_add_block(ns, &w, P("/h"), &blk, NULL, 0, 0, false, &lb), DFS_ENOLEASE);
  CU_ASSERT_EQUAL(nn_ns_get_file_info(ns, &caller, P("/k"), &st), 0);
  CU_ASSERT(st.under_construction);
  /* not again before another hard limit */
  CU_ASSERT_EQUAL(nn_ns_check_leases(ns), 0);
  close_ns();
  soft_ms = 60000;
  hard_ms = 3600000;
}

/* ---- decommissioning ---- */

static int admin_of(int i) {
  struct nn_dn_info *v;
  size_t n;
  int st = -1;
  if (nn_ns_datanode_report(ns, 1, &v, &n) != 0) return -1;
  for (size_t k = 0; k < n; k++)
    if (strcmp(v[k].uuid, uuids[i]) == 0) st = v[k].admin_state;
  free(v);
  return st;
}

static void write_exclude(const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/exclude", dir);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
}

static void test_decommission(void) {
  open_ns();
  struct nn_blk b = write_file("/d", 2);
  int who[8];
  CU_ASSERT_EQUAL_FATAL(holders("/d", who, NULL, NULL), 2);
  int leaving = who[0], other = who[1];
  char line[64];
  snprintf(line, sizeof line, "# going away\ndn%d\n", leaving + 1);
  write_exclude(line);
  struct nn_caller su = {.user = nn_ns_superuser(ns), .client_name = "su", .ip = "10.0.0.1"};
  CU_ASSERT_EQUAL(nn_ns_refresh_nodes(ns, &caller), DFS_EACCES); /* not a superuser */
  CU_ASSERT_EQUAL(admin_of(leaving), 0);
  CU_ASSERT_EQUAL(nn_ns_refresh_nodes(ns, &su), 0);
  CU_ASSERT_EQUAL(admin_of(leaving), 1);
  struct nn_repl_stats rs;
  nn_ns_repl_stats(ns, &rs);
  CU_ASSERT_EQUAL(rs.queued_level[NN_REPLQ_HIGHEST], 1); /* one live copy besides it */
  nn_ns_tick(ns);
  CU_ASSERT_EQUAL(admin_of(leaving), 1); /* not yet: its block is not safe */
  /* copied from the leaving node (preferred source) to a new node */
  CU_ASSERT_EQUAL(nn_ns_replication_work(ns), 1);
  struct cmds c;
  beat(&c);
  CU_ASSERT_EQUAL_FATAL(c.c[leaving].ntransfer, 1);
  CU_ASSERT_EQUAL_FATAL(c.c[leaving].transfer[0].ntargets, 1);
  int target = dn_of(c.c[leaving].transfer[0].targets[0].uuid);
  CU_ASSERT(target >= 0 && target != leaving && target != other);
  cmds_free(&c);
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[target], &b, 2), 0);
  nn_ns_tick(ns);
  CU_ASSERT_EQUAL(admin_of(leaving), 2);
  /* its replica stays readable, listed last; nothing is trimmed */
  CU_ASSERT_EQUAL(holders("/d", who, NULL, NULL), 3);
  CU_ASSERT_EQUAL(who[2], leaving);
  /* new blocks never go there */
  for (int i = 0; i < 20; i++) {
    char p[32];
    snprintf(p, sizeof p, "/n%d", i);
    write_file(p, 3);
    int w[8];
    int k = holders(p, w, NULL, NULL);
    for (int j = 0; j < k; j++) CU_ASSERT(w[j] != leaving);
  }
  /* back in service: the block has 3 live copies for 2 wanted: trimmed */
  write_exclude("");
  CU_ASSERT_EQUAL(nn_ns_refresh_nodes(ns, &su), 0);
  CU_ASSERT_EQUAL(admin_of(leaving), 0);
  CU_ASSERT_EQUAL(holders("/d", who, NULL, NULL), 2);
  close_ns();
}

/* A delete's INVALIDATEs leave only once the delete is durable: a
 * heartbeat in the window between the namespace change and its edit's
 * fdatasync must not carry them, or a crash in that window brings the
 * file back after restart with its blocks deleted. Likewise a RECOVER and
 * the generation stamp it carries. */
static int window_invalidates = -1, window_recovers = -1;
static void beat_in_window(void *arg) {
  (void)arg;
  struct cmds c;
  beat(&c);
  window_invalidates = window_recovers = 0;
  for (int i = 0; i < NDN; i++) {
    window_invalidates += (int)c.c[i].ninvalidate;
    window_recovers += (int)c.c[i].nrecover;
  }
  cmds_free(&c);
}

static void test_invalidate_after_durable(void) {
  open_ns();
  struct nn_blk b = write_file("/gone", 3);
  nn_ns_set_sync_hook(ns, beat_in_window, NULL);
  bool ok = false;
  CU_ASSERT_EQUAL(nn_ns_delete(ns, &caller, P("/gone"), false, &ok), 0);
  nn_ns_set_sync_hook(ns, NULL, NULL);
  CU_ASSERT(ok);
  CU_ASSERT_EQUAL(window_invalidates, 0); /* the hook ran, and sent nothing */
  /* durable now: the next heartbeats carry one INVALIDATE per replica */
  struct cmds c;
  beat(&c);
  int n = 0;
  for (int i = 0; i < NDN; i++)
    for (size_t j = 0; j < c.c[i].ninvalidate; j++) {
      CU_ASSERT_EQUAL(c.c[i].invalidate[3 * j], b.id);
      n++;
    }
  CU_ASSERT_EQUAL(n, 3);
  cmds_free(&c);
  /* and replicas the NameNode no longer wants, reported with no edit
   * behind them, leave as soon as everything logged is durable */
  struct nn_blk stray = {.id = b.id + 1000, .genstamp = 1, .num_bytes = 10};
  CU_ASSERT_EQUAL(nn_ns_block_received(ns, uuids[0], &stray, 2), 0);
  beat(&c);
  CU_ASSERT_EQUAL(c.c[0].ninvalidate, 1);
  cmds_free(&c);
  /* the same for a block recovery's RECOVER and its new generation stamp:
   * a crash before the stamp is durable could hand it out again */
  int nlocs = 0;
  open_file("/open", "client-W", 100, &nlocs);
  CU_ASSERT_EQUAL(nlocs, 3);
  nn_ns_set_sync_hook(ns, beat_in_window, NULL);
  bool closed = true;
  CU_ASSERT_EQUAL(nn_ns_recover_lease(ns, &caller, P("/open"), &closed), 0);
  nn_ns_set_sync_hook(ns, NULL, NULL);
  CU_ASSERT(!closed);
  CU_ASSERT_EQUAL(window_recovers, 0);
  beat(&c);
  int recovers = 0;
  for (int i = 0; i < NDN; i++) recovers += (int)c.c[i].nrecover;
  CU_ASSERT_EQUAL(recovers, 1);
  cmds_free(&c);
  close_ns();
}

int main(void) {
  CU_initialize_registry();
  CU_pSuite s = CU_add_suite("nn_replication", NULL, NULL);
  CU_add_test(s, "priority queue", test_queue);
  CU_add_test(s, "priority rules", test_priority);
  CU_add_test(s, "excess replica choice", test_choose_excess);
  CU_add_test(s, "re-replication targets", test_choose_more);
  CU_add_test(s, "dead node: TRANSFER from the survivor", test_dead_node_rereplication);
  CU_add_test(s, "pending timeout, stream limit", test_pending_timeout_and_stream_limit);
  CU_add_test(s, "over-replication and setReplication", test_over_replication_and_setrep);
  CU_add_test(s, "corrupt replicas and safe mode", test_corrupt_and_safe_mode);
  CU_add_test(s, "INVALIDATE and RECOVER leave once their edits are durable",
              test_invalidate_after_durable);
  CU_pSuite s2 = CU_add_suite("nn_lease", NULL, NULL);
  CU_add_test(s2, "soft limit: another client's create recovers", test_lease_soft_limit);
  CU_add_test(s2, "hard limit: the NameNode recovers", test_lease_hard_limit);
  CU_pSuite s3 = CU_add_suite("nn_decommission", NULL, NULL);
  CU_add_test(s3, "exclude file, refreshNodes, decommissioned, back", test_decommission);
  return tnn_run();
}
