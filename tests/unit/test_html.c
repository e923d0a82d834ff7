#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <openssl/evp.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/i18n.h"
#include "kontor/util.h"

/* Breaks out of text, attributes (both quote styles) and tags. */
#define EVIL "\"'><script>alert(1)</script>&amp;<img src=x onerror=x>"
#define EVIL_ESC                                                               \
	"&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;"        \
	"&lt;img src=x onerror=x&gt;"

static char *take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Checks every page must pass. */
static void assert_page_sane(const char *page, const char *lang)
{
	char tag[32];
	static const char *const key_prefixes[] = {
	    "page.",   "login.",      "consent.",   "scope.", "select.",
	    "logout.", "logged_out.", "form_post.", "error.",
	};

	snprintf(tag, sizeof(tag), "<html lang=\"%s\">", lang);
	assert_non_null(strstr(page, "<!DOCTYPE html>\n"));
	assert_non_null(strstr(page, tag));
	assert_int_equal(count(page, "<html"), 1);
	assert_int_equal(count(page, "<style>"), 1);
	assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(page, "</html>\n"));
	assert_true(kt_utf8_valid(page, strlen(page)));
	/* No injected markup survived. */
	assert_null(strstr(page, "<script>alert"));
	assert_null(strstr(page, "<img"));
	assert_null(strstr(page, "onerror=x>"));
	/* Nothing that a strict CSP would block. */
	assert_null(strstr(page, " style="));
	assert_null(strstr(page, " onclick"));
	assert_null(strstr(page, "javascript:"));
	/* No i18n key was missing (kt_i18n returns the key itself). */
	for (size_t i = 0; i < sizeof(key_prefixes) / sizeof(*key_prefixes);
	     i++)
		assert_null(strstr(page, key_prefixes[i]));
	/* At most one autofocus. */
	assert_true(count(page, " autofocus") <= 1);
}

static void test_escape(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	assert_int_equal(kt_html_escape(b, EVIL), KT_OK);
	assert_int_equal(kt_html_escape(b, NULL), KT_OK);
	assert_int_equal(kt_html_escape(b, ""), KT_OK);
	assert_int_equal(kt_html_escape(b, "plain \xc3\xa4 %n\r\n"), KT_OK);
	s = take(b);
	assert_string_equal(s, EVIL_ESC "plain \xc3\xa4 %n\r\n");
	free(s);
	evbuffer_free(b);
}

/* base64(SHA-256(s)) as a CSP source, computed independently. */
static void csp_hash_of(char out[64], const char *s, size_t n)
{
	unsigned char d[32], b64[45];
	unsigned int dlen = sizeof(d);

	EVP_Digest(s, n, d, &dlen, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, d, sizeof(d));
	snprintf(out, 64, "'sha256-%s'", (const char *)b64);
}

/* The hash of the text between open and close in page. */
static void inline_hash(char out[64], const char *page, const char *open,
			const char *close)
{
	const char *a = strstr(page, open), *e;

	assert_non_null(a);
	a += strlen(open);
	e = strstr(a, close);
	assert_non_null(e);
	csp_hash_of(out, a, (size_t)(e - a));
}

static const char *const hidden[] = {"csrf",   "tok" EVIL, "state" EVIL,
				     "s" EVIL, "skip",	   NULL};

