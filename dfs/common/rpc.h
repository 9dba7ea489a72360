/*
 * rpc.h - the one RPC framework of every daemon (DESIGN.md section 7).
 *
 * Frames over TCP: a fixed 24-byte header, then a protobuf-c body.
 *   u32 magic    0x44465331 ("DFS1")
 *   u8  version  1
 *   u8  flags    DFS_RPC_F_REPLY on replies
 *   u16 method   dfs_methods.h
 *   u64 call_id  chosen by the caller, echoed in the reply
 *   i32 status   0, or an error code (errors.h) on an error reply, whose
 *                body is then a Dfs__RpcError {code, message}
 *   u32 body_len bytes of body; above the server's cap (ipc.maximum.data.
 *                length) the frame is refused and the connection closed
 * All big-endian. The first call on a connection is CONNECTION_CONTEXT
 * (who is speaking: HDFS simple auth); the client side sends it itself.
 *
 * Server: one accept thread and one thread per connection (blocking I/O,
 * so a handler that waits on disk - the edit log sync - stalls only its
 * own caller). Calls on one connection are served in order. A malformed
 * body gets an error reply and the connection lives on; a malformed frame
 * header (bad magic, version, oversized) gets an error reply if possible
 * and the connection is closed; the server always lives on.
 *
 * Client: a pool of idle connections per address; a call borrows one
 * connection for its duration, so concurrency equals the number of calls
 * in flight. Every call has a deadline.
 */
#ifndef DFS_RPC_H
#define DFS_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DFS_RPC_MAGIC 0x44465331u
#define DFS_RPC_VERSION 1
#define DFS_RPC_HDR_LEN 24
#define DFS_RPC_F_REPLY 0x01

struct dfs_rpc_hdr {
  uint32_t magic;
  uint8_t version;
  uint8_t flags;
  uint16_t method;
  uint64_t call_id;
  int32_t status;
  uint32_t body_len;
};

void dfs_rpc_hdr_encode(const struct dfs_rpc_hdr *h, uint8_t out[DFS_RPC_HDR_LEN]);

/* Decode and validate magic, version, known flags, body_len <= max_body.
 * 0, DFS_EPROTO or DFS_ETOOBIG, with a message. */
int dfs_rpc_hdr_decode(const uint8_t *in, size_t len, uint32_t max_body,
                       struct dfs_rpc_hdr *h);

/* ---- server ------------------------------------------------------------ */

typedef struct dfs_rpc_server dfs_rpc_server;
struct dfs_rpc_call; /* one call being served; see the handler contract */

/*
 * A handler. `req` is the decoded request (owned by the framework, freed
 * after the handler returns). To answer, the handler calls
 * dfs_rpc_reply(call, &resp.base) once and returns 0; a handler that
 * returns 0 without replying answers an empty body. A negative return sends
 * an error reply carrying that code and dfs_err_msg() of the handler's
 * thread (so `return dfs_err_set(DFS_EEXIST, "create: %s: File exists",
 * path);` is the idiom).
 *
 * Stream handlers (DFS_RPC_STREAM) own the connection while they run: they
 * call dfs_rpc_reply() to send the reply at once, then use
 * dfs_rpc_call_fd() for raw packets. Return 0 if the connection is still in
 * step (next frame may follow), or a negative code to close it.
 */
typedef int (*dfs_rpc_handler)(void *ctx, struct dfs_rpc_call *call,
                               const ProtobufCMessage *req);

enum { DFS_RPC_STREAM = 1 };

struct dfs_rpc_method {
  uint16_t id;
  const char *name;
  const ProtobufCMessageDescriptor *req_desc;
  dfs_rpc_handler handler;
  int flags;
};

struct dfs_rpc_server_opts {
  const char *name;         /* for logs: "namenode", "datanode" */
  const char *bind_addr;    /* "host:port"; port 0 picks one */
  const struct dfs_rpc_method *methods; /* table; must outlive the server */
  size_t n_methods;
  void *ctx;                /* passed to every handler */
  uint32_t max_body;        /* frame body cap (ipc.maximum.data.length) */
  int max_connections;      /* further connections are closed at once */
  int idle_timeout_ms;      /* close a connection silent this long (0: never) */
};

/* Create and bind (the port is known after this returns). Returns 0 and
 * *out, or a negative code with a message. opts is copied. */
int dfs_rpc_server_create(const struct dfs_rpc_server_opts *opts,
                          dfs_rpc_server **out);
