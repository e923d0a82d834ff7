/*
 * Finding and authenticating relying parties.
 *
 * Clients come from the config file (in the runtime snapshot, no I/O) or
 * from dynamic registration (one Redis GET, re-validated on every load so
 * that stored metadata can never bypass the rules). Client authentication
 * supports client_secret_basic, client_secret_post, private_key_jwt and none,
 * exactly one method per request, and only the method the client registered.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/http.h"
#include "kontor/jose.h"
#include "kontor/o2verify.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "clients.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ASSERTION_MAX_LIFETIME 3600 /* seconds between now and exp; authlib
				    * signs for an hour by default, and
				    * each jti is remembered until exp */
#define CLOCK_SKEW 60

struct find {
	kt_client_found_cb *cb;
	void *arg;
	struct kt_req *r;
};

static void on_client_doc(int rc, json_t *doc, void *arg)
{
	struct find *f = arg;
	struct kt_req *r = f->r;
	kt_client_found_cb *cb = f->cb;
	void *cbarg = f->arg;
	struct kt_client_policy pol = {0};
	struct kt_error err;
	struct kt_client *c = NULL;

	free(f);
	if (rc == KT_OK) {
		pol.allow_http_loopback = kt_req_cfg(r)->dev_allow_http_loopback;
		pol.dynamic = 1;
		rc = kt_client_from_storage(doc, &pol, &c, &err);
		if (rc != KT_OK) {
			kt_log_error("stored client fails validation: %s",
				     err.msg);
			rc = KT_ERR_NOTFOUND;
		} else {
			kt_client_free(r->dyn_client);
			r->dyn_client = c;
		}
	} else if (rc == KT_ERR_INVALID) {
		rc = KT_ERR_NOTFOUND;
	}
	cb(r, c, rc, cbarg);
}

