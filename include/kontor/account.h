#ifndef KONTOR_ACCOUNT_H
#define KONTOR_ACCOUNT_H

/*
 * The company-account model in Redis, shared by kontor-idp, kontor-admin and
 * kontor-migrate: organisations (the unified company accounts), memberships
 * of people in them, invitations, and the audit stream.
 *
 * Every change is one Lua script: the account's data, its identifier
 * indexes and the audit entry change together or not at all, so no reader
 * ever sees a half-written account. Each account's own keys share one hash
 * tag ({<org id>} or {<person id>}); the global indexes (identifiers, source
 * links) and the audit stream are separate keys, see docs/data-model.md for
 * what that means on a Redis Cluster.
 *
 * Organisation records are JSON objects of strings with these fields:
 *   id, legal_name, legal_form, vat, vat_valid, taxno, taxno_valid,
 *   hr_raw, hr_court, hr_court_name, hr_type, hr_number, hr_valid,
 *   wid, wid_valid,
 *   street, house_number, postcode, city, country,
 *   status ("active" | "suspended" | "merged"), merged_into,
 *   created_at, updated_at, version
 * *_valid is "1" when the identifier passed its check (kt_ident_*); only
 * valid identifiers are indexed and only they prove identity. id (on
 * create), version, created_at, updated_at, merged_into and resolved_from
 * belong to the model and cannot be set by callers; status can be set to
 * "active" or "suspended" only ("merged" is kt_account_org_merge's). A
 * merged organisation is read-only.
 *
 * All functions follow kt_store's contract (kontor/store.h): the callback
 * runs exactly once unless the function itself returns an error. Errors:
 * KT_ERR_NOTFOUND, KT_ERR_CONFLICT (identifier already taken, version
 * mismatch, duplicate), KT_ERR_INVALID (bad field or state); the result then
 * holds {"error": "<message>"}.
 */

#include <stdint.h>

#include <jansson.h>

#include "kontor/redis.h"
#include "kontor/store.h"

#define KT_ORG_ROLE_ADMIN "admin"
#define KT_ORG_ROLE_MEMBER "member"
#define KT_ORG_ROLE_REPRESENTATIVE "representative"

/* 1 if s is one of the three roles. */
int kt_account_role_ok(const char *s);

/*
 * Create an organisation from fields (strings; id generated unless given).
 * Valid identifiers are claimed in their indexes; a taken one is
 * KT_ERR_CONFLICT naming the owner. sources: JSON array of "LAND:legacy-id"
 * strings (may be NULL). actor: who does it (for the audit stream).
 * result: the created organisation.
 */
int kt_account_org_create(struct kt_redis *r, json_t *fields, json_t *sources,
			  const char *actor, kt_store_cb *cb, void *arg);

/* The organisation, following "merged" links to the survivor; result gets
 * "resolved_from" when a link was followed. */
int kt_account_org_get(struct kt_redis *r, const char *oid, kt_store_cb *cb,
		       void *arg);

/*
 * Change fields (strings; "" deletes) if the stored version equals
 * expected_version (0: no check). Identifier indexes follow the change; an
 * identifier changed without its *_valid flag gets "0" (not indexed).
 * result: the updated organisation. A stale version is KT_ERR_CONFLICT:
 * optimistic concurrency, no lost update. An update that changes nothing
 * writes nothing (no new version, no audit entry); its result is the
 * stored organisation plus "unchanged": "1".
 */
int kt_account_org_update(struct kt_redis *r, const char *oid,
			  int64_t expected_version, json_t *fields,
			  const char *actor, kt_store_cb *cb, void *arg);

/* Suspend or reactivate (status "suspended" or "active"): an update with
 * its own audit action, org.suspend or org.activate. */
int kt_account_org_set_status(struct kt_redis *r, const char *oid,
			      const char *status, const char *actor,
			      kt_store_cb *cb, void *arg);

/* Find by identifier: kind is "vat", "hr" (value "court|type|number"),
 * "taxno", "wid", "source" ("LAND:legacy-id") or "id". */
int kt_account_org_find(struct kt_redis *r, const char *kind,
			const char *value, kt_store_cb *cb, void *arg);

/*
 * Mark loser as merged into survivor: its memberships and source links move
 * to the survivor (roles combined, the stronger wins), lookups of loser
 * resolve to survivor from then on.
 */
int kt_account_org_merge(struct kt_redis *r, const char *loser,
			 const char *survivor, const char *actor,
			 kt_store_cb *cb, void *arg);

/* Add a source link "LAND:legacy-id" (KT_ERR_CONFLICT if it points
 * elsewhere; adding an existing link changes nothing). */
int kt_account_source_add(struct kt_redis *r, const char *oid,
			  const char *source, const char *actor,
			  kt_store_cb *cb, void *arg);

/* The source links, merged ids resolved: {"org": id, "sources": [sorted]} */
int kt_account_org_sources(struct kt_redis *r, const char *oid,
			   kt_store_cb *cb, void *arg);

