/*
 * kontor-demo-portal: a small relying party that logs people in with kontor.
 *
 * The OpenID Connect work is done by liboauth2's client handler
 * (oauth2_openidc_handle, the core of mod_auth_openidc); this file is only
 * the server binding around it, in the shape of liboauth2's Apache and
 * NGINX bindings: turn an evhttp request into an oauth2_http_request_t,
 * call the handler, turn the oauth2_http_response_t into the reply.
 *
 * liboauth2's outbound HTTP (discovery, token, userinfo, JWKS) is
 * blocking curl. That is acceptable here and only here: the portal is a
 * separate single-user demo process, so a login that waits on the gateway
 * for a few milliseconds stalls nobody else. The gateway itself never
 * calls these functions on its event loop.
 *
 * liboauth2 1.4.5.4 sends a nonce, PKCE (S256) and verifies the ID token's
 * signature against the JWKS, but it does not store the nonce and does not
 * check the ID token's iss, aud or azp, nor that the UserInfo sub matches.
 * The portal does those checks itself right after the code exchange
 * (verify_login), so a wrong token never becomes a session.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include <oauth2/cfg.h>
#include <oauth2/http.h>
#include <oauth2/log.h>
#include <oauth2/mem.h>
#include <oauth2/openidc.h>
#include <oauth2/session.h>
#include <oauth2/util.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/http.h"
#include "kontor/log.h"
#include "kontor/oauth2log.h"
#include "kontor/util.h"
#include "kontor/version.h"

#define PORTAL_DEFAULT_PORT 8081
#define PORTAL_DEFAULT_ISSUER "http://127.0.0.1:8080"
#define PORTAL_DEFAULT_CLIENT_ID "demo-portal"
#define PORTAL_DEFAULT_SCOPE "openid profile email"
#define PORTAL_PROTECTED_PREFIX "/protected/"
#define PORTAL_REDIRECT_PATH "/protected/redirect_uri"
/* liboauth2 keeps sessions in a global list of named session configs. */
#define PORTAL_SESSION_CFG "kontor-demo"
#define PORTAL_SESSION_COOKIE "kontor_demo_session"
#define PORTAL_NONCE_COOKIE "kontor_demo_nonce_"
#define PORTAL_STATE_MAX 64
#define PORTAL_NONCE_MAX 128
#define PORTAL_HTTP_TIMEOUT_S 10
/* liboauth2 rejects a state older than 300 s; the nonce lives as long. */
#define PORTAL_NONCE_TTL_S 300
#define PORTAL_CLOCK_SKEW_S 60

