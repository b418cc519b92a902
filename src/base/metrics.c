/* metrics.c - Prometheus registry with one lock; rendering in text format 0.0.4. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype;

typedef struct series {
  char **values;     /* one per label */
  double value;      /* counter, gauge */
  uint64_t *buckets; /* histogram: per bucket (not cumulative), nbounds + 1 (+Inf) */
  double sum;
  uint64_t count;
  struct series *next;
} series;

struct tarn_metric {
  tarn_metrics *reg;
  mtype type;
  char *name, *help;
  char *labels[TARN_METRICS_MAX_LABELS];
  size_t nlabels;
  double *bounds;
  size_t nbounds;
  series *head, **tail;
  size_t nseries;
  struct tarn_metric *next;
};

#define MAX_COLLECTORS 8

struct tarn_metrics {
  pthread_mutex_t lock;
  tarn_metric *head, **tail;
  tarn_metric *dropped; /* tarn_metrics_dropped_series_total */
  struct {
    void (*fn)(void *arg);
    void *arg;
  } collect[MAX_COLLECTORS]; /* run before each render */
  size_t ncollect;
};

const double tarn_metrics_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1,     2.5,  5,     10};
const size_t tarn_metrics_latency_nbuckets =
    sizeof(tarn_metrics_latency_buckets) / sizeof(tarn_metrics_latency_buckets[0]);

