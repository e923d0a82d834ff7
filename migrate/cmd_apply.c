/*
 * kontor-migrate apply | rollback | status: the plan into the store and
 * back out again, through kontor/migjob.h. Writes go out in pipelined
 * batches (one atomic script per unit); after each batch the checkpoint
 * moves on, so a killed run resumes where it stopped, and the scripts'
 * "done" marks make sure nothing is written twice.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kontor/cli.h"
#include "kontor/migjob.h"
#include "kontor/plan.h"
#include "kontor/strmap.h"
#include "kontor/util.h"

#include "migrate.h"

#define DEFAULT_BATCH 200
#define JOURNAL_PAGE 100

/* Options every store command takes. */
struct sopts {
	const char *config;
	unsigned batch;
	double rate;
	int json;
	enum kt_progress_mode progress;
	const char *report;
	int dry, partial;
};

static int get_sopt(const char *cmd, int c, const char *arg, struct sopts *o)
{
	uint64_t v;

	switch (c) {
	case 'C':
		o->config = arg;
		return 0;
	case 'b':
		if (kt_parse_uint(arg, KT_MIGRATE_BATCH_MAX, &v) != KT_OK ||
		    v == 0)
			return kt_migrate_usage(cmd, "--batch: a number from 1 "
						     "to 1000");
		o->batch = (unsigned)v;
		return 0;
	case 'R':
		if (kt_parse_uint(arg, 1000000, &v) != KT_OK || v == 0)
			return kt_migrate_usage(cmd,
						"--rate: units per second, "
						"1 to 1000000");
		o->rate = (double)v;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	case 'P':
		if (kt_migrate_parse_progress(arg, &o->progress) != 0)
			return kt_migrate_usage(cmd, "--progress: auto, bar, "
						     "plain or none");
		return 0;
	case 'r':
		o->report = arg;
		return 0;
	case 'd':
		o->dry = 1;
		return 0;
	case 'p':
		o->partial = 1;
		return 0;
	default:
		return KT_MIGRATE_EXIT_USAGE;
	}
}

static int open_store(const char *cmd, const struct sopts *o,
		      struct kt_cli **cli)
{
	struct kt_error err;

	if (kt_cli_open(o->config, cli, &err) != KT_OK)
		return kt_migrate_fail(cmd, err.msg);
	/* SIGINT/SIGTERM stop between batches, through the loop */
	kt_cli_sleep(*cli, 0);
	return 0;
}

/* One synchronous store call; the message on failure. */
static int call(struct kt_cli *cli, int start, json_t **res, char *msg,
		size_t cap)
{
	int rc = kt_cli_run(cli, start, res);

	if (rc != KT_OK)
		snprintf(msg, cap, "%s",
			 kt_str_or(json_string_value(json_object_get(
				       res ? *res : NULL, "error")),
				   kt_strerror(rc)));
	return rc;
}

/* Wait so that done units took at least done/rate seconds; 1 if a signal
 * asked us to stop. */
static int pace(struct kt_cli *cli, double rate, double t0, uint64_t done)
{
	int ms = 0;

	if (rate > 0) {
		double due = t0 + (double)done / rate - kt_migrate_now();

		if (due > 0)
			ms = (int)(due * 1000);
	}
	return kt_cli_sleep(cli, ms);
}

/* ---- apply ---------------------------------------------------------- */

static void apply_usage(FILE *out)
{
	fputs(
	    "Usage: kontor-migrate apply --plan PLAN.jsonl [options]\n"
	    "\n"
	    "Writes the plan's units into the store, each unit (an\n"
	    "organisation, its source links, people and memberships) in one\n"
	    "atomic step with its journal entry. Existing accounts are only\n"
	    "added to, never overwritten. A second run of the same plan\n"
	    "changes nothing; a killed run resumes from its checkpoint.\n"
	    "Undo with 'kontor-migrate rollback JOB'.\n"
	    "\n"
	    "  --plan FILE        the plan (kontor-migrate plan)\n"
	    "  --config FILE      gateway configuration: the store (or\n"
	    "                     KONTOR_REDIS_URL)\n"
	    "  --batch N          units per pipelined batch (default 200)\n"
	    "  --rate N           at most N units per second (spares a "
	    "store that\n"
	    "                     serves logins meanwhile)\n"
	    "  --report FILE      blocked units and people not added (CSV)\n"
	    "  --json             summary as JSON on standard output\n"
	    "  --progress MODE    auto, bar, plain or none\n"
	    "\n"
	    "Exit status: 0 applied (blocked units are reported, not an\n"
	    "error), 1 failed or interrupted (run again to resume), 2 usage.\n",
	    out);
}

