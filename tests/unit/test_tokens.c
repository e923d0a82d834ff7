/*
 * The token endpoint's hand-written JSON (idp/tokens.c): the access token's
 * claims and the token response are written without jansson on the hot
 * path, so these tests hold them to what json_pack + json_dumps produced
 * before, byte for byte, and check that a value that is not UTF-8 fails
 * the way json_pack failed instead of going out altered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

#include "kontor/client.h"
#include "kontor/config.h"
#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "gateway.h"
#include "tokens.h"

static char tmp[] = "/tmp/kt-test-tokens-XXXXXX";
static char keydir[64];
static struct kt_config cfg;
static struct kt_runtime rt;
static struct kt_req req;
static struct kt_client *portal, *machine;

static struct kt_client *client(const char *text)
{
	static const struct kt_client_policy pol = {0};
	struct kt_client *c = NULL;
	struct kt_error err;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (j == NULL)
		return NULL;
	if (kt_client_from_json(j, "", &pol, &c, NULL, &err) != KT_OK)
		fprintf(stderr, "client rejected: %s\n", err.msg);
	json_decref(j);
	return c;
}

static int group_setup(void **state)
{
	struct kt_error err;

	(void)state;
	kt_log_init(KT_LOG_OFF, 2);
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(keydir, sizeof(keydir), "%s/keys", tmp);
	if (kt_keyset_generate(keydir, 0, &err) != KT_OK ||
	    kt_keyset_load(keydir, 3600, &rt.keys, &err) != KT_OK) {
		fprintf(stderr, "keys: %s\n", err.msg);
		return -1;
	}
	cfg.issuer = (char *)"https://login.example.de";
	cfg.tokens_access_token_ttl_s = 300;
	rt.cfg = &cfg;
	req.rt = &rt;
	portal = client("{\"client_id\":\"portal\",\"client_secret\":"
			"\"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\","
			"\"redirect_uris\":[\"https://rp.example.de/cb\"]}");
	machine = client("{\"client_id\":\"machine-1\",\"client_secret\":"
			 "\"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\","
			 "\"grant_types\":[\"client_credentials\"]}");
	return portal && machine ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	kt_client_free(portal);
	kt_client_free(machine);
	kt_keyset_free(rt.keys);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* The payload of a compact JWS, as bytes, NUL-terminated. */
static char *payload_of(const char *jws)
{
	const char *a = strchr(jws, '.') + 1, *b = strchr(a, '.');
	size_t len, cap = (size_t)(b - a);
	char *out = malloc(cap + 1);

	assert_non_null(out);
	assert_int_equal(kt_b64url_decode(out, cap, &len, a, (size_t)(b - a)),
			 KT_OK);
	out[len] = '\0';
	return out;
}

static void check_same(const char *got, json_t *want)
{
	char *w = json_dumps(want, JSON_COMPACT);

	assert_non_null(w);
	assert_string_equal(got, w);
	free(w);
	json_decref(want);
}

static void test_access_person(void **state)
{
	struct kt_tok_subject s = {0};
	struct kt_error err;
	char *at = NULL, *pl, sub[KT_PAIRWISE_LEN + 1];
	json_t *h = NULL, *p = NULL, *want;
	int64_t iat;

	(void)state;
	s.person = "p-1";
	s.scope = "openid email";
	s.gid = "g-123";
	s.auth_time = 1700000000;
	s.acr = "urn:kontor:acr:password";
	s.sid = "sid-\xc3\xa4";
	assert_int_equal(kt_tok_access(&req, portal, &s, &at), KT_OK);
	assert_int_equal(kt_keyset_verify(rt.keys, at, &h, &p, &err), KT_OK);
	assert_string_equal(json_string_value(json_object_get(h, "typ")),
			    "at+jwt");
	assert_string_equal(json_string_value(json_object_get(h, "alg")),
			    "ES256");
	assert_int_equal(kt_tok_sub(&req, portal, "p-1", sub), KT_OK);
	iat = json_integer_value(json_object_get(p, "iat"));
	assert_true(iat >= kt_now() - 5 && iat <= kt_now());
	assert_int_equal(strncmp(json_string_value(json_object_get(p, "jti")),
				 "g-123.", 6),
			 0);
	want = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "iss",
			 cfg.issuer, "sub", sub, "aud", cfg.issuer, "client_id",
			 "portal", "iat", (json_int_t)iat, "exp",
			 (json_int_t)(iat + 300), "jti",
			 json_string_value(json_object_get(p, "jti")), "scope",
			 "openid email");
	json_object_set_new(want, "auth_time", json_integer(1700000000));
	json_object_set_new(want, "acr", json_string(s.acr));
	json_object_set_new(want, "sid", json_string(s.sid));
	pl = payload_of(at);
	check_same(pl, want);
	free(pl);
	json_decref(h);
	json_decref(p);
	free(at);
}

