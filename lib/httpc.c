/*
 * Outbound HTTP on an event loop: libcurl's multi "socket" interface with
 * libevent doing the waiting, as in curl docs/examples/multi-event.c.
 *
 *   curl --(socket callback)--> one struct event per socket curl watches
 *   curl --(timer callback)---> one timer per client
 *   libevent fires -> curl_multi_socket_action() -> dispatch(): finished
 *   transfers are taken from curl_multi_info_read() and their callbacks run.
 *
 * User callbacks run only from dispatch() (or kt_httpc_free), never inside
 * a libcurl callback, so they may start new transfers. Freeing the client
 * from inside a user callback is allowed: it sets `closing`, cancels the
 * rest, and the outermost dispatch() releases the memory on its way out
 * (the hiredis adapter's ENTERED/DELETED idea).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kontor/httpc.h"
#include "kontor/log.h"
#include "kontor/uri.h"
#include "kontor/util.h"
#include "kontor/version.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is needed (CURLOPT_PROTOCOLS_STR)"
#endif

struct sock {
	struct sock *prev, *next;
	struct kt_httpc *c;
	curl_socket_t fd;
	struct event *ev;
};

struct request {
	struct request *prev, *next;
	struct kt_httpc *c;
	CURL *easy;
	struct curl_slist *hdrs;
	kt_httpc_cb *cb;
	void *arg;
	char *buf; /* response body, NUL-terminated when non-NULL */
	size_t len, cap, max;
	int plain_http; /* http:// (dev loopback only) */
	int public_only;
	int oversize; /* the body cap was hit */
	int blocked;  /* the connect-time address check refused */
	char errbuf[CURL_ERROR_SIZE];
	char rid[64];
};

struct kt_httpc {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct request *head, *tail;
	struct sock *socks;
	unsigned n;
	int depth;   /* nesting of dispatch() / cancel callbacks */
	int closing; /* kt_httpc_free was called */
	struct kt_httpc_opts opts;
	char *proxy, *ca_file, *user_agent; /* owned copies for opts */
};

/* Global initialisation ----------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	/* Never cleaned up: libcurl lives as long as the process. */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void kt_httpc_opts_default(struct kt_httpc_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_body = KT_HTTPC_DEFAULT_MAX_BODY;
	opts->connect_timeout_ms = KT_HTTPC_DEFAULT_CONNECT_TIMEOUT_MS;
	opts->default_timeout_ms = KT_HTTPC_DEFAULT_TIMEOUT_MS;
	opts->max_requests = KT_HTTPC_DEFAULT_MAX_REQUESTS;
}

int kt_httpc_url_check(const char *url, int allow_http_loopback,
		       struct kt_error *err)
{
	const char *reason = NULL;
	int rc;

	rc = kt_uri_check_redirect(url, allow_http_loopback, &reason);
	if (rc != KT_OK)
		return kt_error_set(err, rc, "URL not allowed: %s",
				    kt_str_or(reason, "invalid"));
	return KT_OK;
}

int kt_httpc_check_url(const struct kt_httpc *c, const char *url,
		       struct kt_error *err)
{
	return kt_httpc_url_check(url, c->opts.allow_http_loopback, err);
}

/* Addresses ------------------------------------------------------------- */

enum addr_class { ADDR_PUBLIC, ADDR_LOOPBACK, ADDR_OTHER };

/* IPv4 ranges that are not public unicast (RFC 6890), besides 127/8. */
static const struct {
	uint32_t net;
	unsigned bits;
} v4_nonpublic[] = {
    {0x00000000, 8},  /* 0/8 "this" network */
    {0x0a000000, 8},  /* 10/8 private */
    {0x64400000, 10}, /* 100.64/10 shared (carrier-grade NAT) */
    {0xa9fe0000, 16}, /* 169.254/16 link-local, cloud metadata */
    {0xac100000, 12}, /* 172.16/12 private */
    {0xc0000000, 24}, /* 192.0.0/24 protocol assignments */
    {0xc0000200, 24}, /* 192.0.2/24 documentation */
    {0xc0a80000, 16}, /* 192.168/16 private */
    {0xc6120000, 15}, /* 198.18/15 benchmarking */
    {0xc6336400, 24}, /* 198.51.100/24 documentation */
    {0xcb007100, 24}, /* 203.0.113/24 documentation */
    {0xe0000000, 3},  /* 224/4 multicast, 240/4 reserved, broadcast */
};

