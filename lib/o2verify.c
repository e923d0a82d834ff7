#include <pthread.h>
#include <stdlib.h>

#include <oauth2/cfg.h>
#include <oauth2/mem.h>
#include <oauth2/oauth2.h>
#include <openssl/err.h>

#include "kontor/jose.h"
#include "kontor/o2verify.h"
#include "kontor/oauth2log.h"
#include "kontor/util.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Every use of liboauth2's verifier in the process goes through this lock
 * (see o2verify.h). */
static pthread_mutex_t o2_lock = PTHREAD_MUTEX_INITIALIZER;
static int o2_cache_ready; /* under o2_lock */

#define O2_CACHE "kontor-verify"
/*
 * Every verifier's options:
 * - verify.cache, expiry=0: oauth2_token_verify() first looks the token up
 *   in the verifier's cache and takes a hit as verified, without a
 *   signature check, and the cache key is the token alone, whatever key the
 *   verifier was built with. Results stored already expired (a shm entry
 *   lives while expires > now) make every call verify. The cache is our
 *   own, one slot: without a cache liboauth2 logs the whole token as an
 *   error after each success, and its default one is 1000 slots of 8 KiB.
 * - type=bearer: no DPoP or mTLS binding, so no HTTP request is consulted.
 * - verify.exp=skip: liboauth2 allows no leeway for exp, so a token of a
 *   provider whose clock is a few seconds ahead of ours, or one that took
 *   a second too long to reach us, would be refused; kt_o2_jwt_verify
 *   checks exp itself, with KT_O2_EXP_LEEWAY_S.
 * - iat, when present, at most KT_O2_IAT_SLACK_S ahead (liboauth2).
 */
#define O2_OPTIONS                                                             \
	"type=bearer&verify.cache=" O2_CACHE "&expiry=0&verify.exp=skip"       \
	"&verify.iat.slack_after=" STR(KT_O2_IAT_SLACK_S)
#define O2_CACHE_OPTIONS                                                       \
	"name=" O2_CACHE "&max_entries=1&max_val_size=" STR(KT_JOSE_MAX_COMPACT)

static int o2_cache_setup(oauth2_log_t *log, struct kt_error *err)
{
	char *rv;

	if (o2_cache_ready)
		return KT_OK;
	/* Returns a string literal only for options that do not parse. */
	rv = oauth2_cfg_set_cache(log, NULL, "shm", O2_CACHE_OPTIONS);
	if (rv != NULL) {
		kt_error_set(err, KT_ERR_INTERNAL, "liboauth2 cache: %s", rv);
		oauth2_mem_free(rv);
		return err->code;
	}
	o2_cache_ready = 1;
	return KT_OK;
}

/* One liboauth2 verifier per candidate key, chained; then the token. */
static int o2_verify(oauth2_log_t *log, const char *jwt, json_t *keys,
		     struct kt_error *err)
{
	oauth2_cfg_token_verify_t *verify = NULL;
	json_t *payload = NULL, *k;
	char *jwk = NULL, *rv = NULL;
	size_t i;
	int r;

	if ((r = o2_cache_setup(log, err)) != KT_OK)
		return r;
	json_array_foreach(keys, i, k)
	{
		if ((jwk = json_dumps(k, JSON_COMPACT)) == NULL) {
			r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto cleanup;
		}
		rv = oauth2_cfg_token_verify_add_options(log, &verify, "jwk",
							 jwk, O2_OPTIONS);
		free(jwk);
		jwk = NULL;
		if (rv != NULL) {
			r = kt_error_set(err, KT_ERR_INTERNAL,
					 "liboauth2 verifier: %s", rv);
			goto cleanup;
		}
	}
	if (verify == NULL) {
		r = kt_error_set(err, KT_ERR_INTERNAL,
				 "liboauth2 verifier: not created");
		goto cleanup;
	}
	/* Bearer: the request is only read for DPoP and mTLS bindings. */
	if (!oauth2_token_verify(log, NULL, verify, jwt, &payload)) {
		r = kt_error_set(err, KT_ERR_DENIED,
				 "liboauth2's token verifier refused it "
				 "(signature or iat)");
		goto cleanup;
	}
	r = KT_OK;
cleanup:
	if (rv != NULL)
		oauth2_mem_free(rv);
	json_decref(payload);
	if (verify != NULL)
		oauth2_cfg_token_verify_free(log, verify);
	return r;
}

int kt_o2_jwt_verify(const char *jwt, const json_t *jwks,
		     const char *const *algs, json_t **claims,
		     struct kt_error *err)
{
	oauth2_log_t *log = NULL;
	json_t *keys = NULL, *exp;
	int r;

	*claims = NULL;
	if ((r = kt_jws_select_keys(jwt, jwks, algs, &keys, err)) != KT_OK)
		return r;
	pthread_mutex_lock(&o2_lock);
	if ((log = kt_oauth2log_new()) == NULL)
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	else
		r = o2_verify(log, jwt, keys, err);
	kt_oauth2log_free(log);
	pthread_mutex_unlock(&o2_lock);
	/* cjose leaves OpenSSL's reasons for a bad signature queued. */
	ERR_clear_error();
	json_decref(keys);
	if (r != KT_OK)
		return r;
	/* Verified bytes, read once more by our strict parser. */
	if ((r = kt_jwt_decode_unverified(jwt, KT_JOSE_MAX_COMPACT, NULL,
					  claims, err)) != KT_OK)
		return r;
	exp = json_object_get(*claims, "exp");
	if (!json_is_integer(exp))
		r = kt_error_set(err, KT_ERR_DENIED, "token without exp");
	else if (json_integer_value(exp) + KT_O2_EXP_LEEWAY_S < kt_now())
		r = kt_error_set(err, KT_ERR_DENIED, "token expired");
	if (r != KT_OK) {
		json_decref(*claims);
		*claims = NULL;
	}
	return r;
}
