/*
 * kontor-migrate plan: golden records, people and memberships from the
 * records and the (reviewed) clusters, written as a plan file; then a dry
 * run against the store: what apply would create, update or leave, and a
 * sample. Nothing is written to the store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kontor/cli.h"
#include "kontor/merge.h"
#include "kontor/migjob.h"
#include "kontor/plan.h"
#include "kontor/util.h"

#include "migrate.h"

static void usage(FILE *out)
{
	fputs(
	    "Usage: kontor-migrate plan --in RECORDS.jsonl --clusters "
	    "CLUSTERS.csv --out PLAN.jsonl [options]\n"
	    "\n"
	    "Builds one organisation per cluster (golden record by the\n"
	    "survivorship rules, every record a source link), merges people\n"
	    "across clusters by verified e-mail address, and writes the plan\n"
	    "that 'kontor-migrate apply' executes. Then counts what apply\n"
	    "would do against the store (nothing is written) and shows a\n"
	    "sample.\n"
	    "\n"
	    "  --in FILE          records.jsonl (kontor-migrate import)\n"
	    "  --clusters FILE    clusters.csv (kontor-migrate match, or\n"
	    "                     review apply)\n"
	    "  --out FILE         the plan (mode 0600: it holds legacy "
	    "password hashes)\n"
	    "  --rules FILE       survivorship rules (default: the built-in\n"
	    "                     rules, docs/rules/survivorship.json)\n"
	    "  --skipped FILE     contacts left out, and why (CSV)\n"
	    "  --config FILE      gateway configuration: the store for the "
	    "dry run\n"
	    "                     (or KONTOR_REDIS_URL)\n"
	    "  --offline          no dry run: count against an empty store\n"
	    "  --sample N         units to show (default 3)\n"
	    "  --json             summary as JSON on standard output\n"
	    "  --progress MODE    auto, bar, plain or none\n",
	    out);
}

static int write_skipped(const void *m, FILE *out)
{
	return kt_merge_write_skipped(m, out);
}

/* people a dry run would create: each address once (the store does not
 * change between the units of a dry run) */
static void count_people(json_t *tot, json_t *seen, json_t *res)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(res, "created"), i, e)
	{
		const char *mail = json_string_value(e);

		if (mail == NULL)
			continue;
		if (json_object_get(seen, mail) != NULL) {
			kt_migrate_count(tot, "people_created", -1);
			kt_migrate_count(tot, "people_existing", 1);
		} else {
			json_object_set_new(seen, mail, json_true());
		}
	}
}

static void add_counts(json_t *tot, json_t *res)
{
	static const char *const keys[] = {"sources_added",
					   "people_created",
					   "people_existing",
					   "members_added",
					   "members_upgraded",
					   "members_same",
					   NULL};
	char k[48];

	snprintf(
	    k, sizeof(k), "orgs_%s",
	    kt_str_or(json_string_value(json_object_get(res, "org")), "?"));
	kt_migrate_count(tot, k, 1);
	for (size_t i = 0; keys[i] != NULL; i++)
		kt_migrate_count(
		    tot, keys[i],
		    json_integer_value(json_object_get(res, keys[i])));
	kt_migrate_count(
	    tot, "contacts_skipped",
	    (json_int_t)json_array_size(json_object_get(res, "skipped")));
}

/* Count what apply would do, unit by unit, in pipelined batches. */
static int dry_run(struct kt_cli *cli, const char *plan_path, unsigned sample,
		   json_t *store, json_t *samples, enum kt_progress_mode pm,
		   struct kt_error *err)
{
	struct kt_plan *p = NULL;
	struct kt_migrate_slot slots[KT_MIGRATE_BATCH_MAX];
	struct kt_progress *prog = NULL;
	json_t *counts = json_object(), *seen = json_object();
	uint64_t done = 0;
	int r;

