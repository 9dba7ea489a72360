/*
 * bench_util.h - the small pieces every benchmark program shares: clocks,
 * CPU accounting of this process and of the daemons it drives, size
 * parsing, latency statistics and the result-line format.
 *
 * bench/CMakeLists.txt builds each bench/NAME.c into its own program, so the
 * shared code lives here as static functions (a header is not globbed);
 * each program compiles only what it uses.
 *
 * Output contract (run-all.sh and docs/benchmarks.md rely on it): every
 * machine-readable result is ONE line on stdout that starts with
 * "bench=<program>" followed by space-separated key=value pairs, values
 * without spaces. Human-readable summaries go to stdout prefixed with "# ".
 * Errors and progress go to stderr.
 *
 * CPU accounting: this process via getrusage(RUSAGE_SELF) (user+sys of all
 * its threads), daemons via utime+stime of /proc/<pid>/stat (which counts
 * all threads of the process, including those already exited). A phase's
 * CPU is the difference of two snapshots.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_PIDS 32

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock date for reports, "2026-11-23T01:02:03Z". */
static inline void bench_utc_date(char *buf, size_t cap) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Parse "123", "64k", "128m", "1g", "1t" (binary multiples; optional
 * trailing "b"/"ib"). Returns 0 and *out, or -1 on a malformed value. */
static inline int bench_parse_size(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0) return -1;
  uint64_t mult = 1;
  switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'k': mult = 1ull << 10; end++; break;
    case 'm': mult = 1ull << 20; end++; break;
    case 'g': mult = 1ull << 30; end++; break;
    case 't': mult = 1ull << 40; end++; break;
    default: return -1;
  }
  if (tolower((unsigned char)*end) == 'i') end++;
  if (tolower((unsigned char)*end) == 'b') end++;
  if (*end) return -1;
  *out = (uint64_t)(v * (double)mult + 0.5);
  return 0;
}

static inline int bench_parse_int(const char *s, long lo, long hi, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* ---- CPU accounting ------------------------------------------------------ */

struct bench_proc {
  pid_t pid;
  char role[24];           /* "namenode", "datanode1", ... */
};

struct bench_cpu_snap {
  double machine_busy;     /* all CPUs, non-idle seconds (/proc/stat) */
  double self_user, self_sys;
  double proc[BENCH_MAX_PIDS]; /* utime+stime in seconds, -1 if unreadable */
};

/* utime+stime of a process in seconds, or -1 if it cannot be read. The
 * command name in field 2 may contain spaces and ')', so parse after the
 * last ')'. */
static inline double bench_proc_cpu(pid_t pid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p++;
  /* fields after ')': 3 state, 4 ppid, ... 14 utime, 15 stime */
  unsigned long long ut = 0, st = 0;
  int field = 2;
  char *save = NULL;
  for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    field++;
    if (field == 14) ut = strtoull(tok, NULL, 10);
    if (field == 15) {
      st = strtoull(tok, NULL, 10);
      break;
    }
  }
  if (field != 15) return -1;
  long hz = sysconf(_SC_CLK_TCK);
  return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

/* Non-idle CPU seconds of the whole machine since boot (-1 if unknown). */
static inline double bench_machine_busy(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 5) return -1;
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* not idle, iowait */
  long hz = sysconf(_SC_CLK_TCK);
  return (double)busy / (double)(hz > 0 ? hz : 100);
}

static inline void bench_cpu_take(struct bench_cpu_snap *s, const struct bench_proc *procs,
                                  int nprocs) {
  s->machine_busy = bench_machine_busy();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s->self_user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
  s->self_sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  for (int i = 0; i < nprocs && i < BENCH_MAX_PIDS; i++) s->proc[i] = bench_proc_cpu(procs[i].pid);
}

/* CPU seconds spent between two snapshots. */
struct bench_cpu_delta {
  double self_user, self_sys, self;
  double namenode, datanodes; /* sums over the roles */
  double proc[BENCH_MAX_PIDS];
  double total;
  double others;              /* machine busy time not spent by the processes above
                               * (other users of the machine; -1 if unknown) */
  int missing;                /* processes whose /proc entry vanished */
};

