#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/util.h"

/* Largest signature we produce or accept: RSA-8192. */
#define JOSE_SIG_MAX (KT_JOSE_RSA_MAX_BITS / 8)
/* base64url length of JOSE_SIG_MAX bytes, with room for the NUL. */
#define JOSE_SIG_B64_MAX ((JOSE_SIG_MAX + 2) / 3 * 4 + 1)
/* DER ECDSA-P256 signature: SEQUENCE of two INTEGERs of up to 33 bytes. */
#define JOSE_ES256_DER_MAX 72
#define JOSE_ES256_RAW 64
/* kid and typ of our own headers. */
#define JOSE_HDR_VALUE_MAX 128

enum jose_alg {
	JOSE_ALG_NONE = 0,
	JOSE_ALG_RS256,
	JOSE_ALG_ES256,
	JOSE_ALG_PS256,
};

static enum jose_alg alg_parse(const char *alg)
{
	if (alg == NULL)
		return JOSE_ALG_NONE;
	if (strcmp(alg, "RS256") == 0)
		return JOSE_ALG_RS256;
	if (strcmp(alg, "ES256") == 0)
		return JOSE_ALG_ES256;
	if (strcmp(alg, "PS256") == 0)
		return JOSE_ALG_PS256;
	return JOSE_ALG_NONE;
}

/*
 * Copy an untrusted string into a short, printable form for error messages:
 * those may reach logs and error_description, so no quotes, backslashes or
 * control bytes, and never more than ~40 characters.
 */
static const char *printable(char dst[48], const char *s)
{
	size_t i;

	if (s == NULL)
		return "(null)";
	for (i = 0; s[i] != '\0' && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] =
		    (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '\'')
			? '?'
			: (char)c;
	}
	if (s[i] != '\0') {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}

/* ---- thumbprints and JWK export ---- */

int kt_jwk_thumbprint(const json_t *jwk, char out[KT_JOSE_THUMBPRINT_LEN])
{
	static const char *const rsa_members[] = {"e", "kty", "n", NULL};
	static const char *const ec_members[] = {"crv", "kty", "x", "y", NULL};
	const char *const *members;
	json_t *canon = NULL;
	char *dump = NULL;
	uint8_t digest[KT_SHA256_LEN];
	const char *kty;
	int r;

	out[0] = '\0';
	if (!json_is_object(jwk))
		return KT_ERR_INVALID;
	kty = json_string_value(json_object_get(jwk, "kty"));
	if (kty == NULL)
		return KT_ERR_INVALID;
	if (strcmp(kty, "RSA") == 0)
		members = rsa_members;
	else if (strcmp(kty, "EC") == 0)
		members = ec_members;
	else
		return KT_ERR_UNSUPPORTED;

	if ((canon = json_object()) == NULL)
		return KT_ERR_NOMEM;
	for (size_t i = 0; members[i] != NULL; i++) {
		json_t *v = json_object_get(jwk, members[i]);
		if (!json_is_string(v)) {
			r = KT_ERR_INVALID;
			goto cleanup;
		}
		if (json_object_set(canon, members[i], v) != 0) {
			r = KT_ERR_NOMEM;
			goto cleanup;
		}
	}
	/*
	 * RFC 7638 3.3: members sorted by name, no whitespace. jansson's
	 * compact form uses bare ',' and ':' and, without JSON_ESCAPE_SLASH,
	 * escapes only what JSON requires, which is what the RFC asks for.
	 */
	dump = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
	if (dump == NULL) {
		r = KT_ERR_NOMEM;
		goto cleanup;
	}
	kt_sha256(digest, dump, strlen(dump));
	kt_b64url_encode(out, digest, sizeof(digest));
	r = KT_OK;
cleanup:
	free(dump);
	json_decref(canon);
	return r;
}

/* base64url of a big-endian integer, padded to pad bytes when pad > 0. */
static int bn_to_b64url(const BIGNUM *bn, size_t pad, char *out, size_t outcap)
{
	uint8_t buf[JOSE_SIG_MAX];
	int n = pad > 0 ? (int)pad : BN_num_bytes(bn);

	if (n <= 0 || (size_t)n > sizeof(buf) ||
	    outcap < kt_b64url_len((size_t)n) + 1)
		return KT_ERR_UNSUPPORTED;
	if (BN_bn2binpad(bn, buf, n) != n)
		return KT_ERR_CRYPTO;
	kt_b64url_encode(out, buf, (size_t)n);
	return KT_OK;
}

static int pkey_is_p256(EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (!EVP_PKEY_is_a(pkey, "EC"))
		return 0;
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					   group, sizeof(group), &glen) != 1)
		return 0;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int kt_jwk_from_pkey(EVP_PKEY *pkey, json_t **out)
{
	BIGNUM *a = NULL, *b = NULL;
	char s1[JOSE_SIG_B64_MAX];
	char s2[JOSE_SIG_B64_MAX];
	int r;

	*out = NULL;
	if (pkey == NULL)
		return KT_ERR_INVALID;
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a) !=
			1 ||
		    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b) !=
			1) {
			r = KT_ERR_CRYPTO;
			goto cleanup;
		}
		if ((r = bn_to_b64url(a, 0, s1, sizeof(s1))) != KT_OK ||
		    (r = bn_to_b64url(b, 0, s2, sizeof(s2))) != KT_OK)
			goto cleanup;
		*out = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", s1, "e",
				 s2);
	} else if (pkey_is_p256(pkey)) {
		/*
		 * The affine coordinates rather than the encoded point: they do
		 * not depend on the point conversion form the key was stored
		 * in.
		 */
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a) !=
			1 ||
		    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b) !=
			1) {
			r = KT_ERR_CRYPTO;
			goto cleanup;
		}
		if ((r = bn_to_b64url(a, 32, s1, sizeof(s1))) != KT_OK ||
		    (r = bn_to_b64url(b, 32, s2, sizeof(s2))) != KT_OK)
			goto cleanup;
		*out = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv",
				 "P-256", "x", s1, "y", s2);
	} else {
		r = KT_ERR_UNSUPPORTED;
		goto cleanup;
	}
	r = *out != NULL ? KT_OK : KT_ERR_NOMEM;