static void test_access_client(void **state)
{
	struct kt_tok_subject s = {0};
	struct kt_error err;
	char *at = NULL, *pl;
	json_t *p = NULL, *want;
	const char *jti;
	int64_t iat;

	(void)state;
	/* client_credentials: no person, no grant; values that need escaping
	 * come out exactly as jansson wrote them. */
	s.scope = "api \"q\" \\ x\ny";
	assert_int_equal(kt_tok_access(&req, machine, &s, &at), KT_OK);
	assert_int_equal(kt_keyset_verify(rt.keys, at, NULL, &p, &err), KT_OK);
	iat = json_integer_value(json_object_get(p, "iat"));
	jti = json_string_value(json_object_get(p, "jti"));
	assert_int_equal(strlen(jti), 22);
	assert_null(strchr(jti, '.'));
	assert_string_equal(json_string_value(json_object_get(p, "scope")),
			    s.scope);
	want = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "iss",
			 cfg.issuer, "sub", "machine-1", "aud", cfg.issuer,
			 "client_id", "machine-1", "iat", (json_int_t)iat,
			 "exp", (json_int_t)(iat + 300), "jti", jti, "scope",
			 s.scope);
	pl = payload_of(at);
	check_same(pl, want);
	free(pl);
	json_decref(p);
	free(at);

	/* A value json_pack would have refused: no token at all. */
	s.acr = "bad\xff";
	at = (char *)"sentinel";
	assert_int_equal(kt_tok_access(&req, machine, &s, &at),
			 KT_ERR_INVALID);
	assert_null(at);
}

static void test_response(void **state)
{
	char *body = NULL;
	json_t *want;

	(void)state;
	assert_int_equal(kt_tok_response("a.b.c", 300, "api", NULL, NULL,
					 &body),
			 KT_OK);
	check_same(body, json_pack("{s:s,s:s,s:I,s:s}", "access_token",
				   "a.b.c", "token_type", "Bearer",
				   "expires_in", (json_int_t)300, "scope",
				   "api"));
	kt_free_secret(body);

	assert_int_equal(kt_tok_response("a.b.c", 3600, "openid \"q\" \\ \xc3\xbc",
					 "i.d.t", "g.rt", &body),
			 KT_OK);
	want = json_pack("{s:s,s:s,s:I,s:s}", "access_token", "a.b.c",
			 "token_type", "Bearer", "expires_in",
			 (json_int_t)3600, "scope",
			 "openid \"q\" \\ \xc3\xbc");
	json_object_set_new(want, "id_token", json_string("i.d.t"));
	json_object_set_new(want, "refresh_token", json_string("g.rt"));
	check_same(body, want);
	kt_free_secret(body);

	/* Only one of the optional members, and a NULL scope as "". */
	assert_int_equal(kt_tok_response("x", 1, NULL, NULL, "r", &body),
			 KT_OK);
	assert_string_equal(body, "{\"access_token\":\"x\",\"token_type\":"
				  "\"Bearer\",\"expires_in\":1,\"scope\":\"\","
				  "\"refresh_token\":\"r\"}");
	kt_free_secret(body);

	body = (char *)"sentinel";
	assert_int_equal(kt_tok_response("x", 1, "api\xc3", NULL, NULL, &body),
			 KT_ERR_INVALID);
	assert_null(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_access_person),
	    cmocka_unit_test(test_access_client),
	    cmocka_unit_test(test_response),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
