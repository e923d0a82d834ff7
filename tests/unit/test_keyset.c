#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "keys_cmd.h"
#include "rm_dir.h"

struct fx {
	char tmp[64];
	char dir[96]; /* tmp/keys, created by generate */
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->tmp, sizeof(f->tmp), "/tmp/kt-keyset-XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/keys", f->tmp);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	rm_flat(f->dir);
	rm_flat(f->tmp);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void path_of(char *out, size_t cap, const struct fx *f, const char *name)
{
	snprintf(out, cap, "%s/%s", f->dir, name);
}

static json_t *meta_load(const struct fx *f)
{
	char p[256];
	json_t *j;

	path_of(p, sizeof(p), f, "keyset.json");
	j = json_load_file(p, 0, NULL);
	assert_non_null(j);
	return j;
}

static void meta_save(const struct fx *f, json_t *j)
{
	char p[256];

	path_of(p, sizeof(p), f, "keyset.json");
	assert_int_equal(json_dump_file(j, p, JSON_INDENT(2)), 0);
}

/* kid of the key of alg in state (NULL-terminated copy in out). */
static int kid_of(const struct fx *f, const char *alg, const char *state,
		  char out[KT_JOSE_THUMBPRINT_LEN])
{
	json_t *m = meta_load(f), *k;
	size_t i;
	int found = 0;

	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "alg")), alg) ==
			0 &&
		    strcmp(json_string_value(json_object_get(k, "state")),
			   state) == 0) {
			snprintf(out, KT_JOSE_THUMBPRINT_LEN, "%s",
				 json_string_value(json_object_get(k, "kid")));
			found++;
		}
	}
	json_decref(m);
	return found;
}

static size_t count_state(const struct fx *f, const char *state)
{
	json_t *m = meta_load(f), *k;
	size_t i, n = 0;

	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "state")),
			   state) == 0)
			n++;
	}
	json_decref(m);
	return n;
}

static mode_t mode_of(const char *p)
{
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static void pem_path(char *out, size_t cap, const struct fx *f, const char *kid)
{
	snprintf(out, cap, "%s/%s.pem", f->dir, kid);
}

static json_t *jwks_of(const struct kt_keyset *ks)
{
	json_t *j = json_loads(kt_keyset_jwks_json(ks), 0, NULL);
	assert_non_null(j);
	return j;
}

static int jwks_has(const struct kt_keyset *ks, const char *kid)
{
	json_t *j = jwks_of(ks), *k;
	size_t i;
	int found = 0;

	json_array_foreach(json_object_get(j, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "kid")), kid) ==
		    0)
			found = 1;
	}
	json_decref(j);
	return found;
}

static size_t jwks_count(const struct kt_keyset *ks)
{
	json_t *j = jwks_of(ks);
	size_t n = json_array_size(json_object_get(j, "keys"));
	json_decref(j);
	return n;
}

static void expect_load_fail(const struct fx *f, int code, const char *msg)
{
	struct kt_error err = {0};
	struct kt_keyset *ks = (struct kt_keyset *)1;

	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), code);
	assert_null(ks);
	assert_string_equal(err.msg, msg);
}

static char *read_all(const char *p, size_t *len)
{
	FILE *fp = fopen(p, "rb");
	char *buf = calloc(1, 65536);
	assert_non_null(fp);
	*len = fread(buf, 1, 65535, fp);
	fclose(fp);
	return buf;
}

/* ---- tests ---- */

