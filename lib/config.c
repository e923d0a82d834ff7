#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kontor/client.h"
#include "kontor/config.h"
#include "kontor/err.h"
#include "kontor/upstream.h"
#include "kontor/uri.h"
#include "kontor/util.h"

/*
 * Design: every scalar key is one row of config_table (redis src/config.c
 * static_configs, openssh servconf.c keywords). Loading is four passes over
 * the parsed JSON, so that error messages never depend on key order in the
 * file beyond "first unknown key wins":
 *   1. unknown keys and non-object sections, in file order;
 *   2. each table row: type, bounds, default, store into the field;
 *   3. the non-scalar keys (access tokens), then each row's check(), which
 *      may look at other keys (issuer vs. dev.allow_http_loopback);
 *   4. clients, which also depend on dev.allow_http_loopback.
 * The dump walks the same table.
 */

enum cfg_type {
	CFG_STRING,
	CFG_INT,
	CFG_BOOL,
	CFG_ENUM, /* a string from choices */
};

#define CFG_REQUIRED 0x1u
#define CFG_REDIS_URL 0x2u /* dumped with the password redacted */

struct cfg_entry;
/* NULL if fine, else a reason (static, or written to buf). */
typedef const char *kt_cfg_check_fn(struct kt_config *cfg, char *buf,
				    size_t cap);

struct cfg_entry {
	const char *name; /* dotted path below the root: "listen.port" */
	enum cfg_type type;
	size_t offset; /* of the field in struct kt_config */
	long long min; /* CFG_INT: value; CFG_STRING: length */
	long long max;
	long long def_int; /* CFG_INT, CFG_BOOL */
	const char *def_str;
	const char *const *choices; /* CFG_ENUM, NULL-terminated */
	unsigned flags;
	kt_cfg_check_fn *check; /* after all rows are stored */
};

static kt_cfg_check_fn check_issuer, check_listen_address, check_redis_url,
    check_cookie_name, check_absolute_timeout, check_scrypt_memory,
    check_log_level;

static const char *const mail_senders[] = {"outbox", NULL};
static const char *const locale_choices[] = {"de", "en", NULL};
static const char *const level_choices[] = {"debug", "info", "warn",
					    "error", "off",  NULL};

#define FIELD(f) offsetof(struct kt_config, f)
#define S(name, f, def, minlen, maxlen, flags, check)                          \
	{                                                                      \
		name, CFG_STRING, FIELD(f), minlen, maxlen, 0, def, NULL,      \
		    flags, check                                               \
	}
#define I(name, f, def, min, max, check)                                       \
	{                                                                      \
		name, CFG_INT, FIELD(f), min, max, def, NULL, NULL, 0, check   \
	}
#define B(name, f, def)                                                        \
	{                                                                      \
		name, CFG_BOOL, FIELD(f), 0, 1, def, NULL, NULL, 0, NULL       \
	}
#define E(name, f, def, choices, check)                                        \
	{                                                                      \
		name, CFG_ENUM, FIELD(f), 0, 0, 0, def, choices, 0, check      \
	}

