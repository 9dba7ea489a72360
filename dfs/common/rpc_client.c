/*
 * rpc_client.c - the client side of the RPC framework: a thread-safe pool of
 * idle connections per address. A call borrows one connection for its whole
 * duration (no multiplexing), so a client's concurrency is its calls in
 * flight and a slow call never delays another.
 *
 * A connection is in step only after the whole reply to its last call was
 * read (conn_call() keeps dfs_conn.broken up to date); any transport error,
 * timeout or malformed reply marks it broken and dfs_rpc_client_give()
 * closes it instead of pooling it. Error replies keep it in step.
 *
 * A pooled connection may have been closed by the server while idle (idle
 * timeout, restart). When the send or the wait for the reply's first byte
 * fails with EOF/reset on a reused connection, the call is retried once on
 * a fresh connection (never another pooled one: they are likely as stale).
 * The server serves one call at a time and answers it before reading the
 * next, so a connection closed while idle never ran our call. Caveat: if
 * the server read the request and then died before replying, the retry
 * runs the call a second time (docs/protocol.md).
 *
 * Per call: one sendmsg() of header+body and one blocking recv() of the
 * reply in the common case (the deadline is the socket's SO_RCVTIMEO,
 * recv_some), buffers kept on the connection (no malloc besides protobuf's
 * unpack).
 *
 * Lock order: client.mu only, never held during I/O.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dfs_methods.h"
#include "errors.h"
#include "net.h"
#include "rpc.h"

struct dfs_conn {
  int fd;
  char addr[128];
  uint64_t next_call_id;
  int reused; /* came from the pool */
  int broken; /* out of step or closed: never reuse (set by conn_call) */
  uint8_t *buf;
  size_t cap;
  uint32_t max_body;
  int64_t rcvtimeo_ms;   /* SO_RCVTIMEO set on fd; 0: none */
  struct dfs_conn *next; /* in the pool */
};

struct pool {
  char addr[128];
  struct dfs_conn *idle;
  int n;
  struct pool *next;
};

struct dfs_rpc_client {
  struct dfs_rpc_client_opts o;
  char *user;
  char *client_name;
  pthread_mutex_t mu; /* guards pools */
  struct pool *pools;
};

int dfs_rpc_client_create(const struct dfs_rpc_client_opts *opts, dfs_rpc_client **out) {
  dfs_rpc_client *c = calloc(1, sizeof *c);
  if (!c) return dfs_err_set(DFS_ENOMEM, "out of memory");
  c->o = *opts;
  c->user = strdup(opts->user ? opts->user : "");
  c->client_name = opts->client_name ? strdup(opts->client_name) : NULL;
  c->o.user = c->user;
  c->o.client_name = c->client_name;
  if (c->o.timeout_ms <= 0) c->o.timeout_ms = 60000;
  if (c->o.max_body == 0) c->o.max_body = 64u << 20;
  if (c->o.max_idle_per_addr <= 0) c->o.max_idle_per_addr = 16;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

static void conn_free(struct dfs_conn *k) {
  if (!k) return;
  if (k->fd >= 0) close(k->fd);
  free(k->buf);
  free(k);
}

void dfs_rpc_client_destroy(dfs_rpc_client *c) {
  if (!c) return;
  for (struct pool *p = c->pools; p;) {
    struct pool *pn = p->next;
    for (struct dfs_conn *k = p->idle; k;) {
      struct dfs_conn *kn = k->next;
      conn_free(k);
      k = kn;
    }
    free(p);
    p = pn;
  }
  pthread_mutex_destroy(&c->mu);
  free(c->user);
  free(c->client_name);
  free(c);
}

int dfs_conn_fd(const dfs_conn *k) { return k->fd; }
const char *dfs_conn_addr(const dfs_conn *k) { return k->addr; }

static int ensure(struct dfs_conn *k, size_t need) {
  if (k->cap >= need) return 0;
  size_t n = k->cap ? k->cap : 4096;
  while (n < need) n *= 2;
  uint8_t *b = realloc(k->buf, n);
  if (!b) return DFS_ENOMEM;
  k->buf = b;
  k->cap = n;
  return 0;
}

/*
 * Receive into buf[0, len) whatever the socket has, waiting until the
 * deadline for the first byte. Returns the byte count (> 0), or
 * DFS_ECONNRESET on EOF, DFS_ETIMEDOUT, -errno. A blocking recv() bounded
 * by SO_RCVTIMEO: one system call per reply where poll() + recv() were two
 * (a system call costs microseconds on a virtual machine; a FUSE create
 * makes three calls). The timeout stays on the socket from call to call:
 * it is set again only when the time left is shorter than it, or more than
 * a second longer, so with a constant per-call timeout that is once per
 * connection. A recv() that times out early just loops on the time left.
 */
static ssize_t recv_some(struct dfs_conn *k, void *buf, size_t len, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - dfs_now_ms();
    if (left <= 0) return DFS_ETIMEDOUT;
    if (k->rcvtimeo_ms == 0 || k->rcvtimeo_ms > left || k->rcvtimeo_ms + 1000 < left) {
      int64_t t = left > 2000 ? left - left % 1000 : left;
      struct timeval tv = {.tv_sec = t / 1000, .tv_usec = (t % 1000) * 1000};
      if (setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) return -errno;
      k->rcvtimeo_ms = t;
    }
    ssize_t n = recv(k->fd, buf, len, 0);
    if (n > 0) return n;
    if (n == 0) return DFS_ECONNRESET;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return errno == EPIPE ? DFS_ECONNRESET : -errno;
  }
}

