/* What kontor-migrate's commands share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int kt_migrate_usage(const char *cmd, const char *msg)
{
	fprintf(stderr,
		"kontor-migrate %s: %s\n(try 'kontor-migrate %s --help')\n",
		cmd, msg, cmd);
	return KT_MIGRATE_EXIT_USAGE;
}

int kt_migrate_fail(const char *cmd, const char *msg)
{
	fprintf(stderr, "kontor-migrate %s: %s\n", cmd, msg);
	return 1;
}

uint64_t kt_migrate_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	return (uint64_t)st.st_size;
}

int kt_migrate_store_configured(void)
{
	const char *u = getenv("KONTOR_REDIS_URL");

	return u != NULL && *u != '\0';
}

void kt_migrate_count(json_t *o, const char *key, json_int_t n)
{
	json_t *v = json_object_get(o, key);

	json_object_set_new(o, key, json_integer(json_integer_value(v) + n));
}

int kt_migrate_write_file(const char *path, kt_migrate_writer *fn,
			  const void *ctx, struct kt_error *err)
{
	char tmp[4200];
	FILE *f;
	int fd, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp))
		return kt_error_set(err, KT_ERR_LIMIT, "%s: path too long",
				    path);
	if ((fd = mkstemp(tmp)) < 0)
		return kt_error_set(err, KT_ERR_IO, "%s: cannot write: %s",
				    path, strerror(errno));
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return kt_error_set(err, KT_ERR_IO, "%s: cannot write", path);
	}
	r = fn(ctx, f);
	if (fclose(f) != 0 && r == KT_OK)
		r = KT_ERR_IO;
	if (r == KT_OK && rename(tmp, path) != 0)
		r = KT_ERR_IO;
	if (r != KT_OK) {
		unlink(tmp);
		return kt_error_set(err, r, "%s: cannot write: %s", path,
				    kt_strerror(r));
	}
	return KT_OK;
}

void kt_migrate_slot_done(int rc, json_t *res, void *arg)
{
	struct kt_migrate_slot *s = arg;

	s->rc = rc;
	s->res = json_incref(res);
	(*s->pending)--;
}