static enum addr_class classify_v4(const uint8_t b[4])
{
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		     (uint32_t)b[2] << 8 | b[3];

	if (b[0] == 127)
		return ADDR_LOOPBACK;
	for (size_t i = 0; i < sizeof(v4_nonpublic) / sizeof(v4_nonpublic[0]);
	     i++) {
		uint32_t mask = ~0u << (32 - v4_nonpublic[i].bits);
		if ((a & mask) == v4_nonpublic[i].net)
			return ADDR_OTHER;
	}
	return ADDR_PUBLIC;
}

static enum addr_class classify_v6(const uint8_t b[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0,
					  0, 0,	   0,	 0,    0, 0};
	static const uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 1};

	if (memcmp(b, loop, 16) == 0)
		return ADDR_LOOPBACK;
	/* Forms that carry an IPv4 address are judged by that address. */
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return classify_v4(b + 12);
	if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 */
		return classify_v4(b + 2);
	/* Only global unicast 2000::/3 is public, minus documentation
	 * 2001:db8::/32 and Teredo 2001::/32 (it tunnels to anywhere). */
	if ((b[0] & 0xe0) != 0x20)
		return ADDR_OTHER;
	if (b[0] == 0x20 && b[1] == 0x01 &&
	    ((b[2] == 0x0d && b[3] == 0xb8) || (b[2] == 0 && b[3] == 0)))
		return ADDR_OTHER;
	return ADDR_PUBLIC;
}

static enum addr_class classify(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return classify_v4((const uint8_t *)&s4->sin_addr);
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return classify_v6(s6->sin6_addr.s6_addr);
	}
	return ADDR_OTHER;
}

int kt_httpc_addr_is_public(const struct sockaddr *sa, socklen_t len)
{
	return sa != NULL && classify(sa, len) == ADDR_PUBLIC;
}

/*
 * Runs for every address curl is about to connect to, after resolution:
 * the only place where the checked address is the one actually used.
 */
static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose,
				   struct curl_sockaddr *a)
{
	struct request *r = clientp;
	const struct kt_httpc *c = r->c;
	enum addr_class k;
	int fd;

	if (purpose == CURLSOCKTYPE_IPCXN && c->opts.proxy == NULL &&
	    (r->plain_http || r->public_only)) {
		k = classify(&a->addr, a->addrlen);
		if ((r->plain_http && k != ADDR_LOOPBACK) ||
		    (r->public_only && k != ADDR_PUBLIC &&
		     !(k == ADDR_LOOPBACK && c->opts.allow_http_loopback))) {
			r->blocked = 1;
			return CURL_SOCKET_BAD;
		}
	}
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* Requests ----------------------------------------------------------------- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct request *r = ud;
	size_t n = size * nmemb, want;
	char *nb;

