/*
 * kontor-admin client: relying parties. Registration and secret rotation
 * are kt_client_register / kt_client_rotate_secret, the same code as the
 * gateway's dynamic registration endpoint, so a client registered here is
 * exactly what /register would have stored. Secrets are stored only as
 * HMACs under keys/hmac.key and printed once.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/account.h"
#include "kontor/client.h"
#include "kontor/config.h"
#include "kontor/keyset.h"
#include "kontor/store.h"
#include "kontor/util.h"

#include "admin.h"

#define URI_MAX_BYTES 2048

enum {
	C_NAME = 0x100,
	C_REDIRECT,
	C_POST_LOGOUT,
	C_AUTH,
	C_GRANT,
	C_SCOPE,
};

static const struct option client_opts[] = {
    {"name", required_argument, NULL, C_NAME},
    {"redirect-uri", required_argument, NULL, C_REDIRECT},
    {"post-logout-redirect-uri", required_argument, NULL, C_POST_LOGOUT},
    {"auth-method", required_argument, NULL, C_AUTH},
    {"grant-type", required_argument, NULL, C_GRANT},
    {"scope", required_argument, NULL, C_SCOPE},
    {NULL, 0, NULL, 0},
};

struct client_in {
	int allowed;
	const char *name, *auth, *scope;
	json_t *redirects, *post_logout, *grants;
};

static int append_text(struct adm *a, json_t *arr, const char *what,
		       const char *v, size_t max_items)
{
	int r;

	if (json_array_size(arr) >= max_items)
		return adm_usage(a, "at most %zu %s options", max_items, what);
	if ((r = adm_check_text(a, what, v, URI_MAX_BYTES, 0)) != 0)
		return r;
	json_array_append_new(arr, json_string(v));
	return 0;
}

static int on_client_opt(struct adm *a, void *ctx, int val, const char *arg)
{
	struct client_in *in = ctx;

	if (!in->allowed)
		return adm_usage(a, "option --%s does not apply here",
				 client_opts[val - C_NAME].name);
	switch (val) {
	case C_NAME:
		in->name = arg;
		return 0;
	case C_REDIRECT:
		return append_text(a, in->redirects, "--redirect-uri", arg,
				   KT_CLIENT_MAX_URIS);
	case C_POST_LOGOUT:
		return append_text(a, in->post_logout,
				   "--post-logout-redirect-uri", arg,
				   KT_CLIENT_MAX_URIS);
	case C_AUTH:
		in->auth = arg;
		return 0;
	case C_GRANT:
		return append_text(a, in->grants, "--grant-type", arg, 3);
	case C_SCOPE:
		in->scope = arg;
		return 0;
	}
	return 0;
}

static void client_in_clear(struct client_in *in)
{
	json_decref(in->redirects);
	json_decref(in->post_logout);
	json_decref(in->grants);
}

/* The HMAC key of the gateway's key set, for client secrets. */
static int load_keys(struct adm *a, struct kt_keyset **ks)
{
	const struct kt_config *cfg = kt_cli_config(a->cli);
	struct kt_error err;
	int retire;

	*ks = NULL;
	if (cfg == NULL)
		return adm_usage(a, "--config FILE is required: client secrets "
				    "are hashed with the key in its keys.dir");
	/* The gateway's own window (idp/server.c): it never matters here,
	 * only hmac.key is used, but loading checks the set is intact. */
	retire = cfg->tokens_access_token_ttl_s > cfg->tokens_id_token_ttl_s
		     ? cfg->tokens_access_token_ttl_s
		     : cfg->tokens_id_token_ttl_s;
	if (kt_keyset_load(cfg->keys_dir, retire + 60, ks, &err) != KT_OK)
		return adm_invalid(a, "keys: %s", err.msg);
	return 0;
}

static struct kt_client_policy policy(struct adm *a)
{
	struct kt_client_policy pol = {0};
	const struct kt_config *cfg = kt_cli_config(a->cli);

	pol.allow_http_loopback = cfg ? cfg->dev_allow_http_loopback : 0;
	return pol;
}

