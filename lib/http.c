#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/http.h"
#include "kontor/i18n.h"
#include "kontor/log.h"
#include "kontor/params.h"
#include "kontor/util.h"

/* Longest error_description we put into a response (bytes). */
#define HTTP_DESC_MAX 256
/* Longest error code. */
#define HTTP_ERROR_MAX 64
/* Longest csp_extra accepted, and most directives in it. */
#define HTTP_CSP_EXTRA_MAX 1024
#define HTTP_CSP_EXTRA_DIRECTIVES 8
#define HTTP_COOKIE_NAME_MAX 128
#define HTTP_COOKIE_VALUE_MAX 4096
/* "id:secret", each part percent-encoded at worst (3 bytes per byte). */
#define HTTP_BASIC_RAW_MAX                                                     \
	(3 * (KT_HTTP_AUTH_ID_MAX + KT_HTTP_AUTH_SECRET_MAX) + 1)

/* ------------------------------------------------------------------ */
/* Request parsing                                                      */

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 6265 cookie-octet. */
static int is_cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
	       (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

/* RFC 7230 tchar. */
static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int kt_http_cookie_get(const char *cookie_header, const char *name, char *out,
		       size_t outcap)
{
	const char *p, *end;
	size_t hlen, nlen;

	if (out != NULL && outcap > 0)
		out[0] = '\0';
	if (out == NULL || outcap == 0 || name == NULL || *name == '\0')
		return KT_ERR_INVALID;
	if (cookie_header == NULL)
		return KT_ERR_NOTFOUND;
	hlen = strnlen(cookie_header, KT_HTTP_COOKIE_HEADER_MAX + 1);
	if (hlen > KT_HTTP_COOKIE_HEADER_MAX)
		return KT_ERR_LIMIT;
	nlen = strlen(name);

	/*
	 * Walk "a=1; b=2" once. Segments without '=' and cookies with other
	 * names are skipped without looking at their bytes: only the value
	 * we hand out has to be well-formed.
	 */
	p = cookie_header;
	end = cookie_header + hlen;
	while (p < end) {
		const char *seg_end = memchr(p, ';', (size_t)(end - p));
		const char *s = p, *e, *eq;

		if (seg_end == NULL)
			seg_end = end;
		p = seg_end + 1;
		e = seg_end;
		while (s < e && is_ows(*s))
			s++;
		while (e > s && is_ows(e[-1]))
			e--;
		if ((eq = memchr(s, '=', (size_t)(e - s))) != NULL) {
			const char *ne = eq, *v = eq + 1;
			size_t vlen;

			while (ne > s && is_ows(ne[-1]))
				ne--;
			if ((size_t)(ne - s) != nlen ||
			    memcmp(s, name, nlen) != 0)
				continue;
			while (v < e && is_ows(*v))
				v++;
			vlen = (size_t)(e - v);
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			for (size_t i = 0; i < vlen; i++)
				if (!is_cookie_octet((unsigned char)v[i]))
					return KT_ERR_INVALID;
			if (vlen >= outcap)
				return KT_ERR_LIMIT;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return KT_OK;
		}
	}
	return KT_ERR_NOTFOUND;
}

void kt_http_auth_init(struct kt_http_auth *a)
{
	a->type = KT_HTTP_AUTH_NONE;
	a->client_id[0] = '\0';
	a->secret[0] = '\0';
	a->token[0] = '\0';
}

void kt_http_auth_clear(struct kt_http_auth *a)
{
	if (a == NULL)
		return;
	/* The secret's buffer whole (a failed decode may leave it without
	 * a terminator); of the 4 KiB token buffer what a token used. */
	OPENSSL_cleanse(a->client_id, sizeof(a->client_id));
	OPENSSL_cleanse(a->secret, sizeof(a->secret));
	OPENSSL_cleanse(a->token, strnlen(a->token, sizeof(a->token) - 1) + 1);
	kt_http_auth_init(a);
}

static int auth_parse_basic(const char *cred, size_t len,
			    struct kt_http_auth *out)
{
	/* Encoded input is at most 4/3 of the raw maximum plus padding. */
	char b64[(HTTP_BASIC_RAW_MAX + 2) / 3 * 4 + 1];
	unsigned char raw[HTTP_BASIC_RAW_MAX + 1];
	const unsigned char *colon;
	size_t rawlen = 0, idlen, seclen, pad = 0, body;
	int r;

	if (len > sizeof(b64) - 1)
		return KT_ERR_LIMIT;
	/* Standard alphabet (RFC 7617 -> RFC 4648 §4); '=' only at the end. */
	while (pad < len && pad < 2 && cred[len - 1 - pad] == '=')
		pad++;
	body = len - pad;
	if (pad > 0 && len % 4 != 0)
		return KT_ERR_INVALID;
	for (size_t i = 0; i < body; i++) {
		char c = cred[i];
		if (c == '+')
			c = '-';
		else if (c == '/')
			c = '_';
		else if (c == '-' || c == '_' || c == '=') {
			r = KT_ERR_INVALID;
			goto cleanup;
		}
		b64[i] = c;
	}
	r = kt_b64url_decode(raw, sizeof(raw) - 1, &rawlen, b64, body);
	if (r != KT_OK)
		goto cleanup;
	colon = memchr(raw, ':', rawlen);
	if (colon == NULL) {
		r = KT_ERR_INVALID;
		goto cleanup;
	}
	idlen = (size_t)(colon - raw);
	seclen = rawlen - idlen - 1;
	if (idlen == 0) {
		r = KT_ERR_INVALID;
		goto cleanup;
	}
	if ((r = kt_params_decode((const char *)raw, idlen, out->client_id,
				  sizeof(out->client_id), &idlen, NULL)) !=
	    KT_OK)
		goto cleanup;
	if ((r = kt_params_decode((const char *)colon + 1, seclen, out->secret,
				  sizeof(out->secret), &seclen, NULL)) != KT_OK)
		goto cleanup;
	out->type = KT_HTTP_AUTH_BASIC;

cleanup:
	/* What was written: body bytes of b64, and no more than body
	 * base64 characters decode to (a failed decode included). */
	OPENSSL_cleanse(b64, body);
	OPENSSL_cleanse(raw, body / 4 * 3 + 3 < sizeof(raw) ? body / 4 * 3 + 3
							    : sizeof(raw));
	return r;
}

static int is_b64token_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' ||
	       c == '~' || c == '+' || c == '/';
}

