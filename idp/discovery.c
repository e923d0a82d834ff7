/*
 * Discovery (OpenID Connect Discovery 1.0, RFC 8414) and JWKS. Both
 * documents are built once per runtime snapshot and served from memory:
 * they are the most requested and the cheapest endpoints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/keyset.h"

#include "discovery.h"
#include "gateway.h"
#include "handlers.h"
#include "mfa.h"

static json_t *strings(const char *const *v)
{
	json_t *a = json_array();
	for (; a && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *endpoint(const char *issuer, const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s%s", issuer, path);
	return json_string(buf);
}

char *kt_discovery_build(const struct kt_config *cfg)
{
	static const char *const scopes[] = {
	    "openid", "profile", "email", "offline_access", "company",
	    "company_identifiers", NULL};
	static const char *const response_types[] = {"code", NULL};
	static const char *const response_modes[] = {"query", "form_post",
						     NULL};
	static const char *const grant_types[] = {
	    "authorization_code", "refresh_token", "client_credentials", NULL};
	static const char *const subject_types[] = {"pairwise", "public",
						    NULL};
	static const char *const sig_algs[] = {"RS256", "ES256", NULL};
	static const char *const auth_methods[] = {
	    "client_secret_basic", "client_secret_post", "private_key_jwt",
	    "none", NULL};
	static const char *const assertion_algs[] = {"RS256", "ES256", "PS256",
						     NULL};
	static const char *const pkce[] = {"S256", NULL};
	static const char *const claims[] = {
	    "sub",   "iss",   "aud",	 "exp",	    "iat",
	    "auth_time", "nonce", "acr",	 "amr",	    "sid",
	    "at_hash",	 "azp",   "name",	 "email",   "email_verified",
	    "org_id", "org_name", "org_legal_form", "org_role", "org_vat_id",
	    "org_register_court", "org_register_type", "org_register_number",
	    "org_wid", NULL};
	static const char *const locales[] = {"de", "en", NULL};
	static const char *const prompts[] = {"none", "login", "consent",
					      "select_account", NULL};
	const char *acrs[] = {KT_ACR_PASSWORD, KT_ACR_MFA, NULL,
					   NULL};
	const char *iss = cfg->issuer;
	json_t *d;
	char *s;

	d = json_object();
	if (d == NULL)
		return NULL;
	json_object_set_new(d, "issuer", json_string(iss));
	json_object_set_new(d, "authorization_endpoint",
			    endpoint(iss, "/authorize"));
	json_object_set_new(d, "token_endpoint", endpoint(iss, "/token"));
	json_object_set_new(d, "userinfo_endpoint",
			    endpoint(iss, "/userinfo"));
	json_object_set_new(d, "jwks_uri", endpoint(iss, "/jwks"));
	if (cfg->registration_enabled)
		json_object_set_new(d, "registration_endpoint",
				    endpoint(iss, "/register"));
	json_object_set_new(d, "introspection_endpoint",
			    endpoint(iss, "/introspect"));
	json_object_set_new(d, "revocation_endpoint",
			    endpoint(iss, "/revoke"));
	json_object_set_new(d, "end_session_endpoint",
			    endpoint(iss, "/logout"));
	json_object_set_new(d, "pushed_authorization_request_endpoint",
			    endpoint(iss, "/par"));
	json_object_set_new(d, "scopes_supported", strings(scopes));
	json_object_set_new(d, "response_types_supported",
			    strings(response_types));
	json_object_set_new(d, "response_modes_supported",
			    strings(response_modes));
	json_object_set_new(d, "grant_types_supported", strings(grant_types));
	json_object_set_new(d, "subject_types_supported",
			    strings(subject_types));
	json_object_set_new(d, "id_token_signing_alg_values_supported",
			    strings(sig_algs));
	json_object_set_new(d, "userinfo_signing_alg_values_supported",
			    json_array());
	json_object_set_new(d, "token_endpoint_auth_methods_supported",
			    strings(auth_methods));
	json_object_set_new(d,
			    "token_endpoint_auth_signing_alg_values_supported",
			    strings(assertion_algs));
	json_object_set_new(d, "introspection_endpoint_auth_methods_supported",
			    strings(auth_methods + 0));
	json_object_set_new(d, "revocation_endpoint_auth_methods_supported",
			    strings(auth_methods));
	json_object_set_new(d, "code_challenge_methods_supported",
			    strings(pkce));
	json_object_set_new(d, "claims_supported", strings(claims));
	json_object_set_new(d, "claims_parameter_supported", json_true());
	json_object_set_new(d, "request_parameter_supported", json_false());
	json_object_set_new(d, "request_uri_parameter_supported", json_false());
	json_object_set_new(d, "require_pushed_authorization_requests",
			    json_false());
	json_object_set_new(d, "authorization_response_iss_parameter_supported",
			    json_true());
	json_object_set_new(d, "ui_locales_supported", strings(locales));
	json_object_set_new(d, "prompt_values_supported", strings(prompts));
	/* A login at a state provider only exists with federation. */
	acrs[2] = cfg->n_upstreams > 0 ? KT_ACR_LEGACY : NULL;
	json_object_set_new(d, "acr_values_supported", strings(acrs));
	json_object_set_new(d, "frontchannel_logout_supported", json_false());
	json_object_set_new(d, "backchannel_logout_supported", json_true());
	json_object_set_new(d, "backchannel_logout_session_supported",
			    json_true());
	s = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return s;
}

void kt_h_discovery(struct kt_req *r)
{
	kt_req_send_document(r, r->rt->discovery, 3600);
}

void kt_h_jwks(struct kt_req *r)
{
	/* Short cache: clients must see a next key soon after rotation. */
	kt_req_send_document(r, kt_keyset_jwks_json(r->rt->keys), 300);
}
