/*
 * inode.c - inodes, the per-directory treap of children, interned strings.
 *
 * The treap priority is a hash of the name rather than a random number, so
 * the shape of a directory is a pure function of its names (reproducible
 * in tests, and no random state to guard). Insert and delete are the
 * classic split/merge-free rotations; every rotation fixes up subtree
 * sizes. Recursion depth is the treap depth, O(log n) with high
 * probability.
 */
#include "inode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

static uint32_t name_hash(const char *s, size_t len) {
  uint32_t h = 2166136261u; /* FNV-1a, then a finaliser for the high bits */
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  return h;
}

nn_inode *nn_inode_new(uint64_t id, const char *name, size_t len, bool is_dir) {
  nn_inode *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->id = id;
  n->is_dir = is_dir;
  n->tsize = 1;
  if (nn_inode_set_name(n, name, len) != 0) {
    free(n);
    return NULL;
  }
  return n;
}

int nn_inode_set_name(nn_inode *n, const char *name, size_t len) {
  char *s = malloc(len + 1);
  if (!s) return DFS_ENOMEM;
  if (len) memcpy(s, name, len);
  s[len] = '\0';
  free(n->name);
  n->name = s;
  n->name_len = (uint32_t)len;
  n->prio = name_hash(name, len);
  return 0;
}

void nn_inode_free(nn_inode *n) {
  if (!n) return;
  if (!n->is_dir) {
    free(n->u.file.blocks);
    if (n->u.file.uc) {
      free(n->u.file.uc->client_name);
      free(n->u.file.uc->client_machine);
      free(n->u.file.uc);
    }
  }
  free(n->name);
  free(n);
}

int nn_name_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

static inline uint32_t tsz(const nn_inode *n) { return n ? n->tsize : 0; }
static inline void fix(nn_inode *n) { n->tsize = 1 + tsz(n->tl) + tsz(n->tr); }

size_t nn_dir_count(const nn_inode *d) { return tsz(d->u.dir.root); }

nn_inode *nn_dir_lookup(const nn_inode *d, const char *name, size_t len) {
  nn_inode *n = d->u.dir.root;
  while (n) {
    int c = nn_name_cmp(name, len, n->name, n->name_len);
    if (c == 0) return n;
    n = c < 0 ? n->tl : n->tr;
  }
  return NULL;
}

static nn_inode *rot_right(nn_inode *n) {
  nn_inode *l = n->tl;
  n->tl = l->tr;
  l->tr = n;
  fix(n);
  fix(l);
  return l;
}

static nn_inode *rot_left(nn_inode *n) {
  nn_inode *r = n->tr;
  n->tr = r->tl;
  r->tl = n;
  fix(n);
  fix(r);
  return r;
}

static nn_inode *treap_insert(nn_inode *t, nn_inode *x, int *rc) {
  if (!t) return x;
  int c = nn_name_cmp(x->name, x->name_len, t->name, t->name_len);
  if (c == 0) {
    *rc = DFS_EEXIST;
    return t;
  }
  if (c < 0) {
    t->tl = treap_insert(t->tl, x, rc);
    if (*rc) return t;
    fix(t);
    if (t->tl->prio > t->prio) t = rot_right(t);
  } else {
    t->tr = treap_insert(t->tr, x, rc);
    if (*rc) return t;
    fix(t);
    if (t->tr->prio > t->prio) t = rot_left(t);
  }
  return t;
}

int nn_dir_insert(nn_inode *d, nn_inode *child) {
  int rc = 0;
  child->tl = child->tr = NULL;
  child->tsize = 1;
  d->u.dir.root = treap_insert(d->u.dir.root, child, &rc);
  if (rc == 0) child->parent = d;
  return rc;
}

/* Remove x from the treap t (x is in it): rotate it down to a leaf. */
static nn_inode *treap_remove(nn_inode *t, nn_inode *x) {
  if (t == x) {
    if (!t->tl) return t->tr;
    if (!t->tr) return t->tl;
    if (t->tl->prio > t->tr->prio) {
      t = rot_right(t);
      t->tr = treap_remove(t->tr, x);
    } else {
      t = rot_left(t);
      t->tl = treap_remove(t->tl, x);
    }
    fix(t);
    return t;
  }
  if (nn_name_cmp(x->name, x->name_len, t->name, t->name_len) < 0)
    t->tl = treap_remove(t->tl, x);
  else
    t->tr = treap_remove(t->tr, x);
  fix(t);
  return t;
}

void nn_dir_remove(nn_inode *d, nn_inode *child) {
  d->u.dir.root = treap_remove(d->u.dir.root, child);
  child->tl = child->tr = NULL;
  child->tsize = 1;
  child->parent = NULL;
}

