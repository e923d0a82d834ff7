#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kontor/config.h"
#include "kontor/err.h"

#define ISS "\"issuer\":\"https://login.example.de\""

static char *data_path(const char *env, const char *rel)
{
	const char *dir = getenv(env);
	char *p = NULL;

	if (dir == NULL)
		fail_msg("%s not set (run through ctest)", env);
	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		fail();
	return p;
}

static struct kt_config *load_ok(const char *json)
{
	struct kt_config *cfg = NULL;
	struct kt_error err;

	if (kt_config_load_string(json, &cfg, &err) != KT_OK)
		fail_msg("rejected: %s\n%s", err.msg, json);
	assert_non_null(cfg);
	return cfg;
}

static void test_defaults(void **state)
{
	struct kt_config *cfg = load_ok("{" ISS "}");

	assert_string_equal(cfg->issuer, "https://login.example.de");
	assert_string_equal(cfg->listen_address, "127.0.0.1");
	assert_int_equal(cfg->listen_port, 8080);
	assert_int_equal(cfg->threads, 0);
	assert_int_equal(cfg->worker_threads, 2);
	assert_string_equal(cfg->redis_url, "redis://127.0.0.1:6379/0");
	assert_string_equal(cfg->redis.host, "127.0.0.1");
	assert_int_equal(cfg->redis.port, 6379);
	assert_string_equal(cfg->redis.path, "");
	assert_string_equal(cfg->redis.password, "");
	assert_int_equal(cfg->redis.db, 0);
	assert_int_equal(cfg->redis_timeout_ms, 2000);
	assert_string_equal(cfg->keys_dir, "keys");
	assert_int_equal(cfg->keys_rsa_bits, 2048);
	assert_int_equal(cfg->limits_max_header_size, 8192);
	assert_int_equal(cfg->limits_max_body_size, 65536);
	assert_int_equal(cfg->limits_max_connections, 10000);
	assert_int_equal(cfg->limits_timeout_s, 30);
	assert_int_equal(cfg->limits_max_params, 64);
	assert_string_equal(cfg->session_cookie_name, "kontor_session");
	assert_int_equal(cfg->session_idle_timeout_s, 1800);
	assert_int_equal(cfg->session_absolute_timeout_s, 43200);
	assert_int_equal(cfg->tokens_code_ttl_s, 60);
	assert_int_equal(cfg->tokens_access_token_ttl_s, 300);
	assert_int_equal(cfg->tokens_id_token_ttl_s, 300);
	assert_int_equal(cfg->tokens_refresh_token_ttl_s, 2592000);
	assert_int_equal(cfg->tokens_par_ttl_s, 60);
	assert_int_equal(cfg->password_scrypt_log_n, 13);
	assert_int_equal(cfg->password_scrypt_r, 8);
	assert_int_equal(cfg->password_scrypt_p, 10);
	assert_int_equal(cfg->throttle_account_max_failures, 10);
	assert_int_equal(cfg->throttle_ip_max_failures, 100);
	assert_int_equal(cfg->throttle_window_s, 900);
	assert_false(cfg->registration_enabled);
	assert_int_equal(cfg->n_registration_initial_access_tokens, 0);
	assert_null(cfg->registration_initial_access_tokens);
	assert_false(cfg->dev_allow_http_loopback);
	assert_string_equal(cfg->ui_default_locale, "de");
	assert_string_equal(cfg->log_level_name, "info");
	assert_int_equal(cfg->log_level, KT_LOG_INFO);
	assert_int_equal(cfg->n_clients, 0);
	assert_null(kt_config_client(cfg, "portal"));
	kt_config_free(cfg);

	/* empty sections are fine and change nothing */
	cfg = load_ok("{" ISS ",\"listen\":{},\"clients\":[],"
		      "\"registration\":{\"initial_access_tokens\":[]}}");
	assert_int_equal(cfg->listen_port, 8080);
	assert_int_equal(cfg->n_clients, 0);
	kt_config_free(cfg);
}