	if (n > r->max - r->len) {
		/* Returning short makes curl abort with CURLE_WRITE_ERROR. */
		r->oversize = 1;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		want = r->cap * 2;
		if (want < r->len + n + 1)
			want = r->len + n + 1;
		if (want < 1024)
			want = 1024;
		if (want > r->max + 1)
			want = r->max + 1;
		if ((nb = realloc(r->buf, want)) == NULL)
			return 0;
		r->buf = nb;
		r->cap = want;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

static void request_free(struct request *r)
{
	if (r == NULL)
		return;
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->buf);
	free(r);
}

static void request_unlink(struct kt_httpc *c, struct request *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		c->tail = r->prev;
	r->prev = r->next = NULL;
	c->n--;
}

static int map_result(const struct request *r, CURLcode res, const char **msg)
{
	*msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
	if (r->oversize) {
		*msg = "response body exceeds the size limit";
		return KT_ERR_LIMIT;
	}
	if (r->blocked) {
		*msg = r->plain_http ? "http:// is allowed to loopback "
				       "addresses only"
				     : "connection to a non-public address "
				       "refused";
		return KT_ERR_DENIED;
	}
	switch (res) {
	case CURLE_OK:
		return KT_OK;
	case CURLE_FILESIZE_EXCEEDED:
		*msg = "response body exceeds the size limit";
		return KT_ERR_LIMIT;
	case CURLE_OUT_OF_MEMORY:
		return KT_ERR_NOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return KT_ERR_DENIED;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return KT_ERR_INTERNAL;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		return KT_ERR_INVALID;
	default:
		/* Resolve, connect, send, receive, TLS handshake, timeout: the
		 * other side is not there for us right now. */
		return KT_ERR_UNAVAILABLE;
	}
}

/* Run r's callback once and free it; r is already unlinked. */
static void request_finish(struct request *r, int rc, long status,
			   const char *body, size_t len)
{
	char prev[64];
	const char *cur = kt_log_request_id();

	snprintf(prev, sizeof(prev), "%s", cur ? cur : "");
	kt_log_set_request_id(r->rid[0] ? r->rid : NULL);
	r->cb(rc, status, body, len, r->arg);
	kt_log_set_request_id(prev[0] ? prev : NULL);
	request_free(r);
}

static void request_complete(struct kt_httpc *c, struct request *r,
			     CURLcode res)
{
	const char *msg;
	long status = 0;
	int rc;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	rc = map_result(r, res, &msg);
	request_unlink(c, r);
	curl_multi_remove_handle(c->multi, r->easy);
	if (rc == KT_OK)
		request_finish(r, rc, status, r->buf ? r->buf : "", r->len);
	else
		request_finish(r, rc, status, msg, strlen(msg));
}

static void destroy(struct kt_httpc *c)
{
	struct sock *s, *next;

	/* Idle connections in curl's cache close here; curl may or may not
	 * report their sockets through on_socket first. */
	curl_multi_cleanup(c->multi);
	for (s = c->socks; s != NULL; s = next) {
		next = s->next;
		event_free(s->ev);
		free(s);
	}
	if (c->timer)
		event_free(c->timer);
	free(c->proxy);
	free(c->ca_file);
	free(c->user_agent);
	free(c);
}

/* Take finished transfers from curl and run their callbacks. */
static void dispatch(struct kt_httpc *c)
{
	CURLMsg *m;
	int left;

	c->depth++;
	while (!c->closing &&
	       (m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct request *r = NULL;
		CURL *easy = m->easy_handle;
		CURLcode res = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		/* m is invalid once the handle is removed: copied above. */
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
		if (r != NULL)
			request_complete(c, r, res);
	}
	c->depth--;
	if (c->closing && c->depth == 0)
		destroy(c);
}

/* libcurl <-> libevent ------------------------------------------------------
 */

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct sock *s = arg;
	struct kt_httpc *c = s->c; /* s may be freed by socket_action */
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	dispatch(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct kt_httpc *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	dispatch(c);
}

static void sock_free(struct kt_httpc *c, struct sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	event_free(s->ev);
	free(s);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct kt_httpc *c = userp;
	struct sock *s = socketp;
	short events = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(c->multi, fd, NULL);
			sock_free(c, s);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->c = c;
		s->fd = fd;
		if ((s->ev = event_new(c->base, fd, 0, on_sock_event, s)) ==
		    NULL) {
			free(s);
			return -1;
		}
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		curl_multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	event_del(s->ev);
	event_assign(s->ev, c->base, fd, events, on_sock_event, s);
	event_add(s->ev, NULL);
	return 0;
}

static int on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
	struct kt_httpc *c = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	/* 0 means "as soon as possible": the next loop iteration, never
	 * curl_multi_socket_action() from inside this callback. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
	return 0;
}

/* Public API ----------------------------------------------------------------
 */

static int dup_opt(char **dst, const char *src)
{
	if (src == NULL)
		return KT_OK;
	return (*dst = strdup(src)) != NULL ? KT_OK : KT_ERR_NOMEM;
}

int kt_httpc_new(struct event_base *base, const struct kt_httpc_opts *opts,
		 struct kt_httpc **out, struct kt_error *err)
{
	struct kt_httpc *c = NULL;
	struct kt_httpc_opts def;
	const curl_version_info_data *vi;
	int rc;

	*out = NULL;
	if (opts == NULL) {
		kt_httpc_opts_default(&def);
		opts = &def;
	}
	if (base == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: no event base");
	if (opts->max_body < 1 || opts->max_body > KT_HTTPC_MAX_BODY_LIMIT)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: max_body must be between 1 and %d",
				    KT_HTTPC_MAX_BODY_LIMIT);
	if (opts->connect_timeout_ms < 1 ||
	    opts->connect_timeout_ms > KT_HTTPC_MAX_TIMEOUT_MS ||
	    opts->default_timeout_ms < 1 ||
	    opts->default_timeout_ms > KT_HTTPC_MAX_TIMEOUT_MS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: timeouts must be between 1 and %d "
				    "ms",
				    KT_HTTPC_MAX_TIMEOUT_MS);
	if (opts->max_requests < 1 || opts->max_requests > 65536)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: max_requests must be between 1 "
				    "and 65536");
	if (opts->proxy != NULL && *opts->proxy == '\0')
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: proxy must not be empty (NULL "
				    "means none)");

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return kt_error_set(err, KT_ERR_INTERNAL,
				    "httpc: curl_global_init: %s",
				    curl_easy_strerror(curl_init_rc));
	vi = curl_version_info(CURLVERSION_NOW);
	if (vi == NULL || !(vi->features & CURL_VERSION_ASYNCHDNS))
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "httpc: libcurl resolves names "
				    "synchronously, which would block the "
				    "event loop");

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	c->base = base;
	c->opts = *opts;
	if (dup_opt(&c->proxy, opts->proxy) != KT_OK ||
	    dup_opt(&c->ca_file, opts->ca_file) != KT_OK ||
	    dup_opt(&c->user_agent, opts->user_agent) != KT_OK) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	c->opts.proxy = c->proxy;
	c->opts.ca_file = c->ca_file;
	c->opts.user_agent = c->user_agent;
	if ((c->timer = evtimer_new(base, on_timer, c)) == NULL ||
	    (c->multi = curl_multi_init()) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM,
				  "httpc: cannot create the multi handle");
		goto fail;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return KT_OK;
fail:
	if (c != NULL) {
		if (c->multi)
			curl_multi_cleanup(c->multi);
		if (c->timer)
			event_free(c->timer);
		free(c->proxy);
		free(c->ca_file);
		free(c->user_agent);
		free(c);
	}
	return rc;
}

