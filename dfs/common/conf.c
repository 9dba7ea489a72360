/*
 * conf.c - configuration: the key table (conf_keys.def), Hadoop-style XML
 * files read with libxml2, -D overrides, validation, printing.
 *
 * A configuration holds one or more key tables (the filesystem's, and for
 * the database's programs also the database's, see conf.h). Each key has one
 * slot holding its text, its parsed number and where the value came from;
 * the slots of all tables sit in one array, table after table. Values are
 * validated when set, so a started daemon never meets a malformed value later.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

const struct dfs_conf_key dfs_conf_keys[] = {
#define X(name, type, def, min, max, unit, desc) {name, type, def, min, max, unit, desc},
#include "conf_keys.def"
#undef X
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

const struct dfs_conf_table dfs_conf_dfs_table = {"dfs-site.xml", dfs_conf_keys};

#define MAX_TABLES 8

struct slot {
  char *text;
  int64_t i;
  double d;
  char *source;
};

struct dfs_conf {
  const struct dfs_conf_table *tables[MAX_TABLES];
  size_t ntables;
  size_t nkeys;
  const struct dfs_conf_key **keys; /* nkeys: every table's keys in order */
  struct slot *v;                   /* nkeys */
  char *dir;
};

static int key_index(const dfs_conf *c, const char *name) {
  for (size_t i = 0; i < c->nkeys; i++)
    if (strcmp(c->keys[i]->name, name) == 0) return (int)i;
  return -1;
}

static int fail(const char *source, const char *key, const char *fmt, const char *val,
                double bound) {
  char why[512];
  snprintf(why, sizeof why, fmt, val, bound);
  return dfs_err_set(DFS_ECONFIG, "%s: %s: %s", source, key, why);
}

/* Parse "<number>[ ]<suffix>" where the suffix (case-insensitive) is one of
 * suf[] or absent (*which = -1). Suffixes are tried in order, so "ms" must
 * come before "m" and "s". Returns 0, or -1 if the text is not of that form. */
static int parse_num_suffix(const char *s, const char *const *suf, double *v, int *which) {
  while (isspace((unsigned char)*s)) s++;
  if (*s == '\0' || *s == '+' || strpbrk(s, "xX")) return -1;
  /* strtod would take hex floats, "inf" and "nan": allow decimal only. */
  for (const char *t = s; *t && !isalpha((unsigned char)*t); t++)
    if (!isdigit((unsigned char)*t) && *t != '.' && *t != '-' && !isspace((unsigned char)*t))
      return -1;
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  if (errno || end == s || !isfinite(*v)) return -1;
  while (isspace((unsigned char)*end)) end++;
  *which = -1;
  if (*end == '\0') return 0;
  for (int k = 0; suf[k]; k++) {
    size_t l = strlen(suf[k]);
    if (strncasecmp(end, suf[k], l) == 0) {
      const char *t = end + l;
      while (isspace((unsigned char)*t)) t++;
      if (*t == '\0') {
        *which = k;
        return 0;
      }
    }
  }
  return -1;
}

/* r as an int64 if it is a whole number in range; else -1. */
static int whole(double r, int64_t *out) {
  if (!(r > -9.2e18 && r < 9.2e18)) return -1;
  double w = nearbyint(r);
  if (fabs(r - w) > 1e-9 * (fabs(r) > 1 ? fabs(r) : 1)) return -1;
  *out = (int64_t)w;
  return 0;
}

