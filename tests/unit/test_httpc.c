#include <arpa/inet.h>
#include <netinet/in.h>
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
#include "kontor/log.h"
#include "kontor/util.h"

#include "http_server.h"

/*
 * The client's loop runs on the test thread (cmocka's assertions must
 * stay there); the server runs in its own thread. Callbacks only record;
 * the test body checks.
 */

struct res {
	int calls;
	int rc;
	long status;
	char body[1024];
	size_t len;
	int seq;  /* order among all callbacks of a test */
	int sync; /* ran inside the submitting call */
	char rid[64];
};

struct fx {
	struct test_http *srv;
	struct event_base *base;
	struct kt_httpc *c;
	struct event *watchdog;
	int timed_out;
	int seq;
	int submitting;
};

static struct fx *cur; /* for callbacks that need the fixture */

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;

	f->timed_out = 1;
	event_base_loopbreak(f->base);
}

static struct kt_httpc *client_new(struct fx *f,
				   void (*tweak)(struct kt_httpc_opts *))
{
	struct kt_httpc_opts o;
	struct kt_httpc *c = NULL;
	struct kt_error err;

	kt_httpc_opts_default(&o);
	o.allow_http_loopback = 1;
	/* The TLS handshake counts as connecting: slow under sanitizers. */
	o.connect_timeout_ms = 10000;
	if (tweak)
		tweak(&o);
	assert_int_equal(kt_httpc_new(f->base, &o, &c, &err), KT_OK);
	return c;
}

static int setup_common(void **state, int tls)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct timeval tv = {20, 0};

	f->srv = test_http_start(tls);
	f->base = event_base_new();
	f->watchdog = evtimer_new(f->base, on_watchdog, f);
	evtimer_add(f->watchdog, &tv);
	f->c = client_new(f, NULL);
	cur = f;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, 0);
}

static int setup_tls(void **state)
{
	return setup_common(state, 1);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	kt_httpc_free(f->c);
	event_free(f->watchdog);
	event_base_free(f->base);
	test_http_stop(f->srv);
	free(f);
	cur = NULL;
	return 0;
}

static void on_res(int rc, long status, const char *body, size_t len, void *arg)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
	r->status = status;
	r->len = len;
	r->sync = cur != NULL && cur->submitting;
	r->seq = cur != NULL ? cur->seq++ : 0;
	snprintf(r->body, sizeof(r->body), "%.*s",
		 (int)(len < sizeof(r->body) ? len : sizeof(r->body) - 1),
		 body);
	snprintf(r->rid, sizeof(r->rid), "%s",
		 kt_str_or(kt_log_request_id(), ""));
}

static void run_until(struct fx *f, const int *counter, int target)
{
	while (*counter < target && !f->timed_out)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_false(f->timed_out);
}

static void run_res(struct fx *f, struct res *r)
{
	run_until(f, &r->calls, 1);
	assert_int_equal(r->calls, 1);
}

static const char *url(struct fx *f, const char *path)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	return test_http_url(f->srv, path, buf[i], sizeof(buf[i]));
}

static int get(struct fx *f, const char *u, int timeout_ms, struct res *r)
{
	int rc;

	f->submitting = 1;
	rc = kt_httpc_get(f->c, u, NULL, timeout_ms, on_res, r);
	f->submitting = 0;
	return rc;
}

/* ---- success and statuses ---- */

static void test_get_ok(void **state)
{
	struct fx *f = *state;
	struct res r = {0};

	kt_log_set_request_id("rid-7");
	assert_int_equal(get(f, url(f, "/ok"), 5000, &r), KT_OK);
	kt_log_set_request_id(NULL);
	/* Never inside the call that submitted it. */
	assert_int_equal(r.calls, 0);
	assert_int_equal(kt_httpc_pending(f->c), 1);
	run_res(f, &r);
	assert_false(r.sync);
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"ok\":true}");
	assert_int_equal(r.len, strlen("{\"ok\":true}"));
	/* The submitting request id is back while the callback runs. */
	assert_string_equal(r.rid, "rid-7");
	assert_null(kt_log_request_id());
	assert_int_equal(kt_httpc_pending(f->c), 0);
}