static void print_list(const char *key, json_t *arr)
{
	char line[4096] = "";
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		size_t len = strlen(line);
		snprintf(line + len, sizeof(line) - len, "%s%s", i ? " " : "",
			 json_string_value(v));
	}
	adm_kv(key, line);
}

static void human_client(struct adm *a, json_t *doc)
{
	json_t *c = json_object_get(doc, "client");
	char t[32];

	if (*adm_str(doc, "message"))
		printf("%s\n\n", adm_str(doc, "message"));
	adm_kv("client id", adm_str(c, "client_id"));
	if (*adm_str(c, "client_secret") &&
	    strcmp(adm_str(c, "client_secret"), "<redacted>") != 0)
		adm_kv("client secret", adm_str(c, "client_secret"));
	adm_kv("name", adm_str(c, "client_name"));
	adm_kv("source", adm_str(doc, "source"));
	adm_kv("auth method", adm_str(c, "token_endpoint_auth_method"));
	print_list("redirect uris", json_object_get(c, "redirect_uris"));
	print_list("logout uris",
		   json_object_get(c, "post_logout_redirect_uris"));
	print_list("grant types", json_object_get(c, "grant_types"));
	adm_kv("scope", adm_str(c, "scope"));
	adm_kv("subject type", adm_str(c, "subject_type"));
	if (json_is_integer(json_object_get(c, "client_id_issued_at"))) {
		char n[24];
		snprintf(n, sizeof(n), "%lld",
			 (long long)json_integer_value(
			     json_object_get(c, "client_id_issued_at")));
		adm_time(t, n);
		adm_kv("registered", t);
	}
	if (*adm_str(doc, "problem"))
		adm_kv("PROBLEM", adm_str(doc, "problem"));
}

static int client_register(struct adm *a, const struct adm_cmd *cmd, int argc,
			   char **argv)
{
	struct client_in in = {.allowed = 1,
			       .redirects = json_array(),
			       .post_logout = json_array(),
			       .grants = json_array()};
	struct kt_client_registration reg;
	struct kt_client_policy pol;
	struct kt_keyset *ks = NULL;
	struct kt_error err;
	enum kt_client_auth m;
	const char *oauth_error;
	const uint8_t *key;
	size_t keylen;
	char *pos[ADM_MAX_POS], object[200], msg[300];
	json_t *meta = NULL, *doc = NULL;
	int npos, r;

	memset(&reg, 0, sizeof(reg));
	if ((r = adm_parse(a, cmd, argc, argv, client_opts, on_client_opt, &in,
			   pos, 0, 0, &npos)) != 0)
		goto out;
	if (in.name == NULL) {
		r = adm_usage(a, "--name is required");
		goto out;
	}
	if ((r = adm_check_text(a, "--name", in.name, KT_CLIENT_NAME_MAX, 0)) !=
	    0)
		goto out;
	if (in.auth != NULL && kt_client_auth_parse(in.auth, &m) != KT_OK) {
		r = adm_invalid(a,
				"--auth-method: '%s' is not one of "
				"client_secret_basic, client_secret_post, "
				"private_key_jwt, none",
				in.auth);
		goto out;
	}
	if (in.scope != NULL &&
	    (r = adm_check_text(a, "--scope", in.scope, KT_CLIENT_SCOPE_MAX,
				0)) != 0)
		goto out;
	meta = json_pack("{s:s,s:O}", "client_name", in.name, "redirect_uris",
			 in.redirects);
	if (json_array_size(in.post_logout) > 0)
		json_object_set(meta, "post_logout_redirect_uris",
				in.post_logout);
	if (json_array_size(in.grants) > 0)
		json_object_set(meta, "grant_types", in.grants);
	if (in.auth != NULL)
		json_object_set_new(meta, "token_endpoint_auth_method",
				    json_string(in.auth));
	if (in.scope != NULL)
		json_object_set_new(meta, "scope", json_string(in.scope));
	if ((r = adm_connect(a)) != 0 || (r = load_keys(a, &ks)) != 0)
		goto out;
	kt_keyset_hmac_key(ks, &key, &keylen);
	pol = policy(a);
	if ((r = kt_client_register(meta, &pol, key, keylen, &reg, &oauth_error,
				    &err)) != KT_OK) {
		r = r == KT_ERR_INVALID
			? adm_invalid(a, "client metadata: %s", err.msg)
			: adm_fail(a, ADM_REFUSED, "internal", "%s", err.msg);
		goto out;
	}
	if ((r = adm_call(a,
			  kt_store_doc_put(kt_cli_redis(a->cli), "client",
					   reg.client_id, reg.stored, 0,
					   kt_cli_done, a->cli),
			  NULL, "store")) != 0)
		goto out;
	snprintf(object, sizeof(object), "client:%s", reg.client_id);
	if ((r = adm_call(a,
			  kt_account_audit_add(kt_cli_redis(a->cli), a->actor,
					       "client.register", object,
					       kt_cli_done, a->cli),
			  NULL, "audit")) != 0)
		goto out;
	snprintf(msg, sizeof(msg), "registered client %s%s", reg.client_id,
		 reg.secret[0] ? "; the secret is shown only now: store it"
			       : "");
	doc = json_pack("{s:O,s:s,s:s}", "client", reg.response, "source",
			"registered", "message", msg);
	if (doc == NULL) {
		r = adm_fail(a, ADM_REFUSED, "internal", "out of memory");
		goto out;
	}
	adm_print(a, doc, human_client);
out:
	/* doc shares the response (and its secret) with reg. */
	json_decref(doc);
	kt_client_registration_clear(&reg);
	kt_keyset_free(ks);
	json_decref(meta);
	client_in_clear(&in);
	return r;
}

