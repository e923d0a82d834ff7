/*
 * kt_uri_check_redirect: the open-redirect guard for registered redirect,
 * post-logout and back-channel URIs (dynamic registration makes them
 * attacker input). Checked with and without dev.allow_http_loopback, and
 * kt_uri_check_issuer alongside.
 *
 * The invariants are an independent, deliberately naive model of what an
 * accepted URI looks like, so that a parser bug that lets something odd
 * through shows up as a failed assertion rather than silently:
 *  - at most KT_URI_MAX_LEN bytes of printable ASCII, none of the
 *    characters RFC 3986 excludes, no backslash, no fragment;
 *  - "https://" (any case), or "http://" only with loopback allowed and a
 *    loopback host;
 *  - an authority without '@', a host of [A-Za-z0-9.-] or in brackets;
 *  - no empty path segment but a final one, no "." or ".." segment (also
 *    as %2e or with ";params"), no %2f, %5c or %00..%1f;
 *  - monotonic: accepted without loopback => accepted with it; an issuer
 *    is a redirect URI without query and trailing slash.
 */
#include <ctype.h>
#include <strings.h>

#include "kontor/err.h"
#include "kontor/uri.h"

#include "fuzz.h"

static void check_accepted(const char *u, int loopback)
{
	const char *auth, *end, *path, *q;
	size_t n = strlen(u);

	FUZZ_ASSERT(n <= KT_URI_MAX_LEN);
	for (const char *c = u; *c; c++) {
		FUZZ_ASSERT(*c > 0x20 && *c < 0x7f);
		FUZZ_ASSERT(strchr("\\\"<>^`{|}#", *c) == NULL);
	}
	if (strncasecmp(u, "https://", 8) == 0) {
		auth = u + 8;
	} else {
		FUZZ_ASSERT(loopback && strncasecmp(u, "http://", 7) == 0);
		auth = u + 7;
	}
	end = auth + strcspn(auth, "/?");
	FUZZ_ASSERT(end > auth);
	FUZZ_ASSERT(memchr(auth, '@', (size_t)(end - auth)) == NULL);
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));
		FUZZ_ASSERT(close != NULL);
		for (const char *c = auth + 1; c < close; c++)
			FUZZ_ASSERT(isxdigit((unsigned char)*c) || *c == ':' ||
				    *c == '.');
	} else {
		for (const char *c = auth; c < end && *c != ':'; c++)
			FUZZ_ASSERT(isalnum((unsigned char)*c) || *c == '.' ||
				    *c == '-');
	}
	if (strncasecmp(u, "http://", 7) == 0) {
		size_t hl = *auth == '[' ? strcspn(auth, "]") + 1
					 : strcspn(auth, ":/?");
		FUZZ_ASSERT(
		    (hl == 9 && strncmp(auth, "127.0.0.1", 9) == 0) ||
		    (hl == 5 && strncmp(auth, "[::1]", 5) == 0) ||
		    (hl == 9 && strncasecmp(auth, "localhost", 9) == 0));
	}

	/* Percent-encodings anywhere: well-formed, no control characters,
	 * no backslash; in the path no encoded slash either. */
	path = end;
	q = path + strcspn(path, "?");
	for (const char *c = u; *c; c++) {
		if (*c != '%')
			continue;
		FUZZ_ASSERT(isxdigit((unsigned char)c[1]) &&
			    isxdigit((unsigned char)c[2]));
		FUZZ_ASSERT(c[1] != '0' && c[1] != '1');
		FUZZ_ASSERT(strncasecmp(c, "%7f", 3) != 0);
		FUZZ_ASSERT(strncasecmp(c, "%5c", 3) != 0);
		if (c < q)
			FUZZ_ASSERT(strncasecmp(c, "%2f", 3) != 0);
	}
	while (path < q) {
		const char *seg = path + 1, *next = seg;
		char buf[KT_URI_MAX_LEN + 1];
		size_t bl = 0;

		FUZZ_ASSERT(*path == '/');
		while (next < q && *next != '/')
			next++;
		/* Empty segment: only a final trailing slash. */
		if (next == seg)
			FUZZ_ASSERT(next == q);
		/* Decode %2e, drop ";params", compare. */
		for (const char *c = seg; c < next && *c != ';'; c++) {
			if (strncasecmp(c, "%2e", 3) == 0 && c + 2 < next) {
				buf[bl++] = '.';
				c += 2;
			} else {
				buf[bl++] = *c;
			}
		}
		buf[bl] = '\0';
		FUZZ_ASSERT(strcmp(buf, ".") != 0 && strcmp(buf, "..") != 0);
		path = next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int ok[2];

	for (int lb = 0; lb < 2; lb++) {
		const char *reason = "unset";
		int rc = kt_uri_check_redirect(s, lb, &reason);
		FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_INVALID ||
			    rc == KT_ERR_LIMIT);
		ok[lb] = rc == KT_OK;
		if (rc == KT_OK) {
			check_accepted(s, lb);
		} else {
			FUZZ_ASSERT(reason != NULL && reason[0] != '\0' &&
				    strcmp(reason, "unset") != 0);
			if (strlen(s) > KT_URI_MAX_LEN)
				FUZZ_ASSERT(rc == KT_ERR_LIMIT);
		}
		if (kt_uri_check_issuer(s, lb, NULL) == KT_OK) {
			FUZZ_ASSERT(rc == KT_OK);
			FUZZ_ASSERT(strchr(s, '?') == NULL);
			FUZZ_ASSERT(s[strlen(s) - 1] != '/');
		}
	}
	if (ok[0])
		FUZZ_ASSERT(ok[1]);
	FUZZ_ASSERT(kt_uri_equal(s, s));
	free(s);
	return 0;
}
