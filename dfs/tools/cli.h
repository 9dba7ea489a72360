/*
 * cli.h - shared pieces of the `dfs` command (dfs/tools/).
 *
 * Two layers. The pure helpers of cli_util.c (option parsing, path
 * resolution, the `hdfs dfs` output formats, the progress line) take no
 * connection and print only to a FILE* they are given, so that
 * tests/unit/test_cli_util.c checks them without a cluster. The rest
 * (dfs_main.c: connection, messages; cmd_*.c: one file per family of
 * subcommands) builds on the public client API (dfs.h) only, never on the
 * wire protocol.
 *
 * Each subcommand is `int cmd_x(struct cli *, int argc, char **argv)`, argv[0]
 * being the subcommand's name, and returns the process exit code: 0 ok, 1 an
 * error (already printed on stderr, HDFS style "put: /x: File exists"), or
 * CLI_USAGE for a usage error (main then prints the command's usage and
 * exits 2).
 */
#ifndef DFS_CLI_H
#define DFS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "dfs.h"

#define CLI_USAGE (-1)
/* Copy buffer of put/get/cat: large enough that a 1 GiB transfer costs few
 * syscalls and the client library sees whole packets. */
#define CLI_COPY_BUF (4u << 20)

/* State of one `dfs` invocation. Single-threaded. */
struct cli {
  dfs_conf *conf;
  const char *namenode; /* --namenode, or NULL (dfs.namenode.rpc-address) */
  const char *user;     /* --user / $HADOOP_USER_NAME / the OS user */
  dfs_fs *fs;           /* connected lazily by cli_fs(), freed by main */
  const char *cmd;      /* subcommand name, prefix of every message */
  char user_buf[256];   /* storage for the OS user name */
};

/* ---- dfs_main.c: connection and messages ----------------------------------- */

/* Connect on first use; on failure prints "<cmd>: <why>" and returns NULL. */
dfs_fs *cli_fs(struct cli *c);
/* Absolute, normalised DFS path for a user argument (relative to
 * /user/<user>). Caller frees; NULL only when out of memory. */
char *cli_abs(struct cli *c, const char *arg);
/* Print "<cmd>: <arg>: <reason>" for library error rc (reason from the
 * thread's explanation when it says more than the code). Returns 1. */
int cli_errp(struct cli *c, const char *arg, int rc);
/* Print "<cmd>: <arg>: <text>". Returns 1. */
int cli_fail(struct cli *c, const char *arg, const char *text);

/* ---- cli_util.c: pure helpers ------------------------------------------------ */

/* Leading options of a subcommand, `hdfs dfs` style: single letters from
 * `letters` (combinable: -rf), and whole words from the NULL-terminated
 * `words` (e.g. "-skipTrash"; bit k of *wset set when words[k] is seen; words
 * may be NULL). Parsing stops at the first operand, at "-" (stdin), and
 * after "--". Returns the index of the first operand, or CLI_USAGE with the
 * offending option copied to bad[badcap]. `set` receives the letters seen. */
int cli_flags(int argc, char **argv, const char *letters, const char *const *words,
              unsigned *wset, char *set, size_t setcap, char *bad, size_t badcap);
#define CLI_HAS(set, ch) (strchr((set), (ch)) != NULL)

/* Resolve `arg` for `user`: drops a scheme and authority ("hdfs://nn:8020/x"
 * -> "/x"), makes a relative path absolute under /user/<user>, and resolves
 * "." and ".." components and repeated or trailing slashes lexically (".."
 * above the root stays at the root). Caller frees; NULL if out of memory. */
char *cli_resolve(const char *user, const char *arg);
/* dir + "/" + name without doubling the slash. Caller frees. */
char *cli_join(const char *dir, const char *name);
/* Last component of a path ("/" for the root); points into `p`. A trailing
 * slash is ignored only by the caller's normalisation (cli_resolve). */
const char *cli_base(const char *p);

/* "drwxr-xr-x" (sticky: 't' or 'T' in the last place). */
void cli_fmt_perm(uint16_t perm, bool dir, char out[11]);
/* Hadoop's TraditionalBinaryPrefix.long2String(n, unit, decimals): "1023",
 * "4 K" (exact), "2.9 M"; with unit "B" and 2 decimals the StringUtils.byteDesc
 * form of dfsadmin ("0 B", "26 KB", "994.75 MB"). */
