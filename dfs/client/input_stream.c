/*
 * input_stream.c - reading a file: block locations from the NameNode, block
 * data from the nearest DataNode that works, every checksum verified.
 *
 * Sequential reads keep one READ_BLOCK stream open per block and take its
 * packets in order; when a packet starts at the caller's position and fits
 * the caller's buffer it is read straight into that buffer (no copy) and
 * verified there. A replica that fails (connection, timeout, checksum) is
 * reported when corrupt and skipped for the rest of this reader's life; the
 * read goes on from the next location, and when all have failed the block's
 * locations are fetched again once. pread opens its own stream per call,
 * so any number of threads may pread one file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_internal.h"
#include "crc32c.h"
#include "errors.h"
#include "net.h"
#include "packet.h"

static Dfs__LocatedBlocks *LB(dfs_file *f) {
  return f->locs_resp ? ((Dfs__GetBlockLocationsResponse *)f->locs_resp)->locations : NULL;
}

/* The nodes that failed this reader. Takes f->mu (concurrent preads share
 * the list); callers must not hold it. */
static int is_bad_locked(dfs_file *f, const char *uuid) {
  for (size_t i = 0; i < f->nbad; i++)
    if (strcmp(f->bad_nodes[i], uuid) == 0) return 1;
  return 0;
}

static int is_bad(dfs_file *f, const char *uuid) {
  pthread_mutex_lock(&f->mu);
  int bad = is_bad_locked(f, uuid);
  pthread_mutex_unlock(&f->mu);
  return bad;
}

static void mark_bad(dfs_file *f, const char *uuid) {
  pthread_mutex_lock(&f->mu);
  char **n = is_bad_locked(f, uuid) ? NULL : realloc(f->bad_nodes, (f->nbad + 1) * sizeof *n);
  if (n) {
    f->bad_nodes = n;
    f->bad_nodes[f->nbad] = strdup(uuid);
    if (f->bad_nodes[f->nbad]) f->nbad++;
  }
  pthread_mutex_unlock(&f->mu);
}

/* Ask a DataNode holding the block under construction how much of it is
 * visible (acknowledged by the whole pipeline). */
static int visible_length(dfs_file *f, const Dfs__LocatedBlock *b, uint64_t *len) {
  int rc = DFS_ENODATANODE;
  for (size_t i = 0; i < b->n_locs; i++) {
    char a[300];
    dfs__dn_addr(b->locs[i], a, sizeof a);
    Dfs__GetReplicaVisibleLengthRequest r = DFS__GET_REPLICA_VISIBLE_LENGTH_REQUEST__INIT;
    r.block = b->block;
    Dfs__GetReplicaVisibleLengthResponse *resp = NULL;
    rc = dfs_rpc_call(f->fs->rpc, a, DFS_M_GET_REPLICA_VISIBLE_LENGTH, &r.base,
                      &dfs__get_replica_visible_length_response__descriptor,
                      (ProtobufCMessage **)&resp, f->fs->timeout_ms);
    if (rc == 0) {
      *len = resp->length;
      dfs__get_replica_visible_length_response__free_unpacked(resp, NULL);
      return 0;
    }
  }
  return rc;
}

/* (Re)load the block list. Caller holds f->mu. */
static int fetch_locations(dfs_file *f) {
  Dfs__GetBlockLocationsRequest r = DFS__GET_BLOCK_LOCATIONS_REQUEST__INIT;
  r.path = dfs__bytes(f->path);
  r.has_offset = 1;
  r.offset = 0;
  Dfs__GetBlockLocationsResponse *resp = NULL;
  int rc = dfs__nn_call(f->fs, DFS_M_GET_BLOCK_LOCATIONS, &r.base,
                        &dfs__get_block_locations_response__descriptor,
                        (ProtobufCMessage **)&resp, 1);
  if (rc) return rc;
  if (!resp->locations) {
    dfs__get_block_locations_response__free_unpacked(resp, NULL);
    return dfs_err_set(DFS_ENOENT, "open: %s: No such file or directory", f->path);
  }
  if (f->locs_resp) {
    ProtobufCMessage **n = realloc(f->retired, (f->nretired + 1) * sizeof *n);
    if (n) {
      f->retired = n;
      f->retired[f->nretired++] = f->locs_resp;
    } else { /* out of memory: then at least no leak; only a racing read could notice */
      protobuf_c_message_free_unpacked(f->locs_resp, NULL);
    }
  }
  f->locs_resp = &resp->base;
  Dfs__LocatedBlocks *lb = resp->locations;
  uint64_t len = lb->file_length;
  if (lb->under_construction && lb->n_blocks > 0) {
    Dfs__LocatedBlock *last = lb->blocks[lb->n_blocks - 1];
    if (last->under_construction) {
      uint64_t vis = 0;
      if (visible_length(f, last, &vis) == 0) {
        last->block->num_bytes = vis;
        len = last->offset + vis;
      }
    }
  }
  f->file_length = len;
  return 0;
}

