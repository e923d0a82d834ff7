#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/params.h"

/* Parse a NUL-terminated string with default limits; must succeed. */
static struct kt_params *parse_ok(const char *s)
{
	struct kt_params *p = NULL;
	struct kt_error err;

	assert_int_equal(kt_params_parse(s, strlen(s), NULL, &p, &err), KT_OK);
	assert_non_null(p);
	return p;
}

/* Parse and expect failure with exactly code and message. */
static void parse_fail_lim(const char *s, size_t len,
			   const struct kt_params_limits *lim, int code,
			   const char *msg)
{
	struct kt_params *p = (struct kt_params *)1;
	struct kt_error err;

	assert_int_equal(kt_params_parse(s, len, lim, &p, &err), code);
	assert_null(p);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
}

static void parse_fail(const char *s, int code, const char *msg)
{
	parse_fail_lim(s, strlen(s), NULL, code, msg);
}

static void test_basic(void **state)
{
	struct kt_params *p = parse_ok(
	    "response_type=code&client_id=portal&redirect_uri="
	    "https%3A%2F%2Fportal.example%2Fcb&scope=openid+email&state=xyz");

	assert_int_equal(kt_params_size(p), 5);
	assert_string_equal(kt_params_get(p, "response_type"), "code");
	assert_string_equal(kt_params_get(p, "redirect_uri"),
			    "https://portal.example/cb");
	assert_string_equal(kt_params_get(p, "scope"), "openid email");
	assert_null(kt_params_get(p, "nonce"));
	assert_null(kt_params_get(p, NULL));
	assert_string_equal(kt_params_name_at(p, 0), "response_type");
	assert_string_equal(kt_params_value_at(p, 4), "xyz");
	assert_null(kt_params_name_at(p, 5));
	assert_null(kt_params_value_at(p, 5));
	assert_int_equal(kt_params_count(p, "scope"), 1);
	assert_int_equal(kt_params_count(p, "nonce"), 0);
	assert_null(kt_params_duplicate(p));
	kt_params_free(p);
}

static void test_empty_and_segments(void **state)
{
	struct kt_params *p;
	struct kt_error err;

	p = parse_ok("");
	assert_int_equal(kt_params_size(p), 0);
	kt_params_free(p);

	assert_int_equal(kt_params_parse(NULL, 0, NULL, &p, &err), KT_OK);
	assert_int_equal(kt_params_size(p), 0);
	kt_params_free(p);
	parse_fail_lim(NULL, 3, NULL, KT_ERR_INVALID, "no input");

	/* Empty segments are skipped; no '=' means empty value. */
	p = parse_ok("&a=1&&prompt&b=&");
	assert_int_equal(kt_params_size(p), 3);
	assert_string_equal(kt_params_get(p, "a"), "1");
	assert_string_equal(kt_params_get(p, "prompt"), "");
	assert_string_equal(kt_params_get(p, "b"), "");
	kt_params_free(p);

	/* Only the first '=' splits; the rest is data. */
	p = parse_ok("a=b=c");
	assert_string_equal(kt_params_get(p, "a"), "b=c");
	kt_params_free(p);

	/* Input need not be NUL-terminated: len is honoured. */
	assert_int_equal(kt_params_parse("a=1&b=2", 3, NULL, &p, &err), KT_OK);
	assert_int_equal(kt_params_size(p), 1);
	assert_string_equal(kt_params_get(p, "a"), "1");
	kt_params_free(p);

	parse_fail("=x", KT_ERR_INVALID, "empty parameter name");
	parse_fail("a=1&=", KT_ERR_INVALID, "empty parameter name");
}

static void test_percent(void **state)
{
	struct kt_params *p;

	p = parse_ok("a=%41%62%2b%2B+%20&b%5Bx%5D=%e2%82%ac");
	assert_string_equal(kt_params_get(p, "a"), "Ab++  ");
	assert_string_equal(kt_params_get(p, "b[x]"), "\xe2\x82\xac");
	kt_params_free(p);

	parse_fail("state=%", KT_ERR_INVALID,
		   "parameter 'state': invalid percent-encoding");
	parse_fail("state=%4", KT_ERR_INVALID,
		   "parameter 'state': invalid percent-encoding");
	parse_fail("state=%4g", KT_ERR_INVALID,
		   "parameter 'state': invalid percent-encoding");
	parse_fail("state=abc%zz", KT_ERR_INVALID,
		   "parameter 'state': invalid percent-encoding");
	parse_fail("state=%%41", KT_ERR_INVALID,
		   "parameter 'state': invalid percent-encoding");
	parse_fail("st%ate=1", KT_ERR_INVALID,
		   "parameter name: invalid percent-encoding");
}

