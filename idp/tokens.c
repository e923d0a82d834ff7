/*
 * Minting tokens. Access tokens are self-contained JWTs (RFC 9068) so that
 * resource servers can verify them offline; Redis only remembers
 * revocations, keyed so that revoking a grant reaches its tokens at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/jose.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "tokens.h"

int kt_scope_has(const char *scopes, const char *scope)
{
	const char *p = scopes;
	size_t n;

	/* An empty scope would match at every position without advancing. */
	if (scopes == NULL || scope == NULL || *scope == '\0')
		return 0;
	n = strlen(scope);
	while ((p = strstr(p, scope)) != NULL) {
		if ((p == scopes || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

static int sign(struct kt_req *r, const char *alg, const char *typ,
		json_t *claims, char **out)
{
	struct kt_error err;
	char *payload = json_dumps(claims, JSON_COMPACT);
	int rc;

	if (payload == NULL)
		return KT_ERR_NOMEM;
	rc = kt_keyset_sign(r->rt->keys, alg, typ, payload, strlen(payload),
			    out, &err);
	if (rc != KT_OK)
		kt_log_error_r(rc, "signing failed: %s", err.msg);
	free(payload);
	return rc;
}

static json_t *amr_array(const char *amr)
{
	json_t *a = json_array();
	char buf[128], *save = NULL, *tok;

	if (a == NULL || amr == NULL)
		return a;
	snprintf(buf, sizeof(buf), "%s", amr);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		json_array_append_new(a, json_string(tok));
	return a;
}

int kt_tok_access(struct kt_req *r, const struct kt_client *c,
		  const struct kt_tok_subject *s, char **out)
{
	const struct kt_config *cfg = kt_req_cfg(r);
	char rnd[32], jti[128];
	int64_t now = kt_now();
	json_t *claims;
	int rc;

	*out = NULL;
	if ((rc = kt_random_token(rnd, sizeof(rnd), 16)) != KT_OK)
		return rc;
	if (s->gid)
		snprintf(jti, sizeof(jti), "%s.%s", s->gid, rnd);
	else
		snprintf(jti, sizeof(jti), "%s", rnd);
	claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "iss",
			   cfg->issuer, "sub", s->sub, "aud", cfg->issuer,
			   "client_id", c->client_id, "iat", (json_int_t)now,
			   "exp", (json_int_t)(now + cfg->tokens_access_token_ttl_s),
			   "jti", jti, "scope", s->scope ? s->scope : "");
	if (claims == NULL)
		return KT_ERR_NOMEM;
	if (s->auth_time > 0)
		json_object_set_new(claims, "auth_time",
				    json_integer(s->auth_time));
	if (s->acr)
		json_object_set_new(claims, "acr", json_string(s->acr));
	if (s->sid)
		json_object_set_new(claims, "sid", json_string(s->sid));
	rc = sign(r, KT_CLIENT_ACCESS_TOKEN_ALG, "at+jwt", claims, out);
	json_decref(claims);
	return rc;
}

json_t *kt_tok_user_claims(json_t *person, const char *scope)
{
	json_t *c = json_object();
	const char *v;

	if (c == NULL || person == NULL)
		return c;
	if (kt_scope_has(scope, "profile") &&
	    (v = json_string_value(json_object_get(person, "name"))) && *v)
		json_object_set_new(c, "name", json_string(v));
	if (kt_scope_has(scope, "email") &&
	    (v = json_string_value(json_object_get(person, "email")))) {
		const char *ver = json_string_value(
		    json_object_get(person, "email_verified"));
		json_object_set_new(c, "email", json_string(v));
		json_object_set_new(c, "email_verified",
				    json_boolean(ver && strcmp(ver, "1") == 0));
	}
	return c;
}

int kt_tok_id(struct kt_req *r, const struct kt_client *c,
	      const struct kt_tok_subject *s, const char *access_token,
	      json_t *person, char **out)
{
	const struct kt_config *cfg = kt_req_cfg(r);
	char at_hash[KT_JOSE_THUMBPRINT_LEN];
	int64_t now = kt_now();
	json_t *claims, *user;
	int rc;

	*out = NULL;
	claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "iss", cfg->issuer,
			   "sub", s->sub, "aud", c->client_id, "azp",
			   c->client_id, "iat", (json_int_t)now, "exp",
			   (json_int_t)(now + cfg->tokens_id_token_ttl_s));
	if (claims == NULL)
		return KT_ERR_NOMEM;
	if (s->auth_time > 0)
		json_object_set_new(claims, "auth_time",
				    json_integer(s->auth_time));
	if (s->nonce && *s->nonce)
		json_object_set_new(claims, "nonce", json_string(s->nonce));
	if (s->acr && *s->acr)
		json_object_set_new(claims, "acr", json_string(s->acr));
	if (s->amr && *s->amr)
		json_object_set_new(claims, "amr", amr_array(s->amr));
	if (s->sid && *s->sid)
		json_object_set_new(claims, "sid", json_string(s->sid));
	if (access_token != NULL &&
	    kt_jose_at_hash(c->id_token_alg, access_token, at_hash) == KT_OK)
		json_object_set_new(claims, "at_hash", json_string(at_hash));
	user = kt_tok_user_claims(person, s->scope);
	json_object_update_missing(claims, user);
	json_decref(user);
	rc = sign(r, c->id_token_alg, "JWT", claims, out);
	json_decref(claims);
	return rc;
}

int kt_tok_jti_gid(const char *jti, char *gid, size_t cap)
{
	const char *dot = strchr(jti, '.');
	size_t n;

	gid[0] = '\0';
	if (dot == NULL)
		return KT_ERR_NOTFOUND;
	n = (size_t)(dot - jti);
	if (n == 0 || n >= cap)
		return KT_ERR_INVALID;
	memcpy(gid, jti, n);
	gid[n] = '\0';
	return KT_OK;
}
