#ifndef KONTOR_REDIS_H
#define KONTOR_REDIS_H

/*
 * One asynchronous Redis connection bound to one libevent loop (hiredis async
 * API with its libevent adapter). Every loop thread of the gateway owns one;
 * command-line tools create one on a private event_base.
 *
 * - Commands are always sent with hiredis's argument-vector API, never by
 *   formatting user data into a command string (CVE-2021-32785).
 * - Replies are bounded: arrays of more than KT_REDIS_MAX_ELEMENTS elements or
 *   bulk strings over KT_REDIS_MAX_BULK bytes break the connection instead of
 *   being allocated (CVE-2021-32765; hiredis 0.14 has no reader limit).
 * - A command that gets no answer within the timeout fails: the connection is
 *   dropped, every pending callback runs with a NULL reply, and the
 *   connection is re-established with backoff. While it is down, new
 *   commands fail at once with KT_ERR_UNAVAILABLE.
 * - Each callback runs exactly once, on the loop thread, with the reply or
 *   NULL; the reply is only valid inside the callback.
 */

#include <stddef.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#define KT_REDIS_MAX_ELEMENTS 4096
#define KT_REDIS_MAX_BULK (1024 * 1024)
#define KT_REDIS_MAX_ARGS 64

struct kt_redis;

/* A parsed Redis address: TCP (host, port) or a Unix socket (path). */
struct kt_redis_addr {
	char host[256];	    /* "" for a Unix socket; IPv6 without brackets */
	int port;	    /* 0 for a Unix socket */
	char path[108];	    /* Unix socket path, "" for TCP */
	char password[256]; /* "" if none; percent-decoded */
	int db;
};

typedef void kt_redis_cb(const redisReply *reply, void *arg);

/*
 * Create the connection (connects in the background). timeout_ms bounds both
 * connecting and every command. Caller frees with kt_redis_free.
 */
int kt_redis_new(struct event_base *base, const struct kt_redis_addr *addr,
		 int timeout_ms, struct kt_redis **out);

/* Fails every pending command (callbacks get NULL) and frees. NULL ok. */
void kt_redis_free(struct kt_redis *r);

/* 1 once connected and authenticated, 0 otherwise. */
int kt_redis_ready(const struct kt_redis *r);

/*
 * Send argv. On success the callback will run exactly once; on failure
 * (KT_ERR_UNAVAILABLE, KT_ERR_LIMIT for too many arguments) it never runs.
 * cb may be NULL for fire-and-forget commands.
 */
int kt_redis_cmd(struct kt_redis *r, kt_redis_cb *cb, void *arg, int argc,
		 const char **argv, const size_t *argvlen);

/* Same with NUL-terminated strings, the list ended by NULL. */
int kt_redis_cmdv(struct kt_redis *r, kt_redis_cb *cb, void *arg, ...)
    __attribute__((sentinel));

/* Commands waiting for a reply (for metrics and draining). */
unsigned kt_redis_pending(const struct kt_redis *r);

/*
 * Run the loop of a private event_base until r is ready or timeout_ms passes:
 * for command-line tools only, never on a serving loop.
 */
int kt_redis_wait_ready(struct kt_redis *r, int timeout_ms);

/* Reply helpers: a reply that is an error yields KT_ERR_REDIS. */
int kt_redis_reply_ok(const redisReply *reply);

#endif