int dfs_open(dfs_fs *fs, const char *path, dfs_file **out) {
  int prc = dfs__check_path("open", path);
  if (prc) return prc;
  dfs_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  f->fs = fs;
  pthread_mutex_init(&f->mu, NULL);
  int rc = fetch_locations(f);
  if (rc) {
    pthread_mutex_destroy(&f->mu);
    free(f->path);
    free(f);
    return rc;
  }
  dfs__reader_add(fs, f);
  *out = f;
  return 0;
}

int64_t dfs_file_length(dfs_file *f) {
  if (f->writing) return (int64_t)f->length;
  pthread_mutex_lock(&f->mu);
  Dfs__LocatedBlocks *lb = LB(f);
  if (lb && lb->under_construction) fetch_locations(f);
  int64_t l = (int64_t)f->file_length;
  pthread_mutex_unlock(&f->mu);
  return l;
}

int dfs_seek(dfs_file *f, uint64_t offset) {
  if (f->writing) return dfs_err_set(DFS_ENOTSUP, "seek: %s: file is open for writing", f->path);
  f->pos = offset;
  return 0;
}

int64_t dfs_tell(dfs_file *f) { return f->writing ? (int64_t)f->length : (int64_t)f->pos; }

static void report_bad(dfs_file *f, const Dfs__LocatedBlock *b, const Dfs__DatanodeInfo *d) {
  Dfs__ReportBadBlocksRequest r = DFS__REPORT_BAD_BLOCKS_REQUEST__INIT;
  Dfs__LocatedBlock lb = DFS__LOCATED_BLOCK__INIT;
  Dfs__DatanodeInfo *locs[1] = {(Dfs__DatanodeInfo *)d};
  Dfs__LocatedBlock *blocks[1] = {&lb};
  lb.block = b->block;
  lb.offset = b->offset;
  lb.locs = locs;
  lb.n_locs = 1;
  r.blocks = blocks;
  r.n_blocks = 1;
  dfs__nn_call(f->fs, DFS_M_REPORT_BAD_BLOCKS, &r.base, NULL, NULL, 1);
}

/* A READ_BLOCK stream. */
struct stream {
  dfs_conn *conn;
  const Dfs__LocatedBlock *b;
  const Dfs__DatanodeInfo *node;
  uint64_t next;      /* block offset of the next packet's first byte */
  uint64_t end;       /* block offset where the requested range ends */
  int done;           /* LAST packet seen */
};

