/*
 * Self-service pages for a signed-in person (/account): their companies and
 * roles, password change, second factor, sessions; for company admins the
 * member list, role changes, removals and invitations; and the invitation
 * link itself (/invite).
 *
 * Every page needs a live session; without one the person goes through the
 * normal login pages (as the built-in client) and comes back. Every form
 * carries a CSRF token derived from the session id, and every change goes
 * through the account model, so it is atomic and lands in the audit stream
 * with the person as actor.
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
#include "kontor/password.h"
#include "kontor/qr.h"
#include "kontor/recovery.h"
#include "kontor/totp.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "authorize.h"
#include "handlers.h"
#include "mfa.h"

#define INVITE_MAX_TOKEN 64

struct acct;
typedef void acct_step(struct kt_req *r);

struct acct {
	char sid[24];
	char actor[64]; /* "person:<id>" */
	json_t *session;
	json_t *person;
	json_t *orgs;
	json_t *sessions;
	json_t *members;
	json_t *invite;
	json_t *org;
	const char *notice; /* i18n key shown on the page */
	int notice_error;
	acct_step *next;
	/* password change / registration work */
	char *pw_current;
	char *pw_new;
	char *pw_hash_stored;
	char *pw_hash_new;
	int pw_rc;
	char token_hash[24];
	char *mail_to;
	char *mail_body;
	int mail_rc;
	/* second-factor enrolment: shown once, wiped with the request */
	uint8_t totp_secret[KT_TOTP_SECRET_LEN];
	struct kt_recovery_code codes[KT_RECOVERY_COUNT_DEFAULT];
};

static void totp_section(struct kt_req *r, struct kt_html_doc *d,
			 json_t *person, const char *csrf);
static void show_with(struct kt_req *r, const char *notice, int error);

static void acct_free(void *p)
{
	struct acct *a = p;

	if (a == NULL)
		return;
	json_decref(a->session);
	json_decref(a->person);
	json_decref(a->orgs);
	json_decref(a->sessions);
	json_decref(a->members);
	json_decref(a->invite);
	json_decref(a->org);
	kt_free_secret(a->pw_current);
	kt_free_secret(a->pw_new);
	kt_free_secret(a->pw_hash_stored);
	kt_free_secret(a->pw_hash_new);
	free(a->mail_to);
	kt_free_secret(a->mail_body);
	OPENSSL_cleanse(a->totp_secret, sizeof(a->totp_secret));
	OPENSSL_cleanse(a->codes, sizeof(a->codes));
	free(a);
}

static const char *jget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *person_id(const struct acct *a)
{
	return jget(a->session, "person");
}

static void failed(struct kt_req *r, int rc)
{
	if (rc == KT_ERR_UNAVAILABLE || rc == KT_ERR_REDIS)
		kt_req_send_unavailable(r);
	else
		kt_req_send_error_page(r, 500, "server_error", NULL);
}

/* The session, or off to the login page (GET) / the account page (POST). */
static void on_session(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	const char *abs = jget(res, "abs_exp");
	const char *uri;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		failed(r, rc);
		return;
	}
	if (rc == KT_ERR_NOTFOUND || abs == NULL ||
	    strtoll(abs, NULL, 10) <= kt_now()) {
		if (r->method == KT_ROUTE_POST) {
			kt_req_send_redirect(r, 303, "/account");
			return;
		}
		uri = r->ev ? evhttp_request_get_uri(r->ev) : "/account";
		kt_authz_login_then(r, uri);
		return;
	}
	a->session = json_incref(res);
	snprintf(a->actor, sizeof(a->actor), "person:%s", person_id(a));
	/* A POST must carry this session's token for this form. */
	if (r->method == KT_ROUTE_POST &&
	    !kt_req_csrf_ok(r, a->sid, "account", kt_req_param(r, "csrf"))) {
		kt_req_send_error_page(r, 403, "session_expired", NULL);
		return;
	}
	a->next(r);
}

static void with_session(struct kt_req *r, acct_step *next)
{
	struct acct *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	r->h = a;
	r->h_free = acct_free;
	a->next = next;
	if (r->method == KT_ROUTE_POST && r->form != NULL &&
	    kt_params_duplicate(r->form) != NULL) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "a parameter is repeated");
		return;
	}
	if (kt_req_session_sid(r, a->sid) != KT_OK) {
		on_session(KT_ERR_NOTFOUND, NULL, r);
		return;
	}
	if (kt_store_session_get(kt_req_redis(r), a->sid, on_session, r) !=
	    KT_OK)
		kt_req_send_unavailable(r);
}

