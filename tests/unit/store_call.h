#ifndef KONTOR_TEST_STORE_CALL_H
#define KONTOR_TEST_STORE_CALL_H

/*
 * One asynchronous store call at a time, for the unit tests that talk to
 * a real Redis (test_store, test_account, test_migjob): the call gets CB
 * as its callback, the test runs the event loop until that callback ran
 * once and looks at R. Header-only like redis_server.h; the including
 * test defines `static struct event_base *base` before using the macros.
 */

#include <string.h>

#include <jansson.h>

#include "kontor/err.h"

#include "redis_server.h"

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

#endif
