/*
 * lib/account.c against a real redis-server started by the test (see
 * redis_server.h): organisations with their identifier indexes,
 * optimistic concurrency, merges, memberships, invitations, the audit
 * stream and the sessions index. Results are checked through the API and,
 * where the key schema or atomicity matters, with an independent
 * synchronous client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "kontor/account.h"
#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "store_call.h"

/* The operation fails with code and the result's "error" message. */
#define FAILS(call, code, message)                                             \
	do {                                                                   \
		assert_int_equal(DO(call), (code));                            \
		assert_string_equal(rstr("error"), (message));                 \
	} while (0)

static const char *sget(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	if (v == NULL)
		fail_msg("no string '%s' in result", k);
	return v;
}

static const char *rstr(const char *k)
{
	return sget(R.result, k);
}

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("test JSON: %s", e.text);
	return j;
}

/* GET key: the string or "" for nil; caller frees. */
static char *cmd_str(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;
	char *s;

	va_start(ap, fmt);
	rep = redisvCommand(sync_c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	assert_true(rep->type == REDIS_REPLY_STRING ||
		    rep->type == REDIS_REPLY_NIL);
	s = strdup(rep->type == REDIS_REPLY_STRING ? rep->str : "");
	freeReplyObject(rep);
	return s;
}

#define assert_key_value(expect, ...)                                          \
	do {                                                                   \
		char *v_ = cmd_str(__VA_ARGS__);                               \
		assert_string_equal(v_, (expect));                             \
		free(v_);                                                      \
	} while (0)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The audit digest as account.c defines it: SHA-1 (hex) of the fields
 * sorted by name, "name=value" joined by newlines. Computed here
 * independently from the stored hash.
 */
static void digest_of_hash(char out[41], const char *key)
{
	redisReply *rep = cmd("HGETALL %s", key);
	char *lines[128], *joined;
	size_t n = rep->elements / 2, total = 1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (n == 0) {
		out[0] = '\0';
		freeReplyObject(rep);
		return;
	}
	assert_true(n < 128);
	for (size_t i = 0; i < n; i++) {
		const char *k = rep->element[2 * i]->str;
		const char *v = rep->element[2 * i + 1]->str;
		size_t len = strlen(k) + strlen(v) + 2;
		lines[i] = malloc(len);
		snprintf(lines[i], len, "%s=%s", k, v);
		total += len;
	}
	freeReplyObject(rep);
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	joined = calloc(1, total);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(joined, "\n");
		strcat(joined, lines[i]);
		free(lines[i]);
	}
	assert_int_equal(
	    EVP_Digest(joined, strlen(joined), md, &mdlen, EVP_sha1(), NULL),
	    1);
	free(joined);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The newest audit entry as a JSON object (with "id"). */
static json_t *audit_last(void)
{
	redisReply *rep = cmd("XREVRANGE kt:audit + - COUNT 1");
	json_t *o = json_object();

	assert_int_equal(rep->elements, 1);
	json_object_set_new(o, "id",
			    json_string(rep->element[0]->element[0]->str));
	for (size_t i = 0; i + 1 < rep->element[0]->element[1]->elements;
	     i += 2)
		json_object_set_new(
		    o, rep->element[0]->element[1]->element[i]->str,
		    json_string(
			rep->element[0]->element[1]->element[i + 1]->str));
	freeReplyObject(rep);
	return o;
}

static long long audit_len(void)
{
	return cmd_int("XLEN kt:audit");
}

#define assert_audit(act, obj)                                                 \
	do {                                                                   \
		json_t *a_ = audit_last();                                     \
		assert_string_equal(sget(a_, "actor"), "admin:test");          \
		assert_string_equal(sget(a_, "action"), (act));                \
		assert_string_equal(sget(a_, "object"), (obj));                \
		json_decref(a_);                                               \
	} while (0)

#define ACTOR "admin:test"

/* Test data ---------------------------------------------------------------- */

static void person(const char *id, const char *email, const char *name)
{
	json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "email", email,
			      "name", name, "pwhash", "$scrypt$x");

	assert_int_equal(DO(kt_store_person_create(conn, p, CB)), KT_OK);
	json_decref(p);
}

/* Create an organisation; fields as JSON text; returns nothing, the id is
 * the "id" given in fields. */
static void org(const char *fields_json, const char *sources_json)
{
	json_t *f = js(fields_json);
	json_t *s = sources_json ? js(sources_json) : NULL;

	assert_int_equal(DO(kt_account_org_create(conn, f, s, ACTOR, CB)),
			 KT_OK);
	json_decref(f);
	json_decref(s);
}

static const char ACME[] =
    "{\"id\":\"acme\",\"legal_name\":\"Acme GmbH\",\"legal_form\":\"GMBH\","
    "\"vat\":\"DE123456788\",\"vat_valid\":\"1\","
    "\"taxno\":\"9143021530457\",\"taxno_valid\":\"1\","
    "\"hr_court\":\"Kiel\",\"hr_type\":\"HRB\",\"hr_number\":\"1234\","
    "\"hr_valid\":\"1\",\"wid\":\"DE123456788-00001\",\"wid_valid\":\"1\","
    "\"street\":\"Holstenstrasse\",\"house_number\":\"1\","
    "\"postcode\":\"24103\",\"city\":\"Kiel\",\"country\":\"DE\"}";

/* Roles -------------------------------------------------------------------- */

static void test_role_ok(void **state)
{
	assert_true(kt_account_role_ok("admin"));
	assert_true(kt_account_role_ok("member"));
	assert_true(kt_account_role_ok("representative"));
	assert_false(kt_account_role_ok("Admin"));
	assert_false(kt_account_role_ok("owner"));
	assert_false(kt_account_role_ok(""));
	assert_false(kt_account_role_ok(NULL));
}

/* Create ------------------------------------------------------------------- */

static void test_org_create(void **state)
{
	char dg[41];
	json_t *a, *f;

	org(ACME, "[\"BY:4711\",\"SH:0815\"]");
	assert_string_equal(rstr("id"), "acme");
	assert_string_equal(rstr("legal_name"), "Acme GmbH");
	assert_string_equal(rstr("status"), "active");
	assert_string_equal(rstr("version"), "1");
	assert_string_equal(rstr("created_at"), rstr("updated_at"));
	assert_true(strtoll(rstr("created_at"), NULL, 10) >= kt_now() - 5);

	/* The record and every index. */
	assert_key_value("Acme GmbH", "HGET kt:org:{acme} legal_name");
	assert_key_value("acme", "GET kt:orgidx:vat:{DE123456788}");
	assert_key_value("acme", "GET kt:orgidx:taxno:{9143021530457}");
	assert_key_value("acme", "GET kt:orgidx:wid:{DE123456788-00001}");
	assert_key_value("acme", "GET kt:orgidx:hr:{Kiel|HRB|1234}");
	assert_key_value("acme", "GET kt:orgidx:source:{BY:4711}");
	assert_key_value("acme", "GET kt:orgidx:source:{SH:0815}");
	assert_int_equal(cmd_int("SCARD kt:org:{acme}:sources"), 2);

	/* One audit entry whose "after" digest is the stored record's. */
	assert_int_equal(audit_len(), 1);
	a = audit_last();
	assert_string_equal(sget(a, "action"), "org.create");
	assert_string_equal(sget(a, "object"), "org:acme");
	assert_string_equal(sget(a, "actor"), ACTOR);
	assert_string_equal(sget(a, "before"), "");
	digest_of_hash(dg, "kt:org:{acme}");
	assert_string_equal(sget(a, "after"), dg);
	assert_true(strtoll(sget(a, "time"), NULL, 10) >= kt_now() - 5);
	json_decref(a);

	/* Generated id; empty fields are not stored; no sources. */
	f = js("{\"legal_name\":\"Beta AG\",\"vat\":\"\",\"city\":\"Bonn\"}");
	assert_int_equal(DO(kt_account_org_create(conn, f, NULL, ACTOR, CB)),
			 KT_OK);
	json_decref(f);
	assert_int_equal(strlen(rstr("id")), 22);
	assert_null(json_object_get(R.result, "vat"));
	{
		char *id = strdup(rstr("id")), key[64];
		assert_int_equal(cmd_int("HEXISTS kt:org:{%s} vat", id), 0);
		assert_int_equal(cmd_int("EXISTS kt:org:{%s}:sources", id), 0);
		/* The digest is the stored record's, without the empty field,
		 * so the next change's "before" will match it. */
		snprintf(key, sizeof(key), "kt:org:{%s}", id);
		digest_of_hash(dg, key);
		a = audit_last();
		assert_string_equal(sget(a, "after"), dg);
		json_decref(a);
		free(id);
	}
	assert_int_equal(audit_len(), 2);
}

