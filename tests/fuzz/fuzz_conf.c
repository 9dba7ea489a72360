/*
 * fuzz_conf.c - fuzz target for the configuration loader: Hadoop-style XML
 * parsed by libxml2 and the value parsers of every key type. Byte 0 picks:
 * even - the rest is a dfs-site.xml, loaded from a memfd through
 * /proc/self/fd (the loader takes a path, as daemons use it); odd - byte 1
 * picks a key of the table and the rest is its value for dfs_conf_set().
 * A value that was accepted must read back as the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t nkeys(void) {
  size_t n = 0;
  while (dfs_conf_keys[n].name) n++;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  dfs_conf *c = dfs_conf_new();
  if (!c) return 0;
  if ((data[0] & 1) == 0) {
    int fd = memfd_create("fuzz_conf", 0);
    if (fd >= 0) {
      if (write(fd, data + 1, size - 1) == (ssize_t)(size - 1)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        (void)dfs_conf_load_file(c, path, false);
      }
      close(fd);
    }
  } else {
    const struct dfs_conf_key *k = &dfs_conf_keys[data[1] % nkeys()];
    char *val = strndup((const char *)data + 2, size - 2);
    if (val && dfs_conf_set(c, k->name, val, "fuzz") == 0 &&
        strcmp(dfs_conf_str(c, k->name), val) != 0)
      __builtin_trap();
    free(val);
  }
  dfs_conf_free(c);
  return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t len)) {
  static const char xml[] =
      "\x00<?xml version=\"1.0\"?>\n<configuration>\n"
      "<property><name>dfs.replication</name><value>2</value></property>\n"
      "<property><name>dfs.blocksize</name><value>1m</value></property>\n"
      "<property><name>dfs.heartbeat.interval</name><value>3s</value></property>\n"
      "<property><name>dfs.namenode.rpc-address</name><value>127.0.0.1:0</value></property>\n"
      "</configuration>\n";
  add((const uint8_t *)xml, sizeof xml - 1);
  static const char *const vals[] = {"128m", "1.5k", "3", "2m", "1500ms", "true", "0.75",
                                     "host:8020", "/a,/b", "x"};
  size_t n = nkeys();
  for (size_t i = 0; i < n; i++) {
    uint8_t b[64];
    const char *v = vals[i % (sizeof vals / sizeof vals[0])];
    b[0] = 1;
    b[1] = (uint8_t)i;
    memcpy(b + 2, v, strlen(v));
    add(b, 2 + strlen(v));
  }
}
