/*
 * cli_util.c - the pure helpers of the `dfs` command: option parsing, path
 * resolution, and the output formats of `hdfs dfs` (permission strings,
 * Hadoop's human-readable sizes, ls columns, stat format specifiers, the
 * progress line).
 *
 * Nothing here talks to the cluster or keeps state, so the unit test
 * (tests/unit/test_cli_util.c) exercises every function directly. The
 * formats copy Hadoop's Java code (Ls, Stat, TraditionalBinaryPrefix,
 * FsPermission) so that scripts written against `hdfs dfs` read our output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"

/* ---- options --------------------------------------------------------------- */

int cli_flags(int argc, char **argv, const char *letters, const char *const *words,
              unsigned *wset, char *set, size_t setcap, char *bad, size_t badcap) {
  size_t n = 0;
  if (setcap) set[0] = '\0';
  if (wset) *wset = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0') break; /* operand, or "-" = stdin */
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    bool word = false;
    for (unsigned k = 0; words && words[k]; k++)
      if (strcmp(a, words[k]) == 0) {
        if (wset) *wset |= 1u << k;
        word = true;
      }
    if (word) continue;
    for (const char *p = a + 1; *p; p++) {
      if (!strchr(letters, *p)) {
        if (badcap) snprintf(bad, badcap, "%s", a);
        return CLI_USAGE;
      }
      if (!strchr(set, *p) && n + 1 < setcap) {
        set[n++] = *p;
        set[n] = '\0';
      }
    }
  }
  return i;
}

/* ---- paths ------------------------------------------------------------------ */

