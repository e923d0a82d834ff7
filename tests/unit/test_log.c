/*
 * lib/log.c: one JSON object per line, whatever the message holds or how
 * long it is. Lines are captured through a pipe given to kt_log_init and
 * parsed with jansson in strict mode (valid UTF-8, no duplicate keys).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

#include "kontor/err.h"
#include "kontor/log.h"

#define LINE_MAX_BYTES 4096 /* KT_LOG_LINE_MAX in lib/log.c */

static int pfd[2] = {-1, -1};
static char captured[65536];
static size_t ncaptured;

static int setup(void **state)
{
	if (pipe(pfd) != 0)
		return -1;
	/* Nothing here ever blocks: the pipe holds 64 KiB, lines are
	 * drained after each call. */
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	kt_log_init(KT_LOG_DEBUG, pfd[1]);
	kt_log_set_request_id(NULL);
	return 0;
}

static int teardown(void **state)
{
	kt_log_init(KT_LOG_INFO, 2);
	kt_log_set_request_id(NULL);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

/* Everything written since the last call. */
static const char *drain(void)
{
	ssize_t n;

	ncaptured = 0;
	while ((n = read(pfd[0], captured + ncaptured,
			 sizeof(captured) - 1 - ncaptured)) > 0)
		ncaptured += (size_t)n;
	captured[ncaptured] = '\0';
	return captured;
}

/*
 * Exactly one line was written: valid strict JSON (an object), newline
 * terminated, no raw control bytes, at most LINE_MAX_BYTES. Returns it.
 */
static json_t *one_line(void)
{
	json_error_t e;
	json_t *j;

	drain();
	if (ncaptured == 0)
		fail_msg("nothing was logged");
	assert_true(ncaptured <= LINE_MAX_BYTES);
	assert_int_equal(captured[ncaptured - 1], '\n');
	assert_ptr_equal(memchr(captured, '\n', ncaptured),
			 captured + ncaptured - 1);
	for (size_t i = 0; i + 1 < ncaptured; i++)
		if ((unsigned char)captured[i] < 0x20)
			fail_msg("raw control byte 0x%02x at %zu", captured[i],
				 i);
	j = json_loadb(captured, ncaptured - 1, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		fail_msg("not valid JSON (%s at %d): %.300s", e.text,
			 e.position, captured);
	assert_true(json_is_object(j));
	return j;
}

static void nothing_logged(void)
{
	drain();
	assert_int_equal(ncaptured, 0);
}

static const char *sget(json_t *j, const char *k)
{
	const char *v = json_string_value(json_object_get(j, k));

	if (v == NULL)
		fail_msg("no string member '%s'", k);
	return v;
}

/* ---- format ------------------------------------------------------------- */

static void test_format(void **state)
{
	char src[64];
	json_t *j;
	const char *ts;
	int line;

	kt_log_info("hello %d %s", 42, "world");
	line = __LINE__ - 1;
	j = one_line();
	assert_int_equal(json_object_size(j), 4);
	assert_string_equal(sget(j, "level"), "info");
	assert_string_equal(sget(j, "msg"), "hello 42 world");
	snprintf(src, sizeof(src), "test_format:%d", line);
	assert_string_equal(sget(j, "src"), src);
	assert_null(json_object_get(j, "rid"));
	/* 2024-01-31T12:34:56.789Z: UTC with milliseconds. */
	ts = sget(j, "ts");
	assert_int_equal(strlen(ts), 24);
	for (int i = 0; i < 24; i++) {
		const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
		if (shape[i] == 'd')
			assert_true(ts[i] >= '0' && ts[i] <= '9');
		else
			assert_int_equal(ts[i], shape[i]);
	}
	/* Members in a fixed order: ts, level, src, msg. */
	assert_int_equal(strncmp(captured, "{\"ts\":\"", 7), 0);
	assert_non_null(strstr(captured, "\",\"level\":\"info\",\"src\":\""));
	json_decref(j);

	kt_log_debug("d");
	j = one_line();
	assert_string_equal(sget(j, "level"), "debug");
	json_decref(j);
	kt_log_warn("w");
	j = one_line();
	assert_string_equal(sget(j, "level"), "warn");
	json_decref(j);
	kt_log_error("e");
	j = one_line();
	assert_string_equal(sget(j, "level"), "error");
	json_decref(j);

	/* Without a function: no src. */
	kt_log_write(KT_LOG_INFO, NULL, 0, "bare");
	j = one_line();
	assert_null(json_object_get(j, "src"));
	assert_string_equal(sget(j, "msg"), "bare");
	json_decref(j);
}

static void test_error_variants(void **state)
{
	json_t *j;

	kt_log_error_r(KT_ERR_UNAVAILABLE, "store %s", "down");
	j = one_line();
	assert_string_equal(sget(j, "level"), "error");
	assert_string_equal(sget(j, "msg"), "store down: service unavailable");
	json_decref(j);
	kt_log_warn_r(KT_ERR_LIMIT, "no args");
	j = one_line();
	assert_string_equal(sget(j, "level"), "warn");
	assert_string_equal(sget(j, "msg"), "no args: limit exceeded");
	json_decref(j);
}

static void test_errno_kept(void **state)
{
	errno = EAGAIN;
	kt_log_info("x");
	assert_int_equal(errno, EAGAIN);
	drain();
	/* Even when the write fails (fd closed). */
	kt_log_init(KT_LOG_DEBUG, -1);
	errno = ENOENT;
	kt_log_info("lost");
	assert_int_equal(errno, ENOENT);
	kt_log_init(KT_LOG_DEBUG, pfd[1]);
}

/* ---- escaping ----------------------------------------------------------- */

static void test_escaping(void **state)
{
	static const char msg[] =
	    "q\"b\\s/ n\nr\rt\tc\x01\x1f del\x7f end\"}{\"level\":\"x";
	json_t *j;

	kt_log_info("%s", msg);
	j = one_line();
	/* Round trip: exactly the original text; no extra members. */
	assert_string_equal(sget(j, "msg"), msg);
	assert_string_equal(sget(j, "level"), "info");
	assert_int_equal(json_object_size(j), 4);
	assert_non_null(strstr(captured, "n\\nr"));
	assert_non_null(strstr(captured, "c\\u0001\\u001f"));
	assert_non_null(strstr(captured, "del\\u007f"));
	json_decref(j);

	/* UTF-8 passes through as is. */
	kt_log_info("Gr\xc3\xbc\xc3\x9f"
		    "e \xe2\x82\xac \xf0\x9f\x94\x91");
	j = one_line();
	assert_string_equal(sget(j, "msg"), "Gr\xc3\xbc\xc3\x9f"
					    "e \xe2\x82\xac "
					    "\xf0\x9f\x94\x91");
	json_decref(j);
}

/* Bytes that are not UTF-8 (a header value, a broken client name) must not
 * break the line: each becomes U+FFFD. */
static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"a\xff"
	     "b",
	     "a\xef\xbf\xbd"
	     "b"},
	    {"a\xc3", "a\xef\xbf\xbd"}, /* cut sequence */
	    {"a\xc3"
	     "b",
	     "a\xef\xbf\xbd"
	     "b"},				      /* bad continuation */
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong '/' */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* D800 */
	    {"\xf4\x90\x80\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				  "\xef\xbf\xbdx"}, /* > U+10FFFF */
	    {"\x80", "\xef\xbf\xbd"},
	};
	json_t *j;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_log_info("%s", cases[i].in);
		j = one_line();
		assert_string_equal(sget(j, "msg"), cases[i].out);
		json_decref(j);
	}
	kt_log_set_request_id("r\xff");
	kt_log_info("x");
	j = one_line();
	assert_string_equal(sget(j, "rid"), "r\xef\xbf\xbd");
	json_decref(j);
}

