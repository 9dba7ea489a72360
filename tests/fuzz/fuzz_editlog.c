/*
 * fuzz_editlog.c - libFuzzer target for the NameNode's on-disk decoders:
 * the edit log segment scanner (framing, CRC, EditRecord decoding, the
 * torn-tail / corruption classification) and the image loader (framing,
 * header, inode records, tree rebuilding, trailer). The first input byte
 * picks the decoder; the rest is the file content. Both must answer any
 * bytes with an error, never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "blockmap.h"
#include "editlog.h"
#include "fsimage.h"
#include "inode.h"
#include "namesystem_int.h"

static int count_cb(void *arg, const Nn__EditRecord *rec, const char *file, uint64_t off) {
  (void)file;
  (void)off;
  /* touch the decoded fields the replay reads */
  *(uint64_t *)arg += rec->txid + rec->path.len + rec->n_blocks;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  if (mode & 1) {
    nn_intern *s = nn_intern_new();
    struct nn_blockmap bm;
    nn_blockmap_init(&bm);
    nn_inode *root = NULL;
    struct nn_image_counters c;
    if (s && nn_fsimage_load_buf(data, size, "fuzz", s, &bm, &root, &c) == 0) nn_tree_free(root);
    nn_blockmap_free(&bm);
    nn_intern_free(s);
  } else if (mode & 2) {
    struct nn_config cfg;
    nn_config_defaults(&cfg);
    nn_ns *ns = NULL;
    if (nn_ns_open_memory(&cfg, &ns) == 0) {
      nn_ns_replay_buf(ns, data, size);
      nn_ns_close(ns, false);
    }
  } else {
    struct nn_edit_scan res;
    uint64_t sum = 0;
    nn_editlog_scan(data, size, "fuzz", count_cb, &sum, &res);
  }
  return 0;
}
