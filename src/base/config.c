/* config.c - table-driven settings from INI (libinih), environment and flags. */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

typedef struct cfg_value {
  const tarn_cfg_def *def;
  const char *section; /* def->section, or the instance's name for a family ("bucket.b1") */
  char *key;           /* a key of an open section (def->key "*"); NULL: def->key */
  char *text;          /* NULL when unset */
  int64_t num;         /* parsed INT/SIZE/DURATION/BOOL */
  char source[160];
} cfg_value;

/*
 * Values of fixed sections come first, in table order; each instance of a section
 * family ("bucket.*") appends one block holding every key of the family, in table order,
 * when its section is first seen. Family templates are kept apart in `fam`.
 */
struct tarn_config {
  cfg_value *v;
  size_t n, cap;
  const tarn_cfg_def **fam; /* defs whose section is "NAME.*" */
  size_t nfam;
  char **inst; /* instance sections ("bucket.b1"), in order of appearance */
  size_t ninst;
};

static const char *key_of(const cfg_value *v) { return v->key != NULL ? v->key : v->def->key; }

static cfg_value *find(const tarn_config *cfg, const char *section, const char *key) {
  size_t i;
  for (i = 0; i < cfg->n; i++)
    if (strcmp(cfg->v[i].section, section) == 0 && strcmp(key_of(&cfg->v[i]), key) == 0)
      return &cfg->v[i];
  return NULL;
}

/* Keys of open sections that hold credentials by their name (librdkafka's sasl.password,
 * ssl.key.password, ssl.key.pem, sasl.oauthbearer.client.secret ...): never printed. */
static int open_key_secret(const char *key) {
  static const char *const words[] = {"password", "secret", "pem",
                                      "jaas",     "token",  "oauthbearer.config"};
  size_t i;
  for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if (strstr(key, words[i]) != NULL)
      return 1;
  return 0;
}

static int is_secret(const cfg_value *v) {
  return v->def->secret || (v->key != NULL && open_key_secret(v->key));
}

static int section_known(const tarn_config *cfg, const char *section) {
  size_t i;
  for (i = 0; i < cfg->n; i++)
    if (strcmp(cfg->v[i].section, section) == 0)
      return 1;
  return 0;
}

/* 1 when `section` is a family pattern: "NAME.*". */
static int is_family(const char *section) {
  size_t n = strlen(section);
  return n > 2 && section[n - 2] == '.' && section[n - 1] == '*';
}

/* Length of the family prefix ("bucket." of "bucket.*"), including the dot. */
static size_t family_prefix_len(const char *pattern) { return strlen(pattern) - 1; }

/* The family pattern that `section` ("bucket.b1") is an instance of, or NULL. */
static const char *family_of(const tarn_config *cfg, const char *section) {
  size_t i;
  for (i = 0; i < cfg->nfam; i++) {
    size_t pl = family_prefix_len(cfg->fam[i]->section);
    if (strncmp(section, cfg->fam[i]->section, pl) == 0 && section[pl] != '\0')
      return cfg->fam[i]->section;
  }
  return NULL;
}

/* Parses an unsigned decimal with an optional unit suffix from `units`. */
typedef struct unit {
  const char *name;
  int64_t mult;
} unit;

static int parse_scaled(const char *s, const unit *units, int64_t *out) {
  char *end;
  unsigned long long v;
  size_t i;
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s))
    return TARN_EINVAL;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0 || v > INT64_MAX)
    return TARN_ERANGE;
  while (isspace((unsigned char)*end))
    end++;
  if (*end == '\0') {
    *out = (int64_t)v;
    return 0;
  }
  for (i = 0; units[i].name != NULL; i++) {
    if (strcmp(end, units[i].name) == 0) {
      if (v != 0 && (uint64_t)v > (uint64_t)INT64_MAX / (uint64_t)units[i].mult)
        return TARN_ERANGE;
      *out = (int64_t)v * units[i].mult;
      return 0;
    }
  }
  return TARN_EINVAL;
}

/* Fills err for a value that did not parse as `what` (rc EINVAL or ERANGE). */
static int bad_value(tarn_error *err, int rc, const char *s, const char *what) {
  if (rc == TARN_ERANGE)
    return tarn_error_set(err, rc, "\"%s\": %s out of range", s, what);
  return tarn_error_set(err, rc, "\"%s\": not %s", s, what);
}

