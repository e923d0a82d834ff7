#include <string.h>

#include "kontor/err.h"
#include "kontor/pkce.h"
#include "kontor/util.h"

int kt_pkce_syntax_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 43 || n > 128)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~'))
			return 0;
	}
	return 1;
}

int kt_pkce_verify_s256(const char *verifier, const char *challenge)
{
	uint8_t digest[KT_SHA256_LEN];
	char enc[48];

	if (!kt_pkce_syntax_ok(verifier) || challenge == NULL)
		return KT_ERR_INVALID;
	kt_sha256(digest, verifier, strlen(verifier));
	kt_b64url_encode(enc, digest, sizeof(digest));
	return kt_ct_streq(enc, challenge) ? KT_OK : KT_ERR_DENIED;
}
