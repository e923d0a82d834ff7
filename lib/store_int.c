#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/log.h"

#include "store_int.h"

struct kt_store_op *kt_store_op_new(struct kt_redis *r, kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->r = r;
	o->cb = cb;
	o->arg = arg;
	return o;
}

void kt_store_op_finish(struct kt_store_op *o, int rc, json_t *result)
{
	if (o->cb != NULL)
		o->cb(rc, result, o->arg);
	json_decref(o->keep);
	free(o);
}

/*
 * Build "<prefix>{<tag>}<suffix>". The tag is the Redis Cluster hash tag;
 * identifiers containing braces would move it, so they are refused.
 */
int kt_store_key(char *out, const char *prefix, const char *tag,
		 const char *suffix)
{
	int n;

	if (tag == NULL || *tag == '\0' || strpbrk(tag, "{}") != NULL)
		return KT_ERR_INVALID;
	/* The prefix may carry a caller's kind ("kt:once:<kind>:"). */
	if (strpbrk(prefix, "{}") != NULL)
		return KT_ERR_INVALID;
	if (suffix != NULL && strpbrk(suffix, "{}") != NULL)
		return KT_ERR_INVALID;
	n = snprintf(out, KEY_MAX, "%s{%s}%s", prefix, tag,
		     suffix ? suffix : "");
	if (n < 0 || n >= KEY_MAX)
		return KT_ERR_LIMIT;
	return KT_OK;
}

/* HGETALL / Lua flat array -> JSON object of strings. */
json_t *kt_store_pairs_to_object(const redisReply *rep)
{
	json_t *obj = json_object();

	if (obj == NULL)
		return NULL;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *k = rep->element[i], *v = rep->element[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		json_object_set_new(obj, k->str, json_stringn(v->str, v->len));
	}
	return obj;
}

int kt_store_reply_rc(const redisReply *rep)
{
	if (rep == NULL)
		return KT_ERR_UNAVAILABLE;
	if (rep->type == REDIS_REPLY_ERROR) {
		kt_log_error("redis: %s", rep->str);
		return KT_ERR_REDIS;
	}
	return KT_OK;
}