static void test_generate_and_load(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	struct kt_keyset *ks = NULL;
	char p[256], kid[KT_JOSE_THUMBPRINT_LEN], *before, *after, *hm;
	const uint8_t *hk;
	size_t hklen, n1, n2, hmlen;
	json_t *jwks, *k;
	size_t i;

	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	assert_int_equal(mode_of(f->dir), 0700);

	/* One active and one next key per alg, each file 0600. */
	assert_int_equal(count_state(f, "active"), 2);
	assert_int_equal(count_state(f, "next"), 2);
	assert_int_equal(count_state(f, "retired"), 0);
	for (int a = 0; a < 2; a++) {
		const char *alg = a ? "ES256" : "RS256";
		assert_int_equal(kid_of(f, alg, "active", kid), 1);
		pem_path(p, sizeof(p), f, kid);
		assert_int_equal(mode_of(p), 0600);
		assert_int_equal(kid_of(f, alg, "next", kid), 1);
		pem_path(p, sizeof(p), f, kid);
		assert_int_equal(mode_of(p), 0600);
	}
	path_of(p, sizeof(p), f, "hmac.key");
	assert_int_equal(mode_of(p), 0600);
	hm = read_all(p, &hmlen);
	assert_int_equal(hmlen, KT_KEYSET_HMAC_LEN);

	/* Idempotent: a second run changes nothing. */
	path_of(p, sizeof(p), f, "keyset.json");
	before = read_all(p, &n1);
	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	after = read_all(p, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);

	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);
	assert_true(kt_keyset_has_alg(ks, "RS256"));
	assert_true(kt_keyset_has_alg(ks, "ES256"));
	assert_false(kt_keyset_has_alg(ks, "PS256"));
	assert_false(kt_keyset_has_alg(ks, NULL));
	kt_keyset_hmac_key(ks, &hk, &hklen);
	assert_int_equal(hklen, KT_KEYSET_HMAC_LEN);
	assert_memory_equal(hk, hm, hklen);
	free(hm);

	/* JWKS: the 4 keys, public parts only, kid = thumbprint. */
	jwks = jwks_of(ks);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 4);
	json_array_foreach(json_object_get(jwks, "keys"), i, k)
	{
		char tp[KT_JOSE_THUMBPRINT_LEN];
		const char *kty = json_string_value(json_object_get(k, "kty"));
		const char *alg = json_string_value(json_object_get(k, "alg"));
		assert_string_equal(
		    json_string_value(json_object_get(k, "use")), "sig");
		assert_true(strcmp(alg, "RS256") == 0 ||
			    strcmp(alg, "ES256") == 0);
		assert_string_equal(kty,
				    strcmp(alg, "RS256") == 0 ? "RSA" : "EC");
		assert_null(json_object_get(k, "d"));
		assert_null(json_object_get(k, "p"));
		assert_int_equal(kt_jwk_thumbprint(k, tp), KT_OK);
		assert_string_equal(
		    tp, json_string_value(json_object_get(k, "kid")));
	}
	/* Active keys are listed first. */
	assert_int_equal(kid_of(f, "RS256", "active", kid), 1);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(jwks, "keys"), 0), "kid")),
	    kid);
	json_decref(jwks);
	kt_keyset_free(ks);
	kt_keyset_free(NULL);
}

static void test_rsa_bits(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};

	assert_int_equal(kt_keyset_generate(f->dir, 1024, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "RSA key size must be a multiple of 8 "
				     "from 2048 to 8192 bits, not 1024");
	assert_int_equal(kt_keyset_generate(f->dir, 2049, &err),
			 KT_ERR_INVALID);
	assert_false(exists(f->dir));
}