static inline void bench_cpu_diff(const struct bench_cpu_snap *a, const struct bench_cpu_snap *b,
                                  const struct bench_proc *procs, int nprocs,
                                  struct bench_cpu_delta *d) {
  memset(d, 0, sizeof *d);
  d->self_user = b->self_user - a->self_user;
  d->self_sys = b->self_sys - a->self_sys;
  d->self = d->self_user + d->self_sys;
  d->total = d->self;
  for (int i = 0; i < nprocs && i < BENCH_MAX_PIDS; i++) {
    if (a->proc[i] < 0 || b->proc[i] < 0) {
      d->proc[i] = 0;
      d->missing++;
      continue;
    }
    d->proc[i] = b->proc[i] - a->proc[i];
    if (strncmp(procs[i].role, "namenode", 8) == 0) d->namenode += d->proc[i];
    else d->datanodes += d->proc[i];
    d->total += d->proc[i];
  }
  d->others = -1;
  if (a->machine_busy >= 0 && b->machine_busy >= 0) {
    d->others = b->machine_busy - a->machine_busy - d->total;
    if (d->others < 0) d->others = 0; /* tick granularity */
  }
}

/* Parse "--pids 123,456,789" (first pid the NameNode, the rest DataNodes,
 * unless written role:pid). Returns the count or -1. */
static inline int bench_parse_pids(const char *s, struct bench_proc *procs, int cap) {
  int n = 0;
  char *dup = strdup(s);
  if (!dup) return -1;
  char *save = NULL;
  for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (n >= cap) break;
    char *colon = strchr(tok, ':');
    const char *num = tok;
    if (colon) {
      *colon = 0;
      num = colon + 1;
      snprintf(procs[n].role, sizeof procs[n].role, "%s", tok);
    } else if (n == 0) {
      snprintf(procs[n].role, sizeof procs[n].role, "namenode");
    } else {
      snprintf(procs[n].role, sizeof procs[n].role, "datanode%d", n);
    }
    long v;
    if (bench_parse_int(num, 1, 1L << 30, &v) != 0) {
      free(dup);
      return -1;
    }
    procs[n].pid = (pid_t)v;
    n++;
  }
  free(dup);
  return n;
}

/* A child of this process whose command line contains `needle` (the
 * harness spawns daemons with posix_spawn and does not hand out every
 * pid); 0 if none. */
static inline pid_t bench_find_child(const char *needle) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  pid_t found = 0, me = getpid();
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    int ppid = 0;
    if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != me) continue;
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    f = fopen(path, "r");
    if (!f) continue;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
      if (buf[i] == 0) buf[i] = ' ';
    buf[n] = 0;
    if (strstr(buf, needle)) found = (pid_t)pid;
  }
  closedir(d);
  return found;
}

/* ---- latency statistics ---------------------------------------------------- */

static int bench__cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v in place; q in [0,1]. */
static inline double bench_quantile(double *v, size_t n, double q, int sorted) {
  if (n == 0) return 0;
  if (!sorted) qsort(v, n, sizeof *v, bench__cmp_double);
  size_t i = (size_t)(q * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

static inline void bench_sort(double *v, size_t n) { qsort(v, n, sizeof *v, bench__cmp_double); }

/* ---- misc -------------------------------------------------------------------- */

/* xorshift64*: fast reproducible pseudo-random bytes for test data. */
static inline uint64_t bench_rand64(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static inline void bench_fill_random(void *buf, size_t len, uint64_t seed) {
  uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ull;
  uint8_t *p = buf;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v = bench_rand64(&s);
    memcpy(p + i, &v, 8);
  }
  if (i < len) {
    uint64_t v = bench_rand64(&s);
    memcpy(p + i, &v, len - i);
  }
}

/* Git commit of the source tree (best effort; "unknown"). */
static inline void bench_git_commit(char *buf, size_t cap) {
  snprintf(buf, cap, "unknown");
#ifdef DFS_SOURCE_DIR
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short HEAD 2>/dev/null", DFS_SOURCE_DIR);
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (fgets(buf, (int)cap, p)) buf[strcspn(buf, "\n")] = 0;
  else snprintf(buf, cap, "unknown");
  pclose(p);
#endif
}

#endif
