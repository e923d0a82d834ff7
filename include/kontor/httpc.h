#ifndef KONTOR_HTTPC_H
#define KONTOR_HTTPC_H

/*
 * Asynchronous outbound HTTP(S) for event-loop threads: libcurl's multi
 * interface driven by the loop's libevent base (curl
 * docs/examples/multi-event.c). One struct kt_httpc per loop; it is not
 * thread-safe and every call, and every callback, happens on the thread
 * that runs its base.
 *
 * Rules every request gets, whatever the caller asks for:
 *  - the URL must pass kt_uri_check_redirect(): https, or http only when
 *    allow_http_loopback (dev.allow_http_loopback) is set and the host is
 *    127.0.0.1, [::1] or localhost; no user information, no fragment;
 *  - libcurl may speak only HTTP and HTTPS (CURLOPT_PROTOCOLS_STR) and
 *    follows no redirects (a 3xx is handed to the caller as it is);
 *  - TLS peer and host name verification are always on (system trust
 *    store, or opts.ca_file);
 *  - no proxy unless opts.proxy names one: http_proxy / https_proxy and
 *    friends in the environment are ignored;
 *  - a connect timeout, an overall timeout and a cap on the response body;
 *    responses are not decompressed (no Accept-Encoding is sent);
 *  - with KT_HTTPC_PUBLIC_ONLY, a connection to a loopback, private,
 *    link-local, multicast or otherwise reserved address is refused after
 *    name resolution, at connect time (so DNS rebinding cannot slip past
 *    it). Such a request always opens its own connection (no reuse from
 *    curl's pool either way). Loopback stays allowed when
 *    allow_http_loopback is set (dev). With a proxy configured the proxy
 *    is the egress filter and this check is not made.
 *
 * Name resolution uses libcurl's threaded resolver; kt_httpc_new refuses a
 * libcurl without asynchronous DNS, which would block the loop.
 */

#include <stddef.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "kontor/err.h"

#define KT_HTTPC_DEFAULT_MAX_BODY (256 * 1024)
#define KT_HTTPC_MAX_BODY_LIMIT (16 * 1024 * 1024)
#define KT_HTTPC_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define KT_HTTPC_DEFAULT_TIMEOUT_MS 10000
#define KT_HTTPC_MAX_TIMEOUT_MS 300000
#define KT_HTTPC_DEFAULT_MAX_REQUESTS 256
#define KT_HTTPC_MAX_REQUEST_BODY (64 * 1024)
#define KT_HTTPC_MAX_HEADERS 32

struct kt_httpc;

struct kt_httpc_opts {
	size_t max_body; /* response body cap; 1..KT_HTTPC_MAX_BODY_LIMIT */
	int connect_timeout_ms;	 /* 1..KT_HTTPC_MAX_TIMEOUT_MS */
	int default_timeout_ms;	 /* for requests that pass timeout_ms 0 */
	unsigned max_requests;	 /* in flight at once (KT_ERR_BUSY beyond) */
	int allow_http_loopback; /* dev only, see above */
	const char *proxy;	 /* e.g. "http://proxy:3128"; NULL: none */
	const char *ca_file;	 /* PEM trust anchors; NULL: system store */
	const char *user_agent;	 /* NULL: "kontor/<version>" */
};

/* Fill *opts with the defaults above (no proxy, system trust store). */
void kt_httpc_opts_default(struct kt_httpc_opts *opts);

/*
 * rc: 0 when a complete response arrived, whatever its status; the caller
 * decides what a 404 or 500 means. Otherwise a negative code:
 *   KT_ERR_UNAVAILABLE  connection refused or reset, name not resolved,
 *                       timeout, TLS handshake failure, or the request was
 *                       cancelled by kt_httpc_free
 *   KT_ERR_LIMIT        the response body exceeds the cap
 *   KT_ERR_DENIED       the server's certificate failed verification, or
 *                       KT_HTTPC_PUBLIC_ONLY refused the address
 *   KT_ERR_INVALID      the server's answer is not valid HTTP
 *   KT_ERR_NOMEM, KT_ERR_INTERNAL
 * status: the HTTP status when a response head arrived (also with some
 * errors, e.g. KT_ERR_LIMIT), else 0.
 * body/len: with rc 0 the response body, NUL-terminated (len excludes the
 * NUL; body may contain NULs). With rc < 0 a short NUL-terminated
 * description for logs, e.g. "Operation timed out after 300 milliseconds
 * with 0 bytes received". Valid only during the callback.
 *
 * The callback runs exactly once per accepted request, on the loop thread,
 * never from inside the call that submitted it. It may submit new requests
 * and may call kt_httpc_free. The request id of the submitting thread
 * (kt_log_request_id) is set while it runs.
 */
