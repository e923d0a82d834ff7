#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/client.h"
#include "kontor/err.h"

#define SECRET "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"
#define BAD_URI "invalid_redirect_uri"
#define BAD_META "invalid_client_metadata"

static const struct kt_client_policy config_pol = {0};
static const struct kt_client_policy config_pol_http = {.allow_http_loopback =
							    1};
static const struct kt_client_policy dyn_pol = {
    .dynamic = 1,
    .client_id = "dyn-123",
    .secret_hmac = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    .created_at = 1700000000,
};

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

	if (j == NULL)
		fail_msg("test JSON: %s: %s", e.text, text);
	return j;
}

static struct kt_client *load_ok(const char *text,
				 const struct kt_client_policy *pol)
{
	struct kt_client *c = NULL;
	struct kt_error err;
	const char *oerr = "unset";
	json_t *j = parse(text);
	int r = kt_client_from_json(j, ".clients[0]", pol, &c, &oerr, &err);

	json_decref(j);
	if (r != KT_OK)
		fail_msg("rejected: %s (%s)", err.msg, text);
	assert_null(oerr);
	assert_non_null(c);
	return c;
}

/* Every metadata value the client echoes, compared as JSON. */
static void assert_json(const json_t *got, const char *want)
{
	json_t *w = parse(want);

	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		char *x = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(stderr, "got:  %s\nwant: %s\n", g, x);
		free(g);
		free(x);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

static void test_defaults(void **state)
{
	struct kt_client *c = load_ok(
	    "{\"client_id\":\"portal\",\"client_secret\":\"" SECRET "\","
	    "\"redirect_uris\":[\"https://rp.example.com/cb\"]}",
	    &config_pol);

	assert_string_equal(c->client_id, "portal");
	assert_string_equal(c->secret, SECRET);
	assert_null(c->secret_hmac);
	assert_null(c->client_name);
	assert_int_equal(c->auth_method, KT_AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(c->n_redirect_uris, 1);
	assert_string_equal(c->redirect_uris[0], "https://rp.example.com/cb");
	assert_null(c->redirect_uris[1]);
	assert_int_equal(c->n_post_logout_redirect_uris, 0);
	assert_null(c->post_logout_redirect_uris[0]);
	assert_int_equal(c->grant_types, KT_GRANT_AUTHORIZATION_CODE);
	assert_string_equal(c->scope, "openid profile email offline_access");
	assert_null(c->jwks);
	assert_string_equal(c->id_token_alg, "RS256");
	assert_true(c->require_pkce);
	assert_false(c->skip_consent);
	assert_int_equal(c->application_type, KT_APP_WEB);
	assert_null(c->backchannel_logout_uri);
	assert_string_equal(c->subject_type, "pairwise");
	assert_string_equal(c->sector, "rp.example.com");
	assert_false(c->organisation_required);
	assert_false(c->dynamic);
	assert_int_equal(c->created_at, 0);
	assert_json(c->metadata,
		    "{\"redirect_uris\":[\"https://rp.example.com/cb\"],"
		    "\"grant_types\":[\"authorization_code\"],"
		    "\"response_types\":[\"code\"],"
		    "\"token_endpoint_auth_method\":\"client_secret_basic\","
		    "\"scope\":\"openid profile email offline_access\","
		    "\"id_token_signed_response_alg\":\"RS256\","
		    "\"application_type\":\"web\",\"subject_type\":\"pairwise\","
		    "\"organisation_required\":false,"
		    "\"require_pkce\":true,\"skip_consent\":false,"
		    "\"sector_identifier\":\"rp.example.com\"}");
	kt_client_free(c);
}

static const char full_client[] =
    "{\"client_id\":\"crm.intern-1_~\",\"client_secret\":\"" SECRET "\","
    "\"client_name\":\"CRM (Vertrieb) \xc3\xa4\xc3\xb6\xc3\xbc\","
    "\"token_endpoint_auth_method\":\"client_secret_post\","
    "\"redirect_uris\":[\"https://crm.example.de/cb\","
    "\"http://127.0.0.1:9000/cb\"],"
    "\"post_logout_redirect_uris\":[\"https://crm.example.de/bye\"],"
    "\"grant_types\":[\"refresh_token\",\"authorization_code\","
    "\"client_credentials\",\"refresh_token\"],"
    "\"response_types\":[\"code\"],"
    "\"scope\":\"openid  email openid profile\","
    "\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"x\","
    "\"y\":\"y\"}]},"
    "\"id_token_signed_response_alg\":\"ES256\","
    "\"application_type\":\"native\",\"subject_type\":\"pairwise\","
    "\"backchannel_logout_uri\":\"https://crm.example.de/bcl\","
    "\"backchannel_logout_session_required\":true,"
    "\"require_pkce\":false,\"skip_consent\":true,"
    "\"sector_identifier\":\"crm.example.de\","
    "\"organisation_required\":true}";

static void test_full(void **state)
{
	struct kt_client *c = load_ok(full_client, &config_pol_http);
	json_t *j;

	assert_string_equal(c->client_id, "crm.intern-1_~");
	assert_string_equal(c->client_name,
			    "CRM (Vertrieb) \xc3\xa4\xc3\xb6\xc3\xbc");
	assert_int_equal(c->auth_method, KT_AUTH_CLIENT_SECRET_POST);
	assert_int_equal(c->n_redirect_uris, 2);
	assert_int_equal(c->n_post_logout_redirect_uris, 1);
	assert_int_equal(c->grant_types, KT_GRANT_AUTHORIZATION_CODE |
					     KT_GRANT_REFRESH_TOKEN |
					     KT_GRANT_CLIENT_CREDENTIALS);
	/* normalised: single spaces, no duplicates, order kept */
	assert_string_equal(c->scope, "openid email profile");
	assert_non_null(c->jwks);
	assert_string_equal(c->id_token_alg, "ES256");
	assert_int_equal(c->application_type, KT_APP_NATIVE);
	assert_string_equal(c->subject_type, "pairwise");
	assert_string_equal(c->backchannel_logout_uri,
			    "https://crm.example.de/bcl");
	assert_true(c->backchannel_logout_session_required);
	assert_false(c->require_pkce);
	assert_true(c->skip_consent);
	assert_string_equal(c->sector, "crm.example.de");
	assert_true(c->organisation_required);

	/* to_json: no secret unless asked, redacted on request */
	j = kt_client_to_json(c, 0);
	assert_string_equal(json_string_value(json_object_get(j, "client_id")),
			    "crm.intern-1_~");
	assert_null(json_object_get(j, "client_secret"));
	assert_null(json_object_get(j, "client_id_issued_at"));
	assert_json(json_object_get(j, "grant_types"),
		    "[\"authorization_code\",\"refresh_token\","
		    "\"client_credentials\"]");
	assert_json(json_object_get(j, "jwks"),
		    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"x\","
		    "\"y\":\"y\"}]}");
	json_decref(j);
	j = kt_client_to_json(c, KT_CLIENT_JSON_SECRET);
	assert_string_equal(
	    json_string_value(json_object_get(j, "client_secret")), SECRET);
	json_decref(j);
	j = kt_client_to_json(c, KT_CLIENT_JSON_SECRET_REDACTED);
	assert_string_equal(
	    json_string_value(json_object_get(j, "client_secret")),
	    "<redacted>");
	json_decref(j);
	kt_client_free(c);
}

/* The dump of a config client loads again to the same client. */
static void test_config_roundtrip(void **state)
{
	struct kt_client *c = load_ok(full_client, &config_pol_http), *c2;
	json_t *j = kt_client_to_json(c, KT_CLIENT_JSON_SECRET);
	struct kt_error err;

	assert_int_equal(
	    kt_client_from_json(j, "", &config_pol_http, &c2, NULL, &err),
	    KT_OK);
	assert_true(json_equal(c->metadata, c2->metadata));
	assert_string_equal(c2->secret, SECRET);
	json_decref(j);
	kt_client_free(c);
	kt_client_free(c2);
}

static void test_public_and_jwt_clients(void **state)
{
	struct kt_client *c;

	c = load_ok("{\"client_id\":\"spa\",\"token_endpoint_auth_method\":"
		    "\"none\",\"grant_types\":[\"authorization_code\","
		    "\"refresh_token\"],\"redirect_uris\":"
		    "[\"https://spa.example.com/\"]}",
		    &config_pol);
	assert_int_equal(c->auth_method, KT_AUTH_NONE);
	assert_null(c->secret);
	assert_true(c->require_pkce);
	kt_client_free(c);

	c = load_ok("{\"client_id\":\"svc\",\"token_endpoint_auth_method\":"
		    "\"private_key_jwt\",\"grant_types\":"
		    "[\"client_credentials\"],\"scope\":\"api\","
		    "\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\","
		    "\"e\":\"AQAB\"}]}}",
		    &config_pol);
	assert_int_equal(c->auth_method, KT_AUTH_PRIVATE_KEY_JWT);
	assert_int_equal(c->grant_types, KT_GRANT_CLIENT_CREDENTIALS);
	assert_int_equal(c->n_redirect_uris, 0);
	assert_json(c->metadata,
		    "{\"redirect_uris\":[],"
		    "\"grant_types\":[\"client_credentials\"],"
		    "\"response_types\":[],"
		    "\"token_endpoint_auth_method\":\"private_key_jwt\","
		    "\"scope\":\"api\",\"jwks\":{\"keys\":[{\"kty\":\"RSA\","
		    "\"n\":\"AQAB\",\"e\":\"AQAB\"}]},"
		    "\"id_token_signed_response_alg\":\"RS256\","
		    "\"application_type\":\"web\",\"subject_type\":\"pairwise\","
		    "\"organisation_required\":false,"
		    "\"require_pkce\":true,\"skip_consent\":false,"
		    "\"sector_identifier\":\"client:svc\"}");
	kt_client_free(c);
}

static void test_dynamic(void **state)
{
	struct kt_client *c, *c2;
	struct kt_error err;
	json_t *j;

	/* Unknown metadata and server-assigned values are ignored; JSON
	 * null counts as absent. */
	c = load_ok("{\"client_id\":\"evil\",\"client_secret\":\"x\","
		    "\"client_id_issued_at\":1,\"logo_uri\":\"https://x\","
		    "\"contacts\":[\"a@example.com\"],\"client_name\":null,"
		    "\"require_pkce\":true,\"skip_consent\":false,"
		    "\"redirect_uris\":[\"https://rp.example.org/cb\"]}",
		    &dyn_pol);
	assert_string_equal(c->client_id, "dyn-123");
	assert_null(c->secret);
	assert_string_equal(c->secret_hmac, dyn_pol.secret_hmac);
	assert_true(c->dynamic);
	assert_int_equal(c->created_at, 1700000000);
	assert_null(c->client_name);
	assert_false(c->skip_consent);
	assert_true(c->require_pkce);
	assert_json(
	    c->metadata,
	    "{\"redirect_uris\":[\"https://rp.example.org/cb\"],"
	    "\"grant_types\":[\"authorization_code\"],"
	    "\"response_types\":[\"code\"],"
	    "\"token_endpoint_auth_method\":\"client_secret_basic\","
	    "\"scope\":\"openid profile email offline_access\","
	    "\"id_token_signed_response_alg\":\"RS256\","
	    "\"application_type\":\"web\",\"subject_type\":\"pairwise\","
	    "\"organisation_required\":false}");

	/* registration response: no secret material */
	j = kt_client_to_json(c, 0);
	assert_string_equal(json_string_value(json_object_get(j, "client_id")),
			    "dyn-123");
	assert_int_equal(
	    json_integer_value(json_object_get(j, "client_id_issued_at")),
	    1700000000);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "client_secret_expires_at")),
	    0);
	assert_null(json_object_get(j, "client_secret"));
	assert_null(json_object_get(j, "client_secret_hmac"));
	json_decref(j);

	/* storage round trip */
	j = kt_client_to_json(c, KT_CLIENT_JSON_STORAGE);
	assert_string_equal(
	    json_string_value(json_object_get(j, "client_secret_hmac")),
	    dyn_pol.secret_hmac);
	assert_int_equal(kt_client_from_storage(j, &config_pol, &c2, &err),
			 KT_OK);
	assert_string_equal(c2->client_id, "dyn-123");
	assert_string_equal(c2->secret_hmac, dyn_pol.secret_hmac);
	assert_int_equal(c2->created_at, 1700000000);
	assert_true(c2->dynamic);
	assert_true(json_equal(c->metadata, c2->metadata));
	kt_client_free(c2);

	/* corrupt storage */
	json_object_set_new(j, "client_secret_hmac", json_string("short"));
	assert_int_equal(kt_client_from_storage(j, &config_pol, &c2, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "stored client: bad client_secret_hmac");
	assert_null(c2);
	json_object_del(j, "client_secret_hmac");
	json_object_set_new(j, "client_id", json_string("a b"));
	assert_int_equal(kt_client_from_storage(j, &config_pol, &c2, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "stored client: bad client_id");
	json_object_set_new(j, "client_id", json_string("dyn-123"));
	json_object_del(j, "client_id_issued_at");
	assert_int_equal(kt_client_from_storage(j, &config_pol, &c2, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "stored client: bad client_id_issued_at");
	json_object_set_new(j, "client_id_issued_at", json_integer(5));
	json_object_set_new(j, "redirect_uris",
			    json_pack("[s]", "http://127.0.0.1/cb"));
	assert_int_equal(kt_client_from_storage(j, &config_pol, &c2, &err),
			 KT_ERR_INVALID);
	assert_string_equal(
	    err.msg,
	    "stored client.redirect_uris[0]: not an absolute https URL");
	json_decref(j);
	kt_client_free(c);

	/* no secret for a public client, even if the caller made one */
	c = load_ok("{\"token_endpoint_auth_method\":\"none\","
		    "\"redirect_uris\":[\"https://rp.example.org/cb\"]}",
		    &dyn_pol);
	assert_null(c->secret_hmac);
	j = kt_client_to_json(c, KT_CLIENT_JSON_STORAGE |
				     KT_CLIENT_JSON_SECRET_REDACTED);
	assert_null(json_object_get(j, "client_secret_expires_at"));
	assert_null(json_object_get(j, "client_secret"));
	assert_null(json_object_get(j, "client_secret_hmac"));
	json_decref(j);
	kt_client_free(c);
}

struct bad {
	const char *json;
	int dynamic;
	const char *msg;
	const char *oauth;
};

#define RU "\"redirect_uris\":[\"https://rp.example.com/cb\"]"
#define CS "\"client_secret\":\"" SECRET "\""
#define C0 "{\"client_id\":\"c\"," CS "," RU

static const struct bad bad_clients[] = {
    {"[]", 0, ".clients[2]: expected an object", BAD_META},
    {"\"x\"", 1, "client metadata: expected an object", BAD_META},
    {C0 ",\"foo\":1}", 0, ".clients[2].foo: unknown key", BAD_META},
    {C0 ",\"logo_uri\":\"https://x.example/\"}", 0,
     ".clients[2].logo_uri: unknown key", BAD_META},
    {"{" CS "," RU "}", 0, ".clients[2].client_id: required", BAD_META},
    {"{\"client_id\":7," CS "," RU "}", 0,
     ".clients[2].client_id: expected a string", BAD_META},
    {"{\"client_id\":null," CS "," RU "}", 0,
     ".clients[2].client_id: expected a string", BAD_META},
    {"{\"client_id\":\"a b\"," CS "," RU "}", 0,
     ".clients[2].client_id: must be 1 to 128 characters from A-Z a-z 0-9 "
     "- . _ ~",
     BAD_META},
    {"{\"client_id\":\"\"," CS "," RU "}", 0,
     ".clients[2].client_id: must be 1 to 128 characters from A-Z a-z 0-9 "
     "- . _ ~",
     BAD_META},
    {"{\"client_id\":\"a:b\"," CS "," RU "}", 0,
     ".clients[2].client_id: must be 1 to 128 characters from A-Z a-z 0-9 "
     "- . _ ~",
     BAD_META},
    {"{\"client_id\":\"c\"," RU "}", 0,
     ".clients[2].client_secret: required for token_endpoint_auth_method "
     "'client_secret_basic'",
     BAD_META},
    {"{\"client_id\":\"c\",\"token_endpoint_auth_method\":"
     "\"client_secret_post\"," RU "}",
     0,
     ".clients[2].client_secret: required for token_endpoint_auth_method "
     "'client_secret_post'",
     BAD_META},
    {"{\"client_id\":\"c\",\"client_secret\":\"short\"," RU "}", 0,
     ".clients[2].client_secret: must be 32 to 512 characters long", BAD_META},
    {"{\"client_id\":\"c\",\"client_secret\":\"" SECRET " x\"," RU "}", 0,
     ".clients[2].client_secret: must be printable ASCII without spaces",
     BAD_META},
    {"{\"client_id\":\"c\",\"client_secret\":\"" SECRET "\xc3\xa4\"," RU "}", 0,
     ".clients[2].client_secret: must be printable ASCII without spaces",
     BAD_META},
    {"{\"client_id\":\"c\",\"client_secret\":1," RU "}", 0,
     ".clients[2].client_secret: expected a string", BAD_META},
    {"{\"client_id\":\"c\"," CS ",\"token_endpoint_auth_method\":\"none\"," RU
     "}",
     0,
     ".clients[2].client_secret: not used with token_endpoint_auth_method "
     "'none'",
     BAD_META},
    {C0 ",\"token_endpoint_auth_method\":\"client_secret_jwt\"}", 0,
     ".clients[2].token_endpoint_auth_method: unsupported value "
     "'client_secret_jwt'",
     BAD_META},
    {"{\"token_endpoint_auth_method\":\"tls_client_auth\"," RU "}", 1,
     "token_endpoint_auth_method: unsupported value 'tls_client_auth'",
     BAD_META},
    {"{\"token_endpoint_auth_method\":\"a'\\n\\u0001b\"," RU "}", 1,
     "token_endpoint_auth_method: unsupported value 'a???b'", BAD_META},
    {C0 ",\"client_name\":\"\"}", 0,
     ".clients[2].client_name: must not be empty", BAD_META},
    {C0 ",\"client_name\":\"a\\nb\"}", 0,
     ".clients[2].client_name: contains control characters", BAD_META},
    {C0 ",\"client_name\":[]}", 0, ".clients[2].client_name: expected a string",
     BAD_META},
    {C0 ",\"scope\":\"\"}", 0, ".clients[2].scope: must not be empty",
     BAD_META},
    {C0 ",\"scope\":\"   \"}", 0, ".clients[2].scope: must not be empty",
     BAD_META},
    {C0 ",\"scope\":\"openid\\tprofile\"}", 0,
     ".clients[2].scope: contains forbidden characters", BAD_META},
    {C0 ",\"scope\":\"open\\\"id\"}", 0,
     ".clients[2].scope: contains forbidden characters", BAD_META},
    {C0 ",\"scope\":\"a\\\\b\"}", 0,
     ".clients[2].scope: contains forbidden characters", BAD_META},
    {C0 ",\"grant_types\":\"authorization_code\"}", 0,
     ".clients[2].grant_types: expected an array of strings", BAD_META},
    {C0 ",\"grant_types\":[1]}", 0,
     ".clients[2].grant_types[0]: expected a string", BAD_META},
    {C0 ",\"grant_types\":[]}", 0, ".clients[2].grant_types: must not be empty",
     BAD_META},
    {C0 ",\"grant_types\":[\"authorization_code\",\"password\"]}", 0,
     ".clients[2].grant_types[1]: unsupported grant type 'password'", BAD_META},
    {"{\"grant_types\":[\"implicit\"]," RU "}", 1,
     "grant_types[0]: unsupported grant type 'implicit'", BAD_META},
    {"{\"grant_types\":[\"urn:ietf:params:oauth:grant-type:device_code:"
     "and-some-more\"]," RU "}",
     1,
     "grant_types[0]: unsupported grant type "
     "'urn:ietf:params:oauth:grant-type:device_code...'",
     BAD_META},
    {C0 ",\"response_types\":[\"token\"]}", 0,
     ".clients[2].response_types[0]: unsupported response type 'token'",
     BAD_META},
    {"{\"response_types\":[\"code\",\"code id_token\"]," RU "}", 1,
     "response_types[1]: unsupported response type 'code id_token'", BAD_META},
    {"{\"response_types\":\"code\"," RU "}", 1,
     "response_types: expected an array of strings", BAD_META},
    {"{\"grant_types\":[\"client_credentials\"],\"response_types\":"
     "[\"code\"]}",
     1, "response_types: 'code' requires the authorization_code grant type",
     BAD_META},
    {"{\"response_types\":[]," RU "}", 1,
     "response_types: the authorization_code grant type requires 'code'",
     BAD_META},
    {"{\"grant_types\":[\"refresh_token\"]," RU "}", 1,
     "grant_types: refresh_token requires authorization_code", BAD_META},
    {"{\"grant_types\":[\"refresh_token\",\"client_credentials\"]}", 1,
     "grant_types: refresh_token requires authorization_code", BAD_META},
    {"{\"token_endpoint_auth_method\":\"none\",\"grant_types\":"
     "[\"client_credentials\"]}",
     1,
     "token_endpoint_auth_method: 'none' is only allowed with the "
     "authorization_code and refresh_token grant types",
     BAD_META},
    {"{\"client_id\":\"c\"," CS "}", 0,
     ".clients[2].redirect_uris: required for the authorization_code grant "
     "type",
     BAD_URI},
    {"{\"redirect_uris\":[]}", 1,
     "redirect_uris: required for the authorization_code grant type", BAD_URI},
    {"{\"redirect_uris\":\"https://rp.example.com/cb\"}", 1,
     "redirect_uris: expected an array of strings", BAD_URI},
    {"{\"redirect_uris\":[\"https://rp.example.com/cb\",null]}", 1,
     "redirect_uris[1]: expected a string", BAD_URI},
    {"{\"client_id\":\"c\"," CS ",\"redirect_uris\":[\"http://rp.example.com/"
     "cb\"]}",
     0, ".clients[2].redirect_uris[0]: not an absolute https URL", BAD_URI},
    {"{\"client_id\":\"c\"," CS ",\"redirect_uris\":[\"http://127.0.0.1/"
     "cb\"]}",
     0, ".clients[2].redirect_uris[0]: not an absolute https URL", BAD_URI},
    {"{\"redirect_uris\":[\"https://rp.example.com/cb\","
     "\"https://rp.example.com/cb#x\"]}",
     1, "redirect_uris[1]: must not contain a fragment", BAD_URI},
    {"{\"redirect_uris\":[\"https://a@rp.example.com/cb\"]}", 1,
     "redirect_uris[0]: must not contain user information", BAD_URI},
    {"{\"redirect_uris\":[\"https://rp.example.com/cb/..;/x\"]}", 1,
     "redirect_uris[0]: must not contain dot segments", BAD_URI},
    {"{\"redirect_uris\":[\"JavaScript:alert(1)\"]}", 1,
     "redirect_uris[0]: not an absolute https URL", BAD_URI},
    {"{\"redirect_uris\":[\"https://a.example/1\",\"https://a.example/2\","
     "\"https://a.example/3\",\"https://a.example/4\",\"https://a.example/5\","
     "\"https://a.example/6\",\"https://a.example/7\",\"https://a.example/8\","
     "\"https://a.example/9\",\"https://a.example/10\",\"https://a.example/"
     "11\","
     "\"https://a.example/12\",\"https://a.example/13\","
     "\"https://a.example/14\",\"https://a.example/15\","
     "\"https://a.example/16\",\"https://a.example/17\","
     "\"https://a.example/18\",\"https://a.example/19\","
     "\"https://a.example/20\",\"https://a.example/21\"]}",
     1, "redirect_uris: more than 20 entries", BAD_URI},
    {C0 ",\"post_logout_redirect_uris\":[\"https://u:p@rp.example.com/\"]}", 0,
     ".clients[2].post_logout_redirect_uris[0]: must not contain user "
     "information",
     BAD_URI},
    {C0 ",\"post_logout_redirect_uris\":{}}", 0,
     ".clients[2].post_logout_redirect_uris: expected an array of strings",
     BAD_URI},
    {C0 ",\"backchannel_logout_uri\":\"http://rp.example.com/bcl\"}", 0,
     ".clients[2].backchannel_logout_uri: not an absolute https URL", BAD_META},
    {C0 ",\"backchannel_logout_uri\":\"https://rp.example.com/bcl#f\"}", 0,
     ".clients[2].backchannel_logout_uri: must not contain a fragment",
     BAD_META},
    {C0 ",\"backchannel_logout_session_required\":1}", 0,
     ".clients[2].backchannel_logout_session_required: expected a boolean",
     BAD_META},
    {"{\"jwks_uri\":\"https://rp.example.com/jwks\"," RU "}", 1,
     "jwks_uri: not supported, register the keys inline as 'jwks'", BAD_META},
    {"{\"token_endpoint_auth_method\":\"private_key_jwt\"," RU "}", 1,
     "jwks: required for token_endpoint_auth_method 'private_key_jwt'",
     BAD_META},
    {"{\"jwks\":{}," RU "}", 1,
     "jwks: expected an object with a non-empty 'keys' array", BAD_META},
    {"{\"jwks\":{\"keys\":[]}," RU "}", 1,
     "jwks: expected an object with a non-empty 'keys' array", BAD_META},
    {"{\"jwks\":[]," RU "}", 1,
     "jwks: expected an object with a non-empty 'keys' array", BAD_META},
    {"{\"jwks\":{\"keys\":[{\"kty\":\"EC\"},{\"n\":\"x\"}]}," RU "}", 1,
     "jwks.keys[1]: expected a JWK object with 'kty'", BAD_META},
    {"{\"jwks\":{\"keys\":[\"x\"]}," RU "}", 1,
     "jwks.keys[0]: expected a JWK object with 'kty'", BAD_META},
    {"{\"jwks\":{\"keys\":[{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\","
     "\"d\":\"secret\"}]}," RU "}",
     1, "jwks.keys[0]: must be a public key (has 'd')", BAD_META},
    {"{\"jwks\":{\"keys\":[{\"kty\":\"oct\",\"k\":\"secret\"}]}," RU "}", 1,
     "jwks.keys[0]: must be a public key (has 'k')", BAD_META},
    {"{\"jwks\":{\"keys\":[{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},"
     "{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},"
     "{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},"
     "{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},{\"kty\":\"EC\"},"
     "{\"kty\":\"EC\"},{\"kty\":\"EC\"}]}," RU "}",
     1, "jwks: more than 16 keys", BAD_META},
    {"{\"subject_type\":\"public\"," RU "}", 1,
     "subject_type: 'public' is only available to clients in the "
     "configuration file",
     BAD_META},
    {"{\"redirect_uris\":[\"https://a.example.com/cb\","
     "\"https://b.example.com/cb\"]}",
     1, "redirect_uris: span several hosts; register one client per host",
     BAD_META},
    {"{\"sector_identifier_uri\":\"https://a.example.com/s.json\"," RU "}",
     1, "sector_identifier_uri: not supported; redirect_uris must share one "
     "host", BAD_META},
    {C0 ",\"sector_identifier\":\"https://x/\"}", 0,
     ".clients[2].sector_identifier: must be a host name", BAD_META},
    {C0 ",\"organisation_required\":\"yes\"}", 0,
     ".clients[2].organisation_required: expected a boolean", BAD_META},
    {C0 ",\"id_token_signed_response_alg\":\"none\"}", 0,
     ".clients[2].id_token_signed_response_alg: must be 'RS256' or 'ES256', "
     "not 'none'",
     BAD_META},
    {"{\"id_token_signed_response_alg\":\"HS256\"," RU "}", 1,
     "id_token_signed_response_alg: must be 'RS256' or 'ES256', not 'HS256'",
     BAD_META},
    {"{\"application_type\":\"desktop\"," RU "}", 1,
     "application_type: must be 'web' or 'native', not 'desktop'", BAD_META},
    {"{\"subject_type\":\"ephemeral\"," RU "}", 1,
     "subject_type: must be 'public' or 'pairwise', not 'ephemeral'", BAD_META},
    {"{\"subject_type\":false," RU "}", 1, "subject_type: expected a string",
     BAD_META},
    {C0 ",\"require_pkce\":\"yes\"}", 0,
     ".clients[2].require_pkce: expected a boolean", BAD_META},
    {"{\"client_id\":\"c\",\"token_endpoint_auth_method\":\"none\"," RU
     ",\"require_pkce\":false}",
     0,
     ".clients[2].require_pkce: must be true for token_endpoint_auth_method "
     "'none'",
     BAD_META},
    {"{\"skip_consent\":true," RU "}", 1,
     "skip_consent: not allowed for dynamically registered clients", BAD_META},
    {"{\"require_pkce\":false," RU "}", 1,
     "require_pkce: cannot be disabled for dynamically registered clients",
     BAD_META},
    {C0 ",\"skip_consent\":0}", 0,
     ".clients[2].skip_consent: expected a boolean", BAD_META},
};

static void test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad_clients) / sizeof(bad_clients[0]);
	     i++) {
		const struct bad *b = &bad_clients[i];
		struct kt_client *c = (struct kt_client *)1;
		struct kt_error err;
		const char *oerr = NULL;
		json_t *j = parse(b->json);
		int r = kt_client_from_json(j, b->dynamic ? "" : ".clients[2]",
					    b->dynamic ? &dyn_pol : &config_pol,
					    &c, &oerr, &err);

		json_decref(j);
		if (r == KT_OK)
			fail_msg("accepted %s", b->json);
		assert_int_equal(r, KT_ERR_INVALID);
		assert_int_equal(err.code, KT_ERR_INVALID);
		assert_null(c);
		if (strcmp(err.msg, b->msg) != 0)
			fail_msg("%s:\n got  '%s'\n want '%s'", b->json,
				 err.msg, b->msg);
		if (oerr == NULL || strcmp(oerr, b->oauth) != 0)
			fail_msg("%s: oauth error '%s', want '%s'", b->json,
				 oerr ? oerr : "(null)", b->oauth);
	}
}