static void test_status_404(void **state)
{
	struct fx *f = *state;
	struct res r = {0}, r2 = {0}, r3 = {0};

	assert_int_equal(get(f, url(f, "/status/404"), 5000, &r), KT_OK);
	assert_int_equal(get(f, url(f, "/nothing-here"), 5000, &r2), KT_OK);
	assert_int_equal(get(f, url(f, "/status/503"), 5000, &r3), KT_OK);
	run_res(f, &r);
	run_res(f, &r2);
	run_res(f, &r3);
	/* A complete answer is rc 0 whatever its status. */
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "status 404");
	assert_int_equal(r2.rc, KT_OK);
	assert_int_equal(r2.status, 404);
	assert_int_equal(r3.rc, KT_OK);
	assert_int_equal(r3.status, 503);
}

static void test_redirect_not_followed(void **state)
{
	struct fx *f = *state;
	struct res r = {0};

	assert_int_equal(get(f, url(f, "/redirect"), 5000, &r), KT_OK);
	run_res(f, &r);
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.status, 302);
	assert_string_equal(r.body, "moved");
	assert_int_equal(test_http_hits(f->srv, "/ok"), 0);
}

static void test_post_form(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	const char *hdrs[] = {"Authorization: Basic YWJjOmRlZg==",
			      "Accept: application/json", NULL};
	json_t *j;

	assert_int_equal(kt_httpc_post_form(f->c, url(f, "/echo"),
					    "grant_type=authorization_code&"
					    "code=x%2By",
					    hdrs, 5000, on_res, &r),
			 KT_OK);
	run_res(f, &r);
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "method")),
			    "POST");
	assert_string_equal(json_string_value(json_object_get(j, "body")),
			    "grant_type=authorization_code&code=x%2By");
	assert_string_equal(
	    json_string_value(json_object_get(j, "authorization")),
	    "Basic YWJjOmRlZg==");
	assert_string_equal(
	    json_string_value(json_object_get(j, "content_type")),
	    "application/x-www-form-urlencoded");
	assert_string_equal(json_string_value(json_object_get(j, "accept")),
			    "application/json");
	/* No 100-continue round trip. */
	assert_true(json_is_null(json_object_get(j, "expect")));
	assert_true(strncmp(json_string_value(json_object_get(j, "user_agent")),
			    "kontor/", 7) == 0);
	json_decref(j);
}

static void test_request_generic(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	struct kt_httpc_req req = {.url = url(f, "/echo"),
				   .post = 1,
				   .body = "{\"a\":1}",
				   .body_len = 7,
				   .content_type = "application/json"};
	json_t *j;

	assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r, NULL), KT_OK);
	run_res(f, &r);
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(j, "content_type")),
	    "application/json");
	assert_string_equal(json_string_value(json_object_get(j, "body")),
			    "{\"a\":1}");
	json_decref(j);
}

/* ---- failures ---- */

static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	char u[64];
	int port, fd = test_http_blackhole(&port);
	int64_t t0 = kt_mono_ms(), dt;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/slow", port);
	assert_int_equal(get(f, u, 300, &r), KT_OK);
	run_res(f, &r);
	dt = kt_mono_ms() - t0;
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.body, "timed out"));
	assert_true(dt >= 250);
	assert_true(dt < 3000);
	close(fd);
}

static void test_refused(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	char u[64];

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x",
		 test_http_refused_port());
	assert_int_equal(get(f, u, 5000, &r), KT_OK);
	run_res(f, &r);
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(r.status, 0);
	assert_true(r.len > 0);
}

static void small_body(struct kt_httpc_opts *o)
{
	o->max_body = 1000;
}

static void test_oversize(void **state)
{
	struct fx *f = *state;
	struct res r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0};

	kt_httpc_free(f->c);
	f->c = client_new(f, small_body);
	/* Content-Length over the cap, chunked over the cap, exactly at
	 * the cap, and the per-request cap below the client's. */
	assert_int_equal(get(f, url(f, "/big/5000"), 5000, &r1), KT_OK);
	assert_int_equal(get(f, url(f, "/chunked/20000"), 5000, &r2), KT_OK);
	assert_int_equal(get(f, url(f, "/big/1000"), 5000, &r3), KT_OK);
	{
		struct kt_httpc_req req = {.url = url(f, "/big/600"),
					   .max_body = 500};
		assert_int_equal(
		    kt_httpc_request(f->c, &req, on_res, &r4, NULL), KT_OK);
	}
	run_res(f, &r1);
	run_res(f, &r2);
	run_res(f, &r3);
	run_res(f, &r4);
	assert_int_equal(r1.rc, KT_ERR_LIMIT);
	assert_int_equal(r1.status, 200);
	assert_string_equal(r1.body, "response body exceeds the size limit");
	assert_int_equal(r2.rc, KT_ERR_LIMIT);
	assert_int_equal(r2.status, 200);
	assert_int_equal(r3.rc, KT_OK);
	assert_int_equal(r3.len, 1000);
	assert_int_equal(r4.rc, KT_ERR_LIMIT);
}

