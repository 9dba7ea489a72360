/*
 * rpc_server.c - the RPC server: an accept thread and one thread per
 * connection, blocking I/O with deadlines (why: a handler waiting for the
 * edit log's fdatasync or a disk write stalls only its own caller).
 *
 * Per connection, calls are served in order: read the 24-byte header, the
 * body, decode, dispatch, reply. A bad header ends the connection (after an
 * error reply when the socket still takes one); a bad body or an unknown
 * method gets an error reply and the connection lives on. CONNECTION_CONTEXT
 * and PING are answered here. A call that arrives before the context is
 * served with user "" (the NameNode treats it as an unknown, unprivileged
 * user), so tools that speak the protocol by hand stay simple.
 *
 * Lean per-call path: each connection reads through its own buffer (one
 * blocking recv() usually brings header and body; the idle timeout is the
 * socket's SO_RCVTIMEO, so no poll() per frame), and replies go out as one
 * sendmsg() of header + body packed into a per-connection buffer. A refused
 * header is answered, then the connection is closed "lingering" (input
 * drained briefly) so that the reset of a close with unread input cannot
 * destroy the answer. Connections over max_connections get one error frame
 * (call id 0, DFS_EAGAIN) and are closed by the accept thread.
 *
 * Lock order: server.mu only; no handler runs under it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dfs_methods.h"
#include "errors.h"
#include "log.h"
#include "net.h"
#include "rpc.h"

struct conn {
  dfs_rpc_server *srv;
  int fd;
  char peer[64];
  char peer_ip[64];
  char *user;
  char *client_name;
  /* Input buffer: bytes [rpos, rlen) of rbuf are received but not yet
   * consumed. One recv() usually brings a whole frame (header and body). */
  uint8_t *rbuf;
  size_t rcap, rpos, rlen;
  uint8_t *wbuf; /* reply body */
  size_t wcap;
  struct conn *prev, *next; /* in srv->conns, guarded by srv->mu */
};

struct dfs_rpc_call {
  struct conn *c;
  uint16_t method;
  uint64_t call_id;
  int replied;
};

struct dfs_rpc_server {
  struct dfs_rpc_server_opts o;
  char *name;
  const struct dfs_rpc_method *by_id[1024]; /* ids below 1024, direct */
  int lfd;
  int port;
  pthread_t accept_thread;
  int started;
  pthread_mutex_t mu;    /* guards conns, nconns, stopping */
  pthread_cond_t cv;     /* signalled when a connection thread exits */
  struct conn *conns;
  int nconns;
  int stopping;
};

static const struct dfs_rpc_method *find_method(const dfs_rpc_server *s, uint16_t id) {
  if (id < 1024) return s->by_id[id];
  for (size_t i = 0; i < s->o.n_methods; i++)
    if (s->o.methods[i].id == id) return &s->o.methods[i];
  return NULL;
}

