#ifndef KONTOR_PLAN_H
#define KONTOR_PLAN_H

/*
 * The migration plan: what `kontor-migrate apply` writes, one unit (one
 * organisation with its source links, people and memberships) per line,
 * after a header line (docs/migration.md, "Plan file"):
 *
 *   {"kontor_migrate_plan": 1, "job": "job-3f2a9c1b7e04", "units": N,
 *    "digest": "<sha256 of the unit lines>", "summary": {...}}
 *   {"n": 1, "unit": "BY:100234", "org": {...}, "sources": [...], ...}
 *
 * The job id is derived from the digest, so planning the same inputs gives
 * the same job, and applying it twice changes nothing the second time. The
 * digest also catches a truncated or edited file before anything is
 * written. Plans hold legacy password hashes: mode 0600.
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/merge.h"
#include "kontor/progress.h"

#define KT_PLAN_JOB_MAX 64
#define KT_PLAN_LINE_MAX (4 * 1024 * 1024)

/* ---- building a plan from the stages before ------------------------- */

/*
 * Read clusters.csv (id,cluster; kontor-migrate match) and records.jsonl
 * and merge them by the rules. Every record must be in clusters.csv and
 * every id of clusters.csv in the records ("BY:7 is not in clusters.csv:
 * was match run on these records?"). progress (may be NULL) advances by
 * bytes of records read. Caller frees *out with kt_merge_free.
 */
int kt_plan_build(const char *records_path, const char *clusters_path,
		  const struct kt_merge_rules *rules,
		  struct kt_progress *progress, struct kt_merge **out,
		  struct kt_error *err);

/*
 * Write the plan of m to path (through a temporary file, renamed at the
 * end; mode 0600). header_extra (may be NULL) is merged into the header.
 * job gets the job id.
 */
int kt_plan_write(const char *path, const struct kt_merge *m,
		  json_t *header_extra, char job[KT_PLAN_JOB_MAX],
		  struct kt_error *err);

/* ---- reading a plan ------------------------------------------------- */

struct kt_plan;

/*
 * Open a plan: reads and checks the header, then every unit line against
 * the digest and the unit format (kt_plan_unit_check), and rewinds to the
 * first unit. Errors: "plan.jsonl:1: not a kontor-migrate plan",
 * "plan.jsonl: the units do not match the header's digest (file edited or
 * truncated?)", "plan.jsonl:17: .people[0].role: ...".
 */
int kt_plan_open(const char *path, struct kt_plan **out, struct kt_error *err);
void kt_plan_close(struct kt_plan *p);

const char *kt_plan_job(const struct kt_plan *p);
uint64_t kt_plan_units(const struct kt_plan *p);
/* The header object (borrowed). */
json_t *kt_plan_header(const struct kt_plan *p);

/*
 * The next unit: 1 with its line (without the newline, valid until the next
 * call) and its number n (1-based), 0 at the end, <0 on error.
 */
int kt_plan_next(struct kt_plan *p, const char **line, size_t *len, uint64_t *n,
		 struct kt_error *err);
/* Skip to the unit after n (units 1..n are not returned again). */
int kt_plan_seek(struct kt_plan *p, uint64_t n, struct kt_error *err);

/*
 * Check one unit object: keys and types, org fields the account model
 * accepts, source links "LAND:id", people with a valid e-mail address,
 * "0"/"1" verification, a known role. "<path>: reason" in err.
 */
int kt_plan_unit_check(json_t *unit, struct kt_error *err);

#endif