/* ---- request id --------------------------------------------------------- */

static void *other_thread(void *arg)
{
	(void)arg;
	kt_log_info("from another thread");
	return (void *)kt_log_request_id();
}

static void test_request_id(void **state)
{
	char rid[200];
	pthread_t t;
	void *seen = (void *)1;
	json_t *j;

	assert_null(kt_log_request_id());
	kt_log_set_request_id("req-0123");
	assert_string_equal(kt_log_request_id(), "req-0123");
	kt_log_info("with id");
	j = one_line();
	assert_string_equal(sget(j, "rid"), "req-0123");
	assert_int_equal(json_object_size(j), 5);
	/* After level, before src and msg. */
	assert_non_null(strstr(captured, "\"level\":\"info\",\"rid\":"
					 "\"req-0123\",\"src\":"));
	json_decref(j);

	/* Per thread. */
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, &seen);
	assert_null(seen);
	j = one_line();
	assert_null(json_object_get(j, "rid"));
	json_decref(j);

	/* Copied, escaped, bounded (63 bytes). */
	snprintf(rid, sizeof(rid), "a\"b");
	kt_log_set_request_id(rid);
	rid[0] = 'X';
	kt_log_info("x");
	j = one_line();
	assert_string_equal(sget(j, "rid"), "a\"b");
	json_decref(j);
	memset(rid, 'r', sizeof(rid) - 1);
	rid[sizeof(rid) - 1] = '\0';
	kt_log_set_request_id(rid);
	assert_int_equal(strlen(kt_log_request_id()), 63);

	kt_log_set_request_id(NULL);
	assert_null(kt_log_request_id());
	kt_log_info("x");
	j = one_line();
	assert_null(json_object_get(j, "rid"));
	json_decref(j);
	kt_log_set_request_id("");
	assert_null(kt_log_request_id());
}

