#include <string.h>

#include <openssl/crypto.h>

#include "kontor/err.h"
#include "kontor/pairwise.h"
#include "kontor/util.h"

int kt_pairwise_id(const uint8_t *key, size_t keylen, const char *kind,
		   const char *sector, const char *local,
		   char out[KT_PAIRWISE_LEN + 1])
{
	uint8_t mac[KT_SHA256_LEN];
	char msg[640];
	size_t k, s, l;
	int rc;

	out[0] = '\0';
	if (key == NULL || keylen < 16 || kind == NULL || sector == NULL ||
	    local == NULL || *sector == '\0' || *local == '\0')
		return KT_ERR_INVALID;
	k = strlen(kind);
	s = strlen(sector);
	l = strlen(local);
	if (k > 32 || s > 300 || l > 300)
		return KT_ERR_LIMIT;
	/* The NUL separators keep ("ab","c") and ("a","bc") apart. */
	memcpy(msg, kind, k + 1);
	memcpy(msg + k + 1, sector, s + 1);
	memcpy(msg + k + s + 2, local, l);
	rc = kt_hmac_sha256(mac, key, keylen, msg, k + s + l + 2);
	if (rc == KT_OK)
		kt_b64url_encode(out, mac, sizeof(mac));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}
