/*
 * kontor-migrate: consolidates the states' company-account exports into
 * unified accounts. The importer, normaliser and matcher arrive with their
 * issue; until then the program only answers --help and --version.
 */
#include <stdio.h>
#include <string.h>

#include "kontor/version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kontor-migrate [--help] [--version]\n"
		"\n"
		"Consolidates the states' company-account exports into unified\n"
		"kontor accounts. The import, matching and merge commands are not\n"
		"part of this release yet.\n");
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
	usage(stderr);
	return 2;
}
