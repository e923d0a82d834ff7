/*
 * lib/store.c against a real redis-server started by the test (see
 * redis_server.h): every operation's success and failure codes, TTLs and
 * the atomic rules (single-use codes, refresh rotation with reuse
 * detection, revocation), checked through the API and, where the key
 * schema matters, with an independent synchronous client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "store_call.h"

static const char *rstr(const char *k)
{
	const char *v = json_string_value(json_object_get(R.result, k));

	if (v == NULL)
		fail_msg("result has no string '%s'", k);
	return v;
}

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("test JSON: %s", e.text);
	return j;
}

/* ---- ping and outage ---------------------------------------------------- */

static void test_ping(void **state)
{
	assert_int_equal(DO(kt_store_ping(conn, CB)), KT_OK);
	assert_null(R.result);
}

/* Redis down: every operation fails with KT_ERR_UNAVAILABLE, either
 * refused at once or through its callback (if sent during a connect). */
static void test_unavailable(void **state)
{
	struct kt_redis_addr a = {.host = "127.0.0.1",
				  .port = test_spare_port()};
	struct kt_redis *down = NULL;
	json_t *doc = js("{\"a\":\"b\"}");
	json_t *person = js("{\"email\":\"a@example.de\"}");
	int rc;

	assert_int_equal(kt_redis_new(base, &a, 300, &down), KT_OK);
	assert_int_equal(kt_redis_wait_ready(down, 200), KT_ERR_UNAVAILABLE);
	DOWN(kt_store_ping(down, CB));
	DOWN(kt_store_person_get(down, "p1", CB));
	DOWN(kt_store_person_by_email(down, "a@example.de", CB));
	DOWN(kt_store_person_create(down, person, CB));
	DOWN(kt_store_session_get(down, "s1", CB));
	DOWN(kt_store_doc_put(down, "areq", "x", doc, 60, CB));
	DOWN(kt_store_doc_get(down, "areq", "x", 1, CB));
	DOWN(kt_store_code_redeem(down, "h", "g", 60, CB));
	DOWN(kt_store_grant_refresh(down, "g", "h1", "h2", "c", CB));
	DOWN(kt_store_at_status(down, "j", "g", CB));
	DOWN(kt_store_once(down, "jti", "j", 60, CB));
	DOWN(kt_store_throttle_get(down, "a", "ip", CB));
	DOWN(kt_store_throttle_fail(down, "a", "ip", 60, CB));
	DOWN(kt_store_consent_get(down, "p", "c", CB));
#undef DOWN
	json_decref(doc);
	json_decref(person);
	kt_redis_free(down);
}

/* ---- people ------------------------------------------------------------- */

