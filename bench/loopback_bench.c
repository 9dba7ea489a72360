/*
 * loopback_bench.c - the machine's loopback TCP bandwidth: one TCP stream
 * over 127.0.0.1, a sender writing SIZE bytes (default 4 GiB) in BUF-sized
 * writes (default 1 MiB) and a receiver reading into a BUF-sized buffer.
 *
 * This is the ceiling for anything the DFS moves between processes on this
 * host (a replication-3 write crosses loopback three times, a read once), so
 * docs/benchmarks.md divides dfsio's figures by it. Sender and receiver are
 * two threads of this process: what is measured is the kernel's copy in and
 * copy out, the same work the daemons pay. Nothing touches the data in user
 * space, which makes this an upper bound for a checksumming receiver.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "bench_util.h"

struct receiver {
  int listen_fd;
  size_t buf_size;
  uint64_t received;
  int err;
};

static void *receiver_main(void *arg) {
  struct receiver *r = arg;
  int fd = accept(r->listen_fd, NULL, NULL);
  if (fd < 0) {
    r->err = errno;
    return NULL;
  }
  char *buf = malloc(r->buf_size);
  if (!buf) {
    r->err = ENOMEM;
    close(fd);
    return NULL;
  }
  for (;;) {
    ssize_t n = read(fd, buf, r->buf_size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r->err = errno;
      break;
    }
    if (n == 0) break;
    r->received += (uint64_t)n;
  }
  free(buf);
  close(fd);
  return NULL;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: loopback_bench [-s SIZE] [-b BUF]\n"
          "One TCP stream over 127.0.0.1: a sender thread writes SIZE bytes (default 4g)\n"
          "in BUF writes (default 1m), a receiver thread reads them. Prints\n"
          "  bench=loopback bytes=.. seconds=.. GBps=.. MiBps=.. cpu_s=..\n");
}

int main(int argc, char **argv) {
  uint64_t size = 4ull << 30, bufsz = 1 << 20;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      if (bench_parse_size(argv[++i], &size) || size == 0) goto bad;
    } else if (!strcmp(argv[i], "-b") && i + 1 < argc) {
      if (bench_parse_size(argv[++i], &bufsz) || bufsz == 0 || bufsz > (1u << 30)) goto bad;
    } else {
      goto bad;
    }
  }
  signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t slen = sizeof sa;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
      getsockname(lfd, (struct sockaddr *)&sa, &slen) != 0) {
    fprintf(stderr, "loopback_bench: listen: %s\n", strerror(errno));
    return 1;
  }
  struct receiver r = {.listen_fd = lfd, .buf_size = bufsz};
  pthread_t th;
  if (pthread_create(&th, NULL, receiver_main, &r) != 0) {
    fprintf(stderr, "loopback_bench: pthread_create failed\n");
    return 1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    fprintf(stderr, "loopback_bench: connect: %s\n", strerror(errno));
    return 1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char *buf = malloc(bufsz);
  if (!buf) return 1;
  bench_fill_random(buf, bufsz, 42);

  struct bench_cpu_snap c0, c1;
  bench_cpu_take(&c0, NULL, 0);
  double t0 = bench_now();
  uint64_t sent = 0;
  while (sent < size) {
    size_t want = size - sent < bufsz ? (size_t)(size - sent) : (size_t)bufsz;
    ssize_t n = write(fd, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "loopback_bench: write: %s\n", strerror(errno));
      return 1;
    }
    sent += (uint64_t)n;
  }
  close(fd);
  pthread_join(th, NULL);
  double secs = bench_now() - t0;
  bench_cpu_take(&c1, NULL, 0);
  struct bench_cpu_delta d;
  bench_cpu_diff(&c0, &c1, NULL, 0, &d);
  close(lfd);
  free(buf);
  if (r.err || r.received != size) {
    fprintf(stderr, "loopback_bench: receiver got %llu of %llu bytes: %s\n",
            (unsigned long long)r.received, (unsigned long long)size, strerror(r.err));
    return 1;
  }
  printf("bench=loopback bytes=%llu bufsize=%llu seconds=%.3f GBps=%.3f MiBps=%.1f "
         "cpu_s=%.2f cpu_s_per_gib=%.3f\n",
         (unsigned long long)size, (unsigned long long)bufsz, secs, (double)size / secs / 1e9,
         (double)size / secs / 1048576.0, d.total, d.total / ((double)size / 1073741824.0));
  printf("# loopback TCP, one stream, %llu MiB in %llu KiB writes: %.2f GB/s "
         "(%.0f MiB/s), %.2f CPU s/GiB (sender+receiver)\n",
         (unsigned long long)(size >> 20), (unsigned long long)(bufsz >> 10),
         (double)size / secs / 1e9, (double)size / secs / 1048576.0,
         d.total / ((double)size / 1073741824.0));
  return 0;
bad:
  usage(stderr);
  return 2;
}
