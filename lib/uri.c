#include <arpa/inet.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/util.h"
#include "kontor/uri.h"

/*
 * A hand-written checker rather than a general URL parser: it accepts only
 * what it fully understands and rejects everything else, so it never has
 * to decide between two readings of an ambiguous string.
 */

static const char R_NOT_HTTPS[] = "not an absolute https URL";
static const char R_TOO_LONG[] = "longer than 2000 characters";
static const char R_CHARS[] = "contains forbidden characters";
static const char R_PCT[] = "contains an invalid percent-encoding";
static const char R_FRAGMENT[] = "must not contain a fragment";
static const char R_USERINFO[] = "must not contain user information";
static const char R_NO_HOST[] = "has no host";
static const char R_HOST[] = "has an invalid host";
static const char R_PORT[] = "has an invalid port";
static const char R_HTTP[] =
    "http is allowed only for 127.0.0.1, [::1] and localhost";
static const char R_DOTSEG[] = "must not contain dot segments";
static const char R_EMPTYSEG[] = "must not contain empty path segments";
static const char R_ENCSLASH[] =
    "must not contain an encoded slash in the path";
static const char R_QUERY[] = "must not contain a query";
static const char R_TRAILING[] = "must not end with a slash";

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 3986 unreserved, gen-delims, sub-delims and '%'. */
static int uri_char_ok(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return 1;
	return c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL;
}

static int set_reason(const char **reason, const char *r, int code)
{
	if (reason != NULL)
		*reason = r;
	return code;
}

/* Characters and percent-encodings, over the whole string. */
static const char *check_chars(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!uri_char_ok((unsigned char)*p))
			return R_CHARS;
	for (const char *p = s; *p; p++) {
		int hi, lo, v;

		if (*p != '%')
			continue;
		hi = kt_hex_value((unsigned char)p[1]);
		lo = hi < 0 ? -1 : kt_hex_value((unsigned char)p[2]);
		if (hi < 0 || lo < 0)
			return R_PCT;
		v = hi * 16 + lo;
		/* An encoded control or backslash is the same trick as the raw
		 * character, one decoding step later. */
		if (v < 0x20 || v == 0x7f || v == '\\')
			return R_CHARS;
		p += 2;
	}
	return NULL;
}

/*
 * WHATWG URL "ends in a number": a last label that is all digits or 0x-hex
 * makes browsers parse the whole host as an IPv4 address, in octal, hex or
 * as a single 32-bit number. Only canonical dotted-decimal is allowed then.
 */
static int label_is_numeric(const char *l, size_t n)
{
	size_t i = 0;

	if (n >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
		for (i = 2; i < n; i++)
			if (kt_hex_value((unsigned char)l[i]) < 0)
				return 0;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!is_digit((unsigned char)l[i]))
			return 0;
	return n > 0;
}

static int ipv4_ok(const char *h, size_t n)
{
	char buf[16];
	struct in_addr a;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	/* glibc inet_pton accepts exactly four decimal parts without
	 * leading zeros, which is the canonical form. */
	return inet_pton(AF_INET, buf, &a) == 1;
}

static int ipv6_ok(const char *h, size_t n)
{
	char buf[64];
	struct in6_addr a;

	if (n >= sizeof(buf))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (kt_hex_value((unsigned char)h[i]) < 0 && h[i] != ':' &&
		    h[i] != '.')
			return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* A DNS name of LDH labels, or dotted-decimal IPv4. No trailing dot. */
static int regname_ok(const char *h, size_t n)
{
	size_t start = 0, last = 0;

	if (n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		size_t len;

		if (i < n && h[i] != '.') {
			unsigned char c = (unsigned char)h[i];
			if (!is_alpha(c) && !is_digit(c) && c != '-')
				return 0;
			continue;
		}
		len = i - start;
		if (len == 0 || len > 63 || h[start] == '-' || h[i - 1] == '-')
			return 0;
		last = start;
		start = i + 1;
	}
	if (label_is_numeric(h + last, n - last))
		return ipv4_ok(h, n);
	return 1;
}

static int port_ok(const char *p, size_t n)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static int is_loopback(const char *h, size_t n)
{
	static const char *const names[] = {"127.0.0.1", "[::1]", "localhost"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && memcmp(names[i], h, n) == 0)
			return 1;
	return 0;
}

/*
 * A segment is a dot segment when, with %2e decoded and any ";params"
 * dropped, it is "." or "..": servers such as Tomcat treat "..;" as "..",
 * which turned "/cb/..;/admin" into a path traversal (Keycloak
 * CVE-2026-3872).
 */
static int is_dot_segment(const char *s, size_t n)
{
	size_t dots = 0, i = 0;

	while (i < n && s[i] != ';') {
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '%' && i + 2 < n && s[i + 1] == '2' &&
			   (s[i + 2] == 'e' || s[i + 2] == 'E')) {
			i += 3;
		} else {
			return 0;
		}
		dots++;
	}
	return dots == 1 || dots == 2;
}