static int stream_open(dfs_file *f, const Dfs__LocatedBlock *b, uint64_t off, uint64_t len,
                       struct stream *s) {
  int rc = DFS_ENODATANODE;
  char tried[1024] = "", why[512] = "";
  size_t tl = 0;
  /* Nodes that failed before are skipped while another one is left; when
   * all failed, they get one more chance (the failure may have been brief). */
  int all_bad = 1;
  for (size_t i = 0; i < b->n_locs; i++)
    if (!is_bad(f, b->locs[i]->id->uuid)) all_bad = 0;
  for (size_t i = 0; i < b->n_locs; i++) {
    const Dfs__DatanodeInfo *d = b->locs[i];
    if (!all_bad && is_bad(f, d->id->uuid)) continue;
    char a[300];
    dfs__dn_addr(d, a, sizeof a);
    tl += (size_t)snprintf(tried + tl, tl < sizeof tried ? sizeof tried - tl : 0, "%s%s",
                           tl ? ", " : "", a);
    if (tl >= sizeof tried) tl = sizeof tried - 1;
    dfs_conn *k = NULL;
    rc = dfs__take_conn(f->fs, a, &k);
    if (rc) {
      snprintf(why, sizeof why, "%s", dfs_err_msg());
      mark_bad(f, d->id->uuid);
      continue;
    }
    Dfs__ReadBlockRequest r = DFS__READ_BLOCK_REQUEST__INIT;
    r.block = b->block;
    r.offset = off;
    r.length = len;
    r.client_name = f->fs->client_name;
    Dfs__ReadBlockResponse *resp = NULL;
    rc = dfs_conn_call(k, DFS_M_READ_BLOCK, &r.base, &dfs__read_block_response__descriptor,
                       (ProtobufCMessage **)&resp, f->fs->timeout_ms);
    if (rc == 0 && resp->status != 0) {
      rc = resp->status < 0 ? resp->status : DFS_EIO;
      dfs_err_set(rc, "%s: %s", a, resp->message ? resp->message : dfs_strerror(rc));
    }
    if (rc) {
      snprintf(why, sizeof why, "%s", dfs_err_msg());
      if (resp) dfs__read_block_response__free_unpacked(resp, NULL);
      dfs_rpc_client_give(f->fs->rpc, k, false);
      mark_bad(f, d->id->uuid);
      continue;
    }
    s->conn = k;
    s->b = b;
    s->node = d;
    s->next = resp->has_first_chunk_offset ? resp->first_chunk_offset
                                           : off - off % DFS_CHUNK_SIZE;
    s->end = off + len;
    s->done = 0;
    dfs__read_block_response__free_unpacked(resp, NULL);
    dfs_sock_set_buffers(dfs_conn_fd(k), 4 << 20);
    return 0;
  }
  return dfs_err_set(rc ? rc : DFS_ENODATANODE,
                     "read %s: could not obtain block blk_%llu_%llu from any node (tried: %s): %s",
                     f->path, (unsigned long long)b->block->id,
                     (unsigned long long)b->block->genstamp, tl ? tried : "none",
                     why[0] ? why : dfs_strerror(rc ? rc : DFS_ENODATANODE));
}

static void stream_close(dfs_file *f, struct stream *s) {
  if (s->conn) dfs_rpc_client_give(f->fs->rpc, s->conn, s->done);
  s->conn = NULL;
}

/*
 * Read the next packet of the stream. Data goes to `direct` when it is not
 * NULL and cap >= data_len, otherwise to f->rbuf-like scratch (*scratch).
 * Returns data length (0 at LAST), or <0. *where says where it landed.
 */
static ssize_t stream_packet(dfs_file *f, struct stream *s, uint8_t *direct, size_t cap,
                             uint8_t **scratch, size_t *scratch_cap, uint8_t **sums,
                             size_t *sums_cap, uint8_t **where, uint64_t *pkt_off) {
  int fd = dfs_conn_fd(s->conn);
  int64_t deadline = dfs_now_ms() + f->fs->timeout_ms;
  uint8_t hb[DFS_PACKET_HDR_LEN];
  struct dfs_packet_hdr h;
  int rc = dfs_read_full(fd, hb, sizeof hb, deadline);
  if (rc == 0) rc = dfs_packet_hdr_decode(hb, sizeof hb, DFS_PACKET_MAX_DATA, &h);
  if (rc) return rc;
  if (h.flags & DFS_PKT_LAST) {
    if (h.data_len) return dfs_err_set(DFS_EPROTO, "LAST packet with data");
    s->done = 1;
    return 0;
  }
  if ((uint64_t)h.offset != s->next)
    return dfs_err_set(DFS_EPROTO, "packet at block offset %lld, expected %llu",
                       (long long)h.offset, (unsigned long long)s->next);
  uint32_t sl = dfs_packet_sums_len(h.data_len);
  if (*sums_cap < sl) {
    uint8_t *n = realloc(*sums, sl);
    if (!n) return DFS_ENOMEM;
    *sums = n;
    *sums_cap = sl;
  }
  uint8_t *dst = direct;
  if (!dst || cap < h.data_len) {
    if (*scratch_cap < h.data_len) {
      uint8_t *n = realloc(*scratch, h.data_len);
      if (!n) return DFS_ENOMEM;
      *scratch = n;
      *scratch_cap = h.data_len;
    }
    dst = *scratch;
  }
  rc = dfs_read_full(fd, *sums, sl, deadline);
  if (rc == 0) rc = dfs_read_full(fd, dst, h.data_len, deadline);
  if (rc) return rc;
  long bad = crc32c_chunks_verify(dst, h.data_len, DFS_CHUNK_SIZE, *sums);
  if (bad >= 0)
    return dfs_err_set(DFS_ECHECKSUM, "checksum error in block blk_%llu at offset %llu",
                       (unsigned long long)s->b->block->id,
                       (unsigned long long)(h.offset + bad * DFS_CHUNK_SIZE));
  *where = dst;
  *pkt_off = (uint64_t)h.offset;
  s->next = (uint64_t)h.offset + h.data_len;
  return (ssize_t)h.data_len;
}

