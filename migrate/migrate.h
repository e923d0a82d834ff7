#ifndef KONTOR_MIGRATE_H
#define KONTOR_MIGRATE_H

/*
 * kontor-migrate's commands (migrate/cmd_*.c) and what they share
 * (migrate/common.c). Each command takes the arguments after the program
 * name (argv[0] is the command) and returns the exit status: 0 success,
 * 1 failure (message on stderr), 2 usage error.
 */

#include <stdio.h>

#include <jansson.h>

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

#endif
