/*
 * fsimage.c - save and load the namespace image (see fsimage.h).
 *
 * Saving walks the tree in pre-order and streams framed records through a
 * 1 MiB buffer; loading maps the file, checks every frame's CRC, and
 * rebuilds the tree with a temporary id -> inode map for the parent links.
 * Any inconsistency (unknown parent, a file as parent, a duplicate name or
 * block, a count mismatch, bytes after the trailer) is corruption naming
 * the file and the offset: an image is trusted only when entirely valid.
 */
#include "fsimage.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "editlog.h"
#include "errors.h"
#include "fsimage.pb-c.h"
#include "log.h"

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- saving ---- */

struct writer {
  int fd;
  int rc;
  uint8_t *buf;
  size_t len, cap;
  uint64_t count;
  Nn__BlockRec *brecs;  /* scratch for a file's blocks */
  Nn__BlockRec **bptrs;
  size_t bcap;
};

static int w_flush(struct writer *w) {
  size_t off = 0;
  while (off < w->len) {
    ssize_t n = write(w->fd, w->buf + off, w->len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    off += (size_t)n;
  }
  w->len = 0;
  return 0;
}

static void w_record(struct writer *w, const ProtobufCMessage *m) {
  if (w->rc) return;
  size_t sz = protobuf_c_message_get_packed_size(m);
  if (w->len + sz + 8 > w->cap) {
    if ((w->rc = w_flush(w)) != 0) return;
    if (sz + 8 > w->cap) {
      uint8_t *nb = realloc(w->buf, sz + 8);
      if (!nb) {
        w->rc = DFS_ENOMEM;
        return;
      }
      w->buf = nb;
      w->cap = sz + 8;
    }
  }
  uint8_t *p = w->buf + w->len;
  protobuf_c_message_pack(m, p + 8);
  put32(p, (uint32_t)sz);
  put32(p + 4, crc32c(0, p + 8, sz));
  w->len += sz + 8;
}

static int save_inode(nn_inode *n, void *arg);

static int save_children(nn_inode *child, void *arg) { return save_inode(child, arg); }

static int save_inode(nn_inode *n, void *arg) {
  struct writer *w = arg;
  Nn__InodeRec r = NN__INODE_REC__INIT;
  r.id = n->id;
  r.parent_id = n->parent ? n->parent->id : 0;
  r.name.data = (uint8_t *)n->name;
  r.name.len = n->name_len;
  r.is_dir = n->is_dir;
  r.perm = n->perm;
  r.owner = (char *)n->owner;
  r.group = (char *)n->group;
  r.mtime = (uint64_t)n->mtime;
  r.has_atime = true;
  r.atime = (uint64_t)n->atime;
  if (!n->is_dir) {
    r.has_replication = r.has_blocksize = true;
    r.replication = n->u.file.repl;
    r.blocksize = n->u.file.blocksize;
    if (n->u.file.nblocks > w->bcap) {
      size_t nc = n->u.file.nblocks * 2;
      Nn__BlockRec *nb = realloc(w->brecs, nc * sizeof *nb);
      if (!nb) return w->rc = DFS_ENOMEM;
      w->brecs = nb;
      Nn__BlockRec **np = realloc(w->bptrs, nc * sizeof *np);
      if (!np) return w->rc = DFS_ENOMEM;
      w->bptrs = np;
      w->bcap = nc;
    }
    for (uint32_t i = 0; i < n->u.file.nblocks; i++) {
      const struct nn_block *b = n->u.file.blocks[i];
      nn__block_rec__init(&w->brecs[i]);
      w->brecs[i].id = b->id;
      w->brecs[i].genstamp = b->genstamp;
      w->brecs[i].num_bytes = b->num_bytes;
      w->bptrs[i] = &w->brecs[i];
    }
    r.n_blocks = n->u.file.nblocks;
    r.blocks = w->bptrs;
    if (n->u.file.uc) {
      r.has_under_construction = true;
      r.under_construction = true;
      r.client_name = n->u.file.uc->client_name;
      r.client_machine = n->u.file.uc->client_machine;
    }
  }
  w_record(w, &r.base);
  w->count++;
  if (w->rc) return w->rc;
  if (n->is_dir) return nn_dir_walk(n, NULL, 0, save_children, w);
  return 0;
}

static uint64_t tree_count(const nn_inode *n);
static int count_cb(nn_inode *c, void *arg) {
  *(uint64_t *)arg += tree_count(c);
  return 0;
}
static uint64_t tree_count(const nn_inode *n) {
  uint64_t k = 1;
  if (n->is_dir) nn_dir_walk(n, NULL, 0, count_cb, &k);
  return k;
}

int nn_fsimage_save(const char *dir, const nn_inode *root,
                    const struct nn_image_counters *c) {
  char tmp[4200], final[4096];
  snprintf(final, sizeof final, "%s/fsimage_%019" PRIu64, dir, c->txid);
  snprintf(tmp, sizeof tmp, "%s.tmp", final);
  struct writer w = {.fd = -1};
  w.cap = 1 << 20;
  w.buf = malloc(w.cap);
  if (!w.buf) return DFS_ENOMEM;
  w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int rc = 0;
  if (w.fd < 0) {
    rc = dfs_err_set(-errno, "fsimage: %s: %s", tmp, strerror(errno));
    goto out;
  }
  memcpy(w.buf, NN_IMAGE_MAGIC, 8);
  w.len = 8;
  uint64_t total = tree_count(root);
  Nn__ImageHeader h = NN__IMAGE_HEADER__INIT;
  h.layout_version = 1;
  h.txid = c->txid;
  h.last_inode_id = c->last_inode_id;
  h.next_block_id = c->next_block_id;
  h.genstamp = c->genstamp;
  h.num_inodes = total;
  w_record(&w, &h.base);
  save_inode((nn_inode *)root, &w);
  Nn__ImageTrailer t = NN__IMAGE_TRAILER__INIT;
  t.num_inodes = w.count;
  t.txid = c->txid;
  w_record(&w, &t.base);
  if (w.rc == 0) w.rc = w_flush(&w);
  if (w.rc == 0 && fsync(w.fd) != 0) w.rc = -errno;
  if (w.rc) {
    rc = dfs_err_set(w.rc, "fsimage: writing %s: %s", tmp, strerror(-w.rc));
    goto out;
  }
  close(w.fd);
  w.fd = -1;
  if (rename(tmp, final) != 0) {
    rc = dfs_err_set(-errno, "fsimage: rename %s: %s", tmp, strerror(errno));
    goto out;
  }
  rc = nn_fsync_dir(dir);
  if (rc) rc = dfs_err_set(rc, "fsimage: fsync %s: %s", dir, strerror(-rc));
out:
  if (w.fd >= 0) {
    close(w.fd);
    unlink(tmp);
  }
  free(w.buf);
  free(w.brecs);
  free(w.bptrs);
  return rc;
}

/* ---- loading ---- */

static int free_cb(nn_inode *c, void *arg) {
  (void)arg;
  nn_tree_free(c);
  return 0;
}

void nn_tree_free(nn_inode *root) {
  if (!root) return;
  nn_inode **v;
  size_t k;
  if (nn_subtree_collect(root, &v, &k) == 0) {
    for (size_t i = 0; i < k; i++) nn_inode_free(v[i]);
    free(v);
    return;
  }
  if (root->is_dir) nn_dir_walk(root, NULL, 0, free_cb, NULL); /* out of memory: recurse */
  nn_inode_free(root);
}

#define CORRUPT(off, ...) corrupt(file, (off), __VA_ARGS__)
static int corrupt(const char *file, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int corrupt(const char *file, size_t off, const char *fmt, ...) {
  char why[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return dfs_err_set(DFS_ECORRUPT, "image corrupt: %s: offset %zu: %s", file, off, why);
}

/* Next frame at *off: sets payload and length, advances *off. */
static int next_frame(const uint8_t *buf, size_t len, size_t *off, const char *file,
                      const uint8_t **payload, uint32_t *plen) {
  if (len - *off < 8)
    return CORRUPT(*off, "expected an 8-byte record header, found %zu bytes", len - *off);
  uint32_t n = get32(buf + *off);
  if (n > len - *off - 8)
    return CORRUPT(*off, "expected a %u-byte record, found %zu bytes", n, len - *off - 8);
  uint32_t want = get32(buf + *off + 4), got = crc32c(0, buf + *off + 8, n);
  if (want != got) return CORRUPT(*off, "expected crc32c %08x, computed %08x", want, got);
  *payload = buf + *off + 8;
  *plen = n;
  *off += 8 + (size_t)n;
  return 0;
}

int nn_fsimage_load_buf(const uint8_t *buf, size_t len, const char *file,
                        nn_intern *strings, struct nn_blockmap *bm, nn_inode **rootp,
                        struct nn_image_counters *c) {
  int rc = 0;
  size_t off = 0, at;
  const uint8_t *p;
  uint32_t n;
  nn_inode *root = NULL;
  Nn__ImageHeader *h = NULL;
  Nn__ImageTrailer *t = NULL;
  struct nn_u64map ids;
  nn_u64map_init(&ids);
  if (len < 8 || memcmp(buf, NN_IMAGE_MAGIC, 8) != 0)
    return CORRUPT(0, "expected the magic \"%s\"", NN_IMAGE_MAGIC);
  off = 8;
  at = off;
  if ((rc = next_frame(buf, len, &off, file, &p, &n)) != 0) goto out;
  h = nn__image_header__unpack(NULL, n, p);
  if (!h || h->layout_version != 1 || h->num_inodes == 0) {
    rc = CORRUPT(at, "expected an ImageHeader of layout version 1");
    goto out;
  }
  for (uint64_t i = 0; i < h->num_inodes; i++) {
    at = off;
    if ((rc = next_frame(buf, len, &off, file, &p, &n)) != 0) goto out;
    Nn__InodeRec *r = nn__inode_rec__unpack(NULL, n, p);
    if (!r) {
      rc = CORRUPT(at, "expected an InodeRec (inode %" PRIu64 " of %" PRIu64 ")", i + 1,
                   h->num_inodes);
      goto out;
    }
    nn_inode *parent = NULL, *in = NULL;
    if (i == 0) {
      if (r->parent_id != 0 || !r->is_dir || r->name.len != 0) rc = CORRUPT(at, "expected the root directory first");
    } else {
      parent = r->parent_id ? nn_u64map_get(&ids, r->parent_id) : NULL;
      if (!parent || !parent->is_dir)
        rc = CORRUPT(at, "inode %" PRIu64 ": parent %" PRIu64 " is not a known directory",
                     r->id, r->parent_id);
      else if (r->name.len == 0 || memchr(r->name.data, '/', r->name.len) ||
               memchr(r->name.data, 0, r->name.len))
        rc = CORRUPT(at, "inode %" PRIu64 ": invalid name", r->id);
    }
    if (rc == 0 && (r->id == 0 || nn_u64map_get(&ids, r->id)))
      rc = CORRUPT(at, "inode id %" PRIu64 " is zero or repeated", r->id);
    if (rc == 0) {
      in = nn_inode_new(r->id, (const char *)r->name.data, r->name.len, r->is_dir);
      if (!in) rc = DFS_ENOMEM;
    }
    if (rc == 0) {
      in->perm = (uint16_t)(r->perm & 07777);
      in->owner = nn_intern_get(strings, r->owner);
      in->group = nn_intern_get(strings, r->group);
      in->mtime = (int64_t)r->mtime;
      in->atime = (int64_t)r->atime;
      if (!in->owner || !in->group) rc = DFS_ENOMEM;
    }
    if (rc == 0 && !r->is_dir) {
      in->u.file.repl = (uint16_t)(r->has_replication ? r->replication : 1);
      in->u.file.blocksize = r->blocksize;
      if (r->n_blocks) {
        in->u.file.blocks = calloc(r->n_blocks, sizeof *in->u.file.blocks);
        if (!in->u.file.blocks) rc = DFS_ENOMEM;
        in->u.file.bcap = (uint32_t)r->n_blocks;
      }
      for (size_t k = 0; rc == 0 && k < r->n_blocks; k++) {
        struct nn_block *b = nn_blockmap_add(bm, r->blocks[k]->id, r->blocks[k]->genstamp,
                                             r->blocks[k]->num_bytes, in);
        if (!b) {
          rc = CORRUPT(at, "inode %" PRIu64 ": block %" PRIu64 " is zero or repeated", r->id,
                       r->blocks[k]->id);
          break;
        }
        bool last = k + 1 == r->n_blocks;
        b->state = (r->under_construction && last) ? NN_BLOCK_UC : NN_BLOCK_COMPLETE;
        in->u.file.blocks[in->u.file.nblocks++] = b;
      }
      if (rc == 0 && r->under_construction) {
        in->u.file.uc = calloc(1, sizeof *in->u.file.uc);
        if (in->u.file.uc) {
          in->u.file.uc->client_name = strdup(r->client_name ? r->client_name : "");
          in->u.file.uc->client_machine = strdup(r->client_machine ? r->client_machine : "");
        }
        if (!in->u.file.uc || !in->u.file.uc->client_name || !in->u.file.uc->client_machine)
          rc = DFS_ENOMEM;
      }
    }
    if (rc == 0 && parent && nn_dir_insert(parent, in) != 0)
      rc = CORRUPT(at, "inode %" PRIu64 ": name repeated in directory %" PRIu64, r->id,
                   parent->id);
    if (rc == 0 && nn_u64map_put(&ids, in->id, in) != 0) rc = DFS_ENOMEM;
    if (rc == 0 && !parent) root = in;
    nn__inode_rec__free_unpacked(r, NULL);
    if (rc) {
      if (in && in != root && !in->parent) {
        /* not linked: its blocks point at it; drop them from the map */
        if (!in->is_dir)
          for (uint32_t k = 0; k < in->u.file.nblocks; k++)
            nn_blockmap_remove(bm, in->u.file.blocks[k]);
        nn_inode_free(in);
      }
      goto out;
    }
  }
  at = off;
  if ((rc = next_frame(buf, len, &off, file, &p, &n)) != 0) goto out;
  t = nn__image_trailer__unpack(NULL, n, p);
  if (!t || t->num_inodes != h->num_inodes || t->txid != h->txid) {
    rc = CORRUPT(at, "expected an ImageTrailer repeating %" PRIu64 " inodes and txid %" PRIu64,
                 h->num_inodes, h->txid);
    goto out;
  }
  if (off != len) {
    rc = CORRUPT(off, "expected the end of the file after the trailer, found %zu bytes",
                 len - off);
    goto out;
  }
  c->txid = h->txid;
  c->last_inode_id = h->last_inode_id;
  c->next_block_id = h->next_block_id;
  c->genstamp = h->genstamp;
  *rootp = root;
  root = NULL;
out:
  nn_tree_free(root);
  nn_u64map_free(&ids);
  if (h) nn__image_header__free_unpacked(h, NULL);
  if (t) nn__image_trailer__free_unpacked(t, NULL);
  return rc;
}

/* Image txids of dir, newest first. */
static int list_images(const char *dir, uint64_t **out, size_t *nout) {
  DIR *d = opendir(dir);
  if (!d) return dfs_err_set(-errno, "fsimage: %s: %s", dir, strerror(errno));
  uint64_t *v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    unsigned long long t;
    int end = 0;
    if (sscanf(e->d_name, "fsimage_%llu%n", &t, &end) != 1 || e->d_name[end] != '\0')
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      uint64_t *nv = realloc(v, cap * sizeof *nv);
      if (!nv) break;
      v = nv;
    }
    v[n++] = t;
  }
  closedir(d);
  for (size_t i = 1; i < n; i++) /* insertion sort, descending */
    for (size_t j = i; j > 0 && v[j - 1] < v[j]; j--) {
      uint64_t x = v[j];
      v[j] = v[j - 1];
      v[j - 1] = x;
    }
  *out = v;
  *nout = n;
  return 0;
}

int nn_fsimage_load(const char *dir, nn_intern *strings, struct nn_blockmap *bm,
                    nn_inode **root, struct nn_image_counters *c) {
  uint64_t *txids = NULL;
  size_t n = 0;
  int rc = list_images(dir, &txids, &n);
  if (rc) return rc;
  if (n == 0) {
    free(txids);
    return dfs_err_set(DFS_ENOENT, "fsimage: %s: no image", dir);
  }
  rc = DFS_ECORRUPT;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fsimage_%019" PRIu64, dir, txids[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      rc = dfs_err_set(-errno, "fsimage: %s: %s", path, strerror(errno));
      if (fd >= 0) close(fd);
      LOG_WARN("namenode", "%s", dfs_err_msg());
      continue;
    }
    size_t len = (size_t)st.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (map == MAP_FAILED) {
      rc = dfs_err_set(-errno, "fsimage: mmap %s: %s", path, strerror(errno));
      continue;
    }
    rc = nn_fsimage_load_buf(map ? map : (const void *)"", len, path, strings, bm, root, c);
    if (map) munmap(map, len);
    if (rc == 0) {
      if (c->txid != txids[i]) {
        rc = dfs_err_set(DFS_ECORRUPT, "image corrupt: %s: header txid %" PRIu64, path, c->txid);
        nn_tree_free(*root);
      } else {
        break;
      }
    }
    LOG_WARN("namenode", "%s; trying an older image", dfs_err_msg());
    nn_blockmap_free(bm);
    nn_blockmap_init(bm);
  }
  free(txids);
  return rc;
}

uint64_t nn_fsimage_purge(const char *dir) {
  uint64_t *txids = NULL;
  size_t n = 0;
  if (list_images(dir, &txids, &n) != 0) return 0;
  uint64_t oldest = 0;
  for (size_t i = 0; i < n; i++) {
    if (i < NN_IMAGE_KEEP) {
      oldest = txids[i];
      continue;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/fsimage_%019" PRIu64, dir, txids[i]);
    unlink(path);
  }
  free(txids);
  /* leftover .tmp files from a crash during a checkpoint */
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      size_t l = strlen(e->d_name);
      if (strncmp(e->d_name, "fsimage_", 8) == 0 && l > 4 &&
          strcmp(e->d_name + l - 4, ".tmp") == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
      }
    }
    closedir(d);
  }
  return oldest;
}
