/*
 * The gateway's threads, loops and request plumbing.
 *
 * Every loop thread owns an event_base, an evhttp and one Redis connection,
 * and accepts on its own SO_REUSEPORT socket bound to the shared port, so
 * the kernel balances connections and no lock sits on the request path.
 * The main thread only handles signals: SIGHUP builds a new runtime
 * snapshot (clients, keys) off the loops and swaps it in; SIGTERM stops
 * accepting, lets in-flight requests finish (bounded) and exits.
 *
 * Connection limit: libevent 2.1's evhttp has no connection cap, so
 * limits.max_connections becomes the process's file-descriptor limit (plus a
 * reserve for Redis and files). When it is reached, accept() fails with
 * EMFILE and the loop pauses accepting for a moment instead of spinning;
 * waiting connections stay in the kernel's backlog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/crypto.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/http.h"
#include "kontor/log.h"
#include "kontor/metrics.h"
#include "kontor/util.h"

#include "discovery.h"
#include "gateway.h"

#define FD_RESERVE 64
#define DRAIN_MAX_MS 10000
#define ACCEPT_PAUSE_MS 100

/* Runtime snapshots ------------------------------------------------------ */

/*
 * The self-service pages log people in through the same pages and rules
 * as any portal, as a built-in first-party client. It is never returned by
 * kt_client_find, so no outside request can use it.
 */
static int account_client_new(const struct kt_config *cfg,
			      struct kt_client **out, struct kt_error *err)
{
	struct kt_client_policy pol = {0};
	char uri[1100];
	json_t *meta;
	int rc;

	snprintf(uri, sizeof(uri), "%s/account", cfg->issuer);
	pol.allow_http_loopback = cfg->dev_allow_http_loopback;
	meta = json_pack("{s:s,s:s,s:[s],s:[s],s:s,s:s,s:b}", "client_id",
			 KT_ACCOUNT_CLIENT_ID, "client_name", "kontor",
			 "redirect_uris", uri, "grant_types",
			 "authorization_code", "token_endpoint_auth_method",
			 "none", "scope", "openid", "skip_consent", 1);
	if (meta == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	rc = kt_client_from_json(meta, "account client", &pol, out, NULL, err);
	json_decref(meta);
	return rc;
}

int kt_runtime_new(struct kt_config *cfg, struct kt_runtime **out,
		   struct kt_error *err)
{
	struct kt_runtime *rt;
	int64_t retire;
	int rc;

	*out = NULL;
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	atomic_init(&rt->refs, 1);
	rt->cfg = cfg;
	/* A retired key stays published as long as a token it signed can
	 * still be presented (the longest signed-token lifetime). */
	retire = cfg->tokens_access_token_ttl_s > cfg->tokens_id_token_ttl_s
		     ? cfg->tokens_access_token_ttl_s
		     : cfg->tokens_id_token_ttl_s;
	rc = kt_keyset_load(cfg->keys_dir, retire + 60, &rt->keys, err);
	if (rc != KT_OK)
		goto fail;
	if ((rc = account_client_new(cfg, &rt->account_client, err)) !=
	    KT_OK)
		goto fail;
	if ((rt->discovery = kt_discovery_build(cfg)) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM,
				  "cannot build the discovery document");
		goto fail;
	}
	*out = rt;
	return KT_OK;
fail:
	rt->cfg = NULL; /* the caller still owns cfg on failure */
	kt_runtime_release(rt);
	return rc;
}

void kt_runtime_release(struct kt_runtime *rt)
{
	if (rt == NULL || atomic_fetch_sub(&rt->refs, 1) != 1)
		return;
	kt_keyset_free(rt->keys);
	kt_client_free(rt->account_client);
	kt_config_free(rt->cfg);
	free(rt->discovery);
	free(rt);
}

static struct kt_runtime *runtime_acquire(struct kt_gateway *gw)
{
	struct kt_runtime *rt;

	pthread_mutex_lock(&gw->rt_lock);
	rt = gw->rt;
	atomic_fetch_add(&rt->refs, 1);
	pthread_mutex_unlock(&gw->rt_lock);
	return rt;
}

static void runtime_swap(struct kt_gateway *gw, struct kt_runtime *rt)
{
	struct kt_runtime *old;

	pthread_mutex_lock(&gw->rt_lock);
	old = gw->rt;
	rt->generation = old ? old->generation + 1 : 1;
	gw->rt = rt;
	pthread_mutex_unlock(&gw->rt_lock);
	kt_runtime_release(old);
}