static int auth_parse_bearer(const char *cred, size_t len,
			     struct kt_http_auth *out)
{
	size_t i = 0;

	while (i < len && is_b64token_char((unsigned char)cred[i]))
		i++;
	if (i == 0)
		return KT_ERR_INVALID;
	while (i < len && cred[i] == '=')
		i++;
	if (i != len)
		return KT_ERR_INVALID;
	if (len > KT_HTTP_AUTH_TOKEN_MAX)
		return KT_ERR_LIMIT;
	memcpy(out->token, cred, len);
	out->token[len] = '\0';
	out->type = KT_HTTP_AUTH_BEARER;
	return KT_OK;
}

int kt_http_auth_parse(const char *authorization, struct kt_http_auth *out)
{
	const char *sp, *cred;
	size_t hlen, slen, clen;
	int basic, bearer, r;

	kt_http_auth_init(out);
	if (authorization == NULL || *authorization == '\0')
		return KT_OK;
	hlen = strnlen(authorization, KT_HTTP_AUTH_HEADER_MAX + 1);
	if (hlen > KT_HTTP_AUTH_HEADER_MAX)
		return KT_ERR_LIMIT;
	sp = memchr(authorization, ' ', hlen);
	slen = sp ? (size_t)(sp - authorization) : hlen;
	basic = slen == 5 && strncasecmp(authorization, "Basic", 5) == 0;
	bearer = slen == 6 && strncasecmp(authorization, "Bearer", 6) == 0;
	if (!basic && !bearer)
		return KT_ERR_UNSUPPORTED;
	if (sp == NULL)
		return KT_ERR_INVALID;
	cred = sp;
	while (*cred == ' ')
		cred++;
	clen = hlen - (size_t)(cred - authorization);
	while (clen > 0 && is_ows(cred[clen - 1]))
		clen--;
	if (clen == 0)
		return KT_ERR_INVALID;
	r = basic ? auth_parse_basic(cred, clen, out)
		  : auth_parse_bearer(cred, clen, out);
	if (r != KT_OK)
		kt_http_auth_clear(out);
	return r;
}

