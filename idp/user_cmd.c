/*
 * `kontor-idp user add`: creates a person (email + password). It runs its
 * own private event loop for the asynchronous store API, so the same code
 * path writes accounts here and in the gateway.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/cli.h"
#include "kontor/config.h"
#include "kontor/log.h"
#include "kontor/password.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "user_cmd.h"

static void usage(FILE *out)
{
	fputs("Usage: kontor-idp user add --config FILE --email ADDRESS\n"
	      "                           [--name NAME] [--verified]\n"
	      "                           [--password-env VAR | "
	      "--password-stdin]\n"
	      "                           [--exists-ok] "
	      "[--allow-weak-password]\n"
	      "\n"
	      "Creates a person account in the Redis store named by FILE\n"
	      "(or KONTOR_REDIS_URL). The password is read from the\n"
	      "environment variable VAR or from the first line of standard\n"
	      "input, never from the command line, and hashed with the\n"
	      "configured scrypt parameters.\n"
	      "\n"
	      "  --exists-ok             exit 0 if the email is already "
	      "registered\n"
	      "  --allow-weak-password   skip the password policy (12+ "
	      "characters);\n"
	      "                          for seeding demo accounts only\n"
	      "\n"
	      "Exit status: 0 created (or exists with --exists-ok), 1 error,\n"
	      "2 usage error.\n",
	      out);
}

static char *read_password(const char *env, int from_stdin)
{
	char buf[1100];
	size_t n;

	if (env != NULL) {
		const char *v = getenv(env);
		return v ? strdup(v) : NULL;
	}
	if (!from_stdin || fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	{
		char *p = strdup(buf);
		OPENSSL_cleanse(buf, sizeof(buf));
		return p;
	}
}

int kt_idp_user_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"email", required_argument, NULL, 'e'},
	    {"name", required_argument, NULL, 'n'},
	    {"verified", no_argument, NULL, 'v'},
	    {"password-env", required_argument, NULL, 'P'},
	    {"password-stdin", no_argument, NULL, 'S'},
	    {"exists-ok", no_argument, NULL, 'x'},
	    {"allow-weak-password", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *email = NULL, *name = NULL, *env = NULL;
	const char *reason = NULL;
	int verified = 0, from_stdin = 0, exists_ok = 0, weak_ok = 0, c,
	    ret = 1;
	int rc;
	struct kt_cli *cli = NULL;
	struct kt_password_params params;
	struct kt_error err;
	char *pw = NULL, *hash = NULL;
	json_t *person = NULL, *res = NULL;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout
								  : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'e':
			email = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'v':
			verified = 1;
			break;
		case 'P':
			env = optarg;
			break;
		case 'S':
			from_stdin = 1;
			break;
		case 'x':
			exists_ok = 1;
			break;
		case 'W':
			weak_ok = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL || email == NULL || (env == NULL) == !from_stdin) {
		usage(stderr);
		return 2;
	}
	if (strlen(email) > 254 || strchr(email, '@') == NULL) {
		fprintf(stderr, "kontor-idp user: not an email address: %s\n",
			email);
		return 2;
	}
	if ((pw = read_password(env, from_stdin)) == NULL) {
		fprintf(stderr, "kontor-idp user: no password given\n");
		return 2;
	}
	if (!weak_ok && kt_password_policy_check(pw, &reason) != KT_OK) {
		fprintf(stderr, "kontor-idp user: password rejected: %s\n",
			kt_password_policy_describe(reason));
		goto out;
	}
	if (kt_cli_open(config, &cli, &err) != KT_OK) {
		fprintf(stderr, "kontor-idp user: %s\n", err.msg);
		goto out;
	}
	kt_config_password_params(kt_cli_config(cli), &params);
	if (kt_password_hash(pw, &params, &hash, &err) != KT_OK) {
		fprintf(stderr, "kontor-idp user: %s\n", err.msg);
		goto out;
	}
	person = json_pack("{s:s,s:s,s:s,s:s}", "email", email, "name",
			   name ? name : "", "pwhash", hash, "email_verified",
			   verified ? "1" : "0");
	if (person == NULL) {
		fprintf(stderr, "kontor-idp user: out of memory\n");
		goto out;
	}
	rc = kt_cli_run(
	    cli,
	    kt_store_person_create(kt_cli_redis(cli), person, kt_cli_done, cli),
	    &res);
	if (rc == KT_ERR_CONFLICT) {
		if (exists_ok) {
			printf("exists: %s\n", email);
			ret = 0;
		} else {
			fprintf(stderr,
				"kontor-idp user: %s is already "
				"registered\n",
				email);
		}
		goto out;
	}
	if (rc != KT_OK) {
		fprintf(stderr, "kontor-idp user: %s\n", kt_strerror(rc));
		goto out;
	}
	printf("created: %s (id %s)\n", email,
	       json_string_value(json_object_get(res, "id")));
	ret = 0;
out:
	json_decref(res);
	kt_cli_free(cli);
	json_decref(person);
	kt_free_secret(hash);
	kt_free_secret(pw);
	return ret;
}
