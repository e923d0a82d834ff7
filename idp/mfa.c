#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/keyset.h"
#include "kontor/recovery.h"
#include "kontor/totp.h"
#include "kontor/util.h"

#include "mfa.h"
#include "tokens.h"

int kt_mfa_enabled(json_t *person)
{
	const char *t = json_string_value(json_object_get(person, "totp"));
	return t != NULL && *t != '\0';
}

int kt_mfa_key(struct kt_req *r, const char *label, uint8_t out[32])
{
	const uint8_t *ikm;
	size_t len;

	kt_keyset_hmac_key(r->rt->keys, &ikm, &len);
	return kt_totp_derive_key(ikm, len, label, out);
}

static int check_totp(struct kt_req *r, json_t *person, const char *code,
		      json_t **update)
{
	const char *pid = json_string_value(json_object_get(person, "id"));
	const char *sealed = json_string_value(json_object_get(person, "totp"));
	const char *step = json_string_value(json_object_get(person,
							     "totp_step"));
	uint8_t key[32], secret[KT_TOTP_SECRET_MAX];
	size_t len = 0;
	int64_t last = step && *step ? strtoll(step, NULL, 10) : -1, matched;
	struct kt_error err;
	char buf[24];
	int rc;

	if (kt_mfa_key(r, KT_TOTP_SEAL_LABEL, key) != KT_OK)
		return KT_ERR_CRYPTO;
	rc = kt_totp_open(key, pid, sealed, secret, sizeof(secret), &len, &err);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != KT_OK)
		return rc == KT_ERR_DENIED ? KT_ERR_INTERNAL : rc;
	rc = kt_totp_verify(secret, len, code, kt_now(), KT_TOTP_WINDOW_DEFAULT,
			    last, &matched);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc == KT_ERR_CONFLICT || rc == KT_ERR_INVALID)
		rc = KT_ERR_DENIED;
	if (rc != KT_OK)
		return rc;
	snprintf(buf, sizeof(buf), "%lld", (long long)matched);
	*update = json_pack("{s:s}", "totp_step", buf);
	return *update ? KT_OK : KT_ERR_NOMEM;
}

static int check_recovery(struct kt_req *r, json_t *person, const char *code,
			  json_t **update)
{
	const char *pid = json_string_value(json_object_get(person, "id"));
	const char *list = json_string_value(json_object_get(person,
							     "recovery"));
	char copy[KT_RECOVERY_COUNT_MAX * (KT_RECOVERY_HASH_LEN + 1) + 1];
	const char *hashes[KT_RECOVERY_COUNT_MAX];
	uint8_t key[32];
	size_t n = 0, idx;
	char *p, *rest;
	int rc;

	if (list == NULL || strlen(list) >= sizeof(copy))
		return KT_ERR_DENIED;
	memcpy(copy, list, strlen(list) + 1);
	/* Split on commas by hand: empty slots (used codes) matter. */
	for (p = copy; n < KT_RECOVERY_COUNT_MAX; p = rest + 1) {
		rest = strchr(p, ',');
		if (rest != NULL)
			*rest = '\0';
		hashes[n++] = *p ? p : NULL;
		if (rest == NULL)
			break;
	}
	if (kt_mfa_key(r, KT_TOTP_RECOVERY_LABEL, key) != KT_OK)
		return KT_ERR_CRYPTO;
	rc = kt_recovery_check(key, 32, pid, code, hashes, n, &idx);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == KT_ERR_INVALID)
		rc = KT_ERR_DENIED;
	if (rc != KT_OK)
		return rc;
	{
		/* The list without the used code (its slot left empty). */
		char out[sizeof(copy)];
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			const char *h = i == idx ? NULL : hashes[i];
			off += (size_t)snprintf(out + off, sizeof(out) - off,
						"%s%s", i ? "," : "",
						h ? h : "");
		}
		*update = json_pack("{s:s}", "recovery", out);
	}
	return *update ? KT_OK : KT_ERR_NOMEM;
}

int kt_mfa_check(struct kt_req *r, json_t *person, const char *code,
		 json_t **update)
{
	size_t n;

	*update = NULL;
	if (code == NULL || !kt_mfa_enabled(person))
		return KT_ERR_DENIED;
	n = strlen(code);
	if (n == 6 && strspn(code, "0123456789") == 6)
		return check_totp(r, person, code, update);
	return check_recovery(r, person, code, update);
}

int kt_mfa_required(const char *acr_values, const char *claims_json)
{
	json_t *root, *acr;
	json_error_t jerr;
	int need = 0;

	if (kt_scope_has(acr_values, KT_ACR_MFA))
		return 1;
	if (claims_json == NULL)
		return 0;
	root = json_loads(claims_json, 0, &jerr);
	acr = json_object_get(json_object_get(root, "id_token"), "acr");
	if (json_is_true(json_object_get(acr, "essential"))) {
		json_t *v = json_object_get(acr, "value");
		json_t *vs = json_object_get(acr, "values");
		size_t i;
		json_t *e;
		if (json_is_string(v))
			need = kt_str_eq(json_string_value(v), KT_ACR_MFA);
		json_array_foreach(vs, i, e) need |=
		    kt_str_eq(json_string_value(e), KT_ACR_MFA);
	}
	json_decref(root);
	return need;
}
