/*
 * kt_jws_verify_jwks with a fuzzed JWKS and fixed, validly signed tokens:
 * the other half of private_key_jwt. A client's JWKS comes from dynamic
 * registration (anyone with an initial access token) and is checked there
 * only for its structure; the key material meets the JOSE layer, and
 * cjose, at the token endpoint. (fuzz_jwks does the opposite: fixed keys,
 * fuzzed tokens.)
 *
 * The tokens were signed by the keys of fuzz_jwks.c. Invariants besides
 * "no crash":
 *  - a result code from the documented set, a message on failure;
 *  - success only if the JWKS really holds the signing key: an RSA key
 *    with the same modulus and exponent, or an EC key with the same x, y
 *    (compared as numbers, so leading zero bytes do not matter).
 * Each member also goes through kt_jwk_normalize (the form keys are handed
 * to liboauth2 in): on success only public RSA or P-256 members, EC
 * coordinates of exactly 32 bytes, the same numbers as the input.
 */
#include <jansson.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/util.h"

#include "fuzz.h"

/* RS256 with kid, ES256 with kid, ES256 without kid, PS256 with kid. */
static const char *const tokens[] = {
    "eyJhbGciOiJSUzI1NiIsImtpZCI6Iks2THd6MDJQQklkNEdreWdqdi1IdTMtQ0hJ"
    "bmY2UFk1SjBlUW9DNGlRdGMifQ.eyJpc3MiOiJmdXp6LWNsaWVudCIsInN1YiI6I"
    "mZ1enotY2xpZW50IiwiYXVkIjoiaHR0cHM6Ly9vcC5leGFtcGxlL3Rva2VuIiwia"
    "nRpIjoiajEiLCJleHAiOjQxMDI0NDQ4MDB9.gBquSlFTsswY_k3Nz1zob6E_PUtR"
    "oPkCXtf8UMHYTl01oN5d0wqLswNlfMai32fJFF1GeAG3OxUCQPaGz0SXTHXttMOT"
    "gV7C6yzTGRCo_RzfZ2_YDYTEMbdGxfkexHmvQQb3lbpNjahy4SgcSgnpFPyYKef7"
    "gaWEUramjtkZYQJYTJK4NrJfdRRL2n7EeM3EN0S9gybFp03fHl8VTxqJMPB1bCWN"
    "4ys53xaJMru9VED6S4Cj6ybusZWQhEXXBE6Ov3Cx6gHwBAj_LM3YEWcr2tqhN_Lg"
    "W2BlceBnElFNlHhytu4Fh5LIrH5nqVxqelz_anwDrf8k8nn-2_TXwtCKzQ",
    "eyJhbGciOiJFUzI1NiIsImtpZCI6InBCVWE1dl8wZmQwdTZ2N1VPR0dzR29UTlo2"
    "ZXVEX2lKT1BvUE9PTzJDME0iLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJmdXp6LWNsa"
    "WVudCIsInN1YiI6ImZ1enotY2xpZW50IiwiYXVkIjoiaHR0cHM6Ly9vcC5leGFtc"
    "GxlL3Rva2VuIiwianRpIjoiajEiLCJleHAiOjQxMDI0NDQ4MDB9.GDAvW2D1r7kV"
    "OhVLdfdP5wO4sOrne4OkqiGjONZnXttVod4ozS0DC1EubzhNtmpIasU5hZ94jvoW"
    "1-vZjdF4Tw",
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJmdXp6LWNsaWVudCIsInN1YiI6ImZ1eno"
    "tY2xpZW50IiwiYXVkIjoiaHR0cHM6Ly9vcC5leGFtcGxlL3Rva2VuIiwianRpIjo"
    "iajEiLCJleHAiOjQxMDI0NDQ4MDB9.xTAW3N20MGysiyd4IDLWJlFnyQEuaTPOCL"
    "52dfYbTDgYX5lVFAZILQXSkY0Ka06ka6Mfk6ED67gmBmSvqQCtQw",
    "eyJhbGciOiJQUzI1NiIsImtpZCI6Iks2THd6MDJQQklkNEdreWdqdi1IdTMtQ0hJ"
    "bmY2UFk1SjBlUW9DNGlRdGMifQ.eyJpc3MiOiJmdXp6LWNsaWVudCIsInN1YiI6I"
    "mZ1enotY2xpZW50IiwiYXVkIjoiaHR0cHM6Ly9vcC5leGFtcGxlL3Rva2VuIiwia"
    "nRpIjoiajEiLCJleHAiOjQxMDI0NDQ4MDB9.nK0H6fNoSHbyc5lGy_9FN1rOxyUj"
    "R8DaY3BPkCafGd9ZcsKJSkuOfqAp4YIhB7oO13OV4CMpVSOl2EXt1m2HRfEomzh7"
    "gcrpFaHq890-IWsGXO8C87rdtB4IkZFWxd-gk53Ad-5RU-aN2tQX-1l5Cy2013WR"
    "qDTt-NcpC9qKRf9BYz3jQJOMSvQ0OZ0Cj07BARwWTqT0JCRzmqFM9Mv3dqrrW12X"
    "09JpBZGomsCiJ6a_AoB_V5ak0K6b02KTvrrOvBMMCx_NzyEJuejOCSpA4nENB8Gv"
    "9F96tJND09Neh0JQkVtJi1_ksCptidIJ5dvdU-R0vAOf_kHE-KRUvVh_bw",
};