static void test_nul(void **state)
{
	static const char raw[] = "a=1&state=x\0y";

	parse_fail("state=a%00b", KT_ERR_INVALID,
		   "parameter 'state': contains a NUL byte");
	parse_fail("a%00b=1", KT_ERR_INVALID,
		   "parameter name: contains a NUL byte");
	/* A raw NUL inside the given length is rejected as well. */
	parse_fail_lim(raw, sizeof(raw) - 1, NULL, KT_ERR_INVALID,
		       "parameter 'state': contains a NUL byte");
}

static void test_utf8(void **state)
{
	struct kt_params *p;

	p = parse_ok("name=J%C3%BCrgen+M%C3%BCller&x=%F0%9F%94%91");
	assert_string_equal(kt_params_get(p, "name"),
			    "J\xc3\xbcrgen M\xc3\xbcller");
	assert_string_equal(kt_params_get(p, "x"), "\xf0\x9f\x94\x91");
	kt_params_free(p);

	/* Raw (unencoded) UTF-8 is accepted too. */
	p = parse_ok("name=J\xc3\xbcrgen");
	assert_string_equal(kt_params_get(p, "name"), "J\xc3\xbcrgen");
	kt_params_free(p);

	parse_fail("login_hint=%C3", KT_ERR_INVALID,
		   "parameter 'login_hint': invalid UTF-8");
	parse_fail("login_hint=%FF", KT_ERR_INVALID,
		   "parameter 'login_hint': invalid UTF-8");
	/* Overlong '/', surrogate U+D800, U+110000. */
	parse_fail("login_hint=%C0%AF", KT_ERR_INVALID,
		   "parameter 'login_hint': invalid UTF-8");
	parse_fail("login_hint=%ED%A0%80", KT_ERR_INVALID,
		   "parameter 'login_hint': invalid UTF-8");
	parse_fail("login_hint=%F4%90%80%80", KT_ERR_INVALID,
		   "parameter 'login_hint': invalid UTF-8");
	parse_fail("login_hint=\xe2\x82", KT_ERR_INVALID,
		   "parameter 'login_hint': invalid UTF-8");
	parse_fail("n%E9=1", KT_ERR_INVALID, "parameter name: invalid UTF-8");
}

static void test_data_survives(void **state)
{
	struct kt_params *p =
	    parse_ok("state=%25n%25s%25x&nonce=a%0D%0ASet-Cookie:+x=1"
		     "&q=%3Cscript%3E%27%22&t=%09");

	/* Format specifiers, CRLF and markup are data, not errors. */
	assert_string_equal(kt_params_get(p, "state"), "%n%s%x");
	assert_string_equal(kt_params_get(p, "nonce"), "a\r\nSet-Cookie: x=1");
	assert_string_equal(kt_params_get(p, "q"), "<script>'\"");
	assert_string_equal(kt_params_get(p, "t"), "\t");
	kt_params_free(p);
}

static void test_error_message_names_are_sanitised(void **state)
{
	/* Name with a quote, CR and a format specifier. */
	parse_fail("a%27%0D%25n=%ZZ", KT_ERR_INVALID,
		   "parameter 'a??%n': invalid percent-encoding");
	/* Long names are cut. */
	parse_fail("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=%",
		   KT_ERR_INVALID,
		   "parameter 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': "
		   "invalid percent-encoding");
}

