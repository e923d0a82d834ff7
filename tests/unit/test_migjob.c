/*
 * lib/migjob.c against a real redis-server (redis_server.h): a unit
 * creates an organisation with its indexes, people with their legacy
 * hashes and memberships, and its journal entry, all at once; applying
 * again changes nothing; existing accounts are only added to; conflicting
 * links block a unit; rollback undoes exactly what a unit did and refuses
 * where something changed since. Checked through the API and with an
 * independent synchronous client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/account.h"
#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/migjob.h"
#include "kontor/store.h"

#include "store_call.h"

#define JOB "job-0123456789ab"

static const char *rs(const char *k)
{
	const char *v = json_string_value(json_object_get(R.result, k));

	if (v == NULL)
		fail_msg("no string '%s' in result", k);
	return v;
}

static long long ri(const char *k)
{
	return json_integer_value(json_object_get(R.result, k));
}

/* A string value, "" for nil; freed by the next call. */
static const char *get(const char *fmt, ...)
{
	static char buf[4096];
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = redisvCommand(sync_c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	buf[0] = '\0';
	if (rep->type == REDIS_REPLY_STRING)
		snprintf(buf, sizeof(buf), "%s", rep->str);
	else if (rep->type == REDIS_REPLY_INTEGER)
		snprintf(buf, sizeof(buf), "%lld", rep->integer);
	freeReplyObject(rep);
	return buf;
}

static long long num(const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;
	long long n;

	va_start(ap, fmt);
	rep = redisvCommand(sync_c, fmt, ap);
	va_end(ap);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	n = rep->integer;
	freeReplyObject(rep);
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every key and value except the audit stream and the jobs' own, as sorted
 * lines (hash fields and set members sorted too): what "changes nothing"
 * compares.
 */
static char *snapshot(void)
{
	redisReply *keys = cmd("KEYS kt:*");
	char **lines = calloc(keys->elements + 1, sizeof(*lines));
	size_t nl = 0, total = 1;
	char *out;

	assert_non_null(lines);
	for (size_t i = 0; i < keys->elements; i++) {
		const char *k = keys->element[i]->str;
		redisReply *d = cmd("TYPE %s", k);
		char **parts;
		size_t np = 0, len;
		int hash = strcmp(d->str, "hash") == 0;

		if (strcmp(k, "kt:audit") == 0 ||
		    strncmp(k, "kt:migjob", 9) == 0) {
			freeReplyObject(d);
			continue;
		}
		if (hash || strcmp(d->str, "set") == 0) {
			freeReplyObject(d);
			d = cmd(hash ? "HGETALL %s" : "SMEMBERS %s", k);
		} else {
			freeReplyObject(d);
			d = cmd("GET %s", k);
		}
		parts = calloc(d->elements + 2, sizeof(*parts));
		assert_non_null(parts);
		if (d->type == REDIS_REPLY_STRING) {
			parts[np++] = strdup(d->str);
		} else {
			for (size_t j = 0; j < d->elements; j += hash ? 2 : 1) {
				if (asprintf(&parts[np++], "%s=%s",
					     d->element[j]->str,
					     hash ? d->element[j + 1]->str
						  : "") < 0)
					fail();
			}
		}
		freeReplyObject(d);
		qsort(parts, np, sizeof(*parts), cmp_str);
		len = strlen(k) + 2;
		for (size_t j = 0; j < np; j++)
			len += strlen(parts[j]) + 1;
		lines[nl] = malloc(len + 1);
		assert_non_null(lines[nl]);
		snprintf(lines[nl], len + 1, "%s:", k);
		for (size_t j = 0; j < np; j++) {
			strcat(lines[nl], parts[j]);
			strcat(lines[nl], "|");
			free(parts[j]);
		}
		free(parts);
		total += strlen(lines[nl]) + 1;
		nl++;
	}
	freeReplyObject(keys);
	qsort(lines, nl, sizeof(*lines), cmp_str);
	out = malloc(total);
	assert_non_null(out);
	out[0] = '\0';
	for (size_t i = 0; i < nl; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	return out;
}

static const char UNIT_A[] =
    "{\"n\":1,\"unit\":\"BY:1\",\"org\":{\"legal_name\":\"Acme GmbH\","
    "\"legal_form\":\"GMBH\",\"vat\":\"DE123456788\",\"vat_valid\":\"1\","
    "\"hr_raw\":\"HRB 1234, Amtsgericht Kiel\",\"hr_court\":\"kiel\","
    "\"hr_court_name\":\"Kiel\",\"hr_type\":\"HRB\",\"hr_number\":\"1234\","
    "\"hr_valid\":\"1\",\"street\":\"Holstenstr.\",\"house_number\":\"12\","
    "\"postcode\":\"24103\",\"city\":\"Kiel\",\"country\":\"DE\"},"
    "\"sources\":[\"BY:1\",\"HH:2\"],\"people\":["
    "{\"email\":\"anna@acme.de\",\"name\":\"Anna\",\"email_verified\":\"1\","
    "\"pwhash\":\"$2y$10$abc\",\"legacy\":{\"BY:1\":\"$2y$10$abc\","
    "\"HH:2\":\"{SSHA}xyz\"},\"role\":\"admin\"},"
    "{\"email\":\"ben@acme.de\",\"email_verified\":\"0\","
    "\"role\":\"member\"}]}";

static const char *apply(const char *unit, int dry)
{
	assert_int_equal(
	    DO(kt_migjob_apply(conn, JOB, unit, strlen(unit), dry, CB)), KT_OK);
	return rs("status");
}

/* ---- apply ---------------------------------------------------------- */

static void test_apply_creates(void **state)
{
	char oid[64], anna[64], ben[64], before[256], key[160];
	char *snap1, *snap2;

	assert_string_equal(apply(UNIT_A, 0), "applied");
	assert_string_equal(rs("org"), "create");
	assert_int_equal(ri("people_created"), 2);
	assert_int_equal(ri("members_added"), 2);
	assert_int_equal(ri("sources_added"), 2);
	snprintf(oid, sizeof(oid), "%s", rs("org_id"));
	/* the organisation and every index */
	assert_string_equal(get("HGET kt:org:{%s} legal_name", oid),
			    "Acme GmbH");
	assert_string_equal(get("HGET kt:org:{%s} version", oid), "1");
	assert_string_equal(get("HGET kt:org:{%s} status", oid), "active");
	assert_string_equal(get("GET kt:orgidx:vat:{DE123456788}"), oid);
	assert_string_equal(get("GET kt:orgidx:hr:{kiel|HRB|1234}"), oid);
	assert_string_equal(get("GET kt:orgidx:source:{BY:1}"), oid);
	assert_string_equal(get("GET kt:orgidx:source:{HH:2}"), oid);
	assert_int_equal(num("SCARD kt:org:{%s}:sources", oid), 2);
	/* people: the legacy hashes as exported, one field per source */
	snprintf(anna, sizeof(anna), "%s", get("GET kt:email:{anna@acme.de}"));
	snprintf(ben, sizeof(ben), "%s", get("GET kt:email:{ben@acme.de}"));
	assert_true(anna[0] && ben[0] && strcmp(anna, ben) != 0);
	assert_string_equal(get("HGET kt:person:{%s} pwhash", anna),
			    "$2y$10$abc");
	assert_string_equal(get("HGET kt:person:{%s} legacy_pwhash:BY:1", anna),
			    "$2y$10$abc");
	assert_string_equal(get("HGET kt:person:{%s} legacy_pwhash:HH:2", anna),
			    "{SSHA}xyz");
	assert_string_equal(get("HGET kt:person:{%s} email_verified", anna),
			    "1");
	assert_string_equal(get("HGET kt:person:{%s} email_verified", ben),
			    "0");
	assert_string_equal(get("HGET kt:person:{%s} status", ben), "active");
	assert_string_equal(get("HGET kt:person:{%s}:orgs %s", anna, oid),
			    "admin");
	assert_non_null(strstr(get("HGET kt:org:{%s}:members %s", oid, anna),
			       "\"granted_by\":\"migrate:" JOB "\""));
	/* the account model reads what the migration wrote */
	assert_int_equal(DO(kt_account_person_orgs(conn, anna, CB)), KT_OK);
	assert_int_equal(json_array_size(json_object_get(R.result, "orgs")), 1);
	assert_int_equal(DO(kt_account_org_find(conn, "source", "HH:2", CB)),
			 KT_OK);
	assert_string_equal(rs("id"), oid);
	/* journal, done mark, audit, counters */
	assert_int_equal(num("XLEN kt:migjob:{" JOB "}:journal"), 1);
	snprintf(before, sizeof(before), "%s",
		 get("HGET kt:migjob:{" JOB "}:done BY:1"));
	assert_true(strchr(before, '-') != NULL);
	snprintf(key, sizeof(key), "%s",
		 get("HGET kt:migjob:{" JOB "} "
		     "orgs_created"));
	assert_string_equal(key, "1");
	{
		redisReply *a = cmd("XREVRANGE kt:audit + - COUNT 1");

		assert_int_equal(a->elements, 1);
		assert_string_equal(a->element[0]->element[1]->element[5]->str,
				    "migrate.apply");
		freeReplyObject(a);
	}

	/* again: done, and nothing changes */
	snap1 = snapshot();
	assert_string_equal(apply(UNIT_A, 0), "done");
	assert_string_equal(rs("was"), before);
	snap2 = snapshot();
	assert_string_equal(snap1, snap2);
	free(snap2);
	/* another job with the same data: found by its links, unchanged */
	res_reset();
	assert_int_equal(DO(kt_migjob_apply(conn, "job-other", UNIT_A,
					    strlen(UNIT_A), 0, CB)),
			 KT_OK);
	assert_string_equal(rs("status"), "unchanged");
	assert_string_equal(rs("org"), "unchanged");
	assert_int_equal(ri("people_existing"), 2);
	assert_int_equal(ri("members_same"), 2);
	snap2 = snapshot();
	assert_string_equal(snap1, snap2);
	assert_string_equal(get("HGET kt:migjob:{job-other}:done BY:1"),
			    "unchanged");
	free(snap1);
	free(snap2);
}

static void test_dry_run_writes_nothing(void **state)
{
	long long keys = num("DBSIZE");

	assert_string_equal(apply(UNIT_A, 1), "applied");
	assert_string_equal(rs("org"), "create");
	assert_int_equal(ri("people_created"), 2);
	assert_int_equal(num("DBSIZE"), keys);
}

/* An existing organisation is filled, never overwritten. */
static void test_existing_org(void **state)
{
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "old",
			      "legal_name", "Acme (alt)", "vat", "DE123456789",
			      "vat_valid", "0", "city", "Altstadt");
	json_t *src = json_pack("[s]", "BY:1");
	const char *unit = UNIT_A;
	char entry[4096];

	assert_int_equal(DO(kt_account_org_create(conn, f, src, "admin:x", CB)),
			 KT_OK);
	json_decref(f);
	json_decref(src);
	assert_string_equal(apply(unit, 0), "applied");
	assert_string_equal(rs("org"), "update");
	assert_string_equal(rs("org_id"), "old");
	assert_int_equal(ri("sources_added"), 1);
	/* kept: the name and the address someone entered */
	assert_string_equal(get("HGET kt:org:{old} legal_name"), "Acme (alt)");
	assert_string_equal(get("HGET kt:org:{old} city"), "Altstadt");
	assert_string_equal(get("HGET kt:org:{old} street"), "");
	/* filled: the legal form, the register; replaced: the invalid VAT
	 * id by the valid one */
	assert_string_equal(get("HGET kt:org:{old} legal_form"), "GMBH");
	assert_string_equal(get("HGET kt:org:{old} hr_number"), "1234");
	assert_string_equal(get("HGET kt:org:{old} vat"), "DE123456788");
	assert_string_equal(get("HGET kt:org:{old} vat_valid"), "1");
	assert_string_equal(get("GET kt:orgidx:vat:{DE123456788}"), "old");
	assert_string_equal(get("HGET kt:org:{old} version"), "2");
	assert_string_equal(get("GET kt:orgidx:source:{HH:2}"), "old");
	{
		redisReply *j = cmd("XRANGE kt:migjob:{" JOB "}:journal - +");

		snprintf(entry, sizeof(entry), "%s",
			 j->element[0]->element[1]->element[3]->str);
		freeReplyObject(j);
	}
	assert_non_null(strstr(entry, "\"org_before\":{"));
	assert_non_null(strstr(entry, "\"vat\":\"DE123456789\""));
	assert_non_null(strstr(entry, "\"sources_added\":[\"HH:2\"]"));

	/* rollback restores the old record and takes the new link away */
	{
		redisReply *j = cmd("XRANGE kt:migjob:{" JOB "}:journal - +");
		char id[64];

		snprintf(id, sizeof(id), "%s", j->element[0]->element[0]->str);
		freeReplyObject(j);
		assert_int_equal(
		    DO(kt_migjob_undo(conn, JOB, id, entry, 0, 0, CB)), KT_OK);
		assert_string_equal(rs("status"), "undone");
	}
	assert_string_equal(get("HGET kt:org:{old} vat"), "DE123456789");
	assert_string_equal(get("HGET kt:org:{old} vat_valid"), "0");
	assert_string_equal(get("HGET kt:org:{old} legal_form"), "");
	assert_string_equal(get("HGET kt:org:{old} hr_number"), "");
	assert_string_equal(get("GET kt:orgidx:vat:{DE123456788}"), "");
	assert_string_equal(get("GET kt:orgidx:source:{HH:2}"), "");
	assert_string_equal(get("GET kt:orgidx:source:{BY:1}"), "old");
	assert_string_equal(get("HGET kt:org:{old} version"), "3");
	assert_string_equal(get("GET kt:email:{anna@acme.de}"), "");
	assert_int_equal(num("HLEN kt:org:{old}:members"), 0);
}

/* Found by a valid identifier when no source link is known yet. */
static void test_link_by_identifier(void **state)
{
	json_t *f =
	    json_pack("{s:s, s:s, s:s, s:s}", "id", "byvat", "legal_name",
		      "Acme", "vat", "DE123456788", "vat_valid", "1");

	assert_int_equal(
	    DO(kt_account_org_create(conn, f, NULL, "admin:x", CB)), KT_OK);
	json_decref(f);
	assert_string_equal(apply(UNIT_A, 0), "applied");
	assert_string_equal(rs("org_id"), "byvat");
	assert_string_equal(get("GET kt:orgidx:source:{BY:1}"), "byvat");
	assert_string_equal(get("HGET kt:org:{byvat} city"), "Kiel");
}

/* Links to two organisations: nothing is written, the reason says why. */
static void test_blocked(void **state)
{
	json_t *f = json_pack("{s:s, s:s}", "id", "one", "legal_name", "One");
	json_t *s1 = json_pack("[s]", "BY:1"), *s2 = json_pack("[s]", "HH:2");
	long long keys;

	assert_int_equal(DO(kt_account_org_create(conn, f, s1, "admin:x", CB)),
			 KT_OK);
	json_object_set_new(f, "id", json_string("two"));
	assert_int_equal(DO(kt_account_org_create(conn, f, s2, "admin:x", CB)),
			 KT_OK);
	json_decref(f);
	json_decref(s1);
	json_decref(s2);
	keys = num("DBSIZE");
	assert_string_equal(apply(UNIT_A, 0), "blocked");
	assert_string_equal(rs("reason"),
			    "its records belong to 2 organisations (one, "
			    "two): merge them first (kontor-admin org "
			    "merge), then apply again");
	assert_string_equal(get("HGET kt:migjob:{" JOB "}:done BY:1"),
			    "blocked");
	/* the done mark and the counter, nothing else */
	assert_int_equal(num("DBSIZE"), keys + 2);
	assert_string_equal(get("GET kt:email:{anna@acme.de}"), "");
}

/* Only proved addresses grant a company to an existing account. */
static void test_existing_people(void **state)
{
	json_t *p = json_pack("{s:s, s:s, s:s}", "id", "pa", "email",
			      "anna@acme.de", "email_verified", "1");
	json_t *q = json_pack("{s:s, s:s, s:s}", "id", "pb", "email",
			      "ben@acme.de", "email_verified", "1");
	const char u[] =
	    "{\"n\":1,\"unit\":\"X:1\",\"org\":{\"legal_name\":\"X\"},"
	    "\"sources\":[\"BY:9\"],\"people\":["
	    "{\"email\":\"anna@acme.de\",\"email_verified\":\"1\",\"role\":"
	    "\"member\"},"
	    "{\"email\":\"ben@acme.de\",\"email_verified\":\"0\",\"role\":"
	    "\"admin\"},"
	    "{\"email\":\"carl@acme.de\",\"email_verified\":\"1\",\"role\":"
	    "\"admin\"}]}";
	json_t *sk;

	assert_int_equal(DO(kt_store_person_create(conn, p, CB)), KT_OK);
	assert_int_equal(DO(kt_store_person_create(conn, q, CB)), KT_OK);
	json_decref(p);
	json_decref(q);
	/* carl exists too, but nobody ever proved his address */
	cmd_ok("SET kt:email:{carl@acme.de} pc");
	cmd_ok("HSET kt:person:{pc} id pc email carl@acme.de email_verified 0");
	assert_string_equal(apply(u, 0), "applied");
	assert_int_equal(ri("people_existing"), 1);
	assert_int_equal(ri("people_created"), 0);
	assert_int_equal(ri("members_added"), 1);
	sk = json_object_get(R.result, "skipped");
	assert_int_equal(json_array_size(sk), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(sk, 0), "reason")),
	    "an account with this address exists and the export did not "
	    "verify the address");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(sk, 1), "reason")),
	    "the existing account with this address has not verified it");
	/* an existing person keeps its record: no hashes added */
	assert_string_equal(get("HGET kt:person:{pa} pwhash"), "");
	assert_string_equal(get("HGET kt:person:{pa}:orgs %s",
				get("GET kt:orgidx:source:{BY:9}")),
			    "member");
}