cleanup:
	BN_free(a);
	BN_free(b);
	ERR_clear_error();
	return r;
}

/* ---- ECDSA signature encodings ---- */

/*
 * OpenSSL produces DER (SEQUENCE { INTEGER r, INTEGER s }); JWS wants the
 * fixed-width r||s of RFC 7518 3.4. Parsed by hand, strictly, to spare the
 * three allocations of d2i_ECDSA_SIG on the token endpoint's hot path.
 */
static int ecdsa_der_to_raw(const uint8_t *der, size_t len,
			    uint8_t raw[JOSE_ES256_RAW])
{
	size_t off = 2;

	/* Short-form length: a P-256 signature is at most 72 bytes. */
	if (len < 8 || len > JOSE_ES256_DER_MAX || der[0] != 0x30 ||
	    der[1] != len - 2)
		return KT_ERR_CRYPTO;
	for (int i = 0; i < 2; i++) {
		const uint8_t *p;
		size_t n;

		if (off + 2 > len || der[off] != 0x02)
			return KT_ERR_CRYPTO;
		n = der[off + 1];
		off += 2;
		if (n == 0 || n > 33 || off + n > len)
			return KT_ERR_CRYPTO;
		p = der + off;
		off += n;
		while (n > 0 && *p == 0) {
			p++;
			n--;
		}
		if (n > 32)
			return KT_ERR_CRYPTO;
		memset(raw + 32 * i, 0, 32 - n);
		memcpy(raw + 32 * i + 32 - n, p, n);
	}
	return off == len ? KT_OK : KT_ERR_CRYPTO;
}

/* The reverse, for verification; returns the DER length. */
static size_t ecdsa_raw_to_der(const uint8_t raw[JOSE_ES256_RAW],
			       uint8_t der[JOSE_ES256_DER_MAX])
{
	size_t off = 2;

	for (int i = 0; i < 2; i++) {
		const uint8_t *p = raw + 32 * i;
		size_t n = 32;

		/* Minimal encoding, but an INTEGER has at least one byte. */
		while (n > 1 && *p == 0) {
			p++;
			n--;
		}
		der[off++] = 0x02;
		der[off++] = (uint8_t)(n + (*p & 0x80 ? 1 : 0));
		if (*p & 0x80)
			der[off++] = 0x00;
		memcpy(der + off, p, n);
		off += n;
	}
	der[0] = 0x30;
	der[1] = (uint8_t)(off - 2);
	return off;
}

/* ---- signing ---- */

/* Our header values are written into JSON unescaped, so keep them plain. */
static int header_value_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= JOSE_HDR_VALUE_MAX || c < 0x20 || c > 0x7e ||
		    c == '"' || c == '\\')
			return 0;
	}
	return i > 0;
}

static int key_fits_alg(EVP_PKEY *key, enum jose_alg alg)
{
	int bits;

	switch (alg) {
	case JOSE_ALG_RS256:
		if (!EVP_PKEY_is_a(key, "RSA"))
			return 0;
		bits = EVP_PKEY_get_bits(key);
		return bits >= KT_JOSE_RSA_MIN_BITS &&
		       bits <= KT_JOSE_RSA_MAX_BITS;
	case JOSE_ALG_ES256:
		return pkey_is_p256(key);
	default:
		return 0;
	}
}

/*
 * A signing or verification context for key: the bare EVP_PKEY_sign /
 * EVP_PKEY_verify over a SHA-256 digest, which is what
 * EVP_DigestSign/EVP_DigestVerify do inside, minus the per-call fetches of
 * the digest and the signature algorithm (OpenSSL 3 looks both up in a
 * locked method store on every EVP_DigestSignInit_ex). Prepared once, the
 * context can sign or verify any number of digests, one call at a time.
 */