static const char portal_style[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;"
    "color:#1d2430}"
    "main{max-width:52rem;margin:3rem auto;background:#fff;padding:2rem;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.1)}"
    "h1{margin-top:0;font-size:1.6rem}h2{font-size:1.15rem;margin-top:2rem}"
    "a.button{display:inline-block;background:#0b5cad;color:#fff;"
    "padding:.7rem 1.4rem;border-radius:6px;text-decoration:none}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid "
    "#e1e4e8;vertical-align:top;word-break:break-all}"
    "th{width:12rem;font-weight:600}code{font-size:.9em}"
    ".muted{color:#5b6470;font-size:.9rem}";

struct portal {
	/* options */
	int port;
	const char *issuer;
	const char *client_id;
	char *client_secret; /* wiped at exit */
	const char *scope;
	const char *redirect_uri;
	/* derived from redirect_uri: where the portal is reached */
	char scheme[8];
	char authority[300]; /* host[:port] as browsers send it in Host */
	char base[320];	     /* scheme://authority */
	char host[256];
	int uri_port;
	char *redirect_path;
	char *post_logout_uri;
	/* from the discovery document */
	char *authorization_endpoint;
	char *end_session_endpoint;
	/* liboauth2 */
	oauth2_log_t *log;
	oauth2_cfg_openidc_t *oidc;
	/* libevent */
	struct event_base *base_ev;
	struct evhttp *http;
	char csp[96]; /* style-src with the hash of portal_style */
};

/* ---- strings in two languages ------------------------------------------ */

enum msg {
	M_TITLE,
	M_INTRO,
	M_LOGIN,
	M_WELCOME,
	M_SIGNED_IN,
	M_IDTOKEN,
	M_USERINFO,
	M_CLAIM,
	M_VALUE,
	M_LOGOUT,
	M_HOME,
	M_AGAIN,
	M_FAILED,
	M_FAILED_TEXT,
	M_REJECTED,
	M_DENIED,
	M_NONE,
	M__COUNT
};

static const char *const msgs_de[M__COUNT] = {
    [M_TITLE] = "kontor Demo-Portal",
    [M_INTRO] = "Dieses Portal ist eine Beispielanwendung, die sich mit "
		"OpenID Connect bei kontor anmeldet.",
    [M_LOGIN] = "Mit kontor anmelden",
    [M_WELCOME] = "Willkommen",
    [M_SIGNED_IN] = "Sie sind angemeldet. Diese Angaben hat das Portal "
		    "von kontor erhalten:",
    [M_IDTOKEN] = "Claims im ID-Token",
    [M_USERINFO] = "Claims vom UserInfo-Endpunkt",
    [M_CLAIM] = "Claim",
    [M_VALUE] = "Wert",
    [M_LOGOUT] = "Abmelden",
    [M_HOME] = "Zur Startseite",
    [M_AGAIN] = "Erneut anmelden",
    [M_FAILED] = "Anmeldung fehlgeschlagen",
    [M_FAILED_TEXT] = "Die Anmeldung konnte nicht abgeschlossen werden. "
		      "Bitte versuchen Sie es erneut.",
    [M_REJECTED] = "Die Antwort von kontor wurde abgelehnt",
    [M_DENIED] = "kontor hat die Anmeldung nicht erlaubt",
    [M_NONE] = "(keine)",
};

static const char *const msgs_en[M__COUNT] = {
    [M_TITLE] = "kontor demo portal",
    [M_INTRO] = "This portal is a sample application that signs people in "
		"with kontor using OpenID Connect.",
    [M_LOGIN] = "Log in with kontor",
    [M_WELCOME] = "Welcome",
    [M_SIGNED_IN] = "You are signed in. The portal received these claims "
		    "from kontor:",
    [M_IDTOKEN] = "ID token claims",
    [M_USERINFO] = "UserInfo claims",
    [M_CLAIM] = "Claim",
    [M_VALUE] = "Value",
    [M_LOGOUT] = "Log out",
    [M_HOME] = "Home",
    [M_AGAIN] = "Log in again",
    [M_FAILED] = "Login failed",
    [M_FAILED_TEXT] = "The login could not be completed. Please try again.",
    [M_REJECTED] = "The response from kontor was rejected",
    [M_DENIED] = "kontor did not allow the login",
    [M_NONE] = "(none)",
};

static const char *tr(const char *lang, enum msg m)
{
	return (strcmp(lang, "de") == 0 ? msgs_de : msgs_en)[m];
}

static const char *req_lang(struct evhttp_request *req)
{
	return kt_http_lang_pick(
	    NULL,
	    evhttp_find_header(evhttp_request_get_input_headers(req),
			       "Accept-Language"),
	    "de");
}

/* ---- pages ------------------------------------------------------------- */

/* Output errors are sticky, checked once when the page is sent. */
struct page {
	struct evbuffer *b;
	int failed;
};

static void put(struct page *pg, const char *s)
{
	if (!pg->failed && evbuffer_add(pg->b, s, strlen(s)) != 0)
		pg->failed = 1;
}

static void esc(struct page *pg, const char *s)
{
	if (!pg->failed && kt_html_escape(pg->b, s) != KT_OK)
		pg->failed = 1;
}

static void page_begin(struct page *pg, const char *lang, const char *title)
{
	put(pg, "<!DOCTYPE html>\n<html lang=\"");
	put(pg, lang);
	put(pg, "\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, "
		"initial-scale=1\">\n<title>");
	esc(pg, title);
	put(pg, "</title>\n<style>");
	put(pg, portal_style);
	put(pg, "</style>\n</head>\n<body>\n<main>\n<h1>");
	esc(pg, title);
	put(pg, "</h1>\n");
}

static void page_end(struct page *pg)
{
	put(pg, "</main>\n</body>\n</html>\n");
}

static void send_page(struct portal *p, struct evhttp_request *req, int status,
		      struct page *pg)
{
	if (pg->failed) {
		evbuffer_drain(pg->b, evbuffer_get_length(pg->b));
		kt_http_send_html(req, 500, NULL, NULL);
	} else {
		kt_http_send_html(req, status, pg->b, p->csp);
	}
	evbuffer_free(pg->b);
}

/* A message page with a link; title and text are escaped. */
static void send_message(struct portal *p, struct evhttp_request *req,
			 int status, const char *title, const char *text,
			 const char *detail, const char *link,
			 const char *link_text)
{
	const char *lang = req_lang(req);
	struct page pg = {evbuffer_new(), 0};

	if (pg.b == NULL) {
		kt_http_send_html(req, 500, NULL, NULL);
		return;
	}
	page_begin(&pg, lang, title);
	put(&pg, "<p>");
	esc(&pg, text);
	put(&pg, "</p>\n");
	if (detail != NULL) {
		put(&pg, "<p class=\"muted\"><code>");
		esc(&pg, detail);
		put(&pg, "</code></p>\n");
	}
	put(&pg, "<p><a class=\"button\" href=\"");
	esc(&pg, link);
	put(&pg, "\">");
	esc(&pg, link_text);
	put(&pg, "</a></p>\n");
	page_end(&pg);
	send_page(p, req, status, &pg);
}

static void handle_landing(struct portal *p, struct evhttp_request *req)
{
	const char *lang = req_lang(req);
	struct page pg = {evbuffer_new(), 0};

	if (pg.b == NULL) {
		kt_http_send_html(req, 500, NULL, NULL);
		return;
	}
	page_begin(&pg, lang, tr(lang, M_TITLE));
	put(&pg, "<p>");
	esc(&pg, tr(lang, M_INTRO));
	put(&pg, "</p>\n<p><a class=\"button\" id=\"login\" "
		 "href=\"" PORTAL_PROTECTED_PREFIX "\">");
	esc(&pg, tr(lang, M_LOGIN));
	put(&pg, "</a></p>\n<p class=\"muted\">Issuer: <code>");
	esc(&pg, p->issuer);
	put(&pg, "</code></p>\n");
	page_end(&pg);
	send_page(p, req, 200, &pg);
}

/* One claim value as text: strings as they are, everything else as JSON. */
static void put_claim_value(struct page *pg, const char *key, json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		esc(pg, json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL) {
		pg->failed = 1;
		return;
	}
	esc(pg, s);
	free(s);
	if (json_is_integer(v) &&
	    (strcmp(key, "exp") == 0 || strcmp(key, "iat") == 0 ||
	     strcmp(key, "auth_time") == 0 || strcmp(key, "updated_at") == 0)) {
		time_t t = (time_t)json_integer_value(v);
		struct tm tm;
		char when[40];
		if (gmtime_r(&t, &tm) != NULL &&
		    strftime(when, sizeof(when), " (%Y-%m-%d %H:%M:%S UTC)",
			     &tm) > 0)
			esc(pg, when);
	}
}

static void put_claims_table(struct page *pg, const char *lang, const char *id,
			     const char *heading, json_t *claims)
{
	const char *key;
	json_t *v;

	put(pg, "<h2>");
	esc(pg, heading);
	put(pg, "</h2>\n");
	if (!json_is_object(claims) || json_object_size(claims) == 0) {
		put(pg, "<p class=\"muted\">");
		esc(pg, tr(lang, M_NONE));
		put(pg, "</p>\n");
		return;
	}
	put(pg, "<table id=\"");
	put(pg, id);
	put(pg, "\">\n<tr><th>");
	esc(pg, tr(lang, M_CLAIM));
	put(pg, "</th><th>");
	esc(pg, tr(lang, M_VALUE));
	put(pg, "</th></tr>\n");
	json_object_foreach(claims, key, v)
	{
		put(pg, "<tr><th>");
		esc(pg, key);
		put(pg, "</th><td>");
		put_claim_value(pg, key, v);
		put(pg, "</td></tr>\n");
	}
	put(pg, "</table>\n");
}

static void send_claims_page(struct portal *p, struct evhttp_request *req,
			     json_t *id_claims, json_t *ui_claims)
{
	const char *lang = req_lang(req);
	struct page pg = {evbuffer_new(), 0};
	const char *name = NULL;

	if (pg.b == NULL) {
		kt_http_send_html(req, 500, NULL, NULL);
		return;
	}
	name = json_string_value(json_object_get(ui_claims, "name"));
	if (name == NULL || *name == '\0')
		name = json_string_value(json_object_get(id_claims, "name"));
	if (name == NULL || *name == '\0')
		name = json_string_value(json_object_get(id_claims, "email"));
	page_begin(&pg, lang, tr(lang, M_TITLE));
	put(&pg, "<p><strong>");
	esc(&pg, tr(lang, M_WELCOME));
	if (name != NULL && *name != '\0') {
		put(&pg, ", <span id=\"name\">");
		esc(&pg, name);
		put(&pg, "</span>");
	}
	put(&pg, "</strong></p>\n<p>");
	esc(&pg, tr(lang, M_SIGNED_IN));
	put(&pg, "</p>\n");
	put_claims_table(&pg, lang, "id_token", tr(lang, M_IDTOKEN), id_claims);
	put_claims_table(&pg, lang, "userinfo", tr(lang, M_USERINFO),
			 ui_claims);
	put(&pg, "<p><a class=\"button\" id=\"logout\" href=\"/logout\">");
	esc(&pg, tr(lang, M_LOGOUT));
	put(&pg, "</a></p>\n");
	page_end(&pg);
	send_page(p, req, 200, &pg);
}

/* ---- small helpers ----------------------------------------------------- */

/* liboauth2's state and our cookie names: base64url characters only. */
static int token_ok(const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= max ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return n > 0;
}

static struct kt_cookie_opts cookie_opts(const struct portal *p, int64_t age)
{
	struct kt_cookie_opts o = KT_COOKIE_OPTS_DEFAULT;

	o.secure = strcmp(p->scheme, "https") == 0;
	o.max_age = age;
	return o;
}

/* Value of query parameter name (decoded), copied to out; 0 if absent. */
static int query_param(const char *query, const char *name, char *out,
		       size_t cap)
{
	struct evkeyvalq q;
	const char *v;
	int found = 0;

	out[0] = '\0';
	if (query == NULL || evhttp_parse_query_str(query, &q) != 0)
		return 0;
	v = evhttp_find_header(&q, name);
	if (v != NULL && strlen(v) < cap) {
		memcpy(out, v, strlen(v) + 1);
		found = 1;
	}
	evhttp_clear_headers(&q);
	return found;
}

/* ---- liboauth2 binding ------------------------------------------------- */

/*
 * The oauth2 request for liboauth2. Scheme, host and port come from the
 * configured redirect URI, never from the request: liboauth2 builds the
 * post-login target from them, and it would otherwise believe Host and
 * X-Forwarded-* headers that any client can send (an open redirect).
 * Only the headers the handler needs are passed on.
 */
static oauth2_http_request_t *oreq_new(struct portal *p,
				       struct evhttp_request *req,
				       const char *path, const char *query,
				       const char *cookie)
{
	oauth2_http_request_t *r = NULL;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	static const char *const pass[] = {"Accept", "X-Requested-With"};
	bool ok;

	if ((r = oauth2_http_request_init(p->log)) == NULL)
		return NULL;
	ok = oauth2_http_request_scheme_set(p->log, r, p->scheme) &&
	     oauth2_http_request_hostname_set(p->log, r, p->host) &&
	     oauth2_http_request_port_set(p->log, r,
					  (unsigned long)p->uri_port) &&
	     oauth2_http_request_header_set(p->log, r, "Host", p->authority) &&
	     oauth2_http_request_path_set(p->log, r, path) &&
	     oauth2_http_request_method_set(p->log, r, OAUTH2_HTTP_METHOD_GET);
	if (ok && query != NULL && *query != '\0')
		ok = oauth2_http_request_query_set(p->log, r, query);
	if (cookie == NULL)
		cookie = evhttp_find_header(in, "Cookie");
	if (ok && cookie != NULL)
		ok =
		    oauth2_http_request_header_set(p->log, r, "Cookie", cookie);
	for (size_t i = 0; ok && i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = evhttp_find_header(in, pass[i]);
		if (v != NULL)
			ok = oauth2_http_request_header_set(p->log, r, pass[i],
							    v);
	}
	if (!ok) {
		oauth2_http_request_free(p->log, r);
		return NULL;
	}
	return r;
}

struct copy_ctx {
	struct portal *p;
	struct evhttp_request *req;
	const char *skip_cookie; /* "name=" of a Set-Cookie not to copy */
	int failed;
};

/*
 * liboauth2 1.4.5.4 sets its state and session cookies without HttpOnly
 * and SameSite (and marks some SameSite=None, which browsers refuse
 * without Secure). Every request that must carry them is a top-level GET
 * navigation, so the binding makes them HttpOnly; SameSite=Lax (and
 * Secure behind https): no script reads them and no cross-site
 * subrequest sends them. Only the attributes after the first ';' are
 * looked at, never the (encrypted, arbitrary) value. Caller frees.
 */
static char *harden_cookie(const char *set_cookie, int secure)
{
	struct evbuffer *b = evbuffer_new();
	const char *p = strchr(set_cookie, ';');
	int http_only = 0, has_secure = 0, bad = 0;
	char *out = NULL;
	size_t n;

	if (b == NULL)
		return NULL;
	n = p ? (size_t)(p - set_cookie) : strlen(set_cookie);
	bad |= evbuffer_add(b, set_cookie, n);
	while (p != NULL) {
		const char *attr = p + 1;
		while (*attr == ' ')
			attr++;
		p = strchr(attr, ';');
		n = p ? (size_t)(p - attr) : strlen(attr);
		if (n >= 8 && strncasecmp(attr, "SameSite", 8) == 0)
			continue; /* replaced below */
		if (n == 8 && strncasecmp(attr, "HttpOnly", 8) == 0)
			http_only = 1;
		if (n == 6 && strncasecmp(attr, "Secure", 6) == 0)
			has_secure = 1;
		if (n > 0)
			bad |=
			    evbuffer_add_printf(b, "; %.*s", (int)n, attr) < 0;
	}
	bad |= evbuffer_add_printf(b, "%s; SameSite=Lax%s",
				   http_only ? "" : "; HttpOnly",
				   secure && !has_secure ? "; Secure" : "") < 0;
	n = evbuffer_get_length(b);
	if (!bad && (out = malloc(n + 1)) != NULL) {
		evbuffer_remove(b, out, n);
		out[n] = '\0';
	}
	evbuffer_free(b);
	return out;
}

/* Copy one response header of liboauth2's to the reply. */
static bool copy_header(oauth2_log_t *log, void *rec, const char *key,
			const char *value)
{
	struct copy_ctx *c = rec;
	struct evkeyvalq *out = evhttp_request_get_output_headers(c->req);
	char *v = NULL;

	(void)log;
	if (key == NULL || value == NULL)
		return true;
	if (strcasecmp(key, "Set-Cookie") == 0) {
		if (c->skip_cookie != NULL &&
		    strncmp(value, c->skip_cookie, strlen(c->skip_cookie)) == 0)
			return true;
		v = harden_cookie(value, strcmp(c->p->scheme, "https") == 0);
		if (v == NULL) {
			c->failed = 1;
			return false;
		}
		value = v;
	}
	if (evhttp_add_header(out, key, value) != 0)
		c->failed = 1;
	free(v);
	return true;
}

static int copy_headers(struct portal *p, struct evhttp_request *req,
			oauth2_http_response_t *resp, const char *skip_cookie)
{
	struct copy_ctx c = {p, req, skip_cookie, 0};

	oauth2_http_response_headers_loop(p->log, resp, copy_header, &c);
	return c.failed ? KT_ERR_NOMEM : KT_OK;
}

/*
 * The handler is about to send the browser to the authorization endpoint:
 * keep the nonce it put into that request in a cookie named after the
 * state, so the callback can compare it with the ID token's nonce.
 */
static void remember_nonce(struct portal *p, struct evhttp_request *req,
			   const char *location)
{
	struct evhttp_uri *u = NULL;
	char state[PORTAL_STATE_MAX + 1], nonce[PORTAL_NONCE_MAX + 1];
	char name[sizeof(PORTAL_NONCE_COOKIE) + PORTAL_STATE_MAX];
	struct kt_cookie_opts o = cookie_opts(p, PORTAL_NONCE_TTL_S);
	size_t n = strlen(p->authorization_endpoint);

	if (strncmp(location, p->authorization_endpoint, n) != 0 ||
	    location[n] != '?')
		return;
	if ((u = evhttp_uri_parse(location)) == NULL)
		return;
	if (query_param(evhttp_uri_get_query(u), "state", state,
			sizeof(state)) &&
	    query_param(evhttp_uri_get_query(u), "nonce", nonce,
			sizeof(nonce)) &&
	    token_ok(state, PORTAL_STATE_MAX) &&
	    token_ok(nonce, PORTAL_NONCE_MAX)) {
		snprintf(name, sizeof(name), "%s%s", PORTAL_NONCE_COOKIE,
			 state);
		if (kt_http_set_cookie(req, name, nonce, &o) != KT_OK)
			kt_log_warn("could not set the nonce cookie");
	}
	evhttp_uri_free(u);
}

static int aud_has(json_t *aud, const char *client_id)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), client_id) == 0;
	json_array_foreach(aud, i, v)
	{
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), client_id) == 0)
			return 1;
	}
	return 0;
}

