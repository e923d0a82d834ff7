/*
 * CPU cost of kt_jws_sign and kt_jws_verify_pkey per token, and of their
 * prepared-key forms kt_jws_key_sign / kt_jws_key_verify (what the gateway
 * uses), next to the bare signature and verification that `openssl speed`
 * measures (EVP_PKEY_sign / EVP_PKEY_verify on a prepared context), for
 * ES256 and RS256 with an access-token-sized payload.
 *
 *     bench_jws_sign [iterations]
 *
 * The difference is what the JOSE layer adds per token (context set-up,
 * algorithm fetches, hashing, base64url). A benchmark, not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/util.h"

static const char payload[] =
    "{\"iss\":\"https://login.example.de\",\"sub\":\"p-0123456789abcdef\","
    "\"aud\":\"https://login.example.de\",\"client_id\":\"portal\","
    "\"scope\":\"openid profile email api\",\"jti\":\"g-0123456789abcdef."
    "0123456789abcdefghijklmnopq\",\"iat\":1795900000,\"exp\":1795900300,"
    "\"auth_time\":1795899000,\"acr\":\"urn:kontor:acr:password\","
    "\"sid\":\"s-0123456789abcdef0123456789\"}";

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void fail(const char *what, const struct kt_error *err)
{
	fprintf(stderr, "%s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

static void run(EVP_PKEY *key, const char *alg, unsigned n)
{
	struct kt_error err;
	struct kt_jws_key *jk = NULL;
	EVP_PKEY_CTX *pctx = NULL, *vctx = NULL;
	uint8_t dgst[KT_SHA256_LEN], sig[1024];
	size_t siglen = 0;
	json_t *hdr = NULL;
	char *tok = NULL;
	double t0, sign_us, ksign_us, verify_us, kverify_us, raw_us, rawv_us;

	if (kt_jws_key_new(key, alg, "kid-1", &jk, &err) != KT_OK)
		fail("kt_jws_key_new", &err);
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		free(tok);
		if (kt_jws_sign(key, alg, "kid-1", "at+jwt", payload,
				strlen(payload), &tok, &err) != KT_OK)
			fail("kt_jws_sign", &err);
	}
	sign_us = (cpu_us() - t0) / n;
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		free(tok);
		if (kt_jws_key_sign(jk, "at+jwt", payload, strlen(payload),
				    &tok, &err) != KT_OK)
			fail("kt_jws_key_sign", &err);
	}
	ksign_us = (cpu_us() - t0) / n;
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		json_t *p = NULL;
		if (kt_jws_verify_pkey(key, alg, tok, NULL, &p, &err) != KT_OK)
			fail("kt_jws_verify_pkey", &err);
		json_decref(p);
	}
	verify_us = (cpu_us() - t0) / n;
	/* what kt_keyset_verify does: header parsed once, prepared key */
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		json_t *p = NULL;
		if (kt_jwt_decode_unverified(tok, KT_JOSE_MAX_COMPACT, &hdr,
					     NULL, &err) != KT_OK ||
		    kt_jws_key_verify(jk, tok, hdr, &p, &err) != KT_OK)
			fail("kt_jws_key_verify", &err);
		json_decref(hdr);
		json_decref(p);
	}
	kverify_us = (cpu_us() - t0) / n;
	/* what openssl speed measures: a prepared context, a digest */
	kt_sha256(dgst, payload, strlen(payload));
	if ((pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(pctx) != 1 ||
	    (vctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
	    EVP_PKEY_verify_init(vctx) != 1 ||
	    (strcmp(alg, "RS256") == 0 &&
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, 1) != 1 ||
	      EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
	      EVP_PKEY_CTX_set_rsa_padding(vctx, 1) != 1 ||
	      EVP_PKEY_CTX_set_signature_md(vctx, EVP_sha256()) != 1)))
		fail("EVP_PKEY_sign_init", NULL);
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		siglen = sizeof(sig);
		if (EVP_PKEY_sign(pctx, sig, &siglen, dgst, sizeof(dgst)) != 1)
			fail("EVP_PKEY_sign", NULL);
	}
	raw_us = (cpu_us() - t0) / n;
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		if (EVP_PKEY_verify(vctx, sig, siglen, dgst, sizeof(dgst)) != 1)
			fail("EVP_PKEY_verify", NULL);
	}
	rawv_us = (cpu_us() - t0) / n;
	printf("%s: kt_jws_sign %.1f us, kt_jws_key_sign %.1f us, "
	       "EVP_PKEY_sign %.1f us (JOSE layer +%.1f us prepared); "
	       "kt_jws_verify_pkey %.1f us, kt_jws_key_verify %.1f us, "
	       "EVP_PKEY_verify %.1f us (+%.1f us prepared); token %zu "
	       "bytes\n",
	       alg, sign_us, ksign_us, raw_us, ksign_us - raw_us, verify_us,
	       kverify_us, rawv_us, kverify_us - rawv_us, strlen(tok));
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_CTX_free(vctx);
	kt_jws_key_free(jk);
	free(tok);
}

int main(int argc, char **argv)
{
	uint64_t n = 5000;
	EVP_PKEY *ec, *rsa;

	if (argc > 2 ||
	    (argc == 2 &&
	     (kt_parse_uint(argv[1], 10000000, &n) != KT_OK || n == 0))) {
		fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
		return 2;
	}
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (ec == NULL || rsa == NULL) {
		fprintf(stderr, "key generation failed\n");
		return 1;
	}
	run(ec, "ES256", (unsigned)n);
	run(rsa, "RS256", (unsigned)(n / 10 ? n / 10 : 1));
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	return 0;
}