int kt_client_find(struct kt_req *r, const char *client_id,
		   kt_client_found_cb *cb, void *arg)
{
	const struct kt_client *c;
	struct find *f;
	int rc;

	if (client_id == NULL || *client_id == '\0' ||
	    strlen(client_id) > KT_CLIENT_ID_MAX) {
		cb(r, NULL, KT_ERR_NOTFOUND, arg);
		return KT_OK;
	}
	if ((c = kt_config_client(kt_req_cfg(r), client_id)) != NULL) {
		cb(r, c, KT_OK, arg);
		return KT_OK;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return KT_ERR_NOMEM;
	f->cb = cb;
	f->arg = arg;
	f->r = r;
	rc = kt_store_doc_get(kt_req_redis(r), "client", client_id, 0,
			      on_client_doc, f);
	if (rc != KT_OK)
		free(f);
	return rc;
}

/* Client authentication ------------------------------------------------- */

struct auth {
	kt_client_auth_cb *ok;
	const struct kt_client *client;
	enum kt_client_auth method;
	const char *assertion;
	json_t *claims; /* verified assertion claims */
	/* Last: 4.6 KiB that auth_new() does not zero (kt_http_auth_init). */
	struct kt_http_auth basic;
};

static struct auth *auth_new(void)
{
	struct auth *a = malloc(sizeof(*a));

	if (a != NULL) {
		memset(a, 0, offsetof(struct auth, basic));
		kt_http_auth_init(&a->basic);
	}
	return a;
}

static void auth_free(void *p)
{
	struct auth *a = p;

	if (a == NULL)
		return;
	kt_http_auth_clear(&a->basic);
	json_decref(a->claims);
	free(a);
}

static void auth_fail(struct kt_req *r, const char *desc)
{
	struct auth *a = r->h;

	/* RFC 6749 §5.2: 401 with WWW-Authenticate when the client tried the
	 * Authorization header, else 400 (kt_http sets the header for 401). */
	kt_log_info("client authentication failed: %s", desc);
	kt_req_send_oauth_error(r,
				a && a->method == KT_AUTH_CLIENT_SECRET_BASIC
				    ? 401
				    : 400,
				"invalid_client", desc);
}

static void on_jti_once(int rc, json_t *res, void *arg);

static void check_assertion(struct kt_req *r, const struct kt_client *c)
{
	static const char *const algs[] = {"RS256", "ES256", "PS256", NULL};
	struct auth *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	struct kt_error err;
	json_t *aud;
	const char *iss, *sub, *jti;
	char token_ep[600];
	int64_t now = kt_now(), exp, iat;
	int aud_ok = 0;
	size_t i;

	if (c->jwks == NULL) {
		auth_fail(r, "client has no registered keys");
		return;
	}
	/* liboauth2's token verifier, as for the federation's ID tokens;
	 * it wants exp and a plausible iat too. */
	if (kt_o2_jwt_verify(a->assertion, c->jwks, algs, &a->claims, &err) !=
	    KT_OK) {
		char msg[KT_ERROR_MSG_MAX + 32];

		snprintf(msg, sizeof(msg), "client assertion: %s", err.msg);
		auth_fail(r, msg);
		return;
	}
	iss = json_string_value(json_object_get(a->claims, "iss"));
	sub = json_string_value(json_object_get(a->claims, "sub"));
	jti = json_string_value(json_object_get(a->claims, "jti"));
	aud = json_object_get(a->claims, "aud");
	exp = json_integer_value(json_object_get(a->claims, "exp"));
	iat = json_integer_value(json_object_get(a->claims, "iat"));
	if (iss == NULL || sub == NULL || strcmp(iss, c->client_id) != 0 ||
	    strcmp(sub, c->client_id) != 0) {
		auth_fail(r, "client assertion: iss and sub must be the "
			     "client_id");
		return;
	}
	/* The audience is this server: its issuer or the endpoint called. */
	snprintf(token_ep, sizeof(token_ep), "%s%s", cfg->issuer,
		 r->route->path);
	if (json_is_string(aud)) {
		aud_ok = strcmp(json_string_value(aud), cfg->issuer) == 0 ||
			 strcmp(json_string_value(aud), token_ep) == 0;
	} else if (json_is_array(aud)) {
		json_t *v;
		json_array_foreach(aud, i, v)
		{
			if (json_is_string(v) &&
			    (strcmp(json_string_value(v), cfg->issuer) == 0 ||
			     strcmp(json_string_value(v), token_ep) == 0))
				aud_ok = 1;
		}
	}
	if (!aud_ok) {
		auth_fail(r, "client assertion: aud is not this server");
		return;
	}
	if (!json_is_integer(json_object_get(a->claims, "exp")) ||
	    exp + CLOCK_SKEW < now) {
		auth_fail(r, "client assertion: expired or without exp");
		return;
	}
	if (exp - now > ASSERTION_MAX_LIFETIME) {
		auth_fail(r, "client assertion: exp too far in the future");
		return;
	}
	if (json_is_integer(json_object_get(a->claims, "iat")) &&
	    iat > now + CLOCK_SKEW) {
		auth_fail(r, "client assertion: iat in the future");
		return;
	}
	if (jti == NULL || *jti == '\0' || strlen(jti) > 256) {
		auth_fail(r, "client assertion: jti required");
		return;
	}
	/* Single use: a captured assertion cannot be replayed. The key
	 * includes the client so one client cannot burn another's jti. */
	{
		char id[600];
		int rc;
		snprintf(id, sizeof(id), "%s %s", c->client_id, jti);
		rc = kt_store_once(kt_req_redis(r), "jti", id,
				   exp - now + CLOCK_SKEW, on_jti_once, r);
		if (rc != KT_OK)
			kt_req_send_unavailable(r);
	}
}

/* Authentication succeeded: hand the request to the endpoint. */
static void auth_done(struct kt_req *r)
{
	struct auth *a = r->h;
	kt_client_auth_cb *ok = a->ok;
	const struct kt_client *c = a->client;

	/* The endpoint installs its own handler state. */
	r->h = NULL;
	r->h_free = NULL;
	auth_free(a);
	ok(r, c);
}

static void on_jti_once(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc == KT_ERR_CONFLICT) {
		auth_fail(r, "client assertion: jti already used");
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	auth_done(r);
}

static void on_client_for_auth(struct kt_req *r, const struct kt_client *c,
			       int rc, void *arg)
{
	struct auth *a = r->h;
	const uint8_t *key;
	size_t keylen;

	(void)arg;
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK || c == NULL) {
		auth_fail(r, "unknown client");
		return;
	}
	a->client = c;
	if (c->auth_method != a->method) {
		auth_fail(r, "client authentication method not registered "
			     "for this client");
		return;
	}
	switch (a->method) {
	case KT_AUTH_CLIENT_SECRET_BASIC:
	case KT_AUTH_CLIENT_SECRET_POST:
		kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
		if (kt_client_secret_check(
			c,
			a->method == KT_AUTH_CLIENT_SECRET_BASIC
			    ? a->basic.secret
			    : kt_req_param(r, "client_secret"),
			key, keylen) != KT_OK) {
			auth_fail(r, "wrong client secret");
			return;
		}
		break;
	case KT_AUTH_PRIVATE_KEY_JWT:
		check_assertion(r, c);
		return;
	case KT_AUTH_NONE:
		break;
	}
	auth_done(r);
}

