/*
 * lease.c - the lease table (see lease.h).
 */
#include "lease.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

void nn_leases_init(struct nn_leases *ls) { memset(ls, 0, sizeof *ls); }

static void lease_free(struct nn_lease *l) {
  free(l->holder);
  free(l->files);
  free(l);
}

void nn_leases_free(struct nn_leases *ls) {
  struct nn_lease *l = ls->head;
  while (l) {
    struct nn_lease *nx = l->next;
    lease_free(l);
    l = nx;
  }
  nn_leases_init(ls);
}

struct nn_lease *nn_lease_find(const struct nn_leases *ls, const char *holder) {
  for (struct nn_lease *l = ls->head; l; l = l->next)
    if (strcmp(l->holder, holder) == 0) return l;
  return NULL;
}

int nn_lease_add(struct nn_leases *ls, const char *holder, nn_inode *f, int64_t now_ms) {
  struct nn_lease *l = nn_lease_find(ls, holder);
  if (!l) {
    l = calloc(1, sizeof *l);
    if (!l || !(l->holder = strdup(holder))) {
      free(l);
      return DFS_ENOMEM;
    }
    l->next = ls->head;
    ls->head = l;
    ls->n++;
  }
  l->last_renew_ms = now_ms;
  for (size_t i = 0; i < l->n; i++)
    if (l->files[i] == f) return 0;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 4;
    nn_inode **nf = realloc(l->files, nc * sizeof *nf);
    if (!nf) return DFS_ENOMEM;
    l->files = nf;
    l->cap = nc;
  }
  l->files[l->n++] = f;
  return 0;
}

void nn_lease_remove_file(struct nn_leases *ls, const char *holder, const nn_inode *f) {
  struct nn_lease **pp = &ls->head;
  for (; *pp; pp = &(*pp)->next) {
    struct nn_lease *l = *pp;
    if (strcmp(l->holder, holder) != 0) continue;
    for (size_t i = 0; i < l->n; i++) {
      if (l->files[i] != f) continue;
      l->files[i] = l->files[--l->n];
      break;
    }
    if (l->n == 0) {
      *pp = l->next;
      lease_free(l);
      ls->n--;
    }
    return;
  }
}

int nn_lease_renew(struct nn_leases *ls, const char *holder, int64_t now_ms) {
  struct nn_lease *l = nn_lease_find(ls, holder);
  if (!l) return DFS_ENOENT;
  l->last_renew_ms = now_ms;
  return 0;
}
