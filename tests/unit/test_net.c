/*
 * test_net.c - TCP helpers (net.h): address parsing, listen on port 0,
 * connect (refused, with a message naming the address), full reads and
 * writes with deadlines, EOF and closed-peer handling without SIGPIPE.
 */
#include <CUnit/Basic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "net.h"

static void test_addr_split(void) {
  char host[64];
  int port = -1;
  CU_ASSERT_EQUAL(dfs_addr_split("127.0.0.1:8020", host, sizeof host, &port), 0);
  CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
  CU_ASSERT_EQUAL(port, 8020);
  CU_ASSERT_EQUAL(dfs_addr_split("localhost:0", host, sizeof host, &port), 0);
  CU_ASSERT_STRING_EQUAL(host, "localhost");
  CU_ASSERT_EQUAL(port, 0);
  CU_ASSERT_EQUAL(dfs_addr_split("[::1]:9866", host, sizeof host, &port), 0);
  CU_ASSERT_STRING_EQUAL(host, "::1");
  CU_ASSERT_EQUAL(port, 9866);
  static const char *bad[] = {"", "host", "host:", ":80", "h:65536", "h:-1", "h:12x",
                              "[::1]", "[::1]80", "h:99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_EQUAL(dfs_addr_split(bad[i], host, sizeof host, &port), DFS_EINVAL);
  }
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "not a host:port address"));
  /* Host longer than the buffer. */
  CU_ASSERT_EQUAL(dfs_addr_split("abcdefghij:1", host, 5, &port), DFS_EINVAL);
}

static void test_clocks(void) {
  int64_t a = dfs_now_ms();
  int64_t b = dfs_now_ms();
  CU_ASSERT(b >= a);
  /* The same clock in nanoseconds: monotonic, and in step with the ms one. */
  int64_t n1 = dfs_now_ns(), n2 = dfs_now_ns(), m = dfs_now_ms();
  CU_ASSERT(n2 >= n1);
  CU_ASSERT(n2 / 1000000 >= b && n2 / 1000000 <= m);
  CU_ASSERT(dfs_wall_ms() > 1600000000000LL); /* after 2020 */
}

/* Listen on port 0, connect, accept: a connected pair. */
static int pair(int *cfd, int *sfd, int *lfd_out) {
  int port = 0;
  int lfd = dfs_tcp_listen("127.0.0.1:0", 8, &port);
  if (lfd < 0 || port <= 0) return -1;
  char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", port);
  *cfd = dfs_tcp_connect(a, 2000);
  if (*cfd < 0) return -1;
  *sfd = accept(lfd, NULL, NULL);
  if (lfd_out) *lfd_out = lfd;
  else close(lfd);
  return *sfd < 0 ? -1 : 0;
}

static void test_listen_connect(void) {
  int c = -1, s = -1, l = -1;
  CU_ASSERT_FATAL(pair(&c, &s, &l) == 0);
  int one = 0;
  socklen_t ol = sizeof one;
  CU_ASSERT_EQUAL(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, &ol), 0);
  CU_ASSERT(one != 0);
  char peer[64], local[64];
  dfs_sock_peer(s, peer, sizeof peer);
  dfs_sock_local(c, local, sizeof local);
  CU_ASSERT_STRING_EQUAL(peer, local);
  CU_ASSERT(strncmp(peer, "127.0.0.1:", 10) == 0);
  /* A second listener on the same bound port fails with a message. */
  char a[64];
  dfs_sock_local(l, a, sizeof a);
  int port2 = 0;
  int l2 = dfs_tcp_listen(a, 8, &port2);
  CU_ASSERT(l2 < 0);
  if (l2 >= 0) close(l2);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "cannot listen"));
  close(c);
  close(s);
  close(l);
  /* SO_REUSEADDR: the same port can be listened on again right away even
   * with a connection in TIME_WAIT. */
  int l3 = dfs_tcp_listen(a, 8, &port2);
  CU_ASSERT(l3 >= 0);
  if (l3 >= 0) close(l3);
}

static void test_connect_refused(void) {
  int port = 0;
  int l = dfs_tcp_listen("127.0.0.1:0", 1, &port);
  CU_ASSERT_FATAL(l >= 0);
  close(l);
  char a[64], want[96];
  snprintf(a, sizeof a, "127.0.0.1:%d", port);
  CU_ASSERT_EQUAL(dfs_tcp_connect(a, 2000), DFS_ECONNREFUSED);
  snprintf(want, sizeof want, "%s: Connection refused", a);
  CU_ASSERT_STRING_EQUAL(dfs_err_msg(), want);
  CU_ASSERT_EQUAL(dfs_tcp_connect("nonsense", 2000), DFS_EINVAL);
}