/* Metrics ---------------------------------------------------------------- */

#define STATUS_CLASSES 5
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005,
					 0.01,   0.025, 0.05,   0.1,
					 0.25,   0.5,   1,      2.5};
static struct kt_metric *m_requests[64][STATUS_CLASSES];
static struct kt_metric *m_latency[64];
static struct kt_metric *m_unrouted[STATUS_CLASSES];
/* The one gateway of this process, for callbacks without an argument. */
static struct kt_gateway *the_gw;

static size_t route_index(const struct kt_route *rt)
{
	return (size_t)(rt - kt_routes);
}

static double gauge_inflight(void *arg)
{
	struct kt_gateway *gw = arg;
	unsigned n = 0;

	for (unsigned i = 0; i < gw->nloops; i++)
		n += __atomic_load_n(&gw->loops[i].inflight, __ATOMIC_RELAXED);
	return n;
}

static double gauge_pool_queued(void *arg)
{
	struct kt_gateway *gw = arg;
	return gw->pool ? kt_pool_queued(gw->pool) : 0;
}

static double gauge_redis_up(void *arg)
{
	struct kt_gateway *gw = arg;
	unsigned up = 0;

	for (unsigned i = 0; i < gw->nloops; i++)
		up += kt_redis_ready(gw->loops[i].redis) ? 1 : 0;
	return gw->nloops && up == gw->nloops ? 1 : 0;
}

void kt_gateway_metrics_init(void)
{
	static const char *classes[STATUS_CLASSES] = {"1xx", "2xx", "3xx",
						      "4xx", "5xx"};
	char labels[128];

	for (size_t i = 0; kt_routes[i].path != NULL && i < 64; i++) {
		for (int c = 0; c < STATUS_CLASSES; c++) {
			snprintf(labels, sizeof(labels),
				 "endpoint=\"%s\",code=\"%s\"",
				 kt_routes[i].name, classes[c]);
			m_requests[i][c] = kt_metrics_counter(
			    "kontor_http_requests_total",
			    "HTTP requests answered, by endpoint and status "
			    "class.",
			    labels);
		}
		snprintf(labels, sizeof(labels), "endpoint=\"%s\"",
			 kt_routes[i].name);
		m_latency[i] = kt_metrics_histogram(
		    "kontor_http_request_duration_seconds",
		    "Time from request received to response queued.", labels,
		    latency_buckets,
		    sizeof(latency_buckets) / sizeof(latency_buckets[0]));
	}
	for (int c = 0; c < STATUS_CLASSES; c++) {
		snprintf(labels, sizeof(labels),
			 "endpoint=\"other\",code=\"%s\"", classes[c]);
		m_unrouted[c] = kt_metrics_counter(
		    "kontor_http_requests_total",
		    "HTTP requests answered, by endpoint and status class.",
		    labels);
	}
}

static void metrics_gauges_init(struct kt_gateway *gw)
{
	kt_metrics_gauge_fn("kontor_http_requests_in_flight",
			    "Requests being processed.", NULL, gauge_inflight,
			    gw);
	kt_metrics_gauge_fn("kontor_worker_queue_length",
			    "Jobs waiting for a worker thread (password "
			    "hashing).",
			    NULL, gauge_pool_queued, gw);
	kt_metrics_gauge_fn("kontor_redis_up",
			    "1 if every loop's Redis connection is ready.",
			    NULL, gauge_redis_up, gw);
}

/* Requests --------------------------------------------------------------- */

static void req_free(struct kt_req *r)
{
	if (r->h_free != NULL)
		r->h_free(r->h);
	kt_params_free(r->query);
	kt_params_free(r->form);
	kt_client_free(r->dyn_client);
	kt_runtime_release(r->rt);
	free(r);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct kt_req *r = arg;

	(void)evcon;
	/* libevent frees the request with the connection: never touch it. */
	r->gone = 1;
	r->ev = NULL;
}

/*
 * Called right before the reply is queued; returns 0 if the client left.
 * Every answer carries the request id of its access-log line, except the
 * public documents (kt_req_send_document): a shared cache hands the same
 * response to many clients, so an id there would name no request.
 */
static int req_begin_reply_as(struct kt_req *r, int with_rid)
{
	struct evhttp_connection *evcon;

	if (r->gone || r->ev == NULL)
		return 0;
	evcon = evhttp_request_get_connection(r->ev);
	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (with_rid)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
				  "X-Request-Id", r->rid);
	if (atomic_load(&r->loop->gw->draining))
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
				  "Connection", "close");
	return 1;
}