int dfs_rpc_server_create(const struct dfs_rpc_server_opts *opts, dfs_rpc_server **out) {
  dfs_rpc_server *s = calloc(1, sizeof *s);
  if (!s) return dfs_err_set(DFS_ENOMEM, "out of memory");
  s->o = *opts;
  s->name = strdup(opts->name ? opts->name : "rpc");
  s->o.name = s->name;
  if (s->o.max_body == 0) s->o.max_body = 64u << 20;
  if (s->o.max_connections <= 0) s->o.max_connections = 4096;
  for (size_t i = 0; i < opts->n_methods; i++)
    if (opts->methods[i].id < 1024) s->by_id[opts->methods[i].id] = &opts->methods[i];
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->lfd = dfs_tcp_listen(opts->bind_addr, 512, &s->port);
  if (s->lfd < 0) {
    int rc = s->lfd;
    free(s->name);
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int dfs_rpc_server_port(const dfs_rpc_server *s) { return s->port; }

static int ensure(uint8_t **buf, size_t *cap, size_t need) {
  if (*cap >= need) return 0;
  size_t n = *cap ? *cap : 4096;
  while (n < need) n *= 2;
  uint8_t *b = realloc(*buf, n);
  if (!b) return DFS_ENOMEM;
  *buf = b;
  *cap = n;
  return 0;
}

/*
 * Make at least `need` unconsumed bytes available in c->rbuf, reading as
 * much as the socket has (up to the buffer's size) in each recv(). Blocking
 * recv: the idle timeout is the socket's SO_RCVTIMEO (set at accept), so a
 * waiting connection costs one syscall per frame, not recv+poll+recv.
 * 0, DFS_ECONNRESET on EOF, DFS_ETIMEDOUT when idle too long, -errno.
 */
static int fill(struct conn *c, size_t need) {
  size_t have = c->rlen - c->rpos;
  if (have >= need) return 0;
  if (have == 0 && c->rcap > (1u << 20)) { /* do not keep a big frame's buffer */
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = 0;
  }
  if (c->rpos > 0) { /* move the partial frame to the front */
    memmove(c->rbuf, c->rbuf + c->rpos, have);
    c->rpos = 0;
    c->rlen = have;
  }
  if (ensure(&c->rbuf, &c->rcap, need)) return DFS_ENOMEM;
  while (c->rlen < need) {
    ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    if (r > 0) {
      c->rlen += (size_t)r;
      continue;
    }
    if (r == 0) return DFS_ECONNRESET;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return DFS_ETIMEDOUT;
    return -errno;
  }
  return 0;
}

/* Send a reply frame with an already packed body. */
static int send_reply(struct conn *c, uint16_t method, uint64_t call_id, int32_t status,
                      const uint8_t *body, uint32_t len) {
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, DFS_RPC_F_REPLY, method,
                          call_id, status, len};
  return dfs_rpc_send_frame(c->fd, &h, body, dfs_now_ms() + 30000);
}

static int send_error(struct conn *c, uint16_t method, uint64_t call_id, int code,
                      const char *msg) {
  Dfs__RpcError e = DFS__RPC_ERROR__INIT;
  e.code = code;
  e.message = (char *)msg;
  size_t n = dfs__rpc_error__get_packed_size(&e);
  if (ensure(&c->wbuf, &c->wcap, n)) return DFS_ENOMEM;
  dfs__rpc_error__pack(&e, c->wbuf);
  return send_reply(c, method, call_id, code, c->wbuf, (uint32_t)n);
}

int dfs_rpc_reply(struct dfs_rpc_call *call, const ProtobufCMessage *resp) {
  struct conn *c = call->c;
  if (call->replied) return dfs_err_set(DFS_EINTERNAL, "reply sent twice");
  call->replied = 1;
  size_t n = resp ? protobuf_c_message_get_packed_size(resp) : 0;
  if (ensure(&c->wbuf, &c->wcap, n ? n : 1)) return DFS_ENOMEM;
  if (n) protobuf_c_message_pack(resp, c->wbuf);
  return send_reply(c, call->method, call->call_id, 0, c->wbuf, (uint32_t)n);
}

int dfs_rpc_call_fd(struct dfs_rpc_call *call) { return call->c->fd; }
uint16_t dfs_rpc_call_method(const struct dfs_rpc_call *call) { return call->method; }
const char *dfs_rpc_call_peer(const struct dfs_rpc_call *call) { return call->c->peer; }
const char *dfs_rpc_call_peer_ip(const struct dfs_rpc_call *call) { return call->c->peer_ip; }
const char *dfs_rpc_call_user(const struct dfs_rpc_call *call) {
  return call->c->user ? call->c->user : "";
}
const char *dfs_rpc_call_client_name(const struct dfs_rpc_call *call) {
  return call->c->client_name ? call->c->client_name : "";
}
int64_t dfs_rpc_call_deadline(const struct dfs_rpc_call *call) {
  const dfs_rpc_server *s = call->c->srv;
  return dfs_now_ms() + (s->o.idle_timeout_ms > 0 ? s->o.idle_timeout_ms : 60000);
}

/* Serve one call whose header is decoded. Returns 0 to go on, <0 to close. */
static int serve_call(struct conn *c, const struct dfs_rpc_hdr *h) {
  dfs_rpc_server *s = c->srv;
  int rc = fill(c, h->body_len);
  if (rc) return rc;
  const uint8_t *body = c->rbuf + c->rpos;
  c->rpos += h->body_len; /* consumed; body stays valid until the next fill() */
  if (h->flags & DFS_RPC_F_REPLY) {
    send_error(c, h->method, h->call_id, DFS_EPROTO, "a reply frame was sent to a server");
    return 0;
  }
  if (h->method == DFS_M_CONNECTION_CONTEXT) {
    Dfs__ConnectionContext *cc =
        dfs__connection_context__unpack(NULL, h->body_len, body);
    if (!cc) return send_error(c, h->method, h->call_id, DFS_EPROTO,
                               "CONNECTION_CONTEXT: malformed request body"), 0;
    free(c->user);
    free(c->client_name);
    c->user = strdup(cc->user);
    c->client_name = cc->client_name ? strdup(cc->client_name) : NULL;
    dfs__connection_context__free_unpacked(cc, NULL);
    return send_reply(c, h->method, h->call_id, 0, NULL, 0) ? -1 : 0;
  }
  if (h->method == DFS_M_PING) return send_reply(c, h->method, h->call_id, 0, NULL, 0) ? -1 : 0;
  const struct dfs_rpc_method *m = find_method(s, h->method);
  if (!m) {
    char msg[96];
    snprintf(msg, sizeof msg, "unknown method %u", h->method);
    LOG_DEBUG(s->name, "%s: %s", c->peer, msg);
    return send_error(c, h->method, h->call_id, DFS_EMETHOD, msg) ? -1 : 0;
  }
  if ((m->flags & DFS_RPC_STREAM) && c->rpos < c->rlen) {
    /* The peer sent bytes after a stream call's frame without waiting for
     * the reply; the handler reads the raw fd and would miss them. None of
     * our stream flows does that (rpc.h), so it is a protocol error. */
    send_error(c, h->method, h->call_id, DFS_EPROTO,
               "data sent after a stream request before its reply");
    return DFS_EPROTO;
  }
  ProtobufCMessage *req = protobuf_c_message_unpack(m->req_desc, NULL, h->body_len, body);
  if (!req) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: malformed request body (%u bytes)", m->name, h->body_len);
    LOG_WARN(s->name, "%s: %s", c->peer, msg);
    return send_error(c, h->method, h->call_id, DFS_EPROTO, msg) ? -1 : 0;
  }
  struct dfs_rpc_call call = {c, h->method, h->call_id, 0};
  dfs_err_clear();
  rc = m->handler(s->o.ctx, &call, req);
  protobuf_c_message_free_unpacked(req, NULL);
  if (m->flags & DFS_RPC_STREAM) {
    if (rc < 0 && !call.replied)
      send_error(c, h->method, h->call_id, rc,
                 dfs_err_code() ? dfs_err_msg() : dfs_strerror(rc));
    return rc < 0 ? rc : 0;
  }
  if (rc < 0) {
    if (call.replied) return 0;
    return send_error(c, h->method, h->call_id, rc,
                      dfs_err_code() ? dfs_err_msg() : dfs_strerror(rc)) ? -1 : 0;
  }
  if (!call.replied) return send_reply(c, h->method, h->call_id, 0, NULL, 0) ? -1 : 0;
  return 0;
}