static void test_sign_verify(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	struct kt_keyset *ks = NULL;
	json_t *h = NULL, *pl = NULL;
	char *tok = NULL, kid[KT_JOSE_THUMBPRINT_LEN];
	const char *payload = "{\"iss\":\"https://idp\",\"sub\":\"u1\"}";
	EVP_PKEY *stranger;
	char stranger_kid[KT_JOSE_THUMBPRINT_LEN];
	json_t *sj = NULL;

	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);

	for (int a = 0; a < 2; a++) {
		const char *alg = a ? "ES256" : "RS256";
		assert_int_equal(kt_keyset_sign(ks, alg, "JWT", payload,
						strlen(payload), &tok, &err),
				 KT_OK);
		assert_int_equal(kt_keyset_verify(ks, tok, &h, &pl, &err),
				 KT_OK);
		assert_int_equal(kid_of(f, alg, "active", kid), 1);
		assert_string_equal(
		    json_string_value(json_object_get(h, "kid")), kid);
		assert_string_equal(
		    json_string_value(json_object_get(h, "alg")), alg);
		assert_string_equal(
		    json_string_value(json_object_get(pl, "sub")), "u1");
		json_decref(h);
		json_decref(pl);
		free(tok);
	}
	assert_int_equal(kt_keyset_sign(ks, "PS256", NULL, "{}", 2, &tok, &err),
			 KT_ERR_UNSUPPORTED);
	assert_string_equal(err.msg, "no active signing key for alg 'PS256'");
	assert_null(tok);

	/* A token from a key we never published. */
	stranger = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_int_equal(kt_jwk_from_pkey(stranger, &sj), KT_OK);
	assert_int_equal(kt_jwk_thumbprint(sj, stranger_kid), KT_OK);
	json_decref(sj);
	assert_int_equal(kt_jws_sign(stranger, "ES256", stranger_kid, NULL,
				     payload, strlen(payload), &tok, &err),
			 KT_OK);
	h = pl = (json_t *)1;
	assert_int_equal(kt_keyset_verify(ks, tok, &h, &pl, &err),
			 KT_ERR_NOTFOUND);
	assert_null(h);
	assert_null(pl);
	{
		char expect[128];
		snprintf(expect, sizeof(expect),
			 "token kid '%s' is not a published key", stranger_kid);
		assert_string_equal(err.msg, expect);
	}
	free(tok);

	/* Our kid, somebody else's signature. */
	assert_int_equal(kid_of(f, "ES256", "active", kid), 1);
	assert_int_equal(kt_jws_sign(stranger, "ES256", kid, NULL, payload,
				     strlen(payload), &tok, &err),
			 KT_OK);
	assert_int_equal(kt_keyset_verify(ks, tok, NULL, NULL, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "signature verification failed");
	free(tok);

	/* Our RSA kid with an ES256 header: alg must match the key. */
	assert_int_equal(kid_of(f, "RS256", "active", kid), 1);
	assert_int_equal(kt_jws_sign(stranger, "ES256", kid, NULL, payload,
				     strlen(payload), &tok, &err),
			 KT_OK);
	assert_int_equal(kt_keyset_verify(ks, tok, NULL, NULL, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "JWS alg 'ES256' does not match the key's "
				     "alg 'RS256'");
	free(tok);

	/* No kid at all, and a kid that is not even thumbprint-shaped. */
	assert_int_equal(kt_jws_sign(stranger, "ES256", NULL, NULL, payload,
				     strlen(payload), &tok, &err),
			 KT_OK);
	assert_int_equal(kt_keyset_verify(ks, tok, NULL, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "token has no kid");
	free(tok);
	assert_int_equal(kt_jws_sign(stranger, "ES256", "../../etc", NULL,
				     payload, strlen(payload), &tok, &err),
			 KT_OK);
	assert_int_equal(kt_keyset_verify(ks, tok, NULL, NULL, &err),
			 KT_ERR_NOTFOUND);
	assert_string_equal(err.msg, "token kid is not a published key");
	free(tok);
	assert_int_equal(kt_keyset_verify(ks, "x.y", NULL, NULL, &err),
			 KT_ERR_INVALID);

	EVP_PKEY_free(stranger);
	kt_keyset_free(ks);
}

/* Hits and misses of this thread's verified-token cache since h0 and m0. */
static void cache_delta(uint64_t *h0, uint64_t *m0, uint64_t dh, uint64_t dm)
{
	uint64_t h, m;

	kt_keyset_verify_cache_stats(&h, &m);
	assert_int_equal(h - *h0, dh);
	assert_int_equal(m - *m0, dm);
	*h0 = h;
	*m0 = m;
}

static char *sign_claims(struct kt_keyset *ks, const char *alg,
			 const char *payload)
{
	struct kt_error err;
	char *tok = NULL;

	assert_int_equal(kt_keyset_sign(ks, alg, "at+jwt", payload,
					strlen(payload), &tok, &err),
			 KT_OK);
	return tok;
}

static void test_verify_cache(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	struct kt_keyset *ks = NULL, *ks2 = NULL;
	json_t *h = NULL, *pl = NULL;
	char live[128], *tok, *tok2, *noexp, *old;
	uint64_t h0, m0;

	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);
	snprintf(live, sizeof(live), "{\"sub\":\"u1\",\"exp\":%lld}",
		 (long long)kt_now() + 600);
	tok = sign_claims(ks, "ES256", live);
	kt_keyset_verify_cache_stats(&h0, &m0);

	/* First a miss, then hits that give the same header and payload. */
	assert_int_equal(kt_keyset_verify(ks, tok, &h, &pl, &err), KT_OK);
	cache_delta(&h0, &m0, 0, 1);
	json_decref(h);
	json_decref(pl);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kt_keyset_verify(ks, tok, &h, &pl, &err),
				 KT_OK);
		assert_string_equal(
		    json_string_value(json_object_get(h, "alg")), "ES256");
		assert_string_equal(
		    json_string_value(json_object_get(h, "typ")), "at+jwt");
		assert_string_equal(
		    json_string_value(json_object_get(pl, "sub")), "u1");
		json_decref(h);
		json_decref(pl);
	}
	cache_delta(&h0, &m0, 3, 0);
	assert_int_equal(kt_keyset_verify(ks, tok, NULL, NULL, &err), KT_OK);
	cache_delta(&h0, &m0, 1, 0);

	/* A changed signature is not the cached token: verified, refused. */
	tok2 = strdup(tok);
	tok2[strlen(tok2) - 3] = tok2[strlen(tok2) - 3] == 'A' ? 'B' : 'A';
	h = pl = (json_t *)1;
	assert_int_equal(kt_keyset_verify(ks, tok2, &h, &pl, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "signature verification failed");
	assert_null(h);
	assert_null(pl);
	cache_delta(&h0, &m0, 0, 1);
	/* ... and failures are never remembered. */
	assert_int_equal(kt_keyset_verify(ks, tok2, NULL, NULL, &err),
			 KT_ERR_DENIED);
	cache_delta(&h0, &m0, 0, 1);
	free(tok2);

	/* Without exp, or past it, or without the payload wanted: nothing
	 * is remembered. */
	noexp = sign_claims(ks, "RS256", "{\"sub\":\"u2\"}");
	old = sign_claims(ks, "ES256", "{\"sub\":\"u3\",\"exp\":1000}");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kt_keyset_verify(ks, noexp, NULL, &pl, &err),
				 KT_OK);
		json_decref(pl);
		assert_int_equal(kt_keyset_verify(ks, old, NULL, &pl, &err),
				 KT_OK);
		json_decref(pl);
	}
	cache_delta(&h0, &m0, 0, 4);
	free(noexp);
	free(old);

	/* A keyset loaded anew (a reload) starts empty, and the cache
	 * follows whichever keyset verifies. */
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks2, &err), KT_OK);
	assert_int_equal(kt_keyset_verify(ks2, tok, NULL, &pl, &err), KT_OK);
	json_decref(pl);
	cache_delta(&h0, &m0, 0, 1);
	assert_int_equal(kt_keyset_verify(ks2, tok, NULL, &pl, &err), KT_OK);
	json_decref(pl);
	cache_delta(&h0, &m0, 1, 0);

	/* A keyset that no longer publishes the key: the kid is refused
	 * before the cache is asked. */
	assert_int_equal(kt_keyset_rotate(f->dir, "ES256", 0, &err), KT_OK);
	assert_int_equal(kt_keyset_rotate(f->dir, "ES256", 0, &err), KT_OK);
	kt_keyset_free(ks2);
	ks2 = NULL;
	assert_int_equal(kt_keyset_load(f->dir, 0, &ks2, &err), KT_OK);
	assert_int_equal(kt_keyset_verify(ks2, tok, NULL, &pl, &err),
			 KT_ERR_NOTFOUND);
	assert_null(pl);
	/* The old keyset still knows it (its cache was dropped, not lost
	 * for correctness: a miss verifies again). */
	assert_int_equal(kt_keyset_verify(ks, tok, NULL, &pl, &err), KT_OK);
	json_decref(pl);

	free(tok);
	kt_keyset_free(ks);
	kt_keyset_free(ks2);
}

