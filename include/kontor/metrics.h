#ifndef KONTOR_METRICS_H
#define KONTOR_METRICS_H

/*
 * Prometheus metrics, rendered in the text exposition format 0.0.4.
 *
 * One process-wide registry (a global: there is exactly one /metrics per
 * process, and hot paths should not have to carry a registry pointer).
 *
 * Threads:
 *   - register every metric at startup, before other threads run or any
 *     metric is updated or rendered; kt_metrics_cleanup() likewise at exit;
 *   - kt_metric_add/_set/_observe are lock-free (C11 atomics) and may be
 *     called from any thread at any time;
 *   - kt_metrics_render may run concurrently with updates.
 *
 * Registration returns NULL (and logs why) for an invalid name or label
 * string, or a clash with an earlier registration; the update functions
 * accept NULL and do nothing, so a bad registration never crashes a hot
 * path. Registering the same name, labels and kind again returns the
 * existing metric (for histograms: with the same buckets; never for
 * kt_metrics_gauge_fn). Metrics of one name with different labels share a
 * single HELP/TYPE block (the first registration's help text).
 *
 * Numbers are formatted with snprintf: the process must keep the default
 * "C" LC_NUMERIC locale (never call setlocale for it).
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct kt_metric;

/* Computes a gauge's value at render time, on the rendering thread. */
typedef double (*kt_metrics_value_fn)(void *arg);

/*
 * name: [a-zA-Z_:][a-zA-Z0-9_:]*. help: free text (escaped on output).
 * labels: NULL, or the inside of the braces, preformatted and constant,
 * e.g. "endpoint=\"token\",code=\"200\"" (values escaped as Prometheus
 * wants: \\, \" and \n). Label names starting with "__" are reserved, and
 * "le" is reserved for histograms.
 */
struct kt_metric *kt_metrics_counter(const char *name, const char *help,
				     const char *labels);
struct kt_metric *kt_metrics_gauge(const char *name, const char *help,
				   const char *labels);
struct kt_metric *kt_metrics_gauge_fn(const char *name, const char *help,
				      const char *labels,
				      kt_metrics_value_fn fn, void *arg);

/*
 * buckets: n (1..KT_METRICS_MAX_BUCKETS) finite upper bounds in strictly
 * increasing order, copied; "+Inf" is added implicitly. A value v falls in
 * every bucket with bound >= v.
 */
#define KT_METRICS_MAX_BUCKETS 64

struct kt_metric *kt_metrics_histogram(const char *name, const char *help,
				       const char *labels,
				       const double *buckets, size_t n);

/* Counter += n. */
void kt_metric_add(struct kt_metric *m, uint64_t n);
/* Gauge = v (not for kt_metrics_gauge_fn gauges). */
void kt_metric_set(struct kt_metric *m, double v);
/* Histogram: count v; NaN is ignored. */
void kt_metric_observe(struct kt_metric *m, double v);

/* Append every metric, in registration order of the names. */
void kt_metrics_render(struct evbuffer *out);

/* Set every counter, gauge and histogram back to zero (tests). */
void kt_metrics_reset_all(void);

/* Unregister and free everything; earlier kt_metric pointers die. */
void kt_metrics_cleanup(void);

#endif
