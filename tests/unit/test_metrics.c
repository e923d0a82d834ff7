#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "kontor/log.h"
#include "kontor/metrics.h"

/* The rendered registry as a NUL-terminated string; caller frees. */
static char *render(void)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	kt_metrics_render(b);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

static int teardown(void **state)
{
	kt_metrics_cleanup();
	return 0;
}

static double answer(void *arg)
{
	return *(double *)arg;
}

static void test_render_exact(void **state)
{
	static const double buckets[] = {0.1, 0.5, 1, 10};
	double fnval = 7;
	struct kt_metric *ok, *up, *bad, *lat, *q;
	char *s;

	ok = kt_metrics_counter("kontor_http_requests_total",
				"HTTP requests by endpoint and status.",
				"endpoint=\"token\",code=\"200\"");
	up = kt_metrics_gauge("kontor_up", "1 when \\ ready\nelse 0.", NULL);
	/* Same name later: joins the first block, no second HELP/TYPE. */
	bad = kt_metrics_counter("kontor_http_requests_total", "ignored",
				 "endpoint=\"token\",code=\"400\"");
	lat = kt_metrics_histogram("kontor_request_seconds", "Latency.",
				   "endpoint=\"token\"", buckets, 4);
	q = kt_metrics_gauge_fn("kontor_pool_queued", "", NULL, answer, &fnval);
	assert_non_null(ok);
	assert_non_null(up);
	assert_non_null(bad);
	assert_non_null(lat);
	assert_non_null(q);

	kt_metric_add(ok, 3);
	kt_metric_add(ok, 39);
	kt_metric_add(bad, 1);
	kt_metric_set(up, 1);
	/* Exact binary fractions: the sum prints exactly. */
	kt_metric_observe(lat, 0.0625); /* le=0.1 */
	kt_metric_observe(lat, 0.25);	/* le=0.5 */
	kt_metric_observe(lat, 0.5);	/* le=0.5: bounds are inclusive */
	kt_metric_observe(lat, 3);	/* le=10 */
	kt_metric_observe(lat, 1000);	/* +Inf */
	kt_metric_observe(lat, NAN);	/* ignored */

	s = render();
	assert_string_equal(
	    s,
	    "# HELP kontor_http_requests_total HTTP requests by endpoint "
	    "and status.\n"
	    "# TYPE kontor_http_requests_total counter\n"
	    "kontor_http_requests_total{endpoint=\"token\",code=\"200\"} 42\n"
	    "kontor_http_requests_total{endpoint=\"token\",code=\"400\"} 1\n"
	    "# HELP kontor_up 1 when \\\\ ready\\nelse 0.\n"
	    "# TYPE kontor_up gauge\n"
	    "kontor_up 1\n"
	    "# HELP kontor_request_seconds Latency.\n"
	    "# TYPE kontor_request_seconds histogram\n"
	    "kontor_request_seconds_bucket{endpoint=\"token\",le=\"0.1\"} 1\n"
	    "kontor_request_seconds_bucket{endpoint=\"token\",le=\"0.5\"} 3\n"
	    "kontor_request_seconds_bucket{endpoint=\"token\",le=\"1\"} 3\n"
	    "kontor_request_seconds_bucket{endpoint=\"token\",le=\"10\"} 4\n"
	    "kontor_request_seconds_bucket{endpoint=\"token\",le=\"+Inf\"} 5\n"
	    "kontor_request_seconds_sum{endpoint=\"token\"} 1003.8125\n"
	    "kontor_request_seconds_count{endpoint=\"token\"} 5\n"
	    "# TYPE kontor_pool_queued gauge\n"
	    "kontor_pool_queued 7\n");
	free(s);

	/* gauge_fn is read at render time; reset zeroes the rest. */
	fnval = 0.5;
	kt_metrics_reset_all();
	kt_metric_set(up, -INFINITY);
	s = render();
	assert_non_null(strstr(s, "\nkontor_pool_queued 0.5\n"));
	assert_non_null(strstr(s, "\nkontor_up -Inf\n"));
	assert_non_null(strstr(
	    s, "\nkontor_http_requests_total{endpoint=\"token\",code=\"200\"} "
	       "0\n"));
	assert_non_null(strstr(
	    s, "\nkontor_request_seconds_bucket{endpoint=\"token\",le=\"+Inf\"}"
	       " 0\n"));
	assert_non_null(
	    strstr(s, "\nkontor_request_seconds_sum{endpoint=\"token\"} 0\n"));
	free(s);
}

static void test_histogram_no_labels_and_numbers(void **state)
{
	static const double buckets[] = {0.005, 2.5, 1e6};
	struct kt_metric *h, *g;
	char *s;

	h = kt_metrics_histogram("h", "", NULL, buckets, 3);
	g = kt_metrics_gauge("g", "", NULL);
	assert_non_null(h);
	kt_metric_observe(h, 0.005);
	kt_metric_set(g, 0.1);
	s = render();
	assert_string_equal(s, "# TYPE h histogram\n"
			       "h_bucket{le=\"0.005\"} 1\n"
			       "h_bucket{le=\"2.5\"} 1\n"
			       "h_bucket{le=\"1000000\"} 1\n"
			       "h_bucket{le=\"+Inf\"} 1\n"
			       "h_sum 0.005\n"
			       "h_count 1\n"
			       "# TYPE g gauge\n"
			       "g 0.1\n");
	free(s);
	kt_metric_set(g, NAN);
	s = render();
	assert_non_null(strstr(s, "\ng NaN\n"));
	free(s);
}

