/*
 * topology.h - rack resolution from the mapping file
 * (net.topology.table.file.name, relative to the conf dir).
 *
 * Lines "<key> <rack>", '#' starts a comment, blank lines ignored. A
 * DataNode's rack: the entry for "host:port", else for its hostname, else
 * for its host (IP), else /default-rack. The table is read once at start-up
 * and immutable afterwards (thread-safe reads).
 */
#ifndef NN_TOPOLOGY_H
#define NN_TOPOLOGY_H

#define NN_DEFAULT_RACK "/default-rack"

typedef struct nn_topology nn_topology;

/*
 * Load the mapping at `path` (NULL or a missing file: an empty table where
 * every node is on /default-rack; a missing file is not an error because a
 * single-rack cluster needs none). A malformed line (no rack, a rack not
 * starting with '/') is DFS_ECONFIG naming the file and line.
 * *out is freed with nn_topology_free().
 */
int nn_topology_load(const char *path, nn_topology **out);
void nn_topology_free(nn_topology *t);
/* Add one mapping (tests). 0 or DFS_ENOMEM. */
int nn_topology_add(nn_topology *t, const char *key, const char *rack);
/* The rack of a node; never NULL; valid while t lives. hostname may be
 * NULL. */
const char *nn_topology_resolve(const nn_topology *t, const char *host, int port,
                                const char *hostname);

#endif
