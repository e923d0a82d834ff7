#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "kontor/err.h"
#include "kontor/httpc.h"
#include "kontor/httpc_cache.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "http_server.h"

struct res {
	int calls;
	int rc;
	int v; /* the document's "v", -1 without document */
	int seq;
	int sync;
};

struct fx {
	struct test_http *srv;
	struct event_base *base;
	struct kt_httpc *c;
	struct kt_httpc_json_cache *jc;
	struct event *watchdog;
	int timed_out;
	int seq;
	int submitting;
	char doc_url[128];
};

static struct fx *cur;

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;

	f->timed_out = 1;
	event_base_loopbreak(f->base);
}

static void cache_new(struct fx *f,
		      void (*tweak)(struct kt_httpc_json_cache_opts *))
{
	struct kt_httpc_json_cache_opts o;
	struct kt_error err;

	kt_httpc_json_cache_free(f->jc);
	kt_httpc_json_cache_opts_default(&o);
	o.timeout_ms = 5000;
	if (tweak)
		tweak(&o);
	assert_int_equal(kt_httpc_json_cache_new(f->c, &o, &f->jc, &err),
			 KT_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kt_httpc_opts o;
	struct kt_error err;
	struct timeval tv = {20, 0};

	f->srv = test_http_start(0);
	f->base = event_base_new();
	f->watchdog = evtimer_new(f->base, on_watchdog, f);
	evtimer_add(f->watchdog, &tv);
	kt_httpc_opts_default(&o);
	o.allow_http_loopback = 1;
	if (kt_httpc_new(f->base, &o, &f->c, &err) != KT_OK)
		return -1;
	test_http_url(f->srv, "/doc", f->doc_url, sizeof(f->doc_url));
	cur = f;
	*state = f;
	cache_new(f, NULL);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	/* The cache before its client. */
	kt_httpc_json_cache_free(f->jc);
	kt_httpc_free(f->c);
	event_free(f->watchdog);
	event_base_free(f->base);
	test_http_stop(f->srv);
	free(f);
	cur = NULL;
	return 0;
}

static void on_doc(int rc, json_t *doc, void *arg)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
	r->v = doc ? (int)json_integer_value(json_object_get(doc, "v")) : -1;
	r->seq = cur ? cur->seq++ : 0;
	r->sync = cur && cur->submitting;
}

static int get(struct fx *f, const char *url, unsigned flags, struct res *r)
{
	int rc;

	f->submitting = 1;
	rc = kt_httpc_json_cache_get(f->jc, url, flags, on_doc, r);
	f->submitting = 0;
	return rc;
}

static void run_until(struct fx *f, const int *counter, int target)
{
	while (*counter < target && !f->timed_out)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_false(f->timed_out);
}

/* Get and wait for the answer. */
static void get_wait(struct fx *f, unsigned flags, struct res *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(get(f, f->doc_url, flags, r), KT_OK);
	assert_int_equal(r->calls, 0); /* never inside the call */
	run_until(f, &r->calls, 1);
	assert_int_equal(r->calls, 1);
	assert_false(r->sync);
}

/* Run the loop until no fetch is in flight. */
static void settle(struct fx *f)
{
	while (kt_httpc_pending(f->c) > 0 && !f->timed_out)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_false(f->timed_out);
}

static struct kt_httpc_json_cache_stats stats(struct fx *f)
{
	struct kt_httpc_json_cache_stats st;

	kt_httpc_json_cache_stats(f->jc, &st);
	return st;
}

static void short_ttl(struct kt_httpc_json_cache_opts *o)
{
	o->ttl_ms = 100;
	o->max_stale_ms = 10000;
	o->negative_ttl_ms = 100;
}

static void test_shared_fetch(void **state)
{
	struct fx *f = *state;
	struct res r[5] = {{0}};

	for (int i = 0; i < 5; i++)
		assert_int_equal(get(f, f->doc_url, 0, &r[i]), KT_OK);
	for (int i = 0; i < 5; i++)
		run_until(f, &r[i].calls, 1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, KT_OK);
		assert_int_equal(r[i].v, 1);
		assert_false(r[i].sync);
		if (i > 0)
			assert_true(r[i].seq > r[i - 1].seq);
	}
	assert_int_equal(test_http_hits(f->srv, "/doc"), 1);
	assert_int_equal(stats(f).fetches, 1);
	assert_int_equal(stats(f).entries, 1);
}