static int req_begin_reply(struct kt_req *r)
{
	return req_begin_reply_as(r, 1);
}

static void req_end(struct kt_req *r, int status)
{
	int64_t ms = kt_mono_ms() - r->start_ms;
	int cls = status / 100 - 1;
	struct kt_loop *loop = r->loop;

	if (cls < 0 || cls >= STATUS_CLASSES)
		cls = STATUS_CLASSES - 1;
	if (r->route != NULL) {
		size_t i = route_index(r->route);
		kt_metric_add(m_requests[i][cls], 1);
		kt_metric_observe(m_latency[i], (double)ms / 1000.0);
	} else if (m_unrouted[cls] != NULL) {
		kt_metric_add(m_unrouted[cls], 1);
	}
	if (kt_log_enabled(KT_LOG_INFO)) {
		kt_log_set_request_id(r->rid);
		kt_log_access(r->method == KT_ROUTE_POST ? "POST" : "GET",
			      r->route ? r->route->path : "-", status,
			      (long long)ms, r->ip, r->gone);
	}
	kt_log_set_request_id(NULL);
	__atomic_sub_fetch(&loop->inflight, 1, __ATOMIC_RELAXED);
	req_free(r);
}

const struct kt_config *kt_req_cfg(const struct kt_req *r)
{
	return r->rt->cfg;
}

struct kt_redis *kt_req_redis(const struct kt_req *r)
{
	return r->loop->redis;
}

const char *kt_req_header(const struct kt_req *r, const char *name)
{
	if (r->ev == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev),
				  name);
}

const struct kt_params *kt_req_params(const struct kt_req *r)
{
	return r->method == KT_ROUTE_POST && r->form ? r->form : r->query;
}

const char *kt_req_param(const struct kt_req *r, const char *name)
{
	const struct kt_params *p = kt_req_params(r);
	return p ? kt_params_get(p, name) : NULL;
}

const char *kt_req_lang(struct kt_req *r)
{
	if (r->lang == NULL)
		r->lang = kt_http_lang_pick(
		    kt_req_param(r, "ui_locales"),
		    kt_req_header(r, "Accept-Language"),
		    kt_req_cfg(r)->ui_default_locale);
	return r->lang;
}

int kt_req_cookie(const struct kt_req *r, const char *name, char *out,
		  size_t cap)
{
	const char *h = kt_req_header(r, "Cookie");
	if (h == NULL)
		return KT_ERR_NOTFOUND;
	return kt_http_cookie_get(h, name, out, cap);
}

int kt_req_session_sid(const struct kt_req *r, char sid[24])
{
	char cookie[128];
	int rc;

	rc = kt_req_cookie(r, kt_req_cfg(r)->session_cookie_name, cookie,
			   sizeof(cookie));
	if (rc != KT_OK)
		return KT_ERR_NOTFOUND;
	/* Redis and logs only ever see the hash of the cookie. */
	kt_token_hash(sid, cookie);
	OPENSSL_cleanse(cookie, sizeof(cookie));
	return KT_OK;
}

void kt_req_csrf(const struct kt_req *r, const char *sid, const char *purpose,
		 char out[48])
{
	const uint8_t *key;
	size_t keylen;
	uint8_t mac[KT_SHA256_LEN];
	char msg[128];

	kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
	snprintf(msg, sizeof(msg), "%s:%s", purpose, sid);
	kt_hmac_sha256(mac, key, keylen, msg, strlen(msg));
	kt_b64url_encode(out, mac, 24);
}

int kt_req_csrf_ok(const struct kt_req *r, const char *sid,
		   const char *purpose, const char *presented)
{
	char want[48];

	kt_req_csrf(r, sid, purpose, want);
	return kt_ct_streq(want, presented);
}

int kt_req_secure(const struct kt_req *r)
{
	return strncmp(kt_req_cfg(r)->issuer, "https://", 8) == 0;
}

void kt_req_add_header(struct kt_req *r, const char *name, const char *value)
{
	if (r->ev != NULL && !r->gone)
		evhttp_add_header(evhttp_request_get_output_headers(r->ev),
				  name, value);
}

void kt_req_send_json(struct kt_req *r, int status, json_t *body)
{
	if (req_begin_reply(r))
		kt_http_send_json(r->ev, status, body);
	else
		json_decref(body);
	req_end(r, status);
}