static int validate(const struct dfs_conf_key *k, const char *val, const char *source,
                    struct slot *out) {
  int64_t i = 0;
  double d = 0;
  switch (k->type) {
  case DFS_CONF_INT: {
    char *end;
    errno = 0;
    long long x = strtoll(val, &end, 10);
    while (end && isspace((unsigned char)*end)) end++;
    if (errno || end == val || *end) return fail(source, k->name, "value '%s' is not an integer", val, 0);
    i = x;
    break;
  }
  case DFS_CONF_SIZE: {
    /* Binary multiples, as Hadoop's getLongBytes; "1.5m" is allowed and
     * rounded to a whole byte. */
    static const char *const suf[] = {"k", "m", "g", "t", "p", "b", NULL};
    static const double mult[] = {1024.0, 1048576.0, 1073741824.0, 1099511627776.0,
                                  1125899906842624.0, 1};
    double v;
    int w;
    if (parse_num_suffix(val, suf, &v, &w) || ((w < 0 || w == 5) && whole(v, &i)) ||
        (w >= 0 && w != 5 && whole(nearbyint(v * mult[w]), &i)))
      return fail(source, k->name, "value '%s' is not a size (a number with k, m, g, t or p)", val, 0);
    break;
  }
  case DFS_CONF_DURATION: {
    /* A bare number is in the key's own unit; a suffixed one is converted
     * and must come out whole ("1500ms" is not a whole number of seconds). */
    static const char *const suf[] = {"ms", "s", "m", "h", "d", NULL};
    static const double mult_ms[] = {1, 1000, 60000, 3600000, 86400000};
    double unit_ms = (k->unit && strcmp(k->unit, "s") == 0) ? 1000 : 1;
    double v;
    int w;
    if (parse_num_suffix(val, suf, &v, &w))
      return fail(source, k->name, "value '%s' is not a duration (a number with ms, s, m, h or d)", val, 0);
    if (whole(w < 0 ? v : v * mult_ms[w] / unit_ms, &i)) {
      char why[128];
      snprintf(why, sizeof why, "value '%%s' is not a whole number of %s",
               unit_ms == 1000 ? "seconds" : "milliseconds");
      return fail(source, k->name, why, val, 0);
    }
    break;
  }
  case DFS_CONF_BOOL:
    if (strcasecmp(val, "true") == 0) i = 1;
    else if (strcasecmp(val, "false") == 0) i = 0;
    else return fail(source, k->name, "value '%s' is not true or false", val, 0);
    break;
  case DFS_CONF_DOUBLE: {
    char *end;
    errno = 0;
    d = strtod(val, &end);
    if (errno || end == val || *end || !isfinite(d))
      return fail(source, k->name, "value '%s' is not a number", val, 0);
    break;
  }
  case DFS_CONF_STRING:
    /* The one string key with a closed set of values: refuse a typo at
     * start-up rather than let a daemon fall back to some level. */
    if (strcmp(k->name, "dfs.log.level") == 0 && dfs_log_level_parse(val) < 0)
      return fail(source, k->name, "value '%s' is not DEBUG, INFO, WARN, ERROR or OFF", val, 0);
    break;
  case DFS_CONF_ADDR: {
    const char *colon = strrchr(val, ':');
    size_t nd = colon ? strspn(colon + 1, "0123456789") : 0;
    long p = nd >= 1 && nd <= 5 ? strtol(colon + 1, NULL, 10) : -1;
    if (!colon || colon == val || colon[1 + nd] != '\0' || p < 0 || p > 65535)
      return fail(source, k->name, "value '%s' is not a host:port address", val, 0);
    break;
  }
  case DFS_CONF_LIST: {
    if (*val == '\0') return fail(source, k->name, "value '%s' is an empty list", val, 0);
    const char *p = val;
    for (;;) {
      const char *c = strchr(p, ',');
      size_t n = c ? (size_t)(c - p) : strlen(p);
      int blank = 1;
      for (size_t j = 0; j < n; j++)
        if (!isspace((unsigned char)p[j])) blank = 0;
      if (blank) return fail(source, k->name, "value '%s' has an empty list element", val, 0);
      if (!c) break;
      p = c + 1;
    }
    break;
  }
  }
  if (k->type == DFS_CONF_INT || k->type == DFS_CONF_SIZE || k->type == DFS_CONF_DURATION) {
    if ((double)i < k->min) return fail(source, k->name, "value '%s' is below the minimum %.15g", val, k->min);
    if ((double)i > k->max) return fail(source, k->name, "value '%s' is above the maximum %.15g", val, k->max);
  }
  if (k->type == DFS_CONF_DOUBLE) {
    if (d < k->min) return fail(source, k->name, "value '%s' is below the minimum %.15g", val, k->min);
    if (d > k->max) return fail(source, k->name, "value '%s' is above the maximum %.15g", val, k->max);
  }
  char *t = strdup(val);
  char *src = strdup(source);
  if (!t || !src) {
    free(t);
    free(src);
    return dfs_err_set(DFS_ENOMEM, "out of memory");
  }
  free(out->text);
  free(out->source);
  out->text = t;
  out->source = src;
  out->i = i;
  out->d = d;
  return 0;
}

