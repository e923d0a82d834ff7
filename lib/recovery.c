#include <string.h>

#include <openssl/crypto.h>

#include "kontor/err.h"
#include "kontor/recovery.h"
#include "kontor/util.h"

/*
 * Crockford's base32 symbols: 32 of them, so one random byte masked to
 * five bits picks a symbol without bias; no i, l, o (look like 1 and 0)
 * and no u (accidental words).
 */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Symbol for c after case folding and look-alike mapping, or 0. */
static char canonical(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	if (c == 'o')
		return '0';
	if (c == 'i' || c == 'l')
		return '1';
	if (c == 'u' || c == '\0')
		return 0;
	return memchr(alphabet, c, sizeof(alphabet) - 1) ? (char)c : 0;
}

int kt_recovery_normalise(const char *input,
			  char out[KT_RECOVERY_CODE_CHARS + 1])
{
	size_t len, n = 0;

	out[0] = '\0';
	if (input == NULL)
		return KT_ERR_INVALID;
	len = strnlen(input, KT_RECOVERY_INPUT_MAX + 1);
	if (len > KT_RECOVERY_INPUT_MAX)
		return KT_ERR_LIMIT;
	for (size_t i = 0; i < len; i++) {
		char c;

		if (input[i] == '-' || input[i] == ' ')
			continue;
		if ((c = canonical((unsigned char)input[i])) == 0 ||
		    n == KT_RECOVERY_CODE_CHARS) {
			OPENSSL_cleanse(out, KT_RECOVERY_CODE_CHARS + 1);
			out[0] = '\0';
			return KT_ERR_INVALID;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != KT_RECOVERY_CODE_CHARS) {
		OPENSSL_cleanse(out, KT_RECOVERY_CODE_CHARS + 1);
		out[0] = '\0';
		return KT_ERR_INVALID;
	}
	return KT_OK;
}

static int check_key_person(const uint8_t *key, size_t keylen,
			    const char *person_id, size_t *plen)
{
	if (key == NULL || keylen == 0 || person_id == NULL ||
	    *person_id == '\0')
		return KT_ERR_INVALID;
	*plen = strnlen(person_id, KT_RECOVERY_PERSON_MAX + 1);
	if (*plen > KT_RECOVERY_PERSON_MAX)
		return KT_ERR_LIMIT;
	return KT_OK;
}

/* HMAC of a normalised code; person id length already checked. */
static int hash_normalised(const uint8_t *key, size_t keylen,
			   const char *person_id, size_t plen, const char *norm,
			   char out[KT_RECOVERY_HASH_LEN + 1])
{
	uint8_t msg[KT_RECOVERY_PERSON_MAX + 1 + KT_RECOVERY_CODE_CHARS];
	uint8_t mac[KT_SHA256_LEN];
	int r;

	memcpy(msg, person_id, plen);
	msg[plen] = 0;
	memcpy(msg + plen + 1, norm, KT_RECOVERY_CODE_CHARS);
	r = kt_hmac_sha256(mac, key, keylen, msg,
			   plen + 1 + KT_RECOVERY_CODE_CHARS);
	if (r == KT_OK)
		kt_b64url_encode(out, mac, sizeof(mac));
	else
		out[0] = '\0';
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

int kt_recovery_hash(const uint8_t *key, size_t keylen, const char *person_id,
		     const char *input, char out[KT_RECOVERY_HASH_LEN + 1])
{
	char norm[KT_RECOVERY_CODE_CHARS + 1];
	size_t plen = 0;
	int r;

	out[0] = '\0';
	if ((r = check_key_person(key, keylen, person_id, &plen)) != KT_OK ||
	    (r = kt_recovery_normalise(input, norm)) != KT_OK)
		return r;
	r = hash_normalised(key, keylen, person_id, plen, norm, out);
	OPENSSL_cleanse(norm, sizeof(norm));
	return r;
}

int kt_recovery_generate(const uint8_t *key, size_t keylen,
			 const char *person_id, struct kt_recovery_code *codes,
			 size_t n)
{
	uint8_t raw[KT_RECOVERY_CODE_CHARS];
	char norm[KT_RECOVERY_CODE_CHARS + 1];
	size_t plen = 0;
	int r = KT_OK;

	if (codes == NULL || n == 0 || n > KT_RECOVERY_COUNT_MAX)
		return KT_ERR_INVALID;
	memset(codes, 0, n * sizeof(*codes));
	if ((r = check_key_person(key, keylen, person_id, &plen)) != KT_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct kt_recovery_code *c = &codes[i];

		if ((r = kt_random_bytes(raw, sizeof(raw))) != KT_OK)
			goto cleanup;
		for (size_t k = 0; k < KT_RECOVERY_CODE_CHARS; k++)
			norm[k] = alphabet[raw[k] & 31];
		norm[KT_RECOVERY_CODE_CHARS] = '\0';
		memcpy(c->code, norm, 5);
		c->code[5] = '-';
		memcpy(c->code + 6, norm + 5, 5);
		c->code[KT_RECOVERY_DISPLAY_LEN] = '\0';
		if ((r = hash_normalised(key, keylen, person_id, plen, norm,
					 c->hash)) != KT_OK)
			goto cleanup;
	}
cleanup:
	if (r != KT_OK)
		OPENSSL_cleanse(codes, n * sizeof(*codes));
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(norm, sizeof(norm));
	return r;
}

int kt_recovery_check(const uint8_t *key, size_t keylen, const char *person_id,
		      const char *input, const char *const *hashes, size_t n,
		      size_t *index)
{
	char h[KT_RECOVERY_HASH_LEN + 1];
	size_t found = 0, matched = 0;
	int r;

	if (index == NULL)
		return KT_ERR_INVALID;
	*index = (size_t)-1;
	if ((hashes == NULL && n > 0) || n > KT_RECOVERY_COUNT_MAX)
		return KT_ERR_INVALID;
	if ((r = kt_recovery_hash(key, keylen, person_id, input, h)) != KT_OK)
		return r;
	/*
	 * Compare with every entry, no early exit, and select the index with
	 * a mask, so the time does not tell which (or whether an) entry
	 * matched. Entry lengths are public (all are KT_RECOVERY_HASH_LEN).
	 */
	for (size_t i = 0; i < n; i++) {
		size_t eq;

		if (hashes[i] == NULL ||
		    strnlen(hashes[i], KT_RECOVERY_HASH_LEN + 1) !=
			KT_RECOVERY_HASH_LEN)
			continue;
		eq = (size_t)0 -
		     (size_t)(CRYPTO_memcmp(hashes[i], h,
					    KT_RECOVERY_HASH_LEN) == 0);
		found = (found & ~eq) | (i & eq);
		matched |= eq;
	}
	OPENSSL_cleanse(h, sizeof(h));
	if (!matched)
		return KT_ERR_DENIED;
	*index = found;
	return KT_OK;
}