	if ((r = kt_plan_open(plan_path, &p, err)) != KT_OK)
		goto cleanup;
	prog = kt_progress_new(stderr, pm, "dry run", "units", kt_plan_units(p),
			       5);
	for (;;) {
		unsigned pending = 0, n = 0;
		const char *line;
		size_t len;
		uint64_t k;

		while (n < 200 &&
		       (r = kt_plan_next(p, &line, &len, &k, err)) == 1) {
			memset(&slots[n], 0, sizeof(slots[n]));
			slots[n].pending = &pending;
			slots[n].n = k;
			int sr = kt_migjob_apply(
			    kt_cli_redis(cli), kt_plan_job(p), line, len, 1,
			    kt_migrate_slot_done, &slots[n]);

			if (sr != KT_OK) {
				r = kt_error_set(err, sr, "unit %llu: %s",
						 (unsigned long long)k,
						 kt_strerror(sr));
				break;
			}
			if (n < sample && done + n < sample)
				slots[n].keep_line = strndup(line, len);
			pending++;
			n++;
		}
		kt_cli_wait(cli, &pending);
		for (unsigned i = 0; i < n; i++) {
			struct kt_migrate_slot *s = &slots[i];

			if (s->rc != KT_OK && r >= 0)
				r = kt_error_set(
				    err, s->rc, "unit %llu: %s",
				    (unsigned long long)s->n,
				    kt_str_or(json_string_value(json_object_get(
						  s->res, "error")),
					      kt_strerror(s->rc)));
			if (s->rc == KT_OK) {
				add_counts(counts, s->res);
				count_people(counts, seen, s->res);
			}
			if (s->keep_line != NULL && s->rc == KT_OK) {
				json_t *u = json_loads(s->keep_line, 0, NULL);

				json_array_append_new(
				    samples, json_pack("{s:o, s:O}", "unit", u,
						       "would", s->res));
			}
			free(s->keep_line);
			json_decref(s->res);
		}
		done += n;
		kt_progress_update(prog, done, done);
		if (r <= 0)
			break;
	}
	kt_progress_finish(prog, done, done);
	if (r == 0)
		json_object_update(store, counts);
cleanup:
	kt_progress_free(prog);
	json_decref(counts);
	json_decref(seen);
	kt_plan_close(p);
	return r < 0 ? r : KT_OK;
}

/* Without a store: everything would be created. */
static void offline_counts(const struct kt_merge_summary *s, json_t *store,
			   json_t *samples, const struct kt_merge *m,
			   unsigned sample)
{
	kt_migrate_count(store, "orgs_create", (json_int_t)s->orgs);
	kt_migrate_count(store, "sources_added", (json_int_t)s->records);
	kt_migrate_count(store, "people_created", (json_int_t)s->people);
	kt_migrate_count(store, "members_added", (json_int_t)s->memberships);
	for (size_t i = 0; i < sample && i < kt_merge_nunits(m); i++)
		json_array_append_new(samples,
				      json_pack("{s:o, s:{s:s}}", "unit",
						kt_merge_unit_json(m, i),
						"would", "org", "create"));
}

