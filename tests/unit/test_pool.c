#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/pool.h"

/*
 * cmocka's assertions longjmp and must stay on the test's thread: work
 * functions only record what they see, done callbacks and the test check.
 */

#define NJOBS 200

struct loop {
	struct event_base *base;
	struct event *watchdog;
	pthread_t thread; /* the thread running base */
	int expected, done, wrong_thread, timed_out;
};

struct job {
	struct loop *loop;
	pthread_t worker;
	int worked;
	int done;
	int rid_in_work, rid_in_done;
	unsigned spin;
	uint64_t result;
};

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	l->timed_out = 1;
	event_base_loopbreak(l->base);
}

static void loop_init(struct loop *l, int expected)
{
	struct timeval tv = {30, 0};

	memset(l, 0, sizeof(*l));
	l->base = event_base_new();
	l->thread = pthread_self();
	l->expected = expected;
	/* Fails the test instead of hanging it; also keeps the loop alive. */
	l->watchdog = evtimer_new(l->base, watchdog_cb, l);
	evtimer_add(l->watchdog, &tv);
}

static void loop_cleanup(struct loop *l)
{
	event_free(l->watchdog);
	event_base_free(l->base);
}

static void work_fn(void *arg)
{
	struct job *j = arg;
	const char *rid = kt_log_request_id();
	uint64_t x = 1;

	j->worker = pthread_self();
	j->rid_in_work = rid != NULL && strcmp(rid, "req-42") == 0;
	for (unsigned i = 0; i < j->spin; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	j->result = x;
	j->worked = 1;
}

static void done_fn(void *arg)
{
	struct job *j = arg;
	struct loop *l = j->loop;
	const char *rid = kt_log_request_id();

	if (!pthread_equal(pthread_self(), l->thread))
		l->wrong_thread++;
	j->rid_in_done = rid != NULL && strcmp(rid, "req-42") == 0;
	j->done++;
	if (++l->done == l->expected)
		event_base_loopbreak(l->base);
}

static void test_jobs_done_on_loop_thread(void **state)
{
	static struct job jobs[NJOBS];
	struct kt_pool *pool = kt_pool_new(4, NJOBS);
	struct loop l;

	assert_non_null(pool);
	loop_init(&l, NJOBS);
	memset(jobs, 0, sizeof(jobs));
	kt_log_set_request_id("req-42");
	for (int i = 0; i < NJOBS; i++) {
		jobs[i].loop = &l;
		jobs[i].spin = 10000;
		assert_int_equal(
		    kt_pool_submit(pool, l.base, work_fn, done_fn, &jobs[i]),
		    KT_OK);
	}
	kt_log_set_request_id(NULL);
	event_base_dispatch(l.base);

	assert_false(l.timed_out);
	assert_int_equal(l.done, NJOBS);
	assert_int_equal(l.wrong_thread, 0);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(jobs[i].worked, 1);
		assert_int_equal(jobs[i].done, 1);
		assert_false(pthread_equal(jobs[i].worker, l.thread));
		assert_true(jobs[i].rid_in_work);
		assert_true(jobs[i].rid_in_done);
		assert_int_equal(jobs[i].result, jobs[0].result);
	}
	/* The loop thread's own request id is left as it was. */
	assert_null(kt_log_request_id());
	assert_int_equal(kt_pool_queued(pool), 0);
	assert_int_equal(kt_pool_busy(pool), 0);
	kt_pool_free(pool);
	loop_cleanup(&l);
}

/* A job that holds its worker until the test opens the gate. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;

static void gate_set(int open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void blocking_work(void *arg)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	work_fn(arg);
}

/* Poll up to 10 s for the single worker to be inside a job. */
static int wait_busy(struct kt_pool *pool, unsigned n)
{
	for (int i = 0; i < 10000 && kt_pool_busy(pool) != n; i++)
		usleep(1000);
	return kt_pool_busy(pool) == n;
}

