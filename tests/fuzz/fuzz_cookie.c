/*
 * kt_http_cookie_get: the raw Cookie request header, which any client
 * sets. Input: "<cookie name>\n<header>", or just a header (then the
 * name is the session cookie's). Looked up with a roomy and a tight
 * output buffer.
 *
 * Invariants besides "no crash":
 *  - success: the value fits, holds only RFC 6265 cookie-octets and
 *    occurs in the header as it is;
 *  - failure: the output is an empty string; a header over
 *    KT_HTTP_COOKIE_HEADER_MAX is always KT_ERR_LIMIT;
 *  - a value found with the big buffer is found the same with the small
 *    one when it fits there.
 */
#include "kontor/err.h"
#include "kontor/http.h"

#include "fuzz.h"

static int cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
	       (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

static int lookup(const char *header, const char *name, char *out, size_t cap)
{
	int rc;

	memset(out, 'X', cap);
	rc = kt_http_cookie_get(header, name, out, cap);
	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_NOTFOUND ||
		    rc == KT_ERR_LIMIT || rc == KT_ERR_INVALID);
	FUZZ_ASSERT(memchr(out, '\0', cap) != NULL);
	if (rc != KT_OK) {
		FUZZ_ASSERT(out[0] == '\0');
		if (strlen(header) > KT_HTTP_COOKIE_HEADER_MAX)
			FUZZ_ASSERT(rc == KT_ERR_LIMIT);
		return rc;
	}
	FUZZ_ASSERT(strlen(header) <= KT_HTTP_COOKIE_HEADER_MAX);
	for (const char *c = out; *c; c++)
		FUZZ_ASSERT(cookie_octet((unsigned char)*c));
	FUZZ_ASSERT(strstr(header, out) != NULL);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *nl = strchr(s, '\n');
	const char *name = "__Host-kontor", *header = s;
	char big[4096], small[9];
	int rc_big, rc_small;

	if (nl != NULL) {
		*nl = '\0';
		name = s;
		header = nl + 1;
	}
	rc_big = lookup(header, name, big, sizeof(big));
	rc_small = lookup(header, name, small, sizeof(small));
	if (rc_big == KT_OK && strlen(big) < sizeof(small)) {
		FUZZ_ASSERT(rc_small == KT_OK);
		FUZZ_ASSERT(strcmp(big, small) == 0);
	}
	if (rc_small == KT_OK) {
		FUZZ_ASSERT(rc_big == KT_OK);
		FUZZ_ASSERT(strcmp(big, small) == 0);
	}
	/* No header: no cookie (or a name refused as such). */
	rc_big = kt_http_cookie_get(NULL, name, big, sizeof(big));
	FUZZ_ASSERT(rc_big == KT_ERR_NOTFOUND || rc_big == KT_ERR_INVALID);
	free(s);
	return 0;
}