static void test_full_file(void **state)
{
	char *path = data_path("KONTOR_TEST_DATA", "config/full.json");
	struct kt_config *cfg = NULL;
	const struct kt_client *c;
	struct kt_error err;

	if (kt_config_load_file(path, &cfg, &err) != KT_OK)
		fail_msg("%s", err.msg);
	free(path);
	assert_string_equal(cfg->issuer, "http://127.0.0.1:9443/kontor");
	assert_string_equal(cfg->listen_address, "::1");
	assert_int_equal(cfg->listen_port, 9443);
	assert_int_equal(cfg->threads, 4);
	assert_int_equal(cfg->worker_threads, 8);
	assert_string_equal(cfg->redis.host, "::1");
	assert_int_equal(cfg->redis.port, 6380);
	assert_string_equal(cfg->redis.password, "p@ss/w0rd");
	assert_int_equal(cfg->redis.db, 3);
	assert_int_equal(cfg->redis_timeout_ms, 500);
	assert_string_equal(cfg->keys_dir, "/var/lib/kontor/keys");
	assert_int_equal(cfg->keys_rsa_bits, 3072);
	assert_int_equal(cfg->limits_max_header_size, 16384);
	assert_int_equal(cfg->limits_max_body_size, 131072);
	assert_int_equal(cfg->limits_max_connections, 500);
	assert_int_equal(cfg->limits_timeout_s, 10);
	assert_int_equal(cfg->limits_max_params, 32);
	assert_string_equal(cfg->session_cookie_name, "__Host-kontor");
	assert_int_equal(cfg->session_idle_timeout_s, 600);
	assert_int_equal(cfg->session_absolute_timeout_s, 3600);
	assert_int_equal(cfg->tokens_code_ttl_s, 30);
	assert_int_equal(cfg->tokens_access_token_ttl_s, 600);
	assert_int_equal(cfg->tokens_id_token_ttl_s, 900);
	assert_int_equal(cfg->tokens_refresh_token_ttl_s, 86400);
	assert_int_equal(cfg->tokens_par_ttl_s, 90);
	assert_int_equal(cfg->password_scrypt_log_n, 15);
	assert_int_equal(cfg->password_scrypt_r, 8);
	assert_int_equal(cfg->password_scrypt_p, 2);
	assert_int_equal(cfg->throttle_account_max_failures, 5);
	assert_int_equal(cfg->throttle_ip_max_failures, 50);
	assert_int_equal(cfg->throttle_window_s, 600);
	assert_true(cfg->registration_enabled);
	assert_int_equal(cfg->n_registration_initial_access_tokens, 2);
	assert_string_equal(cfg->registration_initial_access_tokens[1],
			    "iat-fedcba9876543210");
	assert_null(cfg->registration_initial_access_tokens[2]);
	assert_true(cfg->dev_allow_http_loopback);
	assert_string_equal(cfg->ui_default_locale, "en");
	assert_int_equal(cfg->log_level, KT_LOG_DEBUG);
	assert_int_equal(cfg->n_clients, 2);

	c = kt_config_client(cfg, "portal");
	assert_non_null(c);
	assert_string_equal(c->client_name, "Mitarbeiterportal");
	assert_true(c->skip_consent);
	assert_true(
	    kt_client_redirect_uri_ok(c, "http://127.0.0.1:8081/callback"));
	assert_true(kt_client_grant_ok(c, KT_GRANT_REFRESH_TOKEN));
	c = kt_config_client(cfg, "cli");
	assert_non_null(c);
	assert_int_equal(c->auth_method, KT_AUTH_NONE);
	assert_int_equal(c->application_type, KT_APP_NATIVE);
	assert_string_equal(c->scope, "openid offline_access");
	assert_null(kt_config_client(cfg, "CLI"));
	assert_null(kt_config_client(cfg, NULL));
	assert_null(kt_config_client(NULL, "cli"));
	kt_config_free(cfg);
}

static void test_sample_file(void **state)
{
	char *path = data_path("KONTOR_SOURCE_DIR", "docs/kontor.sample.json");
	struct kt_config *cfg = NULL;
	struct kt_error err;

	if (kt_config_load_file(path, &cfg, &err) != KT_OK)
		fail_msg("%s", err.msg);
	free(path);
	assert_true(cfg->n_clients >= 1);
	kt_config_free(cfg);
}

struct bad {
	const char *json;
	const char *msg;
};