#define NCONC 100

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	struct res *r = calloc(NCONC, sizeof(*r));
	int done = 0;

	for (int i = 0; i < NCONC; i++) {
		const char *p = i % 10 == 0  ? "/big/100000"
				: i % 3 == 0 ? "/status/404"
					     : "/ok";
		assert_int_equal(get(f, url(f, p), 5000, &r[i]), KT_OK);
	}
	assert_int_equal(kt_httpc_pending(f->c), NCONC);
	while (done < NCONC && !f->timed_out) {
		event_base_loop(f->base, EVLOOP_ONCE);
		done = 0;
		for (int i = 0; i < NCONC; i++)
			done += r[i].calls;
	}
	assert_false(f->timed_out);
	for (int i = 0; i < NCONC; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, KT_OK);
		if (i % 10 == 0) {
			assert_int_equal(r[i].status, 200);
			assert_int_equal(r[i].len, 100000);
		} else {
			assert_int_equal(r[i].status, i % 3 == 0 ? 404 : 200);
		}
	}
	assert_int_equal(kt_httpc_pending(f->c), 0);
	assert_int_equal(test_http_hits(f->srv, "/ok"),
			 NCONC - NCONC / 10 - 30);
	free(r);
}

/* ---- cancellation and re-entrancy ---- */

struct again {
	struct res r;
	int again_rc;
};

static void on_res_submit(int rc, long status, const char *body, size_t len,
			  void *arg)
{
	struct again *a = arg;

	on_res(rc, status, body, len, &a->r);
	a->again_rc = kt_httpc_get(cur->c, "http://127.0.0.1:1/", NULL, 100,
				   on_res, &a->r);
}

static void test_free_pending(void **state)
{
	struct fx *f = *state;
	struct res r[5] = {{0}};
	struct again a = {0};
	char u[64];
	int port, fd = test_http_blackhole(&port);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/never", port);
	for (int i = 0; i < 4; i++)
		assert_int_equal(get(f, u, 10000, &r[i]), KT_OK);
	assert_int_equal(get(f, url(f, "/ok"), 10000, &r[4]), KT_OK);
	assert_int_equal(kt_httpc_get(f->c, u, NULL, 10000, on_res_submit, &a),
			 KT_OK);
	/* Let the connections start, then shut down. */
	for (int i = 0; i < 3; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
	kt_httpc_free(f->c);
	f->c = NULL;
	/* Each callback ran once, inside kt_httpc_free, in submission
	 * order, with KT_ERR_UNAVAILABLE (unless /ok already finished). */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, KT_ERR_UNAVAILABLE);
		assert_int_equal(r[i].status, 0);
		assert_string_equal(r[i].body,
				    "request cancelled: client shut down");
		if (i > 0)
			assert_true(r[i].seq > r[i - 1].seq);
	}
	assert_int_equal(r[4].calls, 1);
	assert_int_equal(a.r.calls, 1);
	assert_int_equal(a.r.rc, KT_ERR_UNAVAILABLE);
	assert_true(a.r.seq > r[3].seq);
	/* No new requests from a cancel callback. */
	assert_int_equal(a.again_rc, KT_ERR_UNAVAILABLE);
	close(fd);
}

struct freer {
	struct res r;
	struct kt_httpc *c;
};

static void on_res_free(int rc, long status, const char *body, size_t len,
			void *arg)
{
	struct freer *fr = arg;

	on_res(rc, status, body, len, &fr->r);
	kt_httpc_free(fr->c);
}