static void test_person_create_lookup(void **state)
{
	json_t *p = js("{\"email\":\"Anna.Schmidt@Example.DE\","
		       "\"name\":\"Anna Schmidt\",\"email_verified\":\"1\","
		       "\"pwhash\":\"$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA\"}");
	char id[64];

	assert_int_equal(DO(kt_store_person_create(conn, p, CB)), KT_OK);
	snprintf(id, sizeof(id), "%s", rstr("id"));
	assert_int_equal(strlen(id), 22); /* 16 random bytes, base64url */
	assert_int_equal(json_object_size(R.result), 1);

	/* The caller's object is not modified. */
	assert_string_equal(json_string_value(json_object_get(p, "email")),
			    "Anna.Schmidt@Example.DE");
	assert_null(json_object_get(p, "id"));

	/* Lookups by email are case-insensitive; stored lower-cased. */
	assert_int_equal(
	    DO(kt_store_person_by_email(conn, "anna.schmidt@example.de", CB)),
	    KT_OK);
	assert_string_equal(rstr("id"), id);
	assert_string_equal(rstr("email"), "anna.schmidt@example.de");
	assert_string_equal(rstr("name"), "Anna Schmidt");
	assert_string_equal(rstr("status"), "active");
	assert_string_equal(rstr("email_verified"), "1");
	assert_string_equal(rstr("created_at"), rstr("updated_at"));
	assert_int_equal(
	    DO(kt_store_person_by_email(conn, "ANNA.SCHMIDT@EXAMPLE.DE", CB)),
	    KT_OK);
	assert_string_equal(rstr("id"), id);
	assert_int_equal(DO(kt_store_person_get(conn, id, CB)), KT_OK);
	assert_string_equal(rstr("email"), "anna.schmidt@example.de");

	/* The key schema. */
	assert_int_equal(cmd_int("EXISTS kt:person:{%s}", id), 1);
	assert_int_equal(cmd_int("EXISTS kt:email:{anna.schmidt@example.de}"),
			 1);

	/* Same email in another case: taken, nothing overwritten. */
	json_decref(p);
	p = js("{\"email\":\"ANNA.schmidt@example.de\",\"name\":\"Mallory\"}");
	assert_int_equal(DO(kt_store_person_create(conn, p, CB)),
			 KT_ERR_CONFLICT);
	assert_null(R.result);
	assert_int_equal(DO(kt_store_person_get(conn, id, CB)), KT_OK);
	assert_string_equal(rstr("name"), "Anna Schmidt");
	assert_int_equal(cmd_int("DBSIZE"), 2);

	/* Unknown. */
	assert_int_equal(
	    DO(kt_store_person_by_email(conn, "nobody@example.de", CB)),
	    KT_ERR_NOTFOUND);
	assert_null(R.result);
	assert_int_equal(DO(kt_store_person_get(conn, "nobody", CB)),
			 KT_ERR_NOTFOUND);

	/* Given id and status are kept. */
	json_decref(p);
	p = js("{\"email\":\"b@example.de\",\"id\":\"p-fixed\","
	       "\"status\":\"disabled\",\"created_at\":\"1000\"}");
	assert_int_equal(DO(kt_store_person_create(conn, p, CB)), KT_OK);
	assert_string_equal(rstr("id"), "p-fixed");
	assert_int_equal(DO(kt_store_person_get(conn, "p-fixed", CB)), KT_OK);
	assert_string_equal(rstr("status"), "disabled");
	assert_string_equal(rstr("created_at"), "1000");
	json_decref(p);
}

static void test_person_pwhash(void **state)
{
	json_t *p = js("{\"email\":\"c@example.de\",\"id\":\"p-c\","
		       "\"pwhash\":\"old\",\"updated_at\":\"1\"}");

	assert_int_equal(DO(kt_store_person_create(conn, p, CB)), KT_OK);
	assert_int_equal(DO(kt_store_person_set_pwhash(conn, "p-c", "new", CB)),
			 KT_OK);
	assert_int_equal(DO(kt_store_person_get(conn, "p-c", CB)), KT_OK);
	assert_string_equal(rstr("pwhash"), "new");
	assert_string_not_equal(rstr("updated_at"), "1");
	/* No resurrection of a deleted person. */
	assert_int_equal(
	    DO(kt_store_person_set_pwhash(conn, "p-ghost", "x", CB)), KT_OK);
	assert_int_equal(DO(kt_store_person_get(conn, "p-ghost", CB)),
			 KT_ERR_NOTFOUND);
	REFUSED(kt_store_person_set_pwhash(conn, "p{x}", "x", CB),
		KT_ERR_INVALID);
	json_decref(p);
}

