#ifndef KONTOR_HTTP_H
#define KONTOR_HTTP_H

/*
 * HTTP helpers for the endpoint handlers, on libevent 2.1 evhttp: parsing
 * of request headers we make decisions on (Cookie, Authorization,
 * Accept-Language), response helpers that set the security headers every
 * response of an identity provider needs, and URL building for
 * authorization responses.
 *
 * Every kt_http_send_* and kt_http_redirect call ends the request: it
 * calls evhttp_send_reply exactly once, also when something fails inside
 * (then the client gets a bare 500), so a handler never has to send a
 * fallback itself.
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

/* Realm in WWW-Authenticate challenges. */
#define KT_HTTP_REALM "kontor"

/* Longest Cookie header we look into; longer ones are KT_ERR_LIMIT. */
#define KT_HTTP_COOKIE_HEADER_MAX 16384

/*
 * Value of cookie name from a Cookie request header into out (outcap
 * bytes, terminator included). The first cookie with that exact
 * (case-sensitive) name wins: browsers send the most specific path first,
 * and __Host- prefixed names keep subdomains from planting a competing
 * one. A value in double quotes is returned without them.
 *
 * One pass, no allocation, no recursion, whatever the number of cookies.
 * KT_ERR_NOTFOUND: no header or no such cookie; KT_ERR_LIMIT: header
 * longer than KT_HTTP_COOKIE_HEADER_MAX or value does not fit;
 * KT_ERR_INVALID: bad arguments, or the value has bytes outside RFC 6265
 * cookie-octet (controls, space, '"', ',', ';', '\\', non-ASCII). out is
 * an empty string on every failure.
 */
int kt_http_cookie_get(const char *cookie_header, const char *name, char *out,
		       size_t outcap);

/* Bounds of the Authorization header and its parts (bytes, decoded). */
#define KT_HTTP_AUTH_HEADER_MAX 8192
#define KT_HTTP_AUTH_ID_MAX 255
#define KT_HTTP_AUTH_SECRET_MAX 255
#define KT_HTTP_AUTH_TOKEN_MAX 4096

enum kt_http_auth_type {
	KT_HTTP_AUTH_NONE = 0,
	KT_HTTP_AUTH_BASIC,
	KT_HTTP_AUTH_BEARER,
};

/*
 * A parsed Authorization header. Fixed-size so parsing never allocates;
 * about 4.6 KiB, fine on the stack. Wipe with kt_http_auth_clear.
 */
struct kt_http_auth {
	enum kt_http_auth_type type;
	char client_id[KT_HTTP_AUTH_ID_MAX + 1];  /* Basic */
	char secret[KT_HTTP_AUTH_SECRET_MAX + 1]; /* Basic, may be "" */
	char token[KT_HTTP_AUTH_TOKEN_MAX + 1];	  /* Bearer */
};

/*
 * Parse an Authorization header value (NULL or "" -> type NONE, 0).
 * The scheme is case-insensitive, followed by one or more spaces.
 *  - Basic: standard base64 of "id:secret", split at the first ':', then
 *    each part form-url-decoded (RFC 6749 §2.3.1), so a secret may
 *    contain ':' (encoded or not). client_id must not be empty.
 *  - Bearer: the token must match RFC 6750 b64token
 *    1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
 * Returns 0; KT_ERR_UNSUPPORTED for another scheme; KT_ERR_INVALID for a
 * malformed value; KT_ERR_LIMIT if the header or a part is too long. On
 * failure *out is cleared (type NONE).
 */
int kt_http_auth_parse(const char *authorization, struct kt_http_auth *out);
/*
 * An empty value (type NONE): what kt_http_auth_clear() needs to find.
 * Cheaper than zeroing the whole struct, most of which is the 4 KiB token
 * buffer. kt_http_auth_parse() starts with it.
 */
void kt_http_auth_init(struct kt_http_auth *a);

/* Wipe secret and token (OPENSSL_cleanse) and reset to NONE, for a value
 * made by kt_http_auth_init() or kt_http_auth_parse(). NULL ok. */
void kt_http_auth_clear(struct kt_http_auth *a);

/*
 * "de" or "en" for the pages. ui_locales (OIDC, space-separated, in order
 * of preference) wins; then Accept-Language by q-value (ties: first
 * listed, q=0 excluded); then fallback if it is "de" or "en"; else "en".
 * Matching is on the primary subtag, case-insensitive: "de-DE", "de-AT",
 * "DE-ch" are German. Any argument may be NULL. Returns a static string.
 */
const char *kt_http_lang_pick(const char *ui_locales,
			      const char *accept_language,
			      const char *fallback);

/*
 * JSON response: Content-Type application/json; charset=utf-8,
 * Cache-Control: no-store, Pragma: no-cache. Steals the reference to body
 * (also on failure); body NULL sends a 500 server_error.
 */
void kt_http_send_json(struct evhttp_request *req, int status, json_t *body);

/*
 * Pre-serialised JSON (discovery document, JWKS). cache_seconds > 0 adds
 * Cache-Control: public, max-age=N; 0 sends no-store like
 * kt_http_send_json. json is copied.
 */
void kt_http_send_json_str(struct evhttp_request *req, int status,
			   const char *json, int cache_seconds);

/*
 * The same for JSON that is not copied: libevent writes len bytes straight
 * from json and calls release(json, len, arg) once it no longer needs them
 * (sent, or the connection gone), also when sending fails here. For the
 * documents the gateway keeps for many responses (discovery, JWKS).
 * Returns the status sent: status, or 500 if the bytes could not be queued.
 */
typedef void kt_http_release_fn(const void *data, size_t len, void *arg);
int kt_http_send_json_ref(struct evhttp_request *req, int status,
			  const char *json, size_t len, int cache_seconds,
			  kt_http_release_fn *release, void *arg);