static EVP_PKEY_CTX *pkey_ctx_new(EVP_PKEY *key, enum jose_alg alg, int sign)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);

	if (ctx == NULL)
		return NULL;
	if ((sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) != 1 ||
	    (alg == JOSE_ALG_RS256 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Prepared keys keep a few idle contexts per direction; a thread takes one
 * under the lock, signs without it and puts it back. More threads than
 * that at once just make (and free) their own.
 */
#define JOSE_CTX_POOL 16

struct jose_ctx_pool {
	EVP_PKEY_CTX *ctx[JOSE_CTX_POOL];
	size_t n;
};

struct kt_jws_key {
	EVP_PKEY *pkey;
	enum jose_alg alg;
	const char *alg_name;
	char kid[JOSE_HDR_VALUE_MAX + 1]; /* "" for none */
	size_t sig_len;			  /* raw JWS signature length */
	pthread_mutex_t lock;
	struct jose_ctx_pool pool[2]; /* [0] verify, [1] sign */
};

static EVP_PKEY_CTX *key_ctx_take(struct kt_jws_key *k, int sign)
{
	struct jose_ctx_pool *p = &k->pool[sign];
	EVP_PKEY_CTX *ctx = NULL;

	pthread_mutex_lock(&k->lock);
	if (p->n > 0)
		ctx = p->ctx[--p->n];
	pthread_mutex_unlock(&k->lock);
	return ctx != NULL ? ctx : pkey_ctx_new(k->pkey, k->alg, sign);
}

/* Only contexts whose last call succeeded go back into the pool. */
static void key_ctx_put(struct kt_jws_key *k, int sign, EVP_PKEY_CTX *ctx)
{
	struct jose_ctx_pool *p = &k->pool[sign];

	if (ctx == NULL)
		return;
	pthread_mutex_lock(&k->lock);
	if (p->n < JOSE_CTX_POOL) {
		p->ctx[p->n++] = ctx;
		ctx = NULL;
	}
	pthread_mutex_unlock(&k->lock);
	EVP_PKEY_CTX_free(ctx);
}

int kt_jws_key_new(EVP_PKEY *pkey, const char *alg, const char *kid,
		   struct kt_jws_key **out, struct kt_error *err)
{
	struct kt_jws_key *k = NULL;
	enum jose_alg a = alg_parse(alg);
	EVP_PKEY_CTX *ctx[2] = {NULL, NULL};

	*out = NULL;
	if (pkey == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_jws_key_new: missing key");
	if (a != JOSE_ALG_RS256 && a != JOSE_ALG_ES256) {
		char p[48];
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "alg '%s' is not supported for signing",
				    printable(p, alg));
	}
	if (!key_fits_alg(pkey, a))
		return kt_error_set(
		    err, KT_ERR_INVALID, "key does not fit alg %s (%s)", alg,
		    a == JOSE_ALG_RS256 ? "needs RSA of 2048..8192 bits"
					: "needs EC P-256");
	if (kid != NULL && !header_value_ok(kid))
		return kt_error_set(err, KT_ERR_INVALID,
				    "kid/typ must be 1..%d printable ASCII "
				    "characters without '\"' or '\\'",
				    JOSE_HDR_VALUE_MAX);
	/* One context each way now, so a key that cannot sign fails here. */
	if ((ctx[0] = pkey_ctx_new(pkey, a, 0)) == NULL ||
	    (ctx[1] = pkey_ctx_new(pkey, a, 1)) == NULL) {
		EVP_PKEY_CTX_free(ctx[0]);
		ERR_clear_error();
		return kt_error_set(err, KT_ERR_CRYPTO,
				    "key cannot sign and verify %s", alg);
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		EVP_PKEY_CTX_free(ctx[0]);
		EVP_PKEY_CTX_free(ctx[1]);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	EVP_PKEY_up_ref(pkey);
	k->pkey = pkey;
	k->alg = a;
	k->alg_name = a == JOSE_ALG_ES256 ? "ES256" : "RS256";
	if (kid != NULL)
		memcpy(k->kid, kid, strlen(kid) + 1);
	k->sig_len = a == JOSE_ALG_ES256 ? JOSE_ES256_RAW
					 : (size_t)EVP_PKEY_get_size(pkey);
	for (int i = 0; i < 2; i++) {
		k->pool[i].ctx[0] = ctx[i];
		k->pool[i].n = 1;
	}
	*out = k;
	return KT_OK;
}

void kt_jws_key_free(struct kt_jws_key *k)
{
	if (k == NULL)
		return;
	for (int i = 0; i < 2; i++)
		for (size_t j = 0; j < k->pool[i].n; j++)
			EVP_PKEY_CTX_free(k->pool[i].ctx[j]);
	pthread_mutex_destroy(&k->lock);
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* Append s (a header value already checked by header_value_ok). */
static size_t put_str(char *dst, size_t off, const char *s)
{
	size_t n = strlen(s);

	memcpy(dst + off, s, n);
	return off + n;
}

/*
 * The compact JWS: header, payload and the signature of both made by ctx
 * (a context from pkey_ctx_new for alg), its signature sig_len bytes long
 * in JWS form. Arguments are checked by the callers.
 */
static int sign_with(EVP_PKEY_CTX *ctx, enum jose_alg a, size_t sig_len,
		     const char *kid, const char *typ, const char *payload,
		     size_t len, char **out, struct kt_error *err)
{
	char *buf = NULL;
	char hdr[64 + 2 * JOSE_HDR_VALUE_MAX];
	uint8_t dgst[KT_SHA256_LEN];
	uint8_t sig[JOSE_SIG_MAX];
	uint8_t raw[JOSE_ES256_RAW];
	const uint8_t *final_sig;
	size_t siglen = sizeof(sig), total, off, hlen;
	int r;

	/* {"alg":"..","kid":"..","typ":".."}: values are plain ASCII. */
	hlen = put_str(hdr, 0, a == JOSE_ALG_ES256 ? "{\"alg\":\"ES256\""
						   : "{\"alg\":\"RS256\"");
	if (kid != NULL) {
		hlen = put_str(hdr, hlen, ",\"kid\":\"");
		hlen = put_str(hdr, hlen, kid);
		hdr[hlen++] = '"';
	}
	if (typ != NULL) {
		hlen = put_str(hdr, hlen, ",\"typ\":\"");
		hlen = put_str(hdr, hlen, typ);
		hdr[hlen++] = '"';
	}
	hdr[hlen++] = '}';

	total = kt_b64url_len(hlen) + 1 + kt_b64url_len(len) + 1 +
		kt_b64url_len(sig_len) + 1;
	if ((buf = malloc(total)) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	/* The signing input is built in place in the output buffer. */
	off = kt_b64url_encode(buf, hdr, hlen);
	buf[off++] = '.';
	off += kt_b64url_encode(buf + off, payload, len);

	kt_sha256(dgst, buf, off);
	if (EVP_PKEY_sign(ctx, sig, &siglen, dgst, sizeof(dgst)) != 1) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "%s signing failed",
				 a == JOSE_ALG_ES256 ? "ES256" : "RS256");
		goto cleanup;
	}
	if (a == JOSE_ALG_ES256) {
		if (ecdsa_der_to_raw(sig, siglen, raw) != KT_OK) {
			r = kt_error_set(err, KT_ERR_CRYPTO,
					 "unexpected ECDSA signature encoding");
			goto cleanup;
		}
		final_sig = raw;
	} else {
		if (siglen != sig_len) {
			r = kt_error_set(err, KT_ERR_CRYPTO,
					 "unexpected RSA signature length");
			goto cleanup;
		}
		final_sig = sig;
	}
	buf[off++] = '.';
	kt_b64url_encode(buf + off, final_sig, sig_len);
	*out = buf;
	buf = NULL;
	r = KT_OK;
cleanup:
	if (r != KT_OK)
		ERR_clear_error();
	free(buf);
	return r;
}

static int check_sign_args(const char *kid, const char *typ, size_t len,
			   struct kt_error *err)
{
	if ((kid != NULL && !header_value_ok(kid)) ||
	    (typ != NULL && !header_value_ok(typ)))
		return kt_error_set(err, KT_ERR_INVALID,
				    "kid/typ must be 1..%d printable ASCII "
				    "characters without '\"' or '\\'",
				    JOSE_HDR_VALUE_MAX);
	if (len > KT_JOSE_MAX_PAYLOAD)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "payload of %zu bytes exceeds %d", len,
				    KT_JOSE_MAX_PAYLOAD);
	return KT_OK;
}

int kt_jws_sign(EVP_PKEY *key, const char *alg, const char *kid,
		const char *typ, const char *payload, size_t len, char **out,
		struct kt_error *err)
{
	EVP_PKEY_CTX *ctx = NULL;
	enum jose_alg a = alg_parse(alg);
	size_t sig_len;
	int r;

	if (out != NULL)
		*out = NULL;
	if (key == NULL || out == NULL || (payload == NULL && len > 0))
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_jws_sign: missing argument");
	if (a != JOSE_ALG_RS256 && a != JOSE_ALG_ES256) {
		char p[48];
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "alg '%s' is not supported for signing",
				    printable(p, alg));
	}
	if (!key_fits_alg(key, a))
		return kt_error_set(
		    err, KT_ERR_INVALID, "key does not fit alg %s (%s)", alg,
		    a == JOSE_ALG_RS256 ? "needs RSA of 2048..8192 bits"
					: "needs EC P-256");
	if ((r = check_sign_args(kid, typ, len, err)) != KT_OK)
		return r;
	if ((ctx = pkey_ctx_new(key, a, 1)) == NULL) {
		ERR_clear_error();
		return kt_error_set(err, KT_ERR_CRYPTO, "%s signing failed",
				    alg);
	}
	sig_len = a == JOSE_ALG_ES256 ? JOSE_ES256_RAW
				      : (size_t)EVP_PKEY_get_size(key);
	r = sign_with(ctx, a, sig_len, kid, typ, payload, len, out, err);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int kt_jws_key_sign(struct kt_jws_key *k, const char *typ, const char *payload,
		    size_t len, char **out, struct kt_error *err)
{
	EVP_PKEY_CTX *ctx;
	int r;

	if (out != NULL)
		*out = NULL;
	if (k == NULL || out == NULL || (payload == NULL && len > 0))
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_jws_key_sign: missing argument");
	if ((r = check_sign_args(NULL, typ, len, err)) != KT_OK)
		return r;
	if ((ctx = key_ctx_take(k, 1)) == NULL) {
		ERR_clear_error();
		return kt_error_set(err, KT_ERR_CRYPTO, "%s signing failed",
				    k->alg_name);
	}
	r = sign_with(ctx, k->alg, k->sig_len, k->kid[0] ? k->kid : NULL, typ,
		      payload, len, out, err);
	if (r == KT_OK || r == KT_ERR_NOMEM)
		key_ctx_put(k, 1, ctx);
	else
		EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ---- parsing ---- */

struct jose_parts {
	const char *hdr, *pay, *sig;
	size_t hdr_len, pay_len, sig_len;
	size_t input_len; /* length of header.payload (the signing input) */
};

static int split_compact(const char *s, size_t max_len, struct jose_parts *p,
			 struct kt_error *err)
{
	const char *dot1, *dot2;
	size_t len, dots = 0;

	if (s == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no JWS given");
	len = strnlen(s, max_len + 1);
	if (len > max_len)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "JWS is longer than %zu bytes", max_len);
	for (size_t i = 0; i < len; i++)
		dots += s[i] == '.';
	if (dots != 2)
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS must have 3 dot-separated parts, "
				    "found %zu",
				    dots + 1);
	dot1 = memchr(s, '.', len);
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - s));
	p->hdr = s;
	p->hdr_len = (size_t)(dot1 - s);
	p->pay = dot1 + 1;
	p->pay_len = (size_t)(dot2 - p->pay);
	p->sig = dot2 + 1;
	p->sig_len = len - (size_t)(p->sig - s);
	p->input_len = (size_t)(dot2 - s);
	if (p->hdr_len == 0)
		return kt_error_set(err, KT_ERR_INVALID, "JWS header is empty");
	if (p->pay_len == 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS payload is empty");
	return KT_OK;
}

static int b64url_value_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Unpadded, canonical base64url (RFC 7515 section 2, RFC 4648 section
 * 3.5: the unused low bits of the last character are zero). This is what
 * kt_b64url_decode reads; cjose also accepts padding in odd places (and
 * then may abort, see payload_part_ok) and non-zero low bits, so without
 * this check one token or key could have two spellings that our two
 * verifiers judge differently.
 */
static int b64url_strict(const char *s, size_t n)
{
	unsigned char last;
	int v;

	if (n % 4 == 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!b64url_value_ok((unsigned char)s[i]))
			return 0;
	if (n % 4 == 0)
		return 1;
	last = (unsigned char)s[n - 1];
	if (last >= 'A' && last <= 'Z')
		v = last - 'A';
	else if (last >= 'a' && last <= 'z')
		v = last - 'a' + 26;
	else if (last >= '0' && last <= '9')
		v = last - '0' + 52;
	else
		v = last == '-' ? 62 : 63;
	/* 2 characters carry 8 bits (4 unused), 3 carry 16 (2 unused). */
	return n % 4 == 2 ? (v & 0x0f) == 0 : (v & 0x03) == 0;
}

/* Decoded length of a signature part, after checking its encoding. */
static int sig_part_len(const struct jose_parts *p, size_t *out,
			struct kt_error *err)
{
	if (!b64url_strict(p->sig, p->sig_len))
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS signature is not valid base64url");
	*out = p->sig_len / 4 * 3 + (p->sig_len % 4 ? p->sig_len % 4 - 1 : 0);
	return KT_OK;
}

/*
 * The payload of a foreign JWS goes to cjose as it is. cjose 0.6 (Debian
 * 12) stops decoding at the first '=' and then assert()s when one
 * character is left over, so "<header>.AAAAA=AA.<sig>" would abort the
 * whole process: only unpadded base64url of a possible length passes.
 */
static int payload_part_ok(const struct jose_parts *p, struct kt_error *err)
{
	if (!b64url_strict(p->pay, p->pay_len))
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS payload is not valid base64url");
	return KT_OK;
}

static int decode_json_part(const char *b64, size_t n, const char *what,
			    json_t **out, struct kt_error *err)
{
	json_t *j = NULL;
	json_error_t jerr;
	uint8_t *buf = NULL;
	size_t cap = n / 4 * 3 + 3, len;
	int r;

	*out = NULL;
	if ((buf = malloc(cap)) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	if (kt_b64url_decode(buf, cap, &len, b64, n) != KT_OK) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "JWS %s is not valid base64url", what);
		goto cleanup;
	}
	/* Duplicate names are how two parsers are made to disagree. */
	j = json_loadb((const char *)buf, len,
		       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (j == NULL) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "JWS %s is not valid JSON (line %d, column "
				 "%d)",
				 what, jerr.line, jerr.column);
		goto cleanup;
	}
	if (!json_is_object(j)) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "JWS %s is not a JSON object", what);
		goto cleanup;
	}
	*out = j;
	j = NULL;
	r = KT_OK;
