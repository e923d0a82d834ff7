#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "store_int.h"

/*
 * Key schema (docs/architecture.md has the full table). The part in braces
 * is the Redis Cluster hash tag: all keys of one object share it.
 *
 *   kt:person:{<id>}            HASH   person record
 *   kt:email:{<email>}          STRING person id
 *   kt:session:{<sid>}          HASH   browser session, TTL = idle timeout
 *   kt:person:{<id>}:sessions   SET    sids of the person's sessions (index,
 *                                      pruned when read; see account.c)
 *   kt:<kind>:{<id>}            STRING JSON document (areq, par, client)
 *   kt:code:{<hash>}            HASH   data, gid once redeemed
 *   kt:grant:{<gid>}            HASH   grant; rt = current refresh hash
 *   kt:grant:{<gid>}:old        SET    rotated refresh-token hashes
 *   kt:atrev:{<gid>}:<jti>      STRING revoked access token of a grant
 *   kt:atrev:{<jti>}            STRING revoked access token without grant
 *   kt:once:<kind>:{<id>}       STRING seen one-time identifier
 *   kt:thr:acct:{<hash>}        STRING login failures per account
 *   kt:thr:ip:{<ip>}            STRING login failures per client IP
 *   kt:consent:{<person>}       HASH   client_id -> granted scopes
 */

/* Generic completions --------------------------------------------------- */

static void on_status(const redisReply *rep, void *arg)
{
	kt_store_op_finish(arg, kt_store_reply_rc(rep), NULL);
}

static void on_hash(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *obj;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		return;
	}
	obj = kt_store_pairs_to_object(rep);
	kt_store_op_finish(o, obj ? KT_OK : KT_ERR_NOMEM, obj);
	json_decref(obj);
}

static void on_json_string(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *doc;
	json_error_t jerr;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		return;
	}
	doc = json_loadb(rep->str, rep->len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		kt_log_error("store: corrupt JSON document at %s", o->key);
		json_decref(doc);
		kt_store_op_finish(o, KT_ERR_INTERNAL, NULL);
		return;
	}
	kt_store_op_finish(o, KT_OK, doc);
	json_decref(doc);
}

static int send_or_fail(struct kt_store_op *o, int rc)
{
	if (rc != KT_OK)
		free(o);
	return rc;
}

/* Append the string members of obj as field/value arguments. */
static int object_to_args(json_t *obj, const char **argv, size_t *lens,
			  int *argc, int max)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		if (!json_is_string(v))
			return KT_ERR_INVALID;
		if (*argc + 2 > max)
			return KT_ERR_LIMIT;
		argv[*argc] = k;
		lens[(*argc)++] = strlen(k);
		argv[*argc] = json_string_value(v);
		lens[(*argc)++] = json_string_length(v);
	}
	return KT_OK;
}

/* Ping ------------------------------------------------------------------- */

int kt_store_ping(struct kt_redis *r, kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	if (o == NULL)
		return KT_ERR_NOMEM;
	return send_or_fail(o, kt_redis_cmdv(r, on_status, o, "PING", NULL));
}

/* People ----------------------------------------------------------------- */

static int lower_email(char *out, size_t cap, const char *email)
{
	size_t n = strlen(email);

	if (n == 0 || n >= cap)
		return KT_ERR_INVALID;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)email[i]);
	return KT_OK;
}

static void on_email_id(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_STRING ||
	    kt_store_key(o->key, "kt:person:", rep->str, NULL) != KT_OK) {
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		return;
	}
	rc = kt_redis_cmdv(o->r, on_hash, o, "HGETALL", o->key, NULL);
	if (rc != KT_OK)
		kt_store_op_finish(o, rc, NULL);
}

int kt_store_person_by_email(struct kt_redis *r, const char *email,
			     kt_store_cb *cb, void *arg)
{
	char low[256];
	struct kt_store_op *o;
	int rc;

	if ((rc = lower_email(low, sizeof(low), email)) != KT_OK)
		return rc;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:email:", low, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(
	    o, kt_redis_cmdv(r, on_email_id, o, "GET", o->key, NULL));
}

int kt_store_person_get(struct kt_redis *r, const char *id, kt_store_cb *cb,
			void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:person:", id, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(
	    o, kt_redis_cmdv(r, on_hash, o, "HGETALL", o->key, NULL));
}