static void send_page(struct kt_req *r, struct kt_html_doc *d,
		      struct evbuffer *b)
{
	if (kt_html_doc_end(d) != KT_OK) {
		evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_req_send_html(r, 200, b, NULL);
}

static const char *role_key(const char *role)
{
	if (kt_str_eq(role, KT_ORG_ROLE_ADMIN))
		return "org.role.admin";
	if (kt_str_eq(role, KT_ORG_ROLE_REPRESENTATIVE))
		return "org.role.representative";
	return "org.role.member";
}

static void fmt_time(const char *epoch, char out[32])
{
	time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : 0;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

/* /account ---------------------------------------------------------------- */

static void render_account(struct kt_req *r)
{
	struct acct *a = r->h;
	const char *lang = kt_req_lang(r);
	struct evbuffer *b = evbuffer_new();
	struct kt_html_doc d;
	char csrf[48], when[32];
	const char *hidden[] = {"csrf", csrf};
	json_t *o, *orgs = json_object_get(a->orgs, "orgs");
	json_t *sessions = json_object_get(a->sessions, "sessions");
	size_t i;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_req_csrf(r, a->sid, "account", csrf);
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, "account.title"));
	if (a->notice != NULL)
		kt_html_doc_notice(&d, a->notice_error, a->notice);
	kt_html_doc_raw(&d, "<p>");
	kt_html_doc_tv(&d, "account.signed_in_as", "{account}",
		       jget(a->person, "email"));
	kt_html_doc_raw(&d, "</p>\n<h2>");
	kt_html_doc_t(&d, "account.companies");
	kt_html_doc_raw(&d, "</h2>\n");
	if (json_array_size(orgs) == 0) {
		kt_html_doc_raw(&d, "<p>");
		kt_html_doc_t(&d, "account.no_companies");
		kt_html_doc_raw(&d, "</p>\n");
	} else {
		kt_html_doc_raw(&d, "<table><thead><tr><th scope=\"col\">");
		kt_html_doc_t(&d, "account.col.company");
		kt_html_doc_raw(&d, "</th><th scope=\"col\">");
		kt_html_doc_t(&d, "account.col.role");
		kt_html_doc_raw(&d, "</th></tr></thead><tbody>\n");
		json_array_foreach(orgs, i, o)
		{
			kt_html_doc_raw(&d, "<tr><td>");
			kt_html_doc_text(&d, kt_str_or(jget(o, "legal_name"), ""));
			if (jget(o, "legal_form") != NULL) {
				kt_html_doc_raw(&d, " ");
				kt_html_doc_text(&d, jget(o, "legal_form"));
			}
			if (!kt_str_eq(jget(o, "status"), "active")) {
				kt_html_doc_raw(&d, " <span class=\"muted\">(");
				kt_html_doc_text(&d, jget(o, "status"));
				kt_html_doc_raw(&d, ")</span>");
			}
			kt_html_doc_raw(&d, "</td><td>");
			kt_html_doc_t(&d, role_key(jget(o, "role")));
			if (kt_str_eq(jget(o, "role"), KT_ORG_ROLE_ADMIN) &&
			    kt_str_eq(jget(o, "status"), "active")) {
				kt_html_doc_raw(&d, "<br><a href=\"/account/org?id=");
				kt_html_doc_text(&d, jget(o, "id"));
				kt_html_doc_raw(&d, "\">");
				kt_html_doc_t(&d, "account.manage");
				kt_html_doc_raw(&d, "</a>");
			}
			kt_html_doc_raw(&d, "</td></tr>\n");
		}
		kt_html_doc_raw(&d, "</tbody></table>\n");
	}

	kt_html_doc_raw(&d, "<h2>");
	kt_html_doc_t(&d, "account.password.title");
	kt_html_doc_raw(&d, "</h2>\n");
	kt_html_doc_form(&d, "/account/password", hidden, 1);
	kt_html_doc_raw(&d, "<input type=\"hidden\" name=\"username\" "
			    "autocomplete=\"username\" value=\"");
	kt_html_doc_text(&d, jget(a->person, "email"));
	kt_html_doc_raw(&d, "\">\n");
	kt_html_doc_input(&d, "password", "current", "account.password.current",
			  "current-password", NULL, 0);
	kt_html_doc_input(&d, "password", "new", "account.password.new",
			  "new-password", NULL, 0);
	kt_html_doc_input(&d, "password", "repeat", "account.password.repeat",
			  "new-password", NULL, 0);
	kt_html_doc_button(&d, "action", "password", 0,
			   "account.password.submit");
	kt_html_doc_raw(&d, "</form>\n");

	totp_section(r, &d, a->person, csrf);

	kt_html_doc_raw(&d, "<h2>");
	kt_html_doc_t(&d, "account.sessions.title");
	kt_html_doc_raw(&d, "</h2>\n<table><tbody>\n");
	json_array_foreach(sessions, i, o)
	{
		const char *sid = jget(o, "sid");
		const char *kv[] = {"csrf", csrf, "sid", sid};

		fmt_time(jget(o, "created"), when);
		kt_html_doc_raw(&d, "<tr><td>");
		kt_html_doc_t(&d, "account.sessions.started");
		kt_html_doc_raw(&d, " ");
		kt_html_doc_text(&d, when);
		if (kt_str_eq(sid, a->sid)) {
			kt_html_doc_raw(&d, " <strong>(");
			kt_html_doc_t(&d, "account.sessions.this");
			kt_html_doc_raw(&d, ")</strong>");
		}
		kt_html_doc_raw(&d, "</td><td>");
		kt_html_doc_form(&d, "/account/sessions/end", kv, 2);
		kt_html_doc_button(&d, "action", "end", 1,
				   "account.sessions.end");
		kt_html_doc_raw(&d, "</form></td></tr>\n");
	}
	kt_html_doc_raw(&d, "</tbody></table>\n<p><a href=\"/logout\">");
	kt_html_doc_t(&d, "account.logout");
	kt_html_doc_raw(&d, "</a></p>\n");
	send_page(r, &d, b);
}

static void on_sessions(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	a->sessions = json_incref(res);
	render_account(r);
}

static void on_orgs(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	a->orgs = json_incref(res);
	rc = kt_account_person_sessions(kt_req_redis(r), person_id(a),
					on_sessions, r);
	if (rc != KT_OK)
		failed(r, rc);
}

static void on_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	json_decref(a->person);
	a->person = json_incref(res);
	rc = kt_account_person_orgs(kt_req_redis(r), person_id(a), on_orgs, r);
	if (rc != KT_OK)
		failed(r, rc);
}

/* The session's person, then cb(rc, person, r). */
static void load_self(struct kt_req *r, kt_store_cb *cb)
{
	struct acct *a = r->h;
	int rc = kt_store_person_get(kt_req_redis(r), person_id(a), cb, r);

	if (rc != KT_OK)
		failed(r, rc);
}