/* ---- levels ------------------------------------------------------------- */

static void test_levels(void **state)
{
	static const char *names[] = {"debug", "info", "warn", "error", "off"};
	enum kt_log_level l;
	json_t *j;

	kt_log_init(KT_LOG_WARN, pfd[1]);
	assert_false(kt_log_enabled(KT_LOG_DEBUG));
	assert_false(kt_log_enabled(KT_LOG_INFO));
	assert_true(kt_log_enabled(KT_LOG_WARN));
	assert_true(kt_log_enabled(KT_LOG_ERROR));
	assert_false(kt_log_enabled(KT_LOG_OFF));
	kt_log_debug("no");
	kt_log_info("no");
	kt_log_write(KT_LOG_INFO, __func__, __LINE__, "no");
	kt_log_fields(KT_LOG_INFO, __func__, __LINE__, "no", NULL);
	nothing_logged();
	kt_log_warn("yes");
	j = one_line();
	json_decref(j);
	kt_log_fields(KT_LOG_ERROR, __func__, __LINE__, "yes", NULL);
	j = one_line();
	json_decref(j);

	/* off: nothing at all, not even errors. */
	kt_log_init(KT_LOG_OFF, pfd[1]);
	kt_log_error("no");
	kt_log_fields(KT_LOG_ERROR, NULL, 0, "no", NULL);
	kt_log_write(KT_LOG_OFF, NULL, 0, "no");
	nothing_logged();

	/* The arguments are not even evaluated below the level. */
	kt_log_init(KT_LOG_ERROR, pfd[1]);
	int evaluated = 0;
	kt_log_info("%d", ++evaluated);
	assert_int_equal(evaluated, 0);

	for (int i = 0; i < 5; i++) {
		assert_int_equal(kt_log_level_parse(names[i], &l), KT_OK);
		assert_int_equal(l, i);
	}
	l = KT_LOG_ERROR;
	assert_int_equal(kt_log_level_parse("INFO", &l), KT_ERR_INVALID);
	assert_int_equal(kt_log_level_parse("", &l), KT_ERR_INVALID);
	assert_int_equal(kt_log_level_parse("warning", &l), KT_ERR_INVALID);
	assert_int_equal(kt_log_level_parse("info ", &l), KT_ERR_INVALID);
	assert_int_equal(l, KT_LOG_ERROR);
}

/* ---- fields ------------------------------------------------------------- */

static void test_fields(void **state)
{
	json_t *f, *j;

	f = json_pack("{s:s,s:s,s:i,s:f,s:b,s:n,s:{s:[i,s]}}", "method", "GET",
		      "path", "/a\"b\n\xc3\xa4", "status", 200, "ms", 1.5,
		      "gone", 0, "none", "nested", "x", 1, "y");
	kt_log_set_request_id("rid-7");
	kt_log_fields(KT_LOG_INFO, NULL, 0, "request", f);
	j = one_line();
	assert_string_equal(sget(j, "msg"), "request");
	assert_string_equal(sget(j, "rid"), "rid-7");
	assert_null(json_object_get(j, "src"));
	assert_string_equal(sget(j, "method"), "GET");
	assert_string_equal(sget(j, "path"), "/a\"b\n\xc3\xa4");
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
	assert_true(json_real_value(json_object_get(j, "ms")) == 1.5);
	assert_true(json_is_false(json_object_get(j, "gone")));
	assert_true(json_is_null(json_object_get(j, "none")));
	assert_true(json_equal(json_object_get(j, "nested"),
			       json_object_get(f, "nested")));
	assert_int_equal(json_object_size(j), 4 + json_object_size(f));
	/* Non-ASCII in fields is escaped (JSON_ENSURE_ASCII). */
	assert_non_null(strcasestr(captured, "\\u00e4"));
	/* The caller keeps its reference. */
	assert_int_equal(f->refcount, 1);
	json_decref(j);
	json_decref(f);

	/* No fields, empty fields, not an object: just the message. */
	kt_log_fields(KT_LOG_INFO, __func__, 1, "m", NULL);
	j = one_line();
	assert_int_equal(json_object_size(j), 5);
	json_decref(j);
	f = json_object();
	kt_log_fields(KT_LOG_INFO, __func__, 1, "m", f);
	j = one_line();
	assert_int_equal(json_object_size(j), 5);
	json_decref(j);
	json_decref(f);
	f = json_pack("[i,i]", 1, 2);
	kt_log_fields(KT_LOG_INFO, __func__, 1, "m", f);
	j = one_line();
	assert_int_equal(json_object_size(j), 5);
	json_decref(j);
	json_decref(f);
	/* Messages given to kt_log_fields are not format strings. */
	kt_log_fields(KT_LOG_INFO, NULL, 0, "%s%n%d", NULL);
	j = one_line();
	assert_string_equal(sget(j, "msg"), "%s%n%d");
	json_decref(j);
}

