#ifndef KONTOR_STORE_INT_H
#define KONTOR_STORE_INT_H

/*
 * Internals shared by the store modules (store.c: sessions, codes, grants;
 * account.c: organisations, memberships, audit). Not a public API.
 */

#include <jansson.h>

#include "kontor/redis.h"
#include "kontor/store.h"

#define KEY_MAX 320
#define JSON_DOC_MAX (256 * 1024)

/* One asynchronous operation: the caller's callback plus scratch state. */
struct kt_store_op {
	kt_store_cb *cb;
	void *arg;
	struct kt_redis *r;
	int step;
	char key[KEY_MAX];
	json_t *keep;
};

struct kt_store_op *kt_store_op_new(struct kt_redis *r, kt_store_cb *cb,
				    void *arg);
/* Runs the callback once with (rc, result) and frees the op. */
void kt_store_op_finish(struct kt_store_op *o, int rc, json_t *result);

/*
 * Build "<prefix>{<tag>}<suffix>" into out (KEY_MAX bytes). The tag is the
 * Redis Cluster hash tag; identifiers containing braces would move it, so
 * they are refused (KT_ERR_INVALID).
 */
int kt_store_key(char *out, const char *prefix, const char *tag,
		 const char *suffix);

/* HGETALL / Lua flat array -> JSON object of strings (new reference). */
json_t *kt_store_pairs_to_object(const redisReply *rep);

/* KT_OK, KT_ERR_UNAVAILABLE (no reply) or KT_ERR_REDIS (error reply). */
int kt_store_reply_rc(const redisReply *rep);

#endif