static void test_login(void **state)
{
	struct evbuffer *b = evbuffer_new();
	struct kt_html_login v = {
	    .lang = "de",
	    .action = "/authorize/login",
	    .hidden = hidden,
	    .nhidden = 3,
	    .email = NULL,
	    .error_key = NULL,
	    .client_name = "Portal " EVIL,
	    .show_other_account = 0,
	};
	char *s, h[64];

	assert_int_equal(kt_html_page_login(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<title>Anmelden – kontor</title>"));
	assert_non_null(strstr(s, "<h1>Anmelden</h1>"));
	assert_non_null(strstr(s, "kontor — Unternehmenskonto"));
	assert_non_null(strstr(s, "um mit <strong>Portal " EVIL_ESC "</strong> "
				  "fortzufahren."));
	assert_non_null(strstr(s, "<form method=\"post\" "
				  "action=\"/authorize/login\">"));
	assert_non_null(strstr(s, "<input type=\"hidden\" name=\"csrf\" "
				  "value=\"tok" EVIL_ESC "\">"));
	assert_non_null(strstr(s, "<input type=\"hidden\" name=\"state" EVIL_ESC
				  "\" value=\"s" EVIL_ESC "\">"));
	assert_null(strstr(s, "name=\"skip\""));
	/* Labels bound to inputs, autocomplete, autofocus on empty email. */
	assert_non_null(
	    strstr(s, "<label for=\"email\">E-Mail-Adresse</label>"));
	assert_non_null(strstr(s, "<label for=\"password\">Passwort</label>"));
	assert_non_null(strstr(s, "<input id=\"email\" name=\"email\" "
				  "type=\"email\" autocomplete=\"username\""));
	assert_non_null(strstr(s, "value=\"\" autofocus>"));
	assert_non_null(strstr(s, "<input id=\"password\" name=\"password\" "
				  "type=\"password\" "
				  "autocomplete=\"current-password\" "
				  "required>"));
	/* Focus order: email, password, sign in. */
	assert_true(strstr(s, "id=\"email\"") < strstr(s, "id=\"password\""));
	assert_true(strstr(s, "id=\"password\"") <
		    strstr(s, "<button type=\"submit\" name=\"action\" "
			      "value=\"login\">Anmelden</button>"));
	assert_null(strstr(s, "switch_account"));
	assert_null(strstr(s, "role=\"alert\""));
	/* The stylesheet is the one the CSP hash allows. */
	inline_hash(h, s, "<style>", "</style>");
	assert_string_equal(h, kt_html_style_csp_source());
	assert_int_equal(count(s, "<script"), 0);
	free(s);

	/* Prefilled email, error, other account; English. */
	v.lang = "en";
	v.email = "max@example.com" EVIL;
	v.error_key = "login.error.credentials";
	v.client_name = NULL;
	v.show_other_account = 1;
	assert_int_equal(kt_html_page_login(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	assert_non_null(strstr(s, "<p>Sign in with your company account.</p>"));
	assert_non_null(strstr(s, "<p class=\"error\" id=\"form-error\" "
				  "role=\"alert\">Wrong email address or "
				  "password.</p>"));
	assert_non_null(strstr(s, "value=\"max@example.com" EVIL_ESC "\" "
				  "aria-describedby=\"form-error\" "
				  "aria-invalid=\"true\">"));
	assert_non_null(strstr(s, "required aria-describedby=\"form-error\" "
				  "aria-invalid=\"true\" autofocus>"));
	assert_non_null(strstr(s,
			       "<button type=\"submit\" name=\"action\" "
			       "value=\"switch_account\" class=\"secondary\" "
			       "formnovalidate>Use another account</button>"));
	/* Enter submits the first button: sign in. */
	assert_true(strstr(s, "value=\"login\"") <
		    strstr(s, "value=\"switch_account\""));
	free(s);

	/* Unknown error keys show a generic message, never the key. */
	v.error_key = "login.error.nonexistent";
	assert_int_equal(kt_html_page_login(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	assert_non_null(strstr(s, "Your request could not be processed."));
	free(s);

	/* Unknown languages render English. */
	v.lang = "fr";
	assert_int_equal(kt_html_page_login(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	free(s);
	v.lang = NULL;
	assert_int_equal(kt_html_page_login(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	free(s);
	evbuffer_free(b);
}

static void test_bad_actions(void **state)
{
	struct evbuffer *b = evbuffer_new();
	struct kt_html_login v = {.lang = "de"};
	const char *bad[] = {NULL,
			     "",
			     "javascript:alert(1)",
			     "JavaScript:alert(1)",
			     "data:text/html,x",
			     "//evil.example/login",
			     "/\\evil.example",
			     "login",
			     "/login\nx",
			     "ftp://x/"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		v.action = bad[i];
		assert_int_equal(kt_html_page_login(b, &v), KT_ERR_INVALID);
	}
	v.action = "HTTPS://idp.example/login";
	assert_int_equal(kt_html_page_login(b, &v), KT_OK);
	v.action = "/login";
	v.nhidden = 1; /* with hidden == NULL */
	assert_int_equal(kt_html_page_login(b, &v), KT_ERR_INVALID);
	assert_int_equal(kt_html_page_login(b, NULL), KT_ERR_INVALID);
	assert_int_equal(kt_html_page_login(NULL, &v), KT_ERR_INVALID);
	evbuffer_free(b);
}

static void test_consent(void **state)
{
	struct evbuffer *b = evbuffer_new();
	const char *scopes[] = {"openid",	  "profile",	       "email",
				"offline_access", "payroll.read" EVIL, NULL};
	struct kt_html_consent v = {
	    .lang = "de",
	    .action = "/authorize/consent",
	    .hidden = hidden,
	    .nhidden = 2,
	    .client_name = "Portal " EVIL,
	    .account = "max@example.com" EVIL,
	    .scopes = scopes,
	    .nscopes = 6,
	};
	char *s;

	assert_int_equal(kt_html_page_consent(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<h1>Zugriff erlauben?</h1>"));
	assert_non_null(strstr(s, "<p><strong>Portal " EVIL_ESC
				  "</strong> möchte auf Ihr Konto "
				  "zugreifen:</p>"));
	assert_non_null(
	    strstr(s, "<li>Sie mit Ihrem Unternehmenskonto anmelden</li>"));
	assert_non_null(
	    strstr(s, "<li>Ihren Namen und Ihre Profilangaben sehen</li>"));
	assert_non_null(strstr(s, "<li>Ihre E-Mail-Adresse sehen</li>"));
	assert_non_null(strstr(s, "<li>Auch dann auf diese Daten zugreifen, "
				  "wenn Sie nicht angemeldet sind</li>"));
	assert_non_null(strstr(s,
			       "<li>Weitere Berechtigung: "
			       "<code>payroll.read" EVIL_ESC "</code></li>"));
	assert_int_equal(count(s, "<li>"), 5);
	assert_non_null(strstr(
	    s, "Angemeldet als <strong>max@example.com" EVIL_ESC "</strong>"));
	assert_non_null(strstr(s, "<button type=\"submit\" name=\"decision\" "
				  "value=\"allow\">Erlauben</button>"));
	assert_non_null(strstr(s, "<button type=\"submit\" name=\"decision\" "
				  "value=\"deny\" class=\"secondary\">"
				  "Ablehnen</button>"));
	free(s);

	v.client_name = NULL;
	assert_int_equal(kt_html_page_consent(b, &v), KT_ERR_INVALID);
	v.client_name = "x";
	v.scopes = NULL;
	assert_int_equal(kt_html_page_consent(b, &v), KT_ERR_INVALID);
	evbuffer_free(b);
}

static void test_select_account(void **state)
{
	struct evbuffer *b = evbuffer_new();
	struct kt_html_select_account v = {
	    .lang = "en",
	    .action = "/authorize/select",
	    .hidden = hidden,
	    .nhidden = 1,
	    .client_name = "Portal " EVIL,
	    .account = "max@example.com" EVIL,
	};
	char *s;

	assert_int_equal(kt_html_page_select_account(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	assert_non_null(strstr(s, "<h1>Choose an account</h1>"));
	assert_non_null(strstr(s, "Which account do you want to use for "
				  "<strong>Portal " EVIL_ESC "</strong>?"));
	assert_non_null(strstr(s, "<button type=\"submit\" name=\"action\" "
				  "value=\"continue\">Continue as "
				  "max@example.com" EVIL_ESC "</button>"));
	assert_non_null(strstr(s, "<button type=\"submit\" name=\"action\" "
				  "value=\"switch_account\" "
				  "class=\"secondary\">Use another "
				  "account</button>"));
	free(s);

	v.account = "";
	assert_int_equal(kt_html_page_select_account(b, &v), KT_ERR_INVALID);
	evbuffer_free(b);
}

static void test_select_org(void **state)
{
	const char *kv[] = {"areq", "a1"};
	const struct kt_html_org orgs[] = {
	    {"o1", "Muster Maschinenbau GmbH", "GMBH", "admin"},
	    {"o2", "Bäckerei Sonnenschein", "EK", "representative"},
	    {"o3", EVIL, NULL, "member"},
	};
	struct kt_html_select_org v = {0};
	struct evbuffer *b = evbuffer_new();
	char *s;

	(void)state;
	v.lang = "de";
	v.action = "/select-org";
	v.hidden = kv;
	v.nhidden = 1;
	v.client_name = "Portal";
	v.orgs = orgs;
	v.norgs = 3;
	v.selected = "o2";
	assert_int_equal(kt_html_page_select_org(b, &v), KT_OK);
	s = take(b);
	/* the name says its form already; the other gets the label, never
	 * the code */
	assert_non_null(strstr(s, "Muster Maschinenbau GmbH</span>"));
	assert_null(strstr(s, "GMBH"));
	assert_non_null(strstr(s, "Bäckerei Sonnenschein e.K.</span>"));
	assert_non_null(strstr(s, EVIL_ESC));
	assert_null(strstr(s, "<script>"));
	assert_int_equal(count(s, " checked"), 1);
	assert_non_null(strstr(s, "value=\"o2\" checked"));
	free(s);
	evbuffer_free(b);
}

static void test_logout(void **state)
{
	struct evbuffer *b = evbuffer_new();
	struct kt_html_logout v = {
	    .lang = "de",
	    .action = "/logout",
	    .hidden = hidden,
	    .nhidden = 3,
	    .client_name = "Portal " EVIL,
	};
	char *s;

	assert_int_equal(kt_html_page_logout_confirm(b, &v), KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<h1>Abmelden</h1>"));
	assert_non_null(strstr(s, "<strong>Portal " EVIL_ESC
				  "</strong> möchte Sie abmelden."));
	assert_non_null(strstr(s, "value=\"logout\">Abmelden</button>"));
	assert_non_null(strstr(
	    s, "value=\"cancel\" class=\"secondary\">Angemeldet bleiben"));
	free(s);

	v.client_name = NULL;
	assert_int_equal(kt_html_page_logout_confirm(b, &v), KT_OK);
	s = take(b);
	assert_non_null(strstr(s, "<p>Möchten Sie sich von Ihrem "
				  "Unternehmenskonto abmelden?</p>"));
	free(s);

	assert_int_equal(kt_html_page_logged_out(b, "de"), KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<h1>Abgemeldet</h1>"));
	assert_non_null(
	    strstr(s, "Sie können dieses Fenster jetzt schließen."));
	assert_null(strstr(s, "<form"));
	free(s);
	evbuffer_free(b);
}

static void test_message(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	assert_int_equal(
	    kt_html_page_message(b, "en", "Title " EVIL, "Text " EVIL), KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	assert_non_null(
	    strstr(s, "<title>Title " EVIL_ESC " – kontor</title>"));
	assert_non_null(strstr(s, "<h1>Title " EVIL_ESC "</h1>"));
	assert_non_null(strstr(s, "<p>Text " EVIL_ESC "</p>"));
	free(s);
	assert_int_equal(kt_html_page_message(b, "en", NULL, "x"),
			 KT_ERR_INVALID);
	evbuffer_free(b);
}

static void test_error_page(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	assert_int_equal(kt_html_page_error(b, "de", 400,
					    "invalid_redirect_uri",
					    "redirect_uri " EVIL),
			 KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<h1>Ungültige Rücksprungadresse</h1>"));
	assert_non_null(
	    strstr(s, "<p>Die Rücksprungadresse der Anwendung ist nicht "
		      "registriert.</p>"));
	assert_non_null(strstr(
	    s, "<p class=\"detail\">Details: redirect_uri " EVIL_ESC "</p>"));
	assert_non_null(
	    strstr(s, "Fehlercode: <code>invalid_redirect_uri</code>"));
	free(s);

	assert_int_equal(
	    kt_html_page_error(b, "en", 400, "invalid_redirect_uri", NULL),
	    KT_OK);
	s = take(b);
	assert_non_null(strstr(
	    s, "The application&#39;s return address is not registered."));
	assert_null(strstr(s, "class=\"detail\""));
	free(s);

	/* No error: chosen from the status; no code shown. */
	assert_int_equal(kt_html_page_error(b, "de", 404, NULL, NULL), KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<h1>Seite nicht gefunden</h1>"));
	assert_null(strstr(s, "Fehlercode"));
	free(s);
	assert_int_equal(kt_html_page_error(b, "en", 413, NULL, NULL), KT_OK);
	s = take(b);
	assert_non_null(strstr(s, "<h1>Request too large</h1>"));
	free(s);
	assert_int_equal(kt_html_page_error(b, "en", 502, NULL, NULL), KT_OK);
	s = take(b);
	assert_non_null(strstr(s, "<h1>Internal error</h1>"));
	free(s);
	assert_int_equal(kt_html_page_error(b, "en", 418, NULL, NULL), KT_OK);
	s = take(b);
	assert_non_null(strstr(s, "<h1>Something went wrong</h1>"));
	free(s);

	/* Unknown or hostile error codes: generic text, code escaped. */
	assert_int_equal(kt_html_page_error(b, "en", 400, "x" EVIL, EVIL),
			 KT_OK);
	s = take(b);
	assert_page_sane(s, "en");
	assert_non_null(strstr(s, "<h1>Something went wrong</h1>"));
	assert_non_null(strstr(s, "Error code: <code>x" EVIL_ESC "</code>"));
	free(s);
	assert_int_equal(
	    kt_html_page_error(b, "en", 400, "generic_nonexistent", NULL),
	    KT_OK);
	s = take(b);
	assert_non_null(strstr(s, "<h1>Something went wrong</h1>"));
	free(s);

	/* Every documented error has its own page in both languages. */
	{
		const char *codes[] = {
		    "invalid_request",	       "unauthorized_client",
		    "access_denied",	       "unsupported_response_type",
		    "invalid_scope",	       "server_error",
		    "temporarily_unavailable", "invalid_client",
		    "invalid_redirect_uri",    "session_expired",
		    "request_too_large",       "not_found",
		    "method_not_allowed",      "too_many_requests"};
		for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++) {
			for (int l = 0; l < 2; l++) {
				const char *lang = l ? "de" : "en";
				assert_int_equal(
				    kt_html_page_error(b, lang, 400, codes[i],
						       NULL),
				    KT_OK);
				s = take(b);
				assert_page_sane(s, lang);
				assert_null(strstr(
				    s, kt_i18n(lang, "error.generic.title")));
				free(s);
			}
		}
	}
	evbuffer_free(b);
}

static void test_form_post(void **state)
{
	struct evbuffer *b = evbuffer_new();
	const char *kv[] = {
	    "code", "SplxlOBeZQQYbYS6WxSbIA", "state", "st" EVIL,
	    "iss",  "https://idp.example",    "none",  NULL};
	char *s, *csp = NULL, h[64], expect[256];

	assert_int_equal(
	    kt_html_page_form_post(
		b, "de", "https://RP.example:8443/cb?x=1&y=\"", kv, 4, &csp),
	    KT_OK);
	s = take(b);
	assert_page_sane(s, "de");
	assert_non_null(strstr(s, "<form method=\"post\" "
				  "action=\"https://RP.example:8443/cb?x=1&amp;"
				  "y=&quot;\">"));
	assert_non_null(strstr(s, "<input type=\"hidden\" name=\"code\" "
				  "value=\"SplxlOBeZQQYbYS6WxSbIA\">"));
	assert_non_null(strstr(s, "<input type=\"hidden\" name=\"state\" "
				  "value=\"st" EVIL_ESC "\">"));
	assert_null(strstr(s, "name=\"none\""));
	assert_non_null(strstr(s, "<noscript>"));
	assert_non_null(strstr(s, "<button type=\"submit\">Weiter</button>"));
	assert_int_equal(count(s, "<script>"), 1);
	/* The script comes after the form it submits. */
	assert_true(strstr(s, "</form>") < strstr(s, "<script>"));

	/* csp_extra: the script's hash and the client's origin only. */
	inline_hash(h, s, "<script>", "</script>");
	snprintf(expect, sizeof(expect),
		 "script-src %s; form-action https://rp.example:8443", h);
	assert_string_equal(csp, expect);
	assert_null(strstr(csp, "unsafe"));
	inline_hash(h, s, "<style>", "</style>");
	assert_string_equal(h, kt_html_style_csp_source());
	free(csp);
	free(s);

	/* IPv6 literal kept, no port; the path cannot add directives. */
	assert_int_equal(kt_html_page_form_post(b, "en",
						"HTTP://[::1]/cb;script-src *",
						kv, 1, &csp),
			 KT_OK);
	assert_non_null(strstr(csp, "; form-action http://[::1]"));
	assert_null(strstr(csp, "script-src *"));
	free(csp);
	free(take(b));

	/* Anything that is not a plain http(s) origin is refused. */
	{
		const char *bad[] = {
		    "javascript:alert(1)//",  "/relative",
		    "com.example.app:/cb",    "https://ev;il.example/",
		    "https://ev,il.example/", "https://ev%20il.example/",
		    "https:///nohost",	      "https://[::1/cb",
		    "https://[::g]/cb",	      NULL};
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			csp = (char *)1;
			assert_int_equal(kt_html_page_form_post(b, "en", bad[i],
								kv, 1, &csp),
					 KT_ERR_INVALID);
			assert_null(csp);
		}
	}
	assert_int_equal(
	    kt_html_page_form_post(b, "en", "https://rp.example/", kv, 1, NULL),
	    KT_ERR_INVALID);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}

static void form_action_is(const char *uri, const char *expect)
{
	char *s = kt_html_csp_form_action(uri);

	if (expect == NULL) {
		assert_null(s);
		return;
	}
	assert_non_null(s);
	assert_string_equal(s, expect);
	free(s);
}

static void test_csp_form_action(void **state)
{
	form_action_is("https://RP.Example:8443/cb?x=1;script-src%20*",
		       "form-action https://rp.example:8443");
	form_action_is("http://127.0.0.1:51004/cb",
		       "form-action http://127.0.0.1:51004");
	form_action_is("https://[2001:DB8::1]/cb",
		       "form-action https://[2001:db8::1]");
	/* Native apps (RFC 8252 7.1): the scheme only. */
	form_action_is("com.Example.App:/oauth2redirect",
		       "form-action com.example.app:");
	form_action_is("x-app+v1.2:cb", "form-action x-app+v1.2:");

	form_action_is(NULL, NULL);
	form_action_is("", NULL);
	form_action_is("/relative", NULL);
	form_action_is("javascript:alert(1)", NULL);
	form_action_is("JavaScript:alert(1)", NULL);
	form_action_is("data:text/html,x", NULL);
	form_action_is("file:///etc/passwd", NULL);
	form_action_is("blob:https://x/1", NULL);
	form_action_is("1app:/cb", NULL);
	form_action_is("ap;p:/cb", NULL);
	form_action_is("https://ev;il.example/", NULL);
	form_action_is("https://ev'il.example/", NULL);
	form_action_is("https:///cb", NULL);
	form_action_is("http:cb", NULL);
}

static void test_style_hash(void **state)
{
	const char *a = kt_html_style_csp_source(), *b2;

	assert_int_equal(strncmp(a, "'sha256-", 8), 0);
	assert_int_equal(strlen(a), 8 + 44 + 1);
	assert_int_equal(a[strlen(a) - 1], '\'');
	b2 = kt_html_style_csp_source();
	assert_ptr_equal(a, b2);
}

/* ------------------------------------------------------------------ */
/* i18n                                                                 */

static void test_i18n_complete(void **state)
{
	size_t n = kt_i18n_size();

	assert_true(n > 50);
	assert_null(kt_i18n_key_at(n));
	for (size_t i = 0; i < n; i++) {
		const char *key = kt_i18n_key_at(i);
		const char *de = kt_i18n("de", key), *en = kt_i18n("en", key);
		const char *phs[] = {"{client}", "{account}", "{scope}"};

		assert_non_null(key);
		assert_true(kt_i18n_has(key));
		/* Present, non-empty and not the key fallback, in both. */
		assert_non_null(de);
		assert_non_null(en);
		assert_true(*de != '\0');
		assert_true(*en != '\0');
		assert_ptr_not_equal(de, key);
		assert_ptr_not_equal(en, key);
		assert_true(kt_utf8_valid(de, strlen(de)));
		assert_true(kt_utf8_valid(en, strlen(en)));
		/* The same placeholders in both languages. */
		for (size_t k = 0; k < 3; k++)
			assert_int_equal(count(de, phs[k]), count(en, phs[k]));
		/* Keys are unique. */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(kt_i18n_key_at(j), key);
	}
}

static void test_i18n_lookup(void **state)
{
	assert_string_equal(kt_i18n("de", "login.title"), "Anmelden");
	assert_string_equal(kt_i18n("en", "login.title"), "Sign in");
	assert_string_equal(kt_i18n("fr", "login.title"), "Sign in");
	assert_string_equal(kt_i18n(NULL, "login.title"), "Sign in");
	assert_string_equal(kt_i18n("DE", "login.title"), "Sign in");
	assert_string_equal(kt_i18n("de", "no.such.key"), "no.such.key");
	assert_null(kt_i18n("de", NULL));
	assert_false(kt_i18n_has("no.such.key"));
	assert_false(kt_i18n_has(NULL));
	assert_string_equal(kt_i18n_lang("de"), "de");
	assert_string_equal(kt_i18n_lang("en"), "en");
	assert_string_equal(kt_i18n_lang("xx"), "en");
	assert_string_equal(kt_i18n_lang(NULL), "en");
	/* One message for unknown e-mail and wrong password. */
	assert_string_equal(kt_i18n("de", "login.error.credentials"),
			    "E-Mail-Adresse oder Passwort ist falsch.");
	/* Umlauts are UTF-8, not entities or transliterations. */
	assert_string_equal(kt_i18n("de", "select.title"),
			    "Konto ausw\xc3\xa4hlen");
	assert_string_equal(kt_i18n("en", "error.invalid_redirect_uri.text"),
			    "The application's return address is not "
			    "registered.");
}

/* Every key the brief requires exists (the table test covers both langs). */
static void test_i18n_required_keys(void **state)
{
	const char *keys[] = {
	    "login.title",
	    "login.email",
	    "login.password",
	    "login.submit",
	    "login.error.credentials",
	    "login.error.throttled",
	    "login.error.expired",
	    "consent.wants_access",
	    "scope.openid",
	    "scope.profile",
	    "scope.email",
	    "scope.offline_access",
	    "consent.allow",
	    "consent.deny",
	    "select.continue_as",
	    "select.other_account",
	    "logout.confirm",
	    "logged_out.title",
	    "error.invalid_request.title",
	    "error.unauthorized_client.title",
	    "error.access_denied.title",
	    "error.unsupported_response_type.title",
	    "error.invalid_scope.title",
	    "error.server_error.title",
	    "error.temporarily_unavailable.title",
	    "error.invalid_client.title",
	    "error.invalid_redirect_uri.title",
	    "error.request_too_large.title",
	    "error.not_found.title",
	    "error.method_not_allowed.title",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		assert_true(kt_i18n_has(keys[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_login),
	    cmocka_unit_test(test_bad_actions),
	    cmocka_unit_test(test_consent),
	    cmocka_unit_test(test_select_account),
	    cmocka_unit_test(test_select_org),
	    cmocka_unit_test(test_logout),
	    cmocka_unit_test(test_message),
	    cmocka_unit_test(test_error_page),
	    cmocka_unit_test(test_form_post),
	    cmocka_unit_test(test_csp_form_action),
	    cmocka_unit_test(test_style_hash),
	    cmocka_unit_test(test_i18n_complete),
	    cmocka_unit_test(test_i18n_lookup),
	    cmocka_unit_test(test_i18n_required_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
