#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/keyset.h"
#include "kontor/util.h"

#include "keys_cmd.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char keys_help[] =
    "NAME\n"
    "     kontor-idp keys - manage the gateway's signing keys\n"
    "\n"
    "SYNOPSIS\n"
    "     kontor-idp keys generate [--dir DIR] [--rsa-bits N] [--json]\n"
    "     kontor-idp keys rotate [--dir DIR] [--alg RS256|ES256] "
    "[--rsa-bits N] [--json]\n"
    "     kontor-idp keys prune [--dir DIR] [--retire-window SECONDS] "
    "[--json]\n"
    "     kontor-idp keys list [--dir DIR] [--json]\n"
    "     kontor-idp keys --help\n"
    "\n"
    "DESCRIPTION\n"
    "     The gateway signs ID tokens and access tokens with one active key\n"
    "     per algorithm (RS256 and ES256). Each algorithm also has a next\n"
    "     key, published in the JWKS before it ever signs, so relying\n"
    "     parties already know it when it becomes active. Retired keys stay\n"
    "     published until every token they signed has expired.\n"
    "\n"
    "     After any change, send SIGHUP to the gateway to reload the keys.\n"
    "\n"
    "COMMANDS\n"
    "     generate  Create DIR (mode 0700) if needed and make sure each\n"
    "               algorithm has an active and a next key, and that\n"
    "               hmac.key exists. Changes nothing that is already there.\n"
    "     rotate    For --alg, or both algorithms: the active key becomes\n"
    "               retired, the next key becomes active, and a new next\n"
    "               key is generated.\n"
    "     prune     Delete keys retired at least SECONDS ago.\n"
    "     list      Show every key with its state and times (UTC).\n"
    "\n"
    "OPTIONS\n"
    "     --dir DIR\n"
    "            Key directory (default: keys).\n"
    "     --alg RS256|ES256\n"
    "            Rotate only this algorithm (rotate only).\n"
    "     --rsa-bits N\n"
    "            Size of new RSA keys, 2048 to 8192 (default: 2048).\n"
    "     --retire-window SECONDS\n"
    "            How long a retired key stays published; must be at least\n"
    "            the longest lifetime of any token the gateway signs\n"
    "            (default: 86400). The gateway must use the same value.\n"
    "     --json\n"
    "            Print the resulting key list as JSON.\n"
    "     -h, --help\n"
    "            Show this help.\n"
    "\n"
    "FILES\n"
    "     DIR/<kid>.pem   private key (PKCS#8 PEM, 0600); kid is the\n"
    "                     RFC 7638 thumbprint of the public key\n"
    "     DIR/keyset.json key states and times\n"
    "     DIR/hmac.key    32-byte server secret (0600)\n"
    "\n"
    "EXIT STATUS\n"
    "     0 success, 1 failure, 2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "     kontor-idp keys generate\n"
    "     kontor-idp keys rotate --alg ES256 && kill -HUP \"$(pidof "
    "kontor-idp)\"\n"
    "     kontor-idp keys prune --retire-window 86400\n";

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("kontor-idp keys: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'kontor-idp keys --help'.\n", stderr);
	return EXIT_USAGE;
}

/*
 * Match "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past a
 * separate value. Returns 1 on match (with *val set, or NULL if the value
 * is missing), 0 otherwise.
 */
static int opt_value(int argc, char **argv, int *i, const char *name,
		     const char **val)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return 1;
}

int kt_idp_keys_main(int argc, char **argv)
{
	const char *cmd = NULL, *dir = KT_KEYSET_DEFAULT_DIR, *alg = NULL;
	const char *val;
	struct kt_error err = {0};
	uint64_t rsa_bits = 0, window = KT_IDP_KEYS_DEFAULT_RETIRE_WINDOW;
	int as_json = 0, r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(keys_help, stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			as_json = 1;
		} else if (opt_value(argc, argv, &i, "--dir", &val)) {
			if (val == NULL || *val == '\0')
				return usage("%s needs a directory", "--dir");
			dir = val;
		} else if (opt_value(argc, argv, &i, "--alg", &val)) {
			if (val == NULL || (strcmp(val, "RS256") != 0 &&
					    strcmp(val, "ES256") != 0))
				return usage("--alg must be RS256 or ES256, "
					     "not '%s'",
					     val ? val : "");
			alg = val;
		} else if (opt_value(argc, argv, &i, "--rsa-bits", &val)) {
			if (val == NULL ||
			    kt_parse_uint(val, 65536, &rsa_bits) != KT_OK ||
			    rsa_bits < 2048 || rsa_bits > 8192)
				return usage("--rsa-bits must be 2048 to 8192, "
					     "not '%s'",
					     val ? val : "");
		} else if (opt_value(argc, argv, &i, "--retire-window", &val)) {
			if (val == NULL ||
			    kt_parse_uint(val, INT64_MAX, &window) != KT_OK)
				return usage(
				    "--retire-window needs a number of "
				    "seconds, not '%s'",
				    val ? val : "");
		} else if (a[0] == '-') {
			return usage("unknown option '%s'", a);
		} else if (cmd == NULL) {
			cmd = a;
		} else {
			return usage("unexpected argument '%s'", a);
		}
	}
	if (cmd == NULL)
		return usage("%s", "missing command: generate, rotate, prune "
				   "or list");
	if (alg != NULL && strcmp(cmd, "rotate") != 0)
		return usage("%s", "--alg is only valid with rotate");

	if (strcmp(cmd, "generate") == 0)
		r = kt_keyset_generate(dir, (int)rsa_bits, &err);
	else if (strcmp(cmd, "rotate") == 0)
		r = kt_keyset_rotate(dir, alg, (int)rsa_bits, &err);
	else if (strcmp(cmd, "prune") == 0)
		r = kt_keyset_prune(dir, (int64_t)window, &err);
	else if (strcmp(cmd, "list") == 0)
		r = KT_OK;
	else
		return usage("unknown command '%s'", cmd);

	if (r == KT_OK)
		r = kt_keyset_list(dir, stdout, as_json, &err);
	if (r != KT_OK) {
		fprintf(stderr, "kontor-idp keys %s: %s\n", cmd,
			err.msg[0] ? err.msg : kt_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