static void test_fresh_hit(void **state)
{
	struct fx *f = *state;
	struct res r;

	get_wait(f, 0, &r);
	test_http_set_doc(f->srv, 2, 200, 0);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.v, 1);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 1);
	assert_int_equal(stats(f).hits, 1);
}

static void test_stale_while_revalidate(void **state)
{
	struct fx *f = *state;
	struct res r;

	cache_new(f, short_ttl);
	get_wait(f, 0, &r);
	assert_int_equal(r.v, 1);
	test_http_set_doc(f->srv, 2, 200, 0);
	usleep(150 * 1000);
	/* Stale: answered at once with the old document... */
	memset(&r, 0, sizeof(r));
	assert_int_equal(get(f, f->doc_url, 0, &r), KT_OK);
	assert_int_equal(kt_httpc_pending(f->c), 1); /* ...refresh started */
	run_until(f, &r.calls, 1);
	assert_int_equal(r.v, 1);
	assert_int_equal(stats(f).stale_hits, 1);
	settle(f);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
	get_wait(f, 0, &r);
	assert_int_equal(r.v, 2);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
}

static void no_stale(struct kt_httpc_json_cache_opts *o)
{
	o->ttl_ms = 100;
	o->max_stale_ms = 0;
}

static void test_too_stale_waits(void **state)
{
	struct fx *f = *state;
	struct res r;

	cache_new(f, no_stale);
	get_wait(f, 0, &r);
	test_http_set_doc(f->srv, 2, 200, 0);
	usleep(150 * 1000);
	memset(&r, 0, sizeof(r));
	assert_int_equal(get(f, f->doc_url, 0, &r), KT_OK);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	run_until(f, &r.calls, 1);
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.v, 2);
	assert_int_equal(stats(f).stale_hits, 0);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
}

static void test_negative_cache(void **state)
{
	struct fx *f = *state;
	struct res r;

	cache_new(f, short_ttl);
	test_http_set_doc(f->srv, 1, 500, 0);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(r.v, -1);
	/* Remembered: no second request to the upstream. */
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 1);
	assert_int_equal(stats(f).negative_hits, 1);
	assert_int_equal(stats(f).failures, 1);
	/* After the window, asked again. */
	usleep(150 * 1000);
	test_http_set_doc(f->srv, 3, 200, 0);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.v, 3);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
}

static void test_fetch_errors(void **state)
{
	struct fx *f = *state;
	struct res r;
	char u[64];
	int port, fd;

	cache_new(f, short_ttl);
	test_http_set_doc(f->srv, 1, 404, 0);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_ERR_NOTFOUND);
	usleep(150 * 1000);
	test_http_set_doc(f->srv, 1, 200, 1);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_ERR_INVALID);
	usleep(150 * 1000);
	test_http_set_doc(f->srv, 1, 302, 0);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_ERR_INVALID);
	usleep(150 * 1000);
	test_http_set_doc(f->srv, 1, 429, 0);
	get_wait(f, 0, &r);
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(stats(f).failures, 4);

	/* Nobody listening. */
	fd = test_http_blackhole(&port);
	close(fd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/doc", port);
	memset(&r, 0, sizeof(r));
	assert_int_equal(get(f, u, 0, &r), KT_OK);
	run_until(f, &r.calls, 1);
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
}

static void long_stale(struct kt_httpc_json_cache_opts *o)
{
	o->ttl_ms = 100;
	o->max_stale_ms = 10000;
	o->negative_ttl_ms = 5000;
}

static void test_stale_on_failure(void **state)
{
	struct fx *f = *state;
	struct res r;

	cache_new(f, long_stale);
	get_wait(f, 0, &r);
	test_http_set_doc(f->srv, 2, 503, 0);
	usleep(150 * 1000);
	get_wait(f, 0, &r); /* stale v1, refresh fails behind it */
	assert_int_equal(r.v, 1);
	settle(f);
	assert_int_equal(stats(f).failures, 1);
	get_wait(f, 0, &r); /* failure remembered: v1, no new fetch */
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.v, 1);
	settle(f);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
	/* A forced refresh in the failure window gets the stale document
	 * too (the upstream is not asked again). */
	get_wait(f, KT_HTTPC_JSON_REFRESH, &r);
	assert_int_equal(r.v, 1);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
}