static void test_rotate(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	struct kt_keyset *ks = NULL, *ks0 = NULL;
	char rs_act[KT_JOSE_THUMBPRINT_LEN], rs_next[KT_JOSE_THUMBPRINT_LEN];
	char es_act[KT_JOSE_THUMBPRINT_LEN], es_next[KT_JOSE_THUMBPRINT_LEN];
	char kid[KT_JOSE_THUMBPRINT_LEN], *old_tok = NULL, *tok = NULL;
	json_t *h = NULL, *m, *k;
	size_t i;

	/* Rotation needs keys. */
	assert_int_equal(kt_keyset_rotate(f->dir, NULL, 0, &err),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	assert_int_equal(kt_keyset_rotate(f->dir, "HS256", 0, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "unknown alg 'HS256' (RS256 or ES256)");

	kid_of(f, "RS256", "active", rs_act);
	kid_of(f, "RS256", "next", rs_next);
	kid_of(f, "ES256", "active", es_act);
	kid_of(f, "ES256", "next", es_next);
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks0, &err), KT_OK);
	/* The next key is published before it ever signs. */
	assert_true(jwks_has(ks0, rs_next));
	assert_true(jwks_has(ks0, es_next));
	assert_int_equal(
	    kt_keyset_sign(ks0, "RS256", NULL, "{}", 2, &old_tok, &err), KT_OK);

	/* First rotation: both algs. */
	assert_int_equal(kt_keyset_rotate(f->dir, NULL, 0, &err), KT_OK);
	assert_int_equal(count_state(f, "active"), 2);
	assert_int_equal(count_state(f, "next"), 2);
	assert_int_equal(count_state(f, "retired"), 2);
	assert_int_equal(kid_of(f, "RS256", "active", kid), 1);
	assert_string_equal(kid, rs_next);
	assert_int_equal(kid_of(f, "ES256", "active", kid), 1);
	assert_string_equal(kid, es_next);
	assert_int_equal(kid_of(f, "RS256", "next", kid), 1);
	assert_string_not_equal(kid, rs_act);
	assert_string_not_equal(kid, rs_next);
	m = meta_load(f);
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		const char *kk = json_string_value(json_object_get(k, "kid"));
		const char *st = json_string_value(json_object_get(k, "state"));
		if (strcmp(kk, rs_act) == 0 || strcmp(kk, es_act) == 0) {
			assert_string_equal(st, "retired");
			assert_true(json_integer_value(
					json_object_get(k, "retired")) > 0);
		}
		if (strcmp(st, "active") == 0)
			assert_true(json_integer_value(
					json_object_get(k, "activated")) > 0);
	}
	json_decref(m);

	/* Within the window the retired key is published and verifies. */
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);
	assert_int_equal(jwks_count(ks), 6);
	assert_true(jwks_has(ks, rs_act));
	assert_int_equal(kt_keyset_verify(ks, old_tok, NULL, NULL, &err),
			 KT_OK);
	/* New tokens come from the former next key. */
	assert_int_equal(kt_keyset_sign(ks, "RS256", NULL, "{}", 2, &tok, &err),
			 KT_OK);
	assert_int_equal(kt_keyset_verify(ks, tok, &h, NULL, &err), KT_OK);
	assert_string_equal(json_string_value(json_object_get(h, "kid")),
			    rs_next);
	json_decref(h);
	/* The old gateway (not yet reloaded) knows the new active key. */
	assert_int_equal(kt_keyset_verify(ks0, tok, NULL, NULL, &err), KT_OK);
	free(tok);
	kt_keyset_free(ks);

	/* Without a window, retired keys are gone from the JWKS at once. */
	assert_int_equal(kt_keyset_load(f->dir, 0, &ks, &err), KT_OK);
	assert_int_equal(jwks_count(ks), 4);
	assert_false(jwks_has(ks, rs_act));
	assert_int_equal(kt_keyset_verify(ks, old_tok, NULL, NULL, &err),
			 KT_ERR_NOTFOUND);
	kt_keyset_free(ks);

	/* Second rotation, ES256 only. */
	assert_int_equal(kt_keyset_rotate(f->dir, "ES256", 0, &err), KT_OK);
	assert_int_equal(count_state(f, "retired"), 3);
	assert_int_equal(kid_of(f, "RS256", "active", kid), 1);
	assert_string_equal(kid, rs_next);
	assert_int_equal(kid_of(f, "ES256", "retired", kid), 2);
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);
	assert_int_equal(jwks_count(ks), 7);
	assert_true(jwks_has(ks, es_act));
	assert_true(jwks_has(ks, es_next));
	kt_keyset_free(ks);

	kt_keyset_free(ks0);
	free(old_tok);
}

