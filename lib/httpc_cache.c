/*
 * JSON document cache on top of kt_httpc; see httpc_cache.h for the
 * policy. Everything runs on one loop thread, so there are no locks.
 *
 * Answers never run inside kt_httpc_json_cache_get(): they are queued on
 * `ready` and delivered by one event activated on the loop, at most the
 * number queued when it fired per turn (a callback that asks again is
 * answered in the next turn, so the loop cannot be starved).
 *
 * A fetch in flight holds a struct fetch; freeing the cache sets its jc to
 * NULL and the kt_httpc callback then only frees the fetch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/httpc_cache.h"
#include "kontor/log.h"
#include "kontor/util.h"

#define DAY_MS (24 * 3600 * 1000)
#define HOUR_MS (3600 * 1000)

struct waiter {
	struct waiter *next;
	kt_httpc_json_cb *cb;
	void *arg;
	int rc;
	json_t *doc; /* a reference, once decided */
	char rid[64];
};

struct entry;

struct fetch {
	struct kt_httpc_json_cache *jc; /* NULL: abandoned by _free */
	struct entry *e;
};

struct entry {
	struct entry *prev, *next;
	char *url;
	json_t *doc;
	int64_t fetched_ms; /* monotonic time of doc's fetch */
	int64_t forced_ms;  /* ... of the last forced refresh; 0: none */
	uint64_t used;	    /* jc->clock at the last get: LRU order */
	int err_rc;
	int64_t err_until_ms; /* remembered failure until then */
	struct fetch *fetch;  /* in flight, or NULL */
	struct waiter *wh, *wt;
};

struct kt_httpc_json_cache {
	struct kt_httpc *c;
	struct kt_httpc_json_cache_opts o;
	struct entry *entries;
	unsigned n;
	uint64_t clock;		/* a counter, not time: no ties */
	struct waiter *rh, *rt; /* decided answers, FIFO */
	struct event *deliver;
	int depth;
	int closing;
	struct kt_httpc_json_cache_stats st;
};

void kt_httpc_json_cache_opts_default(struct kt_httpc_json_cache_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ttl_ms = 5 * 60 * 1000;
	o->max_stale_ms = HOUR_MS;
	o->negative_ttl_ms = 10 * 1000;
	o->min_refresh_ms = 30 * 1000;
	o->max_entries = 64;
}

static void set_rid(char dst[64])
{
	const char *rid = kt_log_request_id();

	snprintf(dst, 64, "%s", rid ? rid : "");
}

/* Run one callback with the request id of the call that asked. */
static void waiter_run(struct waiter *w, int rc, json_t *doc)
{
	char prev[64];

	set_rid(prev);
	kt_log_set_request_id(w->rid[0] ? w->rid : NULL);
	w->cb(rc, rc == KT_OK ? doc : NULL, w->arg);
	kt_log_set_request_id(prev[0] ? prev : NULL);
}

static void waiter_free(struct waiter *w)
{
	json_decref(w->doc);
	free(w);
}

static void ready_push(struct kt_httpc_json_cache *jc, struct waiter *w, int rc,
		       json_t *doc)
{
	w->rc = rc;
	w->doc = rc == KT_OK ? json_incref(doc) : NULL;
	w->next = NULL;
	if (jc->rt)
		jc->rt->next = w;
	else
		jc->rh = w;
	jc->rt = w;
	event_active(jc->deliver, EV_TIMEOUT, 0);
}

static struct waiter *ready_pop(struct kt_httpc_json_cache *jc)
{
	struct waiter *w = jc->rh;

	if (w != NULL) {
		jc->rh = w->next;
		if (jc->rh == NULL)
			jc->rt = NULL;
	}
	return w;
}

static void destroy(struct kt_httpc_json_cache *jc)
{
	struct entry *e, *next;

	for (e = jc->entries; e != NULL; e = next) {
		next = e->next;
		if (e->fetch != NULL)
			e->fetch->jc = NULL;
		json_decref(e->doc);
		free(e->url);
		free(e);
	}
	if (jc->deliver)
		event_free(jc->deliver);
	free(jc);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct kt_httpc_json_cache *jc = arg;
	struct waiter *w;
	size_t budget = 0;

	(void)fd;
	(void)what;
	for (w = jc->rh; w != NULL; w = w->next)
		budget++;
	jc->depth++;
	while (!jc->closing && budget-- > 0 && (w = ready_pop(jc)) != NULL) {
		waiter_run(w, w->rc, w->doc);
		waiter_free(w);
	}
	jc->depth--;
	if (jc->closing) {
		if (jc->depth == 0)
			destroy(jc);
		return;
	}
	if (jc->rh != NULL)
		event_active(jc->deliver, EV_TIMEOUT, 0);
}

static struct entry *find(struct kt_httpc_json_cache *jc, const char *url)
{
	for (struct entry *e = jc->entries; e != NULL; e = e->next)
		if (strcmp(e->url, url) == 0)
			return e;
	return NULL;
}

static void entry_remove(struct kt_httpc_json_cache *jc, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		jc->entries = e->next;
	if (e->next)
		e->next->prev = e->prev;
	jc->n--;
	json_decref(e->doc);
	free(e->url);
	free(e);
}

