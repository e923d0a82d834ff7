/*
 * Endpoints that take a token: userinfo (OIDC Core §5.3), introspection
 * (RFC 7662) and revocation (RFC 7009).
 *
 * Access tokens are our own JWTs: signature, issuer, type and expiry are
 * checked offline; Redis answers only "was it revoked" (its grant or the
 * token itself). Refresh tokens are "<grant id>.<secret>" and are looked up
 * in their grant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/account.h"
#include "kontor/http.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "clients.h"
#include "handlers.h"
#include "tokens.h"

struct tokcheck {
	const struct kt_client *client; /* caller, or the token's client */
	json_t *claims;			/* verified access-token claims */
	json_t *grant;
	json_t *person;
	json_t *org;
	char gid[64];
	int is_refresh;
};

static void tokcheck_free(void *p)
{
	struct tokcheck *t = p;

	if (t == NULL)
		return;
	json_decref(t->claims);
	json_decref(t->grant);
	json_decref(t->person);
	json_decref(t->org);
	free(t);
}

static struct tokcheck *tokcheck_new(struct kt_req *r)
{
	struct tokcheck *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	r->h = t;
	r->h_free = tokcheck_free;
	return t;
}

/*
 * Verify one of our access tokens offline. On success *claims holds the
 * payload. The message in err is for logs, never for the client.
 */
static int verify_access_token(struct kt_req *r, const char *token,
			       json_t **claims, struct kt_error *err)
{
	json_t *hdr = NULL, *payload = NULL;
	const char *typ, *alg, *iss;
	int rc;

	*claims = NULL;
	if (strlen(token) > 8192)
		return kt_error_set(err, KT_ERR_INVALID, "token too long");
	rc = kt_keyset_verify(r->rt->keys, token, &hdr, &payload, err);
	if (rc != KT_OK)
		return rc;
	typ = json_string_value(json_object_get(hdr, "typ"));
	alg = json_string_value(json_object_get(hdr, "alg"));
	iss = json_string_value(json_object_get(payload, "iss"));
	rc = KT_ERR_INVALID;
	if (typ == NULL || strcmp(typ, "at+jwt") != 0)
		kt_error_set(err, rc, "not an access token");
	else if (alg == NULL || strcmp(alg, KT_CLIENT_ACCESS_TOKEN_ALG) != 0)
		kt_error_set(err, rc, "unexpected alg");
	else if (iss == NULL || strcmp(iss, kt_req_cfg(r)->issuer) != 0)
		kt_error_set(err, rc, "wrong issuer");
	else if (!json_is_integer(json_object_get(payload, "exp")) ||
		 json_integer_value(json_object_get(payload, "exp")) <=
		     kt_now())
		rc = kt_error_set(err, KT_ERR_EXPIRED, "expired");
	else if (!json_is_string(json_object_get(payload, "jti")) ||
		 !json_is_string(json_object_get(payload, "sub")) ||
		 !json_is_string(json_object_get(payload, "client_id")))
		kt_error_set(err, rc, "missing claims");
	else
		rc = KT_OK;
	json_decref(hdr);
	if (rc == KT_OK)
		*claims = payload;
	else
		json_decref(payload);
	return rc;
}

