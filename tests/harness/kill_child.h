/*
 * kill_child.h - kill -9 tests: a forked writer tells the parent over a
 * pipe which items were acknowledged; the parent kills it mid-stream with
 * SIGKILL and gets that list, to check after recovery that every one of
 * them survived (test_wal, test_region).
 */
#ifndef KILL_CHILD_H
#define KILL_CHILD_H

#include <stddef.h>
#include <stdint.h>

/* Runs in the child and never returns: it is killed. It must leave only
 * through _exit (the harness's exit hooks belong to the parent). */
typedef void (*kc_child_fn)(int fd, void *arg);

/* In the child: item `id` was acknowledged. One 8-byte write to a pipe is
 * atomic, so writer threads need no lock around it; _exit(4) on failure. */
void kc_ack(int fd, uint64_t id);

struct kc_result {
  uint64_t *ids;  /* acknowledged ids in arrival order (malloc'd; free it) */
  size_t n;
  int status;     /* the child's waitpid status */
};

/* Forks; the child runs fn(fd, arg). The parent collects acknowledgements,
 * kills the child once kill_after arrived or deadline_s seconds passed,
 * reads what is still in the pipe and reaps the child. 0, or -1 if the
 * pipe, the fork or the memory failed. */
int kc_run(kc_child_fn fn, void *arg, size_t kill_after, double deadline_s, struct kc_result *out);

#endif