static void on_person_written(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);
	json_t *res = NULL;

	if (rc == KT_OK)
		res = json_pack("{s:O}", "id", json_object_get(o->keep, "id"));
	kt_store_op_finish(o, rc, res);
	json_decref(res);
}

/*
 * What on_email_claimed would refuse, checked before the email is claimed:
 * failing after the claim would leave the address taken by a person that
 * was never written, so nobody could ever register it again.
 */
static int person_record_ok(json_t *rec)
{
	const char *argv[KT_REDIS_MAX_ARGS];
	size_t lens[KT_REDIS_MAX_ARGS];
	char key[KEY_MAX];
	int argc = 2, rc;

	if ((rc = kt_store_key(key, "kt:person:",
			json_string_value(json_object_get(rec, "id")),
			NULL)) != KT_OK)
		return rc;
	return object_to_args(rec, argv, lens, &argc, KT_REDIS_MAX_ARGS);
}

static void on_email_claimed(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	const char *argv[KT_REDIS_MAX_ARGS];
	size_t lens[KT_REDIS_MAX_ARGS];
	int argc = 0, rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		kt_store_op_finish(o, KT_ERR_CONFLICT, NULL);
		return;
	}
	if (kt_store_key(o->key, "kt:person:",
		  json_string_value(json_object_get(o->keep, "id")),
		  NULL) != KT_OK) {
		kt_store_op_finish(o, KT_ERR_INVALID, NULL);
		return;
	}
	argv[argc] = "HSET";
	lens[argc++] = 4;
	argv[argc] = o->key;
	lens[argc++] = strlen(o->key);
	if ((rc = object_to_args(o->keep, argv, lens, &argc,
				 KT_REDIS_MAX_ARGS)) != KT_OK ||
	    (rc = kt_redis_cmd(o->r, on_person_written, o, argc, argv, lens)) !=
		KT_OK)
		kt_store_op_finish(o, rc, NULL);
}

int kt_store_person_create(struct kt_redis *r, json_t *person, kt_store_cb *cb,
			   void *arg)
{
	char low[256], idbuf[32], now[24];
	const char *email = json_string_value(json_object_get(person, "email"));
	struct kt_store_op *o;
	int rc;

	if (email == NULL)
		return KT_ERR_INVALID;
	if ((rc = lower_email(low, sizeof(low), email)) != KT_OK)
		return rc;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	if ((o->keep = json_deep_copy(person)) == NULL)
		return send_or_fail(o, KT_ERR_NOMEM);
	json_object_set_new(o->keep, "email", json_string(low));
	if (json_object_get(o->keep, "id") == NULL) {
		if ((rc = kt_random_token(idbuf, sizeof(idbuf), 16)) != KT_OK) {
			json_decref(o->keep);
			return send_or_fail(o, rc);
		}
		json_object_set_new(o->keep, "id", json_string(idbuf));
	}
	snprintf(now, sizeof(now), "%lld", (long long)kt_now());
	if (json_object_get(o->keep, "created_at") == NULL)
		json_object_set_new(o->keep, "created_at", json_string(now));
	json_object_set_new(o->keep, "updated_at", json_string(now));
	if (json_object_get(o->keep, "status") == NULL)
		json_object_set_new(o->keep, "status", json_string("active"));
	if ((rc = person_record_ok(o->keep)) != KT_OK ||
	    (rc = kt_store_key(o->key, "kt:email:", low, NULL)) != KT_OK) {
		json_decref(o->keep);
		return send_or_fail(o, rc);
	}
	/* Claim the email first: the unique index decides who wins a race. */
	rc = kt_redis_cmdv(r, on_email_claimed, o, "SET", o->key,
			   json_string_value(json_object_get(o->keep, "id")),
			   "NX", NULL);
	if (rc != KT_OK) {
		json_decref(o->keep);
		free(o);
	}
	return rc;
}

int kt_store_person_set_pwhash(struct kt_redis *r, const char *id,
			       const char *pwhash, kt_store_cb *cb, void *arg)
{
	char now[24];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:person:", id, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	snprintf(now, sizeof(now), "%lld", (long long)kt_now());
	/* HSET only if the person still exists (no resurrection). */
	return send_or_fail(
	    o, kt_redis_cmdv(r, on_status, o, "EVAL",
			     "if redis.call('EXISTS', KEYS[1]) == 1 then "
			     "redis.call('HSET', KEYS[1], 'pwhash', ARGV[1], "
			     "'updated_at', ARGV[2]) end return 1",
			     "1", o->key, pwhash, now, NULL));
}

