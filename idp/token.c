/*
 * The token endpoint: authorization_code (with PKCE), refresh_token (rotated
 * on every use, reuse revokes the grant) and client_credentials.
 *
 * A "grant" is what one authorization issued: its access tokens carry the
 * grant id in their jti, its refresh token chain lives in the grant record.
 * Revoking the grant (code replay, refresh reuse, RFC 7009 revocation)
 * therefore reaches every token it produced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/account.h"
#include "kontor/log.h"
#include "kontor/pkce.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "clients.h"
#include "handlers.h"
#include "tokens.h"

#define REUSE_WINDOW 600

struct tokreq {
	const struct kt_client *client;
	json_t *data; /* code data or grant record */
	json_t *person;
	json_t *org; /* acting organisation, when the grant has one */
	char gid[32];
	char rt[96]; /* refresh token to return: secret */
	char *scope;
	int refresh; /* issue a refresh token */
	void (*after_person)(struct kt_req *r); /* next step once loaded */
};

static void tokreq_free(void *p)
{
	struct tokreq *t = p;

	if (t == NULL)
		return;
	json_decref(t->data);
	json_decref(t->person);
	json_decref(t->org);
	OPENSSL_cleanse(t->rt, sizeof(t->rt));
	free(t->scope);
	free(t);
}

static const char *dget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void fail(struct kt_req *r, int rc)
{
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS || rc == KT_ERR_BUSY)
		kt_req_send_unavailable(r);
	else
		kt_req_send_oauth_error(r, 500, "server_error", NULL);
}

/* The response, once the grant (if any) is stored. */
static void respond(struct kt_req *r)
{
	struct tokreq *t = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	struct kt_tok_subject s = {0};
	char *at = NULL, *idt = NULL, *body = NULL;
	int rc;

	s.scope = t->scope;
	if (t->data != NULL) {
		s.person = dget(t->data, "person");
		s.gid = t->gid;
		s.org = t->org;
		s.role = dget(t->data, "role");
		s.claims_req = dget(t->data, "claims");
		s.auth_time = strtoll(kt_str_or(dget(t->data, "auth_time"), "0"), NULL,
				      10);
		s.acr = dget(t->data, "acr");
		s.amr = dget(t->data, "amr");
		s.sid = dget(t->data, "sid");
		s.nonce = dget(t->data, "nonce");
	}
	if ((rc = kt_tok_access(r, t->client, &s, &at)) != KT_OK) {
		fail(r, rc);
		return;
	}
	if (t->data != NULL && kt_scope_has(t->scope, "openid") &&
	    (rc = kt_tok_id(r, t->client, &s, at, t->person, &idt)) != KT_OK) {
		free(at);
		fail(r, rc);
		return;
	}
	rc = kt_tok_response(at, cfg->tokens_access_token_ttl_s, t->scope, idt,
			     t->rt[0] ? t->rt : NULL, &body);
	kt_free_secret(at);
	kt_free_secret(idt);
	if (rc != KT_OK) {
		fail(r, rc);
		return;
	}
	kt_req_send_json_str(r, 200, body, 0);
	kt_free_secret(body);
}

/* authorization_code ------------------------------------------------------ */

static void on_grant_created(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc == KT_ERR_CONFLICT) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the authorization code was replayed");
		return;
	}
	if (rc != KT_OK) {
		fail(r, rc);
		return;
	}
	respond(r);
}