/* A stored client as shown: validated like the gateway loads it. */
static json_t *registered_view(struct adm *a, json_t *stored)
{
	struct kt_client_policy pol = policy(a);
	struct kt_client *c = NULL;
	struct kt_error err;
	json_t *doc, *view;

	if (kt_client_from_storage(stored, &pol, &c, &err) == KT_OK) {
		view = kt_client_to_json(c, KT_CLIENT_JSON_SECRET_REDACTED);
		kt_client_free(c);
		return json_pack("{s:o,s:s}", "client", view, "source",
				 "registered");
	}
	/* Shown as stored, minus the secret's HMAC, with the reason the
	 * gateway would refuse it. */
	view = json_deep_copy(stored);
	json_object_del(view, "client_secret_hmac");
	doc = json_pack("{s:o,s:s,s:s}", "client", view, "source", "registered",
			"problem", err.msg);
	return doc;
}

static int client_show(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	struct client_in in = {0};
	const struct kt_client *cc;
	char *pos[ADM_MAX_POS];
	json_t *stored = NULL, *doc = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, client_opts, on_client_opt, &in,
			   pos, 1, 1, &npos)) != 0 ||
	    (r = adm_check_id(a, "client id", pos[0])) != 0 ||
	    (r = adm_connect(a)) != 0)
		return r;
	if (kt_cli_config(a->cli) != NULL &&
	    (cc = kt_config_client(kt_cli_config(a->cli), pos[0])) != NULL) {
		doc = json_pack(
		    "{s:o,s:s}", "client",
		    kt_client_to_json(cc, KT_CLIENT_JSON_SECRET_REDACTED),
		    "source", "config");
	} else {
		r = kt_cli_run(a->cli,
			       kt_store_doc_get(kt_cli_redis(a->cli), "client",
						pos[0], 0, kt_cli_done, a->cli),
			       &stored);
		if (r == KT_ERR_NOTFOUND)
			return adm_fail(a, ADM_REFUSED, "not_found",
					"no client %s", pos[0]);
		if (r != KT_OK) {
			const char *code;
			int exit = adm_exit_for(r, &code);
			json_decref(stored);
			return adm_fail(a, exit, code, "client %s: %s", pos[0],
					kt_strerror(r));
		}
		doc = registered_view(a, stored);
	}
	if (doc == NULL)
		r = adm_fail(a, ADM_REFUSED, "internal", "out of memory");
	else
		adm_print(a, doc, human_client);
	json_decref(doc);
	json_decref(stored);
	return r;
}