static void refresh_opts(struct kt_httpc_json_cache_opts *o)
{
	o->ttl_ms = 60000;
	o->min_refresh_ms = 200;
}

static void test_forced_refresh(void **state)
{
	struct fx *f = *state;
	struct res r, r2 = {0};

	cache_new(f, refresh_opts);
	get_wait(f, 0, &r);
	test_http_set_doc(f->srv, 2, 200, 0);
	/* A rotation right after a fetch: the first forced refresh goes out
	 * however fresh the document is. */
	get_wait(f, KT_HTTPC_JSON_REFRESH, &r);
	assert_int_equal(r.v, 2);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
	/* Rate-limited: too soon after the last forced refresh. */
	test_http_set_doc(f->srv, 1, 200, 0);
	get_wait(f, KT_HTTPC_JSON_REFRESH, &r);
	assert_int_equal(r.v, 2);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 2);
	test_http_set_doc(f->srv, 3, 200, 0);
	usleep(250 * 1000);
	/* Now it waits for a new fetch, while a plain get made meanwhile
	 * is answered from memory at once. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(get(f, f->doc_url, KT_HTTPC_JSON_REFRESH, &r), KT_OK);
	assert_int_equal(get(f, f->doc_url, 0, &r2), KT_OK);
	run_until(f, &r.calls, 1);
	run_until(f, &r2.calls, 1);
	assert_int_equal(r.v, 3);
	assert_int_equal(r2.v, 2);
	assert_true(r2.seq < r.seq);
	assert_int_equal(test_http_hits(f->srv, "/doc"), 3);
}

static void test_invalidate(void **state)
{
	struct fx *f = *state;
	struct res r;

	get_wait(f, 0, &r);
	test_http_set_doc(f->srv, 2, 200, 0);
	kt_httpc_json_cache_invalidate(f->jc, f->doc_url);
	kt_httpc_json_cache_invalidate(f->jc, "https://unknown.example/");
	get_wait(f, 0, &r);
	assert_int_equal(r.v, 2);
}

static void test_free_with_waiters(void **state)
{
	struct fx *f = *state;
	struct res ready = {0}, w[3] = {{0}};
	char u[64];
	int port, fd = test_http_blackhole(&port);

	get_wait(f, 0, &ready);
	memset(&ready, 0, sizeof(ready));
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/doc", port);
	for (int i = 0; i < 3; i++)
		assert_int_equal(get(f, u, 0, &w[i]), KT_OK);
	/* Decided (fresh hit) but not yet delivered. */
	assert_int_equal(get(f, f->doc_url, 0, &ready), KT_OK);
	assert_int_equal(ready.calls, 0);
	kt_httpc_json_cache_free(f->jc);
	f->jc = NULL;
	assert_int_equal(ready.calls, 1);
	assert_int_equal(ready.rc, KT_ERR_UNAVAILABLE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(w[i].calls, 1);
		assert_int_equal(w[i].rc, KT_ERR_UNAVAILABLE);
		assert_true(w[i].seq > ready.seq);
		if (i > 0)
			assert_true(w[i].seq > w[i - 1].seq);
	}
	/* The abandoned fetch is cancelled with the client, harmlessly. */
	assert_int_equal(kt_httpc_pending(f->c), 1);
	kt_httpc_free(f->c);
	f->c = NULL;
	close(fd);
}

struct freer {
	struct res r;
	struct fx *f;
};

static void on_doc_free(int rc, json_t *doc, void *arg)
{
	struct freer *fr = arg;

	on_doc(rc, doc, &fr->r);
	kt_httpc_json_cache_free(fr->f->jc);
	fr->f->jc = NULL;
}

static void test_free_from_callback(void **state)
{
	struct fx *f = *state;
	struct freer fr = {.f = f};
	struct res r[2] = {{0}};

	assert_int_equal(
	    kt_httpc_json_cache_get(f->jc, f->doc_url, 0, on_doc_free, &fr),
	    KT_OK);
	assert_int_equal(get(f, f->doc_url, 0, &r[0]), KT_OK);
	assert_int_equal(get(f, f->doc_url, 0, &r[1]), KT_OK);
	run_until(f, &fr.r.calls, 1);
	assert_int_equal(fr.r.rc, KT_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, KT_ERR_UNAVAILABLE);
	}
}