void cli_fmt_human(uint64_t n, const char *unit, int decimals, char *out, size_t cap);
/* Size column: plain decimal, or long2String(n, "", 1) when human. */
void cli_fmt_size(uint64_t n, bool human, char *out, size_t cap);
/* Time of ms since the epoch with strftime format `fmt`, UTC or local. */
void cli_fmt_time(int64_t ms, const char *fmt, bool utc, char *out, size_t cap);

/* chmod mode: octal ("755", "1777") or symbolic ("u+x,go-w", "a=r", "+t",
 * "o=") applied to `old` (X: execute if a directory or already executable
 * by someone). Returns the new 12-bit mode, or -1 if malformed. */
int cli_parse_mode(const char *s, uint16_t old, bool dir);
/* chown spec "OWNER", "OWNER:GROUP", ":GROUP", "OWNER:". Copies into the
 * buffers (empty string = unchanged). Returns 0, or -1 if malformed (both
 * empty, or a name with whitespace or a second ':'). */
int cli_parse_owner(const char *spec, char *owner, size_t ocap, char *group, size_t gcap);
/* Positive decimal integer in [min, max]; -1 if malformed or outside. */
long cli_parse_long(const char *s, long min, long max);

/* `hdfs dfs -stat` format: %b length, %F type, %g group, %n name, %o block
 * size, %r replication, %u owner, %a octal permission, %A symbolic, %x/%X
 * access time (date/ms), %y/%Y modification time (UTC "yyyy-MM-dd HH:mm:ss"
 * / ms), %% and \n. Writes one line (with the newline). */
void cli_format_stat(FILE *out, const char *fmt, const struct dfs_stat *st, const char *path);

/* Column widths of an `ls` listing, computed over the entries as HDFS does
 * (replication >= 3 wide, size >= 10 wide, owner and group the widest). */
struct cli_ls_widths {
  int repl, owner, group, size;
};
void cli_ls_widths(const struct dfs_stat *e, size_t n, bool human, struct cli_ls_widths *w);
/* "drwxr-xr-x   - owner group          0 2026-11-22 23:40 /path\n". Times
 * in local time (as hdfs), UTC when utc. */
void cli_ls_line(FILE *out, const struct dfs_stat *st, const char *path, bool human,
                 const struct cli_ls_widths *w, bool utc);

/* Progress line (no \r or newline): "name  45% [#####     ] 12.0/26.7 MB
 * 85.3 MB/s ETA 0:02". total 0 means unknown (no percentage or ETA). */
void cli_fmt_progress(char *out, size_t cap, const char *label, uint64_t done, uint64_t total,
                      int64_t elapsed_ms);

/* Progress bar on stderr, redrawn with \r at most 5 times a second; only
 * when stdout and stderr are terminals and the transfer is over 1 MiB (or
 * of unknown size). */
struct progress {
  bool on;
  uint64_t total, done;
  int64_t start_ms, last_ms;
  const char *label;
};
void progress_start(struct progress *p, const char *label, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_end(struct progress *p);

/* ---- subcommands --------------------------------------------------------------- */

int cmd_put(struct cli *c, int argc, char **argv);
int cmd_get(struct cli *c, int argc, char **argv);
int cmd_cat(struct cli *c, int argc, char **argv);
int cmd_head(struct cli *c, int argc, char **argv);
int cmd_tail(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_mkdir(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_rmdir(struct cli *c, int argc, char **argv);
int cmd_mv(struct cli *c, int argc, char **argv);
int cmd_stat(struct cli *c, int argc, char **argv);
int cmd_du(struct cli *c, int argc, char **argv);
int cmd_setrep(struct cli *c, int argc, char **argv);
int cmd_chmod(struct cli *c, int argc, char **argv);
int cmd_chown(struct cli *c, int argc, char **argv);
int cmd_chgrp(struct cli *c, int argc, char **argv);
int cmd_test(struct cli *c, int argc, char **argv);
int cmd_touchz(struct cli *c, int argc, char **argv);
int cmd_count(struct cli *c, int argc, char **argv);
int cmd_report(struct cli *c, int argc, char **argv);
int cmd_fsck(struct cli *c, int argc, char **argv);
int cmd_recover_lease(struct cli *c, int argc, char **argv);
int cmd_safemode(struct cli *c, int argc, char **argv);
int cmd_refresh_nodes(struct cli *c, int argc, char **argv);

#endif