static void human_clients(struct adm *a, json_t *doc)
{
	json_t *list = json_object_get(doc, "clients"), *c;
	size_t i;

	if (json_array_size(list) == 0) {
		printf("no clients\n");
		return;
	}
	printf("%-32s %-10s %-20s %s\n", "CLIENT ID", "SOURCE", "AUTH METHOD",
	       "NAME");
	json_array_foreach(list, i, c) printf(
	    "%-32s %-10s %-20s %s%s%s\n", adm_str(c, "client_id"),
	    adm_str(c, "source"), adm_str(c, "token_endpoint_auth_method"),
	    adm_str(c, "client_name"),
	    *adm_str(c, "problem") ? "  PROBLEM: " : "", adm_str(c, "problem"));
}

static json_t *summary(json_t *client, const char *source, const char *problem)
{
	json_t *s = json_pack(
	    "{s:s,s:s,s:s,s:s}", "client_id", adm_str(client, "client_id"),
	    "client_name", adm_str(client, "client_name"),
	    "token_endpoint_auth_method",
	    adm_str(client, "token_endpoint_auth_method"), "source", source);

	if (s != NULL &&
	    json_is_array(json_object_get(client, "redirect_uris")))
		json_object_set(s, "redirect_uris",
				json_object_get(client, "redirect_uris"));
	if (s != NULL && problem != NULL)
		json_object_set_new(s, "problem", json_string(problem));
	return s;
}

static int cmp_client(const void *x, const void *y)
{
	json_t *const *a = x, *const *b = y;

	return strcmp(json_string_value(json_object_get(*a, "client_id")),
		      json_string_value(json_object_get(*b, "client_id")));
}

static int client_list(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	struct client_in in = {0};
	const struct kt_config *cfg;
	char *pos[ADM_MAX_POS], cursor[32] = "0";
	json_t *ids = json_object(), *list = json_array(), *doc = NULL;
	json_t **sorted = NULL;
	const char *id;
	json_t *v;
	size_t n = 0, i;
	int npos, r, steps = 0;

	if ((r = adm_parse(a, cmd, argc, argv, client_opts, on_client_opt, &in,
			   pos, 0, 0, &npos)) != 0 ||
	    (r = adm_connect(a)) != 0)
		goto out;
	cfg = kt_cli_config(a->cli);
	for (i = 0; cfg != NULL && i < cfg->n_clients; i++) {
		json_t *j = kt_client_to_json(cfg->clients[i], 0);
		json_array_append_new(list, summary(j, "config", NULL));
		json_decref(j);
	}
	/* Every registered client: SCAN in steps, ids deduplicated. */
	do {
		json_t *res = NULL;
		if ((r = adm_call(a,
				  kt_store_doc_scan(kt_cli_redis(a->cli),
						    "client", cursor,
						    kt_cli_done, a->cli),
				  &res, "scan")) != 0)
			goto out;
		snprintf(cursor, sizeof(cursor), "%s", adm_str(res, "cursor"));
		json_array_foreach(json_object_get(res, "ids"), i, v)
		    json_object_set(ids, json_string_value(v), json_true());
		json_decref(res);
	} while (strcmp(cursor, "0") != 0 && ++steps < 1000000);
	json_object_foreach(ids, id, v)
	{
		json_t *stored = NULL, *view;
		if (cfg != NULL && kt_config_client(cfg, id) != NULL)
			continue; /* the configuration's wins, as in the
				     gateway */
		r = kt_cli_run(a->cli,
			       kt_store_doc_get(kt_cli_redis(a->cli), "client",
						id, 0, kt_cli_done, a->cli),
			       &stored);
		if (r == KT_ERR_NOTFOUND)
			continue; /* deleted since the scan */
		if (r != KT_OK) {
			const char *code;
			int exit = adm_exit_for(r, &code);
			json_decref(stored);
			r = adm_fail(a, exit, code, "client %s: %s", id,
				     kt_strerror(r));
			goto out;
		}
		view = registered_view(a, stored);
		json_array_append_new(
		    list, summary(json_object_get(view, "client"), "registered",
				  json_string_value(
				      json_object_get(view, "problem"))));
		json_decref(view);
		json_decref(stored);
	}
	r = 0;
	/* Sorted by client id. */
	n = json_array_size(list);
	if (n > 0 && (sorted = calloc(n, sizeof(*sorted))) != NULL) {
		json_t *s = json_array();
		for (i = 0; i < n; i++)
			sorted[i] = json_array_get(list, i);
		qsort(sorted, n, sizeof(*sorted), cmp_client);
		for (i = 0; i < n; i++)
			json_array_append(s, sorted[i]);
		json_decref(list);
		list = s;
	}
	doc = json_pack("{s:O}", "clients", list);
	adm_print(a, doc, human_clients);
out:
	free(sorted);
	json_decref(doc);
	json_decref(list);
	json_decref(ids);
	return r;
}

