#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <openssl/evp.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/i18n.h"
#include "kontor/norm.h"
#include "kontor/util.h"

/*
 * The one stylesheet of every page. It is inlined (no extra request, no
 * static file handler) and allowed by its hash in style-src, so any
 * change here is picked up by the CSP automatically. Focus rings are
 * explicit because the default ones vanish on coloured buttons.
 */
static const char html_style[] =
    ":root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;"
    "--bg:#f3f4f6;--card:#fff;--line:#6e7781;--accent:#0b5cad;"
    "--accent-fg:#fff;--err-bg:#fdecea;--err-fg:#8a1c12;--focus:#0b5cad}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9aa4ae;"
    "--bg:#0d1117;--card:#161b22;--line:#6e7681;--accent:#4493f8;"
    "--accent-fg:#0d1117;--err-bg:#3b1212;--err-fg:#ffb4a9;"
    "--focus:#79c0ff}}"
    "*{box-sizing:border-box}"
    "body{margin:0;min-height:100vh;display:flex;justify-content:center;"
    "align-items:flex-start;padding:8vh 1rem 2rem;background:var(--bg);"
    "color:var(--fg);font:16px/1.5 system-ui,-apple-system,\"Segoe UI\","
    "Roboto,\"Helvetica Neue\",Arial,sans-serif}"
    "main{width:100%;max-width:26rem;background:var(--card);"
    "border:1px solid var(--line);border-radius:8px;padding:2rem}"
    ".brand{margin:0 0 1.5rem;font-size:.875rem;font-weight:600;"
    "color:var(--muted)}"
    "h1{margin:0 0 1rem;font-size:1.5rem;line-height:1.25}"
    "p{margin:0 0 1rem}"
    "label{display:block;margin:1rem 0 .25rem;font-weight:600}"
    "input{width:100%;padding:.625rem .75rem;font:inherit;color:inherit;"
    "background:var(--card);border:1px solid var(--line);border-radius:6px}"
    "button{display:block;width:100%;margin-top:1rem;padding:.625rem 1rem;"
    "font:inherit;font-weight:600;border:2px solid var(--accent);"
    "border-radius:6px;background:var(--accent);color:var(--accent-fg);"
    "cursor:pointer}"
    "button.secondary{background:transparent;color:var(--accent)}"
    "input:focus,button:focus-visible{outline:3px solid var(--focus);"
    "outline-offset:2px}"
    ".error{padding:.75rem 1rem;border-radius:6px;background:var(--err-bg);"
    "color:var(--err-fg)}"
    ".muted{color:var(--muted);font-size:.875rem}"
    ".detail{overflow-wrap:anywhere}"
    ".notice{padding:.75rem 1rem;border-radius:6px;border:1px solid "
    "var(--accent)}"
    "h2{font-size:1.125rem;margin:1.5rem 0 .5rem}"
    "table{width:100%;border-collapse:collapse;margin:0 0 1rem}"
    "th,td{text-align:left;padding:.375rem .25rem;border-bottom:1px solid "
    "var(--line);vertical-align:top}"
    "td form button{margin:0;padding:.25rem .5rem;width:auto}"
    "select{width:100%;padding:.5rem;font:inherit;color:inherit;"
    "background:var(--card);border:1px solid var(--line);border-radius:6px}"
    "svg.qr{display:block;margin:1rem auto;background:#fff;padding:4px}"
    "fieldset{border:0;margin:0 0 .5rem;padding:0}"
    "legend{font-weight:600;margin-bottom:.5rem}"
    ".choice{display:flex;gap:.75rem;align-items:flex-start;margin:.5rem 0;"
    "padding:.75rem;border:1px solid var(--line);border-radius:6px;"
    "font-weight:400}"
    ".choice input{width:auto;margin-top:.3rem}"
    ".choice span{display:block}"
    "ul{margin:0 0 1rem;padding-left:1.25rem}"
    "li{margin:.25rem 0}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;"
    "font-size:.875em;overflow-wrap:anywhere}";

/*
 * Form Post Response Mode. Calling the prototype's submit() keeps working
 * even if a hidden field were named "submit" and shadowed form.submit.
 */
