/*
 * test_nn_placement.c - the default placement policy, rule by rule, over
 * many random trials on synthetic topologies (2 racks x 3 nodes, 1 rack,
 * 3 racks), and the reader-distance sort.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "placement.h"
#include "test_nn_util.h"

#define TRIALS 2000
#define BS (64ull << 20)

static struct nn_pnode nodes[16];
static char hosts[16][32];
static char racks[16][32];

/* n nodes spread over r racks: node i on rack i % r... grouped: rack = i / per */
static size_t topo(int nracks, int per_rack) {
  size_t n = 0;
  for (int r = 0; r < nracks; r++)
    for (int k = 0; k < per_rack; k++) {
      snprintf(hosts[n], sizeof hosts[n], "10.0.%d.%d", r, k + 1);
      snprintf(racks[n], sizeof racks[n], "/rack%d", r + 1);
      nodes[n].host = hosts[n];
      nodes[n].rack = racks[n];
      nodes[n].remaining = 10 * BS;
      nodes[n].alive = true;
      nodes[n].excluded = false;
      n++;
    }
  return n;
}

static bool distinct(const size_t *o, int k) {
  for (int i = 0; i < k; i++)
    for (int j = i + 1; j < k; j++)
      if (o[i] == o[j]) return false;
  return true;
}

static int per_rack_max(const size_t *o, int k) {
  int best = 0;
  for (int i = 0; i < k; i++) {
    int c = 0;
    for (int j = 0; j < k; j++)
      if (strcmp(nodes[o[i]].rack, nodes[o[j]].rack) == 0) c++;
    if (c > best) best = c;
  }
  return best;
}

