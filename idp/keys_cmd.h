#ifndef KONTOR_IDP_KEYS_CMD_H
#define KONTOR_IDP_KEYS_CMD_H

/*
 * `kontor-idp keys generate|rotate|prune|list [options]`: manage the signing
 * keys and HMAC secret in the key directory (see include/kontor/keyset.h and
 * keys/README.md). argv[0] is the word "keys"; argv[1] the subcommand.
 * Returns the process exit code: 0 ok, 1 failure, 2 usage error.
 */

/* Retire window used by `keys prune` when --retire-window is not given. */
#define KT_IDP_KEYS_DEFAULT_RETIRE_WINDOW 86400

int kt_idp_keys_main(int argc, char **argv);

#endif