static void test_limits(void **state)
{
	struct kt_params_limits lim = {3, 4, 5, 40};
	struct kt_params *p = NULL;
	struct kt_error err;
	const char *s;
	char *big;

	s = "a=1&b=2&c=3";
	assert_int_equal(kt_params_parse(s, strlen(s), &lim, &p, &err), KT_OK);
	kt_params_free(p);
	s = "a=1&b=2&c=3&d=4";
	parse_fail_lim(s, strlen(s), &lim, KT_ERR_LIMIT,
		       "too many parameters (limit 3)");
	/* Empty segments do not count. */
	s = "&&&a=1&&b=2&&c=3&&";
	assert_int_equal(kt_params_parse(s, strlen(s), &lim, &p, &err), KT_OK);
	kt_params_free(p);

	/* Name: 4 decoded bytes ok ("%61" is one byte), 5 not. */
	s = "abc%61=1";
	assert_int_equal(kt_params_parse(s, strlen(s), &lim, &p, &err), KT_OK);
	assert_string_equal(kt_params_get(p, "abca"), "1");
	kt_params_free(p);
	s = "abcde=1";
	parse_fail_lim(s, strlen(s), &lim, KT_ERR_LIMIT,
		       "parameter name: too long (limit 4 bytes)");

	/* Value: 5 decoded bytes ok, 6 not. */
	s = "a=%41%42%43%44%45";
	assert_int_equal(kt_params_parse(s, strlen(s), &lim, &p, &err), KT_OK);
	kt_params_free(p);
	s = "a=123456";
	parse_fail_lim(s, strlen(s), &lim, KT_ERR_LIMIT,
		       "parameter 'a': too long (limit 5 bytes)");

	/* Total is checked on the encoded input, before anything else. */
	big = malloc(41);
	memset(big, 'x', 40);
	big[40] = '\0';
	big[0] = '=';
	parse_fail_lim(big, 41 - 1, &lim, KT_ERR_INVALID,
		       "empty parameter name");
	parse_fail_lim(big, 41, &lim, KT_ERR_LIMIT,
		       "parameters too large: 41 bytes (limit 40)");
	free(big);

	/* Defaults. */
	assert_int_equal(kt_params_limits_default.max_params,
			 KT_PARAMS_MAX_PARAMS);
	assert_int_equal(kt_params_limits_default.max_total,
			 KT_PARAMS_MAX_TOTAL);
}

static void test_duplicates(void **state)
{
	struct kt_params *p = parse_ok("a=1&scope=openid&b=2&scope=email&a=3");

	assert_string_equal(kt_params_duplicate(p), "a");
	assert_int_equal(kt_params_count(p, "a"), 2);
	assert_int_equal(kt_params_count(p, "scope"), 2);
	/* get returns the first; endpoints must refuse duplicates anyway. */
	assert_string_equal(kt_params_get(p, "a"), "1");
	assert_null(kt_params_to_json(p));
	kt_params_free(p);

	p = parse_ok("x=1&scope=openid&scope=email");
	assert_string_equal(kt_params_duplicate(p), "scope");
	kt_params_free(p);

	/* Encoded and plain spellings of one name are the same name. */
	p = parse_ok("state=1&st%61te=2");
	assert_string_equal(kt_params_duplicate(p), "state");
	kt_params_free(p);

	/* Names are case-sensitive. */
	p = parse_ok("State=1&state=2");
	assert_null(kt_params_duplicate(p));
	kt_params_free(p);
}

