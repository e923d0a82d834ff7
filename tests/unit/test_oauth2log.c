/*
 * lib/oauth2log.c: liboauth2's warnings and errors reach kt_log with its
 * function and line, everything below warn is dropped, and tokens are
 * redacted on the way. Lines are captured through a pipe given to
 * kt_log_init.
 */
#include <fcntl.h>
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
#include <oauth2/log.h>
#include <oauth2/mem.h>
#include <oauth2/util.h>

#include "kontor/log.h"
#include "kontor/oauth2log.h"

/* A real ID token of the kind liboauth2 prints in oauth2_cache_set. */
static const char jwt[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0."
    "eyJpc3MiOiJ4Iiwic3ViIjoicyIsImF1ZCI6ImEiLCJpYXQiOjE3OTU5MTA3NTd9."
    "Yiz9juP3F8TCw1VZRkmJ4FFUPfVj2xCl2H59ygQGVAoUFD8s3AYha3m5sPfs14qaQ-"
    "1NWAVJOD_UPFaUMNvEFA";

static int pfd[2] = {-1, -1};
static char captured[16384];

static int setup(void **state)
{
	if (pipe(pfd) != 0)
		return -1;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	kt_log_init(KT_LOG_DEBUG, pfd[1]);
	return 0;
}

static int teardown(void **state)
{
	kt_log_init(KT_LOG_INFO, 2);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

static const char *drain(void)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(pfd[0], captured + n, sizeof(captured) - 1 - n)) > 0)
		n += (size_t)r;
	captured[n] = '\0';
	return captured;
}

static void expect_redact(const char *in, const char *want)
{
	char out[512];

	assert_ptr_equal(kt_oauth2log_redact(out, sizeof(out), in), out);
	assert_string_equal(out, want);
}

static void test_redact(void **state)
{
	char line[600], out[600];

	snprintf(line, sizeof(line), "leave: could NOT store: %s", jwt);
	expect_redact(line, "leave: could NOT store: [redacted]");
	/* A code, a state and a cookie value: random base64url. */
	expect_redact("code=Sp1ZzK9xQ2m_RtWvYb8cNd4e&state=aZ3kLmN0pQrStUvWx",
		      "[redacted]&[redacted]");
	expect_redact("session cookie kontor_session=AbCdEfGhIjKlMnOpQrStUv; "
		      "Path=/",
		      "session cookie [redacted]; Path=/");
	/* What liboauth2 logs otherwise stays readable. */
	expect_redact("cjose_jws_verify failed: [jws.c:1037 "
		      "_cjose_jws_verify_sig_ec crypto error]",
		      "cjose_jws_verify failed: [jws.c:1037 "
		      "_cjose_jws_verify_sig_ec crypto error]");
	expect_redact("\"exp\" validation failure (1795910697): JWT expired "
		      "69 seconds ago",
		      "\"exp\" validation failure (1795910697): JWT expired "
		      "69 seconds ago");
	expect_redact("oauth2_http_get failed for "
		      "https://login.schleswig-holstein.example/.well-known/"
		      "openid-configuration",
		      "oauth2_http_get failed for "
		      "https://login.schleswig-holstein.example/.well-known/"
		      "openid-configuration");
	/* 19 characters of a token are kept, 20 are not. */
	expect_redact("AbCdEfGhIjKlMnOpQrS", "AbCdEfGhIjKlMnOpQrS");
	expect_redact("AbCdEfGhIjKlMnOpQrSt", "[redacted]");
	expect_redact("", "");
	expect_redact(NULL, "");

	/* Too small a buffer: cut, never part of a token. */
	snprintf(line, sizeof(line), "token %s", jwt);
	assert_string_equal(kt_oauth2log_redact(out, 12, line), "token [reda");
	assert_string_equal(kt_oauth2log_redact(out, 4, line), "tok");
	assert_string_equal(kt_oauth2log_redact(out, 1, line), "");
}

static void test_sink_levels_and_redaction(void **state)
{
	oauth2_log_t *log = kt_oauth2log_new();
	json_error_t e;
	json_t *j;
	const char *got;

	assert_non_null(log);
	drain();
	oauth2_debug(log, "debug with %s", jwt);
	oauth2_info(log, "info");
	oauth2_notice(log, "notice");
	assert_string_equal(drain(), "");

	oauth2_warn(log, "cjose_jws_verify failed: [%s]", "crypto error");
	got = drain();
	j = json_loads(got, JSON_REJECT_DUPLICATES, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")),
			    "warn");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "liboauth2: cjose_jws_verify failed: [crypto "
			    "error]");
	/* liboauth2's function is the line's source. */
	assert_non_null(strstr(json_string_value(json_object_get(j, "src")),
			       "test_sink_levels_and_redaction:"));
	json_decref(j);

	oauth2_error(log, "leave: could NOT store: %s", jwt);
	got = drain();
	assert_null(strstr(got, "eyJ"));
	j = json_loads(got, JSON_REJECT_DUPLICATES, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")),
			    "error");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "liboauth2: leave: could NOT store: [redacted]");
	json_decref(j);

	/* Our level applies too. */
	kt_log_init(KT_LOG_ERROR, pfd[1]);
	oauth2_warn(log, "a warning");
	assert_string_equal(drain(), "");
	kt_log_init(KT_LOG_DEBUG, pfd[1]);

	kt_oauth2log_free(log);
	kt_oauth2log_free(NULL);
}

/* The demo portal hands the sink to oauth2_init. */
static void test_sink_with_oauth2_init(void **state)
{
	oauth2_log_sink_t *sink = kt_oauth2log_sink_new();
	oauth2_log_t *log;

	assert_non_null(sink);
	log = oauth2_init(OAUTH2_LOG_WARN, sink);
	assert_non_null(log);
	drain();
	oauth2_error(log, "state=%s", "aZ3kLmN0pQrStUvWxYz012");
	assert_non_null(strstr(drain(), "\"liboauth2: [redacted]\""));
	oauth2_shutdown(log); /* frees the sink */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test(test_sink_levels_and_redaction),
	    cmocka_unit_test(test_sink_with_oauth2_init),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
