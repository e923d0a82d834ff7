#ifndef KONTOR_STORE_H
#define KONTOR_STORE_H

/*
 * The Redis key schema and every read and write kontor makes, as
 * asynchronous operations on one kt_redis connection. The key schema is
 * documented in docs/architecture.md; it lives only here.
 *
 * Every operation ends in exactly one call of its kt_store_cb, on the loop
 * thread, unless the function itself returns an error (then never):
 *   rc      KT_OK, or a negative KT_ERR_* (KT_ERR_NOTFOUND, KT_ERR_CONFLICT,
 *           KT_ERR_UNAVAILABLE when Redis is down, KT_ERR_REDIS, ...)
 *   result  a JSON object (or NULL), borrowed: valid during the callback,
 *           json_incref() it to keep it.
 *
 * Records that must change together are written atomically (MULTI/EXEC or a
 * Lua script over keys that share one hash tag, so that they stay in one
 * slot on a Redis Cluster). Identifiers that come from the outside (codes,
 * refresh tokens, session cookies) are never used as keys directly: keys use
 * kt_token_hash() of them, so a Redis dump reveals no usable credential.
 */

#include <stdint.h>

#include <jansson.h>

#include "kontor/redis.h"

typedef void kt_store_cb(int rc, json_t *result, void *arg);

/* Liveness: PING. */
int kt_store_ping(struct kt_redis *r, kt_store_cb *cb, void *arg);

/*
 * People. A person record is a JSON object of strings: id, email,
 * email_verified ("0"/"1"), name, pwhash, status ("active"/"disabled"),
 * created_at, updated_at. Emails are stored lower-cased.
 */
int kt_store_person_by_email(struct kt_redis *r, const char *email,
			     kt_store_cb *cb, void *arg);
int kt_store_person_get(struct kt_redis *r, const char *id, kt_store_cb *cb,
			void *arg);
/* Creates person (id generated unless present); KT_ERR_CONFLICT if the
 * email is taken. result: {"id": ...}. */
int kt_store_person_create(struct kt_redis *r, json_t *person,
			   kt_store_cb *cb, void *arg);
int kt_store_person_set_pwhash(struct kt_redis *r, const char *id,
			       const char *pwhash, kt_store_cb *cb, void *arg);

/*
 * Compare-and-set one field of a person: set it to value only if it still
 * holds expected ("" for absent). KT_ERR_CONFLICT if someone was faster:
 * a one-time code or recovery code is consumed exactly once.
 */
int kt_store_person_cas(struct kt_redis *r, const char *id, const char *field,
			const char *expected, const char *value,
			kt_store_cb *cb, void *arg);

/*
 * Browser sessions, keyed by the hash of the session cookie (the "sid").
 * Fields: person, auth_time, acr, amr, created, abs_exp. The key's TTL is the
 * idle timeout; kt_store_session_touch extends it (never beyond abs_exp).
 * create also adds the sid to the person's session index
 * (kt:person:{<person>}:sessions), which kt_account_person_sessions reads.
 */
int kt_store_session_create(struct kt_redis *r, const char *sid,
			    json_t *fields, int64_t idle_ttl, kt_store_cb *cb,
			    void *arg);
int kt_store_session_get(struct kt_redis *r, const char *sid,
			 kt_store_cb *cb, void *arg);
int kt_store_session_touch(struct kt_redis *r, const char *sid,
			   int64_t ttl);
/* Set one field of a live session (fire and forget). */
int kt_store_session_set(struct kt_redis *r, const char *sid,
			 const char *field, const char *value);
int kt_store_session_delete(struct kt_redis *r, const char *sid,
			    kt_store_cb *cb, void *arg);

/*
 * Short-lived JSON documents with a TTL: pending authorization requests
 * ("areq"), pushed authorization requests ("par") and dynamically
 * registered clients ("client", ttl 0 = no expiry).
 * get with take=1 deletes atomically (GETDEL), so a PAR is single-use.
 */
int kt_store_doc_put(struct kt_redis *r, const char *kind, const char *id,
		     json_t *doc, int64_t ttl, kt_store_cb *cb, void *arg);
int kt_store_doc_get(struct kt_redis *r, const char *kind, const char *id,
		     int take, kt_store_cb *cb, void *arg);
int kt_store_doc_delete(struct kt_redis *r, const char *kind, const char *id);