static void create_grant(struct kt_req *r)
{
	struct tokreq *t = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	char rt_hash[23];
	json_t *g;
	int64_t ttl;
	int rc;

	g = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		      "client_id", t->client->client_id, "person",
		      dget(t->data, "person"), "scope", t->scope, "sid",
		      kt_str_or(dget(t->data, "sid"), ""), "auth_time",
		      kt_str_or(dget(t->data, "auth_time"), "0"), "acr",
		      kt_str_or(dget(t->data, "acr"), ""), "amr",
		      kt_str_or(dget(t->data, "amr"), ""), "org",
		      kt_str_or(dget(t->data, "org"), ""), "role",
		      kt_str_or(dget(t->data, "role"), ""), "claims",
		      kt_str_or(dget(t->data, "claims"), ""));
	if (g == NULL) {
		fail(r, KT_ERR_NOMEM);
		return;
	}
	if (t->refresh) {
		char secret[48];
		if (kt_random_token(secret, sizeof(secret), 32) != KT_OK) {
			json_decref(g);
			fail(r, KT_ERR_CRYPTO);
			return;
		}
		snprintf(t->rt, sizeof(t->rt), "%s.%s", t->gid, secret);
		OPENSSL_cleanse(secret, sizeof(secret));
		kt_token_hash(rt_hash, t->rt);
		json_object_set_new(g, "rt", json_string(rt_hash));
		ttl = cfg->tokens_refresh_token_ttl_s;
	} else {
		/* Long enough for the access tokens to be checked against. */
		ttl = cfg->tokens_access_token_ttl_s + 60;
	}
	rc = kt_store_grant_create(kt_req_redis(r), t->gid, g, ttl,
				   on_grant_created, r);
	json_decref(g);
	if (rc != KT_OK)
		fail(r, rc);
}

/* The company a person acts for must still be active (a merge resolves
 * to the survivor, which then is the company in the tokens). */
static void on_org(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokreq *t = r->h;

	if (rc == KT_ERR_NOTFOUND ||
	    (rc == KT_OK && !kt_str_eq(dget(res, "status"), "active"))) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the company account is not active");
		return;
	}
	if (rc != KT_OK) {
		fail(r, rc);
		return;
	}
	t->org = json_incref(res);
	t->after_person(r);
}

static void on_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokreq *t = r->h;
	const char *status = json_string_value(json_object_get(res, "status"));

	if (rc == KT_ERR_NOTFOUND ||
	    (rc == KT_OK && (status == NULL || strcmp(status, "active") != 0))) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the account is not active");
		return;
	}
	if (rc != KT_OK) {
		fail(r, rc);
		return;
	}
	t->person = json_incref(res);
	if (dget(t->data, "org") != NULL && *dget(t->data, "org") != '\0') {
		rc = kt_account_org_get(kt_req_redis(r), dget(t->data, "org"),
					on_org, r);
		if (rc != KT_OK)
			fail(r, rc);
		return;
	}
	t->after_person(r);
}

/* Tokens describe the person as they are now, and only an active one. */
static int load_person(struct kt_req *r, void (*next)(struct kt_req *r))
{
	struct tokreq *t = r->h;

	t->after_person = next;
	return kt_store_person_get(kt_req_redis(r), dget(t->data, "person"),
				   on_person, r);
}

static void on_revoked_replay(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	(void)rc;
	kt_log_warn("authorization code replayed: grant revoked");
	kt_req_send_oauth_error(r, 400, "invalid_grant",
				"the authorization code was already used; "
				"tokens issued for it are revoked");
}

static void on_code(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokreq *t = r->h;
	const char *verifier = kt_req_param(r, "code_verifier");
	const char *challenge = dget(res, "code_challenge");
	const char *exp;

	if (rc == KT_ERR_CONFLICT) {
		const char *gid = dget(res, "gid");
		if (gid == NULL ||
		    kt_store_grant_revoke(
			kt_req_redis(r), gid,
			kt_req_cfg(r)->tokens_refresh_token_ttl_s,
			on_revoked_replay, r) != KT_OK)
			on_revoked_replay(KT_OK, NULL, r);
		return;
	}
	if (rc == KT_ERR_NOTFOUND) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the authorization code is invalid or "
					"expired");
		return;
	}
	if (rc != KT_OK) {
		fail(r, rc);
		return;
	}
	t->data = json_incref(res);
	exp = dget(res, "exp");
	if (!json_is_integer(json_object_get(res, "exp")) ||
	    json_integer_value(json_object_get(res, "exp")) < kt_now()) {
		(void)exp;
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the authorization code has expired");
		return;
	}
	if (strcmp(kt_str_or(dget(res, "client_id"), ""), t->client->client_id) != 0) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the authorization code was issued to "
					"another client");
		return;
	}
	if (strcmp(kt_str_or(dget(res, "redirect_uri"), ""),
		   kt_str_or(kt_req_param(r, "redirect_uri"), "")) != 0) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"redirect_uri does not match the "
					"authorization request");
		return;
	}
	if (challenge != NULL) {
		if (verifier == NULL) {
			kt_req_send_oauth_error(r, 400, "invalid_grant",
						"code_verifier is required");
			return;
		}
		if (kt_pkce_verify_s256(verifier, challenge) != KT_OK) {
			kt_req_send_oauth_error(r, 400, "invalid_grant",
						"code_verifier does not match "
						"the code_challenge");
			return;
		}
	} else if (verifier != NULL) {
		/* PKCE downgrade: a verifier without a challenge (RFC 9700). */
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"code_verifier sent but the "
					"authorization request had no "
					"code_challenge");
		return;
	}
	if ((t->scope = kt_strdup(dget(res, "scope"))) == NULL) {
		fail(r, KT_ERR_NOMEM);
		return;
	}
	t->refresh = kt_client_grant_ok(t->client, KT_GRANT_REFRESH_TOKEN);
	rc = load_person(r, create_grant);
	if (rc != KT_OK)
		fail(r, rc);
}

