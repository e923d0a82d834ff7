/*
 * Prometheus metrics: a registry written once at startup, values updated
 * lock-free from any thread.
 *
 * Counters and histogram buckets are atomic 64-bit integers. Gauges and the
 * histogram sum are doubles kept as their bit pattern in an atomic uint64_t:
 * a store for kt_metric_set, a compare-and-swap loop for adding to the sum.
 * Buckets are counted individually (one increment per observation) and made
 * cumulative at render time; _count is the sum of the buckets, so that it
 * always equals the "+Inf" bucket in the output even while observations
 * race with the scrape.
 */

#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "kontor/log.h"
#include "kontor/metrics.h"

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_GAUGE_FN, KIND_HISTOGRAM };

struct family;

struct kt_metric {
	struct family *fam;
	struct kt_metric *next; /* next series of the family */
	char *labels;		/* "" when none */
	enum kind kind;
	atomic_uint_least64_t value; /* counter, or gauge's double bits */
	kt_metrics_value_fn fn;
	void *fn_arg;
	size_t nbuckets; /* finite bounds; counts has one more (+Inf) */
	double *bounds;
	atomic_uint_least64_t *counts;
	atomic_uint_least64_t sum; /* double bits */
};

struct family {
	char *name;
	char *help;
	const char *type; /* "counter", "gauge", "histogram" */
	struct kt_metric *first, *last;
};

/* Families in registration order. */
static struct {
	struct family **v;
	size_t n, cap;
} registry;