static const char lua_person_cas[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''\n"
    "if cur ~= ARGV[2] then return 0 end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])\n"
    "return 1\n";

static void on_cas(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);

	if (rc == KT_OK && rep->type == REDIS_REPLY_INTEGER)
		rc = rep->integer == 1	 ? KT_OK
		     : rep->integer == 0 ? KT_ERR_CONFLICT
					 : KT_ERR_NOTFOUND;
	else if (rc == KT_OK)
		rc = KT_ERR_REDIS;
	kt_store_op_finish(o, rc, NULL);
}

int kt_store_person_cas(struct kt_redis *r, const char *id, const char *field,
			const char *expected, const char *value,
			kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:person:", id, NULL)) != KT_OK) {
		free(o);
		return rc;
	}
	rc = kt_redis_cmdv(r, on_cas, o, "EVAL", lua_person_cas, "1", o->key,
			   field, expected ? expected : "", value, NULL);
	if (rc != KT_OK)
		free(o);
	return rc;
}

/* Sessions --------------------------------------------------------------- */

static void on_exec(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);

	if (rc == KT_OK && rep->type != REDIS_REPLY_ARRAY)
		rc = KT_ERR_REDIS; /* EXEC aborted */
	if (rc == KT_OK) {
		for (size_t i = 0; i < rep->elements; i++)
			if (rep->element[i]->type == REDIS_REPLY_ERROR)
				rc = KT_ERR_REDIS;
	}
	kt_store_op_finish(o, rc, NULL);
}

/* HSET key fields... ; EXPIRE key ttl — atomically. */
static int hset_expire(struct kt_redis *r, struct kt_store_op *o, json_t *fields,
		       int64_t ttl)
{
	const char *argv[KT_REDIS_MAX_ARGS];
	size_t lens[KT_REDIS_MAX_ARGS];
	char ttls[24];
	int argc = 0, rc;

	argv[argc] = "HSET";
	lens[argc++] = 4;
	argv[argc] = o->key;
	lens[argc++] = strlen(o->key);
	if ((rc = object_to_args(fields, argv, lens, &argc,
				 KT_REDIS_MAX_ARGS)) != KT_OK)
		return rc;
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	/* MULTI and EXEC frame the pair; replies of the queued commands are
	 * discarded, EXEC's array tells the outcome. */
	if ((rc = kt_redis_cmdv(r, NULL, NULL, "MULTI", NULL)) != KT_OK)
		return rc;
	kt_redis_cmd(r, NULL, NULL, argc, argv, lens);
	kt_redis_cmdv(r, NULL, NULL, "EXPIRE", o->key, ttls, NULL);
	return kt_redis_cmdv(r, on_exec, o, "EXEC", NULL);
}

int kt_store_session_create(struct kt_redis *r, const char *sid, json_t *fields,
			    int64_t idle_ttl, kt_store_cb *cb, void *arg)
{
	char idx[KEY_MAX];
	const char *person = json_string_value(json_object_get(fields, "person"));
	const char *k;
	json_t *v;
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:session:", sid, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	json_object_foreach(fields, k, v)
	{
		if (!json_is_string(v))
			return send_or_fail(o, KT_ERR_INVALID);
	}
	/*
	 * The person's index of sessions (listing, "end all my sessions"),
	 * written before the session on the same connection, so a session
	 * never exists unindexed. Dead entries are pruned when the index is
	 * read (kt_account_person_sessions). Its own command rather than part
	 * of the MULTI: the index has the person's hash tag, the session its
	 * own.
	 */
	if (person != NULL) {
		if ((rc = kt_store_key(idx, "kt:person:", person,
				       ":sessions")) != KT_OK ||
		    (rc = kt_redis_cmdv(r, NULL, NULL, "SADD", idx, sid,
					NULL)) != KT_OK)
			return send_or_fail(o, rc);
	}
	return send_or_fail(o, hset_expire(r, o, fields, idle_ttl));
}

int kt_store_session_get(struct kt_redis *r, const char *sid, kt_store_cb *cb,
			 void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:session:", sid, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(
	    o, kt_redis_cmdv(r, on_hash, o, "HGETALL", o->key, NULL));
}

