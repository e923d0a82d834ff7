/*
 * kontor-migrate: consolidates the states' company-account exports into
 * unified accounts. This file only parses arguments and dispatches; the
 * work is in the core library (import.c, gen.c, match.c and the modules
 * they use) and in migrate/cmd_*.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/gen.h"
#include "kontor/import.h"
#include "kontor/log.h"
#include "kontor/progress.h"
#include "kontor/util.h"
#include "migrate.h"
#include "kontor/version.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: kontor-migrate COMMAND [OPTIONS]\n"
	    "       kontor-migrate --help | --version\n"
	    "\n"
	    "Consolidates the states' company-account exports into unified\n"
	    "kontor accounts.\n"
	    "\n"
	    "Commands:\n"
	    "  import     read exports through their mapping files, normalise\n"
	    "             them into records.jsonl and list rejected rows\n"
	    "  generate   write realistic synthetic exports of all sixteen\n"
	    "             Länder with mapping files and ground truth\n"
	    "  match      find duplicates: blocking, scoring, clustering;\n"
	    "             writes the review queue\n"
	    "  explain    each field's contribution to one pair's weight\n"
	    "  eval       precision, recall, F1 of clusters against a truth\n"
	    "  review     read the admin's decisions on the review queue back\n"
	    "             into the clusters\n"
	    "  plan       golden records, people and memberships: the plan,\n"
	    "             and a dry run against the store\n"
	    "  apply      write a plan into the store (resumable, idempotent)\n"
	    "  rollback   undo a job from its journal\n"
	    "  status     the jobs in the store, or one job\n"
	    "\n"
	    "'kontor-migrate COMMAND --help' describes a command.\n");
}

static const char IMPORT_HELP[] =
    "NAME\n"
    "    kontor-migrate import - normalise the Länder's account exports\n"
    "\n"
    "SYNOPSIS\n"
    "    kontor-migrate import --mapping MAPPING.json FILE...\n"
    "                          [--mapping MAPPING.json FILE...]...\n"
    "                          --out RECORDS.jsonl --rejects REJECTS.csv\n"
    "                          [--encoding ENCODING] [--json]\n"
    "                          [--progress auto|bar|plain|none]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads every FILE with the mapping given before it (format, Land,\n"
    "    encoding, delimiter, columns; see docs/migration.md), normalises\n"
    "    each row into a canonical company-account record and writes one\n"
    "    JSON object per line to RECORDS.jsonl. Every row that is not\n"
    "    imported goes to REJECTS.csv with source file, line, account id,\n"
    "    field and reason; invalid identifiers are kept in the record,\n"
    "    flagged, and listed as issues.\n"
    "\n"
    "    A malformed file (unterminated quoted field, invalid encoding,\n"
    "    missing column, exceeded limit) stops the run with\n"
    "    'FILE:LINE: reason' before anything is written: both outputs are\n"
    "    written to temporary files and renamed only at the end. The\n"
    "    outputs are created with mode 0600 (records hold legacy password\n"
    "    hashes).\n"
    "\n"
    "OPTIONS\n"
    "    --mapping FILE    mapping for the input files that follow it\n"
    "    --out FILE        records, JSON Lines\n"
    "    --rejects FILE    rejected rows, CSV\n"
    "    --encoding ENC    override every CSV mapping's encoding: utf-8,\n"
    "                      windows-1252 or iso-8859-1\n"
    "    --json            print the summary as JSON on standard output\n"
    "    --progress MODE   auto (a bar on a terminal, plain lines every\n"
    "                      5 s otherwise), bar, plain or none\n"
    "\n"
    "EXIT STATUS\n"
    "    0 imported (rejected rows are not an error), 1 the run failed,\n"
    "    2 usage error.\n"
    "\n"
    "EXAMPLE\n"
    "    kontor-migrate import --mapping by.mapping.json by.csv \\\n"
    "        --mapping hh.mapping.json hh.jsonl \\\n"
    "        --out records.jsonl --rejects rejects.csv\n";

static const char GENERATE_HELP[] =
    "NAME\n"
    "    kontor-migrate generate - synthetic exports with ground truth\n"
    "\n"
    "SYNOPSIS\n"
    "    kontor-migrate generate --seed N --records N --out DIR\n"
    "                            [--progress auto|bar|plain|none]\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes realistic company-account exports of all sixteen Länder to\n"
    "    DIR, each in its own layout, delimiter and encoding (some\n"
    "    Windows-1252 or ISO-8859-1, two as JSON Lines, one without a\n"
    "    header), with duplicates within and across Länder and the usual\n"
    "    damage: typos, legal-form and umlaut spellings, ALL CAPS,\n"
    "    abbreviations, moved addresses, missing or mistyped identifiers,\n"
    "    other contacts, postcodes without their leading zero; and the\n"
    "    classic false merges: GmbH & Co. KG with its Verwaltungs-GmbH,\n"
    "    sister companies at one address. A few rows are meant to be\n"
    "    rejected by the import.\n"
    "\n"
    "    Files: <land>.csv or <land>.jsonl and <land>.mapping.json for\n"
    "    each Land, truth.csv (record id -> true entity id) and\n"
    "    manifest.json (counts and expected rejects). The same seed and\n"
    "    size give byte-identical files.\n"
    "\n"
    "OPTIONS\n"
    "    --seed N          seed of the generator (default 1)\n"
    "    --records N       rows in total over all Länder (16..10000000)\n"
    "    --out DIR         output directory (created if missing)\n"
    "    --progress MODE   auto, bar, plain or none\n"
    "\n"
    "EXAMPLE\n"
    "    kontor-migrate generate --seed 42 --records 1000000 --out /tmp/x\n";

/* "--name value" or "--name=value"; advances *i. NULL if not this option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
			     int *missing)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	/* *missing is reset by the caller once per argument, not here:
	 * the next option probed must not clear it */
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