static const char *check_path(const char *p, size_t n)
{
	size_t start;

	if (n == 0)
		return NULL;
	/* The authority ends at '/' or '?', so a path starts with '/'. */
	for (size_t i = 0; i + 2 < n; i++)
		if (p[i] == '%' && p[i + 1] == '2' &&
		    (p[i + 2] == 'f' || p[i + 2] == 'F'))
			return R_ENCSLASH;
	start = 1;
	for (size_t i = 1; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		/* Only the last segment may be empty (a trailing slash):
		 * "https://rp.example//evil.example" style paths are read
		 * as a network path by some redirect consumers. */
		if (i == start && i < n)
			return R_EMPTYSEG;
		if (is_dot_segment(p + start, i - start))
			return R_DOTSEG;
		start = i + 1;
	}
	return NULL;
}

static int check_url(const char *uri, int allow_http_loopback, int issuer,
		     const char **reason)
{
	const char *p, *auth, *auth_end, *host_end, *path_end, *r;
	size_t len, slen;
	int http = 0;

	if (reason != NULL)
		*reason = NULL;
	if (uri == NULL || *uri == '\0')
		return set_reason(reason, R_NOT_HTTPS, KT_ERR_INVALID);
	len = strnlen(uri, KT_URI_MAX_LEN + 1);
	if (len > KT_URI_MAX_LEN)
		return set_reason(reason, R_TOO_LONG, KT_ERR_LIMIT);
	if ((r = check_chars(uri)) != NULL)
		return set_reason(reason, r, KT_ERR_INVALID);
	if (strchr(uri, '#') != NULL)
		return set_reason(reason, R_FRAGMENT, KT_ERR_INVALID);

	/* Scheme, compared case-insensitively: "JavaScript:" is javascript. */
	for (p = uri;
	     is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) ||
	     *p == '+' || *p == '-' || *p == '.';
	     p++)
		;
	slen = (size_t)(p - uri);
	if (*p != ':' || !is_alpha((unsigned char)uri[0]))
		return set_reason(reason, R_NOT_HTTPS, KT_ERR_INVALID);
	if (slen == 5 && strncasecmp(uri, "https", 5) == 0)
		http = 0;
	else if (slen == 4 && strncasecmp(uri, "http", 4) == 0)
		http = 1;
	else
		return set_reason(reason, R_NOT_HTTPS, KT_ERR_INVALID);
	if (http && !allow_http_loopback)
		return set_reason(reason, R_NOT_HTTPS, KT_ERR_INVALID);
	if (p[1] != '/' || p[2] != '/')
		return set_reason(reason, R_NOT_HTTPS, KT_ERR_INVALID);

	auth = p + 3;
	auth_end = auth + strcspn(auth, "/?");
	if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL)
		return set_reason(reason, R_USERINFO, KT_ERR_INVALID);
	if (auth == auth_end)
		return set_reason(reason, R_NO_HOST, KT_ERR_INVALID);
	if (*auth == '[') {
		const char *close =
		    memchr(auth, ']', (size_t)(auth_end - auth));
		if (close == NULL ||
		    !ipv6_ok(auth + 1, (size_t)(close - auth - 1)) ||
		    (close + 1 != auth_end && close[1] != ':'))
			return set_reason(reason, R_HOST, KT_ERR_INVALID);
		host_end = close + 1;
	} else {
		host_end = memchr(auth, ':', (size_t)(auth_end - auth));
		if (host_end == NULL)
			host_end = auth_end;
		if (host_end == auth)
			return set_reason(reason, R_NO_HOST, KT_ERR_INVALID);
		if (!regname_ok(auth, (size_t)(host_end - auth)))
			return set_reason(reason, R_HOST, KT_ERR_INVALID);
	}
	if (host_end != auth_end &&
	    (*host_end != ':' ||
	     !port_ok(host_end + 1, (size_t)(auth_end - host_end - 1))))
		return set_reason(reason, R_PORT, KT_ERR_INVALID);
	if (http && !is_loopback(auth, (size_t)(host_end - auth)))
		return set_reason(reason, R_HTTP, KT_ERR_INVALID);

	path_end = auth_end + strcspn(auth_end, "?");
	if ((r = check_path(auth_end, (size_t)(path_end - auth_end))) != NULL)
		return set_reason(reason, r, KT_ERR_INVALID);
	if (issuer && *path_end == '?')
		return set_reason(reason, R_QUERY, KT_ERR_INVALID);
	if (issuer && path_end > auth_end && path_end[-1] == '/')
		return set_reason(reason, R_TRAILING, KT_ERR_INVALID);
	return KT_OK;
}

int kt_uri_check_redirect(const char *uri, int allow_http_loopback,
			  const char **reason)
{
	return check_url(uri, allow_http_loopback, 0, reason);
}

int kt_uri_check_issuer(const char *uri, int allow_http_loopback,
			const char **reason)
{
	return check_url(uri, allow_http_loopback, 1, reason);
}

int kt_uri_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return strcmp(a, b) == 0;
}