static int usable(const struct kt_httpc_json_cache *jc, const struct entry *e,
		  int64_t now)
{
	return e->doc != NULL &&
	       now - e->fetched_ms < (int64_t)jc->o.ttl_ms + jc->o.max_stale_ms;
}

/* What a failed fetch means for the callers, and a reason for the log. */
static int fetch_error(int rc, long status, const char **why)
{
	if (rc != KT_OK) {
		*why = NULL; /* the kt_httpc description */
		return rc;
	}
	if (status == 404 || status == 410) {
		*why = "not found";
		return KT_ERR_NOTFOUND;
	}
	if (status >= 500 || status == 429) {
		*why = "server error";
		return KT_ERR_UNAVAILABLE;
	}
	*why = "unexpected status";
	return KT_ERR_INVALID;
}

static void on_fetched(int rc, long status, const char *body, size_t len,
		       void *arg)
{
	struct fetch *f = arg;
	struct kt_httpc_json_cache *jc = f->jc;
	struct entry *e = f->e;
	struct waiter *w;
	json_t *doc = NULL;
	json_error_t jerr;
	const char *why = NULL;
	int64_t now = kt_mono_ms();
	int ok;

	free(f);
	if (jc == NULL)
		return;
	e->fetch = NULL;
	ok = rc == KT_OK && status == 200;
	if (ok) {
		doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(doc)) {
			ok = 0;
			rc = KT_ERR_INVALID;
			why = "body is not a JSON object";
		}
	} else {
		rc = fetch_error(rc, status, &why);
	}
	if (ok) {
		json_decref(e->doc);
		e->doc = doc;
		doc = NULL;
		e->fetched_ms = now;
		e->err_until_ms = 0;
		e->err_rc = KT_OK;
	} else {
		jc->st.failures++;
		e->err_rc = rc;
		e->err_until_ms = now + jc->o.negative_ttl_ms;
		if (why != NULL)
			kt_log_warn("httpc cache: fetching %s failed: %s "
				    "(HTTP %ld)",
				    e->url, why, status);
		else
			kt_log_warn("httpc cache: fetching %s failed: %s "
				    "(%s)",
				    e->url, body, kt_strerror(rc));
	}
	json_decref(doc);
	/* A refresh that failed still leaves a usable stale document. */
	while ((w = e->wh) != NULL) {
		e->wh = w->next;
		if (e->wh == NULL)
			e->wt = NULL;
		if (ok || usable(jc, e, now))
			ready_push(jc, w, KT_OK, e->doc);
		else
			ready_push(jc, w, rc, NULL);
	}
}

static int start_fetch(struct kt_httpc_json_cache *jc, struct entry *e)
{
	static const char *const hdrs[] = {"Accept: application/json", NULL};
	struct kt_httpc_req req = {.url = e->url,
				   .headers = hdrs,
				   .timeout_ms = jc->o.timeout_ms,
				   .max_body = jc->o.max_body,
				   .flags = jc->o.flags};
	struct kt_error err;
	struct fetch *f;
	int rc;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return KT_ERR_NOMEM;
	f->jc = jc;
	f->e = e;
	kt_error_clear(&err);
	rc = kt_httpc_request(jc->c, &req, on_fetched, f, &err);
	if (rc != KT_OK) {
		kt_log_warn("httpc cache: cannot fetch %s: %s", e->url,
			    err.msg);
		free(f);
		return rc;
	}
	e->fetch = f;
	jc->st.fetches++;
	return KT_OK;
}

static struct entry *entry_new(struct kt_httpc_json_cache *jc, const char *url,
			       int *rc)
{
	struct entry *e, *victim = NULL;

	if (jc->n >= jc->o.max_entries) {
		/* Least recently used among those without a fetch. */
		for (e = jc->entries; e != NULL; e = e->next)
			if (e->fetch == NULL &&
			    (victim == NULL || e->used < victim->used))
				victim = e;
		if (victim == NULL) {
			*rc = KT_ERR_BUSY;
			return NULL;
		}
		entry_remove(jc, victim);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->url = strdup(url)) == NULL) {
		free(e);
		*rc = KT_ERR_NOMEM;
		return NULL;
	}
	e->next = jc->entries;
	if (jc->entries)
		jc->entries->prev = e;
	jc->entries = e;
	jc->n++;
	return e;
}

static struct waiter *waiter_new(kt_httpc_json_cb *cb, void *arg)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	set_rid(w->rid);
	return w;
}

