#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "kontor/upstream.h"
#include "kontor/uri.h"
#include "kontor/util.h"

static const char *const field_names[KT_UF_COUNT] = {
    [KT_UF_LEGAL_NAME] = "legal_name",
    [KT_UF_LEGAL_FORM] = "legal_form",
    [KT_UF_VAT] = "vat",
    [KT_UF_TAXNO] = "taxno",
    [KT_UF_REGISTER] = "register",
    [KT_UF_WID] = "wid",
    [KT_UF_STREET] = "street",
    [KT_UF_HOUSE_NUMBER] = "house_number",
    [KT_UF_POSTCODE] = "postcode",
    [KT_UF_CITY] = "city",
    [KT_UF_EMAIL] = "email",
    [KT_UF_EMAIL_VERIFIED] = "email_verified",
    [KT_UF_NAME] = "name",
};

static const char *const lands[] = {"BW", "BY", "BE", "BB", "HB", "HH",
				    "HE", "MV", "NI", "NW", "RP", "SL",
				    "SN", "ST", "SH", "TH"};

const char *kt_upstream_field_name(enum kt_upstream_field f)
{
	return f < KT_UF_COUNT ? field_names[f] : NULL;
}

void kt_upstream_free(struct kt_upstream *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->issuer);
	free(u->discovery_url);
	free(u->client_id);
	kt_free_secret(u->client_secret);
	EVP_PKEY_free(u->key);
	free(u->scope);
	for (int i = 0; i < KT_UF_COUNT; i++)
		free(u->claims[i]);
	free(u);
}