int kt_store_session_touch(struct kt_redis *r, const char *sid, int64_t ttl)
{
	char key[KEY_MAX], ttls[24];
	int rc;

	if ((rc = kt_store_key(key, "kt:session:", sid, NULL)) != KT_OK)
		return rc;
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	return kt_redis_cmdv(r, NULL, NULL, "EXPIRE", key, ttls, NULL);
}

int kt_store_session_set(struct kt_redis *r, const char *sid,
			 const char *field, const char *value)
{
	char key[KEY_MAX];
	int rc;

	if ((rc = kt_store_key(key, "kt:session:", sid, NULL)) != KT_OK)
		return rc;
	/* Only an existing session: HSET alone would resurrect one. */
	return kt_redis_cmdv(r, NULL, NULL, "EVAL",
			     "if redis.call('EXISTS', KEYS[1]) == 1 then "
			     "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end "
			     "return 1",
			     "1", key, field, value, NULL);
}

int kt_store_session_delete(struct kt_redis *r, const char *sid,
			    kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:session:", sid, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(
	    o, kt_redis_cmdv(r, on_status, o, "DEL", o->key, NULL));
}

/* Documents -------------------------------------------------------------- */

static int doc_key(char *out, const char *kind, const char *id)
{
	char prefix[64];
	int n;

	if (kind == NULL || strpbrk(kind, "{}") != NULL)
		return KT_ERR_INVALID;
	n = snprintf(prefix, sizeof(prefix), "kt:%s:", kind);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return KT_ERR_LIMIT;
	return kt_store_key(out, prefix, id, NULL);
}

int kt_store_doc_put(struct kt_redis *r, const char *kind, const char *id,
		     json_t *doc, int64_t ttl, kt_store_cb *cb, void *arg)
{
	char ttls[24];
	char *s = NULL;
	struct kt_store_op *o;
	int rc;

	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	if ((rc = doc_key(o->key, kind, id)) != KT_OK)
		return send_or_fail(o, rc);
	if ((s = json_dumps(doc, JSON_COMPACT)) == NULL)
		return send_or_fail(o, KT_ERR_NOMEM);
	if (strlen(s) > JSON_DOC_MAX) {
		free(s);
		return send_or_fail(o, KT_ERR_LIMIT);
	}
	if (ttl > 0) {
		snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
		rc = kt_redis_cmdv(r, on_status, o, "SET", o->key, s, "EX",
				   ttls, NULL);
	} else {
		rc = kt_redis_cmdv(r, on_status, o, "SET", o->key, s, NULL);
	}
	free(s);
	return send_or_fail(o, rc);
}

int kt_store_doc_get(struct kt_redis *r, const char *kind, const char *id,
		     int take, kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = doc_key(o->key, kind, id)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(o, kt_redis_cmdv(r, on_json_string, o,
					     take ? "GETDEL" : "GET", o->key,
					     NULL));
}

int kt_store_doc_delete(struct kt_redis *r, const char *kind, const char *id)
{
	char key[KEY_MAX];
	int rc;

	if ((rc = doc_key(key, kind, id)) != KT_OK)
		return rc;
	return kt_redis_cmdv(r, NULL, NULL, "DEL", key, NULL);
}

static void on_scan(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	size_t plen = strlen(o->key);
	const redisReply *keys;
	json_t *ids = NULL, *res = NULL;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY ||
	    (ids = json_array()) == NULL) {
		kt_store_op_finish(o, KT_ERR_REDIS, NULL);
		return;
	}
	keys = rep->element[1];
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		/* "<prefix>{<id>}": the id is what lies between the braces. */
		if (k->type != REDIS_REPLY_STRING || k->len < plen + 2 ||
		    memcmp(k->str, o->key, plen) != 0 ||
		    k->str[k->len - 1] != '}' ||
		    memchr(k->str + plen, '{', k->len - plen - 1) != NULL ||
		    memchr(k->str + plen, '}', k->len - plen - 1) != NULL)
			continue;
		json_array_append_new(
		    ids, json_stringn(k->str + plen, k->len - plen - 1));
	}
	res = json_pack("{s:s,s:o}", "cursor", rep->element[0]->str, "ids",
			ids);
	kt_store_op_finish(o, res ? KT_OK : KT_ERR_NOMEM, res);
	json_decref(res);
}