static void release_runtime(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	kt_runtime_release(arg);
}

void kt_req_send_document(struct kt_req *r, const char *json,
			  int cache_seconds)
{
	int status = 200;

	if (req_begin_reply_as(r, 0)) {
		/* The bytes belong to the runtime: it stays until they are
		 * written, even if a reload replaced it meanwhile. */
		atomic_fetch_add(&r->rt->refs, 1);
		status = kt_http_send_json_ref(r->ev, 200, json, strlen(json),
					       cache_seconds, release_runtime,
					       r->rt);
	}
	req_end(r, status);
}

void kt_req_send_json_str(struct kt_req *r, int status, const char *json,
			  int cache_seconds)
{
	if (req_begin_reply(r))
		kt_http_send_json_str(r->ev, status, json, cache_seconds);
	req_end(r, status);
}

void kt_req_send_oauth_error(struct kt_req *r, int status, const char *error,
			     const char *description)
{
	if (req_begin_reply(r))
		kt_http_send_oauth_error(r->ev, status, error, description);
	req_end(r, status);
}

void kt_req_send_bearer_error(struct kt_req *r, int status, const char *error,
			      const char *description)
{
	if (req_begin_reply(r))
		kt_http_send_bearer_error(r->ev, status, error, description);
	req_end(r, status);
}

void kt_req_send_html(struct kt_req *r, int status, struct evbuffer *body,
		      const char *csp_extra)
{
	if (req_begin_reply(r))
		kt_http_send_html(r->ev, status, body, csp_extra);
	evbuffer_free(body);
	req_end(r, status);
}

void kt_req_send_error_page(struct kt_req *r, int status, const char *error,
			    const char *description)
{
	struct evbuffer *body = evbuffer_new();

	if (body == NULL) {
		kt_req_send_text(r, 500, "text/plain", NULL);
		return;
	}
	kt_html_page_error(body, kt_req_lang(r), status, error, description);
	kt_req_send_html(r, status, body, NULL);
}

void kt_req_send_redirect(struct kt_req *r, int status, const char *location)
{
	if (req_begin_reply(r))
		kt_http_redirect(r->ev, status, location);
	req_end(r, status);
}

void kt_req_send_text(struct kt_req *r, int status, const char *ctype,
		      struct evbuffer *body)
{
	if (req_begin_reply(r)) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
		evhttp_add_header(h, "Content-Type", ctype);
		evhttp_add_header(h, "Cache-Control", "no-store");
		evhttp_send_reply(r->ev, status, kt_http_status_reason(status),
				  body);
	}
	req_end(r, status);
}

void kt_req_send_error(struct kt_req *r, int status, const char *error,
		       const char *description)
{
	if (r->route != NULL && (r->route->flags & KT_ROUTE_BROWSER))
		kt_req_send_error_page(r, status, error, description);
	else
		kt_req_send_oauth_error(r, status, error, description);
}

void kt_req_send_unavailable(struct kt_req *r)
{
	kt_req_add_header(r, "Retry-After", "1");
	kt_req_send_error(r, 503, "temporarily_unavailable",
			  "The service is temporarily unavailable. Please try "
			  "again shortly.");
}

/* Dispatch --------------------------------------------------------------- */

static int parse_params(struct kt_req *r, const char *s, size_t len,
			struct kt_params **out)
{
	struct kt_params_limits lim = KT_PARAMS_LIMITS_DEFAULT;
	struct kt_error err;

	lim.max_params = kt_req_cfg(r)->limits_max_params;
	if (kt_params_parse(s, len, &lim, out, &err) != KT_OK) {
		kt_req_send_error(r, 400, "invalid_request", err.msg);
		return -1;
	}
	return 0;
}

static int read_form(struct kt_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	const char *ctype = kt_req_header(r, "Content-Type");
	size_t len = evbuffer_get_length(in);
	const char *body;

	/* A POST without Content-Type crashed mod_auth_openidc once
	 * (CVE-2021-20718): answer it like any other bad request. */
	if (ctype == NULL ||
	    strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0 ||
	    (ctype[33] != '\0' && ctype[33] != ';')) {
		kt_req_send_error(r, 415, "invalid_request",
				  "Content-Type must be "
				  "application/x-www-form-urlencoded");
		return -1;
	}
	body = (const char *)evbuffer_pullup(in, -1);
	return parse_params(r, body ? body : "", len, &r->form);
}