/* ---- long lines --------------------------------------------------------- */

static char *repeat(const char *unit, size_t times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * times + 1);

	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * n, unit, n);
	s[n * times] = '\0';
	return s;
}

/* msg must be a prefix of full (and not empty). */
static void assert_prefix(const char *msg, const char *full)
{
	assert_true(strlen(msg) > 0);
	assert_int_equal(strncmp(msg, full, strlen(msg)), 0);
}

static void test_long_message(void **state)
{
	char *big = repeat("a", 10000);
	json_t *j;

	/* Formatted messages are cut to fit; the line stays valid. */
	kt_log_info("%s", big);
	j = one_line();
	assert_prefix(sget(j, "msg"), big);
	assert_true(strlen(sget(j, "msg")) >= 1000);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);

	/* kt_log_fields takes the message as is: cut by the line limit. */
	kt_log_fields(KT_LOG_INFO, __func__, __LINE__, big, NULL);
	j = one_line();
	assert_prefix(sget(j, "msg"), big);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	free(big);

	/* Characters that expand six-fold when escaped. */
	big = repeat("\x01", 3000);
	kt_log_fields(KT_LOG_INFO, __func__, __LINE__, big, NULL);
	j = one_line();
	assert_prefix(sget(j, "msg"), big);
	json_decref(j);
	free(big);
	big = repeat("\"\\", 3000);
	kt_log_fields(KT_LOG_INFO, __func__, __LINE__, big, NULL);
	j = one_line();
	assert_prefix(sget(j, "msg"), big);
	json_decref(j);
	free(big);

	/* Multi-byte characters are never cut in half. */
	for (int shift = 0; shift < 4; shift++) {
		char *pad = repeat("x", (size_t)shift);
		char *euro = repeat("\xe2\x82\xac", 3000);
		char *m = malloc(strlen(pad) + strlen(euro) + 1);
		snprintf(m, strlen(pad) + strlen(euro) + 1, "%s%s", pad, euro);
		kt_log_fields(KT_LOG_INFO, __func__, __LINE__, m, NULL);
		j = one_line();
		assert_prefix(sget(j, "msg"), m);
		json_decref(j);
		kt_log_info("%s", m);
		j = one_line();
		assert_prefix(sget(j, "msg"), m);
		json_decref(j);
		free(pad);
		free(euro);
		free(m);
	}

	/* A short message is not marked. */
	kt_log_info("short");
	j = one_line();
	assert_null(json_object_get(j, "truncated"));
	json_decref(j);
}

static void test_long_fields(void **state)
{
	char *big = repeat("v", 5000), *mid = repeat("m", 2000);
	char *ctl = repeat("\x02", 1000);
	json_t *f, *j;

	/* Fields that do not fit are dropped as a whole, never cut. */
	f = json_pack("{s:s,s:i}", "path", big, "status", 200);
	kt_log_fields(KT_LOG_INFO, NULL, 0, "request", f);
	j = one_line();
	assert_string_equal(sget(j, "msg"), "request");
	assert_null(json_object_get(j, "path"));
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	json_decref(f);

	/* A long message and fields that would have fit alone. */
	f = json_pack("{s:s,s:s}", "a", mid, "b", ctl);
	kt_log_fields(KT_LOG_INFO, __func__, __LINE__, mid, f);
	j = one_line();
	assert_string_equal(sget(j, "msg"), mid);
	json_decref(j);
	kt_log_set_request_id("rid-long");
	for (size_t n = 1500; n < 2600; n += 37) {
		char *m = repeat("z", n);
		kt_log_fields(KT_LOG_WARN, __func__, __LINE__, m, f);
		j = one_line();
		assert_prefix(sget(j, "msg"), m);
		assert_string_equal(sget(j, "rid"), "rid-long");
		assert_string_equal(sget(j, "level"), "warn");
		if (json_object_get(j, "a") != NULL) {
			assert_string_equal(sget(j, "a"), mid);
			assert_string_equal(sget(j, "b"), ctl);
			assert_null(json_object_get(j, "truncated"));
		} else {
			assert_null(json_object_get(j, "b"));
			assert_true(
			    json_is_true(json_object_get(j, "truncated")));
		}
		json_decref(j);
		free(m);
	}
	json_decref(f);

	/* Fields that exactly fill what is left are kept. */
	kt_log_set_request_id(NULL);
	for (size_t n = 3900; n < 4100; n++) {
		char *v = repeat("y", n);
		f = json_pack("{s:s}", "k", v);
		kt_log_fields(KT_LOG_INFO, NULL, 0, "m", f);
		j = one_line();
		if (json_object_get(j, "k") != NULL)
			assert_string_equal(sget(j, "k"), v);
		else
			assert_true(
			    json_is_true(json_object_get(j, "truncated")));
		json_decref(j);
		json_decref(f);
		free(v);
	}
	free(big);
	free(mid);
	free(ctl);
}

