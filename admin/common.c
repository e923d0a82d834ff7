/*
 * kontor-admin: option parsing, errors and exit codes, output, input
 * checks and person lookup shared by every command.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kontor/store.h"
#include "kontor/util.h"

#include "admin.h"

static const struct option global_opts[] = {
    {"config", required_argument, NULL, ADM_OPT_CONFIG},
    {"actor", required_argument, NULL, ADM_OPT_ACTOR},
    {"json", no_argument, NULL, ADM_OPT_JSON},
    {"help", no_argument, NULL, ADM_OPT_HELP},
};

#define N_GLOBAL (sizeof(global_opts) / sizeof(global_opts[0]))
#define MAX_OPTS 48

/* Errors ------------------------------------------------------------------ */

static int vfail(struct adm *a, int exit, const char *code, const char *fmt,
		 va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (a->cmd != NULL)
		fprintf(stderr, "%s %s %s: %s\n", ADM_PROG, a->cmd->group,
			a->cmd->name, msg);
	else
		fprintf(stderr, "%s: %s\n", ADM_PROG, msg);
	if (a->json) {
		json_t *doc = json_pack("{s:{s:s,s:s,s:i}}", "error", "code",
					code, "message", msg, "exit", exit);
		if (doc != NULL)
			json_dumpf(doc, stdout,
				   JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(doc);
	}
	return exit;
}

int adm_fail(struct adm *a, int exit, const char *code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(a, exit, code, fmt, ap);
	va_end(ap);
	return r;
}

int adm_usage(struct adm *a, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(a, ADM_USAGE, "usage", fmt, ap);
	va_end(ap);
	if (a->cmd != NULL)
		fprintf(stderr, "Try '%s %s %s --help'.\n", ADM_PROG,
			a->cmd->group, a->cmd->name);
	return r;
}

int adm_invalid(struct adm *a, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(a, ADM_USAGE, "invalid", fmt, ap);
	va_end(ap);
	return r;
}

int adm_exit_for(int rc, const char **code)
{
	switch (rc) {
	case KT_ERR_NOTFOUND:
		*code = "not_found";
		return ADM_REFUSED;
	case KT_ERR_CONFLICT:
		*code = "conflict";
		return ADM_REFUSED;
	case KT_ERR_DENIED:
	case KT_ERR_INVALID:
	case KT_ERR_UNSUPPORTED:
	case KT_ERR_EXPIRED:
		*code = "refused";
		return ADM_REFUSED;
	case KT_ERR_UNAVAILABLE:
	case KT_ERR_REDIS:
		*code = "unavailable";
		return ADM_UNAVAILABLE;
	default:
		*code = "internal";
		return ADM_REFUSED;
	}
}

/* Options ------------------------------------------------------------------ */

int adm_global_option(struct adm *a, int val, const char *arg)
{
	switch (val) {
	case ADM_OPT_CONFIG:
		if (arg == NULL || *arg == '\0')
			return adm_usage(a, "--config: file name is empty");
		a->config_path = arg;
		return 0;
	case ADM_OPT_ACTOR:
		a->actor = arg;
		return 0;
	case ADM_OPT_JSON:
		a->json = 1;
		return 0;
	default:
		return ADM_USAGE;
	}
}

int adm_actor_init(struct adm *a)
{
	const char *user;
	struct passwd *pw;

	if (a->actor == NULL) {
		user = getenv("USER");
		if ((user == NULL || *user == '\0') &&
		    (pw = getpwuid(getuid())) != NULL)
			user = pw->pw_name;
		snprintf(a->actor_buf, sizeof(a->actor_buf), "admin:%s",
			 user && *user ? user : "unknown");
		a->actor = a->actor_buf;
	}
	/* The actor is recorded in the audit stream and checked like an
	 * identifier by the model. */
	if (strlen(a->actor) > ADM_ID_MAX)
		return adm_invalid(a, "--actor: longer than %d bytes",
				   ADM_ID_MAX);
	return adm_check_text(a, "--actor", a->actor, ADM_ID_MAX, 0);
}

static const char *option_name(const struct option *opts, int val)
{
	for (; opts->name != NULL; opts++)
		if (opts->val == val)
			return opts->name;
	return "?";
}

/*
 * Generated ids and session ids are base64url and may begin with '-'. An
 * argument with a single '-' that is not one of the command's short
 * options is therefore an operand (or an option's value): getopt would
 * take it for options, so it is hidden behind a placeholder during the
 * parse and restored afterwards.
 */
#define MAX_ARGS 256
#define HIDDEN '\001'

static int is_short_option(const char *shorts, const char *arg)
{
	const char *p;

	if (arg[0] != '-' || arg[1] == '-' || arg[1] == '\0')
		return 1; /* not single-dash: getopt's business */
	if (arg[1] == ':' || (p = strchr(shorts, arg[1])) == NULL)
		return 0;
	/* "-h", "-n"; "-n10" only for an option that takes a value */
	return arg[2] == '\0' || p[1] == ':';
}

static char *unhide(char **orig, char *s)
{
	if (s != NULL && s[0] == HIDDEN)
		return orig[strtol(s + 1, NULL, 10)];
	return s;
}

int adm_parse(struct adm *a, const struct adm_cmd *cmd, int argc, char **orig,
	      const struct option *opts, adm_opt_fn *on_opt, void *ctx,
	      char **pos, int min_pos, int max_pos, int *npos)
{
	struct option all[MAX_OPTS + N_GLOBAL + 1];
	char shorts[2 * MAX_OPTS + 8], hidden[MAX_ARGS][16];
	char *argv[MAX_ARGS + 1];
	size_t n = 0, s = 0;
	int c, r, help = 0;

	*npos = 0;
	shorts[s++] = ':'; /* report a missing argument as ':' */
	shorts[s++] = 'h';
	for (; opts != NULL && opts[n].name != NULL; n++) {
		all[n] = opts[n];
		if (opts[n].val > 0 && opts[n].val < 128) {
			shorts[s++] = (char)opts[n].val;
			if (opts[n].has_arg == required_argument)
				shorts[s++] = ':';
		}
	}
	shorts[s] = '\0';
	for (size_t i = 0; i < N_GLOBAL; i++)
		all[n++] = global_opts[i];
	memset(&all[n], 0, sizeof(all[n]));
	if (argc > MAX_ARGS)
		return adm_usage(a, "more than %d arguments", MAX_ARGS);
	for (int i = 0; i < argc; i++) {
		argv[i] = orig[i];
		if (i > 0 && !is_short_option(shorts, orig[i])) {
			snprintf(hidden[i], sizeof(hidden[i]), "%c%d", HIDDEN,
				 i);
			argv[i] = hidden[i];
		}
	}
	argv[argc] = NULL;

	optind = 0; /* glibc: full re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		if (c == '?') {
			if (optopt > 0 && optopt < 128)
				return adm_usage(a, "unknown option '-%c'",
						 optopt);
			/* Generated ids may start with '-'. */
			return adm_usage(a, "unknown option '%s'",
					 unhide(orig, argv[optind - 1]));
		}
		if (c == ':') {
			if (optopt >= ADM_OPT_CONFIG)
				return adm_usage(a, "--%s needs a value",
						 option_name(all, optopt));
			if (optopt > 0 && optopt < 128)
				return adm_usage(a, "-%c needs a value",
						 optopt);
			return adm_usage(a, "%s needs a value",
					 unhide(orig, argv[optind - 1]));
		}
		if (c == 'h' || c == ADM_OPT_HELP) {
			help = 1;
			continue;
		}
		if (c >= ADM_OPT_CONFIG) {
			if ((r = adm_global_option(a, c,
						   unhide(orig, optarg))) != 0)
				return r;
			continue;
		}
		if ((r = on_opt(a, ctx, c, unhide(orig, optarg))) != 0)
			return r;
	}
	if (help) {
		adm_cmd_help(cmd, stdout);
		return -1;
	}
	for (int i = optind; i < argc; i++) {
		if (*npos >= max_pos)
			return adm_usage(a, "unexpected argument '%s'",
					 unhide(orig, argv[i]));
		pos[(*npos)++] = unhide(orig, argv[i]);
	}
	if (*npos < min_pos)
		return adm_usage(a, "missing argument (%d expected, %d given)",
				 min_pos, *npos);
	return adm_actor_init(a);
}