/* Lower-case hex of v without leading zeros; returns the length. */
static size_t put_hex(char *out, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0, len = 0;

	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v != 0);
	while (n > 0)
		out[len++] = tmp[--n];
	return len;
}

/*
 * "<prefix><loop in hex>-<sequence in hex>": what snprintf("%s%x-%llx")
 * wrote, without its cost on every request (the prefix is 4 characters,
 * and at most 6 are taken: 6 + 8 + 1 + 16 + NUL fit in 32).
 */
static void rid_format(char out[32], const char *prefix, unsigned loop,
		       uint64_t seq)
{
	size_t off = strnlen(prefix, 6);

	memcpy(out, prefix, off);
	off += put_hex(out + off, loop);
	out[off++] = '-';
	off += put_hex(out + off, seq);
	out[off] = '\0';
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct kt_loop *loop = arg;
	struct kt_req *r;
	const struct evhttp_uri *uri;
	const char *path, *query;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		evhttp_send_error(ev, 503, "Service Unavailable");
		return;
	}
	r->ev = ev;
	r->loop = loop;
	r->start_ms = kt_mono_ms();
	r->rt = runtime_acquire(loop->gw);
	rid_format(r->rid, loop->gw->rid_prefix, loop->index, ++loop->seq);
	__atomic_add_fetch(&loop->inflight, 1, __ATOMIC_RELAXED);
	kt_http_client_ip(ev, r->ip, sizeof(r->ip));
	evhttp_connection_set_closecb(evhttp_request_get_connection(ev),
				      on_conn_close, r);
	kt_log_set_request_id(r->rid);

	uri = evhttp_request_get_evhttp_uri(ev);
	path = uri ? evhttp_uri_get_path(uri) : NULL;
	query = uri ? evhttp_uri_get_query(uri) : NULL;
	r->method = cmd == EVHTTP_REQ_POST ? KT_ROUTE_POST : KT_ROUTE_GET;
	if (path == NULL || (r->route = kt_route_find(path)) == NULL) {
		kt_req_send_error_page(r, 404, "not_found", NULL);
		return;
	}
	if ((cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST &&
	     cmd != EVHTTP_REQ_HEAD) ||
	    !(r->route->flags & r->method)) {
		kt_req_add_header(r, "Allow",
				  (r->route->flags & KT_ROUTE_POST)
				      ? ((r->route->flags & KT_ROUTE_GET)
					     ? "GET, POST"
					     : "POST")
				      : "GET");
		kt_req_send_error(r, 405, "invalid_request",
				  "HTTP method not allowed here");
		return;
	}
	if (query != NULL && parse_params(r, query, strlen(query), &r->query))
		return;
	if (r->method == KT_ROUTE_POST && (r->route->flags & KT_ROUTE_FORM) &&
	    read_form(r))
		return;
	r->route->handler(r);
	kt_log_set_request_id(NULL);
}

/* Loops ------------------------------------------------------------------ */

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct kt_loop *loop = NULL;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};

	/* arg is evhttp's; find our loop by its listener. */
	(void)arg;
	for (unsigned i = 0; the_gw && i < the_gw->nloops; i++)
		if (the_gw->loops[i].bound != NULL &&
		    evhttp_bound_socket_get_listener(the_gw->loops[i].bound) ==
			lev)
			loop = &the_gw->loops[i];
	if (loop == NULL)
		return;

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		/* At the connection limit: pause instead of spinning. */
		kt_log_warn("accept: %s; pausing for %d ms", strerror(e),
			    ACCEPT_PAUSE_MS);
		evconnlistener_disable(lev);
		loop->accepting = 0;
		event_add(loop->ctl, &tv);
		return;
	}
	kt_log_warn("accept: %s", strerror(e));
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kt_loop *loop = arg;

	(void)fd;
	(void)what;
	if (__atomic_load_n(&loop->inflight, __ATOMIC_RELAXED) == 0 ||
	    kt_mono_ms() > loop->drain_deadline_ms) {
		if (loop->inflight)
			kt_log_warn("drain: %u requests still in flight at "
				    "the deadline",
				    loop->inflight);
		event_base_loopexit(loop->base, NULL);
	}
}

/* Control event: activated by the main thread (drain) or by the accept
 * pause timer. */
