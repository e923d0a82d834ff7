/*
 * Authorization request validation (idp/authorize.h, kt_authz_validate)
 * with clients built by kt_client_from_json, plus kt_scope_has and
 * kt_tok_jti_gid (idp/tokens.h). Each rejection is checked for the exact
 * OAuth error and description that goes back to the redirect_uri.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/client.h"
#include "kontor/config.h"
#include "kontor/err.h"
#include "kontor/params.h"

#include "authorize.h"
#include "tokens.h"

#define SECRET "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"
#define CB "https%3A%2F%2Frp.example.de%2Fcb"
/* A valid S256 challenge (43 characters). */
#define CHAL "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define BASE                                                                   \
	"response_type=code&redirect_uri=" CB "&code_challenge=" CHAL          \
	"&code_challenge_method=S256"

static struct kt_client *web, *nopkce, *narrow, *machine, *dyn;
static struct kt_config cfg; /* kt_authz_validate needs no setting */

/* The outcome of the last validation. */
static int rc;
static json_t *areq;
static const char *error, *desc;

static struct kt_client *client(const char *text,
				const struct kt_client_policy *pol)
{
	struct kt_client *c = NULL;
	struct kt_error err;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (j == NULL)
		return NULL;
	if (kt_client_from_json(j, "", pol, &c, NULL, &err) != KT_OK)
		fprintf(stderr, "client rejected: %s\n", err.msg);
	json_decref(j);
	return c;
}

static int group_setup(void **state)
{
	static const struct kt_client_policy conf = {0};
	static const struct kt_client_policy dynpol = {
	    .dynamic = 1,
	    .client_id = "dyn-1",
	    .secret_hmac = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    .created_at = 1700000000,
	};

	web = client("{\"client_id\":\"web\",\"client_secret\":\"" SECRET "\","
		     "\"redirect_uris\":[\"https://rp.example.de/cb\"],"
		     "\"grant_types\":[\"authorization_code\","
		     "\"refresh_token\"]}",
		     &conf);
	nopkce = client("{\"client_id\":\"legacy\",\"client_secret\":\"" SECRET
			"\",\"redirect_uris\":[\"https://rp.example.de/cb\"],"
			"\"require_pkce\":false}",
			&conf);
	narrow = client("{\"client_id\":\"narrow\",\"client_secret\":\"" SECRET
			"\",\"redirect_uris\":[\"https://rp.example.de/cb\"],"
			"\"scope\":\"openid email\"}",
			&conf);
	machine =
	    client("{\"client_id\":\"machine\",\"client_secret\":\"" SECRET
		   "\",\"grant_types\":[\"client_credentials\"],"
		   "\"scope\":\"openid\"}",
		   &conf);
	dyn = client("{\"redirect_uris\":[\"https://rp.example.de/cb\"],"
		     "\"client_name\":\"Dyn\"}",
		     &dynpol);
	return web && nopkce && narrow && machine && dyn ? 0 : -1;
}

static int group_teardown(void **state)
{
	json_decref(areq);
	kt_client_free(web);
	kt_client_free(nopkce);
	kt_client_free(narrow);
	kt_client_free(machine);
	kt_client_free(dyn);
	return 0;
}

/* Validate the query string q for client c. */
static int validate(const struct kt_client *c, const char *q)
{
	struct kt_params *p = NULL;
	struct kt_error err;

	json_decref(areq);
	areq = NULL;
	error = desc = NULL;
	if (kt_params_parse(q, strlen(q), NULL, &p, &err) != KT_OK)
		fail_msg("test query: %s", err.msg);
	rc = kt_authz_validate(&cfg, c, p, &areq, &error, &desc);
	kt_params_free(p);
	if (rc == KT_OK) {
		assert_non_null(areq);
	} else {
		assert_null(areq);
		assert_non_null(error);
		assert_non_null(desc);
	}
	return rc;
}

static void ok(const struct kt_client *c, const char *q)
{
	if (validate(c, q) != KT_OK)
		fail_msg("rejected (%s: %s): %s", error, desc, q);
}

static void bad(const struct kt_client *c, const char *q, const char *e,
		const char *d)
{
	if (validate(c, q) == KT_OK)
		fail_msg("accepted: %s", q);
	assert_int_equal(rc, KT_ERR_INVALID);
	assert_string_equal(error, e);
	assert_string_equal(desc, d);
}

