/* metrics.h - a small Prometheus registry: counters, gauges and histograms with labels. */
#ifndef TARN_BASE_METRICS_H
#define TARN_BASE_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

typedef struct tarn_metrics tarn_metrics;
typedef struct tarn_metric tarn_metric; /* one family: a name, a type, its label names */

/* At most this many label combinations per family; updates to further combinations are
 * dropped (and counted in tarn_metrics_dropped_series_total) so that hostile label
 * values cannot grow memory without bound. */
#define TARN_METRICS_MAX_SERIES 2048
#define TARN_METRICS_MAX_LABELS 8

int tarn_metrics_create(tarn_metrics **out, tarn_error *err);
/* Frees the registry and every family in it. Accepts NULL. */
void tarn_metrics_destroy(tarn_metrics *reg);

/*
 * Registers a family, or returns the one already registered under `name` when its type
 * and labels match. `labels` is a comma-separated list of label names ("route,status")
 * or NULL. Returns NULL on allocation failure, on a name or label that is not a valid
 * Prometheus identifier, or on a conflicting re-registration. The registry owns the
 * family; the pointer stays valid until tarn_metrics_destroy.
 */
tarn_metric *tarn_metrics_counter(tarn_metrics *reg, const char *name, const char *help,
                                  const char *labels);
tarn_metric *tarn_metrics_gauge(tarn_metrics *reg, const char *name, const char *help,
                                const char *labels);
/* `bounds` are the upper bounds of the buckets, strictly increasing; +Inf is implied. */
tarn_metric *tarn_metrics_histogram(tarn_metrics *reg, const char *name, const char *help,
                                    const char *labels, const double *bounds, size_t nbounds);

/*
 * Updates. `values` holds one label value per label name, in order (NULL when the family
 * has no labels). Any thread may call these. A NULL family is ignored, so callers need
 * not check registration results on hot paths.
 */
void tarn_metric_add(tarn_metric *m, const char *const *values, double delta); /* counter, gauge */
void tarn_metric_set(tarn_metric *m, const char *const *values, double v);     /* gauge */
void tarn_metric_observe(tarn_metric *m, const char *const *values, double v); /* histogram */

/* Current value of a counter or gauge series (0 if absent); for tests. */
double tarn_metric_value(tarn_metric *m, const char *const *values);

/* Appends the whole registry in Prometheus text exposition format 0.0.4. */
int tarn_metrics_render(tarn_metrics *reg, tarn_buf *out, tarn_error *err);
/* Runs fn(arg) at the start of every render (outside the registry's lock), so that gauges
 * of state that changes in the background (a flush, a compaction) are current when
 * scraped. At most 8; fn must outlive the registry's renders. */
int tarn_metrics_on_render(tarn_metrics *reg, void (*fn)(void *arg), void *arg, tarn_error *err);

/* Default latency buckets in seconds (1 ms .. 10 s). */
extern const double tarn_metrics_latency_buckets[];
extern const size_t tarn_metrics_latency_nbuckets;

#endif