void adm_cmd_help(const struct adm_cmd *cmd, FILE *out)
{
	fprintf(
	    out,
	    "NAME\n"
	    "    %s %s %s - %s\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    %s %s\n"
	    "\n"
	    "%s"
	    "\n"
	    "GLOBAL OPTIONS\n"
	    "    --config FILE   the gateway configuration: Redis address,\n"
	    "                    timeout and keys.dir (KONTOR_REDIS_URL\n"
	    "                    overrides the Redis address; without FILE\n"
	    "                    it is required)\n"
	    "    --actor NAME    who acts, recorded in the audit stream\n"
	    "                    (default admin:$USER)\n"
	    "    --json          print one JSON document (errors too, as\n"
	    "                    {\"error\": {\"code\", \"message\", "
	    "\"exit\"}})\n"
	    "    -h, --help      print this help and exit\n"
	    "\n"
	    "EXIT STATUS\n"
	    "    0  success\n"
	    "    1  not found, conflict, or refused by the account model\n"
	    "    2  usage error or invalid input (also an unusable --config)\n"
	    "    3  Redis unavailable or failing\n",
	    ADM_PROG, cmd->group, cmd->name, cmd->summary, ADM_PROG,
	    cmd->synopsis, cmd->help);
}

/* Redis -------------------------------------------------------------------- */