/* "de"/"en" for a language tag's primary subtag, else NULL. */
static const char *lang_of(const char *tag, size_t len)
{
	size_t n = 0;

	while (n < len && tag[n] != '-' && tag[n] != '_')
		n++;
	if (n != 2)
		return NULL;
	if (strncasecmp(tag, "de", 2) == 0)
		return KT_I18N_DE;
	if (strncasecmp(tag, "en", 2) == 0)
		return KT_I18N_EN;
	return NULL;
}

/* RFC 9110 qvalue as 0..1000, or -1. */
static int parse_qvalue(const char *s, size_t len)
{
	int v, scale = 100;
	size_t i;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	v = (s[0] - '0') * 1000;
	if (len == 1)
		return v;
	if (s[1] != '.' || len > 5)
		return -1;
	for (i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v += (s[i] - '0') * scale;
		scale /= 10;
	}
	return v > 1000 ? -1 : v;
}

/* Best of "de-DE,de;q=0.9,en;q=0.8", or NULL. */
static const char *lang_from_accept(const char *al)
{
	const char *best = NULL, *p = al;
	int bestq = 0;

	while (*p != '\0') {
		const char *item = p, *item_end, *semi, *lang;
		size_t tlen;
		int q = 1000;

		item_end = strchr(p, ',');
		if (item_end == NULL)
			item_end = p + strlen(p);
		p = *item_end ? item_end + 1 : item_end;
		while (item < item_end && is_ows(*item))
			item++;
		semi = memchr(item, ';', (size_t)(item_end - item));
		tlen = (size_t)((semi ? semi : item_end) - item);
		while (tlen > 0 && is_ows(item[tlen - 1]))
			tlen--;
		if ((lang = lang_of(item, tlen)) == NULL)
			continue;
		/* Parameters: only q matters; a malformed q drops the item. */
		while (semi != NULL) {
			const char *prm = semi + 1, *pend;
			semi = memchr(prm, ';', (size_t)(item_end - prm));
			pend = semi ? semi : item_end;
			while (prm < pend && is_ows(*prm))
				prm++;
			while (pend > prm && is_ows(pend[-1]))
				pend--;
			if (pend - prm >= 2 &&
			    (prm[0] == 'q' || prm[0] == 'Q') && prm[1] == '=')
				q = parse_qvalue(prm + 2,
						 (size_t)(pend - prm - 2));
		}
		if (q > bestq) {
			bestq = q;
			best = lang;
		}
	}
	return best;
}

const char *kt_http_lang_pick(const char *ui_locales,
			      const char *accept_language, const char *fallback)
{
	const char *lang;

	if (ui_locales != NULL) {
		const char *p = ui_locales;
		while (*p != '\0') {
			size_t n;
			while (*p == ' ')
				p++;
			n = strcspn(p, " ");
			if (n > 0 && (lang = lang_of(p, n)) != NULL)
				return lang;
			p += n;
		}
	}
	if (accept_language != NULL &&
	    (lang = lang_from_accept(accept_language)) != NULL)
		return lang;
	if (fallback != NULL &&
	    (lang = lang_of(fallback, strlen(fallback))) != NULL)
		return lang;
	return KT_I18N_EN;
}