static void test_registration_rejects(void **state)
{
	static const double inc[] = {1, 2}, dup[] = {1, 1}, down[] = {2, 1},
			    inf[] = {1, INFINITY}, other[] = {1, 3};
	struct kt_metric *c, *h;
	char *s;

	kt_log_init(KT_LOG_OFF, 2);
	assert_null(kt_metrics_counter(NULL, "", NULL));
	assert_null(kt_metrics_counter("", "", NULL));
	assert_null(kt_metrics_counter("1abc", "", NULL));
	assert_null(kt_metrics_counter("a-b", "", NULL));
	assert_null(kt_metrics_counter("a b", "", NULL));
	assert_non_null(kt_metrics_counter("ns:sub_total", "", NULL));

	assert_null(kt_metrics_counter("l", "", "code=200"));
	assert_null(kt_metrics_counter("l", "", "code=\"200"));
	assert_null(kt_metrics_counter("l", "", "=\"x\""));
	assert_null(kt_metrics_counter("l", "", "1x=\"x\""));
	assert_null(kt_metrics_counter("l", "", "a=\"x\","));
	assert_null(kt_metrics_counter("l", "", "a=\"x\" b=\"y\""));
	assert_null(kt_metrics_counter("l", "", "a=\"x\\y\""));
	assert_null(kt_metrics_counter("l", "", "a=\"x\ny\""));
	assert_null(kt_metrics_counter("l", "", "__name__=\"x\""));
	assert_non_null(kt_metrics_counter("l", "", "a=\"x\\\"\\\\\\n\""));
	assert_non_null(kt_metrics_counter("l", "", "le=\"x\""));
	assert_null(kt_metrics_histogram("hl", "", "le=\"x\"", inc, 2));

	assert_null(kt_metrics_histogram("hb", "", NULL, inc, 0));
	assert_null(kt_metrics_histogram("hb", "", NULL, NULL, 2));
	assert_null(kt_metrics_histogram("hb", "", NULL, dup, 2));
	assert_null(kt_metrics_histogram("hb", "", NULL, down, 2));
	assert_null(kt_metrics_histogram("hb", "", NULL, inf, 2));
	assert_null(kt_metrics_histogram("hb", "", NULL, inc,
					 KT_METRICS_MAX_BUCKETS + 1));
	assert_null(kt_metrics_gauge_fn("gf", "", NULL, NULL, NULL));

	/* Same series again: the same metric; different kind: refused. */
	c = kt_metrics_counter("c_total", "", "a=\"1\"");
	assert_non_null(c);
	assert_ptr_equal(kt_metrics_counter("c_total", "", "a=\"1\""), c);
	assert_null(kt_metrics_gauge("c_total", "", "a=\"2\""));
	h = kt_metrics_histogram("h", "", NULL, inc, 2);
	assert_ptr_equal(kt_metrics_histogram("h", "", NULL, inc, 2), h);
	assert_null(kt_metrics_histogram("h", "", NULL, other, 2));
	assert_null(kt_metrics_counter("h", "", NULL));

	/* Updates of the wrong kind, or of NULL, change nothing. */
	kt_metric_set(c, 5);
	kt_metric_observe(c, 5);
	kt_metric_add(h, 5);
	kt_metric_add(NULL, 1);
	kt_metric_set(NULL, 1);
	kt_metric_observe(NULL, 1);
	s = render();
	assert_non_null(strstr(s, "\nc_total{a=\"1\"} 0\n"));
	assert_non_null(strstr(s, "\nh_count 0\n"));
	/* Rejected registrations left no trace. */
	assert_null(strstr(s, "hb"));
	assert_null(strstr(s, "hl"));
	assert_null(strstr(s, "gf"));
	free(s);
	kt_log_init(KT_LOG_INFO, 2);
}

#define NTHREADS 4
#define NINC 100000

static struct kt_metric *conc_counter, *conc_hist;

static void *hammer(void *arg)
{
	for (int i = 0; i < NINC; i++) {
		kt_metric_add(conc_counter, 1);
		/* 0.25 and 1.75: sums stay exact in binary. */
		kt_metric_observe(conc_hist, (i & 1) ? 1.75 : 0.25);
	}
	return NULL;
}

static void test_concurrent_updates(void **state)
{
	static const double buckets[] = {1};
	pthread_t t[NTHREADS];
	char *s;

	conc_counter = kt_metrics_counter("hits_total", "", NULL);
	conc_hist = kt_metrics_histogram("obs", "", NULL, buckets, 1);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	s = render();
	assert_string_equal(s, "# TYPE hits_total counter\n"
			       "hits_total 400000\n"
			       "# TYPE obs histogram\n"
			       "obs_bucket{le=\"1\"} 200000\n"
			       "obs_bucket{le=\"+Inf\"} 400000\n"
			       "obs_sum 400000\n"
			       "obs_count 400000\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_render_exact, teardown),
	    cmocka_unit_test_teardown(test_histogram_no_labels_and_numbers,
				      teardown),
	    cmocka_unit_test_teardown(test_registration_rejects, teardown),
	    cmocka_unit_test_teardown(test_concurrent_updates, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