static void test_busy_when_queue_full(void **state)
{
	struct job jobs[4];
	struct kt_pool *pool = kt_pool_new(1, 2);
	struct loop l;

	assert_non_null(pool);
	loop_init(&l, 3);
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 4; i++)
		jobs[i].loop = &l;
	gate_set(0);

	assert_int_equal(
	    kt_pool_submit(pool, l.base, blocking_work, done_fn, &jobs[0]),
	    KT_OK);
	assert_true(wait_busy(pool, 1));
	assert_int_equal(kt_pool_queued(pool), 0);
	assert_int_equal(
	    kt_pool_submit(pool, l.base, work_fn, done_fn, &jobs[1]), KT_OK);
	assert_int_equal(
	    kt_pool_submit(pool, l.base, work_fn, done_fn, &jobs[2]), KT_OK);
	assert_int_equal(kt_pool_queued(pool), 2);
	/* One worker busy, two waiting: the queue is full. */
	assert_int_equal(
	    kt_pool_submit(pool, l.base, work_fn, done_fn, &jobs[3]),
	    KT_ERR_BUSY);
	assert_int_equal(kt_pool_queued(pool), 2);

	gate_set(1);
	event_base_dispatch(l.base);
	assert_false(l.timed_out);
	assert_int_equal(l.done, 3);
	assert_int_equal(l.wrong_thread, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(jobs[i].done, 1);
	/* The refused job never ran. */
	assert_int_equal(jobs[3].worked, 0);
	assert_int_equal(jobs[3].done, 0);
	assert_int_equal(kt_pool_queued(pool), 0);
	assert_int_equal(kt_pool_busy(pool), 0);

	/* Room again once the queue drained. */
	assert_int_equal(
	    kt_pool_submit(pool, l.base, work_fn, done_fn, &jobs[3]), KT_OK);
	l.expected = 4;
	event_base_dispatch(l.base);
	assert_int_equal(jobs[3].done, 1);
	kt_pool_free(pool);
	loop_cleanup(&l);
}

static atomic_int slow_worked;

static void slow_work(void *arg)
{
	usleep(1000);
	atomic_fetch_add(&slow_worked, 1);
	work_fn(arg);
}

