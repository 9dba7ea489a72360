/*
 * kill_child.c - fork a writer, kill it with SIGKILL mid-stream, collect
 * what it acknowledged (kill_child.h).
 */
#include "kill_child.h"

#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KC_MAX_IDS (1u << 20)

void kc_ack(int fd, uint64_t id) {
  if (write(fd, &id, sizeof id) != (ssize_t)sizeof id) _exit(4);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int kc_run(kc_child_fn fn, void *arg, size_t kill_after, double deadline_s, struct kc_result *out) {
  memset(out, 0, sizeof *out);
  out->ids = malloc(KC_MAX_IDS * sizeof *out->ids);
  int p[2];
  if (!out->ids || pipe(p) != 0) {
    free(out->ids);
    out->ids = NULL;
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    free(out->ids);
    out->ids = NULL;
    return -1;
  }
  if (pid == 0) {
    close(p[0]);
    fn(p[1], arg);
    _exit(6); /* fn must not return */
  }
  close(p[1]);
  uint8_t part[sizeof(uint64_t)];
  size_t npart = 0;
  bool killed = false;
  double deadline = now_s() + deadline_s;
  for (;;) {
    if (!killed && (out->n >= kill_after || now_s() > deadline)) {
      kill(pid, SIGKILL); /* mid-stream: writes and syncs in flight */
      killed = true;
    }
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    if (poll(&pf, 1, 1000) <= 0) continue;
    uint8_t buf[4096];
    ssize_t n = read(p[0], buf, sizeof buf);
    if (n <= 0) break; /* EOF: the child is gone */
    for (ssize_t i = 0; i < n; i++) {
      part[npart++] = buf[i];
      if (npart == sizeof part) {
        if (out->n < KC_MAX_IDS) memcpy(&out->ids[out->n++], part, sizeof part);
        npart = 0;
      }
    }
  }
  close(p[0]);
  waitpid(pid, &out->status, 0);
  return 0;
}