/* Index of the block holding file offset `pos`, or -1. */
static ssize_t block_at(dfs_file *f, uint64_t pos) {
  Dfs__LocatedBlocks *lb = LB(f);
  if (!lb) return -1;
  size_t lo = 0, hi = lb->n_blocks;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const Dfs__LocatedBlock *b = lb->blocks[mid];
    if (pos < b->offset) hi = mid;
    else if (pos >= b->offset + b->block->num_bytes) lo = mid + 1;
    else return (ssize_t)mid;
  }
  return -1;
}

/* Every location of a block failed: ask the NameNode again (it drops dead
 * nodes and reported corrupt replicas, and may know new replicas) and
 * forget this reader's failed nodes, as HDFS does. Once per read call. */
static int refetch_locations(dfs_file *f) {
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < f->nbad; i++) free(f->bad_nodes[i]);
  f->nbad = 0;
  int rc = fetch_locations(f);
  pthread_mutex_unlock(&f->mu);
  return rc;
}

/* Handle a failed stream: report corruption, skip the node. */
static void stream_failed(dfs_file *f, struct stream *s, int rc) {
  if (rc == DFS_ECHECKSUM || rc == DFS_ECORRUPT) report_bad(f, s->b, s->node);
  mark_bad(f, s->node->id->uuid);
  if (s->conn) dfs_rpc_client_give(f->fs->rpc, s->conn, false);
  s->conn = NULL;
}

/* Free retired block lists. Caller holds f->mu; no dfs_read is running. */
static void free_retired(dfs_file *f) {
  for (size_t i = 0; i < f->nretired; i++) protobuf_c_message_free_unpacked(f->retired[i], NULL);
  f->nretired = 0;
}

static void reader_reset(dfs_file *f) {
  if (f->rconn) dfs_rpc_client_give(f->fs->rpc, f->rconn, false);
  f->rconn = NULL;
  f->rbuf_len = f->rbuf_off = 0;
}

