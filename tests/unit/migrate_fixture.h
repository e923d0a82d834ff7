#ifndef KONTOR_TEST_MIGRATE_FIXTURE_H
#define KONTOR_TEST_MIGRATE_FIXTURE_H

/*
 * The generator's fixture (tests/data/migrate: 1600 rows of all sixteen
 * Länder) imported into a fresh temp dir, for the tests of the stages after
 * the import. Header-only, like redis_server.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kontor/import.h"

static const char *const fixture_lands[] = {"bw", "by", "be", "bb", "hb", "hh",
					    "he", "mv", "ni", "nw", "rp", "sl",
					    "sn", "st", "sh", "th"};

struct migrate_fixture {
	char dir[64];
	char records[128]; /* records.jsonl */
	char truth[512];   /* tests/data/migrate/truth.csv */
	struct kt_import_summary sum;
};

/* Import the fixture; 0 or -1 with a message on stderr. */
static inline int migrate_fixture_import(struct migrate_fixture *fx)
{
	const char *data = getenv("KONTOR_TEST_DATA");
	struct kt_import_source src[16];
	char maps[16][512], files[16][512];
	const char *fl[16];
	struct kt_import_opts o;
	struct kt_error err;
	char rej[128];

	memset(fx, 0, sizeof(*fx));
	if (data == NULL) {
		fprintf(stderr, "KONTOR_TEST_DATA not set (run through "
				"ctest)\n");
		return -1;
	}
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/kt_mfx_XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	for (int i = 0; i < 16; i++) {
		const char *ext = strcmp(fixture_lands[i], "be") == 0 ||
					  strcmp(fixture_lands[i], "hh") == 0
				      ? "jsonl"
				      : "csv";

		snprintf(maps[i], sizeof(maps[i]), "%s/migrate/%s.mapping.json",
			 data, fixture_lands[i]);
		snprintf(files[i], sizeof(files[i]), "%s/migrate/%s.%s", data,
			 fixture_lands[i], ext);
		fl[i] = files[i];
		src[i].mapping_path = maps[i];
		src[i].files = &fl[i];
		src[i].n_files = 1;
	}
	snprintf(fx->records, sizeof(fx->records), "%s/records.jsonl", fx->dir);
	snprintf(rej, sizeof(rej), "%s/rejects.csv", fx->dir);
	snprintf(fx->truth, sizeof(fx->truth), "%s/migrate/truth.csv", data);
	memset(&o, 0, sizeof(o));
	o.out_path = fx->records;
	o.rejects_path = rej;
	o.progress = KT_PROGRESS_OFF;
	if (kt_import_run(src, 16, &o, &fx->sum, &err) != KT_OK) {
		fprintf(stderr, "fixture import: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Remove the temp dir and what the tests left in it. */
static inline void migrate_fixture_remove(struct migrate_fixture *fx)
{
	char cmd[128];

	if (fx->dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", fx->dir);
}

#endif
