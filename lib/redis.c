#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/redis.h"
#include "kontor/util.h"

#include <openssl/crypto.h>

#define WATCHDOG_MS 100
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

/* A command in flight; replies arrive in order, so the list is a FIFO. */
struct pending {
	struct pending *prev, *next;
	struct kt_redis *r;
	kt_redis_cb *cb;
	void *arg;
	int64_t sent_ms;
};

struct kt_redis {
	struct event_base *base;
	struct kt_redis_addr addr;
	int timeout_ms;
	redisAsyncContext *ac; /* NULL while disconnected */
	int ready;
	int64_t connect_started_ms;
	int64_t reconnect_at_ms; /* 0: no reconnect scheduled */
	int backoff_ms;
	int freeing;
	unsigned npending;
	struct pending *head, *tail;
	struct event *watchdog;
};

/*
 * Bounded reply reader. hiredis 0.14 trusts the element count and bulk length
 * sent by the server; we wrap its object functions and refuse to build replies
 * beyond our limits, which makes the reader fail and the connection drop.
 */
static redisReplyObjectFunctions *default_fns;
static redisReplyObjectFunctions limited_fns;
static pthread_once_t fns_once = PTHREAD_ONCE_INIT;

static void *limited_string(const redisReadTask *t, char *s, size_t len)
{
	if (len > KT_REDIS_MAX_BULK)
		return NULL;
	return default_fns->createString(t, s, len);
}

static void *limited_array(const redisReadTask *t, int elements)
{
	if (elements < 0 || elements > KT_REDIS_MAX_ELEMENTS)
		return NULL;
	return default_fns->createArray(t, elements);
}

static void *limited_integer(const redisReadTask *t, long long v)
{
	return default_fns->createInteger(t, v);
}

static void *limited_nil(const redisReadTask *t)
{
	return default_fns->createNil(t);
}

static void limited_free(void *obj)
{
	default_fns->freeObject(obj);
}

static void fns_init(void)
{
	/* The defaults are a static table inside hiredis: read the pointer
	 * off a throwaway reader; it stays valid after the reader is gone. */
	redisReader *probe = redisReaderCreate();

	if (probe == NULL)
		return;
	default_fns = probe->fn;
	redisReaderFree(probe);
	limited_fns.createString = limited_string;
	limited_fns.createArray = limited_array;
	limited_fns.createInteger = limited_integer;
	limited_fns.createNil = limited_nil;
	limited_fns.freeObject = limited_free;
}

static void pending_unlink(struct kt_redis *r, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		r->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		r->tail = p->prev;
	r->npending--;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct pending *p = privdata;
	struct kt_redis *r = p->r;

	(void)ac;
	pending_unlink(r, p);
	if (p->cb != NULL)
		p->cb(reply, p->arg);
	free(p);
}

static void schedule_reconnect(struct kt_redis *r)
{
	if (r->freeing)
		return;
	r->reconnect_at_ms = kt_mono_ms() + r->backoff_ms;
	r->backoff_ms *= 2;
	if (r->backoff_ms > BACKOFF_MAX_MS)
		r->backoff_ms = BACKOFF_MAX_MS;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct kt_redis *r = ac->data;

	if (r == NULL || r->ac != ac)
		return;
	if (status != REDIS_OK) {
		kt_log_warn("redis: connect failed: %s", ac->errstr);
		/* hiredis frees the context after this callback. */
		r->ac = NULL;
		r->ready = 0;
		schedule_reconnect(r);
		return;
	}
	r->ready = 1;
	r->backoff_ms = BACKOFF_MIN_MS;
	kt_log_info("redis: connected");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct kt_redis *r = ac->data;

	if (r == NULL || r->ac != ac)
		return;
	if (status != REDIS_OK && !r->freeing)
		kt_log_warn("redis: connection lost: %s", ac->errstr);
	r->ac = NULL;
	r->ready = 0;
	schedule_reconnect(r);
}

static void on_setup_reply(const redisReply *reply, void *arg)
{
	struct kt_redis *r = arg;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		kt_log_error("redis: connection setup failed: %s", reply->str);
		/* Leave it to the watchdog: commands will fail with errors. */
		(void)r;
	}
}

static int send_argv(struct kt_redis *r, kt_redis_cb *cb, void *arg, int argc,
		     const char **argv, const size_t *argvlen)
{
	struct pending *p;

	if (r->ac == NULL)
		return KT_ERR_UNAVAILABLE;
	if (argc <= 0 || argc > KT_REDIS_MAX_ARGS)
		return KT_ERR_LIMIT;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return KT_ERR_NOMEM;
	p->r = r;
	p->cb = cb;
	p->arg = arg;
	p->sent_ms = kt_mono_ms();
	if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, argvlen) !=
	    REDIS_OK) {
		free(p);
		return KT_ERR_UNAVAILABLE;
	}
	p->prev = r->tail;
	if (r->tail)
		r->tail->next = p;
	else
		r->head = p;
	r->tail = p;
	r->npending++;
	return KT_OK;
}

