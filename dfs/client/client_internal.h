/*
 * client_internal.h - state shared by the client library's files (fs.c,
 * output_stream.c, input_stream.c). Not installed; users see dfs.h only.
 */
#ifndef DFS_CLIENT_INTERNAL_H
#define DFS_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "dfs.h"
#include "dfs_methods.h"
#include "rpc.h"

struct dfs_fs {
  dfs_conf *conf;          /* owned when own_conf */
  int own_conf;
  char *nn_addr;
  char *user;
  char *client_name;
  int timeout_ms;
  int retries;
  dfs_rpc_client *rpc;     /* thread-safe pool */
  /* server defaults */
  uint64_t blocksize;
  uint32_t replication;
  uint32_t packet_size;
  pthread_mutex_t mu;      /* guards writers, nwriters, readers, stop_renewer */
  pthread_cond_t cv;
  struct dfs_file *writers; /* files open for write, for lease renewal */
  int nwriters;
  struct dfs_file *readers; /* files open for read, closed by dfs_disconnect */
  int stop_renewer;
  pthread_t renewer;
  int renewer_started;
};

/* A packet being filled or awaiting its ack: header, checksums and data in
 * one buffer so that it goes out with one writev and is kept for resending
 * (pipeline recovery) until acknowledged. */
struct dfs_pkt {
  struct dfs_pkt *next;
  int64_t offset;          /* in the block */
  int64_t seqno;
  uint32_t data_len;
  uint32_t carried;        /* leading bytes already sent (hflush partial chunk) */
  uint8_t flags;
  uint8_t *sums;           /* within buf */
  uint8_t *data;           /* within buf */
  uint8_t buf[];           /* [28 header][sums for packet_size][packet_size data] */
};

struct dfs_file {
  dfs_fs *fs;
  char *path;
  int writing;
  struct dfs_file *next_writer;  /* fs->writers or fs->readers, guarded by fs->mu */
  int failed;                    /* sticky error code of a writer */
  /* A writer's fields below are used by the thread calling dfs_write /
   * hflush / close, which holds f->mu meanwhile; the lease renewer thread
   * takes f->mu (trylock) only to send heartbeat packets on an idle pipeline. */
  /* ---- writer ---- */
  uint64_t file_id;
  uint64_t blocksize;
  int replication;
  uint32_t packet_size;
  int has_block;                 /* a pipeline is open on cur */
  uint64_t blk_id, blk_gs;       /* current (or last finished) block */
  uint64_t block_bytes;          /* bytes of cur written into packets */
  int any_block;                 /* at least one block was allocated */
  int alloc_unsynced;            /* the NameNode answered the last ADD_BLOCK
                                    before its edit was on disk (sync_later):
                                    FSYNC before an hflush/hsync returns */
  Dfs__DatanodeInfo **targets;   /* pipeline of cur in order: an owned array of
                                    pointers into addblock_resp; failed nodes
                                    are removed by pipeline recovery */
  size_t ntargets;
  ProtobufCMessage *addblock_resp; /* owns the DatanodeInfos */
  uint64_t blk_acked;            /* bytes of cur acknowledged by the whole pipeline */
  int err_node;                  /* pipeline index blamed for the last data-path
                                    error (-1 none); set where the error is seen */
  int pending_err;               /* a pipeline error the heartbeat saw: recovered
                                    by the next write / flush / close */
  char **excluded;               /* uuids of nodes that failed in this stream: left
                                    out of later ADD_BLOCKs (HDFS excludedNodes) */
  size_t nexcluded;
  char failed_addrs[512];        /* nodes dropped from the current block (messages) */
  int recoveries;                /* pipeline recoveries done by this stream */
  dfs_conn *pipe;
  struct dfs_pkt *cur;           /* being filled */
  struct dfs_pkt *unacked_head, *unacked_tail;
  int nunacked;
  struct dfs_pkt *free_pkts;
  int64_t next_seqno;
  int64_t last_send_ms;
  uint8_t ackbuf[128];
  size_t acklen;
  uint64_t length;               /* bytes written to the file */
  /* ---- reader ---- */
  pthread_mutex_t mu;            /* reader: guards locs for concurrent preads;
                                    writer: held by the writing thread (above) */
  ProtobufCMessage *locs_resp;   /* Dfs__GetBlockLocationsResponse; f->mu */
  /* Block lists replaced by a refetch while a sequential read may still be
   * using a block of them (a pread or dfs_file_length in another thread):
   * freed at the next dfs_read entry or at close. Guarded by f->mu. */
  ProtobufCMessage **retired;
  size_t nretired;
  uint64_t file_length;
  uint64_t pos;
  dfs_conn *rconn;               /* sequential block reader */
  size_t rblock;                 /* index of the block it reads */
  uint64_t rpos;                 /* file offset of its next byte */
  uint8_t *rbuf;                 /* packet data */
  size_t rcap;
  size_t rbuf_off, rbuf_len;     /* unread part of rbuf */
  uint8_t *rsums;
  size_t rsums_cap;
  char **bad_nodes;              /* uuids that failed for this reader */
  size_t nbad;
};

/* A NameNode call; idempotent calls are retried on connection errors. */
int dfs__nn_call(dfs_fs *fs, uint16_t method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                 int idempotent);

/* Borrow a connection to a DataNode for a stream (WRITE_BLOCK, READ_BLOCK),
 * skipping pooled ones the peer has closed meanwhile (a DataNode closes
 * connections idle for its socket timeout): such a stale connection would
 * otherwise make a healthy node look failed. */
int dfs__take_conn(dfs_fs *fs, const char *addr, dfs_conn **out);

/* Register / unregister an open writer (lease renewal, disconnect). */
void dfs__writer_add(dfs_fs *fs, dfs_file *f);
void dfs__writer_remove(dfs_fs *fs, dfs_file *f);

/* Lease renewer: send a heartbeat packet on f's pipeline if it has been idle
 * for half the socket timeout. Caller holds fs->mu; takes f->mu by trylock
 * (never waits for a writer). */
void dfs__writer_heartbeat(dfs_file *f);

/* Register / unregister an open reader (closed by dfs_disconnect). */
void dfs__reader_add(dfs_fs *fs, dfs_file *f);
void dfs__reader_remove(dfs_fs *fs, dfs_file *f);

/* Writer and reader halves of dfs_file (output_stream.c, input_stream.c). */
int dfs__writer_close(dfs_file *f);
int dfs__reader_close(dfs_file *f);

/* Cheap local checks of a path argument (NULL, empty, relative), so that a
 * mistake is reported without a round trip and names the operation:
 * "mkdir: a/b: Relative path not allowed". The full validation (components,
 * lengths) is the NameNode's, whose limits are configured there. */
int dfs__check_path(const char *op, const char *path);

/* "host:port" of a DatanodeInfo into buf. */
void dfs__dn_addr(const Dfs__DatanodeInfo *d, char *buf, size_t cap);

/* Path as protobuf bytes. */
static inline ProtobufCBinaryData dfs__bytes(const char *s) {
  ProtobufCBinaryData b = {strlen(s), (uint8_t *)s};
  return b;
}

#endif