/* Roles: the stronger wins, never a downgrade; an unverified address
 * gets no stronger role either. */
static void test_role_upgrade(void **state)
{
	char *first = NULL, *later = strdup(UNIT_A), *p;
	char oid[64], anna[64];

	/* anna starts as a representative, ben as a member */
	if (asprintf(&first, "%s", UNIT_A) < 0)
		fail();
	{
		const char *from = "\"role\":\"admin\"}";
		const char *to = "\"role\":\"representative\"}";
		char *q = strstr(first, from), *buf;

		assert_non_null(q);
		if (asprintf(&buf, "%.*s%s%s", (int)(q - first), first, to,
			     q + strlen(from)) < 0)
			fail();
		free(first);
		first = buf;
	}
	assert_string_equal(apply(first, 0), "applied");
	snprintf(oid, sizeof(oid), "%s", rs("org_id"));
	snprintf(anna, sizeof(anna), "%s", get("GET kt:email:{anna@acme.de}"));
	assert_string_equal(get("HGET kt:person:{%s}:orgs %s", anna, oid),
			    "representative");
	/* a later job says admin for anna and ben */
	p = strstr(later, "\"role\":\"member\"");
	memcpy(p, "\"role\":\"admin\" ", 15);
	res_reset();
	assert_int_equal(
	    DO(kt_migjob_apply(conn, "job-later", later, strlen(later), 0, CB)),
	    KT_OK);
	assert_int_equal(ri("members_upgraded"), 1);
	assert_int_equal(json_array_size(json_object_get(R.result, "skipped")),
			 1);
	assert_string_equal(get("HGET kt:person:{%s}:orgs %s", anna, oid),
			    "admin");
	assert_string_equal(get("HGET kt:person:{%s}:orgs %s",
				get("GET kt:email:{ben@acme.de}"), oid),
			    "member");
	/* and back to representative: no downgrade */
	res_reset();
	assert_int_equal(
	    DO(kt_migjob_apply(conn, "job-third", first, strlen(first), 0, CB)),
	    KT_OK);
	assert_string_equal(rs("status"), "unchanged");
	assert_string_equal(get("HGET kt:person:{%s}:orgs %s", anna, oid),
			    "admin");
	free(first);
	free(later);
}

