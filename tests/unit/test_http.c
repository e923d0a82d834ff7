#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/http.h"

/* ------------------------------------------------------------------ */
/* Cookie header                                                        */

static void test_cookie_basic(void **state)
{
	char v[64];

	assert_int_equal(kt_http_cookie_get("sid=abc", "sid", v, sizeof(v)),
			 KT_OK);
	assert_string_equal(v, "abc");
	assert_int_equal(
	    kt_http_cookie_get("a=1; sid=abc; b=2", "sid", v, sizeof(v)),
	    KT_OK);
	assert_string_equal(v, "abc");
	/* Tolerated whitespace; tabs; no space after ';'. */
	assert_int_equal(
	    kt_http_cookie_get("a=1;\tsid = abc  ;b=2", "sid", v, sizeof(v)),
	    KT_OK);
	assert_string_equal(v, "abc");
	/* Quoted values lose their quotes. */
	assert_int_equal(kt_http_cookie_get("sid=\"abc\"", "sid", v, sizeof(v)),
			 KT_OK);
	assert_string_equal(v, "abc");
	/* Empty value. */
	assert_int_equal(kt_http_cookie_get("sid=; x=1", "sid", v, sizeof(v)),
			 KT_OK);
	assert_string_equal(v, "");
	/* First of several with the same name. */
	assert_int_equal(
	    kt_http_cookie_get("sid=first; sid=second", "sid", v, sizeof(v)),
	    KT_OK);
	assert_string_equal(v, "first");
	/* base64url and '=' inside the value. */
	assert_int_equal(kt_http_cookie_get("sid=a-b_c==", "sid", v, sizeof(v)),
			 KT_OK);
	assert_string_equal(v, "a-b_c==");
}

