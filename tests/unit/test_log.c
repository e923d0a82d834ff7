#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kontor/log.h"

/* Read what the logger wrote into the pipe (non-blocking). */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t off = 0;
	ssize_t n;

	while (off + 1 < cap && (n = read(fd, buf + off, cap - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	return off;
}

/* The line without its timestamp value, which differs between lines. */
static const char *after_ts(const char *line)
{
	const char *p = strstr(line, "\",\"level\"");

	assert_non_null(p);
	assert_int_equal(strncmp(line, "{\"ts\":\"", 7), 0);
	/* 2026-01-02T03:04:05.678Z */
	assert_int_equal(p - (line + 7), 24);
	assert_int_equal(line[7 + 23], 'Z');
	return p;
}

static void test_access_line_matches_fields(void **state)
{
	int fds[2];
	char a[1024], b[1024];
	json_t *f;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	kt_log_init(KT_LOG_INFO, fds[1]);
	kt_log_set_request_id("r1-2");

	kt_log_access("POST", "/token", 200, 12, "127.0.0.1", 0);
	drain(fds[0], a, sizeof(a));
	f = json_pack("{s:s,s:s,s:i,s:I,s:s,s:b}", "method", "POST", "path",
		      "/token", "status", 200, "ms", (json_int_t)12, "ip",
		      "127.0.0.1", "gone", 0);
	kt_log_fields(KT_LOG_INFO, NULL, 0, "request", f);
	json_decref(f);
	drain(fds[0], b, sizeof(b));
	assert_string_equal(after_ts(a), after_ts(b));
	assert_string_equal(after_ts(a),
			    "\",\"level\":\"info\",\"rid\":\"r1-2\",\"msg\":"
			    "\"request\",\"method\":\"POST\",\"path\":"
			    "\"/token\",\"status\":200,\"ms\":12,\"ip\":"
			    "\"127.0.0.1\",\"gone\":false}\n");

	kt_log_set_request_id(NULL);
	kt_log_access("GET", "-", 404, 0, "::1", 1);
	drain(fds[0], a, sizeof(a));
	assert_string_equal(after_ts(a),
			    "\",\"level\":\"info\",\"msg\":\"request\","
			    "\"method\":\"GET\",\"path\":\"-\",\"status\":404,"
			    "\"ms\":0,\"ip\":\"::1\",\"gone\":true}\n");

	/* quotes and control characters stay inside their string */
	kt_log_access("GET", "/a\"b\n", 200, 1, "x", 0);
	drain(fds[0], a, sizeof(a));
	assert_non_null(strstr(a, "\"path\":\"/a\\\"b\\n\","));

	/* below the level: nothing at all */
	kt_log_init(KT_LOG_WARN, fds[1]);
	kt_log_access("GET", "/jwks", 200, 0, "127.0.0.1", 0);
	assert_int_equal(drain(fds[0], a, sizeof(a)), 0);

	kt_log_init(KT_LOG_INFO, 2);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_access_line_matches_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
