/*
 * kontor-migrate: consolidates the states' company-account exports into
 * unified accounts. Each subcommand lives in its own migrate/cmd_*.c; this
 * file only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_match.h"
#include "kontor/version.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: kontor-migrate [--help] [--version]\n"
	    "       kontor-migrate COMMAND [--help] ...\n"
	    "\n"
	    "Consolidates the states' company-account exports into unified\n"
	    "kontor accounts.\n"
	    "\n"
	    "Matching (docs/matching.md):\n"
	    "  match     find duplicates: blocking, scoring, clustering\n"
	    "  explain   each field's contribution to one pair's weight\n"
	    "  eval      precision, recall, F1 of clusters against a truth\n");
}

typedef int migrate_cmd_fn(int argc, char **argv);

/* The matching subcommands (migrate/cmd_match.c), or NULL. */
static migrate_cmd_fn *match_command(const char *name)
{
	if (strcmp(name, "match") == 0)
		return kt_migrate_match;
	if (strcmp(name, "explain") == 0)
		return kt_migrate_explain;
	if (strcmp(name, "eval") == 0)
		return kt_migrate_eval;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("kontor-migrate %s (%s)\n", KT_VERSION, KT_VERSION_GIT);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && match_command(argv[1]) != NULL)
		return match_command(argv[1])(argc - 1, argv + 1);
	usage(stderr);
	return 2;
}