char *cli_resolve(const char *user, const char *arg) {
  const char *p = arg;
  const char *scheme = strstr(arg, "://");
  if (scheme && strchr(arg, '/') > scheme) { /* "hdfs://host:port/path" */
    p = strchr(scheme + 3, '/');
    if (!p) p = "/";
  }
  size_t cap = strlen(p) + strlen(user) + 8;
  char *in = malloc(cap), *out = malloc(cap);
  if (!in || !out) {
    free(in);
    free(out);
    return NULL;
  }
  if (p[0] == '/') snprintf(in, cap, "%s", p);
  else snprintf(in, cap, "/user/%s/%s", user, p);
  /* Lexical normalisation, component by component. */
  size_t o = 0;
  char *save = NULL;
  for (char *comp = strtok_r(in, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
    if (strcmp(comp, ".") == 0) continue;
    if (strcmp(comp, "..") == 0) {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--; /* drop the slash too */
      continue;
    }
    out[o++] = '/';
    size_t l = strlen(comp);
    memcpy(out + o, comp, l);
    o += l;
  }
  if (o == 0) out[o++] = '/';
  out[o] = '\0';
  free(in);
  return out;
}

char *cli_join(const char *dir, const char *name) {
  size_t dl = strlen(dir), nl = strlen(name);
  char *out = malloc(dl + nl + 2);
  if (!out) return NULL;
  memcpy(out, dir, dl);
  if (!(dl && dir[dl - 1] == '/')) out[dl++] = '/';
  memcpy(out + dl, name, nl + 1);
  return out;
}

const char *cli_base(const char *p) {
  const char *s = strrchr(p, '/');
  if (!s) return p;
  if (s[1] == '\0') return s == p ? p : s + 1; /* root, or a trailing slash */
  return s + 1;
}

/* ---- formats -------------------------------------------------------------------- */

void cli_fmt_perm(uint16_t perm, bool dir, char out[11]) {
  static const char rwx[] = "rwxrwxrwx";
  out[0] = dir ? 'd' : '-';
  for (int i = 0; i < 9; i++) out[1 + i] = (perm & (1u << (8 - i))) ? rwx[i] : '-';
  if (perm & 01000) out[9] = (perm & 1) ? 't' : 'T';
  out[10] = '\0';
}

void cli_fmt_human(uint64_t n, const char *unit, int decimals, char *out, size_t cap) {
  static const char sym[] = "KMGTPE";
  if (n < 1024) {
    snprintf(out, cap, "%llu%s%s", (unsigned long long)n, *unit ? " " : "", unit);
    return;
  }
  int i = 0; /* prefix index: 0 = K (shift 10) */
  while (i < 5 && n >= (1ull << (10 * (i + 2)))) i++;
  unsigned shift = 10u * (unsigned)(i + 1);
  if ((n & ((1ull << shift) - 1)) == 0) {
    snprintf(out, cap, "%llu %c%s", (unsigned long long)(n >> shift), sym[i], unit);
    return;
  }
  char num[64];
  snprintf(num, sizeof num, "%.*f", decimals, (double)n / (double)(1ull << shift));
  if (strncmp(num, "1024", 4) == 0 && i < 5) { /* rounding reached the next prefix */
    i++;
    shift += 10;
    snprintf(num, sizeof num, "%.*f", decimals, (double)n / (double)(1ull << shift));
  }
  snprintf(out, cap, "%s %c%s", num, sym[i], unit);
}

void cli_fmt_size(uint64_t n, bool human, char *out, size_t cap) {
  if (human) cli_fmt_human(n, "", 1, out, cap);
  else snprintf(out, cap, "%llu", (unsigned long long)n);
}

void cli_fmt_time(int64_t ms, const char *fmt, bool utc, char *out, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (utc) gmtime_r(&t, &tm);
  else localtime_r(&t, &tm);
  if (strftime(out, cap, fmt, &tm) == 0 && cap) out[0] = '\0';
}

/* ---- parsing ----------------------------------------------------------------------- */

int cli_parse_mode(const char *s, uint16_t old, bool dir) {
  if (!*s) return -1;
  if (*s >= '0' && *s <= '7') {
    char *end;
    if (strlen(s) > 4) return -1;
    long v = strtol(s, &end, 8);
    if (*end || v < 0 || v > 07777) return -1;
    return (int)v & 01777; /* no setuid/setgid in HDFS */
  }
  int mode = old & 01777;
  const char *p = s;
  for (;;) {
    int who = 0;
    while (*p && strchr("ugoa", *p)) {
      who |= *p == 'u' ? 0700 : *p == 'g' ? 070 : *p == 'o' ? 07 : 0777;
      p++;
    }
    if (!who) who = 0777;
    if (*p != '+' && *p != '-' && *p != '=') return -1;
    while (*p == '+' || *p == '-' || *p == '=') { /* "u+x-w" is several ops */
      char op = *p++;
      int bits = 0, sticky = 0;
      for (; *p && strchr("rwxXt", *p); p++) {
        if (*p == 'r') bits |= 0444;
        else if (*p == 'w') bits |= 0222;
        else if (*p == 'x') bits |= 0111;
        else if (*p == 'X') bits |= (dir || (old & 0111)) ? 0111 : 0;
        else sticky = 01000;
      }
      bits &= who;
      if (op == '+') mode |= bits | sticky;
      else if (op == '-') mode &= ~(bits | sticky);
      else mode = (mode & ~who) | bits | (sticky ? sticky : (mode & 01000));
    }
    if (*p == '\0') break;
    if (*p != ',' || p[1] == '\0') return -1;
    p++;
  }
  return mode & 01777;
}

static bool valid_name(const char *s) {
  for (; *s; s++)
    if (*s == ' ' || *s == '\t' || *s == '\n' || *s == ':' || *s == '/') return false;
  return true;
}

int cli_parse_owner(const char *spec, char *owner, size_t ocap, char *group, size_t gcap) {
  const char *colon = strchr(spec, ':');
  size_t ol = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *g = colon ? colon + 1 : "";
  if (ol >= ocap || strlen(g) >= gcap) return -1;
  memcpy(owner, spec, ol);
  owner[ol] = '\0';
  snprintf(group, gcap, "%s", g);
  if (!*owner && !*group) return -1;
  if (!valid_name(owner) || !valid_name(group)) return -1;
  return 0;
}

long cli_parse_long(const char *s, long min, long max) {
  char *end;
  errno = 0;
  if (!*s || *s == '-' || *s == '+') return -1;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  return v;
}

/* ---- stat and ls ---------------------------------------------------------------------- */

void cli_format_stat(FILE *out, const char *fmt, const struct dfs_stat *st, const char *path) {
  char t[64];
  bool dir = st->type == DFS_TYPE_DIR;
  for (const char *f = fmt; *f; f++) {
    if (*f == '\\' && f[1] == 'n') {
      fputc('\n', out);
      f++;
      continue;
    }
    if (*f != '%' || !f[1]) {
      fputc(*f, out);
      continue;
    }
    switch (*++f) {
    case 'b': fprintf(out, "%llu", (unsigned long long)st->length); break;
    case 'F': fputs(dir ? "directory" : "regular file", out); break;
    case 'g': fputs(st->group ? st->group : "", out); break;
    case 'u': fputs(st->owner ? st->owner : "", out); break;
    case 'n': fputs(cli_base(path), out); break;
    case 'o': fprintf(out, "%llu", (unsigned long long)st->blocksize); break;
    case 'r': fprintf(out, "%d", st->replication); break;
    case 'a': fprintf(out, "%o", st->permission & 01777); break;
    case 'A':
      cli_fmt_perm(st->permission, dir, t);
      fputs(t + 1, out);
      break;
    case 'x':
      cli_fmt_time(st->atime_ms, "%Y-%m-%d %H:%M:%S", true, t, sizeof t);
      fputs(t, out);
      break;
    case 'X': fprintf(out, "%lld", (long long)st->atime_ms); break;
    case 'y':
      cli_fmt_time(st->mtime_ms, "%Y-%m-%d %H:%M:%S", true, t, sizeof t);
      fputs(t, out);
      break;
    case 'Y': fprintf(out, "%lld", (long long)st->mtime_ms); break;
    case '%': fputc('%', out); break;
    default:
      fputc('%', out);
      fputc(*f, out);
      break;
    }
  }
  fputc('\n', out);
}

static int imax(int a, int b) { return a > b ? a : b; }

void cli_ls_widths(const struct dfs_stat *e, size_t n, bool human, struct cli_ls_widths *w) {
  w->repl = 3;
  w->size = 10;
  w->owner = 0;
  w->group = 0;
  for (size_t i = 0; i < n; i++) {
    char b[32];
    snprintf(b, sizeof b, "%d", e[i].replication);
    w->repl = imax(w->repl, (int)strlen(b));
    cli_fmt_size(e[i].length, human, b, sizeof b);
    w->size = imax(w->size, (int)strlen(b));
    w->owner = imax(w->owner, e[i].owner ? (int)strlen(e[i].owner) : 0);
    w->group = imax(w->group, e[i].group ? (int)strlen(e[i].group) : 0);
  }
}

void cli_ls_line(FILE *out, const struct dfs_stat *st, const char *path, bool human,
                 const struct cli_ls_widths *w, bool utc) {
  char perm[11], size[32], when[32], rep[16];
  bool dir = st->type == DFS_TYPE_DIR;
  cli_fmt_perm(st->permission, dir, perm);
  cli_fmt_size(st->length, human, size, sizeof size);
  cli_fmt_time(st->mtime_ms, "%Y-%m-%d %H:%M", utc, when, sizeof when);
  if (dir) snprintf(rep, sizeof rep, "-");
  else snprintf(rep, sizeof rep, "%d", st->replication);
  /* Ls.java: "%s%s%Ns %-Ns %-Ns %Ns %s %s" where the second %s is the ACL
   * bit (' ' here: no ACLs), and N of the replication column at least 3. */
  fprintf(out, "%s %*s %-*s %-*s %*s %s %s\n", perm, w->repl, rep, w->owner,
          st->owner ? st->owner : "", w->group, st->group ? st->group : "", w->size, size, when,
          path);
}

/* ---- progress ----------------------------------------------------------------------------- */

void cli_fmt_progress(char *out, size_t cap, const char *label, uint64_t done, uint64_t total,
                      int64_t elapsed_ms) {
  double secs = elapsed_ms > 0 ? (double)elapsed_ms / 1000.0 : 0;
  double rate = secs > 0 ? (double)done / secs : 0;
  char d[32], t[32];
  snprintf(d, sizeof d, "%.1f", (double)done / 1048576.0);
  snprintf(t, sizeof t, "%.1f", (double)total / 1048576.0);
  if (total == 0) {
    snprintf(out, cap, "%s %s MB %.1f MB/s", label, d, rate / 1048576.0);
    return;
  }
  if (done > total) done = total;
  int pct = (int)(100 * done / total);
  enum { W = 20 };
  char bar[W + 1];
  int fill = (int)((uint64_t)W * done / total);
  for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : ' ';
  bar[W] = '\0';
  char eta[32] = "--:--";
  if (rate > 0) {
    long s = (long)((double)(total - done) / rate + 0.5);
    snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
  }
  snprintf(out, cap, "%s %3d%% [%s] %s/%s MB %.1f MB/s ETA %s", label, pct, bar, d, t,
           rate / 1048576.0, eta);
}

void progress_start(struct progress *p, const char *label, uint64_t total) {
  memset(p, 0, sizeof *p);
  p->on = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) && (total == 0 || total > (1u << 20));
  p->total = total;
  p->label = label;
  p->start_ms = p->last_ms = dfs_now_ms();
}

static void progress_draw(struct progress *p, bool final) {
  char line[256];
  cli_fmt_progress(line, sizeof line, p->label, p->done, p->total, dfs_now_ms() - p->start_ms);
  /* \033[K clears what a longer previous line left behind. */
  fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
  fflush(stderr);
}

void progress_update(struct progress *p, uint64_t done) {
  p->done = done;
  if (!p->on || (p->total && done >= p->total)) return; /* progress_end draws 100% */
  int64_t now = dfs_now_ms();
  if (now - p->last_ms < 200) return;
  p->last_ms = now;
  progress_draw(p, false);
}

void progress_end(struct progress *p) {
  if (p->on && p->done > (1u << 20)) progress_draw(p, true);
  else if (p->on && p->last_ms != p->start_ms) fprintf(stderr, "\r\033[K");
}