/* ------------------------------------------------------------------ */
/* Responses                                                            */

static void set_header(struct evhttp_request *req, const char *key,
		       const char *value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	while (evhttp_remove_header(h, key) == 0)
		;
	evhttp_add_header(h, key, value);
}

static void set_no_store(struct evhttp_request *req)
{
	set_header(req, "Cache-Control", "no-store");
	set_header(req, "Pragma", "no-cache");
}

/*
 * The Date header (RFC 9110 §6.6.1) evhttp would add, from a per-thread
 * copy made once per second: evhttp formats it with gmtime and snprintf
 * on every response, which showed in the profile of the cheap endpoints.
 */
static const char *http_date(void)
{
	static _Thread_local time_t cached_sec = (time_t)-1;
	static _Thread_local char cached[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != cached_sec) {
		gmtime_r(&now, &tm);
		/* %a and %b in the C locale, which the gateway never leaves. */
		strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT",
			 &tm);
		cached_sec = now;
	}
	return cached;
}

static void send_reply(struct evhttp_request *req, int status,
		       struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (evhttp_find_header(h, "Date") == NULL)
		evhttp_add_header(h, "Date", http_date());
	set_header(req, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, status, kt_http_status_reason(status), body);
}

/*
 * Last resort when building a response failed: drop whatever headers the
 * handler set (they may belong to a half-built response) and send a bare
 * 500, which needs no allocation to succeed.
 */
static void send_internal_error(struct evhttp_request *req)
{
	evhttp_clear_headers(evhttp_request_get_output_headers(req));
	set_no_store(req);
	send_reply(req, 500, NULL);
}

static void json_headers_and_send(struct evhttp_request *req, int status,
				  int cache_seconds)
{
	char cc[64] = "public, max-age=";

	set_header(req, "Content-Type", "application/json; charset=utf-8");
	if (cache_seconds > 0) {
		kt_fmt_int(cc + strlen(cc), cache_seconds);
		set_header(req, "Cache-Control", cc);
	} else {
		set_no_store(req);
	}
	send_reply(req, status, NULL);
}

static void send_json_bytes(struct evhttp_request *req, int status,
			    const char *json, size_t len, int cache_seconds)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	/* Straight into the request's own buffer: no evbuffer of our own to
	 * make, fill, hand over and free per response. */
	if (evbuffer_add(out, json, len) != 0) {
		evbuffer_drain(out, evbuffer_get_length(out));
		send_internal_error(req);
		return;
	}
	json_headers_and_send(req, status, cache_seconds);
}

static const char json_server_error[] = "{\"error\":\"server_error\"}";

void kt_http_send_json(struct evhttp_request *req, int status, json_t *body)
{
	char *s;

	if (body == NULL) {
		send_json_bytes(req, 500, json_server_error,
				sizeof(json_server_error) - 1, 0);
		return;
	}
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL) {
		send_json_bytes(req, 500, json_server_error,
				sizeof(json_server_error) - 1, 0);
		return;
	}
	send_json_bytes(req, status, s, strlen(s), 0);
	free(s);
}

void kt_http_send_json_str(struct evhttp_request *req, int status,
			   const char *json, int cache_seconds)
{
	if (json == NULL) {
		send_json_bytes(req, 500, json_server_error,
				sizeof(json_server_error) - 1, 0);
		return;
	}
	send_json_bytes(req, status, json, strlen(json), cache_seconds);
}

int kt_http_send_json_ref(struct evhttp_request *req, int status,
			  const char *json, size_t len, int cache_seconds,
			  kt_http_release_fn *release, void *arg)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	/* libevent calls release once the bytes are written or dropped; it
	 * does not when the reference cannot even be made. */
	if (evbuffer_add_reference(out, json, len, release, arg) != 0) {
		release(json, len, arg);
		evbuffer_drain(out, evbuffer_get_length(out));
		send_internal_error(req);
		return 500;
	}
	json_headers_and_send(req, status, cache_seconds);
	return status;
}