static const struct cfg_entry config_table[] = {
    S("issuer", issuer, NULL, 1, KT_URI_MAX_LEN, CFG_REQUIRED, check_issuer),
    S("listen.address", listen_address, "127.0.0.1", 1, 64, 0,
      check_listen_address),
    I("listen.port", listen_port, 8080, 1, 65535, NULL),
    I("threads", threads, 0, 0, 64, NULL),
    I("worker_threads", worker_threads, 2, 1, 64, NULL),
    S("redis.url", redis_url, "redis://127.0.0.1:6379/0", 1, 1024,
      CFG_REDIS_URL, check_redis_url),
    I("redis.timeout_ms", redis_timeout_ms, 2000, 10, 60000, NULL),
    S("keys.dir", keys_dir, "keys", 1, 4096, 0, NULL),
    I("keys.rsa_bits", keys_rsa_bits, 2048, 2048, 8192, NULL),
    I("limits.max_header_size", limits_max_header_size, 8192, 1024, 1048576,
      NULL),
    I("limits.max_body_size", limits_max_body_size, 65536, 1024, 16777216,
      NULL),
    I("limits.max_connections", limits_max_connections, 10000, 1, 1000000,
      NULL),
    I("limits.timeout_s", limits_timeout_s, 30, 1, 3600, NULL),
    I("limits.max_params", limits_max_params, 64, 1, 1024, NULL),
    S("session.cookie_name", session_cookie_name, "kontor_session", 1, 64, 0,
      check_cookie_name),
    I("session.idle_timeout_s", session_idle_timeout_s, 1800, 60, 86400, NULL),
    I("session.absolute_timeout_s", session_absolute_timeout_s, 43200, 60,
      2592000, check_absolute_timeout),
    I("tokens.code_ttl_s", tokens_code_ttl_s, 60, 1, 600, NULL),
    I("tokens.access_token_ttl_s", tokens_access_token_ttl_s, 300, 60, 86400,
      NULL),
    I("tokens.id_token_ttl_s", tokens_id_token_ttl_s, 300, 60, 86400, NULL),
    I("tokens.refresh_token_ttl_s", tokens_refresh_token_ttl_s, 2592000, 3600,
      31536000, NULL),
    I("tokens.par_ttl_s", tokens_par_ttl_s, 60, 10, 600, NULL),
    I("password.scrypt_log_n", password_scrypt_log_n, 13, 10, 20, NULL),
    I("password.scrypt_r", password_scrypt_r, 8, 1, 32, check_scrypt_memory),
    I("password.scrypt_p", password_scrypt_p, 10, 1, 64, NULL),
    I("throttle.account_max_failures", throttle_account_max_failures, 10, 1,
      1000, NULL),
    I("throttle.ip_max_failures", throttle_ip_max_failures, 100, 1, 100000,
      NULL),
    I("throttle.window_s", throttle_window_s, 900, 60, 86400, NULL),
    B("registration.enabled", registration_enabled, 0),
    B("dev.allow_http_loopback", dev_allow_http_loopback, 0),
    E("ui.default_locale", ui_default_locale, "de", locale_choices, NULL),
    S("ui.brand", ui_brand, "", 0, 120, 0, NULL),
    E("mail.sender", mail_sender, "outbox", mail_senders, NULL),
    S("mail.outbox_dir", mail_outbox_dir, "var/outbox", 1, 4096, 0, NULL),
    S("mail.from", mail_from, "kontor <noreply@kontor.invalid>", 3, 256, 0,
      NULL),
    I("invitations.ttl_s", invitations_ttl_s, 604800, 3600, 2592000, NULL),
    S("federation.match_profile", federation_match_profile,
      "docs/profiles/company.json", 1, 4096, 0, NULL),
    S("federation.match_model", federation_match_model, "", 0, 4096, 0,
      NULL),
    I("federation.timeout_ms", federation_timeout_ms, 5000, 100, 60000,
      NULL),
    E("log.level", log_level_name, "info", level_choices, check_log_level),
};

#define TABLE_LEN (sizeof(config_table) / sizeof(config_table[0]))

/* Keys that are not scalars and so are handled outside the table. */
static const char *const special_keys[] = {
    "registration.initial_access_tokens",
    "clients",
    "federation.upstreams",
};

#define REDACTED "<redacted>"
#define TOKEN_MAX 512