static const char *const apply_counts[] = {
    "units_applied",	"units_unchanged",
    "units_blocked",	"units_done",
    "orgs_created",	"orgs_updated",
    "sources_added",	"people_created",
    "people_existing",	"members_added",
    "members_upgraded", "contacts_skipped",
    "person_links",	NULL};

static void csv(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', f);
		putc(*s, f);
	}
	putc('"', f);
}

static void report_unit(FILE *f, const struct kt_migrate_slot *s)
{
	const char *st = json_string_value(json_object_get(s->res, "status"));
	const char *unit = json_string_value(json_object_get(s->res, "unit"));
	json_t *v;
	size_t i;

	if (f == NULL || unit == NULL)
		return;
	if (st != NULL && strcmp(st, "blocked") == 0) {
		fprintf(f, "%llu,", (unsigned long long)s->n);
		csv(f, unit);
		fputs(",blocked,,", f);
		csv(f, kt_str_or(
			   json_string_value(json_object_get(s->res, "reason")),
			   ""));
		putc('\n', f);
	}
	json_array_foreach(json_object_get(s->res, "skipped"), i, v)
	{
		fprintf(f, "%llu,", (unsigned long long)s->n);
		csv(f, unit);
		fputs(",person not added,", f);
		csv(f, kt_str_or(json_string_value(json_object_get(v, "email")),
				 ""));
		putc(',', f);
		csv(f,
		    kt_str_or(json_string_value(json_object_get(v, "reason")),
			      ""));
		putc('\n', f);
	}
	json_array_foreach(json_object_get(s->res, "notes"), i, v)
	{
		fprintf(f, "%llu,", (unsigned long long)s->n);
		csv(f, unit);
		fputs(",note,,", f);
		csv(f, kt_str_or(json_string_value(v), ""));
		putc('\n', f);
	}
}

static void print_apply(json_t *sum)
{
	json_t *r = json_object_get(sum, "run"),
	       *t = json_object_get(sum, "job");

#define G(o, k) ((long long)json_integer_value(json_object_get((o), (k))))
	printf("apply %s (%s): %lld units of %lld in this run, %.1f s (%.0f "
	       "units/s)\n",
	       json_string_value(json_object_get(sum, "job_id")),
	       json_string_value(json_object_get(sum, "status")),
	       G(sum, "units_this_run"), G(sum, "units"),
	       json_real_value(json_object_get(sum, "seconds")),
	       json_real_value(json_object_get(sum, "units_per_second")));
	printf("  this run: %lld applied, %lld unchanged, %lld blocked, %lld "
	       "done before; organisations %lld created, %lld updated; "
	       "people %lld created, %lld existing; memberships %lld added, "
	       "%lld upgraded; %lld people not added; %lld legacy logins "
	       "linked\n",
	       G(r, "units_applied"), G(r, "units_unchanged"),
	       G(r, "units_blocked"), G(r, "units_done"), G(r, "orgs_created"),
	       G(r, "orgs_updated"), G(r, "people_created"),
	       G(r, "people_existing"), G(r, "members_added"),
	       G(r, "members_upgraded"), G(r, "contacts_skipped"),
	       G(r, "person_links"));
	if (t != NULL)
		printf("  job total: checkpoint %lld of %lld; organisations "
		       "%lld created, %lld updated; people %lld created; "
		       "memberships %lld added; %lld units blocked\n",
		       (long long)strtoll(
			   kt_str_or(json_string_value(
					 json_object_get(t, "checkpoint")),
				     "0"),
			   NULL, 10),
		       G(sum, "units"),
		       (long long)strtoll(
			   kt_str_or(json_string_value(
					 json_object_get(t, "orgs_created")),
				     "0"),
			   NULL, 10),
		       (long long)strtoll(
			   kt_str_or(json_string_value(
					 json_object_get(t, "orgs_updated")),
				     "0"),
			   NULL, 10),
		       (long long)strtoll(
			   kt_str_or(json_string_value(
					 json_object_get(t, "people_created")),
				     "0"),
			   NULL, 10),
		       (long long)strtoll(
			   kt_str_or(json_string_value(
					 json_object_get(t, "members_added")),
				     "0"),
			   NULL, 10),
		       (long long)strtoll(
			   kt_str_or(json_string_value(
					 json_object_get(t, "units_blocked")),
				     "0"),
			   NULL, 10));
	if (G(r, "units_blocked") > 0 || G(r, "contacts_skipped") > 0)
		printf(
		    "  see %s for the blocked units and the people not "
		    "added\n",
		    kt_str_or(json_string_value(json_object_get(sum, "report")),
			      "--report FILE"));
#undef G
}

