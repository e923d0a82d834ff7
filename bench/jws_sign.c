/*
 * CPU cost of kt_jws_sign and kt_jws_verify_pkey per token, next to the bare
 * signature that `openssl speed` measures (EVP_PKEY_sign on a prepared
 * context), for ES256 and RS256 with an access-token-sized payload.
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

static void run(EVP_PKEY *key, const char *alg, unsigned n)
{
	struct kt_error err;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t dgst[KT_SHA256_LEN], sig[1024];
	size_t siglen;
	char *tok = NULL;
	double t0, sign_us, verify_us, raw_us;

	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		free(tok);
		if (kt_jws_sign(key, alg, "kid-1", "at+jwt", payload,
				strlen(payload), &tok, &err) != KT_OK) {
			fprintf(stderr, "sign: %s\n", err.msg);
			exit(1);
		}
	}
	sign_us = (cpu_us() - t0) / n;
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		json_t *p = NULL;
		if (kt_jws_verify_pkey(key, alg, tok, NULL, &p, &err) !=
		    KT_OK) {
			fprintf(stderr, "verify: %s\n", err.msg);
			exit(1);
		}
		json_decref(p);
	}
	verify_us = (cpu_us() - t0) / n;
	/* what openssl speed measures: a prepared context, a digest */
	kt_sha256(dgst, payload, strlen(payload));
	if ((pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(pctx) != 1 ||
	    (strcmp(alg, "RS256") == 0 &&
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, 1) != 1 ||
	      EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1))) {
		fprintf(stderr, "EVP_PKEY_sign_init failed\n");
		exit(1);
	}
	t0 = cpu_us();
	for (unsigned i = 0; i < n; i++) {
		siglen = sizeof(sig);
		if (EVP_PKEY_sign(pctx, sig, &siglen, dgst, sizeof(dgst)) !=
		    1) {
			fprintf(stderr, "EVP_PKEY_sign failed\n");
			exit(1);
		}
	}
	raw_us = (cpu_us() - t0) / n;
	printf("%s: kt_jws_sign %.1f us, EVP_PKEY_sign %.1f us (JOSE layer "
	       "+%.1f us), kt_jws_verify_pkey %.1f us; token %zu bytes\n",
	       alg, sign_us, raw_us, sign_us - raw_us, verify_us, strlen(tok));
	EVP_PKEY_CTX_free(pctx);
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