static void grant_code(struct kt_req *r)
{
	struct tokreq *t = r->h;
	const char *code = kt_req_param(r, "code");
	char hash[23];
	int rc;

	if (code == NULL || kt_req_param(r, "redirect_uri") == NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"code and redirect_uri are required");
		return;
	}
	if (kt_random_token(t->gid, sizeof(t->gid), 16) != KT_OK) {
		fail(r, KT_ERR_CRYPTO);
		return;
	}
	kt_token_hash(hash, code);
	rc = kt_store_code_redeem(kt_req_redis(r), hash, t->gid, REUSE_WINDOW,
				  on_code, r);
	if (rc != KT_OK)
		fail(r, rc);
}

/* refresh_token ----------------------------------------------------------- */

static void on_rotated(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct tokreq *t = r->h;
	const char *want = kt_req_param(r, "scope");

	if (rc == KT_ERR_CONFLICT) {
		kt_log_warn("refresh token reuse: grant %s revoked", t->gid);
		OPENSSL_cleanse(t->rt, sizeof(t->rt));
		t->rt[0] = '\0';
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"refresh token reuse detected; the "
					"grant is revoked");
		return;
	}
	if (rc == KT_ERR_NOTFOUND || rc == KT_ERR_DENIED) {
		t->rt[0] = '\0';
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the refresh token is invalid, expired "
					"or revoked");
		return;
	}
	if (rc != KT_OK) {
		t->rt[0] = '\0';
		fail(r, rc);
		return;
	}
	t->data = json_incref(res);
	/* An optional scope narrows the new access token (RFC 6749 §6). */
	if (want != NULL) {
		char buf[KT_CLIENT_SCOPE_MAX + 1], *save = NULL, *tok;
		if (strlen(want) > KT_CLIENT_SCOPE_MAX) {
			kt_req_send_oauth_error(r, 400, "invalid_scope",
						"scope too long");
			return;
		}
		snprintf(buf, sizeof(buf), "%s", want);
		for (tok = strtok_r(buf, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			if (!kt_scope_has(dget(res, "scope"), tok)) {
				kt_req_send_oauth_error(
				    r, 400, "invalid_scope",
				    "scope exceeds the original grant");
				return;
			}
		}
		t->scope = kt_strdup(want);
	} else {
		t->scope = kt_strdup(dget(res, "scope"));
	}
	if (t->scope == NULL) {
		fail(r, KT_ERR_NOMEM);
		return;
	}
	rc = load_person(r, respond);
	if (rc != KT_OK)
		fail(r, rc);
}

