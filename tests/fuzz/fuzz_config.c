/*
 * kt_config_load_string: the configuration file. Not attacker input in
 * the usual sense, but an operator's typo must give a message, never a
 * crash, and a config that loads must be one the rest of the gateway can
 * trust.
 *
 * Invariants besides "no crash":
 *  - success: the issuer passes kt_uri_check_issuer and every client's
 *    redirect URIs pass kt_uri_check_redirect (under the file's own
 *    dev.allow_http_loopback); the dump is valid JSON with one entry per
 *    client and every client secret redacted;
 *  - failure: *out is NULL and the message starts with "config: ".
 */
#include <jansson.h>

#include "kontor/config.h"
#include "kontor/err.h"
#include "kontor/uri.h"

#include "fuzz.h"

static void check_dump(const struct kt_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_error_t e;
	json_t *j, *clients;

	FUZZ_ASSERT(f != NULL);
	kt_config_dump(cfg, f);
	fclose(f);
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	FUZZ_ASSERT(json_is_object(j));
	clients = json_object_get(j, "clients");
	FUZZ_ASSERT(json_array_size(clients) == cfg->n_clients);
	for (size_t i = 0; i < cfg->n_clients; i++) {
		json_t *sec = json_object_get(json_array_get(clients, i),
					      "client_secret");
		if (cfg->clients[i]->secret != NULL)
			FUZZ_ASSERT(
			    json_is_string(sec) &&
			    strcmp(json_string_value(sec), "<redacted>") == 0);
		else
			FUZZ_ASSERT(sec == NULL);
	}
	json_decref(j);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct kt_config *cfg = (struct kt_config *)1;
	struct kt_error err;
	int rc;

	rc = kt_config_load_string(s, &cfg, &err);
	FUZZ_ASSERT(rc == KT_OK || rc == KT_ERR_INVALID || rc == KT_ERR_LIMIT ||
		    rc == KT_ERR_NOMEM);
	if (rc != KT_OK) {
		FUZZ_ASSERT(cfg == NULL);
		FUZZ_ASSERT(strncmp(err.msg, "config: ", 8) == 0);
		free(s);
		return 0;
	}
	FUZZ_ASSERT(cfg != NULL);
	FUZZ_ASSERT(kt_uri_check_issuer(cfg->issuer,
					cfg->dev_allow_http_loopback,
					NULL) == KT_OK);
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct kt_client *c = cfg->clients[i];
		FUZZ_ASSERT(kt_config_client(cfg, c->client_id) == c);
		for (size_t k = 0; k < c->n_redirect_uris; k++)
			FUZZ_ASSERT(
			    kt_uri_check_redirect(c->redirect_uris[k],
						  cfg->dev_allow_http_loopback,
						  NULL) == KT_OK);
	}
	check_dump(cfg);
	kt_config_free(cfg);
	free(s);
	return 0;
}