static void print_text(json_t *sum)
{
	json_t *mg = json_object_get(sum, "merge"),
	       *st = json_object_get(sum, "store"), *smp;
	size_t i;

#define G(o, k) ((long long)json_integer_value(json_object_get((o), (k))))
	printf("plan %s: %lld records in %lld clusters -> %s\n",
	       json_string_value(json_object_get(sum, "job")), G(mg, "records"),
	       G(mg, "clusters"),
	       json_string_value(json_object_get(sum, "plan")));
	printf("  merged: %lld clusters join %lld records; %lld "
	       "organisations, %lld people (%lld from several sources, %lld "
	       "unverified), %lld memberships, %lld legacy password hashes\n",
	       G(mg, "clusters_merged"), G(mg, "records_merged"), G(mg, "orgs"),
	       G(mg, "people"), G(mg, "people_from_several_sources"),
	       G(mg, "people_unverified"), G(mg, "memberships"),
	       G(mg, "legacy_hashes"));
	printf("  contacts left out: %lld (unverified or invalid e-mail "
	       "addresses%s), roles not recognised: %lld\n",
	       G(mg, "contacts_skipped"),
	       json_object_get(sum, "skipped") ? ", see the skipped file" : "",
	       G(mg, "unknown_roles"));
	if (G(mg, "units_with_identifier_conflicts") > 0)
		printf("  %lld units hold different valid values of one "
		       "identifier (one is kept; see the plan's "
		       "identifier_conflicts)\n",
		       G(mg, "units_with_identifier_conflicts"));
	printf("%s:\n", json_string_value(json_object_get(sum, "against")));
	printf("  organisations: %lld to create, %lld to update, %lld "
	       "unchanged, %lld blocked\n",
	       G(st, "orgs_create"), G(st, "orgs_update"),
	       G(st, "orgs_unchanged"), G(st, "orgs_blocked"));
	printf("  people: %lld to create, %lld existing; memberships: %lld "
	       "to add, %lld to upgrade, %lld unchanged; source links: %lld "
	       "to add\n",
	       G(st, "people_created"), G(st, "people_existing"),
	       G(st, "members_added"), G(st, "members_upgraded"),
	       G(st, "members_same"), G(st, "sources_added"));
	if (G(st, "contacts_skipped") > 0)
		printf("  %lld people not added to an organisation: an "
		       "existing account with their address is unverified\n",
		       G(st, "contacts_skipped"));
	smp = json_object_get(sum, "sample");
	if (json_array_size(smp) > 0)
		printf("sample:\n");
	json_array_foreach(smp, i, mg)
	{
		json_t *u = json_object_get(mg, "unit"),
		       *w = json_object_get(mg, "would"),
		       *org = json_object_get(u, "org"), *v;
		size_t k;

		printf("  %s: %s \"%s\"",
		       json_string_value(json_object_get(u, "unit")),
		       json_string_value(json_object_get(w, "org")),
		       json_string_value(json_object_get(org, "legal_name")));
		if (json_object_get(org, "vat"))
			printf(
			    " vat %s%s",
			    json_string_value(json_object_get(org, "vat")),
			    strcmp(kt_str_or(json_string_value(json_object_get(
						 org, "vat_valid")),
					     "0"),
				   "1") == 0
				? ""
				: " (invalid)");
		if (json_object_get(org, "hr_raw"))
			printf(", %s %s %s",
			       kt_str_or(json_string_value(
					     json_object_get(org, "hr_type")),
					 ""),
			       kt_str_or(json_string_value(
					     json_object_get(org, "hr_number")),
					 ""),
			       kt_str_or(json_string_value(
					     json_object_get(org, "hr_court")),
					 ""));
		if (json_object_get(org, "city"))
			printf(", %s %s",
			       kt_str_or(json_string_value(
					     json_object_get(org, "postcode")),
					 ""),
			       json_string_value(json_object_get(org, "city")));
		printf("\n    sources:");
		json_array_foreach(json_object_get(u, "sources"), k, v)
		    printf(" %s", json_string_value(v));
		printf("\n    people:");
		json_array_foreach(json_object_get(u, "people"), k, v)
		    printf(" %s (%s%s)",
			   json_string_value(json_object_get(v, "email")),
			   json_string_value(json_object_get(v, "role")),
			   strcmp(json_string_value(
				      json_object_get(v, "email_verified")),
				  "1") == 0
			       ? ""
			       : ", unverified");
		if (json_array_size(json_object_get(u, "people")) == 0)
			printf(" -");
		printf("\n");
	}
#undef G
}

