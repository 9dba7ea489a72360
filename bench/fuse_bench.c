/*
 * fuse_bench.c - metadata operations on any directory (a dfs-fuse mount or
 * a local disk), for bench/fuse_bench.sh.
 *
 *   fuse_bench DIR TARGET N [THREADS]
 *
 * Creates N empty files in a fresh subdirectory of DIR (open O_CREAT|O_EXCL
 * + close), stats them all, unlinks them all, THREADS threads (default 1)
 * each taking its share in its own directory (the kernel serialises
 * creates and unlinks in one directory on the directory's lock, on any
 * filesystem). With FUSE_BENCH_DROP_CACHES=1 the kernel's dentry and inode
 * caches are dropped before the stats (cold stats: each one reaches the
 * filesystem). and prints one machine-readable line per phase:
 *   fuse_bench target=TARGET op=create n=N threads=T secs=S ops_per_s=R
 * System calls only (no shell, no process per file), so the figures are the
 * filesystem's, not fork's. A fresh directory per run avoids the ext4 trap
 * of creating right after deleting in one directory (FIELD-NOTES.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct job {
  char dir[3800];
  int op;  /* 0 create, 1 stat, 2 unlink */
  long from, to;
  int err;
};

static void *run(void *arg) {
  struct job *j = arg;
  char p[4096 + 64];
  for (long i = j->from; i < j->to; i++) {
    snprintf(p, sizeof p, "%s/f%07ld", j->dir, i);
    struct stat st;
    int rc;
    if (j->op == 0) {
      int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
      rc = fd < 0 ? -1 : close(fd);
    } else if (j->op == 1) {
      rc = stat(p, &st);
    } else {
      rc = unlink(p);
    }
    if (rc < 0) {
      j->err = errno;
      fprintf(stderr, "fuse_bench: %s: %s\n", p, strerror(errno));
      return NULL;
    }
  }
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: fuse_bench DIR TARGET N [THREADS]\n");
    return 2;
  }
  long n = atol(argv[3]);
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  if (n <= 0 || threads <= 0 || threads > 64) {
    fprintf(stderr, "fuse_bench: bad N or THREADS\n");
    return 2;
  }
  char dir[3700];
  snprintf(dir, sizeof dir, "%s/meta.%ld.%d", argv[1], (long)getpid(), (int)time(NULL));
  if (mkdir(dir, 0755) < 0) {
    perror(dir);
    return 1;
  }
  static const char *names[] = {"create", "stat", "unlink"};
  for (int op = 0; op < 3; op++) {
    if (op == 1 && getenv("FUSE_BENCH_DROP_CACHES")) {
      /* Cold stats: drop the kernel's dentries and inodes (and with them
       * the FUSE attribute cache), so each stat reaches the filesystem. */
      sync();
      FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
      if (f) fputs("2\n", f), fclose(f);
    }
    struct job jobs[64];
    pthread_t tids[64];
    double t0 = now();
    for (int t = 0; t < threads; t++) {
      jobs[t] = (struct job){.op = op, .from = n * t / threads, .to = n * (t + 1) / threads};
      snprintf(jobs[t].dir, sizeof jobs[t].dir, "%s/t%02d", dir, t);
      if (op == 0 && mkdir(jobs[t].dir, 0755) < 0) {
        perror(jobs[t].dir);
        return 1;
      }
      pthread_create(&tids[t], NULL, run, &jobs[t]);
    }
    int err = 0;
    for (int t = 0; t < threads; t++) {
      pthread_join(tids[t], NULL);
      if (jobs[t].err) err = jobs[t].err;
    }
    double secs = now() - t0;
    if (err) return 1;
    printf("fuse_bench target=%s op=%s n=%ld threads=%d secs=%.3f ops_per_s=%.0f\n",
           argv[2], names[op], n, threads, secs, (double)n / secs);
    fflush(stdout);
  }
  for (int t = 0; t < threads; t++) {
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/t%02d", dir, t);
    if (rmdir(sub) < 0) perror(sub);
  }
  if (rmdir(dir) < 0) perror(dir);
  return 0;
}
