/*
 * The authorization endpoint and the pages a browser goes through:
 * /authorize → (login | select account | consent) → code → redirect_uri.
 *
 * Rules that matter for security (RFC 9700, OIDC Core):
 * - Until client_id and redirect_uri are known to match a registration
 *   exactly, every error is an HTML page: nothing is ever redirected to an
 *   unregistered address.
 * - A pending request lives in Redis under a random id and is bound to the
 *   browser that started it (hash of a browser cookie) and to a CSRF token;
 *   the login, consent and account pages post back that id and token.
 * - Passwords are verified on the worker pool; an unknown email costs the
 *   same work as a wrong password and gets the same message.
 * - Every login creates a new session id (no fixation) and counts failures
 *   per account and per client IP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "kontor/account.h"
#include "kontor/html.h"
#include "kontor/http.h"
#include "kontor/i18n.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/mail.h"
#include "kontor/pairwise.h"
#include "kontor/password.h"
#include "kontor/pkce.h"
#include "kontor/store.h"
#include "kontor/upstream.h"
#include "kontor/util.h"

#include "authorize.h"
#include "clients.h"
#include "federation.h"
#include "handlers.h"
#include "mfa.h"
#include "tokens.h"

#define PAR_PREFIX "urn:ietf:params:oauth:request_uri:"
#define AREQ_TTL 900 /* seconds a login page stays usable */
#define REUSE_WINDOW 600
#define BROWSER_COOKIE KT_BROWSER_COOKIE
#define MAX_STATE 2048
#define MAX_NONCE 512
#define MAX_HINT 256
/* Person fields "legacy_pwhash:<LAND>": hashes exported by a state's
 * system (kontor-migrate), verified once and then replaced. */
#define KT_LEGACY_FIELD "legacy_pwhash:"
#define KT_LEGACY_MAX 16

enum stage { ST_AUTHORIZE, ST_LOGIN, ST_CONSENT, ST_SELECT, ST_SELECT_ORG };

struct authz {
	enum stage stage;
	struct kt_params *par_params; /* parameters loaded from a PAR */
	json_t *areq;		      /* the validated request */
	const struct kt_client *client;
	char areq_id[48];
	json_t *session;
	char sid[24];
	char new_cookie[64]; /* session cookie to set, if a login happened */
	char browser[64];    /* browser cookie value */
	int new_browser;
	json_t *person;
	char *email;
	char *password;
	const char *login_error;
	int login_status;
	void (*next)(struct kt_req *r); /* page to show once areq is saved */
	int dirty;	  /* areq changed since it was stored */
	json_t *session_extra; /* fields for the new session (federation) */
	char link_id[48];	/* federation link awaiting this login */
	const char *fed_acr;	/* static KT_ACR_* of a federated login */
	const char *login_notice; /* i18n key of a notice on the login page */
	json_t *orgs;	  /* organisations the person may act for */
	const char *last_org; /* last choice for this client (in orgs) */
};

static int mfa_required(const struct authz *a);
static void on_stepup_person(int rc, json_t *res, void *arg);
static void login_succeeded(struct kt_req *r);

static void authz_free(void *p)
{
	struct authz *a = p;

	if (a == NULL)
		return;
	kt_params_free(a->par_params);
	json_decref(a->areq);
	json_decref(a->session);
	json_decref(a->person);
	json_decref(a->orgs);
	json_decref(a->session_extra);
	free(a->email);
	kt_free_secret(a->password);
	OPENSSL_cleanse(a->new_cookie, sizeof(a->new_cookie));
	free(a);
}

static struct authz *authz_new(struct kt_req *r, enum stage stage)
{
	struct authz *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->stage = stage;
	r->h = a;
	r->h_free = authz_free;
	return a;
}

static const char *areq_get(const struct authz *a, const char *k)
{
	return json_string_value(json_object_get(a->areq, k));
}

static const char *areq_str(json_t *areq, const char *k)
{
	return json_string_value(json_object_get(areq, k));
}

static int prompt_has(const struct authz *a, const char *v)
{
	return kt_scope_has(areq_get(a, "prompt"), v);
}

/* Cookies ----------------------------------------------------------------- */

static void set_cookie(struct kt_req *r, const char *name, const char *value,
		       int64_t max_age)
{
	struct kt_cookie_opts o = KT_COOKIE_OPTS_DEFAULT;

	if (r->ev == NULL || r->gone)
		return;
	o.secure = kt_req_secure(r);
	o.max_age = max_age;
	kt_http_set_cookie(r->ev, name, value, &o);
}

/* The browser-binding cookie, created on first need. */
static int browser_id(struct kt_req *r, struct authz *a, char hash[23])
{
	if (a->browser[0] == '\0' &&
	    kt_req_cookie(r, BROWSER_COOKIE, a->browser, sizeof(a->browser)) !=
		KT_OK) {
		if (kt_random_token(a->browser, sizeof(a->browser), 32) != KT_OK)
			return KT_ERR_CRYPTO;
		a->new_browser = 1;
	}
	kt_token_hash(hash, a->browser);
	return KT_OK;
}

static void emit_cookies(struct kt_req *r, struct authz *a)
{
	const struct kt_config *cfg = kt_req_cfg(r);

	if (a->new_browser)
		set_cookie(r, BROWSER_COOKIE, a->browser, 0);
	if (a->new_cookie[0])
		set_cookie(r, cfg->session_cookie_name, a->new_cookie, 0);
}

/* Responses to the client ------------------------------------------------ */

/* Redirect (or form-post) kv pairs to the validated redirect_uri. */
static void respond_to_client(struct kt_req *r, const char *const *kv,
			      size_t npairs)
{
	struct authz *a = r->h;
	const char *redirect_uri = areq_get(a, "redirect_uri");
	const char *mode = areq_get(a, "response_mode");
	char *url;

	emit_cookies(r, a);
	if (mode != NULL && strcmp(mode, "form_post") == 0) {
		struct evbuffer *body = evbuffer_new();
		char *csp = NULL;

		if (body == NULL ||
		    kt_html_page_form_post(body, kt_req_lang(r), redirect_uri,
					   kv, npairs, &csp) != KT_OK) {
			if (body)
				evbuffer_free(body);
			kt_req_send_error_page(r, 500, "server_error", NULL);
			return;
		}
		kt_req_send_html(r, 200, body, csp);
		free(csp);
		return;
	}
	if ((url = kt_http_url_add_params(redirect_uri, kv, npairs)) == NULL) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_req_send_redirect(r, 303, url);
	free(url);
}

static void error_to_client(struct kt_req *r, const char *error,
			    const char *desc)
{
	struct authz *a = r->h;
	const char *kv[] = {"error",
			    error,
			    "error_description",
			    desc,
			    "state",
			    areq_get(a, "state"),
			    "iss",
			    kt_req_cfg(r)->issuer};

	if (a->areq_id[0])
		kt_store_doc_delete(kt_req_redis(r), "areq", a->areq_id);
	respond_to_client(r, kv, 4);
}

static void store_failed(struct kt_req *r, int rc)
{
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS)
		kt_req_send_unavailable(r);
	else
		kt_req_send_error_page(r, 500, "server_error", NULL);
}

/* Validation ------------------------------------------------------------- */

static int copy_param(json_t *areq, const struct kt_params *p,
		      const char *name, size_t max, const char **bad)
{
	const char *v = kt_params_get(p, name);

	if (v == NULL || *v == '\0')
		return 0;
	if (strlen(v) > max) {
		*bad = name;
		return -1;
	}
	json_object_set_new(areq, name, json_string(v));
	return 0;
}