typedef void kt_httpc_cb(int rc, long status, const char *body, size_t len,
			 void *arg);

/* Request flags. */
#define KT_HTTPC_PUBLIC_ONLY 0x1u /* refuse non-public addresses, above */

struct kt_httpc_req {
	const char *url;
	int post;		    /* 0: GET, 1: POST with body */
	const char *body;	    /* POST body (may be NULL for empty) */
	size_t body_len;	    /* <= KT_HTTPC_MAX_REQUEST_BODY */
	const char *content_type;   /* POST; NULL: form-urlencoded */
	const char *const *headers; /* "Name: value", NULL-terminated; may
				     * be NULL; at most KT_HTTPC_MAX_HEADERS */
	int timeout_ms;		    /* whole request; 0: the default */
	size_t max_body;	    /* 0: opts.max_body; never above it */
	unsigned flags;		    /* KT_HTTPC_* */
};

/*
 * One client for the loop of base; opts NULL means the defaults. Caller
 * frees with kt_httpc_free. KT_ERR_INVALID (err: which option),
 * KT_ERR_UNSUPPORTED (libcurl without asynchronous DNS), KT_ERR_NOMEM,
 * KT_ERR_INTERNAL (libcurl initialisation).
 */
int kt_httpc_new(struct event_base *base, const struct kt_httpc_opts *opts,
		 struct kt_httpc **out, struct kt_error *err);

/*
 * Cancel every pending request and free c; NULL ok. Call it on the loop
 * thread, before event_base_free(base). The callbacks of the pending
 * requests run inside this call, in the order the requests were
 * submitted, with rc KT_ERR_UNAVAILABLE and status 0; new requests made
 * from those callbacks fail with KT_ERR_UNAVAILABLE. When called from
 * inside one of c's callbacks, the remaining callbacks run the same way
 * and the memory is released when that callback returns.
 */
void kt_httpc_free(struct kt_httpc *c);

/*
 * Start a request. 0: cb runs exactly once later. On error cb never runs:
 *   KT_ERR_INVALID      URL not allowed (err: why), header with CR/LF or
 *                       without ':', timeout out of range
 *   KT_ERR_LIMIT        request body or header count above the bounds
 *   KT_ERR_BUSY         opts.max_requests requests are in flight
 *   KT_ERR_UNAVAILABLE  c is being freed
 *   KT_ERR_NOMEM, KT_ERR_INTERNAL
 * err may be NULL. Everything in req is copied.
 */
int kt_httpc_request(struct kt_httpc *c, const struct kt_httpc_req *req,
		     kt_httpc_cb *cb, void *arg, struct kt_error *err);

/* GET url; headers and timeout_ms as in struct kt_httpc_req. */
int kt_httpc_get(struct kt_httpc *c, const char *url,
		 const char *const *headers, int timeout_ms, kt_httpc_cb *cb,
		 void *arg);

/*
 * POST an application/x-www-form-urlencoded body (already encoded, e.g.
 * with kt_http_urlencode), e.g. with "Authorization: Basic ..." in headers.
 */
int kt_httpc_post_form(struct kt_httpc *c, const char *url, const char *body,
		       const char *const *headers, int timeout_ms,
		       kt_httpc_cb *cb, void *arg);

/* Requests in flight (metrics, draining). */
unsigned kt_httpc_pending(const struct kt_httpc *c);

/* The event base c was created for (for modules built on top). */
struct event_base *kt_httpc_base(const struct kt_httpc *c);

/* The URL rule above with c's allow_http_loopback: 0 or KT_ERR_INVALID /
 * KT_ERR_LIMIT with err naming the reason. */
int kt_httpc_check_url(const struct kt_httpc *c, const char *url,
		       struct kt_error *err);

/*
 * The URL rule above, for checking configuration before any request:
 * 0, or KT_ERR_INVALID / KT_ERR_LIMIT with err naming the reason.
 */
int kt_httpc_url_check(const char *url, int allow_http_loopback,
		       struct kt_error *err);

/*
 * 1 if sa is a public unicast address (what KT_HTTPC_PUBLIC_ONLY lets
 * through), 0 for loopback, private (RFC 1918, fc00::/7), shared
 * (100.64/10), link-local, multicast, documentation, benchmarking,
 * unspecified and other reserved ranges. IPv4-mapped, NAT64 and 6to4
 * IPv6 addresses are judged by the IPv4 address they carry.
 */
int kt_httpc_addr_is_public(const struct sockaddr *sa, socklen_t len);

#endif