#define CL(x) "{" ISS ",\"clients\":[" x "]}"
#define SECRET "\"client_secret\":\"0123456789abcdef0123456789abcdef\""
#define PORTAL                                                                 \
	"{\"client_id\":\"portal\"," SECRET ",\"redirect_uris\":"              \
	"[\"https://portal.example.de/cb\"]}"

static const struct bad bad_configs[] = {
    /* JSON syntax, with jansson's position */
    {"", "config: line 1, column 0: '[' or '{' expected near end of file"},
    {"{" ISS ",}",
     "config: line 1, column 38: string or '}' expected near '}'"},
    {"{" ISS "}\nx", "config: line 2, column 1: end of file expected near 'x'"},
    {"{\n  " ISS ",\n  " ISS "\n}",
     "config: line 3, column 10: duplicate object key near '\"issuer\"'"},
    {"{" ISS ",\"keys\":{\"dir\":\"a\\u0000b\"}}",
     "config: line 1, column 61: \\u0000 is not allowed without "
     "JSON_ALLOW_NUL near '\"a\\u0000b\"'"},
    {"{" ISS ",\"threads\":99999999999999999999}",
     "config: line 1, column 67: too big integer near "
     "'99999999999999999999'"},
    {"[]", "config: expected a JSON object at the top level"},
    {"\"x\"", "config: line 1, column 3: '[' or '{' expected near '\"x\"'"},
    /* required, types */
    {"{}", "config: .issuer: required"},
    {"{\"listen\":{\"port\":80}}", "config: .issuer: required"},
    {"{\"issuer\":5}", "config: .issuer: expected a string"},
    {"{\"issuer\":null}", "config: .issuer: expected a string"},
    {"{\"issuer\":\"\"}", "config: .issuer: must not be empty"},
    /* issuer rules */
    {"{\"issuer\":\"http://login.example.de\"}",
     "config: .issuer: not an absolute https URL"},
    {"{\"issuer\":\"http://127.0.0.1:8080\"}",
     "config: .issuer: not an absolute https URL"},
    {"{\"issuer\":\"http://login.example.de\",\"dev\":"
     "{\"allow_http_loopback\":true}}",
     "config: .issuer: http is allowed only for 127.0.0.1, [::1] and "
     "localhost"},
    {"{\"issuer\":\"https://login.example.de/\"}",
     "config: .issuer: must not end with a slash"},
    {"{\"issuer\":\"https://login.example.de?tenant=1\"}",
     "config: .issuer: must not contain a query"},
    {"{\"issuer\":\"https://login.example.de#x\"}",
     "config: .issuer: must not contain a fragment"},
    {"{\"issuer\":\"https://admin@login.example.de\"}",
     "config: .issuer: must not contain user information"},
    /* unknown keys and sections */
    {"{" ISS ",\"foo\":1}", "config: .foo: unknown key"},
    {"{" ISS ",\"Issuer\":1}", "config: .Issuer: unknown key"},
    {"{" ISS ",\"listen\":{\"host\":\"::\"}}",
     "config: .listen.host: unknown key"},
    {"{" ISS ",\"listen.port\":80}", "config: .listen.port: unknown key"},
    {"{" ISS ",\"listen\":{\"port.x\":80}}",
     "config: .listen.port.x: unknown key"},
    {"{" ISS ",\"issuer\":{}}",
     "config: line 1, column 45: duplicate object key near '\"issuer\"'"},
    {"{" ISS ",\"listen\":5}", "config: .listen: expected an object"},
    {"{" ISS ",\"redis\":[\"redis://x\"]}",
     "config: .redis: expected an object"},
    {"{" ISS ",\"dev\":null}", "config: .dev: expected an object"},
    /* integers */
    {"{" ISS ",\"listen\":{\"port\":\"8080\"}}",
     "config: .listen.port: expected an integer"},
    {"{" ISS ",\"listen\":{\"port\":8080.0}}",
     "config: .listen.port: expected an integer"},
    {"{" ISS ",\"listen\":{\"port\":0}}",
     "config: .listen.port: must be between 1 and 65535"},
    {"{" ISS ",\"listen\":{\"port\":65536}}",
     "config: .listen.port: must be between 1 and 65535"},
    {"{" ISS ",\"listen\":{\"port\":-1}}",
     "config: .listen.port: must be between 1 and 65535"},
    {"{" ISS ",\"threads\":65}", "config: .threads: must be between 0 and 64"},
    {"{" ISS ",\"threads\":true}", "config: .threads: expected an integer"},
    {"{" ISS ",\"worker_threads\":0}",
     "config: .worker_threads: must be between 1 and 64"},
    {"{" ISS ",\"redis\":{\"timeout_ms\":0}}",
     "config: .redis.timeout_ms: must be between 10 and 60000"},
    {"{" ISS ",\"keys\":{\"rsa_bits\":1024}}",
     "config: .keys.rsa_bits: must be between 2048 and 8192"},
    {"{" ISS ",\"limits\":{\"max_header_size\":100}}",
     "config: .limits.max_header_size: must be between 1024 and 1048576"},
    {"{" ISS ",\"limits\":{\"max_body_size\":4294967296}}",
     "config: .limits.max_body_size: must be between 1024 and 16777216"},
    {"{" ISS ",\"limits\":{\"max_connections\":0}}",
     "config: .limits.max_connections: must be between 1 and 1000000"},
    {"{" ISS ",\"limits\":{\"timeout_s\":3601}}",
     "config: .limits.timeout_s: must be between 1 and 3600"},
    {"{" ISS ",\"limits\":{\"max_params\":0}}",
     "config: .limits.max_params: must be between 1 and 1024"},
    {"{" ISS ",\"session\":{\"idle_timeout_s\":59}}",
     "config: .session.idle_timeout_s: must be between 60 and 86400"},
    {"{" ISS ",\"session\":{\"idle_timeout_s\":7200,"
     "\"absolute_timeout_s\":3600}}",
     "config: .session.absolute_timeout_s: must not be less than "
     "session.idle_timeout_s"},
    {"{" ISS ",\"tokens\":{\"code_ttl_s\":601}}",
     "config: .tokens.code_ttl_s: must be between 1 and 600"},
    {"{" ISS ",\"tokens\":{\"access_token_ttl_s\":86401}}",
     "config: .tokens.access_token_ttl_s: must be between 60 and 86400"},
    {"{" ISS ",\"tokens\":{\"id_token_ttl_s\":0}}",
     "config: .tokens.id_token_ttl_s: must be between 60 and 86400"},
    {"{" ISS ",\"tokens\":{\"refresh_token_ttl_s\":60}}",
     "config: .tokens.refresh_token_ttl_s: must be between 3600 and "
     "31536000"},
    {"{" ISS ",\"tokens\":{\"par_ttl_s\":601}}",
     "config: .tokens.par_ttl_s: must be between 10 and 600"},
    {"{" ISS ",\"password\":{\"scrypt_log_n\":9}}",
     "config: .password.scrypt_log_n: must be between 10 and 20"},
    {"{" ISS ",\"password\":{\"scrypt_log_n\":21}}",
     "config: .password.scrypt_log_n: must be between 10 and 20"},
    {"{" ISS ",\"password\":{\"scrypt_r\":33}}",
     "config: .password.scrypt_r: must be between 1 and 32"},
    {"{" ISS ",\"password\":{\"scrypt_p\":0}}",
     "config: .password.scrypt_p: must be between 1 and 64"},
    {"{" ISS ",\"password\":{\"scrypt_log_n\":20,\"scrypt_r\":16}}",
     "config: .password.scrypt_r: scrypt memory (128 * r * 2^log_n bytes) "
     "must not exceed 1 GiB"},
    {"{" ISS ",\"throttle\":{\"account_max_failures\":0}}",
     "config: .throttle.account_max_failures: must be between 1 and 1000"},
    {"{" ISS ",\"throttle\":{\"ip_max_failures\":100001}}",
     "config: .throttle.ip_max_failures: must be between 1 and 100000"},
    {"{" ISS ",\"throttle\":{\"window_s\":59}}",
     "config: .throttle.window_s: must be between 60 and 86400"},
    /* strings, enums, booleans */
    {"{" ISS ",\"listen\":{\"address\":\"localhost\"}}",
     "config: .listen.address: must be an IPv4 or IPv6 address"},
    {"{" ISS ",\"listen\":{\"address\":\"\"}}",
     "config: .listen.address: must not be empty"},
    {"{" ISS ",\"keys\":{\"dir\":\"a\\nb\"}}",
     "config: .keys.dir: contains control characters"},
    {"{" ISS ",\"keys\":{\"dir\":7}}", "config: .keys.dir: expected a string"},
    {"{" ISS ",\"session\":{\"cookie_name\":\"kontor session\"}}",
     "config: .session.cookie_name: may contain only A-Z a-z 0-9 - _"},
    {"{" ISS ",\"session\":{\"cookie_name\":\"a;b=c\"}}",
     "config: .session.cookie_name: may contain only A-Z a-z 0-9 - _"},
    {"{" ISS ",\"session\":{\"cookie_name\":"
     "\"12345678901234567890123456789012345678901234567890123456789012345\"}}",
     "config: .session.cookie_name: longer than 64 characters"},
    {"{" ISS ",\"ui\":{\"default_locale\":\"fr\"}}",
     "config: .ui.default_locale: must be one of: de, en"},
    {"{" ISS ",\"ui\":{\"default_locale\":\"DE\"}}",
     "config: .ui.default_locale: must be one of: de, en"},
    {"{" ISS ",\"log\":{\"level\":\"verbose\"}}",
     "config: .log.level: must be one of: debug, info, warn, error, off"},
    {"{" ISS ",\"log\":{\"level\":1}}",
     "config: .log.level: expected a string"},
    {"{" ISS ",\"dev\":{\"allow_http_loopback\":1}}",
     "config: .dev.allow_http_loopback: expected a boolean"},
    {"{" ISS ",\"registration\":{\"enabled\":\"yes\"}}",
     "config: .registration.enabled: expected a boolean"},
    /* redis.url */
    {"{" ISS ",\"redis\":{\"url\":\"rediss://cache.example.de\"}}",
     "config: .redis.url: unsupported scheme (use redis:// or unix://)"},
    {"{" ISS ",\"redis\":{\"url\":\"redis://cache.example.de:99999\"}}",
     "config: .redis.url: invalid port"},
    {"{" ISS ",\"redis\":{\"url\":\"redis://user:pw@cache.example.de\"}}",
     "config: .redis.url: user names are not supported (use "
     "redis://:password@host)"},
    {"{" ISS ",\"redis\":{\"url\":\"unix://var/run/redis.sock\"}}",
     "config: .redis.url: unix socket path must be absolute"},
    {"{" ISS ",\"redis\":{\"url\":\"\"}}",
     "config: .redis.url: must not be empty"},
    /* registration */
    {"{" ISS ",\"registration\":{\"enabled\":true}}",
     "config: .registration.initial_access_tokens: required when "
     "registration.enabled is true"},
    {"{" ISS ",\"registration\":{\"enabled\":true,"
     "\"initial_access_tokens\":[]}}",
     "config: .registration.initial_access_tokens: must not be empty when "
     "registration.enabled is true"},
    {"{" ISS ",\"registration\":{\"initial_access_tokens\":\"abc\"}}",
     "config: .registration.initial_access_tokens: expected an array of "
     "strings"},
    {"{" ISS ",\"registration\":{\"initial_access_tokens\":"
     "[\"0123456789abcdef\",\"short\"]}}",
     "config: .registration.initial_access_tokens[1]: must be at least 16 "
     "characters"},
    {"{" ISS ",\"registration\":{\"initial_access_tokens\":[1]}}",
     "config: .registration.initial_access_tokens[0]: expected a string"},
    {"{" ISS ",\"registration\":{\"initial_access_tokens\":"
     "[\"0123456789 abcdef\"]}}",
     "config: .registration.initial_access_tokens[0]: must be printable "
     "ASCII without spaces"},
    {"{" ISS ",\"registration\":{\"tokens\":[]}}",
     "config: .registration.tokens: unknown key"},
    /* clients */
    {"{" ISS ",\"clients\":{}}", "config: .clients: expected an array"},
    {CL("5"), "config: .clients[0]: expected an object"},
    {CL(PORTAL ",{\"client_id\":\"x\",\"foo\":1}"),
     "config: .clients[1].foo: unknown key"},
    {CL(PORTAL ",{\"client_id\":\"web\"," SECRET ",\"redirect_uris\":"
	       "[\"https://web.example.de/cb\",\"ftp://web.example.de/\"]}"),
     "config: .clients[1].redirect_uris[1]: not an absolute https URL"},
    {CL("{\"client_id\":\"web\"," SECRET ",\"redirect_uris\":"
	"[\"http://127.0.0.1:8081/cb\"]}"),
     "config: .clients[0].redirect_uris[0]: not an absolute https URL"},
    {CL(PORTAL "," PORTAL),
     "config: .clients[1].client_id: duplicate client_id 'portal'"},
    {CL(PORTAL ",{\"client_id\":\"b\",\"token_endpoint_auth_method\":"
	       "\"none\",\"redirect_uris\":[\"https://b.example/\"]}," PORTAL),
     "config: .clients[2].client_id: duplicate client_id 'portal'"},
    {CL("{\"client_id\":\"portal\",\"redirect_uris\":[\"https://p.example/"
	"\"]}"),
     "config: .clients[0].client_secret: required for "
     "token_endpoint_auth_method 'client_secret_basic'"},
    {CL("{\"client_id\":\"svc\",\"token_endpoint_auth_method\":"
	"\"private_key_jwt\",\"redirect_uris\":[\"https://p.example/\"]}"),
     "config: .clients[0].jwks: required for token_endpoint_auth_method "
     "'private_key_jwt'"},
};

