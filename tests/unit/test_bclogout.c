#include <dirent.h>
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

#include "kontor/bclogout.h"
#include "kontor/client.h"
#include "kontor/err.h"
#include "kontor/httpc.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "http_server.h"
#include "rm_dir.h"

#define ISSUER "https://kontor.example.de"
#define SECRET "0123456789abcdef0123456789abcdef"

/* One key set for the whole program: RSA generation is slow. */
static char keys_tmp[64], keys_dir[96];
static struct kt_keyset *keys;

#define MAX_OUT 16

struct fx {
	struct test_http *srv;
	struct event_base *base;
	struct kt_httpc *c;
	struct kt_bclogout *q;
	struct event *watchdog;
	int timed_out;
	int nout;
	struct {
		char client_id[64];
		char jti[32];
		int rc;
		int attempts;
		long status;
		int64_t at_ms;
	} out[MAX_OUT];
};

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;

	f->timed_out = 1;
	event_base_loopbreak(f->base);
}

static void observer(const struct kt_bclogout_result *res, void *arg)
{
	struct fx *f = arg;

	if (f->nout >= MAX_OUT)
		return;
	snprintf(f->out[f->nout].client_id, sizeof(f->out[0].client_id), "%s",
		 res->client_id);
	snprintf(f->out[f->nout].jti, sizeof(f->out[0].jti), "%s", res->jti);
	f->out[f->nout].rc = res->rc;
	f->out[f->nout].attempts = res->attempts;
	f->out[f->nout].status = res->status;
	f->out[f->nout].at_ms = kt_mono_ms();
	f->nout++;
}

static void fast_opts(struct kt_bclogout_opts *o)
{
	kt_bclogout_opts_default(o);
	o->retry_base_ms = 50;
	o->timeout_ms = 10000;
}

static void q_new(struct fx *f, const struct kt_bclogout_opts *o)
{
	struct kt_error err;

	kt_bclogout_free(f->q);
	f->q = NULL;
	assert_int_equal(kt_bclogout_new(f->c, o, &f->q, &err), KT_OK);
	kt_bclogout_set_observer(f->q, observer, f);
}

static struct kt_httpc *httpc_new(struct fx *f, int dev, const char *ca)
{
	struct kt_httpc_opts o;
	struct kt_httpc *c = NULL;
	struct kt_error err;

	kt_httpc_opts_default(&o);
	o.allow_http_loopback = dev;
	o.ca_file = ca;
	o.connect_timeout_ms = 10000; /* TLS under sanitizers is slow */
	assert_int_equal(kt_httpc_new(f->base, &o, &c, &err), KT_OK);
	return c;
}