static const char html_form_post_script[] =
    "HTMLFormElement.prototype.submit.call(document.forms[0]);";

#define CSP_HASH_LEN (sizeof("'sha256-'") - 1 + 44)

static char style_csp[CSP_HASH_LEN + 1];
static char script_csp[CSP_HASH_LEN + 1];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

static void csp_hash(char out[CSP_HASH_LEN + 1], const char *s)
{
	uint8_t d[KT_SHA256_LEN];
	unsigned char b64[45];

	kt_sha256(d, s, strlen(s));
	/* CSP hashes use standard base64 with padding, not base64url. */
	EVP_EncodeBlock(b64, d, sizeof(d));
	snprintf(out, CSP_HASH_LEN + 1, "'sha256-%s'", (const char *)b64);
}

static void csp_init(void)
{
	csp_hash(style_csp, html_style);
	csp_hash(script_csp, html_form_post_script);
}

const char *kt_html_style_csp_source(void)
{
	pthread_once(&csp_once, csp_init);
	return style_csp;
}

static int escape_n(struct evbuffer *out, const char *s, size_t len)
{
	const char *run = s, *p = s, *end = s + len;

	for (; p < end; p++) {
		const char *ent;
		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		if (evbuffer_add(out, run, (size_t)(p - run)) != 0 ||
		    evbuffer_add(out, ent, strlen(ent)) != 0)
			return KT_ERR_NOMEM;
		run = p + 1;
	}
	if (evbuffer_add(out, run, (size_t)(p - run)) != 0)
		return KT_ERR_NOMEM;
	return KT_OK;
}

int kt_html_escape(struct evbuffer *out, const char *s)
{
	if (s == NULL)
		return KT_OK;
	return escape_n(out, s, strlen(s));
}

/*
 * A page being written. Output errors are sticky so the page code reads
 * as a sequence of writes with one check at the end.
 */

static void put(struct kt_html_doc *pg, const char *s)
{
	if (!pg->failed && evbuffer_add(pg->out, s, strlen(s)) != 0)
		pg->failed = 1;
}

static void esc(struct kt_html_doc *pg, const char *s)
{
	if (!pg->failed && kt_html_escape(pg->out, s) != KT_OK)
		pg->failed = 1;
}

static void tr(struct kt_html_doc *pg, const char *key)
{
	esc(pg, kt_i18n(pg->lang, key));
}

/*
 * The string for key with each placeholder ph replaced by value, all
 * escaped; value is wrapped in open/close (literal markup) when given.
 */
static void tr_with(struct kt_html_doc *pg, const char *key, const char *ph,
		    const char *value, const char *open, const char *close)
{
	const char *s = kt_i18n(pg->lang, key), *hit;
	size_t phlen = strlen(ph);

	while ((hit = strstr(s, ph)) != NULL) {
		if (!pg->failed &&
		    escape_n(pg->out, s, (size_t)(hit - s)) != KT_OK)
			pg->failed = 1;
		if (open != NULL)
			put(pg, open);
		esc(pg, value);
		if (close != NULL)
			put(pg, close);
		s = hit + phlen;
	}
	esc(pg, s);
}

/* A form target: a path on this server or an http(s) URL. */
static int action_ok(const char *a)
{
	if (a == NULL || *a == '\0')
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	if (a[0] == '/')
		return a[1] != '/' && a[1] != '\\';
	return strncasecmp(a, "https://", 8) == 0 ||
	       strncasecmp(a, "http://", 7) == 0;
}

static char brand[128];

void kt_html_set_brand(const char *b)
{
	snprintf(brand, sizeof(brand), "%s", b ? b : "");
}

static void head(struct kt_html_doc *pg, const char *title)
{
	pthread_once(&csp_once, csp_init);
	put(pg, "<!DOCTYPE html>\n<html lang=\"");
	put(pg, kt_i18n_lang(pg->lang));
	put(pg, "\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, "
		"initial-scale=1\">\n"
		"<meta name=\"referrer\" content=\"no-referrer\">\n"
		"<meta name=\"robots\" content=\"noindex, nofollow\">\n"
		"<title>");
	esc(pg, title);
	put(pg, " – ");
	tr(pg, "page.title_suffix");
	put(pg, "</title>\n<style>");
	put(pg, html_style);
	put(pg, "</style>\n</head>\n<body>\n<main>\n<p class=\"brand\">");
	if (brand[0] != '\0')
		esc(pg, brand);
	else
		tr(pg, "page.brand");
	put(pg, "</p>\n<h1>");
	esc(pg, title);
	put(pg, "</h1>\n");
}