cleanup:
	json_decref(j);
	free(buf);
	return r;
}

int kt_jwt_decode_unverified(const char *compact, size_t max_len,
			     json_t **header, json_t **payload,
			     struct kt_error *err)
{
	struct jose_parts p;
	json_t *h = NULL, *pl = NULL;
	size_t siglen;
	int r;

	if (header != NULL)
		*header = NULL;
	if (payload != NULL)
		*payload = NULL;
	if ((r = split_compact(compact, max_len, &p, err)) != KT_OK ||
	    (r = sig_part_len(&p, &siglen, err)) != KT_OK ||
	    (r = decode_json_part(p.hdr, p.hdr_len, "header", &h, err)) !=
		KT_OK)
		goto cleanup;
	if (payload != NULL &&
	    (r = decode_json_part(p.pay, p.pay_len, "payload", &pl, err)) !=
		KT_OK)
		goto cleanup;
	if (header != NULL) {
		*header = h;
		h = NULL;
	}
	if (payload != NULL) {
		*payload = pl;
		pl = NULL;
	}
	r = KT_OK;
cleanup:
	json_decref(h);
	json_decref(pl);
	return r;
}

/* ---- verification of our own tokens ---- */

/*
 * The checks and the signature verification shared by kt_jws_verify_pkey
 * (key: a context is made for this call) and kt_jws_key_verify (k: a
 * pooled context), after the token was split (p) and its header parsed
 * (h). sig_len is the length of alg's JWS signature with that key. On
 * success the payload, parsed, goes to *payload if wanted.
 */
