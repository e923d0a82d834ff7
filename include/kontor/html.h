#ifndef KONTOR_HTML_H
#define KONTOR_HTML_H

/*
 * Server-rendered pages (login, consent, account selection, logout,
 * errors, form post) written into an evbuffer, to be sent with
 * kt_http_send_html.
 *
 * Every string that is not a literal of this module goes through
 * kt_html_escape, including the i18n strings. The pages need no
 * JavaScript (the form post page uses a three-line script and has a
 * <noscript> button); the one inline stylesheet and that script are
 * allowed by CSP hashes, never 'unsafe-inline'.
 *
 * kv arrays ("hidden fields") are {name0, value0, name1, value1, ...}
 * with n counting pairs; a pair with a NULL value is skipped. The caller's
 * CSRF token is one of them, like any other hidden field.
 *
 * All page functions return 0, KT_ERR_INVALID (a required argument is
 * missing, or an action URL is neither a path on this server nor
 * http(s)://) or KT_ERR_NOMEM. On failure out may hold a partial page:
 * send an error page from a fresh buffer instead.
 */

#include <stddef.h>

#include <event2/buffer.h>

/* Form field names and button values the handlers receive. */
#define KT_HTML_FIELD_EMAIL "email"
#define KT_HTML_FIELD_PASSWORD "password"
/* Login and account selection: name="action". */
#define KT_HTML_FIELD_ACTION "action"
#define KT_HTML_ACTION_LOGIN "login"
#define KT_HTML_ACTION_CONTINUE "continue"
#define KT_HTML_ACTION_SWITCH "switch_account"
/* Consent and logout: name="decision". */
#define KT_HTML_FIELD_DECISION "decision"
#define KT_HTML_DECISION_ALLOW "allow"
#define KT_HTML_DECISION_DENY "deny"
#define KT_HTML_DECISION_LOGOUT "logout"
#define KT_HTML_DECISION_CANCEL "cancel"

/*
 * Append s with & < > " ' replaced by entities: safe in element content
 * and in double- or single-quoted attribute values. NULL appends nothing.
 * 0 or KT_ERR_NOMEM.
 */
int kt_html_escape(struct evbuffer *out, const char *s);

/*
 * The CSP source that allows the pages' inline stylesheet,
 * "'sha256-<base64>'", computed once from the stylesheet itself.
 * kt_http_send_html puts it in style-src.
 */
const char *kt_html_style_csp_source(void);

/*
 * The line above every page title instead of the translated default
 * (ui.brand). Call once, before any page is built; NULL or "" restores
 * the default. At most 127 bytes are kept.
 */
void kt_html_set_brand(const char *brand);

/*
 * "form-action <source>" for csp_extra of kt_http_send_html, where source
 * is the origin of an http(s) redirect_uri or "scheme:" of a native
 * app's private-use scheme (javascript:, data:, file: and the like are
 * refused). NULL if redirect_uri is unusable or out of memory; caller
 * frees with free().
 *
 * Needed on every page whose form submission ends in a redirect to the
 * client (login, consent, account selection, logout with
 * post_logout_redirect_uri): Chrome and Safari check the whole redirect
 * chain of a form submission against form-action, so with the default
 * form-action 'self' the final 302 to the client would be blocked.
 */
char *kt_html_csp_form_action(const char *redirect_uri);

struct kt_html_login {
	const char *lang;	   /* "de" / "en" */
	const char *action;	   /* form target, e.g. "/authorize/login" */
	const char *const *hidden; /* kv pairs, e.g. the CSRF token */
	size_t nhidden;
	const char *email;	 /* prefill (login_hint), NULL/"" for none */
	const char *error_key;	 /* i18n key, e.g. "login.error.credentials" */
	const char *notice_key;	 /* i18n key of a notice (role=status) */
	const char *client_name; /* NULL: generic introduction */
	int show_other_account;	 /* adds action=switch_account button */
	int offer_mail_code;	 /* adds action=mailcode (federation link) */
	/* Federation: "sign in with your previous <name> account" buttons,
	 * posted to federate_action with the hidden fields and land=<land>. */
	const char *federate_action;
	const char *const *upstream_lands;
	const char *const *upstream_names;
	size_t nupstreams;
};

/*
 * Email and password form. Autofocus goes to the email field if it is
 * empty, else to the password. The buttons submit action=login (the
 * default, first in tree order, so Enter signs in) and, if asked for,
 * action=switch_account (formnovalidate, so the empty password does not
 * block it), and, if asked for, action=mailcode (formnovalidate: the
 * email address is enough).
 */
int kt_html_page_login(struct evbuffer *out, const struct kt_html_login *v);

struct kt_html_consent {
	const char *lang;
	const char *action;
	const char *const *hidden;
	size_t nhidden;
	const char *client_name;   /* required */
	const char *account;	   /* signed-in email address, may be NULL */
	const char *const *scopes; /* scope values, e.g. "openid", "email" */
	size_t nscopes;
};

