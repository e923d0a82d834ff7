/*
 * Federation: the states' legacy identity providers behind the gateway.
 *
 *   login page ──POST /federate──► upstream /authorize (state, nonce, PKCE)
 *        ◄──GET /federate/callback── code ──► token endpoint (async HTTP)
 *   ID token checked (signature by liboauth2's token verifier with the key
 *   chosen from the upstream JWKS; iss, aud, azp, exp, iat, nonce, sub by
 *   us); claims mapped to the canonical company fields; then the upstream
 *   identity (Land + subject) is linked:
 *     known source link          → that person, automatically
 *     one strong candidate       → only after the person proves control of
 *                                  the unified account (password login)
 *     uncertain / several        → admin review queue + provisional account
 *     no candidate               → a new unified account from the claims
 *
 * Every outbound call runs on the loop through kt_httpc (curl multi) with
 * the configured timeout; discovery and JWKS documents come from a cache.
 * An upstream that is slow, down or wrong gives a clear error page; nothing
 * is linked or created then. State documents are single use (GETDEL) and
 * bound to the browser that started the login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "kontor/account.h"
#include "kontor/html.h"
#include "kontor/http.h"
#include "kontor/httpc.h"
#include "kontor/httpc_cache.h"
#include "kontor/i18n.h"
#include "kontor/ident.h"
#include "kontor/jose.h"
#include "kontor/linkage.h"
#include "kontor/log.h"
#include "kontor/o2verify.h"
#include "kontor/store.h"
#include "kontor/upstream.h"
#include "kontor/util.h"

#include "authorize.h"
#include "federation.h"
#include "handlers.h"

#define FED_TTL 600
#define LINK_TTL 900
#define CLOCK_SKEW 120
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define REVIEW_STREAM "kt:review:federation"

struct fed {
	const struct kt_upstream *up;
	json_t *doc;	/* the pending state: land, areq, nonce, verifier */
	json_t *disco;	/* upstream discovery document */
	json_t *claims; /* verified ID token claims (+ userinfo) */
	json_t *fields; /* canonical company fields from the claims */
	json_t *cands;	/* candidate organisations */
	json_t *scores; /* linkage results */
	json_t *person; /* the unified person we land on */
	json_t *org;	/* ... and the organisation created for them */
	char *id_token; /* kept in the session for upstream logout */
	char *access_token;
	char source[300]; /* "LAND:subject" */
	char state[48];
	int pending; /* outstanding lookups while gathering candidates */
	int score_rc;
	char link_id[48];
	const char *why; /* log line for the audit of a creation */
};

static void fed_free(void *p)
{
	struct fed *f = p;

	if (f == NULL)
		return;
	json_decref(f->doc);
	json_decref(f->disco);
	json_decref(f->claims);
	json_decref(f->fields);
	json_decref(f->cands);
	json_decref(f->scores);
	json_decref(f->person);
	json_decref(f->org);
	kt_free_secret(f->id_token);
	kt_free_secret(f->access_token);
	free(f);
}

static struct fed *fed_new(struct kt_req *r)
{
	struct fed *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	r->h = f;
	r->h_free = fed_free;
	return f;
}

static enum kt_land land_of(const char *code)
{
	enum kt_land l;

	return kt_land_parse(code, &l) == KT_OK ? l : KT_LAND_NONE;
}

static const char *jget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A clear page naming the state provider; never a redirect. */
static void fed_error(struct kt_req *r, int status, const char *key)
{
	struct fed *f = r->h;
	struct evbuffer *b = evbuffer_new();
	const char *lang = kt_req_lang(r);
	struct kt_html_doc d;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, "fed.error.title"));
	kt_html_doc_raw(&d, "<p class=\"error\" role=\"alert\">");
	if (f != NULL && f->up != NULL)
		kt_html_doc_tv(&d, key, "{name}", f->up->name);
	else
		kt_html_doc_t(&d, key);
	kt_html_doc_raw(&d, "</p>\n<p>");
	kt_html_doc_t(&d, "fed.error.other_ways");
	kt_html_doc_raw(&d, "</p>\n");
	if (kt_html_doc_end(&d) != KT_OK) {
		evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_req_send_html(r, status, b, NULL);
}

static void store_failed(struct kt_req *r, int rc)
{
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS)
		kt_req_send_unavailable(r);
	else
		kt_req_send_error_page(r, 500, "server_error", NULL);
}

/* Outbound documents --------------------------------------------------------
 */

typedef void json_step(struct kt_req *r, int rc, json_t *doc);

struct fetch {
	struct kt_req *r;
	json_step *next;
};

static void on_cached_json(int rc, json_t *doc, void *arg)
{
	struct fetch *ft = arg;
	struct kt_req *r = ft->r;
	json_step *next = ft->next;

	free(ft);
	next(r, rc, doc);
}

/* A discovery or JWKS document through the per-loop cache. */
static void cached_json(struct kt_req *r, const char *url, int refresh,
			json_step *next)
{
	struct fetch *ft = calloc(1, sizeof(*ft));
	int rc;

	if (ft == NULL) {
		next(r, KT_ERR_NOMEM, NULL);
		return;
	}
	ft->r = r;
	ft->next = next;
	rc = kt_httpc_json_cache_get(r->loop->json_cache, url,
				     refresh ? KT_HTTPC_JSON_REFRESH : 0,
				     on_cached_json, ft);
	if (rc != KT_OK) {
		free(ft);
		next(r, rc, NULL);
	}
}

