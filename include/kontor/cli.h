#ifndef KONTOR_CLI_H
#define KONTOR_CLI_H

/*
 * What every command-line tool (kontor-idp user, kontor-admin,
 * kontor-migrate) shares: the gateway configuration with the environment's
 * overrides, one Redis connection on a private event loop, and running one
 * asynchronous store call to completion:
 *
 *     json_t *res = NULL;
 *     int rc = kt_cli_run(cli, kt_account_org_get(kt_cli_redis(cli), id,
 *                                                 kt_cli_done, cli), &res);
 *
 * The store API stays the one the gateway uses (kontor/store.h), so a tool
 * writes exactly what the gateway writes. Blocking by design: never use on
 * a serving loop.
 */

#include <jansson.h>

#include "kontor/config.h"
#include "kontor/err.h"
#include "kontor/redis.h"

#define KT_CLI_DEFAULT_TIMEOUT_MS 5000

struct kt_cli;

/*
 * Load the configuration file config_path (may be NULL: then the Redis
 * address comes from KONTOR_REDIS_URL alone, and there is no
 * configuration), apply KONTOR_REDIS_URL when set and non-empty, and
 * connect to Redis. Errors, with err->msg:
 *   KT_ERR_INVALID      the file or KONTOR_REDIS_URL is malformed, or
 *                       neither names a Redis ("no Redis address: ...")
 *   KT_ERR_IO/LIMIT     the file cannot be read
 *   KT_ERR_UNAVAILABLE  Redis does not answer within the timeout
 *                       ("cannot reach Redis at 127.0.0.1:6379"; the
 *                       password is never printed)
 *   KT_ERR_NOMEM
 * *out is set on success only; free it with kt_cli_free.
 */
int kt_cli_open(const char *config_path, struct kt_cli **out,
		struct kt_error *err);

/* Fails pending calls, closes the connection, frees the config. NULL ok. */
void kt_cli_free(struct kt_cli *cli);

/* The loaded configuration (NULL without a file), the connection, the
 * loop, the Redis address for messages ("host:port" or the socket path). */
const struct kt_config *kt_cli_config(const struct kt_cli *cli);
struct kt_redis *kt_cli_redis(struct kt_cli *cli);
struct event_base *kt_cli_base(struct kt_cli *cli);
const char *kt_cli_redis_where(const struct kt_cli *cli);

/* The kt_store_cb to pass with arg = cli to the call kt_cli_run waits for. */
void kt_cli_done(int rc, json_t *result, void *arg);

/*
 * Wait for the call whose start returned start_rc: if start_rc is an error
 * the callback never runs and start_rc is returned; else the loop runs
 * until kt_cli_done was called, and its rc is returned. *result (may be
 * NULL) gets the call's result as a new reference (or NULL); the caller
 * decrefs it. One call at a time.
 */
int kt_cli_run(struct kt_cli *cli, int start_rc, json_t **result);

/*
 * Run the loop until *pending is 0: for calls sent without waiting
 * (pipelined), whose callbacks each decrement the counter. Every call ends
 * in its callback, also when Redis goes away (kontor/redis.h), so this
 * returns.
 */
void kt_cli_wait(struct kt_cli *cli, const unsigned *pending);

/*
 * Run the loop for ms milliseconds (for polling, e.g. a --follow) so the
 * connection stays served. The first call makes SIGINT and SIGTERM stop
 * the wait (through the loop, not a handler): returns 1 once one arrived,
 * else 0.
 */
int kt_cli_sleep(struct kt_cli *cli, int ms);

#endif