/*
 * The checks of OpenID Connect Core 3.1.3.7 and 5.3.2 that liboauth2
 * 1.4.5.4 leaves out. Returns NULL if the login is fine, else a short
 * reason (static string, safe to show).
 */
static const char *check_claims(struct portal *p, json_t *id, json_t *ui,
				const char *nonce)
{
	json_t *aud = json_object_get(id, "aud");
	const char *azp = json_string_value(json_object_get(id, "azp"));
	const char *sub = json_string_value(json_object_get(id, "sub"));
	const char *ui_sub = json_string_value(json_object_get(ui, "sub"));
	const char *tok_nonce = json_string_value(json_object_get(id, "nonce"));
	json_t *exp = json_object_get(id, "exp"),
	       *iat = json_object_get(id, "iat");
	int64_t now = kt_now();

	if (!json_is_object(id))
		return "no ID token claims";
	if (!kt_ct_streq(json_string_value(json_object_get(id, "iss")),
			 p->issuer))
		return "ID token: iss is not the configured issuer";
	if (!aud_has(aud, p->client_id))
		return "ID token: aud does not contain this client";
	if (json_is_array(aud) && json_array_size(aud) > 1 &&
	    (azp == NULL || strcmp(azp, p->client_id) != 0))
		return "ID token: several audiences but azp is not this client";
	if (azp != NULL && strcmp(azp, p->client_id) != 0)
		return "ID token: azp is not this client";
	if (sub == NULL || *sub == '\0')
		return "ID token: no sub";
	if (!json_is_integer(exp) ||
	    json_integer_value(exp) + PORTAL_CLOCK_SKEW_S < now)
		return "ID token: expired or without exp";
	if (!json_is_integer(iat) ||
	    json_integer_value(iat) > now + PORTAL_CLOCK_SKEW_S)
		return "ID token: iat missing or in the future";
	if (nonce == NULL)
		return "no nonce cookie for this state (expired, or another "
		       "browser)";
	if (!kt_ct_streq(tok_nonce, nonce))
		return "ID token: nonce does not match";
	if (json_is_object(ui) && !kt_ct_streq(ui_sub, sub))
		return "UserInfo: sub does not match the ID token";
	return NULL;
}