static const char *claim(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Ask Redis whether a verified access token was revoked. */
static int at_status(struct kt_req *r, struct tokcheck *t, kt_store_cb *cb)
{
	const char *jti = claim(t->claims, "jti");
	int has_gid = kt_tok_jti_gid(jti, t->gid, sizeof(t->gid)) == KT_OK;

	return kt_store_at_status(kt_req_redis(r), jti, has_gid ? t->gid : NULL,
				  cb, r);
}

/* userinfo ----------------------------------------------------------------- */

/*
 * Userinfo answers from the grant behind the token: its person (the
 * token's sub is pairwise), its acting organisation and its claims
 * request, through the same claim rules as the ID token.
 */
static void userinfo_respond(struct kt_req *r)
{
	struct tokcheck *t = r->h;
	struct kt_tok_subject s = {0};
	json_t *body;

	s.person = claim(t->grant, "person");
	s.scope = claim(t->claims, "scope");
	s.org = t->org;
	s.role = claim(t->grant, "role");
	s.claims_req = claim(t->grant, "claims");
	body = kt_tok_claims(r, t->client, &s, t->person, "userinfo");
	if (body == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	json_object_set_new(body, "sub", json_string(claim(t->claims, "sub")));
	kt_req_send_json(r, 200, body);
}

static void on_userinfo_org(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokcheck *t = r->h;

	if (rc == KT_ERR_NOTFOUND ||
	    (rc == KT_OK && !kt_str_eq(claim(res, "status"), "active"))) {
		kt_req_send_bearer_error(r, 401, "invalid_token",
					 "the company account is not active");
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	t->org = json_incref(res);
	userinfo_respond(r);
}

static void on_userinfo_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokcheck *t = r->h;
	const char *org = claim(t->grant, "org");

	if (rc == KT_ERR_NOTFOUND ||
	    (rc == KT_OK && !kt_str_eq(claim(res, "status"), "active"))) {
		kt_req_send_bearer_error(r, 401, "invalid_token",
					 "the account is not active");
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	t->person = json_incref(res);
	if (org != NULL && *org != '\0') {
		if (kt_account_org_get(kt_req_redis(r), org, on_userinfo_org,
				       r) != KT_OK)
			kt_req_send_unavailable(r);
		return;
	}
	userinfo_respond(r);
}

static void on_userinfo_client(struct kt_req *r, const struct kt_client *c,
			       int rc, void *arg)
{
	struct tokcheck *t = r->h;

	(void)arg;
	if (rc == KT_ERR_NOTFOUND) {
		kt_req_send_bearer_error(r, 401, "invalid_token",
					 "the client no longer exists");
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	t->client = c;
	if (kt_store_person_get(kt_req_redis(r), claim(t->grant, "person"),
				on_userinfo_person, r) != KT_OK)
		kt_req_send_unavailable(r);
}

static void on_userinfo_status(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokcheck *t = r->h;

	if (rc == KT_ERR_DENIED) {
		kt_req_send_bearer_error(r, 401, "invalid_token",
					 "the access token was revoked");
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	if (res == NULL || claim(res, "person") == NULL) {
		kt_req_send_bearer_error(r, 403, "insufficient_scope",
					 "the token has no end user");
		return;
	}
	t->grant = json_incref(res);
	if (kt_client_find(r, claim(t->claims, "client_id"),
			   on_userinfo_client, NULL) != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_userinfo(struct kt_req *r)
{
	struct tokcheck *t = tokcheck_new(r);
	const char *hdr = kt_req_header(r, "Authorization");
	const char *form_token =
	    r->method == KT_ROUTE_POST ? kt_req_param(r, "access_token") : NULL;
	struct kt_http_auth auth;
	struct kt_error err;
	const char *token = NULL;
	int rc;

	if (t == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_http_auth_init(&auth);
	if (hdr != NULL) {
		if (kt_http_auth_parse(hdr, &auth) != KT_OK ||
		    auth.type != KT_HTTP_AUTH_BEARER) {
			kt_req_send_bearer_error(r, 400, "invalid_request",
						 "malformed Authorization "
						 "header");
			return;
		}
		token = auth.token;
	}
	/* RFC 6750 §2: exactly one method; never the URI query. */
	if (token != NULL && form_token != NULL) {
		kt_http_auth_clear(&auth);
		kt_req_send_bearer_error(r, 400, "invalid_request",
					 "token sent in more than one way");
		return;
	}
	if (token == NULL)
		token = form_token;
	if (token == NULL) {
		kt_req_send_bearer_error(r, 401, NULL, NULL);
		return;
	}
	rc = verify_access_token(r, token, &t->claims, &err);
	kt_http_auth_clear(&auth);
	if (rc != KT_OK) {
		kt_log_info("userinfo: rejected token: %s", err.msg);
		kt_req_send_bearer_error(r, 401, "invalid_token",
					 rc == KT_ERR_EXPIRED
					     ? "the access token expired"
					     : "the access token is invalid");
		return;
	}
	/* Userinfo describes an end user: client_credentials tokens (no
	 * auth_time) and grants without openid have none to describe. */
	if (!json_is_integer(json_object_get(t->claims, "auth_time"))) {
		kt_req_send_bearer_error(r, 403, "insufficient_scope",
					 "the token has no end user");
		return;
	}
	if (!kt_scope_has(claim(t->claims, "scope"), "openid")) {
		kt_req_send_bearer_error(r, 403, "insufficient_scope",
					 "the token lacks the openid scope");
		return;
	}
	if (at_status(r, t, on_userinfo_status) != KT_OK)
		kt_req_send_unavailable(r);
}

/* introspection ------------------------------------------------------------ */

static void inactive(struct kt_req *r)
{
	kt_req_send_json(r, 200, json_pack("{s:b}", "active", 0));
}

static void on_introspect_status(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokcheck *t = r->h;
	json_t *body;

	(void)res;
	if (rc == KT_ERR_DENIED) {
		inactive(r);
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	body = json_deep_copy(t->claims);
	if (body == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	json_object_set_new(body, "active", json_true());
	json_object_set_new(body, "token_type", json_string("Bearer"));
	kt_req_send_json(r, 200, body);
}

static void on_introspect_grant(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokcheck *t = r->h;
	const char *token = kt_req_param(r, "token");
	char h[23];
	json_t *body;

	if (rc == KT_ERR_NOTFOUND) {
		inactive(r);
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_token_hash(h, token);
	/* Only the current token of a live grant, and only to its client. */
	if (strcmp(kt_str_or(claim(res, "revoked"), "1"), "0") != 0 ||
	    !kt_ct_streq(claim(res, "rt"), h) ||
	    strcmp(kt_str_or(claim(res, "client_id"), ""), t->client->client_id) != 0) {
		inactive(r);
		return;
	}
	body = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s}", "active", 1, "scope",
			 kt_str_or(claim(res, "scope"), ""), "client_id",
			 claim(res, "client_id"), "sub",
			 kt_str_or(claim(res, "person"), ""), "iss",
			 kt_req_cfg(r)->issuer, "token_type", "refresh_token");
	if (body == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_req_send_json(r, 200, body);
}

/* Refresh tokens are "<gid>.<43 chars>"; JWTs have two dots. */
static int looks_like_refresh(const char *token, char *gid, size_t cap)
{
	const char *dot = strchr(token, '.');
	size_t n = dot ? (size_t)(dot - token) : 0;

	if (dot == NULL || strchr(dot + 1, '.') != NULL || n == 0 || n >= cap)
		return 0;
	memcpy(gid, token, n);
	gid[n] = '\0';
	return 1;
}

static void introspect_authenticated(struct kt_req *r,
				     const struct kt_client *c)
{
	struct tokcheck *t = tokcheck_new(r);
	const char *token = kt_req_param(r, "token");
	struct kt_error err;
	int rc;

	if (t == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	t->client = c;
	if (token == NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"token is required");
		return;
	}
	if (c->auth_method == KT_AUTH_NONE) {
		kt_req_send_oauth_error(r, 401, "invalid_client",
					"public clients may not introspect");
		return;
	}
	if (looks_like_refresh(token, t->gid, sizeof(t->gid))) {
		rc = kt_store_grant_get(kt_req_redis(r), t->gid,
					on_introspect_grant, r);
		if (rc == KT_ERR_INVALID)
			inactive(r);
		else if (rc != KT_OK)
			kt_req_send_unavailable(r);
		return;
	}
	if (verify_access_token(r, token, &t->claims, &err) != KT_OK) {
		inactive(r);
		return;
	}
	if (at_status(r, t, on_introspect_status) != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_introspect(struct kt_req *r)
{
	if (r->form == NULL || kt_params_duplicate(r->form) != NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"malformed request");
		return;
	}
	kt_client_authenticate(r, introspect_authenticated);
}

/* revocation --------------------------------------------------------------- */

static void on_revoked(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_req_send_json(r, 200, json_object());
}

static void on_revoke_grant(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokcheck *t = r->h;
	const char *token = kt_req_param(r, "token");
	char h[23];

	if (rc == KT_ERR_NOTFOUND) {
		kt_req_send_json(r, 200, json_object());
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_token_hash(h, token);
	if (!kt_ct_streq(claim(res, "rt"), h)) {
		/* Not the current token of this grant: nothing to revoke. */
		kt_req_send_json(r, 200, json_object());
		return;
	}
	if (strcmp(kt_str_or(claim(res, "client_id"), ""), t->client->client_id) != 0) {
		kt_req_send_oauth_error(r, 400, "unauthorized_client",
					"the token was issued to another "
					"client");
		return;
	}
	rc = kt_store_grant_revoke(kt_req_redis(r), t->gid,
				   kt_req_cfg(r)->tokens_refresh_token_ttl_s,
				   on_revoked, r);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

static void revoke_authenticated(struct kt_req *r, const struct kt_client *c)
{
	struct tokcheck *t = tokcheck_new(r);
	const char *token = kt_req_param(r, "token");
	const char *jti;
	struct kt_error err;
	int64_t ttl;
	int rc;

	if (t == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	t->client = c;
	if (token == NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"token is required");
		return;
	}
	if (looks_like_refresh(token, t->gid, sizeof(t->gid))) {
		rc = kt_store_grant_get(kt_req_redis(r), t->gid,
					on_revoke_grant, r);
		if (rc == KT_ERR_INVALID)
			kt_req_send_json(r, 200, json_object());
		else if (rc != KT_OK)
			kt_req_send_unavailable(r);
		return;
	}
	/* RFC 7009 §2.2: invalid or unknown tokens are answered with 200. */
	if (verify_access_token(r, token, &t->claims, &err) != KT_OK) {
		kt_req_send_json(r, 200, json_object());
		return;
	}
	if (strcmp(claim(t->claims, "client_id"), c->client_id) != 0) {
		kt_req_send_oauth_error(r, 400, "unauthorized_client",
					"the token was issued to another "
					"client");
		return;
	}
	jti = claim(t->claims, "jti");
	ttl = json_integer_value(json_object_get(t->claims, "exp")) - kt_now();
	rc = kt_store_at_revoke(
	    kt_req_redis(r), jti,
	    kt_tok_jti_gid(jti, t->gid, sizeof(t->gid)) == KT_OK ? t->gid
								 : NULL,
	    ttl + 1, on_revoked, r);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_revoke(struct kt_req *r)
{
	if (r->form == NULL || kt_params_duplicate(r->form) != NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"malformed request");
		return;
	}
	kt_client_authenticate(r, revoke_authenticated);
}