static int bad_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kontor-migrate %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(try 'kontor-migrate %s --help')\n", cmd);
	return EXIT_USAGE;
}

static int cmd_import(int argc, char **argv)
{
	struct kt_import_source *src = NULL;
	const char **files = NULL;
	size_t n_src = 0, n_files = 0;
	struct kt_import_opts o;
	struct kt_import_summary sum;
	struct kt_error err;
	int json = 0, rc = EXIT_USAGE, missing;
	const char *v;

	memset(&o, 0, sizeof(o));
	kt_migrate_parse_progress("auto", &o.progress);
	/* at most one source and one file per argument */
	src = calloc((size_t)argc, sizeof(*src));
	files = calloc((size_t)argc, sizeof(*files));
	if (src == NULL || files == NULL) {
		fprintf(stderr, "kontor-migrate: out of memory\n");
		rc = 1;
		goto cleanup;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		missing = 0;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(IMPORT_HELP, stdout);
			rc = 0;
			goto cleanup;
		}
		if ((v = opt_value(argc, argv, &i, "--mapping", &missing))) {
			src[n_src].mapping_path = v;
			src[n_src].files = files + n_files;
			n_src++;
		} else if ((v = opt_value(argc, argv, &i, "--out", &missing))) {
			o.out_path = v;
		} else if ((v = opt_value(argc, argv, &i, "--rejects",
					  &missing))) {
			o.rejects_path = v;
		} else if ((v = opt_value(argc, argv, &i, "--encoding",
					  &missing))) {
			o.encoding = v;
		} else if ((v = opt_value(argc, argv, &i, "--progress",
					  &missing))) {
			if (kt_migrate_parse_progress(v, &o.progress) != 0) {
				rc = bad_usage("import",
					       "--progress: unknown mode '%s'",
					       v);
				goto cleanup;
			}
		} else if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (missing) {
			rc = bad_usage("import", "%s needs a value", a);
			goto cleanup;
		} else if (a[0] == '-' && a[1] != '\0') {
			rc = bad_usage("import", "unknown option '%s'", a);
			goto cleanup;
		} else {
			if (n_src == 0) {
				rc = bad_usage("import",
					       "input file '%s' before any "
					       "--mapping",
					       a);
				goto cleanup;
			}
			files[n_files++] = a;
			src[n_src - 1].n_files++;
		}
	}
	if (n_src == 0) {
		rc = bad_usage("import", "%s", "--mapping is required");
		goto cleanup;
	}
	if (o.out_path == NULL || o.rejects_path == NULL) {
		rc = bad_usage("import", "%s",
			       "--out and --rejects are required");
		goto cleanup;
	}
	if (kt_import_run(src, n_src, &o, &sum, &err) != KT_OK) {
		fprintf(stderr, "kontor-migrate import: %s\n", err.msg);
		rc = 1;
		goto cleanup;
	}
	if (json) {
		json_t *j = kt_import_summary_json(&sum);
		if (j != NULL) {
			json_dumpf(j, stdout,
				   JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
		}
		json_decref(j);
	} else {
		kt_import_summary_print(&sum, stderr);
	}
	rc = 0;
cleanup:
	free(files);
	free(src);
	return rc;
}