void kt_httpc_free(struct kt_httpc *c)
{
	struct request *r;

	if (c == NULL || c->closing)
		return;
	c->closing = 1;
	c->depth++;
	/* FIFO, one at a time: a callback cannot add to the list (closing)
	 * but the list must be consistent whenever one runs. */
	while ((r = c->head) != NULL) {
		request_unlink(c, r);
		curl_multi_remove_handle(c->multi, r->easy);
		request_finish(r, KT_ERR_UNAVAILABLE, 0,
			       "request cancelled: client shut down",
			       strlen("request cancelled: client shut down"));
	}
	c->depth--;
	if (c->depth == 0)
		destroy(c);
}

static int header_ok(const char *h)
{
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h)
		return 0;
	for (const char *p = h; p < colon; p++) {
		unsigned char ch = (unsigned char)*p;
		/* RFC 9110 token characters. */
		if (ch <= 0x20 || ch >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", ch) != NULL)
			return 0;
	}
	/* CR or LF would let a value smuggle in more headers. */
	return strpbrk(colon, "\r\n") == NULL;
}

static int add_header(struct request *r, const char *h)
{
	struct curl_slist *n = curl_slist_append(r->hdrs, h);

	if (n == NULL)
		return KT_ERR_NOMEM;
	r->hdrs = n;
	return KT_OK;
}