static void human_secret(struct adm *a, json_t *doc)
{
	printf("%s\n\n", adm_str(doc, "message"));
	adm_kv("client id", adm_str(doc, "client_id"));
	adm_kv("client secret", adm_str(doc, "client_secret"));
}

static int client_rotate(struct adm *a, const struct adm_cmd *cmd, int argc,
			 char **argv)
{
	struct client_in in = {0};
	struct kt_client_policy pol;
	struct kt_keyset *ks = NULL;
	struct kt_error err;
	const uint8_t *key;
	size_t keylen;
	char *pos[ADM_MAX_POS], secret[48] = "", object[200], msg[300];
	json_t *stored = NULL, *fresh = NULL, *doc = NULL, *s;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, client_opts, on_client_opt, &in,
			   pos, 1, 1, &npos)) != 0 ||
	    (r = adm_check_id(a, "client id", pos[0])) != 0 ||
	    (r = adm_connect(a)) != 0 || (r = load_keys(a, &ks)) != 0)
		goto out;
	if (kt_config_client(kt_cli_config(a->cli), pos[0]) != NULL) {
		r = adm_fail(a, ADM_REFUSED, "refused",
			     "client %s is defined in the configuration file: "
			     "change its secret there",
			     pos[0]);
		goto out;
	}
	r = kt_cli_run(a->cli,
		       kt_store_doc_get(kt_cli_redis(a->cli), "client", pos[0],
					0, kt_cli_done, a->cli),
		       &stored);
	if (r == KT_ERR_NOTFOUND) {
		r = adm_fail(a, ADM_REFUSED, "not_found", "no client %s",
			     pos[0]);
		goto out;
	}
	if (r != KT_OK) {
		const char *code;
		int exit = adm_exit_for(r, &code);
		r = adm_fail(a, exit, code, "client %s: %s", pos[0],
			     kt_strerror(r));
		goto out;
	}
	kt_keyset_hmac_key(ks, &key, &keylen);
	pol = policy(a);
	r = kt_client_rotate_secret(stored, &pol, key, keylen, &fresh, secret,
				    &err);
	if (r != KT_OK) {
		r = adm_fail(a, ADM_REFUSED,
			     r == KT_ERR_UNSUPPORTED || r == KT_ERR_INVALID
				 ? "refused"
				 : "internal",
			     "%s", err.msg);
		goto out;
	}
	if ((r = adm_call(a,
			  kt_store_doc_put(kt_cli_redis(a->cli), "client",
					   pos[0], fresh, 0, kt_cli_done,
					   a->cli),
			  NULL, "store")) != 0)
		goto out;
	snprintf(object, sizeof(object), "client:%s", pos[0]);
	if ((r = adm_call(a,
			  kt_account_audit_add(kt_cli_redis(a->cli), a->actor,
					       "client.rotate_secret", object,
					       kt_cli_done, a->cli),
			  NULL, "audit")) != 0)
		goto out;
	snprintf(msg, sizeof(msg),
		 "new secret for client %s; the old one no longer works; the "
		 "secret is shown only now: store it",
		 pos[0]);
	doc = json_pack("{s:s,s:s,s:s}", "client_id", pos[0], "client_secret",
			secret, "message", msg);
	if (doc != NULL)
		adm_print(a, doc, human_secret);
out:
	if (doc != NULL && (s = json_object_get(doc, "client_secret")) != NULL)
		OPENSSL_cleanse((char *)json_string_value(s),
				json_string_length(s));
	OPENSSL_cleanse(secret, sizeof(secret));
	json_decref(doc);
	json_decref(stored);
	json_decref(fresh);
	kt_keyset_free(ks);
	return r;
}