/* ---- the access log line ---------------------------------------------- */

/* The line's text after "msg", for comparing two lines but their ts. */
static char *after_msg(void)
{
	const char *m;

	drain();
	m = strstr(captured, "\"msg\":");
	assert_non_null(m);
	return strdup(m);
}

/*
 * kt_log_access writes what kt_log_fields writes for the same members in
 * the same order, byte for byte after the timestamp; paths of every length
 * around the line limit give valid lines, complete or marked truncated.
 */
static void test_access(void **state)
{
	static const struct {
		const char *method, *path, *ip;
		int status;
		long long ms;
		int gone;
	} c[] = {
	    {"GET", "/.well-known/openid-configuration", "127.0.0.1", 200, 0,
	     0},
	    {"POST", "/token", "2001:db8::1", 400, 1234567, 1},
	    {"GET", "/a\"b\\c\n\x01\xc3\xbc\xff", "", 503, -1, 0},
	    {"GET", "-", "10.0.0.1", 99999, 9223372036854775807LL, 0},
	};
	char *a, *b;
	json_t *f, *j;

	kt_log_set_request_id("r-1");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		kt_log_access(c[i].method, c[i].path, c[i].status, c[i].ms,
			      c[i].ip, c[i].gone);
		a = after_msg();
		f = json_pack("{s:s,s:s,s:i,s:I,s:s,s:b}", "method",
			      c[i].method, "path", "x", "status", c[i].status,
			      "ms", (json_int_t)c[i].ms, "ip", c[i].ip, "gone",
			      c[i].gone);
		/* jansson refuses invalid UTF-8: compare the parsed line. */
		if (i == 2) {
			kt_log_access(c[i].method, c[i].path, c[i].status,
				      c[i].ms, c[i].ip, c[i].gone);
			j = one_line();
			assert_string_equal(sget(j, "path"),
					    "/a\"b\\c\n\x01\xc3\xbc\xef\xbf\xbd");
			assert_int_equal(
			    json_integer_value(json_object_get(j, "ms")), -1);
			assert_string_equal(sget(j, "ip"), "");
			json_decref(j);
		} else {
			json_object_set_new(f, "path", json_string(c[i].path));
			kt_log_fields(KT_LOG_INFO, NULL, 0, "request", f);
			b = after_msg();
			assert_string_equal(a, b);
			free(b);
		}
		json_decref(f);
		free(a);
	}
	for (size_t n = 1900; n < 2100; n++) {
		char *path = malloc(n + 1);
		memset(path, 'p', n);
		path[n] = '\0';
		kt_log_access("GET", path, 200, 12, "192.168.100.200", 0);
		j = one_line();
		if (json_object_get(j, "path") != NULL) {
			assert_string_equal(sget(j, "path"), path);
			assert_string_equal(sget(j, "ip"), "192.168.100.200");
			assert_int_equal(
			    json_integer_value(json_object_get(j, "ms")), 12);
			assert_true(json_is_false(json_object_get(j, "gone")));
			assert_null(json_object_get(j, "truncated"));
		} else {
			assert_null(json_object_get(j, "status"));
			assert_true(
			    json_is_true(json_object_get(j, "truncated")));
		}
		json_decref(j);
		free(path);
	}
	kt_log_set_request_id(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_format),	 T(test_error_variants), T(test_errno_kept),
	    T(test_escaping),	 T(test_invalid_utf8),	 T(test_request_id),
	    T(test_levels),	 T(test_fields),	 T(test_long_message),
	    T(test_long_fields), T(test_access),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