static int verify_with(EVP_PKEY *key, struct kt_jws_key *k, enum jose_alg a,
		       const char *alg, size_t sig_len, const char *compact,
		       const struct jose_parts *p, const json_t *h,
		       json_t **payload, struct kt_error *err)
{
	EVP_PKEY_CTX *ctx;
	uint8_t sig[JOSE_SIG_MAX];
	uint8_t der[JOSE_ES256_DER_MAX];
	uint8_t dgst[KT_SHA256_LEN];
	const uint8_t *vsig;
	size_t siglen, vlen;
	const char *halg;
	char pa[48];
	int ok;

	halg = json_string_value(json_object_get(h, "alg"));
	if (halg == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS header has no alg");
	if (strcmp(halg, alg) != 0)
		return kt_error_set(err, KT_ERR_DENIED,
				    "JWS alg '%s' does not match the key's "
				    "alg '%s'",
				    printable(pa, halg), alg);
	if (json_object_get(h, "crit") != NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS crit header is not supported");
	if (kt_b64url_decode(sig, sizeof(sig), &siglen, p->sig, p->sig_len) !=
	    KT_OK)
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWS signature is not valid base64url");
	if (siglen != sig_len)
		return kt_error_set(err, KT_ERR_DENIED,
				    "signature verification failed (length "
				    "%zu, expected %zu)",
				    siglen, sig_len);
	if (a == JOSE_ALG_ES256) {
		vlen = ecdsa_raw_to_der(sig, der);
		vsig = der;
	} else {
		vlen = siglen;
		vsig = sig;
	}
	ctx = k != NULL ? key_ctx_take(k, 0) : pkey_ctx_new(key, a, 0);
	if (ctx == NULL)
		return kt_error_set(err, KT_ERR_CRYPTO, "key cannot verify %s",
				    alg);
	kt_sha256(dgst, compact, p->input_len);
	ok = EVP_PKEY_verify(ctx, vsig, vlen, dgst, sizeof(dgst)) == 1;
	/* A failed verification leaves the context as it was. */
	if (k != NULL)
		key_ctx_put(k, 0, ctx);
	else
		EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return kt_error_set(err, KT_ERR_DENIED,
				    "signature verification failed");
	/* The payload is only parsed once it is known to be ours. */
	if (payload == NULL)
		return KT_OK;
	return decode_json_part(p->pay, p->pay_len, "payload", payload, err);
}

int kt_jws_verify_pkey(EVP_PKEY *key, const char *alg, const char *compact,
		       json_t **header, json_t **payload, struct kt_error *err)
{
	struct jose_parts p;
	json_t *h = NULL, *pl = NULL;
	enum jose_alg a = alg_parse(alg);
	size_t sig_len;
	int r;

	if (header != NULL)
		*header = NULL;
	if (payload != NULL)
		*payload = NULL;
	if (key == NULL || (a != JOSE_ALG_RS256 && a != JOSE_ALG_ES256))
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_jws_verify_pkey: bad key or alg");
	if ((r = split_compact(compact, KT_JOSE_MAX_COMPACT, &p, err)) !=
		KT_OK ||
	    (r = decode_json_part(p.hdr, p.hdr_len, "header", &h, err)) !=
		KT_OK)
		goto cleanup;
	sig_len = a == JOSE_ALG_ES256 ? JOSE_ES256_RAW
				      : (size_t)EVP_PKEY_get_size(key);
	if ((r = verify_with(key, NULL, a, alg, sig_len, compact, &p, h,
			     payload != NULL ? &pl : NULL, err)) != KT_OK)
		goto cleanup;
	if (header != NULL) {
		*header = h;
		h = NULL;
	}
	if (payload != NULL) {
		*payload = pl;
		pl = NULL;
	}
	r = KT_OK;
cleanup:
	ERR_clear_error();
	json_decref(h);
	json_decref(pl);
	return r;
}

int kt_jws_key_verify(struct kt_jws_key *k, const char *compact,
		      const json_t *header, json_t **payload,
		      struct kt_error *err)
{
	struct jose_parts p;
	int r;

	if (payload != NULL)
		*payload = NULL;
	if (k == NULL || !json_is_object(header))
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_jws_key_verify: missing argument");
	if ((r = split_compact(compact, KT_JOSE_MAX_COMPACT, &p, err)) ==
	    KT_OK)
		r = verify_with(NULL, k, k->alg, k->alg_name, k->sig_len,
				compact, &p, header, payload, err);
	ERR_clear_error();
	return r;
}

/* ---- at_hash ---- */

int kt_jose_at_hash(const char *alg, const char *token,
		    char out[KT_JOSE_THUMBPRINT_LEN])
{
	uint8_t d[KT_SHA256_LEN];

	out[0] = '\0';
	if (token == NULL || alg_parse(alg) == JOSE_ALG_NONE)
		return KT_ERR_UNSUPPORTED;
	kt_sha256(d, token, strlen(token));
	kt_b64url_encode(out, d, KT_SHA256_LEN / 2);
	return KT_OK;
}

/* ---- verification of foreign tokens (client assertions) ---- */

static int foreign_alg_check(const char *alg, const char *const *allowed,
			     struct kt_error *err)
{
	char pa[48];

	if (strcasecmp(alg, "none") == 0)
		return kt_error_set(err, KT_ERR_DENIED,
				    "alg '%s' is not allowed",
				    printable(pa, alg));
	/*
	 * A client's JWKS holds public keys; accepting HS* would let anyone
	 * who knows the public key forge assertions (key confusion).
	 */
	if (strncasecmp(alg, "HS", 2) == 0)
		return kt_error_set(err, KT_ERR_DENIED,
				    "alg '%s' is not allowed: symmetric "
				    "algorithms are never accepted",
				    printable(pa, alg));
	if (alg_parse(alg) == JOSE_ALG_NONE)
		return kt_error_set(err, KT_ERR_DENIED,
				    "alg '%s' is not supported",
				    printable(pa, alg));
	for (size_t i = 0; allowed != NULL && allowed[i] != NULL; i++) {
		if (strcmp(allowed[i], alg) == 0)
			return KT_OK;
	}
	return kt_error_set(err, KT_ERR_DENIED,
			    "alg '%s' is not allowed for this client", alg);
}

/* Bit length of a base64url big-endian unsigned integer; 0 if malformed. */
static size_t b64url_uint_bits(const char *s)
{
	uint8_t buf[JOSE_SIG_MAX + 1];
	size_t n, i = 0;

	if (s == NULL ||
	    kt_b64url_decode(buf, sizeof(buf), &n, s, strlen(s)) != KT_OK)
		return 0;
	while (i < n && buf[i] == 0)
		i++;
	if (i == n)
		return 0;
	n -= i;
	size_t bits = (n - 1) * 8;
	for (uint8_t top = buf[i]; top != 0; top >>= 1)
		bits++;
	return bits;
}

/*
 * cjose 0.6 (Debian 12) base64url-decodes every key member it knows when
 * it imports a JWK and assert()s on some malformed values ("AQAAA=AB"
 * aborts the process). A client's JWKS is registration input, so each of
 * those members that is present must be unpadded base64url of a possible
 * length before cjose sees it.
 */
static int jwk_members_ok(const json_t *k, enum jose_alg a)
{
	static const char *const rsa[] = {"n", "e",  "d",  "p",
					  "q", "dp", "dq", "qi"};
	static const char *const ec[] = {"x", "y", "d"};
	const char *const *names = a == JOSE_ALG_ES256 ? ec : rsa;
	size_t count = a == JOSE_ALG_ES256 ? sizeof(ec) / sizeof(ec[0])
					   : sizeof(rsa) / sizeof(rsa[0]);

	for (size_t i = 0; i < count; i++) {
		const json_t *v = json_object_get(k, names[i]);
		const char *s = json_string_value(v);
		size_t n;

		if (v == NULL)
			continue;
		if (s == NULL || (n = json_string_length(v)) == 0 ||
		    strlen(s) != n || !b64url_strict(s, n))
			return 0;
	}
	return 1;
}

/*
 * RFC 7518 §6.2.1.2 wants EC coordinates at full length (32 bytes for
 * P-256), but some libraries (authlib 1.2) drop leading zero bytes, which
 * cjose refuses. The value is the same point: pad it back.
 */
static int ec_coord_full(const json_t *k, const char *name, char out[48])
{
	const char *v = json_string_value(json_object_get(k, name));
	uint8_t raw[33], padded[32];
	size_t n;

	if (v == NULL || !b64url_strict(v, strlen(v)) ||
	    kt_b64url_decode(raw, sizeof(raw), &n, v, strlen(v)) != KT_OK ||
	    n == 0 || n > 32)
		return 0;
	memset(padded, 0, 32 - n);
	memcpy(padded + 32 - n, raw, n);
	kt_b64url_encode(out, padded, 32);
	return 1;
}

int kt_jwk_normalize(const json_t *jwk, json_t **out, struct kt_error *err)
{
	const char *kid = json_string_value(json_object_get(jwk, "kid"));
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *n = json_string_value(json_object_get(jwk, "n"));
	const char *e = json_string_value(json_object_get(jwk, "e"));
	char pk[48], pv[48], x[48], y[48];

	if (out != NULL)
		*out = NULL;
	if (out == NULL || !json_is_object(jwk))
		return kt_error_set(err, KT_ERR_INVALID,
				    "JWK is not an object");
	printable(pk, kid ? kid : "(no kid)");
	if (kty != NULL && strcmp(kty, "EC") == 0) {
		if (crv == NULL || strcmp(crv, "P-256") != 0)
			return kt_error_set(err, KT_ERR_UNSUPPORTED,
					    "key '%s' has curve '%s'; only "
					    "P-256 is supported",
					    pk, printable(pv, crv ? crv : "?"));
		if (!ec_coord_full(jwk, "x", x) || !ec_coord_full(jwk, "y", y))
			return kt_error_set(err, KT_ERR_INVALID,
					    "key '%s' has no valid P-256 "
					    "coordinates",
					    pk);
		*out = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
				 "P-256", "x", x, "y", y);
	} else if (kty != NULL && strcmp(kty, "RSA") == 0) {
		if (n == NULL || e == NULL || *n == '\0' || *e == '\0' ||
		    !b64url_strict(n, strlen(n)) ||
		    !b64url_strict(e, strlen(e)))
			return kt_error_set(err, KT_ERR_INVALID,
					    "key '%s' has no valid modulus or "
					    "exponent",
					    pk);
		*out = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n, "e", e);
	} else {
		/* "oct" above all: never a secret from a public JWKS. */
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "key '%s' has kty '%s'; only RSA and EC "
				    "keys are used",
				    pk, printable(pv, kty ? kty : "(none)"));
	}
	if (*out != NULL && kid != NULL &&
	    json_object_set_new(*out, "kid", json_string(kid)) != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return *out != NULL ? KT_OK
			    : kt_error_set(err, KT_ERR_NOMEM, "out of memory");
}