int kt_store_doc_scan(struct kt_redis *r, const char *kind, const char *cursor,
		      kt_store_cb *cb, void *arg)
{
	char pattern[KEY_MAX];
	struct kt_store_op *o;
	int n;

	if (kind == NULL || strpbrk(kind, "{}*?[]\\") != NULL ||
	    cursor == NULL || *cursor == '\0' ||
	    strspn(cursor, "0123456789") != strlen(cursor) ||
	    strlen(cursor) > 20)
		return KT_ERR_INVALID;
	if ((o = kt_store_op_new(r, cb, arg)) == NULL)
		return KT_ERR_NOMEM;
	/* o->key holds the prefix up to and including the brace. */
	n = snprintf(o->key, sizeof(o->key), "kt:%s:{", kind);
	if (n < 0 || (size_t)n >= sizeof(o->key) ||
	    snprintf(pattern, sizeof(pattern), "%s*}", o->key) >=
		(int)sizeof(pattern))
		return send_or_fail(o, KT_ERR_LIMIT);
	return send_or_fail(o, kt_redis_cmdv(r, on_scan, o, "SCAN", cursor,
					     "MATCH", pattern, "COUNT", "500",
					     NULL));
}

/*
 * Our Lua scripts answer {tag, value...}. Returns the tag, or -1 after
 * finishing the operation with the error (transport, Redis, bad shape).
 */
static long long tagged_reply(const redisReply *rep, struct kt_store_op *o)
{
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return -1;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER) {
		kt_store_op_finish(o, KT_ERR_REDIS, NULL);
		return -1;
	}
	return rep->element[0]->integer;
}

/* Authorization codes ---------------------------------------------------- */

static const char lua_code_redeem[] =
    "local d = redis.call('HGET', KEYS[1], 'data')\n"
    "if not d then return {0} end\n"
    "local g = redis.call('HGET', KEYS[1], 'gid')\n"
    "if g then return {2, g} end\n"
    "redis.call('HSET', KEYS[1], 'gid', ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "return {1, d}\n";

int kt_store_code_put(struct kt_redis *r, const char *code_hash, json_t *data,
		      int64_t ttl, kt_store_cb *cb, void *arg)
{
	char ttls[24];
	char *s;
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:code:", code_hash, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	if ((s = json_dumps(data, JSON_COMPACT)) == NULL)
		return send_or_fail(o, KT_ERR_NOMEM);
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	rc = kt_redis_cmdv(r, NULL, NULL, "MULTI", NULL);
	if (rc == KT_OK) {
		kt_redis_cmdv(r, NULL, NULL, "HSET", o->key, "data", s, NULL);
		kt_redis_cmdv(r, NULL, NULL, "EXPIRE", o->key, ttls, NULL);
		rc = kt_redis_cmdv(r, on_exec, o, "EXEC", NULL);
	}
	free(s);
	return send_or_fail(o, rc);
}

static void on_code_redeem(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *res = NULL;
	json_error_t jerr;
	long long tag = tagged_reply(rep, o);

	switch (tag) {
	case -1:
		return;
	case 1:
		if (rep->elements == 2 &&
		    rep->element[1]->type == REDIS_REPLY_STRING)
			res = json_loadb(rep->element[1]->str,
					 rep->element[1]->len, 0, &jerr);
		kt_store_op_finish(o, res ? KT_OK : KT_ERR_INTERNAL, res);
		break;
	case 2:
		if (rep->elements == 2 &&
		    rep->element[1]->type == REDIS_REPLY_STRING)
			res = json_pack("{s:s}", "gid", rep->element[1]->str);
		kt_store_op_finish(o, KT_ERR_CONFLICT, res);
		break;
	default:
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		break;
	}
	json_decref(res);
}

int kt_store_code_redeem(struct kt_redis *r, const char *code_hash,
			 const char *gid, int64_t reuse_ttl, kt_store_cb *cb,
			 void *arg)
{
	char ttls[24];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:code:", code_hash, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	snprintf(ttls, sizeof(ttls), "%lld", (long long)reuse_ttl);
	return send_or_fail(o, kt_redis_cmdv(r, on_code_redeem, o, "EVAL",
					     lua_code_redeem, "1", o->key, gid,
					     ttls, NULL));
}

