/*
 * Worker pool: design
 *
 * A fixed set of threads takes jobs from one FIFO protected by a mutex and
 * a condition variable, as redis bio.c does. The difference is how results
 * get back: bio.c's callers poll or use a pipe that one known event loop
 * watches. kontor may run several loops (one per thread), each submitting
 * its own jobs, so the pool should not need to know them. Each job
 * therefore carries an event created with
 *
 *     event_new(base, -1, 0, job_done_cb, job)
 *
 * on the submitter's base, never added, and the worker calls event_active()
 * on it when the work is finished. With evthread_use_pthreads() in force,
 * libevent takes the base's lock and wakes the loop through its own notify
 * fd, so no fd, pipe or registry per loop is ours to manage, and done()
 * runs on exactly the thread that runs that base. The cost, one event
 * allocation per job, is nothing next to a 100 ms password hash.
 *
 * A worker never touches a job after event_active(): from that moment the
 * loop thread may run job_done_cb, which frees it. Jobs do not point back
 * at the pool either, so done callbacks may run after kt_pool_free().
 *
 * The queue is bounded (max_queue waiting jobs): under load kt_pool_submit
 * fails fast with KT_ERR_BUSY instead of letting latency grow without
 * bound, and the handler answers 503.
 */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/pool.h"

struct job {
	struct job *next;
	struct event *ev;
	kt_pool_work_fn work;
	kt_pool_done_fn done;
	void *arg;
	char rid[64]; /* submitter's request id, "" for none */
};

struct kt_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a job was queued, or stopping was set */
	struct job *head, *tail;
	unsigned max_queue;
	int stopping;
	/* Written under lock, read lock-free by the metrics getters. */
	atomic_uint queued;
	atomic_uint busy;
	unsigned nthreads; /* threads actually started */
	pthread_t threads[];
};

static void set_rid(const char *rid)
{
	kt_log_set_request_id(rid[0] != '\0' ? rid : NULL);
}

/* On the loop thread of the job's base. */
static void job_done_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct job *job = ctx;

	set_rid(job->rid);
	job->done(job->arg);
	kt_log_set_request_id(NULL);
	event_free(job->ev);
	free(job);
}

static void *worker_main(void *ctx)
{
	struct kt_pool *pool = ctx;
	struct job *job;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		/* Stopping, but accepted jobs still run: exit only when empty.
		 */
		if ((job = pool->head) == NULL)
			break;
		if ((pool->head = job->next) == NULL)
			pool->tail = NULL;
		atomic_fetch_sub(&pool->queued, 1);
		atomic_fetch_add(&pool->busy, 1);
		pthread_mutex_unlock(&pool->lock);

		set_rid(job->rid);
		job->work(job->arg);
		kt_log_set_request_id(NULL);
		atomic_fetch_sub(&pool->busy, 1);
		/* Last touch of job: the loop may free it from here on. */
		event_active(job->ev, 0, 0);

		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Tell the workers to finish the queue and exit; join them. */
static void pool_stop(struct kt_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
}

struct kt_pool *kt_pool_new(unsigned nthreads, unsigned max_queue)
{
	struct kt_pool *pool = NULL;
	sigset_t all, old;
	int masked = 0;

	if (nthreads < 1 || nthreads > KT_POOL_MAX_THREADS || max_queue < 1 ||
	    max_queue > KT_POOL_MAX_QUEUE)
		return NULL;
	if ((pool = calloc(1, sizeof(*pool) +
				  nthreads * sizeof(pool->threads[0]))) == NULL)
		return NULL;
	pool->max_queue = max_queue;
	atomic_init(&pool->queued, 0);
	atomic_init(&pool->busy, 0);
	if (pthread_mutex_init(&pool->lock, NULL) != 0) {
		free(pool);
		return NULL;
	}
	if (pthread_cond_init(&pool->cond, NULL) != 0) {
		pthread_mutex_destroy(&pool->lock);
		free(pool);
		return NULL;
	}

	/* Threads inherit the mask: block everything while creating them. */
	sigfillset(&all);
	masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
	for (; pool->nthreads < nthreads; pool->nthreads++) {
		if (pthread_create(&pool->threads[pool->nthreads], NULL,
				   worker_main, pool) != 0)
			break;
	}
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (pool->nthreads < nthreads) {
		kt_log_error("cannot start worker %u of %u", pool->nthreads + 1,
			     nthreads);
		kt_pool_free(pool);
		return NULL;
	}
	return pool;
}

void kt_pool_free(struct kt_pool *pool)
{
	if (pool == NULL)
		return;
	pool_stop(pool);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

int kt_pool_submit(struct kt_pool *pool, struct event_base *base,
		   kt_pool_work_fn work, kt_pool_done_fn done, void *arg)
{
	struct job *job = NULL;
	const char *rid;
	int r = KT_ERR_NOMEM;

	if (pool == NULL || base == NULL || work == NULL || done == NULL)
		return KT_ERR_INVALID;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		goto cleanup;
	if ((job->ev = event_new(base, -1, 0, job_done_cb, job)) == NULL)
		goto cleanup;
	job->work = work;
	job->done = done;
	job->arg = arg;
	if ((rid = kt_log_request_id()) != NULL)
		snprintf(job->rid, sizeof(job->rid), "%s", rid);

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		r = KT_ERR_UNAVAILABLE;
	} else if (atomic_load(&pool->queued) >= pool->max_queue) {
		r = KT_ERR_BUSY;
	} else {
		if (pool->tail != NULL)
			pool->tail->next = job;
		else
			pool->head = job;
		pool->tail = job;
		atomic_fetch_add(&pool->queued, 1);
		pthread_cond_signal(&pool->cond);
		r = KT_OK;
	}
	pthread_mutex_unlock(&pool->lock);
	if (r == KT_OK)
		return KT_OK;
cleanup:
	if (job != NULL && job->ev != NULL)
		event_free(job->ev);
	free(job);
	return r;
}

unsigned kt_pool_queued(const struct kt_pool *pool)
{
	return pool != NULL ? atomic_load(&pool->queued) : 0;
}

unsigned kt_pool_busy(const struct kt_pool *pool)
{
	return pool != NULL ? atomic_load(&pool->busy) : 0;
}