int tarn_parse_size(const char *s, int64_t *out, tarn_error *err) {
  static const unit units[] = {{"B", 1},
                               {"k", 1024},
                               {"K", 1024},
                               {"KiB", 1024},
                               {"KB", 1000},
                               {"M", 1024 * 1024},
                               {"MiB", 1024 * 1024},
                               {"MB", 1000 * 1000},
                               {"G", 1024LL * 1024 * 1024},
                               {"GiB", 1024LL * 1024 * 1024},
                               {"GB", 1000LL * 1000 * 1000},
                               {"T", 1024LL * 1024 * 1024 * 1024},
                               {"TiB", 1024LL * 1024 * 1024 * 1024},
                               {"TB", 1000LL * 1000 * 1000 * 1000},
                               {NULL, 0}};
  int rc = parse_scaled(s, units, out);
  return rc == 0 ? 0 : bad_value(err, rc, s, "a size such as 1048576, 512KiB, 64MiB or 1GiB");
}

int tarn_parse_duration_ms(const char *s, int64_t *out, tarn_error *err) {
  static const unit units[] = {{"ms", 1},          {"s", 1000},           {"m", 60 * 1000},
                               {"h", 3600 * 1000}, {"d", 86400LL * 1000}, {NULL, 0}};
  int rc = parse_scaled(s, units, out);
  return rc == 0 ? 0 : bad_value(err, rc, s, "a duration such as 250ms, 30s, 5m or 1h");
}

int tarn_parse_bool(const char *s, int *out, tarn_error *err) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  size_t i;
  for (i = 0; i < 4; i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *out = 1;
      return 0;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *out = 0;
      return 0;
    }
  }
  return bad_value(err, TARN_EINVAL, s, "true or false (also yes/no, on/off, 1/0)");
}

static int split_hostport(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon, *hs, *he;
  char *end;
  long p;
  if (s[0] == '[') {
    he = strchr(s, ']');
    if (he == NULL || he[1] != ':')
      return TARN_EINVAL;
    hs = s + 1;
    colon = he + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL)
      return TARN_EINVAL;
    hs = s;
    he = colon;
    if (memchr(hs, ':', (size_t)(he - hs)) != NULL)
      return TARN_EINVAL; /* bare IPv6 needs brackets */
  }
  if (he == hs || (size_t)(he - hs) >= hostlen)
    return TARN_EINVAL;
  if (!isdigit((unsigned char)colon[1]))
    return TARN_EINVAL;
  errno = 0;
  p = strtol(colon + 1, &end, 10);
  if (errno != 0 || *end != '\0' || p < 0 || p > 65535)
    return TARN_ERANGE;
  memcpy(host, hs, (size_t)(he - hs));
  host[he - hs] = '\0';
  *port = (int)p;
  return 0;
}