/* "name=value" of the Set-Cookie for name in resp, or NULL. Caller frees. */
static char *response_cookie(struct portal *p, oauth2_http_response_t *resp,
			     const char *name)
{
	char prefix[128];
	const char *hdr;
	size_t n;

	snprintf(prefix, sizeof(prefix), "%s=", name);
	hdr = oauth2_http_response_header_set_cookie_prefix_get(p->log, resp,
								prefix);
	if (hdr == NULL)
		return NULL;
	n = strcspn(hdr, ";");
	return strndup(hdr, n);
}

/*
 * The handler has exchanged the code and wants to set the new session
 * cookie: load that session the way the next request would and check its
 * claims. 0 if fine; otherwise *reason says why.
 */
static int verify_login(struct portal *p, struct evhttp_request *req,
			const char *path, const char *query,
			oauth2_http_response_t *resp, const char **reason)
{
	oauth2_http_request_t *r = NULL;
	oauth2_session_rec_t *rec = NULL;
	char state[PORTAL_STATE_MAX + 1], iss[512];
	char name[sizeof(PORTAL_NONCE_COOKIE) + PORTAL_STATE_MAX];
	char nonce[PORTAL_NONCE_MAX + 1];
	const char *cookies;
	char *session_cookie = NULL;
	int have_nonce = 0, rc = KT_ERR_DENIED;

	*reason = "internal error";
	/* RFC 9207: the gateway names itself; a mix-up shows here first. */
	if (query_param(query, "iss", iss, sizeof(iss)) &&
	    !kt_ct_streq(iss, p->issuer)) {
		*reason = "authorization response: iss is not the configured "
			  "issuer";
		goto cleanup;
	}
	if (!query_param(query, "state", state, sizeof(state)) ||
	    !token_ok(state, PORTAL_STATE_MAX)) {
		*reason = "authorization response: bad state";
		goto cleanup;
	}
	snprintf(name, sizeof(name), "%s%s", PORTAL_NONCE_COOKIE, state);
	cookies =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	have_nonce =
	    kt_http_cookie_get(cookies, name, nonce, sizeof(nonce)) == KT_OK;
	if ((session_cookie =
		 response_cookie(p, resp, PORTAL_SESSION_COOKIE)) == NULL) {
		*reason = "no session was created";
		goto cleanup;
	}
	if ((r = oreq_new(p, req, path, NULL, session_cookie)) == NULL)
		goto cleanup;
	if (!oauth2_session_load(
		p->log, oauth2_cfg_openidc_session_get(p->log, p->oidc), r,
		&rec) ||
	    rec == NULL) {
		*reason = "the new session could not be read";
		goto cleanup;
	}
	*reason =
	    check_claims(p, oauth2_session_rec_id_token_claims_get(p->log, rec),
			 oauth2_session_rec_userinfo_claims_get(p->log, rec),
			 have_nonce ? nonce : NULL);
	if (*reason == NULL)
		rc = KT_OK;

cleanup:
	if (rec != NULL)
		oauth2_session_rec_free(p->log, rec);
	oauth2_http_request_free(p->log, r);
	kt_free_secret(session_cookie);
	OPENSSL_cleanse(nonce, sizeof(nonce));
	return rc;
}

/*
 * The claims of an established session, for the page, kept apart by
 * source. A fresh oauth2 request: liboauth2 strips the session cookie
 * from the one the handler has read.
 */