int kt_client_authenticate(struct kt_req *r, kt_client_auth_cb *ok)
{
	struct auth *a;
	const char *hdr = kt_req_header(r, "Authorization");
	const char *form_id = kt_req_param(r, "client_id");
	const char *secret = kt_req_param(r, "client_secret");
	const char *atype = kt_req_param(r, "client_assertion_type");
	const char *client_id = NULL;
	char id[KT_CLIENT_ID_MAX + 2];
	int methods = 0, rc;

	if ((a = auth_new()) == NULL) {
		kt_req_send_unavailable(r);
		return KT_OK;
	}
	r->h = a;
	r->h_free = auth_free;
	a->ok = ok;
	a->assertion = kt_req_param(r, "client_assertion");

	if (hdr != NULL) {
		if (kt_http_auth_parse(hdr, &a->basic) != KT_OK ||
		    a->basic.type != KT_HTTP_AUTH_BASIC) {
			a->method = KT_AUTH_CLIENT_SECRET_BASIC;
			auth_fail(r, "malformed Authorization header");
			return KT_OK;
		}
		methods++;
		a->method = KT_AUTH_CLIENT_SECRET_BASIC;
		client_id = a->basic.client_id;
	}
	if (secret != NULL) {
		methods++;
		a->method = KT_AUTH_CLIENT_SECRET_POST;
		client_id = form_id;
	}
	if (a->assertion != NULL || atype != NULL) {
		json_t *payload = NULL;
		struct kt_error err;

		methods++;
		a->method = KT_AUTH_PRIVATE_KEY_JWT;
		if (atype == NULL || strcmp(atype, ASSERTION_TYPE) != 0 ||
		    a->assertion == NULL) {
			auth_fail(r, "client_assertion_type must be " ASSERTION_TYPE);
			return KT_OK;
		}
		/* Peek at iss to find the client; verified right after. */
		if (kt_jwt_decode_unverified(a->assertion, KT_JOSE_MAX_COMPACT,
					     NULL, &payload, &err) != KT_OK) {
			auth_fail(r, err.msg);
			return KT_OK;
		}
		a->claims = payload;
		client_id = json_string_value(json_object_get(payload, "iss"));
		if (client_id == NULL ||
		    (form_id != NULL && strcmp(form_id, client_id) != 0)) {
			auth_fail(r, "client assertion: iss does not match "
				     "client_id");
			return KT_OK;
		}
	}
	if (methods > 1) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"more than one client authentication "
					"method used");
		return KT_OK;
	}
	if (methods == 0) {
		a->method = KT_AUTH_NONE;
		client_id = form_id;
		if (client_id == NULL) {
			auth_fail(r, "client authentication required");
			return KT_OK;
		}
	}
	if (a->method == KT_AUTH_CLIENT_SECRET_BASIC && form_id != NULL &&
	    strcmp(form_id, client_id) != 0) {
		auth_fail(r, "client_id does not match the Authorization "
			     "header");
		return KT_OK;
	}
	/* The unverified claims are only needed for the lookup; client_id
	 * may point into them, so copy it first. */
	if (strlen(client_id) > KT_CLIENT_ID_MAX) {
		auth_fail(r, "unknown client");
		return KT_OK;
	}
	memcpy(id, client_id, strlen(client_id) + 1);
	json_decref(a->claims);
	a->claims = NULL;
	rc = kt_client_find(r, id, on_client_for_auth, NULL);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
	return KT_OK;
}