/* ---- rollback ------------------------------------------------------- */

/* The newest journal entry of JOB: id and text. */
static void last_entry(char *id, size_t idcap, char *entry, size_t cap)
{
	assert_int_equal(DO(kt_migjob_journal(conn, JOB, "+", 10, CB)), KT_OK);
	{
		json_t *e =
		    json_array_get(json_object_get(R.result, "entries"), 0);

		assert_non_null(e);
		snprintf(id, idcap, "%s",
			 json_string_value(json_object_get(e, "id")));
		snprintf(entry, cap, "%s",
			 json_string_value(json_object_get(e, "entry")));
	}
}

static void undo_refused(const char *id, const char *entry, const char *why)
{
	json_t *pr;
	size_t i;
	int found = 0;

	assert_int_equal(DO(kt_migjob_undo(conn, JOB, id, entry, 0, 0, CB)),
			 KT_OK);
	assert_string_equal(rs("status"), "refused");
	json_array_foreach(json_object_get(R.result, "problems"), i, pr)
	{
		if (strstr(json_string_value(pr), why) != NULL)
			found = 1;
	}
	if (!found)
		fail_msg("no problem '%s' in %s", why, json_dumps(R.result, 0));
}

static void test_rollback(void **state)
{
	char id[64], entry[8192], anna[64], oid[64];
	char *snap0 = snapshot(), *snap;

	assert_string_equal(apply(UNIT_A, 0), "applied");
	snprintf(oid, sizeof(oid), "%s", rs("org_id"));
	snprintf(anna, sizeof(anna), "%s", get("GET kt:email:{anna@acme.de}"));
	last_entry(id, sizeof(id), entry, sizeof(entry));

	/* a check changes nothing */
	snap = snapshot();
	assert_int_equal(DO(kt_migjob_undo(conn, JOB, id, entry, 1, 0, CB)),
			 KT_OK);
	assert_string_equal(rs("status"), "ok");
	{
		char *s2 = snapshot();

		assert_string_equal(snap, s2);
		free(s2);
	}
	free(snap);

	/* every kind of later change refuses, and nothing is undone */
	cmd_ok("HSET kt:person:{%s} pwhash $scrypt$upgraded", anna);
	undo_refused(id, entry,
		     "person anna@acme.de was changed since the job");
	cmd_ok("HSET kt:person:{%s} pwhash $2y$10$abc", anna);
	cmd_ok("SADD kt:person:{%s}:sessions s1", anna);
	undo_refused(id, entry,
		     "person anna@acme.de has signed in since the "
		     "job");
	cmd_ok("DEL kt:person:{%s}:sessions", anna);
	cmd_ok("HSET kt:org:{%s} city Lübeck", oid);
	undo_refused(id, entry, "was changed since the job (now version 1)");
	cmd_ok("HSET kt:org:{%s} city Kiel", oid);
	assert_int_equal(DO(kt_account_member_set(
			     conn, oid, get("GET kt:email:{ben@acme.de}"),
			     "admin", "admin:x", CB)),
			 KT_OK);
	undo_refused(id, entry, "the membership of person");
	/* put back exactly what the job wrote */
	{
		redisReply *j = cmd("HGET kt:migjob:{" JOB "}:done BY:1");
		json_t *e = json_loads(entry, 0, NULL);
		size_t i;
		json_t *m;

		freeReplyObject(j);
		json_array_foreach(json_object_get(e, "members"), i, m)
		{
			cmd_ok("HSET kt:org:{%s}:members %s %s", oid,
			    json_string_value(json_object_get(m, "person")),
			    json_string_value(json_object_get(m, "json")));
		}
		json_decref(e);
	}
	cmd_ok("HSET kt:org:{%s}:members stranger {}", oid);
	undo_refused(id, entry, "has a member the job did not add (stranger)");
	cmd_ok("HDEL kt:org:{%s}:members stranger", oid);

	/* now it goes: back to the state before the job */
	assert_int_equal(DO(kt_migjob_undo(conn, JOB, id, entry, 0, 0, CB)),
			 KT_OK);
	assert_string_equal(rs("status"), "undone");
	snap = snapshot();
	assert_string_equal(snap0, snap);
	free(snap);
	assert_string_equal(get("HGET kt:migjob:{" JOB "}:done BY:1"), "");
	/* twice: gone */
	assert_int_equal(DO(kt_migjob_undo(conn, JOB, id, entry, 0, 0, CB)),
			 KT_OK);
	assert_string_equal(rs("status"), "gone");
	/* and the job can be applied again */
	assert_string_equal(apply(UNIT_A, 0), "applied");
	free(snap0);
}