static void test_bad_configs(void **state)
{
	size_t n = sizeof(bad_configs) / sizeof(bad_configs[0]);

	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++) {
		struct kt_config *cfg = (struct kt_config *)1;
		struct kt_error err;
		int r = kt_config_load_string(bad_configs[i].json, &cfg, &err);

		if (r == KT_OK)
			fail_msg("accepted: %s", bad_configs[i].json);
		assert_int_equal(r, KT_ERR_INVALID);
		assert_int_equal(err.code, KT_ERR_INVALID);
		assert_null(cfg);
		if (strcmp(err.msg, bad_configs[i].msg) != 0)
			fail_msg("%s\n got  '%s'\n want '%s'",
				 bad_configs[i].json, err.msg,
				 bad_configs[i].msg);
	}
}

/* dev.allow_http_loopback also governs client redirect URIs. */
static void test_dev_loopback(void **state)
{
	struct kt_config *cfg = load_ok(
	    "{\"clients\":[{\"client_id\":\"web\"," SECRET ",\"redirect_uris\":"
	    "[\"http://127.0.0.1:8081/cb\"]}],\"issuer\":"
	    "\"http://"
	    "localhost:8080\",\"dev\":{\"allow_http_loopback\":true}}");

	assert_string_equal(cfg->issuer, "http://localhost:8080");
	assert_non_null(kt_config_client(cfg, "web"));
	kt_config_free(cfg);
}