/* A key's namespace is its first component with the dot ("dfs.", "hbase.").
 * The namespaces of a configuration are those of its tables' keys, so a
 * filesystem daemon judges dfs.* / ipc.* / net.* keys and leaves hbase.*
 * keys alone, while a database daemon judges both. */
static int is_our_namespace(const dfs_conf *c, const char *key) {
  const char *dot = strchr(key, '.');
  if (!dot) return 0;
  size_t n = (size_t)(dot - key) + 1;
  for (size_t i = 0; i < c->nkeys; i++)
    if (strncmp(c->keys[i]->name, key, n) == 0) return 1;
  return 0;
}

int dfs_conf_set(dfs_conf *c, const char *key, const char *value, const char *source) {
  int idx = key_index(c, key);
  if (idx < 0) {
    if (is_our_namespace(c, key))
      return dfs_err_set(DFS_ECONFIG, "%s: %s: unknown key", source, key);
    return 0; /* another component's key: not ours to judge */
  }
  return validate(c->keys[idx], value, source, &c->v[idx]);
}

dfs_conf *dfs_conf_new_tables(const struct dfs_conf_table *const *tables, size_t n) {
  if (n == 0 || n > MAX_TABLES) return NULL;
  dfs_conf *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  size_t total = 0;
  for (size_t t = 0; t < n; t++) {
    c->tables[t] = tables[t];
    for (const struct dfs_conf_key *k = tables[t]->keys; k->name; k++) total++;
  }
  c->ntables = n;
  c->keys = calloc(total ? total : 1, sizeof *c->keys);
  c->v = calloc(total ? total : 1, sizeof *c->v);
  if (!c->keys || !c->v) goto fail;
  for (size_t t = 0; t < n; t++)
    for (const struct dfs_conf_key *k = tables[t]->keys; k->name; k++) {
      /* The same name in two tables would make one of them unreachable. */
      if (key_index(c, k->name) >= 0) goto fail;
      c->keys[c->nkeys++] = k;
    }
  for (size_t i = 0; i < c->nkeys; i++) {
    /* A bad default is a bug in a table; test_conf / test_rs_conf catch it. */
    if (validate(c->keys[i], c->keys[i]->def, "default", &c->v[i]) != 0) goto fail;
  }
  return c;
fail:
  dfs_conf_free(c);
  return NULL;
}

dfs_conf *dfs_conf_new(void) {
  const struct dfs_conf_table *t = &dfs_conf_dfs_table;
  return dfs_conf_new_tables(&t, 1);
}

void dfs_conf_free(dfs_conf *c) {
  if (!c) return;
  for (size_t i = 0; c->v && i < c->nkeys; i++) {
    free(c->v[i].text);
    free(c->v[i].source);
  }
  free(c->v);
  free(c->keys);
  free(c->dir);
  free(c);
}

static char *node_text(xmlNode *n) {
  xmlChar *t = xmlNodeGetContent(n);
  if (!t) return strdup("");
  /* Trim surrounding whitespace, as Hadoop does. */
  char *s = (char *)t;
  while (isspace((unsigned char)*s)) s++;
  size_t l = strlen(s);
  while (l && isspace((unsigned char)s[l - 1])) l--;
  char *r = strndup(s, l);
  xmlFree(t);
  return r;
}

static void xml_silent(void *ctx, const char *msg, ...) {
  (void)ctx;
  (void)msg;
}