int kt_migrate_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"plan", required_argument, NULL, 'f'},
	    {"config", required_argument, NULL, 'C'},
	    {"batch", required_argument, NULL, 'b'},
	    {"rate", required_argument, NULL, 'R'},
	    {"report", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"progress", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sopts o = {.batch = DEFAULT_BATCH};
	struct kt_migrate_slot *slots = NULL;
	struct kt_plan *p = NULL;
	struct kt_cli *cli = NULL;
	struct kt_progress *prog = NULL;
	struct kt_error err;
	const char *plan_path = NULL, *status = "applied";
	json_t *res = NULL, *run = json_object(), *sum = NULL;
	FILE *report = NULL;
	uint64_t checkpoint = 0, this_run = 0;
	double t0 = kt_migrate_now();
	char msg[KT_ERROR_MSG_MAX] = "";
	int c, rc = 1, failed = 0, stopped = 0;

	kt_migrate_parse_progress("auto", &o.progress);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'h') {
			apply_usage(stdout);
			rc = 0;
			goto cleanup;
		}
		if (c == 'f') {
			plan_path = optarg;
			continue;
		}
		if (c == '?' || (rc = get_sopt("apply", c, optarg, &o)) != 0) {
			if (c == '?')
				apply_usage(stderr);
			rc = KT_MIGRATE_EXIT_USAGE;
			goto cleanup;
		}
		rc = 1;
	}
	if (optind != argc || plan_path == NULL) {
		rc = kt_migrate_usage("apply", "--plan is required");
		goto cleanup;
	}
	if (kt_plan_open(plan_path, &p, &err) != KT_OK) {
		rc = kt_migrate_fail("apply", err.msg);
		goto cleanup;
	}
	if ((rc = open_store("apply", &o, &cli)) != 0)
		goto cleanup;
	rc = 1;
	if (call(cli,
		 kt_migjob_begin(kt_cli_redis(cli), kt_plan_job(p),
				 json_string_value(json_object_get(
				     kt_plan_header(p), "digest")),
				 kt_plan_units(p), plan_path, kt_cli_done, cli),
		 &res, msg, sizeof(msg)) != KT_OK) {
		fprintf(stderr, "kontor-migrate apply: %s: %.400s\n",
			kt_plan_job(p), msg);
		goto cleanup;
	}
	checkpoint =
	    (uint64_t)json_integer_value(json_object_get(res, "checkpoint"));
	if (checkpoint > kt_plan_units(p))
		checkpoint = kt_plan_units(p);
	if (checkpoint > 0 && kt_plan_seek(p, checkpoint, &err) != KT_OK) {
		kt_migrate_fail("apply", err.msg);
		goto cleanup;
	}
	if (checkpoint > 0 && checkpoint < kt_plan_units(p))
		fprintf(stderr, "apply: %s resumes after unit %llu of %llu\n",
			kt_plan_job(p), (unsigned long long)checkpoint,
			(unsigned long long)kt_plan_units(p));
	json_decref(res);
	res = NULL;
	if (o.report != NULL) {
		if ((report = fopen(o.report, "w")) == NULL) {
			snprintf(err.msg, sizeof(err.msg), "%s: cannot write",
				 o.report);
			kt_migrate_fail("apply", err.msg);
			goto cleanup;
		}
		fputs("n,unit,what,email,detail\n", report);
	}
	if ((slots = calloc(o.batch, sizeof(*slots))) == NULL) {
		kt_migrate_fail("apply", "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; apply_counts[i] != NULL; i++)
		kt_migrate_count(run, apply_counts[i], 0);
	prog = kt_progress_new(stderr, o.progress, "apply", "units",
			       kt_plan_units(p), 5);
	kt_progress_update(prog, checkpoint, 0);
	while (!failed && !stopped) {
		unsigned pending = 0, n = 0;
		uint64_t last_ok = 0, k;
		const char *line;
		size_t len;
		int r = 1;

		while (n < o.batch &&
		       (r = kt_plan_next(p, &line, &len, &k, &err)) == 1) {
			memset(&slots[n], 0, sizeof(slots[n]));
			slots[n].pending = &pending;
			slots[n].n = k;
			int sr = kt_migjob_apply(
			    kt_cli_redis(cli), kt_plan_job(p), line, len, 0,
			    kt_migrate_slot_done, &slots[n]);

			if (sr != KT_OK) {
				snprintf(msg, sizeof(msg), "unit %llu: %s",
					 (unsigned long long)k,
					 kt_strerror(sr));
				failed = 1;
				break;
			}
			pending++;
			n++;
		}
		if (r < 0 && !failed) {
			snprintf(msg, sizeof(msg), "%s", err.msg);
			failed = 1;
		}
		kt_cli_wait(cli, &pending);
		/* in order: the checkpoint only passes units that are done */
		for (unsigned i = 0; i < n; i++) {
			struct kt_migrate_slot *s = &slots[i];

			if (s->rc != KT_OK) {
				if (!failed || msg[0] == '\0')
					snprintf(
					    msg, sizeof(msg), "unit %llu: %s",
					    (unsigned long long)s->n,
					    kt_str_or(json_string_value(
							  json_object_get(
							      s->res, "error")),
						      kt_strerror(s->rc)));
				failed = 1;
			} else if (!failed) {
				char key[40];
				json_t *v;
				size_t j;
				const char *cnt[] = {
				    "sources_added",	"people_created",
				    "people_existing",	"members_added",
				    "members_upgraded", "person_links"};

				snprintf(
				    key, sizeof(key), "units_%s",
				    kt_str_or(json_string_value(json_object_get(
						  s->res, "status")),
					      "?"));
				kt_migrate_count(run, key, 1);
				if (strcmp(key, "units_done") != 0) {
					v = json_object_get(s->res, "org");
					if (kt_str_eq(json_string_value(v),
						      "create"))
						kt_migrate_count(
						    run, "orgs_created", 1);
					if (kt_str_eq(json_string_value(v),
						      "update"))
						kt_migrate_count(
						    run, "orgs_updated", 1);
					for (j = 0;
					     j < sizeof(cnt) / sizeof(cnt[0]);
					     j++)
						kt_migrate_count(
						    run, cnt[j],
						    json_integer_value(
							json_object_get(
							    s->res, cnt[j])));
					kt_migrate_count(
					    run, "contacts_skipped",
					    (json_int_t)json_array_size(
						json_object_get(s->res,
								"skipped")));
				}
				report_unit(report, s);
				last_ok = s->n;
				this_run++;
			}
			json_decref(s->res);
			s->res = NULL;
		}
		if (last_ok > 0) {
			json_t *cp = NULL;

			if (call(cli,
				 kt_migjob_checkpoint(kt_cli_redis(cli),
						      kt_plan_job(p), last_ok,
						      kt_cli_done, cli),
				 &cp, msg, sizeof(msg)) != KT_OK)
				failed = 1;
			json_decref(cp);
			kt_progress_update(prog, last_ok, this_run);
		}
		if (r == 0 && !failed)
			break;
		stopped = pace(cli, o.rate, t0, this_run);
	}
	kt_progress_finish(prog, kt_plan_units(p), this_run);
	if (failed || stopped) {
		status = failed ? "failed" : "interrupted";
	} else {
		json_t *st = NULL;

		call(cli,
		     kt_migjob_set_status(kt_cli_redis(cli), kt_plan_job(p),
					  "applied", kt_cli_done, cli),
		     &st, msg, sizeof(msg));
		json_decref(st);
	}
	{
		char ignored[KT_ERROR_MSG_MAX];

		call(cli,
		     kt_migjob_get(kt_cli_redis(cli), kt_plan_job(p),
				   kt_cli_done, cli),
		     &res, ignored, sizeof(ignored));
	}
	{
		double secs = kt_migrate_now() - t0;

		sum = json_pack(
		    "{s:s, s:s, s:s, s:s, s:I, s:I, s:O, s:O, s:f, s:f}",
		    "stage", "apply", "job_id", kt_plan_job(p), "status",
		    status, "plan", plan_path, "units",
		    (json_int_t)kt_plan_units(p), "units_this_run",
		    (json_int_t)this_run, "run", run, "job",
		    json_object_get(res, "job") ? json_object_get(res, "job")
						: json_null(),
		    "seconds", secs, "units_per_second",
		    secs > 0 ? (double)this_run / secs : 0.0);
	}
	if (o.report != NULL)
		json_object_set_new(sum, "report", json_string(o.report));
	if (failed)
		json_object_set_new(sum, "error", json_string(msg));
	if (o.json)
		kt_migrate_print_json(sum);
	else
		print_apply(sum);
	if (failed) {
		fprintf(stderr,
			"kontor-migrate apply: %s\n(nothing of the failed "
			"units was written; run the same command again to "
			"resume)\n",
			msg);
		rc = 1;
	} else if (stopped) {
		fprintf(stderr, "kontor-migrate apply: interrupted; run the "
				"same command again to resume\n");
		rc = 1;
	} else {
		rc = 0;
	}
cleanup:
	if (report != NULL)
		fclose(report);
	json_decref(sum);
	json_decref(run);
	json_decref(res);
	kt_progress_free(prog);
	free(slots);
	kt_cli_free(cli);
	kt_plan_close(p);
	return rc;
}

/* ---- rollback ------------------------------------------------------- */

static void rollback_usage(FILE *out)
{
	fputs("Usage: kontor-migrate rollback JOB [options]\n"
	      "\n"
	      "Undoes what the job created or changed, newest first, from the\n"
	      "job's journal. Each unit is undone in one atomic step, and\n"
	      "only if nothing changed it since: an organisation or person\n"
	      "edited since, a person who signed in, a membership changed,\n"
	      "members or links the job did not add. Any such unit refuses\n"
	      "the whole rollback (nothing is undone) unless --partial.\n"
	      "\n"
	      "  --config FILE      gateway configuration: the store (or\n"
	      "                     KONTOR_REDIS_URL)\n"
	      "  --dry-run          only check and report\n"
	      "  --partial          undo what can be undone, report the rest\n"
	      "  --batch N          units per pipelined batch (default 200)\n"
	      "  --json             summary as JSON on standard output\n"
	      "  --progress MODE    auto, bar, plain or none\n"
	      "\n"
	      "Exit status: 0 rolled back (or, with --dry-run, would be), 1 "
	      "refused\n"
	      "or failed, 2 usage.\n",
	      out);
}

struct walk {
	struct kt_cli *cli;
	const char *job;
	int check;
	unsigned batch;
	json_t *refused; /* [{"unit", "problems"}] */
	uint64_t ok, undone, gone;
	struct kt_progress *prog;
	char msg[KT_ERROR_MSG_MAX];
};

/* Results of a batch of checks or undos, in journal order. */
static int collect(struct walk *w, struct kt_migrate_slot *slots, unsigned n)
{
	int rc = KT_OK;

	for (unsigned k = 0; k < n; k++) {
		struct kt_migrate_slot *s = &slots[k];
		const char *st =
		    json_string_value(json_object_get(s->res, "status"));

		if (s->rc != KT_OK) {
			if (rc == KT_OK)
				snprintf(
				    w->msg, sizeof(w->msg), "entry %s: %s",
				    s->id,
				    kt_str_or(json_string_value(json_object_get(
						  s->res, "error")),
					      kt_strerror(s->rc)));
			rc = s->rc;
		} else if (kt_str_eq(st, "refused")) {
			json_array_append_new(
			    w->refused,
			    json_pack("{s:O, s:O}", "unit",
				      json_object_get(s->res, "unit"),
				      "problems",
				      json_object_get(s->res, "problems")));
		} else if (kt_str_eq(st, "undone")) {
			w->undone++;
		} else if (kt_str_eq(st, "ok")) {
			w->ok++;
		} else {
			w->gone++;
		}
		json_decref(s->res);
		s->res = NULL;
	}
	return rc;
}

/*
 * Walk the journal newest first, checking or undoing every entry, in
 * pipelined batches: Redis runs them in order on the one connection, so
 * a unit is undone only after every newer one.
 */
static int walk_journal(struct walk *w)
{
	struct kt_migrate_slot *slots = calloc(w->batch, sizeof(*slots));
	struct kt_strmap seen = {.own_keys = 1}; /* orgs of newer entries */
	char before[48] = "+";
	uint64_t done = 0;
	unsigned pending = 0, n = 0;
	int rc = KT_OK, more = 1;

	if (slots == NULL)
		return KT_ERR_NOMEM;
	while (more && rc == KT_OK) {
		json_t *page = NULL, *entries, *e;
		size_t i;

		if ((rc = call(w->cli,
			       kt_migjob_journal(kt_cli_redis(w->cli), w->job,
						 before, JOURNAL_PAGE,
						 kt_cli_done, w->cli),
			       &page, w->msg, sizeof(w->msg))) != KT_OK)
			break;
		entries = json_object_get(page, "entries");
		more = json_array_size(entries) > 0;
		json_array_foreach(entries, i, e)
		{
			const char *id =
			    json_string_value(json_object_get(e, "id"));
			const char *text =
			    json_string_value(json_object_get(e, "entry"));
			json_t *ej = text ? json_loads(text, 0, NULL) : NULL;
			const char *org =
			    json_string_value(json_object_get(ej, "org"));
			/* 1: a newer entry touched the organisation */
			int later =
			    org ? kt_strmap_add(&seen, org, 0, NULL) : 0;

			json_decref(ej);
			if (later < 0) {
				rc = later;
				snprintf(w->msg, sizeof(w->msg),
					 "out of memory");
				break;
			}
			if (id == NULL || text == NULL)
				continue;
			snprintf(before, sizeof(before), "%s", id);
			memset(&slots[n], 0, sizeof(slots[n]));
			slots[n].pending = &pending;
			snprintf(slots[n].id, sizeof(slots[n].id), "%s", id);
			if ((rc = kt_migjob_undo(kt_cli_redis(w->cli), w->job,
						 id, text, w->check, later,
						 kt_migrate_slot_done,
						 &slots[n])) != KT_OK) {
				snprintf(w->msg, sizeof(w->msg), "entry %s: %s",
					 id, kt_strerror(rc));
				break;
			}
			pending++;
			if (++n == w->batch) {
				kt_cli_wait(w->cli, &pending);
				if ((rc = collect(w, slots, n)) == KT_OK) {
					done += n;
					kt_progress_update(w->prog, done, done);
				}
				n = 0;
				if (rc != KT_OK)
					break;
			}
		}
		json_decref(page);
	}
	kt_cli_wait(w->cli, &pending);
	{
		int r2 = collect(w, slots, n);

		if (rc == KT_OK)
			rc = r2;
	}
	done += n;
	kt_progress_finish(w->prog, done, done);
	kt_strmap_free(&seen);
	free(slots);
	return rc;
}

static void print_refused(json_t *refused, FILE *out)
{
	json_t *r, *p;
	size_t i, k;

	json_array_foreach(refused, i, r)
	{
		if (i == 20) {
			fprintf(out, "  ... and %zu more\n",
				json_array_size(refused) - 20);
			break;
		}
		fprintf(out, "  unit %s:\n",
			json_string_value(json_object_get(r, "unit")));
		json_array_foreach(json_object_get(r, "problems"), k, p)
		    fprintf(out, "    %s\n", json_string_value(p));
	}
}

int kt_migrate_rollback(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'C'},
	    {"dry-run", no_argument, NULL, 'd'},
	    {"partial", no_argument, NULL, 'p'},
	    {"batch", required_argument, NULL, 'b'},
	    {"json", no_argument, NULL, 'j'},
	    {"progress", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sopts o = {.batch = DEFAULT_BATCH};
	struct walk w;
	struct kt_cli *cli = NULL;
	const char *job, *status;
	json_t *res = NULL, *sum = NULL;
	char msg[KT_ERROR_MSG_MAX];
	double t0 = kt_migrate_now();
	int c, rc = 1;

	memset(&w, 0, sizeof(w));
	kt_migrate_parse_progress("auto", &o.progress);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'h') {
			rollback_usage(stdout);
			return 0;
		}
		if (c == '?') {
			rollback_usage(stderr);
			return KT_MIGRATE_EXIT_USAGE;
		}
		if ((rc = get_sopt("rollback", c, optarg, &o)) != 0)
			return rc;
	}
	if (argc - optind != 1)
		return kt_migrate_usage("rollback", "name one JOB");
	job = argv[optind];
	if (!kt_migjob_id_ok(job)) {
		snprintf(msg, sizeof(msg),
			 "'%.80s' is not a job id (job-<12 hex digits>, see "
			 "kontor-migrate status)",
			 job);
		return kt_migrate_usage("rollback", msg);
	}
	if ((rc = open_store("rollback", &o, &cli)) != 0)
		return rc;
	rc = 1;
	if (call(cli, kt_migjob_get(kt_cli_redis(cli), job, kt_cli_done, cli),
		 &res, msg, sizeof(msg)) != KT_OK) {
		kt_migrate_fail("rollback", msg);
		goto cleanup;
	}
	w.cli = cli;
	w.job = job;
	w.batch = o.batch;
	w.refused = json_array();
	/* check everything first: a refusal then changes nothing */
	w.check = 1;
	w.prog = kt_progress_new(
	    stderr, o.progress, "check", "units",
	    (uint64_t)json_integer_value(json_object_get(res, "journal")), 5);
	if (walk_journal(&w) != KT_OK) {
		kt_progress_free(w.prog);
		kt_migrate_fail("rollback", w.msg);
		goto cleanup;
	}
	kt_progress_free(w.prog);
	w.prog = NULL;
	if (o.dry) {
		status = json_array_size(w.refused) ? "would be refused"
						    : "would be rolled back";
	} else if (json_array_size(w.refused) > 0 && !o.partial) {
		status = "refused";
	} else {
		json_t *st = NULL;

		json_array_clear(w.refused);
		w.check = 0;
		w.undone = w.gone = 0;
		w.prog = kt_progress_new(stderr, o.progress, "rollback",
					 "units", w.ok, 5);
		w.ok = 0;
		if (walk_journal(&w) != KT_OK) {
			kt_migrate_fail("rollback", w.msg);
			goto cleanup;
		}
		status = json_array_size(w.refused) ? "rolled_back_partly"
						    : "rolled_back";
		call(cli,
		     kt_migjob_set_status(kt_cli_redis(cli), job, status,
					  kt_cli_done, cli),
		     &st, msg, sizeof(msg));
		json_decref(st);
	}
	sum = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:f}", "stage",
			"rollback", "job_id", job, "status", status, "checked",
			(json_int_t)(w.check ? w.ok : 0), "undone",
			(json_int_t)w.undone, "already_undone",
			(json_int_t)w.gone, "refused", w.refused, "seconds",
			kt_migrate_now() - t0);
	if (o.json) {
		kt_migrate_print_json(sum);
	} else {
		if (o.dry)
			printf("rollback %s (dry run): %llu units can be "
			       "undone, %zu refused, %llu already undone\n",
			       job, (unsigned long long)w.ok,
			       json_array_size(w.refused),
			       (unsigned long long)w.gone);
		else
			printf("rollback %s: %s; %llu units undone, %zu "
			       "refused, %llu already undone\n",
			       job, status, (unsigned long long)w.undone,
			       json_array_size(w.refused),
			       (unsigned long long)w.gone);
		print_refused(w.refused, stdout);
	}
	if (kt_str_eq(status, "refused"))
		fprintf(stderr,
			"kontor-migrate rollback: refused: %zu units were "
			"changed since the job (listed above); nothing was "
			"rolled back (--partial undoes the rest)\n",
			json_array_size(w.refused));
	rc = json_array_size(w.refused) > 0 ? 1 : 0;