static void discovery(struct kt_req *r, json_step *next)
{
	struct fed *f = r->h;
	cached_json(r, f->up->discovery_url, 0, next);
}

/* The discovery document must be the configured issuer's. */
static int disco_ok(struct fed *f, json_t *doc)
{
	return kt_str_eq(jget(doc, "issuer"), f->up->issuer) &&
	       jget(doc, "authorization_endpoint") != NULL &&
	       jget(doc, "token_endpoint") != NULL &&
	       jget(doc, "jwks_uri") != NULL;
}

/* Start: POST /federate ------------------------------------------------------
 */

static void on_start_disco(struct kt_req *r, int rc, json_t *doc)
{
	struct fed *f = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	char nonce[48], verifier[64], challenge[48], redirect[1100];
	uint8_t digest[KT_SHA256_LEN];
	const char *kv[18];
	size_t n = 0;
	char *url;

	if (rc != KT_OK || !disco_ok(f, doc)) {
		kt_log_warn("federation %s: discovery failed: %s", f->up->land,
			    rc != KT_OK ? kt_strerror(rc) : "wrong document");
		fed_error(r, 502, "fed.error.unreachable");
		return;
	}
	f->disco = json_incref(doc);
	if (kt_random_token(f->state, sizeof(f->state), 24) != KT_OK ||
	    kt_random_token(nonce, sizeof(nonce), 24) != KT_OK ||
	    kt_random_token(verifier, sizeof(verifier), 32) != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_sha256(digest, verifier, strlen(verifier));
	kt_b64url_encode(challenge, digest, sizeof(digest));
	json_object_set_new(f->doc, "nonce", json_string(nonce));
	json_object_set_new(f->doc, "verifier", json_string(verifier));
	OPENSSL_cleanse(verifier, sizeof(verifier));
	snprintf(redirect, sizeof(redirect), "%s/federate/callback",
		 cfg->issuer);
	kv[n++] = "response_type";
	kv[n++] = "code";
	kv[n++] = "client_id";
	kv[n++] = f->up->client_id;
	kv[n++] = "redirect_uri";
	kv[n++] = redirect;
	kv[n++] = "scope";
	kv[n++] = f->up->scope;
	kv[n++] = "state";
	kv[n++] = f->state;
	kv[n++] = "nonce";
	kv[n++] = nonce;
	kv[n++] = "code_challenge";
	kv[n++] = challenge;
	kv[n++] = "code_challenge_method";
	kv[n++] = "S256";
	kv[n++] = "ui_locales";
	kv[n++] = kt_req_lang(r);
	url = kt_http_url_add_params(jget(doc, "authorization_endpoint"), kv,
				     n / 2);
	if (url == NULL) {
		fed_error(r, 502, "fed.error.unreachable");
		return;
	}
	rc = kt_store_doc_put(kt_req_redis(r), "fed", f->state, f->doc, FED_TTL,
			      NULL, NULL);
	if (rc != KT_OK) {
		free(url);
		store_failed(r, rc);
		return;
	}
	kt_req_send_redirect(r, 303, url);
	free(url);
}

static void on_start_areq(int rc, json_t *areq, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	char bind[24];

	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 400, "session_expired", NULL);
		return;
	}
	if (!kt_authz_page_ok(r, areq, bind)) {
		kt_req_send_error_page(r, 403, "session_expired",
				       "the form does not belong to this "
				       "browser session");
		return;
	}
	f->doc = json_pack("{s:s,s:s,s:s}", "land", f->up->land, "areq",
			   kt_req_param(r, "areq"), "bind", bind);
	if (f->doc == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	discovery(r, on_start_disco);
}

void kt_h_federate(struct kt_req *r)
{
	struct fed *f = fed_new(r);
	const char *land = kt_req_param(r, "land");
	const char *areq = kt_req_param(r, "areq");
	int rc;

	if (f == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	if (r->form == NULL || kt_params_duplicate(r->form) != NULL ||
	    areq == NULL || strlen(areq) > 64) {
		kt_req_send_error_page(r, 400, "invalid_request", NULL);
		return;
	}
	f->up = kt_config_upstream(kt_req_cfg(r), land);
	if (f->up == NULL || !f->up->enabled) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "no such state provider");
		return;
	}
	rc = kt_store_doc_get(kt_req_redis(r), "areq", areq, 0, on_start_areq,
			      r);
	if (rc == KT_ERR_INVALID)
		kt_req_send_error_page(r, 400, "session_expired", NULL);
	else if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

/* Linking --------------------------------------------------------------------
 */