static int cmd_generate(int argc, char **argv)
{
	struct kt_gen_opts o;
	struct kt_gen_summary sum;
	struct kt_error err;
	uint64_t n;
	int missing;
	const char *v;

	memset(&o, 0, sizeof(o));
	o.seed = 1;
	kt_migrate_parse_progress("auto", &o.progress);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		missing = 0;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(GENERATE_HELP, stdout);
			return 0;
		}
		if ((v = opt_value(argc, argv, &i, "--seed", &missing))) {
			if (kt_parse_uint(v, UINT64_MAX, &o.seed) != KT_OK)
				return bad_usage("generate",
						 "--seed: not a number: '%s'",
						 v);
		} else if ((v = opt_value(argc, argv, &i, "--records",
					  &missing))) {
			if (kt_parse_uint(v, KT_GEN_MAX_RECORDS, &n) != KT_OK ||
			    n < 16)
				return bad_usage(
				    "generate",
				    "--records: expected a number "
				    "from 16 to 10000000, got '%s'",
				    v);
			o.records = n;
		} else if ((v = opt_value(argc, argv, &i, "--out", &missing))) {
			o.out_dir = v;
		} else if ((v = opt_value(argc, argv, &i, "--progress",
					  &missing))) {
			if (kt_migrate_parse_progress(v, &o.progress) != 0)
				return bad_usage(
				    "generate", "--progress: unknown mode '%s'",
				    v);
		} else if (missing) {
			return bad_usage("generate", "%s needs a value", a);
		} else {
			return bad_usage("generate", "unknown argument '%s'",
					 a);
		}
	}
	if (o.records == 0 || o.out_dir == NULL)
		return bad_usage("generate", "%s",
				 "--records and --out are required");
	if (kt_gen_run(&o, &sum, &err) != KT_OK) {
		fprintf(stderr, "kontor-migrate generate: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr,
		"generate: %llu rows of %llu companies in 16 Länder to %s "
		"(%llu meant to be rejected) in %.2f s\n",
		(unsigned long long)sum.rows, (unsigned long long)sum.entities,
		o.out_dir, (unsigned long long)sum.expected_rejects,
		sum.seconds);
	return 0;
}

typedef int migrate_cmd_fn(int argc, char **argv);

/* The commands in migrate/cmd_*.c, or NULL. */
static migrate_cmd_fn *command(const char *name)
{
	static const struct {
		const char *name;
		migrate_cmd_fn *fn;
	} cmds[] = {
	    {"match", kt_migrate_match},       {"explain", kt_migrate_explain},
	    {"eval", kt_migrate_eval},	       {"review", kt_migrate_review},
	    {"plan", kt_migrate_plan},	       {"apply", kt_migrate_apply},
	    {"rollback", kt_migrate_rollback}, {"status", kt_migrate_status},
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(name, cmds[i].name) == 0)
			return cmds[i].fn;
	return NULL;
}

int main(int argc, char **argv)
{
	/* the store connection logs only what went wrong */
	kt_log_init(KT_LOG_ERROR, 2);
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("kontor-migrate %s (%s)\n", KT_VERSION, KT_VERSION_GIT);
		return 0;
	}
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && command(argv[1]) != NULL)
		return command(argv[1])(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "generate") == 0)
		return cmd_generate(argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "kontor-migrate: unknown command '%s'\n",
			argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
