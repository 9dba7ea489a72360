/*
 * file_io.h - the byte sink and byte source under the HFile writer and
 * reader, so the same format code runs on a DFS file (production), a
 * memory buffer (unit tests, fuzzing) and a local file descriptor.
 *
 * Both are small vtables that other code may implement too (a fault
 * injecting wrapper, say): embed the struct first in your own and fill the
 * function pointers. A sink is append-only, as the DFS is write-once; a
 * source only answers positional reads, which must be safe to call from
 * several threads at once (dfs_pread and pread(2) are).
 */
#ifndef HB_FILE_IO_H
#define HB_FILE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dfs.h"

/* ---- sink ---------------------------------------------------------------- */

struct hb_out {
  /* Append len bytes: 0 when all were written, else a negative code with
   * dfs_err_set() called. */
  int (*write)(struct hb_out *o, const void *buf, size_t len);
  /* Free the sink (not what it wraps unless documented so). */
  void (*destroy)(struct hb_out *o);
  uint64_t pos; /* bytes written so far; maintained by hb_out_write() */
};

/* Write through o->write and advance o->pos. */
int hb_out_write(struct hb_out *o, const void *buf, size_t len);
/* o->destroy(o); NULL is a no-op. */
void hb_out_free(struct hb_out *o);

/* A sink appending to an open DFS file. f stays the caller's: close it with
 * dfs_close() after the writer is done (that completes the file). */
int hb_out_dfs(dfs_file *f, struct hb_out **out);
/* A sink into a growing memory buffer. */
int hb_out_mem(struct hb_out **out);
/* The memory sink's bytes (owned by o, valid until the next write or free). */
const uint8_t *hb_out_mem_data(const struct hb_out *o, size_t *len);
/* A sink writing to a local file descriptor (not closed by destroy). */
int hb_out_fd(int fd, struct hb_out **out);

/* ---- source -------------------------------------------------------------- */

struct hb_in {
  /* Read up to len bytes at off: the count (short only at the end of the
   * file), or a negative code with dfs_err_set() called. Thread-safe. */
  ssize_t (*pread)(struct hb_in *in, uint64_t off, void *buf, size_t len);
  void (*destroy)(struct hb_in *in);
  uint64_t size; /* length of the file, fixed when the source was made */
};

/* Read exactly len bytes at off; a short read (the file ends first) is
 * DFS_ECORRUPT naming `name`. */
int hb_in_pread_full(struct hb_in *in, const char *name, uint64_t off, void *buf, size_t len);
void hb_in_free(struct hb_in *in);

/* A source over a DFS file opened with dfs_open(); its size is
 * dfs_file_length() at this call. With own, destroy closes f. */
int hb_in_dfs(dfs_file *f, bool own, struct hb_in **out);
/* A source over len bytes of memory; with copy the bytes are copied,
 * otherwise buf must outlive the source. */
int hb_in_mem(const void *buf, size_t len, bool copy, struct hb_in **out);
/* A source over a local file descriptor (size from fstat); with own,
 * destroy closes fd. */
int hb_in_fd(int fd, bool own, struct hb_in **out);

#endif /* HB_FILE_IO_H */