static void test_prune(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	struct kt_keyset *ks = NULL;
	char rs_act[KT_JOSE_THUMBPRINT_LEN], es_act[KT_JOSE_THUMBPRINT_LEN];
	char p[256];
	json_t *m, *k;
	size_t i;

	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	kid_of(f, "RS256", "active", rs_act);
	kid_of(f, "ES256", "active", es_act);
	assert_int_equal(kt_keyset_rotate(f->dir, NULL, 0, &err), KT_OK);

	/* Retired just now: a 1 h window keeps them. */
	assert_int_equal(kt_keyset_prune(f->dir, 3600, &err), KT_OK);
	assert_int_equal(count_state(f, "retired"), 2);
	pem_path(p, sizeof(p), f, rs_act);
	assert_true(exists(p));

	/* Backdate the RS256 retirement by two hours. */
	m = meta_load(f);
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "kid")),
			   rs_act) == 0)
			json_object_set_new(k, "retired",
					    json_integer(kt_now() - 7200));
	}
	meta_save(f, m);
	json_decref(m);

	/* The gateway already stops publishing it with a 1 h window... */
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);
	assert_false(jwks_has(ks, rs_act));
	assert_true(jwks_has(ks, es_act));
	kt_keyset_free(ks);
	/* ...and prune deletes entry and file; the ES256 one stays. */
	assert_int_equal(kt_keyset_prune(f->dir, 3600, &err), KT_OK);
	assert_int_equal(count_state(f, "retired"), 1);
	assert_false(exists(p));
	pem_path(p, sizeof(p), f, es_act);
	assert_true(exists(p));
	assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err), KT_OK);
	assert_int_equal(jwks_count(ks), 5);
	kt_keyset_free(ks);

	/* Window 0 prunes every retired key. */
	assert_int_equal(kt_keyset_prune(f->dir, 0, &err), KT_OK);
	assert_int_equal(count_state(f, "retired"), 0);
	assert_false(exists(p));
	assert_int_equal(kt_keyset_prune(f->dir, -1, &err), KT_ERR_INVALID);
}

