/*
 * Back-Channel Logout delivery; the rules are in bclogout.h.
 *
 * A delivery is a small state machine driven by one libevent timer and at
 * most one kt_httpc request at a time:
 *
 *   send ─► timer(0) ─► POST ─► 2xx ─────────────────────► delivered
 *                        │ └──► 4xx, 3xx ────────────────► failed
 *                        └────► retryable ─► timer(backoff) ─► POST ...
 *                                   (attempts exhausted ─► failed)
 *
 * kt_bclogout_free reports and unlinks every delivery; one whose POST is in
 * flight is only marked (q = NULL) and freed by the kt_httpc callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "kontor/bclogout.h"
#include "kontor/http.h"
#include "kontor/log.h"
#include "kontor/util.h"

/* The RP's answer body is of no interest; keep little of it. */
#define ANSWER_MAX_BODY 4096

struct delivery {
	struct delivery *prev, *next;
	struct kt_bclogout *q; /* NULL: abandoned while in flight */
	char *client_id;
	char *uri;
	char *form; /* "logout_token=..." */
	char jti[32];
	unsigned flags; /* KT_HTTPC_* */
	int attempt;	/* attempts started */
	int in_flight;
	long status;
	struct event *timer;
};

struct kt_bclogout {
	struct kt_httpc *c;
	struct event_base *base;
	struct kt_bclogout_opts o;
	struct delivery *head, *tail;
	unsigned n;
	int closing;
	kt_bclogout_observer *observer;
	void *observer_arg;
	struct kt_bclogout_stats st;
};

void kt_bclogout_opts_default(struct kt_bclogout_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_queue = 1024;
	o->max_per_client = 64;
	o->attempts = 3;
	o->retry_base_ms = 5000;
	o->timeout_ms = 5000;
	o->token_ttl_s = 120;
}

/* Delay before attempt number `next` (2, 3, ...), without jitter. */
static int64_t backoff_ms(const struct kt_bclogout_opts *o, int next)
{
	int64_t d = o->retry_base_ms;

	for (int i = 2; i < next; i++)
		d *= 4;
	return d;
}

static int64_t worst_case_ms(const struct kt_bclogout_opts *o)
{
	int64_t t = (int64_t)o->attempts * o->timeout_ms;

	for (int k = 2; k <= o->attempts; k++)
		t += backoff_ms(o, k) * 6 / 5;
	return t;
}

int kt_bclogout_token(const struct kt_client *c, const char *issuer,
		      const struct kt_keyset *keys, const char *sub,
		      const char *sid, int ttl_s, char **out, char jti[32],
		      struct kt_error *err)
{
	json_t *claims = NULL, *events = NULL;
	char *payload = NULL;
	int64_t now = kt_now();
	int rc;

	*out = NULL;
	jti[0] = '\0';
	if (c == NULL || keys == NULL || issuer == NULL || *issuer == '\0')
		return kt_error_set(err, KT_ERR_INVALID,
				    "logout token: missing client, keys or "
				    "issuer");
	if (sub != NULL && *sub == '\0')
		sub = NULL;
	if (sid != NULL && *sid == '\0')
		sid = NULL;
	if (sub == NULL && sid == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "logout token: needs sub or sid");
	if (sid == NULL && c->backchannel_logout_session_required)
		return kt_error_set(err, KT_ERR_INVALID,
				    "logout token: client '%s' requires sid",
				    c->client_id);
	if ((rc = kt_random_token(jti, 32, 16)) != KT_OK)
		return kt_error_set(err, rc, "logout token: no randomness");
	events = json_pack("{s:{}}", KT_BCLOGOUT_EVENT);
	claims =
	    json_pack("{s:s,s:s,s:I,s:I,s:s,s:O}", "iss", issuer, "aud",
		      c->client_id, "iat", (json_int_t)now, "exp",
		      (json_int_t)(now + ttl_s), "jti", jti, "events", events);
	if (events == NULL || claims == NULL ||
	    (sub != NULL &&
	     json_object_set_new(claims, "sub", json_string(sub)) != 0) ||
	    (sid != NULL &&
	     json_object_set_new(claims, "sid", json_string(sid)) != 0) ||
	    (payload = json_dumps(claims, JSON_COMPACT)) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	rc = kt_keyset_sign(keys, c->id_token_alg, KT_BCLOGOUT_TYP, payload,
			    strlen(payload), out, err);
cleanup:
	free(payload);
	json_decref(claims);
	json_decref(events);
	if (rc != KT_OK)
		jti[0] = '\0';
	return rc;
}

static void delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	if (d->timer)
		event_free(d->timer);
	free(d->client_id);
	free(d->uri);
	kt_free_secret(d->form);
	free(d);
}

static void unlink_delivery(struct kt_bclogout *q, struct delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		q->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		q->tail = d->prev;
	d->prev = d->next = NULL;
	q->n--;
}