static char *write_temp(const char *content, size_t len)
{
	char *path = strdup("/tmp/kt-config-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_files(void **state)
{
	struct kt_config *cfg = NULL;
	struct kt_error err;
	char *path, *big;
	size_t n;

	assert_int_equal(
	    kt_config_load_file("/nonexistent/kontor.json", &cfg, &err),
	    KT_ERR_IO);
	assert_string_equal(
	    err.msg,
	    "config: /nonexistent/kontor.json: No such file or directory");
	assert_null(cfg);

	assert_int_equal(kt_config_load_file("/tmp", &cfg, &err), KT_ERR_IO);
	assert_string_equal(err.msg, "config: /tmp: not a regular file");

	/* syntax error positions come through from a file too */
	path = write_temp(
	    "{\n  \"issuer\": \"https://a.example\"\n  \"x\": 1\n}\n",
	    strlen("{\n  \"issuer\": \"https://a.example\"\n  \"x\": 1\n}\n"));
	assert_int_equal(kt_config_load_file(path, &cfg, &err), KT_ERR_INVALID);
	assert_string_equal(
	    err.msg, "config: line 3, column 5: '}' expected near '\"x\"'");
	unlink(path);
	free(path);

	/* exactly 1 MiB is allowed (padding with spaces), one byte more not */
	n = KT_CONFIG_MAX_FILE_SIZE;
	big = malloc(n + 1);
	memset(big, ' ', n + 1);
	memcpy(big, "{" ISS "}", strlen("{" ISS "}"));
	path = write_temp(big, n);
	assert_int_equal(kt_config_load_file(path, &cfg, &err), KT_OK);
	kt_config_free(cfg);
	unlink(path);
	free(path);
	path = write_temp(big, n + 1);
	assert_int_equal(kt_config_load_file(path, &cfg, &err), KT_ERR_LIMIT);
	{
		char want[256];
		snprintf(want, sizeof(want), "config: %s: larger than 1 MiB",
			 path);
		assert_string_equal(err.msg, want);
	}
	unlink(path);
	free(path);

	/* and the same bounds for strings */
	big[n] = '\0';
	assert_int_equal(kt_config_load_string(big, &cfg, &err), KT_OK);
	kt_config_free(cfg);
	big[n] = ' ';
	big = realloc(big, n + 2);
	big[n + 1] = '\0';
	assert_int_equal(kt_config_load_string(big, &cfg, &err), KT_ERR_LIMIT);
	assert_string_equal(err.msg, "config: larger than 1 MiB");
	free(big);

	assert_int_equal(kt_config_load_string(NULL, &cfg, &err),
			 KT_ERR_INVALID);
	kt_config_free(NULL);
}

static char *dump(const struct kt_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	kt_config_dump(cfg, fp);
	fclose(fp);
	return buf;
}

static void test_dump_defaults(void **state)
{
	struct kt_config *cfg = load_ok("{" ISS "}"), *cfg2;
	char *out = dump(cfg), *out2;
	json_t *j = json_loads(out, 0, NULL);

	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(j, "listen"), "port")),
			 8080);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "redis"), "url")),
			    "redis://127.0.0.1:6379/0");
	assert_true(json_is_false(
	    json_object_get(json_object_get(j, "registration"), "enabled")));
	assert_true(json_is_array(json_object_get(
	    json_object_get(j, "registration"), "initial_access_tokens")));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "log"), "level")),
			    "info");
	assert_int_equal(json_array_size(json_object_get(j, "clients")), 0);
	json_decref(j);

	/* the dump is a valid config that dumps identically */
	cfg2 = load_ok(out);
	out2 = dump(cfg2);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	kt_config_free(cfg);
	kt_config_free(cfg2);
}

