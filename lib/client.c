#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kontor/client.h"
#include "kontor/err.h"
#include "kontor/uri.h"
#include "kontor/util.h"

static const char OAUTH_BAD_URI[] = "invalid_redirect_uri";
static const char OAUTH_BAD_META[] = "invalid_client_metadata";

static const char *const auth_names[] = {
    [KT_AUTH_CLIENT_SECRET_BASIC] = "client_secret_basic",
    [KT_AUTH_CLIENT_SECRET_POST] = "client_secret_post",
    [KT_AUTH_PRIVATE_KEY_JWT] = "private_key_jwt",
    [KT_AUTH_NONE] = "none",
};

static const struct {
	const char *name;
	unsigned flag;
} grant_names[] = {
    {"authorization_code", KT_GRANT_AUTHORIZATION_CODE},
    {"refresh_token", KT_GRANT_REFRESH_TOKEN},
    {"client_credentials", KT_GRANT_CLIENT_CREDENTIALS},
};

/*
 * Keys a config file entry may contain. A registration request may contain
 * anything: RFC 7591 section 2 says unknown metadata is ignored.
 */
static const char *const config_keys[] = {
    "client_id",
    "client_secret",
    "client_name",
    "token_endpoint_auth_method",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    "scope",
    "jwks",
    "jwks_uri",
    "id_token_signed_response_alg",
    "application_type",
    "subject_type",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "require_pkce",
    "skip_consent",
    "sector_identifier",
    "organisation_required",
};

/* JWK members that only a private or symmetric key has (RFC 7518 §6). */
static const char *const jwk_private_members[] = {"d",	"p",  "q",   "dp",
						  "dq", "qi", "oth", "k"};

struct parse {
	const char *path;
	const struct kt_client_policy *pol;
	struct kt_error *err;
	const char *oauth_error;
};

const char *kt_client_auth_name(enum kt_client_auth m)
{
	if ((unsigned)m >= sizeof(auth_names) / sizeof(auth_names[0]))
		return "unknown";
	return auth_names[m];
}

int kt_client_auth_parse(const char *s, enum kt_client_auth *out)
{
	for (size_t i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]);
	     i++) {
		if (s != NULL && strcmp(s, auth_names[i]) == 0) {
			*out = (enum kt_client_auth)i;
			return KT_OK;
		}
	}
	return KT_ERR_INVALID;
}

/*
 * Echo an untrusted value in a message only in a tame form: printable
 * ASCII, bounded, so that error_description and logs stay readable.
 */
static const char *tame(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	buf[i] = '\0';
	if (s[i] != '\0' && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
	return buf;
}

static int failf(struct parse *ps, const char *oauth_error, const char *key,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int failf(struct parse *ps, const char *oauth_error, const char *key,
		 const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;
	int have_path = ps->path != NULL && ps->path[0] != '\0';

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->oauth_error = oauth_error;
	if (key == NULL)
		return kt_error_set(ps->err, KT_ERR_INVALID, "%s: %s",
				    have_path ? ps->path : "client metadata",
				    msg);
	if (have_path)
		return kt_error_set(ps->err, KT_ERR_INVALID, "%s.%s: %s",
				    ps->path, key, msg);
	return kt_error_set(ps->err, KT_ERR_INVALID, "%s: %s", key, msg);
}

static int nomem(struct parse *ps)
{
	ps->oauth_error = NULL;
	return kt_error_set(ps->err, KT_ERR_NOMEM, "out of memory");
}

/*
 * The value of key, or NULL when absent. In a registration request a JSON
 * null counts as absent: several client libraries send unset fields so.
 */
static const json_t *getv(const struct parse *ps, const json_t *obj,
			  const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (v != NULL && json_is_null(v) && ps->pol->dynamic)
		return NULL;
	return v;
}

static int get_string(struct parse *ps, const json_t *obj, const char *key,
		      const char **out)
{
	const json_t *v = getv(ps, obj, key);

	*out = NULL;
	if (v == NULL)
		return KT_OK;
	if (!json_is_string(v))
		return failf(ps, OAUTH_BAD_META, key, "expected a string");
	*out = json_string_value(v);
	return KT_OK;
}

static int get_bool(struct parse *ps, const json_t *obj, const char *key,
		    int *out, int def)
{
	const json_t *v = getv(ps, obj, key);

	*out = def;
	if (v == NULL)
		return KT_OK;
	if (!json_is_boolean(v))
		return failf(ps, OAUTH_BAD_META, key, "expected a boolean");
	*out = json_is_true(v);
	return KT_OK;
}

/* An array of strings of at most max entries; *out NULL when absent. */
static int get_string_array(struct parse *ps, const json_t *obj,
			    const char *key, size_t max, const char *oauth,
			    const json_t **out)
{
	const json_t *v = getv(ps, obj, key), *e;
	size_t i;

	*out = NULL;
	if (v == NULL)
		return KT_OK;
	if (!json_is_array(v))
		return failf(ps, oauth, key, "expected an array of strings");
	if (json_array_size(v) > max)
		return failf(ps, oauth, key, "more than %zu entries", max);
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			char k[64];
			snprintf(k, sizeof(k), "%s[%zu]", key, i);
			return failf(ps, oauth, k, "expected a string");
		}
	}
	*out = v;
	return KT_OK;
}