static void test_person_invalid(void **state)
{
	char longmail[300];
	json_t *p;

	memset(longmail, 'a', sizeof(longmail) - 1);
	longmail[sizeof(longmail) - 1] = '\0';
	longmail[10] = '@';

	p = js("{\"name\":\"no email\"}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	p = js("{\"email\":\"\"}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	p = json_pack("{s:s}", "email", longmail);
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	REFUSED(kt_store_person_by_email(conn, longmail, CB), KT_ERR_INVALID);
	REFUSED(kt_store_person_by_email(conn, "", CB), KT_ERR_INVALID);

	/* Braces would move the Redis Cluster hash tag. */
	REFUSED(kt_store_person_by_email(conn, "a{b}@example.de", CB),
		KT_ERR_INVALID);
	REFUSED(kt_store_person_get(conn, "p{1}", CB), KT_ERR_INVALID);
	REFUSED(kt_store_person_get(conn, "p}", CB), KT_ERR_INVALID);
	REFUSED(kt_store_person_get(conn, "", CB), KT_ERR_INVALID);
	p = js("{\"email\":\"a{b}@example.de\"}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);

	/* A bad record is refused before the email is claimed, so the
	 * address stays free for a correct one. */
	p = js("{\"email\":\"d@example.de\",\"id\":\"p{d}\"}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	p = js("{\"email\":\"d@example.de\",\"id\":\"\"}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	p = js("{\"email\":\"d@example.de\",\"id\":7}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	p = js("{\"email\":\"d@example.de\",\"age\":42}");
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_INVALID);
	json_decref(p);
	p = json_object();
	json_object_set_new(p, "email", json_string("d@example.de"));
	for (int i = 0; i < 40; i++) {
		char k[16];
		snprintf(k, sizeof(k), "f%d", i);
		json_object_set_new(p, k, json_string("v"));
	}
	REFUSED(kt_store_person_create(conn, p, CB), KT_ERR_LIMIT);
	json_decref(p);
	assert_int_equal(cmd_int("DBSIZE"), 0);
	p = js("{\"email\":\"d@example.de\"}");
	assert_int_equal(DO(kt_store_person_create(conn, p, CB)), KT_OK);
	json_decref(p);
}

/* ---- sessions ----------------------------------------------------------- */

static void test_session(void **state)
{
	json_t *f = js("{\"person\":\"p1\",\"auth_time\":\"1700000000\","
		       "\"acr\":\"0\",\"amr\":\"pwd\",\"abs_exp\":\"99\"}");
	redisReply *rep;

	assert_int_equal(DO(kt_store_session_create(conn, "sid1", f, 100, CB)),
			 KT_OK);
	assert_int_equal(DO(kt_store_session_get(conn, "sid1", CB)), KT_OK);
	assert_true(json_equal(R.result, f));
	assert_in_range(cmd_int("TTL kt:session:{sid1}"), 95, 100);

	/* Touch extends the idle timeout (fire-and-forget). */
	assert_int_equal(kt_store_session_touch(conn, "sid1", 500), KT_OK);
	assert_int_equal(DO(kt_store_ping(conn, CB)), KT_OK);
	assert_in_range(cmd_int("TTL kt:session:{sid1}"), 495, 500);

	/* Expired: gone. */
	cmd_ok("PEXPIRE kt:session:{sid1} 1");
	test_sleep_ms(20);
	assert_int_equal(DO(kt_store_session_get(conn, "sid1", CB)),
			 KT_ERR_NOTFOUND);
	assert_null(R.result);

	/* Delete. */
	assert_int_equal(DO(kt_store_session_create(conn, "sid2", f, 100, CB)),
			 KT_OK);
	assert_int_equal(DO(kt_store_session_delete(conn, "sid2", CB)), KT_OK);
	assert_int_equal(DO(kt_store_session_get(conn, "sid2", CB)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(DO(kt_store_session_delete(conn, "sid2", CB)), KT_OK);

	/* A key of the wrong type is a Redis error, not "not found". */
	cmd_ok("SET kt:session:{sid3} x");
	assert_int_equal(DO(kt_store_session_get(conn, "sid3", CB)),
			 KT_ERR_REDIS);
	/* ... and makes the MULTI/EXEC of a create fail as a whole. */
	assert_int_equal(DO(kt_store_session_create(conn, "sid3", f, 100, CB)),
			 KT_ERR_REDIS);
	rep = cmd("GET kt:session:{sid3}");
	assert_string_equal(rep->str, "x");
	freeReplyObject(rep);

	REFUSED(kt_store_session_create(conn, "s{1}", f, 100, CB),
		KT_ERR_INVALID);
	REFUSED(kt_store_session_create(conn, "", f, 100, CB), KT_ERR_INVALID);
	REFUSED(kt_store_session_get(conn, "{s}", CB), KT_ERR_INVALID);
	REFUSED(kt_store_session_delete(conn, "s}", CB), KT_ERR_INVALID);
	assert_int_equal(kt_store_session_touch(conn, "s{", 10),
			 KT_ERR_INVALID);
	json_decref(f);
	f = js("{\"person\":\"p1\",\"auth_time\":1}");
	REFUSED(kt_store_session_create(conn, "sid4", f, 100, CB),
		KT_ERR_INVALID);
	assert_int_equal(cmd_int("EXISTS kt:session:{sid4}"), 0);
	json_decref(f);
}

/* ---- documents ---------------------------------------------------------- */

static void test_doc(void **state)
{
	json_t *d = js("{\"client_id\":\"c1\",\"scope\":\"openid\","
		       "\"n\":1,\"nested\":{\"a\":[true,null]}}");
	json_t *big;
	char *s;

	assert_int_equal(DO(kt_store_doc_put(conn, "areq", "a1", d, 900, CB)),
			 KT_OK);
	assert_in_range(cmd_int("TTL kt:areq:{a1}"), 895, 900);
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "a1", 0, CB)),
			 KT_OK);
	assert_true(json_equal(R.result, d));
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "a1", 0, CB)),
			 KT_OK);
	/* take: single use (GETDEL). */
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "a1", 1, CB)),
			 KT_OK);
	assert_true(json_equal(R.result, d));
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "a1", 1, CB)),
			 KT_ERR_NOTFOUND);
	assert_null(R.result);
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "a1", 0, CB)),
			 KT_ERR_NOTFOUND);

	/* Kinds are separate namespaces; ttl 0 never expires. */
	assert_int_equal(DO(kt_store_doc_put(conn, "client", "a1", d, 0, CB)),
			 KT_OK);
	assert_int_equal(cmd_int("TTL kt:client:{a1}"), -1);
	assert_int_equal(DO(kt_store_doc_get(conn, "par", "a1", 0, CB)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_store_doc_delete(conn, "client", "a1"), KT_OK);
	assert_int_equal(DO(kt_store_doc_get(conn, "client", "a1", 0, CB)),
			 KT_ERR_NOTFOUND);

	/* Corrupt or foreign content. */
	cmd_ok("SET kt:areq:{bad} %s", "not json");
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "bad", 0, CB)),
			 KT_ERR_INTERNAL);
	cmd_ok("SET kt:areq:{arr} %s", "[1,2]");
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "arr", 0, CB)),
			 KT_ERR_INTERNAL);
	cmd_ok("SET kt:areq:{dup} %s", "{\"a\":1,\"a\":2}");
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "dup", 0, CB)),
			 KT_ERR_INTERNAL);
	cmd_ok("HSET kt:areq:{hash} f v");
	assert_int_equal(DO(kt_store_doc_get(conn, "areq", "hash", 0, CB)),
			 KT_ERR_REDIS);

	/* Bounds and identifiers. */
	s = calloc(1, 256 * 1024 + 1);
	memset(s, 'x', 256 * 1024);
	big = json_pack("{s:s}", "x", s);
	free(s);
	REFUSED(kt_store_doc_put(conn, "areq", "big", big, 60, CB),
		KT_ERR_LIMIT);
	json_decref(big);
	REFUSED(kt_store_doc_put(conn, "areq", "a{1}", d, 60, CB),
		KT_ERR_INVALID);
	REFUSED(kt_store_doc_put(conn, "ar{eq}", "a1", d, 60, CB),
		KT_ERR_INVALID);
	REFUSED(kt_store_doc_put(conn, "areq", "", d, 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_put(conn, NULL, "a1", d, 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_put(conn,
				 "a-kind-name-that-is-far-too-long-for-the-key-"
				 "prefix-buffer-of-64",
				 "a1", d, 60, CB),
		KT_ERR_LIMIT);
	REFUSED(kt_store_doc_get(conn, "areq", "}", 0, CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_get(conn, "{", "a1", 1, CB), KT_ERR_INVALID);
	assert_int_equal(kt_store_doc_delete(conn, "areq", "{a1}"),
			 KT_ERR_INVALID);
	json_decref(d);
}

/* ---- authorization codes ------------------------------------------------ */

static void test_code(void **state)
{
	json_t *d = js("{\"client_id\":\"c1\",\"redirect_uri\":"
		       "\"https://rp.example/cb\",\"person\":\"p1\"}");

	assert_int_equal(DO(kt_store_code_put(conn, "hc1", d, 60, CB)), KT_OK);
	assert_in_range(cmd_int("TTL kt:code:{hc1}"), 55, 60);
	assert_int_equal(DO(kt_store_code_redeem(conn, "hc1", "g1", 600, CB)),
			 KT_OK);
	assert_true(json_equal(R.result, d));
	/* Kept for the reuse window after redemption. */
	assert_in_range(cmd_int("TTL kt:code:{hc1}"), 595, 600);

	/* Second redemption: CONFLICT with the first grant id. */
	assert_int_equal(DO(kt_store_code_redeem(conn, "hc1", "g2", 600, CB)),
			 KT_ERR_CONFLICT);
	assert_string_equal(rstr("gid"), "g1");
	assert_int_equal(json_object_size(R.result), 1);
	assert_int_equal(DO(kt_store_code_redeem(conn, "hc1", "g3", 600, CB)),
			 KT_ERR_CONFLICT);
	assert_string_equal(rstr("gid"), "g1");

	/* Unknown or expired. */
	assert_int_equal(DO(kt_store_code_redeem(conn, "nope", "g1", 600, CB)),
			 KT_ERR_NOTFOUND);
	assert_null(R.result);
	assert_int_equal(cmd_int("EXISTS kt:code:{nope}"), 0);
	assert_int_equal(DO(kt_store_code_put(conn, "hc2", d, 60, CB)), KT_OK);
	cmd_ok("PEXPIRE kt:code:{hc2} 1");
	test_sleep_ms(20);
	assert_int_equal(DO(kt_store_code_redeem(conn, "hc2", "g1", 600, CB)),
			 KT_ERR_NOTFOUND);

	/* Wrong type under the key. */
	cmd_ok("SET kt:code:{hc3} x");
	assert_int_equal(DO(kt_store_code_put(conn, "hc3", d, 60, CB)),
			 KT_ERR_REDIS);
	assert_int_equal(DO(kt_store_code_redeem(conn, "hc3", "g", 60, CB)),
			 KT_ERR_REDIS);

	REFUSED(kt_store_code_put(conn, "h{c}", d, 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_code_put(conn, "", d, 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_code_redeem(conn, "{hc1}", "g", 60, CB),
		KT_ERR_INVALID);
	json_decref(d);
}

/* ---- grants ------------------------------------------------------------- */

static json_t *grant_fields(const char *client, const char *rt)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "client_id", client, "person",
			 "p1", "scope", "openid offline_access", "auth_time",
			 "1700000000", "rt", rt);
}

static void test_grant(void **state)
{
	json_t *f = grant_fields("c1", "h1");

	assert_int_equal(DO(kt_store_grant_create(conn, "g1", f, 3600, CB)),
			 KT_OK);
	assert_in_range(cmd_int("TTL kt:grant:{g1}"), 3595, 3600);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("revoked"), "0");
	assert_string_equal(rstr("client_id"), "c1");
	assert_string_equal(rstr("scope"), "openid offline_access");
	assert_string_equal(rstr("rt"), "h1");

	assert_int_equal(DO(kt_store_grant_revoke(conn, "g1", 60, CB)), KT_OK);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("revoked"), "1");
	/* The longer remaining lifetime is kept. */
	assert_in_range(cmd_int("TTL kt:grant:{g1}"), 3590, 3600);
	/* Revoked stays revoked. */
	assert_int_equal(DO(kt_store_grant_create(conn, "g1", f, 3600, CB)),
			 KT_ERR_CONFLICT);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("revoked"), "1");

	/* A code replay may revoke a grant before it is written. */
	assert_int_equal(DO(kt_store_grant_revoke(conn, "g2", 600, CB)), KT_OK);
	assert_in_range(cmd_int("TTL kt:grant:{g2}"), 595, 600);
	assert_int_equal(DO(kt_store_grant_create(conn, "g2", f, 3600, CB)),
			 KT_ERR_CONFLICT);

	assert_int_equal(DO(kt_store_grant_get(conn, "g-none", CB)),
			 KT_ERR_NOTFOUND);

	REFUSED(kt_store_grant_create(conn, "g{1}", f, 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_grant_get(conn, "}", CB), KT_ERR_INVALID);
	REFUSED(kt_store_grant_revoke(conn, "{", 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_grant_refresh(conn, "g{", "a", "b", "c", CB),
		KT_ERR_INVALID);
	json_decref(f);
	f = js("{\"client_id\":\"c1\",\"auth_time\":5}");
	REFUSED(kt_store_grant_create(conn, "g3", f, 60, CB), KT_ERR_INVALID);
	json_decref(f);
	assert_int_equal(cmd_int("EXISTS kt:grant:{g3}"), 0);
}

static void test_grant_refresh(void **state)
{
	json_t *f = grant_fields("c1", "h1");

	assert_int_equal(DO(kt_store_grant_create(conn, "g1", f, 3600, CB)),
			 KT_OK);
	/* Current token: rotated. */
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g1", "h1", "h2", "c1", CB)),
	    KT_OK);
	assert_string_equal(rstr("client_id"), "c1");
	assert_string_equal(rstr("person"), "p1");
	assert_string_equal(rstr("revoked"), "0");
	assert_int_equal(cmd_int("SISMEMBER kt:grant:{g1}:old h1"), 1);
	assert_in_range(cmd_int("TTL kt:grant:{g1}:old"), 3590, 3600);
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g1", "h2", "h3", "c1", CB)),
	    KT_OK);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("rt"), "h3");

	/* Another client presenting the current token: denied, and the
	 * grant is left alone. */
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g1", "h3", "hx", "c2", CB)),
	    KT_ERR_DENIED);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("rt"), "h3");
	assert_string_equal(rstr("revoked"), "0");

	/* A token the grant never had. */
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g1", "h-other", "hx", "c1", CB)),
	    KT_ERR_NOTFOUND);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("revoked"), "0");

	/* Replay of a rotated token: CONFLICT and the grant is revoked ... */
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g1", "h1", "hx", "c1", CB)),
	    KT_ERR_CONFLICT);
	assert_null(R.result);
	assert_int_equal(DO(kt_store_grant_get(conn, "g1", CB)), KT_OK);
	assert_string_equal(rstr("revoked"), "1");
	/* ... so the current token is dead too. */
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g1", "h3", "h4", "c1", CB)),
	    KT_ERR_DENIED);

	/* Unknown grant. */
	assert_int_equal(
	    DO(kt_store_grant_refresh(conn, "g-none", "h1", "h2", "c1", CB)),
	    KT_ERR_NOTFOUND);
	assert_int_equal(cmd_int("EXISTS kt:grant:{g-none}"), 0);

	/* Revocation drops the rotated-token set. */
	assert_int_equal(DO(kt_store_grant_revoke(conn, "g1", 60, CB)), KT_OK);
	assert_int_equal(cmd_int("EXISTS kt:grant:{g1}:old"), 0);
	json_decref(f);
}