static void test_dump_redacts(void **state)
{
	char *path = data_path("KONTOR_TEST_DATA", "config/full.json");
	struct kt_config *cfg = NULL;
	struct kt_error err;
	char *out;
	json_t *j, *clients;

	assert_int_equal(kt_config_load_file(path, &cfg, &err), KT_OK);
	free(path);
	out = dump(cfg);
	/* no secret in any form */
	assert_null(strstr(out, "portal-secret"));
	assert_null(strstr(out, "iat-0123456789abcdef"));
	assert_null(strstr(out, "p%40ss"));
	assert_null(strstr(out, "p@ss"));
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "redis"), "url")),
			    "redis://:<redacted>@[::1]:6380/3");
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_object_get(j, "registration"),
				"initial_access_tokens"),
		1)),
	    "<redacted>");
	clients = json_object_get(j, "clients");
	assert_int_equal(json_array_size(clients), 2);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(clients, 0), "client_secret")),
			    "<redacted>");
	assert_null(
	    json_object_get(json_array_get(clients, 1), "client_secret"));
	assert_true(json_is_true(
	    json_object_get(json_array_get(clients, 0), "skip_consent")));
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(j, "password"), "scrypt_log_n")),
			 15);
	json_decref(j);
	free(out);
	kt_config_free(cfg);
}