int adm_connect(struct adm *a)
{
	struct kt_error err;
	int rc;

	if (a->cli != NULL)
		return 0;
	rc = kt_cli_open(a->config_path, &a->cli, &err);
	switch (rc) {
	case KT_OK:
		return 0;
	case KT_ERR_UNAVAILABLE:
		return adm_fail(a, ADM_UNAVAILABLE, "unavailable", "%s",
				err.msg);
	case KT_ERR_NOMEM:
		return adm_fail(a, ADM_REFUSED, "internal", "%s", err.msg);
	default:
		return adm_fail(a, ADM_USAGE, "invalid", "%s", err.msg);
	}
}

int adm_call(struct adm *a, int start_rc, json_t **result, const char *what)
{
	json_t *res = NULL;
	const char *code, *msg;
	int rc = kt_cli_run(a->cli, start_rc, &res), exit;

	if (result != NULL)
		*result = NULL;
	if (rc == KT_OK) {
		if (result != NULL)
			*result = res;
		else
			json_decref(res);
		return 0;
	}
	if (start_rc != KT_OK) {
		json_decref(res);
		if (rc == KT_ERR_UNAVAILABLE)
			return adm_fail(a, ADM_UNAVAILABLE, "unavailable",
					"%s: Redis at %s is unavailable", what,
					kt_cli_redis_where(a->cli));
		if (rc == KT_ERR_INVALID || rc == KT_ERR_LIMIT)
			return adm_invalid(a, "%s: invalid input", what);
		return adm_fail(a, ADM_REFUSED, "internal", "%s: %s", what,
				kt_strerror(rc));
	}
	exit = adm_exit_for(rc, &code);
	msg = json_string_value(json_object_get(res, "error"));
	if (rc == KT_ERR_UNAVAILABLE)
		exit = adm_fail(a, exit, code, "%s: Redis at %s did not answer",
				what, kt_cli_redis_where(a->cli));
	else if (msg != NULL)
		exit = adm_fail(a, exit, code, "%s", msg);
	else
		exit = adm_fail(a, exit, code, "%s: %s", what, kt_strerror(rc));
	json_decref(res);
	return exit;
}

/* Output ------------------------------------------------------------------- */