static void foot(struct kt_html_doc *pg)
{
	put(pg, "</main>\n</body>\n</html>\n");
}

static void form_open(struct kt_html_doc *pg, const char *action,
		      const char *const *kv, size_t n)
{
	put(pg, "<form method=\"post\" action=\"");
	esc(pg, action);
	put(pg, "\">\n");
	for (size_t i = 0; i < n; i++) {
		if (kv[2 * i] == NULL || kv[2 * i + 1] == NULL)
			continue;
		put(pg, "<input type=\"hidden\" name=\"");
		esc(pg, kv[2 * i]);
		put(pg, "\" value=\"");
		esc(pg, kv[2 * i + 1]);
		put(pg, "\">\n");
	}
}

static void button(struct kt_html_doc *pg, const char *name, const char *value,
		   int secondary, int novalidate)
{
	put(pg, "<button type=\"submit\" name=\"");
	put(pg, name);
	put(pg, "\" value=\"");
	put(pg, value);
	put(pg, "\"");
	if (secondary)
		put(pg, " class=\"secondary\"");
	if (novalidate)
		put(pg, " formnovalidate");
	put(pg, ">");
}

static int page_end(struct kt_html_doc *pg)
{
	foot(pg);
	return pg->failed ? KT_ERR_NOMEM : KT_OK;
}

static int kv_ok(const char *const *kv, size_t n)
{
	return n == 0 || kv != NULL;
}

int kt_html_page_login(struct evbuffer *out, const struct kt_html_login *v)
{
	struct kt_html_doc pg = {out, NULL, 0};
	const char *email;
	int has_email;

	if (out == NULL || v == NULL || !action_ok(v->action) ||
	    !kv_ok(v->hidden, v->nhidden))
		return KT_ERR_INVALID;
	pg.lang = v->lang;
	email = v->email ? v->email : "";
	has_email = *email != '\0';

	head(&pg, kt_i18n(pg.lang, "login.title"));
	put(&pg, "<p>");
	if (v->client_name != NULL && *v->client_name != '\0')
		tr_with(&pg, "login.intro_client", "{client}", v->client_name,
			"<strong>", "</strong>");
	else
		tr(&pg, "login.intro");
	put(&pg, "</p>\n");
	if (v->notice_key != NULL && kt_i18n_has(v->notice_key)) {
		put(&pg, "<p class=\"notice\" role=\"status\">");
		tr(&pg, v->notice_key);
		put(&pg, "</p>\n");
	}
	if (v->error_key != NULL) {
		put(&pg,
		    "<p class=\"error\" id=\"form-error\" role=\"alert\">");
		tr(&pg, kt_i18n_has(v->error_key) ? v->error_key
						  : "error.generic.text");
		put(&pg, "</p>\n");
	}
	form_open(&pg, v->action, v->hidden, v->nhidden);

	put(&pg, "<label for=\"email\">");
	tr(&pg, "login.email");
	put(&pg,
	    "</label>\n<input id=\"email\" name=\"" KT_HTML_FIELD_EMAIL
	    "\" type=\"email\" autocomplete=\"username\" "
	    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\" "
	    "required value=\"");
	esc(&pg, email);
	put(&pg, "\"");
	if (v->error_key != NULL)
		put(&pg,
		    " aria-describedby=\"form-error\" aria-invalid=\"true\"");
	if (!has_email)
		put(&pg, " autofocus");
	put(&pg, ">\n");

	put(&pg, "<label for=\"password\">");
	tr(&pg, "login.password");
	put(&pg,
	    "</label>\n<input id=\"password\" name=\"" KT_HTML_FIELD_PASSWORD
	    "\" type=\"password\" autocomplete=\"current-password\" "
	    "required");
	if (v->error_key != NULL)
		put(&pg,
		    " aria-describedby=\"form-error\" aria-invalid=\"true\"");
	if (has_email)
		put(&pg, " autofocus");
	put(&pg, ">\n");

	button(&pg, KT_HTML_FIELD_ACTION, KT_HTML_ACTION_LOGIN, 0, 0);
	tr(&pg, "login.submit");
	put(&pg, "</button>\n");
	if (v->show_other_account) {
		button(&pg, KT_HTML_FIELD_ACTION, KT_HTML_ACTION_SWITCH, 1, 1);
		tr(&pg, "login.other_account");
		put(&pg, "</button>\n");
	}
	if (v->offer_mail_code) {
		button(&pg, KT_HTML_FIELD_ACTION, "mailcode", 1, 1);
		tr(&pg, "login.mailcode.button");
		put(&pg, "</button>\n");
	}
	put(&pg, "</form>\n");
	if (v->nupstreams > 0 && action_ok(v->federate_action)) {
		put(&pg, "<h2>");
		tr(&pg, "login.previous.title");
		put(&pg, "</h2>\n");
		form_open(&pg, v->federate_action, v->hidden, v->nhidden);
		for (size_t i = 0; i < v->nupstreams; i++) {
			put(&pg, "<button type=\"submit\" class=\"secondary\" "
				 "name=\"land\" value=\"");
			esc(&pg, v->upstream_lands[i]);
			put(&pg, "\" formnovalidate>");
			tr_with(&pg, "login.previous.button", "{name}",
				v->upstream_names[i], NULL, NULL);
			put(&pg, "</button>\n");
		}
		put(&pg, "</form>\n");
	}
	return page_end(&pg);
}