static void test_load_errors(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	char p[256], p2[300], msg[600], kid[KT_JOSE_THUMBPRINT_LEN];
	char kid2[KT_JOSE_THUMBPRINT_LEN];
	json_t *m, *saved, *k;
	size_t i;
	FILE *fp;

	snprintf(msg, sizeof(msg),
		 "%s: No such file or directory (run 'kontor-idp keys "
		 "generate')",
		 f->dir);
	expect_load_fail(f, KT_ERR_NOTFOUND, msg);

	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	kid_of(f, "RS256", "active", kid);
	pem_path(p, sizeof(p), f, kid);

	/* Private key readable by the group, or by everyone. */
	chmod(p, 0640);
	snprintf(msg, sizeof(msg),
		 "%s: permissions 0640 are too open: a secret must not be "
		 "accessible by group or others (chmod 600)",
		 p);
	expect_load_fail(f, KT_ERR_DENIED, msg);
	chmod(p, 0604);
	snprintf(msg, sizeof(msg),
		 "%s: permissions 0604 are too open: a secret must not be "
		 "accessible by group or others (chmod 600)",
		 p);
	expect_load_fail(f, KT_ERR_DENIED, msg);
	chmod(p, 0400);
	{
		struct kt_keyset *ks = NULL;
		assert_int_equal(kt_keyset_load(f->dir, 3600, &ks, &err),
				 KT_OK);
		kt_keyset_free(ks);
	}
	chmod(p, 0600);

	/* Missing private key file. */
	snprintf(p2, sizeof(p2), "%s.moved", p);
	assert_int_equal(rename(p, p2), 0);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", p);
	expect_load_fail(f, KT_ERR_NOTFOUND, msg);
	assert_int_equal(rename(p2, p), 0);

	/* A key file holding another key than its name says. */
	kid_of(f, "RS256", "next", kid2);
	pem_path(p2, sizeof(p2), f, kid2);
	snprintf(msg, sizeof(msg), "%s.orig", p);
	assert_int_equal(rename(p, msg), 0);
	assert_int_equal(link(p2, p), 0);
	{
		char expect[800];
		snprintf(expect, sizeof(expect),
			 "%s: holds a key with thumbprint %s, not the kid %s",
			 p, kid2, kid);
		expect_load_fail(f, KT_ERR_INVALID, expect);
	}
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rename(msg, p), 0);

	/* An EC key where keyset.json says RS256. */
	saved = meta_load(f);
	m = json_deep_copy(saved);
	kid_of(f, "ES256", "next", kid2);
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "kid")),
			   kid2) == 0)
			json_object_set_new(k, "alg", json_string("RS256"));
	}
	/* (RS256 already has a next key: make this one retired-but-fresh.) */
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "kid")),
			   kid2) == 0) {
			json_object_set_new(k, "state", json_string("retired"));
			json_object_set_new(k, "retired",
					    json_integer(kt_now()));
		}
	}
	meta_save(f, m);
	json_decref(m);
	pem_path(p2, sizeof(p2), f, kid2);
	snprintf(msg, sizeof(msg),
		 "%s: RS256 needs an RSA key of 2048..8192 bits", p2);
	expect_load_fail(f, KT_ERR_INVALID, msg);

	/* No active RS256 key. */
	m = json_deep_copy(saved);
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "kid")), kid) ==
		    0)
			json_object_set_new(k, "state", json_string("next"));
		else if (strcmp(json_string_value(json_object_get(k, "alg")),
				"RS256") == 0)
			json_object_set_new(k, "state", json_string("retired"));
	}
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "state")),
			   "retired") == 0)
			json_object_set_new(k, "retired",
					    json_integer(kt_now()));
	}
	meta_save(f, m);
	json_decref(m);
	snprintf(msg, sizeof(msg),
		 "%s/keyset.json: no active RS256 key (run 'kontor-idp keys "
		 "generate')",
		 f->dir);
	expect_load_fail(f, KT_ERR_NOTFOUND, msg);

	/* Two active ES256 keys. */
	m = json_deep_copy(saved);
	json_array_foreach(json_object_get(m, "keys"), i, k)
	{
		if (strcmp(json_string_value(json_object_get(k, "alg")),
			   "ES256") == 0) {
			json_object_set_new(k, "state", json_string("active"));
			json_object_set_new(k, "activated",
					    json_integer(kt_now()));
		}
	}
	meta_save(f, m);
	json_decref(m);
	snprintf(msg, sizeof(msg),
		 "%s/keyset.json: more than one active ES256 "
		 "key",
		 f->dir);
	expect_load_fail(f, KT_ERR_INVALID, msg);

	/* A retired key without its retirement time. */
	m = json_deep_copy(saved);
	k = json_array_get(json_object_get(m, "keys"), 0);
	json_object_set_new(k, "state", json_string("retired"));
	meta_save(f, m);
	json_decref(m);
	snprintf(msg, sizeof(msg),
		 "%s/keyset.json: key 0: \"retired\" is missing", f->dir);
	expect_load_fail(f, KT_ERR_INVALID, msg);

	/* A kid that could escape the directory. */
	m = json_deep_copy(saved);
	k = json_array_get(json_object_get(m, "keys"), 0);
	json_object_set_new(k, "kid", json_string("../../../../etc/passwd"));
	meta_save(f, m);
	json_decref(m);
	snprintf(msg, sizeof(msg),
		 "%s/keyset.json: key 0: \"kid\" must be a 43-character RFC "
		 "7638 thumbprint",
		 f->dir);
	expect_load_fail(f, KT_ERR_INVALID, msg);

	/* Not JSON. */
	path_of(p2, sizeof(p2), f, "keyset.json");
	fp = fopen(p2, "w");
	fputs("{\"keys\": [", fp);
	fclose(fp);
	snprintf(msg, sizeof(msg), "%s: line 1: ']' expected near end of file",
		 p2);
	expect_load_fail(f, KT_ERR_INVALID, msg);
	meta_save(f, saved);
	json_decref(saved);

	/* hmac.key: wrong permissions, wrong size, missing. */
	path_of(p2, sizeof(p2), f, "hmac.key");
	chmod(p2, 0644);
	snprintf(msg, sizeof(msg),
		 "%s: permissions 0644 are too open: a secret must not be "
		 "accessible by group or others (chmod 600)",
		 p2);
	expect_load_fail(f, KT_ERR_DENIED, msg);
	chmod(p2, 0600);
	assert_int_equal(truncate(p2, 16), 0);
	snprintf(msg, sizeof(msg), "%s: must hold exactly 32 bytes, has 16",
		 p2);
	expect_load_fail(f, KT_ERR_INVALID, msg);
	unlink(p2);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", p2);
	expect_load_fail(f, KT_ERR_NOTFOUND, msg);
	/* generate repairs a missing hmac.key. */
	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);
	assert_int_equal(mode_of(p2), 0600);

	/* Missing keyset.json. */
	path_of(p2, sizeof(p2), f, "keyset.json");
	unlink(p2);
	snprintf(msg, sizeof(msg),
		 "%s: No such file or directory (run 'kontor-idp keys "
		 "generate')",
		 p2);
	expect_load_fail(f, KT_ERR_NOTFOUND, msg);
}