/* ---- access-token status ------------------------------------------------ */

static void test_at_status(void **state)
{
	json_t *f = grant_fields("c1", "h1");

	assert_int_equal(DO(kt_store_grant_create(conn, "g1", f, 3600, CB)),
			 KT_OK);
	assert_int_equal(DO(kt_store_at_status(conn, "g1.j1", "g1", CB)),
			 KT_OK);
	assert_int_equal(DO(kt_store_at_status(conn, "g1.j2", "g1", CB)),
			 KT_OK);
	/* One token revoked. */
	assert_int_equal(DO(kt_store_at_revoke(conn, "g1.j1", "g1", 300, CB)),
			 KT_OK);
	assert_in_range(cmd_int("TTL kt:atrev:{g1}:g1.j1"), 295, 300);
	assert_int_equal(DO(kt_store_at_status(conn, "g1.j1", "g1", CB)),
			 KT_ERR_DENIED);
	assert_int_equal(DO(kt_store_at_status(conn, "g1.j2", "g1", CB)),
			 KT_OK);
	/* The grant revoked: all its tokens. */
	assert_int_equal(DO(kt_store_grant_revoke(conn, "g1", 60, CB)), KT_OK);
	assert_int_equal(DO(kt_store_at_status(conn, "g1.j2", "g1", CB)),
			 KT_ERR_DENIED);
	assert_int_equal(DO(kt_store_at_status(conn, "g1.j9", "g1", CB)),
			 KT_ERR_DENIED);
	/* A grant that does not exist (expired): denied. */
	assert_int_equal(DO(kt_store_at_status(conn, "gx.j1", "gx", CB)),
			 KT_ERR_DENIED);

	/* Tokens without a grant (client_credentials). */
	assert_int_equal(DO(kt_store_at_status(conn, "j3", NULL, CB)), KT_OK);
	assert_int_equal(DO(kt_store_at_revoke(conn, "j3", NULL, 0, CB)),
			 KT_OK);
	assert_in_range(cmd_int("TTL kt:atrev:{j3}"), 0, 1); /* ttl >= 1 */
	assert_int_equal(DO(kt_store_at_status(conn, "j3", NULL, CB)),
			 KT_ERR_DENIED);
	assert_int_equal(DO(kt_store_at_status(conn, "j4", NULL, CB)), KT_OK);

	REFUSED(kt_store_at_status(conn, "g1.{j}", "g1", CB), KT_ERR_INVALID);
	REFUSED(kt_store_at_status(conn, "j}", NULL, CB), KT_ERR_INVALID);
	REFUSED(kt_store_at_status(conn, "g{1}.j", "g{1}", CB), KT_ERR_INVALID);
	REFUSED(kt_store_at_status(conn, "", NULL, CB), KT_ERR_INVALID);
	REFUSED(kt_store_at_revoke(conn, "{j}", NULL, 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_at_revoke(conn, "g.j", "g}", 60, CB), KT_ERR_INVALID);
	json_decref(f);
}

/* ---- one-time identifiers ----------------------------------------------- */

static void test_once(void **state)
{
	char h[23];

	assert_int_equal(DO(kt_store_once(conn, "jti", "abc", 60, CB)), KT_OK);
	assert_int_equal(DO(kt_store_once(conn, "jti", "abc", 60, CB)),
			 KT_ERR_CONFLICT);
	assert_int_equal(DO(kt_store_once(conn, "jti", "abd", 60, CB)), KT_OK);
	assert_int_equal(DO(kt_store_once(conn, "other", "abc", 60, CB)),
			 KT_OK);
	/* Stored as a hash, so any id is fine, braces included. */
	kt_token_hash(h, "abc");
	assert_in_range(cmd_int("TTL kt:once:jti:{%s}", h), 55, 60);
	assert_int_equal(DO(kt_store_once(conn, "jti", "{x}", 60, CB)), KT_OK);
	assert_int_equal(DO(kt_store_once(conn, "jti", "{x}", 60, CB)),
			 KT_ERR_CONFLICT);
	/* Seen only within ttl (at least 1 s). */
	assert_int_equal(DO(kt_store_once(conn, "jti", "short", 0, CB)), KT_OK);
	kt_token_hash(h, "short");
	assert_in_range(cmd_int("TTL kt:once:jti:{%s}", h), 0, 1);
	cmd_ok("PEXPIRE kt:once:jti:{%s} 1", h);
	test_sleep_ms(20);
	assert_int_equal(DO(kt_store_once(conn, "jti", "short", 0, CB)), KT_OK);
	/* The kind is part of the key prefix: no braces there either. */
	REFUSED(kt_store_once(conn, "j{t}i", "abc", 60, CB), KT_ERR_INVALID);
	REFUSED(kt_store_once(conn, "jti}", "abc", 60, CB), KT_ERR_INVALID);
}

/* ---- throttling --------------------------------------------------------- */

static void thr_keys(char *acct, char *ip, size_t cap, const char *a,
		     const char *i)
{
	char h[23];

	kt_token_hash(h, a);
	snprintf(acct, cap, "kt:thr:acct:{%s}", h);
	kt_token_hash(h, i);
	snprintf(ip, cap, "kt:thr:ip:{%s}", h);
}

static void assert_counts(const char *a, const char *ip, long account, long ipn)
{
	assert_int_equal(DO(kt_store_throttle_get(conn, a, ip, CB)), KT_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(R.result, "account")), account);
	assert_int_equal(json_integer_value(json_object_get(R.result, "ip")),
			 ipn);
	assert_int_equal(json_object_size(R.result), 2);
}

