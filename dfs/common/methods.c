/* methods.c - names of RPC methods, for logs and error messages. */
#include "dfs_methods.h"

const char *dfs_method_name(int method) {
  switch (method) {
#define DFS__METHOD_NAME(name, id, req, resp) case id: return #name;
  DFS_METHOD_TABLE(DFS__METHOD_NAME)
#undef DFS__METHOD_NAME
  default: return NULL;
  }
}