/* Log the outcome and tell the observer. */
static void report(struct kt_bclogout *q, const struct delivery *d, int rc,
		   const char *why)
{
	struct kt_bclogout_result res = {.client_id = d->client_id,
					 .jti = d->jti,
					 .rc = rc,
					 .attempts = d->attempt,
					 .status = d->status};

	if (rc == KT_OK)
		kt_log_info("back-channel logout delivered to client '%s' "
			    "(jti %s, %d attempt%s, HTTP %ld)",
			    d->client_id, d->jti, d->attempt,
			    d->attempt == 1 ? "" : "s", d->status);
	else
		kt_log_warn("back-channel logout to client '%s' failed (jti "
			    "%s, %d attempt%s, HTTP %ld): %s",
			    d->client_id, d->jti, d->attempt,
			    d->attempt == 1 ? "" : "s", d->status, why);
	if (q->observer != NULL)
		q->observer(&res, q->observer_arg);
}

/* End d: count, report, free. */
static void finish(struct kt_bclogout *q, struct delivery *d, int rc,
		   const char *why)
{
	unlink_delivery(q, d);
	if (rc == KT_OK)
		q->st.delivered++;
	report(q, d, rc, why);
	delivery_free(d);
}

static void schedule(struct delivery *d, int64_t delay_ms)
{
	struct timeval tv = {(time_t)(delay_ms / 1000),
			     (suseconds_t)((delay_ms % 1000) * 1000)};

	evtimer_add(d->timer, &tv);
}

static int64_t jitter(int64_t ms)
{
	uint16_t r = 0;

	/* +-20%: RPs that come back are not hit by every loop at once. */
	if (kt_random_bytes(&r, sizeof(r)) != KT_OK)
		return ms;
	return ms * 4 / 5 + (ms * 2 / 5) * r / 65535;
}

static int retryable(int rc, long status)
{
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_BUSY)
		return 1;
	return rc == KT_OK && (status >= 500 || status == 408 || status == 429);
}

/* After an attempt: deliver, retry or give up. */
static void decide(struct kt_bclogout *q, struct delivery *d, int rc,
		   long status, const char *desc)
{
	char why[160];

	d->status = status;
	/* A 2xx whose body was too long still means "logged out". */
	if ((rc == KT_OK || rc == KT_ERR_LIMIT) && status >= 200 &&
	    status <= 299) {
		finish(q, d, KT_OK, NULL);
		return;
	}
	if (rc != KT_OK)
		snprintf(why, sizeof(why), "%.150s",
			 desc ? desc : kt_strerror(rc));
	else
		snprintf(why, sizeof(why), "HTTP status %ld", status);
	if (retryable(rc, status)) {
		if (d->attempt < q->o.attempts) {
			int64_t delay =
			    jitter(backoff_ms(&q->o, d->attempt + 1));
			kt_log_info("back-channel logout to client '%s': "
				    "attempt %d failed (%s), retrying in "
				    "%lld ms",
				    d->client_id, d->attempt, why,
				    (long long)delay);
			q->st.retries++;
			schedule(d, delay);
			return;
		}
		q->st.failed++;
		finish(q, d, KT_ERR_UNAVAILABLE, why);
		return;
	}
	q->st.failed++;
	if (rc == KT_OK)
		rc = status >= 400 && status <= 499 ? KT_ERR_DENIED
						    : KT_ERR_INVALID;
	finish(q, d, rc, why);
}

static void on_answer(int rc, long status, const char *body, size_t len,
		      void *arg)
{
	struct delivery *d = arg;

	(void)len;
	d->in_flight = 0;
	if (d->q == NULL) {
		delivery_free(d);
		return;
	}
	decide(d->q, d, rc, status, rc != KT_OK ? body : NULL);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	struct kt_bclogout *q = d->q;
	struct kt_httpc_req req = {.url = d->uri,
				   .post = 1,
				   .body = d->form,
				   .body_len = strlen(d->form),
				   .timeout_ms = q->o.timeout_ms,
				   .max_body = ANSWER_MAX_BODY,
				   .flags = d->flags};
	struct kt_error err;
	int rc;

	(void)fd;
	(void)what;
	d->attempt++;
	kt_error_clear(&err);
	rc = kt_httpc_request(q->c, &req, on_answer, d, &err);
	if (rc == KT_OK) {
		d->in_flight = 1;
		return;
	}
	decide(q, d, rc, 0, err.msg[0] ? err.msg : NULL);
}