static void free_strv(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

static int is_scope_char(unsigned char c)
{
	/* RFC 6749 section 3.3 NQCHAR */
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

struct scope_list {
	const char *tok[KT_CLIENT_MAX_SCOPES];
	size_t len[KT_CLIENT_MAX_SCOPES];
	size_t n;
};

static int scope_has(const struct scope_list *l, const char *t, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->len[i] == n && memcmp(l->tok[i], t, n) == 0)
			return 1;
	return 0;
}

/*
 * Split a space-separated scope string into distinct tokens (points into
 * s). Runs of spaces are tolerated; any other non-NQCHAR is not.
 */
static int scope_split(const char *s, struct scope_list *out, int dedupe)
{
	const char *p = s;

	out->n = 0;
	if (strnlen(s, KT_CLIENT_SCOPE_MAX + 1) > KT_CLIENT_SCOPE_MAX)
		return KT_ERR_LIMIT;
	while (*p != '\0') {
		const char *t;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		t = p;
		while (*p != '\0' && *p != ' ') {
			if (!is_scope_char((unsigned char)*p))
				return KT_ERR_INVALID;
			p++;
		}
		if (dedupe && scope_has(out, t, (size_t)(p - t)))
			continue;
		if (out->n == KT_CLIENT_MAX_SCOPES)
			return KT_ERR_LIMIT;
		out->tok[out->n] = t;
		out->len[out->n] = (size_t)(p - t);
		out->n++;
	}
	return KT_OK;
}

static char *scope_join(const struct scope_list *l)
{
	size_t total = 1, o = 0;
	char *s;

	for (size_t i = 0; i < l->n; i++)
		total += l->len[i] + 1;
	if ((s = malloc(total)) == NULL)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			s[o++] = ' ';
		memcpy(s + o, l->tok[i], l->len[i]);
		o += l->len[i];
	}
	s[o] = '\0';
	return s;
}

static int client_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > KT_CLIENT_ID_MAX)
		return 0;
	/* RFC 3986 unreserved: safe in URLs, form bodies and the
	 * HTTP Basic user-id without any encoding. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~'))
			return 0;
	}
	return 1;
}

/* Validate a list of URIs into a NULL-terminated copy. */
static int parse_uris(struct parse *ps, const json_t *arr, const char *key,
		      char ***out, size_t *nout)
{
	const json_t *e;
	size_t i, n = arr ? json_array_size(arr) : 0;
	char **v;

	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return nomem(ps);
	*out = v;
	*nout = 0;
	for (i = 0; i < n; i++) {
		const char *reason = NULL;
		const char *s;

		e = json_array_get(arr, i);
		s = json_string_value(e);
		if (kt_uri_check_redirect(s, ps->pol->allow_http_loopback,
					  &reason) != KT_OK) {
			char k[64];
			snprintf(k, sizeof(k), "%s[%zu]", key, i);
			return failf(ps, OAUTH_BAD_URI, k, "%s", reason);
		}
		if ((v[i] = strdup(s)) == NULL)
			return nomem(ps);
		*nout = i + 1;
	}
	return KT_OK;
}

static int parse_grants(struct parse *ps, const json_t *obj, unsigned *out)
{
	const json_t *arr, *e;
	size_t i;
	int r;

	*out = KT_GRANT_AUTHORIZATION_CODE; /* RFC 7591 default */
	if ((r = get_string_array(ps, obj, "grant_types", 8, OAUTH_BAD_META,
				  &arr)) != KT_OK)
		return r;
	if (arr == NULL)
		return KT_OK;
	if (json_array_size(arr) == 0)
		return failf(ps, OAUTH_BAD_META, "grant_types",
			     "must not be empty");
	*out = 0;
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(e);
		unsigned flag = 0;
		char buf[48];

		for (size_t g = 0;
		     g < sizeof(grant_names) / sizeof(grant_names[0]); g++)
			if (strcmp(s, grant_names[g].name) == 0)
				flag = grant_names[g].flag;
		if (flag == 0) {
			char k[48];
			snprintf(k, sizeof(k), "grant_types[%zu]", i);
			return failf(ps, OAUTH_BAD_META, k,
				     "unsupported grant type '%s'",
				     tame(s, buf, sizeof(buf)));
		}
		*out |= flag;
	}
	return KT_OK;
}

/* Only "code" exists; returns whether it was registered. */
static int parse_response_types(struct parse *ps, const json_t *obj,
				unsigned grants, int *code)
{
	const json_t *arr, *e;
	size_t i;
	int r;

	/* Default: coherent with grant_types (RFC 7591 section 2.1). */
	*code = (grants & KT_GRANT_AUTHORIZATION_CODE) != 0;
	if ((r = get_string_array(ps, obj, "response_types", 8, OAUTH_BAD_META,
				  &arr)) != KT_OK)
		return r;
	if (arr == NULL)
		return KT_OK;
	*code = 0;
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(e);
		char buf[48], k[48];

		if (strcmp(s, "code") != 0) {
			snprintf(k, sizeof(k), "response_types[%zu]", i);
			return failf(ps, OAUTH_BAD_META, k,
				     "unsupported response type '%s'",
				     tame(s, buf, sizeof(buf)));
		}
		*code = 1;
	}
	return KT_OK;
}

