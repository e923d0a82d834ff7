#include <fcntl.h>
#include <limits.h>
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

static int wakes;

static void count_wake(void *arg)
{
	assert_ptr_equal(arg, &wakes);
	wakes++;
}

static void test_thread_buffer(void **state)
{
	int fds[2];
	char a[16384];
	size_t n, total = 0;
	const char *p;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	kt_log_init(KT_LOG_DEBUG, fds[1]);
	wakes = 0;
	kt_log_thread_buffer(count_wake, &wakes);

	/* info and debug lines wait for the flush; one wake per batch */
	kt_log_access("GET", "/jwks", 200, 0, "127.0.0.1", 0);
	kt_log_debug("second %d", 2);
	assert_int_equal(drain(fds[0], a, sizeof(a)), 0);
	assert_int_equal(wakes, 1);
	kt_log_flush();
	drain(fds[0], a, sizeof(a));
	assert_non_null(p = strstr(a, "\"path\":\"/jwks\""));
	assert_non_null(strstr(p, "\"msg\":\"second 2\""));
	kt_log_flush(); /* nothing left: nothing written */
	assert_int_equal(drain(fds[0], a, sizeof(a)), 0);

	/* a warning goes out at once, after the lines buffered before it */
	kt_log_info("before");
	kt_log_warn("now");
	drain(fds[0], a, sizeof(a));
	assert_int_equal(wakes, 2);
	assert_non_null(p = strstr(a, "\"msg\":\"before\""));
	assert_non_null(strstr(p, "\"msg\":\"now\""));

	/* a full buffer is written without a flush, as whole lines of at
	 * most PIPE_BUF bytes */
	n = 0;
	for (int i = 0; i < 1000 && n == 0; i++) {
		kt_log_access("GET", "/.well-known/openid-configuration", 200,
			      i, "127.0.0.1", 0);
		n = drain(fds[0], a, sizeof(a));
	}
	assert_true(n > PIPE_BUF / 2 && n <= PIPE_BUF);
	assert_int_equal(a[n - 1], '\n');
	assert_int_equal(strncmp(a, "{\"ts\":", 6), 0);
	total = n;
	/* stopping the buffer writes the rest */
	kt_log_thread_buffer(NULL, NULL);
	n = drain(fds[0], a, sizeof(a));
	total += n;
	assert_int_equal(a[n - 1], '\n');
	p = a;
	n = 0;
	while ((p = strstr(p, "\"msg\":\"request\"")) != NULL) {
		n++;
		p++;
	}
	assert_int_equal(n, 1); /* the line that did not fit any more */
	assert_true(total > PIPE_BUF / 2);

	/* not buffered any more: lines are written at once */
	kt_log_info("direct");
	drain(fds[0], a, sizeof(a));
	assert_non_null(strstr(a, "\"msg\":\"direct\""));
	/* one wake for the full buffer, one for the line after it */
	assert_int_equal(wakes, 4);

	kt_log_init(KT_LOG_INFO, 2);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_access_line_matches_fields),
	    cmocka_unit_test(test_thread_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