/*
 * One SCAN step over the documents of a kind (administration only: a scan
 * walks the whole keyspace). cursor "0" starts; result {"cursor": next,
 * "ids": [...]}, next "0" when done. SCAN may return an id more than once:
 * callers dedupe. KT_ERR_INVALID for a cursor that is not decimal digits.
 */
int kt_store_doc_scan(struct kt_redis *r, const char *kind, const char *cursor,
		      kt_store_cb *cb, void *arg);

/*
 * Authorization codes (keyed by code hash). redeem marks the code used and
 * binds it to grant gid in one step; result is the stored data on first use.
 * A second redemption yields KT_ERR_CONFLICT with result {"gid": first gid}
 * so the caller can revoke what the first use issued; unknown or expired:
 * KT_ERR_NOTFOUND.
 */
int kt_store_code_put(struct kt_redis *r, const char *code_hash, json_t *data,
		      int64_t ttl, kt_store_cb *cb, void *arg);
int kt_store_code_redeem(struct kt_redis *r, const char *code_hash,
			 const char *gid, int64_t reuse_ttl, kt_store_cb *cb,
			 void *arg);

/*
 * Grants: what one authorization (or its refresh chain) issued. Fields are
 * strings: client_id, person, scope, sid, auth_time, acr, nonce..., plus
 * revoked ("0"/"1") and rt (hash of the current refresh token, optional).
 * create fails with KT_ERR_CONFLICT if the grant was revoked before it was
 * written (a code replay raced the first exchange).
 */
int kt_store_grant_create(struct kt_redis *r, const char *gid, json_t *fields,
			  int64_t ttl, kt_store_cb *cb, void *arg);
int kt_store_grant_get(struct kt_redis *r, const char *gid, kt_store_cb *cb,
		       void *arg);
int kt_store_grant_revoke(struct kt_redis *r, const char *gid, int64_t ttl,
			  kt_store_cb *cb, void *arg);
/*
 * Rotate the refresh token: if rt_hash is current, replace it by new_hash and
 * return the grant. A previously rotated token revokes the whole grant and
 * yields KT_ERR_CONFLICT; revoked grant or other client: KT_ERR_DENIED;
 * unknown: KT_ERR_NOTFOUND.
 */
int kt_store_grant_refresh(struct kt_redis *r, const char *gid,
			   const char *rt_hash, const char *new_hash,
			   const char *client_id, kt_store_cb *cb, void *arg);

/*
 * Access tokens are JWTs; Redis only knows revocations. status answers
 * KT_OK (active; result = the grant's fields when gid is given) or
 * KT_ERR_DENIED (revoked, or its grant is gone/revoked). gid may be NULL
 * for tokens without a grant (client_credentials).
 */
int kt_store_at_status(struct kt_redis *r, const char *jti, const char *gid,
		       kt_store_cb *cb, void *arg);
int kt_store_at_revoke(struct kt_redis *r, const char *jti, const char *gid,
		       int64_t ttl, kt_store_cb *cb, void *arg);

/*
 * One-time identifiers (client-assertion jti): KT_OK the first time,
 * KT_ERR_CONFLICT if seen within ttl.
 */
int kt_store_once(struct kt_redis *r, const char *kind, const char *id,
		  int64_t ttl, kt_store_cb *cb, void *arg);

/*
 * Login throttling: failure counters per account and per client IP over a
 * window. get → {"account": n, "ip": n}; fail increments both atomically per
 * key; reset clears the account counter after a successful login.
 */
int kt_store_throttle_get(struct kt_redis *r, const char *account,
			  const char *ip, kt_store_cb *cb, void *arg);
int kt_store_throttle_fail(struct kt_redis *r, const char *account,
			   const char *ip, int64_t window, kt_store_cb *cb,
			   void *arg);
int kt_store_throttle_reset(struct kt_redis *r, const char *account);

/* Consent: scopes a person granted to a client ({"scope": "..."} or
 * KT_ERR_NOTFOUND). */
int kt_store_consent_get(struct kt_redis *r, const char *person,
			 const char *client_id, kt_store_cb *cb, void *arg);
int kt_store_consent_set(struct kt_redis *r, const char *person,
			 const char *client_id, const char *scope,
			 kt_store_cb *cb, void *arg);

#endif