/* Grants ----------------------------------------------------------------- */

static const char lua_grant_create[] =
    "if redis.call('HGET', KEYS[1], 'revoked') == '1' then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'revoked', '0', unpack(ARGV, 2))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n";

static const char lua_grant_revoke[] =
    "redis.call('HSET', KEYS[1], 'revoked', '1')\n"
    "if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "redis.call('DEL', KEYS[2])\n"
    "return 1\n";

static const char lua_grant_refresh[] =
    "local g = redis.call('HGETALL', KEYS[1])\n"
    "if #g == 0 then return {0} end\n"
    "local h = {}\n"
    "for i = 1, #g, 2 do h[g[i]] = g[i + 1] end\n"
    "if h['revoked'] == '1' or h['client_id'] ~= ARGV[3] then return {3} end\n"
    "if h['rt'] == ARGV[1] then\n"
    "  redis.call('HSET', KEYS[1], 'rt', ARGV[2])\n"
    "  redis.call('SADD', KEYS[2], ARGV[1])\n"
    "  local ttl = redis.call('TTL', KEYS[1])\n"
    "  if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end\n"
    "  return {1, g}\n"
    "end\n"
    "if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'revoked', '1')\n"
    "  return {2}\n"
    "end\n"
    "return {0}\n";

static void on_int_flag(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);

	if (rc == KT_OK && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer == 0)
		rc = KT_ERR_CONFLICT;
	kt_store_op_finish(o, rc, NULL);
}

int kt_store_grant_create(struct kt_redis *r, const char *gid, json_t *fields,
			  int64_t ttl, kt_store_cb *cb, void *arg)
{
	const char *argv[KT_REDIS_MAX_ARGS];
	size_t lens[KT_REDIS_MAX_ARGS];
	char ttls[24];
	int argc = 0, rc;
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:grant:", gid, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	argv[argc] = "EVAL";
	lens[argc++] = 4;
	argv[argc] = lua_grant_create;
	lens[argc++] = sizeof(lua_grant_create) - 1;
	argv[argc] = "1";
	lens[argc++] = 1;
	argv[argc] = o->key;
	lens[argc++] = strlen(o->key);
	argv[argc] = ttls;
	lens[argc++] = strlen(ttls);
	if ((rc = object_to_args(fields, argv, lens, &argc,
				 KT_REDIS_MAX_ARGS)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(o,
			    kt_redis_cmd(r, on_int_flag, o, argc, argv, lens));
}

int kt_store_grant_get(struct kt_redis *r, const char *gid, kt_store_cb *cb,
		       void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:grant:", gid, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(
	    o, kt_redis_cmdv(r, on_hash, o, "HGETALL", o->key, NULL));
}

int kt_store_grant_revoke(struct kt_redis *r, const char *gid, int64_t ttl,
			  kt_store_cb *cb, void *arg)
{
	char old[KEY_MAX], ttls[24];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:grant:", gid, NULL)) != KT_OK ||
	    (rc = kt_store_key(old, "kt:grant:", gid, ":old")) != KT_OK)
		return send_or_fail(o, rc);
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	return send_or_fail(o, kt_redis_cmdv(r, on_status, o, "EVAL",
					     lua_grant_revoke, "2", o->key, old,
					     ttls, NULL));
}

static void on_grant_refresh(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *res = NULL;
	long long tag = tagged_reply(rep, o);

	switch (tag) {
	case -1:
		return;
	case 1:
		if (rep->elements == 2 &&
		    rep->element[1]->type == REDIS_REPLY_ARRAY)
			res = kt_store_pairs_to_object(rep->element[1]);
		kt_store_op_finish(o, res ? KT_OK : KT_ERR_INTERNAL, res);
		json_decref(res);
		return;
	case 2:
		kt_store_op_finish(o, KT_ERR_CONFLICT, NULL);
		return;
	case 3:
		kt_store_op_finish(o, KT_ERR_DENIED, NULL);
		return;
	default:
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		return;
	}
}

int kt_store_grant_refresh(struct kt_redis *r, const char *gid,
			   const char *rt_hash, const char *new_hash,
			   const char *client_id, kt_store_cb *cb, void *arg)
{
	char old[KEY_MAX];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:grant:", gid, NULL)) != KT_OK ||
	    (rc = kt_store_key(old, "kt:grant:", gid, ":old")) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(o,
			    kt_redis_cmdv(r, on_grant_refresh, o, "EVAL",
					  lua_grant_refresh, "2", o->key, old,
					  rt_hash, new_hash, client_id, NULL));
}