/*
 * RFC 6749 §5.2 / RFC 6750 §3: error and error_description are limited to
 * %x20-21 / %x23-5B / %x5D-7E. That also keeps them from closing the
 * quoted-string of a WWW-Authenticate header.
 */
static void oauth_text(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src != NULL && src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
			     ? (char)c
			     : '?';
	}
	dst[i] = '\0';
}

void kt_http_send_oauth_error(struct evhttp_request *req, int status,
			      const char *error, const char *description)
{
	char e[HTTP_ERROR_MAX + 1], d[HTTP_DESC_MAX + 1];
	json_t *o = NULL;

	oauth_text(e, sizeof(e), error ? error : "server_error");
	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "error", json_string(e)) != 0)
		goto fail;
	if (description != NULL && *description != '\0') {
		oauth_text(d, sizeof(d), description);
		if (json_object_set_new(o, "error_description", json_string(d)))
			goto fail;
	}
	if (status == 401)
		set_header(req, "WWW-Authenticate",
			   "Basic realm=\"" KT_HTTP_REALM "\"");
	kt_http_send_json(req, status, o);
	return;

fail:
	json_decref(o);
	send_internal_error(req);
}

void kt_http_send_bearer_error(struct evhttp_request *req, int status,
			       const char *error, const char *description)
{
	char e[HTTP_ERROR_MAX + 1], d[HTTP_DESC_MAX + 1];
	char hdr[64 + sizeof(e) + sizeof(d)];
	json_t *o;

	if (error == NULL) {
		set_header(req, "WWW-Authenticate",
			   "Bearer realm=\"" KT_HTTP_REALM "\"");
		set_no_store(req);
		send_reply(req, status, NULL);
		return;
	}
	oauth_text(e, sizeof(e), error);
	oauth_text(d, sizeof(d), description);
	if (d[0] != '\0')
		snprintf(hdr, sizeof(hdr),
			 "Bearer realm=\"" KT_HTTP_REALM
			 "\", error=\"%s\", error_description=\"%s\"",
			 e, d);
	else
		snprintf(hdr, sizeof(hdr),
			 "Bearer realm=\"" KT_HTTP_REALM "\", error=\"%s\"", e);
	set_header(req, "WWW-Authenticate", hdr);
	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "error", json_string(e)) != 0) {
		json_decref(o);
		send_internal_error(req);
		return;
	}
	kt_http_send_json(req, status, o);
}