static void test_org_create_invalid_identifiers(void **state)
{
	/* Identifiers that failed their check are stored, flagged, and
	 * never indexed: they prove nothing and must not block anyone. */
	org("{\"id\":\"o1\",\"legal_name\":\"One\",\"vat\":\"DE123456789\","
	    "\"vat_valid\":\"0\",\"taxno\":\"123\",\"taxno_valid\":\"0\","
	    "\"hr_court\":\"\",\"hr_type\":\"HRB\",\"hr_number\":\"1\","
	    "\"hr_valid\":\"0\",\"wid\":\"DE1-1\"}",
	    NULL);
	assert_key_value("DE123456789", "HGET kt:org:{o1} vat");
	assert_key_value("0", "HGET kt:org:{o1} vat_valid");
	assert_int_equal(cmd_int("EXISTS kt:orgidx:vat:{DE123456789}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:taxno:{123}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:hr:{|HRB|1}"), 0);
	/* A missing flag counts as not valid. */
	assert_int_equal(cmd_int("EXISTS kt:orgidx:wid:{DE1-1}"), 0);
	/* A second organisation with the same invalid VAT id is fine. */
	org("{\"id\":\"o2\",\"legal_name\":\"Two\",\"vat\":\"DE123456789\","
	    "\"vat_valid\":\"0\"}",
	    NULL);
	assert_int_equal(
	    DO(kt_account_org_find(conn, "vat", "DE123456789", CB)),
	    KT_ERR_NOTFOUND);
	assert_string_equal(rstr("error"),
			    "no organisation with vat DE123456789");
}

static void test_org_create_conflicts(void **state)
{
	json_t *f, *s;
	long long before;

	org(ACME, "[\"BY:4711\"]");
	before = audit_len();

	/* Same id. */
	f = js("{\"id\":\"acme\",\"legal_name\":\"Other\"}");
	FAILS(kt_account_org_create(conn, f, NULL, ACTOR, CB), KT_ERR_CONFLICT,
	      "organisation acme exists");
	json_decref(f);

	/* Each identifier, alone. */
	const char *dup[] = {
	    "{\"id\":\"x\",\"legal_name\":\"X\",\"vat\":\"DE123456788\","
	    "\"vat_valid\":\"1\"}",
	    "{\"id\":\"x\",\"legal_name\":\"X\",\"taxno\":\"9143021530457\","
	    "\"taxno_valid\":\"1\"}",
	    "{\"id\":\"x\",\"legal_name\":\"X\",\"wid\":\"DE123456788-00001\","
	    "\"wid_valid\":\"1\"}",
	    "{\"id\":\"x\",\"legal_name\":\"X\",\"hr_court\":\"Kiel\","
	    "\"hr_type\":\"HRB\",\"hr_number\":\"1234\",\"hr_valid\":\"1\"}",
	};
	const char *msg[] = {
	    "identifier DE123456788 belongs to organisation acme",
	    "identifier 9143021530457 belongs to organisation acme",
	    "identifier DE123456788-00001 belongs to organisation acme",
	    "identifier Kiel|HRB|1234 belongs to organisation acme",
	};
	for (size_t i = 0; i < 4; i++) {
		f = js(dup[i]);
		FAILS(kt_account_org_create(conn, f, NULL, ACTOR, CB),
		      KT_ERR_CONFLICT, msg[i]);
		json_decref(f);
	}
	/* A taken source link. */
	f = js("{\"id\":\"x\",\"legal_name\":\"X\",\"vat\":\"DE812345673\","
	       "\"vat_valid\":\"1\"}");
	s = js("[\"SH:1\",\"BY:4711\"]");
	FAILS(kt_account_org_create(conn, f, s, ACTOR, CB), KT_ERR_CONFLICT,
	      "source BY:4711 belongs to organisation acme");
	json_decref(f);
	json_decref(s);

	/* Nothing of the refused ones was written, nothing audited. */
	assert_int_equal(cmd_int("EXISTS kt:org:{x}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:vat:{DE812345673}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:source:{SH:1}"), 0);
	assert_key_value("Acme GmbH", "HGET kt:org:{acme} legal_name");
	assert_int_equal(audit_len(), before);
}