/* The signing keys' public members (from fuzz_jwks.c). */
static const char real_jwks[] =
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

static json_t *real;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_error_t e;

	if ((real = json_loads(real_jwks, 0, &e)) == NULL)
		abort();
	return 0;
}

/* Equal as big-endian unsigned numbers, both valid base64url. */
static int same_uint(const json_t *a, const json_t *b)
{
	uint8_t x[1100], y[1100];
	size_t xl, yl, xi = 0, yi = 0;
	const char *as = json_string_value(a), *bs = json_string_value(b);

	if (as == NULL || bs == NULL ||
	    kt_b64url_decode(x, sizeof(x), &xl, as, strlen(as)) != KT_OK ||
	    kt_b64url_decode(y, sizeof(y), &yl, bs, strlen(bs)) != KT_OK)
		return 0;
	while (xi < xl && x[xi] == 0)
		xi++;
	while (yi < yl && y[yi] == 0)
		yi++;
	return xl - xi == yl - yi && memcmp(x + xi, y + yi, xl - xi) == 0;
}

/* Does jwks hold a key with the public numbers of real key r? */
static int holds(const json_t *jwks, const json_t *r)
{
	const json_t *keys = json_object_get(jwks, "keys"), *k;
	int rsa =
	    strcmp(json_string_value(json_object_get(r, "kty")), "RSA") == 0;
	size_t i;

	json_array_foreach(keys, i, k)
	{
		if (rsa &&
		    same_uint(json_object_get(k, "n"),
			      json_object_get(r, "n")) &&
		    same_uint(json_object_get(k, "e"), json_object_get(r, "e")))
			return 1;
		if (!rsa &&
		    same_uint(json_object_get(k, "x"),
			      json_object_get(r, "x")) &&
		    same_uint(json_object_get(k, "y"), json_object_get(r, "y")))
			return 1;
	}
	return 0;
}

static void check_normalize(const json_t *k)
{
	struct kt_error err;
	json_t *out = NULL;
	const char *kty;
	uint8_t buf[64];
	size_t n;
	int rc = kt_jwk_normalize(k, &out, &err);

	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_INVALID ||
		    rc == KT_ERR_UNSUPPORTED || rc == KT_ERR_NOMEM);
	if (rc != KT_OK) {
		FUZZ_ASSERT(out == NULL && err.msg[0] != '\0');
		return;
	}
	kty = json_string_value(json_object_get(out, "kty"));
	FUZZ_ASSERT(kty != NULL);
	if (strcmp(kty, "EC") == 0) {
		FUZZ_ASSERT(json_object_size(out) ==
			    4u + (json_object_get(out, "kid") != NULL));
		for (const char *const *c =
			 (const char *const[]){"x", "y", NULL};
		     *c; c++) {
			const char *v =
			    json_string_value(json_object_get(out, *c));
			FUZZ_ASSERT(v != NULL &&
				    kt_b64url_decode(buf, sizeof(buf), &n, v,
						     strlen(v)) == KT_OK &&
				    n == 32);
			FUZZ_ASSERT(same_uint(json_object_get(out, *c),
					      json_object_get(k, *c)));
		}
	} else {
		FUZZ_ASSERT(strcmp(kty, "RSA") == 0);
		FUZZ_ASSERT(json_object_size(out) ==
			    3u + (json_object_get(out, "kid") != NULL));
		FUZZ_ASSERT(json_equal(json_object_get(out, "n"),
				       json_object_get(k, "n")));
	}
	json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const all[] = {"RS256", "ES256", "PS256", NULL};
	json_error_t e;
	json_t *jwks, *payload;
	struct kt_error err;
	int rc;

	if (real == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	jwks = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
	if (jwks == NULL)
		return 0;
	{
		const json_t *k;
		size_t i;

		json_array_foreach(json_object_get(jwks, "keys"), i, k)
		{
			check_normalize(k);
		}
	}
	for (size_t t = 0; t < sizeof(tokens) / sizeof(tokens[0]); t++) {
		payload = NULL;
		rc = kt_jws_verify_jwks(tokens[t], jwks, all, &payload, &err);
		FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_LIMIT ||
			    rc == KT_ERR_INVALID || rc == KT_ERR_DENIED ||
			    rc == KT_ERR_NOTFOUND || rc == KT_ERR_NOMEM);
		if (rc == KT_OK) {
			FUZZ_ASSERT(json_is_object(payload));
			/* tokens 0 and 3 are RSA, 1 and 2 EC */
			FUZZ_ASSERT(holds(
			    jwks, json_array_get(json_object_get(real, "keys"),
						 t == 0 || t == 3 ? 0 : 1)));
		} else {
			FUZZ_ASSERT(payload == NULL);
			FUZZ_ASSERT(err.msg[0] != '\0');
		}
		json_decref(payload);
	}
	json_decref(jwks);
	return 0;
}