static int parse_jwks(struct parse *ps, const json_t *obj, json_t **out)
{
	const json_t *v = getv(ps, obj, "jwks"), *keys, *k;
	size_t i, sz;

	*out = NULL;
	if (v == NULL)
		return KT_OK;
	keys = json_is_object(v) ? json_object_get(v, "keys") : NULL;
	if (!json_is_array(keys) || json_array_size(keys) == 0)
		return failf(
		    ps, OAUTH_BAD_META, "jwks",
		    "expected an object with a non-empty 'keys' array");
	if (json_array_size(keys) > KT_CLIENT_MAX_JWKS_KEYS)
		return failf(ps, OAUTH_BAD_META, "jwks", "more than %d keys",
			     KT_CLIENT_MAX_JWKS_KEYS);
	/* Structure only; the JOSE layer checks key material when used. */
	json_array_foreach(keys, i, k)
	{
		char key[48];

		snprintf(key, sizeof(key), "jwks.keys[%zu]", i);
		if (!json_is_object(k) ||
		    !json_is_string(json_object_get(k, "kty")))
			return failf(ps, OAUTH_BAD_META, key,
				     "expected a JWK object with 'kty'");
		/* A client that uploads its private key has leaked it; do
		 * not store it. */
		for (size_t m = 0; m < sizeof(jwk_private_members) /
					   sizeof(jwk_private_members[0]);
		     m++)
			if (json_object_get(k, jwk_private_members[m]) != NULL)
				return failf(ps, OAUTH_BAD_META, key,
					     "must be a public key (has '%s')",
					     jwk_private_members[m]);
	}
	sz = json_dumpb(v, NULL, 0, JSON_COMPACT);
	if (sz == 0 || sz > KT_CLIENT_JWKS_MAX)
		return failf(ps, OAUTH_BAD_META, "jwks", "larger than %d bytes",
			     KT_CLIENT_JWKS_MAX);
	if ((*out = json_deep_copy(v)) == NULL)
		return nomem(ps);
	return KT_OK;
}

static int parse_choice(struct parse *ps, const json_t *obj, const char *key,
			const char *const *choices, size_t n, const char **out)
{
	const char *s;
	char buf[48];
	int r;

	if ((r = get_string(ps, obj, key, &s)) != KT_OK)
		return r;
	if (s == NULL)
		return KT_OK; /* *out keeps the default */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, choices[i]) == 0) {
			*out = choices[i];
			return KT_OK;
		}
	}
	if (n == 2)
		return failf(ps, OAUTH_BAD_META, key,
			     "must be '%s' or '%s', not '%s'", choices[0],
			     choices[1], tame(s, buf, sizeof(buf)));
	return failf(ps, OAUTH_BAD_META, key, "unsupported value '%s'",
		     tame(s, buf, sizeof(buf)));
}

