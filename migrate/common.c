/* What kontor-migrate's commands share. */
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"

int kt_migrate_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int kt_migrate_parse_progress(const char *s, enum kt_progress_mode *m)
{
	if (strcmp(s, "auto") == 0)
		*m =
		    isatty(STDERR_FILENO) ? KT_PROGRESS_BAR : KT_PROGRESS_LINES;
	else if (strcmp(s, "bar") == 0)
		*m = KT_PROGRESS_BAR;
	else if (strcmp(s, "plain") == 0)
		*m = KT_PROGRESS_LINES;
	else if (strcmp(s, "none") == 0)
		*m = KT_PROGRESS_OFF;
	else
		return -1;
	return 0;
}

void kt_migrate_print_json(json_t *j)
{
	json_dumpf(j, stdout,
		   JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		       JSON_REAL_PRECISION(6));
	fputc('\n', stdout);
}

long kt_migrate_peak_rss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

double kt_migrate_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
