/*
 * kontor-idp: argument parsing and startup only; everything else is in
 * the gateway library (idp/) and the core (lib/).
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/config.h"
#include "kontor/html.h"
#include "kontor/log.h"
#include "kontor/util.h"
#include "kontor/version.h"

#include "gateway.h"
#include "keys_cmd.h"
#include "user_cmd.h"

static void usage(FILE *out)
{
	fputs(
	    "NAME\n"
	    "    kontor-idp - OpenID Connect gateway for unified company "
	    "accounts\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    kontor-idp --config FILE [--check-config] [--dump-config]\n"
	    "    kontor-idp keys generate|rotate|prune|list [OPTIONS]\n"
	    "    kontor-idp user add --config FILE --email ADDRESS [OPTIONS]\n"
	    "    kontor-idp --version | --help\n"
	    "\n"
	    "DESCRIPTION\n"
	    "    Serves the OpenID Connect provider described by the JSON\n"
	    "    configuration FILE: discovery, JWKS, authorization (with "
	    "login,\n"
	    "    consent and account pages in German and English), token,\n"
	    "    userinfo, introspection, revocation, logout, dynamic\n"
	    "    registration, PAR, /healthz and /metrics.\n"
	    "\n"
	    "OPTIONS\n"
	    "    -c, --config FILE    configuration file (required to serve)\n"
	    "    -t, --check-config   validate FILE and the signing keys, "
	    "then exit\n"
	    "    -T, --dump-config    print the effective configuration "
	    "(secrets\n"
	    "                         redacted) and exit\n"
	    "    -V, --version        print the version and exit\n"
	    "    -h, --help           print this help and exit\n"
	    "\n"
	    "ENVIRONMENT\n"
	    "    KONTOR_PORT          overrides listen.port\n"
	    "    KONTOR_REDIS_URL     overrides redis.url\n"
	    "\n"
	    "SIGNALS\n"
	    "    SIGHUP    reload clients and signing keys from FILE and keys/;\n"
	    "              on any error the running configuration stays\n"
	    "    SIGTERM   stop accepting, finish in-flight requests (at most "
	    "10 s),\n"
	    "              exit 0\n"
	    "\n"
	    "EXIT STATUS\n"
	    "    0 success, 1 runtime or configuration error, 2 usage error\n"
	    "\n"
	    "SEE ALSO\n"
	    "    docs/configuration.md, docs/architecture.md, keys/README.md\n",
	    out);
}

static int apply_env(struct kt_config *cfg, struct kt_error *err)
{
	const char *port = getenv("KONTOR_PORT");
	const char *redis = getenv("KONTOR_REDIS_URL");

	if (port != NULL && *port != '\0') {
		uint64_t v;
		if (kt_parse_uint(port, 65535, &v) != KT_OK || v == 0)
			return kt_error_set(err, KT_ERR_INVALID,
					    "KONTOR_PORT: not a port number: "
					    "'%s'",
					    port);
		cfg->listen_port = (int)v;
	}
	if (redis != NULL && *redis != '\0' &&
	    kt_config_set_redis_url(cfg, redis, err) != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID, "KONTOR_REDIS_URL: %s",
				    err->msg);
	return KT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 't'},
	    {"dump-config", no_argument, NULL, 'T'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	struct kt_config *cfg = NULL;
	struct kt_gateway gw;
	struct kt_runtime *rt = NULL;
	struct kt_error err;
	enum kt_log_level level;
	int check = 0, dump = 0, c, rc;

	kt_error_clear(&err);
	if (argc >= 2 && strcmp(argv[1], "keys") == 0)
		return kt_idp_keys_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "user") == 0) {
		kt_log_init(KT_LOG_WARN, 2);
		return kt_idp_user_main(argc - 1, argv + 1);
	}

	while ((c = getopt_long(argc, argv, "c:tTVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'T':
			dump = 1;
			break;
		case 'V':
			printf("kontor-idp %s (%s)\n", KT_VERSION,
			       KT_VERSION_GIT);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || config_path == NULL) {
		fprintf(stderr, "kontor-idp: --config FILE is required\n");
		usage(stderr);
		return 2;
	}
	if (kt_config_load_file(config_path, &cfg, &err) != KT_OK) {
		fprintf(stderr, "kontor-idp: %s\n", err.msg);
		return 1;
	}
	if (kt_log_level_parse(cfg->log_level_name, &level) == KT_OK)
		kt_log_init(level, 2);
	if (dump) {
		kt_config_dump(cfg, stdout);
		kt_config_free(cfg);
		return 0;
	}
	if (check) {
		/* Also proves that the keys load with this configuration. */
		rc = kt_runtime_new(cfg, &rt, &err);
		if (rc != KT_OK) {
			fprintf(stderr, "kontor-idp: %s\n", err.msg);
			kt_config_free(cfg);
			return 1;
		}
		kt_runtime_release(rt);
		printf("kontor-idp: configuration %s is valid\n", config_path);
		return 0;
	}
	/* Read once: a reload does not change it (docs/configuration.md). */
	kt_html_set_brand(cfg->ui_brand);
	if (apply_env(cfg, &err) != KT_OK) {
		fprintf(stderr, "kontor-idp: %s\n", err.msg);
		kt_config_free(cfg);
		return 1;
	}
	/*
	 * A password hash needs an 8 MiB scrypt buffer on a worker. With
	 * glibc's dynamic mmap threshold the first such free raises the
	 * threshold, and from then on every worker keeps its 8 MiB in its
	 * arena: RSS went from 7 to 23 MiB after the first login and stayed
	 * there. A fixed threshold keeps large blocks mmap'ed and returns them
	 * on free; nothing on the request path allocates that much.
	 */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	kt_gateway_metrics_init();
	if (kt_gateway_init(&gw, config_path, cfg, &err) != KT_OK) {
		kt_log_error("startup failed: %s", err.msg);
		fprintf(stderr, "kontor-idp: %s\n", err.msg);
		if (gw.boot_rt == NULL)
			kt_config_free(cfg);
		kt_gateway_cleanup(&gw);
		return 1;
	}
	rc = kt_gateway_run(&gw);
	kt_gateway_cleanup(&gw);
	return rc == KT_OK ? 0 : 1;
}