static void test_throttle(void **state)
{
	const char *acct = "anna@example.de", *ip = "192.0.2.7";
	char ka[64], ki[64], ka2[64], ki2[64];

	thr_keys(ka, ki, sizeof(ka), acct, ip);
	thr_keys(ka2, ki2, sizeof(ka2), acct, "2001:db8::1");
	assert_counts(acct, ip, 0, 0);
	assert_int_equal(DO(kt_store_throttle_fail(conn, acct, ip, 60, CB)),
			 KT_OK);
	assert_counts(acct, ip, 1, 1);
	assert_int_equal(
	    DO(kt_store_throttle_fail(conn, acct, "2001:db8::1", 60, CB)),
	    KT_OK);
	assert_counts(acct, ip, 2, 1);
	assert_counts(acct, "2001:db8::1", 2, 1);
	assert_counts("other@example.de", ip, 0, 1);
	/* Only hashes in the keys. */
	assert_int_equal(cmd_int("EXISTS %s", ka), 1);
	assert_int_equal(cmd_int("EXISTS %s", ki), 1);
	assert_int_equal(cmd_int("EXISTS %s", ki2), 1);
	assert_int_equal(cmd_int("DBSIZE"), 3);

	/* The window is fixed from the first failure: a later failure does
	 * not extend it. */
	assert_in_range(cmd_int("TTL %s", ka), 55, 60);
	cmd_ok("EXPIRE %s 5", ka);
	assert_int_equal(DO(kt_store_throttle_fail(conn, acct, ip, 60, CB)),
			 KT_OK);
	assert_in_range(cmd_int("TTL %s", ka), 1, 5);
	assert_counts(acct, ip, 3, 2);

	/* When the window has passed the counters start again. */
	cmd_ok("PEXPIRE %s 1", ka);
	cmd_ok("PEXPIRE %s 1", ki);
	test_sleep_ms(20);
	assert_counts(acct, ip, 0, 0);
	assert_int_equal(DO(kt_store_throttle_fail(conn, acct, ip, 60, CB)),
			 KT_OK);
	assert_counts(acct, ip, 1, 1);
	assert_in_range(cmd_int("TTL %s", ka), 55, 60);

	/* A successful login resets the account, not the IP. */
	assert_int_equal(kt_store_throttle_reset(conn, acct), KT_OK);
	assert_counts(acct, ip, 0, 1);

	/* Parallel failures are all counted. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(
		    kt_store_throttle_fail(conn, acct, ip, 60, NULL, NULL),
		    KT_OK);
	assert_counts(acct, ip, 10, 11);
}

/* ---- consent ------------------------------------------------------------ */

static void test_consent(void **state)
{
	assert_int_equal(DO(kt_store_consent_get(conn, "p1", "c1", CB)),
			 KT_ERR_NOTFOUND);
	assert_null(R.result);
	assert_int_equal(
	    DO(kt_store_consent_set(conn, "p1", "c1", "openid email", CB)),
	    KT_OK);
	assert_int_equal(DO(kt_store_consent_get(conn, "p1", "c1", CB)), KT_OK);
	assert_string_equal(rstr("scope"), "openid email");
	assert_int_equal(json_object_size(R.result), 1);
	assert_int_equal(DO(kt_store_consent_get(conn, "p1", "c2", CB)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(DO(kt_store_consent_get(conn, "p2", "c1", CB)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(
	    DO(kt_store_consent_set(conn, "p1", "c1", "openid", CB)), KT_OK);
	assert_int_equal(DO(kt_store_consent_get(conn, "p1", "c1", CB)), KT_OK);
	assert_string_equal(rstr("scope"), "openid");
	/* Client ids are hash fields, not keys: any bytes are fine. */
	assert_int_equal(
	    DO(kt_store_consent_set(conn, "p1", "c{x}", "profile", CB)), KT_OK);
	assert_int_equal(DO(kt_store_consent_get(conn, "p1", "c{x}", CB)),
			 KT_OK);
	assert_string_equal(rstr("scope"), "profile");
	assert_int_equal(cmd_int("HLEN kt:consent:{p1}"), 2);

	REFUSED(kt_store_consent_set(conn, "p{1}", "c1", "openid", CB),
		KT_ERR_INVALID);
	REFUSED(kt_store_consent_get(conn, "}p", "c1", CB), KT_ERR_INVALID);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
	const struct CMUnitTest tests[] = {
	    T(test_ping),
	    T(test_unavailable),
	    T(test_person_create_lookup),
	    T(test_person_pwhash),
	    T(test_person_invalid),
	    T(test_session),
	    T(test_doc),
	    T(test_code),
	    T(test_grant),
	    T(test_grant_refresh),
	    T(test_at_status),
	    T(test_once),
	    T(test_throttle),
	    T(test_consent),
	};
#undef T

	test_redis_require("test_store");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