static void test_org_create_refused(void **state)
{
	json_t *ok = js("{\"legal_name\":\"X\"}");
	json_t *bad;

	bad = js("{\"legal_name\":\"X {y}\"}");
	REFUSED(kt_account_org_create(conn, bad, NULL, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	bad = js("{\"legal_name\":1}");
	REFUSED(kt_account_org_create(conn, bad, NULL, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	bad = js("{\"id\":\"a{b}\",\"legal_name\":\"X\"}");
	REFUSED(kt_account_org_create(conn, bad, NULL, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	bad = js("{\"id\":\"\",\"legal_name\":\"X\"}");
	REFUSED(kt_account_org_create(conn, bad, NULL, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	bad = js("[\"BY:1\", 2]");
	REFUSED(kt_account_org_create(conn, ok, bad, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	bad = js("[\"BY:{1}\"]");
	REFUSED(kt_account_org_create(conn, ok, bad, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	bad = js("{\"a\":\"b\"}");
	REFUSED(kt_account_org_create(conn, ok, bad, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(bad);
	REFUSED(kt_account_org_create(conn, ok, NULL, "", CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_create(conn, ok, NULL, NULL, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_org_create(conn, NULL, NULL, ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(ok);
	assert_int_equal(cmd_int("DBSIZE"), 0);
}

/* Get and find ------------------------------------------------------------- */

static void test_org_get_find(void **state)
{
	org(ACME, "[\"BY:4711\"]");

	assert_int_equal(DO(kt_account_org_get(conn, "acme", CB)), KT_OK);
	assert_string_equal(rstr("legal_name"), "Acme GmbH");
	assert_null(json_object_get(R.result, "resolved_from"));
	FAILS(kt_account_org_get(conn, "nope", CB), KT_ERR_NOTFOUND,
	      "no organisation nope");

	struct {
		const char *kind, *value;
	} ok[] = {{"vat", "DE123456788"},	{"taxno", "9143021530457"},
		  {"wid", "DE123456788-00001"}, {"hr", "Kiel|HRB|1234"},
		  {"source", "BY:4711"},	{"id", "acme"}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(
		    DO(kt_account_org_find(conn, ok[i].kind, ok[i].value, CB)),
		    KT_OK);
		assert_string_equal(rstr("id"), "acme");
	}
	FAILS(kt_account_org_find(conn, "vat", "DE812345673", CB),
	      KT_ERR_NOTFOUND, "no organisation with vat DE812345673");
	FAILS(kt_account_org_find(conn, "hr", "Kiel|HRB|12345", CB),
	      KT_ERR_NOTFOUND, "no organisation with hr Kiel|HRB|12345");
	FAILS(kt_account_org_find(conn, "source", "BY:4712", CB),
	      KT_ERR_NOTFOUND, "no organisation with source BY:4712");
	FAILS(kt_account_org_find(conn, "id", "nope", CB), KT_ERR_NOTFOUND,
	      "no organisation nope");
	/* An index entry whose organisation is gone. */
	cmd_ok("SET kt:orgidx:vat:{DE271543989} ghost");
	FAILS(kt_account_org_find(conn, "vat", "DE271543989", CB),
	      KT_ERR_NOTFOUND, "no organisation ghost");

	REFUSED(kt_account_org_get(conn, "a{b", CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_get(conn, "", CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_get(conn, NULL, CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_find(conn, "name", "Acme", CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_find(conn, NULL, "Acme", CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_find(conn, "vat", "", CB), KT_ERR_INVALID);
	REFUSED(kt_account_org_find(conn, "vat", "DE{1}", CB), KT_ERR_INVALID);
}

/* Update ------------------------------------------------------------------- */

static void test_org_update(void **state)
{
	char before[41], after[41];
	json_t *f, *a;

	org(ACME, NULL);
	digest_of_hash(before, "kt:org:{acme}");

	f = js("{\"legal_name\":\"Acme Holding GmbH\",\"street\":\"\"}");
	assert_int_equal(
	    DO(kt_account_org_update(conn, "acme", 1, f, ACTOR, CB)), KT_OK);
	json_decref(f);
	assert_string_equal(rstr("legal_name"), "Acme Holding GmbH");
	assert_string_equal(rstr("version"), "2");
	assert_null(json_object_get(R.result, "street"));
	assert_int_equal(cmd_int("HEXISTS kt:org:{acme} street"), 0);
	assert_key_value("2", "HGET kt:org:{acme} version");
	/* The audit chain: before is the old record, after the new one. */
	digest_of_hash(after, "kt:org:{acme}");
	a = audit_last();
	assert_string_equal(sget(a, "action"), "org.update");
	assert_string_equal(sget(a, "object"), "org:acme");
	assert_string_equal(sget(a, "before"), before);
	assert_string_equal(sget(a, "after"), after);
	assert_string_not_equal(before, after);
	json_decref(a);

	/* A stale version changes nothing. */
	f = js("{\"legal_name\":\"Lost Update GmbH\"}");
	FAILS(kt_account_org_update(conn, "acme", 1, f, ACTOR, CB),
	      KT_ERR_CONFLICT, "version 1 is stale (now 2)");
	assert_key_value("Acme Holding GmbH", "HGET kt:org:{acme} legal_name");
	assert_key_value("2", "HGET kt:org:{acme} version");
	/* Version 0: no check. */
	assert_int_equal(
	    DO(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB)), KT_OK);
	assert_string_equal(rstr("version"), "3");
	json_decref(f);

	/* Nothing to change: nothing written, nothing audited. */
	{
		long long n = audit_len();
		f = js("{\"legal_name\":\"Lost Update GmbH\"}");
		assert_int_equal(
		    DO(kt_account_org_update(conn, "acme", 3, f, ACTOR, CB)),
		    KT_OK);
		json_decref(f);
		assert_string_equal(rstr("unchanged"), "1");
		assert_string_equal(rstr("version"), "3");
		assert_int_equal(audit_len(), n);
		assert_int_equal(cmd_int("HEXISTS kt:org:{acme} unchanged"), 0);
	}

	FAILS(kt_account_org_update(conn, "nope", 0, f = js("{}"), ACTOR, CB),
	      KT_ERR_NOTFOUND, "no organisation nope");
	json_decref(f);

	/* Fields the model owns cannot be set from outside. */
	const char *owned[] = {"id",	     "version",	    "created_at",
			       "updated_at", "merged_into", "resolved_from"};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		char text[64], msg[64];
		snprintf(text, sizeof(text), "{\"%s\":\"x\"}", owned[i]);
		snprintf(msg, sizeof(msg), "field %s cannot be changed",
			 owned[i]);
		f = js(text);
		FAILS(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB),
		      KT_ERR_INVALID, msg);
		json_decref(f);
	}
	/* Status: only active and suspended; "merged" is org_merge's. */
	f = js("{\"status\":\"merged\"}");
	FAILS(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB),
	      KT_ERR_INVALID, "status must be active or suspended");
	json_decref(f);
	assert_key_value("active", "HGET kt:org:{acme} status");
	assert_key_value("3", "HGET kt:org:{acme} version");

	REFUSED(
	    kt_account_org_update(conn, "acme", -1, f = js("{}"), ACTOR, CB),
	    KT_ERR_INVALID);
	json_decref(f);
	REFUSED(kt_account_org_update(conn, "acme", 0, f = js("{\"a\":1}"),
				      ACTOR, CB),
		KT_ERR_INVALID);
	json_decref(f);
	REFUSED(kt_account_org_update(conn, "acme", 0, NULL, ACTOR, CB),
		KT_ERR_INVALID);
}

static void test_org_update_identifiers(void **state)
{
	json_t *f;

	org(ACME, NULL);
	org("{\"id\":\"beta\",\"legal_name\":\"Beta "
	    "AG\",\"vat\":\"DE812345673\","
	    "\"vat_valid\":\"1\"}",
	    NULL);

	/* Change the VAT id: the index follows. */
	f = js("{\"vat\":\"DE271543989\",\"vat_valid\":\"1\"}");
	assert_int_equal(
	    DO(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB)), KT_OK);
	json_decref(f);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:vat:{DE123456788}"), 0);
	assert_key_value("acme", "GET kt:orgidx:vat:{DE271543989}");

	/* Taking another organisation's identifier is a conflict; nothing
	 * changes, not even the other fields of the update. */
	f = js("{\"vat\":\"DE812345673\",\"vat_valid\":\"1\",\"city\":\"X\"}");
	FAILS(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB),
	      KT_ERR_CONFLICT,
	      "identifier DE812345673 belongs to organisation beta");
	json_decref(f);
	assert_key_value("DE271543989", "HGET kt:org:{acme} vat");
	assert_key_value("Kiel", "HGET kt:org:{acme} city");
	assert_key_value("beta", "GET kt:orgidx:vat:{DE812345673}");

	/* Changing an identifier without stating its validity must not
	 * inherit the old flag: unchecked values are never indexed. */
	f = js("{\"vat\":\"DE999999999\"}");
	assert_int_equal(
	    DO(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB)), KT_OK);
	json_decref(f);
	assert_string_equal(rstr("vat_valid"), "0");
	assert_int_equal(cmd_int("EXISTS kt:orgidx:vat:{DE999999999}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:vat:{DE271543989}"), 0);
	f = js("{\"hr_number\":\"99\"}");
	assert_int_equal(
	    DO(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB)), KT_OK);
	json_decref(f);
	assert_string_equal(rstr("hr_valid"), "0");
	assert_int_equal(cmd_int("EXISTS kt:orgidx:hr:{Kiel|HRB|1234}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:orgidx:hr:{Kiel|HRB|99}"), 0);

	/* Deleting an identifier drops its index entry. */
	f = js("{\"taxno\":\"\",\"taxno_valid\":\"\"}");
	assert_int_equal(
	    DO(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB)), KT_OK);
	json_decref(f);
	assert_null(json_object_get(R.result, "taxno"));
	assert_int_equal(cmd_int("EXISTS kt:orgidx:taxno:{9143021530457}"), 0);
	/* The W-IdNr stayed untouched and indexed. */
	assert_key_value("acme", "GET kt:orgidx:wid:{DE123456788-00001}");
}

/* Two connections, one expected version, two updates: exactly one wins. */
struct race {
	int calls, rc;
};

static void on_race(int rc, json_t *res, void *arg)
{
	struct race *r = arg;

	r->calls++;
	r->rc = rc;
}

static void test_org_update_concurrent(void **state)
{
	struct kt_redis_addr a = {.host = "127.0.0.1"};
	struct kt_redis *conn2 = NULL;
	struct race r1, r2;

	org(ACME, NULL);
	a.port = srv.port;
	assert_int_equal(kt_redis_new(base, &a, 2000, &conn2), KT_OK);
	assert_int_equal(kt_redis_wait_ready(conn2, 3000), KT_OK);

	for (int round = 1; round <= 20; round++) {
		char n1[64], n2[64];
		json_t *f1, *f2;

		/* Both read version `round` and write different names. */
		snprintf(n1, sizeof(n1), "Written by one in round %d", round);
		snprintf(n2, sizeof(n2), "Written by two in round %d", round);
		f1 = json_pack("{s:s}", "legal_name", n1);
		f2 = json_pack("{s:s}", "legal_name", n2);
		memset(&r1, 0, sizeof(r1));
		memset(&r2, 0, sizeof(r2));
		assert_int_equal(kt_account_org_update(conn, "acme", round, f1,
						       ACTOR, on_race, &r1),
				 KT_OK);
		assert_int_equal(kt_account_org_update(conn2, "acme", round, f2,
						       ACTOR, on_race, &r2),
				 KT_OK);
		json_decref(f1);
		json_decref(f2);
		while (r1.calls + r2.calls < 2)
			event_base_loop(base, EVLOOP_ONCE);
		assert_int_equal(r1.calls, 1);
		assert_int_equal(r2.calls, 1);
		/* Exactly one wins, the other sees the conflict, and what is
		 * stored is the winner's write. */
		assert_true((r1.rc == KT_OK && r2.rc == KT_ERR_CONFLICT) ||
			    (r1.rc == KT_ERR_CONFLICT && r2.rc == KT_OK));
		assert_key_value(r1.rc == KT_OK ? n1 : n2,
				 "HGET kt:org:{acme} legal_name");
	}
	/* 20 rounds, 20 new versions, 20 audit entries plus the create. */
	assert_key_value("21", "HGET kt:org:{acme} version");
	assert_int_equal(audit_len(), 21);
	kt_redis_free(conn2);
}

/* Status ------------------------------------------------------------------- */

static void test_org_status(void **state)
{
	org(ACME, NULL);
	assert_int_equal(
	    DO(kt_account_org_set_status(conn, "acme", "suspended", ACTOR, CB)),
	    KT_OK);
	assert_string_equal(rstr("status"), "suspended");
	assert_string_equal(rstr("version"), "2");
	assert_audit("org.suspend", "org:acme");
	/* Already suspended: no change, no version, no audit entry. */
	assert_int_equal(
	    DO(kt_account_org_set_status(conn, "acme", "suspended", ACTOR, CB)),
	    KT_OK);
	assert_string_equal(rstr("version"), "2");
	assert_string_equal(rstr("unchanged"), "1");
	assert_int_equal(audit_len(), 2);
	assert_int_equal(
	    DO(kt_account_org_set_status(conn, "acme", "active", ACTOR, CB)),
	    KT_OK);
	assert_string_equal(rstr("status"), "active");
	assert_audit("org.activate", "org:acme");
	FAILS(kt_account_org_set_status(conn, "nope", "active", ACTOR, CB),
	      KT_ERR_NOTFOUND, "no organisation nope");
	REFUSED(kt_account_org_set_status(conn, "acme", "merged", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_org_set_status(conn, "acme", NULL, ACTOR, CB),
		KT_ERR_INVALID);
}

/* Merge -------------------------------------------------------------------- */

static void member(const char *oid, const char *pid, const char *role)
{
	assert_int_equal(
	    DO(kt_account_member_set(conn, oid, pid, role, ACTOR, CB)), KT_OK);
}

static const char *role_in(json_t *members, const char *pid)
{
	size_t i;
	json_t *m;

	json_array_foreach(members, i, m)
	{
		if (strcmp(sget(m, "person"), pid) == 0)
			return sget(m, "role");
	}
	return NULL;
}

static void test_org_merge(void **state)
{
	json_t *a, *members;
	char before[41];

	person("p1", "p1@example.de", "One");
	person("p2", "p2@example.de", "Two");
	person("p3", "p3@example.de", "Three");
	org(ACME, "[\"BY:4711\",\"SH:1\"]");
	org("{\"id\":\"surv\",\"legal_name\":\"Acme Group GmbH\","
	    "\"vat\":\"DE812345673\",\"vat_valid\":\"1\"}",
	    "[\"HH:9\"]");
	member("acme", "p1", "admin");
	member("acme", "p2", "representative");
	member("acme", "p3", "admin");
	member("surv", "p2", "member");
	member("surv", "p3", "representative");
	digest_of_hash(before, "kt:org:{acme}");

	assert_int_equal(
	    DO(kt_account_org_merge(conn, "acme", "surv", ACTOR, CB)), KT_OK);
	assert_string_equal(rstr("id"), "surv");

	/* The loser: merged, pointing at the survivor, no members. */
	assert_key_value("merged", "HGET kt:org:{acme} status");
	assert_key_value("surv", "HGET kt:org:{acme} merged_into");
	assert_key_value("2", "HGET kt:org:{acme} version");
	assert_int_equal(cmd_int("EXISTS kt:org:{acme}:members"), 0);
	assert_int_equal(cmd_int("EXISTS kt:org:{acme}:sources"), 0);

	/* Memberships moved; the stronger role won. */
	assert_int_equal(DO(kt_account_org_members(conn, "surv", CB)), KT_OK);
	members = json_object_get(R.result, "members");
	assert_int_equal(json_array_size(members), 3);
	assert_string_equal(role_in(members, "p1"), "admin");
	assert_string_equal(role_in(members, "p2"), "member");
	assert_string_equal(role_in(members, "p3"), "admin");
	/* Person indexes point at the survivor only. */
	assert_int_equal(cmd_int("HEXISTS kt:person:{p1}:orgs acme"), 0);
	assert_key_value("admin", "HGET kt:person:{p1}:orgs surv");
	assert_key_value("admin", "HGET kt:person:{p3}:orgs surv");

	/* Sources moved, their index too. */
	assert_int_equal(cmd_int("SCARD kt:org:{surv}:sources"), 3);
	assert_key_value("surv", "GET kt:orgidx:source:{BY:4711}");
	assert_key_value("surv", "GET kt:orgidx:source:{SH:1}");
	/* The loser's identifiers now lead to the survivor. */
	assert_key_value("surv", "GET kt:orgidx:vat:{DE123456788}");
	assert_key_value("surv", "GET kt:orgidx:hr:{Kiel|HRB|1234}");
	assert_int_equal(
	    DO(kt_account_org_find(conn, "vat", "DE123456788", CB)), KT_OK);
	assert_string_equal(rstr("id"), "surv");
	assert_int_equal(DO(kt_account_org_find(conn, "source", "SH:1", CB)),
			 KT_OK);
	assert_string_equal(rstr("id"), "surv");

	/* Lookups of the loser resolve to the survivor. */
	assert_int_equal(DO(kt_account_org_get(conn, "acme", CB)), KT_OK);
	assert_string_equal(rstr("id"), "surv");
	assert_string_equal(rstr("resolved_from"), "acme");
	assert_int_equal(DO(kt_account_org_find(conn, "id", "acme", CB)),
			 KT_OK);
	assert_string_equal(rstr("id"), "surv");
	assert_int_equal(DO(kt_account_org_members(conn, "acme", CB)), KT_OK);
	assert_string_equal(rstr("org"), "surv");

	/* The audit entry: the loser's before and after. */
	a = audit_last();
	assert_string_equal(sget(a, "action"), "org.merge");
	assert_string_equal(sget(a, "object"), "org:acme>surv");
	assert_string_equal(sget(a, "before"), before);
	digest_of_hash(before, "kt:org:{acme}");
	assert_string_equal(sget(a, "after"), before);
	json_decref(a);

	/* A merged organisation cannot be changed, merged or joined. */
	FAILS(kt_account_org_merge(conn, "acme", "surv", ACTOR, CB),
	      KT_ERR_INVALID, "acme is already merged");
	org("{\"id\":\"third\",\"legal_name\":\"Third\"}", NULL);
	FAILS(kt_account_org_merge(conn, "third", "acme", ACTOR, CB),
	      KT_ERR_INVALID, "acme is merged itself");
	FAILS(kt_account_org_merge(conn, "third", "third", ACTOR, CB),
	      KT_ERR_INVALID, "cannot merge an organisation into itself");
	FAILS(kt_account_org_merge(conn, "nope", "third", ACTOR, CB),
	      KT_ERR_NOTFOUND, "no organisation nope");
	FAILS(kt_account_org_merge(conn, "third", "nope", ACTOR, CB),
	      KT_ERR_NOTFOUND, "no organisation nope");
	{
		json_t *f = js("{\"legal_name\":\"Zombie\"}");
		FAILS(kt_account_org_update(conn, "acme", 0, f, ACTOR, CB),
		      KT_ERR_INVALID, "organisation acme is merged into surv");
		json_decref(f);
		/* ...and the survivor keeps the loser's identifiers. */
		assert_key_value("surv", "GET kt:orgidx:vat:{DE123456788}");
	}
	FAILS(kt_account_org_set_status(conn, "acme", "active", ACTOR, CB),
	      KT_ERR_INVALID, "organisation acme is merged into surv");
	FAILS(kt_account_member_set(conn, "acme", "p1", "admin", ACTOR, CB),
	      KT_ERR_INVALID, "organisation acme is merged into surv");
	FAILS(kt_account_source_add(conn, "acme", "NW:1", ACTOR, CB),
	      KT_ERR_INVALID, "organisation acme is merged into surv");
	/* A new organisation cannot take the loser's identifiers. */
	{
		json_t *f = js("{\"legal_name\":\"Copy\",\"vat\":"
			       "\"DE123456788\",\"vat_valid\":\"1\"}");
		FAILS(kt_account_org_create(conn, f, NULL, ACTOR, CB),
		      KT_ERR_CONFLICT,
		      "identifier DE123456788 belongs to organisation surv");
		json_decref(f);
	}

	/* Chains: merge the survivor on, the first loser follows. */
	assert_int_equal(
	    DO(kt_account_org_merge(conn, "surv", "third", ACTOR, CB)), KT_OK);
	assert_int_equal(DO(kt_account_org_get(conn, "acme", CB)), KT_OK);
	assert_string_equal(rstr("id"), "third");
	assert_string_equal(rstr("resolved_from"), "acme");
	assert_key_value("admin", "HGET kt:person:{p1}:orgs third");

	REFUSED(kt_account_org_merge(conn, "a{", "third", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_org_merge(conn, "third", NULL, ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_org_merge(conn, "third", "acme", "", CB),
		KT_ERR_INVALID);
}

/* Only identifiers that still point at the loser move: if one was
 * re-assigned meanwhile, the merge leaves it alone. */
static void test_org_merge_foreign_index(void **state)
{
	org(ACME, NULL);
	org("{\"id\":\"surv\",\"legal_name\":\"S\"}", NULL);
	cmd_ok("SET kt:orgidx:vat:{DE123456788} other");
	assert_int_equal(
	    DO(kt_account_org_merge(conn, "acme", "surv", ACTOR, CB)), KT_OK);
	assert_key_value("other", "GET kt:orgidx:vat:{DE123456788}");
	assert_key_value("surv", "GET kt:orgidx:taxno:{9143021530457}");
}

/* Sources ------------------------------------------------------------------ */

static void test_source_add(void **state)
{
	long long n;

	org(ACME, NULL);
	org("{\"id\":\"beta\",\"legal_name\":\"Beta\"}", "[\"NW:7\"]");
	assert_int_equal(
	    DO(kt_account_source_add(conn, "acme", "BY:1", ACTOR, CB)), KT_OK);
	assert_string_equal(rstr("source"), "BY:1");
	assert_key_value("acme", "GET kt:orgidx:source:{BY:1}");
	assert_int_equal(cmd_int("SISMEMBER kt:org:{acme}:sources BY:1"), 1);
	assert_audit("org.source.add", "org:acme:BY:1");
	/* Again: no change, no second audit entry. */
	n = audit_len();
	assert_int_equal(
	    DO(kt_account_source_add(conn, "acme", "BY:1", ACTOR, CB)), KT_OK);
	assert_int_equal(audit_len(), n);
	FAILS(kt_account_source_add(conn, "acme", "NW:7", ACTOR, CB),
	      KT_ERR_CONFLICT, "source NW:7 belongs to organisation beta");
	FAILS(kt_account_source_add(conn, "nope", "NW:8", ACTOR, CB),
	      KT_ERR_NOTFOUND, "no organisation nope");
	assert_int_equal(cmd_int("EXISTS kt:orgidx:source:{NW:8}"), 0);
	REFUSED(kt_account_source_add(conn, "acme", "BY1", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_source_add(conn, "acme", "BY:{1}", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_source_add(conn, "acme", NULL, ACTOR, CB),
		KT_ERR_INVALID);

	/* The organisation's list. */
	assert_int_equal(DO(kt_account_org_sources(conn, "acme", CB)), KT_OK);
	assert_string_equal(rstr("org"), "acme");
	assert_int_equal(json_array_size(json_object_get(R.result, "sources")),
			 1);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(R.result, "sources"), 0)),
			    "BY:1");
	org("{\"id\":\"empty\",\"legal_name\":\"E\"}", NULL);
	assert_int_equal(DO(kt_account_org_sources(conn, "empty", CB)), KT_OK);
	assert_true(json_is_array(json_object_get(R.result, "sources")));
	assert_int_equal(json_array_size(json_object_get(R.result, "sources")),
			 0);
	FAILS(kt_account_org_sources(conn, "nope", CB), KT_ERR_NOTFOUND,
	      "no organisation nope");
}

/* Members ------------------------------------------------------------------ */

static void test_members(void **state)
{
	json_t *m, *a;
	char after[41];

	person("p1", "b@example.de", "Bea");
	person("p2", "a@example.de", "Anna");
	person("p3", "c@example.de", "Carl");
	org(ACME, NULL);

	/* No members yet: an empty JSON array, not an object. */
	assert_int_equal(DO(kt_account_org_members(conn, "acme", CB)), KT_OK);
	assert_true(json_is_array(json_object_get(R.result, "members")));
	assert_int_equal(json_array_size(json_object_get(R.result, "members")),
			 0);

	member("acme", "p1", "admin");
	assert_string_equal(rstr("role"), "admin");
	assert_string_equal(rstr("granted_by"), ACTOR);
	assert_audit("member.add", "org:acme:person:p1");
	a = audit_last();
	assert_string_equal(sget(a, "before"), "");
	json_decref(a);
	assert_key_value("admin", "HGET kt:person:{p1}:orgs acme");
	member("acme", "p2", "representative");
	member("acme", "p2", "member");
	assert_audit("member.role", "org:acme:person:p2");
	a = audit_last();
	assert_string_not_equal(sget(a, "before"), "");
	assert_string_not_equal(sget(a, "before"), sget(a, "after"));
	json_decref(a);

	assert_int_equal(DO(kt_account_org_members(conn, "acme", CB)), KT_OK);
	assert_string_equal(rstr("org"), "acme");
	m = json_object_get(R.result, "members");
	assert_int_equal(json_array_size(m), 2);
	/* Sorted by email, with the person's details. */
	assert_string_equal(sget(json_array_get(m, 0), "person"), "p2");
	assert_string_equal(sget(json_array_get(m, 0), "email"),
			    "a@example.de");
	assert_string_equal(sget(json_array_get(m, 0), "name"), "Anna");
	assert_string_equal(sget(json_array_get(m, 0), "role"), "member");
	assert_string_equal(sget(json_array_get(m, 1), "person"), "p1");
	assert_string_equal(sget(json_array_get(m, 1), "granted_by"), ACTOR);
	assert_true(strtoll(sget(json_array_get(m, 1), "granted_at"), NULL,
			    10) >= kt_now() - 5);

	/* The last admin can neither be demoted nor removed ... */
	FAILS(kt_account_member_set(conn, "acme", "p1", "member", ACTOR, CB),
	      KT_ERR_DENIED,
	      "the last admin of an organisation cannot be demoted");
	FAILS(kt_account_member_remove(conn, "acme", "p1", ACTOR, CB),
	      KT_ERR_DENIED,
	      "the last admin of an organisation cannot be removed");
	assert_key_value("admin", "HGET kt:person:{p1}:orgs acme");
	/* ... but once there is a second one, both work. */
	member("acme", "p3", "admin");
	member("acme", "p1", "member");
	assert_int_equal(
	    DO(kt_account_member_remove(conn, "acme", "p1", ACTOR, CB)), KT_OK);
	assert_string_equal(rstr("removed"), "p1");
	assert_audit("member.remove", "org:acme:person:p1");
	a = audit_last();
	assert_string_equal(sget(a, "after"), "");
	json_decref(a);
	assert_int_equal(cmd_int("HEXISTS kt:org:{acme}:members p1"), 0);
	assert_int_equal(cmd_int("HEXISTS kt:person:{p1}:orgs acme"), 0);
	FAILS(kt_account_member_remove(conn, "acme", "p1", ACTOR, CB),
	      KT_ERR_NOTFOUND, "person p1 is not a member of acme");
	FAILS(kt_account_member_remove(conn, "nope", "p1", ACTOR, CB),
	      KT_ERR_NOTFOUND, "person p1 is not a member of nope");

	/* A suspended organisation may lose its last admin (it is being
	 * wound down). */
	assert_int_equal(
	    DO(kt_account_org_set_status(conn, "acme", "suspended", ACTOR, CB)),
	    KT_OK);
	assert_int_equal(
	    DO(kt_account_member_remove(conn, "acme", "p3", ACTOR, CB)), KT_OK);

	FAILS(kt_account_member_set(conn, "nope", "p1", "admin", ACTOR, CB),
	      KT_ERR_NOTFOUND, "no organisation nope");
	FAILS(kt_account_member_set(conn, "acme", "p9", "admin", ACTOR, CB),
	      KT_ERR_NOTFOUND, "no person p9");
	FAILS(kt_account_org_members(conn, "nope", CB), KT_ERR_NOTFOUND,
	      "no organisation nope");
	REFUSED(kt_account_member_set(conn, "acme", "p1", "owner", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_member_set(conn, "acme", "p{1}", "admin", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_member_remove(conn, "acme", "", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_org_members(conn, "}", CB), KT_ERR_INVALID);
	digest_of_hash(after, "kt:org:{acme}");
}

static void test_member_add_change(void **state)
{
	person("p1", "p1@example.de", "One");
	person("p2", "p2@example.de", "Two");
	org(ACME, NULL);

	assert_int_equal(
	    DO(kt_account_member_add(conn, "acme", "p1", "admin", ACTOR, CB)),
	    KT_OK);
	FAILS(kt_account_member_add(conn, "acme", "p1", "member", ACTOR, CB),
	      KT_ERR_CONFLICT, "person p1 is already a member of acme (admin)");
	assert_key_value("admin", "HGET kt:person:{p1}:orgs acme");
	FAILS(kt_account_member_change(conn, "acme", "p2", "member", ACTOR, CB),
	      KT_ERR_NOTFOUND, "person p2 is not a member of acme");
	assert_int_equal(cmd_int("HEXISTS kt:org:{acme}:members p2"), 0);
	assert_int_equal(DO(kt_account_member_add(conn, "acme", "p2",
						  "representative", ACTOR, CB)),
			 KT_OK);
	assert_int_equal(DO(kt_account_member_change(conn, "acme", "p2",
						     "admin", ACTOR, CB)),
			 KT_OK);
	assert_key_value("admin", "HGET kt:person:{p2}:orgs acme");
	REFUSED(kt_account_member_add(conn, "acme", "p1", "boss", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(
	    kt_account_member_change(conn, "acme", NULL, "admin", ACTOR, CB),
	    KT_ERR_INVALID);
}

/* Person's organisations ------------------------------------------------- */

static void test_person_orgs(void **state)
{
	json_t *orgs;

	person("p1", "p1@example.de", "One");
	person("p2", "p2@example.de", "Two");
	assert_int_equal(DO(kt_account_person_orgs(conn, "p1", CB)), KT_OK);
	assert_true(json_is_array(json_object_get(R.result, "orgs")));
	assert_int_equal(json_array_size(json_object_get(R.result, "orgs")), 0);

	org("{\"id\":\"zeta\",\"legal_name\":\"Zeta KG\"}", NULL);
	org("{\"id\":\"alpha\",\"legal_name\":\"Alpha GmbH\"}", NULL);
	org("{\"id\":\"mid\",\"legal_name\":\"Mid AG\"}", NULL);
	member("zeta", "p1", "representative");
	member("alpha", "p1", "admin");
	member("mid", "p2", "admin");

	/* Stale index entries planted by hand: an organisation the person is
	 * not a member of, and one that does not exist. Neither is
	 * believed. */
	cmd_ok("HSET kt:person:{p1}:orgs mid admin");
	cmd_ok("HSET kt:person:{p1}:orgs ghost admin");

	assert_int_equal(DO(kt_account_person_orgs(conn, "p1", CB)), KT_OK);
	orgs = json_object_get(R.result, "orgs");
	assert_int_equal(json_array_size(orgs), 2);
	/* Sorted by legal name, each with the person's role. */
	assert_string_equal(sget(json_array_get(orgs, 0), "id"), "alpha");
	assert_string_equal(sget(json_array_get(orgs, 0), "role"), "admin");
	assert_string_equal(sget(json_array_get(orgs, 1), "id"), "zeta");
	assert_string_equal(sget(json_array_get(orgs, 1), "role"),
			    "representative");
	assert_string_equal(sget(json_array_get(orgs, 1), "legal_name"),
			    "Zeta KG");

	/* Suspended ones are listed with their status. */
	assert_int_equal(
	    DO(kt_account_org_set_status(conn, "zeta", "suspended", ACTOR, CB)),
	    KT_OK);
	assert_int_equal(DO(kt_account_person_orgs(conn, "p1", CB)), KT_OK);
	orgs = json_object_get(R.result, "orgs");
	assert_string_equal(sget(json_array_get(orgs, 1), "status"),
			    "suspended");

	/* An index entry for a merged organisation (written before the merge
	 * moved it) resolves to the survivor, listed once. */
	member("mid", "p1", "member");
	cmd_ok("HSET kt:person:{p1}:orgs zeta-old representative");
	assert_int_equal(
	    DO(kt_account_org_merge(conn, "zeta", "mid", ACTOR, CB)), KT_OK);
	cmd_ok("HSET kt:person:{p1}:orgs zeta representative");
	assert_int_equal(DO(kt_account_person_orgs(conn, "p1", CB)), KT_OK);
	orgs = json_object_get(R.result, "orgs");
	assert_int_equal(json_array_size(orgs), 2);
	assert_string_equal(sget(json_array_get(orgs, 0), "id"), "alpha");
	assert_string_equal(sget(json_array_get(orgs, 1), "id"), "mid");
	assert_string_equal(sget(json_array_get(orgs, 1), "role"), "member");

	REFUSED(kt_account_person_orgs(conn, "p{", CB), KT_ERR_INVALID);
}

static void test_last_org(void **state)
{
	assert_int_equal(DO(kt_account_last_org_get(conn, "p1", "rp1", CB)),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_account_last_org_set(conn, "p1", "rp1", "acme"),
			 KT_OK);
	assert_int_equal(DO(kt_account_last_org_get(conn, "p1", "rp1", CB)),
			 KT_OK);
	assert_string_equal(rstr("org"), "acme");
	assert_int_equal(DO(kt_account_last_org_get(conn, "p1", "rp2", CB)),
			 KT_ERR_NOTFOUND);
	assert_key_value("acme", "HGET kt:person:{p1}:lastorg rp1");
	REFUSED(kt_account_last_org_get(conn, "p{1}", "rp1", CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_last_org_get(conn, "p1", NULL, CB), KT_ERR_INVALID);
	assert_int_equal(kt_account_last_org_set(conn, "p1", "rp1", "a}"),
			 KT_ERR_INVALID);
}

/* Person update ------------------------------------------------------------ */

static void test_person_update(void **state)
{
	json_t *f, *a;
	char before[41], after[41];

	person("p1", "p1@example.de", "One");
	cmd_ok("HSET kt:person:{p1} totp secret-seed recovery codes");
	digest_of_hash(before, "kt:person:{p1}");

	f = js("{\"name\":\"Uno\",\"pwhash\":\"$scrypt$new\"}");
	assert_int_equal(DO(kt_account_person_update(conn, "p1", f, ACTOR,
						     "person.password", CB)),
			 KT_OK);
	json_decref(f);
	/* Secrets never come back. */
	assert_string_equal(rstr("name"), "Uno");
	assert_string_equal(rstr("email"), "p1@example.de");
	assert_null(json_object_get(R.result, "pwhash"));
	assert_null(json_object_get(R.result, "totp"));
	assert_null(json_object_get(R.result, "recovery"));
	assert_key_value("$scrypt$new", "HGET kt:person:{p1} pwhash");
	digest_of_hash(after, "kt:person:{p1}");
	a = audit_last();
	assert_string_equal(sget(a, "action"), "person.password");
	assert_string_equal(sget(a, "object"), "person:p1");
	assert_string_equal(sget(a, "before"), before);
	assert_string_equal(sget(a, "after"), after);
	json_decref(a);

	/* "" deletes. */
	f = js("{\"totp\":\"\",\"recovery\":\"\"}");
	assert_int_equal(DO(kt_account_person_update(conn, "p1", f, ACTOR,
						     "person.totp.remove", CB)),
			 KT_OK);
	json_decref(f);
	assert_int_equal(cmd_int("HEXISTS kt:person:{p1} totp"), 0);

	f = js("{\"email\":\"x@example.de\"}");
	FAILS(kt_account_person_update(conn, "p1", f, ACTOR, "person.x", CB),
	      KT_ERR_INVALID, "field email cannot be changed here");
	json_decref(f);
	f = js("{\"id\":\"p2\"}");
	FAILS(kt_account_person_update(conn, "p1", f, ACTOR, "person.x", CB),
	      KT_ERR_INVALID, "field id cannot be changed here");
	json_decref(f);
	assert_key_value("p1@example.de", "HGET kt:person:{p1} email");
	f = js("{\"name\":\"X\"}");
	FAILS(kt_account_person_update(conn, "p9", f, ACTOR, "person.x", CB),
	      KT_ERR_NOTFOUND, "no person p9");
	/* No resurrection of a missing person. */
	assert_int_equal(cmd_int("EXISTS kt:person:{p9}"), 0);
	REFUSED(kt_account_person_update(conn, "p1", f, ACTOR, NULL, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_person_update(conn, "p1", f, "", "a", CB),
		KT_ERR_INVALID);
	json_decref(f);
}

/* Invitations -------------------------------------------------------------- */

static void test_invite(void **state)
{
	char hash[23];

	org(ACME, NULL);
	kt_token_hash(hash, "invitation-token");
	assert_int_equal(
	    DO(kt_account_invite_create(conn, hash, "acme", "new@example.de",
					"member", ACTOR, 3600, CB)),
	    KT_OK);
	assert_string_equal(rstr("org"), "acme");
	assert_in_range(cmd_int("TTL kt:invite:{%s}", hash), 3595, 3600);
	assert_audit("invite.create", "org:acme:email:new@example.de");

	/* Single use. */
	assert_int_equal(DO(kt_account_invite_take(conn, hash, CB)), KT_OK);
	assert_string_equal(rstr("org"), "acme");
	assert_string_equal(rstr("email"), "new@example.de");
	assert_string_equal(rstr("role"), "member");
	assert_string_equal(rstr("by"), ACTOR);
	assert_int_equal(DO(kt_account_invite_take(conn, hash, CB)),
			 KT_ERR_NOTFOUND);

	/* Expired. */
	assert_int_equal(
	    DO(kt_account_invite_create(conn, hash, "acme", "new@example.de",
					"admin", ACTOR, 60, CB)),
	    KT_OK);
	cmd_ok("PEXPIRE kt:invite:{%s} 1", hash);
	test_sleep_ms(20);
	assert_int_equal(DO(kt_account_invite_take(conn, hash, CB)),
			 KT_ERR_NOTFOUND);

	/* Only into active organisations. */
	assert_int_equal(
	    DO(kt_account_org_set_status(conn, "acme", "suspended", ACTOR, CB)),
	    KT_OK);
	FAILS(kt_account_invite_create(conn, hash, "acme", "n@example.de",
				       "member", ACTOR, 60, CB),
	      KT_ERR_INVALID, "organisation acme is not active");
	FAILS(kt_account_invite_create(conn, hash, "nope", "n@example.de",
				       "member", ACTOR, 60, CB),
	      KT_ERR_INVALID, "organisation nope is not active");
	assert_int_equal(cmd_int("EXISTS kt:invite:{%s}", hash), 0);

	REFUSED(kt_account_invite_create(conn, hash, "acme", "n@example.de",
					 "owner", ACTOR, 60, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_invite_create(conn, hash, "acme", "n@example.de",
					 "member", ACTOR, 0, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_invite_create(conn, "h{", "acme", "n@example.de",
					 "member", ACTOR, 60, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_invite_create(conn, NULL, "acme", "n@example.de",
					 "member", ACTOR, 60, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_invite_take(conn, "{x}", CB), KT_ERR_INVALID);
}

/* Audit -------------------------------------------------------------------- */

static void test_audit(void **state)
{
	json_t *e;
	char last[64];

	assert_int_equal(DO(kt_account_audit_tail(conn, 10, CB)), KT_OK);
	assert_int_equal(json_array_size(json_object_get(R.result, "entries")),
			 0);
	for (int i = 0; i < 5; i++) {
		char obj[32];
		snprintf(obj, sizeof(obj), "client:c%d", i);
		assert_int_equal(DO(kt_account_audit_add(
				     conn, ACTOR, "client.register", obj, CB)),
				 KT_OK);
	}
	assert_int_equal(DO(kt_account_audit_tail(conn, 3, CB)), KT_OK);
	e = json_object_get(R.result, "entries");
	assert_int_equal(json_array_size(e), 3);
	/* Newest first. */
	assert_string_equal(sget(json_array_get(e, 0), "object"), "client:c4");
	assert_string_equal(sget(json_array_get(e, 2), "object"), "client:c2");
	assert_string_equal(sget(json_array_get(e, 0), "actor"), ACTOR);
	assert_string_equal(sget(json_array_get(e, 0), "action"),
			    "client.register");
	assert_string_equal(sget(json_array_get(e, 0), "before"), "");
	assert_true(strtoll(sget(json_array_get(e, 0), "time"), NULL, 10) >=
		    kt_now() - 5);
	snprintf(last, sizeof(last), "%s", sget(json_array_get(e, 2), "id"));

	/* Paging back from an entry (exclusive). */
	assert_int_equal(DO(kt_account_audit_page(conn, last, 10, CB)), KT_OK);
	e = json_object_get(R.result, "entries");
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(sget(json_array_get(e, 0), "object"), "client:c1");
	assert_string_equal(sget(json_array_get(e, 1), "object"), "client:c0");
	/* Newer than an entry (exclusive), oldest first. */
	assert_int_equal(DO(kt_account_audit_since(conn, last, 10, CB)), KT_OK);
	e = json_object_get(R.result, "entries");
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(sget(json_array_get(e, 0), "object"), "client:c3");
	assert_string_equal(sget(json_array_get(e, 1), "object"), "client:c4");
	assert_int_equal(DO(kt_account_audit_since(conn, "0", 2, CB)), KT_OK);
	e = json_object_get(R.result, "entries");
	assert_string_equal(sget(json_array_get(e, 0), "object"), "client:c0");

	REFUSED(kt_account_audit_tail(conn, 0, CB), KT_ERR_LIMIT);
	REFUSED(kt_account_audit_tail(conn, 4001, CB), KT_ERR_LIMIT);
	REFUSED(kt_account_audit_page(conn, "x", 10, CB), KT_ERR_INVALID);
	REFUSED(kt_account_audit_since(conn, "1-", 10, CB), KT_ERR_INVALID);
	REFUSED(kt_account_audit_since(conn, "1-1", 0, CB), KT_ERR_LIMIT);
	REFUSED(kt_account_audit_add(conn, "", "a", "b", CB), KT_ERR_INVALID);
	REFUSED(kt_account_audit_add(conn, ACTOR, "a", "b{", CB),
		KT_ERR_INVALID);
}

/* Sessions ----------------------------------------------------------------- */

static void test_person_sessions(void **state)
{
	json_t *s;

	assert_int_equal(DO(kt_account_person_sessions(conn, "p1", CB)), KT_OK);
	assert_true(json_is_array(json_object_get(R.result, "sessions")));
	assert_int_equal(json_array_size(json_object_get(R.result, "sessions")),
			 0);

	cmd_ok("HSET kt:session:{s1} person p1 created 100 acr 0");
	cmd_ok("HSET kt:session:{s2} person p1 created 200 acr 1");
	cmd_ok("SADD kt:person:{p1}:sessions s1 s2 s-dead");
	assert_int_equal(DO(kt_account_person_sessions(conn, "p1", CB)), KT_OK);
	s = json_object_get(R.result, "sessions");
	assert_int_equal(json_array_size(s), 2);
	/* Newest first, with the sid. */
	assert_string_equal(sget(json_array_get(s, 0), "sid"), "s2");
	assert_string_equal(sget(json_array_get(s, 0), "acr"), "1");
	assert_string_equal(sget(json_array_get(s, 1), "sid"), "s1");
	/* The dead one was pruned from the index. */
	assert_int_equal(cmd_int("SISMEMBER kt:person:{p1}:sessions s-dead"),
			 0);
	assert_int_equal(cmd_int("SCARD kt:person:{p1}:sessions"), 2);
	REFUSED(kt_account_person_sessions(conn, "", CB), KT_ERR_INVALID);
}

/* The gateway's session writes keep the person's index. */
static void test_session_index(void **state)
{
	json_t *f = js("{\"person\":\"p1\",\"created\":\"5\",\"abs_exp\":"
		       "\"99\"}");

	assert_int_equal(DO(kt_store_session_create(conn, "sA", f, 100, CB)),
			 KT_OK);
	assert_int_equal(DO(kt_store_session_create(conn, "sB", f, 100, CB)),
			 KT_OK);
	json_decref(f);
	assert_int_equal(cmd_int("SCARD kt:person:{p1}:sessions"), 2);
	assert_int_equal(DO(kt_account_person_sessions(conn, "p1", CB)), KT_OK);
	assert_int_equal(json_array_size(json_object_get(R.result, "sessions")),
			 2);
}

static void test_session_revoke(void **state)
{
	cmd_ok("HSET kt:session:{s1} person p1 created 100");
	cmd_ok("HSET kt:session:{s2} person p1 created 200");
	cmd_ok("HSET kt:session:{s3} person p2 created 200");
	/* s3 is planted in p1's index but belongs to p2. */
	cmd_ok("SADD kt:person:{p1}:sessions s1 s2 gone s3");
	cmd_ok("SADD kt:person:{p2}:sessions s3");

	assert_int_equal(DO(kt_account_session_revoke(conn, "s1", ACTOR, CB)),
			 KT_OK);
	assert_string_equal(rstr("person"), "p1");
	assert_int_equal(cmd_int("EXISTS kt:session:{s1}"), 0);
	assert_int_equal(cmd_int("SISMEMBER kt:person:{p1}:sessions s1"), 0);
	assert_audit("session.revoke", "session:s1");
	FAILS(kt_account_session_revoke(conn, "s1", ACTOR, CB), KT_ERR_NOTFOUND,
	      "no session s1");

	assert_int_equal(
	    DO(kt_account_person_sessions_revoke(conn, "p1", ACTOR, CB)),
	    KT_OK);
	assert_int_equal(
	    json_integer_value(json_object_get(R.result, "revoked")), 1);
	assert_int_equal(cmd_int("EXISTS kt:session:{s2}"), 0);
	assert_int_equal(cmd_int("EXISTS kt:person:{p1}:sessions"), 0);
	assert_int_equal(cmd_int("EXISTS kt:session:{s3}"), 1);
	assert_audit("session.revoke_all", "person:p1");
	/* Nothing left: zero, and no audit entry. */
	{
		long long n = audit_len();
		assert_int_equal(DO(kt_account_person_sessions_revoke(
				     conn, "p1", ACTOR, CB)),
				 KT_OK);
		assert_int_equal(
		    json_integer_value(json_object_get(R.result, "revoked")),
		    0);
		assert_int_equal(audit_len(), n);
	}
	REFUSED(kt_account_session_revoke(conn, "s{", ACTOR, CB),
		KT_ERR_INVALID);
	REFUSED(kt_account_person_sessions_revoke(conn, "p1", "", CB),
		KT_ERR_INVALID);
}

/* Redis down ----------------------------------------------------------------
 */

/* kt_store_doc_scan (kontor-admin's client list) lives in store.c, but
 * needs the same server. */
static void test_doc_scan(void **state)
{
	json_t *seen = json_object();
	char cursor[32] = "0";
	int steps = 0;

	for (int i = 0; i < 1200; i++)
		cmd_ok("SET kt:client:{c%d} {}", i);
	cmd_ok("SET kt:par:{c9999} {}");
	cmd_ok("SET kt:client:{bad}x {}");
	cmd_ok("SET kt:clients {}");
	do {
		json_t *ids;
		size_t i;
		json_t *v;

		assert_int_equal(
		    DO(kt_store_doc_scan(conn, "client", cursor, CB)), KT_OK);
		snprintf(cursor, sizeof(cursor), "%s", rstr("cursor"));
		ids = json_object_get(R.result, "ids");
		json_array_foreach(ids, i, v) json_object_set_new(
		    seen, json_string_value(v), json_true());
		assert_true(++steps < 1000);
	} while (strcmp(cursor, "0") != 0);
	assert_int_equal(json_object_size(seen), 1200);
	assert_non_null(json_object_get(seen, "c0"));
	assert_non_null(json_object_get(seen, "c1199"));
	assert_null(json_object_get(seen, "c9999"));
	json_decref(seen);

	REFUSED(kt_store_doc_scan(conn, "client", "x", CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_scan(conn, "client", "", CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_scan(conn, "cl*", "0", CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_scan(conn, "c{", "0", CB), KT_ERR_INVALID);
	REFUSED(kt_store_doc_scan(conn, NULL, "0", CB), KT_ERR_INVALID);
}

/* Redis down: refused at once, or (sent while connecting) failed through
 * the callback; either way KT_ERR_UNAVAILABLE. */
static void test_unavailable(void **state)
{
	struct kt_redis_addr a = {.host = "127.0.0.1"};
	struct kt_redis *down = NULL;
	json_t *f = js("{\"legal_name\":\"X\"}");
	int rc;

	a.port = test_spare_port();
	assert_int_equal(kt_redis_new(base, &a, 300, &down), KT_OK);
	assert_int_equal(kt_redis_wait_ready(down, 200), KT_ERR_UNAVAILABLE);
	DOWN(kt_account_org_create(down, f, NULL, ACTOR, CB));
	DOWN(kt_account_org_get(down, "acme", CB));
	DOWN(kt_account_member_set(down, "acme", "p1", "admin", ACTOR, CB));
	DOWN(kt_account_audit_tail(down, 10, CB));
	DOWN(kt_account_audit_add(down, ACTOR, "a", "b", CB));
	DOWN(kt_account_last_org_get(down, "p1", "c", CB));
#undef DOWN
	kt_redis_free(down);
	json_decref(f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
	const struct CMUnitTest tests[] = {
	    T(test_role_ok),
	    T(test_org_create),
	    T(test_org_create_invalid_identifiers),
	    T(test_org_create_conflicts),
	    T(test_org_create_refused),
	    T(test_org_get_find),
	    T(test_org_update),
	    T(test_org_update_identifiers),
	    T(test_org_update_concurrent),
	    T(test_org_status),
	    T(test_org_merge),
	    T(test_org_merge_foreign_index),
	    T(test_source_add),
	    T(test_members),
	    T(test_member_add_change),
	    T(test_person_orgs),
	    T(test_last_org),
	    T(test_person_update),
	    T(test_invite),
	    T(test_audit),
	    T(test_person_sessions),
	    T(test_session_index),
	    T(test_session_revoke),
	    T(test_doc_scan),
	    T(test_unavailable),
	};
#undef T

	test_redis_require("test_account");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