int dfs_conf_load_file(dfs_conf *c, const char *path, bool optional) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (optional && errno == ENOENT) return 0;
    return dfs_err_set(errno == ENOENT ? DFS_ENOENT : DFS_ECONFIG, "%s: cannot read: %s",
                       path, strerror(errno));
  }
  xmlSetGenericErrorFunc(NULL, xml_silent);
  xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                            XML_PARSE_NOWARNING);
  if (!doc) {
    const xmlError *e = xmlGetLastError();
    const char *m = e && e->message ? e->message : "parse error";
    size_t ml = strlen(m);
    while (ml && isspace((unsigned char)m[ml - 1])) ml--; /* libxml2 ends it with \n */
    return dfs_err_set(DFS_ECONFIG, "%s: line %d: malformed XML: %.*s", path, e ? e->line : 0,
                       (int)ml, m);
  }
  int rc = 0;
  xmlNode *root = xmlDocGetRootElement(doc);
  if (!root || xmlStrcmp(root->name, (const xmlChar *)"configuration") != 0) {
    rc = dfs_err_set(DFS_ECONFIG, "%s: the root element is not <configuration>", path);
    goto out;
  }
  for (xmlNode *p = root->children; p; p = p->next) {
    if (p->type != XML_ELEMENT_NODE) continue;
    if (xmlStrcmp(p->name, (const xmlChar *)"property") != 0) {
      rc = dfs_err_set(DFS_ECONFIG, "%s: line %d: unexpected element <%s>", path,
                       (int)xmlGetLineNo(p), (const char *)p->name);
      goto out;
    }
    char *name = NULL, *value = NULL;
    for (xmlNode *q = p->children; q; q = q->next) {
      if (q->type != XML_ELEMENT_NODE) continue;
      if (xmlStrcmp(q->name, (const xmlChar *)"name") == 0) {
        free(name);
        name = node_text(q);
      } else if (xmlStrcmp(q->name, (const xmlChar *)"value") == 0) {
        free(value);
        value = node_text(q);
      }
    }
    if (!name || !value) {
      rc = dfs_err_set(DFS_ECONFIG, "%s: line %d: <property> without <name> or <value>", path,
                       (int)xmlGetLineNo(p));
      free(name);
      free(value);
      goto out;
    }
    rc = dfs_conf_set(c, name, value, path);
    free(name);
    free(value);
    if (rc) goto out;
  }
out:
  xmlFreeDoc(doc);
  return rc;
}

static const struct dfs_conf_key *need_key(const dfs_conf *c, const char *key, int *idx) {
  *idx = key_index(c, key);
  if (*idx < 0) {
    fprintf(stderr, "BUG: configuration key %s is not declared in this configuration's tables\n",
            key);
    abort();
  }
  return c->keys[*idx];
}

int64_t dfs_conf_int(const dfs_conf *c, const char *key) {
  int i;
  need_key(c, key, &i);
  return c->v[i].i;
}

bool dfs_conf_bool(const dfs_conf *c, const char *key) {
  int i;
  need_key(c, key, &i);
  return c->v[i].i != 0;
}

double dfs_conf_double(const dfs_conf *c, const char *key) {
  int i;
  need_key(c, key, &i);
  return c->v[i].d;
}

const char *dfs_conf_str(const dfs_conf *c, const char *key) {
  int i;
  need_key(c, key, &i);
  return c->v[i].text;
}

const char *dfs_conf_source(const dfs_conf *c, const char *key) {
  int i;
  need_key(c, key, &i);
  return c->v[i].source;
}

const char *dfs_conf_dir(const dfs_conf *c) { return c->dir; }

void dfs_conf_print(const dfs_conf *c, FILE *out) {
  for (size_t i = 0; i < c->nkeys; i++)
    fprintf(out, "%s = %s    # %s; %s\n", c->keys[i]->name, c->v[i].text, c->v[i].source,
            c->keys[i]->desc);
}

static const char *type_name(enum dfs_conf_type t) {
  switch (t) {
  case DFS_CONF_INT: return "integer";
  case DFS_CONF_SIZE: return "size";
  case DFS_CONF_DURATION: return "duration";
  case DFS_CONF_BOOL: return "boolean";
  case DFS_CONF_DOUBLE: return "number";
  case DFS_CONF_STRING: return "string";
  case DFS_CONF_ADDR: return "host:port";
  case DFS_CONF_LIST: return "list";
  }
  return "?";
}

void dfs_conf_print_markdown(FILE *out) { dfs_conf_print_markdown_keys(dfs_conf_keys, out); }

