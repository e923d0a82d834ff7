/*
 * Pushed Authorization Requests (RFC 9126): the client posts the request
 * over an authenticated back channel and gets a single-use request_uri that
 * lives par_ttl_s seconds. The request is validated now, with the same code
 * as /authorize, so that errors reach the client here rather than the user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/store.h"
#include "kontor/util.h"

#include "authorize.h"
#include "clients.h"
#include "handlers.h"

#define PAR_PREFIX "urn:ietf:params:oauth:request_uri:"

static const char *const auth_params[] = {
    "client_secret", "client_assertion", "client_assertion_type", NULL};

struct par {
	char id[48];
};

static void on_stored(int rc, json_t *res, void *arg)
{
	struct kt_req *r = arg;
	struct par *p = r->h;
	char uri[128];

	(void)res;
	if (rc != KT_OK) {
		kt_req_send_unavailable(r);
		return;
	}
	snprintf(uri, sizeof(uri), PAR_PREFIX "%s", p->id);
	kt_req_send_json(r, 201,
			 json_pack("{s:s,s:I}", "request_uri", uri,
				   "expires_in",
				   (json_int_t)kt_req_cfg(r)->tokens_par_ttl_s));
}

static void on_authenticated(struct kt_req *r, const struct kt_client *c)
{
	const char *redirect_uri = kt_req_param(r, "redirect_uri");
	const char *error = NULL, *desc = NULL;
	struct kt_params *keep = NULL;
	json_t *areq = NULL, *doc;
	struct par *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	r->h = p;
	r->h_free = free;
	if (kt_req_param(r, "request_uri") != NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"request_uri is not allowed in a "
					"pushed request");
		return;
	}
	if (redirect_uri == NULL || !kt_client_redirect_uri_ok(c, redirect_uri)) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"redirect_uri missing or not "
					"registered");
		return;
	}
	if (kt_authz_validate(kt_req_cfg(r), c, r->form, &areq, &error,
			      &desc) != KT_OK) {
		kt_req_send_oauth_error(r, 400, error, desc);
		return;
	}
	json_decref(areq);
	/* Keep the authorization parameters, not the client's credentials. */
	if ((keep = kt_params_new()) == NULL) {
		kt_req_send_unavailable(r);
		return;
	}
	for (size_t i = 0; i < kt_params_size(r->form); i++) {
		const char *n = kt_params_name_at(r->form, i);
		int skip = 0;
		for (size_t k = 0; auth_params[k]; k++)
			skip |= strcmp(n, auth_params[k]) == 0;
		if (!skip)
			kt_params_add(keep, n, kt_params_value_at(r->form, i));
	}
	if (kt_params_get(keep, "client_id") == NULL)
		kt_params_add(keep, "client_id", c->client_id);
	doc = json_pack("{s:s,s:o}", "client_id", c->client_id, "params",
			kt_params_to_json(keep));
	kt_params_free(keep);
	if (doc == NULL || kt_random_token(p->id, sizeof(p->id), 24) != KT_OK) {
		json_decref(doc);
		kt_req_send_unavailable(r);
		return;
	}
	rc = kt_store_doc_put(kt_req_redis(r), "par", p->id, doc,
			      kt_req_cfg(r)->tokens_par_ttl_s, on_stored, r);
	json_decref(doc);
	if (rc != KT_OK)
		kt_req_send_unavailable(r);
}

void kt_h_par(struct kt_req *r)
{
	if (r->form == NULL || kt_params_duplicate(r->form) != NULL) {
		kt_req_send_oauth_error(r, 400, "invalid_request",
					"malformed request");
		return;
	}
	kt_client_authenticate(r, on_authenticated);
}