static void test_decode(void **state)
{
	char out[8];
	size_t n = 99;
	struct kt_error err;

	assert_int_equal(
	    kt_params_decode("a%3Ab+c", 7, out, sizeof(out), &n, &err), KT_OK);
	assert_string_equal(out, "a:b c");
	assert_int_equal(n, 5);
	/* 7 bytes + NUL fit in 8, 8 do not. */
	assert_int_equal(
	    kt_params_decode("1234567", 7, out, sizeof(out), &n, &err), KT_OK);
	assert_int_equal(
	    kt_params_decode("12345678", 8, out, sizeof(out), &n, &err),
	    KT_ERR_LIMIT);
	assert_string_equal(err.msg, "too long");
	assert_string_equal(out, "");
	assert_int_equal(n, 0);
	assert_int_equal(kt_params_decode("x", 1, out, 0, &n, &err),
			 KT_ERR_LIMIT);
	assert_int_equal(kt_params_decode("%0", 2, out, sizeof(out), &n, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "invalid percent-encoding");
	/* err may be NULL. */
	assert_int_equal(kt_params_decode("%00", 3, out, sizeof(out), &n, NULL),
			 KT_ERR_INVALID);
}

static void test_build(void **state)
{
	struct kt_params *p = kt_params_new();

	assert_non_null(p);
	assert_int_equal(kt_params_add(p, "a", "1"), KT_OK);
	assert_int_equal(kt_params_add(p, "", "1"), KT_ERR_INVALID);
	assert_int_equal(kt_params_add(p, NULL, "1"), KT_ERR_INVALID);
	assert_int_equal(kt_params_add(p, "b", NULL), KT_ERR_INVALID);
	assert_int_equal(kt_params_add(NULL, "b", "1"), KT_ERR_INVALID);
	for (int i = 0; i < 100; i++)
		assert_int_equal(kt_params_add(p, "many", "x"), KT_OK);
	assert_int_equal(kt_params_size(p), 101);
	kt_params_free(p);
	kt_params_free(NULL);
	assert_int_equal(kt_params_size(NULL), 0);
	assert_null(kt_params_get(NULL, "a"));
	assert_null(kt_params_duplicate(NULL));
}

static void test_json_roundtrip(void **state)
{
	struct kt_params *p =
	    parse_ok("response_type=code&client_id=portal&state=%25n%0D%0A&"
		     "nonce=%C3%A4&scope=openid+email");
	struct kt_params *q = NULL;
	struct kt_error err;
	json_t *j;
	char *s;

	j = kt_params_to_json(p);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"response_type\":\"code\",\"client_id\":"
			       "\"portal\",\"state\":\"%n\\r\\n\",\"nonce\":"
			       "\"\xc3\xa4\",\"scope\":\"openid email\"}");
	free(s);
	assert_int_equal(kt_params_from_json(j, NULL, &q, &err), KT_OK);
	assert_int_equal(kt_params_size(q), 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(kt_params_name_at(q, i),
				    kt_params_name_at(p, i));
		assert_string_equal(kt_params_value_at(q, i),
				    kt_params_value_at(p, i));
	}
	kt_params_free(q);
	json_decref(j);
	kt_params_free(p);
	assert_null(kt_params_to_json(NULL));
}

static void from_json_fail(const char *text, const struct kt_params_limits *lim,
			   int code, const char *msg)
{
	struct kt_params *q = (struct kt_params *)1;
	struct kt_error err;
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);

	assert_non_null(j);
	assert_int_equal(kt_params_from_json(j, lim, &q, &err), code);
	assert_null(q);
	assert_string_equal(err.msg, msg);
	json_decref(j);
}

static void test_from_json_rejects(void **state)
{
	struct kt_params_limits lim = {2, 4, 5, 100};
	struct kt_params *q = (struct kt_params *)1;
	struct kt_error err;

	assert_int_equal(kt_params_from_json(NULL, NULL, &q, &err),
			 KT_ERR_INVALID);
	assert_null(q);
	from_json_fail("[1]", NULL, KT_ERR_INVALID,
		       "parameters: not a JSON object");
	from_json_fail("{\"a\":1}", NULL, KT_ERR_INVALID,
		       "parameter 'a': not a string");
	from_json_fail("{\"a\":\"x\\u0000y\"}", NULL, KT_ERR_INVALID,
		       "parameter 'a': contains a NUL byte");
	{
		/* jansson only builds keys with NUL through the n-API. */
		json_t *j = json_object();
		json_object_setn_new(j, "a\0b", 3, json_string("x"));
		assert_int_equal(kt_params_from_json(j, NULL, &q, &err),
				 KT_ERR_INVALID);
		assert_null(q);
		assert_string_equal(err.msg,
				    "parameter name: contains a NUL byte");
		json_decref(j);
	}
	from_json_fail("{\"\":\"x\"}", NULL, KT_ERR_INVALID,
		       "empty parameter name");
	from_json_fail("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}", &lim,
		       KT_ERR_LIMIT, "too many parameters (limit 2)");
	from_json_fail("{\"abcde\":\"1\"}", &lim, KT_ERR_LIMIT,
		       "parameter name: too long (limit 4 bytes)");
	from_json_fail("{\"a\":\"123456\"}", &lim, KT_ERR_LIMIT,
		       "parameter 'a': too long (limit 5 bytes)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_empty_and_segments),
	    cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_nul),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_data_survives),
	    cmocka_unit_test(test_error_message_names_are_sanitised),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_json_roundtrip),
	    cmocka_unit_test(test_from_json_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
