#ifndef KONTOR_CONFIG_H
#define KONTOR_CONFIG_H

/*
 * The gateway's configuration: one JSON file, parsed and validated once,
 * read-only afterwards (safe to share between threads). A reload builds a
 * new struct kt_config and swaps the pointer; the old one is freed when no
 * request uses it any more.
 *
 * Every scalar key is described once in the table in config.c (name, type,
 * bounds, default, target field), which drives parsing, validation and
 * kt_config_dump(). docs/configuration.md lists the keys.
 *
 * Errors read "config: <json path>: <reason>", e.g.
 *   config: .listen.port: must be between 1 and 65535
 *   config: .clients[2].redirect_uris[0]: not an absolute https URL
 *   config: line 3, column 5: end of file expected near 'x'
 */

#include <stdint.h>
#include <stdio.h>

#include "kontor/client.h"
#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/password.h"
#include "kontor/redis.h"
#include "kontor/upstream.h"

#define KT_CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define KT_CONFIG_MAX_CLIENTS 1000
#define KT_CONFIG_MAX_ACCESS_TOKENS 100
#define KT_CONFIG_ACCESS_TOKEN_MIN 16



struct kt_config {
	char *issuer;

	char *listen_address;
	int listen_port;
	int threads; /* 0: one per online CPU */
	int worker_threads;

	char *redis_url;
	struct kt_redis_addr redis; /* parsed redis_url */
	int redis_timeout_ms;

	char *keys_dir;
	int keys_rsa_bits;

	int limits_max_header_size;
	int limits_max_body_size;
	int limits_max_connections;
	int limits_timeout_s;
	int limits_max_params;

	char *session_cookie_name;
	int session_idle_timeout_s;
	int session_absolute_timeout_s;

	int tokens_code_ttl_s;
	int tokens_access_token_ttl_s;
	int tokens_id_token_ttl_s;
	int tokens_refresh_token_ttl_s;
	int tokens_par_ttl_s;

	int password_scrypt_log_n;
	int password_scrypt_r;
	int password_scrypt_p;

	int throttle_account_max_failures;
	int throttle_ip_max_failures;
	int throttle_window_s;

	int registration_enabled;
	char **registration_initial_access_tokens; /* NULL-terminated */
	size_t n_registration_initial_access_tokens;

	int dev_allow_http_loopback;

	char *ui_default_locale; /* "de" or "en" */
	char *ui_brand;		 /* line above every page title; "" = default */

	char *mail_sender;     /* "outbox": one .eml file per message */
	char *mail_outbox_dir; /* where the outbox sender writes */
	char *mail_from;
	int invitations_ttl_s;

	char *log_level_name;
	enum kt_log_level log_level;

	struct kt_client **clients;
	size_t n_clients;

	/* federation: the states' legacy providers (kontor/upstream.h) */
	struct kt_upstream **upstreams;
	size_t n_upstreams;
	char *federation_match_profile;
	char *federation_match_model; /* "" = identifier rules only */
	int federation_timeout_ms;
};

/* The upstream of a Land ("SH"), or NULL. Borrowed. */
const struct kt_upstream *kt_config_upstream(const struct kt_config *cfg,
					     const char *land);

/*
 * Load and validate a config file (at most KT_CONFIG_MAX_FILE_SIZE bytes,
 * JSON without duplicate keys). Caller frees *out with kt_config_free.
 * KT_ERR_IO (file), KT_ERR_LIMIT (too big), KT_ERR_INVALID (content) or
 * KT_ERR_NOMEM, with err->msg set.
 */
int kt_config_load_file(const char *path, struct kt_config **out,
			struct kt_error *err);

/* The same for a JSON text in memory. */
int kt_config_load_string(const char *json, struct kt_config **out,
			  struct kt_error *err);

/* Frees and wipes secrets; NULL ok. */
void kt_config_free(struct kt_config *cfg);

/*
 * Write the effective configuration (defaults included) as JSON, in the
 * format the loader reads. Client secrets, initial access tokens and the
 * Redis password print as "<redacted>".
 */
void kt_config_dump(const struct kt_config *cfg, FILE *fp);

/* The configured client with this client_id, or NULL. Borrowed. */
const struct kt_client *kt_config_client(const struct kt_config *cfg,
					 const char *client_id);

/*
 * Parse "redis://[:password@]host[:port][/db]" (host may be [IPv6]) or
 * "unix:///absolute/path[?db=N]". Defaults: port 6379, db 0. On failure
 * err->msg is the bare reason ("invalid port"); *out is zeroed either way
 * first. Clear it with kt_config_redis_addr_clear when done (password).
 */
int kt_config_redis_url_parse(const char *url, struct kt_redis_addr *out,
			      struct kt_error *err);
void kt_config_redis_addr_clear(struct kt_redis_addr *a);

/*
 * Replace redis.url (and the parsed address), e.g. from KONTOR_REDIS_URL.
 * On failure cfg is unchanged and err->msg names the problem.
 */
int kt_config_set_redis_url(struct kt_config *cfg, const char *url,
			    struct kt_error *err);

/* The configured scrypt parameters. */
void kt_config_password_params(const struct kt_config *cfg,
			       struct kt_password_params *out);

#endif