/*
 * Check one JWKS member against the token before it goes to cjose, so that
 * cjose only ever sees a key of the right type and size and a signature of
 * the right length. Returns KT_OK, or an error that describes why this key
 * cannot be used (KT_ERR_DENIED for a signature of the wrong length).
 */
static int foreign_key_check(const json_t *k, enum jose_alg a, const char *alg,
			     size_t siglen, struct kt_error *err)
{
	const char *kid = json_string_value(json_object_get(k, "kid"));
	const char *kty = json_string_value(json_object_get(k, "kty"));
	const char *want_kty = a == JOSE_ALG_ES256 ? "EC" : "RSA";
	json_t *use = json_object_get(k, "use");
	json_t *kalg = json_object_get(k, "alg");
	char pk[48], pv[48];

	printable(pk, kid ? kid : "(no kid)");
	if (kty == NULL || strcmp(kty, want_kty) != 0)
		return kt_error_set(err, KT_ERR_NOTFOUND,
				    "key '%s' has kty '%s', which cannot "
				    "verify alg '%s'",
				    pk, printable(pv, kty ? kty : "(none)"),
				    alg);
	if (!jwk_members_ok(k, a))
		return kt_error_set(err, KT_ERR_NOTFOUND,
				    "key '%s' has a member that is not "
				    "base64url",
				    pk);
	if (use != NULL &&
	    (!json_is_string(use) || strcmp(json_string_value(use), "sig")))
		return kt_error_set(err, KT_ERR_NOTFOUND,
				    "key '%s' is not a signing key (use "
				    "'%s')",
				    pk,
				    printable(pv, json_is_string(use)
						      ? json_string_value(use)
						      : "?"));
	if (kalg != NULL &&
	    (!json_is_string(kalg) || strcmp(json_string_value(kalg), alg)))
		return kt_error_set(err, KT_ERR_NOTFOUND,
				    "key '%s' is registered for alg '%s', "
				    "not '%s'",
				    pk,
				    printable(pv, json_is_string(kalg)
						      ? json_string_value(kalg)
						      : "?"),
				    alg);
	if (a == JOSE_ALG_ES256) {
		const char *crv = json_string_value(json_object_get(k, "crv"));
		if (crv == NULL || strcmp(crv, "P-256") != 0)
			return kt_error_set(
			    err, KT_ERR_NOTFOUND,
			    "key '%s' has curve '%s'; ES256 "
			    "needs P-256",
			    pk, printable(pv, crv ? crv : "(none)"));
		if (siglen != JOSE_ES256_RAW)
			return kt_error_set(err, KT_ERR_DENIED,
					    "signature verification failed");
	} else {
		size_t bits = b64url_uint_bits(
		    json_string_value(json_object_get(k, "n")));
		if (bits == 0)
			return kt_error_set(err, KT_ERR_NOTFOUND,
					    "key '%s' has no valid modulus",
					    pk);
		if (bits < KT_JOSE_RSA_MIN_BITS || bits > KT_JOSE_RSA_MAX_BITS)
			return kt_error_set(err, KT_ERR_NOTFOUND,
					    "RSA key '%s' has %zu bits; %d to "
					    "%d are accepted",
					    pk, bits, KT_JOSE_RSA_MIN_BITS,
					    KT_JOSE_RSA_MAX_BITS);
		if (siglen != (bits + 7) / 8)
			return kt_error_set(err, KT_ERR_DENIED,
					    "signature verification failed");
	}
	return KT_OK;
}

