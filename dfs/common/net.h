/*
 * net.h - TCP helpers with deadlines: address parsing, listen, connect,
 * full reads and writes that give up at a deadline instead of hanging.
 * Sockets are blocking; waits use poll(2) on the remaining time.
 */
#ifndef DFS_NET_H
#define DFS_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Monotonic milliseconds, for deadlines. */
int64_t dfs_now_ms(void);
/* Monotonic nanoseconds, for pacing and short waits. */
int64_t dfs_now_ns(void);
/* Wall-clock milliseconds since the epoch (modification times). */
int64_t dfs_wall_ms(void);

/* Split "host:port" (IPv4 name or address; "[v6]:port" accepted) into
 * host (NUL-terminated, at most hostcap-1 bytes) and port. DFS_EINVAL with
 * a message if malformed. */
int dfs_addr_split(const char *addr, char *host, size_t hostcap, int *port);

/* Listen on addr ("127.0.0.1:0" picks a free port). Returns the fd or a
 * negative code. SO_REUSEADDR set. *bound_port gets the actual port. */
int dfs_tcp_listen(const char *addr, int backlog, int *bound_port);

/* Connect to addr with a deadline (timeout_ms from now). Returns the fd
 * (TCP_NODELAY set) or a negative code (DFS_ECONNREFUSED, DFS_ETIMEDOUT..)
 * with a message naming the address. */
int dfs_tcp_connect(const char *addr, int timeout_ms);

/* Read exactly len bytes before deadline_ms (a dfs_now_ms() value; 0 means
 * no deadline). 0 on success; DFS_ECONNRESET on EOF (message says how many
 * bytes came), DFS_ETIMEDOUT, or -errno. */
int dfs_read_full(int fd, void *buf, size_t len, int64_t deadline_ms);

/* Write exactly len bytes before the deadline. MSG_NOSIGNAL: a closed peer
 * gives DFS_ECONNRESET/-EPIPE, never SIGPIPE. */
int dfs_write_full(int fd, const void *buf, size_t len, int64_t deadline_ms);

/* writev of all iov before the deadline (iov is modified). */
int dfs_writev_full(int fd, struct iovec *iov, int iovcnt, int64_t deadline_ms);

/* "ip:port" of the peer / local end of a connected socket into buf. */
void dfs_sock_peer(int fd, char *buf, size_t cap);
void dfs_sock_local(int fd, char *buf, size_t cap);

/* Set socket send and receive buffer sizes (bulk data connections). */
void dfs_sock_set_buffers(int fd, int bytes);

#endif
