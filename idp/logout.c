/*
 * RP-Initiated Logout 1.0 (end_session_endpoint).
 *
 * - post_logout_redirect_uri must be registered exactly for the client named
 *   by client_id or by the id_token_hint's audience; otherwise an error page,
 *   never a redirect (no open redirector).
 * - An invalid id_token_hint is an error page. An expired one is fine: it
 *   still proves which client and session it was issued for.
 * - Without a hint that matches the current session, the user confirms on a
 *   page first, so a third-party page cannot log people out at will. The
 *   confirmation carries a CSRF token derived from the session id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "kontor/html.h"
#include "kontor/i18n.h"
#include "kontor/http.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "clients.h"
#include "federation.h"
#include "handlers.h"
#include "tokens.h"
#include "kontor/bclogout.h"

struct logout {
	json_t *hint; /* verified id_token_hint claims */
	const struct kt_client *client;
	char sid[24];
	json_t *session;
	json_t *rps; /* client ids the session logged into */
	size_t next_rp;
};

static void logout_free(void *p)
{
	struct logout *l = p;

	if (l == NULL)
		return;
	json_decref(l->hint);
	json_decref(l->session);
	json_decref(l->rps);
	free(l);
}

static const char *pget(struct kt_req *r, const char *k)
{
	return kt_req_param(r, k);
}

/* After logging out (or when there was nothing to log out). */
/* Where the browser goes after the logout: the client's registered
 * post_logout_redirect_uri (with state), else our logged-out page.
 * Caller frees. */
static char *after_url(struct kt_req *r)
{
	struct logout *l = r->h;
	const char *uri = pget(r, "post_logout_redirect_uri");

	if (uri != NULL && l->client != NULL) {
		const char *kv[] = {"state", pget(r, "state")};
		return kt_http_url_add_params(uri, kv, 1);
	}
	return strdup("/logout/done");
}

static void finish(struct kt_req *r)
{
	char *url = after_url(r);

	if (url == NULL) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_req_send_redirect(r, 303, url);
	free(url);
}

void kt_h_logout_done(struct kt_req *r)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL || kt_html_page_logged_out(b, kt_req_lang(r)) != KT_OK) {
		if (b)
			evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_req_send_html(r, 200, b, NULL);
}

/* After the portals were told: the state provider, if the session came
 * from there, then wherever the logout was going. */