struct csp_directive {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

/* The policy every page gets; style-src is filled in from kt_html. */
static const char *const csp_base[][2] = {
    {"default-src", "'none'"}, {"style-src", NULL},
    {"form-action", "'self'"}, {"frame-ancestors", "'none'"},
    {"base-uri", "'none'"},
};
#define CSP_BASE_N (sizeof(csp_base) / sizeof(csp_base[0]))

/* Split extra into directives; -1 if it is not acceptable. */
static int csp_split(const char *extra, struct csp_directive *d, size_t max)
{
	size_t n = 0, len = strlen(extra);
	const char *p = extra, *end = extra + len;

	if (len > HTTP_CSP_EXTRA_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)extra[i];
		if (c < 0x20 || c > 0x7e || c == ',' || c == '"')
			return -1;
	}
	while (p < end) {
		const char *s = p, *e = memchr(p, ';', (size_t)(end - p)), *v;

		if (e == NULL)
			e = end;
		p = e + 1;
		while (s < e && *s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			e--;
		if (s == e)
			continue;
		if (n == max)
			return -1;
		v = memchr(s, ' ', (size_t)(e - s));
		d[n].name = s;
		d[n].nlen = v ? (size_t)(v - s) : (size_t)(e - s);
		while (v != NULL && v < e && *v == ' ')
			v++;
		d[n].value = v ? v : e;
		d[n].vlen = (size_t)(e - d[n].value);
		for (size_t i = 0; i < d[n].nlen; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
				return -1;
		n++;
	}
	return (int)n;
}

/* Build the Content-Security-Policy into b; 0 or KT_ERR_NOMEM. */
static int csp_build(struct evbuffer *b, const char *extra)
{
	struct csp_directive d[HTTP_CSP_EXTRA_DIRECTIVES];
	int nd = 0, r = 0;

	if (extra != NULL &&
	    (nd = csp_split(extra, d, HTTP_CSP_EXTRA_DIRECTIVES)) < 0) {
		kt_log_warn(
		    "ignoring malformed Content-Security-Policy addition");
		nd = 0;
	}
	for (size_t i = 0; i < CSP_BASE_N; i++) {
		const char *name = csp_base[i][0];
		const char *val = csp_base[i][1] ? csp_base[i][1]
						 : kt_html_style_csp_source();
		size_t nlen = strlen(name);
		int extended = 0;

		for (int k = 0; k < nd; k++)
			if (d[k].nlen == nlen && d[k].vlen > 0 &&
			    memcmp(d[k].name, name, nlen) == 0)
				extended = 1;
		r |= evbuffer_add_printf(b, "%s%s", i ? "; " : "", name) < 0;
		/* 'none' next to other sources is at best ignored: drop it. */
		if (!extended || strcmp(val, "'none'") != 0)
			r |= evbuffer_add_printf(b, " %s", val) < 0;
		for (int k = 0; k < nd; k++) {
			if (d[k].nlen != nlen || d[k].vlen == 0 ||
			    memcmp(d[k].name, name, nlen) != 0)
				continue;
			r |= evbuffer_add(b, " ", 1);
			r |= evbuffer_add(b, d[k].value, d[k].vlen);
		}
	}
	for (int k = 0; k < nd; k++) {
		int known = 0;
		for (size_t i = 0; i < CSP_BASE_N; i++)
			if (d[k].nlen == strlen(csp_base[i][0]) &&
			    memcmp(d[k].name, csp_base[i][0], d[k].nlen) == 0)
				known = 1;
		if (known)
			continue;
		r |= evbuffer_add(b, "; ", 2);
		r |= evbuffer_add(b, d[k].name, d[k].nlen);
		if (d[k].vlen > 0) {
			r |= evbuffer_add(b, " ", 1);
			r |= evbuffer_add(b, d[k].value, d[k].vlen);
		}
	}
	r |= evbuffer_add(b, "", 1);
	return r ? KT_ERR_NOMEM : KT_OK;
}

void kt_http_send_html(struct evhttp_request *req, int status,
		       struct evbuffer *body, const char *csp_extra)
{
	struct evbuffer *csp = NULL;
	const char *policy = NULL;

	if ((csp = evbuffer_new()) == NULL || csp_build(csp, csp_extra) != 0 ||
	    (policy = (const char *)evbuffer_pullup(csp, -1)) == NULL) {
		evbuffer_free(csp);
		send_internal_error(req);
		return;
	}
	set_header(req, "Content-Type", "text/html; charset=utf-8");
	set_header(req, "Content-Security-Policy", policy);
	set_header(req, "X-Frame-Options", "DENY");
	set_header(req, "Referrer-Policy", "no-referrer");
	set_no_store(req);
	send_reply(req, status, body);
	evbuffer_free(csp);
}

/* Printable ASCII or UTF-8 bytes; no controls, no space. */
static int is_header_token_text(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

void kt_http_redirect(struct evhttp_request *req, int status,
		      const char *location)
{
	if (!is_header_token_text(location)) {
		kt_log_error("refusing to redirect to a malformed location");
		send_internal_error(req);
		return;
	}
	if (status != 302 && status != 303)
		status = 302;
	set_header(req, "Location", location);
	set_header(req, "Referrer-Policy", "no-referrer");
	set_no_store(req);
	send_reply(req, status, NULL);
}

static int cookie_check(const char *name, const char *value,
			const struct kt_cookie_opts *o)
{
	size_t nlen, vlen;

	if (name == NULL || value == NULL)
		return KT_ERR_INVALID;
	nlen = strlen(name);
	vlen = strlen(value);
	if (nlen == 0 || nlen > HTTP_COOKIE_NAME_MAX ||
	    vlen > HTTP_COOKIE_VALUE_MAX)
		return KT_ERR_INVALID;
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)name[i]))
			return KT_ERR_INVALID;
	for (size_t i = 0; i < vlen; i++)
		if (!is_cookie_octet((unsigned char)value[i]))
			return KT_ERR_INVALID;
	if (o->path[0] != '/')
		return KT_ERR_INVALID;
	for (const char *p = o->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == ';')
			return KT_ERR_INVALID;
	/* Browsers drop these; better to fail loudly in our own code. */
	if (o->same_site == KT_COOKIE_SAMESITE_NONE && !o->secure)
		return KT_ERR_INVALID;
	if (strncmp(name, "__Secure-", 9) == 0 && !o->secure)
		return KT_ERR_INVALID;
	if (strncmp(name, "__Host-", 7) == 0 &&
	    (!o->secure || strcmp(o->path, "/") != 0))
		return KT_ERR_INVALID;
	if (o->same_site != KT_COOKIE_SAMESITE_LAX &&
	    o->same_site != KT_COOKIE_SAMESITE_STRICT &&
	    o->same_site != KT_COOKIE_SAMESITE_NONE)
		return KT_ERR_INVALID;
	return KT_OK;
}