static void conn_unlink_free(struct conn *c) {
  dfs_rpc_server *s = c->srv;
  pthread_mutex_lock(&s->mu);
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->nconns--;
  close(c->fd);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  free(c->user);
  free(c->client_name);
  free(c->rbuf);
  free(c->wbuf);
  free(c);
}

/*
 * After refusing a frame header: stop sending, then read and discard what
 * the peer still sends (at most `expect` bytes plus a little, for at most
 * two seconds) before the close. Why: closing a socket with unread input
 * makes the kernel send a reset, which can destroy our error reply in the
 * peer's receive buffer before it reads it (a client sending an oversized
 * request is still writing its body when we answer DFS_ETOOBIG).
 */
static void lingering_close(struct conn *c, uint32_t expect) {
  shutdown(c->fd, SHUT_WR);
  uint64_t left = (uint64_t)expect + 65536;
  if (left > (64u << 20)) left = 64u << 20;
  int64_t deadline = dfs_now_ms() + 2000;
  uint8_t junk[16384];
  while (left > 0) {
    size_t n = left < sizeof junk ? (size_t)left : sizeof junk;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int64_t wait = deadline - dfs_now_ms();
    if (wait <= 0 || poll(&p, 1, (int)wait) <= 0) break;
    ssize_t r = recv(c->fd, junk, n, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) break;
    if (r > 0) left -= (uint64_t)r;
  }
}