static void finish_login(struct kt_req *r)
{
	struct fed *f = r->h;
	json_t *extra, *person = json_incref(f->person);
	char areq[64];

	snprintf(areq, sizeof(areq), "%s", jget(f->doc, "areq"));
	extra = json_pack("{s:s,s:s}", "upstream", f->up->land, "upstream_idt",
			  f->id_token ? f->id_token : "");
	if (extra == NULL || person == NULL) {
		json_decref(extra);
		json_decref(person);
		kt_req_send_unavailable(r);
		return;
	}
	kt_log_info("federated login via %s", f->up->land);
	/* Hands the request over: f is freed inside. */
	kt_authz_federated(r, areq, person, KT_ACR_LEGACY, extra);
	json_decref(extra);
	json_decref(person);
}

static void on_linked_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;

	if (rc == KT_ERR_NOTFOUND) {
		fed_error(r, 403, "fed.error.account_gone");
		return;
	}
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	if (!kt_str_eq(jget(res, "status"), "active")) {
		fed_error(r, 403, "fed.error.account_gone");
		return;
	}
	f->person = json_incref(res);
	finish_login(r);
}

/* New and provisional accounts ------------------------------------------------
 */

static void on_created_link(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK && rc != KT_ERR_CONFLICT) {
		store_failed(r, rc);
		return;
	}
	finish_login(r);
}

