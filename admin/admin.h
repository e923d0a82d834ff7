#ifndef KONTOR_ADMIN_H
#define KONTOR_ADMIN_H

/*
 * kontor-admin: the shared parts of the commands (admin/cmd_*.c). main.c
 * parses the global options and dispatches; each command parses its own
 * options (plus the global ones, accepted anywhere), validates every input
 * before it touches Redis, runs the model's calls through kt_cli and
 * prints text or, with --json, one JSON document.
 */

#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/cli.h"
#include "kontor/err.h"

/* Exit codes (docs/admin.md). */
#define ADM_OK 0
#define ADM_REFUSED 1	  /* not found, conflict, refused by the model */
#define ADM_USAGE 2	  /* usage error or invalid input (also a bad config) */
#define ADM_UNAVAILABLE 3 /* Redis unavailable or failing */

#define ADM_PROG "kontor-admin"
#define ADM_MAX_POS 8
#define ADM_ID_MAX 128

struct adm;

struct adm_cmd {
	const char *group;    /* "org" */
	const char *name;     /* "create" */
	const char *synopsis; /* the SYNOPSIS line(s) after "kontor-admin " */
	const char *summary;  /* one line for the overview */
	const char *help;     /* DESCRIPTION, OPTIONS, EXAMPLES */
	int (*run)(struct adm *a, const struct adm_cmd *cmd, int argc,
		   char **argv);
};

extern const struct adm_cmd adm_org_cmds[];
extern const struct adm_cmd adm_person_cmds[];
extern const struct adm_cmd adm_member_cmds[];
extern const struct adm_cmd adm_client_cmds[];
extern const struct adm_cmd adm_session_cmds[];
extern const struct adm_cmd adm_audit_cmds[];

struct adm {
	const char *config_path;
	const char *actor;
	char actor_buf[160];
	int json;
	const struct adm_cmd *cmd; /* the command running, for messages */
	struct kt_cli *cli;	   /* opened by adm_connect */
};

/* Global options, accepted by every command (values above any command's). */
enum {
	ADM_OPT_CONFIG = 0x1000,
	ADM_OPT_ACTOR,
	ADM_OPT_JSON,
	ADM_OPT_HELP,
};

/* Set a global option (val is an ADM_OPT_*); 0 or an exit code. */
int adm_global_option(struct adm *a, int val, const char *arg);

/* Resolve the actor (--actor or "admin:$USER") and check it. */
int adm_actor_init(struct adm *a);

/*
 * Parse argv (argv[0] is the command name) with the command's options
 * plus the global ones. For each command option on_opt(ctx, val, optarg)
 * is called (return 0 or an exit code). Operands go to pos; their number
 * must be between min_pos and max_pos. Returns 0, an exit code, or -1 when
 * --help was printed (the caller returns ADM_OK).
 */
typedef int adm_opt_fn(struct adm *a, void *ctx, int val, const char *arg);
int adm_parse(struct adm *a, const struct adm_cmd *cmd, int argc, char **argv,
	      const struct option *opts, adm_opt_fn *on_opt, void *ctx,
	      char **pos, int min_pos, int max_pos, int *npos);

/* Print the help of one command (man-page layout) to out. */
void adm_cmd_help(const struct adm_cmd *cmd, FILE *out);

/*
 * Errors. adm_fail prints "kontor-admin <group> <name>: <message>" on
 * stderr and, with --json, {"error": {"code", "message"}} on stdout, and
 * returns exit. code is the machine-readable kind ("usage", "invalid",
 * "not_found", "conflict", "refused", "unavailable", "internal").
 */
int adm_fail(struct adm *a, int exit, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int adm_usage(struct adm *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int adm_invalid(struct adm *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Open the configuration and Redis once; 0 or an exit code (printed). */
int adm_connect(struct adm *a);

/*
 * Wait for a store call (see kt_cli_run) and map its outcome: 0 with
 * *result (may be NULL; new reference) on success, else the exit code
 * after printing the model's message (its "error") or "<what>: <reason>".
 * A call refused up front (start_rc) with KT_ERR_INVALID is invalid input.
 */
int adm_call(struct adm *a, int start_rc, json_t **result, const char *what);

/* Exit code and code string for a KT_ERR_* that came back from the model. */
int adm_exit_for(int rc, const char **code);

/* Print doc (--json) or call human(a, doc) to print text. */
void adm_print(struct adm *a, json_t *doc,
	       void (*human)(struct adm *a, json_t *doc));

/* Human output helpers. */
void adm_kv(const char *key, const char *value);
const char *adm_str(json_t *obj, const char *key); /* "" when absent */
void adm_time(char out[32], const char *epoch);	   /* "-" when absent */

/*
 * Input checks; each returns 0 or prints the error and returns ADM_USAGE.
 * adm_check_text: valid UTF-8 of at most max bytes, no control characters,
 * and no '{' or '}' (they would move a Redis Cluster hash tag), non-empty
 * unless allow_empty.
 * adm_check_id: 1..ADM_ID_MAX characters of A-Z a-z 0-9 - . _ ~.
 */
int adm_check_text(struct adm *a, const char *what, const char *s, size_t max,
		   int allow_empty);
int adm_check_id(struct adm *a, const char *what, const char *s);

/*
 * A person given as email (contains '@') or id: 0 and *person (new
 * reference; without pwhash, totp, recovery), or an exit code (printed).
 */
int adm_person(struct adm *a, const char *ref, json_t **person);

/* The person record without secrets, plus has_password / totp flags. */
json_t *adm_person_public(json_t *person);

#endif