/* ---- job bookkeeping ------------------------------------------------ */

static void test_job(void **state)
{
	assert_int_equal(
	    DO(kt_migjob_begin(conn, JOB, "d1", 10, "p.jsonl", CB)), KT_OK);
	assert_int_equal(ri("checkpoint"), 0);
	assert_int_equal(ri("resumed"), 0);
	assert_int_equal(DO(kt_migjob_checkpoint(conn, JOB, 5, CB)), KT_OK);
	assert_int_equal(DO(kt_migjob_checkpoint(conn, JOB, 3, CB)), KT_OK);
	assert_int_equal(ri("checkpoint"), 5);
	assert_int_equal(
	    DO(kt_migjob_begin(conn, JOB, "d1", 10, "p.jsonl", CB)), KT_OK);
	assert_int_equal(ri("checkpoint"), 5);
	assert_int_equal(ri("resumed"), 1);
	assert_int_equal(
	    DO(kt_migjob_begin(conn, JOB, "d2", 10, "p.jsonl", CB)),
	    KT_ERR_CONFLICT);
	assert_string_equal(rs("error"),
			    "job " JOB " exists with another plan");
	assert_int_equal(DO(kt_migjob_set_status(conn, JOB, "rolled_back", CB)),
			 KT_OK);
	assert_string_equal(get("HGET kt:migjob:{" JOB "} checkpoint"), "0");
	assert_int_equal(DO(kt_migjob_list(conn, CB)), KT_OK);
	assert_int_equal(json_array_size(json_object_get(R.result, "jobs")), 1);
	assert_int_equal(DO(kt_migjob_get(conn, JOB, CB)), KT_OK);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(R.result, "job"), "status")),
			    "rolled_back");
	assert_int_equal(DO(kt_migjob_get(conn, "job-none", CB)),
			 KT_ERR_NOTFOUND);
	assert_string_equal(rs("error"), "no job job-none");
	/* refused up front */
	assert_int_equal(kt_migjob_get(conn, "JOB-1", CB), KT_ERR_INVALID);
	assert_int_equal(kt_migjob_get(conn, "job-{x}", CB), KT_ERR_INVALID);
	assert_int_equal(kt_migjob_journal(conn, JOB, "x", 10, CB),
			 KT_ERR_INVALID);
	assert_int_equal(kt_migjob_journal(conn, JOB, "+", 0, CB),
			 KT_ERR_INVALID);
	assert_int_equal(kt_migjob_undo(conn, JOB, "bad", "{}", 0, 0, CB),
			 KT_ERR_INVALID);
	assert_int_equal(kt_migjob_apply(conn, JOB, "{", 1, 0, CB),
			 KT_ERR_INVALID);
}

/* Redis forgot the scripts (restart, SCRIPT FLUSH): EVAL once instead. */
static void test_noscript(void **state)
{
	assert_string_equal(apply(UNIT_A, 1), "applied");
	cmd_ok("SCRIPT FLUSH");
	assert_string_equal(apply(UNIT_A, 0), "applied");
	assert_string_equal(apply(UNIT_A, 0), "done");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_apply_creates, setup),
	    cmocka_unit_test_setup(test_dry_run_writes_nothing, setup),
	    cmocka_unit_test_setup(test_existing_org, setup),
	    cmocka_unit_test_setup(test_link_by_identifier, setup),
	    cmocka_unit_test_setup(test_blocked, setup),
	    cmocka_unit_test_setup(test_existing_people, setup),
	    cmocka_unit_test_setup(test_role_upgrade, setup),
	    cmocka_unit_test_setup(test_rollback, setup),
	    cmocka_unit_test_setup(test_job, setup),
	    cmocka_unit_test_setup(test_noscript, setup),
	};

	test_redis_require("test_migjob");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
