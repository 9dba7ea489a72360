/*
 * rpc_client.c - the client side of the RPC framework: a thread-safe pool of
 * idle connections per address. A call borrows one connection for its whole
 * duration (no multiplexing), so a client's concurrency is its calls in
 * flight and a slow call never delays another.
 *
 * A pooled connection may have been closed by the server while idle (idle
 * timeout, restart). When the first send or the reply's first byte fails on
 * a reused connection, the call is retried once on a fresh one: the server
 * closed the connection before reading our frame or while idle, so it did not
 * run the call. (If the server died mid-call the retry may run a call twice;
 * NameNode mutations are guarded by leases and existence checks.)
 *
 * Lock order: client.mu only, never held during I/O.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  uint8_t *buf;
  size_t cap;
  uint32_t max_body;
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

/* One call on a connection. *sent_any tells whether any reply byte arrived
 * or the send failed (used to decide whether a retry is safe). */
static int conn_call(struct dfs_conn *k, uint16_t method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     int timeout_ms, int *stale) {
  const char *mname = dfs_method_name(method);
  if (!mname) mname = "call";
  int64_t deadline = dfs_now_ms() + timeout_ms;
  size_t n = req ? protobuf_c_message_get_packed_size(req) : 0;
  if (n > k->max_body)
    return dfs_err_set(DFS_ETOOBIG, "%s to %s: request of %zu bytes exceeds the limit",
                       mname, k->addr, n);
  if (ensure(k, n + 1)) return dfs_err_set(DFS_ENOMEM, "out of memory");
  if (n) protobuf_c_message_pack(req, k->buf);
  uint64_t id = ++k->next_call_id;
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, 0, method, id, 0, (uint32_t)n};
  *stale = 0;
  int rc = dfs_rpc_send_frame(k->fd, &h, k->buf, deadline);
  if (rc) {
    *stale = 1;
    return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_err_msg());
  }
  uint8_t hb[DFS_RPC_HDR_LEN];
  /* The first byte separately tells "peer closed an idle connection" from
   * "peer died mid-reply". */
  rc = dfs_read_full(k->fd, hb, 1, deadline);
  if (rc) {
    if (rc == DFS_ECONNRESET || rc == -EPIPE) *stale = 1;
    if (rc == DFS_ETIMEDOUT)
      return dfs_err_set(rc, "%s to %s: no reply within %d ms", mname, k->addr, timeout_ms);
    return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_strerror(rc));
  }
  rc = dfs_read_full(k->fd, hb + 1, sizeof hb - 1, deadline);
  if (rc) return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_err_msg());
  struct dfs_rpc_hdr rh;
  rc = dfs_rpc_hdr_decode(hb, sizeof hb, k->max_body, &rh);
  if (rc) return dfs_err_set(rc, "%s to %s: bad reply: %s", mname, k->addr, dfs_err_msg());
  if (!(rh.flags & DFS_RPC_F_REPLY) || (rh.call_id != id && rh.call_id != 0))
    return dfs_err_set(DFS_EPROTO, "%s to %s: reply out of step (call id %llu, expected %llu)",
                       mname, k->addr, (unsigned long long)rh.call_id,
                       (unsigned long long)id);
  if (ensure(k, rh.body_len + 1)) return dfs_err_set(DFS_ENOMEM, "out of memory");
  rc = dfs_read_full(k->fd, k->buf, rh.body_len, deadline);
  if (rc) return dfs_err_set(rc, "%s to %s: %s", mname, k->addr, dfs_err_msg());
  if (rh.status != 0) {
    Dfs__RpcError *e = dfs__rpc_error__unpack(NULL, rh.body_len, k->buf);
    int code = rh.status < 0 ? rh.status : DFS_EREMOTE;
    if (e && e->message)
      dfs_err_set(code, "%s", e->message);
    else
      dfs_err_set(code, "%s to %s: %s", mname, k->addr, dfs_strerror(code));
    if (e) dfs__rpc_error__free_unpacked(e, NULL);
    /* A rejected header means the server closes; the caller must not reuse. */
    return rh.call_id != id ? DFS_EPROTO : code;
  }
  if (!resp_desc || !resp) return 0;
  *resp = protobuf_c_message_unpack(resp_desc, NULL, rh.body_len, k->buf);
  if (!*resp)
    return dfs_err_set(DFS_EPROTO, "%s to %s: malformed reply body (%u bytes)", mname,
                       k->addr, rh.body_len);
  return 0;
}

int dfs_conn_call(dfs_conn *k, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                  int timeout_ms) {
  int stale;
  if (resp) *resp = NULL;
  return conn_call(k, method, req, resp_desc, resp, timeout_ms > 0 ? timeout_ms : 60000,
                   &stale);
}

static int conn_open(dfs_rpc_client *c, const char *addr, int timeout_ms, dfs_conn **out) {
  if (strlen(addr) >= sizeof((struct dfs_conn *)0)->addr)
    return dfs_err_set(DFS_EINVAL, "%s: address too long", addr);
  int fd = dfs_tcp_connect(addr, timeout_ms);
  if (fd < 0) return fd;
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
  int rc = conn_call(k, DFS_M_CONNECTION_CONTEXT, &cc.base, NULL, NULL, timeout_ms, &stale);
  if (rc) {
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

int dfs_rpc_client_take(dfs_rpc_client *c, const char *addr, int timeout_ms, dfs_conn **out) {
  pthread_mutex_lock(&c->mu);
  struct pool *p = find_pool(c, addr, 0);
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
  int rc = conn_open(c, addr, timeout_ms > 0 ? timeout_ms : c->o.timeout_ms, out);
  if (rc == 0) (*out)->reused = 0;
  return rc;
}

void dfs_rpc_client_give(dfs_rpc_client *c, dfs_conn *k, bool reusable) {
  if (!k) return;
  if (!reusable) {
    conn_free(k);
    return;
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
  if (k) {
    if (k->cap > (1u << 20)) { /* do not keep a huge buffer around */
      free(k->buf);
      k->buf = NULL;
      k->cap = 0;
    }
    conn_free(k);
  }
}

int dfs_rpc_call(dfs_rpc_client *c, const char *addr, uint16_t method,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, int timeout_ms) {
  if (timeout_ms <= 0) timeout_ms = c->o.timeout_ms;
  if (resp) *resp = NULL;
  for (int attempt = 0;; attempt++) {
    dfs_conn *k;
    int rc = dfs_rpc_client_take(c, addr, timeout_ms, &k);
    if (rc) return rc;
    int stale = 0;
    int reused = k->reused;
    rc = conn_call(k, method, req, resp_desc, resp, timeout_ms, &stale);
    /* Error replies keep the connection in step; transport errors do not
     * (closing a healthy connection by mistake costs only a reconnect). */
    int transport = stale || rc == DFS_EPROTO || rc == DFS_ETIMEDOUT || rc == DFS_ECONNRESET ||
                    rc == -EPIPE || rc == DFS_ENOMEM || rc == DFS_ETOOBIG;
    dfs_rpc_client_give(c, k, !transport);
    if (rc && stale && reused && attempt == 0) continue;
    return rc;
  }
}