static int cfg_fail(struct kt_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every message gets the "config: " prefix here, in one place. */
static int cfg_fail(struct kt_error *err, int code, const char *fmt, ...)
{
	char msg[KT_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kt_error_set(err, code, "config: %s", msg);
}

static char **field_str(struct kt_config *cfg, const struct cfg_entry *e)
{
	return (char **)((char *)cfg + e->offset);
}

static int *field_int(struct kt_config *cfg, const struct cfg_entry *e)
{
	return (int *)((char *)cfg + e->offset);
}

static const char *cfield_str(const struct kt_config *cfg,
			      const struct cfg_entry *e)
{
	return *(char *const *)((const char *)cfg + e->offset);
}

static int cfield_int(const struct kt_config *cfg, const struct cfg_entry *e)
{
	return *(const int *)((const char *)cfg + e->offset);
}

/* Does some known key live below section "sec" (length n)? */
static int is_section(const char *sec, size_t n)
{
	for (size_t i = 0; i < TABLE_LEN; i++)
		if (strncmp(config_table[i].name, sec, n) == 0 &&
		    config_table[i].name[n] == '.')
			return 1;
	for (size_t i = 0; i < sizeof(special_keys) / sizeof(special_keys[0]);
	     i++)
		if (strncmp(special_keys[i], sec, n) == 0 &&
		    special_keys[i][n] == '.')
			return 1;
	return 0;
}

static int is_key(const char *name)
{
	for (size_t i = 0; i < TABLE_LEN; i++)
		if (strcmp(config_table[i].name, name) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(special_keys) / sizeof(special_keys[0]);
	     i++)
		if (strcmp(special_keys[i], name) == 0)
			return 1;
	return 0;
}

/* Key names come from the file: print them bounded and tame. */
static const char *tame_key(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
	return buf;
}

/* Pass 1: unknown keys, sections that are not objects. */
static int check_keys(const json_t *root, struct kt_error *err)
{
	const char *k, *sk;
	json_t *v, *sv;
	char kb[64], sb[64], full[160];

	json_object_foreach((json_t *)root, k, v)
	{
		if (strchr(k, '.') == NULL && is_key(k))
			continue;
		if (strchr(k, '.') != NULL || !is_section(k, strlen(k)))
			return cfg_fail(err, KT_ERR_INVALID, ".%s: unknown key",
					tame_key(k, kb, sizeof(kb)));
		if (!json_is_object(v))
			return cfg_fail(err, KT_ERR_INVALID,
					".%s: expected an object", k);
		json_object_foreach(v, sk, sv)
		{
			snprintf(full, sizeof(full), "%s.%s", k,
				 tame_key(sk, sb, sizeof(sb)));
			if (!is_key(full) || strchr(sk, '.') != NULL)
				return cfg_fail(err, KT_ERR_INVALID,
						".%s: unknown key", full);
		}
	}
	return KT_OK;
}

/* The value at a dotted path (one level of sections), or NULL. */
static const json_t *lookup(const json_t *root, const char *name)
{
	const char *dot = strchr(name, '.');
	const json_t *sec;

	if (dot == NULL)
		return json_object_get(root, name);
	sec = json_object_getn(root, name, (size_t)(dot - name));
	return sec ? json_object_get(sec, dot + 1) : NULL;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Pass 2: one row. */
static int apply_entry(struct kt_config *cfg, const struct cfg_entry *e,
		       const json_t *v, struct kt_error *err)
{
	const char *s;
	json_int_t n;
	size_t len;

	if (v == NULL && (e->flags & CFG_REQUIRED))
		return cfg_fail(err, KT_ERR_INVALID, ".%s: required", e->name);
	switch (e->type) {
	case CFG_INT:
		if (v == NULL) {
			*field_int(cfg, e) = (int)e->def_int;
			return KT_OK;
		}
		if (!json_is_integer(v))
			return cfg_fail(err, KT_ERR_INVALID,
					".%s: expected an integer", e->name);
		n = json_integer_value(v);
		if (n < e->min || n > e->max)
			return cfg_fail(err, KT_ERR_INVALID,
					".%s: must be between %lld and %lld",
					e->name, e->min, e->max);
		*field_int(cfg, e) = (int)n;
		return KT_OK;
	case CFG_BOOL:
		if (v == NULL) {
			*field_int(cfg, e) = (int)e->def_int;
			return KT_OK;
		}
		if (!json_is_boolean(v))
			return cfg_fail(err, KT_ERR_INVALID,
					".%s: expected a boolean", e->name);
		*field_int(cfg, e) = json_is_true(v);
		return KT_OK;
	case CFG_STRING:
	case CFG_ENUM:
		if (v != NULL && !json_is_string(v))
			return cfg_fail(err, KT_ERR_INVALID,
					".%s: expected a string", e->name);
		s = v ? json_string_value(v) : e->def_str;
		len = strlen(s);
		if (e->type == CFG_ENUM) {
			const char *const *c;
			char list[128] = "";

			for (c = e->choices; *c != NULL; c++)
				if (strcmp(*c, s) == 0)
					break;
			if (*c == NULL) {
				for (c = e->choices; *c != NULL; c++) {
					strncat(list, *c,
						sizeof(list) - strlen(list) -
						    1);
					if (c[1] != NULL)
						strncat(list, ", ",
							sizeof(list) -
							    strlen(list) - 1);
				}
				return cfg_fail(err, KT_ERR_INVALID,
						".%s: must be one of: %s",
						e->name, list);
			}
		} else {
			if (len == 0 && e->min > 0)
				return cfg_fail(err, KT_ERR_INVALID,
						".%s: must not be empty",
						e->name);
			if ((long long)len > e->max)
				return cfg_fail(err, KT_ERR_INVALID,
						".%s: longer than %lld "
						"characters",
						e->name, e->max);
			if (has_control(s))
				return cfg_fail(err, KT_ERR_INVALID,
						".%s: contains control "
						"characters",
						e->name);
		}
		if ((*field_str(cfg, e) = strdup(s)) == NULL)
			return cfg_fail(err, KT_ERR_NOMEM, "out of memory");
		return KT_OK;
	}
	return cfg_fail(err, KT_ERR_INTERNAL, ".%s: bad table entry", e->name);
}

static const char *check_issuer(struct kt_config *cfg, char *buf, size_t cap)
{
	const char *reason = NULL;

	if (kt_uri_check_issuer(cfg->issuer, cfg->dev_allow_http_loopback,
				&reason) != KT_OK)
		return reason;
	return NULL;
}

static const char *check_listen_address(struct kt_config *cfg, char *buf,
					size_t cap)
{
	unsigned char a[sizeof(struct in6_addr)];

	/* Numeric only: binding must not depend on DNS at startup. */
	if (inet_pton(AF_INET, cfg->listen_address, a) == 1 ||
	    inet_pton(AF_INET6, cfg->listen_address, a) == 1)
		return NULL;
	return "must be an IPv4 or IPv6 address";
}

static const char *check_redis_url(struct kt_config *cfg, char *buf, size_t cap)
{
	struct kt_error e;

	if (kt_config_redis_url_parse(cfg->redis_url, &cfg->redis, &e) == KT_OK)
		return NULL;
	snprintf(buf, cap, "%s", e.msg);
	return buf;
}

static const char *check_cookie_name(struct kt_config *cfg, char *buf,
				     size_t cap)
{
	for (const char *p = cfg->session_cookie_name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return "may contain only A-Z a-z 0-9 - _";
	}
	return NULL;
}

static const char *check_absolute_timeout(struct kt_config *cfg, char *buf,
					  size_t cap)
{
	if (cfg->session_absolute_timeout_s < cfg->session_idle_timeout_s)
		return "must not be less than session.idle_timeout_s";
	return NULL;
}

static const char *check_scrypt_memory(struct kt_config *cfg, char *buf,
				       size_t cap)
{
	/* scrypt needs 128 * r * N bytes per hash, on every worker thread
	 * at once: keep one hash below 1 GiB. */
	unsigned long long mem = 128ull * (unsigned)cfg->password_scrypt_r
				 << cfg->password_scrypt_log_n;

	if (mem > 1024ull * 1024 * 1024)
		return "scrypt memory (128 * r * 2^log_n bytes) must not "
		       "exceed 1 GiB";
	return NULL;
}

static const char *check_log_level(struct kt_config *cfg, char *buf, size_t cap)
{
	if (kt_log_level_parse(cfg->log_level_name, &cfg->log_level) != KT_OK)
		return "unknown log level";
	return NULL;
}

static int token_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int load_access_tokens(struct kt_config *cfg, const json_t *root,
			      struct kt_error *err)
{
	static const char key[] = ".registration.initial_access_tokens";
	const json_t *arr = lookup(root, key + 1), *e;
	size_t i, n;

	if (arr == NULL) {
		if (cfg->registration_enabled)
			return cfg_fail(
			    err, KT_ERR_INVALID,
			    "%s: required when registration.enabled "
			    "is true",
			    key);
		return KT_OK;
	}
	if (!json_is_array(arr))
		return cfg_fail(err, KT_ERR_INVALID,
				"%s: expected an array of strings", key);
	n = json_array_size(arr);
	if (n == 0 && cfg->registration_enabled)
		return cfg_fail(
		    err, KT_ERR_INVALID,
		    "%s: must not be empty when registration.enabled "
		    "is true",
		    key);
	if (n > KT_CONFIG_MAX_ACCESS_TOKENS)
		return cfg_fail(err, KT_ERR_INVALID, "%s: more than %d entries",
				key, KT_CONFIG_MAX_ACCESS_TOKENS);
	cfg->registration_initial_access_tokens = calloc(n + 1, sizeof(char *));
	if (cfg->registration_initial_access_tokens == NULL)
		return cfg_fail(err, KT_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(e);

		if (s == NULL)
			return cfg_fail(err, KT_ERR_INVALID,
					"%s[%zu]: expected a string", key, i);
		if (strlen(s) < KT_CONFIG_ACCESS_TOKEN_MIN)
			return cfg_fail(
			    err, KT_ERR_INVALID,
			    "%s[%zu]: must be at least %d characters", key, i,
			    KT_CONFIG_ACCESS_TOKEN_MIN);
		if (strlen(s) > TOKEN_MAX)
			return cfg_fail(err, KT_ERR_INVALID,
					"%s[%zu]: longer than %d characters",
					key, i, TOKEN_MAX);
		if (!token_chars_ok(s))
			return cfg_fail(err, KT_ERR_INVALID,
					"%s[%zu]: must be printable ASCII "
					"without spaces",
					key, i);
		if ((cfg->registration_initial_access_tokens[i] = strdup(s)) ==
		    NULL)
			return cfg_fail(err, KT_ERR_NOMEM, "out of memory");
		cfg->n_registration_initial_access_tokens = i + 1;
	}
	return KT_OK;
}

static int load_upstreams(struct kt_config *cfg, const json_t *root,
			  struct kt_error *err)
{
	const json_t *arr = lookup(root, "federation.upstreams"), *e;
	char path[64];
	size_t i, n;
	int r;

	if (arr == NULL)
		return KT_OK;
	if (!json_is_array(arr))
		return cfg_fail(err, KT_ERR_INVALID,
				".federation.upstreams: expected an array");
	n = json_array_size(arr);
	if (n > KT_UPSTREAM_MAX)
		return cfg_fail(err, KT_ERR_INVALID,
				".federation.upstreams: more than %d entries",
				KT_UPSTREAM_MAX);
	if ((cfg->upstreams = calloc(n + 1, sizeof(*cfg->upstreams))) == NULL)
		return cfg_fail(err, KT_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, e)
	{
		snprintf(path, sizeof(path), ".federation.upstreams[%zu]", i);
		r = kt_upstream_from_json(e, path, cfg->dev_allow_http_loopback,
					  &cfg->upstreams[i], err);
		if (r != KT_OK)
			return r;
		cfg->n_upstreams = i + 1;
		for (size_t k = 0; k < i; k++)
			if (strcmp(cfg->upstreams[k]->land,
				   cfg->upstreams[i]->land) == 0)
				return cfg_fail(err, KT_ERR_INVALID,
						"%s.land: duplicate Land '%s'",
						path, cfg->upstreams[i]->land);
	}
	return KT_OK;
}

const struct kt_upstream *kt_config_upstream(const struct kt_config *cfg,
					     const char *land)
{
	for (size_t i = 0; land != NULL && i < cfg->n_upstreams; i++)
		if (strcmp(cfg->upstreams[i]->land, land) == 0)
			return cfg->upstreams[i];
	return NULL;
}

static int load_clients(struct kt_config *cfg, const json_t *root,
			struct kt_error *err)
{
	const json_t *arr = json_object_get(root, "clients"), *e;
	struct kt_client_policy pol = {
	    .allow_http_loopback = cfg->dev_allow_http_loopback,
	    .dynamic = 0,
	};
	struct kt_error cerr;
	size_t i, n;
	int r;

	if (arr == NULL)
		return KT_OK;
	if (!json_is_array(arr))
		return cfg_fail(err, KT_ERR_INVALID,
				".clients: expected an array");
	n = json_array_size(arr);
	if (n > KT_CONFIG_MAX_CLIENTS)
		return cfg_fail(err, KT_ERR_INVALID,
				".clients: more than %d entries",
				KT_CONFIG_MAX_CLIENTS);
	if ((cfg->clients = calloc(n + 1, sizeof(*cfg->clients))) == NULL)
		return cfg_fail(err, KT_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, e)
	{
		char path[32];
		struct kt_client *c = NULL;

		snprintf(path, sizeof(path), ".clients[%zu]", i);
		r = kt_client_from_json(e, path, &pol, &c, NULL, &cerr);
		if (r != KT_OK)
			return cfg_fail(err, r, "%s", cerr.msg);
		if (kt_config_client(cfg, c->client_id) != NULL) {
			r = cfg_fail(err, KT_ERR_INVALID,
				     "%s.client_id: duplicate client_id '%s'",
				     path, c->client_id);
			kt_client_free(c);
			return r;
		}
		cfg->clients[i] = c;
		cfg->n_clients = i + 1;
	}
	return KT_OK;
}

static int load_json(const char *buf, size_t len, struct kt_config **out,
		     struct kt_error *err)
{
	struct kt_config *cfg = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	char why[KT_ERROR_MSG_MAX];
	int r;

	*out = NULL;
	kt_error_clear(err);
	if (len > KT_CONFIG_MAX_FILE_SIZE) {
		r = cfg_fail(err, KT_ERR_LIMIT, "larger than 1 MiB");
		goto cleanup;
	}
	/* Duplicate keys are rejected: with "last one wins" a second
	 * "redirect_uris" further down could silently override a reviewed
	 * one. */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		r = cfg_fail(err, KT_ERR_INVALID, "line %d, column %d: %s",
			     jerr.line, jerr.column, jerr.text);
		goto cleanup;
	}
	if (!json_is_object(root)) {
		r = cfg_fail(err, KT_ERR_INVALID,
			     "expected a JSON object at the top level");
		goto cleanup;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		r = cfg_fail(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((r = check_keys(root, err)) != KT_OK)
		goto cleanup;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		const struct cfg_entry *e = &config_table[i];
		if ((r = apply_entry(cfg, e, lookup(root, e->name), err)) !=
		    KT_OK)
			goto cleanup;
	}
	if ((r = load_access_tokens(cfg, root, err)) != KT_OK)
		goto cleanup;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		const struct cfg_entry *e = &config_table[i];
		const char *reason;

		if (e->check == NULL ||
		    (reason = e->check(cfg, why, sizeof(why))) == NULL)
			continue;
		r = cfg_fail(err, KT_ERR_INVALID, ".%s: %s", e->name, reason);
		goto cleanup;
	}
	if ((r = load_clients(cfg, root, err)) != KT_OK)
		goto cleanup;
	if ((r = load_upstreams(cfg, root, err)) != KT_OK)
		goto cleanup;
	*out = cfg;
	cfg = NULL;
	r = KT_OK;
cleanup:
	kt_config_free(cfg);
	json_decref(root);
	return r;
}

int kt_config_load_string(const char *json, struct kt_config **out,
			  struct kt_error *err)
{
	*out = NULL;
	if (json == NULL)
		return cfg_fail(err, KT_ERR_INVALID, "no configuration text");
	return load_json(json, strnlen(json, KT_CONFIG_MAX_FILE_SIZE + 1), out,
			 err);
}

int kt_config_load_file(const char *path, struct kt_config **out,
			struct kt_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	*out = NULL;
	kt_error_clear(err);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = cfg_fail(err, KT_ERR_IO, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (fstat(fd, &st) != 0) {
		r = cfg_fail(err, KT_ERR_IO, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		r = cfg_fail(err, KT_ERR_IO, "%s: not a regular file", path);
		goto cleanup;
	}
	if (st.st_size > KT_CONFIG_MAX_FILE_SIZE) {
		r = cfg_fail(err, KT_ERR_LIMIT, "%s: larger than 1 MiB", path);
		goto cleanup;
	}
	/* Read up to one byte more than allowed: the file may have grown
	 * since fstat. */
	if ((buf = malloc(KT_CONFIG_MAX_FILE_SIZE + 1)) == NULL) {
		r = cfg_fail(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	while (len < KT_CONFIG_MAX_FILE_SIZE + 1) {
		ssize_t n =
		    read(fd, buf + len, KT_CONFIG_MAX_FILE_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = cfg_fail(err, KT_ERR_IO, "%s: %s", path,
				     strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KT_CONFIG_MAX_FILE_SIZE) {
		r = cfg_fail(err, KT_ERR_LIMIT, "%s: larger than 1 MiB", path);
		goto cleanup;
	}
	r = load_json(buf, len, out, err);
cleanup:
	if (buf != NULL) {
		/* The file holds client secrets. */
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

void kt_config_free(struct kt_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		const struct cfg_entry *e = &config_table[i];
		if (e->type == CFG_STRING || e->type == CFG_ENUM)
			kt_free_secret(*field_str(cfg, e));
	}
	if (cfg->registration_initial_access_tokens != NULL) {
		for (size_t i = 0;
		     i < cfg->n_registration_initial_access_tokens; i++)
			kt_free_secret(
			    cfg->registration_initial_access_tokens[i]);
		free(cfg->registration_initial_access_tokens);
	}
	kt_config_redis_addr_clear(&cfg->redis);
	for (size_t i = 0; i < cfg->n_clients; i++)
		kt_client_free(cfg->clients[i]);
	free(cfg->clients);
	for (size_t i = 0; i < cfg->n_upstreams; i++)
		kt_upstream_free(cfg->upstreams[i]);
	free(cfg->upstreams);
	free(cfg);
}

const struct kt_client *kt_config_client(const struct kt_config *cfg,
					 const char *client_id)
{
	if (cfg == NULL || client_id == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (strcmp(cfg->clients[i]->client_id, client_id) == 0)
			return cfg->clients[i];
	return NULL;
}

/* "listen.port" -> the "listen" object in root (created on demand). */
static json_t *dump_parent(json_t *root, const char *name, const char **leaf)
{
	const char *dot = strchr(name, '.');
	json_t *sec;
	char sname[64];

	if (dot == NULL) {
		*leaf = name;
		return root;
	}
	*leaf = dot + 1;
	snprintf(sname, sizeof(sname), "%.*s", (int)(dot - name), name);
	if ((sec = json_object_get(root, sname)) == NULL) {
		sec = json_object();
		if (json_object_set_new(root, sname, sec) != 0)
			return NULL;
	}
	return sec;
}

static json_t *dump_redis_url(const struct kt_config *cfg)
{
	const struct kt_redis_addr *a = &cfg->redis;
	char url[512];
	int v6 = strchr(a->host, ':') != NULL;

	if (a->password[0] == '\0')
		return json_string(cfg->redis_url);
	snprintf(url, sizeof(url), "redis://:" REDACTED "@%s%s%s:%d/%d",
		 v6 ? "[" : "", a->host, v6 ? "]" : "", a->port, a->db);
	return json_string(url);
}

void kt_config_dump(const struct kt_config *cfg, FILE *fp)
{
	json_t *root = json_object(), *arr, *parent;
	const char *leaf;
	int bad = (root == NULL);

	for (size_t i = 0; !bad && i < TABLE_LEN; i++) {
		const struct cfg_entry *e = &config_table[i];
		json_t *v = NULL;

		if ((parent = dump_parent(root, e->name, &leaf)) == NULL) {
			bad = 1;
			break;
		}
		if (e->flags & CFG_REDIS_URL)
			v = dump_redis_url(cfg);
		else if (e->type == CFG_INT)
			v = json_integer(cfield_int(cfg, e));
		else if (e->type == CFG_BOOL)
			v = json_boolean(cfield_int(cfg, e));
		else
			v = json_string(cfield_str(cfg, e));
		bad |= json_object_set_new(parent, leaf, v);
	}
	if (!bad) {
		arr = json_array();
		for (size_t i = 0;
		     i < cfg->n_registration_initial_access_tokens; i++)
			bad |=
			    json_array_append_new(arr, json_string(REDACTED));
		parent = json_object_get(root, "registration");
		bad |=
		    json_object_set_new(parent, "initial_access_tokens", arr);
	}
	if (!bad) {
		arr = json_array();
		for (size_t i = 0; i < cfg->n_clients; i++)
			bad |= json_array_append_new(
			    arr,
			    kt_client_to_json(cfg->clients[i],
					      KT_CLIENT_JSON_SECRET_REDACTED));
		bad |= json_object_set_new(root, "clients", arr);
	}
	if (!bad) {
		arr = json_array();
		for (size_t i = 0; i < cfg->n_upstreams; i++)
			bad |= json_array_append_new(
			    arr, kt_upstream_to_json(cfg->upstreams[i]));
		parent = json_object_get(root, "federation");
		bad |= json_object_set_new(parent, "upstreams", arr);
	}
	if (bad)
		fputs("{\"error\": \"out of memory\"}\n", fp);
	else if (json_dumpf(root, fp, JSON_INDENT(2)) == 0)
		fputc('\n', fp);
	json_decref(root);
}

void kt_config_redis_addr_clear(struct kt_redis_addr *a)
{
	if (a != NULL)
		OPENSSL_cleanse(a, sizeof(*a));
}

/* Percent-decode s[0..n) into out (cap bytes incl. NUL). */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi =
			    i + 2 < n ? kt_hex_value((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? kt_hex_value((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return KT_ERR_INVALID;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0)
			return KT_ERR_INVALID;
		if (o + 1 >= cap)
			return KT_ERR_LIMIT;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return KT_OK;
}

static int parse_number(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	char buf[24];

	if (n == 0 || n >= sizeof(buf))
		return KT_ERR_INVALID;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return kt_parse_uint(buf, max, out);
}

static int host_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static int redis_unix(const char *p, struct kt_redis_addr *out,
		      struct kt_error *err)
{
	const char *q = strchr(p, '?');
	size_t n = q ? (size_t)(q - p) : strlen(p);
	uint64_t db = 0;

	if (n == 0 || p[0] != '/')
		return kt_error_set(err, KT_ERR_INVALID,
				    "unix socket path must be absolute");
	if (n >= sizeof(out->path))
		return kt_error_set(err, KT_ERR_INVALID,
				    "unix socket path longer than %zu bytes",
				    sizeof(out->path) - 1);
	if (has_control(p))
		return kt_error_set(err, KT_ERR_INVALID,
				    "contains control characters");
	memcpy(out->path, p, n);
	out->path[n] = '\0';
	if (q != NULL) {
		if (strncmp(q, "?db=", 4) != 0)
			return kt_error_set(err, KT_ERR_INVALID,
					    "unsupported query (only ?db=N)");
		if (parse_number(q + 4, strlen(q + 4), 65535, &db) != KT_OK)
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid database number");
	}
	out->db = (int)db;
	return KT_OK;
}

static int redis_tcp(const char *p, struct kt_redis_addr *out,
		     struct kt_error *err)
{
	const char *auth_end = p + strcspn(p, "/"), *at = NULL, *h, *hend,
		   *port = NULL;
	uint64_t v;

	for (const char *s = p; s < auth_end; s++)
		if (*s == '@')
			at = s;
	h = p;
	if (at != NULL) {
		if (*p != ':')
			return kt_error_set(err, KT_ERR_INVALID,
					    "user names are not supported (use "
					    "redis://:password@host)");
		switch (pct_decode(p + 1, (size_t)(at - p - 1), out->password,
				   sizeof(out->password))) {
		case KT_OK:
			break;
		case KT_ERR_LIMIT:
			return kt_error_set(err, KT_ERR_INVALID,
					    "password too long");
		default:
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid percent-encoding in "
					    "password");
		}
		h = at + 1;
	}
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(auth_end - h));
		struct in6_addr a6;
		size_t n;

		if (close == NULL || (n = (size_t)(close - h - 1)) == 0 ||
		    n >= sizeof(out->host))
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid host");
		memcpy(out->host, h + 1, n);
		out->host[n] = '\0';
		if (inet_pton(AF_INET6, out->host, &a6) != 1)
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid host");
		hend = close + 1;
		if (hend != auth_end && *hend != ':')
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid host");
	} else {
		hend = memchr(h, ':', (size_t)(auth_end - h));
		if (hend == NULL)
			hend = auth_end;
		if (hend == h)
			return kt_error_set(err, KT_ERR_INVALID,
					    "missing host");
		if ((size_t)(hend - h) >= sizeof(out->host) ||
		    !host_chars_ok(h, (size_t)(hend - h)))
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid host");
		memcpy(out->host, h, (size_t)(hend - h));
		out->host[hend - h] = '\0';
	}
	out->port = 6379;
	if (hend != auth_end) {
		port = hend + 1;
		if (parse_number(port, (size_t)(auth_end - port), 65535, &v) !=
			KT_OK ||
		    v == 0)
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid port");
		out->port = (int)v;
	}
	out->db = 0;
	if (*auth_end == '/' && auth_end[1] != '\0') {
		if (parse_number(auth_end + 1, strlen(auth_end + 1), 65535,
				 &v) != KT_OK)
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid database number");
		out->db = (int)v;
	}
	return KT_OK;
}

int kt_config_redis_url_parse(const char *url, struct kt_redis_addr *out,
			      struct kt_error *err)
{
	int r;

	memset(out, 0, sizeof(*out));
	kt_error_clear(err);
	if (url == NULL || *url == '\0')
		return kt_error_set(err, KT_ERR_INVALID, "missing URL");
	if (strnlen(url, 1025) > 1024)
		return kt_error_set(err, KT_ERR_INVALID,
				    "longer than 1024 characters");
	if (strncmp(url, "unix://", 7) == 0)
		r = redis_unix(url + 7, out, err);
	else if (strncmp(url, "redis://", 8) == 0)
		r = redis_tcp(url + 8, out, err);
	else
		r = kt_error_set(err, KT_ERR_INVALID,
				 "unsupported scheme (use redis:// or "
				 "unix://)");
	if (r != KT_OK)
		kt_config_redis_addr_clear(out);
	return r;
}

int kt_config_set_redis_url(struct kt_config *cfg, const char *url,
			    struct kt_error *err)
{
	struct kt_redis_addr addr;
	char *dup;

	if (kt_config_redis_url_parse(url, &addr, err) != KT_OK)
		return KT_ERR_INVALID;
	if ((dup = strdup(url)) == NULL) {
		kt_config_redis_addr_clear(&addr);
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	}
	kt_free_secret(cfg->redis_url);
	cfg->redis_url = dup;
	kt_config_redis_addr_clear(&cfg->redis);
	cfg->redis = addr;
	return KT_OK;
}

void kt_config_password_params(const struct kt_config *cfg,
			       struct kt_password_params *out)
{
	out->log_n = (unsigned)cfg->password_scrypt_log_n;
	out->r = (unsigned)cfg->password_scrypt_r;
	out->p = (unsigned)cfg->password_scrypt_p;
}