cleanup:
	kt_progress_free(w.prog);
	json_decref(w.refused);
	json_decref(sum);
	json_decref(res);
	kt_cli_free(cli);
	return rc;
}

/* ---- status --------------------------------------------------------- */

int kt_migrate_status(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'C'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sopts o = {0};
	struct kt_cli *cli = NULL;
	json_t *res = NULL, *j;
	char msg[KT_ERROR_MSG_MAX];
	const char *job = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs("Usage: kontor-migrate status [JOB] [--config "
			      "FILE] [--json]\n"
			      "The migration jobs in the store (newest first), "
			      "or one job's state and counters.\n",
			      stdout);
			return 0;
		}
		if (c == '?')
			return KT_MIGRATE_EXIT_USAGE;
		if ((rc = get_sopt("status", c, optarg, &o)) != 0)
			return rc;
	}
	if (argc - optind > 1)
		return kt_migrate_usage("status", "at most one JOB");
	job = argc - optind == 1 ? argv[optind] : NULL;
	if (job != NULL && !kt_migjob_id_ok(job))
		return kt_migrate_usage("status", "not a job id");
	if ((rc = open_store("status", &o, &cli)) != 0)
		return rc;
	rc = call(cli,
		  job ? kt_migjob_get(kt_cli_redis(cli), job, kt_cli_done, cli)
		      : kt_migjob_list(kt_cli_redis(cli), kt_cli_done, cli),
		  &res, msg, sizeof(msg));
	if (rc != KT_OK) {
		kt_cli_free(cli);
		return kt_migrate_fail("status", msg);
	}
	if (o.json) {
		kt_migrate_print_json(res);
	} else if (job != NULL) {
		const char *k;
		json_t *v;

		j = json_object_get(res, "job");
		json_object_foreach(j, k, v)
		{
			if (strcmp(k, "digest") != 0)
				printf("%-18s %s\n", k, json_string_value(v));
		}
		printf(
		    "%-18s %lld\n%-18s %lld\n", "units done",
		    (long long)json_integer_value(json_object_get(res, "done")),
		    "journal entries",
		    (long long)json_integer_value(
			json_object_get(res, "journal")));
	} else {
		size_t i;

		printf("%-18s %-20s %8s %10s %8s\n", "job", "status", "units",
		       "checkpoint", "created");
		json_array_foreach(json_object_get(res, "jobs"), i, j)
		{
			char when[32] = "";
			time_t t = (time_t)strtoll(
			    kt_str_or(json_string_value(
					  json_object_get(j, "created_at")),
				      "0"),
			    NULL, 10);
			struct tm tm;

			if (gmtime_r(&t, &tm) != NULL)
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M",
					 &tm);
			printf("%-18s %-20s %8s %10s %s\n",
			       json_string_value(json_object_get(j, "job")),
			       json_string_value(json_object_get(j, "status")),
			       kt_str_or(json_string_value(
					     json_object_get(j, "units")),
					 ""),
			       kt_str_or(json_string_value(
					     json_object_get(j, "checkpoint")),
					 ""),
			       when);
		}
	}
	json_decref(res);
	kt_cli_free(cli);
	return 0;
}
