/*
 * test_packet.c - packet headers and pipeline acks: round trips, the exact
 * wire layout, every invalid field rejected with the right code, truncation.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <string.h>

#include "errors.h"
#include "packet.h"

static void test_hdr_roundtrip(void) {
  struct dfs_packet_hdr cases[] = {
      {0, 0, 65536, 0},
      {512 * 1000, 7, 100, DFS_PKT_SYNC},
      {1024, 99, 0, DFS_PKT_LAST},
      {(int64_t)1 << 40, INT64_MAX, DFS_PACKET_MAX_DATA, DFS_PKT_LAST | DFS_PKT_SYNC},
      {0, -1, 0, 0}, /* heartbeat */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t b[DFS_PACKET_HDR_LEN];
    struct dfs_packet_hdr h;
    memset(&h, 0x5a, sizeof h);
    dfs_packet_hdr_encode(&cases[i], b);
    CU_ASSERT_EQUAL(dfs_packet_hdr_decode(b, sizeof b, DFS_PACKET_MAX_DATA, &h), 0);
    CU_ASSERT_EQUAL(h.offset, cases[i].offset);
    CU_ASSERT_EQUAL(h.seqno, cases[i].seqno);
    CU_ASSERT_EQUAL(h.data_len, cases[i].data_len);
    CU_ASSERT_EQUAL(h.flags, cases[i].flags);
  }
}

static void test_hdr_layout(void) {
  struct dfs_packet_hdr h = {0x0102030405060600LL, 0x1112131415161718LL, 1000, DFS_PKT_LAST};
  uint8_t b[DFS_PACKET_HDR_LEN];
  dfs_packet_hdr_encode(&h, b);
  /* payload = 2 checksums (8 bytes) + 1000 data bytes = 0x3f0 */
  const uint8_t want[DFS_PACKET_HDR_LEN] = {
      0, 0, 0x03, 0xf0, 1, 2, 3, 4, 5, 6, 6, 0, 0x11, 0x12, 0x13, 0x14,
      0x15, 0x16, 0x17, 0x18, 0, 0, 0x03, 0xe8, 1, 0, 0, 0};
  CU_ASSERT_EQUAL(memcmp(b, want, sizeof want), 0);
  CU_ASSERT_EQUAL(dfs_packet_sums_len(0), 0);
  CU_ASSERT_EQUAL(dfs_packet_sums_len(1), 4);
  CU_ASSERT_EQUAL(dfs_packet_sums_len(512), 4);
  CU_ASSERT_EQUAL(dfs_packet_sums_len(513), 8);
  CU_ASSERT_EQUAL(dfs_packet_sums_len(65536), 512);
}

/* Encode a valid header, apply a mutation, expect `code`. */
static void expect_bad(void (*mut)(uint8_t *), uint32_t max, int code) {
  struct dfs_packet_hdr h = {4096, 3, 1000, 0}, o;
  uint8_t b[DFS_PACKET_HDR_LEN];
  dfs_packet_hdr_encode(&h, b);
  mut(b);
  int rc = dfs_packet_hdr_decode(b, sizeof b, max, &o);
  CU_ASSERT_EQUAL(rc, code);
  if (rc != code) fprintf(stderr, "got %s: %s\n", dfs_errname(rc), dfs_err_msg());
  CU_ASSERT(strlen(dfs_err_msg()) > 0);
}
static void m_none(uint8_t *b) { (void)b; }
static void m_payload(uint8_t *b) { b[3] ^= 1; }
static void m_offset_neg(uint8_t *b) { b[4] = 0x80; }
static void m_offset_unaligned(uint8_t *b) { b[11] = 1; }
static void m_seqno(uint8_t *b) { memset(b + 12, 0xff, 7); b[19] = 0xfe; } /* -2 */
static void m_hb_data(uint8_t *b) { memset(b + 12, 0xff, 8); }             /* -1 with data */
static void m_flags(uint8_t *b) { b[24] = 8; } /* no such flag */
static void m_reserved1(uint8_t *b) { b[25] = 1; }
static void m_reserved3(uint8_t *b) { b[27] = 0x80; }
static void m_huge(uint8_t *b) { b[20] = 0xff; b[0] = 0xff; }

static void test_hdr_invalid(void) {
  expect_bad(m_none, 999, DFS_ETOOBIG); /* 1000 bytes over a 999 limit */
  expect_bad(m_payload, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_offset_neg, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_offset_unaligned, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_seqno, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_hb_data, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_flags, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_reserved1, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_reserved3, DFS_PACKET_MAX_DATA, DFS_EPROTO);
  expect_bad(m_huge, UINT32_MAX, DFS_ETOOBIG); /* the hard cap applies */

  /* Heartbeat with a flag is refused. */
  struct dfs_packet_hdr hb = {0, -1, 0, DFS_PKT_LAST}, o;
  uint8_t b[DFS_PACKET_HDR_LEN];
  dfs_packet_hdr_encode(&hb, b);
  CU_ASSERT_EQUAL(dfs_packet_hdr_decode(b, sizeof b, DFS_PACKET_MAX_DATA, &o), DFS_EPROTO);
}

