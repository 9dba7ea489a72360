/*
 * query_matcher.c - per-cell decisions of a store scan or compaction
 * (query_matcher.h).
 *
 * Because cells arrive in cell_compare() order, the delete tracker needs
 * almost no memory: inside a column, markers come newest first and before
 * the puts they cover, so remembering the newest DeleteColumn and the last
 * Delete timestamp is enough. Family markers are remembered for the whole
 * row (the newest DeleteFamily, and the DeleteFamilyVersion timestamps).
 */
#include "query_matcher.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "kv_scanner.h"

struct query_matcher {
  struct qm_config cfg;
  /* row state */
  bool has_fam_del;
  int64_t fam_del_ts;      /* newest DeleteFamily */
  int64_t *dfv;            /* DeleteFamilyVersion timestamps */
  size_t ndfv, dfv_cap;
  bool dfv_sorted_desc;    /* they arrived newest first: binary search */
  size_t qidx;             /* next selected qualifier that may still come */
  /* column state */
  bool has_col;
  uint8_t *col;            /* current column's qualifier (a copy) */
  uint32_t col_len;
  size_t col_cap;
  bool has_col_del, has_ver_del, has_last;
  int64_t col_del_ts;      /* newest DeleteColumn */
  int64_t ver_del_ts;      /* last Delete (version) */
  int64_t last_ts;         /* last counted put: later puts at this ts are older writes */
  uint32_t count;          /* versions counted in this column */
  struct cell hint;
};

int64_t qm_oldest_ts(int64_t now_ms, int64_t ttl_ms) {
  if (ttl_ms <= 0 || ttl_ms == INT64_MAX) return INT64_MIN;
  if (now_ms < INT64_MIN + ttl_ms) return INT64_MIN;
  return now_ms - ttl_ms;
}

struct query_matcher *query_matcher_create(const struct qm_config *cfg) {
  struct query_matcher *qm = calloc(1, sizeof *qm);
  if (!qm) {
    dfs_err_set(DFS_ENOMEM, "query matcher: out of memory");
    return NULL;
  }
  qm->cfg = *cfg;
  if (qm->cfg.max_versions == 0) qm->cfg.max_versions = 1;
  if (qm->cfg.min_versions > qm->cfg.max_versions) qm->cfg.min_versions = qm->cfg.max_versions;
  if (qm->cfg.mode == QM_COMPACT_MINOR || qm->cfg.mode == QM_COMPACT_MAJOR) {
    qm->cfg.n_qualifiers = 0;
    qm->cfg.tr_min = INT64_MIN;
    qm->cfg.tr_max = INT64_MAX;
  }
  query_matcher_new_row(qm);
  return qm;
}

void query_matcher_destroy(struct query_matcher *qm) {
  if (!qm) return;
  free(qm->dfv);
  free(qm->col);
  free(qm);
}

void query_matcher_new_row(struct query_matcher *qm) {
  qm->has_fam_del = false;
  qm->ndfv = 0;
  qm->dfv_sorted_desc = true;
  qm->qidx = 0;
  qm->has_col = false;
}

const struct cell *query_matcher_hint(const struct query_matcher *qm) { return &qm->hint; }

/* Starts tracking c's column if it is a new one. false on ENOMEM. */
static bool enter_column(struct query_matcher *qm, const struct cell *c) {
  if (qm->has_col && qm->col_len == c->qualifier_len &&
      (c->qualifier_len == 0 || memcmp(qm->col, c->qualifier, c->qualifier_len) == 0))
    return true;
  if (c->qualifier_len > qm->col_cap) {
    size_t n = qm->col_cap ? qm->col_cap : 32;
    while (n < c->qualifier_len) n *= 2;
    uint8_t *p = realloc(qm->col, n);
    if (!p) return false;
    qm->col = p;
    qm->col_cap = n;
  }
  if (c->qualifier_len) memcpy(qm->col, c->qualifier, c->qualifier_len);
  qm->col_len = c->qualifier_len;
  qm->has_col = true;
  qm->has_col_del = qm->has_ver_del = qm->has_last = false;
  qm->count = 0;
  return true;
}

static void track_delete(struct query_matcher *qm, const struct cell *c) {
  int64_t ts = c->timestamp;
  switch (c->type) {
    case CELL_DELETE_FAMILY:
      if (!qm->has_fam_del || ts > qm->fam_del_ts) qm->fam_del_ts = ts;
      qm->has_fam_del = true;
      break;
    case CELL_DELETE_FAMILY_VERSION:
      if (qm->ndfv == qm->dfv_cap) {
        size_t n = qm->dfv_cap ? qm->dfv_cap * 2 : 8;
        int64_t *p = realloc(qm->dfv, n * sizeof *p);
        if (!p) { /* cannot remember it: forget nothing else, hide conservatively */
          if (!qm->has_fam_del || ts > qm->fam_del_ts) qm->fam_del_ts = ts;
          qm->has_fam_del = true;
          return;
        }
        qm->dfv = p;
        qm->dfv_cap = n;
      }
      if (qm->ndfv && ts >= qm->dfv[qm->ndfv - 1]) qm->dfv_sorted_desc = false;
      qm->dfv[qm->ndfv++] = ts;
      break;
    case CELL_DELETE_COLUMN:
      if (!qm->has_col_del || ts > qm->col_del_ts) qm->col_del_ts = ts;
      qm->has_col_del = true;
      break;
    case CELL_DELETE:
      qm->ver_del_ts = ts;
      qm->has_ver_del = true;
      break;
    default:
      break;
  }
}

