#ifndef KONTOR_UPSTREAM_H
#define KONTOR_UPSTREAM_H

/*
 * The states' legacy identity providers behind the gateway (federation):
 * one upstream OpenID Connect provider per Land, from the configuration's
 * federation.upstreams. kontor-idp is a relying party toward each.
 *
 *   {"land": "SH", "name": "Unternehmenskonto Schleswig-Holstein",
 *    "issuer": "https://idp.sh.example",      discovery: issuer +
 *    "discovery_url": "...",                   /.well-known/... unless given
 *    "client_id": "kontor", "client_secret": "..."   (client_secret_basic)
 *      or "private_key_file": "keys/sh.pem"          (private_key_jwt),
 *    "scope": "openid email profile",
 *    "claims": {"legal_name": "org_name", "vat": "org_vat_id", ...},
 *    "enabled": true}
 *
 * "claims" maps canonical company fields to the upstream's claim names
 * (see kt_upstream_fields); unmapped fields stay empty.
 */

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kontor/err.h"

#define KT_UPSTREAM_MAX 32

/* Canonical fields an upstream's claims may fill. */
enum kt_upstream_field {
	KT_UF_LEGAL_NAME = 0,
	KT_UF_LEGAL_FORM,
	KT_UF_VAT,
	KT_UF_TAXNO,
	KT_UF_REGISTER,
	KT_UF_WID,
	KT_UF_STREET,
	KT_UF_HOUSE_NUMBER,
	KT_UF_POSTCODE,
	KT_UF_CITY,
	KT_UF_EMAIL,
	KT_UF_EMAIL_VERIFIED,
	KT_UF_NAME,
	KT_UF_COUNT
};

struct kt_upstream {
	char land[3];
	char *name;	    /* shown on the login page */
	char *issuer;
	char *discovery_url;
	char *client_id;
	char *client_secret; /* client_secret_basic, or NULL */
	EVP_PKEY *key;	     /* private_key_jwt, or NULL */
	const char *key_alg; /* "RS256" / "ES256" for key */
	char *scope;
	char *claims[KT_UF_COUNT]; /* upstream claim name per field, or NULL */
	int enabled;
};

/* Name of a field in the "claims" map ("legal_name", ...). */
const char *kt_upstream_field_name(enum kt_upstream_field f);

/*
 * Parse one entry; path prefixes messages (".federation.upstreams[0]").
 * allow_http_loopback as for clients. Reads the private key file, if any
 * (config loading is the one place files are read). Caller frees.
 */
int kt_upstream_from_json(const json_t *obj, const char *path,
			  int allow_http_loopback, struct kt_upstream **out,
			  struct kt_error *err);
void kt_upstream_free(struct kt_upstream *u);

/*
 * The canonical company fields from upstream ID-token/userinfo claims,
 * as a JSON object of strings (new reference).
 */
json_t *kt_upstream_map_claims(const struct kt_upstream *u, json_t *claims);

/* The entry as JSON for `config dump`: secrets redacted, no key material. */
json_t *kt_upstream_to_json(const struct kt_upstream *u);

#endif
