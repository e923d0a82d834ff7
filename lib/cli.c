/*
 * Command-line tools on the asynchronous store API: a private event_base,
 * one kt_redis connection, and a loop that runs until the one call in
 * flight has answered. The watchdog in kt_redis bounds every call (it fails
 * the callback with a NULL reply after the timeout), so the wait needs no
 * timer of its own.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kontor/cli.h"
#include "kontor/log.h"

struct kt_cli {
	struct kt_config *cfg;
	struct kt_redis_addr addr;
	int timeout_ms;
	struct event_base *base;
	struct kt_redis *redis;
	char where[280];
	/* the call in flight */
	int done;
	int rc;
	json_t *result;
	/* kt_cli_sleep */
	struct event *sigint, *sigterm;
	int stopped;
};

const struct kt_config *kt_cli_config(const struct kt_cli *cli)
{
	return cli->cfg;
}

struct kt_redis *kt_cli_redis(struct kt_cli *cli)
{
	return cli->redis;
}

struct event_base *kt_cli_base(struct kt_cli *cli)
{
	return cli->base;
}

const char *kt_cli_redis_where(const struct kt_cli *cli)
{
	return cli->where;
}

/* The address for messages, never with the password. */
static void describe(struct kt_cli *cli)
{
	if (cli->addr.path[0] != '\0')
		snprintf(cli->where, sizeof(cli->where), "%s", cli->addr.path);
	else if (strchr(cli->addr.host, ':') != NULL)
		snprintf(cli->where, sizeof(cli->where), "[%s]:%d",
			 cli->addr.host, cli->addr.port);
	else
		snprintf(cli->where, sizeof(cli->where), "%s:%d",
			 cli->addr.host, cli->addr.port);
}

static int address(struct kt_cli *cli, const char *config_path,
		   struct kt_error *err)
{
	const char *env = getenv("KONTOR_REDIS_URL");
	struct kt_error e;
	int rc;

	cli->timeout_ms = KT_CLI_DEFAULT_TIMEOUT_MS;
	if (config_path != NULL) {
		if ((rc = kt_config_load_file(config_path, &cli->cfg, err)) !=
		    KT_OK)
			return rc;
		if (env != NULL && *env != '\0' &&
		    kt_config_set_redis_url(cli->cfg, env, &e) != KT_OK)
			return kt_error_set(err, KT_ERR_INVALID,
					    "KONTOR_REDIS_URL: %s", e.msg);
		cli->addr = cli->cfg->redis;
		cli->timeout_ms = cli->cfg->redis_timeout_ms;
		return KT_OK;
	}
	if (env == NULL || *env == '\0')
		return kt_error_set(err, KT_ERR_INVALID,
				    "no Redis address: give --config FILE or "
				    "set KONTOR_REDIS_URL");
	if (kt_config_redis_url_parse(env, &cli->addr, &e) != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID, "KONTOR_REDIS_URL: %s",
				    e.msg);
	return KT_OK;
}

int kt_cli_open(const char *config_path, struct kt_cli **out,
		struct kt_error *err)
{
	struct kt_cli *cli;
	int rc;

	*out = NULL;
	kt_error_clear(err);
	if ((cli = calloc(1, sizeof(*cli))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	if ((rc = address(cli, config_path, err)) != KT_OK)
		goto fail;
	describe(cli);
	if ((cli->base = event_base_new()) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "no event loop");
		goto fail;
	}
	if (kt_redis_new(cli->base, &cli->addr, cli->timeout_ms, &cli->redis) !=
		KT_OK ||
	    kt_redis_wait_ready(cli->redis, cli->timeout_ms) != KT_OK) {
		rc = kt_error_set(err, KT_ERR_UNAVAILABLE,
				  "cannot reach Redis at %s", cli->where);
		goto fail;
	}
	*out = cli;
	return KT_OK;
fail:
	kt_cli_free(cli);
	return rc;
}

void kt_cli_free(struct kt_cli *cli)
{
	if (cli == NULL)
		return;
	/* Pending callbacks run now (with NULL) and still find cli. */
	kt_redis_free(cli->redis);
	json_decref(cli->result);
	if (cli->sigint)
		event_free(cli->sigint);
	if (cli->sigterm)
		event_free(cli->sigterm);
	if (cli->base)
		event_base_free(cli->base);
	kt_config_redis_addr_clear(&cli->addr);
	kt_config_free(cli->cfg);
	free(cli);
}

void kt_cli_done(int rc, json_t *result, void *arg)
{
	struct kt_cli *cli = arg;

	cli->done = 1;
	cli->rc = rc;
	json_decref(cli->result);
	cli->result = json_incref(result);
}

int kt_cli_run(struct kt_cli *cli, int start_rc, json_t **result)
{
	int rc;

	if (result != NULL)
		*result = NULL;
	if (start_rc != KT_OK)
		return start_rc;
	while (!cli->done)
		event_base_loop(cli->base, EVLOOP_ONCE);
	rc = cli->rc;
	if (result != NULL)
		*result = cli->result;
	else
		json_decref(cli->result);
	cli->result = NULL;
	cli->done = 0;
	cli->rc = 0;
	return rc;
}

void kt_cli_wait(struct kt_cli *cli, const unsigned *pending)
{
	while (*pending > 0)
		event_base_loop(cli->base, EVLOOP_ONCE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kt_cli *cli = arg;

	cli->stopped = 1;
	event_base_loopbreak(cli->base);
}

int kt_cli_sleep(struct kt_cli *cli, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (cli->sigint == NULL) {
		cli->sigint = evsignal_new(cli->base, SIGINT, on_signal, cli);
		cli->sigterm = evsignal_new(cli->base, SIGTERM, on_signal, cli);
		if (cli->sigint == NULL || cli->sigterm == NULL ||
		    event_add(cli->sigint, NULL) != 0 ||
		    event_add(cli->sigterm, NULL) != 0)
			return 1;
	}
	if (!cli->stopped) {
		event_base_loopexit(cli->base, &tv);
		event_base_dispatch(cli->base);
	}
	return cli->stopped;
}