static void send_session(struct portal *p, struct evhttp_request *req,
			 const char *path, json_t *merged)
{
	oauth2_http_request_t *r = oreq_new(p, req, path, NULL, NULL);
	oauth2_session_rec_t *rec = NULL;

	if (r != NULL &&
	    oauth2_session_load(p->log,
				oauth2_cfg_openidc_session_get(p->log, p->oidc),
				r, &rec) &&
	    rec != NULL &&
	    oauth2_session_rec_id_token_claims_get(p->log, rec) != NULL)
		send_claims_page(
		    p, req, oauth2_session_rec_id_token_claims_get(p->log, rec),
		    oauth2_session_rec_userinfo_claims_get(p->log, rec));
	else
		send_claims_page(p, req, merged, NULL);
	if (rec != NULL)
		oauth2_session_rec_free(p->log, rec);
	oauth2_http_request_free(p->log, r);
}

static void send_login_error(struct portal *p, struct evhttp_request *req,
			     int status, enum msg title, const char *detail)
{
	const char *lang = req_lang(req);

	send_message(p, req, status, tr(lang, title), tr(lang, M_FAILED_TEXT),
		     detail, PORTAL_PROTECTED_PREFIX, tr(lang, M_AGAIN));
}

/* Everything under /protected/, including the redirect URI. */
static void handle_protected(struct portal *p, struct evhttp_request *req,
			     const char *path, const char *query)
{
	oauth2_http_request_t *r = NULL;
	oauth2_http_response_t *resp = NULL;
	json_t *claims = NULL;
	struct kt_cookie_opts o = cookie_opts(p, 0);
	int callback = strcmp(path, p->redirect_path) == 0;
	const char *reason = NULL, *loc;
	char err[64], desc[256], detail[360];
	oauth2_uint_t status;

	if (callback && query_param(query, "error", err, sizeof(err))) {
		/* access_denied and friends: nothing for liboauth2 to do. */
		query_param(query, "error_description", desc, sizeof(desc));
		snprintf(detail, sizeof(detail), "%s%s%s", err,
			 desc[0] ? ": " : "", desc);
		kt_log_info("authorization error from the gateway: %s", err);
		send_login_error(p, req, 403, M_DENIED, detail);
		return;
	}
	if ((r = oreq_new(p, req, path, query, NULL)) == NULL) {
		kt_http_send_html(req, 500, NULL, NULL);
		return;
	}
	if (!oauth2_openidc_handle(p->log, p->oidc, r, &resp, &claims)) {
		kt_log_warn("liboauth2 handler failed for %s", path);
		send_login_error(p, req, callback ? 400 : 500, M_FAILED, NULL);
		goto cleanup;
	}
	status = resp ? oauth2_http_response_status_code_get(p->log, resp) : 0;
	if (callback && status == 302 &&
	    verify_login(p, req, path, query, resp, &reason) != KT_OK) {
		kt_log_warn("login rejected: %s", reason);
		/* Keep liboauth2's state-cookie deletion, drop the session. */
		if (copy_headers(p, req, resp, PORTAL_SESSION_COOKIE "=") !=
			KT_OK ||
		    kt_http_clear_cookie(req, PORTAL_SESSION_COOKIE, &o) !=
			KT_OK) {
			kt_http_send_html(req, 500, NULL, NULL);
			goto cleanup;
		}
		send_login_error(p, req, 403, M_REJECTED, reason);
		goto cleanup;
	}
	if (callback && status == 302) {
		char state[PORTAL_STATE_MAX + 1], name[128];
		if (query_param(query, "state", state, sizeof(state)) &&
		    token_ok(state, PORTAL_STATE_MAX)) {
			snprintf(name, sizeof(name), "%s%s",
				 PORTAL_NONCE_COOKIE, state);
			kt_http_clear_cookie(req, name, &o);
		}
		kt_log_info("login ok");
	}
	if (copy_headers(p, req, resp, NULL) != KT_OK) {
		kt_http_send_html(req, 500, NULL, NULL);
		goto cleanup;
	}
	if (status != 0) {
		loc = oauth2_http_response_header_get(p->log, resp, "Location");
		if (status == 302 && loc != NULL && !callback)
			remember_nonce(p, req, loc);
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Cache-Control", "no-store");
		evhttp_send_reply(req, (int)status,
				  kt_http_status_reason((int)status), NULL);
		goto cleanup;
	}
	send_session(p, req, path, claims);

cleanup:
	json_decref(claims);
	if (resp != NULL)
		oauth2_http_response_free(p->log, resp);
	oauth2_http_request_free(p->log, r);
}

/*
 * Local logout, then RP-initiated logout at the gateway. liboauth2 1.4.5.4
 * does not keep the raw ID token, so the request names the client by
 * client_id instead of id_token_hint; the gateway then asks the person to
 * confirm, which is also what makes a forged logout link harmless.
 */
static void handle_logout(struct portal *p, struct evhttp_request *req)
{
	struct kt_cookie_opts o = cookie_opts(p, 0);
	const char *kv[] = {"client_id", p->client_id,
			    "post_logout_redirect_uri", p->post_logout_uri};
	char *url = NULL;

	if (kt_http_clear_cookie(req, PORTAL_SESSION_COOKIE, &o) != KT_OK) {
		kt_http_send_html(req, 500, NULL, NULL);
		return;
	}
	if (p->end_session_endpoint == NULL) {
		kt_http_redirect(req, 303, "/");
		return;
	}
	if ((url = kt_http_url_add_params(p->end_session_endpoint, kv, 2)) ==
	    NULL) {
		kt_http_send_html(req, 500, NULL, NULL);
		return;
	}
	kt_http_redirect(req, 303, url);
	free(url);
}

/*
 * Browsers keep cookies per host name, not per port: a login started on
 * "localhost" could never finish on "127.0.0.1". Send every request to
 * the one origin the redirect URI names first.
 */
static int canonical_host(struct portal *p, struct evhttp_request *req)
{
	const char *host =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = NULL;
	char *url = NULL;

	if (host != NULL && strcasecmp(host, p->authority) == 0)
		return 1;
	if (uri == NULL || uri[0] != '/' || uri[1] == '/' ||
	    (b = evbuffer_new()) == NULL ||
	    evbuffer_add_printf(b, "%s%s", p->base, uri) < 0 ||
	    (url = strndup((const char *)evbuffer_pullup(b, -1),
			   evbuffer_get_length(b))) == NULL) {
		kt_http_send_html(req, 400, NULL, NULL);
	} else {
		kt_http_redirect(req, 302, url);
	}
	free(url);
	if (b != NULL)
		evbuffer_free(b);
	return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct portal *p = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	const char *query = u ? evhttp_uri_get_query(u) : NULL;

	if (path == NULL || *path == '\0')
		path = "/";
	/* The path only: queries carry codes and states. */
	kt_log_debug(
	    "%s %s",
	    evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "other",
	    path);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", "GET");
		kt_http_send_html(req, 405, NULL, NULL);
	} else if (!canonical_host(p, req)) {
		/* redirected */
	} else if (strcmp(path, "/") == 0) {
		handle_landing(p, req);
	} else if (strncmp(path, PORTAL_PROTECTED_PREFIX,
			   strlen(PORTAL_PROTECTED_PREFIX)) == 0 ||
		   strcmp(path, p->redirect_path) == 0) {
		handle_protected(p, req, path, query);
	} else if (strcmp(path, "/logout") == 0) {
		handle_logout(p, req);
	} else {
		const char *lang = req_lang(req);
		send_message(p, req, 404, "404", "Not found / Nicht gefunden",
			     NULL, "/", tr(lang, M_HOME));
	}
}

