#ifndef KONTOR_MIGJOB_H
#define KONTOR_MIGJOB_H

/*
 * Migration jobs in the store: applying a plan's units (kontor/plan.h) to
 * the company-account model, the job's journal, and rolling a job back
 * (docs/migration.md, "Apply, resume, rollback"; keys in
 * docs/data-model.md).
 *
 * A unit (one organisation, its source links, people and memberships) is
 * written by one Lua script together with its journal entry and its "done"
 * mark, so a unit is either wholly applied and journalled or not at all:
 * a killed run resumes without duplicates, and applying a job again finds
 * every unit done and changes nothing. Existing accounts are only added to
 * (empty fields filled, a valid identifier replacing an invalid one, new
 * source links, people and memberships, stronger roles), never
 * overwritten, so edits made in the meantime survive a migration.
 *
 * Keys (standalone Redis, like the account model):
 *   kt:migjob:{<job>}          HASH   meta data and counters
 *   kt:migjob:{<job>}:done     HASH   unit -> journal entry id |
 *                                     "unchanged" | "blocked"
 *   kt:migjob:{<job>}:journal  STREAM one entry per unit that changed
 *                                     something: what to undo
 *   kt:migjobs                 ZSET   job ids by creation time
 *
 * Every function follows kt_store's contract (kontor/store.h): the
 * callback runs exactly once unless the function returns an error.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kontor/redis.h"
#include "kontor/store.h"

#define KT_MIGJOB_ID_MAX 64

/* 1 if job is a job id: "job-" and 1 to 60 of [a-z0-9-]. */
int kt_migjob_id_ok(const char *job);

/*
 * Start (or resume) a job. If the job exists it must have the same plan
 * digest (KT_ERR_CONFLICT otherwise). result: {"job", "status",
 * "checkpoint" (units known done, 0..units), "resumed" (0/1)}.
 */
int kt_migjob_begin(struct kt_redis *r, const char *job, const char *digest,
		    uint64_t units, const char *plan_path, kt_store_cb *cb,
		    void *arg);

/*
 * Apply one unit (a plan line, checked with kt_plan_unit_check). dry: only
 * say what would happen (nothing is written). result:
 *   {"status": "applied" | "unchanged" | "blocked" | "done" (an earlier
 *    run applied it),
 *    "org": "create" | "update" | "unchanged" | "blocked", "org_id",
 *    "reason" (blocked), "sources_added", "people_created",
 *    "people_existing", "members_added", "members_upgraded",
 *    "members_same", "skipped": [{"email", "reason"}]}
 */
int kt_migjob_apply(struct kt_redis *r, const char *job, const char *unit,
		    size_t len, int dry, kt_store_cb *cb, void *arg);

/* Record that units 1..n are done (only ever raises the checkpoint). */
int kt_migjob_checkpoint(struct kt_redis *r, const char *job, uint64_t n,
			 kt_store_cb *cb, void *arg);

/* Set the job's status ("applied", "rolled_back", ...). */
int kt_migjob_set_status(struct kt_redis *r, const char *job,
			 const char *status, kt_store_cb *cb, void *arg);

/* The job: {"job": {meta and counters}, "done": n, "journal": n};
 * KT_ERR_NOTFOUND for an unknown job. */
int kt_migjob_get(struct kt_redis *r, const char *job, kt_store_cb *cb,
		  void *arg);

/* Jobs, newest first: {"jobs": [{"job", "status", "created_at",
 * "units", ...}]} (at most 100). */
int kt_migjob_list(struct kt_redis *r, kt_store_cb *cb, void *arg);

/*
 * Journal entries newest first, older than entry id before ("+": from the
 * newest), at most count (1..1000): {"entries": [{"id", "unit",
 * "entry"}]}, entry being the JSON text of what the unit changed.
 */
int kt_migjob_journal(struct kt_redis *r, const char *job, const char *before,
		      unsigned count, kt_store_cb *cb, void *arg);

/*
 * Undo one journal entry (id, entry as returned by kt_migjob_journal).
 * Refused - with every reason, nothing changed - when a later change would
 * be overwritten: the organisation or a person changed since, a person has
 * signed in, a membership was changed, the organisation got members or
 * links the job did not add. check: only check. touched_later: a newer
 * entry of the same job changed the same organisation (its own check
 * covers the organisation; used by check runs, which undo nothing).
 * result: {"status": "undone" | "ok" (check) | "refused" | "gone"
 * (already rolled back), "problems": [...]}.
 */
int kt_migjob_undo(struct kt_redis *r, const char *job, const char *id,
		   const char *entry, int check, int touched_later,
		   kt_store_cb *cb, void *arg);

#endif