static const char *field(const char *k)
{
	return json_string_value(json_object_get(areq, k));
}

static char *repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* ---- the normalised request --------------------------------------------- */

static void test_valid(void **state)
{
	ok(web, BASE "&scope=openid%20email&state=xyz&nonce=n-1"
		     "&login_hint=a%40example.de&ui_locales=de%20en"
		     "&acr_values=0&prompt=login%20consent&max_age=300"
		     "&response_mode=form_post&unknown=ignored");
	assert_string_equal(field("client_id"), "web");
	assert_string_equal(field("redirect_uri"), "https://rp.example.de/cb");
	assert_string_equal(field("scope"), "openid email");
	assert_string_equal(field("state"), "xyz");
	assert_string_equal(field("nonce"), "n-1");
	assert_string_equal(field("login_hint"), "a@example.de");
	assert_string_equal(field("ui_locales"), "de en");
	assert_string_equal(field("acr_values"), "0");
	assert_string_equal(field("prompt"), "login consent");
	assert_string_equal(field("max_age"), "300");
	assert_string_equal(field("response_mode"), "form_post");
	assert_string_equal(field("code_challenge"), CHAL);
	/* Only what the later steps need; nothing unknown is carried. */
	assert_int_equal(json_object_size(areq), 12);
	assert_null(json_object_get(areq, "unknown"));
	assert_null(json_object_get(areq, "response_type"));

	/* The minimum: empty optional parameters are as good as absent. */
	ok(web, BASE "&scope=openid&state=&nonce=&prompt=");
	assert_int_equal(json_object_size(areq), 4);
	assert_null(field("state"));
	assert_null(field("prompt"));
	assert_null(field("response_mode"));
	ok(web, BASE "&scope=openid&response_mode=query");
	assert_string_equal(field("response_mode"), "query");
	ok(dyn, BASE "&scope=openid");
	assert_string_equal(field("client_id"), "dyn-1");
}

/* ---- response_type and response_mode ------------------------------------ */

static void test_response_type(void **state)
{
	const char *q = "redirect_uri=" CB "&scope=openid&code_challenge=" CHAL
			"&code_challenge_method=S256";
	char buf[512];

	bad(web, q, "invalid_request", "response_type is required");
	snprintf(buf, sizeof(buf), "%s&response_type=", q);
	bad(web, buf, "unsupported_response_type",
	    "only response_type=code is supported");
	static const char *const others[] = {
	    "token",   "id_token", "code%20id_token", "code%20token", "CODE",
	    "code%20", "none"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&response_type=%s", q, others[i]);
		bad(web, buf, "unsupported_response_type",
		    "only response_type=code is supported");
	}
	/* A client without the authorization_code grant. */
	bad(machine, BASE "&scope=openid", "unsupported_response_type",
	    "only response_type=code is supported");
}

static void test_response_mode(void **state)
{
	static const char *const modes[] = {
	    "fragment", "form_post.jwt", "query.jwt", "jwt", "Query", ""};
	char buf[512];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&scope=openid&response_mode=%s",
			 BASE, modes[i]);
		bad(web, buf, "invalid_request",
		    "response_mode must be query or form_post");
	}
	/* Checked before anything else: it decides how errors travel. */
	bad(web, "response_mode=fragment", "invalid_request",
	    "response_mode must be query or form_post");
}

static void test_request_object(void **state)
{
	bad(web, BASE "&scope=openid&request=eyJhbGciOiJub25lIn0.e30.",
	    "request_not_supported", "request objects are not supported");
	bad(web, BASE "&scope=openid&request=", "request_not_supported",
	    "request objects are not supported");
	/* Even when everything else is missing. */
	bad(web, "request=x", "request_not_supported",
	    "request objects are not supported");
}

/* ---- scope -------------------------------------------------------------- */