size_t nn_dir_rank(const nn_inode *d, const char *name, size_t len) {
  size_t r = 0;
  const nn_inode *n = d->u.dir.root;
  while (n) {
    int c = nn_name_cmp(name, len, n->name, n->name_len);
    if (c < 0) {
      n = n->tl;
    } else {
      r += 1 + tsz(n->tl);
      if (c == 0) break;
      n = n->tr;
    }
  }
  return r;
}

static int walk(nn_inode *t, const char *after, size_t alen,
                int (*cb)(nn_inode *, void *), void *arg) {
  while (t) {
    if (after && nn_name_cmp(t->name, t->name_len, after, alen) <= 0) {
      t = t->tr; /* everything left of and at t is not after `after` */
      continue;
    }
    int rc = walk(t->tl, after, alen, cb, arg);
    if (rc) return rc;
    /* Capture the right link first: the callback may not change the
     * directory, but this keeps the walk tail-iterative. */
    nn_inode *right = t->tr;
    rc = cb(t, arg);
    if (rc) return rc;
    t = right;
    after = NULL; /* everything right of a visited node is after */
  }
  return 0;
}

int nn_dir_walk(const nn_inode *d, const char *after, size_t after_len,
                int (*cb)(nn_inode *child, void *arg), void *arg) {
  return walk(d->u.dir.root, after, after_len, cb, arg);
}

struct collect {
  nn_inode **v;
  size_t n, cap;
  int rc;
};

static int collect_cb(nn_inode *c, void *arg) {
  struct collect *x = arg;
  if (x->n == x->cap) {
    size_t nc = x->cap * 2;
    nn_inode **nv = realloc(x->v, nc * sizeof *nv);
    if (!nv) return x->rc = DFS_ENOMEM;
    x->v = nv;
    x->cap = nc;
  }
  x->v[x->n++] = c;
  return 0;
}

int nn_subtree_collect(nn_inode *root, nn_inode ***out, size_t *n) {
  struct collect x = {.cap = 64};
  x.v = malloc(x.cap * sizeof *x.v);
  if (!x.v) return DFS_ENOMEM;
  x.v[x.n++] = root;
  /* The array doubles as the work queue: entry i's children are appended
   * when i is visited, so parents always precede their children. */
  for (size_t i = 0; i < x.n; i++) {
    if (!x.v[i]->is_dir) continue;
    if (nn_dir_walk(x.v[i], NULL, 0, collect_cb, &x) != 0) {
      free(x.v);
      return x.rc ? x.rc : DFS_ENOMEM;
    }
  }
  *out = x.v;
  *n = x.n;
  return 0;
}

/* ---- interned strings: a small chained hash set ---- */
struct nn_istr {
  struct nn_istr *next;
  char s[];
};

struct nn_intern {
  pthread_mutex_t mu;   /* guards buckets, nb, len */
  struct nn_istr **buckets;
  size_t nb, len;
};

nn_intern *nn_intern_new(void) {
  nn_intern *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->nb = 64;
  t->buckets = calloc(t->nb, sizeof *t->buckets);
  if (!t->buckets) {
    free(t);
    return NULL;
  }
  pthread_mutex_init(&t->mu, NULL);
  return t;
}

void nn_intern_free(nn_intern *t) {
  if (!t) return;
  for (size_t i = 0; i < t->nb; i++) {
    struct nn_istr *e = t->buckets[i];
    while (e) {
      struct nn_istr *n = e->next;
      free(e);
      e = n;
    }
  }
  free(t->buckets);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

const char *nn_intern_get(nn_intern *t, const char *s) {
  size_t len = strlen(s);
  uint32_t h = name_hash(s, len);
  const char *out = NULL;
  pthread_mutex_lock(&t->mu);
  for (struct nn_istr *e = t->buckets[h & (t->nb - 1)]; e; e = e->next) {
    if (strcmp(e->s, s) == 0) {
      out = e->s;
      goto done;
    }
  }
  if (t->len + 1 > t->nb) { /* grow: rehash into twice the buckets */
    size_t nb = t->nb * 2;
    struct nn_istr **b = calloc(nb, sizeof *b);
    if (b) {
      for (size_t i = 0; i < t->nb; i++) {
        struct nn_istr *e = t->buckets[i];
        while (e) {
          struct nn_istr *n = e->next;
          uint32_t eh = name_hash(e->s, strlen(e->s));
          e->next = b[eh & (nb - 1)];
          b[eh & (nb - 1)] = e;
          e = n;
        }
      }
      free(t->buckets);
      t->buckets = b;
      t->nb = nb;
    }
  }
  struct nn_istr *e = malloc(sizeof *e + len + 1);
  if (!e) goto done;
  memcpy(e->s, s, len + 1);
  e->next = t->buckets[h & (t->nb - 1)];
  t->buckets[h & (t->nb - 1)] = e;
  t->len++;
  out = e->s;
done:
  pthread_mutex_unlock(&t->mu);
  return out;
}