ssize_t dfs_read(dfs_file *f, void *buf, size_t len) {
  if (f->writing) return dfs_err_set(DFS_EBADF, "read: %s: file is open for writing", f->path);
  if (len == 0) return 0;
  /* Serve what is buffered from a previous packet first. */
  if (f->rbuf_len && f->rpos == f->pos) {
    size_t n = f->rbuf_len < len ? f->rbuf_len : len;
    memcpy(buf, f->rbuf + f->rbuf_off, n);
    f->rbuf_off += n;
    f->rbuf_len -= n;
    f->pos += n;
    f->rpos += n;
    return (ssize_t)n;
  }
  pthread_mutex_lock(&f->mu);
  free_retired(f); /* this (single) sequential reader holds no block of them now */
  if (f->pos >= f->file_length && LB(f) && LB(f)->under_construction) fetch_locations(f);
  if (f->pos >= f->file_length) {
    pthread_mutex_unlock(&f->mu);
    return 0;
  }
  ssize_t bi = block_at(f, f->pos);
  if (bi < 0) {
    fetch_locations(f);
    bi = block_at(f, f->pos);
  }
  /* b stays valid after the unlock: a refetch by another thread retires
   * the list instead of freeing it. */
  const Dfs__LocatedBlock *b = bi >= 0 ? LB(f)->blocks[bi] : NULL;
  pthread_mutex_unlock(&f->mu);
  if (bi < 0) return dfs_err_set(DFS_EIO, "read %s: no block holds offset %llu", f->path,
                                 (unsigned long long)f->pos);
  char last[512] = "";
  int refetched = 0;
  for (int attempt = 0; attempt < 8; attempt++) {
    struct stream s = {0};
    if (f->rconn && (f->rblock != (size_t)bi || f->rpos != f->pos)) reader_reset(f);
    if (f->rconn) {
      s.conn = f->rconn;
      s.b = b;
      s.node = b->locs[0];
      for (size_t i = 0; i < b->n_locs; i++) {
        char a[300];
        dfs__dn_addr(b->locs[i], a, sizeof a);
        if (strcmp(a, dfs_conn_addr(f->rconn)) == 0) s.node = b->locs[i];
      }
      s.next = f->rpos - b->offset;
      s.end = b->block->num_bytes;
    } else {
      uint64_t off = f->pos - b->offset;
      int rc = stream_open(f, b, off, b->block->num_bytes - off, &s);
      if (rc && !refetched) {
        char why[1024];
        snprintf(why, sizeof why, "%s", dfs_err_msg());
        refetched = 1;
        if (refetch_locations(f) == 0) {
          pthread_mutex_lock(&f->mu);
          bi = block_at(f, f->pos);
          if (bi >= 0) b = LB(f)->blocks[bi];
          pthread_mutex_unlock(&f->mu);
          if (bi >= 0) continue;
        }
        return dfs_err_set(rc, "%s", why);
      }
      if (rc) return rc;
      f->rconn = s.conn;
      f->rblock = (size_t)bi;
    }
    uint8_t *where = NULL;
    uint64_t poff = 0;
    size_t skip_hint = (size_t)((f->pos - b->offset) - s.next); /* bytes before pos */
    uint8_t *direct = skip_hint == 0 ? buf : NULL;
    ssize_t n = stream_packet(f, &s, direct, len, &f->rbuf, &f->rcap, &f->rsums, &f->rsums_cap,
                              &where, &poff);
    if (n < 0) {
      char a[300];
      dfs__dn_addr(s.node, a, sizeof a);
      snprintf(last, sizeof last, "%s: %s", a, dfs_err_msg());
      stream_failed(f, &s, (int)n);
      f->rconn = NULL;
      continue;
    }
    if (n == 0) { /* end of the block's stream */
      dfs_rpc_client_give(f->fs->rpc, f->rconn, true);
      f->rconn = NULL;
      if (f->pos >= b->offset + b->block->num_bytes) return dfs_read(f, buf, len);
      continue;
    }
    uint64_t pkt_file = b->offset + poff;
    size_t skip = (size_t)(f->pos - pkt_file);
    size_t avail = (size_t)n - skip;
    if (where == buf && skip == 0) {
      f->pos += (uint64_t)n;
      f->rpos = f->pos;
      f->rbuf_len = 0;
      return n;
    }
    size_t take = avail < len ? avail : len;
    memcpy(buf, where + skip, take);
    f->pos += take;
    f->rbuf_off = skip + take;
    f->rbuf_len = avail - take;
    f->rpos = f->pos;
    /* the stream's next packet continues after what is buffered */
    return (ssize_t)take;
  }
  return dfs_err_set(DFS_EIO, "read %s: block blk_%llu: too many failures, last from %s", f->path,
                     (unsigned long long)b->block->id, last[0] ? last : "?");
}