static void test_list(void **state)
{
	struct fx *f = *state;
	struct kt_error err = {0};
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	json_t *j;

	assert_int_equal(kt_keyset_list(f->dir, stdout, 0, &err),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_keyset_generate(f->dir, 0, &err), KT_OK);

	out = open_memstream(&buf, &len);
	assert_int_equal(kt_keyset_list(f->dir, out, 1, &err), KT_OK);
	fclose(out);
	j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 4);
	assert_true(json_is_true(json_object_get(j, "hmac_key")));
	json_decref(j);
	free(buf);

	out = open_memstream(&buf, &len);
	assert_int_equal(kt_keyset_list(f->dir, out, 0, &err), KT_OK);
	fclose(out);
	assert_non_null(strstr(buf, "KID"));
	assert_non_null(strstr(buf, "active"));
	assert_non_null(strstr(buf, "hmac.key: present"));
	free(buf);
}

static int run_cli(int n, ...)
{
	char *argv[16];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[n] = NULL;
	return kt_idp_keys_main(n, argv);
}

static void test_cli(void **state)
{
	struct fx *f = *state;
	char *dir = f->dir;
	int saved = dup(1), null = open("/dev/null", O_WRONLY);

	/* The CLI prints the key list on stdout; keep the test log readable. */
	fflush(stdout);
	dup2(null, 1);

	assert_int_equal(run_cli(2, "keys", "--help"), 0);
	assert_int_equal(run_cli(1, "keys"), 2);
	assert_int_equal(run_cli(2, "keys", "frobnicate"), 2);
	assert_int_equal(run_cli(3, "keys", "list", "extra"), 2);
	assert_int_equal(run_cli(3, "keys", "list", "--bogus"), 2);
	assert_int_equal(run_cli(4, "keys", "generate", "--alg", "ES256"), 2);
	assert_int_equal(run_cli(4, "keys", "rotate", "--alg", "HS256"), 2);
	assert_int_equal(run_cli(4, "keys", "generate", "--rsa-bits", "1024"),
			 2);
	assert_int_equal(run_cli(3, "keys", "generate", "--rsa-bits"), 2);
	assert_int_equal(run_cli(4, "keys", "prune", "--retire-window", "-5"),
			 2);
	/* Failures (not usage errors) exit 1. */
	assert_int_equal(run_cli(4, "keys", "list", "--dir", dir), 1);
	assert_int_equal(run_cli(4, "keys", "rotate", "--dir", dir), 1);

	assert_int_equal(run_cli(4, "keys", "generate", "--dir", dir), 0);
	assert_int_equal(count_state(f, "active"), 2);
	assert_int_equal(
	    run_cli(5, "keys", "rotate", "--dir", dir, "--alg=ES256"), 0);
	assert_int_equal(count_state(f, "retired"), 1);
	assert_int_equal(
	    run_cli(5, "keys", "prune", "--dir", dir, "--retire-window=3600"),
	    0);
	assert_int_equal(count_state(f, "retired"), 1);
	assert_int_equal(
	    run_cli(6, "keys", "prune", "--dir", dir, "--retire-window", "0"),
	    0);
	assert_int_equal(count_state(f, "retired"), 0);
	assert_int_equal(run_cli(5, "keys", "list", "--json", "--dir", dir), 0);

	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(null);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_generate_and_load, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rsa_bits, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sign_verify, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rotate, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_verify_cache, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_prune, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_load_errors, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_list, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cli, fx_setup, fx_teardown),
	};

	/* Management functions log each change; keep the test output quiet. */
	kt_log_init(KT_LOG_WARN, 2);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