/*
 * Person source links ("LAND:subject"): a legacy login of this person,
 * written by the migration or by federation linking. find returns the
 * person record (KT_ERR_NOTFOUND if none).
 */
int kt_account_person_source_add(struct kt_redis *r, const char *person,
				 const char *source, const char *actor,
				 kt_store_cb *cb, void *arg);
int kt_account_person_find_source(struct kt_redis *r, const char *source,
				  kt_store_cb *cb, void *arg);

/*
 * Memberships. set creates or changes a role; add only creates
 * (KT_ERR_CONFLICT naming the current role if the person is a member);
 * change only changes (KT_ERR_NOTFOUND if not a member). remove deletes.
 * Demoting or removing the last admin of an active organisation is
 * refused: KT_ERR_DENIED. result: {"role","granted_by","granted_at"}.
 */
int kt_account_member_set(struct kt_redis *r, const char *oid,
			  const char *person, const char *role,
			  const char *actor, kt_store_cb *cb, void *arg);
int kt_account_member_add(struct kt_redis *r, const char *oid,
			  const char *person, const char *role,
			  const char *actor, kt_store_cb *cb, void *arg);
int kt_account_member_change(struct kt_redis *r, const char *oid,
			     const char *person, const char *role,
			     const char *actor, kt_store_cb *cb, void *arg);
int kt_account_member_remove(struct kt_redis *r, const char *oid,
			     const char *person, const char *actor,
			     kt_store_cb *cb, void *arg);

/* result: {"members": [{"person","email","name","role","granted_by",
 * "granted_at"}...]} */
int kt_account_org_members(struct kt_redis *r, const char *oid,
			   kt_store_cb *cb, void *arg);

/*
 * The organisations a person may act for: result {"orgs": [org fields +
 * "role"]}, merged ones resolved, verified against each organisation's own
 * member list. Suspended organisations are included with their status; the
 * caller decides.
 */
int kt_account_person_orgs(struct kt_redis *r, const char *person,
			   kt_store_cb *cb, void *arg);

/* The organisation a person last chose for a client (result {"org": id}). */
int kt_account_last_org_get(struct kt_redis *r, const char *person,
			    const char *client_id, kt_store_cb *cb, void *arg);
int kt_account_last_org_set(struct kt_redis *r, const char *person,
			    const char *client_id, const char *oid);

/*
 * Person changes that are audited: fields (strings; "" deletes) on the
 * person record, e.g. pwhash, totp, status, name.
 */
int kt_account_person_update(struct kt_redis *r, const char *person,
			     json_t *fields, const char *actor,
			     const char *action, kt_store_cb *cb, void *arg);

/*
 * Invitations: a single-use token (only its hash is stored) for email to
 * join oid with role, valid ttl seconds. take deletes it and returns it.
 */
int kt_account_invite_create(struct kt_redis *r, const char *token_hash,
			     const char *oid, const char *email,
			     const char *role, const char *actor, int64_t ttl,
			     kt_store_cb *cb, void *arg);
int kt_account_invite_take(struct kt_redis *r, const char *token_hash,
			   kt_store_cb *cb, void *arg);

/*
 * The audit stream: newest first, at most count entries, each {"id","time",
 * "actor","action","object","before","after"} (before/after are SHA-1
 * digests of the object's JSON; "" when absent). An entry may be appended
 * directly by tools (kt_account_audit_add) for actions outside this module.
 */
int kt_account_audit_tail(struct kt_redis *r, unsigned count,
			  kt_store_cb *cb, void *arg);
/* Paging: entries older than stream id before (newest first), or newer
 * than after (oldest first; "0" = from the start), at most count (1..4000)
 * each. Ids are "<ms>" or "<ms>-<seq>": KT_ERR_INVALID otherwise. */
int kt_account_audit_page(struct kt_redis *r, const char *before,
			  unsigned count, kt_store_cb *cb, void *arg);
int kt_account_audit_since(struct kt_redis *r, const char *after,
			   unsigned count, kt_store_cb *cb, void *arg);
int kt_account_audit_add(struct kt_redis *r, const char *actor,
			 const char *action, const char *object,
			 kt_store_cb *cb, void *arg);

/* Sessions of a person (result {"sessions": [session fields + "sid"]},
 * newest first); expired ones are pruned from the index on the way. The
 * index (kt:person:{<id>}:sessions) is written by kt_store_session_create. */
int kt_account_person_sessions(struct kt_redis *r, const char *person,
			       kt_store_cb *cb, void *arg);

/*
 * End a browser session (audited as session.revoke; result {"sid",
 * "person"}; KT_ERR_NOTFOUND if it does not exist), or every session of a
 * person (session.revoke_all when there was one; result {"person",
 * "revoked": n}). Tokens already issued stay valid until they expire or
 * are revoked; this ends single sign-on, as a logout does.
 */
int kt_account_session_revoke(struct kt_redis *r, const char *sid,
			      const char *actor, kt_store_cb *cb, void *arg);
int kt_account_person_sessions_revoke(struct kt_redis *r, const char *person,
				      const char *actor, kt_store_cb *cb,
				      void *arg);

#endif