static void grant_refresh(struct kt_req *r)
{
	struct tokreq *t = r->h;
	const char *token = kt_req_param(r, "refresh_token");
	const char *dot;
	char secret[48], old_hash[23], new_hash[23];
	size_t n;
	int rc;

	if (!kt_client_grant_ok(t->client, KT_GRANT_REFRESH_TOKEN)) {
		kt_req_send_oauth_error(r, 400, "unauthorized_client",
					"refresh_token grant not allowed for "
					"this client");
		return;
	}
	if (token == NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"refresh_token is required");
		return;
	}
	dot = strchr(token, '.');
	n = dot ? (size_t)(dot - token) : 0;
	if (dot == NULL || n == 0 || n >= sizeof(t->gid) ||
	    strlen(token) >= sizeof(t->rt)) {
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the refresh token is invalid, expired "
					"or revoked");
		return;
	}
	memcpy(t->gid, token, n);
	t->gid[n] = '\0';
	if (kt_random_token(secret, sizeof(secret), 32) != KT_OK) {
		fail(r, KT_ERR_CRYPTO);
		return;
	}
	snprintf(t->rt, sizeof(t->rt), "%s.%s", t->gid, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	kt_token_hash(old_hash, token);
	kt_token_hash(new_hash, t->rt);
	rc = kt_store_grant_refresh(kt_req_redis(r), t->gid, old_hash,
				    new_hash, t->client->client_id, on_rotated,
				    r);
	if (rc == KT_ERR_INVALID) {
		t->rt[0] = '\0';
		kt_req_send_oauth_error(r, 400, "invalid_grant",
					"the refresh token is invalid, expired "
					"or revoked");
	} else if (rc != KT_OK) {
		t->rt[0] = '\0';
		fail(r, rc);
	}
}

/* client_credentials ------------------------------------------------------ */

static void grant_client_credentials(struct kt_req *r)
{
	struct tokreq *t = r->h;
	char *granted = NULL;
	char buf[KT_CLIENT_SCOPE_MAX + 1], *save = NULL, *tok;
	size_t off = 0;

	if (!kt_client_grant_ok(t->client, KT_GRANT_CLIENT_CREDENTIALS) ||
	    t->client->auth_method == KT_AUTH_NONE) {
		kt_req_send_oauth_error(r, 400, "unauthorized_client",
					"client_credentials grant not allowed "
					"for this client");
		return;
	}
	if (kt_client_scope_filter(t->client, kt_req_param(r, "scope"),
				   &granted) != KT_OK) {
		kt_req_send_oauth_error(r, 400, "invalid_scope",
					"malformed scope");
		return;
	}
	/* No end user: identity scopes make no sense here. */
	snprintf(buf, sizeof(buf), "%s", granted);
	granted[0] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (strcmp(tok, "openid") == 0 ||
		    strcmp(tok, "offline_access") == 0 ||
		    strcmp(tok, "profile") == 0 || strcmp(tok, "email") == 0)
			continue;
		off += (size_t)snprintf(granted + off, strlen(tok) + 2, "%s%s",
					off ? " " : "", tok);
	}
	t->scope = granted;
	respond(r);
}

/* Dispatch ---------------------------------------------------------------- */

static void on_authenticated(struct kt_req *r, const struct kt_client *c)
{
	struct tokreq *t = calloc(1, sizeof(*t));
	const char *gt = kt_req_param(r, "grant_type");

	if (t == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	t->client = c;
	r->h = t;
	r->h_free = tokreq_free;
	if (strcmp(gt, "authorization_code") == 0) {
		if (!kt_client_grant_ok(c, KT_GRANT_AUTHORIZATION_CODE)) {
			kt_req_send_oauth_error(r, 400, "unauthorized_client",
						"authorization_code grant not "
						"allowed for this client");
			return;
		}
		grant_code(r);
	} else if (strcmp(gt, "refresh_token") == 0) {
		grant_refresh(r);
	} else {
		grant_client_credentials(r);
	}
}

void kt_h_token(struct kt_req *r)
{
	const char *gt = kt_req_param(r, "grant_type");

	if (r->form == NULL || kt_params_duplicate(r->form) != NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					r->form ? "a parameter is repeated"
						: "empty request");
		return;
	}
	if (gt == NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"grant_type is required");
		return;
	}
	if (strcmp(gt, "authorization_code") != 0 &&
	    strcmp(gt, "refresh_token") != 0 &&
	    strcmp(gt, "client_credentials") != 0) {
		kt_req_send_oauth_error(r, 400, "unsupported_grant_type",
					"grant_type is not supported");
		return;
	}
	kt_client_authenticate(r, on_authenticated);
}