ssize_t dfs_pread(dfs_file *f, uint64_t offset, void *buf, size_t len) {
  if (f->writing) return dfs_err_set(DFS_EBADF, "pread: %s: file is open for writing", f->path);
  uint8_t *out = buf;
  size_t done = 0;
  uint8_t *scratch = NULL, *sums = NULL;
  size_t scap = 0, sumcap = 0;
  int rc = 0, refetched = 0, again = 0;
  while (done < len) {
    uint64_t pos = offset + done;
    pthread_mutex_lock(&f->mu);
    if (pos >= f->file_length && LB(f) && LB(f)->under_construction) fetch_locations(f);
    if (pos >= f->file_length) {
      pthread_mutex_unlock(&f->mu);
      break;
    }
    ssize_t bi = block_at(f, pos);
    /* Copy what we need of the block under the lock: a refetch by another
     * thread would free it. */
    Dfs__LocatedBlock *b = bi >= 0 ? LB(f)->blocks[bi] : NULL;
    uint8_t *packed = NULL;
    size_t plen = 0;
    if (b) {
      plen = dfs__located_block__get_packed_size(b);
      packed = malloc(plen ? plen : 1);
      if (packed) dfs__located_block__pack(b, packed);
    }
    pthread_mutex_unlock(&f->mu);
    if (!b) {
      rc = dfs_err_set(DFS_EIO, "pread %s: no block holds offset %llu", f->path,
                       (unsigned long long)pos);
      break;
    }
    Dfs__LocatedBlock *bc = packed ? dfs__located_block__unpack(NULL, plen, packed) : NULL;
    free(packed);
    if (!bc) {
      rc = dfs_err_set(DFS_ENOMEM, "out of memory");
      break;
    }
    uint64_t boff = pos - bc->offset;
    uint64_t want = bc->block->num_bytes - boff;
    if (want > len - done) want = len - done;
    int ok = 0;
    for (int attempt = 0; attempt < 8 && !ok; attempt++) {
      struct stream s = {0};
      rc = stream_open(f, bc, boff, want, &s); /* no lock held: preads run in parallel */
      if (rc && !refetched) { /* all locations failed: new ones, then this block again */
        char why[1024];
        snprintf(why, sizeof why, "%s", dfs_err_msg());
        refetched = again = 1;
        if (refetch_locations(f) != 0) {
          again = 0;
          dfs_err_set(rc, "%s", why);
        }
      }
      if (rc) break;
      uint64_t got = 0;
      for (;;) {
        uint8_t *where = NULL;
        uint64_t poff = 0;
        ssize_t n = stream_packet(f, &s, NULL, 0, &scratch, &scap, &sums, &sumcap, &where, &poff);
        if (n < 0) {
          stream_failed(f, &s, (int)n);
          rc = (int)n;
          break;
        }
        if (n == 0) {
          stream_close(f, &s);
          ok = got == want;
          if (!ok) rc = dfs_err_set(DFS_EIO, "pread %s: short block stream", f->path);
          break;
        }
        /* copy the part of [poff, poff+n) inside [boff, boff+want) */
        uint64_t lo = poff > boff ? poff : boff;
        uint64_t hi = poff + (uint64_t)n < boff + want ? poff + (uint64_t)n : boff + want;
        if (hi > lo) {
          memcpy(out + done + (lo - boff), where + (lo - poff), hi - lo);
          got += hi - lo;
        }
      }
    }
    dfs__located_block__free_unpacked(bc, NULL);
    if (again) {
      again = 0;
      continue;
    }
    if (!ok) break;
    rc = 0;
    done += want;
  }
  free(scratch);
  free(sums);
  if (rc && done == 0) return rc;
  return (ssize_t)done;
}

int dfs__reader_close(dfs_file *f) {
  dfs__reader_remove(f->fs, f);
  reader_reset(f);
  if (f->locs_resp) protobuf_c_message_free_unpacked(f->locs_resp, NULL);
  free_retired(f);
  free(f->retired);
  free(f->rbuf);
  free(f->rsums);
  for (size_t i = 0; i < f->nbad; i++) free(f->bad_nodes[i]);
  free(f->bad_nodes);
  return 0;
}

int dfs_close(dfs_file *f) {
  if (!f) return 0;
  int rc = f->writing ? dfs__writer_close(f) : dfs__reader_close(f);
  pthread_mutex_destroy(&f->mu);
  free(f->path);
  free(f);
  return rc;
}
