#ifndef KONTOR_MIGRATE_H
#define KONTOR_MIGRATE_H

/*
 * kontor-migrate's commands (migrate/cmd_*.c) and what they share
 * (migrate/common.c). Each command takes the arguments after the program
 * name (argv[0] is the command) and returns the exit status: 0 success,
 * 1 failure (message on stderr), 2 usage error.
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/progress.h"

#define KT_MIGRATE_EXIT_USAGE 2

/* cmd_match.c: thin wrappers around the matcher (kontor/match.h). */
int kt_migrate_match(int argc, char **argv);
int kt_migrate_explain(int argc, char **argv);
int kt_migrate_eval(int argc, char **argv);

/* cmd_review.c: the review queue (kontor/review.h). */
int kt_migrate_review(int argc, char **argv);

/* cmd_plan.c: golden records and the dry run (kontor/merge.h). */
int kt_migrate_plan(int argc, char **argv);

/* cmd_apply.c: writing a plan, undoing a job (kontor/migjob.h). */
int kt_migrate_apply(int argc, char **argv);
int kt_migrate_rollback(int argc, char **argv);
int kt_migrate_status(int argc, char **argv);

/* 1 if s ends with suffix. */
int kt_migrate_has_suffix(const char *s, const char *suffix);

/* "auto" (a bar on a terminal, plain lines otherwise), "bar", "plain",
 * "none". 0 or -1 for an unknown mode. */
int kt_migrate_parse_progress(const char *s, enum kt_progress_mode *m);

/* Print a summary object as indented JSON on stdout. */
void kt_migrate_print_json(json_t *j);

/* Peak resident set size of this process in MiB. */
long kt_migrate_peak_rss_mib(void);

/* Monotonic seconds. */
double kt_migrate_now(void);

/* "kontor-migrate CMD: msg" and the --help hint on stderr; returns 2. */
int kt_migrate_usage(const char *cmd, const char *msg);
/* "kontor-migrate CMD: msg" on stderr; returns 1. */
int kt_migrate_fail(const char *cmd, const char *msg);

/* Size of a regular file, 0 if unknown (progress totals). */
uint64_t kt_migrate_file_size(const char *path);

/* 1 if KONTOR_REDIS_URL names a store. */
int kt_migrate_store_configured(void);

/* o[key] += n (integers). */
void kt_migrate_count(json_t *o, const char *key, json_int_t n);

/*
 * Write a file through a temporary one next to it (mode 0600, renamed at
 * the end), the content produced by fn(ctx, out). 0 or KT_ERR_IO with the
 * path in err.
 */
typedef int kt_migrate_writer(const void *ctx, FILE *out);
int kt_migrate_write_file(const char *path, kt_migrate_writer *fn,
			  const void *ctx, struct kt_error *err);

/*
 * One call of a pipelined batch: the callback (kt_migrate_slot_done) keeps
 * the result and decrements *pending, so kt_cli_wait can wait for the
 * batch. keep_line: the caller's copy of the unit text, if it wants it.
 */
#define KT_MIGRATE_BATCH_MAX 1000
struct kt_migrate_slot {
	unsigned *pending;
	uint64_t n;
	int rc;
	json_t *res; /* new reference */
	char *keep_line;
	char id[48];
};
void kt_migrate_slot_done(int rc, json_t *res, void *arg);

#endif
