/*
 * kt_jws_verify_jwks: a client assertion (private_key_jwt) checked against
 * the client's registered JWKS. The JWKS is fixed (one RSA-2048 and one
 * P-256 key, public halves only; the seeds in corpus/jwks were signed with
 * the private halves, which were thrown away); the token is fuzzed.
 *
 * Invariants besides "no crash":
 *  - success returns a payload object and a header alg from the allow list,
 *    never "none" or HS*;
 *  - with only ES256 allowed, success means the header says ES256;
 *  - differential: whatever cjose accepts for RS256 or ES256 must also
 *    verify with OpenSSL through kt_jws_verify_pkey and the same key.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/jose.h"

#include "fuzz.h"

static const char jwks_text[] =
    "{"
    " \"keys\": ["
    "  {"
    "   \"kty\": \"RSA\","
    "   \"n\": \"t8VAE06Q1fwJK7ZKzmJ7XLxW4wHhvPpJO3W-OCg833r8EIkL1FPH"
    "N1LbMYenyrKfhSCQg6Z0HsRbYYg-vY_HFuBQI60stURhRL6NZ-4tBndO2GZHI60Y"
    "qHvUDWPa9L3wSVuPNihvgGWRT0qBIB55K_JG3SW-JGR_ubvqRTkO3k4c2xY0eLbW"
    "0ZvJ7mqLG1MOcPZ52FOhDzs-cpmrRq-MPQ_U5PaACW3T1QNCImV2Ndek7KYBVZ3P"
    "q2fhIK7nj_zdXdG9TI98f8K7c_SGAaF-XR0P7PRS9sAzbnnY-6xeePXGs-LpuRhT"
    "xctfDStSwPiK9tKF7NW2_pIRctPkTpmMGQ\","
    "   \"e\": \"AQAB\","
    "   \"kid\": \"K6Lwz02PBId4Gkygjv-Hu3-CHInf6PY5J0eQoC4iQtc\","
    "   \"use\": \"sig\""
    "  },"
    "  {"
    "   \"kty\": \"EC\","
    "   \"crv\": \"P-256\","
    "   \"x\": \"IAwiYUvkFXvvUi6KHQmOrDN81T917jjsXXtl0xQF6N4\","
    "   \"y\": \"vEJVV0Ye6YAaQthJAKSSN100QU42Ugji2QVSFqdzn60\","
    "   \"kid\": \"pBUa5v_0fd0u6v7UOGGsGoTNZ6euD_iJOPoPOOO2C0M\","
    "   \"use\": \"sig\","
    "   \"alg\": \"ES256\""
    "  }"
    " ]"
    "}";

static const char rsa_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAt8VAE06Q1fwJK7ZKzmJ7\n"
    "XLxW4wHhvPpJO3W+OCg833r8EIkL1FPHN1LbMYenyrKfhSCQg6Z0HsRbYYg+vY/H\n"
    "FuBQI60stURhRL6NZ+4tBndO2GZHI60YqHvUDWPa9L3wSVuPNihvgGWRT0qBIB55\n"
    "K/JG3SW+JGR/ubvqRTkO3k4c2xY0eLbW0ZvJ7mqLG1MOcPZ52FOhDzs+cpmrRq+M\n"
    "PQ/U5PaACW3T1QNCImV2Ndek7KYBVZ3Pq2fhIK7nj/zdXdG9TI98f8K7c/SGAaF+\n"
    "XR0P7PRS9sAzbnnY+6xeePXGs+LpuRhTxctfDStSwPiK9tKF7NW2/pIRctPkTpmM\n"
    "GQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char ec_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIAwiYUvkFXvvUi6KHQmOrDN81T91\n"
    "7jjsXXtl0xQF6N68QlVXRh7pgBpC2EkApJI3XTRBTjZSCOLZBVIWp3OfrQ==\n"
    "-----END PUBLIC KEY-----\n";

static json_t *jwks;
static EVP_PKEY *rsa, *ec;

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (k == NULL)
		abort();
	return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_error_t e;

	if ((jwks = json_loads(jwks_text, JSON_REJECT_DUPLICATES, &e)) == NULL)
		abort();
	rsa = pem_key(rsa_pem);
	ec = pem_key(ec_pem);
	return 0;
}

static const char *header_alg(const char *compact)
{
	static char alg[16];
	json_t *h = NULL;
	struct kt_error err;
	const char *a;

	alg[0] = '\0';
	if (kt_jwt_decode_unverified(compact, KT_JOSE_MAX_COMPACT, &h, NULL,
				     &err) == KT_OK &&
	    (a = json_string_value(json_object_get(h, "alg"))) != NULL)
		snprintf(alg, sizeof(alg), "%s", a);
	json_decref(h);
	return alg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const all[] = {"RS256", "ES256", "PS256", NULL};
	static const char *const es_only[] = {"ES256", NULL};
	char *s = fuzz_cstr(data, size);
	json_t *payload = NULL;
	struct kt_error err;
	const char *alg;
	int rc;

	if (jwks == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	rc = kt_jws_verify_jwks(s, jwks, all, &payload, &err);
	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_LIMIT || rc == KT_ERR_INVALID ||
		    rc == KT_ERR_DENIED || rc == KT_ERR_NOTFOUND ||
		    rc == KT_ERR_NOMEM);
	if (rc == KT_OK) {
		FUZZ_ASSERT(json_is_object(payload));
		FUZZ_ASSERT(strlen(s) <= KT_JOSE_MAX_COMPACT);
		alg = header_alg(s);
		FUZZ_ASSERT(strcmp(alg, "RS256") == 0 ||
			    strcmp(alg, "ES256") == 0 ||
			    strcmp(alg, "PS256") == 0);
		/* The same token through a different implementation. */
		if (strcmp(alg, "PS256") != 0)
			FUZZ_ASSERT(kt_jws_verify_pkey(alg[0] == 'R' ? rsa : ec,
						       alg, s, NULL, NULL,
						       &err) == KT_OK);
	} else {
		FUZZ_ASSERT(payload == NULL);
		FUZZ_ASSERT(err.msg[0] != '\0');
	}
	json_decref(payload);
	payload = NULL;

	rc = kt_jws_verify_jwks(s, jwks, es_only, &payload, &err);
	if (rc == KT_OK)
		FUZZ_ASSERT(strcmp(header_alg(s), "ES256") == 0);
	json_decref(payload);
	/* Without asking for the payload. */
	(void)kt_jws_verify_jwks(s, jwks, all, NULL, &err);
	free(s);
	return 0;
}