/* Access tokens ---------------------------------------------------------- */

/* Active: the grant's fields (who, which organisation, which scopes). */
static const char lua_at_status[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "if redis.call('HGET', KEYS[1], 'revoked') ~= '0' then return 0 end\n"
    "return redis.call('HGETALL', KEYS[1])\n";

static void on_at_status(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);

	json_t *grant = NULL;

	if (rc == KT_OK) {
		if (o->step == 0 && rep->type == REDIS_REPLY_ARRAY) {
			grant = kt_store_pairs_to_object(rep); /* active */
			rc = grant ? KT_OK : KT_ERR_NOMEM;
		} else if (rep->type != REDIS_REPLY_INTEGER) {
			rc = KT_ERR_REDIS;
		} else if (o->step == 0) { /* EVAL: 0 = revoked */
			rc = KT_ERR_DENIED;
		} else { /* EXISTS: 1 = revoked */
			rc = rep->integer == 0 ? KT_OK : KT_ERR_DENIED;
		}
	}
	kt_store_op_finish(o, rc, grant);
	json_decref(grant);
}

static int atrev_key(char *out, const char *jti, const char *gid)
{
	char suffix[KEY_MAX];
	int n;

	if (gid == NULL)
		return kt_store_key(out, "kt:atrev:", jti, NULL);
	n = snprintf(suffix, sizeof(suffix), ":%s", jti);
	if (n < 0 || (size_t)n >= sizeof(suffix))
		return KT_ERR_LIMIT;
	return kt_store_key(out, "kt:atrev:", gid, suffix);
}

int kt_store_at_status(struct kt_redis *r, const char *jti, const char *gid,
		       kt_store_cb *cb, void *arg)
{
	char gkey[KEY_MAX];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = atrev_key(o->key, jti, gid)) != KT_OK)
		return send_or_fail(o, rc);
	if (gid == NULL) {
		o->step = 1;
		return send_or_fail(o, kt_redis_cmdv(r, on_at_status, o,
						     "EXISTS", o->key, NULL));
	}
	if ((rc = kt_store_key(gkey, "kt:grant:", gid, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(o, kt_redis_cmdv(r, on_at_status, o, "EVAL",
					     lua_at_status, "2", gkey, o->key,
					     NULL));
}

int kt_store_at_revoke(struct kt_redis *r, const char *jti, const char *gid,
		       int64_t ttl, kt_store_cb *cb, void *arg)
{
	char ttls[24];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = atrev_key(o->key, jti, gid)) != KT_OK)
		return send_or_fail(o, rc);
	if (ttl < 1)
		ttl = 1;
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	return send_or_fail(o, kt_redis_cmdv(r, on_status, o, "SET", o->key,
					     "1", "EX", ttls, NULL));
}

/* One-time identifiers --------------------------------------------------- */

static void on_once(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);

	if (rc == KT_OK && rep->type == REDIS_REPLY_NIL)
		rc = KT_ERR_CONFLICT;
	kt_store_op_finish(o, rc, NULL);
}

int kt_store_once(struct kt_redis *r, const char *kind, const char *id,
		  int64_t ttl, kt_store_cb *cb, void *arg)
{
	char ttls[24], hashed[23], prefix[64];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc, n;

	if (o == NULL)
		return KT_ERR_NOMEM;
	/* Hash: a jti is attacker-chosen text of any length. */
	kt_token_hash(hashed, id);
	n = snprintf(prefix, sizeof(prefix), "kt:once:%s:", kind);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return send_or_fail(o, KT_ERR_LIMIT);
	if ((rc = kt_store_key(o->key, prefix, hashed, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	if (ttl < 1)
		ttl = 1;
	snprintf(ttls, sizeof(ttls), "%lld", (long long)ttl);
	return send_or_fail(o, kt_redis_cmdv(r, on_once, o, "SET", o->key, "1",
					     "NX", "EX", ttls, NULL));
}

/* Throttling ------------------------------------------------------------- */

static void on_throttle_ip(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);
	json_int_t n = 0;
	json_t *res;

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type == REDIS_REPLY_STRING)
		n = strtoll(rep->str, NULL, 10);
	json_object_set_new(o->keep, "ip", json_integer(n));
	res = json_incref(o->keep);
	kt_store_op_finish(o, KT_OK, res);
	json_decref(res);
}

static void on_throttle_acct(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	int rc = kt_store_reply_rc(rep);
	json_int_t n = 0;

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type == REDIS_REPLY_STRING)
		n = strtoll(rep->str, NULL, 10);
	json_object_set_new(o->keep, "account", json_integer(n));
	rc = kt_redis_cmdv(o->r, on_throttle_ip, o, "GET", o->key, NULL);
	if (rc != KT_OK)
		kt_store_op_finish(o, rc, NULL);
}

