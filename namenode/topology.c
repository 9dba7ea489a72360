/*
 * topology.c - the rack mapping table (see topology.h). A handful to a few
 * thousand entries, looked up at registration only: a flat array with
 * linear search is enough and keeps the code obvious.
 */
#include "topology.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

struct nn_topo_entry {
  char *key;
  char *rack;
};

struct nn_topology {
  struct nn_topo_entry *e;
  size_t n, cap;
};

int nn_topology_add(nn_topology *t, const char *key, const char *rack) {
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 16;
    struct nn_topo_entry *ne = realloc(t->e, nc * sizeof *ne);
    if (!ne) return DFS_ENOMEM;
    t->e = ne;
    t->cap = nc;
  }
  char *k = strdup(key), *r = strdup(rack);
  if (!k || !r) {
    free(k);
    free(r);
    return DFS_ENOMEM;
  }
  t->e[t->n].key = k;
  t->e[t->n].rack = r;
  t->n++;
  return 0;
}

int nn_topology_load(const char *path, nn_topology **out) {
  int rc = 0;
  FILE *f = NULL;
  char line[1024];
  nn_topology *t = calloc(1, sizeof *t);
  if (!t) return DFS_ENOMEM;
  if (path) f = fopen(path, "r");
  if (!f) goto done; /* no table: everything on the default rack */
  for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *save = NULL;
    char *key = strtok_r(line, " \t\r\n", &save);
    if (!key) continue;
    char *rack = strtok_r(NULL, " \t\r\n", &save);
    char *extra = strtok_r(NULL, " \t\r\n", &save);
    if (!rack || rack[0] != '/' || extra) {
      rc = dfs_err_set(DFS_ECONFIG, "%s: line %d: expected '<host> /<rack>'", path,
                       lineno);
      goto done;
    }
    rc = nn_topology_add(t, key, rack);
    if (rc) goto done;
  }
done:
  if (f) fclose(f);
  if (rc) {
    nn_topology_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void nn_topology_free(nn_topology *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) {
    free(t->e[i].key);
    free(t->e[i].rack);
  }
  free(t->e);
  free(t);
}

static const char *find(const nn_topology *t, const char *key) {
  if (!key || !*key) return NULL;
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->e[i].key, key) == 0) return t->e[i].rack;
  return NULL;
}

const char *nn_topology_resolve(const nn_topology *t, const char *host, int port,
                                const char *hostname) {
  char hp[300];
  const char *r;
  snprintf(hp, sizeof hp, "%s:%d", host ? host : "", port);
  if ((r = find(t, hp)) != NULL) return r;
  if ((r = find(t, hostname)) != NULL) return r;
  if ((r = find(t, host)) != NULL) return r;
  return NN_DEFAULT_RACK;
}
