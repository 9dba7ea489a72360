/*
 * compaction_policy.c - the exploring selection of store files
 * (compaction_policy.h). O(n x max_files) windows, each summed from a
 * running total; n is a store's file count (tens).
 */
#include "compaction_policy.h"

void compaction_policy_conf_init(struct compaction_policy_conf *c) {
  c->min_files = 3;
  c->max_files = 10;
  c->ratio = 1.2;
  c->min_size = 128u << 20;
  c->max_size = UINT64_MAX;
  c->blocking_files = 16;
  c->major_period_ms = 7LL * 24 * 3600 * 1000;
  c->major_jitter = 0.5;
}

bool compaction_policy_needs_compaction(const struct compaction_policy_conf *c, size_t n) {
  uint32_t min = c->min_files < 2 ? 2 : c->min_files;
  return n >= min;
}

/* splitmix64: a well-mixed value from the seed, so the jitter is stable
 * for a store from one check to the next. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static int64_t major_period(const struct compaction_policy_conf *c, uint64_t seed) {
  int64_t p = c->major_period_ms;
  if (p <= 0 || c->major_jitter <= 0) return p;
  double u = (double)(mix(seed) >> 11) / 9007199254740992.0; /* [0, 1) */
  double j = c->major_jitter > 1 ? 1 : c->major_jitter;
  return p + (int64_t)((double)p * j * (2 * u - 1));
}

bool compaction_policy_major_due(const struct compaction_policy_conf *c,
                                 const struct cp_file *files, size_t n,
                                 const struct cp_request *req) {
  if (n == 0) return false;
  int64_t period = major_period(c, req->jitter_seed);
  if (period <= 0) return false;
  int64_t lowest = INT64_MAX;
  for (size_t i = 0; i < n; i++)
    if (files[i].created_ms > 0 && files[i].created_ms < lowest) lowest = files[i].created_ms;
  if (lowest == INT64_MAX || req->now_ms - lowest < period) return false;
  /* Rewriting one major-compacted file gains nothing unless cells in it
   * have expired since. */
  if (n == 1 && files[0].major_compacted && files[0].min_timestamp >= req->oldest_ts) return false;
  return true;
}

/* No file of the window is bigger than ratio x the sum of the others. */
static bool in_ratio(const struct cp_file *f, size_t count, uint64_t total, double ratio) {
  if (count < 2) return true;
  for (size_t i = 0; i < count; i++) {
    double others = (double)(total - f[i].size);
    if ((double)f[i].size > others * ratio) return false;
  }
  return true;
}

/* Exploring rule: more files removed wins; for as many files, less I/O.
 * When the store is close to blocking, files removed per byte decides
 * (a slightly better ratio is not worth a switch). */
static bool better(size_t best_n, uint64_t best_size, size_t n, uint64_t size, bool stuck) {
  if (best_n == 0) return true;
  if (stuck && best_size > 0 && size > 0)
    return (double)best_n / (double)best_size * 1.05 < (double)n / (double)size;
  return n > best_n || (n == best_n && size < best_size);
}

int compaction_policy_select(const struct compaction_policy_conf *c, const struct cp_file *files,
                             size_t n, const struct cp_request *req, struct cp_selection *sel) {
  if (n == 0) return 0;
  if (req->force_major || (n < c->max_files && compaction_policy_major_due(c, files, n, req))) {
    sel->start = 0;
    sel->count = n;
    sel->major = sel->all_files = true;
    return 1;
  }
  size_t min = c->min_files < 2 ? 2 : c->min_files;
  size_t max = c->max_files < min ? min : c->max_files;
  if (n < min) return 0;
  bool stuck = n >= c->blocking_files;
  size_t best_start = 0, best_n = 0, small_start = 0, small_n = 0;
  uint64_t best_size = 0, small_size = UINT64_MAX;
  for (size_t start = 0; start + min <= n; start++) {
    uint64_t total = 0;
    bool too_big = false;
    for (size_t end = start; end < n && end - start < max; end++) {
      if (files[end].size > c->max_size) too_big = true;
      total = total + files[end].size < total ? UINT64_MAX : total + files[end].size;
      size_t count = end - start + 1;
      if (count < min) continue;
      if (stuck && total < small_size) {
        small_start = start;
        small_n = count;
        small_size = total;
      }
      if (too_big || total > c->max_size) continue;
      if (total >= c->min_size && !in_ratio(files + start, count, total, c->ratio)) continue;
      if (better(best_n, best_size, count, total, stuck)) {
        best_start = start;
        best_n = count;
        best_size = total;
      }
    }
  }
  if (best_n == 0 && stuck && small_n > 0) {
    best_start = small_start;
    best_n = small_n;
  }
  if (best_n == 0) return 0;
  sel->start = best_start;
  sel->count = best_n;
  sel->major = false;
  sel->all_files = best_start == 0 && best_n == n;
  return 1;
}