int tarn_parse_hostport(const char *s, char *host, size_t hostlen, int *port, tarn_error *err) {
  int rc = split_hostport(s, host, hostlen, port);
  if (rc == TARN_ERANGE)
    return tarn_error_set(err, rc, "\"%s\": port out of range [0, 65535]", s);
  return rc == 0 ? 0 : bad_value(err, rc, s, "HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
}

static int enum_has(const char *choices, const char *s) {
  size_t n = strlen(s);
  const char *p = choices;
  while (p != NULL && *p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, s, n) == 0)
      return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

static const char *type_hint(const tarn_cfg_def *d) {
  switch (d->type) {
  case TARN_CFG_INT: return "an integer";
  case TARN_CFG_BOOL: return "true or false";
  case TARN_CFG_SIZE: return "a size such as 1048576, 512KiB, 64MiB or 1GiB";
  case TARN_CFG_DURATION: return "a duration such as 250ms, 30s, 5m or 1h";
  case TARN_CFG_HOSTPORT: return "HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080";
  default: return "text";
  }
}

/* Formats a bound for messages in the setting's own unit. */
static void fmt_bound(const tarn_cfg_def *d, int64_t v, char *dst, size_t n) {
  if (d->type == TARN_CFG_DURATION)
    snprintf(dst, n, "%" PRId64 "ms", v);
  else if (d->type == TARN_CFG_SIZE)
    snprintf(dst, n, "%" PRId64 " bytes", v);
  else
    snprintf(dst, n, "%" PRId64, v);
}

/* Validates text for a setting and parses its number; no state changes. */
static int check_value(const tarn_cfg_def *d, const char *text, int64_t *num, const char *source,
                       tarn_error *err) {
  int rc = 0, b = 0;
  char lo[48], hi[48], host[256];
  int port;
  *num = 0;
  switch (d->type) {
  case TARN_CFG_STRING: return 0;
  case TARN_CFG_ENUM:
    if (!enum_has(d->choices, text))
      return tarn_error_set(err, TARN_ECONFIG, "[%s] %s = \"%s\" (%s): must be one of %s",
                            d->section, d->key, text, source, d->choices);
    return 0;
  case TARN_CFG_BOOL:
    if (tarn_parse_bool(text, &b, NULL) != 0)
      return tarn_error_set(err, TARN_ECONFIG, "[%s] %s = \"%s\" (%s): must be %s", d->section,
                            d->key, text, source, type_hint(d));
    *num = b;
    return 0;
  case TARN_CFG_HOSTPORT:
    if (tarn_parse_hostport(text, host, sizeof(host), &port, NULL) != 0)
      return tarn_error_set(err, TARN_ECONFIG, "[%s] %s = \"%s\" (%s): must be %s", d->section,
                            d->key, text, source, type_hint(d));
    *num = port;
    return 0;
  case TARN_CFG_INT: {
    char *end;
    long long v;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (end == text || *end != '\0')
      rc = TARN_EINVAL;
    else if (errno != 0)
      rc = TARN_ERANGE;
    *num = v;
    break;
  }
  case TARN_CFG_SIZE: rc = tarn_parse_size(text, num, NULL); break;
  case TARN_CFG_DURATION: rc = tarn_parse_duration_ms(text, num, NULL); break;
  }
  fmt_bound(d, d->min, lo, sizeof(lo));
  fmt_bound(d, d->max, hi, sizeof(hi));
  if (rc == TARN_EINVAL)
    return tarn_error_set(err, TARN_ECONFIG, "[%s] %s = \"%s\" (%s): must be %s", d->section,
                          d->key, text, source, type_hint(d));
  if (rc != 0 || *num < d->min || *num > d->max)
    return tarn_error_set(err, TARN_ECONFIG, "[%s] %s = \"%s\" (%s): out of range [%s, %s]",
                          d->section, d->key, text, source, lo, hi);
  return 0;
}

static int assign(cfg_value *v, const char *text, const char *source, tarn_error *err) {
  int64_t num;
  char *dup;
  int rc;
  if (v->section != v->def->section) {
    /* An instance: messages must name its own section, not the family pattern. */
    tarn_cfg_def d = *v->def;
    d.section = v->section;
    rc = check_value(&d, text, &num, source, err);
  } else {
    rc = check_value(v->def, text, &num, source, err);
  }
  if (rc != 0)
    return rc;
  dup = tarn_strdup(text);
  if (dup == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory setting [%s] %s", v->section, key_of(v));
  tarn_free(v->text);
  v->text = dup;
  v->num = num;
  snprintf(v->source, sizeof(v->source), "%s", source);
  return 0;
}

/* Reports a bad built-in default as our bug (EINTERNAL), not the user's. */
static int bad_default(int rc, tarn_error *err) {
  if (rc == TARN_ENOMEM)
    return rc;
  /* tarn_error_prefix keeps the ECONFIG code, so set it. */
  tarn_error_prefix(err, "bad built-in default");
  if (err != NULL)
    err->code = TARN_EINTERNAL;
  return TARN_EINTERNAL;
}

int tarn_config_create(tarn_config **out, const tarn_cfg_def *const *tables, tarn_error *err) {
  tarn_config *cfg = NULL;
  size_t n = 0, nfam = 0, t, i, j, k = 0;
  int rc;
  *out = NULL;
  for (t = 0; tables[t] != NULL; t++)
    for (i = 0; tables[t][i].section != NULL; i++) {
      if (is_family(tables[t][i].section))
        nfam++;
      else
        n++;
    }
  cfg = tarn_calloc(1, sizeof(*cfg));
  if (cfg == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating configuration");
  cfg->v = tarn_calloc(n, sizeof(*cfg->v));
  cfg->fam = tarn_calloc(nfam, sizeof(*cfg->fam));
  if (cfg->v == NULL || cfg->fam == NULL) {
    tarn_config_destroy(cfg);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating configuration");
  }
  cfg->cap = n;
  for (t = 0; tables[t] != NULL; t++) {
    for (i = 0; tables[t][i].section != NULL; i++) {
      const tarn_cfg_def *d = &tables[t][i];
      if (is_family(d->section)) {
        cfg_value scratch;
        for (j = 0; j < cfg->nfam; j++)
          if (strcmp(cfg->fam[j]->section, d->section) == 0 &&
              strcmp(cfg->fam[j]->key, d->key) == 0)
            break;
        if (j < cfg->nfam) {
          rc = tarn_error_set(err, TARN_EINTERNAL, "setting [%s] %s declared twice", d->section,
                              d->key);
          goto fail;
        }
        /* Instances appear at run time, so their settings cannot have an environment
         * variable or a flag of their own. */
        if (d->env != NULL || d->flag != NULL) {
          rc = tarn_error_set(err, TARN_EINTERNAL,
                              "setting [%s] %s of a section family cannot have an environment "
                              "variable or flag",
                              d->section, d->key);
          goto fail;
        }
        cfg->fam[cfg->nfam++] = d;
        if (d->def != NULL) {
          memset(&scratch, 0, sizeof(scratch));
          scratch.def = d;
          scratch.section = d->section;
          rc = assign(&scratch, d->def, "default", err);
          tarn_free(scratch.text);
          if (rc != 0) {
            rc = bad_default(rc, err);
            goto fail;
          }
        }
        continue;
      }
      if (find(cfg, d->section, d->key) != NULL) {
        rc = tarn_error_set(err, TARN_EINTERNAL, "setting [%s] %s declared twice", d->section,
                            d->key);
        goto fail;
      }
      cfg->v[k].def = d;
      cfg->v[k].section = d->section;
      cfg->n = ++k;
      snprintf(cfg->v[k - 1].source, sizeof(cfg->v[k - 1].source), "default");
      if (d->def != NULL) {
        rc = assign(&cfg->v[k - 1], d->def, "default", err);
        if (rc != 0) {
          rc = bad_default(rc, err);
          goto fail;
        }
      }
    }
  }
  *out = cfg;
  return 0;
fail:
  tarn_config_destroy(cfg);
  return rc;
}

void tarn_config_destroy(tarn_config *cfg) {
  size_t i;
  if (cfg == NULL)
    return;
  for (i = 0; i < cfg->n; i++) {
    if (is_secret(&cfg->v[i]) && cfg->v[i].text != NULL) /* no secret lingers in freed memory */
      explicit_bzero(cfg->v[i].text, strlen(cfg->v[i].text));
    tarn_free(cfg->v[i].text);
    tarn_free(cfg->v[i].key);
  }
  for (i = 0; i < cfg->ninst; i++)
    tarn_free(cfg->inst[i]);
  tarn_free(cfg->inst);
  tarn_free(cfg->fam);
  tarn_free(cfg->v);
  tarn_free(cfg);
}

/* Instance names: what may follow "bucket." in a section name. */
#define INSTANCE_NAME_MAX 63

static int instance_name_ok(const char *name) {
  size_t n = 0;
  for (; name[n] != '\0'; n++)
    if (!isalnum((unsigned char)name[n]) && name[n] != '-' && name[n] != '_')
      return 0;
  return n >= 1 && n <= INSTANCE_NAME_MAX;
}

/*
 * Makes `section`, an instance of `family`, known: appends one value per key of the
 * family, each at its default. No-op when it exists already.
 */
static int instantiate(tarn_config *cfg, const char *family, const char *section,
                       const char *source, tarn_error *err) {
  size_t i, need = 0, k;
  char *name, **ni;
  int rc;
  if (section_known(cfg, section))
    return 0;
  if (!instance_name_ok(section + family_prefix_len(family)))
    return tarn_error_set(err, TARN_ECONFIG,
                          "invalid section name [%s] (%s): the part after \"%.*s\" must be 1 to "
                          "%d letters, digits, '-' or '_'",
                          section, source, (int)family_prefix_len(family), family,
                          INSTANCE_NAME_MAX);
  for (i = 0; i < cfg->nfam; i++)
    if (strcmp(cfg->fam[i]->section, family) == 0)
      need++;
  if (cfg->n + need > cfg->cap) {
    size_t ncap = (cfg->n + need) * 2;
    cfg_value *nv = tarn_reallocarray(cfg->v, ncap, sizeof(*nv));
    if (nv == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory adding section [%s]", section);
    cfg->v = nv;
    cfg->cap = ncap;
  }
  ni = tarn_reallocarray(cfg->inst, cfg->ninst + 1, sizeof(*ni));
  if (ni == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory adding section [%s]", section);
  cfg->inst = ni;
  name = tarn_strdup(section);
  if (name == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory adding section [%s]", section);
  cfg->inst[cfg->ninst++] = name;
  for (i = 0; i < cfg->nfam; i++) {
    const tarn_cfg_def *d = cfg->fam[i];
    if (strcmp(d->section, family) != 0)
      continue;
    k = cfg->n++;
    memset(&cfg->v[k], 0, sizeof(cfg->v[k]));
    cfg->v[k].def = d;
    cfg->v[k].section = name;
    snprintf(cfg->v[k].source, sizeof(cfg->v[k].source), "default");
    if (d->def != NULL && (rc = assign(&cfg->v[k], d->def, "default", err)) != 0)
      return rc; /* only ENOMEM: defaults were checked at create */
  }
  return 0;
}

/* A new key of an open section: appended, a string, named in messages as itself. */
static int open_key_add(tarn_config *cfg, const char *section, const char *key, const char *value,
                        const char *source, tarn_error *err) {
  const cfg_value *wild = find(cfg, section, "*");
  cfg_value *v;
  int rc;
  if (key[0] == '\0' || strlen(key) > 200)
    return tarn_error_set(err, TARN_ECONFIG, "invalid key \"%.40s\" in section [%s] (%s)", key,
                          section, source);
  if (cfg->n == cfg->cap) {
    size_t ncap = cfg->cap * 2 + 8;
    cfg_value *nv = tarn_reallocarray(cfg->v, ncap, sizeof(*nv));
    if (nv == NULL)
      return tarn_error_set(err, TARN_ENOMEM, "out of memory setting [%s] %s", section, key);
    cfg->v = nv;
    cfg->cap = ncap;
    wild = find(cfg, section, "*");
  }
  v = &cfg->v[cfg->n];
  memset(v, 0, sizeof(*v));
  v->def = wild->def;
  v->section = wild->section;
  v->key = tarn_strdup(key);
  if (v->key == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory setting [%s] %s", section, key);
  cfg->n++;
  rc = assign(v, value, source, err);
  if (rc != 0) { /* nothing half-added: a key listed with no value */
    tarn_free(v->key);
    cfg->n--;
  }
  return rc;
}

int tarn_config_set(tarn_config *cfg, const char *section, const char *key, const char *value,
                    const char *source, tarn_error *err) {
  cfg_value *v = find(cfg, section, key);
  if (v == NULL) {
    const char *family = family_of(cfg, section);
    int rc;
    if (family != NULL) {
      size_t i;
      for (i = 0; i < cfg->nfam; i++)
        if (strcmp(cfg->fam[i]->section, family) == 0 && strcmp(cfg->fam[i]->key, key) == 0)
          break;
      if (i == cfg->nfam)
        return tarn_error_set(err, TARN_ECONFIG, "unknown key \"%s\" in section [%s] (%s)", key,
                              section, source);
      rc = instantiate(cfg, family, section, source, err);
      if (rc != 0)
        return rc;
      v = find(cfg, section, key);
      assert(v != NULL);
      return assign(v, value, source, err);
    }
    if (!section_known(cfg, section))
      return tarn_error_set(err, TARN_ECONFIG, "unknown section [%s] (%s)", section, source);
    if (find(cfg, section, "*") != NULL)
      return open_key_add(cfg, section, key, value, source, err);
    return tarn_error_set(err, TARN_ECONFIG, "unknown key \"%s\" in section [%s] (%s)", key,
                          section, source);
  }
  /* "*" is an open section's declaration, not a key: its value would be read by nobody */
  if (v->key == NULL && strcmp(v->def->key, "*") == 0)
    return tarn_error_set(err, TARN_ECONFIG, "invalid key \"*\" in section [%s] (%s)", section,
                          source);
  return assign(v, value, source, err);
}

int tarn_config_open_key(const tarn_config *cfg, const char *section, size_t i, const char **key,
                         const char **value) {
  size_t j, seen = 0;
  for (j = 0; j < cfg->n; j++) {
    if (cfg->v[j].key == NULL || strcmp(cfg->v[j].section, section) != 0)
      continue;
    if (seen++ == i) {
      *key = cfg->v[j].key;
      *value = cfg->v[j].text;
      return 1;
    }
  }
  return 0;
}

const char *tarn_config_instance(const tarn_config *cfg, const char *family, size_t i) {
  size_t j, seen = 0, pl;
  if (!is_family(family))
    return NULL;
  pl = family_prefix_len(family);
  for (j = 0; j < cfg->ninst; j++) {
    if (strncmp(cfg->inst[j], family, pl) != 0)
      continue;
    if (seen++ == i)
      return cfg->inst[j];
  }
  return NULL;
}

int tarn_config_has(const tarn_config *cfg, const char *section, const char *key) {
  return find(cfg, section, key) != NULL;
}

/* Debian's libinih is built without line numbers in the handler, so the reader below
 * counts lines itself: when the handler runs, `line` is the line just read. */
typedef struct ini_ctx {
  tarn_config *cfg;
  const char *path;
  tarn_error *err;
  FILE *f;
  int line;
  int rc;
} ini_ctx;

/* libinih keeps at most this many bytes of a section name (its INI_MAX_SECTION, 50 with
 * the NUL) and silently cuts longer ones; refuse them instead. */
#define INI_SECTION_MAX 49

static void section_too_long(ini_ctx *c, const char *line) {
  const char *s = line, *close;
  while (isspace((unsigned char)*s))
    s++;
  if (*s != '[' || c->rc != 0)
    return;
  close = strchr(s, ']');
  if (close != NULL && (size_t)(close - s - 1) > INI_SECTION_MAX)
    c->rc = tarn_error_set(c->err, TARN_ECONFIG,
                           "config file %s line %d: section name longer than %d characters",
                           c->path, c->line, INI_SECTION_MAX);
}

static char *read_line(char *str, int num, void *stream) {
  ini_ctx *c = stream;
  char *r = fgets(str, num, c->f);
  int ch;
  if (r == NULL)
    return NULL;
  if (strchr(r, '\n') != NULL) {
    c->line++;
    section_too_long(c, r);
    return r;
  }
  ch = getc(c->f);
  if (ch == EOF) {
    c->line++; /* last line without a newline */
    section_too_long(c, r);
    return r;
  }
  ungetc(ch, c->f);
  /* A line longer than libinih's fixed buffer reaches it in pieces, the first parsed as
   * a truncated setting and the rest as bogus lines. Refuse it here, before the handler
   * sees the truncated value, naming the real line. */
  if (ch != '\n' && c->rc == 0)
    c->rc = tarn_error_set(c->err, TARN_ECONFIG,
                           "config file %s line %d: line longer than %d characters (set "
                           "long values such as tokens through the environment)",
                           c->path, c->line + 1, num - 1);
  return r;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value) {
  ini_ctx *c = user;
  int lineno = c->line;
  char source[160];
  if (c->rc != 0)
    return 1; /* keep only the first error */
  snprintf(source, sizeof(source), "file %s line %d", c->path, lineno);
  if (name == NULL) { /* a section header alone (INI_CALL_HANDLER_ON_NEW_SECTION builds) */
    const char *family = family_of(c->cfg, section);
    if (family != NULL)
      c->rc = instantiate(c->cfg, family, section, source, c->err);
    return c->rc == 0;
  }
  if (section[0] == '\0') {
    c->rc =
        tarn_error_set(c->err, TARN_ECONFIG, "key \"%s\" outside any [section] (%s)", name, source);
    return 0;
  }
  c->rc = tarn_config_set(c->cfg, section, name, value, source, c->err);
  return c->rc == 0;
}

/* Parses the open stream f; `name` names it in messages. Does not close f. */
static int load_stream(tarn_config *cfg, const char *name, FILE *f, tarn_error *err) {
  ini_ctx c = {cfg, name, err, f, 0, 0};
  int line = ini_parse_stream(read_line, &c, on_ini_entry, &c);
  if (c.rc != 0)
    return c.rc;
  if (line > 0)
    return tarn_error_set(
        err, TARN_ECONFIG,
        "config file %s line %d: not INI syntax (expected [section] or key = value)", name, line);
  if (line < 0)
    return tarn_error_set(err, TARN_EIO, "config file %s: cannot read", name);
  return 0;
}

int tarn_config_load_file(tarn_config *cfg, const char *path, tarn_error *err) {
  FILE *f = fopen(path, "r");
  int rc;
  if (f == NULL)
    return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "config file %s", path);
  rc = load_stream(cfg, path, f, err);
  fclose(f);
  return rc;
}

int tarn_config_load_mem(tarn_config *cfg, const char *name, const char *text, size_t len,
                         tarn_error *err) {
  FILE *f;
  int rc;
  if (len == 0)
    return 0; /* an empty file sets nothing (and fmemopen may refuse a size of 0) */
  f = fmemopen((void *)text, len, "r"); /* read-only: the cast drops no promise */
  if (f == NULL)
    return tarn_error_sys(err, tarn_code_from_errno(errno), errno, "config %s", name);
  rc = load_stream(cfg, name, f, err);
  fclose(f);
  return rc;
}

int tarn_config_load_env(tarn_config *cfg, char *const *envp, const char *const *ignore,
                         tarn_error *err) {
  size_t i, j;
  char name[128], source[160];
  for (i = 0; envp[i] != NULL; i++) {
    const char *e = envp[i], *eq;
    int matched = 0;
    size_t nlen;
    if (strncmp(e, "TARN_", 5) != 0)
      continue;
    eq = strchr(e, '=');
    if (eq == NULL)
      continue;
    nlen = (size_t)(eq - e);
    if (nlen >= sizeof(name))
      nlen = sizeof(name) - 1;
    memcpy(name, e, nlen);
    name[nlen] = '\0';
    for (j = 0; ignore != NULL && ignore[j] != NULL; j++)
      if (strcmp(ignore[j], name) == 0)
        matched = 1;
    if (matched)
      continue;
    for (j = 0; j < cfg->n; j++) {
      const tarn_cfg_def *d = cfg->v[j].def;
      if (d->env != NULL && strcmp(d->env, name) == 0) {
        int rc;
        snprintf(source, sizeof(source), "env %s", name);
        rc = assign(&cfg->v[j], eq + 1, source, err);
        if (rc != 0)
          return rc;
        matched = 1;
        break;
      }
    }
    if (!matched)
      return tarn_error_set(err, TARN_ECONFIG,
                            "unknown environment variable %s: no tarn setting has that name "
                            "(unset it, or see --help for the TARN_* variables)",
                            name);
  }
  return 0;
}

int tarn_config_load_env_aliases(tarn_config *cfg, char *const *envp, const tarn_cfg_alias *aliases,
                                 tarn_error *err) {
  size_t i, j, n;
  char source[160], value[256];
  for (i = 0; aliases[i].env != NULL; i++) {
    const tarn_cfg_alias *a = &aliases[i];
    cfg_value *v = find(cfg, a->section, a->key);
    n = strlen(a->env);
    for (j = 0; v != NULL && envp[j] != NULL; j++) {
      const char *e = envp[j], *text;
      if (strncmp(e, a->env, n) != 0 || e[n] != '=')
        continue;
      text = e + n + 1;
      if (a->bare_unit != NULL && text[0] != '\0' && strspn(text, "0123456789") == strlen(text) &&
          strlen(text) < 64) {
        snprintf(value, sizeof(value), "%s%s", text, a->bare_unit);
        text = value;
      }
      snprintf(source, sizeof(source), "env %s", a->env);
      int rc = assign(v, text, source, err);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

/* 1 when command cmd takes d's flag: flag_cmd NULL (every command), or cmd is one of the
 * '|'-separated names in it. */
static int flag_for(const tarn_cfg_def *d, const char *cmd) {
  const char *p = d->flag_cmd;
  size_t n;
  if (p == NULL)
    return 1;
  if (cmd == NULL)
    return 0;
  n = strlen(cmd);
  while (p != NULL) {
    if (strncmp(p, cmd, n) == 0 && (p[n] == '\0' || p[n] == '|'))
      return 1;
    p = strchr(p, '|');
    p = p != NULL ? p + 1 : NULL;
  }
  return 0;
}

const tarn_cfg_def *tarn_config_flag(const tarn_config *cfg, const char *cmd, const char *flag) {
  size_t i;
  for (i = 0; i < cfg->n; i++) {
    const tarn_cfg_def *d = cfg->v[i].def;
    if (d->flag != NULL && strcmp(d->flag, flag) == 0 && flag_for(d, cmd))
      return d;
  }
  return NULL;
}

static const cfg_value *must_find(const tarn_config *cfg, const char *section, const char *key) {
  const cfg_value *v = find(cfg, section, key);
  assert(v != NULL && "setting not declared in any table");
  return v;
}

const char *tarn_config_str(const tarn_config *cfg, const char *section, const char *key) {
  return must_find(cfg, section, key)->text;
}

int64_t tarn_config_int(const tarn_config *cfg, const char *section, const char *key) {
  return must_find(cfg, section, key)->num;
}

int tarn_config_bool(const tarn_config *cfg, const char *section, const char *key) {
  return must_find(cfg, section, key)->num != 0;
}

const char *tarn_config_source(const tarn_config *cfg, const char *section, const char *key) {
  return must_find(cfg, section, key)->source;
}

void tarn_config_print(const tarn_config *cfg, FILE *f) {
  size_t i;
  const char *last = NULL;
  for (i = 0; i < cfg->n; i++) {
    const cfg_value *v = &cfg->v[i];
    const char *shown = v->text;
    if (last == NULL || strcmp(last, v->section) != 0) {
      fprintf(f, "%s[%s]\n", last ? "\n" : "", v->section);
      last = v->section;
    }
    if (v->key == NULL && strcmp(v->def->key, "*") == 0) {
      fprintf(f, "; any key: %s\n", v->def->help);
      continue;
    }
    if (shown != NULL && shown[0] != '\0' && is_secret(v))
      shown = "<redacted>"; /* an empty secret says nothing: show that it is empty */
    if (shown == NULL)
      fprintf(f, "; %s is unset  (%s)\n", key_of(v), v->source);
    else
      fprintf(f, "%s = %s  ; %s\n", key_of(v), shown, v->source);
  }
}

void tarn_config_print_flags(const tarn_config *cfg, const char *cmd, FILE *f) {
  size_t i;
  char left[96];
  for (i = 0; i < cfg->n; i++) {
    const tarn_cfg_def *d = cfg->v[i].def;
    if (d->flag == NULL || !flag_for(d, cmd))
      continue;
    snprintf(left, sizeof(left), "--%s%s%s", d->flag, d->type == TARN_CFG_BOOL ? "" : " ",
             d->type == TARN_CFG_BOOL       ? ""
             : d->type == TARN_CFG_HOSTPORT ? "HOST:PORT"
             : d->type == TARN_CFG_SIZE     ? "SIZE"
             : d->type == TARN_CFG_DURATION ? "DURATION"
             : d->type == TARN_CFG_INT      ? "N"
                                            : "VALUE");
    fprintf(f, "  %-26s %s\n", left, d->help);
    fprintf(f, "  %-26s [%s] %s%s%s; default %s%s%s\n", "", d->section, d->key,
            d->env ? ", env " : "", d->env ? d->env : "",
            d->def == NULL ? "unset"
            : d->secret    ? "<redacted>"
                           : d->def,
            d->type == TARN_CFG_ENUM ? "; one of " : "",
            d->type == TARN_CFG_ENUM ? d->choices : "");
  }
}