/*
 * Change fields f (taken; NULL: out of memory) of the session's person,
 * audited as action with the session's actor, then cb(rc, _, r).
 */
static void update_self(struct kt_req *r, json_t *f, const char *action,
			kt_store_cb *cb)
{
	struct acct *a = r->h;
	int rc;

	if (f == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	rc = kt_account_person_update(kt_req_redis(r), person_id(a), f,
				      a->actor, action, cb, r);
	json_decref(f);
	if (rc != KT_OK)
		failed(r, rc);
}

/* Load everything the account page shows, then render it. */
static void show_account(struct kt_req *r)
{
	load_self(r, on_person);
}

static void show_with(struct kt_req *r, const char *notice, int error)
{
	struct acct *a = r->h;

	a->notice = notice;
	a->notice_error = error;
	show_account(r);
}

void kt_h_account(struct kt_req *r)
{
	with_session(r, show_account);
}

/* Password change --------------------------------------------------------- */

static void pw_work(void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	struct kt_password_params params;
	struct kt_error err;
	int rehash;

	kt_config_password_params(kt_req_cfg(r), &params);
	a->pw_rc = a->pw_hash_stored
		       ? kt_password_verify(a->pw_current, a->pw_hash_stored,
					    &params, &rehash, &err)
		       : KT_ERR_DENIED;
	if (a->pw_rc == KT_OK &&
	    kt_password_hash(a->pw_new, &params, &a->pw_hash_new, &err) !=
		KT_OK)
		a->pw_rc = KT_ERR_INTERNAL;
}

static void on_pw_saved(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	show_with(r, "account.password.changed", 0);
}

static void pw_done(void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (a->pw_rc == KT_ERR_DENIED) {
		show_with(r, "account.password.wrong", 1);
		return;
	}
	if (a->pw_rc != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	update_self(r, json_pack("{s:s}", "pwhash", a->pw_hash_new),
		    "person.password", on_pw_saved);
}

static void on_pw_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	a->person = json_incref(res);
	a->pw_hash_stored = kt_strdup(jget(res, "pwhash"));
	if (kt_pool_submit(r->loop->gw->pool, r->loop->base, pw_work, pw_done,
			   r) != KT_OK)
		kt_req_send_unavailable(r);
}

static void change_password(struct kt_req *r)
{
	struct acct *a = r->h;
	const char *cur = kt_req_param(r, "current");
	const char *nw = kt_req_param(r, "new");
	const char *rep = kt_req_param(r, "repeat");
	const char *why;

	if (cur == NULL || nw == NULL || rep == NULL || !kt_str_eq(nw, rep)) {
		show_with(r, "account.password.mismatch", 1);
		return;
	}
	if (kt_password_policy_check(nw, &why) != KT_OK) {
		show_with(r, "account.password.weak", 1);
		return;
	}
	if ((a->pw_current = kt_strdup(cur)) == NULL ||
	    (a->pw_new = kt_strdup(nw)) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	load_self(r, on_pw_person);
}

void kt_h_account_password(struct kt_req *r)
{
	with_session(r, change_password);
}

/* Ending sessions ----------------------------------------------------------- */

static void on_session_ended(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	kt_req_send_redirect(r, 303, "/account");
}

static void on_target_session(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc == KT_ERR_NOTFOUND) {
		kt_req_send_redirect(r, 303, "/account");
		return;
	}
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	/* Only one's own sessions. */
	if (!kt_str_eq(jget(res, "person"), person_id(a))) {
		kt_req_send_error_page(r, 403, "access_denied", NULL);
		return;
	}
	kt_account_audit_add(kt_req_redis(r), a->actor, "session.end",
			     "person-session", NULL, NULL);
	rc = kt_store_session_delete(kt_req_redis(r),
				     kt_req_param(r, "sid"), on_session_ended,
				     r);
	if (rc != KT_OK)
		failed(r, rc);
}

static void end_session(struct kt_req *r)
{
	const char *sid = kt_req_param(r, "sid");
	int rc;

	if (sid == NULL || strlen(sid) > 64) {
		kt_req_send_error_page(r, 400, "invalid_request", NULL);
		return;
	}
	rc = kt_store_session_get(kt_req_redis(r), sid, on_target_session, r);
	if (rc == KT_ERR_INVALID)
		kt_req_send_error_page(r, 400, "invalid_request", NULL);
	else if (rc != KT_OK)
		failed(r, rc);
}

void kt_h_account_session_end(struct kt_req *r)
{
	with_session(r, end_session);
}

/* Company administration ---------------------------------------------------- */

static const char *org_param(struct kt_req *r)
{
	return kt_req_param(r, "id");
}

/* The admin check: the person's verified role in that organisation. */
static json_t *admin_org(struct acct *a, const char *oid)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(a->orgs, "orgs"), i, o)
	{
		if (kt_str_eq(jget(o, "id"), oid) &&
		    kt_str_eq(jget(o, "role"), KT_ORG_ROLE_ADMIN) &&
		    kt_str_eq(jget(o, "status"), "active"))
			return o;
	}
	return NULL;
}