/*
 * The send failed with a reset: the server may have answered with an error
 * frame before it closed (frame refused, too many connections). Take it if
 * it is already here, so the caller learns why. Returns the code, or 0.
 */
static int salvage_error(struct dfs_conn *k, const char *mname) {
  ssize_t r = recv(k->fd, k->buf, k->cap, MSG_DONTWAIT);
  struct dfs_rpc_hdr h;
  if (r < DFS_RPC_HDR_LEN || dfs_rpc_hdr_decode(k->buf, (size_t)r, k->max_body, &h) ||
      h.status >= 0 || (size_t)r < DFS_RPC_HDR_LEN + (size_t)h.body_len)
    return 0;
  Dfs__RpcError *e = dfs__rpc_error__unpack(NULL, h.body_len, k->buf + DFS_RPC_HDR_LEN);
  if (!e) return 0;
  dfs_err_set(h.status, "%s to %s: %s", mname, k->addr,
              e->message && e->message[0] ? e->message : dfs_strerror(h.status));
  dfs__rpc_error__free_unpacked(e, NULL);
  return h.status;
}

/* The first half of a call (conn_call): send the request, as call id
 * k->next_call_id. *stale: it could not be sent. */
static int conn_send(struct dfs_conn *k, uint16_t method, const ProtobufCMessage *req,
                     int64_t deadline, int *stale) {
  const char *mname = dfs_method_name(method);
  if (!mname) mname = "call";
  size_t n = req ? protobuf_c_message_get_packed_size(req) : 0;
  *stale = 0;
  if (n > k->max_body)
    return dfs_err_set(DFS_ETOOBIG, "%s to %s: request of %zu bytes exceeds the limit",
                       mname, k->addr, n);
  if (ensure(k, n > 4096 ? n : 4096)) return dfs_err_set(DFS_ENOMEM, "out of memory");
  if (n) protobuf_c_message_pack(req, k->buf);
  k->broken = 1; /* until a reply to this call has been read whole */
  uint64_t id = ++k->next_call_id;
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, method, id, 0, (uint32_t)n};
  int rc = dfs_rpc_send_frame(k->fd, &h, k->buf, deadline);
  if (rc) {
    int why = (rc == DFS_ECONNRESET || rc == -EPIPE) ? salvage_error(k, mname) : 0;
    if (why) return why;
    *stale = 1;
    return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_err_msg());
  }
  return 0;
}

/* The second half: wait for the reply to the call just sent and decode it.
 * *stale: the connection was found closed before any reply byte arrived.
 * `exact`: read no byte past the reply frame (a stream may follow it on
 * this fd); otherwise one recv() may take the whole reply, and bytes past
 * it are a protocol error (nothing may follow a plain call's reply). */