/*
 * Everything kt_jws_verify_jwks checks before a signature is computed: the
 * token's form, its alg, crit and kid, and each JWKS member against it.
 * *keys gets the usable members, normalised; p the token's parts.
 */
static int select_keys(const char *compact, const json_t *jwks,
		       const char *const *allowed_algs, struct jose_parts *p,
		       json_t **keys, struct kt_error *err)
{
	struct kt_error first = {0};
	json_t *h = NULL, *all, *out = NULL;
	const char *alg, *kid = NULL;
	size_t siglen = 0, nkeys, sigfail = 0;
	enum jose_alg a;
	char pa[48];
	int r;

	*keys = NULL;
	if ((r = split_compact(compact, KT_JOSE_MAX_COMPACT, p, err)) !=
		KT_OK ||
	    (r = sig_part_len(p, &siglen, err)) != KT_OK ||
	    (r = payload_part_ok(p, err)) != KT_OK ||
	    (r = decode_json_part(p->hdr, p->hdr_len, "header", &h, err)) !=
		KT_OK)
		goto cleanup;

	alg = json_string_value(json_object_get(h, "alg"));
	if (alg == NULL) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "JWS header has no alg string");
		goto cleanup;
	}
	if ((r = foreign_alg_check(alg, allowed_algs, err)) != KT_OK)
		goto cleanup;
	a = alg_parse(alg);
	/* We understand no extension, so any crit must fail (RFC 7515 4.1.11).
	 */
	if (json_object_get(h, "crit") != NULL) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "JWS crit header is not supported");
		goto cleanup;
	}
	if (json_object_get(h, "kid") != NULL) {
		kid = json_string_value(json_object_get(h, "kid"));
		if (kid == NULL) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "JWS kid is not a string");
			goto cleanup;
		}
	}
	if (siglen == 0) {
		r = kt_error_set(err, KT_ERR_DENIED, "JWS has no signature");
		goto cleanup;
	}

	all = json_object_get(jwks, "keys");
	if (!json_is_array(all)) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "the client's JWKS has no \"keys\" array");
		goto cleanup;
	}
	nkeys = json_array_size(all);
	if (nkeys > KT_JOSE_MAX_JWKS_KEYS) {
		r = kt_error_set(err, KT_ERR_LIMIT,
				 "the client's JWKS has more than %d keys",
				 KT_JOSE_MAX_JWKS_KEYS);
		goto cleanup;
	}
	if ((out = json_array()) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}

	for (size_t i = 0; i < nkeys; i++) {
		json_t *k = json_array_get(all, i), *norm = NULL;
		const char *kkid = json_string_value(json_object_get(k, "kid"));
		struct kt_error kerr = {0};

		if (!json_is_object(k))
			continue;
		if (kid != NULL && (kkid == NULL || strcmp(kkid, kid) != 0))
			continue;
		if (kid == NULL) {
			/* Without kid, only keys of the right type are tried.
			 */
			const char *kty =
			    json_string_value(json_object_get(k, "kty"));
			if (kty == NULL ||
			    strcmp(kty, a == JOSE_ALG_ES256 ? "EC" : "RSA"))
				continue;
		}
		if (foreign_key_check(k, a, alg, siglen, &kerr) == KT_OK &&
		    kt_jwk_normalize(k, &norm, &kerr) != KT_OK) {
			if (kerr.code == KT_ERR_NOMEM) {
				r = kt_error_set(err, KT_ERR_NOMEM,
						 "out of memory");
				goto cleanup;
			}
			/* Unusable, which for the caller is as if missing. */
			kerr.code = KT_ERR_NOTFOUND;
		}
		if (norm == NULL) {
			if (kerr.code == KT_ERR_DENIED)
				sigfail++;
			else if (first.code == KT_OK)
				first = kerr;
			continue;
		}
		if (json_array_append_new(out, norm) != 0) {
			r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto cleanup;
		}
	}

	if (json_array_size(out) == 0) {
		if (sigfail > 0)
			r = kt_error_set(err, KT_ERR_DENIED,
					 "signature verification failed");
		else if (first.code != KT_OK)
			r = kt_error_set(err, first.code, "%s", first.msg);
		else if (kid != NULL)
			r = kt_error_set(err, KT_ERR_NOTFOUND,
					 "no key in the client's JWKS matches "
					 "kid '%s'",
					 printable(pa, kid));
		else
			r = kt_error_set(err, KT_ERR_NOTFOUND,
					 "no key in the client's JWKS has kty "
					 "'%s' for alg '%s'",
					 a == JOSE_ALG_ES256 ? "EC" : "RSA",
					 alg);
		goto cleanup;
	}
	*keys = out;
	out = NULL;
	r = KT_OK;