static void render_org(struct kt_req *r)
{
	struct acct *a = r->h;
	const char *lang = kt_req_lang(r);
	const char *oid = jget(a->org, "id");
	struct evbuffer *b = evbuffer_new();
	struct kt_html_doc d;
	char csrf[48];
	const char *inv[] = {"csrf", csrf, "id", oid};
	static const char *const roles[] = {KT_ORG_ROLE_ADMIN,
					    KT_ORG_ROLE_MEMBER,
					    KT_ORG_ROLE_REPRESENTATIVE};
	json_t *m;
	size_t i;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_req_csrf(r, a->sid, "account", csrf);
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, "account.org.title"));
	if (a->notice != NULL)
		kt_html_doc_notice(&d, a->notice_error, a->notice);
	kt_html_doc_raw(&d, "<p>");
	kt_html_doc_tv(&d, "account.org.intro", "{org}",
		       kt_str_or(jget(a->org, "legal_name"), ""));
	kt_html_doc_raw(&d, "</p>\n<table><thead><tr><th scope=\"col\">");
	kt_html_doc_t(&d, "account.org.col.person");
	kt_html_doc_raw(&d, "</th><th scope=\"col\">");
	kt_html_doc_t(&d, "account.col.role");
	kt_html_doc_raw(&d, "</th></tr></thead><tbody>\n");
	json_array_foreach(json_object_get(a->members, "members"), i, m)
	{
		const char *kv[] = {"csrf", csrf, "id", oid, "person",
				    jget(m, "person")};
		char fid[32];

		snprintf(fid, sizeof(fid), "role-%zu", i);
		kt_html_doc_raw(&d, "<tr><td>");
		kt_html_doc_text(&d, kt_str_or(jget(m, "name"), ""));
		kt_html_doc_raw(&d, "<br><span class=\"muted\">");
		kt_html_doc_text(&d, kt_str_or(jget(m, "email"), ""));
		kt_html_doc_raw(&d, "</span></td><td>");
		kt_html_doc_form(&d, "/account/org/role", kv, 3);
		kt_html_doc_raw(&d, "<label class=\"muted\" for=\"");
		kt_html_doc_text(&d, fid);
		kt_html_doc_raw(&d, "\">");
		kt_html_doc_t(&d, "account.col.role");
		kt_html_doc_raw(&d, "</label><select name=\"role\" id=\"");
		kt_html_doc_text(&d, fid);
		kt_html_doc_raw(&d, "\">");
		for (size_t k = 0; k < 3; k++) {
			kt_html_doc_raw(&d, "<option value=\"");
			kt_html_doc_text(&d, roles[k]);
			kt_html_doc_raw(&d, kt_str_eq(jget(m, "role"), roles[k])
						? "\" selected>"
						: "\">");
			kt_html_doc_t(&d, role_key(roles[k]));
			kt_html_doc_raw(&d, "</option>");
		}
		kt_html_doc_raw(&d, "</select>");
		kt_html_doc_button(&d, "action", "role", 1,
				   "account.org.change_role");
		kt_html_doc_raw(&d, "</form>");
		kt_html_doc_form(&d, "/account/org/remove", kv, 3);
		kt_html_doc_button(&d, "action", "remove", 1,
				   "account.org.remove");
		kt_html_doc_raw(&d, "</form></td></tr>\n");
	}
	kt_html_doc_raw(&d, "</tbody></table>\n<h2>");
	kt_html_doc_t(&d, "account.org.invite.title");
	kt_html_doc_raw(&d, "</h2>\n");
	kt_html_doc_form(&d, "/account/org/invite", inv, 2);
	kt_html_doc_input(&d, "email", "email", "account.org.invite.email",
			  "off", NULL, 0);
	kt_html_doc_raw(&d, "<label for=\"f-role\">");
	kt_html_doc_t(&d, "account.org.invite.role");
	kt_html_doc_raw(&d, "</label><select name=\"role\" id=\"f-role\">");
	for (size_t k = 0; k < 3; k++) {
		kt_html_doc_raw(&d, "<option value=\"");
		kt_html_doc_text(&d, roles[k]);
		kt_html_doc_raw(&d, k == 1 ? "\" selected>" : "\">");
		kt_html_doc_t(&d, role_key(roles[k]));
		kt_html_doc_raw(&d, "</option>");
	}
	kt_html_doc_raw(&d, "</select>\n");
	kt_html_doc_button(&d, "action", "invite", 0,
			   "account.org.invite.submit");
	kt_html_doc_raw(&d, "</form>\n<p><a href=\"/account\">");
	kt_html_doc_t(&d, "account.back");
	kt_html_doc_raw(&d, "</a></p>\n");
	send_page(r, &d, b);
}

static void on_members(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	a->members = json_incref(res);
	render_org(r);
}

static void show_org(struct kt_req *r)
{
	struct acct *a = r->h;
	int rc = kt_account_org_members(kt_req_redis(r), jget(a->org, "id"),
					on_members, r);
	if (rc != KT_OK)
		failed(r, rc);
}

/* After a change: back to the member list with a notice. */
static void on_org_changed(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	(void)res;
	if (rc == KT_ERR_DENIED) {
		a->notice = "account.org.last_admin";
		a->notice_error = 1;
	} else if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		failed(r, rc);
		return;
	} else {
		a->notice = "account.org.updated";
	}
	show_org(r);
}

static void invite_mail_work(void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	struct kt_mail m = {0};
	struct kt_error err;

	m.to = a->mail_to;
	m.subject = kt_i18n("de", "invite.mail.subject");
	m.body = a->mail_body;
	a->mail_rc = kt_mail_send(kt_req_cfg(r), &m, &err);
	if (a->mail_rc != KT_OK)
		kt_log_error("invitation mail not sent: %s", err.msg);
}

static void invite_mail_done(void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (a->mail_rc != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error",
				       "the invitation could not be sent");
		return;
	}
	a->notice = "account.org.invite.sent";
	show_org(r);
}

static void on_invite_stored(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	if (kt_pool_submit(r->loop->gw->pool, r->loop->base, invite_mail_work,
			   invite_mail_done, r) != KT_OK)
		kt_req_send_unavailable(r);
}