static void test_writer_local_and_rules_2x3(void) {
  size_t n = topo(2, 3);
  uint64_t rng = 42;
  size_t out[NN_PLACEMENT_MAX];
  int first_counts[6] = {0};
  for (int t = 0; t < TRIALS; t++) {
    int k = nn_placement_choose(nodes, n, "10.0.0.2", 3, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    CU_ASSERT(distinct(out, k));
    CU_ASSERT_EQUAL(out[0], 1); /* the writer's node */
    CU_ASSERT(strcmp(nodes[out[1]].rack, nodes[out[0]].rack) != 0);
    CU_ASSERT(strcmp(nodes[out[2]].rack, nodes[out[1]].rack) == 0);
    CU_ASSERT(out[2] != out[1]);
    /* off-cluster writer: replica 1 random, spread over all nodes */
    k = nn_placement_choose(nodes, n, "192.168.1.1", 3, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    first_counts[out[0]]++;
    CU_ASSERT(strcmp(nodes[out[1]].rack, nodes[out[0]].rack) != 0);
    CU_ASSERT(strcmp(nodes[out[2]].rack, nodes[out[1]].rack) == 0);
  }
  for (int i = 0; i < 6; i++) CU_ASSERT(first_counts[i] > TRIALS / 6 / 2);
}

static void test_writer_ip_shared_by_two_datanodes(void) {
  size_t n = topo(2, 3);
  nodes[4].host = hosts[1]; /* nodes 1 and 4 share 10.0.0.2 */
  uint64_t rng = 7;
  size_t out[NN_PLACEMENT_MAX];
  int c1 = 0, c4 = 0;
  for (int t = 0; t < TRIALS; t++) {
    int k = nn_placement_choose(nodes, n, "10.0.0.2", 3, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    CU_ASSERT(out[0] == 1 || out[0] == 4);
    if (out[0] == 1) c1++;
    if (out[0] == 4) c4++;
  }
  CU_ASSERT(c1 > TRIALS / 4);
  CU_ASSERT(c4 > TRIALS / 4);
}

static void test_skips_dead_excluded_full(void) {
  size_t n = topo(2, 3);
  uint64_t rng = 9;
  size_t out[NN_PLACEMENT_MAX];
  nodes[1].alive = false;     /* the writer's node is dead */
  nodes[3].excluded = true;
  nodes[5].remaining = BS - 1; /* cannot hold a block */
  for (int t = 0; t < TRIALS; t++) {
    int k = nn_placement_choose(nodes, n, "10.0.0.2", 3, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    for (int i = 0; i < k; i++) CU_ASSERT(out[i] != 1 && out[i] != 3 && out[i] != 5);
    /* left: 0,2 on rack1, 4 on rack2: r1 random; r2 off r1's rack */
    CU_ASSERT(strcmp(nodes[out[1]].rack, nodes[out[0]].rack) != 0);
  }
}

static void test_one_rack(void) {
  size_t n = topo(1, 4);
  uint64_t rng = 11;
  size_t out[NN_PLACEMENT_MAX];
  for (int t = 0; t < TRIALS; t++) {
    int k = nn_placement_choose(nodes, n, "10.0.0.3", 3, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    CU_ASSERT(distinct(out, k));
    CU_ASSERT_EQUAL(out[0], 2);
  }
}

static void test_three_racks_and_many_replicas(void) {
  size_t n = topo(3, 3);
  uint64_t rng = 13;
  size_t out[NN_PLACEMENT_MAX];
  int spread3 = 0;
  for (int t = 0; t < TRIALS; t++) {
    int k = nn_placement_choose(nodes, n, "10.0.1.1", 3, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    CU_ASSERT_EQUAL(out[0], 3);
    CU_ASSERT(strcmp(nodes[out[1]].rack, nodes[out[0]].rack) != 0);
    CU_ASSERT(strcmp(nodes[out[2]].rack, nodes[out[1]].rack) == 0);
    /* 6 replicas over 3 racks: at most (6-1)/3 + 2 = 3 per rack */
    k = nn_placement_choose(nodes, n, NULL, 6, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 6);
    CU_ASSERT(distinct(out, k));
    CU_ASSERT(per_rack_max(out, k) <= 3);
    /* 9 replicas: every node once, 3 per rack */
    k = nn_placement_choose(nodes, n, NULL, 9, BS, &rng, out);
    CU_ASSERT_EQUAL(k, 9);
    CU_ASSERT(distinct(out, k));
    if (per_rack_max(out, k) == 3) spread3++;
  }
  CU_ASSERT_EQUAL(spread3, TRIALS);
  /* 2 racks x 3, 5 replicas: at most (5-1)/2 + 2 = 4 per rack */
  n = topo(2, 3);
  for (int t = 0; t < TRIALS; t++) {
    int k = nn_placement_choose(nodes, n, NULL, 5, BS, &rng, out);
    CU_ASSERT_EQUAL_FATAL(k, 5);
    CU_ASSERT(per_rack_max(out, k) <= 4);
  }
}

static void test_too_few_nodes(void) {
  size_t n = topo(2, 1); /* two nodes */
  uint64_t rng = 17;
  size_t out[NN_PLACEMENT_MAX];
  int k = nn_placement_choose(nodes, n, NULL, 3, BS, &rng, out);
  CU_ASSERT_EQUAL(k, 2);
  CU_ASSERT(distinct(out, k));
  nodes[0].alive = false;
  k = nn_placement_choose(nodes, n, NULL, 3, BS, &rng, out);
  CU_ASSERT_EQUAL(k, 1);
  CU_ASSERT_EQUAL(out[0], 1);
  nodes[1].remaining = 0;
  k = nn_placement_choose(nodes, n, NULL, 3, BS, &rng, out);
  CU_ASSERT_EQUAL(k, 0);
  k = nn_placement_choose(nodes, 0, NULL, 3, BS, &rng, out);
  CU_ASSERT_EQUAL(k, 0);
}

static void test_sort_by_distance(void) {
  topo(2, 3);
  uint64_t rng = 19;
  int first_other = 0;
  for (int t = 0; t < TRIALS; t++) {
    size_t locs[3] = {4, 1, 2}; /* rack2, rack1, rack1 */
    nn_placement_sort(nodes, locs, 3, "10.0.0.3", "/rack1", &rng);
    CU_ASSERT_EQUAL(locs[0], 2); /* same host */
    CU_ASSERT_EQUAL(locs[1], 1); /* same rack */
    CU_ASSERT_EQUAL(locs[2], 4);
    size_t l2[3] = {0, 1, 4};   /* reader off-cluster on rack1: ties shuffled */
    nn_placement_sort(nodes, l2, 3, "1.2.3.4", "/rack1", &rng);
    CU_ASSERT(l2[2] == 4);
    if (l2[0] == 1) first_other++;
  }
  CU_ASSERT(first_other > TRIALS / 4 && first_other < 3 * TRIALS / 4);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("nn_placement", NULL, NULL);
  CU_add_test(s, "writer local, rack rules (2x3)", test_writer_local_and_rules_2x3);
  CU_add_test(s, "writer IP shared by two datanodes", test_writer_ip_shared_by_two_datanodes);
  CU_add_test(s, "skips dead, excluded, full nodes", test_skips_dead_excluded_full);
  CU_add_test(s, "one rack", test_one_rack);
  CU_add_test(s, "three racks, max per rack", test_three_racks_and_many_replicas);
  CU_add_test(s, "too few nodes", test_too_few_nodes);
  CU_add_test(s, "sort by distance", test_sort_by_distance);
  return tnn_run();
}