#define SETOPT(e, o, v) (curl_easy_setopt((e), (o), (v)) == CURLE_OK ? 0 : 1)

static int setup_easy(struct kt_httpc *c, struct request *r,
		      const struct kt_httpc_req *req, int timeout_ms)
{
	CURL *e = r->easy;
	int bad = 0;
	long connect_ms = c->opts.connect_timeout_ms < timeout_ms
			      ? c->opts.connect_timeout_ms
			      : timeout_ms;

	bad |= SETOPT(e, CURLOPT_URL, req->url);
	bad |= SETOPT(e, CURLOPT_PROTOCOLS_STR,
		      c->opts.allow_http_loopback ? "http,https" : "https");
	bad |= SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	bad |= SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	bad |= SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
	bad |= SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->opts.ca_file != NULL)
		bad |= SETOPT(e, CURLOPT_CAINFO, c->opts.ca_file);
	/* "" disables proxies, including those from the environment. */
	bad |= SETOPT(e, CURLOPT_PROXY, kt_str_or(c->opts.proxy, ""));
	if (c->opts.proxy != NULL)
		bad |= SETOPT(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	bad |= SETOPT(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	bad |= SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	/* Refuses early when Content-Length announces too much; on_write
	 * enforces the cap for chunked or lying responses. */
	bad |= SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max);
	bad |= SETOPT(e, CURLOPT_WRITEFUNCTION, on_write);
	bad |= SETOPT(e, CURLOPT_WRITEDATA, r);
	bad |= SETOPT(e, CURLOPT_ERRORBUFFER, r->errbuf);
	bad |= SETOPT(e, CURLOPT_PRIVATE, r);
	bad |= SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	bad |= SETOPT(e, CURLOPT_OPENSOCKETDATA, r);
	if (r->public_only) {
		/* The address check runs when a socket is opened: a pooled
		 * connection that another request opened to an internal
		 * address must not be reused, nor this one by others. */
		bad |= SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
		bad |= SETOPT(e, CURLOPT_FORBID_REUSE, 1L);
	}
	bad |= SETOPT(e, CURLOPT_USERAGENT,
		      kt_str_or(c->opts.user_agent, "kontor/" KT_VERSION));
	if (req->post) {
		bad |= SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE,
			      (curl_off_t)req->body_len);
		bad |= SETOPT(e, CURLOPT_COPYPOSTFIELDS,
			      req->body ? req->body : "");
	} else {
		bad |= SETOPT(e, CURLOPT_HTTPGET, 1L);
	}
	if (r->hdrs != NULL)
		bad |= SETOPT(e, CURLOPT_HTTPHEADER, r->hdrs);
	return bad ? KT_ERR_INTERNAL : KT_OK;
}