static void test_hdr_truncated(void) {
  struct dfs_packet_hdr h = {0, 0, 10, 0}, o;
  uint8_t b[DFS_PACKET_HDR_LEN];
  dfs_packet_hdr_encode(&h, b);
  for (size_t n = 0; n < DFS_PACKET_HDR_LEN; n++)
    CU_ASSERT_EQUAL(dfs_packet_hdr_decode(b, n, DFS_PACKET_MAX_DATA, &o), DFS_EPROTO);
  CU_ASSERT_EQUAL(dfs_packet_hdr_decode(b, sizeof b, DFS_PACKET_MAX_DATA, &o), 0);
}

static void test_ack_roundtrip(void) {
  struct dfs_ack a = {12345, 3, {0, DFS_ECHECKSUM, DFS_EIO}}, o;
  uint8_t b[DFS_ACK_MAX_LEN];
  size_t n = dfs_ack_encode(&a, b);
  CU_ASSERT_EQUAL(n, 24u);
  CU_ASSERT_EQUAL(dfs_ack_len(3), 24u);
  memset(&o, 0, sizeof o);
  CU_ASSERT_EQUAL(dfs_ack_decode(b, n, &o), 0);
  CU_ASSERT_EQUAL(o.seqno, 12345);
  CU_ASSERT_EQUAL(o.n, 3);
  CU_ASSERT_EQUAL(o.status[0], 0);
  CU_ASSERT_EQUAL(o.status[1], DFS_ECHECKSUM);
  CU_ASSERT_EQUAL(o.status[2], DFS_EIO);
  /* Layout: seqno BE, n, reserved, statuses BE. */
  CU_ASSERT_EQUAL(b[6], 0x30);
  CU_ASSERT_EQUAL(b[7], 0x39);
  CU_ASSERT_EQUAL(b[8], 3);
  CU_ASSERT_EQUAL(b[16], 0xff); /* -1005 */
  CU_ASSERT_EQUAL(b[19], (uint8_t)(-1005 & 0xff));

  /* Head only, then whole; heartbeat ack; a full pipeline. */
  struct dfs_ack h;
  CU_ASSERT_EQUAL(dfs_ack_decode_head(b, 12, &h), 0);
  CU_ASSERT_EQUAL(h.n, 3);
  struct dfs_ack hb = {-1, 1, {0}};
  n = dfs_ack_encode(&hb, b);
  CU_ASSERT_EQUAL(dfs_ack_decode(b, n, &o), 0);
  CU_ASSERT_EQUAL(o.seqno, -1);
  struct dfs_ack full = {1, DFS_MAX_PIPELINE, {0}};
  for (int i = 0; i < DFS_MAX_PIPELINE; i++) full.status[i] = -i;
  n = dfs_ack_encode(&full, b);
  CU_ASSERT_EQUAL(n, (size_t)DFS_ACK_MAX_LEN);
  CU_ASSERT_EQUAL(dfs_ack_decode(b, n, &o), 0);
  CU_ASSERT_EQUAL(o.status[DFS_MAX_PIPELINE - 1], -(DFS_MAX_PIPELINE - 1));
}

static void test_ack_invalid(void) {
  struct dfs_ack a = {5, 2, {0, 0}}, o;
  uint8_t b[DFS_ACK_MAX_LEN];
  size_t n = dfs_ack_encode(&a, b);
  for (size_t k = 0; k < n; k++) CU_ASSERT_EQUAL(dfs_ack_decode(b, k, &o), DFS_EPROTO);
  CU_ASSERT_EQUAL(dfs_ack_decode(b, n, &o), 0);

  uint8_t c[DFS_ACK_MAX_LEN + 4];
  memcpy(c, b, n);
  c[8] = 0; /* n = 0 */
  CU_ASSERT_EQUAL(dfs_ack_decode(c, n, &o), DFS_EPROTO);
  memcpy(c, b, n);
  c[8] = DFS_MAX_PIPELINE + 1;
  CU_ASSERT_EQUAL(dfs_ack_decode_head(c, sizeof c, &o), DFS_EPROTO);
  memcpy(c, b, n);
  c[10] = 1; /* reserved */
  CU_ASSERT_EQUAL(dfs_ack_decode(c, n, &o), DFS_EPROTO);
  memcpy(c, b, n);
  memset(c, 0xff, 8);
  c[7] = 0xfe; /* seqno -2 */
  CU_ASSERT_EQUAL(dfs_ack_decode(c, n, &o), DFS_EPROTO);
  memcpy(c, b, n);
  c[0] = 0x80; /* very negative seqno */
  CU_ASSERT_EQUAL(dfs_ack_decode(c, n, &o), DFS_EPROTO);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("packet", NULL, NULL);
  CU_add_test(s, "hdr_roundtrip", test_hdr_roundtrip);
  CU_add_test(s, "hdr_layout", test_hdr_layout);
  CU_add_test(s, "hdr_invalid", test_hdr_invalid);
  CU_add_test(s, "hdr_truncated", test_hdr_truncated);
  CU_add_test(s, "ack_roundtrip", test_ack_roundtrip);
  CU_add_test(s, "ack_invalid", test_ack_invalid);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures ? 1 : 0;
}
