/*
 * fsimage.h - the namespace image (checkpoint): save and load.
 *
 * File "fsimage_<txid>" (txid zero-padded to 19 digits): the 8-byte magic
 * "NNIMAGE1", then records framed like edit log records
 *   u32 length (big-endian) | u32 crc32c(payload) (big-endian) | payload
 * The first record is an ImageHeader (txid, counters, inode count), then
 * one InodeRec per inode in pre-order (parents before children), then an
 * ImageTrailer repeating the count and txid; nothing may follow it. Written
 * to fsimage_<txid>.tmp, fsynced, renamed, directory fsynced: an image is
 * either complete or absent. Layout in docs/namenode.md.
 */
#ifndef NN_FSIMAGE_H
#define NN_FSIMAGE_H

#include <stdint.h>

#include "blockmap.h"
#include "inode.h"

#define NN_IMAGE_MAGIC "NNIMAGE1"
#define NN_IMAGE_KEEP 2

struct nn_image_counters {
  uint64_t txid;          /* last transaction reflected */
  uint64_t last_inode_id; /* highest inode id handed out */
  uint64_t next_block_id; /* next block id to hand out */
  uint64_t genstamp;      /* last generation stamp handed out */
};

/*
 * Write the tree under root with its blocks as fsimage_<c->txid> in dir.
 * The caller keeps the tree from changing meanwhile (namespace lock, read
 * mode is enough). 0 or a negative code with a message.
 */
int nn_fsimage_save(const char *dir, const nn_inode *root,
                    const struct nn_image_counters *c);

/*
 * Load the newest valid image of dir. Inodes get interned owner/group
 * strings from `strings`; blocks are added to bm (which must be empty).
 * A corrupt newest image is reported (LOG_WARN, naming file and offset)
 * and the next older one tried. Returns 0 with *root and *c; DFS_ENOENT
 * when dir holds no image at all; DFS_ECORRUPT when every image is bad.
 */
int nn_fsimage_load(const char *dir, nn_intern *strings, struct nn_blockmap *bm,
                    nn_inode **root, struct nn_image_counters *c);

/*
 * Load one image held in memory (the fuzz target and the loader share it).
 * `file` names it in messages. On failure nothing is left allocated (bm
 * may hold blocks that the caller frees with nn_blockmap_free()).
 */
int nn_fsimage_load_buf(const uint8_t *buf, size_t len, const char *file,
                        nn_intern *strings, struct nn_blockmap *bm, nn_inode **root,
                        struct nn_image_counters *c);

/* Free a whole tree (inodes only; blocks belong to the blockmap). */
void nn_tree_free(nn_inode *root);

/* Keep the newest NN_IMAGE_KEEP images, delete older ones and stale .tmp
 * files. Returns the txid of the oldest image kept (edits up to it are no
 * longer needed), or 0. */
uint64_t nn_fsimage_purge(const char *dir);

#endif