static void test_free_from_callback(void **state)
{
	struct fx *f = *state;
	struct freer fr = {.c = f->c};
	struct res r[3] = {{0}};
	char u[64];
	int port, fd = test_http_blackhole(&port);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/never", port);
	for (int i = 0; i < 3; i++)
		assert_int_equal(get(f, u, 10000, &r[i]), KT_OK);
	assert_int_equal(
	    kt_httpc_get(f->c, url(f, "/ok"), NULL, 5000, on_res_free, &fr),
	    KT_OK);
	run_until(f, &fr.r.calls, 1);
	f->c = NULL;
	assert_int_equal(fr.r.rc, KT_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].rc, KT_ERR_UNAVAILABLE);
		assert_true(r[i].seq > fr.r.seq);
	}
	close(fd);
}

struct chain {
	struct res r1, r2;
	int rc2;
};

static void on_chain(int rc, long status, const char *body, size_t len,
		     void *arg)
{
	struct chain *ch = arg;

	on_res(rc, status, body, len, &ch->r1);
	ch->rc2 = kt_httpc_get(cur->c, url(cur, "/status/201"), NULL, 5000,
			       on_res, &ch->r2);
}

static void test_submit_from_callback(void **state)
{
	struct fx *f = *state;
	struct chain ch = {0};

	assert_int_equal(
	    kt_httpc_get(f->c, url(f, "/ok"), NULL, 5000, on_chain, &ch),
	    KT_OK);
	run_until(f, &ch.r2.calls, 1);
	assert_int_equal(ch.rc2, KT_OK);
	assert_int_equal(ch.r1.status, 200);
	assert_int_equal(ch.r2.status, 201);
}

/* ---- rejected before starting ---- */

static void two_requests(struct kt_httpc_opts *o)
{
	o->max_requests = 2;
}

static void test_rejects(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	struct kt_error err;
	const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
	const char *noname[] = {": v", NULL};
	const char *badname[] = {"X A: v", NULL};
	const char *many[KT_HTTPC_MAX_HEADERS + 2];
	char ok_url[128];
	struct kt_httpc_req req = {
	    .url = test_http_url(f->srv, "/ok", ok_url, sizeof(ok_url))};
	struct kt_httpc *strict = NULL;

	for (int i = 0; i <= KT_HTTPC_MAX_HEADERS; i++)
		many[i] = "X-A: b";
	many[KT_HTTPC_MAX_HEADERS + 1] = NULL;

	assert_int_equal(
	    kt_httpc_request(f->c,
			     &(struct kt_httpc_req){.url = "ftp://127.0.0.1/"},
			     on_res, &r, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "URL not allowed: not an absolute "
				     "https URL");
	assert_int_equal(
	    kt_httpc_request(
		f->c, &(struct kt_httpc_req){.url = "http://example.com/"},
		on_res, &r, &err),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_httpc_request(
		f->c, &(struct kt_httpc_req){.url = "https://u:p@example.com/"},
		on_res, &r, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "URL not allowed: must not contain user "
				     "information");
	assert_int_equal(kt_httpc_get(f->c, NULL, NULL, 0, on_res, &r),
			 KT_ERR_INVALID);
	assert_int_equal(kt_httpc_get(f->c, url(f, "/ok"), crlf, 0, on_res, &r),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_httpc_get(f->c, url(f, "/ok"), noname, 0, on_res, &r),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_httpc_get(f->c, url(f, "/ok"), badname, 0, on_res, &r),
	    KT_ERR_INVALID);
	req.headers = many;
	assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r, &err),
			 KT_ERR_LIMIT);
	assert_string_equal(err.msg, "httpc: more than 32 headers");
	assert_int_equal(
	    kt_httpc_get(f->c, url(f, "/ok"), NULL, -1, on_res, &r),
	    KT_ERR_INVALID);
	assert_int_equal(kt_httpc_get(f->c, url(f, "/ok"), NULL,
				      KT_HTTPC_MAX_TIMEOUT_MS + 1, on_res, &r),
			 KT_ERR_INVALID);
	req.headers = NULL;
	req.post = 1;
	req.body = "x";
	req.body_len = KT_HTTPC_MAX_REQUEST_BODY + 1;
	assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r, &err),
			 KT_ERR_LIMIT);
	req.body_len = 1;
	req.content_type = "text/plain\r\nX: y";
	assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r, &err),
			 KT_ERR_INVALID);
	req.content_type = NULL;
	assert_int_equal(kt_httpc_get(f->c, url(f, "/ok"), NULL, 0, NULL, &r),
			 KT_ERR_INVALID);
	assert_int_equal(r.calls, 0);
	assert_int_equal(kt_httpc_pending(f->c), 0);

	/* Without the dev switch, http:// is refused even to loopback. */
	assert_int_equal(kt_httpc_new(f->base, NULL, &strict, &err), KT_OK);
	assert_int_equal(
	    kt_httpc_get(strict, url(f, "/ok"), NULL, 0, on_res, &r),
	    KT_ERR_INVALID);
	kt_httpc_free(strict);

	/* At the request limit. */
	kt_httpc_free(f->c);
	f->c = client_new(f, two_requests);
	{
		struct res a = {0}, b = {0};
		assert_int_equal(get(f, url(f, "/ok"), 5000, &a), KT_OK);
		assert_int_equal(get(f, url(f, "/ok"), 5000, &b), KT_OK);
		assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r, &err),
				 KT_ERR_BUSY);
		assert_string_equal(err.msg, "httpc: 2 requests in flight");
		run_res(f, &a);
		run_res(f, &b);
		assert_int_equal(get(f, url(f, "/ok"), 5000, &r), KT_OK);
		run_res(f, &r);
	}
}