static void test_cookie_names(void **state)
{
	char v[64];

	/* Prefix, suffix and case variants are other cookies. */
	assert_int_equal(kt_http_cookie_get("sid_x=1; xsid=2; SID=3; sid=4",
					    "sid", v, sizeof(v)),
			 KT_OK);
	assert_string_equal(v, "4");
	/* The name appearing inside another cookie's value. */
	assert_int_equal(
	    kt_http_cookie_get("a=sid=evil; sid=good", "sid", v, sizeof(v)),
	    KT_OK);
	assert_string_equal(v, "good");
	assert_int_equal(kt_http_cookie_get("a=1; b=2", "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	assert_string_equal(v, "");
	/* A nameless "sid" segment is not the cookie sid. */
	assert_int_equal(kt_http_cookie_get("sid; x=1", "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_http_cookie_get(NULL, "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_http_cookie_get("", "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_http_cookie_get("a=1", NULL, v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("a=1", "", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("a=1", "a", v, 0), KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("a=1", "a", NULL, 8),
			 KT_ERR_INVALID);
}

static void test_cookie_hostile(void **state)
{
	char v[16];
	char *big;
	size_t n = 0;

	/* Garbage separators and no '=' at all. */
	assert_int_equal(kt_http_cookie_get(";;;;; ; ;", "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_http_cookie_get("=====", "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_http_cookie_get("=sid; sid", "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	/* Bytes outside cookie-octet in the value we return. */
	assert_int_equal(kt_http_cookie_get("sid=a b", "sid", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_string_equal(v, "");
	assert_int_equal(kt_http_cookie_get("sid=a,b", "sid", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("sid=a\\b", "sid", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("sid=\"abc", "sid", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("sid=a\r\nb", "sid", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_cookie_get("sid=a\x7f", "sid", v, sizeof(v)),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_http_cookie_get("sid=\xc3\xa4", "sid", v, sizeof(v)),
	    KT_ERR_INVALID);
	/* ... but garbage in other cookies does not matter. */
	assert_int_equal(
	    kt_http_cookie_get("x=\x01\xff \" ,; sid=ok", "sid", v, sizeof(v)),
	    KT_OK);
	assert_string_equal(v, "ok");

	/* Value bound: 15 bytes + NUL fit in 16, 16 do not. */
	assert_int_equal(
	    kt_http_cookie_get("sid=123456789012345", "sid", v, sizeof(v)),
	    KT_OK);
	assert_int_equal(
	    kt_http_cookie_get("sid=1234567890123456", "sid", v, sizeof(v)),
	    KT_ERR_LIMIT);
	assert_string_equal(v, "");

	/* Thousands of cookies, ours last (cf. CVE-2024-24814). */
	big = malloc(KT_HTTP_COOKIE_HEADER_MAX + 2);
	assert_non_null(big);
	while (n + 16 < KT_HTTP_COOKIE_HEADER_MAX - 16)
		n += (size_t)snprintf(big + n, 17, "c%05zu=x; ", n);
	n += (size_t)snprintf(big + n, 16, "sid=found");
	assert_int_equal(kt_http_cookie_get(big, "sid", v, sizeof(v)), KT_OK);
	assert_string_equal(v, "found");
	/* Thousands of bare ';'. */
	memset(big, ';', KT_HTTP_COOKIE_HEADER_MAX);
	big[KT_HTTP_COOKIE_HEADER_MAX] = '\0';
	assert_int_equal(kt_http_cookie_get(big, "sid", v, sizeof(v)),
			 KT_ERR_NOTFOUND);
	/* One byte over the header bound. */
	big[KT_HTTP_COOKIE_HEADER_MAX] = ';';
	big[KT_HTTP_COOKIE_HEADER_MAX + 1] = '\0';
	assert_int_equal(kt_http_cookie_get(big, "sid", v, sizeof(v)),
			 KT_ERR_LIMIT);
	free(big);
}

/* ------------------------------------------------------------------ */
/* Authorization header                                                 */

static char *basic_header(const char *scheme, const void *raw, size_t n)
{
	size_t cap = strlen(scheme) + 2 + (n + 2) / 3 * 4 + 1;
	char *h = malloc(cap);
	size_t off;

	assert_non_null(h);
	off = (size_t)snprintf(h, cap, "%s ", scheme);
	EVP_EncodeBlock((unsigned char *)h + off, raw, (int)n);
	return h;
}

static int parse_basic(const char *userpass, struct kt_http_auth *a)
{
	char *h = basic_header("Basic", userpass, strlen(userpass));
	int r = kt_http_auth_parse(h, a);
	free(h);
	return r;
}

static void assert_cleared(const struct kt_http_auth *a)
{
	assert_int_equal(a->type, KT_HTTP_AUTH_NONE);
	assert_string_equal(a->client_id, "");
	assert_string_equal(a->secret, "");
	assert_string_equal(a->token, "");
}

static void test_auth_basic(void **state)
{
	struct kt_http_auth a;

	assert_int_equal(kt_http_auth_parse("Basic cG9ydGFsOnMzY3JldA==", &a),
			 KT_OK);
	assert_int_equal(a.type, KT_HTTP_AUTH_BASIC);
	assert_string_equal(a.client_id, "portal");
	assert_string_equal(a.secret, "s3cret");
	kt_http_auth_clear(&a);
	assert_cleared(&a);

	/* Scheme case, several spaces, trailing whitespace. */
	assert_int_equal(
	    kt_http_auth_parse("bAsIc   cG9ydGFsOnMzY3JldA== \t", &a), KT_OK);
	assert_string_equal(a.secret, "s3cret");

	/* Colons in the secret: only the first one splits. */
	assert_int_equal(parse_basic("portal:a:b::c", &a), KT_OK);
	assert_string_equal(a.client_id, "portal");
	assert_string_equal(a.secret, "a:b::c");

	/* Both parts are form-url-decoded (RFC 6749 2.3.1). */
	assert_int_equal(
	    parse_basic("my%20client+1:p%3Ass%25w%2Brd+x%C3%A4", &a), KT_OK);
	assert_string_equal(a.client_id, "my client 1");
	assert_string_equal(a.secret, "p:ss%w+rd x\xc3\xa4");

	/* Empty secret is syntactically fine; the endpoint will refuse it. */
	assert_int_equal(parse_basic("portal:", &a), KT_OK);
	assert_string_equal(a.secret, "");

	/* Unpadded base64 is accepted. */
	assert_int_equal(kt_http_auth_parse("Basic YTpi", &a), KT_OK);
	assert_int_equal(kt_http_auth_parse("Basic YTpiYw", &a), KT_OK);
	assert_string_equal(a.secret, "bc");
	kt_http_auth_clear(&a);
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

/* Clearing wipes every byte a secret or token occupied, without zeroing
 * the whole 4.6 KiB first (the struct starts as old heap contents). */
static void test_auth_clear_wipes(void **state)
{
	struct kt_http_auth a;
	char h[200] = "Bearer ";

	(void)state;
	memset(&a, 'Z', sizeof(a));
	kt_http_auth_init(&a);
	assert_cleared(&a);
	kt_http_auth_clear(&a);
	assert_cleared(&a);

	memset(h + 7, 't', 150);
	h[157] = '\0';
	assert_int_equal(kt_http_auth_parse(h, &a), KT_OK);
	assert_int_equal(strlen(a.token), 150);
	kt_http_auth_clear(&a);
	assert_cleared(&a);
	assert_true(all_zero(a.token, 151));
	/* Beyond what the token used: untouched, never a secret of ours. */
	assert_int_equal(a.token[200], 'Z');

	assert_int_equal(kt_http_auth_parse("Basic cG9ydGFsOnMzY3JldA==", &a),
			 KT_OK);
	kt_http_auth_clear(&a);
	assert_true(all_zero(a.client_id, sizeof(a.client_id)));
	assert_true(all_zero(a.secret, sizeof(a.secret)));
	/* A decode that fails half-way leaves nothing behind either. */
	assert_int_equal(parse_basic("portal:%41%4", &a), KT_ERR_INVALID);
	assert_true(all_zero(a.secret, sizeof(a.secret)));
	assert_cleared(&a);
}

static void test_auth_basic_rejects(void **state)
{
	struct kt_http_auth a;
	char raw[600];
	char *h;

	assert_int_equal(parse_basic("portal", &a), KT_ERR_INVALID);
	assert_cleared(&a);
	assert_int_equal(parse_basic(":secret", &a), KT_ERR_INVALID);
	assert_int_equal(parse_basic("por%zztal:x", &a), KT_ERR_INVALID);
	assert_int_equal(parse_basic("portal:x%", &a), KT_ERR_INVALID);
	assert_cleared(&a);
	assert_int_equal(parse_basic("portal:x%00y", &a), KT_ERR_INVALID);
	assert_int_equal(parse_basic("portal:x%FFy", &a), KT_ERR_INVALID);
	/* A raw NUL inside the decoded credentials. */
	h = basic_header("Basic", "a\0b:c", 5);
	assert_int_equal(kt_http_auth_parse(h, &a), KT_ERR_INVALID);
	free(h);
	/* Not standard base64: bad chars, base64url chars, padding. */
	assert_int_equal(kt_http_auth_parse("Basic cG9y*GFs", &a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic cG9y-GFs", &a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic YTpi=", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic YT=pi", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic Y", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic ====", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic YTpi YTpi", &a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Basic    ", &a), KT_ERR_INVALID);

	/* client_id: 255 bytes ok, 256 too long; secret likewise. */
	memset(raw, 'i', 255);
	memcpy(raw + 255, ":s", 3);
	assert_int_equal(parse_basic(raw, &a), KT_OK);
	assert_int_equal(strlen(a.client_id), 255);
	memset(raw, 'i', 256);
	memcpy(raw + 256, ":s", 3);
	assert_int_equal(parse_basic(raw, &a), KT_ERR_LIMIT);
	assert_cleared(&a);
	raw[0] = 'c';
	raw[1] = ':';
	memset(raw + 2, 's', 256);
	raw[258] = '\0';
	assert_int_equal(parse_basic(raw, &a), KT_ERR_LIMIT);
	/* Encoded form may be 3x longer as long as it decodes short enough. */
	for (int i = 0; i < 85; i++)
		memcpy(raw + 2 + 3 * i, "%41", 3);
	raw[2 + 255] = '\0';
	assert_int_equal(parse_basic(raw, &a), KT_OK);
	assert_int_equal(strlen(a.secret), 85);
	kt_http_auth_clear(&a);
}

static void test_auth_bearer(void **state)
{
	struct kt_http_auth a;
	char h[KT_HTTP_AUTH_TOKEN_MAX + 16];

	assert_int_equal(kt_http_auth_parse("Bearer mF_9.B5f-4.1JqM", &a),
			 KT_OK);
	assert_int_equal(a.type, KT_HTTP_AUTH_BEARER);
	assert_string_equal(a.token, "mF_9.B5f-4.1JqM");
	assert_string_equal(a.client_id, "");
	assert_int_equal(kt_http_auth_parse("bearer a~b+c/d==", &a), KT_OK);
	assert_string_equal(a.token, "a~b+c/d==");
	assert_int_equal(kt_http_auth_parse("BEARER  abc ", &a), KT_OK);
	assert_string_equal(a.token, "abc");

	assert_int_equal(kt_http_auth_parse("Bearer abc def", &a),
			 KT_ERR_INVALID);
	assert_cleared(&a);
	assert_int_equal(kt_http_auth_parse("Bearer =abc", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Bearer abc=def", &a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Bearer ab\"c", &a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Bearer ab,c", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Bearer a\xc3\xa4", &a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Bearer ", &a), KT_ERR_INVALID);
	assert_int_equal(kt_http_auth_parse("Bearer", &a), KT_ERR_INVALID);

	memcpy(h, "Bearer ", 7);
	memset(h + 7, 'a', KT_HTTP_AUTH_TOKEN_MAX);
	h[7 + KT_HTTP_AUTH_TOKEN_MAX] = '\0';
	assert_int_equal(kt_http_auth_parse(h, &a), KT_OK);
	assert_int_equal(strlen(a.token), KT_HTTP_AUTH_TOKEN_MAX);
	h[7 + KT_HTTP_AUTH_TOKEN_MAX] = 'a';
	h[8 + KT_HTTP_AUTH_TOKEN_MAX] = '\0';
	assert_int_equal(kt_http_auth_parse(h, &a), KT_ERR_LIMIT);
	assert_cleared(&a);
}

static void test_auth_other(void **state)
{
	struct kt_http_auth a;
	char *h;

	assert_int_equal(kt_http_auth_parse(NULL, &a), KT_OK);
	assert_int_equal(a.type, KT_HTTP_AUTH_NONE);
	assert_int_equal(kt_http_auth_parse("", &a), KT_OK);
	assert_int_equal(kt_http_auth_parse("Digest username=\"x\"", &a),
			 KT_ERR_UNSUPPORTED);
	assert_int_equal(kt_http_auth_parse("Basicx YTpi", &a),
			 KT_ERR_UNSUPPORTED);
	assert_int_equal(kt_http_auth_parse("DPoP abc", &a),
			 KT_ERR_UNSUPPORTED);
	assert_int_equal(kt_http_auth_parse(" Basic YTpi", &a),
			 KT_ERR_UNSUPPORTED);
	assert_int_equal(kt_http_auth_parse("Basic\tYTpi", &a),
			 KT_ERR_UNSUPPORTED);
	assert_cleared(&a);

	h = malloc(KT_HTTP_AUTH_HEADER_MAX + 2);
	memcpy(h, "Bearer ", 7);
	memset(h + 7, 'a', KT_HTTP_AUTH_HEADER_MAX - 6);
	h[KT_HTTP_AUTH_HEADER_MAX + 1] = '\0';
	assert_int_equal(kt_http_auth_parse(h, &a), KT_ERR_LIMIT);
	memcpy(h, "Basic  ", 7);
	assert_int_equal(kt_http_auth_parse(h, &a), KT_ERR_LIMIT);
	free(h);

	kt_http_auth_clear(NULL);
}

/* ------------------------------------------------------------------ */
/* Language                                                             */

static void test_lang_pick(void **state)
{
	assert_string_equal(kt_http_lang_pick(NULL, NULL, NULL), "en");
	assert_string_equal(kt_http_lang_pick(NULL, NULL, "de"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, NULL, "fr"), "en");
	assert_string_equal(kt_http_lang_pick("", "", "de"), "de");

	/* ui_locales first, in its own order. */
	assert_string_equal(kt_http_lang_pick("fr-CA de-DE en", "en", "en"),
			    "de");
	assert_string_equal(kt_http_lang_pick("en de", "de", "de"), "en");
	assert_string_equal(kt_http_lang_pick("  fr   DE-ch ", NULL, "en"),
			    "de");
	/* No match in ui_locales: Accept-Language decides. */
	assert_string_equal(kt_http_lang_pick("fr it", "de", "en"), "de");

	/* Accept-Language by q-value. */
	assert_string_equal(
	    kt_http_lang_pick(NULL, "de-DE,de;q=0.9,en;q=0.8", "en"), "de");
	assert_string_equal(
	    kt_http_lang_pick(NULL, "en-US,en;q=0.9,de;q=0.8", "de"), "en");
	assert_string_equal(
	    kt_http_lang_pick(NULL, "fr;q=1, en;q=0.5, de;q=0.7", "en"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, "de-AT", "en"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, "de_DE", "en"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, "fr, de ;  Q=0.3", "en"),
			    "de");
	/* Ties: the first listed. */
	assert_string_equal(kt_http_lang_pick(NULL, "en;q=0.5,de;q=0.5", "de"),
			    "en");
	/* q=0 means "not acceptable". */
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=0, en;q=0.1", "de"),
			    "en");
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=0.000", "de"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, "en;q=0", "de"), "de");
	/* Malformed q drops the item. */
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=abc,en;q=0.2", "de"),
			    "en");
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=1.5", "en"), "en");
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=0.1234", "en"), "en");
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=", "en"), "en");
	assert_string_equal(kt_http_lang_pick(NULL, "de;q=1.000", "en"), "de");
	/* Wildcards, other languages and 3-letter codes do not match. */
	assert_string_equal(kt_http_lang_pick(NULL, "*", "de"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, "deu, eng", "de"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, ",,,;;;==", "de"), "de");
	assert_string_equal(kt_http_lang_pick(NULL, "de-", "en"), "de");
}

/* ------------------------------------------------------------------ */
/* URLs                                                                 */

static void test_urlencode(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;
	size_t n;
	char big[1001];

	assert_int_equal(kt_http_urlencode(b, "AZaz09-._~"), KT_OK);
	assert_int_equal(kt_http_urlencode(b, " !*'();:@&=+$,/?#[]%\"<>\r\n"),
			 KT_OK);
	assert_int_equal(kt_http_urlencode(b, "\xc3\xa4"), KT_OK);
	assert_int_equal(kt_http_urlencode(b, NULL), KT_OK);
	n = evbuffer_get_length(b);
	s = calloc(1, n + 1);
	evbuffer_remove(b, s, n);
	assert_string_equal(s, "AZaz09-._~"
			       "%20%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F"
			       "%3F%23%5B%5D%25%22%3C%3E%0D%0A"
			       "%C3%A4");
	free(s);

	/* Across the internal chunk size. */
	for (int i = 0; i < 1000; i++)
		big[i] = (i % 3) ? 'a' : '/';
	big[1000] = '\0';
	assert_int_equal(kt_http_urlencode(b, big), KT_OK);
	assert_int_equal(evbuffer_get_length(b), 334 * 3 + 666);
	evbuffer_free(b);
}

static void test_url_add_params(void **state)
{
	const char *kv[] = {"code",  "SplxlOBeZQQYbYS6WxSbIA",
			    "state", "x y&z=1#",
			    "iss",   "https://idp.example"};
	const char *err[] = {"error", "access_denied", "error_description",
			     NULL,    "state",	       "s"};
	char *u;

	u = kt_http_url_add_params("https://rp.example/cb", kv, 3);
	assert_string_equal(u,
			    "https://rp.example/cb?code=SplxlOBeZQQYbYS6WxSbIA"
			    "&state=x%20y%26z%3D1%23"
			    "&iss=https%3A%2F%2Fidp.example");
	free(u);
	u = kt_http_url_add_params("https://rp.example/cb?tenant=a%20b", kv, 1);
	assert_string_equal(
	    u,
	    "https://rp.example/cb?tenant=a%20b&code=SplxlOBeZQQYbYS6WxSbIA");
	free(u);
	u = kt_http_url_add_params("https://rp.example/cb?", kv, 1);
	assert_string_equal(
	    u, "https://rp.example/cb?code=SplxlOBeZQQYbYS6WxSbIA");
	free(u);
	u = kt_http_url_add_params("https://rp.example/cb?a=1&", kv, 1);
	assert_string_equal(
	    u, "https://rp.example/cb?a=1&code=SplxlOBeZQQYbYS6WxSbIA");
	free(u);
	/* NULL values are skipped, also the first one. */
	u = kt_http_url_add_params("http://localhost:8080/cb", err, 3);
	assert_string_equal(
	    u, "http://localhost:8080/cb?error=access_denied&state=s");
	free(u);
	u = kt_http_url_add_params("https://rp.example/cb", err + 2, 2);
	assert_string_equal(u, "https://rp.example/cb?state=s");
	free(u);
	u = kt_http_url_add_params("https://rp.example/cb", err + 2, 1);
	assert_string_equal(u, "https://rp.example/cb");
	free(u);
	u = kt_http_url_add_params("https://rp.example/cb", NULL, 0);
	assert_string_equal(u, "https://rp.example/cb");
	free(u);
	u = kt_http_url_add_params("com.example.app:/oauth", kv, 1);
	assert_string_equal(
	    u, "com.example.app:/oauth?code=SplxlOBeZQQYbYS6WxSbIA");
	free(u);

	assert_null(
	    kt_http_url_add_params("https://rp.example/cb#frag", kv, 1));
	assert_null(kt_http_url_add_params(NULL, kv, 1));
	assert_null(kt_http_url_add_params("https://rp.example/cb", NULL, 1));
}

static void test_status_reason(void **state)
{
	assert_string_equal(kt_http_status_reason(200), "OK");
	assert_string_equal(kt_http_status_reason(302), "Found");
	assert_string_equal(kt_http_status_reason(303), "See Other");
	assert_string_equal(kt_http_status_reason(400), "Bad Request");
	assert_string_equal(kt_http_status_reason(401), "Unauthorized");
	assert_string_equal(kt_http_status_reason(413), "Content Too Large");
	assert_string_equal(kt_http_status_reason(429), "Too Many Requests");
	assert_string_equal(kt_http_status_reason(503), "Service Unavailable");
	assert_string_equal(kt_http_status_reason(599), "Unknown");
}

/* ------------------------------------------------------------------ */
/* Cookies set on a request object (no network needed)                  */

static const char *first_header(struct evkeyvalq *h, const char *key, int nth)
{
	for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next)
		if (strcasecmp(kv->key, key) == 0 && nth-- == 0)
			return kv->value;
	return NULL;
}

static void test_set_cookie(void **state)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct kt_cookie_opts o = KT_COOKIE_OPTS_DEFAULT;

	assert_int_equal(kt_http_set_cookie(req, "sid", "abc-_=.", NULL),
			 KT_OK);
	assert_string_equal(first_header(h, "Set-Cookie", 0),
			    "sid=abc-_=.; Path=/; Secure; HttpOnly; "
			    "SameSite=Lax");
	o.max_age = 3600;
	o.same_site = KT_COOKIE_SAMESITE_STRICT;
	o.path = "/authorize";
	assert_int_equal(kt_http_set_cookie(req, "__Secure-x", "1", &o), KT_OK);
	assert_string_equal(first_header(h, "Set-Cookie", 1),
			    "__Secure-x=1; Path=/authorize; Max-Age=3600; "
			    "Secure; HttpOnly; SameSite=Strict");
	o.path = NULL;
	o.http_only = 0;
	o.secure = 0;
	o.max_age = -5;
	o.same_site = KT_COOKIE_SAMESITE_LAX;
	assert_int_equal(kt_http_set_cookie(req, "lang", "de", &o), KT_OK);
	assert_string_equal(first_header(h, "Set-Cookie", 2),
			    "lang=de; Path=/; SameSite=Lax");
	o.secure = 1;
	o.same_site = KT_COOKIE_SAMESITE_NONE;
	assert_int_equal(kt_http_set_cookie(req, "__Host-s", "", &o), KT_OK);
	assert_string_equal(first_header(h, "Set-Cookie", 3),
			    "__Host-s=; Path=/; Secure; SameSite=None");
	assert_int_equal(kt_http_clear_cookie(req, "sid", NULL), KT_OK);
	assert_string_equal(first_header(h, "Set-Cookie", 4),
			    "sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 "
			    "00:00:00 GMT; Secure; HttpOnly; SameSite=Lax");
	assert_null(first_header(h, "Set-Cookie", 5));
	evhttp_request_free(req);
}

static void test_set_cookie_rejects(void **state)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct kt_cookie_opts o = KT_COOKIE_OPTS_DEFAULT;
	const char *bad_values[] = {"a;b",    "a,b",	  "a b",
				    "a\r\nb", "a\nb",	  "a\"b",
				    "a\\b",   "\xc3\xa4", "a\tb"};
	const char *bad_names[] = {"",	    "a=b",  "a b",	"a;b",
				   "a\r\n", "a(b)", "\xc3\xa4", "a,b"};
	char big[4098];

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++)
		assert_int_equal(
		    kt_http_set_cookie(req, "sid", bad_values[i], NULL),
		    KT_ERR_INVALID);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++)
		assert_int_equal(
		    kt_http_set_cookie(req, bad_names[i], "x", NULL),
		    KT_ERR_INVALID);
	assert_int_equal(kt_http_set_cookie(req, NULL, "x", NULL),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_set_cookie(req, "sid", NULL, NULL),
			 KT_ERR_INVALID);
	memset(big, 'a', 4097);
	big[4097] = '\0';
	assert_int_equal(kt_http_set_cookie(req, "sid", big, NULL),
			 KT_ERR_INVALID);

	o.path = "/a;Domain=evil.example";
	assert_int_equal(kt_http_set_cookie(req, "sid", "x", &o),
			 KT_ERR_INVALID);
	o.path = "relative";
	assert_int_equal(kt_http_set_cookie(req, "sid", "x", &o),
			 KT_ERR_INVALID);
	o.path = "/a b";
	assert_int_equal(kt_http_set_cookie(req, "sid", "x", &o),
			 KT_ERR_INVALID);
	o.path = "/x";
	assert_int_equal(kt_http_set_cookie(req, "__Host-sid", "x", &o),
			 KT_ERR_INVALID);
	o.path = "/";
	o.secure = 0;
	assert_int_equal(kt_http_set_cookie(req, "__Host-sid", "x", &o),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_set_cookie(req, "__Secure-sid", "x", &o),
			 KT_ERR_INVALID);
	o.same_site = KT_COOKIE_SAMESITE_NONE;
	assert_int_equal(kt_http_set_cookie(req, "sid", "x", &o),
			 KT_ERR_INVALID);
	o.secure = 1;
	o.same_site = (enum kt_cookie_samesite)7;
	assert_int_equal(kt_http_set_cookie(req, "sid", "x", &o),
			 KT_ERR_INVALID);
	assert_int_equal(kt_http_clear_cookie(req, "a b", NULL),
			 KT_ERR_INVALID);
	/* Nothing was added by any of these. */
	assert_null(first_header(h, "Set-Cookie", 0));
	evhttp_request_free(req);
}

static void test_client_ip_no_connection(void **state)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	char ip[64] = "junk";

	assert_int_equal(kt_http_client_ip(req, ip, sizeof(ip)),
			 KT_ERR_NOTFOUND);
	assert_string_equal(ip, "");
	assert_int_equal(kt_http_client_ip(NULL, ip, sizeof(ip)),
			 KT_ERR_NOTFOUND);
	evhttp_request_free(req);
}

/* ------------------------------------------------------------------ */
/* The send helpers on a real evhttp server on 127.0.0.1                */

struct server {
	struct event_base *base;
	struct evhttp *http;
	int port;
};

struct response {
	int done;
	int code;
	char reason[64];
	struct evkeyvalq headers;
	char *body;
};

static struct server srv;
/* What the server's handler does for the current test. */
static void (*handler)(struct evhttp_request *req);

static void server_cb(struct evhttp_request *req, void *arg)
{
	handler(req);
}

static int server_setup(void **state)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);

	srv.base = event_base_new();
	srv.http = evhttp_new(srv.base);
	if (srv.base == NULL || srv.http == NULL)
		return -1;
	bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
	if (bs == NULL)
		return -1;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
			&slen) != 0)
		return -1;
	srv.port = ntohs(sin.sin_port);
	evhttp_set_gencb(srv.http, server_cb, NULL);
	return 0;
}

static int server_teardown(void **state)
{
	evhttp_free(srv.http);
	event_base_free(srv.base);
	return 0;
}

static void client_cb(struct evhttp_request *req, void *arg)
{
	struct response *r = arg;
	struct evbuffer *in;
	size_t n;

	r->done = 1;
	event_base_loopbreak(srv.base);
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		r->code = -1;
		return;
	}
	r->code = evhttp_request_get_response_code(req);
	snprintf(r->reason, sizeof(r->reason), "%s",
		 evhttp_request_get_response_code_line(req));
	for (struct evkeyval *kv =
		 evhttp_request_get_input_headers(req)->tqh_first;
	     kv; kv = kv->next.tqe_next)
		evhttp_add_header(&r->headers, kv->key, kv->value);
	in = evhttp_request_get_input_buffer(req);
	n = evbuffer_get_length(in);
	r->body = calloc(1, n + 1);
	evbuffer_remove(in, r->body, n);
}

/* GET path from our server with handler h; fills *r. */
/* A request from local (a loopback source address), or the default. */
static void fetch_from(void (*h)(struct evhttp_request *), const char *path,
		       struct response *r, const char *local)
{
	struct evhttp_connection *c;
	struct evhttp_request *req;

	memset(r, 0, sizeof(*r));
	TAILQ_INIT(&r->headers);
	handler = h;
	c = evhttp_connection_base_new(srv.base, NULL, "127.0.0.1",
				       (ev_uint16_t)srv.port);
	assert_non_null(c);
	if (local != NULL)
		evhttp_connection_set_local_address(c, local);
	req = evhttp_request_new(client_cb, r);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
			  "127.0.0.1");
	assert_int_equal(evhttp_make_request(c, req, EVHTTP_REQ_GET, path), 0);
	while (!r->done)
		event_base_dispatch(srv.base);
	evhttp_connection_free(c);
	assert_int_not_equal(r->code, -1);
}

static void fetch(void (*h)(struct evhttp_request *), const char *path,
		  struct response *r)
{
	fetch_from(h, path, r, NULL);
}

static void response_free(struct response *r)
{
	evhttp_clear_headers(&r->headers);
	free(r->body);
}

static const char *hdr(struct response *r, const char *key)
{
	return evhttp_find_header(&r->headers, key);
}

static int header_count(struct response *r, const char *key)
{
	int n = 0;
	while (first_header(&r->headers, key, n) != NULL)
		n++;
	return n;
}

/* One Date header, IMF-fixdate (RFC 9110 §5.6.7), within seconds of now. */
static void assert_date(struct response *r)
{
	const char *d = hdr(r, "Date");
	struct tm tm;
	char *end;
	time_t t;

	assert_int_equal(header_count(r, "Date"), 1);
	assert_non_null(d);
	assert_int_equal(strlen(d), 29);
	memset(&tm, 0, sizeof(tm));
	end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	assert_non_null(end);
	assert_int_equal(*end, '\0');
	t = timegm(&tm);
	assert_true(t >= time(NULL) - 5 && t <= time(NULL) + 1);
}

static void assert_json_no_store(struct response *r)
{
	assert_date(r);
	assert_string_equal(hdr(r, "Content-Type"),
			    "application/json; charset=utf-8");
	assert_string_equal(hdr(r, "Cache-Control"), "no-store");
	assert_string_equal(hdr(r, "Pragma"), "no-cache");
	assert_string_equal(hdr(r, "X-Content-Type-Options"), "nosniff");
}

static void h_json(struct evhttp_request *req)
{
	kt_http_send_json(req, 200,
			  json_pack("{s:s, s:i}", "sub", "ä<", "n", 1));
}

static void h_json_null(struct evhttp_request *req)
{
	kt_http_send_json(req, 200, NULL);
}

static void test_send_json(void **state)
{
	struct response r;

	fetch(h_json, "/json", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.reason, "OK");
	assert_json_no_store(&r);
	assert_string_equal(r.body, "{\"sub\":\"ä<\",\"n\":1}");
	response_free(&r);

	fetch(h_json_null, "/json", &r);
	assert_int_equal(r.code, 500);
	assert_string_equal(r.reason, "Internal Server Error");
	assert_json_no_store(&r);
	assert_string_equal(r.body, "{\"error\":\"server_error\"}");
	response_free(&r);
}

static void h_json_str_cached(struct evhttp_request *req)
{
	kt_http_send_json_str(req, 200, "{\"keys\":[]}", 3600);
}

static void h_json_str_nocache(struct evhttp_request *req)
{
	kt_http_send_json_str(req, 200, "{}", 0);
}

static void test_send_json_str(void **state)
{
	struct response r;

	fetch(h_json_str_cached, "/jwks", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(hdr(&r, "Content-Type"),
			    "application/json; charset=utf-8");
	assert_string_equal(hdr(&r, "Cache-Control"), "public, max-age=3600");
	assert_null(hdr(&r, "Pragma"));
	assert_string_equal(r.body, "{\"keys\":[]}");
	response_free(&r);

	fetch(h_json_str_nocache, "/x", &r);
	assert_json_no_store(&r);
	assert_string_equal(r.body, "{}");
	response_free(&r);
}

/* A document sent by reference: libevent hands it back exactly once. */
static const char ref_doc[] = "{\"issuer\":\"https://id.example\"}";
static int ref_released;
static const void *ref_released_data;

static void ref_release(const void *data, size_t len, void *arg)
{
	assert_int_equal(len, sizeof(ref_doc) - 1);
	assert_ptr_equal(arg, &ref_released);
	ref_released++;
	ref_released_data = data;
}

static void h_json_ref(struct evhttp_request *req)
{
	kt_http_send_json_ref(req, 200, ref_doc, sizeof(ref_doc) - 1, 300,
			      ref_release, &ref_released);
}

static void test_send_json_ref(void **state)
{
	struct response r;

	ref_released = 0;
	fetch(h_json_ref, "/.well-known/openid-configuration", &r);
	assert_int_equal(r.code, 200);
	assert_date(&r);
	assert_string_equal(hdr(&r, "Content-Type"),
			    "application/json; charset=utf-8");
	assert_string_equal(hdr(&r, "Cache-Control"), "public, max-age=300");
	assert_string_equal(hdr(&r, "X-Content-Type-Options"), "nosniff");
	assert_null(hdr(&r, "Pragma"));
	assert_string_equal(r.body, ref_doc);
	response_free(&r);
	/* Written and drained by the time the client has it all. */
	assert_int_equal(ref_released, 1);
	assert_ptr_equal(ref_released_data, ref_doc);
}

static void h_oauth_400(struct evhttp_request *req)
{
	kt_http_send_oauth_error(req, 400, "invalid_request",
				 "parameter \"x\\\" is\r\nbad \xc3\xa4");
}

static void h_oauth_401(struct evhttp_request *req)
{
	kt_http_send_oauth_error(req, 401, "invalid_client", NULL);
}

static void test_send_oauth_error(void **state)
{
	struct response r;

	fetch(h_oauth_400, "/token", &r);
	assert_int_equal(r.code, 400);
	assert_string_equal(r.reason, "Bad Request");
	assert_json_no_store(&r);
	assert_null(hdr(&r, "WWW-Authenticate"));
	/* Characters outside RFC 6749 5.2's set are replaced. */
	assert_string_equal(
	    r.body, "{\"error\":\"invalid_request\",\"error_description\":"
		    "\"parameter ?x?? is??bad ??\"}");
	response_free(&r);

	fetch(h_oauth_401, "/token", &r);
	assert_int_equal(r.code, 401);
	assert_json_no_store(&r);
	assert_string_equal(hdr(&r, "WWW-Authenticate"),
			    "Basic realm=\"kontor\"");
	assert_string_equal(r.body, "{\"error\":\"invalid_client\"}");
	response_free(&r);
}

static void h_bearer(struct evhttp_request *req)
{
	kt_http_send_bearer_error(req, 401, "invalid_token",
				  "expired\", error=\"x\r\nSet-Cookie: a=b");
}

static void h_bearer_none(struct evhttp_request *req)
{
	kt_http_send_bearer_error(req, 401, NULL, "ignored");
}

static void h_bearer_nodesc(struct evhttp_request *req)
{
	kt_http_send_bearer_error(req, 400, "invalid_request", NULL);
}

static void test_send_bearer_error(void **state)
{
	struct response r;

	fetch(h_bearer, "/userinfo", &r);
	assert_int_equal(r.code, 401);
	assert_json_no_store(&r);
	assert_string_equal(
	    hdr(&r, "WWW-Authenticate"),
	    "Bearer realm=\"kontor\", error=\"invalid_token\", "
	    "error_description=\"expired?, error=?x??Set-Cookie: "
	    "a=b\"");
	assert_null(hdr(&r, "Set-Cookie"));
	assert_string_equal(r.body, "{\"error\":\"invalid_token\"}");
	response_free(&r);

	fetch(h_bearer_none, "/userinfo", &r);
	assert_int_equal(r.code, 401);
	assert_string_equal(hdr(&r, "WWW-Authenticate"),
			    "Bearer realm=\"kontor\"");
	assert_string_equal(hdr(&r, "Cache-Control"), "no-store");
	assert_string_equal(r.body, "");
	response_free(&r);

	fetch(h_bearer_nodesc, "/userinfo", &r);
	assert_int_equal(r.code, 400);
	assert_string_equal(
	    hdr(&r, "WWW-Authenticate"),
	    "Bearer realm=\"kontor\", error=\"invalid_request\"");
	assert_string_equal(r.body, "{\"error\":\"invalid_request\"}");
	response_free(&r);
}

static const char *html_extra;

static void h_html(struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, "<p>hi</p>");
	kt_http_set_cookie(req, "sid", "abc", NULL);
	kt_http_set_cookie(req, "csrf", "def", NULL);
	kt_http_send_html(req, 200, b, html_extra);
	evbuffer_free(b);
}

/* The policy starts with default-src and the stylesheet hash. */
static char *expected_csp(const char *rest)
{
	char *s = malloc(1024);
	snprintf(s, 1024, "default-src 'none'; style-src %s%s",
		 kt_html_style_csp_source(), rest);
	return s;
}

static void test_send_html(void **state)
{
	struct response r;
	char *csp;

	html_extra = NULL;
	fetch(h_html, "/login", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "<p>hi</p>");
	assert_string_equal(hdr(&r, "Content-Type"),
			    "text/html; charset=utf-8");
	csp = expected_csp("; "
			   "form-action 'self'; frame-ancestors 'none'; "
			   "base-uri 'none'");
	assert_string_equal(hdr(&r, "Content-Security-Policy"), csp);
	free(csp);
	assert_string_equal(hdr(&r, "X-Frame-Options"), "DENY");
	assert_string_equal(hdr(&r, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(hdr(&r, "Referrer-Policy"), "no-referrer");
	assert_string_equal(hdr(&r, "Cache-Control"), "no-store");
	assert_string_equal(hdr(&r, "Pragma"), "no-cache");
	assert_int_equal(header_count(&r, "Content-Security-Policy"), 1);
	assert_int_equal(header_count(&r, "Set-Cookie"), 2);
	assert_string_equal(first_header(&r.headers, "Set-Cookie", 1),
			    "csrf=def; Path=/; Secure; HttpOnly; SameSite=Lax");
	response_free(&r);

	/* Extra sources merge into existing directives, new ones append. */
	html_extra = "script-src 'sha256-abc='; form-action https://rp.example;"
		     " frame-ancestors https://portal.example ;";
	fetch(h_html, "/cb", &r);
	csp = expected_csp("; "
			   "form-action 'self' https://rp.example; "
			   "frame-ancestors https://portal.example; "
			   "base-uri 'none'; script-src 'sha256-abc='");
	assert_string_equal(hdr(&r, "Content-Security-Policy"), csp);
	free(csp);
	response_free(&r);

	/* Anything that could break out of the header is ignored. */
	csp = expected_csp("; "
			   "form-action 'self'; frame-ancestors 'none'; "
			   "base-uri 'none'");
	html_extra = "script-src *\r\nSet-Cookie: a=b";
	fetch(h_html, "/x", &r);
	assert_string_equal(hdr(&r, "Content-Security-Policy"), csp);
	assert_int_equal(header_count(&r, "Set-Cookie"), 2);
	response_free(&r);
	html_extra = "script-src *, default-src *";
	fetch(h_html, "/x", &r);
	assert_string_equal(hdr(&r, "Content-Security-Policy"), csp);
	response_free(&r);
	html_extra = "Script-Src *";
	fetch(h_html, "/x", &r);
	assert_string_equal(hdr(&r, "Content-Security-Policy"), csp);
	response_free(&r);
	free(csp);
}

static int redirect_status;
static const char *redirect_to;

static void h_redirect(struct evhttp_request *req)
{
	kt_http_set_cookie(req, "sid", "abc", NULL);
	kt_http_redirect(req, redirect_status, redirect_to);
}

static void test_redirect(void **state)
{
	struct response r;

	redirect_status = 302;
	redirect_to = "https://rp.example/cb?code=abc&state=x";
	fetch(h_redirect, "/authorize", &r);
	assert_int_equal(r.code, 302);
	assert_string_equal(r.reason, "Found");
	assert_string_equal(hdr(&r, "Location"), redirect_to);
	assert_string_equal(hdr(&r, "Referrer-Policy"), "no-referrer");
	assert_string_equal(hdr(&r, "Cache-Control"), "no-store");
	assert_string_equal(hdr(&r, "Set-Cookie"),
			    "sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax");
	response_free(&r);

	redirect_status = 303;
	fetch(h_redirect, "/login", &r);
	assert_int_equal(r.code, 303);
	assert_string_equal(r.reason, "See Other");
	response_free(&r);

	redirect_status = 307;
	fetch(h_redirect, "/login", &r);
	assert_int_equal(r.code, 302);
	response_free(&r);

	/* A location that could split the response becomes a bare 500. */
	redirect_status = 302;
	redirect_to = "https://rp.example/\r\nSet-Cookie: evil=1";
	fetch(h_redirect, "/authorize", &r);
	assert_int_equal(r.code, 500);
	assert_null(hdr(&r, "Location"));
	assert_null(hdr(&r, "Set-Cookie"));
	assert_string_equal(hdr(&r, "Cache-Control"), "no-store");
	response_free(&r);
	redirect_to = "";
	fetch(h_redirect, "/authorize", &r);
	assert_int_equal(r.code, 500);
	response_free(&r);
	redirect_to = NULL;
	fetch(h_redirect, "/authorize", &r);
	assert_int_equal(r.code, 500);
	response_free(&r);
}

static void h_client_ip(struct evhttp_request *req)
{
	char ip[64], small[4];

	assert_int_equal(kt_http_client_ip(req, small, sizeof(small)),
			 KT_ERR_LIMIT);
	assert_int_equal(kt_http_client_ip(req, ip, sizeof(ip)), KT_OK);
	kt_http_send_json(req, 200, json_pack("{s:s}", "ip", ip));
}

static void test_client_ip(void **state)
{
	struct response r;

	static const char *const from[] = {"127.10.200.9", "127.100.0.255",
					    "127.99.9.0", "127.255.1.19"};
	char want[64];

	fetch(h_client_ip, "/ip", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "{\"ip\":\"127.0.0.1\"}");
	response_free(&r);
	/* The dotted quad is formatted by hand: every digit count. */
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		fetch_from(h_client_ip, "/ip", &r, from[i]);
		assert_int_equal(r.code, 200);
		snprintf(want, sizeof(want), "{\"ip\":\"%s\"}", from[i]);
		assert_string_equal(r.body, want);
		response_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest parsing[] = {
	    cmocka_unit_test(test_cookie_basic),
	    cmocka_unit_test(test_cookie_names),
	    cmocka_unit_test(test_cookie_hostile),
	    cmocka_unit_test(test_auth_basic),
	    cmocka_unit_test(test_auth_clear_wipes),
	    cmocka_unit_test(test_auth_basic_rejects),
	    cmocka_unit_test(test_auth_bearer),
	    cmocka_unit_test(test_auth_other),
	    cmocka_unit_test(test_lang_pick),
	    cmocka_unit_test(test_urlencode),
	    cmocka_unit_test(test_url_add_params),
	    cmocka_unit_test(test_status_reason),
	    cmocka_unit_test(test_set_cookie),
	    cmocka_unit_test(test_set_cookie_rejects),
	    cmocka_unit_test(test_client_ip_no_connection),
	};
	const struct CMUnitTest server[] = {
	    cmocka_unit_test(test_send_json),
	    cmocka_unit_test(test_send_json_str),
	    cmocka_unit_test(test_send_json_ref),
	    cmocka_unit_test(test_send_oauth_error),
	    cmocka_unit_test(test_send_bearer_error),
	    cmocka_unit_test(test_send_html),
	    cmocka_unit_test(test_redirect),
	    cmocka_unit_test(test_client_ip),
	};
	int fails = cmocka_run_group_tests_name("parsing", parsing, NULL, NULL);
	fails += cmocka_run_group_tests_name("server", server, server_setup,
					     server_teardown);
	return fails;
}