static void test_read_deadline(void) {
  int c = -1, s = -1;
  CU_ASSERT_FATAL(pair(&c, &s, NULL) == 0);
  char buf[16];
  int64_t t0 = dfs_now_ms();
  CU_ASSERT_EQUAL(dfs_read_full(c, buf, sizeof buf, dfs_now_ms() + 200), DFS_ETIMEDOUT);
  int64_t dt = dfs_now_ms() - t0;
  CU_ASSERT(dt >= 190 && dt < 1000);
  /* Part of the data, then the deadline: the message says how much came. */
  CU_ASSERT_EQUAL(dfs_write_full(s, "abc", 3, 0), 0);
  CU_ASSERT_EQUAL(dfs_read_full(c, buf, sizeof buf, dfs_now_ms() + 100), DFS_ETIMEDOUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "3 of 16"));
  /* Whole data: fine, with or without a deadline. */
  CU_ASSERT_EQUAL(dfs_write_full(s, "0123456789", 10, dfs_now_ms() + 1000), 0);
  CU_ASSERT_EQUAL(dfs_read_full(c, buf, 10, dfs_now_ms() + 1000), 0);
  CU_ASSERT(memcmp(buf, "0123456789", 10) == 0);
  CU_ASSERT_EQUAL(dfs_write_full(s, "xy", 2, 0), 0);
  CU_ASSERT_EQUAL(dfs_read_full(c, buf, 2, 0), 0);
  CU_ASSERT(memcmp(buf, "xy", 2) == 0);
  /* EOF: DFS_ECONNRESET with the count. */
  CU_ASSERT_EQUAL(dfs_write_full(s, "z", 1, 0), 0);
  close(s);
  CU_ASSERT_EQUAL(dfs_read_full(c, buf, 4, dfs_now_ms() + 1000), DFS_ECONNRESET);
  CU_ASSERT_PTR_NOT_NULL(strstr(dfs_err_msg(), "after 1 of 4 bytes"));
  close(c);
}

static void test_write_closed_peer(void) {
  int c = -1, s = -1;
  CU_ASSERT_FATAL(pair(&c, &s, NULL) == 0);
  close(s);
  /* Keep writing until the kernel notices: an error, never SIGPIPE. */
  static char big[1 << 16];
  int rc = 0;
  for (int i = 0; i < 1000 && rc == 0; i++) rc = dfs_write_full(c, big, sizeof big, dfs_now_ms() + 2000);
  CU_ASSERT(rc == DFS_ECONNRESET || rc == -EPIPE);
  struct iovec iov[2] = {{big, 10}, {big, 10}};
  rc = dfs_writev_full(c, iov, 2, 0);
  CU_ASSERT(rc == DFS_ECONNRESET || rc == -EPIPE);
  close(c);
}

static void test_write_deadline(void) {
  int c = -1, s = -1;
  CU_ASSERT_FATAL(pair(&c, &s, NULL) == 0);
  dfs_sock_set_buffers(c, 16384);
  /* Nobody reads s: the write blocks and gives up at the deadline. */
  static char big[8 << 20];
  int64_t t0 = dfs_now_ms();
  CU_ASSERT_EQUAL(dfs_write_full(c, big, sizeof big, dfs_now_ms() + 300), DFS_ETIMEDOUT);
  int64_t dt = dfs_now_ms() - t0;
  CU_ASSERT(dt >= 290 && dt < 1500);
  close(c);
  close(s);
}

struct reader {
  int fd;
  size_t len;
  uint64_t sum;
  int rc;
};

static void *reader_main(void *arg) {
  struct reader *r = arg;
  uint8_t *buf = malloc(r->len);
  r->rc = dfs_read_full(r->fd, buf, r->len, dfs_now_ms() + 10000);
  for (size_t i = 0; i < r->len; i++) r->sum += buf[i] * (i % 251 + 1);
  free(buf);
  return NULL;
}

static void test_writev_large(void) {
  int c = -1, s = -1;
  CU_ASSERT_FATAL(pair(&c, &s, NULL) == 0);
  /* Many iovecs of odd sizes, more than the socket buffer: partial writes
   * must advance the iovec correctly. */
  enum { N = 64 };
  static uint8_t data[N * 70001];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 31 + 7);
  struct iovec iov[N];
  size_t off = 0;
  for (int i = 0; i < N; i++) {
    size_t len = (size_t)(i * 2187) % 70001 + 1;
    iov[i].iov_base = data + off;
    iov[i].iov_len = len;
    off += len;
  }
  uint64_t want = 0;
  for (size_t i = 0; i < off; i++) want += data[i] * (i % 251 + 1);
  struct reader r = {s, off, 0, -1};
  pthread_t th;
  pthread_create(&th, NULL, reader_main, &r);
  CU_ASSERT_EQUAL(dfs_writev_full(c, iov, N, dfs_now_ms() + 10000), 0);
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL(r.rc, 0);
  CU_ASSERT_EQUAL(r.sum, want);
  close(c);
  close(s);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("net", NULL, NULL);
  CU_add_test(s, "addr split", test_addr_split);
  CU_add_test(s, "clocks", test_clocks);
  CU_add_test(s, "listen and connect", test_listen_connect);
  CU_add_test(s, "connect refused", test_connect_refused);
  CU_add_test(s, "read deadline and EOF", test_read_deadline);
  CU_add_test(s, "write to a closed peer", test_write_closed_peer);
  CU_add_test(s, "write deadline", test_write_deadline);
  CU_add_test(s, "writev large", test_writev_large);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  return fails ? 1 : 0;
}