static void test_new_rejects(void **state)
{
	struct fx *f = *state;
	struct kt_httpc_opts o;
	struct kt_httpc *c = NULL;
	struct kt_error err;

	kt_httpc_opts_default(&o);
	o.max_body = 0;
	assert_int_equal(kt_httpc_new(f->base, &o, &c, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "httpc: max_body must be between 1 and 16777216");
	kt_httpc_opts_default(&o);
	o.connect_timeout_ms = 0;
	assert_int_equal(kt_httpc_new(f->base, &o, &c, &err), KT_ERR_INVALID);
	kt_httpc_opts_default(&o);
	o.max_requests = 0;
	assert_int_equal(kt_httpc_new(f->base, &o, &c, &err), KT_ERR_INVALID);
	kt_httpc_opts_default(&o);
	o.proxy = "";
	assert_int_equal(kt_httpc_new(f->base, &o, &c, &err), KT_ERR_INVALID);
	assert_int_equal(kt_httpc_new(NULL, NULL, &c, &err), KT_ERR_INVALID);
	assert_null(c);
	kt_httpc_free(NULL);
}

/* The environment's proxy settings are ignored. */
static void test_env_proxy_ignored(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	char p[64];

	snprintf(p, sizeof(p), "http://127.0.0.1:%d", test_http_refused_port());
	setenv("http_proxy", p, 1);
	setenv("HTTPS_PROXY", p, 1);
	setenv("ALL_PROXY", p, 1);
	assert_int_equal(get(f, url(f, "/ok"), 5000, &r), KT_OK);
	run_res(f, &r);
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	assert_int_equal(r.rc, KT_OK);
	assert_int_equal(r.status, 200);
}

/* ---- TLS and the address policy ---- */

static const char *ca_path;

static void with_ca(struct kt_httpc_opts *o)
{
	o->ca_file = ca_path;
}

static void with_ca_no_dev(struct kt_httpc_opts *o)
{
	o->ca_file = ca_path;
	o->allow_http_loopback = 0;
}

static void test_tls(void **state)
{
	struct fx *f = *state;
	struct res r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0}, r5 = {0}, r6 = {0};
	struct kt_httpc_req req = {.url = url(f, "/ok"),
				   .flags = KT_HTTPC_PUBLIC_ONLY};

	/* Self-signed and not trusted: refused. */
	assert_int_equal(get(f, url(f, "/ok"), 10000, &r1), KT_OK);
	run_res(f, &r1);
	assert_int_equal(r1.rc, KT_ERR_DENIED);
	assert_int_equal(r1.status, 0);
	assert_int_equal(test_http_hits(f->srv, "/ok"), 0);

	/* Trusted through ca_file. */
	ca_path = f->srv->cert_path;
	kt_httpc_free(f->c);
	f->c = client_new(f, with_ca);
	assert_int_equal(get(f, url(f, "/ok"), 10000, &r2), KT_OK);
	run_res(f, &r2);
	assert_int_equal(r2.rc, KT_OK);
	assert_int_equal(r2.status, 200);

	/* The certificate names localhost too. */
	{
		char u[64];
		snprintf(u, sizeof(u), "https://localhost:%d/ok", f->srv->port);
		assert_int_equal(get(f, u, 10000, &r3), KT_OK);
		run_res(f, &r3);
		assert_int_equal(r3.rc, KT_OK);
	}

	/* KT_HTTPC_PUBLIC_ONLY: loopback allowed only in dev mode. */
	assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r4, NULL),
			 KT_OK);
	run_res(f, &r4);
	assert_int_equal(r4.rc, KT_OK);
	kt_httpc_free(f->c);
	f->c = client_new(f, with_ca_no_dev);
	/* A plain request leaves a connection in curl's pool; the
	 * public-only request must not ride on it. */
	assert_int_equal(get(f, url(f, "/ok"), 10000, &r6), KT_OK);
	run_res(f, &r6);
	assert_int_equal(r6.rc, KT_OK);
	assert_int_equal(kt_httpc_request(f->c, &req, on_res, &r5, NULL),
			 KT_OK);
	run_res(f, &r5);
	assert_int_equal(r5.rc, KT_ERR_DENIED);
	assert_string_equal(r5.body,
			    "connection to a non-public address refused");
	assert_int_equal(test_http_hits(f->srv, "/ok"), 4);
}