int kt_authz_validate(const struct kt_config *cfg, const struct kt_client *c,
		      const struct kt_params *p, json_t **out,
		      const char **error, const char **desc)
{
	static const char *const prompts[] = {"none", "login", "consent",
					      "select_account", NULL};
	const char *v, *bad = NULL;
	char *scope = NULL;
	json_t *areq;
	uint64_t n;

	*out = NULL;
	*error = "invalid_request";
	if ((areq = json_object()) == NULL) {
		*error = "server_error";
		*desc = "out of memory";
		return KT_ERR_NOMEM;
	}
	json_object_set_new(areq, "client_id", json_string(c->client_id));
	json_object_set_new(areq, "redirect_uri",
			    json_string(kt_params_get(p, "redirect_uri")));
	if (copy_param(areq, p, "state", MAX_STATE, &bad) ||
	    copy_param(areq, p, "nonce", MAX_NONCE, &bad) ||
	    copy_param(areq, p, "login_hint", MAX_HINT, &bad) ||
	    copy_param(areq, p, "ui_locales", MAX_HINT, &bad) ||
	    copy_param(areq, p, "acr_values", MAX_HINT, &bad) ||
	    copy_param(areq, p, "organisation", MAX_HINT, &bad) ||
	    copy_param(areq, p, "claims", 4096, &bad)) {
		*desc = "a parameter is too long";
		goto invalid;
	}
	/* response_mode decides how errors travel, so it is checked first. */
	v = kt_params_get(p, "response_mode");
	if (v != NULL && strcmp(v, "query") != 0 &&
	    strcmp(v, "form_post") != 0) {
		*desc = "response_mode must be query or form_post";
		goto invalid;
	}
	if (v != NULL)
		json_object_set_new(areq, "response_mode", json_string(v));
	if (areq_str(areq, "claims") != NULL &&
	    kt_tok_claims_param_ok(areq_str(areq, "claims")) != KT_OK) {
		*desc = "claims must be a JSON object as in OIDC Core 5.5";
		goto invalid;
	}
	if (kt_params_get(p, "request") != NULL) {
		*error = "request_not_supported";
		*desc = "request objects are not supported";
		goto invalid;
	}
	v = kt_params_get(p, "response_type");
	if (v == NULL) {
		*desc = "response_type is required";
		goto invalid;
	}
	if (strcmp(v, "code") != 0 ||
	    !kt_client_grant_ok(c, KT_GRANT_AUTHORIZATION_CODE)) {
		*error = "unsupported_response_type";
		*desc = "only response_type=code is supported";
		goto invalid;
	}
	if (kt_client_scope_filter(c, kt_params_get(p, "scope"), &scope) !=
	    KT_OK) {
		*error = "invalid_scope";
		*desc = "malformed scope";
		goto invalid;
	}
	if (*scope == '\0') {
		*error = "invalid_scope";
		*desc = "none of the requested scopes is allowed for this "
			"client";
		goto invalid;
	}
	json_object_set_new(areq, "scope", json_string(scope));
	free(scope);
	scope = NULL;

	v = kt_params_get(p, "code_challenge");
	if (v != NULL) {
		const char *m = kt_params_get(p, "code_challenge_method");
		if (m == NULL || strcmp(m, "S256") != 0) {
			*desc = "code_challenge_method must be S256";
			goto invalid;
		}
		if (!kt_pkce_syntax_ok(v)) {
			*desc = "malformed code_challenge";
			goto invalid;
		}
		json_object_set_new(areq, "code_challenge", json_string(v));
	} else if (c->require_pkce) {
		*desc = "code_challenge (PKCE with S256) is required";
		goto invalid;
	}

	v = kt_params_get(p, "prompt");
	if (v != NULL && *v) {
		char buf[128], *save = NULL, *tok;
		int none = 0, count = 0;
		if (strlen(v) >= sizeof(buf)) {
			*desc = "malformed prompt";
			goto invalid;
		}
		snprintf(buf, sizeof(buf), "%s", v);
		for (tok = strtok_r(buf, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			size_t i;
			for (i = 0; prompts[i]; i++)
				if (strcmp(prompts[i], tok) == 0)
					break;
			if (prompts[i] == NULL) {
				*desc = "unsupported prompt value";
				goto invalid;
			}
			none |= strcmp(tok, "none") == 0;
			count++;
		}
		if (none && count > 1) {
			*desc = "prompt=none cannot be combined with other "
				"values";
			goto invalid;
		}
		json_object_set_new(areq, "prompt", json_string(v));
	}
	v = kt_params_get(p, "max_age");
	if (v != NULL) {
		if (kt_parse_uint(v, 315360000, &n) != KT_OK) {
			*desc = "max_age must be a non-negative integer";
			goto invalid;
		}
		json_object_set_new(areq, "max_age", json_string(v));
	}
	(void)cfg;
	*out = areq;
	return KT_OK;
invalid:
	free(scope);
	json_decref(areq);
	if (bad != NULL)
		*desc = "a parameter is too long";
	return KT_ERR_INVALID;
}

/* Pages ------------------------------------------------------------------ */

static const char *client_label(const struct kt_client *c)
{
	return c->client_name ? c->client_name : c->client_id;
}

static void render(struct kt_req *r, int status, int rc, struct evbuffer *b)
{
	struct authz *a = r->h;
	char *csp;

	if (rc != KT_OK) {
		evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	/* The form's submission ends in a redirect to the client, which
	 * Chrome and Safari check against form-action too. */
	csp = kt_html_csp_form_action(areq_get(a, "redirect_uri"));
	emit_cookies(r, a);
	kt_req_send_html(r, status, b, csp);
	free(csp);
}

static void render_login(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *hidden[] = {"areq", a->areq_id, "csrf",
				areq_get(a, "_csrf")};
	struct kt_html_login v = {0};
	struct evbuffer *b = evbuffer_new();
	const char *lands[KT_UPSTREAM_MAX], *names[KT_UPSTREAM_MAX];
	size_t n = 0;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	v.lang = kt_req_lang(r);
	v.action = "/login";
	v.hidden = hidden;
	v.nhidden = 2;
	v.email = a->email ? a->email : areq_get(a, "login_hint");
	v.error_key = a->login_error;
	v.notice_key = a->login_notice;
	v.client_name = client_label(a->client);
	v.offer_mail_code = areq_get(a, "_fedlink") != NULL;
	/* The states' legacy providers, during the transition. */
	{
		const struct kt_config *cfg = kt_req_cfg(r);
		for (size_t i = 0; i < cfg->n_upstreams && n < KT_UPSTREAM_MAX;
		     i++) {
			if (!cfg->upstreams[i]->enabled)
				continue;
			lands[n] = cfg->upstreams[i]->land;
			names[n++] = cfg->upstreams[i]->name;
		}
		v.federate_action = "/federate";
		v.upstream_lands = lands;
		v.upstream_names = names;
		v.nupstreams = n;
	}
	render(r, a->login_status ? a->login_status : 200,
	       kt_html_page_login(b, &v), b);
}

static void render_select(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *hidden[] = {"areq", a->areq_id, "csrf",
				areq_get(a, "_csrf")};
	struct kt_html_select_account v = {0};
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	v.lang = kt_req_lang(r);
	v.action = "/select-account";
	v.hidden = hidden;
	v.nhidden = 2;
	v.client_name = client_label(a->client);
	v.account = json_string_value(json_object_get(a->session, "email"));
	render(r, 200, kt_html_page_select_account(b, &v), b);
}

static void render_consent(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *hidden[] = {"areq", a->areq_id, "csrf",
				areq_get(a, "_csrf")};
	const char *scopes[KT_CLIENT_MAX_SCOPES];
	char buf[KT_CLIENT_SCOPE_MAX + 1], *save = NULL, *tok;
	struct kt_html_consent v = {0};
	struct evbuffer *b = evbuffer_new();
	size_t n = 0;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	snprintf(buf, sizeof(buf), "%s", areq_get(a, "scope"));
	for (tok = strtok_r(buf, " ", &save); tok && n < KT_CLIENT_MAX_SCOPES;
	     tok = strtok_r(NULL, " ", &save))
		scopes[n++] = tok;
	v.lang = kt_req_lang(r);
	v.action = "/consent";
	v.hidden = hidden;
	v.nhidden = 2;
	v.client_name = client_label(a->client);
	v.account = json_string_value(json_object_get(a->session, "email"));
	v.scopes = scopes;
	v.nscopes = n;
	render(r, 200, kt_html_page_consent(b, &v), b);
}

/* Saving the pending request, then showing a page. */



static void on_areq_saved(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	(void)res;
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	a->next(r);
}

/* Store the request (once) so the page's form can refer to it. */
static void save_then(struct kt_req *r, void (*next)(struct kt_req *))
{
	struct authz *a = r->h;
	char csrf[48], bind[23];
	int rc;

	if (a->areq_id[0] && !a->dirty) { /* stored and unchanged */
		next(r);
		return;
	}
	if (a->areq_id[0] == '\0') {
		if (kt_random_token(a->areq_id, sizeof(a->areq_id), 24) !=
			KT_OK ||
		    kt_random_token(csrf, sizeof(csrf), 24) != KT_OK ||
		    browser_id(r, a, bind) != KT_OK) {
			kt_req_send_error_page(r, 500, "server_error", NULL);
			return;
		}
		json_object_set_new(a->areq, "_csrf", json_string(csrf));
		json_object_set_new(a->areq, "_bind", json_string(bind));
	}
	a->dirty = 0;
	a->next = next;
	rc = kt_store_doc_put(kt_req_redis(r), "areq", a->areq_id, a->areq,
			      AREQ_TTL, on_areq_saved, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* Issuing the code ------------------------------------------------------- */

static void on_code_stored(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *code = json_string_value(json_object_get(a->areq, "_code"));
	const char *kv[] = {"code", code, "state", areq_get(a, "state"), "iss",
			    kt_req_cfg(r)->issuer};

	(void)res;
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	if (a->areq_id[0])
		kt_store_doc_delete(kt_req_redis(r), "areq", a->areq_id);
	respond_to_client(r, kv, 3);
}

static void issue_code(struct kt_req *r)
{
	struct authz *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	char code[48], hash[23];
	json_t *data, *s = a->session;
	int64_t now = kt_now();
	int rc;

	/* A login for the gateway's own pages ends there, without a code. */
	if (areq_get(a, "_return") != NULL) {
		if (a->areq_id[0])
			kt_store_doc_delete(kt_req_redis(r), "areq",
					    a->areq_id);
		emit_cookies(r, a);
		kt_req_send_redirect(r, 303, areq_get(a, "_return"));
		return;
	}

	if (kt_random_token(code, sizeof(code), 32) != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_token_hash(hash, code);
	data = json_pack(
	    "{s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:s,s:s,s:s,s:I}", "client_id",
	    a->client->client_id, "redirect_uri", areq_get(a, "redirect_uri"),
	    "scope", areq_get(a, "scope"), "nonce", areq_get(a, "nonce"),
	    "code_challenge", areq_get(a, "code_challenge"), "person",
	    json_string_value(json_object_get(s, "person")), "sid", a->sid,
	    "auth_time", json_string_value(json_object_get(s, "auth_time")),
	    "acr", json_string_value(json_object_get(s, "acr")), "amr",
	    json_string_value(json_object_get(s, "amr")), "exp",
	    (json_int_t)(now + cfg->tokens_code_ttl_s));
	if (data == NULL) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	/* The session remembers the portals it logged into, for
	 * back-channel logout; once per portal, not on every visit. */
	if (a->sid[0]) {
		char field[KT_CLIENT_ID_MAX + 8];
		snprintf(field, sizeof(field), "rp:%s", a->client->client_id);
		if (json_object_get(s, field) == NULL)
			kt_store_session_set(kt_req_redis(r), a->sid, field,
					     "1");
	}
	if (areq_get(a, "_org") != NULL) {
		json_object_set_new(data, "org", json_string(areq_get(a, "_org")));
		json_object_set_new(data, "role",
				    json_string(areq_get(a, "_role")));
	}
	if (areq_get(a, "claims") != NULL)
		json_object_set_new(data, "claims",
				    json_string(areq_get(a, "claims")));
	json_object_set_new(a->areq, "_code", json_string(code));
	OPENSSL_cleanse(code, sizeof(code));
	/* The key outlives exp by the reuse window so that a replay is
	 * recognised (and revokes) instead of looking like an unknown code. */
	rc = kt_store_code_put(kt_req_redis(r), hash, data,
			       cfg->tokens_code_ttl_s + REUSE_WINDOW,
			       on_code_stored, r);
	json_decref(data);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* After authentication: consent, then the code ---------------------------- */

static void on_consent_loaded(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *granted = json_string_value(json_object_get(res, "scope"));
	char buf[KT_CLIENT_SCOPE_MAX + 1], *save = NULL, *tok;
	int covered = 1;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	if (granted == NULL)
		covered = 0;
	snprintf(buf, sizeof(buf), "%s", areq_get(a, "scope"));
	for (tok = strtok_r(buf, " ", &save); covered && tok;
	     tok = strtok_r(NULL, " ", &save))
		covered = kt_scope_has(granted, tok);
	if (covered && !prompt_has(a, "consent")) {
		issue_code(r);
		return;
	}
	if (prompt_has(a, "none")) {
		error_to_client(r, "consent_required",
				"the user has not consented to this client");
		return;
	}
	save_then(r, render_consent);
}

static void consent_step(struct kt_req *r)
{
	struct authz *a = r->h;
	int rc;

	if (a->client->skip_consent && !prompt_has(a, "consent")) {
		issue_code(r);
		return;
	}
	rc = kt_store_consent_get(
	    kt_req_redis(r),
	    json_string_value(json_object_get(a->session, "person")),
	    a->client->client_id, on_consent_loaded, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* Organisations ----------------------------------------------------------- */

static int needs_org(const struct authz *a)
{
	const char *scope = areq_get(a, "scope");

	return a->client->organisation_required ||
	       kt_scope_has(scope, "company") ||
	       kt_scope_has(scope, "company_identifiers") ||
	       (kt_tok_claims_want_org(areq_get(a, "claims")) &&
		(kt_scope_has(a->client->scope, "company") ||
		 kt_scope_has(a->client->scope, "company_identifiers")));
}

static const char *org_field(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Act for org: remembered in the pending request, then consent. */
static void choose_org(struct kt_req *r, json_t *org)
{
	struct authz *a = r->h;
	const char *person = json_string_value(json_object_get(a->session,
							       "person"));

	json_object_set_new(a->areq, "_org", json_string(org_field(org, "id")));
	json_object_set_new(a->areq, "_role",
			    json_string(kt_str_or(org_field(org, "role"), "")));
	a->dirty = 1;
	if (json_array_size(a->orgs) > 1)
		kt_account_last_org_set(kt_req_redis(r), person,
					a->client->client_id,
					org_field(org, "id"));
	consent_step(r);
}

static void render_select_org(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *hidden[] = {"areq", a->areq_id, "csrf",
				areq_get(a, "_csrf")};
	struct kt_html_org list[64];
	struct kt_html_select_org v = {0};
	struct evbuffer *b = evbuffer_new();
	size_t n = 0, i;
	json_t *o;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	json_array_foreach(a->orgs, i, o)
	{
		if (n == sizeof(list) / sizeof(list[0]))
			break;
		list[n].id = org_field(o, "id");
		list[n].name = kt_str_or(org_field(o, "legal_name"), "?");
		list[n].legal_form = org_field(o, "legal_form");
		list[n].role = org_field(o, "role");
		n++;
	}
	v.lang = kt_req_lang(r);
	v.action = "/select-org";
	v.hidden = hidden;
	v.nhidden = 2;
	v.client_name = client_label(a->client);
	v.orgs = list;
	v.norgs = n;
	v.selected = a->last_org;
	render(r, 200, kt_html_page_select_org(b, &v), b);
}

static void on_last_org(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *last = org_field(res, "org");
	size_t i;
	json_t *o;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	/* Only preselect an organisation that is still in the list. */
	json_array_foreach(a->orgs, i, o) if (last != NULL &&
					      kt_str_eq(org_field(o, "id"),
							last)) a->last_org =
	    org_field(o, "id");
	save_then(r, render_select_org);
}

/* The pairwise id this client knows for org, compared with want. */
static int org_matches_hint(struct kt_req *r, const struct authz *a,
			    json_t *org, const char *want)
{
	char pw[KT_PAIRWISE_LEN + 1];
	const uint8_t *key;
	size_t keylen;

	kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
	return kt_pairwise_id(key, keylen, "org", a->client->sector,
			      org_field(org, "id"), pw) == KT_OK &&
	       kt_ct_streq(pw, want);
}

static void on_orgs(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *hint = areq_get(a, "organisation");
	json_t *all = json_object_get(res, "orgs"), *o;
	size_t i;

	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	/* Only active memberships in active organisations count. */
	json_decref(a->orgs);
	if ((a->orgs = json_array()) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	json_array_foreach(all, i, o) if (kt_str_eq(org_field(o, "status"),
						    "active"))
	    json_array_append(a->orgs, o);

	if (a->stage == ST_SELECT_ORG) {
		const char *want = kt_req_param(r, "org");
		json_array_foreach(a->orgs, i, o) if (kt_str_eq(
		    org_field(o, "id"), want))
		{
			choose_org(r, o);
			return;
		}
		kt_req_send_error_page(r, 400, "invalid_request",
				       "choose one of the listed companies");
		return;
	}
	if (hint != NULL) {
		json_array_foreach(a->orgs, i, o) if (org_matches_hint(r, a, o,
								       hint))
		{
			choose_org(r, o);
			return;
		}
		error_to_client(r, "access_denied",
				"the requested company is not available to "
				"this user");
		return;
	}
	switch (json_array_size(a->orgs)) {
	case 0:
		if (a->client->organisation_required) {
			error_to_client(r, "access_denied",
					"the user acts for no active company");
			return;
		}
		consent_step(r); /* company claims simply stay empty */
		return;
	case 1:
		choose_org(r, json_array_get(a->orgs, 0));
		return;
	default:
		if (prompt_has(a, "none")) {
			error_to_client(r, "interaction_required",
					"the user must choose a company");
			return;
		}
		rc = kt_account_last_org_get(
		    kt_req_redis(r),
		    json_string_value(json_object_get(a->session, "person")),
		    a->client->client_id, on_last_org, r);
		if (rc != KT_OK)
			store_failed(r, rc);
	}
}

/* After authentication: the organisation, consent, then the code. */
static void after_auth(struct kt_req *r)
{
	struct authz *a = r->h;
	int rc;

	if (!needs_org(a)) {
		consent_step(r);
		return;
	}
	rc = kt_account_person_orgs(
	    kt_req_redis(r),
	    json_string_value(json_object_get(a->session, "person")), on_orgs,
	    r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void need_login(struct kt_req *r)
{
	struct authz *a = r->h;

	if (prompt_has(a, "none")) {
		error_to_client(r, "login_required",
				"the user is not logged in");
		return;
	}
	save_then(r, render_login);
}

/* Is the session fresh enough for this request? */
static int session_fresh(struct kt_req *r, struct authz *a)
{
	const char *max_age = areq_get(a, "max_age");
	const char *at = json_string_value(json_object_get(a->session,
							   "auth_time"));
	uint64_t ma, t;

	if (max_age == NULL)
		return 1;
	if (at == NULL || kt_parse_uint(at, INT64_MAX, &t) != KT_OK ||
	    kt_parse_uint(max_age, INT64_MAX, &ma) != KT_OK)
		return 0;
	(void)r;
	return (uint64_t)kt_now() <= t + ma;
}

static void touch_session(struct kt_req *r, struct authz *a)
{
	const struct kt_config *cfg = kt_req_cfg(r);
	const char *abs = json_string_value(json_object_get(a->session,
							    "abs_exp"));
	int64_t left = abs ? strtoll(abs, NULL, 10) - kt_now() : 0;
	int64_t ttl = cfg->session_idle_timeout_s;

	if (left < ttl)
		ttl = left;
	if (ttl > 0)
		kt_store_session_touch(kt_req_redis(r), a->sid, ttl);
}

static void on_session_loaded(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *abs;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	abs = json_string_value(json_object_get(res, "abs_exp"));
	if (rc == KT_ERR_NOTFOUND || abs == NULL ||
	    strtoll(abs, NULL, 10) <= kt_now()) {
		/* No (live) session. */
		if (a->stage == ST_CONSENT) {
			kt_req_send_error_page(r, 400, "session_expired",
					       NULL);
			return;
		}
		need_login(r);
		return;
	}
	a->session = json_incref(res);
	touch_session(r, a);
	if (a->stage == ST_CONSENT) {
		const char *d = kt_req_param(r, KT_HTML_FIELD_DECISION);
		if (d == NULL || strcmp(d, KT_HTML_DECISION_ALLOW) != 0) {
			error_to_client(r, "access_denied",
					"the user denied the request");
			return;
		}
		rc = kt_store_consent_set(
		    kt_req_redis(r),
		    json_string_value(json_object_get(res, "person")),
		    a->client->client_id, areq_get(a, "scope"), NULL, NULL);
		if (rc != KT_OK) {
			store_failed(r, rc);
			return;
		}
		issue_code(r);
		return;
	}
	if (a->stage == ST_AUTHORIZE) {
		if (prompt_has(a, "login") || !session_fresh(r, a)) {
			need_login(r);
			return;
		}
		if (prompt_has(a, "select_account")) {
			save_then(r, render_select);
			return;
		}
		if (mfa_required(a) &&
		    !kt_str_eq(json_string_value(json_object_get(res, "acr")),
			       KT_ACR_MFA)) {
			rc = kt_store_person_get(
			    kt_req_redis(r),
			    json_string_value(json_object_get(res, "person")),
			    on_stepup_person, r);
			if (rc != KT_OK)
				store_failed(r, rc);
			return;
		}
	}
	after_auth(r);
}

static void check_session(struct kt_req *r)
{
	struct authz *a = r->h;
	int rc;

	if (kt_req_session_sid(r, a->sid) != KT_OK) {
		on_session_loaded(KT_ERR_NOTFOUND, NULL, r);
		return;
	}
	rc = kt_store_session_get(kt_req_redis(r), a->sid, on_session_loaded,
				  r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* /authorize ------------------------------------------------------------- */

static void on_client(struct kt_req *r, const struct kt_client *c, int rc,
		      void *arg)
{
	struct authz *a = r->h;
	const struct kt_params *p = a->par_params ? a->par_params
						  : kt_req_params(r);
	const char *redirect_uri = kt_params_get(p, "redirect_uri");
	const char *error = NULL, *desc = NULL;

	(void)arg;
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 400, "invalid_client",
				       "unknown client_id");
		return;
	}
	a->client = c;
	if (redirect_uri == NULL) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "redirect_uri is required");
		return;
	}
	if (!kt_client_redirect_uri_ok(c, redirect_uri)) {
		kt_req_send_error_page(r, 400, "invalid_redirect_uri", NULL);
		return;
	}
	/* From here on errors go back to the client. */
	if (kt_authz_validate(kt_req_cfg(r), c, p, &a->areq, &error, &desc) !=
	    KT_OK) {
		const char *mode = kt_params_get(p, "response_mode");
		const char *state = kt_params_get(p, "state");

		/* Only a usable response_mode and state travel back. */
		if (mode != NULL && strcmp(mode, "form_post") != 0)
			mode = NULL;
		if (state != NULL && strlen(state) > MAX_STATE)
			state = NULL;
		a->areq = json_pack("{s:s,s:s?,s:s?}", "redirect_uri",
				    redirect_uri, "state", state,
				    "response_mode", mode);
		error_to_client(r, error, desc);
		return;
	}
	r->lang = kt_http_lang_pick(areq_get(a, "ui_locales"),
				    kt_req_header(r, "Accept-Language"),
				    kt_req_cfg(r)->ui_default_locale);
	check_session(r);
}

static void on_par_loaded(int rc, json_t *doc, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	struct kt_error err;
	const char *cid = kt_req_param(r, "client_id");

	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK ||
	    kt_params_from_json(json_object_get(doc, "params"), NULL,
				&a->par_params, &err) != KT_OK) {
		kt_req_send_error_page(r, 400, "invalid_request_uri",
				       "the request_uri is unknown, expired "
				       "or already used");
		return;
	}
	if (!json_is_string(json_object_get(doc, "client_id")) ||
	    strcmp(cid, json_string_value(json_object_get(doc, "client_id"))) !=
		0) {
		kt_req_send_error_page(r, 400, "invalid_request_uri",
				       "the request_uri belongs to another "
				       "client");
		return;
	}
	rc = kt_client_find(r, cid, on_client, NULL);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_authorize(struct kt_req *r)
{
	const struct kt_params *p = kt_req_params(r);
	const char *dup, *request_uri;
	struct authz *a;
	int rc;

	if ((a = authz_new(r, ST_AUTHORIZE)) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	if (p == NULL) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "client_id is required");
		return;
	}
	if ((dup = kt_params_duplicate(p)) != NULL) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "a parameter is repeated");
		return;
	}
	if (kt_params_get(p, "client_id") == NULL) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "client_id is required");
		return;
	}
	request_uri = kt_params_get(p, "request_uri");
	if (request_uri != NULL) {
		size_t plen = strlen(PAR_PREFIX);
		if (strncmp(request_uri, PAR_PREFIX, plen) != 0 ||
		    request_uri[plen] == '\0') {
			kt_req_send_error_page(
			    r, 400, "invalid_request_uri",
			    "only pushed authorization requests are supported "
			    "as request_uri");
			return;
		}
		rc = kt_store_doc_get(kt_req_redis(r), "par",
				      request_uri + plen, 1, on_par_loaded, r);
		if (rc == KT_ERR_INVALID)
			on_par_loaded(KT_ERR_NOTFOUND, NULL, r);
		else if (rc != KT_OK)
			kt_req_send_unavailable(r);
		return;
	}
	rc = kt_client_find(r, kt_params_get(p, "client_id"), on_client, NULL);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

/* Posts from the pages ---------------------------------------------------- */

static void login_step(struct kt_req *r);

/*
 * The client of a stored login request, looked up again when a page is
 * posted: 1 if found, else the answer is sent (503 when the store is
 * away, 400 when the client was removed meanwhile).
 */
static int stored_client_ok(struct kt_req *r, int rc)
{
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return 0;
	}
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 400, "invalid_client",
				       "the application is no longer "
				       "registered");
		return 0;
	}
	return 1;
}

static void on_page_client(struct kt_req *r, const struct kt_client *c, int rc,
			   void *arg)
{
	struct authz *a = r->h;

	(void)arg;
	if (!stored_client_ok(r, rc))
		return;
	a->client = c;
	switch (a->stage) {
	case ST_LOGIN:
		login_step(r);
		return;
	case ST_CONSENT:
		check_session(r);
		return;
	case ST_SELECT_ORG:
		check_session(r);
		return;
	case ST_SELECT: {
		const char *act = kt_req_param(r, KT_HTML_FIELD_ACTION);
		if (act != NULL && strcmp(act, KT_HTML_ACTION_CONTINUE) == 0) {
			/* Continue with the session: skip select again. */
			a->stage = ST_LOGIN;
			check_session(r);
			return;
		}
		render_login(r);
		return;
	}
	default:
		kt_req_send_error_page(r, 500, "server_error", NULL);
	}
}

static void on_page_areq(int rc, json_t *doc, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *csrf = kt_req_param(r, "csrf");
	char bind[24];

	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 400, "session_expired", NULL);
		return;
	}
	a->areq = json_incref(doc);
	r->lang = kt_http_lang_pick(areq_get(a, "ui_locales"),
				    kt_req_header(r, "Accept-Language"),
				    kt_req_cfg(r)->ui_default_locale);
	(void)csrf;
	if (!kt_authz_page_ok(r, doc, bind)) {
		kt_req_send_error_page(r, 403, "session_expired",
				       "the form does not belong to this "
				       "browser session");
		return;
	}
	if (kt_str_eq(areq_get(a, "client_id"), KT_ACCOUNT_CLIENT_ID)) {
		on_page_client(r, r->rt->account_client, KT_OK, NULL);
		return;
	}
	rc = kt_client_find(r, areq_get(a, "client_id"), on_page_client, NULL);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

int kt_authz_page_ok(struct kt_req *r, json_t *areq, char bind[24])
{
	char cookie[64];

	/* The form must come from the browser that started the request. */
	bind[0] = '\0';
	if (kt_req_cookie(r, BROWSER_COOKIE, cookie, sizeof(cookie)) == KT_OK)
		kt_token_hash(bind, cookie);
	return bind[0] != '\0' &&
	       kt_ct_streq(bind, json_string_value(json_object_get(areq,
								  "_bind"))) &&
	       kt_ct_streq(kt_req_param(r, "csrf"),
			   json_string_value(json_object_get(areq, "_csrf")));
}

static void page_post(struct kt_req *r, enum stage stage)
{
	struct authz *a = authz_new(r, stage);
	const char *id = kt_req_param(r, "areq");
	int rc;

	if (a == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	if (id == NULL || strlen(id) >= sizeof(a->areq_id) ||
	    kt_params_duplicate(kt_req_params(r)) != NULL) {
		kt_req_send_error_page(r, 400, "session_expired", NULL);
		return;
	}
	snprintf(a->areq_id, sizeof(a->areq_id), "%s", id);
	rc = kt_store_doc_get(kt_req_redis(r), "areq", id, 0, on_page_areq, r);
	if (rc == KT_ERR_INVALID)
		kt_req_send_error_page(r, 400, "session_expired", NULL);
	else if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_consent(struct kt_req *r)
{
	page_post(r, ST_CONSENT);
}

void kt_h_select_org(struct kt_req *r)
{
	page_post(r, ST_SELECT_ORG);
}

void kt_h_select_account(struct kt_req *r)
{
	page_post(r, ST_SELECT);
}

void kt_h_login(struct kt_req *r)
{
	page_post(r, ST_LOGIN);
}

/* Login ------------------------------------------------------------------ */

struct verify_job {
	struct kt_req *r;
	char *password;
	char *hash; /* NULL: unknown account, burn the same time */
	struct kt_password_params params;
	int rc;
	int needs_rehash;
	char *new_hash;
	/* Hashes imported from the states' systems, tried when the person
	 * has no hash of ours yet (lazy credential migration). */
	char *legacy[KT_LEGACY_MAX];
	char *legacy_field[KT_LEGACY_MAX];
	size_t nlegacy;
	int upgraded; /* a legacy hash matched: store ours, drop theirs */
};

static void verify_job_free(struct verify_job *j)
{
	kt_free_secret(j->password);
	kt_free_secret(j->hash);
	kt_free_secret(j->new_hash);
	for (size_t i = 0; i < j->nlegacy; i++) {
		kt_free_secret(j->legacy[i]);
		free(j->legacy_field[i]);
	}
	free(j);
}

static void login_failed(struct kt_req *r, const char *key, int status)
{
	struct authz *a = r->h;

	a->login_error = key;
	a->login_status = status;
	render_login(r);
}

static void on_fed_linked(struct kt_req *r, int linked)
{
	struct authz *a = r->h;

	kt_log_info("federation link after login: %s",
		    linked ? "made" : "refused (not a member)");
	json_object_del(a->areq, "_fedlink");
	after_auth(r);
}

static void on_session_created(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	(void)res;
	if (rc != KT_OK) {
		OPENSSL_cleanse(a->new_cookie, sizeof(a->new_cookie));
		a->new_cookie[0] = '\0';
		store_failed(r, rc);
		return;
	}
	kt_log_info("login ok for person %s",
		    json_string_value(json_object_get(a->person, "id")));
	if (areq_get(a, "_fedlink") != NULL) {
		/* A login to prove control of this account for a state
		 * provider's identity: link it, then go on either way. */
		kt_fed_link_after_login(
		    r, json_string_value(json_object_get(a->person, "id")),
		    areq_get(a, "_fedlink"), on_fed_linked);
		return;
	}
	after_auth(r);
}

static void start_session(struct kt_req *r, const char *acr, const char *amr)
{
	struct authz *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	char old_sid[24], now[24], abs[24];
	int64_t t = kt_now();
	int rc;

	/* A login always gets a fresh session id; the old one ends. */
	if (kt_req_session_sid(r, old_sid) == KT_OK)
		kt_store_session_delete(kt_req_redis(r), old_sid, NULL, NULL);
	if (kt_random_token(a->new_cookie, sizeof(a->new_cookie), 32) !=
	    KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_token_hash(a->sid, a->new_cookie);
	snprintf(now, sizeof(now), "%lld", (long long)t);
	snprintf(abs, sizeof(abs), "%lld",
		 (long long)(t + cfg->session_absolute_timeout_s));
	json_decref(a->session);
	a->session = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "person",
	    json_string_value(json_object_get(a->person, "id")), "email",
	    json_string_value(json_object_get(a->person, "email")), "auth_time",
	    now, "acr", acr, "amr", amr, "created", now, "abs_exp", abs);
	if (a->session == NULL) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	if (a->session_extra != NULL)
		json_object_update(a->session, a->session_extra);
	rc = kt_store_session_create(kt_req_redis(r), a->sid, a->session,
				     cfg->session_idle_timeout_s,
				     on_session_created, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_throttle_counted(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	(void)rc; /* the user sees the failure either way */
	login_failed(r, "login.error.credentials", 200);
}

/* Second factor ------------------------------------------------------------ */

#define MFA_WINDOW 300 /* seconds between password and code */

static int mfa_required(const struct authz *a)
{
	return kt_mfa_required(areq_get(a, "acr_values"),
			       areq_get(a, "claims"));
}

/*
 * A page asking for a one-time code (the second factor, or the code
 * mailed for a federation link), posted to /login with action=action.
 */
static void render_code_page(struct kt_req *r, const char *prefix,
			     const char *label_key, const char *action)
{
	struct authz *a = r->h;
	const char *lang = kt_req_lang(r);
	const char *hidden[] = {"areq", a->areq_id, "csrf",
				areq_get(a, "_csrf")};
	struct evbuffer *b = evbuffer_new();
	struct kt_html_doc d;
	char key[48];

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	snprintf(key, sizeof(key), "%s.title", prefix);
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, key));
	if (a->login_error != NULL)
		kt_html_doc_notice(&d, 1, a->login_error);
	kt_html_doc_raw(&d, "<p>");
	snprintf(key, sizeof(key), "%s.intro", prefix);
	kt_html_doc_t(&d, key);
	kt_html_doc_raw(&d, "</p>\n");
	kt_html_doc_form(&d, "/login", hidden, 2);
	kt_html_doc_input(&d, "text", "code", label_key, "one-time-code", NULL,
			  1);
	snprintf(key, sizeof(key), "%s.submit", prefix);
	kt_html_doc_button(&d, KT_HTML_FIELD_ACTION, action, 0, key);
	kt_html_doc_raw(&d, "</form>\n");
	render(r, a->login_status ? a->login_status : 200,
	       kt_html_doc_end(&d), b);
}

static void render_mfa(struct kt_req *r)
{
	render_code_page(r, "mfa.login", "mfa.code_or_recovery", "mfa");
}

/* Password accepted (or a session to step up): now the code. */
static void ask_mfa(struct kt_req *r, const char *person, int stepup)
{
	struct authz *a = r->h;
	char now[24];

	if (prompt_has(a, "none")) {
		error_to_client(r, "interaction_required",
				"a second factor is required");
		return;
	}
	snprintf(now, sizeof(now), "%lld", (long long)kt_now());
	json_object_set_new(a->areq, "_mfa_person", json_string(person));
	json_object_set_new(a->areq, "_mfa_at", json_string(now));
	json_object_set_new(a->areq, "_mfa_stepup",
			    json_string(stepup ? "1" : "0"));
	a->dirty = 1;
	save_then(r, render_mfa);
}

static void login_succeeded(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *pid = json_string_value(json_object_get(a->person, "id"));

	if (kt_mfa_enabled(a->person)) {
		ask_mfa(r, pid, 0);
		return;
	}
	if (mfa_required(a)) {
		error_to_client(r, "unmet_authentication_requirements",
				"this application requires a second factor; "
				"set it up in the account pages");
		return;
	}
	start_session(r, KT_ACR_PASSWORD, "pwd");
}

static void on_stepped_up(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	after_auth(r);
}

/* The code matched and was consumed: a session at the mfa level. */
static void on_mfa_consumed(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	char now[24];

	(void)res;
	if (rc == KT_ERR_CONFLICT) { /* the same code, twice, in a race */
		a->login_error = "mfa.code_wrong";
		render_mfa(r);
		return;
	}
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	kt_store_throttle_reset(kt_req_redis(r), areq_get(a, "_mfa_person"));
	if (!kt_str_eq(areq_get(a, "_mfa_stepup"), "1")) {
		start_session(r, KT_ACR_MFA, "pwd otp");
		return;
	}
	/* Step-up: the same session, now at the mfa level. */
	snprintf(now, sizeof(now), "%lld", (long long)kt_now());
	json_object_set_new(a->session, "acr", json_string(KT_ACR_MFA));
	json_object_set_new(a->session, "amr", json_string("pwd otp"));
	json_object_set_new(a->session, "auth_time", json_string(now));
	rc = kt_store_session_create(kt_req_redis(r), a->sid, a->session,
				     cfg->session_idle_timeout_s,
				     on_stepped_up, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_mfa_fail_counted(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	(void)rc;
	(void)res;
	a->login_error = "mfa.code_wrong";
	render_mfa(r);
}

static void on_mfa_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	json_t *update = NULL;
	const char *field, *expected;

	if (rc != KT_OK) {
		store_failed(r, rc == KT_ERR_NOTFOUND ? KT_ERR_INTERNAL : rc);
		return;
	}
	json_decref(a->person);
	a->person = json_incref(res);
	if (!kt_str_eq(json_string_value(json_object_get(res, "status")),
		       "active") ||
	    kt_mfa_check(r, res, kt_req_param(r, "code"), &update) != KT_OK) {
		rc = kt_store_throttle_fail(kt_req_redis(r),
					    areq_get(a, "_mfa_person"), r->ip,
					    kt_req_cfg(r)->throttle_window_s,
					    on_mfa_fail_counted, r);
		if (rc != KT_OK)
			store_failed(r, rc);
		return;
	}
	/* Consume the code: compare-and-set on the field it changed. */
	field = json_object_get(update, "totp_step") ? "totp_step" : "recovery";
	expected = kt_str_or(
	    json_string_value(json_object_get(res, field)), "");
	rc = kt_store_person_cas(
	    kt_req_redis(r), areq_get(a, "_mfa_person"), field, expected,
	    json_string_value(json_object_get(update, field)), on_mfa_consumed,
	    r);
	json_decref(update);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/*
 * 1 if the failure counts of kt_store_throttle_get (res) are over either
 * limit; then the answer gets Retry-After and the log a warning.
 */
static int throttled(struct kt_req *r, json_t *res)
{
	const struct kt_config *cfg = kt_req_cfg(r);

	if (json_integer_value(json_object_get(res, "account")) <
		cfg->throttle_account_max_failures &&
	    json_integer_value(json_object_get(res, "ip")) <
		cfg->throttle_ip_max_failures)
		return 0;
	kt_log_warn("login throttled (account or client IP over the failure "
		    "limit)");
	kt_req_add_header(r, "Retry-After", "60");
	return 1;
}

static void on_mfa_throttle(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	if (throttled(r, res)) {
		a->login_error = "login.error.throttled";
		a->login_status = 429;
		render_mfa(r);
		return;
	}
	rc = kt_store_person_get(kt_req_redis(r), areq_get(a, "_mfa_person"),
				 on_mfa_person, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_stepup_session(int rc, json_t *res, void *arg);

static void mfa_step(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *at = areq_get(a, "_mfa_at");
	int rc;

	if (areq_get(a, "_mfa_person") == NULL || at == NULL ||
	    kt_now() - strtoll(at, NULL, 10) > MFA_WINDOW) {
		kt_req_send_error_page(r, 400, "session_expired", NULL);
		return;
	}
	if (kt_str_eq(areq_get(a, "_mfa_stepup"), "1")) {
		/* The session being stepped up must still be there. */
		if (kt_req_session_sid(r, a->sid) != KT_OK) {
			kt_req_send_error_page(r, 400, "session_expired", NULL);
			return;
		}
		rc = kt_store_session_get(kt_req_redis(r), a->sid,
					  on_stepup_session, r);
		if (rc != KT_OK)
			store_failed(r, rc);
		return;
	}
	rc = kt_store_throttle_get(kt_req_redis(r), areq_get(a, "_mfa_person"),
				   r->ip, on_mfa_throttle, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_stepup_session(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	if (rc != KT_OK ||
	    !kt_str_eq(json_string_value(json_object_get(res, "person")),
		       areq_get(a, "_mfa_person"))) {
		kt_req_send_error_page(r, 400, "session_expired", NULL);
		return;
	}
	json_decref(a->session);
	a->session = json_incref(res);
	rc = kt_store_throttle_get(kt_req_redis(r), areq_get(a, "_mfa_person"),
				   r->ip, on_mfa_throttle, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* A live session at the password level meets a request for mfa. */
static void on_stepup_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	if (rc != KT_OK) {
		store_failed(r, rc == KT_ERR_NOTFOUND ? KT_ERR_INTERNAL : rc);
		return;
	}
	if (!kt_mfa_enabled(res)) {
		error_to_client(r, "unmet_authentication_requirements",
				"this application requires a second factor; "
				"set it up in the account pages");
		return;
	}
	ask_mfa(r, json_string_value(json_object_get(res, "id")), 1);
}

/*
 * The current hash first, then every state's exported one (a person merged
 * from several states may remember any of their old passwords). Any success
 * with a hash that is not ours, or with legacy hashes still stored, is an
 * upgrade: our hash replaces them all.
 */
static void verify_work(void *arg)
{
	struct verify_job *j = arg;
	struct kt_error err;
	int ours = j->hash != NULL && kt_password_is_current(j->hash);

	j->rc = KT_ERR_DENIED;
	if (j->hash != NULL)
		j->rc = kt_password_verify(j->password, j->hash, &j->params,
					   &j->needs_rehash, &err);
	if (j->rc == KT_OK && (!ours || j->nlegacy > 0))
		j->upgraded = 1;
	for (size_t i = 0; i < j->nlegacy && j->rc != KT_OK; i++)
		if ((j->rc = kt_password_verify(j->password, j->legacy[i],
						&j->params, &j->needs_rehash,
						&err)) == KT_OK)
			j->upgraded = 1;
	if (j->rc != KT_OK && !ours) {
		/* No hash, or only legacy ones, which can be far cheaper than
		 * ours: spend our cost too, so a wrong password on a migrated
		 * or unknown account looks like one on any other. */
		kt_password_dummy_verify(j->password, &j->params);
		j->rc = KT_ERR_DENIED;
		return;
	}
	if (j->upgraded)
		j->needs_rehash = 1;
	if (j->rc == KT_OK && j->needs_rehash &&
	    kt_password_hash(j->password, &j->params, &j->new_hash, &err) !=
		KT_OK)
		j->new_hash = NULL;
}

/* Our hash replaces the legacy ones, as one audited change. */
static void upgrade_legacy(struct kt_req *r, struct verify_job *j)
{
	struct authz *a = r->h;
	const char *pid = json_string_value(json_object_get(a->person, "id"));
	char actor[64];
	json_t *f = json_pack("{s:s}", "pwhash", j->new_hash);

	if (f == NULL)
		return;
	for (size_t i = 0; i < j->nlegacy; i++)
		json_object_set_new(f, j->legacy_field[i], json_string(""));
	snprintf(actor, sizeof(actor), "person:%s", pid);
	kt_account_person_update(kt_req_redis(r), pid, f, actor,
				 "person.password.upgrade", NULL, NULL);
	json_decref(f);
	kt_log_info("legacy password hash of person %s replaced", pid);
}

static void verify_done(void *arg)
{
	struct verify_job *j = arg;
	struct kt_req *r = j->r;
	struct authz *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	const char *status = json_string_value(json_object_get(a->person,
							       "status"));
	int rc;

	if (j->rc == KT_OK && status != NULL && strcmp(status, "active") == 0) {
		kt_store_throttle_reset(kt_req_redis(r), a->email);
		if (j->upgraded && j->new_hash != NULL)
			upgrade_legacy(r, j);
		else if (j->new_hash != NULL)
			kt_store_person_set_pwhash(
			    kt_req_redis(r),
			    json_string_value(json_object_get(a->person, "id")),
			    j->new_hash, NULL, NULL);
		verify_job_free(j);
		login_succeeded(r);
		return;
	}
	verify_job_free(j);
	rc = kt_store_throttle_fail(kt_req_redis(r), a->email, r->ip,
				    cfg->throttle_window_s,
				    on_throttle_counted, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	struct verify_job *j;
	const char *hash = NULL;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	if (rc == KT_OK) {
		a->person = json_incref(res);
		hash = json_string_value(json_object_get(res, "pwhash"));
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->password = kt_strdup(a->password)) == NULL ||
	    (hash && (j->hash = kt_strdup(hash)) == NULL)) {
		if (j)
			verify_job_free(j);
		kt_req_send_unavailable(r);
		return;
	}
	if (a->person != NULL) {
		const char *k;
		json_t *v;
		json_object_foreach(a->person, k, v)
		{
			if (strncmp(k, KT_LEGACY_FIELD, strlen(KT_LEGACY_FIELD)) ||
			    !json_is_string(v) || j->nlegacy == KT_LEGACY_MAX)
				continue;
			j->legacy[j->nlegacy] = kt_strdup(json_string_value(v));
			j->legacy_field[j->nlegacy] = kt_strdup(k);
			if (j->legacy[j->nlegacy] && j->legacy_field[j->nlegacy])
				j->nlegacy++;
		}
	}
	j->r = r;
	kt_config_password_params(cfg, &j->params);
	kt_free_secret(a->password);
	a->password = NULL;
	if (kt_pool_submit(r->loop->gw->pool, r->loop->base, verify_work,
			   verify_done, j) != KT_OK) {
		verify_job_free(j);
		kt_req_send_unavailable(r);
	}
}

static void on_throttle(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	if (throttled(r, res)) {
		login_failed(r, "login.error.throttled", 429);
		return;
	}
	rc = kt_store_person_by_email(kt_req_redis(r), a->email, on_person, r);
	if (rc == KT_ERR_INVALID)
		on_person(KT_ERR_NOTFOUND, NULL, r);
	else if (rc != KT_OK)
		store_failed(r, rc);
}

/*
 * Proof of control by an emailed one-time code ------------------------------
 *
 * The other way (besides the password) to prove control of the unified
 * account when a state provider's identity is to be linked to it (the
 * login page of a federation link, areq._fedlink): the person names the
 * account's address and gets an 8-digit code there. Offered only then,
 * and only to an active person with a verified address and no second
 * factor (one with TOTP signs in with password and code instead). A code
 * lives MAILCODE_TTL seconds in the login request (as an HMAC under the
 * server key, bound to the request), is single use and allows
 * MAILCODE_TRIES attempts; every request for a code counts against the
 * login throttle of the address and the client IP. The answer never tells
 * whether the address has an account. A right code links the identity
 * (kt_fed_link_after_login: the person must act for the candidate
 * company) and then starts a session at the legacy level: the person
 * signed in upstream and proved the inbox, not the password.
 */
#define MAILCODE_TTL 600
#define MAILCODE_TRIES 5

struct mailcode_job {
	struct kt_req *r;
	char to[256]; /* "": nobody to write to, still the same answer */
	char body[1024];
	int rc;
};

static void mailcode_hash(struct kt_req *r, const char *areq_id,
			  const char *code, char out[48])
{
	const uint8_t *key;
	size_t keylen;
	uint8_t mac[KT_SHA256_LEN];
	char msg[96];

	kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
	snprintf(msg, sizeof(msg), "mailcode:%s:%s", areq_id, code);
	kt_hmac_sha256(mac, key, keylen, msg, strlen(msg));
	kt_b64url_encode(out, mac, sizeof(mac));
	OPENSSL_cleanse(msg, sizeof(msg));
}

static void mailcode_forget(struct authz *a)
{
	json_object_del(a->areq, "_mc_hash");
	json_object_del(a->areq, "_mc_person");
	json_object_del(a->areq, "_mc_exp");
	json_object_del(a->areq, "_mc_tries");
	a->dirty = 1;
}

static void render_mailcode(struct kt_req *r)
{
	render_code_page(r, "login.mailcode", "login.mailcode.code",
			 "mailcode_verify");
}

static void mailcode_work(void *arg)
{
	struct mailcode_job *j = arg;
	struct kt_mail m = {0};
	struct kt_error err;

	if (j->to[0] == '\0')
		return;
	m.to = j->to;
	m.subject = "kontor: Ihr Code / your code";
	m.body = j->body;
	j->rc = kt_mail_send(kt_req_cfg(j->r), &m, &err);
	if (j->rc != KT_OK)
		kt_log_error("one-time code mail not sent: %s", err.msg);
}

static void mailcode_sent(void *arg)
{
	struct mailcode_job *j = arg;
	struct kt_req *r = j->r;
	int rc = j->rc;

	OPENSSL_cleanse(j->body, sizeof(j->body));
	free(j);
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error",
				       "the code could not be sent");
		return;
	}
	save_then(r, render_mailcode);
}

static void on_mailcode_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	struct mailcode_job *j;
	char code[16], hash[48], exp[24];
	uint32_t v;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	j->r = r;
	hash[0] = '\0';
	if (rc == KT_OK &&
	    kt_str_eq(json_string_value(json_object_get(res, "status")),
		      "active") &&
	    kt_str_eq(json_string_value(json_object_get(res, "email_verified")),
		      "1") &&
	    !kt_mfa_enabled(res)) {
		/* Uniform over 00000000..99999999: no modulo bias. */
		do {
			if (kt_random_bytes(&v, sizeof(v)) != KT_OK) {
				free(j);
				kt_req_send_error_page(r, 500, "server_error",
						       NULL);
				return;
			}
		} while (v >= 4000000000u);
		snprintf(code, sizeof(code), "%08u", v % 100000000u);
		mailcode_hash(r, a->areq_id, code, hash);
		snprintf(j->to, sizeof(j->to), "%s", a->email);
		snprintf(
		    j->body, sizeof(j->body),
		    "Guten Tag,\n\nIhr Code, um Ihr bisheriges Landeskonto "
		    "mit Ihrem kontor-Konto zu verknüpfen:\n\n  %s\n\n"
		    "Er gilt 10 Minuten. Haben Sie ihn nicht angefordert, "
		    "ignorieren Sie diese Nachricht.\n\n---\n\n"
		    "Your code to link your previous state account with "
		    "your kontor account:\n\n  %s\n\nIt is valid for 10 "
		    "minutes. If you did not ask for it, ignore this "
		    "message.\n",
		    code, code);
		OPENSSL_cleanse(code, sizeof(code));
		json_object_set_new(
		    a->areq, "_mc_person",
		    json_string(json_string_value(json_object_get(res, "id"))));
	} else {
		json_object_set_new(a->areq, "_mc_person", json_string(""));
	}
	snprintf(exp, sizeof(exp), "%lld", (long long)kt_now() + MAILCODE_TTL);
	json_object_set_new(a->areq, "_mc_hash", json_string(hash));
	json_object_set_new(a->areq, "_mc_exp", json_string(exp));
	json_object_set_new(a->areq, "_mc_tries", json_string("0"));
	a->dirty = 1;
	/* File or network I/O: off the loop, for a real address or not. */
	if (kt_pool_submit(r->loop->gw->pool, r->loop->base, mailcode_work,
			   mailcode_sent, j) != KT_OK) {
		free(j);
		kt_req_send_unavailable(r);
	}
}

static void on_mailcode_counted(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	(void)res;
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	rc = kt_store_person_by_email(kt_req_redis(r), a->email,
				      on_mailcode_person, r);
	if (rc == KT_ERR_INVALID)
		on_mailcode_person(KT_ERR_NOTFOUND, NULL, r);
	else if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_mailcode_throttle(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);

	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	if (throttled(r, res)) {
		login_failed(r, "login.error.throttled", 429);
		return;
	}
	/* Counted like a failed login: codes cannot be asked for without
	 * limit, and the mails cannot be used to flood an inbox. */
	rc = kt_store_throttle_fail(kt_req_redis(r), a->email, r->ip,
				    cfg->throttle_window_s, on_mailcode_counted,
				    r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void mailcode_request(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *email = kt_req_param(r, KT_HTML_FIELD_EMAIL);
	int rc;

	a->email = kt_strdup(email);
	if (areq_get(a, "_fedlink") == NULL) {
		login_failed(r, "login.mailcode.unavailable", 400);
		return;
	}
	if (email == NULL || *email == '\0' || strlen(email) > 254 ||
	    strchr(email, '@') == NULL || strpbrk(email, " \r\n<>\"") != NULL) {
		login_failed(r, "login.mailcode.email", 400);
		return;
	}
	if (a->email == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	for (char *p = a->email; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	rc = kt_store_throttle_get(kt_req_redis(r), a->email, r->ip,
				   on_mailcode_throttle, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_mailcode_linked(struct kt_req *r, int linked)
{
	struct authz *a = r->h;

	if (!linked) {
		kt_log_info("federation link by emailed code: refused (not a "
			    "member of the candidate company)");
		json_decref(a->person);
		a->person = NULL;
		json_object_del(a->areq, "_fedlink");
		a->dirty = 1;
		a->login_error = "login.mailcode.refused";
		a->login_status = 403;
		save_then(r, render_login);
		return;
	}
	kt_log_info("federation link by emailed code: made");
	json_object_del(a->areq, "_fedlink");
	a->dirty = 1;
	start_session(r, KT_ACR_LEGACY, "fed");
}

static void on_mailcode_owner(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;
	const char *link = areq_get(a, "_fedlink");

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	if (rc != KT_OK || link == NULL ||
	    !kt_str_eq(json_string_value(json_object_get(res, "status")),
		       "active") ||
	    kt_mfa_enabled(res)) {
		a->login_error = "login.mailcode.expired";
		save_then(r, render_login);
		return;
	}
	a->person = json_incref(res);
	kt_fed_link_after_login(r,
				json_string_value(json_object_get(res, "id")),
				link, on_mailcode_linked);
}

static void mailcode_verify(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *code = kt_req_param(r, "code");
	const char *want = areq_get(a, "_mc_hash");
	const char *exp = areq_get(a, "_mc_exp");
	int tries = atoi(kt_str_or(areq_get(a, "_mc_tries"), "0"));
	char got[48], person[64], n[16];
	int ok;
	int rc;

	if (want == NULL || exp == NULL || areq_get(a, "_fedlink") == NULL ||
	    kt_now() > atoll(exp) || tries >= MAILCODE_TRIES) {
		mailcode_forget(a);
		a->login_error = "login.mailcode.expired";
		save_then(r, render_login);
		return;
	}
	got[0] = '\0';
	if (code != NULL && strlen(code) == 8 &&
	    strspn(code, "0123456789") == 8)
		mailcode_hash(r, a->areq_id, code, got);
	ok = *want != '\0' && got[0] != '\0' && kt_ct_streq(got, want);
	if (!ok) {
		snprintf(n, sizeof(n), "%d", tries + 1);
		json_object_set_new(a->areq, "_mc_tries", json_string(n));
		a->dirty = 1;
		a->login_error = "login.mailcode.wrong";
		save_then(r, render_mailcode);
		return;
	}
	/* Single use: gone before anything else happens. */
	snprintf(person, sizeof(person), "%s",
		 kt_str_or(areq_get(a, "_mc_person"), ""));
	mailcode_forget(a);
	rc = kt_store_person_get(kt_req_redis(r), person, on_mailcode_owner, r);
	if (rc == KT_ERR_INVALID)
		on_mailcode_owner(KT_ERR_NOTFOUND, NULL, r);
	else if (rc != KT_OK)
		store_failed(r, rc);
}

static void login_step(struct kt_req *r)
{
	struct authz *a = r->h;
	const char *act = kt_req_param(r, KT_HTML_FIELD_ACTION);
	const char *email = kt_req_param(r, KT_HTML_FIELD_EMAIL);
	const char *pw = kt_req_param(r, KT_HTML_FIELD_PASSWORD);
	int rc;

	if (act != NULL && strcmp(act, KT_HTML_ACTION_SWITCH) == 0) {
		render_login(r);
		return;
	}
	if (act != NULL && strcmp(act, "mfa") == 0) {
		mfa_step(r);
		return;
	}
	if (act != NULL && strcmp(act, "mailcode") == 0) {
		mailcode_request(r);
		return;
	}
	if (act != NULL && strcmp(act, "mailcode_verify") == 0) {
		mailcode_verify(r);
		return;
	}
	if (email == NULL || *email == '\0' || pw == NULL || *pw == '\0') {
		a->email = kt_strdup(email);
		login_failed(r, "login.error.missing", 400);
		return;
	}
	if (strlen(email) > 254 || strchr(email, '@') == NULL ||
	    strlen(pw) > 1024) {
		a->email = kt_strdup(email);
		login_failed(r, "login.error.credentials", 200);
		return;
	}
	if ((a->email = kt_strdup(email)) == NULL ||
	    (a->password = kt_strdup(pw)) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	for (char *p = a->email; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	rc = kt_store_throttle_get(kt_req_redis(r), a->email, r->ip,
				   on_throttle, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* Self-service login ------------------------------------------------------ */

void kt_authz_login_then(struct kt_req *r, const char *return_path)
{
	kt_authz_login_hint_then(r, NULL, return_path);
}

void kt_authz_login_hint_then(struct kt_req *r, const char *login_hint,
			      const char *return_path)
{
	/* The caller's handler state may hold login_hint and return_path:
	 * it is freed only once they have been copied into the request. */
	void *old = r->h;
	void (*old_free)(void *) = r->h_free;
	struct authz *a = authz_new(r, ST_AUTHORIZE);
	char uri[1100];

	if (a == NULL) { /* r still owns the old state */
		kt_req_send_unavailable(r);
		return;
	}
	if (return_path == NULL || return_path[0] != '/' ||
	    return_path[1] == '/' || strlen(return_path) > 512) {
		if (old_free != NULL)
			old_free(old);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	snprintf(uri, sizeof(uri), "%s/account", kt_req_cfg(r)->issuer);
	a->client = r->rt->account_client;
	a->areq = json_pack("{s:s,s:s,s:s,s:s,s:s?}", "client_id",
			    KT_ACCOUNT_CLIENT_ID, "redirect_uri", uri, "scope",
			    "openid", "_return", return_path, "login_hint",
			    login_hint);
	if (old_free != NULL)
		old_free(old);
	if (a->areq == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	need_login(r);
}

/* Federation ------------------------------------------------------------- */

static void on_link_client(struct kt_req *r, const struct kt_client *c, int rc,
			   void *arg)
{
	struct authz *a = r->h;

	(void)arg;
	if (rc != KT_OK) {
		store_failed(r, rc == KT_ERR_NOTFOUND ? KT_ERR_INTERNAL : rc);
		return;
	}
	a->client = c;
	save_then(r, render_login);
}

static void on_fed_client(struct kt_req *r, const struct kt_client *c, int rc,
			  void *arg)
{
	struct authz *a = r->h;
	const char *acr = a->fed_acr;

	(void)arg;
	if (!stored_client_ok(r, rc))
		return;
	a->client = c;
	r->lang = kt_http_lang_pick(areq_get(a, "ui_locales"),
				    kt_req_header(r, "Accept-Language"),
				    kt_req_cfg(r)->ui_default_locale);
	if (mfa_required(a) && !kt_str_eq(acr, KT_ACR_MFA)) {
		error_to_client(r, "unmet_authentication_requirements",
				"this application requires a second factor, "
				"which a login at a state provider does not "
				"give");
		return;
	}
	start_session(r, acr, "fed");
}

static void on_fed_areq(int rc, json_t *doc, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 400, "session_expired", NULL);
		return;
	}
	a->areq = json_incref(doc);
	if (kt_str_eq(areq_get(a, "client_id"), KT_ACCOUNT_CLIENT_ID)) {
		on_fed_client(r, r->rt->account_client, KT_OK, NULL);
		return;
	}
	if (kt_client_find(r, areq_get(a, "client_id"), on_fed_client, NULL) !=
	    KT_OK)
		kt_req_send_unavailable(r);
}

void kt_authz_federated(struct kt_req *r, const char *areq_id, json_t *person,
			const char *acr, json_t *session_extra)
{
	void *old = r->h;
	void (*old_free)(void *) = r->h_free;
	struct authz *a = authz_new(r, ST_LOGIN);
	int rc;

	if (a == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	snprintf(a->areq_id, sizeof(a->areq_id), "%s", areq_id);
	a->person = json_incref(person);
	a->session_extra = json_incref(session_extra);
	a->fed_acr = acr; /* one of the static KT_ACR_* strings */
	if (old_free != NULL)
		old_free(old);
	rc = kt_store_doc_get(kt_req_redis(r), "areq", a->areq_id, 0,
			      on_fed_areq, r);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

static void on_link_areq(int rc, json_t *doc, void *arg)
{
	struct kt_req *r = arg;
	struct authz *a = r->h;

	if (rc != KT_OK) {
		store_failed(r, rc == KT_ERR_NOTFOUND ? KT_ERR_INTERNAL : rc);
		return;
	}
	json_decref(a->areq);
	a->areq = json_deep_copy(doc);
	json_object_set_new(a->areq, "_fedlink", json_string(a->link_id));
	a->login_notice = "fed.link.notice";
	a->dirty = 1;
	if (kt_str_eq(areq_get(a, "client_id"), KT_ACCOUNT_CLIENT_ID)) {
		a->client = r->rt->account_client;
		save_then(r, render_login);
		return;
	}
	if (kt_client_find(r, areq_get(a, "client_id"), on_link_client,
			   NULL) != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_authz_login_to_link(struct kt_req *r, const char *areq_id,
			    const char *link_id, const char *upstream_name)
{
	void *old = r->h;
	void (*old_free)(void *) = r->h_free;
	struct authz *a = authz_new(r, ST_AUTHORIZE);
	int rc;

	(void)upstream_name;
	if (a == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	snprintf(a->areq_id, sizeof(a->areq_id), "%s", areq_id);
	snprintf(a->link_id, sizeof(a->link_id), "%s", link_id);
	if (old_free != NULL)
		old_free(old);
	rc = kt_store_doc_get(kt_req_redis(r), "areq", a->areq_id, 0,
			      on_link_areq, r);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}