int kt_httpc_request(struct kt_httpc *c, const struct kt_httpc_req *req,
		     kt_httpc_cb *cb, void *arg, struct kt_error *err)
{
	struct request *r = NULL;
	const char *rid;
	int timeout_ms, rc;
	size_t nh = 0;
	char ct[160];

	if (c == NULL || req == NULL || cb == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: missing argument");
	if (c->closing)
		return kt_error_set(err, KT_ERR_UNAVAILABLE,
				    "httpc: client is shutting down");
	if ((rc = kt_httpc_url_check(req->url, c->opts.allow_http_loopback,
				     err)) != KT_OK)
		return rc;
	timeout_ms =
	    req->timeout_ms ? req->timeout_ms : c->opts.default_timeout_ms;
	if (timeout_ms < 1 || timeout_ms > KT_HTTPC_MAX_TIMEOUT_MS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: timeout must be between 1 and %d "
				    "ms",
				    KT_HTTPC_MAX_TIMEOUT_MS);
	if (req->post && req->body_len > KT_HTTPC_MAX_REQUEST_BODY)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "httpc: request body over %d bytes",
				    KT_HTTPC_MAX_REQUEST_BODY);
	if (req->post && req->body == NULL && req->body_len != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "httpc: body_len without body");
	for (; req->headers != NULL && req->headers[nh] != NULL; nh++) {
		if (nh == KT_HTTPC_MAX_HEADERS)
			return kt_error_set(err, KT_ERR_LIMIT,
					    "httpc: more than %d headers",
					    KT_HTTPC_MAX_HEADERS);
		if (!header_ok(req->headers[nh]))
			return kt_error_set(err, KT_ERR_INVALID,
					    "httpc: header %zu is not "
					    "'Name: value' on one line",
					    nh);
	}
	if (req->post && req->content_type != NULL) {
		int n = snprintf(ct, sizeof(ct), "Content-Type: %s",
				 req->content_type);
		if (n < 0 || (size_t)n >= sizeof(ct) || !header_ok(ct))
			return kt_error_set(err, KT_ERR_INVALID,
					    "httpc: bad content type");
	}
	if (c->n >= c->opts.max_requests)
		return kt_error_set(err, KT_ERR_BUSY,
				    "httpc: %u requests in flight",
				    c->opts.max_requests);

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	r->c = c;
	r->cb = cb;
	r->arg = arg;
	r->max = c->opts.max_body;
	if (req->max_body != 0 && req->max_body < r->max)
		r->max = req->max_body;
	r->plain_http = strncasecmp(req->url, "http:", 5) == 0;
	r->public_only = (req->flags & KT_HTTPC_PUBLIC_ONLY) != 0;
	if ((rid = kt_log_request_id()) != NULL)
		snprintf(r->rid, sizeof(r->rid), "%s", rid);
	for (size_t i = 0; i < nh; i++)
		if (add_header(r, req->headers[i]) != KT_OK) {
			rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto fail;
		}
	if (req->post) {
		/* No "Expect: 100-continue" round trip for small bodies. */
		if (add_header(r, "Expect:") != KT_OK ||
		    add_header(r, req->content_type
				      ? ct
				      : "Content-Type: "
					"application/x-www-form-urlencoded") !=
			KT_OK) {
			rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	if ((r->easy = curl_easy_init()) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "httpc: curl_easy_init");
		goto fail;
	}
	if ((rc = setup_easy(c, r, req, timeout_ms)) != KT_OK) {
		kt_error_set(err, rc, "httpc: cannot set transfer options");
		goto fail;
	}
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
		rc = kt_error_set(err, KT_ERR_INTERNAL,
				  "httpc: curl_multi_add_handle failed");
		goto fail;
	}
	r->prev = c->tail;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->n++;
	return KT_OK;
fail:
	request_free(r);
	return rc;
}

int kt_httpc_get(struct kt_httpc *c, const char *url,
		 const char *const *headers, int timeout_ms, kt_httpc_cb *cb,
		 void *arg)
{
	struct kt_httpc_req req = {
	    .url = url, .headers = headers, .timeout_ms = timeout_ms};

	return kt_httpc_request(c, &req, cb, arg, NULL);
}

int kt_httpc_post_form(struct kt_httpc *c, const char *url, const char *body,
		       const char *const *headers, int timeout_ms,
		       kt_httpc_cb *cb, void *arg)
{
	struct kt_httpc_req req = {.url = url,
				   .post = 1,
				   .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .headers = headers,
				   .timeout_ms = timeout_ms};

	return kt_httpc_request(c, &req, cb, arg, NULL);
}

unsigned kt_httpc_pending(const struct kt_httpc *c)
{
	return c != NULL ? c->n : 0;
}

struct event_base *kt_httpc_base(const struct kt_httpc *c)
{
	return c->base;
}
