#ifndef KONTOR_POOL_H
#define KONTOR_POOL_H

/*
 * A small pool of worker threads for CPU-heavy work (password hashing) whose
 * results come back to the event loop that submitted it.
 *
 *     kt_pool_submit(pool, base, work, done, arg)
 *
 * runs work(arg) on a worker thread, then done(arg) on the thread that runs
 * `base`'s loop. arg belongs to the caller throughout; the pool never frees
 * it. work must not touch libevent objects of the loop; done may.
 *
 * Requirement: evthread_use_pthreads() must have been called before `base`
 * was created (the worker wakes the loop with event_active(), which needs
 * libevent's locking). The pool cannot check this; without it, results
 * arrive late or the process corrupts memory.
 *
 * A submitted job does not by itself keep event_base_dispatch() running:
 * the gateway's listener does that. Loops without other events must use
 * EVLOOP_NO_EXIT_ON_EMPTY.
 *
 * Shutdown, in this order:
 *   1. stop every loop from submitting (close the listeners);
 *   2. kt_pool_free(): no new jobs, every accepted job's work still runs,
 *      then the workers are joined. Their done callbacks are now pending
 *      on their bases; the pool no longer exists and they do not need it;
 *   3. on each loop thread, event_base_loop(base, EVLOOP_NONBLOCK) to run
 *      those done callbacks (so that their args are released), then
 *      event_base_free(base).
 * A base must outlive every job submitted on it.
 */

#include <event2/event.h>

typedef void (*kt_pool_work_fn)(void *arg);
typedef void (*kt_pool_done_fn)(void *arg);

struct kt_pool;

#define KT_POOL_MAX_THREADS 64
#define KT_POOL_MAX_QUEUE 65536

/*
 * Start nthreads workers (1..KT_POOL_MAX_THREADS) with room for max_queue
 * (1..KT_POOL_MAX_QUEUE) jobs waiting for a free worker. NULL on bad
 * arguments or when memory or threads are not available. Workers block
 * all signals: signals reach the loops, never a worker.
 */
struct kt_pool *kt_pool_new(unsigned nthreads, unsigned max_queue);

/* See "Shutdown" above. Blocks until the accepted work is done. NULL ok. */
void kt_pool_free(struct kt_pool *pool);

/*
 * Queue work(arg) for a worker; done(arg) follows on base's loop thread.
 * Callable from any thread. The request id of the calling thread
 * (kt_log_request_id) is set while work and done run, so their log lines
 * carry it.
 *   KT_OK           accepted: done(arg) will run exactly once
 *   KT_ERR_BUSY     max_queue jobs already wait: answer 503, try later
 *   KT_ERR_UNAVAILABLE  the pool is shutting down
 *   KT_ERR_INVALID  NULL pool, base or callback
 *   KT_ERR_NOMEM
 * On any error neither callback runs.
 */
int kt_pool_submit(struct kt_pool *pool, struct event_base *base,
		   kt_pool_work_fn work, kt_pool_done_fn done, void *arg);

/* Jobs waiting for a worker, and jobs whose work is running (metrics). */
unsigned kt_pool_queued(const struct kt_pool *pool);
unsigned kt_pool_busy(const struct kt_pool *pool);

#endif