static uint64_t dbl_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bits_dbl(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static const char *type_name(enum kind k)
{
	switch (k) {
	case KIND_COUNTER:
		return "counter";
	case KIND_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

static int valid_name(const char *s)
{
	if (s == NULL || !((*s >= 'a' && *s <= 'z') ||
			   (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == ':'))
		return 0;
	return s[strspn(s,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789_:")] == '\0';
}

/*
 * labels: name="value"(,name="value")*, values with \\ \" \n escapes only.
 * Returns NULL when valid, otherwise why not.
 */
static const char *check_labels(const char *s, int histogram)
{
	static const char name_first[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
	size_t n;

	if (*s == '\0')
		return NULL;
	for (;;) {
		if (*s == '\0' || strchr(name_first, *s) == NULL)
			return "bad label name";
		n = 1 + strspn(s + 1, "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (n >= 2 && s[0] == '_' && s[1] == '_')
			return "label names starting with __ are reserved";
		if (histogram && n == 2 && strncmp(s, "le", 2) == 0)
			return "label le is reserved for histogram buckets";
		s += n;
		if (s[0] != '=' || s[1] != '"')
			return "expected =\" after label name";
		for (s += 2; *s != '"'; s++) {
			if (*s == '\0' || *s == '\n')
				return "unterminated label value";
			if (*s == '\\') {
				s++;
				if (*s != '\\' && *s != '"' && *s != 'n')
					return "bad escape in label value";
			}
		}
		s++;
		if (*s == '\0')
			return NULL;
		if (*s++ != ',')
			return "expected , between labels";
	}
}

static struct family *family_find(const char *name)
{
	for (size_t i = 0; i < registry.n; i++)
		if (strcmp(registry.v[i]->name, name) == 0)
			return registry.v[i];
	return NULL;
}

static void metric_free(struct kt_metric *m)
{
	if (m == NULL)
		return;
	free(m->labels);
	free(m->bounds);
	free(m->counts);
	free(m);
}

static int same_buckets(const struct kt_metric *m, const double *b, size_t n)
{
	return m->nbuckets == n && memcmp(m->bounds, b, n * sizeof(*b)) == 0;
}

/*
 * Register a series; for histograms, buckets were checked by the caller.
 * Returns the new or identical existing series, or NULL (logged).
 */
static struct kt_metric *reg(const char *name, const char *help,
			     const char *labels, enum kind kind,
			     const double *buckets, size_t n)
{
	struct family *fam = NULL, *newfam = NULL, **v;
	struct kt_metric *m = NULL;
	const char *why;

	if (labels == NULL)
		labels = "";
	if (!valid_name(name)) {
		kt_log_error("metric \"%s\": invalid name", name ? name : "");
		return NULL;
	}
	if ((why = check_labels(labels, kind == KIND_HISTOGRAM)) != NULL) {
		kt_log_error("metric %s{%s}: %s", name, labels, why);
		return NULL;
	}
	if ((fam = family_find(name)) != NULL) {
		if (strcmp(fam->type, type_name(kind)) != 0) {
			kt_log_error("metric %s: registered as %s, not %s",
				     name, fam->type, type_name(kind));
			return NULL;
		}
		for (m = fam->first; m != NULL; m = m->next) {
			if (strcmp(m->labels, labels) != 0)
				continue;
			if (m->kind == kind && kind != KIND_GAUGE_FN &&
			    (kind != KIND_HISTOGRAM ||
			     same_buckets(m, buckets, n)))
				return m;
			kt_log_error("metric %s{%s}: registered twice "
				     "differently",
				     name, labels);
			return NULL;
		}
	}

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->labels = strdup(labels)) == NULL)
		goto nomem;
	m->kind = kind;
	/* 0 is also the bit pattern of +0.0 for gauges and sums. */
	atomic_init(&m->value, 0);
	atomic_init(&m->sum, 0);
	if (kind == KIND_HISTOGRAM) {
		if ((m->bounds = malloc(n * sizeof(*m->bounds))) == NULL ||
		    (m->counts = calloc(n + 1, sizeof(*m->counts))) == NULL)
			goto nomem;
		memcpy(m->bounds, buckets, n * sizeof(*m->bounds));
		m->nbuckets = n;
		for (size_t i = 0; i <= n; i++)
			atomic_init(&m->counts[i], 0);
	}
	if (fam == NULL) {
		if (registry.n == registry.cap) {
			size_t cap = registry.cap ? registry.cap * 2 : 16;
			if ((v = realloc(registry.v, cap * sizeof(*v))) == NULL)
				goto nomem;
			registry.v = v;
			registry.cap = cap;
		}
		if ((newfam = calloc(1, sizeof(*newfam))) == NULL ||
		    (newfam->name = strdup(name)) == NULL ||
		    (newfam->help = strdup(help ? help : "")) == NULL)
			goto nomem;
		newfam->type = type_name(kind);
		registry.v[registry.n++] = newfam;
		fam = newfam;
	}
	m->fam = fam;
	if (fam->last != NULL)
		fam->last->next = m;
	else
		fam->first = m;
	fam->last = m;
	return m;

nomem:
	kt_log_error("metric %s: out of memory", name);
	if (newfam != NULL) {
		free(newfam->name);
		free(newfam->help);
		free(newfam);
	}
	metric_free(m);
	return NULL;
}

struct kt_metric *kt_metrics_counter(const char *name, const char *help,
				     const char *labels)
{
	return reg(name, help, labels, KIND_COUNTER, NULL, 0);
}

struct kt_metric *kt_metrics_gauge(const char *name, const char *help,
				   const char *labels)
{
	return reg(name, help, labels, KIND_GAUGE, NULL, 0);
}

struct kt_metric *kt_metrics_gauge_fn(const char *name, const char *help,
				      const char *labels,
				      kt_metrics_value_fn fn, void *arg)
{
	struct kt_metric *m;

	if (fn == NULL) {
		kt_log_error("metric %s: no value function", name ? name : "");
		return NULL;
	}
	if ((m = reg(name, help, labels, KIND_GAUGE_FN, NULL, 0)) != NULL) {
		m->fn = fn;
		m->fn_arg = arg;
	}
	return m;
}

struct kt_metric *kt_metrics_histogram(const char *name, const char *help,
				       const char *labels,
				       const double *buckets, size_t n)
{
	if (buckets == NULL || n < 1 || n > KT_METRICS_MAX_BUCKETS) {
		kt_log_error("metric %s: 1 to %d buckets needed",
			     name ? name : "", KT_METRICS_MAX_BUCKETS);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(buckets[i]) ||
		    (i > 0 && buckets[i] <= buckets[i - 1])) {
			kt_log_error("metric %s: buckets must be finite and "
				     "strictly increasing",
				     name ? name : "");
			return NULL;
		}
	}
	return reg(name, help, labels, KIND_HISTOGRAM, buckets, n);
}

void kt_metric_add(struct kt_metric *m, uint64_t n)
{
	if (m != NULL && m->kind == KIND_COUNTER)
		atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void kt_metric_set(struct kt_metric *m, double v)
{
	if (m != NULL && m->kind == KIND_GAUGE)
		atomic_store_explicit(&m->value, dbl_bits(v),
				      memory_order_relaxed);
}

void kt_metric_observe(struct kt_metric *m, double v)
{
	uint64_t old, new;
	size_t i;

	if (m == NULL || m->kind != KIND_HISTOGRAM || isnan(v))
		return;
	/* Few buckets: a linear scan beats a binary search's branches. */
	for (i = 0; i < m->nbuckets && v > m->bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&m->counts[i], 1, memory_order_relaxed);
	old = atomic_load_explicit(&m->sum, memory_order_relaxed);
	do {
		new = dbl_bits(bits_dbl(old) + v);
	} while (!atomic_compare_exchange_weak_explicit(
	    &m->sum, &old, new, memory_order_relaxed, memory_order_relaxed));
}

/*
 * Shortest decimal form that reads back as the same double; integers
 * without exponent ("10", not "1e+01"), the special values as Prometheus
 * spells them.
 */
static void fmt_double(char *buf, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, cap, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* HELP text escaping: backslash and newline. */
static void add_help(struct evbuffer *out, const char *s)
{
	size_t n;

	while (*s != '\0') {
		n = strcspn(s, "\\\n");
		evbuffer_add(out, s, n);
		s += n;
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			break;
		s++;
	}
}

/* "name<suffix>{labels[,extra]} " with braces only when needed. */
static void add_series(struct evbuffer *out, const char *name,
		       const char *suffix, const char *labels,
		       const char *extra)
{
	int has = labels[0] != '\0', hasx = extra != NULL;

	evbuffer_add_printf(out, "%s%s", name, suffix);
	if (has || hasx)
		evbuffer_add_printf(out, "{%s%s%s}", labels,
				    has && hasx ? "," : "", hasx ? extra : "");
	evbuffer_add(out, " ", 1);
}

static void render_metric(struct evbuffer *out, const struct family *fam,
			  struct kt_metric *m)
{
	char num[40], le[48];
	uint64_t cum = 0;

	switch (m->kind) {
	case KIND_COUNTER:
		add_series(out, fam->name, "", m->labels, NULL);
		evbuffer_add_printf(out, "%" PRIu64 "\n",
				    (uint64_t)atomic_load_explicit(
					&m->value, memory_order_relaxed));
		break;
	case KIND_GAUGE:
	case KIND_GAUGE_FN:
		fmt_double(num, sizeof(num),
			   m->kind == KIND_GAUGE_FN
			       ? m->fn(m->fn_arg)
			       : bits_dbl(atomic_load_explicit(
				     &m->value, memory_order_relaxed)));
		add_series(out, fam->name, "", m->labels, NULL);
		evbuffer_add_printf(out, "%s\n", num);
		break;
	case KIND_HISTOGRAM:
		for (size_t i = 0; i <= m->nbuckets; i++) {
			cum += atomic_load_explicit(&m->counts[i],
						    memory_order_relaxed);
			if (i < m->nbuckets)
				fmt_double(num, sizeof(num), m->bounds[i]);
			snprintf(le, sizeof(le), "le=\"%s\"",
				 i < m->nbuckets ? num : "+Inf");
			add_series(out, fam->name, "_bucket", m->labels, le);
			evbuffer_add_printf(out, "%" PRIu64 "\n", cum);
		}
		fmt_double(num, sizeof(num),
			   bits_dbl(atomic_load_explicit(
			       &m->sum, memory_order_relaxed)));
		add_series(out, fam->name, "_sum", m->labels, NULL);
		evbuffer_add_printf(out, "%s\n", num);
		add_series(out, fam->name, "_count", m->labels, NULL);
		evbuffer_add_printf(out, "%" PRIu64 "\n", cum);
		break;
	}
}

void kt_metrics_render(struct evbuffer *out)
{
	for (size_t i = 0; i < registry.n; i++) {
		const struct family *fam = registry.v[i];

		if (fam->help[0] != '\0') {
			evbuffer_add_printf(out, "# HELP %s ", fam->name);
			add_help(out, fam->help);
			evbuffer_add(out, "\n", 1);
		}
		evbuffer_add_printf(out, "# TYPE %s %s\n", fam->name,
				    fam->type);
		for (struct kt_metric *m = fam->first; m != NULL; m = m->next)
			render_metric(out, fam, m);
	}
}

void kt_metrics_reset_all(void)
{
	for (size_t i = 0; i < registry.n; i++) {
		for (struct kt_metric *m = registry.v[i]->first; m != NULL;
		     m = m->next) {
			atomic_store(&m->value, 0);
			atomic_store(&m->sum, 0);
			for (size_t b = 0; m->counts && b <= m->nbuckets; b++)
				atomic_store(&m->counts[b], 0);
		}
	}
}

void kt_metrics_cleanup(void)
{
	for (size_t i = 0; i < registry.n; i++) {
		struct family *fam = registry.v[i];
		struct kt_metric *m = fam->first, *next;

		for (; m != NULL; m = next) {
			next = m->next;
			metric_free(m);
		}
		free(fam->name);
		free(fam->help);
		free(fam);
	}
	free(registry.v);
	memset(&registry, 0, sizeof(registry));
}
