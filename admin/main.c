/*
 * kontor-admin: argument parsing and dispatch only. The commands are in
 * admin/cmd_*.c, the model in lib/ (account.c, store.c, client.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/log.h"
#include "kontor/version.h"

#include "admin.h"

static const struct adm_cmd *const groups[] = {
    adm_org_cmds,    adm_person_cmds,  adm_member_cmds,
    adm_client_cmds, adm_session_cmds, adm_audit_cmds,
};

#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static void overview(FILE *out, const char *only_group)
{
	if (only_group == NULL)
		fputs("NAME\n"
		      "    kontor-admin - administer kontor company accounts\n"
		      "\n",
		      out);
	fputs("SYNOPSIS\n", out);
	for (size_t g = 0; g < N_GROUPS; g++)
		for (const struct adm_cmd *c = groups[g]; c->name; c++)
			if (only_group == NULL ||
			    strcmp(only_group, c->group) == 0)
				fprintf(out, "    %s %s\n", ADM_PROG,
					c->synopsis);
	if (only_group != NULL) {
		fputs("\nCOMMANDS\n", out);
		for (size_t g = 0; g < N_GROUPS; g++)
			for (const struct adm_cmd *c = groups[g]; c->name; c++)
				if (strcmp(only_group, c->group) == 0)
					fprintf(out, "    %-14s %s\n", c->name,
						c->summary);
		fprintf(out, "\nSee '%s %s COMMAND --help' for each.\n",
			ADM_PROG, only_group);
		return;
	}
	fputs(
	    "\n"
	    "DESCRIPTION\n"
	    "    Manages what the gateway (kontor-idp) serves from Redis:\n"
	    "    organisations (the unified company accounts), people, their\n"
	    "    memberships and roles, dynamically registered relying\n"
	    "    parties, browser sessions, and the audit stream. Every "
	    "change\n"
	    "    goes through the account model (one atomic Lua script per\n"
	    "    change) and is recorded in the audit stream with the actor.\n"
	    "    Every input is checked before anything is written.\n"
	    "\n"
	    "    Global options may stand before or after the command. Each\n"
	    "    command explains itself: kontor-admin GROUP COMMAND --help.\n"
	    "\n"
	    "GLOBAL OPTIONS\n"
	    "    --config FILE   the gateway configuration: Redis address,\n"
	    "                    timeout and keys.dir\n"
	    "    --actor NAME    who acts, recorded in the audit stream\n"
	    "                    (default admin:$USER)\n"
	    "    --json          print one JSON document instead of text;\n"
	    "                    errors become {\"error\": {\"code\", "
	    "\"message\",\n"
	    "                    \"exit\"}} on standard output (the message "
	    "is\n"
	    "                    also written to standard error)\n"
	    "    -h, --help      print help and exit\n"
	    "    -V, --version   print the version and exit\n"
	    "\n"
	    "ENVIRONMENT\n"
	    "    KONTOR_REDIS_URL  overrides the configuration's redis.url;\n"
	    "                      without --config it is required\n"
	    "                      (redis://[:password@]host[:port][/db] or\n"
	    "                      unix:///path[?db=N])\n"
	    "    USER              the default actor's name\n"
	    "\n"
	    "EXIT STATUS\n"
	    "    0  success\n"
	    "    1  not found, conflict, or refused by the account model\n"
	    "       (e.g. the last admin, a merged organisation)\n"
	    "    2  usage error or invalid input (also an unusable --config)\n"
	    "    3  Redis unavailable or failing\n"
	    "\n"
	    "EXAMPLES\n"
	    "    export KONTOR_REDIS_URL=redis://127.0.0.1:6379/0\n"
	    "    kontor-admin org create --legal-name 'Muster GmbH' \\\n"
	    "        --legal-form GmbH --vat DE123456788 \\\n"
	    "        --register 'HRB 1234, Amtsgericht Kiel' --source SH:4711\n"
	    "    kontor-admin person create --email anna@example.de \\\n"
	    "        --name 'Anna Muster' --password-env PW\n"
	    "    kontor-admin member add ORG anna@example.de --role admin\n"
	    "    kontor-admin --json org find --vat DE123456788\n"
	    "    kontor-admin audit tail -n 20 --object org:ORG --follow\n"
	    "\n"
	    "SEE ALSO\n"
	    "    docs/admin.md, docs/data-model.md, kontor-idp(1)\n",
	    out);
}

int main(int argc, char **argv)
{
	struct adm a;
	const struct adm_cmd *cmd = NULL;
	const char *group = NULL;
	int i = 1, r;

	memset(&a, 0, sizeof(a));
	kt_log_init(KT_LOG_ERROR, 2);

	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i], *eq = strchr(o, '=');
		size_t n = eq ? (size_t)(eq - o) : strlen(o);
		int val = 0;

		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			overview(stdout, NULL);
			return ADM_OK;
		}
		if (strcmp(o, "-V") == 0 || strcmp(o, "--version") == 0) {
			printf("%s %s (%s)\n", ADM_PROG, KT_VERSION,
			       KT_VERSION_GIT);
			return ADM_OK;
		}
		const char *arg = eq ? eq + 1 : NULL;

		if (n == 8 && strncmp(o, "--config", n) == 0)
			val = ADM_OPT_CONFIG;
		else if (n == 7 && strncmp(o, "--actor", n) == 0)
			val = ADM_OPT_ACTOR;
		else if (strcmp(o, "--json") == 0)
			val = ADM_OPT_JSON;
		else
			return adm_usage(&a, "unknown option '%s'", o);
		if (val != ADM_OPT_JSON && arg == NULL) {
			if (i + 1 >= argc)
				return adm_usage(&a, "%.*s needs a value",
						 (int)n, o);
			arg = argv[++i];
		}
		if ((r = adm_global_option(&a, val, arg)) != 0)
			return r;
	}
	if (i >= argc) {
		overview(stderr, NULL);
		return ADM_USAGE;
	}
	group = argv[i];
	for (size_t g = 0; g < N_GROUPS && cmd == NULL; g++) {
		if (strcmp(groups[g][0].group, group) != 0)
			continue;
		if (i + 1 >= argc || argv[i + 1][0] == '-') {
			int help = i + 1 < argc &&
				   (strcmp(argv[i + 1], "--help") == 0 ||
				    strcmp(argv[i + 1], "-h") == 0);
			if (!help)
				fprintf(stderr, "%s %s: which command?\n\n",
					ADM_PROG, group);
			overview(help ? stdout : stderr, group);
			return help ? ADM_OK : ADM_USAGE;
		}
		for (const struct adm_cmd *c = groups[g]; c->name; c++)
			if (strcmp(c->name, argv[i + 1]) == 0)
				cmd = c;
		if (cmd == NULL) {
			fprintf(stderr, "%s: unknown command '%s %s'\n\n",
				ADM_PROG, group, argv[i + 1]);
			overview(stderr, group);
			return ADM_USAGE;
		}
	}
	if (cmd == NULL) {
		fprintf(stderr, "%s: unknown command '%s'\n", ADM_PROG, group);
		fprintf(stderr, "Try '%s --help'.\n", ADM_PROG);
		return ADM_USAGE;
	}
	a.cmd = cmd;
	r = cmd->run(&a, cmd, argc - i - 1, argv + i + 1);
	kt_cli_free(a.cli);
	return r < 0 ? ADM_OK : r;
}