static int valid_name(const char *s, int allow_colon) {
  size_t i;
  if (s == NULL || s[0] == '\0')
    return 0;
  for (i = 0; s[i]; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
             (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

/* Also frees a half-built series (get_series failing): values may still be NULL. */
static void free_series(series *s, size_t nlabels) {
  size_t i;
  for (i = 0; i < nlabels && s->values != NULL; i++)
    tarn_free(s->values[i]);
  tarn_free(s->values);
  tarn_free(s->buckets);
  tarn_free(s);
}

static void free_family(tarn_metric *m) {
  series *s, *n;
  size_t i;
  for (s = m->head; s != NULL; s = n) {
    n = s->next;
    free_series(s, m->nlabels);
  }
  for (i = 0; i < m->nlabels; i++)
    tarn_free(m->labels[i]);
  tarn_free(m->bounds);
  tarn_free(m->name);
  tarn_free(m->help);
  tarn_free(m);
}

int tarn_metrics_create(tarn_metrics **out, tarn_error *err) {
  tarn_metrics *reg = tarn_calloc(1, sizeof(*reg));
  *out = NULL;
  if (reg == NULL)
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating metrics registry");
  pthread_mutex_init(&reg->lock, NULL);
  reg->tail = &reg->head;
  reg->dropped = tarn_metrics_counter(reg, "tarn_metrics_dropped_series_total",
                                      "Metric updates dropped because a family reached its "
                                      "series limit.",
                                      "metric");
  if (reg->dropped == NULL) {
    tarn_metrics_destroy(reg);
    return tarn_error_set(err, TARN_ENOMEM, "out of memory creating metrics registry");
  }
  *out = reg;
  return 0;
}

void tarn_metrics_destroy(tarn_metrics *reg) {
  tarn_metric *m, *n;
  if (reg == NULL)
    return;
  for (m = reg->head; m != NULL; m = n) {
    n = m->next;
    free_family(m);
  }
  pthread_mutex_destroy(&reg->lock);
  tarn_free(reg);
}

/* Splits "a,b" into m->labels. 0 on success. */
static int split_labels(tarn_metric *m, const char *labels) {
  const char *p = labels;
  while (p != NULL && *p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (m->nlabels == TARN_METRICS_MAX_LABELS)
      return -1;
    m->labels[m->nlabels] = tarn_strndup(p, len);
    if (m->labels[m->nlabels] == NULL)
      return -1;
    if (!valid_name(m->labels[m->nlabels], 0) || strcmp(m->labels[m->nlabels], "le") == 0) {
      m->nlabels++;
      return -1;
    }
    m->nlabels++;
    p = comma ? comma + 1 : NULL;
  }
  return 0;
}

static int same_shape(const tarn_metric *m, mtype type, const char *labels) {
  tarn_metric probe;
  size_t i;
  int same;
  memset(&probe, 0, sizeof(probe));
  if (m->type != type || split_labels(&probe, labels) != 0) {
    for (i = 0; i < probe.nlabels; i++)
      tarn_free(probe.labels[i]);
    return 0;
  }
  same = probe.nlabels == m->nlabels;
  for (i = 0; i < probe.nlabels; i++) {
    if (same && strcmp(probe.labels[i], m->labels[i]) != 0)
      same = 0;
    tarn_free(probe.labels[i]);
  }
  return same;
}

static tarn_metric *reg_family(tarn_metrics *reg, mtype type, const char *name, const char *help,
                               const char *labels, const double *bounds, size_t nbounds) {
  tarn_metric *m;
  size_t i;
  if (reg == NULL || !valid_name(name, 1))
    return NULL;
  for (i = 1; i < nbounds; i++)
    if (!(bounds[i] > bounds[i - 1]))
      return NULL;
  pthread_mutex_lock(&reg->lock);
  for (m = reg->head; m != NULL; m = m->next) {
    if (strcmp(m->name, name) == 0) {
      tarn_metric *found = same_shape(m, type, labels) ? m : NULL;
      pthread_mutex_unlock(&reg->lock);
      return found;
    }
  }
  m = tarn_calloc(1, sizeof(*m));
  if (m == NULL)
    goto fail;
  m->reg = reg;
  m->type = type;
  m->tail = &m->head;
  m->name = tarn_strdup(name);
  m->help = tarn_strdup(help ? help : "");
  if (m->name == NULL || m->help == NULL || split_labels(m, labels) != 0)
    goto fail;
  if (type == M_HISTOGRAM) {
    m->bounds = tarn_calloc(nbounds ? nbounds : 1, sizeof(double));
    if (m->bounds == NULL)
      goto fail;
    if (nbounds)
      memcpy(m->bounds, bounds, nbounds * sizeof(double));
    m->nbounds = nbounds;
  }
  *reg->tail = m;
  reg->tail = &m->next;
  pthread_mutex_unlock(&reg->lock);
  return m;
fail:
  pthread_mutex_unlock(&reg->lock);
  if (m != NULL)
    free_family(m);
  return NULL;
}

tarn_metric *tarn_metrics_counter(tarn_metrics *reg, const char *name, const char *help,
                                  const char *labels) {
  return reg_family(reg, M_COUNTER, name, help, labels, NULL, 0);
}

tarn_metric *tarn_metrics_gauge(tarn_metrics *reg, const char *name, const char *help,
                                const char *labels) {
  return reg_family(reg, M_GAUGE, name, help, labels, NULL, 0);
}

tarn_metric *tarn_metrics_histogram(tarn_metrics *reg, const char *name, const char *help,
                                    const char *labels, const double *bounds, size_t nbounds) {
  return reg_family(reg, M_HISTOGRAM, name, help, labels, bounds, nbounds);
}

/* Finds or creates the series for `values`; call with the lock held. NULL when the
 * family is full or memory is short. */
static series *get_series(tarn_metric *m, const char *const *values, int create) {
  series *s;
  size_t i;
  for (s = m->head; s != NULL; s = s->next) {
    for (i = 0; i < m->nlabels; i++)
      if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
        break;
    if (i == m->nlabels)
      return s;
  }
  if (!create || m->nseries >= TARN_METRICS_MAX_SERIES)
    return NULL;
  s = tarn_calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->values = tarn_calloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
  if (s->values == NULL)
    goto fail;
  for (i = 0; i < m->nlabels; i++) {
    s->values[i] = tarn_strdup(values[i] ? values[i] : "");
    if (s->values[i] == NULL)
      goto fail;
  }
  if (m->type == M_HISTOGRAM) {
    s->buckets = tarn_calloc(m->nbounds + 1, sizeof(uint64_t));
    if (s->buckets == NULL)
      goto fail;
  }
  *m->tail = s;
  m->tail = &s->next;
  m->nseries++;
  return s;
fail:
  free_series(s, m->nlabels);
  return NULL;
}

static void note_dropped(tarn_metric *m) {
  tarn_metrics *reg = m->reg;
  const char *v[1];
  series *s;
  if (m == reg->dropped)
    return;
  v[0] = m->name;
  s = get_series(reg->dropped, v, 1);
  if (s != NULL)
    s->value += 1;
}

static void update(tarn_metric *m, const char *const *values, double v, int op) {
  series *s;
  size_t i;
  if (m == NULL)
    return;
  pthread_mutex_lock(&m->reg->lock);
  s = get_series(m, values, 1);
  if (s == NULL) {
    note_dropped(m);
  } else if (op == 0) {
    s->value += v;
  } else if (op == 1) {
    s->value = v;
  } else {
    for (i = 0; i < m->nbounds && v > m->bounds[i]; i++)
      ;
    s->buckets[i]++;
    s->sum += v;
    s->count++;
  }
  pthread_mutex_unlock(&m->reg->lock);
}

void tarn_metric_add(tarn_metric *m, const char *const *values, double delta) {
  if (m != NULL && m->type == M_COUNTER && !(delta >= 0))
    return; /* counters only go up */
  if (m != NULL && m->type != M_HISTOGRAM)
    update(m, values, delta, 0);
}

void tarn_metric_set(tarn_metric *m, const char *const *values, double v) {
  if (m != NULL && m->type == M_GAUGE)
    update(m, values, v, 1);
}

void tarn_metric_observe(tarn_metric *m, const char *const *values, double v) {
  if (m != NULL && m->type == M_HISTOGRAM && !isnan(v))
    update(m, values, v, 2);
}

double tarn_metric_value(tarn_metric *m, const char *const *values) {
  series *s;
  double v = 0;
  if (m == NULL)
    return 0;
  pthread_mutex_lock(&m->reg->lock);
  s = get_series(m, values, 0);
  if (s != NULL)
    v = m->type == M_HISTOGRAM ? (double)s->count : s->value;
  pthread_mutex_unlock(&m->reg->lock);
  return v;
}

/* The shortest of %.15g..%.17g that reads back as v, as other Prometheus clients print
 * floats: le="0.1", not le="0.10000000000000001". `le` is a label, compared as text
 * when series are aggregated, so the spelling matters. Finite v only. */
static void fmt_double(char *dst, size_t n, double v) {
  int prec;
  for (prec = 15; prec < 17; prec++) {
    snprintf(dst, n, "%.*g", prec, v);
    if (strtod(dst, NULL) == v)
      return;
  }
  snprintf(dst, n, "%.17g", v);
}

static int put_number(tarn_buf *out, double v, tarn_error *err) {
  char tmp[48];
  if (isnan(v))
    return tarn_buf_append_str(out, "NaN", err);
  if (isinf(v))
    return tarn_buf_append_str(out, v > 0 ? "+Inf" : "-Inf", err);
  fmt_double(tmp, sizeof(tmp), v);
  return tarn_buf_append_str(out, tmp, err);
}

/* Escaping per the exposition format: backslash and newline everywhere, and the double
 * quote too inside label values (not in HELP text). */
static int put_escaped(tarn_buf *out, const char *s, int quote, tarn_error *err) {
  int rc = 0;
  for (; *s && rc == 0; s++) {
    if (*s == '\\')
      rc = tarn_buf_append(out, "\\\\", 2, err);
    else if (quote && *s == '"')
      rc = tarn_buf_append(out, "\\\"", 2, err);
    else if (*s == '\n')
      rc = tarn_buf_append(out, "\\n", 2, err);
    else
      rc = tarn_buf_append(out, s, 1, err);
  }
  return rc;
}

/* Writes name{labels[,le="x"]} */
static int put_series_name(tarn_buf *out, const tarn_metric *m, const char *suffix, const series *s,
                           const char *le, tarn_error *err) {
  size_t i;
  int rc = tarn_buf_appendf(out, err, "%s%s", m->name, suffix);
  if (rc == 0 && (m->nlabels > 0 || le != NULL))
    rc = tarn_buf_append(out, "{", 1, err);
  for (i = 0; i < m->nlabels && rc == 0; i++) {
    rc = tarn_buf_appendf(out, err, "%s%s=\"", i ? "," : "", m->labels[i]);
    if (rc == 0)
      rc = put_escaped(out, s->values[i], 1, err);
    if (rc == 0)
      rc = tarn_buf_append(out, "\"", 1, err);
  }
  if (rc == 0 && le != NULL)
    rc = tarn_buf_appendf(out, err, "%sle=\"%s\"", m->nlabels ? "," : "", le);
  if (rc == 0 && (m->nlabels > 0 || le != NULL))
    rc = tarn_buf_append(out, "}", 1, err);
  if (rc == 0)
    rc = tarn_buf_append(out, " ", 1, err);
  return rc;
}

static int render_family(tarn_buf *out, const tarn_metric *m, tarn_error *err) {
  static const char *const tnames[] = {"counter", "gauge", "histogram"};
  const series *s;
  char le[48];
  size_t i;
  int rc = tarn_buf_appendf(out, err, "# HELP %s ", m->name);
  if (rc == 0)
    rc = put_escaped(out, m->help, 0, err);
  if (rc == 0)
    rc = tarn_buf_appendf(out, err, "\n# TYPE %s %s\n", m->name, tnames[m->type]);
  for (s = m->head; s != NULL && rc == 0; s = s->next) {
    if (m->type != M_HISTOGRAM) {
      rc = put_series_name(out, m, "", s, NULL, err);
      if (rc == 0)
        rc = put_number(out, s->value, err);
      if (rc == 0)
        rc = tarn_buf_append(out, "\n", 1, err);
      continue;
    }
    {
      uint64_t cum = 0;
      for (i = 0; i <= m->nbounds && rc == 0; i++) {
        cum += s->buckets[i];
        if (i < m->nbounds)
          fmt_double(le, sizeof(le), m->bounds[i]);
        else
          snprintf(le, sizeof(le), "+Inf");
        rc = put_series_name(out, m, "_bucket", s, le, err);
        if (rc == 0)
          rc = tarn_buf_appendf(out, err, "%llu\n", (unsigned long long)cum);
      }
      if (rc == 0)
        rc = put_series_name(out, m, "_sum", s, NULL, err);
      if (rc == 0)
        rc = put_number(out, s->sum, err);
      if (rc == 0)
        rc = tarn_buf_append(out, "\n", 1, err);
      if (rc == 0)
        rc = put_series_name(out, m, "_count", s, NULL, err);
      if (rc == 0)
        rc = tarn_buf_appendf(out, err, "%llu\n", (unsigned long long)s->count);
    }
  }
  return rc;
}

int tarn_metrics_on_render(tarn_metrics *reg, void (*fn)(void *arg), void *arg, tarn_error *err) {
  int rc = 0;
  pthread_mutex_lock(&reg->lock);
  if (reg->ncollect == MAX_COLLECTORS)
    rc = tarn_error_set(err, TARN_ETOOBIG, "metrics: more than %d collectors", MAX_COLLECTORS);
  else {
    reg->collect[reg->ncollect].fn = fn;
    reg->collect[reg->ncollect].arg = arg;
    reg->ncollect++;
  }
  pthread_mutex_unlock(&reg->lock);
  return rc;
}

int tarn_metrics_render(tarn_metrics *reg, tarn_buf *out, tarn_error *err) {
  const tarn_metric *m;
  size_t i, n;
  int rc = 0;
  pthread_mutex_lock(&reg->lock);
  n = reg->ncollect;
  pthread_mutex_unlock(&reg->lock);
  for (i = 0; i < n; i++) /* outside the lock: they set metrics */
    reg->collect[i].fn(reg->collect[i].arg);
  pthread_mutex_lock(&reg->lock);
  for (m = reg->head; m != NULL && rc == 0; m = m->next)
    rc = render_family(out, m, err);
  pthread_mutex_unlock(&reg->lock);
  return rc;
}