static bool dfv_has(const struct query_matcher *qm, int64_t ts) {
  if (!qm->ndfv) return false;
  if (!qm->dfv_sorted_desc || qm->ndfv < 8) {
    for (size_t i = 0; i < qm->ndfv; i++)
      if (qm->dfv[i] == ts) return true;
    return false;
  }
  size_t lo = 0, hi = qm->ndfv;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (qm->dfv[mid] == ts) return true;
    if (qm->dfv[mid] > ts) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

enum del_result { NOT_DELETED, VERSION_DELETED, COLUMN_DELETED };

static enum del_result is_deleted(const struct query_matcher *qm, int64_t ts) {
  if (qm->has_fam_del && ts <= qm->fam_del_ts) return COLUMN_DELETED;
  if (qm->has_col_del && ts <= qm->col_del_ts) return COLUMN_DELETED;
  if (qm->has_ver_del && ts == qm->ver_del_ts) return VERSION_DELETED;
  if (dfv_has(qm, ts)) return VERSION_DELETED;
  return NOT_DELETED;
}

/* "Skip the rest of this column", except in the empty-qualifier column
 * where family markers may still follow. */
static enum qm_code next_col(const struct cell *c) {
  return c->qualifier_len ? QM_SEEK_NEXT_COL : QM_SKIP;
}

/* Column selection: QM_INCLUDE if c's column is selected, else how to skip. */
static enum qm_code check_column(struct query_matcher *qm, const struct cell *c) {
  const struct qm_qualifier *qs = qm->cfg.qualifiers;
  while (qm->qidx < qm->cfg.n_qualifiers) {
    const struct qm_qualifier *q = &qs[qm->qidx];
    int cmp = cell_compare_rows(c->qualifier, c->qualifier_len, q->q, q->len);
    if (cmp == 0) return QM_INCLUDE;
    if (cmp < 0) {
      if (!c->qualifier_len) return QM_SKIP;
      kv_key_first_on_column(&qm->hint, c);
      qm->hint.qualifier = q->q;
      qm->hint.qualifier_len = q->len;
      return QM_SEEK_HINT;
    }
    qm->qidx++;
  }
  return c->qualifier_len ? QM_SEEK_NEXT_ROW : QM_SKIP;
}

static enum qm_code match_compaction(struct query_matcher *qm, const struct cell *c,
                                     bool expired) {
  bool major = qm->cfg.mode == QM_COMPACT_MAJOR;
  bool old_enough = c->seq_id <= qm->cfg.read_point;
  if (c->type != CELL_PUT) {
    if (!old_enough) return QM_INCLUDE;
    track_delete(qm, c);
    return major ? QM_SKIP : QM_INCLUDE;
  }
  if (!old_enough) return QM_INCLUDE;
  if (is_deleted(qm, c->timestamp) != NOT_DELETED) return QM_SKIP;
  if (qm->has_last && qm->last_ts == c->timestamp) return QM_SKIP;
  qm->has_last = true;
  qm->last_ts = c->timestamp;
  qm->count++;
  if (qm->count > qm->cfg.max_versions) return QM_SKIP;
  if (expired && qm->count > qm->cfg.min_versions) return QM_SKIP;
  return QM_INCLUDE;
}

enum qm_code query_matcher_match(struct query_matcher *qm, const struct cell *c) {
  const struct qm_config *cfg = &qm->cfg;
  bool compacting = cfg->mode == QM_COMPACT_MINOR || cfg->mode == QM_COMPACT_MAJOR;
  if (!compacting && c->seq_id > cfg->read_point) return QM_SKIP;
  if (!enter_column(qm, c)) return QM_SKIP; /* ENOMEM on a huge qualifier: cannot track */
  bool expired = c->timestamp < cfg->oldest_ts;
  /* Expired cells: every later version of the column is older, and an
   * expired marker covers only expired cells. */
  if (expired && cfg->min_versions == 0) return compacting ? QM_SKIP : next_col(c);
  if (compacting) return match_compaction(qm, c, expired);

  bool family_marker = c->type == CELL_DELETE_FAMILY || c->type == CELL_DELETE_FAMILY_VERSION;
  if (cfg->mode == QM_USER && family_marker) {
    track_delete(qm, c);
    return QM_SKIP;
  }
  if (cfg->n_qualifiers) {
    enum qm_code rc = check_column(qm, c);
    if (rc != QM_INCLUDE) return rc;
  }
  if (cfg->mode == QM_USER && c->type != CELL_PUT) {
    track_delete(qm, c);
    return QM_SKIP;
  }
  if (c->timestamp >= cfg->tr_max) return QM_SKIP;
  if (c->timestamp < cfg->tr_min) return next_col(c);
  if (cfg->mode == QM_USER) {
    enum del_result d = is_deleted(qm, c->timestamp);
    if (d == COLUMN_DELETED) return next_col(c);
    if (d == VERSION_DELETED) return QM_SKIP;
    if (qm->has_last && qm->last_ts == c->timestamp) return QM_SKIP;
    qm->has_last = true;
    qm->last_ts = c->timestamp;
  }
  qm->count++;
  if (qm->count > cfg->max_versions) return next_col(c);
  if (expired && qm->count > cfg->min_versions) return next_col(c);
  if (qm->count == cfg->max_versions && c->qualifier_len) return QM_INCLUDE_AND_SEEK_NEXT_COL;
  return QM_INCLUDE;
}