/* Scope values we have a description for are plain [a-z_]. */
static void scope_line(struct kt_html_doc *pg, const char *scope)
{
	char key[64];
	int plain = *scope != '\0' && strlen(scope) < 40;

	for (const char *p = scope; plain && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			plain = 0;
	put(pg, "<li>");
	if (plain) {
		snprintf(key, sizeof(key), "scope.%s", scope);
		if (kt_i18n_has(key)) {
			tr(pg, key);
			put(pg, "</li>\n");
			return;
		}
	}
	tr_with(pg, "scope.unknown", "{scope}", scope, "<code>", "</code>");
	put(pg, "</li>\n");
}

int kt_html_page_consent(struct evbuffer *out, const struct kt_html_consent *v)
{
	struct kt_html_doc pg = {out, NULL, 0};

	if (out == NULL || v == NULL || !action_ok(v->action) ||
	    v->client_name == NULL || !kv_ok(v->hidden, v->nhidden) ||
	    (v->nscopes > 0 && v->scopes == NULL))
		return KT_ERR_INVALID;
	pg.lang = v->lang;

	head(&pg, kt_i18n(pg.lang, "consent.title"));
	put(&pg, "<p>");
	tr_with(&pg, "consent.wants_access", "{client}", v->client_name,
		"<strong>", "</strong>");
	put(&pg, "</p>\n<ul>\n");
	for (size_t i = 0; i < v->nscopes; i++)
		if (v->scopes[i] != NULL)
			scope_line(&pg, v->scopes[i]);
	put(&pg, "</ul>\n");
	if (v->account != NULL && *v->account != '\0') {
		put(&pg, "<p class=\"muted\">");
		tr_with(&pg, "consent.signed_in_as", "{account}", v->account,
			"<strong>", "</strong>");
		put(&pg, "</p>\n");
	}
	form_open(&pg, v->action, v->hidden, v->nhidden);
	button(&pg, KT_HTML_FIELD_DECISION, KT_HTML_DECISION_ALLOW, 0, 0);
	tr(&pg, "consent.allow");
	put(&pg, "</button>\n");
	button(&pg, KT_HTML_FIELD_DECISION, KT_HTML_DECISION_DENY, 1, 0);
	tr(&pg, "consent.deny");
	put(&pg, "</button>\n</form>\n");
	return page_end(&pg);
}

int kt_html_page_select_account(struct evbuffer *out,
				const struct kt_html_select_account *v)
{
	struct kt_html_doc pg = {out, NULL, 0};

	if (out == NULL || v == NULL || !action_ok(v->action) ||
	    v->account == NULL || *v->account == '\0' ||
	    !kv_ok(v->hidden, v->nhidden))
		return KT_ERR_INVALID;
	pg.lang = v->lang;

	head(&pg, kt_i18n(pg.lang, "select.title"));
	put(&pg, "<p>");
	if (v->client_name != NULL && *v->client_name != '\0')
		tr_with(&pg, "select.intro_client", "{client}", v->client_name,
			"<strong>", "</strong>");
	else
		tr(&pg, "select.intro");
	put(&pg, "</p>\n");
	form_open(&pg, v->action, v->hidden, v->nhidden);
	button(&pg, KT_HTML_FIELD_ACTION, KT_HTML_ACTION_CONTINUE, 0, 0);
	tr_with(&pg, "select.continue_as", "{account}", v->account, NULL, NULL);
	put(&pg, "</button>\n");
	button(&pg, KT_HTML_FIELD_ACTION, KT_HTML_ACTION_SWITCH, 1, 0);
	tr(&pg, "select.other_account");
	put(&pg, "</button>\n</form>\n");
	return page_end(&pg);
}

/* The legal form to write after a name ("GmbH" for code "GMBH"), or NULL
 * when there is none or the registered name already ends in one. */
static const char *legal_form_suffix(const char *name, const char *code)
{
	struct kt_norm_company *c;
	struct kt_error err;
	enum kt_lf lf;
	int named;

	if (code == NULL || *code == '\0' ||
	    kt_norm_lf_from_code(code, &lf) != KT_OK || lf == KT_LF_NONE)
		return NULL;
	if (name == NULL || (c = malloc(sizeof(*c))) == NULL)
		return NULL;
	named = kt_norm_company_name(name, NULL, c, &err) == KT_OK &&
		c->legal_form_in_name != KT_LF_NONE;
	free(c);
	return named ? NULL : kt_norm_lf_label(lf);
}

int kt_html_page_select_org(struct evbuffer *out,
			    const struct kt_html_select_org *v)
{
	struct kt_html_doc pg = {out, NULL, 0};
	const char *checked, *suffix;
	char id[32], key[48];

	if (out == NULL || v == NULL || !action_ok(v->action) ||
	    v->orgs == NULL || v->norgs == 0 || !kv_ok(v->hidden, v->nhidden))
		return KT_ERR_INVALID;
	pg.lang = v->lang;
	checked = v->selected ? v->selected : v->orgs[0].id;

	head(&pg, kt_i18n(pg.lang, "org.title"));
	put(&pg, "<p>");
	if (v->client_name != NULL && *v->client_name != '\0')
		tr_with(&pg, "org.intro_client", "{client}", v->client_name,
			"<strong>", "</strong>");
	else
		tr(&pg, "org.intro");
	put(&pg, "</p>\n");
	form_open(&pg, v->action, v->hidden, v->nhidden);
	put(&pg, "<fieldset>\n<legend>");
	tr(&pg, "org.legend");
	put(&pg, "</legend>\n");
	for (size_t i = 0; i < v->norgs; i++) {
		const struct kt_html_org *o = &v->orgs[i];
		snprintf(id, sizeof(id), "org-%zu", i);
		put(&pg, "<label class=\"choice\" for=\"");
		put(&pg, id);
		put(&pg, "\"><input type=\"radio\" name=\"org\" id=\"");
		put(&pg, id);
		put(&pg, "\" value=\"");
		esc(&pg, o->id);
		put(&pg, "\"");
		if (o->id != NULL && checked != NULL &&
		    strcmp(o->id, checked) == 0)
			put(&pg, " checked");
		put(&pg, "><span><span>");
		esc(&pg, o->name);
		if ((suffix = legal_form_suffix(o->name, o->legal_form)) !=
		    NULL) {
			put(&pg, " ");
			esc(&pg, suffix);
		}
		put(&pg, "</span><span class=\"muted\">");
		snprintf(key, sizeof(key), "org.role.%s",
			 o->role ? o->role : "member");
		tr(&pg, kt_i18n_has(key) ? key : "org.role.member");
		put(&pg, "</span></span></label>\n");
	}
	put(&pg, "</fieldset>\n");
	button(&pg, KT_HTML_FIELD_ACTION, KT_HTML_ACTION_CONTINUE, 0, 0);
	tr(&pg, "org.submit");
	put(&pg, "</button>\n</form>\n");
	return page_end(&pg);
}

int kt_html_page_logout_confirm(struct evbuffer *out,
				const struct kt_html_logout *v)
{
	struct kt_html_doc pg = {out, NULL, 0};

	if (out == NULL || v == NULL || !action_ok(v->action) ||
	    !kv_ok(v->hidden, v->nhidden))
		return KT_ERR_INVALID;
	pg.lang = v->lang;

	head(&pg, kt_i18n(pg.lang, "logout.title"));
	put(&pg, "<p>");
	if (v->client_name != NULL && *v->client_name != '\0')
		tr_with(&pg, "logout.confirm_client", "{client}",
			v->client_name, "<strong>", "</strong>");
	else
		tr(&pg, "logout.confirm");
	put(&pg, "</p>\n");
	form_open(&pg, v->action, v->hidden, v->nhidden);
	button(&pg, KT_HTML_FIELD_DECISION, KT_HTML_DECISION_LOGOUT, 0, 0);
	tr(&pg, "logout.submit");
	put(&pg, "</button>\n");
	button(&pg, KT_HTML_FIELD_DECISION, KT_HTML_DECISION_CANCEL, 1, 0);
	tr(&pg, "logout.cancel");
	put(&pg, "</button>\n</form>\n");
	return page_end(&pg);
}

int kt_html_page_logged_out(struct evbuffer *out, const char *lang)
{
	struct kt_html_doc pg = {out, lang, 0};

	if (out == NULL)
		return KT_ERR_INVALID;
	head(&pg, kt_i18n(lang, "logged_out.title"));
	put(&pg, "<p role=\"status\">");
	tr(&pg, "logged_out.text");
	put(&pg, "</p>\n");
	return page_end(&pg);
}

int kt_html_page_message(struct evbuffer *out, const char *lang,
			 const char *title, const char *text)
{
	struct kt_html_doc pg = {out, lang, 0};

	if (out == NULL || title == NULL)
		return KT_ERR_INVALID;
	head(&pg, title);
	if (text != NULL) {
		put(&pg, "<p>");
		esc(&pg, text);
		put(&pg, "</p>\n");
	}
	return page_end(&pg);
}

/* The error whose texts describe status best when the caller gave none. */
static const char *error_for_status(int status)
{
	switch (status) {
	case 400:
		return "invalid_request";
	case 401:
		return "invalid_client";
	case 403:
		return "access_denied";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 413:
		return "request_too_large";
	case 429:
		return "too_many_requests";
	case 503:
		return "temporarily_unavailable";
	default:
		return status >= 500 ? "server_error" : "generic";
	}
}

int kt_html_page_error(struct evbuffer *out, const char *lang, int status,
		       const char *error, const char *description)
{
	struct kt_html_doc pg = {out, lang, 0};
	char tkey[96], xkey[96];
	const char *known = error ? error : error_for_status(status);
	int plain = strlen(known) < 48;

	if (out == NULL)
		return KT_ERR_INVALID;
	for (const char *p = known; plain && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			plain = 0;
	if (plain) {
		snprintf(tkey, sizeof(tkey), "error.%s.title", known);
		snprintf(xkey, sizeof(xkey), "error.%s.text", known);
	}
	if (!plain || !kt_i18n_has(tkey) || !kt_i18n_has(xkey)) {
		snprintf(tkey, sizeof(tkey), "error.generic.title");
		snprintf(xkey, sizeof(xkey), "error.generic.text");
	}

	head(&pg, kt_i18n(lang, tkey));
	put(&pg, "<p>");
	tr(&pg, xkey);
	put(&pg, "</p>\n");
	if (description != NULL && *description != '\0') {
		put(&pg, "<p class=\"detail\">");
		tr(&pg, "error.details");
		put(&pg, ": ");
		esc(&pg, description);
		put(&pg, "</p>\n");
	}
	if (error != NULL && *error != '\0') {
		put(&pg, "<p class=\"muted\">");
		tr(&pg, "error.code");
		put(&pg, ": <code>");
		esc(&pg, error);
		put(&pg, "</code></p>\n");
	}
	return page_end(&pg);
}

/*
 * "scheme://host[:port]" of an http(s) URL for form-action, or NULL.
 * Only the origin goes into the policy: a path could carry ';' or ','
 * and add directives, and evhttp accepts sub-delims in reg-names, so the
 * host is checked character by character as well.
 */
static char *http_origin(const char *url)
{
	struct evhttp_uri *u = NULL;
	const char *scheme, *host;
	char *res = NULL;
	size_t hlen, cap;
	int port, ipv6;

	if ((u = evhttp_uri_parse_with_flags(url, EVHTTP_URI_NONCONFORMANT)) ==
	    NULL)
		return NULL;
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	port = evhttp_uri_get_port(u);
	if (scheme == NULL || host == NULL || *host == '\0' ||
	    (strcasecmp(scheme, "https") != 0 &&
	     strcasecmp(scheme, "http") != 0))
		goto cleanup;
	hlen = strlen(host);
	ipv6 = host[0] == '[';
	if (ipv6 && (hlen < 3 || host[hlen - 1] != ']'))
		goto cleanup;
	for (size_t i = ipv6; i < hlen - (size_t)ipv6; i++) {
		char c = host[i];
		int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			 (c >= 'A' && c <= 'Z') || c == '.' ||
			 (ipv6 ? c == ':' : c == '-');
		if (!ok)
			goto cleanup;
	}
	cap = strlen(scheme) + hlen + 16;
	if ((res = malloc(cap)) == NULL)
		goto cleanup;
	if (port >= 0)
		snprintf(res, cap, "%s://%s:%d", scheme, host, port);
	else
		snprintf(res, cap, "%s://%s", scheme, host);
	/* Scheme and host are case-insensitive; one spelling reads better. */
	for (char *p = res; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');

cleanup:
	evhttp_uri_free(u);
	return res;
}

/*
 * "scheme:" for a private-use URI scheme (RFC 8252 §7.1, native apps),
 * or NULL. Schemes that run code or read local data are never allowed.
 */
static char *custom_scheme_source(const char *url)
{
	static const char *const banned[] = {
	    "javascript", "data",     "blob", "file",
	    "filesystem", "vbscript", "about"};
	size_t n = 0;
	char *res;

	if (!((url[0] >= 'a' && url[0] <= 'z') ||
	      (url[0] >= 'A' && url[0] <= 'Z')))
		return NULL;
	while ((url[n] >= 'a' && url[n] <= 'z') ||
	       (url[n] >= 'A' && url[n] <= 'Z') ||
	       (url[n] >= '0' && url[n] <= '9') || url[n] == '+' ||
	       url[n] == '-' || url[n] == '.')
		n++;
	if (url[n] != ':' || n > 64)
		return NULL;
	for (size_t i = 0; i < sizeof(banned) / sizeof(*banned); i++)
		if (strlen(banned[i]) == n &&
		    strncasecmp(url, banned[i], n) == 0)
			return NULL;
	if ((res = malloc(n + 2)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		res[i] = (url[i] >= 'A' && url[i] <= 'Z')
			     ? (char)(url[i] - 'A' + 'a')
			     : url[i];
	res[n] = ':';
	res[n + 1] = '\0';
	return res;
}

char *kt_html_csp_form_action(const char *redirect_uri)
{
	char *src, *res;
	size_t cap;

	if (redirect_uri == NULL)
		return NULL;
	if (strncasecmp(redirect_uri, "https:", 6) == 0 ||
	    strncasecmp(redirect_uri, "http:", 5) == 0)
		src = http_origin(redirect_uri);
	else
		src = custom_scheme_source(redirect_uri);
	if (src == NULL)
		return NULL;
	cap = strlen(src) + sizeof("form-action ");
	if ((res = malloc(cap)) != NULL)
		snprintf(res, cap, "form-action %s", src);
	free(src);
	return res;
}

int kt_html_page_form_post(struct evbuffer *out, const char *lang,
			   const char *action, const char *const *kv,
			   size_t npairs, char **csp_extra)
{
	struct kt_html_doc pg = {out, lang, 0};
	char *origin = NULL, *csp = NULL;
	size_t cap;
	int r;

	if (csp_extra != NULL)
		*csp_extra = NULL;
	if (out == NULL || csp_extra == NULL || !action_ok(action) ||
	    action[0] == '/' || !kv_ok(kv, npairs))
		return KT_ERR_INVALID;
	if ((origin = http_origin(action)) == NULL)
		return KT_ERR_INVALID;
	pthread_once(&csp_once, csp_init);
	cap = strlen(origin) + sizeof(script_csp) + 64;
	if ((csp = malloc(cap)) == NULL) {
		r = KT_ERR_NOMEM;
		goto cleanup;
	}
	snprintf(csp, cap, "script-src %s; form-action %s", script_csp, origin);

	head(&pg, kt_i18n(lang, "form_post.title"));
	put(&pg, "<p>");
	tr(&pg, "form_post.text");
	put(&pg, "</p>\n");
	form_open(&pg, action, kv, npairs);
	put(&pg, "<noscript>\n<p>");
	tr(&pg, "form_post.noscript");
	put(&pg, "</p>\n<button type=\"submit\">");
	tr(&pg, "form_post.submit");
	put(&pg, "</button>\n</noscript>\n</form>\n<script>");
	put(&pg, html_form_post_script);
	put(&pg, "</script>\n");
	if ((r = page_end(&pg)) != KT_OK)
		goto cleanup;
	*csp_extra = csp;
	csp = NULL;

cleanup:
	free(csp);
	free(origin);
	return r;
}

/* Page builder ------------------------------------------------------------ */

void kt_html_doc_begin(struct kt_html_doc *d, struct evbuffer *out,
		       const char *lang, const char *title)
{
	d->out = out;
	d->lang = lang;
	d->failed = out == NULL;
	if (!d->failed)
		head(d, title);
}

void kt_html_doc_raw(struct kt_html_doc *d, const char *markup)
{
	put(d, markup);
}

void kt_html_doc_text(struct kt_html_doc *d, const char *text)
{
	esc(d, text);
}

void kt_html_doc_t(struct kt_html_doc *d, const char *key)
{
	tr(d, key);
}

void kt_html_doc_tv(struct kt_html_doc *d, const char *key, const char *ph,
		    const char *value)
{
	tr_with(d, key, ph, value, "<strong>", "</strong>");
}

void kt_html_doc_form(struct kt_html_doc *d, const char *action,
		      const char *const *kv, size_t npairs)
{
	if (!action_ok(action) || !kv_ok(kv, npairs)) {
		d->failed = 1;
		return;
	}
	form_open(d, action, kv, npairs);
}

void kt_html_doc_input(struct kt_html_doc *d, const char *type,
		       const char *name, const char *label_key,
		       const char *autocomplete, const char *value, int focus)
{
	put(d, "<label for=\"f-");
	esc(d, name);
	put(d, "\">");
	tr(d, label_key);
	put(d, "</label>\n<input id=\"f-");
	esc(d, name);
	put(d, "\" name=\"");
	esc(d, name);
	put(d, "\" type=\"");
	esc(d, type);
	put(d, "\"");
	if (autocomplete != NULL) {
		put(d, " autocomplete=\"");
		esc(d, autocomplete);
		put(d, "\"");
	}
	if (value != NULL) {
		put(d, " value=\"");
		esc(d, value);
		put(d, "\"");
	}
	put(d, focus ? " required autofocus>\n" : " required>\n");
}

void kt_html_doc_button(struct kt_html_doc *d, const char *name,
			const char *value, int secondary, const char *label_key)
{
	put(d, "<button type=\"submit\" name=\"");
	esc(d, name);
	put(d, "\" value=\"");
	esc(d, value);
	put(d, secondary ? "\" class=\"secondary\">" : "\">");
	tr(d, label_key);
	put(d, "</button>\n");
}

void kt_html_doc_notice(struct kt_html_doc *d, int error, const char *key)
{
	put(d, error ? "<p class=\"error\" role=\"alert\">"
		     : "<p class=\"notice\" role=\"status\">");
	tr(d, key);
	put(d, "</p>\n");
}

int kt_html_doc_end(struct kt_html_doc *d)
{
	return page_end(d);
}