static void test_bounds(void **state)
{
	static char buf[10000];
	struct kt_client *c;
	struct kt_error err;
	json_t *j, *keys;
	size_t o;

	/* client_name longer than 200 bytes */
	j = json_pack("{s:[s],s:s%}", "redirect_uris",
		      "https://rp.example.com/cb", "client_name",
		      memset(buf, 'n', 201), (size_t)201);
	assert_int_equal(kt_client_from_json(j, "", &dyn_pol, &c, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "client_name: longer than 200 bytes");
	json_decref(j);

	/* 65 scopes */
	o = 0;
	for (int i = 0; i < 65; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "s%d ", i);
	j = json_pack("{s:[s],s:s}", "redirect_uris",
		      "https://rp.example.com/cb", "scope", buf);
	assert_int_equal(kt_client_from_json(j, "", &dyn_pol, &c, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "scope: longer than 1024 bytes or more than 64 "
			    "scopes");
	json_decref(j);

	/* jwks larger than 32 KiB */
	keys = json_array();
	for (int i = 0; i < 4; i++)
		json_array_append_new(
		    keys, json_pack("{s:s,s:s%}", "kty", "RSA", "n",
				    memset(buf, 'A', 9000), (size_t)9000));
	j = json_pack("{s:[s],s:{s:o}}", "redirect_uris",
		      "https://rp.example.com/cb", "jwks", "keys", keys);
	assert_int_equal(kt_client_from_json(j, "", &dyn_pol, &c, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "jwks: larger than 32768 bytes");
	json_decref(j);
	/* client_id of 128 characters is fine, 129 is not */
	memset(buf, 'a', 129);
	buf[128] = '\0';
	j = json_pack("{s:s,s:[s],s:s}", "client_id", buf, "redirect_uris",
		      "https://rp.example.com/cb", "token_endpoint_auth_method",
		      "none");
	assert_int_equal(
	    kt_client_from_json(j, "", &config_pol, &c, NULL, &err), KT_OK);
	kt_client_free(c);
	json_decref(j);
	buf[128] = 'a';
	buf[129] = '\0';
	j = json_pack("{s:s,s:[s],s:s}", "client_id", buf, "redirect_uris",
		      "https://rp.example.com/cb", "token_endpoint_auth_method",
		      "none");
	assert_int_equal(
	    kt_client_from_json(j, "", &config_pol, &c, NULL, &err),
	    KT_ERR_INVALID);
	json_decref(j);
}

static void test_matching(void **state)
{
	struct kt_client *c = load_ok(full_client, &config_pol_http);

	assert_true(kt_client_redirect_uri_ok(c, "https://crm.example.de/cb"));
	assert_true(kt_client_redirect_uri_ok(c, "http://127.0.0.1:9000/cb"));
	assert_false(
	    kt_client_redirect_uri_ok(c, "https://crm.example.de/cb/"));
	assert_false(
	    kt_client_redirect_uri_ok(c, "https://crm.example.de/cb?x=1"));
	assert_false(kt_client_redirect_uri_ok(c, "https://CRM.example.de/cb"));
	assert_false(kt_client_redirect_uri_ok(c, "http://127.0.0.1:9001/cb"));
	assert_false(
	    kt_client_redirect_uri_ok(c, "https://crm.example.de/bye"));
	assert_false(kt_client_redirect_uri_ok(c, NULL));
	assert_false(kt_client_redirect_uri_ok(NULL, "x"));
	assert_true(
	    kt_client_post_logout_uri_ok(c, "https://crm.example.de/bye"));
	assert_false(
	    kt_client_post_logout_uri_ok(c, "https://crm.example.de/bye?x"));
	assert_false(
	    kt_client_post_logout_uri_ok(c, "https://crm.example.de/cb"));

	assert_true(kt_client_grant_ok(c, KT_GRANT_AUTHORIZATION_CODE));
	assert_true(kt_client_grant_ok(c, KT_GRANT_AUTHORIZATION_CODE |
					      KT_GRANT_REFRESH_TOKEN));
	assert_false(kt_client_grant_ok(c, 0));
	assert_false(kt_client_grant_ok(c, 0x8));
	kt_client_free(c);

	c = load_ok("{\"client_id\":\"spa\",\"token_endpoint_auth_method\":"
		    "\"none\"," RU "}",
		    &config_pol);
	assert_false(kt_client_grant_ok(c, KT_GRANT_REFRESH_TOKEN));
	assert_false(kt_client_grant_ok(c, KT_GRANT_CLIENT_CREDENTIALS));
	assert_false(
	    kt_client_post_logout_uri_ok(c, "https://rp.example.com/cb"));
	kt_client_free(c);
}

static void test_scope_filter(void **state)
{
	struct kt_client *c =
	    load_ok("{\"client_id\":\"c\"," CS "," RU
		    ",\"scope\":\"openid profile email offline_access\"}",
		    &config_pol);
	char *g = NULL;
	char big[2048];

	assert_int_equal(kt_client_scope_filter(c, "email openid", &g), KT_OK);
	assert_string_equal(g, "email openid");
	free(g);
	assert_int_equal(
	    kt_client_scope_filter(
		c, "openid  admin profile openid email profile", &g),
	    KT_OK);
	assert_string_equal(g, "openid profile email");
	free(g);
	assert_int_equal(kt_client_scope_filter(c, "admin phone", &g), KT_OK);
	assert_string_equal(g, "");
	free(g);
	assert_int_equal(kt_client_scope_filter(c, NULL, &g), KT_OK);
	assert_string_equal(g, "");
	free(g);
	assert_int_equal(kt_client_scope_filter(c, "", &g), KT_OK);
	assert_string_equal(g, "");
	free(g);
	/* case-sensitive (RFC 6749 section 3.3) */
	assert_int_equal(kt_client_scope_filter(c, "OpenID", &g), KT_OK);
	assert_string_equal(g, "");
	free(g);
	/* prefixes are not matches */
	assert_int_equal(kt_client_scope_filter(c, "open email_x", &g), KT_OK);
	assert_string_equal(g, "");
	free(g);

	assert_int_equal(kt_client_scope_filter(c, "openid\tprofile", &g),
			 KT_ERR_INVALID);
	assert_null(g);
	assert_int_equal(kt_client_scope_filter(c, "openid \"x\"", &g),
			 KT_ERR_INVALID);
	assert_int_equal(kt_client_scope_filter(c, "openid \xc3\xa4", &g),
			 KT_ERR_INVALID);
	memset(big, 'a', 1025);
	big[1025] = '\0';
	assert_int_equal(kt_client_scope_filter(c, big, &g), KT_ERR_LIMIT);
	assert_null(g);
	{
		size_t o = 0;
		for (int i = 0; i < 65; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o, "x%d ",
					      i);
		assert_int_equal(kt_client_scope_filter(c, big, &g),
				 KT_ERR_LIMIT);
	}
	kt_client_free(c);
}

static void test_secret_config(void **state)
{
	struct kt_client *c = load_ok(C0 "}", &config_pol);

	assert_int_equal(kt_client_secret_check(c, SECRET, NULL, 0), KT_OK);
	assert_int_equal(kt_client_secret_check(c, SECRET "x", NULL, 0),
			 KT_ERR_DENIED);
	assert_int_equal(kt_client_secret_check(c, "s3cr3t", NULL, 0),
			 KT_ERR_DENIED);
	assert_int_equal(kt_client_secret_check(c, "", NULL, 0), KT_ERR_DENIED);
	assert_int_equal(kt_client_secret_check(c, NULL, NULL, 0),
			 KT_ERR_DENIED);
	assert_int_equal(kt_client_secret_check(NULL, SECRET, NULL, 0),
			 KT_ERR_DENIED);
	kt_client_free(c);

	/* no secret at all */
	c = load_ok("{\"client_id\":\"spa\",\"token_endpoint_auth_method\":"
		    "\"none\"," RU "}",
		    &config_pol);
	assert_int_equal(kt_client_secret_check(c, "", NULL, 0), KT_ERR_DENIED);
	assert_int_equal(kt_client_secret_check(c, SECRET, NULL, 0),
			 KT_ERR_DENIED);
	kt_client_free(c);
}

static void test_secret_dynamic(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	static const uint8_t key2[32] = "0123456789abcdef0123456789abcdeX";
	char mac[KT_CLIENT_SECRET_HMAC_LEN + 1], mac2[sizeof(mac)];
	struct kt_client_policy pol = dyn_pol;
	struct kt_client *c;

	assert_int_equal(
	    kt_client_secret_hmac("generated-secret", key, sizeof(key), mac),
	    KT_OK);
	assert_int_equal(strlen(mac), KT_CLIENT_SECRET_HMAC_LEN);
	/* deterministic, keyed */
	assert_int_equal(
	    kt_client_secret_hmac("generated-secret", key, sizeof(key), mac2),
	    KT_OK);
	assert_string_equal(mac, mac2);
	assert_int_equal(
	    kt_client_secret_hmac("generated-secret", key2, sizeof(key2), mac2),
	    KT_OK);
	assert_string_not_equal(mac, mac2);
	assert_int_equal(kt_client_secret_hmac("x", NULL, 0, mac2),
			 KT_ERR_INVALID);
	assert_string_equal(mac2, "");
	/* RFC 4231 test case 2 as a known answer */
	assert_int_equal(kt_client_secret_hmac("what do ya want for nothing?",
					       (const uint8_t *)"Jefe", 4,
					       mac2),
			 KT_OK);
	assert_string_equal(mac2,
			    "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");

	pol.secret_hmac = mac;
	c = load_ok("{" RU "}", &pol);
	assert_int_equal(
	    kt_client_secret_check(c, "generated-secret", key, sizeof(key)),
	    KT_OK);
	assert_int_equal(
	    kt_client_secret_check(c, "generated-secreT", key, sizeof(key)),
	    KT_ERR_DENIED);
	assert_int_equal(
	    kt_client_secret_check(c, "generated-secret", key2, sizeof(key2)),
	    KT_ERR_DENIED);
	assert_int_equal(kt_client_secret_check(c, "generated-secret", NULL, 0),
			 KT_ERR_DENIED);
	/* the stored HMAC itself is not a valid secret */
	assert_int_equal(kt_client_secret_check(c, mac, key, sizeof(key)),
			 KT_ERR_DENIED);
	kt_client_free(c);
}

/* Registration as the endpoint and kontor-admin do it. */
static void test_register(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	struct kt_client_policy pol = {0};
	struct kt_client_registration reg;
	struct kt_client *c = NULL;
	struct kt_error err;
	const char *oerr = "unset";
	json_t *meta = parse("{" RU ",\"client_name\":\"Portal\"}");
	json_t *stored;

	assert_int_equal(
	    kt_client_register(meta, &pol, key, sizeof(key), &reg, &oerr, &err),
	    KT_OK);
	assert_null(oerr);
	assert_int_equal(strlen(reg.client_id), 22);
	assert_int_equal(strlen(reg.secret), 43);
	/* The response has the plaintext, the stored form only the HMAC. */
	assert_string_equal(
	    json_string_value(json_object_get(reg.response, "client_secret")),
	    reg.secret);
	assert_string_equal(
	    json_string_value(json_object_get(reg.response, "client_id")),
	    reg.client_id);
	assert_null(json_object_get(reg.response, "client_secret_hmac"));
	assert_null(json_object_get(reg.stored, "client_secret"));
	assert_int_equal(strlen(json_string_value(json_object_get(
			     reg.stored, "client_secret_hmac"))),
			 KT_CLIENT_SECRET_HMAC_LEN);
	/* What is stored loads, and the secret authenticates it. */
	assert_int_equal(kt_client_from_storage(reg.stored, &pol, &c, &err),
			 KT_OK);
	assert_true(c->dynamic);
	assert_true(c->require_pkce);
	assert_string_equal(c->client_name, "Portal");
	assert_int_equal(
	    kt_client_secret_check(c, reg.secret, key, sizeof(key)), KT_OK);

	/* Rotation: a new secret; the old one stops working. */
	{
		char secret[48], old[48];
		struct kt_client *n = NULL;

		snprintf(old, sizeof(old), "%s", reg.secret);
		assert_int_equal(kt_client_rotate_secret(reg.stored, &pol, key,
							 sizeof(key), &stored,
							 secret, &err),
				 KT_OK);
		assert_int_equal(strlen(secret), 43);
		assert_string_not_equal(secret, old);
		assert_int_equal(kt_client_from_storage(stored, &pol, &n, &err),
				 KT_OK);
		assert_int_equal(
		    kt_client_secret_check(n, secret, key, sizeof(key)), KT_OK);
		assert_int_equal(
		    kt_client_secret_check(n, old, key, sizeof(key)),
		    KT_ERR_DENIED);
		/* Everything else stayed. */
		assert_string_equal(n->client_id, c->client_id);
		assert_int_equal(n->created_at, c->created_at);
		assert_string_equal(n->client_name, "Portal");
		kt_client_free(n);
		json_decref(stored);
	}
	kt_client_free(c);
	kt_client_registration_clear(&reg);
	assert_null(reg.stored);
	assert_string_equal(reg.secret, "");
	json_decref(meta);

	/* A public client gets no secret, and none can be rotated in. */
	meta = parse("{" RU ",\"token_endpoint_auth_method\":\"none\"}");
	assert_int_equal(
	    kt_client_register(meta, &pol, key, sizeof(key), &reg, &oerr, &err),
	    KT_OK);
	assert_string_equal(reg.secret, "");
	assert_null(json_object_get(reg.response, "client_secret"));
	assert_null(json_object_get(reg.stored, "client_secret_hmac"));
	{
		char secret[48];
		assert_int_equal(kt_client_rotate_secret(reg.stored, &pol, key,
							 sizeof(key), &stored,
							 secret, &err),
				 KT_ERR_UNSUPPORTED);
		assert_null(stored);
		assert_string_equal(secret, "");
		assert_string_equal(err.msg + strlen(reg.client_id) + 7,
				    " authenticates with none and has no "
				    "secret");
	}
	kt_client_registration_clear(&reg);
	json_decref(meta);

	/* Bad metadata: the validator's message and OAuth error. */
	meta = parse("{\"redirect_uris\":[\"http://rp.example/cb\"]}");
	assert_int_equal(
	    kt_client_register(meta, &pol, key, sizeof(key), &reg, &oerr, &err),
	    KT_ERR_INVALID);
	assert_string_equal(oerr, BAD_URI);
	assert_string_equal(err.msg,
			    "redirect_uris[0]: not an absolute https URL");
	kt_client_registration_clear(&reg);
	/* A stored document that does not validate cannot be rotated. */
	{
		char secret[48];
		assert_int_equal(kt_client_rotate_secret(meta, &pol, key,
							 sizeof(key), &stored,
							 secret, &err),
				 KT_ERR_INVALID);
		assert_string_equal(err.msg, "stored client: bad client_id");
	}
	json_decref(meta);
	/* No HMAC key. */
	meta = parse("{" RU "}");
	assert_int_equal(
	    kt_client_register(meta, &pol, NULL, 0, &reg, &oerr, &err),
	    KT_ERR_CRYPTO);
	kt_client_registration_clear(&reg);
	json_decref(meta);
}

static void test_auth_names(void **state)
{
	enum kt_client_auth m;

	assert_string_equal(kt_client_auth_name(KT_AUTH_PRIVATE_KEY_JWT),
			    "private_key_jwt");
	assert_string_equal(kt_client_auth_name((enum kt_client_auth)42),
			    "unknown");
	assert_int_equal(kt_client_auth_parse("client_secret_post", &m), KT_OK);
	assert_int_equal(m, KT_AUTH_CLIENT_SECRET_POST);
	assert_int_equal(kt_client_auth_parse("Client_Secret_Post", &m),
			 KT_ERR_INVALID);
	assert_int_equal(kt_client_auth_parse(NULL, &m), KT_ERR_INVALID);
	kt_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_config_roundtrip),
	    cmocka_unit_test(test_public_and_jwt_clients),
	    cmocka_unit_test(test_dynamic),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_matching),
	    cmocka_unit_test(test_scope_filter),
	    cmocka_unit_test(test_secret_config),
	    cmocka_unit_test(test_secret_dynamic),
	    cmocka_unit_test(test_register),
	    cmocka_unit_test(test_auth_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