/*
 * RFC 6749 §5.2 error response {"error": ..., "error_description": ...}
 * (description optional; characters outside %x20-21 / %x23-5B / %x5D-7E
 * are replaced by '?' as §5.2 requires). Status 401 adds
 * WWW-Authenticate: Basic realm="kontor" (the invalid_client case of a
 * client that tried HTTP Basic, §5.2).
 */
void kt_http_send_oauth_error(struct evhttp_request *req, int status,
			      const char *error, const char *description);

/*
 * RFC 6750 §3 error for protected resources (UserInfo):
 * WWW-Authenticate: Bearer realm="kontor", error="...",
 * error_description="..." (same character filter). error NULL means the
 * request had no credentials: the challenge then carries only the realm
 * (§3.1) and there is no body. Otherwise the body is {"error": ...} only.
 */
void kt_http_send_bearer_error(struct evhttp_request *req, int status,
			       const char *error, const char *description);

/*
 * HTML page with the security headers: Content-Security-Policy (below),
 * X-Frame-Options: DENY, X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer, Cache-Control: no-store, Pragma: no-cache.
 *
 * The policy is
 *   default-src 'none'; style-src <hash of the kt_html stylesheet>;
 *   form-action 'self'; frame-ancestors 'none'; base-uri 'none'
 * csp_extra (may be NULL) holds more directives ("script-src 'sha256-..';
 * form-action https://rp.example"): sources of a directive already in the
 * policy are appended to it (replacing a lone 'none'), other directives
 * are added. A csp_extra with anything but printable ASCII, or with ','
 * or '"', or too long, is ignored (and logged) rather than risk a header
 * injection.
 *
 * A page whose form leads to a redirect to a client must add that client
 * to form-action (kt_html_csp_form_action): Chrome and Safari apply
 * form-action to the redirects that follow a submission.
 *
 * body (may be NULL) is drained; the caller still owns and frees it.
 */
void kt_http_send_html(struct evhttp_request *req, int status,
		       struct evbuffer *body, const char *csp_extra);

/*
 * Redirect with Location, Referrer-Policy: no-referrer (the authorization
 * response carries the code in the query), Cache-Control: no-store.
 * status must be 302 or 303; anything else is sent as 302. A location
 * with control characters or spaces is a bug upstream: a 500 is sent
 * instead.
 */
void kt_http_redirect(struct evhttp_request *req, int status,
		      const char *location);

enum kt_cookie_samesite {
	KT_COOKIE_SAMESITE_LAX = 0,
	KT_COOKIE_SAMESITE_STRICT,
	KT_COOKIE_SAMESITE_NONE, /* needs secure */
};

struct kt_cookie_opts {
	const char *path; /* NULL: "/" */
	int64_t max_age;  /* seconds; <= 0: session cookie */
	int http_only;
	int secure;
	enum kt_cookie_samesite same_site;
};

/* Path=/, session, HttpOnly, Secure, SameSite=Lax. */
#define KT_COOKIE_OPTS_DEFAULT                                                 \
	{                                                                      \
		"/", 0, 1, 1, KT_COOKIE_SAMESITE_LAX                           \
	}

/*
 * Add a Set-Cookie header (several may be added). name must be an
 * RFC 7230 token; value only cookie-octets (no ';', ',', space, '"', '\\',
 * controls, non-ASCII; may be empty); path printable ASCII without ';'.
 * Prefixes are enforced: "__Secure-" needs secure, "__Host-" needs secure
 * and path "/". SameSite=None needs secure. opts NULL: defaults.
 * KT_ERR_INVALID (nothing added) or 0.
 */
int kt_http_set_cookie(struct evhttp_request *req, const char *name,
		       const char *value, const struct kt_cookie_opts *opts);

/*
 * Expire a cookie: empty value, Max-Age=0 and an Expires in the past, with
 * the same path/secure/same_site as when it was set (opts NULL: defaults).
 */
int kt_http_clear_cookie(struct evhttp_request *req, const char *name,
			 const struct kt_cookie_opts *opts);

/*
 * Percent-encode s for a query component: RFC 3986 unreserved characters
 * (ALPHA DIGIT - . _ ~) are kept, every other byte becomes %XX (upper
 * case). 0 or KT_ERR_NOMEM.
 */
int kt_http_urlencode(struct evbuffer *out, const char *s);

/*
 * base with npairs name=value pairs appended to its query: kv is
 * {name0, value0, name1, value1, ...}; pairs with a NULL value are
 * skipped. Uses '?' or, if base already has a query, '&'. base must not
 * have a fragment (redirect URIs cannot, RFC 6749 §3.1.2): NULL then, or
 * when out of memory. Caller frees with free().
 */
char *kt_http_url_add_params(const char *base, const char *const *kv,
			     size_t npairs);

/*
 * Numeric address of the TCP peer ("192.0.2.1", "2001:db8::1"; an
 * IPv4-mapped IPv6 peer is shown as IPv4) for rate limiting and logs.
 *
 * X-Forwarded-For and Forwarded are deliberately ignored: any client can
 * send them, so trusting them would let an attacker pick the key its login
 * attempts are counted under. Behind a reverse proxy all requests come
 * from the proxy; it must do per-client limiting itself.
 *
 * 0; KT_ERR_NOTFOUND if there is no IP peer; KT_ERR_LIMIT if cap is too
 * small (INET6_ADDRSTRLEN always fits).
 */
int kt_http_client_ip(struct evhttp_request *req, char *out, size_t cap);

/* Reason phrase for a status code ("Bad Request"); "Unknown" otherwise. */
const char *kt_http_status_reason(int status);

#endif
