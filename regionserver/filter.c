/*
 * filter.c - scan filters (filter.h): one struct with a kind tag, judged a
 * whole row at a time over a mark array, so no filter allocates per cell
 * (an OR list keeps two scratch mark arrays that grow with the widest row).
 */
#include "filter.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#ifndef REG_STARTEND
#error "row regex needs regexec's REG_STARTEND (glibc, BSD libc)"
#endif

enum filter_kind {
  F_PREFIX,
  F_ROW_REGEX,
  F_COLUMN_PREFIX,
  F_SCV,
  F_FIRST_KEY_ONLY,
  F_KEY_ONLY,
  F_PAGE,
  F_LIST,
};

struct filter {
  enum filter_kind kind;
  uint8_t *bytes;        /* prefix, or SCV family | qualifier | operand */
  size_t len;            /* prefix length, or operand length */
  size_t flen, qlen;     /* SCV */
  enum filter_op op;
  enum filter_comparator cmp;
  bool if_missing;
  regex_t re;
  bool re_ok;
  uint64_t page_size, page_count;
  enum filter_list_op list_op;
  struct filter **children;
  size_t nchildren;
  uint8_t *scratch;      /* OR list: 2 * scratch_cap marks */
  size_t scratch_cap;
};

static int new_filter(enum filter_kind kind, struct filter **out) {
  struct filter *f = calloc(1, sizeof *f);
  if (!f) return dfs_err_set(DFS_ENOMEM, "filter: out of memory");
  f->kind = kind;
  *out = f;
  return 0;
}

static int with_bytes(enum filter_kind kind, const uint8_t *b, size_t len, struct filter **out) {
  struct filter *f = NULL;
  int rc = new_filter(kind, &f);
  if (rc) return rc;
  f->bytes = malloc(len ? len : 1);
  if (!f->bytes) {
    free(f);
    return dfs_err_set(DFS_ENOMEM, "filter: out of memory");
  }
  if (len) memcpy(f->bytes, b, len);
  f->len = len;
  *out = f;
  return 0;
}

int filter_prefix(const uint8_t *prefix, size_t len, struct filter **out) {
  return with_bytes(F_PREFIX, prefix, len, out);
}

int filter_column_prefix(const uint8_t *prefix, size_t len, struct filter **out) {
  return with_bytes(F_COLUMN_PREFIX, prefix, len, out);
}

int filter_row_regex(const char *pattern, struct filter **out) {
  struct filter *f = NULL;
  int rc = new_filter(F_ROW_REGEX, &f);
  if (rc) return rc;
  int e = regcomp(&f->re, pattern, REG_EXTENDED | REG_NOSUB);
  if (e) {
    char msg[128];
    regerror(e, &f->re, msg, sizeof msg);
    free(f);
    return dfs_err_set(DFS_EINVAL, "row regex filter: \"%s\": %s", pattern, msg);
  }
  f->re_ok = true;
  *out = f;
  return 0;
}

int filter_single_column_value(const uint8_t *family, size_t family_len,
                               const uint8_t *qualifier, size_t qualifier_len,
                               enum filter_op op, enum filter_comparator cmp,
                               const uint8_t *operand, size_t operand_len,
                               bool filter_if_missing, struct filter **out) {
  if (op < FILTER_EQ || op > FILTER_GE || (cmp != FILTER_BINARY && cmp != FILTER_SUBSTRING))
    return dfs_err_set(DFS_EINVAL, "single column value filter: bad operator %d / comparator %d",
                       (int)op, (int)cmp);
  if (cmp == FILTER_SUBSTRING && op != FILTER_EQ && op != FILTER_NE)
    return dfs_err_set(DFS_EINVAL, "single column value filter: a substring comparator "
                                   "takes only = or !=");
  struct filter *f = NULL;
  int rc = new_filter(F_SCV, &f);
  if (rc) return rc;
  size_t n = family_len + qualifier_len + operand_len;
  f->bytes = malloc(n ? n : 1);
  if (!f->bytes) {
    free(f);
    return dfs_err_set(DFS_ENOMEM, "filter: out of memory");
  }
  uint8_t *p = f->bytes;
  if (family_len) memcpy(p, family, family_len);
  if (qualifier_len) memcpy(p + family_len, qualifier, qualifier_len);
  if (operand_len) memcpy(p + family_len + qualifier_len, operand, operand_len);
  f->flen = family_len;
  f->qlen = qualifier_len;
  f->len = operand_len;
  f->op = op;
  f->cmp = cmp;
  f->if_missing = filter_if_missing;
  *out = f;
  return 0;
}

