/*
 * kt_http_auth_parse: the Authorization header of token, introspection,
 * revocation and userinfo requests (client_secret_basic, Bearer).
 *
 * Invariants besides "no crash":
 *  - success: Basic has a non-empty client id and both parts within their
 *    bounds and NUL-terminated; Bearer is a non-empty RFC 6750 b64token
 *    within its bound; an empty header is NONE;
 *  - failure: the struct is back to NONE with nothing left in it;
 *  - a header over KT_HTTP_AUTH_HEADER_MAX is KT_ERR_LIMIT.
 */
#include "kontor/err.h"
#include "kontor/http.h"

#include "fuzz.h"

static int b64token(const char *t)
{
	size_t i = 0;

	while (t[i] &&
	       (strchr("-._~+/", t[i]) != NULL ||
		(t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		(t[i] >= '0' && t[i] <= '9')))
		i++;
	if (i == 0)
		return 0;
	while (t[i] == '=')
		i++;
	return t[i] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct kt_http_auth a;
	int rc;

	memset(&a, 'X', sizeof(a));
	rc = kt_http_auth_parse(s, &a);
	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_UNSUPPORTED ||
		    rc == KT_ERR_INVALID || rc == KT_ERR_LIMIT);
	if (strlen(s) > KT_HTTP_AUTH_HEADER_MAX)
		FUZZ_ASSERT(rc == KT_ERR_LIMIT);
	if (rc != KT_OK) {
		FUZZ_ASSERT(a.type == KT_HTTP_AUTH_NONE);
		FUZZ_ASSERT(a.client_id[0] == '\0' && a.secret[0] == '\0' &&
			    a.token[0] == '\0');
	} else if (s[0] == '\0') {
		FUZZ_ASSERT(a.type == KT_HTTP_AUTH_NONE);
	} else if (a.type == KT_HTTP_AUTH_BASIC) {
		FUZZ_ASSERT(memchr(a.client_id, '\0', sizeof(a.client_id)));
		FUZZ_ASSERT(memchr(a.secret, '\0', sizeof(a.secret)));
		FUZZ_ASSERT(a.client_id[0] != '\0');
		FUZZ_ASSERT(strlen(a.client_id) <= KT_HTTP_AUTH_ID_MAX);
		FUZZ_ASSERT(strlen(a.secret) <= KT_HTTP_AUTH_SECRET_MAX);
	} else {
		FUZZ_ASSERT(a.type == KT_HTTP_AUTH_BEARER);
		FUZZ_ASSERT(memchr(a.token, '\0', sizeof(a.token)));
		FUZZ_ASSERT(strlen(a.token) <= KT_HTTP_AUTH_TOKEN_MAX);
		FUZZ_ASSERT(b64token(a.token));
		FUZZ_ASSERT(strstr(s, a.token) != NULL);
	}
	kt_http_auth_clear(&a);
	FUZZ_ASSERT(a.type == KT_HTTP_AUTH_NONE && a.secret[0] == '\0' &&
		    a.token[0] == '\0');
	free(s);
	return 0;
}