static int conn_recv(struct dfs_conn *k, uint16_t method,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     int64_t deadline, int timeout_ms, int exact, int *stale) {
  const char *mname = dfs_method_name(method);
  if (!mname) mname = "call";
  uint64_t id = k->next_call_id;
  int rc;
  *stale = 0;
  /* The reply lands in k->buf: header at 0, body at DFS_RPC_HDR_LEN. */
  size_t got = 0;
  while (got < DFS_RPC_HDR_LEN) {
    ssize_t r = recv_some(k, k->buf + got, exact ? DFS_RPC_HDR_LEN - got : k->cap - got,
                          deadline);
    if (r < 0) {
      rc = (int)r;
      /* Closed before any reply byte: "peer closed an idle connection",
       * as opposed to "peer died mid-reply". */
      if (got == 0 && (rc == DFS_ECONNRESET || rc == -EPIPE)) *stale = 1;
      if (rc == DFS_ETIMEDOUT)
        return dfs_err_set(rc, "%s to %s: no reply within %d ms", mname, k->addr, timeout_ms);
      return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_strerror(rc));
    }
    got += (size_t)r;
  }
  struct dfs_rpc_hdr rh;
  rc = dfs_rpc_hdr_decode(k->buf, DFS_RPC_HDR_LEN, k->max_body, &rh);
  if (rc) return dfs_err_set(rc, "%s to %s: bad reply: %s", mname, k->addr, dfs_err_msg());
  if (!(rh.flags & DFS_RPC_F_REPLY) || (rh.call_id != id && !(rh.call_id == 0 && rh.status != 0)))
    return dfs_err_set(DFS_EPROTO, "%s to %s: reply out of step (call id %llu, expected %llu)",
                       mname, k->addr, (unsigned long long)rh.call_id,
                       (unsigned long long)id);
  size_t total = DFS_RPC_HDR_LEN + (size_t)rh.body_len;
  if (got > total)
    return dfs_err_set(DFS_EPROTO, "%s to %s: %zu unexpected bytes after the reply", mname,
                       k->addr, got - total);
  if (got < total) {
    if (ensure(k, total)) return dfs_err_set(DFS_ENOMEM, "out of memory");
    rc = dfs_read_full(k->fd, k->buf + got, total - got, deadline);
    if (rc) return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_err_msg());
  }
  const uint8_t *body = k->buf + DFS_RPC_HDR_LEN;
  /* In step again, unless the server answered a refused frame (call id 0,
   * or a header-level error): it closes after those. */
  k->broken = rh.call_id != id || rh.status == DFS_EPROTO || rh.status == DFS_ETOOBIG;
  if (rh.status != 0) {
    Dfs__RpcError *e = dfs__rpc_error__unpack(NULL, rh.body_len, body);
    int code = rh.status < 0 ? rh.status : DFS_EREMOTE;
    const char *m = e && e->message && e->message[0] ? e->message : NULL;
    if (m && rh.call_id == id)
      dfs_err_set(code, "%s", m); /* the handler's own words */
    else
      dfs_err_set(code, "%s to %s: %s", mname, k->addr, m ? m : dfs_strerror(code));
    if (e) dfs__rpc_error__free_unpacked(e, NULL);
    return code;
  }
  if (!resp_desc || !resp) return 0;
  *resp = protobuf_c_message_unpack(resp_desc, NULL, rh.body_len, body);
  if (!*resp) {
    k->broken = 1;
    return dfs_err_set(DFS_EPROTO, "%s to %s: malformed reply body (%u bytes)", mname,
                       k->addr, rh.body_len);
  }
  return 0;
}

/* One call on a connection. *stale is set when the request could not be
 * sent or the connection was found closed before any reply byte arrived
 * (the retry rule of dfs_rpc_call()). */
static int conn_call(struct dfs_conn *k, uint16_t method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     int timeout_ms, int exact, int *stale) {
  int64_t deadline = dfs_now_ms() + timeout_ms;
  int rc = conn_send(k, method, req, deadline, stale);
  if (rc) return rc;
  return conn_recv(k, method, resp_desc, resp, deadline, timeout_ms, exact, stale);
}

int dfs_conn_call(dfs_conn *k, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                  int timeout_ms) {
  int stale;
  if (resp) *resp = NULL;
  return conn_call(k, method, req, resp_desc, resp, timeout_ms > 0 ? timeout_ms : 60000, 1,
                   &stale);
}

int dfs_conn_send(dfs_conn *k, uint16_t method, const ProtobufCMessage *req, int timeout_ms,
                  bool *stale) {
  int st = 0;
  int rc = conn_send(k, method, req, dfs_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000), &st);
  if (stale) *stale = st;
  return rc;
}

int dfs_conn_recv(dfs_conn *k, uint16_t method, const ProtobufCMessageDescriptor *resp_desc,
                  ProtobufCMessage **resp, int timeout_ms, bool *stale) {
  int st = 0;
  if (resp) *resp = NULL;
  if (timeout_ms <= 0) timeout_ms = 60000;
  int rc = conn_recv(k, method, resp_desc, resp, dfs_now_ms() + timeout_ms, timeout_ms, 1, &st);
  if (stale) *stale = st;
  return rc;
}

/* Open a connection and state the context. `what` names the call that
 * needs it, so that a refused connection reads "CREATE to 127.0.0.1:8020:
 * Connection refused". */