static void after_backchannel(struct kt_req *r)
{
	struct logout *l = r->h;
	const char *land = json_string_value(json_object_get(l->session,
							     "upstream"));
	char *url;

	if (land == NULL || *land == '\0') {
		finish(r);
		return;
	}
	if ((url = after_url(r)) == NULL) {
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	kt_fed_logout_upstream(
	    r, land,
	    json_string_value(json_object_get(l->session, "upstream_idt")), url);
	free(url);
}

static void next_backchannel(struct kt_req *r);

static void on_rp_client(struct kt_req *r, const struct kt_client *c, int rc,
			 void *arg)
{
	struct logout *l = r->h;
	char sub[KT_PAIRWISE_LEN + 1];
	const char *person = json_string_value(json_object_get(l->session,
							       "person"));

	(void)arg;
	if (rc == KT_OK && c->backchannel_logout_uri != NULL && person &&
	    kt_tok_sub(r, c, person, sub) == KT_OK)
		kt_bclogout_send(r->loop->bclogout, c, kt_req_cfg(r)->issuer,
				 r->rt->keys, sub, l->sid);
	next_backchannel(r);
}

/* OIDC Back-Channel Logout: each portal the session logged into gets a
 * logout token, delivered off this request with retries. */
static void next_backchannel(struct kt_req *r)
{
	struct logout *l = r->h;
	const char *cid;

	if (l->next_rp >= json_array_size(l->rps)) {
		after_backchannel(r);
		return;
	}
	cid = json_string_value(json_array_get(l->rps, l->next_rp++));
	if (kt_client_find(r, cid, on_rp_client, NULL) != KT_OK)
		next_backchannel(r);
}

static void on_session_deleted(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct kt_cookie_opts o = KT_COOKIE_OPTS_DEFAULT;

	(void)res;
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_log_info("logout");
	if (r->ev && !r->gone) {
		o.secure = kt_req_secure(r);
		kt_http_clear_cookie(r->ev, kt_req_cfg(r)->session_cookie_name,
				     &o);
	}
	{
		struct logout *l = r->h;
		const char *k;
		json_t *v;
		if ((l->rps = json_array()) == NULL) {
			finish(r);
			return;
		}
		json_object_foreach(l->session, k, v) if (strncmp(k, "rp:", 3) ==
							  0)
		    json_array_append_new(l->rps, json_string(k + 3));
	}
	next_backchannel(r);
}

static void do_logout(struct kt_req *r)
{
	struct logout *l = r->h;

	if (kt_store_session_delete(kt_req_redis(r), l->sid,
				    on_session_deleted, r) != KT_OK)
		kt_req_send_unavailable(r);
}

static void confirm(struct kt_req *r)
{
	struct logout *l = r->h;
	char csrf[48];
	const char *hidden[] = {"csrf",
				csrf,
				"client_id",
				l->client ? l->client->client_id : NULL,
				"post_logout_redirect_uri",
				pget(r, "post_logout_redirect_uri"),
				"state",
				pget(r, "state"),
				"ui_locales",
				pget(r, "ui_locales")};
	struct kt_html_logout v = {0};
	struct evbuffer *b = evbuffer_new();
	char *csp;

	if (b == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	kt_req_csrf(r, l->sid, "logout", csrf);
	v.lang = kt_req_lang(r);
	v.action = "/logout";
	v.hidden = hidden;
	v.nhidden = 5;
	v.client_name = l->client ? (l->client->client_name
					 ? l->client->client_name
					 : l->client->client_id)
				  : NULL;
	if (kt_html_page_logout_confirm(b, &v) != KT_OK) {
		evbuffer_free(b);
		kt_req_send_error_page(r, 500, "server_error", NULL);
		return;
	}
	csp = pget(r, "post_logout_redirect_uri")
		  ? kt_html_csp_form_action(pget(r, "post_logout_redirect_uri"))
		  : NULL;
	kt_req_send_html(r, 200, b, csp);
	free(csp);
}

static void on_session(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct logout *l = r->h;
	const char *decision = pget(r, KT_HTML_FIELD_DECISION);
	const char *hint_sid;

	if (rc == KT_ERR_NOTFOUND) {
		finish(r); /* nobody logged in here: nothing to end */
		return;
	}
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	l->session = json_incref(res);
	if (r->method == KT_ROUTE_POST && decision != NULL) {
		if (!kt_req_csrf_ok(r, l->sid, "logout", pget(r, "csrf"))) {
			kt_req_send_error_page(r, 403, "session_expired",
					       NULL);
			return;
		}
		if (strcmp(decision, KT_HTML_DECISION_LOGOUT) == 0) {
			do_logout(r);
			return;
		}
		{
			struct evbuffer *b = evbuffer_new();
			if (b == NULL ||
			    kt_html_page_message(
				b, kt_req_lang(r),
				kt_i18n(kt_req_lang(r), "logout.cancelled.title"),
				kt_i18n(kt_req_lang(r), "logout.cancelled.text")) !=
				KT_OK) {
				if (b)
					evbuffer_free(b);
				kt_req_send_error_page(r, 500, "server_error",
						       NULL);
				return;
			}
			kt_req_send_html(r, 200, b, NULL);
		}
		return;
	}
	/* A hint for this very session is consent enough. */
	hint_sid = json_string_value(json_object_get(l->hint, "sid"));
	if (hint_sid != NULL && strcmp(hint_sid, l->sid) == 0) {
		do_logout(r);
		return;
	}
	confirm(r);
}

static void check_session(struct kt_req *r)
{
	struct logout *l = r->h;

	if (kt_req_session_sid(r, l->sid) != KT_OK) {
		finish(r);
		return;
	}
	if (kt_store_session_get(kt_req_redis(r), l->sid, on_session, r) !=
	    KT_OK)
		kt_req_send_unavailable(r);
}

static void on_client(struct kt_req *r, const struct kt_client *c, int rc,
		      void *arg)
{
	struct logout *l = r->h;
	const char *uri = pget(r, "post_logout_redirect_uri");

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
	l->client = c;
	if (uri != NULL && !kt_client_post_logout_uri_ok(c, uri)) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "post_logout_redirect_uri is not "
				       "registered for this client");
		return;
	}
	check_session(r);
}

void kt_h_logout(struct kt_req *r)
{
	struct logout *l = calloc(1, sizeof(*l));
	const struct kt_params *p = kt_req_params(r);
	const char *hint = pget(r, "id_token_hint");
	const char *client_id = pget(r, "client_id");
	int rc;

	if (l == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	r->h = l;
	r->h_free = logout_free;
	if (p != NULL && kt_params_duplicate(p) != NULL) {
		kt_req_send_error_page(r, 400, "invalid_request",
				       "a parameter is repeated");
		return;
	}
	if (hint != NULL) {
		json_t *hdr = NULL;
		struct kt_error err;
		const char *iss, *aud;

		if (kt_keyset_verify(r->rt->keys, hint, &hdr, &l->hint,
				     &err) != KT_OK) {
			kt_log_info("logout: bad id_token_hint: %s", err.msg);
			kt_req_send_error_page(r, 400, "invalid_request",
					       "the id_token_hint is not valid");
			return;
		}
		json_decref(hdr);
		iss = json_string_value(json_object_get(l->hint, "iss"));
		aud = json_string_value(json_object_get(l->hint, "aud"));
		if (iss == NULL || strcmp(iss, kt_req_cfg(r)->issuer) != 0 ||
		    aud == NULL) {
			kt_req_send_error_page(r, 400, "invalid_request",
					       "the id_token_hint is not valid");
			return;
		}
		if (client_id != NULL && strcmp(client_id, aud) != 0) {
			kt_req_send_error_page(r, 400, "invalid_request",
					       "client_id does not match the "
					       "id_token_hint");
			return;
		}
		client_id = aud;
	}
	if (client_id == NULL) {
		if (pget(r, "post_logout_redirect_uri") != NULL) {
			kt_req_send_error_page(
			    r, 400, "invalid_request",
			    "post_logout_redirect_uri requires client_id or "
			    "id_token_hint");
			return;
		}
		check_session(r);
		return;
	}
	rc = kt_client_find(r, client_id, on_client, NULL);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}
