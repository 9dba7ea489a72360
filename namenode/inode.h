/*
 * inode.h - the namespace tree: inodes, and directories whose children are
 * kept in a treap ordered by name.
 *
 * Each directory's children form a treap (a binary search tree by name
 * that is also a heap by a priority derived from the name's hash), with a
 * subtree size in every node. That gives O(log n) lookup, insert and delete
 * however large a directory grows, in-order walks for listings that start
 * after a given name, and the rank needed to say how many entries remain
 * after a listing page. The treap links live inside the child inode, so a
 * directory costs one pointer and a child no extra allocation.
 *
 * Names compare as byte strings (memcmp, then length), as HDFS orders them.
 * Owner and group strings are interned (nn_intern) and never freed while
 * the tree lives, so status replies can point at them.
 *
 * Not thread-safe: the namesystem's namespace lock guards every inode.
 */
#ifndef NN_INODE_H
#define NN_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nn_block;

/* Lease holder of a file under construction. */
struct nn_uc {
  char *client_name;     /* owned */
  char *client_machine;  /* owned; IP of the writer */
  uint64_t visible_len;  /* last block length reported by fsync (hflush) */
};

typedef struct nn_inode nn_inode;
struct nn_inode {
  uint64_t id;
  nn_inode *parent;      /* NULL for the root */
  nn_inode *tl, *tr;     /* treap links among the parent's children */
  uint32_t prio;         /* treap heap priority (hash of the name) */
  uint32_t tsize;        /* nodes in this treap subtree */
  char *name;            /* owned, NUL-terminated; "" for the root */
  uint32_t name_len;
  uint16_t perm;         /* low 12 bits */
  bool is_dir;
  const char *owner;     /* interned */
  const char *group;     /* interned */
  int64_t mtime, atime;  /* ms since the epoch */
  union {
    struct {
      nn_inode *root;    /* treap of children */
    } dir;
    struct {
      uint16_t repl;
      uint64_t blocksize;
      struct nn_block **blocks; /* owned array; blocks owned by the blockmap */
      uint32_t nblocks, bcap;
      struct nn_uc *uc;  /* owned; NULL when the file is closed */
    } file;
  } u;
};

/* A new inode with a copy of name[0..len). NULL on allocation failure. The
 * caller links it into a directory (nn_dir_insert) or frees it
 * (nn_inode_free). */
nn_inode *nn_inode_new(uint64_t id, const char *name, size_t len, bool is_dir);
/* Free one inode (not its children; not its blocks, only the array). */
void nn_inode_free(nn_inode *n);
/* Replace the name (rename). 0 or DFS_ENOMEM. The inode must not be linked
 * in a directory while its name changes. */
int nn_inode_set_name(nn_inode *n, const char *name, size_t len);

/* Children of directory d. */
size_t nn_dir_count(const nn_inode *d);
nn_inode *nn_dir_lookup(const nn_inode *d, const char *name, size_t len);
/* Link child (not yet linked anywhere) into d; sets child->parent.
 * DFS_EEXIST if the name is taken (nothing changes). */
int nn_dir_insert(nn_inode *d, nn_inode *child);
/* Unlink child from d (its parent); child->parent becomes NULL. */
void nn_dir_remove(nn_inode *d, nn_inode *child);
/* Number of children whose name is <= name (the rank of a start_after). */
size_t nn_dir_rank(const nn_inode *d, const char *name, size_t len);
/*
 * Call cb(child, arg) for each child in name order, starting after `after`
 * (NULL: from the first). Stops early when cb returns non-zero, and
 * returns that value (0 if the walk ended). cb must not change d.
 */
int nn_dir_walk(const nn_inode *d, const char *after, size_t after_len,
                int (*cb)(nn_inode *child, void *arg), void *arg);

/*
 * Every inode of the subtree at root (root first, parents before their
 * children) into a new array *out (caller frees) of *n entries. Iterative:
 * RPC handler threads have small stacks and paths may be 1000 deep.
 * 0 or DFS_ENOMEM. The tree must not change while the array is used,
 * except that freeing the collected inodes is fine once collected.
 */
int nn_subtree_collect(nn_inode *root, nn_inode ***out, size_t *n);

/* Compare two names as HDFS does (bytes, then length). */
int nn_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* ---- interned strings ---- */
typedef struct nn_intern nn_intern;
nn_intern *nn_intern_new(void);
/* Free the table and every string it handed out. */
void nn_intern_free(nn_intern *t);
/* The canonical copy of s (valid until nn_intern_free), or NULL on
 * allocation failure. Thread-safe (own mutex). */
const char *nn_intern_get(nn_intern *t, const char *s);

#endif