static int cookie_add(struct evhttp_request *req, const char *name,
		      const char *value, const struct kt_cookie_opts *opts,
		      int clear)
{
	static const char *const samesite[] = {"Lax", "Strict", "None"};
	const struct kt_cookie_opts def = KT_COOKIE_OPTS_DEFAULT;
	struct kt_cookie_opts o = opts ? *opts : def;
	struct evbuffer *b = NULL;
	const char *line;
	int r;

	if (o.path == NULL)
		o.path = "/";
	if ((r = cookie_check(name, value, &o)) != KT_OK)
		return r;
	if ((b = evbuffer_new()) == NULL)
		return KT_ERR_NOMEM;
	r = evbuffer_add_printf(b, "%s=%s; Path=%s", name, value, o.path) < 0;
	if (clear)
		r |= evbuffer_add_printf(
			 b,
			 "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT") <
		     0;
	else if (o.max_age > 0)
		r |= evbuffer_add_printf(b, "; Max-Age=%lld",
					 (long long)o.max_age) < 0;
	if (o.secure)
		r |= evbuffer_add_printf(b, "; Secure") < 0;
	if (o.http_only)
		r |= evbuffer_add_printf(b, "; HttpOnly") < 0;
	r |= evbuffer_add_printf(b, "; SameSite=%s", samesite[o.same_site]) < 0;
	r |= evbuffer_add(b, "", 1);
	if (r != 0 || (line = (const char *)evbuffer_pullup(b, -1)) == NULL) {
		evbuffer_free(b);
		return KT_ERR_NOMEM;
	}
	r = evhttp_add_header(evhttp_request_get_output_headers(req),
			      "Set-Cookie", line) == 0
		? KT_OK
		: KT_ERR_NOMEM;
	/* The header may hold a session id. */
	OPENSSL_cleanse(evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
	return r;
}

int kt_http_set_cookie(struct evhttp_request *req, const char *name,
		       const char *value, const struct kt_cookie_opts *opts)
{
	return cookie_add(req, name, value, opts, 0);
}

int kt_http_clear_cookie(struct evhttp_request *req, const char *name,
			 const struct kt_cookie_opts *opts)
{
	return cookie_add(req, name, "", opts, 1);
}

/* ------------------------------------------------------------------ */
/* URLs                                                                 */

static int is_unreserved(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int kt_http_urlencode(struct evbuffer *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char chunk[256];
	size_t n = 0;

	if (s == NULL)
		return KT_OK;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (n + 3 > sizeof(chunk)) {
			if (evbuffer_add(out, chunk, n) != 0)
				return KT_ERR_NOMEM;
			n = 0;
		}
		if (is_unreserved(c)) {
			chunk[n++] = (char)c;
		} else {
			chunk[n++] = '%';
			chunk[n++] = hex[c >> 4];
			chunk[n++] = hex[c & 15];
		}
	}
	if (n > 0 && evbuffer_add(out, chunk, n) != 0)
		return KT_ERR_NOMEM;
	return KT_OK;
}

char *kt_http_url_add_params(const char *base, const char *const *kv,
			     size_t npairs)
{
	struct evbuffer *b = NULL;
	char *res = NULL;
	size_t blen, len;
	char sep;
	int r;

	if (base == NULL || strchr(base, '#') != NULL ||
	    (kv == NULL && npairs > 0))
		return NULL;
	blen = strlen(base);
	if (strchr(base, '?') == NULL)
		sep = '?';
	else if (base[blen - 1] == '?' || base[blen - 1] == '&')
		sep = '\0';
	else
		sep = '&';
	if ((b = evbuffer_new()) == NULL)
		return NULL;
	r = evbuffer_add(b, base, blen);
	for (size_t i = 0; i < npairs && r == 0; i++) {
		const char *name = kv[2 * i], *value = kv[2 * i + 1];
		if (name == NULL || value == NULL)
			continue;
		if (sep != '\0')
			r |= evbuffer_add(b, &sep, 1);
		sep = '&';
		r |= kt_http_urlencode(b, name);
		r |= evbuffer_add(b, "=", 1);
		r |= kt_http_urlencode(b, value);
	}
	len = evbuffer_get_length(b);
	if (r == 0 && (res = malloc(len + 1)) != NULL) {
		evbuffer_remove(b, res, len);
		res[len] = '\0';
	}
	evbuffer_free(b);
	return res;
}

/* ------------------------------------------------------------------ */
/* Connection and status                                                */

/*
 * Dotted quad of a 4-byte address, as inet_ntop writes it: taken for every
 * request (access log, throttling), where inet_ntop's sprintf showed in the
 * profile. out holds at least 16 bytes.
 */
static void ipv4_format(char *out, const uint8_t a[4])
{
	size_t off = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (i > 0)
			out[off++] = '.';
		if (v >= 100)
			out[off++] = (char)('0' + v / 100);
		if (v >= 10)
			out[off++] = (char)('0' + v / 10 % 10);
		out[off++] = (char)('0' + v % 10);
	}
	out[off] = '\0';
}

int kt_http_client_ip(struct evhttp_request *req, char *out, size_t cap)
{
	struct evhttp_connection *con;
	const struct sockaddr *sa;
	char buf[INET6_ADDRSTRLEN];
	size_t len;

	if (out != NULL && cap > 0)
		out[0] = '\0';
	if (req == NULL || out == NULL)
		return KT_ERR_NOTFOUND;
	if ((con = evhttp_request_get_connection(req)) == NULL ||
	    (sa = evhttp_connection_get_addr(con)) == NULL)
		return KT_ERR_NOTFOUND;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		ipv4_format(buf, (const uint8_t *)&sin->sin_addr);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		/* Dual-stack sockets: count ::ffff:a.b.c.d as a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ipv4_format(buf, &sin6->sin6_addr.s6_addr[12]);
		} else if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
				     sizeof(buf)) == NULL) {
			return KT_ERR_NOTFOUND;
		}
	} else {
		return KT_ERR_NOTFOUND;
	}
	len = strlen(buf);
	if (len >= cap)
		return KT_ERR_LIMIT;
	memcpy(out, buf, len + 1);
	return KT_OK;
}

const char *kt_http_status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}