struct redis_case {
	const char *url;
	const char *host;
	int port;
	const char *path;
	const char *password;
	int db;
};

static void test_redis_url(void **state)
{
	static const struct redis_case ok[] = {
	    {"redis://127.0.0.1:6379/0", "127.0.0.1", 6379, "", "", 0},
	    {"redis://cache.example.de", "cache.example.de", 6379, "", "", 0},
	    {"redis://cache.example.de/", "cache.example.de", 6379, "", "", 0},
	    {"redis://cache:7000/15", "cache", 7000, "", "", 15},
	    {"redis://:secret@cache", "cache", 6379, "", "secret", 0},
	    {"redis://:s%3Ac%40r%2Ft@[::1]:6380/2", "::1", 6380, "", "s:c@r/t",
	     2},
	    {"redis://:@cache", "cache", 6379, "", "", 0},
	    {"redis://[2001:db8::5]", "2001:db8::5", 6379, "", "", 0},
	    {"unix:///run/redis/redis.sock", "", 0, "/run/redis/redis.sock", "",
	     0},
	    {"unix:///run/redis.sock?db=4", "", 0, "/run/redis.sock", "", 4},
	};
	static const struct {
		const char *url;
		const char *msg;
	} bad[] = {
	    {NULL, "missing URL"},
	    {"", "missing URL"},
	    {"http://cache", "unsupported scheme (use redis:// or unix://)"},
	    {"REDIS://cache", "unsupported scheme (use redis:// or unix://)"},
	    {"rediss://cache", "unsupported scheme (use redis:// or unix://)"},
	    {"redis://", "missing host"},
	    {"redis:///0", "missing host"},
	    {"redis://:6379", "missing host"},
	    {"redis://:pw@", "missing host"},
	    {"redis://ca che", "invalid host"},
	    {"redis://cache?x", "invalid host"},
	    {"redis://[::1", "invalid host"},
	    {"redis://[nope]", "invalid host"},
	    {"redis://[::1]x", "invalid host"},
	    {"redis://cache:", "invalid port"},
	    {"redis://cache:0", "invalid port"},
	    {"redis://cache:65536", "invalid port"},
	    {"redis://cache:63x", "invalid port"},
	    {"redis://cache/x", "invalid database number"},
	    {"redis://cache/1/2", "invalid database number"},
	    {"redis://cache/65536", "invalid database number"},
	    {"redis://cache/-1", "invalid database number"},
	    {"redis://user@cache",
	     "user names are not supported (use redis://:password@host)"},
	    {"redis://:p%zz@cache", "invalid percent-encoding in password"},
	    {"redis://:p%00@cache", "invalid percent-encoding in password"},
	    {"unix://", "unix socket path must be absolute"},
	    {"unix://run/redis.sock", "unix socket path must be absolute"},
	    {"unix:///run/redis.sock?database=1",
	     "unsupported query (only ?db=N)"},
	    {"unix:///run/redis.sock?db=x", "invalid database number"},
	    {"unix:///run/\x01.sock", "contains control characters"},
	    {"unix:///"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	     "unix socket path longer than 107 bytes"},
	};
	struct kt_redis_addr a;
	struct kt_error err;
	char longpw[400];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (kt_config_redis_url_parse(ok[i].url, &a, &err) != KT_OK)
			fail_msg("%s: %s", ok[i].url, err.msg);
		assert_string_equal(a.host, ok[i].host);
		assert_int_equal(a.port, ok[i].port);
		assert_string_equal(a.path, ok[i].path);
		assert_string_equal(a.password, ok[i].password);
		assert_int_equal(a.db, ok[i].db);
		kt_config_redis_addr_clear(&a);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = kt_config_redis_url_parse(bad[i].url, &a, &err);
		if (r == KT_OK)
			fail_msg("accepted %s", bad[i].url);
		assert_int_equal(r, KT_ERR_INVALID);
		if (strcmp(err.msg, bad[i].msg) != 0)
			fail_msg("%s: got '%s', want '%s'", bad[i].url, err.msg,
				 bad[i].msg);
		/* nothing half-parsed is left behind */
		assert_string_equal(a.host, "");
		assert_string_equal(a.password, "");
	}
	snprintf(longpw, sizeof(longpw), "redis://:%0300d@cache", 0);
	assert_int_equal(kt_config_redis_url_parse(longpw, &a, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "password too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_sample_file),
	    cmocka_unit_test(test_bad_configs),
	    cmocka_unit_test(test_dev_loopback),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_dump_defaults),
	    cmocka_unit_test(test_dump_redacts),
	    cmocka_unit_test(test_redis_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