cleanup:
	json_decref(out);
	json_decref(h);
	return r;
}

int kt_jws_select_keys(const char *compact, const json_t *jwks,
		       const char *const *allowed_algs, json_t **keys,
		       struct kt_error *err)
{
	struct jose_parts p;

	if (keys == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_jws_select_keys: no output");
	return select_keys(compact, jwks, allowed_algs, &p, keys, err);
}

int kt_jws_verify_jwks(const char *compact, const json_t *jwks,
		       const char *const *allowed_algs, json_t **payload,
		       struct kt_error *err)
{
	struct jose_parts p;
	struct kt_error first = {0};
	cjose_jws_t *jws = NULL;
	cjose_err cerr;
	json_t *keys = NULL, *pl = NULL, *k;
	uint8_t *plain = NULL;
	size_t plain_len = 0, sigfail = 0, i;
	int verified = 0, r;
	char pk[48];

	if (payload != NULL)
		*payload = NULL;
	if ((r = select_keys(compact, jwks, allowed_algs, &p, &keys, err)) !=
	    KT_OK)
		goto cleanup;

	jws = cjose_jws_import(compact, p.input_len + 1 + p.sig_len, &cerr);
	if (jws == NULL) {
		r = kt_error_set(err, KT_ERR_INVALID, "JWS cannot be parsed");
		goto cleanup;
	}

	json_array_foreach(keys, i, k)
	{
		const char *kkid = json_string_value(json_object_get(k, "kid"));
		cjose_jwk_t *jwk =
		    cjose_jwk_import_json((cjose_header_t *)k, &cerr);

		if (jwk == NULL) {
			if (first.code == KT_OK)
				kt_error_set(
				    &first, KT_ERR_NOTFOUND,
				    "key '%s' cannot be imported",
				    printable(pk, kkid ? kkid : "(no kid)"));
			continue;
		}
		if (cjose_jws_verify(jws, jwk, &cerr))
			verified = 1;
		else
			sigfail++;
		cjose_jwk_release(jwk);
		if (verified)
			break;
	}

	if (!verified) {
		if (sigfail > 0 || first.code == KT_OK)
			r = kt_error_set(err, KT_ERR_DENIED,
					 "signature verification failed");
		else
			r = kt_error_set(err, first.code, "%s", first.msg);
		goto cleanup;
	}

	if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &cerr)) {
		r = kt_error_set(err, KT_ERR_INVALID, "JWS has no payload");
		goto cleanup;
	}
	{
		json_error_t jerr;
		pl = json_loadb((const char *)plain, plain_len,
				JSON_REJECT_DUPLICATES, &jerr);
	}
	if (!json_is_object(pl)) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "JWS payload is not a JSON object");
		goto cleanup;
	}
	if (payload != NULL) {
		*payload = pl;
		pl = NULL;
	}
	r = KT_OK;
cleanup:
	ERR_clear_error();
	cjose_jws_release(jws);
	json_decref(keys);
	json_decref(pl);
	return r;
}