int kt_migrate_plan(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"in", required_argument, NULL, 'i'},
	    {"clusters", required_argument, NULL, 'c'},
	    {"out", required_argument, NULL, 'o'},
	    {"rules", required_argument, NULL, 'r'},
	    {"skipped", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'C'},
	    {"offline", no_argument, NULL, 'O'},
	    {"sample", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"progress", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *in = NULL, *clusters = NULL, *out = NULL,
		   *rules_path = NULL, *skipped = NULL, *config = NULL;
	struct kt_merge_rules *rules = NULL;
	struct kt_merge *m = NULL;
	struct kt_merge_summary ms;
	struct kt_progress *prog = NULL;
	struct kt_cli *cli = NULL;
	struct kt_error err;
	enum kt_progress_mode pm;
	char job[KT_PLAN_JOB_MAX];
	json_t *sum = NULL, *store = json_object(), *samples = json_array();
	uint64_t v;
	unsigned sample = 3;
	int c, json = 0, offline = 0, rc = 1;
	double t0 = kt_migrate_now();

	kt_migrate_parse_progress("auto", &pm);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			in = optarg;
			break;
		case 'c':
			clusters = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			rules_path = optarg;
			break;
		case 's':
			skipped = optarg;
			break;
		case 'C':
			config = optarg;
			break;
		case 'O':
			offline = 1;
			break;
		case 'n':
			if (kt_parse_uint(optarg, 1000, &v) != KT_OK) {
				rc = kt_migrate_usage("plan",
						      "--sample: a number "
						      "from 0 to 1000");
				goto cleanup;
			}
			sample = (unsigned)v;
			break;
		case 'j':
			json = 1;
			break;
		case 'P':
			if (kt_migrate_parse_progress(optarg, &pm) != 0) {
				rc = kt_migrate_usage(
				    "plan", "--progress: auto, bar, plain "
					    "or none");
				goto cleanup;
			}
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto cleanup;
		default:
			usage(stderr);
			rc = KT_MIGRATE_EXIT_USAGE;
			goto cleanup;
		}
	}
	if (optind != argc || in == NULL || clusters == NULL || out == NULL) {
		rc = kt_migrate_usage("plan", "--in, --clusters and --out are "
					      "required");
		goto cleanup;
	}
	if ((rules_path != NULL
		 ? kt_merge_rules_load_file(rules_path, &rules, &err)
		 : kt_merge_rules_load_string(kt_merge_rules_default_json(),
					      &rules, &err)) != KT_OK) {
		rc = kt_migrate_fail("plan", err.msg);
		goto cleanup;
	}
	prog = kt_progress_new(stderr, pm, "plan", "records",
			       kt_migrate_file_size(in), 5);
	if (kt_plan_build(in, clusters, rules, prog, &m, &err) != KT_OK ||
	    kt_plan_write(out, m, NULL, job, &err) != KT_OK) {
		rc = kt_migrate_fail("plan", err.msg);
		goto cleanup;
	}
	if (skipped != NULL &&
	    kt_migrate_write_file(skipped, write_skipped, m, &err) != KT_OK) {
		rc = kt_migrate_fail("plan", err.msg);
		goto cleanup;
	}
	kt_merge_summary_get(m, &ms);
	if (!offline && (config != NULL || kt_migrate_store_configured())) {
		if (kt_cli_open(config, &cli, &err) != KT_OK ||
		    dry_run(cli, out, sample, store, samples, pm, &err) !=
			KT_OK) {
			rc = kt_migrate_fail("plan", err.msg);
			goto cleanup;
		}
	} else {
		offline_counts(&ms, store, samples, m, sample);
	}
	sum = json_pack("{s:s, s:s, s:s, s:o, s:o}", "stage", "plan", "job",
			job, "plan", out, "merge", kt_merge_summary_json(&ms),
			"store", store);
	store = NULL;
	if (cli != NULL) {
		char where[400];

		snprintf(where, sizeof(where), "against the store at %s",
			 kt_cli_redis_where(cli));
		json_object_set_new(sum, "against", json_string(where));
	} else {
		json_object_set_new(sum, "against",
				    json_string("against an empty store "
						"(offline: no store given)"));
	}
	if (skipped != NULL)
		json_object_set_new(sum, "skipped", json_string(skipped));
	json_object_set_new(sum, "sample", samples);
	samples = NULL;
	json_object_set_new(sum, "seconds", json_real(kt_migrate_now() - t0));
	json_object_set_new(sum, "peak_rss_mib",
			    json_integer(kt_migrate_peak_rss_mib()));
	if (json)
		kt_migrate_print_json(sum);
	else
		print_text(sum);
	rc = 0;
cleanup:
	json_decref(sum);
	json_decref(store);
	json_decref(samples);
	kt_cli_free(cli);
	kt_progress_free(prog);
	kt_merge_free(m);
	kt_merge_rules_free(rules);
	return rc;
}