static void invite(struct kt_req *r)
{
	struct acct *a = r->h;
	const struct kt_config *cfg = kt_req_cfg(r);
	const char *email = kt_req_param(r, "email");
	const char *role = kt_req_param(r, "role");
	const char *org_name = kt_str_or(jget(a->org, "legal_name"), "");
	char token[48], body[2048];
	int rc;

	if (email == NULL || strlen(email) > 254 || strchr(email, '@') == NULL ||
	    strpbrk(email, " \r\n<>\"{}") != NULL || !kt_account_role_ok(role)) {
		a->notice = "account.error.form";
		a->notice_error = 1;
		show_org(r);
		return;
	}
	if (kt_random_token(token, sizeof(token), 32) != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_token_hash(a->token_hash, token);
	snprintf(body, sizeof(body),
		 "Guten Tag,\n\n%s hat Sie eingeladen, im Unternehmenskonto "
		 "für %s zu handeln.\nDie Einladung annehmen:\n\n  "
		 "%s/invite?token=%s\n\nDer Link ist einmal verwendbar.\n\n"
		 "---\n\n%s has invited you to act for %s in its company "
		 "account.\nAccept the invitation:\n\n  %s/invite?token=%s\n\n"
		 "The link can be used once.\n",
		 kt_str_or(jget(a->person, "name"), jget(a->session, "email")),
		 org_name, cfg->issuer, token,
		 kt_str_or(jget(a->person, "name"), jget(a->session, "email")),
		 org_name, cfg->issuer, token);
	OPENSSL_cleanse(token, sizeof(token));
	if ((a->mail_to = strdup(email)) == NULL ||
	    (a->mail_body = strdup(body)) == NULL) {
		OPENSSL_cleanse(body, sizeof(body));
		kt_req_send_unavailable(r);
		return;
	}
	OPENSSL_cleanse(body, sizeof(body));
	rc = kt_account_invite_create(kt_req_redis(r), a->token_hash,
				      jget(a->org, "id"), email, role,
				      a->actor, cfg->invitations_ttl_s,
				      on_invite_stored, r);
	if (rc != KT_OK)
		failed(r, rc);
}

/* Dispatch for /account/org*: check the admin role first. */
static void on_admin_orgs(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	const char *path = r->route->path;
	json_t *org;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	a->orgs = json_incref(res);
	if ((org = admin_org(a, org_param(r))) == NULL) {
		kt_req_send_error_page(r, 403, "access_denied",
				       kt_i18n(kt_req_lang(r),
					       "account.org.forbidden"));
		return;
	}
	a->org = json_incref(org);
	if (strcmp(path, "/account/org") == 0) {
		show_org(r);
	} else if (strcmp(path, "/account/org/invite") == 0) {
		invite(r);
	} else if (strcmp(path, "/account/org/role") == 0) {
		rc = kt_account_member_set(kt_req_redis(r), org_param(r),
					   kt_req_param(r, "person"),
					   kt_req_param(r, "role"), a->actor,
					   on_org_changed, r);
		if (rc == KT_ERR_INVALID)
			on_org_changed(KT_ERR_NOTFOUND, NULL, r);
		else if (rc != KT_OK)
			failed(r, rc);
	} else {
		rc = kt_account_member_remove(kt_req_redis(r), org_param(r),
					      kt_req_param(r, "person"),
					      a->actor, on_org_changed, r);
		if (rc == KT_ERR_INVALID)
			on_org_changed(KT_ERR_NOTFOUND, NULL, r);
		else if (rc != KT_OK)
			failed(r, rc);
	}
}

static void org_admin(struct kt_req *r)
{
	struct acct *a = r->h;
	int rc;

	if (org_param(r) == NULL) {
		kt_req_send_error_page(r, 400, "invalid_request", NULL);
		return;
	}
	rc = kt_account_person_orgs(kt_req_redis(r), person_id(a),
				    on_admin_orgs, r);
	if (rc != KT_OK)
		failed(r, rc);
}

void kt_h_account_org(struct kt_req *r)
{
	with_session(r, org_admin);
}

/* Invitations --------------------------------------------------------------- */

static void invite_error(struct kt_req *r, const char *key)
{
	struct evbuffer *b = evbuffer_new();
	const char *lang = kt_req_lang(r);

	if (b == NULL ||
	    kt_html_page_message(b, lang, kt_i18n(lang, "invite.title"),
				 kt_i18n(lang, key)) != KT_OK) {
		if (b)
			evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_req_send_html(r, 400, b, NULL);
}

static int token_hash_of(struct kt_req *r, char out[24])
{
	const char *t = kt_req_param(r, "token");

	if (t == NULL || *t == '\0' || strlen(t) > INVITE_MAX_TOKEN)
		return -1;
	kt_token_hash(out, t);
	return 0;
}

static void on_accepted(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK && rc != KT_ERR_DENIED) {
		failed(r, rc);
		return;
	}
	show_with(r, "invite.accepted_plain", 0);
}

static void on_invite_taken(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	char actor[128];

	if (rc == KT_ERR_NOTFOUND) {
		invite_error(r, "invite.invalid");
		return;
	}
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	/* The invitation names an address; the signed-in person must own it
	 * (a forwarded link does not make someone else a member). */
	if (strcasecmp(kt_str_or(jget(res, "email"), ""),
		       kt_str_or(jget(a->session, "email"), "-")) != 0) {
		invite_error(r, "invite.wrong_account");
		return;
	}
	snprintf(actor, sizeof(actor), "%s", a->actor);
	rc = kt_account_member_set(kt_req_redis(r), jget(res, "org"),
				   person_id(a), jget(res, "role"), actor,
				   on_accepted, r);
	if (rc != KT_OK)
		failed(r, rc);
}

static void accept_invite(struct kt_req *r)
{
	struct acct *a = r->h;
	int rc;

	if (token_hash_of(r, a->token_hash) != 0) {
		invite_error(r, "invite.invalid");
		return;
	}
	rc = kt_account_invite_take(kt_req_redis(r), a->token_hash,
				    on_invite_taken, r);
	if (rc == KT_ERR_INVALID)
		invite_error(r, "invite.invalid");
	else if (rc != KT_OK)
		failed(r, rc);
}

void kt_h_invite_accept(struct kt_req *r)
{
	with_session(r, accept_invite);
}

/* GET /invite?token=: what the invitation is, and how to take it. */
static void render_invite(struct kt_req *r)
{
	struct acct *a = r->h;
	const char *lang = kt_req_lang(r);
	const char *token = kt_req_param(r, "token");
	struct evbuffer *b = evbuffer_new();
	struct kt_html_doc d;
	char csrf[48], login_path[160];
	const char *kv_accept[] = {"csrf", csrf, "token", token};
	const char *kv_register[] = {"token", token};

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, "invite.title"));
	kt_html_doc_raw(&d, "<p>");
	kt_html_doc_tv(&d, "invite.intro", "{org}",
		       kt_str_or(jget(a->org, "legal_name"), ""));
	kt_html_doc_raw(&d, "</p>\n<p>");
	kt_html_doc_tv(&d, "invite.role", "{role}",
		       kt_i18n(lang, role_key(jget(a->invite, "role"))));
	kt_html_doc_raw(&d, "</p>\n");
	if (a->session != NULL) {
		kt_req_csrf(r, a->sid, "account", csrf);
		kt_html_doc_form(&d, "/invite", kv_accept, 2);
		kt_html_doc_button(&d, "action", "accept", 0, "invite.accept");
		kt_html_doc_raw(&d, "</form>\n");
	} else {
		snprintf(login_path, sizeof(login_path),
			 "/invite/login?token=%s", token);
		kt_html_doc_raw(&d, "<p><a href=\"");
		kt_html_doc_text(&d, login_path);
		kt_html_doc_raw(&d, "\">");
		kt_html_doc_t(&d, "invite.login");
		kt_html_doc_raw(&d, "</a></p>\n<h2>");
		kt_html_doc_t(&d, "invite.register.title");
		kt_html_doc_raw(&d, "</h2>\n");
		kt_html_doc_form(&d, "/invite/register", kv_register, 1);
		kt_html_doc_raw(&d, "<input type=\"hidden\" name=\"username\" "
				    "autocomplete=\"username\" value=\"");
		kt_html_doc_text(&d, jget(a->invite, "email"));
		kt_html_doc_raw(&d, "\">\n");
		kt_html_doc_input(&d, "text", "name", "invite.register.name",
				  "name", NULL, 1);
		kt_html_doc_input(&d, "password", "new",
				  "account.password.new", "new-password", NULL,
				  0);
		kt_html_doc_input(&d, "password", "repeat",
				  "account.password.repeat", "new-password",
				  NULL, 0);
		kt_html_doc_button(&d, "action", "register", 0,
				   "invite.register.submit");
		kt_html_doc_raw(&d, "</form>\n");
	}
	send_page(r, &d, b);
}