/* https to a plain HTTP server: the handshake fails. */
static void test_tls_to_plain(void **state)
{
	struct fx *f = *state;
	struct res r = {0};
	char u[64];

	snprintf(u, sizeof(u), "https://127.0.0.1:%d/ok", f->srv->port);
	assert_int_equal(get(f, u, 5000, &r), KT_OK);
	run_res(f, &r);
	assert_int_equal(r.rc, KT_ERR_UNAVAILABLE);
}

static int is_public(const char *s)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, s, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return kt_httpc_addr_is_public((struct sockaddr *)&s4,
					       sizeof(s4));
	}
	assert_int_equal(inet_pton(AF_INET6, s, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return kt_httpc_addr_is_public((struct sockaddr *)&s6, sizeof(s6));
}

static void test_addr_public(void **state)
{
	static const char *const pub[] = {
	    "8.8.8.8",	    "1.1.1.1",	      "172.32.0.1",
	    "100.128.0.1",  "192.169.0.1",    "2a00:1450:4001::1",
	    "2606:4700::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
	};
	static const char *const priv[] = {
	    "127.0.0.1",
	    "127.1.2.3",
	    "10.0.0.1",
	    "172.16.0.1",
	    "172.31.255.255",
	    "192.168.1.1",
	    "169.254.169.254",
	    "100.64.0.1",
	    "0.0.0.0",
	    "224.0.0.1",
	    "255.255.255.255",
	    "192.0.2.1",
	    "198.18.0.1",
	    "203.0.113.5",
	    "::1",
	    "::",
	    "fe80::1",
	    "fc00::1",
	    "fd12:3456::1",
	    "ff02::1",
	    "::ffff:127.0.0.1",
	    "::ffff:10.0.0.1",
	    "64:ff9b::a00:1",
	    "2002:a00:1::",
	    "2001:db8::1",
	    "2001:0::1",
	    "::127.0.0.1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		if (!is_public(pub[i]))
			fail_msg("%s should be public", pub[i]);
	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		if (is_public(priv[i]))
			fail_msg("%s should not be public", priv[i]);
	assert_false(kt_httpc_addr_is_public(NULL, 0));
}

static void test_url_check(void **state)
{
	struct kt_error err;

	(void)state;
	assert_int_equal(kt_httpc_url_check("https://idp.land.de/.well-known/"
					    "openid-configuration",
					    0, &err),
			 KT_OK);
	assert_int_equal(kt_httpc_url_check("http://127.0.0.1:8080/x", 1, &err),
			 KT_OK);
	assert_int_equal(kt_httpc_url_check("http://127.0.0.1:8080/x", 0, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_httpc_url_check("http://10.0.0.1/x", 1, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_httpc_url_check("https://a/b#frag", 0, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "URL not allowed: must not contain a fragment");
	assert_int_equal(kt_httpc_url_check("https://a/ b", 0, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_httpc_url_check("file:///etc/passwd", 1, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_httpc_url_check("gopher://a/", 1, &err),
			 KT_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_404, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_post_form, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_generic, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_from_callback, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_submit_from_callback, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_proxy_ignored, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_tls, setup_tls, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_to_plain, setup, teardown),
	    cmocka_unit_test(test_addr_public),
	    cmocka_unit_test(test_url_check),
	};

	kt_log_init(KT_LOG_OFF, 2);
	if (getenv("KT_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("KT_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