void dfs_conf_print_markdown_keys(const struct dfs_conf_key *keys, FILE *out) {
  fprintf(out, "| key | type | default | bounds | description |\n|---|---|---|---|---|\n");
  for (size_t i = 0; keys[i].name; i++) {
    const struct dfs_conf_key *k = &keys[i];
    char bounds[96] = "";
    if (k->type == DFS_CONF_INT || k->type == DFS_CONF_SIZE || k->type == DFS_CONF_DURATION ||
        k->type == DFS_CONF_DOUBLE)
      snprintf(bounds, sizeof bounds, "%.15g .. %.15g", k->min, k->max);
    char type[48];
    snprintf(type, sizeof type, "%s%s%s%s", type_name(k->type), k->unit ? " (" : "",
             k->unit ? k->unit : "", k->unit ? ")" : "");
    fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", k->name, type, k->def, bounds, k->desc);
  }
}

static int set_dir(dfs_conf *c, const char *dir) {
  free(c->dir);
  c->dir = strdup(dir);
  return c->dir ? 0 : DFS_ENOMEM;
}

int dfs_conf_from_args(dfs_conf *c, int *argc, char **argv, bool *print_config) {
  const char *dir = NULL;
  int n = *argc, w = 1, rc = 0;
  if (print_config) *print_config = false;
  /* -D values apply after the file, whatever their order on the line. */
  const char **defs = calloc((size_t)n + 1, sizeof *defs);
  int ndefs = 0;
  if (!defs) return dfs_err_set(DFS_ENOMEM, "out of memory");
  for (int r = 1; r < n; r++) {
    const char *a = argv[r];
    if (strcmp(a, "--conf") == 0 || strcmp(a, "--config") == 0) {
      if (r + 1 >= n) {
        rc = dfs_err_set(DFS_ECONFIG, "%s needs a directory", a);
        goto out;
      }
      dir = argv[++r];
    } else if (strncmp(a, "--conf=", 7) == 0) {
      dir = a + 7;
    } else if (strcmp(a, "-D") == 0) {
      if (r + 1 >= n) {
        rc = dfs_err_set(DFS_ECONFIG, "-D needs key=value");
        goto out;
      }
      defs[ndefs++] = argv[++r];
    } else if (strncmp(a, "-D", 2) == 0) {
      defs[ndefs++] = a + 2;
    } else if (strcmp(a, "--print-config") == 0) {
      if (print_config) *print_config = true;
    } else if (strcmp(a, "--") == 0) {
      while (r < n) argv[w++] = argv[r++];
      break;
    } else {
      argv[w++] = argv[r];
    }
  }
  argv[w] = NULL;
  *argc = w;
  if (!dir) dir = getenv("DFS_CONF_DIR");
  if (!dir || !*dir) {
    struct stat st;
    dir = (stat(DFS_SOURCE_ETC_DIR, &st) == 0 && S_ISDIR(st.st_mode)) ? DFS_SOURCE_ETC_DIR : NULL;
  }
  if (dir) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      rc = dfs_err_set(DFS_ECONFIG, "%s: configuration directory not found", dir);
      goto out;
    }
    if ((rc = set_dir(c, dir)) != 0) goto out;
    for (size_t t = 0; t < c->ntables; t++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", dir, c->tables[t]->file);
      if ((rc = dfs_conf_load_file(c, path, true)) != 0) goto out;
    }
  }
  for (int i = 0; i < ndefs; i++) {
    const char *eq = strchr(defs[i], '=');
    if (!eq || eq == defs[i]) {
      rc = dfs_err_set(DFS_ECONFIG, "-D %s: expected key=value", defs[i]);
      goto out;
    }
    char key[256];
    size_t kl = (size_t)(eq - defs[i]);
    if (kl >= sizeof key) {
      rc = dfs_err_set(DFS_ECONFIG, "-D %s: key too long", defs[i]);
      goto out;
    }
    memcpy(key, defs[i], kl);
    key[kl] = '\0';
    if (key_index(c, key) < 0) {
      rc = dfs_err_set(DFS_ECONFIG, "-D: %s: unknown key", key);
      goto out;
    }
    if ((rc = dfs_conf_set(c, key, eq + 1, "-D")) != 0) goto out;
  }
out:
  free(defs);
  return rc;
}