int kt_httpc_json_cache_get(struct kt_httpc_json_cache *jc, const char *url,
			    unsigned flags, kt_httpc_json_cb *cb, void *arg)
{
	struct entry *e;
	struct waiter *w = NULL;
	int64_t now = kt_mono_ms(), age;
	int force = (flags & KT_HTTPC_JSON_REFRESH) != 0, rc = KT_OK,
	    created = 0;

	if (jc == NULL || url == NULL || cb == NULL)
		return KT_ERR_INVALID;
	if (jc->closing)
		return KT_ERR_UNAVAILABLE;
	if ((w = waiter_new(cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	if ((e = find(jc, url)) == NULL) {
		if ((e = entry_new(jc, url, &rc)) == NULL)
			goto fail;
		created = 1;
	}
	e->used = ++jc->clock;
	if (e->doc != NULL) {
		age = now - e->fetched_ms;
		if ((!force && age < jc->o.ttl_ms) ||
		    (force && e->forced_ms != 0 &&
		     now - e->forced_ms < jc->o.min_refresh_ms &&
		     usable(jc, e, now))) {
			jc->st.hits++;
			ready_push(jc, w, KT_OK, e->doc);
			return KT_OK;
		}
	}
	if (now < e->err_until_ms) {
		/* Failed a moment ago: do not ask the upstream again yet. */
		if (usable(jc, e, now)) {
			jc->st.stale_hits++;
			ready_push(jc, w, KT_OK, e->doc);
		} else {
			jc->st.negative_hits++;
			ready_push(jc, w, e->err_rc, NULL);
		}
		return KT_OK;
	}
	if (!force && usable(jc, e, now)) {
		/* Stale but usable: answer now, refresh behind the scenes
		 * (a refresh that cannot start is logged and retried by the
		 * next request). */
		if (e->fetch == NULL)
			(void)start_fetch(jc, e);
		jc->st.stale_hits++;
		ready_push(jc, w, KT_OK, e->doc);
		return KT_OK;
	}
	if (e->fetch == NULL && (rc = start_fetch(jc, e)) != KT_OK)
		goto fail;
	if (force)
		e->forced_ms = now;
	w->next = NULL;
	if (e->wt)
		e->wt->next = w;
	else
		e->wh = w;
	e->wt = w;
	return KT_OK;
fail:
	if (created)
		entry_remove(jc, e);
	free(w);
	return rc;
}

void kt_httpc_json_cache_invalidate(struct kt_httpc_json_cache *jc,
				    const char *url)
{
	struct entry *e;

	if (jc == NULL || url == NULL || (e = find(jc, url)) == NULL)
		return;
	json_decref(e->doc);
	e->doc = NULL;
	e->err_until_ms = 0;
	e->err_rc = KT_OK;
}

int kt_httpc_json_cache_new(struct kt_httpc *c,
			    const struct kt_httpc_json_cache_opts *opts,
			    struct kt_httpc_json_cache **out,
			    struct kt_error *err)
{
	struct kt_httpc_json_cache *jc;
	struct kt_httpc_json_cache_opts def;

	*out = NULL;
	if (opts == NULL) {
		kt_httpc_json_cache_opts_default(&def);
		opts = &def;
	}
	if (c == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc cache: no client");
	if (opts->ttl_ms < 1 || opts->ttl_ms > 7 * DAY_MS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc cache: ttl_ms must be between 1 and "
				    "%d",
				    7 * DAY_MS);
	if (opts->max_stale_ms < 0 || opts->max_stale_ms > 7 * DAY_MS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc cache: max_stale_ms must be between "
				    "0 and %d",
				    7 * DAY_MS);
	if (opts->negative_ttl_ms < 0 || opts->negative_ttl_ms > HOUR_MS ||
	    opts->min_refresh_ms < 0 || opts->min_refresh_ms > HOUR_MS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc cache: negative_ttl_ms and "
				    "min_refresh_ms must be between 0 and %d",
				    HOUR_MS);
	if (opts->timeout_ms < 0 || opts->timeout_ms > KT_HTTPC_MAX_TIMEOUT_MS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc cache: timeout_ms must be between "
				    "0 and %d",
				    KT_HTTPC_MAX_TIMEOUT_MS);
	if (opts->max_entries < 1 || opts->max_entries > 4096)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc cache: max_entries must be between "
				    "1 and 4096");
	if ((jc = calloc(1, sizeof(*jc))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	jc->c = c;
	jc->o = *opts;
	jc->deliver = event_new(kt_httpc_base(c), -1, 0, on_deliver, jc);
	if (jc->deliver == NULL) {
		free(jc);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	*out = jc;
	return KT_OK;
}

void kt_httpc_json_cache_free(struct kt_httpc_json_cache *jc)
{
	struct waiter *w;

	if (jc == NULL || jc->closing)
		return;
	jc->closing = 1;
	jc->depth++;
	while ((w = ready_pop(jc)) != NULL) {
		waiter_run(w, KT_ERR_UNAVAILABLE, NULL);
		waiter_free(w);
	}
	for (struct entry *e = jc->entries; e != NULL; e = e->next) {
		while ((w = e->wh) != NULL) {
			e->wh = w->next;
			if (e->wh == NULL)
				e->wt = NULL;
			waiter_run(w, KT_ERR_UNAVAILABLE, NULL);
			waiter_free(w);
		}
	}
	jc->depth--;
	if (jc->depth == 0)
		destroy(jc);
}

void kt_httpc_json_cache_stats(const struct kt_httpc_json_cache *jc,
			       struct kt_httpc_json_cache_stats *st)
{
	*st = jc->st;
	st->entries = jc->n;
}
