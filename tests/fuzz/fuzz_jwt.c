/*
 * kt_jwt_decode_unverified: the peek into a client assertion (or an
 * id_token_hint) that picks the verification key. Bounded by the default
 * limit and by a small one.
 *
 * Invariants besides "no crash":
 *  - success: exactly three dot-separated parts, within max_len, header and
 *    payload are JSON objects;
 *  - success with the payload implies success for the header alone;
 *  - failure: nothing returned, a message; over max_len is KT_ERR_LIMIT.
 */
#include <jansson.h>

#include "kontor/err.h"
#include "kontor/jose.h"

#include "fuzz.h"

static int decode(const char *s, size_t max, int want_payload)
{
	json_t *h = (json_t *)1, *p = (json_t *)1;
	struct kt_error err;
	size_t dots = 0;
	int rc;

	rc = kt_jwt_decode_unverified(s, max, &h, want_payload ? &p : NULL,
				      &err);
	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_LIMIT || rc == KT_ERR_INVALID ||
		    rc == KT_ERR_NOMEM);
	if (strlen(s) > max)
		FUZZ_ASSERT(rc == KT_ERR_LIMIT);
	if (rc != KT_OK) {
		FUZZ_ASSERT(h == NULL || h == (json_t *)1);
		FUZZ_ASSERT(!want_payload || p == NULL || p == (json_t *)1);
		FUZZ_ASSERT(err.msg[0] != '\0');
		return rc;
	}
	for (const char *c = s; *c; c++)
		dots += *c == '.';
	FUZZ_ASSERT(dots == 2);
	FUZZ_ASSERT(json_is_object(h));
	json_decref(h);
	if (want_payload) {
		FUZZ_ASSERT(json_is_object(p));
		json_decref(p);
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	if (decode(s, KT_JOSE_MAX_COMPACT, 1) == KT_OK)
		FUZZ_ASSERT(decode(s, KT_JOSE_MAX_COMPACT, 0) == KT_OK);
	else
		decode(s, KT_JOSE_MAX_COMPACT, 0);
	decode(s, 64, 1);
	free(s);
	return 0;
}