static void test_scope(void **state)
{
	char *many, *buf;
	size_t n = 0;

	/* Filtered to what the client may have, in request order, once. */
	ok(web, BASE "&scope=email%20bogus%20openid%20email");
	assert_string_equal(field("scope"), "email openid");
	ok(narrow, BASE "&scope=profile%20openid%20offline_access%20email");
	assert_string_equal(field("scope"), "openid email");
	ok(web, BASE "&scope=%20openid%20%20profile%20");
	assert_string_equal(field("scope"), "openid profile");

	bad(web, BASE, "invalid_scope",
	    "none of the requested scopes is allowed for this client");
	bad(web, BASE "&scope=", "invalid_scope",
	    "none of the requested scopes is allowed for this client");
	bad(narrow, BASE "&scope=profile%20offline_access", "invalid_scope",
	    "none of the requested scopes is allowed for this client");
	/* Not RFC 6749 scope-tokens. */
	bad(web, BASE "&scope=openid%20%22x%22", "invalid_scope",
	    "malformed scope");
	bad(web, BASE "&scope=openid%5Cx", "invalid_scope", "malformed scope");
	bad(web, BASE "&scope=%C3%A4", "invalid_scope", "malformed scope");
	bad(web, BASE "&scope=openid%09email", "invalid_scope",
	    "malformed scope");

	/* Too many tokens or too long: refused, not silently cut. */
	many = malloc(8 * 100 + 1);
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(many + n, 9, "%ss%02d", i ? "+" : "", i);
	buf = malloc(strlen(many) + 256);
	snprintf(buf, strlen(many) + 256, "%s&scope=openid+%s", BASE, many);
	bad(web, buf, "invalid_scope", "malformed scope");
	free(buf);
	free(many);
	many = repeat('a', KT_CLIENT_SCOPE_MAX + 1);
	buf = malloc(strlen(many) + 256);
	snprintf(buf, strlen(many) + 256, "%s&scope=openid+%s", BASE, many);
	bad(web, buf, "invalid_scope", "malformed scope");
	free(buf);
	free(many);
}

/* ---- PKCE --------------------------------------------------------------- */

static void test_pkce(void **state)
{
	const char *pre = "response_type=code&scope=openid&redirect_uri=" CB;
	char buf[512];
	char *c128 = repeat('a', 128), *c129 = repeat('a', 129);
	char *c42 = repeat('a', 42);

	/* Required by default, and for every dynamic client. */
	bad(web, pre, "invalid_request",
	    "code_challenge (PKCE with S256) is required");
	bad(dyn, pre, "invalid_request",
	    "code_challenge (PKCE with S256) is required");
	bad(narrow, pre, "invalid_request",
	    "code_challenge (PKCE with S256) is required");
	/* A method without a challenge is no PKCE either. */
	snprintf(buf, sizeof(buf), "%s&code_challenge_method=S256", pre);
	bad(web, buf, "invalid_request",
	    "code_challenge (PKCE with S256) is required");
	/* Optional where the configuration says so ... */
	ok(nopkce, pre);
	assert_null(field("code_challenge"));
	/* ... but if used, used right. */
	snprintf(buf, sizeof(buf), "%s&code_challenge=" CHAL, pre);
	bad(nopkce, buf, "invalid_request",
	    "code_challenge_method must be S256");

	/* plain is refused; the method is case-sensitive; the default
	 * (absent = plain, RFC 7636 4.3) is refused too. */
	static const char *const methods[] = {"plain", "s256", "S512", "",
					      "S256%20"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(buf, sizeof(buf),
			 "%s&code_challenge=" CHAL "&code_challenge_method=%s",
			 pre, methods[i]);
		bad(web, buf, "invalid_request",
		    "code_challenge_method must be S256");
	}
	snprintf(buf, sizeof(buf), "%s&code_challenge=" CHAL, pre);
	bad(web, buf, "invalid_request", "code_challenge_method must be S256");

	/* Malformed challenges: length 43..128 of [A-Za-z0-9-._~]. */
	const char *const chals[] = {
	    c42,
	    c129,
	    "",
	    CHAL "%2B",
	    CHAL "=",
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw%2FcM",
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw%20cM"};
	for (size_t i = 0; i < sizeof(chals) / sizeof(chals[0]); i++) {
		snprintf(buf, sizeof(buf),
			 "%s&code_challenge=%s&code_challenge_method=S256", pre,
			 chals[i]);
		bad(web, buf, "invalid_request", "malformed code_challenge");
	}
	snprintf(buf, sizeof(buf),
		 "%s&code_challenge=%s&code_challenge_method=S256", pre, c128);
	ok(web, buf);
	assert_string_equal(field("code_challenge"), c128);
	snprintf(buf, sizeof(buf),
		 "%s&code_challenge=a-._~0123456789abcdefghijklmnopqrstuvwxyzAB"
		 "&code_challenge_method=S256",
		 pre);
	ok(web, buf);
	free(c128);
	free(c129);
	free(c42);
}

/* ---- prompt ------------------------------------------------------------- */

static void test_prompt(void **state)
{
	static const char *const good[] = {"none",
					   "login",
					   "consent",
					   "select_account",
					   "login%20consent",
					   "consent%20select_account%20login",
					   "%20login%20%20",
					   "login%20login"};
	static const char *const unknown[] = {
	    "None",	     "logon",		"create",
	    "login,consent", "login%09consent", "none%0A"};
	static const char *const with_none[] = {
	    "none%20login", "consent%20none", "none%20none",
	    "select_account%20none%20login"};
	char buf[512];
	char *longp;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&scope=openid&prompt=%s", BASE,
			 good[i]);
		ok(web, buf);
		assert_non_null(field("prompt"));
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&scope=openid&prompt=%s", BASE,
			 unknown[i]);
		bad(web, buf, "invalid_request", "unsupported prompt value");
	}
	for (size_t i = 0; i < sizeof(with_none) / sizeof(with_none[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&scope=openid&prompt=%s", BASE,
			 with_none[i]);
		bad(web, buf, "invalid_request",
		    "prompt=none cannot be combined with other values");
	}
	/* A space-only prompt is as good as none. */
	ok(web, BASE "&scope=openid&prompt=%20");
	/* At most 127 bytes (decoded). */
	for (size_t len = 126; len <= 129; len++) {
		size_t cap = sizeof(BASE) + 64 + 3 * len, n;
		longp = malloc(cap);
		n = (size_t)snprintf(longp, cap, "%s&scope=openid&prompt=login",
				     BASE);
		for (size_t i = 5; i < len; i++)
			n += (size_t)snprintf(longp + n, cap - n, "%%20");
		if (len < 128)
			ok(web, longp);
		else
			bad(web, longp, "invalid_request", "malformed prompt");
		free(longp);
	}
}