static void throttle_keys(char *acct_key, char *ip_key, const char *account,
			  const char *ip)
{
	char h[23];

	kt_token_hash(h, account);
	kt_store_key(acct_key, "kt:thr:acct:", h, NULL);
	kt_token_hash(h, ip);
	kt_store_key(ip_key, "kt:thr:ip:", h, NULL);
}

int kt_store_throttle_get(struct kt_redis *r, const char *account,
			  const char *ip, kt_store_cb *cb, void *arg)
{
	char acct_key[KEY_MAX];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((o->keep = json_object()) == NULL)
		return send_or_fail(o, KT_ERR_NOMEM);
	throttle_keys(acct_key, o->key, account, ip);
	/* Two keys in two slots: two commands, pipelined. */
	if (kt_redis_cmdv(r, on_throttle_acct, o, "GET", acct_key, NULL) !=
	    KT_OK) {
		json_decref(o->keep);
		free(o);
		return KT_ERR_UNAVAILABLE;
	}
	return KT_OK;
}

static const char lua_incr_window[] =
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"
    "return n\n";

int kt_store_throttle_fail(struct kt_redis *r, const char *account,
			   const char *ip, int64_t window, kt_store_cb *cb,
			   void *arg)
{
	char acct_key[KEY_MAX], ip_key[KEY_MAX], ttls[24];
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	throttle_keys(acct_key, ip_key, account, ip);
	snprintf(ttls, sizeof(ttls), "%lld", (long long)window);
	/* INCR and EXPIRE in one script per key: counters never live forever
	 * and parallel failures are all counted (Keycloak #31726). */
	rc = kt_redis_cmdv(r, NULL, NULL, "EVAL", lua_incr_window, "1",
			   acct_key, ttls, NULL);
	if (rc == KT_OK)
		rc = kt_redis_cmdv(r, on_status, o, "EVAL", lua_incr_window,
				   "1", ip_key, ttls, NULL);
	return send_or_fail(o, rc);
}

int kt_store_throttle_reset(struct kt_redis *r, const char *account)
{
	char acct_key[KEY_MAX], ip_key[KEY_MAX];

	throttle_keys(acct_key, ip_key, account, "-");
	return kt_redis_cmdv(r, NULL, NULL, "DEL", acct_key, NULL);
}

/* Consent ---------------------------------------------------------------- */

static void on_consent(const redisReply *rep, void *arg)
{
	struct kt_store_op *o = arg;
	json_t *res;
	int rc = kt_store_reply_rc(rep);

	if (rc != KT_OK) {
		kt_store_op_finish(o, rc, NULL);
		return;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		kt_store_op_finish(o, KT_ERR_NOTFOUND, NULL);
		return;
	}
	res = json_pack("{s:s%}", "scope", rep->str, rep->len);
	kt_store_op_finish(o, res ? KT_OK : KT_ERR_NOMEM, res);
	json_decref(res);
}

int kt_store_consent_get(struct kt_redis *r, const char *person,
			 const char *client_id, kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:consent:", person, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(o, kt_redis_cmdv(r, on_consent, o, "HGET", o->key,
					     client_id, NULL));
}

int kt_store_consent_set(struct kt_redis *r, const char *person,
			 const char *client_id, const char *scope,
			 kt_store_cb *cb, void *arg)
{
	struct kt_store_op *o = kt_store_op_new(r, cb, arg);
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	if ((rc = kt_store_key(o->key, "kt:consent:", person, NULL)) != KT_OK)
		return send_or_fail(o, rc);
	return send_or_fail(o, kt_redis_cmdv(r, on_status, o, "HSET", o->key,
					     client_id, scope, NULL));
}