void adm_print(struct adm *a, json_t *doc,
	       void (*human)(struct adm *a, json_t *doc))
{
	if (a->json) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	} else {
		human(a, doc);
	}
	fflush(stdout);
}

void adm_kv(const char *key, const char *value)
{
	char k[40];

	snprintf(k, sizeof(k), "%s:", key);
	printf("%-16s %s\n", k, value != NULL && *value ? value : "-");
}

const char *adm_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

void adm_time(char out[32], const char *epoch)
{
	uint64_t v;
	time_t t;
	struct tm tm;

	if (epoch == NULL || *epoch == '\0') {
		snprintf(out, 32, "-");
		return;
	}
	if (kt_parse_uint(epoch, (uint64_t)1 << 40, &v) != KT_OK) {
		snprintf(out, 32, "%.31s", epoch);
		return;
	}
	t = (time_t)v;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Input checks ---------------------------------------------------------------
 */

int adm_check_text(struct adm *a, const char *what, const char *s, size_t max,
		   int allow_empty)
{
	size_t n = strlen(s);

	if (n == 0 && !allow_empty)
		return adm_invalid(a, "%s: must not be empty", what);
	if (n > max)
		return adm_invalid(a, "%s: longer than %zu bytes", what, max);
	if (!kt_utf8_valid(s, n))
		return adm_invalid(a, "%s: not valid UTF-8", what);
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return adm_invalid(
			    a, "%s: contains a control character", what);
		if (*p == '{' || *p == '}')
			return adm_invalid(a, "%s: must not contain '{' or '}'",
					   what);
	}
	return 0;
}

int adm_check_id(struct adm *a, const char *what, const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return adm_invalid(a, "%s: must not be empty", what);
	if (n > ADM_ID_MAX)
		return adm_invalid(a, "%s: longer than %d characters", what,
				   ADM_ID_MAX);
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~'))
			return adm_invalid(a,
					   "%s: '%s' is not an identifier "
					   "(A-Z a-z 0-9 - . _ ~)",
					   what, s);
	}
	return 0;
}

/* People ------------------------------------------------------------------- */

json_t *adm_person_public(json_t *person)
{
	json_t *p = json_deep_copy(person);
	const char *totp;

	if (p == NULL)
		return NULL;
	totp = json_string_value(json_object_get(person, "totp"));
	json_object_set_new(
	    p, "password",
	    json_string(json_object_get(person, "pwhash") ? "set" : "none"));
	json_object_set_new(p, "totp",
			    json_string(totp && *totp ? "enrolled" : "none"));
	json_object_del(p, "pwhash");
	json_object_del(p, "recovery");
	return p;
}

int adm_person(struct adm *a, const char *ref, json_t **person)
{
	json_t *res = NULL;
	int r, rc;

	*person = NULL;
	if (strchr(ref, '@') != NULL) {
		if ((r = adm_check_text(a, "person", ref, 254, 0)) != 0)
			return r;
		rc = kt_cli_run(a->cli,
				kt_store_person_by_email(kt_cli_redis(a->cli),
							 ref, kt_cli_done,
							 a->cli),
				&res);
		if (rc == KT_ERR_NOTFOUND)
			return adm_fail(a, ADM_REFUSED, "not_found",
					"no person with email %s", ref);
	} else {
		if ((r = adm_check_id(a, "person", ref)) != 0)
			return r;
		rc = kt_cli_run(a->cli,
				kt_store_person_get(kt_cli_redis(a->cli), ref,
						    kt_cli_done, a->cli),
				&res);
		if (rc == KT_ERR_NOTFOUND)
			return adm_fail(a, ADM_REFUSED, "not_found",
					"no person %s", ref);
	}
	if (rc != KT_OK) {
		const char *code;
		int exit = adm_exit_for(rc, &code);

		json_decref(res);
		return adm_fail(a, exit, code, "person %s: %s", ref,
				kt_strerror(rc));
	}
	*person = res;
	return 0;
}