static void start_connect(struct kt_redis *r)
{
	redisAsyncContext *ac;
	char db[16];

	r->reconnect_at_ms = 0;
	if (r->addr.path[0])
		ac = redisAsyncConnectUnix(r->addr.path);
	else
		ac = redisAsyncConnect(r->addr.host, r->addr.port);
	if (ac == NULL || ac->err) {
		kt_log_warn("redis: cannot connect: %s",
			    ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		schedule_reconnect(r);
		return;
	}
	ac->data = r;
	if (default_fns != NULL)
		ac->c.reader->fn = &limited_fns;
	if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
		redisAsyncFree(ac);
		schedule_reconnect(r);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	r->ac = ac;
	r->connect_started_ms = kt_mono_ms();
	/* Queued ahead of every user command on this connection. */
	if (r->addr.password[0])
		kt_redis_cmdv(r, on_setup_reply, r, "AUTH", r->addr.password,
			      NULL);
	if (r->addr.db != 0) {
		snprintf(db, sizeof(db), "%d", r->addr.db);
		kt_redis_cmdv(r, on_setup_reply, r, "SELECT", db, NULL);
	}
}

/* Drop the connection: every pending callback runs with NULL. */
static void drop(struct kt_redis *r)
{
	redisAsyncContext *ac = r->ac;

	r->ready = 0;
	if (ac == NULL)
		return;
	/* Detach first so that on_disconnect does not schedule twice and
	 * callbacks that run now see the connection as down. */
	r->ac = NULL;
	redisAsyncFree(ac);
	schedule_reconnect(r);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct kt_redis *r = arg;
	int64_t now = kt_mono_ms();

	(void)fd;
	(void)what;
	if (r->ac == NULL) {
		if (r->reconnect_at_ms && now >= r->reconnect_at_ms)
			start_connect(r);
		return;
	}
	if (!r->ready && now - r->connect_started_ms > r->timeout_ms) {
		kt_log_warn("redis: connect timed out after %d ms",
			    r->timeout_ms);
		drop(r);
		return;
	}
	if (r->head != NULL && now - r->head->sent_ms > r->timeout_ms) {
		kt_log_warn("redis: no reply within %d ms, reconnecting",
			    r->timeout_ms);
		drop(r);
	}
}

int kt_redis_new(struct event_base *base, const struct kt_redis_addr *addr,
		 int timeout_ms, struct kt_redis **out)
{
	struct kt_redis *r;
	struct timeval tv = {0, WATCHDOG_MS * 1000};

	*out = NULL;
	pthread_once(&fns_once, fns_init);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return KT_ERR_NOMEM;
	r->base = base;
	r->addr = *addr;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	r->backoff_ms = BACKOFF_MIN_MS;
	r->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, r);
	if (r->watchdog == NULL || event_add(r->watchdog, &tv) != 0) {
		kt_redis_free(r);
		return KT_ERR_NOMEM;
	}
	start_connect(r);
	*out = r;
	return KT_OK;
}

void kt_redis_free(struct kt_redis *r)
{
	if (r == NULL)
		return;
	r->freeing = 1;
	if (r->ac != NULL) {
		redisAsyncContext *ac = r->ac;
		r->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	if (r->watchdog)
		event_free(r->watchdog);
	OPENSSL_cleanse(r->addr.password, sizeof(r->addr.password));
	free(r);
}

int kt_redis_ready(const struct kt_redis *r)
{
	return r != NULL && r->ready;
}

int kt_redis_cmd(struct kt_redis *r, kt_redis_cb *cb, void *arg, int argc,
		 const char **argv, const size_t *argvlen)
{
	return send_argv(r, cb, arg, argc, argv, argvlen);
}

int kt_redis_cmdv(struct kt_redis *r, kt_redis_cb *cb, void *arg, ...)
{
	const char *argv[KT_REDIS_MAX_ARGS];
	size_t lens[KT_REDIS_MAX_ARGS];
	const char *s;
	int argc = 0;
	va_list ap;

	va_start(ap, arg);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (argc == KT_REDIS_MAX_ARGS) {
			va_end(ap);
			return KT_ERR_LIMIT;
		}
		argv[argc] = s;
		lens[argc] = strlen(s);
		argc++;
	}
	va_end(ap);
	return send_argv(r, cb, arg, argc, argv, lens);
}

unsigned kt_redis_pending(const struct kt_redis *r)
{
	return r ? r->npending : 0;
}

int kt_redis_wait_ready(struct kt_redis *r, int timeout_ms)
{
	int64_t deadline = kt_mono_ms() + timeout_ms;

	while (!r->ready) {
		if (kt_mono_ms() > deadline)
			return KT_ERR_UNAVAILABLE;
		event_base_loop(r->base, EVLOOP_ONCE);
	}
	return KT_OK;
}

int kt_redis_reply_ok(const redisReply *reply)
{
	if (reply == NULL)
		return KT_ERR_UNAVAILABLE;
	if (reply->type == REDIS_REPLY_ERROR)
		return KT_ERR_REDIS;
	return KT_OK;
}