static void test_free_after_work(void **state)
{
	struct job jobs[50];
	struct kt_pool *pool = kt_pool_new(2, 64);
	struct loop l;

	assert_non_null(pool);
	loop_init(&l, 50);
	memset(jobs, 0, sizeof(jobs));
	atomic_store(&slow_worked, 0);
	for (int i = 0; i < 50; i++) {
		jobs[i].loop = &l;
		assert_int_equal(
		    kt_pool_submit(pool, l.base, slow_work, done_fn, &jobs[i]),
		    KT_OK);
	}
	/* The loop is not running: free runs every accepted job's work. */
	kt_pool_free(pool);
	assert_int_equal(atomic_load(&slow_worked), 50);
	assert_int_equal(l.done, 0);

	/* Their done callbacks wait on the base; one pass delivers them. */
	event_base_loop(l.base, EVLOOP_NONBLOCK);
	assert_int_equal(l.done, 50);
	assert_int_equal(l.wrong_thread, 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(jobs[i].done, 1);
	loop_cleanup(&l);
}

/* A second loop on its own thread, sharing the pool. */
struct side {
	struct kt_pool *pool;
	struct job jobs[50];
	struct loop l;
	int submit_failures;
};

static void *side_main(void *arg)
{
	struct side *s = arg;

	loop_init(&s->l, 50);
	for (int i = 0; i < 50; i++) {
		s->jobs[i].loop = &s->l;
		s->jobs[i].spin = 10000;
		if (kt_pool_submit(s->pool, s->l.base, work_fn, done_fn,
				   &s->jobs[i]) != KT_OK)
			s->submit_failures++;
	}
	event_base_dispatch(s->l.base);
	loop_cleanup(&s->l);
	return NULL;
}

static void test_two_loops(void **state)
{
	static struct side side;
	struct job jobs[50];
	struct kt_pool *pool = kt_pool_new(3, 128);
	struct loop l;
	pthread_t t;

	assert_non_null(pool);
	memset(&side, 0, sizeof(side));
	side.pool = pool;
	loop_init(&l, 50);
	memset(jobs, 0, sizeof(jobs));
	assert_int_equal(pthread_create(&t, NULL, side_main, &side), 0);
	for (int i = 0; i < 50; i++) {
		jobs[i].loop = &l;
		jobs[i].spin = 10000;
		assert_int_equal(
		    kt_pool_submit(pool, l.base, work_fn, done_fn, &jobs[i]),
		    KT_OK);
	}
	event_base_dispatch(l.base);
	pthread_join(t, NULL);

	assert_false(l.timed_out);
	assert_int_equal(l.done, 50);
	assert_int_equal(l.wrong_thread, 0);
	assert_int_equal(side.submit_failures, 0);
	assert_false(side.l.timed_out);
	assert_int_equal(side.l.done, 50);
	assert_int_equal(side.l.wrong_thread, 0);
	kt_pool_free(pool);
	loop_cleanup(&l);
}

struct freer {
	struct kt_pool *pool;
};

static void *freer_main(void *arg)
{
	kt_pool_free(((struct freer *)arg)->pool);
	return NULL;
}

static void test_unavailable_while_stopping(void **state)
{
	/* 1 running + at most 8 queued can ever be accepted. */
	struct job jobs[10];
	struct kt_pool *pool = kt_pool_new(1, 8);
	struct freer fr = {pool};
	struct loop l;
	pthread_t t;
	int r = KT_OK, accepted = 1;

	assert_non_null(pool);
	loop_init(&l, 0);
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 10; i++)
		jobs[i].loop = &l;
	gate_set(0);
	assert_int_equal(
	    kt_pool_submit(pool, l.base, blocking_work, done_fn, &jobs[0]),
	    KT_OK);
	assert_true(wait_busy(pool, 1));
	/* kt_pool_free blocks in join while the gate is shut. */
	assert_int_equal(pthread_create(&t, NULL, freer_main, &fr), 0);
	for (int i = 0; i < 10000; i++) {
		r = kt_pool_submit(pool, l.base, work_fn, done_fn,
				   &jobs[accepted]);
		if (r == KT_OK)
			accepted++;
		else if (r != KT_ERR_BUSY)
			break;
		usleep(1000);
	}
	assert_int_equal(r, KT_ERR_UNAVAILABLE);
	assert_true(accepted <= 9);
	gate_set(1);
	pthread_join(t, NULL);

	/* Everything accepted before the stop still completes. */
	event_base_loop(l.base, EVLOOP_NONBLOCK);
	assert_int_equal(l.done, accepted);
	for (int i = 0; i < accepted; i++)
		assert_int_equal(jobs[i].done, 1);
	loop_cleanup(&l);
}

static void test_invalid(void **state)
{
	struct kt_pool *pool;
	struct event_base *base = event_base_new();
	int x;

	assert_null(kt_pool_new(0, 1));
	assert_null(kt_pool_new(1, 0));
	assert_null(kt_pool_new(KT_POOL_MAX_THREADS + 1, 1));
	assert_null(kt_pool_new(1, KT_POOL_MAX_QUEUE + 1));
	assert_non_null(pool = kt_pool_new(1, 1));
	assert_int_equal(kt_pool_submit(NULL, base, work_fn, done_fn, &x),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pool_submit(pool, NULL, work_fn, done_fn, &x),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pool_submit(pool, base, NULL, done_fn, &x),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pool_submit(pool, base, work_fn, NULL, &x),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pool_queued(NULL), 0);
	assert_int_equal(kt_pool_busy(NULL), 0);
	kt_pool_free(pool);
	kt_pool_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jobs_done_on_loop_thread),
	    cmocka_unit_test(test_busy_when_queue_full),
	    cmocka_unit_test(test_free_after_work),
	    cmocka_unit_test(test_two_loops),
	    cmocka_unit_test(test_unavailable_while_stopping),
	    cmocka_unit_test(test_invalid),
	};

	/* Required by kt_pool before any event_base exists (pool.h). */
	if (evthread_use_pthreads() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