static void on_invite_org(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc != KT_OK && rc != KT_ERR_NOTFOUND) {
		failed(r, rc);
		return;
	}
	if (rc == KT_ERR_NOTFOUND || !kt_str_eq(jget(res, "status"), "active")) {
		invite_error(r, "invite.invalid");
		return;
	}
	a->org = json_incref(res);
	if (a->next != NULL) {
		a->next(r);
		return;
	}
	render_invite(r);
}

static void on_invite_peek(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	if (rc == KT_ERR_NOTFOUND) {
		invite_error(r, "invite.invalid");
		return;
	}
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	json_decref(a->invite);
	a->invite = json_incref(res);
	rc = kt_account_org_get(kt_req_redis(r), jget(res, "org"),
				on_invite_org, r);
	if (rc != KT_OK)
		failed(r, rc);
}

static void on_invite_session(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	const char *abs = jget(res, "abs_exp");

	if (rc == KT_OK && abs != NULL && strtoll(abs, NULL, 10) > kt_now())
		a->session = json_incref(res);
	rc = kt_store_doc_get(kt_req_redis(r), "invite", a->token_hash, 0,
			      on_invite_peek, r);
	if (rc != KT_OK)
		failed(r, rc);
}

/* Shared start of GET /invite and POST /invite/register. */
static void invite_start(struct kt_req *r, acct_step *next)
{
	struct acct *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	r->h = a;
	r->h_free = acct_free;
	a->next = next;
	if (token_hash_of(r, a->token_hash) != 0) {
		invite_error(r, "invite.invalid");
		return;
	}
	if (kt_req_session_sid(r, a->sid) != KT_OK) {
		on_invite_session(KT_ERR_NOTFOUND, NULL, r);
		return;
	}
	if (kt_store_session_get(kt_req_redis(r), a->sid, on_invite_session,
				 r) != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_invite(struct kt_req *r)
{
	if (r->method == KT_ROUTE_POST) {
		kt_h_invite_accept(r);
		return;
	}
	invite_start(r, NULL);
}

/* GET /invite/login?token=: sign in, then back to the invitation. */
void kt_h_invite_login(struct kt_req *r)
{
	const char *t = kt_req_param(r, "token");
	char path[160];

	if (t == NULL || strlen(t) > INVITE_MAX_TOKEN ||
	    strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789-_") != strlen(t)) {
		invite_error(r, "invite.invalid");
		return;
	}
	snprintf(path, sizeof(path), "/invite?token=%s", t);
	kt_authz_login_then(r, path);
}

/* Registration through an invitation: the address is proven by the mail. */
static void reg_member_done(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	kt_authz_login_hint_then(r, jget(a->invite, "email"), "/account");
}

static void on_reg_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	char actor[128];

	if (rc == KT_ERR_CONFLICT) {
		/* The invitation stays usable: sign in and accept it. */
		invite_error(r, "invite.exists");
		return;
	}
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	snprintf(actor, sizeof(actor), "invite:%s",
		 kt_str_or(jget(a->invite, "by"), "?"));
	rc = kt_store_doc_delete(kt_req_redis(r), "invite", a->token_hash);
	(void)rc;
	rc = kt_account_member_set(kt_req_redis(r), jget(a->invite, "org"),
				   jget(res, "id"), jget(a->invite, "role"),
				   actor, reg_member_done, r);
	if (rc != KT_OK)
		failed(r, rc);
}

static void reg_hash_work(void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	struct kt_password_params params;
	struct kt_error err;

	kt_config_password_params(kt_req_cfg(r), &params);
	a->pw_rc = kt_password_hash(a->pw_new, &params, &a->pw_hash_new, &err);
}

static void reg_hash_done(void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	json_t *p;
	int rc;

	if (a->pw_rc != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	p = json_pack("{s:s,s:s,s:s,s:s}", "email", jget(a->invite, "email"),
		      "name", kt_str_or(kt_req_param(r, "name"), ""), "pwhash",
		      a->pw_hash_new, "email_verified", "1");
	if (p == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	rc = kt_store_person_create(kt_req_redis(r), p, on_reg_person, r);
	json_decref(p);
	if (rc != KT_OK)
		failed(r, rc);
}

static void register_person(struct kt_req *r)
{
	struct acct *a = r->h;
	const char *nw = kt_req_param(r, "new");
	const char *rep = kt_req_param(r, "repeat");
	const char *name = kt_req_param(r, "name");
	const char *why;

	if (nw == NULL || !kt_str_eq(nw, rep)) {
		invite_error(r, "account.password.mismatch");
		return;
	}
	if (kt_password_policy_check(nw, &why) != KT_OK) {
		invite_error(r, "account.password.weak");
		return;
	}
	if (name != NULL && strlen(name) > 200) {
		invite_error(r, "account.error.form");
		return;
	}
	if ((a->pw_new = kt_strdup(nw)) == NULL ||
	    kt_pool_submit(r->loop->gw->pool, r->loop->base, reg_hash_work,
			   reg_hash_done, r) != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_invite_register(struct kt_req *r)
{
	if (r->form != NULL && kt_params_duplicate(r->form) != NULL) {
		invite_error(r, "account.error.form");
		return;
	}
	invite_start(r, register_person);
}

/* Second factor ------------------------------------------------------------ */

static void totp_section(struct kt_req *r, struct kt_html_doc *d,
			 json_t *person, const char *csrf)
{
	const char *kv[] = {"csrf", csrf};

	(void)r;
	kt_html_doc_raw(d, "<h2>");
	kt_html_doc_t(d, "mfa.title");
	kt_html_doc_raw(d, "</h2>\n<p>");
	if (!kt_mfa_enabled(person)) {
		kt_html_doc_t(d, "mfa.off");
		kt_html_doc_raw(d, "</p>\n<p><a href=\"/account/totp\">");
		kt_html_doc_t(d, "mfa.enrol");
		kt_html_doc_raw(d, "</a></p>\n");
		return;
	}
	kt_html_doc_t(d, "mfa.on");
	kt_html_doc_raw(d, "</p>\n");
	kt_html_doc_form(d, "/account/totp/remove", kv, 1);
	kt_html_doc_input(d, "text", "code", "mfa.code_or_recovery",
			  "one-time-code", NULL, 0);
	kt_html_doc_button(d, "action", "remove", 1, "mfa.remove");
	kt_html_doc_raw(d, "</form>\n");
}

/* GET /account/totp: a fresh secret, pending until a code proves it. */
static void render_enrol(struct kt_req *r, const uint8_t *secret, size_t len)
{
	struct acct *a = r->h;
	const char *lang = kt_req_lang(r);
	struct evbuffer *b = evbuffer_new();
	struct kt_html_doc d;
	char csrf[48], display[128];
	const char *kv[] = {"csrf", csrf};
	char *uri = NULL;
	struct kt_error err;

	if (b == NULL ||
	    kt_totp_uri("kontor", kt_str_or(jget(a->session, "email"), "-"),
			secret, len, &uri, &err) != KT_OK) {
		if (b)
			evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_totp_secret_display(display, secret, len);
	kt_req_csrf(r, a->sid, "account", csrf);
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, "mfa.enrol.title"));
	if (a->notice != NULL)
		kt_html_doc_notice(&d, a->notice_error, a->notice);
	kt_html_doc_raw(&d, "<p>");
	kt_html_doc_t(&d, "mfa.enrol.scan");
	kt_html_doc_raw(&d, "</p>\n");
	if (kt_qr_svg_labelled(b, uri, 4,
			       kt_i18n(lang, "mfa.enrol.qr_label")) != KT_OK)
		d.failed = 1;
	kt_html_doc_raw(&d, "<p>");
	kt_html_doc_t(&d, "mfa.enrol.manual");
	kt_html_doc_raw(&d, "</p>\n<p><code>");
	kt_html_doc_text(&d, display);
	kt_html_doc_raw(&d, "</code></p>\n");
	kt_html_doc_form(&d, "/account/totp", kv, 1);
	kt_html_doc_input(&d, "text", "code", "mfa.code", "one-time-code",
			  NULL, 1);
	kt_html_doc_button(&d, "action", "enrol", 0, "mfa.enrol.submit");
	kt_html_doc_raw(&d, "</form>\n<p><a href=\"/account\">");
	kt_html_doc_t(&d, "account.back");
	kt_html_doc_raw(&d, "</a></p>\n");
	kt_free_secret(uri);
	OPENSSL_cleanse(display, sizeof(display));
	send_page(r, &d, b);
}

static void on_pending_saved(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	render_enrol(r, a->totp_secret, sizeof(a->totp_secret));
}

static void start_enrol(struct kt_req *r)
{
	struct acct *a = r->h;
	uint8_t key[32];
	char *sealed = NULL;
	json_t *f;

	if (kt_totp_secret_new(a->totp_secret) != KT_OK ||
	    kt_mfa_key(r, KT_TOTP_SEAL_LABEL, key) != KT_OK ||
	    kt_totp_seal(key, person_id(a), a->totp_secret,
			 sizeof(a->totp_secret), &sealed) != KT_OK) {
		OPENSSL_cleanse(key, sizeof(key));
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	OPENSSL_cleanse(key, sizeof(key));
	f = json_pack("{s:s}", "totp_pending", sealed);
	free(sealed);
	update_self(r, f, "person.totp.pending", on_pending_saved);
}

static void render_recovery(struct kt_req *r, struct kt_recovery_code *codes,
			    size_t n)
{
	const char *lang = kt_req_lang(r);
	struct evbuffer *b = evbuffer_new();
	struct kt_html_doc d;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_html_doc_begin(&d, b, lang, kt_i18n(lang, "mfa.recovery.title"));
	kt_html_doc_notice(&d, 0, "mfa.enrolled");
	kt_html_doc_raw(&d, "<p>");
	kt_html_doc_t(&d, "mfa.recovery.intro");
	kt_html_doc_raw(&d, "</p>\n<ul>\n");
	for (size_t i = 0; i < n; i++) {
		kt_html_doc_raw(&d, "<li><code>");
		kt_html_doc_text(&d, codes[i].code);
		kt_html_doc_raw(&d, "</code></li>\n");
	}
	kt_html_doc_raw(&d, "</ul>\n<p><a href=\"/account\">");
	kt_html_doc_t(&d, "account.back");
	kt_html_doc_raw(&d, "</a></p>\n");
	send_page(r, &d, b);
}

static void on_enrolled(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	render_recovery(r, a->codes, KT_RECOVERY_COUNT_DEFAULT);
}

static void on_enrol_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct acct *a = r->h;
	const char *pending = jget(res, "totp_pending");
	const char *code = kt_req_param(r, "code");
	uint8_t key[32], secret[KT_TOTP_SECRET_MAX];
	char list[KT_RECOVERY_COUNT_DEFAULT * (KT_RECOVERY_HASH_LEN + 1) + 1];
	char step[24];
	size_t len = 0, off = 0;
	int64_t matched;
	struct kt_error err;
	json_t *f;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	a->person = json_incref(res);
	if (pending == NULL) {
		kt_req_send_redirect(r, 303, "/account/totp");
		return;
	}
	if (kt_mfa_key(r, KT_TOTP_SEAL_LABEL, key) != KT_OK ||
	    kt_totp_open(key, person_id(a), pending, secret, sizeof(secret),
			 &len, &err) != KT_OK) {
		OPENSSL_cleanse(key, sizeof(key));
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	rc = kt_totp_verify(secret, len, code, kt_now(), KT_TOTP_WINDOW_DEFAULT,
			    -1, &matched);
	if (rc != KT_OK) {
		/* Show the same secret again: the app already has it. */
		a->notice = "mfa.code_wrong";
		a->notice_error = 1;
		OPENSSL_cleanse(key, sizeof(key));
		render_enrol(r, secret, len);
		OPENSSL_cleanse(secret, sizeof(secret));
		return;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	{
		uint8_t rkey[32];
		rc = kt_mfa_key(r, KT_TOTP_RECOVERY_LABEL, rkey);
		if (rc == KT_OK)
			rc = kt_recovery_generate(rkey, 32, person_id(a),
						  a->codes,
						  KT_RECOVERY_COUNT_DEFAULT);
		OPENSSL_cleanse(rkey, sizeof(rkey));
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != KT_OK) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	for (size_t i = 0; i < KT_RECOVERY_COUNT_DEFAULT; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					i ? "," : "", a->codes[i].hash);
	snprintf(step, sizeof(step), "%lld", (long long)matched);
	f = json_pack("{s:s,s:s,s:s,s:s}", "totp", pending, "totp_pending", "",
		      "totp_step", step, "recovery", list);
	update_self(r, f, "person.totp.enable", on_enrolled);
}

static void finish_enrol(struct kt_req *r)
{
	load_self(r, on_enrol_person);
}

void kt_h_account_totp(struct kt_req *r)
{
	with_session(r, r->method == KT_ROUTE_POST ? finish_enrol
						   : start_enrol);
}

static void on_totp_removed(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;

	(void)res;
	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	show_with(r, "mfa.removed", 0);
}

static void on_remove_person(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	json_t *update = NULL, *f;

	if (rc != KT_OK) {
		failed(r, rc);
		return;
	}
	/* Removing the factor needs the factor (or a recovery code). */
	if (kt_mfa_check(r, res, kt_req_param(r, "code"), &update) != KT_OK) {
		show_with(r, "mfa.code_wrong", 1);
		return;
	}
	json_decref(update);
	f = json_pack("{s:s,s:s,s:s,s:s}", "totp", "", "totp_pending", "",
		      "totp_step", "", "recovery", "");
	update_self(r, f, "person.totp.disable", on_totp_removed);
}

static void remove_totp(struct kt_req *r)
{
	load_self(r, on_remove_person);
}

void kt_h_account_totp_remove(struct kt_req *r)
{
	with_session(r, remove_totp);
}
