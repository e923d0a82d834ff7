#ifndef KONTOR_TEST_RM_DIR_H
#define KONTOR_TEST_RM_DIR_H

/*
 * Remove a test's scratch directory that holds files only (keys, exports):
 * its entries, then itself. Quiet when it is already gone. Header-only like
 * the other test fixtures.
 */

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void rm_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

#endif