const struct adm_cmd adm_client_cmds[] = {
    {"client", "register",
     "client register --config FILE --name NAME --redirect-uri URI ...\n"
     "        [--post-logout-redirect-uri URI ...] [--auth-method METHOD]\n"
     "        [--grant-type GRANT ...] [--scope SCOPE]",
     "register a relying party (a service portal)",
     "DESCRIPTION\n"
     "    Registers a client exactly as the gateway's dynamic registration\n"
     "    (RFC 7591) does: the same validation (absolute https redirect\n"
     "    URIs, PKCE always required, no consent skipping), a generated\n"
     "    client_id and, for the client_secret_* methods, a generated\n"
     "    secret that is stored only as an HMAC under keys/hmac.key of\n"
     "    the configuration's keys.dir (so --config is required). The\n"
     "    secret is printed once. The gateway finds the client at once,\n"
     "    without a reload. Audited as client.register.\n"
     "\n"
     "OPTIONS\n"
     "    --name NAME                     client_name, shown on the\n"
     "                                    consent page (required)\n"
     "    --redirect-uri URI              redirect_uris (repeatable, up\n"
     "                                    to 20)\n"
     "    --post-logout-redirect-uri URI  post_logout_redirect_uris\n"
     "                                    (repeatable)\n"
     "    --auth-method METHOD            token_endpoint_auth_method:\n"
     "                                    client_secret_basic (default),\n"
     "                                    client_secret_post, none\n"
     "                                    (private_key_jwt needs a JWKS:\n"
     "                                    use dynamic registration)\n"
     "    --grant-type GRANT              authorization_code (default),\n"
     "                                    refresh_token,\n"
     "                                    client_credentials (repeatable)\n"
     "    --scope SCOPE                   the scopes it may ask for\n"
     "                                    (space-separated)\n"
     "\n"
     "OUTPUT\n"
     "    With --json: {\"client\": registration response including\n"
     "    \"client_secret\", \"source\", \"message\"}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin client register --config /etc/kontor/kontor.json \\\n"
     "        --name 'Gewerbeportal' \\\n"
     "        --redirect-uri https://portal.example.de/oidc/callback \\\n"
     "        --grant-type authorization_code --grant-type refresh_token\n",
     client_register},
    {"client", "list", "client list", "list the relying parties",
     "DESCRIPTION\n"
     "    Lists the clients of the configuration file (with --config) and\n"
     "    every registered client in Redis (found with SCAN: meant for\n"
     "    administration, not for a hot path), sorted by client id. A\n"
     "    stored client that the gateway would refuse is listed with the\n"
     "    reason.\n"
     "\n"
     "OUTPUT\n"
     "    With --json: {\"clients\": [{\"client_id\", \"client_name\",\n"
     "    \"token_endpoint_auth_method\", \"redirect_uris\", \"source\":\n"
     "    \"config\"|\"registered\", \"problem\"?}]}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin --config /etc/kontor/kontor.json client list\n",
     client_list},
    {"client", "show", "client show ID", "show a relying party",
     "DESCRIPTION\n"
     "    Prints the client's effective metadata (defaults included),\n"
     "    from the configuration file first, else from Redis. Secrets\n"
     "    show as <redacted>.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin client show hJ4sQ0xg8lQ2h2mC1sB8aA\n",
     client_show},
    {"client", "rotate-secret", "client rotate-secret --config FILE ID",
     "give a registered client a new secret",
     "DESCRIPTION\n"
     "    Generates a new secret for a registered client that\n"
     "    authenticates with client_secret_basic or client_secret_post,\n"
     "    stores its HMAC and prints the secret once. The old secret\n"
     "    stops working at once. Clients of the configuration file are\n"
     "    refused (their secret is in the file), so are clients without a\n"
     "    secret. Audited as client.rotate_secret.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin client rotate-secret --config /etc/kontor/kontor.json "
     "\\\n"
     "        hJ4sQ0xg8lQ2h2mC1sB8aA\n",
     client_rotate},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