int filter_first_key_only(struct filter **out) { return new_filter(F_FIRST_KEY_ONLY, out); }

int filter_key_only(struct filter **out) { return new_filter(F_KEY_ONLY, out); }

int filter_page(uint64_t page_size, struct filter **out) {
  int rc = new_filter(F_PAGE, out);
  if (!rc) (*out)->page_size = page_size;
  return rc;
}

int filter_list(enum filter_list_op op, struct filter *const *children, size_t n,
                struct filter **out) {
  struct filter *f = NULL;
  int rc = new_filter(F_LIST, &f);
  if (!rc) {
    f->children = calloc(n ? n : 1, sizeof *f->children);
    if (!f->children) rc = dfs_err_set(DFS_ENOMEM, "filter list: out of memory");
  }
  if (rc) {
    for (size_t i = 0; i < n; i++) filter_destroy(children[i]);
    if (f) free(f);
    return rc;
  }
  if (n) memcpy(f->children, children, n * sizeof *children);
  f->nchildren = n;
  f->list_op = op;
  *out = f;
  return 0;
}

void filter_destroy(struct filter *f) {
  if (!f) return;
  for (size_t i = 0; i < f->nchildren; i++) filter_destroy(f->children[i]);
  free(f->children);
  if (f->re_ok) regfree(&f->re);
  free(f->bytes);
  free(f->scratch);
  free(f);
}

void filter_reset(struct filter *f) {
  f->page_count = 0;
  for (size_t i = 0; i < f->nchildren; i++) filter_reset(f->children[i]);
}

static bool has_prefix(const uint8_t *b, size_t len, const uint8_t *p, size_t plen) {
  return len >= plen && (plen == 0 || memcmp(b, p, plen) == 0);
}

/* REG_STARTEND lets a key hold NUL bytes; the key is still copied with a
 * terminating NUL because sanitizers' regexec interceptors call strlen. */
static bool regex_matches(const struct filter *f, const uint8_t *row, size_t len) {
  char stack[256];
  char *s = len < sizeof stack ? stack : malloc(len + 1);
  if (!s) return false; /* out of memory: the row does not match */
  if (len) memcpy(s, row, len);
  s[len] = 0;
  regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};
  bool ok = regexec(&f->re, s, 1, &m, REG_STARTEND) == 0;
  if (s != stack) free(s);
  return ok;
}

bool filter_done(const struct filter *f, const uint8_t *row, size_t len, bool reversed) {
  switch (f->kind) {
    case F_PAGE:
      return f->page_count >= f->page_size;
    case F_PREFIX: {
      if (has_prefix(row, len, f->bytes, f->len)) return false;
      int c = cell_compare_rows(row, len, f->bytes, f->len);
      return reversed ? c < 0 : c > 0;
    }
    case F_LIST: {
      bool all = f->list_op == FILTER_MUST_PASS_ALL;
      for (size_t i = 0; i < f->nchildren; i++) {
        bool d = filter_done(f->children[i], row, len, reversed);
        if (all && d) return true;
        if (!all && !d) return false;
      }
      return !all && f->nchildren > 0;
    }
    default:
      return false;
  }
}

bool filter_skip_row_key(const struct filter *f, const uint8_t *row, size_t len) {
  switch (f->kind) {
    case F_PREFIX:
      return !has_prefix(row, len, f->bytes, f->len);
    case F_ROW_REGEX:
      return !regex_matches(f, row, len);
    case F_PAGE:
      return f->page_count >= f->page_size;
    case F_LIST: {
      bool all = f->list_op == FILTER_MUST_PASS_ALL;
      for (size_t i = 0; i < f->nchildren; i++) {
        bool s = filter_skip_row_key(f->children[i], row, len);
        if (all && s) return true;
        if (!all && !s) return false;
      }
      return !all && f->nchildren > 0;
    }
    default:
      return false;
  }
}

/* Case-insensitive (ASCII) "hay contains needle". */
static bool contains_ci(const uint8_t *hay, size_t hlen, const uint8_t *needle, size_t nlen) {
  if (nlen == 0) return true;
  for (size_t i = 0; i + nlen <= hlen; i++) {
    size_t j = 0;
    while (j < nlen && tolower(hay[i + j]) == tolower(needle[j])) j++;
    if (j == nlen) return true;
  }
  return false;
}