static int str(const json_t *obj, const char *k, const char *path, int need,
	       size_t max, char **out, struct kt_error *err)
{
	const json_t *v = json_object_get(obj, k);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (need)
			return kt_error_set(err, KT_ERR_INVALID,
					    "config: %s.%s: required", path, k);
		return KT_OK;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return kt_error_set(
		    err, KT_ERR_INVALID,
		    "config: %s.%s: expected a non-empty string", path, k);
	if (json_string_length(v) > max)
		return kt_error_set(err, KT_ERR_INVALID,
				    "config: %s.%s: longer than %zu characters",
				    path, k, max);
	if ((*out = strdup(json_string_value(v))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	return KT_OK;
}

static int load_key(struct kt_upstream *u, const char *file, const char *path,
		    struct kt_error *err)
{
	FILE *f = fopen(file, "r");
	int id;

	if (f == NULL)
		return kt_error_set(err, KT_ERR_IO,
				    "config: %s.private_key_file: cannot read "
				    "%s",
				    path, file);
	u->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (u->key == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "config: %s.private_key_file: %s is not a "
				    "PEM private key",
				    path, file);
	id = EVP_PKEY_get_base_id(u->key);
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(u->key) >= 2048)
		u->key_alg = "RS256";
	else if (id == EVP_PKEY_EC && EVP_PKEY_get_bits(u->key) == 256)
		u->key_alg = "ES256";
	else
		return kt_error_set(err, KT_ERR_INVALID,
				    "config: %s.private_key_file: must be an "
				    "RSA (2048+) or P-256 key",
				    path);
	return KT_OK;
}

int kt_upstream_from_json(const json_t *obj, const char *path,
			  int allow_http_loopback, struct kt_upstream **out,
			  struct kt_error *err)
{
	static const char *const known[] = {
	    "land",	 "name",	  "issuer",	      "discovery_url",
	    "client_id", "client_secret", "private_key_file", "scope",
	    "claims",	 "enabled"};
	struct kt_upstream *u;
	const char *k, *reason;
	char *tmp = NULL;
	json_t *v;
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_object(obj))
		return kt_error_set(err, KT_ERR_INVALID,
				    "config: %s: expected an object", path);
	json_object_foreach((json_t *)(uintptr_t)obj, k, v)
	{
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return kt_error_set(err, KT_ERR_INVALID,
					    "config: %s.%s: unknown key", path,
					    k);
	}
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	u->enabled = 1;
	if ((rc = str(obj, "land", path, 1, 2, &tmp, err)) != KT_OK)
		goto fail;
	for (i = 0; i < sizeof(lands) / sizeof(lands[0]); i++)
		if (strcmp(tmp, lands[i]) == 0)
			break;
	if (i == sizeof(lands) / sizeof(lands[0])) {
		rc = kt_error_set(err, KT_ERR_INVALID,
				  "config: %s.land: not a Land code (BW, BY, "
				  "BE, ..., TH)",
				  path);
		goto fail;
	}
	memcpy(u->land, tmp, 3);
	free(tmp);
	tmp = NULL;
	if ((rc = str(obj, "name", path, 1, 200, &u->name, err)) != KT_OK ||
	    (rc = str(obj, "issuer", path, 1, 1000, &u->issuer, err)) !=
		KT_OK ||
	    (rc = str(obj, "discovery_url", path, 0, 1000, &u->discovery_url,
		      err)) != KT_OK ||
	    (rc = str(obj, "client_id", path, 1, 255, &u->client_id, err)) !=
		KT_OK ||
	    (rc = str(obj, "client_secret", path, 0, 512, &u->client_secret,
		      err)) != KT_OK ||
	    (rc = str(obj, "scope", path, 0, 1024, &u->scope, err)) != KT_OK ||
	    (rc = str(obj, "private_key_file", path, 0, 4096, &tmp, err)) !=
		KT_OK)
		goto fail;
	if (kt_uri_check_issuer(u->issuer, allow_http_loopback, &reason) !=
	    KT_OK) {
		rc = kt_error_set(err, KT_ERR_INVALID, "config: %s.issuer: %s",
				  path, reason);
		goto fail;
	}
	if (u->discovery_url == NULL) {
		size_t n = strlen(u->issuer) + 40;
		if ((u->discovery_url = malloc(n)) == NULL) {
			rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto fail;
		}
		snprintf(u->discovery_url, n,
			 "%s/.well-known/openid-configuration", u->issuer);
	} else if (kt_uri_check_redirect(u->discovery_url, allow_http_loopback,
					 &reason) != KT_OK) {
		rc = kt_error_set(err, KT_ERR_INVALID,
				  "config: %s.discovery_url: %s", path, reason);
		goto fail;
	}
	if ((u->client_secret == NULL) == (tmp == NULL)) {
		rc = kt_error_set(err, KT_ERR_INVALID,
				  "config: %s: exactly one of client_secret "
				  "and private_key_file is required",
				  path);
		goto fail;
	}
	if (tmp != NULL && (rc = load_key(u, tmp, path, err)) != KT_OK)
		goto fail;
	free(tmp);
	tmp = NULL;
	if (u->scope == NULL &&
	    (u->scope = strdup("openid email profile")) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (!kt_scope_has(u->scope, "openid")) {
		rc =
		    kt_error_set(err, KT_ERR_INVALID,
				 "config: %s.scope: must include openid", path);
		goto fail;
	}
	v = json_object_get(obj, "enabled");
	if (v != NULL && !json_is_boolean(v)) {
		rc = kt_error_set(err, KT_ERR_INVALID,
				  "config: %s.enabled: expected a boolean",
				  path);
		goto fail;
	}
	if (v != NULL)
		u->enabled = json_is_true(v);
	v = json_object_get(obj, "claims");
	if (v != NULL && !json_is_object(v)) {
		rc =
		    kt_error_set(err, KT_ERR_INVALID,
				 "config: %s.claims: expected an object", path);
		goto fail;
	}
	json_object_foreach(v, k, obj)
	{
		int f;
		for (f = 0; f < KT_UF_COUNT; f++)
			if (strcmp(k, field_names[f]) == 0)
				break;
		if (f == KT_UF_COUNT) {
			rc = kt_error_set(err, KT_ERR_INVALID,
					  "config: %s.claims.%s: unknown "
					  "canonical field",
					  path, k);
			goto fail;
		}
		if (!json_is_string(obj) || json_string_length(obj) == 0 ||
		    json_string_length(obj) > 128) {
			rc = kt_error_set(err, KT_ERR_INVALID,
					  "config: %s.claims.%s: expected a "
					  "claim name",
					  path, k);
			goto fail;
		}
		if ((u->claims[f] = strdup(json_string_value(obj))) == NULL) {
			rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	/* Without mappings, the standard claims still mean what they say. */
	if (u->claims[KT_UF_EMAIL] == NULL)
		u->claims[KT_UF_EMAIL] = strdup("email");
	if (u->claims[KT_UF_EMAIL_VERIFIED] == NULL)
		u->claims[KT_UF_EMAIL_VERIFIED] = strdup("email_verified");
	if (u->claims[KT_UF_NAME] == NULL)
		u->claims[KT_UF_NAME] = strdup("name");
	*out = u;
	return KT_OK;
fail:
	free(tmp);
	kt_upstream_free(u);
	return rc;
}

json_t *kt_upstream_map_claims(const struct kt_upstream *u, json_t *claims)
{
	json_t *out = json_object();

	if (out == NULL)
		return NULL;
	for (int f = 0; f < KT_UF_COUNT; f++) {
		json_t *v;
		char buf[32];
		if (u->claims[f] == NULL ||
		    (v = json_object_get(claims, u->claims[f])) == NULL)
			continue;
		if (json_is_string(v) && json_string_length(v) <= 512) {
			json_object_set_new(out, field_names[f],
					    json_string(json_string_value(v)));
		} else if (json_is_boolean(v)) {
			json_object_set_new(
			    out, field_names[f],
			    json_string(json_is_true(v) ? "1" : "0"));
		} else if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(v));
			json_object_set_new(out, field_names[f],
					    json_string(buf));
		}
	}
	return out;
}

json_t *kt_upstream_to_json(const struct kt_upstream *u)
{
	json_t *o = json_object(), *claims = json_object();
	int bad = (o == NULL || claims == NULL);

	for (int f = 0; !bad && f < KT_UF_COUNT; f++)
		if (u->claims[f] != NULL)
			bad |= json_object_set_new(claims, field_names[f],
						   json_string(u->claims[f]));
	if (!bad)
		bad =
		    json_object_set_new(o, "land", json_string(u->land)) ||
		    json_object_set_new(o, "name", json_string(u->name)) ||
		    json_object_set_new(o, "issuer", json_string(u->issuer)) ||
		    json_object_set_new(o, "discovery_url",
					json_string(u->discovery_url)) ||
		    json_object_set_new(o, "client_id",
					json_string(u->client_id)) ||
		    json_object_set_new(o, "scope", json_string(u->scope)) ||
		    json_object_set_new(o, "enabled", json_boolean(u->enabled));
	if (!bad && u->client_secret != NULL)
		bad = json_object_set_new(o, "client_secret",
					  json_string("<redacted>"));
	if (!bad && u->key != NULL)
		bad = json_object_set_new(o, "private_key_alg",
					  json_string(u->key_alg));
	if (!bad) {
		bad = json_object_set_new(o, "claims", claims);
		claims = NULL;
	}
	json_decref(claims);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