/*
 * "<client> wants to access your account:" with one line per scope
 * (known scopes described, others shown by name) and the buttons
 * decision=allow / decision=deny.
 */
int kt_html_page_consent(struct evbuffer *out, const struct kt_html_consent *v);

struct kt_html_select_account {
	const char *lang;
	const char *action;
	const char *const *hidden;
	size_t nhidden;
	const char *client_name; /* may be NULL */
	const char *account;	 /* current account's email, required */
};

/* Buttons action=continue ("Continue as <account>") / action=switch_account. */
int kt_html_page_select_account(struct evbuffer *out,
				const struct kt_html_select_account *v);

struct kt_html_org {
	const char *id;		/* form value */
	const char *name;	/* legal name */
	const char *legal_form; /* canonical code, may be NULL; shown as its
				 * label unless the name ends in a form */
	const char *role;	/* admin | member | representative */
};

struct kt_html_select_org {
	const char *lang;
	const char *action;
	const char *const *hidden;
	size_t nhidden;
	const char *client_name; /* may be NULL */
	const struct kt_html_org *orgs;
	size_t norgs;
	const char *selected; /* id of the preselected org, may be NULL */
};

/* Radio list name="org" (one checked: selected or the first) and a
 * Continue button. */
int kt_html_page_select_org(struct evbuffer *out,
			    const struct kt_html_select_org *v);

struct kt_html_logout {
	const char *lang;
	const char *action;
	const char *const *hidden;
	size_t nhidden;
	const char *client_name; /* RP asking for the logout, may be NULL */
};

/* Buttons decision=logout / decision=cancel. */
int kt_html_page_logout_confirm(struct evbuffer *out,
				const struct kt_html_logout *v);

int kt_html_page_logged_out(struct evbuffer *out, const char *lang);

/*
 * Error page for status, titled after error (an OAuth error code or one of
 * invalid_redirect_uri, session_expired, request_too_large, not_found,
 * method_not_allowed, too_many_requests). error NULL picks one from the
 * status. The code is shown; description (optional) is shown as escaped
 * text, so never put secrets or internals into it.
 */
int kt_html_page_error(struct evbuffer *out, const char *lang, int status,
		       const char *error, const char *description);

/*
 * OAuth 2.0 Form Post Response Mode: a form with kv as hidden fields,
 * POSTed to action (the client's redirect_uri, http or https) by a tiny
 * inline script, with a <noscript> Continue button.
 *
 * *csp_extra gets the directives the page needs on top of the default
 * policy (script-src with the script's hash, form-action with the origin
 * of action) for kt_http_send_html; caller frees it with free(). It is
 * NULL on failure.
 */
int kt_html_page_form_post(struct evbuffer *out, const char *lang,
			   const char *action, const char *const *kv,
			   size_t npairs, char **csp_extra);

/*
 * Building a page piece by piece (the self-service pages). Markup passed to
 * kt_html_doc_raw must be a literal of the caller, never data; everything
 * else is escaped. Errors are sticky: kt_html_doc_end returns KT_ERR_NOMEM
 * if any step failed.
 */
struct kt_html_doc {
	struct evbuffer *out;
	const char *lang;
	int failed;
};

/* <head> with the page style, the brand line and <h1>title</h1>. */
void kt_html_doc_begin(struct kt_html_doc *d, struct evbuffer *out,
		       const char *lang, const char *title);
void kt_html_doc_raw(struct kt_html_doc *d, const char *markup);
void kt_html_doc_text(struct kt_html_doc *d, const char *text);
/* The i18n string for key, escaped; {ph} replaced by value (escaped). */
void kt_html_doc_t(struct kt_html_doc *d, const char *key);
void kt_html_doc_tv(struct kt_html_doc *d, const char *key, const char *ph,
		    const char *value);
/* <form method="post" action=...> with hidden kv fields. */
void kt_html_doc_form(struct kt_html_doc *d, const char *action,
		      const char *const *kv, size_t npairs);
/* <label>+<input>; value may be NULL; autofocus if focus. */
void kt_html_doc_input(struct kt_html_doc *d, const char *type,
		       const char *name, const char *label_key,
		       const char *autocomplete, const char *value,
		       int focus);
/* A submit button name=value labelled by label_key. */
void kt_html_doc_button(struct kt_html_doc *d, const char *name,
			const char *value, int secondary,
			const char *label_key);
/* A notice paragraph: error (role=alert) or success (role=status). */
void kt_html_doc_notice(struct kt_html_doc *d, int error, const char *key);
int kt_html_doc_end(struct kt_html_doc *d);

/* A page with a title and one paragraph (both plain text, escaped). */
int kt_html_page_message(struct evbuffer *out, const char *lang,
			 const char *title, const char *text);

#endif