static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct kt_loop *loop = arg;
	struct timeval tick = {0, 50 * 1000};

	(void)fd;
	(void)what;
	if (atomic_load(&loop->gw->draining)) {
		if (loop->bound != NULL) {
			evhttp_del_accept_socket(loop->http, loop->bound);
			loop->bound = NULL;
		}
		if (loop->drain_timer == NULL) {
			loop->drain_deadline_ms = kt_mono_ms() + DRAIN_MAX_MS;
			loop->drain_timer = event_new(
			    loop->base, -1, EV_PERSIST, on_drain_tick, loop);
			if (loop->drain_timer == NULL) {
				event_base_loopexit(loop->base, NULL);
				return;
			}
			event_add(loop->drain_timer, &tick);
		}
		return;
	}
	if (!loop->accepting && loop->bound != NULL) {
		evconnlistener_enable(
		    evhttp_bound_socket_get_listener(loop->bound));
		loop->accepting = 1;
	}
}

static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	kt_log_flush();
}

/* A log line was buffered: write it once the events at hand are handled. */
static void log_wake(void *arg)
{
	event_active(arg, EV_TIMEOUT, 0);
}

static void *loop_main(void *arg)
{
	struct kt_loop *loop = arg;

	kt_log_thread_buffer(log_wake, loop->log_flush);
	event_base_dispatch(loop->base);
	kt_log_thread_buffer(NULL, NULL);
	return NULL;
}

/*
 * Outbound HTTP on the loop (curl multi): the states' providers and the
 * portals' back-channel logout endpoints.
 */
static int loop_outbound_init(struct kt_gateway *gw, struct kt_loop *loop,
			      struct kt_error *err)
{
	const struct kt_config *cfg = gw->boot;
	struct kt_httpc_opts o;
	struct kt_httpc_json_cache_opts jo;
	int rc;

	kt_httpc_opts_default(&o);
	o.allow_http_loopback = cfg->dev_allow_http_loopback;
	o.default_timeout_ms = cfg->federation_timeout_ms;
	if (o.connect_timeout_ms > cfg->federation_timeout_ms)
		o.connect_timeout_ms = cfg->federation_timeout_ms;
	if ((rc = kt_httpc_new(loop->base, &o, &loop->httpc, err)) != KT_OK)
		return rc;
	kt_httpc_json_cache_opts_default(&jo);
	jo.timeout_ms = cfg->federation_timeout_ms;
	if ((rc = kt_httpc_json_cache_new(loop->httpc, &jo, &loop->json_cache,
					  err)) != KT_OK)
		return rc;
	return kt_bclogout_new(loop->httpc, NULL, &loop->bclogout, err);
}

/*
 * A loop's event_base with epoll's changelist: evhttp enables and disables
 * a connection's read and write events several times per request, and
 * the changelist turns those into at most one epoll_ctl per descriptor and
 * loop iteration (about 5% of the CPU of a discovery or token request).
 * libevent's caveat for it, descriptors cloned with dup() and registered
 * twice, does not apply: every descriptor here is registered once
 * (evhttp, the listener, hiredis). bench/floor.c uses the same base.
 */
static struct event_base *loop_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/*
 * The loops' listeners share the port with SO_REUSEPORT, which would just
 * as well let a second kontor-idp (or anything else of the same user that
 * sets it) join the port and silently take part of the traffic. So the
 * port is first bound once without SO_REUSEPORT: that fails while any
 * socket listens there. SO_REUSEADDR still lets us start while old
 * connections of a previous run linger in TIME_WAIT.
 */
static int port_free(const struct sockaddr_in *sin, struct kt_error *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, e;
	char addr[INET_ADDRSTRLEN] = "?";

	if (fd < 0)
		return kt_error_set(err, KT_ERR_IO, "socket: %s",
				    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0) {
		close(fd);
		return KT_OK;
	}
	e = errno;
	close(fd);
	inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
	if (e == EADDRINUSE)
		return kt_error_set(err, KT_ERR_IO,
				    "cannot listen on %s:%d: the port is in "
				    "use (another kontor-idp?)",
				    addr, ntohs(sin->sin_port));
	return kt_error_set(err, KT_ERR_IO, "cannot listen on %s:%d: %s", addr,
			    ntohs(sin->sin_port), strerror(e));
}