static void on_created_member(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;

	(void)res;
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	rc = kt_account_person_source_add(kt_req_redis(r),
					  jget(f->person, "id"), f->source,
					  "federation", on_created_link, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

static void on_created_org(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	json_t *org =
	    json_object_get(res, "org") ? json_object_get(res, "org") : res;

	if (rc == KT_ERR_CONFLICT) {
		/* An identifier in the claims belongs to someone else now:
		 * a race with another link or migration. Nothing half-made:
		 * the person stays without company, an admin reviews. */
		kt_log_warn("federation %s: organisation conflict: %s",
			    f->up->land, kt_str_or(jget(res, "error"), "?"));
		on_created_member(KT_OK, NULL, r);
		return;
	}
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	f->org = json_incref(org);
	rc = kt_account_member_set(kt_req_redis(r), jget(org, "id"),
				   jget(f->person, "id"), KT_ORG_ROLE_ADMIN,
				   "federation", on_created_member, r);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* The organisation from the claims; identifiers are validated, only valid
 * ones are flagged (and so indexed). */
static json_t *org_from_fields(struct fed *f, int provisional)
{
	json_t *o = json_object();
	struct kt_error err;
	char vat[16], taxno[16];
	const char *v;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "legal_name",
			    json_string(kt_str_or(jget(f->fields, "legal_name"),
						  jget(f->claims, "sub"))));
	if ((v = jget(f->fields, "legal_form")) != NULL)
		json_object_set_new(o, "legal_form", json_string(v));
	if ((v = jget(f->fields, "vat")) != NULL) {
		int ok = kt_ident_vat_normalize(v, vat, &err) == KT_OK;
		json_object_set_new(o, "vat", json_string(ok ? vat : v));
		json_object_set_new(o, "vat_valid",
				    json_string(ok ? "1" : "0"));
	}
	if ((v = jget(f->fields, "taxno")) != NULL) {
		int ok = kt_ident_taxno_normalize(v, land_of(f->up->land),
						  taxno, &err) == KT_OK;
		json_object_set_new(o, "taxno", json_string(ok ? taxno : v));
		json_object_set_new(o, "taxno_valid",
				    json_string(ok ? "1" : "0"));
	}
	for (const char *const *k =
		 (const char *const[]){"street", "house_number", "postcode",
				       "city", NULL};
	     *k; k++)
		if ((v = jget(f->fields, *k)) != NULL)
			json_object_set_new(o, *k, json_string(v));
	if (provisional)
		json_object_set_new(o, "provisional", json_string("1"));
	return o;
}

static void on_new_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	json_t *org, *src;

	if (rc == KT_ERR_CONFLICT) {
		/* The address has an account already: never link by email
		 * alone (account takeover); prove control instead. */
		kt_fed_offer_link(r, NULL);
		return;
	}
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	f->person = json_pack("{s:s,s:s,s:s}", "id", jget(res, "id"), "email",
			      kt_str_or(jget(f->fields, "email"), ""), "status",
			      "active");
	if (f->person == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	if (jget(f->fields, "legal_name") == NULL) {
		on_created_member(KT_OK, NULL, r); /* no company in claims */
		return;
	}
	org = org_from_fields(f, f->why != NULL);
	src = json_pack("[s]", f->source);
	if (org == NULL || src == NULL) {
		json_decref(org);
		json_decref(src);
		kt_req_send_unavailable(r);
		return;
	}
	rc = kt_account_org_create(kt_req_redis(r), org, src, "federation",
				   on_created_org, r);
	json_decref(org);
	json_decref(src);
	if (rc != KT_OK)
		store_failed(r, rc);
}

/* A new unified account from the upstream claims (why != NULL: a
 * provisional one while an admin reviews the candidates). */
static void create_account(struct kt_req *r, const char *why)
{
	struct fed *f = r->h;
	const char *email = jget(f->fields, "email");
	json_t *p;
	char placeholder[320];
	int rc;

	f->why = why;
	if (email == NULL || strchr(email, '@') == NULL ||
	    strlen(email) > 254) {
		/* Without an address the account is reachable only through
		 * the state provider: a unique internal placeholder. */
		snprintf(placeholder, sizeof(placeholder),
			 "%s@%s.legacy.invalid", jget(f->claims, "sub"),
			 f->up->land);
		email = placeholder;
	}
	p = json_pack("{s:s,s:s,s:s}", "email", email, "name",
		      kt_str_or(jget(f->fields, "name"), ""), "email_verified",
		      kt_str_eq(jget(f->fields, "email_verified"), "1") ? "1"
									: "0");
	if (p == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	if (why != NULL)
		json_object_set_new(p, "provisional", json_string("1"));
	rc = kt_store_person_create(kt_req_redis(r), p, on_new_person, r);
	json_decref(p);
	if (rc == KT_ERR_INVALID)
		fed_error(r, 400, "fed.error.claims");
	else if (rc != KT_OK)
		store_failed(r, rc);
}

/* Candidates ------------------------------------------------------------------
 */

static void queue_review(struct kt_req *r)
{
	struct fed *f = r->h;
	char *claims = json_dumps(f->fields, JSON_COMPACT);
	char *scores = json_dumps(f->scores, JSON_COMPACT);
	char now[24];

	snprintf(now, sizeof(now), "%lld", (long long)kt_now());
	if (claims != NULL && scores != NULL)
		kt_redis_cmdv(kt_req_redis(r), NULL, NULL, "XADD",
			      REVIEW_STREAM, "MAXLEN", "~", "100000", "*",
			      "time", now, "source", f->source, "fields",
			      claims, "candidates", scores, NULL);
	free(claims);
	free(scores);
	kt_account_audit_add(kt_req_redis(r), "federation", "federation.review",
			     f->source, NULL, NULL);
}

static void decide(struct kt_req *r)
{
	struct fed *f = r->h;
	size_t n = json_array_size(f->scores), strong = 0, uncertain = 0, i;
	json_t *s, *best = NULL;

	json_array_foreach(f->scores, i, s)
	{
		const char *d = jget(s, "decision");
		if (kt_str_eq(d, "merge")) {
			strong++;
			if (best == NULL)
				best = s;
		} else if (kt_str_eq(d, "review")) {
			uncertain++;
		}
	}
	(void)n;
	if (strong == 1 && uncertain == 0) {
		kt_fed_offer_link(r, jget(best, "id"));
		return;
	}
	if (strong + uncertain > 0) {
		queue_review(r);
		create_account(r, "review");
		return;
	}
	create_account(r, NULL);
}

static void score_work(void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	struct kt_error err;

	f->score_rc = kt_linkage_score(r->loop->gw->linkage, f->up->land,
				       f->fields, f->cands, &f->scores, &err);
	if (f->score_rc != KT_OK)
		kt_log_error("federation: scoring failed: %s", err.msg);
}

static void score_done(void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;

	if (f->score_rc != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	decide(r);
}

static void candidates_done(struct kt_req *r)
{
	struct fed *f = r->h;

	if (json_array_size(f->cands) == 0) {
		create_account(r, NULL);
		return;
	}
	if (r->loop->gw->linkage == NULL) {
		/* No matcher configured: every candidate is a review case. */
		f->scores = json_array();
		json_array_append_new(f->scores,
				      json_pack("{s:s}", "decision", "review"));
		decide(r);
		return;
	}
	if (kt_pool_submit(r->loop->gw->pool, r->loop->base, score_work,
			   score_done, r) != KT_OK)
		kt_req_send_unavailable(r);
}

static void add_candidate(struct fed *f, json_t *org)
{
	size_t i;
	json_t *c;

	if (!kt_str_eq(jget(org, "status"), "active"))
		return;
	json_array_foreach(
	    f->cands, i,
	    c) if (kt_str_eq(jget(c, "id"), jget(org, "id"))) return;
	json_array_append(f->cands, org);
}

static void on_candidate(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;

	if (rc == KT_OK && json_object_get(res, "orgs") != NULL) {
		size_t i;
		json_t *o;
		json_array_foreach(json_object_get(res, "orgs"), i, o)
		    add_candidate(f, o);
	} else if (rc == KT_OK) {
		add_candidate(f, res);
	}
	if (--f->pending == 0)
		candidates_done(r);
}

static void on_email_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;

	if (rc == KT_OK &&
	    kt_account_person_orgs(kt_req_redis(r), jget(res, "id"),
				   on_candidate, r) == KT_OK)
		return; /* on_candidate counts this lookup down */
	if (--f->pending == 0)
		candidates_done(r);
}

/* Look the claims up by every identifier and by the email address. */
static void find_candidates(struct kt_req *r)
{
	struct fed *f = r->h;
	struct kt_error err;
	struct kt_ident_register reg;
	char vat[16], taxno[16], key[200];
	const char *v;

	if ((f->cands = json_array()) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	f->pending = 1; /* held until every lookup is started */
	if ((v = jget(f->fields, "vat")) != NULL &&
	    kt_ident_vat_normalize(v, vat, &err) == KT_OK) {
		f->pending++;
		if (kt_account_org_find(kt_req_redis(r), "vat", vat,
					on_candidate, r) != KT_OK)
			f->pending--;
	}
	if ((v = jget(f->fields, "taxno")) != NULL &&
	    kt_ident_taxno_normalize(v, land_of(f->up->land), taxno, &err) ==
		KT_OK) {
		f->pending++;
		if (kt_account_org_find(kt_req_redis(r), "taxno", taxno,
					on_candidate, r) != KT_OK)
			f->pending--;
	}
	if ((v = jget(f->fields, "register")) != NULL &&
	    kt_ident_register_parse(v, &reg, &err) == KT_OK &&
	    kt_ident_register_key(&reg, key, sizeof(key)) == KT_OK &&
	    *key != '\0') {
		f->pending++;
		if (kt_account_org_find(kt_req_redis(r), "hr", key,
					on_candidate, r) != KT_OK)
			f->pending--;
	}
	if ((v = jget(f->fields, "email")) != NULL) {
		f->pending++;
		if (kt_store_person_by_email(kt_req_redis(r), v,
					     on_email_person, r) != KT_OK)
			f->pending--;
	}
	if (--f->pending == 0)
		candidates_done(r);
}

static void on_source_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	if (rc == KT_OK) {
		/* Mapped before (migration or an earlier link). */
		on_linked_person(rc, res, r);
		return;
	}
	if (rc != KT_ERR_NOTFOUND) {
		store_failed(r, rc);
		return;
	}
	find_candidates(r);
}

static void link_identity(struct kt_req *r)
{
	struct fed *f = r->h;
	int rc;

	snprintf(f->source, sizeof(f->source), "%s:%s", f->up->land,
		 jget(f->claims, "sub"));
	rc = kt_account_person_find_source(kt_req_redis(r), f->source,
					   on_source_person, r);
	if (rc == KT_ERR_INVALID)
		fed_error(r, 502, "fed.error.claims");
	else if (rc != KT_OK)
		store_failed(r, rc);
}

/* Tokens from the upstream
 * ----------------------------------------------------- */

static void on_userinfo(int rc, long status, const char *body, size_t len,
			void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	json_error_t jerr;
	json_t *ui;

	/* Userinfo only adds claims; a failure leaves the ID token's. */
	if (rc == KT_OK && status == 200 &&
	    (ui = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) !=
		NULL) {
		if (json_is_object(ui) &&
		    kt_str_eq(jget(ui, "sub"), jget(f->claims, "sub")))
			json_object_update_missing(f->claims, ui);
		json_decref(ui);
	}
	if ((f->fields = kt_upstream_map_claims(f->up, f->claims)) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	link_identity(r);
}

static void fetch_userinfo(struct kt_req *r)
{
	struct fed *f = r->h;
	const char *ep = jget(f->disco, "userinfo_endpoint");
	char auth[4200];
	const char *headers[] = {auth, NULL};

	if (ep == NULL || f->access_token == NULL ||
	    strlen(f->access_token) > 4000) {
		on_userinfo(KT_ERR_NOTFOUND, 0, NULL, 0, r);
		return;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		 f->access_token);
	if (kt_httpc_get(r->loop->httpc, ep, headers,
			 kt_req_cfg(r)->federation_timeout_ms, on_userinfo,
			 r) != KT_OK)
		on_userinfo(KT_ERR_UNAVAILABLE, 0, NULL, 0, r);
	OPENSSL_cleanse(auth, sizeof(auth));
}

/* OIDC Core §3.1.3.7, for the upstream's ID token. */
static int id_token_claims_ok(struct kt_req *r, struct fed *f, json_t *c)
{
	json_t *aud = json_object_get(c, "aud");
	int64_t now = kt_now();
	int aud_ok = 0;
	size_t i;
	json_t *v;

	if (!kt_str_eq(jget(c, "iss"), f->up->issuer))
		return 0;
	if (json_is_string(aud))
		aud_ok = kt_str_eq(json_string_value(aud), f->up->client_id);
	json_array_foreach(aud, i, v) aud_ok |=
	    kt_str_eq(json_string_value(v), f->up->client_id);
	if (!aud_ok)
		return 0;
	if (json_is_array(aud) && json_array_size(aud) > 1 &&
	    !kt_str_eq(jget(c, "azp"), f->up->client_id))
		return 0;
	if (!json_is_integer(json_object_get(c, "exp")) ||
	    json_integer_value(json_object_get(c, "exp")) + CLOCK_SKEW < now)
		return 0;
	if (json_is_integer(json_object_get(c, "iat")) &&
	    json_integer_value(json_object_get(c, "iat")) > now + CLOCK_SKEW)
		return 0;
	if (!kt_ct_streq(jget(c, "nonce"), jget(f->doc, "nonce")))
		return 0;
	v = json_object_get(c, "sub");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > 255 ||
	    strpbrk(json_string_value(v), "{}\r\n") != NULL)
		return 0;
	(void)r;
	return 1;
}

int kt_fed_id_token_verify(const char *idt, const json_t *jwks, json_t **claims,
			   struct kt_error *err)
{
	static const char *const algs[] = {"RS256", "ES256", "PS256", NULL};

	return kt_o2_jwt_verify(idt, jwks, algs, claims, err);
}

static void on_jwks(struct kt_req *r, int rc, json_t *jwks);

static void verify_id_token(struct kt_req *r, json_t *jwks, int refreshed)
{
	struct fed *f = r->h;
	struct kt_error err;
	json_t *claims = NULL;

	if (kt_fed_id_token_verify(f->id_token, jwks, &claims, &err) != KT_OK) {
		if (!refreshed && err.code == KT_ERR_NOTFOUND) {
			/* A key we do not know yet: the upstream may have
			 * rotated. Fetch its JWKS once more. */
			cached_json(r, jget(f->disco, "jwks_uri"), 1, on_jwks);
			return;
		}
		kt_log_warn("federation %s: ID token rejected: %s", f->up->land,
			    err.msg);
		fed_error(r, 502, "fed.error.token");
		return;
	}
	if (!id_token_claims_ok(r, f, claims)) {
		json_decref(claims);
		kt_log_warn("federation %s: ID token claims rejected "
			    "(iss, aud, exp, iat, nonce or sub)",
			    f->up->land);
		fed_error(r, 502, "fed.error.token");
		return;
	}
	f->claims = claims;
	fetch_userinfo(r);
}

static void on_jwks(struct kt_req *r, int rc, json_t *jwks)
{
	struct fed *f = r->h;

	if (rc != KT_OK || !json_is_array(json_object_get(jwks, "keys"))) {
		kt_log_warn("federation %s: JWKS unavailable", f->up->land);
		fed_error(r, 502, "fed.error.unreachable");
		return;
	}
	verify_id_token(r, jwks, f->pending++ > 0);
}

static void on_token(int rc, long status, const char *body, size_t len,
		     void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	json_error_t jerr;
	json_t *tok;

	if (rc != KT_OK) {
		kt_log_warn("federation %s: token request failed: %s",
			    f->up->land, kt_strerror(rc));
		fed_error(r, 504,
			  rc == KT_ERR_LIMIT ? "fed.error.token"
					     : "fed.error.unreachable");
		return;
	}
	tok = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (status != 200 || tok == NULL || jget(tok, "id_token") == NULL) {
		kt_log_warn("federation %s: token endpoint answered %ld",
			    f->up->land, status);
		json_decref(tok);
		fed_error(r, 502, "fed.error.token");
		return;
	}
	f->id_token = kt_strdup(jget(tok, "id_token"));
	f->access_token = kt_strdup(jget(tok, "access_token"));
	json_decref(tok);
	if (f->id_token == NULL || strlen(f->id_token) > KT_JOSE_MAX_COMPACT) {
		fed_error(r, 502, "fed.error.token");
		return;
	}
	f->pending = 0;
	cached_json(r, jget(f->disco, "jwks_uri"), 0, on_jwks);
}

/* Client authentication toward the upstream: a secret (Basic) or a signed
 * assertion (private_key_jwt). */
static int client_auth(struct kt_req *r, struct fed *f, char *header,
		       size_t cap, char **assertion)
{
	*assertion = NULL;
	header[0] = '\0';
	if (f->up->client_secret != NULL) {
		struct evbuffer *b = evbuffer_new();
		char *pair = NULL, enc[1200];
		size_t n;
		int rc = KT_ERR_NOMEM;

		/* RFC 6749 §2.3.1: form-encode id and secret, then Basic. */
		if (b != NULL && kt_http_urlencode(b, f->up->client_id) == 0 &&
		    evbuffer_add(b, ":", 1) == 0 &&
		    kt_http_urlencode(b, f->up->client_secret) == 0 &&
		    (n = evbuffer_get_length(b)) < 800 &&
		    (pair = calloc(1, n + 1)) != NULL) {
			evbuffer_remove(b, pair, n);
			kt_b64_encode_padded(enc, pair, n);
			snprintf(header, cap, "Authorization: Basic %s", enc);
			OPENSSL_cleanse(pair, n);
			OPENSSL_cleanse(enc, sizeof(enc));
			rc = KT_OK;
		}
		free(pair);
		if (b)
			evbuffer_free(b);
		return rc;
	}
	{
		char jti[32];
		int64_t now = kt_now();
		json_t *c;
		char *payload;
		struct kt_error err;
		int rc;

		kt_random_token(jti, sizeof(jti), 16);
		c = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "iss",
			      f->up->client_id, "sub", f->up->client_id, "aud",
			      jget(f->disco, "token_endpoint"), "jti", jti,
			      "iat", (json_int_t)now, "exp",
			      (json_int_t)(now + 120));
		payload = c ? json_dumps(c, JSON_COMPACT) : NULL;
		json_decref(c);
		if (payload == NULL)
			return KT_ERR_NOMEM;
		rc = kt_jws_sign(f->up->key, f->up->key_alg, NULL, "JWT",
				 payload, strlen(payload), assertion, &err);
		free(payload);
		(void)r;
		return rc;
	}
}

static void on_callback_disco(struct kt_req *r, int rc, json_t *doc)
{
	struct fed *f = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	char auth[1400], redirect[1100];
	const char *headers[] = {auth, NULL};
	const char *kv[12];
	char *assertion = NULL, *body;
	size_t n = 0;

	if (rc != KT_OK || !disco_ok(f, doc)) {
		fed_error(r, 502, "fed.error.unreachable");
		return;
	}
	f->disco = json_incref(doc);
	if (client_auth(r, f, auth, sizeof(auth), &assertion) != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	snprintf(redirect, sizeof(redirect), "%s/federate/callback",
		 cfg->issuer);
	kv[n++] = "grant_type";
	kv[n++] = "authorization_code";
	kv[n++] = "code";
	kv[n++] = kt_req_param(r, "code");
	kv[n++] = "redirect_uri";
	kv[n++] = redirect;
	kv[n++] = "code_verifier";
	kv[n++] = jget(f->doc, "verifier");
	if (assertion != NULL) {
		kv[n++] = "client_assertion_type";
		kv[n++] = ASSERTION_TYPE;
		kv[n++] = "client_assertion";
		kv[n++] = assertion;
	}
	/* A query string after "?" is exactly a form body. */
	body = kt_http_url_add_params("", kv, n / 2);
	kt_free_secret(assertion);
	if (body == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	rc = kt_httpc_post_form(r->loop->httpc, jget(doc, "token_endpoint"),
				body[0] == '?' ? body + 1 : body,
				auth[0] ? headers : NULL,
				cfg->federation_timeout_ms, on_token, r);
	OPENSSL_cleanse(auth, sizeof(auth));
	kt_free_secret(body);
	if (rc != KT_OK)
		fed_error(r, 502, "fed.error.unreachable");
}

static void on_callback_state(int rc, json_t *doc, void *arg)
{
	struct kt_req *r = arg;
	struct fed *f = r->h;
	char cookie[64], bind[24];
	const char *iss = kt_req_param(r, "iss");
	const char *error = kt_req_param(r, "error");

	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS) {
		kt_req_send_unavailable(r);
		return;
	}
	if (rc != KT_OK) {
		/* Unknown, expired or already used: a replayed callback. */
		fed_error(r, 400, "fed.error.state");
		return;
	}
	f->doc = json_incref(doc);
	f->up = kt_config_upstream(kt_req_cfg(r), jget(doc, "land"));
	bind[0] = '\0';
	if (kt_req_cookie(r, KT_BROWSER_COOKIE, cookie, sizeof(cookie)) ==
	    KT_OK)
		kt_token_hash(bind, cookie);
	if (f->up == NULL || !f->up->enabled ||
	    !kt_ct_streq(bind, jget(doc, "bind"))) {
		fed_error(r, 403, "fed.error.state");
		return;
	}
	if (error != NULL) {
		kt_log_info("federation %s: upstream answered error",
			    f->up->land);
		fed_error(r, 400, "fed.error.refused");
		return;
	}
	if (iss != NULL && !kt_str_eq(iss, f->up->issuer)) { /* RFC 9207 */
		fed_error(r, 400, "fed.error.token");
		return;
	}
	if (kt_req_param(r, "code") == NULL) {
		fed_error(r, 400, "fed.error.token");
		return;
	}
	discovery(r, on_callback_disco);
}

void kt_h_federate_callback(struct kt_req *r)
{
	struct fed *f = fed_new(r);
	const char *state = kt_req_param(r, "state");
	int rc;

	if (f == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	if (state == NULL || strlen(state) > 64 ||
	    (r->query && kt_params_duplicate(r->query) != NULL)) {
		fed_error(r, 400, "fed.error.state");
		return;
	}
	rc = kt_store_doc_get(kt_req_redis(r), "fed", state, 1,
			      on_callback_state, r);
	if (rc == KT_ERR_INVALID)
		fed_error(r, 400, "fed.error.state");
	else if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

/* Proof of control -----------------------------------------------------------
 */

/*
 * One strong candidate (or an email already registered): the person must
 * sign in to the unified account; the link is made after that login if the
 * account acts for the organisation (kt_fed_link_after_login).
 */
void kt_fed_offer_link(struct kt_req *r, const char *org_id)
{
	struct fed *f = r->h;
	json_t *doc;
	int rc;

	if (kt_random_token(f->link_id, sizeof(f->link_id), 24) != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	doc = json_pack("{s:s,s:s,s:s?,s:s?}", "source", f->source, "land",
			f->up->land, "org", org_id, "idt", f->id_token);
	if (doc == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	rc = kt_store_doc_put(kt_req_redis(r), "fedlink", f->link_id, doc,
			      LINK_TTL, NULL, NULL);
	json_decref(doc);
	if (rc != KT_OK) {
		store_failed(r, rc);
		return;
	}
	kt_authz_login_to_link(r, jget(f->doc, "areq"), f->link_id,
			       f->up->name);
}

struct after {
	struct kt_req *r;
	char person[64];
	json_t *link;
	void (*next)(struct kt_req *r, int linked);
};

static void after_done(struct after *a, int linked)
{
	struct kt_req *r = a->r;
	void (*next)(struct kt_req *, int) = a->next;

	json_decref(a->link);
	free(a);
	next(r, linked);
}

static void on_after_source(int rc, json_t *res, void *arg)
{
	struct after *a = arg;

	(void)res;
	if (rc != KT_OK && rc != KT_ERR_CONFLICT)
		kt_log_error("federation: link not stored: %s",
			     kt_strerror(rc));
	after_done(a, rc == KT_OK);
}

static void on_after_orgs(int rc, json_t *res, void *arg)
{
	struct after *a = arg;
	const char *want = jget(a->link, "org");
	size_t i;
	json_t *o;
	int member = want == NULL; /* an email link needs no company */

	json_array_foreach(json_object_get(res, "orgs"), i, o) member |=
	    kt_str_eq(jget(o, "id"), want) &&
	    kt_str_eq(jget(o, "status"), "active");
	if (rc != KT_OK || !member) {
		kt_log_info(
		    "federation: login to link %s, but the account does "
		    "not act for the candidate company",
		    kt_str_or(jget(a->link, "source"), "?"));
		after_done(a, 0);
		return;
	}
	rc = kt_account_person_source_add(kt_req_redis(a->r), a->person,
					  jget(a->link, "source"), "federation",
					  on_after_source, a);
	if (rc != KT_OK)
		after_done(a, 0);
}

static void on_after_link(int rc, json_t *doc, void *arg)
{
	struct after *a = arg;

	if (rc != KT_OK) {
		after_done(a, 0);
		return;
	}
	a->link = json_incref(doc);
	rc = kt_account_person_orgs(kt_req_redis(a->r), a->person,
				    on_after_orgs, a);
	if (rc != KT_OK)
		after_done(a, 0);
}

void kt_fed_link_after_login(struct kt_req *r, const char *person,
			     const char *link_id,
			     void (*next)(struct kt_req *r, int linked))
{
	struct after *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		next(r, 0);
		return;
	}
	a->r = r;
	a->next = next;
	snprintf(a->person, sizeof(a->person), "%s", person);
	if (kt_store_doc_get(kt_req_redis(r), "fedlink", link_id, 1,
			     on_after_link, a) != KT_OK)
		after_done(a, 0);
}

/* Upstream logout
 * ---------------------------------------------------------------- */

struct uplogout {
	struct kt_req *r;
	const struct kt_upstream *up;
	char *idt;
	char *after; /* where to go when the upstream is done */
};

static void on_logout_disco(struct kt_req *r, int rc, json_t *doc)
{
	struct uplogout *u = r->h;
	const char *ep = jget(doc, "end_session_endpoint");
	char back[1100], key[48];
	const char *kv[6];
	char *url;
	json_t *ret;

	if (rc != KT_OK || ep == NULL ||
	    kt_random_token(key, sizeof(key), 24)) {
		/* The upstream cannot be told: our own logout is done. */
		kt_req_send_redirect(r, 303, u->after);
		return;
	}
	snprintf(back, sizeof(back), "%s/federate/logged-out",
		 kt_req_cfg(r)->issuer);
	ret = json_pack("{s:s}", "after", u->after);
	if (ret == NULL ||
	    kt_store_doc_put(kt_req_redis(r), "fedlogout", key, ret, FED_TTL,
			     NULL, NULL) != KT_OK) {
		json_decref(ret);
		kt_req_send_redirect(r, 303, u->after);
		return;
	}
	json_decref(ret);
	kv[0] = "id_token_hint";
	kv[1] = u->idt && *u->idt ? u->idt : NULL;
	kv[2] = "post_logout_redirect_uri";
	kv[3] = back;
	kv[4] = "state";
	kv[5] = key;
	if ((url = kt_http_url_add_params(ep, kv, 3)) == NULL) {
		kt_req_send_redirect(r, 303, u->after);
		return;
	}
	kt_req_send_redirect(r, 303, url);
	free(url);
}

static void uplogout_free(void *p)
{
	struct uplogout *u = p;

	if (u == NULL)
		return;
	kt_free_secret(u->idt);
	free(u->after);
	free(u);
}

void kt_fed_logout_upstream(struct kt_req *r, const char *land, const char *idt,
			    const char *after)
{
	struct uplogout *u = calloc(1, sizeof(*u));
	const struct kt_upstream *up = kt_config_upstream(kt_req_cfg(r), land);

	if (up == NULL || u == NULL) {
		free(u);
		kt_req_send_redirect(r, 303, after);
		return;
	}
	/* idt and after may live in the state being replaced: copy first. */
	u->r = r;
	u->up = up;
	u->idt = kt_strdup(idt);
	u->after = kt_strdup(after);
	if (r->h_free != NULL)
		r->h_free(r->h);
	r->h = u;
	r->h_free = uplogout_free;
	if (u->after == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	cached_json(r, up->discovery_url, 0, on_logout_disco);
}

static void on_logged_out(int rc, json_t *doc, void *arg)
{
	struct kt_req *r = arg;
	const char *after = jget(doc, "after");

	if (rc != KT_OK || after == NULL) {
		kt_req_send_redirect(r, 303, "/logout/done");
		return;
	}
	kt_req_send_redirect(r, 303, after);
}

void kt_h_federate_logged_out(struct kt_req *r)
{
	const char *state = kt_req_param(r, "state");

	if (state == NULL || strlen(state) > 64 ||
	    kt_store_doc_get(kt_req_redis(r), "fedlogout", state, 1,
			     on_logged_out, r) != KT_OK)
		kt_req_send_redirect(r, 303, "/logout/done");
}