/* ---- startup ----------------------------------------------------------- */

/* scheme, host, port, authority, base and path of the redirect URI. */
static int parse_redirect_uri(struct portal *p, struct kt_error *err)
{
	struct evhttp_uri *u = evhttp_uri_parse(p->redirect_uri);
	const char *scheme, *host, *path;
	int port, rc = KT_ERR_INVALID;

	if (u == NULL) {
		kt_error_set(err, rc, "--redirect-uri: not a URL: '%s'",
			     p->redirect_uri);
		goto cleanup;
	}
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	path = evhttp_uri_get_path(u);
	port = evhttp_uri_get_port(u);
	if (scheme == NULL ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
	    host == NULL || *host == '\0' || path == NULL || path[0] != '/' ||
	    evhttp_uri_get_query(u) != NULL ||
	    evhttp_uri_get_fragment(u) != NULL ||
	    evhttp_uri_get_userinfo(u) != NULL || strlen(host) >= 200) {
		kt_error_set(err, rc,
			     "--redirect-uri: need http(s)://host[:port]/path "
			     "without query or fragment: '%s'",
			     p->redirect_uri);
		goto cleanup;
	}
	if (strcmp(path, PORTAL_REDIRECT_PATH) != 0 &&
	    strncmp(path, PORTAL_PROTECTED_PREFIX,
		    strlen(PORTAL_PROTECTED_PREFIX)) != 0) {
		kt_error_set(err, rc,
			     "--redirect-uri: the path must be under %s, "
			     "e.g. %s",
			     PORTAL_PROTECTED_PREFIX, PORTAL_REDIRECT_PATH);
		goto cleanup;
	}
	snprintf(p->scheme, sizeof(p->scheme), "%s", scheme);
	snprintf(p->host, sizeof(p->host), "%s", host);
	if (port < 0)
		port = strcmp(scheme, "https") == 0 ? 443 : 80;
	p->uri_port = port;
	if ((strcmp(scheme, "https") == 0 && port == 443) ||
	    (strcmp(scheme, "http") == 0 && port == 80))
		snprintf(p->authority, sizeof(p->authority), "%s", host);
	else
		snprintf(p->authority, sizeof(p->authority), "%s:%d", host,
			 port);
	snprintf(p->base, sizeof(p->base), "%s://%s", scheme, p->authority);
	if ((p->redirect_path = strdup(path)) == NULL ||
	    asprintf(&p->post_logout_uri, "%s/", p->base) < 0) {
		p->post_logout_uri = NULL;
		kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	rc = KT_OK;

cleanup:
	if (u != NULL)
		evhttp_uri_free(u);
	return rc;
}

/*
 * The gateway's discovery document, fetched once at startup (blocking, see
 * the top of the file). The portal may start before the gateway, so it
 * retries for wait_s seconds.
 */
static int fetch_discovery(struct portal *p, int wait_s, char **out,
			   struct kt_error *err)
{
	oauth2_http_call_ctx_t *ctx = NULL;
	char *url = NULL, *body = NULL;
	oauth2_http_status_code_t status = 0;
	json_t *doc = NULL;
	json_error_t jerr;
	const char *iss;
	int64_t deadline = kt_mono_ms() + (int64_t)wait_s * 1000;
	int rc = KT_ERR_UNAVAILABLE;
	size_t n = strlen(p->issuer);

	*out = NULL;
	/* An issuer may end in '/'; the well-known suffix replaces it. */
	if (n > 0 && p->issuer[n - 1] == '/')
		n--;
	if (asprintf(&url, "%.*s/.well-known/openid-configuration", (int)n,
		     p->issuer) < 0) {
		url = NULL;
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((ctx = oauth2_http_call_ctx_init(p->log)) == NULL ||
	    !oauth2_http_call_ctx_timeout_set(p->log, ctx,
					      PORTAL_HTTP_TIMEOUT_S)) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	for (;;) {
		if (body != NULL)
			oauth2_mem_free(body);
		body = NULL;
		if (oauth2_http_get(p->log, url, NULL, ctx, &body, &status) &&
		    status == 200 && body != NULL)
			break;
		if (kt_mono_ms() >= deadline) {
			rc = kt_error_set(err, KT_ERR_UNAVAILABLE,
					  "%s: no discovery document (HTTP "
					  "status %u)",
					  url, (unsigned)status);
			goto cleanup;
		}
		kt_log_info("waiting for the gateway at %s", url);
		sleep(1);
	}
	if ((doc = json_loads(body, 0, &jerr)) == NULL ||
	    !json_is_object(doc)) {
		rc = kt_error_set(err, KT_ERR_INVALID, "%s: not a JSON object",
				  url);
		goto cleanup;
	}
	/* OpenID Connect Discovery 1.0 section 4.3. */
	iss = json_string_value(json_object_get(doc, "issuer"));
	if (iss == NULL || strcmp(iss, p->issuer) != 0) {
		rc = kt_error_set(err, KT_ERR_INVALID,
				  "%s: issuer '%s' is not --issuer '%s'", url,
				  iss ? iss : "(none)", p->issuer);
		goto cleanup;
	}
	iss = json_string_value(json_object_get(doc, "authorization_endpoint"));
	if (iss == NULL || (p->authorization_endpoint = strdup(iss)) == NULL) {
		rc = kt_error_set(err, KT_ERR_INVALID,
				  "%s: no authorization_endpoint", url);
		goto cleanup;
	}
	iss = json_string_value(json_object_get(doc, "end_session_endpoint"));
	if (iss != NULL && (p->end_session_endpoint = strdup(iss)) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((*out = strdup(body)) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	rc = KT_OK;

cleanup:
	json_decref(doc);
	if (body != NULL)
		oauth2_mem_free(body);
	if (ctx != NULL)
		oauth2_http_call_ctx_free(p->log, ctx);
	free(url);
	return rc;
}

/* Turn a liboauth2 config setter's message into our error. */
static int cfg_result(char *rv, const char *what, struct kt_error *err)
{
	int rc = KT_OK;

	if (rv != NULL) {
		rc = kt_error_set(err, KT_ERR_INVALID, "liboauth2 %s: %s", what,
				  rv);
		oauth2_mem_free(rv);
	}
	return rc;
}

static int setup_oidc(struct portal *p, int wait_s, struct kt_error *err)
{
	char *metadata = NULL, *client = NULL;
	char secret[48];
	const char *session_secret = getenv("KONTOR_DEMO_SESSION_SECRET");
	json_t *c = NULL;
	int rc;

	/*
	 * Sessions and state live in cookies encrypted with this passphrase.
	 * Without a configured one every start makes a new one, which logs
	 * everybody out of the demo: acceptable, and nothing to leak.
	 */
	if (session_secret == NULL || *session_secret == '\0') {
		if ((rc = kt_random_token(secret, sizeof(secret), 32)) !=
		    KT_OK) {
			kt_error_set(err, rc, "no randomness");
			goto cleanup;
		}
		session_secret = secret;
	}
	oauth2_crypto_passphrase_set(p->log, NULL, session_secret);

	if ((rc = fetch_discovery(p, wait_s, &metadata, err)) != KT_OK)
		goto cleanup;
	if ((p->oidc = oauth2_cfg_openidc_init(p->log)) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	/* A cookie session, registered under a name the options refer to. */
	rc = cfg_result(oauth2_cfg_session_set_options(
			    p->log, NULL, "cookie",
			    "name=" PORTAL_SESSION_CFG
			    "&cookie.name=" PORTAL_SESSION_COOKIE
			    "&inactivity_timeout=1800&max_duration=28800"),
			"session", err);
	if (rc != KT_OK)
		goto cleanup;
	rc = cfg_result(oauth2_cfg_openidc_provider_resolver_set_options(
			    p->log, p->oidc, "string", metadata,
			    "session=" PORTAL_SESSION_CFG),
			"provider", err);
	if (rc != KT_OK)
		goto cleanup;

	/* JSON, so that a secret with '&' or '=' needs no form encoding. */
	c = json_pack("{s:s, s:s, s:s, s:s}", "client_id", p->client_id,
		      "client_secret", p->client_secret, "scope", p->scope,
		      "token_endpoint_auth_method", "client_secret_basic");
	if (c == NULL || (client = json_dumps(c, JSON_COMPACT)) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	rc = cfg_result(oauth2_openidc_client_set_options(
			    p->log, p->oidc, "json", client,
			    "session=" PORTAL_SESSION_CFG "&ssl_verify=true"),
			"client", err);
	if (rc != KT_OK)
		goto cleanup;
	if (!oauth2_openidc_client_http_timeout_set(
		p->log, oauth2_cfg_openidc_client_get(p->log, p->oidc),
		PORTAL_HTTP_TIMEOUT_S) ||
	    !oauth2_cfg_openidc_redirect_uri_set(p->log, p->oidc,
						 p->redirect_uri)) {
		rc = kt_error_set(err, KT_ERR_INTERNAL,
				  "liboauth2: could not configure the client");
		goto cleanup;
	}
	rc = KT_OK;

cleanup:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (client != NULL) {
		OPENSSL_cleanse(client, strlen(client));
		free(client);
	}
	if (c != NULL) {
		/* jansson keeps its own copy of the secret. */
		json_t *s = json_object_get(c, "client_secret");
		if (json_is_string(s))
			OPENSSL_cleanse((char *)json_string_value(s),
					json_string_length(s));
		json_decref(c);
	}
	free(metadata);
	return rc;
}

/* sha256 of the inline stylesheet for the CSP, padded base64. */
static void make_csp(struct portal *p)
{
	uint8_t h[KT_SHA256_LEN];
	char b64[48];
	size_t n;

	kt_sha256(h, portal_style, strlen(portal_style));
	n = kt_b64_encode(b64, h, sizeof(h));
	while (n % 4 != 0 && n + 1 < sizeof(b64))
		b64[n++] = '=';
	b64[n] = '\0';
	snprintf(p->csp, sizeof(p->csp), "style-src 'sha256-%s'", b64);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct portal *p = arg;

	(void)what;
	kt_log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(p->base_ev, NULL);
}

static void usage(FILE *out)
{
	fputs(
	    "NAME\n"
	    "    kontor-demo-portal - sample relying party that logs in with "
	    "kontor\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    kontor-demo-portal [--port N] [--issuer URL] [--client-id "
	    "ID]\n"
	    "                       [--client-secret SECRET] "
	    "[--redirect-uri URL]\n"
	    "                       [--scope SCOPES] [--wait SECONDS] "
	    "[--log-level L]\n"
	    "    kontor-demo-portal --version | --help\n"
	    "\n"
	    "DESCRIPTION\n"
	    "    Serves a small portal on 127.0.0.1 that signs people in with\n"
	    "    the kontor gateway by OpenID Connect (authorization code "
	    "flow\n"
	    "    with PKCE S256), using liboauth2's OpenID Connect client.\n"
	    "\n"
	    "    /                  landing page with a \"Log in with kontor\" "
	    "button\n"
	    "    /protected/        starts the login; afterwards shows the "
	    "claims\n"
	    "                       of the ID token and of UserInfo\n"
	    "    /protected/redirect_uri\n"
	    "                       the redirect URI (the default)\n"
	    "    /logout            ends the portal session and sends the "
	    "browser\n"
	    "                       to the gateway's end_session_endpoint, "
	    "which\n"
	    "                       returns to / afterwards\n"
	    "\n"
	    "    The gateway must know the client: its redirect_uris must "
	    "contain\n"
	    "    the redirect URI, its post_logout_redirect_uris the portal's "
	    "/\n"
	    "    (e.g. http://127.0.0.1:8081/), its "
	    "token_endpoint_auth_method\n"
	    "    must be client_secret_basic.\n"
	    "\n"
	    "OPTIONS\n"
	    "    -p, --port N           listen on 127.0.0.1:N (default 8081)\n"
	    "    -i, --issuer URL       the gateway's issuer; its discovery\n"
	    "                           document is read at startup (default\n"
	    "                           " PORTAL_DEFAULT_ISSUER ")\n"
	    "    -c, --client-id ID     client_id "
	    "(default " PORTAL_DEFAULT_CLIENT_ID ")\n"
	    "    -s, --client-secret S  client secret; prefer the environment\n"
	    "                           variable, command lines are visible "
	    "to\n"
	    "                           other users\n"
	    "    -r, --redirect-uri URL redirect URI (default\n"
	    "                           "
	    "http://127.0.0.1:PORT" PORTAL_REDIRECT_PATH ");\n"
	    "                           its scheme, host and port are also "
	    "the\n"
	    "                           portal's public address\n"
	    "        --scope SCOPES     requested scopes (default "
	    "\"" PORTAL_DEFAULT_SCOPE "\")\n"
	    "    -w, --wait SECONDS     how long to wait for the gateway at "
	    "startup\n"
	    "                           (default 30)\n"
	    "    -l, --log-level L      debug, info, warn, error (default "
	    "info)\n"
	    "    -V, --version          print the version and exit\n"
	    "    -h, --help             print this help and exit\n"
	    "\n"
	    "ENVIRONMENT\n"
	    "    KONTOR_DEMO_CLIENT_SECRET   the client secret (when "
	    "--client-secret\n"
	    "                                is not given)\n"
	    "    KONTOR_DEMO_SESSION_SECRET  passphrase that encrypts the "
	    "session\n"
	    "                                cookies; without it a random one "
	    "is\n"
	    "                                made at every start\n"
	    "\n"
	    "NOTES\n"
	    "    A demo: liboauth2's calls to the gateway block the portal "
	    "while\n"
	    "    they run. Sessions live in encrypted cookies only.\n"
	    "\n"
	    "EXIT STATUS\n"
	    "    0 stopped by SIGINT/SIGTERM, 1 runtime error, 2 usage error\n",
	    out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"issuer", required_argument, NULL, 'i'},
	    {"client-id", required_argument, NULL, 'c'},
	    {"client-secret", required_argument, NULL, 's'},
	    {"redirect-uri", required_argument, NULL, 'r'},
	    {"scope", required_argument, NULL, 'S'},
	    {"wait", required_argument, NULL, 'w'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct portal p;
	struct kt_error err;
	struct event *sigint = NULL, *sigterm = NULL;
	oauth2_log_sink_t *sink = NULL;
	enum kt_log_level level = KT_LOG_INFO;
	const char *secret_arg = NULL, *env;
	char *redirect_default = NULL;
	uint64_t v;
	int wait_s = 30, c, rc = 1;

	memset(&p, 0, sizeof(p));
	kt_error_clear(&err);
	p.port = PORTAL_DEFAULT_PORT;
	p.issuer = PORTAL_DEFAULT_ISSUER;
	p.client_id = PORTAL_DEFAULT_CLIENT_ID;
	p.scope = PORTAL_DEFAULT_SCOPE;

	while ((c = getopt_long(argc, argv, "p:i:c:s:r:w:l:Vh", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			if (kt_parse_uint(optarg, 65535, &v) != KT_OK ||
			    v == 0) {
				fprintf(stderr,
					"kontor-demo-portal: --port: not a "
					"port number: '%s'\n",
					optarg);
				return 2;
			}
			p.port = (int)v;
			break;
		case 'i':
			p.issuer = optarg;
			break;
		case 'c':
			p.client_id = optarg;
			break;
		case 's':
			secret_arg = optarg;
			break;
		case 'r':
			p.redirect_uri = optarg;
			break;
		case 'S':
			p.scope = optarg;
			break;
		case 'w':
			if (kt_parse_uint(optarg, 3600, &v) != KT_OK) {
				fprintf(stderr,
					"kontor-demo-portal: --wait: not a "
					"number of seconds (0-3600): '%s'\n",
					optarg);
				return 2;
			}
			wait_s = (int)v;
			break;
		case 'l':
			if (kt_log_level_parse(optarg, &level) != KT_OK) {
				fprintf(stderr,
					"kontor-demo-portal: --log-level: "
					"unknown level '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'V':
			printf("kontor-demo-portal %s (%s)\n", KT_VERSION,
			       KT_VERSION_GIT);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
			"kontor-demo-portal: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	env = getenv("KONTOR_DEMO_CLIENT_SECRET");
	if (secret_arg == NULL && env != NULL && *env != '\0')
		secret_arg = env;
	if (secret_arg == NULL || *secret_arg == '\0') {
		fprintf(stderr,
			"kontor-demo-portal: no client secret: set "
			"KONTOR_DEMO_CLIENT_SECRET or --client-secret\n");
		return 2;
	}
	kt_log_init(level, 2);
	signal(SIGPIPE, SIG_IGN);

	if ((p.client_secret = strdup(secret_arg)) == NULL)
		goto cleanup;
	if (p.redirect_uri == NULL) {
		if (asprintf(&redirect_default,
			     "http://127.0.0.1:%d" PORTAL_REDIRECT_PATH,
			     p.port) < 0) {
			redirect_default = NULL;
			goto cleanup;
		}
		p.redirect_uri = redirect_default;
	}
	if (parse_redirect_uri(&p, &err) != KT_OK) {
		fprintf(stderr, "kontor-demo-portal: %s\n", err.msg);
		rc = 2;
		goto cleanup;
	}
	make_csp(&p);

	/* Warnings and errors only, tokens redacted (kt_oauth2log). */
	sink = kt_oauth2log_sink_new();
	if (sink == NULL ||
	    (p.log = oauth2_init(OAUTH2_LOG_WARN, sink)) == NULL)
		goto cleanup;
	sink = NULL; /* owned by the log now */

	if (setup_oidc(&p, wait_s, &err) != KT_OK) {
		kt_log_error("%s", err.msg);
		fprintf(stderr, "kontor-demo-portal: %s\n", err.msg);
		goto cleanup;
	}

	if ((p.base_ev = event_base_new()) == NULL ||
	    (p.http = evhttp_new(p.base_ev)) == NULL)
		goto cleanup;
	evhttp_set_allowed_methods(p.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
					       EVHTTP_REQ_POST);
	evhttp_set_max_headers_size(p.http, 32768);
	evhttp_set_max_body_size(p.http, 65536);
	evhttp_set_timeout(p.http, 30);
	evhttp_set_gencb(p.http, on_request, &p);
	if (evhttp_bind_socket(p.http, "127.0.0.1", (ev_uint16_t)p.port) != 0) {
		kt_log_error("cannot listen on 127.0.0.1:%d", p.port);
		fprintf(stderr,
			"kontor-demo-portal: cannot listen on "
			"127.0.0.1:%d\n",
			p.port);
		goto cleanup;
	}
	sigint = evsignal_new(p.base_ev, SIGINT, on_signal, &p);
	sigterm = evsignal_new(p.base_ev, SIGTERM, on_signal, &p);
	if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0)
		goto cleanup;

	kt_log_info("demo portal on http://127.0.0.1:%d/ (public address %s), "
		    "issuer %s, client_id %s",
		    p.port, p.base, p.issuer, p.client_id);
	if (event_base_dispatch(p.base_ev) == 0)
		rc = 0;

cleanup:
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (p.http != NULL)
		evhttp_free(p.http);
	if (p.base_ev != NULL)
		event_base_free(p.base_ev);
	if (p.oidc != NULL)
		oauth2_cfg_openidc_free(p.log, p.oidc);
	if (p.log != NULL)
		oauth2_shutdown(p.log);
	if (sink != NULL)
		oauth2_mem_free(sink);
	free(p.authorization_endpoint);
	free(p.end_session_endpoint);
	free(p.redirect_path);
	free(p.post_logout_uri);
	free(redirect_default);
	kt_free_secret(p.client_secret);
	return rc;
}