static int check_unknown_keys(struct parse *ps, const json_t *obj)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		size_t i, n = sizeof(config_keys) / sizeof(config_keys[0]);
		char buf[64];

		for (i = 0; i < n; i++)
			if (strcmp(key, config_keys[i]) == 0)
				break;
		if (i == n)
			return failf(ps, OAUTH_BAD_META,
				     tame(key, buf, sizeof(buf)),
				     "unknown key");
	}
	return KT_OK;
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (; a != NULL && v != NULL && *v != NULL; v++) {
		if (json_array_append_new(a, json_string(*v)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The effective metadata: every registered value, defaults included. */
static json_t *build_metadata(const struct kt_client *c)
{
	json_t *m = json_object(), *g = json_array(), *rt = json_array();
	int bad = (m == NULL || g == NULL || rt == NULL);

	for (size_t i = 0;
	     !bad && i < sizeof(grant_names) / sizeof(grant_names[0]); i++)
		if (c->grant_types & grant_names[i].flag)
			bad |= json_array_append_new(
			    g, json_string(grant_names[i].name));
	if (!bad && (c->grant_types & KT_GRANT_AUTHORIZATION_CODE))
		bad |= json_array_append_new(rt, json_string("code"));
	if (bad)
		goto fail;
	if (c->client_name != NULL)
		bad |= json_object_set_new(m, "client_name",
					   json_string(c->client_name));
	bad |= json_object_set_new(m, "redirect_uris",
				   strv_json(c->redirect_uris));
	if (c->n_post_logout_redirect_uris > 0)
		bad |= json_object_set_new(
		    m, "post_logout_redirect_uris",
		    strv_json(c->post_logout_redirect_uris));
	bad |= json_object_set(m, "grant_types", g);
	bad |= json_object_set(m, "response_types", rt);
	bad |= json_object_set_new(
	    m, "token_endpoint_auth_method",
	    json_string(kt_client_auth_name(c->auth_method)));
	bad |= json_object_set_new(m, "scope", json_string(c->scope));
	if (c->jwks != NULL)
		bad |= json_object_set_new(m, "jwks", json_deep_copy(c->jwks));
	bad |= json_object_set_new(m, "id_token_signed_response_alg",
				   json_string(c->id_token_alg));
	bad |= json_object_set_new(
	    m, "application_type",
	    json_string(c->application_type == KT_APP_NATIVE ? "native"
							     : "web"));
	bad |= json_object_set_new(m, "subject_type",
				   json_string(c->subject_type));
	bad |= json_object_set_new(m, "organisation_required",
				   json_boolean(c->organisation_required));
	if (c->backchannel_logout_uri != NULL) {
		bad |=
		    json_object_set_new(m, "backchannel_logout_uri",
					json_string(c->backchannel_logout_uri));
		bad |= json_object_set_new(
		    m, "backchannel_logout_session_required",
		    json_boolean(c->backchannel_logout_session_required));
	}
	/* kontor-specific, settable in the config file only */
	if (!c->dynamic) {
		bad |= json_object_set_new(m, "require_pkce",
					   json_boolean(c->require_pkce));
		bad |= json_object_set_new(m, "skip_consent",
					   json_boolean(c->skip_consent));
		bad |= json_object_set_new(m, "sector_identifier",
					   json_string(c->sector));
	}
	if (bad)
		goto fail;
	json_decref(g);
	json_decref(rt);
	return m;
fail:
	json_decref(m);
	json_decref(g);
	json_decref(rt);
	return NULL;
}

static int parse_identity(struct parse *ps, const json_t *obj,
			  struct kt_client *c)
{
	const char *s;
	int r;

	if (ps->pol->dynamic) {
		c->dynamic = 1;
		c->created_at = ps->pol->created_at;
		if (ps->pol->client_id != NULL &&
		    (c->client_id = strdup(ps->pol->client_id)) == NULL)
			return nomem(ps);
		if (c->auth_method != KT_AUTH_CLIENT_SECRET_BASIC &&
		    c->auth_method != KT_AUTH_CLIENT_SECRET_POST)
			return KT_OK;
		if (ps->pol->secret_hmac != NULL &&
		    (c->secret_hmac = strdup(ps->pol->secret_hmac)) == NULL)
			return nomem(ps);
		return KT_OK;
	}
	if ((r = get_string(ps, obj, "client_id", &s)) != KT_OK)
		return r;
	if (s == NULL)
		return failf(ps, OAUTH_BAD_META, "client_id", "required");
	if (!client_id_ok(s))
		return failf(ps, OAUTH_BAD_META, "client_id",
			     "must be 1 to %d characters from A-Z a-z 0-9 "
			     "- . _ ~",
			     KT_CLIENT_ID_MAX);
	if ((c->client_id = strdup(s)) == NULL)
		return nomem(ps);

	if ((r = get_string(ps, obj, "client_secret", &s)) != KT_OK)
		return r;
	if (c->auth_method != KT_AUTH_CLIENT_SECRET_BASIC &&
	    c->auth_method != KT_AUTH_CLIENT_SECRET_POST) {
		if (s != NULL)
			return failf(ps, OAUTH_BAD_META, "client_secret",
				     "not used with token_endpoint_auth_method "
				     "'%s'",
				     kt_client_auth_name(c->auth_method));
		return KT_OK;
	}
	if (s == NULL)
		return failf(ps, OAUTH_BAD_META, "client_secret",
			     "required for token_endpoint_auth_method '%s'",
			     kt_client_auth_name(c->auth_method));
	if (strlen(s) < KT_CLIENT_SECRET_MIN ||
	    strlen(s) > KT_CLIENT_SECRET_MAX)
		return failf(ps, OAUTH_BAD_META, "client_secret",
			     "must be %d to %d characters long",
			     KT_CLIENT_SECRET_MIN, KT_CLIENT_SECRET_MAX);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return failf(ps, OAUTH_BAD_META, "client_secret",
				     "must be printable ASCII without spaces");
	if ((c->secret = strdup(s)) == NULL)
		return nomem(ps);
	/* Hashed once here, not on every token request. */
	kt_sha256(c->secret_sha256, c->secret, strlen(c->secret));
	return KT_OK;
}

static int parse_name_and_scope(struct parse *ps, const json_t *obj,
				struct kt_client *c)
{
	struct scope_list sl;
	const char *s;
	int r;

	if ((r = get_string(ps, obj, "client_name", &s)) != KT_OK)
		return r;
	if (s != NULL) {
		if (*s == '\0')
			return failf(ps, OAUTH_BAD_META, "client_name",
				     "must not be empty");
		if (strlen(s) > KT_CLIENT_NAME_MAX)
			return failf(ps, OAUTH_BAD_META, "client_name",
				     "longer than %d bytes",
				     KT_CLIENT_NAME_MAX);
		/* Shown on the consent page; jansson guarantees UTF-8. */
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return failf(ps, OAUTH_BAD_META, "client_name",
					     "contains control characters");
		if ((c->client_name = strdup(s)) == NULL)
			return nomem(ps);
	}

	if ((r = get_string(ps, obj, "scope", &s)) != KT_OK)
		return r;
	if (s == NULL)
		s = KT_CLIENT_DEFAULT_SCOPE;
	r = scope_split(s, &sl, 1);
	if (r == KT_ERR_LIMIT)
		return failf(ps, OAUTH_BAD_META, "scope",
			     "longer than %d bytes or more than %d scopes",
			     KT_CLIENT_SCOPE_MAX, KT_CLIENT_MAX_SCOPES);
	if (r != KT_OK)
		return failf(ps, OAUTH_BAD_META, "scope",
			     "contains forbidden characters");
	if (sl.n == 0)
		return failf(ps, OAUTH_BAD_META, "scope", "must not be empty");
	if ((c->scope = scope_join(&sl)) == NULL)
		return nomem(ps);
	return KT_OK;
}

static int parse_flags(struct parse *ps, const json_t *obj, struct kt_client *c)
{
	int r;

	if ((r = get_bool(ps, obj, "require_pkce", &c->require_pkce, 1)) !=
	    KT_OK)
		return r;
	if ((r = get_bool(ps, obj, "skip_consent", &c->skip_consent, 0)) !=
	    KT_OK)
		return r;
	if (ps->pol->dynamic && c->skip_consent)
		return failf(ps, OAUTH_BAD_META, "skip_consent",
			     "not allowed for dynamically registered clients");
	if (ps->pol->dynamic && !c->require_pkce)
		return failf(ps, OAUTH_BAD_META, "require_pkce",
			     "cannot be disabled for dynamically registered "
			     "clients");
	if (c->auth_method == KT_AUTH_NONE && !c->require_pkce)
		return failf(ps, OAUTH_BAD_META, "require_pkce",
			     "must be true for token_endpoint_auth_method "
			     "'none'");
	return KT_OK;
}

static int parse_logout(struct parse *ps, const json_t *obj,
			struct kt_client *c)
{
	const json_t *arr;
	const char *s, *reason = NULL;
	int r;

	if ((r = get_string_array(ps, obj, "post_logout_redirect_uris",
				  KT_CLIENT_MAX_URIS, OAUTH_BAD_URI, &arr)) !=
	    KT_OK)
		return r;
	if ((r = parse_uris(ps, arr, "post_logout_redirect_uris",
			    &c->post_logout_redirect_uris,
			    &c->n_post_logout_redirect_uris)) != KT_OK)
		return r;
	if ((r = get_string(ps, obj, "backchannel_logout_uri", &s)) != KT_OK)
		return r;
	if (s != NULL) {
		if (kt_uri_check_redirect(s, ps->pol->allow_http_loopback,
					  &reason) != KT_OK)
			return failf(ps, OAUTH_BAD_META,
				     "backchannel_logout_uri", "%s", reason);
		if ((c->backchannel_logout_uri = strdup(s)) == NULL)
			return nomem(ps);
	}
	return get_bool(ps, obj, "backchannel_logout_session_required",
			&c->backchannel_logout_session_required, 0);
}

/* Host part of an already validated absolute URI. */
static int uri_host(const char *uri, char *out, size_t cap)
{
	const char *p = strstr(uri, "://"), *end;
	size_t n;

	if (p == NULL)
		return -1;
	p += 3;
	end = p + strcspn(p, "/?#");
	/* [v6] literals keep their brackets; a port is not part of the
	 * sector. */
	if (*p == '[')
		n = (size_t)(strchr(p, ']') ? strchr(p, ']') - p + 1 : end - p);
	else
		n = strcspn(p, ":/?#");
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	for (char *q = out; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return 0;
}

/*
 * The pairwise sector (OIDC Core §8.1): an explicit sector_identifier
 * (config clients; a host name), else the single host all redirect_uris
 * share. A client whose redirect_uris span hosts must name its sector
 * (sector_identifier_uri documents would need an outbound fetch at
 * registration; not supported). Clients without redirect_uris (machine
 * clients) get a sector of their own.
 */
static int parse_sector(struct parse *ps, const json_t *obj,
			struct kt_client *c)
{
	char host[256], first[256];
	const char *s;
	int r;

	if ((r = get_string(ps, obj, "sector_identifier", &s)) != KT_OK)
		return r;
	if (getv(ps, obj, "sector_identifier_uri") != NULL)
		return failf(ps, OAUTH_BAD_META, "sector_identifier_uri",
			     "not supported; redirect_uris must share one "
			     "host");
	if (s != NULL) {
		if (ps->pol->dynamic)
			s = NULL; /* ignored: not a registration parameter */
		else if (*s == '\0' || strlen(s) > 253 ||
			 strpbrk(s, " /:?#@{}\\") != NULL)
			return failf(ps, OAUTH_BAD_META, "sector_identifier",
				     "must be a host name");
	}
	if (s != NULL) {
		c->sector = strdup(s);
		return c->sector ? KT_OK : nomem(ps);
	}
	first[0] = '\0';
	for (size_t i = 0; i < c->n_redirect_uris; i++) {
		if (uri_host(c->redirect_uris[i], host, sizeof(host)) != 0)
			return failf(ps, OAUTH_BAD_URI, "redirect_uris",
				     "cannot determine the host of '%s'",
				     c->redirect_uris[i]);
		if (first[0] == '\0')
			memcpy(first, host, strlen(host) + 1);
		else if (strcmp(first, host) != 0)
			return failf(ps, OAUTH_BAD_META, "redirect_uris",
				     "span several hosts; %s",
				     ps->pol->dynamic
					 ? "register one client per host"
					 : "set sector_identifier");
	}
	if (first[0] != '\0') {
		c->sector = strdup(first);
	} else {
		size_t n = strlen(c->client_id) + 8;
		if ((c->sector = malloc(n)) != NULL)
			snprintf(c->sector, n, "client:%s", c->client_id);
	}
	return c->sector ? KT_OK : nomem(ps);
}

static int parse_client(struct parse *ps, const json_t *obj,
			struct kt_client *c)
{
	static const char *const algs[] = {"RS256", "ES256"};
	static const char *const app_types[] = {"web", "native"};
	static const char *const subject_types[] = {"public", "pairwise"};
	const char *s, *app = app_types[0];
	const json_t *arr;
	int r, code;
	char buf[48];

	if (!json_is_object(obj))
		return failf(ps, OAUTH_BAD_META, NULL, "expected an object");
	if (!ps->pol->dynamic && (r = check_unknown_keys(ps, obj)) != KT_OK)
		return r;

	c->auth_method = KT_AUTH_CLIENT_SECRET_BASIC; /* RFC 7591 default */
	if ((r = get_string(ps, obj, "token_endpoint_auth_method", &s)) !=
	    KT_OK)
		return r;
	if (s != NULL && kt_client_auth_parse(s, &c->auth_method) != KT_OK)
		return failf(ps, OAUTH_BAD_META, "token_endpoint_auth_method",
			     "unsupported value '%s'",
			     tame(s, buf, sizeof(buf)));
	if ((r = parse_identity(ps, obj, c)) != KT_OK)
		return r;
	if ((r = parse_name_and_scope(ps, obj, c)) != KT_OK)
		return r;

	if ((r = parse_grants(ps, obj, &c->grant_types)) != KT_OK)
		return r;
	if ((r = parse_response_types(ps, obj, c->grant_types, &code)) != KT_OK)
		return r;
	if (code && !(c->grant_types & KT_GRANT_AUTHORIZATION_CODE))
		return failf(ps, OAUTH_BAD_META, "response_types",
			     "'code' requires the authorization_code grant "
			     "type");
	if (!code && (c->grant_types & KT_GRANT_AUTHORIZATION_CODE))
		return failf(ps, OAUTH_BAD_META, "response_types",
			     "the authorization_code grant type requires "
			     "'code'");
	/* Refresh tokens are only ever issued by the code grant. */
	if ((c->grant_types & KT_GRANT_REFRESH_TOKEN) &&
	    !(c->grant_types & KT_GRANT_AUTHORIZATION_CODE))
		return failf(ps, OAUTH_BAD_META, "grant_types",
			     "refresh_token requires authorization_code");
	if (c->auth_method == KT_AUTH_NONE &&
	    (c->grant_types & KT_GRANT_CLIENT_CREDENTIALS))
		return failf(ps, OAUTH_BAD_META, "token_endpoint_auth_method",
			     "'none' is only allowed with the "
			     "authorization_code and refresh_token grant "
			     "types");

	if ((r = get_string_array(ps, obj, "redirect_uris", KT_CLIENT_MAX_URIS,
				  OAUTH_BAD_URI, &arr)) != KT_OK)
		return r;
	if ((r = parse_uris(ps, arr, "redirect_uris", &c->redirect_uris,
			    &c->n_redirect_uris)) != KT_OK)
		return r;
	if ((c->grant_types & KT_GRANT_AUTHORIZATION_CODE) &&
	    c->n_redirect_uris == 0)
		return failf(ps, OAUTH_BAD_URI, "redirect_uris",
			     "required for the authorization_code grant type");
	if ((r = parse_logout(ps, obj, c)) != KT_OK)
		return r;

	if (getv(ps, obj, "jwks_uri") != NULL)
		return failf(ps, OAUTH_BAD_META, "jwks_uri",
			     "not supported, register the keys inline as "
			     "'jwks'");
	if ((r = parse_jwks(ps, obj, &c->jwks)) != KT_OK)
		return r;
	if (c->auth_method == KT_AUTH_PRIVATE_KEY_JWT && c->jwks == NULL)
		return failf(ps, OAUTH_BAD_META, "jwks",
			     "required for token_endpoint_auth_method "
			     "'private_key_jwt'");

	c->id_token_alg = algs[0];
	if ((r = parse_choice(ps, obj, "id_token_signed_response_alg", algs, 2,
			      &c->id_token_alg)) != KT_OK)
		return r;
	if ((r = parse_choice(ps, obj, "application_type", app_types, 2,
			      &app)) != KT_OK)
		return r;
	c->application_type = app == app_types[1] ? KT_APP_NATIVE : KT_APP_WEB;
	/* Pairwise by default: portals of different sectors must not be
	 * able to correlate people (OIDC Core §8.1). */
	c->subject_type = subject_types[1];
	if ((r = parse_choice(ps, obj, "subject_type", subject_types, 2,
			      &c->subject_type)) != KT_OK)
		return r;
	if (ps->pol->dynamic && c->subject_type == subject_types[0])
		return failf(ps, OAUTH_BAD_META, "subject_type",
			     "'public' is only available to clients in the "
			     "configuration file");
	if ((r = parse_sector(ps, obj, c)) != KT_OK)
		return r;
	if ((r = get_bool(ps, obj, "organisation_required",
			  &c->organisation_required, 0)) != KT_OK)
		return r;
	if ((r = parse_flags(ps, obj, c)) != KT_OK)
		return r;

	if ((c->metadata = build_metadata(c)) == NULL)
		return nomem(ps);
	return KT_OK;
}

int kt_client_from_json(const json_t *obj, const char *path,
			const struct kt_client_policy *pol,
			struct kt_client **out, const char **oauth_error,
			struct kt_error *err)
{
	struct parse ps = {.path = path, .pol = pol, .err = err};
	struct kt_client *c = NULL;
	int r;

	*out = NULL;
	if (oauth_error != NULL)
		*oauth_error = NULL;
	kt_error_clear(err);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = nomem(&ps);
		goto cleanup;
	}
	if ((r = parse_client(&ps, obj, c)) != KT_OK)
		goto cleanup;
	*out = c;
	c = NULL;
cleanup:
	if (r != KT_OK && oauth_error != NULL)
		*oauth_error = ps.oauth_error;
	kt_client_free(c);
	return r;
}

int kt_client_from_storage(const json_t *obj,
			   const struct kt_client_policy *pol,
			   struct kt_client **out, struct kt_error *err)
{
	struct kt_client_policy p = *pol;
	const json_t *id, *hmac, *iat;

	*out = NULL;
	id = json_object_get(obj, "client_id");
	hmac = json_object_get(obj, "client_secret_hmac");
	iat = json_object_get(obj, "client_id_issued_at");
	if (!json_is_string(id) || !client_id_ok(json_string_value(id)))
		return kt_error_set(err, KT_ERR_INVALID,
				    "stored client: bad client_id");
	if (hmac != NULL &&
	    (!json_is_string(hmac) ||
	     json_string_length(hmac) != KT_CLIENT_SECRET_HMAC_LEN))
		return kt_error_set(err, KT_ERR_INVALID,
				    "stored client: bad client_secret_hmac");
	if (!json_is_integer(iat) || json_integer_value(iat) < 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "stored client: bad client_id_issued_at");
	p.dynamic = 1;
	p.client_id = json_string_value(id);
	p.secret_hmac = json_string_value(hmac);
	p.created_at = json_integer_value(iat);
	return kt_client_from_json(obj, "stored client", &p, out, NULL, err);
}

json_t *kt_client_to_json(const struct kt_client *c, unsigned flags)
{
	json_t *o = json_object(), *m = json_deep_copy(c->metadata);
	int bad = (o == NULL || m == NULL);

	if (!bad && c->client_id != NULL)
		bad |= json_object_set_new(o, "client_id",
					   json_string(c->client_id));
	if (!bad && c->dynamic) {
		bad |= json_object_set_new(o, "client_id_issued_at",
					   json_integer(c->created_at));
		if (c->secret_hmac != NULL)
			bad |= json_object_set_new(
			    o, "client_secret_expires_at", json_integer(0));
	}
	if (!bad && (flags & KT_CLIENT_JSON_SECRET) && c->secret != NULL)
		bad |= json_object_set_new(o, "client_secret",
					   json_string(c->secret));
	else if (!bad && (flags & KT_CLIENT_JSON_SECRET_REDACTED) &&
		 (c->secret != NULL || c->secret_hmac != NULL))
		bad |= json_object_set_new(o, "client_secret",
					   json_string("<redacted>"));
	if (!bad && (flags & KT_CLIENT_JSON_STORAGE) && c->secret_hmac != NULL)
		bad |= json_object_set_new(o, "client_secret_hmac",
					   json_string(c->secret_hmac));
	if (!bad)
		bad |= json_object_update(o, m);
	json_decref(m);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void kt_client_free(struct kt_client *c)
{
	if (c == NULL)
		return;
	free(c->client_id);
	free(c->client_name);
	kt_free_secret(c->secret);
	OPENSSL_cleanse(c->secret_sha256, sizeof(c->secret_sha256));
	kt_free_secret(c->secret_hmac);
	free_strv(c->redirect_uris);
	free_strv(c->post_logout_redirect_uris);
	free(c->scope);
	json_decref(c->jwks);
	free(c->backchannel_logout_uri);
	free(c->sector);
	json_decref(c->metadata);
	free(c);
}

static int uri_in(char *const *v, const char *uri)
{
	for (; v != NULL && *v != NULL; v++)
		if (kt_uri_equal(*v, uri))
			return 1;
	return 0;
}

int kt_client_redirect_uri_ok(const struct kt_client *c, const char *uri)
{
	return c != NULL && uri_in(c->redirect_uris, uri);
}

int kt_client_post_logout_uri_ok(const struct kt_client *c, const char *uri)
{
	return c != NULL && uri_in(c->post_logout_redirect_uris, uri);
}

int kt_client_grant_ok(const struct kt_client *c, unsigned flag)
{
	return c != NULL && flag != 0 && (c->grant_types & flag) == flag;
}

int kt_client_scope_filter(const struct kt_client *c, const char *requested,
			   char **granted)
{
	struct scope_list req, allowed, out;
	int r;

	*granted = NULL;
	if ((r = scope_split(requested ? requested : "", &req, 1)) != KT_OK)
		return r;
	if ((r = scope_split(c->scope, &allowed, 0)) != KT_OK)
		return r;
	out.n = 0;
	for (size_t i = 0; i < req.n; i++) {
		if (!scope_has(&allowed, req.tok[i], req.len[i]))
			continue;
		out.tok[out.n] = req.tok[i];
		out.len[out.n] = req.len[i];
		out.n++;
	}
	if ((*granted = scope_join(&out)) == NULL)
		return KT_ERR_NOMEM;
	return KT_OK;
}

/*
 * Client secrets are generated by us with 256 bits of entropy, so a fast
 * keyed hash is enough: nobody can brute-force the input space, and a
 * password KDF (scrypt) would only make every token request slow and give
 * attackers a cheap CPU DoS. The key keeps a Redis dump from being useful
 * for offline guessing of anything weaker that slips in.
 */
int kt_client_secret_hmac(const char *secret, const uint8_t *hmac_key,
			  size_t keylen,
			  char out[KT_CLIENT_SECRET_HMAC_LEN + 1])
{
	uint8_t mac[KT_SHA256_LEN];
	int r;

	out[0] = '\0';
	if (secret == NULL || hmac_key == NULL || keylen == 0)
		return KT_ERR_INVALID;
	r = kt_hmac_sha256(mac, hmac_key, keylen, secret, strlen(secret));
	if (r == KT_OK)
		kt_b64url_encode(out, mac, sizeof(mac));
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

int kt_client_secret_check(const struct kt_client *c, const char *presented,
			   const uint8_t *hmac_key, size_t keylen)
{
	uint8_t b[KT_SHA256_LEN];
	char mac[KT_CLIENT_SECRET_HMAC_LEN + 1];
	int ok = 0;

	if (c == NULL || presented == NULL ||
	    strnlen(presented, KT_CLIENT_SECRET_MAX + 1) > KT_CLIENT_SECRET_MAX)
		return KT_ERR_DENIED;
	if (c->secret != NULL) {
		/* Compare digests, not the strings: kt_ct_equal returns
		 * early on a length mismatch, which would leak the length
		 * of the configured secret. */
		kt_sha256(b, presented, strlen(presented));
		ok = kt_ct_equal(c->secret_sha256, sizeof(c->secret_sha256),
				 b, sizeof(b));
		OPENSSL_cleanse(b, sizeof(b));
	} else if (c->secret_hmac != NULL) {
		if (kt_client_secret_hmac(presented, hmac_key, keylen, mac) ==
		    KT_OK)
			ok = kt_ct_equal(mac, strlen(mac), c->secret_hmac,
					 strlen(c->secret_hmac));
		OPENSSL_cleanse(mac, sizeof(mac));
	}
	return ok ? KT_OK : KT_ERR_DENIED;
}

/* Registration ------------------------------------------------------------ */

static int uses_secret(enum kt_client_auth m)
{
	return m == KT_AUTH_CLIENT_SECRET_BASIC ||
	       m == KT_AUTH_CLIENT_SECRET_POST;
}

void kt_client_registration_clear(struct kt_client_registration *reg)
{
	json_t *s;

	if (reg == NULL)
		return;
	/* jansson keeps the string's own copy: wipe it before the decref. */
	s = json_object_get(reg->response, "client_secret");
	if (json_is_string(s) && json_string_length(s) > 0)
		OPENSSL_cleanse((char *)json_string_value(s),
				json_string_length(s));
	json_decref(reg->response);
	json_decref(reg->stored);
	OPENSSL_cleanse(reg->secret, sizeof(reg->secret));
	memset(reg, 0, sizeof(*reg));
}

int kt_client_register(const json_t *meta, const struct kt_client_policy *pol,
		       const uint8_t *hmac_key, size_t keylen,
		       struct kt_client_registration *reg,
		       const char **oauth_error, struct kt_error *err)
{
	char hmac[KT_CLIENT_SECRET_HMAC_LEN + 1];
	struct kt_client_policy p = *pol;
	struct kt_client *c = NULL;
	int r;

	memset(reg, 0, sizeof(*reg));
	if (oauth_error != NULL)
		*oauth_error = NULL;
	kt_error_clear(err);
	if (kt_random_token(reg->client_id, sizeof(reg->client_id), 16) !=
		KT_OK ||
	    kt_random_token(reg->secret, sizeof(reg->secret), 32) != KT_OK ||
	    kt_client_secret_hmac(reg->secret, hmac_key, keylen, hmac) !=
		KT_OK) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "no randomness or HMAC");
		goto cleanup;
	}
	p.dynamic = 1;
	p.client_id = reg->client_id;
	p.secret_hmac = hmac;
	p.created_at = kt_now();
	if ((r = kt_client_from_json(meta, NULL, &p, &c, oauth_error, err)) !=
	    KT_OK)
		goto cleanup;
	if ((reg->stored = kt_client_to_json(c, KT_CLIENT_JSON_STORAGE)) ==
		NULL ||
	    (reg->response = kt_client_to_json(c, 0)) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if (c->secret_hmac == NULL)
		OPENSSL_cleanse(reg->secret, sizeof(reg->secret));
	else if (json_object_set_new(reg->response, "client_secret",
				     json_string(reg->secret)) != 0)
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
cleanup:
	OPENSSL_cleanse(hmac, sizeof(hmac));
	kt_client_free(c);
	return r;
}

int kt_client_rotate_secret(const json_t *stored,
			    const struct kt_client_policy *pol,
			    const uint8_t *hmac_key, size_t keylen,
			    json_t **new_stored, char secret[48],
			    struct kt_error *err)
{
	char hmac[KT_CLIENT_SECRET_HMAC_LEN + 1];
	struct kt_client *c = NULL, *n = NULL;
	json_t *doc = NULL;
	int r;

	*new_stored = NULL;
	secret[0] = '\0';
	kt_error_clear(err);
	if ((r = kt_client_from_storage(stored, pol, &c, err)) != KT_OK)
		goto cleanup;
	if (!uses_secret(c->auth_method)) {
		r = kt_error_set(err, KT_ERR_UNSUPPORTED,
				 "client %s authenticates with %s and has no "
				 "secret",
				 c->client_id,
				 kt_client_auth_name(c->auth_method));
		goto cleanup;
	}
	if (kt_random_token(secret, 48, 32) != KT_OK ||
	    kt_client_secret_hmac(secret, hmac_key, keylen, hmac) != KT_OK) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "no randomness or HMAC");
		goto cleanup;
	}
	if ((doc = json_deep_copy(stored)) == NULL ||
	    json_object_set_new(doc, "client_secret_hmac", json_string(hmac)) !=
		0) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	/* Built like every load, so what is stored is what loads. */
	if ((r = kt_client_from_storage(doc, pol, &n, err)) != KT_OK)
		goto cleanup;
	if ((*new_stored = kt_client_to_json(n, KT_CLIENT_JSON_STORAGE)) ==
	    NULL)
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
cleanup:
	if (r != KT_OK)
		OPENSSL_cleanse(secret, 48);
	OPENSSL_cleanse(hmac, sizeof(hmac));
	json_decref(doc);
	kt_client_free(c);
	kt_client_free(n);
	return r;
}