static void two_entries(struct kt_httpc_json_cache_opts *o)
{
	o->max_entries = 2;
}

static void test_max_entries(void **state)
{
	struct fx *f = *state;
	struct res r[4] = {{0}};
	char a[128], b[128], c[128], h1[64], h2[64];
	int port, fd = test_http_blackhole(&port);

	cache_new(f, two_entries);
	test_http_url(f->srv, "/doc?a", a, sizeof(a));
	test_http_url(f->srv, "/doc?b", b, sizeof(b));
	test_http_url(f->srv, "/doc?c", c, sizeof(c));
	assert_int_equal(get(f, a, 0, &r[0]), KT_OK);
	run_until(f, &r[0].calls, 1);
	assert_int_equal(get(f, b, 0, &r[1]), KT_OK);
	run_until(f, &r[1].calls, 1);
	/* a is the least recently used and makes room for c. */
	assert_int_equal(get(f, c, 0, &r[2]), KT_OK);
	run_until(f, &r[2].calls, 1);
	assert_int_equal(stats(f).entries, 2);
	memset(&r[0], 0, sizeof(r[0]));
	assert_int_equal(get(f, b, 0, &r[0]), KT_OK);
	run_until(f, &r[0].calls, 1);
	assert_int_equal(stats(f).hits, 1);
	assert_int_equal(stats(f).fetches, 3);

	/* Both entries busy fetching: no room. */
	cache_new(f, two_entries);
	snprintf(h1, sizeof(h1), "http://127.0.0.1:%d/1", port);
	snprintf(h2, sizeof(h2), "http://127.0.0.1:%d/2", port);
	assert_int_equal(get(f, h1, 0, &r[3]), KT_OK);
	assert_int_equal(get(f, h2, 0, &r[3]), KT_OK);
	assert_int_equal(get(f, a, 0, &r[3]), KT_ERR_BUSY);
	kt_httpc_json_cache_free(f->jc);
	f->jc = NULL;
	assert_int_equal(r[3].calls, 2);
	kt_httpc_free(f->c);
	f->c = NULL;
	close(fd);
}

static void test_get_rejects(void **state)
{
	struct fx *f = *state;
	struct res r = {0};

	assert_int_equal(get(f, "ftp://127.0.0.1/x", 0, &r), KT_ERR_INVALID);
	assert_int_equal(get(f, "http://example.com/x", 0, &r), KT_ERR_INVALID);
	assert_int_equal(get(f, NULL, 0, &r), KT_ERR_INVALID);
	assert_int_equal(
	    kt_httpc_json_cache_get(f->jc, f->doc_url, 0, NULL, NULL),
	    KT_ERR_INVALID);
	assert_int_equal(stats(f).entries, 0);
	assert_int_equal(r.calls, 0);
}

static void test_opts_rejects(void **state)
{
	struct fx *f = *state;
	struct kt_httpc_json_cache_opts o;
	struct kt_httpc_json_cache *jc = NULL;
	struct kt_error err;

	kt_httpc_json_cache_opts_default(&o);
	o.ttl_ms = 0;
	assert_int_equal(kt_httpc_json_cache_new(f->c, &o, &jc, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "httpc cache: ttl_ms must be between 1 "
				     "and 604800000");
	kt_httpc_json_cache_opts_default(&o);
	o.max_stale_ms = -1;
	assert_int_equal(kt_httpc_json_cache_new(f->c, &o, &jc, &err),
			 KT_ERR_INVALID);
	kt_httpc_json_cache_opts_default(&o);
	o.negative_ttl_ms = 3600 * 1000 + 1;
	assert_int_equal(kt_httpc_json_cache_new(f->c, &o, &jc, &err),
			 KT_ERR_INVALID);
	kt_httpc_json_cache_opts_default(&o);
	o.max_entries = 0;
	assert_int_equal(kt_httpc_json_cache_new(f->c, &o, &jc, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_httpc_json_cache_new(NULL, NULL, &jc, &err),
			 KT_ERR_INVALID);
	assert_null(jc);
	kt_httpc_json_cache_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_shared_fetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fresh_hit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_while_revalidate, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_too_stale_waits, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_negative_cache, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fetch_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_on_failure, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_forced_refresh, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_with_waiters, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_free_from_callback, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_max_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_opts_rejects, setup, teardown),
	};

	kt_log_init(KT_LOG_OFF, 2);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