static void *conn_main(void *arg) {
  struct conn *c = arg;
  dfs_rpc_server *s = c->srv;
  pthread_setname_np(pthread_self(), "rpc-conn");
  for (;;) {
    int rc = fill(c, DFS_RPC_HDR_LEN);
    if (rc) break; /* closed, idle too long, or shut down */
    uint8_t hb[DFS_RPC_HDR_LEN];
    memcpy(hb, c->rbuf + c->rpos, sizeof hb);
    c->rpos += DFS_RPC_HDR_LEN;
    struct dfs_rpc_hdr h;
    rc = dfs_rpc_hdr_decode(hb, sizeof hb, s->o.max_body, &h);
    if (rc) {
      LOG_WARN(s->name, "%s: %s; closing the connection", c->peer, dfs_err_msg());
      char msg[256];
      snprintf(msg, sizeof msg, "%s", dfs_err_msg());
      uint64_t id = ((uint64_t)hb[8] << 56) | ((uint64_t)hb[9] << 48) | ((uint64_t)hb[10] << 40) |
                    ((uint64_t)hb[11] << 32) | ((uint64_t)hb[12] << 24) |
                    ((uint64_t)hb[13] << 16) | ((uint64_t)hb[14] << 8) | hb[15];
      send_error(c, (uint16_t)((hb[6] << 8) | hb[7]), id, rc, msg);
      lingering_close(c, h.body_len);
      break;
    }
    if (serve_call(c, &h) < 0) break;
  }
  conn_unlink_free(c);
  return NULL;
}

/* Tell a connection over max_connections why it is closed: one error
 * frame (call id 0, DFS_EAGAIN), best effort and without blocking the
 * accept thread, then close. */
static void refuse(int fd, const dfs_rpc_server *s) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: too many connections (%d, ipc.server.max.connections)",
           s->name, s->o.max_connections);
  Dfs__RpcError e = DFS__RPC_ERROR__INIT;
  e.code = DFS_EAGAIN;
  e.message = msg;
  uint8_t buf[DFS_RPC_HDR_LEN + 256];
  size_t n = dfs__rpc_error__pack(&e, buf + DFS_RPC_HDR_LEN);
  struct dfs_rpc_hdr h = {DFS_RPC_MAGIC, DFS_RPC_VERSION, DFS_RPC_F_REPLY, 0, 0, DFS_EAGAIN,
                          (uint32_t)n};
  dfs_rpc_hdr_encode(&h, buf);
  ssize_t w = send(fd, buf, DFS_RPC_HDR_LEN + n, MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)w;
  shutdown(fd, SHUT_WR);
  close(fd);
}

static void *accept_main(void *arg) {
  dfs_rpc_server *s = arg;
  pthread_setname_np(pthread_self(), "rpc-accept");
  for (;;) {
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      pthread_mutex_lock(&s->mu);
      int stop = s->stopping;
      pthread_mutex_unlock(&s->mu);
      if (stop) break;
      if (errno == EMFILE || errno == ENFILE) usleep(10000);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s->o.idle_timeout_ms > 0) { /* see fill() */
      struct timeval tv = {s->o.idle_timeout_ms / 1000, (s->o.idle_timeout_ms % 1000) * 1000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->srv = s;
    c->fd = fd;
    dfs_sock_peer(fd, c->peer, sizeof c->peer);
    snprintf(c->peer_ip, sizeof c->peer_ip, "%s", c->peer);
    char *colon = strrchr(c->peer_ip, ':');
    if (colon) *colon = '\0';
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->nconns >= s->o.max_connections) {
      pthread_mutex_unlock(&s->mu);
      LOG_WARN(s->name, "%s: refused: %d connections open (ipc.server.max.connections)",
               c->peer, s->o.max_connections);
      refuse(fd, s);
      free(c);
      continue;
    }
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    pthread_mutex_unlock(&s->mu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    if (pthread_create(&th, &attr, conn_main, c) != 0) conn_unlink_free(c);
    pthread_attr_destroy(&attr);
  }
  return NULL;
}

int dfs_rpc_server_start(dfs_rpc_server *s) {
  if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0)
    return dfs_err_set(DFS_ENOMEM, "%s: cannot start the accept thread", s->name);
  s->started = 1;
  return 0;
}

void dfs_rpc_server_stop(dfs_rpc_server *s) {
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  s->stopping = 1;
  pthread_mutex_unlock(&s->mu);
  shutdown(s->lfd, SHUT_RDWR);
  if (s->started) pthread_join(s->accept_thread, NULL);
  close(s->lfd);
  s->lfd = -1;
  pthread_mutex_lock(&s->mu);
  for (struct conn *c = s->conns; c; c = c->next) shutdown(c->fd, SHUT_RDWR);
  while (s->nconns > 0) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

void dfs_rpc_server_destroy(dfs_rpc_server *s) {
  if (!s) return;
  dfs_rpc_server_stop(s);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->name);
  free(s);
}