static bool scv_passes(const struct filter *f, const struct cell *c) {
  const uint8_t *operand = f->bytes + f->flen + f->qlen;
  if (f->cmp == FILTER_SUBSTRING) {
    bool has = contains_ci(c->value, c->value_len, operand, f->len);
    return f->op == FILTER_EQ ? has : !has;
  }
  int r = cell_compare_rows(c->value, c->value_len, operand, f->len);
  switch (f->op) {
    case FILTER_EQ: return r == 0;
    case FILTER_NE: return r != 0;
    case FILTER_LT: return r < 0;
    case FILTER_LE: return r <= 0;
    case FILTER_GT: return r > 0;
    case FILTER_GE: return r >= 0;
  }
  return false;
}

static int list_or(struct filter *f, const struct cell *cells, uint8_t *marks, size_t n) {
  if (n > f->scratch_cap) {
    uint8_t *p = realloc(f->scratch, 2 * n);
    if (!p) return dfs_err_set(DFS_ENOMEM, "filter list: out of memory for a %zu-cell row", n);
    f->scratch = p;
    f->scratch_cap = n;
  }
  uint8_t *result = f->scratch, *trial = f->scratch + f->scratch_cap;
  memset(result, 0, n);
  bool any = false;
  for (size_t k = 0; k < f->nchildren; k++) {
    memcpy(trial, marks, n);
    int rc = filter_row(f->children[k], cells, trial, n, false);
    if (rc < 0) return rc;
    if (!rc) continue;
    any = true;
    for (size_t i = 0; i < n; i++) {
      if (!(trial[i] & FILTER_KEEP)) continue;
      if (!(result[i] & FILTER_KEEP)) result[i] = trial[i];
      else if (!(trial[i] & FILTER_STRIP_VALUE)) result[i] &= (uint8_t)~FILTER_STRIP_VALUE;
    }
  }
  if (any) memcpy(marks, result, n);
  return any ? 1 : 0;
}

int filter_row(struct filter *f, const struct cell *cells, uint8_t *marks, size_t n,
               bool key_ok) {
  const uint8_t *row = n ? cells[0].row : NULL;
  size_t row_len = n ? cells[0].row_len : 0;
  switch (f->kind) {
    case F_PREFIX:
    case F_ROW_REGEX:
      return key_ok || !filter_skip_row_key(f, row, row_len) ? 1 : 0;
    case F_COLUMN_PREFIX:
      for (size_t i = 0; i < n; i++)
        if ((marks[i] & FILTER_KEEP) &&
            !has_prefix(cells[i].qualifier, cells[i].qualifier_len, f->bytes, f->len))
          marks[i] = 0;
      return 1;
    case F_SCV: {
      const uint8_t *fam = f->bytes, *qual = f->bytes + f->flen;
      for (size_t i = 0; i < n; i++) {
        const struct cell *c = &cells[i];
        if (!(marks[i] & FILTER_KEEP) || c->type != CELL_PUT) continue;
        if (c->family_len == f->flen && c->qualifier_len == f->qlen &&
            (f->flen == 0 || memcmp(c->family, fam, f->flen) == 0) &&
            (f->qlen == 0 || memcmp(c->qualifier, qual, f->qlen) == 0))
          return scv_passes(f, c) ? 1 : 0; /* the first one is the newest version */
      }
      return f->if_missing ? 0 : 1;
    }
    case F_FIRST_KEY_ONLY: {
      bool seen = false;
      for (size_t i = 0; i < n; i++) {
        if (!(marks[i] & FILTER_KEEP)) continue;
        if (seen) marks[i] = 0;
        seen = true;
      }
      return 1;
    }
    case F_KEY_ONLY:
      for (size_t i = 0; i < n; i++)
        if (marks[i] & FILTER_KEEP) marks[i] |= FILTER_STRIP_VALUE;
      return 1;
    case F_PAGE: {
      bool any = false;
      for (size_t i = 0; i < n && !any; i++) any = marks[i] & FILTER_KEEP;
      if (!any) return 1; /* an empty row is not returned: not counted */
      if (f->page_count >= f->page_size) return 0;
      f->page_count++;
      return 1;
    }
    case F_LIST:
      if (f->list_op == FILTER_MUST_PASS_ONE) return list_or(f, cells, marks, n);
      for (size_t k = 0; k < f->nchildren; k++) {
        int rc = filter_row(f->children[k], cells, marks, n, key_ok);
        if (rc <= 0) return rc;
      }
      return 1;
  }
  return 1;
}
