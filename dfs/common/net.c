/*
 * net.c - TCP with deadlines. Sockets stay blocking; every wait is a poll()
 * on the time left, so no call can hang past its deadline.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"

int64_t dfs_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dfs_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t dfs_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dfs_addr_split(const char *addr, char *host, size_t hostcap, int *port) {
  const char *colon;
  const char *hs = addr;
  size_t hl;
  if (addr[0] == '[') {
    const char *rb = strchr(addr, ']');
    if (!rb || rb[1] != ':') goto bad;
    hs = addr + 1;
    hl = (size_t)(rb - hs);
    colon = rb + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon) goto bad;
    hl = (size_t)(colon - addr);
  }
  if (hl == 0 || hl >= hostcap) goto bad;
  char *end;
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || errno || p < 0 || p > 65535) goto bad;
  memcpy(host, hs, hl);
  host[hl] = '\0';
  *port = (int)p;
  return 0;
bad:
  return dfs_err_set(DFS_EINVAL, "%s: not a host:port address", addr);
}

static int resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *sl) {
  char host[256];
  int port = 0; /* set on success; gcc -O3 cannot see that */
  int rc = dfs_addr_split(addr, host, sizeof host, &port);
  if (rc) return rc;
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  int g = getaddrinfo(host, ps, &hints, &res);
  if (g != 0 || !res)
    return dfs_err_set(DFS_EINVAL, "%s: cannot resolve host: %s", addr, gai_strerror(g));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *sl = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

int dfs_tcp_listen(const char *addr, int backlog, int *bound_port) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int rc = resolve(addr, &ss, &sl);
  if (rc) return rc;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return dfs_err_set(-errno, "%s: socket: %s", addr, strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return dfs_err_set(-e, "%s: cannot listen: %s", addr, strerror(e));
  }
  if (bound_port) {
    struct sockaddr_storage b;
    socklen_t bl = sizeof b;
    getsockname(fd, (struct sockaddr *)&b, &bl);
    *bound_port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                                : ((struct sockaddr_in *)&b)->sin_port);
  }
  return fd;
}

static int wait_fd(int fd, short ev, int64_t deadline_ms) {
  for (;;) {
    int t = -1;
    if (deadline_ms > 0) {
      int64_t left = deadline_ms - dfs_now_ms();
      if (left <= 0) return DFS_ETIMEDOUT;
      t = left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    struct pollfd p = {.fd = fd, .events = ev};
    int r = poll(&p, 1, t);
    if (r > 0) return 0;
    if (r == 0) return DFS_ETIMEDOUT;
    if (errno != EINTR) return -errno;
  }
}

int dfs_tcp_connect(const char *addr, int timeout_ms) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int rc = resolve(addr, &ss, &sl);
  if (rc) return rc;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return dfs_err_set(-errno, "%s: socket: %s", addr, strerror(errno));
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
    if (errno != EINPROGRESS) {
      int e = errno;
      close(fd);
      return dfs_err_set(-e, "%s: %s", addr, strerror(e));
    }
    rc = wait_fd(fd, POLLOUT, timeout_ms > 0 ? dfs_now_ms() + timeout_ms : 0);
    if (rc) {
      close(fd);
      return dfs_err_set(rc, "%s: connect: %s", addr, dfs_strerror(rc));
    }
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      close(fd);
      return dfs_err_set(-err, "%s: %s", addr, strerror(err));
    }
  }
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int dfs_read_full(int fd, void *buf, size_t len, int64_t deadline_ms) {
  uint8_t *p = buf;
  size_t got = 0;
  while (got < len) {
    ssize_t r = recv(fd, p + got, len - got, deadline_ms > 0 ? MSG_DONTWAIT : 0);
    if (r > 0) {
      got += (size_t)r;
      continue;
    }
    if (r == 0)
      return dfs_err_set(DFS_ECONNRESET, "connection closed by peer after %zu of %zu bytes",
                         got, len);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int rc = wait_fd(fd, POLLIN, deadline_ms);
      if (rc) return dfs_err_set(rc, "read: %s after %zu of %zu bytes", dfs_strerror(rc), got, len);
      continue;
    }
    return dfs_err_set(-errno, "read: %s", strerror(errno));
  }
  return 0;
}

int dfs_write_full(int fd, const void *buf, size_t len, int64_t deadline_ms) {
  const uint8_t *p = buf;
  size_t put = 0;
  while (put < len) {
    ssize_t w = send(fd, p + put, len - put,
                     MSG_NOSIGNAL | (deadline_ms > 0 ? MSG_DONTWAIT : 0));
    if (w >= 0) {
      put += (size_t)w;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int rc = wait_fd(fd, POLLOUT, deadline_ms);
      if (rc) return dfs_err_set(rc, "write: %s", dfs_strerror(rc));
      continue;
    }
    int e = errno == EPIPE ? ECONNRESET : errno;
    return dfs_err_set(-e, "write: %s", strerror(e));
  }
  return 0;
}

int dfs_writev_full(int fd, struct iovec *iov, int iovcnt, int64_t deadline_ms) {
  while (iovcnt > 0) {
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | (deadline_ms > 0 ? MSG_DONTWAIT : 0));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int rc = wait_fd(fd, POLLOUT, deadline_ms);
        if (rc) return dfs_err_set(rc, "write: %s", dfs_strerror(rc));
        continue;
      }
      int e = errno == EPIPE ? ECONNRESET : errno;
      return dfs_err_set(-e, "write: %s", strerror(e));
    }
    size_t n = (size_t)w;
    while (iovcnt > 0 && n >= iov->iov_len) {
      n -= iov->iov_len;
      iov++;
      iovcnt--;
    }
    if (iovcnt > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + n;
      iov->iov_len -= n;
    }
  }
  return 0;
}

static void fmt_sa(const struct sockaddr_storage *ss, char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
    port = ntohs(s->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
    port = ntohs(s->sin6_port);
  }
  snprintf(buf, cap, "%s:%d", ip, port);
}

void dfs_sock_peer(int fd, char *buf, size_t cap) {
  struct sockaddr_storage ss = {0};
  socklen_t sl = sizeof ss;
  getpeername(fd, (struct sockaddr *)&ss, &sl);
  fmt_sa(&ss, buf, cap);
}

void dfs_sock_local(int fd, char *buf, size_t cap) {
  struct sockaddr_storage ss = {0};
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  fmt_sa(&ss, buf, cap);
}

void dfs_sock_set_buffers(int fd, int bytes) {
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}