/* ---- max_age ------------------------------------------------------------ */

static void test_max_age(void **state)
{
	static const char *const good[] = {"0", "1", "3600", "315360000",
					   "007"};
	static const char *const badv[] = {"",
					   "-1",
					   "1e3",
					   "%2B5",
					   "0x10",
					   "%201",
					   "1%20",
					   "3.5",
					   "abc",
					   "315360001",
					   "99999999999999999999999"};
	char buf[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&scope=openid&max_age=%s", BASE,
			 good[i]);
		ok(web, buf);
		assert_string_equal(field("max_age"), good[i]);
	}
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		snprintf(buf, sizeof(buf), "%s&scope=openid&max_age=%s", BASE,
			 badv[i]);
		bad(web, buf, "invalid_request",
		    "max_age must be a non-negative integer");
	}
}

/* ---- lengths ------------------------------------------------------------ */

static void test_lengths(void **state)
{
	static const struct {
		const char *name;
		size_t max;
	} lim[] = {{"state", 2048},
		   {"nonce", 512},
		   {"login_hint", 256},
		   {"ui_locales", 256},
		   {"acr_values", 256}};
	char *v, *q;

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		v = repeat('x', lim[i].max);
		q = malloc(strlen(v) + 256);
		snprintf(q, strlen(v) + 256, "%s&scope=openid&%s=%s", BASE,
			 lim[i].name, v);
		ok(web, q);
		assert_string_equal(field(lim[i].name), v);
		free(q);
		free(v);
		v = repeat('x', lim[i].max + 1);
		q = malloc(strlen(v) + 256);
		snprintf(q, strlen(v) + 256, "%s&scope=openid&%s=%s", BASE,
			 lim[i].name, v);
		bad(web, q, "invalid_request", "a parameter is too long");
		free(q);
		free(v);
	}
	/* The length check comes first: an overlong state is not echoed
	 * back in the error (there is no request to echo it from). */
	v = repeat('s', 3000);
	q = malloc(strlen(v) + 64);
	snprintf(q, strlen(v) + 64, "state=%s&response_mode=fragment", v);
	bad(web, q, "invalid_request", "a parameter is too long");
	free(q);
	free(v);
}