int kt_bclogout_send(struct kt_bclogout *q, const struct kt_client *c,
		     const char *issuer, const struct kt_keyset *keys,
		     const char *sub, const char *sid)
{
	struct delivery *d = NULL;
	struct evbuffer *form = NULL;
	struct kt_error err;
	char *token = NULL;
	char jti[32];
	unsigned same = 0;
	size_t flen;
	int rc;

	kt_error_clear(&err);
	if (q == NULL || c == NULL)
		return KT_ERR_INVALID;
	if (q->closing)
		return KT_ERR_UNAVAILABLE;
	if (c->backchannel_logout_uri == NULL)
		return KT_ERR_NOTFOUND;
	if ((rc = kt_httpc_check_url(q->c, c->backchannel_logout_uri, &err)) !=
	    KT_OK) {
		kt_log_warn("back-channel logout to client '%s': %s",
			    c->client_id, err.msg);
		return KT_ERR_INVALID;
	}
	if (q->n >= q->o.max_queue) {
		q->st.rejected++;
		kt_log_warn("back-channel logout to client '%s' refused: %u "
			    "deliveries in progress",
			    c->client_id, q->n);
		return KT_ERR_BUSY;
	}
	for (d = q->head; d != NULL; d = d->next)
		same += strcmp(d->client_id, c->client_id) == 0;
	if (same >= q->o.max_per_client) {
		q->st.rejected++;
		kt_log_warn("back-channel logout to client '%s' refused: %u "
			    "deliveries to it in progress",
			    c->client_id, same);
		return KT_ERR_BUSY;
	}
	if ((rc = kt_bclogout_token(c, issuer, keys, sub, sid, q->o.token_ttl_s,
				    &token, jti, &err)) != KT_OK) {
		kt_log_warn_r(rc, "back-channel logout to client '%s': %s",
			      c->client_id, err.msg);
		return rc;
	}
	d = NULL;
	rc = KT_ERR_NOMEM;
	if ((form = evbuffer_new()) == NULL ||
	    evbuffer_add(form, "logout_token=", 13) != 0 ||
	    kt_http_urlencode(form, token) != KT_OK)
		goto cleanup;
	flen = evbuffer_get_length(form);
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->client_id = strdup(c->client_id)) == NULL ||
	    (d->uri = strdup(c->backchannel_logout_uri)) == NULL ||
	    (d->form = malloc(flen + 1)) == NULL ||
	    (d->timer = evtimer_new(q->base, on_timer, d)) == NULL)
		goto cleanup;
	evbuffer_remove(form, d->form, flen);
	d->form[flen] = '\0';
	d->q = q;
	snprintf(d->jti, sizeof(d->jti), "%s", jti);
	/* A registration is untrusted input: it must not point the
	 * gateway at internal services. Config clients may. */
	d->flags = c->dynamic ? KT_HTTPC_PUBLIC_ONLY : 0;
	d->prev = q->tail;
	if (q->tail)
		q->tail->next = d;
	else
		q->head = d;
	q->tail = d;
	q->n++;
	q->st.accepted++;
	/* The first attempt runs on the next loop turn, not on the path of
	 * the request that ended the session. */
	schedule(d, 0);
	d = NULL;
	rc = KT_OK;
cleanup:
	delivery_free(d);
	if (form)
		evbuffer_free(form);
	kt_free_secret(token);
	return rc;
}

int kt_bclogout_new(struct kt_httpc *c, const struct kt_bclogout_opts *opts,
		    struct kt_bclogout **out, struct kt_error *err)
{
	struct kt_bclogout *q;
	struct kt_bclogout_opts def;

	*out = NULL;
	if (opts == NULL) {
		kt_bclogout_opts_default(&def);
		opts = &def;
	}
	if (c == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: no HTTP client");
	if (opts->max_queue < 1 || opts->max_queue > 65536)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: max_queue must be between 1 and "
				    "65536");
	if (opts->max_per_client < 1 || opts->max_per_client > opts->max_queue)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: max_per_client must be between "
				    "1 and max_queue");
	if (opts->attempts < 1 || opts->attempts > 10)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: attempts must be between 1 and "
				    "10");
	if (opts->retry_base_ms < 1 || opts->retry_base_ms > 600000)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: retry_base_ms must be between 1 "
				    "and 600000");
	if (opts->timeout_ms < 1 || opts->timeout_ms > 60000)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: timeout_ms must be between 1 "
				    "and 60000");
	if (opts->token_ttl_s < 10 || opts->token_ttl_s > 600)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: token_ttl_s must be between 10 "
				    "and 600");
	/* Every attempt must send a token that has not expired yet. */
	if (worst_case_ms(opts) >= (int64_t)opts->token_ttl_s * 1000)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bclogout: token_ttl_s %d s is shorter "
				    "than the retry schedule (up to %lld ms)",
				    opts->token_ttl_s,
				    (long long)worst_case_ms(opts));
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	q->c = c;
	q->base = kt_httpc_base(c);
	q->o = *opts;
	*out = q;
	return KT_OK;
}

void kt_bclogout_free(struct kt_bclogout *q)
{
	struct delivery *d;

	if (q == NULL || q->closing)
		return;
	q->closing = 1;
	while ((d = q->head) != NULL) {
		q->st.dropped++;
		unlink_delivery(q, d);
		evtimer_del(d->timer);
		report(q, d, KT_ERR_UNAVAILABLE, "dropped at shutdown");
		/* A POST in flight: its kt_httpc callback frees d. */
		if (d->in_flight)
			d->q = NULL;
		else
			delivery_free(d);
	}
	free(q);
}

void kt_bclogout_set_observer(struct kt_bclogout *q, kt_bclogout_observer *cb,
			      void *arg)
{
	q->observer = cb;
	q->observer_arg = arg;
}

void kt_bclogout_stats(const struct kt_bclogout *q,
		       struct kt_bclogout_stats *st)
{
	*st = q->st;
	st->queued = q->n;
}