static int loop_init(struct kt_gateway *gw, struct kt_loop *loop,
		     unsigned index, struct kt_error *err)
{
	const struct kt_config *cfg = gw->boot;
	struct sockaddr_in sin;
	struct evconnlistener *lev;
	socklen_t slen = sizeof(sin);
	int rc;

	loop->gw = gw;
	loop->index = index;
	if ((loop->base = loop_base_new()) == NULL ||
	    (loop->http = evhttp_new(loop->base)) == NULL ||
	    (loop->ctl = event_new(loop->base, -1, 0, on_ctl, loop)) == NULL ||
	    (loop->log_flush = event_new(loop->base, -1, 0, on_log_flush,
					 loop)) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "cannot create loop");

	evhttp_set_max_headers_size(loop->http, cfg->limits_max_header_size);
	evhttp_set_max_body_size(loop->http, cfg->limits_max_body_size);
	evhttp_set_timeout(loop->http, cfg->limits_timeout_s);
	/* Every method reaches the router, which answers 405 with Allow
	 * (libevent itself would say 501 for a method it filters). */
	evhttp_set_allowed_methods(
	    loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
			    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
			    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
			    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	evhttp_set_default_content_type(loop->http, "text/plain; charset=utf-8");
	evhttp_set_gencb(loop->http, on_request, loop);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)gw->port);
	if (evutil_inet_pton(AF_INET, cfg->listen_address,
			     &sin.sin_addr) != 1)
		return kt_error_set(err, KT_ERR_INVALID,
				    "listen.address '%s' is not an IPv4 address",
				    cfg->listen_address);
	if (index == 0 && gw->port != 0 && (rc = port_free(&sin, err)) != KT_OK)
		return rc;
	lev = evconnlistener_new_bind(
	    loop->base, NULL, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
		LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&sin, sizeof(sin));
	if (lev == NULL)
		return kt_error_set(err, KT_ERR_IO, "cannot listen on %s:%d: %s",
				    cfg->listen_address, gw->port,
				    strerror(errno));
	if (gw->port == 0) {
		/* Port 0 (tests): every other loop joins the port we got. */
		getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&sin,
			    &slen);
		gw->port = ntohs(sin.sin_port);
	}
	if ((loop->bound = evhttp_bind_listener(loop->http, lev)) == NULL) {
		evconnlistener_free(lev);
		return kt_error_set(err, KT_ERR_IO, "cannot bind evhttp");
	}
	evconnlistener_set_error_cb(lev, on_accept_error);
	loop->accepting = 1;

	rc = kt_redis_new(loop->base, &gw->redis_addr,
			  cfg->redis_timeout_ms, &loop->redis);
	if (rc != KT_OK)
		return kt_error_set(err, rc, "cannot create Redis connection");
	return loop_outbound_init(gw, loop, err);
}

static void loop_cleanup(struct kt_loop *loop)
{
	kt_bclogout_free(loop->bclogout);
	kt_httpc_json_cache_free(loop->json_cache);
	kt_httpc_free(loop->httpc);
	kt_redis_free(loop->redis);
	if (loop->drain_timer)
		event_free(loop->drain_timer);
	if (loop->ctl)
		event_free(loop->ctl);
	if (loop->log_flush)
		event_free(loop->log_flush);
	if (loop->http)
		evhttp_free(loop->http);
	if (loop->base)
		event_base_free(loop->base);
	memset(loop, 0, sizeof(*loop));
}

/* Lifecycle -------------------------------------------------------------- */

