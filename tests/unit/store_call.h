#ifndef KONTOR_TEST_STORE_CALL_H
#define KONTOR_TEST_STORE_CALL_H

/*
 * The fixture of the unit tests that talk to a real Redis (test_store,
 * test_account, test_migjob): a private redis-server for the group
 * (group_setup, group_teardown), FLUSHALL before each test (setup), an
 * async kt_redis connection on base and a synchronous one (sync_c) for
 * looking behind the API. One asynchronous store call at a time: the call
 * gets CB as its callback, the test runs the event loop until that
 * callback ran once and looks at R. Header-only like redis_server.h.
 */

#include <stdarg.h>
#include <string.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/redis.h"

#include "redis_server.h"

static struct test_redis srv;
static struct event_base *base;
static struct kt_redis *conn;
static redisContext *sync_c;

static struct res {
	int calls;
	int rc;
	json_t *result;
} R;

static inline void on_res(int rc, json_t *result, void *arg)
{
	struct res *r = arg;

	r->calls++;
	r->rc = rc;
	json_decref(r->result);
	r->result = json_incref(result);
}

static inline void res_reset(void)
{
	json_decref(R.result);
	memset(&R, 0, sizeof(R));
}

#define CB on_res, &R

/* Start an operation that must be accepted, wait for its one callback and
 * return its code. */
#define DO(call)                                                               \
	({                                                                     \
		res_reset();                                                   \
		assert_int_equal((call), KT_OK);                               \
		assert_true(test_run_until(base, &R.calls, 5000));             \
		assert_int_equal(R.calls, 1);                                  \
		R.rc;                                                          \
	})

/* An operation refused up front: its callback must never run. */
#define REFUSED(call, code)                                                    \
	do {                                                                   \
		res_reset();                                                   \
		assert_int_equal((call), (code));                              \
		event_base_loop(base, EVLOOP_NONBLOCK);                        \
		assert_int_equal(R.calls, 0);                                  \
	} while (0)

/* Against a Redis that is not there: refused up front or answered, but
 * KT_ERR_UNAVAILABLE either way (uses the caller's int rc). */
#define DOWN(call)                                                             \
	do {                                                                   \
		res_reset();                                                   \
		rc = (call);                                                   \
		if (rc == KT_OK) {                                             \
			assert_true(test_run_until(base, &R.calls, 3000));     \
			rc = R.rc;                                             \
		}                                                              \
		assert_int_equal(rc, KT_ERR_UNAVAILABLE);                      \
	} while (0)

/* Synchronous commands on sync_c, for looking behind the API. A reply
 * that is an error fails the test. */
static inline redisReply *cmd(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = redisvCommand(sync_c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
	return rep;
}

/* An integer reply. */
static inline long long cmd_int(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;
	long long v;

	va_start(ap, fmt);
	rep = redisvCommand(sync_c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* A command whose reply nobody needs. */
static inline void cmd_ok(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = redisvCommand(sync_c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
	freeReplyObject(rep);
}

static inline int group_setup(void **state)
{
	struct kt_redis_addr a = {.host = "127.0.0.1"};

	(void)state;
	kt_log_init(KT_LOG_OFF, 2);
	if (test_redis_start(&srv) != 0)
		return -1;
	if ((sync_c = test_redis_sync(&srv)) == NULL)
		return -1;
	if ((base = event_base_new()) == NULL)
		return -1;
	a.port = srv.port;
	if (kt_redis_new(base, &a, 2000, &conn) != KT_OK ||
	    kt_redis_wait_ready(conn, 3000) != KT_OK)
		return -1;
	return 0;
}

static inline int group_teardown(void **state)
{
	(void)state;
	res_reset();
	kt_redis_free(conn);
	event_base_free(base);
	if (sync_c)
		redisFree(sync_c);
	test_redis_stop(&srv);
	return 0;
}

/* Every test starts on an empty Redis. */
static inline int setup(void **state)
{
	redisReply *rep = redisCommand(sync_c, "FLUSHALL");

	(void)state;
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	res_reset();
	return 0;
}

#endif
