#ifndef KONTOR_MIGRATE_CMD_MATCH_H
#define KONTOR_MIGRATE_CMD_MATCH_H

/*
 * kontor-migrate match | explain | eval: thin wrappers around the core's
 * matcher (include/kontor/match.h). Each takes the arguments after the
 * program name (argv[0] is the subcommand) and returns the exit status:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 */

int kt_migrate_match(int argc, char **argv);
int kt_migrate_explain(int argc, char **argv);
int kt_migrate_eval(int argc, char **argv);

#endif