static void raise_fd_limit(unsigned max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
		kt_log_warn("limits.max_connections %u exceeds the hard file "
			    "limit %llu; capped",
			    max_connections, (unsigned long long)rl.rlim_max);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		kt_log_warn("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
}

int kt_gateway_init(struct kt_gateway *gw, const char *config_path,
		    struct kt_config *cfg, struct kt_error *err)
{
	struct kt_runtime *rt = NULL;
	uint8_t rnd[3];
	long ncpu;
	int rc;

	memset(gw, 0, sizeof(*gw));
	the_gw = gw;
	pthread_mutex_init(&gw->rt_lock, NULL);
	atomic_init(&gw->draining, 0);
	if ((gw->config_path = kt_strdup(config_path)) == NULL && config_path)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	if (evthread_use_pthreads() != 0)
		return kt_error_set(err, KT_ERR_INTERNAL,
				    "libevent without thread support");
	kt_random_bytes(rnd, sizeof(rnd));
	kt_b64url_encode(gw->rid_prefix, rnd, sizeof(rnd));

	gw->redis_addr = cfg->redis;
	/* listen, threads and redis are read from the first runtime's
	 * config for the whole life of the process; gw keeps it referenced. */
	if ((rc = kt_runtime_new(cfg, &rt, err)) != KT_OK)
		return rc;
	gw->boot_rt = rt;
	gw->boot = rt->cfg;
	atomic_fetch_add(&rt->refs, 1);
	runtime_swap(gw, rt);

	raise_fd_limit(cfg->limits_max_connections);
	/* Federation scores unlinked identities with the migration's
	 * profile and model: load them once, share them read-only. */
	if (cfg->n_upstreams > 0 &&
	    (rc = kt_linkage_load(cfg->federation_match_profile,
				  cfg->federation_match_model, &gw->linkage,
				  err)) != KT_OK)
		return rc;
	gw->pool = kt_pool_new(cfg->worker_threads, 1024);
	if (gw->pool == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "cannot start workers");

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	gw->nloops = cfg->threads;
	if (gw->nloops == 0)
		gw->nloops = ncpu > 0 ? (unsigned)ncpu : 1;
	gw->port = cfg->listen_port;
	if ((gw->loops = calloc(gw->nloops, sizeof(*gw->loops))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	for (unsigned i = 0; i < gw->nloops; i++)
		if ((rc = loop_init(gw, &gw->loops[i], i, err)) != KT_OK)
			return rc;
	metrics_gauges_init(gw);
	return KT_OK;
}

static void reload(struct kt_gateway *gw)
{
	struct kt_config *cfg = NULL;
	struct kt_runtime *rt = NULL;
	struct kt_error err;

	kt_error_clear(&err);
	if (gw->config_path == NULL) {
		kt_log_warn("reload: no configuration file to reload");
		return;
	}
	if (kt_config_load_file(gw->config_path, &cfg, &err) != KT_OK) {
		kt_log_error("reload failed, keeping the running "
			     "configuration: %s",
			     err.msg);
		return;
	}
	if (kt_runtime_new(cfg, &rt, &err) != KT_OK) {
		kt_log_error("reload failed, keeping the running "
			     "configuration: %s",
			     err.msg);
		kt_config_free(cfg);
		return;
	}
	runtime_swap(gw, rt);
	kt_log_info("reloaded keys and clients (generation %llu); listen, "
		    "threads and redis settings need a restart",
		    (unsigned long long)rt->generation);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kt_gateway *gw = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(gw);
		return;
	}
	if (atomic_exchange(&gw->draining, 1))
		return;
	kt_log_info("%s: draining in-flight requests",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	for (unsigned i = 0; i < gw->nloops; i++)
		event_active(gw->loops[i].ctl, EV_TIMEOUT, 0);
}

int kt_gateway_run(struct kt_gateway *gw)
{
	struct event_base *base = NULL;
	struct event *sigs[3] = {NULL, NULL, NULL};
	const int signos[3] = {SIGTERM, SIGINT, SIGHUP};
	unsigned started = 0;
	int rc = KT_OK;

	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		return KT_ERR_NOMEM;
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(base, signos[i], on_signal, gw);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0) {
			rc = KT_ERR_INTERNAL;
			goto out;
		}
	}
	for (; started < gw->nloops; started++) {
		if (pthread_create(&gw->loops[started].thread, NULL, loop_main,
				   &gw->loops[started]) != 0) {
			kt_log_error("cannot start loop thread %u", started);
			atomic_store(&gw->draining, 1);
			for (unsigned i = 0; i < started; i++)
				event_active(gw->loops[i].ctl, EV_TIMEOUT, 0);
			rc = KT_ERR_INTERNAL;
			break;
		}
	}
	if (rc == KT_OK) {
		kt_log_info("listening on http://%s:%d/ with %u loop threads "
			    "and %u workers; issuer %s",
			    gw->boot->listen_address, gw->port,
			    gw->nloops, gw->boot->worker_threads,
			    gw->boot->issuer);
		/* Runs until every loop has exited after a drain. */
		while (!atomic_load(&gw->draining))
			event_base_loop(base, EVLOOP_ONCE);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(gw->loops[i].thread, NULL);
	kt_log_info("stopped");
out:
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	event_base_free(base);
	return rc;
}

void kt_gateway_cleanup(struct kt_gateway *gw)
{
	for (unsigned i = 0; gw->loops && i < gw->nloops; i++)
		loop_cleanup(&gw->loops[i]);
	free(gw->loops);
	kt_pool_free(gw->pool);
	kt_linkage_free(gw->linkage);
	kt_runtime_release(gw->boot_rt);
	kt_runtime_release(gw->rt);
	free(gw->config_path);
	pthread_mutex_destroy(&gw->rt_lock);
	memset(gw, 0, sizeof(*gw));
}