/* Start the accept thread. */
int dfs_rpc_server_start(dfs_rpc_server *s);
int dfs_rpc_server_port(const dfs_rpc_server *s);
/* Stop accepting, shut down every connection, wait for handlers to return
 * and threads to exit. Idempotent. */
void dfs_rpc_server_stop(dfs_rpc_server *s);
void dfs_rpc_server_destroy(dfs_rpc_server *s);

/* Send the reply now (once per call). Returns 0 or a transport error. */
int dfs_rpc_reply(struct dfs_rpc_call *call, const ProtobufCMessage *resp);

/* The call's context. Strings live as long as the call. */
int dfs_rpc_call_fd(struct dfs_rpc_call *call);
uint16_t dfs_rpc_call_method(const struct dfs_rpc_call *call);
const char *dfs_rpc_call_peer(const struct dfs_rpc_call *call);   /* "ip:port" */
const char *dfs_rpc_call_peer_ip(const struct dfs_rpc_call *call); /* "ip" */
const char *dfs_rpc_call_user(const struct dfs_rpc_call *call);   /* from the context; "" if none */
const char *dfs_rpc_call_client_name(const struct dfs_rpc_call *call);
/* Deadline for stream I/O (dfs_now_ms() + the server's idle timeout). */
int64_t dfs_rpc_call_deadline(const struct dfs_rpc_call *call);

/* ---- client ------------------------------------------------------------ */

typedef struct dfs_rpc_client dfs_rpc_client;
typedef struct dfs_conn dfs_conn;

struct dfs_rpc_client_opts {
  const char *user;         /* stated in CONNECTION_CONTEXT */
  const char *client_name;  /* lease holder name; may be NULL */
  int timeout_ms;           /* default deadline of a call */
  uint32_t max_body;        /* reply body cap */
  int max_idle_per_addr;    /* pooled idle connections kept per address */
};

/* A thread-safe connection pool. opts strings are copied. */
int dfs_rpc_client_create(const struct dfs_rpc_client_opts *opts,
                          dfs_rpc_client **out);
void dfs_rpc_client_destroy(dfs_rpc_client *c);

/*
 * One call: send `req` as `method` to `addr`, wait for the reply until the
 * deadline (timeout_ms; 0: the client's default), decode it with resp_desc.
 * Returns 0 and *resp (caller frees with protobuf_c_message_free_unpacked
 * (*resp, NULL)); or the remote error code with the remote message in
 * dfs_err_msg(); or a transport error (DFS_ECONNREFUSED, DFS_ETIMEDOUT,
 * DFS_ECONNRESET, DFS_EPROTO) with a message naming the address. A
 * connection that failed is closed, never returned to the pool.
 */
int dfs_rpc_call(dfs_rpc_client *c, const char *addr, uint16_t method,
                 const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, int timeout_ms);

/* Borrow a connection (pooled or new, context already sent) for streaming
 * use, and give it back: reusable=true returns it to the pool (only when
 * the stream protocol ended in step), false closes it. */
int dfs_rpc_client_take(dfs_rpc_client *c, const char *addr, int timeout_ms,
                        dfs_conn **out);
void dfs_rpc_client_give(dfs_rpc_client *c, dfs_conn *conn, bool reusable);

/* A call on a borrowed connection (same contract as dfs_rpc_call). */
int dfs_conn_call(dfs_conn *conn, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *resp_desc,
                  ProtobufCMessage **resp, int timeout_ms);
/* The same call in two halves, so that the caller can work while the peer
 * does: dfs_conn_send() sends the request, dfs_conn_recv() waits up to
 * timeout_ms for its reply. Nothing else may use the connection between
 * the two. *stale (may be NULL) is set when the connection turned out to
 * be closed by the peer before it took the request (a pooled connection
 * gone idle): the call never ran and may be retried on a fresh one. */
int dfs_conn_send(dfs_conn *conn, uint16_t method, const ProtobufCMessage *req,
                  int timeout_ms, bool *stale);
int dfs_conn_recv(dfs_conn *conn, uint16_t method,
                  const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                  int timeout_ms, bool *stale);
int dfs_conn_fd(const dfs_conn *conn);
const char *dfs_conn_addr(const dfs_conn *conn);

/* Raw frame I/O, for tools and tests that speak the protocol by hand. */
int dfs_rpc_send_frame(int fd, const struct dfs_rpc_hdr *h, const void *body,
                       int64_t deadline_ms);

#endif