static int conn_open(dfs_rpc_client *c, const char *addr, int timeout_ms, const char *what,
                     dfs_conn **out) {
  if (strlen(addr) >= sizeof((struct dfs_conn *)0)->addr)
    return dfs_err_set(DFS_EINVAL, "%s to %s: address too long", what, addr);
  int fd = dfs_tcp_connect(addr, timeout_ms);
  if (fd < 0) {
    /* dfs_tcp_connect says "<addr>: <why>"; keep the why. Copy first: the
     * message buffer is the one dfs_err_set() writes. */
    char why[512];
    const char *m = dfs_err_msg();
    size_t al = strlen(addr);
    if (strncmp(m, addr, al) == 0 && m[al] == ':' && m[al + 1] == ' ') m += al + 2;
    snprintf(why, sizeof why, "%s", m);
    return dfs_err_set(fd, "%s to %s: %s", what, addr, why);
  }
  struct dfs_conn *k = calloc(1, sizeof *k);
  if (!k) {
    close(fd);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  k->fd = fd;
  k->max_body = c->o.max_body;
  snprintf(k->addr, sizeof k->addr, "%s", addr);
  Dfs__ConnectionContext cc = DFS__CONNECTION_CONTEXT__INIT;
  cc.user = c->user;
  cc.client_name = c->client_name;
  int stale;
  int rc = conn_call(k, DFS_M_CONNECTION_CONTEXT, &cc.base, NULL, NULL, timeout_ms, 0, &stale);
  if (rc) {
    /* Name the call the user made, not the framework's first call. */
    static const char pre[] = "CONNECTION_CONTEXT to ";
    const char *m = dfs_err_msg();
    if (strncmp(m, pre, sizeof pre - 1) == 0) {
      char rest[768];
      snprintf(rest, sizeof rest, "%s", m + sizeof pre - 1);
      dfs_err_set(rc, "%s to %s", what, rest);
    }
    conn_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

static struct pool *find_pool(dfs_rpc_client *c, const char *addr, int create) {
  for (struct pool *p = c->pools; p; p = p->next)
    if (strcmp(p->addr, addr) == 0) return p;
  if (!create) return NULL;
  struct pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  snprintf(p->addr, sizeof p->addr, "%s", addr);
  p->next = c->pools;
  c->pools = p;
  return p;
}

/* Borrow a pooled connection, or open one (always when `fresh`). */
static int take(dfs_rpc_client *c, const char *addr, int timeout_ms, const char *what,
                int fresh, dfs_conn **out) {
  pthread_mutex_lock(&c->mu);
  struct pool *p = fresh ? NULL : find_pool(c, addr, 0);
  if (p && p->idle) {
    struct dfs_conn *k = p->idle;
    p->idle = k->next;
    p->n--;
    pthread_mutex_unlock(&c->mu);
    k->next = NULL;
    k->reused = 1;
    *out = k;
    return 0;
  }
  pthread_mutex_unlock(&c->mu);
  int rc = conn_open(c, addr, timeout_ms > 0 ? timeout_ms : c->o.timeout_ms, what, out);
  if (rc == 0) (*out)->reused = 0;
  return rc;
}

int dfs_rpc_client_take(dfs_rpc_client *c, const char *addr, int timeout_ms, dfs_conn **out) {
  return take(c, addr, timeout_ms, "connect", 0, out);
}

void dfs_rpc_client_give(dfs_rpc_client *c, dfs_conn *k, bool reusable) {
  if (!k) return;
  if (!reusable || k->broken) {
    conn_free(k);
    return;
  }
  if (k->cap > (1u << 20)) { /* a big reply's buffer is not worth keeping */
    free(k->buf);
    k->buf = NULL;
    k->cap = 0;
  }
  pthread_mutex_lock(&c->mu);
  struct pool *p = find_pool(c, k->addr, 1);
  if (p && p->n < c->o.max_idle_per_addr) {
    k->next = p->idle;
    p->idle = k;
    p->n++;
    k = NULL;
  }
  pthread_mutex_unlock(&c->mu);
  if (k) conn_free(k);
}

int dfs_rpc_call(dfs_rpc_client *c, const char *addr, uint16_t method,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, int timeout_ms) {
  if (timeout_ms <= 0) timeout_ms = c->o.timeout_ms;
  if (resp) *resp = NULL;
  for (int attempt = 0;; attempt++) {
    dfs_conn *k;
    const char *mname = dfs_method_name(method);
    /* The retry opens a fresh connection: the other idle ones to this
     * address are likely as stale as the one that just failed. */
    int rc = take(c, addr, timeout_ms, mname ? mname : "call", attempt > 0, &k);
    if (rc) return rc;
    int stale = 0;
    int reused = k->reused;
    rc = conn_call(k, method, req, resp_desc, resp, timeout_ms, 0, &stale);
    /* Error replies keep the connection in step; transport errors mark it
     * broken and give() closes it. */
    dfs_rpc_client_give(c, k, true);
    if (rc && stale && reused && attempt == 0) continue;
    return rc;
  }
}
