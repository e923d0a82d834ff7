/*
 * Dynamic client registration (RFC 7591, OIDC Dynamic Registration 1.0),
 * protected by an initial access token. Metadata is validated by the same
 * code as config-file clients (kt_client_from_json), with the stricter
 * dynamic policy: PKCE always, no consent skipping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "kontor/http.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "handlers.h"

struct reg {
	json_t *response;
};

static void reg_free(void *p)
{
	struct reg *g = p;

	if (g == NULL)
		return;
	json_decref(g->response);
	free(g);
}

/* Compare with every configured token, without an early exit. */
static int token_ok(const struct kt_config *cfg, const char *token)
{
	int ok = 0;

	for (size_t i = 0; i < cfg->n_registration_initial_access_tokens; i++)
		ok |= kt_ct_streq(cfg->registration_initial_access_tokens[i],
				  token);
	return ok;
}

static void on_stored(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct reg *g = r->h;
	json_t *body = g->response;

	(void)res;
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	g->response = NULL;
	kt_log_info("registered client %s",
		    json_string_value(json_object_get(body, "client_id")));
	kt_req_send_json(r, 201, body);
}

void kt_h_register(struct kt_req *r)
{
	const struct kt_config *cfg = kt_req_cfg(r);
	const char *hdr = kt_req_header(r, "Authorization");
	const char *ctype = kt_req_header(r, "Content-Type");
	struct evbuffer *in;
	struct kt_http_auth auth;
	struct kt_client_policy pol = {0};
	struct kt_client_registration reg;
	struct kt_error err;
	const char *oauth_error = NULL;
	const uint8_t *key;
	size_t keylen, len;
	json_t *meta = NULL;
	json_error_t jerr;
	struct reg *g;
	int rc;

	if (!cfg->registration_enabled) {
		kt_req_send_oauth_error(r, 404, "not_found",
					"dynamic registration is not enabled");
		return;
	}
	kt_http_auth_init(&auth);
	if (hdr == NULL || kt_http_auth_parse(hdr, &auth) != KT_OK ||
	    auth.type != KT_HTTP_AUTH_BEARER || !token_ok(cfg, auth.token)) {
		kt_http_auth_clear(&auth);
		kt_req_send_bearer_error(r, 401, "invalid_token",
					 "a valid initial access token is "
					 "required");
		return;
	}
	kt_http_auth_clear(&auth);
	if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0 ||
	    (ctype[16] != '\0' && ctype[16] != ';')) {
		kt_req_send_oauth_error(r, 415, "invalid_client_metadata",
					"Content-Type must be "
					"application/json");
		return;
	}
	in = evhttp_request_get_input_buffer(r->ev);
	len = evbuffer_get_length(in);
	meta = json_loadb((const char *)evbuffer_pullup(in, -1), len,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (meta == NULL || !json_is_object(meta)) {
		char desc[256];
		snprintf(desc, sizeof(desc), "malformed JSON: %s",
			 meta ? "not an object" : jerr.text);
		json_decref(meta);
		kt_req_send_oauth_error(r, 400, "invalid_client_metadata",
					desc);
		return;
	}
	kt_keyset_hmac_key(r->rt->keys, &key, &keylen);
	pol.allow_http_loopback = cfg->dev_allow_http_loopback;
	rc = kt_client_register(meta, &pol, key, keylen, &reg, &oauth_error,
				&err);
	json_decref(meta);
	if (rc == KT_ERR_INVALID) {
		kt_client_registration_clear(&reg);
		kt_req_send_oauth_error(r, 400,
					oauth_error ? oauth_error
						    : "invalid_client_metadata",
					err.msg);
		return;
	}
	if (rc != KT_OK || (g = calloc(1, sizeof(*g))) == NULL) {
		kt_client_registration_clear(&reg);
		kt_req_send_oauth_error(r, 500, "server_error", NULL);
		return;
	}
	r->h = g;
	r->h_free = reg_free;
	/* From here the plaintext secret lives only in the response. */
	g->response = reg.response;
	reg.response = NULL;
	rc = kt_store_doc_put(kt_req_redis(r), "client", reg.client_id,
			      reg.stored, 0, on_stored, r);
	kt_client_registration_clear(&reg);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}