/* ---- kt_scope_has ------------------------------------------------------- */

static void test_scope_has(void **state)
{
	assert_true(kt_scope_has("openid", "openid"));
	assert_true(kt_scope_has("openid profile email", "openid"));
	assert_true(kt_scope_has("openid profile email", "profile"));
	assert_true(kt_scope_has("openid profile email", "email"));
	assert_true(kt_scope_has("emails email", "email"));
	/* Whole tokens only. */
	assert_false(kt_scope_has("openid profile", "open"));
	assert_false(kt_scope_has("openid profile", "penid"));
	assert_false(kt_scope_has("openid profile", "id"));
	assert_true(kt_scope_has("openid profile", "openid profile"));
	assert_false(kt_scope_has("emails", "email"));
	assert_false(kt_scope_has("xemail", "email"));
	assert_false(kt_scope_has("openid", "OPENID"));
	assert_false(kt_scope_has("openid\temail", "email"));
	/* Empty and missing. */
	assert_false(kt_scope_has(NULL, "openid"));
	assert_false(kt_scope_has("", "openid"));
	assert_false(kt_scope_has("openid email", ""));
	assert_false(kt_scope_has("", ""));
	assert_false(kt_scope_has("openid", NULL));
	/* Space-separated as the prompt values are. */
	assert_true(kt_scope_has("login consent", "consent"));
	assert_true(kt_scope_has(" login  consent ", "consent"));
	assert_false(kt_scope_has("login", "none"));
}

/* ---- kt_tok_jti_gid ----------------------------------------------------- */

static void test_jti_gid(void **state)
{
	char gid[64], j[200];

	memset(gid, 'x', sizeof(gid));
	assert_int_equal(kt_tok_jti_gid("g-1.r4nd0m", gid, sizeof(gid)), KT_OK);
	assert_string_equal(gid, "g-1");
	/* The first dot splits; the random part may hold more. */
	assert_int_equal(kt_tok_jti_gid("g.r.s", gid, sizeof(gid)), KT_OK);
	assert_string_equal(gid, "g");
	assert_int_equal(kt_tok_jti_gid("g.", gid, sizeof(gid)), KT_OK);
	assert_string_equal(gid, "g");

	/* No grant (client_credentials tokens). */
	memset(gid, 'x', sizeof(gid));
	assert_int_equal(kt_tok_jti_gid("r4nd0m", gid, sizeof(gid)),
			 KT_ERR_NOTFOUND);
	assert_string_equal(gid, "");
	assert_int_equal(kt_tok_jti_gid("", gid, sizeof(gid)), KT_ERR_NOTFOUND);
	assert_string_equal(gid, "");

	/* Empty or too long grant id. */
	memset(gid, 'x', sizeof(gid));
	assert_int_equal(kt_tok_jti_gid(".r", gid, sizeof(gid)),
			 KT_ERR_INVALID);
	assert_string_equal(gid, "");
	memset(j, 'g', 63);
	snprintf(j + 63, sizeof(j) - 63, ".r");
	assert_int_equal(kt_tok_jti_gid(j, gid, sizeof(gid)), KT_OK);
	assert_int_equal(strlen(gid), 63);
	memset(j, 'g', 64);
	snprintf(j + 64, sizeof(j) - 64, ".r");
	assert_int_equal(kt_tok_jti_gid(j, gid, sizeof(gid)), KT_ERR_INVALID);
	assert_string_equal(gid, "");
	assert_int_equal(kt_tok_jti_gid("abc.r", gid, 3), KT_ERR_INVALID);
	assert_int_equal(kt_tok_jti_gid("abc.r", gid, 4), KT_OK);
	assert_string_equal(gid, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_response_type),
	    cmocka_unit_test(test_response_mode),
	    cmocka_unit_test(test_request_object),
	    cmocka_unit_test(test_scope),
	    cmocka_unit_test(test_pkce),
	    cmocka_unit_test(test_prompt),
	    cmocka_unit_test(test_max_age),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_scope_has),
	    cmocka_unit_test(test_jti_gid),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