static int setup_common(void **state, int tls)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kt_bclogout_opts o;
	struct timeval tv = {20, 0};

	f->srv = test_http_start(tls);
	f->base = event_base_new();
	f->watchdog = evtimer_new(f->base, on_watchdog, f);
	evtimer_add(f->watchdog, &tv);
	f->c = httpc_new(f, !tls, NULL);
	fast_opts(&o);
	q_new(f, &o);
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

	kt_bclogout_free(f->q);
	kt_httpc_free(f->c);
	event_free(f->watchdog);
	event_base_free(f->base);
	test_http_stop(f->srv);
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	struct kt_error err;

	(void)state;
	snprintf(keys_tmp, sizeof(keys_tmp), "/tmp/kt-bclogout-XXXXXX");
	if (mkdtemp(keys_tmp) == NULL)
		return -1;
	snprintf(keys_dir, sizeof(keys_dir), "%s/keys", keys_tmp);
	if (kt_keyset_generate(keys_dir, 0, &err) != KT_OK ||
	    kt_keyset_load(keys_dir, 3600, &keys, &err) != KT_OK) {
		fprintf(stderr, "keys: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kt_keyset_free(keys);
	rm_flat(keys_dir);
	rm_flat(keys_tmp);
	return 0;
}

/* A config client (or, with dynamic, one flagged as registered). */
static struct kt_client *client(const char *id, const char *bcl_uri,
				int sid_required, const char *alg)
{
	struct kt_client_policy pol = {.allow_http_loopback = 1};
	struct kt_client *c = NULL;
	struct kt_error err;
	json_t *j =
	    json_pack("{s:s,s:s,s:[s]}", "client_id", id, "client_secret",
		      SECRET, "redirect_uris", "http://127.0.0.1/cb");

	if (bcl_uri != NULL) {
		json_object_set_new(j, "backchannel_logout_uri",
				    json_string(bcl_uri));
		json_object_set_new(j, "backchannel_logout_session_required",
				    json_boolean(sid_required));
	}
	if (alg != NULL)
		json_object_set_new(j, "id_token_signed_response_alg",
				    json_string(alg));
	if (kt_client_from_json(j, NULL, &pol, &c, NULL, &err) != KT_OK)
		fail_msg("client: %s", err.msg);
	json_decref(j);
	return c;
}

static const char *script_url(struct fx *f, const char *name, char *buf,
			      size_t cap)
{
	char path[96];

	snprintf(path, sizeof(path), "/script/%s", name);
	return test_http_url(f->srv, path, buf, cap);
}

static void run_outcomes(struct fx *f, int n)
{
	while (f->nout < n && !f->timed_out)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_false(f->timed_out);
	assert_int_equal(f->nout, n);
}

/* Verify a token with our keys and return its claims (new reference). */
static json_t *verify(const char *token, const char *alg)
{
	json_t *h = NULL, *p = NULL;
	struct kt_error err;

	if (kt_keyset_verify(keys, token, &h, &p, &err) != KT_OK)
		fail_msg("verify: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(h, "typ")),
			    "logout+jwt");
	assert_string_equal(json_string_value(json_object_get(h, "alg")), alg);
	json_decref(h);
	return p;
}

/* The token out of a recorded "logout_token=..." body. */
static char *token_of(struct fx *f, const char *name, int k)
{
	char path[96], *body;

	snprintf(path, sizeof(path), "/script/%s", name);
	body = test_http_body_of(f->srv, path, k);
	assert_non_null(body);
	assert_true(strncmp(body, "logout_token=", 13) == 0);
	memmove(body, body + 13, strlen(body + 13) + 1);
	return body;
}

static void check_claims(json_t *p, const char *aud, const char *sub,
			 const char *sid)
{
	json_t *events, *ev;
	int64_t iat, exp, now = kt_now();

	assert_string_equal(json_string_value(json_object_get(p, "iss")),
			    ISSUER);
	assert_string_equal(json_string_value(json_object_get(p, "aud")), aud);
	iat = json_integer_value(json_object_get(p, "iat"));
	exp = json_integer_value(json_object_get(p, "exp"));
	assert_true(iat <= now && iat >= now - 10);
	assert_int_equal(exp - iat, 120);
	assert_int_equal(strlen(json_string_value(json_object_get(p, "jti"))),
			 22);
	events = json_object_get(p, "events");
	assert_true(json_is_object(events));
	assert_int_equal(json_object_size(events), 1);
	ev = json_object_get(events, KT_BCLOGOUT_EVENT);
	assert_true(json_is_object(ev));
	assert_int_equal(json_object_size(ev), 0);
	if (sub)
		assert_string_equal(
		    json_string_value(json_object_get(p, "sub")), sub);
	else
		assert_null(json_object_get(p, "sub"));
	if (sid)
		assert_string_equal(
		    json_string_value(json_object_get(p, "sid")), sid);
	else
		assert_null(json_object_get(p, "sid"));
	/* Section 2.4: a logout token must not contain a nonce. */
	assert_null(json_object_get(p, "nonce"));
	assert_int_equal(json_object_size(p),
			 6 + (sub != NULL) + (sid != NULL));
}

/* ---- the token ---- */

static void test_token(void **state)
{
	struct kt_client *rs =
	    client("rp-rs", "https://rp.example/bcl", 1, NULL);
	struct kt_client *es =
	    client("rp-es", "https://rp.example/bcl", 0, "ES256");
	char *tok = NULL, jti[32];
	json_t *p;

	(void)state;
	assert_int_equal(kt_bclogout_token(rs, ISSUER, keys, "pairwise-sub",
					   "sid-1", 120, &tok, jti, NULL),
			 KT_OK);
	p = verify(tok, "RS256");
	check_claims(p, "rp-rs", "pairwise-sub", "sid-1");
	assert_string_equal(json_string_value(json_object_get(p, "jti")), jti);
	json_decref(p);
	free(tok);

	/* sub only, for a client that does not require sid; ES256. */
	assert_int_equal(kt_bclogout_token(es, ISSUER, keys, "s2", NULL, 120,
					   &tok, jti, NULL),
			 KT_OK);
	p = verify(tok, "ES256");
	check_claims(p, "rp-es", "s2", NULL);
	json_decref(p);
	free(tok);
	/* sid only. */
	assert_int_equal(kt_bclogout_token(es, ISSUER, keys, "", "sid-9", 120,
					   &tok, jti, NULL),
			 KT_OK);
	p = verify(tok, "ES256");
	check_claims(p, "rp-es", NULL, "sid-9");
	json_decref(p);
	free(tok);
	kt_client_free(rs);
	kt_client_free(es);
}

static void test_token_rejects(void **state)
{
	struct kt_client *rs =
	    client("rp-rs", "https://rp.example/bcl", 1, NULL);
	char *tok = NULL, jti[32];
	struct kt_error err;

	(void)state;
	assert_int_equal(kt_bclogout_token(rs, ISSUER, keys, NULL, NULL, 120,
					   &tok, jti, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "logout token: needs sub or sid");
	assert_int_equal(
	    kt_bclogout_token(rs, ISSUER, keys, "", "", 120, &tok, jti, &err),
	    KT_ERR_INVALID);
	assert_int_equal(kt_bclogout_token(rs, ISSUER, keys, "s", NULL, 120,
					   &tok, jti, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "logout token: client 'rp-rs' requires sid");
	assert_int_equal(
	    kt_bclogout_token(rs, NULL, keys, "s", "x", 120, &tok, jti, &err),
	    KT_ERR_INVALID);
	assert_null(tok);
	assert_string_equal(jti, "");
	kt_client_free(rs);
}

/* ---- delivery ---- */

static void test_delivered(void **state)
{
	struct fx *f = *state;
	static const int st[] = {200};
	char u[128], *tok;
	struct kt_client *c;
	struct kt_bclogout_stats s;
	json_t *p;

	test_http_script(f->srv, "ok", st, 1);
	c = client("rp1", script_url(f, "ok", u, sizeof(u)), 1, NULL);
	assert_int_equal(
	    kt_bclogout_send(f->q, c, ISSUER, keys, "sub-1", "sid-1"), KT_OK);
	/* Nothing happens inside the call. */
	assert_int_equal(kt_httpc_pending(f->c), 0);
	assert_int_equal(f->nout, 0);
	run_outcomes(f, 1);
	assert_int_equal(f->out[0].rc, KT_OK);
	assert_int_equal(f->out[0].attempts, 1);
	assert_int_equal(f->out[0].status, 200);
	assert_string_equal(f->out[0].client_id, "rp1");
	tok = token_of(f, "ok", 0);
	p = verify(tok, "RS256");
	check_claims(p, "rp1", "sub-1", "sid-1");
	assert_string_equal(json_string_value(json_object_get(p, "jti")),
			    f->out[0].jti);
	json_decref(p);
	free(tok);
	kt_bclogout_stats(f->q, &s);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(s.delivered, 1);
	assert_int_equal(s.queued, 0);
	kt_client_free(c);
}

static void test_retry_then_success(void **state)
{
	struct fx *f = *state;
	static const int st[] = {500, 503, 204};
	char u[128], *t0, *t2;
	struct kt_client *c;
	struct kt_bclogout_stats s;

	test_http_script(f->srv, "flaky", st, 3);
	c = client("rp1", script_url(f, "flaky", u, sizeof(u)), 0, NULL);
	assert_int_equal(kt_bclogout_send(f->q, c, ISSUER, keys, "sub-1", NULL),
			 KT_OK);
	run_outcomes(f, 1);
	assert_int_equal(f->out[0].rc, KT_OK);
	assert_int_equal(f->out[0].attempts, 3);
	assert_int_equal(f->out[0].status, 204);
	assert_int_equal(test_http_hits(f->srv, "/script/flaky"), 3);
	/* Every attempt carries the same token. */
	t0 = token_of(f, "flaky", 0);
	t2 = token_of(f, "flaky", 2);
	assert_string_equal(t0, t2);
	free(t0);
	free(t2);
	kt_bclogout_stats(f->q, &s);
	assert_int_equal(s.retries, 2);
	assert_int_equal(s.delivered, 1);
	kt_client_free(c);
}

static void test_give_up(void **state)
{
	struct fx *f = *state;
	static const int st[] = {500};
	char u[128];
	struct kt_client *c;
	struct kt_bclogout_stats s;
	int64_t t0 = kt_mono_ms();

	test_http_script(f->srv, "dead", st, 1);
	c = client("rp1", script_url(f, "dead", u, sizeof(u)), 0, NULL);
	assert_int_equal(kt_bclogout_send(f->q, c, ISSUER, keys, "s", NULL),
			 KT_OK);
	run_outcomes(f, 1);
	assert_int_equal(f->out[0].rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(f->out[0].attempts, 3);
	assert_int_equal(f->out[0].status, 500);
	assert_int_equal(test_http_hits(f->srv, "/script/dead"), 3);
	/* Backoff 50 ms then 200 ms, each +-20%. */
	assert_true(f->out[0].at_ms - t0 >= 200);
	assert_true(f->out[0].at_ms - t0 < 3000);
	kt_bclogout_stats(f->q, &s);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.retries, 2);
	kt_client_free(c);
}

static void test_4xx_not_retried(void **state)
{
	struct fx *f = *state;
	static const int bad[] = {400, 200};
	static const int tm[] = {429, 200};
	static const int moved[] = {302};
	char u1[128], u2[128], u3[128];
	struct kt_client *c1, *c2, *c3;

	test_http_script(f->srv, "bad", bad, 2);
	test_http_script(f->srv, "tm", tm, 2);
	test_http_script(f->srv, "moved", moved, 1);
	c1 = client("rp1", script_url(f, "bad", u1, sizeof(u1)), 0, NULL);
	c2 = client("rp2", script_url(f, "tm", u2, sizeof(u2)), 0, NULL);
	c3 = client("rp3", script_url(f, "moved", u3, sizeof(u3)), 0, NULL);
	assert_int_equal(kt_bclogout_send(f->q, c1, ISSUER, keys, "s", NULL),
			 KT_OK);
	assert_int_equal(kt_bclogout_send(f->q, c2, ISSUER, keys, "s", NULL),
			 KT_OK);
	assert_int_equal(kt_bclogout_send(f->q, c3, ISSUER, keys, "s", NULL),
			 KT_OK);
	run_outcomes(f, 3);
	for (int i = 0; i < 3; i++) {
		if (strcmp(f->out[i].client_id, "rp1") == 0) {
			assert_int_equal(f->out[i].rc, KT_ERR_DENIED);
			assert_int_equal(f->out[i].attempts, 1);
			assert_int_equal(f->out[i].status, 400);
		} else if (strcmp(f->out[i].client_id, "rp2") == 0) {
			/* 429 is "later", not "no". */
			assert_int_equal(f->out[i].rc, KT_OK);
			assert_int_equal(f->out[i].attempts, 2);
		} else {
			assert_int_equal(f->out[i].rc, KT_ERR_INVALID);
			assert_int_equal(f->out[i].attempts, 1);
			assert_int_equal(f->out[i].status, 302);
		}
	}
	assert_int_equal(test_http_hits(f->srv, "/script/bad"), 1);
	assert_int_equal(test_http_hits(f->srv, "/script/moved"), 1);
	kt_client_free(c1);
	kt_client_free(c2);
	kt_client_free(c3);
}

static void test_unreachable_retried(void **state)
{
	struct fx *f = *state;
	char u[64];
	struct kt_client *c;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/bcl",
		 test_http_refused_port());
	c = client("rp1", u, 0, NULL);
	assert_int_equal(kt_bclogout_send(f->q, c, ISSUER, keys, "s", NULL),
			 KT_OK);
	run_outcomes(f, 1);
	assert_int_equal(f->out[0].rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(f->out[0].attempts, 3);
	assert_int_equal(f->out[0].status, 0);
	kt_client_free(c);
}

static void test_bounds(void **state)
{
	struct fx *f = *state;
	static const int st[] = {200};
	struct kt_bclogout_opts o;
	struct kt_bclogout_stats s;
	char u[128];
	struct kt_client *a, *b, *c;

	fast_opts(&o);
	o.max_queue = 3;
	o.max_per_client = 2;
	q_new(f, &o);
	test_http_script(f->srv, "ok", st, 1);
	script_url(f, "ok", u, sizeof(u));
	a = client("rp-a", u, 0, NULL);
	b = client("rp-b", u, 0, NULL);
	c = client("rp-c", u, 0, NULL);
	assert_int_equal(kt_bclogout_send(f->q, a, ISSUER, keys, "s", NULL),
			 KT_OK);
	assert_int_equal(kt_bclogout_send(f->q, a, ISSUER, keys, "s", NULL),
			 KT_OK);
	/* The per-client bound: rp-a cannot take the whole queue. */
	assert_int_equal(kt_bclogout_send(f->q, a, ISSUER, keys, "s", NULL),
			 KT_ERR_BUSY);
	assert_int_equal(kt_bclogout_send(f->q, b, ISSUER, keys, "s", NULL),
			 KT_OK);
	/* The loop's bound. */
	assert_int_equal(kt_bclogout_send(f->q, c, ISSUER, keys, "s", NULL),
			 KT_ERR_BUSY);
	kt_bclogout_stats(f->q, &s);
	assert_int_equal(s.queued, 3);
	assert_int_equal(s.rejected, 2);
	run_outcomes(f, 3);
	/* Room again once delivered. */
	assert_int_equal(kt_bclogout_send(f->q, c, ISSUER, keys, "s", NULL),
			 KT_OK);
	run_outcomes(f, 4);
	kt_client_free(a);
	kt_client_free(b);
	kt_client_free(c);
}

static void test_send_rejects(void **state)
{
	struct fx *f = *state;
	struct kt_client *none = client("rp0", NULL, 0, NULL);
	struct kt_client *req =
	    client("rp1", "http://127.0.0.1:9/bcl", 1, NULL);
	struct kt_bclogout_stats s;

	assert_int_equal(kt_bclogout_send(f->q, none, ISSUER, keys, "s", "x"),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_bclogout_send(f->q, req, ISSUER, keys, "s", NULL),
			 KT_ERR_INVALID);
	assert_int_equal(kt_bclogout_send(f->q, req, ISSUER, keys, NULL, NULL),
			 KT_ERR_INVALID);
	assert_int_equal(kt_bclogout_send(f->q, req, NULL, keys, "s", "x"),
			 KT_ERR_INVALID);
	assert_int_equal(kt_bclogout_send(f->q, NULL, ISSUER, keys, "s", "x"),
			 KT_ERR_INVALID);
	kt_bclogout_stats(f->q, &s);
	assert_int_equal(s.accepted, 0);
	assert_int_equal(s.queued, 0);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->nout, 0);
	kt_client_free(none);
	kt_client_free(req);
}

static void test_free_pending(void **state)
{
	struct fx *f = *state;
	static const int st[] = {500};
	struct kt_bclogout_opts o;
	char u1[128], u2[64];
	int port, fd = test_http_blackhole(&port);
	struct kt_client *a, *b;

	fast_opts(&o);
	o.retry_base_ms = 10000;
	o.timeout_ms = 10000;
	o.token_ttl_s = 600;
	q_new(f, &o);
	test_http_script(f->srv, "dead", st, 1);
	a = client("rp-a", script_url(f, "dead", u1, sizeof(u1)), 0, NULL);
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%d/bcl", port);
	b = client("rp-b", u2, 0, NULL);
	assert_int_equal(kt_bclogout_send(f->q, a, ISSUER, keys, "s", NULL),
			 KT_OK);
	assert_int_equal(kt_bclogout_send(f->q, b, ISSUER, keys, "s", NULL),
			 KT_OK);
	/* rp-a's first attempt fails and waits 10 s; rp-b's hangs. */
	while (test_http_hits(f->srv, "/script/dead") < 1 ||
	       kt_httpc_pending(f->c) != 1) {
		event_base_loop(f->base, EVLOOP_ONCE);
		assert_false(f->timed_out);
	}
	assert_int_equal(f->nout, 0);
	kt_bclogout_free(f->q);
	f->q = NULL;
	assert_int_equal(f->nout, 2);
	assert_string_equal(f->out[0].client_id, "rp-a");
	assert_int_equal(f->out[0].rc, KT_ERR_UNAVAILABLE);
	assert_int_equal(f->out[0].attempts, 1);
	assert_string_equal(f->out[1].client_id, "rp-b");
	assert_int_equal(f->out[1].rc, KT_ERR_UNAVAILABLE);
	/* The abandoned POST ends with the client; nothing is reported. */
	kt_httpc_free(f->c);
	f->c = NULL;
	assert_int_equal(f->nout, 2);
	close(fd);
	kt_client_free(a);
	kt_client_free(b);
}

static void test_opts(void **state)
{
	struct fx *f = *state;
	struct kt_bclogout_opts o;
	struct kt_bclogout *q = NULL;
	struct kt_error err;

	kt_bclogout_opts_default(&o);
	o.token_ttl_s = 30;
	assert_int_equal(kt_bclogout_new(f->c, &o, &q, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "bclogout: token_ttl_s 30 s is shorter "
				     "than the retry schedule (up to 45000 "
				     "ms)");
	kt_bclogout_opts_default(&o);
	o.attempts = 0;
	assert_int_equal(kt_bclogout_new(f->c, &o, &q, &err), KT_ERR_INVALID);
	kt_bclogout_opts_default(&o);
	o.max_per_client = o.max_queue + 1;
	assert_int_equal(kt_bclogout_new(f->c, &o, &q, &err), KT_ERR_INVALID);
	assert_int_equal(kt_bclogout_new(NULL, NULL, &q, &err), KT_ERR_INVALID);
	assert_null(q);
	/* The defaults are consistent. */
	assert_int_equal(kt_bclogout_new(f->c, NULL, &q, &err), KT_OK);
	kt_bclogout_free(q);
	kt_bclogout_free(NULL);
}

/* A registered client's URI must not reach internal addresses. */
static void test_dynamic_public_only(void **state)
{
	struct fx *f = *state;
	static const int st[] = {200};
	char u[128];
	struct kt_client *cfg, *dyn;
	struct kt_bclogout_opts o;

	kt_bclogout_free(f->q);
	f->q = NULL;
	kt_httpc_free(f->c);
	f->c = httpc_new(f, 0, f->srv->cert_path);
	fast_opts(&o);
	q_new(f, &o);
	test_http_script(f->srv, "ok", st, 1);
	script_url(f, "ok", u, sizeof(u));
	assert_true(strncmp(u, "https://127.0.0.1:", 18) == 0);
	cfg = client("rp-cfg", u, 0, NULL);
	dyn = client("rp-dyn", u, 0, NULL);
	dyn->dynamic = 1;
	assert_int_equal(kt_bclogout_send(f->q, cfg, ISSUER, keys, "s", NULL),
			 KT_OK);
	assert_int_equal(kt_bclogout_send(f->q, dyn, ISSUER, keys, "s", NULL),
			 KT_OK);
	run_outcomes(f, 2);
	for (int i = 0; i < 2; i++) {
		if (strcmp(f->out[i].client_id, "rp-cfg") == 0) {
			assert_int_equal(f->out[i].rc, KT_OK);
		} else {
			assert_int_equal(f->out[i].rc, KT_ERR_DENIED);
			assert_int_equal(f->out[i].attempts, 1);
		}
	}
	assert_int_equal(test_http_hits(f->srv, "/script/ok"), 1);
	kt_client_free(cfg);
	kt_client_free(dyn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_token_rejects),
	    cmocka_unit_test_setup_teardown(test_delivered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_then_success, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_give_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_4xx_not_retried, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unreachable_retried, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_opts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dynamic_public_only, setup_tls,
					    teardown),
	};

	kt_log_init(KT_LOG_OFF, 2);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
